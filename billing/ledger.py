"""The one writer of the payment ledger: money that moved, recorded once.

Every path that learns of a charge or a refund (placing an order, its follow-up, the
order mirror, a webhook) records it here, under a reference made from the upstream's
id for the order ("<id>:charge", "<id>:refund") or, before the upstream gave one, the
local idempotency key. An order has at most one of each, whichever reference came
first, so a redelivery, a re-run or a second source never counts money twice.

Where the upstream did not state the amount (the most it can have been is recorded),
the entry is *pending*: an estimate. When the upstream later states it, a succeeded
entry with the real amount settles the estimate. The ledger stays append-only.
"""

from __future__ import annotations

from django.db.models import Q

from billing.models import LedgerEntry, Order

CHARGE = "charge"
REFUND = "refund"


def reference(order: Order, what: str) -> str:
    return f"{order.upstream_id or order.idempotency_key or f'order-{order.pk}'}:{what}"


def _entries(order: Order, kind: str, what: str):
    return order.ledger_entries.filter(kind=kind).filter(
        Q(external_reference=reference(order, what))
        | Q(external_reference__endswith=f":{what}"))


def record_once(order: Order, kind: str, amount: int, what: str, *, note: str = "",
                estimated: bool = False) -> bool:
    """Record `amount` of `kind` (payment or refund) for `order` unless already recorded.
    An `estimated` amount is recorded pending; a stated one settles a pending estimate
    with the real amount. Returns whether an entry was added now."""
    if not amount:
        return False
    recorded = _entries(order, kind, what)
    if recorded.filter(state=LedgerEntry.State.SUCCEEDED).exists():
        return False
    estimate = recorded.filter(state=LedgerEntry.State.PENDING,
                               settled_by__isnull=True).first()
    if estimated:
        if recorded.exists():
            return False
        LedgerEntry.objects.create(order=order, kind=kind, state=LedgerEntry.State.PENDING,
                                   amount_minor=amount, currency=order.currency,
                                   external_reference=reference(order, what), note=note)
        return True
    if estimate is not None:
        note = (f"Settles the estimate of {estimate.amount_minor} {estimate.currency} with the "
                "amount the upstream stated." + (f" {note}" if note else ""))
    LedgerEntry.objects.create(order=order, kind=kind, state=LedgerEntry.State.SUCCEEDED,
                               amount_minor=amount, currency=order.currency,
                               external_reference=reference(order, what), note=note,
                               settles=estimate)
    return True


def record_charge(order: Order, *, note: str = "", estimated: bool = False) -> bool:
    return record_once(order, LedgerEntry.Kind.PAYMENT, order.total_minor, CHARGE, note=note,
                       estimated=estimated)


def record_refund(order: Order, *, note: str = "", estimated: bool = False) -> bool:
    return record_once(order, LedgerEntry.Kind.REFUND, order.refunded_minor, REFUND,
                       note=note or order.status_reason, estimated=estimated)
