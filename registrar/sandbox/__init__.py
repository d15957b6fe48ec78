"""The built-in sandbox: a simulated Domain Registration API upstream (document 001's
wire format, with its own state), so the back-office runs without credentials and
tests exercise real HTTP semantics.

`get_app()` is the process-wide WSGI app (the sandbox provider's transport uses it).
It keeps one `SandboxApp` object for the life of the process and only swaps the
state inside it, so HTTP clients built around the app never hold a stale one.
"""

from __future__ import annotations

import threading

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from registrar.sandbox.app import SandboxApp
from registrar.sandbox.state import SandboxState

__all__ = ["SandboxApp", "SandboxState", "get_app", "reset_sandbox"]

_lock = threading.Lock()
_app: SandboxApp | None = None
_source: str | None = None  # the SANDBOX_STATE_FILE the current state was chosen for


def _require_enabled() -> None:
    if not getattr(settings, "SANDBOX_ENABLED", False):
        raise ImproperlyConfigured(
            "The built-in sandbox upstream is disabled: SANDBOX_ENABLED is off. It is for "
            "development and tests only; set SANDBOX_ENABLED=1 (or DEBUG=1) to use it, "
            "and never in production."
        )


def _configured_source() -> str | None:
    path = getattr(settings, "SANDBOX_STATE_FILE", None)
    return str(path) if path else None


def get_app() -> SandboxApp:
    """The process-wide sandbox: backed by settings.SANDBOX_STATE_FILE (shared with
    other processes), or in memory when that setting is None.

    Raises ImproperlyConfigured when settings.SANDBOX_ENABLED is off.
    """
    global _app, _source
    _require_enabled()
    source = _configured_source()
    with _lock:
        if _app is None:
            _app = SandboxApp(SandboxState(source))
            _source = source
        elif source != _source:  # the setting changed (tests override it)
            _app.state = SandboxState(source)
            _source = source
        return _app


def reset_sandbox() -> SandboxApp:
    """Give the process-wide sandbox a fresh, empty, in-memory state (for tests) and
    return it. Later `get_app()` calls keep it while the settings stay the same."""
    global _app, _source
    _require_enabled()
    with _lock:
        if _app is None:
            _app = SandboxApp(SandboxState())
        else:
            _app.state = SandboxState()
        _source = _configured_source()
        return _app
