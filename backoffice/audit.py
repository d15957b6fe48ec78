"""The audit trail: `record()` writes one StaffAction, with secrets masked.

Callers (services) write exactly one row per upstream mutation, in the same
transaction as the mirror update, so the trail and the mirror never disagree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.db import models

from backoffice import assurance
from backoffice.models import StaffAction

MASK = "***"

# Keys whose values are secrets wherever they appear in parameters.
_SECRET_KEY = re.compile(
    r"(auth_?code|authorization|epp|password|passwd|secret|token|api_?key|signature|"
    r"card|cvc|iban)",
    re.IGNORECASE,
)
# Keys that match the pattern above but name a setting, never hold a secret: a TLD's
# authcode_behavior (standard, hidden, emailed) is what staff need to see changing.
_NOT_SECRET_KEYS = frozenset({"authcode_behavior"})
# A path segment that looks like a bearer token (long, high-entropy).
_TOKEN_SEGMENT = re.compile(r"^[A-Za-z0-9_\-.~=+]{20,}$")


def mask_url(url: str) -> str:
    """Mask the token-like parts of a URL (query values, long path segments), keep the rest.

    Billing-portal links carry a signed token in the path or query; staff still need to
    see which portal and host the link went to.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    segments = [MASK if _TOKEN_SEGMENT.match(seg) else seg for seg in parts.path.split("/")]
    query = urlencode([(key, MASK) for key, _ in parse_qsl(parts.query, keep_blank_values=True)])
    return urlunsplit((parts.scheme, parts.netloc, "/".join(segments), query, ""))


def mask_link_token(url: str) -> str:
    """A link whose whole point is a token (billing portal, checkout): mask its last
    path segment and every query value however short they are, keep scheme and host so
    staff can still tell which portal it was."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    segments = parts.path.split("/")
    for index in range(len(segments) - 1, -1, -1):
        if segments[index]:
            segments[index] = MASK
            break
    query = urlencode([(key, MASK) for key, _ in parse_qsl(parts.query, keep_blank_values=True)])
    return urlunsplit((parts.scheme, parts.netloc, "/".join(segments), query, ""))


#: Keys whose URL values are capability links: anyone holding one is let in.
_TOKEN_LINK_KEY = re.compile(r"(portal|checkout|billing)_?url", re.IGNORECASE)


def mask_secrets(value: Any, *, key: str = "") -> Any:
    """Return a copy of `value` with secret values replaced by a mask, recursively."""
    if key and key not in _NOT_SECRET_KEYS and _SECRET_KEY.search(key):
        return MASK if value not in (None, "") else value
    if isinstance(value, Mapping):
        return {str(k): mask_secrets(v, key=str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_secrets(v, key=key) for v in value]
    if isinstance(value, str) and value.startswith(("http://", "https://")) and "url" in key:
        return mask_link_token(value) if _TOKEN_LINK_KEY.search(key) else mask_url(value)
    return value


def record(**fields) -> StaffAction:
    """Write one audit row. `actor` is a user, or None for system work (give `actor_label`)."""
    row = build(**fields)
    row.save()
    return row


def build(
    *,
    actor,
    action: str,
    target: models.Model | None = None,
    parameters: Mapping[str, Any] | None = None,
    outcome: str,
    upstream_status: int | None = None,
    upstream_code: str = "",
    upstream_request_id: str = "",
    process_id: str = "",
    message: str = "",
    actor_label: str = "",
    channel: str | None = None,
) -> StaffAction:
    """An unsaved audit row, for callers that write many at once (bulk_create).

    `channel` is how the work was started (web, command line, task, webhook): by
    default the acting context's (backoffice.assurance), which every entry point sets."""
    if actor is not None and not actor_label:
        actor_label = actor.get_username()
    return StaffAction(
        actor=actor,
        actor_label=actor_label or "system",
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_repr=str(target)[:255] if target is not None else "",
        parameters=mask_secrets(dict(parameters or {})),
        outcome=outcome,
        upstream_status=upstream_status,
        upstream_code=upstream_code[:64],
        upstream_request_id=upstream_request_id[:128],
        process_id=str(process_id)[:64],
        message=message,
        channel=channel or assurance.channel(),
    )
