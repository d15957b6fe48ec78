"""`manage.py approval list|approve ID|decline ID --as USERNAME`: the second person's side
of two-person approval, from a shell.

The request itself is made by the operation (`manage.py registration unlock NAME --as A
--otp CODE --ticket T --reason "..."`); here another person lists it and approves it
(which runs it, as its requester, with both on record) or declines it. The same
service, permission check and audit rows as the admin's approval page.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.management.base import CommandError, CommandParser
from django.utils import timezone
from django.utils.timesince import timesince

from backoffice import assurance
from backoffice.acting_user import resolve_acting_user
from backoffice.cli import ProjectCommand, add_format_option, record_id, write_rows
from registrar import approvals
from registrar.models import Approval
from registrar.operations import OperationRefused, Outcomes


class Command(ProjectCommand):
    help = ("List, approve or decline the high-risk requests that wait for a second person. "
            "Approving runs the operation at once; it needs a fresh second factor (--otp).")
    admin_surfaces = ("page:admin:registrar_approval_decide",)

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
        listing = sub.add_parser("list", help="The requests waiting, oldest first.")
        listing.add_argument("--as", dest="actor", required=True, metavar="USERNAME")
        add_format_option(listing, what="one row per request")
        for verb, summary in (("approve", "Approve a request and run it."),
                              ("decline", "Decline a request; nothing is sent.")):
            one = sub.add_parser(verb, help=summary, description=summary)
            one.add_argument("approval_id", type=record_id, metavar="ID",
                             help="The request number.")
            one.add_argument("--as", dest="actor", required=True, metavar="USERNAME",
                             help="The second person: not the requester.")
            one.add_argument("--note", default="", help="What you checked, or why not.")
            one.add_argument("--otp", metavar="CODE",
                             help="A current code from your authenticator app, or a backup "
                                  "code (approving needs a fresh second factor).")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = resolve_acting_user(options["actor"], permission=approvals.APPROVE_PERMISSION,
                                    needed_for="decide requests")
        if options["verb"] == "list":
            self._list(actor, options["output_format"])
            return
        code = (options.get("otp") or "").strip()
        if code and not assurance.confirm_second_factor(actor, code):
            raise CommandError("--otp: that code is not valid (or was already used). Nothing "
                               "was sent.")
        approval = Approval.objects.filter(pk=options["approval_id"]).first()
        if approval is None:
            raise CommandError(f"No request #{options['approval_id']}.")
        try:
            if options["verb"] == "decline":
                approvals.decline(approval=approval, approver=actor, note=options["note"])
                self.stdout.write(f"Request #{approval.pk} declined. Nothing was sent to the "
                                  "registrar.")
                return
            outcome = approvals.approve(approval=approval, approver=actor,
                                        note=options["note"])
        except (OperationRefused, PermissionDenied) as refusal:
            raise CommandError(getattr(refusal, "message", str(refusal))) from None
        if outcome.ok and "authcode" in outcome.data:
            # Printed here and nowhere else: not logged, not in the audit row.
            self.stdout.write(f"Request #{approval.pk} approved. Auth code: "
                              f"{outcome.data['authcode']}")
            return
        self.stdout.write(f"Request #{approval.pk} approved: {outcome.status}: "
                          f"{outcome.message}")
        if outcome.status in (Outcomes.FAILED, Outcomes.UNKNOWN):
            raise CommandError(f"Request #{approval.pk} ran but did not succeed.")

    def _list(self, actor, output_format: str) -> None:
        waiting = list(approvals.pending_for(actor).order_by("requested_at"))
        if output_format != "table":
            write_rows(self.stdout, ("id", "summary", "requested_by", "requested_at",
                                     "expires_at", "ticket", "verification"),
                       [(approval.pk, approval.summary, approval.requested_by.get_username(),
                         approval.requested_at.isoformat(), approval.expires_at.isoformat(),
                         approval.ticket, approval.verification) for approval in waiting],
                       output_format)
            return
        for approval in waiting:
            left = timesince(timezone.now(), approval.expires_at)
            self.stdout.write(
                f"#{approval.pk}  {approval.summary}  asked by "
                f"{approval.requested_by.get_username()} {timesince(approval.requested_at)} "
                f"ago, {left} left; ticket {approval.ticket}; verified: "
                f"{approval.verification}")
        self.stdout.write(f"{len(waiting)} request(s) waiting for you.")
