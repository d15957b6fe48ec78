"""A pytest plugin: no log line of the whole test suite may contain a secret.

For the whole session a handler on the root logger (and on every logger that does not
propagate) formats each record after the same redaction filter the settings attach to
every handler, and keeps the line. The secrets the tests use are collected as they go:
fixtures and fakes call `remember_secret()` (API keys, tokens, auth codes, link tokens),
the fakes feed what crosses the HTTP boundary (`remember_exchange()`), and after each
test the values of every PROVIDER_SECRET_* variable it set are added. At the end of the
session (in each xdist worker, reported by the controller) any line that contains any
of them fails the run, and the offending lines are printed.

Records are seen at the levels the suite runs with (tests that lower a level with
caplog are seen lower).

PYTEST_DONT_REWRITE: the fakes import this module before pytest loads it as a plugin,
and it has no assertions to rewrite.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
from base64 import b64decode
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from backoffice.logredact import RedactFilter

#: Shorter values are not checked: they would match ordinary words.
MIN_LENGTH = 6
#: Keys whose values in a request or answer body are secrets.
SECRET_KEYS = frozenset({
    "authcode", "auth_code", "authCode", "authorizationCode", "epp_code", "auth_token",
    "access_token", "token", "secret", "api_key", "apiKey", "password",
})
#: Keys whose values are links with a token (billing portal, checkout).
LINK_KEYS = frozenset({"portal_url", "checkoutUrl", "checkout_url"})

_lock = threading.Lock()
_secrets: set[str] = set()
_ENV_PREFIX = "PROVIDER_SECRET_"


def remember_secret(value: Any) -> None:
    """A secret a test uses: no log line of the session may contain it."""
    if isinstance(value, str) and len(value) >= MIN_LENGTH:
        with _lock:
            _secrets.add(value)


def remember_link(url: Any) -> None:
    """A link that lets its holder in (a billing portal, a checkout): the whole link,
    as the audit trail treats it, and its last path segment and query values when they
    look like a token (12 characters or more, digits among them). A bare host holds
    nothing to hide, nor does a role name such as registrant_change on its own."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return
    parts = urlsplit(url)
    segments = [segment for segment in parts.path.split("/") if segment]
    if segments or parts.query:
        remember_secret(url)
    for token in segments[-1:] + [value for _, value in parse_qsl(parts.query)]:
        if len(token) >= 12 and any(c.isdigit() for c in token):
            remember_secret(token)


def remember_from(payload: Any) -> None:
    """Every secret in a request or answer body (JSON already parsed)."""
    if isinstance(payload, Mapping):
        for key, value in payload.items():
            if key in SECRET_KEYS and isinstance(value, str):
                remember_secret(value)
            elif key in LINK_KEYS:
                remember_link(value)
            else:
                remember_from(value)
    elif isinstance(payload, list):
        for value in payload:
            remember_from(value)


def _json(content: bytes) -> Any:
    try:
        return json.loads(content) if content else None
    except ValueError:
        return None


def remember_exchange(request: Any, response: Any | None = None) -> None:
    """What crossed the HTTP boundary (httpx request and response): the credentials in
    the request's headers and the secrets in both bodies."""
    authorization = request.headers.get("Authorization", "")
    scheme, _, credential = authorization.partition(" ")
    if scheme.lower() == "bearer":
        remember_secret(credential)
    elif scheme.lower() == "basic":
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            remember_secret(b64decode(credential).decode().partition(":")[2])
        remember_secret(credential)
    for header in ("X-Api-Key", "X-Webhook-Secret"):
        remember_secret(request.headers.get(header, ""))
    remember_from(_json(request.content))
    if response is not None:
        # A streamed or closed answer has nothing to learn from.
        with contextlib.suppress(Exception):
            remember_from(_json(response.read()))


# --- the guard ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Leak:
    test: str
    line: str
    secret: str

    def shown(self) -> str:
        secret = self.secret
        hint = f"{secret[:3]}…{secret[-2:]}" if len(secret) > 8 else "…"
        return f"{self.test}: {self.line.strip()[:500]}  [contains {hint}]"


class GuardHandler(logging.Handler):
    """Keeps every formatted line, with the test that logged it."""

    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        self.addFilter(RedactFilter())
        self.lines: list[tuple[str, str]] = []
        self.test = "(session)"

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # a broken record: logging reports it elsewhere
            return
        self.lines.append((self.test, line))


def scan(lines: Iterable[tuple[str, str]], secrets: Iterable[str]) -> list[Leak]:
    """The lines that contain any of `secrets`, one Leak per line."""
    wanted = sorted({s for s in secrets if len(s) >= MIN_LENGTH}, key=len, reverse=True)
    if not wanted:
        return []
    pattern = re.compile("|".join(map(re.escape, wanted)))
    leaks = []
    for test, line in lines:
        found = pattern.search(line)
        if found:
            leaks.append(Leak(test, line, found.group(0)))
    return leaks


class LogGuard:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.handler = GuardHandler()
        self.leaks: list[Leak] = []
        self.reported: list[str] = []

    def _attach(self) -> None:
        # dictConfig (settings, a test configuring logging) replaces the root's handlers:
        # put ours back wherever it went missing.
        for logger in (logging.getLogger(), *self._non_propagating()):
            if self.handler not in logger.handlers:
                logger.addHandler(self.handler)

    @staticmethod
    def _non_propagating() -> list[logging.Logger]:
        return [logger for logger in list(logging.root.manager.loggerDict.values())
                if isinstance(logger, logging.Logger) and not logger.propagate]

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self._attach()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None):
        self._attach()
        self.handler.test = item.nodeid
        yield
        self.handler.test = "(session)"

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item):
        yield
        # Still set: fixtures (monkeypatch) are torn down after the call.
        for name, value in os.environ.items():
            if name.startswith(_ENV_PREFIX) and not name.endswith("_FILE"):
                remember_secret(value)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        for logger in (logging.getLogger(), *self._non_propagating()):
            if self.handler in logger.handlers:
                logger.removeHandler(self.handler)
        with _lock:
            secrets = set(_secrets)
        self.leaks = scan(self.handler.lines, secrets)
        shown = [leak.shown() for leak in self.leaks]
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput["log_guard_leaks"] = shown
        self.reported.extend(shown)
        if self.reported and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """xdist: a worker's leaks, reported by the controller."""
        self.reported.extend(getattr(node, "workeroutput", {}).get("log_guard_leaks", []))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.reported:
            return
        terminalreporter.write_sep("=", f"log guard: {len(self.reported)} log line(s) "
                                        "contain a secret the tests used", red=True)
        for line in self.reported[:200]:
            terminalreporter.write_line(line)
        if len(self.reported) > 200:
            terminalreporter.write_line(f"... and {len(self.reported) - 200} more")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(LogGuard(config), "log_guard_session")
