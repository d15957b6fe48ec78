"""Dates and times: ISO 8601, inside the window the back-office can hold and show.

Python's dates end in the year 9999, so a stored 9999-12-31 breaks every page that adds
a day or a month to it (the revenue chart's buckets). Times are therefore kept to what
a registrar meets: nothing before 2000-01-01 (before the registries' modern era), event
times no more than a day ahead (clock skew), expiries at most the longest registration
ahead, with slack.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_date, parse_datetime

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MOMENT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}")
EVENT_TIME_AHEAD = timedelta(days=1)
#: Registrations run 1 to 10 years: an expiry is at most 11 years ahead.
EXPIRY_AHEAD = timedelta(days=366 * 11)


def latest(*, expiry: bool, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) + (EXPIRY_AHEAD if expiry else EVENT_TIME_AHEAD)


def within_window(moment: datetime, *, expiry: bool = False,
                  now: datetime | None = None) -> datetime:
    """`moment` (naive is read as UTC) when it falls in the window, else ValidationError."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    end = latest(expiry=expiry, now=now)
    try:
        inside = EARLIEST <= moment <= end
    except OverflowError:
        inside = False
    if not inside:
        raise ValidationError(f"Between 2000-01-01 and {end:%Y-%m-%d}.", code="out_of_window")
    return moment


def parse_moment(value: object, *, expiry: bool = False,
                 now: datetime | None = None) -> datetime:
    """An ISO 8601 date and time string inside the window."""
    parsed = None
    # The extended form with a time ("2026-12-01T09:30:00Z"): "20261201" is a date, and
    # fromisoformat's other spellings would be second forms of the same moment.
    if isinstance(value, str) and len(value) <= 64 and _MOMENT.match(value):
        try:
            parsed = parse_datetime(value)
        except (ValueError, OverflowError):
            parsed = None
    if parsed is None:
        raise ValidationError("An ISO 8601 date and time, e.g. 2026-12-01T09:30:00Z.",
                              code="not_datetime")
    return within_window(parsed, expiry=expiry, now=now)


def parse_day(value: object, *, ahead: timedelta = EXPIRY_AHEAD,
              today: date | None = None) -> date:
    """An ISO 8601 date (a filter's "from" or "to") from 2000-01-01 to `ahead` from now."""
    parsed = None
    # Strictly YYYY-MM-DD in ASCII digits: Django's parse_date also reads "2026-1-1" and
    # other scripts' digits, which would be a second spelling of the same day.
    if isinstance(value, str) and _DAY.fullmatch(value.strip()):
        try:
            parsed = parse_date(value.strip())
        except (ValueError, OverflowError):
            parsed = None
    if parsed is None:
        raise ValidationError("A date as YYYY-MM-DD, e.g. 2026-12-01.", code="not_date")
    today = today or datetime.now(UTC).date()
    if not EARLIEST.date() <= parsed <= today + ahead:
        raise ValidationError(f"Between 2000-01-01 and {today + ahead:%Y-%m-%d}.",
                              code="out_of_window")
    return parsed
