"""Celery tasks: thin wrappers that take ids and call services."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from registrar.models import Process

logger = logging.getLogger(__name__)


def poll_delay(poll_count: int) -> float:
    """Capped exponential backoff between polls of one process."""
    return min(settings.PROCESS_POLL_MAX_DELAY,
               settings.PROCESS_POLL_BASE_DELAY * 2 ** max(poll_count - 1, 0))


@shared_task(name="registrar.poll_process", ignore_result=True)
def poll_process(process_id: int) -> str:
    from registrar.services import process_follow_step

    process = Process.objects.filter(pk=process_id).first()
    if process is None:
        return "gone"
    try:
        status = process_follow_step(process=process)
    except OperationalError:
        # A busy database (SQLite under web + worker) passes: poll again shortly rather
        # than drop the process until the next sweep.
        logger.warning("Database busy while polling process %s; retrying.", process_id)
        poll_process.apply_async((process_id,), countdown=poll_delay(process.poll_count))
        return "retry"
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


@shared_task(name="registrar.sweep_stuck_processes", ignore_result=True)
def sweep_stuck_processes() -> int:
    """Hourly: look once more at processes given up on; one that has finished since is
    closed like any other (registration refreshed and unblocked)."""
    from registrar.services import process_poll

    finished = 0
    for process in Process.objects.filter(stuck=True, is_terminal=False):
        try:
            if process_poll(process=process).is_terminal:
                finished += 1
        except Exception:  # one unreadable process must not stop the sweep
            logger.exception("Sweeping stuck process %s failed", process.upstream_id)
    return finished


@shared_task(name="registrar.sync_all_providers", ignore_result=True)
def sync_all_providers() -> int:
    """Nightly: one reconcile task per enabled provider account whose upstream lists its
    registrations (the order mirror runs as billing.mirror_all_orders)."""
    from registrar.models import ProviderAccount
    from registrar.providers.base import Capability

    ids = list(ProviderAccount.objects.filter(enabled=True)
               .with_capability(Capability.REGISTRATION_SYNC).values_list("pk", flat=True))
    for account_id in ids:
        sync_provider_account.delay(account_id)
    return len(ids)


@shared_task(name="registrar.sync_provider_account", bind=True, ignore_result=True,
             max_retries=3)
def sync_provider_account(self, account_id: int) -> str:
    """Reconcile one account's registrations. Retried (with backoff) only when the
    registrar failed in a way that may pass; an aborted sync (safety brake) waits for a
    person."""
    from registrar.models import ProviderAccount
    from registrar.providers.errors import ProviderError
    from registrar.sync import sync_provider

    account = ProviderAccount.objects.filter(pk=account_id).first()
    if account is None:
        return "gone"
    try:
        report = sync_provider(account, concurrency=settings.SYNC_CONCURRENCY)
    except ProviderError as error:
        if error.retryable:
            raise self.retry(exc=error, countdown=60 * 2 ** self.request.retries) from error
        logger.error("Sync of %s failed: %s", account.label, error.message)
        return "failed"
    if report.aborted:
        logger.error("Sync of %s aborted: %s", account.label, report.aborted)
    logger.info(report.summary())
    return report.summary()
