"""The `manage.py registration` subcommands that act on one registration and print what
they read: `dns-records`, `note`, `customer` and `notices`.

Each is an admin page's twin, through the same service: the DNS records operation page
(registrar.services.registration_dns_records_read / registration_replace_dns_records),
the cockpit's note (backoffice.notes.add_note), "Attach to customer"
(registrar.customers.registration_set_customer) and the renewal-notices page
(registrar.notices). `--dry-run` on every write checks what the service would check,
prints what would be sent or stored, and sends and stores nothing. A refusal or a
failure is a CommandError (non-zero exit) naming the option it is about.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from backoffice import notes
from backoffice.acting_user import resolve_acting_user
from backoffice.cli import argument_reason
from registrar import notices, selectors, services
from registrar.customers import SET_CUSTOMER_PERMISSION, registration_set_customer
from registrar.management import output
from registrar.models import Registration, RenewalNotice
from registrar.operations import InvalidInput, OperationRefused, Outcome, checked_text
from registrar.providers.errors import ProviderError
from registrar.providers.registry import adapter_class
from registrar.values.names import to_ascii, to_unicode
from registrar.values.text import validate_text

SINGLE_NAME_OPS = frozenset({"dns-records", "note", "customer", "notices", "show"})
DASH = "\N{EN DASH}"
RECORD_HEADER = ("type", "host", "value", "ttl")
NOTICE_HEADER = ("point", "expiry_date", "outcome", "recipient", "claimed_at", "sent_at",
                 "attempts", "detail")
#: The renewal notices listed: the latest, which is what staff ask about.
NOTICES_SHOWN = 50
#: A record's TTL as the zone takes it (a signed 32-bit number of seconds, RFC 2181).
MAX_TTL = 2**31 - 1
_TYPE = re.compile(r"[A-Za-z]{1,10}")


def add_arguments(ops: Any) -> None:
    """The subparsers, on the registration command's `ops`."""

    def add(name: str, summary: str) -> CommandParser:
        sub = ops.add_parser(name, help=summary, description=summary)
        sub.add_argument("name", metavar="NAME",
                         help="The registration as staff read it: Unicode or punycode.")
        sub.add_argument("--as", dest="actor", required=True, metavar="USERNAME",
                         help="The staff user acting: their permission is checked and they "
                              "are the actor of the audit row.")
        sub.add_argument("--dry-run", action="store_true",
                         help="With a change: check it and print what would be sent or "
                              "stored; send and store nothing.")
        return sub

    dns = add("dns-records", "Show the DNS records the registrar serves for the domain, or "
                             "replace all of them (--replace).")
    dns.add_argument("--replace", action="store_true",
                     help="Replace every record with the --record / --records-file ones.")
    dns.add_argument("--record", dest="records", action="append", default=[],
                     metavar='"TYPE HOST VALUE [TTL]"',
                     help='A record, e.g. --record "A www 192.0.2.10 3600" or --record "MX '
                          '@ 10 mail.example.com". Repeatable. A last word of digits after '
                          "the value is the TTL.")
    dns.add_argument("--records-file", metavar="PATH",
                     help="Records from PATH (- for stdin), one per line as for --record; "
                          "blank lines and lines starting with # are skipped.")
    output.add_format(dns)
    note = add("note", "Add a note to the registration's timeline.")
    note.add_argument("--text", required=True, metavar="TEXT",
                      help=f"The note, at most {notes.MAX_NOTE_LENGTH} characters. No "
                           "passwords or auth codes.")
    customer = add("customer", "Attach the registration to a customer account (or move it "
                               "to another).")
    customer.add_argument("--account", required=True, metavar="REF",
                          help="The customer's reference, or their e-mail address when one "
                               "customer has it.")
    notice = add("notices", "Show the next renewal notice due and those sent, or suppress "
                            "(--suppress) or resume (--unsuppress) them.")
    switch = notice.add_mutually_exclusive_group()
    switch.add_argument("--suppress", action="store_true",
                        help="Stop the renewal notices (needs --reason).")
    switch.add_argument("--unsuppress", action="store_true",
                        help="Send the renewal notices again (--reason optional).")
    notice.add_argument("--reason", default="", metavar="TEXT",
                        help="Why, kept in the audit trail (the customer's ticket, what they "
                             "asked for).")
    output.add_format(notice)
    show = ops.add_parser("show", help="The registration as the back-office holds it; with "
                                       "--remote, beside what the registrar says now.",
                          description="Reads only: nothing is sent but a read, nothing is "
                                      "stored.")
    show.add_argument("name", metavar="NAME",
                      help="The registration as staff read it: Unicode or punycode.")
    show.add_argument("--as", dest="actor", required=True, metavar="USERNAME",
                      help="The staff user reading (needs to view registrations).")
    show.add_argument("--remote", action="store_true",
                      help="Read it at the registrar now and mark what differs.")
    output.add_format(show)


def handle(command: BaseCommand, options: dict[str, Any]) -> None:
    run = {"dns-records": _dns_records, "note": _note, "customer": _customer,
           "notices": _notices, "show": _show}[options["op"]]
    run(Printer(command), options)


class Printer:
    """The registration command's output: result lines, formats."""

    def __init__(self, command: BaseCommand) -> None:
        self.command = command
        self.stdout = command.stdout

    def result(self, display: str, status: str, message: str) -> None:
        self.command._result(display, status, message)

    def outcome(self, registration: Registration, outcome: Outcome) -> None:
        detail = (f" (registrar code: {outcome.error.code})"
                  if outcome.error is not None else "")
        self.result(registration.unicode_name, str(outcome.status),
                    f"{outcome.message}{detail}")
        if not outcome.ok:
            raise CommandError(f"{registration}: {outcome.status} (see the NAME line above).")


# --- shared --------------------------------------------------------------------------------


def _registration(raw: str) -> Registration:
    try:
        name = to_ascii(raw)
    except ValidationError as exc:
        raise CommandError(f"NAME “{raw.strip()[:60]}”: {exc.messages[0]} Nothing was "
                           "done.") from None
    registration = (Registration.objects.select_related("tld__provider_account",
                                                        "provider_account", "account")
                    .filter(name=name).first())
    if registration is None:
        raise CommandError(f"NAME: no registration {to_unicode(name)} in the back-office. "
                           "Nothing was done.")
    return registration


def _refused(printer: Printer, registration: Registration, reason: str) -> CommandError:
    printer.result(registration.unicode_name, "refused", reason)
    return CommandError(f"{registration}: refused (see the NAME line above). Nothing was "
                        "sent or stored.")


def _service(printer: Printer, registration: Registration, call) -> Any:
    """Run a service; a refusal or an upstream failure as a result line and a
    CommandError."""
    try:
        return call()
    except PermissionDenied as denied:
        raise _refused(printer, registration, f"not allowed: {denied}") from None
    except OperationRefused as refusal:
        raise _refused(printer, registration, refusal.message) from None
    except notes.NoteRefused as refusal:
        raise CommandError(f"--text: {refusal.message} Nothing was stored.") from None
    except ProviderError as error:
        printer.result(registration.unicode_name, "failed",
                       f"{error.message} (registrar code: {error.code})")
        raise CommandError(f"{registration}: the registrar could not be read. Nothing was "
                           "changed.") from None


# --- dns-records ---------------------------------------------------------------------------


def parse_record(text: str, where: str) -> dict[str, Any]:
    """"TYPE HOST VALUE [TTL]" as a record for the provider's own rules: the type is
    letters, the host one word, the value the rest; a last word of digits after a value is
    the TTL (so "MX @ 10 mail.example.com" has none, and "TXT @ hello 300" has 300)."""
    parts = text.split()
    if len(parts) < 3 or not _TYPE.fullmatch(parts[0]):
        raise CommandError(f'{where}: expected "TYPE HOST VALUE [TTL]", e.g. "A www '
                           '192.0.2.10 3600". Nothing was sent.')
    kind, host, *value = parts
    record: dict[str, Any] = {"type": kind.upper(), "host": host}
    if len(value) > 1 and value[-1].isascii() and value[-1].isdigit():
        ttl = int(value[-1]) if len(value[-1]) <= 10 else 0
        if not 1 <= ttl <= MAX_TTL:
            raise CommandError(f"{where}: the TTL is a number of seconds from 1 to "
                               f"{MAX_TTL}. Nothing was sent.")
        record["ttl"] = ttl
        value = value[:-1]
    record["value"] = " ".join(value)
    return record


def _records_file(path: str) -> list[dict[str, Any]]:
    option = f"--records-file {path}"
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CommandError(f"{option}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError:
        raise CommandError(f"{option}: not UTF-8 text.") from None
    records = []
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        reason = argument_reason(stripped)
        if reason:  # the line would be echoed to a terminal and sent upstream
            raise CommandError(f"{option}: line {number} {reason}. Nothing was sent.")
        records.append(parse_record(stripped, f"{option}: line {number}"))
    return records


def _dns_records(printer: Printer, options: dict[str, Any]) -> None:
    raw, path = options["records"], options["records_file"]
    if not options["replace"]:
        if raw or path:
            raise CommandError("--record and --records-file go with --replace (which "
                               "replaces every record). Nothing was sent.")
        if options["dry_run"]:
            raise CommandError("--dry-run goes with --replace: showing the records changes "
                               "nothing.")
        _show_records(printer, options)
        return
    records = [parse_record(text, f"--record {number}")
               for number, text in enumerate(raw, 1)]
    if path:
        records += _records_file(path)
    source = ("--record" if not path else f"--records-file {path}" if not raw
              else "--record / --records-file")
    if not records:
        raise CommandError("--replace needs at least one --record or --records-file line: "
                           "an empty set would take the domain off the air. Nothing was "
                           "sent.")
    operation = services.OPERATIONS["dns_records"]
    actor = resolve_acting_user(options["actor"], permission=operation.permission,
                                needed_for="replace DNS records")
    registration = _registration(options["name"])
    reason = services.unavailable_reason(registration, "dns_records", actor)
    if reason:
        raise _refused(printer, registration, reason)
    try:
        # The registration's own upstream decides what it accepts (the admin form's rule).
        cleaned = adapter_class(registration.served_by.kind).clean_dns_records(records)
    except ValidationError as exc:
        raise CommandError(f"{source}: {' '.join(exc.messages)} Nothing was sent.") from None
    if options["dry_run"]:
        output.table(printer.stdout, RECORD_HEADER, [_record_row(r) for r in cleaned])
        printer.result(registration.unicode_name, "ready",
                       f"would replace every DNS record with these {len(cleaned)}. "
                       "Nothing was sent.")
        return
    outcome = _service(printer, registration, lambda: (
        services.registration_replace_dns_records(registration=registration, records=cleaned,
                                                  actor=actor)))
    printer.outcome(registration, outcome)


def _record_row(record: dict[str, Any]) -> tuple[Any, ...]:
    return (record.get("type", ""), record.get("host", "@"), record.get("value", ""),
            record.get("ttl", ""))


def _show_records(printer: Printer, options: dict[str, Any]) -> None:
    actor = resolve_acting_user(options["actor"],
                                permission=services.OPERATIONS["dns_records"].permission,
                                needed_for="read DNS records")
    registration = _registration(options["name"])
    records = _service(printer, registration, lambda: services.registration_dns_records_read(
        registration=registration, actor=actor))
    rows = [_record_row(record) for record in records]
    output.records(printer.stdout, options["output_format"], RECORD_HEADER, rows,
                   key="dns_records",
                   summary=f"{len(rows)} DNS record(s) at the registrar for {registration}.")


# --- note ----------------------------------------------------------------------------------


def _note(printer: Printer, options: dict[str, Any]) -> None:
    actor = resolve_acting_user(options["actor"], permission=notes.ADD_NOTE_PERMISSION,
                                needed_for="add notes")
    body = (options["text"] or "").strip()
    if not body:
        raise CommandError("--text: write the note first. Nothing was stored.")
    try:
        # The note service's own rule, checked here too so a dry run refuses what it would.
        validate_text(body, max_length=notes.MAX_NOTE_LENGTH, multiline=True)
    except ValidationError as refusal:
        raise CommandError(f"--text: {refusal.messages[0]} Nothing was stored.") from None
    registration = _registration(options["name"])
    if options["dry_run"]:
        printer.result(registration.unicode_name, "ready",
                       f"would add a note of {len(body)} character(s) to the timeline. "
                       "Nothing was stored.")
        return
    _service(printer, registration, lambda: notes.add_note(target=registration, text=body,
                                                           actor=actor))
    printer.result(registration.unicode_name, "succeeded", f"Note added to {registration}.")


# --- customer ------------------------------------------------------------------------------


def _account(raw: str) -> Any:
    ref = (raw or "").strip()
    if not ref:
        raise CommandError("--account: give the customer's reference or e-mail address. "
                           "Nothing was changed.")
    accounts = Registration._meta.get_field("account").related_model.objects
    found = list(accounts.filter(customer_reference__iexact=ref)[:2])
    if not found and "@" in ref:
        found = list(accounts.filter(email__iexact=ref).order_by("pk")[:2])
    if not found:
        raise CommandError(f"--account “{ref[:60]}”: no customer has this reference or "
                           "e-mail address. Nothing was changed.")
    if len(found) > 1:
        raise CommandError(f"--account “{ref[:60]}”: more than one customer has it; give "
                           "the customer reference. Nothing was changed.")
    return found[0]


def _customer(printer: Printer, options: dict[str, Any]) -> None:
    actor = resolve_acting_user(options["actor"], permission=SET_CUSTOMER_PERMISSION,
                                needed_for="attach registrations to customers")
    registration = _registration(options["name"])
    account = _account(options["account"])
    before = registration.account
    if before is not None and before.pk == account.pk:
        raise _refused(printer, registration, f"{registration} already belongs to {account}.")
    if options["dry_run"]:
        printer.result(registration.unicode_name, "ready",
                       f"would attach it to {account} (now: {before or 'no customer'}). "
                       "Nothing was changed.")
        return
    outcome = _service(printer, registration, lambda: registration_set_customer(
        registration=registration, account=account, actor=actor))
    printer.outcome(registration, outcome)


# --- notices -------------------------------------------------------------------------------


def _notices(printer: Printer, options: dict[str, Any]) -> None:
    writes = options["suppress"] or options["unsuppress"]
    if not writes:
        if options["reason"]:
            raise CommandError("--reason goes with --suppress or --unsuppress.")
        if options["dry_run"]:
            raise CommandError("--dry-run goes with --suppress or --unsuppress: showing the "
                               "notices changes nothing.")
        actor = resolve_acting_user(options["actor"])
        if not (actor.has_perm(notices.VIEW_PERMISSION)
                or actor.has_perm(notices.SUPPRESS_PERMISSION)):
            raise CommandError(f"{actor.get_username()} is not allowed to read renewal "
                               f"notices (needs the permission {notices.VIEW_PERMISSION}). "
                               "Nothing was done.")
        _show_notices(printer, _registration(options["name"]), options["output_format"])
        return
    actor = resolve_acting_user(options["actor"], permission=notices.SUPPRESS_PERMISSION,
                                needed_for="suppress or resume renewal notices")
    try:
        reason = checked_text(options["reason"], "reason",
                              max_length=notices.REASON_MAX_LENGTH, multiline=True)
    except InvalidInput as exc:
        raise CommandError(f"--reason: {exc.message} Nothing was changed.") from None
    if options["suppress"] and not reason:
        raise CommandError("--suppress needs --reason: why no reminders should go out. "
                           "Nothing was changed.")
    registration = _registration(options["name"])
    current = notices.open_suppression(registration)
    if options["suppress"] and current is not None:
        raise _refused(printer, registration, f"Renewal notices for {registration} are "
                                              "already suppressed.")
    if options["unsuppress"] and current is None:
        raise _refused(printer, registration, f"Renewal notices for {registration} are not "
                                              "suppressed.")
    if options["dry_run"]:
        what = "suppress" if options["suppress"] else "resume"
        printer.result(registration.unicode_name, "ready",
                       f"would {what} its renewal notices"
                       + (f" (reason: {reason})" if reason else "") + ". Nothing was changed.")
        return
    run = notices.notices_suppress if options["suppress"] else notices.notices_resume
    outcome = _service(printer, registration, lambda: run(registration=registration,
                                                          reason=reason, actor=actor))
    printer.outcome(registration, outcome)


def _show_notices(printer: Printer, registration: Registration, output_format: str) -> None:
    try:
        state = notices.notice_state(registration)
    except ImproperlyConfigured as problem:
        raise CommandError(f"The renewal-notice schedule is not usable: {problem}") from None
    sent = list(RenewalNotice.objects.filter(registration=registration)
                .order_by("-claimed_at", "-pk")[:NOTICES_SHOWN])
    rows = [(n.point, n.expiry_date, notices.shown_outcome(n), n.recipient, n.claimed_at,
             n.sent_at, n.attempts, n.detail) for n in sent]
    suppression = state.suppression
    if output_format == "json":
        output.write_json(printer.stdout, {
            "registration": registration.unicode_name,
            "next": ({"point": state.next_point.name, "label": state.next_point.label,
                      "due_at": state.next_due_at, "due_now": state.due_now}
                     if state.next_point else None),
            "reason": state.reason,
            "recipient": state.recipient, "recipient_source": state.recipient_source,
            "suppressed": ({"reason": suppression.reason,
                            "by": suppression.suppressed_by.get_username(),
                            "at": suppression.suppressed_at} if suppression else None),
            "notices": [dict(zip(NOTICE_HEADER, row, strict=True)) for row in rows],
        })
        return
    if output_format == "csv":
        output.write_csv(printer.stdout, NOTICE_HEADER, rows)
        return
    out = printer.stdout
    if suppression is not None:
        out.write(f"Suppressed since {output.cell(suppression.suppressed_at)} by "
                  f"{suppression.suppressed_by.get_username()}: {suppression.reason}")
    if state.next_point is not None:
        out.write(f"Next notice: {state.next_point.label}, due "
                  f"{output.cell(state.next_due_at)}"
                  + (" (due now)" if state.due_now else "")
                  + (f", to {state.recipient} ({state.recipient_source})"
                     if state.recipient else "")
                  + (f". {state.reason}" if state.reason else "."))
    else:
        out.write(f"Next notice: none. {state.reason}".rstrip())
    output.table(out, NOTICE_HEADER, rows)
    out.write(f"{len(rows)} renewal notice(s) recorded for {registration}"
              + (f" (the latest {NOTICES_SHOWN})." if len(rows) == NOTICES_SHOWN else "."))


# --- show -------------------------------------------------------------------------------

VIEW_PERMISSION = "registrar.view_registration"


def _show(printer: Printer, options: dict[str, Any]) -> None:
    # A read writes no audit row; the permission is still checked.
    resolve_acting_user(options["actor"], permission=VIEW_PERMISSION,
                        needed_for="read registrations")
    registration = _registration(options["name"])
    if not options["remote"]:
        rows = [(name, getattr(registration, name, None))
                for name in selectors.COMPARED_FIELDS]
        output.records(printer.stdout, options["output_format"], ("field", "here"), rows,
                       key="fields")
        return
    compared, problem = selectors.registration_compared(registration)
    if problem:
        raise CommandError(f"{registration}: the registrar could not be read: {problem} "
                           "Nothing was changed.")
    rows = [(row["name"], row["here"], row["there"] if row["stated"] else "(not stated)",
             "differs" if row["differs"] else "") for row in compared]
    output.records(printer.stdout, options["output_format"],
                   ("field", "here", "at_registrar", "note"), rows, key="fields",
                   summary=f"{sum(1 for row in compared if row['differs'])} field(s) differ "
                           "from the registrar.")
