"""`manage.py export_orders --since DATE --until DATE`: orders placed in a date range, as CSV.

The same columns and rules as the finance area's "Download CSV" (billing.finance.export),
streamed in constant memory. It changes no order: it writes the output file, and one
audit row saying what left (the range, the statuses, the row count, where it went).
"""

from __future__ import annotations

import getpass
import os
import re
import tempfile
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from backoffice import audit
from backoffice.cli import ProjectCommand
from backoffice.models import StaffAction
from billing.finance.export import OrderCsv
from billing.models import Order, OrderStatus
from registrar.values.dates import parse_day

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _date(value: str, option: str) -> date:
    """YYYY-MM-DD exactly, inside the window the back-office holds (registrar/values/dates:
    9999-12-31 would overflow the day after it)."""
    problem = "a date as YYYY-MM-DD"
    if _DATE.match(value):
        try:
            return parse_day(value)
        except ValidationError as exc:
            problem = f"a date as YYYY-MM-DD, {exc.messages[0][0].lower()}{exc.messages[0][1:]}"
    raise CommandError(f"{option} must be {problem.rstrip('.')} (got {value[:40]!r}).")


def _statuses(values: list[str]) -> list[str]:
    known = set(OrderStatus.values)
    chosen = [part.strip().lower() for value in values for part in value.split(",")
              if part.strip()]
    unknown = sorted(set(chosen) - known)
    if unknown:
        shown = ", ".join(status[:40] for status in unknown)
        raise CommandError(f"Unknown status: {shown} (--status). Known: "
                           f"{', '.join(sorted(known))}.")
    return chosen


class Command(ProjectCommand):
    admin_surfaces: tuple[str, ...] = ("page:finance:orders_csv",)

    help = (
        "Export the orders placed from --since to --until (whole days, inclusive, UTC) as "
        "CSV, oldest first: to stdout, or atomically to --output FILE (a failure leaves no "
        "partial file; the file is readable by its owner only)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", required=True, metavar="YYYY-MM-DD",
                            help="First day (UTC), inclusive.")
        parser.add_argument("--until", required=True, metavar="YYYY-MM-DD",
                            help="Last day (UTC), inclusive: the whole day is exported.")
        parser.add_argument("--status", action="append", default=[], metavar="STATUS",
                            help="Only orders in this status; repeat it or separate "
                                 "statuses with commas.")
        parser.add_argument("--output", metavar="FILE",
                            help="Write to FILE instead of stdout.")

    def handle(self, *args: Any, since: str, until: str, status: list[str],
               output: str | None = None, **options: Any) -> None:
        first, last = _date(since, "--since"), _date(until, "--until")
        if first > last:
            raise CommandError(f"--since ({first}) is after --until ({last}).")
        orders = Order.objects.filter(placed_at__gte=datetime.combine(first, time.min, UTC))
        if last < date.max:
            orders = orders.filter(
                placed_at__lt=datetime.combine(last + timedelta(days=1), time.min, UTC))
        statuses = _statuses(status)
        if statuses:
            orders = orders.filter(status__in=statuses)
        # The temporary file is made before the export starts: an --output that cannot
        # be written is refused as input, with no audit row (nothing left).
        temporary = _temporary_beside(Path(output)) if output is not None else None
        export = OrderCsv(orders.order_by("placed_at", "id"))
        exported = {"since": first.isoformat(), "until": last.isoformat(),
                    "status": statuses, "format": "csv", "output": output or "stdout"}
        try:
            if output is None:
                for text in export:
                    self.stdout.write(text, ending="")
            else:
                self._write_file(export, Path(output), temporary)
        except BaseException:
            # Whatever streamed before the failure has left (stdout is not atomic).
            _audit(exported, export.rows, StaffAction.Outcome.FAILED,
                   f"Order export failed after {_orders(export.rows)}.")
            raise
        _audit(exported, export.rows, StaffAction.Outcome.SUCCEEDED,
               f"Exported {_orders(export.rows)} as CSV to {output or 'stdout'}.")
        if output is not None:
            self.stderr.write(f"Exported {export.rows} orders to {output}")

    def _write_file(self, export: OrderCsv, path: Path,
                    opened: tuple[int, str] | None) -> None:
        """Into a temporary file beside `path`, renamed over it only once complete."""
        handle, temporary = opened or _temporary_beside(path)
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
                for text in export:
                    file.write(text)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def _temporary_beside(path: Path) -> tuple[int, str]:
    """(descriptor, name) of a new temporary file in `path`'s directory; CommandError
    naming --output when there is no such directory or it cannot be written."""
    directory = path.parent
    if not directory.is_dir():
        raise CommandError(f"No such directory: {directory} (--output).")
    try:
        return tempfile.mkstemp(prefix=f".{path.name[:100]}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise CommandError(f"--output: cannot write in {directory}: "
                           f"{exc.strerror or exc}.") from None


def _orders(count: int) -> str:
    return f"{count} order{'' if count == 1 else 's'}"


def _operator() -> str:
    """Who ran the command, as the operating system knows them."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in this environment
        return "unknown"


def _audit(exported: dict[str, Any], rows: int, outcome: str, message: str) -> None:
    audit.record(actor=None, actor_label=f"command:export_orders ({_operator()})",
                 action="orders.export", parameters={**exported, "rows": rows},
                 outcome=outcome, message=message)
