"""An Entri Sell account's domains in the mirror: read page by page (`GET /domains`,
document 000) by `manage.py sync_registrations --provider LABEL` and by
`registrar.sync.sync_provider`, keyed by name (Entri has no ids), living at the Entri
account whatever their TLD's default registrar; idempotent; an upstream change is one
field and one audit row; a domain gone upstream is flagged, never deleted. Then Support
runs the operations Entri offers on a mirrored domain from the admin.

Only the HTTP boundary is fake: tests.fakes.entri.FakeEntri, serving at most two domains
a page so that the six below take three pages.
"""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse

from backoffice.models import StaffAction
from registrar.models import ProviderAccount, Registration, RegistrationStatus, Tld
from registrar.sync import sync_provider
from tests.factories import ProviderAccountFactory, RegistrationFactory, TldFactory
from tests.fakes.entri import CREATED_AT, PREFIX, FakeEntri, jwt

LABEL = "entri-sell"
APP_ID = "acme-backoffice"
SECRET = "entri-secret-for-the-mirror"
LIST_PATH = f"{PREFIX}/domains"

WEB = {"host": "@", "type": "A", "value": "192.0.2.10", "ttl": 3600}
MAIL = {"host": "@", "type": "MX", "value": "10 mail.bravo.com", "ttl": 3600}
WWW = {"host": "www", "type": "CNAME", "value": "shops.example.net.", "ttl": 300}
SPF = {"host": "@", "type": "TXT", "value": "v=spf1 -all"}

# What Entri holds (FakeEntri.add_domain's keywords), in the order it lists them.
UPSTREAM: dict[str, dict[str, Any]] = {
    "alpha.com": {"dns_records": [WEB]},
    "bravo.com": {"auto_renew": False, "whois_privacy": True, "locked": True,
                  "dns_records": [WEB, MAIL]},
    "charlie.shop": {"status": "payment_initiated"},
    "delta.shop": {"status": "transfer_started", "whois_privacy": True},
    "echo.online": {"locked": True, "dns_records": [WWW, SPF],
                    "updated_at": "2025-10-01T08:00:00.5"},
    "xn--bcher-kva.de": {"auto_renew": False, "status": "payment_failed"},
}
# ... and what the mirror should make of it.
EXPECTED: dict[str, dict[str, Any]] = {
    "alpha.com": {"status": RegistrationStatus.ACTIVE, "auto_renew": True,
                  "privacy_protect": False, "locked": False, "dns_records": [WEB]},
    "bravo.com": {"status": RegistrationStatus.ACTIVE, "auto_renew": False,
                  "privacy_protect": True, "locked": True, "dns_records": [WEB, MAIL]},
    "charlie.shop": {"status": RegistrationStatus.PENDING, "auto_renew": True,
                     "privacy_protect": False, "locked": False, "dns_records": []},
    "delta.shop": {"status": RegistrationStatus.PENDING_TRANSFER, "auto_renew": True,
                   "privacy_protect": True, "locked": False, "dns_records": []},
    "echo.online": {"status": RegistrationStatus.ACTIVE, "auto_renew": True,
                    "privacy_protect": False, "locked": True, "dns_records": [WWW, SPF]},
    "xn--bcher-kva.de": {"status": RegistrationStatus.CANCELLED, "auto_renew": False,
                         "privacy_protect": False, "locked": False, "dns_records": []},
}
MIRRORED = ("status", "auto_renew", "privacy_protect", "locked", "dns_records")
# Everything a sync could write on a row, for "nothing changed" (last_synced_at aside:
# stamping the read is the point of a sync).
SNAPSHOT = (*MIRRORED, "name_unicode", "upstream_id", "tld_id", "provider_account_id",
            "account_id", "upstream_created_at", "upstream_updated_at",
            "missing_upstream_at", "updated_at")


@pytest.fixture
def entri(db, monkeypatch):
    monkeypatch.setenv("PROVIDER_SECRET_ENTRI_SELL", SECRET)
    ProviderAccountFactory(label=LABEL, kind="entri", base_url="https://api.goentri.com",
                           account_ref=APP_ID, secret_env="PROVIDER_SECRET_ENTRI_SELL")
    fake = FakeEntri(application_id=APP_ID, secret=SECRET, page_size_limit=2)
    for name, values in UPSTREAM.items():
        fake.add_domain(name, **values)
    cache.clear()  # Entri's JWT is shared through the cache
    with fake.serving(LABEL):
        yield fake
    cache.clear()


@pytest.fixture
def classic(db) -> Registration:
    """A .com registration at the Domain Registration API: .com's default registrar."""
    return RegistrationFactory(name="classic.com", tld=TldFactory(name="com"))


def account() -> ProviderAccount:
    return ProviderAccount.objects.get(label=LABEL)


def by_command() -> str:
    out = StringIO()
    call_command("sync_registrations", "--provider", LABEL, stdout=out, stderr=StringIO())
    return out.getvalue()


def by_sync_provider() -> str:
    return sync_provider(account()).summary()


RUNS = pytest.mark.parametrize("run", [by_command, by_sync_provider],
                               ids=["sync_registrations", "sync_provider"])


def run_sync() -> str:
    summary = by_sync_provider()
    assert "errors 0" in summary and "ABORTED" not in summary, summary
    return summary


def snapshot() -> dict[str, dict[str, Any]]:
    return {row.name: {name: getattr(row, name) for name in SNAPSHOT}
            for row in Registration.objects.order_by("name")}


def mirrored(name: str) -> dict[str, Any]:
    row = Registration.objects.get(name=name)
    return {field: getattr(row, field) for field in MIRRORED}


def sync_rows(kind: str | None = None):
    rows = StaffAction.objects.filter(action__startswith="registration.sync_")
    return rows.filter(action=f"registration.sync_{kind}") if kind else rows


def assert_listed(request, page: int) -> None:
    """One page of document 000's domain list, asked for with the JWT and applicationId."""
    assert (request.method, request.url.path) == ("GET", LIST_PATH)
    assert dict(request.url.params) == {"page": str(page), "size": "100"}
    assert request.headers["Authorization"] == f"Bearer {jwt(1)}"
    assert request.headers["applicationId"] == APP_ID


# --- the mirror ---------------------------------------------------------------------------


@RUNS
def test_every_page_is_mirrored_once(entri, classic, run):
    summary = run()

    assert "seen 6, created 6, updated 0, unchanged 0, missing 0, errors 0" in summary
    # Three pages of two, each asked for in turn; one JWT for all of them.
    assert [r.url.path for r in entri.token_requests] == ["/token"]
    pages = entri.sent("GET", LIST_PATH)
    for number, request in enumerate(pages):
        assert_listed(request, number)
    assert len(pages) == 3 and len(entri.api_requests) == 3
    entri_rows = Registration.objects.filter(provider_account=account())
    assert {row.name: mirrored(row.name) for row in entri_rows} == EXPECTED
    for row in entri_rows:
        # Keyed by name: Entri has no ids of its own.
        assert row.upstream_id is None
        assert row.served_by == account()
        assert row.last_synced_at is not None and row.missing_upstream_at is None
    assert Registration.objects.get(name="xn--bcher-kva.de").name_unicode == "bücher.de"
    echo = Registration.objects.get(name="echo.online")
    assert echo.upstream_created_at.isoformat() == f"{CREATED_AT}+00:00"
    assert echo.upstream_updated_at.isoformat() == "2025-10-01T08:00:00.500000+00:00"
    # The .com domains live at Entri though .com's default registrar is another; the
    # TLDs seen first here are created pointing at Entri.
    assert Tld.objects.get(name="com").provider_account.label == "sandbox"
    assert {tld.name: tld.provider_account.label
            for tld in Tld.objects.filter(name__in=["shop", "online", "de"])} == {
        "shop": LABEL, "online": LABEL, "de": LABEL}
    created = sync_rows("created")
    assert sorted(created.values_list("target_id", flat=True)) == sorted(
        str(row.pk) for row in entri_rows)
    assert set(created.values_list("actor_label", flat=True)) == {"system:sync"}
    # Nothing else was touched: the Domain API's registration is neither read nor flagged.
    classic.refresh_from_db()
    assert classic.missing_upstream_at is None and classic.provider_account.label == "sandbox"

    before, audits = snapshot(), StaffAction.objects.count()
    again = run()

    assert "seen 6, created 0, updated 0, unchanged 6, missing 0, errors 0" in again
    assert snapshot() == before
    assert StaffAction.objects.count() == audits
    assert len(entri.token_requests) == 1  # the cached JWT served the second run too
    assert len(entri.sent("GET", LIST_PATH)) == 6


@pytest.mark.parametrize(("change", "field", "old", "new"), [
    ({"locked": False}, "locked", True, False),
    ({"whois_privacy": False}, "privacy_protect", True, False),
    ({"auto_renew": True}, "auto_renew", False, True),
    ({"status": "transfer_started"}, "status", "active", "pending_transfer"),
    ({"dns_records": [WEB]}, "dns_records", [WEB, MAIL], [WEB]),
], ids=["locked", "whoisPrivacy", "autoRenewed", "status", "dnsRecords"])
def test_an_upstream_change_is_that_field_and_one_audit_row(entri, change, field, old, new):
    run_sync()
    before, audits = snapshot(), StaffAction.objects.count()
    entri.update_domain("bravo.com", **change)

    summary = run_sync()

    assert "seen 6, created 0, updated 1, unchanged 5, missing 0" in summary
    after = snapshot()
    assert after["bravo.com"][field] == new
    changed = {name for name in SNAPSHOT
               if after["bravo.com"][name] != before["bravo.com"][name]}
    assert changed == {field, "updated_at"}
    assert {name: row for name, row in after.items() if name != "bravo.com"} == {
        name: row for name, row in before.items() if name != "bravo.com"}
    assert StaffAction.objects.count() == audits + 1
    (row,) = sync_rows("updated")
    assert row.target_id == str(Registration.objects.get(name="bravo.com").pk)
    assert row.parameters == {"changes": {field: {"old": old, "new": new}}}


def test_a_domain_gone_upstream_is_flagged_missing_not_deleted(entri, classic):
    run_sync()
    before = snapshot()
    entri.remove_domain("charlie.shop")

    assert "seen 5, created 0, updated 0, unchanged 5, missing 1" in run_sync()

    charlie = Registration.objects.get(name="charlie.shop")
    assert charlie.missing_upstream_at is not None
    assert mirrored("charlie.shop") == EXPECTED["charlie.shop"]
    assert charlie.provider_account == account()
    (row,) = sync_rows("missing")
    assert row.target_id == str(charlie.pk)
    assert row.parameters["changes"] == {"missing_upstream_at": {
        "old": None, "new": charlie.missing_upstream_at.isoformat()}}
    after = snapshot()
    assert {name for name in after if after[name] != before[name]} == {"charlie.shop"}
    classic.refresh_from_db()
    assert classic.missing_upstream_at is None  # not Entri's to flag

    # Listed again: the flag is lifted, with its own audit row.
    entri.add_domain("charlie.shop", **UPSTREAM["charlie.shop"])
    assert "seen 6, created 0, updated 1, unchanged 5, missing 0" in run_sync()
    charlie.refresh_from_db()
    assert charlie.missing_upstream_at is None
    assert sync_rows("updated").get().parameters["changes"]["missing_upstream_at"][
        "new"] is None


# --- Support operates a mirrored domain ---------------------------------------------------


def change_url(registration: Registration) -> str:
    return reverse("admin:registrar_registration_change", args=[registration.pk])


def operation_url(registration: Registration, operation: str) -> str:
    return reverse("admin:registrar_registration_operation",
                   args=[registration.pk, operation])


def operation_rows():
    return StaffAction.objects.exclude(action__startswith="registration.sync_")


def assert_resync_sees_only_the_stamp(entri, name: str) -> None:
    """The mirror already holds what the operation changed: a sync finds only Entri's
    updatedAt, which the change moved."""
    last = StaffAction.objects.order_by("pk").last().pk
    assert "updated 1, unchanged 5" in run_sync()
    (row,) = StaffAction.objects.filter(pk__gt=last)
    assert row.action == "registration.sync_updated"
    assert row.target_id == str(Registration.objects.get(name=name).pk)
    assert set(row.parameters["changes"]) == {"upstream_updated_at"}


def test_support_switches_auto_renew_off_on_a_mirrored_domain(client, support_user, entri):
    run_sync()
    alpha = Registration.objects.get(name="alpha.com")
    client.force_login(support_user)
    page = client.get(change_url(alpha)).content.decode()
    assert 'data-operation="auto_renew"' in page and 'data-operation="lock"' not in page
    assert client.get(operation_url(alpha, "auto_renew")).status_code == 200
    entri.requests.clear()

    response = client.post(operation_url(alpha, "auto_renew"), {"enabled": "0"})

    assert response.status_code == 302 and response["Location"] == change_url(alpha)
    (put,) = entri.api_requests
    assert (put.method, put.url.path) == ("PUT", f"{PREFIX}/domains/alpha.com/auto-renew")
    assert json.loads(put.content) == {"autoRenew": False, "period": 12}
    assert put.headers["Authorization"] == f"Bearer {jwt(1)}"
    assert put.headers["applicationId"] == APP_ID
    assert put.headers["Content-Type"] == "application/json"
    assert entri.domain("alpha.com")["autoRenewed"] is False
    alpha.refresh_from_db()
    assert alpha.auto_renew is False
    (row,) = operation_rows()
    assert (row.action, row.outcome, row.actor) == (
        "registration.auto_renew", StaffAction.Outcome.SUCCEEDED, support_user)
    assert row.target_id == str(alpha.pk)
    assert row.parameters == {"auto_renew": False,
                              "changes": {"auto_renew": {"old": True, "new": False}}}
    assert "Auto-renew is now off for alpha.com." in client.get(
        response["Location"]).content.decode()
    assert_resync_sees_only_the_stamp(entri, "alpha.com")


def test_support_replaces_the_dns_records_of_a_mirrored_domain(client, support_user, entri):
    run_sync()
    alpha = Registration.objects.get(name="alpha.com")
    client.force_login(support_user)
    # The form shows the zone Entri serves now.
    form = client.get(operation_url(alpha, "dns_records"))
    assert form.status_code == 200 and "@ A 192.0.2.10 3600" in form.content.decode()
    entri.requests.clear()

    response = client.post(operation_url(alpha, "dns_records"), {
        "records": "@ A 192.0.2.20 3600\nwww CNAME Shops.Example.NET. 300\n"
                   "@ MX 10 mail.alpha.com 3600"}, follow=True)

    assert "The DNS records of alpha.com were replaced (3 record(s))." in (
        response.content.decode())
    zone = [{"host": "@", "type": "A", "value": "192.0.2.20", "ttl": 3600},
            {"host": "www", "type": "CNAME", "value": "shops.example.net.", "ttl": 300},
            {"host": "@", "type": "MX", "value": "10 mail.alpha.com", "ttl": 3600}]
    (put,) = entri.sent("PUT")
    assert put.url.path == f"{PREFIX}/domains/alpha.com/dns-records"
    assert json.loads(put.content) == {"dns_records": zone}
    assert put.headers["Authorization"] == f"Bearer {jwt(1)}"
    assert put.headers["applicationId"] == APP_ID
    assert entri.domain("alpha.com")["dnsRecords"] == zone
    alpha.refresh_from_db()
    assert alpha.dns_records == zone
    (row,) = operation_rows()
    assert (row.action, row.outcome, row.actor) == (
        "registration.dns_records", StaffAction.Outcome.SUCCEEDED, support_user)
    assert row.parameters["changes"] == {"dns_records": {"old": [WEB], "new": zone}}
    assert_resync_sees_only_the_stamp(entri, "alpha.com")
