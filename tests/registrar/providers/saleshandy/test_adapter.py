"""SaleshandyProvider against document 003: the exact request of every step of the
email-infrastructure flow, what the answers become, polling to completion, and the
provider hooks the core calls (placing and following an email order, the account's
domains as registrations).

Only the HTTP boundary is fake: `FakeSaleshandy` (stateful) or, where a test needs one
exact answer, a `Scripted` upstream; sleeps are recorded. The order rules are in
test_rules.py, the mapping to OrderRecords and the order mirror in test_orders.py.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

import httpx
import pytest
from django.core.exceptions import ValidationError

from registrar.providers.base import (
    Capability,
    EmailOrderPlaced,
    KnownOrder,
    OrderState,
    OrderType,
    RegistrationRecord,
    RegistrationState,
)
from registrar.providers.errors import (
    AuthenticationFailed,
    BadRequest,
    CallerError,
    MalformedResponse,
    TransportError,
    UpstreamFailure,
)
from registrar.providers.saleshandy.adapter import SaleshandyProvider
from registrar.providers.saleshandy.wire import OrderPlaced, ProvisionedDomain
from tests.fakes.http import REQUEST_ID, Scripted, fail_with, respond
from tests.fakes.saleshandy import (
    API_KEY,
    DOC_BODY,
    OWNER,
    FakeSaleshandy,
    adapter,
    error,
    order_kwargs,
)


def assert_sent(request: httpx.Request, method: str, path: str, *, body: Any = None,
                params: dict[str, str] | None = None) -> None:
    """The exact request that left: method, URL, query, authentication, JSON body."""
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


def connect(**fake_options: Any) -> tuple[SaleshandyProvider, FakeSaleshandy, list[float]]:
    """The adapter on a fresh fake account; the sleeps between polls are recorded."""
    fake = FakeSaleshandy(**fake_options)
    sleeps: list[float] = []
    return adapter(fake, sleep=sleeps.append), fake, sleeps


def scripted(*answers: Any) -> tuple[SaleshandyProvider, Scripted]:
    upstream = Scripted(*answers)
    return adapter(upstream), upstream


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
    assert public == {"ping", "search_domains", "get_plans", "generate_mailbox_names",
                      "create_order", "list_domains", "poll_order", "place_email_order",
                      "refresh_email_order", "iter_orders", "iter_registrations",
                      "domain_offer", "domain_suggestions", "email_plans",
                      "email_domain_candidates", "suggest_mailbox_names"}


def test_kind_capabilities_and_order_choices():
    provider, _, _ = connect()
    assert provider.kind == "saleshandy"
    assert provider.display_name == "Saleshandy"
    assert provider.capabilities == frozenset({
        Capability.EMAIL_ORDERS, Capability.ORDER_MIRROR, Capability.REGISTRATION_SYNC,
        Capability.DOMAIN_SEARCH, Capability.EMAIL_ORDER_TOOLS})
    assert SaleshandyProvider.email_service_providers == ("Google", "Microsoft", "Azure")
    # The first plan is Saleshandy's default (document 003: quarterly).
    assert [value for value, _ in SaleshandyProvider.email_plan_choices] == [
        "quarterly", "annualFlexi", "annualFixed"]
    assert SaleshandyProvider.order_mirror_needs_known is True
    assert SaleshandyProvider.final_order_states == frozenset({
        OrderState.COMPLETED, OrderState.FAILED, OrderState.CANCELLED, OrderState.REFUNDED})


def test_ping_reads_the_plans():
    provider, fake, _ = connect()
    assert provider.ping() is None
    assert_sent(fake.only, "GET", "/v1/domain/plans")


def test_a_refused_key_raises():
    fake = FakeSaleshandy()
    provider = adapter(fake, token="sh_live_revoked")
    with pytest.raises(AuthenticationFailed) as caught:
        provider.ping()
    assert fake.api_keys == ["sh_live_revoked"]
    assert caught.value.details["upstream_message"] == "Invalid API key"
    assert "Invalid API key" not in caught.value.message


@pytest.mark.parametrize(("body", "code"), [
    ({"message": "Invalid API key", "code": "invalid_api_key"}, "invalid_api_key"),
    ({"message": "Invalid API key", "code": "Not A Code!"}, "http_401"),
    ({"error": "Unauthorized"}, "http_401"),
    ([], "http_401"),
], ids=["own-code", "code-not-a-word", "error-only", "not-an-object"])
def test_an_error_code_is_kept_only_when_it_is_a_machine_code(body, code):
    provider, _ = scripted(respond(401, body))
    with pytest.raises(AuthenticationFailed) as caught:
        provider.ping()
    assert caught.value.code == code
    assert caught.value.request_id == REQUEST_ID


# --- Each step of the flow -----------------------------------------------------------------


@pytest.mark.parametrize("body", [
    {"payload": {"domains": [{"domain": "tryoutreachteam.com", "price": 12}]}},
    {"data": {"results": [{"domain": "tryoutreachteam.com", "price": 12}]}},
    {"domains": [{"domain": "tryoutreachteam.com", "price": 12}]},
    [{"domain": "tryoutreachteam.com", "price": 12}],
], ids=["payload", "data", "bare-object", "bare-list"])
def test_search_domains(body):
    provider, upstream = scripted(respond(200, body))

    found = provider.search_domains("  tryoutreach ")

    assert_sent(upstream.only, "GET", "/v1/domain/search", params={"domain": "tryoutreach"})
    assert found == [{"domain": "tryoutreachteam.com", "price": 12}]


def test_search_offers_what_is_free_and_marks_what_is_taken():
    provider, fake, _ = connect()
    fake.add_domain("tryoutreach.com")
    fake.taken.add("tryoutreach.io")

    found = provider.search_domains("tryoutreach")

    assert_sent(fake.only, "GET", "/v1/domain/search", params={"domain": "tryoutreach"})
    assert [(entry["domain"], entry["available"]) for entry in found] == [
        ("tryoutreach.com", False), ("tryoutreach.io", False), ("tryoutreach.co", True)]


def test_search_needs_a_query():
    provider, fake, _ = connect()
    with pytest.raises(ValidationError):
        provider.search_domains(" ")
    assert fake.requests == []


def test_search_answer_without_a_list_is_malformed():
    provider, _ = scripted(respond(200, {"payload": {"total": 0}}))
    with pytest.raises(MalformedResponse):
        provider.search_domains("tryoutreach")


def test_get_plans_returns_the_unwrapped_payload():
    provider, fake, _ = connect()
    assert provider.get_plans() == fake.plans
    assert "annualFlexi" not in fake.plans["Azure"]
    assert_sent(fake.only, "GET", "/v1/domain/plans")


@pytest.mark.parametrize("suggestions", [
    ["john.smith@tryoutreachteam.com", "jsmith@tryoutreachteam.com"],
    [{"email": "john.smith@tryoutreachteam.com"}, {"email": "jsmith@tryoutreachteam.com"}],
])
def test_generate_mailbox_names_reads_addresses_or_objects(suggestions):
    provider, upstream = scripted(respond(201, {"payload": {"mailboxNames": suggestions}}))

    names = provider.generate_mailbox_names(
        first_name="John", last_name="Smith", domain="TryOutreachTeam.com", count=2)

    assert_sent(upstream.only, "POST", "/v1/domain/generate-mailbox-names",
                body={"firstName": "John", "lastName": "Smith",
                      "domain": "tryoutreachteam.com", "count": 2})
    assert names == ["john.smith@tryoutreachteam.com", "jsmith@tryoutreachteam.com"]


def test_generate_mailbox_names_asks_for_the_count_given():
    provider, fake, _ = connect()

    names = provider.generate_mailbox_names(first_name=" John ", last_name="Smith",
                                            domain="tryoutreachteam.com", count=5)

    assert_sent(fake.only, "POST", "/v1/domain/generate-mailbox-names",
                body={"firstName": "John", "lastName": "Smith",
                      "domain": "tryoutreachteam.com", "count": 5})
    assert len(names) == len(set(names)) == 5
    assert all(name.endswith("@tryoutreachteam.com") for name in names)


@pytest.mark.parametrize(("kwargs", "key"), [
    ({"count": 0}, "count"),
    ({"count": 101}, "count"),
    ({"count": True}, "count"),
    ({"first_name": ""}, "first_name"),
    ({"last_name": " "}, "last_name"),
    ({"domain": "https://tryoutreachteam.com"}, "domain"),
    ({"domain": "not a domain"}, "domain"),
])
def test_generate_mailbox_names_is_checked_before_sending(kwargs, key):
    provider, fake, _ = connect()
    arguments = {"first_name": "John", "last_name": "Smith",
                 "domain": "tryoutreachteam.com", "count": 5, **kwargs}
    with pytest.raises(ValidationError) as caught:
        provider.generate_mailbox_names(**arguments)
    assert key in caught.value.message_dict
    assert fake.requests == []


def test_create_order_sends_the_documented_body_and_returns_the_checkout():
    provider, fake, _ = connect()

    placed = provider.create_order(**order_kwargs())

    assert_sent(fake.only, "POST", "/v1/domain", body=DOC_BODY)
    (taken,) = fake.orders.values()
    checkout = taken.checkout_url
    assert checkout.startswith("https://buy.paddle.com/checkout/")
    assert placed == OrderPlaced(order_id=taken.order_id, checkout_url=checkout,
                                 is_free_order=False, is_replacement=False,
                                 request_id="sh-req-1",
                                 raw={"orderId": taken.order_id, "checkoutUrl": checkout})
    assert placed.needs_payment
    assert not taken.paid and fake.domain("tryoutreachteam.com").listed is False


def test_a_free_order_returns_only_the_order_id():
    provider, fake, _ = connect()

    placed = provider.create_order(**order_kwargs(is_free_order=True))

    assert_sent(fake.only, "POST", "/v1/domain", body={**DOC_BODY, "isFreeOrder": True})
    assert (placed.order_id, placed.checkout_url) == ("ord_1", "")
    assert placed.raw == {"orderId": "ord_1"}
    assert placed.is_free_order and not placed.needs_payment


def test_a_replacement_order_says_so():
    provider, fake, _ = connect()
    placed = provider.create_order(**order_kwargs(is_replacement=True))
    assert json.loads(fake.only.content)["isReplacement"] is True
    assert placed.is_replacement and not placed.needs_payment


def test_an_empty_201_is_still_a_placed_order():
    provider, _ = scripted(respond(201))
    placed = provider.create_order(**order_kwargs())
    assert (placed.order_id, placed.checkout_url) == ("", "")


@pytest.mark.parametrize("url", ["javascript:alert(1)", "http://pay.example/x"])
def test_a_checkout_link_that_is_not_https_is_dropped(url):
    provider, _ = scripted(respond(201, {"orderId": "ord_80", "checkoutUrl": url}))
    placed = provider.create_order(**order_kwargs())
    assert placed.checkout_url == ""
    assert placed.order_id == "ord_80"


def test_create_order_with_azure_quarterly_and_several_domains():
    provider, fake, _ = connect()
    domains = [
        {"name": "tryoutreachteam.com",
         "mailboxes": [{"first_name": "John", "last_name": "Smith", "email": "john"},
                       {"first_name": "Jane", "last_name": "Doe",
                        "email": "Jane@TryOutreachTeam.com", "profile_pic_id": 3}]},
        {"name": "getoutreachteam.io",
         "mailboxes": [{"first_name": "John", "last_name": "Smith", "email": "john"}]},
    ]
    owner = {key: value for key, value in OWNER.items() if key not in ("organization", "state")}

    provider.create_order(owner=owner, email_service_provider="Azure",
                          plan_type="quarterly", domains=domains)

    sent = json.loads(fake.only.content)
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
    assert [domain.name for domain in fake.orders["ord_1"].domains] == [
        "tryoutreachteam.com", "getoutreachteam.io"]


def test_create_order_is_not_retried():
    provider, fake, _ = connect()
    fake.script("POST", "/v1/domain", error(502, "Bad gateway"), respond(201, {}))
    with pytest.raises(UpstreamFailure):
        provider.create_order(**order_kwargs())
    assert len(fake.requests) == 1


def test_an_upstream_400_is_a_bad_request_with_the_message_logged_only():
    provider, fake, _ = connect()
    # Document 003: the zipcode must be valid for the country; only Saleshandy checks it.
    with pytest.raises(BadRequest) as caught:
        provider.create_order(**order_kwargs(owner={**OWNER, "post_code": "SW1A 1AA"}))
    assert caught.value.details["upstream_message"] == "zipcode is invalid for country"
    assert "zipcode" not in caught.value.message
    assert caught.value.status == 400 and caught.value.code == "http_400"
    assert json.loads(fake.only.content)["zipcode"] == "SW1A 1AA"
    assert fake.orders == {}


def test_a_connection_that_never_answers_is_a_transport_error():
    provider, fake, _ = connect()
    fake.script("POST", "/v1/domain", fail_with(httpx.ReadTimeout))
    with pytest.raises(TransportError) as caught:
        provider.create_order(**order_kwargs())
    assert caught.value.code == "timeout"
    assert len(fake.requests) == 1  # an order without an idempotency key


# --- The account's domains ------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "params", "names"), [
    ({}, {}, ["tryoutreachteam.com", "getoutreachteam.io", "tryoutreach.co"]),
    ({"search": "tryoutreach", "order": "Desc"}, {"search": "tryoutreach", "order": "Desc"},
     ["tryoutreach.co", "tryoutreachteam.com"]),
    ({"order": "Asc"}, {"order": "Asc"},
     ["tryoutreachteam.com", "getoutreachteam.io", "tryoutreach.co"]),
])
def test_list_domains(kwargs, params, names):
    provider, fake, _ = connect()
    first = fake.add_domain("tryoutreachteam.com", order_id="ord_77")
    fake.add_domain("getoutreachteam.io", "inProgress")
    fake.add_domain("tryoutreach.co", "expired", order_id="ord_70")

    domains = provider.list_domains(**kwargs)

    assert_sent(fake.only, "GET", "/v1/domain", params=params)
    assert [domain.name for domain in domains] == names
    entry = first.entry(with_order_id=True)
    assert next(d for d in domains if d.name == "tryoutreachteam.com") == ProvisionedDomain(
        id="9101", name="tryoutreachteam.com", status="active", order_id="ord_77",
        mailboxes=entry["mailboxes"], raw=entry)


def test_a_listing_entry_may_name_its_domain_as_domain():
    provider, _ = scripted(listing({"id": 7, "domain": "TryOutreachTeam.com",
                                    "status": "active", "mailboxes": ["not a mailbox"]}))
    (domain,) = provider.list_domains()
    assert (domain.name, domain.order_id, domain.mailboxes) == ("tryoutreachteam.com", "", [])


def test_list_domains_order_must_be_documented():
    provider, fake, _ = connect()
    with pytest.raises(CallerError):
        provider.list_domains(order="newest")
    assert fake.requests == []


def test_a_listing_entry_without_a_status_is_malformed():
    provider, _ = scripted(respond(200, {"domains": [{"id": 1, "name": "a.com"}]}))
    with pytest.raises(MalformedResponse):
        provider.list_domains()


def test_a_malformed_listing_entry_is_handed_over_and_skipped_on_request():
    bad = {"id": 1, "name": "a.com"}
    provider, _ = scripted(listing(bad, listed("active")))
    skipped: list[tuple[Any, Exception]] = []

    domains = provider.list_domains(on_malformed=lambda entry, exc: skipped.append((entry, exc)))

    assert [domain.name for domain in domains] == ["tryoutreachteam.com"]
    ((entry, exc),) = skipped
    assert entry == bad and isinstance(exc, KeyError)


# --- The whole flow, and polling ---------------------------------------------------------


def test_create_then_poll_until_provisioned():
    provider, fake, sleeps = connect()

    placed = provider.create_order(**order_kwargs(is_free_order=True))
    fake.progress(placed.order_id, to="active", after=2)
    state = provider.poll_order(placed.order_id, domains=["tryoutreachteam.com"],
                                max_polls=5, interval=30.0)

    assert len(fake.requests) == 4
    assert_sent(fake.requests[0], "POST", "/v1/domain", body={**DOC_BODY, "isFreeOrder": True})
    for request in fake.requests[1:]:
        assert_sent(request, "GET", "/v1/domain", params={"search": "tryoutreachteam.com"})
    assert sleeps == [30.0, 30.0]  # between polls, never after the last
    assert not state.in_progress
    assert state.status == "active"
    assert state.polls == 3
    assert [d.name for d in state.domains] == ["tryoutreachteam.com"]


def test_poll_uses_the_given_sleep_and_stops_at_the_bound():
    naps: list[float] = []
    provider, fake, sleeps = connect()
    placed = provider.create_order(**order_kwargs(is_free_order=True))

    state = provider.poll_order(placed.order_id, domains=["tryoutreachteam.com"],
                                max_polls=3, interval=2.5, sleep=naps.append)

    assert len(fake.sent("GET", "/v1/domain")) == 3
    assert naps == [2.5, 2.5]
    assert sleeps == []
    assert state.in_progress and state.status == "inProgress" and state.polls == 3


def test_poll_waits_until_every_domain_of_the_order_is_listed():
    names = ["tryoutreachteam.com", "getoutreachteam.io"]
    provider, fake, _ = connect()
    fake.listings(
        {"tryoutreachteam.com": "active"},  # the second domain not listed yet
        {"tryoutreachteam.com": "active", "getoutreachteam.io": "failed",
         "unrelated.com": "active"},
    )

    state = provider.poll_order("", domains=names, max_polls=4, interval=1.0)

    for request in fake.requests:  # two names: no search filter
        assert_sent(request, "GET", "/v1/domain")
    assert state.polls == 2
    assert state.status == "failed"
    assert {d.name for d in state.domains} == set(names)


def test_poll_matches_on_the_domain_names_when_the_listing_has_no_order_ids():
    provider, fake, _ = connect(order_ids_in_listing=False)
    placed = provider.create_order(**order_kwargs(is_free_order=True))
    fake.add_domain("mytryoutreachteam.com", "failed")  # found by the search, not ordered
    fake.progress(to="active")

    state = provider.poll_order(placed.order_id, domains=["tryoutreachteam.com"])

    assert [(d.name, d.order_id) for d in state.domains] == [("tryoutreachteam.com", "")]
    assert state.status == "active"


def test_poll_matches_on_the_order_id_when_the_listing_carries_it():
    provider, fake, _ = connect()
    fake.add_domain("tryoutreachteam.com", "inProgress", order_id="ord_other")
    fake.add_domain("getoutreachteam.io", "active", order_id="ord_77")

    state = provider.poll_order("ord_77", max_polls=1)

    assert [d.order_id for d in state.domains] == ["ord_77"]
    assert state.status == "active"
    assert_sent(fake.only, "GET", "/v1/domain")


@pytest.mark.parametrize(("statuses", "status"), [
    ({"tryoutreachteam.com": "active", "getoutreachteam.io": "active"}, "active"),
    ({"tryoutreachteam.com": "active", "getoutreachteam.io": "failed"}, "failed"),
    ({"tryoutreachteam.com": "active", "getoutreachteam.io": "deleted"}, "deleted"),
    ({"tryoutreachteam.com": "expired", "getoutreachteam.io": "active"}, "expired"),
])
def test_the_order_status_is_the_worst_of_its_domains(statuses, status):
    provider, fake, _ = connect()
    fake.listings(statuses)
    state = provider.poll_order("", domains=list(statuses), max_polls=1)
    assert not state.in_progress and state.status == status


def test_poll_retries_a_failed_read():
    provider, upstream = scripted(fail_with(httpx.ConnectError), listing(listed("active")))
    state = provider.poll_order("ord_77", domains=["tryoutreachteam.com"])
    assert state.status == "active"
    assert upstream.count == 2


def test_poll_needs_something_to_match():
    provider, fake, _ = connect()
    with pytest.raises(CallerError):
        provider.poll_order("")
    with pytest.raises(CallerError):
        provider.poll_order("ord_77", max_polls=0)
    assert fake.requests == []


# --- The provider hooks: placing and following an email order -------------------------------


def test_clean_email_order_is_the_order_rules_sending_nothing():
    assert SaleshandyProvider.clean_email_order(**order_kwargs(plan_type="quarterly")) == (
        DOC_BODY)
    with pytest.raises(ValidationError) as caught:
        SaleshandyProvider.clean_email_order(**order_kwargs(email_service_provider="Azure",
                                                            plan_type="annualFixed"))
    assert caught.value.message_dict == {
        "plan_type": ["Azure mailboxes are only sold quarterly."]}


def test_place_email_order_sends_the_order_once_and_describes_it_as_a_record():
    provider, fake, _ = connect()

    placed = provider.place_email_order(**order_kwargs(plan_type="quarterly"))

    assert_sent(fake.only, "POST", "/v1/domain", body=DOC_BODY)
    assert isinstance(placed, EmailOrderPlaced)
    assert placed.checkout_url == fake.orders["ord_1"].checkout_url
    assert (placed.request_id, placed.body) == ("sh-req-1", DOC_BODY)
    record = placed.record
    assert (record.upstream_id, record.state, record.type) == (
        "ord_1", OrderState.AWAITING_PAYMENT, OrderType.EMAIL_INFRASTRUCTURE)
    assert (record.domain, record.currency) == ("tryoutreachteam.com", "USD")
    assert [line.details["email"] for line in record.lines] == ["john@tryoutreachteam.com"]
    assert record.delivered == () and record.local_id is None


@pytest.mark.parametrize("flag", ["is_free_order", "is_replacement"])
def test_an_order_without_payment_is_provisioning_from_the_start(flag):
    provider, fake, _ = connect()
    placed = provider.place_email_order(**order_kwargs(plan_type="quarterly", **{flag: True}))
    assert placed.checkout_url == ""
    assert placed.record.state == OrderState.IN_PROGRESS
    assert fake.domain("tryoutreachteam.com").listed


def test_place_email_order_refuses_a_bad_order_before_sending():
    provider, fake, _ = connect()
    with pytest.raises(ValidationError):
        provider.place_email_order(**order_kwargs(plan_type="monthly"))
    assert fake.requests == []


def known(placed: EmailOrderPlaced, local_id: int = 41, **changes: Any) -> KnownOrder:
    """The local order the core keeps for a placed order, as it hands it back."""
    values = {"local_id": local_id, "upstream_id": placed.record.upstream_id, "open": True,
              "lines": placed.record.lines, **changes}
    return KnownOrder(**values)


def test_refresh_email_order_follows_payment_and_provisioning():
    provider, fake, _ = connect()
    placed = provider.place_email_order(**order_kwargs(plan_type="quarterly"))
    order_id = placed.record.upstream_id
    fake.requests.clear()

    # Not paid: Saleshandy lists nothing of it yet, so there is nothing to say.
    assert provider.refresh_email_order(known(placed)) is None
    assert_sent(fake.only, "GET", "/v1/domain", params={"search": "tryoutreachteam.com"})

    fake.pay(order_id)
    paid = provider.refresh_email_order(known(placed))
    assert (paid.state, paid.upstream_id, paid.local_id) == (
        OrderState.IN_PROGRESS, order_id, 41)
    domain_id = str(fake.domain("tryoutreachteam.com").id)
    assert paid.lines[0].details["domain_id"] == domain_id
    assert paid.lines[0].details["domain_status"] == "inProgress"
    assert paid.delivered == ()

    fake.progress(order_id, to="active")
    done = provider.refresh_email_order(known(placed))
    assert done.state == OrderState.COMPLETED and done.local_id == 41
    assert done.lines[0].details["domain_status"] == "active"
    assert done.delivered == (RegistrationRecord(
        fields={"name": "tryoutreachteam.com", "status": "active"},
        tld={"name": "com"}, raw=fake.domain("tryoutreachteam.com").entry(
            with_order_id=True)),)
    assert len(fake.sent("GET", "/v1/domain")) == 3


def test_refresh_email_order_polls_within_its_bound():
    provider, fake, sleeps = connect()
    placed = provider.place_email_order(**order_kwargs(plan_type="quarterly",
                                                       is_free_order=True))
    fake.progress(placed.record.upstream_id, to="failed", after=1)

    record = provider.refresh_email_order(known(placed), max_polls=3, interval=10.0)

    assert record.state == OrderState.FAILED
    assert record.status_reason == "Saleshandy domain status: tryoutreachteam.com failed"
    assert len(fake.sent("GET")) == 2 and sleeps == [10.0]


def test_refresh_email_order_refuses_a_status_it_does_not_know():
    provider, fake, _ = connect()
    placed = provider.place_email_order(**order_kwargs(plan_type="quarterly",
                                                       is_free_order=True))
    fake.progress(placed.record.upstream_id, to="suspended")

    with pytest.raises(MalformedResponse) as caught:
        provider.refresh_email_order(known(placed))

    assert caught.value.code == "unknown_domain_status"
    assert caught.value.retryable is False
    assert "suspended" in caught.value.message


# --- The account's domains as registrations ------------------------------------------------


def test_iter_registrations_maps_every_listed_status_to_a_registration_state():
    provider, fake, _ = connect()
    statuses = {"active.com": "active", "building.io": "inProgress", "lapsed.co": "expired",
                "broken.com": "failed", "removed.com": "deleted"}
    for name, status in statuses.items():
        fake.add_domain(name, status, order_id="ord_9")

    records = list(provider.iter_registrations())

    assert_sent(fake.only, "GET", "/v1/domain")
    assert {record.name: record.fields["status"] for record in records} == {
        "active.com": RegistrationState.ACTIVE, "building.io": RegistrationState.PENDING,
        "lapsed.co": RegistrationState.EXPIRED, "broken.com": RegistrationState.CANCELLED,
        "removed.com": RegistrationState.CANCELLED}
    for record in records:
        # Keyed by name: Saleshandy's domain id is not a registration id.
        assert record.upstream_id == "" and record.key == record.name
        assert set(record.fields) == {"name", "status"}
        assert record.tld == {"name": record.name.rsplit(".", 1)[-1]}
        assert record.raw == fake.domain(record.name).entry(with_order_id=True)


def test_iter_registrations_of_one_name_searches_and_keeps_only_that_name():
    provider, fake, _ = connect()
    fake.add_domain("outreach.com")
    fake.add_domain("tryoutreach.com", "inProgress")
    fake.add_domain("elsewhere.io")

    records = list(provider.iter_registrations(name="outreach.com"))

    assert_sent(fake.only, "GET", "/v1/domain", params={"search": "outreach.com"})
    assert [(record.name, record.fields["status"]) for record in records] == [
        ("outreach.com", "active")]


def test_iter_registrations_refuses_a_status_it_does_not_know():
    provider, fake, _ = connect()
    fake.add_domain("active.com")
    fake.add_domain("odd.com", "suspended")
    with pytest.raises(MalformedResponse):
        list(provider.iter_registrations())


# --- Domain search ------------------------------------------------------------------------


def test_domain_offer_is_the_search_entry_for_the_name():
    provider, fake, _ = connect()
    fake.taken.add("tryoutreach.io")
    free = provider.domain_offer("tryoutreach.co", years=1)
    assert_sent(fake.only, "GET", "/v1/domain/search", params={"domain": "tryoutreach.co"})
    assert (free.available, free.term_price) == (True, None)
    assert any("15.00" in note for note in free.notes)
    assert provider.domain_offer("tryoutreach.io", years=1).available is False


def test_domain_offer_of_a_name_the_search_leaves_out():
    provider, _ = scripted(respond(200, {"payload": {"domains": []}}))
    offer = provider.domain_offer("tryoutreach.com", years=1)
    assert (offer.available, offer.reason) == (False, "not offered by Saleshandy's search")


def test_domain_suggestions_are_the_search_for_the_label():
    provider, fake, _ = connect()
    offers = provider.domain_suggestions("tryoutreach", tlds=["com"], years=1)
    assert_sent(fake.only, "GET", "/v1/domain/search", params={"domain": "tryoutreach"})
    assert [o.domain for o in offers] == ["tryoutreach.com", "tryoutreach.io",
                                          "tryoutreach.co"]


# --- The order form's tools: plans, candidates, mailbox names ---------------------------


def test_email_plans_read_the_plans_with_their_prices():
    provider, fake, _ = connect()
    plans = provider.email_plans()
    assert_sent(fake.requests[-1], "GET", "/v1/domain/plans")
    quarterly = {(p.email_service_provider, p.plan_type): p for p in plans}
    google = quarterly[("Google", "quarterly")]
    assert (google.mailbox_price.amount_minor, google.domain_price.amount_minor) == (900, 1500)
    assert ("Azure", "annualFlexi") not in quarterly


def test_email_plans_read_a_list_as_well_and_skip_what_an_order_cannot_carry():
    provider, _ = scripted(respond(200, {"payload": {"plans": [
        {"emailServiceProvider": "Google", "planType": "annualFixed",
         "mailboxPriceCents": 2700},
        {"emailServiceProvider": "Yahoo", "planType": "quarterly", "mailboxPriceCents": 1}]}}))
    [plan] = provider.email_plans()
    assert (plan.email_service_provider, plan.plan_type, plan.domain_price) == (
        "Google", "annualFixed", None)


def test_email_domain_candidates_search_by_name():
    provider, fake, _ = connect()
    offers = provider.email_domain_candidates("acmeoutreach")
    assert_sent(fake.requests[-1], "GET", "/v1/domain/search",
                params={"domain": "acmeoutreach"})
    assert [o.domain for o in offers] == ["acmeoutreach.com", "acmeoutreach.io",
                                          "acmeoutreach.co"]


def test_suggest_mailbox_names_posts_the_sender_and_count():
    provider, fake, _ = connect()
    names = provider.suggest_mailbox_names(first_name="John", last_name="Smith",
                                           domain="acmeoutreach.com", count=2)
    assert_sent(fake.requests[-1], "POST", "/v1/domain/generate-mailbox-names",
                body={"firstName": "John", "lastName": "Smith", "domain": "acmeoutreach.com",
                      "count": 2})
    assert names == ["john.smith@acmeoutreach.com", "john@acmeoutreach.com"]
