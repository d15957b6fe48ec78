"""Reconciling a provider account into the mirror: honest, idempotent, never deleting."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command

from backoffice.models import StaffAction
from registrar.models import Host, Registration, Tld
from registrar.sandbox import get_app
from registrar.sync import sync_provider
from tests.factories import ProviderAccountFactory


def upstream(count: int, *, prefix: str = "sync") -> dict:
    """A sandbox seed with `count` registrations the mirror has never seen."""
    contacts = [{"id": 9000 + n, "handle": f"SYNC-{n}", "first_name": "Sam", "last_name":
                 f"Owner{n}", "country": "NL", "email": f"sam{n}@example.com",
                 "phone": "+31.201234567", "tld": "com"} for n in range(5)]
    registrations = [{
        "id": f"{prefix}-{n:05d}", "name": f"{prefix}{n:05d}.com", "tld": "com",
        "expires_at": "2027-06-01T00:00:00Z", "owner_contact_id": 9000 + n % 5,
        "tech_contact_id": 9000, "hosts": [{"host_name": f"ns1.{prefix}{n:05d}.com",
                                            "addresses": [{"address": "192.0.2.1"}]}]
        if n % 10 == 0 else [],
    } for n in range(count)]
    return {"tlds": [{"id": 1, "name": "com", "registrar": "RTR"}], "contacts": contacts,
            "registrations": registrations}


@pytest.fixture
def account(sandbox):
    account = ProviderAccountFactory(label="sandbox")
    return account


def counts() -> dict[str, int]:
    return {m._meta.label: m.objects.count() for m in apps.get_models()
            if m._meta.app_label in {"registrar", "contacts", "billing", "backoffice"}}


def edit_upstream(guid: str, **fields) -> None:
    with get_app().state.transaction() as data:
        data["registrations"][guid].update(fields)


def test_first_sync_mirrors_everything_and_a_second_changes_nothing(account):
    get_app().state.seed(upstream(1000))
    report = sync_provider(account, concurrency=8)
    assert (report.seen, report.created, report.updated, report.errors) == (1000, 1000, 0, 0)
    assert Registration.objects.count() == 1000
    assert Host.objects.count() == 100
    first = Registration.objects.get(name="sync00000.com")
    assert first.owner_contact.handle == "SYNC-0" and first.tech_contact.handle == "SYNC-0"
    assert first.tld == Tld.objects.get(name="com") and first.last_synced_at
    assert StaffAction.objects.filter(action="registration.sync_created").count() == 1000

    audits = StaffAction.objects.count()
    again = sync_provider(account, concurrency=8)
    assert (again.seen, again.created, again.updated, again.unchanged) == (1000, 0, 0, 1000)
    assert StaffAction.objects.count() == audits  # no audit rows for unchanged ones


def test_one_field_changed_upstream_is_updated_and_audited_old_to_new(account):
    get_app().state.seed(upstream(30))
    sync_provider(account)
    edit_upstream("sync-00007", expires_at="2028-06-01T00:00:00Z")
    before = StaffAction.objects.count()
    report = sync_provider(account)
    assert (report.updated, report.unchanged) == (1, 29)
    registration = Registration.objects.get(name="sync00007.com")
    assert registration.expires_at.year == 2028
    row = StaffAction.objects.exclude(pk__in=StaffAction.objects.order_by("pk")
                                      .values("pk")[:before]).get()
    assert row.action == "registration.sync_updated" and row.actor is None
    assert set(row.parameters["changes"]) == {"expires_at"}
    change = row.parameters["changes"]["expires_at"]
    assert change["old"].startswith("2027-06-01") and change["new"].startswith("2028-06-01")


def test_glue_host_changes_are_reconciled(account):
    get_app().state.seed(upstream(10))
    sync_provider(account)
    edit_upstream("sync-00000", hosts=[{"host_name": "ns1.sync00000.com", "addresses": [
        {"address": "192.0.2.9", "version": 4}, {"address": "2001:db8::9", "version": 6}]}])
    report = sync_provider(account)
    assert report.updated == 1
    addresses = set(Host.objects.get(host_name="ns1.sync00000.com").addresses
                    .values_list("address", "version"))
    assert addresses == {("192.0.2.9", 4), ("2001:db8::9", 6)}


def test_a_registration_removed_upstream_is_flagged_not_deleted(account):
    get_app().state.seed(upstream(10))
    sync_provider(account)
    with get_app().state.transaction() as data:
        del data["registrations"]["sync-00003"]
    report = sync_provider(account)
    assert report.missing == 1
    gone = Registration.objects.get(name="sync00003.com")
    assert gone.missing_upstream_at is not None
    assert StaffAction.objects.filter(action="registration.sync_missing",
                                      target_id=str(gone.pk)).exists()
    # Once back upstream, the flag clears.
    get_app().state.seed({"registrations": [upstream(10)["registrations"][3]]})
    report = sync_provider(account)
    gone.refresh_from_db()
    assert gone.missing_upstream_at is None and report.updated == 1


def test_dry_run_writes_nothing_at_all(account):
    get_app().state.seed(upstream(50))
    sync_provider(account)
    edit_upstream("sync-00001", auto_renew=False)
    with get_app().state.transaction() as data:
        del data["registrations"]["sync-00002"]
    get_app().state.seed(upstream(60))  # ten new ones too (and 00002 back: remove again)
    with get_app().state.transaction() as data:
        del data["registrations"]["sync-00002"]
    before = counts()
    seen = []
    report = sync_provider(account, dry_run=True,
                           on_diff=lambda name, changes, kind: seen.append((name, kind)))
    assert counts() == before
    assert report.dry_run and (report.created, report.missing) == (10, 1)
    assert ("sync00002.com", "missing") in seen and ("sync00055.com", "created") in seen
    assert Registration.objects.get(name="sync00002.com").missing_upstream_at is None


def test_the_safety_brake_aborts_before_writing(account, settings):
    settings.SYNC_MAX_CHANGE_SHARE = 0.25
    get_app().state.seed(upstream(20))
    sync_provider(account)
    with get_app().state.transaction() as data:
        for guid in list(data["registrations"])[:10]:  # half the account vanishes
            del data["registrations"][guid]
    before = counts()
    report = sync_provider(account)
    assert report.aborted and "50%" in report.aborted and "--force" in report.aborted
    assert counts() == before
    assert not Registration.objects.filter(missing_upstream_at__isnull=False).exists()
    forced = sync_provider(account, force=True)
    assert forced.missing == 10 and not forced.aborted


def test_only_limits_the_sync_to_the_named_registrations(account):
    get_app().state.seed(upstream(20))
    report = sync_provider(account, only=["sync00004.com", "SYNC00005.com"])
    assert report.seen == 2
    assert set(Registration.objects.values_list("name", flat=True)) == {"sync00004.com",
                                                                          "sync00005.com"}


def test_a_failed_detail_read_is_counted_and_nothing_is_flagged(account, sandbox):
    get_app().state.seed(upstream(10))
    sync_provider(account)
    sandbox.fault("/sync-00004/hosts$", status=422, code="invalid_params", times=1)
    report = sync_provider(account)
    assert report.errors == 1 and "sync00004.com" in report.error_names[0]
    assert report.missing == 0


# --- the command -------------------------------------------------------------------------


def test_sync_registrations_command_prints_a_summary(account, capsys):
    get_app().state.seed(upstream(25))
    call_command("sync_registrations", "--provider", "sandbox", "--concurrency", "4")
    out = capsys.readouterr().out
    assert "seen 25, created 25, updated 0, unchanged 0, missing 0, errors 0" in out
    assert "/s)" in out


def test_sync_registrations_dry_run_prints_the_diff(account, capsys):
    get_app().state.seed(upstream(5))
    call_command("sync_registrations", "--dry-run")
    out = capsys.readouterr().out
    assert "+ sync00000.com" in out and "Dry run: nothing was written" in out
    assert not Registration.objects.exists()


def test_sync_registrations_brake_exits_non_zero(account, settings):
    get_app().state.seed(upstream(8))
    sync_provider(account)
    get_app().state.reset(upstream(0))
    with pytest.raises(CommandError, match=r"aborted, nothing written.*would change"):
        call_command("sync_registrations", "--provider", "sandbox")


def test_unknown_provider_is_a_clear_error(account):
    with pytest.raises(CommandError, match="No enabled provider account"):
        call_command("sync_registrations", "--provider", "nope")


def test_sync_registrations_covers_every_upstream_that_lists_its_domains(db, monkeypatch):
    """Saleshandy's domain listing is mirrored like any registrar's: keyed by name, at
    its own account, and an email-only upstream does not become the TLD's registrar."""
    from tests.fakes.saleshandy import API_KEY, FakeSaleshandy

    monkeypatch.setenv("PROVIDER_SECRET_SALESHANDY_SYNC", API_KEY)
    account = ProviderAccountFactory(label="sh-sync", kind="saleshandy",
                                     base_url="https://open-api.saleshandy.com",
                                     secret_env="PROVIDER_SECRET_SALESHANDY_SYNC")
    fake = FakeSaleshandy()
    fake.add_domain("outreach-one.com", "active")
    fake.add_domain("outreach-two.com", "inProgress")
    with fake.serving("sh-sync"):
        call_command("sync_registrations", "--provider", "sh-sync", verbosity=0)
        rows = StaffAction.objects.count()
        call_command("sync_registrations", "--provider", "sh-sync", verbosity=0)
    mirrored = {r.name: r.status for r in Registration.objects.filter(provider_account=account)}
    assert mirrored == {"outreach-one.com": "active", "outreach-two.com": "pending"}
    assert Registration.objects.get(name="outreach-one.com").tld.provider_account is None
    assert StaffAction.objects.count() == rows  # the second run wrote nothing
