"""Money helpers: amounts are integer minor units plus an ISO 4217 currency. Which codes
exist and their minor units are `registrar.values.currencies`; ranges are
`registrar.values.amounts`."""

from __future__ import annotations

from decimal import Decimal

from registrar.values.currencies import (  # noqa: F401 (the money API in one import)
    exponent,
    is_currency,
    non_default_exponents,
    validate_currency,
)


def to_decimal(amount_minor: int, currency: str) -> Decimal:
    """12345, 'EUR' -> Decimal('123.45'): exact, for exports and sums."""
    return Decimal(amount_minor).scaleb(-exponent(currency))


def format_minor(amount_minor: int | None, currency: str) -> str:
    if amount_minor is None:
        return "—"
    return f"{to_decimal(amount_minor, currency)} {currency}"
