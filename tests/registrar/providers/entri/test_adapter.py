"""EntriProvider against document 000 (Entri Sell Enterprise API): the exact request
every endpoint sends and what it makes of the answers; the JWT's life (minted once,
shared through the cache, refreshed before expiry, re-minted once on a 401); the secrets
that must never reach a log or an exception; and the error mapping.

Only the HTTP boundary is fake: FakeEntri (tests.fakes.entri) keeps the application's
domains and orders and changes them as the requests say; an exact answer the document
shows, or one of the wrong shape, is scripted on it. The cache is a private LocMemCache
per test, the clock is injected, and retry sleeps are recorded, not slept. What the
answers parse to is in test_wire; the DNS record rules are in test_dns.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import threading

import httpx
import pytest
from django.core.cache import cache as django_cache
from django.core.exceptions import ValidationError

from registrar.models import ProviderAccount
from registrar.providers import registry
from registrar.providers.base import (
    Capability,
    Done,
    KnownOrder,
    Money,
    OrderLine,
    OrderRecord,
    OrderState,
    OrderType,
    Provider,
    RegistrationRef,
    RegistrationState,
    RegistrationView,
)
from registrar.providers.domain_api.adapter import DomainApiProvider
from registrar.providers.entri.adapter import (
    AUTO_RENEW_PERIOD,
    PAGE_SIZE_MAX,
    TOKEN_REUSE_SECONDS,
    EntriProvider,
    token_cache_key,
)
from registrar.providers.entri.wire import ContactValidation, Page, TransferInfo
from registrar.providers.errors import (
    AuthenticationFailed,
    BadRequest,
    CallerError,
    ConfigurationError,
    Conflict,
    InvalidRequest,
    MalformedResponse,
    NotFound,
    PaymentRequiredError,
    PermissionDenied,
    ProviderError,
    RateLimited,
    UpstreamFailure,
)
from registrar.providers.http import DEFAULT_RETRY, NO_RETRY
from tests.fakes.entri import PREFIX, FakeEntri, jwt, order_uuid
from tests.fakes.http import REQUEST_ID, respond
from tests.registrar.providers.entri.shapes import (
    APP_ID,
    AUTH_CODE,
    BASE_URL,
    DNS_RECORDS,
    DNS_RECORDS_UPDATE,
    DOMAIN_LIST,
    DOMAIN_LIST_ITEM,
    ORDER_CONTACT,
    ORDER_ID,
    ORDER_LIST,
    PLACE_ORDER_BODY,
    SECRET,
    SINGLE_DOMAIN,
    T0,
    TRANSFER_CONTACT,
    VALIDATE_CONTACT,
    VALIDATED_CONTACT_CONTENT,
    Clock,
    assert_sent,
    assert_token_request,
    entri_provider,
    fresh_cache,
    utc,
)

SAMPLE = RegistrationRef(name="sampledomain.com")
MINE = RegistrationRef(name="mydomain.com")


@pytest.fixture
def fake() -> FakeEntri:
    """Entri, for application APP_ID with SECRET."""
    return FakeEntri(application_id=APP_ID, secret=SECRET)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache():
    return fresh_cache()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def provider(fake, cache, clock, sleeps):
    provider = entri_provider(fake, cache=cache, clock=clock, sleeps=sleeps)
    yield provider
    provider.close()


def add_sample(fake: FakeEntri) -> dict:
    """The document's single-domain example, as Entri's state."""
    return fake.add_domain("sampledomain.com", status="payment_initiated",
                           created_at=SINGLE_DOMAIN["createdAt"])


def script(fake: FakeEntri, method: str, path: str, *answers) -> None:
    """Scripted answers for one API path (under /enterprise/sell/v1)."""
    fake.script(method, PREFIX + path, *answers)


# --- Shape of the adapter ---------------------------------------------------------------

COVERED_METHODS = {
    "close", "ping", "check_availability", "suggestions", "list_domains", "iter_domains",
    "iter_registrations", "get_domain", "get_registration", "set_auto_renew",
    "resend_holder_verification", "get_dns_records", "replace_dns_records", "transfer_in",
    "transfer_out", "validate_contact", "list_orders", "iter_orders", "place_order",
    "get_order", "read_order", "order_status", "billing_link", "domain_offer",
    "domain_suggestions",
    # The ordering hooks and the transfer out through services, request by request:
    # tests/billing/test_entri_ordering.py, test_order_status.py and
    # tests/registrar/test_entri_transfer_out.py.
    "quote_domain_order", "place_domain_order", "settle_placement", "check_order_status",
    "start_transfer_out",
}
# Class-level hooks, read without a client: tested in test_wire and test_dns.
CLASS_HOOKS = {"parse_webhook", "clean_dns_records"}


def test_every_public_method_has_request_tests_here():
    public = {name for name, member in vars(EntriProvider).items()
              if not name.startswith("_") and inspect.isfunction(member)}
    assert public == COVERED_METHODS
    hooks = {name for name, member in vars(EntriProvider).items()
             if isinstance(member, classmethod)}
    assert hooks == CLASS_HOOKS


def test_shared_operations_have_the_domain_api_names():
    for name in ("set_auto_renew", "resend_holder_verification", "check_availability",
                 "suggestions", "ping", "iter_registrations", "get_registration",
                 "read_order"):
        assert callable(getattr(EntriProvider, name))
        assert callable(getattr(DomainApiProvider, name))


def test_kind_and_capabilities(provider):
    assert isinstance(provider, Provider)
    assert provider.kind == "entri"
    assert EntriProvider.requires_account_ref is True
    assert EntriProvider.requires_secret is True
    assert provider.capabilities == {
        Capability.AUTO_RENEW, Capability.VERIFICATION_RESEND, Capability.DNS_RECORDS,
        Capability.REGISTRATION_SYNC, Capability.REGISTRATION_READ, Capability.ORDER_MIRROR,
        Capability.ORDER_FOLLOW, Capability.BILLING_LINK, Capability.WEBHOOKS,
        Capability.DOMAIN_SEARCH, Capability.DOMAIN_ORDERS, Capability.ORDER_STATUS,
        Capability.TRANSFER_OUT_START}
    for absent in (Capability.LOCK, Capability.PRIVACY, Capability.DNSSEC, Capability.HOSTS,
                   Capability.PROCESSES, Capability.CONTACTS, Capability.AUTH_CODE,
                   Capability.PUSH_TRANSFER, Capability.TRANSFER_OUT_DECISION,
                   Capability.FORCE_SYNC, Capability.EMAIL_ORDERS):
        assert not provider.supports(absent)
    # Entri lists its orders: the mirror needs no local orders to match them.
    assert EntriProvider.order_mirror_needs_known is False


@pytest.mark.parametrize("kwargs", [
    {"token": ""}, {"account_ref": ""}, {"options": {"lightning_mode": "yes"}},
    {"options": {"auto_renew_period": 0}}, {"options": {"auto_renew_period": "12"}},
    {"options": {"auto_renew_period": True}}, {"base_url": "  "},
])
def test_constructor_refuses_missing_credentials_and_bad_options(kwargs):
    arguments = {"base_url": BASE_URL, "token": SECRET, "account_ref": APP_ID,
                 "cache": fresh_cache(), **kwargs}
    with pytest.raises(ConfigurationError) as caught:
        EntriProvider(**arguments)
    assert SECRET not in str(caught.value)


def test_a_pasted_api_base_url_is_reduced_to_the_host(fake):
    provider = EntriProvider(base_url=f"{BASE_URL}/enterprise/sell/v1/", token=SECRET,
                             account_ref=APP_ID, transport=fake.transport(),
                             cache=fresh_cache())
    provider.ping()
    assert [r.url.path for r in fake.requests] == ["/token", f"{PREFIX}/domains"]


def test_build_provider_passes_the_account_options(monkeypatch, fake):
    monkeypatch.setenv("PROVIDER_SECRET_ENTRI_TEST", SECRET)
    account = ProviderAccount(label="entri-registry-test", kind="entri", base_url=BASE_URL,
                              account_ref=APP_ID, secret_env="PROVIDER_SECRET_ENTRI_TEST",
                              timeout_seconds=7.0,
                              options={"lightning_mode": True, "auto_renew_period": 24})
    django_cache.delete(token_cache_key(BASE_URL, APP_ID))  # the suite's shared test cache
    with registry.override_transport(account.label, fake.transport()):
        provider = registry.build_provider(account)
        assert isinstance(provider, EntriProvider)
        assert provider.lightning_mode is True
        assert provider.auto_renew_period == 24
        assert provider.application_id == APP_ID
        assert provider.label == "entri-registry-test"
        provider.ping()
        provider._cache.delete(provider._cache_key)
    assert_token_request(fake.token_requests[0])
    assert SECRET not in repr(provider)


def test_close_closes_the_client_without_a_request(fake, provider):
    provider.close()
    assert fake.requests == []
    assert provider.http._client.is_closed


# --- Domains: search ----------------------------------------------------------------------


def test_ping_reads_one_domain(fake, provider):
    fake.add_domain("domainname.com")
    fake.add_domain("two.com")
    assert provider.ping() is None
    assert_token_request(fake.token_requests[0])
    assert_sent(fake.only, "GET", "/domains", params={"page": "0", "size": "1"})


def test_check_availability(fake, provider):
    result = provider.check_availability("Example.COM")
    assert_sent(fake.only, "GET", "/domains/availability",
                params={"domain": "example.com"}, query="domain=example.com")
    assert result == {"domain": "example.com", "available": True, "availability": "AVAILABLE",
                      "create_price": Money(1299, "USD"), "renewal_price": Money(1499, "USD")}


def test_check_availability_of_a_taken_unicode_name(fake, provider):
    fake.set_availability("xn--bcher-kva.de", "UNAVAILABLE")
    result = provider.check_availability("Bücher.de")
    assert_sent(fake.only, "GET", "/domains/availability",
                params={"domain": "xn--bcher-kva.de"})
    assert result["available"] is False
    assert result["create_price"] is None and result["renewal_price"] is None


def test_a_domain_of_the_application_is_not_available(fake, provider):
    fake.add_domain("domainname.com")
    assert provider.check_availability("domainname.com")["available"] is False


def test_suggestions_as_in_the_document(fake, provider):
    script(fake, "GET", "/domains/suggestions", respond(200, {"suggestions": [
        {"domain": "Exampleco.store", "price": 1, "renewalPrice": 99}]}))
    result = provider.suggestions("example", tlds=["com", "store", ".Online"])
    assert_sent(fake.only, "GET", "/domains/suggestions",
                params={"domain": "example", "tlds": "com,store,online"},
                query="domain=example&tlds=com,store,online")
    assert result == [{"domain": "exampleco.store", "price": Money(100, "USD"),
                       "renewal_price": Money(9900, "USD")}]


@pytest.mark.parametrize(("tlds", "query"), [
    (("online", "shop"), "domain=example&tlds=online,shop"),  # the default
    (None, "domain=example"),
    ((), "domain=example"),
    ("store,com", "domain=example&tlds=store,com"),
])
def test_suggestions_tld_defaults(fake, provider, tlds, query):
    fake.add_domain("example.com")  # taken: not suggested
    if tlds == ("online", "shop"):
        result = provider.suggestions("example")
    else:
        result = provider.suggestions("example", tlds=tlds)
    assert_sent(fake.only, "GET", "/domains/suggestions", query=query,
                params=dict(part.split("=") for part in query.split("&")))
    # Without tlds Entri uses its own default, online and shop.
    expected = ["example.store"] if tlds == "store,com" else ["example.online", "example.shop"]
    assert [s["domain"] for s in result] == expected
    assert {s["price"] for s in result} == {Money(1299, "USD")}


def test_suggestions_refuse_a_bad_tld_before_any_request(fake, provider):
    with pytest.raises(CallerError):
        provider.suggestions("example", tlds=["c m"])
    assert fake.requests == []


# --- Domains: management ------------------------------------------------------------------

LIST_ITEM_FIELDS = {
    "name": "domainname.com", "status": RegistrationState.ACTIVE, "auto_renew": True,
    "privacy_protect": False, "locked": False, "dns_records": [],
    "upstream_created_at": utc(2025, 9, 7, 23, 22, 42, 661936),
    "upstream_updated_at": utc(2025, 9, 7, 23, 22, 42, 661936),
}


def test_list_domains_as_in_the_document(fake, provider):
    script(fake, "GET", "/domains", respond(200, DOMAIN_LIST))
    page = provider.list_domains(page=0, size=10, status="registered")
    assert_sent(fake.only, "GET", "/domains",
                params={"page": "0", "size": "10", "status": "registered"})
    assert isinstance(page, Page)
    assert (page.page, page.next_page, page.total) == (0, 1, 100)
    assert [record.fields for record in page.items] == [LIST_ITEM_FIELDS]


def test_list_domains_of_the_state(fake, provider):
    fake.add_domain("domainname.com", dns_records=DNS_RECORDS)
    fake.add_domain("pending.com", status="payment_initiated")
    page = provider.list_domains(status="registered")
    assert_sent(fake.only, "GET", "/domains",
                params={"page": "0", "size": "10", "status": "registered"})
    assert (page.page, page.next_page, page.total) == (0, None, 1)
    (record,) = page.items
    assert record.fields == {**LIST_ITEM_FIELDS, "dns_records": DNS_RECORDS}
    assert record.raw == fake.domain("domainname.com")


def test_list_domains_with_every_filter(fake, provider):
    page = provider.list_domains(page=2, size=50, status="transfer_ack",
                                 domain="domainname", from_date=utc(2025, 1, 1),
                                 to_date="2025-12-31")
    assert_sent(fake.only, "GET", "/domains", params={
        "page": "2", "size": "50", "status": "transfer_ack", "domain": "domainname",
        "from_date": "2025-01-01", "to_date": "2025-12-31"})
    assert page.next_page is None and page.page == 2 and page.items == []


@pytest.mark.parametrize("kwargs", [
    {"status": "active"}, {"page": -1}, {"size": 0}, {"from_date": "01/02/2025"},
    {"to_date": "yesterday"}, {"page": True}, {"size": "10"},
])
def test_list_arguments_are_refused_before_any_request(fake, provider, kwargs):
    with pytest.raises(CallerError):
        provider.list_domains(**kwargs)
    with pytest.raises(CallerError):
        provider.list_orders(**kwargs)
    assert fake.requests == []


def test_iter_domains_follows_next_page(fake, provider):
    fake.set_pages("domains", [
        [DOMAIN_LIST_ITEM],
        [{**DOMAIN_LIST_ITEM, "domainName": "two.com"}],
        [],
    ])
    names = [record.name for record in provider.iter_domains(status="registered")]
    assert names == ["domainname.com", "two.com"]
    for number, request in enumerate(fake.api_requests):
        assert_sent(request, "GET", "/domains",
                    params={"page": str(number), "size": "100", "status": "registered"})
    assert len(fake.api_requests) == 3
    assert len(fake.token_requests) == 1


def test_iter_registrations_reads_every_page(fake, provider):
    # Entri serves at most two a page here, whatever size is asked for.
    fake.page_size_limit = 2
    for name in ("a.com", "b.com", "c.com", "d.com", "e.com"):
        fake.add_domain(name)
    records = list(provider.iter_registrations(page_size=500))
    assert [record.key for record in records] == ["a.com", "b.com", "c.com", "d.com", "e.com"]
    # The sync's page size is capped at the largest page asked for.
    for number, request in enumerate(fake.api_requests):
        assert_sent(request, "GET", "/domains",
                    params={"page": str(number), "size": str(PAGE_SIZE_MAX)})
    assert len(fake.api_requests) == 3


def test_iter_registrations_of_one_name_keeps_exact_hits_only(fake, provider):
    # The list's domain filter is a search: it also finds names that contain it.
    for name in ("two.com", "mytwo.com", "other.com"):
        fake.add_domain(name)
    records = list(provider.iter_registrations(name="two.com", page_size=20))
    assert [record.name for record in records] == ["two.com"]
    assert_sent(fake.only, "GET", "/domains",
                params={"page": "0", "size": "20", "domain": "two.com"})


def test_iter_domains_refuses_paging_that_goes_backwards(fake, provider):
    script(fake, "GET", "/domains", respond(200, {**DOMAIN_LIST, "nextPage": 0}))
    with pytest.raises(MalformedResponse):
        list(provider.iter_domains())


def test_iter_registrations_of_the_wrong_shape_is_a_malformed_response(fake, provider):
    fake.set_pages("domains", [[DOMAIN_LIST_ITEM], [{**DOMAIN_LIST_ITEM, "status": "parked"}]])
    records = provider.iter_registrations()
    assert next(records).name == "domainname.com"
    with pytest.raises(MalformedResponse):
        next(records)


def test_iter_refuses_bad_arguments_at_once(fake, provider):
    with pytest.raises(CallerError):
        provider.iter_domains(status="nope")
    with pytest.raises(CallerError):
        provider.iter_orders(size=0)
    assert fake.requests == []


def test_get_domain(fake, provider):
    add_sample(fake)
    record = provider.get_domain("SampleDomain.com")
    assert_sent(fake.only, "GET", "/domains/sampledomain.com")
    assert record.fields == {
        "name": "sampledomain.com", "status": RegistrationState.PENDING, "auto_renew": True,
        "privacy_protect": False, "locked": False, "dns_records": [],
        "upstream_created_at": utc(2025, 11, 24, 2, 33, 5, 918266),
        "upstream_updated_at": utc(2025, 11, 24, 2, 33, 5, 918266),
    }
    assert record.key == "sampledomain.com" and record.upstream_id == ""


def test_get_registration_reads_the_domain_by_its_name(fake, provider):
    add_sample(fake)
    view = provider.get_registration(RegistrationRef(name="sampledomain.com",
                                                     upstream_id="ignored-here"))
    assert_sent(fake.only, "GET", "/domains/sampledomain.com")
    assert view == RegistrationView(registration=provider.get_domain("sampledomain.com"))


def test_an_unknown_domain_is_not_found(fake, provider):
    with pytest.raises(NotFound) as caught:
        provider.get_registration(SAMPLE)
    assert caught.value.details["upstream_message"] == "Domain not found"
    assert caught.value.request_id == REQUEST_ID


def test_a_name_that_is_not_a_domain_is_refused_before_any_request(fake, provider):
    for bad in ("", "no spaces.com", "../orders", "localhost"):
        with pytest.raises(CallerError):
            provider.get_domain(bad)
        with pytest.raises(CallerError):
            provider.get_registration(RegistrationRef(name=bad))
        with pytest.raises(CallerError):
            provider.set_auto_renew(RegistrationRef(name=bad), True)
    assert fake.requests == []


@pytest.mark.parametrize(("auto_renew", "options", "period"), [
    (True, {}, AUTO_RENEW_PERIOD), (False, {"auto_renew_period": 24}, 24),
])
def test_set_auto_renew(fake, cache, auto_renew, options, period):
    fake.add_domain("mydomain.com", auto_renew=not auto_renew)
    provider = entri_provider(fake, cache=cache, options=options)
    result = provider.set_auto_renew(MINE, auto_renew)
    message = {"message": "Domain auto-renewal updated successfully"}
    assert_sent(fake.only, "PUT", "/domains/mydomain.com/auto-renew",
                body={"autoRenew": auto_renew, "period": period})
    assert result == Done(changes={"auto_renew": auto_renew}, body=message)
    assert fake.domain("mydomain.com")["autoRenewed"] is auto_renew
    assert fake.auto_renew_periods == {"mydomain.com": period}


def test_set_auto_renew_default_period_is_the_documents(fake, provider):
    fake.add_domain("mydomain.com")
    provider.set_auto_renew(MINE, True)
    assert_sent(fake.only, "PUT", "/domains/mydomain.com/auto-renew",
                body={"autoRenew": True, "period": 12})
    assert AUTO_RENEW_PERIOD == 12


def test_set_auto_renew_with_an_empty_answer(fake, provider):
    script(fake, "PUT", "/domains/mydomain.com/auto-renew", respond(200))
    assert provider.set_auto_renew(MINE, False) == Done(changes={"auto_renew": False})


def test_resend_holder_verification(fake, provider):
    fake.add_domain("mydomain.com")
    assert provider.resend_holder_verification(MINE) == "Verification email has been resent"
    assert_sent(fake.only, "POST", "/domains/mydomain.com/resend-verification")
    assert fake.verifications_sent == {"mydomain.com": 1}


def test_get_dns_records(fake, provider):
    fake.add_domain("mydomain.com", dns_records=DNS_RECORDS)
    assert provider.get_dns_records(MINE) == DNS_RECORDS
    assert_sent(fake.only, "GET", "/domains/mydomain.com/dns-records")


def test_replace_dns_records_sends_the_documents_body(fake, provider):
    fake.add_domain("mydomain.com", dns_records=DNS_RECORDS)
    result = provider.replace_dns_records(MINE, DNS_RECORDS_UPDATE["dns_records"])
    assert result == Done(changes={"dns_records": DNS_RECORDS_UPDATE["dns_records"]},
                          body={"status": "DNS records updated successfully"})
    assert_sent(fake.only, "PUT", "/domains/mydomain.com/dns-records",
                body=DNS_RECORDS_UPDATE)
    # The zone is what was sent, all of it.
    assert fake.domain("mydomain.com")["dnsRecords"] == DNS_RECORDS_UPDATE["dns_records"]
    assert provider.get_dns_records(MINE) == DNS_RECORDS_UPDATE["dns_records"]


def test_replace_dns_records_sends_and_reports_the_records_normalised(fake, provider):
    fake.add_domain("mydomain.com")
    result = provider.replace_dns_records(MINE, [
        {"host": "WWW", "type": "cname", "value": "Site.Example.NET", "ttl": "300"}])
    sent = [{"host": "www", "type": "CNAME", "value": "site.example.net", "ttl": 300}]
    assert_sent(fake.only, "PUT", "/domains/mydomain.com/dns-records",
                body={"dns_records": sent})
    # What the mirror keeps is the zone as sent.
    assert result.changes == {"dns_records": sent}


def test_replace_dns_records_validates_before_any_request(fake, provider):
    with pytest.raises(ValidationError):
        provider.replace_dns_records(MINE, [
            {"host": "www", "type": "CNAME", "value": "192.0.2.1", "ttl": 300}])
    assert fake.requests == []


def test_transfer_in_sends_the_documents_body(fake, provider):
    result = provider.transfer_in("foo.com", authorization_code="{AUTHORIZATION CODE}",
                                  contact=TRANSFER_CONTACT)
    assert_sent(fake.only, "POST", "/domains/foo.com/transfers/in",
                body={"domain": "foo.com", "authorizationCode": "{AUTHORIZATION CODE}",
                      "contactDetails": TRANSFER_CONTACT})
    assert result == TransferInfo(domain="foo.com", transfer_id="trf-0001",
                                  status=OrderState.TRANSFER_STARTED,
                                  transfer_type="transfer_in")
    # Entri lists the domain from now on, its transfer under way.
    assert fake.domain("foo.com")["status"] == "transfer_started"
    assert fake.transfers[0]["contactDetails"] == TRANSFER_CONTACT


@pytest.mark.parametrize("code", ["", "   ", None])
def test_transfer_in_without_a_code_is_refused_before_any_request(fake, provider, code):
    with pytest.raises(CallerError):
        provider.transfer_in("foo.com", authorization_code=code, contact=TRANSFER_CONTACT)
    assert fake.requests == []


def test_transfer_in_without_a_contact_is_refused_before_any_request(fake, provider):
    with pytest.raises(CallerError):
        provider.transfer_in("foo.com", authorization_code=AUTH_CODE, contact={})
    assert fake.requests == []


def test_transfer_out_returns_the_auth_code_but_keeps_it_out_of_the_repr(fake, provider):
    fake.add_domain("foo.com")
    fake.auth_code = AUTH_CODE
    result = provider.transfer_out("foo.com")
    assert_sent(fake.only, "POST", "/domains/foo.com/transfers/out",
                body={"domain": "foo.com"})
    assert result == TransferInfo(domain="foo.com", transfer_id="",
                                  status=OrderState.TRANSFER_STARTED,
                                  transfer_type="transfer_out", auth_code=AUTH_CODE)
    assert AUTH_CODE not in repr(result)
    assert fake.domain("foo.com")["status"] == "transfer_started"


# --- Orders -------------------------------------------------------------------------------


def test_validate_contact_as_in_the_document(fake, provider):
    script(fake, "POST", "/domains/contacts/validate", respond(200, {
        "message": "Whois contact validated and successfully created",
        "content": VALIDATED_CONTACT_CONTENT}))
    result = provider.validate_contact(VALIDATE_CONTACT)
    assert_sent(fake.only, "POST", "/domains/contacts/validate", body=VALIDATE_CONTACT)
    assert result == ContactValidation(
        message="Whois contact validated and successfully created", upstream_id="24047757",
        contact=VALIDATED_CONTACT_CONTENT)


def test_validate_contact_creates_it_upstream(fake, provider):
    first = provider.validate_contact(VALIDATE_CONTACT)
    second = provider.validate_contact({**VALIDATE_CONTACT, "fname": "Ana"})
    assert (first.upstream_id, second.upstream_id) == ("24047757", "24047758")
    assert [first.contact, second.contact] == fake.contacts
    assert first.contact["organization"] == "Example Corporation"


def test_an_incomplete_contact_is_a_bad_request(fake, provider):
    with pytest.raises(BadRequest) as caught:
        provider.validate_contact({"email": "renan@goentri.com"})
    assert caught.value.details["upstream_message"].startswith("Invalid contact")
    with pytest.raises(CallerError):
        provider.validate_contact({})
    assert len(fake.api_requests) == 1


LISTED_ORDER = OrderRecord(
    upstream_id="5cf0cd4a-6a9f-4b53-8b11-7fe2a89e75df", state=OrderState.COMPLETED,
    type=OrderType.REGISTRATION, domain="foo.com", currency="USD",
    lines=(OrderLine(description="foo.com", domain="foo.com",
                     upstream_id="fe5624c3-d18d-4144-b1ab-5ef4711317e5",
                     details={"status": "registered"}),),
)


def without_delivered(record: OrderRecord) -> OrderRecord:
    return dataclasses.replace(record, delivered=())


def test_list_orders_as_in_the_document(fake, provider):
    script(fake, "GET", "/orders", respond(200, ORDER_LIST))
    page = provider.list_orders()
    assert_sent(fake.only, "GET", "/orders", params={"page": "0", "size": "10"},
                query="page=0&size=10")
    assert (page.page, page.next_page, page.total) == (0, 1, 100)
    assert [without_delivered(record) for record in page.items] == [LISTED_ORDER]
    assert [r.name for r in page.items[0].delivered] == ["foo.com"]


def test_iter_orders_follows_next_page(fake, provider):
    fake.page_size_limit = 1
    fake.add_order(ORDER_ID, "registered", "foo.com")
    fake.add_order(order_uuid(7), "transfer_started", "foo.com", "foo.net")
    fake.add_order(order_uuid(8), "registered", "bar.com")
    orders = list(provider.iter_orders(size=25, domain="foo.com"))
    assert [(o.upstream_id, o.state, o.type) for o in orders] == [
        (ORDER_ID, OrderState.COMPLETED, OrderType.REGISTRATION),
        (order_uuid(7), OrderState.TRANSFER_STARTED, OrderType.TRANSFER_IN)]
    assert [line.domain for line in orders[1].lines] == ["foo.com", "foo.net"]
    assert orders[1].delivered == ()  # a transfer under way delivered nothing yet
    for number, request in enumerate(fake.api_requests):
        assert_sent(request, "GET", "/orders",
                    params={"page": str(number), "size": "25", "domain": "foo.com"})
    assert len(fake.api_requests) == 2


def test_iter_orders_needs_no_known_orders(fake, provider):
    fake.add_order(ORDER_ID, "registered", "foo.com")
    known = [KnownOrder(local_id=1, upstream_id=None, open=True)]
    assert [o.upstream_id for o in provider.iter_orders(known=known)] == [ORDER_ID]
    assert all(o.local_id is None for o in provider.iter_orders(known=known))


def test_iter_orders_hands_a_malformed_order_over_and_goes_on(fake, provider):
    unreadable = {"orderId": order_uuid(2), "orderStatus": "exploded", "items": []}
    no_id = {"orderStatus": "registered"}
    fake.set_pages("orders", [[unreadable, ORDER_LIST["items"][0]], [no_id]])
    skipped = []
    orders = list(provider.iter_orders(on_malformed=lambda record, exc: skipped.append(
        (record, type(exc)))))
    assert [without_delivered(o) for o in orders] == [LISTED_ORDER]
    assert skipped == [(unreadable, ValueError), (no_id, KeyError)]
    with pytest.raises(MalformedResponse):
        list(provider.iter_orders())


def test_a_page_that_fails_stops_the_orders_after_those_read(fake, provider):
    fake.page_size_limit = 1
    fake.add_order(ORDER_ID, "registered", "foo.com")
    fake.add_order(order_uuid(7), "registered", "bar.com")
    fake.fail_page("orders", 1, respond(500, {"message": "boom"}))
    orders = provider.iter_orders()
    assert next(orders).upstream_id == ORDER_ID  # pages are read as they are needed
    with pytest.raises(UpstreamFailure):
        next(orders)
    assert [r.url.params["page"] for r in fake.api_requests] == ["0", "1"]


def test_place_order_sends_the_documents_body(fake, provider):
    fake.price, fake.renewal_price = 19, 24
    result = provider.place_order(
        domain="example.com", email="customer@example.com",
        user_id="ca8d6947-6232-44f7-af37-6501edad00aa", contact=ORDER_CONTACT,
        default_dns_records=[{"host": "@", "type": "A", "value": "192.168.1.1"}])
    assert_sent(fake.only, "POST", "/orders", body=PLACE_ORDER_BODY)
    assert result == OrderRecord(
        upstream_id=order_uuid(1), state=OrderState.IN_PROGRESS, type=OrderType.REGISTRATION,
        domain="example.com", years=1, currency="USD", subtotal_minor=1900, fees_minor=0,
        total_minor=1900, customer_reference="ca8d6947-6232-44f7-af37-6501edad00aa",
        upstream_customer_id="ca8d6947-6232-44f7-af37-6501edad00aa",
        placed_at=utc(2026, 1, 15, 10, 0, 0),
        lines=(OrderLine(description="example.com", domain="example.com",
                         unit_amount_minor=1900, total_minor=1900,
                         details={"renewal_price_minor": 2400, "billing_period_years": 1}),))
    # Entri has the order, and lists the domain being registered with its records.
    assert fake.orders[order_uuid(1)]["orderStatus"] == "registration_in_progress"
    domain = fake.domain("example.com")
    assert domain["status"] == "registration_in_progress"
    assert domain["dnsRecords"] == PLACE_ORDER_BODY["defaultDnsRecords"]


def test_place_order_without_a_contact_is_refused_before_any_request_when_not_lightning(
        fake, cache):
    provider = entri_provider(fake, cache=cache, options={"lightning_mode": False})
    for contact in (None, {}):
        with pytest.raises(CallerError, match="lightning mode"):
            provider.place_order(domain="example.com", email="customer@example.com",
                                 contact=contact)
    assert fake.requests == []


def test_place_order_in_lightning_mode_sends_no_contact(cache):
    fake = FakeEntri(application_id=APP_ID, lightning_mode=True)
    provider = entri_provider(fake, cache=cache, options={"lightning_mode": True})
    provider.place_order(domain="example.com", email="customer@example.com",
                         contact=ORDER_CONTACT)
    provider.place_order(domain="example.net", email="customer@example.com")
    first, second = fake.api_requests
    assert_sent(first, "POST", "/orders",
                body={"domain": "example.com", "email": "customer@example.com"})
    assert_sent(second, "POST", "/orders",
                body={"domain": "example.net", "email": "customer@example.com"})
    assert sorted(fake.domains) == ["example.com", "example.net"]


def test_place_order_refuses_bad_input_before_any_request(fake, provider):
    with pytest.raises(CallerError):
        provider.place_order(domain="example.com", email="not-an-email",
                             contact=ORDER_CONTACT)
    with pytest.raises(CallerError):
        provider.place_order(domain="not a domain", email="customer@example.com",
                             contact=ORDER_CONTACT)
    with pytest.raises(ValidationError):
        provider.place_order(domain="example.com", email="customer@example.com",
                             contact=ORDER_CONTACT, default_dns_records=[
                                 {"host": "@", "type": "A", "value": "::1"}])
    assert fake.requests == []


def test_an_order_for_a_taken_domain_is_a_conflict(fake, provider):
    fake.add_domain("example.com")
    with pytest.raises(Conflict):
        provider.place_order(domain="example.com", email="customer@example.com",
                             contact=ORDER_CONTACT)
    assert fake.orders == {}


def test_a_placed_order_is_not_repeated_on_a_502(fake, provider, sleeps):
    script(fake, "POST", "/orders", respond(502, {"message": "bad gateway"}))
    with pytest.raises(UpstreamFailure):
        provider.place_order(domain="example.com", email="customer@example.com",
                             contact=ORDER_CONTACT)
    assert len(fake.api_requests) == 1
    assert sleeps == []


def test_get_order(fake, provider):
    fake.add_order(ORDER_ID, "registered", "foo.com")
    record = provider.get_order(ORDER_ID.upper())
    assert_sent(fake.only, "GET", f"/orders/{ORDER_ID}")
    assert without_delivered(record) == dataclasses.replace(
        LISTED_ORDER, upstream_id=ORDER_ID,
        lines=(dataclasses.replace(LISTED_ORDER.lines[0], upstream_id="5c819665-item-0"),))
    assert [r.name for r in record.delivered] == ["foo.com"]


def test_read_order_follows_an_order_upstream(fake, provider):
    fake.add_order(ORDER_ID, "registration_in_progress", "foo.com")
    assert provider.read_order(ORDER_ID).state == OrderState.IN_PROGRESS
    fake.set_order_status(ORDER_ID, "registered")
    record = provider.read_order(ORDER_ID)
    assert record.state == OrderState.COMPLETED
    assert [r.name for r in record.delivered] == ["foo.com"]
    for request in fake.api_requests:
        assert_sent(request, "GET", f"/orders/{ORDER_ID}")


def test_read_order_of_an_order_entri_does_not_have_is_not_found(fake, provider):
    with pytest.raises(NotFound):
        provider.read_order(ORDER_ID)


def test_order_status(fake, provider):
    fake.add_order(ORDER_ID, "registered", "foo.com")
    assert provider.order_status(ORDER_ID) is OrderState.COMPLETED
    assert_sent(fake.only, "GET", f"/orders/{ORDER_ID}/status")


def test_an_order_id_that_is_not_a_uuid_is_refused_before_any_request(fake, provider):
    for bad in ("", "../domains", "42"):
        with pytest.raises(CallerError):
            provider.get_order(bad)
        with pytest.raises(CallerError):
            provider.read_order(bad)
        with pytest.raises(CallerError):
            provider.order_status(bad)
    assert fake.requests == []


# --- Billing ------------------------------------------------------------------------------


def test_billing_link_as_in_the_document(fake, provider):
    url = "https://billing.stripe.com/p/session/abc123"
    fake.billing_url = url
    assert provider.billing_link(email="akhil@goentri.com",
                                 return_url="https://www.entri.com") == url
    assert_sent(fake.only, "GET", "/billing/link",
                params={"email": "akhil@goentri.com", "returnUrl": "https://www.entri.com"},
                query="email=akhil%40goentri.com&returnUrl=https%3A%2F%2Fwww.entri.com")


def test_billing_link_refuses_bad_input_and_non_https_answers(fake, provider):
    script(fake, "GET", "/billing/link", respond(200, {"url": "javascript:alert(1)"}))
    with pytest.raises(CallerError):
        provider.billing_link(email="akhil@goentri.com", return_url="/relative")
    with pytest.raises(CallerError):
        provider.billing_link(email="nope", return_url="https://www.entri.com")
    assert fake.requests == []
    with pytest.raises(MalformedResponse):
        provider.billing_link(email="akhil@goentri.com", return_url="https://www.entri.com")


# --- Answers of the wrong shape -------------------------------------------------------------


@pytest.mark.parametrize(("method", "args", "path", "body"), [
    ("check_availability", ("example.com",), "/domains/availability",
     {"domain": "example.com", "availability": "AVAILABLE", "price": 12.999}),
    ("check_availability", ("example.com",), "/domains/availability", []),
    ("get_domain", ("sampledomain.com",), "/domains/sampledomain.com",
     {**SINGLE_DOMAIN, "status": "parked"}),
    ("get_domain", ("sampledomain.com",), "/domains/sampledomain.com",
     {**SINGLE_DOMAIN, "autoRenewed": "yes"}),
    ("get_domain", ("sampledomain.com",), "/domains/sampledomain.com",
     {**SINGLE_DOMAIN, "createdAt": "yesterday"}),
    ("get_registration", (SAMPLE,), "/domains/sampledomain.com",
     {**SINGLE_DOMAIN, "dnsRecords": "none"}),
    ("list_domains", (), "/domains", {"items": {"not": "a list"}}),
    ("get_dns_records", (MINE,), "/domains/mydomain.com/dns-records", {"host": "@"}),
    ("order_status", (ORDER_ID,), f"/orders/{ORDER_ID}/status", {"status": "shipped"}),
    ("get_order", (ORDER_ID,), f"/orders/{ORDER_ID}", {"orderStatus": "registered"}),
    ("read_order", (ORDER_ID,), f"/orders/{ORDER_ID}", {"orderId": ORDER_ID}),
    ("suggestions", ("example",), "/domains/suggestions",
     {"suggestions": [{"domain": "not a name!"}]}),
    ("validate_contact", (VALIDATE_CONTACT,), "/domains/contacts/validate",
     {"message": "ok", "content": [1]}),
])
def test_answers_of_the_wrong_shape_are_malformed_responses(fake, provider, method, args,
                                                            path, body):
    script(fake, "*", path, respond(200, body))
    with pytest.raises(MalformedResponse):
        getattr(provider, method)(*args)


# --- The JWT ------------------------------------------------------------------------------


def test_one_token_for_many_calls(fake, provider):
    add_sample(fake)
    for _ in range(5):
        provider.get_domain("sampledomain.com")
    assert len(fake.token_requests) == 1
    assert_token_request(fake.token_requests[0])
    assert {r.headers["Authorization"] for r in fake.api_requests} == {f"Bearer {jwt(1)}"}


def test_the_token_is_shared_through_the_cache_by_other_workers(fake, cache, clock):
    add_sample(fake)
    first = entri_provider(fake, cache=cache, clock=clock)
    second = entri_provider(fake, cache=cache, clock=clock)
    first.get_domain("sampledomain.com")
    second.get_domain("sampledomain.com")
    assert len(fake.token_requests) == 1
    assert [r.url.path for r in fake.requests] == [
        "/token", f"{PREFIX}/domains/sampledomain.com", f"{PREFIX}/domains/sampledomain.com"]
    assert_sent(fake.api_requests[1], "GET", "/domains/sampledomain.com", token=jwt(1))


def test_the_cache_key_and_entry(fake, provider, cache):
    add_sample(fake)
    provider.get_domain("sampledomain.com")
    key = token_cache_key(BASE_URL, APP_ID)
    assert SECRET not in key and APP_ID not in key
    assert cache.get(key) == {"token": jwt(1), "minted_at": T0}
    assert token_cache_key(BASE_URL, "other-app") != key
    assert token_cache_key("https://sandbox.goentri.test", APP_ID) != key


def test_the_token_is_refreshed_shortly_before_it_expires(fake, provider, cache, clock):
    add_sample(fake)
    provider.get_domain("sampledomain.com")
    clock.advance(54 * 60)
    provider.get_domain("sampledomain.com")
    assert len(fake.token_requests) == 1
    clock.advance(60 + 1)  # 55 minutes and a second after minting
    assert TOKEN_REUSE_SECONDS == 55 * 60
    provider.get_domain("sampledomain.com")
    assert len(fake.token_requests) == 2
    assert fake.api_requests[-1].headers["Authorization"] == f"Bearer {jwt(2)}"
    assert cache.get(provider._cache_key)["minted_at"] == T0 + 55 * 60 + 1


def test_an_unreadable_cache_entry_is_minted_over(fake, provider, cache):
    add_sample(fake)
    cache.set(provider._cache_key, {"token": 42, "minted_at": "then"})
    provider.get_domain("sampledomain.com")
    assert len(fake.token_requests) == 1
    assert cache.get(provider._cache_key)["token"] == jwt(1)


class DownCache:
    """A shared cache that cannot be reached: every call fails."""

    def __getattr__(self, name: str):
        def down(*args, **kwargs):
            raise ConnectionError("the cache is down")

        return down


def test_a_cache_outage_keeps_the_token_in_the_process(fake, caplog):
    add_sample(fake)
    provider = entri_provider(fake, cache=DownCache())
    with caplog.at_level(logging.WARNING, logger="registrar.providers"):
        provider.get_domain("sampledomain.com")
        provider.get_domain("sampledomain.com")
    assert len(fake.token_requests) == 1
    assert {r.headers["Authorization"] for r in fake.api_requests} == {f"Bearer {jwt(1)}"}
    assert "token cache unavailable (ConnectionError)" in caplog.text
    assert jwt(1) not in caplog.text


def test_concurrent_threads_mint_once(fake, provider):
    add_sample(fake)
    fake.token_delay = 0.05  # lets the threads pile up on the mint lock
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def work() -> None:
        start.wait()
        try:
            provider.get_domain("sampledomain.com")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == []
    assert len(fake.token_requests) == 1
    assert len(fake.api_requests) == 8


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_401_mints_once_more_and_retries_the_call_once(fake, provider, cache, method):
    add_sample(fake)
    provider.get_domain("sampledomain.com")
    fake.expire_tokens()  # Entri no longer takes the token it minted
    if method == "get":
        assert provider.get_domain("sampledomain.com").name == "sampledomain.com"
        path, verb = "/domains/sampledomain.com", "GET"
    else:
        assert provider.resend_holder_verification(SAMPLE) == (
            "Verification email has been resent")
        path, verb = "/domains/sampledomain.com/resend-verification", "POST"
        # The refused POST was not processed: one e-mail, not two.
        assert fake.verifications_sent == {"sampledomain.com": 1}
    assert [r.url.path for r in fake.requests[2:]] == [PREFIX + path, "/token", PREFIX + path]
    refused, retried = fake.api_requests[1:]
    assert_sent(refused, verb, path, token=jwt(1))
    assert_sent(retried, verb, path, token=jwt(2))
    assert cache.get(provider._cache_key)["token"] == jwt(2)


def test_a_second_401_is_authentication_failed(fake, provider):
    script(fake, "GET", "/domains/sampledomain.com", respond(401, {"message": "Invalid token"}))
    with pytest.raises(AuthenticationFailed) as caught:
        provider.get_domain("sampledomain.com")
    assert caught.value.status == 401
    assert len(fake.token_requests) == 2
    assert len(fake.api_requests) == 2


def test_after_a_401_a_token_another_worker_minted_is_used_instead_of_minting(
        fake, provider, cache, clock):
    add_sample(fake)
    minted: list[str] = []

    def refused_while_another_worker_reminted(request: httpx.Request) -> httpx.Response:
        minted.append(fake.mint())
        cache.set(provider._cache_key, {"token": minted[0], "minted_at": clock()})
        return httpx.Response(401, json={"message": "Token expired"})

    script(fake, "GET", "/domains/sampledomain.com", refused_while_another_worker_reminted,
           fake.serve)
    provider.get_domain("sampledomain.com")
    assert len(fake.token_requests) == 1
    assert minted == [jwt(2)]
    assert_sent(fake.api_requests[1], "GET", "/domains/sampledomain.com", token=jwt(2))


def test_a_refused_secret_is_authentication_failed_without_an_api_call(fake, cache):
    provider = entri_provider(fake, cache=cache, token="not-the-secret")
    with pytest.raises(AuthenticationFailed) as caught:
        provider.ping()
    assert caught.value.details["upstream_message"] == "Invalid credentials"
    assert len(fake.token_requests) == 1
    assert fake.api_requests == []


@pytest.mark.parametrize("answer", [
    respond(200, {}), respond(200, {"auth_token": ""}), respond(200, ["x"]),
    respond(200, {"auth_token": "two words"}), respond(200, text="<html>ok</html>"),
])
def test_a_token_answer_without_a_token_is_malformed(fake, provider, answer):
    fake.script("POST", "/token", answer)
    with pytest.raises(MalformedResponse):
        provider.ping()
    assert fake.api_requests == []


# --- Secrets never logged ---------------------------------------------------------------

SECRETS = (SECRET, jwt(1), jwt(2), AUTH_CODE)


def assert_no_secret(caplog, *errors: BaseException) -> None:
    for record in caplog.records:
        text = record.getMessage() + repr(record.args) + str(record.exc_info or "")
        for secret in SECRETS:
            assert secret not in text, f"{record.name} logged a secret: {text!r}"
    for error in errors:
        rendered = f"{error} {error!r} {getattr(error, 'details', '')} {error.args}"
        for secret in SECRETS:
            assert secret not in rendered


def entri_with(path: str, answer, **kwargs) -> EntriProvider:
    """A provider on a fresh FakeEntri whose `path` (a regular expression) answers so."""
    fake = FakeEntri(application_id=APP_ID, secret=SECRET)
    fake.script("*", path, answer)
    return entri_provider(fake, **kwargs)


def test_secrets_never_reach_the_log_or_an_exception(caplog):
    caplog.set_level(logging.DEBUG)
    echo_secret = entri_with("/token", respond(401, {"message": f"bad secret {SECRET}"}))
    with pytest.raises(AuthenticationFailed) as refused:
        echo_secret.ping()

    echo_jwt = entri_with(f"{PREFIX}/domains/.*",
                          respond(500, {"message": f"cannot decode {jwt(1)}"}),
                          retry=NO_RETRY)
    with pytest.raises(UpstreamFailure) as failed:
        echo_jwt.get_domain("sampledomain.com")

    echo_code = entri_with(f"{PREFIX}/domains/.*",
                           respond(422, {"message": f"auth code {AUTH_CODE} is wrong"}))
    with pytest.raises(InvalidRequest) as invalid:
        echo_code.transfer_in("foo.com", authorization_code=AUTH_CODE,
                              contact=TRANSFER_CONTACT)

    second_401 = entri_with(f"{PREFIX}/domains/.*", respond(401, {"message": "no"}))
    with pytest.raises(AuthenticationFailed) as unauthorised:
        second_401.get_domain("sampledomain.com")

    happy_fake = FakeEntri(application_id=APP_ID, secret=SECRET)
    happy_fake.add_domain("foo.com")
    happy_fake.auth_code = AUTH_CODE
    assert entri_provider(happy_fake).transfer_out("foo.com").auth_code == AUTH_CODE

    assert_no_secret(caplog, refused.value, failed.value, invalid.value, unauthorised.value)
    # The error bodies were logged for diagnosis, with the secrets cut out.
    assert "bad secret ***" in caplog.text
    assert "cannot decode ***" in caplog.text
    assert "auth code *** is wrong" in caplog.text
    assert failed.value.details["upstream_message"] == "cannot decode ***"


# --- Error mapping ------------------------------------------------------------------------

HTML_502 = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


@pytest.mark.parametrize(("status", "error_class", "attempts"), [
    (400, BadRequest, 1), (401, AuthenticationFailed, 2), (402, PaymentRequiredError, 1),
    (403, PermissionDenied, 1), (404, NotFound, 1), (409, Conflict, 1),
    (422, InvalidRequest, 1), (429, RateLimited, 1), (500, UpstreamFailure, 1),
    (502, UpstreamFailure, DEFAULT_RETRY.attempts), (503, UpstreamFailure,
                                                     DEFAULT_RETRY.attempts),
])
def test_errors_map_by_status(fake, provider, sleeps, status, error_class, attempts):
    upstream_message = f"Upstream says no ({status}), ref 7731"
    script(fake, "GET", "/domains/sampledomain.com",
           respond(status, {"message": upstream_message}))
    with pytest.raises(ProviderError) as caught:
        provider.get_domain("sampledomain.com")
    error = caught.value
    assert type(error) is error_class
    assert error.status == status
    assert error.code == f"http_{status}"
    assert error.message == error_class.default_message
    assert upstream_message not in str(error)
    assert error.details["upstream_message"] == upstream_message
    assert error.retryable is (status >= 500 or status == 429)
    assert error.request_id == REQUEST_ID
    assert len(fake.api_requests) == attempts
    assert len(sleeps) == (attempts - 1 if status >= 500 else 0)


def test_an_html_502_is_an_upstream_failure(fake, cache):
    provider = entri_provider(fake, cache=cache, retry=NO_RETRY)
    script(fake, "GET", "/domains/sampledomain.com",
           respond(502, text=HTML_502, content_type="text/html"))
    with pytest.raises(UpstreamFailure) as caught:
        provider.get_domain("sampledomain.com")
    assert caught.value.code == "http_502"
    assert caught.value.details["upstream_message"] == ""
    assert "nginx" not in str(caught.value)


def test_a_bodiless_404_is_not_found(fake, provider):
    script(fake, "GET", "/domains/sampledomain.com", respond(404))
    with pytest.raises(NotFound):
        provider.get_domain("sampledomain.com")


# --- Domain search ------------------------------------------------------------------------


def test_domain_offer_prices_the_first_year_and_then_renewals(fake, provider):
    one = provider.domain_offer("example.com", years=1)
    assert_sent(fake.only, "GET", "/domains/availability", params={"domain": "example.com"})
    assert (one.available, one.term_price, one.term_estimated) == (True, Money(1299, "USD"),
                                                                   False)
    three = provider.domain_offer("example.com", years=3)
    assert (three.term_price, three.term_estimated) == (Money(1299 + 2 * 1499, "USD"), True)
    assert three.renewal_price == Money(1499, "USD")


def test_domain_offer_of_a_taken_name_has_no_price(fake, provider):
    fake.set_availability("example.com", "UNAVAILABLE", price=12.99)
    offer = provider.domain_offer("example.com", years=1)
    assert (offer.available, offer.term_price, offer.reason) == (False, None, "UNAVAILABLE")


def test_domain_suggestions_ask_for_the_tlds(fake, provider):
    offers = provider.domain_suggestions("example", tlds=["com", "store"], years=1)
    assert_sent(fake.only, "GET", "/domains/suggestions",
                params={"domain": "example", "tlds": "com,store"},
                query="domain=example&tlds=com,store")
    assert [(o.domain, o.available, o.term_price) for o in offers] == [
        ("example.com", True, Money(1299, "USD")), ("example.store", True, Money(1299, "USD"))]
