"""What DomainApiProvider sends for every endpoint of document 001, and what it makes
of the answers.

Only the HTTP boundary is fake: a scripted upstream (tests.fakes.http.Scripted) behind an
`httpx.MockTransport`, which records every request and answers from its script. The
shapes and the request assertion live in `shapes`, shared with test_errors.py and the
HTTP layer's tests.
"""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from registrar.providers.base import (
    Capability,
    ContactRecord,
    ContactUpdate,
    DnssecKeyData,
    Done,
    Money,
    OrderState,
    OrderType,
    PaymentRequired,
    Pending,
    PlacedOrder,
    ProcessInfo,
    ProcessView,
    Provider,
    RegistrationRecord,
    RegistrationRef,
    RegistrationView,
    RoleContactSource,
)
from registrar.providers.domain_api.adapter import DomainApiProvider
from registrar.providers.errors import (
    AuthcodeUnavailable,
    CallerError,
    MalformedResponse,
    PaymentRequiredError,
    UpstreamFailure,
)
from tests.fakes.http import REQUEST_ID, respond
from tests.registrar.providers.domain_api.shapes import (
    GUID,
    NEW_CONTACT,
    NO_BODY,
    OTHER_GUID,
    REF,
    assert_aware,
    assert_sent,
    contact_fields,
    contact_payload,
    domain_api,
    order_payload,
    order_record,
    process_payload,
    registration_fields,
    registration_path,
    registration_payload,
)

# --- Coverage guard --------------------------------------------------------------------

COVERED_METHODS = {
    "ping",  # close() comes from HttpProvider
    "list_contacts", "get_contact", "create_contact", "update_contact", "delete_contact",
    "resend_contact_verification", "list_contact_page", "iter_contacts",
    "list_registrations", "iter_registrations", "get_registration", "check_availability",
    "iter_registration_pages",  # its requests: tests/registrar/test_sync_split.py
    "suggestions",
    "set_auto_renew", "set_nameservers", "set_lock", "set_privacy", "set_dnssec",
    "update_holder", "order_registrant_change", "set_role_contacts", "get_auth_code",
    "force_sync", "decide_transfer_out", "push_transfer", "resend_holder_verification",
    "list_hosts", "create_host", "update_host", "delete_host",
    "list_processes", "get_process", "resend_process", "cancel_process",
    "create_domain_order", "read_order", "domain_offer", "domain_suggestions",
    # The ordering hooks: their requests are tested in test_orders.py.
    "quote_domain_order", "place_domain_order", "settle_placement",
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
    provider, _ = domain_api(respond())
    assert isinstance(provider, Provider)
    assert provider.capabilities == {
        Capability.LOCK, Capability.PRIVACY, Capability.DNSSEC, Capability.AUTO_RENEW,
        Capability.HOLDER_EDIT, Capability.HOLDER_CHANGE, Capability.REGISTRANT_CHANGE_ORDER,
        Capability.ROLE_CONTACTS, Capability.NAMESERVERS, Capability.HOSTS,
        Capability.AUTH_CODE, Capability.TRANSFER_OUT_DECISION, Capability.PUSH_TRANSFER,
        Capability.VERIFICATION_RESEND, Capability.FORCE_SYNC, Capability.PROCESSES,
        Capability.CONTACTS, Capability.CONTACT_LIST, Capability.REGISTRATION_SYNC,
        Capability.REGISTRATION_READ,
        Capability.DOMAIN_ORDERS, Capability.ORDER_FOLLOW, Capability.DOMAIN_SEARCH,
    }
    for capability in provider.capabilities:
        assert provider.supports(capability)
    # Document 001 hosts no DNS, lists no orders and pushes no events.
    for capability in (Capability.DNS_RECORDS, Capability.BILLING_LINK,
                       Capability.ORDER_MIRROR, Capability.EMAIL_ORDERS, Capability.WEBHOOKS):
        assert not provider.supports(capability)


def test_close_closes_the_client_without_a_request():
    api, upstream = domain_api(respond())
    api.close()
    assert upstream.count == 0
    assert api.http._client.is_closed


def test_ping_asks_for_one_registration():
    api, upstream = domain_api(respond(200, {"domain_registrations": [registration_payload()],
                                             "meta": {"page": 1, "per_page": 1, "total": 7,
                                                      "next_page": 2}}))
    assert api.ping() is None
    assert_sent(upstream.only, "GET", "/api/domain_registrations",
                params={"page": "1", "per_page": "1"})


# --- Contacts ------------------------------------------------------------------------


@pytest.mark.parametrize(("q", "params"), [(None, {}), ("Acme Ltd", {"q": "Acme Ltd"})])
def test_list_contacts(q, params):
    api, upstream = domain_api(respond(200, {"domain_contacts": [
        contact_payload(501), contact_payload(502, first_name="Grace", split_from_id=501)]}))

    contacts = api.list_contacts(q)

    assert_sent(upstream.only, "GET", "/api/domain_contacts", params=params)
    assert [type(c) for c in contacts] == [ContactRecord, ContactRecord]
    assert contacts[0].fields == contact_fields(501)
    assert contacts[0].upstream_id == 501
    assert contacts[0].split_from_upstream_id is None
    assert contacts[0].raw == contact_payload(501)
    assert contacts[1].fields == contact_fields(502, first_name="Grace")
    assert contacts[1].split_from_upstream_id == 501


def test_list_contact_page_reads_one_page_of_many():
    api, upstream = domain_api(respond(200, {
        "domain_contacts": [contact_payload(501)],
        "meta": {"page": 2, "per_page": 1, "total": 3, "next_page": 3}}))

    records, next_page = api.list_contact_page(page=2, per_page=1)

    assert_sent(upstream.only, "GET", "/api/domain_contacts",
                params={"page": "2", "per_page": "1"})
    assert next_page == 3
    assert [r.fields for r in records] == [contact_fields(501)]


def test_iter_contacts_follows_next_page_lazily_and_takes_no_meta_as_the_whole_list():
    pages = [
        {"domain_contacts": [contact_payload(501), contact_payload(502)],
         "meta": {"page": 1, "per_page": 2, "total": 3, "next_page": 2}},
        {"domain_contacts": [contact_payload(503)]},  # no meta: nothing follows
    ]
    api, upstream = domain_api(*(respond(200, page) for page in pages))

    iterator = api.iter_contacts(page_size=2)
    first = next(iterator)
    assert upstream.count == 1, "pages are fetched lazily"
    rest = list(iterator)

    assert [r.upstream_id for r in [first, *rest]] == [501, 502, 503]
    for number, request in enumerate(upstream.requests, start=1):
        assert_sent(request, "GET", "/api/domain_contacts",
                    params={"page": str(number), "per_page": "2"})


def test_iter_contacts_refuses_paging_that_goes_backwards():
    api, _ = domain_api(respond(200, {"domain_contacts": [contact_payload(501)],
                                      "meta": {"page": 1, "next_page": 1}}))
    with pytest.raises(MalformedResponse):
        list(api.iter_contacts())


def test_get_contact():
    api, upstream = domain_api(respond(200, {"domain_contact": contact_payload(501),
                                             "split": None}))

    contact = api.get_contact(501)

    assert_sent(upstream.only, "GET", "/api/domain_contacts/501")
    assert contact.fields == contact_fields(501)
    assert_aware(contact.fields["upstream_created_at"])
    assert_aware(contact.fields["upstream_updated_at"])
    assert contact.fields["upstream_updated_at"].utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize(
    ("tld", "tld_params"),
    [({"tld_id": 44}, {"tld_id": 44}), ({"tld_name": ".uk"}, {"tld_name": ".uk"})],
    ids=["tld_id", "tld_name"],
)
def test_create_contact(tld, tld_params):
    api, upstream = domain_api(respond(201, {"domain_contact": contact_payload(503)}))

    contact = api.create_contact(contact=NEW_CONTACT, **tld)

    assert_sent(upstream.only, "POST", "/api/domain_contacts",
                body={**tld_params, "domain_contact": NEW_CONTACT})
    assert contact.fields == contact_fields(503)


def test_update_contact_in_place():
    api, upstream = domain_api(respond(200, {
        "domain_contact": contact_payload(501, email="new@example.org"), "split": None}))

    update = api.update_contact(501, contact={"email": "new@example.org"})

    assert_sent(upstream.only, "PATCH", "/api/domain_contacts/501",
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
    api, upstream = domain_api(respond(200, {
        "domain_contact": contact_payload(777, phone="+1.5550100", split_from_id=501),
        "split": {
            "original_contact": contact_payload(501),
            "moved_registration_ids": [OTHER_GUID],
            "kept_registration_ids": [GUID],
        },
    }))

    update = api.update_contact(501, contact={"phone": "+1.5550100"},
                                tld_name=".com")

    assert_sent(upstream.only, "PATCH", "/api/domain_contacts/501",
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
    api, upstream = domain_api(respond(202, {
        "domain_contact": contact_payload(501),
        "split": None,
        "pending_process": process_payload(880002, action="update_contact"),
    }))

    update = api.update_contact(501, contact={"city": "Leeds"}, tld_id=44)

    assert_sent(upstream.only, "PATCH", "/api/domain_contacts/501",
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
    api, upstream = domain_api(respond(204, request_id="req-delete"))

    request_id = api.delete_contact(501, **kwargs)

    assert_sent(upstream.only, "DELETE", "/api/domain_contacts/501", params=params)
    assert request_id == "req-delete"


def test_resend_contact_verification():
    api, upstream = domain_api(respond(200, {"status": "queued"}))

    assert api.resend_contact_verification(501) == "queued"

    assert_sent(upstream.only, "POST", "/api/domain_contacts/501/resend_verification")


# --- Registrations: reads --------------------------------------------------------------


def test_list_registrations_without_meta_is_a_single_page():
    api, upstream = domain_api(respond(200, {"domain_registrations": [
        registration_payload(),
        registration_payload(id=OTHER_GUID, name="xn--bcher-kva.example"),
    ]}))

    records, next_page = api.list_registrations("bücher")

    assert_sent(upstream.only, "GET", "/api/domain_registrations",
                params={"q": "bücher"})
    assert next_page is None
    assert [r.fields["upstream_id"] for r in records] == [GUID, OTHER_GUID]
    # Punycode names pass through untouched.
    assert records[1].fields["name"] == "xn--bcher-kva.example"


def test_list_registrations_one_page_of_many():
    api, upstream = domain_api(respond(200, {
        "domain_registrations": [registration_payload()],
        "meta": {"page": 2, "per_page": 1, "total": 3, "next_page": 3},
    }))

    records, next_page = api.list_registrations(page=2, per_page=1)

    assert_sent(upstream.only, "GET", "/api/domain_registrations",
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
    api, upstream = domain_api(*(respond(200, page) for page in pages))

    iterator = api.iter_registrations(page_size=2)
    first = next(iterator)
    assert upstream.count == 1, "pages are fetched lazily"
    rest = list(iterator)

    assert [r.fields["upstream_id"] for r in [first, *rest]] == ["g-1", "g-2", "g-3", "g-4", "g-5"]
    assert upstream.count == 3
    for number, request in enumerate(upstream.requests, start=1):
        assert_sent(request, "GET", "/api/domain_registrations",
                    params={"page": str(number), "per_page": "2"})


def test_iter_registrations_by_name_keeps_exact_hits_only():
    # The list's q is a substring match: every page can carry names that only contain it.
    pages = [
        {"domain_registrations": [registration_payload(id="g-1", name="myexample.co.uk"),
                                  registration_payload(id="g-2", name="example.co.uk")],
         "meta": {"page": 1, "per_page": 2, "total": 4, "next_page": 2}},
        {"domain_registrations": [registration_payload(id="g-3", name="example.co.uk.example"),
                                  registration_payload(id="g-4", name="example.co")],
         "meta": {"page": 2, "per_page": 2, "total": 4, "next_page": None}},
    ]
    api, upstream = domain_api(*(respond(200, page) for page in pages))

    records = list(api.iter_registrations(name="example.co.uk", page_size=2))

    assert [(r.name, r.upstream_id) for r in records] == [("example.co.uk", "g-2")]
    assert upstream.count == 2, "every page is read: a hit may come last"
    for number, request in enumerate(upstream.requests, start=1):
        assert_sent(request, "GET", "/api/domain_registrations",
                    params={"q": "example.co.uk", "page": str(number), "per_page": "2"})


def test_iter_registrations_by_name_without_a_hit_is_empty():
    api, upstream = domain_api(respond(200, {"domain_registrations": [
        registration_payload(name="anexample.co.uk")]}))

    assert list(api.iter_registrations(name="example.co.uk")) == []
    assert_sent(upstream.only, "GET", "/api/domain_registrations",
                params={"q": "example.co.uk", "page": "1", "per_page": "100"})


def test_iter_registrations_without_meta_makes_one_request():
    api, upstream = domain_api(respond(200, {"domain_registrations": [registration_payload()]}))

    records = list(api.iter_registrations())

    assert len(records) == 1
    assert_sent(upstream.only, "GET", "/api/domain_registrations",
                params={"page": "1", "per_page": "100"})


def test_iter_registrations_refuses_paging_that_goes_backwards():
    api, upstream = domain_api(
        respond(200, {"domain_registrations": [registration_payload(id="g-1")],
                      "meta": {"page": 1, "per_page": 1, "total": 3, "next_page": 2}}),
        respond(200, {"domain_registrations": [registration_payload(id="g-2")],
                      "meta": {"page": 2, "per_page": 1, "total": 3, "next_page": 1}}),
    )
    seen = []

    with pytest.raises(MalformedResponse) as caught:
        seen.extend(record.upstream_id for record in api.iter_registrations(page_size=1))

    assert caught.value.code == "malformed_paging"
    assert seen == ["g-1", "g-2"]
    assert upstream.count == 2, "a page asked for again would loop for ever"


def test_iter_registrations_reports_a_malformed_later_page_when_it_is_reached():
    api, upstream = domain_api(
        respond(200, {"domain_registrations": [registration_payload(id="g-1")],
                      "meta": {"page": 1, "per_page": 1, "total": 2, "next_page": 2}}),
        respond(200, {"domain_registrations": [{"name": "no-id.co.uk"}],
                      "meta": {"page": 2, "per_page": 1, "total": 2, "next_page": None}}),
    )
    iterator = api.iter_registrations(page_size=1)

    assert next(iterator).upstream_id == "g-1"
    with pytest.raises(MalformedResponse) as caught:
        next(iterator)

    assert caught.value.code == "malformed_response"
    assert upstream.count == 2


def test_get_registration_parses_the_whole_shape():
    transfer_out = {"gaining_registrar": "REG-IDS", "requested_at": "2025-06-01T00:00:00Z"}
    api, upstream = domain_api(respond(200, {
        "domain_registration": registration_payload(transfer_out_pending=True),
        "dns_zone": {"id": 12, "name": "example.co.uk"},
        "linked_site": None,
        "transfer_out": transfer_out,
    }, request_id="req-view"))

    view = api.get_registration(REF)

    assert_sent(upstream.only, "GET", registration_path())
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
    api, upstream = domain_api(respond(200, {"domain_registration": payload}))

    view = api.get_registration(REF)

    assert_sent(upstream.only, "GET", registration_path())
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
    api, upstream = domain_api(
        respond(200, {"domain_registration": registration_payload(id=hostile)}))

    view = api.get_registration(RegistrationRef(name="example.co.uk", upstream_id=hostile))

    assert_sent(upstream.only, "GET",
                "/api/domain_registrations/abc%2F..%2Fdef%3Fx%3D1%20%23")
    assert view.registration.fields["upstream_id"] == hostile


# Every hook that names a registration, called for one the mirror has never synced.
REGISTRATION_HOOKS = [
    pytest.param(lambda api, ref: api.get_registration(ref), id="get_registration"),
    pytest.param(lambda api, ref: api.set_auto_renew(ref, False), id="set_auto_renew"),
    pytest.param(lambda api, ref: api.set_nameservers(ref, ["ns1.example.net"]),
                 id="set_nameservers"),
    pytest.param(lambda api, ref: api.set_lock(ref, True), id="set_lock"),
    pytest.param(lambda api, ref: api.set_privacy(ref, True), id="set_privacy"),
    pytest.param(lambda api, ref: api.set_dnssec(ref, "disable"), id="set_dnssec"),
    pytest.param(lambda api, ref: api.update_holder(ref, action_mode="change",
                                                    source_contact_id=777), id="update_holder"),
    pytest.param(lambda api, ref: api.order_registrant_change(
        ref, idempotency_key="backoffice-order-7", source_contact_id=777),
        id="order_registrant_change"),
    pytest.param(lambda api, ref: api.set_role_contacts(
        ref, {"tech": RoleContactSource("same_as_owner")}), id="set_role_contacts"),
    pytest.param(lambda api, ref: api.get_auth_code(ref), id="get_auth_code"),
    pytest.param(lambda api, ref: api.force_sync(ref), id="force_sync"),
    pytest.param(lambda api, ref: api.decide_transfer_out(ref, "approve"),
                 id="decide_transfer_out"),
    pytest.param(lambda api, ref: api.push_transfer(ref, "REG-IDS"), id="push_transfer"),
    pytest.param(lambda api, ref: api.resend_holder_verification(ref),
                 id="resend_holder_verification"),
    pytest.param(lambda api, ref: api.list_hosts(ref), id="list_hosts"),
    pytest.param(lambda api, ref: api.create_host(ref, "ns1.example.co.uk", ["192.0.2.1"]),
                 id="create_host"),
    pytest.param(lambda api, ref: api.update_host(ref, "ns1.example.co.uk", ["192.0.2.1"]),
                 id="update_host"),
    pytest.param(lambda api, ref: api.delete_host(ref, "ns1.example.co.uk"), id="delete_host"),
    pytest.param(lambda api, ref: api.list_processes(ref), id="list_processes"),
    pytest.param(lambda api, ref: api.get_process(ref, "880001"), id="get_process"),
    pytest.param(lambda api, ref: api.resend_process(ref, "880001"), id="resend_process"),
    pytest.param(lambda api, ref: api.cancel_process(ref, "880001"), id="cancel_process"),
]


@pytest.mark.parametrize("call", REGISTRATION_HOOKS)
def test_a_registration_without_a_guid_is_refused_before_any_request(call):
    # Document 001 keys registrations by guid alone: the name cannot stand in for it.
    api, upstream = domain_api(respond(200, {"domain_registration": registration_payload()}))

    with pytest.raises(CallerError, match=r"example\.co\.uk has no Domain API guid"):
        call(api, RegistrationRef(name="example.co.uk"))

    assert upstream.count == 0


@pytest.mark.parametrize("domain", ["xn--bcher-kva.com", "bücher.com", "example.com"])
def test_check_availability(domain):
    api, upstream = domain_api(respond(200, {
        "domain": domain, "available": True, "premium": False, "owned_by_account": False,
        "reason": None, "create_price": {"amount_cents": 1099, "currency": "usd"},
        "transfer_price": None,
    }))

    result = api.check_availability(domain)

    assert_sent(upstream.only, "POST", "/api/domain_registrations/check",
                body={"domain": domain})
    assert result == {
        "domain": domain, "available": True, "premium": False, "owned_by_account": False,
        "reason": None, "create_price": Money(1099, "USD"), "transfer_price": None,
    }


def test_check_availability_of_a_taken_name():
    api, upstream = domain_api(respond(200, {
        "domain": "example.com", "available": False, "premium": False,
        "owned_by_account": True, "reason": "In use", "create_price": None,
        "transfer_price": {"amount_cents": 899, "currency": "EUR"},
    }))

    result = api.check_availability("example.com")

    assert_sent(upstream.only, "POST", "/api/domain_registrations/check",
                body={"domain": "example.com"})
    assert result["available"] is False
    assert result["owned_by_account"] is True
    assert result["reason"] == "In use"
    assert result["create_price"] is None
    assert result["transfer_price"] == Money(899, "EUR")


def test_suggestions():
    api, upstream = domain_api(respond(200, {"domain": "example", "suggestions": [
        {"domain": "example.net", "tld": "net", "source": "spinner", "available": True,
         "price": {"amount_cents": 1299, "currency": "USD"}},
        {"domain": "xn--exmple-cua.com", "tld": "com", "source": "premium", "available": True,
         "price": None},
    ]}))

    suggestions = api.suggestions("example")

    assert_sent(upstream.only, "POST", "/api/domain_registrations/suggestions",
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
    pytest.param(lambda api: api.set_auto_renew(REF, False), "PATCH", "",
                 {"domain_registration": {"auto_renew": False}}, {"auto_renew": False},
                 id="set_auto_renew"),
    pytest.param(lambda api: api.set_nameservers(REF, ("ns1.xn--bcher-kva.de", "ns2.host.de")),
                 "PATCH", "/nameservers",
                 {"nameservers": ["ns1.xn--bcher-kva.de", "ns2.host.de"]},
                 {"nameservers": ["ns1.xn--bcher-kva.de", "ns2.host.de"]},
                 id="set_nameservers"),
    pytest.param(lambda api: api.set_lock(REF, False), "PATCH", "/lock", {"locked": False},
                 {"locked": False}, id="set_lock"),
    pytest.param(lambda api: api.set_privacy(REF, True), "PATCH", "/privacy",
                 {"privacy_protect": True}, {"privacy_protect": True}, id="set_privacy"),
    pytest.param(lambda api: api.set_dnssec(REF, "enable", KEYS), "PATCH", "/dnssec",
                 {"mode": "enable", "key_data": KEYS_WIRE}, {"dnssec_enabled": True},
                 id="set_dnssec-enable"),
    pytest.param(lambda api: api.set_dnssec(REF, "add_keys", KEYS[:1]), "PATCH", "/dnssec",
                 {"mode": "add_keys", "key_data": KEYS_WIRE[:1]}, {"dnssec_enabled": True},
                 id="set_dnssec-add_keys"),
    pytest.param(lambda api: api.set_dnssec(REF, "disable"), "PATCH", "/dnssec",
                 {"mode": "disable"}, {"dnssec_enabled": False}, id="set_dnssec-disable"),
    pytest.param(lambda api: api.update_holder(REF, action_mode="edit_current",
                                               holder={"email": "new@example.org"},
                                               confirm_reverification=True),
                 "PATCH", "/holder",
                 {"holder_contact": {"action_mode": "edit_current", "email": "new@example.org",
                                     "confirm_reverification": "1"}},
                 {}, id="update_holder-edit_current"),
    pytest.param(lambda api: api.update_holder(REF, action_mode="change", source_contact_id=777),
                 "PATCH", "/holder",
                 {"holder_contact": {"action_mode": "change"}, "source_domain_contact_id": 777},
                 {}, id="update_holder-change-existing"),
    pytest.param(lambda api: api.update_holder(REF, action_mode="change",
                                               new_contact=NEW_CONTACT),
                 "PATCH", "/holder",
                 {"holder_contact": {"action_mode": "change"}, "new_contact": NEW_CONTACT},
                 {}, id="update_holder-change-new"),
    pytest.param(lambda api: api.set_role_contacts(REF, {
                     "admin": RoleContactSource("same_as_owner"),
                     "tech": RoleContactSource("existing", contact_id=777),
                     "billing": RoleContactSource("new", new_contact=NEW_CONTACT)}),
                 "PATCH", "/contacts",
                 {"admin_contact": {"source": "same_as_owner"},
                  "tech_contact": {"source": "existing"}, "tech_source_domain_contact_id": 777,
                  "billing_contact": {"source": "new"}, "billing_new_contact": NEW_CONTACT},
                 {}, id="set_role_contacts"),
    pytest.param(lambda api: api.decide_transfer_out(REF, "approve"), "POST", "/transfer_out",
                 {"decision": "approve"}, {"transfer_out_pending": False},
                 id="decide_transfer_out"),
    pytest.param(lambda api: api.push_transfer(REF, "REG-IDS"), "POST", "/push_transfer",
                 {"recipient": "REG-IDS"}, {"push_transfer_pending": True}, id="push_transfer"),
    pytest.param(lambda api: api.force_sync(REF), "POST", "/force_sync", NO_BODY,
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
    api, upstream = domain_api(respond(200, answer, request_id="req-200"))

    result = call(api)

    assert_sent(upstream.only, method, registration_path(suffix), body=body)
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
    api, upstream = domain_api(respond(202, answer, request_id="req-202"))

    result = call(api)

    assert_sent(upstream.only, method, registration_path(suffix), body=body)
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
    api, upstream = domain_api(respond(200, {
        "domain_registration": registration_payload(auto_renew=auto_renew),
        "scenario": scenario,
    }))

    result = api.set_auto_renew(REF, auto_renew)

    assert_sent(upstream.only, "PATCH", registration_path(),
                body={"domain_registration": {"auto_renew": auto_renew}})
    assert isinstance(result, Done)
    assert result.body["scenario"] == scenario
    assert result.changes["auto_renew"] is auto_renew


def test_force_sync_reports_the_changed_fields():
    api, upstream = domain_api(respond(200, {
        "domain_registration": registration_payload(
            expires_at="2027-03-14T12:00:00Z", nameservers=["ns1.other.net"]),
        "changed": ["expires_at", "nameservers"],
    }))

    result = api.force_sync(REF)

    assert_sent(upstream.only, "POST", registration_path("/force_sync"))
    assert isinstance(result, Done)
    assert result.body["changed"] == ["expires_at", "nameservers"]
    assert result.changes["expires_at"] == datetime(2027, 3, 14, 12, 0, tzinfo=UTC)
    assert result.changes["nameservers"] == ["ns1.other.net"]


def test_force_sync_answered_202_is_refused_as_unexpected():
    api, upstream = domain_api(respond(202, {"domain_registration": registration_payload(),
                                             "pending_process": process_payload()}))

    with pytest.raises(MalformedResponse) as caught:
        api.force_sync(REF)

    assert caught.value.code == "unexpected_response"
    assert upstream.count == 1


@pytest.mark.parametrize(
    ("call", "path_suffix", "body", "role", "amount"),
    [
        pytest.param(lambda api: api.set_privacy(REF, True), "/privacy",
                     {"privacy_protect": True}, "privacy", 500, id="privacy"),
        pytest.param(lambda api: api.update_holder(REF, action_mode="change",
                                                   source_contact_id=777), "/holder",
                     {"holder_contact": {"action_mode": "change"},
                      "source_domain_contact_id": 777},
                     "registrant_change", 1099, id="holder-change"),
    ],
)
def test_fee_gate_402_is_payment_required(call, path_suffix, body, role, amount):
    api, upstream = domain_api(respond(402, {
        "errors": ["Enabling privacy on this TLD costs money"],
        "code": "payment_required",
        "price": {"amount_cents": amount, "currency": "usd", "role": role},
        "portal_url": "https://portal.example.test/domains/example.co.uk/billing",
        "remediation": "Complete the purchase in the portal.",
    }, request_id="req-402"))

    result = call(api)

    assert_sent(upstream.only, "PATCH", registration_path(path_suffix), body=body)
    assert result == PaymentRequired(
        price=Money(amount, "USD"),
        portal_url="https://portal.example.test/domains/example.co.uk/billing",
        role=role,
        remediation="Complete the purchase in the portal.",
        request_id="req-402",
    )


@pytest.mark.parametrize("price", [None, {"currency": "USD", "role": "privacy"}],
                         ids=["no-price", "no-amount"])
def test_fee_gate_without_a_price_is_a_plain_failure(price):
    # Staff cannot be shown a fee gate without its price: it stays an error.
    body = {"errors": ["pay first"], "code": "payment_required",
            "portal_url": "https://portal.example.test/billing"}
    if price is not None:
        body["price"] = price
    api, upstream = domain_api(respond(402, body))

    with pytest.raises(PaymentRequiredError) as caught:
        api.set_privacy(REF, True)

    assert (caught.value.status, caught.value.code) == (402, "payment_required")
    assert upstream.count == 1


@pytest.mark.parametrize(
    ("kwargs", "body"),
    [({"source_contact_id": 777}, {"source_domain_contact_id": 777}),
     ({"new_contact": NEW_CONTACT}, {"new_contact": NEW_CONTACT})],
    ids=["existing", "new"],
)
def test_order_registrant_change(kwargs, body):
    order = order_payload(9001, kind="registrant_change", domain="example.co.uk",
                          registration_id=GUID)
    api, upstream = domain_api(respond(202, {"order": order,
                                             "cart": {"id": 55, "status": "paid"}},
                                       request_id="req-order"))

    placed = api.order_registrant_change(REF, idempotency_key="backoffice-order-7", **kwargs)

    # The local order's key goes with it: sent again, the upstream answers with the
    # first order and charges once.
    assert_sent(upstream.only, "POST", registration_path("/registrant_change"), body=body,
                idempotency_key="backoffice-order-7")
    # The cart is paid when the order is accepted, whatever becomes of the order.
    assert placed == PlacedOrder(
        record=order_record(9001, type=OrderType.REGISTRANT_CHANGE, domain="example.co.uk",
                            registration_id=GUID, paid=True),
        request_id="req-order")
    assert placed.record.upstream_id == "9001"
    assert placed.estimated is False


@pytest.mark.parametrize("kwargs", [{}, {"source_contact_id": 777, "new_contact": NEW_CONTACT}],
                         ids=["neither", "both"])
def test_order_registrant_change_needs_exactly_one_source(kwargs):
    api, upstream = domain_api(respond(202, {}))

    with pytest.raises(CallerError, match="exactly one"):
        api.order_registrant_change(REF, idempotency_key="backoffice-order-7", **kwargs)

    assert upstream.count == 0


def test_order_registrant_change_needs_the_local_orders_key():
    # Without a key a retry, or settling a lost answer, could charge twice.
    api, upstream = domain_api(respond(202, {}))

    with pytest.raises(CallerError, match="the local order's key"):
        api.order_registrant_change(REF, idempotency_key="", source_contact_id=777)

    assert upstream.count == 0


def test_get_auth_code():
    api, upstream = domain_api(respond(200, {"authcode": "Xy7#pQ2!zR"}))

    assert api.get_auth_code(REF) == "Xy7#pQ2!zR"

    assert_sent(upstream.only, "GET", registration_path("/epp_code"))


@pytest.mark.parametrize(
    ("code", "error_class", "retryable"),
    [("registrar_unavailable", UpstreamFailure, True),
     ("", UpstreamFailure, True),
     ("authcode_unavailable", AuthcodeUnavailable, True)],
)
def test_get_auth_code_is_never_retried_even_on_502(code, error_class, retryable):
    sleeps: list[float] = []
    api, upstream = domain_api(respond(502, {"errors": ["upstream said no"], "code": code}),
                               respond(200, {"authcode": "never-fetched"}), sleep=sleeps.append)

    with pytest.raises(error_class) as caught:
        api.get_auth_code(REF)

    assert upstream.count == 1, "the auth code GET uses NO_RETRY"
    assert sleeps == []
    assert_sent(upstream.only, "GET", registration_path("/epp_code"))
    assert caught.value.status == 502
    assert caught.value.code == (code or "http_502")
    # Retryable says a later, deliberate attempt may work; the client itself never repeats.
    assert caught.value.retryable is retryable


def test_resend_holder_verification():
    api, upstream = domain_api(respond(200, {"status": "queued"}))

    assert api.resend_holder_verification(REF) == "queued"

    assert_sent(upstream.only, "POST", registration_path("/resend_contact_verification"))


# --- Hosts ---------------------------------------------------------------------------

HOST = {"host_name": "ns1.example.co.uk",
        "addresses": [{"address": "192.0.2.53", "version": 4},
                      {"address": "2001:db8::53", "version": 6}]}


def test_list_hosts():
    api, upstream = domain_api(respond(200, {"hosts": [HOST]}))

    assert api.list_hosts(REF) == [HOST]

    assert_sent(upstream.only, "GET", registration_path("/hosts"))


def test_create_host():
    api, upstream = domain_api(respond(201, {"host": HOST}))

    host = api.create_host(REF, "ns1.example.co.uk", ["192.0.2.53", "2001:db8::53"])

    assert_sent(upstream.only, "POST", registration_path("/hosts"), body={
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
    api, upstream = domain_api(respond(200, {"host": {**HOST, "host_name": host_name}}))

    host = api.update_host(REF, host_name, ["198.51.100.7"])

    assert_sent(upstream.only, "PATCH", registration_path(f"/hosts/{quoted}"),
                body={"addresses": [{"address": "198.51.100.7"}]})
    assert host["host_name"] == host_name


def test_delete_host_quotes_the_host_name():
    api, upstream = domain_api(respond(204, request_id="req-del-host"))

    assert api.delete_host(REF, "ns1.example.co.uk/x") == "req-del-host"

    assert_sent(upstream.only, "DELETE", registration_path("/hosts/ns1.example.co.uk%2Fx"))


# --- Processes -----------------------------------------------------------------------


def test_list_processes():
    raw = [process_payload(880002, status="SUSPENDED"), process_payload(880001, status="COMPLETED")]
    api, upstream = domain_api(respond(200, {"processes": raw}))

    processes = api.list_processes(REF)

    assert_sent(upstream.only, "GET", registration_path("/processes"))
    assert processes == [
        ProcessInfo(id="880002", status="SUSPENDED", action="update_nameservers", raw=raw[0]),
        ProcessInfo(id="880001", status="COMPLETED", action="update_nameservers", raw=raw[1]),
    ]


def test_get_process_with_its_log():
    log = [{"date": "2025-06-01T08:00:00Z", "level": "INFO", "message": "Sent to registry"},
           {"date": "2025-06-01T08:00:05Z", "level": "WARN", "message": "Registry slow"}]
    api, upstream = domain_api(respond(200, {"process": process_payload(880001), "log": log}))

    view = api.get_process(REF, "880001")

    assert_sent(upstream.only, "GET", registration_path("/processes/880001"))
    assert view == ProcessView(
        process=ProcessInfo(id="880001", status="RUNNING", action="update_nameservers",
                            raw=process_payload(880001)),
        log=log,
    )


def test_resend_process():
    api, upstream = domain_api(respond(200, {"status": "queued"}))

    assert api.resend_process(REF, "880001") == "queued"

    assert_sent(upstream.only, "POST", registration_path("/processes/880001/resend"))


def test_cancel_process():
    api, upstream = domain_api(respond(200, {"status": "cancelled"}))

    assert api.cancel_process(REF, "88/0001") == "cancelled"

    assert_sent(upstream.only, "DELETE", registration_path("/processes/88%2F0001/cancel"))


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
def test_create_domain_order(kwargs, body):
    api, upstream = domain_api(respond(202, {"order": order_payload(9002),
                                             "cart": {"id": 56, "status": "paid"}},
                                       request_id="req-place"))

    placed = api.create_domain_order(idempotency_key="order-42", **kwargs)

    assert_sent(upstream.only, "POST", "/api/orders/domain", body=body,
                idempotency_key="order-42")
    assert placed == PlacedOrder(record=order_record(9002, paid=True), request_id="req-place")
    assert placed.record.upstream_id == "9002"


def test_create_domain_order_answered_without_an_order_is_malformed():
    # Charged, but nothing says for what: the caller must not take it for a refusal.
    api, upstream = domain_api(respond(202, {"cart": {"id": 56, "status": "paid"}}))

    with pytest.raises(MalformedResponse):
        api.create_domain_order(domain="example.com", action="register", years=1,
                                idempotency_key="order-42", source_contact_id=501)

    assert upstream.count == 1


def test_read_order():
    api, upstream = domain_api(respond(200, {"order": order_payload(9002, status="completed")}))

    record = api.read_order("9002")

    assert_sent(upstream.only, "GET", "/api/orders/9002")
    assert record == order_record(9002, state=OrderState.COMPLETED)
    # Read again, the order says nothing about the cart: paid stays unstated.
    assert record.paid is None


def test_read_order_quotes_the_order_id():
    api, upstream = domain_api(respond(200, {"order": order_payload(9002)}))

    api.read_order("90/02?x")

    assert_sent(upstream.only, "GET", "/api/orders/90%2F02%3Fx")


@pytest.mark.parametrize("answer", [{"order": order_payload(9002, status="shipped")},
                                    {"order": None}, {}],
                         ids=["unknown-status", "null", "absent"])
def test_read_order_of_the_wrong_shape_is_malformed(answer):
    api, upstream = domain_api(respond(200, answer))

    with pytest.raises(MalformedResponse) as caught:
        api.read_order("9002")

    assert caught.value.code == "malformed_response"
    assert upstream.count == 1


# --- Domain search ------------------------------------------------------------------------


def test_domain_offer_is_check_availability_priced_for_the_term():
    api, upstream = domain_api(respond(200, {
        "domain": "example.com", "available": True, "premium": True,
        "owned_by_account": False, "reason": None,
        "create_price": {"amount_cents": 1099, "currency": "usd"}, "transfer_price": None}))
    offer = api.domain_offer("example.com", years=3)
    assert_sent(upstream.only, "POST", "/api/domain_registrations/check",
                body={"domain": "example.com"})
    assert (offer.domain, offer.available, offer.premium) == ("example.com", True, True)
    assert (offer.term_years, offer.term_price) == (3, Money(3297, "USD"))
    assert offer.renewal_price is None


def test_domain_offer_of_a_name_in_the_account_says_so():
    api, _ = domain_api(respond(200, {
        "domain": "example.com", "available": False, "premium": False,
        "owned_by_account": True, "reason": None, "create_price": None,
        "transfer_price": {"amount_cents": 899, "currency": "EUR"}}))
    offer = api.domain_offer("example.com", years=1)
    assert (offer.available, offer.term_price, offer.reason) == (
        False, None, "already in this account")


def test_domain_suggestions_price_each_for_the_term():
    api, upstream = domain_api(respond(200, {"domain": "example", "suggestions": [
        {"domain": "example.net", "tld": "net", "source": "spinner", "available": True,
         "price": {"amount_cents": 1299, "currency": "USD"}},
        {"domain": "ex.com", "tld": "com", "source": "premium", "available": False,
         "price": None}]}))
    offers = api.domain_suggestions("example", tlds=["com"], years=2)
    assert_sent(upstream.only, "POST", "/api/domain_registrations/suggestions",
                body={"domain": "example"})
    assert [(o.domain, o.available, o.premium, o.term_price) for o in offers] == [
        ("example.net", True, False, Money(2598, "USD")), ("ex.com", False, True, None)]
