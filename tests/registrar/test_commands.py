"""The management commands `configure_provider`, `registration` and `expiring`, run with
`call_command` against the sandbox: the output, the exit status (CommandError), the
requests that left, and the rows left behind."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.forms.models import model_to_dict
from django.test import override_settings
from django.utils import timezone

from backoffice.models import StaffAction
from registrar.models import ProviderAccount, Registration, RegistrationStatus, Tld
from tests.factories import (
    AccountFactory,
    ContactFactory,
    ProviderAccountFactory,
    RegistrationFactory,
    TldFactory,
    UserFactory,
)

KEY = ("257 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+"
       "KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==")


def run(*args: str) -> None:
    call_command(*args)


def body_of(request) -> dict:
    return json.loads(request.content) if request.content else {}


# --- configure_provider -----------------------------------------------------------------


def accounts_and_tlds() -> tuple[list[dict], list[dict]]:
    """Every provider account and TLD as plain data, to prove nothing changed."""
    return ([model_to_dict(a) | {"updated_at": a.updated_at}
             for a in ProviderAccount.objects.order_by("pk")],
            [model_to_dict(t) for t in Tld.objects.order_by("pk")])


CREATE = ("configure_provider", "main-api", "--kind", "domain_api", "--base-url",
          "https://api.registrar.example/v2", "--account", "acct-9", "--secret-env",
          "PROVIDER_SECRET_MAIN_API", "--timeout", "20", "--tld", ".DE", "com")


def test_configure_provider_creates_the_account_and_points_tlds(db, capsys, monkeypatch):
    monkeypatch.setenv("PROVIDER_SECRET_MAIN_API", "s3cret-value-never-printed")
    TldFactory(name="com", provider_account=None)
    run(*CREATE)
    account = ProviderAccount.objects.get(label="main-api")
    assert (account.kind, account.base_url, account.account_ref, account.secret_env,
            account.timeout_seconds, account.enabled) == (
        "domain_api", "https://api.registrar.example/v2", "acct-9", "PROVIDER_SECRET_MAIN_API",
        20.0, True)
    assert Tld.objects.get(name="de").provider_account == account
    assert Tld.objects.get(name="com").provider_account == account
    out, err = capsys.readouterr()
    assert "create TLD .de" in out and "point TLD .com at main-api (was: no registrar)" in out
    assert out.strip().splitlines()[-1] == (
        "Provider account main-api created; TLDs: 1 new, 1 re-pointed.")
    assert "s3cret-value-never-printed" not in out + err
    assert err == ""


def test_configure_provider_updates_only_what_differs(db, capsys, monkeypatch):
    monkeypatch.setenv("PROVIDER_SECRET_MAIN_API", "x")
    other = ProviderAccountFactory(label="old-api", kind="domain_api")
    TldFactory(name="net", provider_account=other)
    run(*CREATE)
    capsys.readouterr()
    run("configure_provider", "main-api", "--kind", "domain_api", "--base-url",
        "https://api2.registrar.example/v2", "--tld", "net", "--disable")
    account = ProviderAccount.objects.get(label="main-api")
    # Options left out keep their values.
    assert (account.base_url, account.enabled, account.account_ref, account.timeout_seconds) \
        == ("https://api2.registrar.example/v2", False, "acct-9", 20.0)
    assert Tld.objects.get(name="net").provider_account == account
    assert Tld.objects.get(name="de").provider_account == account  # not named: left alone
    out = capsys.readouterr().out
    assert ("change base_url: https://api.registrar.example/v2 → "
            "https://api2.registrar.example/v2") in out
    assert "change enabled: True → False" in out
    assert "point TLD .net at main-api (was: old-api)" in out
    assert out.strip().splitlines()[-1] == (
        "Provider account main-api updated (base_url, enabled); TLDs: 1 re-pointed.")


def test_configure_provider_is_idempotent(db, capsys, monkeypatch):
    monkeypatch.setenv("PROVIDER_SECRET_MAIN_API", "x")
    run(*CREATE)
    before = accounts_and_tlds()
    capsys.readouterr()
    run(*CREATE)
    assert accounts_and_tlds() == before
    out = capsys.readouterr().out
    assert out.strip() == "Provider account main-api unchanged; TLDs: 2 already pointing."


def test_configure_provider_dry_run_writes_nothing(db, capsys, monkeypatch):
    monkeypatch.setenv("PROVIDER_SECRET_MAIN_API", "x")
    before = accounts_and_tlds()
    run(*CREATE, "--dry-run")
    assert accounts_and_tlds() == before
    out = capsys.readouterr().out
    assert "would create account main-api" in out and "would create TLD .de" in out
    assert out.strip().splitlines()[-1] == (
        "Dry run: provider account main-api would be created; TLDs: 2 new. "
        "Nothing was written.")


def test_configure_provider_warns_when_the_secret_variable_is_not_set(db, capsys,
                                                                      monkeypatch):
    monkeypatch.delenv("PROVIDER_SECRET_MAIN_API", raising=False)
    run(*CREATE)
    err = capsys.readouterr().err
    assert "PROVIDER_SECRET_MAIN_API is not set" in err
    assert ProviderAccount.objects.filter(label="main-api").exists()


def test_configure_provider_warns_about_what_calls_will_miss(db, capsys):
    run("configure_provider", "bare", "--kind", "domain_api", "--base-url",
        "https://api.registrar.example")
    err = capsys.readouterr().err
    assert "no secret variable is named" in err and "no --account" in err
    run("configure_provider", "later", "--kind", "entri", "--base-url",
        "https://api.entri.example", "--account", "app-1", "--secret-env", "PROVIDER_SECRET_ENTRI")
    # Every kind has an adapter now, so nothing warns about a missing one.
    assert "no adapter serves" not in capsys.readouterr().err


def _with(option: str, value: str) -> tuple[str, ...]:
    args = list(CREATE)
    args[args.index(option) + 1] = value
    return tuple(args)


@pytest.mark.parametrize(("args", "message"), [
    (_with("--kind", "epp"), "Unknown provider kind “epp”"),
    (_with("--base-url", "ftp://api.registrar.example"), "Enter an https URL"),
    (_with("--base-url", "not a url"), "Enter an https URL"),
    (_with("--base-url", "http://api.registrar.example"), "must use https"),
    (_with("--base-url", "https://127.0.0.1:8443"), "may not point at this machine"),
    (_with("--base-url", "https://localhost/v2"), "may not point at this machine"),
    (_with("--base-url", "https://10.0.0.5/v2"), "private, link-local or reserved"),
    (_with("--base-url", "https://169.254.169.254/latest"), "private, link-local or reserved"),
    (_with("--base-url", "https://[::1]/v2"), "may not point at this machine"),
    (_with("--base-url", "https://0.0.0.0/v2"), "may not point at this machine|reserved"),
    (_with("--base-url", "https://user:pw@api.registrar.example"), "user name or password"),
    (_with("--secret-env", "sk_live_abcdef"), "name of an environment variable"),
    (_with("--secret-env", "SECRET_KEY"), "start with PROVIDER_SECRET_"),
    (_with("--secret-env", "DATABASE_URL"), "start with PROVIDER_SECRET_"),
    (_with("--secret-env", "PROVIDER_SECRET_"), "start with PROVIDER_SECRET_"),
    (_with("--timeout", "0.5"), "between 1 and 60 seconds"),
    (_with("--timeout", "61"), "between 1 and 60 seconds"),
    (_with("--timeout", "nan"), "between 1 and 60 seconds"),
    (("configure_provider", "Main API!", *CREATE[2:]), "Invalid provider account"),
    (_with("--tld", "co.uk"), "not a TLD"),
    (_with("--tld", "b_d"), "Invalid --tld"),
])
def test_configure_provider_refuses_bad_input_and_changes_nothing(db, monkeypatch, capsys,
                                                                  args, message):
    monkeypatch.setenv("PROVIDER_SECRET_MAIN_API", "x")
    run(*CREATE)  # an account the bad run must leave as it is
    before = accounts_and_tlds()
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert accounts_and_tlds() == before
    out, err = capsys.readouterr()
    assert "sk_live_abcdef" not in out + err  # a secret typed by mistake is not echoed


def test_configure_provider_refuses_the_sandbox_where_it_is_disabled(db):
    with override_settings(SANDBOX_ENABLED=False), pytest.raises(
            CommandError, match="SANDBOX_ENABLED is off"):
        run("configure_provider", "dev", "--kind", "sandbox", "--base-url",
            "https://sandbox.invalid", "--tld", "com")
    assert not ProviderAccount.objects.filter(label="dev").exists()
    assert not Tld.objects.filter(name="com").exists()


# --- registration -----------------------------------------------------------------------


@pytest.fixture
def world(sandbox):
    """TLDs that allow everything (.com, .de), one that bills privacy (.net), one without a
    transfer lock (.org), a registration on each, known to the sandbox."""
    open_tld = TldFactory(name="com")
    metered = TldFactory(name="net", privacy_fee_amount=499, privacy_fee_currency="USD")
    no_lock = TldFactory(name="org", supports_transfer_lock=False)
    de = TldFactory(name="de")
    registration = RegistrationFactory(name="example.com", tld=open_tld)
    account = registration.account
    world = type("World", (), {
        "sandbox": sandbox,
        "registration": registration,
        "metered": RegistrationFactory(name="example.net", tld=metered, account=account),
        "no_lock": RegistrationFactory(name="example.org", tld=no_lock, account=account),
        "unicode": RegistrationFactory(name="bücher.de", tld=de, account=account),
    })
    sandbox.seed()
    sandbox.transport.requests.clear()
    return world


def result_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if not line.startswith("Summary (")]


def summary_of(out: str) -> str:
    (line,) = [line for line in out.splitlines() if line.startswith("Summary (")]
    return line


def test_lock_as_a_support_user_locks_it_at_the_sandbox(world, support_user, capsys):
    run("registration", "lock", "example.com", "--as", "support-test")
    (request,) = world.sandbox.transport.sent("PATCH", "/lock")
    assert body_of(request) == {"locked": True}
    assert world.registration.upstream_id in request.url.path
    world.registration.refresh_from_db()
    assert world.registration.locked is True
    row = StaffAction.objects.get()
    assert row.actor == support_user and row.action == "registration.lock"
    out = capsys.readouterr().out
    assert result_lines(out) == ["example.com: succeeded – The transfer lock is now on for "
                                 "example.com."]
    assert summary_of(out) == "Summary (lock): 1 name(s): 1 succeeded."


def test_a_user_without_the_permission_is_not_allowed_and_nothing_is_sent(
        world, finance_user, capsys):
    with pytest.raises(CommandError, match="finance-test is not allowed to run lock"):
        run("registration", "lock", "example.com", "--as", "finance-test")
    assert world.sandbox.transport.requests == []
    assert not StaffAction.objects.exists()
    world.registration.refresh_from_db()
    assert world.registration.locked is False


@pytest.mark.parametrize(("make_user", "message"), [
    (lambda: None, "no user “ghost”"),
    (lambda: UserFactory(username="ghost", is_active=False), "inactive"),
])
def test_an_unknown_or_inactive_actor_is_refused(world, make_user, message):
    make_user()
    with pytest.raises(CommandError, match=message):
        run("registration", "lock", "example.com", "--as", "ghost")
    assert world.sandbox.transport.requests == []


def test_bulk_file_reports_every_name_and_exits_non_zero(world, support_user, tmp_path,
                                                         capsys):
    names = tmp_path / "names.txt"
    names.write_text("# customers moving away\n\nexample.com\n  nope.example.com  # typo?\n"
                     "example.org\nnot a name\nEXAMPLE.COM\n", encoding="utf-8")
    with pytest.raises(CommandError, match="3 of 4 name"):
        run("registration", "lock", "--file", str(names), "--as", "support-test")
    out = capsys.readouterr().out
    lines = result_lines(out)
    assert lines[0].startswith("example.com: succeeded – ")
    assert lines[1] == "nope.example.com: refused – no such registration in the back-office."
    assert lines[2] == "example.org: refused – This TLD does not support a transfer lock."
    assert lines[3].startswith("not a name: refused – ")
    assert len(lines) == 4  # EXAMPLE.COM is example.com again: run once
    assert summary_of(out) == "Summary (lock): 4 name(s): 1 succeeded, 3 refused."
    assert len(world.sandbox.transport.mutations) == 1
    assert StaffAction.objects.count() == 1


def test_dry_run_sends_nothing_and_names_the_refusals(world, support_user, capsys):
    with pytest.raises(CommandError, match="1 of 2 name"):
        run("registration", "lock", "example.com", "example.org", "--as", "support-test",
            "--dry-run")
    assert world.sandbox.transport.requests == []
    assert not StaffAction.objects.exists()
    out = capsys.readouterr().out
    assert "example.com: ready – would run lock" in out
    assert "example.org: refused – This TLD does not support a transfer lock." in out
    assert out.strip().splitlines()[-1] == (
        "Dry run (lock): 2 name(s): 1 ready, 1 refused. Nothing was sent.")


def test_privacy_on_a_metered_tld_prints_the_price_and_the_portal(world, support_user,
                                                                  capsys):
    run("registration", "privacy", "on", "example.net", "--as", "support-test")
    out = capsys.readouterr().out
    (line,) = result_lines(out)
    assert line.startswith("example.net: payment_required – ")
    assert "Price: 4.99 USD" in line
    assert "billing portal: http" in line
    assert summary_of(out) == "Summary (privacy on): 1 name(s): 1 payment_required."
    world.metered.refresh_from_db()
    assert world.metered.privacy_protect is False


def test_auth_code_is_printed_and_not_recorded(world, support_user, capsys):
    run("registration", "auth-code", "example.com", "--as", "support-test")
    out, err = capsys.readouterr()
    (line,) = result_lines(out)
    prefix = "example.com: succeeded – auth code: "
    assert line.startswith(prefix)
    code = line[len(prefix):]
    assert code and code in json.dumps(world.sandbox.state())
    row = StaffAction.objects.get()
    assert row.actor == support_user and row.action == "registration.auth_code"
    assert code not in json.dumps(row.parameters) and code not in row.message
    assert code not in err


@pytest.mark.parametrize("typed", ["bücher.de", "BÜCHER.de", "xn--bcher-kva.de"])
def test_a_unicode_name_resolves(world, support_user, capsys, typed):
    run("registration", "lock", typed, "--as", "support-test")
    world.unicode.refresh_from_db()
    assert world.unicode.locked is True
    assert len(world.sandbox.transport.sent("PATCH", f"{world.unicode.upstream_id}/lock")) == 1
    assert result_lines(capsys.readouterr().out)[0].startswith("bücher.de: succeeded – ")


def test_a_202_is_reported_pending(world, support_user, capsys):
    world.sandbox.next_async(world.registration.upstream_id)
    run("registration", "unlock", "example.com", "--as", "support-test")
    out = capsys.readouterr().out
    assert result_lines(out)[0].startswith("example.com: pending – ")
    assert summary_of(out) == "Summary (unlock): 1 name(s): 1 pending."


def test_an_upstream_failure_is_failed_with_its_code(world, support_user, capsys):
    world.sandbox.fault(f"/api/domain_registrations/{world.registration.upstream_id}/lock",
                        status=409, code="registration_busy")
    with pytest.raises(CommandError, match="1 of 1 name"):
        run("registration", "lock", "example.com", "--as", "support-test")
    (line,) = result_lines(capsys.readouterr().out)
    assert line.startswith("example.com: failed – ")
    assert "(registrar code: registration_busy)" in line
    assert StaffAction.objects.get().outcome == "failed"


def test_nameservers_are_sent_in_the_order_given(world, support_user):
    run("registration", "nameservers", "example.com", "--ns", "ns2.host.example", "--ns",
        "ns1.host.example", "--as", "support-test")
    (request,) = world.sandbox.transport.sent("PATCH", "/nameservers")
    assert body_of(request)["nameservers"] == ["ns2.host.example", "ns1.host.example"]
    world.registration.refresh_from_db()
    assert world.registration.nameservers == ["ns2.host.example", "ns1.host.example"]


def test_dnssec_add_keys_uses_the_services_key_rules(world, support_user):
    run("registration", "dnssec", "enable", "example.com", "--key", KEY, "--as",
        "support-test")
    world.registration.refresh_from_db()
    assert world.registration.dnssec_enabled
    assert world.registration.dnssec_keys.get().algorithm == 13
    with pytest.raises(CommandError, match=r"--key 1: .*deprecated"):
        run("registration", "dnssec", "add-keys", "example.com", "--key",
            KEY.replace(" 13 ", " 5 "), "--as", "support-test")
    assert len(world.sandbox.transport.mutations) == 1


def test_holder_change_refuses_another_customers_contact(world, support_user, capsys):
    stranger = ContactFactory(account=AccountFactory())
    with pytest.raises(CommandError):
        run("registration", "holder", "example.com", "--mode", "change", "--source-contact",
            str(stranger.pk), "--as", "support-test")
    assert "belongs to another customer account" in capsys.readouterr().out
    assert world.sandbox.transport.requests == []


def test_role_contacts_from_the_command_line(world, support_user):
    run("registration", "contacts", "example.com", "--tech", "same_as_owner", "--as",
        "support-test")
    (request,) = world.sandbox.transport.sent("PATCH", "/contacts")
    assert "tech" in json.dumps(body_of(request))


@pytest.mark.parametrize(("args", "message"), [
    (("dnssec", "enable", "example.com"), "needs at least one --key"),
    (("nameservers", "example.com", "--ns", "ns1.host.example"), "between 2 and 13"),
    (("holder", "example.com", "--mode", "edit_current"), "at least one --field"),
    (("holder", "example.com", "--mode", "edit_current", "--field", "shoe_size=9"),
     "expected NAME=VALUE"),
    (("contacts", "example.com"), "at least one of --admin"),
    (("contacts", "example.com", "--admin", "someone"), "expected same_as_owner"),
    (("push-transfer", "example.com", "--recipient", "not a handle"), "handle"),
    (("lock",), "at least one NAME"),
    (("lock", "--file", "/nonexistent/names.txt"), "--file"),
])
def test_bad_operation_input_is_refused_before_any_name(world, support_user, args, message):
    with pytest.raises(CommandError, match=message):
        run("registration", *args, "--as", "support-test")
    assert world.sandbox.transport.requests == []
    assert not StaffAction.objects.exists()


# --- expiring ---------------------------------------------------------------------------


@pytest.fixture
def expiries(db):
    """Registrations expiring in 40 days, 10 days and 12 hours, one expired, one transferred away,
    and one under .de in 5 days."""
    now = timezone.now()
    com = TldFactory(name="com")
    de = TldFactory(name="de")
    account = AccountFactory(email="owner@customer.example")

    def make(name: str, days: float, tld=com, **fields) -> Registration:
        return RegistrationFactory(name=name, tld=tld, account=account,
                                   expires_at=now + timedelta(days=days), **fields)

    return {
        "later": make("later.com", 40),
        "ten": make("ten.com", 10, auto_renew=False),
        "soon": make("soon.com", 0.5, locked=True),
        "expired": make("expired.com", -1),
        "gone": make("gone.com", 3, status=RegistrationStatus.TRANSFERRED_OUT),
        "de": make("bücher.de", 5, tld=de),
    }


def test_expiring_table_lists_the_window_soonest_first(expiries, capsys):
    run("expiring", "--days", "30")
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["Name", "TLD", "Account", "e-mail", "Expires", "(UTC)",
                                "Auto-renew", "Locked"]
    assert [line.split()[0] for line in lines[2:-1]] == ["soon.com", "bücher.de", "ten.com"]
    soon = lines[2].split()
    assert soon[1:3] == ["com", "owner@customer.example"] and soon[-2:] == ["yes", "yes"]
    assert lines[4].split()[-2:] == ["no", "no"]
    # Aligned: every column starts at the same offset on each row.
    offset = lines[0].index("TLD")
    assert all(line[offset - 2:offset] == "  " for line in lines[2:-1])
    assert lines[-1].startswith("3 registration(s) expire within 30 day(s)")


def test_expiring_csv_parses_with_the_csv_module(expiries, capsys):
    run("expiring", "--days", "30", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [row["name"] for row in rows] == ["soon.com", "bücher.de", "ten.com"]
    soon = rows[0]
    assert soon == {
        "name": "soon.com", "tld": "com", "account_email": "owner@customer.example",
        "expires_at": expiries["soon"].expires_at.astimezone(UTC).isoformat().replace(
            "+00:00", "Z"),
        "auto_renew": "yes", "locked": "yes"}
    assert rows[1]["tld"] == "de" and rows[2]["auto_renew"] == "no"


def test_expiring_filters_by_tld(expiries, capsys):
    run("expiring", "--days", "365", "--format", "csv", "--tld", ".DE")
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [row["name"] for row in rows] == ["bücher.de"]


def test_expiring_with_nothing_due_prints_the_count_only(expiries, capsys):
    TldFactory(name="net")
    run("expiring", "--days", "1", "--tld", "net")
    assert capsys.readouterr().out.startswith("0 registration(s) expire within 1 day(s)")


@pytest.mark.parametrize("days", ["1", "3650"])
def test_expiring_accepts_the_bounds(expiries, capsys, days):
    run("expiring", "--days", days, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [row["name"] for row in rows] == (
        ["soon.com", "bücher.de", "ten.com", "later.com"] if days == "3650" else ["soon.com"])


@pytest.mark.parametrize(("args", "message"), [
    (("--days", "0"), "from 1 to 3650"),
    (("--days", "3651"), "from 1 to 3650"),
    (("--days", "-5"), "from 1 to 3650"),
    (("--days", "ten"), "invalid int value"),
    (("--days", "30", "--tld", "nowhere"), "no TLD .nowhere"),
    (("--days", "30", "--format", "xml"), "invalid choice"),
])
def test_expiring_refuses_bad_input(expiries, args, message):
    with pytest.raises(CommandError, match=message):
        run("expiring", *args)
