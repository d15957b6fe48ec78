"""Celery tasks for orders: thin wrappers that take ids and call billing.services."""

from __future__ import annotations

import logging
from collections.abc import Callable

from celery import shared_task
from django.conf import settings

from billing.models import Order, OrderKind
from registrar.providers.errors import ProviderError

logger = logging.getLogger(__name__)

# Following an email-infrastructure order: each run polls a few times close together,
# then the task comes back with a capped, growing delay, and gives up after
# EMAIL_ORDER_FOLLOW_LIMIT runs rather than poll forever (settings.py says why).
# Retries of one run after a retryable ProviderError (5xx, timeout, rate limit).
EMAIL_ORDER_MAX_RETRIES = 5


def _setting(name: str) -> float:
    return getattr(settings, name)


def follow_delay(follow_round: int) -> float:
    """Capped exponential backoff between runs of one order's follow-up."""
    return min(_setting("EMAIL_ORDER_FOLLOW_MAX_DELAY"),
               _setting("EMAIL_ORDER_FOLLOW_BASE_DELAY") * 2 ** max(follow_round - 1, 0))


def retry_delay(retries: int) -> float:
    return min(_setting("EMAIL_ORDER_FOLLOW_MAX_DELAY"),
               _setting("EMAIL_ORDER_FOLLOW_BASE_DELAY") * 2 ** retries)


@shared_task(name="billing.follow_email_order", bind=True, ignore_result=True,
             max_retries=EMAIL_ORDER_MAX_RETRIES)
def follow_email_order(self, order_id: int, follow_round: int = 1) -> str:
    """Poll one email-infrastructure order and come back later while it is open.

    Returns the order's status, "gone", "failed" (a ProviderError that will not pass by
    retrying) or "given_up" (the bound was reached with the order still open). Only a
    retryable ProviderError is retried, with backoff.
    """
    from billing.email_orders import email_order_finished, email_order_refresh

    order = (Order.objects.select_related("provider_account")
             .filter(pk=order_id, kind=OrderKind.EMAIL_INFRASTRUCTURE).first())
    if order is None:
        return "gone"
    return _follow_step(
        self, order, follow_round,
        refresh=lambda order: email_order_refresh(
            order=order, max_polls=int(_setting("EMAIL_ORDER_POLLS_PER_RUN")),
            interval=_setting("EMAIL_ORDER_POLL_INTERVAL")),
        finished=email_order_finished, limit=_setting("EMAIL_ORDER_FOLLOW_LIMIT"),
        delay=follow_delay, after_limit="stopped following it")


def _follow_step(task, order: Order, follow_round: int, *,
                 refresh: Callable[[Order], Order], finished: Callable[[Order], bool],
                 limit: float, delay: Callable[[int], float], after_limit: str) -> str:
    """One run of following an order: read it (retrying, with backoff, only an upstream
    failure that may pass), then come back later while it is open, up to `limit` runs.
    Returns the order's status, "failed" (an upstream refusal, or an answer that is not
    this order) or "given_up"."""
    try:
        order = refresh(order)
    except ProviderError as error:
        if error.retryable:
            raise task.retry(exc=error, countdown=retry_delay(task.request.retries)) from error
        logger.error("Following order %s (upstream %s) failed: %s", order.pk,
                     order.upstream_id, error.message)
        return "failed"
    except (KeyError, TypeError, ValueError) as exc:
        logger.error("Following order %s failed: %s", order.pk, exc)
        return "failed"
    if finished(order):
        return order.status
    if follow_round >= limit:
        logger.warning("Order %s is still %s after %s follow-ups; %s.", order.pk,
                       order.status, follow_round, after_limit)
        return "given_up"
    task.apply_async((order.pk,), {"follow_round": follow_round + 1},
                     countdown=delay(follow_round))
    return order.status


@shared_task(name="billing.follow_open_email_orders", ignore_result=True)
def follow_open_email_orders() -> int:
    """Sweep: one follow-up for every open email-infrastructure order (for a follow-up
    lost to a broker outage or the bound)."""
    from billing.order_sync import final_statuses
    from registrar.models import ProviderAccount
    from registrar.providers.base import Capability
    from registrar.providers.registry import adapter_class

    ids = []
    for account in ProviderAccount.objects.with_capability(Capability.EMAIL_ORDERS):
        ids += list(Order.objects.filter(kind=OrderKind.EMAIL_INFRASTRUCTURE,
                                         provider_account=account)
                    .exclude(status__in=final_statuses(adapter_class(account.kind)))
                    .values_list("pk", flat=True))
    for order_id in ids:
        follow_email_order.apply_async((order_id,), countdown=0)
    return len(ids)


# --- Mirroring upstream orders (billing.order_sync) ----------------------------------------

# Retries of one account's order mirror after an upstream failure that may pass.
ORDER_MIRROR_MAX_RETRIES = 3


@shared_task(name="billing.mirror_all_orders", ignore_result=True)
def mirror_all_orders() -> int:
    """Nightly: one order-mirror task per enabled provider account whose upstream lists
    its orders or lets them be read again."""
    from billing.order_sync import order_accounts

    ids = list(order_accounts().order_by("pk").values_list("pk", flat=True))
    for account_id in ids:
        mirror_account_orders.delay(account_id)
    return len(ids)


# Acknowledged when it starts, like the registration sync (long, idempotent, nightly).
@shared_task(name="billing.mirror_account_orders", bind=True, ignore_result=True,
             max_retries=ORDER_MIRROR_MAX_RETRIES, acks_late=False)
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


# Following one domain order after it was placed: polled with the same capped
# backoff as registrar processes, up to DOMAIN_ORDER_FOLLOW_LIMIT times; after that the
# periodic follow_domain_orders keeps reading it.
DOMAIN_ORDER_MAX_RETRIES = 5


def domain_order_delay(follow_round: int) -> float:
    return min(settings.PROCESS_POLL_MAX_DELAY,
               settings.PROCESS_POLL_BASE_DELAY * 2 ** max(follow_round - 1, 0))


@shared_task(name="billing.follow_domain_order", bind=True, ignore_result=True,
             max_retries=DOMAIN_ORDER_MAX_RETRIES)
def follow_domain_order(self, order_id: int, follow_round: int = 1) -> str:
    """Read one placed order again and come back later while it is open.

    Returns the order's status, "gone", "failed" (a ProviderError that will not pass by
    retrying, or an answer that is not this order) or "given_up" (the bound was reached
    with the order still open; the periodic sweep goes on reading it). Only a retryable
    ProviderError is retried, with backoff.
    """
    from billing.order_sync import final_statuses, refresh_order
    from registrar.providers.registry import adapter_class

    order = Order.objects.select_related("provider_account").filter(pk=order_id).first()
    if order is None:
        return "gone"
    return _follow_step(
        self, order, follow_round, refresh=refresh_order,
        finished=lambda order: order.status in final_statuses(
            adapter_class(order.provider_account.kind)),
        limit=settings.DOMAIN_ORDER_FOLLOW_LIMIT, delay=domain_order_delay,
        after_limit="the periodic sweep goes on reading it")


@shared_task(name="billing.follow_domain_orders", ignore_result=True)
def follow_domain_orders() -> int:
    """Every few minutes (CELERY_BEAT_SCHEDULE): read again every placed order that has
    not ended, for every enabled account whose upstream lets an order be read. Returns
    how many were read. Some upstreams (document 001) have no order webhook, so polling
    is how an order's completion, failure or refund reaches us."""
    from billing.order_sync import open_orders, refresh_open_orders
    from registrar.models import ProviderAccount
    from registrar.providers.base import Capability

    read = 0
    for account in ProviderAccount.objects.filter(enabled=True).with_capability(
            Capability.ORDER_FOLLOW):
        if not open_orders(account).exists():
            continue
        report = refresh_open_orders(account)
        read += report.seen
        if report.aborted or report.failed:
            logger.warning(report.summary())
    return read


# Settling an order whose placement got no usable answer.
ORDER_SETTLE_MAX_RETRIES = 8


@shared_task(name="billing.settle_order", bind=True, ignore_result=True,
             max_retries=ORDER_SETTLE_MAX_RETRIES)
def settle_order(self, order_id: int, attempt: int = 1) -> str:
    """Ask the upstream what became of an order whose answer was lost, again later while
    it shows nothing yet (until the grace period says it was not placed). An upstream
    that cannot be asked now is retried with backoff."""
    from billing.settling import grace, order_settle
    from registrar.providers.errors import ProviderError

    order = Order.objects.select_related("provider_account", "registration").filter(
        pk=order_id).first()
    if order is None:
        return "gone"
    try:
        result = order_settle(order=order)
    except ProviderError as error:
        if self.request.retries < ORDER_SETTLE_MAX_RETRIES:
            raise self.retry(exc=error, countdown=retry_delay(self.request.retries)) from error
        logger.warning("Order %s is still unsettled: %s", order_id, error.message)
        return "unsettled"
    if result == "waiting":
        # Back at the grace period's end at the latest: then "not placed" is concluded.
        delay = min(retry_delay(attempt), grace().total_seconds())
        settle_order.apply_async((order_id,), {"attempt": attempt + 1}, countdown=delay)
    elif result == "unsupported":
        logger.warning("Order %s: its upstream gives no way to tell what became of it; a "
                       "person must check it there.", order_id)
    return result


@shared_task(name="billing.settle_unsettled_orders", ignore_result=True)
def settle_unsettled_orders() -> int:
    """Sweep: another attempt for every unsettled order (its task gave up, or was lost)."""
    from billing.settling import can_ask, unsettled_orders

    ids = [order.pk for order in unsettled_orders().select_related("provider_account")
           if can_ask(order)]
    for order_id in ids:
        settle_order.apply_async((order_id,), countdown=0)
    return len(ids)


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


@shared_task(name="billing.compact_order_totals", ignore_result=True)
def compact_order_totals() -> None:
    """Every few minutes: fold the order-total deltas the database appends on each write
    (billing/migrations/0012_order_totals.py) so reading them stays a small read."""
    from billing.finance.totals import compact_order_totals as compact

    compact()
