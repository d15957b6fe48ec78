"""Document 001's orders: the order record (`GET /api/orders/:id`, and the `order` of a
placement's 202) read into an `OrderRecord`.

Document 001 has no order list: the back-office follows each order it placed by reading
it again until it ends (see the adapter's `read_order`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from registrar.providers.base import OrderLine, OrderRecord, OrderState, OrderType

ORDER_TYPES = {
    "register": OrderType.REGISTRATION,
    "transfer": OrderType.TRANSFER_IN,
    "renew": OrderType.RENEWAL,
    "registrant_change": OrderType.REGISTRANT_CHANGE,
}
ORDER_STATUSES = frozenset({"pending", "processing", "completed", "failed", "cancelled"})
#: Once here, a Domain API order does not change any more: it is not read again.
FINAL_STATES = frozenset({
    OrderState.COMPLETED, OrderState.TRANSFERRED, OrderState.REFUNDED, OrderState.FAILED,
    OrderState.TRANSFER_FAILED, OrderState.CANCELLED, OrderState.PAYMENT_FAILED,
})


def _cents(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} is not an amount in cents: {value!r}")
    return value


def _money(value: Any, what: str) -> tuple[int, str]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} is not an object")
    currency = value["currency"]
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise ValueError(f"{what} has no ISO currency: {currency!r}")
    return _cents(value["amount_cents"], f"{what}.amount_cents"), currency.upper()


def _state(status: str, refunded: bool) -> OrderState:
    if status in {"pending", "processing"}:
        return OrderState.IN_PROGRESS
    if status == "completed":
        return OrderState.COMPLETED
    if refunded:
        return OrderState.REFUNDED
    if status == "cancelled":
        return OrderState.CANCELLED
    # Failed and the money kept: a delivery failure the finance report flags.
    return OrderState.FAILED


def parse_order(upstream: Any) -> OrderRecord:
    """The order record. Raises KeyError/TypeError/ValueError when it is not one.

    pending / processing -> in progress; completed -> completed; failed or cancelled with
    a `refund` object -> refunded (the upstream gave the money back; null or absent, it
    kept it: docs/domain-api.md, since document 001 does not say); failed without one ->
    failed; cancelled without one -> cancelled. The cart is paid when the order is
    placed, so `total` is what was charged, whatever became of the order since.
    """
    if not isinstance(upstream, Mapping):
        raise TypeError("the order is not an object")
    upstream_id = upstream["id"]
    if isinstance(upstream_id, bool) or not isinstance(upstream_id, int | str) or not str(
            upstream_id).strip():
        raise ValueError(f"not an order id: {upstream_id!r}")
    status = upstream["status"]
    if status not in ORDER_STATUSES:
        raise ValueError(f"unknown order status {status!r}")
    raw_kind = upstream.get("kind")
    if raw_kind is not None and raw_kind not in ORDER_TYPES:
        raise ValueError(f"unknown order kind {raw_kind!r}")
    years = upstream.get("years")
    if years is not None and (isinstance(years, bool) or not isinstance(years, int)
                              or not 1 <= years <= 10):
        raise ValueError(f"years out of range: {years!r}")
    total = _money(upstream["total"], "total") if upstream.get("total") is not None else None
    refund = (_money(upstream["refund"], "refund") if upstream.get("refund") is not None
              else None)
    if refund is not None and total is not None and refund[1] != total[1]:
        raise ValueError("the refund is not in the order's currency")
    domain = upstream.get("domain") or ""
    if not isinstance(domain, str):
        raise TypeError("domain is not a string")
    domain = domain.strip().lower()
    registration_id = upstream.get("registration_id") or ""
    if not isinstance(registration_id, str):
        raise TypeError("registration_id is not a string")
    raw_lines = upstream.get("line_items") or []
    if not isinstance(raw_lines, list):
        raise TypeError("line_items is not a list")
    lines = []
    for line in raw_lines:
        if not isinstance(line, Mapping):
            raise TypeError("a line item is not an object")
        amount = _cents(line.get("amount_cents", 0), "line_items.amount_cents")
        lines.append(OrderLine(
            description=str(line.get("description") or line.get("role") or "Order line")[:255],
            domain=str(line.get("domain") or domain).strip().lower(),
            quantity=1,
            unit_amount_minor=amount,
            total_minor=amount,
            details={key: line[key] for key in ("role", "years", "currency", "product")
                     if line.get(key) is not None},
        ))
    currency = total[1] if total else (refund[1] if refund else None)
    return OrderRecord(
        upstream_id=str(upstream_id),
        state=_state(status, refund is not None),
        type=ORDER_TYPES[raw_kind] if raw_kind is not None else None,
        domain=domain,
        years=years,
        currency=currency,
        total_minor=total[0] if total else None,
        refunded_minor=refund[0] if refund else None,
        status_reason=str(upstream.get("status_reason") or ""),
        registration_id=registration_id,
        # Line items only fill an order that has none: the first answer's lines stay.
        lines=tuple(lines) if lines else None,
        lines_authoritative=False,
    )
