"""Starting an outbound transfer of an Entri registration (document 000, POST
/domains/{domain}/transfers/out), from the registration's operation page: the auth code
Entri answers with is shown once on a page nothing caches, never stored, logged or
audited; the operation is guarded like the auth-code reveal (permission, step-up,
two-person rules); a lost answer says the registrar may have started it and reads the
domain again.

Only the HTTP boundary is fake: tests.fakes.entri.FakeEntri behind override_transport.
"""

from __future__ import annotations

import html
import json
import logging
import re
from datetime import timedelta
from io import StringIO

import httpx
import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from backoffice import assurance
from backoffice.models import StaffAction
from registrar import approvals, services
from registrar.models import Approval, Registration, RegistrationStatus
from registrar.operations import OperationUnsupported
from tests.factories import (
    ProviderAccountFactory,
    RegistrationFactory,
    TldFactory,
    UserFactory,
)
from tests.fakes.entri import PREFIX, FakeEntri, jwt
from tests.fakes.http import body_of, fail_with
from tests.mfa import login_verified, totp_code

APP_ID = "app-transfer-out"
SECRET = "entri-secret-transfer-out"
CODE = "EPP-Out-7f3!kq-secret"
DOMAIN = "leaving.shop"
OUT_PATH = f"{PREFIX}/domains/{DOMAIN}/transfers/out"
OPERATION = "start_transfer_out"


@pytest.fixture
def entri(db, monkeypatch):
    monkeypatch.setenv("PROVIDER_SECRET_ENTRI_OUT", SECRET)
    account = ProviderAccountFactory(label="entri-out", kind="entri",
                                     base_url="https://api.goentri.com", account_ref=APP_ID,
                                     secret_env="PROVIDER_SECRET_ENTRI_OUT")
    registration = RegistrationFactory(name=DOMAIN, upstream_id=None,
                                       status=RegistrationStatus.ACTIVE,
                                       tld=TldFactory(name="shop", provider_account=account))
    fake = FakeEntri(application_id=APP_ID, secret=SECRET)
    fake.auth_code = CODE
    fake.add_domain(DOMAIN)
    cache.clear()  # Entri's JWT is shared through the cache
    with fake.serving("entri-out"):
        yield registration, fake
    cache.clear()


def op_url(registration: Registration) -> str:
    return reverse("admin:registrar_registration_operation", args=[registration.pk, OPERATION])


def shown_code(response) -> str | None:
    found = re.search(r'<code id="authcode"[^>]*>([^<]+)</code>', response.content.decode())
    return found.group(1) if found else None


def everything_kept() -> str:
    out = StringIO()
    call_command("dumpdata", stdout=out)
    return out.getvalue()


def test_the_operation_is_offered_on_an_entri_registration_only(client, support_user, entri):
    registration, _ = entri
    classic = RegistrationFactory(name="classic.com", tld=TldFactory(name="com"))
    client.force_login(support_user)

    def offered(row) -> set[str]:
        text = client.get(reverse("admin:registrar_registration_change",
                                  args=[row.pk])).content.decode()
        return set(re.findall(r'data-operation="([a-z_]+)"', text))

    assert OPERATION in offered(registration)
    assert OPERATION not in offered(classic)
    assert services.OPERATIONS[OPERATION].permission == \
        services.OPERATIONS["auth_code"].permission


def test_the_code_is_shown_once_and_kept_nowhere(client, support_user, entri, caplog):
    registration, fake = entri
    caplog.set_level(logging.DEBUG)
    client.force_login(support_user)
    page = client.get(op_url(registration))
    assert page.status_code == 200 and "Start outbound transfer" in page.content.decode()
    unconfirmed = client.post(op_url(registration), {})
    assert unconfirmed.status_code == 200 and b"This field is required" in unconfirmed.content
    assert fake.api_requests == []

    shown = client.post(op_url(registration), {"confirm": "on"})

    assert shown.status_code == 200
    assert shown_code(shown) == CODE
    assert shown["Cache-Control"].startswith("no-store")
    (sent,) = fake.sent("POST", OUT_PATH)
    assert body_of(sent) == {"domain": DOMAIN}
    assert sent.headers["Authorization"] == f"Bearer {jwt(1)}"
    assert sent.headers["applicationId"] == APP_ID
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.PENDING_TRANSFER
    row = StaffAction.objects.get()
    assert (row.action, row.outcome, row.actor) == (
        "registration.start_transfer_out", StaffAction.Outcome.SUCCEEDED, support_user)
    assert row.message == (f"Outbound transfer of {DOMAIN} started (transfer_started). The "
                           "auth code is shown once and is not stored.")
    assert row.parameters["changes"] == {"status": {"old": "active",
                                                    "new": "pending_transfer"}}
    assert CODE not in json.dumps(row.parameters) and CODE not in row.message
    assert CODE not in everything_kept()
    assert CODE not in caplog.text
    # Leaving and coming back shows no code: it was on that one response only.
    again = client.get(reverse("admin:registrar_registration_change", args=[registration.pk]))
    assert CODE not in again.content.decode()


def test_without_the_permission_nothing_is_sent(client, entri, finance_user):
    registration, fake = entri
    client.force_login(finance_user)
    assert client.post(op_url(registration), {"confirm": "on"}).status_code == 403
    assert fake.api_requests == [] and not StaffAction.objects.exists()


def test_a_fresh_second_factor_is_asked_for_like_the_reveal(client, support_user, entri):
    registration, fake = entri
    device = login_verified(client, support_user)
    session = client.session  # the factor was given an hour ago: too long for this
    session[assurance.SESSION_KEY] = (timezone.now() - timedelta(hours=1)).isoformat()
    session.save()

    refused = client.post(op_url(registration), {"confirm": "on"})

    assert refused.status_code == 200
    assert 'name="second_factor"' in refused.content.decode()
    assert fake.api_requests == [] and not StaffAction.objects.exists()
    assert approvals.needs_step_up(OPERATION, registration, {})

    shown = client.post(op_url(registration), {"confirm": "on",
                                               "second_factor": totp_code(device)})
    assert shown_code(shown) == CODE
    assert len(fake.sent("POST", OUT_PATH)) == 1


def test_a_flagged_customer_needs_a_second_person_and_the_approver_sees_the_code(
        client, support_user, entri, settings):
    registration, fake = entri
    settings.TWO_PERSON_OPERATIONS = ["auth_code_flagged"]
    Registration.objects.filter(pk=registration.pk).update(customer_flagged=True)
    registration.refresh_from_db()
    client.force_login(support_user)

    filed = client.post(op_url(registration), {"confirm": "on", "ticket": "SUP-9",
                                               "verification": "Called the holder back."},
                        follow=True)

    assert "waiting for a second person's approval" in html.unescape(filed.content.decode())
    assert fake.api_requests == []
    approval = Approval.objects.get()
    assert (approval.operation, approval.rule) == (OPERATION, "auth_code_flagged")
    approver = UserFactory(username="approver", groups=["Admin"])
    outcome = approvals.approve(approval=approval, approver=approver)
    assert outcome.ok and outcome.data["authcode"] == CODE
    assert len(fake.sent("POST", OUT_PATH)) == 1
    for row in StaffAction.objects.all():
        assert CODE not in json.dumps(row.parameters) and CODE not in row.message


def test_a_lost_answer_says_it_may_have_started_and_reads_the_domain_again(
        client, support_user, entri):
    registration, fake = entri

    def started_then_lost(request: httpx.Request) -> httpx.Response:
        fake.serve(request)  # Entri starts the transfer ...
        raise httpx.ReadTimeout("answer lost", request=request)  # ... and the answer is lost

    fake.script("POST", OUT_PATH, started_then_lost)
    client.force_login(support_user)

    response = client.post(op_url(registration), {"confirm": "on"}, follow=True)

    page = response.content.decode()
    assert shown_code(response) is None and CODE not in page
    assert "it may have applied the change" in page
    assert "Read again: the registrar shows the change, so it was applied." in page
    assert "The auth code did not arrive" in page
    assert [r.url.path for r in fake.api_requests] == [OUT_PATH, f"{PREFIX}/domains/{DOMAIN}"]
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.PENDING_TRANSFER
    row = StaffAction.objects.get()
    assert row.outcome == StaffAction.Outcome.UNKNOWN
    assert CODE not in json.dumps(row.parameters) and CODE not in row.message


def test_a_lost_answer_that_cannot_be_read_again_refuses_the_operation_until_settled(
        support_user, entri):
    registration, fake = entri
    fake.script("POST", OUT_PATH, fail_with(httpx.ReadTimeout))
    fake.script("GET", f"{PREFIX}/domains/{DOMAIN}", fail_with(httpx.ReadTimeout))

    outcome = services.registration_start_transfer_out(registration=registration,
                                                       actor=support_user)

    assert outcome.status == StaffAction.Outcome.UNKNOWN
    assert "it may have applied the change" in outcome.message
    registration.refresh_from_db()
    assert registration.unsettled_operation == OPERATION
    with pytest.raises(OperationUnsupported):
        services.registration_start_transfer_out(registration=registration,
                                                 actor=support_user)
    assert len(fake.sent("POST", OUT_PATH)) == 1


def test_entri_refusing_it_changes_nothing(client, support_user, entri):
    registration, fake = entri
    fake.remove_domain(DOMAIN)  # Entri answers 404 {"message": "Domain not found"}
    client.force_login(support_user)

    response = client.post(op_url(registration), {"confirm": "on"}, follow=True)

    assert shown_code(response) is None
    assert "does not know this object" in response.content.decode()
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.ACTIVE
    row = StaffAction.objects.get()
    assert (row.outcome, row.upstream_status) == (StaffAction.Outcome.FAILED, 404)


def test_the_command_prints_the_code_once_and_keeps_it_nowhere(entri, support_user, caplog):
    registration, fake = entri
    caplog.set_level(logging.DEBUG)
    out = StringIO()
    call_command("registration", "start-transfer-out", DOMAIN, "--as", "support-test",
                 stdout=out)
    assert f"auth code: {CODE}" in out.getvalue()
    (sent,) = fake.sent("POST", OUT_PATH)
    assert body_of(sent) == {"domain": DOMAIN}
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.PENDING_TRANSFER
    row = StaffAction.objects.get()
    assert (row.action, row.actor, row.channel) == ("registration.start_transfer_out",
                                                    support_user, "cli")
    assert CODE not in everything_kept() and CODE not in caplog.text
