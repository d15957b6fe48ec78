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

from collections.abc import Iterable

from django.db.models import BigIntegerField, Count, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

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


#: The most a money column holds (registrar.values.amounts.MAX_MINOR): a sum beyond it
#: is kept at it rather than overflowing the column.
_MOST = 2**63 - 1


def ledger_figures(order_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """What the ledger holds for each order: succeeded payments (`paid_minor`),
    succeeded refunds (`refunded_back_minor`) and the refunds pending that no entry
    settles (`refunds_pending`)."""
    ids = set(order_ids)
    figures = {pk: {"paid_minor": 0, "refunded_back_minor": 0, "refunds_pending": 0}
               for pk in ids}
    if not ids:
        return figures
    entries = LedgerEntry.objects.filter(order_id__in=ids).order_by()
    settled = set(LedgerEntry.objects.filter(settles__order_id__in=ids).order_by()
                  .values_list("settles_id", flat=True))
    for pk, order_id, kind, state, amount in entries.values_list(
            "pk", "order_id", "kind", "state", "amount_minor"):
        row = figures[order_id]
        if state == LedgerEntry.State.SUCCEEDED and kind == LedgerEntry.Kind.PAYMENT:
            row["paid_minor"] = min(row["paid_minor"] + amount, _MOST)
        elif state == LedgerEntry.State.SUCCEEDED and kind == LedgerEntry.Kind.REFUND:
            row["refunded_back_minor"] = min(row["refunded_back_minor"] + amount, _MOST)
        elif (state == LedgerEntry.State.PENDING and kind == LedgerEntry.Kind.REFUND
              and pk not in settled):
            row["refunds_pending"] += 1
    return figures


def refresh_ledger_figures(order_ids: Iterable[int]) -> None:
    """Recompute the ledger figures kept on each order from its entries. Called in the
    transaction that adds entries (LedgerEntry.save, bulk_create): the orders' rows are
    locked first, so two entries added at once for one order are summed one after the
    other, the second seeing the first."""
    ids = sorted(set(order_ids))
    if not ids:
        return
    list(Order.objects.select_for_update().filter(pk__in=ids).order_by("pk")
         .values_list("pk", flat=True))
    for pk, figures in ledger_figures(ids).items():
        Order.objects.filter(pk=pk).exclude(**figures).update(**figures)


def fill_ledger_figures() -> int:
    """Recompute every order's ledger figures in one UPDATE, for entries written around
    the model (a bulk load in SQL, a restore): each figure a sum over the order's own
    entries. How many orders were updated."""

    def summed(kind: str, state: str, aggregate, **extra) -> Coalesce:
        rows = (LedgerEntry.objects.filter(order=OuterRef("pk"), kind=kind, state=state,
                                           **extra)
                .order_by().values("order").annotate(total=aggregate).values("total"))
        return Coalesce(Subquery(rows, output_field=BigIntegerField()), Value(0),
                        output_field=BigIntegerField())

    return Order.objects.filter(pk__in=LedgerEntry.objects.values("order_id")).update(
        paid_minor=summed(LedgerEntry.Kind.PAYMENT, LedgerEntry.State.SUCCEEDED,
                          Sum("amount_minor")),
        refunded_back_minor=summed(LedgerEntry.Kind.REFUND, LedgerEntry.State.SUCCEEDED,
                                   Sum("amount_minor")),
        refunds_pending=summed(LedgerEntry.Kind.REFUND, LedgerEntry.State.PENDING,
                               Count("pk"), settled_by__isnull=True))
