import pytest
from django.core.management import call_command
from django.test import override_settings

pytestmark = pytest.mark.browser


@pytest.fixture
def demo(transactional_db):
    with override_settings(DEBUG=True):
        call_command("demo", verbosity=0)


@pytest.mark.parametrize(
    ("username", "password", "sees", "does_not_see"),
    [
        ("support", "support-demo-2026", "Registrations", "Ledger entries"),
        ("finance", "finance-demo-2026", "Ledger entries", "Staff actions"),
        ("admin", "admin-demo-2026", "Staff actions", None),
    ],
)
def test_each_role_logs_in_and_sees_its_dashboard(demo, login, username, password, sees,
                                                  does_not_see):
    page = login(username, password)
    page.wait_for_selector("#site-name")
    assert page.inner_text("#site-name") == "Registrar back-office"
    body = page.inner_text("#content")
    assert sees in body
    if does_not_see:
        assert does_not_see not in body


def test_support_finds_an_idn_registration_by_its_unicode_name(demo, login):
    page = login("support", "support-demo-2026")
    page.goto("/admin/registrar/registration/?q=bücher")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    assert "bücher-harbour.de" in rows.first.inner_text()
