"""name.com's Zone Check and TLD Pricing in the domain search (document 004's endpoint
roles): the zone check is a fast first hint, shown as one and never as availability;
TLD Pricing fills the list-price column where no exact price was read. Both are asked
alongside the other calls, within the same per-upstream limit, and marked with their
source and age.

name.com is faked at the HTTP boundary (tests.fakes.namecom), the sandbox speaks the
Domain API.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator
from urllib.parse import parse_qs

import httpx
import pytest
from django.test import Client
from django.urls import reverse

from registrar.domain_search import AnswerState, clean_search, domain_search
from tests.factories import ProviderAccountFactory, TldFactory
from tests.fakes.http import body_of, respond
from tests.fakes.namecom import CHECK, TLD_PRICING, ZONE_CHECK, FakeNamecom

NAMECOM = "namecom-main"
NAMECOM_USER = "acme-reseller"
NAMECOM_TOKEN = "namecom-token-0123456789"


@pytest.fixture
def tlds(sandbox):
    for name in ("com", "net", "de"):
        TldFactory(name=name)
    sandbox.seed()
    sandbox.transport.requests.clear()
    return sandbox


@pytest.fixture
def namecom(tlds, monkeypatch) -> Iterator[FakeNamecom]:
    monkeypatch.setenv("PROVIDER_SECRET_NAMECOM_SEARCH", NAMECOM_TOKEN)
    ProviderAccountFactory(label=NAMECOM, kind="namecom", base_url="https://api.dev.name.com",
                           account_ref=NAMECOM_USER, secret_env="PROVIDER_SECRET_NAMECOM_SEARCH")
    with FakeNamecom(username=NAMECOM_USER, token=NAMECOM_TOKEN).serving(NAMECOM) as fake:
        yield fake


def page_text(response) -> str:
    return html.unescape(response.content.decode())


def test_zone_check_and_tld_pricing_leave_as_the_published_api_says(namecom):
    result = domain_search(clean_search(name="bakery", tlds="com net", years=2))

    [zone] = namecom.sent("POST", ZONE_CHECK)
    assert body_of(zone) == {"domainNames": ["bakery.com", "bakery.net"]}
    [prices] = namecom.sent("GET", TLD_PRICING)
    query = parse_qs(prices.url.query.decode())
    assert query["tlds"] == ["com", "net"] and query["duration"] == ["2"]
    name = result.names[0]
    [hint] = name.hints
    assert hint.state is AnswerState.ANSWERED and hint.hint.free_in_zone is True
    assert hint.source.label == NAMECOM and hint.answered_at is not None
    [listed] = name.list_prices
    # 12.99 the first year, 14.99 the next: the TLD's list price for two years.
    assert listed.list_price.registration.amount_minor == 2798


def test_a_name_in_the_zone_is_a_hint_never_availability(namecom, client: Client,
                                                          support_user):
    namecom.zone_taken.add("bakery.com")
    client.force_login(support_user)

    text = page_text(client.get(reverse("admin:domain_search"),
                                {"name": "bakery.com", "years": "1"}))

    assert "Zone check, a first hint only (not availability)" in text
    assert "in the DNS zone: probably taken (a hint, not availability)" in text
    # The availability column is Check Availability's, which still says it is free.
    row = text.split('data-source="namecom-main"', 2)[2]
    assert "available" in row.split("</tr>")[0]


def test_list_price_fills_only_rows_without_an_exact_price(namecom, client: Client,
                                                            support_user):
    # Get Pricing fails: Check Availability answered, but no exact price was read.
    namecom.script("GET", r"/core/v1/domains/[^/]+:getPricing",
                   respond(500, {"message": "Internal"}))
    client.force_login(support_user)

    text = page_text(client.get(reverse("admin:domain_search"),
                                {"name": "bakery.com", "years": "1"}))

    assert "12.99 USD (list price, .com, 1 year)" in text
    assert "TLD Pricing, name.com (namecom)" in text


def test_with_an_exact_price_the_list_price_column_stays_empty(namecom, client: Client,
                                                               support_user):
    client.force_login(support_user)
    text = page_text(client.get(reverse("admin:domain_search"),
                                {"name": "bakery.com", "years": "1"}))
    assert "(list price," not in text
    assert namecom.sent("GET", TLD_PRICING)  # asked all the same, alongside


def test_a_failed_zone_check_is_reported_as_such(namecom):
    namecom.script("POST", ZONE_CHECK, respond(503, {"message": "Unavailable"}))
    result = domain_search(clean_search(name="bakery.com", years=1))
    [hint] = result.names[0].hints
    assert hint.state is AnswerState.FAILED
    [offer] = [a for a in result.names[0].answers if a.source.label == NAMECOM]
    assert offer.state is AnswerState.ANSWERED and offer.offer.available is True


def test_hints_share_the_per_upstream_limit(namecom, settings):
    settings.DOMAIN_SEARCH_TIMEOUT_SECONDS = 0.3
    release = threading.Event()

    def slow(request: httpx.Request) -> httpx.Response:
        release.wait(5)
        return httpx.Response(200, json={"results": []})

    namecom.script("POST", ZONE_CHECK, slow)
    try:
        result = domain_search(clean_search(name="bakery.com", years=1))
    finally:
        release.set()
    [hint] = result.names[0].hints
    assert hint.state is AnswerState.TIMED_OUT
    assert "did not answer within 0.3 s" in hint.status_text
    # The other calls of the same upstream answered within the limit.
    assert namecom.sent("POST", CHECK)


def test_a_name_left_out_of_the_zone_check_says_so(namecom):
    result = domain_search(clean_search(name="bakery", tlds="com de", years=1))
    by_name = {name.domain: name for name in result.names}
    # The fake zone-checks no .de (name.com removes what it does not check).
    assert by_name["bakery.de"].hints[0].hint is None
    assert by_name["bakery.de"].hints[0].state is AnswerState.ANSWERED


def test_the_command_shows_the_hint_and_the_list_price_as_such(namecom):
    import json
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("domain_search", "bakery.com", stdout=out)
    table = out.getvalue()
    assert "not in the DNS zone: may be free (a hint, not availability)" in table
    assert "list price of .com, not this name's price" in table

    out = StringIO()
    call_command("domain_search", "bakery.com", "--format", "json", stdout=out)
    [name] = json.loads(out.getvalue())["names"]
    [hint] = name["zone_hints"]
    assert (hint["account"], hint["free_in_zone"], hint["state"]) == (NAMECOM, True,
                                                                      "answered")
    assert hint["answered_at"]
    assert name["list_prices"][0]["list_price"]["registration"] == {
        "amount_minor": 1299, "currency": "USD"}
