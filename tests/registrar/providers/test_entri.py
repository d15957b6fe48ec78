"""EntriProvider against document 000 (Entri Sell Enterprise API): the exact request
every endpoint sends and what it makes of the document's example answers; the JWT's
life (minted once, shared through the cache, refreshed before expiry, re-minted once on
a 401); the secrets that must never reach a log or an exception; the error mapping; and
the DNS record validation the admin form relies on.

Only the HTTP boundary is fake (httpx.MockTransport), the cache is a private
LocMemCache per test, the clock is injected, and retry sleeps are recorded, not slept.
"""

from __future__ import annotations

import copy
import inspect
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.core.exceptions import ValidationError

from billing.models import OrderKind, OrderStatus
from registrar.models import ProviderAccount, RegistrationStatus
from registrar.providers import registry
from registrar.providers.base import (
    AuthenticationFailed,
    BadRequest,
    Capability,
    ConfigurationError,
    Conflict,
    Done,
    InvalidRequest,
    MalformedResponse,
    Money,
    NotFound,
    PaymentRequiredError,
    PermissionDenied,
    Provider,
    ProviderError,
    RateLimited,
    UpstreamFailure,
)
from registrar.providers.domain_api import CallerError, DomainApiProvider
from registrar.providers.entri import (
    ENTRI_STATUSES,
    ORDER_STATUS,
    REGISTRATION_STATUS,
    TOKEN_REUSE_SECONDS,
    ContactValidation,
    EntriProvider,
    Page,
    TransferInfo,
    clean_dns_records,
    parse_domain,
    parse_order,
    to_minor_units,
    token_cache_key,
)
from registrar.providers.http import DEFAULT_RETRY, NO_RETRY

BASE_URL = "https://api.goentri.com"
HOST = "api.goentri.com"
PREFIX = "/enterprise/sell/v1"
APP_ID = "acme-backoffice"
SECRET = "entri-secret-Zq81-do-not-leak"
AUTH_CODE = "EPP-authcode-9#xK!"
T0 = 1_750_000_000.0

Answer = Callable[[httpx.Request], httpx.Response]


def jwt(number: int) -> str:
    return f"eyJ0eXAiOiJKV1QiLCJhbGciOi.payload-{number}.signature-{number}"


def respond(status: int = 200, body: Any = None, *, text: str | None = None,
            content_type: str = "text/plain") -> Answer:
    def answer(request: httpx.Request) -> httpx.Response:
        if text is not None:
            return httpx.Response(status, text=text, headers={"Content-Type": content_type})
        if body is None:
            return httpx.Response(status)
        return httpx.Response(status, json=body)

    return answer


class Upstream:
    """The MockTransport handler. POST /token mints jwt(1), jwt(2), ... (or answers with
    `token_answer`); every other request gets the next scripted answer, the last one
    repeating."""

    def __init__(self, *answers: Answer, token_answer: Answer | None = None,
                 token_delay: float = 0.0) -> None:
        self.answers = list(answers) or [respond(200, {})]
        self.token_answer = token_answer
        self.token_delay = token_delay
        self.requests: list[httpx.Request] = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        with self.lock:
            self.requests.append(request)
            if request.url.path == "/token":
                minted = len(self.token_requests) - 1
            else:
                index = min(len(self.api_requests), len(self.answers)) - 1
        if request.url.path == "/token":
            if self.token_delay:
                time.sleep(self.token_delay)  # lets concurrent callers pile up on the lock
            if self.token_answer:
                return self.token_answer(request)
            return httpx.Response(200, json={"auth_token": jwt(minted)})
        return self.answers[index](request)

    @property
    def token_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == "/token"]

    @property
    def api_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path != "/token"]

    @property
    def only(self) -> httpx.Request:
        assert len(self.api_requests) == 1, f"expected one API call, got {self.api_requests}"
        return self.api_requests[0]


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def fresh_cache() -> LocMemCache:
    return LocMemCache(f"entri-test-{uuid.uuid4()}", {})


@dataclass
class Harness:
    provider: EntriProvider
    upstream: Upstream
    clock: Clock
    cache: LocMemCache
    sleeps: list[float] = field(default_factory=list)


def make_harness(*answers: Answer, upstream: Upstream | None = None,
                 cache: LocMemCache | None = None, clock: Clock | None = None,
                 **kwargs: Any) -> Harness:
    upstream = upstream or Upstream(*answers)
    cache = cache if cache is not None else fresh_cache()
    clock = clock or Clock()
    sleeps: list[float] = []
    kwargs.setdefault("retry", DEFAULT_RETRY)
    provider = EntriProvider(base_url=BASE_URL, token=SECRET, account_ref=APP_ID,
                             user_agent="registrar-backoffice/test", label="entri-test",
                             transport=httpx.MockTransport(upstream), sleep=sleeps.append,
                             clock=clock, cache=cache, **kwargs)
    return Harness(provider, upstream, clock, cache, sleeps)


NO_BODY = object()


def assert_token_request(request: httpx.Request) -> None:
    assert request.method == "POST"
    assert request.url.host == HOST
    assert request.url.raw_path == b"/token"
    assert request.headers["Content-Type"] == "application/json"
    assert "Authorization" not in request.headers
    assert json.loads(request.content) == {"applicationId": APP_ID, "secret": SECRET}


def assert_sent(request: httpx.Request, method: str, path: str, *,
                params: dict[str, str] | None = None, query: str | None = None,
                body: Any = NO_BODY, token: str | None = None) -> None:
    """The exact API request: method, path under /enterprise/sell/v1, query, the
    document's headers (Bearer JWT, applicationId, Accept), and the JSON body."""
    assert request.method == method
    assert request.url.scheme == "https"
    assert request.url.host == HOST
    raw_path, _, raw_query = request.url.raw_path.decode("ascii").partition("?")
    assert raw_path == PREFIX + path
    if query is not None:
        assert raw_query == query
    assert sorted(request.url.params.multi_items()) == sorted((params or {}).items())
    headers = request.headers
    assert headers["Authorization"] == f"Bearer {token or jwt(0)}"
    assert headers["applicationId"] == APP_ID
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"] == "registrar-backoffice/test"
    if body is NO_BODY:
        assert request.content == b""
        assert "Content-Type" not in headers
    else:
        assert headers["Content-Type"] == "application/json"
        assert json.loads(request.content) == body


# --- The document's examples --------------------------------------------------------------

DOMAIN_LIST_ITEM = {
    "domainName": "domainname.com", "dnsRecords": [], "autoRenewed": True,
    "whoisPrivacy": False, "locked": False, "status": "registered",
    "createdAt": "2025-09-07T23:22:42.661936", "updatedAt": "2025-09-07T23:22:42.661936",
}
DOMAIN_LIST = {"items": [DOMAIN_LIST_ITEM], "total": 100, "page": 0, "limit": 10, "count": 10,
               "pages": 10, "nextPage": 1, "prevPage": None}
SINGLE_DOMAIN = {
    "domainName": "sampledomain.com", "dnsRecords": [], "autoRenewed": True,
    "whoisPrivacy": False, "locked": False, "status": "payment_initiated",
    "createdAt": "2025-11-24T02:33:05.918266", "updatedAt": "2025-11-24T02:33:05.918266",
}
DNS_RECORDS_UPDATE = {"dns_records": [
    {"value": "ring-floor-1187.the.com", "host": "www", "ttl": 300, "type": "CNAME"},
    {"value": "_402962b5637f756da4ab7a0608067719.czrmfnbpdk.acm-validations.aws.",
     "host": "_a49d1d3b2b3fe27d0d002d533a751aee.www", "ttl": 300, "type": "CNAME"},
]}
TRANSFER_CONTACT = {
    "email": "renan@goentri.com", "fname": "Renan", "lname": "Alves",
    "phone": "+1-555-123-4567", "address": ["123 Main Street", "Suite 456"],
    "city": "New York", "state": "NY", "country": "US", "pcode": "10001",
}
VALIDATE_CONTACT = {**TRANSFER_CONTACT, "organization": "Example Corporation", "type": "PERSON"}
VALIDATED_CONTACT_CONTENT = {
    "created": "2025-12-17T14:06:31.000+0100", "updated": "2025-12-17T14:06:31.000+0100",
    "id": 24047757, "owner": {"context": 4, "user": "1352400449"},
    "updater": {"context": 4, "user": "1352400449"}, "alias": "Renan-Alves1",
    "type": "PERSON", "organization": "Example Corporation", "city": "New York",
    "country": "US", "state": "NY", "email": "renan@goentri.com", "protection": "SHOW_NONE",
    "domainsafe": False, "fname": "Renan", "lname": "Alves",
    "address": ["123 Main Street", "Suite 456"], "pcode": "10001", "phone": "+1-555-1234567",
}
ORDER_ITEM = {
    "orderItemId": "fe5624c3-d18d-4144-b1ab-5ef4711317e5", "domainName": "foo.com",
    "dnsRecords": [], "autoRenewed": True, "whoisPrivacy": False, "locked": False,
    "status": "registered", "createdAt": "2025-12-09T16:27:53.523047",
    "updatedAt": "2025-12-09T16:27:53.523047",
}
ORDER_LIST = {
    "items": [{"orderId": "5cf0cd4a-6a9f-4b53-8b11-7fe2a89e75df", "orderStatus": "registered",
               "customerEmail": "customer@email.com", "items": [ORDER_ITEM]}],
    "total": 100, "page": 0, "limit": 10, "count": 10, "pages": 10, "nextPage": 1,
    "prevPage": None,
}
ORDER_ID = "5c819665-2f7a-48c7-8c7b-fabd46f9235f"
SINGLE_ORDER = {
    "orderId": ORDER_ID, "orderStatus": "registered", "customerEmail": "customer@email.com",
    "items": [{**ORDER_ITEM, "orderItemId": "5ea01588-509f-4245-bbe9-6f37c3047f0c"}],
}
ORDER_CONTACT = {
    "type": "PERSON", "fname": "John", "lname": "Doe", "address": ["123 Main Street"],
    "city": "New York", "pcode": "12345", "country": "US", "state": "NY",
    "phone": "+1.5551234567", "email": "customer@example.com",
}
PLACE_ORDER_BODY = {
    "domain": "example.com", "email": "customer@example.com",
    "userId": "ca8d6947-6232-44f7-af37-6501edad00aa", "contactDetails": ORDER_CONTACT,
    "defaultDnsRecords": [{"host": "@", "type": "A", "value": "192.168.1.1"}],
}
PLACED_ORDER = {
    "orderId": "21b363fb-c8c0-427e-8d2d-91658f806471", "userId": None, "domain": "example.com",
    "status": "registration_in_progress", "contactDetails": ORDER_CONTACT,
    "createdAt": "2026-03-03T12:27:19.751544", "dnsRecords": [],
    "pricing": {"purchasePrice": 19, "renewalPrice": 24, "currency": "USD",
                "billingPeriod": 1},
}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- Shape of the adapter ---------------------------------------------------------------

COVERED_METHODS = {
    "close", "ping", "check_availability", "suggestions", "list_domains", "iter_domains",
    "get_domain", "set_auto_renew", "resend_holder_verification", "get_dns_records",
    "replace_dns_records", "transfer_in", "transfer_out", "validate_contact", "list_orders",
    "iter_orders", "place_order", "get_order", "order_status", "billing_link",
}


def test_every_public_method_has_request_tests_here():
    public = {name for name, member in vars(EntriProvider).items()
              if not name.startswith("_") and inspect.isfunction(member)}
    assert public == COVERED_METHODS


def test_shared_operations_have_the_domain_api_names():
    for name in ("set_auto_renew", "resend_holder_verification", "check_availability",
                 "suggestions", "ping"):
        assert callable(getattr(EntriProvider, name))
        assert callable(getattr(DomainApiProvider, name))


def test_kind_and_capabilities():
    provider = make_harness().provider
    assert isinstance(provider, Provider)
    assert provider.kind == "entri"
    assert EntriProvider.takes_options is True
    assert provider.capabilities == {
        Capability.AUTO_RENEW, Capability.VERIFICATION_RESEND, Capability.DNS_RECORDS,
        Capability.ORDERS, Capability.AVAILABILITY, Capability.BILLING_LINK}
    for absent in (Capability.LOCK, Capability.PRIVACY, Capability.DNSSEC, Capability.HOSTS,
                   Capability.PROCESSES, Capability.CONTACTS, Capability.AUTH_CODE,
                   Capability.PUSH_TRANSFER, Capability.TRANSFER_OUT_DECISION):
        assert not provider.supports(absent)


@pytest.mark.parametrize("kwargs", [
    {"token": ""}, {"account_ref": ""}, {"options": {"lightning_mode": "yes"}},
])
def test_constructor_refuses_missing_credentials_and_bad_options(kwargs):
    arguments = {"base_url": BASE_URL, "token": SECRET, "account_ref": APP_ID,
                 "cache": fresh_cache(), **kwargs}
    with pytest.raises(ConfigurationError) as caught:
        EntriProvider(**arguments)
    assert SECRET not in str(caught.value)


def test_a_pasted_api_base_url_is_reduced_to_the_host():
    upstream = Upstream(respond(200, DOMAIN_LIST))
    provider = EntriProvider(base_url=f"{BASE_URL}/enterprise/sell/v1/", token=SECRET,
                             account_ref=APP_ID, transport=httpx.MockTransport(upstream),
                             cache=fresh_cache())
    provider.ping()
    assert [r.url.path for r in upstream.requests] == ["/token", f"{PREFIX}/domains"]


def test_build_provider_passes_the_account_options(monkeypatch):
    monkeypatch.setenv("ENTRI_TEST_SECRET", SECRET)
    account = ProviderAccount(label="entri-registry-test", kind="entri", base_url=BASE_URL,
                              account_ref=APP_ID, secret_env="ENTRI_TEST_SECRET",
                              timeout_seconds=7.0, options={"lightning_mode": True})
    upstream = Upstream(respond(200, DOMAIN_LIST))
    with registry.override_transport(account.label, httpx.MockTransport(upstream)):
        provider = registry.build_provider(account)
        assert isinstance(provider, EntriProvider)
        assert provider.lightning_mode is True
        assert provider.application_id == APP_ID
        provider.ping()
        provider._cache.delete(provider._cache_key)  # the suite's shared test cache
    assert_token_request(upstream.token_requests[0])
    assert SECRET not in repr(provider)


def test_close_closes_the_client_without_a_request():
    harness = make_harness()
    harness.provider.close()
    assert harness.upstream.requests == []
    assert harness.provider.http._client.is_closed


# --- Domains: search ----------------------------------------------------------------------


def test_ping_reads_one_domain():
    harness = make_harness(respond(200, DOMAIN_LIST))
    assert harness.provider.ping() is None
    assert_token_request(harness.upstream.token_requests[0])
    assert_sent(harness.upstream.only, "GET", "/domains", params={"page": "0", "size": "1"})


def test_check_availability():
    harness = make_harness(respond(200, {"domain": "example.com", "availability": "AVAILABLE",
                                         "price": 12.99, "renewalPrice": 14.99}))
    result = harness.provider.check_availability("Example.COM")
    assert_sent(harness.upstream.only, "GET", "/domains/availability",
                params={"domain": "example.com"}, query="domain=example.com")
    assert result == {"domain": "example.com", "available": True, "availability": "AVAILABLE",
                      "create_price": Money(1299, "USD"), "renewal_price": Money(1499, "USD")}


def test_check_availability_of_a_taken_unicode_name():
    harness = make_harness(respond(200, {"domain": "xn--bcher-kva.de",
                                         "availability": "UNAVAILABLE", "price": None}))
    result = harness.provider.check_availability("Bücher.de")
    assert_sent(harness.upstream.only, "GET", "/domains/availability",
                params={"domain": "xn--bcher-kva.de"})
    assert result["available"] is False
    assert result["create_price"] is None and result["renewal_price"] is None


def test_suggestions_as_in_the_document():
    harness = make_harness(respond(200, {"suggestions": [
        {"domain": "Exampleco.store", "price": 1, "renewalPrice": 99}]}))
    result = harness.provider.suggestions("example", tlds=["com", "store", ".Online"])
    assert_sent(harness.upstream.only, "GET", "/domains/suggestions",
                params={"domain": "example", "tlds": "com,store,online"},
                query="domain=example&tlds=com,store,online")
    assert result == [{"domain": "exampleco.store", "price": Money(100, "USD"),
                       "renewal_price": Money(9900, "USD")}]


@pytest.mark.parametrize(("tlds", "query"), [
    (("online", "shop"), "domain=example&tlds=online,shop"),  # the default
    (None, "domain=example"),
    ((), "domain=example"),
])
def test_suggestions_tld_defaults(tlds, query):
    harness = make_harness(respond(200, {"suggestions": []}))
    if tlds == ("online", "shop"):
        assert harness.provider.suggestions("example") == []
    else:
        assert harness.provider.suggestions("example", tlds=tlds) == []
    assert_sent(harness.upstream.only, "GET", "/domains/suggestions", query=query,
                params=dict(part.split("=") for part in query.split("&")))


# --- Domains: management ------------------------------------------------------------------

LIST_ITEM_FIELDS = {
    "name": "domainname.com", "status": RegistrationStatus.ACTIVE, "auto_renew": True,
    "privacy_protect": False, "locked": False,
    "upstream_created_at": utc(2025, 9, 7, 23, 22, 42, 661936),
    "upstream_updated_at": utc(2025, 9, 7, 23, 22, 42, 661936),
}


def test_list_domains_as_in_the_document():
    harness = make_harness(respond(200, DOMAIN_LIST))
    page = harness.provider.list_domains(page=0, size=10, status="registered")
    assert_sent(harness.upstream.only, "GET", "/domains",
                params={"page": "0", "size": "10", "status": "registered"})
    assert page == Page(items=[LIST_ITEM_FIELDS], page=0, next_page=1, total=100)


def test_list_domains_with_every_filter():
    harness = make_harness(respond(200, {**DOMAIN_LIST, "page": 2, "nextPage": None}))
    page = harness.provider.list_domains(page=2, size=50, status="transfer_ack",
                                         domain="domainname", from_date=date(2025, 1, 1),
                                         to_date="2025-12-31")
    assert_sent(harness.upstream.only, "GET", "/domains", params={
        "page": "2", "size": "50", "status": "transfer_ack", "domain": "domainname",
        "from_date": "2025-01-01", "to_date": "2025-12-31"})
    assert page.next_page is None and page.page == 2


@pytest.mark.parametrize("kwargs", [
    {"status": "active"}, {"page": -1}, {"size": 0}, {"from_date": "01/02/2025"},
    {"to_date": "yesterday"},
])
def test_list_arguments_are_refused_before_any_request(kwargs):
    harness = make_harness()
    with pytest.raises(CallerError):
        harness.provider.list_domains(**kwargs)
    with pytest.raises(CallerError):
        harness.provider.list_orders(**kwargs)
    assert harness.upstream.requests == []


def test_iter_domains_follows_next_page():
    pages = [
        {**DOMAIN_LIST, "page": 0, "nextPage": 1},
        {**DOMAIN_LIST, "items": [{**DOMAIN_LIST_ITEM, "domainName": "two.com"}], "page": 1,
         "nextPage": 2},
        {**DOMAIN_LIST, "items": [], "page": 2, "nextPage": None},
    ]
    harness = make_harness(*(respond(200, p) for p in pages))
    names = [fields["name"] for fields in harness.provider.iter_domains(status="registered")]
    assert names == ["domainname.com", "two.com"]
    for number, request in enumerate(harness.upstream.api_requests):
        assert_sent(request, "GET", "/domains",
                    params={"page": str(number), "size": "100", "status": "registered"})
    assert len(harness.upstream.token_requests) == 1


def test_iter_domains_refuses_paging_that_goes_backwards():
    harness = make_harness(respond(200, {**DOMAIN_LIST, "nextPage": 0}))
    with pytest.raises(MalformedResponse):
        list(harness.provider.iter_domains())


def test_iter_refuses_bad_arguments_at_once():
    harness = make_harness()
    with pytest.raises(CallerError):
        harness.provider.iter_domains(status="nope")
    with pytest.raises(CallerError):
        harness.provider.iter_orders(size=0)
    assert harness.upstream.requests == []


def test_get_domain():
    harness = make_harness(respond(200, SINGLE_DOMAIN))
    fields = harness.provider.get_domain("SampleDomain.com")
    assert_sent(harness.upstream.only, "GET", "/domains/sampledomain.com")
    assert fields == {
        "name": "sampledomain.com", "status": RegistrationStatus.PENDING, "auto_renew": True,
        "privacy_protect": False, "locked": False,
        "upstream_created_at": utc(2025, 11, 24, 2, 33, 5, 918266),
        "upstream_updated_at": utc(2025, 11, 24, 2, 33, 5, 918266),
    }


def test_a_name_that_is_not_a_domain_is_refused_before_any_request():
    harness = make_harness()
    for bad in ("", "no spaces.com", "../orders", "localhost"):
        with pytest.raises(CallerError):
            harness.provider.get_domain(bad)
    assert harness.upstream.requests == []


@pytest.mark.parametrize(("auto_renew", "period"), [(True, 12), (False, 24)])
def test_set_auto_renew(auto_renew, period):
    message = {"message": "Domain auto-renewal updated successfully"}
    harness = make_harness(respond(200, message))
    result = harness.provider.set_auto_renew("mydomain.com", auto_renew, period=period)
    assert_sent(harness.upstream.only, "PUT", "/domains/mydomain.com/auto-renew",
                body={"autoRenew": auto_renew, "period": period})
    assert result == Done(changes={"auto_renew": auto_renew}, body=message)


def test_set_auto_renew_default_period_is_the_documents():
    harness = make_harness(respond(200, {"message": "ok"}))
    harness.provider.set_auto_renew("mydomain.com", True)
    assert_sent(harness.upstream.only, "PUT", "/domains/mydomain.com/auto-renew",
                body={"autoRenew": True, "period": 12})


def test_resend_holder_verification():
    harness = make_harness(respond(200, {"message": "Verification email has been resent"}))
    assert harness.provider.resend_holder_verification("mydomain.com") == (
        "Verification email has been resent")
    assert_sent(harness.upstream.only, "POST", "/domains/mydomain.com/resend-verification")


def test_get_dns_records():
    records = [{"host": "@", "type": "A", "value": "192.168.1.1", "ttl": 3600}]
    harness = make_harness(respond(200, records))
    assert harness.provider.get_dns_records("mydomain.com") == records
    assert_sent(harness.upstream.only, "GET", "/domains/mydomain.com/dns-records")


def test_replace_dns_records_sends_the_documents_body():
    harness = make_harness(respond(200, {"message": "DNS records updated successfully"}))
    message = harness.provider.replace_dns_records("mydomain.com",
                                                   DNS_RECORDS_UPDATE["dns_records"])
    assert message == "DNS records updated successfully"
    assert_sent(harness.upstream.only, "PUT", "/domains/mydomain.com/dns-records",
                body=DNS_RECORDS_UPDATE)


def test_replace_dns_records_validates_before_any_request():
    harness = make_harness()
    with pytest.raises(ValidationError):
        harness.provider.replace_dns_records("mydomain.com", [
            {"host": "www", "type": "CNAME", "value": "192.0.2.1", "ttl": 300}])
    assert harness.upstream.requests == []


def test_transfer_in_sends_the_documents_body():
    harness = make_harness(respond(200, {"domain": "foo.com", "transferId": "{TRANSFER_ID}",
                                         "transferStatus": "transfer_started",
                                         "transferType": "transfer_in"}))
    result = harness.provider.transfer_in("foo.com", authorization_code="{AUTHORIZATION CODE}",
                                          contact=TRANSFER_CONTACT)
    assert_sent(harness.upstream.only, "POST", "/domains/foo.com/transfers/in",
                body={"domain": "foo.com", "authorizationCode": "{AUTHORIZATION CODE}",
                      "contactDetails": TRANSFER_CONTACT})
    assert result == TransferInfo(domain="foo.com", transfer_id="{TRANSFER_ID}",
                                  status=OrderStatus.TRANSFER_STARTED,
                                  transfer_type="transfer_in")


@pytest.mark.parametrize("code", ["", "   ", None])
def test_transfer_in_without_a_code_is_refused_before_any_request(code):
    harness = make_harness()
    with pytest.raises(CallerError):
        harness.provider.transfer_in("foo.com", authorization_code=code,
                                     contact=TRANSFER_CONTACT)
    assert harness.upstream.requests == []


def test_transfer_in_without_a_contact_is_refused_before_any_request():
    harness = make_harness()
    with pytest.raises(CallerError):
        harness.provider.transfer_in("foo.com", authorization_code=AUTH_CODE, contact={})
    assert harness.upstream.requests == []


def test_transfer_out_returns_the_auth_code_but_keeps_it_out_of_the_repr():
    harness = make_harness(respond(200, {"domain": "foo.com", "authCode": AUTH_CODE,
                                         "transferStatus": "transfer_started",
                                         "transferType": "transfer_out"}))
    result = harness.provider.transfer_out("foo.com")
    assert_sent(harness.upstream.only, "POST", "/domains/foo.com/transfers/out",
                body={"domain": "foo.com"})
    assert result == TransferInfo(domain="foo.com", transfer_id="",
                                  status=OrderStatus.TRANSFER_STARTED,
                                  transfer_type="transfer_out", auth_code=AUTH_CODE)
    assert AUTH_CODE not in repr(result)


# --- Orders -------------------------------------------------------------------------------


def test_validate_contact():
    harness = make_harness(respond(200, {
        "message": "Whois contact validated and successfully created",
        "content": VALIDATED_CONTACT_CONTENT}))
    result = harness.provider.validate_contact(VALIDATE_CONTACT)
    assert_sent(harness.upstream.only, "POST", "/domains/contacts/validate",
                body=VALIDATE_CONTACT)
    assert result == ContactValidation(
        message="Whois contact validated and successfully created", upstream_id="24047757",
        contact=VALIDATED_CONTACT_CONTENT)


LISTED_ORDER_FIELDS = {
    "upstream_id": "5cf0cd4a-6a9f-4b53-8b11-7fe2a89e75df", "status": OrderStatus.REGISTERED,
    "kind": OrderKind.REGISTRATION, "domain": "foo.com", "currency": "USD",
    "customer_reference": "",
    "items": [{"upstream_id": "fe5624c3-d18d-4144-b1ab-5ef4711317e5", "description": "foo.com",
               "domain": "foo.com", "quantity": 1, "details": {"status": "registered"}}],
}


def test_list_orders_as_in_the_document():
    harness = make_harness(respond(200, ORDER_LIST))
    page = harness.provider.list_orders()
    assert_sent(harness.upstream.only, "GET", "/orders", params={"page": "0", "size": "10"},
                query="page=0&size=10")
    assert page == Page(items=[LISTED_ORDER_FIELDS], page=0, next_page=1, total=100)


def test_iter_orders_follows_next_page():
    harness = make_harness(respond(200, ORDER_LIST),
                           respond(200, {**ORDER_LIST, "page": 1, "nextPage": None}))
    orders = list(harness.provider.iter_orders(size=25, domain="foo.com"))
    assert orders == [LISTED_ORDER_FIELDS, LISTED_ORDER_FIELDS]
    for number, request in enumerate(harness.upstream.api_requests):
        assert_sent(request, "GET", "/orders",
                    params={"page": str(number), "size": "25", "domain": "foo.com"})


PLACED_ORDER_FIELDS = {
    "upstream_id": "21b363fb-c8c0-427e-8d2d-91658f806471",
    "status": OrderStatus.REGISTRATION_IN_PROGRESS, "kind": OrderKind.REGISTRATION,
    "domain": "example.com", "currency": "USD", "customer_reference": "",
    "placed_at": utc(2026, 3, 3, 12, 27, 19, 751544),
    "subtotal_minor": 1900, "fees_minor": 0, "total_minor": 1900, "years": 1,
    "items": [{"upstream_id": "", "description": "example.com", "domain": "example.com",
               "quantity": 1, "unit_amount_minor": 1900, "total_minor": 1900,
               "details": {"renewal_price_minor": 2400, "billing_period_years": 1}}],
}


def test_place_order_sends_the_documents_body():
    harness = make_harness(respond(201, PLACED_ORDER))
    result = harness.provider.place_order(
        domain="example.com", email="customer@example.com",
        user_id="ca8d6947-6232-44f7-af37-6501edad00aa", contact=ORDER_CONTACT,
        default_dns_records=[{"host": "@", "type": "A", "value": "192.168.1.1"}])
    assert_sent(harness.upstream.only, "POST", "/orders", body=PLACE_ORDER_BODY)
    assert result == PLACED_ORDER_FIELDS


def test_place_order_without_a_contact_is_refused_before_any_request_when_not_lightning():
    harness = make_harness(options={"lightning_mode": False})
    for contact in (None, {}):
        with pytest.raises(CallerError, match="lightning mode"):
            harness.provider.place_order(domain="example.com", email="customer@example.com",
                                         contact=contact)
    assert harness.upstream.requests == []


def test_place_order_in_lightning_mode_sends_no_contact():
    harness = make_harness(respond(201, PLACED_ORDER), options={"lightning_mode": True})
    harness.provider.place_order(domain="example.com", email="customer@example.com",
                                 contact=ORDER_CONTACT)
    harness.provider.place_order(domain="example.com", email="customer@example.com")
    for request in harness.upstream.api_requests:
        assert_sent(request, "POST", "/orders",
                    body={"domain": "example.com", "email": "customer@example.com"})


def test_place_order_refuses_bad_input_before_any_request():
    harness = make_harness()
    with pytest.raises(CallerError):
        harness.provider.place_order(domain="example.com", email="not-an-email",
                                     contact=ORDER_CONTACT)
    with pytest.raises(ValidationError):
        harness.provider.place_order(domain="example.com", email="customer@example.com",
                                     contact=ORDER_CONTACT, default_dns_records=[
                                         {"host": "@", "type": "A", "value": "::1"}])
    assert harness.upstream.requests == []


def test_a_placed_order_is_not_repeated_on_a_502():
    harness = make_harness(respond(502, {"message": "bad gateway"}))
    with pytest.raises(UpstreamFailure):
        harness.provider.place_order(domain="example.com", email="customer@example.com",
                                     contact=ORDER_CONTACT)
    assert len(harness.upstream.api_requests) == 1
    assert harness.sleeps == []


def test_get_order():
    harness = make_harness(respond(200, SINGLE_ORDER))
    fields = harness.provider.get_order(ORDER_ID.upper())
    assert_sent(harness.upstream.only, "GET", f"/orders/{ORDER_ID}")
    assert fields == {**LISTED_ORDER_FIELDS, "upstream_id": ORDER_ID, "items": [
        {**LISTED_ORDER_FIELDS["items"][0],
         "upstream_id": "5ea01588-509f-4245-bbe9-6f37c3047f0c"}]}


def test_order_status():
    harness = make_harness(respond(200, {"status": "registered"}))
    assert harness.provider.order_status(ORDER_ID) is OrderStatus.REGISTERED
    assert_sent(harness.upstream.only, "GET", f"/orders/{ORDER_ID}/status")


def test_an_order_id_that_is_not_a_uuid_is_refused_before_any_request():
    harness = make_harness()
    for bad in ("", "../domains", "42"):
        with pytest.raises(CallerError):
            harness.provider.get_order(bad)
        with pytest.raises(CallerError):
            harness.provider.order_status(bad)
    assert harness.upstream.requests == []


# --- Billing ------------------------------------------------------------------------------


def test_billing_link_as_in_the_document():
    url = "https://billing.stripe.com/p/session/abc123"
    harness = make_harness(respond(200, {"url": url}))
    assert harness.provider.billing_link(email="akhil@goentri.com",
                                         return_url="https://www.entri.com") == url
    assert_sent(harness.upstream.only, "GET", "/billing/link",
                params={"email": "akhil@goentri.com", "returnUrl": "https://www.entri.com"},
                query="email=akhil%40goentri.com&returnUrl=https%3A%2F%2Fwww.entri.com")


def test_billing_link_refuses_bad_input_and_non_https_answers():
    harness = make_harness(respond(200, {"url": "javascript:alert(1)"}))
    with pytest.raises(CallerError):
        harness.provider.billing_link(email="akhil@goentri.com", return_url="/relative")
    with pytest.raises(CallerError):
        harness.provider.billing_link(email="nope", return_url="https://www.entri.com")
    assert harness.upstream.requests == []
    with pytest.raises(MalformedResponse):
        harness.provider.billing_link(email="akhil@goentri.com",
                                      return_url="https://www.entri.com")


# --- Parsing ------------------------------------------------------------------------------


def test_entri_statuses_are_our_order_statuses():
    assert set(ENTRI_STATUSES) <= set(OrderStatus.values)
    assert set(ORDER_STATUS) == set(ENTRI_STATUSES)
    for entri_status, ours in ORDER_STATUS.items():
        assert isinstance(ours, OrderStatus)
        assert ours == entri_status


def test_entri_statuses_as_registration_statuses():
    assert set(REGISTRATION_STATUS) == set(ENTRI_STATUSES)
    assert {s: str(v) for s, v in REGISTRATION_STATUS.items()} == {
        "registered": "active", "transferred": "active", "transfer_success": "active",
        "transfer_completed": "active",
        "payment_initiated": "pending", "payment_successful": "pending",
        "registration_in_progress": "pending",
        "transfer_started": "pending_transfer", "transfer_ack": "pending_transfer",
        "payment_failed": "cancelled", "transfer_failed": "cancelled",
    }
    assert set(REGISTRATION_STATUS.values()) <= set(RegistrationStatus)


def test_parse_domain_leaves_out_flags_the_answer_does_not_have():
    fields = parse_domain({"domainName": "Bücher.DE", "status": "transfer_started"})
    assert fields == {"name": "xn--bcher-kva.de", "status": RegistrationStatus.PENDING_TRANSFER,
                      "upstream_created_at": None, "upstream_updated_at": None}


def test_parse_domain_keeps_an_explicit_offset():
    fields = parse_domain({**SINGLE_DOMAIN, "createdAt": "2025-12-17T14:06:31.000+0100"})
    assert fields["upstream_created_at"] == utc(2025, 12, 17, 13, 6, 31)


def test_parse_order_of_a_transfer_and_another_currency():
    fields = parse_order({"orderId": "o-1", "status": "transfer_ack", "domain": "foo.com",
                          "pricing": {"purchasePrice": "8.50", "currency": "eur"}})
    assert fields["kind"] == OrderKind.TRANSFER_IN
    assert fields["status"] == OrderStatus.TRANSFER_ACK
    assert (fields["currency"], fields["total_minor"]) == ("EUR", 850)
    assert fields["items"][0]["details"] == {"renewal_price_minor": None}


@pytest.mark.parametrize(("value", "minor"), [
    (12.99, 1299), (14.99, 1499), (19, 1900), (0.29, 29), (1.1, 110), ("0.10", 10),
    (0, 0), (1e2, 10000), (99999999.99, 9999999999),
])
def test_prices_become_minor_units_exactly(value, minor):
    assert to_minor_units(value) == minor
    assert type(to_minor_units(value)) is int


@pytest.mark.parametrize("value", [1.005, -1, True, None, "abc", "NaN", float("inf"), [1]])
def test_prices_that_are_not_cents_are_refused(value):
    with pytest.raises((TypeError, ValueError)):
        to_minor_units(value)


@pytest.mark.parametrize(("method", "args", "body"), [
    ("check_availability", ("example.com",), {"domain": "example.com",
                                              "availability": "AVAILABLE", "price": 12.999}),
    ("check_availability", ("example.com",), []),
    ("get_domain", ("sampledomain.com",), {**SINGLE_DOMAIN, "status": "parked"}),
    ("get_domain", ("sampledomain.com",), {**SINGLE_DOMAIN, "autoRenewed": "yes"}),
    ("get_domain", ("sampledomain.com",), {**SINGLE_DOMAIN, "createdAt": "yesterday"}),
    ("list_domains", (), {"items": {"not": "a list"}}),
    ("get_dns_records", ("mydomain.com",), {"host": "@"}),
    ("order_status", (ORDER_ID,), {"status": "shipped"}),
    ("get_order", (ORDER_ID,), {"orderStatus": "registered"}),
    ("suggestions", ("example",), {"suggestions": [{"domain": "not a name!"}]}),
])
def test_answers_of_the_wrong_shape_are_malformed_responses(method, args, body):
    harness = make_harness(respond(200, body))
    with pytest.raises(MalformedResponse):
        getattr(harness.provider, method)(*args)


# --- The JWT ------------------------------------------------------------------------------


def test_one_token_for_many_calls():
    harness = make_harness(respond(200, SINGLE_DOMAIN))
    for _ in range(5):
        harness.provider.get_domain("sampledomain.com")
    assert len(harness.upstream.token_requests) == 1
    assert_token_request(harness.upstream.token_requests[0])
    assert {r.headers["Authorization"] for r in harness.upstream.api_requests} == {
        f"Bearer {jwt(0)}"}


def test_the_token_is_shared_through_the_cache_by_other_workers():
    cache, clock = fresh_cache(), Clock()
    first = make_harness(respond(200, SINGLE_DOMAIN), cache=cache, clock=clock)
    second = make_harness(respond(200, SINGLE_DOMAIN), cache=cache, clock=clock)
    first.provider.get_domain("sampledomain.com")
    second.provider.get_domain("sampledomain.com")
    assert len(first.upstream.token_requests) == 1
    assert second.upstream.token_requests == []
    assert_sent(second.upstream.only, "GET", "/domains/sampledomain.com", token=jwt(0))


def test_the_cache_key_and_entry():
    harness = make_harness(respond(200, SINGLE_DOMAIN))
    harness.provider.get_domain("sampledomain.com")
    key = token_cache_key(BASE_URL, APP_ID)
    assert SECRET not in key and APP_ID not in key
    assert harness.cache.get(key) == {"token": jwt(0), "minted_at": T0}
    assert token_cache_key(BASE_URL, "other-app") != key
    assert token_cache_key("https://sandbox.goentri.test", APP_ID) != key


def test_the_token_is_refreshed_shortly_before_it_expires():
    harness = make_harness(respond(200, SINGLE_DOMAIN))
    harness.provider.get_domain("sampledomain.com")
    harness.clock.advance(54 * 60)
    harness.provider.get_domain("sampledomain.com")
    assert len(harness.upstream.token_requests) == 1
    harness.clock.advance(60 + 1)  # 55 minutes and a second after minting
    assert TOKEN_REUSE_SECONDS == 55 * 60
    harness.provider.get_domain("sampledomain.com")
    assert len(harness.upstream.token_requests) == 2
    assert harness.upstream.api_requests[-1].headers["Authorization"] == f"Bearer {jwt(1)}"
    assert harness.cache.get(harness.provider._cache_key)["minted_at"] == T0 + 55 * 60 + 1


def test_concurrent_threads_mint_once():
    upstream = Upstream(respond(200, SINGLE_DOMAIN), token_delay=0.05)
    harness = make_harness(upstream=upstream)
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def work() -> None:
        start.wait()
        try:
            harness.provider.get_domain("sampledomain.com")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == []
    assert len(upstream.token_requests) == 1
    assert len(upstream.api_requests) == 8


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_401_mints_once_more_and_retries_the_call_once(method):
    answers = (respond(401, {"message": "Token expired"}),
               respond(200, SINGLE_DOMAIN if method == "get" else {"message": "resent"}))
    harness = make_harness(*answers)
    if method == "get":
        assert harness.provider.get_domain("sampledomain.com")["name"] == "sampledomain.com"
        path, verb = "/domains/sampledomain.com", "GET"
    else:
        assert harness.provider.resend_holder_verification("sampledomain.com") == "resent"
        path, verb = "/domains/sampledomain.com/resend-verification", "POST"
    assert [r.url.path for r in harness.upstream.requests] == [
        "/token", PREFIX + path, "/token", PREFIX + path]
    first, second = harness.upstream.api_requests
    assert_sent(first, verb, path, token=jwt(0))
    assert_sent(second, verb, path, token=jwt(1))
    assert harness.cache.get(harness.provider._cache_key)["token"] == jwt(1)


def test_a_second_401_is_authentication_failed():
    harness = make_harness(respond(401, {"message": "Invalid token"}))
    with pytest.raises(AuthenticationFailed) as caught:
        harness.provider.get_domain("sampledomain.com")
    assert caught.value.status == 401
    assert len(harness.upstream.token_requests) == 2
    assert len(harness.upstream.api_requests) == 2


def test_after_a_401_a_token_another_worker_minted_is_used_instead_of_minting():
    holder: dict[str, Harness] = {}

    def refused_while_another_worker_reminted(request: httpx.Request) -> httpx.Response:
        harness = holder["harness"]
        harness.cache.set(harness.provider._cache_key,
                          {"token": "other-workers-jwt", "minted_at": harness.clock()})
        return httpx.Response(401, json={"message": "Token expired"})

    harness = make_harness(refused_while_another_worker_reminted,
                           respond(200, SINGLE_DOMAIN))
    holder["harness"] = harness
    harness.provider.get_domain("sampledomain.com")
    assert len(harness.upstream.token_requests) == 1
    assert_sent(harness.upstream.api_requests[1], "GET", "/domains/sampledomain.com",
                token="other-workers-jwt")


def test_a_refused_secret_is_authentication_failed_without_an_api_call():
    upstream = Upstream(token_answer=respond(401, {"message": "Invalid credentials"}))
    harness = make_harness(upstream=upstream)
    with pytest.raises(AuthenticationFailed):
        harness.provider.ping()
    assert len(upstream.token_requests) == 1
    assert upstream.api_requests == []


@pytest.mark.parametrize("answer", [
    respond(200, {}), respond(200, {"auth_token": ""}), respond(200, ["x"]),
    respond(200, {"auth_token": "two words"}), respond(200, text="<html>ok</html>"),
])
def test_a_token_answer_without_a_token_is_malformed(answer):
    harness = make_harness(upstream=Upstream(token_answer=answer))
    with pytest.raises(MalformedResponse):
        harness.provider.ping()
    assert harness.upstream.api_requests == []


# --- Secrets never logged ---------------------------------------------------------------

SECRETS = (SECRET, jwt(0), jwt(1), AUTH_CODE)


def assert_no_secret(caplog, *errors: BaseException) -> None:
    for record in caplog.records:
        text = record.getMessage() + repr(record.args) + str(record.exc_info or "")
        for secret in SECRETS:
            assert secret not in text, f"{record.name} logged a secret: {text!r}"
    for error in errors:
        rendered = f"{error} {error!r} {getattr(error, 'details', '')} {error.args}"
        for secret in SECRETS:
            assert secret not in rendered


def test_secrets_never_reach_the_log_or_an_exception(caplog):
    caplog.set_level(logging.DEBUG)
    echo_secret = Upstream(token_answer=respond(401, {"message": f"bad secret {SECRET}"}))
    harness = make_harness(upstream=echo_secret)
    with pytest.raises(AuthenticationFailed) as refused:
        harness.provider.ping()

    echo_jwt = make_harness(respond(500, {"message": f"cannot decode {jwt(0)}"}),
                            retry=NO_RETRY)
    with pytest.raises(UpstreamFailure) as failed:
        echo_jwt.provider.get_domain("sampledomain.com")

    echo_code = make_harness(respond(422, {"message": f"auth code {AUTH_CODE} is wrong"}))
    with pytest.raises(InvalidRequest) as invalid:
        echo_code.provider.transfer_in("foo.com", authorization_code=AUTH_CODE,
                                       contact=TRANSFER_CONTACT)

    second_401 = make_harness(respond(401, {"message": "no"}))
    with pytest.raises(AuthenticationFailed) as unauthorised:
        second_401.provider.get_domain("sampledomain.com")

    happy = make_harness(respond(200, {"domain": "foo.com", "authCode": AUTH_CODE,
                                       "transferStatus": "transfer_started",
                                       "transferType": "transfer_out"}))
    happy.provider.transfer_out("foo.com")

    assert_no_secret(caplog, refused.value, failed.value, invalid.value, unauthorised.value)
    # The error bodies were logged for diagnosis, with the secrets cut out.
    assert "bad secret [redacted]" in caplog.text
    assert "cannot decode [redacted]" in caplog.text
    assert "auth code [redacted] is wrong" in caplog.text
    assert failed.value.details["upstream_message"] == "cannot decode [redacted]"


# --- Error mapping ------------------------------------------------------------------------

HTML_502 = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


@pytest.mark.parametrize(("status", "error_class", "attempts"), [
    (400, BadRequest, 1), (401, AuthenticationFailed, 2), (402, PaymentRequiredError, 1),
    (403, PermissionDenied, 1), (404, NotFound, 1), (409, Conflict, 1),
    (422, InvalidRequest, 1), (429, RateLimited, 1), (500, UpstreamFailure, 1),
    (502, UpstreamFailure, DEFAULT_RETRY.attempts), (503, UpstreamFailure,
                                                     DEFAULT_RETRY.attempts),
])
def test_errors_map_by_status(status, error_class, attempts):
    upstream_message = f"Upstream says no ({status}), ref 7731"
    harness = make_harness(respond(status, {"message": upstream_message}))
    with pytest.raises(ProviderError) as caught:
        harness.provider.get_domain("sampledomain.com")
    error = caught.value
    assert type(error) is error_class
    assert error.status == status
    assert error.code == f"http_{status}"
    assert error.message == error_class.default_message
    assert upstream_message not in str(error)
    assert error.details["upstream_message"] == upstream_message
    assert error.retryable is (status >= 500 or status == 429)
    assert len(harness.upstream.api_requests) == attempts
    assert len(harness.sleeps) == (attempts - 1 if status >= 500 else 0)


def test_an_html_502_is_an_upstream_failure():
    harness = make_harness(respond(502, text=HTML_502, content_type="text/html"),
                           retry=NO_RETRY)
    with pytest.raises(UpstreamFailure) as caught:
        harness.provider.get_domain("sampledomain.com")
    assert caught.value.code == "http_502"
    assert caught.value.details["upstream_message"] == ""
    assert "nginx" not in str(caught.value)


def test_a_bodiless_404_is_not_found():
    harness = make_harness(respond(404))
    with pytest.raises(NotFound):
        harness.provider.get_domain("sampledomain.com")


# --- DNS record validation ----------------------------------------------------------------

GOOD_RECORDS = [
    {"host": "@", "type": "A", "value": "192.168.1.1", "ttl": 3600},
    {"host": "www", "type": "AAAA", "value": "2001:DB8:0:0::1", "ttl": 300},
    {"host": "WWW2", "type": "cname", "value": "Site.Example.NET", "ttl": "3600"},
    {"host": "@", "type": "MX", "value": "10 mail.example.com", "ttl": 86400},
    {"host": "@", "type": "TXT", "value": "v=spf1 include:_spf.example.com ~all", "ttl": 60},
    {"host": "sel._domainkey", "type": "TXT", "value": '"' + "a" * 255 + '" "' + "b" * 40 + '"'},
    {"host": "lab", "type": "NS", "value": "ns1.example.net.", "ttl": 3600},
    {"host": "_sip._tcp", "type": "SRV", "value": "10 5 5060 sip.example.com", "ttl": 3600},
    {"host": "@", "type": "CAA", "value": '0 issue "letsencrypt.org"', "ttl": 3600},
    {"host": "*.shop", "type": "A", "value": "203.0.113.7", "ttl": 600},
    {"host": "café", "type": "A", "value": "203.0.113.8", "ttl": 600},
]


def test_clean_dns_records_accepts_and_normalises_good_records():
    cleaned = clean_dns_records(copy.deepcopy(GOOD_RECORDS))
    assert cleaned[1]["value"] == "2001:db8::1"
    assert cleaned[2] == {"host": "www2", "type": "CNAME", "value": "site.example.net",
                          "ttl": 3600}
    assert cleaned[6]["value"] == "ns1.example.net."
    assert cleaned[10]["host"] == "xn--caf-dma"
    assert "ttl" not in cleaned[5]
    assert clean_dns_records(cleaned) == cleaned  # idempotent: services clean again


def test_clean_dns_records_accepts_the_documents_examples():
    records = DNS_RECORDS_UPDATE["dns_records"]
    assert clean_dns_records(records) == records
    assert clean_dns_records(PLACE_ORDER_BODY["defaultDnsRecords"]) == (
        PLACE_ORDER_BODY["defaultDnsRecords"])


def record(type_: str, value: Any, host: Any = "www", ttl: Any = 3600) -> dict[str, Any]:
    return {"host": host, "type": type_, "value": value, "ttl": ttl}


HOSTILE_RECORDS = {
    "cname to an ipv4": record("CNAME", "192.0.2.1"),
    "cname to an ipv6": record("CNAME", "2001:db8::1"),
    "cname to a bracketed ip": record("CNAME", "[::1]"),
    "cname at the apex": record("CNAME", "site.example.net", host="@"),
    "a with ipv6": record("A", "2001:db8::1"),
    "a with a name": record("A", "example.com"),
    "a with leading zeros": record("A", "010.0.0.1"),
    "a unspecified": record("A", "0.0.0.0"),  # noqa: S104 - a hostile value, not a bind
    "aaaa with ipv4": record("AAAA", "192.0.2.1"),
    "aaaa ipv4 mapped": record("AAAA", "::ffff:192.0.2.1"),
    "aaaa with a zone id": record("AAAA", "fe80::1%eth0"),
    "ttl zero": record("A", "192.0.2.1", ttl=0),
    "ttl 10**9": record("A", "192.0.2.1", ttl=10**9),
    "ttl below 60": record("A", "192.0.2.1", ttl=59),
    "ttl as float": record("A", "192.0.2.1", ttl=300.5),
    "ttl as bool": record("A", "192.0.2.1", ttl=True),
    "ttl as words": record("A", "192.0.2.1", ttl="an hour"),
    "ttl of 5000 digits": record("A", "192.0.2.1", ttl="9" * 5000),
    "unknown type": record("PTR", "example.com"),
    "type missing": {"host": "www", "value": "192.0.2.1", "ttl": 3600},
    "mx without priority": record("MX", "mail.example.com", host="@"),
    "mx priority too high": record("MX", "70000 mail.example.com", host="@"),
    "mx to an ip": record("MX", "10 192.0.2.25", host="@"),
    "mx with unicode digits": record("MX", "²0 mail.example.com", host="@"),
    "empty value": record("A", ""),
    "blank value": record("TXT", "   "),
    "value not a string": record("A", 3232235777),
    "newline in value": record("TXT", "v=spf1\nevil"),
    "nul in value": record("TXT", "abc\x00def"),
    "txt string too long": record("TXT", "a" * 256),
    "txt quoted string too long": record("TXT", '"' + "a" * 256 + '"'),
    "txt unbalanced quotes": record("TXT", '"abc'),
    "txt non-ascii over 255 bytes": record("TXT", "é" * 128),
    "host with a space": record("A", "192.0.2.1", host="w w"),
    "host absolute": record("A", "192.0.2.1", host="www.example.com."),
    "host empty": record("A", "192.0.2.1", host=""),
    "host wildcard inside": record("A", "192.0.2.1", host="www.*"),
    "host path": record("A", "192.0.2.1", host="../admin"),
    "host with at inside": record("A", "192.0.2.1", host="@.www"),
    "cname target with a port": record("CNAME", "site.example.net:443"),
    "cname target single label": record("CNAME", "localhost"),
    "cname target numeric tld": record("CNAME", "host.123"),
    "ns at the apex": record("NS", "ns1.example.net", host="@"),
    "srv without service labels": record("SRV", "10 5 5060 sip.example.com", host="sip"),
    "srv missing port": record("SRV", "10 5 sip.example.com", host="_sip._tcp"),
    "caa flags too big": record("CAA", '256 issue "letsencrypt.org"', host="@"),
    "caa without value": record("CAA", "0 issue", host="@"),
    "unknown field": {**record("A", "192.0.2.1"), "priority": 10},
    "not an object": "www A 192.0.2.1 3600",
}


@pytest.mark.parametrize("hostile", HOSTILE_RECORDS.values(), ids=HOSTILE_RECORDS.keys())
def test_clean_dns_records_rejects_hostile_records(hostile):
    with pytest.raises(ValidationError) as caught:
        clean_dns_records([{"host": "ok", "type": "A", "value": "192.0.2.9", "ttl": 300},
                           hostile])
    assert caught.value.messages
    assert all(message.startswith("Record 2: ") for message in caught.value.messages)


@pytest.mark.parametrize("records", ["www A 192.0.2.1", {"host": "www"}, 42, None,
                                     [record("A", "192.0.2.1")] * 501])
def test_clean_dns_records_wants_a_list(records):
    with pytest.raises(ValidationError):
        clean_dns_records(records)


def test_clean_dns_records_reports_every_problem_and_conflicts():
    with pytest.raises(ValidationError) as caught:
        clean_dns_records([record("A", "::1"), record("AAAA", "192.0.2.1")])
    assert [m[:9] for m in caught.value.messages] == ["Record 1:", "Record 2:"]
    with pytest.raises(ValidationError, match="CNAME"):
        clean_dns_records([record("CNAME", "a.example.net"), record("A", "192.0.2.1")])
    with pytest.raises(ValidationError, match="twice"):
        clean_dns_records([record("A", "192.0.2.1"), record("A", "192.0.2.1", ttl=60)])
