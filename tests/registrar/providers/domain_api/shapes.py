"""Document 001 as the tests see it: the shapes its answers take and what the adapter
makes of them, the exact-request assertion, and `domain_api()`, which builds the adapter
on a scripted upstream (tests.fakes.http.Scripted) at the HTTP boundary."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx

from registrar.providers.base import OrderLine, OrderRecord, OrderState, RegistrationRef
from registrar.providers.domain_api.adapter import DomainApiProvider
from tests.fakes.http import NO_BODY, Answer, Scripted, assert_body

BASE_URL = "https://api.example.test"
TOKEN = "tok-123"
ACCOUNT_REF = "acct-9"
GUID = "7d9c2b1e-4f3a-4c5d-9e8f-0a1b2c3d4e5f"
OTHER_GUID = "0b5e8f2a-1c3d-4e5f-8a9b-c0d1e2f3a4b5"
#: How the core names the registration the payloads below describe.
REF = RegistrationRef(name="example.co.uk", upstream_id=GUID)


def _never_sleep(delay: float) -> None:
    """Retries in these tests never wait; the retry tests record the delays instead."""


def domain_api(*answers: Answer, sleep: Callable[[float], None] = _never_sleep,
               **provider_kwargs: Any) -> tuple[DomainApiProvider, Scripted]:
    """A DomainApiProvider whose upstream answers with `answers` in order (the last one
    repeating), and that upstream, which records every request that left."""
    upstream = Scripted(*answers)
    provider = DomainApiProvider(
        base_url=BASE_URL,
        token=TOKEN,
        account_ref=ACCOUNT_REF,
        transport=httpx.MockTransport(upstream),
        sleep=sleep,
        **provider_kwargs,
    )
    return provider, upstream




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

    assert_body(request, body)


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


def order_record(order_id: int = 9001, **overrides: Any) -> OrderRecord:
    """What parse_order makes of order_payload(order_id): the line item names no amount,
    so it reads as zero; it only fills an order that has no lines yet."""
    values: dict[str, Any] = {
        "upstream_id": str(order_id),
        "state": OrderState.IN_PROGRESS,
        "currency": "USD",
        "total_minor": 1099,
        "lines": (OrderLine(description="Order line", domain="example.com", quantity=1,
                            unit_amount_minor=0, total_minor=0,
                            details={"product": "domain_registrant_change"}),),
        "lines_authoritative": False,
    }
    return OrderRecord(**{**values, **overrides})


def registration_path(suffix: str = "", guid: str = GUID) -> str:
    return f"/api/domain_registrations/{guid}{suffix}"


def assert_aware(value: datetime | None) -> None:
    assert isinstance(value, datetime)
    assert value.tzinfo is not None and value.utcoffset() is not None


NEW_CONTACT = {
    "first_name": "Ada", "last_name": "Lovelace", "organization": "Analytical Engines Ltd",
    "street_address": "12 Byron Street", "post_code": "EC1A 1BB", "city": "London",
    "state": "", "country": "GB", "email": "ada@example.org", "phone": "+44.2071234567",
    "extra_properties": {"uk_contact_type": "LTD"},
}
