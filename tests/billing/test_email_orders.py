"""Email-infrastructure orders (billing.email_orders) placed by Support for a customer
account at Saleshandy (document 003): the admin page, the exact body sent, every rule
refused before sending with its message on the page, upstream failures without an Order
(and never a 500), the follow-up polling that moves the Order on until the domains it
delivered are registrations here, and who may do it.

Only the HTTP boundary is fake: `FakeSaleshandy` (tests.fakes.saleshandy) behind the
account's transport; the broker is replaced by a list of what was enqueued.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.conf import settings as django_settings
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from backoffice.models import StaffAction
from backoffice.roles import ADMIN, FINANCE, SUPPORT
from billing import email_orders, tasks
from billing.finance import attention
from billing.models import Account, Order, OrderItem, OrderKind, OrderStatus
from registrar.models import ProviderAccount, Registration, RegistrationStatus
from registrar.operations import InvalidInput
from registrar.providers.errors import UpstreamFailure
from tests.factories import AccountFactory, ProviderAccountFactory
from tests.fakes.http import fail_with, respond
from tests.fakes.saleshandy import BASE_URL, DOC_BODY, FakeSaleshandy, error

LABEL = "saleshandy-main"
API_KEY = "sh_test_key_0123456789"

# Document 003's example order, as staff type it.
FORM = {
    "first_name": "John",
    "last_name": "Smith",
    "organization": "Acme Corp",
    "street_address": "123 Market Street",
    "city": "San Francisco",
    "state": "CA",
    "post_code": "94105",
    "country": "US",
    "phone": "+14155551234",
    "email_service_provider": "Google",
    "plan_type": "quarterly",
    "redirect_url": "acmecorp.com",
    "domains": "tryoutreachteam.com: john",
}
# ... and the body document 003's curl example sends: DOC_BODY, shared with the adapter tests.
FREE = respond(201, {"message": "Domain purchased successfully",
                     "payload": {"orderId": "ord_78"}})


@pytest.fixture
def saleshandy(db, monkeypatch) -> Iterator[FakeSaleshandy]:
    monkeypatch.setenv("PROVIDER_SECRET_SALESHANDY_TEST", API_KEY)
    ProviderAccountFactory(label=LABEL, kind="saleshandy", base_url=BASE_URL, account_ref="",
                           secret_env="PROVIDER_SECRET_SALESHANDY_TEST")
    with FakeSaleshandy(api_key=API_KEY).serving(LABEL) as fake:
        yield fake


@pytest.fixture
def customer(db) -> Account:
    return AccountFactory(name="Acme Corp", customer_reference="ACC-ACME-1")


@pytest.fixture
def enqueued(monkeypatch) -> list[tuple[tuple, dict, Any]]:
    """Follow-ups published to the broker: (args, kwargs, countdown)."""
    published: list[tuple[tuple, dict, Any]] = []

    def publish(args=(), kwargs=None, countdown=None, **options):
        published.append((tuple(args), dict(kwargs or {}), countdown))

    monkeypatch.setattr(tasks.follow_email_order, "apply_async", publish)
    return published


def provider_account() -> ProviderAccount:
    return ProviderAccount.objects.get(label=LABEL)


def order_url(account: Account) -> str:
    return reverse("admin:billing_account_email_order", args=[account.pk])


def change_url(account: Account) -> str:
    return reverse("admin:billing_account_change", args=[account.pk])


def form_data(**changes: str) -> dict[str, Any]:
    return {"provider_account": str(provider_account().pk), **FORM, **changes}


def page_text(response) -> str:
    return html.unescape(response.content.decode())


def place(actor, account: Account, domains: list[dict[str, Any]] | None = None,
          **changes: Any):
    """The service, called directly with document 003's example order."""
    arguments: dict[str, Any] = {
        "account": account, "provider_account": provider_account(),
        "owner": {name: FORM[name] for name in ("first_name", "last_name", "organization",
                                                "street_address", "city", "state",
                                                "post_code", "country", "phone")},
        "email_service_provider": "Google", "plan_type": "quarterly",
        "domains": domains or [{"name": "tryoutreachteam.com", "redirect_url": "acmecorp.com",
                                "mailboxes": [{"first_name": "John", "last_name": "Smith",
                                               "email": "john"}]}],
        "actor": actor, **changes}
    return email_orders.email_order_place(**arguments)


# --- Placing an order through the admin --------------------------------------------------


def test_placing_through_the_admin_sends_the_documented_body_and_mirrors_the_order(
        client, support_user, saleshandy, customer, enqueued,
        django_capture_on_commit_callbacks):
    client.force_login(support_user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(order_url(customer), form_data())

    (sent,) = saleshandy.requests
    assert (sent.method, str(sent.url)) == ("POST", f"{BASE_URL}/v1/domain")
    assert sent.headers["x-api-key"] == API_KEY
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.content) == DOC_BODY
    (taken,) = saleshandy.orders.values()
    checkout = taken.checkout_url

    order = Order.objects.get()
    # A paid order: the checkout link is shown on this response, once, and nothing keeps
    # it (no redirect, no flash message in the cookie or session, no cache).
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    text = page_text(response)
    assert f'href="{checkout}"' in text and 'class="checkout-link"' in text
    order_page = reverse("admin:billing_order_change", args=[order.pk])
    assert f'href="{order_page}"' in text
    assert checkout not in str(response.cookies) and not list(response.wsgi_request._messages)
    assert order.kind == OrderKind.EMAIL_INFRASTRUCTURE
    assert order.status == OrderStatus.PAYMENT_INITIATED  # a checkoutUrl: not paid yet
    assert (order.upstream_id, order.domain) == (taken.order_id, "tryoutreachteam.com")
    assert (order.account, order.provider_account) == (customer, provider_account())
    assert order.customer_reference == "ACC-ACME-1"
    # Saleshandy's answer has no price: USD with zero amounts.
    assert order.currency == "USD"
    assert (order.subtotal_minor, order.fees_minor, order.total_minor) == (0, 0, 0)
    assert order.registration is None
    (item,) = order.items.all()
    assert (item.domain, item.quantity) == ("tryoutreachteam.com", 1)
    assert item.description == "Mailbox john@tryoutreachteam.com (Google, quarterly)"
    assert item.details["email"] == "john@tryoutreachteam.com"
    assert (item.details["first_name"], item.details["last_name"]) == ("John", "Smith")

    (row,) = StaffAction.objects.all()
    assert row.action == "order.place_email_infrastructure" == email_orders.EMAIL_ORDER_ACTION
    assert row.outcome == StaffAction.Outcome.SUCCEEDED
    assert row.actor == support_user
    assert (row.target_type, row.target_id) == ("billing.order", str(order.pk))
    assert "Saleshandy returned a checkout link" in row.message
    assert checkout not in row.message
    assert row.upstream_request_id == "sh-req-1"  # the id of the POST's answer
    assert row.parameters["account"] == "ACC-ACME-1"
    assert row.parameters["provider_account"] == LABEL
    assert row.parameters["upstream_order_id"] == taken.order_id
    assert row.parameters["domains"] == [{
        "name": "tryoutreachteam.com", "redirect_url": "acmecorp.com",
        "mailboxes": ["Mailbox john@tryoutreachteam.com (Google, quarterly)"]}]
    # The link's token is masked in the audit; the host stays readable.
    assert row.parameters["checkout_url"].startswith("https://buy.paddle.com/checkout/")
    link = urlsplit(checkout)
    secrets = [link.path.rsplit("/", 1)[-1], *parse_qs(link.query)["_ptxn"]]
    assert all(secret not in json.dumps(row.parameters) for secret in secrets)

    # After the commit, the follow-up is enqueued with the order's id.
    assert enqueued == [((order.pk,), {}, django_settings.EMAIL_ORDER_FOLLOW_BASE_DELAY)]

    # The order page does not show it again: it was shown once.
    page = client.get(order_page)
    assert page.status_code == 200
    assert checkout not in page_text(page) and checkout not in str(client.cookies)


def test_the_checkout_link_is_withheld_from_staff_who_may_not_hand_out_payment_links(
        client, saleshandy, customer):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    orderer = UserFactory(username="orders-only")
    orderer.user_permissions.set(Permission.objects.filter(
        content_type__app_label="billing",
        codename__in=["view_account", "view_order", "place_order"]))
    client.force_login(orderer)

    response = client.post(order_url(customer), form_data())

    (taken,) = saleshandy.orders.values()
    assert taken.checkout_url
    text = page_text(response)
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert 'id="checkout-link-withheld"' in text
    assert taken.checkout_url not in text and "checkout-link-box" not in text


@pytest.mark.parametrize("sent", ["javascript:alert(document.cookie)", "http://pay.example/x",
                                  "/checkout/relative"])
def test_a_checkout_link_that_is_not_https_is_never_shown(client, support_user, saleshandy,
                                                          customer, sent):
    saleshandy.script("POST", "/v1/domain", respond(201, {"orderId": "ord_js",
                                                           "checkoutUrl": sent}))
    client.force_login(support_user)

    response = client.post(order_url(customer), form_data(), follow=True)

    text = page_text(response)
    assert "sent no usable checkout link" in text
    assert sent not in text and "checkout-link" not in text
    order = Order.objects.get()
    assert order.status == OrderStatus.PAYMENT_INITIATED  # still to be paid
    row = StaffAction.objects.get()
    assert "sent no usable checkout link" in row.message
    assert row.parameters["checkout_url"] == ""


def test_several_domains_with_named_and_derived_senders_on_a_free_order(
        client, admin_user_role, saleshandy, customer):
    # Saleshandy answers a free order with its orderId only (document 003).
    saleshandy.script("POST", "/v1/domain", FREE)
    client.force_login(admin_user_role)
    domains = ("tryoutreachteam.com: john, jane.doe, sam=Sam Lee\n"
               "\n# the second brand\n"
               "GetOutreachTeam.io: mary-ann_smith@getoutreachteam.io\n")

    response = client.post(order_url(customer), form_data(
        domains=domains, email_service_provider="Azure", plan_type="quarterly",
        redirect_url="", organization="", state=""), follow=True)

    sent = json.loads(saleshandy.sent("POST")[0].content)
    assert "companyName" not in sent and "state" not in sent
    assert (sent["emailServiceProvider"], sent["planType"]) == ("Azure", "quarterly")
    assert sent["domains"] == [
        {"name": "tryoutreachteam.com", "mailboxes": [
            {"firstname": "John", "lastname": "Smith", "email": "john@tryoutreachteam.com",
             "profilePicId": 0},
            {"firstname": "Jane", "lastname": "Doe", "email": "jane.doe@tryoutreachteam.com",
             "profilePicId": 0},
            {"firstname": "Sam", "lastname": "Lee", "email": "sam@tryoutreachteam.com",
             "profilePicId": 0}]},
        {"name": "getoutreachteam.io", "mailboxes": [
            {"firstname": "Mary", "lastname": "Ann Smith",
             "email": "mary-ann_smith@getoutreachteam.io", "profilePicId": 0}]},
    ]
    order = Order.objects.get()
    assert order.upstream_id == "ord_78"
    assert order.status == OrderStatus.REGISTRATION_IN_PROGRESS  # free: provisioning at once
    assert order.domain == ""  # two domains: the items carry them
    assert [item.domain for item in order.items.all()] == [
        "tryoutreachteam.com"] * 3 + ["getoutreachteam.io"]
    text = page_text(response)
    assert "No payment needed" in text and "checkout-link" not in text
    row = StaffAction.objects.get()
    assert "checkout link" not in row.message
    assert row.parameters["checkout_url"] == ""


def test_the_page_offers_only_enabled_email_accounts_and_their_choices(
        client, support_user, saleshandy, customer):
    ProviderAccountFactory(label="saleshandy-old", kind="saleshandy", enabled=False)
    ProviderAccountFactory(label="sandbox")
    client.force_login(support_user)

    response = client.get(order_url(customer))

    form = response.context["form"]
    assert [account.label for account in form.fields["provider_account"].queryset] == [LABEL]
    assert form.initial["provider_account"] == provider_account().pk
    # The choices are Saleshandy's own, its default billing cycle first.
    assert [value for value, _ in form.fields["email_service_provider"].choices] == [
        "Google", "Microsoft", "Azure"]
    assert [value for value, _ in form.fields["plan_type"].choices] == [
        "quarterly", "annualFlexi", "annualFixed"]
    assert form.fields["plan_type"].initial == "quarterly"
    assert 'id="no-email-account"' not in response.content.decode()
    disabled = ProviderAccount.objects.get(label="saleshandy-old")
    refused = client.post(order_url(customer), form_data(provider_account=str(disabled.pk)))
    assert "Select a valid choice" in page_text(refused)
    assert saleshandy.requests == [] and not Order.objects.exists()


def test_without_an_email_account_the_page_says_so(client, support_user, customer):
    ProviderAccountFactory(label="saleshandy-old", kind="saleshandy", enabled=False)
    ProviderAccountFactory(label="sandbox")
    client.force_login(support_user)

    response = client.get(order_url(customer))

    assert response.status_code == 200
    assert 'id="no-email-account"' in response.content.decode()
    assert "No enabled provider account sells email infrastructure." in page_text(response)
    assert not response.context["form"].fields["provider_account"].queryset.exists()


# --- Every rule, refused before anything is sent -------------------------------------------

RULES = [
    ("first_name", {"first_name": ""}, "This field is required."),
    ("first_name", {"first_name": "J" * 51}, "Saleshandy takes 1 to 50 characters here."),
    ("last_name", {"last_name": "S" * 51}, "Saleshandy takes 1 to 50 characters here."),
    ("phone", {"phone": "4155551234"}, "international form"),
    ("phone", {"phone": "+1.5551234567"}, "not a valid phone number"),
    ("country", {"country": "USA"}, "two-letter ISO 3166-1 country code"),
    ("country", {"country": "us"}, "two-letter ISO 3166-1 country code"),
    ("country", {"country": "XX"}, "not an ISO 3166-1 country code"),
    ("street_address", {"street_address": ""}, "This field is required."),
    ("post_code", {"post_code": ""}, "This field is required."),
    ("redirect_url", {"redirect_url": "https://acmecorp.com"}, "is not a bare domain"),
    ("redirect_url", {"redirect_url": "acmecorp.com/landing"}, "is not a bare domain"),
    ("redirect_url", {"redirect_url": "acmecorp"}, "needs a name and a TLD"),
    ("email_service_provider", {"email_service_provider": "Yahoo"}, "Select a valid choice"),
    ("plan_type", {"plan_type": "monthly"}, "Select a valid choice"),
    ("plan_type", {"email_service_provider": "Azure", "plan_type": "annualFlexi"},
     "Azure mailboxes are only sold quarterly."),
    ("plan_type", {"email_service_provider": "Azure", "plan_type": "annualFixed"},
     "Azure mailboxes are only sold quarterly."),
    ("domains", {"domains": ""}, "This field is required."),
    ("domains", {"domains": "# nothing yet"}, "Add at least one domain."),
    ("domains", {"domains": "tryoutreachteam.com"},
     "Line 1: Give tryoutreachteam.com at least one mailbox."),
    ("domains", {"domains": "tryoutreachteam.com: , "},
     "Line 1: Give tryoutreachteam.com at least one mailbox."),
    ("domains", {"domains": "tryoutreachteam.com: john\n\ngetoutreachteam.io:"},
     "Line 3: Give getoutreachteam.io at least one mailbox."),
    ("domains", {"domains": "tryoutreachteam.com: alice"},
     "Line 1, mailbox “alice”: Give the mailbox sender's first and last name. "
     "Write it as alice=First Last."),
    ("domains", {"domains": "tryoutreachteam.com: alice=Alice"},
     "Give the mailbox sender's first and last name."),
    ("domains", {"domains": "not a domain: john"}, "Line 1: “not a domain” is not a valid"),
    ("domains", {"domains": "tryoutreachteam.com: john@elsewhere.com"},
     "mailbox “john@elsewhere.com”: The mailbox john@elsewhere.com must be on "
     "tryoutreachteam.com."),
    ("domains", {"domains": "tryoutreachteam.com: jo hn.smith"}, "is not an e-mail address"),
    ("domains", {"domains": "tryoutreachteam.com: john, John"},
     "john@tryoutreachteam.com is in the order twice."),
    ("domains", {"domains": "tryoutreachteam.com: john\ntryoutreachteam.com: jane.doe"},
     "Line 2: tryoutreachteam.com is in the order twice."),
]


@pytest.mark.parametrize(("field", "changes", "message"), RULES,
                         ids=[f"{field}-{i}" for i, (field, _, _) in enumerate(RULES)])
def test_every_rule_is_refused_before_sending_with_its_message_on_the_field(
        client, support_user, saleshandy, customer, field, changes, message):
    client.force_login(support_user)

    response = client.post(order_url(customer), form_data(**changes))

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert any(message in text for text in errors.get(field, [])), errors
    assert message in page_text(response)
    assert saleshandy.requests == []
    assert not Order.objects.exists() and not OrderItem.objects.exists()
    assert not StaffAction.objects.exists()


def test_every_problem_is_shown_at_once(client, support_user, saleshandy, customer):
    client.force_login(support_user)
    response = client.post(order_url(customer), form_data(
        first_name="", country="usa", redirect_url="http://x.com",
        domains="tryoutreachteam.com: alice\nfoo"))
    assert set(response.context["form"].errors) == {"first_name", "country", "redirect_url",
                                                    "domains"}
    assert len(response.context["form"].errors["domains"]) == 3  # alice; foo: name, mailbox
    assert saleshandy.requests == []


def test_the_service_refuses_bad_input_itself_before_sending(support_user, saleshandy,
                                                             customer):
    with pytest.raises(InvalidInput) as caught:
        place(support_user, customer, email_service_provider="Azure", plan_type="annualFixed",
              domains=[{"name": "tryoutreachteam.com", "redirect_url": "https://acmecorp.com",
                        "mailboxes": []}])
    assert set(caught.value.field_errors) == {
        "plan_type", "domains[0].redirect_url", "domains[0].mailboxes"}
    assert saleshandy.requests == [] and not Order.objects.exists()
    assert not StaffAction.objects.exists()


@pytest.mark.parametrize("other", [{"label": "sandbox"},
                                   {"label": "saleshandy-old", "kind": "saleshandy",
                                    "enabled": False}],
                         ids=["no-email-orders", "disabled"])
def test_an_account_that_does_not_sell_email_infrastructure_is_refused(
        support_user, saleshandy, customer, other):
    account = ProviderAccountFactory(**other)
    with pytest.raises(InvalidInput) as caught:
        email_orders.email_order_place(
            account=customer, provider_account=account, owner={},
            email_service_provider="Google", plan_type="quarterly", domains=[],
            actor=support_user)
    assert caught.value.field_errors == {"provider_account": [
        f"“{account.label}” does not sell email infrastructure."]}
    assert saleshandy.requests == [] and not StaffAction.objects.exists()


# --- Upstream failures: a clear message, never a 500 ----------------------------------------
# A documented refusal (4xx) placed nothing: no Order. Anything else after the order left
# (an undocumented 5xx, an unreadable 201, a timeout) may have placed it: the order is
# kept, open and unsettled, until Saleshandy's listing says what became of it.

REFUSED = [
    # Document 003: the zipcode must be valid for the country, which only Saleshandy checks.
    (None, {"post_code": "SW1A 1AA"}, 400, "Saleshandy refused the order (HTTP 400)"),
    (error(401, "Invalid API key"), {}, 401, "Saleshandy refused the order (HTTP 401)"),
    (error(429, "Too many requests"), {}, 429, "Saleshandy refused the order (HTTP 429)"),
]
KEPT = ("The order is kept here, open, while the back-office reads Saleshandy's listing to "
        "find out.")
# None of these answers is one document 003 gives: the outcome is unknown.
UNKNOWN = [
    (error(502, "Bad gateway"), 502, "it answered HTTP 502"),
    (respond(500, text="Internal Server Error"), 500, "it answered HTTP 500"),
    (error(503, "Down for maintenance"), 503, "it answered HTTP 503"),
    (respond(201, text="<html>ok</html>", content_type="text/html"), 201,
     "its answer, HTTP 201, could not be read"),
    (fail_with(httpx.ReadTimeout, "no answer"), None, "it did not answer in time"),
]


def unknown_message(reason: str) -> str:
    return (f"No usable answer came back from Saleshandy ({reason}) after the order was "
            f"sent: it may have been placed. {KEPT}")


@pytest.fixture
def settles(monkeypatch) -> list[tuple[tuple, dict, Any]]:
    """Settle tasks published to the broker: (args, kwargs, countdown)."""
    published: list[tuple[tuple, dict, Any]] = []

    def publish(args=(), kwargs=None, countdown=None, **options):
        published.append((tuple(args), dict(kwargs or {}), countdown))

    monkeypatch.setattr(tasks.settle_order, "apply_async", publish)
    return published


@pytest.mark.parametrize(("answer", "changes", "status", "message"), REFUSED,
                         ids=["400", "401", "429"])
def test_a_refusal_is_a_clear_message_and_no_order(
        client, support_user, saleshandy, customer, answer, changes, status, message):
    if answer is not None:
        saleshandy.script("POST", "/v1/domain", answer)
    client.force_login(support_user)

    response = client.post(order_url(customer), form_data(**changes))

    assert response.status_code == 200
    text = page_text(response)
    assert message in text and "Nothing was placed." in text
    assert "may have" not in text
    assert "zipcode is invalid" not in text  # the upstream's own words go to the log only
    assert len(saleshandy.sent("POST")) == 1  # never repeated: no idempotency key
    assert saleshandy.orders == {} and not Order.objects.exists()
    (row,) = StaffAction.objects.all()
    assert row.action == "order.place_email_infrastructure"
    assert row.outcome == StaffAction.Outcome.FAILED
    assert (row.target_type, row.target_id) == ("billing.account", str(customer.pk))
    assert row.upstream_status == status
    assert message in row.message
    # What was typed is still there to correct or resend.
    assert response.context["form"]["domains"].value() == FORM["domains"]


@pytest.mark.parametrize(("answer", "status", "reason"), UNKNOWN,
                         ids=["502", "500", "503", "unreadable-201", "timeout"])
def test_no_usable_answer_keeps_the_order_open_until_it_is_settled(
        client, support_user, saleshandy, customer, settles, enqueued,
        django_capture_on_commit_callbacks, answer, status, reason):
    saleshandy.script("POST", "/v1/domain", answer)
    client.force_login(support_user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(order_url(customer), form_data(), follow=True)

    # Kept, with what was ordered, so it is neither lost nor placed again: staff go to
    # it, away from a form whose resubmission would be a second order.
    order = Order.objects.get()
    assert response.redirect_chain == [
        (reverse("admin:billing_order_change", args=[order.pk]), 302)]
    message = unknown_message(reason)
    assert message in page_text(response)
    assert 'class="warning"' in response.content.decode()
    assert "not recorded" not in page_text(response)
    assert len(saleshandy.sent("POST")) == 1  # never repeated: no idempotency key
    assert (order.kind, order.account, order.provider_account) == (
        OrderKind.EMAIL_INFRASTRUCTURE, customer, provider_account())
    assert (order.status, order.upstream_id, order.customer_reference) == (
        OrderStatus.PAYMENT_INITIATED, None, "ACC-ACME-1")
    assert order.unsettled_since is not None
    assert order.status_reason == message
    assert list(order.items.values_list("description", flat=True)) == [
        "Mailbox john@tryoutreachteam.com (Google, quarterly)"]
    (row,) = StaffAction.objects.all()
    assert (row.action, row.outcome) == ("order.place_email_infrastructure",
                                         StaffAction.Outcome.UNKNOWN)
    assert (row.target_type, row.target_id) == ("billing.order", str(order.pk))
    assert (row.upstream_status, row.message) == (status, message)
    # Settled later by reading Saleshandy's listing; not followed as a placed order.
    assert settles == [((order.pk,), {}, 60.0)]
    assert enqueued == []
    # Finance sees it among the orders whose outcome is unknown.
    assert list(attention.unsettled()) == [order]


def test_a_5xx_the_upstream_documents_says_nothing_was_placed(saleshandy):
    # An upstream whose documents say a 5xx placed nothing: a plain failure, to try again.
    failure = UpstreamFailure("The registrar failed.", code="maintenance", status=503,
                              documented=True)
    assert not failure.outcome_unknown
    shown = email_orders._error(provider_account(), failure)
    assert shown.message == ("Saleshandy failed to answer (HTTP 503) and says nothing was "
                             "placed; try again later.")
    assert (shown.status, shown.code) == (503, "maintenance")


def test_a_key_saleshandy_no_longer_accepts_is_a_refusal_on_the_page(
        client, support_user, saleshandy, customer):
    saleshandy.api_key = "sh_test_key_rotated"
    client.force_login(support_user)

    response = client.post(order_url(customer), form_data())

    assert "Saleshandy refused the order (HTTP 401)" in page_text(response)
    assert "(upstream code: http_401)" in page_text(response)
    assert saleshandy.api_keys == [API_KEY]
    assert not Order.objects.exists()


def test_a_refused_connection_says_saleshandy_could_not_be_reached(
        client, support_user, saleshandy, customer):
    saleshandy.script("POST", "/v1/domain", fail_with(httpx.ConnectError, "refused"))
    client.force_login(support_user)

    response = client.post(order_url(customer), form_data())

    assert response.status_code == 200
    assert "Saleshandy could not be reached" in page_text(response)
    # The connection was never made, so nothing was sent: trying again cannot buy twice.
    assert len(saleshandy.sent("POST")) == 3
    assert not Order.objects.exists()
    (row,) = StaffAction.objects.all()
    assert (row.outcome, row.upstream_code) == (StaffAction.Outcome.FAILED, "connect_error")


def test_a_missing_secret_is_refused_above_the_form(client, support_user, saleshandy, customer,
                                                    monkeypatch):
    monkeypatch.delenv("PROVIDER_SECRET_SALESHANDY_TEST")
    client.force_login(support_user)
    response = client.post(order_url(customer), form_data())
    assert response.status_code == 200
    assert "has no secret" in page_text(response)
    # A refusal without field errors goes above the form, word for word.
    assert response.context["form"].non_field_errors() == [
        f"Provider account “{LABEL}” has no secret: set the environment variable "
        "PROVIDER_SECRET_SALESHANDY_TEST."]
    assert saleshandy.requests == [] and not Order.objects.exists()


def test_a_failed_placement_enqueues_nothing(support_user, saleshandy, customer, enqueued,
                                            django_capture_on_commit_callbacks):
    saleshandy.script("POST", "/v1/domain", respond(502, {}))
    with django_capture_on_commit_callbacks(execute=True):
        outcome = place(support_user, customer)
    assert not outcome.ok and outcome.error is not None
    assert enqueued == []


# --- Following the order until provisioning ends -------------------------------------------


def placed_order(actor, account: Account, saleshandy: FakeSaleshandy, *, paid: bool,
                 domains: list[dict[str, Any]] | None = None) -> Order:
    """An order placed through the service; `paid`: the customer then paid at the
    checkout (Saleshandy starts provisioning; nothing here knows yet)."""
    outcome = place(actor, account, domains)
    assert outcome.ok, outcome.message
    order = outcome.data["order"]
    assert order.status == OrderStatus.PAYMENT_INITIATED
    if paid:
        saleshandy.pay(order.upstream_id)
    saleshandy.requests.clear()
    return order


def test_refresh_moves_the_order_from_in_progress_to_registered(support_user, saleshandy,
                                                                customer):
    order = placed_order(support_user, customer, saleshandy, paid=True)

    still = email_orders.email_order_refresh(order=order)

    assert still.status == OrderStatus.REGISTRATION_IN_PROGRESS
    item = still.items.get()
    domain = saleshandy.domain("tryoutreachteam.com")
    assert (item.details["domain_id"], item.details["domain_status"]) == (
        str(domain.id), "inProgress")
    assert not email_orders.email_order_finished(still)

    saleshandy.progress(order.upstream_id, to="active")
    done = email_orders.email_order_refresh(order=still)

    assert done.status == OrderStatus.REGISTERED
    assert Order.objects.get().status == OrderStatus.REGISTERED
    assert done.items.get().details["domain_status"] == "active"
    assert email_orders.email_order_finished(done)
    for request in saleshandy.requests:
        assert (request.method, request.url.path) == ("GET", "/v1/domain")
        assert dict(request.url.params) == {"search": "tryoutreachteam.com"}
        assert request.headers["x-api-key"] == API_KEY
    assert len(saleshandy.requests) == 2
    rows = list(StaffAction.objects.filter(
        action=email_orders.EMAIL_ORDER_REFRESH_ACTION).order_by("pk"))
    assert len(rows) == 2  # one per refresh that changed something
    assert all(row.actor is None and row.actor_label == f"poll:{LABEL}" for row in rows)
    assert [row.parameters["changes"]["status"] for row in rows] == [
        {"old": "payment_initiated", "new": "registration_in_progress"},
        {"old": "registration_in_progress", "new": "registered"}]
    assert all(row.parameters["upstream_id"] == order.upstream_id for row in rows)
    assert "Payment initiated → Registration in progress" in rows[0].message

    # A finished order is not asked about again.
    email_orders.email_order_refresh(order=done)
    assert len(saleshandy.requests) == 2


def test_an_unpaid_order_waits_until_its_domains_are_listed(support_user, saleshandy,
                                                           customer):
    order = placed_order(support_user, customer, saleshandy, paid=False)

    assert email_orders.email_order_refresh(order=order).status == OrderStatus.PAYMENT_INITIATED
    assert len(saleshandy.requests) == 1  # asked, nothing listed yet
    assert not StaffAction.objects.filter(
        action=email_orders.EMAIL_ORDER_REFRESH_ACTION).exists()

    saleshandy.pay(order.upstream_id)
    order = email_orders.email_order_refresh(order=order)
    assert order.status == OrderStatus.REGISTRATION_IN_PROGRESS  # paid, being provisioned
    saleshandy.progress(order.upstream_id, to="active")
    assert email_orders.email_order_refresh(order=order).status == OrderStatus.REGISTERED


def test_a_failed_domain_fails_the_order_with_the_reason_kept(support_user, saleshandy,
                                                              customer):
    order = placed_order(support_user, customer, saleshandy, paid=True)
    saleshandy.progress(order.upstream_id, to="failed")
    order = email_orders.email_order_refresh(order=order)
    assert order.status == OrderStatus.FAILED
    assert order.status_reason == "Saleshandy domain status: tryoutreachteam.com failed"
    assert order.registration is None and not Registration.objects.exists()


def test_refresh_refuses_an_order_that_is_not_an_email_order(support_user, saleshandy,
                                                             customer):
    order = placed_order(support_user, customer, saleshandy, paid=True)
    Order.objects.filter(pk=order.pk).update(kind=OrderKind.REGISTRATION)
    with pytest.raises(ValueError, match="not an email-infrastructure order"):
        email_orders.email_order_refresh(order=Order.objects.get(pk=order.pk))
    assert saleshandy.requests == []


def test_the_task_polls_until_provisioning_ends(support_user, saleshandy, customer, settings,
                                                enqueued):
    settings.EMAIL_ORDER_POLL_INTERVAL = 0.0
    order = placed_order(support_user, customer, saleshandy, paid=True)
    saleshandy.progress(order.upstream_id, to="active", after=2)

    assert tasks.follow_email_order(order.pk) == OrderStatus.REGISTERED

    assert len(saleshandy.requests) == 3  # bounded polls within one run
    assert Order.objects.get().status == OrderStatus.REGISTERED
    assert enqueued == []  # nothing left to follow


def test_an_order_followed_to_completion_leaves_its_domains_as_registrations(
        support_user, saleshandy, customer, settings, enqueued):
    settings.EMAIL_ORDER_POLL_INTERVAL = 0.0
    names = ["tryoutreachteam.com", "getoutreachteam.io"]
    order = placed_order(support_user, customer, saleshandy, paid=True, domains=[
        {"name": name, "mailboxes": [{"first_name": "John", "last_name": "Smith",
                                      "email": "john"}]} for name in names])
    saleshandy.progress(order.upstream_id, to="active", after=1)

    assert tasks.follow_email_order(order.pk) == OrderStatus.REGISTERED

    registrations = {registration.name: registration
                     for registration in Registration.objects.order_by("name")}
    assert sorted(registrations) == sorted(names)
    for registration in registrations.values():
        assert registration.provider_account == provider_account()
        assert registration.status == RegistrationStatus.ACTIVE
        assert registration.account == customer  # the order's customer
        assert registration.upstream_id is None  # Saleshandy's are keyed by name
    order.refresh_from_db()
    assert order.status == OrderStatus.REGISTERED
    assert order.registration == registrations["tryoutreachteam.com"]  # the first delivered
    created = StaffAction.objects.filter(action="registration.sync_created")
    assert sorted(row.target_id for row in created) == sorted(
        str(registration.pk) for registration in registrations.values())
    assert {row.actor_label for row in created} == {f"order:{order.pk}"}
    assert enqueued == []

    # Following it again changes nothing: no second registration, no request.
    assert tasks.follow_email_order(order.pk) == OrderStatus.REGISTERED
    assert Registration.objects.count() == 2
    assert len(saleshandy.requests) == 2


def test_the_task_comes_back_later_while_in_progress_and_stops_at_the_bound(
        support_user, saleshandy, customer, settings, enqueued):
    settings.EMAIL_ORDER_POLL_INTERVAL = 0.0
    settings.EMAIL_ORDER_POLLS_PER_RUN = 2
    settings.EMAIL_ORDER_FOLLOW_LIMIT = 3
    order = placed_order(support_user, customer, saleshandy, paid=True)

    assert tasks.follow_email_order(order.pk) == OrderStatus.REGISTRATION_IN_PROGRESS
    assert len(saleshandy.requests) == 2
    assert enqueued == [((order.pk,), {"follow_round": 2}, tasks.follow_delay(1))]
    assert tasks.follow_delay(1) < tasks.follow_delay(2) <= settings.EMAIL_ORDER_FOLLOW_MAX_DELAY

    assert tasks.follow_email_order(order.pk, follow_round=3) == "given_up"
    assert len(enqueued) == 1


def test_the_task_retries_only_retryable_errors_with_backoff(support_user, saleshandy,
                                                             customer, monkeypatch):
    order = placed_order(support_user, customer, saleshandy, paid=True)
    retries: list[tuple[Exception, float]] = []

    class Retrying(Exception):
        pass

    def retry(exc=None, countdown=None, **options):
        retries.append((exc, countdown))
        return Retrying()

    monkeypatch.setattr(tasks.follow_email_order, "retry", retry)
    saleshandy.script("GET", "/v1/domain", error(503, "Down"))
    with pytest.raises(Retrying):
        tasks.follow_email_order(order.pk)
    ((error_seen, countdown),) = retries
    assert isinstance(error_seen, UpstreamFailure) and error_seen.retryable
    assert countdown == tasks.retry_delay(0)

    saleshandy.script("GET", "/v1/domain", error(401, "Invalid API key"))
    assert tasks.follow_email_order(order.pk) == "failed"
    assert len(retries) == 1
    assert Order.objects.get().status == OrderStatus.PAYMENT_INITIATED  # untouched


def test_the_task_ignores_a_missing_order(db):
    assert tasks.follow_email_order(987654) == "gone"


def test_the_sweep_follows_every_open_email_order(support_user, saleshandy, customer,
                                                  enqueued):
    waiting = placed_order(support_user, customer, saleshandy, paid=False)
    ended = placed_order(support_user, customer, saleshandy, paid=True)
    saleshandy.progress(ended.upstream_id, to="active")
    assert email_orders.email_order_refresh(order=ended).status == OrderStatus.REGISTERED

    assert tasks.follow_open_email_orders() == 1

    assert enqueued == [((waiting.pk,), {}, 0)]


# --- Who may order -----------------------------------------------------------------------

ALLOWED = {SUPPORT: True, ADMIN: True, FINANCE: False, "staff": False}


@pytest.mark.parametrize("role", [SUPPORT, ADMIN, FINANCE, "staff"])
def test_the_button_and_the_page_follow_the_permission(client, role_users, saleshandy,
                                                       customer, role):
    client.force_login(role_users[role])

    change_page = client.get(change_url(customer))
    page = client.get(order_url(customer))
    post = client.post(order_url(customer), form_data())

    if role == "staff":
        assert change_page.status_code == 403  # may not even look at accounts
    else:
        assert change_page.status_code == 200
        has_button = 'id="email-order"' in change_page.content.decode()
        assert has_button is ALLOWED[role]
    if ALLOWED[role]:
        assert page.status_code == 200 and "Domains and mailboxes" in page_text(page)
        assert post.status_code == 200 and 'id="email-order-placed"' in page_text(post)
        assert Order.objects.count() == 1
    else:
        assert page.status_code == 403 and post.status_code == 403
        assert saleshandy.requests == [] and not Order.objects.exists()
        assert not StaffAction.objects.exists()


def test_the_service_checks_the_permission_first(finance_user, saleshandy, customer):
    with pytest.raises(PermissionDenied):
        place(finance_user, customer)
    assert saleshandy.requests == [] and not StaffAction.objects.exists()


def test_an_unknown_account_is_a_404(client, support_user, saleshandy):
    client.force_login(support_user)
    assert client.get(reverse("admin:billing_account_email_order", args=[99999])
                      ).status_code == 404
    assert client.get("/admin/billing/account/not-a-number/email-order/").status_code == 404
