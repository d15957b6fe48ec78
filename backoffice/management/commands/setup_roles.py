from django.core.management.base import CommandError

from backoffice.cli import ProjectCommand
from backoffice.roles import setup_roles


class Command(ProjectCommand):
    help = "Create or correct the Support, Finance and Admin groups and their permissions."

    def handle(self, *args, **options):
        try:
            counts = setup_roles()
        except LookupError as exc:
            raise CommandError(f"{exc}. Run `python manage.py migrate` first.") from exc
        summary = ", ".join(f"{name}: {count} permissions" for name, count in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Roles up to date ({summary})."))
