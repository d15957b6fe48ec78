"""Row ids as they arrive in URLs, query strings and forms: typed by hand, pasted, or
forged. Parsed here, once, so that a malformed one is "no such row" everywhere rather
than an error deep in the database driver."""

from __future__ import annotations

import re
from typing import Any

#: The largest value a BigAutoField (and SQLite's INTEGER) holds.
PK_MAX = 2**63 - 1

# ASCII only: int() and str.isdigit() also accept digits of other scripts ("١٢" is 12),
# which no link the back-office writes contains.
_ID = re.compile(r"[0-9]{1,19}")


def parse_pk(value: Any) -> int | None:
    """`value` as a row id, or None unless it is ASCII digits naming a positive id within
    the BigAutoField range (no sign, spaces, exponent or separators)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value <= PK_MAX else None
    if not isinstance(value, str) or not _ID.fullmatch(value):
        return None
    number = int(value)
    return number if 0 < number <= PK_MAX else None


def parse_int(value: Any, low: int = -PK_MAX - 1, high: int = PK_MAX) -> int | None:
    """`value` as an integer within [low, high] (an optional leading minus, ASCII digits),
    or None."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    if isinstance(value, str):
        if not re.fullmatch(r"-?[0-9]{1,19}", value):
            return None
        value = int(value)
    return value if low <= value <= high else None
