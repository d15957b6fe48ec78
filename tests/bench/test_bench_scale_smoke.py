"""The scale benchmark (bench/bench_scale.py) at a tiny size, so that it cannot rot: its
loader fills every table it promises, and one timing pass gets an answer from every
page it times, the project's, the plain admin's and the SQL floors. Nothing here is
about time: the benchmark prints figures, it never passes or fails on them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from django.db import connection

BENCH = Path(__file__).resolve().parents[2] / "bench"

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the scale benchmark's loader writes its rows with PostgreSQL's generate_series "
           "(and its floors are PostgreSQL EXPLAIN ANALYZE): run with DATABASE_URL=postgres://...")


SAMPLE = {"registrations: first page", "registrations: search one rare name",
          "contacts: search domain", "audit: first page", "orders: search account e-mail",
          "registration page (cockpit)", "customer page", "dashboard (admin index)",
          "finance: needs attention", "header search: rare name",
          "finance: totals of all orders (SQL only)"}


@pytest.fixture
def bench(settings):
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    import bench_scale
    import scale_data

    settings.ROOT_URLCONF = "scale_plain"  # the project's URLs and /plain-admin/
    return bench_scale, scale_data


@pytest.mark.django_db
def test_the_loader_and_one_timing_pass(bench):
    from backoffice.models import StaffAction
    from billing.models import Account, LedgerEntry, Order, OrderItem
    from contacts.models import Contact
    from registrar.models import Process, Registration, Tld
    from registrar.values.names import to_ascii, to_unicode

    bench_scale, scale_data = bench
    scale_data.load(200, verbose=False)

    sizes = scale_data.Sizes.for_registrations(200)
    assert scale_data.loaded_size() == 200
    assert Registration.objects.count() == 200
    assert Tld.objects.count() == 200
    assert Contact.objects.count() == sizes.contacts
    assert Account.objects.count() == sizes.accounts
    assert Order.objects.count() == OrderItem.objects.count() == 200
    assert StaffAction.objects.count() == 200
    assert Process.objects.count() == sizes.processes
    assert LedgerEntry.objects.filter(kind="payment").exists()
    # The names are stored as the project stores them: ASCII in name, Unicode beside it.
    for registration in Registration.objects.all():
        assert registration.name == to_ascii(registration.name_unicode)
        assert registration.name_unicode == to_unicode(registration.name)
    assert Registration.objects.filter(name__startswith="xn--").exists()
    assert Registration.objects.filter(name=scale_data.RARE_NAME).count() == 1

    every = bench_scale.cases(scale_data.targets(), bench_scale.counts())
    assert len({case.label for case in every}) == len(every)
    # One of each kind of page (a list, a deep page, searches, a change page, the
    # dashboard, finance, a floor-only row), each requested once.
    selected = [case for case in every if case.label in SAMPLE or case.label.startswith(
        "registrations: page")]
    assert len(selected) == len(SAMPLE) + 1
    # A short timeout: the plain admin's contact search joins the four role relations
    # and multiplies rows even here; it may time out, the project's pages may not.
    bench_scale.run(selected, reps=0, timeout=2, verbose=False)
    for case in selected:
        for side in ("project", "plain"):
            timing = case.results.get(side)
            if timing is None or (side == "plain" and timing.note == "timed out"):
                continue
            assert timing.note == "", f"{case.label} ({side}): {timing.note}"
            assert timing.status in case.expect, f"{case.label} ({side}): {timing.status}"
            assert timing.queries, f"{case.label} ({side}) ran no query"
        if case.floor is not None:
            assert case.results["floor"].median_ms is not None, case.label
    assert "registrations: first page" in bench_scale.table(selected)
