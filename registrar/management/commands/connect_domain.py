"""`manage.py connect_domain NAME --account LABEL --as USERNAME [--dry-run]`: have an
upstream serve a domain from its edge (a TLS certificate, proxying), the admin's
"Connect to the edge" page from a shell: the same service, permission and audit row.

With --dry-run the connect is checked and printed as it would be sent; nothing is sent
and nothing is written. Exit status is non-zero when it was refused, failed or its
outcome is unknown.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.management.base import CommandError, CommandParser

from backoffice.acting_user import resolve_acting_user
from backoffice.cli import ProjectCommand
from registrar import connections
from registrar.models import ProviderAccount
from registrar.operations import InvalidInput, OperationRefused, Outcomes

#: How the service's fields are named here.
OPTION_OF = {"domain": "NAME", "provider_account": "--account"}


class Command(ProjectCommand):
    help = ("Connect a registered domain to an upstream's edge (it mints a TLS certificate "
            "and proxies the name once the registrar's DNS points at it).")
    admin_surfaces: tuple[str, ...] = ("page:admin:registrar_registration_connect",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", metavar="NAME", help="The domain, Unicode or ASCII.")
        parser.add_argument("--account", dest="account", required=True, metavar="LABEL",
                            help="The provider account (its label) whose edge serves it.")
        parser.add_argument("--as", dest="actor", required=True, metavar="USERNAME",
                            help="The staff user acting (needs the DNS-records permission).")
        parser.add_argument("--dry-run", action="store_true",
                            help="Check and print what would be sent; send and write nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = resolve_acting_user(options["actor"], permission=connections.CONNECT_PERMISSION,
                                    needed_for="connect domains")
        label = options["account"].strip()
        account = ProviderAccount.objects.filter(label=label).first()
        if account is None:
            labels = ", ".join(connections.connect_accounts().values_list("label", flat=True))
            raise CommandError(f"--account: no provider account “{label[:60]}”. Accounts "
                               f"that can connect domains: {labels or 'none'}. Nothing was "
                               "sent.")
        try:
            request = connections.clean_connect(provider_account=account,
                                                domain=options["name"])
            if options["dry_run"]:
                self._dry_run(request)
                return
            outcome = connections.domain_connect(provider_account=account,
                                                 domain=options["name"], actor=actor)
        except InvalidInput as refusal:
            raise CommandError(self._refusal(refusal)) from None
        except (OperationRefused, PermissionDenied) as refusal:
            raise CommandError(f"{getattr(refusal, 'message', str(refusal))} Nothing was "
                               "sent.") from None
        self.stdout.write(f"{outcome.status}: {outcome.message}")
        if outcome.status != Outcomes.SUCCEEDED:
            raise CommandError(f"Connecting {request.domain} did not succeed "
                               f"({outcome.status}).")

    def _dry_run(self, request: connections.ConnectRequest) -> None:
        upstream = request.provider_account.get_kind_display()
        known = (f"registration #{request.registration.pk}" if request.registration
                 else "not a registration here")
        self.stdout.write(f"Dry run: would ask {upstream} (“{request.provider_account.label}”) "
                          f"to connect {request.domain} ({known}), idempotency key "
                          f"{request.idempotency_key}.")
        self.stdout.write("Nothing was sent and nothing was written.")

    @staticmethod
    def _refusal(refusal: InvalidInput) -> str:
        problems = [f"{OPTION_OF.get(name, name)}: {' '.join(messages)}"
                    for name, messages in refusal.field_errors.items()]
        return "; ".join(problems or [refusal.message]) + " Nothing was sent."
