"""Dates and times: ISO 8601, inside the window the back-office can hold and show.

Python's dates end in the year 9999, so a stored 9999-12-31 breaks every page that adds
a day or a month to it (the revenue chart's buckets). Times are therefore kept to what
a registrar meets: nothing before 2000-01-01 (before the registries' modern era), event
times no more than a day ahead (clock skew), expiries at most the longest registration
ahead, with slack.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_date, parse_datetime

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
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
    if isinstance(value, str) and len(value) <= 64:
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
    if isinstance(value, str) and len(value) <= 32:
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
