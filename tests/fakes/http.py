"""What every fake upstream shares: scripted answers, the request log, and plugging a
fake into a provider account (registry.override_transport)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import httpx

from tests.log_guard import remember_exchange

Answer = Callable[[httpx.Request], httpx.Response]
REQUEST_ID = "req-0123"


def respond(status: int = 200, body: Any = None, *, text: str | None = None,
            content_type: str | None = None, headers: dict[str, str] | None = None,
            request_id: str = REQUEST_ID) -> Answer:
    """An answer built afresh for every request: a JSON `body`, or raw `text` (with
    `content_type`), or nothing at all."""

    def answer(request: httpx.Request) -> httpx.Response:
        sent = {"X-Request-Id": request_id} if request_id else {}
        sent.update(headers or {})
        if text is not None:
            sent["Content-Type"] = content_type or "text/plain; charset=utf-8"
            return httpx.Response(status, text=text, headers=sent)
        if body is None:
            return httpx.Response(status, headers=sent)
        return httpx.Response(status, json=body, headers=sent)

    return answer


def fail_with(exc_type: type[httpx.TransportError], message: str = "boom") -> Answer:
    """An answer that never comes: the transport raises `exc_type`."""

    def answer(request: httpx.Request) -> httpx.Response:
        raise exc_type(message, request=request)

    return answer


#: `assert_body`'s "the request carried no body at all".
NO_BODY = object()


def assert_body(request: httpx.Request, body: Any = NO_BODY, *, decimals: bool = False) -> None:
    """The request carried exactly `body` as JSON (prices compared as Decimals with
    `decimals`), or, with NO_BODY, nothing at all and no Content-Type."""
    if body is NO_BODY:
        assert request.content == b""
        assert "Content-Type" not in request.headers
        return
    assert request.headers["Content-Type"] == "application/json"
    sent = json.loads(request.content, parse_float=Decimal) if decimals else json.loads(
        request.content)
    assert sent == body


def body_of(request: httpx.Request) -> Any:
    """The JSON a request carried; prices read back as Decimals (exact, not close)."""
    return json.loads(request.content, parse_float=Decimal) if request.content else None


class Scripted:
    """The simplest upstream: each request gets the next scripted answer, the last one
    repeating; every request is recorded, in order."""

    def __init__(self, *answers: Answer) -> None:
        assert answers, "script at least one answer"
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        index = min(len(self.requests), len(self.answers)) - 1
        response = self.answers[index](request)
        remember_exchange(request, response)  # no log line may show its secrets
        return response

    @property
    def count(self) -> int:
        return len(self.requests)

    @property
    def only(self) -> httpx.Request:
        assert len(self.requests) == 1, f"expected one request, got {len(self.requests)}"
        return self.requests[0]


Route = tuple[str, "re.Pattern[str]", Callable[..., httpx.Response]]


class FakeUpstream:
    """An upstream with state: requests are routed by method and path to the handlers a
    subclass declares in `routes()`; a test can `script` answers for a route first.
    Unknown routes answer 404 in the upstream's own error shape (`not_found`)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self._scripts: list[tuple[str, re.Pattern[str], list[Answer]]] = []
        self._lock = threading.Lock()

    # --- what a subclass provides -------------------------------------------------------

    def routes(self) -> list[Route]:
        return []

    def not_found(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"message": "Not found"})

    # --- scripting and the log ------------------------------------------------------------

    def script(self, method: str, path: str, *answers: Answer) -> None:
        """The next requests to `method path` (a regular expression matched against the
        whole path) get these answers in order; the last one then repeats."""
        assert answers, "script at least one answer"
        self._scripts.insert(0, (method, re.compile(path), list(answers)))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        path = request.url.path
        with self._lock:
            self.requests.append(request)
            for method, pattern, answers in self._scripts:
                if method in (request.method, "*") and pattern.fullmatch(path):
                    answer = answers.pop(0) if len(answers) > 1 else answers[0]
                    break
            else:
                answer = None
        if answer is not None:
            return answer(request)
        for method, pattern, handler in self.routes():
            match = pattern.fullmatch(path)
            if match and method == request.method:
                return handler(request, **match.groupdict())
        return self.not_found(request)

    def sent(self, method: str | None = None, path: str | None = None, *,
             suffix: str = "") -> list[httpx.Request]:
        """The requests that left, in order: by method, exact path or path suffix."""
        return [r for r in self.requests
                if (method is None or r.method == method)
                and (path is None or r.url.path == path)
                and r.url.path.endswith(suffix)]

    @property
    def only(self) -> httpx.Request:
        assert len(self.requests) == 1, f"expected one request, got {len(self.requests)}"
        return self.requests[0]

    def transport(self) -> httpx.MockTransport:
        def observed(request: httpx.Request) -> httpx.Response:
            response = self(request)
            remember_exchange(request, response)  # no log line may show its secrets
            return response

        return httpx.MockTransport(observed)

    @contextmanager
    def serving(self, label: str) -> Iterator[FakeUpstream]:
        """Route the provider account `label` to this fake for the block."""
        from registrar.providers.registry import override_transport

        with override_transport(label, self.transport()):
            yield self


def route(method: str, path: str, handler: Callable[..., httpx.Response]) -> Route:
    """A route for `routes()`: named groups in `path` are passed to the handler."""
    return (method, re.compile(path), handler)


def json_response(status: int, body: Any, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers={"X-Request-Id": REQUEST_ID, **headers})
