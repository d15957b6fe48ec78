"""The registration list fits a 1400 px screen with its filters: the flags are one narrow
column of badges with words for screen readers, and long (IDN) names wrap."""

import pytest
from django.utils import timezone

from registrar.models import Registration, Tld
from registrar.values.names import to_ascii
from tests.factories import AccountFactory, RegistrationFactory

pytestmark = pytest.mark.browser

# Long internationalised names, stored as punycode and listed in Unicode.
LONG_IDN_NAMES = [to_ascii(name) for name in (
    "bücher-und-zeitschriften-aus-aller-welt-versand.com",
    "очень-длинное-доменное-имя-для-проверки.com",
    "münchen-und-umgebung-mit-sehr-vielen-zeichen.com",
)]


@pytest.fixture
def demo(demo):
    com = Tld.objects.get(name="com")
    customer = AccountFactory(email="a.very.long.customer.address.for.billing@"
                                    "subsidiary.example-corporation.com")
    # The worst row: every flag on, every warning shown, the longest names.
    for number, name in enumerate(LONG_IDN_NAMES):
        RegistrationFactory(name=name, tld=com, account=customer, locked=True,
                            privacy_protect=True, dnssec_enabled=True, auto_renew=True,
                            pending_async=True, unsettled_operation="registrant_change",
                            transfer_out_pending=True,
                            last_synced_at=timezone.now() - timezone.timedelta(hours=number))
    return demo


def test_the_registration_list_fits_1400_px_with_the_filters(demo, browser, live_server):
    context = browser.new_context(base_url=live_server.url,
                                  viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto("/admin/login/")
        page.fill("#id_username", "support")
        page.fill("#id_password", "support-demo-2026")
        page.click("input[type=submit]")
        page.goto("/admin/registrar/registration/?o=-1")
        page.wait_for_selector("#result_list")
        assert page.is_visible("#changelist-filter")
        assert Registration.objects.count() > 3
        assert page.evaluate("document.documentElement.scrollWidth") <= 1400
        # Nor a scroll bar inside the list: the whole table is on the screen.
        results = page.evaluate(
            "(() => { const r = document.querySelector('#changelist-form .results');"
            " return [r.scrollWidth, r.clientWidth]; })()")
        assert results[0] <= results[1], results
        assert page.is_visible("th.column-state")
        assert page.is_visible("td.field-state .state-badge")
        # The badges say what they mean without colour: a tooltip and hidden words.
        badge = page.locator("td.field-state .state-badge.state-lock").first
        assert badge.get_attribute("title") in {"Transfer lock on", "Transfer lock off"}
        assert badge.locator(".visually-hidden").inner_text() == badge.get_attribute("title")
        assert page.locator(".field-unicode_name", has_text="münchen-und-umgebung").count()
        words = page.locator("td.field-state .visually-hidden").all_inner_texts()
        assert "Outbound transfer pending: decide it" in words
        assert "Process in flight: operations wait until it ends" in words
        assert "Outcome not known: the last paid registrant change is being checked" in words
        assert page.locator("td.field-synced time").first.inner_text().endswith("ago")
    finally:
        context.close()
