"""Document 001's wire shapes: answers parsed into the provider records, and its error
body and code table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from registrar.providers.base import (
    ContactRecord,
    Money,
    ProcessInfo,
    RegistrationRecord,
)
from registrar.providers.errors import (
    AuthcodeUnavailable,
    AuthenticationFailed,
    BadRequest,
    Conflict,
    ContactInvalid,
    InvalidRequest,
    NotFound,
    PaymentRequiredError,
    PermissionDenied,
    ProviderError,
    RegistrationBusy,
    ReverificationRequired,
    ServiceUnavailable,
    TransferProhibited,
    Unsupported,
    UpstreamFailure,
    error_for,
)
from registrar.providers.http import parse_timestamp

CONTACT_FIELDS = ("first_name", "last_name", "organization", "street_address", "post_code",
                  "city", "state", "country", "email", "phone", "extra_properties")


# --- Parsing upstream shapes into mirror field values --------------------------------


def parse_contact(data: Mapping[str, Any]) -> ContactRecord:
    fields = {
        "upstream_id": data["id"],
        "handle": data.get("handle") or "",
        **{name: data.get(name) or "" for name in CONTACT_FIELDS if name != "extra_properties"},
        "extra_properties": data.get("extra_properties") or {},
        "validations": data.get("validations") or [],
        "upstream_created_at": parse_timestamp(data.get("created_at")),
        "upstream_updated_at": parse_timestamp(data.get("updated_at")),
    }
    return ContactRecord(fields=fields, split_from_upstream_id=data.get("split_from_id"),
                         raw=dict(data))


_SCALARS = ("name", "status", "auto_renew", "locked", "privacy_protect", "dnssec_enabled",
            "server_transfer_prohibited", "local_contact_active", "within_cancellation_window",
            "pending_async", "transfer_out_pending", "push_transfer_pending")


def parse_money(value: Any) -> Money | None:
    """{amount_cents, currency} as Money; None when absent."""
    if not isinstance(value, Mapping) or value.get("amount_cents") is None:
        return None
    return Money(int(value["amount_cents"]), str(value.get("currency", "")).upper())


def parse_registration(data: Mapping[str, Any]) -> RegistrationRecord:
    fields: dict[str, Any] = {"upstream_id": data["id"]}
    for name in _SCALARS:
        if name in data:
            fields[name] = data[name]
    fields.update(
        expires_at=parse_timestamp(data.get("expires_at")),
        cancellation_deadline_at=parse_timestamp(data.get("cancellation_deadline_at")),
        nameservers=list(data.get("nameservers") or []),
        rtr_process_id=str(data.get("rtr_process_id") or ""),
        rtr_process_status=data.get("rtr_process_status") or "",
        subscription_id=data.get("subscription_id") or "",
        upstream_created_at=parse_timestamp(data.get("created_at")),
        upstream_updated_at=parse_timestamp(data.get("updated_at")),
    )
    contacts = {
        role: parse_contact(data[f"{role}_contact"]) if data.get(f"{role}_contact") else None
        for role in ("owner", "admin", "tech", "billing")
    }
    fees = {name: parse_money(value) for name, value in (data.get("fees") or {}).items()}
    return RegistrationRecord(fields=fields, tld=dict(data.get("tld") or {}), contacts=contacts,
                              feature_flags=dict(data.get("feature_flags") or {}), fees=fees,
                              raw=dict(data))


def parse_process(data: Mapping[str, Any]) -> ProcessInfo:
    return ProcessInfo(id=str(data["id"]), status=str(data.get("status", "")),
                       action=str(data.get("action", "")), raw=dict(data))

# Every code document 001 lists: (status, class, message safe for staff).
# A code that appears with two statuses (source_contact_not_found 404/422,
# authcode_unavailable 422/502, registrar_unavailable 502/503) is keyed by both.
KNOWN_CODES: dict[tuple[int, str], tuple[type[ProviderError], str]] = {
    (400, "missing_account_header"): (
        BadRequest, "The request did not say which account it is for (X-Auth-Account)."),
    (400, "no_op"): (BadRequest, "The update contained no supported field."),
    (401, "user_required"): (
        AuthenticationFailed,
        "This needs a user-scoped credential: the account key cannot place orders."),
    (401, "unauthorized"): (AuthenticationFailed, "The registrar rejected our API token."),
    (402, "payment_required"): (PaymentRequiredError, "The registrar requires payment for this."),
    (403, "forbidden"): (PermissionDenied, "The API user may not place orders."),
    (403, "trial_account"): (PermissionDenied, "Trial accounts cannot place orders."),
    (404, "tld_not_found"): (NotFound, "The registrar does not know that TLD."),
    (404, "source_contact_not_found"): (
        NotFound, "That contact does not exist or is not used in this account."),
    (404, "not_found"): (NotFound, "The registrar does not know this object."),
    (409, "registration_busy"): (RegistrationBusy, RegistrationBusy.default_message),
    (409, "reverification_required"): (
        ReverificationRequired, ReverificationRequired.default_message),
    (422, "missing_domain"): (InvalidRequest, "Enter a domain name."),
    (422, "invalid_domain"): (InvalidRequest, "That is not a valid domain name."),
    (422, "unknown_tld"): (InvalidRequest, "The registrar does not offer that TLD."),
    (422, "cancellation_window_passed"): (
        InvalidRequest,
        "Auto-renew can no longer be switched off: the cancellation window has passed."),
    (422, "nameservers_required"): (InvalidRequest, "Give at least one nameserver."),
    (422, "lock_unsupported"): (Unsupported, "This TLD does not support a transfer lock."),
    (422, "server_transfer_prohibited"): (
        TransferProhibited,
        "The registry prohibits transfers of this registration (serverTransferProhibited)."),
    (422, "privacy_unsupported"): (Unsupported, "This TLD does not support WHOIS privacy."),
    (422, "invalid_mode"): (InvalidRequest, "Unknown DNSSEC mode."),
    (422, "dnssec_no_keys"): (InvalidRequest, "DNSSEC needs at least one key."),
    (422, "source_contact_not_found"): (
        InvalidRequest, "That contact does not exist or is not owned by this account."),
    (422, "contact_invalid"): (ContactInvalid, "The registrar refused the new holder contact."),
    (422, "no_registrant_change_price"): (
        InvalidRequest, "No registrant-change price is configured for this account and TLD."),
    (422, "cart_pay_failed"): (
        InvalidRequest, "The payment could not be started; no change was ordered."),
    (422, "owner_contact_missing"): (
        InvalidRequest, "“Same as owner” needs an owner contact on the registration."),
    (422, "authcode_unavailable"): (
        AuthcodeUnavailable, "This TLD does not hand out the auth code through the API."),
    (502, "authcode_unavailable"): (
        AuthcodeUnavailable, "The registrar failed to return the auth code; try again later."),
    (422, "no_pending_transfer_out"): (
        InvalidRequest, "There is no outbound transfer waiting for a decision."),
    (422, "invalid_decision"): (InvalidRequest, "The decision must be approve or reject."),
    (422, "push_transfer_unsupported"): (Unsupported, "This TLD does not support push transfers."),
    (422, "push_transfer_in_progress"): (
        InvalidRequest, "A push transfer is already in progress for this registration."),
    (422, "domain_not_transferable"): (
        InvalidRequest, "The registry says this registration cannot be transferred now."),
    (422, "verification_not_applicable"): (
        InvalidRequest,
        "Verification does not apply: the TLD does not require it or there is no owner contact."),
    (422, "contact_in_use"): (
        InvalidRequest, "The contact is still used by a registration and cannot be deleted."),
    (422, "tld_required_for_orphan"): (
        InvalidRequest, "This contact backs no registration: say which TLD's rules apply."),
    # Not in document 001: codes of the parts docs/domain-api.md designs.
    (409, "price_changed"): (
        Conflict, "The price changed since it was quoted; nothing was charged."),
    (422, "invalid_host_name"): (
        InvalidRequest, "The host name must be a subdomain of the registration."),
    (422, "invalid_address"): (InvalidRequest, "An address is not a valid IP address."),
    (422, "host_exists"): (InvalidRequest, "A host with that name already exists."),
    (502, "registrar_unavailable"): (
        UpstreamFailure, "The registrar is not answering; try later."),
    (502, "upstream_error"): (UpstreamFailure, UpstreamFailure.default_message),
    (503, "feature_disabled"): (
        ServiceUnavailable, "Domain registration is switched off for this account upstream."),
    (503, "registrar_unavailable"): (
        ServiceUnavailable, "No registrar is configured upstream for this TLD."),
    (503, "missing_api_key"): (
        ServiceUnavailable, "The registration service is missing its own registrar key."),
}

#: 503s that mean configuration upstream: retrying soon will not help.
CONFIGURATION_CODES = frozenset({"feature_disabled", "missing_api_key", "registrar_unavailable"})


def parse_error(status: int, body: Any, text: str, request_id: str) -> ProviderError:
    """Document 001's error body: {"errors": [...], "code": "..."}; 402 adds a price."""
    body = body if isinstance(body, Mapping) else {}
    errors = body.get("errors") or []
    code = str(body.get("code") or "")
    error = error_for(
        status,
        code,
        known=KNOWN_CODES,
        retryable=False if status == 503 and code in CONFIGURATION_CODES else None,
        # A 503 of configuration is the service refusing before any registrar is asked.
        documented=True if status == 503 and code in CONFIGURATION_CODES else None,
        upstream_message="; ".join(str(e) for e in errors) if isinstance(errors, list)
        else str(errors),
        request_id=request_id,
        violations=body.get("violations") if isinstance(body.get("violations"), list) else None,
        details={key: body[key] for key in ("price", "portal_url", "remediation") if key in body},
    )
    return error
