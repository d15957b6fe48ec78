"""What every project management command shares: arguments are refused, before any
audit row is written or any upstream is called, when they hold text no one can store or
read back (a lone surrogate, which is what Python makes of an undecodable byte in argv;
a NUL or another control character) or text the free-text rule refuses (a C1 control, a
bidi override, a non-character: registrar/values/text.py). Numbers are read strictly:
ASCII digits only, within the range the option allows."""

from __future__ import annotations

import argparse
import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from registrar.values.text import text_problem

# C0 controls and DEL; a tab is ordinary in a note.
_CONTROLS = frozenset(chr(code) for code in (*range(0x00, 0x20), 0x7F)) - {"\t"}


def unreadable_reason(value: str) -> str | None:
    """Why `value` is refused as an argument, or None when it is fine."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "holds bytes that are not UTF-8 text"
    if any(char in _CONTROLS for char in value):
        return "holds a control character (such as NUL)"
    return None


def argument_reason(value: str) -> str | None:
    """Why `value` is refused as an argument: unreadable (above), or text the free-text
    rule refuses. Tabs are ordinary (a note may hold one); line breaks are not."""
    reason = unreadable_reason(value)
    if reason is not None:
        return reason
    problem = text_problem(value, multiline=True)
    if problem is None:
        return None
    culprit = next(char for char in value if text_problem(char, multiline=True))
    # The reason names the character by its code point, never echoes it to a terminal.
    return f"holds a character that is not plain text (U+{ord(culprit):04X})"


def whole_number(minimum: int = -(10**18), maximum: int = 10**18):
    """An argparse type: a whole number typed in ASCII digits from `minimum` to `maximum`.
    int() alone takes an Arabic-Indic one, " 1" and "1_000", and any size. The default
    range leaves the command's own range check (and its message) to the command."""
    def parse(text: str) -> int:
        digits = text[1:] if text.startswith("-") else text
        if not (digits.isascii() and digits.isdigit()) or len(digits) > 19:
            raise ValueError(text)  # argparse: "invalid int value: '…'"
        value = int(text)
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"expected a whole number from {minimum} to "
                                             f"{maximum}")
        return value

    parse.__name__ = "int"
    return parse


def decimal_number(minimum: float, maximum: float, refusal: str):
    """An argparse type: a plain decimal number (12 or 7.5) from `minimum` to `maximum`,
    refused with `refusal` otherwise; float() alone takes "nan", "inf", "1e3" and
    Arabic-Indic digits."""
    def parse(text: str) -> float:
        whole, _, fraction = text.partition(".")
        plain = (whole.isascii() and whole.isdigit() and len(text) <= 20
                 and (not fraction or (fraction.isascii() and fraction.isdigit())))
        if not plain or not minimum <= float(text) <= maximum:
            raise argparse.ArgumentTypeError(refusal)
        return float(text)

    parse.__name__ = "float"
    return parse


#: Ids of rows (BigAutoField): what the column can hold, so a lookup never overflows.
record_id = whole_number(1, 2**63 - 1)


def _option_names(parser: argparse.ArgumentParser) -> dict[str, str]:
    """dest -> how the option is typed (`--as` for dest `actor`), subcommands included."""
    names: dict[str, str] = {}
    pending = [parser]
    while pending:
        current = pending.pop()
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                pending.extend(action.choices.values())
            elif action.dest not in names:
                longest = max(action.option_strings, key=len, default="")
                names[action.dest] = longest or action.metavar or action.dest
    return names


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def check_arguments(command: BaseCommand, args: tuple[Any, ...],
                    options: dict[str, Any]) -> None:
    """Raise CommandError naming the first argument holding unreadable text."""
    names: dict[str, str] | None = None
    for dest, value in options.items():
        for text in _strings(value):
            reason = argument_reason(text)
            if reason is None:
                continue
            if names is None:
                names = _option_names(command.create_parser("manage.py", "command"))
            raise CommandError(f"{names.get(dest, dest)} {reason}; type it again as plain "
                               f"text.")
    for text in _strings(list(args)):
        reason = argument_reason(text)
        if reason is not None:
            raise CommandError(f"An argument {reason}; type it again as plain text.")


class ProjectCommand(BaseCommand):
    """Base of the project's commands: checks every string argument first."""

    def execute(self, *args: Any, **options: Any) -> Any:
        check_arguments(self, args, options)
        return super().execute(*args, **options)


# --- what a command prints ------------------------------------------------------------

#: Cells a spreadsheet would run as a formula (an e-mail local part may start with "=").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
OUTPUT_FORMATS = ("table", "csv", "json")


def csv_safe(cell: Any) -> str:
    """A cell as text, neutralised when a spreadsheet would evaluate it as a formula."""
    text = "" if cell is None else str(cell)
    return f"'{text}" if text.startswith(FORMULA_START) else text


def add_format_option(parser: argparse.ArgumentParser, *, what: str = "one row each") -> None:
    parser.add_argument("--format", choices=OUTPUT_FORMATS, default="table",
                        dest="output_format",
                        help=f"table (default) for reading; csv or json: {what}, to stdout.")


def write_rows(stdout, header: Sequence[str], rows: Iterable[Sequence[Any]],
               output_format: str) -> None:
    """`rows` under `header`: aligned columns, CSV (formula-safe) or a JSON array of
    objects keyed by the header."""
    rows = [list(row) for row in rows]
    if output_format == "json":
        stdout.write(json.dumps([dict(zip(header, row, strict=True)) for row in rows],
                                ensure_ascii=False, indent=2, default=str))
    elif output_format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([csv_safe(cell) for cell in row] for row in rows)
        stdout.write(buffer.getvalue(), ending="")
    elif rows:  # a table of nothing prints nothing: the caller's summary says so
        cells = [["" if cell is None else str(cell) for cell in row] for row in rows]
        widths = [max([len(name), *(len(row[index]) for row in cells)])
                  for index, name in enumerate(header)]
        for line in [list(header), ["-" * width for width in widths], *cells]:
            stdout.write("  ".join(cell.ljust(width)
                                   for cell, width in zip(line, widths, strict=True)).rstrip())
