"""`manage.py send_notices [--dry-run] [--now ISO] [--format table|csv|json]`: send the
customer renewal notices due now (registrar/notices.py), each once.

What beat runs hourly, from a shell. `--dry-run` lists what would go out and writes
nothing. Exits non-zero when a notice the mail server was given failed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.management.base import CommandError, CommandParser

from backoffice.cli import ProjectCommand, write_rows
from registrar import notices
from registrar.values.dates import parse_moment

HEADER = ("name", "point", "due_at", "expires_at", "recipient", "recipient_source",
          "result")


def _iso(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Command(ProjectCommand):
    help = (
        "Send the customer renewal notices due now (NOTICE_SCHEDULE, days relative to "
        "expiry), each once per registration, point and expiry date: a rerun sends "
        "nothing new. --dry-run lists them and sends nothing. Exits non-zero when a "
        "notice failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true",
                            help="List the notices due and send or record nothing.")
        parser.add_argument("--now", metavar="ISO",
                            help="Decide what is due as at this moment, e.g. "
                                 "2026-12-01T09:00:00Z (naive is UTC). Default: now.")
        parser.add_argument("--format", choices=["table", "csv", "json"], default="table",
                            dest="output_format",
                            help="table: aligned columns and a summary line (default); "
                                 "csv or json: one row per notice, to stdout.")

    def handle(self, *args: Any, dry_run: bool, now: str | None, output_format: str,
               **options: Any) -> None:
        moment = None
        if now is not None:
            try:
                moment = parse_moment(now, expiry=True)
            except ValidationError as refusal:
                raise CommandError(f"--now “{now[:40]}”: {refusal.messages[0]} Nothing "
                                   "was sent.") from None
        try:
            report = notices.send_due_notices(now=moment, dry_run=dry_run)
        except ImproperlyConfigured as problem:
            raise CommandError(f"{problem} Nothing was sent.") from None
        rows = self._rows(report)
        if output_format == "table":
            self._table(rows)
            self.stdout.write(report.summary())
        else:
            write_rows(self.stdout, HEADER, rows, output_format)
        if report.failed:
            raise CommandError(f"{len(report.failed)} notice(s) failed; later runs try them "
                               "again. See the registrations' timelines.")

    @staticmethod
    def _rows(report: notices.RunReport) -> list[tuple[str, ...]]:
        if report.dry_run:
            return [(due.registration.unicode_name, due.point.name, _iso(due.due_at),
                     _iso(due.registration.expires_at), due.recipient,
                     due.recipient_source, f"would {due.action}".replace(
                         "would not sendable", "not sendable"))
                    for due in report.planned]
        rows = []
        for notice in (*report.sent, *report.failed, *report.not_sendable):
            rows.append((notice.registration.unicode_name, notice.point,
                         _iso(notice.expires_at + timedelta(days=notice.offset_days)),
                         _iso(notice.expires_at), notice.recipient,
                         notice.recipient_source,
                         notice.outcome if not notice.detail
                         else f"{notice.outcome}: {notice.detail}"))
        for registration, why in report.skipped:
            rows.append((registration.unicode_name, "", "", _iso(registration.expires_at),
                         "", "", f"skipped: {why}"))
        return rows

    def _table(self, rows: list[tuple[str, ...]]) -> None:
        header = ("Name", "Point", "Due (UTC)", "Expires (UTC)", "Recipient", "From",
                  "Result")
        write_rows(self.stdout, header,
                   [(name, point, due[:16].replace("T", " "), expires[:16].replace("T", " "),
                     recipient, source, result)
                    for name, point, due, expires, recipient, source, result in rows], "table")
