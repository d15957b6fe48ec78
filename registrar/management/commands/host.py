"""`manage.py host VERB NAME [HOST] ... --as USERNAME`: a registration's glue hosts from a
shell.

`list` reads the mirror (`--remote` lists them at the registrar, changing nothing);
`create`, `edit` and `delete` run the same checks and services as the admin's glue-host
pages: permission, refusals, upstream call, mirror, one audit row with the named user
as actor. Writes take `--dry-run`: the input is checked as the service checks it and
what would be sent is printed; nothing is sent or stored. The exit status is non-zero
when anything failed or was refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import CommandError, CommandParser

from backoffice.acting_user import resolve_acting_user
from backoffice.cli import ProjectCommand, add_format_option, write_rows
from registrar import selectors, services
from registrar.models import Host, Registration
from registrar.operations import InvalidInput, OperationRefused, Outcome, Outcomes
from registrar.providers.errors import ProviderError
from registrar.values.names import to_ascii, to_unicode

PERMISSIONS = {"list": "registrar.view_host", **{
    verb: services.HOST_PERMISSIONS[service_verb]
    for verb, service_verb in (("create", "create"), ("edit", "update"), ("delete", "delete"))}}
NEEDED_FOR = {"list": "read glue hosts", "create": "create glue hosts",
              "edit": "change glue hosts", "delete": "delete glue hosts"}
HEADER = ("host_name", "unicode_name", "addresses")


class Command(ProjectCommand):
    help = ("List, create, change and delete a registration's glue hosts, through the same "
            "services as the admin's glue-host pages (permission check, audit row with --as "
            "as actor, upstream call). Writes take --dry-run.")
    admin_surfaces: tuple[str, ...] = (
        "page:admin:registrar_registration_hosts", "page:admin:registrar_registration_host_edit",
        "page:admin:registrar_registration_host_delete", "model:registrar.host:change",
        "page:admin:registrar_registration_hosts_remote")

    def add_arguments(self, parser: CommandParser) -> None:
        verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

        def add(name: str, summary: str, *, host: bool = True) -> CommandParser:
            sub = verbs.add_parser(name, help=summary, description=summary)
            sub.add_argument("name", metavar="NAME",
                             help="The registration, Unicode (bücher.de) or punycode.")
            if host:
                sub.add_argument("host_name", metavar="HOST",
                                 help="The glue host, a name below the registration, e.g. "
                                      "ns1.example.com.")
                sub.add_argument("--dry-run", action="store_true",
                                 help="Check everything and print what would be sent; send "
                                      "and store nothing.")
            sub.add_argument("--as", dest="actor", required=True, metavar="USERNAME",
                             help="The staff user acting: their permission is checked and "
                                  "they are the actor of the audit row.")
            return sub

        listing = add("list", "The registration's glue hosts, from the mirror.", host=False)
        listing.add_argument("--remote", action="store_true",
                             help="List them at the registrar now (a read: the mirror is "
                                  "not changed).")
        add_format_option(listing, what="one row per glue host")
        for verb, summary in (("create", "Create a glue host with its addresses."),
                              ("edit", "Replace all of a glue host's addresses.")):
            sub = add(verb, summary)
            sub.add_argument("--ip", dest="addresses", action="append", default=[],
                             required=True, metavar="ADDR",
                             help="An IPv4 or IPv6 address; repeat for more.")
        add("delete", "Delete a glue host at the registrar and from the mirror.")

    def handle(self, *args: Any, **options: Any) -> None:
        verb = options["verb"]
        actor = resolve_acting_user(options["actor"], permission=PERMISSIONS[verb],
                                    needed_for=NEEDED_FOR[verb])
        registration = _registration(options["name"])
        if verb == "list":
            self._list(registration, options)
            return
        addresses = _addresses(options.get("addresses") or []) if verb != "delete" else []
        if verb == "create":
            host_name = _host_name(registration, options["host_name"])
            if registration.hosts.filter(host_name=host_name).exists():
                raise CommandError(f"HOST: {to_unicode(host_name)} is already a glue host of "
                                   f"{registration} (use edit). Nothing was sent.")
            what = (f"create glue host {to_unicode(host_name)} on {registration} with "
                    f"{', '.join(addresses)}")
            run: Callable[[], Outcome] = lambda: services.host_create(  # noqa: E731
                registration=registration, host_name=host_name, addresses=addresses,
                actor=actor)
        else:
            host = selectors.registration_host(registration, options["host_name"])
            if host is None:
                raise CommandError(f"HOST: no glue host “{options['host_name'][:80]}” on "
                                   f"{registration} in the mirror (`host list "
                                   f"{registration} --remote` shows the registrar's). Nothing "
                                   "was sent.")
            what, run = self._existing(verb, registration, host, addresses, actor)
        if options["dry_run"]:
            reason = services.hosts_unavailable_reason(registration)
            if reason:
                raise CommandError(f"{registration}: {reason} Nothing was sent.")
            self.stdout.write(f"Dry run: would {what} at the registrar.")
            self.stdout.write("Nothing was sent or stored.")
            return
        self._outcome(run)

    @staticmethod
    def _existing(verb: str, registration: Registration, host: Host, addresses: list[str],
                  actor: Any) -> tuple[str, Callable[[], Outcome]]:
        if verb == "edit":
            return (f"replace the addresses of glue host {host} on {registration} with "
                    f"{', '.join(addresses)}",
                    lambda: services.host_update(host=host, addresses=addresses, actor=actor))
        return (f"delete glue host {host} from {registration}",
                lambda: services.host_delete(host=host, actor=actor))

    def _list(self, registration: Registration, options: dict[str, Any]) -> None:
        output_format = options["output_format"]
        if options["remote"]:
            try:
                listing = selectors.registration_hosts_live(registration)
            except ProviderError as error:
                raise CommandError(f"{registration}: the registrar could not list its glue "
                                   f"hosts: {error.message} (registrar code: {error.code})."
                                   ) from None
            rows = [(str(host.get("host_name", "")), to_unicode(str(host.get("host_name", ""))),
                     " ".join(str(a.get("address", "")) for a in host.get("addresses") or []
                              if isinstance(a, dict)))
                    for host in listing if isinstance(host, dict)]
            source = "at the registrar (the mirror was not changed)"
        else:
            rows = [(host.host_name, str(host), " ".join(a.address for a in host.addresses.all()))
                    for host in selectors.registration_hosts(registration)]
            source = "in the mirror"
        write_rows(self.stdout, HEADER, rows, output_format)
        if output_format == "table":
            self.stdout.write(f"{len(rows)} glue host(s) of {registration} {source}.")

    def _outcome(self, run: Callable[[], Outcome]) -> None:
        try:
            outcome = run()
        except PermissionDenied as denied:
            raise CommandError(f"--as: {denied}") from None
        except OperationRefused as refusal:
            raise CommandError(f"{_refusal_text(refusal)} Nothing was sent.") from None
        text = outcome.message
        if outcome.status == Outcomes.FAILED and outcome.error is not None:
            text += f" (registrar code: {outcome.error.code})"
        self.stdout.write(f"{outcome.status}: {text}")
        if not outcome.ok:
            raise CommandError(f"The glue-host change did not succeed ({outcome.status}).")


def _registration(raw: str) -> Registration:
    try:
        name = to_ascii(raw)
    except ValidationError as exc:
        raise CommandError(f"NAME “{raw.strip()[:80]}”: {exc.messages[0]}") from None
    registration = Registration.objects.select_related(
        "tld__provider_account", "provider_account").filter(name=name).first()
    if registration is None:
        raise CommandError(f"NAME: no registration {to_unicode(name)} in the back-office.")
    return registration


def _host_name(registration: Registration, raw: str) -> str:
    try:
        return services.clean_host_name(registration, raw)
    except InvalidInput as exc:
        raise CommandError(f"HOST: {exc.message} Nothing was sent.") from None


def _addresses(raw: list[str]) -> list[str]:
    try:
        return [address for address, _ in services.clean_host_addresses(raw)]
    except InvalidInput as exc:
        raise CommandError(f"--ip: {exc.message} Nothing was sent.") from None


def _refusal_text(refusal: OperationRefused) -> str:
    options = {"host_name": "HOST", "addresses": "--ip"}
    details = [f"{options.get(name, name)}: {' '.join(errors)}"
               for name, errors in refusal.field_errors.items()
               if errors and " ".join(errors) not in refusal.message]
    return refusal.message + (f" ({'; '.join(details)})" if details else "")
