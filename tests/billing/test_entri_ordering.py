"""Entri Sell (document 000) in the quote -> confirm flow: registrations (POST /orders)
and transfers in (POST /domains/{domain}/transfers/in), from the customer's pages.

What leaves for Entri (paths, headers, bodies), what is left behind (orders, ledger,
audit rows) and what staff read: the WHOIS contact validated first
(POST /domains/contacts/validate) unless the application is in lightning mode, a refusal
naming the field with no order sent, the price checked again right before placing, one
local order per charge, a lost answer settled by reading (never by placing twice), and
the transfer's authorization code typed once and kept nowhere.

Only the HTTP boundary is fake: tests.fakes.entri.FakeEntri behind override_transport.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Iterator
from io import StringIO
from typing import Any

import httpx
import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from backoffice.models import StaffAction
from billing import ordering
from billing.models import Account, LedgerEntry, Order, OrderKind, OrderStatus
from registrar.models import ProviderAccount
from registrar.operations import InvalidInput
from tests.factories import AccountFactory, ContactFactory, ProviderAccountFactory
from tests.fakes.entri import PREFIX, FakeEntri, jwt, order_uuid
from tests.fakes.http import body_of, fail_with, respond

LABEL = "entri-sell"
APP_ID = "acme-sell-app"
SECRET = "entri-secret-ordering"
AUTH_CODE = "EPP-In-9q!Zr-secret"
DOMAIN = "janes-bakery.com"
AVAILABILITY = f"{PREFIX}/domains/availability"
VALIDATE = f"{PREFIX}/domains/contacts/validate"
ORDERS = f"{PREFIX}/orders"
USER_ID = "ca8d6947-6232-44f7-af37-6501edad00aa"
#: The registrant below as document 000's contactDetails.
WIRE_CONTACT = {
    "type": "PERSON", "fname": "Jane", "lname": "Smith", "email": "jane@bakery.example",
    "phone": "+1.5035550100", "address": ["123 Main St", "Suite 4"], "city": "Portland",
    "pcode": "97201", "country": "US", "state": "OR",
}


def fake_entri(monkeypatch, *, lightning_mode: bool) -> Iterator[FakeEntri]:
    monkeypatch.setenv("PROVIDER_SECRET_ENTRI_ORDERING", SECRET)
    ProviderAccountFactory(label=LABEL, kind="entri", base_url="https://api.goentri.com",
                           account_ref=APP_ID, secret_env="PROVIDER_SECRET_ENTRI_ORDERING",
                           options={"lightning_mode": lightning_mode})
    fake = FakeEntri(application_id=APP_ID, secret=SECRET, lightning_mode=lightning_mode,
                     now=timezone.now().strftime("%Y-%m-%dT%H:%M:%S.%f"))
    cache.clear()  # Entri's JWT is shared through the cache
    with fake.serving(LABEL):
        yield fake
    cache.clear()


@pytest.fixture
def entri(db, monkeypatch) -> Iterator[FakeEntri]:
    yield from fake_entri(monkeypatch, lightning_mode=False)


@pytest.fixture
def lightning(db, monkeypatch) -> Iterator[FakeEntri]:
    yield from fake_entri(monkeypatch, lightning_mode=True)


@pytest.fixture
def customer(db) -> Account:
    return AccountFactory(name="Jane's Bakery", email="billing@bakery.example",
                          customer_reference="ACC-BAKERY-1", entri_user_id=USER_ID)


@pytest.fixture
def registrant(customer):
    return ContactFactory(account=customer, handle="BAKERY-OWNER", first_name="Jane",
                          last_name="Smith", organization="", email="jane@bakery.example",
                          phone="+1.5035550100", street_address="123 Main St\nSuite 4",
                          city="Portland", state="OR", post_code="97201", country="US")


def account() -> ProviderAccount:
    return ProviderAccount.objects.get(label=LABEL)


def order_url(customer: Account) -> str:
    return reverse("admin:billing_account_domain_order", args=[customer.pk])


def confirm_url(customer: Account, order: Order) -> str:
    return reverse("admin:billing_account_domain_order_confirm", args=[customer.pk, order.pk])


def text(response) -> str:
    return html.unescape(response.content.decode())


def calls(fake: FakeEntri) -> list[tuple[str, str]]:
    return [(r.method, r.url.path) for r in fake.api_requests]


def quoted(actor, customer, action: str = "register", domain: str = DOMAIN,
           **kwargs: Any) -> Order:
    outcome = ordering.order_quote(ordering.OrderRequest(
        account=customer, provider_account=account(), action=action, domain=domain,
        **kwargs), actor=actor)
    assert outcome.ok, outcome.message
    return outcome.data["order"]


def payments(order: Order) -> list[int]:
    return [entry.amount_minor for entry in order.ledger_entries.filter(
        kind=LedgerEntry.Kind.PAYMENT)]


def database_dump() -> str:
    out = StringIO()
    call_command("dumpdata", stdout=out)
    return out.getvalue()


# --- a registration, lightning mode off: the contact validated, then sent -----------------


def test_a_registration_is_quoted_validated_and_placed_from_the_pages(
        client, support_user, customer, registrant, entri):
    client.force_login(support_user)

    response = client.post(order_url(customer), {
        "provider_account": account().pk, "action": "register", "domain": DOMAIN,
        "years": "1", "owner": registrant.pk})

    order = Order.objects.get()
    assert response.status_code == 302 and response["Location"] == confirm_url(customer,
                                                                               order)
    # Quoting orders nothing: the price, then Entri's check of the WHOIS contact.
    assert calls(entri) == [("GET", AVAILABILITY), ("POST", VALIDATE)]
    assert dict(entri.api_requests[0].url.params) == {"domain": DOMAIN}
    assert body_of(entri.api_requests[1]) == WIRE_CONTACT
    assert entri.orders == {}
    page = text(client.get(confirm_url(customer, order)))
    assert "12.99 USD" in page and "1 year" in page and "Entri validated the WHOIS contact" \
        in page and "renews at 14.99 USD a year" in page
    assert 'id="confirm-form"' in page

    placed = client.post(confirm_url(customer, order), {}, follow=True)

    # The price checked again right before placing, then one order.
    assert calls(entri)[2:] == [("GET", AVAILABILITY), ("POST", ORDERS)]
    sent = entri.sent("POST", ORDERS)[0]
    assert body_of(sent) == {"domain": DOMAIN, "email": "billing@bakery.example",
                             "userId": USER_ID, "contactDetails": WIRE_CONTACT}
    assert sent.headers["Authorization"] == f"Bearer {jwt(1)}"
    assert sent.headers["applicationId"] == APP_ID
    assert sent.headers["Content-Type"] == "application/json"
    # Lightning mode is the application's setting at Entri (document 000), not a header.
    assert "x-lightning-mode" not in sent.headers
    order.refresh_from_db()
    assert (order.status, order.upstream_id, order.total_minor, order.currency) == (
        OrderStatus.REGISTRATION_IN_PROGRESS, order_uuid(1), 1299, "USD")
    assert payments(order) == [1299]
    assert placed.redirect_chain[-1][0] == reverse("admin:billing_order_change",
                                                   args=[order.pk])
    message = (f"Order {order.pk} placed: registration of {DOMAIN}, 12.99 USD charged. The "
               "registrar is working on it; this order follows it.")
    assert message in text(placed)
    row = StaffAction.objects.get()
    assert (row.action, row.outcome, row.message) == (
        "order.place_domain", StaffAction.Outcome.PENDING, message)
    assert row.parameters["upstream_order_id"] == order_uuid(1)


def test_without_lightning_mode_the_registrant_is_asked_for_and_nothing_is_sent(
        client, support_user, customer, entri):
    client.force_login(support_user)

    response = client.post(order_url(customer), {
        "provider_account": account().pk, "action": "register", "domain": DOMAIN,
        "years": "1"})

    assert response.status_code == 200
    assert "Choose the registrant contact: Entri needs the WHOIS contact (this Entri " \
           "application is not in lightning mode)." in text(response)
    assert entri.api_requests == [] and not Order.objects.exists()
    assert not StaffAction.objects.exists()


def test_a_contact_entri_refuses_is_named_on_the_form_and_no_order_is_sent(
        client, support_user, customer, registrant, entri):
    entri.script("POST", VALIDATE, respond(400, {"message": "Invalid contact: phone must be "
                                                            "in +CC.NUMBER form"}))
    client.force_login(support_user)

    response = client.post(order_url(customer), {
        "provider_account": account().pk, "action": "register", "domain": DOMAIN,
        "years": "1", "owner": registrant.pk})

    assert response.status_code == 200
    assert ("Registrant phone: Entri refused it (Invalid contact: phone must be in "
            "+CC.NUMBER form). Nothing was ordered.") in text(response)
    assert calls(entri) == [("GET", AVAILABILITY), ("POST", VALIDATE)]
    assert entri.sent("POST", ORDERS) == [] and not Order.objects.exists()


def test_a_contact_missing_what_entri_needs_is_refused_before_anything_is_sent(
        support_user, customer, registrant, entri):
    registrant.street_address = ""
    registrant.save()

    with pytest.raises(InvalidInput) as refused:
        ordering.order_quote(ordering.OrderRequest(
            account=customer, provider_account=account(), action="register", domain=DOMAIN,
            owner=registrant), actor=support_user)

    assert refused.value.field_errors == {
        "owner": ["Registrant street address: Entri needs it for the WHOIS contact."]}
    assert entri.api_requests == [] and not Order.objects.exists()


def test_a_contact_changed_since_the_quote_is_validated_again_and_a_refusal_cancels(
        support_user, customer, registrant, entri):
    order = quoted(support_user, customer, owner=registrant)
    registrant.city = "Salem"
    registrant.save()
    entri.script("POST", VALIDATE, respond(422, {"message": "city does not match pcode"}))

    outcome = ordering.order_confirm(order=order, actor=support_user)

    assert outcome.status == StaffAction.Outcome.FAILED
    assert "Registrant city: Entri refused it (city does not match pcode)" in outcome.message
    assert len(entri.sent("POST", VALIDATE)) == 2
    assert entri.sent("POST", ORDERS) == []
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED and LedgerEntry.objects.count() == 0


def test_entri_orders_are_for_one_year(client, support_user, customer, registrant, entri):
    client.force_login(support_user)
    response = client.post(order_url(customer), {
        "provider_account": account().pk, "action": "register", "domain": DOMAIN,
        "years": "2", "owner": registrant.pk})
    assert response.status_code == 200
    assert "Entri Sell Enterprise registers for 1 year at a time" in text(response)
    assert entri.api_requests == [] and not Order.objects.exists()


def test_a_price_that_moved_is_refused_before_placing(support_user, customer, registrant,
                                                      entri):
    order = quoted(support_user, customer, owner=registrant)
    entri.price = 15.49

    outcome = ordering.order_confirm(order=order, actor=support_user)

    assert outcome.status == StaffAction.Outcome.FAILED
    assert f"{DOMAIN} now costs 15.49 USD, not the 12.99 USD quoted" in outcome.message
    assert entri.sent("POST", ORDERS) == [] and entri.orders == {}
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED and LedgerEntry.objects.count() == 0


def test_confirming_twice_places_one_order(client, support_user, customer, registrant, entri):
    order = quoted(support_user, customer, owner=registrant)
    client.force_login(support_user)
    client.post(confirm_url(customer, order), {})
    again = client.post(confirm_url(customer, order), {}, follow=True)
    assert (f"Order {order.pk} was already confirmed; it is registration in progress. "
            "Nothing was sent again.") in text(again)
    assert len(entri.sent("POST", ORDERS)) == 1 and len(entri.orders) == 1
    assert Order.objects.count() == 1


# --- lightning mode: Entri's own contact, none sent --------------------------------------


def test_in_lightning_mode_no_contact_is_asked_for_validated_or_sent(
        support_user, customer, lightning):
    order = quoted(support_user, customer)
    assert calls(lightning) == [("GET", AVAILABILITY)]

    outcome = ordering.order_confirm(order=order, actor=support_user)

    assert outcome.status == StaffAction.Outcome.PENDING
    assert body_of(lightning.sent("POST", ORDERS)[0]) == {
        "domain": DOMAIN, "email": "billing@bakery.example", "userId": USER_ID}
    assert lightning.sent("POST", VALIDATE) == []
    order.refresh_from_db()
    assert order.status == OrderStatus.REGISTRATION_IN_PROGRESS and payments(order) == [1299]


# --- a lost answer: settled by reading, never by placing again ---------------------------


@pytest.fixture
def settles(monkeypatch) -> list[tuple]:
    from billing import tasks

    queue: list[tuple] = []
    monkeypatch.setattr(tasks.settle_order, "apply_async",
                        lambda args=(), kwargs=None, countdown=None, **_: queue.append(
                            (tuple(args), countdown)))
    return queue


def test_an_order_whose_answer_was_lost_is_found_in_the_order_list(
        support_user, customer, registrant, entri, settles):
    def placed_then_lost(request: httpx.Request) -> httpx.Response:
        entri.serve(request)  # Entri takes the order ...
        raise httpx.ReadTimeout("answer lost", request=request)  # ... the answer is lost

    entri.script("POST", ORDERS, placed_then_lost)
    order = quoted(support_user, customer, owner=registrant)

    outcome = ordering.order_confirm(order=order, actor=support_user)

    assert len(entri.sent("POST", ORDERS)) == 1 and len(entri.orders) == 1
    listing = entri.sent("GET", ORDERS)[0]
    assert listing.url.params["domain"] == DOMAIN
    assert "from_date" not in listing.url.params  # checked against the items' createdAt
    assert outcome.status == StaffAction.Outcome.PENDING
    assert outcome.message.startswith(
        "No usable answer came back when it was sent; asked again (in a way that cannot "
        f"place it twice), the registrar shows it: Order {order.pk} placed: registration of "
        f"{DOMAIN}, 12.99 USD charged.")
    order.refresh_from_db()
    assert (order.status, order.upstream_id, order.unsettled_since) == (
        OrderStatus.REGISTRATION_IN_PROGRESS, order_uuid(1), None)
    assert payments(order) == [1299]
    assert StaffAction.objects.get().outcome == StaffAction.Outcome.PENDING
    assert settles == []


def test_an_order_entri_never_got_stays_unknown_and_is_asked_about_again(
        support_user, customer, registrant, entri, settles, django_capture_on_commit_callbacks):
    entri.script("POST", ORDERS, fail_with(httpx.ReadTimeout))
    order = quoted(support_user, customer, owner=registrant)

    with django_capture_on_commit_callbacks(execute=True):
        outcome = ordering.order_confirm(order=order, actor=support_user)

    assert outcome.status == StaffAction.Outcome.UNKNOWN
    assert outcome.message == (
        "No usable answer came back from the registrar (it did not answer in time), after "
        "the request was sent: it may have applied the change. This order stays open "
        "(“payment initiated”) and the back-office keeps asking Entri Sell Enterprise what "
        "became of it (it shows no order yet). Do not order it again meanwhile.")
    assert len(entri.sent("POST", ORDERS)) == 1  # never sent twice
    order.refresh_from_db()
    assert order.status == OrderStatus.PAYMENT_INITIATED and order.unsettled_since is not None
    assert LedgerEntry.objects.count() == 0
    assert settles == [((order.pk,), 60.0)]
    row = StaffAction.objects.get()
    assert (row.outcome, row.upstream_code) == (StaffAction.Outcome.UNKNOWN, "timeout")


def test_an_older_order_of_the_same_domain_is_not_taken_for_the_lost_one(
        support_user, customer, registrant, entri, settles):
    old = entri.add_order(order_uuid(99), "payment_failed", DOMAIN)
    for item in old["items"]:
        item["createdAt"] = "2025-01-01T00:00:00.000000"  # long before this placement
    entri.script("POST", ORDERS, fail_with(httpx.ReadTimeout))
    order = quoted(support_user, customer, owner=registrant)

    outcome = ordering.order_confirm(order=order, actor=support_user)

    assert outcome.status == StaffAction.Outcome.UNKNOWN
    assert "(it shows no order yet)" in outcome.message
    order.refresh_from_db()
    assert order.upstream_id in (None, "") and order.status == OrderStatus.PAYMENT_INITIATED
    assert not Order.objects.filter(upstream_id=order_uuid(99)).exists()


# --- a transfer in: the auth code typed once -----------------------------------------------


def test_a_transfer_sends_the_code_once_and_keeps_it_nowhere(
        client, support_user, customer, registrant, entri, caplog):
    caplog.set_level(logging.DEBUG)
    entri.set_availability(DOMAIN, "UNAVAILABLE")
    order = quoted(support_user, customer, action="transfer", owner=registrant)
    assert order.kind == OrderKind.TRANSFER_IN and order.quoted_total_minor is None
    client.force_login(support_user)
    page = text(client.get(confirm_url(customer, order)))
    assert 'type="password"' in page and "Entri quotes no transfer price" in page

    missing = client.post(confirm_url(customer, order), {"auth_code": ""})
    assert "authorization (EPP) code" in text(missing)
    assert entri.sent("POST", f"{PREFIX}/domains/{DOMAIN}/transfers/in") == []

    placed = client.post(confirm_url(customer, order), {"auth_code": AUTH_CODE}, follow=True)

    (sent,) = entri.sent("POST", f"{PREFIX}/domains/{DOMAIN}/transfers/in")
    assert body_of(sent) == {"domain": DOMAIN, "authorizationCode": AUTH_CODE,
                             "contactDetails": WIRE_CONTACT}
    order.refresh_from_db()
    assert order.status == OrderStatus.TRANSFER_STARTED
    assert order.upstream_id in (None, "")
    assert [item.upstream_id for item in order.items.all()] == ["trf-0001"]
    assert LedgerEntry.objects.count() == 0  # Entri stated no amount for it
    assert (f"Order {order.pk} placed at Entri Sell Enterprise: transfer in of {DOMAIN}, "
            "the upstream stated no amount.") in text(placed)
    assert AUTH_CODE not in placed.content.decode()
    for row in StaffAction.objects.all():
        assert AUTH_CODE not in json.dumps(row.parameters) and AUTH_CODE not in row.message
    assert AUTH_CODE not in database_dump()
    assert AUTH_CODE not in caplog.text


def test_a_domain_not_registered_anywhere_cannot_be_transferred(
        support_user, customer, registrant, entri):
    with pytest.raises(Exception) as refused:
        quoted(support_user, customer, action="transfer", owner=registrant)
    assert "is not registered anywhere, so it cannot be transferred in" in str(
        getattr(refused.value, "message", refused.value))
    assert not Order.objects.exists()
