"""Changelists at scale (backoffice/changelist.py): the count a page shows ("about N"
from the planner, "more than N" past the cap), deep pages read by a deferred join, pages
past the end, and a query count that depends neither on the rows nor on the page size.

COUNT_CAP, EXACT_BELOW and DEFERRED_FROM are the module's settings: the tests make them
small so that a few rows reach them."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from backoffice import changelist
from registrar.models import Registration
from tests import factories
from tests.backoffice.test_admin_queries import MAKERS as PROJECT_MAKERS
from tests.factories import RegistrationFactory, UserFactory

pytestmark = pytest.mark.django_db

REGISTRATIONS = reverse("admin:registrar_registration_changelist")
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the planner's estimate (pg_class.reltuples) exists on PostgreSQL only")


@pytest.fixture(autouse=True)
def no_remembered_pages():
    # Where deep pages start is cached by their SQL: another test's rows must not
    # decide this test's pages.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def root(client):
    client.force_login(UserFactory(username="root", is_superuser=True))
    return client


def shown(client, url: str = REGISTRATIONS, **params):
    with CaptureQueriesContext(connection) as captured:
        page = client.get(url, params)
    return page, [q["sql"] for q in captured]


def registrations(count: int) -> list[Registration]:
    # A few expiry moments shared by several rows, so that ties are broken by the key.
    start = timezone.now().replace(microsecond=0) + timedelta(days=10)
    return [RegistrationFactory(expires_at=start + timedelta(days=n % 4),
                                last_synced_at=start - timedelta(hours=n % 3))
            for n in range(count)]


def analyse() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Registration._meta.db_table}")


# --- the count's words -----------------------------------------------------------------


@on_postgresql
def test_an_unfiltered_big_list_shows_the_planners_estimate(root, monkeypatch):
    registrations(30)
    analyse()  # the estimate comes from the database's statistics, nothing else
    monkeypatch.setattr(changelist, "EXACT_BELOW", 10)
    page, statements = shown(root)
    assert page.status_code == 200
    assert page.context["cl"].paginator.count_label == "about 30"
    assert b"about 30 registrations" in page.content
    # No COUNT over the whole table.
    assert not [sql for sql in statements if "COUNT(" in sql.upper()
                and "registrar_registration" in sql and "WHERE" not in sql.upper()]


@on_postgresql
def test_a_filtered_or_searched_list_is_counted_not_estimated(root, monkeypatch):
    rows = registrations(30)
    analyse()
    monkeypatch.setattr(changelist, "EXACT_BELOW", 10)
    page, _ = shown(root, status__exact="active")
    assert page.context["cl"].paginator.count_label == "30"
    page, _ = shown(root, q=rows[0].name)
    assert page.context["cl"].paginator.count_label == "1"


def test_a_small_list_is_counted_exactly(root, monkeypatch):
    registrations(12)
    if connection.vendor == "postgresql":
        analyse()  # an estimate of 12, under EXACT_BELOW: the exact count is taken
    monkeypatch.setattr(changelist, "EXACT_BELOW", 20)
    page, _ = shown(root)
    assert page.context["cl"].paginator.count_label == "12"
    assert b"12 registrations" in page.content


def test_a_filtered_count_stops_at_the_cap_and_says_more_than(root, monkeypatch):
    registrations(8)
    monkeypatch.setattr(changelist, "COUNT_CAP", 5)
    page, statements = shown(root, locked__exact="0")
    assert page.status_code == 200
    assert page.context["cl"].paginator.count_label == "more than 5"
    assert b"more than 5 registrations" in page.content
    assert any("LIMIT 6" in sql for sql in statements), statements
    # Under the cap it is exact.
    monkeypatch.setattr(changelist, "COUNT_CAP", 50)
    page, _ = shown(root, locked__exact="0")
    assert page.context["cl"].paginator.count_label == "8"


# --- deep pages ------------------------------------------------------------------------


def _truth(rows: list[Registration], ordering: str) -> list[int]:
    """The list's order computed here: the column, then the primary key descending (the
    tie-break Django adds) unless the column is unique."""
    if ordering == "name":
        return [r.pk for r in sorted(rows, key=lambda r: r.name)]
    field = ordering.lstrip("-")
    descending = ordering.startswith("-")
    ordered = sorted(rows, key=lambda r: -r.pk)
    ordered.sort(key=lambda r: getattr(r, field), reverse=descending)
    return [r.pk for r in ordered]


@pytest.mark.parametrize(("column", "ordering"), [
    (None, "name"),
    ("expires_on", "expires_at"),
    ("-expires_on", "-expires_at"),
    ("synced", "last_synced_at"),
    ("-synced", "-last_synced_at"),
])
def test_a_deep_page_has_the_rows_of_the_plain_offset_in_order(root, monkeypatch, column,
                                                              ordering):
    rows = registrations(20)
    model_admin = admin.site._registry[Registration]
    monkeypatch.setattr(model_admin, "list_per_page", 3)
    monkeypatch.setattr(changelist, "DEFERRED_FROM", 4)
    first, _ = shown(root)
    list_display = list(first.context["cl"].list_display)
    params = {}
    if column is not None:
        index = list_display.index(column.lstrip("-"))
        params["o"] = f"-{index}" if column.startswith("-") else str(index)
    truth = _truth(rows, ordering)
    # Straight to deep pages first (read by the deferred join), then page by page (a
    # page may then start from where the one before ended), then back.
    for number in (5, 7, 1, 2, 3, 4, 5, 6, 7, 3):
        page, statements = shown(root, p=str(number), **params)
        assert page.status_code == 200
        cl = page.context["cl"]
        bottom = (number - 1) * 3
        got = [r.pk for r in cl.result_list]
        assert got == [r.pk for r in cl.queryset[bottom:bottom + 3]], number  # plain OFFSET
        assert got == truth[bottom:bottom + 3], number
        # No page deeper than DEFERRED_FROM is read by an OFFSET over whole rows.
        offsets = [sql for sql in statements if "OFFSET" in sql and "IN (SELECT" not in sql]
        if bottom >= 4:
            assert not offsets, (number, offsets)


# --- pages past the end ----------------------------------------------------------------


def test_a_page_past_a_capped_count_is_an_empty_page_not_an_error(root, monkeypatch):
    registrations(8)
    monkeypatch.setattr(admin.site._registry[Registration], "list_per_page", 2)
    monkeypatch.setattr(changelist, "COUNT_CAP", 5)
    page, _ = shown(root, locked__exact="0", p="4")
    assert page.status_code == 200
    assert len(page.context["cl"].result_list) == 2  # rows 7-8, beyond the cap of 5
    page, _ = shown(root, locked__exact="0", p="50")
    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == []
    for nonsense in ("0", "-3", "abc", "99999999999999999999"):
        page, _ = shown(root, locked__exact="0", p=nonsense)
        assert page.status_code in (200, 302), nonsense


def test_a_page_past_an_exact_end_is_not_an_error(root, monkeypatch):
    registrations(5)
    monkeypatch.setattr(admin.site._registry[Registration], "list_per_page", 2)
    page, _ = shown(root, p="40")
    assert page.status_code in (200, 302)


@on_postgresql
def test_a_page_past_the_estimated_end_is_an_empty_page(root, monkeypatch):
    registrations(30)
    analyse()
    monkeypatch.setattr(changelist, "EXACT_BELOW", 10)
    monkeypatch.setattr(admin.site._registry[Registration], "list_per_page", 10)
    page, _ = shown(root, p="3")
    assert page.context["cl"].paginator.count_label == "about 30"
    assert len(page.context["cl"].result_list) == 10
    page, _ = shown(root, p="9")
    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == []


# --- acceptance: the query count is constant in rows and page size ---------------------

_serial = itertools.count()


def _axes(model_name: str):
    from axes import models as axes_models

    model = getattr(axes_models, model_name)

    def make():
        n = next(_serial)
        values = {"user_agent": "pytest", "ip_address": f"192.0.2.{n % 250 + 1}",
                  "username": f"who{n}", "http_accept": "*/*", "path_info": "/admin/login/"}
        if model_name == "AccessAttempt":
            values.update(get_data="", post_data="", failures_since_start=1)
        return model.objects.create(**values)

    return make


MAKERS = {
    **PROJECT_MAKERS,
    "auth.user": lambda: factories.UserFactory(),
    "auth.group": lambda: Group.objects.create(name=f"group {next(_serial)}"),
    "axes.accessattempt": _axes("AccessAttempt"),
    "axes.accesslog": _axes("AccessLog"),
    "axes.accessfailurelog": _axes("AccessFailureLog"),
}
PAGE_SIZES = (10, 100, 500)


def test_every_registered_changelist_has_a_maker():
    assert {model._meta.label_lower for model in admin.site._registry} == set(MAKERS)


def _count(client, label: str) -> tuple[int, int]:
    app_label, model_name = label.split(".")
    with CaptureQueriesContext(connection) as captured:
        page = client.get(reverse(f"admin:{app_label}_{model_name}_changelist"))
    assert page.status_code == 200
    return len(captured), len(page.context["cl"].result_list)


@pytest.mark.parametrize("label", sorted(MAKERS))
def test_the_query_count_is_constant_in_rows_and_page_size(root, monkeypatch, label):
    model = next(m for m in admin.site._registry if m._meta.label_lower == label)
    model_admin = admin.site._registry[model]
    made = model._default_manager.count()  # the superuser, for auth.user
    counts = {}
    for size in PAGE_SIZES:
        # More rows than the page holds, so that every size is a paginated page.
        while made < size + 5:
            MAKERS[label]()
            made = model._default_manager.count()
        monkeypatch.setattr(model_admin, "list_per_page", size)
        root.get(reverse(f"admin:{label.replace('.', '_')}_changelist"))  # warm caches
        queries, listed = _count(root, label)
        assert listed == size, (label, size, listed)
        counts[size] = queries
    assert len(set(counts.values())) == 1, f"{label}: queries per page size {counts}"
