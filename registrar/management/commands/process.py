"""`manage.py process list|show|remote|resend|cancel ... --as USERNAME`: registrar
processes from a shell.

`list` and `show` read the mirror (Process and ProcessLogEntry rows); `show --remote`
and `remote` read the registrar live. `remote NAME` also mirrors and follows the
registration's running processes, as the sync's follow does. `resend` and `cancel` are
the process page's buttons: the same services (registrar.services.process_resend and
process_cancel), permission checks, upstream calls and audit rows, with `--as` as the
actor. The exit status is non-zero when anything failed or was refused.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import CommandError, CommandParser

from backoffice.acting_user import resolve_acting_user
from backoffice.cli import ProjectCommand, record_id, whole_number
from registrar import services
from registrar.management import output
from registrar.models import Process, ProcessStatus, Registration
from registrar.operations import OperationRefused, Outcome, Outcomes
from registrar.providers.errors import ProviderError
from registrar.values.names import to_ascii, to_unicode

logger = logging.getLogger(__name__)
# Between a result's status and its message, as the registration command writes it.
DASH = "\N{EN DASH}"

#: A state is a status as the registrar spells it, or one of these two groups.
STATES = ("open", "ended", *ProcessStatus.values)
MAX_LIMIT = 1000
LIST_HEADER = ("id", "upstream_id", "registration", "action", "status", "stuck", "polls",
               "created_at", "updated_at")
REMOTE_HEADER = ("upstream_id", "action", "status", "created", "updated", "local_id",
                 "local_status")
LOG_HEADER = ("logged_at", "message")
ACTIONS = {
    "resend": ("registrar.resend_process", "resume", services.process_resend),
    "cancel": ("registrar.cancel_process", "cancel", services.process_cancel),
}


class Command(ProjectCommand):
    help = ("Registrar processes: list and show the mirror, read a registration's processes "
            "at the registrar, resend (resume) a suspended process or cancel a running one, "
            "through the same services as the admin's process page.")

    admin_surfaces: tuple[str, ...] = (
        "page:admin:registrar_process_action",
        "model:registrar.process:change",
        "model:registrar.processlogentry:change",
        "page:admin:registrar_registration_processes",
        "page:admin:registrar_process_remote",
    )

    def add_arguments(self, parser: CommandParser) -> None:
        verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

        def add(name: str, summary: str) -> CommandParser:
            sub = verbs.add_parser(name, help=summary, description=summary)
            sub.add_argument("--as", dest="actor", required=True, metavar="USERNAME",
                             help="The staff user acting: their permission is checked (and "
                                  "they are the actor of any audit row).")
            return sub

        listing = add("list", "The processes mirrored here, newest first.")
        listing.add_argument("--registration", metavar="NAME",
                             help="Only this registration's (Unicode or punycode).")
        listing.add_argument("--state", choices=STATES, metavar="STATE",
                             help="open (not ended), ended, or one status: "
                                  + ", ".join(ProcessStatus.values) + ".")
        listing.add_argument("--stuck", action="store_true",
                             help="Only those the poller gave up on.")
        listing.add_argument("--limit", type=whole_number(), default=100, metavar="N",
                             help=f"At most N rows, 1 to {MAX_LIMIT} (default 100).")
        output.add_format(listing)

        show = add("show", "One mirrored process with its log.")
        show.add_argument("process_id", type=record_id, metavar="ID",
                          help="The process's number here (the id column of list).")
        show.add_argument("--remote", action="store_true",
                          help="Also read it at the registrar now (its status and log "
                               "there); the mirror is left to the poller.")
        output.add_format(show)

        remote = add("remote", "A registration's processes as the registrar lists them "
                               "now; the running ones are mirrored and followed here.")
        remote.add_argument("name", metavar="NAME",
                            help="The registration (Unicode or punycode).")
        remote.add_argument("--dry-run", action="store_true",
                            help="Read and show the list only: mirror and follow nothing.")
        output.add_format(remote)

        for verb, summary in (("resend", "Resume a suspended process at the registrar."),
                              ("cancel", "Cancel a process at the registrar; the change it "
                                         "carried is not made.")):
            one = add(verb, summary)
            one.add_argument("process_id", type=record_id, metavar="ID",
                             help="The process's number here (the id column of list).")
            one.add_argument("--dry-run", action="store_true",
                             help="Check that it would be sent, and say what; send nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        verb = options["verb"]
        if verb in ACTIONS:
            permission, what, _ = ACTIONS[verb]
            actor = resolve_acting_user(options["actor"], permission=permission,
                                        needed_for=f"{what} processes")
            self._action(verb, actor, _process(options["process_id"]), options["dry_run"])
            return
        actor = resolve_acting_user(options["actor"],
                                    permission=services.PROCESS_VIEW_PERMISSION,
                                    needed_for="read processes")
        if verb == "list":
            self._list(options)
        elif verb == "show":
            self._show(actor, _process(options["process_id"]), options["remote"],
                       options["output_format"])
        else:
            self._remote(actor, _registration(options["name"], "NAME"), options["dry_run"],
                         options["output_format"])

    # -- reading the mirror ---------------------------------------------------------

    def _list(self, options: dict[str, Any]) -> None:
        limit = options["limit"]
        if not 1 <= limit <= MAX_LIMIT:
            raise CommandError(f"--limit must be from 1 to {MAX_LIMIT} (got {limit}).")
        processes = Process.objects.select_related("registration").order_by("-created_at",
                                                                               "-id")
        if options["registration"] is not None:
            processes = processes.filter(
                registration=_registration(options["registration"], "--registration"))
        state = options["state"]
        if state == "open":
            processes = processes.filter(is_terminal=False)
        elif state == "ended":
            processes = processes.filter(is_terminal=True)
        elif state:
            processes = processes.filter(status=state)
        if options["stuck"]:
            processes = processes.filter(stuck=True)
        found = list(processes[:limit + 1])
        more = len(found) > limit
        rows = [_row(process) for process in found[:limit]]
        summary = (f"{len(rows)} process(es)"
                   + (" shown; there are more (raise --limit, or filter)." if more
                      else "."))
        output.records(self.stdout, options["output_format"], LIST_HEADER, rows,
                       key="processes", summary=summary)

    def _show(self, actor: Any, process: Process, remote: bool, output_format: str) -> None:
        log = [(entry.logged_at, entry.message)
               for entry in process.log_entries.order_by("logged_at", "pk")]
        view = None
        if remote:
            view = _read(lambda: services.process_read_remote(process=process, actor=actor))
        if output_format == "json":
            document: dict[str, Any] = {
                "process": dict(zip(LIST_HEADER, _row(process), strict=True)),
                "log": [dict(zip(LOG_HEADER, line, strict=True)) for line in log]}
            if view is not None:
                document["remote"] = {"process": {"upstream_id": view.process.id,
                                                  "action": view.process.action,
                                                  "status": view.process.status},
                                      "log": view.log}
            output.write_json(self.stdout, document)
            return
        if output_format == "csv":
            # One row per log line; the remote log follows, marked by its source.
            rows = [("mirror", *line) for line in log]
            if view is not None:
                rows += [("registrar", entry.get("date") or entry.get("logged_at") or "",
                          entry.get("message", "")) for entry in view.log]
            output.write_csv(self.stdout, ("source", *LOG_HEADER), rows)
            return
        for label, value in zip(LIST_HEADER, _row(process), strict=True):
            self.stdout.write(f"{label + ':':14}{output.cell(value)}")
        self.stdout.write(f"{'terminal:':14}{output.cell(process.is_terminal)}")
        self.stdout.write(f"Log ({len(log)} line(s)):")
        output.table(self.stdout, LOG_HEADER, log)
        if view is not None:
            differs = view.process.status != process.status
            self.stdout.write(
                f"At the registrar now: {view.process.status or 'no status'}"
                + (f" (the mirror shows {process.status}; the poller catches up)" if differs
                   else "") + f"; log {len(view.log)} line(s):")
            output.table(self.stdout, LOG_HEADER,
                         [(entry.get("date") or entry.get("logged_at") or "",
                           entry.get("message", "")) for entry in view.log])

    # -- reading the registrar ------------------------------------------------------

    def _remote(self, actor: Any, registration: Registration, dry_run: bool,
                output_format: str) -> None:
        listing = _read(lambda: services.registration_processes_read(
            registration=registration, actor=actor, mirror=not dry_run))
        rows = []
        for info in listing.processes:
            local = listing.mirrored.get(info.id)
            rows.append((info.id, info.action, info.status,
                         str(info.raw.get("createdDate") or ""),
                         str(info.raw.get("updatedDate") or ""),
                         local.pk if local else None, local.status if local else ""))
        found = ", ".join(p.upstream_id for p in listing.found)
        summary = (f"{len(rows)} process(es) at the registrar for {registration}; "
                   + ("dry run: nothing was mirrored." if dry_run else
                      f"followed here now: {found}." if found else
                      "none newly followed here."))
        output.records(self.stdout, output_format, REMOTE_HEADER, rows, key="processes",
                       summary=summary)

    # -- resend and cancel ----------------------------------------------------------

    def _action(self, verb: str, actor: Any, process: Process, dry_run: bool) -> None:
        registration = process.registration
        label = f"process {process.upstream_id} of {registration}"
        refusal = services.process_action_refusal(process, verb)
        if refusal is None and registration.served_by is None:
            refusal = f"No registrar is configured for .{registration.tld.name}."
        if dry_run:
            if refusal:
                self.stdout.write(f"{label}: refused {DASH} {refusal}", style_func=self.style.ERROR)
                raise CommandError(f"Dry run: {verb} of {label} would be refused. Nothing "
                                   "was sent.")
            self.stdout.write(f"{label}: ready {DASH} would ask {registration.served_by} to "
                              f"{ACTIONS[verb][1]} it ({process.status} here). Nothing was "
                              "sent.", style_func=self.style.SUCCESS)
            return
        try:
            outcome: Outcome = ACTIONS[verb][2](process=process, actor=actor)
        except PermissionDenied as denied:
            raise CommandError(f"{label}: not allowed: {denied}. Nothing was sent.") from None
        except OperationRefused as refusal_:
            raise CommandError(f"{label}: refused {DASH} {refusal_.message} Nothing was "
                               "sent.") from None
        detail = (f" (registrar code: {outcome.error.code})"
                  if outcome.status == Outcomes.FAILED and outcome.error is not None else "")
        self.stdout.write(f"{label}: {outcome.status} {DASH} {outcome.message}{detail}")
        if not outcome.ok:
            raise CommandError(f"{verb} of {label} did not succeed ({outcome.status}).")


def _process(process_id: int) -> Process:
    process = (Process.objects.select_related("registration__tld__provider_account",
                                              "registration__provider_account")
               .filter(pk=process_id).first())
    if process is None:
        raise CommandError(f"ID {process_id}: no such process in the back-office.")
    return process


def _registration(raw: str, option: str) -> Registration:
    try:
        name = to_ascii(raw)
    except ValidationError as exc:
        raise CommandError(f"{option} “{raw.strip()[:60]}”: {exc.messages[0]}") from None
    registration = (Registration.objects.select_related("tld__provider_account",
                                                        "provider_account")
                    .filter(name=name).first())
    if registration is None:
        raise CommandError(f"{option}: no registration {to_unicode(name)} in the "
                           "back-office.")
    return registration


def _read(call):
    """A live read; its refusal or failure as a CommandError (nothing was changed)."""
    try:
        return call()
    except PermissionDenied as denied:
        raise CommandError(f"Not allowed: {denied}.") from None
    except OperationRefused as refusal:
        raise CommandError(f"Refused: {refusal.message}") from None
    except ProviderError as error:
        raise CommandError(f"The registrar could not be read now ({error.message.rstrip('.')}"
                           f"; registrar code: {error.code}). Nothing was changed.") from None


def _row(process: Process) -> tuple[Any, ...]:
    return (process.pk, process.upstream_id, process.registration.unicode_name,
            process.action, process.status, process.stuck, process.poll_count,
            process.created_at, process.updated_at)
