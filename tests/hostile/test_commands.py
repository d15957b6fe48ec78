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
from tests.hostile.values import (
    ADDRESSES,
    AMOUNTS,
    BIDI,
    COUNTRIES,
    DATES,
    EMAILS,
    IDS,
    NAMES,
    NUMBERS,
    PHONES,
    TEXT,
)
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
    # Money typed in major units (registrar/values/amounts.py); an empty option is refused.
    "amount": kind(AMOUNTS, TEXT),
    "host": kind([value for value in ADDRESSES + NAMES + TEXT
                  if not is_loopback(value)], ["localhost6", "0"]),
    # A contact's fields, as the admin's contact form limits them (contacts/validation.py).
    "contact_name": kind(TEXT, limit=100),
    "contact_text": kind(TEXT, limit=255),
    "post_code": kind(TEXT, limit=32),
    "email": kind(EMAILS, TEXT),
    "phone": kind(PHONES, TEXT),
    "country": kind(COUNTRIES, TEXT),
    "json_object": kind(TEXT, ["[]", "1", "{", '"text"', '{"a": '], tolerated={"{}"}),
    # A glue host's address: what may not be glue (registrar/values/addresses.py).
    "glue_address": kind(ADDRESSES, TEXT),
    # registration dns-records --record "TYPE HOST VALUE [TTL]".
    "dns_record": kind(TEXT, ["", "A", "A www", "1A www 192.0.2.1", "A www 192.0.2.1 0",
                              "A www 192.0.2.1 99999999999"]),
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
#: Stands for the id of the contact behind the fixture's registration.
CONTACT = "<contact>"


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
    _registration("start-transfer-out"),
    _registration("sync"),
    _registration("transfer-out", actor="admin-test", positionals=(("decision", "reject"),),
                  options=(("--reason", "The customer did not ask for it."),),
                  kinds={"decision": "choice"}),
    _registration("push-transfer", actor="admin-test", options=(("--recipient", "REG-IDS"),),
                  kinds={"recipient": "recipient"}),
    _registration("resend-verification"),
    Run("command:registration:show", ("registration", "show"),
        (("--as", "support-test"), ("--remote", None)), (("name", "example.com"),),
        {"actor": "user", "name": "name", "output_format": "choice"}),
    _registration("flag", actor="admin-test", options=(("--reason", "Ticket 1"),)),
    _registration("unflag", actor="admin-test"),
    Run("command:registration:dns-records", ("registration", "dns-records"),
        (("--as", "support-test"), ("--replace", None), ("--record", "A www 192.0.2.10"),
         ("--dry-run", None)), (("name", "example.com"),),
        {"name": "name", "actor": "user", "records": "dns_record", "records_file": "path",
         "output_format": "choice"}),
    Run("command:registration:note", ("registration", "note"),
        (("--as", "support-test"), ("--text", "Called the customer."), ("--dry-run", None)),
        (("name", "example.com"),), {"name": "name", "actor": "user", "text": "free"}),
    Run("command:registration:customer", ("registration", "customer"),
        (("--as", "support-test"), ("--account", "ACC-1"), ("--dry-run", None)),
        (("name", "example.com"),),
        {"name": "name", "actor": "user", "account": "account_ref"}),
    Run("command:registration:notices", ("registration", "notices"),
        (("--as", "support-test"),), (("name", "example.com"),),
        {"name": "name", "actor": "user", "reason": "free", "output_format": "choice"}),
    Run("command:approval:list", ("approval", "list"), (("--as", "admin-two"),), (),
        {"actor": "user", "output_format": "choice"}),
    Run("command:approval:decline", ("approval", "decline"),
        (("--as", "admin-two"), ("--note", "Checked the ticket.")),
        (("approval_id", APPROVAL),),
        {"actor": "user", "approval_id": "id", "note": "free", "otp": "otp"}),
    Run("command:approval:approve", ("approval", "approve"),
        (("--as", "admin-two"),), (("approval_id", APPROVAL),),
        {"actor": "user", "approval_id": "id", "note": "free", "otp": "otp"}),
    Run("command:process:list", ("process", "list"), (("--as", "support-test"),), (),
        {"actor": "user", "registration": "name", "state": "choice", "limit": "number",
         "output_format": "choice"}),
    # No process exists in the world: the id's refusal is the base's, after --as.
    Run("command:process:show", ("process", "show"), (("--as", "support-test"),),
        (("process_id", "1"),), {"actor": "user", "process_id": "id", "output_format": "choice"}),
    Run("command:process:remote", ("process", "remote"),
        (("--as", "support-test"), ("--dry-run", None)), (("name", "example.com"),),
        {"actor": "user", "name": "name", "output_format": "choice"}),
    Run("command:process:resend", ("process", "resend"),
        (("--as", "support-test"), ("--dry-run", None)), (("process_id", "1"),),
        {"actor": "user", "process_id": "id"}),
    Run("command:process:cancel", ("process", "cancel"),
        (("--as", "support-test"), ("--dry-run", None)), (("process_id", "1"),),
        {"actor": "user", "process_id": "id"}),
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
    Run("command:connect_domain", ("connect_domain",),
        (("--account", "sandbox"), ("--as", "support-test"), ("--dry-run", None)),
        (("name", "example.com"),),
        {"name": "name", "account": "label", "actor": "user"}),
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
    Run("command:order:quote", ("order", "quote"),
        (("--as", "support-test"), ("--action", "renew"), ("--account-label", "sandbox")),
        (("account_ref", "ACC-HOSTILE"), ("name", "example.com")),
        {"actor": "user", "account_ref": "account_ref", "name": "name", "action": "choice",
         "years": "number", "provider_label": "label", "owner": "id", "ceiling": "amount",
         "output_format": "choice"}),
    Run("command:order:confirm", ("order", "confirm"),
        (("--as", "support-test"), ("--dry-run", None)), (("quote_id", "1"),),
        {"actor": "user", "quote_id": "id"}),
    Run("command:order:email", ("order", "email"),
        (("--as", "support-test"), ("--dry-run", None), ("--first-name", "John"),
         ("--last-name", "Smith"), ("--street-address", "123 Market Street"),
         ("--city", "San Francisco"), ("--post-code", "94105"), ("--country", "US"),
         ("--phone", "+14155551234"), ("--email-service-provider", "Google"),
         ("--domain", "tryoutreachteam.com: john")),
        (("account_ref", "ACC-HOSTILE"),),
        {"actor": "user", "account_ref": "account_ref", "provider_label": "label",
         "first_name": "free", "last_name": "free", "organization": "free",
         "street_address": "free", "city": "free", "state": "free", "post_code": "free",
         "country": "free", "phone": "free", "email_service_provider": "free",
         "plan_type": "free", "redirect_url": "free", "domains": "free", "file": "path"}),
    Run("command:order:plans", ("order", "plans"), (("--as", "support-test"),), (),
        {"actor": "user", "provider_label": "label", "output_format": "choice"}),
    Run("command:order:mailbox-names", ("order", "mailbox-names"),
        (("--as", "support-test"), ("--first-name", "John"), ("--last-name", "Smith")),
        (("domain", "example.com"),),
        {"actor": "user", "domain": "name", "first_name": "free", "last_name": "free",
         "count": "number", "provider_label": "label", "output_format": "choice"}),
    Run("command:order:list", ("order", "list"), (("--as", "support-test"),), (),
        {"actor": "user", "account": "account_filter", "status": "status", "since": "date",
         "until": "date", "limit": "number", "output_format": "choice"}),
    Run("command:order:show", ("order", "show"), (("--as", "support-test"),),
        (("order_id", "1"),), {"actor": "user", "order_id": "id", "output_format": "choice"}),
    Run("command:order:follow", ("order", "follow"), (("--as", "support-test"),),
        (("order_id", "1"),), {"actor": "user", "order_id": "id"}),
    Run("command:order_status", ("order_status",), (("--as", "support-test"),),
        (("order_ids", "1"),), {"actor": "user", "order_ids": "id", "output_format": "choice"}),
    Run("command:billing_link", ("billing_link",),
        (("--as", "support-test"), ("--return-url", "https://www.example.com/billing")),
        (("account_ref", "ACC-HOSTILE"),),
        {"actor": "user", "account_ref": "account_ref", "return_url": "url",
         "provider_label": "label"}),
    Run("command:account:list", ("account", "list"), (("--as", "support-test"),), (),
        {"actor": "user", "search": "free", "output_format": "choice"}),
    Run("command:account:show", ("account", "show"), (("--as", "support-test"),),
        (("ref", "ACC-HOSTILE"),),
        {"actor": "user", "ref": "account_ref", "output_format": "choice"}),
    Run("command:account:add", ("account", "add"),
        (("--as", "admin-test"), ("--dry-run", None), ("--name", "New Co"),
         ("--email", "ops@new.example")), (("ref", "ACC-NEW"),),
        {"actor": "user", "ref": "account_ref", "name": "free", "email": "email",
         "fields": "field"}),
    Run("command:account:edit", ("account", "edit"),
        (("--as", "admin-test"), ("--dry-run", None), ("--field", "name=Other Co")),
        (("ref", "ACC-HOSTILE"),), {"actor": "user", "ref": "account_ref", "fields": "field"}),
    Run("command:account:delete", ("account", "delete"),
        (("--as", "admin-test"), ("--dry-run", None)), (("refs", "ACC-HOSTILE"),),
        {"actor": "user", "refs": "account_ref"}),
    Run("command:account:note", ("account", "note"),
        (("--as", "support-test"), ("--dry-run", None), ("--text", "Called them.")),
        (("ref", "ACC-HOSTILE"),), {"actor": "user", "ref": "account_ref", "text": "free"}),
    Run("command:demo", ("demo",), (), (), {"url": "demo_url"}),
    Run("command:contact:list", ("contact", "list"), (("--as", "support-test"),), (),
        {"actor": "user", "account": "account_filter", "tld": "tld", "search": "free",
         "limit": "number", "output_format": "choice"}),
    Run("command:contact:show", ("contact", "show"), (("--as", "support-test"),),
        (("contact_id", CONTACT),),
        {"actor": "user", "contact_id": "id", "output_format": "choice"}),
    Run("command:contact:create", ("contact", "create"),
        (("--as", "support-test"), ("--dry-run", None), ("--tld", "com"),
         ("--first-name", "Grace"), ("--last-name", "Hopper"), ("--country", "NL"),
         ("--email", "grace@example.com"), ("--phone", "+31.201234567")), (),
        {"actor": "user", "tld": "tld", "account": "account_filter",
         "first_name": "contact_name", "last_name": "contact_name",
         "organization": "contact_text", "street_address": "contact_text",
         "post_code": "post_code", "city": "contact_name", "state": "contact_name",
         "country": "country", "email": "email", "phone": "phone",
         "extra_properties": "json_object"}),
    Run("command:contact:edit", ("contact", "edit"),
        (("--as", "support-test"), ("--dry-run", None), ("--field", "city=Berlin")),
        (("contact_id", CONTACT),), {"actor": "user", "contact_id": "id", "fields": "field"}),
    Run("command:contact:delete", ("contact", "delete"),
        (("--as", "support-test"), ("--dry-run", None)), (("contact_id", CONTACT),),
        {"actor": "user", "contact_id": "id"}),
    Run("command:contact:resend", ("contact", "resend"),
        (("--as", "support-test"), ("--dry-run", None)), (("contact_id", CONTACT),),
        {"actor": "user", "contact_id": "id"}),
    Run("command:contact:sync", ("contact", "sync"),
        (("--as", "support-test"), ("--dry-run", None), ("--account", "sandbox")), (),
        {"actor": "user", "account": "label"}),
    Run("command:host:list", ("host", "list"), (("--as", "support-test"),),
        (("name", "example.com"),), {"actor": "user", "name": "name", "output_format": "choice"}),
    Run("command:host:create", ("host", "create"),
        (("--as", "support-test"), ("--dry-run", None), ("--ip", "198.51.100.7")),
        (("name", "example.com"), ("host_name", "ns1.example.com")),
        {"actor": "user", "name": "name", "host_name": "name", "addresses": "glue_address"}),
    Run("command:host:edit", ("host", "edit"),
        (("--as", "support-test"), ("--dry-run", None), ("--ip", "198.51.100.7")),
        (("name", "example.com"), ("host_name", "ns1.example.com")),
        {"actor": "user", "name": "name", "host_name": "name", "addresses": "glue_address"}),
    Run("command:host:delete", ("host", "delete"), (("--as", "support-test"), ("--dry-run", None)),
        (("name", "example.com"), ("host_name", "ns1.example.com")),
        {"actor": "user", "name": "name", "host_name": "name"}),
    Run("command:config:tld:list", ("config", "tld", "list"),
        (("--search", "a"),), (),
        {"search": "free", "output_format": "choice"}),
    Run("command:config:tld:show", ("config", "tld", "show"), (), (("tld_name", "com"),),
        {"tld_name": "label", "output_format": "choice"}),
    Run("command:config:tld:add", ("config", "tld", "add"),
        (("--as", "admin-test"), ("--dry-run", None), ("--field", "supports_dnssec=false")), (),
        {"actor": "user", "fields": "field"}),
    Run("command:config:tld:edit", ("config", "tld", "edit"),
        (("--as", "admin-test"), ("--dry-run", None), ("--field", "supports_dnssec=false")),
        (("tld_name", "com"),), {"actor": "user", "tld_name": "label", "fields": "field"}),
    Run("command:config:tld:delete", ("config", "tld", "delete"),
        (("--as", "admin-test"), ("--dry-run", None)), (("tld_name", "com"),),
        {"actor": "user", "tld_name": "label"}),
    Run("command:config:provideraccount:list", ("config", "provideraccount", "list"),
        (("--search", "a"),), (),
        {"search": "free", "output_format": "choice"}),
    Run("command:config:provideraccount:show", ("config", "provideraccount", "show"), (),
        (("account_label", "sandbox"),),
        {"account_label": "label", "output_format": "choice"}),
    Run("command:config:provideraccount:add", ("config", "provideraccount", "add"),
        (("--as", "admin-test"), ("--dry-run", None), ("--field", "timeout_seconds=20")), (),
        {"actor": "user", "fields": "field"}),
    Run("command:config:provideraccount:edit", ("config", "provideraccount", "edit"),
        (("--as", "admin-test"), ("--dry-run", None), ("--field", "timeout_seconds=20")),
        (("account_label", "sandbox"),),
        {"actor": "user", "account_label": "label", "fields": "field"}),
    Run("command:config:provideraccount:delete", ("config", "provideraccount", "delete"),
        (("--as", "admin-test"), ("--dry-run", None)), (("account_label", "sandbox"),),
        {"actor": "user", "account_label": "label"}),
    Run("command:staff:list", ("staff", "list"), (("--as", "root-test"),), (),
        {"actor": "user", "output_format": "choice"}),
    Run("command:staff:reset-second-factor", ("staff", "reset-second-factor"),
        (("--as", "root-test"), ("--dry-run", None)), (("username", "support-test"),),
        {"actor": "user", "username": "user", "otp": "otp"}),
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
    ids = {APPROVAL: str(approval.pk), CONTACT: str(approval.registration.owner_contact_id)}
    return [ids.get(arg, arg) for arg in argv]


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
    # The customer the order, account and billing_link commands are run for.
    from tests.factories import AccountFactory

    AccountFactory(name="Hostile Test", email="hostile@example.com",
                   customer_reference="ACC-HOSTILE")
    UserFactory(username="root-test", is_superuser=True)
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
