"""`manage.py process list|show|remote|resend|cancel`, run with call_command against the
sandbox: the requests that left, the rows and audit rows left behind, the output and the
exit status (CommandError)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command

from backoffice.models import StaffAction
from registrar import services
from registrar.management.commands.process import Command as ProcessCommand
from registrar.models import Process, ProcessStatus
from registrar.tasks import poll_process
from tests.factories import ProcessLogEntryFactory, RegistrationFactory, TldFactory


@pytest.fixture
def registration(sandbox):
    registration = RegistrationFactory(name="process.com", tld=TldFactory(name="com"))
    sandbox.seed()
    return registration


def start(sandbox, registration, actor, *, polls=5, outcome="COMPLETED") -> Process:
    """A 202 from the sandbox: a Process row the back-office follows."""
    sandbox.next_async(registration.upstream_id, polls=polls, outcome=outcome)
    result = services.registration_set_lock(registration=registration, locked=True,
                                            actor=actor)
    assert result.status == "pending"
    return result.process


def out_of(capsys) -> str:
    return capsys.readouterr().out


def test_admin_surfaces_are_declared():
    assert ProcessCommand.admin_surfaces == (
        "page:admin:registrar_process_action", "model:registrar.process:change",
        "model:registrar.processlogentry:change", "page:admin:registrar_registration_processes",
        "page:admin:registrar_process_remote")


# --- list and show: the mirror -------------------------------------------------------------


def test_list_shows_the_mirror_newest_first_in_every_format(sandbox, registration,
                                                           support_user, capsys):
    process = start(sandbox, registration, support_user)
    ended = RegistrationFactory(name="other.com", tld=registration.tld)
    old = Process.objects.create(registration=ended, upstream_id="9001", action="update",
                                 status=ProcessStatus.COMPLETED)
    sandbox.transport.requests.clear()
    call_command("process", "list", "--as", "support-test")
    lines = out_of(capsys).splitlines()
    assert lines[0].split() == ["id", "upstream_id", "registration", "action", "status",
                                "stuck", "polls", "created_at", "updated_at"]
    assert [line.split()[1] for line in lines[2:-1]] == ["9001", process.upstream_id]
    assert lines[-1] == "2 process(es)."
    # Only the mirror is read.
    assert sandbox.transport.requests == []

    call_command("process", "list", "--as", "support-test", "--state", "open",
                 "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out_of(capsys))))
    assert [(r["id"], r["registration"], r["status"]) for r in rows] == [
        (str(process.pk), "process.com", process.status)]

    call_command("process", "list", "--as", "support-test", "--registration", "other.com",
                 "--format", "json")
    document = json.loads(out_of(capsys))
    assert document["count"] == 1
    assert document["processes"][0]["upstream_id"] == "9001"
    assert document["processes"][0]["id"] == old.pk

    call_command("process", "list", "--as", "support-test", "--stuck")
    assert out_of(capsys).strip() == "0 process(es)."


def test_list_limit_says_there_are_more(sandbox, registration, support_user, capsys):
    for number in range(3):
        Process.objects.create(registration=registration, upstream_id=f"80{number}",
                               status=ProcessStatus.COMPLETED)
    call_command("process", "list", "--as", "support-test", "--limit", "2")
    out = out_of(capsys)
    assert out.splitlines()[-1].startswith("2 process(es) shown; there are more")
    with pytest.raises(CommandError, match=r"--limit must be from 1 to 1000"):
        call_command("process", "list", "--as", "support-test", "--limit", "5000")


def test_reading_needs_the_process_admins_permission(sandbox, registration, support_user,
                                                     finance_user):
    start(sandbox, registration, support_user)
    sandbox.transport.requests.clear()
    before = StaffAction.objects.count()
    for argv in (("list",), ("remote", "process.com")):
        with pytest.raises(CommandError, match=r"finance-test is not allowed to read "
                                               r"processes .*registrar\.view_process"):
            call_command("process", *argv, "--as", "finance-test")
    assert sandbox.transport.requests == []
    assert StaffAction.objects.count() == before


def test_list_refuses_an_unknown_registration(db, support_user):
    with pytest.raises(CommandError, match=r"--registration: no registration nowhere.com"):
        call_command("process", "list", "--as", "support-test", "--registration",
                     "nowhere.com")


def test_show_prints_the_mirror_and_its_log(sandbox, registration, support_user, capsys):
    process = start(sandbox, registration, support_user)
    ProcessLogEntryFactory(process=process, message="Validated by the registry")
    sandbox.transport.requests.clear()
    call_command("process", "show", str(process.pk), "--as", "support-test")
    out = out_of(capsys)
    assert f"upstream_id:  {process.upstream_id}" in out
    assert "Log (1 line(s)):" in out and "Validated by the registry" in out
    assert sandbox.transport.requests == []
    call_command("process", "show", str(process.pk), "--as", "support-test", "--format",
                 "json")
    document = json.loads(out_of(capsys))
    assert document["process"]["upstream_id"] == process.upstream_id
    assert [line["message"] for line in document["log"]] == ["Validated by the registry"]
    assert "remote" not in document


def test_show_remote_reads_the_process_at_the_registrar(sandbox, registration, support_user,
                                                       capsys):
    process = start(sandbox, registration, support_user)
    sandbox.transport.requests.clear()
    before = (StaffAction.objects.count(), process.log_entries.count())
    call_command("process", "show", str(process.pk), "--as", "support-test", "--remote",
                 "--format", "json")
    (request,) = sandbox.transport.requests
    assert request.method == "GET"
    assert request.url.path == (f"/api/domain_registrations/{registration.upstream_id}"
                                f"/processes/{process.upstream_id}")
    document = json.loads(out_of(capsys))
    assert document["remote"]["process"]["upstream_id"] == process.upstream_id
    assert document["remote"]["process"]["status"]
    # A read: no audit row, the mirror's log as it was.
    assert (StaffAction.objects.count(), process.log_entries.count()) == before


def test_show_refuses_an_unknown_id(db, support_user):
    with pytest.raises(CommandError, match=r"^ID 424242: no such process in the back-office"):
        call_command("process", "show", "424242", "--as", "support-test")


def test_show_remote_failure_exits_non_zero(sandbox, registration, support_user):
    process = start(sandbox, registration, support_user)
    sandbox.fault(f"/processes/{process.upstream_id}$", status=502, times=5)
    with pytest.raises(CommandError, match=r"could not be read now.*Nothing was changed"):
        call_command("process", "show", str(process.pk), "--as", "support-test",
                     "--remote")


# --- remote: the registrar's list, mirrored as the follow does --------------------------


def test_remote_lists_and_follows_a_process_opened_elsewhere(sandbox, registration,
                                                             support_user, capsys):
    process = start(sandbox, registration, support_user)
    upstream_id = process.upstream_id
    # As if opened at the registrar, not through the back-office.
    Process.objects.filter(pk=process.pk).delete()
    before = StaffAction.objects.count()
    sandbox.transport.requests.clear()
    call_command("process", "remote", "process.com", "--as", "support-test")
    listed = sandbox.transport.sent("GET", f"{registration.upstream_id}/processes")
    assert len(listed) == 1
    mirrored = Process.objects.get(registration=registration, upstream_id=upstream_id)
    assert not mirrored.is_terminal
    row = StaffAction.objects.get(action="registration.processes_found")
    assert StaffAction.objects.count() == before + 1
    assert row.actor == support_user
    assert row.parameters["processes"] == [upstream_id]
    out = out_of(capsys)
    assert upstream_id in out and str(mirrored.pk) in out
    assert out.splitlines()[-1] == (f"1 process(es) at the registrar for process.com; "
                                    f"followed here now: {upstream_id}.")
    # Read again: nothing new is found, so no second audit row.
    call_command("process", "remote", "process.com", "--as", "support-test", "--format",
                 "json")
    document = json.loads(out_of(capsys))
    assert document["processes"][0]["local_id"] == mirrored.pk
    assert StaffAction.objects.count() == before + 1


def test_remote_dry_run_reads_and_stores_nothing(sandbox, registration, support_user, capsys):
    process = start(sandbox, registration, support_user)
    Process.objects.filter(pk=process.pk).delete()
    before = StaffAction.objects.count()
    sandbox.transport.requests.clear()
    call_command("process", "remote", "process.com", "--as", "support-test", "--dry-run",
                 "--format", "csv")
    assert [r.method for r in sandbox.transport.requests] == ["GET"]
    rows = list(csv.DictReader(io.StringIO(out_of(capsys))))
    assert [(r["upstream_id"], r["local_id"]) for r in rows] == [(process.upstream_id, "")]
    assert not Process.objects.exists() and StaffAction.objects.count() == before


def test_remote_upstream_failure_changes_nothing(sandbox, registration, support_user):
    sandbox.fault(f"/api/domain_registrations/{registration.upstream_id}/processes$",
                  status=503, code="registrar_unavailable")
    with pytest.raises(CommandError, match=r"could not be read now"):
        call_command("process", "remote", "process.com", "--as", "support-test")
    assert not Process.objects.exists() and not StaffAction.objects.exists()


# --- resend and cancel: the process page's buttons ------------------------------------------


def test_resend_resumes_a_suspended_process(sandbox, registration, support_user, capsys):
    process = start(sandbox, registration, support_user, polls=1, outcome="SUSPENDED")
    poll_process.run(process.pk)
    process.refresh_from_db()
    assert process.status == ProcessStatus.SUSPENDED
    sandbox.transport.requests.clear()
    before = StaffAction.objects.count()

    call_command("process", "resend", str(process.pk), "--as", "support-test", "--dry-run")
    assert sandbox.transport.requests == [] and StaffAction.objects.count() == before
    assert "ready – would ask" in out_of(capsys)

    call_command("process", "resend", str(process.pk), "--as", "support-test")
    (request,) = sandbox.transport.mutations
    assert (request.method, request.url.path) == (
        "POST", f"/api/domain_registrations/{registration.upstream_id}/processes/"
                f"{process.upstream_id}/resend")
    row = StaffAction.objects.get(action="process.resend")
    assert row.actor == support_user and row.process_id == process.upstream_id
    assert f"succeeded – Process {process.upstream_id} was resumed." in out_of(capsys)


def test_resend_of_a_running_process_is_refused_before_sending(sandbox, registration,
                                                               support_user, capsys):
    process = start(sandbox, registration, support_user)
    sandbox.transport.requests.clear()
    before = StaffAction.objects.count()
    for extra in (("--dry-run",), ()):
        with pytest.raises(CommandError, match=r"refused|would be refused"):
            call_command("process", "resend", str(process.pk), "--as", "support-test",
                         *extra)
    assert "Only a suspended process can be resumed." in out_of(capsys)
    assert sandbox.transport.requests == [] and StaffAction.objects.count() == before


def test_cancel_stops_the_process(sandbox, registration, support_user, capsys):
    process = start(sandbox, registration, support_user)
    sandbox.transport.requests.clear()
    call_command("process", "cancel", str(process.pk), "--as", "support-test", "--dry-run")
    assert sandbox.transport.requests == []
    process.refresh_from_db()
    assert not process.is_terminal
    call_command("process", "cancel", str(process.pk), "--as", "support-test")
    assert sandbox.transport.sent("DELETE", f"/processes/{process.upstream_id}/cancel")
    process.refresh_from_db()
    registration.refresh_from_db()
    assert process.status == ProcessStatus.CANCELLED and not registration.pending_async
    assert StaffAction.objects.get(action="process.cancel").actor == support_user
    capsys.readouterr()
    with pytest.raises(CommandError, match=r"already ended"):
        call_command("process", "cancel", str(process.pk), "--as", "support-test")


def test_cancel_needs_the_permission(sandbox, registration, support_user, finance_user):
    process = start(sandbox, registration, support_user)
    sandbox.transport.requests.clear()
    with pytest.raises(CommandError, match=r"registrar.cancel_process"):
        call_command("process", "cancel", str(process.pk), "--as", "finance-test")
    assert sandbox.transport.requests == []


def test_an_upstream_failure_on_cancel_is_failed_and_exits_non_zero(sandbox, registration,
                                                                    support_user, capsys):
    process = start(sandbox, registration, support_user)
    sandbox.fault(f"/processes/{process.upstream_id}/cancel", status=409,
                  code="registration_busy")
    with pytest.raises(CommandError, match=r"did not succeed"):
        call_command("process", "cancel", str(process.pk), "--as", "support-test")
    assert "(registrar code: registration_busy)" in out_of(capsys)
    assert StaffAction.objects.get(action="process.cancel").outcome == "failed"
