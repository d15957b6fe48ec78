"""Mirror upstream state into the models.

`apply_registration()` is the one place where an upstream registration record becomes
local rows. Operations use it after a 200, force sync and process completion use it
after a re-read, and the reconcile job uses it for every registration. It reports
what changed, field by field, old → new, so every caller can audit honestly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contacts.models import Contact
from registrar.models import Registration, Tld
from registrar.providers.domain_api import ContactRecord, RegistrationRecord

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
