"""Order detail timeline, needs-attention report, revenue chart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property

from django.core.paginator import EmptyPage, Page
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.timesince import timesince

from backoffice.changelist import COUNT_CAP, ScaledPaginator
from backoffice.ids import parse_pk
from billing.finance import attention, chart
from billing.finance.access import finance_view, page_context
from billing.finance.filters import error_messages, filtered_orders
from billing.finance.timeline import order_for_detail, order_timeline
from billing.models import LedgerEntry, Order
from registrar.money import format_minor

#: Rows per page of a needs-attention section, oldest first; the count above each table
#: is the full one (capped at backoffice.changelist.COUNT_CAP).
ATTENTION_ROWS = 100


@finance_view()
def order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    if parse_pk(pk) is None:  # <int:> takes 400 digits too, beyond any database's ids
        raise Http404("No such order.")
    order = get_object_or_404(order_for_detail(), pk=pk)
    return render(request, "finance/order_detail.html", page_context(
        request, f"Order {order.pk}", finance_section="orders", order=order,
        money=_money_facts(order),
        items=[{"item": item, "unit": format_minor(item.unit_amount_minor, order.currency),
                "total": format_minor(item.total_minor, order.currency)}
               for item in order.items.all()],
        timeline=order_timeline(order, viewer=request.user),
    ))


def _money_facts(order: Order) -> list[tuple[str, str]]:
    entries = order.ledger_entries.all()  # prefetched
    paid = sum(e.amount_minor for e in entries
               if e.kind == LedgerEntry.Kind.PAYMENT and e.state == LedgerEntry.State.SUCCEEDED)
    refunded = sum(e.amount_minor for e in entries
                   if e.kind == LedgerEntry.Kind.REFUND and e.state == LedgerEntry.State.SUCCEEDED)
    money = order.currency
    facts = [
        ("Subtotal", format_minor(order.subtotal_minor, money)),
        ("Fees", format_minor(order.fees_minor, money)),
        ("Total", format_minor(order.total_minor, money)),
        ("Quoted total", format_minor(order.quoted_total_minor, money)),
        ("Charged", format_minor(order.gross_minor, money) if order.charged
         else f"nothing ({order.get_status_display()})"),
    ]
    if order.quoted_total_minor is not None and order.charged:
        difference = order.total_minor - order.quoted_total_minor
        facts.append(("Charged minus quoted",
                      "none" if difference == 0 else _signed(difference, money)))
    facts += [
        ("Refunded", format_minor(order.refunded_minor, money)),
        ("Net", format_minor(order.net_minor, money)),
        ("Ledger: payments succeeded", format_minor(paid, money)),
        ("Ledger: refunds succeeded", format_minor(refunded, money)),
    ]
    return facts


def _signed(amount_minor: int, currency: str) -> str:
    sign = "+" if amount_minor > 0 else "-"
    return f"{sign}{format_minor(abs(amount_minor), currency)}"


@dataclass
class AttentionTable:
    section: attention.Section
    count: int
    count_label: str
    headers: list[str]
    rows: list[dict]
    page: Page
    page_parameter: str


class _SectionPaginator(ScaledPaginator):
    """A section's pages: its rows with their annotations, counted (capped, as every list
    at scale) on the same orders without them."""

    def __init__(self, orders, matching, per_page):
        super().__init__(orders, per_page)
        self.matching = matching

    @cached_property
    def count(self) -> int:
        capped = self.matching.order_by()[:COUNT_CAP + 1].count()
        if capped > COUNT_CAP:
            self.count_is_capped = True
            return COUNT_CAP
        return capped


def _section_page(request: HttpRequest, section: attention.Section, parameter: str) -> Page:
    asked = request.GET.get(parameter, "1")
    number = parse_pk(asked) or 1
    paginator = _SectionPaginator(section.orders, section.matching if section.matching
                                  is not None else section.orders, ATTENTION_ROWS)
    try:
        return paginator.page(number)
    except EmptyPage:
        return paginator.page(1)


@finance_view()
def needs_attention(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    tables = []
    for section in attention.sections(now):
        headers, cells = _COLUMNS[section.key]
        parameter = f"{section.key}-page"
        page = _section_page(request, section, parameter)
        tables.append(AttentionTable(
            section=section, count=page.paginator.count,
            count_label=page.paginator.count_label, headers=headers,
            rows=[{"order": order, "total": format_minor(order.total_minor, order.currency),
                   "cells": cells(order, now)} for order in page.object_list],
            page=page, page_parameter=parameter))
    return render(request, "finance/attention.html", page_context(
        request, "Orders needing attention", finance_section="attention", tables=tables,
        delay=attention.describe_delay(attention.undelivered_after()),
        row_limit=ATTENTION_ROWS))


def _undelivered_cells(order: Order, now) -> list[str]:
    return [order.get_status_display(), timesince(order.placed_at, now)]


def _failed_cells(order: Order, now) -> list[str]:
    return [order.get_status_display(), format_minor(order.paid_minor, order.currency),
            format_minor(order.refunded_back_minor, order.currency),
            format_minor(order.paid_minor - order.refunded_back_minor, order.currency)]


def _pending_cells(order: Order, now) -> list[str]:
    return [format_minor(order.pending_refund_minor, order.currency),
            f"{order.pending_since:%Y-%m-%d %H:%M}", timesince(order.pending_since, now)]


def _mismatch_cells(order: Order, now) -> list[str]:
    return [format_minor(order.quoted_total_minor, order.currency),
            format_minor(order.total_minor, order.currency),
            _signed(order.difference_minor, order.currency)]


def _refunded_nothing_cells(order: Order, now) -> list[str]:
    return [format_minor(order.refunded_minor, order.currency), order.status_reason or "—"]


def _unsettled_cells(order: Order, now) -> list[str]:
    return [order.get_status_display(), timesince(order.unsettled_since, now),
            order.status_reason or "—"]


_COLUMNS = {
    "undelivered": (["Status", "Waiting for"], _undelivered_cells),
    "failed-unrefunded": (["Status", "Paid", "Refunded", "Still owed"], _failed_cells),
    "refunds-pending": (["Pending refund", "Asked", "Pending for"], _pending_cells),
    "price-mismatch": (["Quoted", "Charged", "Difference"], _mismatch_cells),
    "refunded-nothing": (["Refunded", "Reason"], _refunded_nothing_cells),
    "unsettled": (["Status", "Unknown for", "Reason"], _unsettled_cells),
}


@finance_view()
def revenue_chart(request: HttpRequest) -> HttpResponse:
    """The chart of the list page's filtered set. Invalid filters draw the empty state
    with the reason, answered 200 so the page's <img> still shows it."""
    order_filter = filtered_orders(request.GET)
    if order_filter.is_bound and not order_filter.is_valid():
        # Each reason with the field it is about, as on the list page.
        problems = " ".join(dict.fromkeys(error_messages(order_filter)))
        svg = chart.render_svg([], message="The filters are not valid: " + problems)
    else:
        start, end = _placed_range(order_filter)
        svg = chart.revenue_svg(order_filter.qs, start=start, end=end)
    response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
    # Opened on its own, the picture may do nothing at all: it is drawn with presentation
    # attributes, which need no style-src.
    response["Content-Security-Policy"] = "default-src 'none'"
    return response


def _placed_range(order_filter) -> tuple[date | None, date | None]:
    placed = order_filter.form.cleaned_data.get("placed") if order_filter.is_bound else None
    if not placed:
        return None, None
    return (placed.start.date() if placed.start else None,
            placed.stop.date() if placed.stop else None)
