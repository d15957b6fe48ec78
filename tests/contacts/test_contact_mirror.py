"""Mirroring the registrar's contact list (GET /api/domain_contacts, paged): the service
against the sandbox and an httpx.MockTransport, the `contact sync` command and the
admin page: the requests that left, the rows and the one audit row per run."""

from __future__ import annotations

from io import StringIO
from urllib.parse import parse_qs

import httpx
import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.forms.models import model_to_dict
from django.urls import reverse

from backoffice.models import StaffAction
from backoffice.roles import ADMIN, FINANCE, SUPPORT
from contacts import services
from contacts.models import Contact
from registrar.models import ProviderAccount
from registrar.operations import OperationUnsupported
from registrar.providers.http import RetryPolicy
from registrar.providers.registry import override_transport
from tests.factories import (
    ContactFactory,
    ProviderAccountFactory,
    RegistrationFactory,
    TldFactory,
    UserFactory,
)


@pytest.fixture(autouse=True)
def no_retry_waits(monkeypatch):
    monkeypatch.setattr(RetryPolicy, "delay", lambda self, attempt: 0.0)


@pytest.fixture
def agent(db):
    return UserFactory(username="agent", groups=[SUPPORT])


@pytest.fixture
def world(sandbox, agent):
    """At the registrar: one contact backing engines.com, and three contacts no
    registration uses, which the mirror does not have (yet)."""
    com = TldFactory(name="com")
    owner = ContactFactory(handle="OWNER-1", tld=com)
    RegistrationFactory(name="engines.com", tld=com, owner_contact=owner,
                        account=owner.account)
    loose = [ContactFactory(handle=f"LOOSE-{n}", tld=com, city="Utrecht") for n in (1, 2, 3)]
    sandbox.seed()
    upstream_ids = sorted(contact.upstream_id for contact in loose)
    Contact.objects.filter(pk__in=[contact.pk for contact in loose]).delete()
    sandbox.transport.requests.clear()
    account = ProviderAccount.objects.get(label="sandbox")
    return type("World", (), {"sandbox": sandbox, "account": account, "owner": owner,
                              "upstream_ids": upstream_ids})


def contact_rows() -> list[dict]:
    return [model_to_dict(contact) | {"updated_at": contact.updated_at}
            for contact in Contact.objects.order_by("pk")]


def pages(world) -> list[dict[str, list[str]]]:
    requests = world.sandbox.transport.requests
    assert all((r.method, r.url.path) == ("GET", "/api/domain_contacts") for r in requests)
    return [parse_qs(r.url.query.decode()) for r in requests]


def test_pages_through_the_list_and_creates_the_contacts_no_registration_backs(world, agent):
    report = services.contact_mirror(account=world.account, actor=agent, page_size=2)
    assert pages(world) == [{"page": ["1"], "per_page": ["2"]},
                            {"page": ["2"], "per_page": ["2"]}]
    assert (report.seen, report.created, report.updated, report.unchanged,
            report.backing, report.errors) == (4, 3, 0, 0, 1, 0)
    created = Contact.objects.filter(upstream_id__in=world.upstream_ids).order_by("upstream_id")
    assert [c.handle for c in created] == ["LOOSE-1", "LOOSE-2", "LOOSE-3"]
    assert {c.city for c in created} == {"Utrecht"}
    row = StaffAction.objects.get()
    assert (row.action, row.actor, row.outcome, row.target_id) == (
        "contact.mirror", agent, "succeeded", str(world.account.pk))
    assert row.parameters["counts"] == {"seen": 4, "created": 3, "updated": 0, "unchanged": 0,
                                        "backing_registrations": 1, "unsettled": 0,
                                        "errors": 0}
    assert report.summary() == row.message


def test_a_second_run_changes_nothing(world, agent):
    services.contact_mirror(account=world.account, actor=agent)
    before = contact_rows()
    report = services.contact_mirror(account=world.account, actor=agent)
    assert (report.created, report.updated, report.unchanged, report.backing) == (0, 0, 3, 1)
    assert contact_rows() == before
    assert StaffAction.objects.count() == 2  # one row per run


def test_a_contact_that_drifted_here_is_updated_and_one_backing_a_registration_left(
        world, agent):
    services.contact_mirror(account=world.account, actor=agent)
    drifted = Contact.objects.get(upstream_id=world.upstream_ids[0])
    Contact.objects.filter(pk=drifted.pk).update(city="Delft")
    Contact.objects.filter(pk=world.owner.pk).update(city="Delft")
    report = services.contact_mirror(account=world.account, actor=agent)
    assert (report.updated, report.unchanged, report.backing) == (1, 2, 1)
    assert report.changes == [("updated", drifted.upstream_id, drifted.handle, ["city"])]
    drifted.refresh_from_db()
    assert drifted.city == "Utrecht"
    # The registration sync owns the contacts behind registrations.
    assert Contact.objects.get(pk=world.owner.pk).city == "Delft"


def test_dry_run_reads_and_writes_nothing(world, agent):
    before = contact_rows()
    report = services.contact_mirror(account=world.account, actor=agent, dry_run=True)
    assert (report.created, report.backing) == (3, 1)
    assert "Dry run: nothing was written." in report.summary()
    assert world.sandbox.transport.mutations == []
    assert contact_rows() == before
    assert not StaffAction.objects.exists()


def test_refused_before_anything_is_sent(world, db):
    counter = UserFactory(username="counter", groups=[FINANCE])
    with pytest.raises(PermissionDenied):
        services.contact_mirror(account=world.account, actor=counter)
    entri = ProviderAccountFactory(label="entri-main", kind="entri")
    with pytest.raises(OperationUnsupported):
        services.contact_mirror(account=entri, actor=UserFactory(groups=[ADMIN]))
    assert world.sandbox.transport.requests == []
    assert not StaffAction.objects.exists()


# --- at the HTTP boundary: paging and failure -----------------------------------------------


def _contact(number: int) -> dict:
    return {"id": 70_000 + number, "handle": f"MOCK-{number}", "first_name": "Ada",
            "last_name": "Lovelace", "organization": "", "street_address": "", "post_code": "",
            "city": "Leiden", "state": "", "country": "NL", "email": f"m{number}@example.com",
            "phone": "+31.201234567", "extra_properties": {}, "validations": [],
            "split_from_id": None, "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-02T00:00:00Z"}


@pytest.fixture
def mock_account(db, agent):
    TldFactory(name="com")
    return ProviderAccount.objects.get(label="sandbox")


def test_an_answer_without_meta_is_the_whole_list(mock_account, agent):
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"domain_contacts": [_contact(1), _contact(2)]})

    with override_transport("sandbox", httpx.MockTransport(answer)):
        report = services.contact_mirror(account=mock_account, actor=agent)
    assert len(seen) == 1 and seen[0].headers["X-Auth-Account"] == "test-account"
    assert report.created == 2
    assert set(Contact.objects.values_list("handle", flat=True)) == {"MOCK-1", "MOCK-2"}


def test_a_failure_part_way_writes_nothing_and_is_audited(mock_account, agent):
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("page") == "1":
            return httpx.Response(200, json={"domain_contacts": [_contact(1)],
                                             "meta": {"page": 1, "next_page": 2}})
        return httpx.Response(503, json={"errors": ["down"], "code": "registrar_unavailable"})

    with override_transport("sandbox", httpx.MockTransport(answer)):
        report = services.contact_mirror(account=mock_account, actor=agent)
    assert not report.ok and report.seen == 1 and report.created == 0
    assert not Contact.objects.exists()
    row = StaffAction.objects.get()
    assert (row.action, row.outcome, row.upstream_status) == ("contact.mirror", "failed", 503)
    assert "Nothing was written." in row.message


def test_paging_that_goes_backwards_is_refused(mock_account, agent):
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"domain_contacts": [_contact(1)],
                                         "meta": {"page": 1, "next_page": 1}})

    with override_transport("sandbox", httpx.MockTransport(answer)):
        report = services.contact_mirror(account=mock_account, actor=agent)
    assert "paging went backwards" in report.failure
    assert not Contact.objects.exists()


# --- the command ----------------------------------------------------------------------------


def test_sync_command_prints_each_change_and_the_true_counts(world):
    out = StringIO()
    call_command("contact", "sync", "--account", "sandbox", "--as", "agent", stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert lines[:3] == [f"+ {world.upstream_ids[0]} LOOSE-1", f"+ {world.upstream_ids[1]} LOOSE-2",
                         f"+ {world.upstream_ids[2]} LOOSE-3"]
    assert lines[-1] == ("sandbox: seen 4 contact(s): 3 were created, 0 were updated, 0 "
                         "unchanged, 1 left to the registration sync (they back a "
                         "registration).")
    assert StaffAction.objects.get().action == "contact.mirror"


def test_sync_command_dry_run_and_refusals(world):
    before = contact_rows()
    out = StringIO()
    call_command("contact", "sync", "--account", "sandbox", "--as", "agent", "--dry-run",
                 stdout=out)
    assert "3 would be created" in out.getvalue()
    assert world.sandbox.transport.mutations == [] and contact_rows() == before
    assert not StaffAction.objects.exists()
    world.sandbox.transport.requests.clear()
    with pytest.raises(CommandError, match=r"^--account: no provider account"):
        call_command("contact", "sync", "--account", "nowhere", "--as", "agent")
    UserFactory(username="counter", groups=[FINANCE])
    with pytest.raises(CommandError, match="counter is not allowed to mirror contacts"):
        call_command("contact", "sync", "--account", "sandbox", "--as", "counter")
    assert world.sandbox.transport.requests == [] and not StaffAction.objects.exists()


# --- the admin page -------------------------------------------------------------------------


def test_admin_page_mirrors_the_chosen_account_and_reports_the_counts(world, client, agent):
    client.force_login(agent)
    changelist = client.get(reverse("admin:contacts_contact_changelist"))
    assert reverse("admin:contacts_contact_sync") in changelist.content.decode()
    url = reverse("admin:contacts_contact_sync")
    page = client.get(url)
    assert page.status_code == 200 and 'value="sandbox"' in page.content.decode()
    assert world.sandbox.transport.requests == []
    response = client.post(url, {"account": "sandbox"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:contacts_contact_changelist")
    shown = [str(message) for message in response.context["messages"]]
    assert shown == [StaffAction.objects.get().message]
    assert "3 were created" in shown[0]
    assert Contact.objects.filter(upstream_id__in=world.upstream_ids).count() == 3


def test_admin_page_refuses_bad_input_and_other_roles(world, client, agent):
    client.force_login(agent)
    url = reverse("admin:contacts_contact_sync")
    page = client.post(url, {"account": "nowhere"})
    assert page.status_code == 200 and "errorlist" in page.content.decode()
    client.force_login(UserFactory(username="counter", groups=[FINANCE]))
    assert client.get(url).status_code == 403
    assert client.post(url, {"account": "sandbox"}).status_code == 403
    changelist = client.get(reverse("admin:contacts_contact_changelist"))
    assert url not in changelist.content.decode()
    assert world.sandbox.transport.requests == [] and not StaffAction.objects.exists()
