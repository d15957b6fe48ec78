"""Registrar processes: followed to the end by the real task code, or given up on."""

from __future__ import annotations

import pytest
from celery.signals import before_task_publish
from django.core.management import CommandError, call_command
from django.urls import reverse

from backoffice.models import StaffAction
from backoffice.roles import ADMIN, FINANCE, SUPPORT
from registrar import services
from registrar.models import Process, ProcessStatus
from registrar.tasks import poll_process
from tests.factories import RegistrationFactory, TldFactory, UserFactory


@pytest.fixture
def agent(db):
    return UserFactory(username="agent", groups=[SUPPORT])


@pytest.fixture
def registration(sandbox):
    registration = RegistrationFactory(name="process.com", tld=TldFactory(name="com"))
    sandbox.seed()
    return registration


@pytest.fixture
def polls():
    """The polls published to the broker: (args, kwargs) of each registrar.poll_process."""
    sent = []

    def capture(sender=None, body=None, **kwargs):
        if sender == poll_process.name:
            args, task_kwargs, _ = body
            sent.append((list(args), dict(task_kwargs)))

    before_task_publish.connect(capture, weak=False)
    yield sent
    before_task_publish.disconnect(capture)


def start(sandbox, registration, agent, *, polls=2, outcome="COMPLETED"):
    sandbox.next_async(registration.upstream_id, polls=polls, outcome=outcome)
    result = services.registration_set_lock(registration=registration, locked=True,
                                            actor=agent)
    assert result.status == "pending"
    return result.process


def test_202_running_completed_through_the_task(sandbox, registration, agent, polls,
                                                django_capture_on_commit_callbacks):
    # Polls are published once the transaction commits: the callbacks run here.
    with django_capture_on_commit_callbacks(execute=True):
        process = start(sandbox, registration, agent, polls=2)
    process.refresh_from_db()
    # The 202 starts the one chain of polls, carrying the time it is due.
    assert polls == [([process.pk], {"due": process.next_poll_at.isoformat()})]
    with django_capture_on_commit_callbacks(execute=True):
        assert poll_process.run(process.pk, **polls[-1][1]) == "running"
    process.refresh_from_db()
    assert process.status == ProcessStatus.RUNNING and process.poll_count == 1
    # It keeps following: exactly one next poll, due at the new next_poll_at.
    assert len(polls) == 2
    assert polls[-1] == ([process.pk], {"due": process.next_poll_at.isoformat()})
    assert polls[-1] != polls[0]
    # A poll of an older time is superseded by the chain: it polls nothing.
    sent = len(sandbox.transport.requests)
    assert poll_process.run(process.pk, **polls[0][1]) == "superseded"
    assert len(sandbox.transport.requests) == sent
    with django_capture_on_commit_callbacks(execute=True):
        assert poll_process.run(process.pk, **polls[-1][1]) == "completed"
    process.refresh_from_db()
    assert process.status == ProcessStatus.COMPLETED and process.completed_at
    assert process.log_entries.exists()
    registration.refresh_from_db()
    assert registration.locked and not registration.pending_async
    assert registration.last_synced_at is not None
    assert len(polls) == 2  # and stops when done
    closing = StaffAction.objects.get(action=f"process.{process.action}")
    assert closing.outcome == "succeeded" and closing.actor is None


def test_a_failed_process_leaves_the_change_unmade(sandbox, registration, agent):
    process = start(sandbox, registration, agent, polls=1, outcome="FAILED")
    assert poll_process.run(process.pk) == "failed"
    registration.refresh_from_db()
    assert not registration.locked and not registration.pending_async
    assert StaffAction.objects.get(action=f"process.{process.action}").outcome == "failed"


def test_a_process_that_never_finishes_ends_stuck(sandbox, registration, agent, settings,
                                                 polls, django_capture_on_commit_callbacks):
    settings.PROCESS_POLL_LIMIT = 3
    with django_capture_on_commit_callbacks(execute=True):
        process = start(sandbox, registration, agent, polls=1000)
    assert len(polls) == 1
    outcomes, published = [], []
    for _ in range(6):
        # Each poll runs as the chain's last published one.
        with django_capture_on_commit_callbacks(execute=True):
            outcomes.append(poll_process.run(process.pk, **polls[-1][1]))
        published.append(len(polls))
    assert outcomes[:3] == ["running", "running", "stuck"]
    assert set(outcomes[3:]) == {"stuck"}
    # Each running poll published exactly one next poll; none once it is stuck.
    assert published == [2, 3, 3, 3, 3, 3]
    assert all(args == [process.pk] for args, _ in polls)
    assert len({kwargs["due"] for _, kwargs in polls}) == 3
    process.refresh_from_db()
    assert process.stuck and process.poll_count == 3
    row = StaffAction.objects.get(action="process.stuck")
    assert "did not finish after 3 polls" in row.message


def test_unreadable_processes_also_end_stuck(sandbox, registration, agent, settings):
    settings.PROCESS_POLL_LIMIT = 2
    process = start(sandbox, registration, agent, polls=1000)
    sandbox.fault(f"/processes/{process.upstream_id}$", status=502, times=50)
    assert [poll_process.run(process.pk) for _ in range(2)] == ["error", "stuck"]


def test_resend_resumes_a_suspended_process(sandbox, registration, agent):
    process = start(sandbox, registration, agent, polls=1, outcome="SUSPENDED")
    poll_process.run(process.pk)
    process.refresh_from_db()
    assert process.status == ProcessStatus.SUSPENDED and not process.is_terminal
    outcome = services.process_resend(process=process, actor=agent)
    assert outcome.status == "succeeded"
    assert sandbox.transport.sent("POST", f"/processes/{process.upstream_id}/resend")
    for _ in range(3):
        if poll_process.run(process.pk) == "completed":
            break
    registration.refresh_from_db()
    assert registration.locked and not registration.pending_async


def test_resend_is_refused_unless_suspended(sandbox, registration, agent):
    process = start(sandbox, registration, agent, polls=5)
    sent = len(sandbox.transport.requests)
    with pytest.raises(services.OperationRefused, match="suspended"):
        services.process_resend(process=process, actor=agent)
    assert len(sandbox.transport.requests) == sent


def test_cancel_stops_the_process_and_unblocks(sandbox, registration, agent):
    process = start(sandbox, registration, agent, polls=5)
    outcome = services.process_cancel(process=process, actor=agent)
    assert outcome.status == "succeeded"
    assert sandbox.transport.sent("DELETE", f"/processes/{process.upstream_id}/cancel")
    process.refresh_from_db()
    registration.refresh_from_db()
    assert process.status == ProcessStatus.CANCELLED and process.is_terminal
    assert not registration.pending_async and not registration.locked
    assert StaffAction.objects.filter(action="process.cancel", actor=agent).exists()
    with pytest.raises(services.OperationRefused, match="already ended"):
        services.process_cancel(process=process, actor=agent)


def test_poll_processes_sweeps_every_open_process_once(sandbox, agent, capsys):
    tld = TldFactory(name="com")
    registrations = [RegistrationFactory(name=f"sweep{n}.com", tld=tld) for n in range(3)]
    sandbox.seed()
    processes = [start(sandbox, r, agent, polls=1) for r in registrations]
    call_command("poll_processes", "--dry-run")
    assert "3 process(es) to poll; nothing was polled" in capsys.readouterr().out
    assert all(not p.is_terminal for p in Process.objects.all())
    call_command("poll_processes")
    out = capsys.readouterr().out
    assert "Polled 3 process(es)" in out and "3 completed" in out
    assert all(Process.objects.get(pk=p.pk).status == "COMPLETED" for p in processes)


def test_poll_processes_exits_non_zero_when_polls_fail(sandbox, registration, agent):
    start(sandbox, registration, agent, polls=5)
    sandbox.fault("/processes/", status=502, times=10)
    with pytest.raises(CommandError, match="1 poll"):
        call_command("poll_processes")


# --- the admin ---------------------------------------------------------------------------

CAN = {SUPPORT: True, ADMIN: True, FINANCE: False, "staff": False}


@pytest.mark.parametrize("role", [SUPPORT, FINANCE, ADMIN, "staff"])
def test_process_action_permission_matrix(sandbox, registration, client, role_users, agent,
                                          role):
    process = start(sandbox, registration, agent, polls=50)
    before = StaffAction.objects.count()
    client.force_login(role_users[role])
    page = client.get(reverse("admin:registrar_process_change", args=[process.pk]))
    if role in (FINANCE, "staff"):
        assert page.status_code == 403
    else:
        html = page.content.decode()
        assert 'data-process-action="cancel"' in html
        assert 'data-process-action="resend"' in html  # shown disabled: not suspended
        assert "<pre>" in html and "&quot;status&quot;" in html  # the raw body, pretty
    for action in ("resend", "cancel"):
        url = reverse("admin:registrar_process_action", args=[process.pk, action])
        status = client.post(url).status_code
        assert status == 302 if CAN[role] else status == 403, (role, action, status)
    process.refresh_from_db()
    assert (process.status == "CANCELLED") is CAN[role]
    assert (StaffAction.objects.count() > before) is CAN[role]
