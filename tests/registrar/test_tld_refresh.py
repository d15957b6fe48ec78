"""A sync keeps each TLD's feature flags and fees as its registrar reports them: one
audit row per TLD changed, old -> new; nothing written when nothing changed; a TLD
whose registrar is another account left alone; and the registration's page offers
only what the current flags allow."""

from __future__ import annotations

import html
import json
import re

import httpx
import pytest
from django.urls import reverse

from backoffice.models import StaffAction
from registrar.models import Registration, Tld
from registrar.providers.registry import override_transport
from registrar.sandbox import get_app
from registrar.sync import start_split_sync, sync_provider, sync_split_part
from registrar.tld_refresh import TLD_SYNC_UPDATED, tld_values
from tests.factories import ProviderAccountFactory, TldFactory
from tests.registrar.test_sync import upstream


@pytest.fixture
def account(sandbox):
    return ProviderAccountFactory(label="sandbox")


def set_upstream_tld(name: str, **values) -> None:
    """Change the TLD's terms at the sandbox registrar (its seed upserts by name)."""
    get_app().state.seed({"tlds": [{"name": name, **values}]})


def tld_rows(tld: Tld | None = None):
    rows = StaffAction.objects.filter(action=TLD_SYNC_UPDATED).order_by("pk")
    return rows.filter(target_id=str(tld.pk)) if tld is not None else rows


def change_page(client, registration: Registration) -> str:
    response = client.get(reverse("admin:registrar_registration_change",
                                  args=[registration.pk]))
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def privacy_offered(page: str) -> bool:
    return bool(re.search(r'<a class="button" href="[^"]*" data-operation="privacy"', page))


def privacy_refused(page: str) -> str | None:
    found = re.search(r'<span class="button disabled" title="([^"]+)" '
                      r'data-operation="privacy"', page)
    return found.group(1) if found else None


def test_privacy_turned_off_upstream_is_synced_audited_and_no_longer_offered(
        account, client, support_user):
    get_app().state.seed(upstream(20))
    sync_provider(account)
    com = Tld.objects.get(name="com")
    assert com.supports_privacy is True and com.provider_account == account
    assert not tld_rows().exists()  # created with the upstream's terms: nothing changed
    registration = Registration.objects.get(name="sync00003.com")
    client.force_login(support_user)
    assert privacy_offered(change_page(client, registration))

    set_upstream_tld("com", supports_privacy=False)
    sync_provider(account)

    com.refresh_from_db()
    assert com.supports_privacy is False
    row = tld_rows().get()
    assert row.target_type == "registrar.tld" and row.target_id == str(com.pk)
    assert row.actor is None and row.actor_label == "system:sync"
    assert row.outcome == StaffAction.Outcome.SUCCEEDED
    assert row.parameters == {"changes": {"supports_privacy": {"old": True, "new": False}}}
    page = change_page(client, registration)
    assert not privacy_offered(page)
    assert privacy_refused(page) == "This TLD does not support WHOIS privacy."
    # ... and the reason is spelled out under the buttons, not only in a tooltip.
    reasons = page.split('id="unavailable-reasons"', 1)[1].split("</ul>", 1)[0]
    assert re.search(r"<li><strong>[^<]+</strong>: This TLD does not support WHOIS "
                     r"privacy\.</li>", reasons)


def test_a_fee_change_is_recorded_old_to_new_and_shown_next_to_the_action(
        account, client, support_user):
    get_app().state.seed(upstream(10))
    set_upstream_tld("com", privacy_fee={"amount_cents": 499, "currency": "USD"})
    sync_provider(account)
    com = Tld.objects.get(name="com")
    assert (com.privacy_fee_amount, com.privacy_fee_currency) == (499, "USD")
    assert (com.registrant_change_fee_amount, com.registrant_change_fee_currency) == (None, "")

    set_upstream_tld("com", privacy_fee={"amount_cents": 799, "currency": "USD"},
                     registrant_change_fee={"amount_cents": 1250, "currency": "EUR"})
    sync_provider(account)

    com.refresh_from_db()
    assert (com.privacy_fee_amount, com.privacy_fee_currency) == (799, "USD")
    assert (com.registrant_change_fee_amount, com.registrant_change_fee_currency) == (
        1250, "EUR")
    assert tld_rows().get().parameters == {"changes": {
        "privacy_fee_amount": {"old": 499, "new": 799},
        "registrant_change_fee_amount": {"old": None, "new": 1250},
        "registrant_change_fee_currency": {"old": "", "new": "EUR"},
    }}
    client.force_login(support_user)
    page = change_page(client, Registration.objects.get(name="sync00001.com"))
    assert '<span class="cockpit-fee" data-fee-for="privacy">7.99 USD</span>' in page

    # The upstream dropping the fee (null: privacy is free) is a change too.
    set_upstream_tld("com", privacy_fee=None)
    sync_provider(account)
    com.refresh_from_db()
    assert (com.privacy_fee_amount, com.privacy_fee_currency) == (None, "")
    assert tld_rows().last().parameters == {"changes": {
        "privacy_fee_amount": {"old": 799, "new": None},
        "privacy_fee_currency": {"old": "USD", "new": ""}}}


def test_a_second_sync_with_nothing_changed_writes_no_row(account):
    get_app().state.seed(upstream(10))
    sync_provider(account)
    set_upstream_tld("com", supports_dnssec=False,
                     privacy_fee={"amount_cents": 300, "currency": "EUR"})
    sync_provider(account)
    assert tld_rows().count() == 1

    before = StaffAction.objects.count()
    report = sync_provider(account)
    assert report.unchanged == 10
    assert StaffAction.objects.count() == before
    assert tld_rows().count() == 1


def test_a_tld_whose_registrar_is_another_account_is_untouched(account):
    other = ProviderAccountFactory(label="other-registrar")
    net = TldFactory(name="net", provider_account=other, supports_dnssec=True,
                     privacy_fee_amount=100, privacy_fee_currency="USD")
    seed = upstream(6)
    seed["tlds"].append({"id": 2, "name": "net", "supports_dnssec": False,
                         "privacy_fee": {"amount_cents": 900, "currency": "EUR"}})
    seed["registrations"].append({"id": "net-1", "name": "served-here.net", "tld": "net",
                                  "expires_at": "2027-06-01T00:00:00Z"})
    get_app().state.seed(seed)
    sync_provider(account)  # mirrors served-here.net, at this account
    assert Registration.objects.get(name="served-here.net").provider_account == account
    set_upstream_tld("com", supports_dnssec=False)
    set_upstream_tld("net", supports_privacy=False)

    sync_provider(account)

    net.refresh_from_db()
    assert net.provider_account == other
    assert (net.supports_dnssec, net.supports_privacy) == (True, True)
    assert (net.privacy_fee_amount, net.privacy_fee_currency) == (100, "USD")
    assert not tld_rows(net).exists()
    # The same run did refresh the TLD this account is the registrar of.
    assert Tld.objects.get(name="com").supports_dnssec is False
    assert tld_rows().count() == 1


class _Leaving(httpx.BaseTransport):
    """The sandbox, with `drop` keys taken out of every registration's feature_flags
    and fees on the way back: an upstream answer that states fewer of them."""

    def __init__(self, inner: httpx.BaseTransport, drop: set[str]) -> None:
        self.inner, self.drop = inner, drop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        if not request.url.path.endswith("/domain_registrations"):
            return response
        body = json.loads(response.content)
        for registration in body.get("domain_registrations", []):
            for block in ("feature_flags", "fees"):
                for key in self.drop:
                    registration.get(block, {}).pop(key, None)
        headers = {k: v for k, v in response.headers.items()
                   if k.lower() not in {"content-length", "content-encoding"}}
        return httpx.Response(response.status_code, json=body, headers=headers)


def test_a_value_the_upstream_leaves_out_is_not_a_change(account, sandbox):
    get_app().state.seed(upstream(5))
    set_upstream_tld("com", privacy_fee={"amount_cents": 499, "currency": "USD"})
    sync_provider(account)
    set_upstream_tld("com", supports_dnssec=False, supports_privacy=False,
                     privacy_fee={"amount_cents": 650, "currency": "USD"})

    with override_transport("sandbox", _Leaving(sandbox.transport,
                                                {"supports_privacy", "privacy_enable"})):
        sync_provider(account)

    com = Tld.objects.get(name="com")
    assert com.supports_dnssec is False  # stated: taken
    assert com.supports_privacy is True  # not stated: kept, not reset to a default
    assert (com.privacy_fee_amount, com.privacy_fee_currency) == (499, "USD")
    assert tld_rows().get().parameters == {
        "changes": {"supports_dnssec": {"old": True, "new": False}}}


def test_a_split_sync_refreshes_a_changed_tld_once(account, settings):
    settings.SYNC_PAGE_SIZE = 10  # several pages, each part seeing .com
    get_app().state.seed(upstream(60))
    sync_provider(account)
    set_upstream_tld("com", supports_transfer_lock=False)

    run = start_split_sync(account, 3)
    report = [sync_split_part(account, run, index, concurrency=2) for index in range(3)][-1]

    assert report is not None and not report.aborted
    assert Tld.objects.get(name="com").supports_transfer_lock is False
    assert tld_rows().get().parameters == {
        "changes": {"supports_transfer_lock": {"old": True, "new": False}}}


def test_a_dry_run_or_a_braked_run_changes_no_tld(account):
    get_app().state.seed(upstream(10))
    sync_provider(account)
    set_upstream_tld("com", supports_privacy=False)

    sync_provider(account, dry_run=True)
    assert Tld.objects.get(name="com").supports_privacy is True

    with get_app().state.transaction() as data:  # most registrations gone: the brake
        for guid in [g for g in data["registrations"] if g != "sync-00000"]:
            del data["registrations"][guid]
    report = sync_provider(account)
    assert report.aborted
    assert Tld.objects.get(name="com").supports_privacy is True
    assert not tld_rows().exists()


def test_an_auth_code_the_registry_starts_hiding_is_no_longer_offered(account, client,
                                                                     support_user):
    get_app().state.seed(upstream(10))
    sync_provider(account)
    com = Tld.objects.get(name="com")
    assert com.authcode_behavior == "standard"
    registration = Registration.objects.get(name="sync00003.com")
    client.force_login(support_user)
    assert 'data-operation="auth_code"' in change_page(client, registration)
    assert not re.search(r'class="button disabled"[^>]*data-operation="auth_code"',
                         change_page(client, registration))

    set_upstream_tld("com", authcode_behavior="hidden")
    sync_provider(account)

    com.refresh_from_db()
    assert com.authcode_behavior == "hidden"
    assert tld_rows().get().parameters == {
        "changes": {"authcode_behavior": {"old": "standard", "new": "hidden"}}}
    refused = re.search(r'<span class="button disabled" title="([^"]+)" '
                        r'data-operation="auth_code"', change_page(client, registration))
    assert refused and "does not hand out the auth code" in refused.group(1)
    # A value the model does not know is not taken as a change: the stored one stays.
    assert tld_values({"authcode_behavior": "by-fax"}, {}) == {}
    assert tld_values({"authcode_behavior": "emailed"}, {}) == {"authcode_behavior": "emailed"}
