"""Document 003's order rules, checked before anything is sent: the order body, or
every problem at once keyed by our field names."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from contacts.validation import collect_contact_fields
from registrar.providers.errors import CallerError
from registrar.values.names import to_ascii
from registrar.values.phones import in_dialect

EMAIL_SERVICE_PROVIDERS = ("Google", "Microsoft", "Azure")
PLAN_TYPES = ("quarterly", "annualFlexi", "annualFixed")
DEFAULT_PLAN_TYPE = "quarterly"
# Azure mailboxes are only sold quarterly (any other planType is a 400 upstream).
AZURE_PLAN_TYPES = ("quarterly",)
OWNER_NAME_MAX = 50
MAILBOX_NAME_COUNT = (1, 100)
# Our contact field -> document 003's owner field.
OWNER_FIELDS = {
    "first_name": "domainOwnerFirstname",
    "last_name": "domainOwnerLastname",
    "organization": "companyName",
    "street_address": "address",
    "city": "city",
    "state": "state",
    "country": "country",
    "post_code": "zipcode",
    "phone": "phoneNumber",
}
# Document 003 marks no field required; a domain registration needs a reachable owner
# of record, so these are required here. companyName and state are sent when given.
OWNER_REQUIRED = ("first_name", "last_name", "street_address", "city", "country",
                  "post_code", "phone")
_NOT_BARE = re.compile(r"[/:?#@\\]")



# --- The order form, checked before anything is sent ------------------------------------


def add_error(errors: dict[str, list[str]], key: str, *messages: str) -> None:
    errors.setdefault(key, []).extend(messages)


def _owner(owner: Mapping[str, Any], errors: dict[str, list[str]]) -> dict[str, str]:
    given = {name: owner[name] for name in OWNER_FIELDS if name in owner}
    cleaned = collect_contact_fields(given, errors, partial=True, also_required=OWNER_REQUIRED)
    for name in ("first_name", "last_name"):
        value = str(given.get(name) or "").strip()
        if value and len(value) > OWNER_NAME_MAX and name not in errors:
            add_error(errors, name, f"Saleshandy takes 1 to {OWNER_NAME_MAX} characters here.")
    wire: dict[str, str] = {}
    for name, wire_name in OWNER_FIELDS.items():
        if cleaned.get(name):
            wire[wire_name] = cleaned[name]
    if "phoneNumber" in wire:
        # The contact rules give the dotted dialect; Saleshandy wants plain E.164.
        wire["phoneNumber"] = in_dialect(wire["phoneNumber"], "plain")
    return wire


def bare_domain(value: str, key: str, errors: dict[str, list[str]]) -> str:
    if _NOT_BARE.search(value):
        add_error(errors, key, f"“{value}” is not a bare domain: give it like acmecorp.com, "
                          "without https:// or a path.")
        return ""
    try:
        return to_ascii(value)
    except ValidationError as exc:
        add_error(errors, key, *exc.messages)
        return ""


def _mailbox(mailbox: Any, domain: str, key: str, errors: dict[str, list[str]]) -> dict:
    if not isinstance(mailbox, Mapping):
        raise CallerError("Each mailbox must be a mapping.")
    wire: dict[str, Any] = {}
    for name, wire_name in (("first_name", "firstname"), ("last_name", "lastname")):
        value = str(mailbox.get(name) or "").strip()
        if not value:
            add_error(errors, f"{key}.{name}", "Give the mailbox sender's first and last name.")
        wire[wire_name] = value
    address = str(mailbox.get("email") or "").strip().lower()
    if address and "@" not in address:  # a local part: the mailbox lives on this domain
        address = f"{address}@{domain}"
    try:
        validate_email(address)
    except ValidationError:
        add_error(errors, f"{key}.email", f"“{address or '(empty)'}” is not an e-mail address.")
    else:
        if domain and address.rpartition("@")[2] != domain:
            add_error(errors, f"{key}.email", f"The mailbox {address} must be on {domain}.")
    wire["email"] = address
    picture = mailbox.get("profile_pic_id", 0)
    if isinstance(picture, bool) or not isinstance(picture, int) or picture < 0:
        raise CallerError("profile_pic_id must be a non-negative int.")
    wire["profilePicId"] = picture
    return wire


def _domains(domains: Sequence[Mapping[str, Any]], errors: dict[str, list[str]]) -> list:
    if isinstance(domains, str | bytes) or not isinstance(domains, Sequence):
        raise CallerError("domains must be a sequence of mappings.")
    if not domains:
        add_error(errors, "domains", "Add at least one domain.")
    wire_domains: list[dict[str, Any]] = []
    seen_domains: set[str] = set()
    seen_mailboxes: set[str] = set()
    for index, entry in enumerate(domains):
        key = f"domains[{index}]"
        if not isinstance(entry, Mapping):
            raise CallerError("Each domain must be a mapping.")
        name = bare_domain(str(entry.get("name") or "").strip(), f"{key}.name", errors)
        if name and name in seen_domains:
            add_error(errors, f"{key}.name", f"{name} is in the order twice.")
        seen_domains.add(name)
        wire: dict[str, Any] = {"name": name}
        redirect = str(entry.get("redirect_url") or "").strip()
        if redirect:
            wire["redirectUrl"] = bare_domain(redirect, f"{key}.redirect_url", errors)
        mailboxes = entry.get("mailboxes") or []
        if not mailboxes:
            add_error(errors, f"{key}.mailboxes",
                 f"Give {name or 'each domain'} at least one mailbox.")
        wire["mailboxes"] = []
        for number, mailbox in enumerate(mailboxes):
            wire_mailbox = _mailbox(mailbox, name, f"{key}.mailboxes[{number}]", errors)
            if wire_mailbox["email"] in seen_mailboxes:
                add_error(errors, f"{key}.mailboxes[{number}].email",
                     f"{wire_mailbox['email']} is in the order twice.")
            seen_mailboxes.add(wire_mailbox["email"])
            wire["mailboxes"].append(wire_mailbox)
        wire_domains.append(wire)
    return wire_domains


def clean_order(
    *,
    owner: Mapping[str, Any],
    email_service_provider: str,
    domains: Sequence[Mapping[str, Any]],
    plan_type: str = DEFAULT_PLAN_TYPE,
    is_replacement: bool = False,
    is_free_order: bool = False,
) -> dict[str, Any]:
    """Document 003's order body, or ValidationError with a dict of every problem.
    Pure: nothing is sent.

    `owner` uses our contact field names (first_name, last_name, organization,
    street_address, city, state, country, post_code, phone). Each domain is
    {"name", "redirect_url"?, "mailboxes": [{"first_name", "last_name", "email",
    "profile_pic_id"?}]}; a mailbox email may be a bare local part. Error keys are our
    names, with paths such as ``domains[0].mailboxes[1].email``.

    Rules: owner names 1 to 50 characters; phone E.164 (sent without the dot); country
    ISO alpha-2; redirect_url a bare domain; the ESP one of Google, Microsoft, Azure;
    Azure only quarterly; at least one domain and at least one mailbox per domain.
    planType, isReplacement and isFreeOrder are always sent, as the document's example
    does. Wrong argument types are bugs: CallerError.
    """
    if not isinstance(owner, Mapping):
        raise CallerError("owner must be a mapping of contact fields.")
    for name, flag in (("is_replacement", is_replacement), ("is_free_order", is_free_order)):
        if not isinstance(flag, bool):
            raise CallerError(f"{name} must be True or False.")
    errors: dict[str, list[str]] = {}
    wire_owner = _owner(owner, errors)
    if email_service_provider not in EMAIL_SERVICE_PROVIDERS:
        add_error(errors, "email_service_provider",
             f"Choose the mailbox provider: {', '.join(EMAIL_SERVICE_PROVIDERS)}.")
    if plan_type not in PLAN_TYPES:
        add_error(errors, "plan_type", f"Choose the billing cycle: {', '.join(PLAN_TYPES)}.")
    elif email_service_provider == "Azure" and plan_type not in AZURE_PLAN_TYPES:
        add_error(errors, "plan_type", "Azure mailboxes are only sold quarterly.")
    wire_domains = _domains(domains, errors)
    if errors:
        raise ValidationError({name: messages for name, messages in errors.items()})
    return {
        **wire_owner,
        "emailServiceProvider": email_service_provider,
        "planType": plan_type,
        "domains": wire_domains,
        "isReplacement": is_replacement,
        "isFreeOrder": is_free_order,
    }


