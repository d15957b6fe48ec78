"""Domain orders placed by Support for a customer account: quote, then confirm.

Through the services (billing.ordering) and through the account's admin pages: the
exact purchase each name.com pricing scenario sends (document 004), the re-check right
before placing, replays that send nothing twice, a price that moved, a charge that was
refunded, expired quotes, transfers and their authorization code (never kept), input
refused before anything is sent, who may do it, and the idempotency key and ceiling
each upstream receives.

Only the HTTP boundary is fake: an `httpx.MockTransport` behind `override_transport`
for name.com and Domainee, the sandbox (document 001's wire format) for the Domain API.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import httpx
import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from backoffice.models import StaffAction
from billing import ordering
from billing.models import Account, LedgerEntry, Order, OrderKind, OrderStatus
from registrar.models import ProviderAccount
from registrar.operations import InvalidInput, OperationRefused
from registrar.providers.base import Money
from registrar.providers.registry import override_transport
from tests.factories import (
    AccountFactory,
    ContactFactory,
    ProviderAccountFactory,
    RegistrationFactory,
    TldFactory,
)
from tests.registrar.providers.test_domain_api_requests import fail_with, respond
from tests.registrar.providers.test_namecom import domain_record, result

Answer = Callable[[httpx.Request], httpx.Response]

NAMECOM = "namecom-main"
NAMECOM_URL = "https://api.dev.name.com"
NAMECOM_USER = "acme-reseller"
NAMECOM_TOKEN = "namecom-token-0123456789"
DOMAINEE = "domainee-main"
DOMAINEE_URL = "https://api.domainee.dev"
DOMAINEE_KEY = "dme_live_0123456789abcdef"
AUTH_CODE = "EPP-Zx81!q-secret"

CHECK = "/core/v1/domains:checkAvailability"
CREATE = "/core/v1/domains"
TRANSFER = "/core/v1/transfers"
PURCHASES = "/v1/domain-purchases"


def pricing_path(domain: str) -> str:
    return f"/core/v1/domains/{domain}:getPricing"


def renew_path(domain: str) -> str:
    return f"/core/v1/domains/{domain}:renew"


class FakeUpstream:
    """An upstream at the HTTP boundary: scripted answers per (method, path), taken in
    order (the last one repeats); every request is remembered, in order."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Answer]] = {}
        self.requests: list[httpx.Request] = []

    def on(self, method: str, path: str, *answers: Answer) -> None:
        self.routes[(method, path)] = list(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        answers = self.routes.get((request.method, request.url.path))
        if not answers:
            return httpx.Response(404, json={"message": "Not Found"})
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        return answer(request)

    def sent(self, method: str | None = None, path: str | None = None) -> list[httpx.Request]:
        return [r for r in self.requests
                if (method is None or r.method == method)
                and (path is None or r.url.path == path)]

    @property
    def calls(self) -> list[tuple[str, str]]:
        return [(r.method, r.url.path) for r in self.requests]


def body_of(request: httpx.Request) -> Any:
    # Prices read back as Decimals: equal to the exact cents, not just close.
    return json.loads(request.content, parse_float=Decimal)


# --- Fixtures -----------------------------------------------------------------------------


@pytest.fixture
def customer(db) -> Account:
    return AccountFactory(name="Acme Corp", email="billing@acme.example",
                          customer_reference="ACC-ACME-1")


@pytest.fixture
def namecom(db, monkeypatch) -> Iterator[FakeUpstream]:
    monkeypatch.setenv("NAMECOM_TEST_TOKEN", NAMECOM_TOKEN)
    ProviderAccountFactory(label=NAMECOM, kind="namecom", base_url=NAMECOM_URL,
                           account_ref=NAMECOM_USER, secret_env="NAMECOM_TEST_TOKEN")
    fake = FakeUpstream()
    with override_transport(NAMECOM, httpx.MockTransport(fake)):
        yield fake


@pytest.fixture
def domainee(db, monkeypatch) -> Iterator[FakeUpstream]:
    monkeypatch.setenv("DOMAINEE_TEST_KEY", DOMAINEE_KEY)
    ProviderAccountFactory(label=DOMAINEE, kind="domainee", base_url=DOMAINEE_URL,
                           account_ref="", secret_env="DOMAINEE_TEST_KEY")
    fake = FakeUpstream()
    with override_transport(DOMAINEE, httpx.MockTransport(fake)):
        yield fake


@pytest.fixture
def registrant(customer):
    """A contact with every field Domainee's registrant needs."""
    return ContactFactory(account=customer, handle="ACME-OWNER", first_name="Jane",
                          last_name="Smith", organization="", email="jane@bakery.example",
                          phone="+1.5035550100", street_address="123 Main St",
                          city="Portland", state="OR", post_code="97201", country="US")


def account(label: str) -> ProviderAccount:
    return ProviderAccount.objects.get(label=label)


def quote(actor, customer: Account, label: str, action: str, domain: str, **kwargs: Any):
    return ordering.order_quote(ordering.OrderRequest(
        account=customer, provider_account=account(label), action=action, domain=domain,
        **kwargs), actor=actor)


def quoted(actor, customer: Account, label: str, action: str, domain: str,
           **kwargs: Any) -> Order:
    outcome = quote(actor, customer, label, action, domain, **kwargs)
    assert outcome.ok, outcome.message
    order = outcome.data["order"]
    assert order.status == OrderStatus.QUOTED
    return order


def order_url(customer: Account) -> str:
    return reverse("admin:billing_account_domain_order", args=[customer.pk])


def confirm_url(customer: Account, order: Order) -> str:
    return reverse("admin:billing_account_domain_order_confirm", args=[customer.pk, order.pk])


def page_text(response) -> str:
    return html.unescape(response.content.decode())


def audit_rows() -> list[StaffAction]:
    return list(StaffAction.objects.order_by("id"))


def payments(order: Order) -> list[LedgerEntry]:
    return list(order.ledger_entries.filter(kind=LedgerEntry.Kind.PAYMENT))


def refunds(order: Order) -> list[LedgerEntry]:
    return list(order.ledger_entries.filter(kind=LedgerEntry.Kind.REFUND))


def database_dump() -> str:
    out = StringIO()
    call_command("dumpdata", stdout=out)
    return out.getvalue()


# --- name.com answers ---------------------------------------------------------------------


def checked(domain: str, **kwargs: Any) -> Answer:
    return respond(200, {"results": [result(domain, **kwargs)]})


def priced(*, premium: bool, purchase: float | None = None, renewal: float | None = None,
           transfer: float | None = None) -> Answer:
    body: dict[str, Any] = {"premium": premium}
    for key, value in (("purchasePrice", purchase), ("renewalPrice", renewal),
                       ("transferPrice", transfer)):
        if value is not None:
            body[key] = value
    return respond(200, body)


def created(domain: str, order_id: int, total_paid: float) -> Answer:
    return respond(200, {"domain": domain_record(domain), "order": order_id,
                         "totalPaid": total_paid})


def transferred(domain: str, order_id: int, total_paid: float) -> Answer:
    return respond(200, {"transfer": {"domainName": domain, "status": "pending_transfer"},
                         "order": order_id, "totalPaid": total_paid})


# --- name.com: one test per pricing scenario of document 004 ------------------------------


def test_standard_registration_sends_years_and_no_price_after_a_fresh_check(
        support_user, customer, namecom):
    domain = "acme-bakery.com"
    namecom.on("POST", CHECK, checked(domain, premium=False, price=12.99, renewal=14.99))
    namecom.on("POST", CREATE, created(domain, 4321, 12.99 * 2))

    order = quoted(support_user, customer, NAMECOM, "register", domain, years=2)
    assert namecom.calls == [("POST", CHECK)]  # quoting buys nothing
    assert body_of(namecom.requests[0]) == {"domainNames": [domain],
                                            "purchaseType": "registration"}
    assert order.quote["purchase_price_minor"] is None
    assert order.quote["years_sent"] == 2

    outcome = ordering.order_confirm(order=order, actor=support_user)

    assert outcome.status == StaffAction.Outcome.SUCCEEDED, outcome.message
    # 004: re-run Check Availability right before Create Domain, with the same filter.
    assert namecom.calls == [("POST", CHECK), ("POST", CHECK), ("POST", CREATE)]
    assert body_of(namecom.requests[1]) == {"domainNames": [domain],
                                            "purchaseType": "registration"}
    assert body_of(namecom.requests[2]) == {"domain": {"domainName": domain},
                                            "purchaseType": "registration", "years": 2}
    order.refresh_from_db()
    assert order.status == OrderStatus.REGISTERED
    assert order.upstream_id == "4321"
    assert order.total_minor == 2598
    assert [entry.amount_minor for entry in payments(order)] == [2598]


def test_registry_premium_sends_get_pricings_exact_price_for_the_same_years(
        support_user, customer, namecom):
    domain = "shoe.luxe"
    namecom.on("POST", CHECK, checked(domain, premium=True, price=349.95))
    namecom.on("GET", pricing_path(domain), priced(premium=True, purchase=1049.85,
                                                   renewal=1049.85))
    namecom.on("POST", CREATE, created(domain, 5001, 1049.85))

    order = quoted(support_user, customer, NAMECOM, "register", domain, years=3)

    assert namecom.calls == [("POST", CHECK), ("GET", pricing_path(domain))]
    assert namecom.requests[1].url.params["years"] == "3"  # Get Pricing for the same term
    assert order.quoted_total_minor == 104985 and order.premium is True

    outcome = ordering.order_confirm(order=order, actor=support_user)

    assert outcome.ok, outcome.message
    assert namecom.calls[-2:] == [("POST", CHECK), ("POST", CREATE)]
    assert body_of(namecom.sent("POST", CREATE)[0]) == {
        "domain": {"domainName": domain}, "purchaseType": "registration",
        "purchasePrice": Decimal("1049.85"), "years": 3}
    order.refresh_from_db()
    assert (order.status, order.total_minor) == (OrderStatus.REGISTERED, 104985)


def test_aftermarket_sends_the_flat_discovery_price_and_no_years(
        support_user, customer, namecom):
    domain = "bakery.co"
    namecom.on("POST", CHECK, checked(domain, premium=True, purchase_type="aftermarket_s",
                                      price=5000.0, renewal=25.99))
    namecom.on("POST", CREATE, created(domain, 6002, 5000.0))

    order = quoted(support_user, customer, NAMECOM, "register", domain, years=1,
                   allow_acquisition=True)

    # 004 Pattern C: no purchaseType filter, and no Get Pricing for an acquisition.
    assert namecom.calls == [("POST", CHECK)]
    assert body_of(namecom.requests[0]) == {"domainNames": [domain]}
    assert order.purchase_type == "aftermarket_s" and order.quoted_total_minor == 500000

    ordering.order_confirm(order=order, actor=support_user)

    assert namecom.calls == [("POST", CHECK), ("POST", CHECK), ("POST", CREATE)]
    assert body_of(namecom.requests[1]) == {"domainNames": [domain]}
    assert body_of(namecom.requests[2]) == {
        "domain": {"domainName": domain}, "purchaseType": "aftermarket_s",
        "purchasePrice": Decimal("5000.00")}
    order.refresh_from_db()
    assert order.status == OrderStatus.REGISTERED


def test_aftermarket_is_refused_unless_acquisition_is_allowed(support_user, customer,
                                                              namecom):
    domain = "bakery.co"
    namecom.on("POST", CHECK, checked(domain, purchasable=False))
    with pytest.raises(OperationRefused) as refused:
        quote(support_user, customer, NAMECOM, "register", domain)
    assert "domain" in refused.value.field_errors
    assert Order.objects.count() == 0
    assert namecom.sent("POST", CREATE) == []


def test_standard_renewal_sends_years_and_no_price(support_user, customer, namecom):
    domain = "acme-bakery.com"
    namecom.on("GET", pricing_path(domain), priced(premium=False, purchase=12.99,
                                                   renewal=29.98, transfer=9.99))
    namecom.on("POST", renew_path(domain), created(domain, 7003, 29.98))

    order = quoted(support_user, customer, NAMECOM, "renew", domain, years=2)
    assert order.kind == OrderKind.RENEWAL and order.quoted_total_minor == 2998

    outcome = ordering.order_confirm(order=order, actor=support_user)

    assert outcome.ok, outcome.message
    # Get Pricing again right before renewing, for the same term.
    assert namecom.calls == [("GET", pricing_path(domain)), ("GET", pricing_path(domain)),
                             ("POST", renew_path(domain))]
    assert [r.url.params["years"] for r in namecom.sent("GET")] == ["2", "2"]
    assert body_of(namecom.sent("POST")[0]) == {"years": 2}
    order.refresh_from_db()
    assert (order.status, order.upstream_id, order.total_minor) == (
        OrderStatus.REGISTERED, "7003", 2998)


def test_premium_renewal_sends_renewal_price_as_purchase_price_for_the_same_years(
        support_user, customer, namecom):
    domain = "shoe.luxe"
    namecom.on("GET", pricing_path(domain), priced(premium=True, purchase=1049.85,
                                                   renewal=699.90, transfer=349.95))
    namecom.on("POST", renew_path(domain), created(domain, 7004, 699.90))

    order = quoted(support_user, customer, NAMECOM, "renew", domain, years=2)
    ordering.order_confirm(order=order, actor=support_user)

    assert [r.url.params["years"] for r in namecom.sent("GET")] == ["2", "2"]
    assert body_of(namecom.sent("POST")[0]) == {"purchasePrice": Decimal("699.90"),
                                                "years": 2}
    order.refresh_from_db()
    assert (order.status, order.premium, order.total_minor) == (
        OrderStatus.REGISTERED, True, 69990)


def test_standard_transfer_sends_the_auth_code_and_no_years_or_price(
        support_user, customer, namecom):
    domain = "acme-bakery.com"
    namecom.on("GET", pricing_path(domain), priced(premium=False, purchase=12.99,
                                                   renewal=14.99, transfer=9.99))
    namecom.on("POST", TRANSFER, transferred(domain, 8005, 9.99))

    order = quoted(support_user, customer, NAMECOM, "transfer", domain, years=3)
    assert order.quote["years_sent"] is None

    outcome = ordering.order_confirm(order=order, actor=support_user, auth_code=AUTH_CODE)

    assert outcome.ok, outcome.message
    # transferPrice does not depend on the term: Get Pricing is asked for one year.
    assert [r.url.params["years"] for r in namecom.sent("GET")] == ["1", "1"]
    assert body_of(namecom.sent("POST", TRANSFER)[0]) == {"domainName": domain,
                                                         "authCode": AUTH_CODE}
    order.refresh_from_db()
    assert (order.status, order.kind, order.total_minor) == (
        OrderStatus.TRANSFER_STARTED, OrderKind.TRANSFER_IN, 999)


def test_premium_transfer_sends_transfer_price_as_purchase_price(
        support_user, customer, namecom):
    domain = "shoe.luxe"
    namecom.on("GET", pricing_path(domain), priced(premium=True, purchase=1049.85,
                                                   renewal=349.95, transfer=349.95))
    namecom.on("POST", TRANSFER, transferred(domain, 8006, 349.95))

    order = quoted(support_user, customer, NAMECOM, "transfer", domain)
    ordering.order_confirm(order=order, actor=support_user, auth_code=AUTH_CODE)

    assert body_of(namecom.sent("POST", TRANSFER)[0]) == {
        "domainName": domain, "authCode": AUTH_CODE, "purchasePrice": Decimal("349.95")}
    order.refresh_from_db()
    assert (order.status, order.total_minor) == (OrderStatus.TRANSFER_STARTED, 34995)


# --- the admin pages: quote, confirm ------------------------------------------------------


def test_the_admin_quotes_shows_the_price_and_term_then_places_on_confirm(
        client, support_user, customer, namecom):
    domain = "shoe.luxe"
    namecom.on("POST", CHECK, checked(domain, premium=True, price=349.95))
    namecom.on("GET", pricing_path(domain), priced(premium=True, purchase=699.90))
    namecom.on("POST", CREATE, created(domain, 5009, 699.90))
    client.force_login(support_user)

    form = client.get(order_url(customer))
    assert form.status_code == 200 and "domain-order-form" in page_text(form)
    response = client.post(order_url(customer), {
        "provider_account": account(NAMECOM).pk, "action": "register", "domain": domain,
        "years": "2"})

    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == confirm_url(customer, order)
    assert namecom.sent("POST", CREATE) == []  # nothing bought before the confirmation
    page = client.get(confirm_url(customer, order))
    text = page_text(page)
    assert page.status_code == 200
    assert "699.90" in text and "2 years" in text and domain in text
    assert 'id="confirm-form"' in text

    placed = client.post(confirm_url(customer, order), {}, follow=True)

    assert placed.redirect_chain[-1][0] == reverse("admin:billing_order_change",
                                                   args=[order.pk])
    assert f"Order {order.pk} placed at name.com" in page_text(placed)
    assert len(namecom.sent("POST", CREATE)) == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.REGISTERED and order.placed_by == support_user


# --- replays ------------------------------------------------------------------------------


def _standard_registration(namecom: FakeUpstream, domain: str = "acme-bakery.com") -> None:
    namecom.on("POST", CHECK, checked(domain, premium=False, price=12.99))
    namecom.on("POST", CREATE, created(domain, 4321, 12.99))


def test_confirming_twice_places_one_order(support_user, customer, namecom):
    _standard_registration(namecom)
    order = quoted(support_user, customer, NAMECOM, "register", "acme-bakery.com")

    first = ordering.order_confirm(order=order, actor=support_user)
    again = ordering.order_confirm(order=order, actor=support_user)

    assert first.ok and not first.data.get("replayed")
    assert again.data["replayed"] is True and "Nothing was sent again" in again.message
    assert len(namecom.sent("POST", CREATE)) == 1
    assert Order.objects.count() == 1
    assert len(payments(Order.objects.get())) == 1
    assert StaffAction.objects.filter(action=ordering.PLACE_ACTION).count() == 1


def test_posting_the_confirm_page_twice_places_one_order(client, support_user, customer,
                                                         namecom):
    _standard_registration(namecom)
    order = quoted(support_user, customer, NAMECOM, "register", "acme-bakery.com")
    client.force_login(support_user)

    first = client.post(confirm_url(customer, order), {})
    second = client.post(confirm_url(customer, order), {}, follow=True)

    assert first.status_code == 302
    assert "was already confirmed" in page_text(second)
    assert len(namecom.sent("POST", CREATE)) == 1
    assert Order.objects.count() == 1
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PAYMENT).count() == 1
    # Coming back to the page later only says what became of it.
    later = client.get(confirm_url(customer, order), follow=True)
    assert "was already confirmed" in page_text(later)
    assert len(namecom.sent("POST", CREATE)) == 1


# --- a price that moved -------------------------------------------------------------------


def _assert_refused_unchanged(order: Order, reason: str) -> None:
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert reason in order.status_reason
    assert LedgerEntry.objects.count() == 0
    rows = audit_rows()
    assert len(rows) == 1
    assert rows[0].outcome == StaffAction.Outcome.FAILED
    assert rows[0].action == ordering.PLACE_ACTION
    assert rows[0].target_id == str(order.pk)


def test_a_price_that_moved_before_create_is_refused_without_buying(
        client, support_user, customer, namecom):
    domain = "acme-bakery.com"
    namecom.on("POST", CHECK, checked(domain, premium=False, price=12.99),
               checked(domain, premium=False, price=15.99))
    namecom.on("POST", CREATE, created(domain, 4321, 15.99))
    order = quoted(support_user, customer, NAMECOM, "register", domain)
    client.force_login(support_user)

    response = client.post(confirm_url(customer, order), {}, follow=True)

    assert namecom.calls == [("POST", CHECK), ("POST", CHECK)]  # no create sent
    assert "moved" in page_text(response) and "Nothing was bought" in page_text(response)
    _assert_refused_unchanged(order, "moved from 12.99 USD to 15.99 USD")


def test_a_renewal_price_that_moved_is_refused_without_renewing(support_user, customer,
                                                                namecom):
    domain = "shoe.luxe"
    namecom.on("GET", pricing_path(domain), priced(premium=True, renewal=349.95),
               priced(premium=True, renewal=399.95))
    namecom.on("POST", renew_path(domain), created(domain, 1, 399.95))
    order = quoted(support_user, customer, NAMECOM, "renew", domain)

    outcome = ordering.order_confirm(order=order, actor=support_user)

    assert outcome.status == StaffAction.Outcome.FAILED
    assert namecom.sent("POST") == []
    _assert_refused_unchanged(order, "moved since the quote")


def test_domainee_price_changed_is_refused_and_nothing_is_charged(
        support_user, customer, domainee, registrant):
    domainee.on("POST", PURCHASES, respond(409, {"error": {
        "code": "price_changed", "message": "live price 8900 > 2000"}}))
    order = quoted(support_user, customer, DOMAINEE, "register", "janesbakery.com",
                   owner=registrant, ceiling=Money(2000, "USD"))

    outcome = ordering.order_confirm(order=order, actor=support_user)

    assert outcome.status == StaffAction.Outcome.FAILED
    assert "nothing was charged" in outcome.message.lower()
    assert len(domainee.requests) == 1
    _assert_refused_unchanged(order, "price moved above the quote")
    assert audit_rows()[0].upstream_code == "price_changed"


# --- Domainee: the ceiling, the key, a charge refunded ------------------------------------


def _domainee_record(**overrides: Any) -> dict[str, Any]:
    """Document 002's 201 example, for our order."""
    return {
        "id": "f8a0c1b9-1234-4bcd-9ef0-123456789abc", "workspaceId": "ws_8812",
        "hostname": "janesbakery.com", "years": 1, "wholesaleCents": 1418, "feeCents": 100,
        "totalCents": 1518, "currency": "USD", "registrar": "namecheap",
        "registrarDomainId": "182739", "status": "completed",
        "registrant": {"firstName": "Jane", "lastName": "Smith",
                       "email": "jane@bakery.example", "country": "US"},
        "whoisPrivacyEnabled": True, "autoRenew": False,
        "expiresAt": "2027-05-17T15:42:11.000Z", "customerReference": "ACC-ACME-1",
        "createdAt": "2026-05-17T15:42:09.000Z", "updatedAt": "2026-05-17T15:42:11.000Z",
        **overrides}


def test_domainee_gets_the_quoted_ceiling_and_the_local_order_key(
        client, support_user, customer, domainee, registrant):
    domainee.on("POST", PURCHASES, respond(201, {"purchase": _domainee_record()}))
    client.force_login(support_user)

    response = client.post(order_url(customer), {
        "provider_account": account(DOMAINEE).pk, "action": "register",
        "domain": "JanesBakery.com", "years": "1", "owner": registrant.pk, "ceiling": "20.00"})
    order = Order.objects.get()
    assert response.status_code == 302 and domainee.requests == []
    assert order.quoted_total_minor == 2000
    confirm_page = page_text(client.get(confirm_url(customer, order)))
    assert "At most" in confirm_page and "20.00" in confirm_page

    client.post(confirm_url(customer, order), {})

    sent = domainee.sent("POST", PURCHASES)
    assert len(sent) == 1
    assert sent[0].headers["Idempotency-Key"] == f"backoffice-order-{order.pk}"
    body = body_of(sent[0])
    assert body["maxTotalCents"] == order.quoted_total_minor == 2000
    assert (body["hostname"], body["years"], body["customerReference"]) == (
        "janesbakery.com", 1, "ACC-ACME-1")
    assert body["registrant"]["firstName"] == "Jane"
    order.refresh_from_db()
    assert order.idempotency_key == f"backoffice-order-{order.pk}"
    assert (order.status, order.total_minor, order.fees_minor) == (
        OrderStatus.REGISTERED, 1518, 100)
    assert [entry.amount_minor for entry in payments(order)] == [1518]


def test_domainee_registration_failed_after_the_charge_ends_refunded(
        client, support_user, customer, domainee, registrant):
    reason = "Registrar refused: registrant email domain is blacklisted"
    # Document 002: 502 registration_failed, the message carrying the registrar's reason.
    domainee.on("POST", PURCHASES, respond(502, {"error": {
        "code": "registration_failed", "message": reason}}))
    order = quoted(support_user, customer, DOMAINEE, "register", "janesbakery.com",
                   owner=registrant, ceiling=Money(2000, "USD"))
    client.force_login(support_user)

    response = client.post(confirm_url(customer, order), {}, follow=True)

    assert len(domainee.requests) == 1  # a refunded charge is an answer, not retried
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert order.status_reason == reason
    assert order.total_minor > 0
    assert order.refunded_minor == order.total_minor
    assert [e.amount_minor for e in payments(order)] == [order.total_minor]
    assert [e.amount_minor for e in refunds(order)] == [order.total_minor]
    assert order.net_minor == 0
    text = page_text(response)
    assert "refunded" in text and reason in text
    row = StaffAction.objects.get()
    assert row.outcome == StaffAction.Outcome.FAILED and "refunded" in row.message


def test_the_webhook_for_a_refund_answered_without_its_record_updates_the_placed_order(
        client, support_user, customer, domainee, registrant, monkeypatch):
    # The 502 carried no purchase row, so the order has no upstream id yet; the
    # domain_purchase.failed event that follows names it and states the amounts.
    domainee.on("POST", PURCHASES, respond(502, {"error": {
        "code": "registration_failed", "message": "Registrar refused"}}))
    order = quoted(support_user, customer, DOMAINEE, "register", "janesbakery.com",
                   owner=registrant, ceiling=Money(2000, "USD"))
    ordering.order_confirm(order=order, actor=support_user)
    monkeypatch.setenv("DOMAINEE_MAIN_WEBHOOK_SECRET", "whsec-test")

    record = _domainee_record(status="refunded")
    response = client.post(reverse("webhook", args=["domainee", DOMAINEE]),
                           data=json.dumps({"id": "evt_9", "type": "domain_purchase.failed",
                                            "data": {"purchase": record}}),
                           content_type="application/json",
                           HTTP_X_WEBHOOK_SECRET="whsec-test")

    assert response.status_code == 200
    order = Order.objects.get()  # the same order, not a second one for the same purchase
    assert order.upstream_id == record["id"]
    assert (order.status, order.total_minor, order.refunded_minor) == (
        OrderStatus.REFUNDED, 1518, 1518)
    assert order.account == customer
    assert len(payments(order)) == 1 and len(refunds(order)) == 1


def test_domainee_registration_failed_with_the_refunded_row_keeps_its_amounts(
        support_user, customer, domainee, registrant):
    domainee.on("POST", PURCHASES, respond(502, {
        "error": {"code": "registration_failed", "message": "TLD requires local presence"},
        "purchase": _domainee_record(status="refunded")}))
    order = quoted(support_user, customer, DOMAINEE, "register", "janesbakery.com",
                   owner=registrant, ceiling=Money(2000, "USD"))

    outcome = ordering.order_confirm(order=order, actor=support_user)

    assert "refunded" in outcome.message
    order.refresh_from_db()
    assert (order.status, order.total_minor, order.refunded_minor) == (
        OrderStatus.REFUNDED, 1518, 1518)
    assert [e.amount_minor for e in payments(order)] == [1518]
    assert [e.amount_minor for e in refunds(order)] == [1518]


def test_a_retried_domainee_placement_carries_the_same_key_and_charges_once(
        support_user, customer, domainee, registrant):
    domainee.on("POST", PURCHASES, respond(503, {"error": {"code": "unavailable_now",
                                                            "message": "try later"}}),
                respond(201, {"purchase": _domainee_record()}))
    order = quoted(support_user, customer, DOMAINEE, "register", "janesbakery.com",
                   owner=registrant, ceiling=Money(2000, "USD"))

    outcome = ordering.order_confirm(order=order, actor=support_user)

    assert outcome.ok, outcome.message
    sent = domainee.sent("POST", PURCHASES)
    assert len(sent) == 2
    assert {r.headers["Idempotency-Key"] for r in sent} == {f"backoffice-order-{order.pk}"}
    assert {body_of(r)["maxTotalCents"] for r in sent} == {2000}
    order.refresh_from_db()
    assert order.status == OrderStatus.REGISTERED
    assert len(payments(order)) == 1


# --- no answer, and answers that refuse ---------------------------------------------------


def test_no_answer_to_a_purchase_leaves_the_order_for_a_person_to_check(
        client, support_user, customer, namecom):
    domain = "acme-bakery.com"
    namecom.on("POST", CHECK, checked(domain, premium=False, price=12.99))
    namecom.on("POST", CREATE, fail_with(httpx.ReadTimeout))
    order = quoted(support_user, customer, NAMECOM, "register", domain)
    client.force_login(support_user)

    response = client.post(confirm_url(customer, order), {}, follow=True)

    assert len(namecom.sent("POST", CREATE)) == 1  # a purchase without a key is not retried
    assert "may have been placed" in page_text(response)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAYMENT_INITIATED
    assert "check it there" in order.status_reason
    assert LedgerEntry.objects.count() == 0
    assert StaffAction.objects.get().outcome == StaffAction.Outcome.FAILED
    # Confirming again does not send the purchase a second time.
    client.post(confirm_url(customer, order), {})
    assert len(namecom.sent("POST", CREATE)) == 1


def test_a_refused_purchase_fails_the_order_without_a_charge(support_user, customer,
                                                            namecom):
    domain = "shoe.luxe"
    namecom.on("POST", CHECK, checked(domain, premium=True, price=349.95))
    namecom.on("GET", pricing_path(domain), priced(premium=True, purchase=349.95))
    namecom.on("POST", CREATE, respond(400, {"message": "Invalid Price"}))
    order = quoted(support_user, customer, NAMECOM, "register", domain)

    outcome = ordering.order_confirm(order=order, actor=support_user)

    assert outcome.status == StaffAction.Outcome.FAILED
    assert "Nothing was charged" in outcome.message
    order.refresh_from_db()
    assert order.status == OrderStatus.FAILED and order.status_reason == outcome.message
    assert LedgerEntry.objects.count() == 0
    assert StaffAction.objects.get().upstream_code == "invalid_price"


def test_an_upstream_failure_while_quoting_is_shown_and_keeps_no_order(
        client, support_user, customer, namecom):
    namecom.on("POST", CHECK, respond(500, {"message": "Internal Server Error"}))
    client.force_login(support_user)

    response = client.post(order_url(customer), {
        "provider_account": account(NAMECOM).pk, "action": "register",
        "domain": "acme-bakery.com", "years": "1"})

    assert response.status_code == 200
    assert "could not quote" in page_text(response)
    assert "Internal Server Error" not in page_text(response)
    assert Order.objects.count() == 0
    assert namecom.sent("POST", CREATE) == []


# --- expired quotes, transfers and their auth code ----------------------------------------


def test_an_expired_quote_is_refused_and_nothing_is_sent(support_user, customer, namecom):
    _standard_registration(namecom)
    order = quoted(support_user, customer, NAMECOM, "register", "acme-bakery.com")
    Order.objects.filter(pk=order.pk).update(
        quote_expires_at=timezone.now() - timedelta(seconds=1))
    namecom.requests.clear()

    with pytest.raises(OperationRefused) as refused:
        ordering.order_confirm(order=order, actor=support_user)

    assert refused.value.code == "quote_expired"
    assert namecom.requests == []
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert "expired" in order.status_reason
    assert LedgerEntry.objects.count() == 0


def test_an_expired_quote_on_the_page_sends_staff_back_to_quote_again(
        client, support_user, customer, namecom):
    _standard_registration(namecom)
    order = quoted(support_user, customer, NAMECOM, "register", "acme-bakery.com")
    Order.objects.filter(pk=order.pk).update(
        quote_expires_at=timezone.now() - timedelta(minutes=1))
    namecom.requests.clear()
    client.force_login(support_user)

    shown = page_text(client.get(confirm_url(customer, order)))
    assert 'id="quote-expired"' in shown and 'id="confirm-form"' not in shown
    response = client.post(confirm_url(customer, order), {})

    assert response.status_code == 302 and response["Location"] == order_url(customer)
    assert "quote it again" in page_text(client.get(response["Location"]))
    assert namecom.requests == []


def test_a_transfer_without_its_auth_code_is_refused_with_nothing_sent(
        client, support_user, customer, namecom):
    domain = "acme-bakery.com"
    namecom.on("GET", pricing_path(domain), priced(premium=False, transfer=9.99))
    namecom.on("POST", TRANSFER, transferred(domain, 1, 9.99))
    order = quoted(support_user, customer, NAMECOM, "transfer", domain)
    namecom.requests.clear()

    with pytest.raises(InvalidInput) as refused:
        ordering.order_confirm(order=order, actor=support_user, auth_code="  ")
    assert "auth_code" in refused.value.field_errors

    client.force_login(support_user)
    page = client.get(confirm_url(customer, order))
    assert 'type="password"' in page_text(page)  # the code is asked for, never echoed
    response = client.post(confirm_url(customer, order), {"auth_code": ""})
    assert response.status_code == 200
    assert "authorization (EPP) code" in page_text(response)

    assert namecom.requests == []
    order.refresh_from_db()
    assert order.status == OrderStatus.QUOTED and not order.idempotency_key
    assert StaffAction.objects.count() == 0


def test_the_auth_code_is_sent_once_and_never_kept(client, support_user, customer, namecom):
    domain = "acme-bakery.com"
    namecom.on("GET", pricing_path(domain), priced(premium=False, transfer=9.99))
    namecom.on("POST", TRANSFER, transferred(domain, 8005, 9.99))
    order = quoted(support_user, customer, NAMECOM, "transfer", domain)
    client.force_login(support_user)

    response = client.post(confirm_url(customer, order), {"auth_code": AUTH_CODE},
                           follow=True)

    assert [body_of(r)["authCode"] for r in namecom.sent("POST", TRANSFER)] == [AUTH_CODE]
    assert AUTH_CODE not in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.TRANSFER_STARTED
    assert AUTH_CODE not in json.dumps(order.quote)
    rows = audit_rows()
    assert len(rows) == 1
    for row in rows:
        assert AUTH_CODE not in json.dumps(row.parameters)
        assert AUTH_CODE not in row.message
    assert AUTH_CODE not in database_dump()


# --- input refused before anything is sent ------------------------------------------------


def test_bad_input_on_the_form_sends_nothing_and_keeps_no_order(
        client, support_user, customer, namecom, domainee, sandbox):
    TldFactory(name="com")
    client.force_login(support_user)
    cases = [
        ({"provider_account": account(NAMECOM).pk, "action": "register",
          "domain": "not a domain!", "years": "1"}, "domain"),
        ({"provider_account": account(NAMECOM).pk, "action": "register",
          "domain": "acme-bakery.com", "years": "0"}, "years"),
        ({"provider_account": account("sandbox").pk, "action": "register",
          "domain": "acme-bakery.com", "years": "1"}, "owner"),
        ({"provider_account": account(DOMAINEE).pk, "action": "register",
          "domain": "acme-bakery.com", "years": "1"}, "ceiling"),
        ({"provider_account": account(DOMAINEE).pk, "action": "renew",
          "domain": "acme-bakery.com", "years": "1", "ceiling": "20.00"}, "action"),
    ]
    for data, field in cases:
        response = client.post(order_url(customer), data)
        assert response.status_code == 200, data
        form = response.context["form"]
        assert field in form.errors, (data, form.errors)
    assert namecom.requests == [] and domainee.requests == []
    assert sandbox.transport.requests == []
    assert Order.objects.count() == 0
    assert StaffAction.objects.count() == 0


@pytest.mark.parametrize(("label", "changes", "field"), [
    (NAMECOM, {"domain": "exa mple.com"}, "domain"),
    (NAMECOM, {"years": 0}, "years"),
    (NAMECOM, {"years": 11}, "years"),
    ("sandbox", {}, "owner"),
    (DOMAINEE, {}, "ceiling"),
    (DOMAINEE, {"ceiling": Money(0, "USD")}, "ceiling"),
])
def test_the_service_refuses_bad_input_itself(support_user, customer, namecom, domainee,
                                              sandbox, label, changes, field):
    TldFactory(name="com")
    arguments: dict[str, Any] = {"domain": "acme-bakery.com", "years": 1, **changes}
    with pytest.raises(InvalidInput) as refused:
        quote(support_user, customer, label, "register", **arguments)
    assert field in refused.value.field_errors
    assert namecom.requests == [] and domainee.requests == []
    assert sandbox.transport.requests == []
    assert Order.objects.count() == 0


# --- permissions --------------------------------------------------------------------------


def test_only_staff_who_place_orders_reach_the_order_pages(
        client, support_user, finance_user, plain_staff_user, customer, namecom):
    _standard_registration(namecom)
    order = quoted(support_user, customer, NAMECOM, "register", "acme-bakery.com")
    namecom.requests.clear()
    for user in (finance_user, plain_staff_user):
        client.force_login(user)
        assert client.get(order_url(customer)).status_code == 403
        assert client.post(order_url(customer), {
            "provider_account": account(NAMECOM).pk, "action": "register",
            "domain": "acme-bakery.com", "years": "1"}).status_code == 403
        assert client.get(confirm_url(customer, order)).status_code == 403
        assert client.post(confirm_url(customer, order), {}).status_code == 403
    assert namecom.requests == []
    assert Order.objects.get().status == OrderStatus.QUOTED

    client.force_login(support_user)
    assert client.get(order_url(customer)).status_code == 200
    assert client.get(confirm_url(customer, order)).status_code == 200
    change_page = page_text(client.get(reverse("admin:billing_account_change",
                                               args=[customer.pk])))
    assert order_url(customer) in change_page


def test_the_services_check_the_permission_first(finance_user, support_user, customer,
                                                 namecom):
    _standard_registration(namecom)
    with pytest.raises(PermissionDenied):
        quote(finance_user, customer, NAMECOM, "register", "acme-bakery.com")
    order = quoted(support_user, customer, NAMECOM, "register", "acme-bakery.com")
    namecom.requests.clear()
    with pytest.raises(PermissionDenied):
        ordering.order_confirm(order=order, actor=finance_user)
    assert namecom.requests == []


def test_an_order_of_another_account_is_a_404(client, support_user, customer, namecom):
    _standard_registration(namecom)
    order = quoted(support_user, customer, NAMECOM, "register", "acme-bakery.com")
    other = AccountFactory()
    client.force_login(support_user)
    assert client.get(confirm_url(other, order)).status_code == 404
    assert client.post(confirm_url(other, order), {}).status_code == 404
    assert namecom.sent("POST", CREATE) == []


# --- the Domain API (the sandbox speaks document 001) -------------------------------------


ORDERS = "/api/orders/domain"
AVAILABILITY = "/api/domain_registrations/check"


@pytest.fixture
def domain_api(sandbox, customer):
    """The sandbox serving .com, with the customer's registrant contact upstream."""
    tld = TldFactory(name="com")
    owner = ContactFactory(account=customer, tld=tld, handle="ACME-OWNER")
    sandbox.seed()
    sandbox.transport.requests.clear()
    sandbox.owner = owner
    return sandbox


def _calls(sandbox) -> list[tuple[str, str]]:
    return [(r.method, r.url.path) for r in sandbox.transport.requests]


def test_a_domain_api_order_sends_the_local_key_and_the_quoted_ceiling(
        client, support_user, customer, domain_api):
    client.force_login(support_user)
    response = client.post(order_url(customer), {
        "provider_account": account("sandbox").pk, "action": "register",
        "domain": "acme-bakery-shop.com", "years": "2", "owner": domain_api.owner.pk})
    order = Order.objects.get()
    assert response.status_code == 302
    assert _calls(domain_api) == [("POST", AVAILABILITY)]
    assert (order.quoted_total_minor, order.currency) == (2598, "USD")

    placed = client.post(confirm_url(customer, order), {}, follow=True)

    # Re-checked right before placing, then placed once.
    assert _calls(domain_api) == [("POST", AVAILABILITY), ("POST", AVAILABILITY),
                                  ("POST", ORDERS)]
    sent = domain_api.transport.sent("POST", ORDERS)[0]
    assert sent.headers["Idempotency-Key"] == f"backoffice-order-{order.pk}"
    assert json.loads(sent.content) == {
        "domain": "acme-bakery-shop.com", "action": "register", "years": 2,
        "source_domain_contact_id": domain_api.owner.upstream_id,
        "max_total": {"amount_cents": order.quoted_total_minor, "currency": "USD"}}
    order.refresh_from_db()
    assert order.idempotency_key == f"backoffice-order-{order.pk}"
    assert order.upstream_id
    assert order.status == OrderStatus.REGISTRATION_IN_PROGRESS
    assert [e.amount_minor for e in payments(order)] == [2598]
    assert "The registrar is working on it" in page_text(placed)
    row = StaffAction.objects.get()
    assert row.outcome == StaffAction.Outcome.PENDING
    assert row.parameters["idempotency_key"] == order.idempotency_key


def test_a_domain_api_price_that_moved_is_refused_before_placing(support_user, customer,
                                                                 domain_api):
    order = quoted(support_user, customer, "sandbox", "register", "acme-bakery-shop.com",
                   owner=domain_api.owner)
    domain_api.client.post("/_sandbox/seed", json={"tlds": [{
        "name": "com", "create_price": {"amount_cents": 1599, "currency": "USD"}}]}
    ).raise_for_status()

    outcome = ordering.order_confirm(order=order, actor=support_user)

    assert outcome.status == StaffAction.Outcome.FAILED
    assert domain_api.transport.sent("POST", ORDERS) == []
    assert "15.99" in outcome.message and "12.99" in outcome.message
    _assert_refused_unchanged(order, "Nothing was bought")


def test_confirming_a_domain_api_order_twice_places_it_once(support_user, customer,
                                                            domain_api):
    order = quoted(support_user, customer, "sandbox", "register", "acme-bakery-shop.com",
                   owner=domain_api.owner)

    ordering.order_confirm(order=order, actor=support_user)
    again = ordering.order_confirm(order=order, actor=support_user)

    assert again.data["replayed"] is True
    assert len(domain_api.transport.sent("POST", ORDERS)) == 1
    assert len(domain_api.state()["orders"]) == 1
    assert len(payments(Order.objects.get())) == 1


@pytest.fixture
def published(monkeypatch) -> list[tuple[tuple, dict, Any]]:
    """Follow-ups of Domain API orders published to the broker: (args, kwargs, countdown)."""
    from billing import tasks

    queue: list[tuple[tuple, dict, Any]] = []

    def publish(args=(), kwargs=None, countdown=None, **options):
        queue.append((tuple(args), dict(kwargs or {}), countdown))

    monkeypatch.setattr(tasks.follow_domain_order, "apply_async", publish)
    return queue


def test_a_failed_domain_api_order_is_followed_until_refunded(
        support_user, customer, domain_api, published, settings,
        django_capture_on_commit_callbacks):
    from billing import tasks

    order = quoted(support_user, customer, "sandbox", "register", "bakery-fails.com",
                   owner=domain_api.owner)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = ordering.order_confirm(order=order, actor=support_user)
    assert outcome.status == StaffAction.Outcome.PENDING, outcome.message
    # The follow-up is published once the order is committed.
    assert published == [((order.pk,), {}, settings.PROCESS_POLL_BASE_DELAY)]

    # Each run, as the worker runs it, reads the order and comes back while it is open.
    runs = 0
    while published and runs < 10:
        args, kwargs, _ = published.pop(0)
        tasks.follow_domain_order.apply(args=args, kwargs=kwargs)
        runs += 1

    assert published == [] and runs >= 2
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert order.refunded_minor == order.total_minor == 1299
    assert [e.amount_minor for e in payments(order)] == [1299]
    assert [e.amount_minor for e in refunds(order)] == [1299]
    assert "refused" in order.status_reason
    assert len(domain_api.transport.sent("POST", ORDERS)) == 1


def test_a_domain_api_renewal_is_placed_without_a_ceiling(client, support_user, customer,
                                                          domain_api):
    registration = RegistrationFactory(name="acme-owned.com", tld=domain_api.owner.tld,
                                       account=customer, owner_contact=domain_api.owner)
    domain_api.seed()
    domain_api.transport.requests.clear()
    client.force_login(support_user)

    response = client.post(order_url(customer), {
        "provider_account": account("sandbox").pk, "action": "renew",
        "domain": registration.name, "years": "1"})

    order = Order.objects.get()
    assert response.status_code == 302, page_text(response)
    assert order.kind == OrderKind.RENEWAL and order.quoted_total_minor is None
    assert "Not quoted by this registrar" in page_text(client.get(confirm_url(customer, order)))
    client.post(confirm_url(customer, order), {})
    # No price to re-check against, so nothing but the order itself is sent.
    assert _calls(domain_api) == [("POST", AVAILABILITY), ("POST", ORDERS)]
    sent = domain_api.transport.sent("POST", ORDERS)[0]
    assert sent.headers["Idempotency-Key"] == f"backoffice-order-{order.pk}"
    assert json.loads(sent.content) == {"domain": registration.name, "action": "renew",
                                        "years": 1}
    order.refresh_from_db()
    assert order.status == OrderStatus.REGISTRATION_IN_PROGRESS
    assert (order.total_minor, order.currency) == (1299, "USD")


def test_a_domain_api_transfer_sends_the_auth_code_once_and_keeps_it_nowhere(
        client, support_user, customer, domain_api):
    domain_api.client.post("/_sandbox/seed", json={"taken": ["acme-elsewhere.com"]}
                           ).raise_for_status()
    order = quoted(support_user, customer, "sandbox", "transfer", "acme-elsewhere.com",
                   owner=domain_api.owner)
    assert order.kind == OrderKind.TRANSFER_IN and order.quoted_total_minor == 1299
    client.force_login(support_user)

    client.post(confirm_url(customer, order), {"auth_code": AUTH_CODE})

    [sent] = domain_api.transport.sent("POST", ORDERS)
    assert json.loads(sent.content) == {
        "domain": "acme-elsewhere.com", "action": "transfer", "years": 1,
        "auth_code": AUTH_CODE, "source_domain_contact_id": domain_api.owner.upstream_id,
        "max_total": {"amount_cents": 1299, "currency": "USD"}}
    order.refresh_from_db()
    assert order.status == OrderStatus.TRANSFER_STARTED
    for row in audit_rows():
        assert AUTH_CODE not in json.dumps(row.parameters) and AUTH_CODE not in row.message
    assert AUTH_CODE not in database_dump()


def test_quotes_left_unconfirmed_are_cancelled_by_the_hourly_sweep(support_user, customer,
                                                                   namecom):
    from billing.tasks import expire_quotes

    namecom.on("POST", CHECK, checked("fresh.com", premium=False, price=12.99),
               checked("fresh.com", premium=False, price=12.99))
    stale = quoted(support_user, customer, NAMECOM, "register", "fresh.com")
    fresh = quoted(support_user, customer, NAMECOM, "register", "fresh.com")
    Order.objects.filter(pk=stale.pk).update(
        quote_expires_at=timezone.now() - timedelta(minutes=1))

    assert expire_quotes() == 1

    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert (stale.status, fresh.status) == (OrderStatus.CANCELLED, OrderStatus.QUOTED)
    assert stale.status_reason == "The quote expired before it was confirmed."
