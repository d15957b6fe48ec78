"""What billing adds to the timelines of a registration and of a customer: orders and
the webhook events about them (backoffice/timeline.py)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet
from django.urls import reverse

from backoffice.timeline import Entry
from billing.models import Account, Order, WebhookEvent
from registrar.money import format_minor


def _orders_of(subject) -> QuerySet[Order]:
    if isinstance(subject, Account):
        return Order.objects.filter(account=subject)
    return Order.objects.filter(Q(registration=subject) | Q(domain=subject.name))


def order_entries(subject, user, kinds: frozenset[str], limit: int) -> Iterable[Entry]:
    if "order" not in kinds or not user.has_perm("billing.view_order"):
        return []
    orders = _orders_of(subject).select_related("placed_by").order_by("-placed_at",
                                                                      "-id")[:limit]
    entries = []
    for order in orders:
        total = order.total_minor if order.total_minor else order.quoted_total_minor
        price = format_minor(total, order.currency) if total is not None else ""
        entries.append(Entry(
            at=order.placed_at, kind="order",
            title=f"Order #{order.pk}: {order.get_kind_display()} of {order.domain or '—'}"
                  f" — {order.get_status_display()}" + (f", {price}" if price else ""),
            actor=str(order.placed_by or ""), outcome=order.status,
            url=reverse("admin:billing_order_change", args=[order.pk]),
            detail=order.status_reason))
    return entries


def webhook_entries(subject, user, kinds: frozenset[str], limit: int) -> Iterable[Entry]:
    if "webhook" not in kinds or not user.has_perm("billing.view_order"):
        return []
    events = (WebhookEvent.objects.filter(order__in=_orders_of(subject))
              .select_related("provider_account").order_by("-received_at", "-id")[:limit])
    may_open = user.has_perm("billing.view_webhookevent")
    return [Entry(
        at=event.received_at, kind="webhook",
        title=f"{event.provider_account.label}: {event.event_type} ({event.outcome})",
        outcome=event.outcome,
        url=reverse("admin:billing_webhookevent_change", args=[event.pk]) if may_open else "")
        for event in events]
