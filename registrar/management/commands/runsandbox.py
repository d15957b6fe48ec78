"""`manage.py runsandbox`: serve the sandbox upstream over real HTTP on loopback."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from backoffice.cli import ProjectCommand, whole_number
from registrar.sandbox import SandboxApp, SandboxState
from registrar.sandbox.server import SandboxServer, bind, is_loopback


class Command(ProjectCommand):
    help = (
        "Serve the sandbox upstream (the Domain Registration API's wire format) over HTTP "
        "on loopback. State lives in SANDBOX_STATE_FILE, shared with the web process and "
        "the worker, unless --memory."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1",
                            help="Loopback address to bind (default 127.0.0.1).")
        parser.add_argument("--port", type=whole_number(), default=8765,
                            help="Port (default 8765; 0 picks a free one).")
        parser.add_argument("--latency-ms", type=whole_number(), default=0,
                            help="Sleep this long before answering every /api request.")
        parser.add_argument("--memory", action="store_true",
                            help="Keep the state in memory instead of SANDBOX_STATE_FILE.")
        parser.add_argument("--seed-demo", action="store_true",
                            help="Seed from the database mirror (e.g. the demo data) first.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.SANDBOX_ENABLED:
            raise CommandError("The sandbox is disabled (SANDBOX_ENABLED is off). It is for "
                               "development and tests only.")
        host, port, latency_ms = options["host"], options["port"], options["latency_ms"]
        if not is_loopback(host):
            # It accepts a published token: it must never be reachable from elsewhere.
            raise CommandError(f"Refusing to serve on {host[:80]}: give --host a loopback "
                               "address.")
        if latency_ms < 0 or not 0 <= port <= 65535:
            raise CommandError("--latency-ms must be >= 0 and --port from 0 to 65535.")
        path = None if options["memory"] else settings.SANDBOX_STATE_FILE
        state = SandboxState(path)
        app = SandboxApp(state, latency=latency_ms / 1000)
        if options["seed_demo"]:
            from registrar.sandbox.seed import seed_from_mirror

            counts = seed_from_mirror(state)
            self.stdout.write("Seeded from the mirror: "
                              + ", ".join(f"{n} {k}" for k, n in counts.items()))
        try:
            sock = bind(host, port)
        except OSError as exc:
            raise CommandError(f"Cannot listen on {host}:{port}: {exc}") from exc
        url = f"http://{host}:{sock.getsockname()[1]}"
        self.stdout.write(self.style.SUCCESS(f"Sandbox listening on {url}"))
        self.stdout.write(f"  token:   {app.token}  (Authorization: Bearer …)")
        self.stdout.write(f"  state:   {path or 'in memory'}")
        self.stdout.write(f"  latency: {latency_ms} ms per /api request")
        self.stdout.write("Quit with Ctrl+C.")
        self.stdout.flush()
        # gunicorn stops cleanly on Ctrl+C and on SIGTERM.
        debug = logging.getLogger("registrar.sandbox").isEnabledFor(logging.DEBUG)
        SandboxServer(app, sock, log_level="debug" if debug else "warning").run()
