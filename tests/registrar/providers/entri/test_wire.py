"""Document 000's answers as provider records (registrar.providers.entri.wire): a domain
as a RegistrationRecord keyed by its name, an order as an OrderRecord in the provider
vocabulary (OrderState), the status tables, prices in exact minor units, and the
webhook payload. Pure parsing: no request leaves."""

from __future__ import annotations

import dataclasses

import pytest

from billing.models import OrderKind, OrderStatus
from billing.order_sync import status_for
from registrar.models import RegistrationStatus
from registrar.providers.base import (
    OrderLine,
    OrderRecord,
    OrderState,
    OrderType,
    PushedEvent,
    RegistrationState,
)
from registrar.providers.entri.adapter import EntriProvider
from registrar.providers.entri.wire import (
    ENTRI_STATUSES,
    ORDER_STATE,
    ORDER_STATUS_CHANGED,
    REGISTRATION_STATE,
    parse_domain,
    parse_order,
    to_minor_units,
)
from registrar.providers.registry import adapter_class
from tests.registrar.providers.entri.shapes import (
    DOMAIN_LIST_ITEM,
    ORDER_ITEM,
    ORDER_LIST,
    PLACED_ORDER,
    SINGLE_DOMAIN,
    SINGLE_ORDER,
    utc,
)

# --- Statuses -----------------------------------------------------------------------------


def test_entri_statuses_are_the_provider_order_states():
    assert set(ORDER_STATE) == set(ENTRI_STATUSES)
    for entri_status, state in ORDER_STATE.items():
        assert isinstance(state, OrderState)
        assert state == entri_status
    # Billing keeps Entri's words: every one is a local order status of the same name.
    assert set(ENTRI_STATUSES) <= set(OrderStatus.values)
    for entri_status, state in ORDER_STATE.items():
        assert status_for(state, OrderKind.REGISTRATION) == entri_status


def test_entri_statuses_as_registration_states():
    assert set(REGISTRATION_STATE) == set(ENTRI_STATUSES)
    assert {s: str(v) for s, v in REGISTRATION_STATE.items()} == {
        "registered": "active", "transferred": "active", "transfer_success": "active",
        "transfer_completed": "active",
        "payment_initiated": "pending", "payment_successful": "pending",
        "registration_in_progress": "pending",
        "transfer_started": "pending_transfer", "transfer_ack": "pending_transfer",
        "payment_failed": "cancelled", "transfer_failed": "cancelled",
    }
    assert all(isinstance(v, RegistrationState) for v in REGISTRATION_STATE.values())
    assert set(REGISTRATION_STATE.values()) <= set(RegistrationStatus)


# --- Domains ------------------------------------------------------------------------------

LIST_ITEM_FIELDS = {
    "name": "domainname.com", "status": RegistrationStatus.ACTIVE, "auto_renew": True,
    "privacy_protect": False, "locked": False, "dns_records": [],
    "upstream_created_at": utc(2025, 9, 7, 23, 22, 42, 661936),
    "upstream_updated_at": utc(2025, 9, 7, 23, 22, 42, 661936),
}


def test_parse_domain_of_the_documents_list_item():
    record = parse_domain(DOMAIN_LIST_ITEM)
    assert record.fields == LIST_ITEM_FIELDS
    # Entri has no ids of its own: a domain is keyed by its name.
    assert (record.name, record.upstream_id, record.key) == ("domainname.com", "",
                                                             "domainname.com")
    assert "upstream_id" not in record.fields
    assert record.tld == {"name": "com"}
    assert record.raw == DOMAIN_LIST_ITEM
    assert record.contacts == {} and record.fees == {}


def test_parse_domain_of_the_documents_single_domain():
    assert parse_domain(SINGLE_DOMAIN).fields == {
        "name": "sampledomain.com", "status": RegistrationStatus.PENDING, "auto_renew": True,
        "privacy_protect": False, "locked": False, "dns_records": [],
        "upstream_created_at": utc(2025, 11, 24, 2, 33, 5, 918266),
        "upstream_updated_at": utc(2025, 11, 24, 2, 33, 5, 918266),
    }


def test_parse_domain_leaves_out_flags_the_answer_does_not_have():
    record = parse_domain({"domainName": "Bücher.DE", "status": "transfer_started"})
    assert record.fields == {"name": "xn--bcher-kva.de",
                             "status": RegistrationStatus.PENDING_TRANSFER,
                             "upstream_created_at": None, "upstream_updated_at": None}
    assert record.tld == {"name": "de"}


def test_parse_domain_keeps_an_explicit_offset():
    record = parse_domain({**SINGLE_DOMAIN, "createdAt": "2025-12-17T14:06:31.000+0100"})
    assert record.fields["upstream_created_at"] == utc(2025, 12, 17, 13, 6, 31)


def test_parse_domain_keeps_the_records_fields_the_mirror_stores():
    record = parse_domain({**SINGLE_DOMAIN, "dnsRecords": [
        {"host": "@", "type": "A", "value": "192.0.2.1", "ttl": 3600, "id": "rec-1"},
        {"host": "www", "type": "CNAME", "value": "example.net."}]})
    assert record.fields["dns_records"] == [
        {"host": "@", "type": "A", "value": "192.0.2.1", "ttl": 3600},
        {"host": "www", "type": "CNAME", "value": "example.net."}]


@pytest.mark.parametrize("data", [
    {**SINGLE_DOMAIN, "status": "parked"},
    {**SINGLE_DOMAIN, "autoRenewed": "yes"},
    {**SINGLE_DOMAIN, "createdAt": "yesterday"},
    {**SINGLE_DOMAIN, "dnsRecords": {"host": "@"}},
    {**SINGLE_DOMAIN, "dnsRecords": ["@ A 192.0.2.1"]},
    {**SINGLE_DOMAIN, "domainName": "not a name!"},
    {**SINGLE_DOMAIN, "domainName": 42},
    {key: value for key, value in SINGLE_DOMAIN.items() if key != "status"},
])
def test_a_domain_of_the_wrong_shape_is_refused(data):
    with pytest.raises((KeyError, TypeError, ValueError)):
        parse_domain(data)


# --- Orders -------------------------------------------------------------------------------

LISTED_ORDER = OrderRecord(
    upstream_id="5cf0cd4a-6a9f-4b53-8b11-7fe2a89e75df", state=OrderState.COMPLETED,
    type=OrderType.REGISTRATION, domain="foo.com", currency="USD",
    customer_reference="", upstream_customer_id="",
    lines=(OrderLine(description="foo.com", domain="foo.com",
                     upstream_id="fe5624c3-d18d-4144-b1ab-5ef4711317e5",
                     details={"status": "registered"}),),
)


def test_parse_order_of_the_documents_list():
    record = parse_order(ORDER_LIST["items"][0])
    # The list gives no price: the amounts are not stated, not zero.
    assert dataclasses.replace(record, delivered=()) == LISTED_ORDER
    assert (record.subtotal_minor, record.fees_minor, record.total_minor, record.years,
            record.placed_at) == (None, None, None, None, None)
    # Each item is the domain itself: a registered one is what the order delivered.
    (delivered,) = record.delivered
    assert delivered.fields == {**LIST_ITEM_FIELDS, "name": "foo.com",
                                "upstream_created_at": utc(2025, 12, 9, 16, 27, 53, 523047),
                                "upstream_updated_at": utc(2025, 12, 9, 16, 27, 53, 523047)}
    assert delivered.raw == ORDER_ITEM


def test_parse_order_of_the_documents_single_order():
    record = parse_order(SINGLE_ORDER)
    assert record.upstream_id == SINGLE_ORDER["orderId"]
    assert record.lines == (dataclasses.replace(
        LISTED_ORDER.lines[0], upstream_id="5ea01588-509f-4245-bbe9-6f37c3047f0c"),)
    assert [r.name for r in record.delivered] == ["foo.com"]


PLACED = OrderRecord(
    upstream_id="21b363fb-c8c0-427e-8d2d-91658f806471", state=OrderState.IN_PROGRESS,
    type=OrderType.REGISTRATION, domain="example.com", years=1, currency="USD",
    subtotal_minor=1900, fees_minor=0, total_minor=1900, customer_reference="",
    upstream_customer_id="", placed_at=utc(2026, 3, 3, 12, 27, 19, 751544),
    lines=(OrderLine(description="example.com", domain="example.com", unit_amount_minor=1900,
                     total_minor=1900, details={"renewal_price_minor": 2400,
                                                "billing_period_years": 1}),),
)


def test_parse_order_of_the_documents_placed_order():
    assert parse_order(PLACED_ORDER) == PLACED


def test_only_registered_items_are_delivered():
    record = parse_order({**SINGLE_ORDER, "orderStatus": "registration_in_progress",
                          "items": [{**ORDER_ITEM, "status": "registration_in_progress"},
                                    {**ORDER_ITEM, "domainName": "bar.com",
                                     "status": "transfer_success"},
                                    {"orderItemId": "x", "domainName": "baz.com"}]})
    assert [line.domain for line in record.lines] == ["foo.com", "bar.com", "baz.com"]
    assert record.lines[2].details == {"status": ""}
    assert [r.name for r in record.delivered] == ["bar.com"]


def test_parse_order_of_a_transfer_and_another_currency():
    record = parse_order({"orderId": "o-1", "status": "transfer_ack", "domain": "foo.com",
                          "pricing": {"purchasePrice": "8.50", "currency": "eur"}})
    assert record.type == OrderType.TRANSFER_IN
    assert record.state == OrderState.TRANSFER_ACKNOWLEDGED
    assert (record.currency, record.total_minor) == ("EUR", 850)
    assert record.lines[0].details == {"renewal_price_minor": None}
    assert parse_order({**ORDER_LIST["items"][0], "orderStatus": "transferred"}).type == (
        OrderType.TRANSFER_IN)


def test_parse_order_carries_the_user_id():
    record = parse_order({**PLACED_ORDER, "userId": "ca8d6947-6232-44f7-af37-6501edad00aa"})
    assert record.customer_reference == "ca8d6947-6232-44f7-af37-6501edad00aa"
    assert record.upstream_customer_id == "ca8d6947-6232-44f7-af37-6501edad00aa"


@pytest.mark.parametrize("data", [
    {**PLACED_ORDER, "status": "shipped"},
    {key: value for key, value in PLACED_ORDER.items() if key != "orderId"},
    {**PLACED_ORDER, "pricing": [19]},
    {**PLACED_ORDER, "pricing": {"purchasePrice": 19, "currency": "dollars"}},
    {**PLACED_ORDER, "pricing": {"purchasePrice": 19.999}},
    {**SINGLE_ORDER, "items": {"not": "a list"}},
    {"orderStatus": "registered"},
])
def test_an_order_of_the_wrong_shape_is_refused(data):
    with pytest.raises((KeyError, TypeError, ValueError)):
        parse_order(data)


# --- Prices -------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "minor"), [
    (12.99, 1299), (14.99, 1499), (19, 1900), (0.29, 29), (1.1, 110), ("0.10", 10),
    (0, 0), (1e2, 10000), (99999999.99, 9999999999),
])
def test_prices_become_minor_units_exactly(value, minor):
    assert to_minor_units(value) == minor
    assert type(to_minor_units(value)) is int


@pytest.mark.parametrize("value", [1.005, -1, True, None, "abc", "NaN", float("inf"), [1]])
def test_prices_that_are_not_cents_are_refused(value):
    with pytest.raises((TypeError, ValueError)):
        to_minor_units(value)


# --- Webhooks -----------------------------------------------------------------------------


def test_an_order_status_event_is_a_partial_order_record():
    payload = {"id": "evt-1", "type": ORDER_STATUS_CHANGED,
               "data": {"orderId": "21b363fb-c8c0-427e-8d2d-91658f806471",
                        "status": "registered"}}
    event = EntriProvider.parse_webhook(payload)
    assert event == PushedEvent(event_id="evt-1", event_type="order.status_changed",
                                order=OrderRecord(
                                    upstream_id="21b363fb-c8c0-427e-8d2d-91658f806471",
                                    state=OrderState.COMPLETED))
    # Nothing but the status is stated, so applying it leaves the rest of the order.
    assert (event.order.currency, event.order.lines, event.order.type) == (None, None, None)
    # A class-level hook: billing parses without building a client.
    assert adapter_class("entri").parse_webhook(payload) == event


def test_another_event_type_is_kept_without_an_order():
    event = EntriProvider.parse_webhook({"id": 42, "type": "domain.renewed", "data": {}})
    assert event == PushedEvent(event_id="42", event_type="domain.renewed")


@pytest.mark.parametrize("payload", [
    {"type": ORDER_STATUS_CHANGED, "data": {"orderId": "o-1", "status": "registered"}},
    {"id": "", "type": ORDER_STATUS_CHANGED, "data": {}},
    {"id": True, "type": ORDER_STATUS_CHANGED, "data": {}},
    {"id": ["evt"], "type": ORDER_STATUS_CHANGED, "data": {}},
    {"id": "evt-1", "data": {}},
    {"id": "evt-1", "type": "", "data": {}},
    {"id": "evt-1", "type": ORDER_STATUS_CHANGED},
    {"id": "evt-1", "type": ORDER_STATUS_CHANGED, "data": ["orderId"]},
    {"id": "evt-1", "type": ORDER_STATUS_CHANGED, "data": {"status": "registered"}},
    {"id": "evt-1", "type": ORDER_STATUS_CHANGED, "data": {"orderId": "o-1"}},
    {"id": "evt-1", "type": ORDER_STATUS_CHANGED,
     "data": {"orderId": "o-1", "status": "shipped"}},
])
def test_a_webhook_of_the_wrong_shape_is_a_value_error(payload):
    with pytest.raises(ValueError):
        EntriProvider.parse_webhook(payload)
