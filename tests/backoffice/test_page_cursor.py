"""Deep pages reached from the page before are read from where they start (a keyset
range on the ordering's index), and hold exactly the rows a plain OFFSET would."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from backoffice import changelist
from backoffice.models import StaffAction
from registrar.models import Registration
from tests.factories import RegistrationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(client):
    client.force_login(UserFactory(username="root", is_superuser=True))
    return client


def walk(client, url: str, pages: int, **params) -> list[tuple[list[int], list[str]]]:
    seen = []
    for number in range(1, pages + 1):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url, {"p": str(number), **params})
        assert response.status_code == 200
        seen.append(([row.pk for row in response.context["cl"].result_list],
                     [q["sql"] for q in captured]))
    return seen


def keyset(statements: list[str]) -> bool:
    """Read from a remembered key: no statement skips rows by OFFSET (PostgreSQL
    compares the key as a row value, SQLite as its expansion)."""
    return not any(" OFFSET " in sql for sql in statements)


def test_paging_through_a_deep_list_reads_each_page_from_where_it_starts(root, monkeypatch):
    for _ in range(23):
        RegistrationFactory()
    model_admin = admin.site._registry[Registration]
    monkeypatch.setattr(model_admin, "list_per_page", 3)
    monkeypatch.setattr(changelist, "DEFERRED_FROM", 3)
    truth = list(Registration.objects.order_by("name").values_list("pk", flat=True))
    pages = walk(root, reverse("admin:registrar_registration_changelist"), 8)
    for number, (pks, statements) in enumerate(pages, 1):
        assert pks == truth[(number - 1) * 3:number * 3], number
        # Page 2 is the first deep one (offset 3): read by the deferred join; every one
        # after it from the key its predecessor left behind.
        if number == 2:
            assert any("IN (SELECT" in sql and " OFFSET " in sql for sql in statements)
        if number >= 3:
            assert keyset(statements), (number, statements)
    # The same page again, and a page nobody reached from its predecessor.
    again = walk(root, reverse("admin:registrar_registration_changelist"), 1, p="5")
    assert again[0][0] == truth[12:15]


def test_a_newest_first_list_keyed_on_two_columns_pages_like_the_offset(root, monkeypatch):
    actor = UserFactory()
    moment = timezone.now().replace(microsecond=0)
    for n in range(14):  # ties on created_at, broken by id
        StaffAction.objects.create(actor=actor, actor_label=actor.username, action="x.y",
                                   outcome="succeeded", created_at=moment - timedelta(
                                       minutes=n // 3))
    model_admin = admin.site._registry[StaffAction]
    monkeypatch.setattr(model_admin, "list_per_page", 2)
    monkeypatch.setattr(changelist, "DEFERRED_FROM", 2)
    url = reverse("admin:backoffice_staffaction_changelist")
    first = root.get(url)
    ordered = [row.pk for row in first.context["cl"].queryset]
    pages = walk(root, url, 7)
    for number, (pks, _) in enumerate(pages, 1):
        assert pks == ordered[(number - 1) * 2:number * 2], number
    assert keyset(pages[-1][1])


def test_an_ordering_the_cursor_cannot_key_falls_back_to_the_deferred_join(root, monkeypatch):
    for _ in range(12):
        RegistrationFactory()
    model_admin = admin.site._registry[Registration]
    monkeypatch.setattr(model_admin, "list_per_page", 3)
    monkeypatch.setattr(changelist, "DEFERRED_FROM", 3)
    first = root.get(reverse("admin:registrar_registration_changelist"))
    # By customer (a related column): mixed with the id tie-break, not one index.
    index = list(first.context["cl"].list_display).index("customer")
    pages = walk(root, reverse("admin:registrar_registration_changelist"), 4, o=str(index))
    truth = [r.pk for r in first.context["cl"].model_admin.get_queryset(
        first.wsgi_request).order_by("account__name", "-pk")]
    for number, (pks, statements) in enumerate(pages, 1):
        assert pks == truth[(number - 1) * 3:number * 3], number
        if number > 1:
            assert not keyset(statements)
