# ruff: noqa: F811 (the fixtures of tests.billing.test_ordering, imported, are parameters here)
"""Each upstream's input rules hold at quote time: what the placement would refuse is
refused before anything is placed, and nothing an adapter refuses ever becomes a 500."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from backoffice.models import StaffAction
from billing import ordering
from billing.models import LedgerEntry, Order, OrderStatus
from registrar.operations import InvalidInput
from registrar.providers.base import Money
from tests.billing.test_ordering import (  # noqa: F401 (fixtures)
    DOMAINEE,
    account,
    customer,
    domainee,
    order_url,
    quoted,
    registrant,
)

NEEDS_STATE = "Registrant state: Domainee requires this field for the registrant."


def test_a_registrant_domainee_would_refuse_is_refused_at_quote(support_user, customer,
                                                                domainee, registrant):
    registrant.state = ""  # the contact table allows it; Domainee's registrant does not
    registrant.save()

    with pytest.raises(InvalidInput) as refused:
        ordering.order_quote(ordering.OrderRequest(
            account=customer, provider_account=account(DOMAINEE), action="register",
            domain="janesbakery.com", owner=registrant, ceiling=Money(2000, "USD")),
            actor=support_user)

    assert refused.value.field_errors == {"owner": [NEEDS_STATE]}
    assert domainee.requests == [] and Order.objects.count() == 0


def test_the_order_form_names_the_registrant_field_and_keeps_no_order(
        client, support_user, customer, domainee, registrant):
    registrant.state = ""
    registrant.save()
    client.force_login(support_user)

    response = client.post(order_url(customer), {
        "provider_account": account(DOMAINEE).pk, "action": "register",
        "domain": "janesbakery.com", "years": "1", "owner": registrant.pk, "ceiling": "20.00"})

    assert response.status_code == 200
    assert NEEDS_STATE in html.unescape(response.content.decode())
    assert domainee.requests == [] and Order.objects.count() == 0


def test_a_registrant_edited_since_the_quote_cancels_the_order_unsent(
        client, support_user, customer, domainee, registrant):
    order = quoted(support_user, customer, DOMAINEE, "register", "janesbakery.com",
                   owner=registrant, ceiling=Money(2000, "USD"))
    registrant.state = ""  # edited between the quote and the confirm
    registrant.save()
    client.force_login(support_user)

    response = client.post(reverse("admin:billing_account_domain_order_confirm",
                                   args=[customer.pk, order.pk]), {}, follow=True)

    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert "Nothing was sent, so nothing was charged" in page and NEEDS_STATE in page
    assert domainee.requests == []
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED and NEEDS_STATE in order.status_reason
    assert LedgerEntry.objects.count() == 0
    row = StaffAction.objects.get(action=ordering.PLACE_ACTION)
    assert row.outcome == StaffAction.Outcome.FAILED and row.upstream_code == "invalid_input"
