"""Countries: ISO 3166-1 alpha-2 codes, from django-countries' maintained list."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django_countries import countries


def validate_country(value: str) -> None:
    """ISO 3166-1 alpha-2, upper case, and a country that exists."""
    if not re.fullmatch(r"[A-Z]{2}", value or ""):
        raise ValidationError(
            "Use the two-letter ISO 3166-1 country code in capitals, e.g. NL or US.",
            code="country_format",
        )
    if value not in countries:
        raise ValidationError(
            "“%(value)s” is not an ISO 3166-1 country code.",
            code="country_unknown",
            params={"value": value},
        )
