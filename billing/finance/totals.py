"""Money totals of a set of orders, per currency, summed by the database.

The rule is the one `Order.gross_minor` and `Order.net_minor` state for one order:
gross counts `total_minor` only for orders in `CHARGED_STATUSES` (a quote or a failed
payment took no money), fees likewise count only for charged orders, refunds count
`refunded_minor` of every order, and net is gross less refunds. Amounts in different
currencies are never added together.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connections
from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    Expression,
    F,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from billing.models import CHARGED_STATUSES, Order
from registrar.money import format_minor

_CHARGED = sorted(str(status) for status in CHARGED_STATUSES)


@dataclass(frozen=True)
class CurrencyTotals:
    """The totals of one currency, in its minor units."""

    currency: str
    count: int
    gross_minor: int
    fees_minor: int
    refunds_minor: int

    @property
    def net_minor(self) -> int:
        return self.gross_minor - self.refunds_minor

    @property
    def gross(self) -> str:
        return format_minor(self.gross_minor, self.currency)

    @property
    def fees(self) -> str:
        return format_minor(self.fees_minor, self.currency)

    @property
    def refunds(self) -> str:
        return format_minor(self.refunds_minor, self.currency)

    @property
    def net(self) -> str:
        return format_minor(self.net_minor, self.currency)


#: Each amount is summed as two halves below and above 2**32. A money column holds up to
#: 2**63 - 1 (registrar.values.amounts.MAX_MINOR), so two orders at the maximum already
#: sum beyond a bigint: SQLite raises "integer overflow" and PostgreSQL's numeric sum
#: would be cast back. Each half of one amount is below 2**32, so a sum of halves stays
#: inside 64 bits for two thousand million rows; Python adds the halves back exactly.
SPLIT = 2**32


def _halves(amount: Expression) -> tuple[Expression, Expression]:
    # Integer division truncates in both databases; the amounts are never negative.
    high = amount / Value(SPLIT)
    return high, amount - high * Value(SPLIT)


def exact_sums(name: str, amount: Expression) -> dict[str, Coalesce]:
    """Aggregates `<name>_high` and `<name>_low` that `combine` turns into the exact sum
    of the non-negative bigint `amount`, however large."""
    high, low = _halves(amount)
    return {f"{name}_high": Coalesce(Sum(high, output_field=BigIntegerField()), Value(0),
                                     output_field=BigIntegerField()),
            f"{name}_low": Coalesce(Sum(low, output_field=BigIntegerField()), Value(0),
                                    output_field=BigIntegerField())}


def combine(row: dict, name: str) -> int:
    # int(): PostgreSQL's SUM over bigint is numeric, which arrives as a Decimal.
    return int(row[f"{name}_high"]) * SPLIT + int(row[f"{name}_low"])


def charged_amount(field: str) -> Case:
    """`field` for an order in a charged status, else 0."""
    return Case(When(status__in=_CHARGED, then=F(field)), default=Value(0),
                output_field=BigIntegerField())


def _all_orders(queryset: QuerySet[Order]) -> bool:
    """Whether `queryset` is every order, unsliced and unfiltered."""
    query = queryset.query
    return (queryset.model is Order and not query.where and not query.is_sliced
            and not query.combinator and not query.distinct)


def compact_order_totals(using: str = "default") -> None:
    """Fold the appended deltas together (PostgreSQL; nothing to do elsewhere)."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT billing_order_total_compact()")


def totals_of_all_orders(using: str = "default") -> list[CurrencyTotals]:
    """`totals_by_currency` of every order, from the deltas the triggers keep: a read of
    a few hundred rows instead of a sum over every order. Elsewhere, the sum."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return _summed(Order.objects.using(using))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT currency, status, sum(order_count), sum(total_minor), sum(fees_minor),"
            " sum(refunded_minor) FROM billing_order_total_delta GROUP BY currency, status")
        rows = cursor.fetchall()
    by_currency: dict[str, list[int]] = {}
    for currency, status, count, total, fees, refunded in rows:
        figures = by_currency.setdefault(currency, [0, 0, 0, 0])
        charged = status in _CHARGED
        figures[0] += int(count)
        figures[1] += int(total) if charged else 0
        figures[2] += int(fees) if charged else 0
        figures[3] += int(refunded)
    return [CurrencyTotals(currency=currency, count=count, gross_minor=gross,
                           fees_minor=fees, refunds_minor=refunds)
            for currency, (count, gross, fees, refunds) in sorted(by_currency.items())
            if count]


def totals_by_currency(queryset: QuerySet[Order]) -> list[CurrencyTotals]:
    """A row per currency present in `queryset`, by currency code: for every order, what
    the triggers keep; otherwise one aggregate query over `queryset`."""
    if _all_orders(queryset):
        return totals_of_all_orders(queryset.db)
    return _summed(queryset)


def _summed(queryset: QuerySet[Order]) -> list[CurrencyTotals]:
    """One aggregate query over `queryset`.

    Any ordering on `queryset` is dropped first: an ORDER BY column would otherwise join
    the GROUP BY and split the groups."""
    rows = (
        queryset.order_by()
        .values("currency")
        .annotate(
            order_count=Count("pk"),
            **exact_sums("gross", charged_amount("total_minor")),
            **exact_sums("fees", charged_amount("fees_minor")),
            **exact_sums("refunds", F("refunded_minor")),
        )
        .order_by("currency")
    )
    return [
        CurrencyTotals(
            currency=row["currency"],
            count=row["order_count"],
            gross_minor=combine(row, "gross"),
            fees_minor=combine(row, "fees"),
            refunds_minor=combine(row, "refunds"),
        )
        for row in rows
    ]
