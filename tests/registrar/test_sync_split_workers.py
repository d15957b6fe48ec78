"""Two real Celery workers, on Redis and PostgreSQL, share one account's sync: every
registration written once, one audit row per change, nothing twice, one report.

Runs only where CELERY_TEST_BROKER_URL names a Redis (see test_celery_worker)."""

from __future__ import annotations

from collections import Counter

import pytest
from django.db import connection

from backoffice.models import StaffAction
from registrar.models import Registration
from registrar.sandbox import get_app
from registrar.sync import SPLIT_PART, SPLIT_REPORT
from tests.factories import ProviderAccountFactory, RegistrationFactory, TldFactory
from tests.registrar.test_celery_worker import (  # noqa: F401 - fixtures
    _skip,
    _wait_until,
    redis_broker,
    registrar,
    worker,
)
from tests.registrar.test_sync import upstream

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

PARTS = 6
COUNT = 1500
SPLIT = {"SYNC_SPLIT_PARTS": str(PARTS), "SYNC_PAGE_SIZE": "100", "SYNC_CONCURRENCY": "8",
         # The mirror holds one registration before the run; all the rest are new.
         "SYNC_MAX_CHANGE_SHARE": "1"}


@pytest.fixture
def loopback_account(registrar, monkeypatch, settings):  # noqa: F811 - the fixture above
    if connection.vendor != "postgresql":
        _skip("workers in other processes need a database they can reach (PostgreSQL)")
    settings.PROVIDER_LOOPBACK_HTTP_ALLOWED = True
    monkeypatch.setenv("PROVIDER_SECRET_WORKER_TEST", "sandbox-token")
    return ProviderAccountFactory(label="loopback", kind="domain_api", base_url=registrar.url,
                                  account_ref="acct-1", secret_env="PROVIDER_SECRET_WORKER_TEST")


def _succeeded_parts(log: str) -> int:
    return sum(1 for line in log.splitlines()
               if "registrar.sync_account_part[" in line and "succeeded" in line)


def test_two_workers_mirror_one_account_exactly_once(redis_broker, registrar,  # noqa: F811
                                                     loopback_account):
    from registrar.tasks import sync_provider_account

    account = loopback_account
    get_app().state.seed(upstream(COUNT))
    gone = RegistrationFactory(name="gone-away.com", upstream_id="gone-away-1",
                               provider_account=account,
                               tld=TldFactory(name="com", provider_account=account))

    with worker(extra_env=SPLIT) as first, worker(extra_env=SPLIT) as second:
        _wait_until(lambda: first.pool_children() and second.pool_children(),
                    what="both pools to start")
        sync_provider_account.delay(account.pk)
        try:
            _wait_until(lambda: StaffAction.objects.filter(action=SPLIT_REPORT).exists(),
                        timeout=180, what="the report of the split sync")
        except AssertionError as timed_out:
            raise AssertionError(f"{first.output()[-4000:]}\n{second.output()[-4000:]}"
                                 ) from timed_out
        _wait_until(lambda: _succeeded_parts(first.output()) + _succeeded_parts(
            second.output()) >= PARTS, what="every part's task to end")
        logs = first.output(), second.output()

    # Each part ran once: a redelivered part would show as a seventh success.
    assert sum(_succeeded_parts(log) for log in logs) == PARTS, logs

    # Both workers took parts: the account really was shared.
    assert all(_succeeded_parts(log) >= 1 for log in logs), logs
    assert Registration.objects.count() == COUNT + 1
    assert len(set(Registration.objects.values_list("upstream_id", flat=True))) == COUNT + 1
    created = Counter(StaffAction.objects.filter(action="registration.sync_created")
                      .values_list("target_id", flat=True))
    assert len(created) == COUNT and set(created.values()) == {1}
    assert not StaffAction.objects.filter(action="registration.sync_updated").exists()
    missing = StaffAction.objects.filter(action="registration.sync_missing")
    assert list(missing.values_list("target_id", flat=True)) == [str(gone.pk)]
    gone.refresh_from_db()
    assert gone.missing_upstream_at is not None
    parts = StaffAction.objects.filter(action=SPLIT_PART)
    assert sorted(row.parameters["part"] for row in parts) == list(range(PARTS))
    report = StaffAction.objects.get(action=SPLIT_REPORT)
    assert report.parameters["seen"] == COUNT and report.parameters["created"] == COUNT
    assert report.parameters["missing"] == 1 and not report.parameters["aborted"]
