"""Order-side services: upstream events applied to orders, with the money they moved."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q

from backoffice import audit
from backoffice.models import StaffAction
from billing.models import Account, LedgerEntry, Order, OrderKind, OrderStatus, WebhookEvent
from registrar.models import ProviderAccount


class WebhookPayloadError(ValueError):
    """The event is malformed: answered 400, nothing stored."""


def _ledger_once(order: Order, kind: str, amount: int, reference: str, note: str = "") -> bool:
    """Record money that moved, once (a redelivery adds nothing). Added or not.

    References are "<upstream or local id>:charge" / ":refund", and an order has at most
    one of each: an order placed here before its upstream id was known (a purchase that
    answered without its record) is recorded under the local key, and the webhook or
    sync that later brings the upstream id must not record the same money again."""
    suffix = reference.rsplit(":", 1)[-1]
    recorded = order.ledger_entries.filter(kind=kind).filter(
        Q(external_reference=reference) | Q(external_reference__endswith=f":{suffix}"))
    if not amount or recorded.exists():
        return False
    LedgerEntry.objects.create(order=order, kind=kind, state=LedgerEntry.State.SUCCEEDED,
                               amount_minor=amount, currency=order.currency,
                               external_reference=reference, note=note)
    return True


def adopt_placed_order(account: ProviderAccount, upstream_id: str, domain: str
                       ) -> Order | None:
    """The order placed from here that an upstream record with an unknown id is about:
    same provider account and domain, no upstream id yet, and placed by staff (it carries
    our idempotency key). It takes the upstream id, so the record updates it instead of
    mirroring a second order for the same purchase."""
    if not domain:
        return None
    order = (Order.objects.select_for_update()
             .filter(provider_account=account, upstream_id__isnull=True,
                     domain__iexact=domain, idempotency_key__isnull=False)
             .exclude(status=OrderStatus.QUOTED).order_by("-placed_at", "-pk").first())
    if order is not None:
        order.upstream_id = upstream_id
        order.save(update_fields=["upstream_id", "updated_at"])
    return order


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
    if not Order.objects.filter(provider_account=account, upstream_id=upstream_id).exists():
        adopted = adopt_placed_order(account, upstream_id, fields.get("domain") or "")
        if adopted is not None and adopted.account_id:
            fields["account"] = adopted.account
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


# --- Email-infrastructure orders (Saleshandy, document 003) ------------------------------
#
# Support places an order for a customer account: domains with mailboxes, provisioned by
# the chosen ESP and paid by the customer at Saleshandy's checkout. The order is checked
# in full before anything is sent, placed once (Saleshandy takes no idempotency key, so
# it is never repeated), mirrored as one Order with an OrderItem per mailbox, and then
# followed by billing.tasks.follow_email_order until provisioning ends.
#
# Imported here rather than at the top so the earlier part of this module stays as it
# was; the adapter itself is imported on first use (as the registry does).

import logging  # noqa: E402
from collections.abc import Sequence  # noqa: E402

from django.core.exceptions import ValidationError  # noqa: E402
from django.db import DatabaseError  # noqa: E402

from billing.models import OrderItem  # noqa: E402
from registrar.models import ProviderKind  # noqa: E402
from registrar.operations import (  # noqa: E402
    InvalidInput,
    OperationRefused,
    Outcome,
    Outcomes,
    record_failure,
    require_permission,
)
from registrar.providers.base import (  # noqa: E402
    ConfigurationError,
    MalformedResponse,
    ProviderError,
    ServiceUnavailable,
)
from registrar.providers.registry import provider_for_account  # noqa: E402

logger = logging.getLogger(__name__)

PLACE_ORDER_PERMISSION = "billing.place_order"
EMAIL_ORDER_ACTION = "order.place_email_infrastructure"
EMAIL_ORDER_REFRESH_ACTION = "order.refresh_email_infrastructure"
# Document 003's answer carries no price and names no currency; Saleshandy sells in US
# dollars, and the customer pays Saleshandy directly at its checkout (no money moves
# through our ledger). The order is therefore recorded in USD with zero amounts rather
# than a guessed price.
EMAIL_ORDER_CURRENCY = "USD"
# Statuses after which there is nothing left to follow.
EMAIL_ORDER_FINISHED = frozenset({OrderStatus.REGISTERED, OrderStatus.FAILED,
                                  OrderStatus.CANCELLED, OrderStatus.REFUNDED})


def _saleshandy_client(provider_account: ProviderAccount):
    """The configured client, or a refusal staff can act on (disabled, no secret)."""
    try:
        return provider_for_account(provider_account)
    except (ConfigurationError, ServiceUnavailable) as error:
        raise OperationRefused(error.message, code=error.code) from error


def _email_order_parameters(account: Account, provider_account: ProviderAccount,
                            body: Mapping[str, Any]) -> dict[str, Any]:
    """What the audit row keeps of an order: who for, where, and the body as sent
    (secrets and URL tokens are masked by backoffice.audit)."""
    return {
        "account": account.customer_reference,
        "provider_account": provider_account.label,
        "email_service_provider": body["emailServiceProvider"],
        "plan_type": body["planType"],
        "owner": {key: value for key, value in body.items()
                  if key not in {"emailServiceProvider", "planType", "domains",
                                 "isReplacement", "isFreeOrder"}},
        "domains": [{"name": domain["name"], "redirect_url": domain.get("redirectUrl", ""),
                     "mailboxes": [mailbox["email"] for mailbox in domain["mailboxes"]]}
                    for domain in body["domains"]],
    }


def _email_order_error(error: ProviderError) -> ProviderError:
    """The error with a message that says what it means for *this* order. The POST is
    never repeated, so when Saleshandy may have placed it (a timeout, an unreadable 2xx)
    staff must check before placing it again."""
    uncertain = error.code == "timeout" or (
        isinstance(error, MalformedResponse) and error.status is not None
        and 200 <= error.status < 300)
    if uncertain:
        message = ("Saleshandy did not confirm the order, but it may have been placed. "
                   "Nothing was recorded here: check the account's domains at Saleshandy "
                   "before placing the order again.")
    elif error.status is not None and error.status >= 500:
        message = (f"Saleshandy failed to answer (HTTP {error.status}). The order was not "
                   "recorded here; try again later. Saleshandy takes no idempotency key, so "
                   "if this repeats, check its domain list before placing the order again.")
    elif error.status is not None:
        # Saleshandy's own message is logged by the adapter, never shown (document 003
        # gives no error format, so it cannot be vetted for staff).
        message = (f"Saleshandy refused the order (HTTP {error.status}): {error.message} "
                   "Nothing was placed.")
    else:
        message = f"Saleshandy could not be reached: {error.message}"
    return type(error)(message, code=error.code or "saleshandy_error", status=error.status,
                       retryable=error.retryable, request_id=error.request_id,
                       violations=error.violations, details=error.details)


def email_order_place(
    *,
    account: Account,
    provider_account: ProviderAccount,
    owner: Mapping[str, Any],
    email_service_provider: str,
    plan_type: str,
    domains: Sequence[Mapping[str, Any]],
    actor,
) -> Outcome:
    """Place an email-infrastructure order at Saleshandy for `account`.

    `owner` uses our contact names (first_name, last_name, organization, street_address,
    city, state, country, post_code, phone); `domains` is the adapter's structure:
    [{"name", "redirect_url"?, "mailboxes": [{"first_name", "last_name", "email"}]}].

    Raises PermissionDenied, InvalidInput (field_errors keyed as clean_order keys them;
    nothing sent) or OperationRefused (the provider account cannot be used). An upstream
    failure is an audited failed Outcome with no Order. On success: the Order and its
    items, one audit row, `data["order"]`, `data["checkout_url"]` ("" for a free order)
    and, after commit, the follow-up task.
    """
    from registrar.providers.saleshandy import clean_order, order_to_order_fields

    require_permission(actor, PLACE_ORDER_PERMISSION)
    if provider_account.kind != ProviderKind.SALESHANDY or not provider_account.enabled:
        raise InvalidInput(
            "Choose an enabled Saleshandy provider account.",
            field_errors={"provider_account": [
                f"“{provider_account.label}” is not an enabled Saleshandy account."]})
    order_input: dict[str, Any] = {
        "owner": dict(owner), "email_service_provider": email_service_provider,
        "plan_type": plan_type, "domains": list(domains)}
    try:
        body = clean_order(**order_input)
    except ValidationError as exc:
        raise InvalidInput("The order was not sent: correct the problems marked.",
                           field_errors=exc.message_dict) from exc
    provider = _saleshandy_client(provider_account)
    parameters = _email_order_parameters(account, provider_account, body)

    try:
        placed = provider.create_order(**order_input)
    except ProviderError as error:
        return record_failure(actor=actor, action=EMAIL_ORDER_ACTION, target=account,
                              parameters=parameters, error=_email_order_error(error))

    fields, items = order_to_order_fields(body, placed)
    mailboxes = len(items)
    names = ", ".join(domain["name"] for domain in body["domains"])
    reference = (f"order {placed.order_id}" if placed.order_id
                 else "order (Saleshandy gave no order id)")
    if placed.needs_payment:
        message = (f"Email infrastructure {reference} placed at Saleshandy for "
                   f"{account.name}: {mailboxes} mailbox(es) on {names}. Payment needed: "
                   "Saleshandy returned a checkoutUrl for the customer to pay; the mailboxes "
                   "are provisioned once it is paid.")
    else:
        message = (f"Email infrastructure {reference} placed at Saleshandy for "
                   f"{account.name}: {mailboxes} mailbox(es) on {names}. No payment needed; "
                   "Saleshandy is provisioning it and the status here follows.")
    try:
        with transaction.atomic():
            order = Order.objects.create(
                **fields,
                provider_account=provider_account,
                account=account,
                customer_reference=account.customer_reference,
                currency=EMAIL_ORDER_CURRENCY,  # zero amounts: see EMAIL_ORDER_CURRENCY
            )
            OrderItem.objects.bulk_create([OrderItem(order=order, **item) for item in items])
            row = audit.record(
                actor=actor, action=EMAIL_ORDER_ACTION, target=order,
                parameters={**parameters, "upstream_order_id": placed.order_id,
                            "is_free_order": placed.is_free_order,
                            # "url" in the key: backoffice.audit masks the link's token.
                            "checkout_url": placed.checkout_url},
                outcome=Outcomes.SUCCEEDED, upstream_request_id=placed.request_id,
                message=message,
            )
            order_id = order.pk

            def follow() -> None:
                from billing.tasks import schedule_follow

                schedule_follow(order_id)

            transaction.on_commit(follow)
    except DatabaseError:
        # Placed upstream but not mirrored: the one case staff must hear about loudly.
        logger.exception("Saleshandy order %s for %s was placed but could not be recorded",
                         placed.order_id or "(no id)", account.customer_reference)
        raise
    return Outcome(status=Outcomes.SUCCEEDED, message=message, audit_row=row,
                   data={"order": order, "checkout_url": placed.checkout_url,
                         "upstream_order_id": placed.order_id})


def _email_order_body(items: Sequence[OrderItem]) -> dict[str, Any]:
    """The part of the order body `order_to_order_fields` reads, rebuilt from the items
    (the owner's details are not kept on the order and are not needed to follow it)."""
    if not items:
        raise ValueError("The order has no items to follow.")
    domains: dict[str, dict[str, Any]] = {}
    for item in items:
        details = item.details
        domain = domains.setdefault(item.domain, {"name": item.domain, "mailboxes": []})
        if details.get("redirect_url"):
            domain["redirectUrl"] = details["redirect_url"]
        domain["mailboxes"].append({
            "email": details["email"], "firstname": details["first_name"],
            "lastname": details["last_name"], "profilePicId": details.get("profile_pic_id", 0),
        })
    first = items[0].details
    return {"emailServiceProvider": first["email_service_provider"],
            "planType": first["plan_type"], "domains": list(domains.values())}


def email_order_refresh(*, order: Order, max_polls: int = 1, interval: float = 0.0,
                        sleep: Callable[[float], None] | None = None) -> Order:
    """One polling step for an email-infrastructure order: list its domains at
    Saleshandy (at most `max_polls` times, `interval` seconds apart) and bring the Order
    and its items up to date. Returns the order as now stored.

    A finished order is returned untouched without a request. Raises ProviderError
    (the caller decides whether to retry) and ValueError for an order that is not a
    Saleshandy email-infrastructure order.
    """
    from registrar.providers.saleshandy import OrderPlaced, order_to_order_fields

    account = order.provider_account
    if (order.kind != OrderKind.EMAIL_INFRASTRUCTURE or account is None
            or account.kind != ProviderKind.SALESHANDY):
        raise ValueError(f"Order {order.pk} is not a Saleshandy email-infrastructure order.")
    if order.status in EMAIL_ORDER_FINISHED:
        return order
    items = list(order.items.order_by("id"))
    body = _email_order_body(items)
    provider = provider_for_account(account)
    state = provider.poll_order(order.upstream_id or "",
                                domains=[domain["name"] for domain in body["domains"]],
                                max_polls=max_polls, interval=interval, sleep=sleep)
    if state.in_progress and not state.domains and order.status == OrderStatus.PAYMENT_INITIATED:
        # Document 003 does not say when an unpaid order's domains appear in the listing;
        # assumed: once paid. Until then nothing is listed and the order stays waiting for
        # payment rather than being shown as provisioning.
        return order
    placed = OrderPlaced(order_id=order.upstream_id or "", checkout_url="",
                         is_free_order=False, is_replacement=False)
    try:
        fields, fresh_items = order_to_order_fields(body, placed, state)
    except ValueError as exc:
        raise MalformedResponse(
            f"Saleshandy reports a domain status this back-office does not know "
            f"({state.status}); look at the order at Saleshandy.",
            code="unknown_domain_status", retryable=False) from exc
    fresh_by_email = {item["details"]["email"]: item for item in fresh_items}
    listed = {domain.name: domain.status for domain in state.domains}

    with transaction.atomic():
        row = Order.objects.select_for_update().get(pk=order.pk)
        if row.status in EMAIL_ORDER_FINISHED:  # finished meanwhile (another poll)
            return row
        for item in items:
            fresh = fresh_by_email.get(item.details.get("email"))
            if fresh is not None and fresh["details"] != item.details:
                item.details = fresh["details"]
                item.save(update_fields=["details"])
        old_status, new_status = row.status, fields["status"]
        if new_status != old_status:
            row.status = new_status
            if new_status in {OrderStatus.FAILED, OrderStatus.CANCELLED}:
                # Saleshandy gives no reason; keep which domain ended how.
                row.status_reason = "Saleshandy domain status: " + ", ".join(
                    f"{name} {status}" for name, status in sorted(listed.items()))
            row.save(update_fields=["status", "status_reason", "updated_at"])
            audit.record(
                actor=None, actor_label=f"poll:{account.label}",
                action=EMAIL_ORDER_REFRESH_ACTION, target=row,
                parameters={"upstream_order_id": row.upstream_id or "",
                            "status": [old_status, new_status], "domains": listed,
                            "polls": state.polls},
                outcome=Outcomes.SUCCEEDED,
                message=f"Saleshandy {row.upstream_id or 'order'}: "
                        f"{OrderStatus(old_status).label} → {row.get_status_display()}.",
            )
    return row
