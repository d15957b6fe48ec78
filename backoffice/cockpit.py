"""The dashboard's deadlines: what needs a person next, soonest first, each section
linked to the list that holds all of it.

Sections are only for those who may act on them; each shows its count and its first
few rows with their due time and a countdown. Each section is one partial or range index
scan, and its count stops at COUNT_CAP ("999+"): the dashboard costs the same with a
thousand registrations as with millions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlencode

from django.db.models import F, QuerySet
from django.urls import reverse
from django.utils import timezone

from registrar.deadlines import EXPIRY_BUCKETS, countdown, expiring_within

SHOWN = 5
#: A section's count stops here; beyond it the figure reads "999+".
COUNT_CAP = 999


def capped_count(queryset: QuerySet) -> int:
    """The rows of `queryset`, counted up to COUNT_CAP + 1 (a LIMITed subquery)."""
    return queryset.order_by()[:COUNT_CAP + 1].count()


def count_label(count: int) -> str:
    return f"{COUNT_CAP}+" if count > COUNT_CAP else str(count)


@dataclass(frozen=True)
class Item:
    label: str
    url: str
    due: datetime | None = None
    due_in: str = ""
    detail: str = ""


@dataclass
class Section:
    key: str
    label: str
    url: str
    count: int
    items: list[Item] = field(default_factory=list)

    @property
    def count_label(self) -> str:
        return count_label(self.count)

    @property
    def more(self) -> bool:
        """More rows than the few shown."""
        return self.count > len(self.items)


def _changelist(name: str, **params: str) -> str:
    url = reverse(f"admin:{name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def _item(label: str, url: str, due: datetime | None, detail: str = "",
          now: datetime | None = None) -> Item:
    return Item(label=label, url=url, due=due, due_in=countdown(due, now), detail=detail)


def sections(user, now: datetime | None = None) -> list[Section]:
    from billing.finance.attention import count_needing_attention, oldest_needing_attention
    from contacts.models import Contact, VerificationState
    from registrar.approvals import pending_for
    from registrar.models import Process, Registration

    now = now or timezone.now()
    found: list[Section] = []

    def registration_url(row) -> str:
        return reverse("admin:registrar_registration_change", args=[row.pk])

    if user.has_perm("registrar.view_registration"):
        leaving = Registration.objects.filter(transfer_out_pending=True).order_by(
            F("transfer_out_auto_ack_at").asc(nulls_last=True), "name")
        found.append(Section(
            "transfer_out", "Outbound transfers awaiting a decision",
            _changelist("registrar_registration", transfer_out_pending__exact="1"),
            capped_count(leaving), [
                _item(row.unicode_name, registration_url(row), row.transfer_out_auto_ack_at,
                      "" if row.transfer_out_auto_ack_at else "auto-ACK time not read yet",
                      now) for row in leaving[:SHOWN]]))
    if user.has_perm("contacts.view_contact"):
        waiting = Contact.objects.filter(
            verification_state=VerificationState.PENDING).order_by("verification_due_at",
                                                                   "pk")
        found.append(Section(
            "verification", "Registrant verifications due",
            _changelist("contacts_contact", verification_state__exact="pending"),
            capped_count(waiting), [
                _item(str(row), reverse("admin:contacts_contact_change", args=[row.pk]),
                      row.verification_due_at, row.email, now) for row in waiting[:SHOWN]]))
    if user.has_perm("registrar.view_registration"):
        for days in EXPIRY_BUCKETS:
            expiring = expiring_within(days, now=now)
            found.append(Section(
                f"expiring_{days}", f"Expiring within {days} days",
                _changelist("registrar_registration", expiring=str(days)),
                capped_count(expiring), [
                    _item(row.unicode_name, registration_url(row), row.expires_at,
                          "auto-renew on" if row.auto_renew else "auto-renew off", now)
                    for row in expiring[:SHOWN]]))
        # unsettled_since is set with unsettled_operation: its partial index serves this.
        unknown = Registration.objects.filter(unsettled_since__isnull=False).exclude(
            unsettled_operation="").order_by("unsettled_since")
        found.append(Section(
            "unknown", "Operations whose outcome is not known yet",
            _changelist("registrar_registration", unsettled="yes"), capped_count(unknown), [
                _item(row.unicode_name, registration_url(row), row.unsettled_since,
                      row.unsettled_operation.replace("_", " "), now)
                for row in unknown[:SHOWN]]))
    if user.has_perm("registrar.view_process"):
        stuck = Process.objects.filter(stuck=True, is_terminal=False).select_related(
            "registration").order_by("created_at")
        found.append(Section(
            "stuck", "Stuck processes", _changelist("registrar_process", stuck__exact="1"),
            capped_count(stuck), [
                _item(f"{row.registration}: {row.action or row.upstream_id}",
                      reverse("admin:registrar_process_change", args=[row.pk]),
                      row.created_at, row.get_status_display(), now)
                for row in stuck[:SHOWN]]))
    if user.has_perm("registrar.approve_operation"):
        pending = pending_for(user).order_by("expires_at")
        found.append(Section(
            "approvals", "Requests waiting for your approval",
            reverse("admin:registrar_approval_changelist"), capped_count(pending), [
                _item(row.summary, reverse("admin:registrar_approval_change", args=[row.pk]),
                      row.expires_at, f"asked by {row.requested_by}", now)
                for row in pending[:SHOWN]]))
    if user.has_perm("billing.view_finance"):
        # Section by section, each from its partial index (billing/finance/attention.py).
        found.append(Section(
            "orders", "Orders needing attention", reverse("finance:attention"),
            count_needing_attention(COUNT_CAP, now), [
                _item(f"Order #{row.pk}: {row.domain or row.get_kind_display()}",
                      reverse("finance:order", args=[row.pk]), row.placed_at,
                      row.get_status_display(), now)
                for row in oldest_needing_attention(SHOWN, now)]))
    return found


@dataclass(frozen=True)
class RecentAction:
    at: datetime
    message: str
    outcome: str
    url: str


def recent_actions(user, limit: int = 10) -> list[RecentAction]:
    """The user's own latest audit rows, each linking to what it was about when the user
    may open that page."""
    from django.urls import NoReverseMatch

    from backoffice.ids import parse_pk
    from backoffice.models import StaffAction

    found = []
    for row in StaffAction.objects.filter(actor=user).order_by("-created_at", "-id")[:limit]:
        url = ""
        app, _, model = row.target_type.partition(".")
        if model and parse_pk(row.target_id) is not None and user.has_perm(
                f"{app}.view_{model}"):
            try:
                url = reverse(f"admin:{app}_{model}_change", args=[row.target_id])
            except NoReverseMatch:
                url = ""
        found.append(RecentAction(at=row.created_at, message=row.message or row.action,
                                  outcome=row.outcome, url=url))
    return found
