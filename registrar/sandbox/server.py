"""Serving the sandbox over real HTTP with the standard library (`runsandbox`)."""

from __future__ import annotations

import ipaddress
import logging
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

logger = logging.getLogger("registrar.sandbox")


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    """One thread per request: a slow or delayed request must not hold up the others
    (the back-office's web process and worker call it at the same time)."""

    daemon_threads = True
    allow_reuse_address = True


class _LoggingHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        # Into logging rather than onto stderr, so the log level decides.
        logger.info("%s %s", self.address_string(), format % args)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(app: Any, host: str, port: int) -> ThreadingWSGIServer:
    """A threaded WSGI server for `app` bound to host:port (port 0: any free port).
    The caller runs `serve_forever()` and closes it."""
    return make_server(host, port, app, server_class=ThreadingWSGIServer,
                       handler_class=_LoggingHandler)  # type: ignore[return-value]
