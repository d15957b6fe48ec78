"""Support staff operate registrations in a real browser, against the sandbox."""

import pytest

from registrar.models import Registration

pytestmark = pytest.mark.browser


def ready(**filters) -> Registration:
    return (Registration.objects.filter(pending_async=False, server_transfer_prohibited=False,
                                        **filters).order_by("name").first())


def open_registration(page, registration):
    page.goto(f"/admin/registrar/registration/{registration.pk}/change/")
    page.wait_for_selector("#registration-panel")


def test_support_locks_a_registration(demo, login):
    registration = ready(locked=False, tld__supports_transfer_lock=True, tld__name="com")
    page = login("support", "support-demo-2026")
    open_registration(page, registration)
    assert page.inner_text("#summary-locked") == "Unlocked"
    page.click("#registration-operations a[data-operation=lock]")
    page.click("input[type=submit]")
    page.wait_for_selector(".messagelist .success")
    assert "The transfer lock is now on" in page.inner_text(".messagelist")
    assert page.inner_text("#summary-locked") == "Locked"
    registration.refresh_from_db()
    assert registration.locked


def test_support_enables_privacy_on_a_metered_tld_and_sees_the_fee(demo, login):
    registration = ready(privacy_protect=False, tld__name="net")
    page = login("support", "support-demo-2026")
    open_registration(page, registration)
    page.click("#registration-operations a[data-operation=privacy]")
    page.click("input[type=submit]")
    page.wait_for_selector(".messagelist .warning")
    message = page.inner_text(".messagelist")
    assert "4.99 USD" in message and "Nothing was changed" in message
    # The portal link is on this response only, with a copy button and its expiry.
    assert page.get_attribute("a.portal-link", "href").startswith("http")
    assert page.is_visible("#copy-portal-link")
    assert "expires" in page.inner_text("#portal-link-expiry")
    page.click(f"text=Back to {registration}")
    page.wait_for_selector("#registration-panel")
    assert page.inner_text("#summary-privacy") == "Off"
    registration.refresh_from_db()
    assert not registration.privacy_protect


def test_support_reveals_an_auth_code(demo, login):
    registration = ready(tld__name="com")
    page = login("support", "support-demo-2026")
    open_registration(page, registration)
    page.click("#registration-operations a[data-operation=auth_code]")
    page.check("#id_confirm")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click("input[type=submit]")
    assert answer.value.headers["cache-control"].startswith("no-store")
    code = page.inner_text("#authcode")
    assert len(code) >= 6
    assert code not in str(list(registration.processes.values()))


def test_support_approves_a_pending_transfer_out(demo, login):
    registration = ready(transfer_out_pending=True)
    page = login("support", "support-demo-2026")
    open_registration(page, registration)
    assert page.inner_text("#summary-transfer-out") == "Waiting for a decision"
    page.click("#registration-operations a[data-operation=transfer_out]")
    page.wait_for_selector("#transfer-out-details")
    page.check("input[name=decision][value=approve]")
    page.click("input[type=submit]")
    page.wait_for_selector(".messagelist")
    assert "is approved" in page.inner_text(".messagelist")
    registration.refresh_from_db()
    assert not registration.transfer_out_pending


def test_finance_sees_no_operation_buttons(demo, login):
    registration = ready(tld__name="com")
    page = login("finance", "finance-demo-2026")
    open_registration(page, registration)
    assert page.locator("#registration-operations").count() == 0
    assert page.locator("input[name=_save]").count() == 0
