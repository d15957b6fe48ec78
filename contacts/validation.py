"""Validation of contact fields the registries care about, before anything leaves."""

from __future__ import annotations

import re

import phonenumbers
from django.core.exceptions import ValidationError
from django_countries import countries

# The wire form the upstream documents use: +<country code>.<subscriber number>
PHONE_WIRE_FORM = re.compile(r"^\+[1-9][0-9]{0,2}\.[0-9]{4,14}$")


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
    wire = f"+{parsed.country_code}.{parsed.national_number}"
    if not PHONE_WIRE_FORM.match(wire):
        raise ValidationError("The phone number is too long.", code="phone_too_long")
    return wire


def validate_phone(value: str) -> None:
    normalise_phone(value)


def validate_country(value: str) -> None:
    """ISO 3166-1 alpha-2, upper case, and a country that exists."""
    if not re.fullmatch(r"[A-Z]{2}", value or ""):
        raise ValidationError(
            "Use the two-letter ISO 3166-1 country code in capitals, e.g. NL or US.",
            code="country_format",
        )
    if value not in countries:
        raise ValidationError(
            "“%(value)s” is not an ISO 3166-1 country code.",
            code="country_unknown",
            params={"value": value},
        )
