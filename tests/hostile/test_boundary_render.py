"""A page that renders stored data never fails on a value that passed intake.

Rows holding each boundary value intake accepts (tests/hostile/boundary.py: text at
every column's max_length with multi-byte, right-to-left and markup characters, the
longest names, undecodable punycode mirrored from an upstream, money at 0, 1 and the
column's maximum in every exponent class, dates at both ends of the window, large JSON,
13 nameservers and 20 glue hosts) are rendered on every page that shows them, as the
superuser and as each role: every admin changelist (sorted by each column), change and
history page, the registration operation and host pages, the contact and account pages,
the approvals, the audit trail, the dashboard and the whole finance area (list, totals,
detail and timeline, needs-attention, the revenue chart over every range and currency,
the CSV export).

Each answer is what the URL matrix (tests/backoffice/test_url_matrix.py) says that role
meets, never a 500; markup comes out escaped and CSV cells that a spreadsheet would run
are defused.
"""

from __future__ import annotations

import csv
import io
import re
import traceback
from collections import defaultdict
from datetime import timedelta
from html import unescape

import pytest
from django.contrib import admin
from django.test import Client, RequestFactory
from django.urls import resolve, reverse
from django.utils import timezone

from backoffice.roles import ADMIN, FINANCE, SUPPORT
from billing.finance.totals import totals_by_currency
from billing.models import CHARGED_STATUSES, Order
from registrar.models import Host, Registration
from registrar.services import OPERATIONS
from registrar.values import dates
from registrar.values.amounts import MAX_AMOUNT_MINOR, MAX_MINOR
from tests.backoffice.test_url_matrix import EXPECTED, admin_model, key_of, outcome, routes
from tests.factories import LedgerEntryFactory
from tests.hostile.boundary import (
    CURRENCIES,
    FORMULA,
    SCRIPT,
    World,
    build_world,
)
from tests.hostile.tally import record

VISITORS = ("superuser", SUPPORT, FINANCE, ADMIN)
RAW_SCRIPT = "<script>alert(1)"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)"
#: The metacharacter pieces of boundary_text() as HTML shows them: escaped once.
ESCAPED_PIECES = ("&lt;/script&gt;", "&quot;&#x27;&amp;", "=cmd|&#x27; /C calc&#x27;!A0",
                  "{{ x }}", "{% if %}")
#: Filter links followed per changelist (every choice, on these rows, is fewer).
MAX_FILTER_LINKS = 40
_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>[^)]*\)")


@pytest.fixture
def world(sandbox, role_users) -> World:
    built = build_world()
    built.users = {"superuser": built.superuser, SUPPORT: role_users[SUPPORT],
                   FINANCE: role_users[FINANCE], ADMIN: role_users[ADMIN]}
    return built


def visitor_client(world: World, visitor: str) -> Client:
    client = Client()
    client.force_login(world.users[visitor])
    return client


class Visit:
    """GETs, with what went wrong collected rather than raised, so one run lists every
    page that fails."""

    def __init__(self, client: Client, visitor: str) -> None:
        self.client = client
        self.visitor = visitor
        self.problems: list[str] = []
        self.server_errors = 0
        self.pages = 0

    def get(self, url: str, expected: str | None = None, **params):
        self.pages += 1
        try:
            response = self.client.get(url, params or None)
        except Exception:  # a 500: the traceback names the line to fix
            self.server_errors += 1
            self.problems.append(f"{url} {params or ''}: 500\n"
                                 + "".join(traceback.format_exc().splitlines(True)[-6:]))
            return None
        seen = outcome(response)
        if response.status_code >= 500:
            self.server_errors += 1
        if expected is not None and seen != expected:
            self.problems.append(f"{url} {params or ''}: expected {expected}, got {seen}")
        if response.status_code == 200 and "html" in response.get("Content-Type", ""):
            self.check_escaped(url, response.content.decode(),
                               echoed=any(SCRIPT in str(v) for v in params.values()))
        return response

    def check_escaped(self, url: str, html: str, *, echoed: bool = False) -> None:
        """`echoed`: the page repeats a search term (the markup alone), not stored text."""
        if RAW_SCRIPT in html:
            at = html.index(RAW_SCRIPT)
            self.problems.append(f"{url}: unescaped markup: {html[max(0, at - 120):at + 40]!r}")
        # Where the boundary text is shown, its quotes and ampersand are escaped once and
        # its template syntax comes out as typed (rendered a second time, "{{ x }}" would
        # vanish).
        if ESCAPED_SCRIPT in html and not echoed:
            missing = [piece for piece in ESCAPED_PIECES if piece not in html]
            if missing:
                self.problems.append(f"{url}: boundary text not shown as stored: "
                                     f"{missing} missing")


# --- the admin -----------------------------------------------------------------------------

#: Where the row itself decides the answer, beside the matrix's (a 200 page for a role
#: allowed to operate): an operation the registration cannot take now (nothing
#: pending to decide, an unsettled change, no contact to verify, a TLD without the
#: feature) sends the person back to the registration with the reason; the quote of a
#: domain order that is still a quote is shown rather than redirected to the order.
_OPERATION = "admin/registrar/registration/<object_id>/operation/<operation>/"
ALSO_ALLOWED: dict[tuple[str, str], set[str]] = {
    (_OPERATION, "200"): {"200", "-> admin:registrar_registration_change"},
    ("admin/billing/account/<object_id>/domain-order/<order_id>/",
     "-> admin:billing_order_change"): {"200", "-> admin:billing_order_change"},
}


def app_visible(user, app_label: str) -> bool:
    """Whether the admin lists `app_label` for `user` (a model of it they may see)."""
    request = RequestFactory().get("/admin/")
    request.user = user
    return any(model_admin.has_module_permission(request)
               and any(model_admin.get_model_perms(request).values())
               for model, model_admin in admin.site._registry.items()
               if model._meta.app_label == app_label)


def admin_urls(world: World) -> list[tuple[str, str, int]]:
    """(table key, URL, boundary values shown) for every admin page of a boundary row:
    each pattern filled with each row of its model, each operation, each glue host."""
    found = []
    glued = next(r for r in world.objects[Registration] if r.hosts.exists())
    hosts = list(Host.objects.filter(registration=glued).order_by("pk"))
    for route in routes():
        key = key_of(route)
        if not key.startswith("admin/"):
            continue
        names = [a or b for a, b in _PARAMETER.findall(route)]
        model = admin_model(route)
        if model is None:
            if key == "admin/":
                found.append((key, "/admin/", len(world.objects)))
            elif key == "admin/<app_label>/":
                found += [(key, f"/admin/{app}/", 1)
                          for app in ("registrar", "contacts", "billing", "backoffice")]
            continue
        if model not in world.objects:
            continue
        if not names:
            found.append((key, "/" + route.replace("^", "").replace("$", ""),
                          world.values[model]))
            continue
        rows = world.objects[model]
        per_row = max(1, world.values[model] // len(rows))
        for row in rows:
            fillings: list[dict[str, object]] = [{"object_id": row.pk}]
            if "operation" in names:
                # The auth code has a page of its own (auth-code/).
                fillings = [{"object_id": row.pk, "operation": op} for op in OPERATIONS
                            if op != "auth_code"]
            if "host_name" in names:
                if row != glued:
                    continue
                fillings = [{"object_id": row.pk, "host_name": host.host_name}
                            for host in (hosts[0], hosts[-1])]
            if "approval_id" in names:
                fillings = [{"approval_id": row.pk}]
            if "order_id" in names:
                fillings = [{"object_id": row.pk, "order_id": order.pk}
                            for order in row.orders.filter(status="quoted")[:1]]
            if "action" in names:
                fillings = [{"object_id": row.pk, "action": action}
                            for action in ("resend", "cancel")]
            for values in fillings:
                url = "/" + _PARAMETER.sub(
                    lambda m, values=values: str(values[m.group(1) or m.group(2)]),
                    route).replace("^", "").replace("$", "")
                assert key_of(resolve(url).route) == key, (url, key)
                found.append((key, url, per_row))
    return found


@pytest.mark.parametrize("visitor", VISITORS)
def test_every_admin_page_renders_the_boundary_rows(world, visitor):
    visit = Visit(visitor_client(world, visitor), visitor)
    shown: dict[str, int] = defaultdict(int)
    unescaped_checked = 0
    for key, url, values in admin_urls(world):
        expected = EXPECTED[key][visitor]
        if key == "admin/<app_label>/":  # an app none of whose models one may see: 404
            app = url.strip("/").split("/")[-1]
            expected = "200" if app_visible(world.users[visitor], app) else "404"
        allowed = ALSO_ALLOWED.get((key, expected))
        response = visit.get(url, None if allowed else expected)
        if allowed and response is not None and outcome(response) not in allowed:
            visit.problems.append(f"{url}: expected one of {allowed}, got {outcome(response)}")
        if response is not None and response.status_code == 200:
            shown[key] += values
            html = response.content.decode()
            if key.endswith("/change/") and ESCAPED_SCRIPT in html:
                unescaped_checked += 1
    # Changelists sorted by each of their columns, and searched for the boundary text.
    for model, model_admin in admin.site._registry.items():
        if model not in world.objects:
            continue
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        expected = EXPECTED[key_of(url.lstrip("/"))][visitor] \
            if url.lstrip("/") in EXPECTED else None
        for column in range(1, len(model_admin.list_display) + 1):
            visit.get(url, expected, o=str(column))
            visit.get(url, expected, o=f"-{column}")
        # Every filter choice and date-hierarchy link the page offers for these rows.
        page = visit.get(url, expected)
        if page is not None and page.status_code == 200:
            html = page.content.decode()
            offered = dict.fromkeys(unescape(link) for link in re.findall(
                r'href="(\?[^"]*)"', html[html.find('id="changelist-filter"'):]
                if 'id="changelist-filter"' in html else ""))
            hierarchy = re.findall(r'<a href="(\?[^"]*)"', html[
                html.find('class="xfull"'):html.find('</nav>', html.find('class="xfull"'))]
                if 'class="xfull"' in html else "")
            offered.update(dict.fromkeys(unescape(link) for link in hierarchy))
            for link in list(offered)[:MAX_FILTER_LINKS]:
                visit.get(url + link, None if "=" not in link else expected)
        if model_admin.search_fields:
            visit.get(url, expected, q=SCRIPT)
            visit.get(url, expected, q=FORMULA[:20])
        if model_admin.date_hierarchy:
            for year in (2000, 2028, timezone.now().year + 11):
                visit.get(url, expected, **{f"{model_admin.date_hierarchy}__year": str(year)})
    if visitor in ("superuser", ADMIN, SUPPORT):
        assert unescaped_checked, "no change page showed the escaped markup"
    for key, values in shown.items():
        record(f"boundary:{visitor}:{key}", values=values,
               server_errors=0)
    record(f"boundary:{visitor}:admin", server_errors=visit.server_errors)
    assert visit.server_errors == 0, "\n".join(visit.problems)
    assert not visit.problems, "\n".join(visit.problems)


# --- the finance area -------------------------------------------------------------------


def _finance_expected(visitor: str) -> str:
    return "403" if visitor == SUPPORT else "200"


def chart_ranges() -> list[dict[str, str]]:
    today = timezone.now().date()
    latest_day = dates.latest(expiry=True).date()
    ranges = [{}, {"placed_after": "2000-01-01"}, {"placed_before": f"{latest_day}"},
              {"placed_after": "2000-01-01", "placed_before": f"{latest_day}"},
              {"placed_after": f"{today}", "placed_before": f"{today + timedelta(days=1)}"},
              {"placed_after": "2028-02-29", "placed_before": "2028-02-29"},
              {"placed_after": "2027-12-31", "placed_before": "2028-01-01"},
              {"placed_after": "2000-01-01", "placed_before": "2000-01-31"}]
    ranges += [{"currency": code} for code in CURRENCIES]
    ranges += [{"amount_min": "92233720368547758.07"}, {"amount_max": "0"},
               {"amount_min": "0", "amount_max": "9999999999999.999"}]
    return ranges


def expected_nets() -> dict[tuple[str, str], int]:
    """{(currency, YYYY-MM): net minor units}, as Order.net_minor sums them, in Python."""
    nets: dict[tuple[str, str], int] = defaultdict(int)
    for order in Order.objects.all():
        if order.status in CHARGED_STATUSES or order.refunded_minor:
            nets[(order.currency, f"{order.placed_at:%Y-%m}")] += order.net_minor
    return nets


@pytest.mark.parametrize("visitor", VISITORS)
def test_every_finance_page_renders_the_boundary_rows(world, visitor):
    visit = Visit(visitor_client(world, visitor), visitor)
    expected = _finance_expected(visitor)
    orders = list(Order.objects.order_by("pk"))
    order_values = world.values[Order]

    # The list with its totals: plain, each sort, each currency, each page.
    visit.get(reverse("finance:orders"), expected)
    for sort in ("placed", "id", "domain", "status", "kind", "currency", "total", "refunded"):
        visit.get(reverse("finance:orders"), expected, sort=sort)
        visit.get(reverse("finance:orders"), expected, sort=f"-{sort}")
    for params in chart_ranges():
        visit.get(reverse("finance:orders"), expected, **params)
    visit.get(reverse("finance:orders"), expected, page="2")
    record(f"boundary:{visitor}:finance:orders", values=order_values)

    # Each order's detail and timeline.
    for order in orders:
        visit.get(reverse("finance:order", args=[order.pk]), expected)
    record(f"boundary:{visitor}:finance:order", values=order_values)

    visit.get(reverse("finance:attention"), expected)
    record(f"boundary:{visitor}:finance:attention", values=order_values)

    # The revenue chart over every range and currency it offers.
    nets = expected_nets()
    for params in chart_ranges():
        response = visit.get(reverse("finance:revenue_chart"), expected, **params)
        if response is None or response.status_code != 200:
            continue
        svg = response.content.decode()
        assert RAW_SCRIPT not in svg
        if not params:
            drawn = {(c, m): int(v) for c, m, v in re.findall(
                r'<rect class="bar" data-currency="([^"]+)" data-month="([^"]+)" '
                r'data-net="[^"]*" data-net-minor="(-?\d+)"', svg)}
            for bucket, net in nets.items():
                assert drawn.get(bucket) == net, (bucket, drawn.get(bucket), net)
    record(f"boundary:{visitor}:finance:revenue_chart", values=order_values)

    # The CSV export: every cell a spreadsheet would run is defused.
    for params in ({}, {"currency": "QQQ"}, {"sort": "-total"}):
        response = visit.get(reverse("finance:orders_csv"), expected, **params)
        if response is None or response.status_code != 200:
            continue
        text = b"".join(response.streaming_content).decode()
        rows = list(csv.reader(io.StringIO(text)))
        assert len(rows) == (1 + Order.objects.filter(**params).count() if "currency" in params
                             else 1 + len(orders))
        for row in rows[1:]:
            for cell in row:
                assert cell[:1] not in ("=", "+", "@") and not (
                    cell.startswith("-") and not re.fullmatch(r"-\d+(\.\d+)?", cell)), (
                    f"CSV cell not defused: {cell[:40]!r}")
    record(f"boundary:{visitor}:finance:orders_csv", values=order_values)

    record(f"boundary:{visitor}:finance", server_errors=visit.server_errors)
    assert visit.server_errors == 0, "\n".join(visit.problems)
    assert not visit.problems, "\n".join(visit.problems)


def test_money_sums_over_maximum_amounts_are_exact(world, finance_user):
    """Two orders at MAX_MINOR in one currency sum beyond a bigint: the totals and the
    chart add them exactly, on SQLite and on PostgreSQL."""
    totals = {row.currency: row for row in totals_by_currency(Order.objects.all())}
    for currency in CURRENCIES:
        mine = Order.objects.filter(currency=currency)
        gross = sum(order.gross_minor for order in mine)
        refunds = sum(order.refunded_minor for order in mine)
        assert gross > MAX_MINOR
        assert totals[currency].gross_minor == gross
        assert totals[currency].refunds_minor == refunds
        assert totals[currency].net_minor == gross - refunds
    client = Client()
    client.force_login(finance_user)
    page = client.get(reverse("finance:orders"))
    assert page.status_code == 200
    html = page.content.decode()
    for row in totals.values():
        assert row.gross in html
    # The chart's month of two unrefunded orders at the maximum: 2 * MAX_MINOR, exactly.
    svg = client.get(reverse("finance:revenue_chart")).content.decode()
    drawn = [int(net) for net in re.findall(r'data-net-minor="(-?\d+)"', svg)]
    assert 2 * MAX_MINOR in drawn
    assert min(drawn) < 0  # a failed order's refund alone
    record("boundary:finance:totals", values=len(CURRENCIES) * 2, server_errors=0)


def test_ledger_sums_over_maximum_amounts_render(world, finance_user):
    """A failed order whose ledger holds two succeeded payments at the most any amount
    may be (registrar/values/amounts.py MAX_AMOUNT_MINOR): the needs-attention sums and the
    dashboard's figure stay exact on both databases."""
    failed = Order.objects.filter(status="failed").order_by("pk").first()
    for _ in range(2):
        LedgerEntryFactory(order=failed, amount_minor=MAX_AMOUNT_MINOR,
                           currency=failed.currency)
    client = Client()
    client.force_login(finance_user)
    for url in (reverse("finance:attention"), reverse("admin:index")):
        assert client.get(url).status_code == 200
    record("boundary:finance:ledger_sums", values=2, server_errors=0)
