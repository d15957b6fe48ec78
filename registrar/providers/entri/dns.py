"""Entri's DNS records (document 000): checked before anything is sent, so a zone is
never replaced with records the registry or Entri would refuse (or take half of)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError

from registrar.values.names import to_ascii

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
