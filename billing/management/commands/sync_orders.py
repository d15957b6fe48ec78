from django.core.management.base import CommandError

from backoffice.cli import ProjectCommand
from billing.order_sync import mirror_orders, order_accounts


class Command(ProjectCommand):
    # "Orders at the upstream" lists what this reads; --dry-run shows how it differs.
    admin_surfaces: tuple[str, ...] = ("model:billing.webhookevent:change",
                                       "page:admin:billing_order_upstream")

    help = (
        "Mirror the upstream orders into the order list: each upstream's order list where "
        "it has one, otherwise its open orders read again one by one. Idempotent: a second "
        "run changes nothing. Exits non-zero when an account's run failed or a record could "
        "not be mirrored."
    )

    def add_arguments(self, parser):
        parser.add_argument("--account", metavar="LABEL",
                            help="Only this provider account (default: every enabled one "
                                 "that has orders).")
        parser.add_argument("--dry-run", action="store_true",
                            help="Read and compare, then write nothing. (The built-in "
                                 "sandbox still moves an order on when it is read.)")

    def handle(self, *args, account=None, dry_run=False, verbosity=1, **options):
        accounts = order_accounts()
        if account:
            accounts = accounts.filter(label=account)
        accounts = list(accounts.order_by("label"))
        if not accounts:
            raise CommandError(f"No enabled provider account "
                               f"{'“' + account[:80] + '” (--account) ' if account else ''}"
                               "with orders to mirror (only upstreams that list or read "
                               "orders are).")
        failed = []
        totals = {"created": 0, "updated": 0, "unchanged": 0, "failed": 0}
        for provider_account in accounts:
            report = mirror_orders(provider_account, dry_run=dry_run)
            for name in totals:
                totals[name] += getattr(report, name)
            for line in report.errors[:20]:
                self.stderr.write(f"  error: {line}")
            if len(report.errors) > 20:
                self.stderr.write(f"  ... and {len(report.errors) - 20} more")
            for line in report.warnings[:20]:
                self.stderr.write(f"  warning: {line}")
            self.stdout.write(report.summary())
            if report.aborted:
                failed.append(f"{provider_account.label}: {report.aborted}")
            elif report.failed:
                # A record that could not be mirrored is an order finance may not see.
                failed.append(f"{provider_account.label}: {report.failed} record(s) could "
                              "not be mirrored")
        if verbosity > 0 and len(accounts) > 1:
            self.stdout.write(
                f"{len(accounts)} accounts: created {totals['created']}, updated "
                f"{totals['updated']}, unchanged {totals['unchanged']}, failed "
                f"{totals['failed']}.")
        if failed:
            raise CommandError("Order sync failed for " + "; ".join(failed))
