"""Net revenue by month per currency, grouped in the database and drawn as an SVG.

Net follows Order.net_minor: the total for an order in a charged status, less what was
refunded. Each currency gets its own panel and scale (a yen amount is not comparable
with a euro amount). Output is deterministic, so tests can read it: each bar carries
data-currency, data-month (YYYY-MM), data-net (major units) and data-net-minor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date
from xml.sax.saxutils import escape, quoteattr

from django.db.models import F, Q, QuerySet
from django.db.models.functions import TruncMonth

from billing.finance.totals import charged_amount, combine, exact_sums
from billing.models import CHARGED_STATUSES, Order
from registrar.money import to_decimal

TITLE = "Net revenue by month per currency"
EMPTY_MESSAGE = "No charged orders in this period"
#: A filter bound further than this from the data is not stretched to: the chart would be
#: all empty months.
MAX_MONTHS = 120

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_COLOURS = ("#417690", "#c4621d", "#5b8c3a", "#8a4f9e", "#b8a11f", "#3b8f8f", "#9e4f5f")

# Layout, in SVG user units.
_WIDTH_MIN = 640
_MONTH_WIDTH = 44
_LEFT = 96
_RIGHT = 40  # room for the last month's label
_TOP = 48
_PANEL_HEIGHT = 180
_PANEL_GAP = 56
_TICKS = 4


@dataclass(frozen=True)
class Series:
    currency: str
    points: list[tuple[date, int]]  # (first of month, net in minor units), every month


def net_by_month(orders: QuerySet[Order], *, start: date | None = None,
                 end: date | None = None) -> list[Series]:
    """One series per currency over the same months, gaps filled with 0. The months run
    from the first to the last with data, stretched to `start` / `end` when given."""
    # Gross and refunds summed apart, each exactly (totals.exact_sums): a month with two
    # orders at the column's maximum sums beyond a bigint.
    rows = (
        orders.filter(Q(status__in=CHARGED_STATUSES) | Q(refunded_minor__gt=0))
        .annotate(month=TruncMonth("placed_at", tzinfo=UTC))
        .order_by()
        .values("currency", "month")
        .annotate(**exact_sums("gross", charged_amount("total_minor")),
                  **exact_sums("refunds", F("refunded_minor")))
        .order_by("currency", "month")
    )
    nets: dict[str, dict[date, int]] = {}
    for row in rows:  # one row per currency and month, never per order
        month = _month_of(row["month"])
        nets.setdefault(row["currency"], {})[month] = (combine(row, "gross")
                                                       - combine(row, "refunds"))
    if not nets:
        return []
    seen = [month for by_month in nets.values() for month in by_month]
    first, last = min(seen), max(seen)
    wide_first = min(first, _first_of(start)) if start else first
    wide_last = max(last, _first_of(end)) if end else last
    if _months_between(wide_first, wide_last) < MAX_MONTHS:
        first, last = wide_first, wide_last
    months = month_range(first, last)
    return [Series(currency, [(month, by_month.get(month, 0)) for month in months])
            for currency, by_month in sorted(nets.items())]


def month_range(first: date, last: date) -> list[date]:
    months, month = [], first
    while month <= last:
        months.append(month)
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return months


def _month_of(value) -> date:
    return date(value.year, value.month, 1)


def _first_of(day: date) -> date:
    return date(day.year, day.month, 1)


def _months_between(first: date, last: date) -> int:
    return (last.year - first.year) * 12 + last.month - first.month


def month_label(month: date) -> str:
    return f"{_MONTHS[month.month - 1]} {month.year}"


def nice_ticks(low: int, high: int) -> list[int]:
    """Round gridline values (1, 2 or 5 times a power of ten, in minor units) covering
    low..high, which include 0."""
    span = max(high - low, 1)
    raw = span / _TICKS
    magnitude = 1
    while magnitude * 10 <= raw:
        magnitude *= 10
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = (low // step) * step
    ticks, value = [], first
    while True:
        ticks.append(value)
        if value >= high:
            break
        value += step
    return ticks


def format_major(amount_minor: int, currency: str) -> str:
    return f"{to_decimal(amount_minor, currency):,}"


def _attr(value) -> str:
    return quoteattr(str(value))


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def render_svg(series: list[Series], *, message: str = "") -> str:
    """The chart, or the empty state (with `message` when given) when there is no series."""
    if not series:
        return _empty_svg(message or EMPTY_MESSAGE)
    months = [month for month, _ in series[0].points]
    width = max(_WIDTH_MIN, _LEFT + _RIGHT + _MONTH_WIDTH * len(months))
    height = _TOP + len(series) * (_PANEL_HEIGHT + _PANEL_GAP)
    plot_width = width - _LEFT - _RIGHT
    slot = plot_width / len(months)
    label_every = max(1, -(-len(months) * 60 // plot_width))  # keep labels ~60 apart

    summary = "; ".join(
        f"{s.currency}: " + ", ".join(f"{month_label(m)} {format_major(v, s.currency)}"
                                      for m, v in s.points)
        for s in series)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="revenue-title revenue-desc" class="revenue-chart" '
        # Presentation attributes, inherited by the text, rather than a <style>: the
        # picture's Content-Security-Policy allows no styles at all.
        f'font-family="sans-serif" font-size="12" fill="#333">',
        f'<title id="revenue-title">{escape(TITLE)}</title>',
        f'<desc id="revenue-desc">{escape(summary)}</desc>',
    ]
    parts.append('<g class="legend">')
    for index, s in enumerate(series):
        x = _LEFT + index * 90
        parts.append(
            f'<g class="legend-item" data-currency={_attr(s.currency)}>'
            f'<rect x="{x}" y="12" width="12" height="12" fill="{_colour(index)}"/>'
            f'<text x="{x + 18}" y="22">{escape(s.currency)}</text></g>')
    parts.append("</g>")

    for index, s in enumerate(series):
        top = _TOP + index * (_PANEL_HEIGHT + _PANEL_GAP)
        parts.append(_panel(s, index, top, months, slot, label_every, width))
    parts.append("</svg>")
    return "\n".join(parts)


def _panel(s: Series, index: int, top: int, months: list[date], slot: float,
           label_every: int, width: int) -> str:
    values = [v for _, v in s.points]
    ticks = nice_ticks(min(0, *values), max(0, *values))
    low, high = ticks[0], ticks[-1]
    plot_top, plot_bottom = top + 20, top + _PANEL_HEIGHT

    def y(value: int) -> float:
        return plot_bottom - (value - low) / (high - low or 1) * (plot_bottom - plot_top)

    out = [f'<g class="panel" data-currency={_attr(s.currency)}>',
           f'<text class="panel-title" x="{_LEFT}" y="{top + 8}" font-weight="bold">'
           f'{escape(s.currency)} (net, in {escape(s.currency)})</text>']
    for tick in ticks:
        ty = _num(y(tick))
        out.append(f'<line class="grid" x1="{_LEFT}" x2="{width - _RIGHT}" y1="{ty}" '
                   f'y2="{ty}" stroke="#ddd"/>'
                   f'<text x="{_LEFT - 6}" y="{_num(y(tick) + 4)}" text-anchor="end">'
                   f'{escape(format_major(tick, s.currency))}</text>')
    zero = y(0)
    bar_width = max(2.0, slot * 0.7)
    for position, (month, net) in enumerate(s.points):
        x = _LEFT + position * slot + (slot - bar_width) / 2
        top_y, bottom_y = min(y(net), zero), max(y(net), zero)
        label = f"{month_label(month)}: {format_major(net, s.currency)} {s.currency}"
        out.append(
            f'<rect class="bar" data-currency={_attr(s.currency)} '
            f'data-month="{month:%Y-%m}" data-net={_attr(to_decimal(net, s.currency))} '
            f'data-net-minor="{net}" x="{_num(x)}" y="{_num(top_y)}" '
            f'width="{_num(bar_width)}" height="{_num(bottom_y - top_y)}" '
            f'fill="{_colour(index)}"><title>{escape(label)}</title></rect>')
    out.append(f'<line class="axis" x1="{_LEFT}" x2="{width - _RIGHT}" y1="{_num(zero)}" '
               f'y2="{_num(zero)}" stroke="#666"/>')
    for position, month in enumerate(months):
        if position % label_every:
            continue
        x = _LEFT + position * slot + slot / 2
        out.append(f'<text class="month" x="{_num(x)}" y="{plot_bottom + 16}" '
                   f'text-anchor="middle">{escape(month_label(month))}</text>')
    out.append("</g>")
    return "".join(out)


def _empty_svg(message: str) -> str:
    """The message in full in <desc>; drawn cut short so it stays inside the picture."""
    width, height = _WIDTH_MIN, 120
    shown = message if len(message) <= 90 else message[:89] + "…"
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="revenue-title '
        f'revenue-desc" class="revenue-chart empty">',
        f'<title id="revenue-title">{escape(TITLE)}</title>',
        f'<desc id="revenue-desc">{escape(message)}</desc>',
        f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" fill="#f8f8f8" '
        'stroke="#ddd"/>',
        f'<text x="{width // 2}" y="{height // 2}" text-anchor="middle" '
        f'font-family="sans-serif" font-size="14" fill="#666">{escape(shown)}</text>',
        "</svg>",
    ])


def _colour(index: int) -> str:
    return _COLOURS[index % len(_COLOURS)]


def revenue_svg(orders: QuerySet[Order], *, start: date | None = None,
                end: date | None = None) -> str:
    return render_svg(net_by_month(orders, start=start, end=end))
