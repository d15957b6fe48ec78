"""The book of charges registrar operations make (registrar.charges): each is a local
Order, opened and committed before the paid call leaves, with the key the call carries,
so no charge is ever invisible to finance or made twice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from billing.models import Order, OrderStatus
from billing.order_sync import ORDER_KIND, apply_record, final_statuses
from registrar.charges import OpenCharge
from registrar.jobs import enqueue_after_commit
from registrar.models import Registration
from registrar.providers.base import Money, OrderRecord, OrderType
from registrar.providers.registry import adapter_class

#: Follows one placed order to its end (billing.tasks.follow_domain_order).
FOLLOW_TASK = "billing.follow_domain_order"
#: Finds out what became of an order whose answer was lost (billing.tasks.settle_order).
SETTLE_TASK = "billing.settle_order"
# Used when nothing priced the charge beforehand; the upstream's order states its own.
FALLBACK_CURRENCY = "USD"


class OrderBook:
    """registrar.charges.ChargeBook, kept as billing Orders."""

    def open_charge(self, *, registration: Registration, kind: OrderType,
                    price: Money | None, actor: Any, request: dict[str, Any],
                    idempotency_key: Callable[[int], str]) -> OpenCharge:
        with transaction.atomic():
            order = Order.objects.create(
                kind=ORDER_KIND[kind], status=OrderStatus.PAYMENT_INITIATED,
                provider_account=registration.served_by, account=registration.account,
                registration=registration, tld=registration.tld, domain=registration.name,
                currency=price.currency if price else FALLBACK_CURRENCY,
                quoted_total_minor=price.amount_minor if price else None,
                quote={"operation": kind.value, "request": request},
                placed_by=actor if getattr(actor, "pk", None) else None,
                placed_at=timezone.now(),
                customer_reference=registration.account.customer_reference
                if registration.account else "")
            order.idempotency_key = idempotency_key(order.pk)
            order.save(update_fields=["idempotency_key", "updated_at"])
        return OpenCharge(local_id=order.pk, idempotency_key=order.idempotency_key)

    def open_charge_for(self, *, registration: Registration,
                        kind: OrderType) -> OpenCharge | None:
        orders = Order.objects.filter(registration=registration, kind=ORDER_KIND[kind])
        ended = final_statuses(adapter_class(registration.served_by.kind)) if (
            registration.served_by) else frozenset()
        order = orders.exclude(status__in=ended).order_by("-pk").first()
        if order is None:
            return None
        return OpenCharge(local_id=order.pk, idempotency_key=order.idempotency_key or "")

    def record_charge(self, charge: OpenCharge, record: OrderRecord, *, followed: bool) -> str:
        order = Order.objects.select_for_update(of=("self",)).get(pk=charge.local_id)
        order.unsettled_since = None
        apply_record(order, record)
        Order.objects.filter(pk=order.pk).update(unsettled_since=None)
        if followed and order.upstream_id and order.status not in final_statuses(
                adapter_class(order.provider_account.kind)):
            enqueue_after_commit(FOLLOW_TASK, order.pk, countdown=5.0)
        return (f"Order {order.pk} ({order.get_status_display().lower()}, "
                f"{order.total_minor} {order.currency} recorded in the ledger)")

    def charge_refused(self, charge: OpenCharge, reason: str) -> None:
        Order.objects.filter(pk=charge.local_id).update(
            status=OrderStatus.FAILED, status_reason=reason, unsettled_since=None,
            updated_at=timezone.now())

    def charge_unknown(self, charge: OpenCharge, reason: str) -> None:
        Order.objects.filter(pk=charge.local_id).update(
            status_reason=reason, unsettled_since=timezone.now(), updated_at=timezone.now())
        enqueue_after_commit(SETTLE_TASK, charge.local_id, countdown=30.0)
