"""Acceptance: from the dashboard, Support reaches and finishes each of lock, privacy,
auth code, transfer-out decision, holder change and nameservers in at most three clicks
plus the confirmation. The test counts the clicks and checks the result message.

A click is what a person does to move on: a `click()`, or Enter in the header's search box
(typing a name is not a click, nor is filling the operation's form). The confirmation is
the operation page's submit button; it is counted apart, once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from registrar.models import Registration

if TYPE_CHECKING:
    from playwright.sync_api import Locator

pytestmark = pytest.mark.browser

MAX_CLICKS = 3
# The header's search box (templates/admin/base_site.html), wherever in the header it sits.
HEADER_SEARCH = "#header input[name=q]"


class Clicks:
    """Every way the test moves the page on goes through here, so it is counted."""

    def __init__(self, page) -> None:
        self.page = page
        self.count = 0
        self.path: list[str] = []
        self.confirmed = False

    def click(self, target: str | Locator, label: str | None = None) -> None:
        """Click a selector or a located element (`label` names it in the path)."""
        self.count += 1
        self.path.append(label or str(target))
        if isinstance(target, str):
            self.page.click(target)
        else:
            target.click()

    def search(self, text: str) -> None:
        """Type into the header's search box (not a click) and press Enter (one)."""
        box = self.page.locator(HEADER_SEARCH)
        assert box.count() == 1, (
            f"The header has no search box ({HEADER_SEARCH}): without it, reaching a "
            f"registration from the dashboard takes Registrations, the list's search and "
            f"the row, one click too many.")
        box.fill(text)
        self.count += 1
        self.path.append(f"search {text!r} + Enter")
        with self.page.expect_navigation():
            box.press("Enter")

    def confirm(self, selector: str = "#content form input[type=submit]") -> None:
        assert not self.confirmed, "The confirmation is counted once."
        assert self.count <= MAX_CLICKS, (
            f"{self.count} clicks before the confirmation (at most {MAX_CLICKS}): "
            f"{' -> '.join(self.path)}")
        self.confirmed = True
        # The tally, for `pytest -s`: how many clicks each path took, and which.
        print(f"{self.count} clicks + confirmation: {' -> '.join(self.path)}")
        self.page.locator(selector).first.click()


@pytest.fixture
def dashboard(demo, login):
    """Support, signed in, on the dashboard: where every path starts."""
    page = login("support", "support-demo-2026")
    page.goto("/admin/")
    page.wait_for_selector("#deadlines, #content-main")
    return page


def ready(**filters) -> Registration:
    registration = (Registration.objects
                    .filter(pending_async=False, server_transfer_prohibited=False,
                            customer_flagged=False, push_transfer_pending=False, **filters)
                    .order_by("name").first())
    assert registration is not None, f"The demo data has no registration with {filters}."
    return registration


def to_registration_by_search(clicks: Clicks, registration: Registration,
                              query: str | None = None) -> None:
    """Dashboard -> the registration's page: its name in the header search, Enter; one
    hit opens the registration itself, several are listed and its row is one more click."""
    # The name as the customer reads it out: Unicode for an IDN.
    clicks.search(query or registration.unicode_name)
    if not clicks.page.locator("#registration-panel").count():
        clicks.click(f"#content-main .search-group a:text-is('{registration}')")
    clicks.page.wait_for_selector("#registration-panel")


def to_operation(clicks: Clicks, operation: str) -> None:
    clicks.click(f"#registration-operations a[data-operation={operation}]")
    clicks.page.wait_for_selector("#content form")


def message(page) -> str:
    page.wait_for_selector(".messagelist")
    return page.inner_text(".messagelist")


def test_lock_in_three_clicks(dashboard):
    registration = ready(locked=False, tld__supports_transfer_lock=True, tld__name="com")
    clicks = Clicks(dashboard)
    to_registration_by_search(clicks, registration)
    to_operation(clicks, "lock")
    dashboard.check("input[name=enabled][value='1']")
    clicks.confirm()
    assert "The transfer lock is now on" in message(dashboard)
    registration.refresh_from_db()
    assert registration.locked and clicks.count <= MAX_CLICKS


def test_privacy_in_three_clicks(dashboard):
    # .com bills nothing for privacy in the demo: the switch itself is the result.
    registration = ready(privacy_protect=False, tld__name="com")
    clicks = Clicks(dashboard)
    to_registration_by_search(clicks, registration)
    to_operation(clicks, "privacy")
    dashboard.check("input[name=enabled][value='1']")
    clicks.confirm()
    assert "WHOIS privacy is now on" in message(dashboard)
    registration.refresh_from_db()
    assert registration.privacy_protect and clicks.count <= MAX_CLICKS


def test_auth_code_in_three_clicks(dashboard):
    registration = ready(tld__name="com")
    clicks = Clicks(dashboard)
    to_registration_by_search(clicks, registration)
    to_operation(clicks, "auth_code")
    dashboard.check("#id_confirm")
    clicks.confirm()
    # The code is the result: shown once, on the page itself rather than in a message.
    dashboard.wait_for_selector("#authcode")
    assert f"Auth (EPP) code for {registration}" in dashboard.inner_text("#content")
    assert len(dashboard.inner_text("#authcode")) >= 6
    assert clicks.count <= MAX_CLICKS


def test_transfer_out_decision_from_the_dashboard_deadline_in_three_clicks(dashboard):
    # The dashboard lists outbound transfers waiting for a decision: a person clicks one.
    clicks = Clicks(dashboard)
    section = dashboard.locator("#deadline-transfer_out")
    assert section.count() == 1, "The dashboard shows no outbound-transfer deadline."
    link = section.locator("table th a").first
    name = link.inner_text()
    clicks.click(link, f"dashboard deadline {name!r}")
    dashboard.wait_for_selector("#registration-panel")
    assert dashboard.inner_text("#summary-transfer-out") == "Waiting for a decision"
    to_operation(clicks, "transfer_out")
    dashboard.check("input[name=decision][value=approve]")
    clicks.confirm()
    assert "is approved" in message(dashboard)
    registration = Registration.objects.get(pk=int(dashboard.url.rstrip("/").split("/")[-2]))
    assert not registration.transfer_out_pending and clicks.count <= MAX_CLICKS


def test_holder_change_in_three_clicks(dashboard):
    registration = ready(tld__name="com", owner_contact__isnull=False)
    clicks = Clicks(dashboard)
    to_registration_by_search(clicks, registration)
    to_operation(clicks, "holder")
    dashboard.check("input[name=action_mode][value=edit_current]")
    dashboard.fill("#id_city", "Utrecht")
    clicks.confirm()
    assert f"The holder of {registration} is updated." in message(dashboard)
    assert clicks.count <= MAX_CLICKS


def test_nameservers_in_three_clicks(dashboard):
    registration = ready(tld__name="com", dnssec_enabled=False)
    clicks = Clicks(dashboard)
    to_registration_by_search(clicks, registration)
    to_operation(clicks, "nameservers")
    dashboard.fill("#id_nameservers", "ns1.example.net\nns2.example.net")
    clicks.confirm()
    assert (f"Nameservers of {registration} are now ns1.example.net, ns2.example.net."
            in message(dashboard))
    registration.refresh_from_db()
    assert registration.nameservers == ["ns1.example.net", "ns2.example.net"]
    assert clicks.count <= MAX_CLICKS


def test_a_partial_name_lists_hits_and_still_takes_three_clicks(dashboard):
    # "acme" is a prefix of several registrations and a customer's name: the results page
    # lists them, and the row is the third click.
    registration = ready(locked=False, tld__supports_transfer_lock=True,
                         name__startswith="acme")
    clicks = Clicks(dashboard)
    to_registration_by_search(clicks, registration, query="acme")
    assert clicks.count == 2, clicks.path
    to_operation(clicks, "lock")
    dashboard.check("input[name=enabled][value='1']")
    clicks.confirm()
    assert "The transfer lock is now on" in message(dashboard)
    assert clicks.count == MAX_CLICKS
