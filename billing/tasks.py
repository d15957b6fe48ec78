"""Celery tasks for orders: thin wrappers that take ids and call billing.services."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction

from billing.models import Order, OrderKind
from registrar.providers.base import ProviderError

logger = logging.getLogger(__name__)

# Following a Saleshandy email-infrastructure order. Document 003 only says provisioning
# is asynchronous ("poll GET /v1/domain until status is no longer inProgress"), not how
# long it takes, and a paid order waits for the customer first. So each run polls a few
# times close together (the adapter's bounded poll_order), then the task comes back with
# a capped, growing delay, and gives up after EMAIL_ORDER_FOLLOW_LIMIT runs (about two
# days with the defaults) rather than poll forever. Settings of the same name override.
EMAIL_ORDER_POLLS_PER_RUN = 3
EMAIL_ORDER_POLL_INTERVAL = 10.0
EMAIL_ORDER_FOLLOW_BASE_DELAY = 60.0
EMAIL_ORDER_FOLLOW_MAX_DELAY = 3600.0
EMAIL_ORDER_FOLLOW_LIMIT = 60
# Retries of one run after a retryable ProviderError (5xx, timeout, rate limit).
EMAIL_ORDER_MAX_RETRIES = 5


def _setting(name: str) -> float:
    return getattr(settings, name, globals()[name])


def follow_delay(follow_round: int) -> float:
    """Capped exponential backoff between runs of one order's follow-up."""
    return min(_setting("EMAIL_ORDER_FOLLOW_MAX_DELAY"),
               _setting("EMAIL_ORDER_FOLLOW_BASE_DELAY") * 2 ** max(follow_round - 1, 0))


def retry_delay(retries: int) -> float:
    return min(_setting("EMAIL_ORDER_FOLLOW_MAX_DELAY"),
               _setting("EMAIL_ORDER_FOLLOW_BASE_DELAY") * 2 ** retries)


def schedule_follow(order_id: int, *, countdown: float | None = None) -> None:
    """Enqueue the follow-up once the current transaction commits (the row must exist).

    If the broker cannot take it, the order has still been placed: log it rather than
    fail the request (`follow_open_email_orders` picks such orders up again).
    """
    delay = _setting("EMAIL_ORDER_FOLLOW_BASE_DELAY") if countdown is None else countdown

    def enqueue() -> None:
        try:
            follow_email_order.apply_async((order_id,), countdown=delay)
        except Exception:
            logger.exception("Could not enqueue the follow-up of order %s.", order_id)

    transaction.on_commit(enqueue)


@shared_task(name="billing.follow_email_order", bind=True, ignore_result=True,
             max_retries=EMAIL_ORDER_MAX_RETRIES)
def follow_email_order(self, order_id: int, follow_round: int = 1) -> str:
    """Poll one email-infrastructure order and come back later while it is open.

    Returns the order's status, "gone", "failed" (a ProviderError that will not pass by
    retrying) or "given_up" (the bound was reached with the order still open). Only a
    retryable ProviderError is retried, with backoff; anything else is a bug and raises.
    """
    from billing.services import EMAIL_ORDER_FINISHED, email_order_refresh

    order = (Order.objects.select_related("provider_account")
             .filter(pk=order_id, kind=OrderKind.EMAIL_INFRASTRUCTURE).first())
    if order is None:
        return "gone"
    try:
        order = email_order_refresh(order=order,
                                    max_polls=int(_setting("EMAIL_ORDER_POLLS_PER_RUN")),
                                    interval=_setting("EMAIL_ORDER_POLL_INTERVAL"))
    except ProviderError as error:
        if error.retryable:
            raise self.retry(exc=error, countdown=retry_delay(self.request.retries)) from error
        logger.error("Following Saleshandy order %s (order %s) failed: %s",
                     order.upstream_id, order.pk, error.message)
        return "failed"
    if order.status in EMAIL_ORDER_FINISHED:
        return order.status
    if follow_round >= _setting("EMAIL_ORDER_FOLLOW_LIMIT"):
        logger.warning("Order %s is still %s after %s follow-ups; stopped following it.",
                       order.pk, order.status, follow_round)
        return "given_up"
    follow_email_order.apply_async((order.pk,), {"follow_round": follow_round + 1},
                                   countdown=follow_delay(follow_round))
    return order.status


@shared_task(name="billing.follow_open_email_orders", ignore_result=True)
def follow_open_email_orders() -> int:
    """Sweep: one follow-up for every open Saleshandy email-infrastructure order (for a
    follow-up lost to a broker outage or the bound). Not scheduled by default: add it to
    CELERY_BEAT_SCHEDULE to run it periodically."""
    from billing.services import EMAIL_ORDER_FINISHED

    ids = list(Order.objects.filter(kind=OrderKind.EMAIL_INFRASTRUCTURE,
                                    provider_account__kind="saleshandy")
               .exclude(status__in=EMAIL_ORDER_FINISHED).values_list("pk", flat=True))
    for order_id in ids:
        follow_email_order.apply_async((order_id,), countdown=0)
    return len(ids)


# --- Mirroring upstream orders (billing.order_sync) ----------------------------------------

# Retries of one account's order mirror after an upstream failure that may pass.
ORDER_MIRROR_MAX_RETRIES = 3


@shared_task(name="billing.mirror_all_orders", ignore_result=True)
def mirror_all_orders() -> int:
    """One order-mirror task per enabled provider account that has orders. The nightly
    registrar.sync_all_providers mirrors orders too; this is for running it apart."""
    from billing.order_sync import MIRRORED_KINDS
    from registrar.models import ProviderAccount

    ids = list(ProviderAccount.objects.filter(enabled=True, kind__in=MIRRORED_KINDS)
               .values_list("pk", flat=True))
    for account_id in ids:
        mirror_account_orders.delay(account_id)
    return len(ids)


@shared_task(name="billing.mirror_account_orders", bind=True, ignore_result=True,
             max_retries=ORDER_MIRROR_MAX_RETRIES)
def mirror_account_orders(self, account_id: int) -> str:
    """Mirror one account's orders; the report's summary. An aborted run is retried with
    backoff only when the upstream failure may pass (what was mirrored before it is kept,
    and a second pass over it changes nothing)."""
    from billing.order_sync import mirror_orders
    from registrar.models import ProviderAccount

    account = ProviderAccount.objects.filter(pk=account_id).first()
    if account is None:
        return "gone"
    report = mirror_orders(account)
    if report.aborted:
        if report.retryable and self.request.retries < ORDER_MIRROR_MAX_RETRIES:
            raise self.retry(countdown=retry_delay(self.request.retries))
        logger.error(report.summary())
    else:
        logger.info(report.summary())
    return report.summary()


# Following one Domain API order after it was placed: polled with the same capped
# backoff as registrar processes, up to DOMAIN_ORDER_FOLLOW_LIMIT times; after that the
# periodic follow_domain_orders keeps reading it. A setting of the same name overrides.
DOMAIN_ORDER_FOLLOW_LIMIT = 40
DOMAIN_ORDER_MAX_RETRIES = 5


def domain_order_delay(follow_round: int) -> float:
    return min(settings.PROCESS_POLL_MAX_DELAY,
               settings.PROCESS_POLL_BASE_DELAY * 2 ** max(follow_round - 1, 0))


@shared_task(name="billing.follow_domain_order", bind=True, ignore_result=True,
             max_retries=DOMAIN_ORDER_MAX_RETRIES)
def follow_domain_order(self, order_id: int, follow_round: int = 1) -> str:
    """Read one placed Domain API order again and come back later while it is open.

    Returns the order's status, "gone", "failed" (a ProviderError that will not pass by
    retrying, or an answer that is not this order) or "given_up" (the bound was reached
    with the order still open; the periodic sweep goes on reading it). Only a retryable
    ProviderError is retried, with backoff.
    """
    from billing.order_sync import DOMAIN_API_FINISHED, refresh_domain_api_order

    order = Order.objects.select_related("provider_account").filter(pk=order_id).first()
    if order is None:
        return "gone"
    try:
        order = refresh_domain_api_order(order)
    except ProviderError as error:
        if error.retryable:
            raise self.retry(exc=error, countdown=retry_delay(self.request.retries)) from error
        logger.error("Following Domain API order %s (order %s) failed: %s",
                     order.upstream_id, order.pk, error.message)
        return "failed"
    except (KeyError, TypeError, ValueError) as exc:
        logger.error("Following order %s failed: %s", order.pk, exc)
        return "failed"
    if order.status in DOMAIN_API_FINISHED:
        return order.status
    if follow_round >= _setting("DOMAIN_ORDER_FOLLOW_LIMIT"):
        logger.warning("Domain API order %s is still %s after %s follow-ups; the periodic "
                       "sweep goes on reading it.", order.pk, order.status, follow_round)
        return "given_up"
    follow_domain_order.apply_async((order.pk,), {"follow_round": follow_round + 1},
                                    countdown=domain_order_delay(follow_round))
    return order.status


@shared_task(name="billing.follow_domain_orders", ignore_result=True)
def follow_domain_orders() -> int:
    """Every few minutes (CELERY_BEAT_SCHEDULE): read again every Domain API order that
    has not ended, for every enabled account that has one. Returns how many were read.
    Document 001 has no order list and no order webhook, so polling is how an order's
    completion, failure or refund reaches us."""
    from billing.order_sync import DOMAIN_API_KINDS, mirror_orders, open_domain_api_orders
    from registrar.models import ProviderAccount

    read = 0
    for account in ProviderAccount.objects.filter(enabled=True, kind__in=DOMAIN_API_KINDS):
        if not open_domain_api_orders(account).exists():
            continue
        report = mirror_orders(account)
        read += report.seen
        if report.aborted or report.failed:
            logger.warning(report.summary())
    return read


@shared_task(name="billing.expire_quotes", ignore_result=True)
def expire_quotes() -> int:
    """Quotes nobody confirmed in time end cancelled, so the order lists do not keep
    them as if they might still be placed. Nothing was sent or charged for them."""
    from django.utils import timezone

    from billing.models import OrderStatus

    return Order.objects.filter(status=OrderStatus.QUOTED,
                                quote_expires_at__lt=timezone.now()).update(
        status=OrderStatus.CANCELLED,
        status_reason="The quote expired before it was confirmed.",
        updated_at=timezone.now())
