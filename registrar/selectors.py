"""Read-side queries for the admin, views and commands. Reads write no audit rows."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from registrar import deadlines
from registrar.models import ApprovalStatus, Host, Registration
from registrar.providers.errors import ProviderError
from registrar.providers.registry import provider_for_registration
from registrar.values.names import to_ascii


def _button_label(registration: Registration, name: str, default: str) -> str:
    """Toggles say what they will do."""
    if name == "lock":
        return "Unlock" if registration.locked else "Lock"
    if name == "privacy":
        return "Privacy off" if registration.privacy_protect else "Privacy on"
    if name == "auto_renew":
        return "Auto-renew off" if registration.auto_renew else "Auto-renew on"
    return default


def operation_buttons(registration: Registration, user) -> list[dict[str, Any]]:
    """Every operation this user may see on this registration: enabled, or disabled with
    the reason. Operations the user lacks the permission for are not shown at all."""
    from registrar.services import OPERATIONS, unavailable_reason

    account = registration.served_by
    capabilities = account.capabilities if account else frozenset()
    buttons = []
    for name, op in OPERATIONS.items():
        # What the registrar cannot do at all is not offered; what this TLD or this
        # registration's state rules out is shown disabled, with the reason.
        if not user.has_perm(op.permission) or (account and op.capability not in capabilities):
            continue
        url_name = ("admin:registrar_registration_auth_code" if name == "auth_code"
                    else "admin:registrar_registration_operation")
        args = [registration.pk] if name == "auth_code" else [registration.pk, name]
        buttons.append({
            "name": name,
            "label": _button_label(registration, name, op.label),
            "url": reverse(url_name, args=args),
            "reason": unavailable_reason(registration, name, user),
        })
    return buttons


def registration_summary(registration: Registration | None, user) -> dict[str, Any]:
    from registrar.services import unsettled_notice

    if registration is None:
        return {}
    return {
        "operations": operation_buttons(registration, user),
        "hosts": list(registration.hosts.prefetch_related("addresses")),
        "dnssec_keys": list(registration.dnssec_keys.all()),
        "processes_in_flight": list(registration.processes.filter(is_terminal=False)),
        "unsettled": unsettled_notice(registration),
        "approvals_waiting": list(registration.approvals.filter(
            status=ApprovalStatus.PENDING, expires_at__gt=timezone.now())
            .select_related("requested_by")),
        "hosts_url": (reverse("admin:registrar_registration_hosts", args=[registration.pk])
                      if user.has_perm("registrar.view_host") else None),
    }


def registration_hosts(registration: Registration) -> list[Host]:
    """The registration's glue hosts from the mirror, addresses prefetched (v4 first)."""
    return list(registration.hosts.prefetch_related("addresses"))


def registration_host(registration: Registration, host_name: str) -> Host | None:
    """One glue host of the registration by name, Unicode or ASCII; None if unknown."""
    try:
        name = to_ascii(host_name)
    except ValidationError:
        name = (host_name or "").strip().lower()
    return registration.hosts.filter(host_name=name).first()


def registration_live_view(registration: Registration):
    """The registration as the registrar sees it now, or None (with the reason)."""
    try:
        return provider_for_registration(registration).get_registration(
            registration.ref), None
    except ProviderError as error:
        return None, error.message


def operation_context(registration: Registration, operation: str) -> dict[str, Any]:
    """What an operation page shows besides its form."""
    if operation == "transfer_out":
        view, error = registration_live_view(registration)
        if view is not None:
            deadlines.note_transfer_out(registration, view.transfer_out)
        return {"transfer_out": view.transfer_out if view else None, "live_error": error,
                "auto_ack_at": registration.transfer_out_auto_ack_at,
                "auto_ack_in": deadlines.countdown(registration.transfer_out_auto_ack_at)}
    if operation == "nameservers" and registration.dnssec_enabled:
        return {"warning": "DNSSEC is on for this registration. Changing nameservers to ones "
                           "that do not serve the same signed zone breaks resolution."}
    return {}


def dns_records_text(registration: Registration) -> str:
    """The live records, one per line in the form's syntax (the mirrored ones when they
    cannot be read now)."""
    try:
        records = provider_for_registration(registration).get_dns_records(registration.ref)
    except ProviderError:
        records = list(registration.dns_records or [])
    return "\n".join(f"{r.get('host', '@')} {r.get('type', '')} {r.get('value', '')} "
                      f"{r.get('ttl', 3600)}" for r in records)
