"""The error hierarchy every adapter raises, and the mapping of an HTTP status (and an
upstream's own code table) to it.

`ProviderError.message` is always safe to show staff; what the upstream said is kept in
`details` for the logs. Each upstream package owns its table of documented codes and
passes it to `error_for`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class ProviderError(Exception):
    """An upstream call that did not succeed.

    `message` is safe to show staff (no secrets, no raw bodies); `code` is the
    upstream's machine code (or ours for transport failures); `retryable` says whether
    trying the same call again later may succeed.
    """

    default_message: ClassVar[str] = "The registrar refused the request."
    retryable_by_default: ClassVar[bool] = False
    #: Set by the HTTP layer on a write whose request left and got no usable answer: the
    #: upstream may have applied it. Staff are told so, and the object is read again
    #: before the same change can be sent again.
    outcome_unknown: bool = False
    #: What came back instead of an answer, when the outcome is unknown.
    unknown_reason: str = ""

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
        documented: bool | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.code = code
        self.status = status
        self.retryable = self.retryable_by_default if retryable is None else retryable
        self.request_id = request_id
        self.violations = violations or []
        self.details = details or {}
        # The answer says what happened: a refusal the upstream documents (every 4xx),
        # or an outcome an adapter knows (a 503 that only gates, a 502 that refunded).
        # An undocumented 5xx says nothing about whether the change was applied.
        self.documented = (status is not None and 400 <= status < 500) if documented is None \
            else documented
        super().__init__(self.message)

    @property
    def not_applied(self) -> bool:
        """Known to have changed nothing upstream: refused, or never sent."""
        return not self.outcome_unknown and (self.documented or self.status is None)

    def mark_unknown(self, reason: str) -> None:
        """The request left and no usable answer came back (`reason`): the upstream may
        have applied it."""
        self.outcome_unknown = True
        self.unknown_reason = reason
        self.retryable = False  # never again without first reading what happened
        self.message = (f"No usable answer came back from the registrar ({reason}), after the "
                        "request was sent: it may have applied the change.")

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
    """502/5xx: the registrar behind the API failed (on a write, whether it applied the
    change first is not known: see `outcome_unknown`)."""

    default_message = "The registrar failed to answer; try again later."
    retryable_by_default = True


class ServiceUnavailable(ProviderError):
    default_message = "The registration service is unavailable right now."
    retryable_by_default = True


class TransportError(ProviderError):
    """No usable answer at all: timeout, refused connection, broken response. Only a
    connection that was never made (code connect_error) is known to have sent nothing."""

    default_message = "The registrar could not be reached. Nothing was sent; try again later."
    retryable_by_default = True


class MalformedResponse(ProviderError):
    default_message = "The registrar sent an answer we could not read."
    retryable_by_default = True


class ConfigurationError(ProviderError):
    """Our side is not set up to call this provider (no account, no secret, ...)."""

    default_message = "This provider is not configured."


class QuoteRefused(ProviderError):
    """An order that cannot be placed as asked (not available, not owned, a pricing rule
    forbids it), refused before anything was sent that costs money. `rule` names why.

    A `ProviderError` (not a ValueError) so the services show its message to staff like
    any other refusal, and so an adapter's parse guard does not mistake it for a
    malformed answer."""

    default_message = "This order cannot be placed."

    # `rule` has a default only so the exception survives pickling (Celery results).
    def __init__(self, message: str | None = None, *, rule: str = "",
                 code: str = "quote_refused") -> None:
        super().__init__(message, code=code, retryable=False, details={"rule": rule})
        self.rule = rule

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rule={self.rule!r})"


class PriceMoved(QuoteRefused):
    """The re-check right before placing disagrees with the quote: nothing was sent."""

    default_message = "The price or availability changed since it was quoted; nothing was bought."

    def __init__(self, message: str | None = None, *, rule: str = "price_moved",
                 code: str = "price_changed") -> None:
        super().__init__(message, rule=rule, code=code)


class CallerError(ValueError):
    """The caller passed arguments the endpoint cannot take: a bug here, not upstream."""


#: (status, upstream code) -> (class, message safe for staff)
CodeTable = Mapping[tuple[int, str], tuple[type[ProviderError], str]]

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
    known: CodeTable | None = None,
    upstream_message: str = "",
    request_id: str = "",
    violations: list[dict[str, Any]] | None = None,
    details: dict[str, Any] | None = None,
    retryable: bool | None = None,
    documented: bool | None = None,
) -> ProviderError:
    """Build the right ProviderError for an HTTP status and upstream code.

    Codes in the upstream's `known` table get their own class and message; others fall
    back on the status. A 5xx is retryable unless the caller says otherwise (the
    registrar failed this time). The upstream's own message is kept in `details` (for
    logs), not shown to staff.
    """
    entry = (known or {}).get((status, code))
    if entry:
        cls, message = entry
    else:
        cls = _BY_STATUS.get(status) or (UpstreamFailure if status >= 500 else ProviderError)
        message = cls.default_message
    if retryable is None and status >= 500:
        retryable = True
    return cls(
        message,
        code=code or f"http_{status}",
        status=status,
        retryable=retryable,
        request_id=request_id,
        violations=violations,
        details={**(details or {}), "upstream_message": upstream_message},
        documented=documented,
    )
