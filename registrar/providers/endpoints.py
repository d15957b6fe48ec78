"""Where a provider account may send requests, for how long, and which links an
upstream sends back may be shown to staff.

A provider account's base URL receives its secret on every request, and Admins edit it.
So it must be https, and (outside development) never an address inside our own network:
loopback, private, link-local, reserved or unspecified IP literals and `localhost` are
refused, which keeps an account from being pointed at a local listener or a metadata
service. With `settings.PROVIDER_LOOPBACK_HTTP_ALLOWED` (on when DEBUG is), loopback is
allowed, over plain http too: the sandbox and local test servers live there. Host names
are not resolved here; the check is on what was typed.

The same checks run in the model's validators, in `configure_provider` and when a
client is built, so a row stored before these rules refuses to send anything.
"""

from __future__ import annotations

import ipaddress
import math
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

TIMEOUT_MIN_SECONDS = 1.0
TIMEOUT_MAX_SECONDS = 60.0

_LOOPBACK_NAMES = ("localhost", "localhost.", "ip6-localhost", "ip6-loopback")


def loopback_http_allowed() -> bool:
    return bool(getattr(settings, "PROVIDER_LOOPBACK_HTTP_ALLOWED", settings.DEBUG))


def _literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address `host` spells, including the short and numeric IPv4 forms
    (127.1, 2130706433, 0x7f.0.0.1) that resolvers accept; None for a host name."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except (OSError, ValueError):
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _is_loopback_name(host: str) -> bool:
    return host in _LOOPBACK_NAMES or host.rstrip(".").endswith(".localhost")


def base_url_problem(url: str) -> str | None:
    """Why `url` may not be a provider account's base URL, or None when it may."""
    try:
        parts = urlsplit((url or "").strip())
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        return "Enter a valid URL, e.g. https://api.registrar.example/v2."
    if parts.scheme not in ("http", "https") or not host:
        return "Enter an https URL with a host name, e.g. https://api.registrar.example/v2."
    if parts.username is not None or parts.password is not None:
        return ("The base URL may not carry a user name or password: the secret belongs in "
                "the secret variable.")
    address = _literal_address(host)
    loopback = _is_loopback_name(host) or (address is not None and address.is_loopback)
    if loopback and loopback_http_allowed():
        return None  # development: the sandbox and local test servers
    if parts.scheme != "https":
        return "The base URL must use https, e.g. https://api.registrar.example/v2."
    if loopback:
        return ("The base URL may not point at this machine (localhost or a loopback "
                "address).")
    if address is not None and (address.is_private or address.is_link_local
                                or address.is_reserved or address.is_unspecified
                                or address.is_multicast or not address.is_global):
        return ("The base URL may not point at a private, link-local or reserved address: "
                "use the registrar's public host name.")
    return None


def validate_base_url(url: str) -> None:
    """Django validator for a provider account's base URL."""
    problem = base_url_problem(url)
    if problem:
        raise ValidationError(problem, code="base_url")


def timeout_problem(seconds: float | None) -> str | None:
    if (seconds is None or isinstance(seconds, bool) or not isinstance(seconds, int | float)
            or not math.isfinite(seconds)
            or not TIMEOUT_MIN_SECONDS <= seconds <= TIMEOUT_MAX_SECONDS):
        return (f"The timeout must be between {TIMEOUT_MIN_SECONDS:g} and "
                f"{TIMEOUT_MAX_SECONDS:g} seconds.")
    return None


def validate_timeout(seconds: float) -> None:
    """Django validator for a provider account's request timeout."""
    problem = timeout_problem(seconds)
    if problem:
        raise ValidationError(problem, code="timeout")


def https_link(url: object) -> str:
    """`url` when it is an absolute https URL with a host, else "". For links an
    upstream sends back for staff to open or hand on (a billing portal, a checkout):
    javascript:, http: or a relative path is never shown as a link."""
    if not isinstance(url, str):
        return ""
    candidate = url.strip()
    try:
        parts = urlsplit(candidate)
        host = parts.hostname
    except ValueError:
        return ""
    if parts.scheme != "https" or not host or any(c in candidate for c in "\r\n\t \"'<>"):
        return ""
    return candidate
