"""The changelists' search: each shape of term finds its rows, each row once, with no
DISTINCT in the SQL (a contact is reached from the registrations it backs by
IN-subqueries, not by joins that repeat it)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import (
    AccountFactory,
    ApprovalFactory,
    ContactFactory,
    DnssecKeyFactory,
    HostAddressFactory,
    HostFactory,
    ProcessFactory,
    ProcessLogEntryFactory,
    RegistrationFactory,
    TldFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(client):
    client.force_login(UserFactory(username="root", is_superuser=True))
    return client


def search(client, model: str, term: str) -> tuple[list, list[str]]:
    """The rows the changelist of `model` lists for `term`, and the SQL it ran."""
    url = reverse(f"admin:{model.replace('.', '_')}_changelist")
    with CaptureQueriesContext(connection) as captured:
        page = client.get(url, {"q": term})
    assert page.status_code == 200, page.content[:500]
    return list(page.context["cl"].result_list), [q["sql"] for q in captured]


def assert_no_distinct(statements: list[str]) -> None:
    offending = [sql for sql in statements if "DISTINCT" in sql.upper()]
    assert not offending, offending


# --- registrations ---------------------------------------------------------------------


@pytest.fixture
def registrations():
    de = TldFactory(name="de")
    customer = AccountFactory(email="Shop@Mueller.example")
    munich = RegistrationFactory(name="xn--mnchen-3ya.de", tld=de, account=customer,
                                 upstream_id="guid-munich")
    # A second row of the same customer, whose name holds its own upstream id: a term
    # that matches it both ways lists it once.
    shop = RegistrationFactory(name="shop-mueller.com", account=customer,
                               upstream_id="shop")
    plain = RegistrationFactory(name="example.com", upstream_id="guid-plain")
    return {"munich": munich, "shop": shop, "plain": plain}


@pytest.mark.parametrize(("term", "expected"), [
    ("münchen.de", {"munich"}),               # Unicode typed, stored in punycode
    ("xn--mnchen-3ya.de", {"munich"}),        # punycode typed
    ("MÜNCHEN.DE", {"munich"}),
    ("münchen", {"munich"}),                  # a Unicode label's substring
    ("xn--mnchen-3ya", {"munich"}),           # the same label in punycode
    ("mnchen", {"munich"}),                   # a substring of the punycode form
    ("ampl", {"plain"}),                      # a label substring
    ("example.co", {"plain"}),                # with a dot: the start of a name
    ("shop@mueller.example", {"munich", "shop"}),   # the account's e-mail, any case
    ("SHOP@MUELLER.EXAMPLE", {"munich", "shop"}),
    ("guid-plain", {"plain"}),                # the upstream id, whole
    ("ample.com", set()),                     # a dot makes it a name's start
    ("nobody@mueller.example", set()),
])
def test_a_registration_is_found_by_each_shape_of_term(root, registrations, term, expected):
    rows, statements = search(root, "registrar.registration", term)
    assert sorted(r.pk for r in rows) == sorted(registrations[key].pk for key in expected)
    assert_no_distinct(statements)


def test_a_registration_matched_several_ways_is_listed_once(root, registrations):
    # "shop" is in its name and is its upstream id; the customer's e-mail holds it too,
    # but an e-mail is matched whole only.
    rows, statements = search(root, "registrar.registration", "shop")
    assert [r.pk for r in rows] == [registrations["shop"].pk]
    assert_no_distinct(statements)


def test_a_registration_is_found_by_its_number(root, registrations):
    rows, _ = search(root, "registrar.registration", str(registrations["plain"].pk))
    assert registrations["plain"].pk in [r.pk for r in rows]


def test_the_help_text_says_what_is_searched(root, registrations):
    page = root.get(reverse("admin:registrar_registration_changelist"))
    assert b"e-mail address" in page.content and b"upstream id" in page.content


# --- contacts --------------------------------------------------------------------------


@pytest.fixture
def contacts():
    owner = ContactFactory(first_name="Grace", last_name="Hopper", organization="",
                           email="Grace@Navy.example", handle="GH-1")
    admin_ = ContactFactory(first_name="Alan", last_name="Turing", organization="")
    tech = ContactFactory(first_name="Edsger", last_name="Dijkstra", organization="")
    billing = ContactFactory(first_name="Barbara", last_name="Liskov", organization="")
    bystander = ContactFactory(first_name="Ada", last_name="Lovelace")
    kept = {"owner": owner, "admin": admin_, "tech": tech, "billing": billing,
            "bystander": bystander}

    def backed(name: str, **roles):
        values = {"owner_contact": bystander, "admin_contact": bystander,
                  "tech_contact": bystander, "billing_contact": bystander}
        values.update(roles)
        return RegistrationFactory(name=name, **values)

    backed("holder-domain.com", owner_contact=owner)
    backed("admin-domain.com", admin_contact=admin_)
    backed("tech-domain.com", tech_contact=tech)
    backed("billing-domain.com", billing_contact=billing)
    # The holder also backs two more, in every role: still one row.
    for name in ("hopper-one.com", "hopper-two.com"):
        backed(name, owner_contact=owner, admin_contact=owner, tech_contact=owner,
               billing_contact=owner)
    backed("xn--mnchen-3ya.com", tech_contact=tech)
    return kept


@pytest.mark.parametrize(("term", "role"), [
    ("holder-domain.com", "owner"),
    ("admin-domain.com", "admin"),
    ("tech-domain.com", "tech"),
    ("billing-domain.com", "billing"),
])
def test_a_contact_is_found_by_a_domain_it_backs_in_each_role(root, contacts, term, role):
    rows, statements = search(root, "contacts.contact", term)
    # The bystander backs these registrations in the other three roles.
    assert sorted(r.pk for r in rows) == sorted([contacts[role].pk,
                                                 contacts["bystander"].pk])
    assert_no_distinct(statements)


def test_a_contact_is_found_by_a_unicode_domain_it_backs(root, contacts):
    for term in ("münchen.com", "xn--mnchen-3ya.com", "münchen"):
        rows, _ = search(root, "contacts.contact", term)
        assert contacts["tech"].pk in [r.pk for r in rows], term
        assert contacts["owner"].pk not in [r.pk for r in rows], term


def test_a_contact_backing_many_registrations_is_listed_once(root, contacts):
    rows, statements = search(root, "contacts.contact", "hopper")
    # Its own last name and six role links to two registrations: one row.
    assert [r.pk for r in rows] == [contacts["owner"].pk]
    assert_no_distinct(statements)


@pytest.mark.parametrize("term", ["grace@navy.example", "GRACE@NAVY.EXAMPLE"])
def test_a_contact_is_found_by_its_email_in_any_case(root, contacts, term):
    rows, statements = search(root, "contacts.contact", term)
    assert [r.pk for r in rows] == [contacts["owner"].pk]
    assert_no_distinct(statements)


def test_a_contact_is_found_by_a_persons_two_names(root, contacts):
    for term in ("Grace Hopper", "hopper grace", "GRACE HOP"):
        rows, statements = search(root, "contacts.contact", term)
        assert [r.pk for r in rows] == [contacts["owner"].pk], term
        assert_no_distinct(statements)
    # Every word must match: a first name with someone else's last name finds no one.
    rows, _ = search(root, "contacts.contact", "Grace Lovelace")
    assert rows == []


def test_a_contact_is_found_by_handle_and_upstream_id(root, contacts):
    rows, _ = search(root, "contacts.contact", "gh-1")
    assert [r.pk for r in rows] == [contacts["owner"].pk]
    rows, _ = search(root, "contacts.contact", str(contacts["admin"].upstream_id))
    assert contacts["admin"].pk in [r.pk for r in rows]


# --- the other registrar changelists ---------------------------------------------------


def test_hosts_addresses_keys_processes_and_log_entries_are_found(root):
    registration = RegistrationFactory(name="xn--mnchen-3ya.com")
    other = RegistrationFactory(name="example.org")
    host = HostFactory(registration=registration, host_name="ns1.xn--mnchen-3ya.com")
    HostFactory(registration=other, host_name="ns1.example.org")
    address = HostAddressFactory(host=host, address="192.0.2.77")
    HostAddressFactory(host=HostFactory(registration=other), address="192.0.2.78")
    key = DnssecKeyFactory(registration=registration)
    DnssecKeyFactory(registration=other)
    process = ProcessFactory(registration=registration, upstream_id="proc-77")
    ProcessFactory(registration=other, upstream_id="proc-78")
    entry = ProcessLogEntryFactory(process=process, message="Registry answered: pending")
    ProcessLogEntryFactory(process=process, message="Process started")

    expectations = [
        ("registrar.host", "münchen", [host]),
        ("registrar.host", "ns1.xn--mnchen", [host]),
        ("registrar.hostaddress", "192.0.2.77", [address]),
        ("registrar.hostaddress", "not-an-address", []),   # no inet error, no rows
        ("registrar.hostaddress", "ns1.xn--mnchen-3ya", [address]),
        ("registrar.dnsseckey", "münchen.com", [key]),
        ("registrar.process", "proc-77", [process]),
        ("registrar.process", "münchen", [process]),
        ("registrar.processlogentry", "proc-77", None),
        ("registrar.processlogentry", "registry PENDING", [entry]),
    ]
    for model, term, expected in expectations:
        rows, statements = search(root, model, term)
        if expected is None:
            assert len(rows) == 2, (model, term)
        else:
            assert [r.pk for r in rows] == [e.pk for e in expected], (model, term)
        assert_no_distinct(statements)


def test_approvals_are_found_by_ticket_summary_and_registration(root):
    approval = ApprovalFactory(registration=RegistrationFactory(name="xn--mnchen-3ya.com"),
                               ticket="SUP-4711", summary="Push transfer to the new owner")
    ApprovalFactory(ticket="SUP-9", summary="Reveal the code")
    for term in ("SUP-4711", "new owner", "münchen"):
        rows, statements = search(root, "registrar.approval", term)
        assert [r.pk for r in rows] == [approval.pk], term
        # The operation filter lists the values present (few rows: people's requests).
        assert_no_distinct([sql for sql in statements
                            if not sql.startswith('SELECT DISTINCT "registrar_approval"'
                                                  '."operation"')])
