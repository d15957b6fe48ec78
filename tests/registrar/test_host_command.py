"""`manage.py host`: glue hosts from a shell, against the sandbox: the request that left,
the rows and audit rows left behind, the output and the exit status."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from backoffice.models import StaffAction
from backoffice.roles import FINANCE, SUPPORT
from registrar.models import Host, Registration
from registrar.providers.http import RetryPolicy
from tests.factories import (
    HostAddressFactory,
    HostFactory,
    RegistrationFactory,
    TldFactory,
    UserFactory,
)


@pytest.fixture(autouse=True)
def no_retry_waits(monkeypatch):
    monkeypatch.setattr(RetryPolicy, "delay", lambda self, attempt: 0.0)


@pytest.fixture
def world(sandbox):
    UserFactory(username="agent", groups=[SUPPORT])
    UserFactory(username="counter", groups=[FINANCE])
    registration = RegistrationFactory(name="example.com", tld=TldFactory(name="com"))
    host = HostFactory(registration=registration, host_name="ns1.example.com")
    HostAddressFactory(host=host, address="192.0.2.1", version=4)
    HostAddressFactory(host=host, address="2001:db8::1", version=6)
    sandbox.seed()
    sandbox.transport.requests.clear()
    return type("World", (), {"registration": registration, "host": host,
                              "sandbox": sandbox})


def run(*args: str) -> str:
    out = StringIO()
    call_command("host", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def mirror(registration: Registration) -> dict[str, set[str]]:
    return {host.host_name: {a.address for a in host.addresses.all()}
            for host in Host.objects.filter(registration=registration)}


def sent_body(world, method: str, suffix: str = "") -> dict:
    requests = world.sandbox.transport.sent(method, suffix)
    assert len(requests) == 1, [(r.method, r.url.path) for r in world.sandbox.transport.requests]
    return json.loads(requests[0].content) if requests[0].content else {}


def test_list_reads_the_mirror_in_every_format_and_sends_nothing(world):
    table = run("list", "example.com", "--as", "agent")
    assert "ns1.example.com" in table and "192.0.2.1 2001:db8::1" in table
    assert table.strip().splitlines()[-1] == "1 glue host(s) of example.com in the mirror."
    rows = json.loads(run("list", "example.com", "--as", "agent", "--format", "json"))
    assert rows == [{"host_name": "ns1.example.com", "unicode_name": "ns1.example.com",
                     "addresses": "192.0.2.1 2001:db8::1"}]
    csv_text = run("list", "example.com", "--as", "agent", "--format", "csv")
    assert csv_text.splitlines()[0] == "host_name,unicode_name,addresses"
    assert world.sandbox.transport.requests == []


def test_list_remote_reads_the_registrar_and_changes_nothing(world):
    Host.objects.filter(pk=world.host.pk).delete()  # the mirror lost it; the registrar has it
    out = run("list", "example.com", "--as", "agent", "--remote")
    [request] = world.sandbox.transport.requests
    assert request.method == "GET"
    assert request.url.path == f"/api/domain_registrations/{world.registration.upstream_id}/hosts"
    assert "ns1.example.com" in out and "at the registrar (the mirror was not changed)" in out
    assert mirror(world.registration) == {}
    assert not StaffAction.objects.exists()


def test_create_sends_the_host_mirrors_it_and_audits_once(world):
    out = run("create", "example.com", "ns2.example.com", "--ip", "198.51.100.7",
              "--ip", "2001:DB8::53", "--as", "agent")
    assert sent_body(world, "POST", "/hosts") == {
        "host_name": "ns2.example.com",
        "addresses": [{"address": "198.51.100.7"}, {"address": "2001:db8::53"}]}
    assert mirror(world.registration)["ns2.example.com"] == {"198.51.100.7", "2001:db8::53"}
    row = StaffAction.objects.get()
    assert (row.action, row.actor.username, row.outcome) == ("host.create", "agent",
                                                             "succeeded")
    assert out.startswith("succeeded: Glue host ns2.example.com created on example.com")


def test_edit_replaces_the_addresses(world):
    run("edit", "example.com", "ns1.example.com", "--ip", "203.0.113.9", "--as", "agent")
    assert sent_body(world, "PATCH", "/hosts/ns1.example.com") == {
        "addresses": [{"address": "203.0.113.9"}]}
    assert mirror(world.registration) == {"ns1.example.com": {"203.0.113.9"}}
    assert StaffAction.objects.get().action == "host.update"


def test_delete_removes_it_at_the_registrar_and_here(world):
    out = run("delete", "example.com", "ns1.example.com", "--as", "agent")
    assert world.sandbox.transport.sent("DELETE", "/hosts/ns1.example.com")
    assert mirror(world.registration) == {}
    assert StaffAction.objects.get().action == "host.delete"
    assert "deleted from example.com" in out


@pytest.mark.parametrize("argv", [
    ("create", "example.com", "ns2.example.com", "--ip", "198.51.100.7"),
    ("edit", "example.com", "ns1.example.com", "--ip", "198.51.100.7"),
    ("delete", "example.com", "ns1.example.com"),
], ids=["create", "edit", "delete"])
def test_dry_run_sends_nothing_and_stores_nothing(world, argv):
    before = mirror(world.registration)
    out = run(*argv, "--as", "agent", "--dry-run")
    assert out.startswith("Dry run: would ")
    assert "Nothing was sent or stored." in out
    assert world.sandbox.transport.requests == []
    assert mirror(world.registration) == before
    assert not StaffAction.objects.exists()


@pytest.mark.parametrize(("argv", "named"), [
    (("create", "example.com", "ns1.other.org", "--ip", "198.51.100.7"), "HOST"),
    (("create", "example.com", "ns1.example.com", "--ip", "198.51.100.7"), "HOST"),
    (("create", "example.com", "ns2.example.com", "--ip", "192.0.2.0/24"), "--ip"),
    (("edit", "example.com", "ns1.example.com", "--ip", "127.0.0.1"), "--ip"),
    (("edit", "example.com", "ns9.example.com", "--ip", "198.51.100.7"), "HOST"),
    (("delete", "nowhere.com", "ns1.nowhere.com"), "NAME"),
], ids=["not-below", "exists", "cidr", "loopback", "unknown-host", "unknown-name"])
def test_bad_input_is_refused_naming_it_before_anything_leaves(world, argv, named):
    before = mirror(world.registration)
    with pytest.raises(CommandError) as refused:
        run(*argv, "--as", "agent")
    assert str(refused.value).startswith(named)
    assert world.sandbox.transport.requests == []
    assert mirror(world.registration) == before
    assert not StaffAction.objects.exists()


@pytest.mark.parametrize("verb", ["create", "edit", "delete"])
def test_a_user_without_the_role_is_refused_with_no_request(world, verb):
    argv = {"create": ("create", "example.com", "ns2.example.com", "--ip", "198.51.100.7"),
            "edit": ("edit", "example.com", "ns1.example.com", "--ip", "198.51.100.7"),
            "delete": ("delete", "example.com", "ns1.example.com")}[verb]
    with pytest.raises(CommandError, match="counter is not allowed to"):
        run(*argv, "--as", "counter")
    assert world.sandbox.transport.requests == []
    assert not StaffAction.objects.exists()
    # Glue hosts are Support's and Admins' (as in the admin): Finance do not read them.
    with pytest.raises(CommandError, match=r"needs the permission registrar\.view_host"):
        run("list", "example.com", "--as", "counter", "--remote")
    assert world.sandbox.transport.requests == []


def test_a_registrar_refusal_is_audited_and_exits_non_zero(world):
    world.sandbox.fault("/hosts", method="POST", status=422, code="invalid_address")
    with pytest.raises(CommandError, match="did not succeed"):
        run("create", "example.com", "ns2.example.com", "--ip", "198.51.100.7",
            "--as", "agent")
    assert "ns2.example.com" not in mirror(world.registration)
    assert StaffAction.objects.get().outcome == "failed"
