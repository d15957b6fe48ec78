"""Seeding the sandbox from the Django mirror, so what the back-office shows (the demo
data, for instance) also exists upstream.

Upstream ids come from the mirror: `Tld.upstream_id` is the TLD id,
`Contact.upstream_id` the contact id, `Registration.upstream_id` the guid. Rows with
no upstream id have never been upstream: such contacts and registrations are
skipped (a TLD gets an id from the sandbox).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Prefetch

from registrar.sandbox import records as r
from registrar.sandbox.state import SandboxState
from registrar.sandbox.wire import Json

# The demo's shared name servers: the platform hosts a DNS zone for such names.
PLATFORM_DNS_SUFFIX = ".platform-dns.example"


def _money(amount: int | None, currency: str) -> Json | None:
    return r.money(amount, currency) if amount is not None else None


#: Further parts of the mirror that other apps keep (billing's orders in transit): each
#: a function returning seed records by key, registered from its app's ready().
MIRROR_SOURCES: list[Callable[[], dict[str, list[Json]]]] = []


def sandbox_accounts():
    """The provider accounts this sandbox serves: those whose adapter is the built-in
    sandbox's (it reaches this process's sandbox, whatever the account is called)."""
    from registrar.models import ProviderAccount
    from registrar.providers.domain_api.sandbox import SandboxProvider

    return ProviderAccount.objects.with_adapter(SandboxProvider)


def register_mirror_source(source: Callable[[], dict[str, list[Json]]]) -> None:
    if source not in MIRROR_SOURCES:
        MIRROR_SOURCES.append(source)


def mirror_payload() -> Json:
    """The mirror as a seed payload (see `state.apply_seed`)."""
    from contacts.models import Contact
    from registrar.models import HostAddress, Process, ProcessStatus, Registration, Tld

    tlds = [{
        **({"id": tld.upstream_id} if tld.upstream_id is not None else {}),
        "name": tld.name,
        "registrar": r.REGISTRAR if tld.provider_account_id else None,
        **{flag: getattr(tld, flag) for flag in r.TLD_FLAGS},
        "authcode_behavior": tld.authcode_behavior,
        "privacy_fee": _money(tld.privacy_fee_amount, tld.privacy_fee_currency),
        "registrant_change_fee": _money(tld.registrant_change_fee_amount,
                                        tld.registrant_change_fee_currency),
        "cancellation_window_days": tld.cancellation_window_days,
    } for tld in Tld.objects.order_by("pk")]

    contacts = []
    for contact in Contact.objects.filter(upstream_id__isnull=False).select_related(
            "tld", "split_from").order_by("upstream_id"):
        record: Json = {
            "id": contact.upstream_id,
            "handle": contact.handle,
            **{name: getattr(contact, name) for name in r.CONTACT_FIELDS},
            "country": str(getattr(contact.country, "code", contact.country) or ""),
            "validations": contact.validations,
            "split_from_id": contact.split_from.upstream_id if contact.split_from else None,
            "created_at": r.iso(contact.upstream_created_at or contact.created_at),
            "updated_at": r.iso(contact.upstream_updated_at or contact.updated_at),
        }
        if contact.tld is not None:
            record["tld"] = contact.tld.name
        contacts.append(record)
    known_contacts = {c["id"] for c in contacts}

    def contact_ref(contact: Any) -> int | None:
        upstream_id = contact.upstream_id if contact is not None else None
        return upstream_id if upstream_id in known_contacts else None

    registrations = []
    queryset = (
        Registration.objects.filter(upstream_id__isnull=False)
        .select_related("tld", "owner_contact", "admin_contact", "tech_contact",
                        "billing_contact")
        .prefetch_related("dnssec_keys",
                          Prefetch("hosts__addresses", queryset=HostAddress.objects.all()))
        .order_by("name")
    )
    for registration in queryset:
        record = {
            "id": registration.upstream_id,
            "name": registration.name,
            "tld": registration.tld.name,
            "status": registration.status,
            **{key: getattr(registration, key) for key in (
                "auto_renew", "locked", "privacy_protect", "dnssec_enabled",
                "server_transfer_prohibited", "local_contact_active",
                "transfer_out_pending", "push_transfer_pending", "within_cancellation_window")},
            "expires_at": r.iso(registration.expires_at),
            "cancellation_deadline_at": r.iso(registration.cancellation_deadline_at),
            "nameservers": list(registration.nameservers or []),
            "subscription_id": registration.subscription_id,
            **{f"{role}_contact_id": contact_ref(getattr(registration, f"{role}_contact"))
               for role in r.ROLES},
            "dnssec_keys": [{"flags": key.flags, "algorithm": key.algorithm,
                             "publicKey": key.public_key}
                            for key in registration.dnssec_keys.all()],
            "hosts": [{"host_name": host.host_name,
                       "addresses": [{"address": a.address} for a in host.addresses.all()]}
                      for host in registration.hosts.all()],
            "created_at": r.iso(registration.upstream_created_at or registration.created_at),
            "updated_at": r.iso(registration.upstream_updated_at or registration.updated_at),
        }
        nameservers = record["nameservers"]
        if nameservers and all(ns.endswith(PLATFORM_DNS_SUFFIX) for ns in nameservers):
            # A stable id from the guid, so re-seeding never renumbers the zone.
            record["dns_zone"] = {"id": int(registration.upstream_id.replace("-", "")[:7], 16),
                                  "name": registration.name}
        registrations.append(record)
    known_registrations = {reg["id"] for reg in registrations}

    processes = [{
        "id": process.upstream_id,
        "registration_id": process.registration.upstream_id,
        "action": process.action,
        "status": process.status,
        "createdDate": r.iso(process.upstream_created_at or process.created_at),
        "updatedDate": r.iso(process.updated_at),
        "log": [{"date": r.iso(entry.logged_at), "level": "INFO", "message": entry.message}
                for entry in process.log_entries.all()],
    } for process in Process.objects.exclude(status__in=ProcessStatus.terminal())
        .select_related("registration").prefetch_related("log_entries").order_by("pk")
        if process.registration.upstream_id in known_registrations]

    payload: Json = {"tlds": tlds, "contacts": contacts, "registrations": registrations,
                     "processes": processes}
    for source in MIRROR_SOURCES:
        for key, records in source().items():
            payload.setdefault(key, []).extend(
                record for record in records
                if record.get("registration_id") in (None, *known_registrations))
    return payload


def seed_from_mirror(state: SandboxState | None = None) -> dict[str, int]:
    """Upsert the mirror's TLDs, contacts, registrations (with DNSSEC keys and hosts)
    and unfinished processes into `state` (default: the process-wide sandbox's).
    Idempotent. Returns how many of each were seeded."""
    if state is None:
        from registrar.sandbox import get_app

        state = get_app().state
    return state.seed(mirror_payload())
