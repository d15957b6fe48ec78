"""Benchmark: reconcile registrations from a registrar 50 ms away.

    python3 dev.py bench bench_sync.py [--count 3000] [--latency-ms 50] [--repeat 3]
        [--big 10000] [--huge 100000]

Serves the sandbox over loopback HTTP (`runsandbox --latency-ms 50`), seeds it, and
times `sync_provider` end to end (fetch, diff, write, audit) into an empty mirror at
concurrency 8, 32 and 64, --repeat times each (median, with the spread: the machine is
shared). Each registration costs one detail read (its glue hosts), so the latency limit
is concurrency / latency. It also compares the models for the reads alone (threads
sharing one httpx.Client, an httpx.Client per thread, the sync's own per-thread
connections, asyncio on several httpx.AsyncClients), and measures peak Python memory
(tracemalloc) for --big and --huge registrations. It prints figures and never fails
on time.

Uses a throwaway SQLite database, or DATABASE_URL if that is set.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
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
            # The append-only guard refuses TRUNCATE too; a benchmark database (the
            # superuser's session) sets triggers aside for this one statement.
            cursor.execute("SET session_replication_role = replica")
            cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
            cursor.execute("SET session_replication_role = DEFAULT")
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


def fetch_thread_clients(url: str, guids: list[str], concurrency: int) -> float:
    """An httpx.Client per thread: no shared pool lock, httpx's CPU per request."""
    import httpx

    headers = {"Authorization": f"Bearer {TOKEN}", "X-Auth-Account": "bench"}
    local = threading.local()
    clients: list = []

    def get(guid: str) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=url, headers=headers, timeout=30)
            clients.append(local.client)
        local.client.get(f"/api/domain_registrations/{guid}/hosts").raise_for_status()

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(get, guids))
    rate = len(guids) / (time.perf_counter() - started)
    for client in clients:
        client.close()
    return rate


def fetch_sync_path(provider_account, guids: list[str], concurrency: int) -> float:
    """What the sync does: the provider's list_hosts on a fanned-out HttpClient (a
    keep-alive connection per thread)."""
    from registrar.providers.base import RegistrationRef
    from registrar.providers.registry import build_provider

    provider = build_provider(provider_account)
    provider.http.fan_out(concurrency)
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda g: provider.list_hosts(RegistrationRef(name="", upstream_id=g)),
                      guids))
    rate = len(guids) / (time.perf_counter() - started)
    provider.close()
    return rate


def fetch_async_clients(url: str, guids: list[str], concurrency: int, clients: int) -> float:
    import httpx

    async def run() -> float:
        headers = {"Authorization": f"Bearer {TOKEN}", "X-Auth-Account": "bench"}
        each = max(1, concurrency // clients)
        pool = [httpx.AsyncClient(base_url=url, headers=headers, timeout=30,
                                  limits=httpx.Limits(max_connections=each,
                                                      max_keepalive_connections=each))
                for _ in range(clients)]
        queue = list(reversed(guids))

        async def worker(n: int) -> None:
            client = pool[n % clients]
            while queue:
                guid = queue.pop()
                (await client.get(f"/api/domain_registrations/{guid}/hosts")
                 ).raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(concurrency)))
        rate = len(guids) / (time.perf_counter() - started)
        for client in pool:
            await client.aclose()
        return rate

    return asyncio.run(run())


def spread(values: list[float]) -> str:
    values = sorted(values)
    median = statistics.median(values)
    if len(values) == 1:
        return f"{median:7.0f}"
    return f"{median:7.0f} ({values[0]:.0f}-{values[-1]:.0f})"


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
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--big", type=int, default=10000)
    parser.add_argument("--huge", type=int, default=0,
                        help="Also measure memory at this many (e.g. 100000).")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 32, 64])
    parser.add_argument("--skip-reads", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
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
                  f"request, database {connection.vendor}, {os.cpu_count()} cores, "
                  f"load {os.getloadavg()[0]:.1f}")
            print(f"{'concurrency':>11} {'items/s median (min-max)':>26} {'limit/s':>8} "
                  f"{'ratio':>6} {'client CPU ms/reg':>18}")
            for concurrency in options.concurrency:
                rates, cpu = [], []
                for _ in range(options.repeat):
                    before = time.process_time()
                    report = timed_sync(provider, concurrency)
                    rates.append(report.rate)
                    cpu.append((time.process_time() - before) / report.seen * 1000)
                limit = concurrency / latency
                print(f"{concurrency:>11} {spread(rates):>26} {limit:>8.0f} "
                      f"{statistics.median(rates) / limit:>6.0%} "
                      f"{statistics.median(cpu):>18.2f}", flush=True)

            if not options.skip_reads:
                guids = [f"bench-{n:06d}" for n in range(options.count)]
                for concurrency in (32, 64):
                    print(f"\ndetail reads alone, concurrency {concurrency} (limit "
                          f"{concurrency / latency:.0f}/s), median of {options.repeat}:")
                    models = [
                        ("threads sharing one httpx.Client",
                         lambda c=concurrency: fetch_threads(url, guids, c)),
                        ("an httpx.Client per thread",
                         lambda c=concurrency: fetch_thread_clients(url, guids, c)),
                        ("the sync's: a connection per thread",
                         lambda c=concurrency: fetch_sync_path(provider, guids, c)),
                        ("asyncio, one httpx.AsyncClient",
                         lambda c=concurrency: fetch_async(url, guids, c)),
                        ("asyncio, 8 httpx.AsyncClients",
                         lambda c=concurrency: fetch_async_clients(url, guids, c, 8)),
                    ]
                    for name, fetch in models:
                        print(f"  {name:38} {spread([fetch() for _ in range(options.repeat)])}"
                              "/s", flush=True)

            if not options.skip_memory:
                print("\npeak Python memory of one sync at concurrency 32 (tracemalloc):")
                for count in [n for n in (options.big, options.huge) if n]:
                    seed(url, count)
                    peak, seen = peak_memory_mb(provider, 32)
                    print(f"  {seen:>7} registrations: {peak:6.1f} MiB", flush=True)
                report = timed_sync(provider, 32)
                print(f"  {report.seen} registrations at concurrency 32: {report.rate:.0f}/s "
                      f"({report.rate / (32 / latency):.0%} of the limit)")
        finally:
            sandbox.terminate()
            sandbox.wait(timeout=10)


if __name__ == "__main__":
    main()
