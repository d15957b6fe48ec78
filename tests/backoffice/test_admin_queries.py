"""Every changelist runs a constant number of SQL queries, whatever the row count."""

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests import factories
from tests.factories import UserFactory, staff_action

MAKERS = {
    "registrar.provideraccount": lambda: factories.ProviderAccountFactory(),
    "registrar.tld": lambda: factories.TldFactory(),
    "registrar.registration": lambda: factories.RegistrationFactory(),
    "registrar.dnsseckey": lambda: factories.DnssecKeyFactory(),
    "registrar.host": lambda: factories.HostAddressFactory().host,
    "registrar.hostaddress": lambda: factories.HostAddressFactory(),
    "registrar.process": lambda: factories.ProcessFactory(),
    "registrar.processlogentry": lambda: factories.ProcessLogEntryFactory(),
    "registrar.approval": lambda: factories.ApprovalFactory(),
    "contacts.contact": lambda: factories.ContactFactory(),
    "billing.account": lambda: factories.AccountFactory(),
    "billing.order": lambda: factories.OrderFactory(),
    "billing.orderitem": lambda: factories.OrderItemFactory(),
    "billing.ledgerentry": lambda: factories.LedgerEntryFactory(),
    "backoffice.staffaction": lambda: staff_action(),
    "billing.webhookevent": lambda: factories.WebhookEventFactory(),
}


def test_every_project_model_is_registered_and_covered():
    project = {m._meta.label_lower for m in admin.site._registry
               if m._meta.app_label in {"registrar", "contacts", "billing", "backoffice"}}
    assert project == set(MAKERS)


def _queries(client, label):
    app_label, model = label.split(".")
    url = reverse(f"admin:{app_label}_{model}_changelist")
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.django_db
@pytest.mark.parametrize("label", sorted(MAKERS))
def test_changelist_query_count_is_constant(client, label):
    client.force_login(UserFactory(username="root", is_superuser=True))
    for _ in range(5):
        MAKERS[label]()
    with_5 = _queries(client, label)
    for _ in range(45):
        MAKERS[label]()
    with_50 = _queries(client, label)
    assert with_50 == with_5, f"{label}: {with_5} queries for 5 rows, {with_50} for 50"


def _customer_page_queries(client, account) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("admin:billing_account_change", args=[account.pk]))
    assert response.status_code == 200
    return len(captured)


@pytest.mark.django_db
@pytest.mark.parametrize("placed_by_staff", [False, True])
def test_the_customer_page_query_count_is_constant(client, placed_by_staff):
    """The customer's page lists their registrations, contacts and orders and their
    timeline: a constant number of queries, however much they hold."""
    from backoffice.notes import add_note

    root = UserFactory(username="root", is_superuser=True)
    account = factories.AccountFactory()

    def more(count: int) -> None:
        for _ in range(count):
            factories.RegistrationFactory(account=account)
            factories.ContactFactory(account=account)
            order = factories.OrderFactory(account=account,
                                           placed_by=root if placed_by_staff else None)
            factories.WebhookEventFactory(order=order)
            add_note(target=account, text="Called.", actor=root)

    client.force_login(root)
    more(1)
    _customer_page_queries(client, account)  # warms the content-type cache
    with_1 = _customer_page_queries(client, account)
    more(19)
    with_20 = _customer_page_queries(client, account)
    assert with_20 == with_1, f"{with_1} queries for 1 of each, {with_20} for 20"
