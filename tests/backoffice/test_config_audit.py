"""Configuration changes made in the admin (provider accounts, TLDs, customer accounts)
and data leaving by export are audited, each with one row saying what changed from
what to what, or what left; every row says through which channel the work came."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from backoffice import assurance
from backoffice.models import StaffAction
from billing.models import Account
from registrar.models import Tld
from registrar.tasks import settle_registration
from tests.backoffice.admin_forms import form_data
from tests.billing.test_webhooks import event as purchase_event
from tests.factories import (
    AccountFactory,
    OrderFactory,
    ProviderAccountFactory,
    RegistrationFactory,
    TldFactory,
)

Outcome = StaffAction.Outcome


@pytest.fixture
def admin_client(client, admin_user_role):
    client.force_login(admin_user_role)
    return client


def edit(client, model: str, obj, **changes):
    url = reverse(f"admin:{model}_change", args=[obj.pk])
    page = client.get(url)
    assert page.status_code == 200
    response = client.post(url, form_data(page, **changes))
    assert response.status_code == 302, response.context["adminform"].form.errors
    return response


@pytest.fixture
def provider(db):
    return ProviderAccountFactory(label="main-registrar", kind="sandbox",
                                  base_url="https://api.registrar.example/v2",
                                  secret_env="PROVIDER_SECRET_MAIN",
                                  options={"lightning_mode": False})


# --- configuration: old and new values ---------------------------------------------------


def test_a_provider_account_edit_is_audited_with_old_and_new(admin_client, admin_user_role,
                                                             provider):
    edit(admin_client, "registrar_provideraccount", provider,
         base_url="https://api2.registrar.example/v2", enabled=None,
         options=json.dumps({"lightning_mode": True,
                             "webhook_secret_env": "PROVIDER_SECRET_MAIN_HOOK"}))

    row = StaffAction.objects.get(action="config.provideraccount.change")
    assert (row.actor, row.outcome, row.channel, row.target_id) == (
        admin_user_role, Outcome.SUCCEEDED, "web", str(provider.pk))
    assert row.parameters == {"changes": {
        "base_url": {"old": "https://api.registrar.example/v2",
                     "new": "https://api2.registrar.example/v2"},
        "enabled": {"old": True, "new": False},
        # A secret-looking key is masked wherever it appears.
        "options": {"old": {"lightning_mode": False},
                    "new": {"lightning_mode": True, "webhook_secret_env": "***"}},
    }}
    assert row.message == ("Changed provider account main-registrar: base_url, enabled, "
                           "options.")


def test_a_tld_edit_is_audited_with_old_and_new(admin_client, provider):
    tld = TldFactory(name="example", supports_dnssec=True)
    before = str(tld.provider_account)
    edit(admin_client, "registrar_tld", tld, provider_account=str(provider.pk),
         supports_dnssec=None, privacy_fee_amount="4.99", privacy_fee_currency="USD")

    row = StaffAction.objects.get(action="config.tld.change")
    assert row.target_type == "registrar.tld" and row.target_id == str(tld.pk)
    assert row.parameters == {"changes": {
        "provider_account": {"old": before, "new": str(provider)},
        "supports_dnssec": {"old": True, "new": False},
        "privacy_fee_amount": {"old": None, "new": 499},
        "privacy_fee_currency": {"old": "", "new": "USD"},
    }}
    assert Tld.objects.get(pk=tld.pk).provider_account == provider


def test_an_account_add_edit_and_delete_are_audited(admin_client, admin_user_role):
    response = admin_client.post(reverse("admin:billing_account_add"), {
        "name": "Jane's Bakery", "email": "jane@bakery.example",
        "customer_reference": "ACC-CFG-1", "entri_user_id": "", "domain_api_account": ""})
    assert response.status_code == 302
    account = Account.objects.get(customer_reference="ACC-CFG-1")
    added = StaffAction.objects.get(action="config.account.add")
    assert added.target_id == str(account.pk)
    assert added.parameters["values"]["email"] == "jane@bakery.example"

    edit(admin_client, "billing_account", account, email="orders@bakery.example")
    changed = StaffAction.objects.get(action="config.account.change")
    assert changed.parameters == {"changes": {
        "email": {"old": "jane@bakery.example", "new": "orders@bakery.example"}}}

    response = admin_client.post(reverse("admin:billing_account_delete", args=[account.pk]),
                                 {"post": "yes"})
    assert response.status_code == 302
    deleted = StaffAction.objects.get(action="config.account.delete")
    assert (deleted.actor, deleted.target_id, deleted.target_repr) == (
        admin_user_role, str(account.pk), "Jane's Bakery <orders@bakery.example>")
    assert deleted.parameters["values"]["customer_reference"] == "ACC-CFG-1"


def test_a_bulk_delete_writes_one_row_per_account(admin_client):
    accounts = [AccountFactory(), AccountFactory()]
    response = admin_client.post(reverse("admin:billing_account_changelist"), {
        "action": "delete_selected", "_selected_action": [a.pk for a in accounts],
        "post": "yes"})
    assert response.status_code == 302
    rows = StaffAction.objects.filter(action="config.account.delete")
    assert sorted(rows.values_list("target_id", flat=True)) == sorted(
        str(a.pk) for a in accounts)


# --- exports -----------------------------------------------------------------------------


def test_export_orders_writes_one_row_from_the_command_line(db, tmp_path):
    OrderFactory(placed_at=datetime(2024, 4, 2, tzinfo=UTC))
    OrderFactory(placed_at=datetime(2024, 4, 3, tzinfo=UTC))
    OrderFactory(placed_at=datetime(2024, 6, 1, tzinfo=UTC))
    target = tmp_path / "april.csv"
    call_command("export_orders", "--since", "2024-04-01", "--until", "2024-04-30",
                 "--output", str(target), stdout=io.StringIO(), stderr=io.StringIO())

    row = StaffAction.objects.get(action="orders.export")
    assert (row.actor, row.outcome, row.channel) == (None, Outcome.SUCCEEDED, "cli")
    assert row.actor_label.startswith("command:export_orders (")
    assert row.parameters == {"since": "2024-04-01", "until": "2024-04-30", "status": [],
                              "format": "csv", "output": str(target), "rows": 2}
    assert row.message == f"Exported 2 orders as CSV to {target}."


def test_the_finance_export_writes_one_row_from_the_web(client, finance_user):
    OrderFactory(currency="EUR")
    OrderFactory(currency="USD")
    client.force_login(finance_user)
    response = client.get("/finance/orders.csv", {"currency": "EUR"})
    b"".join(response.streaming_content)

    row = StaffAction.objects.get(action="orders.export")
    assert (row.actor, row.channel) == (finance_user, "web")
    assert row.parameters == {"currency": "EUR"}
    assert row.message == "Exported 1 order as CSV (filtered)."


# --- channels ----------------------------------------------------------------------------


def test_rows_written_from_a_shell_say_command_line(db):
    from tests.factories import staff_action

    assert staff_action().channel == "cli"
    with assurance.acting(assurance.Channel.WEB):
        assert staff_action().channel == "web"


def test_a_webhook_row_says_webhook(client, db, monkeypatch):
    monkeypatch.setenv("PROVIDER_SECRET_CHANNEL_HOOK", "whsec-test-0123456789")
    AccountFactory(customer_reference="ACC-WEB-1")
    account = ProviderAccountFactory(label="domainee-main", kind="domainee",
                                     base_url="https://api.domainee.test",
                                     options={"webhook_secret_env":
                                              "PROVIDER_SECRET_CHANNEL_HOOK"})
    response = client.post(
        reverse("webhook", args=[account.kind, account.label]),
        data=json.dumps(purchase_event()),
        content_type="application/json", HTTP_X_WEBHOOK_SECRET="whsec-test-0123456789")
    assert response.status_code == 200
    rows = StaffAction.objects.all()
    assert sorted(rows.values_list("action", "channel")) == [
        ("order.webhook", "webhook"), ("registration.sync_created", "webhook")]


def test_a_task_row_says_task_and_the_context_is_left_afterwards(sandbox):
    registration = RegistrationFactory(name="settling.com", tld=TldFactory(name="com"),
                                       unsettled_operation="lock",
                                       unsettled_since=timezone.now())
    sandbox.seed()
    result = settle_registration.apply(args=(registration.pk,))

    assert result.get() == "settled"
    row = StaffAction.objects.get(action="registration.settled")
    assert row.channel == "task"
    assert assurance.channel() == "cli"  # the task's context ended with it
