"""Email-infrastructure orders: domains with mailboxes, placed for a customer account.

Support places the order; the upstream (an EMAIL_ORDERS provider) provisions the
mailboxes and the customer pays the upstream at its checkout. The order is checked in
full by the upstream's own rules before anything is sent, placed once (such upstreams
take no idempotency key, so it is never repeated automatically), mirrored as one Order
with an item per mailbox, and then followed (billing.tasks.follow_email_order) until
provisioning ends.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.utils import timezone

from backoffice import audit
from billing.models import Account, Order, OrderKind
from billing.order_sync import apply_record, final_statuses, known_order, upsert_record
from registrar.jobs import enqueue_after_commit
from registrar.models import ProviderAccount
from registrar.operations import (
    InvalidInput,
    OperationRefused,
    Outcome,
    Outcomes,
    record_failure,
    require_permission,
)
from registrar.providers.base import (
    Capability,
    DomainOffer,
    EmailOrderPlaced,
    EmailPlan,
    OrderLine,
    Provider,
)
from registrar.providers.errors import (
    ConfigurationError,
    ProviderError,
    ServiceUnavailable,
)
from registrar.providers.registry import adapter_class, provider_for_account
from registrar.values.names import intake_name

logger = logging.getLogger(__name__)

PLACE_ORDER_PERMISSION = "billing.place_order"
EMAIL_ORDER_ACTION = "order.place_email_infrastructure"
EMAIL_ORDER_REFRESH_ACTION = "order.refresh_email_infrastructure"
#: Follows one email order until provisioning ends (billing.tasks.follow_email_order).
FOLLOW_TASK = "billing.follow_email_order"
#: Finds out what became of an order whose answer was lost (billing.tasks.settle_order).
SETTLE_TASK = "billing.settle_order"


def email_order_finished(order: Order) -> bool:
    """Nothing left to follow: provisioning ended one way or the other."""
    return order.status in final_statuses(adapter_class(order.provider_account.kind))


def _client(provider_account: ProviderAccount) -> Provider:
    """The configured client, or a refusal staff can act on (disabled, no secret)."""
    try:
        return provider_for_account(provider_account)
    except (ConfigurationError, ServiceUnavailable) as error:
        raise OperationRefused(error.message, code=error.code) from error


def _parameters(account: Account, provider_account: ProviderAccount,
                order: Mapping[str, Any], lines: Sequence[OrderLine] = ()) -> dict[str, Any]:
    """What the audit row keeps of an order: who for, where, and what (secrets and URL
    tokens are masked by backoffice.audit)."""
    domains: dict[str, list[str]] = {}
    for line in lines:
        domains.setdefault(line.domain, []).append(line.description)
    return {
        "account": account.customer_reference,
        "provider_account": provider_account.label,
        "email_service_provider": order["email_service_provider"],
        "plan_type": order["plan_type"],
        "is_free_order": bool(order.get("is_free_order")),
        "is_replacement": bool(order.get("is_replacement")),
        "owner": dict(order["owner"]),
        "domains": [{"name": str(domain.get("name") or ""),
                     "redirect_url": str(domain.get("redirect_url") or ""),
                     "mailboxes": domains.get(str(domain.get("name") or ""), [])}
                    for domain in order["domains"]],
    }


def _error(provider_account: ProviderAccount, error: ProviderError) -> ProviderError:
    """The error with a message that says what it means for *this* order. The order is
    never sent twice automatically: when the upstream may have placed it (no usable
    answer came back), the order is kept and looked up, not placed again."""
    upstream = provider_account.get_kind_display()
    if error.outcome_unknown:
        # Sent, with no usable answer: the order is kept here, open (see `_unknown`).
        message = (f"No usable answer came back from {upstream} "
                   f"({error.unknown_reason}) after the order was sent: it may have "
                   "been placed.")
    elif error.status is not None and error.status >= 500:
        message = (f"{upstream} failed to answer (HTTP {error.status}) and says nothing was "
                   "placed; try again later.")
    elif error.status is not None:
        # The upstream's own message is logged by the adapter, never shown (it cannot be
        # vetted for staff).
        message = (f"{upstream} refused the order (HTTP {error.status}): {error.message} "
                   "Nothing was placed.")
    else:
        message = f"{upstream} could not be reached: {error.message}"
    return type(error)(message, code=error.code or "email_order_error", status=error.status,
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
    is_free_order: bool = False,
    is_replacement: bool = False,
) -> Outcome:
    """Place an email-infrastructure order for `account`. `is_free_order` uses the
    upstream account's free-tier credits (no payment), `is_replacement` its replacement
    slots from a cancelled or expired order; both are sent as given.

    `owner` uses our contact names (first_name, last_name, organization, street_address,
    city, state, country, post_code, phone); `domains` is
    [{"name", "redirect_url"?, "mailboxes": [{"first_name", "last_name", "email"}]}].

    Raises PermissionDenied, InvalidInput (field_errors keyed as the upstream's rules key
    them; nothing sent) or OperationRefused (the provider account cannot be used). An
    upstream failure is an audited failed Outcome with no Order. On success: the Order
    and its items, one audit row, `data["order"]`, `data["checkout_url"]` ("" for a free
    order) and, after commit, the follow-up task.
    """
    require_permission(actor, PLACE_ORDER_PERMISSION)
    if not provider_account.enabled or not provider_account.supports(Capability.EMAIL_ORDERS):
        raise InvalidInput(
            "Choose an enabled account that sells email infrastructure.",
            field_errors={"provider_account": [
                f"“{provider_account.label}” does not sell email infrastructure."]})
    if not isinstance(is_free_order, bool) or not isinstance(is_replacement, bool):
        raise InvalidInput("The order was not sent.", field_errors={
            "is_free_order": ["Free order and replacement are yes or no."]})
    order_input: dict[str, Any] = {
        "owner": dict(owner), "email_service_provider": email_service_provider,
        "plan_type": plan_type, "domains": list(domains),
        "is_free_order": is_free_order, "is_replacement": is_replacement}
    try:
        adapter_class(provider_account.kind).clean_email_order(**order_input)
    except ValidationError as exc:
        raise InvalidInput("The order was not sent: correct the problems marked.",
                           field_errors=exc.message_dict) from exc
    provider = _client(provider_account)
    try:
        placed = provider.place_email_order(**order_input)
    except ProviderError as error:
        if error.outcome_unknown:
            return _unknown(account, provider_account, order_input, error, actor)
        return record_failure(actor=actor, action=EMAIL_ORDER_ACTION, target=account,
                              parameters=_parameters(account, provider_account, order_input),
                              error=_error(provider_account, error))
    return _record(account, provider_account, order_input, placed, actor)


def _unknown(account: Account, provider_account: ProviderAccount, order_input: dict[str, Any],
             error: ProviderError, actor) -> Outcome:
    """Sent, and no usable answer: the order may exist upstream. It is kept here, open
    and unsettled, with its mailboxes, so that it is neither lost nor placed again; the
    upstream's listing is read at once and then by billing.settle_order."""
    adapter = adapter_class(provider_account.kind)
    record = adapter.email_order_record(adapter.clean_email_order(**order_input))
    upstream = provider_account.get_kind_display()
    message = (f"{_error(provider_account, error).message} The order is kept here, open, "
               f"while the back-office reads {upstream}'s listing to find out.")
    with transaction.atomic():
        order = Order(provider_account=provider_account, account=account,
                      kind=OrderKind.EMAIL_INFRASTRUCTURE, currency=record.currency or "",
                      customer_reference=account.customer_reference)
        apply_record(order, record)
        Order.objects.filter(pk=order.pk).update(unsettled_since=timezone.now(),
                                                 status_reason=message)
        row = audit.record(
            actor=actor, action=EMAIL_ORDER_ACTION, target=order,
            parameters=_parameters(account, provider_account, order_input, record.lines or ()),
            outcome=Outcomes.UNKNOWN, upstream_status=error.status, upstream_code=error.code,
            upstream_request_id=error.request_id, message=message)
        enqueue_after_commit(SETTLE_TASK, order.pk, countdown=60.0)
    order.refresh_from_db()
    return Outcome(status=Outcomes.UNKNOWN, message=message, error=error, audit_row=row,
                   data={"order": order, "checkout_url": ""})


def _record(account: Account, provider_account: ProviderAccount, order_input: dict[str, Any],
            placed: EmailOrderPlaced, actor) -> Outcome:
    record = placed.record
    lines = record.lines or ()
    parameters = _parameters(account, provider_account, order_input, lines)
    upstream = provider_account.get_kind_display()
    names = ", ".join(str(domain.get("name")) for domain in order_input["domains"])
    reference = (f"order {record.upstream_id}" if record.upstream_id
                 else f"order ({upstream} gave no order id)")
    if placed.checkout_url:
        message = (f"Email infrastructure {reference} placed at {upstream} for "
                   f"{account.name}: {len(lines)} mailbox(es) on {names}. Payment needed: "
                   f"{upstream} returned a checkout link for the customer to pay; the "
                   "mailboxes are provisioned once it is paid.")
    elif placed.checkout_refused:
        message = (f"Email infrastructure {reference} placed at {upstream} for "
                   f"{account.name}: {len(lines)} mailbox(es) on {names}. Payment needed, "
                   f"but {upstream} sent no usable checkout link (not an https URL): find "
                   f"the order's checkout at {upstream}; the mailboxes are provisioned once "
                   "it is paid.")
    else:
        message = (f"Email infrastructure {reference} placed at {upstream} for "
                   f"{account.name}: {len(lines)} mailbox(es) on {names}. No payment needed; "
                   f"{upstream} is provisioning it and the status here follows.")
    try:
        with transaction.atomic():
            order = Order(provider_account=provider_account, account=account,
                          kind=OrderKind.EMAIL_INFRASTRUCTURE, currency=record.currency or "",
                          customer_reference=account.customer_reference)
            apply_record(order, record)
            row = audit.record(
                actor=actor, action=EMAIL_ORDER_ACTION, target=order,
                parameters={**parameters, "upstream_order_id": record.upstream_id or "",
                            # "url" in the key: backoffice.audit masks the link's token.
                            "checkout_url": placed.checkout_url},
                outcome=Outcomes.SUCCEEDED, upstream_request_id=placed.request_id,
                message=message,
            )
            enqueue_after_commit(FOLLOW_TASK, order.pk,
                                 countdown=settings.EMAIL_ORDER_FOLLOW_BASE_DELAY)
    except DatabaseError:
        # Placed upstream but not mirrored: the one case staff must hear about loudly.
        logger.exception("%s order %s for %s was placed but could not be recorded", upstream,
                         record.upstream_id or "(no id)", account.customer_reference)
        raise
    return Outcome(status=Outcomes.SUCCEEDED, message=message, audit_row=row,
                   data={"order": order, "checkout_url": placed.checkout_url,
                         "upstream_order_id": record.upstream_id or ""})


def email_order_refresh(*, order: Order, max_polls: int = 1, interval: float = 0.0,
                        sleep: Callable[[float], None] | None = None) -> Order:
    """One polling step for an email-infrastructure order: ask its upstream where
    provisioning stands (at most `max_polls` times, `interval` seconds apart) and bring
    the Order and its items up to date. Returns the order as now stored.

    A finished order is returned untouched without a request. Raises ProviderError
    (the caller decides whether to retry) and ValueError for an order that is not an
    email-infrastructure order of an upstream that sells them.
    """
    account = order.provider_account
    if (order.kind != OrderKind.EMAIL_INFRASTRUCTURE or account is None
            or not account.supports(Capability.EMAIL_ORDERS)):
        raise ValueError(f"Order {order.pk} is not an email-infrastructure order.")
    if email_order_finished(order):
        return order
    record = _client(account).refresh_email_order(known_order(order), max_polls=max_polls,
                                                  interval=interval, sleep=sleep)
    if record is None:
        return order  # nothing listed yet: still waiting (for payment, or to start)
    upsert_record(account, record, actor_label=f"poll:{account.label}",
                  action=EMAIL_ORDER_REFRESH_ACTION,
                  ended=final_statuses(adapter_class(account.kind)))
    return Order.objects.get(pk=order.pk)


# --- What the order form reads before anything is placed ---------------------------------
# Reads only (EMAIL_ORDER_TOOLS): nothing is reserved or charged, so nothing is audited;
# each needs the right to place the order it helps to fill in.

#: How many mailbox names one suggestion asks for, at most, per domain.
MAILBOX_SUGGESTIONS_MAX = 10


def _tools(provider_account: ProviderAccount, actor) -> Provider:
    require_permission(actor, PLACE_ORDER_PERMISSION)
    if not provider_account.enabled or not provider_account.supports(
            Capability.EMAIL_ORDER_TOOLS):
        raise InvalidInput("Nothing was asked.", field_errors={"provider_account": [
            f"“{provider_account.label}” offers no plans, domain search or mailbox names."]})
    return _client(provider_account)


def _read_failed(provider_account: ProviderAccount, what: str, error: ProviderError
                 ) -> OperationRefused:
    upstream = provider_account.get_kind_display()
    return OperationRefused(f"{upstream} could not {what}: {error.message} Nothing was "
                            "ordered.", code=error.code or "email_order_read_failed")


def email_order_plans(*, provider_account: ProviderAccount, actor) -> list[EmailPlan]:
    """The upstream's plans with their prices. OperationRefused when it cannot say."""
    provider = _tools(provider_account, actor)
    try:
        return provider.email_plans()
    except ProviderError as error:
        raise _read_failed(provider_account, "list its plans", error) from error


def email_domain_candidates(*, provider_account: ProviderAccount, query: object,
                            actor) -> list[DomainOffer]:
    """Domains the upstream offers for `query`, to pick for the order. InvalidInput
    (field "search") for an empty or unreadable query, nothing sent."""
    text = str(query or "").strip()
    try:
        if not text:
            raise ValidationError("Enter a name or a keyword to search for.")
        text = intake_name(text, min_labels=1)
    except ValidationError as refusal:
        raise InvalidInput("Nothing was searched.",
                           field_errors={"search": list(refusal.messages)}) from refusal
    provider = _tools(provider_account, actor)
    try:
        return provider.email_domain_candidates(text)
    except ValidationError as refusal:
        raise InvalidInput("Nothing was searched.",
                           field_errors={"search": list(refusal.messages)}) from refusal
    except ProviderError as error:
        raise _read_failed(provider_account, "search domains", error) from error


def email_mailbox_names(*, provider_account: ProviderAccount, first_name: str,
                        last_name: str, domain: str, count: int, actor) -> list[str]:
    """Mailbox addresses the upstream suggests for the owner on `domain`. InvalidInput
    keyed by field (first_name, last_name, domains, mailbox_count), nothing sent."""
    if isinstance(count, bool) or not isinstance(count, int) or not (
            1 <= count <= MAILBOX_SUGGESTIONS_MAX):
        raise InvalidInput("Nothing was asked.", field_errors={"mailbox_count": [
            f"Ask for 1 to {MAILBOX_SUGGESTIONS_MAX} names per domain."]})
    provider = _tools(provider_account, actor)
    try:
        return provider.suggest_mailbox_names(first_name=first_name, last_name=last_name,
                                              domain=domain, count=count)
    except ValidationError as refusal:
        errors = {("domains" if name == "domain" else name): messages
                  for name, messages in refusal.message_dict.items()}
        raise InvalidInput("Nothing was asked.", field_errors=errors) from refusal
    except ProviderError as error:
        raise _read_failed(provider_account, "suggest mailbox names", error) from error
