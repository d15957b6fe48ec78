"""Finance staff review orders in a real browser: filters, totals, chart, CSV."""

import csv
import io

import pytest

from billing.finance.totals import totals_by_currency
from billing.models import Order, OrderStatus

pytestmark = pytest.mark.browser


def test_finance_filters_orders_sees_totals_and_chart_and_downloads_the_csv(demo, login):
    expected = Order.objects.filter(currency="EUR", status=OrderStatus.REGISTERED)
    assert expected.count() > 3, "the demo has EUR orders to filter"
    [eur] = totals_by_currency(expected)

    page = login("finance", "finance-demo-2026")
    page.goto("/finance/")
    page.wait_for_selector("#order-filter")
    page.select_option("#order-filter select[name=currency]", "EUR")
    page.select_option("#order-filter select[name=status]", ["registered"])
    page.click("#order-filter input[type=submit]")
    page.wait_for_url("**/finance/?*currency=EUR*")

    # Totals: one row, EUR, the figures the database sums to.
    rows = page.locator("#totals tbody tr")
    assert rows.count() == 1
    cells = rows.first.locator("th, td").all_inner_texts()
    assert cells == ["EUR", str(eur.count), eur.gross, eur.fees, eur.refunds, eur.net]

    # The chart is a picture that loaded, drawn from the same filtered set.
    chart = page.locator("#revenue-chart")
    chart.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => { const i = document.getElementById('revenue-chart');"
        " return i.complete && i.naturalWidth > 0; }")
    svg = page.request.get(chart.get_attribute("src")).text()
    assert 'data-currency="EUR"' in svg and 'data-currency="USD"' not in svg

    # The CSV holds exactly the filtered orders.
    with page.expect_download() as download_info:
        page.click("#download-csv")
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    content = open(download.path(), encoding="utf-8").read()  # noqa: SIM115
    table = list(csv.DictReader(io.StringIO(content)))
    assert sorted(int(row["id"]) for row in table) == sorted(expected.values_list("pk", flat=True))
    assert {row["currency"] for row in table} == {"EUR"}
    first = expected.order_by("pk").first()
    row = next(r for r in table if int(r["id"]) == first.pk)
    assert row["total"] == f"{first.total_minor / 100:.2f}"
    assert row["domain"] == first.domain


def test_support_gets_403_on_the_finance_area(demo, login):
    page = login("support", "support-demo-2026")
    response = page.goto("/finance/")
    assert response.status == 403
    assert page.goto("/finance/orders.csv").status == 403
