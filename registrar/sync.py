"""Mirror upstream state into the models.

`apply_registration()` is the one place where an upstream registration record becomes
local rows. Operations use it after a 200, force sync and process completion use it
after a re-read, and the reconcile job uses it for every registration. It reports
what changed, field by field, old → new, so every caller can audit honestly.
"""

from __future__ import annotations

import ipaddress
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from backoffice import audit
from backoffice.models import StaffAction
from contacts.models import Contact
from registrar.domain_names import to_ascii, to_unicode
from registrar.models import Host, HostAddress, ProviderAccount, Registration, Tld
from registrar.providers.base import (
    REGISTRATION_OPERATIONS,
    Capability,
    ContactRecord,
    Provider,
    RegistrationRecord,
    RegistrationRef,
)
from registrar.providers.errors import ProviderError
from registrar.providers.registry import build_provider

ROLES = ("owner", "admin", "tech", "billing")

FieldChanges = dict[str, tuple[Any, Any]]


def _comparable(value: Any) -> Any:
    # Datetimes from upstream carry offsets; the mirror stores UTC. Compare instants.
    if isinstance(value, datetime):
        return value.timestamp()
    return value


def display_value(value: Any) -> Any:
    """A JSON-friendly form of a field value, for audit rows and diffs."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Contact):
        return value.handle or value.upstream_id
    return value


def upsert_contact(record: ContactRecord, *, tld: Tld | None = None, account=None) -> Contact:
    """Create or update the mirror of one upstream contact (keyed by upstream id)."""
    contact = Contact.objects.filter(upstream_id=record.upstream_id).first()
    values = dict(record.fields)
    if record.split_from_upstream_id:
        values["split_from"] = Contact.objects.filter(
            upstream_id=record.split_from_upstream_id).first()
    if contact is None:
        return Contact.objects.create(**values, tld=tld, account=account)
    changed = [name for name, value in values.items() if getattr(contact, name) != value]
    for name in changed:
        setattr(contact, name, values[name])
    if tld is not None and contact.tld_id is None:
        contact.tld = tld
        changed.append("tld")
    if changed:
        contact.save(update_fields=[*changed, "updated_at"])
    return contact


def diff_registration(registration: Registration, record: RegistrationRecord) -> FieldChanges:
    """What applying `record` would change, without changing anything."""
    changes: FieldChanges = {}
    for name, new in record.fields.items():
        if name == "name":
            continue  # the identity of the row; a rename upstream is a different registration
        old = getattr(registration, name)
        if _comparable(old) != _comparable(new):
            changes[name] = (old, new)
    for role in ROLES:
        if role not in record.contacts:
            continue  # the upstream says nothing about this role (it keeps no contacts)
        contact = record.contacts.get(role)
        old_id = getattr(registration, f"{role}_contact_id")
        old_upstream = (getattr(registration, f"{role}_contact").upstream_id
                        if old_id else None)
        new_upstream = contact.upstream_id if contact else None
        if old_upstream != new_upstream:
            changes[f"{role}_contact"] = (old_upstream, new_upstream)
    return changes


def apply_registration(registration: Registration, record: RegistrationRecord, *,
                       synced_at: datetime | None = None) -> FieldChanges:
    """Apply an upstream record to the mirror row and save it. Returns the changes.

    Contacts the record embeds are upserted too, so role contacts always point at
    current mirrors. `synced_at` stamps `last_synced_at` (a re-read, not a mutation).
    """
    changes = diff_registration(registration, record)
    for role in ROLES:
        contact = record.contacts.get(role)
        if contact is not None:
            mirrored = upsert_contact(contact, tld=registration.tld,
                                      account=registration.account)
            setattr(registration, f"{role}_contact", mirrored)
        elif f"{role}_contact" in changes:
            setattr(registration, f"{role}_contact", None)
    for name, (_, new) in changes.items():
        if not name.endswith("_contact"):
            setattr(registration, name, new)
    update_fields = set(changes)
    if synced_at is not None:
        registration.last_synced_at = synced_at
        update_fields.add("last_synced_at")
    if update_fields:
        registration.save(update_fields=[*update_fields, "updated_at"])
    return changes


def changes_for_audit(changes: FieldChanges) -> dict[str, dict[str, Any]]:
    return {name: {"old": display_value(old), "new": display_value(new)}
            for name, (old, new) in sorted(changes.items())}


TLD_FLAGS = ("supports_privacy", "supports_transfer_lock", "supports_push_transfer",
             "supports_dnssec", "requires_contact_validation")


def served_by(account: ProviderAccount) -> QuerySet[Registration]:
    """The registrations that live at `account` (or, not saying where, at their TLD's
    registrar when that is `account`)."""
    return Registration.objects.filter(
        Q(provider_account=account)
        | Q(provider_account__isnull=True, tld__provider_account=account))


def tld_for(record: RegistrationRecord, account: ProviderAccount,
            known: dict[str, Tld] | None = None) -> Tld:
    """The record's TLD, created with the flags the record gives the first time one of
    its registrations is seen. It takes `account` as its default registrar only if that
    upstream operates registrations: one that only sells or lists domains must not
    become the registrar of everything else under the TLD."""
    name = str(record.tld.get("name") or record.name.rsplit(".", 1)[-1]).lstrip(".").lower()
    tld = known.get(name) if known is not None else Tld.objects.filter(name=name).first()
    if tld is None:
        flags = record.feature_flags
        registrar = account if account.capabilities & REGISTRATION_OPERATIONS else None
        tld = Tld.objects.create(
            name=name, upstream_id=record.tld.get("id"), provider_account=registrar,
            **{flag: bool(flags[flag]) for flag in TLD_FLAGS if flag in flags})
        if known is not None:
            known[name] = tld
    return tld


def local_registration(record: RegistrationRecord) -> Registration | None:
    """The mirror row of an upstream registration: by its upstream id where it has one,
    else by its name."""
    rows = Registration.objects.select_related(
        "tld", "account", "provider_account", "owner_contact", "admin_contact",
        "tech_contact", "billing_contact")
    if record.upstream_id:
        return rows.filter(upstream_id=record.upstream_id).first()
    return rows.filter(name=to_ascii(record.name)).first()


def mirror_registration(account: ProviderAccount, record: RegistrationRecord, *,
                        customer=None, actor_label: str = "system:sync"
                        ) -> tuple[Registration, FieldChanges, bool]:
    """Create or update the mirror of one registration that lives at `account`, with one
    audit row when anything changed; (registration, changes, created). `customer` is
    linked to a registration that has none (an order's customer)."""
    registration = local_registration(record)
    if registration is None:
        tld = tld_for(record, account)
        values = {k: v for k, v in record.fields.items() if k not in {"name"}}
        registration = Registration(name=to_ascii(record.name), tld=tld,
                                    provider_account=account, account=customer,
                                    last_synced_at=timezone.now(), **values)
        for role in ROLES:
            contact = record.contacts.get(role)
            if contact is not None:
                setattr(registration, f"{role}_contact",
                        upsert_contact(contact, tld=tld, account=customer))
        registration.save()
        changes: FieldChanges = {"created": (None, registration.name)}
        _audit_one(registration, changes, "created", actor_label)
        return registration, changes, True
    changes = apply_registration(registration, record, synced_at=timezone.now())
    update = []
    if registration.provider_account_id != account.pk:
        changes["provider_account"] = (
            registration.provider_account.label if registration.provider_account else None,
            account.label)
        registration.provider_account = account
        update.append("provider_account")
    if customer is not None and registration.account_id is None:
        changes["account"] = (None, customer.customer_reference)
        registration.account = customer
        update.append("account")
    if update:
        registration.save(update_fields=[*update, "updated_at"])
    if changes:
        _audit_one(registration, changes, "updated", actor_label)
    return registration, changes, False


def _audit_one(registration: Registration, changes: FieldChanges, kind: str,
               actor_label: str) -> None:
    audit.record(
        actor=None, actor_label=actor_label, action=f"registration.sync_{kind}",
        target=registration, parameters={"changes": changes_for_audit(changes)},
        outcome=StaffAction.Outcome.SUCCEEDED,
        message=f"{registration.unicode_name} {kind} from "
                f"{registration.provider_account or 'upstream'} "
                f"({', '.join(sorted(changes)) or 'no fields'}).")


# --- reconciling a whole provider account ----------------------------------------------

logger = logging.getLogger(__name__)
SYNC_ACTOR = "system:sync"
WRITE_BATCH = 200
PAGE_SIZE = 500


class SafetyBrake(Exception):
    """Too much would change at once: nothing was written."""


class _DryRun(Exception):
    """Raised at the end of a dry run to roll back everything it wrote."""


@dataclass
class SyncReport:
    account: str
    seen: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    missing: int = 0
    errors: int = 0
    elapsed: float = 0.0
    dry_run: bool = False
    aborted: str = ""
    error_names: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.seen / self.elapsed if self.elapsed else 0.0

    def summary(self) -> str:
        verb = "would be" if self.dry_run else "were"
        text = (f"{self.account}: seen {self.seen}, created {self.created}, updated "
                f"{self.updated}, unchanged {self.unchanged}, missing {self.missing}, errors "
                f"{self.errors} in {self.elapsed:.1f}s ({self.rate:.0f}/s)")
        if self.aborted:
            return f"{text}. ABORTED, nothing written: {self.aborted}"
        return f"{text}; changes {verb} written." if self.dry_run is False else (
            f"{text}. Dry run: nothing was written.")


# A diff callback: (registration name, {"field": (old, new)}, "created"|"updated"|"missing")
DiffCallback = Callable[[str, FieldChanges, str], None]


def _stream(records: Iterator[RegistrationRecord], maxsize: int) -> Iterator[RegistrationRecord]:
    """Read pages in a producer thread so the next page arrives while this one is worked."""
    buffer: queue.Queue = queue.Queue(maxsize=maxsize)
    done = object()

    def produce() -> None:
        try:
            for record in records:
                buffer.put(record)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            buffer.put(exc)
        buffer.put(done)

    threading.Thread(target=produce, name="sync-pages", daemon=True).start()
    while (item := buffer.get()) is not done:
        if isinstance(item, BaseException):
            raise item
        yield item


def _hosts_of(listing: list[dict]) -> dict[str, set[str]]:
    return {str(h.get("host_name", "")).lower(): {str(a.get("address")) for a in
                                                  h.get("addresses") or []} for h in listing}


class _Reconciler:
    """The write side: runs in the calling thread, one transaction, batched writes."""

    def __init__(self, account: ProviderAccount, report: SyncReport,
                 on_diff: DiffCallback | None) -> None:
        self.account = account
        self.report = report
        self.on_diff = on_diff
        self.now = timezone.now()
        self.tlds = {tld.name: tld for tld in Tld.objects.all()}
        self.contacts: dict[int, Contact] = {}
        self.audits: list[StaffAction] = []
        self.seen: set[str] = set()

    def _tld(self, record: RegistrationRecord) -> Tld:
        return tld_for(record, self.account, self.tlds)

    def _contact(self, record: ContactRecord | None, tld: Tld, account) -> Contact | None:
        if record is None:
            return None
        if record.upstream_id not in self.contacts:
            self.contacts[record.upstream_id] = upsert_contact(record, tld=tld, account=account)
        return self.contacts[record.upstream_id]

    def handle(self, batch: list[tuple[RegistrationRecord, list[dict] | None]]) -> None:
        guids = [record.upstream_id for record, _ in batch if record.upstream_id]
        names = [to_ascii(record.name) for record, _ in batch if not record.upstream_id]
        self.seen.update(record.key for record, _ in batch)
        rows = (Registration.objects.filter(Q(upstream_id__in=guids) | Q(name__in=names))
                .select_related("tld", "account", "provider_account", "owner_contact",
                                "admin_contact", "tech_contact", "billing_contact")
                .prefetch_related("hosts__addresses"))
        by_guid = {r.upstream_id: r for r in rows if r.upstream_id}
        by_name = {r.name: r for r in rows}
        new_rows: list[tuple[Registration, RegistrationRecord, list[dict] | None]] = []
        for record, hosts in batch:
            registration = (by_guid.get(record.upstream_id) if record.upstream_id
                            else by_name.get(to_ascii(record.name)))
            if registration is None:
                new_rows.append((self._new(record), record, hosts))
                continue
            self._update(registration, record, hosts)
        if new_rows:
            created = Registration.objects.bulk_create([row for row, _, _ in new_rows],
                                                       batch_size=WRITE_BATCH)
            self._create_hosts([(registration, _hosts_of(hosts)) for registration, (_, _, hosts)
                                in zip(created, new_rows, strict=True) if hosts])
            for registration in created:
                self._audit(registration, {"created": (None, registration.name)}, "created")
        Registration.objects.filter(Q(upstream_id__in=guids) | Q(name__in=names)).update(
            last_synced_at=self.now)
        self.flush()

    def _new(self, record: RegistrationRecord) -> Registration:
        tld = self._tld(record)
        values = {k: v for k, v in record.fields.items() if k != "name"}
        registration = Registration(name=to_ascii(record.fields["name"]), tld=tld,
                                    provider_account=self.account, last_synced_at=self.now,
                                    **values)
        registration.name_unicode = to_unicode(registration.name)
        for role in ROLES:
            setattr(registration, f"{role}_contact",
                    self._contact(record.contacts.get(role), tld, None))
        self.report.created += 1
        return registration

    def _update(self, registration: Registration, record: RegistrationRecord,
                hosts: list[dict] | None) -> None:
        changes = diff_registration(registration, record)
        old_hosts = {h.host_name: {a.address for a in h.addresses.all()}
                     for h in registration.hosts.all()}
        new_hosts = _hosts_of(hosts) if hosts is not None else old_hosts
        if new_hosts != old_hosts:
            changes["hosts"] = ({k: sorted(v) for k, v in sorted(old_hosts.items())},
                                {k: sorted(v) for k, v in sorted(new_hosts.items())})
        if registration.missing_upstream_at is not None:
            changes["missing_upstream_at"] = (registration.missing_upstream_at, None)
        if registration.provider_account_id != self.account.pk:
            changes["provider_account"] = (
                registration.provider_account.label if registration.provider_account
                else None, self.account.label)
        if not changes:
            self.report.unchanged += 1
            return
        for role in ROLES:  # keep the contact cache warm for the rows that follow
            self._contact(record.contacts.get(role), registration.tld, registration.account)
        apply_registration(registration, record)
        if "hosts" in changes:
            self._write_hosts(registration, new_hosts)
        if "missing_upstream_at" in changes or "provider_account" in changes:
            registration.missing_upstream_at = None
            registration.provider_account = self.account
            registration.save(update_fields=["missing_upstream_at", "provider_account"])
        self.report.updated += 1
        self._audit(registration, changes, "updated")

    @staticmethod
    def _create_hosts(rows: list[tuple[Registration, dict[str, set[str]]]]) -> None:
        """Glue hosts of new registrations: nothing to compare, so two inserts a batch."""
        hosts = Host.objects.bulk_create([
            Host(registration=registration, host_name=host_name)
            for registration, listing in rows for host_name in listing])
        wanted = {(registration.pk, host_name): addresses
                  for registration, listing in rows for host_name, addresses in listing.items()}
        HostAddress.objects.bulk_create([
            HostAddress(host=host, address=address,
                        version=ipaddress.ip_address(address).version)
            for host in hosts for address in sorted(wanted[(host.registration_id,
                                                            host.host_name)])])

    @staticmethod
    def _write_hosts(registration: Registration, hosts: dict[str, set[str]]) -> None:
        registration.hosts.exclude(host_name__in=list(hosts)).delete()
        for host_name, addresses in hosts.items():
            host, _ = Host.objects.get_or_create(registration=registration,
                                                 host_name=host_name)
            host.addresses.exclude(address__in=list(addresses)).delete()
            known = set(host.addresses.values_list("address", flat=True))
            HostAddress.objects.bulk_create([
                HostAddress(host=host, address=address,
                            version=ipaddress.ip_address(address).version)
                for address in sorted(addresses - known)])

    def mark_missing(self, only: list[str] | None) -> None:
        candidates = served_by(self.account).filter(missing_upstream_at__isnull=True)
        if only is not None:
            candidates = candidates.filter(name__in=only)
        gone = [r for r in candidates.only("pk", "name", "upstream_id")
                if r.upstream_id not in self.seen and r.name not in self.seen]
        for registration in gone:
            self._audit(registration, {"missing_upstream_at": (None, self.now)}, "missing")
        Registration.objects.filter(pk__in=[r.pk for r in gone]).update(
            missing_upstream_at=self.now)
        self.report.missing += len(gone)
        self.flush()

    def _audit(self, registration: Registration, changes: FieldChanges, kind: str) -> None:
        if self.on_diff:
            self.on_diff(registration.unicode_name, changes, kind)
        self.audits.append(audit.build(
            actor=None, actor_label=SYNC_ACTOR, action=f"registration.sync_{kind}",
            target=registration, parameters={"changes": changes_for_audit(changes)},
            outcome=StaffAction.Outcome.SUCCEEDED,
            message=f"Sync: {registration.unicode_name} {kind} "
                    f"({', '.join(sorted(changes)) or 'no fields'}).",
        ))

    def flush(self) -> None:
        if self.audits:
            StaffAction.objects.bulk_create(self.audits, batch_size=WRITE_BATCH)
            self.audits.clear()


def sync_provider(
    account: ProviderAccount,
    *,
    dry_run: bool = False,
    concurrency: int = 8,
    only: Iterable[str] | None = None,
    force: bool = False,
    max_change_share: float | None = None,
    on_diff: DiffCallback | None = None,
    on_progress: Callable[[SyncReport], None] | None = None,
) -> SyncReport:
    """Reconcile every registration of `account` (and its contacts and glue hosts) into the
    mirror. Never deletes: what the registrar no longer returns is flagged missing.

    Pages are streamed; each registration's glue hosts are read with `concurrency`
    threads sharing one httpx client (measured fastest here, see bench/bench_sync.py);
    writes go in batches inside one transaction. A dry run, or the safety brake (more
    than `max_change_share` of the existing registrations would change or go missing),
    rolls that transaction back, so nothing at all is written. `force` lifts the brake.
    """
    report = SyncReport(account=account.label, dry_run=dry_run)
    share = settings.SYNC_MAX_CHANGE_SHARE if max_change_share is None else max_change_share
    names = sorted({to_ascii(name) for name in only}) if only is not None else None
    started = time.perf_counter()
    provider = build_provider(account)
    if not provider.supports(Capability.REGISTRATION_SYNC):
        provider.close()
        raise ProviderError(f"{account.get_kind_display()} accounts list no registrations.",
                            code="no_registration_list")
    reads_hosts = provider.supports(Capability.HOSTS)
    existing = served_by(account).count()
    try:
        with transaction.atomic(), ThreadPoolExecutor(
                max_workers=concurrency, thread_name_prefix="sync") as pool:
            reconciler = _Reconciler(account, report, on_diff)
            window: deque[tuple[RegistrationRecord, Future]] = deque()
            batch: list[tuple[RegistrationRecord, list[dict] | None]] = []

            def take_one() -> None:
                record, future = window.popleft()
                try:
                    batch.append((record, future.result()))
                except ProviderError as error:
                    report.errors += 1
                    report.error_names.append(f"{record.fields['name']}: {error.message}")
                    batch.append((record, None))  # mirror the rest; keep hosts as they are
                report.seen += 1
                if len(batch) >= WRITE_BATCH:
                    reconciler.handle(batch)
                    batch.clear()
                    report.elapsed = time.perf_counter() - started
                    if on_progress:
                        on_progress(report)

            for record in _stream(_upstream(provider, names), maxsize=PAGE_SIZE * 2):
                hosts: Future = (pool.submit(provider.list_hosts, _ref(record)) if reads_hosts
                                 else _no_hosts())
                window.append((record, hosts))
                # Enough requests queued to keep every thread busy while this thread
                # writes a batch.
                if len(window) >= max(concurrency * 4, WRITE_BATCH * 2):
                    take_one()
            while window:
                take_one()
            if batch:
                reconciler.handle(batch)
            reconciler.mark_missing(names)
            report.elapsed = time.perf_counter() - started
            if on_progress:
                on_progress(report)
            changed = report.updated + report.missing
            if not force and existing and changed / existing > share:
                report.aborted = (
                    f"{changed} of {existing} registrations ({changed / existing:.0%}) would "
                    f"change or go missing, more than the {share:.0%} allowed. Check the "
                    "registrar, then run again with --force if this is right.")
                raise SafetyBrake(report.aborted)
            if dry_run:
                raise _DryRun
    except (SafetyBrake, _DryRun):
        pass
    finally:
        provider.close()
    report.elapsed = time.perf_counter() - started
    return report


def _upstream(provider: Provider, names: list[str] | None) -> Iterator[RegistrationRecord]:
    if names is None:
        yield from provider.iter_registrations(page_size=PAGE_SIZE)
        return
    for name in names:
        yield from provider.iter_registrations(name=name, page_size=PAGE_SIZE)


def _ref(record: RegistrationRecord) -> RegistrationRef:
    return RegistrationRef(name=record.name, upstream_id=record.upstream_id)


def _no_hosts() -> Future:
    """An upstream without glue hosts: nothing to compare (the mirror keeps its own)."""
    done: Future = Future()
    done.set_result(None)
    return done
