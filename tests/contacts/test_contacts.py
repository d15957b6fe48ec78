"""Contacts against the sandbox: what is sent, what is mirrored, what staff see."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from backoffice.models import StaffAction
from backoffice.roles import ADMIN, FINANCE, SUPPORT
from contacts import services
from contacts.models import Contact
from registrar.models import Registration
from registrar.operations import InvalidInput, OperationUnsupported
from tests.factories import ContactFactory, RegistrationFactory, TldFactory, UserFactory

GOOD = {"first_name": "Ada", "last_name": "Lovelace", "organization": "Engines Ltd",
        "street_address": "12 Byron Road", "post_code": "1011AB", "city": "Amsterdam",
        "country": "NL", "email": "ada@example.com", "phone": "+31 20 123 4567"}


@pytest.fixture
def agent(db):
    return UserFactory(username="agent", groups=[SUPPORT])


@pytest.fixture
def world(sandbox):
    com = TldFactory(name="com")
    it = TldFactory(name="it", requires_contact_validation=True)
    owner = ContactFactory(handle="OWNER-1", tld=com, organization="Engines Ltd")
    plain = RegistrationFactory(name="engines.com", tld=com, owner_contact=owner,
                                account=owner.account)
    validated = RegistrationFactory(name="motori.it", tld=it, owner_contact=owner,
                                    account=owner.account)
    orphan = ContactFactory(handle="ORPHAN-1", tld=com, account=owner.account)
    it_contact = ContactFactory(handle="IT-1", tld=it, account=owner.account)
    sandbox.seed()
    sandbox.transport.requests.clear()
    return type("World", (), locals())


def sent_json(sandbox, method, suffix=""):
    requests = sandbox.transport.sent(method, suffix)
    assert len(requests) == 1, [r.url.path for r in sandbox.transport.requests]
    return json.loads(requests[0].content) if requests[0].content else {}


# --- services -----------------------------------------------------------------------


def test_create_pins_the_tld_and_mirrors_the_contact(world, agent):
    outcome = services.contact_create(tld=world.com, fields=GOOD, actor=agent,
                                      account=world.owner.account)
    assert outcome.status == "succeeded"
    body = sent_json(world.sandbox, "POST", "/api/domain_contacts")
    assert body == {"tld_id": world.com.upstream_id, "domain_contact": {
        **GOOD, "phone": "+31.201234567", "extra_properties": {}}} or body == {
        "tld_name": ".com", "domain_contact": {**GOOD, "phone": "+31.201234567"}}
    contact = outcome.data["contact"]
    assert contact.upstream_id and contact.tld == world.com
    assert contact.phone == "+31.201234567"
    assert StaffAction.objects.get().action == "contact.create"


def test_create_on_a_tld_the_registrar_does_not_know_is_a_form_error(world, client, agent):
    unknown = TldFactory(name="zz", upstream_id=None)
    client.force_login(agent)
    response = client.post(reverse("admin:contacts_contact_add"),
                           {**GOOD, "tld": unknown.pk, "extra_properties": "{}"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "tld_not_found" in html and "does not know that TLD" in html
    assert not Contact.objects.filter(first_name="Ada", upstream_id__isnull=False,
                                      tld=unknown).exists()


def test_plain_update_sends_only_the_changed_fields(world, agent):
    outcome = services.contact_update(contact=world.orphan, fields={"city": "Utrecht"},
                                      actor=agent)
    assert outcome.status == "succeeded"
    assert sent_json(world.sandbox, "PATCH") == {"domain_contact": {"city": "Utrecht"}}
    world.orphan.refresh_from_db()
    assert world.orphan.city == "Utrecht"


def test_update_answered_202_is_pending_and_changes_nothing_yet(world, agent):
    pending = {"domain_contact": {"id": world.orphan.upstream_id, "first_name": "Ada",
                                  "last_name": "Lovelace", "country": "NL",
                                  "email": "x@example.com", "phone": "+31.201234567"},
               "pending_process": {"id": 991, "status": "NEW", "action": "update_contact"}}
    world.sandbox.fault(f"/api/domain_contacts/{world.orphan.upstream_id}$", method="PATCH",
                        status=202, body=json.dumps(pending))
    before = Contact.objects.get(pk=world.orphan.pk).city
    outcome = services.contact_update(contact=world.orphan, fields={"city": "Utrecht"},
                                      actor=agent)
    assert outcome.status == "pending" and "991" in outcome.message
    assert Contact.objects.get(pk=world.orphan.pk).city == before
    assert StaffAction.objects.get().outcome == "pending"


def test_split_update_mirrors_both_contacts_and_moves_the_registrations(world, agent):
    outcome = services.contact_update(contact=world.owner, fields={"organization": "New Ltd"},
                                      actor=agent)
    assert outcome.status == "succeeded", outcome.message
    new = outcome.data["contact"]
    assert new.pk != world.owner.pk and new.split_from == world.owner
    assert new.organization == "New Ltd"
    world.plain.refresh_from_db()
    world.validated.refresh_from_db()
    assert world.plain.owner_contact == new  # accepted the change: moved
    assert world.validated.owner_contact == world.owner  # refused it: kept the original
    world.owner.refresh_from_db()
    assert world.owner.organization == "Engines Ltd"
    assert "engines.com" in outcome.message and "motori.it" in outcome.message
    assert "split" in outcome.message
    row = StaffAction.objects.get()
    assert row.parameters["moved"] == ["engines.com"] and row.parameters["kept"] == ["motori.it"]


def test_delete_an_unused_contact(world, agent):
    pk = world.orphan.pk
    outcome = services.contact_delete(contact=world.orphan, actor=agent)
    assert outcome.status == "succeeded"
    assert world.sandbox.transport.sent("DELETE", f"/{world.orphan.upstream_id}")
    assert not Contact.objects.filter(pk=pk).exists()
    assert StaffAction.objects.get().action == "contact.delete"


def test_delete_a_contact_in_use_is_refused_here_first(world, agent):
    with pytest.raises(InvalidInput, match="still used by 2 registration"):
        services.contact_delete(contact=world.owner, actor=agent)
    assert world.sandbox.transport.requests == []
    assert Contact.objects.filter(pk=world.owner.pk).exists()


@pytest.mark.parametrize("code", ["contact_in_use", "tld_required_for_orphan"])
def test_upstream_delete_refusals_are_explained(world, agent, code):
    world.sandbox.fault(f"/api/domain_contacts/{world.orphan.upstream_id}", method="DELETE",
                        status=422, code=code)
    outcome = services.contact_delete(contact=world.orphan, actor=agent)
    assert outcome.status == "failed" and outcome.error.code == code
    assert Contact.objects.filter(pk=world.orphan.pk).exists()


def test_resend_verification_only_where_the_tld_validates(world, agent):
    outcome = services.contact_resend_verification(contact=world.it_contact, actor=agent)
    assert outcome.status == "succeeded" and "queued" in outcome.message
    assert world.sandbox.transport.sent("POST", "/resend_verification")
    world.sandbox.transport.requests.clear()
    with pytest.raises(OperationUnsupported):
        services.contact_resend_verification(contact=world.orphan, actor=agent)
    assert world.sandbox.transport.requests == []


def test_contact_page_lists_the_registrations_by_role(world, client, agent):
    client.force_login(agent)
    html = client.get(reverse("admin:contacts_contact_change",
                              args=[world.owner.pk])).content.decode()
    owner_cell = html.split('data-role="owner"')[1].split("</td>")[0]
    assert "engines.com" in owner_cell and "motori.it" in owner_cell


@pytest.mark.parametrize("term", ["OWNER-1", "Engines", "Lovelace", "Ada Lovelace",
                                  "motori.it"])
def test_search_matches_handle_organisation_name_and_registration(world, client, agent, term):
    client.force_login(agent)
    html = client.get(reverse("admin:contacts_contact_changelist"), {"q": term}).content
    assert b"OWNER-1" in html


# --- hostile input: refused on the form, nothing sent, nothing stored ----------------------

HOSTILE = [
    ("phone", "0201234567"), ("phone", "31.201234567"), ("phone", "+31.20ABC4567"),
    ("phone", "+31.2012345678901234567"), ("phone", "+"), ("phone", "phone me"),
    ("phone", "+999.1234567"), ("phone", ""),
    ("country", "nl"), ("country", "NLD"), ("country", "XX"), ("country", ""),
    ("country", "N1"), ("country", "UK"),
    ("email", "ada @example.com"), ("email", "no-at-sign"), ("email", "@example.com"),
    ("email", "ada@"), ("email", ""),
    ("first_name", ""), ("last_name", ""), ("first_name", "x" * 101),
    ("organization", "y" * 256), ("city", "Amster\x00dam"),
    ("extra_properties", "[1, 2]"), ("extra_properties", "not json"),
    ("extra_properties", "\"a string\""),
]


@pytest.mark.parametrize(("field", "value"), HOSTILE,
                         ids=[f"{f}={v[:20]!r}" for f, v in HOSTILE])
def test_hostile_contact_input_is_refused_before_anything_leaves(world, client, agent, field,
                                                                 value):
    client.force_login(agent)
    count = Contact.objects.count()
    response = client.post(reverse("admin:contacts_contact_add"),
                           {**GOOD, "tld": world.com.pk, "extra_properties": "{}",
                            field: value})
    assert response.status_code == 200
    assert b"errorlist" in response.content or b"errornote" in response.content
    assert world.sandbox.transport.requests == []
    assert Contact.objects.count() == count
    # The same value on the edit page is refused too, and the contact is unchanged.
    before = Contact.objects.filter(pk=world.orphan.pk).values().get()
    response = client.post(reverse("admin:contacts_contact_edit", args=[world.orphan.pk]),
                           {**{k: getattr(world.orphan, k) for k in GOOD},
                            "extra_properties": "{}", field: value})
    assert response.status_code == 200
    assert world.sandbox.transport.requests == []
    assert Contact.objects.filter(pk=world.orphan.pk).values().get() == before


# --- who may do what -----------------------------------------------------------------------

CAN = {SUPPORT: True, ADMIN: True, FINANCE: False, "staff": False}


@pytest.mark.parametrize("role", [SUPPORT, FINANCE, ADMIN, "staff"])
def test_contact_permission_matrix(world, client, role_users, role):
    client.force_login(role_users[role])
    pages = {
        "add": (reverse("admin:contacts_contact_add"),
                {**GOOD, "tld": world.com.pk, "extra_properties": "{}"}),
        "edit": (reverse("admin:contacts_contact_edit", args=[world.orphan.pk]),
                 {**{k: getattr(world.orphan, k) for k in GOOD}, "city": "Delft",
                  "extra_properties": "{}"}),
        "resend": (reverse("admin:contacts_contact_resend", args=[world.it_contact.pk]), {}),
        "delete": (reverse("admin:contacts_contact_delete", args=[world.orphan.pk]), {}),
    }
    view = client.get(reverse("admin:contacts_contact_change", args=[world.it_contact.pk]))
    if role == "staff":
        assert view.status_code == 403
    else:
        html = view.content.decode()
        for marker in ("contact-edit", "contact-resend", "contact-delete"):
            assert (f'id="{marker}"' in html) is CAN[role], (role, marker)
    for name, (url, data) in pages.items():
        status = client.post(url, data).status_code
        assert (status in (200, 302)) if CAN[role] else status == 403, (role, name, status)
    if not CAN[role]:
        assert world.sandbox.transport.mutations == []
        assert not StaffAction.objects.exists()
    else:
        assert StaffAction.objects.filter(outcome="succeeded").count() == 4


def test_finance_can_read_contacts_but_not_change_them(world, client, finance_user):
    client.force_login(finance_user)
    assert client.get(reverse("admin:contacts_contact_changelist")).status_code == 200
    assert not Registration.objects.filter(owner_contact__city="Delft").exists()
