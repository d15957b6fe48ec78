"""The provider interface: capabilities, result types and the error hierarchy.

Every upstream adapter speaks its own wire format and answers in these terms, so
services never see httpx, status codes or provider-specific error bodies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar


class Capability(StrEnum):
    LOCK = "lock"
    PRIVACY = "privacy"
    DNSSEC = "dnssec"
    AUTO_RENEW = "auto_renew"
    HOLDER_EDIT = "holder_edit"
    HOLDER_CHANGE = "holder_change"
    REGISTRANT_CHANGE_ORDER = "registrant_change_order"
    ROLE_CONTACTS = "role_contacts"
    NAMESERVERS = "nameservers"
    HOSTS = "hosts"
    AUTH_CODE = "auth_code"
    TRANSFER_OUT_DECISION = "transfer_out_decision"
    PUSH_TRANSFER = "push_transfer"
    VERIFICATION_RESEND = "verification_resend"
    FORCE_SYNC = "force_sync"
    PROCESSES = "processes"
    CONTACTS = "contacts"
    ORDERS = "orders"
    AVAILABILITY = "availability"
    DNS_RECORDS = "dns_records"
    BILLING_LINK = "billing_link"


# --- Results of a mutation --------------------------------------------------


@dataclass(frozen=True)
class Money:
    amount_minor: int
    currency: str


@dataclass(frozen=True)
class ProcessInfo:
    """An upstream asynchronous process, as the 202 (or a poll) described it."""

    id: str
    status: str
    action: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Done:
    """The upstream applied the change. `changes` are mirror field values to apply;
    `record` is the refreshed upstream object when the answer carried one (the mirror
    applies it whole); `body` is the parsed response for callers that need more
    (scenario, changed, ...)."""

    changes: dict[str, Any] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)
    request_id: str = ""
    record: Any = None


@dataclass(frozen=True)
class Pending:
    """The upstream accepted the change and opened a process (HTTP 202)."""

    process: ProcessInfo
    body: dict[str, Any] = field(default_factory=dict)
    request_id: str = ""
    record: Any = None


@dataclass(frozen=True)
class PaymentRequired:
    """A fee gate (HTTP 402): nothing changed; staff see the price and the portal link."""

    price: Money
    portal_url: str
    role: str = ""
    remediation: str = ""
    request_id: str = ""


Result = Done | Pending | PaymentRequired


# --- Errors -------------------------------------------------------------------


class ProviderError(Exception):
    """An upstream call that did not succeed.

    `message` is safe to show staff (no secrets, no raw bodies); `code` is the
    upstream's machine code (or ours for transport failures); `retryable` says whether
    trying the same call again later may succeed.
    """

    default_message: ClassVar[str] = "The registrar refused the request."
    retryable_by_default: ClassVar[bool] = False

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str = "",
        status: int | None = None,
        retryable: bool | None = None,
        request_id: str = "",
        violations: list[dict[str, Any]] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.code = code
        self.status = status
        self.retryable = self.retryable_by_default if retryable is None else retryable
        self.request_id = request_id
        self.violations = violations or []
        self.details = details or {}
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, status={self.status!r})"


class BadRequest(ProviderError):
    default_message = "The registrar could not understand the request."


class AuthenticationFailed(ProviderError):
    default_message = "The registrar did not accept our credentials."


class PermissionDenied(ProviderError):
    default_message = "The registrar does not allow this account to do that."


class PaymentRequiredError(ProviderError):
    """A 402 where no fee gate was expected; mutations turn 402 into `PaymentRequired`."""

    default_message = "The registrar requires payment for this."


class NotFound(ProviderError):
    default_message = "The registrar does not know this object."


class Conflict(ProviderError):
    default_message = "The registrar reports a conflicting state."


class RegistrationBusy(Conflict):
    default_message = (
        "A registrar process is already running for this registration. "
        "Wait for it to finish, then try again."
    )
    retryable_by_default = True


class ReverificationRequired(Conflict):
    default_message = (
        "This change touches validated holder fields: confirm that the holder will be "
        "asked to verify them again."
    )


class InvalidRequest(ProviderError):
    """422: the registrar refused the input or the operation for this object."""

    default_message = "The registrar refused the change."


class Unsupported(InvalidRequest):
    default_message = "This TLD does not support that operation."


class TransferProhibited(InvalidRequest):
    default_message = "The registry prohibits transfers of this registration."


class AuthcodeUnavailable(ProviderError):
    default_message = "The auth code is not available for this registration."


class ContactInvalid(InvalidRequest):
    default_message = "The registrar refused the contact."


class RateLimited(ProviderError):
    default_message = "The registrar is rate-limiting us; try again shortly."
    retryable_by_default = True


class UpstreamFailure(ProviderError):
    """502/5xx: the registrar behind the API failed."""

    default_message = "The registrar failed to answer. Nothing was changed; try again later."
    retryable_by_default = True


class ServiceUnavailable(ProviderError):
    default_message = "The registration service is unavailable right now."
    retryable_by_default = True


class TransportError(ProviderError):
    """No usable answer at all: timeout, refused connection, broken response."""

    default_message = "The registrar could not be reached. Nothing was changed; try again later."
    retryable_by_default = True


class MalformedResponse(ProviderError):
    default_message = "The registrar sent an answer we could not read."
    retryable_by_default = True


class ConfigurationError(ProviderError):
    """Our side is not set up to call this provider (no account, no secret, ...)."""

    default_message = "This provider is not configured."


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
        UpstreamFailure, "The registrar is not answering. Nothing was changed; try later."),
    (502, "upstream_error"): (UpstreamFailure, UpstreamFailure.default_message),
    (503, "feature_disabled"): (
        ServiceUnavailable, "Domain registration is switched off for this account upstream."),
    (503, "registrar_unavailable"): (
        ServiceUnavailable, "No registrar is configured upstream for this TLD."),
    (503, "missing_api_key"): (
        ServiceUnavailable, "The registration service is missing its own registrar key."),
}

_BY_STATUS: dict[int, type[ProviderError]] = {
    400: BadRequest,
    401: AuthenticationFailed,
    402: PaymentRequiredError,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    422: InvalidRequest,
    429: RateLimited,
}

def error_for(
    status: int,
    code: str = "",
    *,
    upstream_message: str = "",
    request_id: str = "",
    violations: list[dict[str, Any]] | None = None,
    details: dict[str, Any] | None = None,
) -> ProviderError:
    """Build the right ProviderError for an HTTP status and upstream code.

    Known codes get their own class and message; unknown ones fall back on the status.
    The upstream's own message is kept in `details` (for logs), not shown to staff.
    """
    known = KNOWN_CODES.get((status, code))
    if known:
        cls, message = known
    else:
        cls = _BY_STATUS.get(status) or (UpstreamFailure if status >= 500 else ProviderError)
        message = cls.default_message
    retryable = None
    if status == 503 and code in {"feature_disabled", "missing_api_key", "registrar_unavailable"}:
        retryable = False  # configuration upstream: retrying soon will not help
    elif status >= 500:
        retryable = True  # the registrar failed this time (e.g. 502 authcode_unavailable)
    return cls(
        message,
        code=code or f"http_{status}",
        status=status,
        retryable=retryable,
        request_id=request_id,
        violations=violations,
        details={**(details or {}), "upstream_message": upstream_message},
    )


class Provider:
    """Base of every adapter. Subclasses declare `capabilities` and implement the
    methods for them; callers check `supports()` before offering an operation."""

    kind: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[Capability]] = frozenset()

    def supports(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def ping(self) -> None:
        """The cheapest authorised read: raises ProviderError if unreachable or refused."""
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - overridden where there is a client
        pass
