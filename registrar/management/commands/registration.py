"""`manage.py registration OP NAME ... --as USERNAME`: any registration operation, from a shell.

The command parses input and reports; the operation itself is the service in
`registrar.services`, exactly as the admin runs it: the same permission check,
refusals, upstream call, mirror update and audit row (with the named user as actor).
Names are typed as staff read them, Unicode or punycode; `--file` takes a list for
bulk work. Every name gets one result line, the run ends with a summary line, and the
exit status is non-zero when any name failed or was refused.
"""

from __future__ import annotations

import logging
import sys
from argparse import ArgumentTypeError
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import CommandError, CommandParser, OutputWrapper

from backoffice import assurance
from backoffice.acting_user import resolve_acting_user
from backoffice.cli import ProjectCommand, argument_reason, record_id
from contacts.models import Contact
from registrar import approvals, services
from registrar.forms import CONTACT_FIELD_NAMES
from registrar.management import registration_ops as more
from registrar.models import Approval, Registration
from registrar.money import format_minor
from registrar.operations import (
    InvalidInput,
    OperationRefused,
    Outcome,
    Outcomes,
    checked_text,
)
from registrar.providers.base import DnssecKeyData
from registrar.values.names import to_ascii, to_unicode

logger = logging.getLogger(__name__)

# Result statuses, as plain strings, in the order the summary lists them. "refused" is
# this command's word for "nothing was sent" (OperationRefused, or a name not found).
SUCCEEDED, PENDING = Outcomes.SUCCEEDED.value, Outcomes.PENDING.value
PAYMENT_REQUIRED, FAILED = Outcomes.PAYMENT_REQUIRED.value, Outcomes.FAILED.value
REFUSED = "refused"
STATUSES = (SUCCEEDED, PENDING, PAYMENT_REQUIRED, FAILED, REFUSED)
# Between a result's status and its message, as staff are used to reading it.
DASH = "\N{EN DASH}"
ROLES = ("admin", "tech", "billing")
_LOOKUP_CHUNK = 500
TICKET_LENGTH = Approval._meta.get_field("ticket").max_length
#: bulk_flag / bulk_unflag's permission (has_flag_registration_permission).
FLAG_PERMISSION = "registrar.flag_registration"

Runner = Callable[[Registration, Any], Outcome]
Check = Callable[[Registration], str | None]


@dataclass(frozen=True)
class Plan:
    """One run's operation, parsed and validated: what to call for each registration."""

    operation: str  # the key in services.OPERATIONS (permission, availability)
    description: str  # what the summary calls it, e.g. "privacy on"
    run: Runner
    # Refusals this command adds to the service's own (e.g. a contact of another
    # customer); None when the registration may go ahead.
    check: Check | None = None
    # For what is not in services.OPERATIONS (the local flag): the permission it needs.
    permission: str = ""


@dataclass(frozen=True)
class Target:
    """A name as typed, resolved to a registration or to the reason it cannot be."""

    display: str
    registration: Registration | None = None
    problem: str = ""


class _Progress:
    """A one-line progress bar on stderr, drawn only on a terminal and only for more
    than one name; cleared before each result line so output never interleaves."""

    WIDTH = 30

    def __init__(self, stream: OutputWrapper, total: int) -> None:
        self.stream = stream
        self.total = total
        self.enabled = total > 1 and stream.isatty()

    def show(self, done: int, label: str) -> None:
        if self.enabled:
            filled = self.WIDTH * done // self.total
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            self.stream.write(f"\r[{bar}] {done}/{self.total} {label}"[:120], ending="",
                              style_func=str)
            self.stream.flush()

    def clear(self) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[K", ending="", style_func=str)


class Command(ProjectCommand):
    help = (
        "Run a registration operation on one or more registrations, through the same "
        "services as the admin: permission check, audit row (actor: --as), upstream call. "
        "Prints one result line per name and a summary; exits non-zero when any name "
        "failed or was refused. `registration OP --help` documents each operation."
    )

    admin_surfaces: tuple[str, ...] = (
        "page:admin:registrar_registration_operation",
        *(f"operation:{key}" for key in services.OPERATIONS),
        "page:admin:registrar_registration_auth_code",
        "page:admin:registrar_registration_remote",
        "action:registrar.registration.bulk_lock",
        "action:registrar.registration.bulk_unlock",
        "action:registrar.registration.bulk_auto_renew_on",
        "action:registrar.registration.bulk_auto_renew_off",
        "action:registrar.registration.bulk_force_sync",
        "action:registrar.registration.bulk_flag",
        "action:registrar.registration.bulk_unflag",
        "page:admin:registrar_registration_note",
        "page:admin:registrar_registration_customer",
        "page:admin:registrar_registration_notices",
        "model:registrar.registration:change",
        "model:registrar.hostaddress:change",
        "model:registrar.dnsseckey:change",
    )

    # -- arguments -------------------------------------------------------------------

    def add_arguments(self, parser: CommandParser) -> None:
        ops = parser.add_subparsers(dest="op", required=True, metavar="OP",
                                    title="operations")

        def add(name: str, summary: str, *,
                positional: Callable[[CommandParser], Any] | None = None) -> CommandParser:
            sub = ops.add_parser(name, help=summary, description=summary)
            if positional:
                positional(sub)
            _add_targets(sub)
            return sub

        add("lock", "Switch the transfer lock on.")
        add("unlock", "Switch the transfer lock off.")
        add("privacy", "Switch WHOIS privacy on or off (on is billed first on some TLDs).",
            positional=_on_off)
        dnssec = add("dnssec", "Enable DNSSEC with keys, add keys, or disable it.",
                     positional=lambda sub: sub.add_argument(
                         "mode", choices=["enable", "disable", "add-keys"],
                         help="enable: replace all keys with --key ones; add-keys: add them; "
                              "disable: remove DNSSEC."))
        dnssec.add_argument("--key", dest="keys", action="append", default=[],
                            metavar='"FLAGS ALG BASE64"',
                            help='A DNSKEY, e.g. --key "257 13 mdsswUyr3DPW…". Repeatable; '
                                 "required for enable and add-keys.")
        add("auto-renew", "Switch auto-renew on or off (off may refund the last renewal).",
            positional=_on_off)
        nameservers = add("nameservers", "Replace the nameservers (2 to 13, in order).")
        nameservers.add_argument("--ns", dest="nameservers", action="append", default=[],
                                 required=True, metavar="HOST",
                                 help="A nameserver host name; repeat in order.")
        nameservers.add_argument("--confirm-dnssec", action="store_true",
                                 help="Required for registrations with DNSSEC on: the new "
                                      "nameservers must serve the same signed zone.")
        holder = add("holder", "Edit the current holder (free) or replace it with another "
                               "contact (billed on some TLDs).")
        holder.add_argument("--mode", required=True, choices=["edit_current", "change"],
                            help="edit_current: change --field values of the holder; change: "
                                 "replace it with --source-contact or a new contact made of "
                                 "--field values.")
        _add_fields(holder)
        holder.add_argument("--confirm-reverification", action="store_true",
                            help="edit_current: accept that the holder must verify changed "
                                 "validated fields again.")
        holder.add_argument("--source-contact", type=record_id, metavar="ID",
                            help="change: the back-office id of an existing contact of the "
                                 "same customer account.")
        contacts = add("contacts", "Change the admin, tech and/or billing contacts; roles "
                                   "not given stay as they are.")
        for role in ROLES:
            contacts.add_argument(f"--{role}", metavar="SOURCE",
                                  help=f"The {role} contact: same_as_owner, existing:ID (a "
                                       "contact of the same customer account) or new (made "
                                       "of --field values).")
        _add_fields(contacts)
        add("auth-code", "Reveal the auth (EPP) code. It is printed to stdout only; the "
                         "audit row records that it was revealed, never the code.")
        add("start-transfer-out", "Start the transfer to another registrar, where the "
                                  "upstream answers with the auth code: printed to stdout "
                                  "only, never stored or audited.")
        add("sync", "Re-read the registration from the registrar and show what changed.")
        add("transfer-out", "Approve or reject a pending outbound transfer.",
            positional=lambda sub: sub.add_argument(
                "decision", choices=["approve", "reject"],
                help="approve: let the domain leave; reject: keep it here."))
        push = add("push-transfer", "Push the registration to another registrar.")
        push.add_argument("--recipient", required=True, metavar="HANDLE",
                          help="The receiving registrar's handle, e.g. REG-IDS.")
        add("resend-verification", "Send the holder the registry's verification e-mail "
                                   "again.")
        add("flag", "Flag for extra verification: unlocks and auth-code reveals then need a "
                    "second person (local only; nothing is sent). Needs --reason.")
        add("unflag", "Clear the extra-verification flag (needs a fresh second factor: "
                      "--otp). Local only; nothing is sent.")
        more.add_arguments(ops)

    # -- the run -----------------------------------------------------------------------

    def handle(self, *args: Any, **options: Any) -> None:
        if options["op"] in more.SINGLE_NAME_OPS:
            # One registration each, with their own output (registration_more.py).
            more.handle(self, options)
            return
        plan = _plan(options)
        actor = self._actor(options["actor"], plan)
        code = (options.get("otp") or "").strip()
        if code and not assurance.confirm_second_factor(actor, code):
            raise CommandError("--otp: that code is not valid for "
                               f"{actor.get_username()} (or was already used). Nothing was "
                               "sent.")
        targets = _targets(_names(options["names"], options["file"]))
        if options["dry_run"]:
            self._dry_run(plan, actor, targets)
        else:
            self._run(plan, actor, targets)

    def _actor(self, username: str, plan: Plan) -> Any:
        """The acting user: must exist, be active, be staff and hold the operation's
        permission."""
        user = resolve_acting_user(username)
        permission = plan.permission or services.OPERATIONS[plan.operation].permission
        if not user.has_perm(permission):
            # The service would refuse too; saying it once beats once per name.
            raise CommandError(f"{username} is not allowed to run {plan.description} (needs "
                               f"the permission {permission}). Nothing was sent.")
        return user

    def _run(self, plan: Plan, actor: Any, targets: list[Target]) -> None:
        counts = dict.fromkeys(STATUSES, 0)
        progress = _Progress(self.stderr, len(targets))
        done = 0
        try:
            for done, target in enumerate(targets, 1):
                progress.show(done - 1, target.display)
                status, message = self._run_one(plan, actor, target)
                progress.clear()
                counts[str(status)] += 1
                self._result(target.display, status, message)
        except KeyboardInterrupt:
            progress.clear()
            self.stdout.write(_summary(plan.description, counts, len(targets),
                                       done=max(done - 1, 0)))
            raise CommandError("Interrupted. The name being processed may or may not have "
                               "been changed (see its audit trail); the names after it were "
                               "not touched.") from None
        self.stdout.write(_summary(plan.description, counts, len(targets)))
        failures = counts[FAILED] + counts[REFUSED]
        if failures:
            raise CommandError(f"{failures} of {len(targets)} name(s) failed or were refused "
                               "(see the NAME lines above).")

    def _run_one(self, plan: Plan, actor: Any, target: Target) -> tuple[str, str]:
        registration = target.registration
        if registration is None:
            return REFUSED, target.problem
        reason = plan.check(registration) if plan.check else None
        if reason:
            return REFUSED, reason
        try:
            outcome = plan.run(registration, actor)
        except PermissionDenied as denied:
            return REFUSED, f"not allowed: {denied}"
        except OperationRefused as refusal:
            return REFUSED, _refusal_text(refusal)
        except Exception as exc:
            # One broken name must not hide the results of the others.
            logger.exception("registration %s on %s failed", plan.operation, target.display)
            return FAILED, f"unexpected error ({type(exc).__name__}); see the log."
        return str(outcome.status), _outcome_text(outcome)

    def _dry_run(self, plan: Plan, actor: Any, targets: list[Target]) -> None:
        ready = 0
        for target in targets:
            registration = target.registration
            reason = target.problem if registration is None else (
                (services.unavailable_reason(registration, plan.operation, actor)
                 if plan.operation in services.OPERATIONS else None)
                or (plan.check(registration) if plan.check else None))
            if reason:
                self._result(target.display, REFUSED, reason)
            else:
                ready += 1
                self._result(target.display, "ready", f"would run {plan.description}")
        refused = len(targets) - ready
        self.stdout.write(f"Dry run ({plan.description}): {len(targets)} name(s): {ready} "
                          f"ready, {refused} refused. Nothing was sent.")
        if refused:
            raise CommandError(f"{refused} of {len(targets)} name(s) would be refused (see the "
                               "NAME lines above).")

    def _result(self, display: str, status: str, message: str) -> None:
        style = {SUCCEEDED: self.style.SUCCESS, "ready": self.style.SUCCESS,
                 PAYMENT_REQUIRED: self.style.WARNING, FAILED: self.style.ERROR,
                 REFUSED: self.style.ERROR}.get(str(status))
        self.stdout.write(f"{display}: {status} {DASH} {message}", style_func=style)


# --- argument helpers -------------------------------------------------------------------


def _add_targets(sub: CommandParser) -> None:
    """The arguments every operation shares."""
    sub.add_argument("names", nargs="*", metavar="NAME",
                     help="Registration names as staff read them: Unicode (bücher.de) or "
                          "punycode (xn--bcher-kva.de).")
    sub.add_argument("--file", metavar="PATH",
                     help="Read more names from PATH (- for stdin), one per line; blank "
                          "lines and # comments are ignored.")
    sub.add_argument("--as", dest="actor", required=True, metavar="USERNAME",
                     help="The staff user acting: their permission is checked and they are "
                          "the actor of the audit rows.")
    sub.add_argument("--dry-run", action="store_true",
                     help="Resolve the names and show which would be refused, and why; send "
                          "nothing.")
    sub.add_argument("--otp", metavar="CODE",
                     help="A current code from your authenticator app (or a backup code): "
                          "high-risk operations (unlock, auth code, holder change, transfer "
                          "approval, push transfer, DNSSEC disable, nameservers of a locked "
                          "domain) need a fresh second factor.")
    sub.add_argument("--ticket", default="", metavar="REF",
                     help="Where a second person must approve: the support ticket.")
    sub.add_argument("--reason", default="", metavar="TEXT",
                     help="Where a second person must approve: how the customer was "
                          "verified. For transfer-out reject: why the transfer is refused. "
                          "For flag (required) and unflag: why, kept in the audit row.")


def _on_off(sub: CommandParser) -> None:
    sub.add_argument("state", choices=["on", "off"], help="on or off.")


def _add_fields(sub: CommandParser) -> None:
    sub.add_argument("--field", dest="fields", action="append", default=[],
                     metavar="NAME=VALUE",
                     help="A contact field, repeatable: " + ", ".join(CONTACT_FIELD_NAMES)
                          + ".")


# --- parsing options into a plan (all input errors before any name is touched) ---------


def _plan(options: dict[str, Any]) -> Plan:
    op = options["op"]
    # What a two-person request carries; the step-up code is checked once the actor is
    # known (handle()).
    ticket = options.get("ticket") or ""
    if len(ticket) > TICKET_LENGTH:
        # Refused even where no approval is asked for: never silently cut or ignored.
        raise CommandError(f"--ticket: at most {TICKET_LENGTH} characters (this has "
                           f"{len(ticket)}). Nothing was sent.")
    clearance = approvals.Clearance(ticket=ticket, verification=options.get("reason") or "")
    if op in {"lock", "unlock"}:
        locked = op == "lock"
        return Plan("lock", op, lambda r, actor: services.registration_set_lock(
            registration=r, locked=locked, actor=actor, clearance=clearance))
    if op == "privacy":
        enabled = options["state"] == "on"
        return Plan("privacy", f"privacy {options['state']}",
                    lambda r, actor: services.registration_set_privacy(
                        registration=r, enabled=enabled, actor=actor))
    if op == "auto-renew":
        auto_renew = options["state"] == "on"
        return Plan("auto_renew", f"auto-renew {options['state']}",
                    lambda r, actor: services.registration_set_auto_renew(
                        registration=r, auto_renew=auto_renew, actor=actor))
    if op == "dnssec":
        return _dnssec_plan(options["mode"], options["keys"])
    if op == "nameservers":
        return _nameservers_plan(options["nameservers"], options["confirm_dnssec"])
    if op == "holder":
        return _holder_plan(options, clearance)
    if op == "contacts":
        return _contacts_plan(options)
    if op == "auth-code":
        return Plan("auth_code", "auth-code", lambda r, actor: (
            services.registration_reveal_auth_code(registration=r, actor=actor,
                                                   clearance=clearance)))
    if op == "start-transfer-out":
        return Plan("start_transfer_out", "start-transfer-out", lambda r, actor: (
            services.registration_start_transfer_out(registration=r, actor=actor,
                                                     clearance=clearance)))
    if op == "sync":
        return Plan("force_sync", "sync", lambda r, actor: services.registration_force_sync(
            registration=r, actor=actor))
    if op == "transfer-out":
        decision = options["decision"]
        reason = (options.get("reason") or "").strip()
        if decision == "reject" and not reason:
            raise CommandError("transfer-out reject needs --reason: why the transfer is "
                               "refused. Nothing was sent.")
        return Plan("transfer_out", f"transfer-out {decision}",
                    lambda r, actor: services.registration_decide_transfer_out(
                        registration=r, decision=decision, actor=actor,
                        reason=reason if decision == "reject" else "",
                        clearance=clearance if decision == "approve" else None))
    if op == "push-transfer":
        recipient = options["recipient"]
        if not services.RECIPIENT_HANDLE.match(recipient.strip().upper()):
            raise CommandError(f"--recipient “{recipient[:40]}”: give the receiving registrar's "
                               "handle, e.g. REG-IDS (letters, digits, - and _).")
        return Plan("push_transfer", f"push-transfer to {recipient.strip().upper()}",
                    lambda r, actor: services.registration_push_transfer(
                        registration=r, recipient=recipient, actor=actor,
                        clearance=clearance))
    if op == "resend-verification":
        return Plan("resend_verification", "resend-verification",
                    lambda r, actor: services.registration_resend_verification(
                        registration=r, actor=actor))
    if op in {"flag", "unflag"}:
        return _flag_plan(op == "flag", options.get("reason") or "")
    raise CommandError(f"Unknown operation “{op}”.")  # argparse's choices rule this out


def _flag_plan(flagged: bool, raw_reason: str) -> Plan:
    """The bulk_flag / bulk_unflag actions: the same service, one name at a time."""
    try:
        reason = checked_text(raw_reason, "reason", max_length=services.REASON_MAX_LENGTH,
                              multiline=True)
    except InvalidInput as exc:
        raise CommandError(f"--reason: {exc.message}") from None
    if flagged and not reason:
        raise CommandError("flag needs --reason: why the customer asked for extra "
                           "verification (e.g. the ticket). Nothing was changed.")
    op = "flag" if flagged else "unflag"
    return Plan("customer_flag", op, lambda r, actor: services.registration_set_customer_flag(
        registration=r, flagged=flagged, actor=actor, reason=reason),
        permission=FLAG_PERMISSION)


def _dnssec_plan(mode: str, raw_keys: Sequence[str]) -> Plan:
    keys: list[DnssecKeyData] = []
    for number, raw in enumerate(raw_keys, 1):
        parts = raw.split(None, 2)
        if len(parts) != 3:
            raise CommandError(f'--key {number}: expected "FLAGS ALGORITHM BASE64", e.g. '
                               '"257 13 mdsswUyr3DPW…".')
        try:
            keys.append(services.clean_dnssec_key(*parts))
        except InvalidInput as exc:
            raise CommandError(f"--key {number}: {exc.message}") from None
    if mode == "disable" and keys:
        raise CommandError("dnssec disable takes no --key.")
    if mode != "disable" and not keys:
        raise CommandError(f"dnssec {mode} needs at least one --key.")
    service_mode = mode.replace("-", "_")
    return Plan("dnssec", f"dnssec {mode}", lambda r, actor: services.registration_set_dnssec(
        registration=r, mode=service_mode, keys=keys, actor=actor))


def _nameservers_plan(raw: Sequence[str], confirm_dnssec: bool) -> Plan:
    try:
        nameservers = services.clean_nameservers(raw)
    except InvalidInput as exc:
        raise CommandError(f"--ns: {exc.message}") from None

    def check(registration: Registration) -> str | None:
        if registration.dnssec_enabled and not confirm_dnssec:
            return ("DNSSEC is on: nameservers that do not serve the same signed zone break "
                    "resolution. Check, then add --confirm-dnssec.")
        return None

    return Plan("nameservers", f"nameservers {' '.join(nameservers)}",
                lambda r, actor: services.registration_set_nameservers(
                    registration=r, nameservers=nameservers, actor=actor), check)


def _fields(raw: Sequence[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for item in raw:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in CONTACT_FIELD_NAMES:
            raise CommandError(f"--field “{item}”: expected NAME=VALUE with NAME one of "
                               f"{', '.join(CONTACT_FIELD_NAMES)}.")
        if name in fields:
            raise CommandError(f"--field {name} is given twice.")
        fields[name] = value.strip()
    return fields


def _contact_id(text: str) -> int | None:
    """The id in existing:ID, read as --source-contact reads one (ASCII digits, within the
    column); None when it is not one. str.isdigit() alone takes an Arabic-Indic digit and
    a number too large for any lookup."""
    try:
        return record_id(text.strip())
    except (ValueError, ArgumentTypeError):
        return None


def _contact(contact_id: int, option: str) -> Contact:
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:
        raise CommandError(f"{option}: no contact with id {contact_id}.")
    return contact


def _same_account(contacts: Iterable[Contact]) -> Check:
    """The admin offers only the contacts the service accepts; so does this (the same
    rule: the registration's own customer's, or none's for a customer-less one)."""
    def check(registration: Registration) -> str | None:
        for contact in contacts:
            mismatch = services.contact_customer_mismatch(contact, registration)
            if mismatch:
                return (f"contact #{contact.pk} ({contact.handle or contact.full_name}) "
                        f"{mismatch}.")
        return None

    return check


def _holder_plan(options: dict[str, Any], clearance: approvals.Clearance) -> Plan:
    mode, fields = options["mode"], _fields(options["fields"])
    source_id, confirm = options["source_contact"], options["confirm_reverification"]
    if mode == "edit_current":
        if source_id is not None:
            raise CommandError("--source-contact belongs to --mode change.")
        if not fields:
            raise CommandError("--mode edit_current needs at least one --field.")
        return Plan("holder", "holder edit", lambda r, actor: (
            services.registration_update_holder(
                registration=r, action_mode="edit_current", holder=fields,
                confirm_reverification=confirm, actor=actor, clearance=clearance)))
    if confirm:
        raise CommandError("--confirm-reverification belongs to --mode edit_current.")
    if (source_id is None) == (not fields):
        raise CommandError("--mode change needs either --source-contact or the new contact's "
                           "--field values, not both.")
    source = _contact(source_id, "--source-contact") if source_id is not None else None
    return Plan("holder", "holder change", lambda r, actor: (
        services.registration_update_holder(
            registration=r, action_mode="change", source_contact=source,
            new_contact=fields or None, actor=actor, clearance=clearance)),
        _same_account([source] if source else []))


def _contacts_plan(options: dict[str, Any]) -> Plan:
    fields = _fields(options["fields"])
    roles: dict[str, dict[str, Any]] = {}
    used: list[Contact] = []
    for role in ROLES:
        value = options[role]
        if value is None:
            continue
        source, _, ref = value.strip().partition(":")
        if source in {"same_as_owner", "new"} and not ref:
            roles[role] = {"source": source, "new_contact": fields if source == "new" else None}
        elif source == "existing" and _contact_id(ref) is not None:
            contact = _contact(_contact_id(ref), f"--{role}")
            used.append(contact)
            roles[role] = {"source": "existing", "contact": contact}
        else:
            raise CommandError(f"--{role} “{value[:40]}”: expected same_as_owner, "
                               "existing:ID (the id of a contact) or new.")
    if not roles:
        raise CommandError("Give at least one of --admin, --tech, --billing.")
    wants_new = any(choice["source"] == "new" for choice in roles.values())
    if wants_new and not fields:
        raise CommandError("A role set to new needs the new contact's --field values.")
    if fields and not wants_new:
        raise CommandError("--field is only used for a role set to new.")
    described = ", ".join(f"{role}={options[role].strip()}" for role in roles)
    return Plan("role_contacts", f"contacts {described}",
                lambda r, actor: services.registration_set_role_contacts(
                    registration=r, roles=roles, actor=actor), _same_account(used))


# --- names ------------------------------------------------------------------------------


def _names(given: Sequence[str], path: str | None) -> list[str]:
    """The names from the command line, then from --file; at least one."""
    names = [name for name in given if name.strip()]
    if path:
        names.extend(_read_names(path))
    if not names:
        raise CommandError("Give at least one NAME, or --file with names in it.")
    return names


def _read_names(path: str) -> list[str]:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CommandError(f"--file {path}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError:
        raise CommandError(f"--file {path}: not UTF-8 text.") from None
    names = []
    # Split on line feeds only: str.splitlines() also splits on NEL, the file and group
    # separators and U+2028, which would turn a control character into a line break.
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), 1):
        # A domain name never contains "#", so everything after one is a comment.
        name = line.split("#", 1)[0].strip()
        reason = argument_reason(name) if name else None
        if reason:
            # Refused before any name is touched: the line would be echoed to a terminal.
            raise CommandError(f"--file {path}: line {number} {reason}. Nothing was sent.")
        if name:
            names.append(name)
    return names


def _targets(names: Sequence[str]) -> list[Target]:
    """Each distinct name, in the order given, resolved to its registration."""
    targets: list[tuple[str, str | None, str]] = []  # (display, ascii, problem)
    seen: set[str] = set()
    for raw in names:
        try:
            ascii_name = to_ascii(raw)
        except ValidationError as exc:
            targets.append((raw.strip(), None, exc.messages[0]))
            continue
        if ascii_name not in seen:
            seen.add(ascii_name)
            targets.append((to_unicode(ascii_name), ascii_name, ""))
    wanted = [ascii_name for _, ascii_name, _ in targets if ascii_name]
    found: dict[str, Registration] = {}
    for start in range(0, len(wanted), _LOOKUP_CHUNK):
        found.update((r.name, r) for r in Registration.objects.select_related(
            "tld__provider_account", "account").filter(
            name__in=wanted[start:start + _LOOKUP_CHUNK]))
    resolved = []
    for display, ascii_name, problem in targets:
        registration = found.get(ascii_name) if ascii_name else None
        if ascii_name and registration is None:
            problem = "no such registration in the back-office."
        resolved.append(Target(display, registration, problem))
    return resolved


# --- output -----------------------------------------------------------------------------


def _outcome_text(outcome: Outcome) -> str:
    if outcome.status == Outcomes.SUCCEEDED and "authcode" in outcome.data:
        # Printed here and nowhere else: not logged, not in the audit row.
        return f"auth code: {outcome.data['authcode']}"
    if outcome.status == Outcomes.PAYMENT_REQUIRED and outcome.payment is not None:
        price = outcome.payment.price
        link = outcome.payment.portal_url
        shown = (f"billing portal: {link}" if link
                 else "the registrar sent no usable billing-portal link")
        return (f"{outcome.message} Price: {format_minor(price.amount_minor, price.currency)}; "
                f"{shown}")
    if outcome.status == Outcomes.FAILED and outcome.error is not None:
        return f"{outcome.message} (registrar code: {outcome.error.code})"
    return outcome.message


def _refusal_text(refusal: OperationRefused) -> str:
    details = [f"{name}: {' '.join(errors)}" for name, errors in refusal.field_errors.items()
               if errors and " ".join(errors) not in refusal.message]
    return refusal.message + (f" ({'; '.join(details)})" if details else "")


def _summary(description: str, counts: dict[str, int], total: int,
             done: int | None = None) -> str:
    figures = ", ".join(f"{count} {status}" for status, count in counts.items() if count)
    scope = (f"interrupted after {done} of {total} name(s)" if done is not None
             else f"{total} name(s)")
    return f"Summary ({description}): {scope}: {figures or 'nothing done'}."
