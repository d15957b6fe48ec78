"""Document 002's purchase rules, checked before anything is sent: the request body, or
every problem at once keyed by our field names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

from contacts.validation import collect_contact_fields
from registrar.providers.base import Money
from registrar.providers.domainee.wire import PURCHASE_CURRENCY
from registrar.providers.errors import CallerError
from registrar.values.names import to_ascii

MIN_YEARS, MAX_YEARS = 1, 10
# Document 002's defaults, sent explicitly (see clean_purchase).
DEFAULT_WHOIS_PRIVACY = True
DEFAULT_AUTO_RENEW = False
DEFAULT_KEEP_HOST = False
# Order.customer_reference holds 64 characters; a longer reference could not be matched
# against the echo on reads and webhooks. The document sets no limit of its own.
CUSTOMER_REFERENCE_MAX = 64
# Our contact field -> Domainee registrant field (organization is sent when given).
REGISTRANT_FIELDS = {
    "first_name": "firstName",
    "last_name": "lastName",
    "email": "email",
    "phone": "phone",
    "street_address": "address1",
    "city": "city",
    "state": "stateOrProvince",
    "post_code": "postalCode",
    "country": "country",
    "organization": "organization",
}
# Required by document 002 beyond what clean_contact_fields already requires
# (first_name, last_name, email, phone, country).
REGISTRANT_ALSO_REQUIRED = ("street_address", "city", "state", "post_code")
AUTO_CONNECT_KEYS = frozenset({"origin_url", "keep_host"})




def clean_hostname(hostname: object) -> str:
    """A hostname as Domainee takes it (ASCII, lowercased), or ValidationError keyed
    "hostname", sending nothing."""
    if not isinstance(hostname, str):
        raise ValidationError({"hostname": ["Enter the domain name as text."]})
    try:
        return to_ascii(hostname)
    except ValidationError as exc:
        raise ValidationError({"hostname": exc.messages}) from None


def _add(errors: dict[str, list[str]], key: str, *messages: str) -> None:
    errors.setdefault(key, []).extend(messages)


def _registrant(registrant: Mapping[str, Any], errors: dict[str, list[str]]) -> dict[str, str]:
    """Our contact fields -> document 002's registrant object; errors keyed by our names."""
    given = {name: registrant[name] for name in REGISTRANT_FIELDS if name in registrant}
    cleaned = collect_contact_fields(
        given, errors, also_required=REGISTRANT_ALSO_REQUIRED,
        required_message="Domainee requires this field for the registrant.")
    if errors:
        return {}
    # address2 stays unsent: our contacts hold one street line (control characters,
    # newlines included, are refused by clean_contact_fields).
    return {REGISTRANT_FIELDS[name]: cleaned[name] for name in REGISTRANT_FIELDS
            if cleaned.get(name)}


def check_registrant(registrant: Mapping[str, Any]) -> None:
    """The registrant as document 002 takes it, or ValidationError keyed by our contact
    field names: the same rules the purchase applies, for the quote to apply first."""
    errors: dict[str, list[str]] = {}
    _registrant(registrant, errors)
    if errors:
        raise ValidationError({name: messages for name, messages in errors.items()})


def _auto_connect(auto_connect: Mapping[str, Any], errors: dict[str, list[str]]) -> dict:
    unknown = set(auto_connect) - AUTO_CONNECT_KEYS
    if unknown:
        raise CallerError(f"auto_connect takes origin_url and keep_host, not {sorted(unknown)}.")
    keep_host = auto_connect.get("keep_host", DEFAULT_KEEP_HOST)
    if not isinstance(keep_host, bool):
        raise CallerError("auto_connect keep_host must be True or False.")
    origin = str(auto_connect.get("origin_url") or "").strip()
    try:
        parts = urlsplit(origin)
        host = parts.hostname
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        host = None
    if not host or parts.scheme != "https" or any(ch.isspace() for ch in origin):
        _add(errors, "auto_connect",
             "The origin URL must be an https:// address, e.g. https://site.example.app.")
        return {}
    return {"originUrl": origin, "keepHost": keep_host}


def clean_purchase(
    *,
    hostname: str,
    years: int,
    registrant: Mapping[str, Any],
    max_total: Money,
    customer_reference: str,
    enable_whois_privacy: bool | None = None,
    auto_renew: bool | None = None,
    auto_connect: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Document 002's request body, or ValidationError with every problem at once
    (a dict keyed by our names: hostname, years, max_total, customer_reference,
    auto_connect, and the contact fields). Pure: nothing is sent.

    Privacy and auto-renew are always sent, None meaning the documented defaults
    (privacy on, auto-renew off): the request then says exactly what staff bought, and
    a change of Domainee's defaults cannot change it silently. Arguments of the wrong
    type (not a bool, not Money, an unknown auto_connect key) are bugs: CallerError.
    """
    errors: dict[str, list[str]] = {}
    for name, flag in (("enable_whois_privacy", enable_whois_privacy),
                       ("auto_renew", auto_renew)):
        if flag is not None and not isinstance(flag, bool):
            raise CallerError(f"{name} must be True, False or None.")
    if not isinstance(max_total, Money):
        raise CallerError("max_total must be a Money.")

    ascii_name = ""
    if not isinstance(hostname, str):
        _add(errors, "hostname", "Enter the domain name as text.")
    else:
        try:
            ascii_name = to_ascii(hostname)
        except ValidationError as exc:
            _add(errors, "hostname", *exc.messages)
    if (isinstance(years, bool) or not isinstance(years, int)
            or not MIN_YEARS <= years <= MAX_YEARS):
        _add(errors, "years", f"Register for a whole number of years from {MIN_YEARS} "
                              f"to {MAX_YEARS}.")
    if max_total.currency != PURCHASE_CURRENCY:
        _add(errors, "max_total", f"Domainee charges in {PURCHASE_CURRENCY}; the maximum "
                                  f"total is in {max_total.currency or 'no currency'}.")
    elif (isinstance(max_total.amount_minor, bool) or not isinstance(max_total.amount_minor, int)
          or max_total.amount_minor <= 0):
        _add(errors, "max_total", "The maximum total must be a positive amount in cents.")
    reference = customer_reference.strip() if isinstance(customer_reference, str) else ""
    if not reference:
        _add(errors, "customer_reference", "Give the customer reference to send along.")
    elif len(reference) > CUSTOMER_REFERENCE_MAX or not reference.isprintable():
        _add(errors, "customer_reference",
             f"The customer reference must be at most {CUSTOMER_REFERENCE_MAX} printable "
             "characters.")
    if not isinstance(registrant, Mapping):
        raise CallerError("registrant must be a mapping of contact fields.")
    wire_registrant = _registrant(registrant, errors)
    connect = _auto_connect(auto_connect, errors) if auto_connect is not None else None
    if errors:
        raise ValidationError({name: messages for name, messages in errors.items()})

    body: dict[str, Any] = {
        "hostname": ascii_name,
        "years": years,
        "registrant": wire_registrant,
        "enableWhoisPrivacy": DEFAULT_WHOIS_PRIVACY if enable_whois_privacy is None
        else enable_whois_privacy,
        "autoRenew": DEFAULT_AUTO_RENEW if auto_renew is None else auto_renew,
        # Always sent: without it a premium price would be charged without a question.
        "maxTotalCents": max_total.amount_minor,
        "customerReference": reference,
    }
    if connect is not None:
        body["autoConnect"] = connect
    return body


