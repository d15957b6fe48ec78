"""Order list with totals, and its CSV export.

Both read `filtered_orders(request.GET)`, so the page, its totals, its chart and the
download always describe the same orders; invalid parameters select no orders (and
the download refuses) rather than silently widening to everything.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    QueryDict,
    StreamingHttpResponse,
)
from django.template.response import TemplateResponse
from django.utils import timezone

from backoffice import audit
from backoffice.changelist import ScaledPaginator
from backoffice.ids import parse_pk
from backoffice.models import StaffAction
from billing.finance.access import EXPORT_PERMISSION, finance_view, page_context
from billing.finance.export import OrderCsv
from billing.finance.filters import (
    OrderFilter,
    error_messages,
    filtered_orders,
    parameter_names,
)
from billing.finance.totals import totals_by_currency
from billing.models import Order
from registrar.money import to_decimal

PER_PAGE = 50
DEFAULT_SORT = "-placed"

# Column headings of the list: (label, sort parameter or None, right-aligned).
_COLUMNS = (
    ("ID", "id", False),
    ("Placed (UTC)", "placed", False),
    ("Domain", "domain", False),
    ("Kind", "kind", False),
    ("Status", "status", False),
    ("Account", None, False),
    ("Provider", None, False),
    ("Currency", "currency", False),
    ("Total", "total", True),
    ("Refunded", "refunded", True),
    ("Net", None, True),
)


def filter_parameters(params: QueryDict, order_filter: OrderFilter) -> QueryDict:
    """The filter (and sort) parameters of a request without the page number, the empty
    fields a submitted form sends and the parameters no filter reads: what links to the
    same set carry along, and what the export's audit row records (a key the filter
    never read could hold anything, a NUL that PostgreSQL cannot store among them)."""
    known = parameter_names(order_filter)
    kept = QueryDict(mutable=True)
    for key, values in params.lists():
        if key not in known:
            continue
        # Exactly what the filter read: a field of one value reads the last one given.
        chosen = [value for value in (values if known[key] else values[-1:]) if value != ""]
        if chosen:
            kept.setlist(key, chosen)
    return kept


def _with(params: QueryDict, **values: str | None) -> str:
    changed = params.copy()
    for key, value in values.items():
        changed.pop(key, None)
        if value is not None:
            changed[key] = value
    return changed.urlencode()


def _deterministic(orders: QuerySet[Order]) -> QuerySet[Order]:
    """`orders` with the id as the last sort key, so that orders with equal totals (or
    statuses, ...) keep their places from one page to the next, as in the admin."""
    ordering = list(orders.query.order_by or Order._meta.ordering)
    if any(key.lstrip("-") in ("id", "pk") for key in ordering):
        return orders
    return orders.order_by(*ordering, "-id")


def _current_sort(order_filter: OrderFilter) -> list[str]:
    if order_filter.is_bound and order_filter.is_valid():
        chosen = order_filter.form.cleaned_data.get("sort")
        if chosen:
            return list(chosen)
    return [DEFAULT_SORT]


def _headings(params: QueryDict, sort: list[str]) -> list[dict[str, Any]]:
    """Each column's label and, when sortable, the link that sorts by it: ascending
    first, descending when it is already the ascending key."""
    primary = sort[0] if sort else ""
    headings = []
    for label, name, numeric in _COLUMNS:
        heading: dict[str, Any] = {"label": label, "numeric": numeric, "url": None,
                                   "direction": None}
        if name is not None:
            if primary == name:
                heading["direction"] = "ascending"
                target = f"-{name}"
            elif primary == f"-{name}":
                heading["direction"] = "descending"
                target = name
            else:
                target = name
            heading["url"] = "?" + _with(params, sort=target, page=None)
        headings.append(heading)
    return headings


def _row(order: Order) -> dict[str, Any]:
    return {
        "order": order,
        "total": str(to_decimal(order.total_minor, order.currency)),
        "refunded": str(to_decimal(order.refunded_minor, order.currency)),
        "net": str(to_decimal(order.net_minor, order.currency)),
    }


def _page_number(request: HttpRequest) -> int | str:
    """The page asked for, or 1 with a message when it is not a page number (any text
    the Paginator would quietly read: " 2", "+2", 400 digits, other scripts' digits);
    "last" is the Paginator's own word for the last page."""
    asked = request.GET.getlist("page")
    if not asked or asked == [""] or asked == ["last"]:
        return asked[0] if asked and asked[0] else 1
    if len(asked) == 1 and parse_pk(asked[0]) is not None:
        return parse_pk(asked[0])
    messages.warning(request, "The page number was not valid, so the first page is shown.")
    return 1


@finance_view()
def order_list(request: HttpRequest) -> HttpResponse:
    order_filter = filtered_orders(request.GET)
    invalid = order_filter.is_bound and not order_filter.is_valid()
    # Accounts by id for the page's rows (prefetched), not joined: a filtered set's size
    # is a guess to the planner, which may otherwise hash every account to join a few.
    orders = _deterministic(order_filter.qs).select_related(
        "provider_account", "tld").prefetch_related("account")
    # Counted as the admin's lists are (an estimate unfiltered, capped filtered) and deep
    # pages read by a deferred join: never a COUNT(*) of every order.
    page = ScaledPaginator(orders, PER_PAGE).get_page(_page_number(request))
    params = filter_parameters(request.GET, order_filter)
    sort = _current_sort(order_filter)
    context = page_context(
        request,
        "Orders",
        finance_section="orders",
        filter=order_filter,
        form=order_filter.form,
        form_errors=error_messages(order_filter) if invalid else [],
        invalid=invalid,
        page=page,
        page_range=page.paginator.get_elided_page_range(page.number, on_each_side=2,
                                                        on_ends=1),
        page_url_prefix="?" + (f"{params.urlencode()}&" if params else "") + "page=",
        rows=[_row(order) for order in page.object_list],
        headings=_headings(params, sort),
        totals=totals_by_currency(order_filter.qs),
        params=params.urlencode(),
        filtered=bool(params),
    )
    return TemplateResponse(request, "finance/order_list.html", context)


def _audit_parameters(params: QueryDict) -> dict[str, Any]:
    return {key: values[0] if len(values) == 1 else values
            for key, values in params.lists()}


@finance_view(EXPORT_PERMISSION)
def order_export(request: HttpRequest) -> HttpResponse:
    order_filter = filtered_orders(request.GET)
    if order_filter.is_bound and not order_filter.is_valid():
        lines = ["The filter is invalid, so nothing was exported:"]
        lines += [f"- {message}" for message in error_messages(order_filter)]
        return HttpResponseBadRequest("\n".join(lines) + "\n",
                                      content_type="text/plain; charset=utf-8")
    params = filter_parameters(request.GET, order_filter)
    # Recorded before the download streams, so an interrupted download is on record too:
    # the filter says exactly which orders, the count how many matched when it started.
    rows = order_filter.qs.count()
    audit.record(
        actor=request.user,
        action="orders.export",
        parameters=_audit_parameters(params),
        outcome=StaffAction.Outcome.SUCCEEDED,
        message=f"Exported {rows} order{'' if rows == 1 else 's'} as CSV"
        + (" (filtered)." if params else " (all orders)."),
    )
    response = StreamingHttpResponse(OrderCsv(_deterministic(order_filter.qs)),
                                     content_type="text/csv; charset=utf-8")
    filename = f"orders-{timezone.now():%Y%m%d-%H%M%S}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
