"""Orders as CSV, streamed: exactly the rows of a queryset, in its order, in constant memory.

Rows are read as plain tuples (`values_list`, chunked), never as model instances, and
written in batches, so a million orders cost no more memory than a thousand. The
export is a plain iterable of strings for `StreamingHttpResponse` and for a file alike.

Amounts are exact decimal strings in major units ("13.99" EUR, "1399" JPY), with the
currency in its own column. Gross and net follow `Order.gross_minor`/`Order.net_minor`.
Text that comes from customers or upstreams (domain names, references, e-mail
addresses) is defused: a cell a spreadsheet would run as a formula gets a leading
apostrophe.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from functools import lru_cache

import idna
from django.db.models import QuerySet
from django.db.models.sql.constants import MULTI

from billing.models import CHARGED_STATUSES, Order
from registrar.money import exponent

HEADER = (
    "id", "placed_at", "status", "kind", "domain", "domain_unicode", "tld", "years",
    "purchase_type", "premium", "provider", "account_email", "customer_reference",
    "currency", "subtotal", "fees", "total", "refunded", "gross", "net", "quoted_total",
    "upstream_id",
)

# What is read per order; the order matters to `_RowFormatter.__call__`.
FIELDS = (
    "id", "placed_at", "status", "kind", "domain", "tld__name", "years", "purchase_type",
    "premium", "provider_account__label", "account__email", "customer_reference",
    "currency", "subtotal_minor", "fees_minor", "total_minor", "refunded_minor",
    "quoted_total_minor", "upstream_id",
)

#: Rows fetched from the database per round trip, and written per yielded string.
CHUNK_SIZE = 2000

# Cells a spreadsheet would run as a formula.
_FORMULA_START = frozenset("=+-@\t\r")
_CHARGED = frozenset(str(status) for status in CHARGED_STATUSES)


def csv_safe(text: str | None) -> str:
    """`text` as a cell no spreadsheet runs as a formula ("=HYPERLINK(...)" -> "'=HYPERLINK...")."""
    if not text:
        return ""
    return "'" + text if text[0] in _FORMULA_START else text


def amount_formatter(currency: str) -> Callable[[int], str]:
    """A function minor units -> exact major-unit string for `currency`, equal to
    `str(to_decimal(amount, currency))` but without building a Decimal per cell."""
    exp = exponent(currency)
    if exp == 0:
        return str
    width = exp + 1

    def format_amount(amount: int) -> str:
        if amount < 0:
            return "-" + format_amount(-amount)
        digits = str(amount).rjust(width, "0")
        return f"{digits[:-exp]}.{digits[-exp:]}"

    return format_amount


@lru_cache(maxsize=4096)
def _label_unicode(label: str) -> str | None:
    try:
        return idna.decode(label)
    except (idna.IDNAError, UnicodeError):
        return None


def domain_unicode(domain: str) -> str:
    """`registrar.values.names.to_unicode`, label by label so that the labels an export
    repeats (the TLDs above all) are decoded once; the stored form when one label is
    not a valid A-label. Only names with an A-label pay anything."""
    if "xn--" not in domain:
        return domain
    labels = []
    for label in domain.split("."):
        if label.startswith("xn--"):
            decoded = _label_unicode(label)
            if decoded is None:
                return domain
            labels.append(decoded)
        else:
            labels.append(label)
    return ".".join(labels)


class _LineBuffer:
    """The file csv.writer writes to: lines collect until the next batch is taken."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.write = self.parts.append

    def take(self) -> str:
        text = "".join(self.parts)
        self.parts.clear()
        return text


class _RowFormatter:
    """One database tuple (FIELDS) -> one CSV row (HEADER)."""

    def __init__(self) -> None:
        # currency -> (minor units -> text, the text of 0)
        self._amounts: dict[str, tuple[Callable[[int], str], str]] = {}

    def __call__(self, values: tuple) -> tuple:
        (pk, placed_at, status, kind, domain, tld, years, purchase_type, premium, provider,
         email, reference, currency, subtotal, fees, total, refunded, quoted,
         upstream_id) = values
        try:
            amount, zero = self._amounts[currency]
        except KeyError:
            amount = amount_formatter(currency)
            amount, zero = self._amounts[currency] = (amount, amount(0))
        # Gross and net as Order.gross_minor / Order.net_minor, reusing the texts
        # already made where the amounts are equal (they mostly are).
        total_text = amount(total)
        refunded_text = amount(refunded) if refunded else zero
        if status in _CHARGED:
            gross_text = total_text
            net_text = amount(total - refunded) if refunded else total_text
        else:
            gross_text = zero
            net_text = amount(-refunded) if refunded else zero
        return (
            pk,
            _utc_iso(placed_at),
            # Our own vocabularies, but mirrored from upstreams: defused all the same.
            csv_safe(status),
            csv_safe(kind),
            csv_safe(domain),
            csv_safe(domain_unicode(domain)),
            # Mirrored orders may not know their Tld row; the domain still tells.
            csv_safe(tld if tld is not None else domain.rpartition(".")[2] if "." in domain
                     else ""),
            years,
            csv_safe(purchase_type),
            "true" if premium else "false",
            csv_safe(provider),
            csv_safe(email),
            csv_safe(reference),
            currency,
            amount(subtotal),
            amount(fees) if fees else zero,
            total_text,
            refunded_text,
            gross_text,
            net_text,
            "" if quoted is None else total_text if quoted == total else amount(quoted),
            csv_safe(upstream_id),
        )


def _utc_iso(moment: datetime) -> str:
    """2024-05-06T07:08:09Z, to the second. Databases without time zones (SQLite) hand
    over naive datetimes, which Django stored as UTC."""
    if moment.tzinfo is None:
        return moment.isoformat(timespec="seconds") + "Z"
    if moment.utcoffset():
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="seconds")[:-6] + "Z"


def _driver_rows(queryset: QuerySet[Order], chunk_size: int) -> Iterator[list[tuple]]:
    """The rows of `queryset.values_list(*FIELDS)` in chunks, as the database driver
    returns them: the same single chunked query (a server-side cursor on PostgreSQL)
    that `.values_list(...).iterator(chunk_size)` runs, without Django's per-value
    converters on top (aware datetimes, booleans on SQLite), which cost about as much as
    formatting the row; the formatter takes naive UTC datetimes and 0/1 as they come."""
    compiler = queryset.values_list(*FIELDS).query.get_compiler(using=queryset.db)
    width = len(FIELDS)
    for chunk in compiler.execute_sql(MULTI, chunked_fetch=True, chunk_size=chunk_size):
        yield chunk if not chunk or len(chunk[0]) == width else [row[:width] for row in chunk]


class OrderCsv(Iterable[str]):
    """The CSV of `queryset` as an iterable of strings: the header, then one string per
    batch of up to CHUNK_SIZE rows. `rows` counts the orders written so far.

    Each iteration runs one query, chunked (a server-side cursor on PostgreSQL)."""

    def __init__(self, queryset: QuerySet[Order], *, chunk_size: int = CHUNK_SIZE) -> None:
        self.queryset = queryset
        self.chunk_size = chunk_size
        self.rows = 0

    def __iter__(self) -> Iterator[str]:
        self.rows = 0
        buffer = _LineBuffer()
        writer = csv.writer(buffer)
        writer.writerow(HEADER)
        yield buffer.take()
        formatter = _RowFormatter()
        for chunk in _driver_rows(self.queryset, self.chunk_size):
            writer.writerows(map(formatter, chunk))
            self.rows += len(chunk)
            yield buffer.take()
