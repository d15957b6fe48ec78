"""ISO 4217 currencies: which codes exist and how many decimals their minor unit has.

Both come from the `iso4217` package, which tracks the ISO maintenance agency's list, so
a look-alike code ("USA", a country) is never taken for a currency and no exponent is
guessed. Units without a minor unit (gold, SDR, the "no currency" code XXX) are not money
an order can be charged in, so they are not currencies here.
"""

from __future__ import annotations

from functools import cache

import iso4217
from django.core.exceptions import ValidationError


@cache
def _exponents() -> dict[str, int]:
    return {unit.code: unit.exponent for unit in iso4217.Currency if unit.exponent is not None}


def is_currency(code: object) -> bool:
    """True for an ISO 4217 alphabetic code in upper case ("EUR"); "USA" and "eur" are not."""
    return isinstance(code, str) and len(code) == 3 and code in _exponents()


def validate_currency(code: object) -> str:
    """`code` as an ISO 4217 code, or ValidationError saying why not."""
    if not is_currency(code):
        raise ValidationError("%(code)r is not an ISO 4217 currency code such as EUR.",
                              code="currency_unknown", params={"code": str(code)[:16]})
    return str(code)


def exponent(currency: str) -> int:
    """Decimals of the minor unit: 2 for EUR, 0 for JPY, 3 for KWD. A code the table does
    not know (a row stored before the rule) is read as 2 so that it still renders."""
    return _exponents().get(str(currency).upper(), 2)


def non_default_exponents() -> dict[int, list[str]]:
    """The currencies whose minor unit is not 1/100, grouped by exponent."""
    groups: dict[int, list[str]] = {}
    for code, exp in sorted(_exponents().items()):
        if exp != 2:
            groups.setdefault(exp, []).append(code)
    return groups
