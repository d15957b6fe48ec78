"""Email-infrastructure orders (Saleshandy, document 003) placed by Support for a customer
account: the admin page, the exact body sent, every rule refused before sending with its
message on the page, upstream failures without an Order (and never a 500), the follow-up
polling that moves the Order on, and who may do it.

Only the HTTP boundary is fake: `FakeSaleshandy` behind `override_transport`.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from backoffice.models import StaffAction
from backoffice.roles import ADMIN, FINANCE, SUPPORT
from billing import services, tasks
from billing.models import Account, Order, OrderItem, OrderKind, OrderStatus
from registrar.models import ProviderAccount
from registrar.operations import InvalidInput, OperationRefused
from registrar.providers.base import UpstreamFailure
from registrar.providers.registry import override_transport
from tests.factories import AccountFactory, ProviderAccountFactory
from tests.registrar.providers.test_saleshandy import DOC_BODY

LABEL = "saleshandy-main"
API_KEY = "sh_test_key_0123456789"
BASE_URL = "https://open-api.saleshandy.com"
CHECKOUT = "https://buy.paddle.com/checkout/chk_01HZX9Q2W3E4R5T6Y7U8I9O0PA?_ptxn=txn_01hzx9q2w3"

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

Answer = Callable[[httpx.Request], httpx.Response]


class FakeSaleshandy:
    """Saleshandy's Open API at the HTTP boundary: takes the order (or fails as told) and
    lists the domains with the statuses a test sets, one listing per GET."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.order_answer: Answer = lambda request: httpx.Response(
            201, json={"message": "Domain purchased successfully",
                       "payload": {"orderId": "ord_77", "checkoutUrl": CHECKOUT}},
            headers={"X-Request-Id": "req-place"})
        # Each GET /v1/domain takes the next listing; the last one repeats.
        self.listings: list[Any] = [[]]

    def list_statuses(self, *listings: dict[str, str]) -> None:
        """Each argument one listing: {domain name: status}."""
        self.listings = [
            [{"id": 9100 + number, "name": name, "status": status, "orderId": "ord_77",
              "mailboxes": [{"id": 1, "email": f"john@{name}"}]}
             for number, (name, status) in enumerate(statuses.items())]
            for statuses in listings]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if request.method == "POST" and request.url.path == "/v1/domain":
            return self.order_answer(request)
        if request.method == "GET" and request.url.path == "/v1/domain":
            domains = self.listings.pop(0) if len(self.listings) > 1 else self.listings[0]
            if isinstance(domains, httpx.Response):
                return domains
            return httpx.Response(200, json={"message": "Domains fetched successfully",
                                             "payload": {"domains": domains}})
        return httpx.Response(404, json={"message": "Not found"})

    def sent(self, method: str) -> list[httpx.Request]:
        return [request for request in self.requests if request.method == method]


@pytest.fixture
def saleshandy(db, monkeypatch) -> Iterator[FakeSaleshandy]:
    monkeypatch.setenv("SALESHANDY_TEST_KEY", API_KEY)
    ProviderAccountFactory(label=LABEL, kind="saleshandy", base_url=BASE_URL, account_ref="",
                           secret_env="SALESHANDY_TEST_KEY")
    fake = FakeSaleshandy()
    with override_transport(LABEL, httpx.MockTransport(fake)):
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
    return services.email_order_place(**arguments)


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

    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:billing_order_change", args=[order.pk])
    assert order.kind == OrderKind.EMAIL_INFRASTRUCTURE
    assert order.status == OrderStatus.PAYMENT_INITIATED  # a checkoutUrl: not paid yet
    assert (order.upstream_id, order.domain) == ("ord_77", "tryoutreachteam.com")
    assert (order.account, order.provider_account) == (customer, provider_account())
    assert order.customer_reference == "ACC-ACME-1"
    # Saleshandy's answer has no price: USD with zero amounts.
    assert order.currency == "USD"
    assert (order.subtotal_minor, order.fees_minor, order.total_minor) == (0, 0, 0)
    (item,) = order.items.all()
    assert (item.domain, item.quantity) == ("tryoutreachteam.com", 1)
    assert item.description == "Mailbox john@tryoutreachteam.com (Google, quarterly)"
    assert item.details["email"] == "john@tryoutreachteam.com"
    assert (item.details["first_name"], item.details["last_name"]) == ("John", "Smith")

    (row,) = StaffAction.objects.all()
    assert row.action == "order.place_email_infrastructure"
    assert row.outcome == StaffAction.Outcome.SUCCEEDED
    assert (row.target_type, row.target_id) == ("billing.order", str(order.pk))
    assert "checkoutUrl" in row.message and CHECKOUT not in row.message
    assert row.upstream_request_id == "req-place"
    # The link's token is masked in the audit; the host stays readable.
    assert row.parameters["checkout_url"].startswith("https://buy.paddle.com/checkout/")
    assert "chk_01HZX9Q2W3E4R5T6Y7U8I9O0PA" not in json.dumps(row.parameters)
    assert "txn_01hzx9q2w3" not in json.dumps(row.parameters)

    # After the commit, the follow-up is enqueued with the order's id.
    assert enqueued == [((order.pk,), {}, tasks.EMAIL_ORDER_FOLLOW_BASE_DELAY)]

    # Staff see the checkout link (escaped into the href) on the order page.
    page = client.get(response["Location"])
    assert page.status_code == 200
    text = page_text(page)
    assert f'href="{CHECKOUT}"' in text and 'class="checkout-link"' in text


def test_several_domains_with_named_and_derived_senders_on_a_free_order(
        client, admin_user_role, saleshandy, customer):
    saleshandy.order_answer = lambda request: httpx.Response(201, json={"orderId": "ord_78"})
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
    assert order.status == OrderStatus.REGISTRATION_IN_PROGRESS  # free: provisioning at once
    assert order.domain == ""  # two domains: the items carry them
    assert [item.domain for item in order.items.all()] == [
        "tryoutreachteam.com"] * 3 + ["getoutreachteam.io"]
    text = page_text(response)
    assert "No payment needed" in text and "checkout-link" not in text
    assert "checkoutUrl" not in StaffAction.objects.get().message


def test_the_page_offers_only_enabled_saleshandy_accounts(client, support_user, saleshandy,
                                                          customer):
    ProviderAccountFactory(label="saleshandy-old", kind="saleshandy", enabled=False)
    ProviderAccountFactory(label="sandbox")
    client.force_login(support_user)

    response = client.get(order_url(customer))

    choices = response.context["form"].fields["provider_account"].queryset
    assert [account.label for account in choices] == [LABEL]
    assert response.context["form"].initial["provider_account"] == provider_account().pk
    disabled = ProviderAccount.objects.get(label="saleshandy-old")
    refused = client.post(order_url(customer), form_data(provider_account=str(disabled.pk)))
    assert "Select a valid choice" in page_text(refused)
    assert saleshandy.requests == [] and not Order.objects.exists()


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


def test_a_provider_account_of_another_kind_is_refused(support_user, saleshandy, customer):
    other = ProviderAccountFactory(label="sandbox")
    with pytest.raises(InvalidInput) as caught:
        services.email_order_place(
            account=customer, provider_account=other, owner={}, email_service_provider="Google",
            plan_type="quarterly", domains=[], actor=support_user)
    assert "provider_account" in caught.value.field_errors
    assert saleshandy.requests == []


# --- Upstream failures: a clear message, no Order, never a 500 -----------------------------

FAILURES = [
    (lambda r: httpx.Response(502, json={"message": "Bad gateway"}),
     "Saleshandy failed to answer (HTTP 502)"),
    (lambda r: httpx.Response(500, text="Internal Server Error"),
     "Saleshandy failed to answer (HTTP 500)"),
    (lambda r: httpx.Response(503, json={"message": "Down for maintenance"}),
     "Saleshandy failed to answer (HTTP 503)"),
    (lambda r: httpx.Response(400, json={"statusCode": 400, "error": "Bad Request",
                                         "message": ["zipcode is invalid for country"]}),
     "Saleshandy refused the order (HTTP 400)"),
    (lambda r: httpx.Response(401, json={"message": "Invalid API key"}),
     "Saleshandy refused the order (HTTP 401)"),
    (lambda r: httpx.Response(429, json={"message": "Too many requests"}),
     "Saleshandy refused the order (HTTP 429)"),
    (lambda r: httpx.Response(201, text="<html>ok</html>"),
     "Saleshandy did not confirm the order, but it may have been placed"),
]


@pytest.mark.parametrize(("answer", "message"), FAILURES,
                         ids=["502", "500", "503", "400", "401", "429", "unreadable-201"])
def test_an_upstream_failure_is_a_clear_message_and_no_order(
        client, support_user, saleshandy, customer, answer, message):
    saleshandy.order_answer = answer
    client.force_login(support_user)

    response = client.post(order_url(customer), form_data())

    assert response.status_code == 200
    text = page_text(response)
    assert message in text
    assert "zipcode is invalid" not in text  # the upstream's own words go to the log only
    assert len(saleshandy.sent("POST")) == 1  # never repeated: no idempotency key
    assert not Order.objects.exists()
    (row,) = StaffAction.objects.all()
    assert row.action == "order.place_email_infrastructure"
    assert row.outcome == StaffAction.Outcome.FAILED
    assert (row.target_type, row.target_id) == ("billing.account", str(customer.pk))
    # What was typed is still there to correct or resend.
    assert response.context["form"]["domains"].value() == FORM["domains"]


def test_a_timeout_says_the_order_may_have_been_placed(client, support_user, saleshandy,
                                                      customer):
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    saleshandy.order_answer = timeout
    client.force_login(support_user)
    response = client.post(order_url(customer), form_data())
    assert response.status_code == 200
    assert "it may have been placed" in page_text(response)
    assert "check the account's domains at Saleshandy" in page_text(response)
    assert len(saleshandy.requests) == 1 and not Order.objects.exists()


def test_a_missing_secret_is_refused_on_the_page(client, support_user, saleshandy, customer,
                                                 monkeypatch):
    monkeypatch.delenv("SALESHANDY_TEST_KEY")
    client.force_login(support_user)
    response = client.post(order_url(customer), form_data())
    assert response.status_code == 200
    assert "has no secret" in page_text(response)
    assert saleshandy.requests == [] and not Order.objects.exists()


def test_a_failed_placement_enqueues_nothing(support_user, saleshandy, customer, enqueued,
                                            django_capture_on_commit_callbacks):
    saleshandy.order_answer = lambda r: httpx.Response(502, json={})
    with django_capture_on_commit_callbacks(execute=True):
        outcome = place(support_user, customer)
    assert not outcome.ok and outcome.error is not None
    assert enqueued == []


# --- Following the order until provisioning ends -------------------------------------------


def placed_order(actor, account: Account, saleshandy: FakeSaleshandy, *, paid: bool) -> Order:
    if not paid:
        saleshandy.order_answer = lambda r: httpx.Response(201, json={"orderId": "ord_77"})
    outcome = place(actor, account)
    assert outcome.ok, outcome.message
    saleshandy.requests.clear()
    return outcome.data["order"]


def test_refresh_moves_the_order_from_in_progress_to_registered(support_user, saleshandy,
                                                                customer):
    order = placed_order(support_user, customer, saleshandy, paid=False)
    assert order.status == OrderStatus.REGISTRATION_IN_PROGRESS
    saleshandy.list_statuses({"tryoutreachteam.com": "inProgress"},
                             {"tryoutreachteam.com": "active"})

    still = services.email_order_refresh(order=order)
    assert still.status == OrderStatus.REGISTRATION_IN_PROGRESS
    item = still.items.get()
    assert (item.details["domain_id"], item.details["domain_status"]) == ("9100", "inProgress")

    done = services.email_order_refresh(order=still)

    assert done.status == OrderStatus.REGISTERED
    assert Order.objects.get().status == OrderStatus.REGISTERED
    assert done.items.get().details["domain_status"] == "active"
    for request in saleshandy.requests:
        assert (request.method, request.url.path) == ("GET", "/v1/domain")
        assert dict(request.url.params) == {"search": "tryoutreachteam.com"}
        assert request.headers["x-api-key"] == API_KEY
    assert len(saleshandy.requests) == 2
    row = StaffAction.objects.get(action="order.refresh_email_infrastructure")
    assert row.actor is None and row.actor_label == f"poll:{LABEL}"
    assert row.parameters["status"] == ["registration_in_progress", "registered"]

    # A finished order is not asked about again.
    services.email_order_refresh(order=done)
    assert len(saleshandy.requests) == 2


def test_an_unpaid_order_waits_until_its_domains_are_listed(support_user, saleshandy,
                                                           customer):
    order = placed_order(support_user, customer, saleshandy, paid=True)
    saleshandy.list_statuses({}, {"tryoutreachteam.com": "inProgress"},
                             {"tryoutreachteam.com": "active"})

    assert services.email_order_refresh(order=order).status == OrderStatus.PAYMENT_INITIATED
    order = services.email_order_refresh(order=order)
    assert order.status == OrderStatus.REGISTRATION_IN_PROGRESS  # paid, being provisioned
    assert services.email_order_refresh(order=order).status == OrderStatus.REGISTERED


def test_a_failed_domain_fails_the_order_with_the_reason_kept(support_user, saleshandy,
                                                              customer):
    order = placed_order(support_user, customer, saleshandy, paid=False)
    saleshandy.list_statuses({"tryoutreachteam.com": "failed"})
    order = services.email_order_refresh(order=order)
    assert order.status == OrderStatus.FAILED
    assert order.status_reason == "Saleshandy domain status: tryoutreachteam.com failed"


def test_the_task_polls_until_provisioning_ends(support_user, saleshandy, customer, settings,
                                                enqueued):
    settings.EMAIL_ORDER_POLL_INTERVAL = 0.0
    order = placed_order(support_user, customer, saleshandy, paid=False)
    saleshandy.list_statuses({"tryoutreachteam.com": "inProgress"},
                             {"tryoutreachteam.com": "inProgress"},
                             {"tryoutreachteam.com": "active"})

    assert tasks.follow_email_order(order.pk) == OrderStatus.REGISTERED

    assert len(saleshandy.requests) == 3  # bounded polls within one run
    assert Order.objects.get().status == OrderStatus.REGISTERED
    assert enqueued == []  # nothing left to follow


def test_the_task_comes_back_later_while_in_progress_and_stops_at_the_bound(
        support_user, saleshandy, customer, settings, enqueued):
    settings.EMAIL_ORDER_POLL_INTERVAL = 0.0
    settings.EMAIL_ORDER_POLLS_PER_RUN = 2
    settings.EMAIL_ORDER_FOLLOW_LIMIT = 3
    order = placed_order(support_user, customer, saleshandy, paid=False)
    saleshandy.list_statuses({"tryoutreachteam.com": "inProgress"})

    assert tasks.follow_email_order(order.pk) == OrderStatus.REGISTRATION_IN_PROGRESS
    assert len(saleshandy.requests) == 2
    assert enqueued == [((order.pk,), {"follow_round": 2}, tasks.follow_delay(1))]
    assert tasks.follow_delay(1) < tasks.follow_delay(2) <= tasks.EMAIL_ORDER_FOLLOW_MAX_DELAY

    assert tasks.follow_email_order(order.pk, follow_round=3) == "given_up"
    assert len(enqueued) == 1


def test_the_task_retries_only_retryable_errors_with_backoff(support_user, saleshandy,
                                                             customer, monkeypatch):
    order = placed_order(support_user, customer, saleshandy, paid=False)
    retries: list[tuple[Exception, float]] = []

    class Retrying(Exception):
        pass

    def retry(exc=None, countdown=None, **options):
        retries.append((exc, countdown))
        return Retrying()

    monkeypatch.setattr(tasks.follow_email_order, "retry", retry)
    saleshandy.listings = [httpx.Response(503, json={"message": "Down"})]
    with pytest.raises(Retrying):
        tasks.follow_email_order(order.pk)
    ((error, countdown),) = retries
    assert isinstance(error, UpstreamFailure) and error.retryable
    assert countdown == tasks.retry_delay(0)

    saleshandy.listings = [httpx.Response(401, json={"message": "Invalid API key"})]
    assert tasks.follow_email_order(order.pk) == "failed"
    assert len(retries) == 1
    assert Order.objects.get().status == OrderStatus.REGISTRATION_IN_PROGRESS


def test_the_task_ignores_a_missing_order(db):
    assert tasks.follow_email_order(987654) == "gone"


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
        assert post.status_code == 302
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


def test_a_refusal_without_field_errors_goes_above_the_form(client, support_user, saleshandy,
                                                            customer, monkeypatch):
    def refuse(**kwargs: Any):
        raise OperationRefused("Saleshandy is switched off for maintenance.")

    monkeypatch.setattr(services, "email_order_place", refuse)
    client.force_login(support_user)
    response = client.post(order_url(customer), form_data())
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "Saleshandy is switched off for maintenance."]
