"""Read-side queries for the admin, views and commands. Reads write no audit rows."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from registrar import deadlines
from registrar.models import ApprovalStatus, Host, ProviderAccount, Registration
from registrar.providers.base import Capability
from registrar.providers.errors import ProviderError
from registrar.providers.registry import provider_for_account, provider_for_registration
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


def registration_hosts_live(registration: Registration) -> list[dict[str, Any]]:
    """The registration's glue hosts as the registrar lists them now (GET .../hosts),
    [{host_name, addresses: [{address}]}]; the mirror is not changed. Raises
    ProviderError (Unsupported where the upstream keeps no glue hosts)."""
    return provider_for_registration(registration).list_hosts(registration.ref)


def provider_account_registrations_live(account: ProviderAccount, *, limit: int = 25,
                                        ) -> list[tuple[Any, Registration | None]]:
    """The first `limit` registrations the account's upstream lists now (GET
    /api/domain_registrations, or the upstream's own list), each with its mirror row or
    None. The listing is consumed lazily, so only the pages these take are read; nothing
    is written. Raises OperationUnsupported before anything is sent when the upstream
    lists no registrations, ProviderError when it cannot answer."""
    from itertools import islice

    from registrar.operations import OperationUnsupported

    if not account.supports(Capability.REGISTRATION_SYNC):
        raise OperationUnsupported(
            f"{account.get_kind_display()} accounts list no registrations, so there is "
            "nothing to read at the registrar.", code="no_registration_list")
    provider = provider_for_account(account)
    records = list(islice(provider.iter_registrations(page_size=limit), limit))
    # The registrations this account serves (its own, or its TLDs' when they name no
    # account), matched by upstream id where the upstream has ids, else by name.
    served = Registration.objects.filter(
        Q(provider_account=account)
        | Q(provider_account__isnull=True, tld__provider_account=account))
    ids = [str(r.fields["upstream_id"]) for r in records if r.fields.get("upstream_id")]
    names = [r.name for r in records]
    by_id = {row.upstream_id: row for row in served.filter(upstream_id__in=ids)} if ids else {}
    by_name = {row.name: row for row in served.filter(name__in=names)}
    return [(record, by_id.get(str(record.fields.get("upstream_id") or ""))
             or by_name.get(record.name)) for record in records]


def registration_hosts_compared(registration: Registration, live: list[dict[str, Any]],
                                ) -> list[dict[str, Any]]:
    """The mirrored and the live glue hosts side by side, one row per host name (sorted):
    {host_name, mirror: [addresses] | None, live: [addresses] | None, differs}."""
    mirror = {host.host_name: sorted(a.address for a in host.addresses.all())
              for host in registration_hosts(registration)}
    remote = {str(host.get("host_name", "")).lower(): sorted(
        str(a.get("address", "")) for a in host.get("addresses") or [])
        for host in live}
    return [{"host_name": name, "mirror": mirror.get(name), "live": remote.get(name),
             "differs": mirror.get(name) != remote.get(name)}
            for name in sorted(mirror.keys() | remote.keys())]


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


#: What the mirror and the registrar are compared on, for a registration read live.
COMPARED_FIELDS = ("name", "status", "expires_at", "locked", "privacy_protect", "auto_renew",
                   "dnssec_enabled", "nameservers", "upstream_id")


def registration_compared(registration: Registration) -> tuple[list[dict[str, Any]], str]:
    """The registration's fields here beside the registrar's live read (rows with name,
    here, there, stated, differs), or ([], the reason) when it could not be read."""
    view, problem = registration_live_view(registration)
    if view is None:
        return [], problem or "the registrar gave no answer"
    fields = view.registration.fields
    rows = []
    for name in COMPARED_FIELDS:
        here, stated = getattr(registration, name, None), name in fields
        there = fields.get(name)
        rows.append({"name": name, "here": here, "there": there, "stated": stated,
                     "differs": stated and _comparable(here) != _comparable(there)})
    return rows, ""


def _comparable(value: Any) -> Any:
    # Both sides' times are aware datetimes; names and lists compare as stored.
    return value.isoformat() if hasattr(value, "isoformat") else value
