"""`manage.py account list|show|add|edit|delete|note`: customer accounts from a shell,
through the account's ModelAdmin (its form, permissions, save, delete and audit rows) and
backoffice.notes, exactly as the admin's pages."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.contrib.admin.models import LogEntry
from django.core.management import CommandError, call_command
from django.urls import reverse

from backoffice.models import Note, StaffAction
from billing.models import Account
from tests.factories import (
    AccountFactory,
    ContactFactory,
    OrderFactory,
    RegistrationFactory,
)


def run(*argv: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("account", *argv, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def refused(*argv: str) -> str:
    with pytest.raises(CommandError) as caught:
        run(*argv)
    return str(caught.value)


@pytest.fixture
def acme(db) -> Account:
    return AccountFactory(name="Acme Corp", email="billing@acme.example",
                          customer_reference="ACC-ACME-1")


# --- reading ----------------------------------------------------------------------------


def test_list_searches_as_the_changelist_does(support_user, acme):
    AccountFactory(name="Bakery Ltd", email="hello@bakery.example",
                   customer_reference="ACC-BAKE")
    out, _ = run("list", "--as", "support-test")
    assert "ACC-ACME-1" in out and "ACC-BAKE" in out and "2 account(s)." in out
    out, _ = run("list", "--search", "billing@acme.example", "--format", "json", "--as",
                   "support-test")
    assert [row["reference"] for row in json.loads(out)] == ["ACC-ACME-1"]
    out, _ = run("list", "--search", "Bakery", "--format", "csv", "--as", "support-test")
    assert out.splitlines()[0].startswith("reference,name,email")
    assert "ACC-BAKE" in out and "ACC-ACME-1" not in out


def test_show_lists_registrations_and_orders(support_user, acme):
    RegistrationFactory(name="acme-shop.com", account=acme)
    OrderFactory(account=acme, domain="acme-shop.com")
    ContactFactory(account=acme, handle="ACME-OWNER")
    out, _ = run("show", "ACC-ACME-1", "--as", "support-test")
    assert "Acme Corp" in out and "Registrations (1):" in out and "acme-shop.com" in out
    assert "Orders (1):" in out and "13.99 USD" in out and "ACME-OWNER" in out
    shown = json.loads(run("show", "ACC-ACME-1", "--format", "json", "--as",
                           "support-test")[0])
    assert shown["registrations"][0]["name"] == "acme-shop.com"
    assert shown["orders"][0]["domain"] == "acme-shop.com"
    assert "REF: no customer account" in refused("show", "ACC-NOBODY", "--as", "support-test")


def test_reading_needs_the_view_permission(plain_staff_user, acme):
    assert "billing.view_account" in refused("list", "--as", "staff-test")


# --- add, edit: the admin's form --------------------------------------------------------


def test_add_goes_through_the_admin_form_with_its_audit_row(admin_user_role):
    out, _ = run("add", "ACC-NEW-1", "--name", "New Co", "--email", "ops@new.example",
                 "--field", "entri_user_id=u-77", "--as", "admin-test")
    account = Account.objects.get(customer_reference="ACC-NEW-1")
    assert (account.name, account.email, account.entri_user_id) == ("New Co",
                                                                   "ops@new.example", "u-77")
    (row,) = StaffAction.objects.all()
    assert (row.action, row.actor, row.target_id) == ("config.account.add", admin_user_role,
                                                      str(account.pk))
    assert row.parameters["values"]["customer_reference"] == "ACC-NEW-1"
    assert LogEntry.objects.get().object_id == str(account.pk)
    assert "Added the account" in out


def test_add_dry_run_writes_nothing(admin_user_role):
    out, _ = run("add", "ACC-NEW-1", "--name", "New Co", "--email", "ops@new.example",
                 "--as", "admin-test", "--dry-run")
    assert "Dry run" in out
    assert Account.objects.count() == 0 and StaffAction.objects.count() == 0


@pytest.mark.parametrize(("argv", "named"), [
    (["ACC-NEW-1", "--name", "New Co", "--email", "not-an-address"], "--email"),
    # The e-mail rule a contact's address obeys: nothing invisible in the domain.
    (["ACC-NEW-1", "--name", "New Co", "--email", "ops@new\u200bco.example"], "--email"),
    (["ACC-ACME-1", "--name", "New Co", "--email", "ops@new.example"], "REF"),  # taken
    (["ACC-NEW-1", "--name", "", "--email", "ops@new.example"], "--name"),
    (["ACC-NEW-1", "--name", "N", "--email", "ops@new.example", "--field", "bogus=1"],
     "--field"),
    (["ACC-NEW-1", "--name", "N", "--email", "ops@new.example", "--field",
      "entri_user_id=" + "x" * 65], "--field entri_user_id"),
])
def test_add_refuses_what_the_admin_form_refuses(admin_user_role, acme, argv, named):
    message = refused("add", *argv, "--as", "admin-test")
    assert named in message, message
    assert Account.objects.count() == 1 and StaffAction.objects.count() == 0


def test_support_may_not_add_or_change_accounts(support_user, acme):
    assert "billing.add_account" in refused("add", "ACC-NEW-1", "--name", "N", "--email",
                                            "n@new.example", "--as", "support-test")
    assert "billing.change_account" in refused("edit", "ACC-ACME-1", "--field", "name=X",
                                               "--as", "support-test")
    assert Account.objects.get().name == "Acme Corp" and StaffAction.objects.count() == 0


def test_edit_changes_the_fields_given_with_one_audit_row(admin_user_role, acme):
    out, _ = run("edit", "ACC-ACME-1", "--field", "name=Acme Corporation", "--field",
                 "email=accounts@acme.example", "--as", "admin-test")
    acme.refresh_from_db()
    assert (acme.name, acme.email) == ("Acme Corporation", "accounts@acme.example")
    (row,) = StaffAction.objects.all()
    assert row.action == "config.account.change"
    assert row.parameters["changes"]["name"] == {"old": "Acme Corp", "new": "Acme Corporation"}
    assert set(row.parameters["changes"]) == {"name", "email"}
    assert "Changed name, email" in out


def test_edit_dry_run_and_bad_values_write_nothing(admin_user_role, acme):
    out, _ = run("edit", "ACC-ACME-1", "--field", "name=Other", "--as", "admin-test",
                 "--dry-run")
    assert "would change name" in out
    assert "--field email" in refused("edit", "ACC-ACME-1", "--field", "email=nope", "--as",
                                      "admin-test")
    assert "--field" in refused("edit", "ACC-ACME-1", "--field", "created_at=2020-01-01",
                                "--as", "admin-test")
    assert "--field" in refused("edit", "ACC-ACME-1", "--as", "admin-test")
    acme.refresh_from_db()
    assert acme.name == "Acme Corp" and StaffAction.objects.count() == 0


# --- delete: refused where the admin refuses ----------------------------------------------


def test_delete_removes_an_account_nothing_needs(admin_user_role, acme):
    out, _ = run("delete", "ACC-ACME-1", "--as", "admin-test", "--dry-run")
    assert "would delete ACC-ACME-1" in out and Account.objects.count() == 1
    out, _ = run("delete", "ACC-ACME-1", "--as", "admin-test")
    assert Account.objects.count() == 0 and "Deleted 1 account: ACC-ACME-1." in out
    (row,) = StaffAction.objects.all()
    assert row.action == "config.account.delete"
    assert row.parameters["values"]["customer_reference"] == "ACC-ACME-1"


def test_delete_of_several_is_the_delete_selected_action(admin_user_role, acme):
    AccountFactory(customer_reference="ACC-TWO")
    run("delete", "ACC-ACME-1", "ACC-TWO", "--as", "admin-test")
    assert Account.objects.count() == 0
    assert sorted(StaffAction.objects.values_list("action", flat=True)) == [
        "config.account.delete", "config.account.delete"]


def test_delete_is_refused_while_orders_or_registrations_need_the_account(admin_user_role,
                                                                          acme):
    OrderFactory(account=acme)
    other = AccountFactory(customer_reference="ACC-TWO")
    RegistrationFactory(account=other)
    assert "other rows still need" in refused("delete", "ACC-ACME-1", "--as", "admin-test")
    # Several together are deleted together or not at all.
    free = AccountFactory(customer_reference="ACC-FREE")
    accounts = Account.objects.count()
    assert "other rows still need" in refused("delete", "ACC-FREE", "ACC-TWO", "--as",
                                              "admin-test")
    assert Account.objects.filter(pk=free.pk).exists()
    assert Account.objects.count() == accounts and StaffAction.objects.count() == 0


def test_support_may_not_delete_accounts(support_user, acme):
    assert "billing.delete_account" in refused("delete", "ACC-ACME-1", "--as", "support-test")
    assert Account.objects.count() == 1


# --- notes --------------------------------------------------------------------------------


def test_note_is_kept_on_the_timeline_with_its_audit_row(support_user, acme, client):
    out, _ = run("note", "ACC-ACME-1", "--text", "Called about the renewal.", "--as",
                 "support-test")
    note = Note.objects.get()
    assert (note.text, note.author, note.target_id) == ("Called about the renewal.",
                                                        support_user, str(acme.pk))
    (row,) = StaffAction.objects.all()
    assert (row.action, row.actor) == ("note.added", support_user)
    assert f"Note {note.pk} is kept" in out
    # The customer page shows it, as one added there would be.
    client.force_login(support_user)
    page = client.get(reverse("admin:billing_account_change", args=[acme.pk]))
    assert "Called about the renewal." in page.content.decode()


def test_note_dry_run_and_refusals_keep_nothing(support_user, finance_user,
                                                plain_staff_user, acme):
    out, _ = run("note", "ACC-ACME-1", "--text", "Checked.", "--as", "support-test",
                 "--dry-run")
    assert "Dry run" in out
    assert "--text" in refused("note", "ACC-ACME-1", "--text", "   ", "--as", "support-test")
    assert "--text" in refused("note", "ACC-ACME-1", "--text", "x" * 2001, "--as",
                               "support-test")
    assert "backoffice.add_note" in refused("note", "ACC-ACME-1", "--text", "Hi", "--as",
                                            "staff-test")
    assert Note.objects.count() == 0 and StaffAction.objects.count() == 0
