"""The order, account, ledger, webhook and audit-trail changelists and the finance order
list at scale: search by the shape of the term with no DISTINCT, filters whose choices
come without reading the table, dates as a range instead of a date hierarchy, and deep
pages read by a deferred join that show the same rows as an OFFSET would."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from backoffice import changelist
from backoffice.admin import AUDIT_ACTION_FAMILIES, StaffActionAdmin
from backoffice.models import StaffAction
from billing.admin import WEBHOOK_EVENT_TYPES, OrderAdmin
from billing.models import LedgerEntry, Order, OrderStatus
from tests.factories import (
    AccountFactory,
    LedgerEntryFactory,
    OrderFactory,
    UserFactory,
    WebhookEventFactory,
    staff_action,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(client):
    client.force_login(UserFactory(username="root", is_superuser=True))
    return client


def _get(client, url, **params):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200, response.status_code
    return response, [query["sql"] for query in queries.captured_queries]


def _shown(response) -> list[int]:
    return [row.pk for row in response.context["cl"].result_list]


def _no_distinct(sql: list[str]) -> None:
    assert not [text for text in sql if "DISTINCT" in text.upper()], sql


# --- orders -------------------------------------------------------------------------------


def test_orders_are_found_by_each_shape_of_term_without_distinct(root):
    account = AccountFactory(email="Finance.Person@Example.com")
    own = [OrderFactory(account=account, domain=f"shop{n}.example") for n in range(2)]
    by_id = OrderFactory(upstream_id="ord-7781", customer_reference="REF-0042",
                         domain="other.example")
    OrderFactory(domain="unrelated.test")
    url = reverse("admin:billing_order_changelist")

    for term, expected in [
        ("finance.person@example.COM", own),  # the account's e-mail, whole, any case
        ("ord-7781", [by_id]),  # the upstream's id, exactly
        ("REF-0042", [by_id]),  # a customer reference, exactly
        ("shop1", [own[1]]),  # part of a domain
        ("shop0.example", [own[0]]),  # the start of a domain
        (str(by_id.pk), [by_id]),  # the order's number
    ]:
        response, sql = _get(root, url, q=term)
        assert sorted(_shown(response)) == sorted(order.pk for order in expected), term
        _no_distinct(sql)
    response, _ = _get(root, url, q="ord-778")  # an id is never matched in part
    assert _shown(response) == []


def test_the_order_filters_list_their_choices_without_reading_the_orders(root):
    OrderFactory(currency="USD", status=OrderStatus.REFUNDED, refunded_minor=100)
    OrderFactory(currency="EUR")
    OrderFactory(currency="JPY")
    response, sql = _get(root, reverse("admin:billing_order_changelist"))
    _no_distinct(sql)
    html = response.content.decode()
    for code in ("EUR", "JPY", "USD"):
        assert f"?currency={code}" in html
    assert "placed_at__gte=" in html  # the date range, not a year list
    assert response.context["cl"].date_hierarchy is None

    response, sql = _get(root, reverse("admin:billing_order_changelist"), currency="EUR",
                         status__exact="quoted")
    _no_distinct(sql)
    assert all(Order.objects.get(pk=pk).currency == "EUR" for pk in _shown(response))


def test_the_placed_date_filter_keeps_recent_orders(root):
    now = timezone.now()
    recent = OrderFactory(placed_at=now - timedelta(days=2))
    OrderFactory(placed_at=now - timedelta(days=40))
    week = (now - timedelta(days=7)).replace(hour=0, minute=0, second=0, microsecond=0)
    response, sql = _get(root, reverse("admin:billing_order_changelist"),
                         placed_at__gte=str(week), placed_at__lt=str(now + timedelta(days=1)))
    assert _shown(response) == [recent.pk]
    _no_distinct(sql)


@pytest.fixture
def small_pages(monkeypatch):
    """Pages of two rows, the deferred join from the third row on."""
    monkeypatch.setattr(changelist, "DEFERRED_FROM", 2)
    monkeypatch.setattr(OrderAdmin, "list_per_page", 2)
    monkeypatch.setattr(StaffActionAdmin, "list_per_page", 2)


def test_deep_order_pages_hold_the_rows_an_offset_would(root, small_pages):
    now = timezone.now()
    orders = [OrderFactory(placed_at=now - timedelta(hours=n % 3)) for n in range(7)]
    expected = list(Order.objects.order_by("-placed_at", "-id").values_list("pk", flat=True))
    assert len(expected) == len(orders)
    url = reverse("admin:billing_order_changelist")
    seen = []
    for page in range(1, 5):
        response, _ = _get(root, url, p=page)
        seen += _shown(response)
    assert seen == expected


# --- accounts, ledger, webhook events ----------------------------------------------------


def test_accounts_are_found_by_email_reference_and_name(root):
    found = AccountFactory(name="Blue Bakery Ltd", email="owner@bakery.example",
                           customer_reference="CUST-9")
    AccountFactory(name="Red Garden", email="someone@garden.example")
    url = reverse("admin:billing_account_changelist")
    for term in ("OWNER@bakery.example", "CUST-9", "bakery", "blue bakery"):
        response, sql = _get(root, url, q=term)
        assert _shown(response) == [found.pk], term
        _no_distinct(sql)


def test_ledger_and_webhook_filters_come_from_code(root):
    entry = LedgerEntryFactory(external_reference="pi_123:charge")
    LedgerEntryFactory()
    response, sql = _get(root, reverse("admin:billing_ledgerentry_changelist"))
    _no_distinct(sql)
    response, sql = _get(root, reverse("admin:billing_ledgerentry_changelist"),
                         q="pi_123:charge")
    assert _shown(response) == [entry.pk]
    _no_distinct(sql)

    event = WebhookEventFactory(event_type="order.status_changed", outcome="ignored")
    response, sql = _get(root, reverse("admin:billing_webhookevent_changelist"))
    _no_distinct(sql)
    html = response.content.decode()
    assert "?event_type=order.status_changed" in html and "?outcome=out_of_order" in html
    response, _ = _get(root, reverse("admin:billing_webhookevent_changelist"),
                       outcome="ignored", event_type="order.status_changed")
    assert _shown(response) == [event.pk]


def test_the_webhook_types_offered_are_those_the_adapters_read():
    from registrar.providers.domainee.wire import WEBHOOK_EVENTS
    from registrar.providers.entri.wire import ORDER_STATUS_CHANGED

    assert {code for code, _ in WEBHOOK_EVENT_TYPES} == {*WEBHOOK_EVENTS, ORDER_STATUS_CHANGED}


# --- the audit trail ---------------------------------------------------------------------


def test_the_audit_filters_list_their_choices_without_reading_the_trail(root):
    staff_action(action="registration.lock")
    staff_action(action="contact.update")
    response, sql = _get(root, reverse("admin:backoffice_staffaction_changelist"))
    _no_distinct(sql)
    assert response.context["cl"].date_hierarchy is None
    html = response.content.decode()
    assert "?family=registration" in html and "target_type=registrar.registration" in html
    assert "created_at__gte=" in html

    response, sql = _get(root, reverse("admin:backoffice_staffaction_changelist"),
                         family="contact")
    _no_distinct(sql)
    assert [StaffAction.objects.get(pk=pk).action for pk in _shown(response)] == [
        "contact.update"]


def test_every_action_the_code_writes_belongs_to_a_family():
    families = {family for family, _ in AUDIT_ACTION_FAMILIES}
    from billing import email_orders, order_sync, ordering, portal, services, settling

    named = [ordering.QUOTE_ACTION, ordering.PLACE_ACTION, email_orders.EMAIL_ORDER_ACTION,
             email_orders.EMAIL_ORDER_REFRESH_ACTION, order_sync.CREATED_ACTION,
             order_sync.CHANGED_ACTION, settling.SETTLE_ACTION, services.WEBHOOK_ACTION,
             portal.BILLING_LINK_ACTION, "orders.export", "config.tld.change",
             "registration.lock", "host.create", "process.resend", "approval.request",
             "contact.update", "security.second_factor_reset", "note.added",
             "provider_account.configure"]
    assert {action.split(".", 1)[0] for action in named} <= families


def test_audit_rows_are_found_by_id_and_by_words(root):
    target = StaffAction.objects.create(
        actor_label="sync", action="registration.lock", outcome="succeeded",
        target_type="registrar.registration", target_repr="münchen-bakery.de",
        target_id="4711", upstream_request_id="req-abc", process_id="p-9")
    StaffAction.objects.create(actor_label="sync", action="contact.update",
                               outcome="succeeded", target_repr="somebody else",
                               target_id="12")
    url = reverse("admin:backoffice_staffaction_changelist")
    for term in ("4711", "req-abc", "p-9", "münchen-bakery", "bakery lock"):
        response, sql = _get(root, url, q=term)
        assert _shown(response) == [target.pk], term
        _no_distinct(sql)
    response, _ = _get(root, url, q="471")  # ids exactly
    assert _shown(response) == []


def test_deep_audit_pages_hold_the_rows_an_offset_would(root, small_pages):
    for _ in range(7):
        staff_action(action="registration.lock")
    expected = list(StaffAction.objects.order_by("-created_at", "-id").values_list(
        "pk", flat=True))
    seen = []
    for page in range(1, 5):
        response, _ = _get(root, reverse("admin:backoffice_staffaction_changelist"), p=page)
        seen += _shown(response)
    assert seen == expected


# --- the finance order list ----------------------------------------------------------------


@pytest.fixture
def finance_client(client, finance_user):
    client.force_login(finance_user)
    return client


def test_the_finance_status_filter_adds_no_distinct(finance_client):
    refunded = OrderFactory(status=OrderStatus.REFUNDED, refunded_minor=100)
    failed = OrderFactory(status=OrderStatus.FAILED)
    OrderFactory(status=OrderStatus.REGISTERED)
    response, sql = _get(finance_client, reverse("finance:orders") + "?status=refunded"
                         "&status=failed")
    shown = [row["order"].pk for row in response.context["rows"]]
    assert sorted(shown) == sorted([refunded.pk, failed.pk])
    _no_distinct(sql)
    assert "2 orders" in response.content.decode()


def test_deep_finance_pages_hold_the_rows_an_offset_would(finance_client, monkeypatch):
    from billing.finance import views_orders

    monkeypatch.setattr(views_orders, "PER_PAGE", 2)
    monkeypatch.setattr(changelist, "DEFERRED_FROM", 2)
    now = timezone.now()
    for n in range(5):
        OrderFactory(placed_at=now - timedelta(hours=n % 2))
    expected = list(Order.objects.order_by("-placed_at", "-id").values_list("pk", flat=True))
    # Straight to the last page (its keys first, then those rows), then page by page.
    response, _ = _get(finance_client, reverse("finance:orders"), page=3)
    assert [row["order"].pk for row in response.context["rows"]] == expected[4:]
    seen = []
    for page in range(1, 4):
        response, _ = _get(finance_client, reverse("finance:orders"), page=page)
        seen += [row["order"].pk for row in response.context["rows"]]
    assert seen == expected


def test_a_large_filtered_finance_list_says_more_than_the_cap(finance_client, monkeypatch):
    monkeypatch.setattr(changelist, "COUNT_CAP", 3)
    for _ in range(5):
        OrderFactory(status=OrderStatus.REGISTERED)
    response, _ = _get(finance_client, reverse("finance:orders"), status="registered")
    assert "more than 3 orders" in response.content.decode()


def test_ledger_entries_still_show_in_the_order_admin(root):
    order = OrderFactory(status=OrderStatus.FAILED)
    LedgerEntryFactory(order=order, amount_minor=1200, kind=LedgerEntry.Kind.PAYMENT)
    response = root.get(reverse("admin:billing_order_change", args=[order.pk]))
    assert response.status_code == 200
    assert "12.00 USD" in response.content.decode()
    assert admin.site._registry[Order].search_plan is not None
