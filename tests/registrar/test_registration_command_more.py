"""`manage.py registration dns-records|flag|unflag|note|customer|notices`: the admin's
DNS records page, bulk flag/unflag actions, note, "Attach to customer" and renewal-notices
pages from a shell. Against the sandbox and the Entri fake (tests/fakes/entri.py): the
requests that left, the rows and audit rows left behind, the output and the exit status;
a dry run sends and stores nothing."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from backoffice.models import Note, StaffAction
from registrar.management.commands.registration import Command as RegistrationCommand
from registrar.models import NoticeSuppression, Registration, RenewalNotice
from registrar.services import OPERATIONS
from tests.factories import AccountFactory, RegistrationFactory, TldFactory
from tests.mfa import enrol_totp, totp_code
from tests.registrar.test_provider_capabilities_admin import (  # noqa: F401  (fixture)
    RECORDS,
    ZONE_PATH,
    entri,
)


def out_of(capsys) -> str:
    return capsys.readouterr().out


@pytest.fixture
def classic(sandbox):
    """A Domain Registration API registration (the sandbox), which hosts no DNS."""
    registration = RegistrationFactory(name="classic.com", tld=TldFactory(name="com"),
                                       expires_at=timezone.now() + timedelta(days=20))
    sandbox.seed()
    sandbox.transport.requests.clear()
    return registration


def test_admin_surfaces_name_every_operation():
    surfaces = RegistrationCommand.admin_surfaces
    assert surfaces[0] == "page:admin:registrar_registration_operation"
    assert [s for s in surfaces if s.startswith("operation:")] == [
        f"operation:{key}" for key in OPERATIONS]
    assert {"action:registrar.registration.bulk_flag",
            "action:registrar.registration.bulk_unflag",
            "page:admin:registrar_registration_note",
            "page:admin:registrar_registration_customer",
            "page:admin:registrar_registration_notices",
            "model:registrar.dnsseckey:change"} <= set(surfaces)


# --- dns-records ---------------------------------------------------------------------------


def test_dns_records_shows_the_live_zone(entri, support_user, capsys):  # noqa: F811
    _, fake = entri
    call_command("registration", "dns-records", "store.shop", "--as", "support-test")
    assert len(fake.sent("GET", ZONE_PATH)) == 1
    lines = out_of(capsys).splitlines()
    assert lines[0].split() == ["type", "host", "value", "ttl"]
    assert lines[2].split() == ["A", "@", "192.0.2.10", "3600"]
    assert lines[-1] == "1 DNS record(s) at the registrar for store.shop."
    call_command("registration", "dns-records", "store.shop", "--as", "support-test",
                 "--format", "json")
    assert json.loads(out_of(capsys)) == {"count": 1, "dns_records": [
        {"type": "A", "host": "@", "value": "192.0.2.10", "ttl": 3600}]}
    call_command("registration", "dns-records", "store.shop", "--as", "support-test",
                 "--format", "csv")
    # "@" starts a formula in a spreadsheet: the cell is defused, as every export does.
    assert list(csv.DictReader(io.StringIO(out_of(capsys)))) == [
        {"type": "A", "host": "'@", "value": "192.0.2.10", "ttl": "3600"}]
    assert not StaffAction.objects.exists()


def test_dns_records_replace_puts_the_cleaned_zone(entri, support_user, capsys, tmp_path):  # noqa: F811
    _, fake = entri
    records_file = tmp_path / "zone.txt"
    records_file.write_text("# the mail\nMX @ 10 mail.store.shop 3600\n\n", encoding="utf-8")
    call_command("registration", "dns-records", "store.shop", "--as", "support-test",
                 "--replace", "--record", "A @ 192.0.2.20 3600",
                 "--record", "CNAME www store.shop. 300", "--records-file", str(records_file))
    (put,) = fake.sent("PUT", ZONE_PATH)
    sent = json.loads(put.content)["dns_records"]
    assert [(r["type"], r["host"], r["ttl"]) for r in sent] == [
        ("A", "@", 3600), ("CNAME", "www", 300), ("MX", "@", 3600)]
    assert fake.domain("store.shop")["dnsRecords"] == sent
    row = StaffAction.objects.get()
    assert (row.actor, row.action, row.outcome) == (
        support_user, "registration.dns_records", "succeeded")
    assert "store.shop: succeeded – The DNS records of store.shop were replaced (3 " \
           "record(s))." in out_of(capsys)


def test_dns_records_dry_run_sends_and_stores_nothing(entri, support_user, capsys):  # noqa: F811
    _, fake = entri
    call_command("registration", "dns-records", "store.shop", "--as", "support-test",
                 "--replace", "--record", "A www 192.0.2.30", "--dry-run")
    assert fake.sent("PUT", ZONE_PATH) == []
    assert fake.domain("store.shop")["dnsRecords"] == RECORDS
    assert not StaffAction.objects.exists()
    out = out_of(capsys)
    assert "192.0.2.30" in out
    assert "store.shop: ready – would replace every DNS record with these 1." in out


@pytest.mark.parametrize(("args", "message"), [
    (("--record", "A www"), r'^--record 1: expected "TYPE HOST VALUE \[TTL\]"'),
    (("--record", "A www 192.0.2.1 0"), "^--record 1: the TTL is a number of seconds"),
    (("--record", "AAAA @ 192.0.2.1"), "^--record: Record 1: "),
    (("--record", "A @ 192.0.2.1", "--record", "A @ 192.0.2.1"), "^--record: Record 2: "),
    ((), "^--replace needs at least one --record"),
])
def test_dns_records_bad_input_is_refused_before_sending(entri, support_user, args, message):  # noqa: F811
    _, fake = entri
    with pytest.raises(CommandError, match=message):
        call_command("registration", "dns-records", "store.shop", "--as", "support-test",
                     "--replace", *args)
    assert fake.sent("PUT", ZONE_PATH) == [] and not StaffAction.objects.exists()


def test_dns_records_options_without_replace_are_refused(entri, support_user):  # noqa: F811
    with pytest.raises(CommandError, match=r"--record and --records-file go with --replace"):
        call_command("registration", "dns-records", "store.shop", "--as", "support-test",
                     "--record", "A @ 192.0.2.1")


def test_dns_records_on_a_registrar_without_dns_is_refused(classic, sandbox, support_user,
                                                           capsys):
    with pytest.raises(CommandError, match=r"refused"):
        call_command("registration", "dns-records", "classic.com", "--as", "support-test",
                     "--replace", "--record", "A @ 192.0.2.1")
    assert "does not offer this operation" in out_of(capsys)
    with pytest.raises(CommandError, match=r"refused"):
        call_command("registration", "dns-records", "classic.com", "--as", "support-test")
    assert sandbox.transport.requests == [] and not StaffAction.objects.exists()


def test_dns_records_needs_the_permission(entri, finance_user):  # noqa: F811
    _, fake = entri
    with pytest.raises(CommandError, match=r"registrar.manage_dns_records"):
        call_command("registration", "dns-records", "store.shop", "--as", "finance-test")
    assert fake.sent("GET", ZONE_PATH) == []


# --- flag and unflag: the bulk actions ---------------------------------------------------


def test_flag_sets_the_flag_with_its_reason(classic, sandbox, admin_user_role, capsys):
    call_command("registration", "flag", "classic.com", "--as", "admin-test", "--reason",
                 "Ticket 77: the customer asked for it.")
    classic.refresh_from_db()
    assert classic.customer_flagged is True
    row = StaffAction.objects.get()
    assert (row.actor, row.action) == (admin_user_role, "registration.customer_flag")
    assert row.parameters["reason"] == "Ticket 77: the customer asked for it."
    assert sandbox.transport.requests == []  # local only
    assert "Summary (flag): 1 name(s): 1 succeeded." in out_of(capsys)


def test_flag_dry_run_and_refusals_change_nothing(classic, admin_user_role, support_user,
                                                  capsys):
    call_command("registration", "flag", "classic.com", "--as", "admin-test", "--reason",
                 "Ticket 78", "--dry-run")
    assert "classic.com: ready – would run flag" in out_of(capsys)
    with pytest.raises(CommandError, match=r"flag needs --reason"):
        call_command("registration", "flag", "classic.com", "--as", "admin-test")
    with pytest.raises(CommandError, match=r"support-test is not allowed to run flag"):
        call_command("registration", "flag", "classic.com", "--as", "support-test",
                     "--reason", "x")
    classic.refresh_from_db()
    assert classic.customer_flagged is False and not StaffAction.objects.exists()


def test_unflag_needs_a_fresh_second_factor(classic, admin_user_role, capsys):
    Registration.objects.filter(pk=classic.pk).update(customer_flagged=True)
    device = enrol_totp(admin_user_role)
    with pytest.raises(CommandError, match=r"1 of 1 name"):
        call_command("registration", "unflag", "classic.com", "--as", "admin-test")
    assert "classic.com: refused" in out_of(capsys)
    classic.refresh_from_db()
    assert classic.customer_flagged is True and not StaffAction.objects.exists()
    call_command("registration", "unflag", "classic.com", "--as", "admin-test", "--otp",
                 totp_code(device), "--reason", "Verified by phone")
    classic.refresh_from_db()
    assert classic.customer_flagged is False
    row = StaffAction.objects.get()
    assert row.parameters["changes"] == {"customer_flagged": [True, False]}


# --- note -------------------------------------------------------------------------------------


def test_note_is_kept_on_the_timeline(classic, support_user, capsys):
    call_command("registration", "note", "classic.com", "--as", "support-test", "--text",
                 "Customer called about the renewal.")
    note = Note.objects.get()
    assert (note.text, note.author, note.target_id) == (
        "Customer called about the renewal.", support_user, str(classic.pk))
    assert StaffAction.objects.get().action == "note.added"
    assert "classic.com: succeeded – Note added to classic.com." in out_of(capsys)


def test_note_dry_run_and_empty_text_store_nothing(classic, support_user, capsys):
    call_command("registration", "note", "classic.com", "--as", "support-test", "--text",
                 "Will call back.", "--dry-run")
    assert "would add a note of 15 character(s)" in out_of(capsys)
    with pytest.raises(CommandError, match=r"^--text: write the note first"):
        call_command("registration", "note", "classic.com", "--as", "support-test",
                     "--text", "   ")
    with pytest.raises(CommandError, match=r"^--text: "):
        call_command("registration", "note", "classic.com", "--as", "support-test",
                     "--text", "x" * 2001)
    assert not Note.objects.exists() and not StaffAction.objects.exists()


def test_note_on_an_unknown_registration_names_it(db, support_user):
    with pytest.raises(CommandError, match=r"^NAME: no registration nowhere.com"):
        call_command("registration", "note", "nowhere.com", "--as", "support-test",
                     "--text", "x")


# --- customer ---------------------------------------------------------------------------------


def test_customer_attaches_by_reference(classic, support_user, capsys):
    previous = classic.account
    target = AccountFactory(customer_reference="CUST-42", name="New Owner")
    call_command("registration", "customer", "classic.com", "--as", "support-test",
                 "--account", "cust-42", "--dry-run")
    classic.refresh_from_db()
    assert classic.account == previous and not StaffAction.objects.exists()
    assert "would attach it to New Owner" in out_of(capsys)
    call_command("registration", "customer", "classic.com", "--as", "support-test",
                 "--account", "CUST-42")
    classic.refresh_from_db()
    assert classic.account == target
    row = StaffAction.objects.get()
    assert (row.actor, row.action) == (support_user, "registration.customer_set")
    assert row.parameters["changes"]["account"]["old"] == str(previous)
    assert "classic.com: succeeded – classic.com now belongs to New Owner" in out_of(capsys)
    with pytest.raises(CommandError, match=r"refused"):
        call_command("registration", "customer", "classic.com", "--as", "support-test",
                     "--account", target.email)
    assert StaffAction.objects.count() == 1


def test_customer_refuses_an_unknown_account(classic, support_user, finance_user):
    with pytest.raises(CommandError, match=r"^--account “NOPE-1”: no customer"):
        call_command("registration", "customer", "classic.com", "--as", "support-test",
                     "--account", "NOPE-1")
    with pytest.raises(CommandError, match=r"registrar.change_registration"):
        call_command("registration", "customer", "classic.com", "--as", "finance-test",
                     "--account", "NOPE-1")
    assert not StaffAction.objects.exists()


# --- notices ----------------------------------------------------------------------------------


def test_notices_shows_the_next_and_those_sent(classic, support_user, capsys):
    sent_at = timezone.now() - timedelta(days=9)
    RenewalNotice.objects.create(
        registration=classic, point="d30", offset_days=-30,
        expiry_date=classic.expires_at.date(), expires_at=classic.expires_at,
        recipient="owner@example.com", outcome="sent", claimed_at=sent_at, sent_at=sent_at,
        attempts=1)
    call_command("registration", "notices", "classic.com", "--as", "support-test",
                 "--format", "json")
    document = json.loads(out_of(capsys))
    assert document["registration"] == "classic.com"
    assert document["suppressed"] is None
    assert [(n["point"], n["outcome"]) for n in document["notices"]] == [("d30", "sent")]
    call_command("registration", "notices", "classic.com", "--as", "support-test")
    out = out_of(capsys)
    assert out.startswith("Next notice: ")
    assert out.splitlines()[-1] == "1 renewal notice(s) recorded for classic.com."


def test_notices_suppress_and_unsuppress_are_audited(classic, support_user, capsys):
    call_command("registration", "notices", "classic.com", "--as", "support-test",
                 "--suppress", "--reason", "Domain is being moved.", "--dry-run")
    assert not NoticeSuppression.objects.exists() and not StaffAction.objects.exists()
    assert "would suppress its renewal notices" in out_of(capsys)
    with pytest.raises(CommandError, match=r"^--suppress needs --reason"):
        call_command("registration", "notices", "classic.com", "--as", "support-test",
                     "--suppress")
    call_command("registration", "notices", "classic.com", "--as", "support-test",
                 "--suppress", "--reason", "Domain is being moved.")
    suppression = NoticeSuppression.objects.get()
    assert (suppression.reason, suppression.suppressed_by) == ("Domain is being moved.",
                                                              support_user)
    assert StaffAction.objects.get().action == "registration.notices_suppressed"
    call_command("registration", "notices", "classic.com", "--as", "support-test")
    assert "Suppressed since" in out_of(capsys)
    with pytest.raises(CommandError, match=r"refused"):
        call_command("registration", "notices", "classic.com", "--as", "support-test",
                     "--suppress", "--reason", "again")
    call_command("registration", "notices", "classic.com", "--as", "support-test",
                 "--unsuppress")
    suppression.refresh_from_db()
    assert suppression.resumed_by == support_user
    assert list(StaffAction.objects.order_by("pk").values_list("action", flat=True)) == [
        "registration.notices_suppressed", "registration.notices_resumed"]


def test_notices_write_needs_the_suppress_permission(classic, finance_user):
    with pytest.raises(CommandError, match=r"registrar.suppress_notices"):
        call_command("registration", "notices", "classic.com", "--as", "finance-test",
                     "--suppress", "--reason", "x")
    assert not NoticeSuppression.objects.exists() and not StaffAction.objects.exists()
