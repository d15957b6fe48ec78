"""DomaineeProvider against document 002: the exact request a purchase sends, what each
answer becomes, the Idempotency-Key that makes replays safe, every input rule refused
before anything is sent, the purchase list and its pages, the order record a purchase
is, the provider hooks billing calls, and webhook parsing.

Only the HTTP boundary is fake: `tests.fakes.domainee.FakeDomainee` (a workspace with
purchases, live prices and the answers kept per key) behind an `httpx.MockTransport`;
answers outside the document are scripted on it. Sleeps are recorded, never slept.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from django.core.exceptions import ValidationError

from billing.models import OrderKind, OrderStatus
from billing.order_sync import status_for
from registrar.providers.base import (
    Capability,
    ContactRecord,
    DomainPlacement,
    DomainQuoteRequest,
    Money,
    OrderAction,
    OrderLine,
    OrderRecord,
    OrderState,
    OrderType,
    PushedEvent,
    RegistrationState,
)
from registrar.providers.domainee.adapter import DomaineeProvider
from registrar.providers.domainee.rules import clean_purchase
from registrar.providers.domainee.wire import (
    BillingRequired,
    DomainUnavailable,
    PriceChanged,
    PurchaseRejected,
    PurchaseResult,
    RegistrationFailed,
    parse_webhook,
    purchase_record,
)
from registrar.providers.errors import (
    AuthenticationFailed,
    BadRequest,
    CallerError,
    Conflict,
    MalformedResponse,
    PaymentRequiredError,
    QuoteRefused,
    UpstreamFailure,
)
from tests.fakes.domainee import PURCHASES, FakeDomainee
from tests.fakes.http import REQUEST_ID, fail_with, respond

BASE_URL = "https://api.domainee.dev"
TOKEN = "dme_live_secret"
KEY = "backoffice-order-42"
CEILING = Money(2000, "USD")

# Document 002's example registrant, in our contact field names. The example's phone
# (+1.5551234567) is not a valid NANP number, so normalise_phone refuses it; a valid
# Portland number stands in.
JANE = {
    "first_name": "Jane",
    "last_name": "Smith",
    "email": "jane@bakery.example",
    "phone": "+1 503 555 0100",
    "street_address": "123 Main St",
    "city": "Portland",
    "state": "OR",
    "post_code": "97201",
    "country": "US",
}
JANE_WIRE = {
    "firstName": "Jane",
    "lastName": "Smith",
    "email": "jane@bakery.example",
    "phone": "+1.5035550100",
    "address1": "123 Main St",
    "city": "Portland",
    "stateOrProvince": "OR",
    "postalCode": "97201",
    "country": "US",
}


def purchase_payload(**overrides: Any) -> dict[str, Any]:
    """Document 002's 201 example."""
    return {
        "id": "f8a0c1b9-1234-4bcd-9ef0-123456789abc",
        "workspaceId": "ws_8812",
        "hostname": "janesbakery.com",
        "years": 1,
        "wholesaleCents": 1418,
        "feeCents": 100,
        "totalCents": 1518,
        "currency": "USD",
        "registrar": "namecheap",
        "registrarDomainId": "182739",
        "status": "completed",
        "registrant": {"firstName": "Jane", "lastName": "Smith",
                       "email": "jane@bakery.example", "country": "US"},
        "whoisPrivacyEnabled": True,
        "autoRenew": False,
        "expiresAt": "2027-05-17T15:42:11.000Z",
        "customerReference": "user_jane_42",
        "createdAt": "2026-05-17T15:42:09.000Z",
        "updatedAt": "2026-05-17T15:42:11.000Z",
        **overrides,
    }


def error(status: int, code: str, message: str = "upstream says no", *,
          nested: bool = True) -> Any:
    body = ({"error": {"code": code, "message": message}} if nested
            else {"code": code, "message": message})
    return respond(status, body)


@pytest.fixture
def fake() -> FakeDomainee:
    return FakeDomainee(token=TOKEN)


@pytest.fixture
def sleeps() -> list[float]:
    return []


def connect(fake: FakeDomainee, sleeps: list[float] | None = None,
            **kwargs: Any) -> DomaineeProvider:
    return DomaineeProvider(base_url=BASE_URL, token=TOKEN, account_ref="ws_8812",
                            transport=fake.transport(),
                            sleep=(sleeps if sleeps is not None else []).append, **kwargs)


@pytest.fixture
def provider(fake, sleeps) -> DomaineeProvider:
    return connect(fake, sleeps)


def buy(provider: DomaineeProvider, **overrides: Any) -> PurchaseResult:
    kwargs: dict[str, Any] = {
        "hostname": "janesbakery.com", "registrant": JANE, "max_total": CEILING,
        "customer_reference": "user_jane_42", "idempotency_key": KEY, **overrides,
    }
    return provider.purchase(**kwargs)


def expected_body(**overrides: Any) -> dict[str, Any]:
    return {
        "hostname": "janesbakery.com",
        "years": 1,
        "registrant": JANE_WIRE,
        "enableWhoisPrivacy": True,
        "autoRenew": False,
        "maxTotalCents": 2000,
        "customerReference": "user_jane_42",
        **overrides,
    }


def assert_sent(request: httpx.Request, method: str, path: str, *, body: Any = None,
                params: dict[str, str] | None = None, idempotency_key: str | None = None,
                ) -> None:
    assert request.method == method
    assert request.url.scheme == "https"
    assert request.url.host == "api.domainee.dev"
    assert request.url.path == path
    assert dict(request.url.params) == (params or {})
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/json"
    assert not request.headers["User-Agent"].startswith("python-httpx")
    assert "X-Auth-Account" not in request.headers
    if idempotency_key is None:
        assert "Idempotency-Key" not in request.headers
    else:
        assert request.headers["Idempotency-Key"] == idempotency_key
    if body is None:
        assert request.content == b""
    else:
        assert request.headers["Content-Type"] == "application/json"
        assert json.loads(request.content) == body


# --- Shape of the adapter ----------------------------------------------------------------

COVERED_METHODS = {"ping", "order_idempotency_key", "purchase", "iter_purchases",
                   "iter_orders", "quote_domain_order", "place_domain_order",
                   "settle_placement", "connect_domain"}


def test_every_public_method_is_covered_here():
    public = {name for name, member in vars(DomaineeProvider).items()
              if not name.startswith("_") and inspect.isfunction(member)}
    assert public == COVERED_METHODS
    # The webhook parser is a class-level hook, read without a client (Webhooks below).
    assert isinstance(vars(DomaineeProvider)["parse_webhook"], classmethod)


def test_kind_capabilities_and_order_rules(provider):
    assert provider.kind == "domainee"
    assert provider.capabilities == frozenset({Capability.DOMAIN_ORDERS,
                                               Capability.ORDER_MIRROR, Capability.WEBHOOKS,
                                               Capability.AUTO_CONNECT,
                                               Capability.DOMAIN_CONNECT})
    assert provider.supports(Capability.DOMAIN_ORDERS)
    assert not provider.supports(Capability.ORDER_FOLLOW)
    # Document 002 buys new registrations for a registrant given in full, with no
    # price endpoint: staff give the ceiling.
    assert provider.ordering_actions == frozenset({OrderAction.REGISTER})
    assert provider.order_owner_required == frozenset({OrderAction.REGISTER})
    assert provider.order_owner_upstream is False
    assert provider.order_ceiling_required is True


def test_ping_reads_the_list_filtered_to_nothing(provider, fake):
    fake.add_purchase("janesbakery.com", customer_reference="user_jane_42")
    assert provider.ping() is None
    assert_sent(fake.only, "GET", PURCHASES, params={"customerReference": "backoffice-ping"})


def test_ping_with_a_rejected_key_raises(fake):
    fake.token = "dme_live_other"
    with pytest.raises(AuthenticationFailed):
        connect(fake).ping()


# --- The purchase request ---------------------------------------------------------------


def test_purchase_sends_the_documented_body_and_parses_the_record(provider, fake):
    result = buy(provider)

    assert_sent(fake.only, "POST", PURCHASES, body=expected_body(), idempotency_key=KEY)
    assert result.refunded is False
    assert result.reason == ""
    assert result.request_id == REQUEST_ID
    assert result.status == "completed"
    purchase = result.purchase
    assert purchase is not None
    [kept] = fake.purchases
    assert (purchase.id, purchase.hostname, purchase.years) == (
        kept["id"], "janesbakery.com", 1)
    assert (purchase.wholesale_cents, purchase.fee_cents, purchase.total_cents,
            purchase.currency) == (1418, 100, 1518, "USD")
    assert purchase.registrar == "namecheap"
    assert purchase.registrar_domain_id == "182739"
    assert purchase.whois_privacy_enabled is True
    assert purchase.auto_renew is False
    assert purchase.customer_reference == "user_jane_42"
    assert purchase.connected_domain_id == ""
    assert purchase.expires_at == datetime(2027, 5, 17, 15, 42, 11, tzinfo=UTC)
    assert purchase.created_at == datetime(2026, 5, 17, 15, 42, 9, tzinfo=UTC)
    assert [event["type"] for event in fake.events] == ["domain_purchase.completed"]


def test_purchase_parses_the_documents_own_example(provider, fake):
    fake.script("POST", PURCHASES, respond(201, {"purchase": purchase_payload()}))
    purchase = buy(provider).purchase
    assert purchase.id == "f8a0c1b9-1234-4bcd-9ef0-123456789abc"
    assert purchase.raw == purchase_payload()
    assert purchase.updated_at == datetime(2026, 5, 17, 15, 42, 11, tzinfo=UTC)


def test_purchase_with_every_option(provider, fake):
    registrant = {**JANE, "organization": "Bakery LLC", "handle": "not ours to send",
                  "extra_properties": {"x": 1}}

    result = buy(provider, hostname="  Bäcker.DE ", years=3, registrant=registrant,
                 max_total=Money(3000, "USD"), enable_whois_privacy=False, auto_renew=True,
                 auto_connect={"origin_url": "https://janesbakery.acmesites.app",
                               "keep_host": True})

    assert_sent(fake.only, "POST", PURCHASES, idempotency_key=KEY, body=expected_body(
        hostname="xn--bcker-gra.de", years=3, maxTotalCents=3000,
        registrant={**JANE_WIRE, "organization": "Bakery LLC"},
        enableWhoisPrivacy=False, autoRenew=True,
        autoConnect={"originUrl": "https://janesbakery.acmesites.app", "keepHost": True}))
    purchase = result.purchase
    assert purchase.connected_domain_id == "dom_1"
    assert (purchase.hostname, purchase.years, purchase.total_cents) == (
        "xn--bcker-gra.de", 3, fake.price_cents("xn--bcker-gra.de", 3))
    assert (purchase.whois_privacy_enabled, purchase.auto_renew) == (False, True)


def test_auto_connect_keep_host_defaults_to_false_explicitly(provider, fake):
    buy(provider, auto_connect={"origin_url": "https://janesbakery.acmesites.app"})
    sent = json.loads(fake.only.content)
    assert sent["autoConnect"] == {"originUrl": "https://janesbakery.acmesites.app",
                                   "keepHost": False}


def test_auto_connect_ignored_upstream_still_completes(provider, fake, caplog):
    # The document calls autoConnect only "considered": a purchase without the
    # connected domain is registered all the same, and the gap is logged.
    fake.script("POST", PURCHASES, respond(201, {"purchase": purchase_payload()}))
    result = buy(provider, auto_connect={"origin_url": "https://janesbakery.acmesites.app"})
    assert result.status == "completed" and result.purchase.connected_domain_id == ""
    assert "autoConnect was sent but no connectedDomainId" in caplog.text


def test_clean_purchase_is_the_body_that_is_sent(provider, fake):
    body = clean_purchase(hostname="janesbakery.com", years=1, registrant=JANE,
                          max_total=CEILING, customer_reference="user_jane_42")
    assert body == expected_body()
    buy(provider)
    assert json.loads(fake.only.content) == body


# --- Idempotency ------------------------------------------------------------------------


def test_the_key_is_derived_from_the_local_order(provider):
    assert provider.order_idempotency_key(42) == "backoffice-order-42"
    assert provider.order_idempotency_key("42") == "backoffice-order-42"
    assert provider.order_idempotency_key(42) != provider.order_idempotency_key(43)


@pytest.mark.parametrize("bad", [0, -1, True, None, "", "a b", "x" * 101, 4.2])
def test_a_bad_local_order_id_is_a_caller_error(provider, bad):
    with pytest.raises(CallerError):
        provider.order_idempotency_key(bad)


def test_replaying_the_same_local_order_sends_the_same_key(fake):
    workers = [connect(fake), connect(fake)]  # e.g. a task re-run in another worker

    results = [buy(worker, idempotency_key=worker.order_idempotency_key(42))
               for worker in workers]

    first, second = fake.requests
    assert {r.headers["Idempotency-Key"] for r in fake.requests} == {"backoffice-order-42"}
    assert first.content == second.content
    # Domainee replays the first answer: one purchase, one charge.
    assert len(fake.purchases) == 1
    assert results[0].purchase == results[1].purchase


@pytest.mark.parametrize(("failure", "lost_after_buying"), [
    (respond(502, {"error": {"code": "upstream_error", "message": "gateway"}}), False),
    (respond(502, text="<html>Bad Gateway</html>", content_type="text/html"), False),
    (respond(504), False),
    (fail_with(httpx.ReadTimeout), False),
    (fail_with(httpx.ReadTimeout), True),
    (respond(504), True),
], ids=["502-json", "502-html", "504", "timeout", "timeout-after-buying",
        "504-after-buying"])
def test_a_gateway_failure_is_retried_with_the_same_key(provider, fake, sleeps, failure,
                                                        lost_after_buying):
    if lost_after_buying:
        fake.lose_answer(failure)
    else:
        fake.fail_before(failure)

    result = buy(provider)

    assert result.status == "completed"
    assert len(fake.requests) == 2
    for request in fake.requests:
        assert_sent(request, "POST", PURCHASES, body=expected_body(), idempotency_key=KEY)
    assert len(sleeps) == 1
    # Whether or not the first attempt had bought it, it is bought once.
    assert len(fake.purchases) == 1
    assert result.purchase.id == fake.purchases[0]["id"]


def test_a_purchase_without_a_key_is_refused_before_sending(provider, fake):
    with pytest.raises(CallerError):
        buy(provider, idempotency_key=" ")
    assert fake.requests == []


# --- Documented outcomes -------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["nested", "flat"], ids=["error-object", "flat"])
def test_registration_failed_is_a_refunded_result_with_the_reason(provider, fake, sleeps,
                                                                  shape):
    reason = "Registrar refused: registrant email domain is blacklisted"
    fake.error_shape = shape
    fake.outcome("registration_failed", reason=reason, with_row=False)

    result = buy(provider)

    assert len(fake.requests) == 1  # final: a retry would only replay it
    assert sleeps == []
    assert result.refunded is True
    assert result.reason == reason
    assert result.status == "refunded"
    assert result.purchase is None
    assert purchase_record(result) == OrderRecord(
        upstream_id=None, state=OrderState.REFUNDED, type=OrderType.REGISTRATION,
        status_reason=reason, paid=True)
    assert status_for(purchase_record(result).state, OrderKind.REGISTRATION) == (
        OrderStatus.REFUNDED)
    # Domainee kept the row, refunded, and told the webhook.
    assert [p["status"] for p in fake.purchases] == ["refunded"]
    assert [e["type"] for e in fake.events] == ["domain_purchase.failed"]


def test_registration_failed_with_the_refunded_row(provider, fake):
    reason = "TLD requires local presence"
    fake.outcome("registration_failed", reason=reason, with_row=True)

    result = buy(provider)

    assert result.refunded is True
    record = purchase_record(result)
    assert record.state == OrderState.REFUNDED
    assert record.upstream_id == fake.purchases[0]["id"]
    assert record.refunded_minor == record.total_minor == 1518
    assert record.status_reason == reason
    assert record.delivered == ()


def test_registration_failed_replays_without_charging_again(provider, fake):
    fake.outcome("registration_failed", reason="refused")
    first = buy(provider)
    again = buy(provider)
    assert first.refunded and again.refunded
    assert len(fake.purchases) == 1


def test_registration_failed_escapes_other_callers_as_not_retryable(provider, fake, sleeps):
    fake.outcome("registration_failed", reason="refused")
    with pytest.raises(RegistrationFailed) as caught:
        provider.http.request("POST", PURCHASES, json_body=expected_body(),
                              headers={"Idempotency-Key": KEY})
    assert caught.value.retryable is False and caught.value.charged is True
    assert caught.value.reason == "refused"
    assert sleeps == []


DOCUMENTED_ERRORS = [
    (409, "unavailable", DomainUnavailable, Conflict),
    (409, "price_changed", PriceChanged, Conflict),
    (402, "billing_required", BillingRequired, PaymentRequiredError),
    (400, "bad_request", PurchaseRejected, BadRequest),
]


@pytest.mark.parametrize("nested", [True, False], ids=["error-object", "flat"])
@pytest.mark.parametrize(("status", "code", "cls", "base"), DOCUMENTED_ERRORS,
                         ids=[row[1] for row in DOCUMENTED_ERRORS])
def test_documented_refusals_say_nothing_was_charged(provider, fake, status, code, cls, base,
                                                     nested):
    raw = "internal: stripe pi_3Nx declined card_declined"
    fake.script("POST", PURCHASES, error(status, code, raw, nested=nested))

    with pytest.raises(cls) as caught:
        buy(provider)

    failure = caught.value
    assert isinstance(failure, base)
    assert (failure.status, failure.code) == (status, code)
    assert failure.charged is False
    assert failure.retryable is False
    assert "Nothing was charged" in failure.message
    assert raw not in failure.message and TOKEN not in failure.message
    assert failure.details["upstream_message"] == raw
    assert len(fake.requests) == 1


def _take(fake: FakeDomainee) -> None:
    fake.taken.add("janesbakery.com")


def _price_up(fake: FakeDomainee) -> None:
    fake.wholesale_cents["com"] = 8800


def _decline(fake: FakeDomainee) -> None:
    fake.outcome("billing_required")


@pytest.mark.parametrize(("arrange", "cls", "kept"), [
    (_take, DomainUnavailable, []),
    (_price_up, PriceChanged, []),
    (_decline, BillingRequired, ["failed"]),
], ids=["taken", "live-price-above-the-ceiling", "card-declined"])
def test_refusals_as_domainee_makes_them_charge_nothing(provider, fake, arrange, cls, kept):
    arrange(fake)

    with pytest.raises(cls) as caught:
        buy(provider)

    assert caught.value.charged is False
    assert [p["status"] for p in fake.purchases] == kept
    assert not any(e["type"] == "domain_purchase.completed" for e in fake.events)


def test_price_changed_is_flagged_as_no_charge(provider, fake):
    _price_up(fake)  # live 8900 > 2000
    with pytest.raises(PriceChanged) as caught:
        buy(provider)
    assert caught.value.charged is False
    assert "quote the domain again" in caught.value.message
    assert "8900" in caught.value.details["upstream_message"]
    # Under a ceiling that covers the live price, the same purchase goes through.
    assert buy(provider, max_total=Money(8900, "USD"),
               idempotency_key="backoffice-order-43").status == "completed"


def test_a_bare_string_error_code_is_understood(provider, fake):
    fake.error_shape = "bare"
    _take(fake)
    with pytest.raises(DomainUnavailable):
        buy(provider)


def test_a_bare_string_error_that_is_no_code_is_the_message(provider, fake):
    fake.script("POST", PURCHASES, respond(409, {"error": "Hostname taken, sorry!"}))
    with pytest.raises(Conflict) as caught:
        buy(provider)
    assert not isinstance(caught.value, DomainUnavailable)
    assert caught.value.details["upstream_message"] == "Hostname taken, sorry!"


@pytest.mark.parametrize(("status", "body", "cls"), [
    (401, {"error": {"code": "unauthorized", "message": "bad key"}}, AuthenticationFailed),
    (409, {"error": {"code": "something_new", "message": "?"}}, Conflict),
    (500, None, UpstreamFailure),
])
def test_other_answers_fall_back_on_the_shared_mapping(provider, fake, status, body, cls):
    fake.script("POST", PURCHASES, respond(status, body))
    with pytest.raises(cls) as caught:
        buy(provider)
    assert not isinstance(caught.value, DomainUnavailable | PriceChanged)


def test_a_wrong_key_is_refused_as_authentication(fake):
    fake.token = "dme_live_other"
    with pytest.raises(AuthenticationFailed):
        buy(connect(fake))
    assert fake.purchases == []


def test_a_201_of_the_wrong_shape_is_malformed(provider, fake):
    fake.script("POST", PURCHASES, respond(201, {"purchase": {"id": "x"}}))
    with pytest.raises(MalformedResponse):
        buy(provider)


@pytest.mark.parametrize("body", [
    {**expected_body(), "registrant": {**JANE_WIRE, "phone": "+1 503 555 0100"}},
    {**expected_body(), "registrant": {"firstName": "Jane"}},
    {**expected_body(), "years": 11},
    {**expected_body(), "autoConnect": {"originUrl": "http://janesbakery.acmesites.app"}},
], ids=["phone-without-dot", "registrant-incomplete", "years", "insecure-origin"])
def test_a_body_our_rules_never_send_is_refused_by_domainee(provider, fake, body):
    # Sent past clean_purchase on purpose: what Domainee itself answers to such a body.
    with pytest.raises(PurchaseRejected) as caught:
        provider.http.request("POST", PURCHASES, json_body=body,
                              headers={"Idempotency-Key": KEY})
    assert (caught.value.status, caught.value.code) == (400, "bad_request")
    assert fake.purchases == []


# --- Input rules: refused before anything is sent -------------------------------------------


def _without(name: str) -> dict[str, Any]:
    return {key: value for key, value in JANE.items() if key != name}


REFUSED = [
    ("hostname", {"hostname": "not a domain"}),
    ("hostname", {"hostname": "localhost"}),
    ("hostname", {"hostname": ""}),
    ("hostname", {"hostname": 42}),
    ("years", {"years": 0}),
    ("years", {"years": 11}),
    ("years", {"years": True}),
    ("years", {"years": "2"}),
    ("max_total", {"max_total": Money(2000, "EUR")}),
    ("max_total", {"max_total": Money(0, "USD")}),
    ("customer_reference", {"customer_reference": ""}),
    ("customer_reference", {"customer_reference": "x" * 65}),
    ("auto_connect", {"auto_connect": {"origin_url": "http://janesbakery.acmesites.app"}}),
    ("auto_connect", {"auto_connect": {"origin_url": "janesbakery.acmesites.app"}}),
    ("auto_connect", {"auto_connect": {}}),
    ("auto_connect", {"auto_connect": {"origin_url": "https://[::1"}}),
    ("phone", {"registrant": {**JANE, "phone": "+1.5551234567"}}),
    ("phone", {"registrant": {**JANE, "phone": "503 555 0100"}}),
    ("country", {"registrant": {**JANE, "country": "USA"}}),
    ("email", {"registrant": {**JANE, "email": "jane at bakery"}}),
    *[(name, {"registrant": _without(name)})
      for name in ("first_name", "last_name", "email", "phone", "street_address", "city",
                   "state", "post_code", "country")],
]


@pytest.mark.parametrize(("key", "overrides"), REFUSED,
                         ids=[f"{key}-{i}" for i, (key, _) in enumerate(REFUSED)])
def test_input_rules_are_enforced_before_sending(provider, fake, key, overrides):
    with pytest.raises(ValidationError) as caught:
        buy(provider, **overrides)

    assert key in caught.value.message_dict
    assert all(caught.value.message_dict[key])
    assert fake.requests == []


def test_every_problem_is_reported_at_once(provider, fake):
    with pytest.raises(ValidationError) as caught:
        buy(provider, hostname="bad name", years=20, max_total=Money(100, "EUR"),
            registrant={**JANE, "city": ""})
    assert set(caught.value.message_dict) == {"hostname", "years", "max_total", "city"}
    assert fake.requests == []


@pytest.mark.parametrize("overrides", [
    {"enable_whois_privacy": "yes"},
    {"auto_renew": 1},
    {"max_total": 2000},
    {"auto_connect": {"originUrl": "https://janesbakery.acmesites.app"}},
    {"auto_connect": {"origin_url": "https://a.example", "keep_host": "true"}},
    {"registrant": ["Jane"]},
])
def test_arguments_of_the_wrong_type_are_caller_errors(provider, fake, overrides):
    with pytest.raises(CallerError):
        buy(provider, **overrides)
    assert fake.requests == []


# --- The purchase list -----------------------------------------------------------------------


def _three(fake: FakeDomainee) -> list[dict[str, Any]]:
    return [fake.add_purchase(f"bakery{n}.com", customer_reference=ref)
            for n, ref in enumerate(("user_jane_42", "user_bob_7", "user_jane_42"))]


def test_the_list_is_read_page_by_page_along_next_cursor(provider, fake):
    added = _three(fake)

    purchases = list(provider.iter_purchases(page_size=2))

    assert [p.id for p in purchases] == [p["id"] for p in added]
    assert [dict(r.url.params) for r in fake.requests] == [
        {"limit": "2"}, {"limit": "2", "cursor": "cur_2"}]
    for request in fake.requests:
        assert_sent(request, "GET", PURCHASES, params=dict(request.url.params))


def test_the_list_is_filtered_by_customer_reference(provider, fake):
    added = _three(fake)

    purchases = list(provider.iter_purchases(customer_reference="  user_jane_42 "))

    assert [p.id for p in purchases] == [added[0]["id"], added[2]["id"]]
    assert dict(fake.only.url.params) == {"limit": "100",
                                          "customerReference": "user_jane_42"}


@pytest.mark.parametrize("shape", ["data", "items", "array"])
def test_the_other_list_shapes_are_read(provider, fake, shape):
    added = _three(fake)
    fake.list_shape = shape
    assert [p.id for p in provider.iter_purchases(page_size=2)] == [p["id"] for p in added]


def test_has_more_pages_after_the_last_id(provider, fake):
    added = _three(fake)
    fake.paging = "has_more"

    assert [p.id for p in provider.iter_purchases(page_size=2)] == [p["id"] for p in added]
    assert [dict(r.url.params) for r in fake.requests] == [
        {"limit": "2"}, {"limit": "2", "startingAfter": added[1]["id"]}]


def test_has_more_without_a_last_id_is_malformed(provider, fake):
    fake.script("GET", PURCHASES, respond(200, {"purchases": [{"hostname": "a.com"}],
                                                "hasMore": True}))
    with pytest.raises(MalformedResponse):
        list(provider.iter_purchases())


def test_a_list_that_pages_in_a_loop_is_malformed(provider, fake):
    fake.script("GET", PURCHASES, respond(200, {"purchases": [purchase_payload()],
                                                "nextCursor": "again"}))
    with pytest.raises(MalformedResponse) as caught:
        list(provider.iter_purchases())
    assert caught.value.code == "malformed_paging"
    assert len(fake.requests) == 2


@pytest.mark.parametrize("body", [{"nothing": []}, "not a list"], ids=["no-records", "text"])
def test_a_list_of_the_wrong_shape_is_malformed(provider, fake, body):
    fake.script("GET", PURCHASES, respond(200, body))
    with pytest.raises(MalformedResponse):
        list(provider.iter_purchases())


def test_a_malformed_record_raises_or_is_skipped_on_request(provider, fake):
    fake.pages = [[purchase_payload(id="p-1"), {"id": "p-2"}, purchase_payload(id="p-3")]]

    with pytest.raises(MalformedResponse):
        list(provider.iter_purchases())
    skipped: list[tuple[Any, Exception]] = []
    read = list(provider.iter_purchases(on_malformed=lambda r, e: skipped.append((r, e))))

    assert [p.id for p in read] == ["p-1", "p-3"]
    assert [record for record, _ in skipped] == [{"id": "p-2"}]
    assert isinstance(skipped[0][1], KeyError)


def test_a_failure_on_a_later_page_comes_after_the_earlier_pages(provider, fake):
    added = _three(fake)
    fake.fail_list(respond(503, {"error": {"code": "unavailable_now", "message": "later"}}),
                   after_pages=1)
    read = []

    with pytest.raises(UpstreamFailure):
        for purchase in provider.iter_purchases(page_size=2):
            read.append(purchase.id)

    assert read == [added[0]["id"], added[1]["id"]]


@pytest.mark.parametrize("arguments", [
    {"page_size": 0}, {"page_size": 101}, {"page_size": True}, {"page_size": "10"},
    {"customer_reference": ""}, {"customer_reference": "  "}, {"customer_reference": 42},
])
def test_list_arguments_are_checked_before_anything_is_sent(provider, fake, arguments):
    with pytest.raises(CallerError):
        provider.iter_purchases(**arguments)
    assert fake.requests == []


# --- The order a purchase is ---------------------------------------------------------------


def test_a_completed_purchase_is_a_completed_order_that_delivered_its_registration(
        provider, fake):
    parsed = buy(provider).purchase
    # Given in another offset, stored in UTC.
    purchase = replace(parsed, created_at=datetime(2026, 5, 17, 17, 42, 9,
                                                   tzinfo=timezone(timedelta(hours=2))))
    record = purchase_record(purchase)

    assert record.upstream_id == purchase.id
    assert record.state == OrderState.COMPLETED
    assert status_for(record.state, OrderKind.REGISTRATION) == OrderStatus.REGISTERED
    assert record.type == OrderType.REGISTRATION
    assert (record.domain, record.years, record.currency) == ("janesbakery.com", 1, "USD")
    assert (record.subtotal_minor, record.fees_minor, record.total_minor,
            record.refunded_minor) == (1418, 100, 1518, 0)
    assert record.customer_reference == "user_jane_42"
    assert record.placed_at == datetime(2026, 5, 17, 15, 42, 9, tzinfo=UTC)
    assert record.placed_at.tzinfo is UTC
    assert record.paid is True
    # One purchase, one domain: its one line is made up, so it only fills an empty order.
    assert record.lines == (OrderLine(
        description="Registration of janesbakery.com (1 year)", domain="janesbakery.com",
        unit_amount_minor=1518, total_minor=1518,
        details={"wholesale_minor": 1418, "fee_minor": 100, "registrar": "namecheap",
                 "registrar_domain_id": "182739"}),)
    assert record.lines_authoritative is False
    [registration] = record.delivered
    assert registration.name == "janesbakery.com" and registration.upstream_id == ""
    assert registration.fields == {
        "name": "janesbakery.com", "status": RegistrationState.ACTIVE.value,
        "expires_at": datetime(2027, 5, 17, 15, 42, 11, tzinfo=UTC),
        "privacy_protect": True, "auto_renew": False,
        "upstream_created_at": purchase.created_at}
    assert registration.tld == {"name": "com"}


@pytest.mark.parametrize(("status", "state", "order_status", "refunded", "paid"), [
    ("completed", OrderState.COMPLETED, OrderStatus.REGISTERED, 0, True),
    ("refunded", OrderState.REFUNDED, OrderStatus.REFUNDED, 1518, True),
    ("failed", OrderState.FAILED, OrderStatus.FAILED, 0, False),
])
def test_purchase_statuses_map_to_order_states(provider, fake, status, state, order_status,
                                               refunded, paid):
    fake.script("POST", PURCHASES, respond(201, {"purchase": purchase_payload(status=status)}))
    result = buy(provider)
    record = purchase_record(result)
    assert record.state == state
    assert status_for(record.state, OrderKind.REGISTRATION) == order_status
    assert record.refunded_minor == refunded
    assert record.paid is paid
    assert bool(record.delivered) is (status == "completed")
    assert result.refunded is (status == "refunded")


def test_a_raw_record_as_a_webhook_delivers_it_maps_the_same(provider, fake):
    record = purchase_payload(status="refunded")
    fake.script("POST", PURCHASES, respond(201, {"purchase": record}))
    assert purchase_record(record) == purchase_record(buy(provider).purchase)
    assert purchase_record(record).refunded_minor == 1518


@pytest.mark.parametrize("record", [
    {"id": "p1"}, purchase_payload(totalCents=-1), purchase_payload(createdAt="yesterday"),
    purchase_payload(years=None), purchase_payload(currency="dollars")])
def test_a_malformed_raw_record_raises_what_the_webhook_handler_catches(record):
    with pytest.raises((KeyError, TypeError, ValueError)):
        purchase_record(record)


def test_an_unknown_status_is_not_guessed(provider, fake):
    fake.script("POST", PURCHASES, respond(201, {"purchase": purchase_payload(status="pending")}))
    result = buy(provider)
    with pytest.raises(ValueError, match="pending"):
        purchase_record(result)


# --- The hooks billing calls ----------------------------------------------------------------


def test_iter_orders_is_the_purchase_list_as_orders(provider, fake):
    added = _three(fake)
    fake.add_purchase("gone.com", status="refunded")

    records = list(provider.iter_orders())

    assert [r.upstream_id for r in records] == [p["id"] for p in fake.purchases]
    assert [r.state for r in records] == [OrderState.COMPLETED] * 3 + [OrderState.REFUNDED]
    assert records[0] == purchase_record(added[0])
    assert dict(fake.only.url.params) == {"limit": "100"}


def test_iter_orders_hands_an_undocumented_status_to_on_malformed(provider, fake):
    fake.add_purchase("a.com")
    odd = fake.add_purchase("b.com", status="pending")

    with pytest.raises(MalformedResponse):
        list(provider.iter_orders())
    skipped: list[Any] = []
    records = list(provider.iter_orders(on_malformed=lambda r, e: skipped.append(r)))

    assert [r.domain for r in records] == ["a.com"]
    assert skipped == [odd]


def test_the_quote_is_the_ceiling_staff_gave_and_sends_nothing(provider, fake):
    quote = provider.quote_domain_order(DomainQuoteRequest(
        action=OrderAction.REGISTER, domain="janesbakery.com", years=2, ceiling=CEILING))

    assert (quote.currency, quote.total_minor, quote.ceiling_minor) == ("USD", 2000, 2000)
    assert quote.data == {"operation": "register", "price_is_ceiling": True}
    assert any("ceiling" in note for note in quote.notes)
    assert fake.requests == []


@pytest.mark.parametrize(("request_", "error_type"), [
    (DomainQuoteRequest(action=OrderAction.RENEW, domain="a.com", years=1, ceiling=CEILING),
     QuoteRefused),
    (DomainQuoteRequest(action=OrderAction.TRANSFER, domain="a.com", years=1,
                        ceiling=CEILING), QuoteRefused),
    (DomainQuoteRequest(action=OrderAction.REGISTER, domain="a.com", years=1), CallerError),
    (DomainQuoteRequest(action=OrderAction.REGISTER, domain="a.com", years=1,
                        ceiling=Money(0, "USD")), CallerError),
], ids=["renew", "transfer", "no-ceiling", "zero-ceiling"])
def test_the_quote_refuses_what_domainee_cannot_sell(provider, fake, request_, error_type):
    with pytest.raises(error_type) as caught:
        provider.quote_domain_order(request_)
    if error_type is QuoteRefused:
        assert caught.value.rule == "unsupported_action"
    assert fake.requests == []


def placement(**overrides: Any) -> DomainPlacement:
    owner = ContactRecord(fields={"first_name": "Jane", "last_name": "Smith",
                                  "organization": "", "email": "jane@bakery.example",
                                  "phone": "+1.5035550100", "street_address": "123 Main St",
                                  "city": "Portland", "state": "OR", "post_code": "97201",
                                  "country": "US", "upstream_id": None})
    values: dict[str, Any] = {
        "action": OrderAction.REGISTER, "domain": "janesbakery.com", "years": 1,
        "quote": {"operation": "register", "ceiling_minor": 2000}, "currency": "USD",
        "quoted_total_minor": 2000, "idempotency_key": KEY,
        "customer_reference": "user_jane_42", "owner": owner, **overrides}
    return DomainPlacement(**values)


def test_placing_sends_the_ceiling_the_key_and_the_owner(provider, fake):
    placed = provider.place_domain_order(placement())

    assert_sent(fake.only, "POST", PURCHASES, body=expected_body(), idempotency_key=KEY)
    assert placed.estimated is False and placed.request_id == REQUEST_ID
    assert placed.record == purchase_record(fake.purchases[0])


def test_placing_a_refund_without_its_row_is_an_estimate(provider, fake):
    fake.outcome("registration_failed", reason="refused", with_row=False)

    placed = provider.place_domain_order(placement())

    assert placed.estimated is True
    assert (placed.record.state, placed.record.total_minor, placed.record.status_reason) == (
        OrderState.REFUNDED, None, "refused")


def test_placing_without_the_owner_sends_nothing(provider, fake):
    with pytest.raises(QuoteRefused) as caught:
        provider.place_domain_order(placement(owner=None))
    assert caught.value.rule == "owner_gone"
    assert fake.requests == []


def test_placing_above_the_live_price_ceiling_charges_nothing(provider, fake):
    _price_up(fake)
    with pytest.raises(PriceChanged):
        provider.place_domain_order(placement())
    assert fake.purchases == []


def test_settling_a_lost_purchase_finds_it_by_its_customer_reference(provider, fake):
    # Document 002's own lookup: the list filtered by the reference it was sent with,
    # then the purchase of this hostname (not another of the same customer's).
    fake.add_purchase("janesbakery.com", customer_reference="user_bob_7")
    fake.add_purchase("otherbakery.com", customer_reference="user_jane_42")
    mine = fake.add_purchase("janesbakery.com", customer_reference="user_jane_42")

    record = provider.settle_placement(placement(placed_at=fake.now))

    assert_sent(fake.only, "GET", PURCHASES,
                params={"limit": "100", "customerReference": "user_jane_42"})
    assert record == purchase_record(mine)
    assert (record.state, record.total_minor) == (OrderState.COMPLETED, 1518)


def test_settling_takes_the_newest_purchase_of_the_hostname(provider, fake):
    fake.add_purchase("janesbakery.com", status="refunded", customer_reference="user_jane_42")
    newest = fake.add_purchase("janesbakery.com", customer_reference="user_jane_42")

    record = provider.settle_placement(placement(placed_at=fake.now))

    assert record == purchase_record(newest)


@pytest.mark.parametrize(("placed_after", "found"),
                         [(timedelta(minutes=4), True), (timedelta(minutes=6), False)],
                         ids=["within-the-clock-skew", "from-before"])
def test_a_purchase_from_before_the_placement_is_another_order(provider, fake, placed_after,
                                                               found):
    # Listed from before it was placed (allowing five minutes of clock skew): an older
    # purchase of the same name, not this one.
    older = fake.add_purchase("janesbakery.com", customer_reference="user_jane_42")

    record = provider.settle_placement(placement(placed_at=fake.now + placed_after))

    assert record == (purchase_record(older) if found else None)
    assert fake.only.method == "GET"


def test_settling_when_nothing_is_listed_is_none(provider, fake):
    assert provider.settle_placement(placement(placed_at=fake.now)) is None
    assert_sent(fake.only, "GET", PURCHASES,
                params={"limit": "100", "customerReference": "user_jane_42"})
    assert fake.purchases == []  # asked, never bought


def test_settling_when_the_list_cannot_be_read_raises(provider, fake):
    fake.add_purchase("janesbakery.com", customer_reference="user_jane_42")
    fake.fail_list(respond(500, {"error": {"code": "internal", "message": "boom"}}))

    with pytest.raises(UpstreamFailure) as caught:
        provider.settle_placement(placement(placed_at=fake.now))

    # A read: a plain failure, never an unknown outcome.
    assert caught.value.status == 500 and not caught.value.outcome_unknown
    assert fake.only.method == "GET"


# --- Webhooks ------------------------------------------------------------------------------


@pytest.mark.parametrize(("event_type", "status", "state"), [
    ("domain_purchase.completed", "completed", OrderState.COMPLETED),
    ("domain_purchase.failed", "refunded", OrderState.REFUNDED)])
@pytest.mark.parametrize("envelope", ["data.purchase", "data", "purchase"])
def test_parse_webhook(event_type, status, state, envelope):
    record = purchase_payload(status=status)
    event: dict[str, Any] = {"id": "evt_123", "type": event_type}
    if envelope == "data.purchase":
        event["data"] = {"purchase": record}
    elif envelope == "data":
        event["data"] = record
    else:
        event["purchase"] = record

    parsed = DomaineeProvider.parse_webhook(event)

    assert isinstance(parsed, PushedEvent)
    assert (parsed.event_id, parsed.event_type) == ("evt_123", event_type)
    assert parsed.order == purchase_record(record)
    assert parsed.order.state == state
    assert parsed.order.customer_reference == "user_jane_42"


def test_the_reason_a_failed_event_gives_becomes_the_orders(provider, fake):
    fake.outcome("registration_failed", reason="Registrar refused: premium name")
    buy(provider)
    [event] = fake.events

    parsed = parse_webhook(event)

    assert parsed.event_type == "domain_purchase.failed"
    assert parsed.order.status_reason == "Registrar refused: premium name"
    assert parsed.order.upstream_id == fake.purchases[0]["id"]


def test_an_event_type_that_updates_no_order_is_kept_without_one():
    # Any event with an id and a type is stored; only the purchase events update orders.
    parsed = parse_webhook({"id": 7, "type": "domain.created",
                            "data": {"purchase": purchase_payload()}})
    assert parsed == PushedEvent(event_id="7", event_type="domain.created", order=None)


@pytest.mark.parametrize("payload", [
    {"type": "domain_purchase.completed", "data": {"purchase": purchase_payload()}},
    {"id": True, "type": "domain_purchase.completed", "data": {"purchase": purchase_payload()}},
    {"id": "evt_1", "data": {"purchase": purchase_payload()}},
    {"id": "evt_1", "type": "domain_purchase.completed", "data": {}},
    {"id": "evt_1", "type": "domain_purchase.completed",
     "data": {"purchase": {"id": "p1", "hostname": "a.com"}}},
    {"id": "evt_1", "type": "domain_purchase.completed",
     "data": {"purchase": purchase_payload(totalCents="15.18")}},
    {"id": "evt_1", "type": "domain_purchase.completed",
     "data": {"purchase": purchase_payload(status="pending")}},
], ids=["no-id", "bool-id", "no-type", "no-purchase", "partial", "float-amount",
        "unknown-status"])
def test_malformed_webhooks_raise_value_error(payload):
    with pytest.raises(ValueError):
        parse_webhook(payload)


WEBHOOK_SECRET = "whsec-test"


@pytest.fixture
def domainee_account(db, monkeypatch):
    from tests.factories import ProviderAccountFactory

    monkeypatch.setenv("PROVIDER_SECRET_DOMAINEE_WEBHOOK", WEBHOOK_SECRET)
    return ProviderAccountFactory(kind="domainee", label="domainee")


@pytest.mark.parametrize("body", [b"not json", b"\xff\xfe", b"[]"],
                         ids=["text", "binary", "list"])
def test_a_delivery_that_is_not_a_json_object_is_refused_and_not_stored(
        client, domainee_account, body):
    from django.urls import reverse

    from billing.models import WebhookEvent

    response = client.post(reverse("webhook", args=["domainee", "domainee"]), data=body,
                           content_type="application/json",
                           HTTP_X_WEBHOOK_SECRET=WEBHOOK_SECRET)

    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0


def test_a_failed_purchase_webhook_ends_as_a_refunded_order_with_its_money(
        domainee_account, provider, fake):
    """The event Domainee fires for a refunded purchase, as billing.services applies it."""
    from billing.models import LedgerEntry, Order
    from billing.services import webhook_receive
    from tests.factories import AccountFactory

    customer = AccountFactory(customer_reference="user_jane_42")
    fake.outcome("registration_failed", reason="Registrar refused: premium name")
    buy(provider)
    [event] = fake.events

    outcome = webhook_receive(account=domainee_account, payload=json.loads(json.dumps(event)))

    assert outcome == "applied"
    order = Order.objects.get(provider_account=domainee_account)
    assert (order.status, order.total_minor, order.refunded_minor, order.net_minor) == (
        OrderStatus.REFUNDED, 1518, 1518, 0)
    assert order.upstream_id == fake.purchases[0]["id"]
    assert order.account == customer
    assert order.status_reason == "Registrar refused: premium name"
    assert sorted(order.ledger_entries.values_list("kind", "amount_minor")) == [
        (LedgerEntry.Kind.PAYMENT, 1518), (LedgerEntry.Kind.REFUND, 1518)]
    assert order.registration is None  # refunded: nothing was delivered
    assert webhook_receive(account=domainee_account, payload=event) == "duplicate"


# --- POST /v1/domains: connecting a hostname to the edge -----------------------------------


def test_connect_domain_sends_the_hostname_with_the_key(provider, fake):
    connection = provider.connect_domain("JanesBakery.com",
                                         idempotency_key="backoffice-connect-janesbakery.com")
    [sent] = fake.requests
    assert (sent.method, sent.url.path) == ("POST", "/v1/domains")
    assert json.loads(sent.content) == {"hostname": "janesbakery.com"}
    assert sent.headers["Idempotency-Key"] == "backoffice-connect-janesbakery.com"
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert (connection.domain, connection.upstream_id) == ("janesbakery.com", "dom_c1")


def test_connect_domain_refuses_a_bad_name_or_no_key_before_sending(provider, fake):
    from django.core.exceptions import ValidationError

    from registrar.providers.errors import CallerError

    with pytest.raises(ValidationError):
        provider.connect_domain("not a name", idempotency_key="k")
    with pytest.raises(CallerError):
        provider.connect_domain("janesbakery.com", idempotency_key=" ")
    assert fake.requests == []


def test_connect_domain_answer_without_an_id_is_malformed(provider, fake):
    from registrar.providers.errors import MalformedResponse

    fake.script("POST", "/v1/domains", respond(201, {"domain": {"hostname": "x.com"}}))
    with pytest.raises(MalformedResponse):
        provider.connect_domain("janesbakery.com", idempotency_key="k")
