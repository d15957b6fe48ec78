"""The dashboard's deadlines: what needs a person next, soonest first, each section
linked to the list that holds all of it.

Sections are only for those who may act on them; each shows its count and its first
few rows with their due time and a countdown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlencode

from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from registrar.deadlines import EXPIRY_BUCKETS, countdown, expiring_within

SHOWN = 5


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


def _changelist(name: str, **params: str) -> str:
    url = reverse(f"admin:{name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def _item(label: str, url: str, due: datetime | None, detail: str = "",
          now: datetime | None = None) -> Item:
    return Item(label=label, url=url, due=due, due_in=countdown(due, now), detail=detail)


def sections(user, now: datetime | None = None) -> list[Section]:
    from billing.finance.attention import needing_attention
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
            leaving.count(), [
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
            waiting.count(), [
                _item(str(row), reverse("admin:contacts_contact_change", args=[row.pk]),
                      row.verification_due_at, row.email, now) for row in waiting[:SHOWN]]))
    if user.has_perm("registrar.view_registration"):
        for days in EXPIRY_BUCKETS:
            expiring = expiring_within(days, now=now)
            found.append(Section(
                f"expiring_{days}", f"Expiring within {days} days",
                _changelist("registrar_registration", expiring=str(days)),
                expiring.count(), [
                    _item(row.unicode_name, registration_url(row), row.expires_at,
                          "auto-renew on" if row.auto_renew else "auto-renew off", now)
                    for row in expiring[:SHOWN]]))
        unknown = Registration.objects.exclude(unsettled_operation="").order_by(
            "unsettled_since")
        found.append(Section(
            "unknown", "Operations whose outcome is not known yet",
            _changelist("registrar_registration", unsettled="yes"), unknown.count(), [
                _item(row.unicode_name, registration_url(row), row.unsettled_since,
                      row.unsettled_operation.replace("_", " "), now)
                for row in unknown[:SHOWN]]))
    if user.has_perm("registrar.view_process"):
        stuck = Process.objects.filter(stuck=True, is_terminal=False).select_related(
            "registration").order_by("created_at")
        found.append(Section(
            "stuck", "Stuck processes", _changelist("registrar_process", stuck__exact="1"),
            stuck.count(), [
                _item(f"{row.registration}: {row.action or row.upstream_id}",
                      reverse("admin:registrar_process_change", args=[row.pk]),
                      row.created_at, row.get_status_display(), now)
                for row in stuck[:SHOWN]]))
    if user.has_perm("registrar.approve_operation"):
        pending = pending_for(user).order_by("expires_at")
        found.append(Section(
            "approvals", "Requests waiting for your approval",
            reverse("admin:registrar_approval_changelist"), pending.count(), [
                _item(row.summary, reverse("admin:registrar_approval_change", args=[row.pk]),
                      row.expires_at, f"asked by {row.requested_by}", now)
                for row in pending[:SHOWN]]))
    if user.has_perm("billing.view_finance"):
        attention = needing_attention(now).order_by("placed_at")
        found.append(Section(
            "orders", "Orders needing attention", reverse("finance:attention"),
            attention.count(), [
                _item(f"Order #{row.pk}: {row.domain or row.get_kind_display()}",
                      reverse("finance:order", args=[row.pk]), row.placed_at,
                      row.get_status_display(), now) for row in attention[:SHOWN]]))
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
