"""What NamecomProvider sends for each name.com endpoint, what it makes of the answers,
how the create flow re-checks availability before buying (document 004), and the order
hooks billing calls: the quote kept on the local order, the purchase placed from it,
and the order record (with the registration it delivered) that comes back.

Only the HTTP boundary is fake: `tests.fakes.http.Scripted` answers the wire-level
tests from a script; `tests.fakes.namecom.FakeNamecom` (a catalogue, the account's
domains, name.com's price checks) answers the flows. Sleeps are recorded, never slept.
"""

from __future__ import annotations

import base64
import inspect
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from registrar.providers.base import (
    Capability,
    DomainPlacement,
    DomainQuote,
    DomainQuoteRequest,
    Money,
    OrderAction,
    OrderState,
    OrderType,
    Provider,
    RegistrationState,
)
from registrar.providers.errors import (
    AuthenticationFailed,
    BadRequest,
    CallerError,
    Conflict,
    InvalidRequest,
    MalformedResponse,
    NotFound,
    PermissionDenied,
    PriceMoved,
    QuoteRefused,
    RateLimited,
    UpstreamFailure,
)
from registrar.providers.http import NO_RETRY
from registrar.providers.namecom import ordering
from registrar.providers.namecom.adapter import NamecomProvider, Purchase
from registrar.providers.namecom.pricing import (
    Discovery,
    Operation,
    PriceChanged,
    PricingError,
    PurchaseType,
    Quote,
    RegistryPricing,
    Source,
    TotalPaid,
    quote_create,
    quote_renew,
    quote_transfer,
    to_money,
)
from tests.fakes.http import NO_BODY, REQUEST_ID, Answer, Scripted, assert_body, respond
from tests.fakes.namecom import FakeNamecom

BASE_URL = "https://api.dev.name.com"
USERNAME = "acme-reseller"
TOKEN = "0123456789abcdef"
BASIC = "Basic " + base64.b64encode(f"{USERNAME}:{TOKEN}".encode()).decode()
DOMAIN = "shoe.luxe"


def connect(upstream: Any, sleeps: list[float] | None = None,
            **provider_kwargs: Any) -> NamecomProvider:
    """The adapter, reaching `upstream` (a Scripted script or a FakeNamecom)."""
    return NamecomProvider(
        base_url=BASE_URL, token=TOKEN, account_ref=USERNAME,
        transport=httpx.MockTransport(upstream),
        sleep=(sleeps if sleeps is not None else []).append, **provider_kwargs,
    )


def scripted(*answers: Answer, **provider_kwargs: Any) -> tuple[NamecomProvider, Scripted]:
    upstream = Scripted(*answers)
    return connect(upstream, **provider_kwargs), upstream




def assert_sent(request: httpx.Request, method: str, raw_path: str, *,
                params: dict[str, str] | None = None, body: Any = NO_BODY) -> None:
    """The exact request: method, path, query, basic auth, JSON body."""
    assert request.method == method
    assert request.url.host == "api.dev.name.com"
    path, _, _ = request.url.raw_path.decode("ascii").partition("?")
    assert path == raw_path
    assert sorted(request.url.params.multi_items()) == sorted((params or {}).items())
    # name.com: HTTP basic auth with the API username (account_ref) and the token.
    assert request.headers["Authorization"] == BASIC
    assert request.headers["Accept"] == "application/json"
    assert not request.headers["User-Agent"].startswith("python-httpx")
    # Prices read back as Decimals: equal to the exact cents, not just close.
    assert_body(request, body, decimals=True)


# --- name.com answer shapes --------------------------------------------------------------


def result(domain: str = DOMAIN, *, purchasable: bool = True, premium: bool | None = True,
           purchase_type: str | None = "registration", price: float | None = 349.95,
           renewal: float | None = 24.99, reason: str | None = None) -> dict[str, Any]:
    """One SearchResult, as Check Availability and Search return it."""
    sld, _, tld = domain.partition(".")
    data: dict[str, Any] = {"domainName": domain, "sld": sld, "tld": tld,
                            "purchasable": purchasable}
    if purchasable:  # premium, prices and purchaseType only come for purchasable names
        if premium is not None:
            data["premium"] = premium
        if purchase_type is not None:
            data["purchaseType"] = purchase_type
        if price is not None:
            data["purchasePrice"] = price
        if renewal is not None:
            data["renewalPrice"] = renewal
    if reason:
        data["reason"] = reason
    return data


def domain_record(domain: str = DOMAIN, **overrides: Any) -> dict[str, Any]:
    return {"domainName": domain, "nameservers": ["ns1.name.com", "ns2.name.com"],
            "privacyEnabled": False, "locked": True, "autorenewEnabled": False,
            "expireDate": "2027-07-01T00:00:00Z", "createDate": "2025-07-01T00:00:00Z",
            "renewalPrice": 24.99, **overrides}


def usd(amount: str) -> Money:
    return to_money(amount)


def check_path() -> str:
    return "/core/v1/domains:checkAvailability"


# --- Shape of the adapter ----------------------------------------------------------------

COVERED_METHODS = {
    "ping", "check_availability", "check_domain", "search", "get_pricing",
    "create_domain", "renew_domain", "transfer_domain", "quote_domain_order",
    "place_domain_order", "domain_offer", "domain_suggestions", "zone_check",
    "tld_list_prices",
}


def test_every_public_method_of_the_adapter_has_request_tests():
    public = {name for name, member in vars(NamecomProvider).items()
              if not name.startswith("_") and inspect.isfunction(member)}
    assert public == COVERED_METHODS


def test_kind_capabilities_and_order_rules():
    provider, _ = scripted(respond())
    assert isinstance(provider, Provider)
    assert provider.kind == "namecom"
    assert provider.capabilities == {Capability.DOMAIN_ORDERS, Capability.DOMAIN_SEARCH,
                                     Capability.ZONE_CHECK, Capability.TLD_LIST_PRICES}
    # All three purchases; name.com uses the account's default contacts when none are
    # sent, so no registrant is required, and it quotes its own prices (no ceiling).
    assert provider.ordering_actions == {OrderAction.REGISTER, OrderAction.TRANSFER,
                                         OrderAction.RENEW}
    assert provider.order_owner_required == frozenset()
    assert provider.order_ceiling_required is False
    assert provider.requires_account_ref is True


def test_the_registry_builds_it_with_build_provider_arguments():
    from registrar.providers.registry import adapter_class

    cls = adapter_class("namecom")
    assert cls is NamecomProvider
    recorder = Scripted(respond(200, {"motd": "hello"}))
    provider = cls(base_url=BASE_URL, token=TOKEN, account_ref=USERNAME, timeout=10.0,
                   user_agent="registrar-backoffice/1.0",
                   transport=httpx.MockTransport(recorder), label="name.com")
    provider.ping()
    assert recorder.only.headers["Authorization"] == BASIC
    assert recorder.only.headers["User-Agent"] == "registrar-backoffice/1.0"


def test_close_closes_the_client_without_a_request():
    provider, upstream = scripted(respond())
    provider.close()
    assert upstream.count == 0
    assert provider.http._client.is_closed


def test_ping_says_hello():
    provider, upstream = scripted(respond(200, {"motd": "hello", "username": USERNAME}))
    assert provider.ping() is None
    assert_sent(upstream.only, "GET", "/core/v1/hello")


# --- Discovery ------------------------------------------------------------------------------


def test_hello_with_the_accounts_credentials_and_without(namecom):
    connect(namecom).ping()
    assert_sent(namecom.only, "GET", "/core/v1/hello")
    assert namecom.credentials(namecom.only) == (USERNAME, TOKEN)

    namecom.token = "rotated-token"
    with pytest.raises(AuthenticationFailed):
        connect(namecom).ping()


def test_search_against_the_catalogue_hides_acquisitions_unless_asked(namecom):
    namecom.offer("shoe.luxe", premium=True, price="349.95", renewal="349.95")
    namecom.offer("shoe.shop", purchase_type="aftermarket_b", premium=True, price="1200.00")
    provider = connect(namecom)

    registration_only = provider.search("shoe", tld_filter=["luxe", "shop"])
    everything = provider.search("shoe", tld_filter=["luxe", "shop"], registration_only=False)

    assert [(f.domain, f.purchase_type, f.premium, f.purchase_price)
            for f in registration_only] == [("shoe.luxe", "registration", True,
                                             usd("349.95"))]
    assert [(f.domain, f.purchase_type) for f in everything] == [
        ("shoe.luxe", "registration"), ("shoe.shop", "aftermarket_b")]
    assert [json.loads(r.content) for r in namecom.requests] == [
        {"keyword": "shoe", "tldFilter": ["luxe", "shop"], "purchaseType": "registration"},
        {"keyword": "shoe", "tldFilter": ["luxe", "shop"]}]
    # The create that follows is quoted from the flat discovery fee (004 Pattern C).
    assert quote_create(everything[1], allow_acquisition=True).purchase_price == usd("1200.00")


@pytest.mark.parametrize(("registration_only", "body"), [
    (True, {"domainNames": [DOMAIN, "taken.com"], "purchaseType": "registration"}),
    (False, {"domainNames": [DOMAIN, "taken.com"]}),
], ids=["pattern-a-registration-only", "pattern-c-all-purchase-types"])
def test_check_availability(registration_only, body):
    provider, upstream = scripted(respond(200, {"results": [
        result(), result("taken.com", purchasable=False, reason="registered"),
    ]}))

    found = provider.check_availability([DOMAIN, "taken.com"],
                                        registration_only=registration_only)

    assert_sent(upstream.only, "POST", check_path(), body=body)
    assert found == [
        Discovery(DOMAIN, True, "registration", premium=True, purchase_price=usd("349.95"),
                  renewal_price=usd("24.99"), source=Source.CHECK_AVAILABILITY),
        Discovery("taken.com", False, None, premium=False, source=Source.CHECK_AVAILABILITY,
                  reason="registered"),
    ]


def test_check_availability_refuses_a_bare_string():
    provider, upstream = scripted(respond())
    with pytest.raises(CallerError):
        provider.check_availability(DOMAIN)  # type: ignore[arg-type]
    assert upstream.count == 0


def test_check_domain_picks_its_result_and_reads_a_missing_premium_as_false():
    provider, _ = scripted(respond(200, {"results": [
        result(premium=None, price=12.99, renewal=14.99)]}))
    found = provider.check_domain(DOMAIN)
    assert found.premium is False
    assert found.purchase_price == usd("12.99")
    assert found.source is Source.CHECK_AVAILABILITY


def test_check_domain_without_its_result_is_malformed():
    provider, _ = scripted(respond(200, {"results": [result("other.luxe")]}))
    with pytest.raises(MalformedResponse):
        provider.check_domain(DOMAIN)


def test_search():
    provider, upstream = scripted(respond(200, {"results": [
        result("shoe.luxe"),
        result("shoe.shop", premium=False, price=3.99, renewal=39.99),
    ]}))

    found = provider.search("shoe", tld_filter=["luxe", "shop"], timeout_ms=3000)

    assert_sent(upstream.only, "POST", "/core/v1/domains:search", body={
        "keyword": "shoe", "tldFilter": ["luxe", "shop"], "timeout": 3000,
        "purchaseType": "registration"})
    assert [f.source for f in found] == [Source.SEARCH, Source.SEARCH]
    assert found[1] == Discovery("shoe.shop", True, "registration", premium=False,
                                 purchase_price=usd("3.99"), renewal_price=usd("39.99"),
                                 source=Source.SEARCH)


def test_search_without_filters_and_with_no_results():
    provider, upstream = scripted(respond(200, {}))
    assert provider.search("shoe", registration_only=False) == []
    assert_sent(upstream.only, "POST", "/core/v1/domains:search",
                body={"keyword": "shoe"})


def test_get_pricing():
    provider, upstream = scripted(respond(200, {"premium": True, "purchasePrice": 699.9,
                                                "renewalPrice": 49.98, "transferPrice": 24.99}))

    pricing = provider.get_pricing(DOMAIN, 2)

    assert_sent(upstream.only, "GET", "/core/v1/domains/shoe.luxe:getPricing",
                params={"years": "2"})
    assert pricing == RegistryPricing(DOMAIN, 2, premium=True, purchase_price=usd("699.90"),
                                      renewal_price=usd("49.98"), transfer_price=usd("24.99"))


def test_get_pricing_null_prices_mean_not_offered():
    provider, _ = scripted(respond(200, {"premium": False, "purchasePrice": None}))
    pricing = provider.get_pricing(DOMAIN, 1)
    assert pricing.purchase_price is pricing.renewal_price is pricing.transfer_price is None


@pytest.mark.parametrize("years", ["2", 2.0, True])
def test_get_pricing_needs_whole_years(years):
    provider, upstream = scripted(respond(200, {"premium": False}))
    with pytest.raises(CallerError):
        provider.get_pricing(DOMAIN, years)
    assert upstream.count == 0


def test_get_pricing_quotes_the_domain_into_the_path():
    provider, upstream = scripted(respond(200, {"premium": False}))
    provider.get_pricing("a/b?c.com", 1)
    assert_sent(upstream.only, "GET", "/core/v1/domains/a%2Fb%3Fc.com:getPricing",
                params={"years": "1"})


@pytest.mark.parametrize("answer", [
    {"premium": False, "purchasePrice": 12.345},  # a fraction of a cent
    {"premium": "yes", "purchasePrice": 12.99},
    {"premium": False, "purchasePrice": {"amount": 12.99}},
    [],
], ids=["sub-cent-price", "premium-not-bool", "price-not-a-number", "not-an-object"])
def test_get_pricing_malformed_answers(answer):
    provider, _ = scripted(respond(200, answer))
    with pytest.raises(MalformedResponse):
        provider.get_pricing(DOMAIN, 1)


def test_a_result_without_purchasable_is_malformed():
    provider, _ = scripted(respond(200, {"results": [{"domainName": DOMAIN}]}))
    with pytest.raises(MalformedResponse):
        provider.check_availability([DOMAIN])


# --- Create Domain: the re-check, then exactly what the quote decided ----------------------


def create_answer(total: float, domain: str = DOMAIN) -> Answer:
    return respond(200, {"domain": domain_record(domain), "order": 4567, "totalPaid": total})


def test_create_standard_registration_rechecks_then_omits_purchase_price():
    quote = quote_create(Discovery(DOMAIN, True, "registration", premium=False,
                                   purchase_price=usd("12.99")), years=2)
    provider, upstream = scripted(
        respond(200, {"results": [result(premium=False, price=12.99)]}),
        create_answer(25.98),
    )

    purchase = provider.create_domain(quote, privacy_enabled=False, autorenew_enabled=True)

    recheck, create = upstream.requests
    assert_sent(recheck, "POST", check_path(),
                body={"domainNames": [DOMAIN], "purchaseType": "registration"})
    assert_sent(create, "POST", "/core/v1/domains", body={
        "domain": {"domainName": DOMAIN, "privacyEnabled": False, "autorenewEnabled": True},
        "purchaseType": "registration", "years": 2,
    })
    assert purchase == Purchase(Operation.CREATE, "4567", TotalPaid(2598, "USD"), quote,
                                domain=domain_record(), request_id=REQUEST_ID)


def test_create_registry_premium_sends_get_pricing_price_with_the_same_years():
    discovery = Discovery(DOMAIN, True, "registration", premium=True,
                          purchase_price=usd("349.95"))
    quote = quote_create(discovery, years=2, registry_pricing=RegistryPricing(
        DOMAIN, 2, premium=True, purchase_price=usd("699.90")))
    provider, upstream = scripted(respond(200, {"results": [result()]}), create_answer(713.9))

    purchase = provider.create_domain(
        quote, privacy_enabled=True, contacts={"registrant": {"firstName": "Ada"}},
        tld_requirements={"x-luxe-accept": "1"})

    assert upstream.count == 2
    assert_sent(upstream.requests[1], "POST", "/core/v1/domains", body={
        "domain": {"domainName": DOMAIN, "privacyEnabled": True,
                   "contacts": {"registrant": {"firstName": "Ada"}}},
        "purchaseType": "registration",
        # Exactly Get Pricing's total for 2 years; privacy is charged on top upstream.
        "purchasePrice": Decimal("699.90"),
        "years": 2,
        "tldRequirements": {"x-luxe-accept": "1"},
    })
    assert b'"purchasePrice":699.9,' in upstream.requests[1].content
    # totalPaid includes privacy (and VAT): kept apart from the price, never reused.
    assert purchase.total_paid == TotalPaid(71390, "USD")
    with pytest.raises(PricingError):
        quote_renew(DOMAIN, 1, RegistryPricing(DOMAIN, 1, premium=True,
                                               renewal_price=purchase.total_paid))


@pytest.mark.parametrize("kind", ["aftermarket_s", "aftermarket_b", "aftermarket_i",
                                  "expiring", "backorder"])
def test_create_acquisition_sends_the_flat_discovery_price_and_no_years(kind):
    discovery = Discovery(DOMAIN, True, kind, premium=True, purchase_price=usd("5000.00"),
                          source=Source.SEARCH)
    quote = quote_create(discovery, allow_acquisition=True)
    provider, upstream = scripted(
        respond(200, {"results": [result(purchase_type=kind, price=5000.0)]}),
        create_answer(5000.0),
    )

    provider.create_domain(quote)

    recheck, create = upstream.requests
    # 004 Pattern C: the re-check runs without the registration filter.
    assert_sent(recheck, "POST", check_path(), body={"domainNames": [DOMAIN]})
    assert_sent(create, "POST", "/core/v1/domains", body={
        "domain": {"domainName": DOMAIN}, "purchaseType": kind,
        "purchasePrice": Decimal("5000.00"),
    })


@pytest.mark.parametrize(("fresh", "rule"), [
    (result(purchase_type="aftermarket_s", price=5250.0), "price_moved"),
    (result(purchasable=False, reason="sold"), "no_longer_purchasable"),
    (result(purchase_type="backorder", price=5000.0), "purchase_type_changed"),
    (result(purchase_type="aftermarket_s", premium=False, price=5000.0), "premium_changed"),
], ids=["price-moved", "sold", "purchase-type-changed", "premium-changed"])
def test_create_refuses_when_the_recheck_moved_and_sends_no_create(fresh, rule):
    quote = quote_create(Discovery(DOMAIN, True, "aftermarket_s", premium=True,
                                   purchase_price=usd("5000.00")), allow_acquisition=True)
    provider, upstream = scripted(respond(200, {"results": [fresh]}), create_answer(5000.0))

    with pytest.raises(PriceChanged) as caught:
        provider.create_domain(quote)

    assert caught.value.rule == rule
    assert_sent(upstream.only, "POST", check_path(), body={"domainNames": [DOMAIN]})


def test_create_registry_premium_refused_when_the_discovery_price_moved():
    quote = quote_create(
        Discovery(DOMAIN, True, "registration", premium=True, purchase_price=usd("349.95")),
        years=1, registry_pricing=RegistryPricing(DOMAIN, 1, premium=True,
                                                  purchase_price=usd("349.95")))
    provider, upstream = scripted(respond(200, {"results": [result(price=399.95)]}))
    with pytest.raises(PriceChanged):
        provider.create_domain(quote)
    assert upstream.count == 1


def test_create_is_never_retried():
    # A POST that moves money is sent once: a 502 after it left may have bought the name.
    quote = quote_create(Discovery(DOMAIN, True, "registration",
                                   purchase_price=usd("12.99")), years=1)
    sleeps: list[float] = []
    upstream = Scripted(respond(200, {"results": [result(premium=False, price=12.99)]}),
                        respond(502, {"message": "Bad Gateway"}))
    with pytest.raises(UpstreamFailure):
        connect(upstream, sleeps).create_domain(quote)
    assert upstream.count == 2
    assert sleeps == []


@pytest.mark.parametrize("method", ["create_domain", "renew_domain", "transfer_domain"])
def test_purchases_refuse_a_quote_for_another_operation(method):
    provider, upstream = scripted(respond())
    wrong = quote_transfer(DOMAIN) if method != "transfer_domain" else quote_renew(DOMAIN)
    kwargs = {"auth_code": "x"} if method == "transfer_domain" else {}
    with pytest.raises(CallerError):
        getattr(provider, method)(wrong, **kwargs)
    assert upstream.count == 0


# --- Renew Domain -----------------------------------------------------------------------------


@pytest.mark.parametrize(("quote", "body"), [
    (quote_renew(DOMAIN, 3), {"years": 3}),
    (quote_renew(DOMAIN, 2, RegistryPricing(DOMAIN, 2, premium=True,
                                            renewal_price=to_money("49.98"))),
     {"purchasePrice": Decimal("49.98"), "years": 2}),
], ids=["standard-renewal", "premium-renewal"])
def test_renew_domain(quote, body):
    provider, upstream = scripted(respond(200, {"domain": domain_record(), "order": 778,
                                                "totalPaid": 49.98}))

    purchase = provider.renew_domain(quote)

    assert_sent(upstream.only, "POST", "/core/v1/domains/shoe.luxe:renew", body=body)
    assert purchase.operation is Operation.RENEW
    assert purchase.order_id == "778"
    assert purchase.total_paid == TotalPaid(4998, "USD")
    assert purchase.domain["expireDate"] == "2027-07-01T00:00:00Z"


# --- Create Transfer ------------------------------------------------------------------------


@pytest.mark.parametrize(("quote", "extra"), [
    (quote_transfer(DOMAIN), {}),
    (quote_transfer(DOMAIN, RegistryPricing(DOMAIN, 5, premium=True,
                                            transfer_price=to_money("250.00"))),
     {"purchasePrice": Decimal("250.00")}),
], ids=["standard-transfer", "premium-transfer"])
def test_transfer_domain(quote, extra):
    provider, upstream = scripted(respond(200, {
        "transfer": {"domainName": DOMAIN, "email": "admin@example.org",
                     "status": "pending_transfer"},
        "order": 9912, "totalPaid": 250.0}))

    purchase = provider.transfer_domain(quote, auth_code="Xy7-auth", privacy_enabled=True)

    # No years: transferPrice is not affected by it and Create Transfer takes no term.
    assert_sent(upstream.only, "POST", "/core/v1/transfers", body={
        "domainName": DOMAIN, "authCode": "Xy7-auth", "privacyEnabled": True, **extra})
    assert purchase.transfer["status"] == "pending_transfer"
    assert purchase.order_id == "9912"
    assert purchase.total_paid == TotalPaid(25000, "USD")


# --- Errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "body", "error_type", "code"), [
    (400, {"message": "Invalid Price"}, BadRequest, "invalid_price"),
    (400, {"message": "Bad Request", "details":
           "PurchasePrice is required if the domain to transfer is a premium domain"},
     BadRequest, "purchase_price_required"),
    (400, {"message": "Invalid Argument", "details": "authCode is required"},
     BadRequest, "http_400"),
    (401, {"message": "Unauthenticated"}, AuthenticationFailed, "http_401"),
    (403, {"message": "Permission Denied"}, PermissionDenied, "http_403"),
    (404, {"message": "Not Found"}, NotFound, "http_404"),
    (409, {"message": "Idempotency key reused"}, Conflict, "http_409"),
    (422, {"message": "Pricing information unavailable"}, InvalidRequest, "http_422"),
    (429, {"message": "Too Many Requests"}, RateLimited, "http_429"),
    (500, None, UpstreamFailure, "http_500"),
], ids=["invalid-price", "premium-needs-price", "bad-request", "unauthenticated",
        "forbidden", "not-found", "conflict", "unprocessable", "rate-limited",
        "server-error-no-body"])
def test_errors_map_to_the_hierarchy(status, body, error_type, code):
    quote = quote_transfer(DOMAIN)
    answer = respond(status, body) if body is not None else respond(status, text="oops")
    provider, _ = scripted(answer, retry=NO_RETRY)

    with pytest.raises(error_type) as caught:
        provider.transfer_domain(quote, auth_code="abc")

    error = caught.value
    assert type(error) is error_type
    assert error.code == code
    assert error.status == status
    # The upstream's words are kept for logs, not shown to staff.
    if body:
        assert body["message"] in error.details["upstream_message"]
    if code == "invalid_price":
        assert "to the cent" in error.message
        assert "Nothing was bought" in error.message


def test_error_body_of_an_unexpected_shape_falls_back_on_the_status():
    provider, _ = scripted(respond(404, ["not", "an", "object"]))
    with pytest.raises(NotFound) as caught:
        provider.get_pricing(DOMAIN, 1)
    assert caught.value.details["upstream_message"] == ""


def test_get_pricing_is_retried_on_503():
    sleeps: list[float] = []
    upstream = Scripted(respond(503, {"message": "Service Unavailable"}),
                        respond(200, {"premium": False, "purchasePrice": 12.99}))
    assert connect(upstream, sleeps).get_pricing(DOMAIN, 1).purchase_price == usd("12.99")
    assert upstream.count == 2
    assert len(sleeps) == 1


def test_renewal_price_is_a_premium_only_field_in_the_body():
    # 004 Renew Domain: a standard renewal omits purchasePrice entirely (not null, not 0).
    provider, upstream = scripted(respond(200, {"order": 1, "totalPaid": 24.99}))
    provider.renew_domain(quote_renew(DOMAIN, 1))
    assert b"purchasePrice" not in upstream.only.content


def test_purchase_type_values_are_the_documented_ones():
    assert {p.value for p in PurchaseType} == {
        "registration", "aftermarket_s", "aftermarket_b", "aftermarket_i", "expiring",
        "backorder"}


# --- The order hooks billing calls (against name.com's own rules) ----------------------


@pytest.fixture
def namecom() -> FakeNamecom:
    return FakeNamecom(username=USERNAME, token=TOKEN)


def stored(quote: DomainQuote) -> dict[str, Any]:
    """The quote as billing keeps it on the local order (billing.ordering.order_quote),
    after a round trip through the JSON column."""
    return json.loads(json.dumps({
        **quote.data, "provider": "namecom", "purchase_type": quote.purchase_type,
        "premium": quote.premium, "currency": quote.currency,
        "total_minor": quote.total_minor, "ceiling_minor": quote.ceiling_minor,
        "notes": list(quote.notes), "owner_contact_id": None}))


def placement_of(shown: DomainQuote, action: OrderAction, domain: str, years: int,
                 **overrides: Any) -> DomainPlacement:
    values: dict[str, Any] = {
        "action": action, "domain": domain, "years": years, "quote": stored(shown),
        "currency": shown.currency, "quoted_total_minor": shown.total_minor,
        "idempotency_key": "backoffice-order-7", "customer_reference": "ACC-1", **overrides}
    return DomainPlacement(**values)


def ask(provider: NamecomProvider, action: OrderAction, domain: str, years: int = 1,
        **kwargs: Any) -> DomainQuote:
    return provider.quote_domain_order(DomainQuoteRequest(action=action, domain=domain,
                                                          years=years, **kwargs))


def calls(namecom: FakeNamecom) -> list[tuple[str, str]]:
    return [(r.method, r.url.path) for r in namecom.requests]


CHECK = "/core/v1/domains:checkAvailability"


def test_a_standard_registration_quote_checks_availability_only(namecom):
    provider = connect(namecom)

    quote = ask(provider, OrderAction.REGISTER, "acme-bakery.com", years=2)

    assert calls(namecom) == [("POST", CHECK)]
    assert json.loads(namecom.only.content) == {"domainNames": ["acme-bakery.com"],
                                                "purchaseType": "registration"}
    assert namecom.credentials(namecom.only) == (USERNAME, TOKEN)
    assert (quote.currency, quote.total_minor, quote.ceiling_minor) == ("USD", None, None)
    assert (quote.purchase_type, quote.premium) == ("registration", False)
    assert quote.data == {"operation": "register", "purchase_price_minor": None,
                          "discovery_price_minor": 1299, "years_sent": 2}
    assert any("Get Pricing" in note for note in quote.notes)


def test_a_registry_premium_quote_asks_get_pricing_for_the_same_years(namecom):
    namecom.offer(DOMAIN, premium=True, price="349.95", renewal="349.95")
    provider = connect(namecom)

    quote = ask(provider, OrderAction.REGISTER, DOMAIN, years=3)

    assert calls(namecom) == [("POST", CHECK), ("GET", f"/core/v1/domains/{DOMAIN}:getPricing")]
    assert namecom.requests[1].url.params["years"] == "3"
    assert (quote.total_minor, quote.premium) == (104985, True)
    assert quote.data["purchase_price_minor"] == 104985
    assert quote.data["years_sent"] == 3


def test_an_acquisition_quote_needs_the_opt_in(namecom):
    namecom.offer("bakery.co", purchase_type="aftermarket_s", premium=True, price="5000.00")
    provider = connect(namecom)

    with pytest.raises(QuoteRefused) as refused:
        ask(provider, OrderAction.REGISTER, "bakery.co")
    assert isinstance(refused.value, PricingError)
    assert refused.value.rule == "not_purchasable"  # 004 Pattern A hides it
    quote = ask(provider, OrderAction.REGISTER, "bakery.co", allow_acquisition=True)

    assert [json.loads(r.content) for r in namecom.requests] == [
        {"domainNames": ["bakery.co"], "purchaseType": "registration"},
        {"domainNames": ["bakery.co"]}]
    assert (quote.purchase_type, quote.total_minor) == ("aftermarket_s", 500000)
    assert quote.data["years_sent"] is None


@pytest.mark.parametrize(("action", "years", "asked", "total"), [
    (OrderAction.RENEW, 2, "2", 2998),
    (OrderAction.TRANSFER, 3, "1", 999),
], ids=["renew", "transfer"])
def test_renewal_and_transfer_quotes_come_from_get_pricing(namecom, action, years, asked,
                                                           total):
    namecom.own("acme-bakery.com")
    provider = connect(namecom)

    quote = ask(provider, action, "acme-bakery.com", years=years)

    assert calls(namecom) == [("GET", "/core/v1/domains/acme-bakery.com:getPricing")]
    assert namecom.only.url.params["years"] == asked
    assert quote.total_minor == total
    assert quote.data["operation"] == action.value


@pytest.mark.parametrize("decided", [
    quote_create(Discovery(DOMAIN, True, "registration", purchase_price=to_money("12.99")),
                 years=2),
    quote_create(Discovery(DOMAIN, True, "registration", premium=True,
                           purchase_price=to_money("349.95")), years=2,
                 registry_pricing=RegistryPricing(DOMAIN, 2, premium=True,
                                                  purchase_price=to_money("699.90"))),
    quote_create(Discovery(DOMAIN, True, "backorder", purchase_price=to_money("80.00")),
                 allow_acquisition=True),
    quote_renew(DOMAIN, 3),
    quote_renew(DOMAIN, 2, RegistryPricing(DOMAIN, 2, premium=True,
                                           renewal_price=to_money("49.98"))),
    quote_transfer(DOMAIN, RegistryPricing(DOMAIN, 1, premium=True,
                                           transfer_price=to_money("250.00"))),
], ids=["standard", "registry-premium", "backorder", "renew", "premium-renew",
        "premium-transfer"])
def test_the_quote_kept_on_the_order_rebuilds_the_same_decision(decided):
    shown = ordering.quote_of(decided)
    action = {Operation.CREATE: OrderAction.REGISTER, Operation.RENEW: OrderAction.RENEW,
              Operation.TRANSFER: OrderAction.TRANSFER}[decided.operation]

    rebuilt = ordering.quote_from(placement_of(shown, action, DOMAIN, decided.years or 1))

    assert isinstance(rebuilt, Quote)
    assert rebuilt == decided
    assert rebuilt.request_fields() == decided.request_fields()
    assert shown.total_minor == (decided.total.amount_minor if decided.total else None)


def test_placing_a_standard_registration_rechecks_then_creates_and_delivers(namecom):
    provider = connect(namecom)
    quote = ask(provider, OrderAction.REGISTER, "acme-bakery.com", years=2)

    placed = provider.place_domain_order(
        placement_of(quote, OrderAction.REGISTER, "acme-bakery.com", 2))

    assert calls(namecom) == [("POST", CHECK), ("POST", CHECK), ("POST", "/core/v1/domains")]
    assert json.loads(namecom.requests[2].content) == {
        "domain": {"domainName": "acme-bakery.com"}, "purchaseType": "registration",
        "years": 2}
    record = placed.record
    assert placed.request_id == REQUEST_ID and placed.estimated is False
    assert (record.upstream_id, record.state, record.type) == (
        "4321", OrderState.COMPLETED, OrderType.REGISTRATION)
    assert (record.domain, record.currency, record.paid) == ("acme-bakery.com", "USD", True)
    # Not quoted (a standard registration): what name.com charged is the whole total.
    assert (record.subtotal_minor, record.fees_minor, record.total_minor) == (2598, 0, 2598)
    [registration] = record.delivered
    assert registration.fields == {
        "name": "acme-bakery.com", "status": RegistrationState.ACTIVE.value,
        "locked": True, "auto_renew": False, "privacy_protect": False,
        "expires_at": datetime(2028, 7, 1, tzinfo=UTC),
        "nameservers": ["ns1.name.com", "ns2.name.com"]}
    assert registration.tld == {"name": "com"}
    assert registration.raw == namecom.domains["acme-bakery.com"]


def test_placing_a_registry_premium_sends_the_exact_price_name_com_checks(namecom):
    namecom.offer(DOMAIN, premium=True, price="349.95", renewal="349.95")
    provider = connect(namecom)
    quote = ask(provider, OrderAction.REGISTER, DOMAIN, years=2)

    placed = provider.place_domain_order(placement_of(quote, OrderAction.REGISTER, DOMAIN, 2))

    create = namecom.sent("POST", "/core/v1/domains")[0]
    assert json.loads(create.content, parse_float=Decimal)["purchasePrice"] == Decimal("699.90")
    assert (placed.record.subtotal_minor, placed.record.total_minor) == (69990, 69990)
    assert DOMAIN in namecom.domains


def test_a_registry_price_that_moved_alone_is_refused_by_name_com_to_the_cent(namecom):
    # The re-check compares discovery, which did not move; Get Pricing's registry price
    # did, so the purchasePrice sent is stale and name.com refuses it: nothing is bought.
    namecom.offer(DOMAIN, premium=True, price="349.95")
    provider = connect(namecom)
    quote = ask(provider, OrderAction.REGISTER, DOMAIN, years=1)
    namecom.reprice(DOMAIN, registry="359.95")

    with pytest.raises(BadRequest) as refused:
        provider.place_domain_order(placement_of(quote, OrderAction.REGISTER, DOMAIN, 1))

    assert json.loads(namecom.requests[-1].content, parse_float=Decimal)[
        "purchasePrice"] == Decimal("349.95")
    assert refused.value.code == "invalid_price" and "to the cent" in refused.value.message
    assert namecom.domains == {} and namecom.orders == []


def test_placing_after_the_discovery_price_moved_sends_no_create(namecom):
    provider = connect(namecom)
    quote = ask(provider, OrderAction.REGISTER, "acme-bakery.com")
    namecom.reprice("acme-bakery.com", price="15.99")

    with pytest.raises(PriceMoved) as moved:
        provider.place_domain_order(placement_of(quote, OrderAction.REGISTER,
                                                 "acme-bakery.com", 1))

    assert isinstance(moved.value, PriceChanged) and moved.value.rule == "price_moved"
    assert namecom.sent("POST", "/core/v1/domains") == []


def test_placing_a_renewal_prices_it_again_then_renews(namecom):
    namecom.own("acme-bakery.com", expire=datetime(2027, 3, 1, tzinfo=UTC))
    provider = connect(namecom)
    quote = ask(provider, OrderAction.RENEW, "acme-bakery.com", years=2)

    placed = provider.place_domain_order(
        placement_of(quote, OrderAction.RENEW, "acme-bakery.com", 2))

    assert calls(namecom)[-2:] == [("GET", "/core/v1/domains/acme-bakery.com:getPricing"),
                                   ("POST", "/core/v1/domains/acme-bakery.com:renew")]
    assert json.loads(namecom.requests[-1].content) == {"years": 2}
    assert (placed.record.type, placed.record.state, placed.record.total_minor) == (
        OrderType.RENEWAL, OrderState.COMPLETED, 2998)
    [registration] = placed.record.delivered
    assert registration.fields["expires_at"] == datetime(2029, 3, 1, tzinfo=UTC)


def test_a_renewal_whose_price_moved_is_refused_before_renewing(namecom):
    namecom.offer("acme-bakery.com", premium=True, renewal="349.95")
    namecom.own("acme-bakery.com")
    provider = connect(namecom)
    quote = ask(provider, OrderAction.RENEW, "acme-bakery.com")
    namecom.reprice("acme-bakery.com", renewal="399.95")

    with pytest.raises(PriceChanged) as moved:
        provider.place_domain_order(placement_of(quote, OrderAction.RENEW,
                                                 "acme-bakery.com", 1))

    assert moved.value.rule == "price_moved" and "Nothing was bought" in moved.value.message
    assert namecom.sent("POST") == []


def test_placing_a_transfer_sends_the_auth_code_and_delivers_nothing_yet(namecom):
    namecom.register_elsewhere("acme-bakery.com")
    provider = connect(namecom)
    quote = ask(provider, OrderAction.TRANSFER, "acme-bakery.com")

    placed = provider.place_domain_order(placement_of(
        quote, OrderAction.TRANSFER, "acme-bakery.com", 1, auth_code="EPP-secret"))

    assert json.loads(namecom.sent("POST", "/core/v1/transfers")[0].content) == {
        "domainName": "acme-bakery.com", "authCode": "EPP-secret"}
    assert (placed.record.state, placed.record.type, placed.record.total_minor) == (
        OrderState.TRANSFER_STARTED, OrderType.TRANSFER_IN, 999)
    assert placed.record.delivered == ()
    assert "EPP-secret" not in repr(placed)


def _purchase(total_paid: TotalPaid | None, domain: dict[str, Any] | None = None,
              operation: Operation = Operation.CREATE) -> Purchase:
    decided = quote_create(Discovery("acme-bakery.com", True, "registration",
                                     purchase_price=to_money("12.99")), years=1)
    return Purchase(operation, "4321", total_paid, decided, domain=domain or {})


def test_total_paid_above_the_quote_is_recorded_as_fees():
    # totalPaid carries Whois Privacy and VAT; the domain fee is what was quoted.
    quote = DomainQuote(currency="USD", total_minor=1299)
    record = ordering.purchase_record(
        _purchase(TotalPaid(1798, "USD")),
        placement_of(quote, OrderAction.REGISTER, "acme-bakery.com", 1))
    assert (record.subtotal_minor, record.fees_minor, record.total_minor) == (1299, 499, 1798)


def test_without_total_paid_the_quote_is_what_was_charged():
    quote = DomainQuote(currency="USD", total_minor=1299)
    record = ordering.purchase_record(
        _purchase(None), placement_of(quote, OrderAction.REGISTER, "acme-bakery.com", 1))
    assert (record.currency, record.subtotal_minor, record.fees_minor,
            record.total_minor) == ("USD", 1299, 0, 1299)


def test_privacy_charged_upstream_shows_as_fees_end_to_end(namecom):
    namecom.vat_rate = Decimal("0.10")
    provider = connect(namecom)
    decided = quote_create(provider.check_domain("acme-bakery.com"), years=1,
                           registry_pricing=provider.get_pricing("acme-bakery.com", 1))

    purchase = provider.create_domain(decided, privacy_enabled=True)
    record = ordering.purchase_record(purchase, placement_of(
        ordering.quote_of(decided), OrderAction.REGISTER, "acme-bakery.com", 1))

    # (12.99 + 4.99 privacy) + 10% VAT = 19.78; the domain fee stays 12.99.
    assert purchase.total_paid == TotalPaid(1978, "USD")
    assert (record.subtotal_minor, record.fees_minor, record.total_minor) == (1299, 679, 1978)
    assert record.delivered[0].fields["privacy_protect"] is True


@pytest.mark.parametrize(("domain", "kept"), [
    ({"expireDate": "someday", "locked": "yes", "nameservers": "ns1.name.com"},
     {"name": "acme-bakery.com", "status": "active"}),
    ({"expireDate": "2027-07-01T00:00:00Z", "autorenewEnabled": True,
      "nameservers": ["NS1.Example.NET", 7]},
     {"name": "acme-bakery.com", "status": "active", "auto_renew": True,
      "expires_at": datetime(2027, 7, 1, tzinfo=UTC)}),
    ({}, {"name": "acme-bakery.com", "status": "active"}),
], ids=["unreadable", "partly-readable", "absent"])
def test_the_delivered_registration_keeps_only_what_it_could_read(domain, kept):
    quote = DomainQuote(currency="USD", total_minor=1299)
    record = ordering.purchase_record(
        _purchase(TotalPaid(1299, "USD"), domain),
        placement_of(quote, OrderAction.REGISTER, "acme-bakery.com", 1))
    [registration] = record.delivered
    assert registration.fields == kept


def test_renewing_a_domain_not_in_the_account_is_not_found(namecom):
    with pytest.raises(NotFound):
        connect(namecom).renew_domain(quote_renew("nowhere.com", 1))
    assert namecom.orders == []


def test_creating_a_name_taken_since_is_refused_by_the_recheck(namecom):
    provider = connect(namecom)
    decided = quote_create(provider.check_domain("acme-bakery.com"))
    namecom.register_elsewhere("acme-bakery.com")

    with pytest.raises(PriceChanged) as moved:
        provider.create_domain(decided)

    assert moved.value.rule == "no_longer_purchasable"
    assert namecom.sent("POST", "/core/v1/domains") == []


def test_a_premium_transfer_without_its_price_is_refused_by_name_com(namecom):
    # The rules never build this (quote_transfer needs Get Pricing for a premium); the
    # fake refuses it as name.com does, in document 004's words.
    namecom.offer(DOMAIN, premium=True, transfer="250.00")
    namecom.register_elsewhere(DOMAIN)

    with pytest.raises(BadRequest) as refused:
        connect(namecom).transfer_domain(quote_transfer(DOMAIN), auth_code="x")

    assert refused.value.code == "purchase_price_required"
    assert namecom.transfers == {} and namecom.orders == []


# --- Domain search ------------------------------------------------------------------------


def test_domain_offer_checks_every_purchase_type_then_prices_the_term():
    provider, upstream = scripted(
        respond(200, {"results": [result(premium=False, price=24.99, renewal=24.99)]}),
        respond(200, {"premium": False, "purchasePrice": 74.97, "renewalPrice": 74.97,
                      "transferPrice": 24.99}))
    offer = provider.domain_offer(DOMAIN, years=3)
    check, priced = upstream.requests
    assert_sent(check, "POST", check_path(), body={"domainNames": [DOMAIN]})
    assert_sent(priced, "GET", f"/core/v1/domains/{DOMAIN}:getPricing", params={"years": "3"})
    assert (offer.domain, offer.available, offer.premium, offer.purchase_type) == (
        DOMAIN, True, False, "registration")
    assert (offer.term_years, offer.term_price, offer.term_estimated) == (3, usd("74.97"),
                                                                          False)
    assert offer.renewal_price == usd("24.99")


def test_domain_offer_of_an_acquisition_is_its_flat_fee_without_get_pricing():
    provider, upstream = scripted(respond(200, {"results": [
        result(purchase_type="aftermarket_b", price=5000)]}))
    offer = provider.domain_offer(DOMAIN, years=5)
    assert_sent(upstream.only, "POST", check_path(), body={"domainNames": [DOMAIN]})
    assert (offer.purchase_type, offer.premium, offer.term_price) == (
        "aftermarket_b", True, usd("5000.00"))


def test_domain_offer_of_a_name_not_purchasable_has_no_price():
    provider, upstream = scripted(respond(200, {"results": [result(purchasable=False)]}))
    offer = provider.domain_offer(DOMAIN, years=1)
    assert upstream.count == 1
    assert (offer.available, offer.term_price, offer.reason) == (False, None,
                                                                 "not purchasable")


def test_domain_suggestions_search_every_purchase_type_in_the_tlds():
    provider, upstream = scripted(respond(200, {"results": [
        result("shoe.com", premium=False, price=12.99, renewal=14.99),
        result("shoes.luxe", purchase_type="expiring", price=80)]}))
    offers = provider.domain_suggestions("shoe", tlds=["com", "luxe"], years=2)
    assert_sent(upstream.only, "POST", "/core/v1/domains:search",
                body={"keyword": "shoe", "tldFilter": ["com", "luxe"]})
    assert [(o.domain, o.term_price, o.term_estimated) for o in offers] == [
        ("shoe.com", usd("25.98"), True), ("shoes.luxe", usd("80.00"), False)]


# --- Zone Check and TLD Pricing (004's endpoint roles: a hint, and list prices) -----------


def test_zone_check_sends_the_names_and_reads_available_only():
    provider, upstream = scripted(respond(200, {"results": [
        {"domainName": "Bakery.com", "available": True},
        {"domainName": "bakery.net", "available": "yes"}], "total": 2, "removed": 1}))
    hints = provider.zone_check(["bakery.com", "bakery.net", "bakery.notatld"])
    assert_sent(upstream.only, "POST", "/core/v1/zonecheck",
                body={"domainNames": ["bakery.com", "bakery.net", "bakery.notatld"]})
    assert [(h.domain, h.free_in_zone) for h in hints] == [("bakery.com", True),
                                                           ("bakery.net", None)]


def test_tld_pricing_sends_tlds_and_duration_and_reads_the_list_prices():
    provider, upstream = scripted(respond(200, {"pricing": [
        {"tld": "com", "duration": 2, "registrationPrice": 27.98, "renewalPrice": 29.98,
         "transferInPrice": 9.99},
        {"tld": "org", "duration": 2, "registrationPrice": 1.0}], "lastPage": 1}))
    [price] = provider.tld_list_prices(["com", "net"], years=2)
    request = upstream.only
    assert (request.method, request.url.path) == ("GET", "/core/v1/tldpricing")
    assert request.url.params.get_list("tlds") == ["com", "net"]
    assert request.url.params["duration"] == "2"
    assert (price.tld, price.years, price.registration.amount_minor,
            price.renewal.amount_minor, price.transfer.amount_minor) == (
        "com", 2, 2798, 2998, 999)


def test_tld_pricing_refuses_a_bad_term_before_sending():
    from registrar.providers.errors import CallerError

    provider, upstream = scripted(respond(200, {"pricing": []}))
    with pytest.raises(CallerError):
        provider.tld_list_prices(["com"], years=0)
    assert upstream.count == 0
