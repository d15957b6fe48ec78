"""Operations on domain contacts: upstream first, mirror second, one audit row each.

They share the refusal, audit and failure handling of the registration operations
(registrar.operations); what differs is only what is sent and mirrored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from backoffice import audit
from contacts.models import Contact
from contacts.validation import clean_contact_fields
from registrar.models import Process, ProviderAccount, Registration, Tld
from registrar.operations import (
    InvalidInput,
    OperationRefused,
    OperationUnsupported,
    Outcome,
    Outcomes,
    Settled,
    call_upstream,
    require_permission,
)
from registrar.providers.base import Capability, ContactRecord, Provider
from registrar.providers.errors import (
    ConfigurationError,
    NotFound,
    ProviderError,
    ServiceUnavailable,
)
from registrar.providers.registry import provider_for_account
from registrar.services import schedule_poll
from registrar.sync import upsert_contact

ROLES = ("owner", "admin", "tech", "billing")
WIRE_FIELDS = ("first_name", "last_name", "organization", "street_address", "post_code",
               "city", "state", "country", "email", "phone", "extra_properties")


def registrations_using(contact: Contact) -> dict[str, list[Registration]]:
    """The registrations that use `contact`, by role."""
    query = Q()
    for role in ROLES:
        query |= Q(**{f"{role}_contact": contact})
    using: dict[str, list[Registration]] = {role: [] for role in ROLES}
    for registration in Registration.objects.filter(query).order_by("name"):
        for role in ROLES:
            if getattr(registration, f"{role}_contact_id") == contact.pk:
                using[role].append(registration)
    return using


def drop_unset(fields: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    try:
        cleaned = clean_contact_fields(dict(fields), partial=partial)
    except ValidationError as exc:
        raise InvalidInput("Some contact fields are not valid.",
                           field_errors=exc.message_dict) from exc
    return {name: cleaned[name] for name in WIRE_FIELDS if name in cleaned}


def _provider_for(contact: Contact | None, tld: Tld | None) -> Provider:
    """The upstream that holds the contact: that of a registration using it, else its
    pinned TLD's registrar."""
    account = None
    if contact is not None:
        registration = (Registration.objects.filter(
            Q(owner_contact=contact) | Q(admin_contact=contact) | Q(tech_contact=contact)
            | Q(billing_contact=contact))
            .select_related("tld__provider_account", "provider_account").first())
        account = registration.served_by if registration else None
    if account is None and tld is not None:
        account = tld.provider_account
    if account is None:
        raise OperationRefused("No registrar is configured for this contact's TLD.",
                               code="registrar_unavailable")
    if not account.supports(Capability.CONTACTS):
        raise OperationUnsupported(f"{account.get_kind_display()} does not manage contacts.")
    try:
        return provider_for_account(account)
    except (ConfigurationError, ServiceUnavailable) as error:
        raise OperationRefused(error.message, code=error.code) from error


def check_contact_registrar(*, contact: Contact | None, tld: Tld | None) -> None:
    """Refuse (OperationRefused) as a contact operation would before sending anything:
    no registrar holds the contact, or its upstream manages no contacts. For dry runs:
    nothing is sent."""
    _provider_for(contact, tld)


def _tld_params(tld: Tld | None) -> dict[str, Any]:
    if tld is None:
        return {}
    return {"tld_id": tld.upstream_id} if tld.upstream_id else {"tld_name": f".{tld.name}"}


def contact_create(*, tld: Tld, fields: Mapping[str, Any], actor, account=None) -> Outcome:
    """Create the contact at the registrar, pinned to `tld`, then mirror it."""
    require_permission(actor, "contacts.add_contact")
    if tld is None:
        raise InvalidInput("Choose the TLD whose registry rules apply.",
                           field_errors={"tld": ["Required."]})
    cleaned = drop_unset(fields, partial=False)
    provider = _provider_for(None, tld)
    parameters = {"tld": tld.name, "contact": cleaned}
    with transaction.atomic():
        record = call_upstream(
            lambda: provider.create_contact(contact=cleaned, **_tld_params(tld)),
            actor=actor, action="contact.create", target=None, parameters=parameters,
            settle=lambda error: _find_created(provider, cleaned, tld, account))
        if isinstance(record, Outcome):
            return record
        contact = upsert_contact(record, tld=tld, account=account)
        message = f"Contact {contact} was created at the registrar, pinned to .{tld.name}."
        row = audit.record(actor=actor, action="contact.create", target=contact,
                           parameters=parameters, outcome=Outcomes.SUCCEEDED, message=message)
        return Outcome(status=Outcomes.SUCCEEDED, message=message, data={"contact": contact},
                       audit_row=row)


def contact_update(*, contact: Contact, fields: Mapping[str, Any], actor,
                   tld: Tld | None = None) -> Outcome:
    """Send the changed fields. The registrar may answer 202 (processing), or split the
    contact: the original keeps the registrations whose registry refused the change and
    a new contact, carrying the change, takes over the others."""
    require_permission(actor, "contacts.change_contact")
    if not fields:
        raise InvalidInput("Nothing was changed.")
    cleaned = drop_unset(fields, partial=True)
    provider = _provider_for(contact, tld or contact.tld)
    parameters = {"contact": cleaned, **({"tld": tld.name} if tld else {})}
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact.pk)
        if contact.unsettled_operation == "update":
            raise OperationRefused(
                f"The last change to {contact} may have been applied (no usable answer came "
                "back), and it has not been read again yet. Re-sync a registration that "
                "uses it, or try again shortly.", code="unsettled")
        update = call_upstream(
            lambda: provider.update_contact(contact.upstream_id, contact=cleaned,
                                            **_tld_params(tld)),
            actor=actor, action="contact.update", target=contact, parameters=parameters,
            settle=lambda error: _reread_contact(provider, contact, expected=cleaned))
        if isinstance(update, Outcome):
            return update
        if update.process is not None:
            return _pending_update(contact, update, actor=actor, parameters=parameters)
        if not update.split:
            upsert_contact(update.contact, tld=contact.tld, account=contact.account)
            message = f"Contact {contact} was updated at the registrar."
            row = audit.record(actor=actor, action="contact.update", target=contact,
                               parameters=parameters, outcome=Outcomes.SUCCEEDED,
                               upstream_request_id=update.request_id, message=message)
            return Outcome(status=Outcomes.SUCCEEDED, message=message, audit_row=row,
                           data={"contact": contact})
        return _split(contact, update, actor=actor, parameters=parameters)


def _reread_contact(provider: Provider, contact: Contact, *,
                    expected: Mapping[str, Any]) -> Settled:
    """After an update whose outcome is not known: the contact read again and mirrored;
    whether it shows the change."""
    try:
        record = provider.get_contact(contact.upstream_id)
    except ProviderError as error:
        contact.unsettled_operation = "update"
        contact.unsettled_since = timezone.now()
        contact.save(update_fields=["unsettled_operation", "unsettled_since", "updated_at"])
        return Settled(settled=False, message=(
            f"It could not be read again now ({error.message}) Until it has been, changes "
            "to this contact are refused here."))
    upsert_contact(record, tld=contact.tld, account=contact.account)
    Contact.objects.filter(pk=contact.pk).update(unsettled_operation="", unsettled_since=None)
    contact.refresh_from_db()
    applied = all(str(getattr(contact, name)) == str(value) for name, value in expected.items()
                  if hasattr(contact, name) and name != "extra_properties")
    return Settled(settled=True, applied=applied, message=(
        "Read again: the registrar "
        + ("shows the change, so it was applied." if applied
           else "does not show it, so it was not applied and may be sent again.")))


def _find_created(provider: Provider, fields: Mapping[str, Any], tld: Tld,
                  account) -> Settled:
    """After a create whose outcome is not known: the registrar's contacts searched for
    one with these details, mirrored when found (so it is not created twice)."""
    try:
        found = [record for record in provider.list_contacts(str(fields.get("last_name") or ""))
                 if all(str(record.fields.get(name) or "") == str(value)
                        for name, value in fields.items()
                        if name in {"first_name", "last_name", "email", "organization"})]
    except ProviderError as error:
        return Settled(settled=False, message=(
            f"The registrar's contacts could not be searched now ({error.message}). Look "
            "for the contact there before creating it again."))
    if not found:
        return Settled(settled=True, applied=False, message=(
            "Searched again: the registrar has no such contact, so it was not created and "
            "may be created again."))
    newest = max(found, key=lambda record: record.upstream_id)
    contact = upsert_contact(newest, tld=tld, account=account)
    return Settled(settled=True, applied=True, message=(
        f"Searched again: the registrar has it ({contact.handle or contact.upstream_id}), so "
        "it was created; it is in the mirror now."))


def _reread_deleted(provider: Provider, contact: Contact) -> Settled:
    try:
        provider.get_contact(contact.upstream_id)
    except NotFound:
        return Settled(settled=True, applied=True, message=(
            "Read again: the registrar no longer has it, so it was deleted; the mirror "
            "follows."))
    except ProviderError as error:
        return Settled(settled=False, message=(
            f"It could not be read again now ({error.message}). Check it at the registrar "
            "before deleting it again."))
    return Settled(settled=True, applied=False, message=(
        "Read again: the registrar still has it, so it was not deleted and may be deleted "
        "again."))


def _pending_update(contact: Contact, update, *, actor, parameters) -> Outcome:
    info = update.process
    registration = Registration.objects.filter(
        upstream_id=str(info.raw.get("registration_id") or "")).first()
    if registration is not None:
        process, _ = Process.objects.update_or_create(
            registration=registration, upstream_id=info.id,
            defaults={"action": info.action or "update_contact", "status": info.status,
                      "raw": info.raw})
        schedule_poll(process)
    message = (f"The registrar is processing the change to {contact} (process {info.id}). "
               "The mirror is updated when it completes.")
    row = audit.record(actor=actor, action="contact.update", target=contact,
                       parameters=parameters, outcome=Outcomes.PENDING, upstream_status=202,
                       upstream_request_id=update.request_id, process_id=info.id,
                       message=message)
    return Outcome(status=Outcomes.PENDING, message=message, audit_row=row,
                   data={"contact": contact})


def _split(original: Contact, update, *, actor, parameters) -> Outcome:
    upsert_contact(update.original, tld=original.tld, account=original.account)
    new_contact = upsert_contact(update.contact, tld=original.tld, account=original.account)
    if new_contact.split_from_id != original.pk:
        new_contact.split_from = original
        new_contact.save(update_fields=["split_from", "updated_at"])
    moved = list(Registration.objects.filter(upstream_id__in=update.moved_registration_ids)
                 .order_by("name"))
    for registration in moved:
        changed = [f"{role}_contact" for role in ROLES
                   if getattr(registration, f"{role}_contact_id") == original.pk]
        for name in changed:
            setattr(registration, name, new_contact)
        if changed:
            registration.save(update_fields=[*changed, "updated_at"])
    kept = list(Registration.objects.filter(upstream_id__in=update.kept_registration_ids)
                .order_by("name"))
    message = (
        f"The change was split. {len(moved)} registration(s) now use the new contact "
        f"{new_contact.handle or new_contact.upstream_id} with the change: "
        f"{', '.join(map(str, moved)) or 'none'}. {len(kept)} keep the original "
        f"{original.handle or original.upstream_id} unchanged, because their registry "
        f"refused the change: {', '.join(map(str, kept)) or 'none'}."
    )
    row = audit.record(
        actor=actor, action="contact.update", target=original,
        parameters={**parameters, "split_into": new_contact.upstream_id,
                    "moved": [r.name for r in moved], "kept": [r.name for r in kept]},
        outcome=Outcomes.SUCCEEDED, upstream_request_id=update.request_id, message=message)
    return Outcome(status=Outcomes.SUCCEEDED, message=message, audit_row=row,
                   data={"contact": new_contact, "original": original, "moved": moved,
                         "kept": kept})


def contact_delete(*, contact: Contact, actor, tld: Tld | None = None) -> Outcome:
    """Delete at the registrar, then here. Refused while a registration uses it."""
    require_permission(actor, "contacts.delete_contact")
    using = registrations_using(contact)
    names = sorted({str(r) for registrations in using.values() for r in registrations})
    if names:
        raise InvalidInput(
            f"{contact} is still used by {len(names)} registration(s): {', '.join(names[:10])}"
            f"{' …' if len(names) > 10 else ''}. Change their contacts first.",
            code="contact_in_use")
    provider = _provider_for(contact, tld or contact.tld)
    tld = tld or contact.tld
    parameters = {"tld": tld.name} if tld else {}
    with transaction.atomic():
        result = call_upstream(
            lambda: provider.delete_contact(contact.upstream_id, **_tld_params(tld)),
            actor=actor, action="contact.delete", target=contact, parameters=parameters,
            settle=lambda error: _reread_deleted(provider, contact))
        if isinstance(result, Outcome):
            if result.data.get("applied"):
                contact.delete()  # the re-read shows it gone upstream: the mirror follows
            return result
        message = f"Contact {contact} was deleted at the registrar and here."
        row = audit.record(actor=actor, action="contact.delete", target=contact,
                           parameters=parameters, outcome=Outcomes.SUCCEEDED,
                           upstream_request_id=result, message=message)
        contact.delete()
        return Outcome(status=Outcomes.SUCCEEDED, message=message, audit_row=row)


def contact_resend_verification(*, contact: Contact, actor) -> Outcome:
    require_permission(actor, "contacts.resend_contact_verification")
    if contact.tld is None or not contact.tld.requires_contact_validation:
        raise OperationUnsupported(
            "Verification applies only to contacts on TLDs that validate registrants "
            "(such as .it and .au).")
    provider = _provider_for(contact, contact.tld)
    with transaction.atomic():
        status = call_upstream(lambda: provider.resend_contact_verification(contact.upstream_id),
                               actor=actor, action="contact.resend_verification",
                               target=contact, parameters={})
        if isinstance(status, Outcome):
            return status
        message = f"The verification e-mail to {contact.email} is {status or 'queued'}."
        row = audit.record(actor=actor, action="contact.resend_verification", target=contact,
                           parameters={}, outcome=Outcomes.SUCCEEDED, message=message)
        return Outcome(status=Outcomes.SUCCEEDED, message=message, audit_row=row)


# --- reading contacts at the registrar ----------------------------------------------------


def contact_read_remote(*, contact: Contact, actor) -> tuple[ContactRecord,
                                                             dict[str, tuple[Any, Any]]]:
    """The contact as the registrar has it now (GET /api/domain_contacts/:id), and the
    fields where the mirror differs (mirror value, registrar value). Reads only: the
    mirror is not changed and no audit row is written. Raises OperationRefused before
    anything is sent, ProviderError when the registrar cannot answer."""
    require_permission(actor, "contacts.view_contact")
    if not contact.upstream_id:
        raise OperationRefused(f"{contact} has no id at the registrar: there is nothing to "
                               "read there.", code="not_at_registrar")
    provider = _provider_for(contact, contact.tld)
    record = provider.get_contact(contact.upstream_id)
    return record, _differences(contact, record)


def _differences(contact: Contact, record: ContactRecord) -> dict[str, tuple[Any, Any]]:
    differences = {name: (getattr(contact, name), value)
                   for name, value in record.fields.items()
                   if getattr(contact, name) != value}
    split_from = contact.split_from.upstream_id if contact.split_from_id else None
    if record.split_from_upstream_id and record.split_from_upstream_id != split_from:
        differences["split_from"] = (split_from, record.split_from_upstream_id)
    return differences


# --- mirroring the registrar's contact list -----------------------------------------------

#: Mirroring creates and changes contact rows: Support and Admins (as adding and
#: editing contacts in the admin).
MIRROR_PERMISSIONS = ("contacts.add_contact", "contacts.change_contact")
MIRROR_ACTION = "contact.mirror"


def mirror_accounts():
    """The provider accounts whose contact list can be mirrored (enabled ones whose
    upstream lists its contacts)."""
    return ProviderAccount.objects.filter(enabled=True).with_capability(
        Capability.CONTACT_LIST).order_by("label")


@dataclass
class ContactMirrorReport:
    """One mirror run. `changes` lists (kind, upstream id, handle, changed fields) for
    what was (or, in a dry run, would be) created or updated."""

    account: str
    dry_run: bool = False
    seen: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    #: Back a registration here: the registration sync mirrors them with it.
    backing: int = 0
    #: A change whose outcome is not known waits for its re-read: left alone.
    unsettled: int = 0
    #: Records the mirror could not store (named in `error_ids`).
    errors: int = 0
    error_ids: list[str] = field(default_factory=list)
    #: The registrar failed: nothing at all was written.
    failure: str = ""
    changes: list[tuple[str, int, str, list[str]]] = field(default_factory=list)
    audit_row: Any = None

    @property
    def ok(self) -> bool:
        return not self.failure and not self.errors

    def counts(self) -> dict[str, int]:
        return {"seen": self.seen, "created": self.created, "updated": self.updated,
                "unchanged": self.unchanged, "backing_registrations": self.backing,
                "unsettled": self.unsettled, "errors": self.errors}

    def summary(self) -> str:
        if self.failure:
            return (f"{self.account}: the registrar's contact list could not be read "
                    f"({self.failure.rstrip('.')}) after {self.seen} contact(s). Nothing was "
                    "written.")
        verb = "would be" if self.dry_run else "were"
        text = (f"{self.account}: seen {self.seen} contact(s): {self.created} {verb} created, "
                f"{self.updated} {verb} updated, {self.unchanged} unchanged, {self.backing} "
                "left to the registration sync (they back a registration)")
        if self.unsettled:
            text += f", {self.unsettled} left until their unsettled change is read again"
        if self.errors:
            text += (f", {self.errors} could not be stored (upstream id "
                     f"{', '.join(self.error_ids[:10])})")
        return text + (". Dry run: nothing was written." if self.dry_run else ".")


def contact_mirror(*, account: ProviderAccount, actor, dry_run: bool = False,
                   page_size: int = 100,
                   on_change: Callable[[str, int, str, list[str]], None] | None = None
                   ) -> ContactMirrorReport:
    """Page through the registrar's contact list and create or update the mirror of the
    contacts that back no registration here (those the registration sync mirrors with
    their registrations are left to it). Idempotent: a second run changes nothing. One
    audit row per run with the counts (none for a dry run, which reads the list and
    writes nothing). When the registrar fails part way, nothing is written and the row
    says so. Raises PermissionDenied / OperationRefused before anything is sent."""
    for permission in MIRROR_PERMISSIONS:
        require_permission(actor, permission)
    if not account.enabled:
        raise OperationRefused(f"Provider account {account.label} is disabled.",
                               code="provider_disabled")
    if not account.supports(Capability.CONTACT_LIST):
        raise OperationUnsupported(f"{account.get_kind_display()} does not list its "
                                   "contacts.")
    try:
        provider = provider_for_account(account)
    except (ConfigurationError, ServiceUnavailable) as error:
        raise OperationRefused(error.message, code=error.code) from error
    report = ContactMirrorReport(account=account.label, dry_run=dry_run)
    try:
        with transaction.atomic():
            for record in provider.iter_contacts(page_size=page_size):
                _mirror_one(record, report, dry_run=dry_run, on_change=on_change)
    except ProviderError as error:
        # The transaction rolled back: the counts of what was written are all zero.
        report = ContactMirrorReport(account=account.label, dry_run=dry_run,
                                     seen=report.seen, failure=error.message)
        if not dry_run:
            report.audit_row = audit.record(
                actor=actor, action=MIRROR_ACTION, target=account,
                parameters={"counts": report.counts()}, outcome=Outcomes.FAILED,
                upstream_status=error.status, upstream_code=error.code,
                upstream_request_id=error.request_id, message=report.summary())
        return report
    if not dry_run:
        report.audit_row = audit.record(
            actor=actor, action=MIRROR_ACTION, target=account,
            parameters={"counts": report.counts(), "page_size": page_size},
            outcome=Outcomes.SUCCEEDED, message=report.summary())
    return report


def _backs_a_registration(contact: Contact) -> bool:
    query = Q()
    for role in ROLES:
        query |= Q(**{f"{role}_contact": contact})
    return Registration.objects.filter(query).exists()


def _mirror_one(record: ContactRecord, report: ContactMirrorReport, *, dry_run: bool,
                on_change: Callable[[str, int, str, list[str]], None] | None) -> None:
    report.seen += 1
    contact = Contact.objects.filter(upstream_id=record.upstream_id).first()
    handle = str(record.fields.get("handle") or "")
    if contact is None:
        kind, changed = "created", sorted(record.fields)
    elif _backs_a_registration(contact):
        report.backing += 1
        return
    elif contact.unsettled_operation:
        report.unsettled += 1
        return
    else:
        kind, changed = "updated", sorted(_differences(contact, record))
        if not changed:
            report.unchanged += 1
            return
    if not dry_run:
        try:
            with transaction.atomic():
                upsert_contact(record)
        except (IntegrityError, ValidationError, ValueError, TypeError):
            # A record the mirror's constraints refuse (say, a phone not in E.164): the
            # others are still mirrored, and this one is named in the report.
            report.errors += 1
            report.error_ids.append(str(record.upstream_id))
            return
    setattr(report, kind, getattr(report, kind) + 1)
    report.changes.append((kind, record.upstream_id, handle, changed))
    if on_change is not None:
        on_change(kind, record.upstream_id, handle, changed)
