"""Every field of every webhook event, fed the hostile values of its kind and every wrong
JSON type: each is refused with a 400 `{"status": "invalid", "field": <its JSON path>}`,
nothing of it is stored (no new row of any kind, the value in no column), it is never
answered "duplicate" and never a 500; the valid values of the same kind are accepted in
their canonical form. Counts go to the hostile tally.

The endpoint is `POST /webhooks/<kind>/<label>/` (backoffice/urls.py), one per provider
account; the requests are signed the way tests/billing/test_webhook_hostile.py signs them.
Upstreams that send no webhooks refuse every body, naming "body".
"""

from __future__ import annotations

import copy
import json
import math
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backoffice.models import StaffAction
from billing.models import LedgerEntry, Order, OrderStatus, WebhookEvent
from registrar.models import Registration
from registrar.providers.registry import ADAPTERS
from registrar.values.amounts import MAX_AMOUNT_MINOR
from tests.billing.test_webhook_hostile import PURCHASE, accounts, post  # noqa: F401
from tests.factories import OrderFactory
from tests.hostile.probe import stored_anywhere
from tests.hostile.tally import record
from tests.hostile.values import (
    ACCEPTED_NAMES,
    AMOUNTS,
    BIDI,
    CURRENCIES,
    DATES,
    IDS,
    NAMES,
    NUMBERS,
    TEXT,
)

#: Where a raw JSON token (a number, NaN) goes in a body: replaced after json.dumps.
RAW_MARK = "\u0000raw-token\u0000"
WRONG_TYPES: list[Any] = [[], ["x"], {}, {"a": 1}, True, False, None]
#: parse_moment reads the ISO 8601 basic form as a date (registrar/values/dates.py): a
#: rule gap reported to the owner of registrar/values/, not a webhook defect.
DATE_RULE_GAPS = {"20261201"}
#: Look-alike (mixed-script) names that registrar/values/names.py accepts today: a rule
#: gap reported to its owner. Sent, never a 500, but not yet required to be refused.
NAME_RULE_GAPS = {"p\u0430ypal.com", "g\u03bfogle.com", "\u0430pple.com"}
#: Near misses of the status words, and numbers for fields that take text.
NEAR_STATUSES = ["Completed", "completed ", " completed", "COMPLETED", "pending", "done",
                 "registered\x00", "regis\u202etered", "", "0"]
EXTRA_NUMBERS = [0, 11, -1, 1.5, MAX_AMOUNT_MINOR + 1, 2**63 - 1, 2**63, 10**21, 1e3, 2.0]


@dataclass(frozen=True)
class Raw:
    """A JSON token put into the body as is: `1e400`, `NaN`, `9999...`."""

    token: str


@dataclass(frozen=True)
class Field:
    """One field an event type reads: its path in the body, the kind of value it takes,
    whether it may be left out, and the column length it lands in."""

    path: str
    kind: str
    required: bool = True
    max_length: int = 64
    allow_int: bool = False
    multiline: bool = False


@dataclass(frozen=True)
class Event:
    """An event type of one upstream, a valid body of it, and the fields it reads."""

    surface: str
    kind: str
    body: dict[str, Any]
    fields: tuple[Field, ...]


def _purchase_fields(prefix: str) -> tuple[Field, ...]:
    return (
        Field(f"{prefix}.id", "id", allow_int=True),
        Field(f"{prefix}.hostname", "name"),
        Field(f"{prefix}.years", "years"),
        Field(f"{prefix}.wholesaleCents", "amount"),
        Field(f"{prefix}.feeCents", "amount"),
        Field(f"{prefix}.totalCents", "amount"),
        Field(f"{prefix}.currency", "currency"),
        Field(f"{prefix}.status", "status"),
        Field(f"{prefix}.customerReference", "id", required=False),
        Field(f"{prefix}.registrar", "id", required=False),
        Field(f"{prefix}.registrarDomainId", "id", required=False),
        Field(f"{prefix}.connectedDomainId", "id", required=False),
        Field(f"{prefix}.whoisPrivacyEnabled", "flag", required=False),
        Field(f"{prefix}.autoRenew", "flag", required=False),
        Field(f"{prefix}.createdAt", "date", required=False),
        Field(f"{prefix}.updatedAt", "date", required=False),
        Field(f"{prefix}.expiresAt", "expiry", required=False),
    )


def _one_of_each_kind(prefix: str) -> tuple[Field, ...]:
    seen: dict[str, Field] = {}
    for field in _purchase_fields(prefix):
        seen.setdefault(field.kind, field)
    return tuple(seen.values())


ENVELOPE = (Field("id", "id", max_length=128, allow_int=True),
            Field("type", "event_type", max_length=128))

EVENTS = [
    Event("webhook:domainee:domain_purchase.completed", "domainee",
          {"id": "evt_c", "type": "domain_purchase.completed",
           "data": {"purchase": dict(PURCHASE)}},
          (*ENVELOPE, Field("data", "object"), Field("data.purchase", "object"),
           *_purchase_fields("data.purchase"))),
    Event("webhook:domainee:domain_purchase.failed", "domainee",
          {"id": "evt_f", "type": "domain_purchase.failed",
           "data": {"purchase": {**PURCHASE, "status": "refunded"},
                    "reason": "Registrar refused: premium name"}},
          (*ENVELOPE, *_purchase_fields("data.purchase"),
           Field("data.reason", "reason", required=False, max_length=1000,
                 multiline=True))),
    # The two other envelopes document 002's reading accepts: the record under "data",
    # and at the top level. The same checks read them (above); here one field of each
    # kind shows the refusal names the path the sender used.
    Event("webhook:domainee:purchase-under-data", "domainee",
          {"id": "evt_d", "type": "domain_purchase.completed", "data": dict(PURCHASE)},
          _one_of_each_kind("data")),
    Event("webhook:domainee:purchase-at-top", "domainee",
          {"id": "evt_t", "type": "domain_purchase.completed", "purchase": dict(PURCHASE)},
          _one_of_each_kind("purchase")),
    Event("webhook:entri:order.status_changed", "entri",
          {"id": "evt_e", "type": "order.status_changed",
           "data": {"orderId": "21b363fb-c8c0", "status": "registered"}},
          (*ENVELOPE, Field("data", "object"),
           Field("data.orderId", "id", allow_int=True),
           Field("data.status", "entri_status"))),
]


# --- the oracle: which values a field must refuse -----------------------------------------


def text_is_hostile(value: str, field: Field) -> bool:
    """The free-text rule, stated independently of registrar/values/text.py."""
    if len(value) > field.max_length:
        return True
    for char in value:
        if field.multiline and char in "\t\n\r":
            continue
        if unicodedata.category(char) in ("Cc", "Cs") or char in BIDI or char in "\ufffe\uffff":
            return True
    return False


def _strings(kind: str) -> list[str]:
    return {
        "id": TEXT + IDS, "event_type": TEXT, "reason": TEXT, "name": NAMES,
        "currency": CURRENCIES, "date": [d for d in DATES if d not in DATE_RULE_GAPS],
        "expiry": [d for d in DATES if d not in DATE_RULE_GAPS],
        "status": TEXT + NEAR_STATUSES, "entri_status": TEXT + NEAR_STATUSES,
        "amount": AMOUNTS, "years": NUMBERS, "flag": ["true", "false", "yes", "1", ""],
        "object": [*TEXT[:10], "", "purchase"],
    }[kind]


def _is_json_number(token: str) -> bool:
    """A token RFC 8259 calls a number (NaN and Infinity are not)."""
    try:
        value = json.loads(token, parse_constant=lambda name: None)
    except ValueError:
        return False  # not JSON, or an integer of more digits than Python reads
    # 1e400 is a number JSON allows but no float holds: the body is unreadable as a whole.
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def hostile_cases(field: Field) -> Iterator[tuple[Any, str | None]]:
    """(value, the field the refusal must name) for every hostile value of the field's
    kind: the catalogue's strings, raw JSON numbers, and every wrong JSON type. None for
    the field: a known rule gap, which must not be a 500 but may be accepted."""
    for value in _strings(field.kind):
        if field.kind in ("id", "event_type", "reason"):
            if not value:
                if field.required:
                    yield value, field.path
                continue
            if not text_is_hostile(value, field):
                continue  # a valid id (for example "abc" or "x" * 101 where 128 fit)
        if field.kind == "name" and value in NAME_RULE_GAPS:
            yield value, None
            continue
        if field.kind == "status" and value in ("completed", "refunded", "failed"):
            continue
        if field.kind in ("date", "expiry") and value == "" and not field.required:
            continue  # an empty time is an absent one
        yield value, field.path
    if field.kind in ("amount", "years"):
        for token in dict.fromkeys([*AMOUNTS, *NUMBERS, "1e400", "-1e400", "NaN",
                                    "Infinity", "-Infinity", "9" * 5000]):
            yield Raw(token), field.path if _is_json_number(token) else "body"
        yield from ((number, field.path) for number in EXTRA_NUMBERS
                    if not (field.kind == "amount" and number in (0, 11)))
    elif field.kind not in ("object",):
        for number in (42, -1, 1.5, 10**30):
            if field.allow_int and isinstance(number, int) and 0 <= number < 10**field.max_length:
                continue
            if field.allow_int and number == -1:
                continue  # "-1" is a fine id
            yield number, field.path
    for wrong in WRONG_TYPES:
        if wrong is None and not field.required:
            continue
        if field.kind == "flag" and isinstance(wrong, bool):
            continue
        if field.kind == "object" and isinstance(wrong, dict):
            continue  # an object, refused deeper down (by its own fields)
        yield wrong, field.path


def accepted_cases(field: Field) -> Iterator[tuple[Any, Any]]:
    """(value, what must be stored) for tricky values the field takes."""
    if field.kind == "name":
        yield from ACCEPTED_NAMES.items()
    elif field.kind == "id":
        yield from ((value, str(value)) for value in
                    ["abc", "-1", "0", "x" * field.max_length, "\u05d0\u05d1 \u200f"])
        if field.allow_int:
            yield 42, "42"
    elif field.kind == "reason":
        yield from ((value, value) for value in ["line\nbreak", "tab\there", "\u0627 \u200f"])
    elif field.kind == "amount":
        yield from ((value, value) for value in (0, MAX_AMOUNT_MINOR, 1518))
    elif field.kind == "years":
        yield from ((value, value) for value in (1, 10))
    elif field.kind == "currency":
        yield from ((value, value) for value in ("EUR", "JPY", "KWD"))
    elif field.kind == "flag" or not field.required:
        yield None, None


# --- driving the endpoint -------------------------------------------------------------


def _set(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    body = copy.deepcopy(body)
    *parents, last = path.split(".")
    target = body
    for key in parents:
        target = target[key]
    target[last] = RAW_MARK if isinstance(value, Raw) else value
    return body


def _encode(body: dict[str, Any], value: Any) -> str:
    text = json.dumps(body)
    if isinstance(value, Raw):
        text = text.replace(json.dumps(RAW_MARK), value.token)
    return text


def stored() -> tuple[int, ...]:
    return (WebhookEvent.objects.count(), Order.objects.count(), LedgerEntry.objects.count(),
            StaffAction.objects.count(), Registration.objects.count())


@dataclass
class Tally:
    values: int = 0
    refusals: int = 0
    server_errors: int = 0
    stored: int = 0
    unnamed: int = 0

    def record(self, surface: str) -> None:
        record(surface, values=self.values, refusals=self.refusals,
               server_errors=self.server_errors, upstream_calls_with_refused_value=0,
               refused_values_stored=self.stored, refusals_not_naming_the_field=self.unnamed)


def _deliver(client, event: Event, body_text: str, check) -> None:
    """One delivery, rolled back afterwards so each case starts from the same rows; the
    rows and the columns are looked at (by `check`) before the rollback."""
    with transaction.atomic():
        before = stored()
        response = post(client, body_text, kind=event.kind)
        check(response, before, stored())
        transaction.set_rollback(True)


def _unique(body: dict[str, Any], number: int) -> dict[str, Any]:
    """A fresh event id per delivery, so an accepted one is never a redelivery."""
    body = copy.deepcopy(body)
    body["id"] = f"{body['id']}-{number}"
    return body


def test_every_field_refuses_every_hostile_value(client, accounts):  # noqa: F811
    """All event types in one run, nothing rolled back between the deliveries: whatever
    a refused one left behind would still be there when the columns are searched at the
    end (stored_anywhere is searched once per distinct value, not once per delivery)."""
    problems: list[str] = []
    tallies: dict[str, Tally] = {}
    refused_texts: set[str] = set()
    number = 0
    # An order the entri event would move: a refused event must leave it as it is.
    OrderFactory(provider_account=accounts["entri"], upstream_id="21b363fb-c8c0",
                 status=OrderStatus.REGISTRATION_IN_PROGRESS)
    with transaction.atomic():
        for event in EVENTS:
            tally = tallies[event.surface] = Tally()
            for field in event.fields:
                for value, expected_field in hostile_cases(field):
                    number += 1
                    body = _set(_unique(event.body, number), field.path, value)
                    shown = f"{event.surface} {field.path}={value!r:.60}"
                    before = stored()
                    if expected_field is None:
                        # A rule gap may be accepted: what it stores is not kept.
                        with transaction.atomic():
                            response = post(client, _encode(body, value), kind=event.kind)
                            transaction.set_rollback(True)
                    else:
                        response = post(client, _encode(body, value), kind=event.kind)
                    tally.values += 1
                    if response.status_code >= 500:
                        tally.server_errors += 1
                        problems.append(f"{shown}: {response.status_code}")
                        continue
                    answer = response.json()
                    if response.status_code != 400 or answer.get("status") != "invalid":
                        if expected_field is not None:
                            problems.append(f"{shown}: accepted ({response.status_code} "
                                            f"{answer})")
                        continue
                    tally.refusals += 1
                    if isinstance(value, str):
                        refused_texts.add(value)
                    if expected_field is not None and answer.get("field") != expected_field:
                        tally.unnamed += 1
                        problems.append(f"{shown}: named {answer.get('field')!r}")
                    if not str(answer.get("message", "")).endswith("."):
                        problems.append(f"{shown}: message {answer.get('message')!r}")
                    if stored() != before:
                        tally.stored += 1
                        problems.append(f"{shown}: stored ({before} -> {stored()})")
        # Searched once each; a hit that was there before the run (a fixture's e-mail
        # holds "example.c") is told apart after the rollback.
        hits = {text: stored_anywhere(text) for text in refused_texts}
        transaction.set_rollback(True)
    for text, columns in hits.items():
        if columns and stored_anywhere(text) != columns:
            problems.append(f"{text!r:.60} stored in {columns}")
            next(iter(tallies.values())).stored += 1
    for surface, tally in tallies.items():
        tally.record(surface)
        assert tally.values > 20, surface
    bad = [(tally.server_errors, tally.stored, tally.unnamed) for tally in tallies.values()]
    assert all(counts == (0, 0, 0) for counts in bad), problems
    assert not problems, problems


@pytest.mark.parametrize("event", EVENTS, ids=[event.surface for event in EVENTS])
def test_the_valid_values_of_each_field_are_accepted_canonically(client, accounts, event):  # noqa: F811
    tally = Tally()
    problems: list[str] = []
    number = 0
    for field in event.fields:
        for value, canonical in accepted_cases(field):
            number += 1
            body = _set(_unique(event.body, number), field.path, value)

            def check(response, before, after, value=value, canonical=canonical,
                      field=field):
                tally.values += 1
                shown = f"{field.path}={value!r:.60}"
                if response.status_code != 200 or response.json()["status"] not in (
                        "applied", "ignored"):
                    problems.append(f"{shown}: {response.status_code} {response.content!r}")
                    return
                if after[0] != before[0] + 1:
                    problems.append(f"{shown}: no event stored")
                if field.kind == "name" and event.kind == "domainee":
                    order = Order.objects.get(upstream_id=PURCHASE["id"])
                    if order.domain != canonical:
                        problems.append(f"{shown}: stored as {order.domain!r}")
                    # Only a completed purchase delivers a registration.
                    if (event.body["type"] == "domain_purchase.completed"
                            and not Registration.objects.filter(name=canonical).exists()):
                        problems.append(f"{shown}: no registration {canonical!r}")
                if field.kind == "reason":
                    order = Order.objects.get(upstream_id=PURCHASE["id"])
                    if order.status_reason != canonical:
                        problems.append(f"{shown}: reason {order.status_reason!r}")

            _deliver(client, event, _encode(body, value), check)
    tally.record(event.surface)
    assert tally.values >= 5
    assert not problems, problems[:20]


def test_a_constraint_failure_is_never_a_duplicate(client, accounts):  # noqa: F811
    """A refused event leaves no trace, so the same id with good fields then applies,
    and only a true redelivery is a duplicate."""
    event = EVENTS[0]
    for path, value in (("data.purchase.years", 11), ("data.purchase.totalCents", 10**21),
                        ("data.purchase.currency", "USA"),
                        ("data.purchase.createdAt", "9999-12-31")):
        refused = post(client, _set(event.body, path, value))
        assert refused.status_code == 400 and refused.json()["field"] == path
        assert refused.json()["status"] != "duplicate"
    assert stored() == (0, 0, 0, 0, 0)
    assert post(client, event.body).json() == {"status": "applied"}
    assert post(client, event.body).json() == {"status": "duplicate"}
    record("webhook:domainee:redelivery", values=4, refusals=4, server_errors=0,
           upstream_calls_with_refused_value=0, refused_values_stored=0,
           refusals_not_naming_the_field=0)


SILENT_KINDS = sorted(kind for kind in ADAPTERS if kind not in {"domainee", "entri"})


@pytest.mark.parametrize("kind", SILENT_KINDS)
def test_an_upstream_that_sends_no_webhooks_refuses_every_body(client, accounts, kind):  # noqa: F811
    tally = Tally()
    bodies = [(event.body, "") for event in EVENTS]
    bodies += [(_set(EVENTS[0].body, "data.purchase.hostname", name),
                "data.purchase.hostname") for name in NAMES[:20]]
    bodies += [({"id": text, "type": "domain.renewed", "data": {}}, "id") for text in TEXT[:30]]
    for body, path in bodies:
        before = stored()
        text = json.dumps(body)
        response = post(client, text, kind=kind)
        tally.values += 1
        tally.server_errors += response.status_code >= 500
        if response.status_code == 400 and response.json()["status"] == "invalid":
            tally.refusals += 1
            # "body"; a NUL is refused first, wherever it is, naming where.
            tally.unnamed += response.json()["field"] != (path if "\\u0000" in text
                                                          else "body")
        tally.stored += stored() != before
    tally.record(f"webhook:{kind}:no-webhooks")
    assert tally.refusals == tally.values
    assert (tally.server_errors, tally.stored, tally.unnamed) == (0, 0, 0)


# --- property: any JSON at any field --------------------------------------------------

ANY_CHAR = st.characters(codec=None, categories=None)
JSON_SCALARS = (st.none() | st.booleans() | st.integers()
                | st.integers(min_value=-(10**30), max_value=10**30)
                | st.floats(allow_nan=False, allow_infinity=False)
                | st.text(ANY_CHAR, max_size=12) | st.sampled_from(TEXT + NAMES + DATES))
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(ANY_CHAR, max_size=6), children, max_size=3),
    max_leaves=12)


def plausibly_valid(field: Field, value: Any) -> bool:
    """A necessary condition for `value` to be accepted in `field`: what an accepted
    event must have met (the full rules live in registrar/values/)."""
    if value is None or value == "":
        return not field.required or field.kind in ("flag",)
    if field.kind in ("id", "event_type", "reason"):
        if field.allow_int and isinstance(value, int) and not isinstance(value, bool):
            return True
        return isinstance(value, str) and not text_is_hostile(value, field)
    if field.kind in ("amount",):
        return type(value) is int and 0 <= value <= MAX_AMOUNT_MINOR
    if field.kind == "years":
        return type(value) is int and 1 <= value <= 10
    if field.kind == "flag":
        return isinstance(value, bool)
    if field.kind == "object":
        return isinstance(value, dict)
    if field.kind == "currency":
        return isinstance(value, str) and len(value) == 3 and value.isupper()
    if field.kind in ("status", "entri_status", "name", "date", "expiry"):
        return isinstance(value, str) and not text_is_hostile(value, Field("", "", max_length=253))
    return True


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(event=st.sampled_from(EVENTS), data=st.data())
def test_any_json_in_any_field_is_never_a_500_and_stored_only_when_valid(
        client, accounts, event, data):  # noqa: F811
    chosen = data.draw(st.lists(st.sampled_from(event.fields), min_size=1, max_size=3,
                                unique_by=lambda field: field.path))
    body = copy.deepcopy(event.body)
    values = {}
    for field in chosen:
        if field.kind == "object" and any(other.path.startswith(field.path + ".")
                                          for other in chosen):
            continue
        values[field.path] = data.draw(JSON_VALUES, label=field.path)
        try:
            body = _set(body, field.path, values[field.path])
        except (TypeError, KeyError):
            values.pop(field.path)  # a parent was replaced by a non-object
    with transaction.atomic():
        before = stored()
        response = post(client, json.dumps(body), kind=event.kind)
        after = stored()
        transaction.set_rollback(True)
    assert response.status_code < 500
    answer = response.json()
    if response.status_code == 200:
        assert answer["status"] in ("applied", "ignored")
        assert after[0] == before[0] + 1
        by_path = {field.path: field for field in event.fields}
        assert all(plausibly_valid(by_path[path], value) for path, value in values.items()), \
            values
    else:
        assert response.status_code == 400 and answer["status"] == "invalid"
        assert answer["field"] and after == before
    record(f"{event.surface}:property", values=1,
           refusals=int(response.status_code == 400), server_errors=0,
           upstream_calls_with_refused_value=0, refused_values_stored=0,
           refusals_not_naming_the_field=0)
