"""Benchmark: the finance orders CSV export, streamed.

    python3 dev.py bench bench_export.py
    .venv/bin/python bench/bench_export.py [--count 100000] [--small 20000]
        [--postgresql postgres://postgres@127.0.0.1:5432/postgres]

Creates --count orders (several currencies, IDNs, refunds, orders with and without an
account, provider and Tld row) in a throwaway SQLite database (never DATABASE_URL), or
with --postgresql in a throwaway database created on that server (and dropped), then
streams the export exactly as the download does: `filtered_orders({}).qs` through
`OrderCsv`, consuming the strings without keeping them. Each measurement runs in a
fresh child process so its peak RSS is its own; it prints rows/s, the peak Python
memory (tracemalloc, a second pass) and the RSS growth during the export, for --small
and for --count orders, to show that memory does not grow with the rows. It prints
figures and never fails on time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BATCH = 5000


def setup_django(var_dir: str, *, migrate: bool, database_url: str = "") -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")
    os.environ["DEBUG"] = "0"  # DEBUG keeps every query; production does not
    os.environ.setdefault("SECRET_KEY", "bench-only-" + "k" * 50)
    os.environ["VAR_DIR"] = var_dir
    # The SQLite file under var_dir, or the throwaway PostgreSQL database: never a real one.
    os.environ.pop("DATABASE_URL", None)
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def create_orders(count: int) -> None:
    from django.db import connection, transaction

    from billing.models import Account, Order, OrderKind, OrderStatus, PurchaseType
    from registrar.models import ProviderAccount, Tld

    rng = random.Random(20240501)  # noqa: S311 - benchmark data, not security
    providers = [ProviderAccount.objects.create(
        label=f"bench-{n}", kind="sandbox", base_url="https://sandbox.invalid")
        for n in range(3)]
    tlds = [Tld.objects.create(name=name, provider_account=providers[n % 3])
            for n, name in enumerate(["com", "net", "de", "jp", "xn--p1ai"])]
    accounts = Account.objects.bulk_create(
        Account(name=f"Customer {n}", email=f"customer{n}@example.com",
                customer_reference=f"ACC-B{n:06d}") for n in range(1000))
    statuses, kinds = OrderStatus.values, OrderKind.values
    purchase_types = PurchaseType.values
    currencies = ["EUR", "USD", "JPY", "KWD", "GBP"]
    start = datetime(2023, 1, 1, tzinfo=UTC)
    with transaction.atomic():
        for first in range(0, count, BATCH):
            batch = []
            for n in range(first, min(first + BATCH, count)):
                tld = tlds[n % 5] if n % 7 else None
                suffix = tld.name if tld else "org"
                label = f"bücher{n}" if n % 50 == 0 else f"bench{n}"
                domain = f"{label.encode('idna').decode()}.{suffix}"
                total = rng.randrange(0, 500_000)
                batch.append(Order(
                    upstream_id=f"up-{n}" if n % 3 else None,
                    provider_account=providers[n % 3] if n % 11 else None,
                    account=accounts[n % 1000] if n % 13 else None,
                    tld=tld, kind=kinds[n % len(kinds)], status=rng.choice(statuses),
                    domain=domain, years=1 + n % 3,
                    purchase_type=purchase_types[n % len(purchase_types)],
                    premium=n % 17 == 0, currency=currencies[n % len(currencies)],
                    subtotal_minor=total * 9 // 10, fees_minor=total // 10,
                    total_minor=total,
                    refunded_minor=total if n % 19 == 0 else 0,
                    quoted_total_minor=total if n % 2 else None,
                    customer_reference=("=cmd|' /C calc'!A0" if n % 997 == 0
                                        else f"REF-{n}"),
                    placed_at=start + timedelta(minutes=7 * n),
                ))
            Order.objects.bulk_create(batch)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def measure(limit: int) -> dict:
    """In this (fresh) process: export the newest `limit` orders twice, once timed and
    once under tracemalloc."""
    from django.db import connection

    from billing.finance.export import OrderCsv
    from billing.finance.filters import filtered_orders
    from billing.models import Order

    def queryset():
        # The download's own path: the FilterSet's queryset, unfiltered.
        orders = filtered_orders({}).qs
        if limit < Order.objects.count():
            cutoff = orders.values_list("placed_at", flat=True)[limit - 1]
            orders = orders.filter(placed_at__gte=cutoff)
        return orders

    orders = queryset()
    connection.ensure_connection()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    export = OrderCsv(orders)
    size = 0
    started = time.perf_counter()
    for text in export:
        size += len(text)
    elapsed = time.perf_counter() - started
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    # On PostgreSQL the download is formatted by COPY; the Python formatter beside it.
    python_seconds = None
    if connection.vendor == "postgresql":
        started = time.perf_counter()
        for _text in OrderCsv(queryset(), copy=False):
            pass
        python_seconds = time.perf_counter() - started

    tracemalloc.start()
    traced = OrderCsv(queryset())
    for _text in traced:
        pass
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"rows": export.rows, "seconds": elapsed, "chars": size,
            "tracemalloc_peak": peak, "rss_growth_kib": rss_after - rss_before,
            "rss_peak_kib": rss_after, "vendor": connection.vendor,
            "python_seconds": python_seconds}


def child(var_dir: str, limit: int, database_url: str) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--child", str(limit), "--var-dir", var_dir,
         "--database-url", database_url],
        cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def throwaway_database(server_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database on the server of `server_url`, dropped afterwards."""
    import psycopg

    parts = urlsplit(server_url)
    name = f"bench_export_{os.getpid()}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=20_000)
    parser.add_argument("--postgresql", metavar="SERVER_URL", default="",
                        help="measure on PostgreSQL: a throwaway database on this server")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--var-dir", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", default="", help=argparse.SUPPRESS)
    options = parser.parse_args()

    if options.child:
        setup_django(options.var_dir, migrate=False, database_url=options.database_url)
        print(json.dumps(measure(options.child)))
        return

    with contextlib.ExitStack() as stack:
        var_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-export-"))
        database_url = (stack.enter_context(throwaway_database(options.postgresql))
                        if options.postgresql else "")
        setup_django(var_dir, migrate=True, database_url=database_url)
        from django.db import connection

        started = time.perf_counter()
        create_orders(options.count)
        print(f"created {options.count} orders in {time.perf_counter() - started:.1f} s "
              f"(database {connection.vendor}, {os.cpu_count()} cores)")
        connection.close()

        print(f"{'orders':>8} {'rows/s':>8} {'seconds':>8} {'CSV MiB':>8} "
              f"{'tracemalloc peak':>17} {'RSS growth':>11} {'RSS peak':>9}")
        for limit in (options.small, options.count):
            result = child(var_dir, limit, database_url)
            print(f"{result['rows']:>8} {result['rows'] / result['seconds']:>8.0f} "
                  f"{result['seconds']:>8.2f} {result['chars'] / 2**20:>8.1f} "
                  f"{result['tracemalloc_peak'] / 2**20:>13.2f} MiB "
                  f"{result['rss_growth_kib'] / 1024:>7.1f} MiB "
                  f"{result['rss_peak_kib'] / 1024:>5.0f} MiB"
                  + (f"   Python formatter: {result['rows'] / result['python_seconds']:.0f} "
                     "rows/s" if result["python_seconds"] else ""))


if __name__ == "__main__":
    main()
