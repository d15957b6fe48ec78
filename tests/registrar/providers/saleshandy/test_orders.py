"""Saleshandy orders as OrderRecords (registrar.providers.saleshandy.orders): one line per
mailbox, the state from the domain listing (and what billing makes of it), the body
rebuilt from a local order's lines, and the order mirror, which groups the account's
domain listing into orders and matches them to the orders placed here.

Only the HTTP boundary is fake: `FakeSaleshandy`, or a `Scripted` upstream for a listing
of an exact shape.
"""

from __future__ import annotations

from typing import Any

import pytest

from billing.models import OrderKind, OrderStatus
from billing.order_sync import status_for
from registrar.providers.base import (
    KnownOrder,
    OrderLine,
    OrderRecord,
    OrderState,
    OrderType,
    RegistrationRecord,
)
from registrar.providers.errors import MalformedResponse
from registrar.providers.saleshandy.orders import (
    body_from_lines,
    domain_registration,
    listed_order_body,
    order_record,
)
from registrar.providers.saleshandy.rules import clean_order
from registrar.providers.saleshandy.wire import OrderProvisioning, ProvisionedDomain
from tests.fakes.http import Scripted, respond
from tests.fakes.saleshandy import DOMAINS, FakeSaleshandy, adapter, order_kwargs


def _state(*statuses: str, names: tuple[str, ...] = ("tryoutreachteam.com",)
           ) -> OrderProvisioning:
    domains = tuple(ProvisionedDomain(id=str(9101 + number), name=name, status=status)
                    for number, (name, status) in enumerate(zip(names, statuses, strict=False)))
    return OrderProvisioning(order_id="ord_77", expected=names, domains=domains, polls=1)


TWO_DOMAINS = [DOMAINS[0], {"name": "getoutreachteam.io", "redirect_url": "",
                            "mailboxes": [{"first_name": "A", "last_name": "B", "email": "a"}]}]


# --- One order -------------------------------------------------------------------------------


def test_an_order_is_an_email_infrastructure_record_with_one_line_per_mailbox():
    body = clean_order(**order_kwargs(domains=[{**DOMAINS[0], "mailboxes": [
        *DOMAINS[0]["mailboxes"],
        {"first_name": "Jane", "last_name": "Doe", "email": "jane"}]}]))

    record = order_record(body, "ord_77", needs_payment=True)

    assert (record.upstream_id, record.type, record.state, record.domain) == (
        "ord_77", OrderType.EMAIL_INFRASTRUCTURE, OrderState.AWAITING_PAYMENT,
        "tryoutreachteam.com")
    assert status_for(record.state, OrderKind.EMAIL_INFRASTRUCTURE) == (
        OrderStatus.PAYMENT_INITIATED)
    # Saleshandy's answer has no price: recorded in US dollars, no amount stated.
    assert record.currency == "USD"
    assert (record.subtotal_minor, record.fees_minor, record.total_minor) == (None, None, None)
    assert record.lines_authoritative and record.delivered == () and record.status_reason == ""
    assert [line.details["email"] for line in record.lines] == [
        "john@tryoutreachteam.com", "jane@tryoutreachteam.com"]
    assert record.lines[0] == OrderLine(
        description="Mailbox john@tryoutreachteam.com (Google, quarterly)",
        domain="tryoutreachteam.com",
        quantity=1,
        details={"email": "john@tryoutreachteam.com", "first_name": "John",
                 "last_name": "Smith", "profile_pic_id": 0,
                 "email_service_provider": "Google", "plan_type": "quarterly",
                 "redirect_url": "acmecorp.com", "domain_id": "", "domain_status": ""},
    )


@pytest.mark.parametrize(("flags", "needs_payment", "state", "status", "expected"), [
    ({"is_free_order": True}, False, None, OrderStatus.REGISTRATION_IN_PROGRESS,
     OrderState.IN_PROGRESS),
    ({"is_replacement": True}, False, None, OrderStatus.REGISTRATION_IN_PROGRESS,
     OrderState.IN_PROGRESS),
    ({}, True, None, OrderStatus.PAYMENT_INITIATED, OrderState.AWAITING_PAYMENT),
    ({}, False, _state("inProgress"), OrderStatus.REGISTRATION_IN_PROGRESS,
     OrderState.IN_PROGRESS),
    ({}, False, _state("active"), OrderStatus.REGISTERED, OrderState.COMPLETED),
    ({}, False, _state("failed"), OrderStatus.FAILED, OrderState.FAILED),
    ({}, False, _state("deleted"), OrderStatus.CANCELLED, OrderState.CANCELLED),
    ({}, False, _state("expired"), OrderStatus.REGISTERED, OrderState.COMPLETED),
    ({}, False, _state(), OrderStatus.REGISTRATION_IN_PROGRESS, OrderState.IN_PROGRESS),
    # Once polled, the listing decides: a checkout link no longer matters.
    ({}, True, _state("active"), OrderStatus.REGISTERED, OrderState.COMPLETED),
])
def test_order_state(flags, needs_payment, state, status, expected):
    record = order_record(clean_order(**order_kwargs(**flags)), "ord_77", state,
                          needs_payment=needs_payment)
    assert record.state == expected
    assert status_for(record.state, OrderKind.EMAIL_INFRASTRUCTURE) == status
    if state is not None and state.domains:
        assert record.lines[0].details["domain_id"] == "9101"
        assert record.lines[0].details["domain_status"] == state.domains[0].status


@pytest.mark.parametrize(("statuses", "reason"), [
    (("active", "failed"),
     "Saleshandy domain status: getoutreachteam.io failed, tryoutreachteam.com active"),
    (("deleted", "deleted"),
     "Saleshandy domain status: getoutreachteam.io deleted, tryoutreachteam.com deleted"),
    (("active", "active"), ""),
])
def test_an_order_that_ended_badly_keeps_which_domain_ended_how(statuses, reason):
    body = clean_order(**order_kwargs(domains=TWO_DOMAINS))
    state = _state(*statuses, names=("tryoutreachteam.com", "getoutreachteam.io"))
    assert order_record(body, "ord_77", state).status_reason == reason


def test_the_registrations_delivered_are_the_active_and_expired_domains():
    body = clean_order(**order_kwargs(domains=TWO_DOMAINS))
    names = ("tryoutreachteam.com", "getoutreachteam.io")

    record = order_record(body, "ord_77", _state("active", "expired", names=names))

    assert record.state == OrderState.COMPLETED
    assert record.delivered == (
        RegistrationRecord(fields={"name": "tryoutreachteam.com", "status": "active"},
                           tld={"name": "com"}),
        RegistrationRecord(fields={"name": "getoutreachteam.io", "status": "expired"},
                           tld={"name": "io"}))
    failed = order_record(body, "ord_77", _state("active", "failed", names=names))
    assert [registration.name for registration in failed.delivered] == ["tryoutreachteam.com"]


def test_a_multi_domain_order_names_no_single_domain():
    body = clean_order(**order_kwargs(domains=TWO_DOMAINS))
    record = order_record(body, "")
    assert record.domain == ""
    assert record.upstream_id is None
    assert [line.domain for line in record.lines] == ["tryoutreachteam.com", "getoutreachteam.io"]


def test_an_unknown_domain_status_is_not_guessed():
    with pytest.raises(ValueError, match="suspended"):
        order_record(clean_order(**order_kwargs()), "ord_77", _state("suspended"))
    with pytest.raises(ValueError, match="suspended"):
        domain_registration(ProvisionedDomain(id="1", name="a.com", status="suspended"))


def test_the_body_is_rebuilt_from_the_lines_for_following_the_order():
    body = clean_order(**order_kwargs(domains=TWO_DOMAINS, plan_type="annualFlexi"))
    lines = order_record(body, "ord_77").lines

    rebuilt = body_from_lines(lines)

    assert rebuilt == {"emailServiceProvider": "Google", "planType": "annualFlexi",
                       "domains": body["domains"]}
    assert order_record(rebuilt, "ord_77").lines == lines
    with pytest.raises(ValueError, match="no lines"):
        body_from_lines(())


def test_an_order_placed_elsewhere_is_described_by_what_the_listing_shows():
    domains = [
        ProvisionedDomain(id="2", name="getoutreachteam.io", status="active", order_id="ord_5",
                          mailboxes=[{"email": "Sam@getoutreachteam.io", "firstName": "Sam",
                                      "lastName": "Lee"}, {"id": 9}],
                          raw={"emailServiceProvider": "Microsoft", "planType": "annualFixed",
                               "redirectUrl": "acmecorp.com"}),
        ProvisionedDomain(id="1", name="acme-mail.com", status="active", order_id="ord_5",
                          mailboxes=[{"email": "jo@acme-mail.com", "firstname": "Jo",
                                      "lastname": "Ng", "profilePicId": 4}]),
    ]

    body = listed_order_body(domains)

    assert body == {"emailServiceProvider": "Microsoft", "planType": "annualFixed",
                    "domains": [
                        {"name": "acme-mail.com", "mailboxes": [
                            {"email": "jo@acme-mail.com", "firstname": "Jo",
                             "lastname": "Ng", "profilePicId": 4}]},
                        {"name": "getoutreachteam.io", "redirectUrl": "acmecorp.com",
                         "mailboxes": [{"email": "sam@getoutreachteam.io", "firstname": "Sam",
                                        "lastname": "Lee", "profilePicId": 0}]}]}
    unnamed = listed_order_body([ProvisionedDomain(id="3", name="x.com", status="active")])
    assert (unnamed["emailServiceProvider"], unnamed["planType"]) == ("unknown", "unknown")


# --- The order mirror: the listing grouped into orders ----------------------------------------


def _known(record: OrderRecord, local_id: int, *, open: bool = True,
           upstream: bool = True) -> KnownOrder:
    return KnownOrder(local_id=local_id, upstream_id=record.upstream_id if upstream else None,
                      open=open, lines=record.lines)


def _skipped() -> tuple[list[tuple[Any, Exception]], Any]:
    skipped: list[tuple[Any, Exception]] = []
    return skipped, lambda record, exc: skipped.append((record, exc))


def test_the_mirror_matches_orders_placed_here_and_describes_the_others():
    fake = FakeSaleshandy()
    provider = adapter(fake)
    mine = provider.place_email_order(**order_kwargs(plan_type="quarterly", is_free_order=True))
    fake.progress(to="active")
    fake.add_domain("getoutreachteam.io", "inProgress", order_id="ord_ext",
                    mailboxes=("sam", "lee"), email_service_provider="Microsoft",
                    plan_type="annualFlexi")
    fake.requests.clear()
    skipped, on_malformed = _skipped()

    records = list(provider.iter_orders(known=[_known(mine.record, 41)],
                                        on_malformed=on_malformed))

    (request,) = fake.requests
    assert (request.method, request.url.path, dict(request.url.params)) == (
        "GET", "/v1/domain", {})
    assert skipped == []
    placed_here, elsewhere = records
    assert (placed_here.upstream_id, placed_here.local_id, placed_here.state) == (
        "ord_1", 41, OrderState.COMPLETED)
    assert [line.details["email"] for line in placed_here.lines] == ["john@tryoutreachteam.com"]
    assert [registration.name for registration in placed_here.delivered] == [
        "tryoutreachteam.com"]
    # Placed elsewhere: a record that can stand alone (it names its currency).
    assert (elsewhere.upstream_id, elsewhere.local_id, elsewhere.state) == (
        "ord_ext", None, OrderState.IN_PROGRESS)
    assert (elsewhere.currency, elsewhere.domain) == ("USD", "getoutreachteam.io")
    assert [line.description for line in elsewhere.lines] == [
        "Mailbox sam@getoutreachteam.io (Microsoft, annualFlexi)",
        "Mailbox lee@getoutreachteam.io (Microsoft, annualFlexi)"]


def test_an_order_placed_here_without_an_id_coming_back_is_adopted_by_its_domains():
    fake = FakeSaleshandy()
    provider = adapter(fake)
    placed = provider.place_email_order(**order_kwargs(plan_type="quarterly",
                                                       is_free_order=True))
    lost_id = _known(placed.record, 41, upstream=False)  # the 201 carried no orderId

    (record,) = provider.iter_orders(known=[lost_id])

    assert (record.upstream_id, record.local_id, record.state) == (
        "ord_1", 41, OrderState.IN_PROGRESS)


def test_without_order_ids_in_the_listing_domains_go_to_the_open_order_that_has_them():
    fake = FakeSaleshandy(order_ids_in_listing=False)
    provider = adapter(fake)
    first = provider.place_email_order(**order_kwargs(plan_type="quarterly",
                                                      is_free_order=True))
    second = provider.place_email_order(**order_kwargs(
        plan_type="quarterly", is_free_order=True, domains=TWO_DOMAINS[1:]))
    fake.progress(second.record.upstream_id, to="active")
    known = [_known(first.record, 41, upstream=False), _known(second.record, 42)]

    records = {record.local_id: record for record in provider.iter_orders(known=known)}

    assert (records[41].upstream_id, records[41].state) == (None, OrderState.IN_PROGRESS)
    assert (records[42].upstream_id, records[42].state) == ("ord_2", OrderState.COMPLETED)


def test_a_domain_without_an_order_id_that_no_open_order_has_is_reported_and_skipped():
    fake = FakeSaleshandy(order_ids_in_listing=False)
    provider = adapter(fake)
    placed = provider.place_email_order(**order_kwargs(plan_type="quarterly",
                                                       is_free_order=True))
    fake.add_domain("stray.com")
    closed = _known(placed.record, 41, open=False)  # an order that ended is not matched
    skipped, on_malformed = _skipped()

    assert list(provider.iter_orders(known=[closed], on_malformed=on_malformed)) == []

    ((record, exc),) = skipped
    assert record == {"name": "listed domains without an orderId"}
    assert str(exc) == "no order here has stray.com, tryoutreachteam.com"
    with pytest.raises(MalformedResponse):
        list(provider.iter_orders(known=[closed]))


def test_one_unreadable_entry_costs_only_its_own_order():
    upstream = Scripted(respond(200, {"payload": {"domains": [
        {"id": 1, "name": "", "status": "active", "orderId": "ord_1"},
        {"id": 2, "name": "odd.com", "status": "suspended", "orderId": "ord_2"},
        {"id": 3, "name": "nostatus.com", "orderId": "ord_3"},
        {"id": 4, "name": "fine.com", "status": "active", "orderId": "ord_4",
         "mailboxes": [{"email": "jo@fine.com"}]},
    ]}}))
    skipped, on_malformed = _skipped()

    records = list(adapter(upstream).iter_orders(on_malformed=on_malformed))

    assert [(record.upstream_id, record.state) for record in records] == [
        ("ord_4", OrderState.COMPLETED)]
    assert [record for record, _ in skipped] == [
        {"id": 3, "name": "nostatus.com", "orderId": "ord_3"},
        {"orderId": "ord_1"}, {"orderId": "ord_2"}]
    assert "suspended" in str(skipped[2][1])
    with pytest.raises(MalformedResponse):
        list(adapter(upstream).iter_orders())
