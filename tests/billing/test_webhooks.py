"""Upstream events pushed to /webhooks/: authenticated, applied once, never a 500."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from backoffice.models import StaffAction
from billing.models import LedgerEntry, Order, OrderStatus, WebhookEvent
from tests.factories import AccountFactory, OrderFactory, ProviderAccountFactory

SECRET = "whsec-test-0123456789"
PURCHASE = {
    "id": "f8a0c1b9-1234-4d5e-8f90-aaaaaaaaaaaa", "workspaceId": "ws_1",
    "hostname": "janesbakery.com", "years": 1, "wholesaleCents": 1418, "feeCents": 100,
    "totalCents": 1518, "currency": "USD", "registrar": "namecheap",
    "registrarDomainId": "182739", "status": "completed",
    "registrant": {"firstName": "Jane", "lastName": "Smith", "email": "jane@bakery.example",
                   "country": "US"},
    "whoisPrivacyEnabled": True, "autoRenew": False, "expiresAt": "2027-05-17T15:42:11.000Z",
    "customerReference": "ACC-WEB-1", "createdAt": "2026-05-17T15:42:09.000Z",
    "updatedAt": "2026-05-17T15:42:11.000Z",
}


@pytest.fixture
def domainee(db, monkeypatch):
    monkeypatch.setenv("PROVIDER_SECRET_DOMAINEE_MAIN_WEBHOOK", SECRET)
    AccountFactory(customer_reference="ACC-WEB-1")
    return ProviderAccountFactory(label="domainee-main", kind="domainee",
                                  base_url="https://api.domainee.test")


def post(client, payload, *, secret=SECRET, kind="domainee", label="domainee-main"):
    body = payload if isinstance(payload, str | bytes) else json.dumps(payload)
    return client.post(reverse("webhook", args=[kind, label]), data=body,
                       content_type="application/json", HTTP_X_WEBHOOK_SECRET=secret)


def event(event_id="evt_1", event_type="domain_purchase.completed", **purchase):
    return {"id": event_id, "type": event_type, "data": {"purchase": {**PURCHASE, **purchase}}}


def test_a_completed_purchase_is_mirrored_once(client, domainee):
    response = post(client, event())
    assert response.status_code == 200 and response.json() == {"status": "applied"}
    order = Order.objects.get(upstream_id=PURCHASE["id"])
    assert (order.status, order.total_minor, order.fees_minor, order.subtotal_minor) == (
        OrderStatus.REGISTERED, 1518, 100, 1418)
    assert order.account.customer_reference == "ACC-WEB-1"
    assert order.ledger_entries.get().kind == LedgerEntry.Kind.PAYMENT
    # The domain it bought is a registration at once, for the same customer.
    registration = order.registration
    assert (registration.name, registration.provider_account, registration.account) == (
        PURCHASE["hostname"], domainee, order.account)
    assert sorted(StaffAction.objects.values_list("action", flat=True)) == [
        "order.webhook", "registration.sync_created"]
    # A redelivery changes nothing.
    again = post(client, event())
    assert again.json() == {"status": "duplicate"}
    assert (Order.objects.count(), LedgerEntry.objects.count(), WebhookEvent.objects.count(),
            StaffAction.objects.count()) == (1, 1, 1, 2)


def test_a_refused_registration_ends_refunded_with_the_reason(client, domainee):
    response = post(client, event("evt_2", "domain_purchase.failed", status="refunded")
                    | {"data": {"purchase": {**PURCHASE, "status": "refunded"},
                                "reason": "Registry rejected the contact"}})
    assert response.json() == {"status": "applied"}
    order = Order.objects.get(upstream_id=PURCHASE["id"])
    assert order.status == OrderStatus.REFUNDED and order.refunded_minor == order.total_minor
    assert "Registry rejected" in order.status_reason
    kinds = sorted(order.ledger_entries.values_list("kind", flat=True))
    assert kinds == ["payment", "refund"]


def test_unknown_events_are_stored_and_ignored(client, domainee):
    response = post(client, {"id": "evt_9", "type": "domain.renewed", "data": {"x": 1}})
    assert response.json() == {"status": "ignored"}
    stored = WebhookEvent.objects.get()
    assert stored.outcome == "ignored" and stored.order is None
    assert not Order.objects.exists()


@pytest.mark.parametrize("payload", [
    "not json", "[1, 2]", json.dumps({"type": "domain_purchase.completed", "data": {}}),
    json.dumps({"id": "e", "type": "domain_purchase.completed", "data": "nope"}),
    json.dumps({"id": "e", "type": "domain_purchase.completed", "data": {}}),
    json.dumps({"id": "e", "type": "domain_purchase.completed",
                "data": {"purchase": {"id": "p", "status": "weird"}}}),
    json.dumps({"id": ["e"], "type": "x", "data": {}}),
])
def test_bad_payloads_get_400_and_change_nothing(client, domainee, payload):
    response = post(client, payload)
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists() and not Order.objects.exists()
    assert not StaffAction.objects.exists()


def test_a_wrong_or_missing_secret_is_refused(client, domainee, monkeypatch):
    assert post(client, event(), secret="guess").status_code == 401
    assert post(client, event(), secret="").status_code == 401
    monkeypatch.delenv("PROVIDER_SECRET_DOMAINEE_MAIN_WEBHOOK")
    assert post(client, event()).status_code == 503
    assert post(client, event(), label="nope").status_code == 404
    assert not WebhookEvent.objects.exists()


def test_only_post_is_accepted(client, domainee):
    assert client.get(reverse("webhook", args=["domainee", "domainee-main"])).status_code == 405


def test_entri_order_status_follows(client, db, monkeypatch):
    monkeypatch.setenv("PROVIDER_SECRET_ENTRI_MAIN_WEBHOOK", SECRET)
    entri = ProviderAccountFactory(label="entri-main", kind="entri",
                                   base_url="https://api.entri.test")
    order = OrderFactory(provider_account=entri, upstream_id="21b363fb-c8c0-427e",
                         status=OrderStatus.REGISTRATION_IN_PROGRESS)
    response = post(client, {"id": "e-1", "type": "order.status_changed",
                             "data": {"orderId": order.upstream_id, "status": "registered"}},
                    kind="entri", label="entri-main")
    assert response.json() == {"status": "applied"}
    order.refresh_from_db()
    assert order.status == OrderStatus.REGISTERED
    bad = post(client, {"id": "e-2", "type": "order.status_changed",
                        "data": {"orderId": order.upstream_id, "status": "bogus"}},
               kind="entri", label="entri-main")
    assert bad.status_code == 400
