"""The ledger figures kept on each order, and the needs-attention rules that read them:
after each change that moves an order into or out of a section (a charge, a refund
asked for and settled, a status change, a bulk insert, the data migration), the sections
hold exactly the orders that the ledger itself says, summed entry by entry as the report
did before the figures were kept."""

from __future__ import annotations

import importlib
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.apps import apps as installed_apps
from django.db import connection
from django.db.models import (
    BigIntegerField,
    Exists,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing import ledger
from billing.finance import attention
from billing.models import (
    AWAITING_DELIVERY_STATUSES,
    CHARGED_STATUSES,
    DELIVERY_FAILED_STATUSES,
    LedgerEntry,
    Order,
    OrderStatus,
)
from tests.factories import LedgerEntryFactory, OrderFactory

PAYMENT, REFUND = LedgerEntry.Kind.PAYMENT, LedgerEntry.Kind.REFUND
PENDING, SUCCEEDED, FAILED = (LedgerEntry.State.PENDING, LedgerEntry.State.SUCCEEDED,
                              LedgerEntry.State.FAILED)

pytestmark = pytest.mark.django_db


# --- the rules as they were computed from the ledger, entry by entry --------------------


def _summed(kind: str, state: str) -> Coalesce:
    entries = (LedgerEntry.objects.filter(order=OuterRef("pk"), kind=kind, state=state)
               .order_by().values("order").annotate(total=Sum("amount_minor"))
               .values("total"))
    return Coalesce(Subquery(entries, output_field=BigIntegerField()), Value(0),
                    output_field=BigIntegerField())


def from_the_ledger(now) -> dict[str, set[int]]:
    """Each section's orders by the report's former definition: correlated sums over
    every order's ledger entries."""
    orders = Order.objects.annotate(ledger_paid=_summed(PAYMENT, SUCCEEDED),
                                    ledger_refunded=_summed(REFUND, SUCCEEDED))
    pending = LedgerEntry.objects.filter(order=OuterRef("pk"), kind=REFUND, state=PENDING,
                                         settled_by__isnull=True)
    rules = {
        "undelivered": Q(status__in=AWAITING_DELIVERY_STATUSES,
                         placed_at__lt=now - attention.undelivered_after()),
        "failed-unrefunded": Q(status__in=DELIVERY_FAILED_STATUSES, ledger_paid__gt=0,
                               ledger_refunded__lt=F("ledger_paid")),
        "refunds-pending": Q(Exists(pending)),
        "price-mismatch": Q(status__in=CHARGED_STATUSES, quoted_total_minor__isnull=False)
        & ~Q(quoted_total_minor=F("total_minor")),
        "refunded-nothing": Q(status=OrderStatus.REFUNDED, refunded_minor=0),
        "unsettled": Q(unsettled_since__isnull=False),
    }
    return {key: set(orders.filter(rule).values_list("pk", flat=True))
            for key, rule in rules.items()}


def as_reported(now) -> dict[str, set[int]]:
    return {section.key: set(section.orders.values_list("pk", flat=True))
            for section in attention.sections(now)}


def assert_agrees(now=None) -> dict[str, set[int]]:
    now = now or timezone.now()
    expected = from_the_ledger(now)
    assert as_reported(now) == expected
    assert set(attention.needing_attention(now).values_list("pk", flat=True)) == set().union(
        *expected.values())
    for order in Order.objects.all():
        assert {"paid_minor": order.paid_minor,
                "refunded_back_minor": order.refunded_back_minor,
                "refunds_pending": order.refunds_pending} == ledger.ledger_figures(
            [order.pk])[order.pk]
    return expected


# --- each transition ---------------------------------------------------------------------


def test_a_failed_delivery_enters_with_its_charge_and_leaves_with_its_refund():
    order = OrderFactory(status=OrderStatus.REGISTRATION_IN_PROGRESS, total_minor=1399,
                         upstream_id="ord-1")
    assert assert_agrees()["failed-unrefunded"] == set()

    assert ledger.record_charge(order)
    order.refresh_from_db()
    assert order.paid_minor == 1399
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.FAILED)
    assert assert_agrees()["failed-unrefunded"] == {order.pk}

    # A refund asked for (its amount estimated): pending, the failure still owed.
    Order.objects.filter(pk=order.pk).update(refunded_minor=1399)
    order.refresh_from_db()
    assert ledger.record_refund(order, estimated=True)
    found = assert_agrees()
    assert found["failed-unrefunded"] == {order.pk} and found["refunds-pending"] == {order.pk}

    # The upstream states it: the refund succeeds and settles the estimate.
    assert ledger.record_refund(order)
    found = assert_agrees()
    assert found["failed-unrefunded"] == set() and found["refunds-pending"] == set()
    order.refresh_from_db()
    assert (order.paid_minor, order.refunded_back_minor, order.refunds_pending) == (
        1399, 1399, 0)


def test_a_partial_refund_leaves_the_failure_owed_and_a_second_clears_it():
    order = OrderFactory(status=OrderStatus.TRANSFER_FAILED)
    LedgerEntryFactory(order=order, amount_minor=1000)
    LedgerEntryFactory(order=order, kind=REFUND, amount_minor=400)
    assert assert_agrees()["failed-unrefunded"] == {order.pk}
    LedgerEntryFactory(order=order, kind=REFUND, amount_minor=600)
    assert assert_agrees()["failed-unrefunded"] == set()


def test_a_pending_refund_settled_by_a_failed_entry_leaves_the_pending_section():
    order = OrderFactory(status=OrderStatus.REFUNDED, refunded_minor=500)
    asked = LedgerEntryFactory(order=order, kind=REFUND, state=PENDING, amount_minor=500)
    assert assert_agrees()["refunds-pending"] == {order.pk}
    LedgerEntryFactory(order=order, kind=REFUND, state=FAILED, amount_minor=500,
                       settles=asked)
    assert assert_agrees()["refunds-pending"] == set()


def test_an_entry_settling_another_orders_refund_refreshes_that_order():
    first, second = OrderFactory(), OrderFactory()
    asked = LedgerEntryFactory(order=first, kind=REFUND, state=PENDING, amount_minor=100)
    LedgerEntryFactory(order=second, kind=REFUND, state=SUCCEEDED, amount_minor=100,
                       settles=asked)
    assert assert_agrees()["refunds-pending"] == set()


def test_status_changes_move_orders_between_the_sections_that_read_the_row(settings):
    settings.FINANCE_UNDELIVERED_AFTER_MINUTES = 60
    now = timezone.now()
    waiting = OrderFactory(status=OrderStatus.PAYMENT_SUCCESSFUL,
                           placed_at=now - timedelta(hours=2))
    mismatch = OrderFactory(status=OrderStatus.PAYMENT_INITIATED, quoted_total_minor=1299,
                            total_minor=1399)
    refunded = OrderFactory(status=OrderStatus.REGISTERED, refunded_minor=0)
    found = assert_agrees(now)
    assert found["undelivered"] == {waiting.pk} and found["price-mismatch"] == set()

    Order.objects.filter(pk=waiting.pk).update(status=OrderStatus.REGISTERED)
    Order.objects.filter(pk=mismatch.pk).update(status=OrderStatus.PAYMENT_SUCCESSFUL)
    Order.objects.filter(pk=refunded.pk).update(status=OrderStatus.REFUNDED)
    found = assert_agrees(now)
    assert found["undelivered"] == set() and found["price-mismatch"] == {mismatch.pk}
    assert found["refunded-nothing"] == {refunded.pk}


def test_an_order_settling_leaves_the_unsettled_section():
    order = OrderFactory(status=OrderStatus.PAYMENT_INITIATED,
                         unsettled_since=timezone.now())
    assert assert_agrees()["unsettled"] == {order.pk}
    Order.objects.filter(pk=order.pk).update(unsettled_since=None)
    assert assert_agrees()["unsettled"] == set()


def test_entries_added_in_bulk_keep_the_figures():
    orders = [OrderFactory(status=OrderStatus.FAILED) for _ in range(3)]
    LedgerEntry.objects.bulk_create(
        [LedgerEntry(order=order, kind=PAYMENT, state=SUCCEEDED, amount_minor=700,
                     currency="USD") for order in orders]
        + [LedgerEntry(order=orders[0], kind=REFUND, state=SUCCEEDED, amount_minor=700,
                       currency="USD")])
    assert assert_agrees()["failed-unrefunded"] == {orders[1].pk, orders[2].pk}


def test_the_figures_change_in_the_transaction_that_adds_the_entry():
    order = OrderFactory(status=OrderStatus.FAILED)
    with CaptureQueriesContext(connection) as queries:
        LedgerEntryFactory(order=order, amount_minor=900)
    sql = [query["sql"] for query in queries.captured_queries]
    insert = next(i for i, text in enumerate(sql)
                  if text.startswith('INSERT INTO "billing_ledgerentry"'))
    update = next(i for i, text in enumerate(sql) if text.startswith('UPDATE "billing_order"'))
    assert insert < update
    # Both inside one savepoint (or the test's transaction): nothing commits in between.
    assert not any(text.startswith(("RELEASE", "COMMIT")) for text in sql[insert:update])
    order.refresh_from_db()
    assert order.paid_minor == 900


def test_the_data_migration_fills_the_figures_of_existing_orders():
    failed = OrderFactory(status=OrderStatus.FAILED)
    LedgerEntryFactory(order=failed, amount_minor=1200)
    LedgerEntryFactory(order=failed, kind=REFUND, amount_minor=200)
    waiting = OrderFactory(status=OrderStatus.REFUNDED, refunded_minor=300)
    LedgerEntryFactory(order=waiting, kind=REFUND, state=PENDING, amount_minor=300)
    # As the rows stood before the figures were kept.
    Order.objects.update(paid_minor=0, refunded_back_minor=0, refunds_pending=0)

    migration = importlib.import_module("billing.migrations.0009_changelist_indexes")
    # The operation reads only the editor's connection.
    migration.fill_ledger_figures(installed_apps, SimpleNamespace(connection=connection))
    found = assert_agrees()
    assert found["failed-unrefunded"] == {failed.pk}
    assert found["refunds-pending"] == {waiting.pk}


def test_the_report_and_its_counts_read_the_orders_row_alone(finance_user, client):
    """No section, count or dashboard figure reads the ledger: its rules are on the
    order's row (each under its partial index on PostgreSQL)."""
    order = OrderFactory(status=OrderStatus.FAILED)
    LedgerEntryFactory(order=order, amount_minor=1200)
    client.force_login(finance_user)
    from django.urls import reverse

    for url in (reverse("finance:attention"), reverse("admin:index")):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counted = [q["sql"] for q in queries.captured_queries if "billing_order" in q["sql"]]
        assert counted
        # Only the listed refunds-pending rows read their entries (amount, since).
        assert not any("billing_ledgerentry" in sql and "COUNT" in sql.upper()
                       for sql in counted)
        assert not any("SUM(" in sql.upper() and "billing_ledgerentry" in sql
                       and "refund" not in sql for sql in counted)


def test_entries_written_around_the_model_are_counted_once_the_figures_are_filled():
    """A bulk load in SQL (the scale benchmark's, a restore) bypasses the model: one
    UPDATE brings every order's figures back in line with its entries."""
    order = OrderFactory(status=OrderStatus.TRANSFER_FAILED)
    LedgerEntryFactory(order=order, amount_minor=800)
    Order.objects.update(paid_minor=0)
    assert attention.failed_unrefunded().count() == 0
    assert ledger.fill_ledger_figures() == 1
    assert assert_agrees()["failed-unrefunded"] == {order.pk}


def test_the_dashboard_figure_and_rows_are_those_of_the_whole_condition(settings):
    settings.FINANCE_UNDELIVERED_AFTER_MINUTES = 60
    now = timezone.now()
    for hours in (5, 4, 3):
        OrderFactory(status=OrderStatus.PAYMENT_SUCCESSFUL, placed_at=now - timedelta(hours=hours))
    both = OrderFactory(status=OrderStatus.REFUNDED, refunded_minor=0, quoted_total_minor=1,
                        placed_at=now - timedelta(days=2))  # two sections, counted once
    OrderFactory(status=OrderStatus.REGISTERED)  # fine
    whole = attention.needing_attention(now)
    assert attention.count_needing_attention(999, now) == whole.count() == 4
    assert attention.count_needing_attention(2, now) == 3  # "more than 2"
    oldest = attention.oldest_needing_attention(3, now)
    assert [order.pk for order in oldest] == list(
        whole.order_by("placed_at", "id").values_list("pk", flat=True)[:3])
    assert oldest[0].pk == both.pk
