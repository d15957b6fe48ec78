"""Benchmark: reconcile registrations from a registrar 50 ms away.

    python3 dev.py bench bench_sync.py [--count 2000] [--latency-ms 50] [--big 10000]

Serves the sandbox over loopback HTTP (`runsandbox --latency-ms 50`), seeds it, and
times `sync_provider` end to end (fetch, diff, write, audit) into an empty mirror at
concurrency 8, 16, 32 and 64. Each registration costs one detail read (its glue
hosts), so the latency limit is concurrency / latency. It also compares the two
concurrency models for the reads alone (threads sharing one httpx.Client, and
asyncio with httpx.AsyncClient), and measures peak Python memory for the smaller
count and for --big. It prints figures and never fails on time.

Uses a throwaway SQLite database, or DATABASE_URL if that is set.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "sandbox-token"  # noqa: S105 - the sandbox's published development token


def setup_django(var_dir: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")
    # Measured as production runs it: with DEBUG on, Django formats and keeps every
    # query, which costs more than the inserts themselves.
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "bench-only-" + "k" * 50)
    os.environ["SANDBOX_ENABLED"] = "1"  # for the runsandbox child process
    # The runsandbox child listens on loopback, over plain http.
    os.environ["PROVIDER_LOOPBACK_HTTP_ALLOWED"] = "1"
    os.environ["VAR_DIR"] = var_dir
    os.environ["PROVIDER_SECRET_BENCH_SANDBOX"] = TOKEN
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def start_sandbox(latency_ms: int, env: dict) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "runsandbox", "--memory", "--port", "0",
         "--latency-ms", str(latency_ms)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    found: list[str] = []

    def read() -> None:
        for line in process.stdout:
            match = re.search(r"http://127\.0\.0\.1:\d+", line)
            if match and not found:
                found.append(match.group(0))

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 30
    while not found and time.monotonic() < deadline:
        time.sleep(0.05)
    if not found:
        process.kill()
        raise SystemExit("runsandbox did not start")
    return process, found[0]


def seed(url: str, count: int) -> None:
    import httpx

    contacts = [{"id": 9000 + n, "handle": f"BENCH-{n}", "first_name": "Bea",
                 "last_name": f"Owner{n}", "country": "NL", "email": f"bea{n}@example.com",
                 "phone": "+31.201234567", "tld": "com"} for n in range(20)]
    registrations = [{
        "id": f"bench-{n:06d}", "name": f"bench{n:06d}.com", "tld": "com",
        "expires_at": "2027-06-01T00:00:00Z", "owner_contact_id": 9000 + n % 20,
        "tech_contact_id": 9000,
        "hosts": [{"host_name": f"ns1.bench{n:06d}.com", "addresses": [
            {"address": "192.0.2.1"}]}] if n % 10 == 0 else [],
    } for n in range(count)]
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"},
                      timeout=120) as client:
        client.post("/_sandbox/reset").raise_for_status()
        client.post("/_sandbox/seed", json={"tlds": [{"id": 1, "name": "com",
                                                      "registrar": "RTR"}],
                                            "contacts": contacts}).raise_for_status()
        for start in range(0, count, 2000):  # the sandbox caps a request body's size
            client.post("/_sandbox/seed", json={"registrations": registrations[
                start:start + 2000]}).raise_for_status()


def empty_mirror() -> None:
    """Back to an empty mirror between runs. The audit trail is append-only for the
    application; a benchmark database may be truncated (TRUNCATE passes the trigger)."""
    from django.db import connection

    tables = ["registrar_hostaddress", "registrar_host", "registrar_dnsseckey",
              "registrar_processlogentry", "registrar_process", "registrar_registration",
              "contacts_contact", "backoffice_staffaction"]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
        else:
            for table in tables:
                cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names


def account(url: str):
    from registrar.models import ProviderAccount, Tld

    provider, _ = ProviderAccount.objects.update_or_create(
        label="bench", defaults={"kind": "domain_api", "base_url": url,
                                 "account_ref": "bench",
                                 "secret_env": "PROVIDER_SECRET_BENCH_SANDBOX",
                                 "timeout_seconds": 30})
    Tld.objects.update_or_create(name="com", defaults={"provider_account": provider})
    return provider


def timed_sync(provider, concurrency: int):
    from registrar.sync import sync_provider

    empty_mirror()
    report = sync_provider(provider, concurrency=concurrency, force=True)
    assert report.errors == 0 and report.created == report.seen, report.summary()
    return report


def fetch_threads(url: str, guids: list[str], concurrency: int) -> float:
    import httpx

    headers = {"Authorization": f"Bearer {TOKEN}", "X-Auth-Account": "bench"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(base_url=url, headers=headers, limits=limits, timeout=30) as client:
        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(lambda g: client.get(f"/api/domain_registrations/{g}/hosts")
                          .raise_for_status(), guids))
        return len(guids) / (time.perf_counter() - started)


def fetch_async(url: str, guids: list[str], concurrency: int) -> float:
    import httpx

    async def run() -> float:
        headers = {"Authorization": f"Bearer {TOKEN}", "X-Auth-Account": "bench"}
        limits = httpx.Limits(max_connections=concurrency,
                              max_keepalive_connections=concurrency)
        gate = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits,
                                     timeout=30) as client:
            async def one(guid: str) -> None:
                async with gate:
                    (await client.get(f"/api/domain_registrations/{guid}/hosts")
                     ).raise_for_status()

            started = time.perf_counter()
            await asyncio.gather(*(one(g) for g in guids))
            return len(guids) / (time.perf_counter() - started)

    return asyncio.run(run())


def peak_memory_mb(provider, concurrency: int) -> tuple[float, int]:
    from registrar.sync import sync_provider

    empty_mirror()
    tracemalloc.start()
    report = sync_provider(provider, concurrency=concurrency, force=True)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20, report.seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--big", type=int, default=10000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 16, 32, 64])
    options = parser.parse_args()
    latency = options.latency_ms / 1000

    with tempfile.TemporaryDirectory(prefix="bench-sync-") as var_dir:
        setup_django(var_dir)
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "backoffice.settings"}
        sandbox, url = start_sandbox(options.latency_ms, env)
        try:
            from django.db import connection

            provider = account(url)
            seed(url, options.count)
            print(f"sync of {options.count} registrations, {options.latency_ms} ms per "
                  f"request, database {connection.vendor}, {os.cpu_count()} cores")
            print(f"{'concurrency':>11} {'items/s':>9} {'limit/s':>9} {'ratio':>7} "
                  f"{'seconds':>8}")
            for concurrency in options.concurrency:
                report = timed_sync(provider, concurrency)
                limit = concurrency / latency
                print(f"{concurrency:>11} {report.rate:>9.0f} {limit:>9.0f} "
                      f"{report.rate / limit:>7.0%} {report.elapsed:>8.2f}")

            guids = [f"bench-{n:06d}" for n in range(options.count)]
            print("\ndetail reads alone, concurrency 32 (which model to use):")
            print(f"  threads sharing one httpx.Client: {fetch_threads(url, guids, 32):7.0f}/s")
            print(f"  asyncio with httpx.AsyncClient:   {fetch_async(url, guids, 32):7.0f}/s")

            print("\npeak Python memory of one sync at concurrency 32 (tracemalloc):")
            small, seen = peak_memory_mb(provider, 32)
            print(f"  {seen:>6} registrations: {small:6.1f} MiB")
            seed(url, options.big)
            big, seen = peak_memory_mb(provider, 32)
            print(f"  {seen:>6} registrations: {big:6.1f} MiB")
            report = timed_sync(provider, 32)
            print(f"  {report.seen} registrations at concurrency 32: {report.rate:.0f}/s "
                  f"({report.rate / (32 / latency):.0%} of the limit)")
        finally:
            sandbox.terminate()
            sandbox.wait(timeout=10)


if __name__ == "__main__":
    main()
