"""`manage.py config`: the TLD and provider-account admin from a shell, through the
registered ModelAdmin's own permission check, form and audit row."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from backoffice.models import StaffAction
from registrar.models import ProviderAccount, Tld
from tests.factories import RegistrationFactory, TldFactory


def run(*argv: str) -> str:
    out = StringIO()
    call_command("config", *argv, stdout=out)
    return out.getvalue()


@pytest.fixture
def tld(db):
    return TldFactory(name="com", supports_dnssec=True)


def test_an_edit_goes_through_the_admin_form_and_writes_its_audit_row(tld, admin_user_role):
    out = run("tld", "edit", "com", "--field", "supports_dnssec=false",
              "--field", "privacy_fee_amount=4.99", "--field", "privacy_fee_currency=USD",
              "--as", "admin-test")
    tld.refresh_from_db()
    assert not tld.supports_dnssec
    assert (tld.privacy_fee_amount, tld.privacy_fee_currency) == (499, "USD")  # major units
    assert "Changed TLD .com" in out or "Changed TLD com" in out
    row = StaffAction.objects.get()
    assert row.action == "config.tld.change" and row.actor == admin_user_role
    assert row.parameters["changes"]["supports_dnssec"] == {"old": True, "new": False}
    assert row.channel == "cli"


def test_a_dry_run_writes_nothing(tld, admin_user_role):
    out = run("tld", "edit", "com", "--field", "supports_dnssec=false", "--as", "admin-test",
              "--dry-run")
    assert "Would change" in out and "supports_dnssec" in out
    tld.refresh_from_db()
    assert tld.supports_dnssec and not StaffAction.objects.exists()


@pytest.mark.parametrize(("field", "named"), [
    ("cancellation_window_days=-3", "--field cancellation_window_days"),
    ("privacy_fee_amount=4.99", "--field privacy_fee_currency"),  # a fee needs a currency
    ("supports_dnssec=maybe", "--field supports_dnssec"),
    ("no_such_field=1", "--field no_such_field"),
    ("authcode_behavior=bogus", "--field authcode_behavior"),
])
def test_a_refused_value_names_the_field_and_stores_nothing(tld, admin_user_role, field,
                                                            named):
    with pytest.raises(CommandError, match=named):
        run("tld", "edit", "com", "--field", field, "--as", "admin-test")
    tld.refresh_from_db()
    assert tld.privacy_fee_amount is None and tld.cancellation_window_days is None
    assert not StaffAction.objects.exists()


def test_support_may_not_change_tlds(tld, support_user):
    with pytest.raises(CommandError, match="may not change"):
        run("tld", "edit", "com", "--field", "supports_dnssec=false", "--as", "support-test")
    tld.refresh_from_db()
    assert tld.supports_dnssec and not StaffAction.objects.exists()


def test_add_and_delete_a_provider_account(admin_user_role):
    run("provideraccount", "add", "--field", "label=second-api", "--field", "kind=sandbox",
        "--field", "base_url=https://sandbox.invalid", "--field", "enabled=true",
        "--as", "admin-test")
    account = ProviderAccount.objects.get(label="second-api")
    assert account.enabled and account.kind == "sandbox"
    run("provideraccount", "delete", "second-api", "--as", "admin-test")
    assert not ProviderAccount.objects.filter(label="second-api").exists()
    assert list(StaffAction.objects.order_by("pk").values_list("action", flat=True)) == [
        "config.provideraccount.add", "config.provideraccount.delete"]


def test_a_tld_in_use_is_not_deleted(tld, admin_user_role):
    RegistrationFactory(tld=tld, name="example.com")
    with pytest.raises(CommandError, match="still used by"):
        run("tld", "delete", "com", "--as", "admin-test")
    assert Tld.objects.filter(name="com").exists() and not StaffAction.objects.exists()


def test_list_and_show_read_as_table_csv_and_json(tld):
    TldFactory(name="net")
    table = run("tld", "list")
    assert table.splitlines()[0].split()[:2] == ["id", "name"]
    assert "com" in table and "net" in table
    rows = json.loads(run("tld", "list", "--search", "ne", "--format", "json"))
    assert [row["name"] for row in rows] == ["net"]
    csv_text = run("tld", "show", "com", "--format", "csv")
    assert csv_text.splitlines()[0].startswith("id,name,")
    with pytest.raises(CommandError, match="NAME: no TLD"):
        run("tld", "show", "org")
