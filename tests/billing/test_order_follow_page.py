"""The order page's "Read again at the upstream": the follow-up's read, asked for by a
person, through billing.order_follow (the same service as `manage.py order follow`)."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from billing.models import Order, OrderStatus
from tests.billing.test_order_command import quote_api, run
from tests.billing.test_ordering import customer, domain_api  # noqa: F401  (fixtures)
from tests.factories import OrderFactory, ProviderAccountFactory

pytestmark = pytest.mark.django_db


def follow_url(order: Order) -> str:
    return reverse("admin:billing_order_follow", args=[order.pk])


@pytest.fixture
def placed(domain_api, support_user):  # noqa: F811
    order = quote_api(domain_api)
    run("confirm", str(order.pk), "--as", "support-test")
    order.refresh_from_db()
    domain_api.transport.requests.clear()
    return order


def test_the_page_reads_the_order_and_says_old_and_new(client, support_user, placed,
                                                       domain_api):  # noqa: F811
    client.force_login(support_user)
    page = client.get(reverse("admin:billing_order_change", args=[placed.pk]))
    assert follow_url(placed) in page.content.decode()
    form = client.get(follow_url(placed))
    assert form.status_code == 200 and domain_api.transport.requests == []  # GET reads nothing
    for _ in range(5):
        response = client.post(follow_url(placed), follow=True)
        shown = " ".join(str(message) for message in response.context["messages"])
        if "->" in shown:
            break
    assert domain_api.transport.sent("GET", f"/api/orders/{placed.upstream_id}")
    assert domain_api.transport.mutations == []
    assert f"Order {placed.pk}: Registration in progress -> Registered." in shown
    assert Order.objects.get(pk=placed.pk).status == OrderStatus.REGISTERED


def test_an_order_that_cannot_be_read_again_says_why_and_sends_nothing(
        client, support_user, domain_api):  # noqa: F811
    order = OrderFactory(provider_account=ProviderAccountFactory(label="nc", kind="namecom"),
                         status=OrderStatus.TRANSFER_STARTED, upstream_id="77")
    client.force_login(support_user)
    response = client.post(follow_url(order))
    assert response.status_code == 200
    assert "gives no way to read order" in html.unescape(response.content.decode())
    assert domain_api.transport.requests == []


def test_staff_without_the_order_permission_are_refused(client, plain_staff_user, placed):
    client.force_login(plain_staff_user)
    assert client.get(follow_url(placed)).status_code == 403
    assert client.post(follow_url(placed)).status_code == 403
    assert client.get(reverse("admin:billing_order_follow", args=["x1"])).status_code == 403
