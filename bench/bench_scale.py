"""Benchmark: the admin's pages at scale, beside a plain Django admin and the SQL floor.

    python3 dev.py bench bench_scale.py                 (DATABASE_URL: a PostgreSQL database)
    .venv/bin/python bench/bench_scale.py --database-url postgres://postgres@127.0.0.1:5432/bench_scale
        [--size 1000000] [--reload] [--reps 7] [--timeout 30] [--only PATTERN] [--quick]
        [--no-export] [--explain N]

After `migrate`, loads (once; --reload to force) a data set written by PostgreSQL's
generate_series (bench/scale_data.py): --size registrations over 200 TLDs, a tenth as
many contacts, a twentieth as many customer accounts, as many orders in nine currencies
(with their items and ledger entries) and as many audit rows. Then it times each of the
project's real admin and finance URLs, as they are when it runs, through Django's test
client as a logged-in superuser: --reps times after a warm-up, the median in ms and the
number of SQL queries. Beside each: the same list on a plain ModelAdmin with the
project's original declarations (bench/scale_plain.py), and the SQL floor, hand-written
index-backed SQL for the same answer timed by EXPLAIN ANALYZE (its "Execution Time";
"seq" marks a floor that still reads a large table whole, for want of an index).

Every statement runs under statement_timeout (--timeout seconds): a page that does not
finish is reported as timed out. It prints figures and never fails on time; --quick
loads 50,000 registrations (into the database given: use a separate one) and repeats
three times.
"""

# ruff: noqa: S608 - the floors' SQL is the benchmark's own text, never input

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import statistics
import sys
import tempfile
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
PER_PAGE = 100  # the admin's list_per_page
FINANCE_PER_PAGE = 50
DEEP_PAGE = 5000
#: A floor table read whole counts as "seq" from this many rows on.
BIG_TABLE_ROWS = 10_000


def setup_django(database_url: str | None, var_dir: str) -> None:
    for path in (str(ROOT), str(BENCH)):
        if path not in sys.path:
            sys.path.insert(0, path)
    os.environ["DJANGO_SETTINGS_MODULE"] = "scale_settings"
    # Measured as production runs it: with DEBUG on, Django formats and keeps every query.
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "bench-only-" + "k" * 50)
    os.environ["VAR_DIR"] = var_dir
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    import django

    django.setup()


# -- measuring ----------------------------------------------------------------------------

@dataclass
class Timing:
    median_ms: float | None = None
    queries: int | None = None
    status: int | None = None
    note: str = ""
    runs: int = 0

    def shown(self) -> str:
        if self.note == "timed out":
            return "timed out"
        if self.median_ms is None:
            return self.note or "—"
        return f"{self.median_ms:.0f}" if self.median_ms >= 10 else f"{self.median_ms:.1f}"


@dataclass
class Floor:
    """Hand-written SQL for the page's answer: each statement's EXPLAIN ANALYZE
    Execution Time, summed."""

    statements: list[tuple[str, list]]
    note: str = ""


@dataclass
class Case:
    label: str
    project: str | None
    plain: str | None = None
    floor: Floor | None = None
    expect: tuple[int, ...] = (200,)
    results: dict = field(default_factory=dict)


def set_timeout(seconds: float) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SET statement_timeout = {int(seconds * 1000)}")


def _timed_out(error: Exception) -> bool:
    text = str(error).lower()
    return "statement timeout" in text or "canceling statement" in text


def _get(client, url: str):
    """One request, read to its end. Inside a transaction (the smoke test) each request
    gets a savepoint, so that a statement cancelled by the timeout leaves the
    transaction usable; the benchmark itself runs in autocommit, as a server does."""
    from django.db import connection, transaction

    if connection.in_atomic_block:
        with transaction.atomic():
            response = client.get(url)
            _ = response.content
    else:
        response = client.get(url)
        _ = response.content
    return response


def time_url(client, url: str, reps: int, timeout: float, expect: tuple[int, ...]) -> Timing:
    """The median of `reps` requests after a warm-up that counts the queries. A page
    slower than a few seconds is repeated fewer times, so that the run ends."""
    from django.db import OperationalError, connection
    from django.test.utils import CaptureQueriesContext

    set_timeout(timeout)
    try:
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = _get(client, url)
            warm = time.perf_counter() - started
    except OperationalError as error:
        if _timed_out(error):
            return Timing(note="timed out", queries=None)
        raise
    timing = Timing(queries=len(captured), status=response.status_code)
    if response.status_code not in expect:
        timing.note = f"HTTP {response.status_code}"
    runs = reps if warm < 2 else max(1, min(reps, int(15 / warm)))
    if reps <= 0:  # the warm-up alone (the smoke test): its time, its queries
        timing.median_ms, timing.runs = warm * 1000, 1
        return timing
    samples = []
    for _ in range(runs):
        try:
            started = time.perf_counter()
            _get(client, url)
            samples.append((time.perf_counter() - started) * 1000)
        except OperationalError as error:
            if _timed_out(error):
                return Timing(note="timed out", queries=timing.queries)
            raise
    timing.median_ms = statistics.median(samples)
    timing.runs = runs
    return timing


def _plan_nodes(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from _plan_nodes(child)


def explain(sql: str, params: list) -> tuple[float, list[str], dict]:
    """Execution Time of one statement, the big tables it reads whole, and the plan."""
    from django.db import connection, transaction

    with transaction.atomic() if connection.in_atomic_block else nullcontext(), \
            connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    top = plan[0]
    scans = [f"{node['Relation Name']}" for node in _plan_nodes(top["Plan"])
             if node["Node Type"] == "Seq Scan"
             and node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
             >= BIG_TABLE_ROWS]
    return top["Execution Time"], scans, top


def time_floor(floor: Floor, reps: int, timeout: float) -> Timing:
    from django.db import OperationalError

    set_timeout(timeout)
    totals, scans = [], set()
    try:
        for _ in range(max(1, reps)):
            total = 0.0
            for sql, params in floor.statements:
                ms, seq, _plan = explain(sql, params)
                total += ms
                scans.update(seq)
            totals.append(total)
    except OperationalError as error:
        if _timed_out(error):
            return Timing(note="timed out")
        raise
    note = ("seq " + ",".join(sorted(name.split("_", 1)[1] for name in scans))) if scans else ""
    return Timing(median_ms=statistics.median(totals), note=note, runs=len(totals))


# -- the requests ---------------------------------------------------------------------------

def _keyset(sql: str, offset: int) -> tuple | None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"{sql} OFFSET %s LIMIT 1", [max(0, offset)])
        return cursor.fetchone()


def _deep(rows: int, per_page: int) -> int:
    """Page 5000, or the last page of a smaller set."""
    return max(1, min(DEEP_PAGE, (rows + per_page - 1) // per_page))


def cases(targets, counts: dict[str, int]) -> list[Case]:
    from urllib.parse import urlencode

    from django.urls import reverse

    def url(name: str, *args, **query) -> str:
        base = reverse(name, args=args)
        return f"{base}?{urlencode(query)}" if query else base

    def both(model: str, **query) -> tuple[str, str]:
        return (url(f"admin:{model}_changelist", **query),
                url(f"plain-admin:{model}_changelist", **query))

    registrations, audit, orders = (counts["registrations"], counts["audit"],
                                    counts["orders"])
    reg_page = _deep(registrations, PER_PAGE)
    audit_page = _deep(audit, PER_PAGE)
    finance_page = _deep(orders, FINANCE_PER_PAGE)
    reg_key = _keyset("SELECT name FROM registrar_registration ORDER BY name",
                      (reg_page - 1) * PER_PAGE - 1)
    audit_key = _keyset("SELECT created_at, id FROM backoffice_staffaction "
                        "ORDER BY created_at DESC, id DESC", (audit_page - 1) * PER_PAGE - 1)
    order_key = _keyset("SELECT placed_at, id FROM billing_order ORDER BY placed_at DESC, "
                        "id DESC", (finance_page - 1) * FINANCE_PER_PAGE - 1)

    reg_row = ("SELECT r.*, t.name AS tld_name, a.name AS account_name, a.email "
               "FROM registrar_registration r JOIN registrar_tld t ON t.id = r.tld_id "
               "LEFT JOIN billing_account a ON a.id = r.account_id ")
    shop, rare, munich = targets.common_word, targets.rare_name, targets.unicode_word
    email = targets.account_email

    def reg_search(term: str) -> Floor:
        # Each column by the shape its values have: names and e-mail addresses by
        # substring (trigram indexes, where they exist), the opaque upstream id whole.
        like = f"%{term}%"
        return Floor([(f"{reg_row} WHERE r.id IN ("
                       "SELECT id FROM registrar_registration WHERE name LIKE %s UNION "
                       "SELECT id FROM registrar_registration WHERE name_unicode LIKE %s UNION "
                       "SELECT id FROM registrar_registration WHERE upstream_id = %s UNION "
                       "SELECT r2.id FROM registrar_registration r2 JOIN billing_account a2 "
                       "ON a2.id = r2.account_id WHERE UPPER(a2.email::text) LIKE UPPER(%s)) "
                       f"ORDER BY r.name LIMIT {PER_PAGE}", [like, like, term, like])],
                     note="upstream id whole")

    contact_row = "SELECT c.* FROM contacts_contact c "
    audit_row = "SELECT s.* FROM backoffice_staffaction s "
    order_row = ("SELECT o.*, a.name, a.email, p.label FROM billing_order o "
                 "LEFT JOIN billing_account a ON a.id = o.account_id "
                 "LEFT JOIN registrar_provideraccount p ON p.id = o.provider_account_id ")
    rid, aid, busy = targets.registration_id, targets.account_id, targets.busy_contact_id
    timeline = (f"{audit_row} WHERE s.target_type = %s AND s.target_id = %s "
                "ORDER BY s.created_at DESC LIMIT 20")
    attention_floor = Floor([
        # The six sections' first rows, each by its own index, and their counts.
        ("SELECT o.* FROM billing_order o WHERE o.status IN ('payment_successful', "
         "'registration_in_progress', 'transfer_started', 'transfer_ack') AND o.placed_at < "
         "now() - interval '1 hour' ORDER BY o.placed_at, o.id LIMIT 100", []),
        ("SELECT o.id FROM billing_order o WHERE o.status IN ('failed', 'transfer_failed') "
         "AND EXISTS (SELECT 1 FROM billing_ledgerentry l WHERE l.order_id = o.id "
         "AND l.kind = 'payment' AND l.state = 'succeeded') AND NOT EXISTS (SELECT 1 FROM "
         "billing_ledgerentry l WHERE l.order_id = o.id AND l.kind = 'refund' "
         "AND l.state = 'succeeded') ORDER BY o.placed_at, o.id LIMIT 100", []),
        ("SELECT l.order_id FROM billing_ledgerentry l WHERE l.kind = 'refund' AND "
         "l.state = 'pending' AND NOT EXISTS (SELECT 1 FROM billing_ledgerentry s2 WHERE "
         "s2.settles_id = l.id) LIMIT 100", []),
        ("SELECT o.* FROM billing_order o WHERE o.quoted_total_minor IS NOT NULL AND "
         "o.quoted_total_minor <> o.total_minor ORDER BY o.placed_at, o.id LIMIT 100", []),
        ("SELECT o.* FROM billing_order o WHERE o.status = 'refunded' AND "
         "o.refunded_minor = 0 ORDER BY o.placed_at, o.id LIMIT 100", []),
        ("SELECT o.* FROM billing_order o WHERE o.unsettled_since IS NOT NULL "
         "ORDER BY o.placed_at, o.id LIMIT 100", []),
    ], note="first rows per section")
    dashboard_floor = Floor([
        ("SELECT count(*) FROM registrar_registration WHERE transfer_out_pending", []),
        ("SELECT count(*) FROM contacts_contact WHERE verification_state = 'pending'", []),
        ("SELECT count(*) FROM registrar_registration WHERE expires_at BETWEEN now() AND "
         "now() + interval '90 days' AND status NOT IN ('transferred_out', 'cancelled')", []),
        ("SELECT count(*) FROM registrar_registration WHERE expires_at BETWEEN now() AND "
         "now() + interval '30 days' AND status NOT IN ('transferred_out', 'cancelled')", []),
        ("SELECT count(*) FROM registrar_registration WHERE expires_at BETWEEN now() AND "
         "now() + interval '7 days' AND status NOT IN ('transferred_out', 'cancelled')", []),
        ("SELECT count(*) FROM registrar_registration WHERE unsettled_since IS NOT NULL", []),
        ("SELECT count(*) FROM registrar_process WHERE stuck AND NOT is_terminal", []),
        ("SELECT count(*) FROM registrar_registration WHERE pending_async", []),
        ("SELECT count(*) FROM registrar_registration WHERE missing_upstream_at IS NOT NULL",
         []),
        *attention_floor.statements,
    ], note="counts by partial index")

    reg_first, reg_first_plain = both("registrar_registration")
    found = [
        Case("registrations: first page", reg_first, reg_first_plain,
             Floor([(f"{reg_row} ORDER BY r.name LIMIT {PER_PAGE}", [])])),
        Case(f"registrations: page {reg_page}", *both("registrar_registration", p=reg_page),
             Floor([(f"{reg_row} WHERE r.name > %s ORDER BY r.name LIMIT {PER_PAGE}",
                     [reg_key[0] if reg_key else ""])], note="keyset")),
        Case(f"registrations: search {shop!r}", *both("registrar_registration", q=shop),
             reg_search(shop)),
        Case("registrations: search one rare name", *both("registrar_registration", q=rare),
             Floor([(f"{reg_row} WHERE r.name LIKE %s ORDER BY r.name LIMIT {PER_PAGE}",
                     [f"{rare}%"])])),
        Case("registrations: search account e-mail",
             *both("registrar_registration", q=email),
             Floor([(f"{reg_row} WHERE a.email = %s ORDER BY r.name LIMIT {PER_PAGE}",
                     [email])])),
        Case(f"registrations: search {munich!r}", *both("registrar_registration", q=munich),
             reg_search(munich)),
        Case("registrations: filter status=expired",
             *both("registrar_registration", status__exact="expired"),
             Floor([(f"{reg_row} WHERE r.status = 'expired' ORDER BY r.name "
                     f"LIMIT {PER_PAGE}", [])])),
        Case("registrations: filter .de + locked",
             *both("registrar_registration", tld__id__exact=4, locked__exact=1),
             Floor([(f"{reg_row} WHERE r.tld_id = 4 AND r.locked ORDER BY r.name "
                     f"LIMIT {PER_PAGE}", [])])),
        Case("registration page (cockpit)",
             url("admin:registrar_registration_change", rid),
             url("plain-admin:registrar_registration_change", rid),
             Floor([(f"{reg_row} WHERE r.id = %s", [rid]),
                    ("SELECT * FROM registrar_process WHERE registration_id = %s "
                     "ORDER BY created_at", [rid]),
                    ("SELECT * FROM billing_order WHERE registration_id = %s "
                     "ORDER BY placed_at DESC LIMIT 20", [rid]),
                    (timeline, ["registrar.registration", str(rid)])])),
        Case("contacts: first page", *both("contacts_contact"),
             Floor([(f"{contact_row} ORDER BY c.handle, c.id LIMIT {PER_PAGE}", [])])),
        Case(f"contacts: search name {targets.contact_name!r}",
             *both("contacts_contact", q=targets.contact_name),
             Floor([(f"{contact_row} WHERE c.last_name = %s ORDER BY c.handle, c.id "
                     f"LIMIT {PER_PAGE}", [targets.contact_name])])),
        Case("contacts: search e-mail", *both("contacts_contact", q=targets.contact_email),
             Floor([(f"{contact_row} WHERE c.email = %s ORDER BY c.handle, c.id "
                     f"LIMIT {PER_PAGE}", [targets.contact_email])])),
        Case("contacts: search domain", *both("contacts_contact", q=rare),
             Floor([(f"{contact_row} WHERE c.id IN (SELECT unnest(ARRAY[owner_contact_id, "
                     "admin_contact_id, tech_contact_id, billing_contact_id]) FROM "
                     "registrar_registration WHERE name LIKE %s) ORDER BY c.handle, c.id "
                     f"LIMIT {PER_PAGE}", [f"{rare}%"])])),
        Case("contacts: filter country=DE", *both("contacts_contact", country__exact="DE"),
             Floor([(f"{contact_row} WHERE c.country = 'DE' ORDER BY c.handle, c.id "
                     f"LIMIT {PER_PAGE}", [])])),
        Case("contact page: hostmaster of many",
             url("admin:contacts_contact_change", busy),
             url("plain-admin:contacts_contact_change", busy),
             Floor([(f"{contact_row} WHERE c.id = %s", [busy]),
                    ("SELECT id, name FROM registrar_registration WHERE tech_contact_id = %s "
                     "ORDER BY name LIMIT 100", [busy])], note="first 100 uses")),
        Case("audit: first page", *both("backoffice_staffaction"),
             Floor([(f"{audit_row} ORDER BY s.created_at DESC, s.id DESC LIMIT {PER_PAGE}",
                     [])])),
        Case(f"audit: page {audit_page}", *both("backoffice_staffaction", p=audit_page),
             Floor([(f"{audit_row} WHERE (s.created_at, s.id) < (%s, %s) "
                     f"ORDER BY s.created_at DESC, s.id DESC LIMIT {PER_PAGE}",
                     list(audit_key) if audit_key else [None, 0])], note="keyset")),
        Case("audit: search domain", *both("backoffice_staffaction", q=rare),
             Floor([(f"{audit_row} WHERE s.target_repr LIKE %s OR s.actor_label LIKE %s "
                     "OR s.action LIKE %s OR s.target_id LIKE %s OR s.upstream_request_id "
                     "LIKE %s OR s.process_id LIKE %s ORDER BY s.created_at DESC, s.id DESC "
                     f"LIMIT {PER_PAGE}", [f"%{rare}%"] * 6)])),
        Case("audit: filter outcome=failed",
             *both("backoffice_staffaction", outcome__exact="failed"),
             Floor([(f"{audit_row} WHERE s.outcome = 'failed' ORDER BY s.created_at DESC, "
                     f"s.id DESC LIMIT {PER_PAGE}", [])])),
        Case("orders: first page", *both("billing_order"),
             Floor([(f"{order_row} ORDER BY o.placed_at DESC, o.id DESC LIMIT {PER_PAGE}",
                     [])])),
        Case("orders: search account e-mail", *both("billing_order", q=email),
             Floor([(f"{order_row} WHERE a.email = %s ORDER BY o.placed_at DESC, o.id DESC "
                     f"LIMIT {PER_PAGE}", [email])])),
        Case("orders: filter status=refunded",
             *both("billing_order", status__exact="refunded"),
             Floor([(f"{order_row} WHERE o.status = 'refunded' ORDER BY o.placed_at DESC, "
                     f"o.id DESC LIMIT {PER_PAGE}", [])])),
        Case("processes: first page", *both("registrar_process"),
             Floor([("SELECT p.*, r.name FROM registrar_process p JOIN registrar_registration"
                     " r ON r.id = p.registration_id ORDER BY p.created_at DESC LIMIT "
                     f"{PER_PAGE}", [])])),
        Case("processes: filter stuck", *both("registrar_process", stuck__exact=1),
             Floor([("SELECT p.*, r.name FROM registrar_process p JOIN registrar_registration"
                     " r ON r.id = p.registration_id WHERE p.stuck ORDER BY p.created_at DESC "
                     f"LIMIT {PER_PAGE}", [])])),
        Case("accounts: search e-mail", *both("billing_account", q=email),
             Floor([("SELECT * FROM billing_account WHERE email = %s ORDER BY name LIMIT 100",
                     [email])])),
        Case("customer page", url("admin:billing_account_change", aid),
             url("plain-admin:billing_account_change", aid),
             Floor([("SELECT * FROM billing_account WHERE id = %s", [aid]),
                    ("SELECT * FROM registrar_registration WHERE account_id = %s "
                     "ORDER BY name LIMIT 101", [aid]),
                    ("SELECT * FROM contacts_contact WHERE account_id = %s "
                     "ORDER BY handle, id LIMIT 101", [aid]),
                    ("SELECT * FROM billing_order WHERE account_id = %s "
                     "ORDER BY placed_at DESC LIMIT 101", [aid]),
                    (timeline, ["billing.account", str(aid)])])),
        Case("dashboard (admin index)", url("admin:index"), None, dashboard_floor),
        Case("header search: rare name", url("admin:search", q=rare), None,
             Floor([("SELECT id, name FROM registrar_registration WHERE name LIKE %s "
                     "ORDER BY name LIMIT 10", [f"{rare}%"]),
                    ("SELECT id FROM contacts_contact WHERE email = %s OR handle = %s LIMIT 10",
                     [rare, rare]),
                    ("SELECT id FROM billing_account WHERE email = %s OR customer_reference "
                     "= %s LIMIT 10", [rare, rare])]), expect=(200, 302)),
        Case(f"header search: {shop!r}", url("admin:search", q=shop), None,
             Floor([("SELECT id, name FROM registrar_registration WHERE name LIKE %s "
                     "ORDER BY name LIMIT 10", [f"{shop}%"]),
                    ("SELECT id FROM billing_account WHERE name ILIKE %s LIMIT 10",
                     [f"%{shop}%"])]), expect=(200, 302)),
        Case("header search: account e-mail", url("admin:search", q=email), None,
             Floor([("SELECT id FROM billing_account WHERE email = %s LIMIT 10", [email]),
                    ("SELECT id FROM contacts_contact WHERE email = %s LIMIT 10", [email])]),
             expect=(200, 302)),
        Case("finance: needs attention", url("finance:attention"), None, attention_floor),
        Case("finance: orders first page", url("finance:orders"), None,
             Floor([(f"{order_row} ORDER BY o.placed_at DESC, o.id DESC "
                     f"LIMIT {FINANCE_PER_PAGE}", [])], note="rows only")),
        Case(f"finance: orders page {finance_page}", url("finance:orders", page=finance_page),
             None,
             Floor([(f"{order_row} WHERE (o.placed_at, o.id) < (%s, %s) ORDER BY "
                     f"o.placed_at DESC, o.id DESC LIMIT {FINANCE_PER_PAGE}",
                     list(order_key) if order_key else [None, 0])], note="keyset, rows only")),
        Case("finance: totals of all orders (SQL only)", None, None,
             Floor([("SELECT currency, count(*), sum(total_minor), sum(refunded_minor) "
                     "FROM billing_order GROUP BY currency", [])],
                   note="the list's totals, whole table")),
    ]
    return found


# -- the run --------------------------------------------------------------------------------

def superuser():
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(
        username="bench-scale-root", defaults={"is_staff": True, "is_superuser": True,
                                               "email": "root@bench.invalid"})
    return user


def counts() -> dict[str, int]:
    from backoffice.models import StaffAction
    from billing.models import Order
    from registrar.models import Registration

    return {"registrations": Registration.objects.count(), "audit": StaffAction.objects.count(),
            "orders": Order.objects.count()}


def run(selected: list[Case], reps: int, timeout: float, *, verbose: bool = True) -> None:
    from django.test import Client

    client = Client()
    client.force_login(superuser())
    for case in selected:
        if verbose:
            print(f"  {case.label} ...", end="", flush=True)
        started = time.perf_counter()
        if case.project:
            case.results["project"] = time_url(client, case.project, reps, timeout, case.expect)
        if case.plain:
            case.results["plain"] = time_url(client, case.plain, reps, timeout, case.expect)
        if case.floor:
            case.results["floor"] = time_floor(case.floor, reps, timeout)
        if verbose:
            print(f" {time.perf_counter() - started:.1f} s", flush=True)
    set_timeout(0)


def _ratio(top: Timing | None, bottom: Timing | None) -> str:
    if top is None or bottom is None:
        return "—"
    if top.note == "timed out" and bottom.median_ms:
        return "> " + f"{top_timeout_ms / bottom.median_ms:.0f}"
    if top.median_ms is None or not bottom.median_ms:
        return "—"
    return f"{top.median_ms / bottom.median_ms:.1f}"


top_timeout_ms = 30_000.0


def table(selected: list[Case]) -> str:
    base = next((c.results.get("project") for c in selected
                 if c.label == "registrations: first page"), None)
    head = ("request", "project ms", "project q", "plain ms", "plain q", "plain/project",
            "SQL floor ms", "floor note", "project / reg. 1st page")
    rows = [head]
    for case in selected:
        project, plain, floor = (case.results.get(key) for key in ("project", "plain", "floor"))

        def cell(t: Timing | None) -> str:
            if t is None:
                return "—"
            shown = t.shown()
            return f"{shown} ({t.note})" if t.note and t.note != "timed out" and \
                t.median_ms is not None else shown

        rows.append((
            case.label, cell(project), str(project.queries) if project and project.queries
            is not None else "—",
            cell(plain), str(plain.queries) if plain and plain.queries is not None else "—",
            _ratio(plain, project), floor.shown() if floor else "—",
            ", ".join(filter(None, [floor.note if floor else "",
                                    case.floor.note if case.floor else ""])) or "",
            _ratio(project, base) if project and base else "—"))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(head))]
    lines = []
    for index, row in enumerate(rows):
        lines.append(" | ".join(str(value).ljust(widths[i]) if i == 0 or i == 7
                                else str(value).rjust(widths[i]) for i, value in enumerate(row)))
        if index == 0:
            lines.append("-+-".join("-" * width for width in widths))
    return "\n".join(lines)


def explain_slowest(selected: list[Case], count: int) -> None:
    """EXPLAIN ANALYZE of the slowest statements behind the slowest project pages."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    slow = sorted((c for c in selected if c.results.get("project")
                   and c.results["project"].median_ms),
                  key=lambda c: -c.results["project"].median_ms)[:count]
    if not slow:
        return
    client = Client()
    client.force_login(superuser())
    for case in slow:
        with CaptureQueriesContext(connection) as captured:
            client.get(case.project)
        queries = []
        for query in captured.captured_queries:
            sql = query["sql"]
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            queries.append((float(query["time"]), sql))
        queries.sort(reverse=True)
        print(f"\n== {case.label}: {case.project} "
              f"({case.results['project'].median_ms:.0f} ms, {len(captured)} queries)")
        for seconds, sql in queries[:2]:
            start = sql.find(" FROM ")
            shown = sql if start < 0 or start < 150 else f"SELECT … {sql[start + 1:]}"
            print(f"-- {seconds * 1000:.0f} ms: {shown[:700]}{' …' if len(shown) > 700 else ''}")
            with connection.cursor() as cursor:
                try:
                    cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
                    for (line,) in cursor.fetchall()[:30]:
                        print(f"   {line}")
                except Exception as error:
                    print(f"   (no plan: {error})")


def export_rate() -> None:
    """The finance CSV of every order, through bench/bench_export.py's own measurement."""
    from bench_export import measure

    from billing.models import Order

    result = measure(Order.objects.count())
    print(f"\nCSV export of all orders: {result['rows']} rows in {result['seconds']:.1f} s = "
          f"{result['rows'] / result['seconds']:.0f} rows/s, {result['chars'] / 2**20:.0f} MiB, "
          f"tracemalloc peak {result['tracemalloc_peak'] / 2**20:.1f} MiB "
          f"(bench_export.measure on this data set)")


def main(argv: list[str] | None = None) -> int:
    global top_timeout_ms
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--size", type=int, help="registrations (default 1,000,000)")
    parser.add_argument("--reload", action="store_true", help="load the data set again")
    parser.add_argument("--reps", type=int, help="timed requests per page (default 7)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="statement_timeout per statement, seconds")
    parser.add_argument("--only", action="append", default=[],
                        help="run requests whose label matches (glob or substring); "
                             "'export' for the CSV export rate")
    parser.add_argument("--quick", action="store_true",
                        help="50,000 registrations, 3 repetitions")
    parser.add_argument("--no-export", action="store_true", help="skip the CSV export rate")
    parser.add_argument("--explain", type=int, default=3,
                        help="EXPLAIN ANALYZE the slowest N project pages")
    options = parser.parse_args(argv)
    size = options.size or (50_000 if options.quick else 1_000_000)
    reps = options.reps or (3 if options.quick else 7)
    top_timeout_ms = options.timeout * 1000

    if not (options.database_url or "").startswith(("postgres://", "postgresql://")):
        # `dev.py bench` runs every benchmark: this one is skipped, not failed, without one.
        print("bench_scale skipped: it needs PostgreSQL; give --database-url or "
              "DATABASE_URL (postgres://...).")
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as var_dir:
        setup_django(options.database_url, var_dir)
        import scale_data
        from django.core.management import call_command
        from django.db import connection

        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        print(f"migrate: {time.perf_counter() - started:.1f} s")
        loaded = scale_data.loaded_size()
        if options.reload or loaded != size:
            why = ("--reload" if options.reload else
                   "nothing loaded" if loaded is None else f"{loaded} loaded, {size} asked")
            print(f"loading {size} registrations ({why}) ...", flush=True)
            seconds = scale_data.load(size)
            print(f"load took {seconds:.1f} s")
        else:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT seconds, loaded_at FROM {scale_data.META_TABLE}")
                seconds, at = cursor.fetchone()
            print(f"reusing the data set of {size} registrations loaded {at:%Y-%m-%d %H:%M} "
                  f"UTC (its load took {seconds:.1f} s)")
        totals = counts()
        print(f"rows: {totals}; {os.cpu_count()} cores; PostgreSQL "
              f"{connection.pg_version // 10000}; {reps} timed requests per page after a warm-up,"
              f" statement_timeout {options.timeout:g} s")
        selected = cases(scale_data.targets(), totals)
        if options.only:
            selected = [c for c in selected if any(
                fnmatch.fnmatch(c.label, pattern) or pattern.lower() in c.label.lower()
                for pattern in options.only)]
        run(selected, reps, options.timeout)
        print()
        print(table(selected))
        print("\nms: median wall time of the request through Django's test client (project, "
              "plain) or\nEXPLAIN ANALYZE Execution Time (floor); q: SQL queries per request; "
              "'seq' names the big tables\na floor still reads whole (no index for it yet).")
        if options.explain:
            explain_slowest(selected, options.explain)
        if not options.no_export and (not options.only or any(
                "export" in pattern.lower() for pattern in options.only)):
            export_rate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
