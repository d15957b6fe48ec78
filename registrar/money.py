"""Money helpers: amounts are integer minor units plus an ISO 4217 currency."""

from __future__ import annotations

from decimal import Decimal

# The ISO 4217 list itself, so a look-alike code ("USA", a country) is not taken for one.
import pycountry

# ISO 4217 currencies whose minor unit is not 1/100. Everything else has two decimals.
_EXPONENT = {"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0, "BHD": 3, "KWD": 3, "OMR": 3,
             "JOD": 3, "TND": 3}


def exponent(currency: str) -> int:
    return _EXPONENT.get(currency.upper(), 2)


def non_default_exponents() -> dict[int, list[str]]:
    """The currencies whose minor unit is not 1/100, grouped by exponent."""
    groups: dict[int, list[str]] = {}
    for code, exp in sorted(_EXPONENT.items()):
        groups.setdefault(exp, []).append(code)
    return groups


def to_decimal(amount_minor: int, currency: str) -> Decimal:
    """12345, 'EUR' -> Decimal('123.45'): exact, for exports and sums."""
    return Decimal(amount_minor).scaleb(-exponent(currency))


def format_minor(amount_minor: int | None, currency: str) -> str:
    if amount_minor is None:
        return "—"
    return f"{to_decimal(amount_minor, currency)} {currency}"


def is_currency(code: object) -> bool:
    """True for an ISO 4217 alphabetic code in upper case ("EUR"); "USA" (a country) and
    "eur" are not."""
    if not isinstance(code, str) or len(code) != 3 or not code.isascii() or not code.isupper():
        return False
    return pycountry.currencies.get(alpha_3=code) is not None


def validate_currency(code: object) -> str:
    """`code` as an ISO 4217 code, or ValueError saying why not."""
    if not is_currency(code):
        raise ValueError(f"{str(code)[:16]!r} is not an ISO 4217 currency code such as EUR.")
    return str(code)
