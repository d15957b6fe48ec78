"""The sync tells the truth while staff work: it never writes back a change made here
after it read the registrar, reconciles drifted contacts, and makes the processes of
busy registrations visible."""

from __future__ import annotations

import pytest
from celery.signals import before_task_publish
from django.urls import reverse

from backoffice.models import StaffAction
from backoffice.roles import SUPPORT
from contacts.models import Contact
from registrar import services
from registrar.models import Process, ProcessStatus, Registration
from registrar.sandbox import get_app
from registrar.sync import sync_provider
from registrar.tasks import mirror_processes
from tests.factories import ProviderAccountFactory, UserFactory
from tests.registrar.test_sync import edit_upstream, upstream


@pytest.fixture
def account(sandbox):
    return ProviderAccountFactory(label="sandbox")


@pytest.fixture
def agent(db):
    return UserFactory(username="agent", groups=[SUPPORT])


@pytest.fixture
def published():
    sent = []

    def capture(sender=None, body=None, **kwargs):
        sent.append((sender, body[0] if body else ()))

    before_task_publish.connect(capture, weak=False)
    yield sent
    before_task_publish.disconnect(capture)


def mirrored(account, count=20):
    get_app().state.seed(upstream(count))
    report = sync_provider(account)
    assert report.created == count


@pytest.mark.parametrize("force", [True, False], ids=["written-as-read", "held-for-brake"])
def test_a_change_made_here_after_the_sync_read_it_is_never_reverted(account, agent, force,
                                                                    sandbox):
    mirrored(account)
    guid = "sync-00003"
    # Upstream, a change the sync should bring in...
    edit_upstream(guid, auto_renew=False)
    lock_requests = []

    def staff_locks_meanwhile(name, changes, kind):
        # ...and, after the sync read the page (locked: true) and before it writes, a
        # staff member unlocks the domain here (for a transfer, say).
        if name == "sync00003.com" and not lock_requests:
            outcome = services.registration_set_lock(
                registration=Registration.objects.get(upstream_id=guid), locked=False,
                actor=agent)
            lock_requests.append(outcome)

    report = sync_provider(account, force=force, on_diff=staff_locks_meanwhile)

    assert lock_requests[0].status == "succeeded"
    row = Registration.objects.get(upstream_id=guid)
    assert row.locked is False  # the staff change stands
    assert row.auto_renew is False  # and the registrar's own change is in
    assert report.deferred == 0 and report.seen == 20
    # The page was not written for it: it was read again singly, after the page.
    assert sandbox.transport.sent("GET", f"/domain_registrations/{guid}")
    # No audit row credits the sync with anything about the lock.
    for synced in StaffAction.objects.filter(action="registration.sync_updated"):
        assert "locked" not in synced.parameters["changes"]
    locked = StaffAction.objects.get(action="registration.lock")
    assert locked.actor == agent and locked.parameters["changes"]["locked"] == {
        "old": True, "new": False}


def test_a_contact_that_drifted_is_reconciled_on_full_and_single_runs(account):
    mirrored(account, count=10)
    contact = Contact.objects.get(upstream_id=9001)
    # The registrar's copy of the contact changed; no registration did.
    with get_app().state.transaction() as data:
        data["contacts"]["9001"]["email"] = "new-address@example.com"

    report = sync_provider(account, force=True)

    contact.refresh_from_db()
    assert contact.email == "new-address@example.com"
    assert report.contacts_updated == 1 and report.updated == 0
    row = StaffAction.objects.get(action="contact.sync_updated")
    assert row.parameters["changes"]["email"] == {"old": "sam1@example.com",
                                                  "new": "new-address@example.com"}

    # A run limited to one registration reconciles its contacts too.
    with get_app().state.transaction() as data:
        data["contacts"]["9002"]["email"] = "again@example.com"
    single = sync_provider(account, only=["sync00002.com"])
    assert single.contacts_updated == 1
    assert Contact.objects.get(upstream_id=9002).email == "again@example.com"


def test_a_dry_run_of_a_drifted_contact_writes_nothing(account):
    mirrored(account, count=5)
    with get_app().state.transaction() as data:
        data["contacts"]["9001"]["email"] = "new-address@example.com"
    audits = StaffAction.objects.count()
    sync_provider(account, dry_run=True)
    assert Contact.objects.get(upstream_id=9001).email == "sam1@example.com"
    assert StaffAction.objects.count() == audits


def test_a_busy_registration_shows_the_process_opened_upstream(
        account, sandbox, published, admin_client, django_capture_on_commit_callbacks):
    mirrored(account, count=3)
    guid = "sync-00001"
    # Someone opens a process at the registrar directly, not through the back-office.
    sandbox.next_async(guid, polls=1000)
    opened = sandbox.client.patch(f"/api/domain_registrations/{guid}/lock",
                                  json={"locked": True})
    assert opened.status_code == 202
    upstream_id = str(opened.json()["pending_process"]["id"])

    with django_capture_on_commit_callbacks(execute=True):
        sync_provider(account, force=True)

    registration = Registration.objects.get(upstream_id=guid)
    assert registration.pending_async
    follow = [args for name, args in published if name == "registrar.mirror_processes"]
    assert [list(args) for args in follow] == [[registration.pk]]
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert mirror_processes.run(registration.pk) == 1

    process = Process.objects.get(registration=registration)
    assert process.upstream_id == upstream_id and process.status != ProcessStatus.COMPLETED
    assert process.log_entries.exists()
    assert [name for name, _ in published] == ["registrar.poll_process"]  # followed
    found = StaffAction.objects.get(action="registration.processes_found")
    assert upstream_id in found.message and found.actor is None

    page = admin_client.get(reverse("admin:registrar_registration_change",
                                    args=[registration.pk]))
    assert upstream_id in page.content.decode()
    detail = admin_client.get(reverse("admin:registrar_process_change", args=[process.pk]))
    html = detail.content.decode()
    assert "Resend (resume)" in html and "Cancel" in html
    assert process.log_entries.first().message in html

    # Staff can now cancel it, which frees the registration.
    outcome = services.process_cancel(process=process, actor=UserFactory(
        username="agent2", groups=[SUPPORT]))
    assert outcome.status == "succeeded"
    registration.refresh_from_db()
    assert not registration.pending_async

    # A second sync does not list processes again for one already followed.
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        sync_provider(account, force=True)
    assert not [name for name, _ in published if name == "registrar.mirror_processes"]
