"""The log redaction filter, attached to every handler in settings.LOGGING.

Upstream error bodies, request lines and tracebacks go to the log for diagnosis; the
secrets in them must not. `RedactFilter` rewrites each record's message (its args
merged in), its traceback text and stack before any handler formats it, masking:

- bearer and basic credentials, and Authorization header values;
- values of secret-looking keys (auth_code/authCode, epp, password, token, secret,
  api_key, signature, ...) in JSON, Python reprs and key=value text;
- the token of billing-portal and checkout links, and token-like parts of other URLs;
- JWTs, and every secret value the provider layer has read or has in flight
  (registrar.providers.secrets).

The key and URL rules are the audit trail's (backoffice.audit), so the log and the
audit trail mask the same things. The record is changed in place, so handlers that see
it later (and pytest's capture) see it masked too.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable

from registrar.providers.secrets import scrub

MASK = "***"

_AUTH_SCHEME = re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9\-._~+/]+=*")
_AUTH_HEADER = re.compile(r"(?i)\b(authorization|x-api-key|x-auth-token)(\s*[:=]\s*)"
                          r"(?!['\"]|\*\*\*)[^\r\n,;}\]]+")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
# "key": "value" | 'key': 'value' | key=value | key: value. The key is checked against
# the audit trail's secret keys in the replacement, not here.
_KEY_VALUE = re.compile(
    r"""(?<![A-Za-z0-9_\-])(?P<kq>["']?)(?P<key>[A-Za-z][A-Za-z0-9_\-]*+)(?P=kq)"""
    r"""(?P<sep>\s*+[:=]\s*+)"""
    r"""(?P<value>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,;&"'}\])]+)""")
_URL = re.compile(r"""https?://[^\s"'<>\\]+""")


def _audit_rules() -> tuple[re.Pattern[str], re.Pattern[str], Callable[[str], str],
                            Callable[[str], str]]:
    # Imported on first use: the audit module needs the app registry, and logging is
    # configured before it is ready.
    from backoffice import audit

    return audit._SECRET_KEY, audit._TOKEN_LINK_KEY, audit.mask_url, audit.mask_link_token


def redact(text: str) -> str:
    """`text` with every secret this filter knows how to find masked."""
    if not text:
        return text
    text = scrub(text)
    text = _AUTH_SCHEME.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    text = _JWT.sub(MASK, text)
    try:
        secret_key, link_key, mask_url, mask_link_token = _audit_rules()
    except Exception:  # before the apps are loaded: mask every URL and every value
        text = _URL.sub(MASK, text)
        return _KEY_VALUE.sub(lambda m: f"{m.group('kq')}{m.group('key')}{m.group('kq')}"
                                        f"{m.group('sep')}{MASK}", text)

    def key_value(match: re.Match[str]) -> str:
        key, value = match.group("key"), match.group("value")
        quote = value[0] if value[:1] in ("'", '"') else ""
        inner = value[1:-1] if quote and len(value) >= 2 else value
        if inner in ("", "null", "None") or inner == MASK:
            return match.group(0)
        if link_key.search(key) and inner.startswith(("http://", "https://")):
            masked = mask_link_token(inner)
        elif secret_key.search(key):
            masked = MASK
        else:
            return match.group(0)
        return f"{match.group('kq')}{key}{match.group('kq')}{match.group('sep')}" \
               f"{quote}{masked}{quote}"

    text = _KEY_VALUE.sub(key_value, text)
    return _URL.sub(lambda m: mask_url(m.group(0)) if MASK not in m.group(0) else m.group(0),
                    text)


class RedactFilter(logging.Filter):
    """Masks secrets in a record (message, traceback, stack); never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format: logging reports it itself
            return True
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
