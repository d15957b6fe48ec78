"""name.com pricing rules (document 004): what to send as `purchasePrice` and `years`.

A pure module: no HTTP, no database. The name.com adapter
(`registrar.providers.namecom.adapter`) turns Check Availability / Search answers into
`Discovery` values and Get Pricing answers into `RegistryPricing` values; the
`quote_*` functions below decide, from those alone, what a Create Domain, Renew Domain
or Create Transfer request must carry, and return it as a `Quote` the adapter sends
verbatim. Every combination document 004 forbids raises `PricingError`, whose `rule`
names the rule that refused it.

Money is never a float here. Prices are `Money` in minor units (cents: name.com
prices in USD); `to_money` reads a decimal amount exactly and refuses floats and
fractions of a cent, because "If you send purchasePrice, it must match exactly to the
cent or the request will fail" (004, Create Domain).

Where the document is silent, the decision is written next to the code as
"Doc silent:".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from registrar.providers.base import Money
from registrar.providers.errors import PriceMoved, QuoteRefused

#: name.com states every price in US dollars.
CURRENCY = "USD"
CENT = Decimal("0.01")
#: Doc silent on the range; name.com's API reference says "commonly 1-10 years" and
#: `billing.Order` stores 1..10, so a term outside it is refused before any request.
MIN_YEARS, MAX_YEARS = 1, 10


class PurchaseType(StrEnum):
    """name.com's `purchaseType` values (the same vocabulary as billing.PurchaseType)."""

    REGISTRATION = "registration"
    AFTERMARKET_S = "aftermarket_s"
    AFTERMARKET_B = "aftermarket_b"
    AFTERMARKET_I = "aftermarket_i"
    EXPIRING = "expiring"
    BACKORDER = "backorder"


#: 004 "Two pricing sources": these use acquisition pricing — a flat fee from
#: Search / Check Availability that `years` never multiplies.
ACQUISITION_TYPES = frozenset({
    PurchaseType.AFTERMARKET_S, PurchaseType.AFTERMARKET_B, PurchaseType.AFTERMARKET_I,
    PurchaseType.EXPIRING, PurchaseType.BACKORDER,
})


class Operation(StrEnum):
    CREATE = "create"
    RENEW = "renew"
    TRANSFER = "transfer"


class Source(StrEnum):
    """The endpoints of 004's "Endpoint roles" table."""

    ZONE_CHECK = "zone_check"
    CHECK_AVAILABILITY = "check_availability"
    SEARCH = "search"
    GET_PRICING = "get_pricing"
    TLD_PRICING = "tld_pricing"


#: 004 "Endpoint roles": only these two return purchaseType, premium and purchasePrice.
DISCOVERY_SOURCES = frozenset({Source.CHECK_AVAILABILITY, Source.SEARCH})


# --- Errors ---------------------------------------------------------------------------


class PricingError(QuoteRefused):
    """A purchase document 004 forbids, refused before anything is sent. `rule` names
    the document rule that refused it."""

    default_message = "This purchase cannot be priced the way name.com requires."

    def __init__(self, message: str | None = None, *, rule: str = "",
                 code: str = "pricing_rule") -> None:
        super().__init__(message, rule=rule, code=code)


class PriceChanged(PricingError, PriceMoved):
    """The re-check right before Create Domain disagrees with the quote: nothing sent."""

    default_message = "The price or availability changed since it was quoted; nothing was bought."

    def __init__(self, message: str | None = None, *, rule: str = "") -> None:
        super().__init__(message, rule=rule, code="price_changed")


# --- Money ----------------------------------------------------------------------------


class TotalPaid(Money):
    """`totalPaid` from a Create / Renew / Transfer answer: VAT and Whois Privacy
    included. A type of its own so it can never be fed back as a price:
    004 "What not to do": do not include VAT in purchasePrice or derive it from
    totalPaid."""


def to_money(amount: Decimal | str | int, currency: str = CURRENCY) -> Money:
    """An exact decimal amount in major units (dollars) as Money in minor units (cents).

    Floats are refused: a binary float cannot promise "to the cent". A fraction of a
    cent is refused too (004: purchasePrice must match exactly to the cent).
    """
    if isinstance(amount, bool) or not isinstance(amount, Decimal | str | int):
        raise PricingError(
            f"A price must be an exact decimal, not {type(amount).__name__}.",
            rule="exact_decimal_prices",
        )
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise PricingError(f"{amount!r} is not a price.", rule="exact_decimal_prices") from None
    if not value.is_finite() or value < 0:
        raise PricingError(f"{amount!r} is not a price.", rule="exact_decimal_prices")
    if value != value.quantize(CENT):
        # 004 Create Domain: "it must match exactly to the cent" — never round a price.
        raise PricingError(
            f"{amount} has a fraction of a cent; name.com prices are exact to the cent.",
            rule="match_to_the_cent",
        )
    return Money(int(value * 100), currency.upper())


def to_decimal(money: Money) -> Decimal:
    """Money in minor units back to the exact major-unit amount name.com expects."""
    return (Decimal(money.amount_minor) / 100).quantize(CENT)


# --- What the endpoints returned --------------------------------------------------------


@dataclass(frozen=True)
class Discovery:
    """One Check Availability or Search result (004 "Endpoint roles").

    `purchase_type` is kept as the upstream string so an unknown future value is
    refused by the rules instead of breaking a whole search result list.
    """

    domain: str
    purchasable: bool
    purchase_type: str | None = None
    premium: bool = False
    purchase_price: Money | None = None
    renewal_price: Money | None = None
    source: Source = Source.CHECK_AVAILABILITY
    reason: str = ""


@dataclass(frozen=True)
class RegistryPricing:
    """A Get Pricing answer for `domain` and the `years` it was asked for.

    Get Pricing returns totals for the requested term (purchasePrice, renewalPrice)
    and a transferPrice that `years` does not affect (004 Transfers). A null price
    means name.com does not currently offer that operation for this domain and term.
    """

    domain: str
    years: int
    premium: bool
    purchase_price: Money | None = None
    renewal_price: Money | None = None
    transfer_price: Money | None = None


# --- The decision ---------------------------------------------------------------------


@dataclass(frozen=True)
class Quote:
    """What a Create / Renew / Transfer request carries, and what staff are told.

    `purchase_price` and `years` are exactly what goes on the wire; None means the
    field must be omitted. `total` is the domain fee name.com will charge (VAT and
    Whois Privacy excluded, both added upstream), or None where only an optional Get
    Pricing call could have quoted it. `discovery_price` is the discovery purchasePrice
    the create quote was built on: the re-check before create compares against it.
    """

    operation: Operation
    domain: str
    purchase_type: PurchaseType
    premium: bool
    purchase_price: Money | None
    years: int | None
    total: Money | None
    discovery_price: Money | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        # Accept the plain strings too ("create", "registration"), but hold the enums.
        try:
            object.__setattr__(self, "operation", Operation(self.operation))
            object.__setattr__(self, "purchase_type", PurchaseType(self.purchase_type))
        except ValueError as exc:
            raise PricingError(str(exc), rule="unknown_purchase_type") from None
        for name in ("purchase_price", "total", "discovery_price"):
            _refuse_total_paid(getattr(self, name), name)
        if self.years is not None:
            _check_years(self.years)
        if self.operation is Operation.TRANSFER and self.years is not None:
            # 004 Transfers: transferPrice is not affected by years; Create Transfer
            # takes no term at all.
            raise PricingError("A transfer carries no years.", rule="transfer_has_no_years")

    @property
    def sends_purchase_price(self) -> bool:
        return self.purchase_price is not None

    def request_fields(self) -> dict[str, Any]:
        """The pricing fields of the request body: `purchasePrice` as an exact Decimal
        (major units) and `years`, each only when it must be sent."""
        body: dict[str, Any] = {}
        if self.purchase_price is not None:
            body["purchasePrice"] = to_decimal(self.purchase_price)
        if self.years is not None:
            body["years"] = self.years
        return body


def requires_recheck(operation: Operation | Quote) -> bool:
    """Whether Check Availability must be re-run right before sending.

    004 "Integrator workflow patterns": every path should re-run Check Availability
    right before Create Domain (pricing and availability can change); acquisition
    types: "Re-check discovery immediately before create — price can change".
    Doc silent for Renew and Transfer: they are priced by Get Pricing, not discovery,
    so no re-check is required.
    """
    op = operation.operation if isinstance(operation, Quote) else Operation(operation)
    return op is Operation.CREATE


def quote_create(
    discovery: Discovery,
    years: int = 1,
    registry_pricing: RegistryPricing | None = None,
    *,
    allow_acquisition: bool = False,
) -> Quote:
    """The Create Domain quote for a discovery result (004 "Create Domain: purchasePrice
    and years" and "Getting the price for Create Domain").

    `registry_pricing` is Get Pricing for the same `years`: required for a registry
    premium, optional for a standard registration (to quote the total), refused for
    acquisition types. `allow_acquisition` opts into 004 Pattern C (aftermarket,
    expiring, backorder); the default is Pattern A, registration only.
    """
    # 004 What not to do: "Do not use Get Pricing alone to discover how a domain is
    # acquired" — the purchase type comes from Search or Check Availability only.
    if not isinstance(discovery, Discovery):
        raise PricingError(
            "Get Pricing does not say how a domain is acquired: price a create from a "
            "Check Availability or Search result.",
            rule="get_pricing_is_not_discovery",
        )
    # 004 What not to do: "Do not use Zone Check for purchaseType, purchasePrice, or
    # checkout pricing"; Get Pricing and TLD Pricing carry no purchaseType either.
    if discovery.source not in DISCOVERY_SOURCES:
        raise PricingError(
            f"{_SOURCE_LABEL[discovery.source]} cannot price a purchase: use Check "
            "Availability or Search.",
            rule="discovery_source",
        )
    _check_years(years)
    _refuse_total_paid(discovery.purchase_price, "discovery purchasePrice")
    if not discovery.purchasable:
        raise PricingError(
            f"{discovery.domain} is not available to buy"
            + (f" ({discovery.reason})." if discovery.reason else "."),
            rule="not_purchasable",
        )
    purchase_type = _purchase_type(discovery.purchase_type)

    if purchase_type in ACQUISITION_TYPES:
        return _quote_acquisition(discovery, purchase_type, years, registry_pricing,
                                  allow_acquisition=allow_acquisition)
    return _quote_registration(discovery, years, registry_pricing)


def confirm_create(quote: Quote, fresh: Discovery) -> Quote:
    """Compare the Check Availability re-run right before Create Domain with the quote.

    Returns the quote unchanged when nothing moved; raises `PriceChanged` when the
    name is no longer purchasable or its purchaseType, premium flag or purchasePrice
    differ (004: "Re-check discovery immediately before create — price can change").
    """
    if quote.operation is not Operation.CREATE:
        raise PricingError("Only a create is re-checked against discovery.",
                           rule="recheck_is_for_create")
    # 004 Integrator workflow patterns: "re-run Check Availability right before Create
    # Domain" — a Search result or any other endpoint does not count as the re-check.
    if not isinstance(fresh, Discovery) or fresh.source is not Source.CHECK_AVAILABILITY:
        raise PricingError("The re-check before create must be a fresh Check Availability.",
                           rule="recheck_with_check_availability")
    if fresh.domain.lower() != quote.domain.lower():
        raise PricingError(f"The re-check was for {fresh.domain}, not {quote.domain}.",
                           rule="recheck_same_domain")
    if not fresh.purchasable:
        raise PriceChanged(
            f"{quote.domain} is no longer available"
            + (f" ({fresh.reason})." if fresh.reason else ".") + " Nothing was bought.",
            rule="no_longer_purchasable",
        )
    if fresh.purchase_type != quote.purchase_type:
        raise PriceChanged(
            f"{quote.domain} is now offered as {fresh.purchase_type or 'unknown'}, not "
            f"{quote.purchase_type}. Nothing was bought; quote it again.",
            rule="purchase_type_changed",
        )
    if bool(fresh.premium) != quote.premium:
        raise PriceChanged(
            f"{quote.domain}'s premium status changed. Nothing was bought; quote it again.",
            rule="premium_changed",
        )
    if fresh.purchase_price != quote.discovery_price:
        raise PriceChanged(
            f"The price of {quote.domain} moved from {_show(quote.discovery_price)} to "
            f"{_show(fresh.purchase_price)}. Nothing was bought; quote it again.",
            rule="price_moved",
        )
    return quote


def quote_renew(
    domain: str,
    years: int = 1,
    pricing: RegistryPricing | None = None,
    *,
    premium: bool = False,
) -> Quote:
    """The Renew Domain quote (004 "Renew Domain").

    Standard renewal: purchasePrice omitted; Get Pricing optional, to quote the total.
    Premium renewal (Get Pricing says premium, or the caller knows it is): Get Pricing
    renewalPrice for the same `years`, passed as purchasePrice.
    """
    # 004 What not to do: "Do not use discovery renewalPrice for create or premium
    # renew totals" — a renewal is priced by Get Pricing only.
    _refuse_discovery(pricing, "renewalPrice", rule="discovery_renewal_price")
    _check_years(years)
    if pricing is not None:
        _check_same_domain(pricing, domain)
        # 004 Renew Domain: premium renewal uses renewalPrice "with matching years".
        if pricing.years != years:
            raise PricingError(
                f"Get Pricing was asked for {pricing.years} year(s) but the renewal is for "
                f"{years}: ask Get Pricing for the same years.",
                rule="renew_pricing_same_years",
            )
        _refuse_total_paid(pricing.renewal_price, "renewalPrice")
    # Doc silent on a caller who believes the name is premium while Get Pricing says it
    # is standard: Get Pricing is the renewal's price source (004 Renew Domain), so its
    # flag wins; `premium` only matters when no Get Pricing answer is given.
    is_premium = pricing.premium if pricing is not None else premium

    if not is_premium:
        notes = ["Standard renewal: purchasePrice omitted (004 Renew Domain)."]
        total = pricing.renewal_price if pricing is not None else None
        if total is None:
            notes.append("No Get Pricing quote: name.com charges its renewal price.")
        return Quote(Operation.RENEW, domain, PurchaseType.REGISTRATION, False,
                     purchase_price=None, years=years, total=total, notes=tuple(notes))

    if pricing is None:
        raise PricingError(
            "A premium renewal needs Get Pricing's renewalPrice for the same years.",
            rule="premium_renewal_needs_get_pricing",
        )
    if pricing.renewal_price is None:
        raise PricingError(f"name.com does not currently renew {domain} for {years} year(s).",
                           rule="renewal_not_offered")
    return Quote(
        Operation.RENEW, domain, PurchaseType.REGISTRATION, True,
        purchase_price=pricing.renewal_price, years=years, total=pricing.renewal_price,
        notes=("Premium renewal: Get Pricing renewalPrice passed as purchasePrice "
               "(004 Renew Domain).",),
    )


def quote_transfer(
    domain: str,
    pricing: RegistryPricing | None = None,
    *,
    premium: bool = False,
) -> Quote:
    """The Create Transfer quote (004 "Transfers").

    Standard transfer: purchasePrice omitted; Get Pricing optional. Premium transfer:
    Get Pricing transferPrice passed as purchasePrice. `years` plays no part: Get
    Pricing's transferPrice does not depend on it and Create Transfer takes no term.
    """
    # 004 Transfers: the price source is Get Pricing, never discovery.
    _refuse_discovery(pricing, "prices", rule="transfer_price_from_get_pricing")
    if pricing is not None:
        _check_same_domain(pricing, domain)
        _refuse_total_paid(pricing.transfer_price, "transferPrice")
    is_premium = pricing.premium if pricing is not None else premium

    if not is_premium:
        notes = ["Standard transfer: purchasePrice omitted (004 Transfers)."]
        total = pricing.transfer_price if pricing is not None else None
        if total is None:
            notes.append("No Get Pricing quote: name.com charges its transfer price.")
        return Quote(Operation.TRANSFER, domain, PurchaseType.REGISTRATION, False,
                     purchase_price=None, years=None, total=total, notes=tuple(notes))

    # 004 Transfers: premium transfers without purchasePrice are refused upstream
    # ("PurchasePrice is required if the domain to transfer is a premium domain").
    if pricing is None:
        raise PricingError("A premium transfer needs Get Pricing's transferPrice.",
                           rule="premium_transfer_needs_get_pricing")
    if pricing.transfer_price is None:
        raise PricingError(f"name.com does not currently accept a transfer of {domain}.",
                           rule="transfer_not_offered")
    return Quote(
        Operation.TRANSFER, domain, PurchaseType.REGISTRATION, True,
        purchase_price=pricing.transfer_price, years=None, total=pricing.transfer_price,
        notes=("Premium transfer: Get Pricing transferPrice passed as purchasePrice "
               "(004 Transfers).",
               "Whois Privacy is charged separately when privacyEnabled is true."),
    )


# --- Create: the two pricing sources ----------------------------------------------------


def _quote_registration(discovery: Discovery, years: int,
                        pricing: RegistryPricing | None) -> Quote:
    """004 "Registry pricing (purchaseType: registration)": standard and registry premium."""
    if pricing is not None:
        _refuse_discovery(pricing, "purchasePrice", rule="get_pricing_is_not_discovery")
        _check_same_domain(pricing, discovery.domain)
        _refuse_total_paid(pricing.purchase_price, "Get Pricing purchasePrice")
        # 004: "When using Get Pricing to preview or validate, pass the same years";
        # registry premium: "Set term — same value on Get Pricing".
        if pricing.years != years:
            raise PricingError(
                f"Get Pricing was asked for {pricing.years} year(s) but the registration is "
                f"for {years}: ask Get Pricing for the same years.",
                rule="create_pricing_same_years",
            )
        # Doc silent: discovery and Get Pricing disagreeing on a registration's premium
        # flag means one of them is stale; which price applies is then unknowable.
        if pricing.premium != discovery.premium:
            raise PricingError(
                "Check Availability and Get Pricing disagree on whether "
                f"{discovery.domain} is premium: discover it again.",
                rule="premium_flags_disagree",
            )
    common = {"operation": Operation.CREATE, "domain": discovery.domain,
              "purchase_type": PurchaseType.REGISTRATION, "premium": discovery.premium,
              "years": years, "discovery_price": discovery.purchase_price}
    recheck = "Re-run Check Availability right before Create Domain (004)."

    if not discovery.premium:
        # 004 Standard registration: omit purchasePrice, set years; Get Pricing with the
        # same years is optional and only quotes the total. The discovery price is a
        # minimum-term list price and is never multiplied by years.
        notes = ["Standard registration: purchasePrice omitted, years sets the term."]
        total = pricing.purchase_price if pricing is not None else None
        if total is None:
            notes.append("Total not quoted: call Get Pricing with the same years to quote it.")
        notes.append(recheck)
        return Quote(purchase_price=None, total=total, notes=tuple(notes), **common)

    # 004 Registry premium: "required purchasePrice from Get Pricing with matching years".
    if pricing is None:
        raise PricingError(
            f"{discovery.domain} is a registry premium: call Get Pricing for {years} "
            "year(s) and pass its purchasePrice.",
            rule="registry_premium_needs_get_pricing",
        )
    if pricing.purchase_price is None:
        raise PricingError(
            f"name.com does not currently register {discovery.domain} for {years} year(s).",
            rule="registration_not_offered",
        )
    return Quote(
        purchase_price=pricing.purchase_price, total=pricing.purchase_price,
        notes=("Registry premium: Get Pricing purchasePrice for the same years, exact to "
               "the cent.", recheck),
        **common,
    )


def _quote_acquisition(discovery: Discovery, purchase_type: PurchaseType, years: int,
                       pricing: RegistryPricing | None, *, allow_acquisition: bool) -> Quote:
    """004 "Acquisition pricing": aftermarket_s/_b/_i, expiring, backorder."""
    # 004 Pattern A: "If checkout still surfaces a non-registration purchaseType, treat
    # it as unsupported"; acquisition is only for integrators who opt in (Pattern C).
    if not allow_acquisition:
        raise PricingError(
            f"{discovery.domain} is offered as {purchase_type}, which this checkout does not "
            "support (registration only).",
            rule="acquisition_not_enabled",
        )
    # 004 What not to do: "Do not use Get Pricing purchasePrice for aftermarket,
    # expiring, or backorder create".
    if pricing is not None:
        raise PricingError(
            f"Get Pricing does not price {purchase_type}: use the flat purchasePrice from "
            "Search or Check Availability.",
            rule="no_get_pricing_for_acquisition",
        )
    # 004: acquisition types "Always required on create"; "For any other purchaseType,
    # purchasePrice is always required — regardless of premium".
    if discovery.purchase_price is None:
        raise PricingError(
            f"{discovery.domain} ({purchase_type}) came without a purchasePrice: check it again.",
            rule="acquisition_needs_discovery_price",
        )
    # 004: "years does not multiply price or guarantee multi-year registration" and
    # "Omit years or pass the TLD default". Doc silent on a longer term being asked
    # for: refused rather than silently dropped — buy it, then renew to extend.
    if years != 1:
        raise PricingError(
            f"{purchase_type} is a flat fee for the acquisition only; it cannot be bought "
            f"for {years} years. Buy it, then renew to extend the registration.",
            rule="acquisition_years",
        )
    # 004 What not to do: "Do not multiply discovery purchasePrice x years for
    # acquisition types" — the flat fee is sent and charged as it is.
    return Quote(
        Operation.CREATE, discovery.domain, purchase_type, discovery.premium,
        purchase_price=discovery.purchase_price, years=None, total=discovery.purchase_price,
        discovery_price=discovery.purchase_price,
        notes=(f"{purchase_type}: flat acquisition fee from discovery; years omitted (it "
               "neither multiplies the price nor guarantees the term).",
               "Check domain.expireDate after create; renew to extend registration.",
               "Re-run Check Availability immediately before Create Domain: the price can "
               "change."),
    )


# --- Helpers ------------------------------------------------------------------------------

_SOURCE_LABEL = {
    Source.ZONE_CHECK: "Zone Check",
    Source.CHECK_AVAILABILITY: "Check Availability",
    Source.SEARCH: "Search",
    Source.GET_PRICING: "Get Pricing",
    Source.TLD_PRICING: "TLD Pricing",
}


def _purchase_type(value: str | None) -> PurchaseType:
    if not value:
        # 004 Endpoint roles: only Check Availability and Search carry a purchaseType.
        raise PricingError("The discovery result has no purchaseType: use Check Availability "
                           "or Search.", rule="discovery_source")
    try:
        return PurchaseType(value)
    except ValueError:
        raise PricingError(f"Unknown purchaseType {value!r}: not supported.",
                           rule="unknown_purchase_type") from None


def _check_years(years: int) -> None:
    if isinstance(years, bool) or not isinstance(years, int) or not (
            MIN_YEARS <= years <= MAX_YEARS):
        raise PricingError(f"{years!r} is not a term name.com sells ({MIN_YEARS}-{MAX_YEARS} "
                           "years).", rule="years_range")


def _check_same_domain(pricing: RegistryPricing, domain: str) -> None:
    if pricing.domain.lower() != domain.lower():
        raise PricingError(f"Get Pricing was for {pricing.domain}, not {domain}.",
                           rule="pricing_same_domain")


def _refuse_discovery(value: object, what: str, *, rule: str) -> None:
    if value is not None and not isinstance(value, RegistryPricing):
        raise PricingError(f"Use Get Pricing {what} here, not a discovery result.", rule=rule)


def _refuse_total_paid(value: object, what: str) -> None:
    if isinstance(value, TotalPaid):
        # 004 What not to do: "Do not include VAT in purchasePrice or derive it from
        # totalPaid".
        raise PricingError(
            f"{what} cannot come from totalPaid (it includes VAT and Whois Privacy).",
            rule="no_price_from_total_paid",
        )
    if value is not None and not isinstance(value, Money):
        # Never floats: a price is Money in minor units (see to_money).
        raise PricingError(f"{what} must be Money in minor units, not {type(value).__name__}.",
                           rule="exact_decimal_prices")


def _show(money: Money | None) -> str:
    return "none" if money is None else f"{to_decimal(money)} {money.currency}"
