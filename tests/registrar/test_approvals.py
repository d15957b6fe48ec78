"""Step-up and two-person approval for the high-risk registration operations, through
the services and the command line, against the sandbox: what reached the registrar,
the Approval and audit rows left behind, and what the command prints."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.utils import timezone

from backoffice import assurance
from backoffice.models import StaffAction
from backoffice.roles import ADMIN, SUPPORT
from registrar import approvals, services
from registrar.models import Approval, ApprovalStatus, Registration
from registrar.operations import InvalidInput
from tests.factories import (
    ContactFactory,
    RegistrationFactory,
    TldFactory,
    UserFactory,
)
from tests.mfa import enrol_totp, totp_code

# The production default of TWO_PERSON_OPERATIONS (backoffice/settings.py).
PRODUCTION_TWO_PERSON = ["unlock_protected", "registrant_change", "transfer_out_approve",
                         "push_transfer", "auth_code_flagged"]
MAX_AGE = 300
WINDOW = 3600
NEW_CONTACT = {"first_name": "Grace", "last_name": "Hopper", "country": "US",
               "email": "grace@example.com", "phone": "+1.2025550143", "city": "Arlington"}
TICKET, VERIFIED = "T-4711", "Called back on the number on file; account PIN checked."
STEP_UP_TEXT = "needs a fresh second factor"


@pytest.fixture(autouse=True)
def _own_acting_context():
    """Each test acts in a context of its own: a step-up noted by one test (a command's
    --otp, confirm_second_factor) must not count for a later one."""
    with assurance.acting(assurance.Channel.CLI):
        yield


def apply_production_rules(settings) -> None:
    """Second factors required, and the two-person rules production has."""
    settings.STAFF_MFA_REQUIRED = True
    settings.STEP_UP_MAX_AGE_SECONDS = MAX_AGE
    settings.APPROVAL_WINDOW_SECONDS = WINDOW
    settings.TWO_PERSON_OPERATIONS = list(PRODUCTION_TWO_PERSON)


@pytest.fixture
def world(sandbox, settings):
    apply_production_rules(settings)
    return build_world(sandbox)


def build_world(sandbox):
    """A TLD that allows everything, with a plain locked registration (an outbound
    transfer waiting), one with registry-level protection, one the customer flagged for
    extra verification and an unlocked one; a TLD that bills registrant changes, with a
    registration of the same customer. All known to the sandbox."""
    tld = TldFactory(name="com", supports_push_transfer=True)
    metered_tld = TldFactory(name="net", registrant_change_fee_amount=1200,
                             registrant_change_fee_currency="USD")
    plain = RegistrationFactory(name="example.com", tld=tld, locked=True,
                                transfer_out_pending=True)
    spare = ContactFactory(account=plain.account, handle="SPARE-1")
    metered = RegistrationFactory(name="example.net", tld=metered_tld, account=plain.account)
    protected = RegistrationFactory(name="protected.com", tld=tld, locked=True,
                                    server_transfer_prohibited=True)
    flagged = RegistrationFactory(name="flagged.com", tld=tld, locked=True,
                                  customer_flagged=True)
    unlocked = RegistrationFactory(name="open.com", tld=tld, locked=False)
    sandbox.seed()
    sandbox.transport.requests.clear()
    return type("World", (), {"plain": plain, "protected": protected, "flagged": flagged,
                              "unlocked": unlocked, "metered": metered, "spare": spare,
                              "sandbox": sandbox})


@pytest.fixture
def agent(db):
    """Support: runs operations, may not approve."""
    user = UserFactory(username="agent", groups=[SUPPORT])
    user.device = enrol_totp(user)
    return user


@pytest.fixture
def approver(db):
    """Admin: holds registrar.approve_operation."""
    user = UserFactory(username="boss", groups=[ADMIN])
    user.device = enrol_totp(user)
    return user


@pytest.fixture
def other_admin(db):
    user = UserFactory(username="boss2", groups=[ADMIN])
    user.device = enrol_totp(user)
    return user


def verified_now(user):
    """This unit of work acts as `user`, second factor given just now."""
    return assurance.acting(assurance.Channel.WEB, user=user, second_factor_at=timezone.now())


def verified_ago(user, seconds: float):
    return assurance.acting(assurance.Channel.WEB, user=user,
                            second_factor_at=timezone.now() - timedelta(seconds=seconds))


def request_clearance() -> approvals.Clearance:
    return approvals.Clearance(ticket=TICKET, verification=VERIFIED)


def upstream_path(registration: Registration, suffix: str) -> str:
    return f"/api/domain_registrations/{registration.upstream_id}{suffix}"


def sent_to(world, registration: Registration, method: str, suffix: str) -> list:
    path = upstream_path(registration, suffix)
    return [r for r in world.sandbox.transport.requests
            if r.method == method and r.url.path == path]


# --- step-up: every high-risk operation -------------------------------------------------

# name -> (run(world, user, clearance), the registration, the request it sends once it
# may go ahead, or None when it is filed for a second person / is local only).
STEP_UP_CASES = {
    "auth_code": (lambda w, u, c: services.registration_reveal_auth_code(
        registration=w.plain, actor=u, clearance=c), "plain", ("GET", "/epp_code")),
    "unlock": (lambda w, u, c: services.registration_set_lock(
        registration=w.plain, locked=False, actor=u, clearance=c), "plain",
        ("PATCH", "/lock")),
    "holder_edit_current": (lambda w, u, c: services.registration_update_holder(
        registration=w.plain, action_mode="edit_current", holder={"city": "Utrecht"},
        actor=u, clearance=c), "plain", ("PATCH", "/holder")),
    "holder_change": (lambda w, u, c: services.registration_update_holder(
        registration=w.plain, action_mode="change", source_contact=w.spare, actor=u,
        clearance=c), "plain", ("PATCH", "/holder")),
    "registrant_change": (lambda w, u, c: services.registration_order_registrant_change(
        registration=w.metered, new_contact=NEW_CONTACT, actor=u, clearance=c), "metered",
        None),
    "transfer_out_approve": (lambda w, u, c: services.registration_decide_transfer_out(
        registration=w.plain, decision="approve", actor=u, clearance=c), "plain", None),
    "push_transfer": (lambda w, u, c: services.registration_push_transfer(
        registration=w.plain, recipient="REG-IDS", actor=u, clearance=c), "plain", None),
    "dnssec_disable": (lambda w, u, c: services.registration_set_dnssec(
        registration=w.plain, mode="disable", actor=u, clearance=c), "plain",
        ("PATCH", "/dnssec")),
    "nameservers_of_locked": (lambda w, u, c: services.registration_set_nameservers(
        registration=w.plain, nameservers=["ns1.host.example", "ns2.host.example"],
        actor=u, clearance=c), "plain", ("PATCH", "/nameservers")),
    "clear_customer_flag": (lambda w, u, c: services.registration_set_customer_flag(
        registration=w.flagged, flagged=False, actor=u), "flagged", None),
}


def _actor_for(name: str, agent, approver):
    # Only the Admin role may set or clear the customer's flag.
    return approver if name == "clear_customer_flag" else agent


@pytest.mark.parametrize("name", sorted(STEP_UP_CASES))
def test_high_risk_operation_without_a_fresh_second_factor_is_refused(
        world, agent, approver, name):
    run, target_name, _ = STEP_UP_CASES[name]
    target = getattr(world, target_name)
    user = _actor_for(name, agent, approver)
    before = Registration.objects.filter(pk=target.pk).values().get()
    with pytest.raises(approvals.StepUpRequired) as refused:
        run(world, user, request_clearance())
    assert STEP_UP_TEXT in refused.value.message
    assert refused.value.field_errors["second_factor"]
    assert world.sandbox.transport.requests == []
    assert not StaffAction.objects.exists()
    assert not Approval.objects.exists()
    assert Registration.objects.filter(pk=target.pk).values().get() == before


@pytest.mark.parametrize("name", sorted(STEP_UP_CASES))
def test_high_risk_operation_goes_ahead_with_a_fresh_second_factor(
        world, agent, approver, name):
    run, target_name, request = STEP_UP_CASES[name]
    target = getattr(world, target_name)
    user = _actor_for(name, agent, approver)
    assert assurance.confirm_second_factor(user, totp_code(user.device))
    outcome = run(world, user, request_clearance())
    if request is not None:
        assert outcome.status in {"succeeded", "pending", "payment_required"}, outcome.message
        assert len(sent_to(world, target, *request)) == 1
    elif name == "clear_customer_flag":
        assert outcome.ok
        target.refresh_from_db()
        assert target.customer_flagged is False
        assert world.sandbox.transport.requests == []
    else:  # a two-person operation: filed, not refused
        assert outcome.status == "pending"
        assert Approval.objects.get().status == ApprovalStatus.PENDING
        assert world.sandbox.transport.requests == []


def test_a_step_up_older_than_the_max_age_is_refused(world, agent):
    with verified_ago(agent, MAX_AGE + 1), pytest.raises(approvals.StepUpRequired):
        services.registration_set_lock(registration=world.plain, locked=False, actor=agent)
    assert world.sandbox.transport.requests == []
    with verified_ago(agent, MAX_AGE - 30):
        outcome = services.registration_set_lock(registration=world.plain, locked=False,
                                                 actor=agent)
    assert outcome.ok, outcome.message
    assert len(sent_to(world, world.plain, "PATCH", "/lock")) == 1


def test_a_step_up_of_another_user_does_not_count(world, agent, approver):
    with verified_now(approver), pytest.raises(approvals.StepUpRequired):
        services.registration_reveal_auth_code(registration=world.plain, actor=agent)
    assert world.sandbox.transport.requests == []


def test_a_wrong_code_is_not_a_step_up(world, agent):
    good = totp_code(agent.device)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    assert not assurance.confirm_second_factor(agent, wrong)
    with pytest.raises(approvals.StepUpRequired):
        services.registration_set_lock(registration=world.plain, locked=False, actor=agent)
    assert world.sandbox.transport.requests == []


def test_step_up_applies_to_a_user_with_a_device_even_when_not_required(
        world, agent, settings):
    settings.STAFF_MFA_REQUIRED = False
    with pytest.raises(approvals.StepUpRequired):
        services.registration_set_lock(registration=world.plain, locked=False, actor=agent)
    assert world.sandbox.transport.requests == []
    # Without a device (the demo, second factors off) there is nothing to step up with.
    nodevice = UserFactory(username="demo-agent", groups=[SUPPORT])
    outcome = services.registration_set_lock(registration=world.plain, locked=False,
                                             actor=nodevice)
    assert outcome.ok, outcome.message
    assert len(sent_to(world, world.plain, "PATCH", "/lock")) == 1


# The other direction of the same pages is not high-risk: no step-up asked.
LOW_RISK = {
    "lock": lambda w, u: services.registration_set_lock(registration=w.flagged, locked=True,
                                                        actor=u),
    "transfer_out_reject": lambda w, u: services.registration_decide_transfer_out(
        registration=w.plain, decision="reject", reason="The holder disputes it.", actor=u),
    "nameservers_of_unlocked": lambda w, u: services.registration_set_nameservers(
        registration=w.unlocked, nameservers=["ns1.host.example", "ns2.host.example"], actor=u),
}


@pytest.mark.parametrize("name", sorted(LOW_RISK))
def test_the_other_direction_needs_no_step_up(world, agent, name):
    outcome = LOW_RISK[name](world, agent)
    assert outcome.status in {"succeeded", "pending"}, outcome.message
    assert world.sandbox.transport.mutations


# --- two-person approval, in the services ---------------------------------------------

# rule -> (request(world, user, clearance), the registration, the request its run sends)
TWO_PERSON_CASES = {
    "unlock_protected-customer_flag": (lambda w, u, c: services.registration_set_lock(
        registration=w.flagged, locked=False, actor=u, clearance=c), "flagged",
        ("PATCH", "/lock")),
    "registrant_change": (lambda w, u, c: services.registration_order_registrant_change(
        registration=w.metered, new_contact=NEW_CONTACT, actor=u, clearance=c), "metered",
        ("POST", "/registrant_change")),
    "registrant_change-existing_contact": (
        lambda w, u, c: services.registration_order_registrant_change(
            registration=w.metered, source_contact=w.spare, actor=u, clearance=c),
        "metered", ("POST", "/registrant_change")),
    "transfer_out_approve": (lambda w, u, c: services.registration_decide_transfer_out(
        registration=w.plain, decision="approve", actor=u, clearance=c), "plain",
        ("POST", "/transfer_out")),
    "push_transfer": (lambda w, u, c: services.registration_push_transfer(
        registration=w.plain, recipient="reg-ids", actor=u, clearance=c), "plain",
        ("POST", "/push_transfer")),
    "auth_code_flagged": (lambda w, u, c: services.registration_reveal_auth_code(
        registration=w.flagged, actor=u, clearance=c), "flagged", ("GET", "/epp_code")),
}


def ran_upstream(case: str, outcome) -> None:
    assert outcome.status in {"succeeded", "pending"}, outcome.message


def test_a_lock_the_registry_holds_cannot_be_lifted_here(world, agent, approver):
    """serverTransferProhibited is the registry's own lock: document 001 answers 422 to
    any lock toggle, so it is refused before anything is sent, and never filed for an
    approval that could only fail."""
    with verified_now(agent), pytest.raises(approvals.OperationRefused,
                                            match="lifted at the registry"):
        services.registration_set_lock(registration=world.protected, locked=False,
                                       actor=agent, clearance=request_clearance())
    assert not Approval.objects.exists() and world.sandbox.transport.requests == []


def file_request(world, user, case: str = "transfer_out_approve") -> Approval:
    run, _, _ = TWO_PERSON_CASES[case]
    with verified_now(user):
        outcome = run(world, user, request_clearance())
    assert outcome.status == "pending", outcome.message
    return Approval.objects.get(pk=outcome.data["approval_id"])


@pytest.mark.parametrize("case", sorted(TWO_PERSON_CASES))
def test_two_person_operation_runs_only_after_a_second_person_approves(
        world, agent, approver, case):
    run, target_name, (method, suffix) = TWO_PERSON_CASES[case]
    target = getattr(world, target_name)
    rule = case.split("-")[0]

    # Without the ticket and the verification: refused, naming both fields.
    with verified_now(agent), pytest.raises(approvals.ApprovalRequired) as refused:
        run(world, agent, None)
    assert set(refused.value.field_errors) == {"ticket", "verification"}
    assert "second person's approval" in refused.value.message
    assert not Approval.objects.exists() and world.sandbox.transport.requests == []

    # With them: a request, nothing sent.
    with verified_now(agent):
        filed = run(world, agent, request_clearance())
    assert filed.status == "pending"
    assert "waiting for a second person's approval" in filed.message
    approval = Approval.objects.get()
    assert filed.data == {"approval_id": approval.pk}
    assert (approval.status, approval.rule, approval.requested_by) == (
        ApprovalStatus.PENDING, rule, agent)
    assert (approval.ticket, approval.verification) == (TICKET, VERIFIED)
    assert approval.expires_at - approval.requested_at == timedelta(seconds=WINDOW)
    assert world.sandbox.transport.requests == []
    request_row = StaffAction.objects.get()
    assert request_row.action == "approval.request" and request_row.actor == agent
    assert request_row.outcome == "pending"
    assert request_row.parameters["approval"] == approval.pk
    assert request_row.parameters["rule"] == rule
    assert request_row.parameters["ticket"] == TICKET

    # A second person approves, with a fresh second factor: it runs, as the requester.
    with verified_now(approver):
        outcome = approvals.approve(approval=approval, approver=approver, note="Checked.")
    ran_upstream(case, outcome)
    assert len(sent_to(world, target, method, suffix)) == 1
    assert len(world.sandbox.transport.mutations) == (0 if method == "GET" else 1)
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.APPROVED
    assert approval.decided_by == approver and approval.decided_at is not None
    assert approval.executed_at is not None
    assert approval.outcome == str(outcome.status)
    assert approval.decision_note == "Checked."
    approve_row = StaffAction.objects.get(action="approval.approve")
    assert approve_row.actor == approver
    assert approve_row.parameters["requested_by"] == "agent"
    operation_row = StaffAction.objects.get(action__startswith="registration.")
    assert operation_row.actor == agent
    assert operation_row.target_id == str(target.pk)
    assert operation_row.parameters["approval"] == approval.pk
    assert operation_row.parameters["requested_by"] == "agent"
    assert operation_row.parameters["approved_by"] == "boss"
    assert operation_row.parameters["ticket"] == TICKET
    if rule == "auth_code_flagged":
        code = outcome.data["authcode"]
        assert code and code not in str(operation_row.parameters)
        assert code not in approval.outcome_message


@pytest.mark.parametrize("case", sorted(TWO_PERSON_CASES))
def test_with_the_rule_off_the_operation_runs_at_once(world, agent, settings, case):
    settings.TWO_PERSON_OPERATIONS = []
    run, target_name, (method, suffix) = TWO_PERSON_CASES[case]
    with verified_now(agent):
        outcome = run(world, agent, None)
    ran_upstream(case, outcome)
    assert len(sent_to(world, getattr(world, target_name), method, suffix)) == 1
    assert not Approval.objects.exists()


# The rules a registrar may add (off by default): the request is replayed as asked.
OPTIONAL_RULES = {
    "unlock": (lambda w, u, c: services.registration_set_lock(
        registration=w.plain, locked=False, actor=u, clearance=c), ("PATCH", "/lock")),
    "auth_code": (lambda w, u, c: services.registration_reveal_auth_code(
        registration=w.plain, actor=u, clearance=c), ("GET", "/epp_code")),
    "holder_change-edit_current": (lambda w, u, c: services.registration_update_holder(
        registration=w.plain, action_mode="edit_current", holder={"city": "Utrecht"},
        actor=u, clearance=c), ("PATCH", "/holder")),
    "holder_change-change": (lambda w, u, c: services.registration_update_holder(
        registration=w.plain, action_mode="change", source_contact=w.spare, actor=u,
        clearance=c), ("PATCH", "/holder")),
}


@pytest.mark.parametrize("rule", sorted(OPTIONAL_RULES))
def test_an_optional_rule_files_and_replays_the_operation(
        world, agent, approver, settings, rule):
    settings.TWO_PERSON_OPERATIONS = [rule.split("-")[0]]
    run, (method, suffix) = OPTIONAL_RULES[rule]
    with verified_now(agent):
        filed = run(world, agent, request_clearance())
    assert filed.status == "pending" and world.sandbox.transport.requests == []
    approval = Approval.objects.get()
    with verified_now(approver):
        outcome = approvals.approve(approval=approval, approver=approver)
    assert outcome.status in {"succeeded", "pending"}, outcome.message
    assert len(sent_to(world, world.plain, method, suffix)) == 1
    operation_row = StaffAction.objects.get(action__startswith="registration.")
    assert operation_row.parameters["approved_by"] == "boss"


def test_unlock_of_a_plain_registration_needs_no_second_person(world, agent):
    with verified_now(agent):
        outcome = services.registration_set_lock(registration=world.plain, locked=False,
                                                 actor=agent)
    assert outcome.ok and not Approval.objects.exists()
    assert len(sent_to(world, world.plain, "PATCH", "/lock")) == 1


def test_self_approval_is_refused(world, approver):
    approval = file_request(world, approver)
    with verified_now(approver), pytest.raises(approvals.ApprovalUnusable,
                                               match="cannot approve or decline your own"):
        approvals.approve(approval=approval, approver=approver)
    with verified_now(approver), pytest.raises(approvals.ApprovalUnusable):
        approvals.decline(approval=approval, approver=approver)
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING and approval.decided_by is None
    assert world.sandbox.transport.requests == []
    assert list(approvals.pending_for(approver)) == []


def test_an_expired_request_is_refused_and_marked_expired(world, agent, approver):
    approval = file_request(world, agent)
    Approval.objects.filter(pk=approval.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1))
    with verified_now(approver), pytest.raises(approvals.ApprovalUnusable, match="expired"):
        approvals.approve(approval=approval, approver=approver)
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.EXPIRED and approval.executed_at is None
    expired = StaffAction.objects.get(action="approval.expired")
    assert expired.actor == approver and expired.parameters["approval"] == approval.pk
    assert world.sandbox.transport.requests == []
    assert not StaffAction.objects.filter(action="approval.approve").exists()
    # Once expired, it stays refused.
    with verified_now(approver), pytest.raises(approvals.ApprovalUnusable, match="expired"):
        approvals.approve(approval=approval, approver=approver)
    assert world.sandbox.transport.requests == []


def test_approval_just_inside_the_window_runs(world, agent, approver):
    approval = file_request(world, agent)
    Approval.objects.filter(pk=approval.pk).update(
        requested_at=timezone.now() - timedelta(seconds=WINDOW - 60),
        expires_at=timezone.now() + timedelta(seconds=60))
    with verified_now(approver):
        outcome = approvals.approve(approval=approval, approver=approver)
    assert outcome.status in {"succeeded", "pending"}, outcome.message
    assert len(sent_to(world, world.plain, "POST", "/transfer_out")) == 1


def test_an_approval_runs_once(world, agent, approver, other_admin):
    approval = file_request(world, agent)
    with verified_now(approver):
        approvals.approve(approval=approval, approver=approver)
    assert len(world.sandbox.transport.mutations) == 1
    with verified_now(other_admin), pytest.raises(approvals.ApprovalUnusable,
                                                  match="already"):
        approvals.approve(approval=approval, approver=other_admin)
    # Nor can the approved request be handed to the service a second time.
    approval.refresh_from_db()
    Registration.objects.filter(pk=world.plain.pk).update(transfer_out_pending=True)
    with verified_now(approver), pytest.raises(approvals.ApprovalUnusable):
        services.registration_decide_transfer_out(
            registration=world.plain, decision="approve", actor=agent,
            clearance=approvals.Clearance(approval=approval))
    assert len(world.sandbox.transport.mutations) == 1
    assert StaffAction.objects.filter(action="approval.approve").count() == 1


def test_an_approved_request_that_can_no_longer_run_is_refused_and_recorded(
        world, agent, approver):
    approval = file_request(world, agent)
    # The gaining registrar withdrew the transfer while the request waited.
    Registration.objects.filter(pk=world.plain.pk).update(transfer_out_pending=False)
    with verified_now(approver), pytest.raises(approvals.OperationRefused,
                                               match="No outbound transfer is waiting"):
        approvals.approve(approval=approval, approver=approver)
    assert world.sandbox.transport.requests == []
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.APPROVED and approval.outcome == "refused"
    assert "No outbound transfer is waiting" in approval.outcome_message
    assert approval.executed_at is not None  # used up: it cannot be run later


def test_decline_sends_nothing(world, agent, approver):
    approval = file_request(world, agent)
    with verified_now(approver):
        declined = approvals.decline(approval=approval, approver=approver,
                                     note="The caller could not give the PIN.")
    assert declined.status == ApprovalStatus.DECLINED and declined.decided_by == approver
    assert world.sandbox.transport.requests == []
    row = StaffAction.objects.get(action="approval.decline")
    assert row.actor == approver and row.parameters["note"] == (
        "The caller could not give the PIN.")
    assert "Nothing was sent" in row.message
    with verified_now(approver), pytest.raises(approvals.ApprovalUnusable, match="declined"):
        approvals.approve(approval=approval, approver=approver)
    assert world.sandbox.transport.requests == []


def test_approving_needs_the_permission(world, agent):
    colleague = UserFactory(username="agent2", groups=[SUPPORT])
    approval = file_request(world, agent)
    with verified_now(colleague), pytest.raises(PermissionDenied):
        approvals.approve(approval=approval, approver=colleague)
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING
    assert world.sandbox.transport.requests == []


def test_a_run_refused_for_the_requesters_permission_is_recorded(world, agent, approver):
    approval = file_request(world, agent)
    agent.groups.clear()  # moved out of Support before the approval
    with verified_now(approver), pytest.raises((approvals.OperationRefused, PermissionDenied)):
        approvals.approve(approval=approval, approver=approver)
    assert world.sandbox.transport.requests == []
    approval.refresh_from_db()
    assert approval.outcome == "refused"
    assert "permission" in approval.outcome_message


def test_approving_needs_a_fresh_second_factor(world, agent, approver):
    approval = file_request(world, agent)
    with verified_ago(approver, MAX_AGE + 1), pytest.raises(approvals.StepUpRequired):
        approvals.approve(approval=approval, approver=approver)
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING and approval.decided_by is None
    assert world.sandbox.transport.requests == []


def test_a_second_request_for_the_same_operation_is_refused_while_one_waits(
        world, agent):
    first = file_request(world, agent)
    with verified_now(agent), pytest.raises(approvals.OperationRefused,
                                            match=f"request #{first.pk}"):
        services.registration_decide_transfer_out(
            registration=world.plain, decision="approve", actor=agent,
            clearance=request_clearance())
    assert Approval.objects.count() == 1


def test_pending_for_lists_others_open_requests_only(world, agent, approver):
    open_one = file_request(world, agent)
    expired = file_request(world, agent, "push_transfer")
    Approval.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1))
    own = file_request(world, approver, "auth_code_flagged")
    assert list(approvals.pending_for(approver)) == [open_one]
    assert list(approvals.pending_for(agent)) == [own]


# --- transfer-out rejection needs its reason --------------------------------------------


def test_transfer_out_rejection_needs_a_reason(world, agent):
    with pytest.raises(InvalidInput) as refused:
        services.registration_decide_transfer_out(registration=world.plain,
                                                  decision="reject", reason="  ", actor=agent)
    assert "reason" in refused.value.field_errors
    assert world.sandbox.transport.requests == []
    outcome = services.registration_decide_transfer_out(
        registration=world.plain, decision="reject", reason="Holder disputes the transfer.",
        actor=agent)
    assert outcome.status in {"succeeded", "pending"}, outcome.message
    assert len(sent_to(world, world.plain, "POST", "/transfer_out")) == 1
    row = StaffAction.objects.get(action="registration.transfer_out")
    assert row.parameters["decision"] == "reject"
    assert row.parameters["reason"] == "Holder disputes the transfer."


# --- the command line ---------------------------------------------------------------------


def run_command(capsys, *args: str) -> str:
    call_command(*args)
    return capsys.readouterr().out


def failing_command(capsys, match: str, *args: str) -> str:
    with pytest.raises(CommandError, match=match):
        call_command(*args)
    return capsys.readouterr().out


# name -> (arguments after "registration", the registration, the request it sends)
CLI_STEP_UP = {
    "unlock": (["unlock", "example.com"], ("PATCH", "/lock")),
    "auth-code": (["auth-code", "example.com"], ("GET", "/epp_code")),
    "holder-edit": (["holder", "example.com", "--mode", "edit_current", "--field",
                     "city=Utrecht"], ("PATCH", "/holder")),
    "holder-change": (["holder", "example.com", "--mode", "change", "--source-contact",
                       "{spare}"], ("PATCH", "/holder")),
    "transfer-out-approve": (["transfer-out", "approve", "example.com"], None),
    "push-transfer": (["push-transfer", "example.com", "--recipient", "REG-IDS"], None),
    "dnssec-disable": (["dnssec", "disable", "example.com"], ("PATCH", "/dnssec")),
    "nameservers-of-locked": (["nameservers", "example.com", "--ns", "ns1.host.example",
                               "--ns", "ns2.host.example"], ("PATCH", "/nameservers")),
}


def cli_args(world, name: str) -> list[str]:
    args, _ = CLI_STEP_UP[name]
    return [a.format(spare=world.spare.pk) for a in args]


@pytest.mark.parametrize("name", sorted(CLI_STEP_UP))
def test_cli_high_risk_operation_without_otp_is_refused(world, agent, capsys, name):
    out = failing_command(capsys, "1 of 1 name", "registration", *cli_args(world, name),
                          "--as", "agent", "--ticket", TICKET, "--reason", VERIFIED)
    assert "example.com: refused" in out and STEP_UP_TEXT in out
    assert world.sandbox.transport.requests == []
    assert not StaffAction.objects.exists() and not Approval.objects.exists()


@pytest.mark.parametrize("name", sorted(CLI_STEP_UP))
def test_cli_high_risk_operation_with_a_wrong_otp_is_refused(world, agent, capsys, name):
    wrong = f"{(int(totp_code(agent.device)) + 1) % 1_000_000:06d}"
    failing_command(capsys, "--otp: that code is not valid", "registration",
                    *cli_args(world, name), "--as", "agent", "--otp", wrong)
    assert world.sandbox.transport.requests == []
    assert not StaffAction.objects.exists()


@pytest.mark.parametrize("name", sorted(CLI_STEP_UP))
def test_cli_high_risk_operation_with_a_current_otp_goes_ahead(world, agent, capsys, name):
    _, request = CLI_STEP_UP[name]
    out = run_command(capsys, "registration", *cli_args(world, name), "--as", "agent",
                      "--otp", totp_code(agent.device), "--ticket", TICKET,
                      "--reason", VERIFIED)
    assert "refused" not in out.split("Summary")[0]
    if request is None:  # a two-person operation: filed
        assert "example.com: pending" in out and "second person's approval" in out
        assert Approval.objects.get().requested_by == agent
        assert world.sandbox.transport.requests == []
    else:
        assert len(sent_to(world, world.plain, *request)) == 1


def test_cli_otp_once_covers_every_name_of_the_run(world, agent, capsys):
    others = [RegistrationFactory(name=f"bulk{n}.com", tld=world.plain.tld, locked=True)
              for n in range(2)]
    world.sandbox.seed()
    world.sandbox.transport.requests.clear()
    out = run_command(capsys, "registration", "unlock", "example.com", "bulk0.com",
                      "bulk1.com", "--as", "agent", "--otp", totp_code(agent.device))
    assert "3 succeeded" in out
    for registration in [world.plain, *others]:
        assert len(sent_to(world, registration, "PATCH", "/lock")) == 1


# name -> (arguments after "registration", the registration, the request its run sends)
CLI_TWO_PERSON = {
    "unlock-protected": (["unlock", "flagged.com"], "flagged", ("PATCH", "/lock")),
    "unlock-flagged": (["unlock", "flagged.com"], "flagged", ("PATCH", "/lock")),
    "transfer-out-approve": (["transfer-out", "approve", "example.com"], "plain",
                             ("POST", "/transfer_out")),
    "push-transfer": (["push-transfer", "example.com", "--recipient", "REG-IDS"], "plain",
                      ("POST", "/push_transfer")),
    "auth-code-flagged": (["auth-code", "flagged.com"], "flagged", ("GET", "/epp_code")),
}


def cli_request(capsys, world, user, name: str = "transfer-out-approve") -> Approval:
    args, _, _ = CLI_TWO_PERSON[name]
    out = run_command(capsys, "registration", *args, "--as", user.username,
                      "--otp", totp_code(user.device), "--ticket", TICKET,
                      "--reason", VERIFIED)
    assert ": pending" in out, out
    return Approval.objects.get(requested_by=user, status=ApprovalStatus.PENDING)


@pytest.mark.parametrize("name", sorted(CLI_TWO_PERSON))
def test_cli_two_person_operation_runs_once_approved(world, agent, approver, capsys, name):
    args, target_name, (method, suffix) = CLI_TWO_PERSON[name]
    target = getattr(world, target_name)

    out = failing_command(capsys, "1 of 1 name", "registration", *args, "--as", "agent",
                          "--otp", totp_code(agent.device))
    assert "refused" in out and "ticket" in out and "verified" in out
    assert not Approval.objects.exists() and world.sandbox.transport.requests == []

    # A later TOTP step: the code above is used up.
    out = run_command(capsys, "registration", *args, "--as", "agent", "--otp",
                      totp_code(agent.device, at=timezone.now().timestamp() + 30),
                      "--ticket", TICKET, "--reason", VERIFIED)
    approval = Approval.objects.get()
    assert f"request #{approval.pk}" in out and "Nothing was sent to the registrar yet" in out
    assert "1 pending" in out
    assert world.sandbox.transport.requests == []

    listing = run_command(capsys, "approval", "list", "--as", "boss")
    assert f"#{approval.pk}  {approval.summary}  asked by agent" in listing
    assert f"ticket {TICKET}" in listing and "ago" in listing and "left" in listing
    assert "1 request(s) waiting for you." in listing
    rows = json.loads(run_command(capsys, "approval", "list", "--as", "boss", "--format",
                                  "json"))
    assert [(row["id"], row["requested_by"], row["ticket"]) for row in rows] == [
        (approval.pk, "agent", TICKET)]

    approve = ["approval", "approve", str(approval.pk), "--as", "boss", "--otp",
               totp_code(approver.device), "--note", "Checked the ticket."]
    out = run_command(capsys, *approve)
    assert f"Request #{approval.pk} approved" in out
    assert len(sent_to(world, target, method, suffix)) == 1
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.APPROVED and approval.decided_by == approver
    row = StaffAction.objects.get(action__startswith="registration.")
    assert row.actor == agent and row.channel == assurance.Channel.CLI
    assert (row.parameters["approval"], row.parameters["requested_by"],
            row.parameters["approved_by"], row.parameters["ticket"]) == (
        approval.pk, "agent", "boss", TICKET)
    if name == "auth-code-flagged":
        assert "Auth code: " in out
        assert out.split("Auth code: ")[1].strip()
    assert "0 request(s) waiting" in run_command(capsys, "approval", "list", "--as", "boss")


def test_cli_approve_without_otp_is_refused(world, agent, approver, capsys):
    approval = cli_request(capsys, world, agent)
    failing_command(capsys, STEP_UP_TEXT, "approval", "approve", str(approval.pk),
                    "--as", "boss")
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING
    assert world.sandbox.transport.requests == []


def test_cli_approve_with_a_wrong_otp_is_refused(world, agent, approver, capsys):
    approval = cli_request(capsys, world, agent)
    wrong = f"{(int(totp_code(approver.device)) + 1) % 1_000_000:06d}"
    failing_command(capsys, "--otp: that code is not valid", "approval", "approve",
                    str(approval.pk), "--as", "boss", "--otp", wrong)
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING
    assert world.sandbox.transport.requests == []


def test_cli_self_approval_is_refused(world, approver, capsys):
    approval = cli_request(capsys, world, approver)
    assert "0 request(s) waiting" in run_command(capsys, "approval", "list", "--as", "boss")
    failing_command(capsys, "cannot approve or decline your own request", "approval",
                    "approve", str(approval.pk), "--as", "boss", "--otp",
                    totp_code(approver.device, at=timezone.now().timestamp() + 30))
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING
    assert world.sandbox.transport.requests == []


def test_cli_expired_request_is_refused(world, agent, approver, capsys):
    approval = cli_request(capsys, world, agent)
    Approval.objects.filter(pk=approval.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1))
    assert "0 request(s) waiting" in run_command(capsys, "approval", "list", "--as", "boss")
    failing_command(capsys, "expired", "approval", "approve", str(approval.pk), "--as",
                    "boss", "--otp", totp_code(approver.device))
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.EXPIRED
    assert StaffAction.objects.filter(action="approval.expired").count() == 1
    assert world.sandbox.transport.requests == []


def test_cli_second_approve_is_refused(world, agent, approver, other_admin, capsys):
    approval = cli_request(capsys, world, agent)
    run_command(capsys, "approval", "approve", str(approval.pk), "--as", "boss", "--otp",
                totp_code(approver.device))
    assert len(world.sandbox.transport.mutations) == 1
    failing_command(capsys, "already approved", "approval", "approve", str(approval.pk),
                    "--as", "boss2", "--otp", totp_code(other_admin.device))
    assert len(world.sandbox.transport.mutations) == 1


def test_cli_decline_sends_nothing(world, agent, approver, capsys):
    approval = cli_request(capsys, world, agent)
    out = run_command(capsys, "approval", "decline", str(approval.pk), "--as", "boss",
                      "--note", "Caller failed the PIN check.")
    assert f"Request #{approval.pk} declined. Nothing was sent to the registrar." in out
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.DECLINED
    assert StaffAction.objects.get(action="approval.decline").actor == approver
    assert world.sandbox.transport.requests == []


def test_cli_support_may_not_decide(world, agent, capsys):
    approval = cli_request(capsys, world, agent)
    for verb in (["list"], ["approve", str(approval.pk)], ["decline", str(approval.pk)]):
        failing_command(capsys, "agent is not allowed to decide requests", "approval", *verb,
                        "--as", "agent")
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING
    assert world.sandbox.transport.requests == []


def test_cli_unknown_request(world, approver, capsys):
    failing_command(capsys, "No request #999999", "approval", "approve", "999999",
                    "--as", "boss")


def test_cli_transfer_out_reject_needs_a_reason(world, agent, capsys):
    failing_command(capsys, "transfer-out reject needs --reason", "registration",
                    "transfer-out", "reject", "example.com", "--as", "agent")
    assert world.sandbox.transport.requests == []
    out = run_command(capsys, "registration", "transfer-out", "reject", "example.com",
                      "--as", "agent", "--reason", "Holder disputes the transfer.")
    assert "refused" not in out.split("Summary")[0]
    assert len(sent_to(world, world.plain, "POST", "/transfer_out")) == 1
    row = StaffAction.objects.get(action="registration.transfer_out")
    assert row.parameters["reason"] == "Holder disputes the transfer."
