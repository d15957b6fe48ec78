"""What NamecomProvider sends for each name.com endpoint, what it makes of the answers,
and how the create flow re-checks availability before buying (document 004).

Only the HTTP boundary is fake: an `httpx.MockTransport` whose handler records every
request and answers from a script (the helpers of test_domain_api_requests.py).
"""

from __future__ import annotations

import base64
import inspect
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import pytest

from registrar.pricing import (
    Discovery,
    Operation,
    PriceChanged,
    PricingError,
    PurchaseType,
    RegistryPricing,
    Source,
    TotalPaid,
    quote_create,
    quote_renew,
    quote_transfer,
    to_money,
)
from registrar.providers.base import (
    AuthenticationFailed,
    BadRequest,
    Capability,
    Conflict,
    InvalidRequest,
    MalformedResponse,
    Money,
    NotFound,
    PermissionDenied,
    Provider,
    RateLimited,
    UpstreamFailure,
)
from registrar.providers.domain_api import CallerError
from registrar.providers.http import NO_RETRY
from registrar.providers.namecom import NamecomProvider, Purchase
from tests.registrar.providers.test_domain_api_requests import (
    REQUEST_ID,
    Answer,
    Recorder,
    respond,
)

BASE_URL = "https://api.dev.name.com"
USERNAME = "acme-reseller"
TOKEN = "0123456789abcdef"
BASIC = "Basic " + base64.b64encode(f"{USERNAME}:{TOKEN}".encode()).decode()
DOMAIN = "shoe.luxe"


@dataclass
class Harness:
    provider: NamecomProvider
    recorder: Recorder
    sleeps: list[float] = field(default_factory=list)


def make_harness(*answers: Answer, **provider_kwargs: Any) -> Harness:
    recorder = Recorder(*answers)
    sleeps: list[float] = []
    provider = NamecomProvider(
        base_url=BASE_URL, token=TOKEN, account_ref=USERNAME,
        transport=httpx.MockTransport(recorder), sleep=sleeps.append, **provider_kwargs,
    )
    return Harness(provider, recorder, sleeps)


NO_BODY = object()


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
    if body is NO_BODY:
        assert request.content == b""
    else:
        assert request.headers["Content-Type"] == "application/json"
        # Prices read back as Decimals: equal to the exact cents, not just close.
        assert json.loads(request.content, parse_float=Decimal) == body


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
    "create_domain", "renew_domain", "transfer_domain",
}


def test_every_public_method_of_the_adapter_has_request_tests():
    public = {name for name, member in vars(NamecomProvider).items()
              if not name.startswith("_") and inspect.isfunction(member)}
    assert public == COVERED_METHODS


def test_kind_and_capabilities():
    provider = make_harness(respond()).provider
    assert isinstance(provider, Provider)
    assert provider.kind == "namecom"
    assert provider.capabilities == {Capability.AVAILABILITY, Capability.ORDERS}


def test_the_registry_builds_it_with_build_provider_arguments():
    from registrar.providers.registry import adapter_class

    cls = adapter_class("namecom")
    assert cls is NamecomProvider
    recorder = Recorder(respond(200, {"motd": "hello"}))
    provider = cls(base_url=BASE_URL, token=TOKEN, account_ref=USERNAME, timeout=10.0,
                   user_agent="registrar-backoffice/1.0",
                   transport=httpx.MockTransport(recorder), label="name.com")
    provider.ping()
    assert recorder.only.headers["Authorization"] == BASIC
    assert recorder.only.headers["User-Agent"] == "registrar-backoffice/1.0"


def test_close_closes_the_client_without_a_request():
    harness = make_harness(respond())
    harness.provider.close()
    assert harness.recorder.count == 0
    assert harness.provider.http._client.is_closed


def test_ping_says_hello():
    harness = make_harness(respond(200, {"motd": "hello", "username": USERNAME}))
    assert harness.provider.ping() is None
    assert_sent(harness.recorder.only, "GET", "/core/v1/hello")


# --- Discovery ------------------------------------------------------------------------------


@pytest.mark.parametrize(("registration_only", "body"), [
    (True, {"domainNames": [DOMAIN, "taken.com"], "purchaseType": "registration"}),
    (False, {"domainNames": [DOMAIN, "taken.com"]}),
], ids=["pattern-a-registration-only", "pattern-c-all-purchase-types"])
def test_check_availability(registration_only, body):
    harness = make_harness(respond(200, {"results": [
        result(), result("taken.com", purchasable=False, reason="registered"),
    ]}))

    found = harness.provider.check_availability([DOMAIN, "taken.com"],
                                                registration_only=registration_only)

    assert_sent(harness.recorder.only, "POST", check_path(), body=body)
    assert found == [
        Discovery(DOMAIN, True, "registration", premium=True, purchase_price=usd("349.95"),
                  renewal_price=usd("24.99"), source=Source.CHECK_AVAILABILITY),
        Discovery("taken.com", False, None, premium=False, source=Source.CHECK_AVAILABILITY,
                  reason="registered"),
    ]


def test_check_availability_refuses_a_bare_string():
    harness = make_harness(respond())
    with pytest.raises(CallerError):
        harness.provider.check_availability(DOMAIN)  # type: ignore[arg-type]
    assert harness.recorder.count == 0


def test_check_domain_picks_its_result_and_reads_a_missing_premium_as_false():
    harness = make_harness(respond(200, {"results": [
        result(premium=None, price=12.99, renewal=14.99)]}))
    found = harness.provider.check_domain(DOMAIN)
    assert found.premium is False
    assert found.purchase_price == usd("12.99")
    assert found.source is Source.CHECK_AVAILABILITY


def test_check_domain_without_its_result_is_malformed():
    harness = make_harness(respond(200, {"results": [result("other.luxe")]}))
    with pytest.raises(MalformedResponse):
        harness.provider.check_domain(DOMAIN)


def test_search():
    harness = make_harness(respond(200, {"results": [
        result("shoe.luxe"),
        result("shoe.shop", premium=False, price=3.99, renewal=39.99),
    ]}))

    found = harness.provider.search("shoe", tld_filter=["luxe", "shop"], timeout_ms=3000)

    assert_sent(harness.recorder.only, "POST", "/core/v1/domains:search", body={
        "keyword": "shoe", "tldFilter": ["luxe", "shop"], "timeout": 3000,
        "purchaseType": "registration"})
    assert [f.source for f in found] == [Source.SEARCH, Source.SEARCH]
    assert found[1] == Discovery("shoe.shop", True, "registration", premium=False,
                                 purchase_price=usd("3.99"), renewal_price=usd("39.99"),
                                 source=Source.SEARCH)


def test_search_without_filters_and_with_no_results():
    harness = make_harness(respond(200, {}))
    assert harness.provider.search("shoe", registration_only=False) == []
    assert_sent(harness.recorder.only, "POST", "/core/v1/domains:search",
                body={"keyword": "shoe"})


def test_get_pricing():
    harness = make_harness(respond(200, {"premium": True, "purchasePrice": 699.9,
                                         "renewalPrice": 49.98, "transferPrice": 24.99}))

    pricing = harness.provider.get_pricing(DOMAIN, 2)

    assert_sent(harness.recorder.only, "GET", "/core/v1/domains/shoe.luxe:getPricing",
                params={"years": "2"})
    assert pricing == RegistryPricing(DOMAIN, 2, premium=True, purchase_price=usd("699.90"),
                                      renewal_price=usd("49.98"), transfer_price=usd("24.99"))


def test_get_pricing_null_prices_mean_not_offered():
    harness = make_harness(respond(200, {"premium": False, "purchasePrice": None}))
    pricing = harness.provider.get_pricing(DOMAIN, 1)
    assert pricing.purchase_price is pricing.renewal_price is pricing.transfer_price is None


def test_get_pricing_quotes_the_domain_into_the_path():
    harness = make_harness(respond(200, {"premium": False}))
    harness.provider.get_pricing("a/b?c.com", 1)
    assert_sent(harness.recorder.only, "GET", "/core/v1/domains/a%2Fb%3Fc.com:getPricing",
                params={"years": "1"})


@pytest.mark.parametrize("answer", [
    {"premium": False, "purchasePrice": 12.345},  # a fraction of a cent
    {"premium": "yes", "purchasePrice": 12.99},
    {"premium": False, "purchasePrice": {"amount": 12.99}},
    [],
], ids=["sub-cent-price", "premium-not-bool", "price-not-a-number", "not-an-object"])
def test_get_pricing_malformed_answers(answer):
    harness = make_harness(respond(200, answer))
    with pytest.raises(MalformedResponse):
        harness.provider.get_pricing(DOMAIN, 1)


def test_a_result_without_purchasable_is_malformed():
    harness = make_harness(respond(200, {"results": [{"domainName": DOMAIN}]}))
    with pytest.raises(MalformedResponse):
        harness.provider.check_availability([DOMAIN])


# --- Create Domain: the re-check, then exactly what the quote decided ----------------------


def create_answer(total: float, domain: str = DOMAIN) -> Answer:
    return respond(200, {"domain": domain_record(domain), "order": 4567, "totalPaid": total})


def test_create_standard_registration_rechecks_then_omits_purchase_price():
    quote = quote_create(Discovery(DOMAIN, True, "registration", premium=False,
                                   purchase_price=usd("12.99")), years=2)
    harness = make_harness(
        respond(200, {"results": [result(premium=False, price=12.99)]}),
        create_answer(25.98),
    )

    purchase = harness.provider.create_domain(quote, privacy_enabled=False,
                                              autorenew_enabled=True)

    recheck, create = harness.recorder.requests
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
    harness = make_harness(respond(200, {"results": [result()]}), create_answer(713.9))

    purchase = harness.provider.create_domain(
        quote, privacy_enabled=True, contacts={"registrant": {"firstName": "Ada"}},
        tld_requirements={"x-luxe-accept": "1"})

    assert harness.recorder.count == 2
    assert_sent(harness.recorder.requests[1], "POST", "/core/v1/domains", body={
        "domain": {"domainName": DOMAIN, "privacyEnabled": True,
                   "contacts": {"registrant": {"firstName": "Ada"}}},
        "purchaseType": "registration",
        # Exactly Get Pricing's total for 2 years; privacy is charged on top upstream.
        "purchasePrice": Decimal("699.90"),
        "years": 2,
        "tldRequirements": {"x-luxe-accept": "1"},
    })
    assert b'"purchasePrice":699.9,' in harness.recorder.requests[1].content
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
    harness = make_harness(
        respond(200, {"results": [result(purchase_type=kind, price=5000.0)]}),
        create_answer(5000.0),
    )

    harness.provider.create_domain(quote)

    recheck, create = harness.recorder.requests
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
    harness = make_harness(respond(200, {"results": [fresh]}), create_answer(5000.0))

    with pytest.raises(PriceChanged) as caught:
        harness.provider.create_domain(quote)

    assert caught.value.rule == rule
    assert_sent(harness.recorder.only, "POST", check_path(), body={"domainNames": [DOMAIN]})


def test_create_registry_premium_refused_when_the_discovery_price_moved():
    quote = quote_create(
        Discovery(DOMAIN, True, "registration", premium=True, purchase_price=usd("349.95")),
        years=1, registry_pricing=RegistryPricing(DOMAIN, 1, premium=True,
                                                  purchase_price=usd("349.95")))
    harness = make_harness(respond(200, {"results": [result(price=399.95)]}))
    with pytest.raises(PriceChanged):
        harness.provider.create_domain(quote)
    assert harness.recorder.count == 1


def test_create_is_never_retried():
    # A POST that moves money is sent once: a 502 after it left may have bought the name.
    quote = quote_create(Discovery(DOMAIN, True, "registration",
                                   purchase_price=usd("12.99")), years=1)
    harness = make_harness(respond(200, {"results": [result(premium=False, price=12.99)]}),
                           respond(502, {"message": "Bad Gateway"}))
    with pytest.raises(UpstreamFailure):
        harness.provider.create_domain(quote)
    assert harness.recorder.count == 2
    assert harness.sleeps == []


@pytest.mark.parametrize("method", ["create_domain", "renew_domain", "transfer_domain"])
def test_purchases_refuse_a_quote_for_another_operation(method):
    harness = make_harness(respond())
    wrong = quote_transfer(DOMAIN) if method != "transfer_domain" else quote_renew(DOMAIN)
    kwargs = {"auth_code": "x"} if method == "transfer_domain" else {}
    with pytest.raises(CallerError):
        getattr(harness.provider, method)(wrong, **kwargs)
    assert harness.recorder.count == 0


# --- Renew Domain -----------------------------------------------------------------------------


@pytest.mark.parametrize(("quote", "body"), [
    (quote_renew(DOMAIN, 3), {"years": 3}),
    (quote_renew(DOMAIN, 2, RegistryPricing(DOMAIN, 2, premium=True,
                                            renewal_price=to_money("49.98"))),
     {"purchasePrice": Decimal("49.98"), "years": 2}),
], ids=["standard-renewal", "premium-renewal"])
def test_renew_domain(quote, body):
    harness = make_harness(respond(200, {"domain": domain_record(), "order": 778,
                                         "totalPaid": 49.98}))

    purchase = harness.provider.renew_domain(quote)

    assert_sent(harness.recorder.only, "POST", "/core/v1/domains/shoe.luxe:renew", body=body)
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
    harness = make_harness(respond(200, {
        "transfer": {"domainName": DOMAIN, "email": "admin@example.org",
                     "status": "pending_transfer"},
        "order": 9912, "totalPaid": 250.0}))

    purchase = harness.provider.transfer_domain(quote, auth_code="Xy7-auth",
                                                privacy_enabled=True)

    # No years: transferPrice is not affected by it and Create Transfer takes no term.
    assert_sent(harness.recorder.only, "POST", "/core/v1/transfers", body={
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
    harness = make_harness(answer, retry=NO_RETRY)

    with pytest.raises(error_type) as caught:
        harness.provider.transfer_domain(quote, auth_code="abc")

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
    harness = make_harness(respond(404, ["not", "an", "object"]))
    with pytest.raises(NotFound) as caught:
        harness.provider.get_pricing(DOMAIN, 1)
    assert caught.value.details["upstream_message"] == ""


def test_get_pricing_is_retried_on_503():
    harness = make_harness(respond(503, {"message": "Service Unavailable"}),
                           respond(200, {"premium": False, "purchasePrice": 12.99}))
    assert harness.provider.get_pricing(DOMAIN, 1).purchase_price == usd("12.99")
    assert harness.recorder.count == 2
    assert len(harness.sleeps) == 1


def test_renewal_price_is_a_premium_only_field_in_the_body():
    # 004 Renew Domain: a standard renewal omits purchasePrice entirely (not null, not 0).
    harness = make_harness(respond(200, {"order": 1, "totalPaid": 24.99}))
    harness.provider.renew_domain(quote_renew(DOMAIN, 1))
    assert b"purchasePrice" not in harness.recorder.only.content


def test_purchase_type_values_are_the_documented_ones():
    assert {p.value for p in PurchaseType} == {
        "registration", "aftermarket_s", "aftermarket_b", "aftermarket_i", "expiring",
        "backorder"}
