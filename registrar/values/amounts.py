"""Money amounts: integer minor units (cents), within the range of the column they land in.

Amounts are typed by staff in major units ("4.99") and stored in minor units (499) with
the currency's own number of decimals (`registrar.values.currencies.exponent`); an amount
that has more decimals than the currency has, or that the column cannot hold, is refused.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError

from registrar.values.currencies import exponent

#: PositiveBigIntegerField, the type of every money column: PostgreSQL's bigint.
MAX_MINOR = 2**63 - 1
#: The most an operator may type for one order or fee: far above any real price, far below
#: what the sums over a million orders could overflow.
MAX_TYPED_MINOR = 10**12


def validate_minor(value: object, *, maximum: int = MAX_MINOR, minimum: int = 0) -> int:
    """A whole number of minor units from `minimum` to `maximum`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError("A whole number of minor units (cents).", code="not_minor")
    if not minimum <= value <= maximum:
        raise ValidationError(f"Between {minimum} and {maximum} minor units.",
                              code="out_of_range")
    return value


def to_minor(amount: object, currency: str, *, maximum: int = MAX_TYPED_MINOR) -> int:
    """"4.99", "EUR" -> 499. Refuses what is not a plain decimal number (no "1e9", "NaN" or
    "4,99"), negative amounts, more decimals than the currency has, and amounts above
    `maximum` minor units."""
    text = str(amount).strip() if amount is not None else ""
    if not text or not all((char.isdigit() and char.isascii()) or char == "." for char in text) \
            or text.count(".") > 1:
        raise ValidationError("Enter an amount such as 4.99, with a dot for decimals.",
                              code="not_amount")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValidationError("Enter an amount such as 4.99.", code="not_amount") from None
    places = exponent(currency)
    minor = value.scaleb(places)
    if minor != minor.to_integral_value():
        raise ValidationError(f"{currency} has {places} decimal{'s' if places != 1 else ''}; "
                              f"{text} has more.", code="too_precise")
    return validate_minor(int(minor), maximum=maximum)
