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
#: The most any one amount may be, whoever sends it (staff, a webhook, a command): 10^12
#: minor units, ten thousand million in the currency, far above any price a registrar
#: meets, and far enough below MAX_MINOR that the sums of an order's ledger or of a
#: million orders never overflow a bigint (SQLite raises; PostgreSQL would cast back).
MAX_AMOUNT_MINOR = 10**12


def validate_minor(value: object, *, maximum: int = MAX_AMOUNT_MINOR, minimum: int = 0) -> int:
    """A whole number of minor units from `minimum` to `maximum`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError("A whole number of minor units (cents).", code="not_minor")
    if not minimum <= value <= maximum:
        raise ValidationError(f"Between {minimum} and {maximum} minor units.",
                              code="out_of_range")
    return value


def parse_major(amount: object, *, places: int, maximum: int = MAX_AMOUNT_MINOR) -> Decimal:
    """"4.99" -> Decimal("4.99"), for an amount with at most `places` decimals whose
    minor units stay within `maximum`. Refuses what is not a plain decimal number (no
    "1e9", "NaN", "+5", "1_000", "4,99" or other scripts' digits) and negative amounts."""
    text = str(amount).strip() if amount is not None else ""
    if not text or text.count(".") > 1 or not all(
            (char.isascii() and char.isdigit()) or char == "." for char in text):
        raise ValidationError("Enter an amount such as 4.99, with a dot for decimals.",
                              code="not_amount")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValidationError("Enter an amount such as 4.99.", code="not_amount") from None
    minor = value.scaleb(places)
    if minor != minor.to_integral_value():
        raise ValidationError(f"At most {places} decimal{'s' if places != 1 else ''}; "
                              f"{text} has more.", code="too_precise")
    validate_minor(int(minor), maximum=maximum)
    return value


def to_minor(amount: object, currency: str, *, maximum: int = MAX_AMOUNT_MINOR) -> int:
    """"4.99", "EUR" -> 499: `parse_major` with the currency's own decimals."""
    places = exponent(currency)
    try:
        value = parse_major(amount, places=places, maximum=maximum)
    except ValidationError as refusal:
        if refusal.code == "too_precise":
            raise ValidationError(f"{currency} has {places} decimal"
                                  f"{'s' if places != 1 else ''}; {str(amount).strip()} has "
                                  "more.", code="too_precise") from None
        raise
    return int(value.scaleb(places))
