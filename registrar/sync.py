"""Mirror upstream state into the models.

`apply_registration()` is the one place where an upstream registration record becomes
local rows. Operations use it after a 200, force sync and process completion use it
after a re-read, and the reconcile job uses it for every registration. It reports
what changed, field by field, old → new, so every caller can audit honestly.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from uuid import uuid4

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from backoffice import audit
from backoffice.models import StaffAction
from contacts.models import Contact
from registrar import customers, deadlines
from registrar.jobs import enqueue_after_commit
from registrar.models import Host, HostAddress, Process, ProviderAccount, Registration, Tld
from registrar.providers.base import (
    REGISTRATION_OPERATIONS,
    Capability,
    ContactRecord,
    Provider,
    RegistrationRecord,
    RegistrationRef,
)
from registrar.providers.errors import CallerError, NotFound, ProviderError
from registrar.providers.http import HttpClient
from registrar.providers.registry import build_provider
from registrar.tld_refresh import TldObservations, refresh_tlds, tld_name, tld_values
from registrar.values.names import to_ascii, to_unicode

ROLES = ("owner", "admin", "tech", "billing")

FieldChanges = dict[str, tuple[Any, Any]]


# A name of lower-case letters, digits and hyphens only (no A-label, no "--" in the
# third and fourth places, no hyphen at either end of a label, a TLD of letters): its
# ASCII and Unicode forms are itself. Most registrations are such names, and the IDNA
# codec costs a tenth of a millisecond a call, several times a registration.
_PLAIN_LABEL = r"(?!..--)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_PLAIN_NAME = re.compile(rf"(?:{_PLAIN_LABEL}\.)+(?!..--)[a-z](?:[a-z0-9-]{{0,61}}[a-z0-9])")


def _ascii_name(name: str) -> str:
    """`to_ascii(name)`, without the codec for a plain name."""
    if len(name) <= 253 and _PLAIN_NAME.fullmatch(name):
        return name
    return to_ascii(name)


def _unicode_name(ascii_name: str) -> str:
    """`to_unicode(ascii_name)`, without the codec where no label is an A-label."""
    if "xn--" not in ascii_name and _PLAIN_NAME.fullmatch(ascii_name):
        return ascii_name
    return to_unicode(ascii_name)


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


def served_by(account: ProviderAccount) -> QuerySet[Registration]:
    """The registrations that live at `account` (or, not saying where, at their TLD's
    registrar when that is `account`)."""
    return Registration.objects.filter(
        Q(provider_account=account)
        | Q(provider_account__isnull=True, tld__provider_account=account))


def tld_for(record: RegistrationRecord, account: ProviderAccount,
            known: dict[str, Tld] | None = None) -> Tld:
    """The record's TLD, created with the flags and fees the record gives the first time
    one of its registrations is seen (a sync keeps them current after: tld_refresh). It
    takes `account` as its default registrar only if that upstream operates
    registrations: one that only sells or lists domains must not become the registrar
    of everything else under the TLD."""
    name = tld_name(record)
    tld = known.get(name) if known is not None else Tld.objects.filter(name=name).first()
    if tld is None:
        registrar = account if account.capabilities & REGISTRATION_OPERATIONS else None
        try:
            with transaction.atomic():
                tld = Tld.objects.create(
                    name=name, upstream_id=record.tld.get("id"), provider_account=registrar,
                    **tld_values(record.feature_flags, record.fees))
        except IntegrityError:  # created meanwhile (another part of a split sync)
            tld = Tld.objects.get(name=name)
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


def _page_size() -> int:
    return getattr(settings, "SYNC_PAGE_SIZE", PAGE_SIZE) or PAGE_SIZE


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
    #: Rows changed here while the sync ran and still changing after its re-reads:
    #: left as they are, for the next run.
    deferred: int = 0
    deferred_names: list[str] = field(default_factory=list)
    contacts_updated: int = 0
    #: Contacts changed here since the sync read them (the mirror is the newer).
    deferred_contacts: int = 0
    planned_created: int = 0
    planned_updated: int = 0
    #: Rows still changing here after the re-reads (a part of a split sync hands them
    #: to the finish, which must not take them for missing).
    deferred_pks: list[int] = field(default_factory=list)
    #: A split sync's parts (0: one run).
    parts: int = 0

    @property
    def rate(self) -> float:
        return self.seen / self.elapsed if self.elapsed else 0.0

    def summary(self) -> str:
        verb = "would be" if self.dry_run else "were"
        text = (f"{self.account}: seen {self.seen}, created {self.created}, updated "
                f"{self.updated}, unchanged {self.unchanged}, missing {self.missing}, errors "
                f"{self.errors}")
        if self.contacts_updated:
            text += f", contacts updated {self.contacts_updated}"
        if self.deferred:
            text += (f", left for the next run {self.deferred} (changing here: "
                     f"{', '.join(self.deferred_names[:5])})")
        text += f" in {self.elapsed:.1f}s ({self.rate:.0f}/s)"
        if self.aborted and self.parts:
            return f"{text} in {self.parts} parts. ABORTED: {self.aborted}"
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


def write_hosts(registration: Registration, hosts: dict[str, set[str]]) -> None:
    """Make the registration's glue hosts exactly `hosts` (name -> addresses)."""
    registration.hosts.exclude(host_name__in=list(hosts)).delete()
    for host_name, addresses in hosts.items():
        host, _ = Host.objects.get_or_create(registration=registration, host_name=host_name)
        host.addresses.exclude(address__in=list(addresses)).delete()
        known = set(host.addresses.values_list("address", flat=True))
        HostAddress.objects.bulk_create([
            HostAddress(host=host, address=address,
                        version=ipaddress.ip_address(address).version)
            for address in sorted(addresses - known)])


def mirror_hosts(registration: Registration, listing: list[dict]) -> FieldChanges:
    """Bring the registration's glue hosts in line with the upstream's `listing`; the
    change as {"hosts": (old, new)}, or {} when they already matched."""
    old = {h.host_name: {a.address for a in h.addresses.all()}
           for h in registration.hosts.prefetch_related("addresses")}
    new = _hosts_of(listing)
    if new == old:
        return {}
    write_hosts(registration, new)
    return {"hosts": ({k: sorted(v) for k, v in sorted(old.items())},
                      {k: sorted(v) for k, v in sorted(new.items())})}


@dataclass
class _Item:
    """One upstream registration the sync would write: new, or differing from its
    mirror row (`pk`), with the glue hosts read for it (None: not read)."""

    record: RegistrationRecord
    hosts: list[dict] | None
    pk: int | None = None


def _claim(pks: Iterable[int], since: datetime, model: type = Registration) -> set[int]:
    """Lock, inside the caller's transaction, those of the rows `pks` that nobody has
    changed since `since` and nobody holds right now; the ids claimed.

    This is the sync's compare-and-set: a row whose `updated_at` is not older than the
    sync's read may hold a change the upstream page did not show yet, and a row that a
    staff operation has locked is changing now. Neither is written from the page; both
    are read again (`_Reconciler.settle_deferred`). Skipping locked rows (PostgreSQL)
    means a running sync never waits on staff, nor staff long on the sync."""
    rows = model.objects.filter(pk__in=list(pks), updated_at__lt=since)
    if connection.features.has_select_for_update_skip_locked:
        rows = rows.select_for_update(skip_locked=True, of=("self",))
    return set(rows.values_list("pk", flat=True))


class _Reconciler:
    """The write side: plans each batch by comparing it with the mirror (reads only),
    then writes what differs in short transactions, one a batch."""

    def __init__(self, account: ProviderAccount, report: SyncReport,
                 on_diff: DiffCallback | None, *, started: datetime) -> None:
        self.account = account
        self.report = report
        self.on_diff = on_diff
        self.now = timezone.now()
        #: Rows changed here at or after this instant are newer than what the sync read.
        self.started = started
        self.tlds = {tld.name: tld for tld in Tld.objects.all()}
        self.contacts: dict[int, Contact] = {}
        self.audits: list[StaffAction] = []
        self.seen: set[str] = set()
        self.deferred: dict[int, RegistrationRecord] = {}
        self.busy: set[int] = set()
        self._unchanged: list[int] = []

    def _tld(self, record: RegistrationRecord) -> Tld:
        return tld_for(record, self.account, self.tlds)

    # --- planning (reads only) ------------------------------------------------------

    def _rows(self, batch: list[tuple[RegistrationRecord, list[dict] | None]]
              ) -> dict[str, Registration]:
        guids = [record.upstream_id for record, _ in batch if record.upstream_id]
        names = [to_ascii(record.name) for record, _ in batch if not record.upstream_id]
        rows = (Registration.objects.filter(Q(upstream_id__in=guids) | Q(name__in=names))
                .select_related("tld", "account", "provider_account", "owner_contact",
                                "admin_contact", "tech_contact", "billing_contact")
                .prefetch_related("hosts__addresses"))
        found: dict[str, Registration] = {}
        for row in rows:
            if row.upstream_id:
                found[row.upstream_id] = row
            found.setdefault(row.name, row)
        return found

    @staticmethod
    def _existing(records: list[RegistrationRecord]) -> dict[str, int]:
        """The pks of the mirror rows of `records` (by upstream id, else name): a
        check for rows that appeared since the plan, without loading them."""
        guids = [record.upstream_id for record in records if record.upstream_id]
        names = [_ascii_name(record.name) for record in records if not record.upstream_id]
        found: dict[str, int] = {}
        for pk, upstream_id, name in Registration.objects.filter(
                Q(upstream_id__in=guids) | Q(name__in=names)).values_list(
                "pk", "upstream_id", "name"):
            if upstream_id:
                found[upstream_id] = pk
            found.setdefault(name, pk)
        return found

    def plan(self, batch: list[tuple[RegistrationRecord, list[dict] | None]]) -> list[_Item]:
        """The records of `batch` that would change the mirror (counted as unchanged
        otherwise), and their would-be changes reported to `on_diff`."""
        self.seen.update(record.key for record, _ in batch)
        rows = self._rows(batch)
        contacts = self._contacts_differing([record for record, _ in batch])
        items: list[_Item] = []
        unchanged: list[int] = []
        for record, hosts in batch:
            registration = rows.get(record.upstream_id or to_ascii(record.name))
            if registration is None:
                items.append(_Item(record, hosts))
                self.report.planned_created += 1
                if self.on_diff:
                    self.on_diff(to_unicode(to_ascii(record.name)),
                                 {"created": (None, record.name)}, "created")
                continue
            changes = self._changes(registration, record, hosts)
            if changes or any(c.upstream_id in contacts for c in record.contacts.values() if c):
                items.append(_Item(record, hosts, registration.pk))
                if changes:
                    self.report.planned_updated += 1
                    if self.on_diff:
                        self.on_diff(registration.unicode_name, changes, "updated")
                continue
            unchanged.append(registration.pk)
            if record.fields.get("pending_async"):
                self.busy.add(registration.pk)
        self.report.unchanged += len(unchanged)
        self._unchanged.extend(unchanged)
        return items

    def _changes(self, registration: Registration, record: RegistrationRecord,
                 hosts: list[dict] | None) -> FieldChanges:
        changes = diff_registration(registration, record)
        if hosts is not None:
            old_hosts = {h.host_name: {a.address for a in h.addresses.all()}
                         for h in registration.hosts.all()}
            new_hosts = _hosts_of(hosts)
            if new_hosts != old_hosts:
                changes["hosts"] = ({k: sorted(v) for k, v in sorted(old_hosts.items())},
                                    {k: sorted(v) for k, v in sorted(new_hosts.items())})
        if registration.missing_upstream_at is not None:
            changes["missing_upstream_at"] = (registration.missing_upstream_at, None)
        if registration.provider_account_id != self.account.pk:
            changes["provider_account"] = (
                registration.provider_account.label if registration.provider_account
                else None, self.account.label)
        return changes

    def _contacts_differing(self, records: list[RegistrationRecord]) -> set[int]:
        """The upstream ids of the batch's contacts whose mirror differs from the
        record (or is missing): a contact that drifted is reconciled even when the
        registration itself is unchanged."""
        wanted = {c.upstream_id: c for record in records for c in record.contacts.values()
                  if c is not None and c.upstream_id not in self.contacts}
        if not wanted:
            return set()
        known = {c.upstream_id: c for c in Contact.objects.filter(upstream_id__in=list(wanted))}
        differing = set()
        for upstream_id, record in wanted.items():
            contact = known.get(upstream_id)
            if contact is None or any(getattr(contact, name) != value
                                      for name, value in record.fields.items()):
                differing.add(upstream_id)
            else:
                self.contacts[upstream_id] = contact
        return differing

    # --- writing (short transactions) -----------------------------------------------

    def write(self, items: list[_Item]) -> None:
        """Write one planned batch in one short transaction: new rows created, changed
        rows updated when `_claim` gets them (else deferred), every row written or
        found unchanged stamped synced."""
        with transaction.atomic():
            claimed = _claim([item.pk for item in items if item.pk], self.started)
            changed = [(item.record, item.hosts) for item in items if item.pk]
            current = self._rows(changed) if changed else {}
            new_items = [item for item in items if item.pk is None]
            for item in items:
                if item.pk is None:
                    continue
                if item.pk not in claimed:
                    self.deferred[item.pk] = item.record
                    continue
                self._update(current[item.record.upstream_id or to_ascii(item.record.name)],
                             item.record, item.hosts)
            if new_items:
                self._create(new_items)
            Registration.objects.filter(
                pk__in=[item.pk for item in items if item.pk in claimed]
            ).update(last_synced_at=self.now)
            self.flush()
        self.stamp_unchanged()

    def stamp_unchanged(self) -> None:
        """Stamp the rows found unchanged as synced now (not those changing here)."""
        unchanged, self._unchanged = self._unchanged, []
        for start in range(0, len(unchanged), WRITE_BATCH * 5):
            with transaction.atomic():
                stamped = _claim(unchanged[start:start + WRITE_BATCH * 5], self.started)
                Registration.objects.filter(pk__in=stamped).update(last_synced_at=self.now)

    def _create(self, items: list[_Item]) -> None:
        # A row created since the plan (an order delivered it meanwhile) is updated
        # rather than created twice.
        rows = self._existing([item.record for item in items])
        fresh = []
        for item in items:
            existing = rows.get(item.record.upstream_id or _ascii_name(item.record.name))
            if existing is None:
                fresh.append(item)
            else:
                self.deferred[existing] = item.record
        created = Registration.objects.bulk_create([self._new(item.record) for item in fresh],
                                                   batch_size=WRITE_BATCH)
        self._create_hosts([(registration, _hosts_of(item.hosts)) for registration, item
                            in zip(created, fresh, strict=True) if item.hosts])
        for registration, item in zip(created, fresh, strict=True):
            self._audit(registration, {"created": (None, registration.name)}, "created")
            if item.record.fields.get("pending_async"):
                self.busy.add(registration.pk)

    def _contact(self, record: ContactRecord | None, tld: Tld, account) -> Contact | None:
        if record is None:
            return None
        if record.upstream_id not in self.contacts:
            contact = Contact.objects.filter(upstream_id=record.upstream_id).first()
            if contact is not None and not _claim([contact.pk], self.started, Contact):
                # Changed here (by a staff operation's answer) since the sync read it, or
                # being changed right now: what the mirror has is at least as new.
                self.report.deferred_contacts += 1
            elif contact is None:
                try:
                    with transaction.atomic():
                        contact = upsert_contact(record, tld=tld, account=account)
                except IntegrityError:
                    # Created meanwhile from the same listing by another part of a split
                    # sync (registrations of several pages share contacts).
                    contact = Contact.objects.get(upstream_id=record.upstream_id)
            else:
                before = {name: getattr(contact, name) for name in record.fields}
                contact = upsert_contact(record, tld=tld, account=account)
                if before is not None and before != {name: getattr(contact, name)
                                                     for name in record.fields}:
                    self.report.contacts_updated += 1
                    self._audit_contact(contact, before, record)
            self.contacts[record.upstream_id] = contact
        return self.contacts[record.upstream_id]

    def _audit_contact(self, contact: Contact, before: dict[str, Any],
                       record: ContactRecord) -> None:
        changes = {name: (before[name], value) for name, value in record.fields.items()
                   if before[name] != value}
        self.audits.append(audit.build(
            actor=None, actor_label=SYNC_ACTOR, action="contact.sync_updated",
            target=contact, parameters={"changes": changes_for_audit(changes)},
            outcome=StaffAction.Outcome.SUCCEEDED,
            message=f"Sync: contact {contact} updated ({', '.join(sorted(changes))})."))

    def _new(self, record: RegistrationRecord) -> Registration:
        tld = self._tld(record)
        values = {k: v for k, v in record.fields.items() if k != "name"}
        registration = Registration(name=_ascii_name(record.fields["name"]), tld=tld,
                                    provider_account=self.account, last_synced_at=self.now,
                                    **values)
        registration.name_unicode = _unicode_name(registration.name)
        for role in ROLES:
            setattr(registration, f"{role}_contact",
                    self._contact(record.contacts.get(role), tld, None))
        self.report.created += 1
        return registration

    def _update(self, registration: Registration, record: RegistrationRecord,
                hosts: list[dict] | None) -> None:
        changes = self._changes(registration, record, hosts)
        for role in ROLES:  # reconciles drifted contacts, and keeps the cache warm
            self._contact(record.contacts.get(role), registration.tld, registration.account)
        if record.fields.get("pending_async"):
            self.busy.add(registration.pk)
        if not changes:
            self.report.unchanged += 1
            return
        apply_registration(registration, record)
        if "hosts" in changes:
            self._write_hosts(registration, _hosts_of(hosts or []))
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
        write_hosts(registration, hosts)

    def plan_missing(self, only: list[str] | None) -> list[Registration]:
        candidates = served_by(self.account).filter(missing_upstream_at__isnull=True)
        if only is not None:
            candidates = candidates.filter(name__in=only)
        # Streamed by key, and only what is gone is kept: the mirror can hold far more
        # rows than a sync keeps in memory at once.
        gone_pks = [pk for pk, name, upstream_id in candidates.values_list(
                        "pk", "name", "upstream_id").iterator(chunk_size=5000)
                    if upstream_id not in self.seen and name not in self.seen]
        gone = []
        for start in range(0, len(gone_pks), 5000):
            gone.extend(Registration.objects.filter(pk__in=gone_pks[start:start + 5000])
                        .only("pk", "name", "name_unicode", "upstream_id"))
        if self.on_diff:
            for registration in gone:
                self.on_diff(registration.unicode_name,
                             {"missing_upstream_at": (None, self.now)}, "missing")
        return gone

    def write_missing(self, gone: list[Registration]) -> None:
        for start in range(0, len(gone), WRITE_BATCH):
            chunk = gone[start:start + WRITE_BATCH]
            with transaction.atomic():
                claimed = _claim([r.pk for r in chunk], self.started)
                for registration in chunk:
                    if registration.pk in claimed:
                        self._audit(registration, {"missing_upstream_at": (None, self.now)},
                                    "missing")
                Registration.objects.filter(pk__in=claimed).update(
                    missing_upstream_at=self.now)
                self.report.missing += len(claimed)
                self.report.deferred += len(chunk) - len(claimed)
                self.flush()

    def settle_deferred(self, provider: Provider, *, attempts: int = 6) -> None:
        """Read again, one by one, the registrations that changed here while the sync
        ran (or were being changed), and apply what the registrar has now, with the
        same compare-and-set; what is still changing after `attempts` is left for the
        next run and counted."""
        reads = provider.supports(Capability.REGISTRATION_READ)
        reads_hosts = provider.supports(Capability.HOSTS)
        for pk, record in list(self.deferred.items()):
            for attempt in range(attempts):
                since = timezone.now()
                try:
                    fresh = provider.get_registration(_ref(record)).registration if reads \
                        else None
                    hosts = provider.list_hosts(_ref(record)) if reads_hosts and reads else None
                except ProviderError as error:
                    self.report.errors += 1
                    self.report.error_names.append(f"{record.name}: {error.message}")
                    break
                if fresh is None:
                    break  # no single read: the next run's page is the re-read
                with transaction.atomic():
                    if _claim([pk], since):
                        row = self._rows([(fresh, hosts)]).get(
                            fresh.upstream_id or to_ascii(fresh.name))
                        if row is not None:
                            self.contacts.clear()
                            self.started = since
                            self._update(row, fresh, hosts)
                            Registration.objects.filter(pk=pk).update(last_synced_at=self.now)
                            self.flush()
                            del self.deferred[pk]
                            break
                time.sleep(0.05 * 2 ** attempt)  # a staff call in flight: 3 s in all
        self.report.deferred += len(self.deferred)
        self.report.deferred_names.extend(record.name for record in self.deferred.values())
        self.report.deferred_pks.extend(self.deferred)

    def _audit(self, registration: Registration, changes: FieldChanges, kind: str) -> None:
        self.audits.append(audit.build(
            actor=None, actor_label=SYNC_ACTOR, action=f"registration.sync_{kind}",
            target=registration, parameters={"changes": changes_for_audit(changes)},
            outcome=StaffAction.Outcome.SUCCEEDED,
            message=f"Sync: {registration.name_unicode or registration.unicode_name} {kind} "
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
    part: tuple[int, int] | None = None,
) -> SyncReport:
    """Reconcile every registration of `account` (and its contacts and glue hosts) into the
    mirror. Never deletes: what the registrar no longer returns is flagged missing.

    Pages are streamed; each registration's glue hosts are read with `concurrency`
    threads, each on a connection of its own (`HttpClient.fan_out`; measured in
    bench/bench_sync.py), and taken in the order they are answered.
    Each batch is compared with the mirror first and only what differs is written, in
    one short transaction a batch, so staff operations carry on while it runs; a row
    changed here after the sync began is never overwritten from the page but read again
    (`_claim`). A dry run writes nothing. When the safety brake can trip (the mirror
    already has registrations and `force` is off), what would change is held until the
    whole account has been compared: if more than `max_change_share` of the existing
    registrations would change or go missing, nothing at all is written.

    `part=(index, parts)`: one part of a split sync (`sync_split_part`): only pages
    index + 1, index + 1 + parts, ... of the listing, and none of the steps that need
    the whole account (missing, transfer deadlines, customers), which the split's finish
    takes once. Its safety brake weighs its changes against its share of the mirror.
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
    if part is not None:
        existing = math.ceil(existing / part[1])
    held = dry_run or bool(existing and not force)
    reconciler = _Reconciler(account, report, on_diff, started=timezone.now())
    waiting: list[_Item] = []
    observations = TldObservations()

    def braked() -> bool:
        changed = report.planned_updated + report.missing
        if force or not existing or changed / existing <= share:
            return False
        report.aborted = (
            f"{changed} of {existing} registrations ({changed / existing:.0%}) would "
            f"change or go missing, more than the {share:.0%} allowed. Check the "
            "registrar, then run again with --force if this is right.")
        return True

    def handle(batch: list[tuple[RegistrationRecord, list[dict] | None]]) -> None:
        items = reconciler.plan(batch)
        if not held:
            reconciler.write(items)
        elif not dry_run:
            waiting.extend(items)
        if dry_run:
            reconciler._unchanged = []
        report.elapsed = time.perf_counter() - started
        if on_progress:
            on_progress(report)

    http = getattr(provider, "http", None)
    if isinstance(http, HttpClient):
        http.fan_out(concurrency)
    try:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sync") as pool:
            # Detail reads are taken as they complete, not in the order they were sent:
            # one slow or timed-out read holds its own thread, never the whole run.
            answered: queue.SimpleQueue[tuple[RegistrationRecord, Future | None]] = (
                queue.SimpleQueue())
            in_flight = 0
            batch: list[tuple[RegistrationRecord, list[dict] | None]] = []

            def take_one() -> None:
                nonlocal in_flight
                record, future = answered.get()
                in_flight -= 1
                hosts = None
                if future is not None:
                    try:
                        hosts = future.result()
                    except ProviderError as error:
                        report.errors += 1
                        report.error_names.append(f"{record.fields['name']}: {error.message}")
                        # hosts None: mirror the rest, keep its hosts as they are
                batch.append((record, hosts))
                report.seen += 1
                if len(batch) >= WRITE_BATCH:
                    handle(list(batch))
                    batch.clear()
                    if held and braked():
                        raise SafetyBrake(report.aborted)

            # Enough requests queued to keep every thread busy while this thread writes
            # a batch; bounded, so memory does not grow with the account.
            limit = max(concurrency * 4, WRITE_BATCH * 2)
            listing = (_upstream(provider, names) if part is None else
                       provider.iter_registration_pages(first=part[0] + 1, step=part[1],
                                                        page_size=_page_size()))
            for record in _stream(listing, maxsize=_page_size() * 2):
                observations.note(record)
                in_flight += 1
                if reads_hosts:
                    future = pool.submit(provider.list_hosts, _ref(record))
                    future.add_done_callback(
                        lambda done, record=record: answered.put((record, done)))
                else:
                    answered.put((record, None))
                if in_flight >= limit:
                    take_one()
            while in_flight:
                take_one()
            if batch:
                handle(batch)
        gone = reconciler.plan_missing(names) if part is None else []
        report.missing = len(gone)
        if held and braked():
            raise SafetyBrake(report.aborted)
        if dry_run:
            report.created, report.updated = report.planned_created, report.planned_updated
            raise _DryRun
        report.missing = 0
        for start in range(0, len(waiting), WRITE_BATCH):
            reconciler.write(waiting[start:start + WRITE_BATCH])
        reconciler.stamp_unchanged()
        reconciler.write_missing(gone)
        reconciler.settle_deferred(provider)
        # Past the brake and not a dry run: the TLDs' flags and fees as last seen.
        refresh_tlds(account, observations, actor_label=SYNC_ACTOR)
        if part is None:
            deadlines.read_transfer_deadlines(provider, served_by(account))
            customers.attach_unowned(served_by(account))
        if reconciler.busy and provider.supports(Capability.PROCESSES):
            _follow_busy(reconciler.busy)
    except (SafetyBrake, _DryRun):
        pass
    finally:
        provider.close()
    report.elapsed = time.perf_counter() - started
    return report


MIRROR_PROCESSES_TASK = "registrar.mirror_processes"


def _follow_busy(pks: set[int]) -> None:
    """Registrations the registrar reports busy with no process followed here (one
    opened upstream, not through the back-office): their processes are listed and
    mirrored in the background, so staff can follow, resend or cancel them."""
    followed = set(Process.objects.filter(registration_id__in=pks, is_terminal=False)
                   .values_list("registration_id", flat=True))
    for pk in sorted(pks - followed):
        enqueue_after_commit(MIRROR_PROCESSES_TASK, pk)


def _upstream(provider: Provider, names: list[str] | None) -> Iterator[RegistrationRecord]:
    if names is None:
        yield from provider.iter_registrations(page_size=_page_size())
        return
    for name in names:
        yield from provider.iter_registrations(name=name, page_size=_page_size())


def _ref(record: RegistrationRecord) -> RegistrationRef:
    return RegistrationRef(name=record.name, upstream_id=record.upstream_id)


# --- one account's sync split across workers -------------------------------------------
#
# The coordinating record is the audit trail itself (append-only): a "started" row names
# the run and its parts, each part appends one "part" row with its counts when it has
# written its pages, and the part that finds every part recorded appends the "finishing"
# row, under a lock on the account's row, so exactly one takes the steps that need the
# whole account (missing upstream, transfer deadlines, customers) and appends the report.

SPLIT_STARTED = "registration.sync_split_started"
SPLIT_PART = "registration.sync_split_part"
SPLIT_FINISHING = "registration.sync_split_finishing"
SPLIT_REPORT = "registration.sync_split_report"
_COUNTS = ("seen", "created", "updated", "unchanged", "errors", "deferred",
           "contacts_updated", "deferred_contacts", "planned_created", "planned_updated")


def can_split(account: ProviderAccount) -> bool:
    """Whether the account's upstream lists its registrations page by page on request."""
    from registrar.providers.registry import adapter_class

    return callable(getattr(adapter_class(account.kind), "iter_registration_pages", None))


def _split_rows(account: ProviderAccount, run: str, action: str) -> QuerySet[StaffAction]:
    return StaffAction.objects.filter(action=action, target_type="registrar.provideraccount",
                                      target_id=str(account.pk), parameters__run=run)


def _split_record(account: ProviderAccount, action: str, message: str,
                  **parameters: Any) -> StaffAction:
    return audit.record(actor=None, actor_label=SYNC_ACTOR, action=action, target=account,
                        parameters=parameters, outcome=StaffAction.Outcome.SUCCEEDED,
                        message=message)


def start_split_sync(account: ProviderAccount, parts: int, *, force: bool = False) -> str:
    """Open a split sync of `account` in `parts` parts; the run's id (each part is then
    `sync_split_part(account, run, index)`, for index in range(parts))."""
    run = uuid4().hex
    _split_record(account, SPLIT_STARTED,
                  f"Sync of {account} started in {parts} parts.", run=run, parts=parts,
                  force=force, started=timezone.now().isoformat(),
                  existing=served_by(account).count())
    return run


def sync_split_part(account: ProviderAccount, run: str, index: int, *,
                    concurrency: int = 8) -> SyncReport | None:
    """Sync part `index` of the split sync `run`, record it, and finish the run if it was
    the last part to end. The finished run's report, or None (others still running, or
    this part was recorded already: a redelivered task does not count twice)."""
    started = _split_rows(account, run, SPLIT_STARTED).first()
    if started is None:
        raise ValueError(f"No split sync {run} of {account}.")
    parts = int(started.parameters["parts"])
    if not _split_rows(account, run, SPLIT_PART).filter(parameters__part=index).exists():
        report = sync_provider(account, concurrency=concurrency, part=(index, parts),
                               force=bool(started.parameters.get("force")))
        with transaction.atomic():
            ProviderAccount.objects.select_for_update().filter(pk=account.pk).first()
            if not _split_rows(account, run, SPLIT_PART).filter(
                    parameters__part=index).exists():
                _split_record(
                    account, SPLIT_PART, f"Sync part {index + 1} of {parts}: "
                    f"{report.summary()}", run=run, part=index, aborted=report.aborted,
                    deferred_pks=report.deferred_pks, error_names=report.error_names[:20],
                    elapsed=report.elapsed,
                    **{name: getattr(report, name) for name in _COUNTS})
    return finish_split_sync(account, run)


def fail_split_part(account: ProviderAccount, run: str, index: int, message: str
                    ) -> SyncReport | None:
    """Record part `index` of `run` as failed (the registrar kept failing it): the run
    still finishes, with nothing flagged missing, and its report says which part."""
    started = _split_rows(account, run, SPLIT_STARTED).first()
    if started is None:
        return None
    with transaction.atomic():
        ProviderAccount.objects.select_for_update().filter(pk=account.pk).first()
        if not _split_rows(account, run, SPLIT_PART).filter(parameters__part=index).exists():
            _split_record(account, SPLIT_PART, f"Sync part {index + 1} of "
                          f"{started.parameters['parts']} failed: {message}", run=run,
                          part=index, aborted=f"failed: {message}")
    return finish_split_sync(account, run)


def finish_split_sync(account: ProviderAccount, run: str) -> SyncReport | None:
    """Once every part of `run` is recorded, and only once: flag what no part saw as
    missing (after a read of each confirms the registrar no longer has it), read
    transfer deadlines, attach customers, and record the report."""
    with transaction.atomic():
        ProviderAccount.objects.select_for_update().filter(pk=account.pk).first()
        started = _split_rows(account, run, SPLIT_STARTED).first()
        if started is None or _split_rows(account, run, SPLIT_FINISHING).exists():
            return None
        parts = int(started.parameters["parts"])
        recorded = list(_split_rows(account, run, SPLIT_PART))
        if len({row.parameters["part"] for row in recorded}) < parts:
            return None
        _split_record(account, SPLIT_FINISHING, f"Sync of {account}: all {parts} parts "
                      "done, finishing.", run=run)
    since = parse_datetime(started.parameters["started"])
    report = SyncReport(account=account.label, parts=parts)
    for row in recorded:
        for name in _COUNTS:
            setattr(report, name, getattr(report, name) + int(row.parameters.get(name, 0)))
        report.error_names.extend(row.parameters.get("error_names") or [])
        report.elapsed = max(report.elapsed, float(row.parameters.get("elapsed", 0.0)))
    aborted = [f"part {row.parameters['part'] + 1}: {row.parameters['aborted']}"
               for row in recorded if row.parameters.get("aborted")]
    left = {pk for row in recorded for pk in row.parameters.get("deferred_pks") or []}
    clock = time.perf_counter()
    provider = build_provider(account)
    try:
        reconciler = _Reconciler(account, report, None, started=since)
        # Every row a part saw is stamped synced at or after the start, or was changed
        # here since (left for the next run), or is among the parts' deferred rows.
        unseen = (served_by(account).filter(missing_upstream_at__isnull=True)
                  .exclude(last_synced_at__gte=since).exclude(updated_at__gte=since)
                  .exclude(pk__in=sorted(left)))
        gone = _confirm_gone(provider, list(unseen.only("pk", "name", "name_unicode",
                                                        "upstream_id")), report)
        existing = int(started.parameters.get("existing") or 0)
        share = settings.SYNC_MAX_CHANGE_SHARE
        changed = report.planned_updated + len(gone)
        if aborted:
            report.aborted = "; ".join(aborted) + " (that part wrote nothing); none was " \
                "flagged missing."
        elif (not started.parameters.get("force") and existing
              and changed / existing > share):
            report.aborted = (
                f"{changed} of {existing} registrations ({changed / existing:.0%}) "
                f"changed or would go missing, more than the {share:.0%} allowed: none "
                "was flagged missing. Check the registrar, then run again with --force "
                "if this is right.")
        if not report.aborted:
            reconciler.write_missing(gone)
            deadlines.read_transfer_deadlines(provider, served_by(account))
            customers.attach_unowned(served_by(account))
    finally:
        provider.close()
    report.elapsed += time.perf_counter() - clock
    _split_record(account, SPLIT_REPORT, report.summary(), run=run,
                  **{key: value for key, value in asdict(report).items()
                     if key not in {"deferred_names", "deferred_pks", "account"}})
    return report


def _confirm_gone(provider: Provider, candidates: list[Registration],
                  report: SyncReport) -> list[Registration]:
    """Of the rows no part saw, those the registrar says it does not have. Parts read
    their pages at different moments: a registration added or removed upstream meanwhile
    shifts the pages, and one can fall between two parts without being gone."""
    if not provider.supports(Capability.REGISTRATION_READ):
        return candidates
    gone = []
    for registration in candidates:
        try:
            provider.get_registration(registration.ref)
        except (NotFound, CallerError):  # not there, or no key to ask by: as listed
            gone.append(registration)
        except ProviderError as error:
            report.errors += 1
            report.error_names.append(f"{registration.name}: {error.message}")
    return gone
