"""A real Celery worker, consuming from Redis, follows a 202 to its end by itself."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager

import pytest
from celery.contrib.testing.worker import start_worker
from kombu import Connection

from backoffice.celery import app
from registrar import services
from registrar.models import Process, ProcessStatus
from tests.factories import RegistrationFactory, TldFactory, UserFactory

REDIS_URL = os.environ.get("CELERY_TEST_BROKER_URL", "redis://127.0.0.1:6379/15")
pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def _redis_answers() -> bool:
    try:
        with Connection(REDIS_URL, connect_timeout=1) as connection:
            connection.ensure_connection(max_retries=1)
        return True
    except Exception:
        return False


@pytest.fixture
def redis_broker():
    if not _redis_answers():
        reason = f"no Redis answers at {REDIS_URL}"
        if os.environ.get("BACKOFFICE_REQUIRE_REDIS") == "1":
            pytest.fail(f"The Celery worker test is required here, but {reason}.")
        pytest.skip(reason)
    with _broker(REDIS_URL):
        with app.connection_for_write() as connection:
            connection.default_channel.queue_purge("celery")  # nothing left by earlier runs
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
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            registration.refresh_from_db()
            if not registration.pending_async:
                break
            time.sleep(0.2)

    process = Process.objects.get(registration=registration)
    assert process.status == ProcessStatus.COMPLETED and process.poll_count >= 3
    assert registration.locked and not registration.pending_async
