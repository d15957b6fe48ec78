"""The sync's detail reads over real loopback HTTP: one keep-alive connection per
thread, answers taken as they come (one hung read holds only its own thread), a
connection the upstream dropped replaced. Speed itself is measured in
bench/bench_sync.py, never asserted here."""

from __future__ import annotations

import io
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from registrar.models import Host, Registration
from registrar.sandbox import get_app
from registrar.sync import sync_provider
from tests.factories import ProviderAccountFactory
from tests.registrar.test_sync import upstream


class _Upstream:
    """The sandbox app behind an HTTP/1.1 keep-alive server in this process, which notes
    each request's client port and can hold one path or drop a connection."""

    def __init__(self) -> None:
        self.app = get_app()
        self.ports: list[int] = []
        self.log: list[str] = []
        self.hold: dict[str, float] = {}  # path -> seconds, once
        self.drop_after: int | None = None  # close silently after this many requests
        self.lock = threading.Lock()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):  # the signature http.server calls
                pass

            def _serve(self):
                upstream.serve(self)

            do_GET = do_POST = do_PATCH = do_DELETE = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def serve(self, handler: BaseHTTPRequestHandler) -> None:
        path, _, query = handler.path.partition("?")
        with self.lock:
            self.ports.append(handler.client_address[1])
            self.log.append(path)
            delay = self.hold.pop(path, 0.0)
            drop = self.drop_after is not None and len(self.log) == self.drop_after
        if delay:
            self.log.append(f"held {path}")
            time.sleep(delay)
            self.log.append(f"released {path}")
        length = int(handler.headers.get("Content-Length") or 0)
        environ = {
            "REQUEST_METHOD": handler.command, "PATH_INFO": path, "QUERY_STRING": query,
            "CONTENT_TYPE": handler.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(length), "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": str(self.server.server_port), "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.input": io.BytesIO(handler.rfile.read(length)), "wsgi.url_scheme": "http",
            "wsgi.errors": io.StringIO(), "wsgi.version": (1, 0), "wsgi.multithread": True,
            "wsgi.multiprocess": False, "wsgi.run_once": False,
            **{f"HTTP_{key.upper().replace('-', '_')}": value
               for key, value in handler.headers.items()},
        }
        answer: list = []
        body = b"".join(self.app(environ, lambda status, headers, exc_info=None:
                                 answer.extend([status, headers])))
        if drop:
            # The upstream closes a kept-alive connection without a word, as servers do
            # with idle ones: this request is never answered on it.
            handler.close_connection = True
            return
        try:
            handler.send_response(int(answer[0].split()[0]))
            for key, value in answer[1]:
                if key.lower() not in {"content-length", "connection"}:
                    handler.send_header(key, value)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except OSError:  # the client gave up on a held request
            handler.close_connection = True

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def loopback(sandbox, settings, monkeypatch):
    served = _Upstream()
    settings.PROVIDER_LOOPBACK_HTTP_ALLOWED = True
    monkeypatch.setenv("PROVIDER_SECRET_THROUGHPUT", "sandbox-token")
    account = ProviderAccountFactory(label="loopback", kind="domain_api", base_url=served.url,
                                     account_ref="acct-1", timeout_seconds=1.0,
                                     secret_env="PROVIDER_SECRET_THROUGHPUT")
    get_app().state.seed(upstream(300))
    yield served, account
    served.close()


def hosts_reads(served: _Upstream) -> list[str]:
    return [path for path in served.log if path.endswith("/hosts")]


def test_each_thread_keeps_one_connection_for_its_reads(loopback):
    served, account = loopback
    report = sync_provider(account, concurrency=8)

    assert (report.seen, report.created, report.errors) == (300, 300, 0)
    assert Registration.objects.count() == 300 and Host.objects.count() == 30
    assert len(hosts_reads(served)) == 300
    # 300 detail reads and a page, on the connections of 8 threads (and the page
    # reader's): kept alive, not one per request, and not all on one.
    assert 2 <= len(set(served.ports)) <= 8 + 2


def test_a_hung_read_holds_its_own_thread_only_and_is_read_again(loopback):
    served, account = loopback
    slow = "/api/domain_registrations/sync-00010/hosts"
    served.hold[slow] = 3.0  # past the account's 1 s timeout, once
    report = sync_provider(account, concurrency=8)

    assert (report.seen, report.created, report.errors) == (300, 300, 0)
    # Timed out, then read again: the registration's glue host is mirrored.
    assert served.log.count(slow) == 2
    assert Host.objects.filter(registration__upstream_id="sync-00010").count() == 1
    # While it hung, the other threads went on reading.
    held = served.log.index(f"held {slow}")
    answered_meanwhile = served.log[held:]
    if f"released {slow}" in answered_meanwhile:
        answered_meanwhile = answered_meanwhile[:answered_meanwhile.index(f"released {slow}")]
    assert len([p for p in answered_meanwhile if p.endswith("/hosts")]) >= 50


def test_a_connection_the_upstream_dropped_is_replaced(loopback):
    served, account = loopback
    served.drop_after = 40
    report = sync_provider(account, concurrency=4)

    assert (report.seen, report.created, report.errors) == (300, 300, 0)
    assert Registration.objects.count() == 300
    assert len(set(hosts_reads(served))) == 300
