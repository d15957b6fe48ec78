"""Registration operations end to end against the sandbox: the request that left, the
rows left behind, the audit trail."""

from __future__ import annotations

import json

import httpx
import pytest
from celery.signals import before_task_publish
from django.forms.models import model_to_dict
from django.utils import timezone

from backoffice.models import StaffAction
from backoffice.roles import SUPPORT
from billing.models import Order, OrderKind, OrderStatus
from billing.tasks import settle_order
from registrar import services
from registrar.models import Process, ProcessStatus, Registration
from registrar.operations import InvalidInput, OperationUnsupported, RegistrationBusy
from registrar.providers.base import DnssecKeyData
from registrar.tasks import poll_process
from tests.factories import ContactFactory, RegistrationFactory, TldFactory, UserFactory

KEY = DnssecKeyData(257, 13, "mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+"
                              "KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==")
NEW_CONTACT = {"first_name": "Grace", "last_name": "Hopper", "country": "US",
               "email": "grace@example.com", "phone": "+1.2025550143", "city": "Arlington"}


@pytest.fixture
def agent(db):
    return UserFactory(username="agent", groups=[SUPPORT])


@pytest.fixture
def world(sandbox):
    """A TLD that allows everything, one that meters privacy and holder changes, and a
    registration on each, known to the sandbox."""
    open_tld = TldFactory(name="com", supports_push_transfer=True,
                          requires_contact_validation=True)
    metered = TldFactory(name="net", privacy_fee_amount=499, privacy_fee_currency="USD",
                         registrant_change_fee_amount=1200,
                         registrant_change_fee_currency="USD")
    registration = RegistrationFactory(name="example.com", tld=open_tld,
                                       transfer_out_pending=True)
    other = ContactFactory(account=registration.account, handle="OTHER-1")
    metered_registration = RegistrationFactory(name="example.net", tld=metered,
                                               account=registration.account)
    sandbox.seed()
    sandbox.transport.requests.clear()
    return type("World", (), {"registration": registration, "metered": metered_registration,
                              "other_contact": other, "sandbox": sandbox})


@pytest.fixture
def published():
    """Tasks published to the broker: (task name, args)."""
    sent = []

    def capture(sender=None, body=None, **kwargs):
        sent.append((sender, body[0] if isinstance(body, tuple | list) else body))

    before_task_publish.connect(capture, weak=False)
    yield sent
    before_task_publish.disconnect(capture)


def snapshot(registration: Registration) -> dict:
    registration.refresh_from_db()
    data = model_to_dict(registration)
    data.pop("id")
    return data


# What a re-read from the registrar brings into the mirror without the registration having
# changed: when it was read, and the registrar's own timestamps.
READ_STAMPS = ("last_synced_at", "upstream_created_at", "upstream_updated_at")


def state_of(registration: Registration) -> dict:
    data = snapshot(registration)
    for name in READ_STAMPS:
        data.pop(name)
    return data


def body_of(request: httpx.Request) -> dict:
    return json.loads(request.content) if request.content else {}


# Every operation: how to run it, and the request it sends.
OPERATIONS = {
    "lock": (lambda w, u: services.registration_set_lock(
        registration=w.registration, locked=True, actor=u), "PATCH", "/lock"),
    "privacy": (lambda w, u: services.registration_set_privacy(
        registration=w.registration, enabled=True, actor=u), "PATCH", "/privacy"),
    "dnssec": (lambda w, u: services.registration_set_dnssec(
        registration=w.registration, mode="enable", keys=[KEY], actor=u), "PATCH", "/dnssec"),
    "auto_renew": (lambda w, u: services.registration_set_auto_renew(
        registration=w.registration, auto_renew=False, actor=u), "PATCH", ""),
    "nameservers": (lambda w, u: services.registration_set_nameservers(
        registration=w.registration, nameservers=["ns1.host.example", "ns2.host.example"],
        actor=u), "PATCH", "/nameservers"),
    "holder_edit": (lambda w, u: services.registration_update_holder(
        registration=w.registration, action_mode="edit_current", holder={"city": "Utrecht"},
        actor=u), "PATCH", "/holder"),
    "holder_change": (lambda w, u: services.registration_update_holder(
        registration=w.registration, action_mode="change", source_contact=w.other_contact,
        actor=u), "PATCH", "/holder"),
    # On the TLD that bills registrant changes: elsewhere there is no price to charge.
    "registrant_change": (lambda w, u: services.registration_order_registrant_change(
        registration=w.metered, new_contact=NEW_CONTACT, actor=u), "POST",
        "/registrant_change"),
    "role_contacts": (lambda w, u: services.registration_set_role_contacts(
        registration=w.registration, roles={"tech": {"source": "same_as_owner"}}, actor=u),
        "PATCH", "/contacts"),
    "auth_code": (lambda w, u: services.registration_reveal_auth_code(
        registration=w.registration, actor=u), "GET", "/epp_code"),
    "force_sync": (lambda w, u: services.registration_force_sync(
        registration=w.registration, actor=u), "POST", "/force_sync"),
    "transfer_out": (lambda w, u: services.registration_decide_transfer_out(
        registration=w.registration, decision="approve", actor=u), "POST", "/transfer_out"),
    "push_transfer": (lambda w, u: services.registration_push_transfer(
        registration=w.registration, recipient="reg-ids", actor=u), "POST", "/push_transfer"),
    "resend_verification": (lambda w, u: services.registration_resend_verification(
        registration=w.registration, actor=u), "POST", "/resend_contact_verification"),
}


def target_of(world, name: str) -> Registration:
    return world.metered if name == "registrant_change" else world.registration


def path_of(world, name: str, suffix: str) -> str:
    return f"^/api/domain_registrations/{target_of(world, name).upstream_id}{suffix}$"


# --- success ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_every_operation_succeeds_and_writes_one_audit_row(world, agent, name):
    run, method, suffix = OPERATIONS[name]
    target = target_of(world, name)
    outcome = run(world, agent)
    assert outcome.status in {"succeeded", "pending"}, outcome.message
    sent = world.sandbox.transport.sent(method, f"{target.upstream_id}{suffix}")
    assert len(sent) == 1
    rows = StaffAction.objects.filter(target_id=str(target.pk))
    assert rows.count() == 1
    row = rows.get()
    assert row.actor == agent and row.outcome == outcome.status
    assert row.action.startswith("registration.")


def test_lock_sends_the_documented_body_and_updates_the_mirror(world, agent):
    outcome = services.registration_set_lock(registration=world.registration, locked=True,
                                             actor=agent)
    assert outcome.status == "succeeded"
    (request,) = world.sandbox.transport.sent("PATCH", "/lock")
    assert body_of(request) == {"locked": True}
    assert request.headers["X-Auth-Account"] == "test-account"
    world.registration.refresh_from_db()
    assert world.registration.locked is True
    row = StaffAction.objects.get()
    assert row.parameters["locked"] is True
    assert row.parameters["changes"]["locked"] == {"old": False, "new": True}
    assert world.sandbox.registration(world.registration.upstream_id)["locked"] is True


def test_privacy_on_a_metered_tld_returns_the_fee_and_changes_nothing(world, agent):
    before = snapshot(world.metered)
    outcome = services.registration_set_privacy(registration=world.metered, enabled=True,
                                                actor=agent)
    assert outcome.status == "payment_required"
    assert outcome.payment.price.amount_minor == 499
    assert outcome.payment.price.currency == "USD"
    assert outcome.payment.portal_url.startswith("http")
    assert "4.99 USD" in outcome.message
    assert snapshot(world.metered) == before
    row = StaffAction.objects.get()
    assert row.outcome == "payment_required" and row.upstream_status == 402


def test_privacy_off_is_always_free(world, agent):
    Registration.objects.filter(pk=world.metered.pk).update(privacy_protect=True)
    world.sandbox.seed()
    outcome = services.registration_set_privacy(registration=world.metered, enabled=False,
                                                actor=agent)
    assert outcome.status == "succeeded"
    world.metered.refresh_from_db()
    assert world.metered.privacy_protect is False


def test_holder_change_on_a_metered_tld_surfaces_the_portal(world, agent):
    outcome = services.registration_update_holder(
        registration=world.metered, action_mode="change", new_contact=NEW_CONTACT, actor=agent)
    assert outcome.status == "payment_required"
    assert outcome.payment.role == "registrant_change"


def test_auto_renew_reports_the_scenario(world, agent):
    outcome = services.registration_set_auto_renew(registration=world.registration,
                                                   auto_renew=False, actor=agent)
    assert outcome.status == "succeeded"
    assert outcome.data["scenario"] in services.AUTO_RENEW_SCENARIOS
    assert outcome.data["scenario"] in outcome.message
    (request,) = world.sandbox.transport.sent("PATCH", world.registration.upstream_id)
    assert body_of(request) == {"domain_registration": {"auto_renew": False}}


def test_dnssec_enable_stores_the_keys(world, agent):
    services.registration_set_dnssec(registration=world.registration, mode="enable",
                                     keys=[KEY], actor=agent)
    (request,) = world.sandbox.transport.sent("PATCH", "/dnssec")
    assert body_of(request) == {"mode": "enable", "key_data": [
        {"flags": 257, "algorithm": 13, "publicKey": KEY.public_key}]}
    world.registration.refresh_from_db()
    assert world.registration.dnssec_enabled
    assert world.registration.dnssec_keys.get().algorithm == 13


def test_auth_code_is_returned_but_never_stored_or_audited(world, agent):
    outcome = services.registration_reveal_auth_code(registration=world.registration,
                                                     actor=agent)
    code = outcome.data["authcode"]
    assert code
    row = StaffAction.objects.get()
    assert code not in json.dumps(row.parameters) and code not in row.message
    assert row.action == "registration.auth_code"


def test_force_sync_reports_each_change_old_to_new(world, agent):
    Registration.objects.filter(pk=world.registration.pk).update(auto_renew=False,
                                                                 nameservers=["old.example"])
    outcome = services.registration_force_sync(registration=world.registration, actor=agent)
    assert outcome.status == "succeeded"
    assert outcome.changes["auto_renew"] == (False, True)
    assert "auto_renew: False → True" in outcome.message
    world.registration.refresh_from_db()
    assert world.registration.auto_renew is True and world.registration.last_synced_at


# --- pending (202) ------------------------------------------------------------------

ASYNC = ["lock", "privacy", "dnssec", "nameservers", "holder_edit", "role_contacts",
         "transfer_out", "push_transfer"]


@pytest.mark.parametrize("name", ASYNC)
def test_202_stores_a_process_marks_busy_and_enqueues_polling(
        world, agent, published, django_capture_on_commit_callbacks, name):
    world.sandbox.next_async(world.registration.upstream_id, polls=2)
    run, _, _ = OPERATIONS[name]
    with django_capture_on_commit_callbacks(execute=True):
        outcome = run(world, agent)
    assert outcome.status == "pending", outcome.message
    process = Process.objects.get(registration=world.registration)
    assert not process.is_terminal
    world.registration.refresh_from_db()
    assert world.registration.pending_async
    assert world.registration.rtr_process_id == process.upstream_id
    assert ("registrar.poll_process", [process.pk]) in [(t, list(a)) for t, a in published]
    row = StaffAction.objects.get()
    assert row.outcome == "pending" and row.process_id == process.upstream_id

    # While it runs, the registration refuses further mutations before any HTTP.
    sent_before = len(world.sandbox.transport.requests)
    with pytest.raises(RegistrationBusy):
        services.registration_set_lock(registration=world.registration, locked=False,
                                       actor=agent)
    assert len(world.sandbox.transport.requests) == sent_before


def test_a_process_is_followed_to_completion_and_unblocks(world, agent,
                                                          django_capture_on_commit_callbacks):
    world.sandbox.next_async(world.registration.upstream_id, polls=2)
    with django_capture_on_commit_callbacks(execute=False):
        outcome = services.registration_set_lock(registration=world.registration, locked=True,
                                                 actor=agent)
    process = outcome.process
    # The upstream also says busy while the process runs.
    world.sandbox.transport.requests.clear()
    for _ in range(5):
        poll_process.run(process.pk)
        process.refresh_from_db()
        if process.is_terminal:
            break
    assert process.status == ProcessStatus.COMPLETED
    world.registration.refresh_from_db()
    assert world.registration.locked is True
    assert not world.registration.pending_async
    assert StaffAction.objects.filter(action__startswith="process.", outcome="succeeded").exists()


def test_upstream_409_while_in_flight_is_reported_busy(world, agent):
    world.sandbox.next_async(world.registration.upstream_id, polls=5)
    services.registration_set_lock(registration=world.registration, locked=True, actor=agent)
    # Our mirror forgot the process (e.g. restored backup): the upstream still refuses.
    Registration.objects.filter(pk=world.registration.pk).update(pending_async=False)
    before = snapshot(world.registration)
    outcome = services.registration_set_privacy(registration=world.registration, enabled=True,
                                                actor=agent)
    assert outcome.status == "failed" and outcome.error.code == "registration_busy"
    assert snapshot(world.registration) == before


# --- every documented error, per operation --------------------------------------------

COMMON_ERRORS = [(409, "registration_busy"), (502, "registrar_unavailable"),
                 (503, "feature_disabled")]
ERRORS = {
    "lock": [(422, "lock_unsupported"), (422, "server_transfer_prohibited")],
    "privacy": [(422, "privacy_unsupported")],
    "dnssec": [(422, "invalid_mode"), (422, "dnssec_no_keys")],
    "auto_renew": [(422, "cancellation_window_passed"), (400, "no_op")],
    "nameservers": [(422, "nameservers_required")],
    "holder_edit": [(409, "reverification_required")],
    "holder_change": [(404, "source_contact_not_found")],
    "registrant_change": [(401, "user_required"), (403, "forbidden"), (403, "trial_account"),
                          (422, "source_contact_not_found"), (422, "contact_invalid"),
                          (422, "no_registrant_change_price"), (422, "cart_pay_failed")],
    "role_contacts": [(422, "owner_contact_missing")],
    "auth_code": [(422, "server_transfer_prohibited"), (422, "authcode_unavailable"),
                  (502, "authcode_unavailable")],
    "force_sync": [],
    "transfer_out": [(422, "no_pending_transfer_out"), (422, "invalid_decision")],
    "push_transfer": [(422, "push_transfer_unsupported"), (422, "push_transfer_in_progress"),
                      (422, "domain_not_transferable")],
    "resend_verification": [(422, "verification_not_applicable")],
}
ERROR_CASES = [(name, status, code) for name, codes in ERRORS.items()
               for status, code in [*codes, *COMMON_ERRORS]]


# After an unknown outcome, what reading the registration again says (here it was never
# applied): whether the change shows (when the operation implies fields), else what
# the read brought (the factories leave the registrar's own timestamps empty).
_NOT_APPLIED = "Read again: the registrar does not show it ({}), so it was not applied and " \
    "may be sent again."
_READ = ("Read again: the mirror now shows what the registrar has (changed: "
         "upstream_created_at, upstream_updated_at). Check it before sending the change again.")
REREAD = {
    "lock": (False, _NOT_APPLIED.format("locked is False")),
    "privacy": (False, _NOT_APPLIED.format("privacy_protect is False")),
    "dnssec": (False, _NOT_APPLIED.format("dnssec_enabled is False")),
    "auto_renew": (False, _NOT_APPLIED.format("auto_renew is True")),
    "nameservers": (False, _NOT_APPLIED.format(
        "nameservers is ['ns1.example.net', 'ns2.example.net']")),
    "transfer_out": (False, _NOT_APPLIED.format("transfer_out_pending is True")),
    "push_transfer": (False, _NOT_APPLIED.format("push_transfer_pending is False")),
    "holder_edit": (None, _READ),
    "holder_change": (None, _READ),
    "role_contacts": (None, _READ),
    "force_sync": (None, _READ),
    "resend_verification": (None, _READ),
}


@pytest.mark.parametrize(("name", "status", "code"), ERROR_CASES,
                         ids=[f"{n}-{s}-{c}" for n, s, c in ERROR_CASES])
def test_every_documented_error_fails_cleanly(world, agent, published,
                                              django_capture_on_commit_callbacks, name, status,
                                              code):
    run, method, suffix = OPERATIONS[name]
    target = target_of(world, name)
    world.sandbox.fault(path_of(world, name, suffix), method=method, status=status, code=code,
                        times=5)
    before = state_of(target)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = run(world, agent)
    # A 502 after a write says nothing of whether the registrar applied it: the outcome
    # is unknown, and the registration is read again at once (here: it was not applied).
    unknown = status == 502 and method != "GET"
    assert outcome.status == ("unknown" if unknown else "failed")
    assert outcome.error.code == code and outcome.error.status == status
    assert outcome.message and "{" not in outcome.message
    if unknown:
        assert outcome.message.startswith(
            "No usable answer came back from the registrar (it answered HTTP 502), after the "
            "request was sent: it may have applied the change. ")
    else:
        assert "may have applied" not in outcome.message
    if name == "registrant_change":
        # The paid change is a local order, opened before the call left, under its key.
        order = Order.objects.get(registration=target)
        assert order.kind == OrderKind.REGISTRANT_CHANGE
        assert order.idempotency_key == f"backoffice-order-{order.pk}"
        sent = world.sandbox.transport.sent("POST", f"{target.upstream_id}/registrant_change")
        assert {r.headers["Idempotency-Key"] for r in sent} == {order.idempotency_key}
        if unknown:
            # Keyed, so the 502 was retried; no answer in the end: the order stays open,
            # unsettled, and is asked about again with the same key (not re-read).
            assert len(sent) == 3
            assert outcome.message.endswith(
                f"Its order {order.pk} stays open: the back-office asks the registrar again "
                "with the same idempotency key, which cannot charge twice, and follows "
                "whatever it says.")
            assert outcome.data == {"settled": False, "applied": None}
            assert (order.status, order.unsettled_since is not None) == (
                OrderStatus.PAYMENT_INITIATED, True)
            assert order.status_reason == outcome.error.message
            assert [(t, list(a)) for t, a in published] == [(settle_order.name, [order.pk])]
        else:
            # Refused: the order ends without a charge.
            assert len(sent) == 1
            assert (order.status, order.unsettled_since) == (OrderStatus.FAILED, None)
            assert order.status_reason == outcome.error.message
            assert not order.ledger_entries.exists()
            assert published == []
        world.metered.refresh_from_db()
        assert world.metered.unsettled_operation == ""
    elif unknown:
        applied, shown = REREAD[name]
        assert outcome.message.endswith(shown)
        assert outcome.data == {"settled": True, "applied": applied}
        target.refresh_from_db()
        assert (target.unsettled_operation, target.unsettled_since) == ("", None)
        assert published == []  # read again at once: nothing left to settle
    assert state_of(target) == before
    row = StaffAction.objects.get()
    assert (row.outcome, row.upstream_code, row.upstream_status) == (
        outcome.status, code, status)


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_a_timeout_is_an_unknown_outcome_read_again_at_once(world, agent, name):
    run, method, suffix = OPERATIONS[name]
    target = target_of(world, name)
    world.sandbox.transport.fail_next(httpx.ReadTimeout("slow registrar"))
    before = state_of(target)
    outcome = run(world, agent)
    if name == "registrant_change":
        # The paid change carries its order's Idempotency-Key, so the timeout is retried
        # under the same key (a replay cannot charge twice) and the retry's answer is the
        # order: known, not unknown.
        order = Order.objects.get(registration=target)
        sent = world.sandbox.transport.sent("POST", f"{target.upstream_id}{suffix}")
        assert [r.headers["Idempotency-Key"] for r in sent] == [order.idempotency_key] * 2
        assert outcome.status == "pending" and outcome.error is None
        assert outcome.message == (
            f"Registrant change ordered for {target}: Order {order.pk} (registration in "
            "progress, 1200 USD recorded in the ledger). The registrar applies it once the "
            "payment clears; the order is followed until it ends.")
        assert outcome.data == {"order_id": order.pk, "upstream_order_id": order.upstream_id}
        assert (order.status, order.unsettled_since, order.total_minor) == (
            OrderStatus.REGISTRATION_IN_PROGRESS, None, 1200)
        assert StaffAction.objects.get().outcome == "pending"
        return
    assert outcome.error.code == "timeout"
    if method == "GET":  # a read (the auth code) changes nothing: a plain failure
        assert outcome.status == "failed"
        assert outcome.message == "The registrar did not answer in time."
    else:
        applied, shown = REREAD[name]
        assert outcome.status == "unknown"
        assert outcome.message == (
            "No usable answer came back from the registrar (it did not answer in time), "
            f"after the request was sent: it may have applied the change. {shown}")
        assert outcome.data == {"settled": True, "applied": applied}
    # The timeout here came before the sandbox saw the request: the re-read shows the
    # registration as it was, and the mirror equals it.
    assert state_of(target) == before
    assert StaffAction.objects.get().outcome == outcome.status


# --- an unsettled registration, and what later answers say of it ---------------------------


def unsettle(registration: Registration, operation: str) -> None:
    """The registration as a lost answer to `operation` left it, its re-read failed too."""
    Registration.objects.filter(pk=registration.pk).update(
        unsettled_operation=operation, unsettled_since=timezone.now())
    registration.refresh_from_db()


def unsettled(registration: Registration) -> tuple[str, bool]:
    registration.refresh_from_db()
    return registration.unsettled_operation, registration.unsettled_since is not None


def test_an_answer_carrying_the_whole_registration_settles_another_operation(world, agent):
    unsettle(world.registration, "privacy")
    outcome = services.registration_set_lock(registration=world.registration, locked=True,
                                             actor=agent)
    assert outcome.status == "succeeded"
    # The lock's answer was the whole registration, now in the mirror: whatever the lost
    # privacy answer hid is known.
    assert unsettled(world.registration) == ("", False)
    assert services.unavailable_reason(world.registration, "privacy") is None


def test_an_answer_without_the_registration_leaves_another_operation_unsettled(world, agent):
    unsettle(world.registration, "privacy")
    outcome = services.registration_resend_verification(registration=world.registration,
                                                        actor=agent)
    assert outcome.status == "succeeded"
    assert set(outcome.data) == {"status"}  # no registration in the answer
    assert unsettled(world.registration) == ("privacy", True)
    assert services.unavailable_reason(world.registration, "privacy") == (
        "The last whois privacy change may have been applied (no usable answer came back), "
        "and the registration has not been read again yet. The back-office keeps trying; a "
        "re-sync settles it now.")


def test_an_answer_carrying_the_registration_never_settles_the_glue_hosts(world, agent):
    unsettle(world.registration, "hosts")
    outcome = services.registration_set_lock(registration=world.registration, locked=True,
                                             actor=agent)
    assert outcome.status == "succeeded"
    # The registration says nothing of its glue hosts: they are known once read.
    assert unsettled(world.registration) == ("hosts", True)
    assert services.hosts_unavailable_reason(world.registration) == (
        "The last glue-host change may have been applied (no usable answer came back), and "
        "the hosts have not been read again yet. The back-office keeps trying; a re-sync "
        "settles it now.")


def test_a_re_sync_is_never_refused_for_an_unsettled_re_sync(world, agent):
    unsettle(world.registration, "force_sync")
    assert services.unavailable_reason(world.registration, "force_sync") is None
    outcome = services.registration_force_sync(registration=world.registration, actor=agent)
    assert outcome.status == "succeeded"
    assert world.sandbox.transport.sent("POST", f"{world.registration.upstream_id}/force_sync")
    # Its answer is the whole registration: it is how the registration settles.
    assert unsettled(world.registration) == ("", False)


def test_the_unsettled_operation_itself_is_refused_before_any_http(world, agent):
    unsettle(world.registration, "lock")
    with pytest.raises(OperationUnsupported) as refused:
        services.registration_set_lock(registration=world.registration, locked=True,
                                       actor=agent)
    assert str(refused.value) == (
        "The last transfer lock change may have been applied (no usable answer came back), "
        "and the registration has not been read again yet. The back-office keeps trying; a "
        "re-sync settles it now.")
    assert world.sandbox.transport.requests == []
    assert unsettled(world.registration) == ("lock", True)


# --- refused before any HTTP ------------------------------------------------------------

REFUSALS = [
    ("nameservers too few", lambda w, u: services.registration_set_nameservers(
        registration=w.registration, nameservers=["ns1.example.net"], actor=u), InvalidInput),
    ("nameservers duplicate", lambda w, u: services.registration_set_nameservers(
        registration=w.registration, nameservers=["ns1.example.net", "NS1.example.net"],
        actor=u), InvalidInput),
    ("nameserver invalid", lambda w, u: services.registration_set_nameservers(
        registration=w.registration, nameservers=["ns1.example.net", "bad host.net"],
        actor=u), InvalidInput),
    ("dnssec deprecated algorithm", lambda w, u: services.registration_set_dnssec(
        registration=w.registration, mode="enable",
        keys=[services.clean_dnssec_key(257, 5, KEY.public_key)], actor=u), InvalidInput),
    ("dnssec no keys", lambda w, u: services.registration_set_dnssec(
        registration=w.registration, mode="enable", keys=[], actor=u), InvalidInput),
    ("push bad handle", lambda w, u: services.registration_push_transfer(
        registration=w.registration, recipient="not a handle!", actor=u), InvalidInput),
    ("holder bad phone", lambda w, u: services.registration_update_holder(
        registration=w.registration, action_mode="edit_current", holder={"phone": "0201234"},
        actor=u), InvalidInput),
    ("privacy unsupported tld", lambda w, u: services.registration_set_privacy(
        registration=RegistrationFactory(name="nopriv.nl", tld=TldFactory(
            name="nl", supports_privacy=False)), enabled=True, actor=u), OperationUnsupported),
    ("lock unsupported tld", lambda w, u: services.registration_set_lock(
        registration=RegistrationFactory(name="nolock.de", tld=TldFactory(
            name="de", supports_transfer_lock=False)), locked=True, actor=u),
     OperationUnsupported),
    ("no transfer out pending", lambda w, u: services.registration_decide_transfer_out(
        registration=w.metered, decision="approve", actor=u), OperationUnsupported),
    ("hidden auth code", lambda w, u: services.registration_reveal_auth_code(
        registration=RegistrationFactory(name="hidden.it", tld=TldFactory(
            name="it", authcode_behavior="hidden")), actor=u), OperationUnsupported),
]


@pytest.mark.parametrize(("label", "run", "error"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusals_send_nothing_and_write_no_audit(world, agent, label, run, error):
    with pytest.raises((error, InvalidInput)):
        run(world, agent)
    assert world.sandbox.transport.requests == []
    assert not StaffAction.objects.exists()


def test_dnssec_key_validation_messages():
    with pytest.raises(InvalidInput, match="deprecated"):
        services.clean_dnssec_key(257, 7, KEY.public_key)
    with pytest.raises(InvalidInput, match="base64"):
        services.clean_dnssec_key(257, 13, "not base64!!")
    with pytest.raises(InvalidInput, match="257"):
        services.clean_dnssec_key(300, 13, KEY.public_key)


def test_a_user_without_the_permission_is_refused(world):
    from django.core.exceptions import PermissionDenied

    finance = UserFactory(username="fin", groups=["Finance"])
    with pytest.raises(PermissionDenied):
        services.registration_set_lock(registration=world.registration, locked=True,
                                       actor=finance)
    assert world.sandbox.transport.requests == []


def test_a_broker_outage_does_not_undo_or_break_a_202(world, agent, monkeypatch,
                                                      django_capture_on_commit_callbacks,
                                                      caplog):
    from kombu.exceptions import OperationalError

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to redis:6379. Connection refused.")

    # The broker is the boundary here: publishing fails the way Celery fails without one.
    monkeypatch.setattr(poll_process, "apply_async", broker_down)
    world.sandbox.next_async(world.registration.upstream_id, polls=2)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = services.registration_set_lock(registration=world.registration,
                                                 locked=True, actor=agent)
    assert outcome.status == "pending"
    assert Process.objects.filter(registration=world.registration).exists()
    assert "its periodic sweep will pick it up" in caplog.text


def test_another_customers_contact_is_refused_before_anything_leaves(world, agent):
    stranger = ContactFactory(handle="STRANGER")  # a different account
    for run in (
        lambda: services.registration_update_holder(
            registration=world.registration, action_mode="change", source_contact=stranger,
            actor=agent),
        lambda: services.registration_set_role_contacts(
            registration=world.registration,
            roles={"admin": {"source": "existing", "contact": stranger}}, actor=agent),
        lambda: services.registration_order_registrant_change(
            registration=world.metered, source_contact=stranger, actor=agent),
    ):
        with pytest.raises(InvalidInput, match="another customer"):
            run()
    assert world.sandbox.transport.requests == []
    assert not StaffAction.objects.exists()


@pytest.mark.parametrize("reason", ["Customer \u202eobjects", "held\x00back", "x" * 1001])
def test_a_rejection_reason_obeys_the_text_rule_whatever_the_entry_point(world, agent,
                                                                         reason):
    """The service checks the reason, so a command is held to what the form is: nothing
    is sent, nothing audited, and the refusal names the reason."""
    with pytest.raises(InvalidInput) as refused:
        services.registration_decide_transfer_out(
            registration=world.registration, decision="reject", actor=agent, reason=reason)
    assert list(refused.value.field_errors) == ["reason"]
    assert world.sandbox.transport.requests == []
    assert not StaffAction.objects.exists()
    world.registration.refresh_from_db()
    assert world.registration.transfer_out_pending is True
