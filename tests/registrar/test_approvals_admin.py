"""Step-up and two-person approval in the admin, through the Django test client: the
code field on each high-risk page, the request a first person files, the list and the
decide page a second person uses, and what reached the sandbox."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from backoffice import assurance
from backoffice.models import StaffAction
from backoffice.roles import ADMIN, SUPPORT
from registrar.models import Approval, ApprovalStatus
from tests.factories import RegistrationFactory, UserFactory
from tests.mfa import login_verified, totp_code
from tests.registrar.test_admin_operations import change_url, op_url
from tests.registrar.test_approvals import (
    MAX_AGE,
    NEW_CONTACT,
    TICKET,
    VERIFIED,
    WINDOW,
    apply_production_rules,
    build_world,
    sent_to,
)

CODE_MISSING = "Enter a current code from your authenticator app, or a backup code."
CODE_WRONG = "That code is not valid (or was already used)."


@pytest.fixture(autouse=True)
def _own_acting_context():
    """A second factor noted in one test must not count for a later one."""
    with assurance.acting(assurance.Channel.CLI):
        yield


@pytest.fixture
def world(sandbox, settings):
    """The services tests' registrations (tests/registrar/test_approvals.py), with the
    production rules."""
    apply_production_rules(settings)
    return build_world(sandbox)


@pytest.fixture
def agent(db):
    return UserFactory(username="agent", groups=[SUPPORT])


@pytest.fixture
def approver(db):
    return UserFactory(username="boss", groups=[ADMIN])


@pytest.fixture
def agent_client(agent):
    client = Client()
    client.device = login_verified(client, agent)
    return client


@pytest.fixture
def approver_client(approver):
    client = Client()
    client.device = login_verified(client, approver)
    return client


def stale(client: Client, seconds: float = MAX_AGE + 60) -> None:
    """The session's second factor was given `seconds` ago (it still counts as verified
    for signing in; a high-risk operation wants a fresher one)."""
    session = client.session
    session[assurance.SESSION_KEY] = (timezone.now() - timedelta(seconds=seconds)).isoformat()
    session.save()


def wrong_code(client: Client) -> str:
    return f"{(int(totp_code(client.device)) + 1) % 1_000_000:06d}"




def decide_url(approval: Approval) -> str:
    return reverse("admin:registrar_approval_decide", args=[approval.pk])


LIST_URL = "/admin/registrar/approval/"
CHANGELIST = "admin:registrar_registration_changelist"


def changes_sent(world) -> list:
    """What would change or give away something upstream: every write, and the auth
    code's read (some pages read details from the registrar to show them)."""
    return [r for r in world.sandbox.transport.requests
            if r.method != "GET" or r.url.path.endswith("/epp_code")]


def page_text(response) -> str:
    return response.content.decode()


# --- step-up on every high-risk page ------------------------------------------------------

# name -> (page, form data, the registration, the request it sends when it may go ahead
# or None when it is filed for a second person)
PAGES = {
    "auth_code": ("auth_code", {"confirm": "on"}, "plain", ("GET", "/epp_code")),
    "unlock": ("lock", {"enabled": "0"}, "plain", ("PATCH", "/lock")),
    "holder_edit_current": ("holder", {"action_mode": "edit_current", "city": "Utrecht"},
                            "plain", ("PATCH", "/holder")),
    "holder_change": ("holder", {"action_mode": "change", "source_contact": "{spare}"},
                      "plain", ("PATCH", "/holder")),
    "registrant_change": ("registrant_change", NEW_CONTACT, "metered", None),
    "transfer_out_approve": ("transfer_out", {"decision": "approve"}, "plain", None),
    "push_transfer": ("push_transfer", {"recipient": "REG-IDS"}, "plain", None),
    "dnssec_disable": ("dnssec", {"mode": "disable"}, "plain", ("PATCH", "/dnssec")),
    "nameservers_of_locked": ("nameservers", {
        "nameservers": "ns1.host.example\nns2.host.example"}, "plain",
        ("PATCH", "/nameservers")),
}


def form_of(world, name: str, **extra) -> dict:
    _, data, _, _ = PAGES[name]
    return {**{k: v.format(spare=world.spare.pk) for k, v in data.items()}, **extra}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_page_without_a_fresh_second_factor_asks_for_the_code(world, agent_client, name):
    page, _, target_name, _ = PAGES[name]
    target = getattr(world, target_name)
    stale(agent_client)
    shown = agent_client.get(op_url(target, page))
    assert 'name="second_factor"' in page_text(shown)
    response = agent_client.post(op_url(target, page), form_of(
        world, name, ticket=TICKET, verification=VERIFIED))
    assert response.status_code == 200
    assert response.context["form"].errors["second_factor"] == [CODE_MISSING]
    assert escape(CODE_MISSING) in page_text(response)
    assert changes_sent(world) == []
    assert not StaffAction.objects.exists() and not Approval.objects.exists()


@pytest.mark.parametrize("name", sorted(PAGES))
def test_page_with_a_wrong_code_shows_a_field_error_and_sends_nothing(
        world, agent_client, name):
    page, _, target_name, _ = PAGES[name]
    stale(agent_client)
    response = agent_client.post(op_url(getattr(world, target_name), page), form_of(
        world, name, second_factor=wrong_code(agent_client), ticket=TICKET,
        verification=VERIFIED))
    assert response.status_code == 200
    errors = response.context["form"].errors["second_factor"]
    assert errors and errors[0].startswith(CODE_WRONG)
    assert changes_sent(world) == []
    assert not StaffAction.objects.exists() and not Approval.objects.exists()


@pytest.mark.parametrize("name", sorted(PAGES))
def test_page_with_a_current_code_goes_ahead(world, agent_client, name):
    page, _, target_name, request = PAGES[name]
    target = getattr(world, target_name)
    stale(agent_client)
    response = agent_client.post(op_url(target, page), form_of(
        world, name, second_factor=totp_code(agent_client.device), ticket=TICKET,
        verification=VERIFIED))
    assert response.status_code in (200, 302)
    if response.status_code == 200:  # the auth code, shown on this response only
        assert name == "auth_code" and 'id="authcode"' in page_text(response)
    if request is None:
        assert response.status_code == 302
        assert Approval.objects.get().status == ApprovalStatus.PENDING
        assert changes_sent(world) == []
    else:
        assert len(sent_to(world, target, *request)) == 1
    # The code counts for the next few minutes: the next page asks for none.
    assert 'name="second_factor"' not in page_text(agent_client.get(op_url(target, page)))


def test_a_fresh_session_is_not_asked_for_a_code(world, agent_client):
    shown = agent_client.get(op_url(world.plain, "lock"))
    assert 'name="second_factor"' not in page_text(shown)
    response = agent_client.post(op_url(world.plain, "lock"), {"enabled": "0"})
    assert response.status_code == 302
    assert len(sent_to(world, world.plain, "PATCH", "/lock")) == 1


def test_a_step_up_just_inside_the_max_age_still_counts(world, agent_client):
    stale(agent_client, seconds=MAX_AGE - 30)
    response = agent_client.post(op_url(world.plain, "lock"), {"enabled": "0"})
    assert response.status_code == 302
    assert len(sent_to(world, world.plain, "PATCH", "/lock")) == 1


def test_a_page_that_is_not_high_risk_asks_for_no_code(world, agent_client):
    stale(agent_client)
    response = agent_client.post(op_url(world.unlocked, "nameservers"), {
        "nameservers": "ns1.host.example\nns2.host.example"})
    assert response.status_code == 302
    assert len(sent_to(world, world.unlocked, "PATCH", "/nameservers")) == 1


# --- bulk unlock and clearing the customer flag --------------------------------------------


def test_bulk_unlock_asks_for_the_code_once_then_runs_all(world, agent_client):
    others = [RegistrationFactory(name=f"bulk{n}.com", tld=world.plain.tld, locked=True)
              for n in range(2)]
    world.sandbox.seed()
    world.sandbox.transport.requests.clear()
    targets = [world.plain, *others]
    selected = [r.pk for r in targets]
    stale(agent_client)
    url = reverse(CHANGELIST)
    confirm = agent_client.post(url, {"action": "bulk_unlock", "_selected_action": selected})
    assert 'id="bulk-second-factor"' in page_text(confirm)
    missing = agent_client.post(url, {"action": "bulk_unlock", "_selected_action": selected,
                                      "post": "yes"})
    assert 'id="bulk-second-factor"' in page_text(missing)
    assert escape(CODE_MISSING) in page_text(missing)
    assert changes_sent(world) == []
    report = agent_client.post(url, {"action": "bulk_unlock", "_selected_action": selected,
                                     "post": "yes",
                                     "second_factor": totp_code(agent_client.device)})
    html = page_text(report)
    assert html.count('class="outcome-succeeded"') == 3
    assert 'class="outcome-refused"' not in html
    for registration in targets:
        assert len(sent_to(world, registration, "PATCH", "/lock")) == 1
        registration.refresh_from_db()
        assert registration.locked is False


def test_bulk_unlock_refuses_a_protected_registration_without_a_request(
        world, agent_client):
    url = reverse(CHANGELIST)
    report = agent_client.post(url, {"action": "bulk_unlock", "post": "yes",
                                     "_selected_action": [world.plain.pk, world.flagged.pk]})
    html = page_text(report)
    assert html.count('class="outcome-succeeded"') == 1
    assert html.count('class="outcome-refused"') == 1
    assert "second person" in html
    assert len(sent_to(world, world.plain, "PATCH", "/lock")) == 1
    assert sent_to(world, world.flagged, "PATCH", "/lock") == []
    assert not Approval.objects.exists()


def test_bulk_unflag_needs_a_fresh_second_factor(world, approver_client):
    stale(approver_client)
    url = reverse(CHANGELIST)
    selected = [world.flagged.pk]
    missing = approver_client.post(url, {"action": "bulk_unflag", "post": "yes",
                                         "_selected_action": selected})
    assert escape(CODE_MISSING) in page_text(missing)
    world.flagged.refresh_from_db()
    assert world.flagged.customer_flagged is True
    assert not StaffAction.objects.exists()
    report = approver_client.post(url, {"action": "bulk_unflag", "post": "yes",
                                        "_selected_action": selected,
                                        "second_factor": totp_code(approver_client.device)})
    assert 'class="outcome-succeeded"' in page_text(report)
    world.flagged.refresh_from_db()
    assert world.flagged.customer_flagged is False
    assert StaffAction.objects.get().action == "registration.customer_flag"
    assert changes_sent(world) == []


def test_bulk_flag_needs_no_code(world, approver_client):
    stale(approver_client)
    report = approver_client.post(reverse(CHANGELIST), {
        "action": "bulk_flag", "post": "yes", "_selected_action": [world.plain.pk]})
    assert 'class="outcome-succeeded"' in page_text(report)
    world.plain.refresh_from_db()
    assert world.plain.customer_flagged is True


# --- two-person approval through the admin ---------------------------------------------------

# case -> (page, form data, the registration, the request its run sends)
TWO_PERSON = {
    "unlock_protected-customer_flag": ("lock", {"enabled": "0"}, "flagged",
                                       ("PATCH", "/lock")),
    "registrant_change": ("registrant_change", NEW_CONTACT, "metered",
                          ("POST", "/registrant_change")),
    "transfer_out_approve": ("transfer_out", {"decision": "approve"}, "plain",
                             ("POST", "/transfer_out")),
    "push_transfer": ("push_transfer", {"recipient": "REG-IDS"}, "plain",
                      ("POST", "/push_transfer")),
    "auth_code_flagged": ("auth_code", {"confirm": "on"}, "flagged", ("GET", "/epp_code")),
}


def file_on_page(world, client, case: str = "transfer_out_approve") -> Approval:
    page, data, target_name, _ = TWO_PERSON[case]
    response = client.post(op_url(getattr(world, target_name), page),
                           {**data, "ticket": TICKET, "verification": VERIFIED})
    assert response.status_code == 302, response.context and response.context["form"].errors
    return Approval.objects.get(status=ApprovalStatus.PENDING)


@pytest.mark.parametrize("case", sorted(TWO_PERSON))
def test_two_person_operation_runs_once_a_second_person_approves(
        world, agent, approver, agent_client, approver_client, case):
    page, data, target_name, (method, suffix) = TWO_PERSON[case]
    target = getattr(world, target_name)
    url = op_url(target, page)

    shown = page_text(agent_client.get(url))
    assert 'name="ticket"' in shown and 'name="verification"' in shown
    missing = agent_client.post(url, data)
    assert missing.status_code == 200
    errors = missing.context["form"].errors
    assert errors["ticket"] == ["Give the support ticket this request belongs to."]
    assert errors["verification"] == ["Say how the customer was verified."]
    assert not Approval.objects.exists() and changes_sent(world) == []

    filed = agent_client.post(url, {**data, "ticket": TICKET, "verification": VERIFIED},
                              follow=True)
    approval = Approval.objects.get()
    assert filed.redirect_chain[-1][0] == change_url(target)
    assert f"waiting for a second person&#x27;s approval (request #{approval.pk}" in (
        page_text(filed))
    assert approval.requested_by == agent and approval.status == ApprovalStatus.PENDING
    assert approval.rule == case.split("-")[0]
    assert changes_sent(world) == []
    assert StaffAction.objects.get().action == "approval.request"

    # The approver finds it in the list, with its age, and opens it.
    listing = page_text(approver_client.get(LIST_URL))
    assert escape(approval.summary) in listing and "ago" in listing
    assert decide_url(approval) in listing
    decide_page = page_text(approver_client.get(decide_url(approval)))
    assert TICKET in decide_page and escape(VERIFIED) in decide_page
    assert 'name="second_factor"' not in decide_page  # their factor is fresh
    assert changes_sent(world) == []

    response = approver_client.post(decide_url(approval), {"decision": "approve",
                                                           "note": "Rang the customer."})
    assert len(sent_to(world, target, method, suffix)) == 1
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.APPROVED and approval.decided_by == approver
    assert approval.executed_at is not None
    row = StaffAction.objects.get(action__startswith="registration.")
    assert row.actor == agent and row.channel == assurance.Channel.WEB
    assert (row.parameters["approval"], row.parameters["requested_by"],
            row.parameters["approved_by"], row.parameters["ticket"]) == (
        approval.pk, "agent", "boss", TICKET)
    assert StaffAction.objects.get(action="approval.approve").actor == approver
    if case == "auth_code_flagged":
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"]
        html = page_text(response)
        code = re.search(r'<code id="authcode"[^>]*>([^<]+)</code>', html).group(1)
        assert code and code not in str(row.parameters)
        # Shown once: the request page never shows it again.
        again = page_text(approver_client.get(decide_url(approval)))
        assert code not in again and 'id="approval-problem"' in again
        assert code not in page_text(agent_client.get(change_url(target)))
    else:
        assert response.status_code == 302
        assert response["Location"] == change_url(target)
        shown = page_text(approver_client.get(response["Location"]))
        assert 'class="error"' not in shown


def test_the_pending_list_shows_age_and_expiry(world, agent_client, approver_client):
    approval = file_on_page(world, agent_client)
    Approval.objects.filter(pk=approval.pk).update(
        requested_at=approval.requested_at - timedelta(minutes=20),
        expires_at=approval.expires_at - timedelta(minutes=20))
    listing = page_text(approver_client.get(LIST_URL))
    assert "20\xa0minutes ago" in listing
    assert re.search(r"in 3[89]\xa0minutes", listing)
    # Expired requests leave the default list, and are shown as expired under "all".
    Approval.objects.filter(pk=approval.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1))
    assert decide_url(approval) not in page_text(approver_client.get(LIST_URL))
    everything = page_text(approver_client.get(LIST_URL, {"state": "all"}))
    assert escape(approval.summary) in everything and "Expired" in everything
    assert decide_url(approval) not in everything


def test_support_cannot_open_the_decide_page(world, agent_client):
    colleague = Client()
    login_verified(colleague, UserFactory(username="agent2", groups=[SUPPORT]))
    approval = file_on_page(world, agent_client)
    assert colleague.get(decide_url(approval)).status_code == 403
    response = colleague.post(decide_url(approval), {"decision": "approve"})
    assert response.status_code == 403
    assert agent_client.post(decide_url(approval), {"decision": "approve"}).status_code == 403
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING
    assert changes_sent(world) == []


def test_self_approval_is_refused_on_the_page(world, approver_client):
    approval = file_on_page(world, approver_client)
    page = approver_client.get(decide_url(approval))
    assert "This is your own request: another person must decide it." in page_text(page)
    response = approver_client.post(decide_url(approval), {"decision": "approve"})
    assert "This is your own request" in page_text(response)
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING and approval.decided_by is None
    assert changes_sent(world) == []
    assert not StaffAction.objects.filter(action="approval.approve").exists()


def test_an_expired_request_is_refused_on_the_page(world, agent_client, approver_client):
    approval = file_on_page(world, agent_client)
    Approval.objects.filter(pk=approval.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1))
    response = approver_client.post(decide_url(approval), {"decision": "approve"})
    assert response.status_code == 200
    assert f"Request #{approval.pk} expired at" in page_text(response)
    approval.refresh_from_db()
    assert approval.executed_at is None and approval.decided_by is None
    assert changes_sent(world) == []
    assert not StaffAction.objects.filter(action="approval.approve").exists()


def test_an_approved_request_cannot_be_approved_again(world, agent_client,
                                                      approver_client):
    approval = file_on_page(world, agent_client)
    approver_client.post(decide_url(approval), {"decision": "approve"})
    assert len(world.sandbox.transport.mutations) == 1
    other = Client()
    login_verified(other, UserFactory(username="boss2", groups=[ADMIN]))
    response = other.post(decide_url(approval), {"decision": "approve"})
    assert f"Request #{approval.pk} is already approved and run." in page_text(response)
    assert len(world.sandbox.transport.mutations) == 1
    assert StaffAction.objects.filter(action="approval.approve").count() == 1


def test_decline_on_the_page_sends_nothing(world, agent_client, approver_client, approver):
    approval = file_on_page(world, agent_client)
    response = approver_client.post(decide_url(approval), {
        "decision": "decline", "note": "The caller failed the PIN check."}, follow=True)
    assert f"Request #{approval.pk} declined. Nothing was sent to the registrar." in (
        page_text(response))
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.DECLINED and approval.decided_by == approver
    row = StaffAction.objects.get(action="approval.decline")
    assert row.parameters["note"] == "The caller failed the PIN check."
    assert changes_sent(world) == []


def test_the_approver_with_a_stale_factor_is_asked_for_a_code(
        world, agent_client, approver_client):
    approval = file_on_page(world, agent_client)
    stale(approver_client)
    assert 'name="second_factor"' in page_text(approver_client.get(decide_url(approval)))
    missing = approver_client.post(decide_url(approval), {"decision": "approve"})
    assert missing.status_code == 200
    assert missing.context["form"].errors["second_factor"]
    wrong = approver_client.post(decide_url(approval), {
        "decision": "approve", "second_factor": wrong_code(approver_client)})
    assert wrong.context["form"].errors["second_factor"][0].startswith(CODE_WRONG)
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING
    assert changes_sent(world) == []
    # A wrong code makes the device wait a moment before the next try (django-otp's
    # throttling); the person waits, the test skips the wait.
    approver_client.device.throttle_reset()
    done = approver_client.post(decide_url(approval), {
        "decision": "approve", "second_factor": totp_code(approver_client.device)})
    assert done.status_code == 302
    assert len(sent_to(world, world.plain, "POST", "/transfer_out")) == 1


def test_a_requester_who_lost_the_permission_is_reported_on_the_decide_page(
        world, agent, agent_client, approver_client):
    approval = file_on_page(world, agent_client)
    agent.groups.clear()
    response = approver_client.post(decide_url(approval), {"decision": "approve"},
                                    follow=True)
    assert changes_sent(world) == []
    assert response.status_code == 200
    assert "permission" in page_text(response)
    approval.refresh_from_db()
    assert approval.outcome == "refused"


def test_the_window_is_the_configured_one(world, agent_client, settings):
    settings.APPROVAL_WINDOW_SECONDS = 600
    approval = file_on_page(world, agent_client)
    assert approval.expires_at - approval.requested_at == timedelta(seconds=600)
    assert WINDOW != 600


# --- transfer-out rejection needs its reason ---------------------------------------------


def test_transfer_out_reject_needs_a_reason_on_the_page(world, agent_client):
    url = op_url(world.plain, "transfer_out")
    response = agent_client.post(url, {"decision": "reject"})
    assert response.status_code == 200
    assert response.context["form"].errors["reason"] == ["Say why the transfer is rejected."]
    assert changes_sent(world) == []
    done = agent_client.post(url, {"decision": "reject",
                                   "reason": "Within 60 days of a holder change."})
    assert done.status_code == 302
    assert len(sent_to(world, world.plain, "POST", "/transfer_out")) == 1
    row = StaffAction.objects.get(action="registration.transfer_out")
    assert row.parameters["reason"] == "Within 60 days of a holder change."


def test_the_dashboard_counts_the_requests_an_approver_can_decide(world, agent_client,
                                                                  approver_client):
    file_on_page(world, agent_client)
    dashboard = page_text(approver_client.get(reverse("admin:index")))
    assert "Requests waiting for your approval" in dashboard
    assert reverse("admin:registrar_approval_changelist") in dashboard
    # The requester cannot decide their own, and Support cannot approve at all.
    assert "Requests waiting for your approval" not in page_text(
        agent_client.get(reverse("admin:index")))


def test_the_registration_page_shows_the_request_waiting(world, agent_client):
    approval = file_on_page(world, agent_client)
    html = page_text(agent_client.get(change_url(world.plain)))
    assert 'id="summary-approvals"' in html and f"#{approval.pk}" in html
