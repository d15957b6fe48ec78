"""Sandbox records: how TLDs, contacts, registrations, processes and orders are kept
in the state, rendered in document 001's shapes, and moved through their life cycles.

The state is one JSON-able dict (see `state.empty_state`). Records keep references
by id (a registration's `owner_contact_id`, `tld_id`) and are rendered with the
referenced objects resolved, so a contact edited once shows up everywhere.

Timestamps are stored and sent as ISO 8601 UTC strings ending in "Z".
"""

from __future__ import annotations

import base64
import binascii
import copy
import ipaddress
import re
import secrets
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError

from registrar.sandbox.wire import ApiError, Json, invalid
from registrar.values.names import to_ascii

REGISTRAR = "realtime_register"
ROLES = ("owner", "admin", "tech", "billing")
STATUSES = frozenset({"NEW", "VALIDATED", "SCHEDULED", "RUNNING", "SUSPENDED", "IN_DOUBT",
                      "COMPLETED", "INVALID", "CANCELLED", "FAILED"})
TERMINAL = frozenset({"COMPLETED", "INVALID", "CANCELLED", "FAILED"})
OUTCOMES = frozenset({"COMPLETED", "FAILED", "INVALID", "SUSPENDED"})
REGISTRATION_STATUSES = frozenset({"active", "pending", "pending_transfer", "expired",
                                   "redemption", "transferred_out", "cancelled"})
AUTHCODE_BEHAVIORS = frozenset({"standard", "hidden", "emailed"})
TLD_FLAGS = ("supports_privacy", "supports_transfer_lock", "supports_push_transfer",
             "supports_dnssec", "requires_contact_validation")
TLD_MONEY = ("privacy_fee", "registrant_change_fee", "create_price", "transfer_price",
             "renew_price")

CONTACT_FIELDS = ("first_name", "last_name", "organization", "street_address", "post_code",
                  "city", "state", "country", "email", "phone", "extra_properties")
REQUIRED_CONTACT_FIELDS = ("first_name", "last_name", "country", "email", "phone")
# The holder's identity: registries that validate the registrant treat a change to
# these as a change of registrant, not as an edit.
IDENTITY_FIELDS = ("first_name", "last_name", "organization")
# Which contact fields each kind of entry in `validations` vouches for.
VALIDATED_FIELDS = {"email": ("email",), "phone": ("phone",), "identity": IDENTITY_FIELDS}
VERIFIED = frozenset({"verified", "validated"})

# The upstream's own rule for the wire form (document 001: E.164 as +CC.NUMBER).
PHONE_FORM = re.compile(r"^\+[1-9][0-9]{0,2}\.[0-9]{4,14}$")
EMAIL_FORM = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
COUNTRY_FORM = re.compile(r"^[A-Z]{2}$")
CURRENCY_FORM = re.compile(r"^[A-Z]{3}$")

# Magic substrings of a registration's first label (docs/domain-api.md).
MAGIC = ("-async", "-suspends", "-busy", "-fails", "-slow")
# A process opened by a magic name: (polls until the outcome, outcome).
MAGIC_PLANS = {"-async": (2, "COMPLETED"), "-suspends": (1, "SUSPENDED")}
DEFAULT_POLLS = 2


# --- Small values ---------------------------------------------------------------------


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    """`value` as ISO 8601 UTC with a "Z", to the second."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_iso() -> str:
    return iso(utc_now()) or ""


def parse_iso(value: Any) -> datetime | None:
    """A stored or received timestamp as an aware UTC datetime (naive means UTC)."""
    if value in (None, ""):
        return None
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def money(amount_cents: int | None, currency: str | None) -> Json | None:
    if amount_cents is None or not currency:
        return None
    return {"amount_cents": int(amount_cents), "currency": currency}


def parse_money(value: Any, name: str) -> Json | None:
    """`{amount_cents, currency}` or None; anything else is a 422."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise invalid(f"{name} must be an object {{amount_cents, currency}} or null.")
    amount, currency = value.get("amount_cents"), value.get("currency")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise invalid(f"{name}.amount_cents must be a non-negative integer.")
    if not isinstance(currency, str) or not CURRENCY_FORM.match(currency):
        raise invalid(f"{name}.currency must be an ISO 4217 code such as USD.")
    return {"amount_cents": amount, "currency": currency}


def as_int(value: Any) -> int | None:
    """An integer id from JSON or a query string; None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def ascii_name(value: Any, *, min_labels: int = 2) -> str:
    """A domain name in its stored ASCII form, or ValidationError."""
    if not isinstance(value, str):
        raise ValidationError("not a string")
    return to_ascii(value, min_labels=min_labels)


def magic_of(name: str) -> frozenset[str]:
    """The magic markers in the first label of a registration name."""
    label = name.split(".", 1)[0]
    return frozenset(marker for marker in MAGIC if marker in label)


def next_id(data: Json, counter: str) -> int:
    data["counters"][counter] += 1
    return data["counters"][counter]


def raise_counter(data: Json, counter: str, seen: Any) -> None:
    """Keep a counter above an id that arrived from outside (seeds), so new ids never
    collide with seeded ones."""
    number = as_int(seen)
    if number is not None and number > data["counters"][counter]:
        data["counters"][counter] = number


def new_authcode() -> str:
    return secrets.token_urlsafe(12)


# --- Lookups --------------------------------------------------------------------------


def tld_by_id(data: Json, tld_id: Any) -> Json | None:
    number = as_int(tld_id)
    return data["tlds"].get(str(number)) if number is not None else None


def tld_by_name(data: Json, name: str) -> Json | None:
    wanted = name.strip().lstrip(".").lower()
    try:
        wanted = ascii_name(wanted, min_labels=1)
    except ValidationError:
        return None
    return next((tld for tld in data["tlds"].values() if tld["name"] == wanted), None)


def tld_of(data: Json, registration: Json) -> Json:
    return data["tlds"][str(registration["tld_id"])]


def contact_by_id(data: Json, contact_id: Any) -> Json | None:
    number = as_int(contact_id)
    return data["contacts"].get(str(number)) if number is not None else None


def registration_or_404(data: Json, guid: str) -> Json:
    registration = data["registrations"].get(guid)
    if registration is None:
        raise ApiError(404, "not_found", f"No domain registration with id {guid}.")
    return registration


def registration_by_name(data: Json, name: str) -> Json | None:
    return next((r for r in data["registrations"].values() if r["name"] == name), None)


def registrations_using(data: Json, contact_id: int) -> list[Json]:
    """Registrations that use the contact in any role, by name."""
    return sorted(
        (r for r in data["registrations"].values()
         if any(r.get(f"{role}_contact_id") == contact_id for role in ROLES)),
        key=lambda r: r["name"],
    )


def is_busy(data: Json, registration: Json) -> bool:
    """A registration is busy while any of its processes is not terminal."""
    return any(
        p["registration_id"] == registration["id"] and p["status"] not in TERMINAL
        for p in data["processes"].values()
    )


# --- Shapes (document 001) ------------------------------------------------------------


def render_contact(contact: Json) -> Json:
    return {
        "id": contact["id"],
        "handle": contact.get("handle", ""),
        **{name: contact.get(name, "") for name in CONTACT_FIELDS if name != "extra_properties"},
        "extra_properties": copy.deepcopy(contact.get("extra_properties") or {}),
        "validations": copy.deepcopy(contact.get("validations") or []),
        "split_from_id": contact.get("split_from_id"),
        "created_at": contact.get("created_at"),
        "updated_at": contact.get("updated_at"),
    }


def feature_flags(tld: Json) -> Json:
    return {**{flag: tld[flag] for flag in TLD_FLAGS},
            "authcode_behavior": tld["authcode_behavior"]}


def fees(tld: Json) -> Json:
    return {"privacy_enable": copy.deepcopy(tld.get("privacy_fee")),
            "registrant_change": copy.deepcopy(tld.get("registrant_change_fee"))}


def within_window(registration: Json) -> bool | None:
    """Computed from the deadline when there is one, so it is never stale."""
    deadline = parse_iso(registration.get("cancellation_deadline_at"))
    if deadline is None:
        return registration.get("within_cancellation_window")
    return utc_now() <= deadline


def render_registration(data: Json, registration: Json) -> Json:
    tld = tld_of(data, registration)
    shape: Json = {
        "id": registration["id"],
        "name": registration["name"],
        "status": registration["status"],
        "expires_at": registration.get("expires_at"),
        "auto_renew": registration["auto_renew"],
        "locked": registration["locked"],
        "privacy_protect": registration["privacy_protect"],
        "dnssec_enabled": registration["dnssec_enabled"],
        "server_transfer_prohibited": registration["server_transfer_prohibited"],
        "local_contact_active": registration["local_contact_active"],
        "cancellation_deadline_at": registration.get("cancellation_deadline_at"),
        "within_cancellation_window": within_window(registration),
        "nameservers": list(registration["nameservers"]),
        "tld": {"id": tld["id"], "name": tld["name"], "registrar": tld["registrar"]},
    }
    for role in ROLES:
        contact = contact_by_id(data, registration.get(f"{role}_contact_id"))
        shape[f"{role}_contact"] = render_contact(contact) if contact else None
    shape.update(
        pending_async=registration["pending_async"],
        # Strings, as the document types them: empty when no process is in flight.
        rtr_process_id=registration["rtr_process_id"],
        rtr_process_status=registration["rtr_process_status"],
        transfer_out_pending=registration["transfer_out_pending"],
        push_transfer_pending=registration["push_transfer_pending"],
        subscription_id=registration.get("subscription_id", ""),
        feature_flags=feature_flags(tld),
        fees=fees(tld),
        created_at=registration.get("created_at"),
        updated_at=registration.get("updated_at"),
    )
    return shape


def render_host(host: Json) -> Json:
    return {"host_name": host["host_name"], "addresses": copy.deepcopy(host["addresses"])}


def render_process(process: Json) -> Json:
    """The raw RTR process record; ids that are numbers are sent as numbers."""
    number = as_int(process["id"])
    return {
        "id": number if number is not None else process["id"],
        "action": process["action"],
        "status": process["status"],
        "createdDate": process["created_at"],
        "updatedDate": process["updated_at"],
        "registration_id": process["registration_id"],
    }


def render_order(order: Json) -> Json:
    return {
        "id": order["id"],
        "kind": order["kind"],
        "status": order["status"],
        "status_reason": order.get("status_reason", ""),
        "domain": order["domain"],
        "registration_id": order.get("registration_id"),
        "years": order.get("years"),
        "total": copy.deepcopy(order["total"]),
        "line_items": copy.deepcopy(order["line_items"]),
        # The money given back for a paid order that failed; null while it is kept.
        "refund": copy.deepcopy(order.get("refund")),
        "created_at": order["created_at"],
        "updated_at": order["updated_at"],
    }


# --- Contacts -------------------------------------------------------------------------


def contact_violations(fields: Mapping[str, Any], *, partial: bool) -> list[Json]:
    """What the registry would refuse in `fields`, as `[{field, message}]`.

    With `partial`, absent fields are fine (an update), but a present required field
    may not be blank.
    """
    violations: list[Json] = []
    for name in REQUIRED_CONTACT_FIELDS:
        if name not in fields and partial:
            continue
        value = fields.get(name)
        if not isinstance(value, str) or not value.strip():
            violations.append({"field": name, "message": "is required"})
    for name in CONTACT_FIELDS:
        value = fields.get(name)
        if name not in fields or value is None or any(v["field"] == name for v in violations):
            continue
        if name == "extra_properties":
            if not isinstance(value, Mapping):
                violations.append({"field": name, "message": "must be an object"})
        elif not isinstance(value, str):
            violations.append({"field": name, "message": "must be a string"})
        elif name == "country" and not COUNTRY_FORM.match(value):
            violations.append({"field": name, "message": "must be an ISO 3166-1 alpha-2 code"})
        elif name == "email" and not EMAIL_FORM.match(value):
            violations.append({"field": name, "message": "is not an e-mail address"})
        elif name == "phone" and not PHONE_FORM.match(value):
            violations.append({"field": name, "message": "must be E.164 as +CC.NUMBER"})
    return violations


def contact_fields(raw: Mapping[str, Any]) -> Json:
    """Only the contact fields of `raw`, with blank optional strings as ""."""
    return {name: (dict(raw[name] or {}) if name == "extra_properties" else raw[name] or "")
            for name in CONTACT_FIELDS if name in raw}


def require_valid_contact(raw: Any, *, partial: bool = False, label: str = "contact") -> Json:
    """The contact fields of `raw`, or 422 contact_invalid with violations."""
    if not isinstance(raw, Mapping):
        raise ApiError(422, "contact_invalid", f"The {label} must be an object.",
                       violations=[{"field": label, "message": "must be an object"}])
    violations = contact_violations(raw, partial=partial)
    if violations:
        raise ApiError(422, "contact_invalid", f"The registry refused the {label}.",
                       violations=violations)
    return contact_fields(raw)


def create_contact(data: Json, fields: Mapping[str, Any], tld: Json | None, *,
                   split_from_id: int | None = None,
                   validations: list[Json] | None = None) -> Json:
    """A new contact pinned to `tld`. On TLDs that validate registrants it starts with
    a pending e-mail validation."""
    contact_id = next_id(data, "contact")
    now = now_iso()
    if validations is None:
        validations = ([{"type": "email", "status": "pending"}]
                       if tld and tld["requires_contact_validation"] else [])
    contact = {
        "id": contact_id,
        "handle": f"SBX-{contact_id}",
        **{name: "" for name in CONTACT_FIELDS if name != "extra_properties"},
        "extra_properties": {},
        **copy.deepcopy(dict(fields)),
        "validations": validations,
        "split_from_id": split_from_id,
        "tld_id": tld["id"] if tld else None,
        "created_at": now,
        "updated_at": now,
    }
    data["contacts"][str(contact_id)] = contact
    return contact


def validated_fields(contact: Json) -> set[str]:
    """Fields that a verified entry in the contact's `validations` vouches for."""
    fields: set[str] = set()
    for entry in contact.get("validations") or []:
        if isinstance(entry, Mapping) and entry.get("status") in VERIFIED:
            fields.update(VALIDATED_FIELDS.get(str(entry.get("type")), ()))
    return fields


def revalidated(contact: Json, changed: Iterable[str]) -> list[Json]:
    """The contact's validations after `changed` fields were edited: every entry that
    vouched for one of them goes back to pending."""
    touched = set(changed)
    result = []
    for entry in copy.deepcopy(contact.get("validations") or []):
        if isinstance(entry, dict) and touched & set(VALIDATED_FIELDS.get(str(entry.get("type")),
                                                                          ())):
            entry["status"] = "pending"
        result.append(entry)
    return result


# --- Hosts and DNSSEC keys --------------------------------------------------------------


def parse_addresses(raw: Any) -> list[Json]:
    """`[{address}]` as `[{address, version}]`, version told from the literal; or 422
    invalid_address. CIDR notation is refused: a glue record is one address."""
    if not isinstance(raw, list) or not raw:
        raise ApiError(422, "invalid_address", "Give at least one address.")
    addresses: list[Json] = []
    for item in raw:
        value = item.get("address") if isinstance(item, Mapping) else item
        if not isinstance(value, str) or "/" in value:
            raise ApiError(422, "invalid_address", f"“{value}” is not an IP address.")
        try:
            parsed = ipaddress.ip_address(value.strip())
        except ValueError:
            raise ApiError(422, "invalid_address", f"“{value}” is not an IP address.") from None
        entry = {"address": parsed.compressed, "version": parsed.version}
        if entry not in addresses:
            addresses.append(entry)
    return addresses


def host_name_for(raw: Any, registration_name: str) -> str:
    """The host name in ASCII, or 422 invalid_host_name unless it is a subdomain of
    the registration."""
    try:
        name = ascii_name(raw, min_labels=3)
    except ValidationError:
        raise ApiError(422, "invalid_host_name", f"“{raw}” is not a host name.") from None
    if not name.endswith(f".{registration_name}"):
        raise ApiError(422, "invalid_host_name",
                       f"“{raw}” is not a subdomain of {registration_name}.")
    return name


def parse_keys(raw: Any, *, strict: bool = True) -> list[Json]:
    """`key_data` as stored keys; an absent or empty list is the caller's to refuse.

    `strict` checks that publicKey is base64, as a registry would on a request; seeds
    pass False, since they copy what the mirror already holds."""
    if not isinstance(raw, list):
        return []
    keys: list[Json] = []
    for item in raw:
        if not isinstance(item, Mapping):
            raise invalid("Each key must be an object {flags, algorithm, publicKey}.")
        flags, algorithm, public_key = item.get("flags"), item.get("algorithm"), \
            item.get("publicKey")
        if isinstance(flags, bool) or not isinstance(flags, int) or not 0 <= flags <= 65535:
            raise invalid("flags must be an integer such as 257.")
        if isinstance(algorithm, bool) or not isinstance(algorithm, int) \
                or not 0 <= algorithm <= 255:
            raise invalid("algorithm must be an integer from 0 to 255.")
        if not isinstance(public_key, str) or not public_key:
            raise invalid("publicKey must be base64.")
        if strict:
            try:
                base64.b64decode(public_key, validate=True)
            except (binascii.Error, ValueError):
                raise invalid("publicKey must be base64.") from None
        key = {"flags": flags, "algorithm": algorithm, "publicKey": public_key}
        if key not in keys:
            keys.append(key)
    return keys


# --- Changes and processes --------------------------------------------------------------


def apply_change(data: Json, change: Json) -> None:
    """Apply a pending change: `{"registration": guid, "fields": {...},
    "contact": {"id", "fields"} | None}`. Objects deleted since are skipped."""
    now = now_iso()
    registration = data["registrations"].get(change.get("registration") or "")
    if registration is not None and change.get("fields"):
        registration.update(copy.deepcopy(change["fields"]))
        registration["updated_at"] = now
    contact_change = change.get("contact")
    if contact_change:
        contact = contact_by_id(data, contact_change["id"])
        if contact is not None:
            contact.update(copy.deepcopy(contact_change["fields"]))
            contact["updated_at"] = now


def _log(process: Json, message: str, level: str = "INFO") -> None:
    process["log"].append({"date": now_iso(), "level": level, "message": message})


def _set_status(data: Json, process: Json, status: str) -> None:
    process["status"] = status
    process["updated_at"] = now_iso()
    registration = data["registrations"].get(process["registration_id"])
    if registration is None or registration["rtr_process_id"] != str(process["id"]):
        return
    if status in TERMINAL:
        registration.update(pending_async=False, rtr_process_id="", rtr_process_status="")
    else:
        registration["rtr_process_status"] = status


def open_process(data: Json, registration: Json, action: str, change: Json, *,
                 polls: int, outcome: str) -> Json:
    """A NEW process holding `change` until it completes; the registration is busy
    from now on. `polls` views later it reaches `outcome`."""
    process_id = str(next_id(data, "process"))
    now = now_iso()
    process = {
        "id": process_id,
        "registration_id": registration["id"],
        "action": action,
        "status": "NEW",
        "created_at": now,
        "updated_at": now,
        "polls": 0,
        "polls_needed": max(1, polls),
        "outcome": outcome,
        "resumed": False,
        "change": copy.deepcopy(change),
        "log": [],
    }
    _log(process, f"Process {action} created")
    data["processes"][process_id] = process
    registration.update(pending_async=True, rtr_process_id=process_id, rtr_process_status="NEW",
                        updated_at=now)
    return process


def poll_process(data: Json, process: Json) -> None:
    """One look at a process moves it on: RUNNING until its poll count is reached,
    then its outcome. A SUSPENDED process waits for a resend; the next poll after
    the resend completes it."""
    if process["status"] in TERMINAL:
        return
    process["polls"] += 1
    if process["status"] == "SUSPENDED":
        if process["resumed"]:
            _finish(data, process, "COMPLETED")
        return
    if process["polls"] < process["polls_needed"]:
        if process["status"] != "RUNNING":
            _set_status(data, process, "RUNNING")
            _log(process, "Process running at the registry")
        return
    outcome = process["outcome"]
    if outcome == "SUSPENDED":
        _set_status(data, process, "SUSPENDED")
        _log(process, "Suspended: the registry is waiting; resend to resume", "WARNING")
    else:
        _finish(data, process, outcome)


def _finish(data: Json, process: Json, status: str) -> None:
    if status == "COMPLETED":
        apply_change(data, process["change"])
        _log(process, "Process completed")
    else:
        _log(process, f"Process ended {status}; nothing was changed", "ERROR")
    _set_status(data, process, status)


def resend_process(data: Json, process: Json) -> None:
    if process["status"] != "SUSPENDED":
        raise ApiError(422, "process_not_suspended",
                       f"Process {process['id']} is {process['status']}, not SUSPENDED.")
    process["resumed"] = True
    process["updated_at"] = now_iso()
    _log(process, "Resent by the account")


def cancel_process(data: Json, process: Json) -> None:
    if process["status"] in TERMINAL:
        raise ApiError(422, "process_not_cancellable",
                       f"Process {process['id']} has already ended ({process['status']}).")
    _log(process, "Cancelled by the account", "WARNING")
    _set_status(data, process, "CANCELLED")


# --- Orders ---------------------------------------------------------------------------

ORDER_TERMINAL = frozenset({"completed", "failed", "cancelled"})
# A registrant-change order follows the process that applies it.
ORDER_STATUS_FOR_PROCESS = {"COMPLETED": "completed", "FAILED": "failed", "INVALID": "failed",
                            "CANCELLED": "cancelled"}


def poll_order(data: Json, order: Json) -> None:
    """One look at an order moves it on: pending, processing, then completed (its
    effect applied) or failed. An order backed by a process polls that process."""
    if order["status"] in ORDER_TERMINAL:
        return
    order["updated_at"] = now_iso()
    process = data["processes"].get(order.get("process_id") or "")
    if process is not None:
        poll_process(data, process)
        order["status"] = ORDER_STATUS_FOR_PROCESS.get(process["status"], "processing")
        _refund_if_failed(order)
        return
    order["polls"] += 1
    if order["polls"] < DEFAULT_POLLS:
        order["status"] = "processing"
        return
    reason = _order_effect(data, order)
    order["status"] = "failed" if reason else "completed"
    order["status_reason"] = reason
    _refund_if_failed(order)


def _refund_if_failed(order: Json) -> None:
    """The cart was paid at placement: an order that fails gives the money back, once,
    and says so (`refund` on the order, the cart "refunded")."""
    cart = order.get("cart") or {}
    if order["status"] != "failed" or cart.get("status") != "paid":
        return
    cart["status"] = "refunded"
    order["refund"] = {"amount_cents": order["total"]["amount_cents"],
                       "currency": order["total"]["currency"], "refunded_at": now_iso()}


def _order_effect(data: Json, order: Json) -> str:
    """Carry out a domain order; the reason it failed, or "" when it went through."""
    name = order["domain"]
    if "-fails" in magic_of(name):
        return "The registry refused the name."
    existing = registration_by_name(data, name)
    tld = tld_by_name(data, name.rsplit(".", 1)[-1])
    if tld is None:
        return "The TLD is no longer offered."
    now = utc_now()
    days = 365 * int(order.get("years") or 1)
    if order["kind"] == "renew":
        if existing is None:
            return "The registration is not in this account."
        expires = parse_iso(existing.get("expires_at")) or now
        existing["expires_at"] = iso(expires + timedelta(days=days))
        _open_window(existing, tld, now)
        existing["updated_at"] = iso(now)
        return ""
    if existing is not None:
        return "The name is already registered in this account."
    if name in data["taken"]:  # transferred in: no longer registered elsewhere
        data["taken"].remove(name)
    guid = str(uuid.uuid4())
    owner = order.get("owner_contact_id")
    registration = new_registration(guid, name, tld)
    registration.update(
        expires_at=iso(now + timedelta(days=days)),
        owner_contact_id=owner, admin_contact_id=owner, tech_contact_id=owner,
        billing_contact_id=owner,
        subscription_id=f"sub_sbx_{order['id']}",
    )
    _open_window(registration, tld, now)
    data["registrations"][guid] = registration
    order["registration_id"] = guid
    return ""


def _open_window(registration: Json, tld: Json, now: datetime) -> None:
    """A charge just happened: a TLD with a cancellation window refunds until then."""
    window = tld.get("cancellation_window_days")
    if window:
        registration["cancellation_deadline_at"] = iso(now + timedelta(days=int(window)))
        registration["within_cancellation_window"] = True


def new_registration(guid: str, name: str, tld: Json) -> Json:
    """A registration record with the defaults of a fresh registration."""
    now = now_iso()
    return {
        "id": guid,
        "name": name,
        "tld_id": tld["id"],
        "status": "active",
        "expires_at": None,
        "auto_renew": True,
        "locked": bool(tld["supports_transfer_lock"]),
        "privacy_protect": False,
        "dnssec_enabled": False,
        "server_transfer_prohibited": False,
        "local_contact_active": False,
        "cancellation_deadline_at": None,
        "within_cancellation_window": None,
        "nameservers": ["ns1.sandbox-dns.invalid", "ns2.sandbox-dns.invalid"],
        **{f"{role}_contact_id": None for role in ROLES},
        "pending_async": False,
        "rtr_process_id": "",
        "rtr_process_status": "",
        "transfer_out_pending": False,
        "transfer_out": None,
        "push_transfer_pending": False,
        "push_transfer_recipient": "",
        "subscription_id": "",
        "authcode": new_authcode(),
        "dnssec_keys": [],
        "hosts": [],
        "dns_zone": None,
        "linked_site": None,
        "drift": {},
        "created_at": now,
        "updated_at": now,
    }
