"""The domain search: every upstream asked at once, each within its limit, and what each
answered (or that it did not) per name; the page, and the command.

Only the HTTP boundary is fake: the sandbox speaks the Domain API, FakeNamecom and
FakeEntri their own upstreams, and a transport that holds its answer back stands for an
upstream that hangs.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from registrar.domain_search import AnswerState, clean_search, domain_search
from registrar.operations import InvalidInput
from registrar.providers.base import Capability, Money
from registrar.providers.registry import kinds_with, override_transport
from registrar.sandbox.api import PREMIUM_FACTOR
from registrar.sandbox.state import DEFAULT_PRICE_CENTS
from tests.factories import AccountFactory, ProviderAccountFactory, TldFactory, UserFactory
from tests.fakes.entri import FakeEntri
from tests.fakes.http import body_of
from tests.fakes.namecom import CHECK, SEARCH, FakeNamecom, pricing_path

NAMECOM = "namecom-main"
NAMECOM_USER = "acme-reseller"
NAMECOM_TOKEN = "namecom-token-0123456789"
ENTRI = "entri-main"
ENTRI_APP = "entri-app-search"
ENTRI_SECRET = "entri-secret-for-search"
SLOW = "slow-api"


@pytest.fixture
def tlds(sandbox):
    for name in ("com", "net", "de"):
        TldFactory(name=name)
    sandbox.seed()
    sandbox.transport.requests.clear()
    return sandbox


@pytest.fixture
def namecom(db, monkeypatch) -> Iterator[FakeNamecom]:
    monkeypatch.setenv("PROVIDER_SECRET_NAMECOM_SEARCH", NAMECOM_TOKEN)
    ProviderAccountFactory(label=NAMECOM, kind="namecom", base_url="https://api.dev.name.com",
                           account_ref=NAMECOM_USER, secret_env="PROVIDER_SECRET_NAMECOM_SEARCH")
    with FakeNamecom(username=NAMECOM_USER, token=NAMECOM_TOKEN).serving(NAMECOM) as fake:
        yield fake


@pytest.fixture
def entri(db, monkeypatch) -> Iterator[FakeEntri]:
    monkeypatch.setenv("PROVIDER_SECRET_ENTRI_SEARCH", ENTRI_SECRET)
    ProviderAccountFactory(label=ENTRI, kind="entri", base_url="https://api.goentri.com",
                           account_ref=ENTRI_APP, secret_env="PROVIDER_SECRET_ENTRI_SEARCH")
    cache.clear()  # the shared JWT cache: a token another test's fake minted is refused
    with FakeEntri(application_id=ENTRI_APP, secret=ENTRI_SECRET).serving(ENTRI) as fake:
        yield fake
    cache.clear()


class Hanging(httpx.BaseTransport):
    """An upstream that takes every request and answers only once released (the test's
    end), long after any search limit."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.release = threading.Event()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.release.wait(30)
        return httpx.Response(503, json={"error": {"code": "registrar_unavailable"}})


@pytest.fixture
def hanging(tlds) -> Iterator[Hanging]:
    ProviderAccountFactory(label=SLOW, kind="domain_api", base_url="https://slow.example",
                           secret_env="PROVIDER_SECRET_SLOW")
    transport = Hanging()
    with override_transport(SLOW, transport):
        yield transport
    transport.release.set()


@pytest.fixture
def secret_for_slow(monkeypatch):
    monkeypatch.setenv("PROVIDER_SECRET_SLOW", "slow-token")


def usd(cents: int) -> Money:
    return Money(cents, "USD")


def by_label(answers) -> dict:
    return {answer.source.label: answer for answer in answers}


# --- which upstreams can answer -----------------------------------------------------------


def test_the_upstreams_that_declare_the_search_are_those_that_can_answer_it():
    assert kinds_with(Capability.DOMAIN_SEARCH) == {"domain_api", "sandbox", "entri",
                                                    "namecom", "saleshandy"}


# --- input: refused before anything is sent --------------------------------------------------


@pytest.mark.parametrize(("name", "tld_list", "years", "field"), [
    ("", ["com"], 1, "name"),
    ("not a name!", ["com"], 1, "name"),
    ("bakery", [], 1, "tld"),
    ("bakery", ["nope"], 1, "tld"),
    ("bakery.nope", [], 1, "tld"),
    ("bakery", ["com"], 0, "years"),
    ("bakery", ["com"], 11, "years"),
    ("bakery", ["com"], "two", "years"),
    ("bakery", ["com"], "١", "years"),
])
def test_bad_input_is_refused_naming_its_field_before_anything_is_sent(tlds, name, tld_list,
                                                                        years, field):
    with pytest.raises(InvalidInput) as refused:
        clean_search(name=name, tlds=tld_list, years=years)
    assert field in refused.value.field_errors
    assert refused.value.message.startswith("Nothing was asked.")
    assert tlds.transport.requests == []


def test_a_full_name_brings_its_own_tld_first_and_a_base_name_takes_those_given(tlds):
    assert clean_search(name="Bakery.NET", tlds="com, de", years="3").names == (
        "bakery.net", "bakery.com", "bakery.de")
    request = clean_search(name="bücher", tlds=[".de"], years=2)
    assert (request.base, request.names, request.years) == ("xn--bcher-kva",
                                                             ("xn--bcher-kva.de",), 2)


# --- every upstream, at once ---------------------------------------------------------------


def test_every_upstream_answers_per_name_with_price_for_the_term_and_renewal(
        tlds, namecom, entri):
    namecom.offer("bakery.net", premium=True, price="250.00", renewal="250.00",
                  registry="250.00")
    result = domain_search(clean_search(name="bakery", tlds=["com", "net"], years=2))

    assert [s.label for s in result.sources] == [ENTRI, NAMECOM, "sandbox"]
    com, net = result.names
    assert (com.domain, net.domain) == ("bakery.com", "bakery.net")
    answers = by_label(com.answers)
    assert {label: a.state for label, a in answers.items()} == {
        ENTRI: AnswerState.ANSWERED, NAMECOM: AnswerState.ANSWERED,
        "sandbox": AnswerState.ANSWERED}

    # The Domain API (sandbox): Check Availability's yearly create price, for two years.
    sandbox = answers["sandbox"].offer
    assert (sandbox.available, sandbox.premium) == (True, False)
    assert sandbox.term_price == usd(DEFAULT_PRICE_CENTS * 2)
    assert sandbox.renewal_price is None
    [check] = [r for r in tlds.transport.sent("POST", "/check")
               if body_of(r) == {"domain": "bakery.com"}]
    assert check.url.path == "/api/domain_registrations/check"

    # name.com: discovery over every purchase type, then Get Pricing for the same years.
    standard = answers[NAMECOM].offer
    assert (standard.available, standard.premium, standard.purchase_type) == (
        True, False, "registration")
    assert standard.term_price == usd(2598) and standard.renewal_price == usd(1499)
    assert {"domainNames": ["bakery.com"]} in [body_of(r) for r in namecom.sent("POST", CHECK)]
    pricing = namecom.sent("GET", pricing_path("bakery.com"))
    assert [r.url.params["years"] for r in pricing] == ["2"]
    premium = by_label(net.answers)[NAMECOM].offer
    assert premium.premium is True and premium.term_price == usd(50000)

    # Entri prices one year: the second is its renewal price, and marked worked out here.
    first = by_label(com.answers)[ENTRI].offer
    assert first.term_price == usd(1299 + 1499) and first.term_estimated
    assert first.renewal_price == usd(1499)
    assert sorted(r.url.params["domain"]
                  for r in entri.sent("GET", suffix="/domains/availability")) == [
        "bakery.com", "bakery.net"]

    # Suggestions from each, without the names asked.
    suggestions = {g.answer.source.label: g for g in result.suggestions}
    assert set(suggestions) == {ENTRI, NAMECOM, "sandbox"}
    for group in suggestions.values():
        assert group.answer.state is AnswerState.ANSWERED
        assert not {o.domain for o in group.offers} & {"bakery.com", "bakery.net"}
    assert {o.domain for o in suggestions[ENTRI].offers} == set()  # com,net: both asked
    [search] = namecom.sent("POST", SEARCH)
    assert body_of(search) == {"keyword": "bakery", "tldFilter": ["com", "net"]}
    assert any(o.domain == "getbakery.com" for o in suggestions["sandbox"].offers)
    assert result.answered_any


def test_a_taken_name_and_a_premium_one_are_told_apart_from_a_silent_upstream(tlds, namecom):
    namecom.register_elsewhere("abc.com")
    result = domain_search(clean_search(name="abc.com", years=1))
    answers = by_label(result.names[0].answers)
    # The sandbox prices a short label as premium; name.com has it registered elsewhere.
    assert answers["sandbox"].offer.premium is True
    assert answers["sandbox"].offer.term_price == usd(DEFAULT_PRICE_CENTS * PREMIUM_FACTOR)
    taken = answers[NAMECOM].offer
    assert (taken.available, taken.term_price) == (False, None)
    assert taken.reason == "not purchasable"
    assert namecom.sent("GET", pricing_path("abc.com")) == []


def test_an_acquisition_name_shows_its_type_and_flat_fee_without_get_pricing(tlds, namecom):
    namecom.offer("bakery.com", purchase_type="aftermarket_s", premium=True, price="5000.00")
    result = domain_search(clean_search(name="bakery.com", years=5))
    offer = by_label(result.names[0].answers)[NAMECOM].offer
    assert (offer.purchase_type, offer.premium) == ("aftermarket_s", True)
    assert offer.term_price == usd(500000)  # flat: five years cost the same
    assert namecom.sent("GET", pricing_path("bakery.com")) == []


def test_a_hanging_upstream_is_shown_as_not_answering_within_its_limit(
        hanging, secret_for_slow, namecom, settings):
    settings.DOMAIN_SEARCH_TIMEOUT_SECONDS = 0.3
    result = domain_search(clean_search(name="bakery", tlds=["com", "net"], years=1))

    for name in result.names:
        answers = by_label(name.answers)
        slow = answers[SLOW]
        assert slow.state is AnswerState.TIMED_OUT and slow.offer is None
        assert slow.status_text == "did not answer within 0.3 s"
        assert answers["sandbox"].state is AnswerState.ANSWERED
        assert answers["sandbox"].offer.available is True
        assert answers[NAMECOM].state is AnswerState.ANSWERED
    [slow_suggestions] = [g for g in result.suggestions if g.answer.source.label == SLOW]
    assert slow_suggestions.answer.state is AnswerState.TIMED_OUT
    # It was asked (the requests left), just not answered in time.
    assert {r.url.path for r in hanging.requests} <= {"/api/domain_registrations/check",
                                                      "/api/domain_registrations/suggestions"}
    assert hanging.requests


def test_a_failing_upstream_shows_its_error_not_unavailable(tlds, namecom):
    namecom.script("POST", CHECK, lambda request: httpx.Response(
        500, json={"message": "Internal Error"}))
    result = domain_search(clean_search(name="bakery.com", years=1))
    failed = by_label(result.names[0].answers)[NAMECOM]
    assert failed.state is AnswerState.FAILED and failed.offer is None
    assert failed.status_text.startswith("failed: ")
    assert "unavailable" not in failed.status_text
    assert by_label(result.names[0].answers)["sandbox"].state is AnswerState.ANSWERED


def test_an_account_without_its_secret_sends_nothing_and_says_why(hanging):
    result = domain_search(clean_search(name="bakery.com", years=1))
    slow = by_label(result.names[0].answers)[SLOW]
    assert slow.state is AnswerState.FAILED
    assert "PROVIDER_SECRET_SLOW" in slow.error
    assert hanging.requests == []


def test_disabled_accounts_and_upstreams_that_cannot_search_are_not_asked(tlds, monkeypatch):
    ProviderAccountFactory(label="off", kind="domain_api", enabled=False)
    ProviderAccountFactory(label="domainee-main", kind="domainee",
                           base_url="https://api.domainee.dev")
    result = domain_search(clean_search(name="bakery.com", years=1))
    assert [s.label for s in result.sources] == ["sandbox"]


def test_which_upstreams_were_asked_is_logged(tlds, namecom, caplog):
    with caplog.at_level(logging.INFO, logger="registrar.domain_search"):
        domain_search(clean_search(name="bakery.com", years=1))
    lines = [r.getMessage() for r in caplog.records if r.name == "registrar.domain_search"]
    assert any(f"asking {NAMECOM}, sandbox" in line for line in lines)
    assert any(line.startswith(f"domain search: {NAMECOM} answered for bakery.com")
               for line in lines)


# --- the page ----------------------------------------------------------------------------


def page_client(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


URL = "/admin/domain-search/"


def test_the_page_shows_every_upstreams_answer_and_orders_into_the_quote_form(
        tlds, namecom, support_user):
    customer = AccountFactory(customer_reference="ACC-BAKERY", email="owner@bakery.example")
    response = page_client(support_user).get(URL, {"name": "bakery", "tld": "com net",
                                                   "years": "2",
                                                   "customer": "ACC-BAKERY"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="name-bakery.com"' in html and 'id="name-bakery.net"' in html
    names = response.context["names"]
    rows = {row.answer.source.label: row for row in names[0]["rows"]}
    assert rows["sandbox"].availability == "available"
    assert rows["sandbox"].price == f"{Decimal(DEFAULT_PRICE_CENTS * 2) / 100:.2f} USD"
    assert rows[NAMECOM].renewal == "14.99 USD"
    assert "just now" in html
    sandbox_account = rows["sandbox"].answer.source.pk
    order = reverse("admin:billing_account_domain_order", args=[customer.pk])
    assert rows["sandbox"].order_url == (f"{order}?action=register&domain=bakery.com"
                                         f"&provider_account={sandbox_account}&years=2")
    assert rows["sandbox"].order_url.replace("&", "&amp;") in html
    # The form it leads to is the existing quote step, prefilled.
    form = page_client(support_user).get(rows[NAMECOM].order_url)
    assert form.status_code == 200
    assert form.context["form"].initial["domain"] == "bakery.com"
    assert str(form.context["form"].initial["years"]) == "2"  # the term searched
    assert str(form.context["form"].initial["provider_account"]) == str(
        rows[NAMECOM].answer.source.pk)


def test_the_page_without_a_customer_offers_no_order_link_and_says_how(tlds, support_user):
    response = page_client(support_user).get(URL, {"name": "bakery.com"})
    assert response.status_code == 200
    assert 'id="domain-search-order-hint"' in response.content.decode()
    assert all(not row.order_url for row in response.context["names"][0]["rows"])


def test_finance_may_search_but_not_order(tlds, finance_user):
    customer = AccountFactory(customer_reference="ACC-F")
    response = page_client(finance_user).get(URL, {"name": "bakery.com",
                                                   "customer": "ACC-F"})
    assert response.status_code == 200
    assert customer.pk and all(not row.order_url
                               for row in response.context["names"][0]["rows"])
    assert "domain-search-order" not in response.content.decode()


def test_staff_without_a_role_are_refused(tlds, plain_staff_user):
    assert page_client(plain_staff_user).get(URL, {"name": "bakery.com"}).status_code == 403
    assert tlds.transport.requests == []


@pytest.mark.parametrize(("query", "field", "label"), [
    ({"name": "not a name!", "tld": "com"}, "name", "Name"),
    ({"name": "bakery", "tld": "nope"}, "tld", "TLDs"),
    ({"name": "bakery", "tld": "com", "years": "11"}, "years", "Term (years)"),
    ({"name": "bakery", "tld": "com", "years": "x"}, "years", "Term (years)"),
    ({"name": "bakery.com", "customer": "nobody@nowhere.example"}, "customer",
     "For customer"),
    ({"name": "bakery.com\u202e"}, "name", "Name"),
])
def test_bad_input_on_the_page_names_the_field_and_sends_nothing(tlds, support_user, query,
                                                                 field, label):
    response = page_client(support_user).get(URL, query)
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert f"<li>{label}: " in response.content.decode()
    assert response.context["result"] is None
    assert tlds.transport.requests == []


def test_the_page_shows_a_hanging_upstream_as_not_answering(hanging, secret_for_slow,
                                                            support_user, settings):
    settings.DOMAIN_SEARCH_TIMEOUT_SECONDS = 0.3
    response = page_client(support_user).get(URL, {"name": "bakery.com"})
    html = response.content.decode()
    assert response.status_code == 200
    rows = {row.answer.source.label: row for row in response.context["names"][0]["rows"]}
    assert rows[SLOW].availability == "did not answer within 0.3 s"
    assert rows["sandbox"].availability == "available"
    assert "did not answer within 0.3 s" in html


def test_the_header_links_to_the_page_for_those_who_may_use_it(tlds, support_user,
                                                               plain_staff_user):
    assert 'id="header-domain-search"' in page_client(support_user).get(
        "/admin/").content.decode()
    assert 'id="header-domain-search"' not in page_client(plain_staff_user).get(
        "/admin/").content.decode()


# --- the command ----------------------------------------------------------------------------


def run(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("domain_search", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_the_command_prints_a_table_csv_or_json(tlds, namecom):
    table = run("bakery", "--tld", "com", "net", "--term", "2")
    assert "bakery.com" in table and "namecom-main" in table
    assert table.strip().splitlines()[-1].startswith("2 upstream account(s) asked")

    csv_text = run("bakery.com", "--format", "csv")
    header, *rows = csv_text.strip().splitlines()
    assert header.startswith("name,kind,account,upstream,state,available")
    assert f"bakery.com,name,sandbox,sandbox,answered,yes,no,registration,1," \
           f"{DEFAULT_PRICE_CENTS / 100:.2f} USD" in csv_text
    assert rows

    data = json.loads(run("bakery.com", "--format", "json", "--term", "3"))
    assert data["years"] == 3 and data["accounts"] == [NAMECOM, "sandbox"]
    [name] = data["names"]
    answers = {a["account"]: a for a in name["answers"]}
    assert answers[NAMECOM]["offer"]["term_price"] == {"amount_minor": 3897, "currency": "USD"}


@pytest.mark.parametrize("args", [
    ("bakery", "--tld", "nope"),
    ("bakery",),
    ("bakery.com", "--term", "0"),
    ("bakery.com", "--term", "ten"),
    ("bad name!",),
])
def test_the_command_exits_2_on_bad_input_and_sends_nothing(tlds, args):
    with pytest.raises(CommandError) as refused:
        run(*args)
    assert refused.value.returncode == 2
    assert str(refused.value).startswith("Nothing was asked.")
    assert tlds.transport.requests == []


def test_the_command_exits_1_when_no_upstream_answered(tlds):
    tlds.fault("/api/domain_registrations/check", status=502, code="registrar_unavailable",
               times=5)
    tlds.fault("/api/domain_registrations/suggestions", status=502,
               code="registrar_unavailable", times=5)
    with pytest.raises(CommandError) as failed:
        run("bakery.com", "--format", "json")
    assert failed.value.returncode == 1
    assert "No upstream answered" in str(failed.value)


def test_the_superuser_sees_the_page_too(tlds):
    admin = UserFactory(username="root-search", is_superuser=True)
    assert page_client(admin).get(URL).status_code == 200


def test_the_command_refuses_every_hostile_value_naming_its_argument(tlds):
    from django.core.exceptions import ValidationError

    from registrar.values.names import intake_name
    from tests.hostile.values import NAMES, NUMBERS, TEXT

    def outcome(*args: str) -> str | None:
        """None: it ran; else the refusal, which must be exit 2 with nothing sent."""
        tlds.transport.requests.clear()
        try:
            run(*args)
        except CommandError as refused:
            assert refused.returncode == 2, (args, str(refused))
            assert tlds.transport.requests == [], args
            return str(refused)
        return None

    def is_name(value: str) -> bool:
        try:
            intake_name(value, min_labels=1)
        except ValidationError:
            return False
        return True

    for value in NAMES + TEXT:
        refusal = outcome("--tld", "com", "--", value)
        if is_name(value):
            assert refusal is None or "--tld" in refusal, value
        else:
            assert refusal is not None, value
            assert refusal.startswith("name ") or "name:" in refusal, value
    for value in TEXT:
        refusal = outcome("bakery", f"--tld={value}")
        assert refusal is not None and "--tld" in refusal, value
    for value in [*NUMBERS, "0", "11", "-5", "+5", "1_000"]:
        refusal = outcome("bakery.com", f"--term={value}")
        assert refusal is not None and "--term" in refusal, value


def test_the_page_refuses_every_hostile_value_on_its_field_without_a_500(tlds, support_user):
    from django.core.exceptions import ValidationError

    from registrar.values.names import intake_name
    from tests.hostile.values import NAMES, NUMBERS, TEXT

    client = page_client(support_user)
    # A lone surrogate cannot travel in a URL at all (the client cannot encode it).
    NAMES, TEXT = ([v for v in values if not any(0xD800 <= ord(c) <= 0xDFFF for c in v)]
                   for values in (NAMES, TEXT))

    def refused_on(query: dict, field: str) -> bool:
        tlds.transport.requests.clear()
        response = client.get(URL, query)
        assert response.status_code == 200, query
        errors = response.context["form"].errors
        if errors:
            assert field in errors, (query, errors)
            assert tlds.transport.requests == [], query
            assert response.context["result"] is None
        return bool(errors)

    for value in NAMES + TEXT:
        try:
            intake_name(value.strip(), min_labels=1)
            valid = "\x00" not in value
        except (ValidationError, UnicodeError):
            valid = False
        if not valid:
            assert refused_on({"name": value, "tld": "com"}, "name"), value
    for value in TEXT:
        if value.strip():
            refused_on({"name": "bakery", "tld": value}, "tld")
    # An empty term is the default one year; everything else here is refused.
    for value in [*(n for n in NUMBERS if n != ""), "0", "11", "-5"]:
        assert refused_on({"name": "bakery.com", "years": value}, "years"), value
    assert not refused_on({"name": "bakery.com", "years": ""}, "years")
