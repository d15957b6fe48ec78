"""Exactly one chain of polls follows a process: the sweep restarts only a chain that
is overdue, and a poll superseded by a restarted chain ends without polling."""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery.signals import before_task_publish
from django.utils import timezone

from backoffice.roles import SUPPORT
from registrar import services
from registrar.models import Process
from registrar.tasks import poll_delay, poll_open_processes, poll_process
from tests.factories import RegistrationFactory, TldFactory, UserFactory


@pytest.fixture
def published():
    sent = []

    def capture(sender=None, body=None, headers=None, **kwargs):
        sent.append({"task": sender, "args": body[0], "kwargs": body[1],
                     "eta": (headers or {}).get("eta")})

    before_task_publish.connect(capture, weak=False)
    yield sent
    before_task_publish.disconnect(capture)


@pytest.fixture
def process(sandbox, django_capture_on_commit_callbacks, published):
    registration = RegistrationFactory(name="chain.com", tld=TldFactory(name="com"))
    sandbox.seed()
    sandbox.next_async(registration.upstream_id, polls=10_000)  # never finishes
    agent = UserFactory(username="agent", groups=[SUPPORT])
    with django_capture_on_commit_callbacks(execute=True):
        outcome = services.registration_set_lock(registration=registration, locked=True,
                                                 actor=agent)
    assert outcome.status == "pending"
    return outcome.process


def run(published, django_capture_on_commit_callbacks):
    """Run the oldest published poll, as a worker would; its own publications follow."""
    job = published.pop(0)
    assert job["task"] == "registrar.poll_process"
    with django_capture_on_commit_callbacks(execute=True):
        return poll_process.run(*job["args"], **job["kwargs"])


def test_the_sweep_leaves_a_live_chain_alone(process, published, settings,
                                             django_capture_on_commit_callbacks):
    settings.PROCESS_POLL_LIMIT = 1000
    assert [job["task"] for job in published] == ["registrar.poll_process"]
    for _ in range(11):  # eleven minutes of sweeps while the chain is alive
        with django_capture_on_commit_callbacks(execute=True):
            assert poll_open_processes.run() == 0
        assert run(published, django_capture_on_commit_callbacks) == "running"
    # One chain: each poll published exactly the next one, nothing else was queued.
    assert len(published) == 1
    process.refresh_from_db()
    assert process.poll_count == 11


def test_each_poll_is_scheduled_at_the_backoff_s_pace(process, published, settings,
                                                      django_capture_on_commit_callbacks):
    settings.PROCESS_POLL_BASE_DELAY, settings.PROCESS_POLL_MAX_DELAY = 5.0, 60.0
    settings.PROCESS_POLL_LIMIT = 1000
    gaps = []
    for _ in range(6):
        before = timezone.now()
        run(published, django_capture_on_commit_callbacks)
        process.refresh_from_db()
        gaps.append(round((process.next_poll_at - before).total_seconds()))
    assert gaps == [poll_delay(n) for n in range(1, 7)] == [5, 10, 20, 40, 60, 60]
    assert published[0]["kwargs"]["due"] == process.next_poll_at.isoformat()


def test_a_lost_chain_is_restarted_once_and_the_old_poll_then_ends(
        process, published, settings, django_capture_on_commit_callbacks):
    lost = published.pop(0)  # the worker died with it, say
    long_ago = timezone.now() - timedelta(seconds=settings.PROCESS_POLL_LOST_AFTER + 5)
    Process.objects.filter(pk=process.pk).update(next_poll_at=long_ago)

    with django_capture_on_commit_callbacks(execute=True):
        assert poll_open_processes.run() == 1
        assert poll_open_processes.run() == 0  # the restarted chain is alive now
    assert [job["task"] for job in published] == ["registrar.poll_process"]
    # The lost poll turns up after all (redelivered): it was superseded, and ends.
    with django_capture_on_commit_callbacks(execute=True):
        assert poll_process.run(*lost["args"], **lost["kwargs"]) == "superseded"
    assert len(published) == 1
    assert run(published, django_capture_on_commit_callbacks) == "running"
    process.refresh_from_db()
    assert process.poll_count == 1
