"""Domain orders placed by support for a customer: quote, confirm, place.

Two steps, so that nobody is charged a price they were not shown:

1. `order_quote` checks availability and prices the purchase (name.com by document
   004's rules; the Domain API from its Check Availability answer; Domainee from the
   ceiling staff give, since it has no price endpoint). It stores a local Order in
   status QUOTED: nothing is sent that costs money, nothing is charged.
2. `order_confirm` re-checks right before placing and refuses if the price moved,
   then places the order with an idempotency key derived from the local order id and,
   where the upstream takes one, a price ceiling equal to the quoted total.

The local order id is the idempotency anchor: a replayed confirm finds the order no
longer QUOTED and sends nothing; an HTTP retry of the same placement carries the same
key, so the upstream answers with the first order instead of charging twice.

Money states stay consistent through every failure:
- refused before the charge (price moved, unavailable, rejected): CANCELLED or FAILED,
  no ledger entry;
- charged and the registration failed: REFUNDED with the refund in the ledger (Domainee
  refunds itself; a Domain API order that fails is followed until the upstream reports
  the refund, and the finance report flags it until then);
- no answer at all: left PAYMENT_INITIATED with the reason, for a person to check.

A transfer's authorization code is taken on the confirmation page, sent once, and never
stored or audited.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from backoffice import audit
from backoffice.models import StaffAction
from billing.models import (
    Account,
    LedgerEntry,
    Order,
    OrderKind,
    OrderStatus,
    PurchaseType,
)
from billing.money import format_minor
from billing.services import _ledger_once
from registrar import pricing
from registrar.domain_names import to_ascii
from registrar.models import ProviderAccount, ProviderKind, Tld
from registrar.operations import InvalidInput, OperationRefused, Outcome, require_permission
from registrar.providers.base import (
    ConfigurationError,
    Money,
    ProviderError,
    ServiceUnavailable,
    TransportError,
)
from registrar.providers.registry import provider_for_account

logger = logging.getLogger(__name__)
Outcomes = StaffAction.Outcome

PLACE_ORDER_PERMISSION = "billing.place_order"
QUOTE_ACTION = "order.quote_domain"
PLACE_ACTION = "order.place_domain"


class Action:
    REGISTER = "register"
    TRANSFER = "transfer"
    RENEW = "renew"

    CHOICES = (
        (REGISTER, "Register"),
        (TRANSFER, "Transfer in"),
        (RENEW, "Renew"),
    )
    KIND = {REGISTER: OrderKind.REGISTRATION, TRANSFER: OrderKind.TRANSFER_IN,
            RENEW: OrderKind.RENEWAL}


#: The provider kinds staff can place domain orders with, and what each can do.
DOMAIN_API_KINDS = frozenset({ProviderKind.DOMAIN_API, ProviderKind.SANDBOX})
ORDERING_ACTIONS: dict[str, frozenset[str]] = {
    ProviderKind.DOMAIN_API: frozenset({Action.REGISTER, Action.TRANSFER, Action.RENEW}),
    ProviderKind.SANDBOX: frozenset({Action.REGISTER, Action.TRANSFER, Action.RENEW}),
    ProviderKind.NAMECOM: frozenset({Action.REGISTER, Action.TRANSFER, Action.RENEW}),
    # Document 002 only buys new registrations.
    ProviderKind.DOMAINEE: frozenset({Action.REGISTER}),
}
#: Where the owner of a new registration must be given (name.com uses the reseller
#: account's default contacts when none are sent).
NEEDS_OWNER = {
    ProviderKind.DOMAIN_API: frozenset({Action.REGISTER, Action.TRANSFER}),
    ProviderKind.SANDBOX: frozenset({Action.REGISTER, Action.TRANSFER}),
    ProviderKind.DOMAINEE: frozenset({Action.REGISTER}),
    ProviderKind.NAMECOM: frozenset(),
}


def quote_ttl() -> timedelta:
    return timedelta(minutes=settings.ORDER_QUOTE_TTL_MINUTES)


def ordering_accounts():
    return ProviderAccount.objects.filter(enabled=True, kind__in=list(ORDERING_ACTIONS)
                                          ).order_by("label")


def idempotency_key(order: Order, provider=None) -> str:
    """Derived from the local order id only, so every retry of this order sends it."""
    if provider is not None and hasattr(provider, "order_idempotency_key"):
        return provider.order_idempotency_key(order.pk)
    return f"backoffice-order-{order.pk}"


@dataclass(frozen=True)
class OrderRequest:
    account: Account
    provider_account: ProviderAccount
    action: str
    domain: str
    years: int = 1
    owner: Any = None  # contacts.Contact
    allow_acquisition: bool = False
    ceiling: Money | None = None  # Domainee: the most staff agree to pay


# --- Quote ------------------------------------------------------------------------------


def order_quote(request: OrderRequest, *, actor) -> Outcome:
    """Check availability and price the order; on success a QUOTED Order in
    `data["order"]`. Raises PermissionDenied, InvalidInput (nothing sent) or
    OperationRefused; an upstream refusal is a failed Outcome (no order kept)."""
    require_permission(actor, PLACE_ORDER_PERMISSION)
    domain, kind = _check_request(request)
    provider = _client(request.provider_account)
    try:
        quote = _price(provider, kind, request, domain)
    except pricing.PricingError as refusal:
        raise OperationRefused(refusal.message, code=refusal.rule or refusal.code,
                               field_errors={"domain": [refusal.message]}) from refusal
    except ProviderError as error:
        return Outcome(status=Outcomes.FAILED, message=_upstream_message(error, quoting=True),
                       error=error)
    now = timezone.now()
    order = Order.objects.create(
        kind=Action.KIND[request.action],
        status=OrderStatus.QUOTED,
        provider_account=request.provider_account,
        account=request.account,
        tld=Tld.objects.filter(name=domain.rsplit(".", 1)[-1]).first(),
        domain=domain,
        years=request.years,
        purchase_type=quote["purchase_type"],
        premium=quote["premium"],
        currency=quote["currency"],
        quoted_total_minor=quote["total_minor"],
        quote={**quote, "owner_contact_id": getattr(request.owner, "pk", None)},
        quote_expires_at=now + quote_ttl(),
        placed_by=actor,
        placed_at=now,
        customer_reference=request.account.customer_reference,
    )
    return Outcome(status=Outcomes.SUCCEEDED, message=describe_quote(order),
                   data={"order": order})


def _check_request(request: OrderRequest) -> tuple[str, str]:
    errors: dict[str, list[str]] = {}
    kind = request.provider_account.kind
    if not request.provider_account.enabled or kind not in ORDERING_ACTIONS:
        errors["provider_account"] = [
            f"“{request.provider_account.label}” cannot take domain orders."]
    elif request.action not in ORDERING_ACTIONS[kind]:
        errors["action"] = [f"{request.provider_account.get_kind_display()} cannot "
                            f"{dict(Action.CHOICES).get(request.action, request.action).lower()}"
                            " domains."]
    domain = ""
    try:
        domain = to_ascii(request.domain)
    except ValidationError as exc:
        errors["domain"] = exc.messages
    if (isinstance(request.years, bool) or not isinstance(request.years, int)
            or not pricing.MIN_YEARS <= request.years <= pricing.MAX_YEARS):
        errors["years"] = [f"Choose a term from {pricing.MIN_YEARS} to {pricing.MAX_YEARS} "
                           "years."]
    if kind in NEEDS_OWNER and request.action in NEEDS_OWNER[kind] and request.owner is None:
        errors["owner"] = ["Choose the registrant contact for the new registration."]
    if kind in DOMAIN_API_KINDS and request.owner is not None and not request.owner.upstream_id:
        errors["owner"] = ["This contact is not at the registrar yet: sync it or pick "
                           "another."]
    if kind == ProviderKind.DOMAINEE and (request.ceiling is None
                                          or request.ceiling.amount_minor <= 0):
        errors["ceiling"] = ["Domainee quotes no price: give the most the customer "
                                 "agreed to pay."]
    if errors:
        raise InvalidInput("Nothing was quoted: correct the problems marked.",
                           field_errors=errors)
    return domain, kind


def _client(provider_account: ProviderAccount):
    try:
        return provider_for_account(provider_account)
    except (ConfigurationError, ServiceUnavailable) as error:
        raise OperationRefused(error.message, code=error.code) from error


def _price(provider, kind: str, request: OrderRequest, domain: str) -> dict[str, Any]:
    """The quote as stored on the order (JSON): what staff are shown and what the
    confirm re-checks against. Amounts in minor units."""
    if kind == ProviderKind.NAMECOM:
        return _namecom_quote(provider, request, domain)
    if kind == ProviderKind.DOMAINEE:
        ceiling = request.ceiling
        return {"provider": kind, "operation": request.action,
                "purchase_type": PurchaseType.REGISTRATION, "premium": False,
                "currency": ceiling.currency, "total_minor": ceiling.amount_minor,
                "ceiling_minor": ceiling.amount_minor, "price_is_ceiling": True,
                "notes": ["Domainee has no price endpoint: it charges its live price, and "
                          "refuses without charging if that is above this ceiling."]}
    return _domain_api_quote(provider, request, domain)


def _domain_api_quote(provider, request: OrderRequest, domain: str) -> dict[str, Any]:
    answer = provider.check_availability(domain)
    base = {"provider": request.provider_account.kind, "operation": request.action,
            "purchase_type": PurchaseType.REGISTRATION, "premium": bool(answer.get("premium"))}
    years = request.years
    if request.action == Action.REGISTER:
        price = answer.get("create_price")
        if not answer.get("available") or price is None:
            reason = answer.get("reason") or "the registry says it is taken"
            raise pricing.PricingError(f"{domain} is not available to register ({reason}).",
                                       rule="not_available")
        unit, note = price, "Registration price from Check Availability, per year."
    elif request.action == Action.TRANSFER:
        price = answer.get("transfer_price")
        if answer.get("owned_by_account"):
            raise pricing.PricingError(f"{domain} is already in this account.",
                                       rule="already_owned")
        if answer.get("available") or price is None:
            raise pricing.PricingError(
                f"{domain} is not registered elsewhere, so it cannot be transferred in.",
                rule="not_transferable")
        unit, note = price, "Transfer price from Check Availability, per year."
    else:
        if not answer.get("owned_by_account"):
            raise pricing.PricingError(f"{domain} is not in this registrar account.",
                                       rule="not_owned")
        # Doc silent: Check Availability gives no renewal price, so none can be quoted
        # or sent as a ceiling; the confirmation page says so. The order still needs a
        # currency: that of the TLD's other prices (the placed order's total replaces it).
        currency = next((price.currency for price in (answer.get("create_price"),
                                                      answer.get("transfer_price"))
                         if price is not None), "USD")
        return {**base, "currency": currency, "total_minor": None, "ceiling_minor": None,
                "notes": ["The Domain API quotes no renewal price: the registrar's renewal "
                          "price for the term applies."]}
    total = unit.amount_minor * years
    return {**base, "currency": unit.currency, "unit_minor": unit.amount_minor,
            "total_minor": total, "ceiling_minor": total,
            "notes": [note, "Sent as max_total: the order is refused rather than charged "
                            "more."]}


def _namecom_quote(provider, request: OrderRequest, domain: str) -> dict[str, Any]:
    years = request.years
    if request.action == Action.REGISTER:
        discovery = provider.check_domain(domain, registration_only=not request.allow_acquisition)
        registry = None
        if discovery.purchasable and discovery.premium and (
                discovery.purchase_type in (None, pricing.PurchaseType.REGISTRATION)):
            # Registry premium: Get Pricing for the same years gives the exact price.
            registry = provider.get_pricing(domain, years)
        quote = pricing.quote_create(discovery, years, registry,
                                     allow_acquisition=request.allow_acquisition)
    elif request.action == Action.RENEW:
        quote = pricing.quote_renew(domain, years, provider.get_pricing(domain, years))
    else:
        quote = pricing.quote_transfer(domain, provider.get_pricing(domain, 1))
    return quote_to_json(quote, kind=request.provider_account.kind)


def quote_to_json(quote: pricing.Quote, *, kind: str) -> dict[str, Any]:
    def minor(money: Money | None) -> int | None:
        return None if money is None else money.amount_minor

    return {
        "provider": kind,
        "operation": {"create": Action.REGISTER, "renew": Action.RENEW,
                      "transfer": Action.TRANSFER}[quote.operation.value],
        "purchase_type": quote.purchase_type.value,
        "premium": quote.premium,
        "currency": pricing.CURRENCY,
        "total_minor": minor(quote.total),
        "purchase_price_minor": minor(quote.purchase_price),
        "discovery_price_minor": minor(quote.discovery_price),
        "years_sent": quote.years,
        "notes": list(quote.notes),
    }


def quote_from_json(order: Order) -> pricing.Quote:
    data = order.quote

    def money(value: int | None) -> Money | None:
        return None if value is None else Money(int(value), pricing.CURRENCY)

    operation = {Action.REGISTER: "create", Action.RENEW: "renew",
                 Action.TRANSFER: "transfer"}[data["operation"]]
    return pricing.Quote(
        operation=pricing.Operation(operation), domain=order.domain,
        purchase_type=pricing.PurchaseType(data["purchase_type"]), premium=data["premium"],
        purchase_price=money(data.get("purchase_price_minor")), years=data.get("years_sent"),
        total=money(data.get("total_minor")),
        discovery_price=money(data.get("discovery_price_minor")),
        notes=tuple(data.get("notes") or ()))


def describe_quote(order: Order) -> str:
    price = ("not quoted" if order.quoted_total_minor is None
             else format_minor(order.quoted_total_minor, order.currency))
    term = "" if order.kind == OrderKind.TRANSFER_IN else (
        f" for {order.years} year{'s' if order.years != 1 else ''}")
    return (f"{order.get_kind_display()} of {order.domain}{term}: {price}. "
            "Check it with the customer, then confirm.")


# --- Confirm ----------------------------------------------------------------------------


def order_confirm(*, order: Order, actor, auth_code: str | None = None) -> Outcome:
    """Place a QUOTED order. A replay (the order is no longer QUOTED) sends nothing and
    says what became of the first confirm."""
    require_permission(actor, PLACE_ORDER_PERMISSION)
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.status != OrderStatus.QUOTED:
            return Outcome(status=Outcomes.SUCCEEDED, data={"order": locked, "replayed": True},
                           message=f"Order {locked.pk} was already confirmed; it is "
                                   f"{locked.get_status_display().lower()}. Nothing was "
                                   "sent again.")
        expired = bool(locked.quote_expires_at and locked.quote_expires_at < timezone.now())
        if expired:
            locked.status = OrderStatus.CANCELLED
            locked.status_reason = "The quote expired before it was confirmed."
            locked.save(update_fields=["status", "status_reason", "updated_at"])
        else:
            if locked.kind == OrderKind.TRANSFER_IN and not (auth_code or "").strip():
                raise InvalidInput("A transfer needs the authorization code.", field_errors={
                    "auth_code": ["Enter the authorization (EPP) code from the losing "
                                  "registrar."]})
            provider = _client(locked.provider_account)
            locked.status = OrderStatus.PAYMENT_INITIATED
            locked.placed_at = timezone.now()
            locked.placed_by = actor
            locked.idempotency_key = idempotency_key(locked, provider)
            locked.save(update_fields=["status", "placed_at", "placed_by", "idempotency_key",
                                       "updated_at"])
    if expired:
        # Raised once the cancellation is committed: raised inside the block, it would undo it.
        raise OperationRefused("The quote expired: prices move, so quote it again.",
                               code="quote_expired")
    order = locked
    parameters = _parameters(order)
    try:
        placed = _place(provider, order, (auth_code or "").strip())
    except (pricing.PriceChanged, pricing.PricingError) as moved:
        return _not_charged(order, actor, parameters, moved, OrderStatus.CANCELLED)
    except ProviderError as error:
        if isinstance(error, TransportError) or (error.status is None and error.retryable):
            return _unknown(order, actor, parameters, error)
        status = (OrderStatus.CANCELLED if error.code == "price_changed"
                  else OrderStatus.FAILED)
        return _not_charged(order, actor, parameters, error, status)
    return placed(actor, parameters)


def _parameters(order: Order) -> dict[str, Any]:
    """What the audit keeps: never the auth code (it is not even passed here)."""
    return {"account": order.account.customer_reference if order.account else "",
            "provider_account": order.provider_account.label, "domain": order.domain,
            "kind": order.kind, "years": order.years, "currency": order.currency,
            "quoted_total_minor": order.quoted_total_minor,
            "ceiling_minor": order.quote.get("ceiling_minor"),
            "idempotency_key": order.idempotency_key}


def _place(provider, order: Order, auth_code: str):
    """Send the order; return a function that records the answer (after the HTTP call,
    so the DB transaction never spans it)."""
    kind = order.provider_account.kind
    if kind == ProviderKind.NAMECOM:
        return _place_namecom(provider, order, auth_code)
    if kind == ProviderKind.DOMAINEE:
        return _place_domainee(provider, order)
    return _place_domain_api(provider, order, auth_code)


def _place_domain_api(provider, order: Order, auth_code: str):
    from billing.order_sync import apply_domain_api_order

    action = order.quote["operation"]
    ceiling = None
    if order.quote.get("ceiling_minor") is not None:
        # Re-check right before placing: refuse without sending if the price moved.
        fresh = _domain_api_quote(provider, OrderRequest(
            account=order.account, provider_account=order.provider_account, action=action,
            domain=order.domain, years=order.years), order.domain)
        if (fresh["total_minor"], fresh["currency"]) != (order.quoted_total_minor,
                                                          order.currency):
            raise pricing.PriceChanged(
                f"{order.domain} now costs {format_minor(fresh['total_minor'], fresh['currency'])}"
                f", not the {format_minor(order.quoted_total_minor, order.currency)} quoted. "
                "Nothing was bought; quote it again.", rule="price_moved")
        ceiling = Money(order.quote["ceiling_minor"], order.currency)
    owner_id = _owner_upstream_id(order)
    accepted = provider.place_domain_order(
        domain=order.domain, action=action, years=order.years,
        idempotency_key=order.idempotency_key, max_total=ceiling,
        auth_code=auth_code or None, source_contact_id=owner_id)

    def record(actor, parameters):
        with transaction.atomic():
            apply_domain_api_order(order, accepted.order)
            order.refresh_from_db()
            message = (f"Order {order.pk} placed: {order.get_kind_display().lower()} of "
                       f"{order.domain}, {format_minor(order.total_minor, order.currency)} "
                       f"charged. The registrar is working on it; this order follows it.")
            row = audit.record(actor=actor, action=PLACE_ACTION, target=order,
                               parameters={**parameters, "upstream_order_id": order.upstream_id},
                               outcome=Outcomes.PENDING, upstream_status=202,
                               upstream_request_id=accepted.request_id, message=message)
        _follow_after_commit(order.pk)
        return Outcome(status=Outcomes.PENDING, message=message, audit_row=row,
                       data={"order": order})

    return record


def _follow_after_commit(order_id: int) -> None:
    def enqueue() -> None:
        from billing.tasks import follow_domain_order

        follow_domain_order.apply_async((order_id,),
                                        countdown=settings.PROCESS_POLL_BASE_DELAY)

    transaction.on_commit(enqueue)


def _owner_upstream_id(order: Order) -> int | None:
    from contacts.models import Contact

    contact_id = order.quote.get("owner_contact_id")
    if contact_id is None or order.kind == OrderKind.RENEWAL:
        return None
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None or not contact.upstream_id:
        raise pricing.PricingError("The registrant contact chosen at quote time is gone; "
                                   "quote again.", rule="owner_gone")
    return int(contact.upstream_id)


def _place_namecom(provider, order: Order, auth_code: str):
    quote = quote_from_json(order)
    if quote.operation is pricing.Operation.CREATE:
        purchase = provider.create_domain(quote)  # re-checks availability and price first
    else:
        fresh = provider.get_pricing(order.domain, order.years
                                     if quote.operation is pricing.Operation.RENEW else 1)
        refreshed = (pricing.quote_renew(order.domain, order.years, fresh)
                     if quote.operation is pricing.Operation.RENEW
                     else pricing.quote_transfer(order.domain, fresh))
        if (refreshed.total, refreshed.purchase_price, refreshed.premium) != (
                quote.total, quote.purchase_price, quote.premium):
            raise pricing.PriceChanged(
                f"name.com's price for {order.domain} moved since the quote. Nothing was "
                "bought; quote it again.", rule="price_moved")
        purchase = (provider.renew_domain(quote) if quote.operation is pricing.Operation.RENEW
                    else provider.transfer_domain(quote, auth_code=auth_code))

    def record(actor, parameters):
        charged = purchase.total_paid.amount_minor if purchase.total_paid else (
            order.quoted_total_minor or 0)
        quoted = order.quoted_total_minor if order.quoted_total_minor is not None else charged
        status = (OrderStatus.TRANSFER_STARTED if order.kind == OrderKind.TRANSFER_IN
                  else OrderStatus.REGISTERED)
        with transaction.atomic():
            order.status = status
            order.upstream_id = purchase.order_id or None
            order.currency = purchase.total_paid.currency if purchase.total_paid else (
                order.currency)
            order.subtotal_minor = min(quoted, charged)
            # totalPaid includes VAT and Whois Privacy, which the domain price does not.
            order.fees_minor = max(charged - quoted, 0)
            order.total_minor = charged
            order.save()
            _ledger_once(order, LedgerEntry.Kind.PAYMENT, charged,
                         f"{order.upstream_id or order.idempotency_key}:charge")
            message = (f"Order {order.pk} placed at name.com: {order.get_kind_display().lower()}"
                       f" of {order.domain}, {format_minor(charged, order.currency)} paid.")
            row = audit.record(actor=actor, action=PLACE_ACTION, target=order,
                               parameters={**parameters, "upstream_order_id": order.upstream_id,
                                           "purchase_price_minor":
                                               order.quote.get("purchase_price_minor")},
                               outcome=Outcomes.SUCCEEDED,
                               upstream_request_id=purchase.request_id, message=message)
        return Outcome(status=Outcomes.SUCCEEDED, message=message, audit_row=row,
                       data={"order": order})

    return record


def _place_domainee(provider, order: Order):
    from registrar.providers.domainee import purchase_to_order_fields

    contact = _owner_contact(order)
    result = provider.purchase(
        hostname=order.domain, years=order.years, registrant=contact,
        max_total=Money(order.quote["ceiling_minor"], order.currency),
        customer_reference=order.customer_reference or f"order-{order.pk}",
        idempotency_key=order.idempotency_key)

    def record(actor, parameters):
        fields = purchase_to_order_fields(result)
        if result.purchase is None:
            # Document 002's 502 registration_failed carries no purchase row, so the
            # amount charged (and refunded) is not stated: the order keeps the ceiling it
            # was held to, and the ledger shows that charge and its refund.
            fields.update(subtotal_minor=order.quoted_total_minor or 0,
                          total_minor=order.quoted_total_minor or 0)
        with transaction.atomic():
            for name, value in fields.items():
                if name == "placed_at":
                    continue
                setattr(order, name, value)
            if order.status == OrderStatus.REFUNDED and not order.refunded_minor:
                order.refunded_minor = order.total_minor
            order.save()
            reference = order.upstream_id or order.idempotency_key
            estimate = ("" if result.purchase is not None else
                        "Domainee did not state the amount; recorded at the ceiling, the "
                        "most it can have been.")
            if order.status in (OrderStatus.REGISTERED, OrderStatus.REFUNDED):
                _ledger_once(order, LedgerEntry.Kind.PAYMENT, order.total_minor,
                             f"{reference}:charge", note=estimate)
            if order.status == OrderStatus.REFUNDED:
                _ledger_once(order, LedgerEntry.Kind.REFUND, order.refunded_minor,
                             f"{reference}:refund", note=order.status_reason)
                charged = format_minor(order.total_minor, order.currency)
                message = (f"Order {order.pk}: Domainee charged "
                           f"{'up to ' if result.purchase is None else ''}{charged} but the "
                           f"registrar refused {order.domain}"
                           + (f" ({order.status_reason})" if order.status_reason else "")
                           + ". The charge was refunded in full.")
                outcome = Outcomes.FAILED
            else:
                message = (f"Order {order.pk} placed at Domainee: {order.domain} registered, "
                           f"{format_minor(order.total_minor, order.currency)} charged.")
                outcome = Outcomes.SUCCEEDED
            row = audit.record(actor=actor, action=PLACE_ACTION, target=order,
                               parameters={**parameters, "upstream_order_id": order.upstream_id},
                               outcome=outcome, upstream_request_id=result.request_id,
                               message=message)
        return Outcome(status=outcome, message=message, audit_row=row, data={"order": order})

    return record


def _owner_contact(order: Order) -> dict[str, Any]:
    from contacts.models import Contact

    contact = Contact.objects.filter(pk=order.quote.get("owner_contact_id")).first()
    if contact is None:
        raise pricing.PricingError("The registrant contact chosen at quote time is gone; "
                                   "quote again.", rule="owner_gone")
    names = ("first_name", "last_name", "organization", "email", "phone", "street_address",
             "city", "state", "post_code")
    fields = {name: getattr(contact, name) for name in names if getattr(contact, name)}
    fields["country"] = str(contact.country)
    return fields


def _not_charged(order: Order, actor, parameters, error: ProviderError, status: str
                 ) -> Outcome:
    """Refused before any money moved: the order ends CANCELLED/FAILED with the reason."""
    return _failed(order, actor, parameters, error, _upstream_message(error), status=status)


def _unknown(order: Order, actor, parameters, error: ProviderError) -> Outcome:
    """No answer: the order may or may not exist upstream. It stays PAYMENT_INITIATED,
    visibly, rather than being guessed either way."""
    message = (f"No answer from {order.provider_account.label} ({error.message}). The order "
               "may have been placed: check it there before ordering again. This order stays "
               "“payment initiated” until it is resolved.")
    return _failed(order, actor, parameters, error, message)


def _failed(order: Order, actor, parameters, error: ProviderError, message: str, *,
            status: str | None = None) -> Outcome:
    """The order keeps the reason (and takes `status` if given), with its audit row."""
    fields = ["status_reason", "updated_at"]
    order.status_reason = message
    if status is not None:
        order.status = status
        fields.append("status")
    with transaction.atomic():
        order.save(update_fields=fields)
        row = audit.record(actor=actor, action=PLACE_ACTION, target=order,
                           parameters=parameters, outcome=Outcomes.FAILED,
                           upstream_status=error.status, upstream_code=error.code,
                           upstream_request_id=error.request_id, message=message)
    return Outcome(status=Outcomes.FAILED, message=message, error=error, audit_row=row,
                   data={"order": order})


def _upstream_message(error: ProviderError, *, quoting: bool = False) -> str:
    code = f" ({error.code})" if error.code else ""
    if isinstance(error, pricing.PricingError):
        return error.message
    if error.code == "price_changed":
        return (f"The price moved above the quote{code}: nothing was charged. Quote it "
                "again.")
    what = "could not quote" if quoting else "refused the order"
    return f"The registrar {what}: {error.message}{code}. Nothing was charged."


def open_quote(order: Order) -> bool:
    return order.status == OrderStatus.QUOTED and not (
        order.quote_expires_at and order.quote_expires_at < timezone.now())

