"""Checking one placed order's status at its upstream, on staff's request.

For upstreams that offer it (Capability.ORDER_STATUS: Entri's Check Order Status, which
"checks and updates" the order there) staff ask where an order stands now, from the
order's page or `manage.py order_status`. What the upstream answers is applied like any
record of the order (billing.order_sync), so the order state machine decides: a status
that would move the order backwards is reported and not applied. One audit row per
check, saying old -> new as it is now stored.

The check is a read: when it fails, nothing was changed here, and staff are told so.
"""

from __future__ import annotations

from dataclasses import replace

from django.db import transaction

from backoffice import audit
from backoffice.models import StaffAction
from billing.models import Order, OrderStatus
from billing.order_sync import RECORD_ERRORS, final_statuses, upsert_record
from registrar.models import ProviderAccount
from registrar.operations import (
    OperationRefused,
    OperationUnsupported,
    Outcome,
    require_permission,
)
from registrar.providers.base import (
    DELIVERED_STATES,
    Capability,
    OrderRecord,
    Provider,
    RegistrationRef,
)
from registrar.providers.errors import ConfigurationError, ProviderError, ServiceUnavailable
from registrar.providers.registry import provider_for_account

Outcomes = StaffAction.Outcome

#: Those who place orders follow them (the staff side of billing.follow_domain_order).
CHECK_STATUS_PERMISSION = "billing.place_order"
CHECK_ACTION = "order.check_status"


def status_check_reason(order: Order) -> str | None:
    """Why this order's status cannot be checked at its upstream, or None if it can."""
    account: ProviderAccount | None = order.provider_account
    if account is None:
        return "This order has no upstream account."
    if not account.enabled:
        return f"The provider account “{account.label}” is disabled."
    if not account.supports(Capability.ORDER_STATUS):
        return f"{account.get_kind_display()} offers no order status check."
    if order.status == OrderStatus.QUOTED:
        return "This order is a quote: it was never placed, so there is nothing to check."
    if not order.upstream_id:
        return ("The upstream has not given this order an id yet (a transfer, or a "
                "placement whose answer is still being settled): there is nothing to ask it "
                "about.")
    return None


def _status_label(status: str) -> str:
    return OrderStatus(status).label if status in OrderStatus.values else status


def _with_delivery(provider: Provider, order: Order, record: OrderRecord) -> OrderRecord:
    """A status saying the order was delivered names no registration: read the domain,
    so the registration is mirrored with the order (Support can operate it at once)."""
    if (record.state not in DELIVERED_STATES or record.delivered or not order.domain
            or order.registration_id is not None
            or not provider.supports(Capability.REGISTRATION_READ)):
        return record
    try:
        view = provider.get_registration(RegistrationRef(name=order.domain))
    except ProviderError:
        return record  # the registration sync brings it later; the status stands
    return replace(record, delivered=(view.registration,))


def order_check_status(*, order: Order, actor) -> Outcome:
    """Ask the order's upstream where it stands and apply the answer. Raises
    PermissionDenied, OperationUnsupported (nothing sent) or OperationRefused (the
    account cannot be used); every answer, and every failure upstream, is an Outcome
    with its audit row."""
    require_permission(actor, CHECK_STATUS_PERMISSION)
    reason = status_check_reason(order)
    if reason:
        raise OperationUnsupported(reason)
    account = order.provider_account
    upstream = account.get_kind_display()
    try:
        provider = provider_for_account(account)
    except (ConfigurationError, ServiceUnavailable) as error:
        raise OperationRefused(error.message, code=error.code) from error
    parameters = {"provider_account": account.label, "upstream_id": order.upstream_id}
    try:
        record = provider.check_order_status(order.upstream_id)
        if record.upstream_id != order.upstream_id:
            raise ValueError(f"the answer is about order {record.upstream_id}")
        record = _with_delivery(provider, order, record)
    except ProviderError as error:
        code = f" ({error.code})" if error.code else ""
        message = (f"{upstream} could not say where order {order.pk} stands: "
                   f"{error.message.rstrip('.')}{code}. Nothing was changed here.")
        return _failed(order, actor, parameters, message, error=error)
    except RECORD_ERRORS as exc:
        message = (f"{upstream}'s answer about order {order.pk} could not be read ({exc}). "
                   "Nothing was changed here.")
        return _failed(order, actor, parameters, message)
    with transaction.atomic():
        row = Order.objects.select_for_update().get(pk=order.pk)
        old = row.status
        try:
            result = upsert_record(account, replace(record, local_id=row.pk),
                                   actor_label=f"check:{account.label}", audited=False,
                                   ended=final_statuses(provider))
        except RECORD_ERRORS as exc:
            message = (f"{upstream}'s answer about order {row.pk} could not be applied "
                       f"({exc}). Nothing was changed here.")
            return _failed(row, actor, parameters, message)
        row.refresh_from_db()
        said = _status_label(str(getattr(record.state, "value", record.state)))
        if result.stale is not None:
            message = (f"Checked at {upstream}: it reports order {row.pk} as "
                       f"{_status_label(result.stale.new)}, but here it is already "
                       f"{row.get_status_display()}, which comes later. Not applied: the "
                       f"order stays {row.get_status_display()}.")
            outcome = Outcomes.SUCCEEDED
        elif row.status != old:
            message = (f"Checked at {upstream}: order {row.pk} "
                       f"{_status_label(old)} → {row.get_status_display()}.")
            if row.registration_id and "registration" in result.changes:
                message += f" {row.registration} is now in the mirror."
            outcome = Outcomes.SUCCEEDED
        else:
            message = (f"Checked at {upstream}: order {row.pk} is still "
                       f"{row.get_status_display()} ({upstream} says {said}). Nothing "
                       "changed.")
            outcome = Outcomes.SUCCEEDED
        audit_row = audit.record(
            actor=actor, action=CHECK_ACTION, target=row,
            parameters={**parameters, "status": [old, row.status],
                        "upstream_status": str(getattr(record.state, "value", record.state)),
                        "applied": result.stale is None},
            outcome=outcome, message=message)
    return Outcome(status=outcome, message=message, audit_row=audit_row,
                   data={"order": row, "old": old, "new": row.status,
                         "stale": result.stale is not None})


def _failed(order: Order, actor, parameters: dict, message: str, *,
            error: ProviderError | None = None) -> Outcome:
    row = audit.record(actor=actor, action=CHECK_ACTION, target=order, parameters=parameters,
                       outcome=Outcomes.FAILED,
                       upstream_status=error.status if error else None,
                       upstream_code=error.code if error else "",
                       upstream_request_id=error.request_id if error else "",
                       message=message)
    return Outcome(status=Outcomes.FAILED, message=message, error=error, audit_row=row,
                   data={"order": order, "old": order.status, "new": order.status})
