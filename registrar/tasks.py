"""Celery tasks: thin wrappers that take ids and call services."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction

from registrar.models import Process

logger = logging.getLogger(__name__)


def poll_delay(poll_count: int) -> float:
    """Capped exponential backoff between polls of one process."""
    return min(settings.PROCESS_POLL_MAX_DELAY,
               settings.PROCESS_POLL_BASE_DELAY * 2 ** max(poll_count - 1, 0))


def schedule_poll(process_id: int, *, countdown: float | None = None) -> None:
    """Enqueue a poll once the current transaction commits (the row must exist).

    If the broker cannot take it, the operation has still happened: log it and leave the
    process to the periodic sweep (`poll_open_processes`) rather than fail the request.
    """
    delay = settings.PROCESS_POLL_BASE_DELAY if countdown is None else countdown

    def enqueue() -> None:
        try:
            poll_process.apply_async((process_id,), countdown=delay)
        except Exception:
            logger.exception("Could not enqueue a poll of process %s; the sweep will.",
                             process_id)

    transaction.on_commit(enqueue)


@shared_task(name="registrar.poll_process", ignore_result=True)
def poll_process(process_id: int) -> str:
    from registrar.services import process_follow_step

    process = Process.objects.filter(pk=process_id).first()
    if process is None:
        return "gone"
    status = process_follow_step(process=process)
    if status == "running":
        process.refresh_from_db()
        poll_process.apply_async((process.pk,), countdown=poll_delay(process.poll_count))
    return status


@shared_task(name="registrar.poll_open_processes", ignore_result=True)
def poll_open_processes() -> int:
    """Sweep: enqueue a poll for every process still running and not given up on."""
    ids = list(Process.objects.filter(is_terminal=False, stuck=False)
               .values_list("pk", flat=True))
    for process_id in ids:
        poll_process.apply_async((process_id,), countdown=0)
    return len(ids)
