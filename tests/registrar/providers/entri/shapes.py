"""Document 000 as the tests see it: its example bodies, the exact-request assertions,
and `entri_provider()`, which builds the adapter on a FakeEntri (tests.fakes.entri) at
the HTTP boundary, with a private token cache, an injected clock and recorded sleeps."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from django.core.cache.backends.locmem import LocMemCache

from registrar.providers.entri.adapter import EntriProvider
from registrar.providers.http import DEFAULT_RETRY
from tests.fakes.entri import PREFIX, FakeEntri, jwt
from tests.fakes.http import NO_BODY, assert_body

BASE_URL = "https://api.goentri.com"
HOST = "api.goentri.com"
APP_ID = "acme-backoffice"
SECRET = "entri-secret-Zq81-do-not-leak"
AUTH_CODE = "EPP-authcode-9#xK!"
USER_AGENT = "registrar-backoffice/test"
T0 = 1_750_000_000.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def fresh_cache() -> LocMemCache:
    return LocMemCache(f"entri-test-{uuid.uuid4()}", {})


def entri_provider(fake: FakeEntri, *, cache: LocMemCache | None = None,
                   clock: Clock | None = None, sleeps: list[float] | None = None,
                   **kwargs: Any) -> EntriProvider:
    """The adapter for application APP_ID, talking to `fake`."""
    kwargs.setdefault("retry", DEFAULT_RETRY)
    kwargs.setdefault("token", SECRET)
    return EntriProvider(
        base_url=BASE_URL, account_ref=APP_ID, user_agent=USER_AGENT, label="entri-test",
        transport=fake.transport(), sleep=(sleeps if sleeps is not None else []).append,
        clock=clock or Clock(), cache=cache if cache is not None else fresh_cache(),
        **kwargs)




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
    assert headers["Authorization"] == f"Bearer {token or jwt(1)}"
    assert headers["applicationId"] == APP_ID
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"] == USER_AGENT
    assert_body(request, body)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


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
DNS_RECORDS = [{"host": "@", "type": "A", "value": "192.168.1.1", "ttl": 3600}]
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
