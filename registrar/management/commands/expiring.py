"""`manage.py expiring --days N`: registrations that expire within the next N days.

Read-only: it writes nothing, so it has no --dry-run. Times are UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from backoffice.cli import ProjectCommand, whole_number, write_rows
from registrar.models import Registration, RegistrationStatus, Tld
from registrar.values.names import normalise_tld

MIN_DAYS, MAX_DAYS = 1, 3650
HEADER = ("name", "tld", "account_email", "expires_at", "auto_renew", "locked")
# No longer held here: their expiry date is history, not work.
GONE = (RegistrationStatus.TRANSFERRED_OUT, RegistrationStatus.CANCELLED)


class Command(ProjectCommand):
    help = (
        "List the registrations that expire within the next N days (from now, UTC), "
        "soonest first: name, TLD, account e-mail, expiry, auto-renew, lock. Transferred-"
        "out and cancelled registrations are left out."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=whole_number(), required=True, metavar="N",
                            help=f"The window in days, {MIN_DAYS} to {MAX_DAYS}.")
        parser.add_argument("--format", choices=["table", "csv", "json"], default="table",
                            dest="output_format",
                            help="table: aligned columns and a count line (default); csv: "
                                 "a header row and one row per registration, to stdout.")
        parser.add_argument("--tld", metavar="NAME",
                            help="Only this TLD (.de and de both work).")

    def handle(self, *args: Any, days: int, output_format: str, tld: str | None = None,
               **options: Any) -> None:
        if not MIN_DAYS <= days <= MAX_DAYS:
            raise CommandError(f"--days must be from {MIN_DAYS} to {MAX_DAYS} (got {days}).")
        now = timezone.now()
        until = now + timedelta(days=days)
        registrations = (
            Registration.objects.filter(expires_at__gte=now, expires_at__lte=until)
            .exclude(status__in=GONE)
            .select_related("tld", "account")
            .order_by("expires_at", "name")
        )
        if tld is not None:
            registrations = registrations.filter(tld=_tld(tld))
        rows = [_row(registration) for registration in registrations.iterator(chunk_size=2000)]
        if output_format != "table":
            write_rows(self.stdout, HEADER, rows, output_format)
            return
        self._table(rows, days=days, until=until)

    def _table(self, rows: Sequence[tuple[str, ...]], *, days: int, until: datetime) -> None:
        header = ("Name", "TLD", "Account e-mail", "Expires (UTC)", "Auto-renew", "Locked")
        write_rows(self.stdout, header,
                   [(name, tld, email, _minute(expires), renew, locked)
                    for name, tld, email, expires, renew, locked in rows], "table")
        self.stdout.write(f"{len(rows)} registration(s) expire within {days} day(s) "
                          f"(by {until.astimezone(UTC):%Y-%m-%d %H:%M} UTC).")


def _tld(raw: str) -> Tld:
    try:
        name = normalise_tld(raw)
    except ValidationError as exc:
        raise CommandError(f"--tld “{raw}”: {exc.messages[0]}") from None
    tld = Tld.objects.filter(name=name).first()
    if tld is None:
        raise CommandError(f"--tld: no TLD .{name} in the back-office.")
    return tld


def _row(registration: Registration) -> tuple[str, ...]:
    """One registration as text cells, in HEADER order (expiry as ISO 8601, UTC)."""
    expires = registration.expires_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return (
        registration.unicode_name,
        registration.tld.unicode_name,
        registration.account.email if registration.account else "",
        expires,
        "yes" if registration.auto_renew else "no",
        "yes" if registration.locked else "no",
    )


def _minute(iso: str) -> str:
    """'2030-01-02T03:04:05Z' -> '2030-01-02 03:04' for the table."""
    return iso[:16].replace("T", " ")
