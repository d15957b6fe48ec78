"""The finance order list: every filter, sorting, pagination, totals per currency (checked
against the per-order rule by a property test), bad parameters, and who may see it."""

from __future__ import annotations

import html
from collections import defaultdict
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.finance.totals import CurrencyTotals, totals_by_currency
from billing.models import (
    CHARGED_STATUSES,
    Order,
    OrderKind,
    OrderStatus,
    PurchaseType,
)
from tests.factories import (
    AccountFactory,
    OrderFactory,
    ProviderAccountFactory,
    TldFactory,
    UserFactory,
)

LIST = "/finance/"
CSV = "/finance/orders.csv"


@pytest.fixture
def finance_client(client, finance_user):
    client.force_login(finance_user)
    return client


def listed(client, params: dict | None = None) -> list[int]:
    response = client.get(LIST, params or {})
    assert response.status_code == 200
    return [row["order"].pk for row in response.context["rows"]]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- one test per filter -----------------------------------------------------------


def test_status_filter_takes_several(finance_client):
    registered = OrderFactory(status=OrderStatus.REGISTERED)
    failed = OrderFactory(status=OrderStatus.FAILED)
    OrderFactory(status=OrderStatus.QUOTED)
    assert listed(finance_client, {"status": "registered"}) == [registered.pk]
    both = listed(finance_client, {"status": ["registered", "failed"]})
    assert sorted(both) == sorted([registered.pk, failed.pk])


def test_kind_filter(finance_client):
    renewal = OrderFactory(kind=OrderKind.RENEWAL)
    OrderFactory(kind=OrderKind.REGISTRATION)
    assert listed(finance_client, {"kind": "renewal"}) == [renewal.pk]


def test_provider_filter(finance_client):
    other = ProviderAccountFactory(label="other-upstream")
    mine = OrderFactory(provider_account=other)
    OrderFactory()  # the "sandbox" provider
    assert listed(finance_client, {"provider": other.pk}) == [mine.pk]


def test_tld_filter_uses_the_tld_row_or_else_the_domain_suffix(finance_client):
    net, com = TldFactory(name="net"), TldFactory(name="com")
    by_row = OrderFactory(tld=net, domain="example.net")
    by_suffix = OrderFactory(tld=None, domain="mirrored.NET")
    OrderFactory(tld=com, domain="example.com")
    # A Tld row wins over what the domain looks like.
    OrderFactory(tld=com, domain="odd.net")
    OrderFactory(tld=None, domain="cabinet")  # ends with "net", not ".net"
    assert sorted(listed(finance_client, {"tld": "net"})) == sorted([by_row.pk, by_suffix.pk])


def test_currency_filter(finance_client):
    eur = OrderFactory(currency="EUR")
    OrderFactory(currency="USD")
    assert listed(finance_client, {"currency": "EUR"}) == [eur.pk]


def test_placed_range_is_inclusive_of_whole_days(finance_client):
    OrderFactory(placed_at=utc(2024, 2, 29, 23, 59, 59))
    first = OrderFactory(placed_at=utc(2024, 3, 1))
    last = OrderFactory(placed_at=utc(2024, 3, 31, 23, 59, 59))
    OrderFactory(placed_at=utc(2024, 4, 1))
    found = listed(finance_client, {"placed_after": "2024-03-01", "placed_before": "2024-03-31"})
    assert sorted(found) == sorted([first.pk, last.pk])
    assert listed(finance_client, {"placed_after": "2024-03-31"})[-1] == last.pk


def test_amount_bounds_are_exact_in_each_currency(finance_client):
    eur_low = OrderFactory(currency="EUR", total_minor=1249, subtotal_minor=1249, fees_minor=0)
    eur_at = OrderFactory(currency="EUR", total_minor=1250, subtotal_minor=1250, fees_minor=0)
    jpy_12 = OrderFactory(currency="JPY", total_minor=12, subtotal_minor=12, fees_minor=0)
    jpy_13 = OrderFactory(currency="JPY", total_minor=13, subtotal_minor=13, fees_minor=0)
    # 12.50 is 1250 cents, but no whole number of yen: at least 12.50 means 13 yen.
    assert sorted(listed(finance_client, {"amount_min": "12.50"})) == sorted(
        [eur_at.pk, jpy_13.pk])
    assert sorted(listed(finance_client, {"amount_max": "12.50"})) == sorted(
        [eur_low.pk, eur_at.pk, jpy_12.pk])
    assert listed(finance_client, {"amount_min": "12.50", "amount_max": "12.50"}) == [eur_at.pk]


def test_amount_min_above_max_is_an_error(finance_client):
    OrderFactory()
    response = finance_client.get(LIST, {"amount_min": "20", "amount_max": "10"})
    assert response.status_code == 200
    assert response.context["rows"] == []
    assert "below" in html.unescape(response.content.decode())


def test_customer_by_account_email(finance_client):
    account = AccountFactory(email="Ada@Example.com")
    mine = OrderFactory(account=account)
    OrderFactory()
    assert listed(finance_client, {"customer": " ada@example.COM "}) == [mine.pk]


def test_customer_by_reference(finance_client):
    by_order_reference = OrderFactory(customer_reference="CUST-77")
    by_account_reference = OrderFactory(account=AccountFactory(customer_reference="CUST-77"))
    OrderFactory(customer_reference="CUST-78")
    assert sorted(listed(finance_client, {"customer": "cust-77"})) == sorted(
        [by_order_reference.pk, by_account_reference.pk])


def test_purchase_type_filter(finance_client):
    backorder = OrderFactory(purchase_type=PurchaseType.BACKORDER)
    OrderFactory(purchase_type=PurchaseType.REGISTRATION)
    assert listed(finance_client, {"purchase_type": "backorder"}) == [backorder.pk]


def test_premium_filter(finance_client):
    premium = OrderFactory(premium=True)
    standard = OrderFactory(premium=False)
    assert listed(finance_client, {"premium": "true"}) == [premium.pk]
    assert listed(finance_client, {"premium": "false"}) == [standard.pk]
    assert len(listed(finance_client, {"premium": ""})) == 2


# --- sorting and pagination ---------------------------------------------------------


def test_sorting_and_the_column_links_that_toggle_it(finance_client):
    small = OrderFactory(total_minor=100, currency="EUR")
    large = OrderFactory(total_minor=900, currency="EUR")
    middle = OrderFactory(total_minor=500, currency="EUR")
    assert listed(finance_client, {"sort": "total"}) == [small.pk, middle.pk, large.pk]
    assert listed(finance_client, {"sort": "-total"}) == [large.pk, middle.pk, small.pk]
    # Newest first by default.
    assert listed(finance_client) == [middle.pk, large.pk, small.pk]

    response = finance_client.get(LIST, {"sort": "total", "currency": "EUR", "page": "1"})
    headings = {h["label"]: h for h in response.context["headings"]}
    assert headings["Total"]["direction"] == "ascending"
    assert headings["Total"]["url"] == "?currency=EUR&sort=-total"
    assert headings["Domain"]["url"] == "?currency=EUR&sort=domain"
    assert headings["Account"]["url"] is None  # not sortable
    page = response.content.decode()
    assert 'href="?currency=EUR&amp;sort=-total"' in page


def test_ties_keep_their_places_across_pages(finance_client):
    account = AccountFactory()
    Order.objects.bulk_create(
        Order(account=account, kind=OrderKind.RENEWAL, status=OrderStatus.REGISTERED,
              currency="EUR", total_minor=n % 2, domain=f"tie{n:03d}.com") for n in range(60))
    seen = listed(finance_client, {"sort": "total"}) + listed(
        finance_client, {"sort": "total", "page": "2"})
    assert len(set(seen)) == 60
    ids_of_zero = sorted((o.pk for o in Order.objects.filter(total_minor=0)), reverse=True)
    assert seen[:30] == ids_of_zero


def test_bad_sort_key_is_an_error_not_a_500(finance_client):
    OrderFactory()
    response = finance_client.get(LIST, {"sort": "password"})
    assert response.status_code == 200
    assert response.context["rows"] == []
    assert response.context["form_errors"]


def test_pagination_keeps_the_filter(finance_client):
    account = AccountFactory()
    Order.objects.bulk_create(
        Order(account=account, kind=OrderKind.RENEWAL, status=OrderStatus.REGISTERED,
              currency="EUR", total_minor=n, domain=f"page{n:03d}.com",
              placed_at=utc(2024, 1, 1, 0, 0, n % 60))
        for n in range(120))
    OrderFactory(currency="USD")  # filtered out
    first = finance_client.get(LIST, {"currency": "EUR", "sort": "total"})
    assert [row["order"].total_minor for row in first.context["rows"]] == list(range(50))
    assert first.context["page"].paginator.count == 120
    page = first.content.decode()
    assert 'href="?currency=EUR&amp;sort=total&amp;page=3"' in page
    assert 'rel="next"' in page

    third = finance_client.get(LIST, {"currency": "EUR", "sort": "total", "page": "3"})
    assert [row["order"].total_minor for row in third.context["rows"]] == list(range(100, 120))
    # Totals cover every page, not just this one.
    (eur,) = third.context["totals"]
    assert (eur.currency, eur.count, eur.gross_minor) == ("EUR", 120, sum(range(120)))

    assert len(listed(finance_client, {"currency": "EUR", "page": "99"})) == 20  # last page
    assert len(listed(finance_client, {"currency": "EUR", "page": "x"})) == 50  # first page


def test_query_count_does_not_grow_with_the_rows(finance_client):
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = finance_client.get(LIST, {"sort": "-total"})
        assert response.status_code == 200
        return len(captured)

    for _ in range(2):
        OrderFactory(tld=TldFactory(name="com"))
    few = count_queries()
    for n in range(30):
        OrderFactory(tld=TldFactory(name="com"), account=AccountFactory(),
                     provider_account=ProviderAccountFactory(label=f"p{n}"))
    assert count_queries() == few


# --- the page itself ----------------------------------------------------------------


def test_page_shows_rows_totals_chart_and_download(finance_client):
    order = OrderFactory(domain="shown.com", currency="EUR", total_minor=1399,
                         refunded_minor=399)
    OrderFactory(currency="JPY", total_minor=1500, status=OrderStatus.QUOTED)
    response = finance_client.get(LIST, {"currency": "EUR"})
    page = response.content.decode()
    assert f'href="{reverse("finance:order", args=[order.pk])}"' in page
    assert "shown.com" in page
    assert ">13.99<" in page and ">10.00<" in page  # total and net of the row
    assert '<img src="/finance/revenue.svg?currency=EUR" alt="Net revenue by month" ' \
           'id="revenue-chart">' in page
    assert 'href="/finance/orders.csv?currency=EUR"' in page
    assert response.context["totals"] == [CurrencyTotals("EUR", 1, 1399, 100, 399)]
    assert "13.99 EUR" in page and "10.00 EUR" in page  # totals table


def test_an_empty_form_submission_lists_everything(finance_client):
    orders = [OrderFactory() for _ in range(2)]
    empty_form = {"provider": "", "tld": "", "currency": "", "placed_after": "",
                  "placed_before": "", "amount_min": "", "amount_max": "", "customer": "",
                  "purchase_type": "", "premium": "", "sort": ""}
    response = finance_client.get(LIST, empty_form)
    assert sorted(row["order"].pk for row in response.context["rows"]) == sorted(
        o.pk for o in orders)
    page = response.content.decode()
    assert 'src="/finance/revenue.svg?"' in page  # the empty fields are not carried along
    assert 'href="/finance/orders.csv?"' in page
    assert not response.context["form_errors"]


@pytest.mark.parametrize("params", [
    {"amount_min": "abc"},
    {"placed_after": "notadate"},
    {"status": "bogus"},
    {"amount_max": "NaN"},
    {"currency": "XXX"},
    {"provider": "999999"},
    {"premium": "maybe"},
    {"tld": "nope"},
    {"placed_after": "2024-02-01", "placed_before": "2024-01-31"},
])
def test_invalid_parameters_show_the_error_and_no_orders(finance_client, params):
    OrderFactory()
    response = finance_client.get(LIST, params)
    assert response.status_code == 200
    assert response.context["rows"] == []
    assert response.context["totals"] == []
    page = response.content.decode()
    assert 'class="errornote"' in page and 'id="filter-errors"' in page
    assert response.context["form_errors"]
    assert 'id="download-csv"' not in page
    assert finance_client.get(CSV, params).status_code == 400


def test_invalid_parameters_name_the_field(finance_client):
    response = finance_client.get(LIST, {"amount_min": "abc", "status": "bogus"})
    errors = response.context["form_errors"]
    assert any(message.startswith("Total at least:") for message in errors)
    assert any(message.startswith("Status:") and "bogus" in message for message in errors)


# --- totals: the database agrees with the per-order rule ----------------------------

CURRENCIES = ["EUR", "USD", "JPY", "KWD"]
order_values = st.builds(
    lambda currency, status, total, refund_share, fees: {
        "currency": currency, "status": status, "total_minor": total,
        "refunded_minor": total * refund_share // 100, "fees_minor": min(fees, total)},
    currency=st.sampled_from(CURRENCIES),
    status=st.sampled_from(OrderStatus.values),
    total=st.integers(min_value=0, max_value=10**12),
    refund_share=st.integers(min_value=0, max_value=100),
    fees=st.integers(min_value=0, max_value=10**6),
)


@pytest.mark.django_db
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(orders=st.lists(order_values, max_size=25))
def test_totals_by_currency_match_the_per_order_rule(orders):
    Order.objects.all().delete()
    Order.objects.bulk_create(Order(kind=OrderKind.REGISTRATION, **values) for values in orders)

    expected: dict[str, dict[str, int]] = defaultdict(
        lambda: {"count": 0, "gross": 0, "fees": 0, "refunds": 0})
    for values in orders:
        charged = values["status"] in CHARGED_STATUSES
        row = expected[values["currency"]]
        row["count"] += 1
        row["gross"] += values["total_minor"] if charged else 0
        row["fees"] += values["fees_minor"] if charged else 0
        row["refunds"] += values["refunded_minor"]

    totals = totals_by_currency(Order.objects.all())
    assert [t.currency for t in totals] == sorted(expected)
    for total in totals:
        row = expected[total.currency]
        assert (total.count, total.gross_minor, total.fees_minor, total.refunds_minor) == (
            row["count"], row["gross"], row["fees"], row["refunds"])
        assert total.net_minor == row["gross"] - row["refunds"]
    # ... which is what the per-order properties say.
    net_by_order: dict[str, int] = defaultdict(int)
    for order in Order.objects.all():
        net_by_order[order.currency] += order.net_minor
    assert {t.currency: t.net_minor for t in totals} == net_by_order


@pytest.mark.django_db
def test_totals_ignore_ordering_and_follow_the_filter():
    OrderFactory(currency="EUR", total_minor=1000, fees_minor=100, status=OrderStatus.REGISTERED)
    OrderFactory(currency="EUR", total_minor=2000, fees_minor=200, refunded_minor=500,
                 status=OrderStatus.REFUNDED)
    OrderFactory(currency="EUR", total_minor=4000, fees_minor=400,
                 status=OrderStatus.PAYMENT_FAILED)
    OrderFactory(currency="JPY", total_minor=1500, fees_minor=0)
    ordered = Order.objects.order_by("-total_minor", "domain")
    eur, jpy = totals_by_currency(ordered)
    assert eur == CurrencyTotals("EUR", 3, 3000, 300, 500)
    assert (eur.gross, eur.fees, eur.refunds, eur.net) == (
        "30.00 EUR", "3.00 EUR", "5.00 EUR", "25.00 EUR")
    assert jpy.net == "1500 JPY"
    assert totals_by_currency(Order.objects.none()) == []
    assert totals_by_currency(Order.objects.filter(currency="JPY")) == [jpy]


# --- who may see it -----------------------------------------------------------------


def test_finance_sees_the_list(finance_client):
    assert finance_client.get(LIST).status_code == 200


def test_admin_role_sees_the_list(client, admin_user_role):
    client.force_login(admin_user_role)
    assert client.get(LIST).status_code == 200


def test_support_is_refused(client, support_user):
    client.force_login(support_user)
    assert client.get(LIST).status_code == 403
    assert client.get(CSV).status_code == 403


@pytest.mark.django_db
def test_anonymous_goes_to_the_admin_login(client):
    for url in (LIST, CSV):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.django_db
def test_finance_without_export_permission_gets_no_download(client):
    viewer = UserFactory(username="viewer-only")
    viewer.user_permissions.add(Permission.objects.get(codename="view_finance"))
    client.force_login(viewer)
    OrderFactory()
    response = client.get(LIST)
    assert response.status_code == 200
    assert 'id="download-csv"' not in response.content.decode()
    assert client.get(CSV).status_code == 403


def test_finance_with_export_permission_gets_the_download(finance_client):
    assert 'id="download-csv"' in finance_client.get(LIST).content.decode()
