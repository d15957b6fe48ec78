"""How DomainApiProvider turns every failure into a ProviderError: each documented
(status, code), unknown codes, broken transports and broken answers. Staff see only a
safe message; the raw upstream body goes to the log, and the token goes nowhere."""

from __future__ import annotations

import logging

import httpx
import pytest

from registrar.providers.base import Money, PaymentRequired
from registrar.providers.domain_api.wire import KNOWN_CODES
from registrar.providers.errors import (
    AuthcodeUnavailable,
    AuthenticationFailed,
    BadRequest,
    Conflict,
    ContactInvalid,
    InvalidRequest,
    MalformedResponse,
    NotFound,
    PaymentRequiredError,
    PermissionDenied,
    ProviderError,
    RateLimited,
    RegistrationBusy,
    ReverificationRequired,
    ServiceUnavailable,
    TransferProhibited,
    TransportError,
    Unsupported,
    UpstreamFailure,
)
from registrar.providers.http import DEFAULT_RETRY, LOGGED_BODY_LIMIT
from tests.fakes.http import fail_with, respond
from tests.registrar.providers.domain_api.shapes import (
    NEW_CONTACT,
    REF,
    TOKEN,
    domain_api,
    registration_path,
    registration_payload,
)

RAW_UPSTREAM_TEXT = "RTR said: ContactHandle C501 rejected by nic.uk (internal ref 7731)"


def error_body(code: str, *errors: str, **extra) -> dict:
    return {"errors": list(errors) or [RAW_UPSTREAM_TEXT], "code": code, **extra}


def expected_requests(error: ProviderError) -> int:
    """A GET is repeated only for retryable 502/503/504 answers."""
    if error.retryable and error.status in DEFAULT_RETRY.retry_statuses:
        return DEFAULT_RETRY.attempts
    return 1


def assert_safe_message(error: ProviderError) -> None:
    assert error.message, "staff need a message"
    assert str(error) == error.message
    assert RAW_UPSTREAM_TEXT not in error.message
    assert "RTR said" not in error.message
    assert TOKEN not in error.message


# --- Every documented code -------------------------------------------------------------

# Document 001, code by code, with the class and retryability staff and callers rely on.
# Hard-coded on purpose: a code dropped from KNOWN_CODES fails here.
DOC_001_CODES: list[tuple[int, str, type[ProviderError], bool]] = [
    (400, "missing_account_header", BadRequest, False),  # "a missing header returns 400"
    (400, "no_op", BadRequest, False),
    (401, "user_required", AuthenticationFailed, False),
    (402, "payment_required", PaymentRequiredError, False),
    (403, "forbidden", PermissionDenied, False),
    (403, "trial_account", PermissionDenied, False),
    (404, "tld_not_found", NotFound, False),
    (404, "source_contact_not_found", NotFound, False),
    (409, "registration_busy", RegistrationBusy, True),
    (409, "reverification_required", ReverificationRequired, False),
    (422, "contact_in_use", InvalidRequest, False),
    (422, "tld_required_for_orphan", InvalidRequest, False),
    (422, "missing_domain", InvalidRequest, False),
    (422, "invalid_domain", InvalidRequest, False),
    (422, "unknown_tld", InvalidRequest, False),
    (422, "cancellation_window_passed", InvalidRequest, False),
    (422, "nameservers_required", InvalidRequest, False),
    (422, "lock_unsupported", Unsupported, False),
    (422, "server_transfer_prohibited", TransferProhibited, False),
    (422, "privacy_unsupported", Unsupported, False),
    (422, "invalid_mode", InvalidRequest, False),
    (422, "dnssec_no_keys", InvalidRequest, False),
    (422, "source_contact_not_found", InvalidRequest, False),
    (422, "contact_invalid", ContactInvalid, False),
    (422, "no_registrant_change_price", InvalidRequest, False),
    (422, "cart_pay_failed", InvalidRequest, False),
    (422, "owner_contact_missing", InvalidRequest, False),
    (422, "authcode_unavailable", AuthcodeUnavailable, False),
    (422, "no_pending_transfer_out", InvalidRequest, False),
    (422, "invalid_decision", InvalidRequest, False),
    (422, "push_transfer_unsupported", Unsupported, False),
    (422, "push_transfer_in_progress", InvalidRequest, False),
    (422, "domain_not_transferable", InvalidRequest, False),
    (422, "verification_not_applicable", InvalidRequest, False),
    (502, "authcode_unavailable", AuthcodeUnavailable, True),
    (502, "registrar_unavailable", UpstreamFailure, True),
    (503, "feature_disabled", ServiceUnavailable, False),
    (503, "registrar_unavailable", ServiceUnavailable, False),
    (503, "missing_api_key", ServiceUnavailable, False),
]

# docs/domain-api.md adds these to the table.
WIRE_DOC_CODES: list[tuple[int, str, type[ProviderError], bool]] = [
    (401, "unauthorized", AuthenticationFailed, False),
    (404, "not_found", NotFound, False),
]


def _params(rows):
    for status, code, cls, retryable in rows:
        yield pytest.param(status, code, cls, retryable, id=f"{status}-{code}")


@pytest.mark.parametrize(("status", "code"), sorted(KNOWN_CODES), ids=lambda v: str(v))
def test_every_known_code_raises_its_class_with_a_safe_message(status, code):
    cls, message = KNOWN_CODES[(status, code)]
    api, upstream = domain_api(respond(status, error_body(code), request_id="req-err"))

    with pytest.raises(ProviderError) as caught:
        api.get_registration(REF)

    error = caught.value
    assert type(error) is cls
    assert error.status == status
    assert error.code == code
    assert error.message == message
    assert_safe_message(error)
    assert error.request_id == "req-err"
    assert error.details["upstream_message"] == RAW_UPSTREAM_TEXT
    if status == 503:
        assert error.retryable is False, "503 here is upstream configuration: do not retry"
    elif status >= 500:
        assert error.retryable is True, "the registrar failed this time: worth retrying"
    else:
        assert error.retryable is cls.retryable_by_default
    assert upstream.count == expected_requests(error)


@pytest.mark.parametrize(("status", "code", "cls", "retryable"),
                         list(_params(DOC_001_CODES + WIRE_DOC_CODES)))
def test_every_documented_code_is_in_the_table_and_maps_right(status, code, cls, retryable):
    assert (status, code) in KNOWN_CODES, f"{status} {code} is documented but not mapped"
    api, _ = domain_api(respond(status, error_body(code)))

    with pytest.raises(ProviderError) as caught:
        api.get_registration(REF)

    error = caught.value
    assert type(error) is cls
    assert (error.status, error.code) == (status, code)
    assert error.message == KNOWN_CODES[(status, code)][1]
    assert_safe_message(error)
    assert error.retryable is retryable


def test_502_authcode_unavailable_from_the_auth_code_endpoint():
    api, upstream = domain_api(respond(502, error_body("authcode_unavailable")))

    with pytest.raises(AuthcodeUnavailable) as caught:
        api.get_auth_code(REF)

    assert (caught.value.status, caught.value.code) == (502, "authcode_unavailable")
    assert "try again later" in caught.value.message
    assert_safe_message(caught.value)
    assert upstream.count == 1


@pytest.mark.parametrize(("status", "code"), [(409, "price_changed"), (422, "invalid_host_name"),
                                              (422, "invalid_address"), (422, "host_exists")])
def test_codes_from_the_wire_document_have_their_own_message(status, code):
    assert (status, code) in KNOWN_CODES


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [(409, "price_changed", Conflict), (422, "invalid_host_name", InvalidRequest),
     (422, "invalid_address", InvalidRequest), (422, "host_exists", InvalidRequest),
     (404, "not_found", NotFound)],
)
def test_host_and_order_errors_fall_back_on_their_status(status, code, cls):
    api, upstream = domain_api(respond(status, error_body(code)))

    with pytest.raises(cls) as caught:
        api.create_host(REF, "ns1.example.co.uk", ["192.0.2.1"])

    assert (caught.value.status, caught.value.code) == (status, code)
    assert_safe_message(caught.value)
    assert upstream.count == 1


# --- 402: an error on a read, a result on a mutation ------------------------------------

FEE_BODY = error_body(
    "payment_required",
    price={"amount_cents": 500, "currency": "usd", "role": "privacy"},
    portal_url="https://portal.example.test/billing",
    remediation="Buy privacy in the portal.",
)


def test_402_on_a_read_raises_payment_required_error():
    api, _ = domain_api(respond(402, FEE_BODY, request_id="req-402"))

    with pytest.raises(PaymentRequiredError) as caught:
        api.get_registration(REF)

    error = caught.value
    assert (error.status, error.code, error.retryable) == (402, "payment_required", False)
    assert error.request_id == "req-402"
    assert error.details["price"] == {"amount_cents": 500, "currency": "usd", "role": "privacy"}
    assert error.details["portal_url"] == "https://portal.example.test/billing"
    assert error.details["remediation"] == "Buy privacy in the portal."
    assert_safe_message(error)


def test_402_on_a_mutation_returns_payment_required():
    api, upstream = domain_api(respond(402, FEE_BODY, request_id="req-402"))

    result = api.set_privacy(REF, True)

    assert result == PaymentRequired(price=Money(500, "USD"),
                                     portal_url="https://portal.example.test/billing",
                                     role="privacy", remediation="Buy privacy in the portal.",
                                     request_id="req-402")
    assert upstream.count == 1


# --- Unknown codes map by status -------------------------------------------------------

BY_STATUS = [
    (400, BadRequest), (401, AuthenticationFailed), (403, PermissionDenied), (404, NotFound),
    (409, Conflict), (422, InvalidRequest), (429, RateLimited), (500, UpstreamFailure),
    (502, UpstreamFailure), (503, UpstreamFailure), (504, UpstreamFailure),
    (418, ProviderError),
]


@pytest.mark.parametrize(("status", "cls"), BY_STATUS, ids=[str(s) for s, _ in BY_STATUS])
@pytest.mark.parametrize("code", ["", "brand_new_code"], ids=["no-code", "unknown-code"])
def test_unknown_codes_map_by_status(status, cls, code):
    api, upstream = domain_api(respond(status, error_body(code)))

    with pytest.raises(ProviderError) as caught:
        api.get_registration(REF)

    error = caught.value
    assert type(error) is cls
    assert error.status == status
    assert error.code == (code or f"http_{status}")
    assert error.message == cls.default_message
    assert error.retryable is cls.retryable_by_default
    assert_safe_message(error)
    assert upstream.count == expected_requests(error)


def test_contact_invalid_keeps_the_violations():
    violations = [{"field": "phone", "message": "must be +CC.NUMBER"},
                  {"field": "country", "message": "must be ISO-2"}]
    api, upstream = domain_api(respond(422, error_body("contact_invalid", violations=violations)))

    with pytest.raises(ContactInvalid) as caught:
        api.order_registrant_change(REF, idempotency_key="backoffice-order-7",
                                    new_contact=NEW_CONTACT)

    assert caught.value.violations == violations
    assert caught.value.code == "contact_invalid"
    # A documented refusal: known to have changed (and charged) nothing.
    assert caught.value.documented and caught.value.not_applied
    assert_safe_message(caught.value)
    assert upstream.count == 1
    assert upstream.only.headers["Idempotency-Key"] == "backoffice-order-7"


@pytest.mark.parametrize("errors", ["a single string", None, 42])
def test_odd_error_bodies_still_map(errors):
    api, _ = domain_api(respond(409, {"errors": errors, "code": "registration_busy"}))

    with pytest.raises(RegistrationBusy) as caught:
        api.set_lock(REF, True)

    assert caught.value.message == RegistrationBusy.default_message
    assert caught.value.retryable is True


# --- Broken transports and broken answers ----------------------------------------------

INTERNAL_DETAIL = "socket detail 10.1.2.3:443 secret-ish"


@pytest.mark.parametrize(
    ("exc_type", "code"),
    [(httpx.ReadTimeout, "timeout"), (httpx.WriteTimeout, "timeout"),
     # No connection from the pool: nothing was sent.
     (httpx.PoolTimeout, "connect_error"), (httpx.ConnectTimeout, "connect_error"),
     (httpx.ConnectError, "connect_error"), (httpx.RemoteProtocolError, "transport_error"),
     (httpx.ReadError, "transport_error")],
)
def test_transport_failures_become_transport_errors(exc_type, code):
    api, upstream = domain_api(fail_with(exc_type, INTERNAL_DETAIL))

    with pytest.raises(TransportError) as caught:
        api.get_registration(REF)

    error = caught.value
    assert error.code == code
    assert error.status is None
    assert error.retryable is True
    assert_safe_message(error)
    assert INTERNAL_DETAIL not in error.message
    assert INTERNAL_DETAIL in error.details["error"]
    assert isinstance(error.__cause__, exc_type)
    assert upstream.count == DEFAULT_RETRY.attempts  # a GET may be repeated


def test_a_timeout_says_the_change_may_have_happened():
    api, upstream = domain_api(fail_with(httpx.ReadTimeout, INTERNAL_DETAIL))

    with pytest.raises(TransportError) as caught:
        api.set_lock(REF, True)

    assert caught.value.code == "timeout"
    assert caught.value.outcome_unknown and not caught.value.not_applied
    assert "may have applied the change" in caught.value.message
    assert upstream.count == 1


HTML_PAGE = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


@pytest.mark.parametrize(
    ("answer", "cls", "code", "status"),
    [
        pytest.param(respond(200, text='{"domain_registration": {"id": ',
                             content_type="application/json"),
                     MalformedResponse, "malformed_response", 200, id="truncated-json-200"),
        pytest.param(respond(200, text=HTML_PAGE, content_type="text/html"),
                     MalformedResponse, "malformed_response", 200, id="html-200"),
        pytest.param(respond(200, text="OK", content_type="text/plain"),
                     MalformedResponse, "malformed_response", 200, id="text-plain-200"),
        pytest.param(respond(502, text=HTML_PAGE, content_type="text/html"),
                     UpstreamFailure, "http_502", 502, id="html-502"),
        pytest.param(respond(503, text="Service Unavailable", content_type="text/plain"),
                     UpstreamFailure, "http_503", 503, id="text-503"),
        pytest.param(respond(404, text=HTML_PAGE, content_type="text/html"),
                     NotFound, "http_404", 404, id="html-404"),
        pytest.param(respond(500, text=""), UpstreamFailure, "http_500", 500, id="empty-500"),
    ],
)
def test_unreadable_answers_become_provider_errors(answer, cls, code, status):
    api, upstream = domain_api(answer)

    with pytest.raises(ProviderError) as caught:
        api.get_registration(REF)

    error = caught.value
    assert type(error) is cls
    assert (error.code, error.status) == (code, status)
    assert_safe_message(error)
    assert "<html>" not in error.message
    assert upstream.count == expected_requests(error)


@pytest.mark.parametrize(
    ("call", "answer"),
    [
        pytest.param(lambda api: api.get_registration(REF), respond(200),
                     id="get_registration-empty"),
        pytest.param(lambda api: api.get_registration(REF), respond(200, []),
                     id="get_registration-array"),
        pytest.param(lambda api: api.get_registration(REF), respond(200, {}),
                     id="get_registration-no-key"),
        pytest.param(lambda api: api.get_registration(REF),
                     respond(200, {"domain_registration": registration_payload(
                         expires_at="2025-13-45T00:00:00Z")}),
                     id="get_registration-bad-date"),
        pytest.param(lambda api: api.list_contacts(), respond(200),
                     id="list_contacts-empty"),
        pytest.param(lambda api: next(api.iter_registrations()), respond(200),
                     id="iter_registrations-empty"),
        pytest.param(lambda api: api.get_auth_code(REF), respond(200),
                     id="get_auth_code-empty"),
        pytest.param(lambda api: api.check_availability("example.com"), respond(200),
                     id="check_availability-empty"),
        pytest.param(lambda api: api.update_contact(501, contact={"city": "Leeds"}),
                     respond(200, {"split": None}),
                     id="update_contact-no-key"),
        pytest.param(lambda api: api.get_process(REF, "880001"), respond(200, []),
                     id="get_process-array"),
        pytest.param(lambda api: api.read_order("9001"), respond(200),
                     id="read_order-empty"),
    ],
)
def test_empty_or_wrong_shaped_200_is_a_malformed_response(call, answer):
    api, _ = domain_api(answer)

    with pytest.raises(MalformedResponse) as caught:
        call(api)

    assert_safe_message(caught.value)


def test_empty_204_is_fine_where_the_document_promises_it():
    api, _ = domain_api(respond(204, request_id="req-204"))

    assert api.delete_host(REF, "ns1.example.co.uk") == "req-204"
    assert api.delete_contact(501) == "req-204"


# --- Logging ---------------------------------------------------------------------------


def _records_from(caplog, logger_name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == logger_name]


def assert_token_never_logged(caplog) -> None:
    for record in caplog.records:
        text = record.getMessage()
        assert TOKEN not in text, f"token leaked via {record.name}: {text!r}"
        assert "Bearer" not in text
    assert TOKEN not in caplog.text


def test_error_body_is_logged_but_not_the_token(caplog):
    caplog.set_level(logging.DEBUG)
    api, _ = domain_api(respond(422, error_body("lock_unsupported")))

    with pytest.raises(Unsupported):
        api.set_lock(REF, True)

    records = _records_from(caplog, "registrar.providers")
    assert len(records) == 1
    record = records[0]
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert RAW_UPSTREAM_TEXT in message
    assert "PATCH" in message and registration_path("/lock") in message and "422" in message
    assert_token_never_logged(caplog)


def test_long_error_bodies_are_cut_in_the_log(caplog):
    caplog.set_level(logging.DEBUG)
    api, _ = domain_api(respond(422, error_body("invalid_domain", "x" * 10_000)))

    with pytest.raises(InvalidRequest):
        api.check_availability("bad..name")

    (record,) = _records_from(caplog, "registrar.providers")
    message = record.getMessage()
    assert "x" * (LOGGED_BODY_LIMIT - 100) in message
    assert "x" * (LOGGED_BODY_LIMIT + 1) not in message
    assert len(message) < LOGGED_BODY_LIMIT + 200


def test_no_failure_path_logs_the_token(caplog):
    caplog.set_level(logging.DEBUG)
    scenarios = [
        (respond(502, text=HTML_PAGE, content_type="text/html"), UpstreamFailure),
        (fail_with(httpx.ReadTimeout, INTERNAL_DETAIL), TransportError),
        (fail_with(httpx.ConnectError, INTERNAL_DETAIL), TransportError),
        (respond(200, text="<html>oops</html>", content_type="text/html"), MalformedResponse),
        (respond(401, error_body("unauthorized")),
         AuthenticationFailed),
        (respond(503, error_body("feature_disabled")), ServiceUnavailable),
    ]
    for answer, cls in scenarios:
        api, _ = domain_api(answer)
        with pytest.raises(cls):
            api.get_registration(REF)

    provider_records = _records_from(caplog, "registrar.providers")
    assert any(HTML_PAGE in r.getMessage() for r in provider_records), "502 body logged"
    assert any("retry" in r.getMessage() for r in provider_records), "retries logged"
    assert_token_never_logged(caplog)


def test_a_successful_auth_code_is_not_logged(caplog):
    caplog.set_level(logging.DEBUG)
    api, _ = domain_api(respond(200, {"authcode": "Xy7#pQ2!zR"}))

    assert api.get_auth_code(REF) == "Xy7#pQ2!zR"

    assert "Xy7#pQ2!zR" not in caplog.text
    assert_token_never_logged(caplog)


def test_a_truncated_auth_code_answer_does_not_leak_the_code_to_the_log(caplog):
    caplog.set_level(logging.DEBUG)
    api, _ = domain_api(respond(200, text='{"authcode": "Xy7#pQ2!zR"',
                                content_type="application/json"))

    with pytest.raises(MalformedResponse):
        api.get_auth_code(REF)

    assert "Xy7#pQ2!zR" not in caplog.text
