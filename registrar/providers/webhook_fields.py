"""Checks on the fields of a pushed event, made before anything of it is stored.

A webhook is written by someone outside: each value is checked against what the
columns it lands in can hold and what the back-office can later show, and a refusal
names the field in the sender's own words (its JSON path), so the sender can fix it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_datetime

from registrar.domain_names import to_ascii
from registrar.money import validate_currency

#: An amount in minor units lands in a PositiveBigIntegerField.
MAX_MINOR = 2**63 - 1
#: Registrations are 1 to 10 years (the order's check constraint).
MIN_YEARS, MAX_YEARS = 1, 10
#: Event times (created, updated, placed) come from the past: none before the
#: registries' modern era, none more than a day ahead (clock skew).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
EVENT_TIME_AHEAD = timedelta(days=1)
#: An expiry is in the future, at most the longest registration ahead (plus slack).
EXPIRY_AHEAD = timedelta(days=366 * (MAX_YEARS + 1))


class InvalidField(ValueError):
    """One field of an event is refused: `field` is its path in the body."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def text(value: Any, field: str, *, max_length: int, required: bool = True,
         allow_int: bool = False) -> str:
    """A string (or, with `allow_int`, an integer) of at most `max_length` characters."""
    if value is None or value == "":
        if required:
            raise InvalidField(field, f"{field} is required.")
        return ""
    if isinstance(value, bool) or not (isinstance(value, str)
                                       or (allow_int and isinstance(value, int))):
        raise InvalidField(field, f"{field} must be a string.")
    result = str(value) if not isinstance(value, int) or abs(value) < 10**max_length else ""
    if not result or len(result) > max_length:
        raise InvalidField(field, f"{field} is at most {max_length} characters long.")
    return result


def minor_amount(value: Any, field: str) -> int:
    """A whole amount in minor units that fits the money columns."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidField(field, f"{field} must be a whole number of minor units (cents).")
    if not 0 <= value <= MAX_MINOR:
        raise InvalidField(field, f"{field} must be between 0 and {MAX_MINOR}.")
    return value


def years(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not (
            MIN_YEARS <= value <= MAX_YEARS):
        raise InvalidField(field, f"{field} must be a whole number of years from {MIN_YEARS} "
                                  f"to {MAX_YEARS}.")
    return value


def currency(value: Any, field: str) -> str:
    try:
        return validate_currency(value)
    except ValueError:
        raise InvalidField(field, f"{field} must be an ISO 4217 currency code such as USD.") \
            from None


def domain(value: Any, field: str) -> str:
    """The name in its ASCII form, refused unless it is a valid domain name."""
    if not isinstance(value, str):
        raise InvalidField(field, f"{field} must be a domain name.")
    try:
        return to_ascii(value)
    except ValidationError:
        raise InvalidField(field, f"{field} is not a valid domain name.") from None


def timestamp(value: Any, field: str, *, expiry: bool = False,
              now: datetime | None = None) -> datetime | None:
    """An ISO 8601 time inside the window the back-office accepts (None when absent):
    an event time from 2000-01-01 to a day from now, an expiry up to 11 years ahead."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidField(field, f"{field} must be an ISO 8601 date and time.")
    try:
        parsed = parse_datetime(value)
    except (ValueError, OverflowError):
        parsed = None
    if parsed is None:
        raise InvalidField(field, f"{field} must be an ISO 8601 date and time.")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    latest = now + (EXPIRY_AHEAD if expiry else EVENT_TIME_AHEAD)
    try:
        inside = EARLIEST <= parsed <= latest
    except OverflowError:
        inside = False
    if not inside:
        raise InvalidField(field, f"{field} must be between 2000-01-01 and "
                                  f"{latest:%Y-%m-%d}.")
    return parsed
