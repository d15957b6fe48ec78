"""Upstream orders mirrored into billing.Order (billing.order_sync): for each upstream the
orders arrive with their amounts, status and items; a second run changes nothing (no
rows, no ledger entries, no audit rows); a changed upstream status is one update with one
audit row; an unreadable record is counted and skipped; an upstream error stops the
account's run with a clear message and nothing half-written. The Domain Registration API
is driven through the sandbox; the other upstreams are fakes at the HTTP boundary.
"""

from __future__ import annotations

import copy
import io
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.apps import apps
from django.core.cache import cache
from django.core.management import CommandError, call_command

from backoffice.models import StaffAction
from billing import order_sync, tasks
from billing.models import LedgerEntry, Order, OrderItem, OrderKind, OrderStatus
from billing.order_sync import apply_domain_api_order, mirror_orders
from registrar import tasks as registrar_tasks
from registrar.models import ProviderAccount
from registrar.providers.base import MalformedResponse
from registrar.providers.domain_api import CallerError
from registrar.providers.domainee import DomaineeProvider
from registrar.providers.registry import override_transport, provider_for_account
from registrar.providers.saleshandy import OrderPlaced, clean_order, order_to_order_fields
from tests.factories import (
    AccountFactory,
    OrderFactory,
    ProviderAccountFactory,
    RegistrationFactory,
    TldFactory,
    UserFactory,
)

SYNC_ACTIONS = ("order.sync_created", "order.sync_changed")


def counts() -> dict[str, int]:
    """Rows of every billing model, and the sync's audit rows."""
    rows = {model._meta.label: model.objects.count()
            for model in apps.get_app_config("billing").get_models()}
    rows["audit"] = StaffAction.objects.filter(action__in=SYNC_ACTIONS).count()
    return rows


def sync_audits(action: str | None = None):
    rows = StaffAction.objects.filter(action__in=SYNC_ACTIONS)
    return rows.filter(action=action) if action else rows


def json_response(status: int, body: Any) -> httpx.Response:
    return httpx.Response(status, json=body, headers={"X-Request-Id": f"req-{status}"})


# --- Entri (document 000) ------------------------------------------------------------------

ENTRI_LABEL = "entri-main"
ENTRI_PREFIX = "/enterprise/sell/v1"
ENTRI_A = "5cf0cd4a-6a9f-4b53-8b11-7fe2a89e75df"
ENTRI_B = "5c819665-2f7a-48c7-8c7b-fabd46f9235f"
ENTRI_C = "21b363fb-c8c0-427e-8d2d-91658f806471"


def entri_order(order_id: str, status: str, *domains: str, **extra: Any) -> dict[str, Any]:
    """An order as document 000's list shows it (orderStatus, customerEmail, items)."""
    return {
        "orderId": order_id, "orderStatus": status, "customerEmail": "customer@email.com",
        "items": [{"orderItemId": f"{order_id[:8]}-item-{number}", "domainName": domain,
                   "dnsRecords": [], "autoRenewed": True, "whoisPrivacy": False,
                   "locked": False, "status": status,
                   "createdAt": "2025-12-09T16:27:53.523047",
                   "updatedAt": "2025-12-09T16:27:53.523047"}
                  for number, domain in enumerate(domains)],
        **extra,
    }


class FakeEntri:
    """Entri's token and order list: `pages` are the list's pages (0-based); a page in
    `failures` answers with that response instead."""

    def __init__(self) -> None:
        self.pages: list[list[dict[str, Any]]] = [[]]
        self.failures: dict[int, httpx.Response] = {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if request.url.path == "/token":
            return json_response(201, {"auth_token": "eyJhbGciOi.sync-test.signature"})
        if request.method == "GET" and request.url.path == f"{ENTRI_PREFIX}/orders":
            page = int(request.url.params["page"])
            if page in self.failures:
                return self.failures[page]
            last = len(self.pages) - 1
            return json_response(200, {
                "items": copy.deepcopy(self.pages[page]), "page": page,
                "total": sum(len(items) for items in self.pages),
                "nextPage": page + 1 if page < last else None,
                "prevPage": page - 1 if page else None})
        return json_response(404, {"message": "Not found"})

    def list_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == f"{ENTRI_PREFIX}/orders"]


@pytest.fixture
def entri(db, monkeypatch) -> Iterator[FakeEntri]:
    monkeypatch.setenv("ENTRI_SYNC_SECRET", "entri-secret-for-sync")
    ProviderAccountFactory(label=ENTRI_LABEL, kind="entri", base_url="https://api.goentri.com",
                           account_ref="acme-backoffice", secret_env="ENTRI_SYNC_SECRET")
    fake = FakeEntri()
    cache.clear()  # the shared JWT cache
    with override_transport(ENTRI_LABEL, httpx.MockTransport(fake)):
        yield fake
    cache.clear()


def entri_account() -> ProviderAccount:
    return ProviderAccount.objects.get(label=ENTRI_LABEL)


def test_entri_orders_are_mirrored_once(entri):
    customer = AccountFactory(entri_user_id="ca8d6947-6232-44f7-af37-6501edad00aa")
    entri.pages = [
        [entri_order(ENTRI_A, "registered", "foo.com", userId=customer.entri_user_id,
                     pricing={"purchasePrice": 19, "renewalPrice": 24, "currency": "USD",
                              "billingPeriod": 2})],
        [entri_order(ENTRI_B, "transfer_started", "bar.com", "bar.net")],
    ]

    report = mirror_orders(entri_account())

    assert report.ok and (report.seen, report.created, report.updated, report.unchanged,
                          report.failed) == (2, 2, 0, 0, 0)
    assert [r.url.params["page"] for r in entri.list_requests()] == ["0", "1"]
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
    transfer = Order.objects.get(upstream_id=ENTRI_B)
    # The list gives no price: the amounts are left at nothing rather than guessed.
    assert (transfer.status, transfer.kind, transfer.total_minor, transfer.account) == (
        OrderStatus.TRANSFER_STARTED, OrderKind.TRANSFER_IN, 0, None)
    assert sorted(transfer.items.values_list("domain", flat=True)) == ["bar.com", "bar.net"]
    assert not transfer.ledger_entries.exists()
    created = sync_audits("order.sync_created")
    assert created.count() == 2
    assert set(created.values_list("actor_label", flat=True)) == {"sync"}

    before = counts()
    again = mirror_orders(entri_account())
    assert (again.created, again.updated, again.unchanged, again.failed) == (0, 0, 2, 0)
    assert counts() == before


def test_a_changed_entri_status_is_one_update_with_one_audit_row(entri):
    entri.pages = [[entri_order(ENTRI_A, "registered", "foo.com"),
                    entri_order(ENTRI_B, "transfer_started", "bar.com")]]
    mirror_orders(entri_account())
    entri.pages[0][1] = entri_order(ENTRI_B, "transfer_completed", "bar.com")
    before = counts()

    report = mirror_orders(entri_account())

    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    order = Order.objects.get(upstream_id=ENTRI_B)
    assert order.status == OrderStatus.TRANSFER_COMPLETED
    assert order.items.get().details == {"status": "transfer_completed"}
    (row,) = sync_audits("order.sync_changed")
    assert row.target_id == str(order.pk) and row.actor_label == "sync"
    assert row.parameters["changes"]["status"] == {"old": "transfer_started",
                                                   "new": "transfer_completed"}
    assert "items" in row.parameters["changes"]
    assert counts() == {**before, "audit": before["audit"] + 1}


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
    entri.pages = [[entri_order(ENTRI_C, "registered", "example.com", userId="someone-else")]]

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

    before = counts()
    mirror_orders(entri_account())
    assert counts() == before


def test_an_unreadable_entri_order_is_counted_and_skipped(entri):
    entri.pages = [[entri_order(ENTRI_A, "exploded", "foo.com"),
                    entri_order(ENTRI_B, "registered", "bar.com"),
                    {"orderStatus": "registered"}]]

    report = mirror_orders(entri_account())

    assert report.ok and (report.seen, report.created, report.failed) == (3, 1, 2)
    assert report.errors[0].startswith(f"{ENTRI_A}: unreadable, skipped")
    assert "record without an id" in report.errors[1]
    assert list(Order.objects.values_list("upstream_id", flat=True)) == [ENTRI_B]


def test_an_entri_error_stops_the_run_and_writes_nothing_half(entri):
    entri.pages = [[entri_order(ENTRI_A, "registered", "foo.com")],
                   [entri_order(ENTRI_B, "registered", "bar.com")]]
    entri.failures[1] = json_response(500, {"message": "boom"})

    report = mirror_orders(entri_account())

    assert not report.ok and report.seen == 1 and report.created == 1
    assert "HTTP 500" in report.aborted
    assert "the 1 order(s) read before it were mirrored, nothing after it" in report.aborted
    assert list(Order.objects.values_list("upstream_id", flat=True)) == [ENTRI_A]
    assert OrderItem.objects.count() == 1 and sync_audits().count() == 1



def test_an_entri_error_on_the_first_page_writes_nothing(entri):
    entri.pages = [[entri_order(ENTRI_A, "registered", "foo.com")]]
    entri.failures[0] = json_response(403, {"message": "not this application"})
    before = counts()

    report = mirror_orders(entri_account())

    assert not report.ok and not report.retryable
    assert report.aborted.endswith("nothing was written.") and "HTTP 403" in report.aborted
    assert counts() == before


# --- Domainee (document 002) -----------------------------------------------------------------

DOMAINEE_LABEL = "domainee-main"


def purchase(purchase_id: str, hostname: str, status: str = "completed",
             **overrides: Any) -> dict[str, Any]:
    """Document 002's purchase record."""
    return {
        "id": purchase_id, "workspaceId": "ws_8812", "hostname": hostname, "years": 1,
        "wholesaleCents": 1418, "feeCents": 100, "totalCents": 1518, "currency": "USD",
        "registrar": "namecheap", "registrarDomainId": "182739", "status": status,
        "whoisPrivacyEnabled": True, "autoRenew": False,
        "expiresAt": "2027-05-17T15:42:11.000Z", "customerReference": "user_jane_42",
        "createdAt": "2026-05-17T15:42:09.000Z", "updatedAt": "2026-05-17T15:42:11.000Z",
        **overrides,
    }


class FakeDomainee:
    """The purchase list: `pages`, chained with nextCursor "c1", "c2", ...; `failure`
    answers every list request instead when set."""

    def __init__(self) -> None:
        self.pages: list[list[Any]] = [[]]
        self.failure: httpx.Response | None = None
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if request.method != "GET" or request.url.path != "/v1/domain-purchases":
            return json_response(404, {"error": {"code": "not_found", "message": "no"}})
        if self.failure is not None:
            return self.failure
        cursor = request.url.params.get("cursor")
        page = int(cursor[1:]) if cursor else 0
        more = page + 1 < len(self.pages)
        return json_response(200, {"purchases": copy.deepcopy(self.pages[page]),
                                   "nextCursor": f"c{page + 1}" if more else None})


@pytest.fixture
def domainee(db, monkeypatch) -> Iterator[FakeDomainee]:
    monkeypatch.setenv("DOMAINEE_SYNC_KEY", "dme_live_secret")
    ProviderAccountFactory(label=DOMAINEE_LABEL, kind="domainee",
                           base_url="https://api.domainee.dev", account_ref="",
                           secret_env="DOMAINEE_SYNC_KEY")
    fake = FakeDomainee()
    with override_transport(DOMAINEE_LABEL, httpx.MockTransport(fake)):
        yield fake


def domainee_account() -> ProviderAccount:
    return ProviderAccount.objects.get(label=DOMAINEE_LABEL)


def test_domainee_purchases_are_mirrored_once(domainee):
    jane = AccountFactory(customer_reference="user_jane_42")
    domainee.pages = [
        [purchase("p-1", "janesbakery.com"),
         purchase("p-2", "janesbakery.net", "refunded", totalCents=2518, feeCents=100,
                  wholesaleCents=2418)],
        [purchase("p-3", "janesbakery.org", "failed", customerReference="someone_else")],
    ]

    report = mirror_orders(domainee_account())

    assert report.ok and (report.seen, report.created, report.failed) == (3, 3, 0)
    sent = [dict(r.url.params) for r in domainee.requests]
    assert sent == [{"limit": "100"}, {"limit": "100", "cursor": "c1"}]
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
    ledger = sorted(LedgerEntry.objects.values_list("external_reference", "kind",
                                                    "amount_minor"))
    assert ledger == [("p-1:charge", "payment", 1518), ("p-2:charge", "payment", 2518),
                      ("p-2:refund", "refund", 2518)]

    before = counts()
    again = mirror_orders(domainee_account())
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert counts() == before


def test_a_purchase_mirrored_by_a_webhook_is_not_counted_twice(domainee):
    from billing.services import webhook_receive

    webhook_receive(account=domainee_account(), event_id="evt_1",
                    event_type="domain_purchase.failed",
                    payload={"data": {"purchase": purchase("p-9", "late.com", "refunded"),
                                      "reason": "Registrar refused"}})
    domainee.pages = [[purchase("p-9", "late.com", "refunded")]]

    report = mirror_orders(domainee_account())

    assert report.created == 0
    order = Order.objects.get(upstream_id="p-9")
    assert order.status_reason == "Registrar refused"
    assert sorted(order.ledger_entries.values_list("external_reference", flat=True)) == [
        "p-9:charge", "p-9:refund"]
    # The webhook made no items; the sync adds the purchase's one item, once.
    assert order.items.count() == 1
    before = counts()
    assert mirror_orders(domainee_account()).unchanged == 1
    assert counts() == before


def test_a_purchase_that_changes_is_one_update_and_lower_amounts_are_not_silent(domainee):
    domainee.pages = [[purchase("p-1", "janesbakery.com")]]
    mirror_orders(domainee_account())
    domainee.pages = [[purchase("p-1", "janesbakery.com", "refunded", totalCents=1400,
                                wholesaleCents=1300)]]

    report = mirror_orders(domainee_account())

    assert report.updated == 1
    order = Order.objects.get(upstream_id="p-1")
    assert (order.status, order.total_minor, order.refunded_minor) == (
        OrderStatus.REFUNDED, 1400, 1400)
    assert any("total_minor went down from 1518 to 1400" in line for line in report.warnings)
    (row,) = sync_audits("order.sync_changed")
    assert row.parameters["changes"]["total_minor"] == {"old": 1518, "new": 1400}
    assert row.parameters["changes"]["ledger_refund"] == {"old": None, "new": "1400 USD"}

    # A later record showing less refunded never takes the refund back.
    domainee.pages = [[purchase("p-1", "janesbakery.com", "completed", totalCents=1400,
                                wholesaleCents=1300)]]
    report = mirror_orders(domainee_account())
    order.refresh_from_db()
    assert (order.status, order.refunded_minor) == (OrderStatus.REGISTERED, 1400)
    assert any("less than the 1400 recorded" in line for line in report.warnings)


def test_an_unreadable_purchase_is_counted_and_skipped(domainee):
    domainee.pages = [[purchase("p-1", "a.com", totalCents="15.18"), "not a purchase",
                       purchase("p-2", "b.com"), purchase("p-3", "c.com", status="pending")]]

    report = mirror_orders(domainee_account())

    assert report.ok and (report.seen, report.created, report.failed) == (4, 1, 3)
    assert [line.split(":")[0] for line in report.errors] == [
        "p-1", "(record without an id)", "p-3"]
    assert list(Order.objects.values_list("upstream_id", flat=True)) == ["p-2"]


def test_a_domainee_error_stops_the_run_and_writes_nothing(domainee):
    domainee.failure = json_response(401, {"error": {"code": "unauthorized",
                                                     "message": "bad key"}})
    report = mirror_orders(domainee_account())
    assert not report.ok and not report.retryable
    assert report.aborted.endswith("nothing was written.") and "HTTP 401" in report.aborted
    assert Order.objects.count() == 0 and sync_audits().count() == 0


def test_iter_purchases_pages_by_cursor_or_by_the_last_id():
    answers = iter([
        {"data": [purchase("p-1", "a.com")], "hasMore": True},
        {"purchases": [purchase("p-2", "b.com")], "nextCursor": "abc"},
        [purchase("p-3", "c.com")],
    ])
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return json_response(200, next(answers))

    provider = DomaineeProvider(base_url="https://api.domainee.dev", token="k",
                                transport=httpx.MockTransport(answer))
    ids = [p.id for p in provider.iter_purchases(customer_reference="user_jane_42",
                                                 page_size=2)]
    assert ids == ["p-1", "p-2", "p-3"]
    assert [dict(r.url.params) for r in sent] == [
        {"limit": "2", "customerReference": "user_jane_42"},
        {"limit": "2", "customerReference": "user_jane_42", "startingAfter": "p-1"},
        {"limit": "2", "customerReference": "user_jane_42", "cursor": "abc"}]
    assert all(r.headers["Authorization"] == "Bearer k" for r in sent)


def test_iter_purchases_refuses_bad_pages_and_records():
    def provider(*bodies: Any) -> DomaineeProvider:
        answers = iter(bodies)
        return DomaineeProvider(base_url="https://api.domainee.dev", token="k",
                                transport=httpx.MockTransport(
                                    lambda request: json_response(200, next(answers))))

    with pytest.raises(MalformedResponse):
        list(provider({"purchases": [purchase("p-1", "a.com", status=None, years="x")]})
             .iter_purchases())
    with pytest.raises(MalformedResponse):
        list(provider({"nothing": []}).iter_purchases())
    with pytest.raises(MalformedResponse, match="loop"):
        list(provider({"purchases": [], "nextCursor": "x"},
                      {"purchases": [], "nextCursor": "x"}).iter_purchases())
    with pytest.raises(CallerError):
        list(provider().iter_purchases(page_size=0))
    skipped: list[Any] = []
    kept = list(provider({"purchases": [{"id": "p-bad"}, purchase("p-2", "b.com")]})
                .iter_purchases(on_malformed=lambda record, exc: skipped.append(record)))
    assert [p.id for p in kept] == ["p-2"] and skipped == [{"id": "p-bad"}]


# --- Saleshandy (document 003) ---------------------------------------------------------------

SALESHANDY_LABEL = "saleshandy-main"
CHECKOUT = "https://buy.paddle.com/checkout/chk_01HZX9Q2W3E4R5T6Y7U8I9O0PA"
OWNER = {"first_name": "John", "last_name": "Smith", "street_address": "123 Market Street",
         "city": "San Francisco", "state": "CA", "post_code": "94105", "country": "US",
         "phone": "+14155551234"}


class FakeSaleshandy:
    """GET /v1/domain answers `listing` (or `failure`)."""

    def __init__(self) -> None:
        self.listing: list[Any] = []
        self.failure: httpx.Response | None = None
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if request.method == "GET" and request.url.path == "/v1/domain":
            if self.failure is not None:
                return self.failure
            return json_response(200, {"message": "Domains fetched successfully",
                                       "payload": {"domains": copy.deepcopy(self.listing)}})
        return json_response(404, {"message": "Not found"})


@pytest.fixture
def saleshandy(db, monkeypatch) -> Iterator[FakeSaleshandy]:
    monkeypatch.setenv("SALESHANDY_SYNC_KEY", "sh_test_key_0123456789")
    ProviderAccountFactory(label=SALESHANDY_LABEL, kind="saleshandy",
                           base_url="https://open-api.saleshandy.com", account_ref="",
                           secret_env="SALESHANDY_SYNC_KEY")
    fake = FakeSaleshandy()
    with override_transport(SALESHANDY_LABEL, httpx.MockTransport(fake)):
        yield fake


def saleshandy_account() -> ProviderAccount:
    return ProviderAccount.objects.get(label=SALESHANDY_LABEL)


def email_order_placed_here(order_id: str = "ord_77") -> Order:
    """An email order as billing.services.email_order_place records it."""
    body = clean_order(owner=OWNER, email_service_provider="Google", domains=[
        {"name": "tryoutreachteam.com", "redirect_url": "acmecorp.com",
         "mailboxes": [{"first_name": "John", "last_name": "Smith", "email": "john"}]}])
    fields, items = order_to_order_fields(body, OrderPlaced(
        order_id=order_id, checkout_url=CHECKOUT, is_free_order=False, is_replacement=False))
    customer = AccountFactory(customer_reference="ACC-ACME-1")
    order = Order.objects.create(**fields, provider_account=saleshandy_account(),
                                 account=customer, customer_reference="ACC-ACME-1",
                                 currency="USD")
    OrderItem.objects.bulk_create([OrderItem(order=order, **item) for item in items])
    return order


def listed(domain_id: int, name: str, status: str, order_id: str | None, *mailboxes: dict,
           **extra: Any) -> dict[str, Any]:
    entry = {"id": domain_id, "name": name, "status": status,
             "mailboxes": list(mailboxes) or [{"id": 1, "email": f"john@{name}"}], **extra}
    if order_id is not None:
        entry["orderId"] = order_id
    return entry


def test_saleshandy_orders_are_mirrored_from_the_domain_listing(saleshandy):
    placed = email_order_placed_here()
    saleshandy.listing = [
        listed(9100, "tryoutreachteam.com", "inProgress", "ord_77"),
        listed(9200, "outbound-acme.com", "active", "ord_88",
               {"id": 2, "email": "sam@outbound-acme.com", "firstname": "Sam",
                "lastname": "Lee"}, emailServiceProvider="Microsoft", planType="quarterly"),
    ]

    report = mirror_orders(saleshandy_account())

    assert report.ok and (report.seen, report.created, report.updated) == (2, 1, 1)
    placed.refresh_from_db()
    assert placed.status == OrderStatus.REGISTRATION_IN_PROGRESS
    assert placed.account.customer_reference == "ACC-ACME-1"
    item = placed.items.get()
    assert (item.details["domain_id"], item.details["domain_status"]) == ("9100", "inProgress")
    elsewhere = Order.objects.get(upstream_id="ord_88")
    assert (elsewhere.kind, elsewhere.status, elsewhere.currency, elsewhere.total_minor,
            elsewhere.domain, elsewhere.account) == (
        OrderKind.EMAIL_INFRASTRUCTURE, OrderStatus.REGISTERED, "USD", 0,
        "outbound-acme.com", None)
    assert list(elsewhere.items.values_list("description", flat=True)) == [
        "Mailbox sam@outbound-acme.com (Microsoft, quarterly)"]
    assert LedgerEntry.objects.count() == 0  # the customer pays Saleshandy directly
    assert len(saleshandy.requests) == 1

    before = counts()
    again = mirror_orders(saleshandy_account())
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert counts() == before

    saleshandy.listing[0]["status"] = "active"
    report = mirror_orders(saleshandy_account())
    assert (report.updated, report.unchanged) == (1, 1)
    placed.refresh_from_db()
    assert placed.status == OrderStatus.REGISTERED
    rows = list(sync_audits("order.sync_changed").filter(target_id=str(placed.pk))
                .order_by("pk"))
    assert len(rows) == 2  # payment initiated -> in progress, then -> registered
    assert rows[-1].parameters["changes"]["status"] == {"old": "registration_in_progress",
                                                        "new": "registered"}

    # Finished here: a later listing (the domain deleted) does not reopen it.
    saleshandy.listing[0]["status"] = "deleted"
    assert mirror_orders(saleshandy_account()).updated == 0
    placed.refresh_from_db()
    assert placed.status == OrderStatus.REGISTERED


def test_an_unreadable_listed_domain_costs_only_its_order(saleshandy):
    email_order_placed_here()
    saleshandy.listing = [
        {"id": 9100, "name": "tryoutreachteam.com", "orderId": "ord_77"},  # no status
        listed(9200, "outbound-acme.com", "failed", "ord_88"),
        listed(9300, "stray.com", "active", None),
    ]

    report = mirror_orders(saleshandy_account())

    assert report.ok and (report.created, report.failed) == (1, 2)
    assert any(line.startswith("order ord_77: unreadable") for line in report.errors)
    assert any("stray.com" in line for line in report.errors)
    assert Order.objects.get(upstream_id="ord_77").status == OrderStatus.PAYMENT_INITIATED
    failed = Order.objects.get(upstream_id="ord_88")
    assert (failed.status, failed.status_reason) == (
        OrderStatus.FAILED, "Saleshandy domain status: outbound-acme.com failed")


def test_a_saleshandy_error_stops_the_run(saleshandy):
    placed = email_order_placed_here()
    saleshandy.failure = json_response(500, {"message": "down"})
    report = mirror_orders(saleshandy_account())
    assert not report.ok and "HTTP 500" in report.aborted
    placed.refresh_from_db()
    assert placed.status == OrderStatus.PAYMENT_INITIATED and sync_audits().count() == 0

    saleshandy.failure = json_response(200, {"payload": {"domains": "none today"}})
    report = mirror_orders(saleshandy_account())
    assert not report.ok and report.retryable
    assert report.aborted.startswith("The registrar sent an answer we could not read.")


def test_an_account_that_cannot_be_used_is_a_clear_failure(saleshandy, monkeypatch):
    monkeypatch.delenv("SALESHANDY_SYNC_KEY")
    report = mirror_orders(saleshandy_account())
    assert not report.ok and "SALESHANDY_SYNC_KEY" in report.aborted
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


def place(account: ProviderAccount, domain: str, *, action: str = "register") -> Order:
    """Place an order at the sandbox and record it, as the ordering service does."""
    provider = provider_for_account(account)
    key = f"backoffice-order-{uuid.uuid4()}"
    accepted = provider.place_domain_order(domain=domain, action=action, years=1,
                                           idempotency_key=key, new_contact=NEW_OWNER)
    order = Order(provider_account=account, kind=OrderKind.REGISTRATION,
                  status=OrderStatus.PAYMENT_INITIATED, domain=domain, currency="USD",
                  idempotency_key=key)
    assert apply_domain_api_order(order, accepted.order) is True
    return order


def order_reads(sandbox) -> list[str]:
    return [r.url.path for r in sandbox.transport.sent("GET", "") if "/api/orders/" in
            r.url.path]


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

    before = counts()
    assert mirror_orders(sandbox_account).seen == 0
    assert apply_domain_api_order(order, provider_for_account(sandbox_account).get_order(
        order.upstream_id)) is False
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
def test_apply_domain_api_order_maps_every_status():
    account = ProviderAccountFactory(label="domain-api", kind="domain_api")
    order = OrderFactory(provider_account=account, upstream_id="41", status="payment_initiated",
                         total_minor=0, subtotal_minor=0, fees_minor=0, domain="example.com")

    assert apply_domain_api_order(order, domain_api_record()) is True
    assert (order.status, order.total_minor) == (OrderStatus.REGISTRATION_IN_PROGRESS, 1299)
    assert apply_domain_api_order(order, domain_api_record(status="processing")) is False

    registration = RegistrationFactory(upstream_id="6a1c9c0e-0000-4000-8000-000000000041")
    assert apply_domain_api_order(order, domain_api_record(
        status="completed", registration_id=registration.upstream_id)) is True
    order.refresh_from_db()
    assert (order.status, order.registration) == (OrderStatus.REGISTERED, registration)

    transfer = OrderFactory(provider_account=account, upstream_id="42", status="quoted",
                            kind=OrderKind.TRANSFER_IN, total_minor=0)
    apply_domain_api_order(transfer, domain_api_record(id=42, kind="transfer"))
    assert transfer.status == OrderStatus.TRANSFER_STARTED
    apply_domain_api_order(transfer, domain_api_record(id=42, kind="transfer",
                                                       status="completed"))
    assert transfer.status == OrderStatus.TRANSFERRED

    kept = OrderFactory(provider_account=account, upstream_id="43", total_minor=0,
                        status=OrderStatus.REGISTRATION_IN_PROGRESS)
    apply_domain_api_order(kept, domain_api_record(id=43, status="failed",
                                                   status_reason="Registry said no"))
    kept.refresh_from_db()
    # Failed and the money kept: failed, the payment in the ledger and no refund, which
    # the finance needs-attention report flags.
    assert (kept.status, kept.status_reason, kept.refunded_minor) == (
        OrderStatus.FAILED, "Registry said no", 0)
    assert list(kept.ledger_entries.values_list("kind", flat=True)) == ["payment"]

    refunded = OrderFactory(provider_account=account, upstream_id="44", total_minor=0,
                            status=OrderStatus.REGISTRATION_IN_PROGRESS)
    apply_domain_api_order(refunded, domain_api_record(
        id=44, status="failed", refund={"amount_cents": 5000, "currency": "USD",
                                        "refunded_at": "2026-01-01T00:01:00Z"}))
    assert (refunded.status, refunded.refunded_minor) == (OrderStatus.REFUNDED, 1299)
    assert sorted(refunded.ledger_entries.values_list("kind", "amount_minor")) == [
        ("payment", 1299), ("refund", 1299)]


@pytest.mark.django_db
@pytest.mark.parametrize("record", [
    domain_api_record(status="lost"),
    domain_api_record(id=99),
    domain_api_record(total={"amount_cents": "12.99", "currency": "USD"}),
    domain_api_record(refund={"amount_cents": 1299, "currency": "EUR"}),
    {"status": "pending"},
], ids=["status", "other-order", "float-total", "refund-currency", "no-id"])
def test_apply_domain_api_order_refuses_what_is_not_this_order(record):
    account = ProviderAccountFactory(label="domain-api", kind="domain_api")
    order = OrderFactory(provider_account=account, upstream_id="41",
                         status=OrderStatus.REGISTRATION_IN_PROGRESS)
    with pytest.raises((KeyError, TypeError, ValueError)):
        apply_domain_api_order(order, record)
    order.refresh_from_db()
    assert order.status == OrderStatus.REGISTRATION_IN_PROGRESS
    assert not order.ledger_entries.exists()


# --- The command and the tasks -------------------------------------------------------------


def test_the_command_prints_the_report_and_fails_when_an_account_failed(entri, domainee):
    entri.pages = [[entri_order(ENTRI_A, "registered", "foo.com")]]
    domainee.pages = [[purchase("p-1", "a.com")]]
    out, err = io.StringIO(), io.StringIO()

    call_command("sync_orders", stdout=out, stderr=err)

    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"{DOMAINEE_LABEL}: orders seen 1, created 1, updated 0")
    assert lines[1].startswith(f"{ENTRI_LABEL}: orders seen 1, created 1")
    assert lines[2] == "2 accounts: created 2, updated 0, unchanged 0, failed 0."

    out = io.StringIO()
    call_command("sync_orders", "--account", ENTRI_LABEL, stdout=out)
    assert "created 0, updated 0, unchanged 1, failed 0" in out.getvalue()

    domainee.pages = [[purchase("p-2", "b.com", totalCents=-1)]]
    out, err = io.StringIO(), io.StringIO()
    call_command("sync_orders", "--account", DOMAINEE_LABEL, "--dry-run", stdout=out,
                 stderr=err)
    assert "error: p-2: unreadable, skipped" in err.getvalue()
    assert "Dry run: nothing was written." in out.getvalue()

    domainee.failure = json_response(500, {"error": {"code": "internal", "message": "x"}})
    with pytest.raises(CommandError, match=f"Order sync failed for {DOMAINEE_LABEL}") as exc:
        call_command("sync_orders", stdout=io.StringIO(), stderr=io.StringIO())
    assert exc.value.returncode == 1
    with pytest.raises(CommandError, match="No enabled provider account “nope”"):
        call_command("sync_orders", "--account", "nope")


def test_a_dry_run_writes_nothing(entri):
    entri.pages = [[entri_order(ENTRI_A, "registered", "foo.com")]]
    report = mirror_orders(entri_account(), dry_run=True)
    assert report.created == 1 and report.dry_run
    assert Order.objects.count() == 0 and sync_audits().count() == 0


def test_the_nightly_sync_mirrors_orders_for_every_kind_that_has_them(entri, sandbox_account,
                                                                      monkeypatch):
    queued: list[int] = []
    monkeypatch.setattr(registrar_tasks.sync_provider_account, "delay", queued.append)
    ProviderAccountFactory(label="namecom-main", kind="namecom")
    assert registrar_tasks.sync_all_providers() == 2
    assert sorted(queued) == sorted([entri_account().pk, sandbox_account.pk])

    entri.pages = [[entri_order(ENTRI_A, "registered", "foo.com")]]
    summary = registrar_tasks.sync_provider_account.run(entri_account().pk)
    assert summary.startswith(f"{ENTRI_LABEL}: orders seen 1, created 1")
    assert Order.objects.filter(provider_account=entri_account()).count() == 1

    order = place(sandbox_account, "brand-new.com")
    summary = registrar_tasks.sync_provider_account.run(sandbox_account.pk)
    lines = summary.splitlines()
    assert lines[0].startswith("sandbox: seen") and lines[1].startswith(
        "sandbox: orders seen 1")
    assert order.upstream_id


def test_follow_domain_orders_reads_the_open_ones(sandbox_account, monkeypatch):
    assert tasks.follow_domain_orders() == 0
    order = place(sandbox_account, "brand-new.com")
    assert tasks.follow_domain_orders() == 1
    assert tasks.follow_domain_orders() == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.REGISTERED
    assert tasks.follow_domain_orders() == 0

    queued: list[int] = []
    monkeypatch.setattr(tasks.mirror_account_orders, "delay", queued.append)
    assert tasks.mirror_all_orders() == 1 and queued == [sandbox_account.pk]
    assert "orders seen 0" in tasks.mirror_account_orders.run(sandbox_account.pk)


def test_follow_domain_orders_is_scheduled():
    from django.conf import settings

    schedule = settings.CELERY_BEAT_SCHEDULE["follow-domain-orders"]
    assert schedule["task"] == "billing.follow_domain_orders"
    assert schedule["schedule"] <= 600
    assert sorted(order_sync.MIRRORED_KINDS) == ["domain_api", "domainee", "entri", "saleshandy",
                                                 "sandbox"]


def test_one_placed_domain_api_order_is_followed_to_its_end(sandbox_account, monkeypatch):
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
    assert tasks.follow_domain_order.run(order.pk) == OrderStatus.REFUNDED  # no request
    assert tasks.follow_domain_order.run(10**9) == "gone"
    order.refresh_from_db()
    assert [e.kind for e in order.ledger_entries.all()] == ["payment", "refund"]
