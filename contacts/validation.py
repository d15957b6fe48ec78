"""Validation of contact fields the registries care about, before anything leaves."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError

# The checks per kind of value; re-exported because migrations name them here.
from registrar.values.countries import validate_country
from registrar.values.emails import normalise_email
from registrar.values.phones import PHONE_WIRE_FORM, normalise_phone, validate_phone
from registrar.values.text import text_problem

__all__ = [
    "PHONE_WIRE_FORM",
    "clean_contact_fields",
    "collect_contact_fields",
    "normalise_phone",
    "validate_country",
    "validate_phone",
]

# Field -> max length, as the registries commonly accept them.
CONTACT_LIMITS = {"first_name": 100, "last_name": 100, "organization": 255,
                  "street_address": 255, "post_code": 32, "city": 100, "state": 100,
                  "email": 254}
REQUIRED_CONTACT_FIELDS = ("first_name", "last_name", "country", "email", "phone")


def clean_contact_fields(data: dict, *, partial: bool = False) -> dict:
    """Validate and normalise a contact's fields before they are sent anywhere.

    Returns the cleaned fields (phone in +CC.NUMBER form, country upper-cased only if
    it already is a valid code) or raises ValidationError with a dict of field errors.
    `partial` allows leaving fields out (updates); given fields are always checked.
    """
    errors: dict[str, list[str]] = {}
    cleaned: dict = {}
    for name in REQUIRED_CONTACT_FIELDS:
        if str(data.get(name) or "").strip():
            continue
        if not partial:
            errors.setdefault(name, []).append("This field is required.")
        elif name in data:
            # An edit may leave a required field out (it keeps its value), never blank it:
            # the registrar would store a contact without a name, country or phone.
            errors.setdefault(name, []).append(
                "This field cannot be blank: leave it out to keep the current value.")
    for name, limit in CONTACT_LIMITS.items():
        if name not in data:
            continue
        value = str(data[name] or "").strip()
        if len(value) > limit:
            errors.setdefault(name, []).append(f"At most {limit} characters.")
        problem = text_problem(value)
        if problem:
            errors.setdefault(name, []).append(problem)
        cleaned[name] = value
    if data.get("email"):
        try:
            cleaned["email"] = normalise_email(data["email"])
        except ValidationError as exc:
            errors.setdefault("email", []).extend(exc.messages)
    for name, check in (("country", validate_country), ("phone", normalise_phone)):
        if name in data and (data[name] or not partial):
            try:
                result = check(str(data[name] or "").strip())
                cleaned[name] = result if name == "phone" else str(data[name]).strip()
            except ValidationError as exc:
                errors.setdefault(name, []).extend(exc.messages)
    if "extra_properties" in data:
        extra = data["extra_properties"]
        if extra in (None, ""):
            cleaned["extra_properties"] = {}
        elif not isinstance(extra, dict):
            errors.setdefault("extra_properties", []).append(
                "Registry fields must be a JSON object, e.g. {\"nexus_category\": \"C11\"}.")
        else:
            cleaned["extra_properties"] = extra
    if errors:
        raise ValidationError({name: messages for name, messages in errors.items()})
    return cleaned


def collect_contact_fields(given: Mapping[str, Any], errors: dict[str, list[str]], *,
                           partial: bool = False, also_required: Iterable[str] = (),
                           required_message: str = "This field is required.") -> dict:
    """`clean_contact_fields` for a form of many parts: its problems go into `errors`
    (keyed by field) instead of being raised, and each of `also_required` left empty is
    one more, with `required_message`. The cleaned fields, or {} when any problem was
    found."""
    try:
        cleaned = clean_contact_fields(dict(given), partial=partial)
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.setdefault(name, []).extend(messages)
        cleaned = {}
    for name in also_required:
        if not str(given.get(name) or "").strip():
            # Left empty where it is required: that is the one thing to say of it.
            errors[name] = [required_message]
    return {} if errors else cleaned
