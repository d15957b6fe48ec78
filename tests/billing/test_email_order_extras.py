"""The email order form's helpers and flags (document 003's purchase flow): the plans
(GET /v1/domain/plans) as choices with prices, the domain search (GET
/v1/domain/search) to pick candidate domains, mailbox-name generation (POST
/v1/domain/generate-mailbox-names) to fill mailbox names, and isFreeOrder /
isReplacement sent as the form says.

Saleshandy is faked at the HTTP boundary (tests.fakes.saleshandy); every test asserts
the requests that left, what was stored (nothing, for a helper) and the page.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse

from backoffice.models import StaffAction
from billing.models import Order
from registrar.models import ProviderAccount
from tests.factories import AccountFactory, ProviderAccountFactory
from tests.fakes.http import body_of
from tests.fakes.saleshandy import BASE_URL, FakeSaleshandy, error

LABEL = "saleshandy-main"
API_KEY = "sh_test_key_0123456789"
FORM = {
    "first_name": "John", "last_name": "Smith", "organization": "Acme Corp",
    "street_address": "123 Market Street", "city": "San Francisco", "state": "CA",
    "post_code": "94105", "country": "US", "phone": "+14155551234",
    "email_service_provider": "Google", "plan_type": "quarterly",
    "redirect_url": "acmecorp.com", "domains": "tryoutreachteam.com: john",
}


@pytest.fixture
def saleshandy(db, monkeypatch) -> Iterator[FakeSaleshandy]:
    monkeypatch.setenv("PROVIDER_SECRET_SALESHANDY_EXTRAS", API_KEY)
    ProviderAccountFactory(label=LABEL, kind="saleshandy", base_url=BASE_URL, account_ref="",
                           secret_env="PROVIDER_SECRET_SALESHANDY_EXTRAS")
    with FakeSaleshandy(api_key=API_KEY).serving(LABEL) as fake:
        yield fake


@pytest.fixture
def customer(db):
    return AccountFactory(name="Acme Corp", customer_reference="ACC-ACME-1")


def url(customer) -> str:
    return reverse("admin:billing_account_email_order", args=[customer.pk])


def data(**changes: Any) -> dict[str, Any]:
    account = ProviderAccount.objects.get(label=LABEL)
    return {"provider_account": str(account.pk), **FORM, **changes}


def text(response) -> str:
    return html.unescape(response.content.decode())


def nothing_stored() -> bool:
    return not Order.objects.exists() and not StaffAction.objects.exists()


# --- the flags --------------------------------------------------------------------------


@pytest.mark.parametrize(("ticked", "free", "replacement"), [
    ({"is_free_order": "on"}, True, False),
    ({"is_replacement": "on"}, False, True),
    ({}, False, False),
])
def test_the_flags_are_sent_as_the_doc_says(client, support_user, saleshandy, customer,
                                            ticked, free, replacement):
    client.force_login(support_user)
    client.post(url(customer), data(**ticked))
    [sent] = saleshandy.sent("POST", "/v1/domain")
    body = body_of(sent)
    assert (body["isFreeOrder"], body["isReplacement"]) == (free, replacement)
    row = StaffAction.objects.get(action="order.place_email_infrastructure")
    assert (row.parameters["is_free_order"], row.parameters["is_replacement"]) == (
        free, replacement)


def test_a_flag_that_is_not_a_checkbox_value_is_refused(client, support_user, saleshandy,
                                                        customer):
    client.force_login(support_user)
    response = client.post(url(customer), data(is_free_order="yes"))
    assert "Tick the box or leave it empty." in text(response)
    assert saleshandy.requests == [] and nothing_stored()


# --- plans with prices ----------------------------------------------------------------------


def test_plans_are_offered_as_choices_with_their_prices(client, support_user, saleshandy,
                                                        customer):
    client.force_login(support_user)
    response = client.post(url(customer), data(do="plans"))

    assert [r.url.path for r in saleshandy.requests] == ["/v1/domain/plans"]
    labels = dict(response.context["form"].fields["plan_type"].choices)
    assert "Google 9.00 USD per mailbox, 15.00 USD per domain" in labels["quarterly"]
    assert "Azure" not in labels["annualFlexi"]  # Azure is sold quarterly only
    assert "labelled with the prices Saleshandy listed just now" in text(response)
    # What was typed is kept, and nothing was placed.
    assert response.context["form"].initial["domains"] == FORM["domains"]
    assert nothing_stored()


def test_plans_that_cannot_be_read_are_said_so(client, support_user, saleshandy, customer):
    saleshandy.script("GET", "/v1/domain/plans", error(503, "Down"))
    client.force_login(support_user)
    response = client.post(url(customer), data(do="plans"))
    assert "Saleshandy could not list its plans" in text(response)
    assert nothing_stored()


# --- candidate domains ----------------------------------------------------------------------


def test_search_lists_candidates_and_adding_fills_the_domains(client, support_user,
                                                              saleshandy, customer):
    client.force_login(support_user)
    response = client.post(url(customer), data(do="search", search="acmeoutreach"))

    [sent] = saleshandy.requests[:1]
    assert sent.url.path == "/v1/domain/search"
    assert sent.url.params["domain"] == "acmeoutreach"
    page = text(response)
    assert 'value="acmeoutreach.com"' in page and "acmeoutreach.io" in page

    saleshandy.requests.clear()
    response = client.post(url(customer), data(
        do="add", picked=["acmeoutreach.com", "acmeoutreach.io"], search="acmeoutreach"))

    assert [r.url.path for r in saleshandy.requests] == ["/v1/domain/plans"]
    assert response.context["form"].initial["domains"] == (
        "tryoutreachteam.com: john\nacmeoutreach.com:\nacmeoutreach.io:")
    assert nothing_stored()


def test_a_search_that_is_not_a_name_is_refused_naming_the_field(client, support_user,
                                                                 saleshandy, customer):
    client.force_login(support_user)
    response = client.post(url(customer), data(do="search", search="acme outreach!"))
    assert "Find domains:" in text(response)
    assert saleshandy.sent(path="/v1/domain/search") == []
    assert nothing_stored()


def test_a_picked_value_that_is_not_a_name_is_refused(client, support_user, saleshandy,
                                                      customer):
    client.force_login(support_user)
    response = client.post(url(customer), data(do="add", picked=["<script>.com"]))
    assert "Find domains:" in text(response)
    assert response.context["form"].initial["domains"] == FORM["domains"]


# --- mailbox names ------------------------------------------------------------------------


def test_mailbox_names_are_generated_for_lines_without_mailboxes(client, support_user,
                                                                 saleshandy, customer):
    client.force_login(support_user)
    response = client.post(url(customer), data(
        do="names", mailbox_count="2",
        domains="tryoutreachteam.com: john\nacmeoutreach.com:"))

    [sent] = saleshandy.sent("POST", "/v1/domain/generate-mailbox-names")
    assert body_of(sent) == {"firstName": "John", "lastName": "Smith",
                             "domain": "acmeoutreach.com", "count": 2}
    assert response.context["form"].initial["domains"] == (
        "tryoutreachteam.com: john\nacmeoutreach.com: john.smith, john")
    assert "filled in for acmeoutreach.com" in text(response)
    assert nothing_stored()

    # The filled-in form places as it says.
    client.post(url(customer), data(domains=response.context["form"].initial["domains"]))
    body = body_of(saleshandy.sent("POST", "/v1/domain")[0])
    assert [m["email"] for m in body["domains"][1]["mailboxes"]] == [
        "john.smith@acmeoutreach.com", "john@acmeoutreach.com"]


def test_mailbox_names_need_the_owner_name(client, support_user, saleshandy, customer):
    client.force_login(support_user)
    response = client.post(url(customer), data(do="names", first_name="",
                                                domains="acmeoutreach.com:"))
    assert "Owner first name: This field is required." in text(response)
    assert saleshandy.sent(path="/v1/domain/generate-mailbox-names") == []


def test_helpers_need_the_permission(client, finance_user, saleshandy, customer):
    client.force_login(finance_user)
    assert client.post(url(customer), data(do="plans")).status_code == 403
    assert saleshandy.requests == []
