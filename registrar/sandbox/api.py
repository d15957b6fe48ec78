"""Handlers for document 001's endpoints (`/api/...`).

Each handler takes the parsed request and the state dict (inside a transaction) and
returns a Response, or raises ApiError, which rolls the transaction back.

A registration mutation checks, in this order: the registration exists (404), its
TLD has a registrar (503 registrar_unavailable), nothing is in flight (409
registration_busy, also forced by a "-busy" name), then its own input and gates
(400/402/422), and only then "calls the registrar": a "-fails" name answers 502
and changes nothing; a queued async rule or an "-async"/"-suspends" name opens a
process (202); otherwise the change is applied at once (200).

Where the documents leave a rule open, the sandbox decides from its own state:

- auto-renew scenarios: enabling is `enabled`; disabling with no cancellation
  deadline is `clean_cancel` (`late_cancel` once the registration has expired);
  before the deadline `refund_cancel`; after it 422 `cancellation_window_passed`.
- a contact update is split when a linked registration rejects it: the contact is
  that registration's owner, its TLD validates registrants
  (`requires_contact_validation`) and the update changes the holder's identity
  (first name, last name, organization), which such registries treat as a change
  of registrant. If every linked registration at a registrar rejects it: 422
  contact_invalid. Registrations on a TLD without a registrar hold no registry
  copy of the contact: they neither block (503/409) nor refuse the change.
- push transfers: `domain_not_transferable` when the registry prohibits transfers
  (server_transfer_prohibited) or the registration has already left the account.
- "orphan" (contact delete): a contact pinned to no TLD. Contacts pinned on create
  are deleted without tld_id/tld_name.
- availability: a name is taken when it is one of ours or listed in the state's
  `taken`; names whose first label has at most 3 characters are premium.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError

from registrar.sandbox import records as r
from registrar.sandbox.state import take_async_rule
from registrar.sandbox.wire import ApiError, Json, Request, Response, invalid, no_content, ok
from registrar.values.names import to_unicode

# Published test tokens of the sandbox, not secrets.
SYSTEM_KEY_TOKEN = "sandbox-system-key"  # noqa: S105
NO_ORDERS_TOKEN = "sandbox-no-orders"  # noqa: S105
TRIAL_ACCOUNT = "trial"
PORTAL = "https://portal.sandbox.invalid"
DEFAULT_PER_PAGE, MAX_PER_PAGE = 100, 500
PREMIUM_LABEL_LENGTH, PREMIUM_FACTOR = 3, 25
SUGGESTION_LIMIT = 10
# Statuses of a registration that has left the account: nothing to transfer any more.
GONE = frozenset({"transferred_out", "cancelled"})


# --- Shared steps ---------------------------------------------------------------------


def _registration(data: Json, req: Request) -> Json:
    return r.registration_or_404(data, req.params["guid"])


def _require_registrar(data: Json, registration: Json) -> Json:
    tld = r.tld_of(data, registration)
    if not tld["registrar"]:
        raise ApiError(503, "registrar_unavailable",
                       f"No registrar is configured for .{tld['name']}.")
    return tld


def _mutable(data: Json, req: Request) -> tuple[Json, Json]:
    """The registration a mutation targets and its TLD, once nothing stands in the way
    of changing it (404, 503, 409)."""
    registration = _registration(data, req)
    tld = _require_registrar(data, registration)
    if "-busy" in r.magic_of(registration["name"]) or r.is_busy(data, registration):
        raise ApiError(409, "registration_busy",
                       f"A registrar process is already in flight for {registration['name']}.")
    return registration, tld


def _registrar_call(registration: Json, code: str = "registrar_unavailable") -> None:
    """Where the API would call the registrar: a "-fails" name makes that call fail."""
    if "-fails" in r.magic_of(registration["name"]):
        raise ApiError(502, code, "The registrar failed to answer.")


def _async_plan(data: Json, registration: Json, action: str) -> tuple[int, str] | None:
    """(polls, outcome) when this mutation is to answer 202: a queued rule first, then
    the registration's magic name."""
    rule = take_async_rule(data, registration, action)
    if rule is not None:
        return rule["polls"], rule["outcome"]
    for marker, plan in r.MAGIC_PLANS.items():
        if marker in r.magic_of(registration["name"]):
            return plan
    return None


def _commit(data: Json, registration: Json, action: str, fields: Json, *,
            contact: Json | None = None, extra: Json | None = None) -> Response | None:
    """Apply the change now (returning None: the caller answers 200/201/204), or open a
    process holding it and return the 202 answer."""
    _registrar_call(registration)
    change = {"registration": registration["id"], "fields": fields, "contact": contact}
    plan = _async_plan(data, registration, action)
    if plan is None:
        r.apply_change(data, change)
        return None
    process = r.open_process(data, registration, action, change, polls=plan[0],
                             outcome=plan[1])
    return ok({"domain_registration": r.render_registration(data, registration),
               "pending_process": r.render_process(process), **(extra or {})}, 202)


def _refreshed(data: Json, registration: Json, **extra: Any) -> Response:
    return ok({"domain_registration": r.render_registration(data, registration), **extra})


def _bool_param(body: Json, key: str) -> bool:
    value = body.get(key)
    if not isinstance(value, bool):
        raise invalid(f"{key} is required and must be true or false.")
    return value


def _payment_required(registration: Json, price: Json, role: str) -> ApiError:
    return ApiError(
        402, "payment_required",
        f"This change is billed ({price['amount_cents']} {price['currency']}).",
        price={**price, "role": role},
        portal_url=f"{PORTAL}/domains/{registration['id']}/{role}",
        remediation="Complete the purchase in the customer portal, or place the order "
                    "through the API.",
    )


def _tld_param(data: Json, source: Mapping[str, Any], *, required: bool) -> Json | None:
    """The TLD named by tld_id or tld_name (404 tld_not_found if unknown)."""
    tld_id, tld_name = source.get("tld_id"), source.get("tld_name")
    if tld_id not in (None, ""):
        tld = r.tld_by_id(data, tld_id)
        if tld is None:
            raise ApiError(404, "tld_not_found", f"No TLD with id {tld_id}.")
        return tld
    if tld_name not in (None, ""):
        tld = r.tld_by_name(data, str(tld_name))
        if tld is None:
            raise ApiError(404, "tld_not_found", f"No TLD named {tld_name}.")
        return tld
    if required:
        raise ApiError(422, "tld_required", "Pass tld_id or tld_name.")
    return None


def _query_dict(req: Request) -> dict[str, str]:
    return {key: values[0] for key, values in req.query.items() if values}


def _pick(primary: Mapping[str, Any], fallback: Mapping[str, Any], key: str) -> Any:
    """`key` from the nested object if there, else from the body around it: document
    001 lists some parameters without saying at which level they go."""
    return primary[key] if key in primary else fallback.get(key)


def _one_owner_source(source_id: Any, new_contact: Any) -> None:
    if (source_id is None) == (new_contact is None):
        raise invalid("Give exactly one of source_domain_contact_id and new_contact.")


# --- Contacts ---------------------------------------------------------------------------


def _contact_or_404(data: Json, req: Request) -> Json:
    contact = r.contact_by_id(data, req.params["id"])
    if contact is None:
        raise ApiError(404, "not_found", f"No domain contact with id {req.params['id']}.")
    return contact


def list_contacts(req: Request, data: Json) -> Response:
    query = (req.arg("q") or "").strip().lower()
    contacts = sorted(data["contacts"].values(), key=lambda c: c["id"])
    if query:
        def matches(contact: Json) -> bool:
            full_name = f"{contact['first_name']} {contact['last_name']}"
            names = [reg["name"] for reg in r.registrations_using(data, contact["id"])]
            haystack = [contact["handle"], contact["organization"], full_name, *names,
                        *(to_unicode(name) for name in names)]
            return any(query in value.lower() for value in haystack)

        contacts = [c for c in contacts if matches(c)]
    if req.arg("page") in (None, "") and req.arg("per_page") in (None, ""):
        # Asked for no page: the whole list, as document 001 shows it.
        return ok({"domain_contacts": [r.render_contact(c) for c in contacts]})
    # Paged like the registration list (docs/domain-api.md), by contact id.
    page = max(1, _page_param(req, "page", 1))
    per_page = min(MAX_PER_PAGE, max(1, _page_param(req, "per_page", DEFAULT_PER_PAGE)))
    start = (page - 1) * per_page
    more = start + per_page < len(contacts)
    return ok({
        "domain_contacts": [r.render_contact(c) for c in contacts[start:start + per_page]],
        "meta": {"page": page, "per_page": per_page, "total": len(contacts),
                 "next_page": page + 1 if more else None},
    })


def view_contact(req: Request, data: Json) -> Response:
    return ok({"domain_contact": r.render_contact(_contact_or_404(data, req)), "split": None})


def create_contact(req: Request, data: Json) -> Response:
    tld = _tld_param(data, req.body, required=True)
    assert tld is not None
    fields = r.require_valid_contact(req.body.get("domain_contact"), label="domain_contact")
    if not tld["registrar"]:
        raise ApiError(503, "registrar_unavailable",
                       f"No registrar is configured for .{tld['name']}.")
    contact = r.create_contact(data, fields, tld)
    return ok({"domain_contact": r.render_contact(contact)}, 201)


def _rejects(data: Json, registration: Json, contact: Json, changed: Json) -> bool:
    """Whether this registration's registry refuses the contact change (module doc)."""
    return (registration.get("owner_contact_id") == contact["id"]
            and r.tld_of(data, registration)["requires_contact_validation"]
            and any(name in changed for name in r.IDENTITY_FIELDS))


def update_contact(req: Request, data: Json) -> Response:
    contact = _contact_or_404(data, req)
    rules_tld = _tld_param(data, req.body, required=False)
    fields = r.require_valid_contact(req.body.get("domain_contact") or {}, partial=True,
                                     label="domain_contact")
    linked = r.registrations_using(data, contact["id"])
    # Only registrations at a registrar hold a registry copy of the contact to update;
    # one on a TLD without a registrar neither blocks nor refuses the change.
    at_registrar = [reg for reg in linked if r.tld_of(data, reg)["registrar"]]
    for registration in at_registrar:
        if "-busy" in r.magic_of(registration["name"]) or r.is_busy(data, registration):
            raise ApiError(409, "registration_busy",
                           f"A registrar process is in flight for {registration['name']}.")
    changed = {name: value for name, value in fields.items() if contact.get(name) != value}
    if not changed:
        return ok({"domain_contact": r.render_contact(contact), "split": None})
    for registration in at_registrar:
        _registrar_call(registration)
    if rules_tld is None:
        rules_tld = (r.tld_of(data, linked[0]) if linked
                     else r.tld_by_id(data, contact.get("tld_id")))
    if rules_tld is not None and rules_tld["requires_contact_validation"]:
        # The registry validates this contact: edited fields need verifying again.
        changed["validations"] = r.revalidated(contact, changed)

    rejecting = [reg for reg in at_registrar if _rejects(data, reg, contact, changed)]
    if rejecting and len(rejecting) == len(at_registrar):
        raise ApiError(422, "contact_invalid", "Every linked registry refused the change.",
                       violations=[{"field": name, "message": "cannot change in place; "
                                    "change the holder instead"}
                                   for name in r.IDENTITY_FIELDS if name in changed])
    if rejecting:
        return _split_contact(data, contact, changed, linked, rejecting)

    for registration in at_registrar:
        plan = _async_plan(data, registration, "update_contact")
        if plan is not None:
            process = r.open_process(
                data, registration, "update_contact",
                {"registration": registration["id"], "fields": {},
                 "contact": {"id": contact["id"], "fields": changed}},
                polls=plan[0], outcome=plan[1])
            return ok({"domain_contact": r.render_contact(contact), "split": None,
                       "pending_process": r.render_process(process)}, 202)
    r.apply_change(data, {"contact": {"id": contact["id"], "fields": changed}})
    return ok({"domain_contact": r.render_contact(contact), "split": None})


def _split_contact(data: Json, contact: Json, changed: Json, linked: list[Json],
                   rejecting: list[Json]) -> Response:
    """The original keeps the registrations that refused; a new contact with the
    change backs the rest."""
    fields = {name: contact[name] for name in r.CONTACT_FIELDS}
    fields.update({k: v for k, v in changed.items() if k in r.CONTACT_FIELDS})
    new = r.create_contact(data, fields, r.tld_by_id(data, contact.get("tld_id")),
                           split_from_id=contact["id"],
                           validations=changed.get("validations",
                                                   copy.deepcopy(contact["validations"])))
    moved = [reg for reg in linked if reg not in rejecting]  # incl. any not at a registrar
    now = r.now_iso()
    for registration in moved:
        for role in r.ROLES:
            if registration.get(f"{role}_contact_id") == contact["id"]:
                registration[f"{role}_contact_id"] = new["id"]
        registration["updated_at"] = now
    return ok({
        "domain_contact": r.render_contact(new),
        "split": {"original_contact": r.render_contact(contact),
                  "moved_registration_ids": [reg["id"] for reg in moved],
                  "kept_registration_ids": [reg["id"] for reg in rejecting]},
    })


def delete_contact(req: Request, data: Json) -> Response:
    contact = _contact_or_404(data, req)
    if r.registrations_using(data, contact["id"]):
        raise ApiError(422, "contact_in_use", "The contact is still used by a registration.")
    tld = _tld_param(data, _query_dict(req), required=False)
    if tld is None and r.tld_by_id(data, contact.get("tld_id")) is None:
        raise ApiError(422, "tld_required_for_orphan",
                       "This contact is pinned to no TLD: pass tld_id or tld_name.")
    del data["contacts"][str(contact["id"])]
    return no_content()


def resend_contact_verification_email(req: Request, data: Json) -> Response:
    _contact_or_404(data, req)
    return ok({"status": "queued"})


# --- Registrations: reads -----------------------------------------------------------------


def _page_param(req: Request, name: str, default: int) -> int:
    raw = req.arg(name)
    if raw in (None, ""):
        return default
    number = r.as_int(raw)
    if number is None:
        raise invalid(f"{name} must be a whole number.")
    return number


def list_registrations(req: Request, data: Json) -> Response:
    query = (req.arg("q") or "").strip().lower()
    registrations = sorted(data["registrations"].values(), key=lambda reg: reg["name"])
    if query:
        registrations = [reg for reg in registrations
                         if query in reg["name"] or query in to_unicode(reg["name"]).lower()]
    page = max(1, _page_param(req, "page", 1))
    per_page = min(MAX_PER_PAGE, max(1, _page_param(req, "per_page", DEFAULT_PER_PAGE)))
    start = (page - 1) * per_page
    chosen = registrations[start:start + per_page]
    more = start + per_page < len(registrations)
    return ok({
        "domain_registrations": [r.render_registration(data, reg) for reg in chosen],
        "meta": {"page": page, "per_page": per_page, "total": len(registrations),
                 "next_page": page + 1 if more else None},
    })


def view_registration(req: Request, data: Json) -> Response:
    registration = _registration(data, req)
    body = {"domain_registration": r.render_registration(data, registration),
            "dns_zone": copy.deepcopy(registration.get("dns_zone")),
            "linked_site": copy.deepcopy(registration.get("linked_site"))}
    if registration["transfer_out_pending"]:
        body["transfer_out"] = copy.deepcopy(registration.get("transfer_out"))
    return ok(body)


def _lookup(data: Json, raw: Any) -> tuple[str, Json]:
    """The normalised name and its TLD for check/orders (422 missing/invalid/unknown,
    503 when the TLD has no registrar)."""
    if not isinstance(raw, str) or not raw.strip():
        raise ApiError(422, "missing_domain", "Pass the domain to look up.")
    try:
        name = r.ascii_name(raw)
    except ValidationError:
        raise ApiError(422, "invalid_domain", f"“{raw}” is not a valid domain name.") from None
    tld = r.tld_by_name(data, name.rsplit(".", 1)[-1])
    if tld is None:
        raise ApiError(422, "unknown_tld", f"The TLD of {name} is not offered.")
    if not tld["registrar"]:
        raise ApiError(503, "registrar_unavailable",
                       f"No registrar is configured for .{tld['name']}.")
    return name, tld


def _is_premium(name: str) -> bool:
    return len(name.split(".", 1)[0]) <= PREMIUM_LABEL_LENGTH


def _create_price(tld: Json, name: str) -> Json | None:
    price = tld.get("create_price")
    if price and _is_premium(name):
        return {**price, "amount_cents": price["amount_cents"] * PREMIUM_FACTOR}
    return copy.deepcopy(price)


def _availability(data: Json, name: str, tld: Json) -> Json:
    owned = r.registration_by_name(data, name) is not None
    taken = owned or name in data["taken"]
    create_price = _create_price(tld, name)
    return {
        "domain": name,
        "available": not taken and create_price is not None,
        "premium": _is_premium(name),
        "owned_by_account": owned,
        "reason": "Domain exists" if taken else None,
        "create_price": create_price,
        "transfer_price": copy.deepcopy(tld.get("transfer_price")) if taken else None,
    }


def check(req: Request, data: Json) -> Response:
    name, tld = _lookup(data, req.body.get("domain"))
    return ok(_availability(data, name, tld))


def suggestions(req: Request, data: Json) -> Response:
    raw = req.body.get("domain")
    if not isinstance(raw, str) or not raw.strip():
        raise ApiError(422, "missing_domain", "Pass a name to base suggestions on.")
    try:
        name = r.ascii_name(raw, min_labels=1)
    except ValidationError:
        raise ApiError(422, "invalid_domain", f"“{raw}” is not a valid name.") from None
    label, _, asked_tld = name.partition(".")
    offered = sorted((t for t in data["tlds"].values() if t["registrar"] and t["create_price"]),
                     key=lambda t: (t["name"] != asked_tld, t["id"]))
    candidates = [f"{label}.{t['name']}" for t in offered]
    if offered:
        first = offered[0]["name"]
        candidates += [f"get{label}.{first}", f"{label}online.{first}"]
    results = []
    for candidate in candidates[:SUGGESTION_LIMIT]:
        tld = r.tld_by_name(data, candidate.rsplit(".", 1)[-1])
        assert tld is not None
        availability = _availability(data, candidate, tld)
        results.append({"domain": candidate, "tld": tld["name"],
                        "source": "premium" if availability["premium"] else "spinner",
                        "available": availability["available"],
                        "price": availability["create_price"]})
    return ok({"domain": name, "suggestions": results})


# --- Registrations: mutations ---------------------------------------------------------------


def update_registration(req: Request, data: Json) -> Response:
    registration, _ = _mutable(data, req)
    update = req.body.get("domain_registration")
    if not isinstance(update, Mapping) or "auto_renew" not in update:
        raise ApiError(400, "no_op", "No supported field in the update (only auto_renew).")
    auto_renew = _bool_param(dict(update), "auto_renew")
    if auto_renew:
        scenario = "enabled"
    else:
        deadline = r.parse_iso(registration.get("cancellation_deadline_at"))
        if deadline is not None and r.utc_now() > deadline:
            raise ApiError(422, "cancellation_window_passed",
                           "Auto-renew cannot be switched off after the cancellation window.")
        if deadline is not None:
            scenario = "refund_cancel"
        elif registration["status"] in ("expired", "redemption"):
            scenario = "late_cancel"
        else:
            scenario = "clean_cancel"
    pending = _commit(data, registration, "auto_renew", {"auto_renew": auto_renew},
                      extra={"scenario": scenario})
    return pending or _refreshed(data, registration, scenario=scenario)


def set_nameservers(req: Request, data: Json) -> Response:
    registration, _ = _mutable(data, req)
    raw = req.body.get("nameservers")
    given = [ns.strip() for ns in raw if isinstance(ns, str) and ns.strip()] \
        if isinstance(raw, list) else []
    if not given:
        raise ApiError(422, "nameservers_required", "Give at least one nameserver.")
    nameservers: list[str] = []
    for value in given:
        try:
            name = r.ascii_name(value)
        except ValidationError:
            raise invalid(f"“{value}” is not a host name.") from None
        if name not in nameservers:
            nameservers.append(name)
    pending = _commit(data, registration, "update_nameservers", {"nameservers": nameservers})
    return pending or _refreshed(data, registration)


def set_lock(req: Request, data: Json) -> Response:
    registration, tld = _mutable(data, req)
    locked = _bool_param(req.body, "locked")
    if not tld["supports_transfer_lock"]:
        raise ApiError(422, "lock_unsupported", f".{tld['name']} has no transfer lock.")
    if registration["server_transfer_prohibited"]:
        raise ApiError(422, "server_transfer_prohibited",
                       "The registry has prohibited transfers of this registration.")
    pending = _commit(data, registration, "transfer_lock", {"locked": locked})
    return pending or _refreshed(data, registration)


def set_privacy(req: Request, data: Json) -> Response:
    registration, tld = _mutable(data, req)
    enable = _bool_param(req.body, "privacy_protect")
    if not tld["supports_privacy"]:
        raise ApiError(422, "privacy_unsupported", f".{tld['name']} has no WHOIS privacy.")
    # Disabling is always free, and so is asking for what is already on.
    if enable and not registration["privacy_protect"] and tld.get("privacy_fee"):
        raise _payment_required(registration, tld["privacy_fee"], "privacy")
    pending = _commit(data, registration, "privacy", {"privacy_protect": enable})
    return pending or _refreshed(data, registration)


def set_dnssec(req: Request, data: Json) -> Response:
    registration, tld = _mutable(data, req)
    mode = req.body.get("mode")
    if mode not in ("enable", "disable", "add_keys"):
        raise ApiError(422, "invalid_mode", "mode must be enable, disable or add_keys.")
    if not tld["supports_dnssec"]:
        raise ApiError(422, "dnssec_unsupported", f".{tld['name']} does not support DNSSEC.")
    if mode == "disable":
        fields: Json = {"dnssec_enabled": False, "dnssec_keys": []}
    else:
        keys = r.parse_keys(req.body.get("key_data"))
        if not keys:
            raise ApiError(422, "dnssec_no_keys", f"{mode} needs key_data.")
        if mode == "add_keys":
            keys = registration["dnssec_keys"] + [k for k in keys
                                                  if k not in registration["dnssec_keys"]]
        fields = {"dnssec_enabled": True, "dnssec_keys": keys}
    pending = _commit(data, registration, "dnssec", fields)
    return pending or _refreshed(data, registration)


def set_holder(req: Request, data: Json) -> Response:
    registration, tld = _mutable(data, req)
    holder = req.body.get("holder_contact")
    if not isinstance(holder, Mapping):
        raise invalid("holder_contact is required.")
    mode = _pick(holder, req.body, "action_mode") or "edit_current"
    if mode == "edit_current":
        owner = r.contact_by_id(data, registration.get("owner_contact_id"))
        if owner is None:
            raise ApiError(422, "owner_contact_missing", "The registration has no holder.")
        fields = r.require_valid_contact(holder, partial=True, label="holder_contact")
        changed = {name: value for name, value in fields.items() if owner.get(name) != value}
        touched = sorted(r.validated_fields(owner) & changed.keys())
        if touched:
            if str(_pick(holder, req.body, "confirm_reverification")) != "1":
                raise ApiError(409, "reverification_required",
                               "The edit changes validated fields; confirm reverification.",
                               fields=touched)
            changed["validations"] = r.revalidated(owner, touched)
        pending = _commit(data, registration, "update_holder", {},
                          contact={"id": owner["id"], "fields": changed} if changed else None)
        return pending or _refreshed(data, registration)
    if mode != "change":
        raise invalid("action_mode must be edit_current or change.")
    source_id = _pick(holder, req.body, "source_domain_contact_id")
    new_contact = _pick(holder, req.body, "new_contact")
    _one_owner_source(source_id, new_contact)
    if source_id is not None:
        contact = r.contact_by_id(data, source_id)
        if contact is None:
            raise ApiError(404, "source_contact_not_found", f"No contact {source_id}.")
    else:
        fields = r.require_valid_contact(new_contact, label="new_contact")
    if tld.get("registrant_change_fee"):
        raise _payment_required(registration, tld["registrant_change_fee"],
                                "registrant_change")
    if source_id is None:
        contact = r.create_contact(data, fields, tld)
    pending = _commit(data, registration, "update_holder", {"owner_contact_id": contact["id"]})
    return pending or _refreshed(data, registration)


def set_role_contacts(req: Request, data: Json) -> Response:
    registration, tld = _mutable(data, req)
    fields: Json = {}
    to_create: dict[str, Json] = {}
    for role in ("admin", "tech", "billing"):
        choice = req.body.get(f"{role}_contact")
        if choice is None:
            continue
        if not isinstance(choice, Mapping):
            raise invalid(f"{role}_contact must be an object {{source}}.")
        source = choice.get("source")
        if source == "same_as_owner":
            if r.contact_by_id(data, registration.get("owner_contact_id")) is None:
                raise ApiError(422, "owner_contact_missing",
                               f"{role}: same_as_owner needs an owner contact.")
            fields[f"{role}_contact_id"] = registration["owner_contact_id"]
        elif source == "existing":
            wanted = choice.get("source_domain_contact_id",
                                req.body.get(f"{role}_source_domain_contact_id"))
            contact = r.contact_by_id(data, wanted)
            if contact is None:
                raise ApiError(404, "source_contact_not_found", f"{role}: no contact {wanted}.")
            fields[f"{role}_contact_id"] = contact["id"]
        elif source == "new":
            raw = choice.get("new_contact", req.body.get(f"{role}_new_contact"))
            try:
                to_create[role] = r.require_valid_contact(raw, label=f"{role}_new_contact")
            except ApiError as exc:
                for violation in exc.extra.get("violations", []):
                    violation["role"] = role
                raise
        else:
            raise invalid(f"{role}_contact.source must be same_as_owner, existing or new.")
    if not fields and not to_create:
        raise ApiError(400, "no_op", "No role contact in the update.")
    _registrar_call(registration)
    for role, contact_fields in to_create.items():
        fields[f"{role}_contact_id"] = r.create_contact(data, contact_fields, tld)["id"]
    pending = _commit(data, registration, "update_contacts", fields)
    return pending or _refreshed(data, registration)


def epp_code(req: Request, data: Json) -> Response:
    registration = _registration(data, req)
    tld = _require_registrar(data, registration)
    if registration["server_transfer_prohibited"]:
        raise ApiError(422, "server_transfer_prohibited",
                       "The registry has prohibited transfers of this registration.")
    if tld["authcode_behavior"] == "hidden":
        raise ApiError(422, "authcode_unavailable", f".{tld['name']} hides the auth code.")
    _registrar_call(registration, "authcode_unavailable")
    if tld["authcode_behavior"] == "emailed":
        # The registry mails it to the holder; there is nothing to show.
        return ok({"authcode": "", "delivery": "emailed"})
    return ok({"authcode": registration["authcode"]})


def force_sync(req: Request, data: Json) -> Response:
    registration = _registration(data, req)
    _require_registrar(data, registration)
    _registrar_call(registration)
    drift = registration.get("drift") or {}
    changed = sorted(key for key, value in drift.items() if registration.get(key) != value)
    registration.update(copy.deepcopy(drift))
    registration["drift"] = {}
    if changed:
        registration["updated_at"] = r.now_iso()
    return _refreshed(data, registration, changed=changed)


def transfer_out(req: Request, data: Json) -> Response:
    registration, _ = _mutable(data, req)
    if not registration["transfer_out_pending"]:
        raise ApiError(422, "no_pending_transfer_out", "No outbound transfer is pending.")
    decision = req.body.get("decision")
    if decision not in ("approve", "reject"):
        raise ApiError(422, "invalid_decision", "decision must be approve or reject.")
    fields: Json = {"transfer_out_pending": False, "transfer_out": None}
    if decision == "approve":
        fields["status"] = "transferred_out"
    pending = _commit(data, registration, "transfer_out", fields)
    return pending or _refreshed(data, registration)


def push_transfer(req: Request, data: Json) -> Response:
    registration, tld = _mutable(data, req)
    recipient = req.body.get("recipient")
    if not isinstance(recipient, str) or not recipient.strip():
        raise invalid("recipient is required (the destination registrar's handle).")
    if not tld["supports_push_transfer"]:
        raise ApiError(422, "push_transfer_unsupported",
                       f".{tld['name']} has no push transfers.")
    if registration["push_transfer_pending"]:
        raise ApiError(422, "push_transfer_in_progress", "A push transfer is already pending.")
    if registration["server_transfer_prohibited"] or registration["status"] in GONE:
        raise ApiError(422, "domain_not_transferable",
                       "The registry does not allow a transfer of this registration now.")
    pending = _commit(data, registration, "push_transfer",
                      {"push_transfer_pending": True,
                       "push_transfer_recipient": recipient.strip()})
    return pending or _refreshed(data, registration)


def resend_holder_verification(req: Request, data: Json) -> Response:
    registration = _registration(data, req)
    tld = _require_registrar(data, registration)
    if not tld["requires_contact_validation"] or r.contact_by_id(
            data, registration.get("owner_contact_id")) is None:
        raise ApiError(422, "verification_not_applicable",
                       "The TLD does not validate holders, or there is no holder.")
    _registrar_call(registration)
    return ok({"status": "queued"})


# --- Hosts ------------------------------------------------------------------------------


def _host_or_404(registration: Json, raw_name: str) -> Json:
    try:
        name = r.ascii_name(raw_name, min_labels=1)
    except ValidationError:
        name = raw_name.lower()
    host = next((h for h in registration["hosts"] if h["host_name"] == name), None)
    if host is None:
        raise ApiError(404, "not_found", f"No host {raw_name} on {registration['name']}.")
    return host


def list_hosts(req: Request, data: Json) -> Response:
    registration = _registration(data, req)
    return ok({"hosts": [r.render_host(h) for h in registration["hosts"]]})


def create_host(req: Request, data: Json) -> Response:
    registration, _ = _mutable(data, req)
    name = r.host_name_for(req.body.get("host_name"), registration["name"])
    if any(h["host_name"] == name for h in registration["hosts"]):
        raise ApiError(422, "host_exists", f"{name} already exists.")
    host = {"host_name": name, "addresses": r.parse_addresses(req.body.get("addresses"))}
    hosts = sorted([*registration["hosts"], host], key=lambda h: h["host_name"])
    pending = _commit(data, registration, "create_host", {"hosts": hosts})
    return pending or ok({"host": r.render_host(host)}, 201)


def update_host(req: Request, data: Json) -> Response:
    registration, _ = _mutable(data, req)
    current = _host_or_404(registration, req.params["host"])
    host = {"host_name": current["host_name"],
            "addresses": r.parse_addresses(req.body.get("addresses"))}
    hosts = [host if h["host_name"] == host["host_name"] else h for h in registration["hosts"]]
    pending = _commit(data, registration, "update_host", {"hosts": hosts})
    return pending or ok({"host": r.render_host(host)})


def delete_host(req: Request, data: Json) -> Response:
    registration, _ = _mutable(data, req)
    host = _host_or_404(registration, req.params["host"])
    hosts = [h for h in registration["hosts"] if h["host_name"] != host["host_name"]]
    pending = _commit(data, registration, "delete_host", {"hosts": hosts})
    return pending or no_content()


# --- Processes --------------------------------------------------------------------------


def _process_or_404(data: Json, req: Request) -> Json:
    registration = _registration(data, req)
    process = data["processes"].get(req.params["pid"])
    if process is None or process["registration_id"] != registration["id"]:
        raise ApiError(404, "not_found",
                       f"No process {req.params['pid']} on {registration['name']}.")
    return process


def list_processes(req: Request, data: Json) -> Response:
    registration = _registration(data, req)
    processes = [p for p in data["processes"].values()
                 if p["registration_id"] == registration["id"]]
    processes.sort(key=lambda p: (p["created_at"], r.as_int(p["id"]) or 0), reverse=True)
    return ok({"processes": [r.render_process(p) for p in processes]})


def view_process(req: Request, data: Json) -> Response:
    process = _process_or_404(data, req)
    r.poll_process(data, process)  # each view is a poll: it moves the process on
    return ok({"process": r.render_process(process), "log": copy.deepcopy(process["log"])})


def resend_process(req: Request, data: Json) -> Response:
    r.resend_process(data, _process_or_404(data, req))
    return ok({"status": "queued"})


def cancel_process(req: Request, data: Json) -> Response:
    r.cancel_process(data, _process_or_404(data, req))
    return ok({"status": "cancelled"})


# --- Orders -----------------------------------------------------------------------------


def _order_gates(req: Request) -> None:
    """Orders belong to a user who may place them, on an account that may order."""
    if req.token == SYSTEM_KEY_TOKEN:
        raise ApiError(401, "user_required",
                       "Orders need a user-scoped credential, not an account key.")
    if req.token == NO_ORDERS_TOKEN:
        raise ApiError(403, "forbidden", "This user may not create orders.")
    if req.account == TRIAL_ACCOUNT:
        raise ApiError(403, "trial_account", "Trial accounts cannot place orders.")


def _replayed(data: Json, req: Request, scope: str) -> Response | None:
    """The first answer again, for a retried request with the same Idempotency-Key."""
    key = req.idempotency_key
    order_id = data["idempotency"].get(f"{req.account}\n{scope}\n{key}") if key else None
    order = data["orders"].get(str(order_id)) if order_id is not None else None
    if order is None:
        return None
    return ok({"order": r.render_order(order), "cart": copy.deepcopy(order["cart"])}, 202)


def _owner_for_order(data: Json, body: Json) -> int | Json:
    """The new owner's contact id (existing) or validated fields (new); 422s."""
    source_id, new_contact = body.get("source_domain_contact_id"), body.get("new_contact")
    _one_owner_source(source_id, new_contact)
    if source_id is not None:
        contact = r.contact_by_id(data, source_id)
        if contact is None:
            raise ApiError(422, "source_contact_not_found", f"No contact {source_id}.")
        return contact["id"]
    return r.require_valid_contact(new_contact, label="new_contact")


def _pay(body: Json) -> None:
    """The off-session charge. Magic: a new contact's e-mail containing "payfail"."""
    new_contact = body.get("new_contact")
    if isinstance(new_contact, Mapping) and "payfail" in str(new_contact.get("email", "")).lower():
        raise ApiError(422, "cart_pay_failed", "The payment could not be initiated.")


def _place_order(data: Json, req: Request, scope: str, **fields: Any) -> Response:
    now = r.now_iso()
    order_id = r.next_id(data, "order")
    order = {"id": order_id, "status": "pending", "status_reason": "", "polls": 0,
             "process_id": None, "registration_id": None, "owner_contact_id": None,
             "years": None, "account": req.account, "created_at": now, "updated_at": now,
             "cart": {"id": r.next_id(data, "cart"), "status": "paid"}, **fields}
    data["orders"][str(order_id)] = order
    if req.idempotency_key:
        data["idempotency"][f"{req.account}\n{scope}\n{req.idempotency_key}"] = order_id
    return ok({"order": r.render_order(order), "cart": copy.deepcopy(order["cart"])}, 202)


def _line(kind: str, name: str, price: Json, years: int | None = None) -> Json:
    what = {"register": "Registration", "transfer": "Transfer", "renew": "Renewal",
            "registrant_change": "Registrant change"}[kind]
    period = f" ({years} year{'s' if years != 1 else ''})" if years else ""
    return {"description": f"{what} of {name}{period}", "domain": name, "role": kind,
            "years": years, "amount_cents": price["amount_cents"],
            "currency": price["currency"]}


def registrant_change(req: Request, data: Json) -> Response:
    _order_gates(req)
    replay = _replayed(data, req, f"registrant_change:{req.params['guid']}")
    if replay is not None:
        return replay
    registration, tld = _mutable(data, req)
    owner = _owner_for_order(data, req.body)
    fee = tld.get("registrant_change_fee")
    if not fee:
        raise ApiError(422, "no_registrant_change_price",
                       f"No registrant-change price is configured for .{tld['name']}.")
    _pay(req.body)
    _registrar_call(registration)
    owner_id = owner if isinstance(owner, int) else r.create_contact(data, owner, tld)["id"]
    polls, outcome = _async_plan(data, registration, "registrant_change") or (
        r.DEFAULT_POLLS, "COMPLETED")
    process = r.open_process(data, registration, "registrant_change",
                             {"registration": registration["id"],
                              "fields": {"owner_contact_id": owner_id}},
                             polls=polls, outcome=outcome)
    return _place_order(
        data, req, f"registrant_change:{registration['id']}", kind="registrant_change",
        domain=registration["name"], registration_id=registration["id"],
        process_id=process["id"], owner_contact_id=owner_id, total=copy.deepcopy(fee),
        line_items=[_line("registrant_change", registration["name"], fee)])


def order_domain(req: Request, data: Json) -> Response:
    _order_gates(req)
    replay = _replayed(data, req, "domain")
    if replay is not None:
        return replay
    body = req.body
    name, tld = _lookup(data, body.get("domain"))
    action = body.get("action")
    if action not in ("register", "transfer", "renew"):
        raise invalid("action must be register, transfer or renew.")
    years = body.get("years", 1)
    if isinstance(years, bool) or not isinstance(years, int) or not 1 <= years <= 10:
        raise invalid("years must be a whole number from 1 to 10.")
    availability = _availability(data, name, tld)
    owner: int | Json | None = None
    if action == "register":
        if not availability["available"]:
            raise ApiError(422, "domain_unavailable", f"{name} is not available.")
        price = availability["create_price"]
    elif action == "transfer":
        if availability["owned_by_account"] or name not in data["taken"]:
            raise ApiError(422, "domain_not_transferable",
                           f"{name} is not registered elsewhere, so it cannot be transferred "
                           "in.")
        if not isinstance(body.get("auth_code"), str) or not body["auth_code"].strip():
            raise invalid("auth_code is required for a transfer.")
        price = tld.get("transfer_price")
    else:
        if not availability["owned_by_account"]:
            raise ApiError(422, "domain_not_in_account", f"{name} is not in this account.")
        price = tld.get("renew_price")
    if action != "renew":
        owner = _owner_for_order(data, body)
    if not price:
        raise ApiError(422, "no_price", f"No {action} price is configured for .{tld['name']}.")
    total = {"amount_cents": price["amount_cents"] * years, "currency": price["currency"]}
    if "max_total" in body and body["max_total"] is not None:
        ceiling = r.parse_money(body["max_total"], "max_total")
        assert ceiling is not None
        if ceiling["currency"] != total["currency"] or total["amount_cents"] > ceiling[
                "amount_cents"]:
            raise ApiError(409, "price_changed", "The price is above max_total.", price=total)
    _pay(body)
    owner_id = owner if isinstance(owner, int) or owner is None else r.create_contact(
        data, owner, tld)["id"]
    line = {**_line(action, name, price, years), "amount_cents": total["amount_cents"]}
    return _place_order(data, req, "domain", kind=action, domain=name, years=years,
                        owner_contact_id=owner_id, total=total, line_items=[line])


def view_order(req: Request, data: Json) -> Response:
    order = data["orders"].get(req.params["id"])
    if order is None:
        raise ApiError(404, "not_found", f"No order {req.params['id']}.")
    r.poll_order(data, order)  # each view is a poll, as for processes
    return ok({"order": r.render_order(order)})
