"""Celery tasks: thin wrappers that take ids and call services."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import OperationalError
from django.db.models import Q
from django.utils.dateparse import parse_datetime

from registrar.models import Process

logger = logging.getLogger(__name__)


def poll_delay(poll_count: int) -> float:
    """Capped exponential backoff between polls of one process."""
    return min(settings.PROCESS_POLL_MAX_DELAY,
               settings.PROCESS_POLL_BASE_DELAY * 2 ** max(poll_count - 1, 0))


@shared_task(name="registrar.poll_process", ignore_result=True)
def poll_process(process_id: int, due: str | None = None) -> str:
    """One poll of a process, then the next one scheduled while it runs. `due` is the
    time this poll was scheduled for: when the process now expects another, a newer
    chain follows it and this one ends ("superseded")."""
    from registrar.services import process_follow_step, schedule_poll

    process = Process.objects.filter(pk=process_id).first()
    if process is None:
        return "gone"
    if due is not None and process.next_poll_at != parse_datetime(due):
        return "superseded"
    try:
        status = process_follow_step(process=process)
    except OperationalError:
        # A busy database (SQLite under web + worker) passes: poll again shortly rather
        # than drop the process until the next sweep.
        logger.warning("Database busy while polling process %s; retrying.", process_id)
        schedule_poll(process, delay=poll_delay(process.poll_count))
        return "retry"
    if status in {"running", "error"}:
        process.refresh_from_db()
        schedule_poll(process, delay=poll_delay(process.poll_count))
    return status


@shared_task(name="registrar.poll_open_processes", ignore_result=True)
def poll_open_processes() -> int:
    """Sweep: start a chain of polls for every process still followed whose next poll
    is overdue (its chain was lost to a worker crash or a broker outage). A process
    whose chain is alive is left to it."""
    from django.utils import timezone

    from registrar.services import schedule_poll

    overdue = timezone.now() - timedelta(seconds=settings.PROCESS_POLL_LOST_AFTER)
    lost = Process.objects.filter(is_terminal=False, stuck=False).filter(
        Q(next_poll_at__isnull=True) | Q(next_poll_at__lt=overdue))
    count = 0
    for process in lost.only("pk", "next_poll_at"):
        schedule_poll(process, delay=0)
        count += 1
    return count


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


@shared_task(name="registrar.settle_registration", bind=True, ignore_result=True,
             max_retries=8)
def settle_registration(self, registration_id: int) -> str:
    """Read a registration whose last operation's outcome was not known again, until it
    can be read (capped backoff); then the operation may be sent again."""
    from registrar.models import Registration
    from registrar.operations import OperationRefused
    from registrar.providers.errors import ProviderError
    from registrar.services import registration_settle

    registration = Registration.objects.filter(pk=registration_id).first()
    if registration is None or not registration.unsettled_operation:
        return "settled"
    try:
        registration_settle(registration=registration)
    except (ProviderError, OperationRefused) as error:
        if self.request.retries < self.max_retries:
            raise self.retry(exc=error, countdown=poll_delay(self.request.retries + 1)
                             ) from error
        logger.warning("Registration %s is still unsettled: %s", registration_id,
                       getattr(error, "message", error))
        return "unsettled"
    return "settled"


@shared_task(name="registrar.mirror_processes", ignore_result=True, max_retries=3, bind=True)
def mirror_processes(self, registration_id: int) -> int:
    """The processes of a registration the sync found busy, listed and followed."""
    from registrar.models import Registration
    from registrar.operations import OperationRefused
    from registrar.providers.errors import ProviderError
    from registrar.services import registration_follow_processes

    registration = Registration.objects.filter(pk=registration_id).first()
    if registration is None:
        return 0
    try:
        return len(registration_follow_processes(registration=registration))
    except (ProviderError, OperationRefused) as error:
        if self.request.retries < self.max_retries:
            raise self.retry(exc=error, countdown=poll_delay(self.request.retries + 1)
                             ) from error
        logger.warning("Processes of registration %s not listed: %s", registration_id,
                       getattr(error, "message", error))
        return 0


@shared_task(name="registrar.settle_unsettled", ignore_result=True)
def settle_unsettled() -> int:
    """Sweep: another attempt for every registration still unsettled (its task gave up,
    or was lost)."""
    from registrar.models import Registration

    ids = list(Registration.objects.filter(unsettled_since__isnull=False)
               .values_list("pk", flat=True))
    for registration_id in ids:
        settle_registration.apply_async((registration_id,), countdown=0)
    return len(ids)


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


def queue_split_sync(account, parts: int, *, force: bool = False) -> str:
    """Open a split sync of `account` and queue one task per part, for whichever
    workers are free; the run's id."""
    from registrar.sync import start_split_sync

    run = start_split_sync(account, parts, force=force)
    for index in range(parts):
        sync_account_part.delay(account.pk, run, index)
    return run


# Acknowledged when it starts: a sync can outlast the broker's visibility timeout, and one
# lost to a crash runs again the next night (it is idempotent).
@shared_task(name="registrar.sync_provider_account", bind=True, ignore_result=True,
             max_retries=3, acks_late=False)
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
    from registrar.sync import can_split

    if settings.SYNC_SPLIT_PARTS > 1 and can_split(account):
        run = queue_split_sync(account, settings.SYNC_SPLIT_PARTS)
        return f"split into {settings.SYNC_SPLIT_PARTS} parts ({run})"
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


@shared_task(name="registrar.send_renewal_notices", ignore_result=True, acks_late=False)
def send_renewal_notices() -> str:
    """Hourly: the customer renewal notices due now (registrar/notices.py), each sent
    once. Acknowledged when it starts: a run lost to a crash is simply the next hour's,
    and a notice claimed by it is never sent twice."""
    from registrar.notices import send_due_notices

    report = send_due_notices()
    logger.info(report.summary())
    return report.summary()


# Acknowledged when it ends: a part lost with its worker is given to another, and a part
# already recorded is not synced or counted again.
@shared_task(name="registrar.sync_account_part", bind=True, ignore_result=True,
             max_retries=3)
def sync_account_part(self, account_id: int, run: str, index: int) -> str:
    """One part of a split sync: every n-th page of the listing; the last part to end
    finishes the run (missing upstream, the report) once."""
    from registrar.models import ProviderAccount
    from registrar.providers.errors import ProviderError
    from registrar.sync import fail_split_part, sync_split_part

    account = ProviderAccount.objects.filter(pk=account_id).first()
    if account is None:
        return "gone"
    try:
        report = sync_split_part(account, run, index, concurrency=settings.SYNC_CONCURRENCY)
    except ProviderError as error:
        if error.retryable and self.request.retries < self.max_retries:
            raise self.retry(exc=error, countdown=60 * 2 ** self.request.retries) from error
        logger.error("Sync part %s of %s failed: %s", index, account.label, error.message)
        report = fail_split_part(account, run, index, error.message)
        return report.summary() if report else "failed"
    except Exception:
        # Recorded as failed, so the run still ends (nothing flagged missing) and says so.
        fail_split_part(account, run, index, "an internal error (see the worker's log)")
        raise
    if report is None:
        return f"part {index} done"
    logger.info(report.summary())
    return report.summary()
