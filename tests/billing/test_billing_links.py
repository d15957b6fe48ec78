"""Billing-portal links: generated on request (Entri, document 000's `GET /billing/link`),
shown once on a page nothing caches, audited with the token masked, kept nowhere else;
and the portal link a 402 fee gate (document 001, the sandbox) hands back on an
operation's page, shown only to staff who may hand out billing links.

Only the HTTP boundary is fake: tests.fakes.entri.FakeEntri behind
`override_transport` for Entri, the sandbox for the Domain API.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Iterator
from io import StringIO
from typing import Any

import httpx
import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.urls import reverse

from backoffice.models import StaffAction
from billing import portal
from billing.models import Account
from registrar.models import ProviderAccount
from registrar.operations import InvalidInput
from tests.factories import (
    AccountFactory,
    RegistrationFactory,
    TldFactory,
    UserFactory,
)
from tests.fakes.entri import FakeEntri, jwt
from tests.fakes.http import fail_with, respond

ENTRI = "entri-main"
ENTRI_URL = "https://api.goentri.com"
APP_ID = "acme-backoffice"
SECRET = "entri-secret-Zq81-do-not-leak"
TOKEN = "cs_live_a1B2c3D4e5F6g7H8i9J0kLmNoPqRsT"
PORTAL_LINK = f"https://billing.stripe.com/p/session/{TOKEN}"
RETURN_URL = "https://www.acme.example/account/billing"
LINK_PATH = "/enterprise/sell/v1/billing/link"


@pytest.fixture
def entri(db, monkeypatch) -> Iterator[FakeEntri]:
    monkeypatch.setenv("PROVIDER_SECRET_ENTRI_TEST", SECRET)
    ProviderAccount.objects.create(label=ENTRI, kind="entri", base_url=ENTRI_URL,
                                   account_ref=APP_ID, secret_env="PROVIDER_SECRET_ENTRI_TEST")
    cache.clear()  # Entri's JWT is shared through the cache
    fake = FakeEntri(application_id=APP_ID, secret=SECRET)
    fake.billing_url = PORTAL_LINK
    with fake.serving(ENTRI):
        yield fake
    cache.clear()


@pytest.fixture
def customer(db) -> Account:
    return AccountFactory(name="Acme Corp", email="billing@acme.example",
                          customer_reference="ACC-ACME-1")


def link_url(customer: Account) -> str:
    return reverse("admin:billing_account_billing_link", args=[customer.pk])


def form_data(**changes: Any) -> dict[str, Any]:
    return {"provider_account": str(ProviderAccount.objects.get(label=ENTRI).pk),
            "return_url": RETURN_URL, **changes}


def page_text(response) -> str:
    return html.unescape(response.content.decode())


def database_dump() -> str:
    out = StringIO()
    call_command("dumpdata", stdout=out)
    return out.getvalue()


def cache_control(response) -> set[str]:
    return {part.strip() for part in response["Cache-Control"].split(",")}


def session_text(client) -> str:
    return json.dumps(dict(client.session.items()), default=str)


# --- who may generate one -----------------------------------------------------------------


@pytest.mark.parametrize("role", ["support", "finance"])
def test_support_and_finance_may_generate_a_link(client, entri, customer, support_user,
                                                 finance_user, role):
    user = {"support": support_user, "finance": finance_user}[role]
    client.force_login(user)
    change_page = page_text(client.get(reverse("admin:billing_account_change",
                                               args=[customer.pk])))
    assert link_url(customer) in change_page
    assert client.get(link_url(customer)).status_code == 200
    response = client.post(link_url(customer), form_data())
    assert response.status_code == 200 and PORTAL_LINK in page_text(response)


def test_others_get_403_and_the_service_refuses_them(client, entri, customer,
                                                     plain_staff_user):
    client.force_login(plain_staff_user)
    assert client.get(link_url(customer)).status_code == 403
    assert client.post(link_url(customer), form_data()).status_code == 403
    with pytest.raises(PermissionDenied):
        portal.billing_link_generate(account=customer,
                                     provider_account=ProviderAccount.objects.get(label=ENTRI),
                                     return_url=RETURN_URL, actor=plain_staff_user)
    assert entri.requests == []
    assert StaffAction.objects.count() == 0


# --- a link generated ---------------------------------------------------------------------


def test_the_link_is_shown_once_never_cached_and_audited_masked(client, entri, customer,
                                                                support_user, caplog):
    client.force_login(support_user)
    form = client.get(link_url(customer))
    assert 'id="billing-link-form"' in page_text(form)
    assert "no-store" in cache_control(form)

    with caplog.at_level(logging.DEBUG):
        response = client.post(link_url(customer), form_data())

    # What was asked: document 000's query for this customer.
    [sent] = entri.sent("GET", LINK_PATH)
    assert dict(sent.url.params) == {"email": "billing@acme.example", "returnUrl": RETURN_URL}
    assert sent.headers["Authorization"] == f"Bearer {jwt(1)}"
    assert sent.headers["applicationId"] == APP_ID
    assert entri.billing_links == [PORTAL_LINK]
    # Shown on this response, with the copy button and the expiry note.
    text = page_text(response)
    assert response.status_code == 200
    assert "no-store" in cache_control(response)
    assert f'value="{PORTAL_LINK}"' in text
    assert 'id="copy-portal-link"' in text
    assert 'id="portal-link-expiry"' in text and "expires" in text
    # One audit row: who, for whom, the host kept, the token masked.
    row = StaffAction.objects.get()
    assert (row.action, row.outcome, row.actor) == (
        portal.BILLING_LINK_ACTION, StaffAction.Outcome.SUCCEEDED, support_user)
    assert row.target_id == str(customer.pk)
    audited = json.dumps(row.parameters)
    assert TOKEN not in audited and TOKEN not in row.message
    assert row.parameters["portal_url"].startswith("https://billing.stripe.com/")
    assert row.parameters["email"] == "billing@acme.example"
    # Kept nowhere else: not in messages, the session, the account, the database, the log.
    assert not [m for m in get_messages(response.wsgi_request) if TOKEN in str(m)]
    assert TOKEN not in session_text(client)
    assert "messages" not in response.cookies
    customer.refresh_from_db()
    assert TOKEN not in json.dumps({f.name: str(getattr(customer, f.name))
                                    for f in Account._meta.concrete_fields})
    assert TOKEN not in database_dump()
    assert TOKEN not in caplog.text
    # The account page afterwards does not show it again.
    assert TOKEN not in page_text(client.get(reverse("admin:billing_account_change",
                                                     args=[customer.pk])))


def test_the_service_returns_the_link_only_in_its_outcome(entri, customer, finance_user):
    outcome = portal.billing_link_generate(
        account=customer, provider_account=ProviderAccount.objects.get(label=ENTRI),
        return_url=RETURN_URL, actor=finance_user)
    assert outcome.ok and outcome.data == {"url": PORTAL_LINK}
    assert PORTAL_LINK not in outcome.message
    assert TOKEN not in json.dumps(outcome.audit_row.parameters)


# --- refused before anything is sent ------------------------------------------------------


@pytest.mark.parametrize("return_url", ["http://www.acme.example/back", "not a url",
                                        "javascript:alert(1)", ""])
def test_a_bad_return_url_is_a_form_error_and_nothing_is_sent(client, entri, customer,
                                                              support_user, return_url):
    client.force_login(support_user)
    response = client.post(link_url(customer), form_data(return_url=return_url))
    assert response.status_code == 200
    assert "return_url" in response.context["form"].errors
    assert 'id="portal-link"' not in page_text(response)
    assert entri.requests == []
    assert StaffAction.objects.count() == 0


def test_the_service_refuses_a_plain_http_return_url(entri, customer, support_user):
    with pytest.raises(InvalidInput) as refused:
        portal.billing_link_generate(
            account=customer, provider_account=ProviderAccount.objects.get(label=ENTRI),
            return_url="http://www.acme.example/back", actor=support_user)
    assert "return_url" in refused.value.field_errors
    assert entri.requests == []


# --- upstream failures --------------------------------------------------------------------


@pytest.mark.parametrize(("answer", "expected"), [
    (respond(401, {"message": "Invalid token"}), "did not accept our credentials"),
    (respond(500, {"message": "Internal error"}), "failed to answer"),
    (fail_with(httpx.ConnectTimeout, "no answer"), "could not be reached"),
    (respond(200, {"url": "http://billing.example/p/abc"}), "could not read"),
    (respond(200, {"url": "javascript:alert(1)"}), "could not read"),
], ids=["401", "500", "timeout", "http-link", "javascript-link"])
def test_an_upstream_failure_is_a_clear_message_and_an_audited_failure(
        client, entri, customer, support_user, answer, expected):
    entri.script("GET", LINK_PATH, answer)
    client.force_login(support_user)

    response = client.post(link_url(customer), form_data())

    assert response.status_code == 200
    text = page_text(response)
    assert f"{ENTRI} could not generate the link" in text and expected in text
    assert 'id="portal-link"' not in text and "javascript:alert" not in text
    assert "Internal error" not in text and SECRET not in text
    row = StaffAction.objects.get()
    assert (row.action, row.outcome) == (portal.BILLING_LINK_ACTION,
                                         StaffAction.Outcome.FAILED)
    assert "portal_url" not in row.parameters


# --- the 402 fee gate on a registration operation -----------------------------------------


@pytest.fixture
def metered(sandbox):
    """A .net registration whose TLD bills WHOIS privacy (the sandbox answers 402)."""
    tld = TldFactory(name="net", privacy_fee_amount=499, privacy_fee_currency="USD")
    registration = RegistrationFactory(name="acme-metered.net", tld=tld)
    sandbox.seed()
    sandbox.transport.requests.clear()
    return registration


def privacy_url(registration) -> str:
    return reverse("admin:registrar_registration_operation",
                   args=[registration.pk, "privacy"])


def sandbox_portal_url(registration) -> str:
    return f"https://portal.sandbox.invalid/domains/{registration.upstream_id}/privacy"


def test_a_fee_gate_shows_the_portal_link_on_the_page_to_support(client, metered,
                                                                 support_user):
    client.force_login(support_user)

    response = client.post(privacy_url(metered), {"enabled": "1"})

    link = sandbox_portal_url(metered)
    text = page_text(response)
    assert response.status_code == 200  # the page itself, not a redirect
    assert "no-store" in cache_control(response)
    assert "4.99 USD" in text
    assert f'value="{link}"' in text
    assert 'id="copy-portal-link"' in text and 'id="portal-link-expiry"' in text
    assert not [m for m in get_messages(response.wsgi_request) if link in str(m)]
    assert link not in session_text(client)
    metered.refresh_from_db()
    assert metered.privacy_protect is False
    row = StaffAction.objects.get()
    assert row.outcome == StaffAction.Outcome.PAYMENT_REQUIRED
    assert row.parameters["portal_url"] != link
    assert row.parameters["portal_url"].startswith("https://portal.sandbox.invalid/")
    assert "***" in row.parameters["portal_url"]
    assert link not in row.message


def test_without_the_billing_link_permission_the_link_is_withheld(client, metered):
    operator = UserFactory(username="privacy-only")
    operator.user_permissions.set(Permission.objects.filter(
        content_type__app_label="registrar",
        codename__in=["view_registration", "set_privacy"]))
    assert not operator.has_perm(portal.BILLING_LINK_PERMISSION)
    client.force_login(operator)

    response = client.post(privacy_url(metered), {"enabled": "1"})

    text = page_text(response)
    assert response.status_code == 200
    assert "4.99 USD" in text
    assert 'id="portal-link-withheld"' in text
    assert "portal.sandbox.invalid" not in text
    assert 'id="copy-portal-link"' not in text
    row = StaffAction.objects.get()
    assert row.outcome == StaffAction.Outcome.PAYMENT_REQUIRED
    assert sandbox_portal_url(metered) not in json.dumps(row.parameters)
