from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import CommandError

from backoffice.cli import ProjectCommand
from backoffice.demo import load_demo

DEFAULT_URL = "http://127.0.0.1:8000/admin/"


def admin_url(text: str) -> str:
    """The back-office address the logins are printed with: http(s), a host, a port that
    can be one, and the admin's own path /admin/ with nothing after it (dev.py run passes
    exactly that), so what is printed is the link to open, and nothing else."""
    try:
        parts = urlsplit(text)
        # .port raises ValueError on a port that is not a number from 0 to 65535.
        fine = parts.port != 0
    except ValueError:
        fine = False
    fine = fine and (
        parts.scheme in {"http", "https"} and parts.path == "/admin/"
        and bool(parts.hostname) and not (parts.username or parts.password)
        and all(char.isascii() and (char.isalnum() or char in ".-:")
                for char in parts.hostname)
        # Nothing after the path, not even an empty query or fragment.
        and text.endswith("/admin/") and not any(char.isspace() for char in text))
    if not fine:
        raise CommandError(
            f"--url {text!r} is not a back-office address; give it as "
            f"http://HOST:PORT/admin/ (for example {DEFAULT_URL})."
        )
    return text


class Command(ProjectCommand):
    help = (
        "Load demo data (provider account, TLDs, registrations, contacts, orders) and one "
        "user per role. Idempotent. Refuses to run with DEBUG off."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--url", default=DEFAULT_URL,
            help="The back-office address printed with the logins (dev.py run passes the "
                 f"one it serves; default {DEFAULT_URL}).",
        )

    def handle(self, *args, **options):
        # Checked before any row is written: a bad address is refused with nothing loaded.
        url = admin_url(options["url"])
        if not settings.DEBUG:
            raise CommandError(
                "Refusing to load demo data with DEBUG off: the demo users have published "
                "passwords. Run it only on a development instance (DEBUG=1)."
            )
        summary = load_demo()
        figures = ", ".join(f"{count} {name}" for name, count in summary.counts.items())
        self.stdout.write(self.style.SUCCESS(f"Demo data ready: {figures}."))
        self.stdout.write(f"Logins ({url}):")
        for username, password, group in summary.users:
            self.stdout.write(f"  {group:<8} {username:<8} / {password}")
