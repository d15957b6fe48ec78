"""The totals of all orders as PostgreSQL keeps them (billing/migrations/0012): always
equal to summing the orders, whatever wrote them, and what the finance page shows."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.finance.totals import (
    _summed,
    compact_order_totals,
    totals_by_currency,
    totals_of_all_orders,
)
from billing.models import Order, OrderStatus
from billing.tasks import compact_order_totals as compact_task
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("the totals are kept by PostgreSQL triggers; SQLite sums the orders")


def delta_rows() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM billing_order_total_delta")
        return cursor.fetchone()[0]


def assert_kept() -> None:
    assert totals_of_all_orders() == _summed(Order.objects.all())


def test_every_kind_of_write_is_counted(db):
    assert totals_of_all_orders() == []
    first = OrderFactory(currency="USD", total_minor=1399, fees_minor=100)
    OrderFactory(currency="EUR", total_minor=2**62, fees_minor=2**61)
    OrderFactory(currency="EUR", total_minor=2**62, fees_minor=0)  # beyond a bigint
    OrderFactory(currency="USD", status=OrderStatus.QUOTED, total_minor=500)
    assert_kept()
    (usd,) = [row for row in totals_of_all_orders() if row.currency == "USD"]
    assert (usd.count, usd.gross_minor, usd.fees_minor) == (2, 1399, 100)

    first.status, first.refunded_minor = OrderStatus.REFUNDED, 1399
    first.save()
    assert_kept()
    Order.objects.filter(currency="EUR").update(status=OrderStatus.FAILED)
    assert_kept()
    Order.objects.bulk_create([Order(account=first.account, kind=first.kind,
                                     provider_account=first.provider_account,
                                     status=OrderStatus.REGISTERED, currency="GBP",
                                     total_minor=700 + index) for index in range(5)])
    assert_kept()
    with connection.cursor() as cursor:  # behind the ORM's back
        cursor.execute("UPDATE billing_order SET total_minor = total_minor + 1 "
                       "WHERE currency = 'GBP'")
    assert_kept()
    Order.objects.filter(currency="USD").delete()
    assert_kept()
    assert [row.currency for row in totals_of_all_orders()] == ["EUR", "GBP"]


def test_a_write_that_moves_no_money_appends_nothing(db):
    order = OrderFactory()
    before = delta_rows()
    order.domain = "renamed.com"
    order.save()
    Order.objects.update(status_reason="checked")
    assert delta_rows() == before


def test_compacting_folds_the_deltas_and_keeps_the_totals(db):
    orders = [OrderFactory(currency=currency) for currency in ("USD", "USD", "EUR")]
    for order in orders:
        order.status = OrderStatus.REFUNDED
        order.refunded_minor = order.total_minor
        order.save()
    kept = totals_of_all_orders()
    assert delta_rows() > 2
    compact_task()  # the beat's task, run here in-process
    assert delta_rows() == 2  # one per (currency, status) left
    assert totals_of_all_orders() == kept == _summed(Order.objects.all())
    Order.objects.all().delete()
    compact_order_totals()
    assert delta_rows() == 0 and totals_of_all_orders() == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_wait_on_each_other(db):
    """Two transactions writing orders of the same currency and status both commit
    without waiting: each appends its own row, none updates a shared one."""
    OrderFactory(currency="USD")
    both_wrote = threading.Barrier(2, timeout=10)
    failures: list[BaseException] = []

    def writer() -> None:
        try:
            with transaction.atomic():
                OrderFactory(currency="USD")
                both_wrote.wait()  # the other is inside its transaction too
        except BaseException as error:  # reported below, in the test's thread
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not failures, failures
    assert_kept()
    assert totals_of_all_orders()[0].count == 3


def test_the_finance_page_reads_the_kept_totals_and_sums_a_filtered_list(client,
                                                                         finance_user):
    OrderFactory(currency="USD", total_minor=1000)
    OrderFactory(currency="USD", status=OrderStatus.REFUNDED, total_minor=500,
                 refunded_minor=500)
    client.force_login(finance_user)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("finance:orders"))
    assert page.status_code == 200
    assert page.context["totals"] == totals_of_all_orders()
    sql = [query["sql"] for query in queries.captured_queries]
    assert any("billing_order_total_delta" in text for text in sql)
    assert not [text for text in sql if "GROUP BY" in text and '"billing_order"' in text]

    page = client.get(reverse("finance:orders") + "?status=refunded")
    (usd,) = page.context["totals"]
    assert (usd.count, usd.refunds_minor) == (1, 500)
    assert page.context["totals"] == totals_by_currency(
        Order.objects.filter(status=OrderStatus.REFUNDED))
