"""Endpoints the upstreams push events to: POST /webhooks/<kind>/<label>/.

Neither document specifies a signature, so each provider account has a shared secret
(the environment variable named in its options as `webhook_secret_env`, by default
PROVIDER_SECRET_<LABEL>_WEBHOOK; like every provider secret it must start with
PROVIDER_SECRET_) that the sender puts in the X-Webhook-Secret header. See
docs/webhooks.md for the payloads.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
from typing import Any

from django.conf import settings
from django.db import DataError, IntegrityError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from backoffice import assurance
from billing.services import WebhookPayloadError, webhook_receive
from registrar.models import ProviderAccount
from registrar.providers.errors import ConfigurationError
from registrar.providers.registry import adapter_class
from registrar.providers.secrets import read_secret, secret_prefix
from registrar.providers.webhook_fields import InvalidField

logger = logging.getLogger(__name__)

#: Bodies above this are answered 413 unread (WEBHOOK_MAX_BODY_BYTES overrides it).
DEFAULT_MAX_BODY = 64 * 1024
#: No event nests anywhere near this deep; the check keeps the parser from recursing.
MAX_DEPTH = 32


def max_body_bytes() -> int:
    return int(getattr(settings, "WEBHOOK_MAX_BODY_BYTES", DEFAULT_MAX_BODY))


def _invalid(field: str, message: str, *, status: int = 400) -> JsonResponse:
    # Answered before anything is stored: the sender's retry of a fixed event applies.
    return JsonResponse({"status": "invalid", "field": field, "message": message},
                        status=status)


def nesting_depth_exceeds(text: str, limit: int = MAX_DEPTH) -> bool:
    """True when the JSON text opens more than `limit` arrays/objects inside one another.
    A flat scan (brackets inside strings do not count), so a hostile body cannot make it
    recurse the way the JSON parser would."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _refuse_constant(name: str) -> Any:
    raise InvalidField("body", f"{name} is not a JSON number.")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidField("body", f"The number {text[:20]} is out of range.")
    return value


def _unstorable_text(payload: Any) -> str | None:
    """The path of the first string (key or value) the database cannot store: one with a
    lone surrogate (not UTF-8) or a NUL (PostgreSQL's JSON refuses it). Iterative: the
    depth is already bounded, but this needs no stack either way."""
    pending: list[tuple[str, Any]] = [("", payload)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                if _bad_text(key):
                    return path or "body"
                pending.append((child, item))
        elif isinstance(value, list):
            pending.extend((f"{path}[{index}]", item) for index, item in enumerate(value))
        elif isinstance(value, str) and _bad_text(value):
            return path or "body"
    return None


def _bad_text(value: str) -> bool:
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _field_name(path: str) -> str:
    # The path is echoed in the answer: keep it short and printable.
    return path.encode("ascii", "backslashreplace").decode()[:200]


def webhook_secret_env(account: ProviderAccount) -> str:
    """The variable holding `account`'s webhook secret: its option, else the default."""
    named = (account.options or {}).get("webhook_secret_env")
    if named:
        return str(named)
    return f"{secret_prefix()}{account.label.upper().replace('-', '_')}_WEBHOOK"


def webhook_secret(account: ProviderAccount) -> str:
    """The shared secret, or "" when none is configured or the option names a variable
    outside the provider-secret prefix (such an account accepts no webhook)."""
    try:
        return read_secret(webhook_secret_env(account), account_label=account.label,
                           what="webhook secret")
    except ConfigurationError as error:
        logger.warning("webhook for %s refused: %s", account.label, error.message)
        return ""


@csrf_exempt  # authenticated by the shared secret, not by a browser session
@require_POST
def receive(request: HttpRequest, kind: str, label: str) -> JsonResponse:
    # An upstream pushed this, not a staff session: what it changes is audited as such.
    with assurance.acting(assurance.Channel.WEBHOOK):
        return _receive(request, kind, label)


def _receive(request: HttpRequest, kind: str, label: str) -> JsonResponse:
    account = ProviderAccount.objects.filter(kind=kind, label=label, enabled=True).first()
    if account is None:
        return JsonResponse({"error": "unknown provider account"}, status=404)
    secret = webhook_secret(account)
    if not secret:
        return JsonResponse({"error": "webhooks are not configured for this account"},
                            status=503)
    given = request.headers.get("X-Webhook-Secret", "")
    if not hmac.compare_digest(given.encode(), secret.encode()):
        return JsonResponse({"error": "bad secret"}, status=401)
    limit = max_body_bytes()
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    # Checked on the declared length first, so an oversized body is not even read.
    if declared > limit or len(request.body) > limit:
        return _invalid("body", f"The body is larger than {limit} bytes.", status=413)
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:
        return _invalid("body", "The body is not UTF-8 text.")
    if nesting_depth_exceeds(text):
        return _invalid("body", f"The body nests more than {MAX_DEPTH} levels deep.")
    try:
        payload = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except InvalidField as exc:
        return _invalid(exc.field, exc.message)
    except (ValueError, RecursionError):
        return _invalid("body", "The body is not valid JSON.")
    if not isinstance(payload, dict):
        return _invalid("body", "The body must be a JSON object.")
    unstorable = _unstorable_text(payload)
    if unstorable is not None:
        return _invalid(_field_name(unstorable),
                        f"{_field_name(unstorable)} holds a NUL or a character that is not "
                        f"valid UTF-8.")
    try:
        # The upstream's own parser reads the event (registrar/providers/<kind>/) and
        # checks each field, naming the one it refuses, before anything is stored.
        adapter_class(account.kind).parse_webhook(payload)
    except InvalidField as exc:
        return _invalid(_field_name(exc.field), exc.message)
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        return _invalid("body", f"The event is malformed: {str(exc)[:200]}")
    try:
        status = webhook_receive(account=account, payload=payload)
    except WebhookPayloadError as exc:
        return _invalid("body", str(exc)[:300])
    except (IntegrityError, DataError, OverflowError):
        # Not a redelivery (that is answered "duplicate"): the event breaks a rule of
        # the order it would write. Rolled back, so nothing of it is stored.
        logger.warning("webhook for %s refused: it breaks a database rule", account.label,
                       exc_info=True)
        return _invalid("data", "The event's order breaks a rule of the stored orders "
                                "(amounts, years or currency).")
    return JsonResponse({"status": status})
