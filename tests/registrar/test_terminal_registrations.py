"""A registration whose transfer-out completed is no longer ours: it offers nothing but
re-sync, and the services refuse the rest before anything is sent."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from registrar import services
from registrar.models import RegistrationStatus
from registrar.operations import OperationRefused
from tests.factories import (
    ContactFactory,
    HostAddressFactory,
    HostFactory,
    RegistrationFactory,
    TldFactory,
)
from tests.faults.test_registration_faults import CASES, World


@pytest.fixture
def world(sandbox):
    tld = TldFactory(name="com", supports_push_transfer=True,
                     requires_contact_validation=True)
    registration = RegistrationFactory(name="example.com", tld=tld, transfer_out_pending=True)
    host = HostFactory(registration=registration, host_name="ns1.example.com")
    HostAddressFactory(host=host, address="192.0.2.1", version=4)
    other = ContactFactory(account=registration.account, handle="OTHER-1")
    sandbox.seed()
    registration.status = RegistrationStatus.TRANSFERRED_OUT
    registration.save()
    sandbox.transport.requests.clear()
    return World(registration, host, other, sandbox, None)


REFUSED = {name: case for name, case in CASES.items()
           if name not in {"force_sync", "contact_update"}}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_every_operation_but_re_sync_is_refused_unsent(world, support_user, name):
    with pytest.raises(OperationRefused, match="transferred out: it is no longer ours to "
                                               "change, only to re-sync"):
        REFUSED[name].run(world, support_user)
    assert world.sandbox.transport.mutations == []


def test_auth_code_is_refused_too(world, support_user):
    with pytest.raises(OperationRefused, match="no longer ours"):
        services.registration_reveal_auth_code(registration=world.registration,
                                               actor=support_user)
    assert world.sandbox.transport.requests == []


def test_the_page_offers_only_re_sync(world, client, support_user):
    client.force_login(support_user)
    page = client.get(reverse("admin:registrar_registration_change",
                              args=[world.registration.pk])).content.decode()
    offered = re.findall(r'<a class="button" href="[^"]*" data-operation="([a-z_]+)"', page)
    assert offered == ["force_sync"]
    assert "no longer ours to change, only to re-sync" in page


def test_re_sync_still_works(world, support_user):
    outcome = services.registration_force_sync(registration=world.registration,
                                               actor=support_user)
    assert outcome.status in {"succeeded", "pending"}
    assert world.sandbox.transport.sent("POST", "/force_sync")
