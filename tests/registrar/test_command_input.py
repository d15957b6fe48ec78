"""Command-line arguments no one can store or read back (a lone surrogate, which is what
Python makes of an undecodable byte in argv; a NUL) are refused by every project command,
naming the option, before any audit row is written or anything is sent."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backoffice.cli import ProjectCommand, unreadable_reason
from backoffice.models import StaffAction
from registrar.models import Registration
from tests.factories import RegistrationFactory, TldFactory

SURROGATE = "\udcff"  # os.fsdecode(b"\xff")
NUL = "\x00"

#: One run of each command that takes a string, with BAD where the hostile value goes,
#: and the option the refusal must name.
RUNS = [
    (("registration", "lock", "example.com", "--as", "support-test", "--ticket", "BAD"),
     "--ticket"),
    (("registration", "lock", "example.com", "--as", "BAD"), "--as"),
    (("registration", "nameservers", "example.com", "--as", "support-test",
      "--ns", "ns1.example.net", "--ns", "BAD"), "--ns"),
    (("approval", "list", "--as", "BAD"), "--as"),
    (("approval", "decline", "1", "--as", "support-test", "--note", "BAD"), "--note"),
    (("configure_provider", "main-api", "--kind", "sandbox", "--base-url",
      "https://BAD.example", "--as", "admin-test"), "--base-url"),
    (("configure_provider", "BAD", "--kind", "sandbox", "--base-url",
      "https://sandbox.invalid"), "label"),
    (("provider_check", "sandbox", "--base-url", "https://BAD.example"), "--base-url"),
    (("expiring", "--days", "30", "--tld", "BAD"), "--tld"),
    (("sync_registrations", "--provider", "BAD"), "--provider"),
    (("sync_registrations", "--only", "example.com", "BAD"), "--only"),
    (("runsandbox", "--host", "BAD"), "--host"),
    (("export_orders", "--since", "2026-01-01", "--until", "2026-02-01", "--status", "BAD"),
     "--status"),
    (("sync_orders", "--account", "BAD"), "--account"),
]


@pytest.fixture
def world(sandbox, support_user, admin_user_role):
    registration = RegistrationFactory(name="example.com", tld=TldFactory(name="com"))
    sandbox.seed()
    sandbox.transport.requests.clear()
    return registration


@pytest.mark.parametrize("bad", [SURROGATE, NUL, "a\x1bb", "b" + SURROGATE + ".com"],
                         ids=["surrogate", "nul", "escape", "surrogate-inside"])
@pytest.mark.parametrize(("argv", "option"), RUNS, ids=[f"{a[0]}-{o}" for a, o in RUNS])
def test_unreadable_arguments_are_refused_before_anything(world, sandbox, argv, option, bad,
                                                          capsys):
    actions_before = StaffAction.objects.count()
    argv = tuple(arg.replace("BAD", bad) for arg in argv)
    with pytest.raises(CommandError) as caught:
        call_command(*argv)
    message = str(caught.value)
    assert message.startswith(option) and message.endswith(".")
    # The refusal itself is printable: it does not echo the value.
    message.encode("utf-8")
    assert bad not in message
    assert StaffAction.objects.count() == actions_before
    assert sandbox.transport.requests == []
    world.refresh_from_db()
    assert world.locked is False


def test_a_tab_is_an_ordinary_character(world, sandbox, capsys):
    call_command("registration", "lock", "example.com", "--as", "support-test",
                 "--ticket", "T-1\tfrom the phone")
    assert sandbox.transport.sent("PATCH", "/lock")
    assert StaffAction.objects.filter(action="registration.lock").count() == 1


def test_every_project_command_checks_its_arguments():
    packages = ["registrar.management.commands", "billing.management.commands",
                "backoffice.management.commands"]
    names = []
    for package in packages:
        module = importlib.import_module(package)
        for info in pkgutil.iter_modules(module.__path__):
            command = importlib.import_module(f"{package}.{info.name}").Command
            names.append(info.name)
            assert issubclass(command, ProjectCommand), info.name
    assert {"registration", "sync_registrations", "export_orders", "demo"} <= set(names)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec=None, categories=None), max_size=20))
def test_the_check_refuses_exactly_what_cannot_be_stored(value):
    reason = unreadable_reason(value)
    try:
        value.encode("utf-8")
        clean = not any((ord(c) < 0x20 and c != "\t") or c == "\x7f" for c in value)
    except UnicodeEncodeError:
        clean = False
    assert (reason is None) == clean


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bad=st.sampled_from([SURROGATE, NUL, "\ud800x", "x\x07"]),
       where=st.sampled_from(["--ticket", "--as", "--otp"]))
def test_no_string_option_of_registration_slips_through(world, sandbox, bad, where):
    options = {"--as": "support-test", "--ticket": "T-1", "--otp": "123456"}
    options[where] = bad
    argv = ["registration", "lock", "example.com"]
    for name, value in options.items():
        argv += [name, value]
    with pytest.raises(CommandError, match=f"^{where} "):
        call_command(*argv)
    assert not StaffAction.objects.exists()
    assert sandbox.transport.requests == []


# --- sync_registrations --only ---------------------------------------------------------


@pytest.mark.parametrize("name", ["not a name", "bad-.com", "a..b.com", "com"])
def test_sync_only_refuses_an_invalid_name_naming_it(world, sandbox, name):
    with pytest.raises(CommandError) as caught:
        call_command("sync_registrations", "--only", "example.com", name)
    assert str(caught.value).startswith(f"--only “{name}” is refused: ")
    assert str(caught.value).endswith(".")
    assert sandbox.transport.requests == []
    assert Registration.objects.count() == 1
