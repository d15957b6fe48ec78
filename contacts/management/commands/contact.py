"""`manage.py contact VERB ... --as USERNAME`: domain contacts from a shell.

`list` and `show` read the mirror (`show --remote` reads the contact at the registrar);
`create`, `edit`, `delete` and `resend` run the same form checks and services as the
admin's contact pages (permission, refusals, upstream call, mirror, one audit row with
the named user as actor); `sync` mirrors a provider account's contact list. Every write
takes `--dry-run`: the input is checked as the admin checks it and what would be sent is
printed, and nothing is sent or stored. The exit status is non-zero when anything
failed or was refused.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import CommandError, CommandParser
from django.db.models import Q

from backoffice.acting_user import resolve_acting_user
from backoffice.cli import ProjectCommand, add_format_option, record_id, whole_number, write_rows
from contacts import services
from contacts.forms import FIELDS, ContactForm
from contacts.models import Contact
from contacts.validation import CONTACT_LIMITS
from registrar.models import ProviderAccount, Tld
from registrar.operations import OperationRefused, Outcome, Outcomes
from registrar.providers.errors import ProviderError
from registrar.values.names import normalise_tld

VIEW = "contacts.view_contact"
PERMISSIONS = {"list": VIEW, "show": VIEW, "create": "contacts.add_contact",
               "edit": "contacts.change_contact", "delete": "contacts.delete_contact",
               "resend": "contacts.resend_contact_verification"}
NEEDED_FOR = {"list": "read contacts", "show": "read contacts", "create": "create contacts",
              "edit": "edit contacts", "delete": "delete contacts",
              "resend": "resend contact verification", "sync": "mirror contacts"}
LIST_HEADER = ("id", "handle", "name", "organization", "email", "country", "tld", "account",
               "upstream_id", "verification")
SHOW_FIELDS = ("id", "upstream_id", "handle", *FIELDS, "validations", "verification_state",
               "verification_due_at", "tld", "account", "split_from", "upstream_created_at",
               "upstream_updated_at")
# What `show --remote` compares: the fields the registrar's record carries.
REMOTE_FIELDS = ("upstream_id", "handle", *FIELDS, "validations", "upstream_created_at",
                 "upstream_updated_at")
#: The create options, as the admin's add form names its fields.
CREATE_OPTIONS = {name: f"--{name.replace('_', '-')}" for name in FIELDS}


def _option_for(field: str, verb: str) -> str:
    if verb == "edit":
        return f"--field {field}" if field in FIELDS else "--field"
    return {"tld": "--tld", "account": "--account"}.get(field) or CREATE_OPTIONS.get(
        field, "--" + field.replace("_", "-"))


class Command(ProjectCommand):
    help = ("List, show, create, edit, delete and mirror domain contacts, and resend their "
            "verification e-mail, through the same services as the admin (permission "
            "check, audit row with --as as actor, upstream call). Writes take --dry-run.")
    admin_surfaces: tuple[str, ...] = (
        "model:contacts.contact:add", "page:admin:contacts_contact_edit",
        "model:contacts.contact:change", "model:contacts.contact:delete",
        "page:admin:contacts_contact_resend", "page:admin:contacts_contact_sync",
        "page:admin:contacts_contact_remote")

    # -- arguments -------------------------------------------------------------------

    def add_arguments(self, parser: CommandParser) -> None:
        verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

        def add(name: str, summary: str, *, writes: bool = False,
                one: bool = False) -> CommandParser:
            sub = verbs.add_parser(name, help=summary, description=summary)
            if one:
                sub.add_argument("contact_id", type=record_id, metavar="ID",
                                 help="The contact's back-office id (as in its admin URL).")
            sub.add_argument("--as", dest="actor", required=True, metavar="USERNAME",
                             help="The staff user acting: their permission is checked and "
                                  "they are the actor of the audit row.")
            if writes:
                sub.add_argument("--dry-run", action="store_true",
                                 help="Check everything and print what would be sent; send "
                                      "and store nothing.")
            return sub

        listing = add("list", "Contacts in the mirror, in the changelist's order.")
        listing.add_argument("--account", metavar="REF",
                             help="Only the contacts of this customer account (its "
                                  "customer reference, e.g. ACC-00042).")
        listing.add_argument("--tld", metavar="TLD",
                             help="Only the contacts pinned to this TLD, e.g. .com.")
        listing.add_argument("--search", metavar="TEXT",
                             help="Part of the handle, name or organisation; a whole e-mail "
                                  "address; or the upstream id.")
        listing.add_argument("--limit", type=whole_number(1, 1000), default=100, metavar="N",
                             help="At most N contacts (1 to 1000, default 100).")
        add_format_option(listing, what="one row per contact")

        show = add("show", "One contact from the mirror, or (--remote) as the registrar "
                           "has it now.", one=True)
        show.add_argument("--remote", action="store_true",
                          help="Read it at the registrar (a read: nothing is changed) and "
                               "mark where the mirror differs.")
        add_format_option(show, what="one row per field")

        create = add("create", "Create a contact at the registrar, pinned to a TLD, and "
                               "mirror it (the admin's add form).", writes=True)
        create.add_argument("--tld", required=True, metavar="TLD",
                            help="The TLD whose registry rules apply, e.g. .com.")
        create.add_argument("--account", metavar="REF",
                            help="The customer account it belongs to (customer reference).")
        for name in FIELDS:
            if name == "extra_properties":
                continue
            limit = CONTACT_LIMITS.get(name)
            create.add_argument(CREATE_OPTIONS[name], dest=name, metavar="TEXT",
                                help=name.replace("_", " ").capitalize()
                                + (f" (at most {limit} characters)." if limit else "."))
        create.add_argument("--extra-properties", dest="extra_properties", metavar="JSON",
                            help='Registry-specific fields as a JSON object, e.g. '
                                 '\'{"it_pin": "…"}\'.')

        edit = add("edit", "Change fields of a contact at the registrar (the admin's edit "
                           "page): only the fields that change are sent.", writes=True,
                   one=True)
        edit.add_argument("--field", dest="fields", action="append", default=[],
                          required=True, metavar="NAME=VALUE",
                          help="A field to change, repeatable: " + ", ".join(FIELDS) + ".")

        add("delete", "Delete a contact no registration uses, at the registrar and here.",
            writes=True, one=True)
        add("resend", "Send the contact the registry's verification e-mail again (TLDs "
                      "that validate registrants).", writes=True, one=True)

        sync = add("sync", "Mirror a provider account's contact list: create or update "
                           "the contacts that back no registration here.", writes=True)
        sync.add_argument("--account", required=True, metavar="LABEL",
                          help="The provider account whose contacts are read.")

    # -- the run -----------------------------------------------------------------------

    def handle(self, *args: Any, **options: Any) -> None:
        verb = options["verb"]
        actor = self._actor(options["actor"], verb)
        if verb == "list":
            self._list(options)
        elif verb == "sync":
            self._sync(actor, options)
        elif verb == "create":
            self._create(actor, options)
        else:
            contact = Contact.objects.select_related(
                "tld__provider_account", "account", "split_from").filter(
                pk=options["contact_id"]).first()
            if contact is None:
                raise CommandError(f"ID: no contact with id {options['contact_id']}. Nothing "
                                   "was done.")
            {"show": self._show, "edit": self._edit, "delete": self._delete,
             "resend": self._resend}[verb](actor, contact, options)

    @staticmethod
    def _actor(username: str, verb: str) -> Any:
        if verb == "sync":
            user = resolve_acting_user(username)
            for permission in services.MIRROR_PERMISSIONS:
                if not user.has_perm(permission):
                    raise CommandError(f"{username} is not allowed to mirror contacts (needs "
                                       f"the permission {permission}). Nothing was done.")
            return user
        return resolve_acting_user(username, permission=PERMISSIONS[verb],
                                   needed_for=NEEDED_FOR[verb])

    # -- reads ---------------------------------------------------------------------------

    def _list(self, options: dict[str, Any]) -> None:
        contacts = Contact.objects.select_related("tld", "account").order_by("handle", "id")
        if options["account"] is not None:
            contacts = contacts.filter(account=_customer(options["account"], "--account"))
        if options["tld"] is not None:
            contacts = contacts.filter(tld=_tld(options["tld"], "--tld"))
        term = (options["search"] or "").strip()
        if term:
            contacts = contacts.filter(_search(term))
        limit = options["limit"]
        chosen = list(contacts[:limit + 1])
        rows = [(contact.pk, contact.handle, contact.full_name, contact.organization,
                 contact.email, str(contact.country), _tld_label(contact.tld),
                 contact.account.customer_reference if contact.account else "",
                 contact.upstream_id or "", contact.verification_state)
                for contact in chosen[:limit]]
        write_rows(self.stdout, LIST_HEADER, rows, options["output_format"])
        if options["output_format"] == "table":
            more = " (more match: narrow the filters or raise --limit)" if len(
                chosen) > limit else ""
            self.stdout.write(f"{len(rows)} contact(s){more}.")

    def _show(self, actor: Any, contact: Contact, options: dict[str, Any]) -> None:
        output_format = options["output_format"]
        if not options["remote"]:
            write_rows(self.stdout, ("field", "value"),
                       [(name, _shown(_value(contact, name))) for name in SHOW_FIELDS],
                       output_format)
            return
        try:
            record, differences = services.contact_read_remote(contact=contact, actor=actor)
        except PermissionDenied as denied:
            raise CommandError(f"--as: {denied}") from None
        except OperationRefused as refusal:
            raise CommandError(f"{refusal.message} Nothing was sent.") from None
        except ProviderError as error:
            raise CommandError(f"The registrar could not be read: {error.message} (registrar "
                               f"code: {error.code}).") from None
        rows = [(name, _shown(_value(contact, name)), _shown(record.fields.get(name)),
                 "yes" if name in differences else "")
                for name in REMOTE_FIELDS]
        if "split_from" in differences:
            old, new = differences["split_from"]
            rows.append(("split_from", _shown(old), _shown(new), "yes"))
        write_rows(self.stdout, ("field", "mirror", "registrar", "differs"), rows,
                   output_format)
        if output_format == "table":
            self.stdout.write(
                f"Read at the registrar: {len(differences)} field(s) differ from the mirror "
                "(nothing was changed)." if differences else
                "Read at the registrar: the mirror matches it.")

    # -- writes --------------------------------------------------------------------------

    def _create(self, actor: Any, options: dict[str, Any]) -> None:
        tld = _tld(options["tld"], "--tld")
        account = (_customer(options["account"], "--account")
                   if options["account"] is not None else None)
        data = {name: options[name] or "" for name in FIELDS if name != "extra_properties"}
        data.update(tld=tld.pk, account=account.pk if account else "",
                    extra_properties=options["extra_properties"] or "{}")
        form = ContactForm(data)
        cleaned = self._valid(form, "create")
        if options["dry_run"]:
            self._ready(lambda: services.check_contact_registrar(contact=None, tld=tld))
            self._would(f"create a contact pinned to .{tld.name}", cleaned)
            return
        self._outcome(lambda: services.contact_create(
            tld=form.cleaned_data["tld"], account=form.cleaned_data.get("account"),
            fields=cleaned, actor=actor), "create")

    def _edit(self, actor: Any, contact: Contact, options: dict[str, Any]) -> None:
        changes = _fields(options["fields"])
        data = {name: _form_value(contact, name) for name in FIELDS}
        data.update(changes)
        form = ContactForm(data, contact=contact)
        cleaned = self._valid(form, "edit")
        if options["dry_run"]:
            self._ready(lambda: services.check_contact_registrar(contact=contact,
                                                                 tld=contact.tld))
            if contact.unsettled_operation == "update":
                raise CommandError(f"{contact}: its last change has not been read again yet; "
                                   "changes are refused until it has. Nothing was sent.")
            self._would(f"update contact {contact}", cleaned)
            return
        self._outcome(lambda: services.contact_update(contact=contact, fields=cleaned,
                                                      actor=actor), "edit")

    def _delete(self, actor: Any, contact: Contact, options: dict[str, Any]) -> None:
        if options["dry_run"]:
            using = services.registrations_using(contact)
            names = sorted({str(r) for registrations in using.values() for r in registrations})
            if names:
                raise CommandError(f"{contact} is still used by {len(names)} registration(s): "
                                   f"{', '.join(names[:10])}. Change their contacts first. "
                                   "Nothing was sent.")
            self._ready(lambda: services.check_contact_registrar(contact=contact,
                                                                 tld=contact.tld))
            self._would(f"delete contact {contact} at the registrar and here", None)
            return
        self._outcome(lambda: services.contact_delete(contact=contact, actor=actor), "delete")

    def _resend(self, actor: Any, contact: Contact, options: dict[str, Any]) -> None:
        if options["dry_run"]:
            if contact.tld is None or not contact.tld.requires_contact_validation:
                raise CommandError("Verification applies only to contacts on TLDs that "
                                   "validate registrants (such as .it and .au). Nothing was "
                                   "sent.")
            self._ready(lambda: services.check_contact_registrar(contact=contact,
                                                                 tld=contact.tld))
            self._would(f"resend the verification e-mail to {contact.email}", None)
            return
        self._outcome(lambda: services.contact_resend_verification(contact=contact,
                                                                   actor=actor), "resend")

    def _sync(self, actor: Any, options: dict[str, Any]) -> None:
        label = options["account"].strip()
        if not label:
            raise CommandError("--account: name the provider account. Nothing was done.")
        account = ProviderAccount.objects.filter(label=label).first()
        if account is None:
            raise CommandError(f"--account: no provider account “{label[:64]}”. Nothing was "
                               "done.")

        def show(kind: str, upstream_id: int, handle: str, fields: list[str]) -> None:
            mark = "+" if kind == "created" else "~"
            self.stdout.write(f"{mark} {upstream_id} {handle or '-'}"
                              + (f"  {', '.join(fields)}" if kind == "updated" else ""))

        try:
            report = services.contact_mirror(account=account, actor=actor,
                                             dry_run=options["dry_run"], on_change=show)
        except PermissionDenied as denied:
            raise CommandError(f"--as: {denied}") from None
        except OperationRefused as refusal:
            raise CommandError(f"--account {account.label}: {refusal.message} Nothing was "
                               "done.") from None
        self.stdout.write(report.summary())
        if not report.ok:
            raise CommandError(f"--account {account.label}: the mirror did not complete "
                               "(see the summary above).")

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def _valid(form: ContactForm, verb: str) -> dict[str, Any]:
        """The cleaned contact fields, or CommandError naming the option at fault."""
        if form.is_valid():
            return form.cleaned_data["cleaned_contact"]
        problems = []
        for name, errors in form.errors.items():
            where = "--field" if name == "__all__" and verb == "edit" else (
                "" if name == "__all__" else _option_for(name, verb))
            problems.append(f"{where}: {' '.join(errors)}" if where else " ".join(errors))
        raise CommandError("; ".join(problems) + " Nothing was sent.")

    @staticmethod
    def _ready(check) -> None:
        try:
            check()
        except OperationRefused as refusal:
            raise CommandError(f"{refusal.message} Nothing was sent.") from None

    def _would(self, what: str, fields: dict[str, Any] | None) -> None:
        self.stdout.write(f"Dry run: would {what}.")
        if fields is not None:
            self.stdout.write("Fields sent: " + json.dumps(fields, ensure_ascii=False,
                                                           sort_keys=True, default=str))
        self.stdout.write("Nothing was sent or stored.")

    def _outcome(self, call, verb: str) -> None:
        try:
            outcome: Outcome = call()
        except PermissionDenied as denied:
            raise CommandError(f"--as: {denied}") from None
        except OperationRefused as refusal:
            details = [f"{_option_for(name, verb)}: {' '.join(errors)}"
                       for name, errors in refusal.field_errors.items() if errors]
            raise CommandError(refusal.message + (f" ({'; '.join(details)})" if details
                                                  else "") + " Nothing was sent.") from None
        text = outcome.message
        if outcome.status == Outcomes.FAILED and outcome.error is not None:
            text += f" (registrar code: {outcome.error.code})"
            for violation in outcome.error.violations:
                text += f"; {violation.get('field')}: {violation.get('message')}"
        self.stdout.write(f"{outcome.status}: {text}")
        contact = outcome.data.get("contact")
        if outcome.ok and isinstance(contact, Contact) and verb == "create":
            self.stdout.write(f"Contact id {contact.pk} (upstream id {contact.upstream_id}).")
        if not outcome.ok:
            raise CommandError(f"The {verb} did not succeed ({outcome.status}).")


# --- input ------------------------------------------------------------------------------


def _fields(raw: list[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for item in raw:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in FIELDS:
            raise CommandError(f"--field “{item[:60]}”: expected NAME=VALUE with NAME one of "
                               f"{', '.join(FIELDS)}. Nothing was sent.")
        if name in fields:
            raise CommandError(f"--field {name} is given twice. Nothing was sent.")
        fields[name] = value.strip()
    if not fields:
        raise CommandError("--field: give at least one NAME=VALUE. Nothing was sent.")
    return fields


def _tld(raw: str, option: str) -> Tld:
    """The TLD typed as staff read it (.com, com, .XN--P1AI, .рф), as `expiring` reads one."""
    try:
        name = normalise_tld(raw)
    except ValidationError as exc:
        raise CommandError(f"{option}: {exc.messages[0]} Nothing was done.") from None
    tld = Tld.objects.select_related("provider_account").filter(name=name).first()
    if tld is None:
        raise CommandError(f"{option}: no TLD .{name} in the back-office. Nothing was done.")
    return tld


def _customer(raw: str, option: str):
    reference = raw.strip()
    model = Contact._meta.get_field("account").related_model
    account = model.objects.filter(customer_reference__iexact=reference).first() if (
        reference) else None
    if account is None:
        raise CommandError(f"{option}: no customer account with the reference "
                           f"“{reference[:64]}”. Nothing was done.")
    return account


def _search(term: str) -> Q:
    query = (Q(handle__icontains=term) | Q(organization__icontains=term)
             | Q(first_name__icontains=term) | Q(last_name__icontains=term)
             | Q(email__iexact=term))
    if term.isascii() and term.isdigit() and len(term) <= 18:
        query |= Q(pk=int(term)) | Q(upstream_id=int(term))
    return query


# --- output -----------------------------------------------------------------------------


def _tld_label(tld: Tld | None) -> str:
    return f".{tld.name}" if tld is not None else ""


def _value(contact: Contact, name: str) -> Any:
    if name == "id":
        return contact.pk
    if name == "tld":
        return _tld_label(contact.tld)
    if name == "account":
        return contact.account.customer_reference if contact.account else ""
    if name == "split_from":
        return contact.split_from.upstream_id if contact.split_from else ""
    value = getattr(contact, name)
    return str(value) if name == "country" else value


def _form_value(contact: Contact, name: str) -> Any:
    """The contact's value as the admin's edit form posts it back."""
    value = getattr(contact, name)
    if name == "extra_properties":
        return json.dumps(value or {})
    return "" if value is None else str(value)


def _shown(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return "" if value is None else value
