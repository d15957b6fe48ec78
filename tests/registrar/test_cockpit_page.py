"""The registration's change page as the support cockpit, through the admin client as
Support: the summary badges, fees next to the actions, the deadlines, the timeline (kinds
in order, the kind filter, pages), notes, the status JSON the page polls, and attaching
a customer."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from backoffice.models import Note, StaffAction
from contacts.models import Contact, VerificationState
from registrar.admin_cockpit import TIMELINE_PER_PAGE
from registrar.models import Process, ProcessStatus, Registration
from tests.factories import (
    AccountFactory,
    ContactFactory,
    ProcessFactory,
    ProcessLogEntryFactory,
    RegistrationFactory,
    TldFactory,
    staff_action,
)


def change_url(registration: Registration) -> str:
    return reverse("admin:registrar_registration_change", args=[registration.pk])


def page_of(client, registration: Registration, query: str = "") -> str:
    response = client.get(change_url(registration) + query)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def badge(page: str, key: str) -> str | None:
    found = re.search(rf'id="summary-{key}"[^>]*>([^<]*)<', page)
    return found.group(1) if found else None


@pytest.fixture
def support(client, support_user):
    client.force_login(support_user)
    return client


@pytest.fixture
def metered(db):
    return TldFactory(name="net", privacy_fee_amount=499, privacy_fee_currency="USD",
                      registrant_change_fee_amount=1250, registrant_change_fee_currency="EUR")


def test_the_summary_shows_every_state_as_a_badge(support, metered):
    now = timezone.now()
    registration = RegistrationFactory(
        name="cockpit-badges.net", tld=metered, locked=True, privacy_protect=False,
        dnssec_enabled=True, auto_renew=False, pending_async=True,
        unsettled_operation="lock", unsettled_since=now, transfer_out_pending=True,
        push_transfer_pending=True, customer_flagged=True, missing_upstream_at=now,
        expires_at=now + timedelta(days=12, hours=1), last_synced_at=now)
    ProcessFactory(registration=registration, action="update_lock",
                   status=ProcessStatus.RUNNING)
    page = page_of(support, registration)

    assert badge(page, "status") == registration.get_status_display()
    assert badge(page, "locked") == "Locked"
    assert badge(page, "privacy") == "Off"
    assert badge(page, "dnssec") == "On"
    assert badge(page, "auto-renew") == "Off"
    assert "update_lock" in badge(page, "process")
    assert badge(page, "unsettled").startswith("The last transfer lock change may have")
    assert badge(page, "transfer-out") == "Waiting for a decision"
    assert badge(page, "push") == "In progress"
    assert badge(page, "customer-flag").startswith("On")
    assert badge(page, "missing").startswith("Not returned by the registrar")
    assert badge(page, "days-left") == "12 days left"
    assert 'data-busy="true"' in page  # the page polls while the process runs
    assert str(registration.served_by) in page
    # The customer links to the billing account page.
    assert reverse("admin:billing_account_change", args=[registration.account_id]) in page
    # The raw fieldsets are still there, collapsed under "All fields" at the bottom.
    assert (page.index('id="registration-panel"') < page.index('id="timeline"')
            < page.index('<details id="all-fields"') < page.index("Async and transfers"))


def test_a_settled_quiet_registration_shows_no_conditional_badges(support):
    registration = RegistrationFactory(name="cockpit-quiet.com", tld=TldFactory(name="com"))
    page = page_of(support, registration)
    for key in ("process", "unsettled", "transfer-out", "push", "customer-flag", "missing"):
        assert badge(page, key) is None, key
    assert 'data-busy="false"' in page


def test_the_fee_stands_next_to_the_privacy_and_registrant_change_buttons(support, metered):
    registration = RegistrationFactory(name="cockpit-fee.net", tld=metered,
                                       privacy_protect=False)
    page = page_of(support, registration)
    assert re.search(r'data-operation="privacy"[^>]*>[^<]*</(a|span)> <span class="cockpit-fee" '
                     r'data-fee-for="privacy">4.99 USD</span>', page)
    assert 'data-fee-for="registrant_change">12.50 EUR</span>' in page
    # Switching privacy off is free: no fee shown once it is on.
    Registration.objects.filter(pk=registration.pk).update(privacy_protect=True)
    assert 'data-fee-for="privacy"' not in page_of(support, registration)
    # A TLD without fees shows none.
    plain = RegistrationFactory(name="cockpit-nofee.com", tld=TldFactory(name="com"))
    assert "data-fee-for" not in page_of(support, plain)


def test_renew_leads_into_the_customers_order_flow_prefilled(support, metered):
    registration = RegistrationFactory(name="cockpit-renew.net", tld=metered)
    page = page_of(support, registration)
    link = re.search(r'href="([^"]+)" data-order="renew"', page).group(1)
    assert link.startswith(reverse("admin:billing_account_domain_order",
                                   args=[registration.account_id]))
    form = support.get(link)
    assert form.status_code == 200
    body = form.content.decode()
    assert re.search(r'<option value="renew" selected>', body)
    assert 'value="cockpit-renew.net"' in body
    # Without a customer, Renew is disabled with the reason.
    orphan = RegistrationFactory(name="cockpit-orphan.net", tld=metered, account=None)
    page = page_of(support, orphan)
    assert 'data-order="renew" aria-disabled="true"' in page
    assert "Attach the registration to a customer first" in page


def test_the_deadlines_show_auto_ack_expiry_and_holder_verification(support):
    now = timezone.now()
    holder = ContactFactory()
    # Written past save(), which derives the state from the registry's validations.
    Contact.objects.filter(pk=holder.pk).update(
        verification_state=VerificationState.PENDING,
        verification_due_at=now + timedelta(days=9, minutes=5))
    registration = RegistrationFactory(
        name="cockpit-deadlines.com", tld=TldFactory(name="com"), owner_contact=holder,
        transfer_out_pending=True, transfer_out_auto_ack_at=now + timedelta(hours=30, minutes=5),
        expires_at=now + timedelta(days=40, minutes=5))
    page = page_of(support, registration)
    assert re.search(r'id="deadline-auto-ack">.*\(<span class="deadline-in">in 1 day 6 hours'
                     r'</span>\)', page)
    assert re.search(r'id="deadline-expiry">.*in 40 days', page)
    assert re.search(r'id="deadline-verification">.*in 9 days', page)
    # Verified holders have no verification deadline.
    Contact.objects.filter(pk=holder.pk).update(verification_state=VerificationState.VERIFIED)
    assert 'id="deadline-verification"' not in page_of(support, registration)


def test_the_transfer_out_decision_page_shows_the_auto_ack_countdown(support, sandbox):
    registration = RegistrationFactory(name="cockpit-ack.com", tld=TldFactory(name="com"),
                                       transfer_out_pending=True)
    sandbox.seed()
    response = support.get(reverse("admin:registrar_registration_operation",
                                   args=[registration.pk, "transfer_out"]))
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    registration.refresh_from_db()
    assert registration.transfer_out_auto_ack_at is not None
    expected = registration.transfer_out_auto_ack_at.astimezone(UTC)
    assert re.search(rf'id="auto-ack"><strong>Auto-ACK at {expected:%Y-%m-%d %H:%M} UTC '
                     r'\((in|.* ago)[^)]*\)</strong>', page)


def _timeline_world(support_user):
    registration = RegistrationFactory(name="cockpit-timeline.com", tld=TldFactory(name="com"))
    now = timezone.now()
    audit_row = staff_action(actor=support_user, action="registration.lock", target=registration,
                             parameters={"changes": {"locked": {"old": False, "new": True}}},
                             message="Transfer lock switched on.")
    staff_action(action="registration.sync_update", target=registration,
                            actor_label="sync",
                            parameters={"changes": {"expires_at": ["2026-01-01", "2027-01-01"]}},
                            message="Sync updated the registration.")
    process = ProcessFactory(registration=registration, action="update_nameservers",
                             status=ProcessStatus.COMPLETED, is_terminal=True)
    ProcessLogEntryFactory(process=process, message="Nameservers sent to the registry")
    note = Note.objects.create(target_type="registrar.registration",
                               target_id=str(registration.pk), text="Customer called.",
                               author=support_user)
    # Oldest first: audit, sync (audit rows are append-only: their order is the order
    # they were written in), then the process and the note.
    Process.objects.filter(pk=process.pk).update(created_at=now + timedelta(hours=1))
    Note.objects.filter(pk=note.pk).update(created_at=now + timedelta(hours=2))
    return registration, audit_row, process


def entry_kinds(page: str) -> list[str]:
    return re.findall(r'class="timeline-entry kind-[a-z]+" data-kind="([a-z]+)"', page)


def test_the_timeline_shows_each_kind_newest_first_with_details(support, support_user):
    registration, _, process = _timeline_world(support_user)
    page = page_of(support, registration)
    assert entry_kinds(page) == ["note", "process", "sync", "audit"]
    assert "Customer called." in page
    assert "expires_at</code>: 2026-01-01 → 2027-01-01" in page
    assert "locked</code>: False → True" in page
    assert "<li>Nameservers sent to the registry</li>" in page
    # Each entry links to its detail (Support may open processes; the audit list is Admin's).
    assert reverse("admin:registrar_process_change", args=[process.pk]) in page


def test_the_timeline_filters_by_kind(support, support_user):
    registration, _, _ = _timeline_world(support_user)
    assert entry_kinds(page_of(support, registration, "?kinds=note")) == ["note"]
    assert entry_kinds(page_of(support, registration, "?kinds=audit&kinds=process")) == [
        "process", "audit"]
    page = page_of(support, registration, "?kinds=sync")
    assert entry_kinds(page) == ["sync"]
    assert re.search(r'name="kinds" value="sync" checked', page)
    assert not re.search(r'name="kinds" value="note" checked', page)
    # Unknown kinds and nonsense pages are ignored, never a 500.
    assert entry_kinds(page_of(support, registration, "?kinds=bogus&timeline_page=x")) == [
        "note", "process", "sync", "audit"]


def test_the_timeline_is_paginated(support, support_user):
    registration = RegistrationFactory(name="cockpit-pages.com", tld=TldFactory(name="com"))
    now = timezone.now()
    total = TIMELINE_PER_PAGE + 5
    for number in range(total):
        note = Note.objects.create(target_type="registrar.registration",
                                   target_id=str(registration.pk), text=f"Note number {number}.",
                                   author=support_user)
        Note.objects.filter(pk=note.pk).update(created_at=now - timedelta(minutes=total - number))
    first = page_of(support, registration, "?kinds=note")
    assert len(entry_kinds(first)) == TIMELINE_PER_PAGE
    assert f"Note number {total - 1}." in first and "Note number 0." not in first
    older = re.search(r'href="([^"]+)" id="timeline-older"', first).group(1)
    assert "kinds=note" in older and "timeline_page=2" in older
    second = page_of(support, registration, older.split("#")[0])
    assert len(entry_kinds(second)) == 5
    assert "Note number 0." in second and 'id="timeline-older"' not in second
    assert 'id="timeline-newer"' in second


def test_support_adds_a_note_and_a_refused_one_names_the_text_field(support, support_user):
    registration = RegistrationFactory(name="cockpit-note.com", tld=TldFactory(name="com"))
    url = reverse("admin:registrar_registration_note", args=[registration.pk])
    page = page_of(support, registration)
    assert f'action="{url}"' in page

    response = support.post(url, {"text": "Holder asked about the renewal price."})
    assert response.status_code == 302
    assert response["Location"].startswith(change_url(registration))
    note = Note.objects.get(target_id=str(registration.pk))
    assert note.author == support_user
    assert StaffAction.objects.filter(action="note.added", target_id=str(registration.pk)
                                      ).count() == 1
    page = page_of(support, registration)
    assert "Holder asked about the renewal price." in page

    refused = support.post(url, {"text": "Pay to \u202eevil.com"})
    assert refused.status_code == 400
    body = html.unescape(refused.content.decode())
    # The reason sits on the text field, and the typed text is kept for correcting.
    assert re.search(r'id="row-text">\s*<ul class="errorlist[^"]*"[^>]*><li>[^<]+</li>', body)
    assert 'name="text"' in body
    assert Note.objects.filter(target_id=str(registration.pk)).count() == 1
    empty = support.post(url, {"text": "   "})
    assert empty.status_code == 400 and "Write the note first." in empty.content.decode()


def test_the_status_json_says_whether_a_process_is_in_flight(support):
    registration = RegistrationFactory(name="cockpit-status.com", tld=TldFactory(name="com"),
                                       pending_async=True, rtr_process_status="running")
    process = ProcessFactory(registration=registration, action="update_lock")
    url = reverse("admin:registrar_registration_status", args=[registration.pk])
    response = support.get(url)
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("no-store")
    state = json.loads(response.content)
    assert state["busy"] is True and state["process_status"] == "running"
    assert state["unsettled"] is False
    assert [p["action"] for p in state["processes"]] == ["update_lock"]
    badges = {b["key"]: b["text"] for b in state["badges"]}
    assert badges["locked"] in {"Locked", "Unlocked"} and "process" in badges

    Process.objects.filter(pk=process.pk).update(status=ProcessStatus.COMPLETED,
                                                 is_terminal=True)
    Registration.objects.filter(pk=registration.pk).update(
        pending_async=False, rtr_process_status="", unsettled_operation="lock",
        unsettled_since=timezone.now())
    state = json.loads(support.get(url).content)
    assert state["busy"] is False and state["processes"] == [] and state["unsettled"] is True
    assert "process" not in {b["key"] for b in state["badges"]}
    # A malformed id is a 404, never a 500.
    for name in ("status", "note", "customer"):
        bad = reverse(f"admin:registrar_registration_{name}", args=["x1"])
        assert support.get(bad).status_code == 404, name


def test_support_attaches_a_customer_and_it_is_audited(support, support_user):
    registration = RegistrationFactory(name="cockpit-orphan.com", tld=TldFactory(name="com"),
                                       account=None)
    customer = AccountFactory(name="Ada Lovelace Ltd", email="ada@lovelace.example",
                              customer_reference="ACC-ADA01")
    AccountFactory(name="Someone Else", email="else@example.com")
    page = page_of(support, registration)
    attach = reverse("admin:registrar_registration_customer", args=[registration.pk])
    assert re.search(rf'no customer <a href="{attach}" id="attach-customer-link">Attach to '
                     r'customer</a>', page)

    for query in ("ACC-ADA01", "ada@lovelace", "Lovelace"):
        found = html.unescape(support.get(attach, {"query": query}).content.decode())
        assert f'value="{customer.pk}"' in found and "Someone Else" not in found, query
    nothing = support.get(attach, {"query": "nobody-by-that-name"}).content.decode()
    assert 'id="customer-none"' in nothing

    response = support.post(attach, {"query": "ada", "account": customer.pk})
    assert response.status_code == 302
    registration.refresh_from_db()
    assert registration.account == customer
    row = StaffAction.objects.get(action="registration.customer_set")
    assert row.actor == support_user and row.target_id == str(registration.pk)
    page = page_of(support, registration)
    assert reverse("admin:billing_account_change", args=[customer.pk]) in page
    # Attaching it again to the same customer is refused on the field, not a 500.
    again = support.post(attach, {"query": "ada", "account": customer.pk})
    assert again.status_code == 200 and "Choose another customer." in again.content.decode()
    assert StaffAction.objects.filter(action="registration.customer_set").count() == 1
    # Choosing nobody is refused on the field too.
    blank = support.post(attach, {"query": "ada"})
    assert "Choose the customer this registration belongs to." in blank.content.decode()


def test_finance_may_read_the_cockpit_but_not_attach_customers(client, finance_user):
    registration = RegistrationFactory(name="cockpit-finance.com", tld=TldFactory(name="com"),
                                       account=None)
    client.force_login(finance_user)
    page = page_of(client, registration)
    assert "no customer" in page and 'id="attach-customer-link"' not in page
    attach = reverse("admin:registrar_registration_customer", args=[registration.pk])
    assert client.post(attach, {"account": AccountFactory().pk}).status_code == 403
    registration.refresh_from_db()
    assert registration.account is None
