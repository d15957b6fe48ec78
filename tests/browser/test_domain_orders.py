"""Support staff place a domain order for a customer through the confirmation page."""

import pytest

from billing.models import Account, LedgerEntry, Order, OrderStatus

pytestmark = pytest.mark.browser


def test_support_places_a_registration_order_through_the_confirmation_page(demo, login):
    account = Account.objects.order_by("pk").first()
    owner = account.contacts.filter(upstream_id__isnull=False).first()
    page = login("support", "support-demo-2026")
    page.goto(f"/admin/billing/account/{account.pk}/change/")
    page.click("#domain-order")
    page.select_option("#id_provider_account", label="sandbox")
    page.select_option("#id_action", "register")
    page.fill("#id_domain", "brand-new-bakery.com")
    page.select_option("#id_years", "2")
    page.select_option("#id_owner", str(owner.pk))
    page.click("input[type=submit]")

    # The confirmation page: price and term, and nothing bought yet.
    page.wait_for_selector("#quote")
    assert page.inner_text("#quote-domain") == "brand-new-bakery.com"
    assert page.inner_text("#quote-term") == "2 years"
    price = page.inner_text("#quote-price")
    assert "USD" in price
    assert [r.url.path for r in demo.transport.requests] == [
        "/api/domain_registrations/check"]
    order = Order.objects.get(domain="brand-new-bakery.com")
    assert order.status == OrderStatus.QUOTED
    assert f"{order.quoted_total_minor / 100:.2f} USD" == price

    page.click("#confirm-order")
    page.wait_for_selector(".messagelist")
    assert f"Order {order.pk} placed" in page.inner_text(".messagelist")
    order.refresh_from_db()
    assert order.status == OrderStatus.REGISTRATION_IN_PROGRESS
    assert order.total_minor == order.quoted_total_minor
    [placed] = [r for r in demo.transport.requests if r.url.path == "/api/orders/domain"]
    assert placed.headers["Idempotency-Key"] == order.idempotency_key
    assert LedgerEntry.objects.filter(order=order, kind="payment").count() == 1

    # Going back and confirming again places nothing a second time.
    page.go_back()
    page.wait_for_selector(".messagelist")
    assert "already confirmed" in page.inner_text(".messagelist")
    assert len([r for r in demo.transport.requests if r.url.path == "/api/orders/domain"]) == 1
