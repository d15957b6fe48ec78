"""Upstreams failing the way real ones do, at the HTTP boundary: a transport that wraps
the real fake (the sandbox, a MockTransport) and breaks one exchange, before or after
the upstream handled it."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

import httpx


class Fault(enum.Enum):
    """Each fault, and whether the upstream handled the request before it struck."""

    DROP_BEFORE = "drop before sending"
    DROP_AFTER = "drop after applying"
    E500_BEFORE = "500 before applying"
    E500_AFTER = "500 after applying"
    HTML502_BEFORE = "HTML 502 before applying"
    HTML502_AFTER = "HTML 502 after applying"
    MALFORMED_2XX = "malformed 2xx"
    TIMEOUT_AFTER = "timeout after applying"

    @property
    def reaches_upstream(self) -> bool:
        return self in {Fault.DROP_AFTER, Fault.E500_AFTER, Fault.HTML502_AFTER,
                        Fault.MALFORMED_2XX, Fault.TIMEOUT_AFTER}


#: Every fault a single exchange can suffer (the 202 that never completes is a state of
#: the upstream, driven through the sandbox's own controls).
FAULTS = list(Fault)

BAD_GATEWAY = ("<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad "
               "Gateway</h1></center><hr><center>nginx</center></body></html>")


@dataclass
class _Armed:
    fault: Fault
    method: str | None
    path: re.Pattern[str] | None
    times: int


class FaultTransport(httpx.BaseTransport):
    """Passes requests to `inner`; an armed fault breaks the next matching mutation
    (any method but GET, unless `method` says otherwise). `delivered` is every request
    the upstream really handled; `struck` every one a fault broke."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.armed: list[_Armed] = []
        self.delivered: list[httpx.Request] = []
        self.struck: list[tuple[Fault, httpx.Request]] = []

    def arm(self, fault: Fault, *, method: str | None = None, path: str | None = None,
            times: int = 1) -> None:
        self.armed.append(_Armed(fault, method, re.compile(path) if path else None, times))

    def delivered_to(self, method: str, path: str) -> list[httpx.Request]:
        pattern = re.compile(path)
        return [r for r in self.delivered if r.method == method and pattern.search(r.url.path)]

    def _take(self, request: httpx.Request) -> Fault | None:
        for armed in self.armed:
            if armed.method is None and request.method == "GET":
                continue
            if armed.method is not None and armed.method != request.method:
                continue
            if armed.path is not None and not armed.path.search(request.url.path):
                continue
            armed.times -= 1
            if armed.times <= 0:
                self.armed.remove(armed)
            return armed.fault
        return None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        fault = self._take(request)
        if fault is None:
            self.delivered.append(request)
            return self.inner.handle_request(request)
        self.struck.append((fault, request))
        if not fault.reaches_upstream:
            if fault is Fault.DROP_BEFORE:
                raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
            return _answer(fault)
        answer = self.inner.handle_request(request)
        answer.read()
        self.delivered.append(request)
        if fault is Fault.DROP_AFTER:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.",
                                            request=request)
        if fault is Fault.TIMEOUT_AFTER:
            raise httpx.ReadTimeout("The read operation timed out", request=request)
        if fault is Fault.MALFORMED_2XX:
            status = answer.status_code if answer.is_success else 200
            return httpx.Response(status, text='{"data": {"id": 1, "status": "comple',
                                  headers={"Content-Type": "application/json"})
        return _answer(fault)


def _answer(fault: Fault) -> httpx.Response:
    if fault in {Fault.E500_BEFORE, Fault.E500_AFTER}:
        return httpx.Response(500, json={"error": "Internal Server Error"})
    return httpx.Response(502, text=BAD_GATEWAY, headers={"Content-Type": "text/html"})
