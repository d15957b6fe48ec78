"""Every mutating registration, glue-host and contact operation, through every fault an
exchange can suffer: the message is true, the upstream saw the mutation at most once,
and after the automatic re-read the mirror equals the upstream."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from backoffice.models import StaffAction
from backoffice.roles import SUPPORT
from contacts import services as contact_services
from contacts.models import Contact
from registrar import services
from registrar.models import Host, Registration
from registrar.providers.base import DnssecKeyData
from registrar.providers.registry import provider_for_registration
from registrar.sync import diff_registration
from registrar.tasks import poll_process
from tests.factories import (
    ContactFactory,
    HostAddressFactory,
    HostFactory,
    RegistrationFactory,
    TldFactory,
    UserFactory,
)
from tests.faults.transport import FAULTS, Fault, FaultTransport

KEY = DnssecKeyData(257, 13, "mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+"
                              "KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==")
#: What the registrar's own timestamps and our read stamps may differ by: not state.
STAMPS = {"upstream_created_at", "upstream_updated_at", "last_synced_at"}
MAY_HAVE = "it may have applied the change"
NOT_SENT = ("Nothing was changed", "Nothing was sent", "nothing was sent")


@dataclass
class World:
    registration: Registration
    host: Host
    other_contact: Contact
    sandbox: object
    faults: FaultTransport

    @property
    def guid(self) -> str:
        return self.registration.upstream_id


@pytest.fixture
def agent(db):
    return UserFactory(username="agent", groups=[SUPPORT])


@pytest.fixture
def world(sandbox):
    tld = TldFactory(name="com", supports_push_transfer=True,
                     requires_contact_validation=True)
    registration = RegistrationFactory(name="example.com", tld=tld, transfer_out_pending=True)
    host = HostFactory(registration=registration, host_name="ns1.example.com")
    HostAddressFactory(host=host, address="192.0.2.1", version=4)
    other = ContactFactory(account=registration.account, handle="OTHER-1")
    sandbox.seed()
    faults = FaultTransport(sandbox.transport.inner)
    sandbox.transport.inner = faults
    return World(registration, host, other, sandbox, faults)


@dataclass(frozen=True)
class Case:
    run: Callable[[World, object], object]
    method: str
    path: str  # after /api/domain_registrations/<guid>, a regex
    #: The upstream deduplicates a repeat (a retried DELETE): more than one delivery
    #: may still be one effect.
    repeat_is_harmless: bool = False


CASES = {
    "lock": Case(lambda w, u: services.registration_set_lock(
        registration=w.registration, locked=True, actor=u), "PATCH", "/lock$"),
    "privacy": Case(lambda w, u: services.registration_set_privacy(
        registration=w.registration, enabled=True, actor=u), "PATCH", "/privacy$"),
    "dnssec": Case(lambda w, u: services.registration_set_dnssec(
        registration=w.registration, mode="enable", keys=[KEY], actor=u), "PATCH", "/dnssec$"),
    "auto_renew": Case(lambda w, u: services.registration_set_auto_renew(
        registration=w.registration, auto_renew=False, actor=u), "PATCH", "$"),
    "nameservers": Case(lambda w, u: services.registration_set_nameservers(
        registration=w.registration, nameservers=["ns1.host.example", "ns2.host.example"],
        actor=u), "PATCH", "/nameservers$"),
    "holder_edit": Case(lambda w, u: services.registration_update_holder(
        registration=w.registration, action_mode="edit_current", holder={"city": "Utrecht"},
        actor=u), "PATCH", "/holder$"),
    "holder_change": Case(lambda w, u: services.registration_update_holder(
        registration=w.registration, action_mode="change", source_contact=w.other_contact,
        actor=u), "PATCH", "/holder$"),
    "role_contacts": Case(lambda w, u: services.registration_set_role_contacts(
        registration=w.registration, roles={"tech": {"source": "same_as_owner"}}, actor=u),
        "PATCH", "/contacts$"),
    "force_sync": Case(lambda w, u: services.registration_force_sync(
        registration=w.registration, actor=u), "POST", "/force_sync$"),
    "transfer_out_approve": Case(lambda w, u: services.registration_decide_transfer_out(
        registration=w.registration, decision="approve", actor=u), "POST", "/transfer_out$"),
    "transfer_out_reject": Case(lambda w, u: services.registration_decide_transfer_out(
        registration=w.registration, decision="reject", reason="holder disputes it",
        actor=u), "POST", "/transfer_out$"),
    "push_transfer": Case(lambda w, u: services.registration_push_transfer(
        registration=w.registration, recipient="reg-ids", actor=u), "POST", "/push_transfer$"),
    "resend_verification": Case(lambda w, u: services.registration_resend_verification(
        registration=w.registration, actor=u), "POST", "/resend_contact_verification$"),
    "host_create": Case(lambda w, u: services.host_create(
        registration=w.registration, host_name="ns2.example.com", addresses=["192.0.2.2"],
        actor=u), "POST", "/hosts$"),
    "host_update": Case(lambda w, u: services.host_update(
        host=w.host, addresses=["192.0.2.3"], actor=u), "PATCH", "/hosts/ns1.example.com$"),
    "host_delete": Case(lambda w, u: services.host_delete(host=w.host, actor=u), "DELETE",
                        "/hosts/ns1.example.com$", repeat_is_harmless=True),
    "contact_update": Case(lambda w, u: contact_services.contact_update(
        contact=w.registration.owner_contact, fields={"city": "Rotterdam"}, actor=u,
        tld=w.registration.tld), "PATCH", "CONTACT"),
}


def mutation_path(world: World, case: Case) -> str:
    if case.path == "CONTACT":
        return f"^/api/domain_contacts/{world.registration.owner_contact.upstream_id}$"
    return f"^/api/domain_registrations/{world.guid}{case.path}"


def assert_mirror_is_upstream(world: World) -> None:
    """What the registrar has now, read afresh, is what the mirror shows: the
    registration, its contacts and its glue hosts."""
    registration = Registration.objects.get(pk=world.registration.pk)
    provider = provider_for_registration(registration)
    record = provider.get_registration(registration.ref).registration
    differing = {name: change for name, change in diff_registration(registration, record).items()
                 if name not in STAMPS}
    assert differing == {}, differing
    for role, contact in record.contacts.items():
        if contact is None:
            continue
        mirrored = Contact.objects.get(upstream_id=contact.upstream_id)
        fields = {name: getattr(mirrored, name) for name in contact.fields if name not in STAMPS}
        assert fields == {k: v for k, v in contact.fields.items() if k not in STAMPS}, role
    upstream_hosts = {h["host_name"]: {a["address"] for a in h.get("addresses") or []}
                      for h in provider.list_hosts(registration.ref)}
    mirror_hosts = {h.host_name: {a.address for a in h.addresses.all()}
                    for h in registration.hosts.all()}
    assert mirror_hosts == upstream_hosts


def upstream_contact_count(world: World) -> int:
    return len(world.sandbox.state()["contacts"])


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name.lower() for f in FAULTS])
@pytest.mark.parametrize("name", sorted(CASES))
def test_every_operation_under_every_fault(world, agent, name, fault, matrix,
                                           django_capture_on_commit_callbacks):
    case = CASES[name]
    path = mutation_path(world, case)
    world.faults.arm(fault, method=case.method, path=path)
    contacts_before = upstream_contact_count(world)

    with django_capture_on_commit_callbacks(execute=True):
        outcome = case.run(world, agent)

    delivered = len(world.faults.delivered_to(case.method, path))
    message = outcome.message
    applied = (outcome.data or {}).get("applied") if outcome.status == "unknown" else None
    matrix(name, fault.value, outcome=outcome.status, applied=applied, delivered=delivered)

    # The upstream saw the mutation at most once (a retried DELETE is one effect).
    assert delivered <= (2 if case.repeat_is_harmless else 1)
    assert upstream_contact_count(world) - contacts_before <= 1
    # The message is true.
    if fault is Fault.DROP_BEFORE:
        # Never sent, so resent at once: exactly one delivery, and it worked.
        assert outcome.status in {"succeeded", "pending"} and delivered == 1, message
    elif fault.reaches_upstream or fault in {Fault.E500_BEFORE, Fault.HTML502_BEFORE}:
        if outcome.status != "unknown":
            # Only a repeat the upstream answers for itself may end otherwise.
            assert case.repeat_is_harmless and outcome.status == "succeeded", message
        else:
            assert MAY_HAVE in message, message
            assert not any(words in message for words in NOT_SENT), message
            if delivered == 0:
                assert applied is not True, message  # it was not, and must not be said
            elif applied is not None:
                assert applied is True, message
    if any(words in message for words in NOT_SENT):
        assert delivered == 0, message
    # One audit row for the operation, with the outcome staff were shown.
    rows = StaffAction.objects.exclude(action__startswith="registration.sync").exclude(
        action="registration.settled")
    assert [row.outcome for row in rows] == [outcome.status], [r.action for r in rows]
    # After the automatic re-read, the mirror is the upstream; nothing is left unsettled.
    assert_mirror_is_upstream(world)
    registration = Registration.objects.get(pk=world.registration.pk)
    assert registration.unsettled_operation == ""


@pytest.mark.parametrize("name", sorted(set(CASES) - {"force_sync", "resend_verification",
                                                      "contact_update"}))
def test_a_202_that_never_completes_is_followed_then_left_for_staff(
        world, agent, name, matrix, settings, django_capture_on_commit_callbacks):
    settings.PROCESS_POLL_LIMIT = 3
    case = CASES[name]
    world.sandbox.next_async(world.guid, polls=10**6)

    with django_capture_on_commit_callbacks(execute=True):
        outcome = case.run(world, agent)

    path = mutation_path(world, case)
    delivered = len(world.faults.delivered_to(case.method, path))
    matrix(name, "202 never completes", outcome=outcome.status, delivered=delivered)
    assert delivered == 1
    if outcome.status != "pending":
        # This operation is answered at once by the sandbox: nothing to follow.
        assert outcome.status == "succeeded"
        return
    assert "is processing it" in outcome.message and "busy until it completes" in \
        outcome.message
    process = outcome.process
    for _ in range(4):
        with django_capture_on_commit_callbacks(execute=True):
            poll_process.run(process.pk)
    process.refresh_from_db()
    assert process.stuck and not process.is_terminal
    assert StaffAction.objects.filter(action="process.stuck").count() == 1
    # The mirror says busy, as the upstream does; another change is refused unsent.
    assert_mirror_is_upstream(world)
    with pytest.raises(services.RegistrationBusy, match="process is in flight"):
        services.registration_set_auto_renew(registration=world.registration,
                                             auto_renew=True, actor=agent)
    assert len(world.faults.delivered_to(case.method, path)) == 1
