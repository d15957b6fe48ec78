"""The orders CSV: exact content, exactly the filtered set, streamed in a constant number
of queries, audited; and `manage.py export_orders` over the same generator."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from backoffice.models import StaffAction
from billing.finance.export import (
    HEADER,
    OrderCsv,
    amount_formatter,
    csv_safe,
    domain_unicode,
)
from billing.models import Order, OrderKind, OrderStatus, PurchaseType
from registrar.money import to_decimal
from registrar.values.names import to_unicode
from tests.factories import AccountFactory, OrderFactory, ProviderAccountFactory, TldFactory

CSV = "/finance/orders.csv"
HEADER_LINE = (
    "id,placed_at,status,kind,domain,domain_unicode,tld,years,purchase_type,premium,"
    "provider,account_email,customer_reference,currency,subtotal,fees,total,refunded,"
    "gross,net,quoted_total,upstream_id\r\n"
)


@pytest.fixture
def finance_client(client, finance_user):
    client.force_login(finance_user)
    return client


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def body(response) -> str:
    assert response.streaming
    return b"".join(response.streaming_content).decode("utf-8")


def parsed(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def two_orders(db):
    provider = ProviderAccountFactory(label="domain-api-main")
    eur = OrderFactory(
        placed_at=utc(2024, 5, 6, 7, 8, 9), status=OrderStatus.REFUNDED,
        kind=OrderKind.REGISTRATION, domain="xn--bcher-kva.de", tld=TldFactory(name="de"),
        years=2, purchase_type=PurchaseType.REGISTRATION, premium=False,
        provider_account=provider, account=AccountFactory(email="ada@example.com"),
        customer_reference="CUST-1", currency="EUR", subtotal_minor=2500, fees_minor=5,
        total_minor=2505, refunded_minor=1000, quoted_total_minor=2505, upstream_id="up-1")
    jpy = OrderFactory(
        placed_at=utc(2024, 5, 7), status=OrderStatus.QUOTED, kind=OrderKind.RENEWAL,
        domain="mirrored.jp", tld=None, years=1, purchase_type=PurchaseType.AFTERMARKET_B,
        premium=True, provider_account=None, account=None,
        customer_reference="=HYPERLINK(\"http://evil.example\")", currency="JPY",
        subtotal_minor=1500, fees_minor=0, total_minor=1500, refunded_minor=0,
        quoted_total_minor=None, upstream_id="@SUM(A1)")
    return eur, jpy


def test_exact_content(finance_client, two_orders):
    eur, jpy = two_orders
    response = finance_client.get(CSV, {"sort": "id"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="orders-')
    assert response["Content-Disposition"].endswith('.csv"')
    assert body(response) == (
        HEADER_LINE
        + f"{eur.pk},2024-05-06T07:08:09Z,refunded,registration,xn--bcher-kva.de,bücher.de,de,"
          "2,registration,false,domain-api-main,ada@example.com,CUST-1,EUR,25.00,0.05,"
          "25.05,10.00,25.05,15.05,25.05,up-1\r\n"
        # Not charged: gross and net are 0. Formula-like cells are defused.
        + f"{jpy.pk},2024-05-07T00:00:00Z,quoted,renewal,mirrored.jp,mirrored.jp,jp,1,"
          "aftermarket_b,true,,,\"'=HYPERLINK(\"\"http://evil.example\"\")\",JPY,1500,0,"
          "1500,0,0,0,,'@SUM(A1)\r\n"
    )


def test_filename_is_timestamped(finance_client, two_orders):
    disposition = finance_client.get(CSV)["Content-Disposition"]
    stamp = disposition.removeprefix('attachment; filename="orders-').removesuffix('.csv"')
    assert datetime.strptime(stamp, "%Y%m%d-%H%M%S")


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@A1", "\tx", "\rx"])
def test_formula_cells_get_an_apostrophe(text):
    assert csv_safe(text) == "'" + text


@pytest.mark.parametrize("text", ["", None, "example.com", "a=b", "ACC-1"])
def test_ordinary_cells_are_kept(text):
    assert csv_safe(text) == (text or "")


@given(amount=st.integers(min_value=-(10**20), max_value=10**20),
       currency=st.sampled_from(["EUR", "USD", "JPY", "KWD", "BHD", "XYZ"]))
def test_amount_strings_equal_the_exact_decimal(amount, currency):
    assert amount_formatter(currency)(amount) == str(to_decimal(amount, currency))


@pytest.mark.parametrize("domain", [
    "example.com", "xn--bcher-kva.de", "xn--bcher-kva.xn--p1ai", "xn--p1ai",
    "xn--zz.com", "xn--bcher-kva.xn--zz", "a.xn--", "",
])
def test_unicode_domain_is_what_staff_read(domain):
    assert domain_unicode(domain) == to_unicode(domain)


@pytest.mark.django_db
def test_no_orders_is_just_the_header():
    assert "".join(OrderCsv(Order.objects.none())) == HEADER_LINE


def test_exports_exactly_the_filtered_set(finance_client):
    wanted = [OrderFactory(currency="EUR", status=OrderStatus.REGISTERED) for _ in range(3)]
    OrderFactory(currency="EUR", status=OrderStatus.FAILED)
    OrderFactory(currency="USD", status=OrderStatus.REGISTERED)
    rows = parsed(body(finance_client.get(CSV, {"currency": "EUR", "status": "registered"})))
    assert sorted(int(row["id"]) for row in rows) == sorted(o.pk for o in wanted)

    everything = parsed(body(finance_client.get(CSV)))
    assert len(everything) == Order.objects.count() == 5


def test_export_follows_the_sort(finance_client):
    orders = [OrderFactory(total_minor=total) for total in (300, 100, 200)]
    rows = parsed(body(finance_client.get(CSV, {"sort": "-total"})))
    assert [int(row["id"]) for row in rows] == [orders[0].pk, orders[2].pk, orders[1].pk]


def test_empty_set_is_just_the_header(finance_client, two_orders):
    assert body(finance_client.get(CSV, {"currency": "EUR", "status": "failed"})) == HEADER_LINE


@pytest.mark.parametrize("params", [
    {"amount_min": "abc"}, {"placed_after": "notadate"}, {"status": "bogus"},
    {"sort": "nope"},
])
def test_invalid_parameters_are_refused(finance_client, two_orders, params):
    response = finance_client.get(CSV, params)
    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    text = response.content.decode()
    assert "nothing was exported" in text
    assert not StaffAction.objects.filter(action="orders.export").exists()


def test_export_is_audited_with_its_filter(finance_client, finance_user, two_orders):
    response = finance_client.get(CSV, {"status": ["registered", "refunded"],
                                        "currency": "EUR", "page": "2"})
    body(response)
    (action,) = StaffAction.objects.filter(action="orders.export")
    assert action.actor == finance_user
    assert action.outcome == StaffAction.Outcome.SUCCEEDED
    assert action.parameters == {"status": ["registered", "refunded"], "currency": "EUR"}


def test_query_count_does_not_grow_with_the_rows(finance_client):
    def count_queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            rows = parsed(body(finance_client.get(CSV, {"sort": "total"})))
        return len(captured), len(rows)

    OrderFactory()
    few, one = count_queries()
    for n in range(40):
        OrderFactory(tld=TldFactory(name=f"t{n}"), account=AccountFactory(),
                     provider_account=ProviderAccountFactory(label=f"p{n}"))
    many, forty_one = count_queries()
    assert (one, forty_one) == (1, 41)
    assert many == few


@pytest.mark.django_db
def test_rows_stream_in_batches():
    Order.objects.bulk_create(
        Order(kind=OrderKind.RENEWAL, status=OrderStatus.REGISTERED, currency="USD",
              total_minor=n, domain=f"b{n}.com") for n in range(25))
    export = OrderCsv(Order.objects.order_by("id"), chunk_size=10)
    parts = iter(export)
    assert next(parts).startswith("id,placed_at,")
    assert next(parts).count("\r\n") == 10
    assert export.rows == 10
    assert [part.count("\r\n") for part in parts] == [10, 5]
    assert export.rows == 25


# --- manage.py export_orders --------------------------------------------------------


@pytest.fixture
def spread(db):
    """Orders at April's edges: the two outside it are quotes."""
    return {
        "before": OrderFactory(placed_at=utc(2024, 3, 31, 23, 59, 59),
                               status=OrderStatus.QUOTED),
        "first": OrderFactory(placed_at=utc(2024, 4, 1), status=OrderStatus.FAILED),
        "middle": OrderFactory(placed_at=utc(2024, 4, 15, 12), status=OrderStatus.REGISTERED),
        "last": OrderFactory(placed_at=utc(2024, 4, 30, 23, 59, 59),
                             status=OrderStatus.REFUNDED, refunded_minor=1399),
        "after": OrderFactory(placed_at=utc(2024, 5, 1), status=OrderStatus.QUOTED),
    }


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("export_orders", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_command_writes_the_file(spread, tmp_path: Path):
    target = tmp_path / "april.csv"
    out, err = run("--since", "2024-04-01", "--until", "2024-04-30", "--output", str(target))
    assert out == ""
    assert err.strip() == f"Exported 3 orders to {target}"
    text = target.read_bytes().decode("utf-8")
    assert text.startswith(HEADER_LINE)
    rows = parsed(text)
    assert [int(row["id"]) for row in rows] == [
        spread["first"].pk, spread["middle"].pk, spread["last"].pk]  # oldest first
    assert rows[2]["net"] == "0.00" and rows[2]["refunded"] == "13.99"
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left


def test_command_status_filter_repeatable_or_comma_separated(spread):
    out, _ = run("--since", "2024-01-01", "--until", "2024-12-31", "--status", "failed",
                 "--status", "REFUNDED,registered")
    assert {int(row["id"]) for row in parsed(out)} == {
        spread["first"].pk, spread["middle"].pk, spread["last"].pk}
    out, _ = run("--since", "2024-04-01", "--until", "2024-04-30", "--status", "failed")
    assert [int(row["id"]) for row in parsed(out)] == [spread["first"].pk]


def test_command_writes_to_stdout(spread):
    out, err = run("--since", "2024-04-15", "--until", "2024-04-15")
    assert err == ""
    assert out.startswith(HEADER_LINE)
    assert [int(row["id"]) for row in parsed(out)] == [spread["middle"].pk]


@pytest.mark.parametrize(("args", "message"), [
    (("--since", "2024-13-01", "--until", "2024-12-31"), "--since must be a date"),
    (("--since", "2024-01-01", "--until", "yesterday"), "--until must be a date"),
    (("--since", "20240101", "--until", "2024-12-31"), "YYYY-MM-DD"),
    (("--since", "2024-05-01", "--until", "2024-04-30"), "is after --until"),
    (("--since", "2024-01-01", "--until", "2024-12-31", "--status", "paid"),
     "Unknown status: paid"),
])
def test_command_refuses_bad_input(spread, tmp_path: Path, args, message):
    target = tmp_path / "out.csv"
    with pytest.raises(CommandError, match=message):
        run(*args, "--output", str(target))
    assert not target.exists()


def test_command_failure_leaves_no_file(spread, tmp_path: Path, monkeypatch):
    target = tmp_path / "out.csv"
    target.write_text("previous export\n")

    def broken(self, *values):
        raise RuntimeError("database went away")

    monkeypatch.setattr("billing.finance.export._RowFormatter.__call__", broken)
    monkeypatch.setattr("billing.finance.export.OrderCsv._copied", broken)  # PostgreSQL
    with pytest.raises(RuntimeError):
        run("--since", "2024-04-01", "--until", "2024-04-30", "--output", str(target))
    assert target.read_text() == "previous export\n"  # untouched
    assert list(tmp_path.iterdir()) == [target]


def test_command_refuses_a_missing_directory(spread, tmp_path: Path):
    with pytest.raises(CommandError, match="No such directory"):
        run("--since", "2024-04-01", "--until", "2024-04-30",
            "--output", str(tmp_path / "missing" / "out.csv"))


def test_header_constant_matches_the_file():
    assert ",".join(HEADER) + "\r\n" == HEADER_LINE
