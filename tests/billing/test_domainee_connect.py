"""Domainee's edge (document 002): autoConnect on a purchase, from the confirm step, and
POST /v1/domains for a domain registered already, from the registration's page and from
`manage.py connect_domain`.

Domainee is faked at the HTTP boundary (tests.fakes.domainee); each test asserts the
request that left (path, headers, body), the rows and audit left, and what staff read.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from backoffice.models import StaffAction
from billing import ordering
from billing.models import Order, OrderStatus
from registrar.connections import CONNECT_ACTION
from registrar.models import ProviderAccount
from tests.factories import (
    AccountFactory,
    ContactFactory,
    ProviderAccountFactory,
    RegistrationFactory,
    TldFactory,
)
from tests.fakes.domainee import DOMAINS, FakeDomainee
from tests.fakes.http import body_of, fail_with, respond

DOMAINEE = "domainee-main"
DOMAINEE_URL = "https://api.domainee.dev"
DOMAINEE_KEY = "dme_live_0123456789abcdef"
PURCHASES = "/v1/domain-purchases"
ORIGIN = "https://janesbakery.acmesites.app"


def page_text(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def customer(db):
    return AccountFactory(name="Acme Corp", email="billing@acme.example",
                          customer_reference="ACC-ACME-1")


@pytest.fixture
def domainee(db, monkeypatch) -> Iterator[FakeDomainee]:
    monkeypatch.setenv("PROVIDER_SECRET_DOMAINEE_TEST", DOMAINEE_KEY)
    ProviderAccountFactory(label=DOMAINEE, kind="domainee", base_url=DOMAINEE_URL,
                           account_ref="", secret_env="PROVIDER_SECRET_DOMAINEE_TEST")
    with FakeDomainee(token=DOMAINEE_KEY).serving(DOMAINEE) as fake:
        yield fake


@pytest.fixture
def registrant(customer):
    return ContactFactory(account=customer, handle="ACME-OWNER", first_name="Jane",
                          last_name="Smith", organization="", email="jane@bakery.example",
                          phone="+1.5035550100", street_address="123 Main St",
                          city="Portland", state="OR", post_code="97201", country="US")


@pytest.fixture
def registration(domainee, customer):
    account = ProviderAccount.objects.get(label=DOMAINEE)
    return RegistrationFactory(name="janesbakery.com", account=customer,
                               tld=TldFactory(name="com", provider_account=account),
                               provider_account=account)


def quoted(user, customer, registrant) -> Order:
    outcome = ordering.order_quote(ordering.OrderRequest(
        account=customer, provider_account=ProviderAccount.objects.get(label=DOMAINEE),
        action="register", domain="janesbakery.com", owner=registrant,
        ceiling=ordering.Money(2000, "USD")), actor=user)
    assert outcome.ok, outcome.message
    return outcome.data["order"]


def confirm_url(customer, order) -> str:
    return reverse("admin:billing_account_domain_order_confirm", args=[customer.pk, order.pk])


# --- autoConnect on the confirm step -------------------------------------------------------


def test_confirm_step_offers_auto_connect_and_sends_it_as_the_doc_says(
        client, support_user, customer, domainee, registrant):
    order = quoted(support_user, customer, registrant)
    client.force_login(support_user)
    page = page_text(client.get(confirm_url(customer, order)))
    assert "autoConnect" in page and "rolled back" in page

    response = client.post(confirm_url(customer, order), {
        "auto_connect": "on", "origin_url": ORIGIN, "keep_host": "on"}, follow=True)

    [sent] = domainee.sent("POST", PURCHASES)
    assert body_of(sent)["autoConnect"] == {"originUrl": ORIGIN, "keepHost": True}
    order.refresh_from_db()
    assert order.status == OrderStatus.REGISTERED
    assert order.quote["auto_connect"] == {"origin_url": ORIGIN, "keep_host": True}
    row = StaffAction.objects.get(action=ordering.PLACE_ACTION)
    assert row.parameters["auto_connect"]["origin_url"] == ORIGIN
    assert row.parameters["connected_domain_id"] == "dom_1"
    text = page_text(response)
    assert "Connected to Domainee's edge (domain id dom_1)" in text


def test_auto_connect_rollback_is_told_as_a_refund_with_nothing_kept(
        client, support_user, customer, domainee, registrant):
    order = quoted(support_user, customer, registrant)
    domainee.outcome("registration_failed", reason="Edge provisioning failed",
                     with_row=False)
    client.force_login(support_user)

    response = client.post(confirm_url(customer, order), {
        "auto_connect": "on", "origin_url": ORIGIN}, follow=True)

    assert body_of(domainee.sent("POST", PURCHASES)[0])["autoConnect"] == {
        "originUrl": ORIGIN, "keepHost": False}
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    text = page_text(response)
    assert "rolls the whole purchase back" in text
    assert "nothing stays registered or connected" in text


def test_auto_connect_needs_an_https_origin_and_sends_nothing_otherwise(
        client, support_user, customer, domainee, registrant):
    order = quoted(support_user, customer, registrant)
    client.force_login(support_user)

    response = client.post(confirm_url(customer, order), {
        "auto_connect": "on", "origin_url": "http://janesbakery.acmesites.app"})

    assert response.status_code == 200
    assert "The origin must be an https:// address" in page_text(response)
    assert domainee.requests == []
    order.refresh_from_db()
    assert order.status == OrderStatus.QUOTED
    assert not StaffAction.objects.filter(action=ordering.PLACE_ACTION).exists()


def test_without_the_checkbox_no_auto_connect_is_sent(
        client, support_user, customer, domainee, registrant):
    order = quoted(support_user, customer, registrant)
    client.force_login(support_user)
    client.post(confirm_url(customer, order), {})
    assert "autoConnect" not in body_of(domainee.sent("POST", PURCHASES)[0])


# --- POST /v1/domains from the registration's page ----------------------------------------


def connect_url(registration) -> str:
    return reverse("admin:registrar_registration_connect", args=[registration.pk])


def test_connect_page_sends_the_hostname_with_a_key_and_writes_one_audit_row(
        client, support_user, registration, domainee):
    client.force_login(support_user)
    change = page_text(client.get(reverse("admin:registrar_registration_change",
                                          args=[registration.pk])))
    assert connect_url(registration) in change
    assert "one CNAME" in page_text(client.get(connect_url(registration)))
    assert domainee.requests == []  # a GET sends nothing

    response = client.post(connect_url(registration), {}, follow=True)

    [sent] = domainee.sent("POST", DOMAINS)
    assert body_of(sent) == {"hostname": "janesbakery.com"}
    assert sent.headers["Idempotency-Key"] == "backoffice-connect-janesbakery.com"
    assert sent.headers["Authorization"] == f"Bearer {DOMAINEE_KEY}"
    [row] = StaffAction.objects.filter(action=CONNECT_ACTION)
    assert row.outcome == StaffAction.Outcome.SUCCEEDED
    assert row.parameters["connected_domain_id"] == "dom_c1"
    assert row.target_id == str(registration.pk)
    assert "janesbakery.com is connected to Domainee's edge (domain id dom_c1)" in (
        page_text(response))


def test_connect_refused_upstream_says_nothing_was_connected(
        client, support_user, registration, domainee):
    domainee.script("POST", DOMAINS, respond(400, {"error": {
        "code": "bad_request", "message": "Hostname not allowed"}}))
    client.force_login(support_user)

    response = client.post(connect_url(registration), {}, follow=True)

    [row] = StaffAction.objects.filter(action=CONNECT_ACTION)
    assert row.outcome == StaffAction.Outcome.FAILED
    assert "Nothing was connected" in page_text(response)


def test_connect_with_a_lost_answer_is_unknown_and_safe_to_repeat(
        client, support_user, registration, domainee):
    import httpx

    domainee.script("POST", DOMAINS, fail_with(httpx.ReadTimeout))
    client.force_login(support_user)

    response = client.post(connect_url(registration), {}, follow=True)

    [row] = StaffAction.objects.filter(action=CONNECT_ACTION)
    assert row.outcome == StaffAction.Outcome.UNKNOWN
    assert "may have connected" in page_text(response)


def test_connect_page_says_why_not_where_the_upstream_cannot(client, support_user, sandbox):
    registration = RegistrationFactory(name="plain-sandbox.com")
    client.force_login(support_user)
    response = client.get(connect_url(registration))
    assert response.status_code == 200
    assert "cannot connect domains to an edge" in page_text(response)
    assert client.post(connect_url(registration), {}).status_code == 200
    assert not StaffAction.objects.filter(action=CONNECT_ACTION).exists()


def test_connect_page_needs_the_permission(client, finance_user, registration, domainee):
    client.force_login(finance_user)
    assert client.post(connect_url(registration), {}).status_code == 403
    assert domainee.requests == []


def test_malformed_id_is_404(client, support_user):
    client.force_login(support_user)
    assert client.get("/admin/registrar/registration/x%20y/connect/").status_code == 404


# --- manage.py connect_domain ---------------------------------------------------------------


def test_command_connects_and_prints_the_outcome(support_user, registration, domainee):
    out = StringIO()
    call_command("connect_domain", "JanesBakery.com", "--account", DOMAINEE,
                 "--as", support_user.username, stdout=out)
    assert body_of(domainee.sent("POST", DOMAINS)[0]) == {"hostname": "janesbakery.com"}
    assert "connected to Domainee's edge" in out.getvalue()
    assert StaffAction.objects.filter(action=CONNECT_ACTION).count() == 1


def test_command_dry_run_sends_and_writes_nothing(support_user, registration, domainee):
    out = StringIO()
    call_command("connect_domain", "janesbakery.com", "--account", DOMAINEE,
                 "--as", support_user.username, "--dry-run", stdout=out)
    assert domainee.requests == []
    assert not StaffAction.objects.exists()
    assert "Dry run" in out.getvalue() and "backoffice-connect-janesbakery.com" in (
        out.getvalue())


def test_command_refusals_name_the_option(support_user, domainee, sandbox):
    with pytest.raises(CommandError, match="--account"):
        call_command("connect_domain", "janesbakery.com", "--account", "nope",
                     "--as", support_user.username)
    with pytest.raises(CommandError, match="--account"):
        call_command("connect_domain", "janesbakery.com", "--account", "sandbox",
                     "--as", support_user.username)
    with pytest.raises(CommandError, match="NAME"):
        call_command("connect_domain", "not a name", "--account", DOMAINEE,
                     "--as", support_user.username)
    with pytest.raises(CommandError, match="--as"):
        call_command("connect_domain", "janesbakery.com", "--account", DOMAINEE,
                     "--as", "nobody")
    assert domainee.requests == []
    assert not StaffAction.objects.exists()
