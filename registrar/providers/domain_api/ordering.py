"""Domain orders at the Domain Registration API: priced from Check Availability, placed
with `POST /api/orders/domain` under the local order's Idempotency-Key and with the
quoted total as `max_total`, so the upstream refuses rather than charges more."""

from __future__ import annotations

from typing import TYPE_CHECKING

from registrar.money import format_minor
from registrar.providers.base import (
    DomainPlacement,
    DomainQuote,
    DomainQuoteRequest,
    Money,
    OrderAction,
    OrderRecord,
    PlacedOrder,
)
from registrar.providers.errors import PriceMoved, ProviderError, QuoteRefused

if TYPE_CHECKING:
    from registrar.providers.domain_api.adapter import DomainApiProvider

DEFAULT_CURRENCY = "USD"


def quote(provider: DomainApiProvider, request: DomainQuoteRequest) -> DomainQuote:
    answer = provider.check_availability(request.domain)
    premium = bool(answer.get("premium"))
    domain = request.domain
    if request.action == OrderAction.REGISTER:
        price = answer.get("create_price")
        if not answer.get("available") or price is None:
            reason = answer.get("reason") or "the registry says it is taken"
            raise QuoteRefused(f"{domain} is not available to register ({reason}).",
                               rule="not_available")
        unit, note = price, "Registration price from Check Availability, per year."
    elif request.action == OrderAction.TRANSFER:
        price = answer.get("transfer_price")
        if answer.get("owned_by_account"):
            raise QuoteRefused(f"{domain} is already in this account.", rule="already_owned")
        if answer.get("available") or price is None:
            raise QuoteRefused(
                f"{domain} is not registered elsewhere, so it cannot be transferred in.",
                rule="not_transferable")
        unit, note = price, "Transfer price from Check Availability, per year."
    else:
        if not answer.get("owned_by_account"):
            raise QuoteRefused(f"{domain} is not in this registrar account.", rule="not_owned")
        # Doc silent: Check Availability gives no renewal price, so none can be quoted
        # or sent as a ceiling; the confirmation page says so. The order still needs a
        # currency: that of the TLD's other prices (the placed order's total replaces it).
        currency = next((price.currency for price in (answer.get("create_price"),
                                                      answer.get("transfer_price"))
                         if price is not None), DEFAULT_CURRENCY)
        return DomainQuote(currency=currency, total_minor=None, ceiling_minor=None,
                           premium=premium,
                           notes=("The Domain API quotes no renewal price: the registrar's "
                                  "renewal price for the term applies.",),
                           data={"operation": request.action.value})
    total = unit.amount_minor * request.years
    return DomainQuote(
        currency=unit.currency, total_minor=total, ceiling_minor=total, premium=premium,
        notes=(note, "Sent as max_total: the order is refused rather than charged more."),
        data={"operation": request.action.value, "unit_minor": unit.amount_minor})


def place(provider: DomainApiProvider, placement: DomainPlacement) -> PlacedOrder:
    ceiling = None
    if placement.quote.get("ceiling_minor") is not None:
        # Re-check right before placing: refuse without sending if the price moved.
        fresh = quote(provider, DomainQuoteRequest(
            action=placement.action, domain=placement.domain, years=placement.years))
        if (fresh.total_minor, fresh.currency) != (placement.quoted_total_minor,
                                                    placement.currency):
            raise PriceMoved(
                f"{placement.domain} now costs {format_minor(fresh.total_minor, fresh.currency)}"
                f", not the {format_minor(placement.quoted_total_minor, placement.currency)} "
                "quoted. Nothing was bought; quote it again.", rule="price_moved")
        ceiling = Money(placement.quote["ceiling_minor"], placement.currency)
    owner_id = None
    if placement.action != OrderAction.RENEW and placement.owner is not None:
        owner_id = int(placement.owner.upstream_id)
    return provider.create_domain_order(
        domain=placement.domain, action=placement.action.value, years=placement.years,
        idempotency_key=placement.idempotency_key, max_total=ceiling,
        auth_code=placement.auth_code or None, source_contact_id=owner_id)


def settle(provider: DomainApiProvider, placement: DomainPlacement) -> OrderRecord | None:
    """The placement sent again under its Idempotency-Key: when the first arrived, the
    upstream answers with that order and charges nothing more. Without the auth code
    (never kept), a transfer that did not arrive is refused (422), not placed: None."""
    ceiling = placement.quote.get("ceiling_minor")
    try:
        placed = provider.create_domain_order(
            domain=placement.domain, action=placement.action.value, years=placement.years,
            idempotency_key=placement.idempotency_key,
            max_total=Money(ceiling, placement.currency) if ceiling is not None else None,
            auth_code=None, source_contact_id=int(placement.owner.upstream_id)
            if placement.owner is not None and placement.action != OrderAction.RENEW else None)
    except ProviderError as error:
        if error.documented and error.status is not None and error.status < 500:
            return None  # refused: the first never arrived, and this one placed nothing
        raise
    return placed.record
