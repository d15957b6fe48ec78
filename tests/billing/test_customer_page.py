"""The customer's page: their registrations, contacts, orders and timeline, and notes
added on it, as Support and Finance see it (read-only)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from backoffice.models import Note, StaffAction
from backoffice.notes import add_note
from contacts.models import VerificationState
from tests.factories import (
    AccountFactory,
    ContactFactory,
    OrderFactory,
    RegistrationFactory,
    TldFactory,
)


def change_url(row) -> str:
    return reverse(f"admin:{row._meta.app_label}_{row._meta.model_name}_change",
                   args=[row.pk])


def note_url(account) -> str:
    return reverse("admin:billing_account_note", args=[account.pk])


@pytest.fixture
def customer(db):
    account = AccountFactory(name="Müller Bäckerei")
    tld = TldFactory(name="de")
    holder = ContactFactory(account=account, handle="MUELLER-1", first_name="Anna",
                            last_name="Müller", email="anna@mueller.example")
    pending = ContactFactory(account=account, handle="MUELLER-2", email="b@mueller.example")
    # What the registry's validations would make it: pending, with its deadline.
    due = timezone.now() + timedelta(days=9, hours=2)
    type(pending).objects.filter(pk=pending.pk).update(
        verification_state=VerificationState.PENDING, verification_due_at=due)
    munich = RegistrationFactory(name="xn--mnchen-3ya.de", tld=tld, account=account,
                                 owner_contact=holder, locked=True,
                                 expires_at=timezone.now() + timedelta(days=40, hours=1))
    bakery = RegistrationFactory(name="mueller-baeckerei.de", tld=tld, account=account,
                                 owner_contact=holder, auto_renew=False)
    order = OrderFactory(account=account, domain="xn--mnchen-3ya.de", total_minor=1399,
                         currency="USD")
    other = RegistrationFactory(name="someone-else.com")
    return {"account": account, "holder": holder, "pending": pending, "munich": munich,
            "bakery": bakery, "order": order, "other": other}


@pytest.mark.parametrize("role", ["support_user", "finance_user"])
def test_the_customer_page_lists_everything_of_theirs_with_links(client, customer, role,
                                                                 request):
    user = request.getfixturevalue(role)
    add_note(target=customer["account"], text="Prefers a call after 10:00.", actor=user)
    client.force_login(user)
    page = client.get(change_url(customer["account"]))
    assert page.status_code == 200
    html = page.content.decode()

    # Registrations: Unicode name, punycode beside it, status, expiry and days left, badges.
    for registration in (customer["munich"], customer["bakery"]):
        assert f'href="{change_url(registration)}"' in html
    assert change_url(customer["other"]) not in html
    assert "münchen.de" in html and "(xn--mnchen-3ya.de)" in html
    assert "in 40 days" in html
    registrations = page.context["customer_registrations"].rows
    assert {r.name: r.badges for r in registrations} == {
        "xn--mnchen-3ya.de": ["locked"], "mueller-baeckerei.de": ["no auto-renew"]}

    # Contacts: handle, name, e-mail, verification state and deadline.
    for contact in (customer["holder"], customer["pending"]):
        assert f'href="{change_url(contact)}"' in html
    assert "Anna Müller" in html and "anna@mueller.example" in html
    assert "Awaiting verification, due" in html and "in 9 days" in html

    # Orders: id, kind, domain, status and the total in major units.
    order = customer["order"]
    assert f'href="{change_url(order)}">#{order.pk}</a>' in html
    assert "13.99 USD" in html and order.get_status_display() in html

    # The timeline, newest first: the note, its audit row and the order.
    kinds = [entry.kind for entry in page.context["timeline"].entries]
    assert set(kinds) == {"note", "audit", "order"}
    assert "Prefers a call after 10:00." in html

    # Read-only: no save button, no editable field; the note form is there.
    assert 'name="_save"' not in html and 'name="email"' not in html
    assert f'action="{note_url(customer["account"])}"' in html


def test_the_timeline_filters_by_kind_and_pages(client, support_user, customer):
    account = customer["account"]
    for number in range(30):
        add_note(target=account, text=f"Call number {number}.", actor=support_user)
    client.force_login(support_user)
    first = client.get(change_url(account), {"timeline_kind": "note"})
    entries = first.context["timeline"].entries
    assert {entry.kind for entry in entries} == {"note"}
    assert entries[0].detail == "Call number 29." and first.context["timeline"].has_next
    assert "timeline_page=2&amp;timeline_kind=note" in first.content.decode()
    second = client.get(change_url(account), {"timeline_kind": "note", "timeline_page": "2"})
    assert [e.detail for e in second.context["timeline"].entries] == [
        f"Call number {n}." for n in range(4, -1, -1)]
    # A page that is no number is the first page, not an error.
    assert client.get(change_url(account), {"timeline_page": "x" * 40}).status_code == 200


@pytest.mark.parametrize("role", ["support_user", "finance_user"])
def test_a_note_added_is_on_the_timeline_and_in_the_audit(client, customer, role, request):
    user = request.getfixturevalue(role)
    account = customer["account"]
    client.force_login(user)
    answer = client.post(note_url(account), {"text": "Asked for an invoice copy."})
    assert answer.status_code == 302
    assert answer["Location"] == f"{change_url(account)}#customer-timeline"
    [note] = Note.objects.all()
    assert (note.text, note.author, note.target_id) == (
        "Asked for an invoice copy.", user, str(account.pk))
    [audit] = StaffAction.objects.filter(action="note.added")
    assert (audit.actor, audit.target_id, audit.outcome) == (
        user, str(account.pk), StaffAction.Outcome.SUCCEEDED)
    page = client.get(change_url(account))
    [entry] = [e for e in page.context["timeline"].entries if e.kind == "note"]
    assert entry.detail == "Asked for an invoice copy." and entry.actor == str(user)


@pytest.mark.parametrize("text", ["Pay\u202eattention", "line\x00break", "   ", "x" * 2001])
def test_a_note_breaking_the_text_rule_is_refused_on_its_field(client, support_user,
                                                               customer, text):
    client.force_login(support_user)
    answer = client.post(note_url(customer["account"]), {"text": text})
    assert answer.status_code == 200
    form = answer.context["form"]
    assert list(form.errors) == ["text"]
    assert "Note:" in answer.content.decode()  # the summary names the field
    assert not Note.objects.exists()
    assert not StaffAction.objects.filter(action="note.added").exists()


def test_staff_without_the_note_permission_add_none_and_a_bad_id_is_404(
        client, plain_staff_user, support_user, customer):
    client.force_login(plain_staff_user)
    assert client.post(note_url(customer["account"]), {"text": "hi"}).status_code == 403
    client.force_login(support_user)
    for bad in ("abc", "9" * 40, "999999"):
        assert client.post(f"/admin/billing/account/{bad}/note/",
                           {"text": "hi"}).status_code == 404
    assert not Note.objects.exists()


def _queries(client, account) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(change_url(account)).status_code == 200
    return len(captured)


def test_the_query_count_does_not_grow_with_the_customer(client, support_user):
    account = AccountFactory()
    tld = TldFactory(name="com")
    holder = ContactFactory(account=account, tld=tld)

    def more(count: int) -> None:
        for _ in range(count):
            RegistrationFactory(account=account, tld=tld, owner_contact=holder)
            ContactFactory(account=account, tld=tld)
            OrderFactory(account=account)
            add_note(target=account, text="Called.", actor=support_user)

    more(1)
    client.force_login(support_user)
    _queries(client, account)  # warms the content-type cache
    with_one = _queries(client, account)
    more(19)
    assert _queries(client, account) == with_one
