"""Every operation staff can trigger on a registration: one function each.

Each service, in one transaction:

1. checks the actor's permission;
2. locks the registration row (a concurrent operation is told "busy" at once rather
   than queued behind a slow registrar call; see `_lock_row`) and refuses while a
   process is in flight;
3. refuses what the TLD's flags or the provider's capabilities rule out, and invalid
   input, before any HTTP;
4. calls the provider;
5. applies `Done` to the mirror, or stores the `Process` of a `Pending` and enqueues
   polling on commit, or returns a `PaymentRequired` untouched;
6. writes exactly one audit row.

A failure upstream leaves the mirror exactly as it was.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NoReturn

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from backoffice import audit
from contacts.models import Contact
from contacts.validation import clean_contact_fields
from registrar import approvals, charges
from registrar.jobs import enqueue_after_commit
from registrar.models import (
    TERMINAL_STATUSES,
    AuthcodeBehavior,
    Host,
    HostAddress,
    Process,
    ProcessStatus,
    Registration,
)
from registrar.operations import (
    InvalidInput,
    OperationRefused,
    OperationUnsupported,
    Outcome,
    Outcomes,
    RegistrationBusy,
    Settled,
    call_upstream,
    checked_text,
    record_failure,
    record_payment_required,
    record_unknown,
    require_permission,
)
from registrar.providers.base import (
    Capability,
    DnssecKeyData,
    Done,
    Money,
    OrderType,
    PaymentRequired,
    Pending,
    ProcessInfo,
    ProcessView,
    Provider,
    RoleContactSource,
)
from registrar.providers.errors import (
    AuthcodeUnavailable,
    ConfigurationError,
    NotFound,
    ProviderError,
    ServiceUnavailable,
)
from registrar.providers.registry import adapter_class, provider_for_registration
from registrar.sync import apply_registration, changes_for_audit, display_value, mirror_hosts
from registrar.values.addresses import clean_glue_address
from registrar.values.names import intake_name, mixed_script_problem, to_ascii, to_unicode

logger = logging.getLogger(__name__)
#: Follows one process (registrar.tasks.poll_process).
POLL_TASK = "registrar.poll_process"
#: Reads an unsettled registration again until it can be (registrar.tasks.settle).
SETTLE_TASK = "registrar.settle_registration"


@dataclass(frozen=True)
class Operation:
    name: str
    label: str
    permission: str
    capability: Capability
    tld_flag: str | None = None
    # Reads and re-syncs may run while a process is in flight; mutations may not.
    allowed_while_busy: bool = False


OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in [
        Operation("lock", "Transfer lock", "registrar.lock_registration", Capability.LOCK,
                  "supports_transfer_lock"),
        Operation("privacy", "WHOIS privacy", "registrar.set_privacy", Capability.PRIVACY,
                  "supports_privacy"),
        Operation("dnssec", "DNSSEC", "registrar.manage_dnssec", Capability.DNSSEC,
                  "supports_dnssec"),
        Operation("auto_renew", "Auto-renew", "registrar.set_auto_renew",
                  Capability.AUTO_RENEW),
        Operation("nameservers", "Nameservers", "registrar.change_nameservers",
                  Capability.NAMESERVERS),
        Operation("holder", "Holder", "registrar.change_holder", Capability.HOLDER_EDIT),
        Operation("registrant_change", "Paid registrant change",
                  "registrar.order_registrant_change", Capability.REGISTRANT_CHANGE_ORDER),
        Operation("role_contacts", "Role contacts", "registrar.change_role_contacts",
                  Capability.ROLE_CONTACTS),
        Operation("auth_code", "Auth code", "registrar.reveal_authcode", Capability.AUTH_CODE,
                  allowed_while_busy=True),
        # Hands over the auth code too, so it is guarded like the reveal (same permission,
        # step-up, two-person rules); unlike it, it changes the registration.
        Operation("start_transfer_out", "Start outbound transfer", "registrar.reveal_authcode",
                  Capability.TRANSFER_OUT_START),
        Operation("force_sync", "Re-sync", "registrar.force_sync", Capability.FORCE_SYNC,
                  allowed_while_busy=True),
        Operation("transfer_out", "Outbound transfer", "registrar.decide_transfer_out",
                  Capability.TRANSFER_OUT_DECISION),
        Operation("push_transfer", "Push transfer", "registrar.push_transfer",
                  Capability.PUSH_TRANSFER, "supports_push_transfer"),
        Operation("resend_verification", "Resend verification",
                  "registrar.resend_verification", Capability.VERIFICATION_RESEND,
                  "requires_contact_validation"),
        Operation("dns_records", "DNS records", "registrar.manage_dns_records",
                  Capability.DNS_RECORDS),
    ]
}

#: Registrations that have left: nothing but a re-sync may be done to them.

_FLAG_REASONS = {
    "supports_transfer_lock": "This TLD does not support a transfer lock.",
    "supports_privacy": "This TLD does not support WHOIS privacy.",
    "supports_dnssec": "This TLD does not support DNSSEC.",
    "supports_push_transfer": "This TLD does not support push transfers.",
    "requires_contact_validation": "This TLD does not require holder verification.",
}


def unavailable_reason(registration: Registration, operation: str, user=None) -> str | None:
    """Why `operation` cannot be offered on `registration` (to `user`), or None if it can.

    The admin shows disabled buttons with this reason; services raise it as a refusal.
    Reads only loaded rows: call with tld and provider account selected.
    """
    op = OPERATIONS[operation]
    if user is not None and not user.has_perm(op.permission):
        return "You do not have permission for this."
    if registration.status in TERMINAL_STATUSES and operation != "force_sync":
        return (f"This registration is {registration.get_status_display().lower()}: it is "
                "no longer ours to change, only to re-sync.")
    reason = _availability_reason(registration, op.capability, tld_flag=op.tld_flag,
                                  allowed_while_busy=op.allowed_while_busy)
    if reason:
        return reason
    if registration.unsettled_operation == operation and operation != "force_sync":
        # A re-sync is how it is settled, so that one is never refused.
        return unsettled_notice(registration)
    if operation == "transfer_out" and not registration.transfer_out_pending:
        return "No outbound transfer is waiting for a decision."
    if operation == "push_transfer" and registration.push_transfer_pending:
        return "A push transfer is already in progress."
    if (operation in {"auth_code", "push_transfer", "start_transfer_out"}
            and registration.server_transfer_prohibited):
        return "The registry prohibits transfers of this registration."
    if operation == "lock" and registration.server_transfer_prohibited:
        # The registry's own lock (document 001 answers 422 server_transfer_prohibited):
        # it is set and lifted at the registry, with its own verification, not here.
        return ("The registry itself locks this registration (serverTransferProhibited): "
                "its lock is lifted at the registry, not here.")
    if operation == "auth_code" and registration.tld.authcode_behavior == AuthcodeBehavior.HIDDEN:
        return "This TLD's registry does not hand out the auth code through the API."
    if operation == "resend_verification" and registration.owner_contact_id is None:
        return "The registration has no holder contact to verify."
    return None


def _availability_reason(registration: Registration, capability: Capability, *,
                         tld_flag: str | None = None,
                         allowed_while_busy: bool = False) -> str | None:
    """The checks every operation shares: a registrar is configured for the TLD, it
    offers `capability`, the TLD allows it, and no process is in flight."""
    account = registration.served_by
    if account is None:
        return f"No registrar is configured for .{registration.tld.name}."
    try:
        capabilities = adapter_class(account.kind).capabilities
    except ProviderError as error:
        return error.message
    if capability not in capabilities:
        return f"{account.get_kind_display()} does not offer this operation."
    if tld_flag and not getattr(registration.tld, tld_flag):
        return _FLAG_REASONS[tld_flag]
    if registration.pending_async and not allowed_while_busy:
        return ("A registrar process is in flight for this registration "
                f"({registration.rtr_process_status or 'pending'}); wait for it to finish.")
    return None


# --- the shared runner ------------------------------------------------------------


def _lock_row(registration: Registration) -> Registration:
    """The registration's row, locked for this operation.

    Two staff operations on one registration never overlap: the second is told "busy"
    at once (a PostgreSQL advisory lock only operations take) rather than queued behind
    a slow registrar call. The row lock itself waits, briefly: the sync holds rows only
    for one short batch, and never a row an operation holds (it skips those)."""
    busy = RegistrationBusy(
        "Someone else is changing this registration right now. Try again in a moment.")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))",
                           [f"registration-operation:{registration.pk}"])
            if not cursor.fetchone()[0]:
                raise busy
            cursor.execute("SELECT set_config('lock_timeout', %s, true)",
                           [f"{settings.ROW_LOCK_WAIT_SECONDS * 1000:.0f}ms"])
    try:
        return (
            Registration.objects.select_for_update(of=("self",))
            .select_related("tld__provider_account", "provider_account", "account")
            .get(pk=registration.pk)
        )
    except DatabaseError as exc:  # lock_timeout: a sync batch that did not end in time
        raise busy from exc


def _provider(row: Registration) -> Provider:
    try:
        return provider_for_registration(row)
    except (ConfigurationError, ServiceUnavailable) as error:
        raise OperationRefused(error.message, code=error.code) from error


def _run(
    operation: str,
    *,
    registration: Registration,
    actor,
    parameters: Mapping[str, Any],
    call: Callable[[Provider, Registration], Any],
    done_message: Callable[[Registration, Done, dict], str],
    implied_changes: Mapping[str, Any] | None = None,
    what: str = "",
    clearance: approvals.Clearance | None = None,
    replay: Mapping[str, Any] | None = None,
    summary: str = "",
) -> Outcome:
    op = OPERATIONS[operation]
    action = f"registration.{operation}"
    require_permission(actor, op.permission)
    filed = approvals.clear(operation, registration=registration, actor=actor,
                            label=summary or op.label,
                            replay=parameters if replay is None else replay,
                            summary=summary or f"{op.label} of {registration}",
                            clearance=clearance)
    if filed is not None:  # waiting for a second person; nothing sent
        return filed
    parameters = {**parameters, **approvals.audit_fields(clearance)}
    with transaction.atomic():
        row = _lock_row(registration)
        reason = unavailable_reason(row, operation)
        if reason:
            cls = RegistrationBusy if row.pending_async and not op.allowed_while_busy else (
                OperationUnsupported)
            raise cls(reason)
        provider = _provider(row)
        result = call_upstream(
            lambda: call(provider, row), actor=actor, action=action, target=row,
            parameters=parameters,
            settle=lambda error: reread_after_unknown(row, provider, operation,
                                                      expected=implied_changes))
        if isinstance(result, Outcome):
            return result
        if row.unsettled_operation not in ("", "hosts") and getattr(
                result, "record", None) is not None:
            # The answer carried the whole registration, now in the mirror: whatever the
            # lost answer hid is known. (Another operation's answer alone says nothing
            # of it, and the glue hosts are only known once they are read.)
            _clear_unsettled(row)
        if isinstance(result, PaymentRequired):
            return record_payment_required(actor=actor, action=action, target=row,
                                           parameters=parameters, payment=result,
                                           what=what or op.label)
        if isinstance(result, Pending):
            return _record_pending(row, result, actor=actor, action=action,
                                   parameters=parameters, label=op.label)
        changes = _apply_done(row, result, implied_changes)
        message = done_message(row, result, changes)
        row_audit = audit.record(
            actor=actor, action=action, target=row,
            parameters={**parameters, "changes": changes_for_audit(changes)},
            outcome=Outcomes.SUCCEEDED, upstream_request_id=result.request_id,
            message=message,
        )
        return Outcome(status=Outcomes.SUCCEEDED, message=message, changes=changes,
                       data=dict(result.body), audit_row=row_audit)


def reread_after_unknown(row: Registration, provider: Provider, operation: str, *,
                         expected: Mapping[str, Any] | None = None) -> Settled:
    """After an operation whose outcome is not known, read the registration again at
    once and apply it to the mirror (and its processes, when one is following the
    change). `expected` is what the operation would have made the registration; the
    message says whether the re-read shows it. When the read fails too, the registration
    stays unsettled for `operation`: that operation is refused until a later read (the
    settle task, or a re-sync) succeeds."""
    try:
        changes = _reread(row, provider)
    except ProviderError as error:
        row.unsettled_operation = operation
        row.unsettled_since = timezone.now()
        row.save(update_fields=["unsettled_operation", "unsettled_since", "updated_at"])
        enqueue_after_commit(SETTLE_TASK, row.pk, countdown=settings.PROCESS_POLL_BASE_DELAY)
        return Settled(settled=False, message=(
            f"It could not be read again now ({error.message.rstrip('.')}). Until it has "
            "been, this "
            "operation is refused here; the back-office keeps trying."))
    if row.pending_async:
        return Settled(settled=True, applied=None, changes=changes, message=(
            "Read again: the registrar is processing a change "
            f"({row.rtr_process_status or 'pending'}), and the registration is busy until "
            "it ends."))
    if not expected:
        listed = ", ".join(sorted(changes)) if changes else "nothing"
        return Settled(settled=True, applied=None, changes=changes, message=(
            f"Read again: the mirror now shows what the registrar has (changed: {listed}). "
            "Check it before sending the change again."))
    differing = {name: getattr(row, name) for name, value in expected.items()
                 if getattr(row, name) != value}
    if not differing:
        return Settled(settled=True, applied=True, changes=changes,
                       message="Read again: the registrar shows the change, so it was applied.")
    shown = "; ".join(f"{name} is {display_value(value)}" for name, value in differing.items())
    return Settled(settled=True, applied=False, changes=changes, message=(
        f"Read again: the registrar does not show it ({shown}), so it was not applied and "
        "may be sent again."))


def _reread(row: Registration, provider: Provider) -> dict[str, tuple[Any, Any]]:
    """The registration read again and applied to the mirror; its in-flight processes
    mirrored too. Raises ProviderError when it cannot be read."""
    if not provider.supports(Capability.REGISTRATION_READ):
        raise OperationUnsupported(f"{provider.display_name} cannot read one registration.")
    view = provider.get_registration(row.ref)
    changes = apply_registration(row, view.registration, synced_at=timezone.now())
    if row.unsettled_operation == "hosts" and provider.supports(Capability.HOSTS):
        changes.update(mirror_hosts(row, provider.list_hosts(row.ref)))
    if row.pending_async and provider.supports(Capability.PROCESSES):
        mirror_processes(row, provider)
    if row.unsettled_operation:
        _clear_unsettled(row)
    return changes


def _clear_unsettled(row: Registration) -> None:
    row.unsettled_operation = ""
    row.unsettled_since = None
    row.save(update_fields=["unsettled_operation", "unsettled_since", "updated_at"])


def mirror_processes(row: Registration, provider: Provider,
                     listed: Sequence[ProcessInfo] | None = None) -> list[Process]:
    """The registration's upstream processes that have not ended, as Process rows
    (with their logs), each followed: a process opened upstream, not through the
    back-office, becomes visible, and can be resent or cancelled here. `listed`: the
    list already read (GET .../processes), so it is not read twice."""
    followed = []
    for info in provider.list_processes(row.ref) if listed is None else listed:
        if ProcessStatus.is_terminal(info.status):
            continue
        process, created = Process.objects.get_or_create(
            registration=row, upstream_id=info.id,
            defaults={"action": info.action or "upstream", "status": info.status
                      or ProcessStatus.NEW, "raw": info.raw})
        if not created and process.status != info.status and info.status:
            process.status = info.status
            process.raw = info.raw
            process.save(update_fields=["status", "raw", "is_terminal", "updated_at"])
        view = provider.get_process(row.ref, info.id)
        _log_entries(process, view.log)
        if created:
            schedule_poll(process)
        followed.append(process)
    return followed


def registration_follow_processes(*, registration: Registration) -> list[Process]:
    """System work (the sync found the registration busy with no process followed
    here): list its processes upstream, mirror those still running, and follow them.
    One audit row when it found any. Raises ProviderError when the list cannot be read."""
    with transaction.atomic():
        row = _lock_row(registration)
        provider = _provider(row)
        if not provider.supports(Capability.PROCESSES):
            return []
        known = set(row.processes.values_list("upstream_id", flat=True))
        followed = mirror_processes(row, provider)
        found = [p for p in followed if p.upstream_id not in known]
        if found and not row.rtr_process_id:
            latest = found[0]
            row.rtr_process_id, row.rtr_process_status = latest.upstream_id, latest.status
            row.save(update_fields=["rtr_process_id", "rtr_process_status", "updated_at"])
        if found:
            ids = ", ".join(p.upstream_id for p in found)
            audit.record(
                actor=None, actor_label="system:sync", action="registration.processes_found",
                target=row, parameters={"processes": [p.upstream_id for p in found]},
                outcome=Outcomes.SUCCEEDED,
                message=f"{row} is busy with registrar process(es) {ids} opened outside the "
                        "back-office; they are followed here now.")
        return found


#: Reading processes at the registrar: what the process admin's readers hold.
PROCESS_VIEW_PERMISSION = "registrar.view_process"


@dataclass(frozen=True)
class ProcessListing:
    """A registration's processes as the registrar lists them now (GET .../processes),
    each with its mirror row where the back-office has one."""

    registration: Registration
    processes: list[ProcessInfo]
    mirrored: dict[str, Process]  # upstream id -> the Process row here
    found: list[Process]  # followed here since this read (mirror=True only)


def registration_processes_read(*, registration: Registration, actor,
                                mirror: bool = False) -> ProcessListing:
    """The registration's live process list, read at the registrar. With `mirror`, the
    ones still running are mirrored and followed as the sync's follow does
    (`registration_follow_processes`), with one audit row, `actor`'s, when it found any
    not followed here before; without, nothing is written (the admin page's GET).
    Raises PermissionDenied, OperationRefused (no registrar, no process list) and
    ProviderError (the list could not be read)."""
    require_permission(actor, PROCESS_VIEW_PERMISSION)
    if not mirror:
        row = (Registration.objects.select_related("tld__provider_account",
                                                   "provider_account")
               .get(pk=registration.pk))
        provider = _provider(row)
        if not provider.supports(Capability.PROCESSES):
            raise OperationUnsupported(f"{provider.display_name} does not list processes.")
        listed = provider.list_processes(row.ref)
        mirrored = {p.upstream_id: p for p in row.processes.filter(
            upstream_id__in=[info.id for info in listed])}
        return ProcessListing(registration=row, processes=listed, mirrored=mirrored,
                              found=[])
    with transaction.atomic():
        row = _lock_row(registration)
        provider = _provider(row)
        if not provider.supports(Capability.PROCESSES):
            raise OperationUnsupported(f"{provider.display_name} does not list processes.")
        known = set(row.processes.values_list("upstream_id", flat=True))
        listed = provider.list_processes(row.ref)
        followed = mirror_processes(row, provider, listed)
        found = [p for p in followed if p.upstream_id not in known]
        if found and not row.rtr_process_id:
            latest = found[0]
            row.rtr_process_id, row.rtr_process_status = latest.upstream_id, latest.status
            row.save(update_fields=["rtr_process_id", "rtr_process_status", "updated_at"])
        if found:
            ids = ", ".join(p.upstream_id for p in found)
            audit.record(
                actor=actor, action="registration.processes_found", target=row,
                parameters={"processes": [p.upstream_id for p in found]},
                outcome=Outcomes.SUCCEEDED,
                message=f"{row} is busy with registrar process(es) {ids} not followed "
                        "here before; they are followed here now.")
        mirrored = {p.upstream_id: p for p in row.processes.filter(
            upstream_id__in=[info.id for info in listed])}
        return ProcessListing(registration=row, processes=listed, mirrored=mirrored,
                              found=found)


def registration_settle(*, registration: Registration) -> Settled:
    """Read a registration whose last operation's outcome was not known again, apply it,
    and clear its unsettled flag; one audit row (system work). Raises ProviderError
    when it still cannot be read (the caller retries later)."""
    with transaction.atomic():
        row = _lock_row(registration)
        if not row.unsettled_operation:
            return Settled(settled=True, message="Already settled.")
        operation = row.unsettled_operation
        provider = _provider(row)
        changes = _reread(row, provider)
        label = OPERATIONS[operation].label if operation in OPERATIONS else "glue-host"
        message = (f"Read {row} again after the {label.lower()} change whose answer was "
                   "lost: the mirror now shows what the registrar has"
                   + (f" (changed: {', '.join(sorted(changes))})." if changes else
                      " (nothing differed)."))
        audit.record(actor=None, actor_label="system:settle", action="registration.settled",
                     target=row, parameters={"operation": operation,
                                             "changes": changes_for_audit(changes)},
                     outcome=Outcomes.SUCCEEDED, message=message)
        return Settled(settled=True, changes=changes, message=message)


def _apply_done(row: Registration, result: Done, implied: Mapping[str, Any] | None):
    if result.record is not None:
        return apply_registration(row, result.record)
    changes = {}
    # What the change implies, and what the upstream said it now is (which wins).
    for name, new in {**(implied or {}), **result.changes}.items():
        old = getattr(row, name)
        if old != new:
            changes[name] = (old, new)
            setattr(row, name, new)
    if changes:
        row.save(update_fields=[*changes, "updated_at"])
    return changes


def _record_pending(row: Registration, result: Pending, *, actor, action: str,
                    parameters: Mapping[str, Any], label: str) -> Outcome:
    if result.record is not None:
        apply_registration(row, result.record)
    info = result.process
    process, _ = Process.objects.update_or_create(
        registration=row, upstream_id=info.id,
        defaults={"action": info.action or action.split(".", 1)[1], "status": info.status
                  or ProcessStatus.NEW, "raw": info.raw},
    )
    row.pending_async = True
    row.rtr_process_id = info.id
    row.rtr_process_status = process.status
    row.save(update_fields=["pending_async", "rtr_process_id", "rtr_process_status",
                            "updated_at"])
    message = (f"{label}: the registrar accepted the change and is processing it "
               f"(process {info.id}). The registration is busy until it completes.")
    row_audit = audit.record(
        actor=actor, action=action, target=row, parameters=parameters,
        outcome=Outcomes.PENDING, upstream_status=202, upstream_request_id=result.request_id,
        process_id=info.id, message=message,
    )
    schedule_poll(process)
    return Outcome(status=Outcomes.PENDING, message=message, process=process,
                   audit_row=row_audit)


def _flag_message(label: str, on: bool) -> Callable[[Registration, Done, dict], str]:
    def message(row: Registration, result: Done, changes: dict) -> str:
        state = "on" if on else "off"
        if not changes:
            return f"{label} was already {state} for {row}; the registrar confirmed it."
        return f"{label} is now {state} for {row}."

    return message


# --- operations -------------------------------------------------------------------


def registration_set_lock(*, registration: Registration, locked: bool, actor,
                          clearance: approvals.Clearance | None = None) -> Outcome:
    return _run(
        "lock", registration=registration, actor=actor, parameters={"locked": locked},
        clearance=clearance, summary=f"{'Lock' if locked else 'Unlock'} {registration}",
        call=lambda provider, row: provider.set_lock(row.ref, locked),
        done_message=_flag_message("The transfer lock", locked),
        implied_changes={"locked": locked},
    )


def registration_set_privacy(*, registration: Registration, enabled: bool, actor) -> Outcome:
    return _run(
        "privacy", registration=registration, actor=actor,
        parameters={"privacy_protect": enabled},
        call=lambda provider, row: provider.set_privacy(row.ref, enabled),
        done_message=_flag_message("WHOIS privacy", enabled),
        implied_changes={"privacy_protect": enabled},
        what="WHOIS privacy",
    )


AUTO_RENEW_SCENARIOS = {
    "enabled": "Auto-renew is on: the registration renews before it expires.",
    "clean_cancel": "Auto-renew is off. No renewal had been charged, so nothing is refunded.",
    "refund_cancel": "Auto-renew is off. The last renewal was within the cancellation window "
                     "and is refunded.",
    "late_cancel": "Auto-renew is off. The last renewal was charged outside the cancellation "
                   "window and is not refunded.",
}


def registration_set_auto_renew(*, registration: Registration, auto_renew: bool,
                                actor) -> Outcome:
    def message(row, result: Done, changes) -> str:
        scenario = str(result.body.get("scenario", ""))
        return AUTO_RENEW_SCENARIOS.get(scenario, _flag_message("Auto-renew", auto_renew)(
            row, result, changes)) + (f" (scenario: {scenario})" if scenario else "")

    return _run(
        "auto_renew", registration=registration, actor=actor,
        parameters={"auto_renew": auto_renew},
        call=lambda provider, row: provider.set_auto_renew(row.ref, auto_renew),
        done_message=message, implied_changes={"auto_renew": auto_renew},
    )


MIN_NAMESERVERS, MAX_NAMESERVERS = 2, 13


def clean_nameservers(values: Sequence[str]) -> list[str]:
    """2 to 13 valid host names, in order, no duplicates. Raises InvalidInput."""
    names = [v.strip() for v in values if v and v.strip()]
    errors = []
    cleaned: list[str] = []
    for value in names:
        try:
            name = intake_name(value)
        except ValidationError as exc:
            errors.append(f"{value}: {exc.messages[0]}")
            continue
        if not re.fullmatch(r"[a-z0-9.-]+", name) or any(
                label.startswith("-") or label.endswith("-") for label in name.split(".")):
            errors.append(f"{value}: not a valid host name.")
        elif name in cleaned:
            errors.append(f"{value}: listed twice.")
        else:
            cleaned.append(name)
    if not errors and not MIN_NAMESERVERS <= len(cleaned) <= MAX_NAMESERVERS:
        errors.append(f"Give between {MIN_NAMESERVERS} and {MAX_NAMESERVERS} nameservers "
                      f"(you gave {len(cleaned)}).")
    if errors:
        raise InvalidInput(" ".join(errors), field_errors={"nameservers": errors})
    return cleaned


def registration_set_nameservers(*, registration: Registration, nameservers: Sequence[str],
                                 actor, clearance: approvals.Clearance | None = None
                                 ) -> Outcome:
    cleaned = clean_nameservers(nameservers)
    return _run(
        "nameservers", registration=registration, actor=actor,
        parameters={"nameservers": cleaned}, clearance=clearance,
        summary=f"Nameserver change of {registration}",
        call=lambda provider, row: provider.set_nameservers(row.ref, cleaned),
        done_message=lambda row, result, changes: (
            f"Nameservers of {row} are now {', '.join(cleaned)}." if changes
            else f"Nameservers of {row} were already {', '.join(cleaned)}."),
        implied_changes={"nameservers": cleaned},
    )


DEPRECATED_DNSSEC_ALGORITHMS = {1: "RSAMD5", 3: "DSA", 5: "RSASHA1", 6: "DSA-NSEC3-SHA1",
                                7: "RSASHA1-NSEC3-SHA1"}
DNSSEC_ALGORITHMS = {8: "RSASHA256", 10: "RSASHA512", 13: "ECDSAP256SHA256",
                     14: "ECDSAP384SHA384", 15: "ED25519", 16: "ED448"}


def clean_dnssec_key(flags: Any, algorithm: Any, public_key: str) -> DnssecKeyData:
    errors: dict[str, list[str]] = {}
    try:
        flags = int(flags)
        if flags not in (256, 257):
            raise ValueError
    except (TypeError, ValueError):
        errors["flags"] = ["Flags must be 257 (KSK) or 256 (ZSK)."]
    try:
        algorithm = int(algorithm)
    except (TypeError, ValueError):
        errors["algorithm"] = ["The algorithm is a number, e.g. 13."]
    else:
        if algorithm in DEPRECATED_DNSSEC_ALGORITHMS:
            errors["algorithm"] = [
                f"Algorithm {algorithm} ({DEPRECATED_DNSSEC_ALGORITHMS[algorithm]}) is "
                "deprecated and must not be used; use 13 (ECDSAP256SHA256) or 8 (RSASHA256)."]
        elif algorithm not in DNSSEC_ALGORITHMS:
            errors["algorithm"] = [f"Unknown DNSSEC algorithm {algorithm}."]
    key = "".join((public_key or "").split())
    try:
        decoded = base64.b64decode(key, validate=True)
        if len(decoded) < 32:
            raise ValueError
    except (binascii.Error, ValueError):
        errors["public_key"] = ["The public key must be base64 (at least 32 bytes decoded)."]
    if errors:
        raise InvalidInput("The DNSSEC key is not valid: " + " ".join(
            m for ms in errors.values() for m in ms), field_errors=errors)
    return DnssecKeyData(flags=flags, algorithm=algorithm, public_key=key)


def registration_set_dnssec(*, registration: Registration, mode: str,
                            keys: Sequence[DnssecKeyData] = (), actor,
                            clearance: approvals.Clearance | None = None) -> Outcome:
    if mode not in {"enable", "disable", "add_keys"}:
        raise InvalidInput("Choose enable, disable or add keys.", field_errors={
            "mode": ["Unknown mode."]})
    if mode in {"enable", "add_keys"} and not keys:
        raise InvalidInput("Give at least one key.", field_errors={"keys": ["Required."]})
    if mode == "disable":
        keys = ()
    labels = {"enable": "DNSSEC is now on", "disable": "DNSSEC is now off",
              "add_keys": f"Added {len(keys)} DNSSEC key(s)"}

    def after(row: Registration, result: Done, changes: dict) -> str:
        from registrar.models import DnssecKey

        if mode == "disable":
            row.dnssec_keys.all().delete()
        else:
            if mode == "enable":
                row.dnssec_keys.all().delete()
            for key in keys:
                DnssecKey.objects.get_or_create(registration=row, flags=key.flags,
                                                algorithm=key.algorithm,
                                                public_key=key.public_key)
        return f"{labels[mode]} for {row}."

    return _run(
        "dnssec", registration=registration, actor=actor,
        parameters={"mode": mode, "keys": [k.as_wire() for k in keys]},
        clearance=clearance, summary=(f"DNSSEC disable of {registration}" if mode == "disable"
                                      else f"DNSSEC change of {registration}"),
        call=lambda provider, row: provider.set_dnssec(row.ref, mode, keys),
        done_message=after,
        implied_changes={"dnssec_enabled": mode != "disable"},
    )


def _clean_contact(data: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    try:
        return clean_contact_fields(dict(data), partial=partial)
    except ValidationError as exc:
        raise InvalidInput("Some contact fields are not valid.",
                           field_errors=exc.message_dict) from exc


def contacts_usable_for(registration: Registration) -> QuerySet[Contact]:
    """The contacts `registration` may take as holder or role contact: those of its own
    customer, or, for a registration with no customer, only those with no customer.
    The same rule as `contact_customer_mismatch`, as a query (for choice lists)."""
    # account_id=None is IS NULL: a customer-less registration gets customer-less contacts.
    # Plus the contacts already in use on the customer's registrations (this one included):
    # a shared tech contact with no customer of its own can be picked again where it is
    # already used, instead of vanishing from the list once it was set.
    return Contact.objects.filter(
        Q(account_id=registration.account_id) | Q(pk__in=_contacts_in_use_for(registration)))


def _contacts_in_use_for(registration: Registration) -> set[int]:
    """The ids of the contacts on the customer's registrations (or, for a customer-less
    registration, on this one only): holder or any role."""
    rows = (Registration.objects.filter(account_id=registration.account_id)
            if registration.account_id is not None
            else Registration.objects.filter(pk=registration.pk))
    used: set[int] = set()
    for ids in rows.values_list("owner_contact_id", "admin_contact_id", "tech_contact_id",
                                "billing_contact_id"):
        used.update(i for i in ids if i is not None)
    return used


def contact_customer_mismatch(contact: Contact, registration: Registration) -> str | None:
    """Why `contact` may not be used on `registration` (a phrase that follows the
    contact's name), or None when it may: a contact never crosses customers, and a
    contact with no customer is no one's to hand to a customer's registration."""
    if contact.account_id == registration.account_id:
        return None
    if contact.pk in _contacts_in_use_for(registration):
        return None  # already used on this customer's registrations: shared, not foreign
    if registration.account_id is None:
        return (f"belongs to a customer account, and {registration} has none: it can only "
                "use contacts with no customer account")
    if contact.account_id is None:
        return (f"has no customer account, and {registration} belongs to one: it can only "
                "use that customer's contacts")
    return "belongs to another customer account"


def _source_contact(contact: Contact | None, registration: Registration, *,
                    field: str) -> int | None:
    if contact is None:
        return None
    if not contact.upstream_id:
        raise InvalidInput("That contact does not exist upstream yet.",
                           field_errors={field: ["That contact does not exist upstream yet."]})
    mismatch = contact_customer_mismatch(contact, registration)
    if mismatch:
        message = f"Contact {contact} {mismatch}."
        raise InvalidInput(message, code="foreign_contact", field_errors={field: [message]})
    return contact.upstream_id


def _refuse_same_holder(contact: Contact | None, registration: Registration,
                        new_fields: Mapping[str, Any] | None = None) -> None:
    """Replacing the holder with the holder changes nothing: refused here, before any fee
    gate or order, so nobody is asked to pay for a no-op. A "new" contact that is the
    holder's details unchanged is the same no-op."""
    if contact is not None and contact.pk == registration.owner_contact_id:
        message = (f"{contact} is already the holder of {registration}. Choose another "
                   "contact, or edit the current holder instead (free).")
        raise InvalidInput(message, code="same_holder",
                           field_errors={"source_contact": [message]})
    holder = registration.owner_contact if registration.owner_contact_id else None
    if new_fields and holder is not None and all(
            str(getattr(holder, name, "") or "") == str(value or "")
            for name, value in new_fields.items() if name != "extra_properties"):
        raise InvalidInput(
            f"These are the details of the current holder of {registration}: replacing it "
            "with them changes nothing. Change the details, choose another contact, or edit "
            "the current holder instead (free).", code="same_holder")


def registration_update_holder(
    *,
    registration: Registration,
    action_mode: str,
    actor,
    holder: Mapping[str, Any] | None = None,
    confirm_reverification: bool = False,
    source_contact: Contact | None = None,
    new_contact: Mapping[str, Any] | None = None,
    clearance: approvals.Clearance | None = None,
) -> Outcome:
    """`edit_current` edits the owner contact in place (free); `change` replaces it with
    an existing or a new contact (402 on TLDs that meter registrant changes)."""
    if action_mode == "edit_current":
        if not holder:
            raise InvalidInput("Change at least one holder field.")
        fields = _clean_contact(holder, partial=True)
        parameters: dict[str, Any] = {"action_mode": action_mode, "holder": fields,
                                      "confirm_reverification": confirm_reverification}
        call = lambda provider, row: provider.update_holder(  # noqa: E731
            row.ref, action_mode="edit_current", holder=fields,
            confirm_reverification=confirm_reverification)
    elif action_mode == "change":
        if (source_contact is None) == (new_contact is None):
            raise InvalidInput("Choose an existing contact or enter a new one, not both.")
        _refuse_same_holder(source_contact, registration)
        source_id = _source_contact(source_contact, registration, field="source_contact")
        fields = _clean_contact(new_contact) if new_contact is not None else None
        _refuse_same_holder(None, registration, fields)
        parameters = {"action_mode": action_mode, "source_contact_id": source_id,
                      "new_contact": fields}
        call = lambda provider, row: provider.update_holder(  # noqa: E731
            row.ref, action_mode="change", source_contact_id=source_id,
            new_contact=fields)
    else:
        raise InvalidInput("Choose to edit the current holder or change it.")
    replay = {"action_mode": action_mode, "holder": dict(holder or {}) or None,
              "confirm_reverification": confirm_reverification,
              "source_contact": source_contact.pk if source_contact is not None else None,
              "new_contact": dict(new_contact) if new_contact is not None else None}
    return _run(
        "holder", registration=registration, actor=actor, parameters=parameters, call=call,
        done_message=lambda row, result, changes: f"The holder of {row} is updated.",
        what="A holder change", clearance=clearance, replay=replay,
        summary=f"Holder change of {registration}",
    )


def registration_order_registrant_change(*, registration: Registration, actor,
                                         source_contact: Contact | None = None,
                                         new_contact: Mapping[str, Any] | None = None,
                                         clearance: approvals.Clearance | None = None
                                         ) -> Outcome:
    """The paid registrant change: an order, charged to the account and applied
    asynchronously. The local order is opened (and committed) before the call leaves,
    and the call carries its idempotency key: a lost answer is settled by asking again
    with the same key, which never charges twice; the order is followed to its end."""
    if (source_contact is None) == (new_contact is None):
        raise InvalidInput("Choose an existing contact or enter a new one, not both.")
    _refuse_same_holder(source_contact, registration)
    source_id = _source_contact(source_contact, registration, field="source_contact")
    fields = _clean_contact(new_contact) if new_contact is not None else None
    _refuse_same_holder(None, registration, fields)
    op = OPERATIONS["registrant_change"]
    require_permission(actor, op.permission)
    filed = approvals.clear(
        "registrant_change", registration=registration, actor=actor, label=op.label,
        replay={"source_contact": source_contact.pk if source_contact is not None else None,
                "new_contact": dict(new_contact) if new_contact is not None else None},
        summary=f"Paid registrant change of {registration}", clearance=clearance)
    if filed is not None:
        return filed
    book = charges.book()
    action = "registration.registrant_change"
    request = {"source_contact_id": source_id, "new_contact": fields,
               **approvals.audit_fields(clearance)}
    with transaction.atomic():
        row = _lock_row(registration)
        reason = unavailable_reason(row, "registrant_change")
        if reason:
            raise (RegistrationBusy if row.pending_async else OperationUnsupported)(reason)
        already = book.open_charge_for(registration=row, kind=OrderType.REGISTRANT_CHANGE)
        if already is not None:
            raise RegistrationBusy(f"A registrant change is already ordered for {row} "
                                   f"({already.label}); it is followed until it ends.")
        provider = _provider(row)
        fee = row.tld.registrant_change_fee_amount
        price = Money(fee, row.tld.registrant_change_fee_currency) if fee is not None else None
        charge = book.open_charge(registration=row, kind=OrderType.REGISTRANT_CHANGE,
                                  price=price, actor=actor, request=request,
                                  idempotency_key=provider.order_idempotency_key)
    # Committed: the order exists, with its key, before the paid call leaves.
    parameters = {**request, "order": charge.local_id, "idempotency_key": charge.idempotency_key}
    try:
        placed = provider.order_registrant_change(
            row.ref, idempotency_key=charge.idempotency_key, source_contact_id=source_id,
            new_contact=fields)
    except ProviderError as error:
        with transaction.atomic():
            if error.outcome_unknown:
                book.charge_unknown(charge, error.message)
                return record_unknown(
                    actor=actor, action=action, target=row, parameters=parameters, error=error,
                    settled=Settled(settled=False, message=(
                        f"Its {charge.label} stays open: the back-office asks the registrar "
                        "again with the same idempotency key, which cannot charge twice, and "
                        "follows whatever it says.")))
            book.charge_refused(charge, error.message)
            return record_failure(actor=actor, action=action, target=row,
                                  parameters=parameters, error=error)
    with transaction.atomic():
        recorded = book.record_charge(charge, placed.record,
                                      followed=provider.supports(Capability.ORDER_FOLLOW))
        message = (f"Registrant change ordered for {row}: {recorded}. The registrar applies "
                   "it once the payment clears; the order is followed until it ends.")
        row_audit = audit.record(
            actor=actor, action=action, target=row,
            parameters={**parameters, "upstream_order_id": placed.record.upstream_id or ""},
            outcome=Outcomes.PENDING, upstream_status=202,
            upstream_request_id=placed.request_id, message=message)
    return Outcome(status=Outcomes.PENDING, message=message, audit_row=row_audit,
                   data={"order_id": charge.local_id,
                         "upstream_order_id": placed.record.upstream_id or ""})


def registration_set_role_contacts(*, registration: Registration,
                                   roles: Mapping[str, Mapping[str, Any]], actor) -> Outcome:
    """`roles`: {"admin"|"tech"|"billing": {"source": "same_as_owner"|"existing"|"new",
    "contact": Contact (existing), "new_contact": {...} (new)}}; absent roles stay."""
    if not roles:
        raise InvalidInput("Choose at least one role to change.")
    choices: dict[str, RoleContactSource] = {}
    parameters: dict[str, Any] = {}
    for role, choice in roles.items():
        if role not in {"admin", "tech", "billing"}:
            raise InvalidInput(f"Unknown role “{role}”.")
        source = choice.get("source")
        if source == "same_as_owner":
            if registration.owner_contact_id is None:
                raise InvalidInput("“Same as owner” needs an owner contact on the registration.",
                                   field_errors={role: ["There is no owner contact."]})
            choices[role] = RoleContactSource("same_as_owner")
        elif source == "existing":
            contact_id = _source_contact(choice.get("contact"), registration,
                                         field=f"{role}_contact")
            if contact_id is None:
                raise InvalidInput(f"Choose the {role} contact.", field_errors={
                    role: ["Choose a contact."]})
            choices[role] = RoleContactSource("existing", contact_id=contact_id)
        elif source == "new":
            choices[role] = RoleContactSource("new", new_contact=_clean_contact(
                choice.get("new_contact") or {}))
        else:
            raise InvalidInput(f"Choose where the {role} contact comes from.")
        parameters[role] = {"source": source, "contact_id": choices[role].contact_id,
                            "new_contact": choices[role].new_contact}
    return _run(
        "role_contacts", registration=registration, actor=actor, parameters=parameters,
        call=lambda provider, row: provider.set_role_contacts(row.ref, choices),
        done_message=lambda row, result, changes: (
            f"Role contacts of {row} updated: {', '.join(sorted(choices))}."),
    )


def registration_reveal_auth_code(*, registration: Registration, actor,
                                  clearance: approvals.Clearance | None = None) -> Outcome:
    """The auth code, in `Outcome.data['authcode']`: shown once, never stored or logged,
    never in the audit row (which records only that it was revealed)."""
    op = OPERATIONS["auth_code"]
    require_permission(actor, op.permission)
    filed = approvals.clear("auth_code", registration=registration, actor=actor,
                            label="Revealing the auth code", replay={},
                            summary=f"Auth-code reveal of {registration}", clearance=clearance)
    if filed is not None:
        return filed
    authorised = approvals.audit_fields(clearance)
    action = "registration.auth_code"
    with transaction.atomic():
        row = (Registration.objects.select_related("tld__provider_account", "provider_account")
               .get(pk=registration.pk))
        reason = unavailable_reason(row, "auth_code")
        if reason:
            raise OperationUnsupported(reason)
        provider = _provider(row)
        code = call_upstream(lambda: provider.get_auth_code(row.ref), actor=actor,
                             action=action, target=row, parameters=authorised)
        if isinstance(code, Outcome):
            return code
        if not code:
            return record_failure(actor=actor, action=action, target=row,
                                  parameters=authorised, error=AuthcodeUnavailable(
                                      code="authcode_unavailable", status=200))
        message = f"Auth code of {row} revealed. It is shown once and is not stored."
        row_audit = audit.record(actor=actor, action=action, target=row,
                                 parameters=authorised, outcome=Outcomes.SUCCEEDED,
                                 message=message)
        return Outcome(status=Outcomes.SUCCEEDED, message=message, data={"authcode": code},
                       audit_row=row_audit)


def registration_start_transfer_out(*, registration: Registration, actor,
                                    clearance: approvals.Clearance | None = None) -> Outcome:
    """Start the transfer of the registration to another registrar, at an upstream that
    answers with the auth code (TRANSFER_OUT_START). The code is in
    `Outcome.data['authcode']`: shown once, never stored or logged, never in the audit
    row. A lost answer is an unknown outcome: the registration is read again at once."""
    operation = "start_transfer_out"
    op = OPERATIONS[operation]
    require_permission(actor, op.permission)
    filed = approvals.clear(operation, registration=registration, actor=actor,
                            label="Starting an outbound transfer (it hands over the auth "
                                  "code)", replay={},
                            summary=f"Outbound transfer of {registration}",
                            clearance=clearance)
    if filed is not None:
        return filed
    authorised = approvals.audit_fields(clearance)
    action = f"registration.{operation}"
    expected = {"status": "pending_transfer"}
    with transaction.atomic():
        row = _lock_row(registration)
        reason = unavailable_reason(row, operation)
        if reason:
            raise OperationUnsupported(reason)
        provider = _provider(row)
        started = call_upstream(
            lambda: provider.start_transfer_out(row.ref), actor=actor, action=action,
            target=row, parameters=authorised,
            settle=lambda error: _auth_code_lost(reread_after_unknown(
                row, provider, operation, expected=expected)))
        if isinstance(started, Outcome):
            return started
        changes = _apply_done(row, Done(changes=dict(started.changes)), None)
        message = (f"Outbound transfer of {row} started ({started.status or 'started'}). "
                   "The auth code is shown once and is not stored.")
        row_audit = audit.record(
            actor=actor, action=action, target=row,
            parameters={**authorised, "changes": changes_for_audit(changes)},
            outcome=Outcomes.SUCCEEDED, upstream_request_id=started.request_id,
            message=message)
        return Outcome(status=Outcomes.SUCCEEDED, message=message, changes=changes,
                       data={"authcode": started.auth_code}, audit_row=row_audit)


def _auth_code_lost(settled: Settled) -> Settled:
    """The code, if one was sent, was lost with the answer: nobody saw it."""
    from dataclasses import replace

    return replace(settled, message=f"{settled.message} The auth code did not arrive: once "
                                    "the registration reads as settled, starting the "
                                    "transfer again asks for it again.")


def registration_force_sync(*, registration: Registration, actor) -> Outcome:
    """Re-read from the registrar and show what changed, old → new."""

    def message(row: Registration, result: Done, changes: dict) -> str:
        row.last_synced_at = timezone.now()
        row.save(update_fields=["last_synced_at", "updated_at"])
        if not changes:
            return f"{row} is in sync: nothing changed."
        listed = "; ".join(f"{name}: {display_value(old)} → {display_value(new)}"
                           for name, (old, new) in sorted(changes.items()))
        return f"Re-synced {row}. Changed: {listed}."

    return _run(
        "force_sync", registration=registration, actor=actor, parameters={},
        call=lambda provider, row: provider.force_sync(row.ref),
        done_message=message,
    )


#: A free-text reason kept in the audit trail: a few sentences, not a document.
REASON_MAX_LENGTH = 1000


def registration_decide_transfer_out(*, registration: Registration, decision: str,
                                     actor, reason: str = "",
                                     clearance: approvals.Clearance | None = None) -> Outcome:
    """Approve or reject an outbound transfer. A rejection records its reason (the
    ICANN Transfer Policy allows only a few, and the losing registrar must say which)."""
    if decision not in {"approve", "reject"}:
        raise InvalidInput("The decision must be approve or reject.")
    reason = checked_text(reason, "reason", max_length=REASON_MAX_LENGTH, multiline=True)
    if decision == "reject" and not reason:
        raise InvalidInput("Give the reason for rejecting the transfer.",
                           field_errors={"reason": ["Say why the transfer is rejected."]})
    verb = "approved" if decision == "approve" else "rejected"
    parameters: dict[str, Any] = {"decision": decision}
    if reason:
        parameters["reason"] = reason
    return _run(
        "transfer_out", registration=registration, actor=actor,
        parameters=parameters, clearance=clearance, replay={"decision": decision},
        summary=(f"Outbound transfer approval of {registration}" if decision == "approve"
                 else f"Outbound transfer rejection of {registration}"),
        call=lambda provider, row: provider.decide_transfer_out(row.ref, decision),
        done_message=lambda row, result, changes: f"The outbound transfer of {row} is {verb}.",
        implied_changes={"transfer_out_pending": False},
    )


RECIPIENT_HANDLE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,31}$")


def registration_push_transfer(*, registration: Registration, recipient: str,
                               actor, clearance: approvals.Clearance | None = None) -> Outcome:
    handle = (recipient or "").strip().upper()
    if not RECIPIENT_HANDLE.match(handle):
        raise InvalidInput("Give the receiving registrar's handle, e.g. REG-IDS.",
                           field_errors={"recipient": ["Letters, digits, - and _ only."]})
    return _run(
        "push_transfer", registration=registration, actor=actor,
        parameters={"recipient": handle}, clearance=clearance,
        summary=f"Push transfer of {registration} to {handle}",
        call=lambda provider, row: provider.push_transfer(row.ref, handle),
        done_message=lambda row, result, changes: f"{row} was pushed to {handle}.",
        implied_changes={"push_transfer_pending": True},
    )


def registration_set_customer_flag(*, registration: Registration, flagged: bool,
                                   actor, reason: str = "") -> Outcome:
    """The customer's extra-verification flag: local only, nothing is sent upstream.
    With it, unlocks and auth-code reveals need a second person (registrar/approvals.py).
    Clearing it weakens the domain's protection, so that needs a fresh second factor.
    `reason` (optional, e.g. the ticket that asked for it) is kept in the audit row."""
    require_permission(actor, "registrar.flag_registration")
    reason = checked_text(reason, "reason", max_length=REASON_MAX_LENGTH, multiline=True)
    if not flagged:
        approvals.require_step_up(actor, "Clearing the extra-verification flag")
    with transaction.atomic():
        row = Registration.objects.select_for_update().get(pk=registration.pk)
        before = row.customer_flagged
        if before != flagged:
            row.customer_flagged = flagged
            row.save(update_fields=["customer_flagged", "updated_at"])
        state = "on" if flagged else "off"
        message = (f"Extra verification is now {state} for {row}." if before != flagged
                   else f"Extra verification was already {state} for {row}.")
        row_audit = audit.record(
            actor=actor, action="registration.customer_flag", target=row,
            parameters={"changes": {"customer_flagged": [before, flagged]},
                        **({"reason": reason} if reason else {})},
            outcome=Outcomes.SUCCEEDED, message=message)
    return Outcome(status=Outcomes.SUCCEEDED, message=message, audit_row=row_audit)


def registration_resend_verification(*, registration: Registration, actor) -> Outcome:
    return _run(
        "resend_verification", registration=registration, actor=actor, parameters={},
        call=lambda provider, row: _as_done(provider.resend_holder_verification(row.ref)),
        done_message=lambda row, result, changes: (
            f"The verification e-mail for {row}'s holder is queued."),
    )


def registration_replace_dns_records(*, registration: Registration,
                                     records: Sequence[Mapping[str, Any]], actor) -> Outcome:
    """Replace the zone's records at providers that host DNS (Entri). `records` must
    have passed `clean_dns_records`; an empty list is refused (it would empty the zone)."""
    if not records:
        raise InvalidInput("Give at least one record: an empty set would take the domain off "
                           "the air.", field_errors={"records": ["Required."]})
    records = [dict(r) for r in records]
    return _run(
        "dns_records", registration=registration, actor=actor,
        parameters={"records": records},
        call=lambda provider, row: provider.replace_dns_records(row.ref, records),
        done_message=lambda row, result, changes: (
            f"The DNS records of {row} were replaced ({len(records)} record(s))."),
    )


def registration_dns_records_read(*, registration: Registration, actor
                                  ) -> list[dict[str, Any]]:
    """The zone's records as the registrar serves them now (Entri: GET .../dns-records),
    for whoever may replace them (the DNS records page shows the same). Read only.
    Raises PermissionDenied, OperationRefused and ProviderError."""
    require_permission(actor, OPERATIONS["dns_records"].permission)
    row = (Registration.objects.select_related("tld__provider_account", "provider_account")
           .get(pk=registration.pk))
    provider = _provider(row)
    if not provider.supports(Capability.DNS_RECORDS):
        raise OperationUnsupported(f"{provider.display_name} does not host DNS records.")
    return provider.get_dns_records(row.ref)


def _as_done(status: str) -> Done:
    return Done(body={"status": status})


# --- glue hosts -----------------------------------------------------------------------
#
# Glue hosts are not in OPERATIONS: they have three permissions (add, change, delete)
# and their own admin pages, not one button on the registration. They share the
# availability checks through `_availability_reason`.

HOST_PERMISSIONS = {"create": "registrar.add_host", "update": "registrar.change_host",
                    "delete": "registrar.delete_host"}


def hosts_unavailable_reason(registration: Registration, user=None,
                             permission: str | None = None) -> str | None:
    """Why glue hosts cannot be changed on `registration` (by `user`, who needs
    `permission`), or None. The admin shows it; the host services raise it."""
    if user is not None and permission and not user.has_perm(permission):
        return "You do not have permission for this."
    if registration.status in TERMINAL_STATUSES:
        return (f"This registration is {registration.get_status_display().lower()}: it is "
                "no longer ours to change, only to re-sync.")
    reason = _availability_reason(registration, Capability.HOSTS)
    if reason is None and registration.unsettled_operation == "hosts":
        return unsettled_notice(registration)
    return reason


def unsettled_notice(registration: Registration) -> str:
    """Why the operation whose last answer was lost is refused, and what happens next;
    "" when nothing is unsettled."""
    operation = registration.unsettled_operation
    if not operation:
        return ""
    label = OPERATIONS[operation].label.lower() if operation in OPERATIONS else "glue-host"
    what = "hosts have" if operation == "hosts" else "registration has"
    return (f"The last {label} change may have been applied (no usable answer came back), "
            f"and the {what} not been read again yet. The back-office keeps trying; a "
            "re-sync settles it now.")


def _reread_hosts_after_unknown(row: Registration, provider: Provider, verb: str,
                                host_name: str, addresses: Sequence[str] | None) -> Settled:
    """After a glue-host change whose outcome is not known: the hosts read again and
    mirrored; whether the change is in effect."""
    try:
        changes = mirror_hosts(row, provider.list_hosts(row.ref))
    except ProviderError as error:
        row.unsettled_operation = "hosts"
        row.unsettled_since = timezone.now()
        row.save(update_fields=["unsettled_operation", "unsettled_since", "updated_at"])
        enqueue_after_commit(SETTLE_TASK, row.pk, countdown=settings.PROCESS_POLL_BASE_DELAY)
        return Settled(settled=False, message=(
            f"The hosts could not be read again now ({error.message.rstrip('.')}). Until they "
            "have been, "
            "glue-host changes are refused here; the back-office keeps trying."))
    host = row.hosts.filter(host_name=host_name).prefetch_related("addresses").first()
    present = {a.address for a in host.addresses.all()} if host else None
    if verb == "delete":
        applied = host is None
    elif verb == "create":
        applied = host is not None
    else:
        applied = present is not None and {
            str(ipaddress.ip_address(a)) for a in (addresses or [])} == present
    return Settled(settled=True, applied=applied, changes=changes, message=(
        "Read again: the registrar "
        + ("shows the change, so it was applied." if applied
           else "does not show it, so it was not applied and may be sent again.")))


def clean_host_name(registration: Registration, value: str) -> str:
    """The glue host's name in ASCII (punycode) form, strictly below the registration's
    name. Unicode and punycode input both work: the comparison is made on the ASCII
    forms. A label mixing scripts (Latin with Cyrillic, ...) is refused as a homograph.
    Raises InvalidInput keyed "host_name"."""

    def refuse(message: str) -> NoReturn:
        raise InvalidInput(message, field_errors={"host_name": [message]})

    raw = (value or "").strip()
    if not raw:
        refuse(f"Enter the host name, e.g. ns1.{registration}.")
    try:
        name = to_ascii(raw)
    except ValidationError as exc:
        refuse(exc.messages[0])
    domain = to_ascii(registration.name)
    if name == domain:
        refuse(f"“{raw}” is the domain itself: a glue host is a name below it, "
               f"e.g. ns1.{registration}.")
    if not name.endswith(f".{domain}"):
        refuse(f"“{raw}” is not under {registration}: a glue host must be a subdomain "
               "of the registration.")
    for label in name[:-len(domain) - 1].split("."):
        if not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?", label):
            refuse(f"“{raw}” is not a valid host name (letters, digits and inner "
                   "hyphens only).")
        problem = mixed_script_problem(label)
        if problem:
            refuse(f"“{raw}”: {problem}")
    return name


def clean_host_addresses(values: Sequence[str]) -> list[tuple[str, int]]:
    """At least one IP literal, each as (compressed normal form, version), in the order
    given. No networks (CIDR), no zone ids, no IPv4-mapped IPv6, no duplicates after
    normalisation; what may be glue is `registrar.values.addresses`. Raises InvalidInput
    keyed "addresses"."""
    errors: list[str] = []
    cleaned: list[tuple[str, int]] = []
    for raw in values:
        value = (raw or "").strip()
        if not value:
            continue
        try:
            entry = clean_glue_address(value)
        except ValidationError as exc:
            errors.extend(exc.messages)
            continue
        if entry in cleaned:
            errors.append(f"{value}: listed twice (as {entry[0]}).")
            continue
        cleaned.append(entry)
    if not errors and not cleaned:
        errors.append("Give at least one IP address.")
    if errors:
        raise InvalidInput(" ".join(errors), field_errors={"addresses": errors})
    return cleaned


def _confirmed_addresses(host: Any, sent: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """The addresses the upstream's answer gives the host, normalised (the version is
    told from the literal); what we sent when the answer carries none we can read."""
    raw = host.get("addresses") if isinstance(host, Mapping) else None
    if not isinstance(raw, list) or not raw:
        return list(sent)
    confirmed: list[tuple[str, int]] = []
    for item in raw:
        value = item.get("address") if isinstance(item, Mapping) else None
        try:
            address = ipaddress.ip_address(str(value).strip())
        except ValueError:
            return list(sent)
        if getattr(address, "scope_id", None):
            return list(sent)
        if (address.compressed, address.version) not in confirmed:
            confirmed.append((address.compressed, address.version))
    return confirmed


def _set_addresses(host: Host, addresses: Sequence[tuple[str, int]]) -> None:
    host.addresses.all().delete()
    HostAddress.objects.bulk_create(
        HostAddress(host=host, address=address, version=version)
        for address, version in addresses)


def _host_wire(host_name: str, addresses: Sequence[tuple[str, int]]) -> dict[str, Any]:
    return {"host_name": host_name,
            "addresses": [{"address": a, "version": v} for a, v in addresses]}


def _run_host(
    verb: str,
    *,
    registration: Registration,
    host_name: str,
    actor,
    parameters: Mapping[str, Any],
    call: Callable[[Provider, Registration], tuple[Any, str]],
    apply: Callable[[Registration, Host | None, Any], tuple[str, dict[str, Any]]],
) -> Outcome:
    """The glue-host twin of `_run`: lock, refuse, call, mirror, audit once. `call`
    answers (upstream host body, request id); `apply` mirrors it and answers
    (message, changes for the audit row). Permission and input are checked by the
    caller, before this."""
    action = f"host.{verb}"
    with transaction.atomic():
        row = _lock_row(registration)
        reason = hosts_unavailable_reason(row)
        if reason:
            raise (RegistrationBusy if row.pending_async else OperationUnsupported)(reason)
        host = Host.objects.filter(registration=row, host_name=host_name).first()
        if verb != "create" and host is None:
            raise OperationRefused(f"The glue host {to_unicode(host_name)} is no longer "
                                   f"on {row}; reload the page.", code="not_found")
        provider = _provider(row)
        result = call_upstream(
            lambda: call(provider, row), actor=actor, action=action, target=row,
            parameters=parameters,
            settle=lambda error: _reread_hosts_after_unknown(row, provider, verb, host_name,
                                                             parameters.get("addresses")))
        if isinstance(result, Outcome):
            return result
        if row.unsettled_operation == "hosts":
            _clear_unsettled(row)
        body, request_id = result
        message, changes = apply(row, host, body)
        # The registration changed here: a sync that read its hosts before this must
        # not write them back (registrar.sync._claim compares updated_at).
        row.save(update_fields=["updated_at"])
        row_audit = audit.record(
            actor=actor, action=action, target=row,
            parameters={**parameters, "changes": changes}, outcome=Outcomes.SUCCEEDED,
            upstream_request_id=request_id, message=message)
        return Outcome(status=Outcomes.SUCCEEDED, message=message, audit_row=row_audit,
                       data={"host": body} if body else {})


def host_create(*, registration: Registration, host_name: str, addresses: Sequence[str],
                actor) -> Outcome:
    """Create a glue host below `registration` with `addresses` (IP literals)."""
    require_permission(actor, HOST_PERMISSIONS["create"])
    name = clean_host_name(registration, host_name)
    cleaned = clean_host_addresses(addresses)

    def apply(row: Registration, existing: Host | None, body: Any):
        confirmed = _confirmed_addresses(body, cleaned)
        host, _ = Host.objects.get_or_create(registration=row, host_name=name)
        _set_addresses(host, confirmed)
        listed = ", ".join(a for a, _ in confirmed)
        return (f"Glue host {to_unicode(name)} created on {row} with {listed}.",
                {"addresses": {"old": None, "new": [a for a, _ in confirmed]}})

    return _run_host(
        "create", registration=registration, host_name=name, actor=actor,
        parameters={"host_name": name, "addresses": [a for a, _ in cleaned]},
        call=lambda provider, row: (provider.create_host(
            row.ref, name, [a for a, _ in cleaned]), ""),
        apply=apply)


def host_update(*, host: Host, addresses: Sequence[str], actor) -> Outcome:
    """Replace the address set of a glue host."""
    require_permission(actor, HOST_PERMISSIONS["update"])
    cleaned = clean_host_addresses(addresses)
    name = host.host_name

    def apply(row: Registration, current: Host, body: Any):
        old = list(current.addresses.values_list("address", flat=True))
        confirmed = _confirmed_addresses(body, cleaned)
        _set_addresses(current, confirmed)
        current.save(update_fields=["updated_at"])
        listed = ", ".join(a for a, _ in confirmed)
        return (f"Glue host {current} of {row} now has the addresses {listed}.",
                {"addresses": {"old": old, "new": [a for a, _ in confirmed]}})

    return _run_host(
        "update", registration=host.registration, host_name=name, actor=actor,
        parameters={"host_name": name, "addresses": [a for a, _ in cleaned]},
        call=lambda provider, row: (provider.update_host(
            row.ref, name, [a for a, _ in cleaned]), ""),
        apply=apply)


def host_delete(*, host: Host, actor) -> Outcome:
    """Delete a glue host at the registrar, then from the mirror."""
    require_permission(actor, HOST_PERMISSIONS["delete"])
    name = host.host_name

    def delete(provider: Provider, row: Registration):
        try:
            return {}, provider.delete_host(row.ref, name)
        except NotFound:
            # The registrar no longer has it (say, a retried DELETE whose first attempt
            # went through): the goal is reached, so the mirror follows.
            return {"already_gone": True}, ""

    def apply(row: Registration, current: Host, body: Any):
        old = list(current.addresses.values_list("address", flat=True))
        current.delete()
        gone = " (the registrar no longer had it)" if body.get("already_gone") else ""
        return (f"Glue host {to_unicode(name)} deleted from {row}{gone}.",
                {"addresses": {"old": old, "new": None}})

    return _run_host(
        "delete", registration=host.registration, host_name=name, actor=actor,
        parameters={"host_name": name}, call=delete, apply=apply)


# --- processes ----------------------------------------------------------------------


def _log_entries(process: Process, log: Sequence[Mapping[str, Any]]) -> None:
    from django.utils.dateparse import parse_datetime

    from registrar.models import ProcessLogEntry

    known = process.log_entries.count()
    for entry in list(log)[known:]:  # the upstream log only grows
        logged = entry.get("date") or entry.get("logged_at")
        ProcessLogEntry.objects.create(
            process=process,
            logged_at=parse_datetime(logged) if isinstance(logged, str) else None,
            message=str(entry.get("message", "")), raw=dict(entry))


def process_poll(*, process: Process) -> Process:
    """Re-read one process. On a terminal status, re-read its registration, unblock it,
    and record the outcome in the audit trail (as system work)."""
    with transaction.atomic():
        process = (Process.objects.select_for_update(of=("self",))
                   .select_related("registration__tld__provider_account",
                                   "registration__provider_account")
                   .get(pk=process.pk))
        if process.is_terminal:
            return process
        registration = process.registration
        provider = _provider(registration)
        view = provider.get_process(registration.ref, process.upstream_id)
        process.status = view.process.status or process.status
        process.raw = view.process.raw
        process.poll_count += 1
        _log_entries(process, view.log)
        if ProcessStatus.is_terminal(process.status):
            process.completed_at = timezone.now()
        process.save()
        registration.rtr_process_status = process.status
        registration.save(update_fields=["rtr_process_status", "updated_at"])
        if process.is_terminal:
            _finish_process(process, provider)
        return process


def _finish_process(process: Process, provider: Provider) -> None:
    registration = process.registration
    record = provider.get_registration(registration.ref).registration
    changes = apply_registration(registration, record, synced_at=timezone.now())
    # The process is over whatever the upstream view still says about it.
    if registration.pending_async and registration.rtr_process_id == process.upstream_id:
        registration.pending_async = False
        registration.save(update_fields=["pending_async", "updated_at"])
    succeeded = process.status == ProcessStatus.COMPLETED
    audit.record(
        actor=None, actor_label="system:process-poller", action=f"process.{process.action}",
        target=registration,
        parameters={"process": process.upstream_id, "changes": changes_for_audit(changes)},
        outcome=Outcomes.SUCCEEDED if succeeded else Outcomes.FAILED,
        process_id=process.upstream_id,
        message=f"Process {process.upstream_id} ({process.action}) ended {process.status}.",
    )


def process_follow_step(*, process: Process) -> str:
    """One step of following a process: poll it once, give up when it has been polled
    too often. Returns "completed", "failed" (terminal, not completed), "running",
    "stuck" or "error" (this poll failed; the next one may work). Shared by the Celery
    task (which re-enqueues while "running") and `manage.py poll_processes`."""


    process.refresh_from_db()
    if process.is_terminal:
        return "completed" if process.status == ProcessStatus.COMPLETED else "failed"
    if process.stuck:
        return "stuck"
    try:
        process = process_poll(process=process)
        outcome = "running"
    except (ProviderError, OperationRefused) as error:
        logger.warning("Polling process %s failed: %s", process.upstream_id,
                       getattr(error, "code", error))
        # Count the failed poll too: a process we can never read must end stuck.
        Process.objects.filter(pk=process.pk).update(poll_count=process.poll_count + 1)
        process.poll_count += 1
        outcome = "error"
    if process.is_terminal:
        return "completed" if process.status == ProcessStatus.COMPLETED else "failed"
    if process.poll_count >= settings.PROCESS_POLL_LIMIT:
        process_mark_stuck(process=process)
        return "stuck"
    return outcome if outcome == "error" else "running"


def schedule_poll(process: Process, *, delay: float | None = None) -> None:
    """Follow `process` with exactly one chain of polls: the next one is due at
    `next_poll_at`, and the task carries that time. A poll whose time is no longer the
    process's (the sweep restarted a chain it thought lost) ends without polling, so
    polls keep the backoff's pace."""
    seconds = settings.PROCESS_POLL_BASE_DELAY if delay is None else delay
    due = timezone.now() + timedelta(seconds=seconds)
    Process.objects.filter(pk=process.pk).update(next_poll_at=due)
    process.next_poll_at = due
    enqueue_after_commit(POLL_TASK, process.pk, countdown=seconds,
                         kwargs={"due": due.isoformat()})


def process_mark_stuck(*, process: Process) -> None:
    """Stop polling a process that will not finish; staff look at it instead."""
    updated = Process.objects.filter(pk=process.pk, stuck=False, is_terminal=False).update(
        stuck=True, updated_at=timezone.now())
    if updated:
        audit.record(
            actor=None, actor_label="system:process-poller", action="process.stuck",
            target=process.registration, parameters={"process": process.upstream_id,
                                                     "polls": process.poll_count},
            outcome=Outcomes.FAILED, process_id=process.upstream_id,
            message=f"Process {process.upstream_id} did not finish after "
                    f"{process.poll_count} polls; it needs a look.")


def process_read_remote(*, process: Process, actor) -> ProcessView:
    """One process and its log as the registrar has them now (GET .../processes/:id).
    Read only: the mirror is the poller's to update. Raises PermissionDenied,
    OperationRefused and ProviderError."""
    require_permission(actor, PROCESS_VIEW_PERMISSION)
    registration = (Registration.objects.select_related("tld__provider_account",
                                                        "provider_account")
                    .get(pk=process.registration_id))
    provider = _provider(registration)
    if not provider.supports(Capability.PROCESSES):
        raise OperationUnsupported(f"{provider.display_name} does not list processes.")
    return provider.get_process(registration.ref, process.upstream_id)


def _process_action(process: Process, *, actor, permission: str, action: str,
                    call: Callable[[Provider, Registration, Process], str], message: str,
                    refuse: Callable[[Process], str | None]) -> Outcome:
    require_permission(actor, permission)
    with transaction.atomic():
        process = (Process.objects.select_for_update(of=("self",))
                   .select_related("registration__tld__provider_account",
                                   "registration__provider_account").get(pk=process.pk))
        reason = refuse(process)
        if reason:
            raise OperationRefused(reason)
        registration = process.registration
        provider = _provider(registration)
        parameters = {"process": process.upstream_id}
        status = call_upstream(
            lambda: call(provider, registration, process), actor=actor, action=action,
            target=registration, parameters=parameters,
            settle=lambda error: _reread_process_after_unknown(process, provider))
        if isinstance(status, Outcome):
            return status
        row_audit = audit.record(actor=actor, action=action, target=registration,
                                 parameters={**parameters, "status": status},
                                 outcome=Outcomes.SUCCEEDED, process_id=process.upstream_id,
                                 message=message)
        return Outcome(status=Outcomes.SUCCEEDED, message=message, process=process,
                       data={"status": status}, audit_row=row_audit)


def _reread_process_after_unknown(process: Process, provider: Provider) -> Settled:
    """After a resend or cancel whose outcome is not known: the process read again."""
    try:
        view = provider.get_process(process.registration.ref, process.upstream_id)
    except ProviderError as error:
        return Settled(settled=False, message=(
            f"The process could not be read again now ({error.message.rstrip('.')}); it is "
            "polled as usual and shows its state when it can be read."))
    process.status = view.process.status or process.status
    process.raw = view.process.raw
    _log_entries(process, view.log)
    if ProcessStatus.is_terminal(process.status) and process.completed_at is None:
        process.completed_at = timezone.now()
    process.save()
    return Settled(settled=True, changes={"process_status": (None, process.status)}, message=(
        f"Read again: process {process.upstream_id} is {process.get_status_display().lower()}."))


def process_action_refusal(process: Process, action: str) -> str | None:
    """Why `action` ("resend" or "cancel") is refused on `process` before anything is
    sent, or None: the services' own rule, which a dry run checks too."""
    if action == "resend":
        return None if process.status == ProcessStatus.SUSPENDED else (
            "Only a suspended process can be resumed.")
    return "The process has already ended." if process.is_terminal else None


def process_resend(*, process: Process, actor) -> Outcome:
    """Resume a SUSPENDED process; polling picks it up again."""
    outcome = _process_action(
        process, actor=actor, permission="registrar.resend_process", action="process.resend",
        call=lambda provider, reg, proc: provider.resend_process(reg.ref,
                                                                 proc.upstream_id),
        message=f"Process {process.upstream_id} was resumed.",
        refuse=lambda proc: process_action_refusal(proc, "resend"))
    if outcome.ok:
        Process.objects.filter(pk=process.pk).update(stuck=False, poll_count=0)
        schedule_poll(process)
    return outcome


def process_cancel(*, process: Process, actor) -> Outcome:
    def cancel(provider: Provider, reg: Registration, proc: Process) -> str:
        status = provider.cancel_process(reg.ref, proc.upstream_id)
        proc.status = ProcessStatus.CANCELLED
        proc.completed_at = timezone.now()
        proc.save()
        _finish_process(proc, provider)
        return status

    return _process_action(
        process, actor=actor, permission="registrar.cancel_process", action="process.cancel",
        call=cancel, message=f"Process {process.upstream_id} was cancelled.",
        refuse=lambda proc: process_action_refusal(proc, "cancel"))
