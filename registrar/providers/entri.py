"""Adapter for the Entri Sell Enterprise API (document 000).

One method per endpoint. Every call carries a short-lived JWT minted from the
application's id and secret (`POST /token`); the JWT is shared through Django's cache
by every thread and process, re-minted shortly before its 60 minutes run out, and once
more when the API answers 401. Neither the secret nor a JWT nor a transfer auth code is
ever logged or put into an exception: error bodies are logged with them redacted.

Where the document is silent the choices are commented in place (search "silent").
"""

from __future__ import annotations

import contextvars
import hashlib
import ipaddress
import logging
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email

from billing.models import OrderKind, OrderStatus
from registrar.domain_names import normalise_tld, to_ascii
from registrar.models import RegistrationStatus
from registrar.providers.base import (
    AuthenticationFailed,
    Capability,
    ConfigurationError,
    Done,
    MalformedResponse,
    Money,
    Provider,
    ProviderError,
    error_for,
)
from registrar.providers.domain_api import (
    _PARSE_ERRORS,
    CallerError,
    _clean,
    _dt,
    _guard_parsing,
)
from registrar.providers.http import DEFAULT_RETRY, HttpClient, Reply, RetryPolicy

logger = logging.getLogger("registrar.providers")

API_PREFIX = "/enterprise/sell/v1"
TOKEN_PATH = "/token"  # noqa: S105 (a path, not a password)
TOKEN_LIFETIME_SECONDS = 60 * 60
# Mint a new JWT this long before the old one expires, so a call started just before
# the hour never reaches Entri with a token that died on the way.
TOKEN_REFRESH_MARGIN_SECONDS = 5 * 60
TOKEN_REUSE_SECONDS = TOKEN_LIFETIME_SECONDS - TOKEN_REFRESH_MARGIN_SECONDS
# Silent: the document shows prices only in USD (pricing.currency "USD") and gives
# availability and suggestion prices without a currency. We read those as USD.
DEFAULT_CURRENCY = "USD"
REDACTED = "[redacted]"


# --- Statuses ------------------------------------------------------------------------

# The one status vocabulary the document uses for domains, orders and transfers.
ENTRI_STATUSES = (
    "payment_initiated", "payment_successful", "payment_failed", "registration_in_progress",
    "registered", "transferred", "transfer_started", "transfer_completed", "transfer_ack",
    "transfer_success", "transfer_failed",
)

# billing.OrderStatus was built from Entri's vocabulary: the same strings.
ORDER_STATUS: dict[str, OrderStatus] = {status: OrderStatus(status) for status in ENTRI_STATUSES}

# A domain's Entri status as our registration status. The document does not define the
# statuses; this is our reading of their names:
# - registered, and the ends of a successful transfer in (transferred, transfer_success,
#   transfer_completed): the domain is ours and live -> active. A domain transferred
#   *out* is no longer listed by Entri, so `transferred` cannot mean "gone".
# - payment_initiated / payment_successful / registration_in_progress: bought but not
#   yet registered -> pending.
# - transfer_started / transfer_ack: a transfer is under way -> pending_transfer.
# - payment_failed / transfer_failed: the domain never became ours -> cancelled. (A
#   failed transfer *out* would leave it ours; Entri's status does not say which way the
#   transfer went, and the next sync after the failed transfer-out shows it registered.)
REGISTRATION_STATUS: dict[str, RegistrationStatus] = {
    "payment_initiated": RegistrationStatus.PENDING,
    "payment_successful": RegistrationStatus.PENDING,
    "registration_in_progress": RegistrationStatus.PENDING,
    "registered": RegistrationStatus.ACTIVE,
    "transferred": RegistrationStatus.ACTIVE,
    "transfer_success": RegistrationStatus.ACTIVE,
    "transfer_completed": RegistrationStatus.ACTIVE,
    "transfer_started": RegistrationStatus.PENDING_TRANSFER,
    "transfer_ack": RegistrationStatus.PENDING_TRANSFER,
    "payment_failed": RegistrationStatus.CANCELLED,
    "transfer_failed": RegistrationStatus.CANCELLED,
}

_TRANSFER_STATUSES = frozenset(s for s in ENTRI_STATUSES if s.startswith("transfer"))


def _order_status(value: Any) -> OrderStatus:
    # An unknown status is refused (MalformedResponse) rather than guessed: orders are money.
    if value not in ORDER_STATUS:
        raise ValueError(f"unknown Entri status {value!r}")
    return ORDER_STATUS[value]


def _registration_status(value: Any) -> RegistrationStatus:
    if value not in REGISTRATION_STATUS:
        raise ValueError(f"unknown Entri status {value!r}")
    return REGISTRATION_STATUS[value]


# --- Parsing upstream shapes ------------------------------------------------------------


def to_minor_units(value: Any) -> int:
    """A price in decimal dollars (a JSON number or string) as integer cents.

    JSON numbers reach us as floats (http.py parses with json.loads); `str(float)` is the
    shortest decimal that round-trips, so 12.99 becomes Decimal("12.99") exactly. A price
    with fractions of a cent, a negative one, NaN or a non-number is refused (ValueError,
    which the endpoint guard turns into MalformedResponse), never rounded.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise TypeError(f"not a price: {value!r}")
    try:
        amount = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise ValueError(f"not a price: {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"not a price: {value!r}")
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"price with fractions of a cent: {value!r}")
    return int(cents)


def _money(value: Any, currency: str = DEFAULT_CURRENCY) -> Money | None:
    return None if value is None else Money(to_minor_units(value), currency)


def _upstream_name(value: Any) -> str:
    """A domain name from an answer, in our ASCII lower-case form (ValueError if bad)."""
    if not isinstance(value, str):
        raise TypeError(f"not a domain name: {value!r}")
    try:
        return to_ascii(value, min_labels=1)
    except ValidationError:
        raise ValueError(f"not a domain name: {value!r}") from None


def _flag(data: Mapping[str, Any], key: str) -> bool:
    value = data[key]
    if not isinstance(value, bool):
        raise TypeError(f"{key} is not a boolean: {value!r}")
    return value


def parse_domain(data: Mapping[str, Any]) -> dict[str, Any]:
    """An Entri domain as `Registration` field values. Flags the answer leaves out are
    left out (not defaulted), so applying the dict never invents a value."""
    fields: dict[str, Any] = {
        "name": _upstream_name(data["domainName"]),
        "status": _registration_status(data["status"]),
    }
    for key, name in (("autoRenewed", "auto_renew"), ("whoisPrivacy", "privacy_protect"),
                      ("locked", "locked")):
        if key in data:
            fields[name] = _flag(data, key)
    # The document's timestamps carry no offset ("2025-09-07T23:22:42.661936"): read as UTC.
    fields["upstream_created_at"] = _dt(data.get("createdAt"))
    fields["upstream_updated_at"] = _dt(data.get("updatedAt"))
    return fields


def _order_kind(status: OrderStatus) -> OrderKind:
    # Silent: an order does not say what it is for; only transfers use transfer_* statuses.
    if status in _TRANSFER_STATUSES or status == OrderStatus.TRANSFERRED:
        return OrderKind.TRANSFER_IN
    return OrderKind.REGISTRATION


def parse_order(data: Mapping[str, Any]) -> dict[str, Any]:
    """An Entri order as `billing.Order` field values plus `items` (`OrderItem` field
    values). Two shapes exist: the list/detail one (orderStatus, customerEmail, items) and
    the placed-order one (status, domain, pricing). Amounts come only from `pricing`; when
    the answer has none, the amount fields are left out rather than set to zero."""
    status = _order_status(data["orderStatus"] if "orderStatus" in data else data["status"])
    raw_items = data.get("items") or []
    if not isinstance(raw_items, list):
        raise TypeError("items is not a list")
    domain = data.get("domain") or (raw_items[0]["domainName"] if raw_items else "")
    fields: dict[str, Any] = {
        "upstream_id": str(data["orderId"]),
        "status": status,
        "kind": _order_kind(status),
        "domain": _upstream_name(domain) if domain else "",
        "currency": DEFAULT_CURRENCY,
        "customer_reference": str(data.get("userId") or ""),
    }
    if data.get("createdAt"):
        fields["placed_at"] = _dt(data["createdAt"])
    pricing = data.get("pricing")
    purchase_minor = renewal_minor = None
    if pricing is not None:
        if not isinstance(pricing, Mapping):
            raise TypeError("pricing is not an object")
        currency = str(pricing.get("currency") or DEFAULT_CURRENCY).upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise ValueError(f"not a currency: {currency!r}")
        purchase_minor = to_minor_units(pricing["purchasePrice"])
        if pricing.get("renewalPrice") is not None:
            renewal_minor = to_minor_units(pricing["renewalPrice"])
        fields.update(currency=currency, subtotal_minor=purchase_minor, fees_minor=0,
                      total_minor=purchase_minor)
        if pricing.get("billingPeriod") is not None:
            fields["years"] = int(pricing["billingPeriod"])
    items = []
    for item in raw_items:
        name = _upstream_name(item["domainName"])
        items.append({
            "upstream_id": str(item.get("orderItemId") or ""),
            "description": name,
            "domain": name,
            "quantity": 1,
            "details": {"status": str(item.get("status") or "")},
        })
    if not raw_items and fields["domain"] and purchase_minor is not None:
        # The placed-order answer has no items: the order is its one domain.
        details: dict[str, Any] = {"renewal_price_minor": renewal_minor}
        if "years" in fields:
            details["billing_period_years"] = fields["years"]
        items.append({
            "upstream_id": "",
            "description": fields["domain"],
            "domain": fields["domain"],
            "quantity": 1,
            "unit_amount_minor": purchase_minor,
            "total_minor": purchase_minor,
            "details": details,
        })
    fields["items"] = items
    return fields


#: Called with a record of the wrong shape and its parse error; the record is skipped.
OnMalformed = Callable[[Any, Exception], None]


def _parse_each(records: list[Any], parse: Callable[[Mapping[str, Any]], dict[str, Any]],
                on_malformed: OnMalformed | None) -> list[dict[str, Any]]:
    parsed = []
    for record in records:
        try:
            parsed.append(parse(record))
        except _PARSE_ERRORS as exc:
            if on_malformed is None:
                raise
            on_malformed(record, exc)
    return parsed


@dataclass(frozen=True)
class Page:
    """One page of a list endpoint. Pages count from 0; `next_page` is None on the last."""

    items: list[dict[str, Any]]
    page: int
    next_page: int | None
    total: int | None


@dataclass(frozen=True)
class TransferInfo:
    """The answer to a transfer in or out. `auth_code` (transfer out only) is a secret:
    show it once, never store or log it; it is kept out of the repr."""

    domain: str
    transfer_id: str
    status: OrderStatus
    transfer_type: str
    auth_code: str = field(default="", repr=False)


@dataclass(frozen=True)
class ContactValidation:
    """Entri validated the WHOIS contact and created it (`contact` is its record)."""

    message: str
    upstream_id: str
    contact: dict[str, Any]


def parse_error(status: int, body: Any, text: str, request_id: str) -> ProviderError:
    """Document 000's error body: {"message": "..."} with the HTTP status. There is no
    machine code, so the code is derived from the status (http_404) and the class and
    staff-safe message come from the status; the upstream message goes into details."""
    message = body.get("message") if isinstance(body, Mapping) else None
    return error_for(status, f"http_{status}",
                     upstream_message=str(message) if message is not None else "",
                     request_id=request_id)


# --- DNS records --------------------------------------------------------------------------

DNS_RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "NS", "SRV", "CAA")
DNS_RECORD_FIELDS = frozenset({"host", "type", "value", "ttl"})
MIN_TTL, MAX_TTL = 60, 86400
MAX_TXT_STRING_BYTES = 255
# Silent: the document gives no limit. A zone edited by hand in the admin is far smaller.
MAX_DNS_RECORDS = 500
_UNDERSCORE_LABEL = re.compile(r"_[a-z0-9](?:[a-z0-9_-]{0,61})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_QUOTED_STRINGS = re.compile(r'\s*"((?:[^"\\]|\\.)*)"\s*')
_CAA = re.compile(r"(\d{1,3})\s+([A-Za-z0-9]{1,15})\s+(\S.*)")


def _labels(name: str, *, what: str, wildcard: bool) -> str:
    """Validate a dotted name label by label: underscore labels (_dmarc, _sip, ACM's
    _a49d...) are allowed as DNS allows them; other labels go through IDNA (to_ascii);
    `*` only as the leftmost label, and only where `wildcard`."""
    labels = name.split(".")
    out = []
    for position, label in enumerate(labels):
        if label == "*" and wildcard and position == 0:
            out.append(label)
        elif label.startswith("_"):
            if not _UNDERSCORE_LABEL.fullmatch(label.lower()):
                raise ValidationError(f"“{name}” is not a valid {what}.")
            out.append(label.lower())
        else:
            try:
                out.append(to_ascii(label, min_labels=1))
            except ValidationError:
                raise ValidationError(f"“{name}” is not a valid {what}.") from None
            if "." in out[-1] or not out[-1]:
                raise ValidationError(f"“{name}” is not a valid {what}.")
    ascii_name = ".".join(out)
    if len(ascii_name) > 253:
        raise ValidationError(f"The {what} is longer than 253 characters.")
    return ascii_name


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _clean_host(host: Any) -> str:
    if not isinstance(host, str) or not host.strip():
        raise ValidationError("Give a host: “@” for the domain itself or a name such as www.")
    host = host.strip()
    if host == "@":
        return host
    if host.endswith("."):
        raise ValidationError(f"The host “{host}” must be relative to the domain (no final "
                              "dot): www, not www.example.com.")
    return _labels(host, what="host", wildcard=True)


def _clean_target(value: str, *, what: str = "target host name") -> str:
    """A host name a record points at: a fully qualified name, never an IP address.
    A final dot, when given, is kept (the document's own example has one)."""
    absolute = value.endswith(".")
    name = value[:-1] if absolute else value
    if not name or _is_ip(name) or _is_ip(name.strip("[]")):
        raise ValidationError(f"The {what} must be a host name, not an IP address or nothing.")
    ascii_name = _labels(name, what=what, wildcard=False)
    labels = ascii_name.split(".")
    if len(labels) < 2:
        raise ValidationError(f"The {what} “{value}” must be a fully qualified name, "
                              "e.g. mail.example.com.")
    if labels[-1].isdigit():
        raise ValidationError(f"The {what} “{value}” does not end in a TLD.")
    return ascii_name + ("." if absolute else "")


def _uint16(text: str, what: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 5) or int(text) > 65535:
        raise ValidationError(f"The {what} must be a whole number from 0 to 65535.")
    return int(text)


def _clean_ttl(ttl: Any) -> int:
    if isinstance(ttl, str) and (digits := ttl.strip()).isascii() and digits.isdigit() \
            and len(digits) <= 9:
        ttl = int(digits)
    if isinstance(ttl, bool) or not isinstance(ttl, int):
        raise ValidationError("The TTL must be a whole number of seconds.")
    if not MIN_TTL <= ttl <= MAX_TTL:
        raise ValidationError(f"The TTL must be between {MIN_TTL} and {MAX_TTL} seconds.")
    return ttl


def _clean_txt(value: str) -> str:
    strings = []
    if value.startswith('"'):
        # One or more quoted character-strings: "v=DKIM1; ..." "...rest".
        position = 0
        while position < len(value):
            match = _QUOTED_STRINGS.match(value, position)
            if not match:
                raise ValidationError("A quoted TXT value must be one or more \"...\" strings.")
            strings.append(match.group(1))
            position = match.end()
    else:
        strings.append(value)
    for string in strings:
        # DNS counts octets: a non-ASCII character takes several of the 255.
        if len(string.encode("utf-8")) > MAX_TXT_STRING_BYTES:
            raise ValidationError(f"A TXT string is at most {MAX_TXT_STRING_BYTES} bytes; "
                                  "split longer values into several quoted strings.")
    return value


def _clean_value(kind: str, value: str, host: str) -> str:
    if kind == "A":
        try:
            address = ipaddress.IPv4Address(value)
        except ValueError:
            hint = " (use AAAA for IPv6)" if _is_ip(value) else ""
            raise ValidationError(f"An A record needs an IPv4 address{hint}.") from None
        if address.is_unspecified or address.is_multicast:
            raise ValidationError(f"{address} cannot be a host's address.")
        return str(address)
    if kind == "AAAA":
        try:
            address6 = ipaddress.IPv6Address(value)
        except ValueError:
            hint = " (use A for IPv4)" if _is_ip(value) else ""
            raise ValidationError(f"An AAAA record needs an IPv6 address{hint}.") from None
        if address6.scope_id or address6.ipv4_mapped or address6.is_unspecified \
                or address6.is_multicast:
            raise ValidationError(f"{value} cannot be a host's address in DNS.")
        return str(address6)
    if kind in {"CNAME", "NS"}:
        return _clean_target(value)
    if kind == "MX":
        parts = value.split()
        if len(parts) != 2:
            raise ValidationError("An MX value is a priority and a mail host, "
                                  "e.g. “10 mail.example.com”.")
        return f"{_uint16(parts[0], 'MX priority')} {_clean_target(parts[1], what='mail host')}"
    if kind == "SRV":
        parts = value.split()
        if len(parts) != 4:
            raise ValidationError("An SRV value is priority, weight, port and target, "
                                  "e.g. “10 5 5060 sip.example.com”.")
        labels = host.split(".")
        if len(labels) < 2 or not all(label.startswith("_") for label in labels[:2]):
            raise ValidationError("An SRV host starts with _service._protocol, e.g. _sip._tcp.")
        numbers = [_uint16(text, what) for text, what in zip(
            parts[:3], ("SRV priority", "SRV weight", "SRV port"), strict=True)]
        return " ".join([*map(str, numbers), _clean_target(parts[3], what="SRV target")])
    if kind == "CAA":
        match = _CAA.fullmatch(value)
        if not match or int(match.group(1)) > 255:
            raise ValidationError("A CAA value is flags (0-255), a tag and a value, "
                                  "e.g. “0 issue \"letsencrypt.org\"”.")
        flags, tag, caa_value = match.groups()
        if caa_value.startswith('"'):
            if len(caa_value) < 2 or not caa_value.endswith('"') or '"' in caa_value[1:-1]:
                raise ValidationError("The CAA value has unbalanced quotes.")
            caa_value = caa_value[1:-1]
        if not caa_value.strip():
            raise ValidationError("The CAA value is empty.")
        return f'{int(flags)} {tag.lower()} "{caa_value}"'
    return _clean_txt(value)  # TXT


def _clean_record(record: Any) -> dict[str, Any]:
    if not isinstance(record, Mapping):
        raise ValidationError("A record is an object with host, type, value and ttl.")
    unknown = set(record) - DNS_RECORD_FIELDS
    if unknown:
        raise ValidationError(f"Unknown field(s): {', '.join(sorted(map(str, unknown)))}.")
    kind = record.get("type")
    kind = kind.strip().upper() if isinstance(kind, str) else kind
    if kind not in DNS_RECORD_TYPES:
        raise ValidationError(f"The type must be one of {', '.join(DNS_RECORD_TYPES)}.")
    host = _clean_host(record.get("host"))
    value = record.get("value")
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("Give a value.")
    if _CONTROL.search(value):
        raise ValidationError("The value contains control characters (e.g. a line break).")
    if host == "@" and kind == "CNAME":
        raise ValidationError("The domain itself (@) cannot be a CNAME: it has other records.")
    if host == "@" and kind == "NS":
        # Silent: the document has no nameserver endpoint; apex NS records are the
        # delegation at the registry and are not edited as zone records.
        raise ValidationError("NS records are only for delegating a subdomain, not for @.")
    cleaned: dict[str, Any] = {"host": host, "type": kind,
                               "value": _clean_value(kind, value.strip(), host)}
    # Silent: the document's defaultDnsRecords example has no ttl; when none is given,
    # none is sent and Entri's default applies.
    if record.get("ttl") is not None:
        cleaned["ttl"] = _clean_ttl(record["ttl"])
    return cleaned


def clean_dns_records(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Validate records before they are sent (the admin form, replace_dns_records,
    place_order's default records) and return them normalised: type in upper case, host
    and targets in ASCII lower case, addresses in canonical form, ttl as an int. Cleaning
    cleaned records changes nothing. Raises ValidationError with one message per problem."""
    if isinstance(records, str | bytes | Mapping) or not isinstance(records, Iterable):
        raise ValidationError(["Give the records as a list."])
    records = list(records)
    if len(records) > MAX_DNS_RECORDS:
        raise ValidationError([f"At most {MAX_DNS_RECORDS} records can be sent at once."])
    cleaned, errors = [], []
    for number, record in enumerate(records, 1):
        try:
            cleaned.append(_clean_record(record))
        except ValidationError as exc:
            errors.extend(f"Record {number}: {message}" for message in exc.messages)
    if not errors:
        seen: set[tuple[str, str, str]] = set()
        by_host: dict[str, set[str]] = {}
        for number, record in enumerate(cleaned, 1):
            key = (record["host"], record["type"], record["value"])
            if key in seen:
                errors.append(f"Record {number}: the same record is given twice.")
            seen.add(key)
            by_host.setdefault(record["host"], set()).add(record["type"])
        for host, kinds in by_host.items():
            if "CNAME" in kinds and (len(kinds) > 1 or sum(
                    1 for r in cleaned if r["host"] == host) > 1):
                errors.append(f"“{host}” has a CNAME, so it can have no other record.")
    if errors:
        raise ValidationError(errors)
    return cleaned


# --- Token cache and redaction ---------------------------------------------------------

_mint_locks: dict[str, threading.Lock] = {}
_mint_locks_guard = threading.Lock()

# Secrets of the call in flight on this thread (a transfer's auth code), hidden in logs.
_in_flight_secrets: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "entri_in_flight_secrets", default=())


def _mint_lock(key: str) -> threading.Lock:
    with _mint_locks_guard:
        return _mint_locks.setdefault(key, threading.Lock())


def token_cache_key(base_url: str, application_id: str) -> str:
    """Shared by every provider instance for the same upstream and application; derived
    from neither the secret nor the token."""
    digest = hashlib.sha256(f"{base_url}\n{application_id}".encode()).hexdigest()[:32]
    return f"registrar:entri:jwt:{digest}"


class _RedactingHttpClient(HttpClient):
    """HttpClient that logs error bodies with our secrets cut out: an upstream that
    echoes the secret, the JWT or an auth code in an error must not put it in a log."""

    def __init__(self, *, redact: Callable[[str], str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._redact = redact

    def _log_body(self, level: int, method: str, path: str, status: int, text: str) -> None:
        super()._log_body(level, method, self._redact(path), status, self._redact(text))


def _normalise_base_url(base_url: str) -> str:
    base = (base_url or "").strip().rstrip("/")
    # The document calls ".../enterprise/sell/{version}" the base URL; accept it pasted.
    base = re.sub(r"/enterprise/sell/v\d+$", "", base)
    if not base:
        raise ConfigurationError("The Entri account has no base URL.", code="missing_base_url")
    return base


def _caller_name(name: str, *, min_labels: int = 2) -> str:
    try:
        return to_ascii(name, min_labels=min_labels)
    except ValidationError as exc:
        raise CallerError(exc.messages[0]) from None


def _caller_date(value: date | str | None, what: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise CallerError(f"{what} must be a date (YYYY-MM-DD).") from None


def _caller_email(email: str) -> str:
    try:
        validate_email(email)
    except ValidationError:
        raise CallerError("Give a valid e-mail address.") from None
    return email


def _caller_order_id(order_id: str) -> str:
    try:
        return str(uuid.UUID(str(order_id)))
    except ValueError:
        raise CallerError("An Entri order id is a UUID.") from None


@_guard_parsing
class EntriProvider(Provider):
    kind = "entri"
    # registry.build_provider passes ProviderAccount.options to adapters that say so.
    takes_options = True
    # Transfers in and out are order flows here, not registration operations: no
    # AUTH_CODE, PUSH_TRANSFER or TRANSFER_OUT_DECISION. Entri has no lock, privacy,
    # DNSSEC, host, process or contact endpoints.
    capabilities = frozenset({
        Capability.AUTO_RENEW, Capability.VERIFICATION_RESEND, Capability.DNS_RECORDS,
        Capability.ORDERS, Capability.AVAILABILITY, Capability.BILLING_LINK,
    })

    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        account_ref: str,
        timeout: float = 15.0,
        user_agent: str = "registrar-backoffice",
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] = time.sleep,
        label: str = "",
        options: Mapping[str, Any] | None = None,
        clock: Callable[[], float] = time.time,
        cache: Any = None,
    ) -> None:
        """`token` is the application *secret* (minted into JWTs, never sent as one);
        `account_ref` is the applicationId."""
        if not token or not account_ref:
            raise ConfigurationError(
                "The Entri account needs an application id and a secret.",
                code="missing_credentials")
        options = dict(options or {})
        lightning_mode = options.get("lightning_mode", False)
        if not isinstance(lightning_mode, bool):
            raise ConfigurationError("The Entri option lightning_mode must be true or false.",
                                     code="invalid_options")
        self.base_url = _normalise_base_url(base_url)
        self.application_id = account_ref
        self.lightning_mode = lightning_mode
        self.label = label or "entri"
        self._secret = token
        self._clock = clock
        if cache is None:
            from django.core.cache import cache as default_cache

            cache = default_cache
        self._cache = cache
        self._cache_key = token_cache_key(self.base_url, account_ref)
        self._lock = _mint_lock(self._cache_key)
        self._known_tokens: deque[str] = deque(maxlen=4)  # recent JWTs, to redact
        self._local_entry: dict[str, Any] | None = None  # when the shared cache fails
        self.http = _RedactingHttpClient(
            redact=self._redact,
            base_url=self.base_url,
            headers={"Accept": "application/json", "User-Agent": user_agent},
            timeout=timeout,
            parse_error=self._parse_error,
            transport=transport,
            retry=retry,
            sleep=sleep,
            provider_label=self.label,
        )

    def __repr__(self) -> str:
        return f"EntriProvider(label={self.label!r}, application_id={self.application_id!r})"

    def close(self) -> None:
        self.http.close()

    # --- secrets --------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        for secret in (self._secret, *self._known_tokens, *_in_flight_secrets.get()):
            if secret and secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def _parse_error(self, status: int, body: Any, text: str, request_id: str) -> ProviderError:
        error = parse_error(status, body, text, request_id)
        error.details["upstream_message"] = self._redact(error.details.get(
            "upstream_message", ""))
        return error

    @contextmanager
    def _hiding(self, *secrets: str) -> Iterator[None]:
        reset = _in_flight_secrets.set((*_in_flight_secrets.get(), *filter(None, secrets)))
        try:
            yield
        finally:
            _in_flight_secrets.reset(reset)

    # --- the JWT --------------------------------------------------------------------

    def _cache_read(self) -> dict[str, Any] | None:
        try:
            entry = self._cache.get(self._cache_key)
        except Exception as exc:  # a cache outage must not stop the registrar
            logger.warning("%s: token cache unavailable (%s)", self.label, type(exc).__name__)
            entry = self._local_entry
        return entry if isinstance(entry, dict) else None

    def _cache_write(self, entry: dict[str, Any] | None) -> None:
        self._local_entry = entry
        try:
            if entry is None:
                self._cache.delete(self._cache_key)
            else:
                # The cache's own expiry is a backstop; freshness is decided by `clock`.
                self._cache.set(self._cache_key, entry, timeout=TOKEN_REUSE_SECONDS)
        except Exception as exc:
            logger.warning("%s: token cache unavailable (%s)", self.label, type(exc).__name__)

    def _fresh_token(self) -> str | None:
        entry = self._cache_read()
        if entry is None:
            return None
        jwt, minted_at = entry.get("token"), entry.get("minted_at")
        if not isinstance(jwt, str) or not jwt or not isinstance(minted_at, int | float):
            return None
        if self._clock() - minted_at >= TOKEN_REUSE_SECONDS:
            return None
        if jwt not in self._known_tokens:
            self._known_tokens.append(jwt)
        return jwt

    def _mint(self) -> str:
        reply = self.http.request("POST", TOKEN_PATH, json_body={
            "applicationId": self.application_id, "secret": self._secret})
        body = reply.body if isinstance(reply.body, Mapping) else {}
        jwt = body.get("auth_token")
        if not isinstance(jwt, str) or not jwt.strip() or any(c.isspace() for c in jwt):
            raise MalformedResponse(code="malformed_token", status=reply.status)
        self._known_tokens.append(jwt)
        self._cache_write({"token": jwt, "minted_at": self._clock()})
        logger.info("%s: minted an Entri token for application %s", self.label,
                    self.application_id)
        return jwt

    def _token(self) -> str:
        jwt = self._fresh_token()
        if jwt:
            return jwt
        with self._lock:  # threads wait for one mint instead of each minting
            return self._fresh_token() or self._mint()

    def _renew_token(self, refused: str) -> str:
        """After a 401 with `refused`: reuse a token another worker minted meanwhile,
        else drop the refused one and mint."""
        with self._lock:
            jwt = self._fresh_token()
            if jwt and jwt != refused:
                return jwt
            self._cache_write(None)
            return self._mint()

    # --- plumbing ---------------------------------------------------------------------

    def _call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
              json_body: Any = None) -> Reply:
        """An API call with the JWT. A 401 means the call was not processed, so after
        minting a new token it is safe to send it once more, even a POST."""
        url = f"{API_PREFIX}{path}"
        jwt = self._token()
        try:
            return self.http.request(method, url, params=_clean(params), json_body=json_body,
                                     headers=self._headers(jwt))
        except AuthenticationFailed as error:
            if error.status != 401:
                raise
        logger.info("%s: Entri refused the token (401); minting a new one and retrying once",
                    self.label)
        jwt = self._renew_token(jwt)
        return self.http.request(method, url, params=_clean(params), json_body=json_body,
                                 headers=self._headers(jwt))

    def _headers(self, jwt: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {jwt}", "applicationId": self.application_id}

    @staticmethod
    def _domain_path(name: str, suffix: str = "") -> str:
        return f"/domains/{quote(_caller_name(name), safe='')}{suffix}"

    @staticmethod
    def _body(reply: Reply, *, allow_empty: bool = False) -> Mapping[str, Any]:
        if reply.body is None and allow_empty:
            return {}
        if not isinstance(reply.body, Mapping):
            raise TypeError("the answer is not a JSON object")
        return reply.body

    def _list_params(self, page: int, size: int, status: str | None, domain: str | None,
                     from_date: date | str | None, to_date: date | str | None
                     ) -> dict[str, Any]:
        if isinstance(page, bool) or not isinstance(page, int) or page < 0:
            raise CallerError("page counts from 0.")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise CallerError("size must be a positive number.")
        if status is not None and status not in ENTRI_STATUSES:
            raise CallerError(f"Unknown status “{status}”.")
        return {"page": page, "size": size, "status": status,
                "domain": domain.strip() if domain else None,
                "from_date": _caller_date(from_date, "from_date"),
                "to_date": _caller_date(to_date, "to_date")}

    def _page(self, path: str, params: dict[str, Any],
              parse: Callable[[Mapping[str, Any]], dict[str, Any]],
              on_malformed: OnMalformed | None = None) -> Page:
        body = self._body(self._call("GET", path, params=params))
        items = body["items"]
        if not isinstance(items, list):
            raise TypeError("items is not a list")
        next_page = body.get("nextPage")
        return Page(items=_parse_each(items, parse, on_malformed),
                    page=int(body.get("page", params["page"])),
                    next_page=None if next_page is None else int(next_page),
                    total=None if body.get("total") is None else int(body["total"]))

    def _iterate(self, path: str, params: dict[str, Any],
                 parse: Callable[[Mapping[str, Any]], dict[str, Any]],
                 on_malformed: OnMalformed | None = None) -> Iterator[dict]:
        page: int | None = params["page"]
        while page is not None:
            result = self._page(path, {**params, "page": page}, parse, on_malformed)
            yield from result.items
            if result.next_page is not None and result.next_page <= page:
                raise MalformedResponse("The registrar's paging went backwards.",
                                        code="malformed_paging")
            page = result.next_page

    def ping(self) -> None:
        self.list_domains(size=1)

    # --- domains: search ---------------------------------------------------------------

    def check_availability(self, domain: str) -> dict[str, Any]:
        """{"domain", "available", "availability" (Entri's word), "create_price",
        "renewal_price"}: the keys DomainApiProvider uses where the meaning is shared."""
        body = self._body(self._call("GET", "/domains/availability",
                                     params={"domain": _caller_name(domain)}))
        availability = str(body["availability"])
        return {
            "domain": _upstream_name(body["domain"]),
            # Silent: only "AVAILABLE" is shown; anything else is read as not available.
            "available": availability.upper() == "AVAILABLE",
            "availability": availability,
            "create_price": _money(body.get("price")),
            "renewal_price": _money(body.get("renewalPrice")),
        }

    def suggestions(self, domain: str, tlds: Sequence[str] | None = ("online", "shop")
                    ) -> list[dict[str, Any]]:
        """[{"domain", "price", "renewal_price"}]. `tlds` defaults to the document's own
        default (online, shop); None or empty sends none and leaves the choice to Entri."""
        query: dict[str, str] = {"domain": _caller_name(domain, min_labels=1)}
        if isinstance(tlds, str):
            tlds = tlds.split(",")
        if tlds:
            try:
                query["tlds"] = ",".join(normalise_tld(tld) for tld in tlds)
            except ValidationError as exc:
                raise CallerError(exc.messages[0]) from None
        # Built by hand so the commas stay literal, as in the document (tlds=com,store).
        path = f"/domains/suggestions?{urlencode(query, safe=',')}"
        body = self._body(self._call("GET", path))
        return [{"domain": _upstream_name(s["domain"]), "price": _money(s.get("price")),
                 "renewal_price": _money(s.get("renewalPrice"))}
                for s in body["suggestions"]]

    # --- domains: management -----------------------------------------------------------

    def list_domains(self, page: int = 0, size: int = 10, status: str | None = None,
                     domain: str | None = None, from_date: date | str | None = None,
                     to_date: date | str | None = None) -> Page:
        """One page of domains, each as parse_domain's Registration field values."""
        params = self._list_params(page, size, status, domain, from_date, to_date)
        return self._page("/domains", params, parse_domain)

    def iter_domains(self, *, size: int = 100, status: str | None = None,
                     domain: str | None = None, from_date: date | str | None = None,
                     to_date: date | str | None = None) -> Iterator[dict[str, Any]]:
        """Every domain, page by page (following nextPage), without holding them all."""
        params = self._list_params(0, size, status, domain, from_date, to_date)
        return self._iterate("/domains", params, parse_domain)

    def get_domain(self, name: str) -> dict[str, Any]:
        return parse_domain(self._body(self._call("GET", self._domain_path(name))))

    def set_auto_renew(self, name: str, auto_renew: bool, period: int = 12) -> Done:
        """`period` is sent as given; the document's example is 12 and it names no unit
        (months, presumably: a 12-year renewal would be beyond any registry's limit)."""
        if isinstance(period, bool) or not isinstance(period, int) or period < 1:
            raise CallerError("period is a positive number of months.")
        body = self._body(self._call("PUT", self._domain_path(name, "/auto-renew"),
                                     json_body={"autoRenew": bool(auto_renew),
                                                "period": period}), allow_empty=True)
        return Done(changes={"auto_renew": bool(auto_renew)}, body=dict(body))

    def resend_holder_verification(self, name: str) -> str:
        """Entri's message, like DomainApiProvider's status string."""
        body = self._body(self._call("POST", self._domain_path(name, "/resend-verification")),
                          allow_empty=True)
        return str(body.get("message", ""))

    def get_dns_records(self, name: str) -> list[dict[str, Any]]:
        records = self._call("GET", self._domain_path(name, "/dns-records")).body
        if not isinstance(records, list) or not all(isinstance(r, Mapping) for r in records):
            raise TypeError("dns-records is not a list of records")
        return [dict(record) for record in records]

    def replace_dns_records(self, name: str, records: Iterable[Mapping[str, Any]]) -> str:
        """PUT every record of the zone (validated first: ValidationError before any
        request). Returns Entri's message."""
        path = self._domain_path(name, "/dns-records")
        cleaned = clean_dns_records(records)
        body = self._body(self._call("PUT", path, json_body={"dns_records": cleaned}),
                          allow_empty=True)
        return str(body.get("message", ""))

    def transfer_in(self, name: str, *, authorization_code: str,
                    contact: Mapping[str, Any]) -> TransferInfo:
        """Start a transfer from another registrar. The authorization (EPP) code is
        required (refused before sending when empty) and never logged."""
        if not isinstance(authorization_code, str) or not authorization_code.strip():
            raise CallerError("The authorization code is required to transfer a domain in.")
        if not isinstance(contact, Mapping) or not contact:
            raise CallerError("Give the contact details for the transferred domain.")
        ascii_name = _caller_name(name)
        with self._hiding(authorization_code):
            body = self._body(self._call(
                "POST", self._domain_path(ascii_name, "/transfers/in"),
                json_body={"domain": ascii_name, "authorizationCode": authorization_code,
                           "contactDetails": dict(contact)}))
        return TransferInfo(domain=_upstream_name(body["domain"]),
                            transfer_id=str(body.get("transferId") or ""),
                            status=_order_status(body["transferStatus"]),
                            transfer_type=str(body.get("transferType") or ""))

    def transfer_out(self, name: str) -> TransferInfo:
        """Start a transfer to another registrar; the answer carries the auth code."""
        ascii_name = _caller_name(name)
        body = self._body(self._call("POST", self._domain_path(ascii_name, "/transfers/out"),
                                     json_body={"domain": ascii_name}))
        return TransferInfo(domain=_upstream_name(body["domain"]),
                            transfer_id=str(body.get("transferId") or ""),
                            status=_order_status(body["transferStatus"]),
                            transfer_type=str(body.get("transferType") or ""),
                            auth_code=str(body.get("authCode") or ""))

    # --- orders -------------------------------------------------------------------------

    def validate_contact(self, contact: Mapping[str, Any]) -> ContactValidation:
        if not isinstance(contact, Mapping) or not contact:
            raise CallerError("Give the contact to validate.")
        body = self._body(self._call("POST", "/domains/contacts/validate",
                                     json_body=dict(contact)))
        content = body["content"]
        if not isinstance(content, Mapping):
            raise TypeError("content is not an object")
        return ContactValidation(message=str(body.get("message", "")),
                                 upstream_id=str(content["id"]), contact=dict(content))

    def list_orders(self, page: int = 0, size: int = 10, status: str | None = None,
                    domain: str | None = None, from_date: date | str | None = None,
                    to_date: date | str | None = None) -> Page:
        """One page of orders, each as parse_order's Order field values."""
        params = self._list_params(page, size, status, domain, from_date, to_date)
        return self._page("/orders", params, parse_order)

    def iter_orders(self, *, size: int = 100, status: str | None = None,
                    domain: str | None = None, from_date: date | str | None = None,
                    to_date: date | str | None = None,
                    on_malformed: OnMalformed | None = None) -> Iterator[dict[str, Any]]:
        """Every page of orders. An order of the wrong shape raises MalformedResponse,
        or, with `on_malformed`, is handed to it with the parse error and skipped."""
        params = self._list_params(0, size, status, domain, from_date, to_date)
        return self._iterate("/orders", params, parse_order, on_malformed)

    def place_order(self, *, domain: str, email: str, user_id: str | None = None,
                    contact: Mapping[str, Any] | None = None,
                    default_dns_records: Iterable[Mapping[str, Any]] | None = None
                    ) -> dict[str, Any]:
        """Order a domain. Without lightning mode (ProviderAccount.options) the WHOIS
        contact is required and refused before sending when missing; with it, Entri uses
        the application's default contact and ignores one sent, so none is sent."""
        body: dict[str, Any] = {"domain": _caller_name(domain), "email": _caller_email(email)}
        if user_id is not None:
            body["userId"] = str(user_id)
        if not self.lightning_mode:
            if not isinstance(contact, Mapping) or not contact:
                raise CallerError("The WHOIS contact is required: lightning mode is off for "
                                  "this Entri application.")
            body["contactDetails"] = dict(contact)
        if default_dns_records is not None:
            body["defaultDnsRecords"] = clean_dns_records(default_dns_records)
        return parse_order(self._body(self._call("POST", "/orders", json_body=body)))

    def get_order(self, order_id: str) -> dict[str, Any]:
        path = f"/orders/{_caller_order_id(order_id)}"
        return parse_order(self._body(self._call("GET", path)))

    def order_status(self, order_id: str) -> OrderStatus:
        """Entri "checks and updates" the status on this call (it may ask the registry)."""
        path = f"/orders/{_caller_order_id(order_id)}/status"
        return _order_status(self._body(self._call("GET", path))["status"])

    # --- billing ------------------------------------------------------------------------

    def billing_link(self, *, email: str, return_url: str) -> str:
        """A short-lived, signed link to the customer's Entri billing portal: redirect to
        it at once; do not store or log it."""
        try:
            URLValidator(schemes=["http", "https"])(return_url)
        except ValidationError:
            raise CallerError("The return URL must be an absolute http(s) URL.") from None
        body = self._body(self._call("GET", "/billing/link", params={
            "email": _caller_email(email), "returnUrl": return_url}))
        url = body["url"]
        if not isinstance(url, str) or not url.startswith("https://"):
            raise ValueError("the billing link is not an https URL")
        return url
