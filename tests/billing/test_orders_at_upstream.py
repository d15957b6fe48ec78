"""The "Orders at the upstream" page (admin:billing_order_upstream, linked from the order
list): the first orders a provider account's upstream lists, read through
billing.order_sync.upstream_orders, each marked "mirrored here" (with a link to the
local order) or "not here". A read: only the first page of the list leaves, nothing is
stored, an upstream failure is a message on the page, a bad account id a form error.

Only the HTTP boundary is fake: the shared fakes of Entri (document 000), Domainee (002)
and Saleshandy (003) behind override_transport, as in tests/billing/test_order_sync.py.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from django.apps import apps
from django.core.cache import cache
from django.urls import reverse

from backoffice.models import StaffAction
from billing import email_orders, order_sync
from billing.models import Order, OrderStatus
from registrar.models import ProviderAccount, Registration
from tests.factories import AccountFactory, OrderFactory, ProviderAccountFactory
from tests.fakes.domainee import PURCHASES, FakeDomainee
from tests.fakes.entri import PREFIX, FakeEntri, order_uuid
from tests.fakes.http import respond
from tests.fakes.saleshandy import BASE_URL as SALESHANDY_URL
from tests.fakes.saleshandy import OWNER, FakeSaleshandy, error

URL = reverse("admin:billing_order_upstream")
ENTRI_LABEL, ENTRI_APP, ENTRI_SECRET = "entri-upstream", "acme-upstream-app", "entri-up-secret"
DOMAINEE_LABEL, DOMAINEE_KEY = "domainee-upstream", "dme_test_upstream_0123"
SALESHANDY_LABEL, SALESHANDY_KEY = "saleshandy-upstream", "sh_test_upstream_0123"
ORDERS_LIST = f"{PREFIX}/orders"
PRICING = {"purchasePrice": 19, "renewalPrice": 24, "currency": "USD", "billingPeriod": 1}


def stored() -> dict[str, int]:
    """Rows of every billing model, the registrations and the audit trail."""
    rows = {model._meta.label: model.objects.count()
            for model in apps.get_app_config("billing").get_models()}
    rows["registrations"] = Registration.objects.count()
    rows["audit"] = StaffAction.objects.count()
    return rows


def text(response) -> str:
    return html.unescape(response.content.decode())


def rows(response) -> list[str]:
    """The listing's rows as the page shows them, cell texts joined by " | "."""
    table = re.search(r'<table id="upstream-orders">.*?<tbody>(.*?)</tbody>',
                      response.content.decode(), re.S)
    assert table, "no listing on the page"
    return [" | ".join(html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
                       for cell in re.findall(r"<td>(.*?)</td>", row, re.S))
            for row in re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)]


def account(label: str) -> ProviderAccount:
    return ProviderAccount.objects.get(label=label)


# --- the fakes ---------------------------------------------------------------------------


@pytest.fixture
def entri(db, monkeypatch) -> Iterator[FakeEntri]:
    monkeypatch.setenv("PROVIDER_SECRET_ENTRI_UPSTREAM", ENTRI_SECRET)
    ProviderAccountFactory(label=ENTRI_LABEL, kind="entri", base_url="https://api.goentri.com",
                           account_ref=ENTRI_APP, secret_env="PROVIDER_SECRET_ENTRI_UPSTREAM")
    cache.clear()  # Entri's JWT is shared through the cache
    with FakeEntri(application_id=ENTRI_APP, secret=ENTRI_SECRET).serving(ENTRI_LABEL) as fake:
        yield fake
    cache.clear()


@pytest.fixture
def domainee(db, monkeypatch) -> Iterator[FakeDomainee]:
    monkeypatch.setenv("PROVIDER_SECRET_DOMAINEE_UPSTREAM", DOMAINEE_KEY)
    ProviderAccountFactory(label=DOMAINEE_LABEL, kind="domainee",
                           base_url="https://api.domainee.dev", account_ref="",
                           secret_env="PROVIDER_SECRET_DOMAINEE_UPSTREAM")
    with FakeDomainee(token=DOMAINEE_KEY).serving(DOMAINEE_LABEL) as fake:
        yield fake


@pytest.fixture
def saleshandy(db, monkeypatch) -> Iterator[FakeSaleshandy]:
    monkeypatch.setenv("PROVIDER_SECRET_SALESHANDY_UPSTREAM", SALESHANDY_KEY)
    ProviderAccountFactory(label=SALESHANDY_LABEL, kind="saleshandy", base_url=SALESHANDY_URL,
                           account_ref="", secret_env="PROVIDER_SECRET_SALESHANDY_UPSTREAM")
    # The listing without order ids: only the local orders (`known`) say whose domain is whose.
    fake = FakeSaleshandy(api_key=SALESHANDY_KEY, order_ids_in_listing=False)
    with fake.serving(SALESHANDY_LABEL):
        yield fake


# --- Entri ------------------------------------------------------------------------------


def test_the_first_25_entri_orders_are_shown_from_the_first_page_alone(client, support_user,
                                                                      entri):
    for number in range(1, 41):
        entri.add_order(order_uuid(number), "registered", f"shop{number}.com",
                        pricing=PRICING)
    entri.set_order_status(order_uuid(2), "registration_in_progress")
    here = OrderFactory(provider_account=account(ENTRI_LABEL), upstream_id=order_uuid(2),
                        domain="shop2.com", status=OrderStatus.PAYMENT_SUCCESSFUL)
    before = stored()
    client.force_login(support_user)

    response = client.get(URL, {"account": account(ENTRI_LABEL).pk})

    assert response.status_code == 200
    # One page of the list left (the adapter's page of 100 holds the 25 shown).
    (sent,) = entri.sent("GET", ORDERS_LIST)
    assert dict(sent.url.params) == {"page": "0", "size": "100"}
    assert [r.url.path for r in entri.api_requests] == [ORDERS_LIST]
    shown = rows(response)
    assert len(shown) == order_sync.UPSTREAM_ORDERS_SHOWN
    assert shown[0] == (f"{order_uuid(1)} | shop1.com | registered | 19.00 USD | — | not here")
    assert shown[1] == (f"{order_uuid(2)} | shop2.com | registration_in_progress | 19.00 USD "
                        f"| — | mirrored here: order {here.pk} (Payment successful)")
    page = response.content.decode()
    assert f'href="{reverse("admin:billing_order_change", args=[here.pk])}"' in page
    assert "The first 25 order(s) the upstream lists, in its order (it may list more)." in (
        text(response))
    # A read: the local order is as it was, and nothing was stored.
    here.refresh_from_db()
    assert here.status == OrderStatus.PAYMENT_SUCCESSFUL
    assert stored() == before


def test_a_small_upstream_page_is_followed_only_as_far_as_the_25th_order(client, finance_user,
                                                                        entri):
    for number in range(1, 41):
        entri.add_order(order_uuid(number), "registered", f"shop{number}.com")
    entri.page_size_limit = 10  # the upstream serves fewer than it was asked for

    client.force_login(finance_user)
    response = client.get(URL, {"account": account(ENTRI_LABEL).pk})

    assert response.status_code == 200 and len(rows(response)) == 25
    assert [r.url.params["page"] for r in entri.sent("GET", ORDERS_LIST)] == ["0", "1", "2"]
    # No amount stated by the list: said so, not guessed.
    assert rows(response)[0].split(" | ")[3] == "not stated"


def test_an_entri_failure_is_a_message_and_nothing_else(client, support_user, entri):
    entri.add_order(order_uuid(1), "registered", "shop1.com")
    entri.fail_page("orders", 0, respond(403, {"message": "not this application"}))
    before = stored()
    client.force_login(support_user)

    response = client.get(URL, {"account": account(ENTRI_LABEL).pk})

    assert response.status_code == 200
    page = text(response)
    assert 'id="upstream-orders-failure"' in page and "HTTP 403" in page
    assert "no order could be read. Nothing was changed." in page
    assert 'id="upstream-orders"' not in page
    assert entri.sent("GET", ORDERS_LIST)
    assert stored() == before


def test_a_failure_after_the_first_page_keeps_what_was_read(entri):
    for number in range(1, 31):
        entri.add_order(order_uuid(number), "registered", f"shop{number}.com")
    entri.page_size_limit = 10
    entri.fail_page("orders", 1, respond(500, {"message": "boom"}))

    listing = order_sync.upstream_orders(account(ENTRI_LABEL))

    assert len(listing.orders) == 10 and "HTTP 500" in listing.failure
    assert listing.failure.endswith("only the 10 order(s) read before it are shown.")


# --- Domainee -----------------------------------------------------------------------------


def test_domainee_purchases_are_read_from_the_purchase_list(client, admin_user_role,
                                                           domainee):
    domainee.add_purchase("janesbakery.com", id="p-1")
    domainee.add_purchase("janesbakery.net", status="refunded", id="p-2", totalCents=2518,
                          feeCents=100, wholesaleCents=2418)
    here = OrderFactory(provider_account=account(DOMAINEE_LABEL), upstream_id="p-1",
                        domain="janesbakery.com")
    # The same upstream id under another account is not this account's order.
    OrderFactory(provider_account=ProviderAccountFactory(label="elsewhere"), upstream_id="p-2")
    before = stored()
    client.force_login(admin_user_role)

    response = client.get(URL, {"account": account(DOMAINEE_LABEL).pk})

    assert [(r.url.path, dict(r.url.params)) for r in domainee.requests] == [
        (PURCHASES, {"limit": "100"})]
    shown = rows(response)
    assert [row.split(" | ")[:4] for row in shown] == [
        ["p-1", "janesbakery.com", "registered", "15.18 USD"],
        ["p-2", "janesbakery.net", "refunded", "25.18 USD"]]
    assert shown[0].endswith(f"mirrored here: order {here.pk} (Registered)")
    assert shown[1].endswith("not here")
    assert "(it may list more)" not in text(response)
    assert stored() == before


def test_a_domainee_failure_is_a_message(client, support_user, domainee):
    domainee.fail_list(respond(503, {"error": {"code": "unavailable", "message": "Down"}}))
    client.force_login(support_user)

    response = client.get(URL, {"account": account(DOMAINEE_LABEL).pk})

    assert response.status_code == 200
    assert 'id="upstream-orders-failure"' in text(response)
    assert "no order could be read" in text(response)
    assert Order.objects.count() == 0


# --- Saleshandy ---------------------------------------------------------------------------


def test_saleshandy_listing_is_matched_to_the_orders_placed_here(client, support_user,
                                                                saleshandy):
    customer = AccountFactory(customer_reference="ACC-ACME-1")
    outcome = email_orders.email_order_place(
        account=customer, provider_account=account(SALESHANDY_LABEL), owner=OWNER,
        email_service_provider="Google", plan_type="quarterly",
        domains=[{"name": "tryoutreachteam.com", "redirect_url": "acmecorp.com",
                  "mailboxes": [{"first_name": "John", "last_name": "Smith",
                                 "email": "john"}]}],
        actor=support_user)
    placed = outcome.data["order"]
    saleshandy.pay("ord_1")
    saleshandy.add_domain("outbound-acme.com", "active", order_id="ord_88")
    before, sent_before = stored(), len(saleshandy.requests)
    client.force_login(support_user)

    response = client.get(URL, {"account": account(SALESHANDY_LABEL).pk})

    assert [r.url.path for r in saleshandy.requests[sent_before:]] == ["/v1/domain"]
    shown = rows(response)
    # The listing names no order: the placed one is found by its domain among the orders
    # here (what the adapter is given as `known`).
    assert shown[0].startswith("ord_1 | tryoutreachteam.com | registration_in_progress")
    assert shown[0].endswith(f"mirrored here: order {placed.pk} (Payment initiated)")
    assert len(shown) == 1
    # A domain without an order id that no order here has is not shown, and said so.
    assert "1 listed order(s) could not be read and are not shown." in text(response)
    placed.refresh_from_db()
    assert placed.status == OrderStatus.PAYMENT_INITIATED
    assert stored() == before


def test_a_saleshandy_failure_is_a_message(client, support_user, saleshandy):
    saleshandy.script("GET", "/v1/domain", error(500, "down"))
    client.force_login(support_user)

    response = client.get(URL, {"account": account(SALESHANDY_LABEL).pk})

    assert response.status_code == 200 and "HTTP 500" in text(response)
    assert 'id="upstream-orders-failure"' in text(response)


# --- who, what, and input -----------------------------------------------------------------


def test_the_order_list_links_to_the_page(client, support_user):
    client.force_login(support_user)
    page = client.get(reverse("admin:billing_order_changelist")).content.decode()
    assert f'href="{URL}" id="orders-at-upstream"' in page


def test_the_choice_offers_only_accounts_that_list_their_orders(client, finance_user, entri,
                                                               sandbox):
    ProviderAccountFactory(label="sandbox")  # the Domain Registration API: no order list
    ProviderAccountFactory(label="entri-off", kind="entri", enabled=False)
    client.force_login(finance_user)

    response = client.get(URL)

    assert response.status_code == 200
    options = re.findall(r'<option value="(\d+)"', response.content.decode())
    assert options == [str(account(ENTRI_LABEL).pk)]
    assert 'id="upstream-orders"' not in text(response)
    assert entri.requests == [] and sandbox.transport.requests == []


def test_without_any_such_account_the_page_says_so(client, support_user, db):
    client.force_login(support_user)
    response = client.get(URL)
    assert response.status_code == 200
    assert "No enabled provider account lists its orders." in text(response)


@pytest.mark.parametrize("value", ["abc", "-1", "١", " 1", "9" * 400, "\x00", "1e3", "",
                                   "%ED%A0%80"])
def test_a_bad_account_id_is_a_form_error_and_nothing_is_sent(client, support_user, entri,
                                                              value):
    client.force_login(support_user)
    before = stored()
    response = client.get(f"{URL}?account={value}" if value.startswith("%")
                          else URL, None if value.startswith("%") else {"account": value})
    assert response.status_code == 200
    page = text(response)
    if value:
        assert "Provider account: Choose one of the provider accounts listed" in page
    else:
        assert "Provider account: This field is required." in page
    assert entri.requests == [] and stored() == before


def test_an_account_that_lists_no_orders_is_refused_before_sending(client, support_user,
                                                                  entri):
    other = ProviderAccountFactory(label="entri-off", kind="entri", enabled=False)
    client.force_login(support_user)
    response = client.get(URL, {"account": other.pk})
    assert "Choose one of the provider accounts listed" in text(response)
    assert entri.requests == []


def test_a_role_without_the_order_view_is_refused(client, plain_staff_user, entri):
    client.force_login(plain_staff_user)
    assert client.get(URL, {"account": account(ENTRI_LABEL).pk}).status_code == 403
    assert entri.requests == []


def test_the_page_is_read_only(client, support_user, entri):
    client.force_login(support_user)
    response = client.post(URL, {"account": account(ENTRI_LABEL).pk})
    assert response.status_code == 405 and entri.requests == []


def test_an_account_whose_secret_is_missing_is_a_message(entri, monkeypatch):
    monkeypatch.delenv("PROVIDER_SECRET_ENTRI_UPSTREAM")
    listing = order_sync.upstream_orders(account(ENTRI_LABEL))
    assert listing.orders == [] and "PROVIDER_SECRET_ENTRI_UPSTREAM" in listing.failure
    assert entri.requests == []

