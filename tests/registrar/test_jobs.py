"""registrar.jobs.enqueue_after_commit: a task is published once the transaction
commits, by name even where this process never imported the task's module."""

from __future__ import annotations

import logging

import pytest
from celery import current_app
from celery.signals import before_task_publish

from registrar.jobs import enqueue_after_commit
from registrar.tasks import poll_process

NOT_HERE = "tests.a_task_this_process_never_imported"


@pytest.fixture
def published():
    sent = []

    def capture(sender=None, body=None, headers=None, **kwargs):
        sent.append({"task": sender, "args": list(body[0]), "kwargs": dict(body[1]),
                     "eta": (headers or {}).get("eta")})

    before_task_publish.connect(capture, weak=False)
    yield sent
    before_task_publish.disconnect(capture)


def test_a_task_not_registered_here_is_sent_by_name(db, published, caplog,
                                                    django_capture_on_commit_callbacks):
    assert NOT_HERE not in current_app.tasks
    with caplog.at_level(logging.ERROR, logger="registrar.jobs"):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            enqueue_after_commit(NOT_HERE, 7, countdown=30.0, kwargs={"due": "soon"})
        assert published == []  # nothing before the commit
        for callback in callbacks:
            callback()
    # Sent, not dropped: the worker, which has the task, runs it.
    [job] = published
    assert (job["task"], job["args"], job["kwargs"]) == (NOT_HERE, [7], {"due": "soon"})
    assert job["eta"]  # the countdown went with it
    assert "Could not enqueue" not in caplog.text


def test_a_task_registered_here_is_published_through_it(db, published,
                                                        django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_after_commit(poll_process.name, 3)
    assert [(job["task"], job["args"], job["kwargs"]) for job in published] == [
        (poll_process.name, [3], {})]
