"""Rows at the edge of what intake accepts, for the rendering tests
(tests/hostile/test_boundary_render.py): every free-text column filled to its
max_length with multi-byte, right-to-left and markup characters, the longest names,
money at 0, 1 and the column's maximum in every exponent class, dates at both ends of
the window, large JSON, and the most nameservers, glue hosts and years an order holds.

Rows are built through the factories (tests/factories.py), as sync, webhooks and forms
would leave them; a row no intake path would write is not built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import cycle

import idna
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from backoffice.models import StaffAction
from billing.models import Account, LedgerEntry, Order, OrderItem, OrderKind, OrderStatus
from contacts.models import Contact
from registrar.models import (
    Approval,
    DnssecKey,
    Host,
    HostAddress,
    Process,
    ProcessLogEntry,
    ProviderAccount,
    Registration,
    Tld,
)
from registrar.values import dates
from registrar.values.amounts import MAX_AMOUNT_MINOR, MAX_MINOR
from tests.factories import (
    AccountFactory,
    ApprovalFactory,
    ContactFactory,
    DnssecKeyFactory,
    HostAddressFactory,
    HostFactory,
    LedgerEntryFactory,
    OrderFactory,
    OrderItemFactory,
    ProcessFactory,
    ProcessLogEntryFactory,
    ProviderAccountFactory,
    RegistrationFactory,
    TldFactory,
    UserFactory,
    WebhookEventFactory,
    staff_action,
)

# --- text ----------------------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"
QUOTES = "\"'&"
FORMULA = "=cmd|' /C calc'!A0"
TEMPLATE_VAR = "{{ x }}"
TEMPLATE_TAG = "{% if %}"
#: Markup and formula pieces, which must come out escaped (HTML) or defused (CSV).
METACHARACTERS = (SCRIPT, QUOTES, FORMULA, TEMPLATE_VAR, TEMPLATE_TAG)
#: Characters the free-text rule accepts and a page may trip over: 2-, 3- and 4-byte
#: UTF-8, Arabic and Hebrew with their direction marks, a combining accent.
MULTIBYTE = ("ü", "日", "😀", "مرحبا\u200f", "שלום\u200e", "e\u0301", "\u061c")
PIECES = (*METACHARACTERS, *MULTIBYTE, " ")


def boundary_text(length: int, *, start: str = SCRIPT) -> str:
    """Exactly `length` characters (code points, as both databases count them), starting
    with `start` and cycling through every piece."""
    pieces = cycle((start, *[piece for piece in PIECES if piece != start]))
    text = ""
    while len(text) < length:
        text += next(pieces)
    return text[:length]


#: Every character class the rule accepts, for JSON strings (line breaks and tabs
#: included: JSON is not a single-line field).
JSON_STRING = "".join(PIECES) + "\t\n\r" + "\u00a0\u2028\u2029" + "Ǆ" + "ﬁ" + "𝔘"


def deep_json(depth: int = 32) -> dict:
    value: object = {"leaf": JSON_STRING, "n": MAX_MINOR}
    for level in range(depth - 1):
        value = {f"level{level}": value, "list": [JSON_STRING, level]}
    return value  # type: ignore[return-value]


def wide_json(keys: int = 10_000) -> dict:
    return {f"key{index}": JSON_STRING if index % 100 == 0 else f"v{index}"
            for index in range(keys)}


# --- names ------------------------------------------------------------------------------

#: The longest ASCII name: labels of 63, 253 characters in all.
LONGEST_ASCII = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 57, "com"])


def _longest_idn() -> str:
    """The longest internationalised name whose ASCII form still fits 253 characters."""
    labels: list[str] = []
    for letter in ("ü", "日", "é"):
        label = letter
        while len("xn--" + (label + letter).encode("punycode").decode()) <= 63:
            label += letter
        labels.append(label)
    name = ".".join([*labels, "com"])
    # Pad with a plain label to reach exactly 253 in ASCII.
    room = 253 - len(idna.encode(name).decode()) - 1
    return ".".join([*labels, "z" * min(room, 63), "com"]) if room > 0 else name


LONGEST_IDN = _longest_idn()
#: Punycode an upstream mirrors that does not decode under IDNA 2008 (an emoji).
UNDECODABLE = "xn--ls8h.com"

# --- money and dates ----------------------------------------------------------------------

AMOUNTS = (0, 1, MAX_AMOUNT_MINOR, MAX_MINOR)
#: One currency per exponent class, and a code stored before the ISO 4217 rule.
CURRENCIES = ("JPY", "EUR", "KWD", "CLF", "QQQ")

EARLIEST = dates.EARLIEST
LEAP_DAY = datetime(2028, 2, 29, 23, 59, 59, tzinfo=UTC)
END_OF_MONTH = datetime(2027, 12, 31, 23, 59, 59, tzinfo=UTC)
PAST_EXPIRY = datetime(2000, 1, 31, 23, 59, 59, tzinfo=UTC)


def latest_event() -> datetime:
    # A minute inside the window, so that it is still inside when the page renders.
    return dates.latest(expiry=False) - timedelta(minutes=1)


def latest_expiry() -> datetime:
    return dates.latest(expiry=True) - timedelta(minutes=1)


# --- the rows ---------------------------------------------------------------------------

#: Columns with a rule of their own (names, currencies, phones, choices, URLs, keys the
#: code looks up): filled with their own boundary values, never with free text.
STRUCTURED = {
    "name", "name_unicode", "host_name", "domain", "currency", "privacy_fee_currency",
    "registrant_change_fee_currency", "phone", "country", "email", "label", "kind",
    "base_url", "secret_env", "status", "operation", "rule", "outcome", "unsettled_operation",
    "target_type", "target_id", "action", "channel", "authcode_behavior", "purchase_type",
    "state",
}


def free_text_fields(model: type[models.Model]) -> list[models.CharField]:
    return [f for f in model._meta.concrete_fields
            if isinstance(f, models.CharField) and f.editable and not f.choices
            and f.name not in STRUCTURED]


def filled(model: type[models.Model], *, start: str = SCRIPT, unique: str = "",
           skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Every free-text CharField of `model` at its max_length. Unique columns end in
    `unique` so two rows may coexist."""
    values = {}
    for f in free_text_fields(model):
        if f.name in skip:
            continue
        text = boundary_text(f.max_length, start=start)
        if f.unique or f.name in ("customer_reference", "idempotency_key", "upstream_id",
                                  "event_id"):
            text = text[:f.max_length - len(unique)] + unique
        values[f.name] = text
    return values


@dataclass
class World:
    superuser: object = None
    objects: dict[type[models.Model], list[models.Model]] = field(default_factory=dict)
    #: Boundary values stored, by model: the figure each surface renders.
    values: dict[type[models.Model], int] = field(default_factory=dict)

    def add(self, row: models.Model, values: int) -> models.Model:
        self.objects.setdefault(type(row), []).append(row)
        self.values[type(row)] = self.values.get(type(row), 0) + values
        return row

    def first(self, model: type[models.Model]) -> models.Model:
        return self.objects[model][0]

    @property
    def total_values(self) -> int:
        return sum(self.values.values())


def _count_text(values: dict) -> int:
    return len(values)


def build_world() -> World:
    world = World()
    now = timezone.now()
    world.superuser = UserFactory(username="boundary-root", is_superuser=True)
    requester = UserFactory(username="boundary-requester")

    # Provider accounts: the longest label and reference.
    provider = ProviderAccountFactory(label="sandbox")
    long_provider = ProviderAccountFactory(label="p" * 64, **filled(ProviderAccount),
                                           options={"deep": deep_json()})
    world.add(provider, 1)
    world.add(long_provider, 2 + _count_text(filled(ProviderAccount)))

    # TLDs: the longest label, an IDN TLD, fees at the column's maximum in each exponent.
    tld = TldFactory(name="com", provider_account=provider, supports_push_transfer=True)
    idn_tld = TldFactory(name="xn--p1ai", provider_account=provider,
                         privacy_fee_amount=2**31 - 1, privacy_fee_currency="KWD",
                         registrant_change_fee_amount=0, registrant_change_fee_currency="JPY")
    long_tld = TldFactory(name="t" * 63, provider_account=provider,
                          privacy_fee_amount=1, privacy_fee_currency="CLF",
                          registrant_change_fee_amount=2**31 - 1,
                          registrant_change_fee_currency="EUR", cancellation_window_days=32767)
    for row, count in ((tld, 1), (idn_tld, 5), (long_tld, 6)):
        world.add(row, count)

    # Accounts and contacts: every text column full, starting with markup or a formula.
    accounts = []
    for index, start in enumerate((SCRIPT, FORMULA)):
        text = filled(Account, start=start, unique=f"-{index}")
        account = AccountFactory(email=f"{'a' * 60}{index}@{'b' * 63}.{'c' * 63}.{'d' * 61}.com"
                                 [:254], **text)
        accounts.append(account)
        world.add(account, 1 + _count_text(text))
    contacts = []
    for index, start in enumerate((SCRIPT, FORMULA)):
        text = filled(Contact, start=start, unique=f"-{index}")
        contact = ContactFactory(
            account=accounts[index], tld=tld, phone="+998." + "9" * 14 if index else "+1.2345",
            extra_properties=deep_json() if index else wide_json(),
            validations=[{"message": JSON_STRING, "at": EARLIEST.isoformat()}] * 50,
            upstream_created_at=EARLIEST, upstream_updated_at=latest_event(),
            unsettled_operation="holder" if index else "",
            unsettled_since=latest_event() if index else None, **text)
        contacts.append(contact)
        world.add(contact, 6 + _count_text(text))

    # Registrations: the longest ASCII name, the longest IDN, 13 nameservers, 20 glue
    # hosts with IPv6 addresses, dates at both ends.
    nameservers = [f"ns{index}.{'n' * 60}.{'m' * 63}.{'o' * 63}.{'p' * 50}.example"
                   for index in range(13)]
    registration_rows = [
        dict(name=LONGEST_ASCII, tld=tld, expires_at=latest_expiry(),
             upstream_created_at=EARLIEST, upstream_updated_at=latest_event(),
             cancellation_deadline_at=LEAP_DAY, last_synced_at=latest_event()),
        dict(name=LONGEST_IDN, tld=tld, expires_at=PAST_EXPIRY, status="expired",
             upstream_created_at=END_OF_MONTH, missing_upstream_at=latest_event(),
             unsettled_operation="nameservers", unsettled_since=EARLIEST),
        dict(name="\u043f\u0440\u0438\u043c\u0435\u0440.xn--p1ai", tld=idn_tld, expires_at=None,
             upstream_created_at=None, status="pending_transfer", transfer_out_pending=True,
             customer_flagged=True),
    ]
    registrations = []
    for index, row in enumerate(registration_rows):
        text = filled(Registration, start=(SCRIPT, FORMULA, QUOTES)[index],
                      unique=f"-{index}")
        registration = RegistrationFactory(
            account=accounts[index % 2], owner_contact=contacts[index % 2],
            admin_contact=contacts[(index + 1) % 2], nameservers=nameservers,
            dns_records=[{"type": "TXT", "name": "@", "content": JSON_STRING, "ttl": 2**31 - 1}
                         ] * 200, **text, **row)
        registrations.append(registration)
        world.add(registration, 8 + 13 + _count_text(text))
    # Mirrored before the name rule: punycode that does not decode (an emoji label).
    legacy = RegistrationFactory(name="legacy-boundary.com", tld=tld, account=accounts[0],
                                 owner_contact=contacts[0], expires_at=END_OF_MONTH)
    Registration.objects.filter(pk=legacy.pk).update(name=UNDECODABLE,
                                                     name_unicode=UNDECODABLE)
    legacy.refresh_from_db()
    world.add(legacy, 2)
    glued = registrations[2]
    for index in range(20):
        host = HostFactory(registration=glued, host_name=f"ns{index}.{glued.name}")
        HostAddressFactory(host=host, address=f"2001:db8:ffff:ffff:ffff:ffff:ffff:{index:x}",
                           version=6)
        HostAddressFactory(host=host, address=f"198.51.100.{index + 1}", version=4)
        world.add(host, 3)
    world.objects[HostAddress] = list(HostAddress.objects.order_by("pk")[:4])
    world.values[HostAddress] = 40
    key = DnssecKeyFactory(registration=registrations[0], flags=257, algorithm=255,
                           public_key="A" * 4096 + "==")
    world.add(key, 3)

    # Processes and their log: upstream text full, raw bodies deep and wide.
    for index, start in enumerate((SCRIPT, FORMULA)):
        text = filled(Process, start=start, unique=f"-{index}")
        process = ProcessFactory(registration=registrations[index], status="SUSPENDED",
                                 raw=wide_json() if index else deep_json(),
                                 upstream_created_at=EARLIEST, next_poll_at=latest_event(),
                                 poll_count=2**31 - 1, action=boundary_text(64, start=start),
                                 **{k: v for k, v in text.items() if k != "action"})
        world.add(process, 5 + _count_text(text))
        entry = ProcessLogEntryFactory(process=process, logged_at=LEAP_DAY,
                                       message=boundary_text(10_000, start=start),
                                       raw=deep_json())
        world.add(entry, 3)

    # Orders: every currency class, 0, 1, the typed maximum and the column's maximum,
    # at the earliest and the latest time, with two orders at MAX_MINOR per currency in
    # one month (a sum a bigint cannot hold).
    orders = []
    moments = (EARLIEST, latest_event(), LEAP_DAY, END_OF_MONTH)
    for c_index, currency in enumerate(CURRENCIES):
        for a_index, amount in enumerate(AMOUNTS):
            start = (SCRIPT, FORMULA, "+" + SCRIPT, "@" + FORMULA, "-" + QUOTES)[
                (c_index + a_index) % 5]
            text = filled(Order, start=start, unique=f"-{c_index}-{a_index}")
            order = OrderFactory(
                account=accounts[a_index % 2], provider_account=provider, tld=tld,
                currency=currency, subtotal_minor=amount, fees_minor=amount,
                total_minor=amount,
                # Refunded in full: the maximum (beside its unrefunded twin, below), and a
                # failed order, whose refund alone draws a negative month.
                refunded_minor=amount if (a_index == 3 and c_index > 1)
                or (a_index == 2 and c_index % 2) else 0,
                quoted_total_minor=(MAX_MINOR - amount) if a_index % 2 else amount,
                years=10, placed_at=moments[a_index], premium=bool(a_index % 2),
                domain=(LONGEST_ASCII, LONGEST_IDN, UNDECODABLE, "xn--zz.com")[a_index],
                status=(OrderStatus.REGISTERED if a_index != 2 else OrderStatus.FAILED),
                kind=OrderKind.EMAIL_INFRASTRUCTURE if a_index == 1 else OrderKind.RENEWAL,
                status_reason=boundary_text(2000, start=start),
                quote=wide_json() if a_index == 3 else deep_json(),
                quote_expires_at=latest_event(), unsettled_since=EARLIEST if a_index == 1
                else None, registration=registrations[a_index % 3], **text)
            orders.append(order)
            world.add(order, 12 + _count_text(text))
        # The second MAX_MINOR order of the currency, in the same month as the first.
        twin = OrderFactory(account=accounts[0], provider_account=provider, currency=currency,
                            subtotal_minor=MAX_MINOR, fees_minor=MAX_MINOR,
                            total_minor=MAX_MINOR,
                            # Unrefunded in JPY and EUR: a month whose net is 2 * MAX_MINOR.
                            refunded_minor=0 if c_index < 2 else MAX_MINOR,
                            years=10, placed_at=END_OF_MONTH, domain=LONGEST_ASCII)
        world.add(twin, 6)
        orders.append(twin)
    quoted = OrderFactory(account=accounts[1], provider_account=provider, currency="KWD",
                          status=OrderStatus.QUOTED, quoted_total_minor=None,
                          total_minor=MAX_AMOUNT_MINOR, quote_expires_at=None,
                          domain=LONGEST_IDN)
    world.add(quoted, 3)
    orders.append(quoted)
    for index, order in enumerate(orders[:8]):
        text = filled(OrderItem, start=(SCRIPT, FORMULA)[index % 2])
        item = OrderItemFactory(order=order, quantity=2**31 - 1,
                                unit_amount_minor=order.total_minor,
                                total_minor=order.total_minor,
                                domain=order.domain, details=wide_json() if index == 0
                                else deep_json(), **text)
        world.add(item, 5 + _count_text(text))
        for kind, state in ((LedgerEntry.Kind.PAYMENT, LedgerEntry.State.SUCCEEDED),
                            (LedgerEntry.Kind.REFUND, LedgerEntry.State.PENDING)):
            entry = LedgerEntryFactory(
                order=order, kind=kind, state=state, amount_minor=order.total_minor,
                currency=order.currency, occurred_at=(EARLIEST, latest_event())[index % 2],
                external_reference=boundary_text(128, start=(FORMULA, SCRIPT)[index % 2]),
                note=boundary_text(5000, start=SCRIPT))
            world.add(entry, 4)
        event = WebhookEventFactory(
            provider_account=provider, order=order,
            event_id=boundary_text(128, start=FORMULA)[:120] + f"-{index}",
            event_type=boundary_text(128, start=SCRIPT),
            payload=wide_json() if index == 0 else deep_json(), received_at=latest_event())
        world.add(event, 3)

    # Approvals: summaries and tickets full, parameters deep.
    for index, registration in enumerate(registrations):
        approval = ApprovalFactory(
            registration=registration, requested_by=requester,
            summary=boundary_text(255, start=(SCRIPT, FORMULA, QUOTES)[index]),
            ticket=boundary_text(64, start=FORMULA),
            verification=boundary_text(5000, start=SCRIPT),
            parameters={"recipient": boundary_text(64), "deep": deep_json()},
            requested_at=now - timedelta(minutes=5), expires_at=latest_event(),
            decision_note=boundary_text(2000) if index else "")
        world.add(approval, 6)

    # The audit trail: rows about each kind of target, their parameters holding the
    # boundary values.
    user = get_user_model()
    actor = user.objects.get(pk=world.superuser.pk)
    targets = [registrations[0], registrations[1], orders[0], orders[3], contacts[0],
               accounts[1], None]
    for index, target in enumerate(targets):
        parameters = {
            "text": boundary_text(255, start=METACHARACTERS[index % len(METACHARACTERS)]),
            "name": LONGEST_IDN, "undecodable": UNDECODABLE, "amount_minor": MAX_MINOR,
            "currency": CURRENCIES[index % len(CURRENCIES)],
            "at": latest_event().isoformat(), "deep": deep_json(),
            "nameservers": nameservers,
        }
        if index == 0:
            parameters.update(wide_json())
        row = staff_action(
            actor=actor if index % 2 else None, action="registration.nameservers",
            target=target, parameters=parameters,
            outcome=list(StaffAction.Outcome)[index % len(StaffAction.Outcome)],
            upstream_status=599 if index else 100,
            upstream_code=boundary_text(64, start=FORMULA),
            upstream_request_id=boundary_text(128, start=SCRIPT),
            process_id=boundary_text(64, start=QUOTES),
            message=boundary_text(10_000, start=SCRIPT),
            actor_label="" if index % 2 else boundary_text(150, start=FORMULA))
        world.add(row, 9 + len(parameters))
    # The admin's own history of the rows, its messages holding the boundary text.
    for model in (Registration, Contact, Account, Order, Tld, ProviderAccount):
        for row in world.objects[model]:
            LogEntry.objects.create(
                user=world.superuser, content_type=ContentType.objects.get_for_model(model),
                object_id=str(row.pk), object_repr=boundary_text(200), action_flag=CHANGE,
                change_message=boundary_text(2000, start=SCRIPT))
    for model in (Tld, Registration, Contact, Account, Order, ProviderAccount, Process,
                  ProcessLogEntry, DnssecKey, Host, Approval, StaffAction):
        assert world.objects.get(model), model
    return world
