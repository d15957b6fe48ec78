"""DomaineeProvider against document 002: the exact request a purchase sends, what each
answer becomes, the Idempotency-Key that makes replays safe, every input rule refused
before anything is sent, the mapping to billing.Order, and webhook parsing.

Only the HTTP boundary is fake: a recording `httpx.MockTransport`; sleeps are recorded.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from django.core.exceptions import ValidationError

from billing.models import Order, OrderKind, OrderStatus
from registrar.providers.base import (
    AuthenticationFailed,
    BadRequest,
    Capability,
    Conflict,
    MalformedResponse,
    Money,
    PaymentRequiredError,
    UpstreamFailure,
)
from registrar.providers.domain_api import CallerError
from registrar.providers.domainee import (
    BillingRequired,
    DomaineeProvider,
    DomainUnavailable,
    PriceChanged,
    Purchase,
    PurchaseRejected,
    PurchaseResult,
    parse_webhook,
    purchase_to_order_fields,
)
from tests.registrar.providers.test_domain_api_requests import Recorder, fail_with, respond

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


CREATED = respond(201, {"purchase": purchase_payload()})


def error(status: int, code: str, message: str = "upstream says no", *,
          nested: bool = True) -> Any:
    body = ({"error": {"code": code, "message": message}} if nested
            else {"code": code, "message": message})
    return respond(status, body)


@dataclass
class Harness:
    provider: DomaineeProvider
    recorder: Recorder
    sleeps: list[float] = field(default_factory=list)


def make_harness(*answers: Any, **kwargs: Any) -> Harness:
    recorder = Recorder(*answers)
    sleeps: list[float] = []
    provider = DomaineeProvider(base_url=BASE_URL, token=TOKEN, account_ref="ws_8812",
                                transport=httpx.MockTransport(recorder),
                                sleep=sleeps.append, **kwargs)
    return Harness(provider, recorder, sleeps)


def buy(harness: Harness, **overrides: Any) -> PurchaseResult:
    kwargs: dict[str, Any] = {
        "hostname": "janesbakery.com", "registrant": JANE, "max_total": CEILING,
        "customer_reference": "user_jane_42", "idempotency_key": KEY, **overrides,
    }
    return harness.provider.purchase(**kwargs)


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


def test_every_public_method_is_covered_here():
    public = {name for name, member in vars(DomaineeProvider).items()
              if not name.startswith("_") and inspect.isfunction(member)}
    assert public == {"ping", "order_idempotency_key", "purchase", "iter_purchases"}


def test_kind_and_capabilities():
    provider = make_harness(CREATED).provider
    assert provider.kind == "domainee"
    assert provider.supports(Capability.ORDERS)
    assert provider.capabilities == frozenset({Capability.ORDERS})


def test_ping_reads_the_list_filtered_to_nothing():
    harness = make_harness(respond(200, {"purchases": []}))
    assert harness.provider.ping() is None
    assert_sent(harness.recorder.only, "GET", "/v1/domain-purchases",
                params={"customerReference": "backoffice-ping"})


def test_ping_with_a_rejected_key_raises():
    harness = make_harness(error(401, "unauthorized"))
    with pytest.raises(AuthenticationFailed):
        harness.provider.ping()


# --- The purchase request ---------------------------------------------------------------


def test_purchase_sends_the_documented_body_and_parses_the_record():
    harness = make_harness(CREATED)

    result = buy(harness)

    assert_sent(harness.recorder.only, "POST", "/v1/domain-purchases", body=expected_body(),
                idempotency_key=KEY)
    assert result.refunded is False
    assert result.reason == ""
    assert result.request_id == "req-0001"
    assert result.status == "completed"
    purchase = result.purchase
    assert purchase is not None
    assert (purchase.id, purchase.hostname, purchase.years) == (
        "f8a0c1b9-1234-4bcd-9ef0-123456789abc", "janesbakery.com", 1)
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


def test_purchase_with_every_option():
    harness = make_harness(respond(201, {"purchase": purchase_payload(
        hostname="xn--bcker-gra.de", years=3, whoisPrivacyEnabled=False, autoRenew=True,
        connectedDomainId="dom_77")}))
    registrant = {**JANE, "organization": "Bakery LLC", "handle": "not ours to send",
                  "extra_properties": {"x": 1}}

    result = buy(harness, hostname="  Bäcker.DE ", years=3, registrant=registrant,
                 enable_whois_privacy=False, auto_renew=True,
                 auto_connect={"origin_url": "https://janesbakery.acmesites.app",
                               "keep_host": True})

    assert_sent(harness.recorder.only, "POST", "/v1/domain-purchases", idempotency_key=KEY,
                body=expected_body(
                    hostname="xn--bcker-gra.de", years=3,
                    registrant={**JANE_WIRE, "organization": "Bakery LLC"},
                    enableWhoisPrivacy=False, autoRenew=True,
                    autoConnect={"originUrl": "https://janesbakery.acmesites.app",
                                 "keepHost": True}))
    assert result.purchase.connected_domain_id == "dom_77"


def test_auto_connect_keep_host_defaults_to_false_explicitly():
    harness = make_harness(CREATED)
    buy(harness, auto_connect={"origin_url": "https://janesbakery.acmesites.app"})
    sent = json.loads(harness.recorder.only.content)
    assert sent["autoConnect"] == {"originUrl": "https://janesbakery.acmesites.app",
                                   "keepHost": False}


# --- Idempotency ------------------------------------------------------------------------


def test_the_key_is_derived_from_the_local_order():
    provider = make_harness(CREATED).provider
    assert provider.order_idempotency_key(42) == "backoffice-order-42"
    assert provider.order_idempotency_key("42") == "backoffice-order-42"
    assert provider.order_idempotency_key(42) != provider.order_idempotency_key(43)


@pytest.mark.parametrize("bad", [0, -1, True, None, "", "a b", "x" * 101, 4.2])
def test_a_bad_local_order_id_is_a_caller_error(bad):
    with pytest.raises(CallerError):
        make_harness(CREATED).provider.order_idempotency_key(bad)


def test_replaying_the_same_local_order_sends_the_same_key():
    first, second = make_harness(CREATED), make_harness(CREATED)

    for harness in (first, second):  # e.g. a task re-run in another worker
        buy(harness, idempotency_key=harness.provider.order_idempotency_key(42))

    keys = {h.recorder.only.headers["Idempotency-Key"] for h in (first, second)}
    assert keys == {"backoffice-order-42"}
    assert first.recorder.only.content == second.recorder.only.content


@pytest.mark.parametrize("failure", [
    respond(502, {"error": {"code": "upstream_error", "message": "gateway"}}),
    respond(502, text="<html>Bad Gateway</html>", content_type="text/html"),
    respond(504),
    fail_with(httpx.ReadTimeout),
], ids=["502-json", "502-html", "504", "timeout"])
def test_a_gateway_failure_is_retried_with_the_same_key(failure):
    harness = make_harness(failure, CREATED)

    result = buy(harness)

    assert result.status == "completed"
    assert harness.recorder.count == 2
    for request in harness.recorder.requests:
        assert_sent(request, "POST", "/v1/domain-purchases", body=expected_body(),
                    idempotency_key=KEY)
    assert len(harness.sleeps) == 1


def test_a_purchase_without_a_key_is_refused_before_sending():
    harness = make_harness(CREATED)
    with pytest.raises(CallerError):
        buy(harness, idempotency_key=" ")
    assert harness.recorder.count == 0


# --- Documented outcomes -------------------------------------------------------------------


@pytest.mark.parametrize("nested", [True, False], ids=["error-object", "flat"])
def test_registration_failed_is_a_refunded_result_with_the_reason(nested):
    reason = "Registrar refused: registrant email domain is blacklisted"
    harness = make_harness(error(502, "registration_failed", reason, nested=nested))

    result = buy(harness)

    assert harness.recorder.count == 1  # final: a retry would only replay it
    assert harness.sleeps == []
    assert result.refunded is True
    assert result.reason == reason
    assert result.status == "refunded"
    assert result.purchase is None
    assert purchase_to_order_fields(result) == {
        "kind": OrderKind.REGISTRATION, "status": OrderStatus.REFUNDED, "status_reason": reason}


def test_registration_failed_with_the_refunded_row():
    reason = "TLD requires local presence"
    harness = make_harness(respond(502, {
        "error": {"code": "registration_failed", "message": reason},
        "purchase": purchase_payload(status="refunded")}))

    result = buy(harness)

    assert result.refunded is True
    fields = purchase_to_order_fields(result)
    assert fields["status"] == OrderStatus.REFUNDED
    assert fields["refunded_minor"] == fields["total_minor"] == 1518
    assert fields["status_reason"] == reason


DOCUMENTED_ERRORS = [
    (409, "unavailable", DomainUnavailable, Conflict),
    (409, "price_changed", PriceChanged, Conflict),
    (402, "billing_required", BillingRequired, PaymentRequiredError),
    (400, "bad_request", PurchaseRejected, BadRequest),
]


@pytest.mark.parametrize("nested", [True, False], ids=["error-object", "flat"])
@pytest.mark.parametrize(("status", "code", "cls", "base"), DOCUMENTED_ERRORS,
                         ids=[row[1] for row in DOCUMENTED_ERRORS])
def test_documented_refusals_say_nothing_was_charged(status, code, cls, base, nested):
    raw = "internal: stripe pi_3Nx declined card_declined"
    harness = make_harness(error(status, code, raw, nested=nested))

    with pytest.raises(cls) as caught:
        buy(harness)

    failure = caught.value
    assert isinstance(failure, base)
    assert (failure.status, failure.code) == (status, code)
    assert failure.charged is False
    assert failure.retryable is False
    assert "Nothing was charged" in failure.message
    assert raw not in failure.message and TOKEN not in failure.message
    assert failure.details["upstream_message"] == raw
    assert harness.recorder.count == 1


def test_price_changed_is_flagged_as_no_charge():
    harness = make_harness(error(409, "price_changed", "live price 8900 > 2000"))
    with pytest.raises(PriceChanged) as caught:
        buy(harness)
    assert caught.value.charged is False
    assert "quote the domain again" in caught.value.message


def test_a_bare_string_error_code_is_understood():
    harness = make_harness(respond(409, {"error": "unavailable",
                                         "message": "janesbakery.com is taken"}))
    with pytest.raises(DomainUnavailable):
        buy(harness)


@pytest.mark.parametrize(("status", "body", "cls"), [
    (401, {"error": {"code": "unauthorized", "message": "bad key"}}, AuthenticationFailed),
    (409, {"error": {"code": "something_new", "message": "?"}}, Conflict),
    (500, None, UpstreamFailure),
])
def test_other_answers_fall_back_on_the_shared_mapping(status, body, cls):
    harness = make_harness(respond(status, body))
    with pytest.raises(cls) as caught:
        buy(harness)
    assert not isinstance(caught.value, DomainUnavailable | PriceChanged)


def test_a_201_of_the_wrong_shape_is_malformed():
    harness = make_harness(respond(201, {"purchase": {"id": "x"}}))
    with pytest.raises(MalformedResponse):
        buy(harness)


# --- Input rules: refused before anything is sent -------------------------------------------


def _without(name: str) -> dict[str, Any]:
    return {key: value for key, value in JANE.items() if key != name}


REFUSED = [
    ("hostname", {"hostname": "not a domain"}),
    ("hostname", {"hostname": "localhost"}),
    ("hostname", {"hostname": ""}),
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
def test_input_rules_are_enforced_before_sending(key, overrides):
    harness = make_harness(CREATED)

    with pytest.raises(ValidationError) as caught:
        buy(harness, **overrides)

    assert key in caught.value.message_dict
    assert all(caught.value.message_dict[key])
    assert harness.recorder.count == 0


def test_every_problem_is_reported_at_once():
    harness = make_harness(CREATED)
    with pytest.raises(ValidationError) as caught:
        buy(harness, hostname="bad name", years=20, max_total=Money(100, "EUR"),
            registrant={**JANE, "city": ""})
    assert set(caught.value.message_dict) == {"hostname", "years", "max_total", "city"}
    assert harness.recorder.count == 0


@pytest.mark.parametrize("overrides", [
    {"enable_whois_privacy": "yes"},
    {"auto_renew": 1},
    {"max_total": 2000},
    {"auto_connect": {"originUrl": "https://janesbakery.acmesites.app"}},
    {"auto_connect": {"origin_url": "https://a.example", "keep_host": "true"}},
    {"registrant": ["Jane"]},
])
def test_arguments_of_the_wrong_type_are_caller_errors(overrides):
    harness = make_harness(CREATED)
    with pytest.raises(CallerError):
        buy(harness, **overrides)
    assert harness.recorder.count == 0


# --- Mapping to billing.Order --------------------------------------------------------------


def test_a_completed_purchase_maps_to_a_registered_order():
    parsed = buy(make_harness(CREATED)).purchase
    # Given in another offset, stored in UTC.
    purchase = replace(parsed, created_at=datetime(2026, 5, 17, 17, 42, 9,
                                                   tzinfo=timezone(timedelta(hours=2))))
    fields = purchase_to_order_fields(purchase)

    assert fields == {
        "kind": OrderKind.REGISTRATION,
        "upstream_id": "f8a0c1b9-1234-4bcd-9ef0-123456789abc",
        "domain": "janesbakery.com",
        "years": 1,
        "currency": "USD",
        "subtotal_minor": 1418,
        "fees_minor": 100,
        "total_minor": 1518,
        "refunded_minor": 0,
        "status": OrderStatus.REGISTERED,
        "customer_reference": "user_jane_42",
        "placed_at": datetime(2026, 5, 17, 15, 42, 9, tzinfo=UTC),
    }
    assert fields["placed_at"].tzinfo is UTC
    Order(**fields)  # every key is an Order field


@pytest.mark.parametrize(("status", "order_status", "refunded"), [
    ("completed", OrderStatus.REGISTERED, 0),
    ("refunded", OrderStatus.REFUNDED, 1518),
    ("failed", OrderStatus.FAILED, 0),
])
def test_purchase_statuses_map_to_order_statuses(status, order_status, refunded):
    harness = make_harness(respond(201, {"purchase": purchase_payload(status=status)}))
    result = buy(harness)
    fields = purchase_to_order_fields(result)
    assert fields["status"] == order_status
    assert fields["refunded_minor"] == refunded
    assert result.refunded is (status == "refunded")


def test_a_raw_record_as_a_webhook_delivers_it_maps_the_same():
    record = purchase_payload(status="refunded")
    harness = make_harness(respond(201, {"purchase": record}))
    assert purchase_to_order_fields(record) == purchase_to_order_fields(buy(harness).purchase)
    assert purchase_to_order_fields(record)["refunded_minor"] == 1518


@pytest.mark.parametrize("record", [
    {"id": "p1"}, purchase_payload(totalCents=-1), purchase_payload(createdAt="yesterday"),
    purchase_payload(years=None)])
def test_a_malformed_raw_record_raises_what_the_webhook_handler_catches(record):
    with pytest.raises((KeyError, TypeError, ValueError)):
        purchase_to_order_fields(record)


def test_an_unknown_status_is_not_guessed():
    harness = make_harness(respond(201, {"purchase": purchase_payload(status="pending")}))
    result = buy(harness)
    with pytest.raises(ValueError, match="pending"):
        purchase_to_order_fields(result)


# --- Webhooks ------------------------------------------------------------------------------


@pytest.mark.parametrize(("event_type", "status"), [
    ("domain_purchase.completed", "completed"), ("domain_purchase.failed", "refunded")])
@pytest.mark.parametrize("envelope", ["data.purchase", "data", "purchase"])
def test_parse_webhook(event_type, status, envelope):
    record = purchase_payload(status=status)
    event: dict[str, Any] = {"id": "evt_123", "type": event_type}
    if envelope == "data.purchase":
        event["data"] = {"purchase": record}
    elif envelope == "data":
        event["data"] = record
    else:
        event["purchase"] = record

    event_id, parsed_type, purchase = parse_webhook(json.dumps(event).encode())

    assert (event_id, parsed_type) == ("evt_123", event_type)
    assert isinstance(purchase, Purchase)
    assert purchase.status == status
    assert purchase.customer_reference == "user_jane_42"


@pytest.mark.parametrize("body", [
    b"not json",
    b"\xff\xfe",
    b"[]",
    json.dumps({"id": "evt_1", "type": "domain.created",
                "data": {"purchase": purchase_payload()}}).encode(),
    json.dumps({"type": "domain_purchase.completed",
                "data": {"purchase": purchase_payload()}}).encode(),
    json.dumps({"id": "evt_1", "type": "domain_purchase.completed", "data": {}}).encode(),
    json.dumps({"id": "evt_1", "type": "domain_purchase.completed",
                "data": {"purchase": {"id": "p1", "hostname": "a.com"}}}).encode(),
    json.dumps({"id": "evt_1", "type": "domain_purchase.completed",
                "data": {"purchase": purchase_payload(totalCents="15.18")}}).encode(),
], ids=["text", "binary", "list", "other-event", "no-id", "no-purchase", "partial",
        "float-amount"])
def test_malformed_webhooks_raise_value_error(body):
    with pytest.raises(ValueError):
        parse_webhook(body)


@pytest.mark.django_db
def test_a_failed_purchase_webhook_ends_as_a_refunded_order_with_its_money():
    """parse_webhook and purchase_to_order_fields as billing.services uses them."""
    from billing.models import LedgerEntry
    from billing.services import webhook_receive
    from registrar.models import ProviderKind
    from tests.factories import AccountFactory, ProviderAccountFactory

    account = ProviderAccountFactory(kind=ProviderKind.DOMAINEE, label="domainee")
    customer = AccountFactory(customer_reference="user_jane_42")
    raw = json.dumps({"id": "evt_9", "type": "domain_purchase.failed", "data": {
        "purchase": purchase_payload(status="refunded"),
        "reason": "Registrar refused: premium name"}}).encode()
    event_id, event_type, _ = parse_webhook(raw)

    outcome = webhook_receive(account=account, event_id=event_id, event_type=event_type,
                              payload=json.loads(raw))

    assert outcome == "applied"
    order = Order.objects.get(provider_account=account)
    assert (order.status, order.total_minor, order.refunded_minor, order.net_minor) == (
        OrderStatus.REFUNDED, 1518, 1518, 0)
    assert order.account == customer
    assert order.status_reason == "Registrar refused: premium name"
    assert sorted(order.ledger_entries.values_list("kind", "amount_minor")) == [
        (LedgerEntry.Kind.PAYMENT, 1518), (LedgerEntry.Kind.REFUND, 1518)]
