"""Every paid order kind, through every fault one exchange can suffer, at the HTTP
boundary: the message staff see is true, the upstream holds at most one order for the
local order, there is exactly one local Order with at most one payment in its ledger,
and once the back-office has settled it (the tasks it enqueues, and the periodic sweeps)
the local order is what the upstream shows. name.com, which has neither an idempotency
key nor a lookup, leaves the order open and unsettled for finance, never sent again.

Only the HTTP boundary is fake (the sandbox, FakeDomainee, FakeNamecom, FakeSaleshandy),
with `tests.faults.transport.FaultTransport` in front of it; every cell is recorded in
the fault matrix.
"""

from __future__ import annotations

import copy
import html
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from celery.app.task import Task
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from backoffice.models import StaffAction
from billing import email_orders, ordering, tasks
from billing.finance import attention
from billing.models import LedgerEntry, Order, OrderKind, OrderStatus, WebhookEvent
from billing.order_sync import mirror_orders, status_for
from registrar import services
from registrar.models import ProviderAccount, Registration
from registrar.providers.base import Money
from registrar.providers.domain_api.orders import parse_order
from registrar.providers.domainee.wire import purchase_record
from registrar.providers.registry import override_transport
from tests.billing import test_ordering as ordering_tests
from tests.billing.test_ordering import AUTH_CODE, DOMAINEE, NAMECOM, quoted
from tests.factories import ContactFactory, ProviderAccountFactory, RegistrationFactory, TldFactory
from tests.fakes.namecom import CREATE, TRANSFER, renew_path
from tests.fakes.saleshandy import BASE_URL, FakeSaleshandy
from tests.faults.transport import FAULTS, Fault, FaultTransport

# The order tests' fixtures: the customer account, its registrant, the fakes behind
# their provider accounts.
customer = ordering_tests.customer
registrant = ordering_tests.registrant
domainee = ordering_tests.domainee
namecom = ordering_tests.namecom

Outcomes = StaffAction.Outcome
FAULT_IDS = [fault.name.lower() for fault in FAULTS]
#: An unknown outcome says so: the order may have been placed (the change applied).
MAY_HAVE = re.compile(r"may have (been placed|applied)")
#: Only true when nothing reached the upstream.
NOT_SENT = ("Nothing was charged", "nothing was charged", "Nothing was sent",
            "nothing was sent")
#: What an upstream taking an Idempotency-Key gets retried on by the HTTP layer (a
#: refused connection, a timeout, a broken connection, a gateway's 502).
RETRIED_WITH_KEY = frozenset({Fault.DROP_BEFORE, Fault.DROP_AFTER, Fault.HTML502_BEFORE,
                              Fault.HTML502_AFTER, Fault.TIMEOUT_AFTER})
FIRST_ANSWER_LOST = ("No usable answer came back when it was sent; asked again (in a way "
                     "that cannot place it twice), the registrar shows it: ")


def came_back(fault: Fault, success_status: int) -> str:
    """How the HTTP layer names what came back (registrar.providers.http)."""
    return {
        Fault.DROP_AFTER: "the connection broke",
        Fault.E500_BEFORE: "it answered HTTP 500",
        Fault.E500_AFTER: "it answered HTTP 500",
        Fault.HTML502_BEFORE: "it answered HTTP 502",
        Fault.HTML502_AFTER: "it answered HTTP 502",
        Fault.MALFORMED_2XX: f"its answer, HTTP {success_status}, could not be read",
        Fault.TIMEOUT_AFTER: "it did not answer in time",
    }[fault]


def no_usable_answer(fault: Fault, success_status: int) -> str:
    return (f"No usable answer came back from the registrar ({came_back(fault, success_status)}"
            "), after the request was sent: it may have applied the change.")


# --- the broker, replaced: what the code enqueues is run here, as a worker would -----------


@dataclass
class Job:
    task: Task
    args: tuple
    kwargs: dict
    countdown: float


@pytest.fixture
def jobs(monkeypatch) -> list[Job]:
    """Every task published (enqueue_after_commit, a task re-publishing itself)."""
    published: list[Job] = []

    def publish(self, args=None, kwargs=None, countdown=None, **options):
        published.append(Job(self, tuple(args or ()), dict(kwargs or {}), float(countdown or 0)))

    monkeypatch.setattr(Task, "apply_async", publish)
    return published


@pytest.fixture
def worker(jobs, django_capture_on_commit_callbacks) -> Callable[[], list[tuple[str, Any]]]:
    """Runs what was published until nothing is left, then the periodic sweeps the
    beat schedule runs (settle what is unsettled, follow what is open), a few times.
    Time passes as each task's countdown says: an order's unsettled clock moves on by
    it, so the grace period after which "not placed" is concluded is reached."""

    def run_published(ran: list[tuple[str, Any]]) -> None:
        while jobs:
            assert len(ran) < 200, ran
            job = jobs.pop(0)
            if job.task.name == tasks.settle_order.name and job.countdown:
                Order.objects.filter(pk=job.args[0], unsettled_since__isnull=False).update(
                    unsettled_since=F("unsettled_since") - timedelta(seconds=job.countdown))
            with django_capture_on_commit_callbacks(execute=True):
                result = job.task.apply(args=job.args, kwargs=job.kwargs)
            ran.append((job.task.name, result.get()))

    def work() -> list[tuple[str, Any]]:
        ran: list[tuple[str, Any]] = []
        run_published(ran)
        for _ in range(4):
            for sweep in (tasks.settle_unsettled_orders, tasks.follow_domain_orders,
                          tasks.follow_open_email_orders):
                with django_capture_on_commit_callbacks(execute=True):
                    ran.append((sweep.name, sweep.apply().get()))
            run_published(ran)
        return ran

    return work


# --- what every cell must show -------------------------------------------------------------


@dataclass
class Cell:
    kind: str
    fault: Fault
    outcome: Any
    #: Requests to the order endpoint the upstream really handled, when staff saw the
    #: outcome, and once everything was settled.
    delivered: int
    delivered_total: int
    upstream: list[Any]
    #: The local status the upstream's order means (None: the upstream has no order).
    upstream_status: str | None
    #: What the upstream charged for it (None: nothing).
    charged_minor: int | None
    audit_action: str
    keyed: bool
    #: What the placement's audit row is about (None: the order).
    audit_target: Any = None
    order: Order = field(init=False)

    def __post_init__(self) -> None:
        self.order = Order.objects.get()

    @property
    def message(self) -> str:
        return self.outcome.message


def payments(order: Order) -> list[LedgerEntry]:
    """The order's payments, an estimate that a later statement settled counted once."""
    return [entry for entry in order.ledger_entries.filter(kind=LedgerEntry.Kind.PAYMENT)
            if not entry.settled_by.exists()]


def record(matrix, cell: Cell) -> None:
    matrix(cell.kind, cell.fault.value, outcome=cell.outcome.status,
           settled=cell.order.unsettled_since is None, delivered=cell.delivered,
           delivered_total=cell.delivered_total, upstream_orders=len(cell.upstream),
           local_orders=Order.objects.count(), payments=len(payments(cell.order)),
           status=cell.order.status, upstream_status=cell.upstream_status)


def assert_invariants(cell: Cell) -> None:
    """Nothing duplicated, nothing lost, money once, one audit row: whatever happened."""
    order = cell.order
    assert Order.objects.count() == 1
    assert len(cell.upstream) <= 1, cell.upstream
    # An upstream without a key is never sent the order twice; one with a key may be
    # (retries, replays to settle it), and still holds one order.
    assert cell.delivered <= cell.delivered_total
    if not cell.keyed:
        assert cell.delivered_total <= 1
    assert len(cell.upstream) <= cell.delivered_total
    assert len(payments(order)) <= 1
    assert order.ledger_entries.filter(kind=LedgerEntry.Kind.PAYMENT,
                                       state=LedgerEntry.State.SUCCEEDED).count() <= 1
    rows = StaffAction.objects.filter(action=cell.audit_action)
    assert [row.outcome for row in rows] == [cell.outcome.status]
    assert rows.get().target_id == str((cell.audit_target or order).pk)


def assert_message_is_true(cell: Cell) -> None:
    message = cell.message
    if cell.fault is Fault.DROP_BEFORE:
        # Refused before anything was sent: sent again at once, and it went through.
        assert cell.outcome.status in {Outcomes.SUCCEEDED, Outcomes.PENDING}, message
        assert cell.delivered == 1
    if cell.outcome.status == Outcomes.UNKNOWN:
        assert MAY_HAVE.search(message), message
    if any(words in message for words in NOT_SENT):
        assert cell.delivered == 0, message


def assert_settled_as_upstream(cell: Cell) -> None:
    """Once settled, the local order is what the upstream shows, its money included."""
    order = cell.order
    assert order.unsettled_since is None, order.status_reason
    if cell.upstream_status is None:
        # Nothing there: not placed, ended without a charge.
        assert order.status == OrderStatus.CANCELLED, order.status_reason
        assert not order.ledger_entries.exists()
        assert "nothing was charged" in order.status_reason
        return
    assert order.status == cell.upstream_status, order.status_reason
    assert order.upstream_id
    if cell.charged_minor:
        [payment] = payments(order)
        assert (payment.amount_minor, payment.state) == (cell.charged_minor,
                                                         LedgerEntry.State.SUCCEEDED)
    else:
        assert payments(order) == []


# --- the Domain API: the sandbox, domain orders and the paid registrant change ----------------


ORDERS = "^/api/orders/domain$"
NEW_CONTACT = {"first_name": "Grace", "last_name": "Hopper", "country": "US",
               "email": "grace@example.com", "phone": "+1.2025550143", "city": "Arlington"}


@dataclass(frozen=True)
class DomainOrder:
    action: str
    domain: str
    owner: bool = False
    auth_code: str | None = None


DOMAIN_API_ORDERS = {
    "register": DomainOrder("register", "acme-bakery-shop.com", owner=True),
    "renew": DomainOrder("renew", "acme-owned.com"),
    "transfer": DomainOrder("transfer", "acme-elsewhere.com", owner=True, auth_code=AUTH_CODE),
}


@dataclass
class Api:
    sandbox: Any
    faults: FaultTransport
    owner: Any
    metered: Registration

    def orders(self, kind: str, domain: str) -> list[dict[str, Any]]:
        return [order for order in self.sandbox.state()["orders"].values()
                if order["kind"] == kind and order["domain"] == domain]


@pytest.fixture
def api(sandbox, customer) -> Api:
    """The sandbox serving .com (a registration of the customer's to renew, a name taken
    elsewhere to transfer in) and .net, which bills registrant changes; the fault
    transport in front of it."""
    com = TldFactory(name="com")
    net = TldFactory(name="net", registrant_change_fee_amount=1200,
                     registrant_change_fee_currency="USD")
    owner = ContactFactory(account=customer, tld=com, handle="ACME-OWNER")
    RegistrationFactory(name="acme-owned.com", tld=com, account=customer, owner_contact=owner)
    metered = RegistrationFactory(name="example.net", tld=net, account=customer)
    sandbox.seed()
    sandbox.client.post("/_sandbox/seed", json={"taken": ["acme-elsewhere.com"]}
                        ).raise_for_status()
    faults = FaultTransport(sandbox.transport.inner)
    sandbox.transport.inner = faults
    return Api(sandbox, faults, owner, metered)


def sandbox_status(raw: dict[str, Any] | None, kind: str) -> str | None:
    return None if raw is None else status_for(parse_order(raw).state, kind)


@pytest.mark.parametrize("fault", FAULTS, ids=FAULT_IDS)
@pytest.mark.parametrize("name", sorted(DOMAIN_API_ORDERS))
def test_a_domain_api_order_under_every_fault(api, support_user, customer, name, fault,
                                              matrix, worker,
                                              django_capture_on_commit_callbacks):
    spec = DOMAIN_API_ORDERS[name]
    order = quoted(support_user, customer, "sandbox", spec.action, spec.domain,
                   owner=api.owner if spec.owner else None)
    api.faults.arm(fault, method="POST", path=ORDERS)

    with django_capture_on_commit_callbacks(execute=True):
        outcome = ordering.order_confirm(order=order, actor=support_user,
                                         auth_code=spec.auth_code)
    delivered = len(api.faults.delivered_to("POST", ORDERS))
    worker()

    upstream = api.orders(spec.action, spec.domain)
    raw = upstream[0] if upstream else None
    cell = Cell(f"domain_api.{name}", fault, outcome, delivered,
                len(api.faults.delivered_to("POST", ORDERS)), upstream,
                sandbox_status(raw, order.kind),
                raw["total"]["amount_cents"] if raw else None, ordering.PLACE_ACTION,
                keyed=True)
    record(matrix, cell)

    assert_invariants(cell)
    assert_message_is_true(cell)
    # Every request carried the local order's key, and the upstream kept one order for it.
    keys = {r.headers["Idempotency-Key"] for r in api.faults.delivered_to("POST", ORDERS)}
    keys |= {r.headers["Idempotency-Key"] for _, r in api.faults.struck}
    assert keys == {f"backoffice-order-{order.pk}"}
    idempotency = api.sandbox.state()["idempotency"]
    assert len([k for k in idempotency if k.endswith(f"\nbackoffice-order-{order.pk}")]) == len(
        upstream)
    assert_domain_order_message(cell, success_status=202)
    assert_settled_as_upstream(cell)


def assert_domain_order_message(cell: Cell, *, success_status: int) -> None:
    """billing.ordering's own words, for each way the placement can end."""
    pk, message = cell.order.pk, cell.message
    upstream = cell.order.provider_account.get_kind_display()
    retried = RETRIED_WITH_KEY if cell.keyed else {Fault.DROP_BEFORE}
    if cell.fault in retried:
        # Sent again by the HTTP layer (under the same key, or never sent at all): the
        # answer came back, the first order replayed where it was placed.
        assert cell.outcome.status in {Outcomes.SUCCEEDED, Outcomes.PENDING}, message
        assert message.startswith(f"Order {pk} placed"), message
        assert cell.delivered == (2 if cell.fault.reaches_upstream else 1)
    elif cell.outcome.status == Outcomes.UNKNOWN:
        if cell.keyed:
            then = f"the back-office keeps asking {upstream} what became of it (it shows no " \
                "order yet)"
        else:
            # Nothing can ask what became of it: a person checks, finance lists it.
            then = (f"{upstream} offers no way to ask what became of it: check the order at "
                    f"{upstream}; finance lists it under needs attention until then")
        assert message == (
            f"{no_usable_answer(cell.fault, success_status)} This order stays open (“payment "
            f"initiated”) and {then}. Do not order it again meanwhile."), message
    else:
        # Asked again at once, without placing it twice (the same key, or its reference).
        assert cell.keyed
        assert cell.outcome.status in {Outcomes.SUCCEEDED, Outcomes.PENDING}, message
        assert message.startswith(f"{FIRST_ANSWER_LOST}Order {pk} placed"), message
    if cell.outcome.status in {Outcomes.SUCCEEDED, Outcomes.PENDING}:
        assert len(cell.upstream) == 1
        assert cell.outcome.data["order"].upstream_id


@pytest.mark.parametrize("fault", FAULTS, ids=FAULT_IDS)
def test_a_paid_registrant_change_under_every_fault(api, support_user, fault, matrix, worker,
                                                    django_capture_on_commit_callbacks):
    path = f"^/api/domain_registrations/{api.metered.upstream_id}/registrant_change$"
    api.faults.arm(fault, method="POST", path=path)

    with django_capture_on_commit_callbacks(execute=True):
        outcome = services.registration_order_registrant_change(
            registration=api.metered, new_contact=NEW_CONTACT, actor=support_user)
    delivered = len(api.faults.delivered_to("POST", path))
    ran = worker()

    upstream = api.orders("registrant_change", "example.net")
    raw = upstream[0] if upstream else None
    cell = Cell("domain_api.registrant_change", fault, outcome, delivered,
                len(api.faults.delivered_to("POST", path)), upstream,
                sandbox_status(raw, OrderKind.REGISTRANT_CHANGE),
                raw["total"]["amount_cents"] if raw else None,
                "registration.registrant_change", keyed=True, audit_target=api.metered)
    record(matrix, cell)

    assert_invariants(cell)
    assert_message_is_true(cell)
    order = cell.order
    assert (order.kind, order.registration) == (OrderKind.REGISTRANT_CHANGE, api.metered)
    sent = [*api.faults.delivered_to("POST", path), *(r for _, r in api.faults.struck)]
    assert {r.headers["Idempotency-Key"] for r in sent} == {f"backoffice-order-{order.pk}"}
    if fault in RETRIED_WITH_KEY:
        assert outcome.status == Outcomes.PENDING, outcome.message
        assert outcome.message == (
            f"Registrant change ordered for {api.metered}: Order {order.pk} (registration in "
            "progress, 1200 USD recorded in the ledger). The registrar applies it once the "
            "payment clears; the order is followed until it ends.")
    else:
        # No immediate re-ask: the order stays open, and billing.settle_order replays it.
        assert outcome.status == Outcomes.UNKNOWN, outcome.message
        assert outcome.message == (
            f"{no_usable_answer(fault, 202)} Its order {order.pk} stays open: the back-office "
            "asks the registrar again with the same idempotency key, which cannot charge "
            "twice, and follows whatever it says.")
        # Settled while still under way, it is followed at once (billing/settling.py
        # enqueues the follow task), before any periodic sweep, to its end.
        assert ran[:3] == [(tasks.settle_order.name, "settled"),
                           (tasks.follow_domain_order.name, "registration_in_progress"),
                           (tasks.follow_domain_order.name, "registered")]
    assert_settled_as_upstream(cell)
    assert len(upstream) == 1  # every fault ends with the one change the staff ordered
    api.metered.refresh_from_db()
    assert api.metered.unsettled_operation == ""


@pytest.mark.parametrize("fault", [Fault.E500_AFTER, Fault.TIMEOUT_AFTER],
                         ids=["e500_after", "timeout_after"])
def test_a_registrant_change_whose_first_answer_was_lost_is_one_order_finance_sees_once(
        api, support_user, finance_user, client, fault, worker,
        django_capture_on_commit_callbacks):
    path = f"^/api/domain_registrations/{api.metered.upstream_id}/registrant_change$"
    api.faults.arm(fault, method="POST", path=path)

    with django_capture_on_commit_callbacks(execute=True):
        services.registration_order_registrant_change(
            registration=api.metered, new_contact=NEW_CONTACT, actor=support_user)
    worker()

    # The lost one, and its replay under the same key (by the HTTP layer's retry, or by
    # billing.settle_order): one order upstream.
    assert len(api.faults.delivered_to("POST", path)) == 2
    [upstream] = api.orders("registrant_change", "example.net")
    order = Order.objects.get()
    assert (order.kind, order.upstream_id, order.unsettled_since) == (
        OrderKind.REGISTRANT_CHANGE, str(upstream["id"]), None)
    assert order.registration == api.metered
    assert list(order.ledger_entries.values_list("kind", "state", "amount_minor", "currency")
                ) == [("payment", "succeeded", 1200, "USD")]
    # Finance finds it on the order list, once.
    client.force_login(finance_user)
    page = client.get(reverse("admin:billing_order_changelist"))
    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == [order]
    text = html.unescape(page.content.decode())
    link = reverse("admin:billing_order_change", args=[order.pk])
    assert len(re.findall(rf'href="{re.escape(link)}[?"]', text)) == 1
    assert "Registrant change" in text
    filtered = client.get(reverse("admin:billing_order_changelist"),
                          {"kind__exact": OrderKind.REGISTRANT_CHANGE})
    assert list(filtered.context["cl"].result_list) == [order]


# --- Domainee: keyed, and settled by listing purchases by customer reference -------------------


PURCHASES = "^/v1/domain-purchases$"


@pytest.fixture
def domainee_faults(domainee) -> Iterator[FaultTransport]:
    domainee.now = timezone.now()  # its purchases are stamped now, as the placement is
    faults = FaultTransport(domainee.transport())
    with override_transport(DOMAINEE, faults):
        yield faults


@pytest.mark.parametrize("fault", FAULTS, ids=FAULT_IDS)
def test_a_domainee_purchase_under_every_fault(support_user, customer, registrant, domainee,
                                               domainee_faults, fault, matrix, worker,
                                               django_capture_on_commit_callbacks):
    order = quoted(support_user, customer, DOMAINEE, "register", "janesbakery.com",
                   owner=registrant, ceiling=Money(2000, "USD"))
    domainee_faults.arm(fault, method="POST", path=PURCHASES)

    with django_capture_on_commit_callbacks(execute=True):
        outcome = ordering.order_confirm(order=order, actor=support_user)
    delivered = len(domainee_faults.delivered_to("POST", PURCHASES))
    worker()

    upstream = [p for p in domainee.purchases if p["hostname"] == "janesbakery.com"]
    purchase = purchase_record(upstream[0]) if upstream else None
    cell = Cell("domainee.register", fault, outcome, delivered,
                len(domainee_faults.delivered_to("POST", PURCHASES)), upstream,
                status_for(purchase.state, order.kind) if purchase else None,
                purchase.total_minor if purchase and purchase.paid else None,
                ordering.PLACE_ACTION, keyed=True)
    record(matrix, cell)

    assert_invariants(cell)
    assert_message_is_true(cell)
    sent = [*domainee_faults.delivered_to("POST", PURCHASES),
            *(r for _, r in domainee_faults.struck)]
    assert {r.headers["Idempotency-Key"] for r in sent} == {f"backoffice-order-{order.pk}"}
    lookups = domainee.sent("GET", "/v1/domain-purchases")
    if fault in RETRIED_WITH_KEY:
        assert lookups == []  # the answer came back: nothing to look up
    else:
        # What became of it is asked by listing the purchases of its customer reference.
        assert lookups
        assert {r.url.params["customerReference"] for r in lookups} == {"ACC-ACME-1"}
    assert_domain_order_message(cell, success_status=201)
    assert_settled_as_upstream(cell)


# --- name.com: no key, no lookup: an unknown outcome stays open for a person -------------------


NAMECOM_ORDERS = {
    "register": (DomainOrder("register", "acme-bakery.com"), f"^{CREATE}$"),
    "renew": (DomainOrder("renew", "acme-owned.com"), f"^{renew_path('acme-owned.com')}$"),
    "transfer": (DomainOrder("transfer", "acme-elsewhere.com", auth_code=AUTH_CODE),
                 f"^{TRANSFER}$"),
}
NAMECOM_STATUS = {"register": OrderStatus.REGISTERED, "renew": OrderStatus.REGISTERED,
                  "transfer": OrderStatus.TRANSFER_STARTED}


@pytest.mark.parametrize("fault", FAULTS, ids=FAULT_IDS)
@pytest.mark.parametrize("name", sorted(NAMECOM_ORDERS))
def test_a_name_com_order_under_every_fault(client, support_user, finance_user, customer,
                                            namecom, name, fault, matrix, worker,
                                            django_capture_on_commit_callbacks):
    spec, path = NAMECOM_ORDERS[name]
    namecom.own("acme-owned.com")
    namecom.register_elsewhere("acme-elsewhere.com")
    faults = FaultTransport(namecom.transport())
    with override_transport(NAMECOM, faults):
        order = quoted(support_user, customer, NAMECOM, spec.action, spec.domain)
        faults.arm(fault, method="POST", path=path)
        with django_capture_on_commit_callbacks(execute=True):
            outcome = ordering.order_confirm(order=order, actor=support_user,
                                             auth_code=spec.auth_code)
        delivered = len(faults.delivered_to("POST", path))
        ran = worker()
        delivered_total = len(faults.delivered_to("POST", path))

    upstream = [o for o in namecom.orders if o["domain"] == spec.domain]
    known = fault is Fault.DROP_BEFORE
    cell = Cell(f"namecom.{name}", fault, outcome, delivered, delivered_total, upstream,
                NAMECOM_STATUS[name] if upstream else None,
                None, ordering.PLACE_ACTION, keyed=False)
    record(matrix, cell)

    assert_invariants(cell)
    assert_message_is_true(cell)
    assert_domain_order_message(cell, success_status=200)
    order = cell.order
    assert delivered_total == delivered  # never sent again, by anything
    if known:
        assert order.status == NAMECOM_STATUS[name] and order.unsettled_since is None
        assert len(payments(order)) == 1
        return
    # name.com offers no way to tell: the order stays open and unsettled, for a person.
    assert outcome.status == Outcomes.UNKNOWN
    assert len(upstream) == (1 if fault.reaches_upstream else 0)
    assert (order.status, order.upstream_id) == (OrderStatus.PAYMENT_INITIATED, None)
    assert order.unsettled_since is not None
    assert order.status_reason == outcome.message
    assert not order.ledger_entries.exists()
    # Nothing asks name.com again: no settle task is enqueued for it, and the periodic
    # sweep skips it.
    assert [name for name, _ in ran if name == tasks.settle_order.name] == []
    assert [result for name, result in ran if name == tasks.settle_unsettled_orders.name
            ] == [0, 0, 0, 0]
    client.force_login(finance_user)
    page = client.get(reverse("finance:attention"))
    shown = {table.section.key: [row["order"].pk for row in table.rows]
             for table in page.context["tables"]}
    assert shown["unsettled"] == [order.pk]
    assert list(attention.unsettled()) == [order]


# --- Saleshandy: email infrastructure, no key, settled by reading its domain listing ------------


SALESHANDY = "saleshandy-main"
SALESHANDY_KEY = "sh_test_key_0123456789"
EMAIL_ORDER = "^/v1/domain$"
OWNER = {"first_name": "John", "last_name": "Smith", "organization": "Acme Corp",
         "street_address": "123 Market Street", "city": "San Francisco", "state": "CA",
         "post_code": "94105", "country": "US", "phone": "+14155551234"}
MAILBOXES = [{"name": "tryoutreachteam.com", "redirect_url": "acmecorp.com",
              "mailboxes": [{"first_name": "John", "last_name": "Smith", "email": "john"}]}]
KEPT = ("The order is kept here, open, while the back-office reads Saleshandy's listing to "
        "find out.")


@pytest.fixture
def saleshandy(db, monkeypatch, settings) -> Iterator[tuple[FakeSaleshandy, FaultTransport]]:
    settings.EMAIL_ORDER_POLL_INTERVAL = 0.0
    settings.EMAIL_ORDER_FOLLOW_LIMIT = 3
    monkeypatch.setenv("PROVIDER_SECRET_SALESHANDY_TEST", SALESHANDY_KEY)
    ProviderAccountFactory(label=SALESHANDY, kind="saleshandy", base_url=BASE_URL,
                           account_ref="", secret_env="PROVIDER_SECRET_SALESHANDY_TEST")
    fake = FakeSaleshandy(api_key=SALESHANDY_KEY)
    faults = FaultTransport(fake.transport())
    with override_transport(SALESHANDY, faults):
        yield fake, faults


#: Saleshandy lists an order's domains only once its checkout is paid (the adapter's own
#: reading: SaleshandyProvider.unshown_order_not_placed is ""), so an email order whose
#: answer was lost is never concluded "not placed": after the grace period it stays open
#: and unsettled, for a person, and the order mirror adopts it if Saleshandy shows it.
STILL_UNSHOWN = (
    "No usable answer came back when it was placed, and Saleshandy still shows no such "
    "order {minutes} minutes later. Saleshandy shows an order only once it is paid, so it "
    "may be there, unpaid: check the account at Saleshandy before placing it again.")


def place_email_order(actor, customer):
    return email_orders.email_order_place(
        account=customer, provider_account=ProviderAccount.objects.get(label=SALESHANDY),
        owner=OWNER, email_service_provider="Google", plan_type="quarterly",
        domains=copy.deepcopy(MAILBOXES), actor=actor)


@pytest.mark.parametrize("fault", FAULTS, ids=FAULT_IDS)
def test_an_email_order_under_every_fault(support_user, customer, saleshandy, fault, matrix,
                                          worker, django_capture_on_commit_callbacks,
                                          settings):
    fake, faults = saleshandy
    faults.arm(fault, method="POST", path=EMAIL_ORDER)

    with django_capture_on_commit_callbacks(execute=True):
        outcome = place_email_order(support_user, customer)
    delivered = len(faults.delivered_to("POST", EMAIL_ORDER))
    ran = worker()

    upstream = list(fake.orders.values())
    # Saleshandy's order, placed, awaits the customer's payment at its checkout: nothing
    # is charged until then.
    cell = Cell("saleshandy.email", fault, outcome, delivered,
                len(faults.delivered_to("POST", EMAIL_ORDER)), upstream,
                OrderStatus.PAYMENT_INITIATED if upstream else None, None,
                email_orders.EMAIL_ORDER_ACTION, keyed=False)
    record(matrix, cell)

    assert_invariants(cell)
    assert_message_is_true(cell)
    order = cell.order
    assert order.items.count() == 1
    assert len(upstream) == (1 if fault.reaches_upstream or fault is Fault.DROP_BEFORE else 0)
    if fault is Fault.DROP_BEFORE:
        # Never sent, so sent again at once: placed, with the checkout for the customer.
        assert outcome.status == Outcomes.SUCCEEDED
        assert outcome.message == (
            f"Email infrastructure order {upstream[0].order_id} placed at Saleshandy for Acme "
            "Corp: 1 mailbox(es) on tryoutreachteam.com. Payment needed: Saleshandy returned "
            "a checkout link for the customer to pay; the mailboxes are provisioned once it "
            "is paid.")
        assert outcome.data["checkout_url"] == upstream[0].checkout_url
        assert_settled_as_upstream(cell)
        assert order.upstream_id == upstream[0].order_id
        return
    reason = came_back(fault, 201)
    assert outcome.status == Outcomes.UNKNOWN
    assert outcome.message == (
        f"No usable answer came back from Saleshandy ({reason}) after the order was sent: it "
        f"may have been placed. {KEPT}")
    # Whether Saleshandy holds the order (its checkout link lost with the answer) or
    # nothing reached it, its listing shows nothing until the order is paid: the order
    # is never concluded "not placed". Once the grace period has passed it stays open
    # and unsettled, for a person, on finance's needs-attention list.
    assert (order.status, order.upstream_id) == (OrderStatus.PAYMENT_INITIATED, None)
    assert order.unsettled_since is not None
    assert order.status_reason == STILL_UNSHOWN.format(
        minutes=settings.ORDER_SETTLE_GRACE_MINUTES)
    assert not order.ledger_entries.exists()
    assert list(attention.unsettled()) == [order]
    # Said once, in one audit row whose outcome is unknown, however often it is asked.
    [settled] = StaffAction.objects.filter(action="order.settled")
    assert (settled.outcome, settled.actor_label, settled.message) == (
        Outcomes.UNKNOWN, "system:settle", order.status_reason)
    assert settled.target_id == str(order.pk)
    results = [result for name, result in ran if name == tasks.settle_order.name]
    assert "not_placed" not in results and "settled" not in results
    assert results[-1] == "unsupported"


def test_an_email_order_whose_answer_was_lost_and_that_was_then_paid_is_one_order(
        support_user, customer, saleshandy, worker, django_capture_on_commit_callbacks):
    fake, faults = saleshandy
    faults.arm(Fault.TIMEOUT_AFTER, method="POST", path=EMAIL_ORDER)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = place_email_order(support_user, customer)
    worker()
    kept = Order.objects.get()
    assert outcome.data["order"] == kept
    # Unpaid, Saleshandy does not list it: open and unsettled here, not cancelled.
    assert (kept.status, kept.upstream_id) == (OrderStatus.PAYMENT_INITIATED, None)
    assert kept.unsettled_since is not None
    [taken] = fake.orders.values()
    fake.pay(taken.order_id)  # the customer paid at Saleshandy's checkout after all

    mirror_orders(ProviderAccount.objects.get(label=SALESHANDY))
    worker()

    # One order here for Saleshandy's one order: the kept one, adopted (it has no
    # idempotency key, but it is unsettled, on the same account, for the same domain),
    # and settled; not a cancelled one ("not placed") and a second one mirrored for the
    # same mailboxes.
    order = Order.objects.get()
    assert order.pk == kept.pk
    assert (order.upstream_id, order.idempotency_key) == (taken.order_id, None)
    assert order.status == OrderStatus.REGISTRATION_IN_PROGRESS
    assert order.unsettled_since is None
    assert order.items.count() == 1
    assert list(attention.unsettled()) == []


# --- webhooks replayed out of order --------------------------------------------------------------


@pytest.mark.parametrize("fault", [None, Fault.E500_AFTER], ids=["answered", "answer_lost"])
def test_a_domainee_webhook_replayed_out_of_order_never_moves_an_order_back(
        client, support_user, customer, registrant, domainee, domainee_faults, monkeypatch,
        fault, worker, django_capture_on_commit_callbacks):
    monkeypatch.setenv("PROVIDER_SECRET_DOMAINEE_MAIN_WEBHOOK", "whsec-test")
    order = quoted(support_user, customer, DOMAINEE, "register", "janesbakery.com",
                   owner=registrant, ceiling=Money(2000, "USD"))
    if fault is not None:
        domainee_faults.arm(fault, method="POST", path=PURCHASES)
    with django_capture_on_commit_callbacks(execute=True):
        ordering.order_confirm(order=order, actor=support_user)
    worker()
    order.refresh_from_db()
    assert order.status == OrderStatus.REGISTERED

    def deliver(event: dict[str, Any]) -> str:
        response = client.post(reverse("webhook", args=["domainee", DOMAINEE]),
                               data=json.dumps(event), content_type="application/json",
                               HTTP_X_WEBHOOK_SECRET="whsec-test")
        assert response.status_code == 200
        return response.json()["status"]

    # What Domainee fired when it bought it, and, later, the refund of a rollback.
    [completed] = domainee.events
    assert completed["type"] == "domain_purchase.completed"
    purchase = completed["data"]["purchase"]
    refunded = {"id": "evt_refund", "type": "domain_purchase.failed",
                "data": {"purchase": {**purchase, "status": "refunded"},
                         "reason": "The registry rolled the registration back"}}

    assert deliver(refunded) == "applied"
    order.refresh_from_db()
    assert (order.status, order.refunded_minor) == (OrderStatus.REFUNDED, order.total_minor)
    ledger = sorted(order.ledger_entries.values_list("kind", "amount_minor"))
    assert ledger == [("payment", 1518), ("refund", 1518)]

    # The older event, redelivered late: kept, flagged, not applied.
    assert deliver(completed) == "out_of_order"
    assert deliver(completed) == "duplicate"
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert sorted(order.ledger_entries.values_list("kind", "amount_minor")) == ledger
    stored = WebhookEvent.objects.get(event_id=completed["id"])
    assert (stored.outcome, stored.order) == ("out_of_order", order)
    assert WebhookEvent.objects.get(event_id="evt_refund").outcome == "applied"
    assert Order.objects.count() == 1
    # Nothing offers to place it again.
    client.force_login(support_user)
    page = client.get(reverse("admin:billing_order_change", args=[order.pk]))
    assert page.status_code == 200
    text = html.unescape(page.content.decode())
    assert 'id="confirm-quote"' not in text and "Confirm this quote" not in text
    assert "Refunded" in text
