"""What the registrar app adds to a registration's timeline: its processes with their
logs, the two-person approvals asked for it, and the renewal notices sent to its customer
(backoffice/timeline.py)."""

from __future__ import annotations

from collections.abc import Iterable

from django.urls import reverse

from backoffice.timeline import Entry
from registrar.models import Approval, NoticeOutcome, Process, Registration, RenewalNotice

#: Log lines shown under a process on the timeline; the process page has them all.
LOG_LINES = 5


def process_entries(registration: Registration, user, kinds: frozenset[str], limit: int
                    ) -> Iterable[Entry]:
    if "process" not in kinds or not user.has_perm("registrar.view_process"):
        return []
    processes = (Process.objects.filter(registration=registration)
                 .prefetch_related("log_entries").order_by("-created_at", "-id")[:limit])
    entries = []
    for process in processes:
        log = sorted(process.log_entries.all(), key=lambda line: (
            line.logged_at is None, line.logged_at, line.pk), reverse=True)[:LOG_LINES]
        entries.append(Entry(
            at=process.created_at, kind="process",
            title=f"Process {process.action or process.upstream_id}: "
                  f"{process.get_status_display()}" + (" (stuck)" if process.stuck else ""),
            outcome=process.status.lower(),
            url=reverse("admin:registrar_process_change", args=[process.pk]),
            lines=tuple(line.message for line in log if line.message)))
    return entries


def approval_entries(registration: Registration, user, kinds: frozenset[str], limit: int
                     ) -> Iterable[Entry]:
    if "approval" not in kinds or not user.has_perm("registrar.view_approval"):
        return []
    approvals = (Approval.objects.filter(registration=registration)
                 .select_related("requested_by", "decided_by")
                 .order_by("-requested_at", "-id")[:limit])
    return [Entry(
        at=approval.requested_at, kind="approval",
        title=f"Approval requested: {approval.summary} ({approval.get_status_display()})",
        actor=str(approval.requested_by), outcome=approval.status,
        url=reverse("admin:registrar_approval_change", args=[approval.pk]),
        detail=f"Ticket {approval.ticket}" + (
            f"; decided by {approval.decided_by}" if approval.decided_by else ""))
        for approval in approvals]


def notice_entries(registration: Registration, user, kinds: frozenset[str], limit: int
                   ) -> Iterable[Entry]:
    """Each renewal notice: sent (to whom, its Message-ID), failed (why), not sendable,
    or lost between the hand-over and the answer (unknown)."""
    from registrar.notices import VIEW_PERMISSION, SchedulePoint, shown_outcome

    if "notice" not in kinds or not user.has_perm(VIEW_PERMISSION):
        return []
    notices = (RenewalNotice.objects.filter(registration=registration)
               .order_by("-claimed_at", "-id")[:limit])
    entries = []
    for notice in notices:
        outcome = shown_outcome(notice)
        when = SchedulePoint(notice.point, notice.offset_days).label
        about = f"renewal notice ({when}, expiry {notice.expiry_date:%Y-%m-%d})"
        if outcome == NoticeOutcome.SENT:
            title = f"Sent the {about} to {notice.recipient}"
        elif outcome == NoticeOutcome.NOT_SENDABLE:
            title = f"Could not send the {about}: no e-mail address"
        elif outcome == NoticeOutcome.FAILED:
            title = f"The {about} to {notice.recipient} failed"
        elif outcome == "unknown":
            title = (f"The {about} to {notice.recipient} was handed to the mail server; "
                     "whether it left is not known")
        else:
            title = f"Sending the {about} to {notice.recipient}"
        detail = "; ".join(part for part in (
            f"{notice.recipient_source} e-mail" if notice.recipient_source else "",
            f"Message-ID {notice.message_id}" if notice.message_id else "",
            f"attempt {notice.attempts}" if notice.attempts > 1 else "",
            notice.detail) if part)
        entries.append(Entry(at=notice.claimed_at, kind="notice",
                             title=title, actor="renewal notices", outcome=outcome,
                             detail=detail))
    return entries
