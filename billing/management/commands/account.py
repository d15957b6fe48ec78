"""`manage.py account list|show|add|edit|delete|note ... --as USERNAME`: customer accounts,
from a shell.

Writes go through the account's ModelAdmin (billing.admin.AccountAdmin) exactly as its
pages do: its form (so its validation, the free-text rule and the model's own checks),
its permission checks, its save and delete (so the same `config.account.*` audit row and
admin log entry), and its refusal to delete an account other rows still need (orders,
registrations and contacts are PROTECTed). A note goes through backoffice.notes, as the
customer page's "Add a note". `--dry-run` checks everything and writes nothing.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import model_ngettext
from django.core.exceptions import PermissionDenied
from django.core.management.base import CommandError, CommandParser
from django.db import transaction
from django.http import HttpRequest

from backoffice import notes
from backoffice.acting_user import resolve_acting_user
from backoffice.cli import ProjectCommand
from billing.admin import CUSTOMER_ROWS, CustomerNoteForm
from billing.management.commands.order import (
    FORMATS,
    customer_account,
    emit,
    field_problems,
    refuse,
)
from billing.models import Account, Order
from contacts.models import Contact
from registrar.models import Registration
from registrar.money import format_minor
from registrar.values.names import to_unicode

VIEW_PERMISSION = "billing.view_account"
LIST_DEFAULT = 100
NOTHING = "Nothing was changed."


def _request(user) -> HttpRequest:
    """What the ModelAdmin's checks read of a request: who is asking, and that it is a
    POST (a GET never changes anything)."""
    request = HttpRequest()
    request.method = "POST"
    request.user = user
    request.META["SERVER_NAME"] = "manage.py"
    request.META["SERVER_PORT"] = "0"
    return request


def _model_admin():
    return admin.site._registry[Account]


def _add_actor(sub: CommandParser) -> None:
    sub.add_argument("--as", dest="actor", required=True, metavar="USERNAME",
                     help="The staff user acting: their permission is checked and they are "
                          "the actor of the audit rows.")


def _add_format(sub: CommandParser) -> None:
    sub.add_argument("--format", choices=FORMATS, default="table", dest="output_format",
                     help="table (default), csv or json.")


def _add_dry_run(sub: CommandParser) -> None:
    sub.add_argument("--dry-run", action="store_true",
                     help="Check it as the admin does; write nothing.")


class Command(ProjectCommand):
    help = ("List, show, add, edit and delete customer accounts and add notes on them, as "
            "the admin does (same form, permissions and audit rows; --as is the actor).")

    admin_surfaces: tuple[str, ...] = (
        "model:billing.account:add",
        "model:billing.account:change",
        "model:billing.account:delete",
        "action:billing.account.delete_selected",
        "page:admin:billing_account_note",
    )

    def add_arguments(self, parser: CommandParser) -> None:
        verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

        listing = verbs.add_parser("list", help="Accounts, by name.")
        listing.add_argument("--search", metavar="TEXT",
                             help="As the admin's search: an e-mail address (whole), a "
                                  "customer reference (exact) or words of the name.")
        _add_format(listing)
        _add_actor(listing)

        show = verbs.add_parser("show", help="One account with its registrations and orders.")
        show.add_argument("ref", metavar="REF", help="The customer reference.")
        _add_format(show)
        _add_actor(show)

        add = verbs.add_parser("add", help="Add an account.")
        add.add_argument("ref", metavar="REF", help="The new customer reference.")
        add.add_argument("--name", required=True, help="The customer's name.")
        add.add_argument("--email", required=True, help="The customer's e-mail address.")
        add.add_argument("--field", dest="fields", action="append", default=[],
                         metavar="NAME=VALUE",
                         help="Another field of the admin's form, repeatable: "
                              "entri_user_id, domain_api_account.")
        _add_dry_run(add)
        _add_actor(add)

        edit = verbs.add_parser("edit", help="Change fields of an account.")
        edit.add_argument("ref", metavar="REF", help="The customer reference.")
        edit.add_argument("--field", dest="fields", action="append", default=[],
                          metavar="NAME=VALUE",
                          help="A field of the admin's form, repeatable: name, email, "
                               "customer_reference, entri_user_id, domain_api_account.")
        _add_dry_run(edit)
        _add_actor(edit)

        delete = verbs.add_parser("delete", help="Delete accounts nothing else needs.")
        delete.add_argument("refs", nargs="+", metavar="REF",
                            help="Customer references; several are deleted together, as "
                                 "the admin's “Delete selected” action does, or not at all.")
        _add_dry_run(delete)
        _add_actor(delete)

        note = verbs.add_parser("note", help="Add a note on the customer's timeline.")
        note.add_argument("ref", metavar="REF", help="The customer reference.")
        note.add_argument("--text", required=True, help="The note.")
        _add_dry_run(note)
        _add_actor(note)

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['verb']}")(options)

    # -- reading -----------------------------------------------------------------------

    def _viewer(self, options: dict[str, Any]):
        return resolve_acting_user(options["actor"], permission=VIEW_PERMISSION,
                                   needed_for="see customer accounts")

    def _account(self, reference: str, option: str = "REF") -> Account:
        account, problem = customer_account(reference, option)
        if account is None:
            raise CommandError(f"{problem}.")
        return account

    def _list(self, options: dict[str, Any]) -> None:
        actor = self._viewer(options)
        model_admin = _model_admin()
        accounts = Account.objects.order_by("name", "pk")
        search = (options["search"] or "").strip()
        if search:
            # The changelist's own search: the same plan, the same rules.
            accounts, _ = model_admin.get_search_results(_request(actor), accounts, search)
        found = list(accounts[:LIST_DEFAULT + 1])
        shown, more = found[:LIST_DEFAULT], len(found) > LIST_DEFAULT
        header = ("reference", "name", "email", "entri_user_id", "domain_api_account",
                  "created_at")
        rows = [(a.customer_reference, a.name, a.email, a.entri_user_id,
                 a.domain_api_account, a.created_at.isoformat(timespec="seconds"))
                for a in shown]
        emit(self.stdout, header, rows, options["output_format"])
        summary = f"{len(shown)} account(s){' (more: narrow --search)' if more else ''}."
        (self.stdout if options["output_format"] == "table" else self.stderr).write(summary)

    def _show(self, options: dict[str, Any]) -> None:
        actor = self._viewer(options)
        account = self._account(options["ref"])
        record: dict[str, Any] = {
            "reference": account.customer_reference, "name": account.name,
            "email": account.email, "entri_user_id": account.entri_user_id,
            "domain_api_account": account.domain_api_account,
            "created_at": account.created_at.isoformat(timespec="seconds"),
        }
        # What the customer page shows, to whom it shows it, CUSTOMER_ROWS at most.
        lists: dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]] = {}
        if actor.has_perm("registrar.view_registration"):
            registrations = Registration.objects.filter(account=account).select_related(
                "tld").order_by("name")[:CUSTOMER_ROWS]
            lists["registrations"] = (("name", "status", "expires_at", "locked"), [
                (to_unicode(r.name), r.status,
                 r.expires_at.isoformat(timespec="seconds") if r.expires_at else "",
                 r.locked) for r in registrations])
        if actor.has_perm("billing.view_order"):
            orders = Order.objects.filter(account=account).order_by(
                "-placed_at", "-pk")[:CUSTOMER_ROWS]
            lists["orders"] = (("id", "placed_at", "kind", "status", "domain", "total"), [
                (o.pk, o.placed_at.isoformat(timespec="seconds"), o.kind, o.status,
                 o.domain, format_minor(o.total_minor, o.currency)) for o in orders])
        if actor.has_perm("contacts.view_contact"):
            contacts = Contact.objects.filter(account=account).order_by(
                "handle", "pk")[:CUSTOMER_ROWS]
            lists["contacts"] = (("id", "handle", "name", "email"), [
                (c.pk, c.handle, c.full_name, c.email) for c in contacts])
        output_format = options["output_format"]
        if output_format == "json":
            for key, (header, rows) in lists.items():
                record[key] = [dict(zip(header, row, strict=True)) for row in rows]
            emit(self.stdout, (), [], "json", records=record)
            return
        if output_format == "csv":
            rows = [("account", key, value) for key, value in record.items()]
            for key, (header, found) in lists.items():
                for row in found:
                    rows += [(key[:-1], name, value) for name, value in
                             zip(header, row, strict=True)]
            emit(self.stdout, ("record", "field", "value"), rows, "csv")
            return
        emit(self.stdout, ("field", "value"), list(record.items()), "table")
        for key, (header, found) in lists.items():
            self.stdout.write("")
            self.stdout.write(f"{key.capitalize()} ({len(found)}"
                              f"{'+' if len(found) >= CUSTOMER_ROWS else ''}):")
            if found:
                emit(self.stdout, header, found, "table")

    # -- writing, through the ModelAdmin -----------------------------------------------

    def _form_fields(self, form_class) -> list[str]:
        return list(form_class.base_fields)

    def _parse_fields(self, raw: list[str], allowed: list[str]) -> dict[str, str]:
        fields: dict[str, str] = {}
        for item in raw:
            name, sep, value = item.partition("=")
            name = name.strip()
            if not sep or name not in allowed:
                raise CommandError(f"--field “{item[:60]}”: expected NAME=VALUE with NAME one "
                                   f"of {', '.join(allowed)}. {NOTHING}")
            if name in fields:
                raise CommandError(f"--field {name} is given twice. {NOTHING}")
            fields[name] = value
        return fields

    def _add(self, options: dict[str, Any]) -> None:
        actor = resolve_acting_user(options["actor"])
        model_admin, request = _model_admin(), _request(actor)
        if not model_admin.has_add_permission(request):
            raise CommandError(f"{actor.get_username()} is not allowed to add accounts "
                               f"(needs the permission billing.add_account). {NOTHING}")
        form_class = model_admin.get_form(request, None, change=False)
        names = self._form_fields(form_class)
        extra = self._parse_fields(options["fields"], [
            name for name in names if name not in {"name", "email", "customer_reference"}])
        data = {**extra, "name": options["name"], "email": options["email"],
                "customer_reference": options["ref"]}
        form = form_class(data)
        if not form.is_valid():
            raise refuse(field_problems(form.errors, self._options(names)), NOTHING)
        if options["dry_run"]:
            self.stdout.write(f"Dry run: would add the account {form.cleaned_data['name']} "
                              f"({form.cleaned_data['customer_reference']}). {NOTHING}")
            return
        with transaction.atomic():
            account = model_admin.save_form(request, form, change=False)
            model_admin.save_model(request, account, form, change=False)
            model_admin.save_related(request, form, formsets=[], change=False)
            model_admin.log_addition(request, account, model_admin.construct_change_message(
                request, form, [], add=True))
        self.stdout.write(f"Added the account {account} ({account.customer_reference}).")

    def _edit(self, options: dict[str, Any]) -> None:
        actor = resolve_acting_user(options["actor"])
        model_admin, request = _model_admin(), _request(actor)
        account = self._account(options["ref"])
        if not model_admin.has_change_permission(request, account):
            raise CommandError(f"{actor.get_username()} is not allowed to change accounts "
                               f"(needs the permission billing.change_account). {NOTHING}")
        form_class = model_admin.get_form(request, account, change=True)
        names = self._form_fields(form_class)
        changes = self._parse_fields(options["fields"], names)
        if not changes:
            raise CommandError(f"--field: give at least one NAME=VALUE to change. {NOTHING}")
        current = form_class(instance=account)
        data = {name: current.initial.get(name) or "" for name in names}
        form = form_class({**data, **changes}, instance=account)
        if not form.is_valid():
            raise refuse(field_problems(form.errors, {name: f"--field {name}" for name in names}),
                         NOTHING)
        changed = form.changed_data
        if not changed:
            self.stdout.write(f"The account {account.customer_reference} already has those "
                              f"values. {NOTHING}")
            return
        if options["dry_run"]:
            self.stdout.write(f"Dry run: would change {', '.join(changed)} of the account "
                              f"{options['ref'].strip()}. {NOTHING}")
            return
        with transaction.atomic():
            account = model_admin.save_form(request, form, change=True)
            model_admin.save_model(request, account, form, change=True)
            model_admin.save_related(request, form, formsets=[], change=True)
            model_admin.log_change(request, account, model_admin.construct_change_message(
                request, form, [], add=False))
        self.stdout.write(f"Changed {', '.join(changed)} of the account "
                          f"{account.customer_reference}.")

    def _delete(self, options: dict[str, Any]) -> None:
        actor = resolve_acting_user(options["actor"])
        model_admin, request = _model_admin(), _request(actor)
        references = list(dict.fromkeys(ref.strip() for ref in options["refs"]))
        accounts = []
        for reference in references:
            accounts.append(self._account(reference))
        if not all(model_admin.has_delete_permission(request, a) for a in accounts):
            raise CommandError(f"{actor.get_username()} is not allowed to delete accounts "
                               f"(needs the permission billing.delete_account). {NOTHING}")
        queryset = Account.objects.filter(pk__in=[account.pk for account in accounts])
        # The admin's own check: what else would go, and what still needs these accounts.
        _, counts, perms_needed, protected = model_admin.get_deleted_objects(queryset, request)
        if protected:
            shown = "; ".join(str(item) for item in protected[:10])
            more = f" and {len(protected) - 10} more" if len(protected) > 10 else ""
            raise CommandError(f"REF: refused, as the admin refuses it: other rows still need "
                               f"{'this account' if len(accounts) == 1 else 'these accounts'}"
                               f" ({shown}{more}). {NOTHING}")
        if perms_needed:
            raise CommandError(f"{actor.get_username()} may not delete what would go with "
                               f"them: {', '.join(sorted(perms_needed))}. {NOTHING}")
        listed = ", ".join(account.customer_reference for account in accounts)
        if options["dry_run"]:
            extra = ", ".join(f"{count} {name}" for name, count in counts.items())
            self.stdout.write(f"Dry run: would delete {listed} ({extra}). {NOTHING}")
            return
        with transaction.atomic():
            model_admin.log_deletions(request, queryset)
            if len(accounts) == 1:
                # The account's own delete page.
                model_admin.delete_model(request, accounts[0])
            else:
                # The "Delete selected" action: one audit row per account.
                model_admin.delete_queryset(request, queryset)
        noun = model_ngettext(Account._meta, len(accounts))
        self.stdout.write(f"Deleted {len(accounts)} {noun}: {listed}.")

    def _note(self, options: dict[str, Any]) -> None:
        actor = resolve_acting_user(options["actor"], permission=notes.ADD_NOTE_PERMISSION,
                                    needed_for="add notes")
        account = self._account(options["ref"])
        form = CustomerNoteForm({"text": options["text"]})
        if not form.is_valid():
            raise refuse(field_problems(form.errors, {"text": "--text"}), "No note was kept.")
        try:
            with transaction.atomic():
                note = notes.add_note(target=account, text=form.cleaned_data["text"],
                                      actor=actor)
                if options["dry_run"]:
                    # The service's own checks ran; what it wrote is undone.
                    transaction.set_rollback(True)
        except notes.NoteRefused as refusal:
            raise CommandError(f"--text: {refusal.message} No note was kept.") from None
        except PermissionDenied:
            raise CommandError(f"{actor.get_username()} is not allowed to add notes. No note "
                               "was kept.") from None
        if options["dry_run"]:
            self.stdout.write(f"Dry run: the note would be kept on {account}'s timeline. "
                              "No note was kept.")
            return
        self.stdout.write(f"Note {note.pk} is kept on {account}'s timeline.")

    @staticmethod
    def _options(names: list[str]) -> dict[str, str]:
        named = {"name": "--name", "email": "--email", "customer_reference": "REF"}
        return {name: named.get(name, f"--field {name}") for name in names}
