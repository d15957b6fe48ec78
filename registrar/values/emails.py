"""E-mail addresses: one mailbox, as registries and mail servers accept it.

Django's `validate_email` checks the syntax; on top of it: at most 254 characters in
all and 64 before the "@" (RFC 5321 section 4.5.3.1), no spaces or control characters,
and the domain part passes the same name rule as any domain (`names.to_ascii`), so an
invisible character cannot hide in it and an IDN domain is kept in one form.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email as django_validate_email

from registrar.values.names import to_ascii
from registrar.values.text import text_problem

MAX_EMAIL_LENGTH = 254
MAX_LOCAL_PART = 64


def normalise_email(value: object) -> str:
    """The address with its domain part in lower-case ASCII, or ValidationError."""
    email = "" if value is None else str(value).strip()
    if not email:
        raise ValidationError("Enter an e-mail address.", code="required")
    if len(email) > MAX_EMAIL_LENGTH:
        raise ValidationError(f"An e-mail address is at most {MAX_EMAIL_LENGTH} characters.",
                              code="max_length")
    if text_problem(email) or any(char.isspace() for char in email):
        raise ValidationError("An e-mail address cannot contain spaces or control "
                              "characters.", code="invalid_email")
    local, _, domain = email.rpartition("@")
    if len(local) > MAX_LOCAL_PART:
        raise ValidationError(f"The part before the @ is at most {MAX_LOCAL_PART} "
                              "characters.", code="invalid_email")
    django_validate_email(email)
    try:
        ascii_domain = to_ascii(domain)
    except ValidationError as exc:
        raise ValidationError(f"The domain after the @ is not valid: {exc.messages[0]}",
                              code="invalid_email") from None
    return f"{local}@{ascii_domain}"


def validate_email(value: object) -> None:
    normalise_email(value)
