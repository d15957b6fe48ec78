import time

from django.core.management.base import CommandError

from backoffice.cli import ProjectCommand
from registrar.models import Process
from registrar.services import process_follow_step


class Command(ProjectCommand):
    help = (
        "Poll every registrar process that is still running, once. Completed ones refresh "
        "and unblock their registration; ones polled too often are marked stuck."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true",
                            help="List the processes that would be polled; poll nothing.")

    def handle(self, *args, dry_run=False, verbosity=1, **options):
        processes = list(Process.objects.filter(is_terminal=False, stuck=False)
                         .select_related("registration").order_by("created_at"))
        if dry_run:
            for process in processes:
                self.stdout.write(f"would poll {process.upstream_id} {process.action} "
                                  f"({process.status}) on {process.registration}")
            self.stdout.write(f"{len(processes)} process(es) to poll; nothing was polled.")
            return
        started = time.perf_counter()
        counts: dict[str, int] = {}
        for number, process in enumerate(processes, 1):
            outcome = process_follow_step(process=process)
            counts[outcome] = counts.get(outcome, 0) + 1
            if verbosity > 1 or outcome != "running":
                self.stdout.write(f"[{number}/{len(processes)}] {process.upstream_id} "
                                  f"{process.registration}: {outcome}")
        elapsed = time.perf_counter() - started
        summary = ", ".join(f"{count} {name}" for name, count in sorted(counts.items()))
        self.stdout.write(f"Polled {len(processes)} process(es) in {elapsed:.1f}s"
                          f"{': ' + summary if summary else ''}.")
        if counts.get("error"):
            raise CommandError(f"{counts['error']} poll(s) failed; see the log. They are "
                               "retried on the next sweep.")
