"""Step-up and two-person approval for the operations that take a domain away.

Social engineers aim at registrar staff: one agent talked into it could change the
holder's e-mail, unlock the domain and read out its auth code. So:

- **step-up**: the high-risk operations need a second factor given within the last
  few minutes (`STEP_UP_MAX_AGE_SECONDS`), whoever asks and however (web, command line);
- **two-person approval**: some of them (the rules below, chosen by
  `TWO_PERSON_OPERATIONS`) run only once a second person holding the approve permission
  has approved the request within `APPROVAL_WINDOW_SECONDS`. The request says which
  ticket it is for and how the customer was verified; the approval runs it, and its
  audit row names both people.

The services call `clear()` before they lock the row; the refusals are OperationRefused
like any other, so every entry point shows them the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from backoffice import assurance, audit
from registrar.models import Approval, ApprovalStatus, Registration
from registrar.operations import (
    OperationRefused,
    Outcome,
    Outcomes,
    checked_text,
    require_permission,
)

#: How the customer was verified, or why a request is declined: a few sentences.
NOTE_MAX_LENGTH = 1000

APPROVE_PERMISSION = "registrar.approve_operation"

#: The two-person rules, by the name TWO_PERSON_OPERATIONS uses.
RULES: dict[str, str] = {
    # The back-office's registry lock. (A lock the registry itself holds,
    # serverTransferProhibited, cannot be lifted here at all: see unavailable_reason.)
    "unlock_protected": "Unlocking a registration under the customer's extra-verification "
                        "flag",
    "registrant_change": "A paid registrant change",
    "transfer_out_approve": "Approving an outbound transfer",
    "push_transfer": "A push transfer",
    "auth_code_flagged": "Revealing the auth code of a registration with the customer's "
                         "extra-verification flag",
    # Off by default; a registrar that wants them adds them to TWO_PERSON_OPERATIONS.
    "unlock": "Any unlock",
    "holder_change": "Any holder change",
    "auth_code": "Any auth-code reveal",
}


class ApprovalRequired(OperationRefused):
    code = "approval_required"


class ApprovalUnusable(OperationRefused):
    code = "approval_unusable"


class StepUpRequired(OperationRefused):
    code = "step_up_required"


@dataclass(frozen=True)
class Clearance:
    """What an entry point brings beyond the permission: the ticket and how the customer
    was verified (asked of every two-person request), or the approved request itself."""

    ticket: str = ""
    verification: str = ""
    approval: Approval | None = None

    @property
    def has_reason(self) -> bool:
        return bool(self.ticket.strip() and self.verification.strip())


def needs_step_up(operation: str, registration: Registration,
                  replay: Mapping[str, Any]) -> bool:
    """The high-risk operations: reveal, unlock, holder and paid registrant change,
    transfer-out approval, push transfer, DNSSEC disable, nameservers of a locked domain."""
    if operation in {"auth_code", "start_transfer_out", "holder", "registrant_change",
                     "push_transfer"}:
        return True
    if operation == "lock":
        return not replay.get("locked", True)
    if operation == "transfer_out":
        return replay.get("decision") == "approve"
    if operation == "dnssec":
        return replay.get("mode") == "disable"
    if operation == "nameservers":
        return bool(registration.locked)
    return False


def rules_for(operation: str, registration: Registration,
              replay: Mapping[str, Any]) -> list[str]:
    """Every two-person rule that covers this operation, configured or not."""
    rules = []
    if operation == "lock" and not replay.get("locked", True):
        rules.append("unlock")
        if registration.customer_flagged:
            rules.append("unlock_protected")
    elif operation == "registrant_change":
        rules.append("registrant_change")
    elif operation == "transfer_out" and replay.get("decision") == "approve":
        rules.append("transfer_out_approve")
    elif operation == "push_transfer":
        rules.append("push_transfer")
    elif operation in {"auth_code", "start_transfer_out"}:
        # Starting a transfer out hands over the auth code: the reveal's rules.
        rules.append("auth_code")
        if registration.customer_flagged:
            rules.append("auth_code_flagged")
    elif operation == "holder":
        rules.append("holder_change")
    return rules


def active_rule(operation: str, registration: Registration,
                replay: Mapping[str, Any]) -> str | None:
    """The configured rule that makes this operation need a second person, if any."""
    configured = set(settings.TWO_PERSON_OPERATIONS)
    return next((rule for rule in rules_for(operation, registration, replay)
                 if rule in configured), None)


#: For a page that offers both directions: the risky one it may be asked to run.
_RISKY_REPLAY: dict[str, dict[str, Any]] = {
    "lock": {"locked": False}, "transfer_out": {"decision": "approve"},
    "dnssec": {"mode": "disable"},
}


def may_need_step_up(operation: str, registration: Registration) -> bool:
    return needs_step_up(operation, registration, _RISKY_REPLAY.get(operation, {}))


def may_need_approval(operation: str, registration: Registration) -> bool:
    return active_rule(operation, registration, _RISKY_REPLAY.get(operation, {})) is not None


def _window() -> timedelta:
    return timedelta(seconds=settings.APPROVAL_WINDOW_SECONDS)


def _step_up(user, label: str) -> None:
    try:
        assurance.require_step_up(user, label)
    except assurance.StepUpRequired as refusal:
        raise StepUpRequired(refusal.message, field_errors={
            "second_factor": ["Enter a current code from your authenticator app, or a "
                              "backup code."]}) from None


def require_step_up(user, label: str) -> None:
    """StepUpRequired (a refusal naming the code field) unless the factor is fresh."""
    _step_up(user, label)


def clear(operation: str, *, registration: Registration, actor, label: str,
          replay: Mapping[str, Any], summary: str,
          clearance: Clearance | None) -> Outcome | None:
    """Let a high-risk operation go ahead (None), file it for approval (an Outcome to
    return as is), or refuse (ApprovalRequired, StepUpRequired, ApprovalUnusable).

    Called after the permission check and before the registration is locked."""
    clearance = clearance or Clearance()
    rule = active_rule(operation, registration, replay)
    if clearance.approval is not None:
        _check_approval(clearance.approval, operation, registration, replay)
        return None
    if needs_step_up(operation, registration, replay):
        _step_up(actor, label)
    if rule is None:
        return None
    checked_text(clearance.ticket, "ticket", max_length=64)
    checked_text(clearance.verification, "verification", max_length=NOTE_MAX_LENGTH,
                 multiline=True)
    if not clearance.has_reason:
        errors = {}
        if not clearance.ticket.strip():
            errors["ticket"] = ["Give the support ticket this request belongs to."]
        if not clearance.verification.strip():
            errors["verification"] = ["Say how the customer was verified."]
        raise ApprovalRequired(
            f"{label} needs a second person's approval: give the ticket and how the "
            "customer was verified to request it.", field_errors=errors)
    return _request(operation, rule=rule, registration=registration, actor=actor,
                    replay=replay, summary=summary, clearance=clearance)


def audit_fields(clearance: Clearance | None) -> dict[str, Any]:
    """What the operation's own audit row records of how it was authorised."""
    if clearance is None:
        return {}
    approval = clearance.approval
    if approval is not None:
        return {"approval": approval.pk, "requested_by": approval.requested_by.get_username(),
                "approved_by": approval.decided_by.get_username(), "ticket": approval.ticket,
                "verification": approval.verification}
    fields = {}
    if clearance.ticket.strip():
        fields["ticket"] = clearance.ticket.strip()
    if clearance.verification.strip():
        fields["verification"] = clearance.verification.strip()
    return fields


def _request(operation: str, *, rule: str, registration: Registration, actor,
             replay: Mapping[str, Any], summary: str, clearance: Clearance) -> Outcome:
    from registrar.services import unavailable_reason

    reason = unavailable_reason(registration, operation)
    if reason:  # never ask a colleague to approve what cannot run
        raise OperationRefused(reason)
    now = timezone.now()
    with transaction.atomic():
        duplicate = Approval.objects.filter(
            registration=registration, operation=operation, status=ApprovalStatus.PENDING,
            expires_at__gt=now).first()
        if duplicate is not None:
            raise OperationRefused(
                f"{duplicate.summary} is already waiting for approval (request "
                f"#{duplicate.pk}, asked by {duplicate.requested_by.get_username()}).")
        approval = Approval.objects.create(
            operation=operation, rule=rule, registration=registration,
            parameters=dict(replay), summary=summary[:255],
            ticket=clearance.ticket.strip()[:64], verification=clearance.verification.strip(),
            requested_by=actor, requested_at=now, expires_at=now + _window())
        message = (f"{summary}: waiting for a second person's approval (request "
                   f"#{approval.pk}, valid until {approval.expires_at:%H:%M} UTC). Nothing "
                   "was sent to the registrar yet.")
        row = audit.record(actor=actor, action="approval.request", target=registration,
                           parameters={"approval": approval.pk, "operation": operation,
                                       "rule": rule, "ticket": approval.ticket,
                                       "verification": approval.verification, **replay},
                           outcome=Outcomes.PENDING, message=message)
    return Outcome(status=Outcomes.PENDING, message=message, audit_row=row,
                   data={"approval_id": approval.pk})


def _check_approval(approval: Approval, operation: str, registration: Registration,
                    replay: Mapping[str, Any]) -> None:
    """The approved request may run this, now, once (marked as used here)."""
    with transaction.atomic():
        row = Approval.objects.select_for_update().get(pk=approval.pk)
        problem = None
        if row.status != ApprovalStatus.APPROVED or row.executed_at is not None:
            problem = "This request is not approved, or it has already run."
        elif row.operation != operation or row.registration_id != registration.pk or (
                dict(row.parameters) != dict(replay)):
            problem = "The approved request was for another operation."
        elif row.decided_by_id in (None, row.requested_by_id):
            problem = "A request must be approved by someone other than its requester."
        elif row.decided_at is None or row.decided_at > row.expires_at:
            problem = "The request was approved after its window had closed."
        if problem:
            raise ApprovalUnusable(problem)
        _step_up(row.decided_by, "Approving it")
        row.executed_at = timezone.now()
        row.save(update_fields=["executed_at"])


# --- the approver's side -----------------------------------------------------------------


def pending_for(user):
    """Open requests this user may decide: not their own, not expired."""
    return (Approval.objects.filter(status=ApprovalStatus.PENDING,
                                    expires_at__gt=timezone.now())
            .exclude(requested_by=user).select_related("registration", "requested_by"))


def _decide(approval: Approval, approver, *, status: str, note: str) -> Approval:
    """Record the decision on a pending request (the row locked while deciding)."""
    require_permission(approver, APPROVE_PERMISSION)
    approving = status == ApprovalStatus.APPROVED
    with transaction.atomic():
        row = (Approval.objects.select_for_update()
               .select_related("registration", "requested_by").get(pk=approval.pk))
        if row.status != ApprovalStatus.PENDING:
            raise ApprovalUnusable(f"Request #{row.pk} is already "
                                   f"{row.get_status_display().lower()}.")
        if row.requested_by_id == approver.pk:
            raise ApprovalUnusable("You cannot approve or decline your own request: another "
                                   "person must.")
        expired = timezone.now() >= row.expires_at
        if expired:
            _expire(row, approver)
        else:
            if approving:
                _step_up(approver, "Approving a high-risk request")
            row.status = status
            row.decided_by = approver
            row.decided_at = timezone.now()
            row.decision_note = checked_text(note, "note", max_length=NOTE_MAX_LENGTH,
                                             multiline=True)
            row.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
            verb = "approved" if approving else "declined"
            tail = "" if approving else " Nothing was sent to the registrar."
            audit.record(actor=approver, action=f"approval.{'approve' if approving else 'decline'}",
                         target=row.registration,
                         parameters={"approval": row.pk, "operation": row.operation,
                                     "requested_by": row.requested_by.get_username(),
                                     "ticket": row.ticket, "note": row.decision_note},
                         outcome=Outcomes.SUCCEEDED,
                         message=f"{approver.get_username()} {verb} request #{row.pk}: "
                                 f"{row.summary}.{tail}")
    if expired:  # outside the transaction: the expiry stays recorded
        raise ApprovalUnusable(f"Request #{row.pk} expired at {row.expires_at:%H:%M} UTC; "
                               "it cannot run. Ask for it again if it is still needed.")
    return row


def _expire(row: Approval, actor) -> None:
    row.status = ApprovalStatus.EXPIRED
    row.save(update_fields=["status"])
    audit.record(actor=actor, action="approval.expired", target=row.registration,
                 parameters={"approval": row.pk, "operation": row.operation},
                 outcome=Outcomes.FAILED,
                 message=f"Request #{row.pk} expired before it was decided.")


def expire_if_due(approval: Approval, *, actor) -> bool:
    """Mark a pending request whose window has closed as expired (with its audit row).
    True when it is (now) expired."""
    with transaction.atomic():
        row = (Approval.objects.select_for_update().select_related("registration")
               .get(pk=approval.pk))
        if row.status == ApprovalStatus.PENDING and timezone.now() >= row.expires_at:
            _expire(row, actor)
        return row.status == ApprovalStatus.EXPIRED


def approve(*, approval: Approval, approver, note: str = "") -> Outcome:
    """Approve a request and run it, as its requester, with both people on record."""
    row = _decide(approval, approver, status=ApprovalStatus.APPROVED, note=note)
    # Committed: the approval stands whatever the run's outcome.
    try:
        outcome = _execute(row)
    except OperationRefused as refusal:
        _finish(row, "refused", refusal.message)
        raise
    except PermissionDenied:
        # The requester lost the permission since asking: the request cannot run as them.
        message = (f"Request #{row.pk} was approved but not run: "
                   f"{row.requested_by.get_username()}, who asked for it, no longer has the "
                   "permission for it. Nothing was sent.")
        _finish(row, "refused", message)
        raise ApprovalUnusable(message) from None
    _finish(row, str(outcome.status), outcome.message)
    return outcome


def decline(*, approval: Approval, approver, note: str = "") -> Approval:
    return _decide(approval, approver, status=ApprovalStatus.DECLINED, note=note)


def _finish(row: Approval, status: str, message: str) -> None:
    Approval.objects.filter(pk=row.pk).update(outcome=status[:20], outcome_message=message)


def _execute(row: Approval) -> Outcome:
    """Run the approved operation through its service, as the requester."""
    from contacts.models import Contact
    from registrar import services

    clearance = Clearance(approval=row)
    registration = row.registration
    actor = row.requested_by
    params = row.parameters
    if row.operation == "lock":
        return services.registration_set_lock(registration=registration, locked=False,
                                              actor=actor, clearance=clearance)
    if row.operation == "registrant_change":
        source = params.get("source_contact")
        return services.registration_order_registrant_change(
            registration=registration, actor=actor,
            source_contact=Contact.objects.get(pk=source) if source else None,
            new_contact=params.get("new_contact"), clearance=clearance)
    if row.operation == "transfer_out":
        return services.registration_decide_transfer_out(
            registration=registration, decision="approve", actor=actor, clearance=clearance)
    if row.operation == "push_transfer":
        return services.registration_push_transfer(
            registration=registration, recipient=params["recipient"], actor=actor,
            clearance=clearance)
    if row.operation == "auth_code":
        return services.registration_reveal_auth_code(registration=registration, actor=actor,
                                                      clearance=clearance)
    if row.operation == "start_transfer_out":
        return services.registration_start_transfer_out(registration=registration,
                                                        actor=actor, clearance=clearance)
    if row.operation == "holder":
        source = params.get("source_contact")
        return services.registration_update_holder(
            registration=registration, action_mode=params["action_mode"], actor=actor,
            holder=params.get("holder"),
            confirm_reverification=params.get("confirm_reverification", False),
            source_contact=Contact.objects.get(pk=source) if source else None,
            new_contact=params.get("new_contact"), clearance=clearance)
    raise ApprovalUnusable(f"Request #{row.pk} is for an operation that cannot be approved.")
