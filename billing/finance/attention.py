"""Orders that need a person from finance: the needs-attention report and its count.

Every rule is a database condition on Order (querysets, never a loop over orders), so
the report, its section counts and the dashboard figure all read the same definition.
Each reads only the order's own row: what the ledger holds for an order (succeeded
payments and refunds, refunds still pending) is kept on it by the ledger's writes
(billing.ledger.refresh_ledger_figures, in the transaction that adds the entry), and
each rule has its partial index (billing.models.ATTENTION_INDEXES). A section, its
count and the dashboard's figure are so many index scans, however many orders there are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import (
    BigIntegerField,
    ExpressionWrapper,
    F,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.utils import timezone

from billing.models import (
    ATTENTION_CONDITIONS,
    AWAITING_DELIVERY_STATUSES,
    DELIVERY_FAILED_STATUSES,
    LedgerEntry,
    Order,
    OrderStatus,
)

Kind = LedgerEntry.Kind
State = LedgerEntry.State

def undelivered_after() -> timedelta:
    """How long a charged order may wait for its registration or transfer."""
    return timedelta(minutes=settings.FINANCE_UNDELIVERED_AFTER_MINUTES)


def describe_delay(delay: timedelta) -> str:
    """60 minutes -> "1 hour", 1440 -> "1 day", 90 -> "90 minutes"."""
    minutes = int(delay.total_seconds() // 60)
    for size, unit in ((24 * 60, "day"), (60, "hour"), (1, "minute")):
        if minutes and minutes % size == 0:
            count = minutes // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return "0 minutes"


def _unsettled_pending_refunds() -> QuerySet[LedgerEntry]:
    """Refunds asked for and not yet resolved: pending, and no later entry settles them."""
    return LedgerEntry.objects.filter(kind=Kind.REFUND, state=State.PENDING,
                                      settled_by__isnull=True)


# --- the rules, as conditions on Order ------------------------------------------------


def undelivered_condition(now: datetime) -> Q:
    return ATTENTION_CONDITIONS["undelivered"] & Q(placed_at__lt=now - undelivered_after())


def failed_unrefunded_condition() -> Q:
    return ATTENTION_CONDITIONS["failed_unrefunded"]


def refund_pending_condition() -> Q:
    return ATTENTION_CONDITIONS["refund_pending"]


def price_mismatch_condition() -> Q:
    return ATTENTION_CONDITIONS["price_mismatch"]


def refunded_nothing_condition() -> Q:
    return ATTENTION_CONDITIONS["refunded_nothing"]


def unsettled_condition() -> Q:
    return ATTENTION_CONDITIONS["unsettled"]


# --- the report -------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    rule: str
    orders: QuerySet[Order]
    #: The same orders without the listing's annotations: what is counted.
    matching: QuerySet[Order] | None = None


def _base() -> QuerySet[Order]:
    return Order.objects.select_related("account").order_by("placed_at", "id")


def undelivered(now: datetime | None = None) -> QuerySet[Order]:
    """Charged (a status in AWAITING_DELIVERY_STATUSES) and placed longer ago than
    `FINANCE_UNDELIVERED_AFTER_MINUTES`, and still not registered or transferred."""
    return _base().filter(undelivered_condition(now or timezone.now()))


def failed_unrefunded() -> QuerySet[Order]:
    """The registration or transfer failed (DELIVERY_FAILED_STATUSES), money was taken
    (succeeded payment entries in the ledger add up to more than 0), and the succeeded
    refund entries add up to less than those payments. The ledger is what decides, not
    the order's `refunded_minor`: it is the money that actually moved back. A refund
    still pending does not count until it succeeds (it is also listed under pending
    refunds). The ledger's sums are the order's `paid_minor` and `refunded_back_minor`."""
    return _base().filter(failed_unrefunded_condition())


def refunds_pending() -> QuerySet[Order]:
    """Orders with a refund entry in state pending that no later entry settles
    (`settled_by` is empty). Annotated with `pending_refund_minor` (their sum) and
    `pending_since` (the oldest)."""
    pending = _unsettled_pending_refunds().filter(order=OuterRef("pk")).order_by().values(
        "order")
    return _base().filter(refund_pending_condition()).annotate(
        pending_refund_minor=Subquery(pending.annotate(total=Sum("amount_minor")).values(
            "total"), output_field=BigIntegerField()),
        pending_since=Subquery(pending.annotate(first=Min("occurred_at")).values("first")),
    )


def price_mismatches() -> QuerySet[Order]:
    """Charged orders whose total differs from the quoted total staff were shown.
    Annotated with `difference_minor` = total - quoted (negative: charged less)."""
    return _base().filter(price_mismatch_condition()).annotate(
        difference_minor=ExpressionWrapper(
            F("total_minor") - F("quoted_total_minor"), output_field=BigIntegerField()))


def refunded_nothing() -> QuerySet[Order]:
    """Status refunded while `refunded_minor` is 0: the order and its money disagree."""
    return _base().filter(refunded_nothing_condition())


def unsettled() -> QuerySet[Order]:
    """Placed, and no usable answer came back: whether the upstream took (and charged)
    it is not known yet; the back-office is asking it (billing.settle_order)."""
    return _base().filter(unsettled_condition())


def sections(now: datetime | None = None) -> list[Section]:
    now = now or timezone.now()
    delay = describe_delay(undelivered_after())
    return [
        Section("undelivered", "Charged but not delivered",
                f"Money was taken (status {_statuses(AWAITING_DELIVERY_STATUSES)}) and the "
                f"order was placed more than {delay} ago, but it is not registered or "
                f"transferred yet.",
                undelivered(now)),
        Section("failed-unrefunded", "Delivery failed, money not given back",
                f"Status {_statuses(DELIVERY_FAILED_STATUSES)}, the ledger holds succeeded "
                "payments, and its succeeded refunds add up to less than those payments. "
                "A pending refund counts only once it succeeds.",
                failed_unrefunded()),
        Section("refunds-pending", "Refunds pending",
                "A refund entry is pending and no later ledger entry settles it.",
                refunds_pending(), _base().filter(refund_pending_condition())),
        Section("price-mismatch", "Charged a different price than quoted",
                "A charged order whose total differs from the quoted total staff were shown.",
                price_mismatches(), _base().filter(price_mismatch_condition())),
        Section("refunded-nothing", "Marked refunded, nothing refunded",
                "Status Refunded while the order's refunded amount is 0.",
                refunded_nothing()),
        Section("unsettled", "Placed, outcome unknown",
                "The order was sent and no usable answer came back: it may have been placed "
                "and charged. The back-office keeps asking the upstream; until it knows, "
                "do not place it again.",
                unsettled()),
    ]


def _conditions(now: datetime) -> list[Q]:
    return [undelivered_condition(now), failed_unrefunded_condition(),
            refund_pending_condition(), price_mismatch_condition(),
            refunded_nothing_condition(), unsettled_condition()]


def needing_attention(now: datetime | None = None) -> QuerySet[Order]:
    """Every order that appears in at least one section, once."""
    condition = Q()
    for rule in _conditions(now or timezone.now()):
        condition |= rule
    return Order.objects.filter(condition)


def count_needing_attention(cap: int, now: datetime | None = None) -> int:
    """How many orders appear in at least one section, counted up to `cap` + 1: each
    section's ids from its own partial index (at most cap + 1 of them), stopping once
    more than `cap` are known. PostgreSQL's planner cannot tell how few orders the OR of
    the six rules matches (the price rule compares two columns) and would read the
    table for it."""
    found: set[int] = set()
    for rule in _conditions(now or timezone.now()):
        found.update(Order.objects.filter(rule).order_by().values_list("pk", flat=True)[
            :cap + 1])
        if len(found) > cap:
            break
    return min(len(found), cap + 1)


def oldest_needing_attention(count: int, now: datetime | None = None) -> list[Order]:
    """The `count` orders needing attention placed first: each section's first few from
    its partial index (kept in placed_at, id order), then the oldest of those."""
    first: set[tuple] = set()
    for rule in _conditions(now or timezone.now()):
        first.update(Order.objects.filter(rule).order_by("placed_at", "id").values_list(
            "placed_at", "id")[:count])
    chosen = [pk for _, pk in sorted(first)[:count]]
    return list(Order.objects.filter(pk__in=chosen).order_by("placed_at", "id"))


def _statuses(statuses) -> str:
    labels = sorted(OrderStatus(status).label for status in statuses)
    return ", ".join(labels[:-1]) + f" or {labels[-1]}" if len(labels) > 1 else labels[0]
