"""Role × admin page: who may open which page. Written out by hand on purpose, so a
change to the roles table has to be matched here."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from backoffice.roles import ADMIN, FINANCE, SUPPORT
from billing.models import OrderStatus
from tests.factories import (
    AccountFactory,
    ContactFactory,
    LedgerEntryFactory,
    OrderFactory,
    ProcessFactory,
    ProviderAccountFactory,
    RegistrationFactory,
    TldFactory,
)

S, F, A, P = SUPPORT, FINANCE, ADMIN, "staff"

# changelist URL name -> groups that may open it (others get 403)
CHANGELISTS = {
    "registrar_provideraccount": {F, A},
    "registrar_tld": {S, F, A},
    "registrar_registration": {S, F, A},
    "registrar_dnsseckey": {S, A},
    "registrar_host": {S, A},
    "registrar_hostaddress": {S, A},
    "registrar_process": {S, A},
    "registrar_processlogentry": {S, A},
    "contacts_contact": {S, F, A},
    "billing_account": {S, F, A},
    "billing_order": {S, F, A},
    "billing_orderitem": {S, F, A},
    "billing_ledgerentry": {F, A},
    "billing_webhookevent": {F, A},
    "backoffice_staffaction": {A},
    "auth_user": {A},
    "auth_group": {A},
}

# add pages: only Admin manages provider accounts and TLDs
ADD_PAGES = {
    "registrar_provideraccount": {A},
    "registrar_tld": {A},
    "billing_account": {A},
    "registrar_registration": set(),  # mirrors are never added by hand
    "billing_ledgerentry": set(),
}


# a customer account's own pages -> groups that may open them
ACCOUNT_PAGES = {
    "billing_account_domain_order": {S, A},
    "billing_account_domain_order_confirm": {S, A},
    "billing_account_email_order": {S, A},
    "billing_account_billing_link": {S, F, A},
}


@pytest.mark.django_db
@pytest.mark.parametrize("page", sorted(CHANGELISTS))
def test_changelist_access_by_role(client, role_users, page):
    for role, user in role_users.items():
        client.force_login(user)
        status = client.get(reverse(f"admin:{page}_changelist")).status_code
        expected = 200 if role in CHANGELISTS[page] else 403
        assert status == expected, f"{role} on {page}: {status}, expected {expected}"


@pytest.mark.django_db
@pytest.mark.parametrize("page", sorted(ADD_PAGES))
def test_add_page_access_by_role(client, role_users, page):
    for role, user in role_users.items():
        client.force_login(user)
        status = client.get(reverse(f"admin:{page}_add")).status_code
        expected = 200 if role in ADD_PAGES[page] else 403
        assert status == expected, f"{role} adding {page}: {status}, expected {expected}"


@pytest.mark.django_db
@pytest.mark.parametrize("page", sorted(ACCOUNT_PAGES))
def test_account_page_access_by_role(client, role_users, page):
    account = AccountFactory()
    quoted = OrderFactory(account=account, status=OrderStatus.QUOTED, total_minor=0,
                          subtotal_minor=0, fees_minor=0, quoted_total_minor=1299)
    args = [account.pk, quoted.pk] if page.endswith("_confirm") else [account.pk]
    for role, user in role_users.items():
        client.force_login(user)
        status = client.get(reverse(f"admin:{page}", args=args)).status_code
        expected = 200 if role in ACCOUNT_PAGES[page] else 403
        assert status == expected, f"{role} on {page}: {status}, expected {expected}"


@pytest.mark.django_db
def test_finance_cannot_change_registrations_or_contacts(client, finance_user):
    registration = RegistrationFactory()
    client.force_login(finance_user)
    for url_name, obj in [("admin:registrar_registration_change", registration),
                          ("admin:contacts_contact_change", registration.owner_contact)]:
        url = reverse(url_name, args=[obj.pk])
        page = client.get(url)
        assert page.status_code == 200  # may look
        assert b'name="_save"' not in page.content
        assert client.post(url, {"first_name": "Changed"}).status_code == 403


@pytest.mark.django_db
def test_support_cannot_see_the_ledger_on_an_order(client, support_user, finance_user):
    entry = LedgerEntryFactory(external_reference="pi_secret_ledger_ref")
    url = reverse("admin:billing_order_change", args=[entry.order.pk])
    client.force_login(support_user)
    assert b"pi_secret_ledger_ref" not in client.get(url).content
    client.force_login(finance_user)
    assert b"pi_secret_ledger_ref" in client.get(url).content


@pytest.mark.django_db
def test_only_admin_edits_a_tld(client, role_users):
    tld = TldFactory(name="shop")
    url = reverse("admin:registrar_tld_change", args=[tld.pk])
    for user in role_users.values():
        client.force_login(user)
        client.post(url, {"name": "shop", "supports_privacy": "", "authcode_behavior": "hidden",
                          "supports_transfer_lock": "on", "supports_dnssec": "on"})
    tld.refresh_from_db()
    assert tld.authcode_behavior == "hidden"  # Admin's post went through
    client.force_login(role_users[SUPPORT])
    assert client.post(url, {"name": "shop"}).status_code == 403


@pytest.mark.django_db
def test_setup_roles_is_idempotent_and_restores_the_table(support_user):
    from django.contrib.auth.models import Group, Permission

    support = Group.objects.get(name=SUPPORT)
    before = set(support.permissions.values_list("codename", flat=True))
    support.permissions.add(Permission.objects.get(codename="view_ledgerentry"))
    call_command("setup_roles")
    call_command("setup_roles")
    assert set(support.permissions.values_list("codename", flat=True)) == before
    assert "view_finance" not in before and "view_ledgerentry" not in before


# Objects so the change pages exist for the fixtures above.
@pytest.fixture(autouse=True)
def _some_rows(db):
    ProviderAccountFactory(label="sandbox")
    AccountFactory()
    ContactFactory()
    OrderFactory()
    ProcessFactory()
