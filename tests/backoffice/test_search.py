"""The header's search: every kind of key, one hit opened straight away."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import (
    AccountFactory,
    ContactFactory,
    OrderFactory,
    ProcessFactory,
    RegistrationFactory,
)

SEARCH = "/admin/search/"


@pytest.fixture
def rows(db):
    customer = AccountFactory(name="Müller Bäckerei", email="shop@mueller.example",
                              customer_reference="CUST-7781")
    munich = RegistrationFactory(name="xn--mnchen-3ya.de", account=customer,
                                 upstream_id="guid-munich")
    plain = RegistrationFactory(name="example.com")
    contact = ContactFactory(handle="ADA-1", email="ada@lovelace.example", upstream_id=4242)
    order = OrderFactory(account=customer, domain="example.com", upstream_id="ord_99")
    process = ProcessFactory(registration=plain, upstream_id="proc-5150")
    return {"customer": customer, "munich": munich, "plain": plain, "contact": contact,
            "order": order, "process": process}


def change_url(row) -> str:
    return reverse(f"admin:{row._meta.app_label}_{row._meta.model_name}_change",
                   args=[row.pk])


@pytest.mark.parametrize(("query", "target"), [
    ("münchen.de", "munich"),            # Unicode typed, stored as punycode
    ("xn--mnchen-3ya.de", "munich"),     # punycode typed
    ("MÜNCHEN.DE", "munich"),
    ("guid-munich", "munich"),           # the registrar's id
    ("ada@lovelace.example", "contact"),
    ("ADA-1", "contact"),
    ("4242", "contact"),                 # the contact's upstream id
    ("CUST-7781", "customer"),
    ("shop@mueller.example", "customer"),
    ("Bäckerei", "customer"),
    ("ord_99", "order"),
    ("proc-5150", "process"),
])
def test_each_kind_of_key_opens_its_row(client, admin_user, rows, query, target):
    client.force_login(admin_user)
    answer = client.get(SEARCH, {"q": query})
    assert answer.status_code == 302, answer.content[:300]
    assert answer["Location"] == change_url(rows[target])


def test_an_order_id_is_found_as_typed_with_or_without_a_hash(client, admin_user, rows):
    client.force_login(admin_user)
    for query in (f"#{rows['order'].pk}", str(rows["order"].pk)):
        page = client.get(SEARCH, {"q": query})
        # The number may also be a contact's upstream id: then both are listed.
        location = page.get("Location") or ""
        assert location == change_url(rows["order"]) or change_url(rows["order"]).encode() in (
            page.content)


def test_several_hits_are_listed_by_kind(client, admin_user, rows):
    other = RegistrationFactory(name="example.net")
    client.force_login(admin_user)
    page = client.get(SEARCH, {"q": "example"})
    assert page.status_code == 200
    assert list(page.context["groups"]) == ["Registrations"]
    assert change_url(rows["plain"]).encode() in page.content
    assert change_url(other).encode() in page.content


def test_support_finds_no_finance_only_kinds_and_nothing_found_says_so(client, support_user,
                                                                       rows):
    client.force_login(support_user)
    page = client.get(SEARCH, {"q": "nothing-like-this.example"})
    assert page.status_code == 200
    assert "Nothing matches" in page.content.decode()


@pytest.mark.parametrize("query", ["a\u202eb", "x" * 300, "nul\x00"])
def test_a_hostile_query_is_a_message_not_an_error(client, admin_user, rows, query):
    client.force_login(admin_user)
    page = client.get(SEARCH, {"q": query}, follow=True)
    assert page.status_code == 200
    assert "Search:" in page.content.decode()


def test_each_way_of_matching_is_its_own_indexed_query(client, admin_user, rows):
    """An OR of the registrar's id with a name prefix makes PostgreSQL walk the whole
    name index (2 s on a million registrations for "shop"): each is read on its own."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(admin_user)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(SEARCH, {"q": "example"}).status_code in (200, 302)
    searched = [query["sql"] for query in queries.captured_queries
                if 'FROM "registrar_registration"' in query["sql"]
                or 'FROM "billing_account"' in query["sql"]]
    assert len(searched) >= 4 and not [sql for sql in searched if " OR " in sql], searched


def test_hits_found_by_several_queries_are_listed_once_in_name_order(client, admin_user,
                                                                     rows):
    names = [f"shop{index}.com" for index in (3, 1, 2)]
    for name in names:
        RegistrationFactory(name=name)
    RegistrationFactory(name="shopping.net", upstream_id="shop1.com")
    client.force_login(admin_user)
    page = client.get(SEARCH, {"q": "shop1.com"})
    hits = [hit.label for hit in page.context["groups"]["Registrations"]]
    assert hits == ["shop1.com", "shopping.net"]
    page = client.get(SEARCH, {"q": "shop"})
    hits = [hit.label for hit in page.context["groups"]["Registrations"]]
    assert hits == sorted(set(hits)) and hits[:3] == ["shop1.com", "shop2.com", "shop3.com"]


def test_a_name_prefix_is_read_as_a_range_the_name_index_walks_in_order(client, admin_user,
                                                                         rows):
    """PostgreSQL does not use the name index for LIKE 'shop%' under C.UTF-8, so the
    prefix is also given as shop <= name < shoq (1 s -> 0.2 ms on a million)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from backoffice.db import prefix_range, sorts_bytewise

    assert sorts_bytewise()  # SQLite, and the C.UTF-8 databases the suite runs on
    assert prefix_range("name", "shop") == {"name__startswith": "shop", "name__gte": "shop",
                                            "name__lt": "shoq"}
    inside = [RegistrationFactory(name=name) for name in ("shop.com", "shop-a.com",
                                                          "shopz.de", "shop9.net")]
    for name in ("shoo.com", "shoq.com", "sho.com", "shoppe"[:3] + "q-x.com"):
        RegistrationFactory(name=name)
    client.force_login(admin_user)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(SEARCH, {"q": "shop"})
    found = {hit.label for hit in page.context["groups"]["Registrations"]}
    assert found == {row.name for row in inside}
    (prefix_sql,) = [query["sql"] for query in queries.captured_queries
                     if "LIKE" in query["sql"] and "registrar_registration" in query["sql"]]
    assert ">=" in prefix_sql and "<" in prefix_sql
    page = client.get(SEARCH, {"q": "shop-a"})
    assert page.status_code == 302  # the one hit, opened
