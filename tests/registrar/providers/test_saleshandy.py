"""SaleshandyProvider against document 003: the exact request of every step of the
email-infrastructure flow, what the answers become, every order rule refused before
anything is sent, polling to completion, and the mapping to billing.Order/OrderItem.

Only the HTTP boundary is fake: a recording `httpx.MockTransport`; sleeps are recorded.
"""

from __future__ import annotations

import copy
import inspect
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from django.core.exceptions import ValidationError

from billing.models import Order, OrderItem, OrderKind, OrderStatus
from registrar.providers.base import (
    AuthenticationFailed,
    BadRequest,
    Capability,
    MalformedResponse,
    TransportError,
    UpstreamFailure,
)
from registrar.providers.domain_api import CallerError
from registrar.providers.saleshandy import (
    OrderPlaced,
    OrderProvisioning,
    ProvisionedDomain,
    SaleshandyProvider,
    clean_order,
    order_to_order_fields,
)
from tests.registrar.providers.test_domain_api_requests import Recorder, fail_with, respond

BASE_URL = "https://open-api.saleshandy.com"
API_KEY = "sh_live_secret"

# Document 003's example order, in our names.
OWNER = {
    "first_name": "John",
    "last_name": "Smith",
    "organization": "Acme Corp",
    "street_address": "123 Market Street",
    "city": "San Francisco",
    "state": "CA",
    "country": "US",
    "post_code": "94105",
    "phone": "+14155551234",
}
DOMAINS = [{
    "name": "tryoutreachteam.com",
    "redirect_url": "acmecorp.com",
    "mailboxes": [{"first_name": "John", "last_name": "Smith",
                   "email": "john@tryoutreachteam.com", "profile_pic_id": 0}],
}]
# ... and its body, as the document's curl example sends it.
DOC_BODY = {
    "domainOwnerFirstname": "John",
    "domainOwnerLastname": "Smith",
    "companyName": "Acme Corp",
    "address": "123 Market Street",
    "city": "San Francisco",
    "state": "CA",
    "country": "US",
    "zipcode": "94105",
    "phoneNumber": "+14155551234",
    "emailServiceProvider": "Google",
    "planType": "quarterly",
    "domains": [{
        "name": "tryoutreachteam.com",
        "redirectUrl": "acmecorp.com",
        "mailboxes": [{"firstname": "John", "lastname": "Smith",
                       "email": "john@tryoutreachteam.com", "profilePicId": 0}],
    }],
    "isReplacement": False,
    "isFreeOrder": False,
}


@dataclass
class Harness:
    provider: SaleshandyProvider
    recorder: Recorder
    sleeps: list[float] = field(default_factory=list)


def make_harness(*answers: Any, **kwargs: Any) -> Harness:
    recorder = Recorder(*answers)
    sleeps: list[float] = []
    provider = SaleshandyProvider(base_url=BASE_URL, token=API_KEY, account_ref="",
                                  transport=httpx.MockTransport(recorder),
                                  sleep=sleeps.append, **kwargs)
    return Harness(provider, recorder, sleeps)


def assert_sent(request: httpx.Request, method: str, path: str, *, body: Any = None,
                params: dict[str, str] | None = None) -> None:
    assert request.method == method
    assert request.url.scheme == "https"
    assert request.url.host == "open-api.saleshandy.com"
    assert request.url.path == path
    assert dict(request.url.params) == (params or {})
    assert request.headers["x-api-key"] == API_KEY
    assert "Authorization" not in request.headers
    assert "Idempotency-Key" not in request.headers
    assert not request.headers["User-Agent"].startswith("python-httpx")
    if body is None:
        assert request.content == b""
    else:
        assert request.headers["Content-Type"] == "application/json"
        assert json.loads(request.content) == body


def order_kwargs(**overrides: Any) -> dict[str, Any]:
    return {"owner": OWNER, "email_service_provider": "Google",
            "domains": copy.deepcopy(DOMAINS), **overrides}


def listed(status: str, name: str = "tryoutreachteam.com", **extra: Any) -> dict[str, Any]:
    return {"id": 9101, "name": name, "status": status,
            "mailboxes": [{"id": 1, "email": f"john@{name}"}], **extra}


def listing(*domains: dict[str, Any]) -> Any:
    return respond(200, {"message": "Domains fetched successfully",
                         "payload": {"domains": list(domains)}})


# --- Shape of the adapter ------------------------------------------------------------------


def test_every_public_method_is_covered_here():
    public = {name for name, member in vars(SaleshandyProvider).items()
              if not name.startswith("_") and inspect.isfunction(member)}
    assert public == {"ping", "search_domains", "get_plans",
                      "generate_mailbox_names", "create_order", "list_domains", "poll_order"}


def test_kind_and_capabilities():
    provider = make_harness(respond()).provider
    assert provider.kind == "saleshandy"
    assert provider.capabilities == frozenset({Capability.ORDERS})


def test_ping_reads_the_plans():
    harness = make_harness(respond(200, {"payload": {"plans": []}}))
    assert harness.provider.ping() is None
    assert_sent(harness.recorder.only, "GET", "/v1/domain/plans")


def test_a_refused_key_raises():
    harness = make_harness(respond(401, {"message": "Invalid API key"}))
    with pytest.raises(AuthenticationFailed) as caught:
        harness.provider.ping()
    assert "Invalid API key" not in caught.value.message


# --- Each step of the flow -----------------------------------------------------------------


@pytest.mark.parametrize("body", [
    {"payload": {"domains": [{"domain": "tryoutreachteam.com", "price": 12}]}},
    {"domains": [{"domain": "tryoutreachteam.com", "price": 12}]},
    [{"domain": "tryoutreachteam.com", "price": 12}],
], ids=["payload", "bare-object", "bare-list"])
def test_search_domains(body):
    harness = make_harness(respond(200, body))

    found = harness.provider.search_domains("  tryoutreach ")

    assert_sent(harness.recorder.only, "GET", "/v1/domain/search",
                params={"domain": "tryoutreach"})
    assert found == [{"domain": "tryoutreachteam.com", "price": 12}]


def test_search_needs_a_query():
    harness = make_harness(respond(200, []))
    with pytest.raises(ValidationError):
        harness.provider.search_domains(" ")
    assert harness.recorder.count == 0


def test_search_answer_without_a_list_is_malformed():
    harness = make_harness(respond(200, {"payload": {"total": 0}}))
    with pytest.raises(MalformedResponse):
        harness.provider.search_domains("tryoutreach")


def test_get_plans_returns_the_unwrapped_payload():
    plans = {"Google": {"quarterly": {"mailbox": 300}}, "Azure": {"quarterly": {"mailbox": 200}}}
    harness = make_harness(respond(200, {"message": "ok", "payload": plans}))
    assert harness.provider.get_plans() == plans
    assert_sent(harness.recorder.only, "GET", "/v1/domain/plans")


@pytest.mark.parametrize("suggestions", [
    ["john.smith@tryoutreachteam.com", "jsmith@tryoutreachteam.com"],
    [{"email": "john.smith@tryoutreachteam.com"}, {"email": "jsmith@tryoutreachteam.com"}],
])
def test_generate_mailbox_names(suggestions):
    harness = make_harness(respond(201, {"payload": {"mailboxNames": suggestions}}))

    names = harness.provider.generate_mailbox_names(
        first_name="John", last_name="Smith", domain="TryOutreachTeam.com", count=5)

    assert_sent(harness.recorder.only, "POST", "/v1/domain/generate-mailbox-names",
                body={"firstName": "John", "lastName": "Smith",
                      "domain": "tryoutreachteam.com", "count": 5})
    assert names == ["john.smith@tryoutreachteam.com", "jsmith@tryoutreachteam.com"]


@pytest.mark.parametrize(("kwargs", "key"), [
    ({"count": 0}, "count"),
    ({"count": 101}, "count"),
    ({"first_name": ""}, "first_name"),
    ({"last_name": " "}, "last_name"),
    ({"domain": "https://tryoutreachteam.com"}, "domain"),
])
def test_generate_mailbox_names_is_checked_before_sending(kwargs, key):
    harness = make_harness(respond(201, []))
    arguments = {"first_name": "John", "last_name": "Smith",
                 "domain": "tryoutreachteam.com", "count": 5, **kwargs}
    with pytest.raises(ValidationError) as caught:
        harness.provider.generate_mailbox_names(**arguments)
    assert key in caught.value.message_dict
    assert harness.recorder.count == 0


def test_create_order_sends_the_documented_body_and_returns_the_checkout():
    checkout = "https://buy.paddle.com/checkout/abc123"
    harness = make_harness(respond(201, {"payload": {"orderId": "ord_77",
                                                     "checkoutUrl": checkout}}))

    placed = harness.provider.create_order(**order_kwargs())

    assert_sent(harness.recorder.only, "POST", "/v1/domain", body=DOC_BODY)
    assert placed == OrderPlaced(order_id="ord_77", checkout_url=checkout,
                                 is_free_order=False, is_replacement=False,
                                 request_id="req-0001",
                                 raw={"orderId": "ord_77", "checkoutUrl": checkout})
    assert placed.needs_payment


def test_a_free_order_returns_only_the_order_id():
    harness = make_harness(respond(201, {"orderId": "ord_78"}))

    placed = harness.provider.create_order(**order_kwargs(is_free_order=True))

    assert_sent(harness.recorder.only, "POST", "/v1/domain",
                body={**DOC_BODY, "isFreeOrder": True})
    assert (placed.order_id, placed.checkout_url) == ("ord_78", "")
    assert placed.is_free_order and not placed.needs_payment


def test_a_replacement_order_says_so():
    harness = make_harness(respond(201, {"orderId": "ord_79"}))
    placed = harness.provider.create_order(**order_kwargs(is_replacement=True))
    assert json.loads(harness.recorder.only.content)["isReplacement"] is True
    assert placed.is_replacement


def test_an_empty_201_is_still_a_placed_order():
    harness = make_harness(respond(201))
    placed = harness.provider.create_order(**order_kwargs())
    assert (placed.order_id, placed.checkout_url) == ("", "")


@pytest.mark.parametrize("url", ["javascript:alert(1)", "http://pay.example/x"])
def test_a_checkout_link_that_is_not_https_is_dropped(url):
    harness = make_harness(respond(201, {"orderId": "ord_80", "checkoutUrl": url}))
    placed = harness.provider.create_order(**order_kwargs())
    assert placed.checkout_url == ""


def test_create_order_with_azure_quarterly_and_several_domains():
    harness = make_harness(respond(201, {"orderId": "ord_81"}))
    domains = [
        {"name": "tryoutreachteam.com",
         "mailboxes": [{"first_name": "John", "last_name": "Smith", "email": "john"},
                       {"first_name": "Jane", "last_name": "Doe",
                        "email": "Jane@TryOutreachTeam.com", "profile_pic_id": 3}]},
        {"name": "getoutreachteam.io",
         "mailboxes": [{"first_name": "John", "last_name": "Smith", "email": "john"}]},
    ]
    owner = {key: value for key, value in OWNER.items() if key not in ("organization", "state")}

    harness.provider.create_order(owner=owner, email_service_provider="Azure",
                                  plan_type="quarterly", domains=domains)

    sent = json.loads(harness.recorder.only.content)
    assert "companyName" not in sent and "state" not in sent
    assert sent["emailServiceProvider"] == "Azure"
    assert sent["domains"] == [
        {"name": "tryoutreachteam.com", "mailboxes": [
            {"firstname": "John", "lastname": "Smith", "email": "john@tryoutreachteam.com",
             "profilePicId": 0},
            {"firstname": "Jane", "lastname": "Doe", "email": "jane@tryoutreachteam.com",
             "profilePicId": 3}]},
        {"name": "getoutreachteam.io", "mailboxes": [
            {"firstname": "John", "lastname": "Smith", "email": "john@getoutreachteam.io",
             "profilePicId": 0}]},
    ]


def test_create_order_is_not_retried():
    harness = make_harness(respond(502, {"message": "Bad gateway"}), respond(201, {}))
    with pytest.raises(UpstreamFailure):
        harness.provider.create_order(**order_kwargs())
    assert harness.recorder.count == 1


def test_an_upstream_400_is_a_bad_request_with_the_message_logged_only():
    harness = make_harness(respond(400, {"statusCode": 400, "error": "Bad Request",
                                         "message": ["zipcode is invalid for country"]}))
    with pytest.raises(BadRequest) as caught:
        harness.provider.create_order(**order_kwargs())
    assert caught.value.details["upstream_message"] == "zipcode is invalid for country"
    assert "zipcode" not in caught.value.message


@pytest.mark.parametrize(("kwargs", "params"), [
    ({}, {}),
    ({"search": "tryoutreach", "order": "Desc"}, {"search": "tryoutreach", "order": "Desc"}),
])
def test_list_domains(kwargs, params):
    harness = make_harness(listing(listed("active", orderId="ord_77")))

    domains = harness.provider.list_domains(**kwargs)

    assert_sent(harness.recorder.only, "GET", "/v1/domain", params=params)
    assert domains == [ProvisionedDomain(
        id="9101", name="tryoutreachteam.com", status="active", order_id="ord_77",
        mailboxes=[{"id": 1, "email": "john@tryoutreachteam.com"}],
        raw=listed("active", orderId="ord_77"))]


def test_list_domains_order_must_be_documented():
    with pytest.raises(CallerError):
        make_harness(listing()).provider.list_domains(order="newest")


def test_a_listing_entry_without_a_status_is_malformed():
    harness = make_harness(respond(200, {"domains": [{"id": 1, "name": "a.com"}]}))
    with pytest.raises(MalformedResponse):
        harness.provider.list_domains()


# --- The whole flow, and polling ---------------------------------------------------------


def test_create_then_poll_until_provisioned():
    harness = make_harness(
        respond(201, {"payload": {"orderId": "ord_77"}}),
        listing(listed("inProgress")),
        listing(listed("inProgress")),
        listing(listed("active")),
    )

    placed = harness.provider.create_order(**order_kwargs(is_free_order=True))
    state = harness.provider.poll_order(placed.order_id, domains=["tryoutreachteam.com"],
                                        max_polls=5, interval=30.0)

    assert harness.recorder.count == 4
    assert_sent(harness.recorder.requests[0], "POST", "/v1/domain",
                body={**DOC_BODY, "isFreeOrder": True})
    for request in harness.recorder.requests[1:]:
        assert_sent(request, "GET", "/v1/domain", params={"search": "tryoutreachteam.com"})
    assert harness.sleeps == [30.0, 30.0]  # between polls, never after the last
    assert not state.in_progress
    assert state.status == "active"
    assert state.polls == 3
    assert [d.name for d in state.domains] == ["tryoutreachteam.com"]


def test_poll_uses_the_given_sleep_and_stops_at_the_bound():
    naps: list[float] = []
    harness = make_harness(listing(listed("inProgress")))

    state = harness.provider.poll_order("ord_77", domains=["tryoutreachteam.com"],
                                        max_polls=3, interval=2.5, sleep=naps.append)

    assert harness.recorder.count == 3
    assert naps == [2.5, 2.5]
    assert harness.sleeps == []
    assert state.in_progress and state.status == "inProgress" and state.polls == 3


def test_poll_waits_until_every_domain_of_the_order_is_listed():
    names = ["tryoutreachteam.com", "getoutreachteam.io"]
    harness = make_harness(
        listing(listed("active")),  # the second domain not listed yet
        listing(listed("active"), listed("failed", name="getoutreachteam.io"),
                listed("active", name="unrelated.com")),
    )

    state = harness.provider.poll_order("", domains=names, max_polls=4, interval=1.0)

    for request in harness.recorder.requests:  # two names: no search filter
        assert_sent(request, "GET", "/v1/domain")
    assert state.polls == 2
    assert state.status == "failed"
    assert {d.name for d in state.domains} == set(names)


def test_poll_matches_on_the_order_id_when_the_listing_carries_it():
    harness = make_harness(listing(
        listed("inProgress", orderId="ord_other"),
        listed("active", orderId="ord_77"),
    ))
    state = harness.provider.poll_order("ord_77", max_polls=1)
    assert [d.order_id for d in state.domains] == ["ord_77"]
    assert state.status == "active"
    assert_sent(harness.recorder.only, "GET", "/v1/domain")


def test_poll_retries_a_failed_read():
    harness = make_harness(fail_with(httpx.ConnectError), listing(listed("active")))
    state = harness.provider.poll_order("ord_77", domains=["tryoutreachteam.com"])
    assert state.status == "active"
    assert harness.recorder.count == 2


def test_poll_needs_something_to_match():
    harness = make_harness(listing())
    with pytest.raises(CallerError):
        harness.provider.poll_order("")
    with pytest.raises(CallerError):
        harness.provider.poll_order("ord_77", max_polls=0)
    assert harness.recorder.count == 0


def test_a_connection_that_never_answers_is_a_transport_error():
    harness = make_harness(fail_with(httpx.ReadTimeout))
    with pytest.raises(TransportError):
        harness.provider.create_order(**order_kwargs())
    assert harness.recorder.count == 1  # an order without an idempotency key


# --- Order rules: refused before anything is sent -------------------------------------------


def _owner(**changes: Any) -> dict[str, Any]:
    owner = {**OWNER, **changes}
    return {key: value for key, value in owner.items() if value is not None}


def _domain(**changes: Any) -> list[dict[str, Any]]:
    domain = {**copy.deepcopy(DOMAINS[0]), **changes}
    return [domain]


def _mailbox(**changes: Any) -> list[dict[str, Any]]:
    mailbox = {**DOMAINS[0]["mailboxes"][0], **changes}
    return _domain(mailboxes=[mailbox])


RULES = [
    ("first_name", {"owner": _owner(first_name="")}, "required"),
    ("first_name", {"owner": _owner(first_name="J" * 51)}, "1 to 50"),
    ("last_name", {"owner": _owner(last_name=None)}, "required"),
    ("last_name", {"owner": _owner(last_name="S" * 51)}, "1 to 50"),
    ("phone", {"owner": _owner(phone="4155551234")}, "international"),
    ("phone", {"owner": _owner(phone="+1.5551234567")}, "not a valid phone"),
    ("phone", {"owner": _owner(phone=None)}, "required"),
    ("country", {"owner": _owner(country="USA")}, "two-letter"),
    ("country", {"owner": _owner(country="us")}, "two-letter"),
    ("country", {"owner": _owner(country="XX")}, "not an ISO"),
    ("street_address", {"owner": _owner(street_address="")}, "required"),
    ("city", {"owner": _owner(city=None)}, "required"),
    ("post_code", {"owner": _owner(post_code="")}, "required"),
    ("email_service_provider", {"email_service_provider": "Yahoo"}, "Google, Microsoft, Azure"),
    ("email_service_provider", {"email_service_provider": "google"}, "Google, Microsoft"),
    ("plan_type", {"plan_type": "monthly"}, "quarterly, annualFlexi, annualFixed"),
    ("plan_type", {"email_service_provider": "Azure", "plan_type": "monthly"}, "billing cycle"),
    ("plan_type", {"email_service_provider": "Azure", "plan_type": "annualFlexi"},
     "only sold quarterly"),
    ("plan_type", {"email_service_provider": "Azure", "plan_type": "annualFixed"},
     "only sold quarterly"),
    ("domains", {"domains": []}, "at least one domain"),
    ("domains[0].mailboxes", {"domains": _domain(mailboxes=[])}, "at least one mailbox"),
    ("domains[0].name", {"domains": _domain(name="not a domain")}, "not a valid domain"),
    ("domains[0].name", {"domains": _domain(name="")}, "Enter a domain"),
    ("domains[0].redirect_url", {"domains": _domain(redirect_url="https://acmecorp.com")},
     "bare domain"),
    ("domains[0].redirect_url", {"domains": _domain(redirect_url="acmecorp.com/landing")},
     "bare domain"),
    ("domains[0].redirect_url", {"domains": _domain(redirect_url="acmecorp.com:8080")},
     "bare domain"),
    ("domains[0].redirect_url", {"domains": _domain(redirect_url="acmecorp")}, "needs a name"),
    ("domains[0].mailboxes[0].email", {"domains": _mailbox(email="john@elsewhere.com")},
     "must be on tryoutreachteam.com"),
    ("domains[0].mailboxes[0].email", {"domains": _mailbox(email="")}, "not an e-mail"),
    ("domains[0].mailboxes[0].email", {"domains": _mailbox(email="jo hn")}, "not an e-mail"),
    ("domains[0].mailboxes[0].first_name", {"domains": _mailbox(first_name=" ")},
     "first and last name"),
    ("domains[0].mailboxes[1].email",
     {"domains": _domain(mailboxes=[DOMAINS[0]["mailboxes"][0]] * 2)}, "twice"),
    ("domains[1].name", {"domains": _domain() + _domain()}, "twice"),
]


@pytest.mark.parametrize(("key", "overrides", "message"), RULES,
                         ids=[f"{key}-{i}" for i, (key, _, _) in enumerate(RULES)])
def test_order_rules_are_enforced_before_sending(key, overrides, message):
    harness = make_harness(respond(201, {"orderId": "never"}))

    with pytest.raises(ValidationError) as caught:
        harness.provider.create_order(**order_kwargs(**overrides))

    errors = caught.value.message_dict
    assert key in errors, errors
    assert any(message in text for text in errors[key]), errors[key]
    assert harness.recorder.count == 0


def test_azure_monthly_is_refused():
    with pytest.raises(ValidationError) as caught:
        clean_order(**order_kwargs(email_service_provider="Azure", plan_type="annualFlexi"))
    assert caught.value.message_dict == {"plan_type": ["Azure mailboxes are only sold quarterly."]}


def test_every_problem_is_reported_at_once():
    with pytest.raises(ValidationError) as caught:
        clean_order(owner=_owner(first_name="", country="usa"), email_service_provider="Yahoo",
                    domains=_domain(redirect_url="http://x.com", mailboxes=[]))
    assert set(caught.value.message_dict) == {
        "first_name", "country", "email_service_provider", "domains[0].redirect_url",
        "domains[0].mailboxes"}


@pytest.mark.parametrize("kwargs", [
    {"owner": ["John"]},
    {"domains": "tryoutreachteam.com"},
    {"domains": ["tryoutreachteam.com"]},
    {"is_free_order": "yes"},
    {"domains": _mailbox(profile_pic_id="1")},
])
def test_arguments_of_the_wrong_type_are_caller_errors(kwargs):
    harness = make_harness(respond(201, {}))
    with pytest.raises(CallerError):
        harness.provider.create_order(**order_kwargs(**kwargs))
    assert harness.recorder.count == 0


def test_clean_order_is_pure_and_gives_the_wire_body():
    assert clean_order(**order_kwargs()) == DOC_BODY


# --- Mapping to billing.Order ----------------------------------------------------------------


def _placed(**changes: Any) -> OrderPlaced:
    values = {"order_id": "ord_77", "checkout_url": "", "is_free_order": False,
              "is_replacement": False, **changes}
    return OrderPlaced(**values)


def _state(*statuses: str) -> OrderProvisioning:
    names = ("tryoutreachteam.com",)
    domains = tuple(ProvisionedDomain(id="9101", name=names[0], status=s) for s in statuses)
    return OrderProvisioning(order_id="ord_77", expected=names, domains=domains, polls=1)


def test_an_order_maps_to_an_email_infrastructure_order_with_one_item_per_mailbox():
    body = clean_order(**order_kwargs(domains=[{**DOMAINS[0], "mailboxes": [
        *DOMAINS[0]["mailboxes"],
        {"first_name": "Jane", "last_name": "Doe", "email": "jane"}]}]))

    fields, items = order_to_order_fields(
        body, _placed(checkout_url="https://buy.paddle.com/checkout/abc"))

    assert fields == {"kind": OrderKind.EMAIL_INFRASTRUCTURE, "upstream_id": "ord_77",
                      "status": OrderStatus.PAYMENT_INITIATED, "domain": "tryoutreachteam.com"}
    assert [item["details"]["email"] for item in items] == [
        "john@tryoutreachteam.com", "jane@tryoutreachteam.com"]
    assert items[0] == {
        "description": "Mailbox john@tryoutreachteam.com (Google, quarterly)",
        "domain": "tryoutreachteam.com",
        "quantity": 1,
        "details": {"email": "john@tryoutreachteam.com", "first_name": "John",
                    "last_name": "Smith", "profile_pic_id": 0,
                    "email_service_provider": "Google", "plan_type": "quarterly",
                    "redirect_url": "acmecorp.com", "domain_id": "", "domain_status": ""},
    }
    order = Order(**fields)  # every key is a model field
    for item in items:
        OrderItem(order=order, **item)


@pytest.mark.parametrize(("placed", "state", "status"), [
    (_placed(is_free_order=True), None, OrderStatus.REGISTRATION_IN_PROGRESS),
    (_placed(is_replacement=True), None, OrderStatus.REGISTRATION_IN_PROGRESS),
    (_placed(checkout_url="https://pay.example/x"), None, OrderStatus.PAYMENT_INITIATED),
    (_placed(), _state("inProgress"), OrderStatus.REGISTRATION_IN_PROGRESS),
    (_placed(), _state("active"), OrderStatus.REGISTERED),
    (_placed(), _state("failed"), OrderStatus.FAILED),
    (_placed(), _state("deleted"), OrderStatus.CANCELLED),
    (_placed(), _state("expired"), OrderStatus.REGISTERED),
    (_placed(), _state(), OrderStatus.REGISTRATION_IN_PROGRESS),
])
def test_order_status(placed, state, status):
    fields, items = order_to_order_fields(clean_order(**order_kwargs()), placed, state)
    assert fields["status"] == status
    if state is not None and state.domains:
        assert items[0]["details"]["domain_id"] == "9101"
        assert items[0]["details"]["domain_status"] == state.domains[0].status


def test_a_multi_domain_order_names_no_single_domain():
    body = clean_order(**order_kwargs(domains=[
        DOMAINS[0], {**DOMAINS[0], "name": "getoutreachteam.io", "redirect_url": "",
                     "mailboxes": [{"first_name": "A", "last_name": "B", "email": "a"}]}]))
    fields, items = order_to_order_fields(body, _placed(order_id=""))
    assert fields["domain"] == ""
    assert fields["upstream_id"] is None
    assert [item["domain"] for item in items] == ["tryoutreachteam.com", "getoutreachteam.io"]


def test_an_unknown_domain_status_is_not_guessed():
    with pytest.raises(ValueError, match="suspended"):
        order_to_order_fields(clean_order(**order_kwargs()), _placed(), _state("suspended"))
