"""On PostgreSQL the orders CSV is formatted by the database (COPY ... TO STDOUT): it must
be the Python formatter's output byte for byte, for every kind of cell."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection

from billing.finance.export import OrderCsv
from billing.finance.filters import filtered_orders
from billing.models import Order, OrderKind, OrderStatus, PurchaseType
from tests.factories import AccountFactory, OrderFactory, ProviderAccountFactory, TldFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("COPY is PostgreSQL's; elsewhere the Python formatter is the only path")


def both(queryset, **options) -> tuple[str, str]:
    return ("".join(OrderCsv(queryset, copy=True, **options)),
            "".join(OrderCsv(queryset, copy=False, **options)))


@pytest.fixture
def varied():
    provider = ProviderAccountFactory(label="=HYPERLINK(\"x\")")
    com, jp = TldFactory(name="com"), TldFactory(name="xn--wgv71a")
    account = AccountFactory(email="+alice@example.com", customer_reference="-REF,1")
    rows = [
        dict(domain="example.com", tld=com, currency="USD", total_minor=1299,
             subtotal_minor=1199, fees_minor=100, status=OrderStatus.REGISTERED),
        dict(domain="xn--bcher-kva.com", tld=com, currency="EUR", total_minor=5,
             refunded_minor=5, status=OrderStatus.REFUNDED, premium=True),
        dict(domain="xn--wgv71a.xn--wgv71a", tld=jp, currency="JPY", total_minor=1500,
             quoted_total_minor=1400, status=OrderStatus.QUOTED),
        dict(domain="xn--zz-invalid.com", tld=None, currency="KWD", total_minor=12345,
             refunded_minor=45, status=OrderStatus.REGISTERED),
        dict(domain="nodot", tld=None, currency="BHD", total_minor=10,
             status=OrderStatus.FAILED, refunded_minor=7),
        dict(domain="", tld=None, currency="GBP", total_minor=10**15,
             status=OrderStatus.REGISTERED, quoted_total_minor=10**15),
        dict(domain="quote\"comma,.net", tld=None, currency="CLF", total_minor=123456,
             status=OrderStatus.REGISTERED),
    ]
    for number, values in enumerate(rows):
        OrderFactory(placed_at=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
                     kind=list(OrderKind)[number % len(OrderKind)],
                     purchase_type=list(PurchaseType)[number % len(PurchaseType)],
                     provider_account=provider if number % 2 else None,
                     account=account if number % 3 else None,
                     upstream_id=None if number % 2 else f"@up-{number}",
                     customer_reference="=cmd" if number == 1 else "", **values)


def test_copy_writes_the_python_formatters_bytes(varied):
    copied, formatted = both(Order.objects.order_by("id"))
    assert copied == formatted
    assert copied.count("\r\n") == 1 + Order.objects.count()
    assert "bücher.com" in copied and "'=HYPERLINK" in copied and "'+alice" in copied


def test_copy_keeps_the_filter_and_its_order_and_counts_rows(varied):
    queryset = filtered_orders({"currency": "EUR"}).qs
    export = OrderCsv(queryset, copy=True, chunk_size=1)
    parts = list(export)
    assert export.rows == queryset.count() == 1
    assert "".join(parts) == "".join(OrderCsv(queryset, copy=False))
    newest_first = Order.objects.order_by("-total_minor", "-id")
    copied, formatted = both(newest_first, chunk_size=2)
    assert copied == formatted


def test_copy_of_nothing_is_the_header():
    copied, formatted = both(Order.objects.all())
    assert copied == formatted and copied.count("\r\n") == 1
