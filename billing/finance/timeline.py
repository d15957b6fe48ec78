"""One order's history in time order: placed, money moved, registration, upstream
events and staff actions, from the rows that record them.

Only timestamps the data holds are used: the order does not record when its status
changed, so no step is dated that was not recorded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Prefetch, QuerySet
from django.urls import reverse

from backoffice.models import StaffAction
from billing.models import LedgerEntry, Order, OrderStatus
from registrar.money import format_minor

# Same instant: the step that causes comes before what it causes.
_RANK = {"quoted": 0, "placed": 0, "payment": 1, "registration": 2, "refund": 3,
         "webhook": 4, "staff_action": 5}


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime
    kind: str
    title: str
    details: list[str] = field(default_factory=list)
    who: str = ""
    outcome: str = ""
    amount: str = ""
    url: str = ""
    sequence: int = 0  # the row's id, to keep equal instants in a stable order

    @property
    def sort_key(self) -> tuple:
        return (self.at, _RANK.get(self.kind, 9), self.sequence)


def order_for_detail() -> QuerySet[Order]:
    """Everything the detail page and its timeline read, in a fixed number of queries."""
    return Order.objects.select_related(
        "account", "provider_account", "placed_by", "registration", "tld",
    ).prefetch_related(
        "items",
        Prefetch("ledger_entries", queryset=LedgerEntry.objects.order_by("occurred_at", "id")),
        "webhook_events__provider_account",
    )


def staff_actions_for(order: Order) -> QuerySet[StaffAction]:
    """Audit rows whose target is this order (the audit stores target type and id)."""
    return StaffAction.objects.filter(
        target_type=Order._meta.label_lower, target_id=str(order.pk),
    ).select_related("actor").order_by("created_at", "id")


def order_timeline(order: Order, *, viewer=None) -> list[TimelineEvent]:
    """The order's events, oldest first. `order` comes from `order_for_detail()`; links
    to admin pages are given only where `viewer` may open them."""
    def may_view(permission: str) -> bool:
        return viewer is not None and viewer.has_perm(permission)

    events = [_start(order)]
    events += _ledger_events(order, link=may_view("billing.view_ledgerentry"))
    registration = _registration_event(order, link=may_view("registrar.view_registration"))
    if registration is not None:
        events.append(registration)
    events += [_webhook_event(event, link=may_view("billing.view_webhookevent"))
               for event in order.webhook_events.all()]
    events += [_staff_action_event(action, link=may_view("backoffice.view_staffaction"))
               for action in staff_actions_for(order)]
    return sorted(events, key=lambda event: event.sort_key)


def _start(order: Order) -> TimelineEvent:
    if order.status == OrderStatus.QUOTED:
        details = [f"Quoted total {format_minor(order.quoted_total_minor, order.currency)}"]
        if order.quote_expires_at:
            details.append(f"Quote expires {order.quote_expires_at:%Y-%m-%d %H:%M} UTC")
        return TimelineEvent(at=order.created_at, kind="quoted", title="Quoted (not placed)",
                             details=details, who=_username(order.placed_by),
                             amount=format_minor(order.quoted_total_minor, order.currency))
    details = [f"{order.get_kind_display()} {order.domain}".strip()]
    if order.upstream_id:
        details.append(f"Upstream id {order.upstream_id}")
    return TimelineEvent(
        at=order.placed_at, kind="placed", title="Placed", details=details,
        who=_username(order.placed_by) or "not placed from here (mirrored)",
        amount=format_minor(order.total_minor, order.currency))


def _ledger_events(order: Order, *, link: bool) -> list[TimelineEvent]:
    entries = list(order.ledger_entries.all())
    by_id = {entry.pk: entry for entry in entries}
    settled_by: dict[int, list[LedgerEntry]] = {}
    for entry in entries:
        if entry.settles_id is not None:
            settled_by.setdefault(entry.settles_id, []).append(entry)
    events = []
    for entry in entries:
        details = []
        if entry.external_reference:
            details.append(f"Reference {entry.external_reference}")
        if entry.settles_id is not None:
            settled = by_id.get(entry.settles_id)
            details.append(
                f"Settles the pending {settled.get_kind_display().lower()} of "
                f"{settled.occurred_at:%Y-%m-%d %H:%M}" if settled is not None
                else f"Settles ledger entry {entry.settles_id}")
        for later in settled_by.get(entry.pk, []):
            details.append(f"Settled {later.occurred_at:%Y-%m-%d %H:%M}: "
                           f"{later.get_state_display().lower()}")
        if entry.state == LedgerEntry.State.PENDING and entry.pk not in settled_by:
            details.append("Not settled yet")
        if entry.note:
            details.append(entry.note)
        events.append(TimelineEvent(
            at=entry.occurred_at, kind=entry.kind, title=entry.get_kind_display(),
            details=details, outcome=entry.get_state_display(),
            amount=format_minor(entry.amount_minor, entry.currency), sequence=entry.pk,
            url=reverse("admin:billing_ledgerentry_change", args=[entry.pk]) if link else ""))
    return events


def _registration_event(order: Order, *, link: bool) -> TimelineEvent | None:
    """The linked registration's creation: at the registrar when the mirror knows it,
    else when the registration was first recorded here."""
    registration = order.registration
    if registration is None:
        return None
    if registration.upstream_created_at is not None:
        at, title = registration.upstream_created_at, "Registration created at the registrar"
    else:
        at, title = registration.created_at, "Registration recorded here"
    return TimelineEvent(
        at=at, kind="registration", title=title,
        details=[registration.name, f"Now {registration.get_status_display()}"],
        sequence=registration.pk,
        url=reverse("admin:registrar_registration_change", args=[registration.pk])
        if link else "")


def _webhook_event(event, *, link: bool) -> TimelineEvent:
    return TimelineEvent(
        at=event.received_at, kind="webhook", title=f"Upstream event {event.event_type}",
        details=[f"Event id {event.event_id}"], who=event.provider_account.label,
        outcome=event.outcome, sequence=event.pk,
        url=reverse("admin:billing_webhookevent_change", args=[event.pk]) if link else "")


def _staff_action_event(action: StaffAction, *, link: bool) -> TimelineEvent:
    # The audit masked secrets when it wrote the row; parameters are shown as stored.
    details = [action.message] if action.message else []
    if action.parameters:
        details.append(json.dumps(action.parameters, sort_keys=True, default=str))
    if action.upstream_code:
        details.append(f"Upstream code {action.upstream_code}")
    if action.upstream_request_id:
        details.append(f"Upstream request {action.upstream_request_id}")
    return TimelineEvent(
        at=action.created_at, kind="staff_action", title=f"Action {action.action}",
        details=details, who=action.actor_label, outcome=action.get_outcome_display(),
        sequence=action.pk,
        url=reverse("admin:backoffice_staffaction_change", args=[action.pk]) if link else "")


def _username(user) -> str:
    return user.get_username() if user is not None else ""
