"""`manage.py staff list|reset-second-factor`: the staff second-factor page, from a shell.

    staff list --as root [--format csv]
    staff reset-second-factor alice --as root --otp 123456 [--dry-run]

As on the page, only a superuser may do either, and a reset needs the superuser's own
fresh second factor (--otp): it is how an attacker who took over one account would
strip another's protection.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser

from backoffice import assurance
from backoffice.acting_user import resolve_acting_user
from backoffice.cli import ProjectCommand, add_format_option, write_rows
from backoffice.security import devices


class Command(ProjectCommand):
    help = ("List the staff and the second factors they hold, or reset one person's second "
            "factor (a lost phone): they set up a new one at their next login. Superusers "
            "only; a reset needs --otp, a current code of your own.")
    admin_surfaces = ("page:admin:security_staff", "page:admin:security_reset")

    def add_arguments(self, parser: CommandParser) -> None:
        verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
        listing = verbs.add_parser("list", help="Staff users and their second factors.")
        listing.add_argument("--as", dest="actor", required=True, metavar="USERNAME")
        add_format_option(listing, what="one row per staff user")
        reset = verbs.add_parser("reset-second-factor",
                                 help="Remove every second-factor device of USER.")
        reset.add_argument("username", metavar="USER", help="Whose second factor to reset.")
        reset.add_argument("--as", dest="actor", required=True, metavar="USERNAME",
                           help="A superuser.")
        reset.add_argument("--otp", metavar="CODE",
                           help="A current code from your own authenticator app, or a "
                                "backup code (needed unless you confirmed one just now).")
        reset.add_argument("--dry-run", action="store_true",
                           help="Show what would be removed; remove nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        # A code confirmed here counts for this run only, never for what runs after it.
        with assurance.acting(assurance.Channel.CLI):
            self._handle(options)

    def _handle(self, options: dict[str, Any]) -> None:
        actor = resolve_acting_user(options["actor"])
        if not actor.is_superuser:
            raise CommandError(f"{actor.get_username()}: only a superuser can see or reset "
                               "second factors. Nothing was done.")
        if options["verb"] == "list":
            self._list(options["output_format"])
            return
        typed = options["username"].strip()
        person = get_user_model()._default_manager.filter(username=typed).first()
        if person is None:
            raise CommandError(f"USER: no user “{typed[:60]}”. Nothing was done.")
        if not (person.is_staff and person.is_active):
            # A second factor guards the back-office; others hold none worth resetting.
            raise CommandError(f"USER: {typed[:60]} is not an active staff user. Nothing "
                               "was done.")
        held = sorted({devices.kind_of(device) for device in devices.confirmed_devices(person)})
        # A code typed is always checked, a dry run's too; without one, the superuser's
        # second factor must be fresh (or not required at all, as in development).
        code = (options.get("otp") or "").strip()
        if code and not assurance.confirm_second_factor(actor, code):
            raise CommandError("--otp: that code is not valid (or was already used). "
                               "Nothing was removed.")
        if not code and not assurance.second_factor_fresh(actor):
            raise CommandError("--otp: give a current code of your own (or a backup code) to "
                               "confirm the reset. Nothing was removed.")
        if options["dry_run"]:
            self.stdout.write(f"Would reset the second factor of {person.get_username()} "
                              f"({', '.join(held) or 'none held'}). Nothing was removed.")
            return
        removed = devices.second_factor_reset(actor=actor, user=person)
        self.stdout.write(f"The second factor of {person.get_username()} is reset "
                          f"({len(removed)} device(s) removed): they set up a new one at "
                          "their next login.")

    def _list(self, output_format: str) -> None:
        rows = []
        for person in get_user_model()._default_manager.filter(is_staff=True).order_by(
                "username"):
            kinds = sorted({devices.kind_of(d) for d in devices.confirmed_devices(person)})
            rows.append((person.get_username(), "yes" if person.is_active else "no",
                         "yes" if person.is_superuser else "no", " ".join(kinds) or "none"))
        write_rows(self.stdout, ("username", "active", "superuser", "second_factors"), rows,
                   output_format)
        if output_format == "table":
            self.stdout.write(f"{len(rows)} staff user(s).")
