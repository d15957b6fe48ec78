"""Every option and positional that takes a value, of every management command of the
project (found through django.core.management.get_commands(), filtered to the project's
apps), fed the hostile values of its kind: each run ends in a CommandError (or argparse's
SystemExit 2) naming the option, with no other exception, no audit row, no upstream
request, and nothing stored. Arguments arriving as surrogate-escaped bytes (what Python
makes of argv that is not UTF-8) are refused the same way before anything happens.
Counts go to the hostile tally.

tests/registrar/test_command_input.py covers surrogates and NULs in one run per command;
this drives each option with the whole catalogue of its kind.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from dataclasses import dataclass
from io import StringIO

import pytest
from django.core.management import CommandError, call_command, get_commands, load_command_class
from django.db import transaction

from backoffice.models import StaffAction
from backoffice.roles import ADMIN
from billing.models import Order
from contacts.models import Contact
from registrar.models import Approval, ProviderAccount, Registration, Tld
from registrar.sandbox.server import is_loopback
from tests.factories import ApprovalFactory, UserFactory
from tests.hostile.probe import carried, stored_anywhere
from tests.hostile.tally import record
from tests.hostile.values import ADDRESSES, BIDI, DATES, IDS, NAMES, NUMBERS, TEXT
from tests.registrar.test_command_input import world  # noqa: F401

PROJECT_APPS = ("registrar", "billing", "backoffice", "contacts")
#: Django's own options on every command: not the project's to check.
DJANGO_DESTS = {"help", "version", "verbosity", "settings", "pythonpath", "traceback",
                "no_color", "force_color", "skip_checks"}
KEY = ("257 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+"
       "KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==")
#: Look-alike names registrar/values/names.py accepts today (reported to its owner).
NAME_RULE_GAPS = {"p\u0430ypal.com", "g\u03bfogle.com", "\u0430pple.com"}
#: parse_day reads "20261201" and "2026-1-1" as dates; export_orders' own YYYY-MM-DD
#: check refuses them, so they are hostile here all the same.
MISSING_PATHS = ["/nonexistent/names.txt", "/nonexistent", "relative/missing.txt",
                 "/etc/shadow-missing", "~nobody/names.txt", "/proc/self/none",
                 "names\u202etxt.exe"]
USERS = ["nobody", "", "   ", "inactive-user", "plain-user", "support-test ", "SUPPORT-TEST",
         "support-test\u200b"]


def _clean(value: str) -> bool:
    # A tab is ordinary in an argument (a note may hold one).
    return not any(char in BIDI or (ord(char) < 0x20 and char != "\t")
                   or 0x7F <= ord(char) < 0xA0
                   or 0xD800 <= ord(char) <= 0xDFFF or char in "\ufffe\uffff"
                   for char in value)


@dataclass(frozen=True)
class Kind:
    """The hostile values an option takes, and `limit`: clean text up to this length is
    ordinary there (None: any clean text is, e.g. a free-text note)."""

    values: tuple[str, ...]
    limit: int | None = 0
    tolerated: frozenset[str] = frozenset()

    def cases(self) -> Iterator[tuple[str, bool]]:
        """(value, must it be refused)."""
        for value in dict.fromkeys(self.values):
            if value in self.tolerated:
                yield value, False
            elif self.limit is not None and self.limit and _clean(value):
                yield value, len(value) > self.limit
            elif self.limit is None and _clean(value):
                yield value, False
            else:
                yield value, True


def kind(*lists: list[str], limit: int | None = 0, tolerated: set[str] = frozenset()) -> Kind:
    return Kind(tuple(value for values in lists for value in values), limit,
                frozenset(tolerated))


TLD_NAMES = [name for name in NAMES if name not in ("example", "com")]
TEXT_FREE = kind(TEXT, limit=None)  # a note, a reason: clean text of any length is fine
KINDS: dict[str, Kind] = {
    "name": kind(NAMES, tolerated=NAME_RULE_GAPS),
    # A domain search takes a base name too ("example" searched across the TLDs).
    "base_name": kind(NAMES, tolerated={*NAME_RULE_GAPS, "example", "com"}),
    "tld": kind(TLD_NAMES, TEXT, tolerated=NAME_RULE_GAPS),
    "user": kind(TEXT, USERS, tolerated={"support-test "}),  # stripped, as typed
    "otp": kind(TEXT, NUMBERS, ["000000", "12345678", "abcdefgh"], tolerated={"", " "}),
    "ticket": kind(TEXT, limit=64),
    "free": TEXT_FREE,
    "key": kind(TEXT, ["257 13", "abc def ghi", "257 13 !!!notbase64", "999 13 AAAA",
                       "257 999 AAAA", ""]),
    "field": kind([f"name={text}" for text in TEXT if not _clean(text)],
                  ["name", "=x", "bogus=x", "", "email", f"email={'a' * 300}@x.com"]),
    "id": kind(IDS),
    "role": kind([f"existing:{value}" for value in IDS], TEXT,
                 ["existing:", "bogus", "new:1", "same_as_owner:1", ""],
                 tolerated={"existing: 1", "existing:1 "}),  # the id, stripped
    "recipient": kind(TEXT, ["REG IDS", "reg/ids", "", "-REG", "R" * 33]),
    "choice": kind(TEXT, ["", "ON", "enable ", "yes"]),
    "path": kind(MISSING_PATHS, [text for text in TEXT if not _clean(text)]),
    "number": kind(NUMBERS, ["0", "99999", "-5", "3651", "1_000", "+5", "0x10"]),
    # runsandbox: no value here may be valid, or the run would serve until killed.
    "port": kind(NUMBERS, ["-5", "65536", "99999", "1_000", "+5", "0x10"]),
    "latency": kind(NUMBERS, ["-5", "1_000", "+5", "0x10"]),
    "timeout": kind(NUMBERS, ["0", "0.5", "61", "nan", "inf", "-inf", "1e1", "15,5"],
                    tolerated={"1.5"}),
    "date": kind(DATES, ["2026-12-01 ", ""]),
    # No status given (or only commas) is every status.
    "status": kind(TEXT, ["paid", "COMPLETED ", "", ",", "completed;drop"],
                   tolerated={"", ","}),
    # Never a directory that exists: an accepted value would write a file there.
    "output": kind(["/nonexistent/out.csv", "relative/missing/out.csv", "/proc/self/x/o.csv",
                    "~nobody/out.csv", "/dev/null/out.csv", "/proc/version/out.csv",
                    "/nonexistent/" + "x" * 300],
                   [text for text in TEXT if not _clean(text)]),
    "label": kind(TEXT, ["", "Main API!", "a/b", "x" * 200]),
    # A filter: empty is every account.
    "account_filter": kind(TEXT, ["Main API!", "a/b", "x" * 200, "sandbox "], tolerated={""}),
    "kind": kind(TEXT, ["", "Sandbox", "domain-api", "http"]),
    "url": kind(TEXT, ["http://example.com", "https://10.0.0.5/", "https://[::1]/",
                       "https://user:pw@example.com", "ftp://example.com", "javascript:x",
                       "https://", "https://example.com:99999/"]),
    # The address printed with the demo logins: nothing here may be one.
    "demo_url": kind(TEXT, ["http://127.0.0.1:8000/admin/?x", "http://127.0.0.1:8000/",
                            "ftp://127.0.0.1/admin/", "http://user:pw@h/admin/",
                            "http://h:0/admin/", "http://h:99999/admin/", "javascript:x",
                            "http://exa mple/admin/", ""]),
    "secret_env": kind(TEXT, ["SECRET_KEY", "DATABASE_URL", "sk_live_x", "PROVIDER_SECRET_",
                              "lower_case"]),
    "account_ref": kind(TEXT, limit=128),
    "host": kind([value for value in ADDRESSES + NAMES + TEXT
                  if not is_loopback(value)], ["localhost6", "0"]),
}


@dataclass(frozen=True)
class Run:
    """A valid run of a command (or of one of its subcommands), and the kind of value
    each of its value-taking arguments takes."""

    surface: str
    prefix: tuple[str, ...]
    options: tuple[tuple[str, str | None], ...]  # None: a flag
    positionals: tuple[tuple[str, str], ...]
    kinds: dict[str, str]


REGISTRATION_SHARED = {"names": "name", "file": "path", "actor": "user", "otp": "otp",
                       "ticket": "ticket", "reason": "free"}
#: Stands for the id of the waiting request the fixture makes.
APPROVAL = "<approval>"


def _registration(op: str, *, options=(), positionals=(), kinds=None, actor="support-test"
                  ) -> Run:
    return Run(f"command:registration:{op}", ("registration", op),
               (("--as", actor), *options), (*positionals, ("names", "example.com")),
               {**REGISTRATION_SHARED, **(kinds or {})})


RUNS: list[Run] = [
    _registration("lock"),
    _registration("unlock"),
    _registration("privacy", positionals=(("state", "on"),), kinds={"state": "choice"}),
    _registration("auto-renew", positionals=(("state", "on"),), kinds={"state": "choice"}),
    _registration("dnssec", positionals=(("mode", "enable"),), options=(("--key", KEY),),
                  kinds={"mode": "choice", "keys": "key"}),
    _registration("nameservers", options=(("--ns", "ns1.example.net"),
                                          ("--ns", "ns2.example.net")),
                  kinds={"nameservers": "name"}),
    _registration("holder", options=(("--mode", "edit_current"), ("--field", "city=Berlin")),
                  kinds={"mode": "choice", "fields": "field", "source_contact": "id"}),
    _registration("contacts", options=(("--admin", "same_as_owner"),),
                  kinds={"admin": "role", "tech": "role", "billing": "role",
                         "fields": "field"}),
    _registration("auth-code"),
    _registration("sync"),
    _registration("transfer-out", actor="admin-test", positionals=(("decision", "reject"),),
                  options=(("--reason", "The customer did not ask for it."),),
                  kinds={"decision": "choice"}),
    _registration("push-transfer", actor="admin-test", options=(("--recipient", "REG-IDS"),),
                  kinds={"recipient": "recipient"}),
    _registration("resend-verification"),
    Run("command:approval:list", ("approval", "list"), (("--as", "admin-two"),), (),
        {"actor": "user"}),
    Run("command:approval:decline", ("approval", "decline"),
        (("--as", "admin-two"), ("--note", "Checked the ticket.")),
        (("approval_id", APPROVAL),),
        {"actor": "user", "approval_id": "id", "note": "free", "otp": "otp"}),
    Run("command:approval:approve", ("approval", "approve"),
        (("--as", "admin-two"),), (("approval_id", APPROVAL),),
        {"actor": "user", "approval_id": "id", "note": "free", "otp": "otp"}),
    Run("command:configure_provider", ("configure_provider",),
        (("--kind", "sandbox"), ("--base-url", "https://sandbox.invalid"),
         ("--account", "test-account"), ("--secret-env", "PROVIDER_SECRET_SANDBOX"),
         ("--timeout", "15"), ("--tld", "com"), ("--as", "admin-test"), ("--dry-run", None)),
        (("label", "sandbox"),),
        {"label": "label", "kind": "kind", "base_url": "url", "account_ref": "account_ref",
         "secret_env": "secret_env", "timeout_seconds": "timeout", "tlds": "tld",
         "actor": "user"}),
    Run("command:send_notices", ("send_notices",), (("--dry-run", None),), (),
        {"now": "date", "output_format": "choice"}),
    Run("command:domain_search", ("domain_search",), (("--tld", "com"), ("--term", "2")),
        (("name", "example"),),
        {"name": "base_name", "tld": "tld", "term": "number", "output_format": "choice"}),
    Run("command:expiring", ("expiring",), (("--days", "30"),), (),
        {"days": "number", "output_format": "choice", "tld": "tld"}),
    Run("command:provider_check", ("provider_check",), (("--as", "admin-test"),),
        (("label", "sandbox"),), {"label": "label", "base_url": "url", "actor": "user"}),
    Run("command:runsandbox", ("runsandbox",), (("--memory", None),), (),
        {"host": "host", "port": "port", "latency_ms": "latency"}),
    Run("command:sync_registrations", ("sync_registrations",),
        (("--dry-run", None), ("--force", None)), (),
        {"provider": "account_filter", "concurrency": "number", "only": "name",
         "parts": "number"}),
    Run("command:export_orders", ("export_orders",),
        (("--since", "2026-01-01"), ("--until", "2026-02-01")), (),
        {"since": "date", "until": "date", "status": "status", "output": "output"}),
    Run("command:sync_orders", ("sync_orders",), (("--dry-run", None),), (),
        {"account": "account_filter"}),
    Run("command:demo", ("demo",), (), (), {"url": "demo_url"}),
]


# --- finding every value-taking argument ----------------------------------------------


def project_commands() -> dict[str, str]:
    return {name: app for name, app in get_commands().items()
            if app.split(".")[-1] in PROJECT_APPS}


def value_arguments(name: str) -> dict[tuple[str, ...], dict[str, argparse.Action]]:
    """(command, subcommand?) -> dest -> action, for every argument taking a value."""
    parser = load_command_class(project_commands()[name], name).create_parser("manage.py",
                                                                              name)
    found: dict[tuple[str, ...], dict[str, argparse.Action]] = {}
    pending = [((name,), parser)]
    while pending:
        prefix, current = pending.pop()
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                pending.extend(((*prefix, sub), subparser)
                               for sub, subparser in action.choices.items())
            elif action.nargs != 0 and action.dest not in DJANGO_DESTS:
                found.setdefault(prefix, {})[action.dest] = action
        found.setdefault(prefix, {})
    return found


def test_every_value_taking_argument_has_a_run_and_a_kind():
    """The walk: a new option or command without hostile values here fails this test."""
    runs = {run.prefix: run for run in RUNS}
    missing = []
    walked = 0
    for name in project_commands():
        for prefix, actions in value_arguments(name).items():
            if not actions:
                continue  # poll_processes, setup_roles, and the bare `registration`
            walked += 1
            run = runs.get(prefix)
            for dest in actions:
                if run is None or dest not in run.kinds:
                    missing.append(f"{' '.join(prefix)} {dest}")
    assert not missing, missing
    assert walked == len(RUNS)
    assert {"registration", "approval", "export_orders", "demo"} <= set(project_commands())


# --- running ----------------------------------------------------------------------------


def _argv(run: Run, dest: str, action: argparse.Action, value: str) -> list[str]:
    options = [(option, given) for option, given in run.options]
    positionals = [(name, given) for name, given in run.positionals]
    if action.option_strings:
        option = max(action.option_strings, key=len)
        same = [index for index, (name, _) in enumerate(options) if name == option]
        if same:
            options[same[-1]] = (option, value)
        else:
            options.append((option, value))
    else:
        positionals = [(name, value if name == dest else given) for name, given in positionals]
        if dest not in dict(positionals):
            positionals.append((dest, value))
    argv = list(run.prefix)
    for option, given in options:
        argv.append(option if given is None else f"{option}={given}")
    # After "--" a positional starting with "-" is still a positional.
    return [*argv, "--", *(given for _, given in positionals)] if positionals else argv


def _with_ids(argv: list[str], approval: Approval) -> list[str]:
    return [str(approval.pk) if arg == APPROVAL else arg for arg in argv]


def _names_of(action: argparse.Action) -> list[str]:
    names = list(action.option_strings) or [action.dest]
    if action.metavar:
        names.append(str(action.metavar))
    return names


@dataclass
class Outcome:
    refused: bool
    named: bool
    unexpected: str = ""


def _call(argv: list[str], names: list[str], field: str = "") -> Outcome:
    out, err = StringIO(), StringIO()
    try:
        call_command(*argv, stdout=out, stderr=err)
    except CommandError as error:
        message = str(error)
        # A contact field's value is checked by the service for each registration: the
        # result line names the field, and the error points at the NAME lines.
        by_line = bool(field) and "NAME lines" in message and f"{field}:" in out.getvalue()
        return Outcome(True, any(name in message for name in names) or by_line)
    except SystemExit as exit_:
        return Outcome(exit_.code == 2, any(name in err.getvalue() for name in names))
    except Exception as error:  # anything but a CommandError is a traceback for staff
        return Outcome(True, False, f"{type(error).__name__}: {error}"[:200])
    if "Traceback" in err.getvalue():
        return Outcome(False, False, "traceback on stderr")
    return Outcome(False, False)


def _rows() -> tuple[int, ...]:
    return (StaffAction.objects.count(), Registration.objects.count(),
            Contact.objects.count(), ProviderAccount.objects.count(), Tld.objects.count(),
            Order.objects.count(), Approval.objects.filter(status="pending").count())


@pytest.fixture
def command_world(world, sandbox, support_user, admin_user_role):  # noqa: F811
    UserFactory(username="inactive-user", is_active=False, is_staff=True)
    UserFactory(username="plain-user", is_staff=False)
    # The requester may run it; a second admin decides.
    UserFactory(username="admin-two", groups=[ADMIN])
    return ApprovalFactory(registration=world, requested_by=admin_user_role)


def _drive(run: Run, sandbox, approval: Approval, refused_texts: set[str]
           ) -> tuple[list[str], dict[str, int]]:
    """Every hostile value of every value-taking argument of `run`; what went wrong. The
    refused values are added to `refused_texts`, for the columns to be searched once."""
    actions = value_arguments(run.prefix[0])[run.prefix]
    problems: list[str] = []
    counts = dict(values=0, refusals=0, server_errors=0, upstream=0, stored=0, unnamed=0)
    for dest, action in actions.items():
        cases = list(KINDS[run.kinds[dest]].cases())
        if run.prefix[0] == "registration" and run.prefix[1] != "lock" \
                and dest in REGISTRATION_SHARED:
            # The options every operation shares are parsed by the same code: the whole
            # catalogue on lock, every seventh value on the others.
            cases = cases[::7]
        for value, must_refuse in cases:
            argv = _with_ids(_argv(run, dest, action, value), approval)
            before = _rows()
            sandbox.transport.requests.clear()
            with transaction.atomic():
                field = value.partition("=")[0] if dest == "fields" else ""
                outcome = _call(argv, _names_of(action), field)
                if not must_refuse:
                    transaction.set_rollback(True)  # tolerated: what it did is undone
            counts["values"] += 1
            shown = f"{' '.join(run.prefix)} {dest}={value!r:.50}"
            if outcome.unexpected:
                counts["server_errors"] += 1
                problems.append(f"{shown}: {outcome.unexpected}")
                continue
            if not outcome.refused:
                if must_refuse:
                    problems.append(f"{shown}: accepted")
                continue
            counts["refusals"] += 1
            if not must_refuse:
                continue
            refused_texts.add(value)
            if not outcome.named:
                counts["unnamed"] += 1
                problems.append(f"{shown}: refusal does not name {_names_of(action)}")
            sent = len(sandbox.transport.requests)
            if sent or carried(sandbox.transport.requests, value):
                counts["upstream"] += 1
                problems.append(f"{shown}: {sent} upstream request(s)")
            if _rows() != before:
                counts["stored"] += 1
                problems.append(f"{shown}: rows {before} -> {_rows()}")
    return problems, counts


def test_every_argument_refuses_every_hostile_value(command_world, sandbox):
    """Every run in one test, nothing rolled back between the refusals: whatever one
    left behind is still there when the columns are searched, once per distinct value,
    at the end."""
    problems: list[str] = []
    tallies: dict[str, dict[str, int]] = {}
    refused_texts: set[str] = set()
    with transaction.atomic():
        for run in RUNS:
            found, tallies[run.surface] = _drive(run, sandbox, command_world, refused_texts)
            problems += found
        hits = {text: stored_anywhere(text) for text in refused_texts
                if len(text) > 4 and text.strip()}
        transaction.set_rollback(True)
    for text, columns in hits.items():
        # A hit that is still there after the rollback was there before the run.
        if columns and stored_anywhere(text) != columns:
            tallies[RUNS[0].surface]["stored"] += 1
            problems.append(f"{text!r:.50} stored in {columns}")
    for surface, counts in tallies.items():
        record(surface, values=counts["values"], refusals=counts["refusals"],
               server_errors=counts["server_errors"],
               upstream_calls_with_refused_value=counts["upstream"],
               refused_values_stored=counts["stored"],
               refusals_not_naming_the_field=counts["unnamed"])
        assert counts["values"] > 0, surface
    bad = {surface: (counts["server_errors"], counts["upstream"], counts["stored"],
                     counts["unnamed"]) for surface, counts in tallies.items()}
    assert all(figures == (0, 0, 0, 0) for figures in bad.values()), problems
    assert not problems, problems


# --- strict decoding: bytes that are not UTF-8 ----------------------------------------

UNDECODABLE = [os.fsdecode(raw) for raw in (b"\xff", b"caf\xe9", b"\xc3\x28.com", b"\x80abc",
                                            b"ex\xedample.com")]


@pytest.mark.parametrize("run", RUNS, ids=[run.surface for run in RUNS])
def test_surrogate_escaped_bytes_are_refused_before_anything(command_world, sandbox, run):
    actions = value_arguments(run.prefix[0])[run.prefix]
    problems = []
    values = 0
    for dest, action in actions.items():
        for value in UNDECODABLE:
            values += 1
            before = _rows()
            sandbox.transport.requests.clear()
            out, err = StringIO(), StringIO()
            argv = _with_ids(_argv(run, dest, action, value), command_world)
            try:
                call_command(*argv, stdout=out, stderr=err)
            except CommandError as error:
                message = str(error)
                message.encode("utf-8")  # printable: the value is not echoed
                if value in message:
                    problems.append(f"{dest}: echoes the value")
                if not any(name in message for name in _names_of(action)):
                    problems.append(f"{dest}: {message!r} does not name it")
                if not message.endswith(".") and not message.startswith("Error: argument"):
                    problems.append(f"{dest}: {message!r}")
            else:
                problems.append(f"{dest}={value!r}: accepted")
            if sandbox.transport.requests or _rows() != before:
                problems.append(f"{dest}: something happened before the refusal")
    record(f"{run.surface}:undecodable", values=values, refusals=values - len(problems),
           server_errors=0, upstream_calls_with_refused_value=0, refused_values_stored=0,
           refusals_not_naming_the_field=0)
    assert not problems, problems


def test_a_names_file_with_hostile_lines_is_refused_before_anything(command_world, sandbox,
                                                                     tmp_path):
    refused = 0
    hostile = [text for text in TEXT if not _clean(text) and "\n" not in text
               and "\r" not in text and "\ufffe" not in text]
    for number, text in enumerate(hostile):
        path = tmp_path / f"names-{number}.txt"
        try:
            path.write_text(f"example.com\n{text}\n", encoding="utf-8")
        except UnicodeEncodeError:
            path.write_bytes(b"example.com\n" + text.encode("utf-8", "surrogatepass") + b"\n")
        before = _rows()
        with pytest.raises(CommandError) as caught:
            call_command("registration", "lock", "--file", str(path), "--as", "support-test",
                         stdout=StringIO(), stderr=StringIO())
        message = str(caught.value)
        assert message.startswith("--file ") and text not in message, message
        assert sandbox.transport.requests == [] and _rows() == before
        refused += 1
    record("command:registration:--file-contents", values=refused, refusals=refused,
           server_errors=0, upstream_calls_with_refused_value=0, refused_values_stored=0,
           refusals_not_naming_the_field=0)


def test_valid_runs_still_work(command_world, sandbox):
    """The bases the hostile runs start from are valid: the refusals above are the
    values', not the bases'."""
    call_command("registration", "lock", "example.com", "--as", "support-test",
                 stdout=StringIO())
    assert sandbox.transport.sent("PATCH", "/lock")
    call_command("expiring", "--days", "30", stdout=StringIO())
    call_command("export_orders", "--since", "2026-01-01", "--until", "2026-02-01",
                 stdout=StringIO())
    call_command("configure_provider", "sandbox", "--kind", "sandbox", "--base-url",
                 "https://sandbox.invalid", "--timeout", "7.5", "--dry-run",
                 stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match=r"--tld: no TLD \.example"):
        call_command("expiring", "--days", "30", "--tld", "example")
    record("command:valid-bases", values=5, refusals=1, server_errors=0,
           upstream_calls_with_refused_value=0, refused_values_stored=0,
           refusals_not_naming_the_field=0)
