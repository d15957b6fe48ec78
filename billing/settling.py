"""Orders whose placement got no usable answer: finding out what became of them.

Such an order is open and unsettled (`unsettled_since`): the upstream may have taken it,
and charged. It is settled by asking the upstream again in a way that cannot place it
twice: the same call under the same idempotency key (the upstream answers with the
first order), its order list, or its domain listing. What it says is applied like any
record of the order (billing.order_sync). When the upstream still shows nothing after
ORDER_SETTLE_GRACE_MINUTES, the order was not placed: it ends without a charge.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backoffice import audit
from billing.models import Order, OrderKind, OrderStatus
from billing.order_sync import final_statuses, known_order, upsert_record
from registrar.jobs import enqueue_after_commit
from registrar.models import Registration
from registrar.operations import Outcomes
from registrar.providers.base import OrderRecord, Provider
from registrar.providers.errors import Unsupported
from registrar.providers.registry import adapter_class, provider_for_account

logger = logging.getLogger(__name__)

SETTLE_ACTION = "order.settled"
ACTOR = "system:settle"


def grace() -> timedelta:
    return timedelta(minutes=settings.ORDER_SETTLE_GRACE_MINUTES)


def _ask(order: Order, provider: Provider) -> OrderRecord | None:
    """What the upstream now says of the order, without placing it twice."""
    if order.kind == OrderKind.REGISTRANT_CHANGE:
        request = order.quote.get("request") or {}
        placed = provider.order_registrant_change(
            order.registration.ref, idempotency_key=order.idempotency_key or "",
            source_contact_id=request.get("source_contact_id"),
            new_contact=request.get("new_contact"))
        return placed.record
    if order.kind == OrderKind.EMAIL_INFRASTRUCTURE:
        return provider.refresh_email_order(known_order(order))
    from billing.ordering import _placement

    return provider.settle_placement(_placement(order, ""))


def order_settle(*, order: Order) -> str:
    """One attempt: "settled" (the upstream's order applied), "not_placed" (nothing
    shown after the grace period: ended without a charge), "waiting" (nothing shown
    yet), or "unsupported" (the upstream gives no way to tell: a person checks).
    Raises ProviderError when the upstream cannot be asked now."""
    if order.unsettled_since is None:
        return "settled"
    account = order.provider_account
    provider = provider_for_account(account)
    try:
        record = _ask(order, provider)
    except Unsupported:
        return "unsupported"
    now = timezone.now()
    with transaction.atomic():
        row = Order.objects.select_for_update(of=("self",)).get(pk=order.pk)
        if row.unsettled_since is None:
            return "settled"
        if record is not None:
            ended = final_statuses(adapter_class(account.kind))
            settled = upsert_record(account, replace(record, local_id=row.pk),
                                    actor_label=ACTOR, action=SETTLE_ACTION, ended=ended)
            Order.objects.filter(pk=row.pk).update(unsettled_since=None)
            _settle_registration(row)
            if settled.order is not None and settled.order.status not in ended:
                # Placed and still under way: followed to its end like any placed order.
                follow_after_commit(settled.order)
            return "settled"
        if now - row.unsettled_since < grace():
            return "waiting"
        upstream = account.get_kind_display()
        minutes = int(grace().total_seconds() // 60)
        if not adapter_class(account.kind).unshown_order_not_placed:
            # It may be there unseen (unpaid): never concluded "not placed". It stays open
            # for a person, on finance's needs-attention list; the order mirror adopts it
            # if the upstream shows it later.
            message = (f"No usable answer came back when it was placed, and {upstream} "
                       f"still shows no such order {minutes} minutes later. {upstream} "
                       "shows an order only once it is paid, so it may be there, unpaid: "
                       f"check the account at {upstream} before placing it again.")
            if row.status_reason != message:
                Order.objects.filter(pk=row.pk).update(status_reason=message, updated_at=now)
                audit.record(actor=None, actor_label=ACTOR, action=SETTLE_ACTION, target=row,
                             parameters={"provider_account": account.label},
                             outcome=Outcomes.UNKNOWN, message=message)
            return "unsupported"
        message = (f"No usable answer came back when it was placed, and {upstream} still "
                   f"shows no such order {minutes} minutes later "
                   f"({adapter_class(account.kind).unshown_order_not_placed}): it was not "
                   "placed, and nothing was charged.")
        Order.objects.filter(pk=row.pk).update(
            status=OrderStatus.CANCELLED, status_reason=message, unsettled_since=None,
            updated_at=now)
        audit.record(actor=None, actor_label=ACTOR, action=SETTLE_ACTION, target=row,
                     parameters={"provider_account": account.label,
                                 "status": [row.status, OrderStatus.CANCELLED.value]},
                     outcome=Outcomes.SUCCEEDED, message=message)
        _settle_registration(row)
        return "not_placed"


def follow_after_commit(order: Order) -> None:
    """Follow a settled order still under way, as its placement would have."""
    from billing import email_orders, ordering

    if order.kind == OrderKind.EMAIL_INFRASTRUCTURE:
        enqueue_after_commit(email_orders.FOLLOW_TASK, order.pk,
                             countdown=settings.EMAIL_ORDER_FOLLOW_BASE_DELAY)
    else:
        enqueue_after_commit(ordering.FOLLOW_TASK, order.pk,
                             countdown=settings.PROCESS_POLL_BASE_DELAY)


def _settle_registration(order: Order) -> None:
    """A paid operation's registration is no longer unsettled once its order is."""
    if order.registration_id is not None:
        Registration.objects.filter(pk=order.registration_id,
                                    unsettled_operation=order.kind).update(
            unsettled_operation="", unsettled_since=None)


def can_ask(order: Order) -> bool:
    """Whether the upstream can be asked what became of the order at all (a paid
    operation replays its key, an email order's domains are listed); where it cannot
    (name.com), a person checks and nothing asks again."""
    if order.kind in (OrderKind.REGISTRANT_CHANGE, OrderKind.EMAIL_INFRASTRUCTURE):
        return True
    return adapter_class(order.provider_account.kind).settle_placement is not (
        Provider.settle_placement)


def unsettled_orders():
    return Order.objects.filter(unsettled_since__isnull=False)
