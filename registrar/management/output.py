"""How the registrar's commands print what they read: `--format table|csv|json`.

table: aligned columns for a person; csv: a header row and one row per record, with
cells a spreadsheet would run as a formula defused; json: one document, for scripts.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from django.core.management.base import CommandParser, OutputWrapper

from backoffice.cli import OUTPUT_FORMATS, csv_safe

FORMATS = OUTPUT_FORMATS


def add_format(parser: CommandParser) -> None:
    parser.add_argument("--format", choices=FORMATS, default="table", dest="output_format",
                        help="table: aligned columns (default); csv: a header row and one "
                             "row per record; json: one JSON document.")


def cell(value: Any) -> str:
    """A value as text: times in UTC ISO 8601, booleans yes/no, None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def plain(value: Any) -> Any:
    """A value as JSON takes it (times as UTC ISO 8601 strings, dates as ISO 8601)."""
    if isinstance(value, date):
        return cell(value)
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def table(stdout: OutputWrapper, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Aligned columns, a rule under the header; nothing when there are no rows.
    Line breaks in a cell are shown as spaces so one record stays on one line."""
    shown = [[cell(value).replace("\r", " ").replace("\n", " ") for value in row]
             for row in rows]
    if not shown:
        return
    widths = [max(len(text) for text in column)
              for column in zip(header, *shown, strict=False)]
    for line in (list(header), ["-" * width for width in widths], *shown):
        stdout.write("  ".join(text.ljust(width)
                               for text, width in zip(line, widths, strict=True)).rstrip())


def write_csv(stdout: OutputWrapper, header: Sequence[str],
              rows: Sequence[Sequence[Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([csv_safe(cell(value)) for value in row] for row in rows)
    stdout.write(buffer.getvalue(), ending="")


def write_json(stdout: OutputWrapper, document: Any) -> None:
    stdout.write(json.dumps(plain(document), indent=2, ensure_ascii=False, sort_keys=True))


def records(stdout: OutputWrapper, output_format: str, header: Sequence[str],
            rows: Sequence[Sequence[Any]], *, key: str, summary: str = "") -> None:
    """Rows in the chosen format: json is {key: [{column: value}], "count": n}; the
    summary line follows a table only (csv and json stay machine-readable)."""
    if output_format == "csv":
        write_csv(stdout, header, rows)
    elif output_format == "json":
        write_json(stdout, {key: [dict(zip(header, row, strict=True)) for row in rows],
                            "count": len(rows)})
    else:
        table(stdout, header, rows)
        if summary:
            stdout.write(summary)
