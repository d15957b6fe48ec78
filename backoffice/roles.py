"""The three staff roles and exactly which permissions each holds.

`setup_roles()` makes the groups match this table: idempotent, and it removes any
permission granted by hand that the table does not list, so the roles stay what
this file says. It runs after every migrate and from `manage.py setup_roles`.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db import transaction

SUPPORT = "Support"
FINANCE = "Finance"
ADMIN = "Admin"

_REGISTRATION_OPERATIONS = [
    "registrar.lock_registration",
    "registrar.set_privacy",
    "registrar.manage_dnssec",
    "registrar.set_auto_renew",
    "registrar.change_nameservers",
    "registrar.change_holder",
    "registrar.order_registrant_change",
    "registrar.change_role_contacts",
    "registrar.reveal_authcode",
    "registrar.force_sync",
    "registrar.decide_transfer_out",
    "registrar.push_transfer",
    "registrar.resend_verification",
    "registrar.manage_dns_records",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    # Support look after registrations, contacts, hosts and processes, place
    # orders and send customers to the billing portal. No finance area, no ledger.
    SUPPORT: [
        "registrar.view_tld",
        "registrar.view_registration",
        "registrar.change_registration",
        "registrar.view_dnsseckey",
        "registrar.view_host",
        "registrar.add_host",
        "registrar.change_host",
        "registrar.delete_host",
        "registrar.view_hostaddress",
        "registrar.view_process",
        "registrar.view_processlogentry",
        "registrar.resend_process",
        "registrar.cancel_process",
        # Their own high-risk requests and their state; approving is another person's.
        "registrar.view_approval",
        *_REGISTRATION_OPERATIONS,
        # The customer's renewal reminders: see them, and stop or restart them.
        "registrar.view_renewalnotice",
        "registrar.suppress_notices",
        "contacts.view_contact",
        "contacts.add_contact",
        "contacts.change_contact",
        "contacts.delete_contact",
        "contacts.resend_contact_verification",
        "billing.view_account",
        "billing.view_order",
        "billing.view_orderitem",
        "billing.place_order",
        "billing.generate_billing_link",
        "backoffice.view_note",
        "backoffice.add_note",
    ],
    # Finance review money: read-only on registrations and contacts.
    FINANCE: [
        "registrar.view_tld",
        "registrar.view_registration",
        "registrar.view_provideraccount",
        "registrar.view_renewalnotice",
        "contacts.view_contact",
        "billing.view_account",
        "billing.view_order",
        "billing.view_orderitem",
        "billing.view_ledgerentry",
        "billing.view_webhookevent",
        "billing.view_finance",
        "billing.export_orders",
        "billing.generate_billing_link",
        "backoffice.view_note",
        "backoffice.add_note",
    ],
}


def _admin_permissions(using: str) -> list[str]:
    """Admin holds everything in the back-office's apps plus user management, except
    changing or deleting audit rows and notes, which nobody can; and may look at login attempts
    and lockouts (django-axes), without editing them."""
    from django.db.models import Q

    perms = Permission.objects.using(using).filter(
        Q(content_type__app_label__in=["registrar", "contacts", "billing", "backoffice",
                                        "auth"])
        | Q(content_type__app_label="axes", codename__startswith="view_")
    ).select_related("content_type")
    # Notes are kept as written, like the audit rows they sit beside.
    forbidden = {"backoffice.change_staffaction", "backoffice.delete_staffaction",
                 "backoffice.add_staffaction", "backoffice.change_note",
                 "backoffice.delete_note"}
    return sorted(
        label
        for p in perms
        if (label := f"{p.content_type.app_label}.{p.codename}") not in forbidden
    )


def _resolve(labels: list[str], using: str) -> list[Permission]:
    wanted = {tuple(label.split(".", 1)) for label in labels}
    found = [
        p
        for p in Permission.objects.using(using).select_related("content_type")
        if (p.content_type.app_label, p.codename) in wanted
    ]
    missing = wanted - {(p.content_type.app_label, p.codename) for p in found}
    if missing:
        raise LookupError(f"Permissions not found (migrate first?): {sorted(missing)}")
    return found


def setup_roles(*, using: str = "default") -> dict[str, int]:
    """Create or correct the three groups. Returns {group: permission count}."""
    table = {**ROLE_PERMISSIONS, ADMIN: _admin_permissions(using)}
    counts = {}
    with transaction.atomic(using=using):
        for name, labels in table.items():
            group, _ = Group.objects.using(using).get_or_create(name=name)
            permissions = _resolve(labels, using)
            group.permissions.set(permissions)
            counts[name] = len(permissions)
    return counts
