"""One account's sync split into parts (a task per stride of pages): every registration
mirrored once, one audit row per change, the missing decided once after every part,
one report; a part run twice (a redelivered task) counts nothing twice."""

from __future__ import annotations

from collections import Counter

import pytest

from backoffice.models import StaffAction
from registrar.models import Registration
from registrar.sandbox import get_app
from registrar.sync import (
    SPLIT_PART,
    SPLIT_REPORT,
    fail_split_part,
    finish_split_sync,
    start_split_sync,
    sync_provider,
    sync_split_part,
)
from tests.factories import ProviderAccountFactory
from tests.fakes.http import respond
from tests.registrar.providers.domain_api.shapes import (
    assert_sent,
    domain_api,
    registration_payload,
)
from tests.registrar.test_sync import edit_upstream, upstream


@pytest.fixture
def account(sandbox, settings):
    settings.SYNC_PAGE_SIZE = 100  # 12 pages for 1200: each part reads several
    return ProviderAccountFactory(label="sandbox")


def created_per_registration() -> Counter:
    return Counter(StaffAction.objects.filter(action="registration.sync_created")
                   .values_list("target_id", flat=True))


def test_three_parts_mirror_every_registration_once_and_report_once(account):
    get_app().state.seed(upstream(1200))
    run = start_split_sync(account, 3)
    reports = [sync_split_part(account, run, index, concurrency=4) for index in range(3)]

    assert reports[:2] == [None, None]  # only the last part to end finishes
    final = reports[2]
    assert (final.seen, final.created, final.updated, final.errors, final.missing) == (
        1200, 1200, 0, 0, 0)
    assert Registration.objects.count() == 1200
    assert len(set(Registration.objects.values_list("name", flat=True))) == 1200
    created = created_per_registration()
    assert len(created) == 1200 and set(created.values()) == {1}
    assert StaffAction.objects.filter(action=SPLIT_PART).count() == 3
    report_rows = StaffAction.objects.filter(action=SPLIT_REPORT)
    assert report_rows.count() == 1
    assert "seen 1200, created 1200" in report_rows.get().message


def test_a_part_run_again_and_a_second_finish_change_nothing(account):
    get_app().state.seed(upstream(600))
    run = start_split_sync(account, 2)
    sync_split_part(account, run, 0, concurrency=4)
    assert sync_split_part(account, run, 0, concurrency=4) is None  # redelivered
    assert sync_split_part(account, run, 1, concurrency=4).created == 600
    assert finish_split_sync(account, run) is None
    assert sync_split_part(account, run, 1, concurrency=4) is None
    assert StaffAction.objects.filter(action=SPLIT_PART).count() == 2
    assert StaffAction.objects.filter(action=SPLIT_REPORT).count() == 1
    assert set(created_per_registration().values()) == {1}
    assert Registration.objects.count() == 600


def test_missing_is_decided_once_after_all_parts_and_confirmed_upstream(account):
    get_app().state.seed(upstream(500))
    assert sync_provider(account, concurrency=4).created == 500
    with get_app().state.transaction() as data:
        del data["registrations"]["sync-00007"]
    edit_upstream("sync-00100", expires_at="2029-01-01T00:00:00Z")

    run = start_split_sync(account, 3)
    first = sync_split_part(account, run, 0, concurrency=4)
    assert first is None
    assert Registration.objects.filter(missing_upstream_at__isnull=False).count() == 0
    sync_split_part(account, run, 1, concurrency=4)
    final = sync_split_part(account, run, 2, concurrency=4)

    assert (final.seen, final.updated, final.unchanged, final.missing) == (499, 1, 498, 1)
    gone = Registration.objects.get(missing_upstream_at__isnull=False)
    assert gone.upstream_id == "sync-00007"
    assert StaffAction.objects.filter(action="registration.sync_missing").count() == 1
    assert StaffAction.objects.filter(action="registration.sync_updated").count() == 1


def test_a_failed_part_flags_nothing_missing_and_the_report_says_so(account):
    get_app().state.seed(upstream(300))
    assert sync_provider(account, concurrency=4).created == 300
    with get_app().state.transaction() as data:
        del data["registrations"]["sync-00001"]
    run = start_split_sync(account, 2)
    sync_split_part(account, run, 0, concurrency=4)
    final = fail_split_part(account, run, 1, "The registrar is not answering; try later.")

    assert final.aborted and "part 2: failed" in final.aborted
    assert Registration.objects.filter(missing_upstream_at__isnull=False).count() == 0
    report = StaffAction.objects.get(action=SPLIT_REPORT)
    assert "ABORTED" in report.message and "none was flagged missing" in report.message


def page(number: int, *guids: str, last: bool = False) -> dict:
    return {"domain_registrations": [registration_payload(id=guid) for guid in guids],
            "meta": {"page": number, "per_page": 2, "next_page": None if last else number + 1}}


def test_a_part_reads_every_nth_page_and_stops_at_the_last():
    api, upstream = domain_api(respond(200, page(2, "g-3", "g-4")),
                               respond(200, page(5, "g-9", last=True)))
    records = list(api.iter_registration_pages(first=2, step=3, page_size=2))

    assert [r.fields["upstream_id"] for r in records] == ["g-3", "g-4", "g-9"]
    assert [request.url.params["page"] for request in upstream.requests] == ["2", "5"]
    assert_sent(upstream.requests[0], "GET", "/api/domain_registrations",
                params={"page": "2", "per_page": "2"})


def test_a_part_whose_page_is_past_the_end_reads_one_empty_page():
    api, upstream = domain_api(respond(200, {"domain_registrations": [],
                                              "meta": {"page": 9, "next_page": None}}))
    assert list(api.iter_registration_pages(first=9, step=4, page_size=2)) == []
    assert upstream.count == 1


@pytest.fixture
def eager_tasks():
    """The queued tasks run in-process as they are queued (a worker's job elsewhere)."""
    from backoffice.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def test_the_command_queues_a_split_sync_that_the_workers_complete(account, eager_tasks):
    from io import StringIO

    from django.core.management import call_command

    get_app().state.seed(upstream(300))
    out = StringIO()
    call_command("sync_registrations", "--provider", "sandbox", "--parts", "3", stdout=out)
    assert "sync queued in 3 parts" in out.getvalue()
    assert Registration.objects.count() == 300
    assert StaffAction.objects.filter(action=SPLIT_PART).count() == 3
    report = StaffAction.objects.get(action=SPLIT_REPORT)
    assert report.parameters["run"] in out.getvalue()
    assert report.parameters["created"] == 300


@pytest.mark.parametrize("extra", [["--parts", "1"], ["--parts", "65"],
                                   ["--parts", "3", "--dry-run"],
                                   ["--parts", "3", "--only", "a.com"]])
def test_the_command_refuses_parts_it_cannot_honour(account, extra):
    from django.core.management import CommandError, call_command

    get_app().state.seed(upstream(5))
    with pytest.raises(CommandError, match="--parts"):
        call_command("sync_registrations", "--provider", "sandbox", *extra)
    assert not Registration.objects.exists() and not StaffAction.objects.exists()
