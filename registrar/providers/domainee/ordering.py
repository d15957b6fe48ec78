"""Domain orders at Domainee: no price endpoint, so the quote is the ceiling staff agree
to; the purchase is sent with that ceiling as maxTotalCents (409 price_changed, nothing
charged, above it) and the local order's Idempotency-Key."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from registrar.providers.base import (
    ContactRecord,
    DomainPlacement,
    DomainQuote,
    DomainQuoteRequest,
    Money,
    OrderAction,
    OrderRecord,
    PlacedOrder,
)
from registrar.providers.domainee.rules import check_registrant
from registrar.providers.domainee.wire import purchase_record
from registrar.providers.errors import CallerError, QuoteRefused

SETTLE_CLOCK_SKEW = timedelta(minutes=5)

if TYPE_CHECKING:
    from registrar.providers.domainee.adapter import DomaineeProvider


def quote(request: DomainQuoteRequest) -> DomainQuote:
    if request.action != OrderAction.REGISTER:
        raise QuoteRefused("Domainee only buys new registrations.", rule="unsupported_action")
    if request.ceiling is None or request.ceiling.amount_minor <= 0:
        raise CallerError("Domainee quotes no price: a ceiling is required.")
    if request.owner is not None:
        check_registrant(_wire_fields(request.owner))  # the purchase's own rules, now
    ceiling = request.ceiling
    return DomainQuote(
        currency=ceiling.currency, total_minor=ceiling.amount_minor,
        ceiling_minor=ceiling.amount_minor,
        notes=("Domainee has no price endpoint: it charges its live price, and refuses "
               "without charging if that is above this ceiling.",),
        data={"operation": request.action.value, "price_is_ceiling": True})


def _wire_fields(owner: ContactRecord) -> dict[str, str]:
    names = ("first_name", "last_name", "organization", "email", "phone", "street_address",
             "city", "state", "post_code", "country")
    return {name: str(owner.fields[name]) for name in names if owner.fields.get(name)}


def _registrant(placement: DomainPlacement) -> dict[str, str]:
    if placement.owner is None:
        raise QuoteRefused("The registrant contact chosen at quote time is gone; quote "
                           "again.", rule="owner_gone")
    return _wire_fields(placement.owner)


def place(provider: DomaineeProvider, placement: DomainPlacement) -> PlacedOrder:
    result = provider.purchase(
        hostname=placement.domain, years=placement.years, registrant=_registrant(placement),
        max_total=Money(placement.quote["ceiling_minor"], placement.currency),
        customer_reference=placement.customer_reference,
        idempotency_key=placement.idempotency_key,
        auto_connect=dict(placement.auto_connect) if placement.auto_connect else None)
    # Document 002's 502 registration_failed carries no purchase row: the amount charged
    # (and refunded) is not stated, so it can only be the ceiling at most.
    return PlacedOrder(record=purchase_record(result), request_id=result.request_id,
                       estimated=result.purchase is None,
                       connected_domain_id=(result.purchase.connected_domain_id
                                            if result.purchase is not None else ""))


def settle(provider: DomaineeProvider, placement: DomainPlacement) -> OrderRecord | None:
    """The purchase list filtered by the customer reference it was sent with (document
    002's own lookup), newest first: the purchase of this hostname, or None when none is
    listed."""
    # A purchase from before this one was placed is another order (clocks may differ by
    # a few minutes).
    since = (placement.placed_at - SETTLE_CLOCK_SKEW).timestamp() if placement.placed_at else 0.0
    mine = [purchase for purchase in provider.iter_purchases(
        customer_reference=placement.customer_reference)
        if purchase.hostname == placement.domain
        and (purchase.created_at is None or purchase.created_at.timestamp() >= since)]
    if not mine:
        return None
    newest = max(mine, key=lambda purchase: purchase.created_at.timestamp()
                 if purchase.created_at else 0.0)
    return purchase_record(newest)
