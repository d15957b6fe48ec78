"""A new upstream touches its own package and one registry line: the toy upstream in
tests/architecture/toy.py is registered with that one line (`ADAPTERS["toy"] = ...`) and
the core then offers its operations, syncs its registrations and orders through it,
with no other change anywhere."""

from __future__ import annotations

import json
import re

import pytest
from django.core.management import call_command
from django.urls import reverse

from backoffice.models import StaffAction
from billing import ordering
from billing.models import LedgerEntry, Order, OrderStatus
from registrar.models import ProviderAccount, Registration
from registrar.providers import registry
from registrar.services import registration_set_lock
from tests.architecture.toy import ADAPTER, FakeToy
from tests.factories import AccountFactory

LABEL = "toy-main"


@pytest.fixture
def toy(db, monkeypatch):
    monkeypatch.setitem(registry.ADAPTERS, "toy", ADAPTER)  # the one registry line
    monkeypatch.setenv("PROVIDER_SECRET_TOY", "toy-secret")
    account = ProviderAccount(label=LABEL, kind="toy", base_url="https://api.toy.test",
                              secret_env="PROVIDER_SECRET_TOY")
    account.full_clean()  # "toy" is a valid kind now: the choices come from the registry
    account.save()
    fake = FakeToy()
    for name in ("alpha.toy", "beta.toy", "gamma.toy"):
        fake.add(name)
    with fake.serving(LABEL):
        yield account, fake


def test_its_registrations_are_synced_and_a_second_sync_writes_nothing(toy):
    account, fake = toy
    call_command("sync_registrations", "--provider", LABEL, verbosity=0)
    mirrored = Registration.objects.filter(provider_account=account)
    assert sorted(mirrored.values_list("name", flat=True)) == ["alpha.toy", "beta.toy",
                                                              "gamma.toy"]
    assert [r.url.params["page"] for r in fake.sent("GET", "/v1/domains")] == ["1", "2"]
    assert all(r.headers["Authorization"] == "Token toy-secret" for r in fake.requests)
    rows = StaffAction.objects.count()
    call_command("sync_registrations", "--provider", LABEL, verbosity=0)
    assert StaffAction.objects.count() == rows


def test_it_is_offered_what_it_can_do_and_operated(toy, client, support_user):
    _, fake = toy
    call_command("sync_registrations", "--provider", LABEL, verbosity=0)
    registration = Registration.objects.get(name="beta.toy")
    client.force_login(support_user)
    html = client.get(reverse("admin:registrar_registration_change",
                              args=[registration.pk])).content.decode()
    offered = set(re.findall(r'data-operation="([a-z_]+)"', html))
    assert "lock" in offered
    assert not {"privacy", "dnssec", "auth_code", "nameservers", "dns_records"} & offered
    outcome = registration_set_lock(registration=registration, locked=True, actor=support_user)
    assert outcome.status == "succeeded", outcome.message
    (put,) = fake.sent("PUT", "/v1/domains/beta.toy/lock")
    assert json.loads(put.content) == {"locked": True}
    registration.refresh_from_db()
    assert registration.locked is True and fake.domains["beta.toy"]["locked"] is True


def test_a_domain_is_ordered_through_it_and_becomes_a_registration(toy, support_user):
    account, fake = toy
    fake.prices["new.toy"] = 1200
    customer = AccountFactory(customer_reference="ACC-TOY-1")
    quoted = ordering.order_quote(ordering.OrderRequest(
        account=customer, provider_account=account, action=ordering.Action.REGISTER,
        domain="new.toy", years=2), actor=support_user)
    assert quoted.ok, quoted.message
    order = quoted.data["order"]
    assert (order.status, order.quoted_total_minor, order.currency) == (
        OrderStatus.QUOTED, 2400, "EUR")
    placed = ordering.order_confirm(order=order, actor=support_user)
    assert placed.ok, placed.message
    order.refresh_from_db()
    (post,) = fake.sent("POST", "/v1/orders")
    assert post.headers["Idempotency-Key"] == f"backoffice-order-{order.pk}"
    assert (order.status, order.upstream_id, order.total_minor) == (
        OrderStatus.REGISTERED, "toy-1", 2400)
    assert order.ledger_entries.get().kind == LedgerEntry.Kind.PAYMENT
    registration = order.registration
    assert (registration.name, registration.provider_account, registration.account) == (
        "new.toy", account, customer)
    # A replayed confirm sends nothing again.
    again = ordering.order_confirm(order=Order.objects.get(pk=order.pk), actor=support_user)
    assert again.data.get("replayed") and len(fake.sent("POST", "/v1/orders")) == 1
