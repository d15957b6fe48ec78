"""Checks on the fields of a pushed event, made before anything of it is stored.

A webhook is written by someone outside: each value is checked against what the
columns it lands in can hold and what the back-office can later show, and a refusal
names the field in the sender's own words (its JSON path), so the sender can fix it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError

from registrar.values.amounts import validate_minor
from registrar.values.currencies import validate_currency
from registrar.values.dates import parse_moment
from registrar.values.names import to_ascii
from registrar.values.text import text_problem

#: Registrations are 1 to 10 years (the order's check constraint).
MIN_YEARS, MAX_YEARS = 1, 10


class InvalidField(ValueError):
    """One field of an event is refused: `field` is its path in the body."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def text(value: Any, field: str, *, max_length: int, required: bool = True,
         allow_int: bool = False, multiline: bool = False) -> str:
    """A string (or, with `allow_int`, an integer) of at most `max_length` characters;
    `multiline` (a reason, a note) lets it hold tabs and line breaks."""
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
    problem = text_problem(result, multiline=multiline)
    if problem:
        raise InvalidField(field, f"{field}: {problem}")
    return result


def minor_amount(value: Any, field: str) -> int:
    """A whole amount in minor units that fits the money columns."""
    try:
        return validate_minor(value)
    except ValidationError as exc:
        raise InvalidField(field, f"{field}: {exc.messages[0]}") from None


def years(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not (
            MIN_YEARS <= value <= MAX_YEARS):
        raise InvalidField(field, f"{field} must be a whole number of years from {MIN_YEARS} "
                                  f"to {MAX_YEARS}.")
    return value


def currency(value: Any, field: str) -> str:
    try:
        return validate_currency(value)
    except ValidationError:
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
    try:
        return parse_moment(value, expiry=expiry, now=now)
    except ValidationError as exc:
        raise InvalidField(field, f"{field} must be {exc.messages[0][0].lower()}"
                                  f"{exc.messages[0][1:]}") from None
