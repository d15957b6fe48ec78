"""A contact never crosses customers: a registration's holder and role contacts are its
own customer's, and a registration with no customer takes only contacts with no
customer. The service refuses, the admin does not offer and refuses a hand-made POST,
the command refuses; nothing leaves for the registrar and nothing is stored."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from django.forms.models import model_to_dict
from django.urls import reverse

from backoffice.models import StaffAction
from backoffice.roles import SUPPORT
from billing.models import Order
from registrar import services
from registrar.models import Registration
from registrar.operations import InvalidInput
from tests.factories import (
    AccountFactory,
    ContactFactory,
    RegistrationFactory,
    TldFactory,
    UserFactory,
)


@pytest.fixture
def agent(db):
    return UserFactory(username="agent", groups=[SUPPORT])


@pytest.fixture
def world(sandbox):
    """Customer A's registration (and a metered one for the paid registrant change), a
    registration with no customer, and one contact of each kind: A's, B's, no one's."""
    com = TldFactory(name="com")
    net = TldFactory(name="net", registrant_change_fee_amount=1200,
                     registrant_change_fee_currency="USD")
    customer_a, customer_b = AccountFactory(name="Customer A"), AccountFactory(name="Customer B")
    registration = RegistrationFactory(name="customer-a.com", tld=com, account=customer_a,
                                       owner_contact=ContactFactory(account=customer_a,
                                                                    handle="A-OWNER"))
    metered = RegistrationFactory(name="customer-a.net", tld=net, account=customer_a,
                                  owner_contact=registration.owner_contact)
    nobodys_owner = ContactFactory(account=None, handle="NOBODY-OWNER")
    nobodys = RegistrationFactory(name="nobodys.com", tld=com, account=None,
                                  owner_contact=nobodys_owner)
    world = type("World", (), {
        "sandbox": sandbox, "registration": registration, "metered": metered,
        "nobodys": nobodys,
        "of_a": ContactFactory(account=customer_a, handle="A-SPARE"),
        "of_b": ContactFactory(account=customer_b, handle="B-SPARE"),
        "of_none": ContactFactory(account=None, handle="NONE-SPARE"),
    })
    sandbox.seed()
    sandbox.transport.requests.clear()
    return world


def stored(*registrations: Registration) -> list[dict]:
    """Every field of the registrations, the audit trail and the orders: to prove
    nothing was stored."""
    rows = []
    for registration in registrations:
        registration.refresh_from_db()
        rows.append(model_to_dict(registration))
    return [*rows, StaffAction.objects.count(), Order.objects.count()]


def refusals(world, registration: Registration, contact, actor):
    """Each service that takes an existing contact, with `contact` in it, and the field
    its refusal must name."""
    yield "source_contact", lambda: services.registration_update_holder(
        registration=registration, action_mode="change", source_contact=contact, actor=actor)
    for role in ("admin", "tech", "billing"):
        yield f"{role}_contact", lambda role=role: services.registration_set_role_contacts(
            registration=registration, roles={role: {"source": "existing", "contact": contact}},
            actor=actor)
    if registration.account_id == world.metered.account_id:
        yield "source_contact", lambda: services.registration_order_registrant_change(
            registration=world.metered, source_contact=contact, actor=actor)


def assert_refused_by_services(world, registration, contact, actor, phrase: str) -> None:
    before = stored(registration, world.metered)
    for field, run in refusals(world, registration, contact, actor):
        with pytest.raises(InvalidInput) as refused:
            run()
        assert phrase in refused.value.message
        assert refused.value.message.endswith(".")
        assert refused.value.field_errors == {field: [refused.value.message]}
    assert world.sandbox.transport.requests == []
    assert stored(registration, world.metered) == before


def operation_url(registration: Registration, operation: str) -> str:
    return reverse("admin:registrar_registration_operation", args=[registration.pk, operation])


def choices_on(client, registration: Registration, operation: str, field: str) -> set[str]:
    """The contact ids a person is offered in `field` of the operation's form."""
    response = client.get(operation_url(registration, operation))
    assert response.status_code == 200
    queryset = response.context["form"].fields[field].queryset
    return {str(pk) for pk in queryset.values_list("pk", flat=True)}


def admin_posts(registration: Registration, contact) -> list[tuple[str, dict, str]]:
    """A hand-made POST for each operation page that takes an existing contact."""
    return [
        ("holder", {"action_mode": "change", "source_contact": contact.pk}, "source_contact"),
        ("role_contacts", {"admin_source": "existing", "admin_contact": contact.pk},
         "admin_contact"),
    ]


def assert_refused_by_admin(client, world, registration, contact) -> None:
    before = stored(registration, world.metered)
    for operation, data, field in admin_posts(registration, contact):
        assert str(contact.pk) not in choices_on(client, registration, operation, field)
        response = client.post(operation_url(registration, operation), data)
        assert response.status_code == 200, operation  # the form again, with the error
        assert response.context["form"].errors[field], operation
    assert world.sandbox.transport.requests == []
    assert stored(registration, world.metered) == before


def assert_refused_by_command(capsys, world, registration, contact, phrase: str) -> None:
    before = stored(registration, world.metered)
    for args in (
        ("holder", registration.name, "--mode", "change", "--source-contact", str(contact.pk)),
        ("contacts", registration.name, "--tech", f"existing:{contact.pk}"),
    ):
        with pytest.raises(CommandError):
            call_command("registration", *args, "--as", "agent")
        out = capsys.readouterr().out
        assert f"contact #{contact.pk}" in out and phrase in out, out
    assert world.sandbox.transport.requests == []
    assert stored(registration, world.metered) == before


# --- the reproduction: a contact with no customer on a customer's registration ---------


def test_a_customerless_contact_is_refused_on_a_customers_registration(world, agent, client,
                                                                       capsys):
    phrase = "has no customer account, and customer-a."  # .com, or .net for the paid change
    assert_refused_by_services(world, world.registration, world.of_none, agent, phrase)
    client.force_login(agent)
    assert_refused_by_admin(client, world, world.registration, world.of_none)
    assert_refused_by_command(capsys, world, world.registration, world.of_none, phrase)


def test_another_customers_contact_is_refused(world, agent, client, capsys):
    phrase = "belongs to another customer account"
    assert_refused_by_services(world, world.registration, world.of_b, agent, phrase)
    client.force_login(agent)
    assert_refused_by_admin(client, world, world.registration, world.of_b)
    assert_refused_by_command(capsys, world, world.registration, world.of_b, phrase)


def test_the_customers_own_contact_is_accepted(world, agent, client):
    client.force_login(agent)
    offered = choices_on(client, world.registration, "holder", "source_contact")
    assert offered == {str(world.registration.owner_contact_id), str(world.of_a.pk)}
    assert offered == choices_on(client, world.registration, "role_contacts", "tech_contact")

    outcome = services.registration_update_holder(
        registration=world.registration, action_mode="change", source_contact=world.of_a,
        actor=agent)
    assert outcome.ok, outcome.message
    (sent,) = world.sandbox.transport.mutations
    assert json.loads(sent.content)["source_domain_contact_id"] == world.of_a.upstream_id
    world.registration.refresh_from_db()
    assert world.registration.owner_contact == world.of_a


def test_a_registration_with_no_customer_takes_only_customerless_contacts(world, agent, client,
                                                                          capsys):
    client.force_login(agent)
    offered = choices_on(client, world.nobodys, "holder", "source_contact")
    # Not every contact, as it once was: only those with no customer.
    assert offered == {str(world.nobodys.owner_contact_id), str(world.of_none.pk)}

    phrase = "belongs to a customer account, and nobodys.com has none"
    for contact in (world.of_a, world.of_b):
        assert_refused_by_services(world, world.nobodys, contact, agent, phrase)
        assert_refused_by_admin(client, world, world.nobodys, contact)
        assert_refused_by_command(capsys, world, world.nobodys, contact, phrase)

    outcome = services.registration_set_role_contacts(
        registration=world.nobodys, roles={"tech": {"source": "existing",
                                                    "contact": world.of_none}}, actor=agent)
    assert outcome.ok, outcome.message
    (sent,) = world.sandbox.transport.mutations
    assert json.loads(sent.content)["tech_source_domain_contact_id"] == world.of_none.upstream_id
    world.nobodys.refresh_from_db()
    assert world.nobodys.tech_contact == world.of_none
