"""The Celery application: configuration comes from Django settings (CELERY_*)."""

from __future__ import annotations

import contextlib
import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")

app = Celery("backoffice")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The acting context each running task entered, by task id: prerun enters it, postrun
# (sent however the task ended) leaves it, so a worker thread never keeps a finished
# task's context, and a task run eagerly inside a web request gets its own and gives the
# request's back.
_acting: dict[str, contextlib.ExitStack] = {}


@task_prerun.connect(dispatch_uid="backoffice.task_channel.enter")
def _enter_task_channel(task_id: str | None = None, **kwargs) -> None:
    from backoffice import assurance

    stack = contextlib.ExitStack()
    # No user and no second factor: a task acts as the system, whoever queued it.
    stack.enter_context(assurance.acting(assurance.Channel.TASK))
    _acting[task_id or ""] = stack


@task_postrun.connect(dispatch_uid="backoffice.task_channel.leave")
def _leave_task_channel(task_id: str | None = None, **kwargs) -> None:
    stack = _acting.pop(task_id or "", None)
    if stack is not None:
        stack.close()
