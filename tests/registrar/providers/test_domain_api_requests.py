"""What DomainApiProvider sends for every endpoint of document 001, and what it makes
of the answers.

Only the HTTP boundary is fake: an `httpx.MockTransport` whose handler records every
request and answers from a script. The helpers at the top are shared with
test_domain_api_errors.py and test_http_retry.py.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from registrar.providers.base import (
    AuthcodeUnavailable,
    Capability,
    Done,
    MalformedResponse,
    Money,
    PaymentRequired,
    Pending,
    ProcessInfo,
    Provider,
    UpstreamFailure,
)
from registrar.providers.domain_api import (
    ContactRecord,
    ContactUpdate,
    DnssecKeyData,
    DomainApiProvider,
    OrderAccepted,
    ProcessView,
    RegistrationRecord,
    RegistrationView,
    RoleContactSource,
)

# --- Shared helpers --------------------------------------------------------------------

BASE_URL = "https://api.example.test"
TOKEN = "tok-123"
ACCOUNT_REF = "acct-9"
GUID = "7d9c2b1e-4f3a-4c5d-9e8f-0a1b2c3d4e5f"
OTHER_GUID = "0b5e8f2a-1c3d-4e5f-8a9b-c0d1e2f3a4b5"
REQUEST_ID = "req-0001"

Answer = Callable[[httpx.Request], httpx.Response]


def respond(
    status: int = 200,
    body: Any = None,
    *,
    text: str | None = None,
    content_type: str | None = None,
    request_id: str = REQUEST_ID,
) -> Answer:
    """An answer the handler builds afresh for every request: a JSON `body`, or raw
    `text` (with `content_type`), or nothing at all."""

    def answer(request: httpx.Request) -> httpx.Response:
        headers = {"X-Request-Id": request_id} if request_id else {}
        if text is not None:
            headers["Content-Type"] = content_type or "text/plain; charset=utf-8"
            return httpx.Response(status, text=text, headers=headers)
        if body is None:
            return httpx.Response(status, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return answer


def fail_with(exc_type: type[httpx.TransportError], message: str = "boom") -> Answer:
    """An answer that never comes: the transport raises `exc_type`."""

    def answer(request: httpx.Request) -> httpx.Response:
        raise exc_type(message, request=request)

    return answer


class Recorder:
    """The MockTransport handler: records each request, answers with the next scripted
    answer; the last answer repeats for any further request."""

    def __init__(self, *answers: Answer) -> None:
        assert answers, "script at least one answer"
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        index = min(len(self.requests), len(self.answers)) - 1
        return self.answers[index](request)

    @property
    def count(self) -> int:
        return len(self.requests)

    @property
    def only(self) -> httpx.Request:
        assert len(self.requests) == 1, f"expected one request, got {len(self.requests)}"
        return self.requests[0]


@dataclass
class Harness:
    provider: DomainApiProvider
    recorder: Recorder
    sleeps: list[float] = field(default_factory=list)


def make_harness(*answers: Answer, **provider_kwargs: Any) -> Harness:
    """A DomainApiProvider wired to a recording MockTransport; sleeps are recorded."""
    recorder = Recorder(*answers)
    sleeps: list[float] = []
    provider = DomainApiProvider(
        base_url=BASE_URL,
        token=TOKEN,
        account_ref=ACCOUNT_REF,
        transport=httpx.MockTransport(recorder),
        sleep=sleeps.append,
        **provider_kwargs,
    )
    return Harness(provider, recorder, sleeps)


NO_BODY = object()


def assert_sent(
    request: httpx.Request,
    method: str,
    raw_path: str,
    *,
    params: dict[str, str] | None = None,
    body: Any = NO_BODY,
    idempotency_key: str | None = None,
) -> None:
    """The exact request that left: method, URL-quoted path, query, headers, JSON body."""
    assert request.method == method
    assert request.url.scheme == "https"
    assert request.url.host == "api.example.test"
    path, _, _ = request.url.raw_path.decode("ascii").partition("?")
    assert path == raw_path
    assert sorted(request.url.params.multi_items()) == sorted((params or {}).items())

    headers = request.headers
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["X-Auth-Account"] == ACCOUNT_REF
    assert headers["Accept"] == "application/json"
    assert headers.get("User-Agent"), "a User-Agent must be sent"
    assert not headers["User-Agent"].startswith("python-httpx")
    if idempotency_key is None:
        assert "Idempotency-Key" not in headers
    else:
        assert headers["Idempotency-Key"] == idempotency_key

    if body is NO_BODY:
        assert request.content == b""
        assert "Content-Type" not in headers
    else:
        assert headers["Content-Type"] == "application/json"
        assert json.loads(request.content) == body


# --- Upstream shapes (document 001) and what the adapter makes of them --------------


def contact_payload(contact_id: int = 501, **overrides: Any) -> dict[str, Any]:
    return {
        "id": contact_id,
        "handle": f"C{contact_id}-RTR",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "organization": "Analytical Engines Ltd",
        "street_address": "12 Byron Street",
        "post_code": "EC1A 1BB",
        "city": "London",
        "state": None,
        "country": "GB",
        "email": "ada@example.org",
        "phone": "+44.2071234567",
        "extra_properties": {"uk_contact_type": "LTD"},
        "validations": [{"field": "email", "status": "validated"}],
        "split_from_id": None,
        "created_at": "2024-02-01T09:30:00Z",
        "updated_at": "2025-06-10T17:45:12+02:00",
        **overrides,
    }


def contact_fields(contact_id: int = 501, **overrides: Any) -> dict[str, Any]:
    """What parse_contact makes of contact_payload(contact_id)."""
    return {
        "upstream_id": contact_id,
        "handle": f"C{contact_id}-RTR",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "organization": "Analytical Engines Ltd",
        "street_address": "12 Byron Street",
        "post_code": "EC1A 1BB",
        "city": "London",
        "state": "",
        "country": "GB",
        "email": "ada@example.org",
        "phone": "+44.2071234567",
        "extra_properties": {"uk_contact_type": "LTD"},
        "validations": [{"field": "email", "status": "validated"}],
        "upstream_created_at": datetime(2024, 2, 1, 9, 30, tzinfo=UTC),
        "upstream_updated_at": datetime(2025, 6, 10, 17, 45, 12,
                                        tzinfo=timezone(timedelta(hours=2))),
        **overrides,
    }


def registration_payload(**overrides: Any) -> dict[str, Any]:
    return {
        "id": GUID,
        "name": "example.co.uk",
        "status": "active",
        "expires_at": "2026-03-14T12:00:00Z",
        "auto_renew": True,
        "locked": True,
        "privacy_protect": False,
        "dnssec_enabled": False,
        "server_transfer_prohibited": False,
        "local_contact_active": False,
        "cancellation_deadline_at": "2025-03-19T12:00:00+00:00",
        "within_cancellation_window": False,
        "nameservers": ["ns1.example.net", "ns2.example.net"],
        "tld": {"id": 44, "name": "co.uk", "registrar": "realtime_register"},
        "owner_contact": contact_payload(501),
        "admin_contact": contact_payload(502, first_name="Grace"),
        "tech_contact": None,
        "billing_contact": contact_payload(501),
        "pending_async": False,
        "rtr_process_id": "880000",
        "rtr_process_status": "COMPLETED",
        "transfer_out_pending": False,
        "push_transfer_pending": False,
        "subscription_id": "sub_9Kx2",
        "feature_flags": {
            "supports_privacy": True,
            "supports_transfer_lock": True,
            "supports_push_transfer": False,
            "supports_dnssec": True,
            "requires_contact_validation": False,
            "authcode_behavior": "api",
        },
        "fees": {
            "privacy_enable": {"amount_cents": 1200, "currency": "usd"},
            "registrant_change": None,
        },
        "created_at": "2023-03-14T12:00:00Z",
        "updated_at": "2025-06-01T08:00:00Z",
        **overrides,
    }


def registration_fields(**overrides: Any) -> dict[str, Any]:
    """What parse_registration makes of registration_payload() (scalar mirror fields)."""
    return {
        "upstream_id": GUID,
        "name": "example.co.uk",
        "status": "active",
        "auto_renew": True,
        "locked": True,
        "privacy_protect": False,
        "dnssec_enabled": False,
        "server_transfer_prohibited": False,
        "local_contact_active": False,
        "within_cancellation_window": False,
        "pending_async": False,
        "transfer_out_pending": False,
        "push_transfer_pending": False,
        "expires_at": datetime(2026, 3, 14, 12, 0, tzinfo=UTC),
        "cancellation_deadline_at": datetime(2025, 3, 19, 12, 0, tzinfo=UTC),
        "nameservers": ["ns1.example.net", "ns2.example.net"],
        "rtr_process_id": "880000",
        "rtr_process_status": "COMPLETED",
        "subscription_id": "sub_9Kx2",
        "upstream_created_at": datetime(2023, 3, 14, 12, 0, tzinfo=UTC),
        "upstream_updated_at": datetime(2025, 6, 1, 8, 0, tzinfo=UTC),
        **overrides,
    }


def process_payload(process_id: int = 880001, **overrides: Any) -> dict[str, Any]:
    return {
        "id": process_id,
        "action": "update_nameservers",
        "status": "RUNNING",
        "createdDate": "2025-06-01T08:00:00Z",
        "updatedDate": "2025-06-01T08:00:05Z",
        "registration_id": GUID,
        **overrides,
    }


def order_payload(order_id: int = 9001, **overrides: Any) -> dict[str, Any]:
    return {
        "id": order_id,
        "status": "processing",
        "total": {"amount_cents": 1099, "currency": "USD"},
        "line_items": [{"product": "domain_registrant_change", "domain": "example.com"}],
        **overrides,
    }


def registration_path(suffix: str = "", guid: str = GUID) -> str:
    return f"/api/domain_registrations/{guid}{suffix}"


def assert_aware(value: datetime | None) -> None:
    assert isinstance(value, datetime)
    assert value.tzinfo is not None and value.utcoffset() is not None


# --- Coverage guard --------------------------------------------------------------------

COVERED_METHODS = {
    "ping",  # close() comes from HttpProvider
    "list_contacts", "get_contact", "create_contact", "update_contact", "delete_contact",
    "resend_contact_verification",
    "list_registrations", "iter_registrations", "get_registration", "check_availability",
    "suggestions",
    "set_auto_renew", "set_nameservers", "set_lock", "set_privacy", "set_dnssec",
    "update_holder", "order_registrant_change", "set_role_contacts", "get_auth_code",
    "force_sync", "decide_transfer_out", "push_transfer", "resend_holder_verification",
    "list_hosts", "create_host", "update_host", "delete_host",
    "list_processes", "get_process", "resend_process", "cancel_process",
    "place_domain_order", "get_order",
}


def test_every_public_method_of_the_adapter_has_request_tests():
    public = {
        name for name, member in vars(DomainApiProvider).items()
        if not name.startswith("_") and inspect.isfunction(member)
    }
    assert public == COVERED_METHODS, (
        "a public adapter method was added or removed: give it request tests here"
    )


def test_capabilities_cover_every_endpoint_family():
    provider = make_harness(respond()).provider
    assert isinstance(provider, Provider)
    for capability in (Capability.LOCK, Capability.PRIVACY, Capability.DNSSEC,
                       Capability.HOSTS, Capability.PROCESSES, Capability.ORDERS,
                       Capability.AUTH_CODE, Capability.CONTACTS, Capability.AVAILABILITY):
        assert provider.supports(capability)
    assert not provider.supports(Capability.DNS_RECORDS)
    assert not provider.supports(Capability.BILLING_LINK)


def test_close_closes_the_client_without_a_request():
    harness = make_harness(respond())
    harness.provider.close()
    assert harness.recorder.count == 0
    assert harness.provider.http._client.is_closed


def test_ping_asks_for_one_registration():
    harness = make_harness(respond(200, {"domain_registrations": [registration_payload()],
                                         "meta": {"page": 1, "per_page": 1, "total": 7,
                                                  "next_page": 2}}))
    assert harness.provider.ping() is None
    assert_sent(harness.recorder.only, "GET", "/api/domain_registrations",
                params={"page": "1", "per_page": "1"})


# --- Contacts ------------------------------------------------------------------------


@pytest.mark.parametrize(("q", "params"), [(None, {}), ("Acme Ltd", {"q": "Acme Ltd"})])
def test_list_contacts(q, params):
    harness = make_harness(respond(200, {"domain_contacts": [
        contact_payload(501), contact_payload(502, first_name="Grace", split_from_id=501)]}))

    contacts = harness.provider.list_contacts(q)

    assert_sent(harness.recorder.only, "GET", "/api/domain_contacts", params=params)
    assert [type(c) for c in contacts] == [ContactRecord, ContactRecord]
    assert contacts[0].fields == contact_fields(501)
    assert contacts[0].upstream_id == 501
    assert contacts[0].split_from_upstream_id is None
    assert contacts[0].raw == contact_payload(501)
    assert contacts[1].fields == contact_fields(502, first_name="Grace")
    assert contacts[1].split_from_upstream_id == 501


def test_get_contact():
    harness = make_harness(respond(200, {"domain_contact": contact_payload(501), "split": None}))

    contact = harness.provider.get_contact(501)

    assert_sent(harness.recorder.only, "GET", "/api/domain_contacts/501")
    assert contact.fields == contact_fields(501)
    assert_aware(contact.fields["upstream_created_at"])
    assert_aware(contact.fields["upstream_updated_at"])
    assert contact.fields["upstream_updated_at"].utcoffset() == timedelta(hours=2)


NEW_CONTACT = {
    "first_name": "Ada", "last_name": "Lovelace", "organization": "Analytical Engines Ltd",
    "street_address": "12 Byron Street", "post_code": "EC1A 1BB", "city": "London",
    "state": "", "country": "GB", "email": "ada@example.org", "phone": "+44.2071234567",
    "extra_properties": {"uk_contact_type": "LTD"},
}


@pytest.mark.parametrize(
    ("tld", "tld_params"),
    [({"tld_id": 44}, {"tld_id": 44}), ({"tld_name": ".uk"}, {"tld_name": ".uk"})],
    ids=["tld_id", "tld_name"],
)
def test_create_contact(tld, tld_params):
    harness = make_harness(respond(201, {"domain_contact": contact_payload(503)}))

    contact = harness.provider.create_contact(contact=NEW_CONTACT, **tld)

    assert_sent(harness.recorder.only, "POST", "/api/domain_contacts",
                body={**tld_params, "domain_contact": NEW_CONTACT})
    assert contact.fields == contact_fields(503)


def test_update_contact_in_place():
    harness = make_harness(respond(200, {
        "domain_contact": contact_payload(501, email="new@example.org"), "split": None}))

    update = harness.provider.update_contact(501, contact={"email": "new@example.org"})

    assert_sent(harness.recorder.only, "PATCH", "/api/domain_contacts/501",
                body={"domain_contact": {"email": "new@example.org"}})
    assert isinstance(update, ContactUpdate)
    assert update.split is False
    assert update.original is None
    assert update.contact.fields == contact_fields(501, email="new@example.org")
    assert update.moved_registration_ids == []
    assert update.kept_registration_ids == []
    assert update.process is None
    assert update.request_id == REQUEST_ID


def test_update_contact_split_keeps_the_original_for_the_failing_domains():
    harness = make_harness(respond(200, {
        "domain_contact": contact_payload(777, phone="+1.5550100", split_from_id=501),
        "split": {
            "original_contact": contact_payload(501),
            "moved_registration_ids": [OTHER_GUID],
            "kept_registration_ids": [GUID],
        },
    }))

    update = harness.provider.update_contact(501, contact={"phone": "+1.5550100"},
                                             tld_name=".com")

    assert_sent(harness.recorder.only, "PATCH", "/api/domain_contacts/501",
                body={"tld_name": ".com", "domain_contact": {"phone": "+1.5550100"}})
    assert update.split is True
    # The new contact backs the moved registrations; the original keeps the rest.
    assert update.contact.upstream_id == 777
    assert update.contact.split_from_upstream_id == 501
    assert update.contact.fields["phone"] == "+1.5550100"
    assert update.original is not None
    assert update.original.fields == contact_fields(501)
    assert update.moved_registration_ids == [OTHER_GUID]
    assert update.kept_registration_ids == [GUID]
    assert update.process is None


def test_update_contact_accepted_asynchronously():
    harness = make_harness(respond(202, {
        "domain_contact": contact_payload(501),
        "split": None,
        "pending_process": process_payload(880002, action="update_contact"),
    }))

    update = harness.provider.update_contact(501, contact={"city": "Leeds"}, tld_id=44)

    assert_sent(harness.recorder.only, "PATCH", "/api/domain_contacts/501",
                body={"tld_id": 44, "domain_contact": {"city": "Leeds"}})
    assert update.process == ProcessInfo(
        id="880002", status="RUNNING", action="update_contact",
        raw=process_payload(880002, action="update_contact"))
    assert update.split is False


@pytest.mark.parametrize(
    ("kwargs", "params"),
    [({}, {}), ({"tld_id": 44}, {"tld_id": "44"}), ({"tld_name": ".uk"}, {"tld_name": ".uk"})],
    ids=["no-tld", "tld_id", "tld_name"],
)
def test_delete_contact_sends_the_tld_as_query_parameters(kwargs, params):
    harness = make_harness(respond(204, request_id="req-delete"))

    request_id = harness.provider.delete_contact(501, **kwargs)

    assert_sent(harness.recorder.only, "DELETE", "/api/domain_contacts/501", params=params)
    assert request_id == "req-delete"


def test_resend_contact_verification():
    harness = make_harness(respond(200, {"status": "queued"}))

    assert harness.provider.resend_contact_verification(501) == "queued"

    assert_sent(harness.recorder.only, "POST", "/api/domain_contacts/501/resend_verification")


# --- Registrations: reads --------------------------------------------------------------


def test_list_registrations_without_meta_is_a_single_page():
    harness = make_harness(respond(200, {"domain_registrations": [
        registration_payload(),
        registration_payload(id=OTHER_GUID, name="xn--bcher-kva.example"),
    ]}))

    records, next_page = harness.provider.list_registrations("bücher")

    assert_sent(harness.recorder.only, "GET", "/api/domain_registrations",
                params={"q": "bücher"})
    assert next_page is None
    assert [r.fields["upstream_id"] for r in records] == [GUID, OTHER_GUID]
    # Punycode names pass through untouched.
    assert records[1].fields["name"] == "xn--bcher-kva.example"


def test_list_registrations_one_page_of_many():
    harness = make_harness(respond(200, {
        "domain_registrations": [registration_payload()],
        "meta": {"page": 2, "per_page": 1, "total": 3, "next_page": 3},
    }))

    records, next_page = harness.provider.list_registrations(page=2, per_page=1)

    assert_sent(harness.recorder.only, "GET", "/api/domain_registrations",
                params={"page": "2", "per_page": "1"})
    assert next_page == 3
    assert [r.fields for r in records] == [registration_fields()]


def test_iter_registrations_follows_next_page_and_stops():
    pages = [
        {"domain_registrations": [registration_payload(id="g-1"), registration_payload(id="g-2")],
         "meta": {"page": 1, "per_page": 2, "total": 5, "next_page": 2}},
        {"domain_registrations": [registration_payload(id="g-3"), registration_payload(id="g-4")],
         "meta": {"page": 2, "per_page": 2, "total": 5, "next_page": 3}},
        {"domain_registrations": [registration_payload(id="g-5")],
         "meta": {"page": 3, "per_page": 2, "total": 5, "next_page": None}},
    ]
    harness = make_harness(*(respond(200, page) for page in pages))

    iterator = harness.provider.iter_registrations("example", per_page=2)
    first = next(iterator)
    assert harness.recorder.count == 1, "pages are fetched lazily"
    rest = list(iterator)

    assert [r.fields["upstream_id"] for r in [first, *rest]] == ["g-1", "g-2", "g-3", "g-4", "g-5"]
    assert harness.recorder.count == 3
    for number, request in enumerate(harness.recorder.requests, start=1):
        assert_sent(request, "GET", "/api/domain_registrations",
                    params={"q": "example", "page": str(number), "per_page": "2"})


def test_iter_registrations_without_meta_makes_one_request():
    harness = make_harness(respond(200, {"domain_registrations": [registration_payload()]}))

    records = list(harness.provider.iter_registrations())

    assert len(records) == 1
    assert_sent(harness.recorder.only, "GET", "/api/domain_registrations",
                params={"page": "1", "per_page": "100"})


def test_get_registration_parses_the_whole_shape():
    transfer_out = {"gaining_registrar": "REG-IDS", "requested_at": "2025-06-01T00:00:00Z"}
    harness = make_harness(respond(200, {
        "domain_registration": registration_payload(transfer_out_pending=True),
        "dns_zone": {"id": 12, "name": "example.co.uk"},
        "linked_site": None,
        "transfer_out": transfer_out,
    }, request_id="req-view"))

    view = harness.provider.get_registration(GUID)

    assert_sent(harness.recorder.only, "GET", registration_path())
    assert isinstance(view, RegistrationView)
    assert view.dns_zone == {"id": 12, "name": "example.co.uk"}
    assert view.linked_site is None
    assert view.transfer_out == transfer_out

    record = view.registration
    assert isinstance(record, RegistrationRecord)
    assert record.fields == registration_fields(transfer_out_pending=True)
    for name in ("expires_at", "cancellation_deadline_at", "upstream_created_at",
                 "upstream_updated_at"):
        assert_aware(record.fields[name])
    assert record.tld == {"id": 44, "name": "co.uk", "registrar": "realtime_register"}
    assert record.contacts["owner"].fields == contact_fields(501)
    assert record.contacts["admin"].fields == contact_fields(502, first_name="Grace")
    assert record.contacts["tech"] is None
    assert record.contacts["billing"].upstream_id == 501
    assert record.feature_flags == registration_payload()["feature_flags"]
    assert record.fees == {"privacy_enable": Money(1200, "USD"), "registrant_change": None}
    assert record.raw["id"] == GUID


def test_get_registration_with_missing_optional_parts():
    payload = registration_payload(
        owner_contact=None, admin_contact=None, billing_contact=None, fees=None,
        feature_flags=None, cancellation_deadline_at=None, rtr_process_id=None,
        rtr_process_status=None, subscription_id=None, nameservers=None,
    )
    del payload["within_cancellation_window"]
    harness = make_harness(respond(200, {"domain_registration": payload}))

    view = harness.provider.get_registration(GUID)

    assert view.dns_zone is None and view.linked_site is None and view.transfer_out is None
    record = view.registration
    assert record.contacts == {"owner": None, "admin": None, "tech": None, "billing": None}
    assert record.fees == {}
    assert record.feature_flags == {}
    assert "within_cancellation_window" not in record.fields
    assert record.fields["cancellation_deadline_at"] is None
    assert record.fields["nameservers"] == []
    assert record.fields["rtr_process_id"] == ""
    assert record.fields["rtr_process_status"] == ""
    assert record.fields["subscription_id"] == ""


def test_guid_is_url_quoted_in_the_path():
    hostile = "abc/../def?x=1 #"
    harness = make_harness(respond(200, {"domain_registration": registration_payload(id=hostile)}))

    view = harness.provider.get_registration(hostile)

    assert_sent(harness.recorder.only, "GET",
                "/api/domain_registrations/abc%2F..%2Fdef%3Fx%3D1%20%23")
    assert view.registration.fields["upstream_id"] == hostile


@pytest.mark.parametrize("domain", ["xn--bcher-kva.com", "bücher.com", "example.com"])
def test_check_availability(domain):
    harness = make_harness(respond(200, {
        "domain": domain, "available": True, "premium": False, "owned_by_account": False,
        "reason": None, "create_price": {"amount_cents": 1099, "currency": "usd"},
        "transfer_price": None,
    }))

    result = harness.provider.check_availability(domain)

    assert_sent(harness.recorder.only, "POST", "/api/domain_registrations/check",
                body={"domain": domain})
    assert result == {
        "domain": domain, "available": True, "premium": False, "owned_by_account": False,
        "reason": None, "create_price": Money(1099, "USD"), "transfer_price": None,
    }


def test_check_availability_of_a_taken_name():
    harness = make_harness(respond(200, {
        "domain": "example.com", "available": False, "premium": False,
        "owned_by_account": True, "reason": "In use", "create_price": None,
        "transfer_price": {"amount_cents": 899, "currency": "EUR"},
    }))

    result = harness.provider.check_availability("example.com")

    assert result["available"] is False
    assert result["owned_by_account"] is True
    assert result["reason"] == "In use"
    assert result["create_price"] is None
    assert result["transfer_price"] == Money(899, "EUR")


def test_suggestions():
    harness = make_harness(respond(200, {"domain": "example", "suggestions": [
        {"domain": "example.net", "tld": "net", "source": "spinner", "available": True,
         "price": {"amount_cents": 1299, "currency": "USD"}},
        {"domain": "xn--exmple-cua.com", "tld": "com", "source": "premium", "available": True,
         "price": None},
    ]}))

    suggestions = harness.provider.suggestions("example")

    assert_sent(harness.recorder.only, "POST", "/api/domain_registrations/suggestions",
                body={"domain": "example"})
    assert suggestions == [
        {"domain": "example.net", "tld": "net", "source": "spinner", "available": True,
         "price": Money(1299, "USD")},
        {"domain": "xn--exmple-cua.com", "tld": "com", "source": "premium", "available": True,
         "price": None},
    ]


# --- Registrations: mutations ----------------------------------------------------------

KEYS = (DnssecKeyData(flags=257, algorithm=13, public_key="mdsswUyr3DPW132mOi8V9xESWE8jTo0d"),
        DnssecKeyData(flags=256, algorithm=13, public_key="oJB1W6WNGv+ldvQ3WDG0MQkg5IEhjRip"))
KEYS_WIRE = [{"flags": 257, "algorithm": 13, "publicKey": "mdsswUyr3DPW132mOi8V9xESWE8jTo0d"},
             {"flags": 256, "algorithm": 13, "publicKey": "oJB1W6WNGv+ldvQ3WDG0MQkg5IEhjRip"}]

# (call, method, path suffix, exact body (or NO_BODY), fields the refreshed record changes)
MUTATIONS = [
    pytest.param(lambda api: api.set_auto_renew(GUID, False), "PATCH", "",
                 {"domain_registration": {"auto_renew": False}}, {"auto_renew": False},
                 id="set_auto_renew"),
    pytest.param(lambda api: api.set_nameservers(GUID, ("ns1.xn--bcher-kva.de", "ns2.host.de")),
                 "PATCH", "/nameservers",
                 {"nameservers": ["ns1.xn--bcher-kva.de", "ns2.host.de"]},
                 {"nameservers": ["ns1.xn--bcher-kva.de", "ns2.host.de"]},
                 id="set_nameservers"),
    pytest.param(lambda api: api.set_lock(GUID, False), "PATCH", "/lock", {"locked": False},
                 {"locked": False}, id="set_lock"),
    pytest.param(lambda api: api.set_privacy(GUID, True), "PATCH", "/privacy",
                 {"privacy_protect": True}, {"privacy_protect": True}, id="set_privacy"),
    pytest.param(lambda api: api.set_dnssec(GUID, "enable", KEYS), "PATCH", "/dnssec",
                 {"mode": "enable", "key_data": KEYS_WIRE}, {"dnssec_enabled": True},
                 id="set_dnssec-enable"),
    pytest.param(lambda api: api.set_dnssec(GUID, "add_keys", KEYS[:1]), "PATCH", "/dnssec",
                 {"mode": "add_keys", "key_data": KEYS_WIRE[:1]}, {"dnssec_enabled": True},
                 id="set_dnssec-add_keys"),
    pytest.param(lambda api: api.set_dnssec(GUID, "disable"), "PATCH", "/dnssec",
                 {"mode": "disable"}, {"dnssec_enabled": False}, id="set_dnssec-disable"),
    pytest.param(lambda api: api.update_holder(GUID, action_mode="edit_current",
                                               holder={"email": "new@example.org"},
                                               confirm_reverification=True),
                 "PATCH", "/holder",
                 {"holder_contact": {"action_mode": "edit_current", "email": "new@example.org",
                                     "confirm_reverification": "1"}},
                 {}, id="update_holder-edit_current"),
    pytest.param(lambda api: api.update_holder(GUID, action_mode="change", source_contact_id=777),
                 "PATCH", "/holder",
                 {"holder_contact": {"action_mode": "change"}, "source_domain_contact_id": 777},
                 {}, id="update_holder-change-existing"),
    pytest.param(lambda api: api.update_holder(GUID, action_mode="change",
                                               new_contact=NEW_CONTACT),
                 "PATCH", "/holder",
                 {"holder_contact": {"action_mode": "change"}, "new_contact": NEW_CONTACT},
                 {}, id="update_holder-change-new"),
    pytest.param(lambda api: api.set_role_contacts(GUID, {
                     "admin": RoleContactSource("same_as_owner"),
                     "tech": RoleContactSource("existing", contact_id=777),
                     "billing": RoleContactSource("new", new_contact=NEW_CONTACT)}),
                 "PATCH", "/contacts",
                 {"admin_contact": {"source": "same_as_owner"},
                  "tech_contact": {"source": "existing"}, "tech_source_domain_contact_id": 777,
                  "billing_contact": {"source": "new"}, "billing_new_contact": NEW_CONTACT},
                 {}, id="set_role_contacts"),
    pytest.param(lambda api: api.decide_transfer_out(GUID, "approve"), "POST", "/transfer_out",
                 {"decision": "approve"}, {"transfer_out_pending": False},
                 id="decide_transfer_out"),
    pytest.param(lambda api: api.push_transfer(GUID, "REG-IDS"), "POST", "/push_transfer",
                 {"recipient": "REG-IDS"}, {"push_transfer_pending": True}, id="push_transfer"),
    pytest.param(lambda api: api.force_sync(GUID), "POST", "/force_sync", NO_BODY,
                 {"expires_at": datetime(2027, 3, 14, 12, 0, tzinfo=UTC)}, id="force_sync"),
]


def _wire(fields: dict[str, Any]) -> dict[str, Any]:
    """Back to the wire form for the few fields the mutation table changes."""
    return {key: value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime)
            else value for key, value in fields.items()}


@pytest.mark.parametrize(("call", "method", "suffix", "body", "refreshed"), MUTATIONS)
def test_mutation_answered_200_is_done_with_the_refreshed_registration(
        call, method, suffix, body, refreshed):
    answer = {"domain_registration": registration_payload(**_wire(refreshed))}
    harness = make_harness(respond(200, answer, request_id="req-200"))

    result = call(harness.provider)

    assert_sent(harness.recorder.only, method, registration_path(suffix), body=body)
    assert isinstance(result, Done)
    assert result.changes == registration_fields(**refreshed)
    assert result.record is not None and result.record.fields == result.changes
    assert result.body == answer
    assert result.request_id == "req-200"


# force_sync has no 202 in the document (tested below).
ASYNC_MUTATIONS = [param for param in MUTATIONS if param.id != "force_sync"]


@pytest.mark.parametrize(("call", "method", "suffix", "body", "refreshed"), ASYNC_MUTATIONS)
def test_mutation_answered_202_is_pending_with_the_process(call, method, suffix, body, refreshed):
    process = process_payload(880001, action="update_domain", status="RUNNING")
    answer = {
        "domain_registration": registration_payload(
            pending_async=True, rtr_process_id="880001", rtr_process_status="RUNNING"),
        "pending_process": process,
    }
    harness = make_harness(respond(202, answer, request_id="req-202"))

    result = call(harness.provider)

    assert_sent(harness.recorder.only, method, registration_path(suffix), body=body)
    assert isinstance(result, Pending)
    assert result.process == ProcessInfo(id="880001", status="RUNNING", action="update_domain",
                                         raw=process)
    assert result.body == answer
    assert result.request_id == "req-202"
    assert result.record is not None
    assert result.record.fields["pending_async"] is True
    assert result.record.fields["rtr_process_id"] == "880001"


@pytest.mark.parametrize(
    ("scenario", "auto_renew"),
    [("enabled", True), ("clean_cancel", False), ("refund_cancel", False),
     ("late_cancel", False)],
)
def test_set_auto_renew_keeps_the_scenario(scenario, auto_renew):
    harness = make_harness(respond(200, {
        "domain_registration": registration_payload(auto_renew=auto_renew),
        "scenario": scenario,
    }))

    result = harness.provider.set_auto_renew(GUID, auto_renew)

    assert_sent(harness.recorder.only, "PATCH", registration_path(),
                body={"domain_registration": {"auto_renew": auto_renew}})
    assert isinstance(result, Done)
    assert result.body["scenario"] == scenario
    assert result.changes["auto_renew"] is auto_renew


def test_force_sync_reports_the_changed_fields():
    harness = make_harness(respond(200, {
        "domain_registration": registration_payload(
            expires_at="2027-03-14T12:00:00Z", nameservers=["ns1.other.net"]),
        "changed": ["expires_at", "nameservers"],
    }))

    result = harness.provider.force_sync(GUID)

    assert_sent(harness.recorder.only, "POST", registration_path("/force_sync"))
    assert isinstance(result, Done)
    assert result.body["changed"] == ["expires_at", "nameservers"]
    assert result.changes["expires_at"] == datetime(2027, 3, 14, 12, 0, tzinfo=UTC)
    assert result.changes["nameservers"] == ["ns1.other.net"]


def test_force_sync_answered_202_is_refused_as_unexpected():
    harness = make_harness(respond(202, {"domain_registration": registration_payload(),
                                         "pending_process": process_payload()}))

    with pytest.raises(MalformedResponse) as caught:
        harness.provider.force_sync(GUID)

    assert caught.value.code == "unexpected_response"
    assert harness.recorder.count == 1


@pytest.mark.parametrize(
    ("call", "path_suffix", "body", "role", "amount"),
    [
        pytest.param(lambda api: api.set_privacy(GUID, True), "/privacy",
                     {"privacy_protect": True}, "privacy", 500, id="privacy"),
        pytest.param(lambda api: api.update_holder(GUID, action_mode="change",
                                                   source_contact_id=777), "/holder",
                     {"holder_contact": {"action_mode": "change"},
                      "source_domain_contact_id": 777},
                     "registrant_change", 1099, id="holder-change"),
    ],
)
def test_fee_gate_402_is_payment_required(call, path_suffix, body, role, amount):
    harness = make_harness(respond(402, {
        "errors": ["Enabling privacy on this TLD costs money"],
        "code": "payment_required",
        "price": {"amount_cents": amount, "currency": "usd", "role": role},
        "portal_url": "https://portal.example.test/domains/example.co.uk/billing",
        "remediation": "Complete the purchase in the portal.",
    }, request_id="req-402"))

    result = call(harness.provider)

    assert_sent(harness.recorder.only, "PATCH", registration_path(path_suffix), body=body)
    assert result == PaymentRequired(
        price=Money(amount, "USD"),
        portal_url="https://portal.example.test/domains/example.co.uk/billing",
        role=role,
        remediation="Complete the purchase in the portal.",
        request_id="req-402",
    )


@pytest.mark.parametrize(
    ("kwargs", "body"),
    [({"source_contact_id": 777}, {"source_domain_contact_id": 777}),
     ({"new_contact": NEW_CONTACT}, {"new_contact": NEW_CONTACT})],
    ids=["existing", "new"],
)
def test_order_registrant_change(kwargs, body):
    harness = make_harness(respond(202, {"order": order_payload(9001),
                                         "cart": {"id": 55, "status": "paid"}},
                                   request_id="req-order"))

    accepted = harness.provider.order_registrant_change(GUID, **kwargs)

    assert_sent(harness.recorder.only, "POST", registration_path("/registrant_change"), body=body)
    assert accepted == OrderAccepted(order=order_payload(9001),
                                     cart={"id": 55, "status": "paid"}, request_id="req-order")
    assert accepted.order_id == "9001"


@pytest.mark.parametrize("kwargs", [{}, {"source_contact_id": 777, "new_contact": NEW_CONTACT}],
                         ids=["neither", "both"])
def test_order_registrant_change_needs_exactly_one_source(kwargs):
    harness = make_harness(respond(202, {}))

    with pytest.raises(ValueError, match="exactly one"):
        harness.provider.order_registrant_change(GUID, **kwargs)

    assert harness.recorder.count == 0


def test_get_auth_code():
    harness = make_harness(respond(200, {"authcode": "Xy7#pQ2!zR"}))

    assert harness.provider.get_auth_code(GUID) == "Xy7#pQ2!zR"

    assert_sent(harness.recorder.only, "GET", registration_path("/epp_code"))


@pytest.mark.parametrize(
    ("code", "error_class", "retryable"),
    [("registrar_unavailable", UpstreamFailure, True),
     ("", UpstreamFailure, True),
     ("authcode_unavailable", AuthcodeUnavailable, True)],
)
def test_get_auth_code_is_never_retried_even_on_502(code, error_class, retryable):
    harness = make_harness(respond(502, {"errors": ["upstream said no"], "code": code}),
                           respond(200, {"authcode": "never-fetched"}))

    with pytest.raises(error_class) as caught:
        harness.provider.get_auth_code(GUID)

    assert harness.recorder.count == 1, "the auth code GET uses NO_RETRY"
    assert harness.sleeps == []
    assert_sent(harness.recorder.only, "GET", registration_path("/epp_code"))
    assert caught.value.status == 502
    assert caught.value.code == (code or "http_502")
    # Retryable says a later, deliberate attempt may work; the client itself never repeats.
    assert caught.value.retryable is retryable


def test_resend_holder_verification():
    harness = make_harness(respond(200, {"status": "queued"}))

    assert harness.provider.resend_holder_verification(GUID) == "queued"

    assert_sent(harness.recorder.only, "POST", registration_path("/resend_contact_verification"))


# --- Hosts ---------------------------------------------------------------------------

HOST = {"host_name": "ns1.example.co.uk",
        "addresses": [{"address": "192.0.2.53", "version": 4},
                      {"address": "2001:db8::53", "version": 6}]}


def test_list_hosts():
    harness = make_harness(respond(200, {"hosts": [HOST]}))

    assert harness.provider.list_hosts(GUID) == [HOST]

    assert_sent(harness.recorder.only, "GET", registration_path("/hosts"))


def test_create_host():
    harness = make_harness(respond(201, {"host": HOST}))

    host = harness.provider.create_host(GUID, "ns1.example.co.uk", ["192.0.2.53", "2001:db8::53"])

    assert_sent(harness.recorder.only, "POST", registration_path("/hosts"), body={
        "host_name": "ns1.example.co.uk",
        "addresses": [{"address": "192.0.2.53"}, {"address": "2001:db8::53"}],
    })
    assert host == HOST


@pytest.mark.parametrize(
    ("host_name", "quoted"),
    [("ns1.example.co.uk", "ns1.example.co.uk"),
     ("ns1.xn--bcher-kva.example", "ns1.xn--bcher-kva.example"),
     ("ns1.example.co.uk/../../x?y=1", "ns1.example.co.uk%2F..%2F..%2Fx%3Fy%3D1")],
    ids=["plain", "punycode", "hostile"],
)
def test_update_host_quotes_the_host_name(host_name, quoted):
    harness = make_harness(respond(200, {"host": {**HOST, "host_name": host_name}}))

    host = harness.provider.update_host(GUID, host_name, ["198.51.100.7"])

    assert_sent(harness.recorder.only, "PATCH", registration_path(f"/hosts/{quoted}"),
                body={"addresses": [{"address": "198.51.100.7"}]})
    assert host["host_name"] == host_name


def test_delete_host_quotes_the_host_name():
    harness = make_harness(respond(204, request_id="req-del-host"))

    assert harness.provider.delete_host(GUID, "ns1.example.co.uk/x") == "req-del-host"

    assert_sent(harness.recorder.only, "DELETE", registration_path("/hosts/ns1.example.co.uk%2Fx"))


# --- Processes -----------------------------------------------------------------------


def test_list_processes():
    raw = [process_payload(880002, status="SUSPENDED"), process_payload(880001, status="COMPLETED")]
    harness = make_harness(respond(200, {"processes": raw}))

    processes = harness.provider.list_processes(GUID)

    assert_sent(harness.recorder.only, "GET", registration_path("/processes"))
    assert processes == [
        ProcessInfo(id="880002", status="SUSPENDED", action="update_nameservers", raw=raw[0]),
        ProcessInfo(id="880001", status="COMPLETED", action="update_nameservers", raw=raw[1]),
    ]


def test_get_process_with_its_log():
    log = [{"date": "2025-06-01T08:00:00Z", "level": "INFO", "message": "Sent to registry"},
           {"date": "2025-06-01T08:00:05Z", "level": "WARN", "message": "Registry slow"}]
    harness = make_harness(respond(200, {"process": process_payload(880001), "log": log}))

    view = harness.provider.get_process(GUID, "880001")

    assert_sent(harness.recorder.only, "GET", registration_path("/processes/880001"))
    assert view == ProcessView(
        process=ProcessInfo(id="880001", status="RUNNING", action="update_nameservers",
                            raw=process_payload(880001)),
        log=log,
    )


def test_resend_process():
    harness = make_harness(respond(200, {"status": "queued"}))

    assert harness.provider.resend_process(GUID, "880001") == "queued"

    assert_sent(harness.recorder.only, "POST", registration_path("/processes/880001/resend"))


def test_cancel_process():
    harness = make_harness(respond(200, {"status": "cancelled"}))

    assert harness.provider.cancel_process(GUID, "88/0001") == "cancelled"

    assert_sent(harness.recorder.only, "DELETE", registration_path("/processes/88%2F0001/cancel"))


# --- Orders --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "body"),
    [
        pytest.param(
            {"domain": "xn--bcher-kva.de", "action": "register", "years": 2,
             "source_contact_id": 501},
            {"domain": "xn--bcher-kva.de", "action": "register", "years": 2,
             "source_domain_contact_id": 501},
            id="register-minimal"),
        pytest.param(
            {"domain": "example.com", "action": "transfer", "years": 1,
             "auth_code": "Xy7#pQ2!zR", "new_contact": NEW_CONTACT,
             "max_total": Money(1099, "USD")},
            {"domain": "example.com", "action": "transfer", "years": 1,
             "auth_code": "Xy7#pQ2!zR", "new_contact": NEW_CONTACT,
             "max_total": {"amount_cents": 1099, "currency": "USD"}},
            id="transfer-full"),
    ],
)
def test_place_domain_order(kwargs, body):
    harness = make_harness(respond(202, {"order": order_payload(9002),
                                         "cart": {"id": 56, "status": "pending"}},
                                   request_id="req-place"))

    accepted = harness.provider.place_domain_order(idempotency_key="order-42", **kwargs)

    assert_sent(harness.recorder.only, "POST", "/api/orders/domain", body=body,
                idempotency_key="order-42")
    assert accepted == OrderAccepted(order=order_payload(9002),
                                     cart={"id": 56, "status": "pending"},
                                     request_id="req-place")
    assert accepted.order_id == "9002"


def test_get_order():
    harness = make_harness(respond(200, {"order": order_payload(9002, status="completed")}))

    assert harness.provider.get_order("9002") == order_payload(9002, status="completed")

    assert_sent(harness.recorder.only, "GET", "/api/orders/9002")
