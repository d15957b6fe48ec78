"""Domain orders at name.com, by document 004's rules: the quote is a `pricing.Quote`
(kept as JSON on the local order), and placing sends exactly what it decided, after the
re-check the document asks for right before buying."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from registrar.providers.base import (
    DomainPlacement,
    DomainQuote,
    DomainQuoteRequest,
    Money,
    OrderAction,
    OrderRecord,
    OrderState,
    OrderType,
    PlacedOrder,
    RegistrationRecord,
    RegistrationState,
)
from registrar.providers.http import PARSE_ERRORS, parse_timestamp
from registrar.providers.namecom import pricing

if TYPE_CHECKING:
    from registrar.providers.namecom.adapter import NamecomProvider, Purchase

_OPERATION = {OrderAction.REGISTER: pricing.Operation.CREATE,
              OrderAction.RENEW: pricing.Operation.RENEW,
              OrderAction.TRANSFER: pricing.Operation.TRANSFER}
_ACTION = {operation: action for action, operation in _OPERATION.items()}


def _minor(money: Money | None) -> int | None:
    return None if money is None else money.amount_minor


def quote(provider: NamecomProvider, request: DomainQuoteRequest) -> DomainQuote:
    domain, years = request.domain, request.years
    if request.action == OrderAction.REGISTER:
        discovery = provider.check_domain(domain, registration_only=not request.allow_acquisition)
        registry = None
        if discovery.purchasable and discovery.premium and (
                discovery.purchase_type in (None, pricing.PurchaseType.REGISTRATION)):
            # Registry premium: Get Pricing for the same years gives the exact price.
            registry = provider.get_pricing(domain, years)
        decided = pricing.quote_create(discovery, years, registry,
                                       allow_acquisition=request.allow_acquisition)
    elif request.action == OrderAction.RENEW:
        decided = pricing.quote_renew(domain, years, provider.get_pricing(domain, years))
    else:
        decided = pricing.quote_transfer(domain, provider.get_pricing(domain, 1))
    return quote_of(decided)


def quote_of(decided: pricing.Quote) -> DomainQuote:
    """A pricing rules' Quote as what staff are shown and the local order keeps."""
    return DomainQuote(
        currency=pricing.CURRENCY,
        total_minor=_minor(decided.total),
        ceiling_minor=None,
        purchase_type=decided.purchase_type.value,
        premium=decided.premium,
        notes=tuple(decided.notes),
        data={"operation": _ACTION[decided.operation].value,
              "purchase_price_minor": _minor(decided.purchase_price),
              "discovery_price_minor": _minor(decided.discovery_price),
              "years_sent": decided.years},
    )


def quote_from(placement: DomainPlacement) -> pricing.Quote:
    """The Quote a confirmed order was given, rebuilt from what the order kept."""
    data = placement.quote

    def money(value: int | None) -> Money | None:
        return None if value is None else Money(int(value), pricing.CURRENCY)

    return pricing.Quote(
        operation=_OPERATION[placement.action], domain=placement.domain,
        purchase_type=pricing.PurchaseType(data["purchase_type"]), premium=data["premium"],
        purchase_price=money(data.get("purchase_price_minor")), years=data.get("years_sent"),
        total=money(data.get("total_minor")),
        discovery_price=money(data.get("discovery_price_minor")),
        notes=tuple(data.get("notes") or ()))


def place(provider: NamecomProvider, placement: DomainPlacement) -> PlacedOrder:
    decided = quote_from(placement)
    if decided.operation is pricing.Operation.CREATE:
        purchase = provider.create_domain(decided)  # re-checks availability and price first
    else:
        renew = decided.operation is pricing.Operation.RENEW
        fresh = provider.get_pricing(placement.domain, placement.years if renew else 1)
        refreshed = (pricing.quote_renew(placement.domain, placement.years, fresh) if renew
                     else pricing.quote_transfer(placement.domain, fresh))
        if (refreshed.total, refreshed.purchase_price, refreshed.premium) != (
                decided.total, decided.purchase_price, decided.premium):
            raise pricing.PriceChanged(
                f"name.com's price for {placement.domain} moved since the quote. Nothing "
                "was bought; quote it again.", rule="price_moved")
        purchase = (provider.renew_domain(decided) if renew
                    else provider.transfer_domain(decided, auth_code=placement.auth_code))
    return PlacedOrder(record=purchase_record(purchase, placement),
                       request_id=purchase.request_id)


def purchase_record(purchase: Purchase, placement: DomainPlacement) -> OrderRecord:
    """What name.com charged. totalPaid includes VAT and Whois Privacy, which the domain
    price does not: the difference over the quote is recorded as fees."""
    quoted = placement.quoted_total_minor
    charged = (purchase.total_paid.amount_minor if purchase.total_paid
               else (quoted or 0))
    quoted = quoted if quoted is not None else charged
    transfer = placement.action == OrderAction.TRANSFER
    registration = _domain_record(purchase.domain, placement.domain)
    return OrderRecord(
        upstream_id=purchase.order_id or None,
        # A transfer takes days at the registries; a create or renew is done at once.
        state=OrderState.TRANSFER_STARTED if transfer else OrderState.COMPLETED,
        type=OrderType.TRANSFER_IN if transfer else (
            OrderType.RENEWAL if placement.action == OrderAction.RENEW
            else OrderType.REGISTRATION),
        domain=placement.domain,
        currency=purchase.total_paid.currency if purchase.total_paid else placement.currency,
        subtotal_minor=min(quoted, charged),
        fees_minor=max(charged - quoted, 0),
        total_minor=charged,
        delivered=(registration,) if registration is not None and not transfer else (),
        paid=True,
    )


def _domain_record(domain: Mapping[str, Any], name: str) -> RegistrationRecord | None:
    """The domain record Create and Renew answer with, as far as it can be read. Doc
    silent (004 gives no shape): name.com's published Domain object is assumed
    (expireDate, locked, autorenewEnabled, privacyEnabled, nameservers); what is absent
    or unreadable is left out, and the registration is still made from its name."""
    fields: dict[str, Any] = {"name": name, "status": RegistrationState.ACTIVE.value}
    if isinstance(domain, Mapping):
        for key, field_name in (("locked", "locked"), ("autorenewEnabled", "auto_renew"),
                                ("privacyEnabled", "privacy_protect")):
            if isinstance(domain.get(key), bool):
                fields[field_name] = domain[key]
        try:
            expires = parse_timestamp(domain.get("expireDate"))
        except PARSE_ERRORS:
            expires = None
        if expires is not None:
            fields["expires_at"] = expires
        nameservers = domain.get("nameservers")
        if isinstance(nameservers, list) and all(isinstance(n, str) for n in nameservers):
            fields["nameservers"] = [n.lower() for n in nameservers]
    return RegistrationRecord(fields=fields, tld={"name": name.rsplit(".", 1)[-1]},
                              raw=dict(domain) if isinstance(domain, Mapping) else {})
