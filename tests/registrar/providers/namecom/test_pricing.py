"""registrar.providers.namecom.pricing against document 004 (name.com pricing guide).

The first test is the document's scenario tables, one parametrized row per table row
(Create Domain, Renew Domain, Transfers): for each, whether `purchasePrice` is sent,
its exact value, and `years`. Then one test per combination the document forbids.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest

from registrar.providers.base import Money
from registrar.providers.errors import PriceMoved, ProviderError, QuoteRefused
from registrar.providers.namecom.pricing import (
    ACQUISITION_TYPES,
    Discovery,
    Operation,
    PriceChanged,
    PricingError,
    PurchaseType,
    Quote,
    RegistryPricing,
    Source,
    TotalPaid,
    confirm_create,
    quote_create,
    quote_renew,
    quote_transfer,
    requires_recheck,
    to_decimal,
    to_money,
)

DOMAIN = "shoe.luxe"


def usd(amount: str) -> Money:
    return to_money(amount)


def found(purchase_type: str | None = "registration", *, premium: bool = False,
          price: str | None = "12.99", renewal: str | None = "14.99",
          source: Source = Source.CHECK_AVAILABILITY, purchasable: bool = True,
          domain: str = DOMAIN) -> Discovery:
    """A Check Availability / Search result."""
    return Discovery(domain=domain, purchasable=purchasable, purchase_type=purchase_type,
                     premium=premium, purchase_price=usd(price) if price else None,
                     renewal_price=usd(renewal) if renewal else None, source=source)


def priced(years: int, *, premium: bool = False, purchase: str | None = None,
           renewal: str | None = None, transfer: str | None = None,
           domain: str = DOMAIN) -> RegistryPricing:
    """A Get Pricing answer for `years`."""
    return RegistryPricing(
        domain=domain, years=years, premium=premium,
        purchase_price=usd(purchase) if purchase else None,
        renewal_price=usd(renewal) if renewal else None,
        transfer_price=usd(transfer) if transfer else None,
    )


# --- The scenario tables ------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One row of a 004 scenario table and what the request must carry."""

    id: str
    build: Callable[[], Quote]
    purchase_price: str | None  # None: purchasePrice must be omitted
    years: int | None  # None: years must be omitted
    total: str | None  # None: not quoted (no Get Pricing call was made)
    purchase_type: PurchaseType = PurchaseType.REGISTRATION


ACQUISITION_ROWS = [
    Row(
        f"create/{kind.replace('_', '-')}/premium-{str(premium).lower()}",
        # 004 "Aftermarket ... often true", "Expiring / Backorder ... varies".
        lambda kind=kind, premium=premium: quote_create(
            found(kind, premium=premium, price="5000.00"), allow_acquisition=True),
        purchase_price="5000.00", years=None, total="5000.00", purchase_type=PurchaseType(kind),
    )
    for kind in ("aftermarket_s", "aftermarket_b", "aftermarket_i", "expiring", "backorder")
    for premium in (True, False)
]

SCENARIOS = [
    # Create Domain: "Standard registration | registration | false | Omit (optional quote
    # from Get Pricing) | Set term".
    Row("create/standard-registration/without-get-pricing",
        lambda: quote_create(found(premium=False), years=2),
        purchase_price=None, years=2, total=None),
    Row("create/standard-registration/with-optional-get-pricing",
        lambda: quote_create(found(premium=False), years=2,
                             registry_pricing=priced(2, purchase="25.98")),
        purchase_price=None, years=2, total="25.98"),
    # "Registry premium | registration | true | Yes — from Get Pricing | Set term — same
    # value on Get Pricing". The discovery price (349.95, minimum term) is not used.
    Row("create/registry-premium",
        lambda: quote_create(found(premium=True, price="349.95"), years=2,
                             registry_pricing=priced(2, premium=True, purchase="699.90")),
        purchase_price="699.90", years=2, total="699.90"),
    Row("create/registry-premium/one-year",
        lambda: quote_create(found(premium=True, price="349.95"), years=1,
                             registry_pricing=priced(1, premium=True, purchase="349.95")),
        purchase_price="349.95", years=1, total="349.95"),
    # "Aftermarket / Expiring / Backorder | Yes — from Search or Check Availability |
    # Omit or TLD default — does not affect price or registration length".
    *ACQUISITION_ROWS,
    Row("create/aftermarket-b/from-search",
        lambda: quote_create(found("aftermarket_b", premium=True, price="1200.00",
                                   source=Source.SEARCH), allow_acquisition=True),
        purchase_price="1200.00", years=None, total="1200.00",
        purchase_type=PurchaseType.AFTERMARKET_B),
    # Renew Domain: "Standard renewal | Get Pricing (optional quote) | Omit".
    Row("renew/standard/without-get-pricing",
        lambda: quote_renew(DOMAIN, 3),
        purchase_price=None, years=3, total=None),
    Row("renew/standard/with-optional-get-pricing",
        lambda: quote_renew(DOMAIN, 3, priced(3, renewal="44.97")),
        purchase_price=None, years=3, total="44.97"),
    # "Premium renewal | Get Pricing renewalPrice with matching years | Yes — pass
    # renewalPrice as purchasePrice".
    Row("renew/premium",
        lambda: quote_renew(DOMAIN, 2, priced(2, premium=True, renewal="49.98")),
        purchase_price="49.98", years=2, total="49.98"),
    # Transfers: "Standard transfer | Get Pricing (optional quote) | Omit".
    Row("transfer/standard/without-get-pricing",
        lambda: quote_transfer(DOMAIN),
        purchase_price=None, years=None, total=None),
    Row("transfer/standard/with-optional-get-pricing",
        lambda: quote_transfer(DOMAIN, priced(1, transfer="12.99")),
        purchase_price=None, years=None, total="12.99"),
    # "Premium transfer | Get Pricing transferPrice | Yes — pass transferPrice as
    # purchasePrice"; "transferPrice is not affected by the years query parameter".
    Row("transfer/premium",
        lambda: quote_transfer(DOMAIN, priced(1, premium=True, transfer="250.00")),
        purchase_price="250.00", years=None, total="250.00"),
    Row("transfer/premium/get-pricing-asked-for-5-years",
        lambda: quote_transfer(DOMAIN, priced(5, premium=True, transfer="250.00")),
        purchase_price="250.00", years=None, total="250.00"),
]


@pytest.mark.parametrize("row", SCENARIOS, ids=[row.id for row in SCENARIOS])
def test_scenario_tables(row: Row):
    quote = row.build()

    assert quote.sends_purchase_price is (row.purchase_price is not None)
    fields = quote.request_fields()
    if row.purchase_price is None:
        assert "purchasePrice" not in fields
        assert quote.purchase_price is None
    else:
        # Exact to the cent, as a Decimal: never a float.
        assert fields["purchasePrice"] == Decimal(row.purchase_price)
        assert isinstance(fields["purchasePrice"], Decimal)
        assert quote.purchase_price == usd(row.purchase_price)
    if row.years is None:
        assert "years" not in fields
        assert quote.years is None
    else:
        assert fields["years"] == row.years
    assert quote.total == (usd(row.total) if row.total else None)
    assert quote.purchase_type is row.purchase_type
    assert quote.notes, "every quote explains itself"


def test_every_table_row_is_covered():
    ids = {row.id for row in SCENARIOS}
    assert {i.split("/")[0] for i in ids} == {"create", "renew", "transfer"}
    assert {PurchaseType(row.purchase_type) for row in SCENARIOS} == set(PurchaseType)
    assert any(i.startswith("create/standard-registration") for i in ids)
    assert any(i.startswith("create/registry-premium") for i in ids)
    assert {"renew/premium", "transfer/premium"} <= ids


def test_purchase_types_match_the_billing_vocabulary():
    from billing.models import PurchaseType as BillingPurchaseType

    assert {p.value for p in PurchaseType} == set(BillingPurchaseType.values)
    assert set(PurchaseType) - {PurchaseType.REGISTRATION} == ACQUISITION_TYPES


def test_acquisition_price_is_flat_whatever_the_discovery_renewal_price():
    # 004: acquisition fees are flat; discovery renewalPrice is never a create total.
    quote = quote_create(found("expiring", price="5000.00", renewal="30.00"),
                         allow_acquisition=True)
    assert quote.total == usd("5000.00")
    assert quote.purchase_price == usd("5000.00")


def test_create_never_uses_the_discovery_renewal_price():
    # 004 What not to do: "Do not use discovery renewalPrice for create".
    standard = quote_create(found(premium=False, price="12.99", renewal="99.00"), years=3)
    assert standard.total is None and standard.purchase_price is None
    premium = quote_create(found(premium=True, price="349.95", renewal="99.00"), years=1,
                           registry_pricing=priced(1, premium=True, purchase="349.95"))
    assert premium.purchase_price == usd("349.95")


def test_whois_privacy_is_not_part_of_the_price():
    # 004: "purchasePrice is the domain fee only; Whois Privacy is charged separately".
    quote = quote_transfer(DOMAIN, priced(1, premium=True, transfer="250.00"))
    assert quote.purchase_price == usd("250.00")
    assert any("Whois Privacy" in note for note in quote.notes)


# --- Re-check before create -----------------------------------------------------------------


def test_requires_recheck_for_every_create_and_not_for_renew_or_transfer():
    # 004: "Every path should re-run Check Availability right before Create Domain".
    assert requires_recheck(Operation.CREATE)
    assert requires_recheck(quote_create(found()))
    assert requires_recheck(quote_create(found("backorder", price="80.00"),
                                         allow_acquisition=True))
    assert not requires_recheck(Operation.RENEW)
    assert not requires_recheck(quote_transfer(DOMAIN))


def test_confirm_create_passes_when_nothing_moved():
    quote = quote_create(found(premium=True, price="349.95"), years=2,
                         registry_pricing=priced(2, premium=True, purchase="699.90"))
    assert confirm_create(quote, found(premium=True, price="349.95")) is quote


@pytest.mark.parametrize(("fresh", "rule"), [
    (found("aftermarket_s", price="5100.00"), "price_moved"),
    (found("aftermarket_s", price="5000.00", purchasable=False), "no_longer_purchasable"),
    (found("backorder", price="5000.00"), "purchase_type_changed"),
    (found("aftermarket_s", premium=True, price="5000.00"), "premium_changed"),
], ids=["price-moved", "no-longer-purchasable", "purchase-type-changed", "premium-changed"])
def test_confirm_create_refuses_when_the_recheck_moved(fresh, rule):
    quote = quote_create(found("aftermarket_s", price="5000.00"), allow_acquisition=True)
    with pytest.raises(PriceChanged) as caught:
        confirm_create(quote, fresh)
    assert caught.value.rule == rule
    assert caught.value.code == "price_changed"
    assert "Nothing was bought" in caught.value.message
    # The generic "moved since the quote" refusal billing tells apart (CANCELLED).
    assert isinstance(caught.value, PriceMoved)
    assert caught.value.retryable is False


def test_confirm_create_refuses_a_search_result_as_the_recheck():
    # 004: "re-run Check Availability right before Create Domain" — Search does not count.
    quote = quote_create(found())
    with pytest.raises(PricingError) as caught:
        confirm_create(quote, found(source=Source.SEARCH))
    assert caught.value.rule == "recheck_with_check_availability"


def test_confirm_create_refuses_a_recheck_of_another_domain():
    with pytest.raises(PricingError) as caught:
        confirm_create(quote_create(found()), found(domain="other.luxe"))
    assert caught.value.rule == "recheck_same_domain"


def test_confirm_create_is_only_for_creates():
    with pytest.raises(PricingError) as caught:
        confirm_create(quote_renew(DOMAIN, 1), found())
    assert caught.value.rule == "recheck_is_for_create"


# --- Forbidden combinations (one test each) ---------------------------------------------


def assert_refused(rule: str, call: Callable[[], object]) -> PricingError:
    with pytest.raises(PricingError) as caught:
        call()
    assert caught.value.rule == rule, caught.value.message
    assert isinstance(caught.value, ProviderError)  # shown to staff like any refusal
    # Billing refuses the order on any upstream's QuoteRefused, with its rule.
    assert isinstance(caught.value, QuoteRefused)
    assert caught.value.details["rule"] == rule
    assert caught.value.message
    return caught.value


@pytest.mark.parametrize("source", [Source.ZONE_CHECK, Source.TLD_PRICING, Source.GET_PRICING])
def test_only_check_availability_or_search_can_price_a_create(source):
    # 004 What not to do: "Do not use Zone Check for purchaseType, purchasePrice, or
    # checkout pricing"; Endpoint roles: only discovery returns purchaseType.
    assert_refused("discovery_source", lambda: quote_create(found(source=source)))


def test_a_result_without_purchase_type_cannot_be_priced():
    assert_refused("discovery_source", lambda: quote_create(found(None)))


def test_get_pricing_alone_cannot_say_how_a_domain_is_acquired():
    # 004 What not to do: "Do not use Get Pricing alone to discover how a domain is acquired".
    assert_refused("get_pricing_is_not_discovery",
                   lambda: quote_create(priced(1, premium=True, purchase="349.95")))


def test_registry_premium_without_get_pricing():
    # 004: registry premium: "required purchasePrice from Get Pricing with matching years".
    assert_refused("registry_premium_needs_get_pricing",
                   lambda: quote_create(found(premium=True, price="349.95"), years=2))


def test_registry_premium_with_get_pricing_for_other_years():
    assert_refused("create_pricing_same_years", lambda: quote_create(
        found(premium=True, price="349.95"), years=2,
        registry_pricing=priced(1, premium=True, purchase="349.95")))


def test_standard_registration_with_get_pricing_for_other_years():
    # 004: "When using Get Pricing to preview or validate, pass the same years".
    assert_refused("create_pricing_same_years", lambda: quote_create(
        found(), years=3, registry_pricing=priced(1, purchase="12.99")))


def test_registry_premium_when_get_pricing_offers_no_registration():
    assert_refused("registration_not_offered", lambda: quote_create(
        found(premium=True), years=2, registry_pricing=priced(2, premium=True)))


def test_discovery_and_get_pricing_disagree_on_premium():
    assert_refused("premium_flags_disagree", lambda: quote_create(
        found(premium=False), years=1,
        registry_pricing=priced(1, premium=True, purchase="349.95")))


def test_get_pricing_for_another_domain():
    assert_refused("pricing_same_domain", lambda: quote_create(
        found(premium=True), years=1,
        registry_pricing=priced(1, premium=True, purchase="349.95", domain="other.luxe")))


@pytest.mark.parametrize("kind", sorted(ACQUISITION_TYPES))
def test_get_pricing_price_for_an_acquisition_create(kind):
    # 004 What not to do: "Do not use Get Pricing purchasePrice for aftermarket,
    # expiring, or backorder create".
    assert_refused("no_get_pricing_for_acquisition", lambda: quote_create(
        found(kind, price="5000.00"), registry_pricing=priced(1, purchase="12.99"),
        allow_acquisition=True))


def test_acquisition_price_is_never_multiplied_by_years():
    # 004: "years: 5 with purchasePrice: 5000 still charges $5,000"; "Do not multiply
    # discovery purchasePrice x years"; "Omit years or pass the TLD default".
    error = assert_refused("acquisition_years", lambda: quote_create(
        found("aftermarket_i", premium=True, price="5000.00"), years=5,
        allow_acquisition=True))
    assert "renew" in error.message


def test_acquisition_without_a_discovery_price():
    # 004: for acquisition types purchasePrice is "Always required on create".
    assert_refused("acquisition_needs_discovery_price", lambda: quote_create(
        found("expiring", price=None), allow_acquisition=True))


def test_acquisition_types_are_unsupported_unless_opted_in():
    # 004 Pattern A: a non-registration purchaseType at checkout is treated as unsupported.
    assert_refused("acquisition_not_enabled",
                   lambda: quote_create(found("aftermarket_s", price="5000.00")))


def test_unknown_purchase_type():
    assert_refused("unknown_purchase_type", lambda: quote_create(found("auction")))


def test_not_purchasable():
    assert_refused("not_purchasable", lambda: quote_create(found(purchasable=False)))


@pytest.mark.parametrize("years", [0, 11, -1, True])
def test_years_outside_what_name_com_sells(years):
    assert_refused("years_range", lambda: quote_create(found(), years=years))


def test_discovery_renewal_price_for_a_renewal():
    # 004 What not to do: "Do not use discovery renewalPrice for ... premium renew totals".
    assert_refused("discovery_renewal_price",
                   lambda: quote_renew(DOMAIN, 1, found(premium=True)))  # type: ignore[arg-type]


def test_premium_renewal_without_get_pricing():
    assert_refused("premium_renewal_needs_get_pricing",
                   lambda: quote_renew(DOMAIN, 1, premium=True))


def test_premium_renewal_with_get_pricing_for_other_years():
    # 004 Renew Domain: "Get Pricing renewalPrice with matching years".
    assert_refused("renew_pricing_same_years", lambda: quote_renew(
        DOMAIN, 3, priced(1, premium=True, renewal="24.99")))


def test_premium_renewal_not_offered():
    assert_refused("renewal_not_offered",
                   lambda: quote_renew(DOMAIN, 2, priced(2, premium=True)))


def test_discovery_price_for_a_transfer():
    assert_refused("transfer_price_from_get_pricing",
                   lambda: quote_transfer(DOMAIN, found(premium=True)))  # type: ignore[arg-type]


def test_premium_transfer_without_get_pricing():
    # 004: "Premium transfers without purchasePrice return 'PurchasePrice is required...'".
    assert_refused("premium_transfer_needs_get_pricing",
                   lambda: quote_transfer(DOMAIN, premium=True))


def test_premium_transfer_not_offered():
    assert_refused("transfer_not_offered",
                   lambda: quote_transfer(DOMAIN, priced(1, premium=True)))


def test_a_transfer_carries_no_years():
    assert_refused("transfer_has_no_years", lambda: Quote(
        Operation.TRANSFER, DOMAIN, PurchaseType.REGISTRATION, False,
        purchase_price=None, years=1, total=None))


def test_total_paid_is_never_a_price():
    # 004 What not to do: "Do not include VAT in purchasePrice or derive it from totalPaid".
    paid = TotalPaid(71390, "USD")
    assert_refused("no_price_from_total_paid", lambda: quote_renew(
        DOMAIN, 1, RegistryPricing(DOMAIN, 1, premium=True, renewal_price=paid)))
    assert_refused("no_price_from_total_paid", lambda: quote_create(
        Discovery(DOMAIN, True, "backorder", purchase_price=paid), allow_acquisition=True))
    assert_refused("no_price_from_total_paid", lambda: Quote(
        Operation.RENEW, DOMAIN, PurchaseType.REGISTRATION, True,
        purchase_price=paid, years=1, total=paid))


def test_floats_are_never_prices():
    assert_refused("exact_decimal_prices", lambda: to_money(12.99))  # type: ignore[arg-type]
    assert_refused("exact_decimal_prices", lambda: quote_create(
        Discovery(DOMAIN, True, "expiring", purchase_price=12.99),  # type: ignore[arg-type]
        allow_acquisition=True))


def test_prices_are_exact_to_the_cent():
    # 004: "If you send purchasePrice, it must match exactly to the cent".
    assert_refused("match_to_the_cent", lambda: to_money("12.345"))
    for not_a_price in ("twelve", "-1.00", "NaN", "Infinity"):
        assert_refused("exact_decimal_prices", lambda amount=not_a_price: to_money(amount))
    assert to_money("699.90") == Money(69990, "USD")
    assert to_money("0.1") == Money(10, "USD")
    assert to_money(5000) == Money(500000, "USD")
    assert to_decimal(Money(69990, "USD")) == Decimal("699.90")
    assert str(to_decimal(Money(5, "USD"))) == "0.05"


def test_quote_holds_enums_and_refuses_unknown_values():
    quote = Quote("renew", DOMAIN, "registration", False,  # type: ignore[arg-type]
                  purchase_price=None, years=1, total=None)
    assert quote.operation is Operation.RENEW
    assert quote.purchase_type is PurchaseType.REGISTRATION
    assert_refused("unknown_purchase_type", lambda: Quote(
        Operation.CREATE, DOMAIN, "auction", False,  # type: ignore[arg-type]
        purchase_price=None, years=1, total=None))


def test_pricing_errors_survive_pickling():
    import pickle

    error = pickle.loads(pickle.dumps(PriceChanged("moved", rule="price_moved")))  # noqa: S301
    assert (type(error), error.rule, error.code, error.message) == (
        PriceChanged, "price_moved", "price_changed", "moved")
    refused = pickle.loads(pickle.dumps(PricingError("no", rule="years_range")))  # noqa: S301
    assert (type(refused), refused.rule, refused.code) == (
        PricingError, "years_range", "pricing_rule")


def test_pricing_errors_are_the_generic_quote_refusals():
    assert issubclass(PricingError, QuoteRefused)
    assert issubclass(PriceChanged, PricingError) and issubclass(PriceChanged, PriceMoved)
    assert PricingError().message == PricingError.default_message
    assert PriceChanged().code == "price_changed"
