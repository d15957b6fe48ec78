"""Celery tasks: thin wrappers that take ids and call services."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import OperationalError, transaction

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
    """Nightly: one reconcile task per enabled provider account whose registrations or
    orders are mirrored."""
    from billing.order_sync import MIRRORED_KINDS
    from registrar.management.commands.sync_registrations import SYNCABLE_KINDS
    from registrar.models import ProviderAccount

    ids = list(ProviderAccount.objects.filter(enabled=True,
                                              kind__in={*SYNCABLE_KINDS, *MIRRORED_KINDS})
               .values_list("pk", flat=True))
    for account_id in ids:
        sync_provider_account.delay(account_id)
    return len(ids)


@shared_task(name="registrar.sync_provider_account", bind=True, ignore_result=True,
             max_retries=3)
def sync_provider_account(self, account_id: int) -> str:
    """Reconcile one account: its registrations (for the kinds that have a registration
    sync), then its orders (for the kinds that have orders; after the registrations, so
    an order can link the registration it made). The registration sync is retried (with
    backoff) only when the registrar failed in a way that may pass; an aborted sync
    (safety brake) waits for a person. An order mirror that failed in a way that may
    pass is handed to billing.mirror_account_orders, which retries only that."""
    from billing.order_sync import MIRRORED_KINDS, mirror_orders
    from registrar.management.commands.sync_registrations import SYNCABLE_KINDS
    from registrar.models import ProviderAccount
    from registrar.providers.base import ProviderError
    from registrar.sync import sync_provider

    account = ProviderAccount.objects.get(pk=account_id)
    summaries: list[str] = []
    registrations_failed = False
    if account.kind in SYNCABLE_KINDS:
        try:
            report = sync_provider(account, concurrency=settings.SYNC_CONCURRENCY)
        except ProviderError as error:
            if error.retryable:
                raise self.retry(exc=error, countdown=60 * 2 ** self.request.retries) from error
            logger.error("Sync of %s failed: %s", account.label, error.message)
            registrations_failed = True
        else:
            if report.aborted:
                logger.error("Sync of %s aborted: %s", account.label, report.aborted)
            logger.info(report.summary())
            summaries.append(report.summary())
    if account.kind in MIRRORED_KINDS:
        orders = mirror_orders(account)
        if orders.aborted:
            logger.error("Order sync of %s aborted: %s", account.label, orders.aborted)
            if orders.retryable:
                from billing.tasks import mirror_account_orders

                mirror_account_orders.apply_async((account.pk,), countdown=60)
        else:
            logger.info(orders.summary())
        summaries.append(orders.summary())
    if registrations_failed:
        return "failed"
    return "\n".join(summaries)
