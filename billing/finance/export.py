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
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from functools import lru_cache

import idna
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import QuerySet
from django.db.models.sql.constants import MULTI

from billing.models import CHARGED_STATUSES, Order
from registrar.money import exponent, non_default_exponents

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


# --- the same rows, formatted by PostgreSQL ---------------------------------------

#: The subquery's columns, in FIELDS order.
_COPY_COLUMNS = ("pk", "placed_at", "status", "kind", "domain", "tld", "years",
                 "purchase_type", "premium", "provider", "email", "reference", "currency",
                 "subtotal", "fees", "total", "refunded", "quoted", "upstream_id")
#: Marks a domain_unicode cell that needs Python (a name with an A-label): a control
#: character no stored name holds (names are LDH ASCII), so it occurs nowhere else.
_IDN_MARK = "\x01"
_IDN_CELL = re.compile("\x01([A-Za-z0-9.-]+)")


def _decoded_cell(found: re.Match) -> str:
    return csv_safe(domain_unicode(found[1]))


#: The first characters _FORMULA_START defuses, as code points: ascii() compares as an
#: integer where a one-character text comparison goes through the collation.
_SQL_FORMULA_CODES = ", ".join(str(ord(char)) for char in sorted(_FORMULA_START))


def _sql_safe(text: str) -> str:
    """csv_safe in SQL. Empty text becomes NULL, which COPY writes as nothing, where it
    would write an empty string as two quotes."""
    return (f"CASE WHEN ascii({text}) IN ({_SQL_FORMULA_CODES}) THEN chr(39) || {text} "
            f"ELSE NULLIF({text}, '') END")


def _sql_exponent() -> str:
    cases = " ".join(
        f"WHEN currency IN ({', '.join(repr(code) for code in codes)}) THEN {exp}"
        for exp, codes in sorted(non_default_exponents().items()))
    return f"(CASE {cases} ELSE 2 END)"


#: One minor unit in major units, as an exact numeric (0.01 for EUR, 1 for JPY): the
#: product of an amount and it is exact, and prints as amount_formatter does.
_SQL_UNIT = (f"(CASE {_sql_exponent()} WHEN 0 THEN 1::numeric WHEN 1 THEN 0.1 "
             "WHEN 3 THEN 0.001 WHEN 4 THEN 0.0001 ELSE 0.01 END)")


def _sql_amount(value: str) -> str:
    """amount_formatter in SQL: minor units -> the exact major-unit text, signed."""
    return f"({value} * unit)::text"


def _copy_select() -> str:
    charged = ", ".join(f"'{status}'" for status in sorted(_CHARGED))
    amount = {name: _sql_amount(name)
              for name in ("subtotal", "fees", "total", "refunded", "quoted")}
    is_charged = f"status IN ({charged})"
    gross = f"CASE WHEN {is_charged} THEN {amount['total']} ELSE {_sql_amount('0')} END"
    net = _sql_amount(f"(CASE WHEN {is_charged} THEN total ELSE 0 END - refunded)")
    tld = ("COALESCE(tld, CASE WHEN strpos(domain, '.') > 0 "
           "THEN regexp_replace(domain, '^.*[.]', '') ELSE '' END)")
    unicode_name = (f"CASE WHEN strpos(domain, 'xn--') > 0 THEN chr(1) || domain "
                    f"ELSE {_sql_safe('domain')} END")
    cells = [
        "pk",
        "to_char(placed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
        _sql_safe("status"), _sql_safe("kind"), _sql_safe("domain"), unicode_name,
        _sql_safe(tld), "years", _sql_safe("purchase_type"),
        "CASE WHEN premium THEN 'true' ELSE 'false' END",
        _sql_safe("provider"), _sql_safe("email"), _sql_safe("reference"), "currency",
        amount["subtotal"], amount["fees"], amount["total"], amount["refunded"], gross, net,
        f"CASE WHEN quoted IS NULL THEN NULL ELSE {amount['quoted']} END",
        _sql_safe("upstream_id"),
    ]
    return "SELECT " + ", ".join(cells)


_COPY_SELECT = _copy_select()


class OrderCsv(Iterable[str]):
    """The CSV of `queryset` as an iterable of strings: the header, then one string per
    batch of up to CHUNK_SIZE rows. `rows` counts the orders written so far.

    Each iteration runs one query, chunked (a server-side cursor on PostgreSQL)."""

    def __init__(self, queryset: QuerySet[Order], *, chunk_size: int = CHUNK_SIZE,
                 copy: bool | None = None) -> None:
        self.queryset = queryset
        self.chunk_size = chunk_size
        self.rows = 0
        # PostgreSQL's COPY where the database has it; False forces the Python path
        # (the tests compare the two).
        self.copy = (connections[queryset.db].vendor == "postgresql" if copy is None
                     else copy)

    def __iter__(self) -> Iterator[str]:
        self.rows = 0
        buffer = _LineBuffer()
        writer = csv.writer(buffer)
        writer.writerow(HEADER)
        yield buffer.take()
        if self.copy:
            yield from self._copied()
            return
        formatter = _RowFormatter()
        for chunk in _driver_rows(self.queryset, self.chunk_size):
            writer.writerows(map(formatter, chunk))
            self.rows += len(chunk)
            yield buffer.take()

    def _copied(self) -> Iterator[str]:
        """PostgreSQL formats the rows itself (`COPY (SELECT ...) TO STDOUT`, CSV): the
        same cells as _RowFormatter, byte for byte, at several times the rate. Only a
        name with an A-label comes back marked, for Python to decode (idna)."""
        try:
            inner, params = self.queryset.values_list(*FIELDS).query.sql_with_params()
        except EmptyResultSet:  # .none(), or a filter Django knows matches nothing
            return
        # Constants of this module around Django's own SQL; the values stay parameters.
        rows = (f"SELECT *, {_SQL_UNIT} AS unit FROM ({inner}) "  # noqa: S608
                f"AS i({', '.join(_COPY_COLUMNS)})")
        sql = f"COPY ({_COPY_SELECT} FROM ({rows}) AS o) TO STDOUT WITH (FORMAT csv)"
        parts: list[str] = []
        # The driver's own cursor: Django's wrapper has no copy().
        with (connections[self.queryset.db].cursor() as cursor,
              cursor.cursor.copy(sql, params) as copy):
            for row in copy:  # one message per row, ending in "\n"
                line = bytes(row).decode()
                if _IDN_MARK in line:
                    line = _IDN_CELL.sub(_decoded_cell, line)
                # csv.writer ends rows with CRLF, as the other path does.
                parts.append(line[:-1] + "\r\n")
                if len(parts) == self.chunk_size:
                    self.rows += len(parts)
                    yield "".join(parts)
                    parts.clear()
        if parts:
            self.rows += len(parts)
            yield "".join(parts)
