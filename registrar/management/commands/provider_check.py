import time

from django.core.management.base import BaseCommand, CommandError

from registrar.models import ProviderAccount
from registrar.providers.errors import ProviderError
from registrar.providers.registry import build_provider


class Command(BaseCommand):
    help = (
        "Check one provider account: is it reachable and does it accept our credentials? "
        "Prints the latency and what the account serves; exits non-zero on failure."
    )

    def add_arguments(self, parser):
        parser.add_argument("label", help="The provider account's label.")
        parser.add_argument("--base-url", help="Check this URL instead of the stored one.")

    def handle(self, *args, label, base_url=None, **options):
        try:
            account = ProviderAccount.objects.get(label=label)
        except ProviderAccount.DoesNotExist:
            known = ", ".join(ProviderAccount.objects.values_list("label", flat=True)) or "none"
            raise CommandError(f"No provider account “{label}” (known: {known}).") from None
        if base_url:
            account.base_url = base_url
        try:
            provider = build_provider(account)
            started = time.perf_counter()
            provider.ping()
            latency_ms = (time.perf_counter() - started) * 1000
        except ProviderError as error:
            status = f" (HTTP {error.status}, {error.code})" if error.status else f" ({error.code})"
            raise CommandError(f"{account.label} at {account.base_url}: {error.message}{status}"
                               ) from error
        finally:
            if "provider" in locals():
                provider.close()
        tlds = ", ".join(f".{name}" for name in account.tlds.values_list("name", flat=True))
        capabilities = ", ".join(sorted(provider.capabilities))
        self.stdout.write(self.style.SUCCESS(
            f"{account.label}: reachable and authorised at {account.base_url} "
            f"({account.get_kind_display()}), {latency_ms:.0f} ms"))
        self.stdout.write(f"  serves TLDs: {tlds or 'none configured'}")
        self.stdout.write(f"  capabilities: {capabilities}")
        if not account.enabled:
            self.stdout.write(self.style.WARNING("  the account is disabled in the back-office"))
