"""The adapter against the sandbox, reached as the back-office reaches it: the sandbox
account's provider from the registry, over the sandbox's WSGI transport (recorded by the
`sandbox` fixture). For each mutation, a 200 that is applied, a 202 whose process later
completes, and 409 while it is in flight; then orders, placed and followed to their end."""

import pytest

from registrar.providers.base import (
    DnssecKeyData,
    DomainPlacement,
    DomainQuoteRequest,
    Done,
    OrderAction,
    OrderState,
    OrderType,
    Pending,
    RoleContactSource,
)
from registrar.providers.domain_api.sandbox import SandboxProvider
from registrar.providers.errors import PriceMoved, RegistrationBusy
from registrar.providers.registry import provider_for_account
from tests.factories import ContactFactory, RegistrationFactory, TldFactory

KEY = DnssecKeyData(257, 13, "mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+"
                             "KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==")

# operation -> (call, what the registration looks like once applied)
MUTATIONS = {
    "lock": (lambda api, g: api.set_lock(g, True), lambda r: r.fields["locked"] is True),
    "privacy": (lambda api, g: api.set_privacy(g, True),
                lambda r: r.fields["privacy_protect"] is True),
    "dnssec": (lambda api, g: api.set_dnssec(g, "enable", [KEY]),
               lambda r: r.fields["dnssec_enabled"] is True),
    "auto_renew": (lambda api, g: api.set_auto_renew(g, False),
                   lambda r: r.fields["auto_renew"] is False),
    "nameservers": (lambda api, g: api.set_nameservers(g, ["ns1.new.example", "ns2.new.example"]),
                    lambda r: r.fields["nameservers"] == ["ns1.new.example", "ns2.new.example"]),
    "holder": (lambda api, g: api.update_holder(g, action_mode="edit_current",
                                                holder={"city": "Utrecht"}),
               lambda r: r.contacts["owner"].fields["city"] == "Utrecht"),
    "role_contacts": (lambda api, g: api.set_role_contacts(
        g, {"tech": RoleContactSource("same_as_owner")}),
        lambda r: r.contacts["tech"].upstream_id == r.contacts["owner"].upstream_id),
    "transfer_out": (lambda api, g: api.decide_transfer_out(g, "reject"),
                     lambda r: r.fields["transfer_out_pending"] is False),
    "push_transfer": (lambda api, g: api.push_transfer(g, "REG-IDS"), lambda r: True),
}


@pytest.fixture
def registration(sandbox):
    tld = TldFactory(name="com", supports_push_transfer=True,
                     registrant_change_fee_amount=1099, registrant_change_fee_currency="USD")
    registration = RegistrationFactory(name="adapter.com", tld=tld, transfer_out_pending=True,
                                       auto_renew=True)
    sandbox.seed()
    return registration


@pytest.fixture
def api(registration):
    provider = provider_for_account(registration.tld.provider_account)
    assert type(provider) is SandboxProvider
    return provider


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_200_is_applied_upstream(api, registration, sandbox, name):
    call, applied = MUTATIONS[name]
    ref = registration.ref

    result = call(api, ref)

    assert isinstance(result, Done)
    (mutation,) = sandbox.transport.mutations
    assert mutation.url.path.startswith(f"/api/domain_registrations/{ref.upstream_id}")
    assert applied(api.get_registration(ref).registration)


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_202_completes_after_polling_and_409_while_in_flight(api, registration, sandbox, name):
    call, applied = MUTATIONS[name]
    ref = registration.ref
    sandbox.next_async(ref.upstream_id, polls=2, outcome="COMPLETED")

    result = call(api, ref)

    assert isinstance(result, Pending)
    view = api.get_registration(ref).registration
    assert view.fields["pending_async"] is True
    with pytest.raises(RegistrationBusy):
        api.set_lock(ref, False)
    statuses = [api.get_process(ref, result.process.id).process.status for _ in range(2)]
    assert statuses[-1] == "COMPLETED"
    after = api.get_registration(ref).registration
    assert after.fields["pending_async"] is False
    assert applied(after)
    assert api.list_processes(ref)[0].id == result.process.id


def test_iter_registrations_by_name_finds_only_that_registration(api, registration, sandbox):
    RegistrationFactory(name="myadapter.com", tld=registration.tld)
    RegistrationFactory(name="adapter.com.example", tld=TldFactory(name="example"))
    sandbox.seed()

    records = list(api.iter_registrations(name="adapter.com"))

    assert [(r.name, r.upstream_id) for r in records] == [("adapter.com",
                                                           registration.upstream_id)]
    (request,) = sandbox.transport.sent("GET", "/api/domain_registrations")
    assert request.url.params["q"] == "adapter.com"


# --- Orders ---------------------------------------------------------------------------


def _placement(api, registration, domain: str, *, key: str = "backoffice-order-1",
               action: OrderAction = OrderAction.REGISTER, years: int = 1) -> DomainPlacement:
    """What billing hands back to place a quote staff confirmed."""
    quote = api.quote_domain_order(DomainQuoteRequest(action=action, domain=domain, years=years))
    owner = api.get_contact(registration.owner_contact.upstream_id)
    return DomainPlacement(
        action=action, domain=domain, years=years,
        quote={**quote.data, "ceiling_minor": quote.ceiling_minor},
        currency=quote.currency, quoted_total_minor=quote.total_minor, idempotency_key=key,
        customer_reference="order-1", owner=owner)


def _orders_placed(sandbox) -> list:
    return sandbox.transport.sent("POST", "/api/orders/domain")


def test_a_registration_order_is_placed_and_followed_until_completed(api, registration,
                                                                      sandbox):
    placement = _placement(api, registration, "brand-new.com", years=2)
    assert placement.quoted_total_minor == 2 * 1299  # the sandbox's price, per year

    placed = api.place_domain_order(placement)

    record = placed.record
    assert (record.state, record.type, record.domain, record.years) == (
        OrderState.IN_PROGRESS, OrderType.REGISTRATION, "brand-new.com", 2)
    assert (record.currency, record.total_minor, record.paid) == ("USD", 2598, True)
    (sent,) = _orders_placed(sandbox)
    assert sent.headers["Idempotency-Key"] == "backoffice-order-1"
    states = [api.read_order(record.upstream_id).state for _ in range(2)]
    assert states == [OrderState.IN_PROGRESS, OrderState.COMPLETED]
    done = api.read_order(record.upstream_id)
    assert done.registration_id
    (created,) = api.iter_registrations(name="brand-new.com")
    assert created.upstream_id == done.registration_id
    assert created.contacts["owner"].upstream_id == registration.owner_contact.upstream_id


def test_a_failed_order_that_was_refunded_ends_refunded(api, registration, sandbox):
    placed = api.place_domain_order(_placement(api, registration, "order-fails.com"))

    states = [api.read_order(placed.record.upstream_id) for _ in range(2)]

    assert [record.state for record in states] == [OrderState.IN_PROGRESS, OrderState.REFUNDED]
    assert states[-1].refunded_minor == placed.record.total_minor == 1299
    assert states[-1].status_reason
    assert list(api.iter_registrations(name="order-fails.com")) == []


def test_a_retried_placement_places_one_order(api, registration, sandbox):
    placement = _placement(api, registration, "once-only.com")

    first = api.place_domain_order(placement)
    again = api.place_domain_order(placement)

    assert again.record.upstream_id == first.record.upstream_id
    assert len(_orders_placed(sandbox)) == 2
    assert list(sandbox.state()["orders"]) == [first.record.upstream_id]


def test_a_price_that_moved_since_the_quote_is_refused_without_ordering(api, registration,
                                                                        sandbox):
    placement = _placement(api, registration, "pricey.com")
    sandbox.client.post("/_sandbox/seed", json={"tlds": [{
        "name": "com", "create_price": {"amount_cents": 1599, "currency": "USD"}}]}
    ).raise_for_status()

    with pytest.raises(PriceMoved) as caught:
        api.place_domain_order(placement)

    assert caught.value.rule == "price_moved"
    assert "15.99" in caught.value.message and "12.99" in caught.value.message
    assert _orders_placed(sandbox) == []
    assert sandbox.state()["orders"] == {}


def test_a_registrant_change_order_changes_the_owner_once_completed(api, registration,
                                                                    sandbox):
    new_owner = ContactFactory(tld=registration.tld)
    sandbox.seed()
    ref = registration.ref

    placed = api.order_registrant_change(ref, idempotency_key="backoffice-order-7",
                                         source_contact_id=new_owner.upstream_id)

    (sent,) = sandbox.transport.sent("POST", f"/api/domain_registrations/{ref.upstream_id}"
                                     "/registrant_change")
    assert sent.headers["Idempotency-Key"] == "backoffice-order-7"
    record = placed.record
    assert (record.type, record.registration_id, record.total_minor, record.paid) == (
        OrderType.REGISTRANT_CHANGE, ref.upstream_id, 1099, True)
    # Sent again under the same key (a retry, or settling a lost answer): the first
    # order, charged once.
    again = api.order_registrant_change(ref, idempotency_key="backoffice-order-7",
                                        source_contact_id=new_owner.upstream_id)
    assert again.record.upstream_id == record.upstream_id
    assert len(sandbox.state()["orders"]) == 1
    states = [api.read_order(record.upstream_id).state for _ in range(2)]
    assert states[-1] == OrderState.COMPLETED
    owner = api.get_registration(ref).registration.contacts["owner"]
    assert owner.upstream_id == new_owner.upstream_id
