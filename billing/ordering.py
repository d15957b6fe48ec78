"""Domain orders placed by support for a customer: quote, confirm, place.

Two steps, so that nobody is charged a price they were not shown:

1. `order_quote` asks the upstream for availability and price (each upstream's own
   rules, in its provider package) and stores a local Order in status QUOTED: nothing is
   sent that costs money, nothing is charged.
2. `order_confirm` has the upstream re-check right before placing (it refuses, sending
   nothing, if the price moved), then places the order with an idempotency key derived
   from the local order id and, where the upstream takes one, a ceiling equal to the
   quoted total.

The local order id is the idempotency anchor: a replayed confirm finds the order no
longer QUOTED and sends nothing; an HTTP retry of the same placement carries the same
key, so the upstream answers with the first order instead of charging twice.

Money states stay consistent through every failure:
- refused before the charge (price moved, unavailable, rejected): CANCELLED or FAILED,
  no ledger entry;
- charged and the registration failed: REFUNDED with the refund in the ledger (as the
  upstream reports it, at once or when the order is followed to its end);
- no answer at all: left PAYMENT_INITIATED with the reason, for a person to check.

What an order delivered (a registration) is mirrored in the same transaction as the
order update, so Support can operate it at once. A transfer's authorization code is
taken on the confirmation page, sent once, and never stored or audited.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from backoffice import audit
from backoffice.models import StaffAction
from billing.models import Account, Order, OrderKind, OrderStatus
from billing.order_sync import ORDER_KIND, apply_record, final_statuses
from contacts.models import Contact
from registrar.jobs import enqueue_after_commit
from registrar.models import ProviderAccount, Tld
from registrar.money import format_minor
from registrar.operations import InvalidInput, OperationRefused, Outcome, require_permission
from registrar.providers.base import (
    ORDER_TYPE_OF_ACTION,
    Capability,
    ContactRecord,
    DomainPlacement,
    DomainQuoteRequest,
    Money,
    OrderAction,
    OrderRecord,
    OrderState,
    PlacedOrder,
    Provider,
)
from registrar.providers.errors import (
    CallerError,
    ConfigurationError,
    PriceMoved,
    ProviderError,
    QuoteRefused,
    ServiceUnavailable,
    Unsupported,
)
from registrar.providers.registry import adapter_class, provider_for_account
from registrar.values.names import intake_name, lookalike_warning

logger = logging.getLogger(__name__)
Outcomes = StaffAction.Outcome

PLACE_ORDER_PERMISSION = "billing.place_order"
QUOTE_ACTION = "order.quote_domain"
PLACE_ACTION = "order.place_domain"
#: Follows one placed order to its end (billing.tasks.follow_domain_order).
FOLLOW_TASK = "billing.follow_domain_order"
#: Finds out what became of an order whose answer was lost (billing.tasks.settle_order).
SETTLE_TASK = "billing.settle_order"
MIN_YEARS, MAX_YEARS = 1, 10


class Action:
    """What staff can order (the provider-level OrderAction), with its form labels."""

    REGISTER = OrderAction.REGISTER.value
    TRANSFER = OrderAction.TRANSFER.value
    RENEW = OrderAction.RENEW.value

    CHOICES = (
        (REGISTER, "Register"),
        (TRANSFER, "Transfer in"),
        (RENEW, "Renew"),
    )
    KIND = {action.value: ORDER_KIND[kind] for action, kind in ORDER_TYPE_OF_ACTION.items()}


def quote_ttl() -> timedelta:
    return timedelta(minutes=settings.ORDER_QUOTE_TTL_MINUTES)


def ordering_accounts() -> QuerySet[ProviderAccount]:
    """The enabled accounts staff can place domain orders with."""
    return (ProviderAccount.objects.filter(enabled=True)
            .with_capability(Capability.DOMAIN_ORDERS).order_by("label"))


def idempotency_key(order: Order, provider: Provider | None = None) -> str:
    """Derived from the local order id only, so every retry of this order sends it."""
    if provider is not None:
        return provider.order_idempotency_key(order.pk)
    return f"backoffice-order-{order.pk}"


@dataclass(frozen=True)
class OrderRequest:
    account: Account
    provider_account: ProviderAccount
    action: str
    domain: str
    years: int = 1
    owner: Contact | None = None
    allow_acquisition: bool = False
    ceiling: Money | None = None  # for an upstream without prices: the most staff agree to


# --- Quote ------------------------------------------------------------------------------


def order_quote(request: OrderRequest, *, actor) -> Outcome:
    """Check availability and price the order; on success a QUOTED Order in
    `data["order"]`. Raises PermissionDenied, InvalidInput (nothing sent) or
    OperationRefused; an upstream refusal is a failed Outcome (no order kept)."""
    require_permission(actor, PLACE_ORDER_PERMISSION)
    domain, action = _check_request(request)
    provider = _client(request.provider_account)
    try:
        quote = provider.quote_domain_order(DomainQuoteRequest(
            action=action, domain=domain, years=request.years,
            allow_acquisition=request.allow_acquisition, ceiling=request.ceiling,
            owner=contact_record(request.owner) if request.owner is not None else None))
    except ValidationError as invalid:
        # The upstream's own input rules (a registrant's phone it would refuse, say):
        # refused now, before anything is placed.
        raise InvalidInput("Nothing was quoted: correct the problems marked.",
                           field_errors=_owner_errors(invalid)) from invalid
    except QuoteRefused as refusal:
        raise OperationRefused(refusal.message, code=refusal.rule or refusal.code,
                               field_errors={"domain": [refusal.message]}) from refusal
    except CallerError as refusal:
        raise InvalidInput(f"Nothing was quoted: {refusal}",
                           field_errors={"__all__": [str(refusal)]}) from refusal
    except ProviderError as error:
        return Outcome(status=Outcomes.FAILED, message=_upstream_message(error, quoting=True),
                       error=error)
    now = timezone.now()
    stored = {**quote.data, "provider": request.provider_account.kind,
              "operation": action.value, "purchase_type": quote.purchase_type,
              "premium": quote.premium, "currency": quote.currency,
              "total_minor": quote.total_minor, "ceiling_minor": quote.ceiling_minor,
              "notes": [*quote.notes, *filter(None, [lookalike_warning(domain)])],
              "owner_contact_id": getattr(request.owner, "pk", None)}
    order = Order.objects.create(
        kind=Action.KIND[action.value],
        status=OrderStatus.QUOTED,
        provider_account=request.provider_account,
        account=request.account,
        tld=Tld.objects.filter(name=domain.rsplit(".", 1)[-1]).first(),
        domain=domain,
        years=request.years,
        purchase_type=quote.purchase_type,
        premium=quote.premium,
        currency=quote.currency,
        quoted_total_minor=quote.total_minor,
        quote=stored,
        quote_expires_at=now + quote_ttl(),
        placed_by=actor,
        placed_at=now,
        customer_reference=request.account.customer_reference,
    )
    return Outcome(status=Outcomes.SUCCEEDED, message=describe_quote(order),
                   data={"order": order})


def _check_request(request: OrderRequest) -> tuple[str, OrderAction]:
    errors: dict[str, list[str]] = {}
    account = request.provider_account
    # The upstream's own order rules are read from its adapter class: no client needed.
    adapter = (adapter_class(account.kind)
               if account.enabled and account.supports(Capability.DOMAIN_ORDERS) else None)
    action = OrderAction(request.action) if request.action in Action.KIND else None
    if adapter is None:
        errors["provider_account"] = [f"“{account.label}” cannot take domain orders."]
    elif action is None or action not in adapter.ordering_actions:
        errors["action"] = [f"{account.get_kind_display()} cannot "
                            f"{dict(Action.CHOICES).get(request.action, request.action).lower()}"
                            " domains."]
    domain = ""
    try:
        domain = intake_name(request.domain)
    except ValidationError as exc:
        errors["domain"] = exc.messages
    if (isinstance(request.years, bool) or not isinstance(request.years, int)
            or not MIN_YEARS <= request.years <= MAX_YEARS):
        errors["years"] = [f"Choose a term from {MIN_YEARS} to {MAX_YEARS} years."]
    if adapter is not None and action is not None:
        if action in adapter.order_owner_required and request.owner is None:
            errors["owner"] = ["Choose the registrant contact for the new registration."]
        if (adapter.order_owner_upstream and request.owner is not None
                and not request.owner.upstream_id):
            errors["owner"] = ["This contact is not at the registrar yet: sync it or pick "
                               "another."]
        fixed_term = adapter.order_fixed_term_years
        if (fixed_term is not None and action == OrderAction.REGISTER
                and request.years != fixed_term and "years" not in errors):
            errors["years"] = [f"{account.get_kind_display()} registers for "
                               f"{fixed_term} year{'s' if fixed_term != 1 else ''} at a "
                               "time (its order takes no term): choose that term."]
        if adapter.order_ceiling_required and (request.ceiling is None
                                               or request.ceiling.amount_minor <= 0):
            errors["ceiling"] = [f"{account.get_kind_display()} quotes no price: give the "
                                 "most the customer agreed to pay."]
    if errors or action is None:
        raise InvalidInput("Nothing was quoted: correct the problems marked.",
                           field_errors=errors)
    return domain, action


def _client(provider_account: ProviderAccount) -> Provider:
    try:
        return provider_for_account(provider_account)
    except (ConfigurationError, ServiceUnavailable) as error:
        raise OperationRefused(error.message, code=error.code) from error


def describe_quote(order: Order) -> str:
    price = ("not quoted" if order.quoted_total_minor is None
             else format_minor(order.quoted_total_minor, order.currency))
    term = "" if order.kind == OrderKind.TRANSFER_IN else (
        f" for {order.years} year{'s' if order.years != 1 else ''}")
    return (f"{order.get_kind_display()} of {order.domain}{term}: {price}. "
            "Check it with the customer, then confirm.")


# --- Confirm ----------------------------------------------------------------------------


def clean_auto_connect(*, provider_account: ProviderAccount, origin_url: object,
                       keep_host: object = False) -> dict[str, Any]:
    """AUTO_CONNECT as a placement carries it ({"origin_url", "keep_host"}), or
    InvalidInput naming the field: the upstream must offer it, the origin must be an
    https:// address with a host."""
    if not provider_account.supports(Capability.AUTO_CONNECT):
        raise InvalidInput("Nothing was sent.", field_errors={"auto_connect": [
            f"{provider_account.get_kind_display()} cannot connect a domain on purchase."]})
    origin = origin_url.strip() if isinstance(origin_url, str) else ""
    try:
        parts = urlsplit(origin)
        host = parts.hostname
    except ValueError:
        parts, host = None, None
    if (not host or parts is None or parts.scheme != "https"
            or any(char.isspace() or not char.isprintable() for char in origin)):
        raise InvalidInput("Nothing was sent.", field_errors={"origin_url": [
            "The origin must be an https:// address, e.g. https://site.example.app."]})
    if not isinstance(keep_host, bool):
        raise InvalidInput("Nothing was sent.", field_errors={"keep_host": [
            "Keep host is yes or no."]})
    return {"origin_url": origin, "keep_host": keep_host}


def order_confirm(*, order: Order, actor, auth_code: str | None = None,
                  auto_connect: dict[str, Any] | None = None) -> Outcome:
    """Place a QUOTED order. A replay (the order is no longer QUOTED) sends nothing and
    says what became of the first confirm. `auto_connect` ({"origin_url", "keep_host"},
    see `clean_auto_connect`) has an AUTO_CONNECT upstream also serve the new domain
    from its edge, as one step that is rolled back whole when any part fails."""
    require_permission(actor, PLACE_ORDER_PERMISSION)
    if auto_connect is not None:
        auto_connect = clean_auto_connect(provider_account=order.provider_account,
                                          origin_url=auto_connect.get("origin_url"),
                                          keep_host=auto_connect.get("keep_host", False))
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
            fields = ["status", "placed_at", "placed_by", "idempotency_key", "updated_at"]
            if auto_connect is not None:
                # Kept with the quote: a settle re-builds the same placement from it.
                locked.quote = {**locked.quote, "auto_connect": auto_connect}
                fields.append("quote")
            locked.save(update_fields=fields)
    if expired:
        # Raised once the cancellation is committed: raised inside the block, it would undo it.
        raise OperationRefused("The quote expired: prices move, so quote it again.",
                               code="quote_expired")
    order = locked
    parameters = _parameters(order)
    try:
        placed = provider.place_domain_order(_placement(order, (auth_code or "").strip()))
    except ValidationError as invalid:
        # Refused by the adapter's own input rules before anything was sent (the
        # registrant was edited since the quote, say): nothing was charged.
        return _refused_before_sending(order, actor, parameters, invalid)
    except PriceMoved as moved:
        return _not_charged(order, actor, parameters, moved, OrderStatus.CANCELLED)
    except QuoteRefused as refused:
        return _not_charged(order, actor, parameters, refused, OrderStatus.CANCELLED)
    except ProviderError as error:
        if error.outcome_unknown:
            return _unknown(order, provider, actor, parameters, error)
        status = (OrderStatus.CANCELLED if error.code == "price_changed"
                  else OrderStatus.FAILED)
        return _not_charged(order, actor, parameters, error, status)
    return _record_placement(order, placed, provider, actor, parameters)


def _refused_before_sending(order: Order, actor, parameters: dict[str, Any],
                            invalid: ValidationError) -> Outcome:
    problems = "; ".join(_owner_errors(invalid)["owner"])
    message = (f"Nothing was sent, so nothing was charged: {problems}. Correct the "
               "registrant contact, then quote the order again.")
    with transaction.atomic():
        order.status = OrderStatus.CANCELLED
        order.status_reason = message
        order.save(update_fields=["status", "status_reason", "updated_at"])
        row = audit.record(actor=actor, action=PLACE_ACTION, target=order,
                           parameters=parameters, outcome=Outcomes.FAILED,
                           upstream_code="invalid_input", message=message)
    return Outcome(status=Outcomes.FAILED, message=message, audit_row=row,
                   data={"order": order})


def _parameters(order: Order) -> dict[str, Any]:
    """What the audit keeps: never the auth code (it is not even passed here)."""
    return {"account": order.account.customer_reference if order.account else "",
            "provider_account": order.provider_account.label, "domain": order.domain,
            "kind": order.kind, "years": order.years, "currency": order.currency,
            "quoted_total_minor": order.quoted_total_minor,
            "ceiling_minor": order.quote.get("ceiling_minor"),
            "idempotency_key": order.idempotency_key,
            **({"auto_connect": order.quote["auto_connect"]}
               if order.quote.get("auto_connect") else {})}


def _owner(order: Order) -> ContactRecord | None:
    """The registrant chosen at quote time, as the upstream is given it."""
    contact_id = order.quote.get("owner_contact_id")
    if contact_id is None or order.kind == OrderKind.RENEWAL:
        return None
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None or (contact.upstream_id is None
                           and adapter_class(order.provider_account.kind).order_owner_upstream):
        raise QuoteRefused("The registrant contact chosen at quote time is gone; quote "
                           "again.", rule="owner_gone")
    return contact_record(contact)


def contact_record(contact: Contact) -> ContactRecord:
    """A registrant contact as an upstream is given it."""
    names = ("first_name", "last_name", "organization", "email", "phone", "street_address",
             "city", "state", "post_code")
    fields: dict[str, Any] = {name: getattr(contact, name) for name in names
                              if getattr(contact, name)}
    fields["country"] = str(contact.country)
    fields["upstream_id"] = contact.upstream_id
    return ContactRecord(fields=fields)


def _owner_errors(invalid: ValidationError) -> dict[str, list[str]]:
    """An upstream's contact-field problems, shown on the registrant field they came
    from (the form has no phone field of its own), each naming its field."""
    by_field = invalid.message_dict if hasattr(invalid, "error_dict") else {
        "owner": invalid.messages}
    messages = [message if name in {"owner", "__all__"}
                else f"Registrant {name.replace('_', ' ')}: {message}"
                for name, problems in by_field.items() for message in problems]
    return {"owner": messages}


def _placement(order: Order, auth_code: str) -> DomainPlacement:
    return DomainPlacement(
        action=OrderAction(order.quote["operation"]), domain=order.domain, years=order.years,
        quote=dict(order.quote), currency=order.currency,
        quoted_total_minor=order.quoted_total_minor, idempotency_key=order.idempotency_key,
        customer_reference=order.customer_reference or f"order-{order.pk}",
        owner=_owner(order), auth_code=auth_code, placed_at=order.placed_at,
        customer_email=order.account.email if order.account else "",
        customer_upstream_id=(order.account.entri_user_id or "") if order.account else "",
        auto_connect=order.quote.get("auto_connect") or None)


def _record_placement(order: Order, placed: PlacedOrder, provider: Provider, actor,
                      parameters: dict[str, Any], *, first_answer_lost: bool = False
                      ) -> Outcome:
    """The upstream's answer, recorded in one transaction with its audit row (after the
    HTTP call, so the transaction never spans it)."""
    record = placed.record
    if placed.estimated and record.total_minor is None:
        # Not stated: the order and the ledger record the ceiling it was held to.
        ceiling = order.quote.get("ceiling_minor") or order.quoted_total_minor or 0
        refunded = ceiling if record.state == OrderState.REFUNDED else None
        record = replace(record, subtotal_minor=ceiling, total_minor=ceiling,
                         refunded_minor=refunded)
    note = ("The upstream did not state the amount; recorded at the ceiling, the most it "
            "can have been." if placed.estimated else "")
    follow = (provider.supports(Capability.ORDER_FOLLOW)
              and order.status not in final_statuses(provider))
    with transaction.atomic():
        apply_record(order, record, ledger_note=note, estimated=placed.estimated)
        order.refresh_from_db()
        follow = follow and order.status not in final_statuses(provider) and bool(
            order.upstream_id)
        upstream = order.provider_account.get_kind_display()
        amount = format_minor(order.total_minor, order.currency)
        # The order's column defaults to 0: whether an amount is known is the record's.
        stated = record.total_minor is not None
        what = f"{order.get_kind_display().lower()} of {order.domain}"
        if order.status == OrderStatus.REFUNDED:
            reason = f" ({order.status_reason})" if order.status_reason else ""
            message = (f"Order {order.pk}: {upstream} charged "
                       f"{'up to ' if placed.estimated else ''}{amount} but the registrar "
                       f"refused {order.domain}{reason}. The charge was refunded in full.")
            outcome = Outcomes.FAILED
        elif follow:
            charged = f"{amount} charged" if stated else "the upstream stated no amount"
            message = (f"Order {order.pk} placed: {what}, {charged}. The registrar is "
                       "working on it; this order follows it.")
            outcome = Outcomes.PENDING
        else:
            delivered = (f" {order.registration} is now in the mirror."
                         if order.registration_id else "")
            paid = f"{amount} paid" if stated else "the upstream stated no amount"
            message = f"Order {order.pk} placed at {upstream}: {what}, {paid}.{delivered}"
            outcome = Outcomes.SUCCEEDED
        if order.quote.get("auto_connect"):
            message = f"{message} {_auto_connect_note(order, placed, upstream)}"
        if first_answer_lost:
            message = ("No usable answer came back when it was sent; asked again (in a way "
                       f"that cannot place it twice), the registrar shows it: {message}")
        row = audit.record(actor=actor, action=PLACE_ACTION, target=order,
                           parameters={**parameters, "upstream_order_id": order.upstream_id,
                                       **({"connected_domain_id": placed.connected_domain_id}
                                          if placed.connected_domain_id else {})},
                           outcome=outcome,
                           upstream_status=202 if outcome == Outcomes.PENDING else None,
                           upstream_request_id=placed.request_id, message=message)
    if follow:
        _follow_after_commit(order.pk)
    return Outcome(status=outcome, message=message, audit_row=row, data={"order": order})


def _auto_connect_note(order: Order, placed: PlacedOrder, upstream: str) -> str:
    """What became of the edge connection asked for with the purchase. The upstream
    rolls the purchase back whole when registering or connecting fails (the charge
    refunded, nothing kept), so a refund also means nothing was connected."""
    if order.status == OrderStatus.REFUNDED:
        return (f"Auto-connect was asked for: {upstream} rolls the whole purchase back "
                "when registering or connecting to its edge fails, so the charge was "
                "refunded and nothing stays registered or connected.")
    if order.status in {OrderStatus.CANCELLED, OrderStatus.FAILED}:
        return "Nothing was connected."
    if placed.connected_domain_id:
        return (f"Connected to {upstream}'s edge (domain id {placed.connected_domain_id}): "
                "it serves the domain once DNS has propagated.")
    return (f"Auto-connect was asked for, but {upstream} returned no connected domain: "
            "the domain is registered, not connected. Connect it from the registration's "
            "page.")


def _follow_after_commit(order_id: int) -> None:
    enqueue_after_commit(FOLLOW_TASK, order_id, countdown=settings.PROCESS_POLL_BASE_DELAY)


def _not_charged(order: Order, actor, parameters, error: ProviderError, status: str
                 ) -> Outcome:
    """Refused before any money moved: the order ends CANCELLED/FAILED with the reason."""
    return _failed(order, actor, parameters, error, _upstream_message(error), status=status)


def _unknown(order: Order, provider: Provider, actor, parameters,
             error: ProviderError) -> Outcome:
    """The order left and no usable answer came back: it may have been placed (and
    charged). The upstream is asked at once what became of it, without placing it twice;
    when it cannot tell yet, the order stays open and unsettled, visibly (finance lists
    it), and billing.settle_order keeps asking."""
    found, why = settle_now(order, provider)
    unsupported = why == NO_WAY_TO_TELL
    if found is not None:
        placed = _record_placement(order, PlacedOrder(record=found), provider, actor,
                                   parameters, first_answer_lost=True)
        return placed
    upstream = order.provider_account.get_kind_display()
    if unsupported:
        then = (f"{upstream} offers no way to ask what became of it: check the order at "
                f"{upstream}; finance lists it under needs attention until then")
    else:
        then = f"the back-office keeps asking {upstream} what became of it ({why})"
    message = (f"{error.message} This order stays open (“payment initiated”) and {then}. "
               "Do not order it again meanwhile.")
    fields = ["status_reason", "unsettled_since", "updated_at"]
    order.status_reason = message
    order.unsettled_since = timezone.now()
    with transaction.atomic():
        order.save(update_fields=fields)
        row = audit.record(actor=actor, action=PLACE_ACTION, target=order,
                           parameters=parameters, outcome=Outcomes.UNKNOWN,
                           upstream_status=error.status, upstream_code=error.code,
                           upstream_request_id=error.request_id, message=message)
        if not unsupported:
            enqueue_after_commit(SETTLE_TASK, order.pk, countdown=60.0)
    return Outcome(status=Outcomes.UNKNOWN, message=message, error=error, audit_row=row,
                   data={"order": order})


NO_WAY_TO_TELL = "it offers no way to tell: check the order there"


def settle_now(order: Order, provider: Provider) -> tuple[OrderRecord | None, str]:
    """What became of a placement whose answer was lost: (the upstream's order, or
    None, and why none when so)."""
    try:
        return provider.settle_placement(_placement(order, "")), "it shows no order yet"
    except Unsupported:
        return None, NO_WAY_TO_TELL
    except ProviderError as error:
        return None, f"asking again failed too: {error.message.rstrip('.')}"


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
    if isinstance(error, QuoteRefused):
        return error.message
    if error.code == "price_changed":
        return (f"The price moved above the quote{code}: nothing was charged. Quote it "
                "again.")
    what = "could not quote" if quoting else "refused the order"
    return f"The registrar {what}: {error.message}{code}. Nothing was charged."


def open_quote(order: Order) -> bool:
    return order.status == OrderStatus.QUOTED and not (
        order.quote_expires_at and order.quote_expires_at < timezone.now())
