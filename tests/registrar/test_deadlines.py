"""The deadlines the back-office keeps: the transfer-out auto-ACK, the registrant's
15 days to verify, and the 90/30/7-day expiry buckets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from contacts.models import VERIFICATION_WINDOW, Contact, VerificationState
from registrar import deadlines
from registrar.models import Registration, RegistrationStatus
from registrar.sandbox import get_app
from registrar.sync import sync_provider
from tests.factories import ContactFactory, ProviderAccountFactory, RegistrationFactory
from tests.registrar.test_sync import upstream


def _with_transfer_out(seed: dict, guid: str, **transfer_out) -> dict:
    for registration in seed["registrations"]:
        if registration["id"] == guid:
            registration["transfer_out_pending"] = True
            registration["transfer_out"] = {"status": "pending",
                                            "gaining_registrar": "REG-OTHER", **transfer_out}
    return seed


def test_the_sync_keeps_the_auto_ack_time_of_a_pending_transfer_out(sandbox):
    account = ProviderAccountFactory(label="sandbox")
    due = (timezone.now() + timedelta(days=4, hours=3)).replace(microsecond=0)
    get_app().state.seed(_with_transfer_out(upstream(3), "sync-00001",
                                            auto_approve_at=due.isoformat()))
    sync_provider(account)
    leaving = Registration.objects.get(name="sync00001.com")
    assert leaving.transfer_out_pending is True
    assert leaving.transfer_out_auto_ack_at == due
    assert Registration.objects.filter(transfer_out_auto_ack_at__isnull=False).count() == 1
    reads = [r for r in sandbox.transport.requests
             if r.method == "GET" and r.url.path.endswith("/sync-00001")]
    assert len(reads) == 1  # one single read, for the one pending transfer

    sandbox.transport.requests.clear()
    sync_provider(account)  # known already: not read again
    assert not [r for r in sandbox.transport.requests if r.url.path.endswith("/sync-00001")]

    with get_app().state.transaction() as data:
        data["registrations"]["sync-00001"].update(transfer_out_pending=False,
                                                   transfer_out=None)
    sync_provider(account, force=True)  # one of three changing trips the safety brake
    leaving.refresh_from_db()
    assert (leaving.transfer_out_pending, leaving.transfer_out_auto_ack_at) == (False, None)


def test_without_an_auto_ack_time_the_five_days_run_from_the_request():
    requested = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    assert deadlines.auto_ack_from({"requested_at": requested.isoformat()}) == (
        requested + timedelta(days=5))
    assert deadlines.auto_ack_from({"auto_approve_at": "9999-12-31T00:00:00Z"}) is None
    assert deadlines.auto_ack_from(None) is None


def test_the_decision_page_reads_and_keeps_the_auto_ack_time(client, sandbox, support_user):
    registration = RegistrationFactory(name="leaving.com", transfer_out_pending=True)
    sandbox.seed()
    client.force_login(support_user)
    page = client.get(reverse("admin:registrar_registration_operation",
                              args=[registration.pk, "transfer_out"]))
    assert page.status_code == 200
    registration.refresh_from_db()
    assert registration.transfer_out_auto_ack_at is not None
    assert page.context["auto_ack_at"] == registration.transfer_out_auto_ack_at
    assert page.context["auto_ack_in"].startswith("in ")


def test_a_contact_awaiting_verification_has_fifteen_days(db):
    changed = timezone.now() - timedelta(days=2)
    contact = ContactFactory(validations=[{"type": "email", "status": "pending"}],
                             upstream_updated_at=changed)
    assert contact.verification_state == VerificationState.PENDING
    assert contact.verification_due_at == changed + VERIFICATION_WINDOW
    assert Contact.objects.filter(verification_state="pending",
                                  verification_due_at=changed + VERIFICATION_WINDOW).exists()

    contact.validations = [{"type": "email", "status": "verified"}]
    contact.save(update_fields=["validations"])
    contact.refresh_from_db()
    assert (contact.verification_state, contact.verification_due_at) == (
        VerificationState.VERIFIED, None)

    contact.validations = [{"type": "email", "status": "failed"}]
    contact.save()
    assert Contact.objects.get(pk=contact.pk).verification_state == VerificationState.FAILED


def test_the_verification_clock_does_not_restart_while_still_pending(db):
    started = timezone.now() - timedelta(days=10)
    contact = ContactFactory(validations=[{"type": "email", "status": "pending"}],
                             upstream_updated_at=started)
    contact.upstream_updated_at = timezone.now()
    contact.validations = [{"type": "email", "status": "pending"},
                           {"type": "phone", "status": "pending"}]
    contact.save()
    assert contact.verification_due_at == started + VERIFICATION_WINDOW


@pytest.mark.parametrize("days", deadlines.EXPIRY_BUCKETS)
def test_the_expiry_buckets_hold_live_registrations_soonest_first(db, days):
    now = timezone.now()
    made = {offset: RegistrationFactory(name=f"in{offset}.com",
                                        expires_at=now + timedelta(days=offset))
            for offset in (1, 6, 8, 29, 31, 89, 91)}
    RegistrationFactory(name="gone.com", expires_at=now + timedelta(days=2),
                        status=RegistrationStatus.TRANSFERRED_OUT)
    RegistrationFactory(name="past.com", expires_at=now - timedelta(days=1))
    bucket = list(deadlines.expiring_within(days, now=now))
    assert bucket == [made[offset] for offset in sorted(made) if offset <= days]


def test_a_countdown_reads_like_a_person_would_say_it():
    now = datetime(2026, 12, 1, tzinfo=UTC)
    assert deadlines.countdown(now + timedelta(days=1, hours=5), now) == "in 1 day 5 hours"
    assert deadlines.countdown(now + timedelta(days=9, hours=5), now) == "in 9 days"
    assert deadlines.countdown(now + timedelta(minutes=40), now) == "in 40 minutes"
    assert deadlines.countdown(now - timedelta(days=2), now) == "2 days ago"


def test_the_dashboard_lists_deadlines_soonest_first_with_countdowns(client, support_user):
    now = timezone.now()
    later = RegistrationFactory(name="later.com", transfer_out_pending=True,
                                transfer_out_auto_ack_at=now + timedelta(days=4))
    sooner = RegistrationFactory(name="sooner.com", transfer_out_pending=True,
                                 transfer_out_auto_ack_at=now + timedelta(hours=20))
    ContactFactory(handle="WAIT-1", validations=[{"type": "email", "status": "pending"}],
                   upstream_updated_at=now - timedelta(days=13))
    RegistrationFactory(name="soon-expiring.com", expires_at=now + timedelta(days=5))
    client.force_login(support_user)
    page = client.get(reverse("admin:index"))
    assert page.status_code == 200
    sections = {section.key: section for section in page.context["deadlines"]}
    leaving = sections["transfer_out"]
    assert [item.label for item in leaving.items] == ["sooner.com", "later.com"]
    assert leaving.items[0].due_in == "in 20 hours" or leaving.items[0].due_in.startswith(
        "in 19 hours")
    assert leaving.url.endswith("?transfer_out_pending__exact=1")
    waiting = sections["verification"]
    assert waiting.count == 1 and waiting.items[0].due_in.startswith("in 1 day")
    assert [section.count for key, section in sections.items()
            if key.startswith("expiring_")] == [1, 1, 1]
    html = page.content.decode()
    assert "sooner.com" in html and 'class="countdown"' in html
    # Each section's link opens its filtered list, and the list holds what it counted.
    listed = client.get(sections["expiring_7"].url)
    assert listed.status_code == 200
    assert [row.name for row in listed.context["cl"].result_list] == ["soon-expiring.com"]
    assert sooner.pk and later.pk


def test_support_sees_no_finance_or_approval_sections(client, support_user):
    client.force_login(support_user)
    keys = {section.key for section in client.get(reverse("admin:index")).context["deadlines"]}
    assert keys == {"transfer_out", "verification", "expiring_7", "expiring_30", "expiring_90",
                    "unknown", "stuck"}
