"""Billing's part of the sandbox seed: the orders placed on the built-in sandbox that
have not ended here, so that following them (billing.tasks) finds them upstream.

Registered with `registrar.sandbox.seed` from BillingConfig.ready: the registrar app
does not read billing's tables itself.
"""

from __future__ import annotations

from typing import Any

from billing.models import OrderKind
from billing.order_sync import open_orders
from registrar.sandbox.seed import sandbox_accounts

#: The sandbox speaks document 001, whose orders are of these kinds only.
SANDBOX_KINDS = {
    OrderKind.REGISTRATION: "register",
    OrderKind.TRANSFER_IN: "transfer",
    OrderKind.RENEWAL: "renew",
    OrderKind.REGISTRANT_CHANGE: "registrant_change",
}


def open_sandbox_orders() -> dict[str, list[dict[str, Any]]]:
    records = []
    for account in sandbox_accounts().order_by("pk"):
        for order in open_orders(account).select_related("registration").order_by("pk"):
            kind = SANDBOX_KINDS.get(order.kind)
            if kind is None:
                continue
            registration = getattr(order, "registration", None)
            records.append({
                "id": order.upstream_id,
                "kind": kind,
                "status": "processing",
                "domain": order.domain,
                "years": order.years,
                "total": {"amount_cents": order.total_minor, "currency": order.currency},
                "registration_id": registration.upstream_id if registration else None,
                "account": account.account_ref,
                "created_at": order.placed_at.isoformat() if order.placed_at else None,
            })
    return {"orders": records}
