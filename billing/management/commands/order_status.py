"""`manage.py order_status ORDER_ID ... --as USERNAME [--format table|csv|json]`: check
placed orders' status at their upstream, as the order page's "Check status at the
upstream" button does: the same service (billing.order_status), permission check and
audit row per order."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.management.base import CommandError, CommandParser

from backoffice.acting_user import resolve_acting_user
from backoffice.cli import ProjectCommand, add_format_option, record_id, write_rows
from billing import order_status
from billing.models import Order, OrderStatus
from registrar.operations import OperationRefused

HEADER = ("order", "domain", "upstream", "upstream_id", "old_status", "new_status", "outcome",
          "message")
#: More ids than this at once is a sweep, which is the periodic follow-up's job.
MAX_ORDERS = 500


def _label(status: str) -> str:
    return OrderStatus(status).label if status in OrderStatus.values else status


class Command(ProjectCommand):
    help = ("Check placed orders' status at their upstream (where it offers a status check) "
            "and apply what it says, old -> new, one audit row per order. Exits non-zero "
            "when any order could not be checked.")
    admin_surfaces = ("page:admin:billing_order_status",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("order_ids", nargs="+", type=record_id, metavar="ORDER_ID",
                            help="The local order numbers.")
        parser.add_argument("--as", dest="actor", required=True, metavar="USERNAME",
                            help="The staff user acting (needs the permission to place "
                                 "orders).")
        add_format_option(parser, what="one row per order")

    def handle(self, *args: Any, **options: Any) -> None:
        ids = list(dict.fromkeys(options["order_ids"]))
        if len(ids) > MAX_ORDERS:
            raise CommandError(f"ORDER_ID: at most {MAX_ORDERS} orders at once, not "
                               f"{len(ids)}. Nothing was checked.")
        actor = resolve_acting_user(options["actor"],
                                    permission=order_status.CHECK_STATUS_PERMISSION,
                                    needed_for="check orders' status")
        found = {order.pk: order for order in
                 Order.objects.select_related("provider_account").filter(pk__in=ids)}
        missing = [str(pk) for pk in ids if pk not in found]
        if missing:
            raise CommandError(f"ORDER_ID: no order {', '.join(missing)}. Nothing was "
                               "checked.")
        rows, failed = [], 0
        for pk in ids:
            order = found[pk]
            account = order.provider_account
            base = [order.pk, order.domain, account.label if account else "",
                    order.upstream_id or ""]
            try:
                outcome = order_status.order_check_status(order=order, actor=actor)
            except (OperationRefused, PermissionDenied) as refusal:
                failed += 1
                message = getattr(refusal, "message", str(refusal))
                rows.append([*base, _label(order.status), _label(order.status), "refused",
                             message])
                continue
            if not outcome.ok:
                failed += 1
            rows.append([*base, _label(outcome.data["old"]), _label(outcome.data["new"]),
                         str(outcome.status), outcome.message])
        output_format = options["output_format"]
        write_rows(self.stdout, HEADER, rows, output_format)
        if output_format == "table":
            self.stdout.write(f"{len(rows)} order(s) checked: {len(rows) - failed} answered, "
                              f"{failed} not.")
        if failed:
            raise CommandError(f"{failed} of {len(rows)} order(s) could not be checked.")
