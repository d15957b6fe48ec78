"""`manage.py config MODEL VERB ...`: the TLD and provider-account admin, from a shell.

    config tld list [--search com] [--format csv]
    config tld show com
    config tld edit com --field supports_dnssec=false --field privacy_fee_amount=4.99 --as admin
    config provideraccount delete old-api --as admin --dry-run

Each write goes through the registered ModelAdmin (backoffice/config_command.py): its
permission check for --as, its form and its audit row, exactly as the admin page.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from backoffice.acting_user import resolve_acting_user
from backoffice.cli import ProjectCommand, add_format_option, write_rows
from backoffice.config_command import (
    ConfigModel,
    delete_with_admin,
    parse_fields,
    save_with_form,
    values_of,
)
from registrar.models import ProviderAccount, Tld

MODELS = {
    "tld": ConfigModel("tld", Tld, "name"),
    "provideraccount": ConfigModel("provideraccount", ProviderAccount, "label"),
}
#: Each model's key under its own dest, so a refusal names the one typed (NAME, LABEL).
KEY_DESTS = {"tld": "tld_name", "provideraccount": "account_label"}
LIST_LIMIT = 10_000


class Command(ProjectCommand):
    help = ("List, show, add, edit or delete TLDs and provider accounts through the admin's "
            "own forms, permission checks and audit rows. Writes take --as and --dry-run.")
    admin_surfaces = (
        "model:registrar.tld:add", "model:registrar.tld:change", "model:registrar.tld:delete",
        "action:registrar.tld.delete_selected",
        "model:registrar.provideraccount:add", "model:registrar.provideraccount:change",
        "model:registrar.provideraccount:delete",
        "action:registrar.provideraccount.delete_selected",
    )

    def add_arguments(self, parser: CommandParser) -> None:
        models = parser.add_subparsers(dest="model", required=True, metavar="MODEL")
        for name, config in MODELS.items():
            label = config.model._meta.verbose_name
            sub = models.add_parser(name, help=f"{label}s").add_subparsers(
                dest="verb", required=True, metavar="VERB")
            listing = sub.add_parser("list", help=f"The {label}s.")
            listing.add_argument("--search", default="", metavar="TEXT",
                                 help=f"Only those whose {config.key} contains TEXT.")
            add_format_option(listing, what=f"one row per {label}")
            show = sub.add_parser("show", help=f"One {label}.")
            key = {"dest": KEY_DESTS[name], "metavar": config.key.upper()}
            show.add_argument(**key)
            add_format_option(show, what="one row")
            add = sub.add_parser("add", help=f"Add a {label} (the admin's add form).")
            edit = sub.add_parser("edit", help=f"Change a {label} (the admin's form).")
            edit.add_argument(**key)
            delete = sub.add_parser("delete", help=f"Delete a {label} nothing uses.")
            delete.add_argument(**key)
            for writer in (add, edit, delete):
                writer.add_argument("--as", dest="actor", required=True, metavar="USERNAME",
                                    help="The staff user acting (the admin's permissions).")
                writer.add_argument("--dry-run", action="store_true",
                                    help="Check everything; write nothing.")
            for writer in (add, edit):
                writer.add_argument("--field", dest="fields", action="append", default=[],
                                    metavar="NAME=VALUE",
                                    help="A form field, e.g. supports_dnssec=false or "
                                         "privacy_fee_amount=4.99. Repeatable.")

    def handle(self, *args: Any, **options: Any) -> None:
        config = MODELS[options["model"]]
        verb = options["verb"]
        if verb == "list":
            self._list(config, options["search"], options["output_format"])
            return
        obj = (self._find(config, options[KEY_DESTS[config.name]])
               if verb in ("show", "edit", "delete") else None)
        if verb == "show":
            values = values_of(obj)
            write_rows(self.stdout, list(values), [list(values.values())],
                       options["output_format"])
            return
        actor = resolve_acting_user(options["actor"])
        dry_run = options["dry_run"]
        label = config.model._meta.verbose_name
        if verb == "delete":
            delete_with_admin(config, actor, obj, dry_run=dry_run)
            self.stdout.write(f"Would delete {label} {obj}." if dry_run
                              else f"Deleted {label} {obj}.")
            return
        row, changed = save_with_form(config, actor, obj, parse_fields(options["fields"]),
                                      dry_run=dry_run)
        what = ", ".join(changed) or "nothing"
        if dry_run:
            self.stdout.write(f"Would {'change' if obj else 'add'} {label} {row}: {what}. "
                              "Nothing was written.")
        elif obj is None:
            self.stdout.write(f"Added {label} {row}.")
        else:
            self.stdout.write(f"Changed {label} {row}: {what}.")

    @staticmethod
    def _find(config: ConfigModel, key: str):
        key = key.strip()
        obj = config.model._default_manager.filter(**{config.key: key}).first()
        if obj is None:
            raise CommandError(f"{config.key.upper()}: no {config.model._meta.verbose_name} "
                               f"“{key[:60]}”. Nothing was done.")
        return obj

    def _list(self, config: ConfigModel, search: str, output_format: str) -> None:
        rows = config.model._default_manager.all()
        if search.strip():
            rows = rows.filter(**{f"{config.key}__icontains": search.strip()})
        found = [values_of(obj) for obj in rows.order_by(config.key)[:LIST_LIMIT]]
        if not found:
            self.stdout.write(f"No {config.model._meta.verbose_name}s.")
            return
        write_rows(self.stdout, list(found[0]), [list(row.values()) for row in found],
                   output_format)
