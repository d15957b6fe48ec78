"""Order-side services: upstream events applied to orders, with the money they moved."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.db import IntegrityError, transaction

from backoffice import audit
from backoffice.models import StaffAction
from billing.models import Account, LedgerEntry, Order, OrderKind, OrderStatus, WebhookEvent
from registrar.models import ProviderAccount


class WebhookPayloadError(ValueError):
    """The event is malformed: answered 400, nothing stored."""


def _ledger_once(order: Order, kind: str, amount: int, reference: str, note: str = "") -> None:
    """Record money that moved, once per upstream reference (a redelivery adds nothing)."""
    if amount and not order.ledger_entries.filter(external_reference=reference).exists():
        LedgerEntry.objects.create(order=order, kind=kind, state=LedgerEntry.State.SUCCEEDED,
                                   amount_minor=amount, currency=order.currency,
                                   external_reference=reference, note=note)


def _domainee_purchase(account: ProviderAccount, data: Mapping[str, Any]) -> Order:
    """domain_purchase.completed / .failed: the purchase record, mirrored as an Order.
    A registration the registrar refused after the charge ends *refunded*, visibly, with
    the registrar's reason kept."""
    from registrar.providers.domainee import purchase_to_order_fields

    purchase = data.get("purchase")
    if not isinstance(purchase, Mapping) or not purchase.get("id"):
        raise WebhookPayloadError("data.purchase with an id is required.")
    try:
        fields = purchase_to_order_fields(purchase)
    except (KeyError, TypeError, ValueError) as exc:
        raise WebhookPayloadError(f"Unreadable purchase: {exc}") from exc
    reference = fields.get("customer_reference") or ""
    fields.setdefault("kind", OrderKind.REGISTRATION)
    fields["account"] = Account.objects.filter(customer_reference=reference).first()
    if data.get("reason") and not fields.get("status_reason"):
        fields["status_reason"] = str(data["reason"])
    upstream_id = fields.pop("upstream_id")
    order, _ = Order.objects.update_or_create(provider_account=account,
                                              upstream_id=upstream_id, defaults=fields)
    charged = order.status in {OrderStatus.REGISTERED, OrderStatus.REFUNDED}
    if charged:
        _ledger_once(order, LedgerEntry.Kind.PAYMENT, order.total_minor, f"{upstream_id}:charge")
    if order.status == OrderStatus.REFUNDED:
        _ledger_once(order, LedgerEntry.Kind.REFUND, order.refunded_minor or order.total_minor,
                     f"{upstream_id}:refund", note=order.status_reason)
    return order


def _entri_order_status(account: ProviderAccount, data: Mapping[str, Any]) -> Order | None:
    order_id, status = data.get("orderId"), data.get("status")
    if not order_id or status not in OrderStatus.values:
        raise WebhookPayloadError("data.orderId and a known data.status are required.")
    order = Order.objects.filter(provider_account=account, upstream_id=str(order_id)).first()
    if order is not None and order.status != status:
        order.status = status
        order.save(update_fields=["status", "updated_at"])
    return order


# (provider kind, event type) -> handler. Anything else is stored and ignored.
HANDLERS: dict[tuple[str, str], Callable[[ProviderAccount, Mapping[str, Any]], Order | None]] = {
    ("domainee", "domain_purchase.completed"): _domainee_purchase,
    ("domainee", "domain_purchase.failed"): _domainee_purchase,
    ("entri", "order.status_changed"): _entri_order_status,
}


def webhook_receive(*, account: ProviderAccount, event_id: str, event_type: str,
                    payload: Mapping[str, Any]) -> str:
    """Apply one pushed event: "applied", "ignored" (unknown type, stored) or "duplicate"
    (seen before: nothing changes). Raises WebhookPayloadError (nothing stored)."""
    data = payload.get("data")
    if not isinstance(data, Mapping):
        raise WebhookPayloadError("data must be an object.")
    handler = HANDLERS.get((account.kind, event_type))
    try:
        with transaction.atomic():
            if WebhookEvent.objects.filter(provider_account=account,
                                           event_id=event_id).exists():
                return "duplicate"
            order = handler(account, data) if handler else None
            WebhookEvent.objects.create(provider_account=account, event_id=event_id,
                                        event_type=event_type, payload=dict(payload),
                                        order=order,
                                        outcome="applied" if handler else "ignored")
            if handler and order is not None:
                audit.record(
                    actor=None, actor_label=f"webhook:{account.label}", action="order.webhook",
                    target=order, parameters={"event": event_id, "type": event_type,
                                              "status": order.status},
                    outcome=StaffAction.Outcome.SUCCEEDED,
                    message=f"{event_type} from {account.label}: order {order.pk} is "
                            f"{order.get_status_display()}.")
    except IntegrityError:
        return "duplicate"  # the same event delivered twice at once: the other one won
    return "applied" if handler else "ignored"
