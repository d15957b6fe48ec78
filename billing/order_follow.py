"""Read one placed order again at its upstream, now: what the follow-up tasks do on their
schedule, asked for by a person (the order page's "Read again at the upstream", `manage.py
order follow`). The order is applied through the same code as the tasks, so its state
only moves as the state machine allows; what changed is in the audit trail as the
follow-up writes it."""

from __future__ import annotations

from dataclasses import dataclass

from billing import email_orders
from billing.models import Order, OrderKind, OrderStatus
from billing.order_sync import final_statuses, refresh_order
from registrar.operations import OperationRefused, require_permission
from registrar.providers.base import Capability
from registrar.providers.errors import ProviderError
from registrar.providers.registry import adapter_class

#: Reading an order again changes nothing but the mirror: whoever may see orders may ask.
FOLLOW_PERMISSION = "billing.view_order"


@dataclass(frozen=True)
class FollowResult:
    order: Order
    before: str  # the status shown before, and after
    after: str
    read: bool  # False: the order had ended here, and nothing was read

    @property
    def message(self) -> str:
        if not self.read:
            return f"Order {self.order.pk}: {self.before} (ended; nothing was read)."
        if self.after != self.before:
            return f"Order {self.order.pk}: {self.before} -> {self.after}."
        return f"Order {self.order.pk}: {self.before} (unchanged at the upstream)."


def follow_refusal(order: Order) -> str | None:
    """Why `order` cannot be read again at its upstream, or None."""
    account = order.provider_account
    if account is None or order.status == OrderStatus.QUOTED:
        return f"Order {order.pk} was never placed upstream; there is nothing to read."
    if order.kind == OrderKind.EMAIL_INFRASTRUCTURE and account.supports(
            Capability.EMAIL_ORDERS):
        return None
    if not (account.supports(Capability.ORDER_FOLLOW) and order.upstream_id):
        missing = "" if order.upstream_id else " (it has no upstream id)"
        return (f"{account.get_kind_display()} gives no way to read order {order.pk} "
                f"again{missing}; `manage.py sync_orders` mirrors its order list.")
    return None


def order_follow_now(*, order: Order, actor) -> FollowResult:
    """Read `order` again at its upstream and apply it. OperationRefused, with the
    sentence staff read, when it cannot be read or the answer is not this order; the
    order is then as it was."""
    require_permission(actor, FOLLOW_PERMISSION)
    reason = follow_refusal(order)
    if reason:
        raise OperationRefused(reason)
    account = order.provider_account
    before = order.get_status_display()
    if order.status in final_statuses(adapter_class(account.kind)):
        return FollowResult(order=order, before=before, after=before, read=False)
    try:
        if order.kind == OrderKind.EMAIL_INFRASTRUCTURE and account.supports(
                Capability.EMAIL_ORDERS):
            after = email_orders.email_order_refresh(order=order)
        else:
            after = refresh_order(order)
    except ProviderError as error:
        raise OperationRefused(f"Order {order.pk}: {account.label} could not be read: "
                               f"{error.message} The order is as it was ({before}).",
                               code=error.code or "order_read_failed") from error
    except (KeyError, TypeError, ValueError) as exc:
        raise OperationRefused(f"Order {order.pk}: the answer was not this order ({exc}). "
                               f"The order is as it was ({before}).",
                               code="malformed_order") from exc
    return FollowResult(order=after, before=before, after=after.get_status_display(),
                        read=True)
