"""Domain orders placed by Support for a customer account: quote, then confirm.

Through the services (billing.ordering) and through the account's admin pages: the
exact purchase each name.com pricing scenario sends (document 004), the re-check right
before placing, replays that send nothing twice, a price that moved, a charge that was
refunded, expired quotes, transfers and their authorization code (never kept), input
refused before anything is sent, who may do it, the idempotency key and ceiling each
upstream receives, and the registration a completed order leaves for Support to operate.

Only the HTTP boundary is fake: `tests.fakes.namecom.FakeNamecom` and
`tests.fakes.domainee.FakeDomainee` behind `override_transport`, the sandbox (document
001's wire format) for the Domain API.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
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
from billing.finance import attention
from billing.models import Account, LedgerEntry, Order, OrderKind, OrderStatus
from registrar.models import ProviderAccount, Registration, RegistrationStatus
from registrar.operations import InvalidInput, OperationRefused
from registrar.providers.base import Money, RegistrationRef
from tests.factories import (
    AccountFactory,
    ContactFactory,
    ProviderAccountFactory,
    RegistrationFactory,
    TldFactory,
)
from tests.fakes.domainee import FakeDomainee
from tests.fakes.http import body_of, fail_with, respond
from tests.fakes.namecom import CHECK, CREATE, TRANSFER, FakeNamecom, pricing_path, renew_path

NAMECOM = "namecom-main"
NAMECOM_URL = "https://api.dev.name.com"
NAMECOM_USER = "acme-reseller"
NAMECOM_TOKEN = "namecom-token-0123456789"
DOMAINEE = "domainee-main"
DOMAINEE_URL = "https://api.domainee.dev"
DOMAINEE_KEY = "dme_live_0123456789abcdef"
AUTH_CODE = "EPP-Zx81!q-secret"

PURCHASES = "/v1/domain-purchases"


def calls(fake) -> list[tuple[str, str]]:
    return [(r.method, r.url.path) for r in fake.requests]


# --- Fixtures -----------------------------------------------------------------------------


@pytest.fixture
def customer(db) -> Account:
    return AccountFactory(name="Acme Corp", email="billing@acme.example",
                          customer_reference="ACC-ACME-1")


@pytest.fixture
def namecom(db, monkeypatch) -> Iterator[FakeNamecom]:
    monkeypatch.setenv("PROVIDER_SECRET_NAMECOM_TEST", NAMECOM_TOKEN)
    ProviderAccountFactory(label=NAMECOM, kind="namecom", base_url=NAMECOM_URL,
                           account_ref=NAMECOM_USER, secret_env="PROVIDER_SECRET_NAMECOM_TEST")
    with FakeNamecom(username=NAMECOM_USER, token=NAMECOM_TOKEN).serving(NAMECOM) as fake:
        yield fake


@pytest.fixture
def domainee(db, monkeypatch) -> Iterator[FakeDomainee]:
    monkeypatch.setenv("PROVIDER_SECRET_DOMAINEE_TEST", DOMAINEE_KEY)
    ProviderAccountFactory(label=DOMAINEE, kind="domainee", base_url=DOMAINEE_URL,
                           account_ref="", secret_env="PROVIDER_SECRET_DOMAINEE_TEST")
    with FakeDomainee(token=DOMAINEE_KEY).serving(DOMAINEE) as fake:
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


# --- name.com: one test per pricing scenario of document 004 ------------------------------


def test_standard_registration_sends_years_and_no_price_after_a_fresh_check(
        support_user, customer, namecom):
    domain = "acme-bakery.com"  # a standard .com: 12.99 a year, 14.99 to renew

    order = quoted(support_user, customer, NAMECOM, "register", domain, years=2)
    assert calls(namecom) == [("POST", CHECK)]  # quoting buys nothing
    assert body_of(namecom.requests[0]) == {"domainNames": [domain],
                                            "purchaseType": "registration"}
    assert order.quote["purchase_price_minor"] is None
    assert order.quote["years_sent"] == 2

    outcome = ordering.order_confirm(order=order, actor=support_user)

    assert outcome.status == StaffAction.Outcome.SUCCEEDED, outcome.message
    # 004: re-run Check Availability right before Create Domain, with the same filter.
    assert calls(namecom) == [("POST", CHECK), ("POST", CHECK), ("POST", CREATE)]
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
    namecom.offer(domain, premium=True, price="349.95", renewal="349.95")

    order = quoted(support_user, customer, NAMECOM, "register", domain, years=3)

    assert calls(namecom) == [("POST", CHECK), ("GET", pricing_path(domain))]
    assert namecom.requests[1].url.params["years"] == "3"  # Get Pricing for the same term
    assert order.quoted_total_minor == 104985 and order.premium is True

    outcome = ordering.order_confirm(order=order, actor=support_user)

    assert outcome.ok, outcome.message
    assert calls(namecom)[-2:] == [("POST", CHECK), ("POST", CREATE)]
    assert body_of(namecom.sent("POST", CREATE)[0]) == {
        "domain": {"domainName": domain}, "purchaseType": "registration",
        "purchasePrice": Decimal("1049.85"), "years": 3}
    order.refresh_from_db()
    assert (order.status, order.total_minor) == (OrderStatus.REGISTERED, 104985)


def test_aftermarket_sends_the_flat_discovery_price_and_no_years(
        support_user, customer, namecom):
    domain = "bakery.co"
    namecom.offer(domain, premium=True, purchase_type="aftermarket_s", price="5000.00",
                  renewal="25.99")

    order = quoted(support_user, customer, NAMECOM, "register", domain, years=1,
                   allow_acquisition=True)

    # 004 Pattern C: no purchaseType filter, and no Get Pricing for an acquisition.
    assert calls(namecom) == [("POST", CHECK)]
    assert body_of(namecom.requests[0]) == {"domainNames": [domain]}
    assert order.purchase_type == "aftermarket_s" and order.quoted_total_minor == 500000

    ordering.order_confirm(order=order, actor=support_user)

    assert calls(namecom) == [("POST", CHECK), ("POST", CHECK), ("POST", CREATE)]
    assert body_of(namecom.requests[1]) == {"domainNames": [domain]}
    assert body_of(namecom.requests[2]) == {
        "domain": {"domainName": domain}, "purchaseType": "aftermarket_s",
        "purchasePrice": Decimal("5000.00")}
    order.refresh_from_db()
    assert order.status == OrderStatus.REGISTERED


def test_aftermarket_is_refused_unless_acquisition_is_allowed(support_user, customer,
                                                              namecom):
    domain = "bakery.co"
    namecom.offer(domain, premium=True, purchase_type="aftermarket_s", price="5000.00")
    with pytest.raises(OperationRefused) as refused:
        quote(support_user, customer, NAMECOM, "register", domain)
    # 004 Pattern A: with the registration filter, acquisition inventory is not purchasable.
    assert body_of(namecom.only) == {"domainNames": [domain], "purchaseType": "registration"}
    assert refused.value.code == "not_purchasable"
    assert "domain" in refused.value.field_errors
    assert Order.objects.count() == 0
    assert namecom.sent("POST", CREATE) == []


def test_standard_renewal_sends_years_and_no_price(support_user, customer, namecom):
    domain = "acme-bakery.com"
    namecom.own(domain)
    namecom.next_order = 7003

    order = quoted(support_user, customer, NAMECOM, "renew", domain, years=2)
    assert order.kind == OrderKind.RENEWAL and order.quoted_total_minor == 2998

    outcome = ordering.order_confirm(order=order, actor=support_user)

    assert outcome.ok, outcome.message
    # Get Pricing again right before renewing, for the same term.
    assert calls(namecom) == [("GET", pricing_path(domain)), ("GET", pricing_path(domain)),
                              ("POST", renew_path(domain))]
    assert [r.url.params["years"] for r in namecom.sent("GET")] == ["2", "2"]
    assert body_of(namecom.sent("POST")[0]) == {"years": 2}
    order.refresh_from_db()
    assert (order.status, order.upstream_id, order.total_minor) == (
        OrderStatus.REGISTERED, "7003", 2998)


def test_premium_renewal_sends_renewal_price_as_purchase_price_for_the_same_years(
        support_user, customer, namecom):
    domain = "shoe.luxe"
    namecom.offer(domain, premium=True, price="349.95", renewal="349.95", transfer="349.95")
    namecom.own(domain)

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
    namecom.register_elsewhere(domain)

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
    namecom.offer(domain, premium=True, price="349.95", renewal="349.95", transfer="349.95")
    namecom.register_elsewhere(domain)

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
    namecom.offer(domain, premium=True, price="349.95")
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


def test_confirming_twice_places_one_order(support_user, customer, namecom):
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
    order = quoted(support_user, customer, NAMECOM, "register", domain)
    namecom.reprice(domain, price="15.99")
    client.force_login(support_user)

    response = client.post(confirm_url(customer, order), {}, follow=True)

    assert calls(namecom) == [("POST", CHECK), ("POST", CHECK)]  # no create sent
    assert "moved" in page_text(response) and "Nothing was bought" in page_text(response)
    _assert_refused_unchanged(order, "moved from 12.99 USD to 15.99 USD")


def test_a_renewal_price_that_moved_is_refused_without_renewing(support_user, customer,
                                                                namecom):
    domain = "shoe.luxe"
    namecom.offer(domain, premium=True, renewal="349.95")
    namecom.own(domain)
    order = quoted(support_user, customer, NAMECOM, "renew", domain)
    namecom.reprice(domain, renewal="399.95")

    outcome = ordering.order_confirm(order=order, actor=support_user)

    assert outcome.status == StaffAction.Outcome.FAILED
    assert namecom.sent("POST") == []
    _assert_refused_unchanged(order, "moved since the quote")


def test_domainee_price_changed_is_refused_and_nothing_is_charged(
        support_user, customer, domainee, registrant):
    domainee.wholesale_cents["com"] = 8800  # live price 88.00 + 1.00 fee > the 20.00 ceiling
    order = quoted(support_user, customer, DOMAINEE, "register", "janesbakery.com",
                   owner=registrant, ceiling=Money(2000, "USD"))

    outcome = ordering.order_confirm(order=order, actor=support_user)

    assert outcome.status == StaffAction.Outcome.FAILED
    assert "nothing was charged" in outcome.message.lower()
    assert len(domainee.requests) == 1
    assert domainee.purchases == []
    _assert_refused_unchanged(order, "price moved above the quote")
    assert audit_rows()[0].upstream_code == "price_changed"


# --- Domainee: the ceiling, the key, a charge refunded ------------------------------------


def test_domainee_gets_the_quoted_ceiling_and_the_local_order_key(
        client, support_user, customer, domainee, registrant):
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
    assert order.upstream_id == domainee.purchases[0]["id"]
    assert (order.status, order.total_minor, order.fees_minor) == (
        OrderStatus.REGISTERED, 1518, 100)
    assert [entry.amount_minor for entry in payments(order)] == [1518]


def test_domainee_registration_failed_after_the_charge_ends_refunded(
        client, support_user, customer, domainee, registrant):
    reason = "Registrar refused: registrant email domain is blacklisted"
    # Document 002: 502 registration_failed, the message carrying the registrar's reason
    # (and no purchase row: the amount charged is not stated).
    domainee.outcome("registration_failed", reason=reason, with_row=False)
    order = quoted(support_user, customer, DOMAINEE, "register", "janesbakery.com",
                   owner=registrant, ceiling=Money(2000, "USD"))
    client.force_login(support_user)

    response = client.post(confirm_url(customer, order), {}, follow=True)

    assert len(domainee.requests) == 1  # a refunded charge is an answer, not retried
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert order.status_reason == reason
    assert order.total_minor > 0
    assert order.total_minor == 2000  # not stated: recorded at the ceiling, the most it was
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
    domainee.outcome("registration_failed", reason="Registrar refused", with_row=False)
    order = quoted(support_user, customer, DOMAINEE, "register", "janesbakery.com",
                   owner=registrant, ceiling=Money(2000, "USD"))
    ordering.order_confirm(order=order, actor=support_user)
    monkeypatch.setenv("PROVIDER_SECRET_DOMAINEE_MAIN_WEBHOOK", "whsec-test")

    # The domain_purchase.failed delivery Domainee fired for that purchase.
    [event] = domainee.events
    record = event["data"]["purchase"]
    assert (event["type"], record["status"]) == ("domain_purchase.failed", "refunded")
    response = client.post(reverse("webhook", args=["domainee", DOMAINEE]),
                           data=json.dumps(event), content_type="application/json",
                           HTTP_X_WEBHOOK_SECRET="whsec-test")

    assert response.status_code == 200
    order = Order.objects.get()  # the same order, not a second one for the same purchase
    assert order.upstream_id == record["id"]
    assert (order.status, order.total_minor, order.refunded_minor) == (
        OrderStatus.REFUNDED, 1518, 1518)
    assert order.account == customer
    # The placement recorded the most it can have been, pending; the amounts Domainee
    # then stated settle those estimates (append-only: nothing is rewritten).
    for entries in (payments(order), refunds(order)):
        estimate, stated = entries
        assert (estimate.state, estimate.amount_minor) == ("pending", 2000)
        assert (stated.state, stated.amount_minor, stated.settles) == (
            "succeeded", 1518, estimate)


def test_domainee_registration_failed_with_the_refunded_row_keeps_its_amounts(
        support_user, customer, domainee, registrant):
    domainee.outcome("registration_failed", reason="TLD requires local presence",
                     with_row=True)
    order = quoted(support_user, customer, DOMAINEE, "register", "janesbakery.com",
                   owner=registrant, ceiling=Money(2000, "USD"))

    outcome = ordering.order_confirm(order=order, actor=support_user)

    assert "refunded" in outcome.message
    order.refresh_from_db()
    assert order.upstream_id == domainee.purchases[0]["id"]
    assert order.status_reason == "TLD requires local presence"
    assert (order.status, order.total_minor, order.refunded_minor) == (
        OrderStatus.REFUNDED, 1518, 1518)
    assert [e.amount_minor for e in payments(order)] == [1518]
    assert [e.amount_minor for e in refunds(order)] == [1518]


@pytest.mark.parametrize("bought_first", [False, True],
                         ids=["gateway-failed-before", "answer-lost-after-buying"])
def test_a_retried_domainee_placement_carries_the_same_key_and_charges_once(
        support_user, customer, domainee, registrant, bought_first):
    failure = respond(503, {"error": {"code": "unavailable_now", "message": "try later"}})
    if bought_first:
        # Domainee bought it, the answer never came back: the retry gets the first answer.
        domainee.lose_answer(failure)
    else:
        domainee.fail_before(failure)
    order = quoted(support_user, customer, DOMAINEE, "register", "janesbakery.com",
                   owner=registrant, ceiling=Money(2000, "USD"))

    outcome = ordering.order_confirm(order=order, actor=support_user)

    assert outcome.ok, outcome.message
    sent = domainee.sent("POST", PURCHASES)
    assert len(sent) == 2
    assert {r.headers["Idempotency-Key"] for r in sent} == {f"backoffice-order-{order.pk}"}
    assert {body_of(r)["maxTotalCents"] for r in sent} == {2000}
    assert len(domainee.purchases) == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.REGISTERED
    assert order.upstream_id == domainee.purchases[0]["id"]
    assert len(payments(order)) == 1


# --- no answer, and answers that refuse ---------------------------------------------------


@pytest.fixture
def settles(monkeypatch) -> list[tuple[tuple, dict, Any]]:
    """Settle tasks published to the broker: (args, kwargs, countdown)."""
    from billing import tasks

    queue: list[tuple[tuple, dict, Any]] = []

    def publish(args=(), kwargs=None, countdown=None, **options):
        queue.append((tuple(args), dict(kwargs or {}), countdown))

    monkeypatch.setattr(tasks.settle_order, "apply_async", publish)
    return queue


def test_no_answer_to_a_purchase_leaves_the_order_for_a_person_to_check(
        client, support_user, customer, namecom, settles, django_capture_on_commit_callbacks):
    domain = "acme-bakery.com"
    namecom.script("POST", CREATE, fail_with(httpx.ReadTimeout))
    order = quoted(support_user, customer, NAMECOM, "register", domain)
    client.force_login(support_user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(confirm_url(customer, order), {}, follow=True)

    assert len(namecom.sent("POST", CREATE)) == 1  # a purchase without a key is not retried
    # name.com offers no way to find a placement whose answer was lost: the order stays
    # open and unsettled, for a person to check there.
    message = ("No usable answer came back from the registrar (it did not answer in time), "
               "after the request was sent: it may have applied the change. This order stays "
               "open (“payment initiated”) and name.com offers no way to ask what became of "
               "it: check the order at name.com; finance lists it under needs attention until "
               "then. Do not order it again meanwhile.")
    assert message in page_text(response)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAYMENT_INITIATED
    assert order.status_reason == message
    assert order.unsettled_since is not None and order.upstream_id in (None, "")
    assert LedgerEntry.objects.count() == 0
    row = StaffAction.objects.get()
    assert (row.outcome, row.upstream_code, row.message) == (
        StaffAction.Outcome.UNKNOWN, "timeout", message)
    # Nothing to ask later: no settle task, and finance lists it.
    assert settles == []
    assert list(attention.unsettled()) == [order]
    # Confirming again does not send the purchase a second time.
    again = client.post(confirm_url(customer, order), {}, follow=True)
    assert (f"Order {order.pk} was already confirmed; it is payment initiated. Nothing was "
            "sent again.") in page_text(again)
    assert len(namecom.sent("POST", CREATE)) == 1


GATEWAY_503 = respond(503, {"error": {"code": "unavailable_now", "message": "try later"}})


def test_a_domainee_purchase_whose_answers_were_all_lost_is_found_by_its_reference(
        support_user, customer, domainee, registrant, settles):
    # Two attempts fail at a gateway; the third buys it, and its answer is lost too.
    domainee.now = timezone.now()
    domainee.fail_before(GATEWAY_503)
    domainee.fail_before(GATEWAY_503)
    domainee.lose_answer(GATEWAY_503)
    order = quoted(support_user, customer, DOMAINEE, "register", "janesbakery.com",
                   owner=registrant, ceiling=Money(2000, "USD"))

    outcome = ordering.order_confirm(order=order, actor=support_user)

    # Asked at once, without buying twice: the purchase list by customer reference.
    assert calls(domainee)[-1] == ("GET", PURCHASES)
    assert dict(domainee.requests[-1].url.params) == {
        "limit": "100", "customerReference": "ACC-ACME-1"}
    assert len(domainee.sent("POST", PURCHASES)) == 3 and len(domainee.purchases) == 1
    assert outcome.status == StaffAction.Outcome.SUCCEEDED
    assert outcome.message.startswith(
        "No usable answer came back when it was sent; asked again (in a way that cannot "
        f"place it twice), the registrar shows it: Order {order.pk} placed at Domainee: ")
    order.refresh_from_db()
    assert (order.status, order.upstream_id, order.unsettled_since) == (
        OrderStatus.REGISTERED, domainee.purchases[0]["id"], None)
    assert [e.amount_minor for e in payments(order)] == [1518]
    assert outcome.message.endswith("registration of janesbakery.com, 15.18 USD paid. "
                                    "janesbakery.com is now in the mirror.")
    row = StaffAction.objects.get(action="order.place_domain")
    assert (row.outcome, row.message) == (StaffAction.Outcome.SUCCEEDED, outcome.message)
    assert settles == []


def test_a_domainee_purchase_that_shows_nowhere_stays_unsettled(
        support_user, customer, domainee, registrant, settles,
        django_capture_on_commit_callbacks):
    for _ in range(3):  # every attempt fails in front of Domainee: nothing was bought
        domainee.fail_before(GATEWAY_503)
    order = quoted(support_user, customer, DOMAINEE, "register", "janesbakery.com",
                   owner=registrant, ceiling=Money(2000, "USD"))

    with django_capture_on_commit_callbacks(execute=True):
        outcome = ordering.order_confirm(order=order, actor=support_user)

    assert outcome.status == StaffAction.Outcome.UNKNOWN
    assert outcome.message == (
        "No usable answer came back from the registrar (it answered HTTP 503), after the "
        "request was sent: it may have applied the change. This order stays open (“payment "
        "initiated”) and the back-office keeps asking Domainee what became of it (it shows "
        "no order yet). Do not order it again meanwhile.")
    assert calls(domainee)[-1] == ("GET", PURCHASES)
    assert domainee.purchases == []
    order.refresh_from_db()
    assert order.status == OrderStatus.PAYMENT_INITIATED
    assert order.unsettled_since is not None and order.status_reason == outcome.message
    assert LedgerEntry.objects.count() == 0
    assert settles == [((order.pk,), {}, 60.0)]


def test_a_refused_purchase_fails_the_order_without_a_charge(support_user, customer,
                                                            namecom):
    domain = "shoe.luxe"
    namecom.offer(domain, premium=True, price="349.95")
    order = quoted(support_user, customer, NAMECOM, "register", domain)
    # Get Pricing's registry price moved on its own: the re-check of discovery passes,
    # and name.com refuses the purchasePrice that was quoted, to the cent.
    namecom.reprice(domain, registry="359.95")

    outcome = ordering.order_confirm(order=order, actor=support_user)

    assert outcome.status == StaffAction.Outcome.FAILED
    assert "Nothing was charged" in outcome.message
    order.refresh_from_db()
    assert order.status == OrderStatus.FAILED and order.status_reason == outcome.message
    assert LedgerEntry.objects.count() == 0
    assert StaffAction.objects.get().upstream_code == "invalid_price"
    assert body_of(namecom.sent("POST", CREATE)[0])["purchasePrice"] == Decimal("349.95")
    assert namecom.orders == [] and Registration.objects.count() == 0


def test_an_upstream_failure_while_quoting_is_shown_and_keeps_no_order(
        client, support_user, customer, namecom):
    namecom.script("POST", CHECK, respond(500, {"message": "Internal Server Error"}))
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
    namecom.register_elsewhere(domain)
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
    namecom.register_elsewhere(domain)
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


def test_an_account_that_takes_no_domain_orders_is_refused_with_nothing_sent(
        support_user, customer, namecom):
    ProviderAccountFactory(label="saleshandy-main", kind="saleshandy",
                           base_url="https://api.saleshandy.example", account_ref="")
    disabled = account(NAMECOM)
    disabled.enabled = False
    disabled.save()
    for label in ("saleshandy-main", NAMECOM):
        with pytest.raises(InvalidInput) as refused:
            quote(support_user, customer, label, "register", "acme-bakery.com")
        assert refused.value.field_errors["provider_account"] == [
            f"“{label}” cannot take domain orders."]
    assert namecom.requests == [] and Order.objects.count() == 0


def test_an_account_without_its_secret_is_refused_before_anything_is_sent(
        support_user, customer, namecom, monkeypatch):
    monkeypatch.delenv("PROVIDER_SECRET_NAMECOM_TEST")

    with pytest.raises(OperationRefused) as refused:
        quote(support_user, customer, NAMECOM, "register", "acme-bakery.com")

    assert refused.value.code == "missing_credentials"
    assert "PROVIDER_SECRET_NAMECOM_TEST" in str(refused.value)
    assert namecom.requests == [] and Order.objects.count() == 0


def test_the_domain_api_needs_a_registrant_already_at_the_registrar(support_user, customer,
                                                                    sandbox):
    TldFactory(name="com")
    local_only = ContactFactory(account=customer, upstream_id=None)

    with pytest.raises(InvalidInput) as refused:
        quote(support_user, customer, "sandbox", "register", "acme-bakery.com",
              owner=local_only)

    assert "not at the registrar yet" in refused.value.field_errors["owner"][0]
    assert sandbox.transport.requests == [] and Order.objects.count() == 0


def test_a_registrant_gone_since_the_quote_cancels_the_order_unsent(
        support_user, customer, domainee, registrant):
    order = quoted(support_user, customer, DOMAINEE, "register", "janesbakery.com",
                   owner=registrant, ceiling=Money(2000, "USD"))
    registrant.delete()

    outcome = ordering.order_confirm(order=order, actor=support_user)

    assert outcome.status == StaffAction.Outcome.FAILED
    assert domainee.requests == []
    _assert_refused_unchanged(order, "registrant contact chosen at quote time is gone")


# --- permissions --------------------------------------------------------------------------


def test_only_staff_who_place_orders_reach_the_order_pages(
        client, support_user, finance_user, plain_staff_user, customer, namecom):
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
    with pytest.raises(PermissionDenied):
        quote(finance_user, customer, NAMECOM, "register", "acme-bakery.com")
    order = quoted(support_user, customer, NAMECOM, "register", "acme-bakery.com")
    namecom.requests.clear()
    with pytest.raises(PermissionDenied):
        ordering.order_confirm(order=order, actor=finance_user)
    assert namecom.requests == []


def test_an_order_of_another_account_is_a_404(client, support_user, customer, namecom):
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


def test_a_domain_api_order_whose_answers_were_lost_is_settled_by_its_key(
        support_user, customer, domain_api, settles):
    # The sandbox places the order, then every answer to it (the retries' replays too)
    # is lost behind a gateway's HTML 502.
    domain_api.fault(f"^{ORDERS}$", method="POST", status=502, body="<html>Bad gateway</html>",
                     content_type="text/html", after=True, times=3)
    order = quoted(support_user, customer, "sandbox", "register", "acme-bakery-shop.com",
                   owner=domain_api.owner)

    outcome = ordering.order_confirm(order=order, actor=support_user)

    # Settled at once by sending it again under the same key: the first order, once.
    sent = domain_api.transport.sent("POST", ORDERS)
    assert len(sent) == 4
    assert {r.headers["Idempotency-Key"] for r in sent} == {f"backoffice-order-{order.pk}"}
    assert len(domain_api.state()["orders"]) == 1
    assert outcome.status == StaffAction.Outcome.PENDING, outcome.message
    assert outcome.message == (
        "No usable answer came back when it was sent; asked again (in a way that cannot "
        f"place it twice), the registrar shows it: Order {order.pk} placed: registration of "
        "acme-bakery-shop.com, 12.99 USD charged. The registrar is working on it; this order "
        "follows it.")
    order.refresh_from_db()
    assert order.upstream_id == next(iter(domain_api.state()["orders"]))
    assert (order.status, order.unsettled_since) == (
        OrderStatus.REGISTRATION_IN_PROGRESS, None)
    assert [e.amount_minor for e in payments(order)] == [order.quoted_total_minor]
    assert settles == []


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

    stale = quoted(support_user, customer, NAMECOM, "register", "fresh.com")
    fresh = quoted(support_user, customer, NAMECOM, "register", "fresh.com")
    Order.objects.filter(pk=stale.pk).update(
        quote_expires_at=timezone.now() - timedelta(minutes=1))

    assert expire_quotes() == 1

    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert (stale.status, fresh.status) == (OrderStatus.CANCELLED, OrderStatus.QUOTED)
    assert stale.status_reason == "The quote expired before it was confirmed."


# --- what a completed order leaves: a registration Support can operate at once -----------


def _delivered(order: Order, label: str, customer: Account) -> Registration:
    """The registration the order delivered, linked both ways and living at `label`."""
    order.refresh_from_db()
    registration = Registration.objects.get(name=order.domain)
    assert order.registration == registration
    assert registration.provider_account == account(label)
    assert registration.served_by == account(label)
    assert registration.account == customer
    assert registration.status == RegistrationStatus.ACTIVE
    created = StaffAction.objects.get(action="registration.sync_created")
    assert (created.actor_label, created.target_id) == (f"order:{order.pk}",
                                                        str(registration.pk))
    return registration


def test_a_name_com_registration_leaves_the_registration_in_the_mirror(
        client, support_user, customer, namecom):
    domain = "acme-bakery.com"
    order = quoted(support_user, customer, NAMECOM, "register", domain, years=2)

    outcome = ordering.order_confirm(order=order, actor=support_user)

    registration = _delivered(order, NAMECOM, customer)
    # name.com keys its domains by name: no upstream id of ours.
    assert registration.upstream_id is None
    assert registration.ref == RegistrationRef(name=domain)
    # What Create Domain answered with.
    assert namecom.domains[domain]["expireDate"] == "2028-07-01T00:00:00Z"
    assert registration.expires_at == datetime(2028, 7, 1, tzinfo=UTC)
    assert (registration.locked, registration.auto_renew, registration.privacy_protect) == (
        True, False, False)
    assert registration.nameservers == ["ns1.name.com", "ns2.name.com"]
    assert registration.tld.name == "com"
    assert outcome.message == (f"Order {order.pk} placed at name.com: registration of {domain}, "
                               f"25.98 USD paid. {domain} is now in the mirror.")
    # Support finds it where registrations are, with its order's customer.
    client.force_login(support_user)
    page = client.get(reverse("admin:registrar_registration_change", args=[registration.pk]))
    assert page.status_code == 200 and domain in page_text(page)


def test_a_name_com_renewal_brings_the_registration_up_to_date(support_user, customer,
                                                               namecom):
    domain = "acme-bakery.com"
    namecom.own(domain, expire=datetime(2027, 3, 1, tzinfo=UTC))
    mirrored = RegistrationFactory(name=domain, upstream_id=None, account=customer,
                                   provider_account=account(NAMECOM),
                                   expires_at=datetime(2027, 3, 1, tzinfo=UTC))
    order = quoted(support_user, customer, NAMECOM, "renew", domain, years=2)

    ordering.order_confirm(order=order, actor=support_user)

    order.refresh_from_db()
    mirrored.refresh_from_db()
    assert order.registration == mirrored
    assert Registration.objects.count() == 1
    assert mirrored.expires_at == datetime(2029, 3, 1, tzinfo=UTC)


def test_a_name_com_transfer_delivers_no_registration_until_it_completes(
        support_user, customer, namecom):
    namecom.register_elsewhere("acme-bakery.com")
    order = quoted(support_user, customer, NAMECOM, "transfer", "acme-bakery.com")

    ordering.order_confirm(order=order, actor=support_user, auth_code=AUTH_CODE)

    order.refresh_from_db()
    assert order.status == OrderStatus.TRANSFER_STARTED
    assert order.registration is None and Registration.objects.count() == 0


def test_a_domainee_purchase_leaves_the_registration_in_the_mirror(
        support_user, customer, domainee, registrant):
    order = quoted(support_user, customer, DOMAINEE, "register", "janesbakery.com",
                   owner=registrant, ceiling=Money(2000, "USD"))

    outcome = ordering.order_confirm(order=order, actor=support_user)

    assert outcome.ok, outcome.message
    registration = _delivered(order, DOMAINEE, customer)
    # The purchase record's own values: expiry, privacy (on by default), auto-renew off.
    [purchase] = domainee.purchases
    assert purchase["expiresAt"] == "2027-05-17T15:42:11.000Z"
    assert registration.expires_at == datetime(2027, 5, 17, 15, 42, 11, tzinfo=UTC)
    assert registration.upstream_created_at == datetime(2026, 5, 17, 15, 42, 9, tzinfo=UTC)
    assert (registration.privacy_protect, registration.auto_renew) == (True, False)
    # Its TLD is sold through the sandbox; this registration lives at Domainee.
    assert registration.tld.provider_account == account("sandbox")
    assert registration.upstream_id is None
    assert "janesbakery.com is now in the mirror" in outcome.message


def test_a_refunded_domainee_purchase_delivers_no_registration(support_user, customer,
                                                               domainee, registrant):
    domainee.outcome("registration_failed", reason="Registrar refused", with_row=True)
    order = quoted(support_user, customer, DOMAINEE, "register", "janesbakery.com",
                   owner=registrant, ceiling=Money(2000, "USD"))

    ordering.order_confirm(order=order, actor=support_user)

    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert order.registration is None and Registration.objects.count() == 0


def test_a_completed_domain_api_order_can_be_operated_at_once(
        support_user, customer, domain_api, published, django_capture_on_commit_callbacks):
    from billing import tasks
    from registrar.services import registration_set_lock

    order = quoted(support_user, customer, "sandbox", "register", "acme-bakery-shop.com",
                   owner=domain_api.owner)
    with django_capture_on_commit_callbacks(execute=True):
        ordering.order_confirm(order=order, actor=support_user)
    runs = 0
    while published and runs < 10:  # the follow-ups, as the worker runs them
        args, kwargs, _ = published.pop(0)
        tasks.follow_domain_order.apply(args=args, kwargs=kwargs)
        runs += 1

    order.refresh_from_db()
    assert order.status == OrderStatus.REGISTERED
    upstream = domain_api.state()["orders"][order.upstream_id]
    guid = upstream["registration_id"]
    registration = _delivered(order, "sandbox", customer)
    assert registration.upstream_id == guid
    assert registration.ref == RegistrationRef(name="acme-bakery-shop.com", upstream_id=guid)
    assert registration.owner_contact == domain_api.owner
    assert registration.expires_at is not None
    sent_before = len(domain_api.transport.requests)

    # No sync in between: the registration the order left is operated as it is.
    outcome = registration_set_lock(registration=registration, locked=True,
                                    actor=support_user)

    assert outcome.ok, outcome.message
    [lock] = domain_api.transport.requests[sent_before:]
    assert (lock.method, lock.url.path) == (
        "PATCH", f"/api/domain_registrations/{guid}/lock")
    assert json.loads(lock.content) == {"locked": True}
    assert domain_api.registration(guid)["locked"] is True
    registration.refresh_from_db()
    assert registration.locked is True
