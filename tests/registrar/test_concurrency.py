"""Two staff members click Lock on the same registration at the same moment."""

import threading

import pytest
from django.db import connection, connections

from registrar import services
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
