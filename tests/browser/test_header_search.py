"""Support type a domain into the header's search box, press Enter, and are on the
registration's page."""

import pytest

from registrar.models import Registration

pytestmark = pytest.mark.browser


@pytest.fixture
def csp_violations(page):
    seen = []
    page.on("console", lambda message: seen.append(message.text)
            if "Content Security Policy" in message.text else None)
    return seen


def test_a_domain_typed_in_the_header_box_opens_its_registration(demo, login,
                                                                 csp_violations):
    registration = Registration.objects.get(name_unicode="bücher-harbour.de")
    page = login("support", "support-demo-2026")
    page.wait_for_selector("#site-name")
    page.goto("/admin/registrar/registration/")  # any page has the box
    box = page.get_by_role("searchbox", name="Search domains, contacts, customers and orders")
    assert box.get_attribute("maxlength") == "253"
    box.fill("BÜCHER-HARBOUR.DE")
    box.press("Enter")
    page.wait_for_url(f"**/admin/registrar/registration/{registration.pk}/change/")
    assert "bücher-harbour.de" in page.inner_text("#content")
    assert csp_violations == []
