"""Hostile webhook bodies: each is refused with a 400 (413 when too large) naming the
field, stores nothing (so the sender's retry of a fixed event still applies), and none
is ever a 500."""

from __future__ import annotations

import json

import pytest
from django.db import transaction
from django.test import override_settings
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backoffice.models import StaffAction
from billing.models import LedgerEntry, Order, OrderStatus, WebhookEvent
from registrar.models import Registration
from registrar.providers.registry import ADAPTERS
from tests.factories import AccountFactory, OrderFactory, ProviderAccountFactory

SECRET = "whsec-test-0123456789"
PURCHASE = {
    "id": "f8a0c1b9-1234-4d5e-8f90-aaaaaaaaaaaa", "hostname": "janesbakery.com", "years": 1,
    "wholesaleCents": 1418, "feeCents": 100, "totalCents": 1518, "currency": "USD",
    "registrar": "namecheap", "registrarDomainId": "182739", "status": "completed",
    "whoisPrivacyEnabled": True, "autoRenew": False, "expiresAt": "2027-05-17T15:42:11.000Z",
    "customerReference": "ACC-WEB-1", "createdAt": "2026-05-17T15:42:09.000Z",
    "updatedAt": "2026-05-17T15:42:11.000Z",
}


def label_of(kind: str) -> str:
    return f"{kind.replace('_', '-')}-hook"


@pytest.fixture
def accounts(db, monkeypatch):
    """One enabled account of every upstream kind, each with a webhook secret."""
    AccountFactory(customer_reference="ACC-WEB-1")
    made = {}
    for kind in ADAPTERS:
        label = label_of(kind)
        monkeypatch.setenv(f"PROVIDER_SECRET_{label.upper().replace('-', '_')}_WEBHOOK",
                           SECRET)
        made[kind] = ProviderAccountFactory(label=label, kind=kind,
                                            base_url=f"https://{label}.test")
    return made


def post(client, body, *, kind="domainee"):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(reverse("webhook", args=[kind, label_of(kind)]), data=data,
                       content_type="application/json", HTTP_X_WEBHOOK_SECRET=SECRET)


def event(event_id="evt_1", **purchase):
    return {"id": event_id, "type": "domain_purchase.completed",
            "data": {"purchase": {**PURCHASE, **purchase}}}


def stored() -> tuple[int, ...]:
    return (WebhookEvent.objects.count(), Order.objects.count(), LedgerEntry.objects.count(),
            StaffAction.objects.count(), Registration.objects.count())


def assert_refused(response, field, *, status=400, before=(0, 0, 0, 0, 0)):
    assert response.status_code == status, response.content
    answer = response.json()
    assert answer["status"] == "invalid" and answer["field"] == field
    assert answer["message"].endswith(".")
    assert stored() == before


# --- the reproductions ---------------------------------------------------------------


def test_an_amount_too_large_for_the_column_is_refused(client, accounts):
    assert_refused(post(client, event(totalCents=10**20)), "data.purchase.totalCents")
    assert_refused(post(client, event(feeCents=-1)), "data.purchase.feeCents")
    assert_refused(post(client, event(wholesaleCents=2**63)), "data.purchase.wholesaleCents")


def test_a_body_nested_100000_levels_deep_is_refused_unparsed(client, accounts):
    deep = '{"id": "e", "type": "x", "data": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = post(client, deep)
    assert response.status_code in (400, 413) and response.json()["field"] == "body"
    assert stored() == (0, 0, 0, 0, 0)


@override_settings(WEBHOOK_MAX_BODY_BYTES=10_000_000)
def test_depth_is_limited_even_when_the_size_is_not(client, accounts):
    deep = '{"id": "e", "type": "x", "data": ' + "[" * 100_000 + "]" * 100_000 + "}"
    assert_refused(post(client, deep), "body")
    # Brackets inside strings are text, not nesting.
    flat = {"id": "evt_str", "type": "domain.renewed", "data": {"note": "[" * 500}}
    assert post(client, flat).json() == {"status": "ignored"}


def test_nesting_just_over_the_limit_is_refused_and_under_it_accepted(client, accounts):
    def nested(depth):
        return {"id": f"evt_{depth}", "type": "domain.renewed",
                "data": {"deep": json.loads("[" * (depth - 2) + "]" * (depth - 2))}}
    assert_refused(post(client, nested(33)), "body")
    assert post(client, nested(32)).json() == {"status": "ignored"}


@pytest.mark.parametrize("years", [0, 11, -1, "2", True])
def test_years_outside_the_constraint_are_refused_not_duplicates(client, accounts, years):
    assert_refused(post(client, event(years=years)), "data.purchase.years")
    # Nothing was recorded: the sender's corrected retry of the same event applies.
    assert post(client, event(years=2)).json() == {"status": "applied"}
    assert Order.objects.get().years == 2


@pytest.mark.parametrize("field", ["createdAt", "updatedAt"])
@pytest.mark.parametrize("value", ["9999-12-31T00:00:00Z", "1999-12-31T23:59:59Z",
                                   "2099-01-01T00:00:00Z", "yesterday", 20260101])
def test_event_times_outside_the_window_are_refused(client, accounts, field, value):
    assert_refused(post(client, event(**{field: value})), f"data.purchase.{field}")


def test_an_expiry_far_in_the_future_is_refused(client, accounts):
    assert_refused(post(client, event(expiresAt="9999-12-31T23:59:59Z")),
                   "data.purchase.expiresAt")


def test_a_refused_date_leaves_the_revenue_chart_working(client, accounts, finance_user):
    assert_refused(post(client, event(createdAt="9999-12-31T00:00:00Z")),
                   "data.purchase.createdAt")
    assert post(client, event()).json() == {"status": "applied"}
    assert Order.objects.get().placed_at.year == 2026


@pytest.mark.parametrize("currency", ["USA", "XYZ", "usd", "US", "€€€", 840, None])
def test_a_currency_that_is_not_iso_4217_is_refused(client, accounts, currency):
    assert_refused(post(client, event(currency=currency)), "data.purchase.currency")


@pytest.mark.parametrize("hostname", ["<script>alert(1)</script>.com", "jane\x00s.com", "..",
                                      "", "com", "a" * 64 + ".com", 42])
def test_a_hostname_that_is_not_a_domain_name_is_refused(client, accounts, hostname):
    assert_refused(post(client, event(hostname=hostname)), "data.purchase.hostname")


def test_a_body_over_the_limit_is_413_before_parsing(client, accounts):
    big = {"id": "evt_big", "type": "domain.renewed", "data": {"x": "y" * (64 * 1024)}}
    assert_refused(post(client, big), "body", status=413)
    with override_settings(WEBHOOK_MAX_BODY_BYTES=100):
        assert_refused(post(client, {"id": "e", "type": "t", "data": {"x": "y" * 100}}),
                       "body", status=413)


@pytest.mark.parametrize("raw", [
    '{"id": "e", "type": "domain.renewed", "data": {"x": NaN}}',
    '{"id": "e", "type": "domain.renewed", "data": {"x": Infinity}}',
    '{"id": "e", "type": "domain.renewed", "data": {"x": 1e400}}',
    '{"id": "e", "type": "domain.renewed", "data": {"x": ' + "9" * 5000 + "}}",
    b'{"id": "e", "type": "domain.renewed", "data": {"x": "\xff"}}',
    "not json", "[]", '"string"',
])
def test_numbers_and_text_json_cannot_carry_are_refused(client, accounts, raw):
    assert_refused(post(client, raw), "body")


@pytest.mark.parametrize(("raw", "field"), [
    ('{"id": "e", "type": "domain.renewed", "data": {"note": "a\\u0000b"}}', "data.note"),
    ('{"id": "e", "type": "domain.renewed", "data": {"note": "\\udcff"}}', "data.note"),
    ('{"id": "e\\u0000", "type": "domain.renewed", "data": {}}', "id"),
    ('{"id": "e", "type": "domain.renewed", "data": {"k\\ud800": 1}}', "data"),
])
def test_text_the_database_cannot_store_is_refused_anywhere(client, accounts, raw, field):
    assert_refused(post(client, raw), field)


@pytest.mark.parametrize(("body", "field"), [
    ({"type": "domain.renewed", "data": {}}, "id"),
    ({"id": "e" * 129, "type": "domain.renewed", "data": {}}, "id"),
    ({"id": "e", "type": "t" * 129, "data": {}}, "type"),
    ({"id": "e", "type": ["x"], "data": {}}, "type"),
])
def test_ids_and_types_must_fit_their_columns(client, accounts, body, field):
    assert_refused(post(client, body), field)


@pytest.mark.parametrize("data", [None, "x", [1], 0])
def test_an_event_of_a_type_not_followed_still_needs_an_object_as_data(client, accounts,
                                                                        data):
    assert_refused(post(client, {"id": "evt_u", "type": "0", "data": data}), "data")
    response = post(client, {"id": "evt_u", "type": "0", "data": {}})
    assert response.status_code == 200 and response.json()["status"] == "ignored"


@pytest.mark.parametrize(("data", "field"), [
    ({"purchase": None}, "data.purchase"),
    ({"purchase": "x"}, "data.purchase"),
    ({"purchase": {**PURCHASE, "hostname": "<script>"}}, "data.purchase.hostname"),
    ({"purchase": {**PURCHASE, "years": None}}, "data.purchase.years"),
    ({"purchase": PURCHASE, "reason": ["x"]}, "data.reason"),
])
def test_a_purchase_carried_by_a_type_not_followed_is_still_checked(client, accounts, data,
                                                                     field):
    # What is stored as the raw event never holds a purchase every other path refuses.
    assert_refused(post(client, {"id": "evt_u", "type": "0", "data": data}), field)
    response = post(client, {"id": "evt_u", "type": "0", "data": {"purchase": PURCHASE}})
    assert response.status_code == 200 and response.json()["status"] == "ignored"


def test_entri_fields_are_checked(client, accounts):
    order = OrderFactory(provider_account=accounts["entri"], upstream_id="21b363fb-c8c0",
                         status=OrderStatus.REGISTRATION_IN_PROGRESS)
    base = {"id": "evt_e", "type": "order.status_changed"}
    assert_refused(post(client, base | {"data": {"orderId": "x" * 65, "status": "registered"}},
                        kind="entri"), "data.orderId", before=(0, 1, 0, 0, 0))
    response = post(client, base | {"data": {"orderId": order.upstream_id,
                                             "status": ["registered"]}}, kind="entri")
    assert response.status_code == 400 and response.json()["field"] == "data.status"
    response = post(client, base | {"data": {"orderId": order.upstream_id,
                                             "status": "registered"}}, kind="entri")
    assert response.json() == {"status": "applied"}


@pytest.mark.parametrize(("data", "field"), [
    ({"orderId": "x" * 65}, "data.orderId"),
    ({"orderId": "21b363fb-c8c0", "status": None}, "data.status"),
    ({"orderId": "21b363fb-c8c0", "status": "new\u0000"}, "data.status"),
])
def test_an_entri_event_of_a_type_not_followed_still_carries_storable_text(client, accounts,
                                                                            data, field):
    body = {"id": "evt_e", "type": "order.created"}
    assert_refused(post(client, body | {"data": data}, kind="entri"), field)
    response = post(client, body | {"data": {"orderId": "21b363fb-c8c0", "status": "new"}},
                    kind="entri")
    assert response.status_code == 200 and response.json()["status"] == "ignored"


def test_a_true_duplicate_is_still_a_duplicate(client, accounts):
    assert post(client, event()).json() == {"status": "applied"}
    before = stored()
    assert post(client, event()).json() == {"status": "duplicate"}
    assert stored() == before


# --- properties ----------------------------------------------------------------------

ANY_CHAR = st.characters(codec=None, categories=None)
HUGE = st.integers(min_value=-(10**40), max_value=10**40)
SCALARS = (st.none() | st.booleans() | st.integers() | HUGE
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(ANY_CHAR, max_size=12))
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(ANY_CHAR, max_size=8), children, max_size=4),
    max_leaves=25)
PURCHASE_FIELDS = st.dictionaries(st.sampled_from(sorted(PURCHASE)), JSON_VALUES, max_size=4)
EVENT_TYPES = st.sampled_from(["domain_purchase.completed", "domain_purchase.failed",
                               "order.status_changed", "domain.renewed"]) | st.text(max_size=5)


@st.composite
def bodies(draw):
    """Mostly event-shaped bodies with hostile values in them, some anything at all."""
    shape = draw(st.integers(0, 3))
    if shape == 0:
        return draw(JSON_VALUES)
    event_id = draw(st.text(ANY_CHAR, min_size=1, max_size=10) | st.integers() | HUGE)
    if shape == 1:
        data = {"purchase": {**PURCHASE, **draw(PURCHASE_FIELDS)},
                "reason": draw(JSON_VALUES)}
    elif shape == 2:
        data = {"orderId": draw(JSON_VALUES | st.just("ord-1")),
                "status": draw(st.sampled_from(["registered", "payment_failed"])
                               | JSON_VALUES)}
    else:
        data = draw(JSON_VALUES)
    return {"id": event_id, "type": draw(EVENT_TYPES), "data": data}


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(ADAPTERS)), body=bodies())
def test_random_json_is_never_a_500_and_a_refusal_stores_nothing(client, accounts, kind,
                                                                  body):
    with transaction.atomic():
        OrderFactory(provider_account=accounts["entri"], upstream_id="ord-1",
                     status=OrderStatus.REGISTRATION_IN_PROGRESS)
        before = stored()
        response = post(client, json.dumps(body), kind=kind)
        after = stored()
        assert response.status_code < 500
        if 200 <= response.status_code < 300:
            assert WebhookEvent.objects.count() == before[0] + 1
        else:
            assert 400 <= response.status_code < 500
            assert response.json()["status"] == "invalid" and response.json()["field"]
            assert after == before
        transaction.set_rollback(True)
