import sys

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from backoffice.cli import ProjectCommand, whole_number
from registrar.models import ProviderAccount
from registrar.providers.base import Capability
from registrar.providers.errors import ProviderError
from registrar.sync import SyncReport, display_value, sync_provider
from registrar.values.names import to_ascii


class Command(ProjectCommand):
    help = (
        "Reconcile registrations (with contacts and glue hosts) from the registrar into "
        "the mirror. Never deletes: what the registrar no longer returns is flagged. "
        "Aborts without writing if too much would change at once (see --force)."
    )

    # The provider account's "At the registrar" page lists what this reads; --dry-run
    # shows how it differs from the mirror.
    admin_surfaces = ("page:admin:registrar_provideraccount_upstream",)

    def add_arguments(self, parser):
        parser.add_argument("--provider", metavar="LABEL",
                            help="Only this provider account (default: every enabled one).")
        parser.add_argument("--dry-run", action="store_true",
                            help="Print what would change; write nothing at all.")
        parser.add_argument("--concurrency", type=whole_number(), default=16, metavar="N",
                            help="Parallel detail reads (default 16).")
        parser.add_argument("--only", nargs="+", metavar="NAME",
                            help="Only these registrations (Unicode or punycode).")
        parser.add_argument("--force", action="store_true",
                            help="Write even if more than the allowed share would change.")
        parser.add_argument("--parts", type=whole_number(), metavar="N",
                            help="Split each account's sync into N parts, queued for the "
                                 "Celery workers to share; prints the run to follow in the "
                                 "audit log and returns at once.")

    def handle(self, *args, provider=None, dry_run=False, concurrency=16, only=None,
               force=False, parts=None, verbosity=1, **options):
        if not 1 <= concurrency <= 128:
            raise CommandError("--concurrency must be between 1 and 128.")
        if parts is not None and not 2 <= parts <= 64:
            raise CommandError("--parts must be between 2 and 64.")
        if parts is not None and (dry_run or only):
            # A split run writes from the workers and covers the whole account.
            raise CommandError("--parts cannot be combined with --dry-run or --only.")
        for name in only or ():
            # Checked before any upstream is asked, so a typo is not a failed sync.
            try:
                to_ascii(name)
            except ValidationError as error:
                reason = error.messages[0].rstrip(".")
                raise CommandError(f"--only “{name}” is refused: {reason}.") from None
        accounts = ProviderAccount.objects.filter(enabled=True).with_capability(
            Capability.REGISTRATION_SYNC)
        if provider:
            accounts = accounts.filter(label=provider)
        accounts = list(accounts.order_by("label"))
        if not accounts:
            raise CommandError(f"No enabled provider account "
                               f"{'“' + provider[:80] + '” (--provider) ' if provider else ''}"
                               "to sync (only upstreams that list their registrations are "
                               "synced).")
        if parts is not None:
            self._queue_split(accounts, parts, force)
            return
        failed = []
        for account in accounts:
            try:
                report = sync_provider(
                    account, dry_run=dry_run, concurrency=concurrency, only=only, force=force,
                    on_diff=self._print_diff if dry_run or verbosity > 1 else None,
                    on_progress=self._progress if verbosity > 0 else None)
            except ProviderError as error:
                failed.append(f"{account.label}: {error.message}")
                continue
            finally:
                if verbosity > 0:
                    sys.stderr.write("\n")
            for line in report.error_names[:20]:
                self.stderr.write(f"  error: {line}")
            self.stdout.write(report.summary())
            if report.aborted:
                failed.append(f"{account.label}: aborted, nothing written. {report.aborted}")
            elif report.errors:
                failed.append(f"{account.label}: {report.errors} error(s)")
        if failed:
            raise CommandError("; ".join(failed))

    def _queue_split(self, accounts: list[ProviderAccount], parts: int, force: bool) -> None:
        from registrar.sync import can_split
        from registrar.tasks import queue_split_sync

        unsplittable = [account.label for account in accounts if not can_split(account)]
        if unsplittable:
            raise CommandError(f"{', '.join(unsplittable)}: this upstream does not list its "
                               "registrations page by page, so its sync cannot be split "
                               "(run without --parts).")
        for account in accounts:
            run = queue_split_sync(account, parts, force=force)
            self.stdout.write(f"{account.label}: sync queued in {parts} parts, run {run}. "
                              "Its report is the audit row registration.sync_split_report.")

    def _print_diff(self, name: str, changes: dict, kind: str) -> None:
        mark = {"created": "+", "updated": "~", "missing": "-"}[kind]
        fields = "; ".join(f"{field}: {display_value(old)} → {display_value(new)}"
                           for field, (old, new) in sorted(changes.items())
                           if field != "created")
        self.stdout.write(f"{mark} {name}" + (f"  {fields}" if fields else ""))

    @staticmethod
    def _progress(report: SyncReport) -> None:
        rate = report.seen / report.elapsed if report.elapsed else 0
        sys.stderr.write(f"\r  {report.account}: {report.seen} seen, {report.created} new, "
                         f"{report.updated} changed, {report.errors} errors")
        if rate:
            sys.stderr.write(f" ({rate:.0f}/s)")
        sys.stderr.flush()
