"""Registrations read from a registrar find their customer; staff attach the rest."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from backoffice.models import StaffAction
from registrar.customers import attach_unowned, registration_set_customer
from registrar.models import Registration
from registrar.operations import InvalidInput
from registrar.sandbox import get_app
from registrar.sync import sync_provider
from tests.factories import AccountFactory, OrderFactory, ProviderAccountFactory
from tests.registrar.test_sync import upstream


def test_the_sync_attaches_by_order_then_by_the_holders_email(sandbox):
    account = ProviderAccountFactory(label="sandbox")
    seed = upstream(4)
    get_app().state.seed(seed)
    ordered = AccountFactory(email="someone@example.com")
    OrderFactory(account=ordered, domain="sync00000.com")
    by_email = AccountFactory(email="SAM1@example.com")  # holder of sync00001.com
    AccountFactory(email="sam2@example.com")  # two customers share this address:
    AccountFactory(email="Sam2@Example.com")  # no guess is made
    sync_provider(account)
    owners = dict(Registration.objects.values_list("name", "account_id"))
    assert owners["sync00000.com"] == ordered.pk
    assert owners["sync00001.com"] == by_email.pk
    assert owners["sync00002.com"] is None and owners["sync00003.com"] is None
    rows = StaffAction.objects.filter(action="registration.customer_attached")
    assert sorted(rows.values_list("target_repr", flat=True)) == [
        "sync00000.com", "sync00001.com"]
    assert attach_unowned(Registration.objects.all()) == 0  # nothing new to attach


def test_staff_attach_by_hand_audited_and_a_no_op_is_refused(sandbox, support_user,
                                                             plain_staff_user):
    get_app().state.seed(upstream(1))
    sync_provider(ProviderAccountFactory(label="sandbox"))
    registration = Registration.objects.get()
    customer = AccountFactory(name="Ada Ltd")
    with pytest.raises(PermissionDenied):
        registration_set_customer(registration=registration, account=customer,
                                  actor=plain_staff_user)
    outcome = registration_set_customer(registration=registration, account=customer,
                                        actor=support_user)
    assert outcome.status == "succeeded"
    registration.refresh_from_db()
    assert registration.account == customer
    row = StaffAction.objects.get(action="registration.customer_set")
    assert row.parameters["changes"]["account"] == {"old": None, "new": str(customer)}
    with pytest.raises(InvalidInput):
        registration_set_customer(registration=registration, account=customer,
                                  actor=support_user)
