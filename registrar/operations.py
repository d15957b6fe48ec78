"""The shape every upstream operation shares: refusals, the outcome, and the audited call.

Services in registrar/ and contacts/ describe *what* to send; this module does the
parts that must be identical everywhere:

- permission first;
- refusals before any HTTP;
- the provider call;
- one audit row, in the same transaction as the mirror change;
- a failure that leaves the mirror untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError

from backoffice import audit
from backoffice.models import StaffAction
from registrar.providers.base import PaymentRequired
from registrar.providers.errors import ProviderError
from registrar.values.text import validate_text

Outcomes = StaffAction.Outcome


class OperationRefused(Exception):
    """Refused before anything was sent upstream. `message` is for staff."""

    code = "refused"

    def __init__(self, message: str, *, code: str | None = None,
                 field_errors: Mapping[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.field_errors = dict(field_errors or {})


class RegistrationBusy(OperationRefused):
    code = "registration_busy"


class OperationUnsupported(OperationRefused):
    code = "unsupported"


class InvalidInput(OperationRefused):
    code = "invalid_input"


def checked_text(value: object, field_name: str, *, max_length: int,
                 multiline: bool = False) -> str:
    """`value` stripped, when it obeys the free-text rule (registrar/values/text.py);
    else InvalidInput naming `field_name`. For the text a service takes from any entry
    point (a reason, a note, a ticket), so a command is held to what a form is."""
    try:
        return validate_text(("" if value is None else str(value)).strip(),
                             max_length=max_length, multiline=multiline)
    except ValidationError as refusal:
        raise InvalidInput(f"{field_name.replace('_', ' ').capitalize()}: "
                           f"{refusal.messages[0]}",
                           field_errors={field_name: refusal.messages}) from None


@dataclass(frozen=True)
class Outcome:
    """What happened, for the caller to show. `status` is a StaffAction outcome."""

    status: str
    message: str
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    process: Any = None
    payment: PaymentRequired | None = None
    error: ProviderError | None = None
    data: dict[str, Any] = field(default_factory=dict)
    audit_row: StaffAction | None = None

    @property
    def ok(self) -> bool:
        return self.status in {Outcomes.SUCCEEDED, Outcomes.PENDING}


def require_permission(actor, permission: str) -> None:
    if actor is None or not actor.is_active or not actor.has_perm(permission):
        raise PermissionDenied(f"You do not have permission for this ({permission}).")


def record_failure(*, actor, action: str, target, parameters: Mapping[str, Any],
                   error: ProviderError) -> Outcome:
    """The upstream refused or failed: audit it, change nothing, say so plainly."""
    row = audit.record(
        actor=actor, action=action, target=target, parameters=parameters,
        outcome=Outcomes.FAILED, upstream_status=error.status, upstream_code=error.code,
        upstream_request_id=error.request_id, message=error.message,
    )
    return Outcome(status=Outcomes.FAILED, message=error.message, error=error, audit_row=row)


def record_payment_required(*, actor, action: str, target, parameters: Mapping[str, Any],
                            payment: PaymentRequired, what: str) -> Outcome:
    from registrar.money import format_minor

    price = format_minor(payment.price.amount_minor, payment.price.currency)
    message = (f"{what} costs {price} on this TLD. Nothing was changed: the customer pays "
               f"in the billing portal first.")
    if not payment.portal_url:
        # The adapter keeps only an https link with a host (never javascript: or http:).
        message += " The registrar sent no usable billing-portal link."
    row = audit.record(
        actor=actor, action=action, target=target,
        parameters={**parameters, "price": {"amount_minor": payment.price.amount_minor,
                                            "currency": payment.price.currency},
                    "portal_url": payment.portal_url},
        outcome=Outcomes.PAYMENT_REQUIRED, upstream_status=402, upstream_code="payment_required",
        upstream_request_id=payment.request_id, message=message,
    )
    return Outcome(status=Outcomes.PAYMENT_REQUIRED, message=message, payment=payment,
                   audit_row=row)


@dataclass(frozen=True)
class Settled:
    """What reading an object again, after an outcome that is not known, showed.

    `settled`: it was read, and the mirror now equals the upstream; `applied`: the
    change is in effect (True), is not (False), or the read cannot tell (None)."""

    settled: bool
    message: str
    applied: bool | None = None
    changes: dict[str, Any] = field(default_factory=dict)


Settle = Callable[[ProviderError], Settled]


def record_unknown(*, actor, action: str, target, parameters: Mapping[str, Any],
                   error: ProviderError, settled: Settled | None) -> Outcome:
    """The request left and no usable answer came back: say that the upstream may have
    applied it, and what reading the object again showed, in one audit row."""
    reread = settled.message if settled is not None else (
        "It cannot be read again from here: check it at the registrar before anyone "
        "tries again.")
    message = f"{error.message} {reread}"
    reread_parameters = {"settled": bool(settled and settled.settled),
                         "applied": settled.applied if settled else None}
    if settled is not None and settled.changes:
        from registrar.sync import changes_for_audit

        reread_parameters["changes"] = changes_for_audit(settled.changes)
    row = audit.record(
        actor=actor, action=action, target=target,
        parameters={**parameters, "reread": reread_parameters},
        outcome=Outcomes.UNKNOWN, upstream_status=error.status, upstream_code=error.code,
        upstream_request_id=error.request_id, message=message,
    )
    return Outcome(status=Outcomes.UNKNOWN, message=message, error=error, audit_row=row,
                   changes=dict(settled.changes) if settled else {},
                   data={"settled": bool(settled and settled.settled),
                         "applied": settled.applied if settled else None})


def call_upstream(call: Callable[[], Any], *, actor, action: str, target,
                  parameters: Mapping[str, Any], settle: Settle | None = None
                  ) -> Any | Outcome:
    """Run `call`; a ProviderError becomes an audited Outcome instead of escaping: a
    failure when nothing was applied, or, when the outcome is not known, the object read
    again at once with `settle` and an "unknown" outcome that says what it showed."""
    try:
        return call()
    except ProviderError as error:
        if error.outcome_unknown:
            return record_unknown(actor=actor, action=action, target=target,
                                  parameters=parameters, error=error,
                                  settled=settle(error) if settle is not None else None)
        return record_failure(actor=actor, action=action, target=target,
                              parameters=parameters, error=error)
