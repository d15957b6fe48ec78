"""HttpClient's retry policy, seen through DomainApiProvider: what is repeated, what is
not, and how long it waits (recorded, never slept)."""

from __future__ import annotations

import logging

import httpx
import pytest

from registrar.providers import http as http_module
from registrar.providers.base import (
    Done,
    InvalidRequest,
    MalformedResponse,
    PaymentRequired,
    RateLimited,
    RegistrationBusy,
    ServiceUnavailable,
    TransportError,
    UpstreamFailure,
)
from registrar.providers.domain_api import OrderAccepted
from registrar.providers.http import DEFAULT_RETRY, NO_RETRY, RetryPolicy
from tests.registrar.providers.test_domain_api_requests import (
    GUID,
    assert_sent,
    fail_with,
    make_harness,
    order_payload,
    registration_fields,
    registration_path,
    registration_payload,
    respond,
)

BUSY_502 = respond(502, {"errors": ["registrar timed out"], "code": "registrar_unavailable"})
OK_VIEW = respond(200, {"domain_registration": registration_payload()})
OK_MUTATION = respond(200, {"domain_registration": registration_payload()})
INVALID_422 = respond(422, {"errors": ["nope"], "code": "push_transfer_unsupported"})


def assert_backoff(sleeps: list[float], policy: RetryPolicy = DEFAULT_RETRY) -> None:
    """Each delay n is full jitter over the capped exponential: [0, min(max, base*2**n)]."""
    for attempt, delay in enumerate(sleeps):
        assert 0 <= delay <= min(policy.max_delay, policy.base_delay * 2**attempt), (
            f"delay {attempt} = {delay}"
        )
        assert delay <= policy.max_delay


def test_the_defaults():
    assert DEFAULT_RETRY.attempts == 3
    assert DEFAULT_RETRY.retry_statuses == frozenset({502, 503, 504})
    assert DEFAULT_RETRY.base_delay < DEFAULT_RETRY.max_delay
    assert NO_RETRY.attempts == 1


# --- GET ---------------------------------------------------------------------------


def test_get_is_retried_after_502_then_succeeds():
    harness = make_harness(BUSY_502, OK_VIEW)

    view = harness.provider.get_registration(GUID)

    assert view.registration.fields == registration_fields()
    assert harness.recorder.count == 2
    for request in harness.recorder.requests:
        assert_sent(request, "GET", registration_path())
    assert len(harness.sleeps) == 1
    assert_backoff(harness.sleeps)


@pytest.mark.parametrize("status", [502, 503, 504])
def test_get_gives_up_after_the_attempts(status):
    harness = make_harness(respond(status, {"errors": ["down"], "code": ""}))

    with pytest.raises(UpstreamFailure) as caught:
        harness.provider.get_registration(GUID)

    assert caught.value.status == status
    assert caught.value.retryable is True
    assert harness.recorder.count == DEFAULT_RETRY.attempts
    assert len(harness.sleeps) == DEFAULT_RETRY.attempts - 1
    assert_backoff(harness.sleeps)


def test_a_custom_policy_sets_the_number_of_attempts():
    policy = RetryPolicy(attempts=5, base_delay=0.1, max_delay=0.3)
    harness = make_harness(BUSY_502, retry=policy)

    with pytest.raises(UpstreamFailure):
        harness.provider.list_hosts(GUID)

    assert harness.recorder.count == 5
    assert len(harness.sleeps) == 4
    assert_backoff(harness.sleeps, policy)


@pytest.mark.parametrize("exc_type", [httpx.ReadTimeout, httpx.ConnectTimeout, httpx.ConnectError,
                                      httpx.RemoteProtocolError])
def test_get_transport_failure_is_retried(exc_type):
    harness = make_harness(fail_with(exc_type), OK_VIEW)

    view = harness.provider.get_registration(GUID)

    assert view.registration.fields["upstream_id"] == GUID
    assert harness.recorder.count == 2
    assert len(harness.sleeps) == 1
    assert_backoff(harness.sleeps)


def test_get_timeout_every_time_gives_up_with_a_transport_error():
    harness = make_harness(fail_with(httpx.ReadTimeout))

    with pytest.raises(TransportError) as caught:
        harness.provider.list_processes(GUID)

    assert caught.value.code == "timeout"
    assert harness.recorder.count == DEFAULT_RETRY.attempts


def test_delete_is_idempotent_and_retried():
    harness = make_harness(BUSY_502, respond(204, request_id="req-gone"))

    assert harness.provider.delete_host(GUID, "ns1.example.co.uk") == "req-gone"

    assert harness.recorder.count == 2
    for request in harness.recorder.requests:
        assert_sent(request, "DELETE", registration_path("/hosts/ns1.example.co.uk"))


@pytest.mark.parametrize(
    ("answer", "error_class", "code"),
    [(respond(500, {"errors": ["boom"], "code": ""}), UpstreamFailure, "http_500"),
     (respond(429, {"errors": ["slow down"], "code": "rate_limited"}), RateLimited, "rate_limited"),
     (respond(409, {"errors": ["busy"], "code": "registration_busy"}), RegistrationBusy,
      "registration_busy"),
     (respond(200, text="<html>", content_type="text/html"), MalformedResponse,
      "malformed_response")],
    ids=["500", "429", "409-busy", "malformed-200"],
)
def test_get_is_not_retried_outside_502_503_504(answer, error_class, code):
    harness = make_harness(answer, OK_VIEW)

    with pytest.raises(error_class) as caught:
        harness.provider.get_registration(GUID)

    assert caught.value.code == code
    assert harness.recorder.count == 1
    assert harness.sleeps == []


def test_auth_code_get_is_not_retried_on_timeout_either():
    harness = make_harness(fail_with(httpx.ReadTimeout), respond(200, {"authcode": "abc"}))

    with pytest.raises(TransportError):
        harness.provider.get_auth_code(GUID)

    assert harness.recorder.count == 1
    assert harness.sleeps == []


# --- Non-idempotent methods ----------------------------------------------------------

POSTS = [
    pytest.param(lambda api: api.push_transfer(GUID, "REG-IDS"), id="push_transfer"),
    pytest.param(lambda api: api.force_sync(GUID), id="force_sync"),
    pytest.param(lambda api: api.decide_transfer_out(GUID, "approve"), id="decide_transfer_out"),
    pytest.param(lambda api: api.order_registrant_change(GUID, source_contact_id=7),
                 id="order_registrant_change"),
    pytest.param(lambda api: api.check_availability("example.com"), id="check_availability"),
]


@pytest.mark.parametrize("call", POSTS)
def test_post_that_times_out_is_not_retried(call):
    harness = make_harness(fail_with(httpx.ReadTimeout), OK_MUTATION)

    with pytest.raises(TransportError) as caught:
        call(harness.provider)

    assert caught.value.code == "timeout"
    assert caught.value.retryable is True  # a later, deliberate retry after a re-sync
    assert "re-sync" in caught.value.message
    assert harness.recorder.count == 1
    assert harness.sleeps == []


@pytest.mark.parametrize("call", POSTS)
def test_post_on_502_is_not_retried(call):
    harness = make_harness(BUSY_502, OK_MUTATION)

    with pytest.raises(UpstreamFailure):
        call(harness.provider)

    assert harness.recorder.count == 1
    assert harness.sleeps == []


@pytest.mark.parametrize(
    "call",
    [pytest.param(lambda api: api.set_lock(GUID, True), id="set_lock"),
     pytest.param(lambda api: api.set_nameservers(GUID, ["ns1.example.net"]), id="nameservers"),
     pytest.param(lambda api: api.update_contact(501, contact={"city": "Leeds"}),
                  id="update_contact"),
     pytest.param(lambda api: api.update_host(GUID, "ns1.example.co.uk", ["192.0.2.1"]),
                  id="update_host")],
)
@pytest.mark.parametrize("answer", [BUSY_502, fail_with(httpx.ReadTimeout)],
                         ids=["502", "timeout"])
def test_patch_is_not_retried(call, answer):
    harness = make_harness(answer, OK_MUTATION)

    with pytest.raises((UpstreamFailure, TransportError)):
        call(harness.provider)

    assert harness.recorder.count == 1
    assert harness.recorder.only.method == "PATCH"
    assert harness.sleeps == []


@pytest.mark.parametrize(
    "call",
    [pytest.param(lambda api: api.get_registration(GUID), id="GET"),
     pytest.param(lambda api: api.push_transfer(GUID, "REG-IDS"), id="POST"),
     pytest.param(lambda api: api.place_domain_order(domain="example.com", action="register",
                                                     years=1, idempotency_key="order-1"),
                  id="POST-with-idempotency-key")],
)
def test_422_is_never_retried(call):
    harness = make_harness(INVALID_422, OK_MUTATION)

    with pytest.raises(InvalidRequest) as caught:
        call(harness.provider)

    assert caught.value.retryable is False
    assert harness.recorder.count == 1
    assert harness.sleeps == []


@pytest.mark.parametrize("code", ["feature_disabled", "missing_api_key", "registrar_unavailable"])
def test_503_configuration_codes_are_not_retried(code):
    harness = make_harness(respond(503, {"errors": ["off"], "code": code}), OK_VIEW)

    with pytest.raises(ServiceUnavailable) as caught:
        harness.provider.get_registration(GUID)

    assert caught.value.retryable is False
    assert caught.value.code == code
    assert harness.recorder.count == 1
    assert harness.sleeps == []


@pytest.mark.parametrize("exc_type", [httpx.ConnectError, httpx.ConnectTimeout])
def test_connect_failure_on_post_is_retried_because_nothing_left(exc_type):
    harness = make_harness(fail_with(exc_type), OK_MUTATION)

    result = harness.provider.push_transfer(GUID, "REG-IDS")

    assert isinstance(result, Done)
    assert harness.recorder.count == 2
    for request in harness.recorder.requests:
        assert_sent(request, "POST", registration_path("/push_transfer"),
                    body={"recipient": "REG-IDS"})
    assert len(harness.sleeps) == 1
    assert_backoff(harness.sleeps)


def test_connect_failure_on_post_gives_up_after_the_attempts():
    harness = make_harness(fail_with(httpx.ConnectError))

    with pytest.raises(TransportError) as caught:
        harness.provider.force_sync(GUID)

    assert caught.value.code == "connect_error"
    assert harness.recorder.count == DEFAULT_RETRY.attempts


def test_fee_gate_is_not_retried():
    harness = make_harness(respond(402, {
        "errors": ["pay"], "code": "payment_required",
        "price": {"amount_cents": 500, "currency": "USD", "role": "privacy"},
        "portal_url": "https://portal.example.test", "remediation": "Pay."}))

    assert isinstance(harness.provider.set_privacy(GUID, True), PaymentRequired)
    assert harness.recorder.count == 1


# --- Idempotency-Key -----------------------------------------------------------------

ORDER_KWARGS = {"domain": "example.com", "action": "register", "years": 1,
                "idempotency_key": "local-order-42", "source_contact_id": 501}
ORDER_BODY = {"domain": "example.com", "action": "register", "years": 1,
              "source_domain_contact_id": 501}
ORDER_ACCEPTED = respond(202, {"order": order_payload(9003), "cart": {"id": 1, "status": "paid"}})


@pytest.mark.parametrize("failure", [BUSY_502, fail_with(httpx.ReadTimeout),
                                     respond(504, {"errors": ["gw"], "code": ""})],
                         ids=["502", "timeout", "504"])
def test_post_with_an_idempotency_key_is_retried(failure):
    harness = make_harness(failure, ORDER_ACCEPTED)

    accepted = harness.provider.place_domain_order(**ORDER_KWARGS)

    assert isinstance(accepted, OrderAccepted)
    assert accepted.order_id == "9003"
    assert harness.recorder.count == 2
    for request in harness.recorder.requests:  # the same key both times: one order upstream
        assert_sent(request, "POST", "/api/orders/domain", body=ORDER_BODY,
                    idempotency_key="local-order-42")
    assert len(harness.sleeps) == 1
    assert_backoff(harness.sleeps)


# --- Backoff -------------------------------------------------------------------------


def test_backoff_is_capped_exponential_with_jitter_in_a_real_run():
    policy = RetryPolicy(attempts=7, base_delay=0.5, max_delay=2.0)
    harness = make_harness(BUSY_502, retry=policy)

    with pytest.raises(UpstreamFailure):
        harness.provider.get_order("9003")

    assert harness.recorder.count == 7
    assert len(harness.sleeps) == 6
    assert_backoff(harness.sleeps, policy)


def test_backoff_ceiling_doubles_then_stops_at_max_delay(monkeypatch):
    bounds: list[tuple[float, float]] = []

    def highest(low: float, high: float) -> float:
        bounds.append((low, high))
        return high

    monkeypatch.setattr(http_module.random, "uniform", highest)
    policy = RetryPolicy(attempts=6, base_delay=0.25, max_delay=2.0)
    harness = make_harness(BUSY_502, retry=policy)

    with pytest.raises(UpstreamFailure):
        harness.provider.list_hosts(GUID)

    assert harness.sleeps == [0.25, 0.5, 1.0, 2.0, 2.0]
    assert bounds == [(0, 0.25), (0, 0.5), (0, 1.0), (0, 2.0), (0, 2.0)]


def test_delay_is_full_jitter():
    policy = RetryPolicy(base_delay=0.25, max_delay=2.0)
    for attempt in range(8):
        ceiling = min(policy.max_delay, policy.base_delay * 2**attempt)
        samples = [policy.delay(attempt) for _ in range(200)]
        assert all(0 <= s <= ceiling for s in samples)
        assert len(set(samples)) > 1, "delays are jittered, not fixed"
        assert min(samples) < ceiling / 2 < max(samples)


def test_retries_are_logged_without_sleeping_for_real(caplog):
    caplog.set_level(logging.INFO, logger="registrar.providers")
    harness = make_harness(BUSY_502, OK_VIEW)

    harness.provider.get_registration(GUID)

    retries = [r for r in caplog.records
               if r.name == "registrar.providers" and "retry" in r.getMessage()]
    assert len(retries) == 1
    assert "registrar_unavailable" in retries[0].getMessage()
    assert registration_path() in retries[0].getMessage()
