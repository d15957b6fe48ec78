"""The HTTP layer every adapter shares: one httpx.Client per provider account, the
retry policy, and the mapping of every failure to a ProviderError.

Nothing above the providers package imports httpx; this module is where it lives.
"""

from __future__ import annotations

import codecs
import http.client
import json
import logging
import random
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import wraps
from typing import Any, TypeVar

import httpx
from django.utils.dateparse import parse_datetime

from registrar.providers import secrets
from registrar.providers.base import Provider
from registrar.providers.endpoints import base_url_problem, timeout_problem
from registrar.providers.errors import (
    CallerError,
    ConfigurationError,
    MalformedResponse,
    ProviderError,
    TransportError,
)

logger = logging.getLogger("registrar.providers")

# Methods that may be repeated without changing the outcome (RFC 9110 9.2.2).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Methods that change nothing: a failure of one is never an unknown outcome.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOGGED_BODY_LIMIT = 2000


@dataclass(frozen=True)
class RetryPolicy:
    """Retries with capped exponential backoff and full jitter.

    Only for idempotent requests (or ones carrying an Idempotency-Key), and only on
    failures that say nothing was done: refused connections, timeouts, 502/503/504.
    A 4xx is never retried.
    """

    attempts: int = 3
    base_delay: float = 0.25
    max_delay: float = 2.0
    retry_statuses: frozenset[int] = frozenset({502, 503, 504})

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))  # noqa: S311


#: Connections of a client that is not fanned out (staff requests, tasks).
POOL_CONNECTIONS = 32
#: The longest a request waits for a free connection before it fails, unsent.
POOL_WAIT_SECONDS = 5.0

DEFAULT_RETRY = RetryPolicy()
NO_RETRY = RetryPolicy(attempts=1)


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)
    request_id: str = ""


# (status, parsed body or None, raw text, request id) -> the error to raise
ErrorParser = Callable[[int, Any, str, str], ProviderError]


class HttpClient:
    """A JSON-over-HTTP client for one provider account.

    `transport` is injectable: tests pass `httpx.MockTransport`, the sandbox an
    `httpx.WSGITransport`. `sleep` is injectable so retry tests do not wait. A base URL
    or timeout that registrar.providers.endpoints refuses raises ConfigurationError
    before any client exists, so nothing is sent.
    """

    def __init__(
        self,
        *,
        base_url: str,
        headers: Mapping[str, str],
        timeout: float,
        parse_error: ErrorParser,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] = time.sleep,
        request_id_header: str = "X-Request-Id",
        provider_label: str = "",
    ) -> None:
        problem = base_url_problem(base_url) or timeout_problem(timeout)
        if problem:
            raise ConfigurationError(
                f"Provider account “{provider_label or 'unnamed'}” cannot be used: {problem} "
                "Nothing was sent.", code="invalid_endpoint")
        self._base_url = base_url
        self._headers = dict(headers)
        self._timeout = timeout
        self._transport = transport
        self._client = self._new_client(POOL_CONNECTIONS)
        #: With `fan_out`, one client per group of threads (each its own pool and pool
        #: lock); otherwise every thread uses `_client`.
        self._shards: list[httpx.Client] = []
        self._assigned = threading.local()
        self._next_shard = 0
        self._shard_lock = threading.Lock()
        self._lean: _ThreadConnections | None = None
        self._parse_error = parse_error
        self._retry = retry
        self._sleep = sleep
        self._request_id_header = request_id_header
        self._label = provider_label or base_url

    def _new_client(self, connections: int, verify: Any = True) -> httpx.Client:
        return httpx.Client(
            base_url=self._base_url,
            headers=self._headers,
            # Connecting should be quick; registrars can be slow to answer. Waiting for a
            # free connection of the pool is bounded too: a request that cannot get one
            # fails (nothing was sent) instead of queueing behind a stuck one.
            timeout=httpx.Timeout(self._timeout, connect=min(self._timeout, 5.0),
                                  pool=min(self._timeout, POOL_WAIT_SECONDS)),
            # As many connections kept alive as may be open: a pool that keeps fewer
            # closes and reopens connections under load.
            limits=httpx.Limits(max_connections=connections,
                                max_keepalive_connections=connections),
            transport=self._transport,
            verify=verify,
            follow_redirects=False,
        )

    def fan_out(self, threads: int) -> None:
        """Prepare for `threads` threads reading at once (a sync's detail reads).

        One shared pool serialises every request on its lock, and httpx's client costs
        about 0.7 ms of CPU a request, under the interpreter lock every thread shares
        (bench/bench_sync.py measures both). From here on each thread sends its GETs on
        a keep-alive connection of its own, with the standard library's http.client: no
        pool, no lock to wait in, about a quarter of the CPU. Everything else (every
        request that changes something) still goes through httpx. Where a proxy is
        configured (only httpx honours it), each thread gets an httpx client of its own
        instead. An injected transport (tests, the in-process sandbox) has no pool and
        no socket: nothing to spread."""
        if self._transport is not None or threads <= 1:
            return
        with self._shard_lock:
            if self._lean is not None or self._shards:
                return
            if urllib.request.getproxies():
                context = httpx.create_ssl_context()  # one for all: each costs ~80 ms
                self._shards = [self._new_client(2, verify=context) for _ in range(threads)]
            else:
                self._lean = _ThreadConnections(self._base_url, self._headers,
                                                self._timeout)

    def _client_for_thread(self) -> httpx.Client:
        if not self._shards:
            return self._client
        client = getattr(self._assigned, "client", None)
        if client is None:
            with self._shard_lock:
                client = self._shards[self._next_shard % len(self._shards)]
                self._next_shard += 1
            self._assigned.client = client
        return client

    def close(self) -> None:
        with self._shard_lock:
            shards, self._shards = self._shards, []
            lean, self._lean = self._lean, None
        for shard in shards:
            shard.close()
        if lean is not None:
            lean.close()
        self._client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
        reads_only: bool = False,
    ) -> Reply:
        """Send one request (retried per `policy` where that is safe). `reads_only`: a
        POST that changes nothing upstream (a price or availability check), so a lost
        answer to it is a plain failure, never an unknown outcome, and it may be retried."""
        method = method.upper()
        policy = retry or self._retry
        safe = method in SAFE_METHODS or reads_only
        idempotent = (method in IDEMPOTENT_METHODS or reads_only
                      or "Idempotency-Key" in (headers or {}))
        attempt = 0
        left: ProviderError | None = None  # an earlier attempt that reached the upstream
        while True:
            try:
                reply = self._send_once(method, path, params, json_body, headers)
            except ProviderError as error:
                if error.code != "connect_error" and left is None:
                    left = error
                can_retry = (
                    error.retryable
                    and attempt + 1 < policy.attempts
                    and (idempotent or error.code == "connect_error")
                    and (error.status is None or error.status in policy.retry_statuses)
                )
                if not can_retry:
                    if not safe and not error.documented and left is not None:
                        # It left (this attempt or an earlier one), and what came back
                        # does not say what happened.
                        error.mark_unknown(_what_came_back(left if error is not left
                                                           and error.code == "connect_error"
                                                           else error))
                    raise
                delay = policy.delay(attempt)
                logger.info("%s %s %s failed (%s); retry %d in %.2fs", self._label, method,
                            path, error.code, attempt + 1, delay)
                self._sleep(delay)
                attempt += 1
                continue
            return reply

    def _send_once(self, method, path, params, json_body, headers) -> Reply:
        lean = self._lean
        if lean is not None and method == "GET" and json_body is None:
            status, response_headers, text = lean.get(path, params, headers)
        else:
            status, response_headers, text = self._send_httpx(method, path, params,
                                                              json_body, headers)
        request_id = response_headers.get(self._request_id_header, "")
        body = _parse_json(text) if text.strip() else None
        if 200 <= status < 300:
            if text.strip() and body is _INVALID:
                # Not the body itself: a success body can carry a secret (an auth code).
                logger.warning("%s %s %s -> %s: unreadable body (%d bytes, %s)", self._label,
                               method, path, status, len(text),
                               response_headers.get("content-type", "no content type"))
                raise MalformedResponse(
                    code="malformed_response", status=status,
                    request_id=request_id,
                )
            return Reply(status, body, response_headers, request_id)
        self._log_body(logging.WARNING, method, path, status, text)
        raise self._parse_error(
            status, None if body is _INVALID else body, text, request_id
        )

    def _send_httpx(self, method, path, params, json_body, headers
                    ) -> tuple[int, Mapping[str, str], str]:
        try:
            response = self._client_for_thread().request(
                method, path, params=params, json=json_body, headers=headers
            )
        except httpx.ConnectError as exc:
            # The connection was never made, so the request was never sent: safe to retry
            # whatever the method.
            raise TransportError(code="connect_error", details={"error": str(exc)}) from exc
        except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # No connection, so nothing was sent.
            raise TransportError(code="connect_error", details={"error": str(exc)}) from exc
        except httpx.TimeoutException as exc:
            raise TransportError("The registrar did not answer in time.", code="timeout",
                                 details={"error": str(exc)}) from exc
        except httpx.HTTPError as exc:
            raise TransportError("The connection to the registrar broke.",
                                 code="transport_error", details={"error": str(exc)}) from exc
        return response.status_code, response.headers, response.text

    def _log_body(self, level: int, method: str, path: str, status: int, text: str) -> None:
        # Error bodies go to the log for diagnosis, never to staff; success bodies (an
        # auth code, a token) are not logged at all. An error body can still echo a
        # secret (our key, an auth code we sent) or carry a link token (a 402's
        # portal_url): the values the provider layer knows are cut out here, and the
        # redaction filter on every handler masks secret keys, links and tokens.
        logger.log(level, "%s %s %s -> %s: %s", self._label, method, secrets.scrub(path),
                   status, secrets.scrub(text[:LOGGED_BODY_LIMIT]))


_INVALID = object()


class _ThreadConnections:
    """GETs on one keep-alive connection per thread (http.client), for `fan_out`.

    The same URL, headers, timeouts and certificate checks as the httpx client: the
    base URL's path prefix, the default headers, a connect timeout of at most 5 s and
    the account's timeout for every read, and httpx's certificate checks for https."""

    def __init__(self, base_url: str, headers: Mapping[str, str], timeout: float) -> None:
        parts = urllib.parse.urlsplit(base_url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")
        self._headers = dict(headers)
        self._timeout = timeout
        self._connect_timeout = min(timeout, 5.0)
        self._context = httpx.create_ssl_context() if self._https else None
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection, and whether it is a new one."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            return connection, False
        if self._https:
            connection = http.client.HTTPSConnection(
                self._host, self._port, timeout=self._connect_timeout, context=self._context)
        else:
            connection = http.client.HTTPConnection(self._host, self._port,
                                                    timeout=self._connect_timeout)
        try:
            connection.connect()
        except OSError as exc:
            # Never connected, so nothing was sent (a refusal, a connect timeout, DNS).
            connection.close()
            raise TransportError(code="connect_error", details={"error": str(exc)}) from exc
        connection.sock.settimeout(self._timeout)
        self._local.connection = connection
        with self._lock:
            self._all.append(connection)
        return connection, True

    def _drop(self, connection: http.client.HTTPConnection) -> None:
        connection.close()
        self._local.connection = None
        with self._lock:
            if connection in self._all:
                self._all.remove(connection)

    def get(self, path: str, params: Mapping[str, Any] | None,
            headers: Mapping[str, str] | None) -> tuple[int, Mapping[str, str], str]:
        target = self._prefix + path
        if params:
            target += "?" + urllib.parse.urlencode(
                {k: v for k, v in params.items() if v is not None}, doseq=True)
        sent = {**self._headers, **(headers or {})}
        while True:
            connection, fresh = self._connection()
            try:
                connection.request("GET", target, headers=sent)
                response = connection.getresponse()
                raw = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError,
                    ConnectionResetError) as exc:
                self._drop(connection)
                if not fresh:
                    continue  # the upstream closed an idle connection: a new one, once
                raise TransportError("The connection to the registrar broke.",
                                     code="transport_error",
                                     details={"error": str(exc)}) from exc
            except TimeoutError as exc:
                self._drop(connection)
                raise TransportError("The registrar did not answer in time.", code="timeout",
                                     details={"error": str(exc)}) from exc
            except (OSError, http.client.HTTPException) as exc:
                self._drop(connection)
                raise TransportError("The connection to the registrar broke.",
                                     code="transport_error",
                                     details={"error": str(exc)}) from exc
            if response.will_close:
                self._drop(connection)
            received = httpx.Headers(response.getheaders())
            charset = _charset(received.get("content-type", ""))
            return response.status, received, raw.decode(charset, errors="replace")

    def close(self) -> None:
        with self._lock:
            connections, self._all = self._all, []
        for connection in connections:
            connection.close()


def _charset(content_type: str) -> str:
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            try:
                return codecs.lookup(value.strip('"')).name
            except LookupError:
                break
    return "utf-8"


def _what_came_back(error: ProviderError) -> str:
    if error.code == "timeout":
        return "it did not answer in time"
    if error.code == "transport_error":
        return "the connection broke"
    if error.status is not None and 200 <= error.status < 300:
        return f"its answer, HTTP {error.status}, could not be read"
    if error.status is not None:
        return f"it answered HTTP {error.status}"
    return error.code or "no answer"


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return _INVALID


class HttpProvider(Provider):
    """An adapter that speaks JSON over HTTP: the registry's common constructor, once.

    Subclasses set `_parse_error` (their upstream's error body) and override
    `_headers()` with their authentication; everything else about the client (timeouts,
    pooling, retries, the injectable transport) is the same for every upstream.
    """

    _parse_error: ErrorParser

    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        account_ref: str = "",
        timeout: float = 15.0,
        user_agent: str = "registrar-backoffice",
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] = time.sleep,
        label: str = "",
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.label = label or self.kind
        self.options = dict(options or {})
        self._sleep = sleep
        secrets.remember(token)  # never in a log, whoever passed it in
        self.http = HttpClient(
            base_url=base_url,
            headers={"Accept": "application/json", "User-Agent": user_agent,
                     **self._headers(token=token, account_ref=account_ref)},
            timeout=timeout,
            parse_error=type(self)._parse_error,
            transport=transport,
            retry=retry,
            sleep=sleep,
            provider_label=self.label,
        )

    def _headers(self, *, token: str, account_ref: str) -> dict[str, str]:
        """The authentication headers of this upstream."""
        raise NotImplementedError

    def close(self) -> None:
        self.http.close()


# --- Parsing helpers every adapter shares -------------------------------------------------

#: What reading an answer of the wrong shape raises (a missing key, a list for an object,
#: a bad number or date): `guard_parsing` turns these into MalformedResponse.
PARSE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError)


Parsed = TypeVar("Parsed")


def parse_each(records: Iterable[Any], parse: Callable[[Any], Parsed],
               on_malformed: Callable[[Any, Exception], None] | None) -> Iterator[Parsed]:
    """Each record of a list answer, parsed. One of the wrong shape raises (a parse
    error, which the endpoint guard reports), or, with `on_malformed`, is handed to it
    with the error and skipped, so one bad record does not hide the others."""
    for record in records:
        try:
            parsed = parse(record)
        except PARSE_ERRORS as exc:
            if on_malformed is None:
                raise
            on_malformed(record, exc)
            continue
        yield parsed


def parse_timestamp(value: Any) -> datetime | None:
    """ISO 8601 to an aware datetime (UTC when the upstream gave no offset); None for an
    absent value. Raises ValueError on a malformed date, which the endpoint guard reports."""
    if not isinstance(value, str) or not value:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError(f"not a date: {value!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def drop_unset(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Drop unset optional parameters, so only what the caller gave is sent."""
    if values is None:
        return None
    return {key: value for key, value in values.items() if value is not None}


ProviderClass = TypeVar("ProviderClass", bound=type[Provider])


def guard_parsing(cls: ProviderClass) -> ProviderClass:
    """Wrap every public endpoint method: an answer of the wrong shape (a missing key, a
    list for an object, an empty body, a bad date) becomes MalformedResponse instead of
    escaping as a Python error. Applied once per adapter class rather than by hand on
    each method, so a new endpoint cannot forget it."""

    def guard(method):
        @wraps(method)
        def guarded(self, *args, **kwargs):
            try:
                result = method(self, *args, **kwargs)
                if isinstance(result, Iterator):
                    return guarded_iter(result)
                return result
            except CallerError:
                raise
            except PARSE_ERRORS as exc:
                raise MalformedResponse(code="malformed_response",
                                        details={"error": repr(exc)}) from exc
        return guarded

    for name, member in list(vars(cls).items()):
        # Class-level hooks (webhook parsing, validation) read no answer: left as they are.
        if isinstance(member, classmethod | staticmethod):
            continue
        if callable(member) and not name.startswith("_") and name not in {"close", "supports"}:
            setattr(cls, name, guard(member))
    return cls


def guarded_iter(iterator: Iterator[Any]) -> Iterator[Any]:
    """An iterator whose parse errors surface as MalformedResponse (lazy pages)."""
    try:
        yield from iterator
    except PARSE_ERRORS as exc:
        raise MalformedResponse(code="malformed_response", details={"error": repr(exc)}) from exc
