"""Real Celery workers, consuming from Redis, follow a 202 to its end by themselves, and
keep following it when a worker dies mid-task.

These run only when CELERY_TEST_BROKER_URL names a Redis to use (CI sets it): the suite
never touches a server that merely happens to answer on 127.0.0.1:6379.
BACKOFFICE_REQUIRE_REDIS=1 turns their skip into a failure."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from socketserver import ThreadingMixIn
from urllib.parse import urlsplit, urlunsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connection
from kombu import Connection

from backoffice.celery import app
from registrar import services
from registrar.models import Process, ProcessStatus, Registration
from registrar.sandbox import get_app
from tests.factories import ProviderAccountFactory, RegistrationFactory, TldFactory, UserFactory

ROOT = Path(__file__).resolve().parents[2]


def _own_database(url: str) -> str:
    """The broker URL with a Redis database of this test process's own.

    Under pytest-xdist two test processes run worker tests at the same time; on one
    queue each would purge the other's tasks and its workers would take tasks meant for
    the other's database. gw0 keeps the configured database, gw1 the one below, ..."""
    index = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    if not url or not index.isdigit() or index == "0":
        return url
    parts = urlsplit(url)
    base = parts.path.strip("/")
    database = (int(base) if base.isdigit() else 0) - int(index)
    return urlunsplit(parts._replace(path=f"/{database % 16}"))


REDIS_URL = _own_database(os.environ.get("CELERY_TEST_BROKER_URL", ""))
pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def _skip(reason: str) -> None:
    if os.environ.get("BACKOFFICE_REQUIRE_REDIS") == "1":
        pytest.fail(f"The Celery worker tests are required here, but {reason}.")
    pytest.skip(reason)


def _redis_answers() -> bool:
    try:
        with Connection(REDIS_URL, connect_timeout=1) as broker:
            broker.ensure_connection(max_retries=1)
        return True
    except Exception:
        return False


@pytest.fixture
def redis_broker():
    if not REDIS_URL:
        _skip("CELERY_TEST_BROKER_URL is not set (a Redis for the worker tests)")
    if not _redis_answers():
        _skip(f"no Redis answers at {REDIS_URL}")
    with _broker(REDIS_URL):
        with app.connection_for_write() as broker:
            broker.default_channel.queue_purge("celery")  # nothing left by earlier runs
        yield


@contextmanager
def _broker(url: str):
    """Point the project's Celery app at `url` for the length of a test. The test suite
    publishes to an in-memory broker; the app caches its connection pools, so they are
    dropped on the way in and out."""
    previous = app.conf.broker_url
    app.conf.broker_url = url
    app._pool = None
    app.amqp._producer_pool = None
    try:
        yield
    finally:
        app.conf.broker_url = previous
        app._pool = None
        app.amqp._producer_pool = None


def test_a_202_is_polled_to_completion_by_a_real_worker(redis_broker, sandbox, settings):
    settings.PROCESS_POLL_BASE_DELAY = 0.2
    settings.PROCESS_POLL_MAX_DELAY = 0.5
    agent = UserFactory(username="agent", groups=["Support"])
    registration = RegistrationFactory(name="worker.com", tld=TldFactory(name="com"))
    sandbox.seed()
    sandbox.next_async(registration.upstream_id, polls=3)

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        outcome = services.registration_set_lock(registration=registration, locked=True,
                                                 actor=agent)
        assert outcome.status == "pending"
        _wait_until(lambda: not Registration.objects.get(pk=registration.pk).pending_async)

    process = Process.objects.get(registration=registration)
    assert process.status == ProcessStatus.COMPLETED and process.poll_count >= 3
    registration.refresh_from_db()
    assert registration.locked and not registration.pending_async


# --- worker processes that die ----------------------------------------------------


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format, *args):  # the signature wsgiref calls
        pass


class _Registrar:
    """The sandbox over real loopback HTTP, served from this test process (so the test
    controls it), with every process read it answers counted and timed."""

    def __init__(self) -> None:
        self.app = get_app()
        self.process_reads: list[float] = []
        self.read_arrived = threading.Event()
        self.server = make_server("127.0.0.1", 0, self._serve, server_class=_ThreadingServer,
                                  handler_class=_Quiet)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _serve(self, environ, start_response):
        if environ["REQUEST_METHOD"] == "GET" and "/processes/" in environ["PATH_INFO"]:
            self.process_reads.append(time.monotonic())
            self.read_arrived.set()
        return self.app(environ, start_response)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def registrar(sandbox):
    served = _Registrar()
    yield served
    served.close()


@pytest.fixture
def loopback_registration(registrar, monkeypatch, settings):
    if connection.vendor != "postgresql":
        _skip("a worker in another process needs a database it can reach (PostgreSQL)")
    # The registrar here listens on loopback over plain http, as only development allows.
    settings.PROVIDER_LOOPBACK_HTTP_ALLOWED = True
    monkeypatch.setenv("PROVIDER_SECRET_WORKER_TEST", "sandbox-token")
    account = ProviderAccountFactory(label="loopback", kind="domain_api", base_url=registrar.url,
                                     account_ref="acct-1",
                                     secret_env="PROVIDER_SECRET_WORKER_TEST")
    registration = RegistrationFactory(name="worker.com", tld=TldFactory(
        name="com", provider_account=account), provider_account=account)
    from registrar.sandbox.seed import seed_from_mirror

    seed_from_mirror()
    return registration


class _Worker:
    """`celery worker` in its own process, as production runs it (prefork pool), on
    the test database and Redis."""

    def __init__(self, *, extra_env: dict[str, str] | None = None, beat: bool = False) -> None:
        database = connection.settings_dict
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "backoffice.settings",
            "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:"
                            f"{database['PORT']}/{database['NAME']}",
            "CELERY_BROKER_URL": REDIS_URL,
            "SECRET_KEY": "worker-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
            "DEBUG": "0",
            "PROVIDER_LOOPBACK_HTTP_ALLOWED": "1",  # the test's registrar is on loopback
            "PROCESS_POLL_BASE_DELAY": "0.3",
            "PROCESS_POLL_MAX_DELAY": "1.2",
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        command = [sys.executable, "-m", "celery", "-A", "backoffice", "worker",
                   "--pool", "prefork", "--concurrency", "1", "--loglevel", "INFO",
                   "--without-gossip", "--without-mingle", "--without-heartbeat",
                   "--hostname", f"test-{os.getpid()}-{time.monotonic_ns()}@%h"]
        if beat:
            command += ["--beat", "--schedule",
                        str(Path(tempfile.gettempdir()) / f"beat-{os.getpid()}-{time.time_ns()}")]
        self.log = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def pool_children(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()] if path.exists() else []

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def kill(self) -> None:
        """kill -9 the whole worker: the main process and its pool."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


@contextmanager
def worker(**options):
    running = _Worker(**options)
    try:
        yield running
    finally:
        running.stop()


def _wait_until(condition, timeout: float = 45.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _start_process(sandbox, registration, *, polls: int):
    sandbox.next_async(registration.upstream_id, polls=polls)
    agent = UserFactory(username="agent", groups=["Support"])
    outcome = services.registration_set_lock(registration=registration, locked=False,
                                             actor=agent)
    assert outcome.status == "pending"
    return outcome.process


def _finished(registration) -> bool:
    return not Registration.objects.get(pk=registration.pk).pending_async


def test_a_pool_child_killed_mid_poll_gives_the_poll_back(redis_broker, sandbox, registrar,
                                                         loopback_registration):
    registration = loopback_registration
    # The first process read is slow: the pool child is still inside it when killed.
    sandbox.fault("/processes/", method="GET", delay=4, times=1)
    with worker() as running:
        _wait_until(lambda: running.pool_children(), what="the pool to start")
        process = _start_process(sandbox, registration, polls=3)
        assert registrar.read_arrived.wait(timeout=45), running.output()
        child = running.pool_children()[0]
        os.kill(child, signal.SIGKILL)

        _wait_until(lambda: _finished(registration), what="the process to be followed "
                    "to its end")
        log = running.output()

    assert "signal 9" in log and "WorkerLostError" in log  # the child really died mid-task
    process.refresh_from_db()
    assert process.status == ProcessStatus.COMPLETED and process.is_terminal
    registration.refresh_from_db()
    assert registration.locked is False and not registration.pending_async
    # The killed poll was given back and run again by the new child.
    assert len(registrar.process_reads) >= 3


def test_a_worker_killed_outright_is_replaced_and_the_poll_comes_back(
        redis_broker, sandbox, registrar, loopback_registration):
    registration = loopback_registration
    sandbox.fault("/processes/", method="GET", delay=30, times=1)
    # A short visibility timeout stands in for the production one (sized to the longest
    # task, not to Redis's default hour).
    short = {"CELERY_VISIBILITY_TIMEOUT": "3"}
    with worker(extra_env=short) as first:
        _wait_until(lambda: first.pool_children(), what="the pool to start")
        process = _start_process(sandbox, registration, polls=2)
        assert registrar.read_arrived.wait(timeout=45), first.output()
        first.kill()  # kill -9 of the worker and its pool: nothing acknowledged the poll

    with worker(extra_env=short):
        _wait_until(lambda: _finished(registration), what="the poll to be redelivered")

    process.refresh_from_db()
    assert process.status == ProcessStatus.COMPLETED


def test_a_never_ending_process_has_one_chain_at_the_backoff_s_pace(
        redis_broker, sandbox, registrar, loopback_registration):
    """The beat sweeps every second here; it must not start chains next to the live one."""
    registration = loopback_registration
    with worker(beat=True, extra_env={"PROCESS_SWEEP_SECONDS": "1",
                                      "PROCESS_POLL_LIMIT": "1000"}) as running:
        _wait_until(lambda: running.pool_children(), what="the pool to start")
        _start_process(sandbox, registration, polls=100_000)
        time.sleep(7)
        log = running.output()
    assert "poll_open_processes" in log  # the sweep did run, every second
    reads = registrar.process_reads
    gaps = [later - earlier for earlier, later in itertools.pairwise(reads)]
    # Backoff 0.3 s doubling to 1.2 s: about 0.3, 0.6, 1.2, 1.2 ... Several chains would
    # interleave their polls, with gaps far below the backoff.
    assert 3 <= len(reads) <= 9, reads
    assert min(gaps) >= 0.25, gaps
