"""Phone numbers: E.164, checked against the numbering plan by `phonenumbers`.

The canonical form, stored and sent to the Domain Registration API and Domainee, is the
EPP dialect `+CC.NUMBER` (RFC 5733); Saleshandy wants plain E.164 (`+CCNUMBER`).
`in_dialect` turns the one into the other, so both upstreams get the same number.
"""

from __future__ import annotations

import re
from typing import Literal

import phonenumbers
from django.core.exceptions import ValidationError

# The wire form the upstream documents use: +<country code>.<subscriber number>
PHONE_WIRE_FORM = re.compile(r"^\+[1-9][0-9]{0,2}\.[0-9]{4,14}$")
Dialect = Literal["dotted", "plain"]


def normalise_phone(value: str) -> str:
    """Return `value` as `+CC.NUMBER`, or raise ValidationError.

    Accepts any E.164 spelling staff paste ("+31 20 123 4567", "+31.201234567"), but
    only international numbers: without the leading + the country is a guess.
    """
    raw = (value or "").strip()
    if not raw:
        raise ValidationError("Enter a phone number.", code="required")
    if not raw.startswith("+"):
        raise ValidationError(
            "Enter the phone number in international form, starting with + and the country "
            "code, e.g. +31.201234567.",
            code="phone_not_international",
        )
    if re.search(r"[A-Za-z]", raw):
        raise ValidationError("A phone number cannot contain letters.", code="phone_letters")
    if len(raw) > 64:
        raise ValidationError("The phone number is too long.", code="phone_too_long")
    try:
        parsed = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(
            "“%(value)s” is not a phone number.", code="phone_invalid", params={"value": value}
        ) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(
            "“%(value)s” is not a valid phone number for its country code.",
            code="phone_invalid",
            params={"value": value},
        )
    # From the E.164 form, not `national_number`: that drops the leading zero Italian
    # numbers keep (+39 06 ...), which would send another number.
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    wire = f"+{parsed.country_code}.{e164[len(str(parsed.country_code)) + 1:]}"
    if not PHONE_WIRE_FORM.match(wire):
        raise ValidationError("The phone number is too long.", code="phone_too_long")
    return wire


def validate_phone(value: str) -> None:
    normalise_phone(value)


def in_dialect(value: str, dialect: Dialect) -> str:
    """A valid number in the upstream's dialect: "dotted" `+1.5551234567`, or "plain"
    E.164 `+15551234567`."""
    dotted = normalise_phone(value)
    return dotted if dialect == "dotted" else dotted.replace(".", "", 1)
