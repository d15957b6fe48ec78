"""Checking a placed order's status at its upstream: the order page's "Check status at
the upstream" button and `manage.py order_status`, through billing.order_status.

For Entri (document 000) that is GET /orders/{order_id}/status, which "checks and
updates" the order there. What leaves, what the order becomes (through the order state
machine: never backwards), the one audit row per check saying old -> new, and what
staff read; an upstream without the check offers no button and sends nothing.

Only the HTTP boundary is fake: tests.fakes.entri.FakeEntri behind override_transport.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.urls import reverse

from backoffice.models import StaffAction
from billing import order_status
from billing.models import Order, OrderStatus
from registrar.operations import OperationUnsupported
from tests.factories import AccountFactory, OrderFactory, ProviderAccountFactory
from tests.fakes.entri import PREFIX, FakeEntri, jwt, order_uuid

LABEL = "entri-status"
APP_ID = "acme-status-app"
SECRET = "entri-secret-status"
DOMAIN = "status-check.shop"
ORDER_ID = order_uuid(7)
STATUS_PATH = f"{PREFIX}/orders/{ORDER_ID}/status"


@pytest.fixture
def entri(db, monkeypatch) -> Iterator[FakeEntri]:
    monkeypatch.setenv("PROVIDER_SECRET_ENTRI_STATUS", SECRET)
    ProviderAccountFactory(label=LABEL, kind="entri", base_url="https://api.goentri.com",
                           account_ref=APP_ID, secret_env="PROVIDER_SECRET_ENTRI_STATUS")
    fake = FakeEntri(application_id=APP_ID, secret=SECRET)
    cache.clear()  # Entri's JWT is shared through the cache
    with fake.serving(LABEL):
        yield fake
    cache.clear()


@pytest.fixture
def order(entri) -> Order:
    """An order placed at Entri, still being registered there."""
    entri.add_domain(DOMAIN, status="registration_in_progress")
    entri.add_order(ORDER_ID, "registration_in_progress", DOMAIN)
    return OrderFactory(provider_account=ProviderAccountFactory(label=LABEL),
                        account=AccountFactory(), upstream_id=ORDER_ID, domain=DOMAIN,
                        status=OrderStatus.REGISTRATION_IN_PROGRESS, subtotal_minor=1299,
                        fees_minor=0, total_minor=1299)


def check_url(order: Order) -> str:
    return reverse("admin:billing_order_status", args=[order.pk])


def text(response) -> str:
    return html.unescape(response.content.decode())


def test_the_button_reads_the_status_and_moves_the_order_on(client, support_user, order,
                                                             entri):
    entri.set_order_status(ORDER_ID, "registered")
    client.force_login(support_user)
    change = text(client.get(reverse("admin:billing_order_change", args=[order.pk])))
    assert 'id="status-check"' in change and "Check status at the upstream" in change
    page = client.get(check_url(order))
    assert page.status_code == 200 and 'id="check-status"' in text(page)
    assert entri.api_requests == []  # the page itself asks nothing

    response = client.post(check_url(order), follow=True)

    assert response.redirect_chain[-1][0] == reverse("admin:billing_order_change",
                                                     args=[order.pk])
    sent = entri.sent("GET", STATUS_PATH)
    assert len(sent) == 1
    assert sent[0].headers["Authorization"] == f"Bearer {jwt(1)}"
    assert sent[0].headers["applicationId"] == APP_ID
    order.refresh_from_db()
    assert order.status == OrderStatus.REGISTERED
    # Delivered: the domain read and mirrored with the order.
    assert entri.sent("GET", f"{PREFIX}/domains/{DOMAIN}")
    assert order.registration is not None and order.registration.name == DOMAIN
    message = (f"Checked at Entri Sell Enterprise: order {order.pk} Registration in progress "
               f"→ Registered. {DOMAIN} is now in the mirror.")
    assert message in text(response)
    row = StaffAction.objects.filter(action=order_status.CHECK_ACTION).first()
    assert (row.actor, row.outcome, row.message) == (
        support_user, StaffAction.Outcome.SUCCEEDED, message)
    assert row.parameters["status"] == ["registration_in_progress", "registered"]
    assert row.parameters["upstream_status"] == "registered"
    # The charge is in the ledger once (this order came without its entry); a second
    # check adds nothing.
    assert [e.amount_minor for e in order.ledger_entries.all()] == [1299]
    client.post(check_url(order))
    assert [e.amount_minor for e in order.ledger_entries.all()] == [1299]
    assert StaffAction.objects.filter(action=order_status.CHECK_ACTION).count() == 2


def test_an_unchanged_status_says_so_and_changes_nothing(support_user, order, entri):
    outcome = order_status.order_check_status(order=order, actor=support_user)

    assert outcome.status == StaffAction.Outcome.SUCCEEDED
    assert outcome.message == (
        f"Checked at Entri Sell Enterprise: order {order.pk} is still Registration in "
        "progress (Entri Sell Enterprise says Registration in progress). Nothing changed.")
    order.refresh_from_db()
    assert order.status == OrderStatus.REGISTRATION_IN_PROGRESS
    assert StaffAction.objects.filter(action=order_status.CHECK_ACTION).count() == 1


def test_a_status_that_would_move_the_order_backwards_is_not_applied(support_user, order,
                                                                      entri):
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.REGISTERED)
    order.refresh_from_db()
    entri.set_order_status(ORDER_ID, "payment_initiated")

    outcome = order_status.order_check_status(order=order, actor=support_user)

    assert outcome.data["stale"] is True
    assert outcome.message == (
        f"Checked at Entri Sell Enterprise: it reports order {order.pk} as Payment "
        "initiated, but here it is already Registered, which comes later. Not applied: "
        "the order stays Registered.")
    order.refresh_from_db()
    assert order.status == OrderStatus.REGISTERED
    row = StaffAction.objects.get()
    assert row.parameters["applied"] is False


def test_an_upstream_refusal_changes_nothing_and_says_so(client, support_user, order, entri):
    entri.orders.clear()  # Entri answers 404 {"message": "Order not found"}
    client.force_login(support_user)

    response = client.post(check_url(order), follow=True)

    assert (f"Entri Sell Enterprise could not say where order {order.pk} stands: The "
            "registrar does not know this object (http_404). Nothing was changed "
            "here.") in text(response)
    order.refresh_from_db()
    assert order.status == OrderStatus.REGISTRATION_IN_PROGRESS
    row = StaffAction.objects.get()
    assert (row.outcome, row.upstream_status) == (StaffAction.Outcome.FAILED, 404)


def test_an_upstream_without_the_check_offers_nothing_and_sends_nothing(client, support_user,
                                                                        db):
    other = OrderFactory(provider_account=ProviderAccountFactory(label="namecom-x",
                                                                 kind="namecom"),
                         upstream_id="NC-1")
    client.force_login(support_user)
    change = text(client.get(reverse("admin:billing_order_change", args=[other.pk])))
    assert 'id="status-check"' not in change
    page = text(client.get(check_url(other)))
    assert "name.com offers no order status check." in page and 'id="check-status"' not in page
    assert client.post(check_url(other)).status_code == 200
    with pytest.raises(OperationUnsupported):
        order_status.order_check_status(order=other, actor=support_user)
    assert not StaffAction.objects.exists()


def test_an_order_without_an_upstream_id_cannot_be_checked(support_user, order, entri):
    Order.objects.filter(pk=order.pk).update(upstream_id=None)
    order.refresh_from_db()
    with pytest.raises(OperationUnsupported, match="has not given this order an id"):
        order_status.order_check_status(order=order, actor=support_user)
    assert entri.api_requests == [] and not StaffAction.objects.exists()


def test_who_may_check(client, finance_user, order, entri):
    client.force_login(finance_user)
    assert client.get(check_url(order)).status_code == 403
    assert client.post(check_url(order)).status_code == 403
    change = text(client.get(reverse("admin:billing_order_change", args=[order.pk])))
    assert 'id="status-check"' not in change
    assert entri.api_requests == [] and not StaffAction.objects.exists()


def test_a_malformed_or_unknown_id_is_a_404(client, support_user, db):
    client.force_login(support_user)
    assert client.get("/admin/billing/order/x1/status-check/").status_code == 404
    assert client.post("/admin/billing/order/999999/status-check/").status_code == 404


# --- the command -------------------------------------------------------------------------


def run(*args: str) -> str:
    out = StringIO()
    call_command("order_status", *args, stdout=out)
    return out.getvalue()


def test_the_command_checks_each_order_with_one_audit_row(support_user, order, entri):
    entri.set_order_status(ORDER_ID, "registered")

    rows = json.loads(run(str(order.pk), "--as", support_user.username, "--format", "json"))

    assert rows == [{
        "order": order.pk, "domain": DOMAIN, "upstream": LABEL, "upstream_id": ORDER_ID,
        "old_status": "Registration in progress", "new_status": "Registered",
        "outcome": "succeeded", "message": rows[0]["message"]}]
    assert "Registration in progress → Registered" in rows[0]["message"]
    assert len(entri.sent("GET", STATUS_PATH)) == 1
    row = StaffAction.objects.get(action=order_status.CHECK_ACTION)
    assert row.actor == support_user
    assert row.channel == "cli"


def test_the_command_table_and_a_failure_exit_non_zero(support_user, order, entri):
    entri.orders.clear()
    with pytest.raises(CommandError, match="1 of 1 order"):
        run(str(order.pk), "--as", support_user.username)
    assert StaffAction.objects.get().outcome == StaffAction.Outcome.FAILED


def test_the_command_refuses_unknown_orders_and_users_naming_the_option(support_user, order,
                                                                         entri, finance_user):
    with pytest.raises(CommandError, match="ORDER_ID: no order 999999"):
        run("999999", "--as", support_user.username)
    with pytest.raises(CommandError, match="finance-test is not allowed"):
        run(str(order.pk), "--as", finance_user.username)
    assert entri.api_requests == [] and not StaffAction.objects.exists()
