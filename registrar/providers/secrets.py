"""Where a provider account's secrets come from, and the secret values logs must hide.

A provider account names the environment variable that holds its secret (the API key,
the webhook's shared secret), never the secret itself. Only variables under one prefix,
`settings.PROVIDER_SECRET_ENV_PREFIX` ("PROVIDER_SECRET_"), may be named: the account
form is edited by Admins, and naming SECRET_KEY or DATABASE_URL there would send the
back-office's own secrets to whatever host the account points at. A name ending in
`_FILE` holds the path of a file with the secret (the Docker and Kubernetes secrets
convention). The same check runs in the model's validators, in `configure_provider`
and again at the moment a secret is read, so a row stored before the rule existed
refuses to send anything.

Every secret read here, and every secret an adapter handles on the way (a minted JWT,
an auth code in flight), is remembered so that `scrub()` can cut it out of text that
goes to a log or to staff (backoffice.logredact applies it to every log record).
"""

from __future__ import annotations

import contextvars
import os
import re
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError

from registrar.providers.errors import ConfigurationError

DEFAULT_PREFIX = "PROVIDER_SECRET_"
FILE_SUFFIX = "_FILE"
MASK = "***"
#: Shorter values are not scrubbed by value: they would mask ordinary words. Real API
#: keys, tokens and auth codes are longer.
MIN_HIDDEN_LENGTH = 6

_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


def secret_prefix() -> str:
    return getattr(settings, "PROVIDER_SECRET_ENV_PREFIX", DEFAULT_PREFIX) or DEFAULT_PREFIX


def secret_env_problem(name: str) -> str | None:
    """Why `name` may not be named as a provider secret variable, or None when it may.
    The message never repeats the name: a mistyped field may hold the secret itself."""
    prefix = secret_prefix()
    example = f"{prefix}ENTRI_KEY"
    if not _NAME.match(name or ""):
        return (f"Enter the name of an environment variable (capital letters, digits and _, "
                f"e.g. {example}), never the secret itself.")
    stem = name[len(prefix):]
    if not name.startswith(prefix) or not stem.strip("_") or stem == FILE_SUFFIX.lstrip("_"):
        return (f"Only environment variables whose names start with {prefix} may hold a "
                f"provider secret, e.g. {example} or {example}{FILE_SUFFIX} (the path of a "
                "file holding it).")
    return None


def validate_secret_env(name: str) -> None:
    """Django validator for a secret variable's name (model fields, forms)."""
    if name:
        problem = secret_env_problem(name)
        if problem:
            raise ValidationError(problem, code="secret_env")


def read_secret(name: str, *, account_label: str, what: str = "secret") -> str:
    """The value of the secret variable `name` ("" when it is not set). Refuses, with
    ConfigurationError and before anything is sent, a name outside the prefix; for a
    `..._FILE` name reads the file it points at, without its trailing newline."""
    problem = secret_env_problem(name)
    if problem:
        raise ConfigurationError(
            f"Provider account “{account_label}” names a {what} variable that may not be "
            f"used: {problem} Nothing was sent.",
            code="secret_env_refused")
    value = os.environ.get(name, "")
    if name.endswith(FILE_SUFFIX) and value:
        try:
            value = Path(value).read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(
                f"Provider account “{account_label}”: the file named by {name} cannot be "
                f"read ({type(exc).__name__}). Nothing was sent.",
                code="secret_file_unreadable") from None
    remember(value)
    return value


# --- secret values to hide -------------------------------------------------------------

_lock = threading.Lock()
# Secrets read from the environment and tokens minted from them: few, and bounded so a
# long-running process that mints a JWT an hour does not grow without end.
_remembered: deque[str] = deque(maxlen=256)
# Secrets of the call in flight on this thread or task (an auth code being sent).
_in_flight: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "provider_secrets_in_flight", default=())


def remember(*values: str) -> None:
    """Hide these values in logs from now on (a secret read, a token minted)."""
    with _lock:
        for value in values:
            if value and len(value) >= MIN_HIDDEN_LENGTH and value not in _remembered:
                _remembered.append(value)


@contextmanager
def hiding(*values: str) -> Iterator[None]:
    """Hide these values in logs for the duration of the block (a call that carries an
    auth code): an upstream that echoes one in an error must not put it in a log."""
    reset = _in_flight.set((*_in_flight.get(), *(v for v in values if v)))
    try:
        yield
    finally:
        _in_flight.reset(reset)


def hidden_values() -> Iterable[str]:
    with _lock:
        remembered = tuple(_remembered)
    # Longest first, so a secret that contains another is cut out whole.
    return sorted({*remembered, *(v for v in _in_flight.get() if len(v) >= MIN_HIDDEN_LENGTH)},
                  key=len, reverse=True)


def scrub(text: str) -> str:
    """`text` with every remembered or in-flight secret value replaced by a mask."""
    if not text:
        return text
    for value in hidden_values():
        if value in text:
            text = text.replace(value, MASK)
    return text
