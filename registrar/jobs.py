"""Background work that services start: a Celery task, named, enqueued once the
current transaction commits (the rows it reads must exist).

Services name the task instead of importing it, so the call direction stays one way
(tasks call services, never the reverse). If the broker cannot take the job, the
operation has still happened: it is logged, and each kind of job has a periodic sweep
that picks up what was lost.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from celery import current_app
from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue_after_commit(task_name: str, *args: Any, countdown: float = 0.0,
                         kwargs: Mapping[str, Any] | None = None) -> None:
    def enqueue() -> None:
        try:
            task = current_app.tasks.get(task_name)
            if task is not None:
                task.apply_async(args, dict(kwargs or {}), countdown=countdown)
            else:
                # Not imported in this process (the web process imports no task
                # modules): sent by name, which is all the worker needs.
                current_app.send_task(task_name, args, dict(kwargs or {}),
                                      countdown=countdown)
        except Exception:
            logger.exception("Could not enqueue %s%s; its periodic sweep will pick it up.",
                             task_name, args)

    transaction.on_commit(enqueue)
