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
