"""Money totals of a set of orders, per currency, summed by the database.

The rule is the one `Order.gross_minor` and `Order.net_minor` state for one order:
gross counts `total_minor` only for orders in `CHARGED_STATUSES` (a quote or a failed
payment took no money), fees likewise count only for charged orders, refunds count
`refunded_minor` of every order, and net is gross less refunds. Amounts in different
currencies are never added together.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import BigIntegerField, Case, Count, F, QuerySet, Sum, Value, When
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


def _charged_sum(field: str) -> Coalesce:
    charged_amount = Case(
        When(status__in=_CHARGED, then=F(field)),
        default=Value(0),
        output_field=BigIntegerField(),
    )
    return Coalesce(Sum(charged_amount), Value(0), output_field=BigIntegerField())


def totals_by_currency(queryset: QuerySet[Order]) -> list[CurrencyTotals]:
    """One aggregate query over `queryset`: a row per currency present, by currency code.

    Any ordering on `queryset` is dropped first: an ORDER BY column would otherwise join
    the GROUP BY and split the groups."""
    rows = (
        queryset.order_by()
        .values("currency")
        .annotate(
            order_count=Count("pk"),
            gross=_charged_sum("total_minor"),
            fees=_charged_sum("fees_minor"),
            refunds=Coalesce(Sum("refunded_minor"), Value(0),
                             output_field=BigIntegerField()),
        )
        .order_by("currency")
    )
    # int(): PostgreSQL's SUM over bigint is numeric, which arrives as a Decimal.
    return [
        CurrencyTotals(
            currency=row["currency"],
            count=row["order_count"],
            gross_minor=int(row["gross"]),
            fees_minor=int(row["fees"]),
            refunds_minor=int(row["refunds"]),
        )
        for row in rows
    ]
