"""How the current unit of work is acting: its channel, and how freshly its user proved
a second factor.

Set once per unit of work: a web request by `StaffSessionMiddleware`, a management
command when it resolves `--as`, a Celery task by a signal, a webhook by its view. The
audit trail reads the channel (web, command line, task, webhook) from here, and the
services read the step-up freshness before a high-risk operation: they are the layer
that refuses, whatever the entry point.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone


class Channel(models.TextChoices):
    WEB = "web", "Web"
    CLI = "cli", "Command line"
    TASK = "task", "Background task"
    WEBHOOK = "webhook", "Webhook"


@dataclass(frozen=True)
class Context:
    channel: str
    user_id: int | None = None
    # When this session (or command) last passed a second factor.
    second_factor_at: datetime | None = None


_current: ContextVar[Context] = ContextVar("backoffice_acting")
# Outside any request, task or webhook, work is being done from a shell.
_SHELL = Context(channel=Channel.CLI)

#: Where a web session keeps the time its user last gave a second factor.
SESSION_KEY = "backoffice_second_factor_at"


class StepUpRequired(Exception):
    """A high-risk operation was asked for without a fresh second factor."""

    code = "step_up_required"

    def __init__(self, what: str) -> None:
        self.message = (f"{what} needs a fresh second factor: enter a code from your "
                        "authenticator (or a backup code) to confirm it.")
        super().__init__(self.message)


def current() -> Context:
    return _current.get(_SHELL)


def channel() -> str:
    return str(current().channel)


@contextlib.contextmanager
def acting(channel: str, *, user=None, second_factor_at: datetime | None = None
           ) -> Iterator[Context]:
    """Run a block as `channel` (and, for step-up, as `user` verified at the time given)."""
    context = Context(channel=channel, user_id=getattr(user, "pk", None),
                      second_factor_at=second_factor_at)
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def _note(user, at: datetime) -> None:
    _current.set(replace(current(), user_id=user.pk, second_factor_at=at))


def user_has_second_factor(user) -> bool:
    from django_otp import user_has_device

    return bool(user is not None and user.is_authenticated and user_has_device(user))


def second_factor_enforced(user) -> bool:
    """Step-up applies when second factors are required, or to anyone who set one up.

    Only the demo runs with STAFF_MFA_REQUIRED off (and says so on every page); its
    users without a device act without a step-up, as they logged in without one."""
    return bool(settings.STAFF_MFA_REQUIRED) or user_has_second_factor(user)


def second_factor_fresh(user, *, now: datetime | None = None) -> bool:
    if not second_factor_enforced(user):
        return True
    context = current()
    if context.user_id != getattr(user, "pk", None) or context.second_factor_at is None:
        return False
    age = (now or timezone.now()) - context.second_factor_at
    return timedelta(0) <= age <= timedelta(seconds=settings.STEP_UP_MAX_AGE_SECONDS)


def require_step_up(user, what: str) -> None:
    """Refuse (StepUpRequired) unless `user` gave a second factor within the window."""
    if not second_factor_fresh(user):
        raise StepUpRequired(what)


def match_token(user, token: str):
    """The user's device that accepts `token` (TOTP, backup code), or None. A backup
    code is used up by matching it."""
    from django_otp import match_token as otp_match_token

    token = (token or "").strip().replace(" ", "")
    if not token or user is None or not user.is_authenticated:
        return None
    return otp_match_token(user, token)


def confirm_second_factor(user, token: str, *, request=None) -> bool:
    """Check a step-up code; on success this unit of work (and the web session, given a
    request) counts as freshly verified."""
    if match_token(user, token) is None:
        return False
    note_second_factor(user, request=request)
    return True


def note_second_factor(user, *, request=None) -> None:
    """Record that `user` just passed a second factor (login, step-up, passkey)."""
    now = timezone.now()
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_KEY] = now.isoformat()
    _note(user, now)


def session_second_factor_at(request) -> datetime | None:
    raw = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw)
    except (TypeError, ValueError):
        return None
