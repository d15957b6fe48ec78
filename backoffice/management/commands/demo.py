from django.conf import settings
from django.core.management.base import CommandError

from backoffice.cli import ProjectCommand
from backoffice.demo import load_demo


class Command(ProjectCommand):
    help = (
        "Load demo data (provider account, TLDs, registrations, contacts, orders) and one "
        "user per role. Idempotent. Refuses to run with DEBUG off."
    )

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError(
                "Refusing to load demo data with DEBUG off: the demo users have published "
                "passwords. Run it only on a development instance (DEBUG=1)."
            )
        summary = load_demo()
        figures = ", ".join(f"{count} {name}" for name, count in summary.counts.items())
        self.stdout.write(self.style.SUCCESS(f"Demo data ready: {figures}."))
        self.stdout.write("Logins (http://127.0.0.1:8000/admin/):")
        for username, password, group in summary.users:
            self.stdout.write(f"  {group:<8} {username:<8} / {password}")
