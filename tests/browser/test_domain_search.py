"""Support search a name across every upstream on one page, see a hanging upstream shown
as not answering within its limit beside the others' answers, and order from a row."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from billing.models import Account
from registrar.models import ProviderAccount
from registrar.providers.registry import override_transport
from tests.factories import ProviderAccountFactory
from tests.fakes.namecom import FakeNamecom

pytestmark = pytest.mark.browser

NAMECOM = "namecom-main"
SLOW = "slow-api"


class Hanging(httpx.BaseTransport):
    """Takes every request and answers only when released, long past the limit."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.release = threading.Event()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.release.wait(30)
        return httpx.Response(503, json={"error": {"code": "registrar_unavailable"}})


@pytest.fixture
def upstreams(demo, monkeypatch, settings) -> Iterator[tuple[FakeNamecom, Hanging]]:
    settings.DOMAIN_SEARCH_TIMEOUT_SECONDS = 1
    monkeypatch.setenv("PROVIDER_SECRET_NAMECOM_BROWSER", "namecom-token-0123456789")
    monkeypatch.setenv("PROVIDER_SECRET_SLOW_BROWSER", "slow-token")
    ProviderAccountFactory(label=NAMECOM, kind="namecom", base_url="https://api.dev.name.com",
                           account_ref="acme-reseller",
                           secret_env="PROVIDER_SECRET_NAMECOM_BROWSER")
    ProviderAccountFactory(label=SLOW, kind="domain_api", base_url="https://slow.example",
                           secret_env="PROVIDER_SECRET_SLOW_BROWSER")
    hanging = Hanging()
    with FakeNamecom(username="acme-reseller", token="namecom-token-0123456789").serving(
            NAMECOM) as namecom, override_transport(SLOW, hanging):
        yield namecom, hanging
    hanging.release.set()


@pytest.fixture
def csp_violations(page):
    seen = []
    page.on("console", lambda message: seen.append(message.text)
            if "Content Security Policy" in message.text else None)
    return seen


def row(page, name: str, label: str):
    return page.locator(f'[id="name-{name}"] tr[data-source="{label}"]')


def test_support_see_every_upstreams_answer_and_a_hanging_one_as_not_answering(
        upstreams, login, csp_violations):
    namecom, hanging = upstreams
    namecom.offer("brand-new-bakery.net", premium=True, price="250.00", renewal="250.00",
                  registry="250.00")
    customer = Account.objects.exclude(customer_reference="").order_by("pk").first()
    page = login("support", "support-demo-2026")
    page.wait_for_selector("#site-name")
    page.click("#header-domain-search")
    page.wait_for_selector("#domain-search-form")
    page.fill("#id_name", "brand-new-bakery")
    page.fill("#id_tld", "com net")
    page.select_option("#id_years", "2")
    page.fill("#id_customer", customer.customer_reference)
    page.click("#domain-search-submit")
    page.wait_for_selector("#domain-search-results")

    # Every upstream's answer, per name: the hanging one said to have not answered.
    sandbox_com = row(page, "brand-new-bakery.com", "sandbox")
    assert sandbox_com.locator(".availability").inner_text() == "available"
    assert "USD" in sandbox_com.locator(".price").inner_text()
    assert "just now" in sandbox_com.locator(".source").inner_text()
    namecom_com = row(page, "brand-new-bakery.com", NAMECOM)
    assert namecom_com.locator(".price").inner_text() == "25.98 USD"
    assert namecom_com.locator(".renewal").inner_text() == "14.99 USD"
    namecom_net = row(page, "brand-new-bakery.net", NAMECOM)
    assert namecom_net.locator(".kind").inner_text() == "premium"
    assert namecom_net.locator(".price").inner_text() == "500.00 USD"
    for name in ("brand-new-bakery.com", "brand-new-bakery.net"):
        slow = row(page, name, SLOW)
        assert slow.locator(".availability").inner_text() == "did not answer within 1 s"
        assert "unavailable" not in slow.inner_text()
    assert page.locator(f'.domain-search-silent[data-source="{SLOW}"]').inner_text() == \
        "did not answer within 1 s"
    assert hanging.requests  # it was asked, and never answered
    assert page.locator("#domain-search-suggestions").inner_text().count("getbrand-new-bakery")

    # Order from the sandbox's row: the existing quote step, prefilled for that account.
    sandbox_pk = ProviderAccount.objects.get(label="sandbox").pk
    sandbox_com.locator("a.domain-search-order").click()
    page.wait_for_selector("#domain-order-form")
    assert page.url.split("?")[0].endswith(f"/admin/billing/account/{customer.pk}/domain-order/")
    assert page.input_value("#id_domain") == "brand-new-bakery.com"
    assert page.input_value("#id_provider_account") == str(sandbox_pk)
    assert page.input_value("#id_action") == "register"
    assert csp_violations == []


def test_bad_input_is_shown_on_its_field_and_nothing_is_asked(upstreams, login, demo):
    namecom, hanging = upstreams
    page = login("support", "support-demo-2026")
    page.goto("/admin/domain-search/")
    page.fill("#id_name", "bakery")
    page.fill("#id_tld", "nosuchtld")
    page.click("#domain-search-submit")
    page.wait_for_selector(".field-error-summary")
    assert "TLDs: .nosuchtld is not a TLD the back-office knows." in page.inner_text(
        ".field-error-summary")
    assert page.locator("#domain-search-results").count() == 0
    assert namecom.requests == [] and hanging.requests == []
    assert demo.transport.requests == []
