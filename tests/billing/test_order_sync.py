"""Upstream orders mirrored into billing.Order (billing.order_sync), the one writer of
order rows for every source: for each upstream the orders arrive with their amounts,
status and items; a second run changes nothing (no rows, no ledger entries, no audit
rows); a changed upstream status is one update with one audit row; a completed order
leaves the registration it delivered, in its own transaction; an unreadable record is
counted and skipped; an upstream error stops the account's run with a clear message and
nothing half-written. The Domain Registration API is driven through the sandbox; the
other upstreams are the shared fakes at the HTTP boundary (tests.fakes); where a task
enqueues another, the broker is replaced by a list of what was enqueued.
"""

from __future__ import annotations

import copy
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from celery.exceptions import Retry
from django.apps import apps
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.management import CommandError, call_command

from backoffice.models import StaffAction
from billing import email_orders, ledger, order_sync, tasks
from billing.models import LedgerEntry, Order, OrderItem, OrderKind, OrderStatus, WebhookEvent
from billing.order_states import StaleRecord
from billing.order_sync import (
    OrderSyncReport,
    adopt_placed_order,
    apply_record,
    final_statuses,
    known_order,
    mirror_orders,
    refresh_open_orders,
    refresh_order,
    status_for,
    upsert_record,
)
from billing.services import webhook_receive
from registrar import tasks as registrar_tasks
from registrar.models import ProviderAccount, Registration, RegistrationStatus
from registrar.providers.base import KnownOrder, OrderLine, OrderRecord, OrderState
from registrar.providers.domain_api.orders import parse_order
from registrar.providers.domainee.adapter import DomaineeProvider
from registrar.providers.errors import CallerError, MalformedResponse
from registrar.providers.registry import adapter_class, provider_for_account
from registrar.sync import sync_provider
from tests.factories import (
    AccountFactory,
    OrderFactory,
    ProviderAccountFactory,
    RegistrationFactory,
    TldFactory,
    UserFactory,
)
from tests.fakes.domainee import FakeDomainee
from tests.fakes.entri import PREFIX, FakeEntri
from tests.fakes.http import Scripted, respond
from tests.fakes.saleshandy import BASE_URL as SALESHANDY_URL
from tests.fakes.saleshandy import OWNER, FakeSaleshandy, error

SYNC_ACTIONS = ("order.sync_created", "order.sync_changed")
REGISTRATION_ACTIONS = ("registration.sync_created", "registration.sync_updated")


def counts() -> dict[str, int]:
    """Rows of every billing model, the registrations, and the audit rows the mirror
    writes for orders and for the registrations they delivered."""
    rows = {model._meta.label: model.objects.count()
            for model in apps.get_app_config("billing").get_models()}
    rows["registrations"] = Registration.objects.count()
    rows["audit"] = StaffAction.objects.filter(action__in=SYNC_ACTIONS).count()
    rows["registration_audit"] = StaffAction.objects.filter(
        action__in=REGISTRATION_ACTIONS).count()
    return rows


def more(before: dict[str, int], **added: int) -> dict[str, int]:
    """`before`, with these rows added (negative: removed); keys as in counts(), `items`
    for the order items."""
    after = dict(before)
    for key, number in added.items():
        after["billing.OrderItem" if key == "items" else key] += number
    return after


def sync_audits(action: str | None = None):
    rows = StaffAction.objects.filter(action__in=SYNC_ACTIONS)
    return rows.filter(action=action) if action else rows


def delivered(order: Order) -> Registration:
    """The registration a completed order left behind: linked to the order, created with
    one audit row in the order's name."""
    order.refresh_from_db()
    registration = order.registration
    assert registration is not None, f"order {order.pk} left no registration"
    (row,) = StaffAction.objects.filter(action="registration.sync_created",
                                        target_id=str(registration.pk))
    assert row.actor_label == f"order:{order.pk}"
    return registration


# --- Entri (document 000) ------------------------------------------------------------------

ENTRI_LABEL = "entri-main"
ENTRI_APP = "acme-backoffice"
ENTRI_SECRET = "entri-secret-for-sync"
ENTRI_A = "5cf0cd4a-6a9f-4b53-8b11-7fe2a89e75df"
ENTRI_B = "5c819665-2f7a-48c7-8c7b-fabd46f9235f"
ENTRI_C = "21b363fb-c8c0-427e-8d2d-91658f806471"
PRICING = {"purchasePrice": 19, "renewalPrice": 24, "currency": "USD", "billingPeriod": 2}


@pytest.fixture
def entri(db, monkeypatch) -> Iterator[FakeEntri]:
    monkeypatch.setenv("PROVIDER_SECRET_ENTRI_SYNC", ENTRI_SECRET)
    ProviderAccountFactory(label=ENTRI_LABEL, kind="entri", base_url="https://api.goentri.com",
                           account_ref=ENTRI_APP, secret_env="PROVIDER_SECRET_ENTRI_SYNC")
    cache.clear()  # the shared JWT cache: a token another test's fake minted is refused here
    with FakeEntri(application_id=ENTRI_APP, secret=ENTRI_SECRET).serving(ENTRI_LABEL) as fake:
        yield fake
    cache.clear()


def entri_account() -> ProviderAccount:
    return ProviderAccount.objects.get(label=ENTRI_LABEL)


def order_pages(fake: FakeEntri) -> list[str]:
    """The pages of the order list that were asked for, in order."""
    return [r.url.params["page"] for r in fake.sent("GET", f"{PREFIX}/orders")]


def test_entri_orders_are_mirrored_once(entri):
    customer = AccountFactory(entri_user_id="ca8d6947-6232-44f7-af37-6501edad00aa")
    entri.add_order(ENTRI_A, "registered", "foo.com", userId=customer.entri_user_id,
                    pricing=PRICING)
    entri.add_order(ENTRI_B, "transfer_started", "bar.com", "bar.net",
                    userId="not-a-customer-here")
    entri.page_size_limit = 1  # one order a page: the run must follow the pages

    report = mirror_orders(entri_account())

    assert report.ok and (report.seen, report.created, report.updated, report.unchanged,
                          report.failed) == (2, 2, 0, 0, 0)
    assert order_pages(entri) == ["0", "1"]
    registered = Order.objects.get(upstream_id=ENTRI_A)
    assert (registered.status, registered.kind, registered.domain, registered.currency,
            registered.total_minor, registered.subtotal_minor, registered.years) == (
        OrderStatus.REGISTERED, OrderKind.REGISTRATION, "foo.com", "USD", 1900, 1900, 2)
    assert registered.account == customer and registered.provider_account == entri_account()
    assert list(registered.items.values_list("upstream_id", "domain")) == [
        (f"{ENTRI_A[:8]}-item-0", "foo.com")]
    assert list(registered.ledger_entries.values_list("kind", "amount_minor",
                                                      "external_reference")) == [
        (LedgerEntry.Kind.PAYMENT, 1900, f"{ENTRI_A}:charge")]
    # The order was registered: its domain is in the mirror now, for the order's customer.
    registration = delivered(registered)
    assert (registration.name, registration.status, registration.provider_account,
            registration.account) == ("foo.com", RegistrationStatus.ACTIVE, entri_account(),
                                      customer)
    transfer = Order.objects.get(upstream_id=ENTRI_B)
    # The list gives no price: the amounts are left at nothing rather than guessed. A user
    # id no account here carries links nobody; it is kept as the reference.
    assert (transfer.status, transfer.kind, transfer.total_minor, transfer.account,
            transfer.customer_reference) == (
        OrderStatus.TRANSFER_STARTED, OrderKind.TRANSFER_IN, 0, None, "not-a-customer-here")
    assert sorted(transfer.items.values_list("domain", flat=True)) == ["bar.com", "bar.net"]
    assert not transfer.ledger_entries.exists()
    # A transfer still under way delivered nothing yet.
    assert transfer.registration is None
    assert not Registration.objects.filter(name__in=["bar.com", "bar.net"]).exists()
    created = sync_audits("order.sync_created")
    assert created.count() == 2
    assert set(created.values_list("actor_label", flat=True)) == {"sync"}
    assert created.get(target_id=str(registered.pk)).message == (
        f"Sync: {ENTRI_LABEL} order {ENTRI_A} mirrored (Registered).")

    before = counts()
    again = mirror_orders(entri_account())
    assert (again.created, again.updated, again.unchanged, again.failed) == (0, 0, 2, 0)
    assert counts() == before


def test_a_changed_entri_order_is_one_update_with_one_audit_row(entri):
    entri.add_order(ENTRI_A, "registered", "foo.com")
    entri.add_order(ENTRI_B, "transfer_started", "bar.com", "bar.net")
    mirror_orders(entri_account())
    customer = AccountFactory(entri_user_id="user-b")
    entri.set_order_status(ENTRI_B, "transfer_completed")
    entri.orders[ENTRI_B]["items"].pop()  # bar.net is no longer on the order
    entri.orders[ENTRI_B]["userId"] = customer.entri_user_id
    before = counts()

    report = mirror_orders(entri_account())

    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    order = Order.objects.get(upstream_id=ENTRI_B)
    assert order.status == OrderStatus.TRANSFER_COMPLETED
    assert list(order.items.values_list("domain", "details")) == [
        ("bar.com", {"status": "transfer_completed"})]
    # Found now, the customer is linked and their reference filled in.
    assert (order.account, order.customer_reference) == (customer, "user-b")
    (row,) = sync_audits("order.sync_changed")
    assert row.target_id == str(order.pk) and row.actor_label == "sync"
    changes = row.parameters["changes"]
    assert changes["status"] == {"old": "transfer_started", "new": "transfer_completed"}
    assert changes["items"]["new"] == {"added": [], "updated": ["bar.com"],
                                       "removed": ["bar.net"]}
    assert changes["account"] == {"old": None, "new": customer.customer_reference}
    assert changes["registration"] == {"old": None, "new": "bar.com"}
    assert row.message.startswith(
        f"Sync: {ENTRI_LABEL} order {ENTRI_B} changed (account, customer_reference, items, "
        "registration, status); Transfer started → Transfer completed")
    # The transfer ended: the domain it brought in is in the mirror, for that customer.
    registration = delivered(order)
    assert (registration.name, registration.account) == ("bar.com", customer)
    assert counts() == more(before, items=-1, audit=1, registrations=1, registration_audit=1)

    # Linked once, never re-linked from upstream.
    entri.orders[ENTRI_B]["userId"] = AccountFactory(entri_user_id="user-c").entri_user_id
    before = counts()
    assert mirror_orders(entri_account()).unchanged == 2
    order.refresh_from_db()
    assert (order.account, order.customer_reference) == (customer, "user-b")
    assert counts() == before


def test_an_order_placed_here_keeps_what_only_we_know(entri):
    staff = UserFactory(username="placer")
    customer = AccountFactory(customer_reference="ACC-KEEP-1")
    placed = OrderFactory(
        provider_account=entri_account(), upstream_id=ENTRI_C, account=customer,
        customer_reference="ACC-KEEP-1", status=OrderStatus.REGISTRATION_IN_PROGRESS,
        domain="example.com", subtotal_minor=1900, fees_minor=0, total_minor=1900,
        quoted_total_minor=1900, quote={"total": 1900}, placed_by=staff,
        idempotency_key="backoffice-order-77")
    placed_at = placed.placed_at
    OrderItem.objects.create(order=placed, description="example.com", domain="example.com",
                             unit_amount_minor=1900, total_minor=1900,
                             details={"renewal_price_minor": 2400})
    entri.add_order(ENTRI_C, "registered", "example.com", userId="someone-else")

    report = mirror_orders(entri_account())

    assert (report.created, report.updated) == (0, 1)
    placed.refresh_from_db()
    assert placed.status == OrderStatus.REGISTERED
    assert (placed.account, placed.customer_reference, placed.placed_by, placed.quote,
            placed.quoted_total_minor, placed.idempotency_key, placed.placed_at) == (
        customer, "ACC-KEEP-1", staff, {"total": 1900}, 1900, "backoffice-order-77",
        placed_at)
    # The list carries no price: the amounts stay as placed, on the order and its item.
    assert (placed.total_minor, placed.subtotal_minor) == (1900, 1900)
    item = placed.items.get()
    assert (item.upstream_id, item.total_minor, item.details) == (
        f"{ENTRI_C[:8]}-item-0", 1900, {"renewal_price_minor": 2400, "status": "registered"})
    assert list(placed.ledger_entries.values_list("amount_minor", flat=True)) == [1900]
    # The registration goes to the customer the order was placed for, not Entri's user.
    assert delivered(placed).account == customer

    before = counts()
    mirror_orders(entri_account())
    assert counts() == before


def test_a_delivered_order_read_again_leaves_its_registration_to_the_registration_sync(
        entri):
    # Entri declares no final order state, so every run reads a registered order again;
    # its item describes the domain as it was when ordered.
    entri.add_domain("foo.com", auto_renew=True)
    entri.add_order(ENTRI_A, "registered", "foo.com", pricing=PRICING)
    mirror_orders(entri_account())
    order = Order.objects.get(upstream_id=ENTRI_A)
    registration = delivered(order)
    assert registration.auto_renew is True
    # Later, auto-renew is switched off at Entri and the registration sync brings it in.
    entri.update_domain("foo.com", auto_renew=False, updated_at="2026-02-01T09:00:00.000000")
    assert sync_provider(entri_account(), force=True).updated == 1
    registration.refresh_from_db()
    assert registration.auto_renew is False
    before = counts()

    report = mirror_orders(entri_account())

    # Nothing changed about the order, so nothing is written: not the order, and not the
    # registration it delivered long ago, which the registration sync keeps up to date.
    assert (report.updated, report.unchanged) == (0, 1)
    registration.refresh_from_db()
    assert registration.auto_renew is False
    assert counts() == before


def test_an_order_listed_before_it_has_items_takes_its_domain_later(entri):
    entri.add_order(ENTRI_A, "payment_initiated")  # no items yet: no domain either

    assert mirror_orders(entri_account()).created == 1

    order = Order.objects.get(upstream_id=ENTRI_A)
    assert (order.status, order.domain, order.tld, order.items.count()) == (
        OrderStatus.PAYMENT_INITIATED, "", None, 0)
    entri.add_order(ENTRI_A, "registered", "later.com")  # now with its item
    report = mirror_orders(entri_account())
    assert report.updated == 1
    order.refresh_from_db()
    assert (order.status, order.domain) == (OrderStatus.REGISTERED, "later.com")
    assert delivered(order).name == "later.com"
    # Filled in once: a domain the order has is never replaced by the upstream's.
    entri.orders[ENTRI_A]["items"][0]["domainName"] = "renamed.com"
    mirror_orders(entri_account())
    order.refresh_from_db()
    assert order.domain == "later.com"


def test_an_unreadable_entri_order_is_counted_and_skipped(entri):
    good = entri.add_order(ENTRI_B, "registered", "bar.com")
    unknown_status = {**copy.deepcopy(entri.add_order(ENTRI_A, "registered", "foo.com")),
                      "orderStatus": "exploded"}
    entri.set_pages("orders", [[unknown_status, good, {"orderStatus": "registered"}]])

    report = mirror_orders(entri_account())

    assert report.ok and (report.seen, report.created, report.failed) == (3, 1, 2)
    assert report.errors[0].startswith(f"{ENTRI_A}: unreadable, skipped")
    assert report.errors[1].startswith("(record without an id): unreadable, skipped")
    assert list(Order.objects.values_list("upstream_id", flat=True)) == [ENTRI_B]
    assert list(Registration.objects.values_list("name", flat=True)) == ["bar.com"]


def test_a_record_the_order_cannot_take_is_counted_and_the_others_mirrored(entri):
    # Registered here, and refunded in full (1900) already; the upstream now says it
    # charged less than that refund.
    refunded = OrderFactory(provider_account=entri_account(), upstream_id=ENTRI_A,
                            status=OrderStatus.REGISTERED, domain="foo.com", total_minor=1900,
                            subtotal_minor=1900, fees_minor=0, refunded_minor=1900)
    entri.add_order(ENTRI_A, "registered", "foo.com",
                    pricing={**PRICING, "purchasePrice": 5})
    entri.add_order(ENTRI_B, "registered", "bar.com")

    report = mirror_orders(entri_account())

    assert report.ok and (report.seen, report.created, report.failed) == (2, 1, 1)
    assert report.errors == [f"order {ENTRI_A}: not mirrored (the refund would exceed the "
                             "order's total)"]
    refunded.refresh_from_db()
    assert (refunded.status, refunded.total_minor, refunded.refunded_minor) == (
        OrderStatus.REGISTERED, 1900, 1900)
    assert not refunded.items.exists() and refunded.registration is None
    assert not Registration.objects.filter(name="foo.com").exists()
    assert Order.objects.get(upstream_id=ENTRI_B).status == OrderStatus.REGISTERED


def test_a_record_older_than_the_order_is_a_warning_and_not_applied(entri):
    # Refunded here; the upstream's list still says registered (it lags, or the refund
    # came from elsewhere): moving back is never done, and it is not a failure.
    refunded = OrderFactory(provider_account=entri_account(), upstream_id=ENTRI_A,
                            status=OrderStatus.REFUNDED, domain="foo.com", total_minor=1900,
                            subtotal_minor=1900, fees_minor=0, refunded_minor=1900)
    entri.add_order(ENTRI_A, "registered", "foo.com",
                    pricing={**PRICING, "purchasePrice": 5})
    entri.add_order(ENTRI_B, "registered", "bar.com")

    report = mirror_orders(entri_account())

    assert report.ok and (report.seen, report.created, report.updated, report.unchanged,
                          report.failed) == (2, 1, 0, 1, 0)
    assert report.errors == []
    assert report.warnings == [
        f"order {ENTRI_A}: a record saying registered was not applied (Refunded cannot "
        "become Registered): it is older than what is known here"]
    refunded.refresh_from_db()
    assert (refunded.status, refunded.total_minor, refunded.refunded_minor) == (
        OrderStatus.REFUNDED, 1900, 1900)
    assert not refunded.items.exists() and refunded.registration is None
    assert not refunded.ledger_entries.exists()
    assert not Registration.objects.filter(name="foo.com").exists()
    assert Order.objects.get(upstream_id=ENTRI_B).status == OrderStatus.REGISTERED
    assert not StaffAction.objects.filter(target_type="billing.order",
                                          target_id=str(refunded.pk)).exists()


def test_an_entri_error_stops_the_run_and_writes_nothing_half(entri):
    entri.add_order(ENTRI_A, "registered", "foo.com")
    entri.add_order(ENTRI_B, "registered", "bar.com")
    entri.page_size_limit = 1
    entri.fail_page("orders", 1, respond(500, {"message": "boom"}))

    report = mirror_orders(entri_account())

    assert not report.ok and report.retryable and report.seen == 1 and report.created == 1
    assert "HTTP 500" in report.aborted
    assert "the 1 order(s) read before it were mirrored, nothing after it" in report.aborted
    assert ("ABORTED: " + report.aborted) in report.summary()
    assert list(Order.objects.values_list("upstream_id", flat=True)) == [ENTRI_A]
    assert OrderItem.objects.count() == 1 and sync_audits().count() == 1
    # What was mirrored before the error is kept whole, its registration included.
    assert list(Registration.objects.values_list("name", flat=True)) == ["foo.com"]


def test_an_entri_error_on_the_first_page_writes_nothing(entri):
    entri.add_order(ENTRI_A, "registered", "foo.com")
    entri.fail_page("orders", 0, respond(403, {"message": "not this application"}))
    before = counts()

    report = mirror_orders(entri_account())

    assert not report.ok and not report.retryable
    assert report.aborted.endswith("nothing was written.") and "HTTP 403" in report.aborted
    assert counts() == before


def test_one_entri_order_is_followed_by_reading_it_again(entri):
    order = OrderFactory(provider_account=entri_account(), upstream_id=ENTRI_C,
                         status=OrderStatus.REGISTRATION_IN_PROGRESS, domain="follow.com",
                         total_minor=1900, subtotal_minor=1900, fees_minor=0)
    entri.add_order(ENTRI_C, "registration_in_progress", "follow.com")

    assert refresh_order(order).status == OrderStatus.REGISTRATION_IN_PROGRESS
    assert [r.url.path for r in entri.api_requests] == [f"{PREFIX}/orders/{ENTRI_C}"]
    # Still in progress: new are only the item the upstream now lists, and the payment of
    # an order in a charged status, recorded once.
    (row,) = sync_audits()
    assert sorted(row.parameters["changes"]) == ["items", "ledger_payment"]
    assert list(order.ledger_entries.values_list("external_reference", "amount_minor")) == [
        (f"{ENTRI_C}:charge", 1900)]

    entri.set_order_status(ENTRI_C, "registered")
    assert refresh_order(order).status == OrderStatus.REGISTERED
    row = sync_audits().latest("pk")
    assert row.parameters["changes"]["status"]["new"] == "registered"
    assert row.actor_label == f"poll:{ENTRI_LABEL}"
    assert row.message.startswith(f"poll:{ENTRI_LABEL}: {ENTRI_LABEL} order {ENTRI_C} changed")
    assert delivered(order).name == "follow.com"


def test_an_entri_status_event_updates_only_an_order_it_knows(entri):
    event = {"id": "evt_1", "type": "order.status_changed",
             "data": {"orderId": ENTRI_A, "status": "registered"}}

    webhook_receive(account=entri_account(), payload=event)

    # A status alone cannot make an order (it names no currency): the event is kept.
    assert not Order.objects.exists()
    assert WebhookEvent.objects.get(event_id="evt_1").order is None

    entri.add_order(ENTRI_A, "registration_in_progress", "foo.com", pricing=PRICING)
    mirror_orders(entri_account())
    order = Order.objects.get(upstream_id=ENTRI_A)
    before = counts()
    assert webhook_receive(account=entri_account(), payload={**event, "id": "evt_2"}) == (
        "applied")
    order.refresh_from_db()
    assert order.status == OrderStatus.REGISTERED
    # The webhook writes its own audit row, not the mirror's; the money was counted once.
    webhook_rows = StaffAction.objects.filter(action="order.webhook", target_id=str(order.pk))
    assert webhook_rows.count() == 1
    assert counts() == more(before, **{"billing.WebhookEvent": 1})
    assert list(order.ledger_entries.values_list("external_reference", flat=True)) == [
        f"{ENTRI_A}:charge"]


# --- Domainee (document 002) -----------------------------------------------------------------

DOMAINEE_LABEL = "domainee-main"
DOMAINEE_KEY = "dme_live_secret"


@pytest.fixture
def domainee(db, monkeypatch) -> Iterator[FakeDomainee]:
    monkeypatch.setenv("PROVIDER_SECRET_DOMAINEE_SYNC", DOMAINEE_KEY)
    ProviderAccountFactory(label=DOMAINEE_LABEL, kind="domainee",
                           base_url="https://api.domainee.dev", account_ref="",
                           secret_env="PROVIDER_SECRET_DOMAINEE_SYNC")
    with FakeDomainee(token=DOMAINEE_KEY).serving(DOMAINEE_LABEL) as fake:
        yield fake


def domainee_account() -> ProviderAccount:
    return ProviderAccount.objects.get(label=DOMAINEE_LABEL)


def purchase(fake: FakeDomainee, purchase_id: str, hostname: str, status: str = "completed",
             *, customer_reference: str = "user_jane_42", **overrides: Any) -> dict[str, Any]:
    """A purchase the workspace already has, under a short id; returns its record, which
    a test may change to change what the list shows."""
    return fake.add_purchase(hostname, status=status, customer_reference=customer_reference,
                             id=purchase_id, **overrides)


def test_domainee_purchases_are_mirrored_once(domainee):
    jane = AccountFactory(customer_reference="user_jane_42")
    first = purchase(domainee, "p-1", "janesbakery.com")
    purchase(domainee, "p-2", "janesbakery.net", "refunded", totalCents=2518, feeCents=100,
             wholesaleCents=2418)
    purchase(domainee, "p-3", "janesbakery.org", "failed", customer_reference="someone_else")
    domainee.pages = [domainee.purchases[:2], domainee.purchases[2:]]

    report = mirror_orders(domainee_account())

    assert report.ok and (report.seen, report.created, report.failed) == (3, 3, 0)
    sent = [dict(r.url.params) for r in domainee.requests]
    assert sent == [{"limit": "100"}, {"limit": "100", "cursor": "c1"}]
    assert {r.headers["Authorization"] for r in domainee.requests} == {f"Bearer {DOMAINEE_KEY}"}
    completed, refunded, failed = (Order.objects.get(upstream_id=f"p-{n}") for n in (1, 2, 3))
    assert (completed.status, completed.subtotal_minor, completed.fees_minor,
            completed.total_minor, completed.refunded_minor, completed.account) == (
        OrderStatus.REGISTERED, 1418, 100, 1518, 0, jane)
    assert (refunded.status, refunded.total_minor, refunded.refunded_minor,
            refunded.net_minor) == (OrderStatus.REFUNDED, 2518, 2518, 0)
    assert (failed.status, failed.account, failed.customer_reference) == (
        OrderStatus.FAILED, None, "someone_else")
    assert list(completed.items.values_list("description", "total_minor")) == [
        ("Registration of janesbakery.com (1 year)", 1518)]
    entries = sorted(LedgerEntry.objects.values_list("external_reference", "kind",
                                                     "amount_minor"))
    assert entries == [("p-1:charge", "payment", 1518), ("p-2:charge", "payment", 2518),
                       ("p-2:refund", "refund", 2518)]
    # The completed purchase is a registration now, as Domainee describes it; the refunded
    # and the failed ones made none.
    registration = delivered(completed)
    assert (registration.name, registration.status, registration.account,
            registration.provider_account, registration.privacy_protect,
            registration.auto_renew) == (
        "janesbakery.com", RegistrationStatus.ACTIVE, jane, domainee_account(), True, False)
    assert registration.expires_at.isoformat().startswith(first["expiresAt"][:19])
    assert list(Registration.objects.values_list("name", flat=True)) == ["janesbakery.com"]

    before = counts()
    again = mirror_orders(domainee_account())
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert counts() == before


def test_a_purchase_mirrored_by_a_webhook_is_not_counted_twice(domainee):
    record = purchase(domainee, "p-9", "late.com", "refunded")
    delivery = {"id": "evt_1", "type": "domain_purchase.failed",
                "data": {"purchase": copy.deepcopy(record), "reason": "Registrar refused"}}
    assert webhook_receive(account=domainee_account(), payload=delivery) == "applied"
    order = Order.objects.get(upstream_id="p-9")
    # The webhook wrote the order whole: its one item and the money, once.
    assert order.items.count() == 1
    assert not sync_audits().exists()

    report = mirror_orders(domainee_account())

    assert (report.created, report.updated, report.unchanged) == (0, 0, 1)
    order.refresh_from_db()
    assert order.status_reason == "Registrar refused"  # the list gives no reason: kept
    assert sorted(order.ledger_entries.values_list("external_reference", flat=True)) == [
        "p-9:charge", "p-9:refund"]
    assert order.items.count() == 1
    before = counts()
    assert mirror_orders(domainee_account()).unchanged == 1
    # ... and the same delivery again is a duplicate that changes nothing.
    assert webhook_receive(account=domainee_account(), payload=delivery) == "duplicate"
    assert counts() == before


def test_a_webhook_after_the_mirror_counts_no_money_again(domainee):
    record = purchase(domainee, "p-1", "janesbakery.com")
    mirror_orders(domainee_account())
    before = counts()

    webhook_receive(account=domainee_account(), payload={
        "id": "evt_7", "type": "domain_purchase.completed", "data": {"purchase": record}})

    assert counts() == more(before, **{"billing.WebhookEvent": 1})
    order = Order.objects.get(upstream_id="p-1")
    assert list(order.ledger_entries.values_list("external_reference", flat=True)) == [
        "p-1:charge"]


def test_a_purchase_that_changes_is_one_update_and_lower_amounts_are_not_silent(domainee):
    record = purchase(domainee, "p-1", "janesbakery.com")
    mirror_orders(domainee_account())
    record.update(status="refunded", totalCents=1400, wholesaleCents=1300)

    report = mirror_orders(domainee_account())

    assert report.updated == 1
    order = Order.objects.get(upstream_id="p-1")
    assert (order.status, order.total_minor, order.refunded_minor) == (
        OrderStatus.REFUNDED, 1400, 1400)
    assert "order p-1: total_minor went down from 1518 to 1400" in report.warnings
    (row,) = sync_audits("order.sync_changed")
    assert row.parameters["changes"]["total_minor"] == {"old": 1518, "new": 1400}
    assert row.parameters["changes"]["ledger_refund"] == {"old": None, "new": "1400 USD"}

    # A later record that says completed again (and nothing refunded) would move the
    # refunded order back: it is not applied at all, and said; the refund the ledger
    # recorded stays.
    record.update(status="completed")
    report = mirror_orders(domainee_account())
    order.refresh_from_db()
    assert (report.updated, report.unchanged, report.failed) == (0, 1, 0)
    assert (order.status, order.total_minor, order.refunded_minor) == (
        OrderStatus.REFUNDED, 1400, 1400)
    assert report.warnings == ["order p-1: a record saying registered was not applied "
                               "(Refunded cannot become Registered): it is older than what "
                               "is known here"]
    assert sorted(order.ledger_entries.values_list("kind", "amount_minor")) == [
        ("payment", 1518), ("refund", 1400)]
    assert len(sync_audits("order.sync_changed")) == 1


def test_an_unreadable_purchase_is_counted_and_skipped(domainee):
    bad_amount = purchase(domainee, "p-1", "a.com", totalCents="15.18")
    good = purchase(domainee, "p-2", "b.com")
    unknown_status = purchase(domainee, "p-3", "c.com", status="pending")
    domainee.pages = [[bad_amount, "not a purchase", good, unknown_status]]

    report = mirror_orders(domainee_account())

    assert report.ok and (report.seen, report.created, report.failed) == (4, 1, 3)
    assert [line.split(":")[0] for line in report.errors] == [
        "p-1", "(record without an id)", "p-3"]
    assert list(Order.objects.values_list("upstream_id", flat=True)) == ["p-2"]


def test_a_report_keeps_a_bounded_number_of_errors_but_counts_them_all(domainee):
    domainee.pages = [[{"id": f"p-{n}"} for n in range(order_sync.ERRORS_KEPT + 5)]]

    report = mirror_orders(domainee_account())

    assert report.ok and report.failed == report.seen == order_sync.ERRORS_KEPT + 5
    assert len(report.errors) == order_sync.ERRORS_KEPT


def test_a_domainee_error_stops_the_run_and_writes_nothing(domainee):
    domainee.fail_list(respond(401, {"error": {"code": "unauthorized", "message": "bad key"}}))
    report = mirror_orders(domainee_account())
    assert not report.ok and not report.retryable
    assert report.aborted.endswith("nothing was written.") and "HTTP 401" in report.aborted
    assert Order.objects.count() == 0 and sync_audits().count() == 0


def test_a_purchase_placed_here_without_its_id_is_adopted_not_mirrored_twice(domainee):
    customer = AccountFactory(customer_reference="user_jane_42")
    # Placed from here (it carries our key); the answer was lost, so no upstream id.
    placed = OrderFactory(provider_account=domainee_account(), account=customer,
                          upstream_id=None, idempotency_key="backoffice-order-5",
                          status=OrderStatus.PAYMENT_INITIATED, domain="janesbakery.com",
                          total_minor=0, subtotal_minor=0, fees_minor=0)
    # Not placed from here, not placed at all, or for another domain: never adopted.
    foreign = OrderFactory(provider_account=domainee_account(), upstream_id=None,
                           idempotency_key=None, status=OrderStatus.PAYMENT_INITIATED,
                           domain="janesbakery.com")
    quoted = OrderFactory(provider_account=domainee_account(), upstream_id=None,
                          idempotency_key="backoffice-order-6", status=OrderStatus.QUOTED,
                          domain="janesbakery.com")
    other_domain = OrderFactory(provider_account=domainee_account(), upstream_id=None,
                                idempotency_key="backoffice-order-7",
                                status=OrderStatus.PAYMENT_INITIATED, domain="janesbakery.net")
    purchase(domainee, "p-1", "janesbakery.com")

    report = mirror_orders(domainee_account())

    assert (report.created, report.updated) == (0, 1)
    placed.refresh_from_db()
    assert (placed.upstream_id, placed.status, placed.total_minor, placed.idempotency_key) == (
        "p-1", OrderStatus.REGISTERED, 1518, "backoffice-order-5")
    for other in (foreign, quoted, other_domain):
        other.refresh_from_db()
        assert other.upstream_id is None
    assert Order.objects.count() == 4
    assert list(placed.ledger_entries.values_list("external_reference", flat=True)) == [
        "p-1:charge"]
    assert delivered(placed).account == customer
    # A record without a domain has nothing to adopt by.
    assert adopt_placed_order(domainee_account(), "p-2", "") is None


def test_an_estimate_recorded_at_placement_is_replaced_by_the_listed_amounts_once(domainee):
    # The placement was charged and refunded, but its answer stated neither the amount nor
    # the purchase: recorded at the ceiling, under our key (there was no upstream id).
    placed = OrderFactory(provider_account=domainee_account(), upstream_id=None,
                          idempotency_key="backoffice-order-5", status=OrderStatus.REFUNDED,
                          status_reason="Registrar refused", domain="janesbakery.com",
                          subtotal_minor=2000, fees_minor=0, total_minor=2000,
                          refunded_minor=2000)
    assert ledger.record_charge(placed) and ledger.record_refund(placed)
    purchase(domainee, "p-1", "janesbakery.com", "refunded")

    report = mirror_orders(domainee_account())

    assert (report.created, report.updated) == (0, 1)
    placed.refresh_from_db()
    assert (placed.upstream_id, placed.status, placed.total_minor, placed.refunded_minor,
            placed.status_reason) == ("p-1", OrderStatus.REFUNDED, 1518, 1518,
                                      "Registrar refused")
    assert report.warnings == [
        "order p-1: subtotal_minor went down from 2000 to 1418",
        "order p-1: total_minor went down from 2000 to 1518",
        "order p-1: refunded went down from 2000 to 1518 with the total"]
    # The money was recorded once, under the reference that came first.
    assert sorted(placed.ledger_entries.values_list("kind", "external_reference")) == [
        ("payment", "backoffice-order-5:charge"), ("refund", "backoffice-order-5:refund")]
    before = counts()
    assert mirror_orders(domainee_account()).unchanged == 1
    assert counts() == before


def test_iter_purchases_pages_by_cursor_or_by_the_last_id():
    # Document 002 gives the list no shape: every shape the adapter reads, page by page.
    shop = FakeDomainee()
    upstream = Scripted(
        respond(200, {"data": [purchase(shop, "p-1", "a.com")], "hasMore": True}),
        respond(200, {"purchases": [purchase(shop, "p-2", "b.com")], "nextCursor": "abc"}),
        respond(200, [purchase(shop, "p-3", "c.com")]),
    )
    provider = DomaineeProvider(base_url="https://api.domainee.dev", token="k",
                                transport=httpx.MockTransport(upstream))

    ids = [p.id for p in provider.iter_purchases(customer_reference="user_jane_42",
                                                 page_size=2)]

    assert ids == ["p-1", "p-2", "p-3"]
    assert [dict(r.url.params) for r in upstream.requests] == [
        {"limit": "2", "customerReference": "user_jane_42"},
        {"limit": "2", "customerReference": "user_jane_42", "startingAfter": "p-1"},
        {"limit": "2", "customerReference": "user_jane_42", "cursor": "abc"}]
    assert all(r.headers["Authorization"] == "Bearer k" for r in upstream.requests)


def test_iter_purchases_refuses_bad_pages_and_records():
    shop = FakeDomainee()

    def provider(*bodies: Any) -> DomaineeProvider:
        # No body at all: a call refused before any request (the answer is never used).
        answers = [respond(200, body) for body in bodies] or [respond(500)]
        return DomaineeProvider(base_url="https://api.domainee.dev", token="k",
                                transport=httpx.MockTransport(Scripted(*answers)))

    with pytest.raises(MalformedResponse):
        list(provider({"purchases": [purchase(shop, "p-1", "a.com", years="x")]})
             .iter_purchases())
    with pytest.raises(MalformedResponse):
        list(provider({"nothing": []}).iter_purchases())
    with pytest.raises(MalformedResponse, match="loop"):
        list(provider({"purchases": [], "nextCursor": "x"},
                      {"purchases": [], "nextCursor": "x"}).iter_purchases())
    with pytest.raises(CallerError):
        list(provider().iter_purchases(page_size=0))
    skipped: list[Any] = []
    kept = list(provider({"purchases": [{"id": "p-bad"}, purchase(shop, "p-2", "b.com")]})
                .iter_purchases(on_malformed=lambda record, exc: skipped.append(record)))
    assert [p.id for p in kept] == ["p-2"] and skipped == [{"id": "p-bad"}]


# --- Saleshandy (document 003) ---------------------------------------------------------------

SALESHANDY_LABEL = "saleshandy-main"
SALESHANDY_KEY = "sh_test_key_0123456789"
MAILBOXES = [{"name": "tryoutreachteam.com", "redirect_url": "acmecorp.com",
              "mailboxes": [{"first_name": "John", "last_name": "Smith", "email": "john"}]}]


@pytest.fixture
def saleshandy(db, monkeypatch) -> Iterator[FakeSaleshandy]:
    monkeypatch.setenv("PROVIDER_SECRET_SALESHANDY_SYNC", SALESHANDY_KEY)
    ProviderAccountFactory(label=SALESHANDY_LABEL, kind="saleshandy", base_url=SALESHANDY_URL,
                           account_ref="", secret_env="PROVIDER_SECRET_SALESHANDY_SYNC")
    with FakeSaleshandy(api_key=SALESHANDY_KEY).serving(SALESHANDY_LABEL) as fake:
        yield fake


def saleshandy_account() -> ProviderAccount:
    return ProviderAccount.objects.get(label=SALESHANDY_LABEL)


def email_order_placed_here(actor) -> Order:
    """An email order Support placed through the service: taken by the fake, waiting for
    the customer to pay at the checkout."""
    customer = AccountFactory(customer_reference="ACC-ACME-1")
    outcome = email_orders.email_order_place(
        account=customer, provider_account=saleshandy_account(), owner=OWNER,
        email_service_provider="Google", plan_type="quarterly",
        domains=copy.deepcopy(MAILBOXES), actor=actor)
    assert outcome.ok, outcome.message
    order = outcome.data["order"]
    assert (order.upstream_id, order.status) == ("ord_1", OrderStatus.PAYMENT_INITIATED)
    return order


def listing_reads(fake: FakeSaleshandy) -> int:
    return len(fake.sent("GET", "/v1/domain"))


def test_saleshandy_orders_are_mirrored_from_the_domain_listing(saleshandy, support_user):
    placed = email_order_placed_here(support_user)
    saleshandy.pay("ord_1")  # paid: its domain is listed, provisioning
    saleshandy.add_domain("outbound-acme.com", "active", order_id="ord_88", mailboxes=("sam",),
                          email_service_provider="Microsoft", plan_type="quarterly")

    report = mirror_orders(saleshandy_account())

    assert report.ok and (report.seen, report.created, report.updated) == (2, 1, 1)
    placed.refresh_from_db()
    assert placed.status == OrderStatus.REGISTRATION_IN_PROGRESS
    assert placed.account.customer_reference == "ACC-ACME-1"
    item = placed.items.get()
    assert (item.details["domain_id"], item.details["domain_status"]) == (
        str(saleshandy.domain("tryoutreachteam.com").id), "inProgress")
    assert placed.registration is None  # still provisioning: nothing delivered yet
    elsewhere = Order.objects.get(upstream_id="ord_88")
    assert (elsewhere.kind, elsewhere.status, elsewhere.currency, elsewhere.total_minor,
            elsewhere.domain, elsewhere.account) == (
        OrderKind.EMAIL_INFRASTRUCTURE, OrderStatus.REGISTERED, "USD", 0,
        "outbound-acme.com", None)
    assert list(elsewhere.items.values_list("description", flat=True)) == [
        "Mailbox sam@outbound-acme.com (Microsoft, quarterly)"]
    assert delivered(elsewhere).name == "outbound-acme.com"
    assert LedgerEntry.objects.count() == 0  # the customer pays Saleshandy directly
    assert listing_reads(saleshandy) == 1

    before = counts()
    again = mirror_orders(saleshandy_account())
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert counts() == before

    saleshandy.progress("ord_1", to="active")
    report = mirror_orders(saleshandy_account())
    assert (report.updated, report.unchanged) == (1, 1)
    placed.refresh_from_db()
    assert placed.status == OrderStatus.REGISTERED
    rows = list(sync_audits("order.sync_changed").filter(target_id=str(placed.pk))
                .order_by("pk"))
    assert len(rows) == 2  # payment initiated -> in progress, then -> registered
    assert rows[-1].parameters["changes"]["status"] == {"old": "registration_in_progress",
                                                        "new": "registered"}
    registration = delivered(placed)
    assert (registration.name, registration.account) == ("tryoutreachteam.com",
                                                          placed.account)

    # Finished here: a later listing (the domain deleted) does not reopen it.
    saleshandy.domain("tryoutreachteam.com").status = "deleted"
    before = counts()
    assert mirror_orders(saleshandy_account()).updated == 0
    placed.refresh_from_db()
    assert placed.status == OrderStatus.REGISTERED
    assert counts() == before


def test_what_saleshandy_matches_a_listing_to_is_the_local_order(saleshandy, support_user):
    placed = email_order_placed_here(support_user)

    assert known_order(placed) == KnownOrder(
        local_id=placed.pk, upstream_id="ord_1", open=True,
        lines=(OrderLine(description="Mailbox john@tryoutreachteam.com (Google, quarterly)",
                         domain="tryoutreachteam.com", unit_amount_minor=0, total_minor=0,
                         details=placed.items.get().details),))
    placed.status = OrderStatus.REGISTERED
    assert known_order(placed).open is False


def test_an_email_order_placed_without_its_id_is_adopted_by_its_domains(saleshandy,
                                                                        support_user):
    # Taken, but the answer named no order (document 003 gives the 201 no schema).
    saleshandy.script("POST", "/v1/domain", respond(201, {"message": "Domain purchased"}))
    outcome = email_orders.email_order_place(
        account=AccountFactory(customer_reference="ACC-ACME-1"),
        provider_account=saleshandy_account(), owner=OWNER, email_service_provider="Google",
        plan_type="quarterly", domains=copy.deepcopy(MAILBOXES), actor=support_user)
    placed = outcome.data["order"]
    assert (placed.upstream_id, placed.status) == (None, OrderStatus.REGISTRATION_IN_PROGRESS)
    saleshandy.add_domain("tryoutreachteam.com", "active", order_id="ord_5")

    report = mirror_orders(saleshandy_account())

    assert report.ok and (report.created, report.updated) == (0, 1)
    placed.refresh_from_db()
    assert (placed.upstream_id, placed.status) == ("ord_5", OrderStatus.REGISTERED)
    assert Order.objects.count() == 1
    assert placed.items.get().details["domain_status"] == "active"
    assert delivered(placed).account == placed.account


def test_an_unreadable_listed_domain_costs_only_its_order(saleshandy, support_user):
    email_order_placed_here(support_user)
    saleshandy.script("GET", "/v1/domain", respond(200, {"payload": {"domains": [
        {"id": 9100, "name": "tryoutreachteam.com", "orderId": "ord_1"},  # no status
        {"id": 9200, "name": "outbound-acme.com", "status": "failed", "orderId": "ord_88",
         "mailboxes": [{"id": 2, "email": "sam@outbound-acme.com"}]},
        {"id": 9300, "name": "stray.com", "status": "active",
         "mailboxes": [{"id": 3, "email": "kim@stray.com"}]},
    ]}}))

    report = mirror_orders(saleshandy_account())

    assert report.ok and (report.seen, report.created, report.failed) == (3, 1, 2)
    assert any(line.startswith("ord_1: unreadable") for line in report.errors)
    assert any("no order here has stray.com" in line for line in report.errors)
    assert Order.objects.get(upstream_id="ord_1").status == OrderStatus.PAYMENT_INITIATED
    failed = Order.objects.get(upstream_id="ord_88")
    assert (failed.status, failed.status_reason) == (
        OrderStatus.FAILED, "Saleshandy domain status: outbound-acme.com failed")
    assert not Registration.objects.exists()


def test_a_saleshandy_error_stops_the_run(saleshandy, support_user):
    placed = email_order_placed_here(support_user)
    saleshandy.script("GET", "/v1/domain", error(500, "down"))
    report = mirror_orders(saleshandy_account())
    assert not report.ok and "HTTP 500" in report.aborted
    placed.refresh_from_db()
    assert placed.status == OrderStatus.PAYMENT_INITIATED and sync_audits().count() == 0

    saleshandy.script("GET", "/v1/domain", respond(200, {"payload": {"domains": "none today"}}))
    report = mirror_orders(saleshandy_account())
    assert not report.ok and report.retryable
    assert report.aborted.startswith("The registrar sent an answer we could not read.")


def test_an_account_that_cannot_be_used_is_a_clear_failure(saleshandy, monkeypatch):
    monkeypatch.delenv("PROVIDER_SECRET_SALESHANDY_SYNC")
    report = mirror_orders(saleshandy_account())
    assert not report.ok and "PROVIDER_SECRET_SALESHANDY_SYNC" in report.aborted
    assert not saleshandy.requests
    namecom = ProviderAccountFactory(label="namecom-main", kind="namecom")
    assert "have no orders to mirror" in mirror_orders(namecom).aborted


# --- The Domain Registration API (document 001), through the sandbox ---------------------------

NEW_OWNER = {"first_name": "Grace", "last_name": "Hopper", "country": "US",
             "email": "grace@example.com", "phone": "+1.2025550143"}


@pytest.fixture
def sandbox_account(sandbox) -> ProviderAccount:
    TldFactory(name="com")
    sandbox.seed()
    return ProviderAccount.objects.get(label="sandbox")


def place(account: ProviderAccount, domain: str) -> Order:
    """Place an order at the sandbox and record its answer, as the ordering service does."""
    provider = provider_for_account(account)
    key = f"backoffice-order-{uuid.uuid4()}"
    placed = provider.create_domain_order(domain=domain, action="register", years=1,
                                          idempotency_key=key, new_contact=NEW_OWNER)
    order = Order(provider_account=account, kind=OrderKind.REGISTRATION,
                  status=OrderStatus.PAYMENT_INITIATED, domain=domain, currency="USD",
                  idempotency_key=key)
    assert apply_record(order, placed.record)
    return order


def order_reads(sandbox) -> list[str]:
    return [r.url.path for r in sandbox.transport.sent("GET") if "/api/orders/" in r.url.path]


def test_a_domain_api_order_is_followed_until_registered(sandbox, sandbox_account):
    order = place(sandbox_account, "brand-new.com")
    assert order.status == OrderStatus.REGISTRATION_IN_PROGRESS
    total = order.total_minor
    assert total > 0 and order.upstream_id
    assert list(order.ledger_entries.values_list("kind", "amount_minor",
                                                 "external_reference")) == [
        ("payment", total, f"{order.upstream_id}:charge")]

    first = mirror_orders(sandbox_account)  # the sandbox answers "processing"
    assert (first.seen, first.updated, first.unchanged) == (1, 0, 1)
    second = mirror_orders(sandbox_account)  # ... then "completed"
    assert (second.seen, second.updated) == (1, 1)
    order.refresh_from_db()
    assert order.status == OrderStatus.REGISTERED and order.refunded_minor == 0
    assert order.ledger_entries.count() == 1
    assert list(order.items.values_list("domain", "total_minor")) == [("brand-new.com", total)]
    (row,) = sync_audits()
    assert row.action == "order.sync_changed" and row.actor_label == "sync"
    assert row.parameters["changes"]["status"] == {"old": "registration_in_progress",
                                                   "new": "registered"}
    # The order named the registration it made: that registration was read at once and
    # is in the mirror, linked to the order.
    guid = sandbox.state()["orders"][order.upstream_id]["registration_id"]
    assert len(sandbox.transport.sent("GET", f"/api/domain_registrations/{guid}")) == 1
    registration = delivered(order)
    assert (registration.name, registration.upstream_id, registration.provider_account) == (
        "brand-new.com", guid, sandbox_account)
    assert row.parameters["changes"]["registration"] == {"old": None, "new": "brand-new.com"}

    reads = len(order_reads(sandbox))
    before = counts()
    third = mirror_orders(sandbox_account)  # finished: not read again
    assert third.seen == 0 and len(order_reads(sandbox)) == reads
    assert counts() == before


def test_a_failed_domain_api_order_ends_refunded(sandbox, sandbox_account):
    order = place(sandbox_account, "shop-fails.com")
    mirror_orders(sandbox_account)
    report = mirror_orders(sandbox_account)

    assert report.updated == 1
    order.refresh_from_db()
    assert (order.status, order.refunded_minor, order.net_minor) == (
        OrderStatus.REFUNDED, order.total_minor, 0)
    assert order.status_reason == "The registry refused the name."
    assert sorted(order.ledger_entries.values_list("kind", "amount_minor")) == [
        ("payment", order.total_minor), ("refund", order.total_minor)]
    upstream = sandbox.state()["orders"][order.upstream_id]
    assert upstream["cart"]["status"] == "refunded"
    assert upstream["refund"]["amount_cents"] == order.total_minor
    assert order.registration is None and not Registration.objects.filter(
        name="shop-fails.com").exists()

    before = counts()
    assert mirror_orders(sandbox_account).seen == 0
    assert apply_record(order, provider_for_account(sandbox_account).read_order(
        order.upstream_id)) == {}
    assert counts() == before


def test_a_domain_api_error_stops_the_run_with_the_order_as_it_was(sandbox, sandbox_account):
    order = place(sandbox_account, "brand-new.com")
    other = place(sandbox_account, "another-one.com")
    sandbox.fault(r"^/api/orders/", method="GET", status=500, code="internal_error")

    report = mirror_orders(sandbox_account)

    assert not report.ok and "HTTP 500" in report.aborted and report.updated == 0
    for row in (order, other):
        row.refresh_from_db()
        assert row.status == OrderStatus.REGISTRATION_IN_PROGRESS
    assert sync_audits().count() == 0


def test_a_domain_api_order_the_upstream_does_not_know_is_counted(sandbox, sandbox_account):
    order = place(sandbox_account, "brand-new.com")
    gone = OrderFactory(provider_account=sandbox_account, upstream_id="999999",
                        status=OrderStatus.REGISTRATION_IN_PROGRESS)
    mirror_orders(sandbox_account)

    report = mirror_orders(sandbox_account)

    assert report.ok and (report.seen, report.updated, report.failed) == (2, 1, 1)
    assert report.errors[0].startswith("order 999999:")
    order.refresh_from_db()
    gone.refresh_from_db()
    assert order.status == OrderStatus.REGISTERED
    assert gone.status == OrderStatus.REGISTRATION_IN_PROGRESS


def test_an_answer_about_another_order_is_not_applied(sandbox, sandbox_account):
    order = place(sandbox_account, "brand-new.com")
    stray = {"id": 777, "kind": "register", "status": "completed", "domain": "brand-new.com",
             "total": {"amount_cents": 1, "currency": "USD"}, "line_items": []}
    sandbox.fault(r"^/api/orders/.*", method="GET", status=200,
                  body=json.dumps({"order": stray}))

    report = mirror_orders(sandbox_account)

    assert report.ok and (report.seen, report.updated, report.failed) == (1, 0, 1)
    assert report.errors == [f"order {order.upstream_id}: not mirrored (the record is order "
                             f"777, not {order.upstream_id})"]
    order.refresh_from_db()
    assert (order.status, order.upstream_id) == (OrderStatus.REGISTRATION_IN_PROGRESS,
                                                 order.upstream_id)
    assert sync_audits().count() == 0


def domain_api_record(**overrides: Any) -> dict[str, Any]:
    record = {"id": 41, "kind": "register", "status": "pending", "status_reason": "",
              "domain": "example.com", "registration_id": None, "years": 1,
              "total": {"amount_cents": 1299, "currency": "USD"},
              "line_items": [{"description": "Registration of example.com (1 year)",
                              "domain": "example.com", "role": "register", "years": 1,
                              "amount_cents": 1299, "currency": "USD"}],
              "refund": None, "created_at": "2026-01-01T00:00:00Z",
              "updated_at": "2026-01-01T00:00:00Z"}
    record.update(overrides)
    return record


@pytest.mark.django_db
def test_apply_record_maps_every_domain_api_status():
    account = ProviderAccountFactory(label="domain-api", kind="domain_api")
    order = OrderFactory(provider_account=account, upstream_id="41", status="payment_initiated",
                         total_minor=0, subtotal_minor=0, fees_minor=0, domain="example.com")

    assert apply_record(order, parse_order(domain_api_record()))
    assert (order.status, order.total_minor) == (OrderStatus.REGISTRATION_IN_PROGRESS, 1299)
    assert not apply_record(order, parse_order(domain_api_record(status="processing")))

    registration = RegistrationFactory(upstream_id="6a1c9c0e-0000-4000-8000-000000000041")
    assert apply_record(order, parse_order(domain_api_record(
        status="completed", registration_id=registration.upstream_id)))
    order.refresh_from_db()
    assert (order.status, order.registration) == (OrderStatus.REGISTERED, registration)

    transfer = OrderFactory(provider_account=account, upstream_id="42", status="quoted",
                            kind=OrderKind.TRANSFER_IN, total_minor=0)
    apply_record(transfer, parse_order(domain_api_record(id=42, kind="transfer")))
    assert transfer.status == OrderStatus.TRANSFER_STARTED
    # A registration not in the mirror yet cannot be linked: the order is applied without.
    apply_record(transfer, parse_order(domain_api_record(
        id=42, kind="transfer", status="completed", registration_id="not-mirrored-yet")))
    assert (transfer.status, transfer.registration) == (OrderStatus.TRANSFERRED, None)

    # The placement's answer says the cart was paid; the order then fails, the money kept:
    # failed, the payment in the ledger and no refund, which the finance needs-attention
    # report flags.
    kept = OrderFactory(provider_account=account, upstream_id="43", total_minor=0,
                        status=OrderStatus.PAYMENT_INITIATED)
    apply_record(kept, replace(parse_order(domain_api_record(id=43)), paid=True))
    apply_record(kept, parse_order(domain_api_record(id=43, status="failed",
                                                     status_reason="Registry said no")))
    kept.refresh_from_db()
    assert (kept.status, kept.status_reason, kept.refunded_minor) == (
        OrderStatus.FAILED, "Registry said no", 0)
    assert list(kept.ledger_entries.values_list("kind", flat=True)) == ["payment"]
    # A read alone does not say the money was taken: a failed order nothing was charged
    # for here records no payment.
    never_charged = OrderFactory(provider_account=account, upstream_id="45", total_minor=0,
                                 status=OrderStatus.PAYMENT_INITIATED)
    apply_record(never_charged, parse_order(domain_api_record(id=45, status="failed")))
    assert never_charged.status == OrderStatus.FAILED
    assert not never_charged.ledger_entries.exists()

    refunded = OrderFactory(provider_account=account, upstream_id="44", total_minor=0,
                            status=OrderStatus.REGISTRATION_IN_PROGRESS)
    apply_record(refunded, parse_order(domain_api_record(
        id=44, status="failed", refund={"amount_cents": 1299, "currency": "USD",
                                        "refunded_at": "2026-01-01T00:01:00Z"})))
    assert (refunded.status, refunded.refunded_minor) == (OrderStatus.REFUNDED, 1299)
    assert sorted(refunded.ledger_entries.values_list("kind", "amount_minor")) == [
        ("payment", 1299), ("refund", 1299)]

    # A record that would move an order back (a late "processing") is refused whole:
    # nothing of it is applied, in the row or on the object.
    with pytest.raises(StaleRecord) as stale:
        apply_record(order, parse_order(domain_api_record(status="processing")))
    assert (stale.value.current, stale.value.new) == (
        OrderStatus.REGISTERED, OrderStatus.REGISTRATION_IN_PROGRESS)
    assert str(stale.value) == "Registered cannot become Registration in progress"
    assert order.status == OrderStatus.REGISTERED
    order.refresh_from_db()
    assert (order.status, order.registration) == (OrderStatus.REGISTERED, registration)

    cancelled = OrderFactory(provider_account=account, upstream_id="46", total_minor=0,
                             status=OrderStatus.REGISTRATION_IN_PROGRESS)
    apply_record(cancelled, parse_order(domain_api_record(id=46, status="cancelled")))
    assert cancelled.status == OrderStatus.CANCELLED


@pytest.mark.django_db
def test_a_refund_stated_without_the_total_never_exceeds_or_shrinks_it():
    account = ProviderAccountFactory(label="domain-api", kind="domain_api")
    order = OrderFactory(provider_account=account, upstream_id="41",
                         status=OrderStatus.REGISTRATION_IN_PROGRESS, total_minor=0,
                         subtotal_minor=0, fees_minor=0)
    apply_record(order, parse_order(domain_api_record()))
    warnings: list[str] = []

    apply_record(order, parse_order(domain_api_record(
        status="failed", total=None, refund={"amount_cents": 5000, "currency": "USD"})),
        warnings=warnings)

    assert (order.status, order.total_minor, order.refunded_minor) == (
        OrderStatus.REFUNDED, 1299, 1299)
    assert warnings == ["order 41: upstream shows 5000 refunded, more than the 1299 charged; "
                        "recorded the total"]
    warnings.clear()
    assert not apply_record(order, parse_order(domain_api_record(
        status="failed", total=None, refund={"amount_cents": 1000, "currency": "USD"})),
        warnings=warnings)
    assert order.refunded_minor == 1299
    assert warnings == ["order 41: upstream shows 1000 refunded, less than the 1299 "
                        "recorded; kept 1299"]
    assert sorted(order.ledger_entries.values_list("kind", "amount_minor")) == [
        ("payment", 1299), ("refund", 1299)]


@pytest.mark.django_db
@pytest.mark.parametrize("record", [
    domain_api_record(status="lost"),
    domain_api_record(id=99),
    domain_api_record(total={"amount_cents": "12.99", "currency": "USD"}),
    domain_api_record(refund={"amount_cents": 1299, "currency": "EUR"}),
    domain_api_record(status="failed", refund={"amount_cents": 5000, "currency": "USD"}),
    {"status": "pending"},
], ids=["status", "other-order", "float-total", "refund-currency", "refund-over-total",
        "no-id"])
def test_apply_record_refuses_what_is_not_this_order(record):
    account = ProviderAccountFactory(label="domain-api", kind="domain_api")
    order = OrderFactory(provider_account=account, upstream_id="41",
                         status=OrderStatus.REGISTRATION_IN_PROGRESS)
    total = order.total_minor
    with pytest.raises((KeyError, TypeError, ValueError)):
        apply_record(order, parse_order(record))
    # Nothing was written, and the caller's object is as it was too.
    assert (order.status, order.total_minor, order.refunded_minor) == (
        OrderStatus.REGISTRATION_IN_PROGRESS, total, 0)
    order.refresh_from_db()
    assert order.status == OrderStatus.REGISTRATION_IN_PROGRESS
    assert not order.ledger_entries.exists() and not order.items.exists()


@pytest.mark.django_db
def test_a_partial_record_about_no_order_here_writes_nothing():
    account = ProviderAccountFactory(label="domain-api", kind="domain_api")
    before = counts()
    for upstream_id in ("77", None):
        result = upsert_record(account, OrderRecord(upstream_id=upstream_id,
                                                    state=OrderState.COMPLETED),
                               actor_label="sync")
        assert result.order is None and not result.created
    assert counts() == before


def test_status_for_reads_the_one_table_for_every_kind():
    assert status_for(OrderState.IN_PROGRESS, OrderKind.REGISTRATION) == (
        OrderStatus.REGISTRATION_IN_PROGRESS)
    assert status_for(OrderState.IN_PROGRESS, OrderKind.TRANSFER_IN) == (
        OrderStatus.TRANSFER_STARTED)
    assert status_for(OrderState.FAILED, OrderKind.TRANSFER_IN) == OrderStatus.TRANSFER_FAILED
    assert set(order_sync.ORDER_STATUS) == set(OrderState)
    # An upstream that names no final state only ends quotes that were never placed.
    assert final_statuses(DomaineeProvider) == {OrderStatus.QUOTED}
    assert {OrderStatus.REGISTERED, OrderStatus.REFUNDED, OrderStatus.TRANSFERRED} <= (
        final_statuses(adapter_class("sandbox")))


# --- Following, the command and the tasks -----------------------------------------------------


def test_an_order_that_cannot_be_followed_is_refused_without_a_request(sandbox_account,
                                                                       domainee, sandbox):
    not_placed = OrderFactory(provider_account=sandbox_account, upstream_id=None,
                              status=OrderStatus.PAYMENT_INITIATED)
    listed_only = OrderFactory(provider_account=domainee_account(), upstream_id="p-1",
                               status=OrderStatus.REGISTERED)
    for order in (not_placed, listed_only):
        with pytest.raises(ValueError, match="not a placed order that can be followed"):
            refresh_order(order)
        assert tasks.follow_domain_order.run(order.pk) == "failed"
    ended = OrderFactory(provider_account=sandbox_account, upstream_id="123",
                         status=OrderStatus.REFUNDED)
    assert refresh_order(ended) is ended
    assert not sandbox.transport.requests and not domainee.requests


def test_the_command_prints_the_report_and_fails_when_an_account_failed(entri, domainee):
    entri.add_order(ENTRI_A, "registered", "foo.com")
    purchase(domainee, "p-1", "a.com")
    out, err = io.StringIO(), io.StringIO()

    call_command("sync_orders", stdout=out, stderr=err)

    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"{DOMAINEE_LABEL}: orders seen 1, created 1, updated 0")
    assert lines[1].startswith(f"{ENTRI_LABEL}: orders seen 1, created 1")
    assert lines[2] == "2 accounts: created 2, updated 0, unchanged 0, failed 0."

    out = io.StringIO()
    call_command("sync_orders", "--account", ENTRI_LABEL, stdout=out)
    assert "created 0, updated 0, unchanged 1, failed 0" in out.getvalue()

    # A record that cannot be mirrored is an order finance may not see: the run goes on,
    # and the command fails (on a dry run too).
    domainee.pages = [[{**purchase(domainee, "p-2", "b.com"), "totalCents": -1}]]
    out, err = io.StringIO(), io.StringIO()
    before = counts()
    with pytest.raises(CommandError) as exc:
        call_command("sync_orders", "--account", DOMAINEE_LABEL, "--dry-run", stdout=out,
                     stderr=err)
    assert str(exc.value) == (f"Order sync failed for {DOMAINEE_LABEL}: 1 record(s) could "
                              "not be mirrored")
    assert exc.value.returncode == 1
    assert "error: p-2: unreadable, skipped" in err.getvalue()
    assert "failed 1" in out.getvalue()
    assert "Dry run: nothing was written." in out.getvalue()
    assert counts() == before

    domainee.fail_list(respond(500, {"error": {"code": "internal", "message": "x"}}))
    with pytest.raises(CommandError, match=f"Order sync failed for {DOMAINEE_LABEL}") as exc:
        call_command("sync_orders", stdout=io.StringIO(), stderr=io.StringIO())
    assert exc.value.returncode == 1
    with pytest.raises(CommandError, match="No enabled provider account “nope”"):
        call_command("sync_orders", "--account", "nope")


def test_a_dry_run_writes_nothing(entri):
    entri.add_order(ENTRI_A, "registered", "foo.com", "foo.net", pricing=PRICING)
    before = counts()

    report = mirror_orders(entri_account(), dry_run=True)

    assert report.created == 1 and report.dry_run and report.ok
    assert report.summary().endswith("Dry run: nothing was written.")
    # Nothing at all: not the order, its money, its audit row or the registrations.
    assert counts() == before


def test_the_registration_sync_no_longer_mirrors_orders(entri, sandbox_account, monkeypatch):
    queued: list[int] = []
    monkeypatch.setattr(registrar_tasks.sync_provider_account, "delay", queued.append)
    ProviderAccountFactory(label="namecom-main", kind="namecom")
    assert registrar_tasks.sync_all_providers() == 2
    assert sorted(queued) == sorted([entri_account().pk, sandbox_account.pk])

    entri.add_order(ENTRI_A, "registered", "foo.com")
    summary = registrar_tasks.sync_provider_account.run(entri_account().pk)
    assert summary.startswith(f"{ENTRI_LABEL}: seen 0")
    # The registrations only: the order list was not asked for, no order was written.
    assert not entri.sent("GET", f"{PREFIX}/orders")
    assert not Order.objects.exists()


def test_the_nightly_order_mirror_covers_every_account_with_orders(entri, sandbox,
                                                                  sandbox_account, monkeypatch):
    queued: list[int] = []
    monkeypatch.setattr(tasks.mirror_account_orders, "delay", queued.append)
    ProviderAccountFactory(label="namecom-main", kind="namecom")
    ProviderAccountFactory(label="entri-off", kind="entri", enabled=False)
    assert tasks.mirror_all_orders() == 2
    assert queued == sorted([entri_account().pk, sandbox_account.pk])

    entri.add_order(ENTRI_A, "registered", "foo.com")
    summary = tasks.mirror_account_orders.run(entri_account().pk)
    assert summary.startswith(f"{ENTRI_LABEL}: orders seen 1, created 1")
    assert Order.objects.filter(provider_account=entri_account()).count() == 1

    order = place(sandbox_account, "brand-new.com")
    summary = tasks.mirror_account_orders.run(sandbox_account.pk)
    assert summary.startswith("sandbox: orders seen 1")
    assert order_reads(sandbox) == [f"/api/orders/{order.upstream_id}"]
    assert tasks.mirror_account_orders.run(10**9) == "gone"


def test_an_order_mirror_that_may_pass_is_retried_and_one_that_will_not_is_reported(entri):
    entri.fail_page("orders", 0, respond(500, {"message": "boom"}))
    with pytest.raises(Retry):
        tasks.mirror_account_orders.run(entri_account().pk)
    # Run as the worker runs it: retried up to the bound, then reported.
    summary = tasks.mirror_account_orders.apply(args=(entri_account().pk,)).get()
    assert "ABORTED" in summary and "HTTP 500" in summary
    assert len(entri.sent("GET", f"{PREFIX}/orders")) == 1 + (
        1 + tasks.ORDER_MIRROR_MAX_RETRIES)

    entri.fail_page("orders", 0, respond(403, {"message": "not this application"}))
    summary = tasks.mirror_account_orders.run(entri_account().pk)
    assert "ABORTED" in summary and "HTTP 403" in summary
    assert not Order.objects.exists()


def test_the_order_mirror_covers_every_upstream_that_lists_or_reads_orders(db):
    for kind in ("domain_api", "domainee", "entri", "saleshandy", "sandbox", "namecom"):
        ProviderAccountFactory(label=f"{kind}-one", kind=kind)
    ProviderAccountFactory(label="entri-off", kind="entri", enabled=False)

    assert sorted(order_sync.order_accounts().values_list("kind", flat=True)) == [
        "domain_api", "domainee", "entri", "saleshandy", "sandbox"]


def test_follow_domain_orders_reads_the_open_ones(sandbox_account, monkeypatch):
    assert tasks.follow_domain_orders() == 0
    order = place(sandbox_account, "brand-new.com")
    assert tasks.follow_domain_orders() == 1
    assert tasks.follow_domain_orders() == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.REGISTERED
    assert delivered(order).name == "brand-new.com"
    assert tasks.follow_domain_orders() == 0

    queued: list[int] = []
    monkeypatch.setattr(tasks.mirror_account_orders, "delay", queued.append)
    assert tasks.mirror_all_orders() == 1 and queued == [sandbox_account.pk]
    assert "orders seen 0" in tasks.mirror_account_orders.run(sandbox_account.pk)


def test_following_open_orders_stops_at_an_upstream_error(sandbox, sandbox_account):
    order = place(sandbox_account, "brand-new.com")
    sandbox.fault(r"^/api/orders/", method="GET", status=500, code="internal_error")

    report = refresh_open_orders(sandbox_account)

    assert isinstance(report, OrderSyncReport)
    assert not report.ok and report.retryable and "HTTP 500" in report.aborted
    order.refresh_from_db()
    assert order.status == OrderStatus.REGISTRATION_IN_PROGRESS
    assert refresh_open_orders(sandbox_account).ok  # the fault passed: read as usual


def test_following_one_order_retries_what_may_pass_and_gives_up_at_the_bound(
        sandbox, sandbox_account, monkeypatch, settings):
    again: list[tuple] = []
    monkeypatch.setattr(tasks.follow_domain_order, "apply_async",
                        lambda args=(), kwargs=None, countdown=None: again.append(args))
    order = place(sandbox_account, "brand-new.com")
    gone = OrderFactory(provider_account=sandbox_account, upstream_id="999999",
                        status=OrderStatus.REGISTRATION_IN_PROGRESS)

    # The upstream failed this time: the run is retried, and the retry reads the order.
    sandbox.fault(r"^/api/orders/", method="GET", status=500, code="internal_error")
    result = tasks.follow_domain_order.apply(args=(order.pk,))
    assert result.get() == OrderStatus.REGISTRATION_IN_PROGRESS
    assert order_reads(sandbox) == [f"/api/orders/{order.upstream_id}"] * 2
    assert again == [(order.pk,)]
    # The upstream does not know it: no retry would help.
    assert tasks.follow_domain_order.run(gone.pk) == "failed"
    # Still open after the last run allowed: given up here, nothing enqueued.
    settings.DOMAIN_ORDER_FOLLOW_LIMIT = 1
    slow = place(sandbox_account, "another-one.com")
    assert tasks.follow_domain_order.run(slow.pk) == "given_up"
    assert again == [(order.pk,)]
    slow.refresh_from_db()
    assert slow.status == OrderStatus.REGISTRATION_IN_PROGRESS


def test_follow_domain_orders_is_scheduled():
    schedule = django_settings.CELERY_BEAT_SCHEDULE
    assert schedule["follow-domain-orders"]["task"] == "billing.follow_domain_orders"
    assert schedule["follow-domain-orders"]["schedule"] <= 600
    # The order mirror runs on its own at night, apart from the registration sync.
    assert schedule["nightly-order-sync"]["task"] == "billing.mirror_all_orders"
    assert schedule["nightly-sync"]["task"] == "registrar.sync_all_providers"


def test_one_placed_domain_api_order_is_followed_to_its_end(sandbox, sandbox_account,
                                                            monkeypatch):
    again: list[tuple[tuple, dict, Any]] = []
    monkeypatch.setattr(tasks.follow_domain_order, "apply_async",
                        lambda args=(), kwargs=None, countdown=None: again.append(
                            (tuple(args), dict(kwargs or {}), countdown)))
    order = place(sandbox_account, "shop-fails.com")

    assert tasks.follow_domain_order.run(order.pk) == OrderStatus.REGISTRATION_IN_PROGRESS
    assert again == [((order.pk,), {"follow_round": 2}, tasks.domain_order_delay(1))]
    assert tasks.follow_domain_order.run(order.pk, follow_round=2) == OrderStatus.REFUNDED
    assert len(again) == 1
    (row,) = sync_audits()
    assert row.actor_label == "poll:sandbox"
    assert row.message.startswith(f"poll:sandbox: sandbox order {order.upstream_id} changed")
    reads = len(order_reads(sandbox))
    assert tasks.follow_domain_order.run(order.pk) == OrderStatus.REFUNDED
    assert len(order_reads(sandbox)) == reads  # ended: no request
    assert tasks.follow_domain_order.run(10**9) == "gone"
    order.refresh_from_db()
    assert [e.kind for e in order.ledger_entries.order_by("pk")] == ["payment", "refund"]
