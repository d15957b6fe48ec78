"""Customer renewal notices, as the ICANN Expired Registration Recovery Policy asks of a
registrar: about one month and about one week before a registration expires, and once
within five days after it (`NOTICE_SCHEDULE`, days relative to expiry).

Who gets it: the e-mail of the registration's customer account, else its holder's. With
neither, the notice is recorded as not sendable, so staff see that it is owed, and it
goes out on a later run once an address is known.

When: the hourly beat task (and `manage.py send_notices`) sends each point from its
moment until the next point's moment (the last one until `NOTICE_LAST_SEND_BY_DAYS`
after expiry). A run that missed a point (the job was down) still sends it while the
next is not yet due; one overtaken by the next point is not sent, since two reminders
the same day help nobody.

Which registrations: those still ours. Transferred-out and cancelled ones
(`TERMINAL_STATUSES`) and those the registrar no longer returns get none. Auto-renew
does not stop them: the policy asks for the reminders whatever the renewal setting,
and an auto-renewal can still fail (an expired card, a registry refusal). The notice
says that auto-renew is on. What stops them is a renewal itself: it moves `expires_at`,
and the notices owed are those of the new expiry date, whose points are not due yet.
Staff may suppress a registration's notices with a reason, and resume them (audited).

Once only: a notice is one `RenewalNotice` row per (registration, point, expiry date),
unique, written and committed before the e-mail is handed to the mail backend. A rerun
finds the row and sends nothing; two concurrent runs race on the insert and one loses.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import make_msgid, parseaddr
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.template.loader import render_to_string
from django.utils import timezone

from backoffice import audit
from registrar.models import (
    TERMINAL_STATUSES,
    NoticeOutcome,
    NoticeSuppression,
    Registration,
    RenewalNotice,
)
from registrar.operations import InvalidInput, Outcome, Outcomes, checked_text, require_permission

logger = logging.getLogger(__name__)

SUPPRESS_PERMISSION = "registrar.suppress_notices"
VIEW_PERMISSION = "registrar.view_renewalnotice"
#: A reason kept in the audit trail: a few sentences.
REASON_MAX_LENGTH = 1000
#: A notice still "sending" this long after its claim was lost between the hand-over to
#: the mail server and the answer: shown as outcome unknown, never sent again on its own.
UNKNOWN_AFTER = timedelta(minutes=15)
_POINT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_BATCH = 500


# --- the schedule ------------------------------------------------------------------------


@dataclass(frozen=True)
class SchedulePoint:
    name: str
    offset_days: int

    @property
    def after_expiry(self) -> bool:
        return self.offset_days >= 0

    @property
    def label(self) -> str:
        days = abs(self.offset_days)
        if days == 0:
            return "on the expiry day"
        unit = "day" if days == 1 else "days"
        return f"{days} {unit} {'after' if self.after_expiry else 'before'} expiry"


def schedule() -> tuple[SchedulePoint, ...]:
    """NOTICE_SCHEDULE as points, soonest first; ImproperlyConfigured when it is not a
    usable schedule (names the notice rows can keep, distinct days)."""
    raw = getattr(settings, "NOTICE_SCHEDULE", {}) or {}
    points = []
    for name, days in raw.items():
        if not _POINT_NAME.match(str(name)) or isinstance(days, bool) or not isinstance(
                days, int) or not -366 <= days <= 366:
            raise ImproperlyConfigured(
                f"NOTICE_SCHEDULE: “{name}={days}” is not a point: a lower-case name of up "
                "to 32 letters, digits and _, and whole days from -366 to 366.")
        points.append(SchedulePoint(str(name), days))
    if len({point.offset_days for point in points}) != len(points):
        raise ImproperlyConfigured("NOTICE_SCHEDULE: two points fall on the same day.")
    return tuple(sorted(points, key=lambda point: point.offset_days))


@dataclass(frozen=True)
class Window:
    point: SchedulePoint
    starts_at: datetime
    ends_at: datetime

    def holds(self, moment: datetime) -> bool:
        return self.starts_at <= moment < self.ends_at


def windows(expires_at: datetime, points: Sequence[SchedulePoint] | None = None
            ) -> list[Window]:
    """When each point may be sent for this expiry: from its moment until the next
    point's; the last one until NOTICE_LAST_SEND_BY_DAYS after expiry (a day at least)."""
    points = schedule() if points is None else points
    starts = [expires_at + timedelta(days=point.offset_days) for point in points]
    result = []
    for index, point in enumerate(points):
        if index + 1 < len(points):
            ends = starts[index + 1]
        else:
            ends = max(expires_at + timedelta(days=settings.NOTICE_LAST_SEND_BY_DAYS),
                       starts[index] + timedelta(days=1))
        result.append(Window(point, starts[index], ends))
    return result


def current_window(expires_at: datetime, now: datetime,
                   points: Sequence[SchedulePoint] | None = None) -> Window | None:
    return next((window for window in windows(expires_at, points) if window.holds(now)),
                None)


def expiry_date(expires_at: datetime) -> date:
    return expires_at.astimezone(UTC).date()


# --- who, and whether ----------------------------------------------------------------------


def recipient_of(registration: Registration) -> tuple[str, str]:
    """(address, "account" | "holder"), or ("", "") when neither has an e-mail."""
    account = registration.account
    if account is not None and (account.email or "").strip():
        return account.email.strip(), "account"
    holder = registration.owner_contact
    if holder is not None and (holder.email or "").strip():
        return holder.email.strip(), "holder"
    return "", ""


def open_suppression(registration: Registration) -> NoticeSuppression | None:
    return (NoticeSuppression.objects.filter(registration=registration,
                                             resumed_at__isnull=True)
            .select_related("suppressed_by").first())


def not_owed_reason(registration: Registration) -> str:
    """Why this registration gets no notices at all (suppression aside), or ""."""
    if registration.status in TERMINAL_STATUSES:
        return f"{registration.get_status_display()}: no longer ours to remind about."
    if registration.missing_upstream_at is not None:
        return "The registrar no longer returns it."
    if registration.expires_at is None:
        return "No expiry date is known."
    return ""


def _suppression_text(suppression: NoticeSuppression) -> str:
    return (f"Suppressed by {suppression.suppressed_by} on "
            f"{suppression.suppressed_at:%Y-%m-%d}: {suppression.reason}")


# --- what is due -------------------------------------------------------------------------


@dataclass(frozen=True)
class DueNotice:
    """A notice a run would send (or record as not sendable) now."""

    registration: Registration
    point: SchedulePoint
    due_at: datetime
    recipient: str
    recipient_source: str
    # A failed or not-sendable row for the same point and expiry, tried again.
    retry_of: RenewalNotice | None = None

    @property
    def expiry_date(self) -> date:
        return expiry_date(self.registration.expires_at)

    @property
    def action(self) -> str:
        if not self.recipient:
            return "not sendable"
        return "retry" if self.retry_of is not None else "send"


def _candidates(now: datetime, points: Sequence[SchedulePoint]):
    """Registrations with some point's window open at `now`, still owed notices."""
    latest_end = max(settings.NOTICE_LAST_SEND_BY_DAYS, points[-1].offset_days + 1)
    suppressed = NoticeSuppression.objects.filter(registration=OuterRef("pk"),
                                                  resumed_at__isnull=True)
    return (Registration.objects
            .filter(expires_at__lte=now - timedelta(days=points[0].offset_days),
                    expires_at__gt=now - timedelta(days=latest_end),
                    missing_upstream_at__isnull=True)
            .exclude(status__in=TERMINAL_STATUSES)
            .exclude(Exists(suppressed)))


def due_notices(*, now: datetime | None = None) -> Iterator[DueNotice]:
    """The notices due at `now` (default: the clock) that no run has handled yet,
    soonest expiry first. Reads only."""
    now = now or timezone.now()
    points = schedule()
    if not points:
        return
    latest_end = max(settings.NOTICE_LAST_SEND_BY_DAYS, points[-1].offset_days + 1)
    pks = list(_candidates(now, points).order_by("expires_at", "pk")
               .values_list("pk", flat=True))
    for start in range(0, len(pks), _BATCH):
        chunk = pks[start:start + _BATCH]
        registrations = {row.pk: row for row in Registration.objects.filter(pk__in=chunk)
                         .select_related("account", "owner_contact", "tld")}
        # Only the current expiries' notices, and only what deciding needs: a
        # registration's older years stay in the database.
        known = {(notice.registration_id, notice.point, notice.expiry_date): notice
                 for notice in RenewalNotice.objects.filter(
                     registration_id__in=chunk,
                     expiry_date__gte=expiry_date(now - timedelta(days=latest_end)))
                 .only("pk", "registration_id", "point", "expiry_date", "outcome",
                       "attempts")}
        for pk in chunk:
            registration = registrations.get(pk)
            if registration is None or registration.expires_at is None:
                continue
            window = current_window(registration.expires_at, now, points)
            if window is None:
                continue
            previous = known.get((pk, window.point.name,
                                  expiry_date(registration.expires_at)))
            recipient, source = recipient_of(registration)
            if previous is not None and not _may_try_again(previous, recipient):
                continue
            yield DueNotice(registration=registration, point=window.point,
                            due_at=window.starts_at, recipient=recipient,
                            recipient_source=source, retry_of=previous)


def _may_try_again(previous: RenewalNotice, recipient: str) -> bool:
    """A sent notice, or one being sent (or whose sending was lost), is never sent
    again; a refused one is, a few times; a not-sendable one once an address is known."""
    if previous.outcome == NoticeOutcome.FAILED:
        return previous.attempts < settings.NOTICE_MAX_ATTEMPTS
    if previous.outcome == NoticeOutcome.NOT_SENDABLE:
        return bool(recipient)
    return False


# --- sending ------------------------------------------------------------------------------


@dataclass
class RunReport:
    sent: list[RenewalNotice] = field(default_factory=list)
    failed: list[RenewalNotice] = field(default_factory=list)
    not_sendable: list[RenewalNotice] = field(default_factory=list)
    #: (registration, why) for notices that were due when read and were not claimed.
    skipped: list[tuple[Registration, str]] = field(default_factory=list)
    #: --dry-run: what would go out.
    planned: list[DueNotice] = field(default_factory=list)
    dry_run: bool = False

    def summary(self) -> str:
        if self.dry_run:
            return (f"Dry run: {len(self.planned)} notice(s) due; nothing was sent or "
                    "recorded.")
        return (f"{len(self.sent)} notice(s) sent, {len(self.failed)} failed, "
                f"{len(self.not_sendable)} not sendable (no e-mail address), "
                f"{len(self.skipped)} skipped.")


def send_due_notices(*, now: datetime | None = None, dry_run: bool = False) -> RunReport:
    """Send every notice due at `now` (default: the clock), each once. With `dry_run`,
    list them and change nothing."""
    now = now or timezone.now()
    report = RunReport(dry_run=dry_run)
    for due in due_notices(now=now):
        if dry_run:
            report.planned.append(due)
            continue
        notice, why = _claim(due, now=now)
        if notice is None:
            report.skipped.append((due.registration, why))
        elif notice.outcome == NoticeOutcome.NOT_SENDABLE:
            report.not_sendable.append(notice)
        else:
            notice = _deliver(notice, due.registration, due.point, now=now)
            (report.sent if notice.outcome == NoticeOutcome.SENT else report.failed
             ).append(notice)
    return report


def _message_id() -> str:
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"
    return make_msgid(domain=domain)


def _claim(due: DueNotice, *, now: datetime) -> tuple[RenewalNotice | None, str]:
    """Record the notice before it is sent (the claim), or say why not: the registration
    changed since it was read (renewed, suppressed, no longer ours), is being written
    right now, or another run claimed the notice first."""
    with transaction.atomic():
        # The row lock orders this claim against a suppression (which takes the same
        # lock): a notice is either claimed before the suppression or not at all. A row
        # being written (the sync, a staff operation) waits for the next run.
        row = (Registration.objects.select_for_update(of=("self",), skip_locked=True)
               .select_related("account", "owner_contact").filter(pk=due.registration.pk)
               .annotate(suppressed=Exists(NoticeSuppression.objects.filter(
                   registration=OuterRef("pk"), resumed_at__isnull=True)))
               .first())
        if row is None:
            return None, "Being changed right now: the next run sends it."
        reason = not_owed_reason(row)
        if reason:
            return None, reason
        if row.suppressed:
            return None, "Notices were suppressed meanwhile."
        window = current_window(row.expires_at, now)
        if (expiry_date(row.expires_at) != due.expiry_date or window is None
                or window.point != due.point):
            return None, (f"Renewed meanwhile: it now expires on "
                          f"{expiry_date(row.expires_at):%Y-%m-%d}.")
        recipient, source = recipient_of(row)
        fields: dict[str, Any] = {
            "recipient": recipient, "recipient_source": source,
            "outcome": NoticeOutcome.SENDING if recipient else NoticeOutcome.NOT_SENDABLE,
            "claimed_at": timezone.now(), "expires_at": row.expires_at, "sent_at": None,
            # Known before it is sent: a notice lost between the hand-over and the answer
            # can still be found in the mail server's log.
            "message_id": _message_id() if recipient else "",
            "detail": "" if recipient else
            "Neither the customer account nor the holder has an e-mail address.",
        }
        if due.retry_of is None:
            try:
                with transaction.atomic():
                    notice = RenewalNotice.objects.create(
                        registration=row, point=due.point.name,
                        offset_days=due.point.offset_days, expiry_date=due.expiry_date,
                        attempts=1 if recipient else 0, **fields)
            except IntegrityError:
                return None, "Another run claimed it first."
            return notice, ""
        if not recipient:
            return None, "Still no e-mail address."
        # Compare-and-set on what was read: of two runs retrying it, one wins.
        claimed = RenewalNotice.objects.filter(
            pk=due.retry_of.pk, outcome=due.retry_of.outcome,
            attempts=due.retry_of.attempts).update(attempts=F("attempts") + 1, **fields)
        if not claimed:
            return None, "Another run claimed it first."
        return RenewalNotice.objects.get(pk=due.retry_of.pk), ""


def _deliver(notice: RenewalNotice, registration: Registration, point: SchedulePoint, *,
             now: datetime) -> RenewalNotice:
    """Hand the claimed notice to the mail backend and record the answer.

    At most once, by choice: the claim is committed before the hand-over, so a run that
    dies after the mail server took the message and before "sent" is recorded leaves
    the row "sending". No later run sends it again (the README's rule: nothing is sent
    twice on the back-office's own); the timeline shows its outcome as unknown, with
    the Message-ID to look for in the mail server's log, and staff decide. A second
    copy of a reminder is not worth the risk of a customer getting every reminder twice
    whenever the worker restarts; a refusal the backend reports (it raised, nothing was
    accepted) is different: that notice is recorded failed and tried again."""
    message = build_message(registration, point, recipient=notice.recipient,
                            message_id=notice.message_id, now=now)
    try:
        accepted = message.send(fail_silently=False)
    except Exception as error:  # whatever the backend raises (SMTP, socket, TLS)
        detail = f"{type(error).__name__}: {error}"[:500]
        logger.warning("Renewal notice %s for %s not sent: %s", notice.pk, registration,
                       detail)
        answer = {"outcome": NoticeOutcome.FAILED, "detail": detail}
    else:
        answer = ({"outcome": NoticeOutcome.SENT, "sent_at": timezone.now()} if accepted
                  else {"outcome": NoticeOutcome.FAILED,
                        "detail": "The mail backend accepted nothing."})
    RenewalNotice.objects.filter(pk=notice.pk, outcome=NoticeOutcome.SENDING).update(**answer)
    for name, value in answer.items():
        setattr(notice, name, value)
    return notice


def renew_url(registration: Registration) -> str:
    return settings.NOTICE_RENEW_URL.replace("{domain}", quote(registration.name, safe=""))


def message_context(registration: Registration, point: SchedulePoint, *,
                    now: datetime | None = None) -> dict[str, Any]:
    """What the templates are given. `days` is the days left when it is sent (a late
    month notice says so, not "30")."""
    now = now or timezone.now()
    account, holder = registration.account, registration.owner_contact
    name = (account.name if account is not None and account.name else
            " ".join(part for part in (getattr(holder, "first_name", ""),
                                       getattr(holder, "last_name", "")) if part))
    return {
        "domain": registration.unicode_name,
        "domain_ascii": registration.name,
        "shows_ascii": registration.unicode_name != registration.name,
        "expires_at": registration.expires_at,
        "expiry_date": expiry_date(registration.expires_at),
        "days": max((expiry_date(registration.expires_at) - now.astimezone(UTC).date()).days,
                    0),
        "expired": point.after_expiry,
        "auto_renew": registration.auto_renew,
        "renew_url": renew_url(registration),
        "registrar": settings.NOTICE_REGISTRAR_NAME,
        "support_email": settings.NOTICE_SUPPORT_EMAIL,
        "support_phone": settings.NOTICE_SUPPORT_PHONE,
        "customer_name": name,
        "point": point,
    }


def build_message(registration: Registration, point: SchedulePoint, *, recipient: str,
                  message_id: str, now: datetime | None = None) -> EmailMultiAlternatives:
    """The notice e-mail (text, with an HTML alternative) from templates/notices/."""
    context = message_context(registration, point, now=now)
    subject = " ".join(render_to_string("notices/renewal_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject, body=render_to_string("notices/renewal.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL, to=[recipient],
        reply_to=[settings.NOTICE_SUPPORT_EMAIL] if settings.NOTICE_SUPPORT_EMAIL else None,
        headers={"Message-ID": message_id})
    message.attach_alternative(render_to_string("notices/renewal.html", context), "text/html")
    return message


# --- what staff see -------------------------------------------------------------------------


def shown_outcome(notice: RenewalNotice, *, now: datetime | None = None) -> str:
    """The outcome as staff should read it: a claim that never got its answer is
    "unknown", not "sending"."""
    now = now or timezone.now()
    if notice.outcome == NoticeOutcome.SENDING and notice.claimed_at < now - UNKNOWN_AFTER:
        return "unknown"
    return notice.outcome


@dataclass(frozen=True)
class NoticeState:
    """The registration page's view of its notices."""

    next_point: SchedulePoint | None
    next_due_at: datetime | None
    reason: str  # why nothing is due, when nothing is
    suppression: NoticeSuppression | None
    recipient: str
    recipient_source: str
    notices: tuple[RenewalNotice, ...]  # those of the current expiry, by point

    @property
    def due_now(self) -> bool:
        return self.next_due_at is not None and self.next_due_at <= timezone.now()


def notice_state(registration: Registration, *, now: datetime | None = None) -> NoticeState:
    now = now or timezone.now()
    suppression = open_suppression(registration)
    recipient, source = recipient_of(registration)
    reason = not_owed_reason(registration)
    notices: tuple[RenewalNotice, ...] = ()
    next_point = next_due_at = None
    if not reason:
        current = expiry_date(registration.expires_at)
        by_point = {notice.point: notice for notice in RenewalNotice.objects.filter(
            registration=registration, expiry_date=current)}
        notices = tuple(by_point[w.point.name] for w in windows(registration.expires_at)
                        if w.point.name in by_point)
        for window in windows(registration.expires_at):
            previous = by_point.get(window.point.name)
            if window.ends_at <= now or (
                    previous is not None and not _may_try_again(previous, recipient)):
                continue
            next_point, next_due_at = window.point, window.starts_at
            break
        else:
            reason = f"Nothing more is due for the expiry of {current:%Y-%m-%d}."
    if suppression is not None:
        reason = _suppression_text(suppression)
    elif next_point is not None and not recipient:
        reason = "No e-mail address on the customer account or the holder: it will be " \
                 "recorded as not sendable."
    return NoticeState(next_point=next_point, next_due_at=next_due_at, reason=reason,
                       suppression=suppression, recipient=recipient,
                       recipient_source=source, notices=notices)


# --- suppress and resume (staff, audited) --------------------------------------------------


def notices_suppress(*, registration: Registration, reason: str, actor) -> Outcome:
    """Stop the renewal notices of `registration`, with the reason; one audit row."""
    require_permission(actor, SUPPRESS_PERMISSION)
    reason = checked_text(reason, "reason", max_length=REASON_MAX_LENGTH, multiline=True)
    if not reason:
        raise InvalidInput("Give the reason for suppressing the renewal notices.",
                           field_errors={"reason": ["Say why no reminders should go out."]})
    with transaction.atomic():
        # The lock a notice's claim takes: no notice is claimed once this commits.
        row = Registration.objects.select_for_update().get(pk=registration.pk)
        current = open_suppression(row)
        if current is not None:
            raise InvalidInput(f"Renewal notices for {row} are already suppressed. "
                               f"{_suppression_text(current)}",
                               field_errors={"reason": ["Already suppressed."]})
        suppression = NoticeSuppression.objects.create(
            registration=row, reason=reason, suppressed_by=actor,
            suppressed_at=timezone.now())
        message = f"Renewal notices for {row} are suppressed: {reason}"
        audit_row = audit.record(
            actor=actor, action="registration.notices_suppressed", target=row,
            parameters={"reason": reason, "suppression_id": suppression.pk},
            outcome=Outcomes.SUCCEEDED, message=message)
    return Outcome(status=Outcomes.SUCCEEDED, message=message, audit_row=audit_row)


def notices_resume(*, registration: Registration, actor, reason: str = "") -> Outcome:
    """Send `registration`'s renewal notices again (the reason is optional); one audit
    row. A point whose window passed while suppressed is not sent late."""
    require_permission(actor, SUPPRESS_PERMISSION)
    reason = checked_text(reason, "reason", max_length=REASON_MAX_LENGTH, multiline=True)
    with transaction.atomic():
        row = Registration.objects.select_for_update().get(pk=registration.pk)
        current = open_suppression(row)
        if current is None:
            raise InvalidInput(f"Renewal notices for {row} are not suppressed.")
        NoticeSuppression.objects.filter(pk=current.pk).update(
            resumed_at=timezone.now(), resumed_by=actor, resume_reason=reason)
        message = f"Renewal notices for {row} are sent again" + (
            f": {reason}" if reason else ".")
        audit_row = audit.record(
            actor=actor, action="registration.notices_resumed", target=row,
            parameters={"reason": reason, "suppression_id": current.pk,
                        "suppressed_reason": current.reason},
            outcome=Outcomes.SUCCEEDED, message=message)
    return Outcome(status=Outcomes.SUCCEEDED, message=message, audit_row=audit_row)
