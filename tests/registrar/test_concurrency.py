"""Two staff members click Lock on the same registration at the same moment."""

import threading

import pytest
from django.db import connection, connections

from registrar import services
from registrar.models import Registration
from registrar.operations import RegistrationBusy
from tests.factories import RegistrationFactory, TldFactory, UserFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="row locks (SELECT ... FOR UPDATE NOWAIT) need PostgreSQL"),
]


def test_two_concurrent_locks_make_exactly_one_upstream_mutation(sandbox):
    registration = RegistrationFactory(name="race.com", tld=TldFactory(name="com"))
    agents = [UserFactory(username=f"agent{n}", groups=["Support"]) for n in range(2)]
    sandbox.seed()
    sandbox.transport.requests.clear()
    # The registrar is slow, so the first request still holds the row when the second comes.
    sandbox.fault(f"{registration.upstream_id}/lock$", method="PATCH", delay=1.0, times=1)

    start = threading.Barrier(2)
    results: list[object] = []

    def click(agent):
        try:
            start.wait()
            results.append(services.registration_set_lock(
                registration=registration, locked=True, actor=agent))
        except RegistrationBusy as busy:
            results.append(busy)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=click, args=(agent,)) for agent in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    busy = [r for r in results if isinstance(r, RegistrationBusy)]
    done = [r for r in results if not isinstance(r, RegistrationBusy)]
    assert len(busy) == 1 and len(done) == 1
    assert "Someone else is changing this registration" in busy[0].message
    assert done[0].status == "succeeded"
    assert len(sandbox.transport.sent("PATCH", "/lock")) == 1


@pytest.mark.parametrize("force", [False, True], ids=["held-for-the-brake", "written-as-read"])
def test_a_sync_of_1200_registrations_reverts_and_refuses_none_of_30_operations(sandbox, force):
    """Acceptance: a full sync runs while 30 staff operations change the registrations
    it is reading. None is refused because of the sync, none is written back."""
    from registrar.sandbox import get_app
    from registrar.sync import sync_provider
    from tests.factories import ProviderAccountFactory
    from tests.registrar.test_sync import edit_upstream, upstream

    account = ProviderAccountFactory(label="sandbox")
    app = get_app()
    app.state.seed(upstream(1200))
    assert sync_provider(account).created == 1200
    # The registrar changed 100 of them since: the sync has real work to write.
    for n in range(100):
        edit_upstream(f"sync-{n:05d}", expires_at="2029-01-01T00:00:00Z")
    agents = [UserFactory(username=f"agent{n}", groups=["Support"]) for n in range(6)]
    connections.close_all()
    app.latency = 0.003  # each upstream read takes a little while, as a real one does

    sync_running, reports = threading.Event(), []

    def sync() -> None:
        try:
            reports.append(sync_provider(account, concurrency=8, force=force,
                                         on_progress=lambda _: sync_running.set()))
        finally:
            sync_running.set()
            connections.close_all()

    expected: dict[str, dict[str, bool]] = {}
    outcomes: list[object] = []

    def work(agent, names) -> None:
        sync_running.wait(timeout=30)
        try:
            for name in names:
                registration = Registration.objects.get(name=name)
                if len(expected) % 2:
                    outcome = services.registration_set_auto_renew(
                        registration=registration, auto_renew=not registration.auto_renew,
                        actor=agent)
                    expected[name] = {"auto_renew": not registration.auto_renew}
                else:
                    outcome = services.registration_set_lock(
                        registration=registration, locked=not registration.locked,
                        actor=agent)
                    expected[name] = {"locked": not registration.locked}
                outcomes.append(outcome)
        except Exception as exc:  # a refusal is what the test counts
            outcomes.append(exc)
        finally:
            connections.close_all()

    names = [f"sync{n:05d}.com" for n in range(0, 300, 10)]  # 30, spread over the pages
    threads = [threading.Thread(target=sync)] + [
        threading.Thread(target=work, args=(agent, names[i::6])) for i, agent in
        enumerate(agents)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    app.latency = 0

    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert refused == [] and len(outcomes) == 30
    assert all(o.status == "succeeded" for o in outcomes)
    report = reports[0]
    assert report.seen == 1200 and not report.aborted and report.errors == 0
    # Not one operation was reverted, and the mirror equals the registrar everywhere.
    reverted = [name for name, fields in expected.items()
                for field, value in fields.items()
                if getattr(Registration.objects.get(name=name), field) != value]
    assert reverted == []
    with app.state.read() as data:
        upstream_now = {r["name"]: dict(r) for r in data["registrations"].values()}
    for row in Registration.objects.all():
        theirs = upstream_now[row.name]
        assert (row.locked, row.auto_renew) == (theirs["locked"], theirs["auto_renew"]), row
        assert row.expires_at.year == int(theirs["expires_at"][:4])
