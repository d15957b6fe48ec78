"""`manage.py provider_check LABEL`: is a provider account reachable, and does it accept
our credentials? The check sends the account's secret, so it is refused like any other
call when the account's base URL, timeout or secret variable break the rules, and every
run (passed, failed or refused) leaves one audit row."""

import time
from typing import Any

from django.core.management.base import CommandError

from backoffice import audit
from backoffice.acting_user import resolve_acting_user
from backoffice.cli import ProjectCommand
from backoffice.models import StaffAction
from registrar.models import ProviderAccount
from registrar.providers.endpoints import base_url_problem
from registrar.providers.errors import ProviderError
from registrar.providers.registry import build_provider

AUDIT_ACTION = "provider_account.check"
COMMAND_LABEL = "manage.py provider_check"
PERMISSION = "registrar.view_provideraccount"


class Command(ProjectCommand):
    help = (
        "Check one provider account: is it reachable and does it accept our credentials? "
        "Prints the latency and what the account serves; exits non-zero on failure."
    )

    def add_arguments(self, parser):
        parser.add_argument("label", help="The provider account's label.")
        parser.add_argument("--base-url", help="Check this URL instead of the stored one "
                                               "(the same rules apply: https, public host).")
        parser.add_argument("--as", dest="actor", metavar="USERNAME",
                            help="The staff user running the check: the actor of the audit "
                                 "row. Omitted: the row names this command.")

    def handle(self, *args, label, base_url=None, actor=None, **options):
        user = (resolve_acting_user(actor, permission=PERMISSION,
                                    needed_for="check provider accounts")
                if actor is not None else None)
        try:
            account = ProviderAccount.objects.get(label=label)
        except ProviderAccount.DoesNotExist:
            known = ", ".join(ProviderAccount.objects.values_list("label", flat=True)) or "none"
            raise CommandError(f"No provider account “{label[:80]}” (the label argument; "
                               f"known: {known}).") from None
        if base_url:
            # A mistyped argument is refused as input, before anything is attempted (so
            # without an audit row); the same rule build_provider applies to stored URLs.
            problem = base_url_problem(base_url)
            if problem:
                raise CommandError(f"--base-url “{base_url[:80]}”: {problem}")
            account.base_url = base_url
        parameters = {"base_url": account.base_url, "base_url_given": bool(base_url)}
        provider = None
        try:
            provider = build_provider(account)
            started = time.perf_counter()
            provider.ping()
            latency_ms = (time.perf_counter() - started) * 1000
        except ProviderError as error:
            status = f" (HTTP {error.status}, {error.code})" if error.status else f" ({error.code})"
            message = f"{account.label} at {account.base_url}: {error.message}{status}"
            self._audit(user, account, parameters, StaffAction.Outcome.FAILED, message,
                        error=error)
            raise CommandError(message) from error
        finally:
            if provider is not None:
                provider.close()
        self._audit(user, account, parameters, StaffAction.Outcome.SUCCEEDED,
                    f"{account.label}: reachable and authorised ({latency_ms:.0f} ms).")
        tlds = ", ".join(f".{name}" for name in account.tlds.values_list("name", flat=True))
        capabilities = ", ".join(sorted(provider.capabilities))
        self.stdout.write(self.style.SUCCESS(
            f"{account.label}: reachable and authorised at {account.base_url} "
            f"({account.get_kind_display()}), {latency_ms:.0f} ms"))
        self.stdout.write(f"  serves TLDs: {tlds or 'none configured'}")
        self.stdout.write(f"  capabilities: {capabilities}")
        if not account.enabled:
            self.stdout.write(self.style.WARNING("  the account is disabled in the back-office"))

    @staticmethod
    def _audit(user: Any, account: ProviderAccount, parameters: dict[str, Any], outcome: str,
               message: str, error: ProviderError | None = None) -> None:
        audit.record(
            actor=user, actor_label="" if user is not None else COMMAND_LABEL,
            action=AUDIT_ACTION, target=account, parameters=parameters, outcome=outcome,
            upstream_status=error.status if error else None,
            upstream_code=error.code if error else "",
            upstream_request_id=error.request_id if error else "", message=message)
