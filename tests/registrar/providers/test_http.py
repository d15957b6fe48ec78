"""The HTTP layer every adapter shares: HttpClient's retry policy, seen through
DomainApiProvider (what is repeated, what is not, and how long it waits: recorded,
never slept), the parsing helpers adapters build on, and the errors they raise."""

from __future__ import annotations

import logging
import pickle
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from registrar.providers import http as http_module
from registrar.providers.base import Done, PaymentRequired, PlacedOrder, Provider
from registrar.providers.domain_api.adapter import DomainApiProvider
from registrar.providers.domain_api.sandbox import SandboxProvider
from registrar.providers.errors import (
    CallerError,
    InvalidRequest,
    MalformedResponse,
    NotFound,
    PriceMoved,
    ProviderError,
    QuoteRefused,
    RateLimited,
    RegistrationBusy,
    ServiceUnavailable,
    TransportError,
    UpstreamFailure,
    error_for,
)
from registrar.providers.http import (
    DEFAULT_RETRY,
    NO_RETRY,
    HttpProvider,
    RetryPolicy,
    drop_unset,
    guard_parsing,
    parse_timestamp,
)
from tests.fakes.http import Answer, Scripted, fail_with, respond
from tests.registrar.providers.domain_api.shapes import (
    REF,
    assert_sent,
    domain_api,
    order_payload,
    registration_fields,
    registration_path,
    registration_payload,
)


def retrying(*answers: Answer, **provider_kwargs: Any
             ) -> tuple[DomainApiProvider, Scripted, list[float]]:
    """The adapter on a scripted upstream, and the delays it would have slept for."""
    sleeps: list[float] = []
    provider, upstream = domain_api(*answers, sleep=sleeps.append, **provider_kwargs)
    return provider, upstream, sleeps


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
    api, upstream, sleeps = retrying(BUSY_502, OK_VIEW)

    view = api.get_registration(REF)

    assert view.registration.fields == registration_fields()
    assert upstream.count == 2
    for request in upstream.requests:
        assert_sent(request, "GET", registration_path())
    assert len(sleeps) == 1
    assert_backoff(sleeps)


@pytest.mark.parametrize("status", [502, 503, 504])
def test_get_gives_up_after_the_attempts(status):
    api, upstream, sleeps = retrying(respond(status, {"errors": ["down"], "code": ""}))

    with pytest.raises(UpstreamFailure) as caught:
        api.get_registration(REF)

    assert caught.value.status == status
    assert caught.value.retryable is True
    assert upstream.count == DEFAULT_RETRY.attempts
    assert len(sleeps) == DEFAULT_RETRY.attempts - 1
    assert_backoff(sleeps)


def test_a_custom_policy_sets_the_number_of_attempts():
    policy = RetryPolicy(attempts=5, base_delay=0.1, max_delay=0.3)
    api, upstream, sleeps = retrying(BUSY_502, retry=policy)

    with pytest.raises(UpstreamFailure):
        api.list_hosts(REF)

    assert upstream.count == 5
    assert len(sleeps) == 4
    assert_backoff(sleeps, policy)


@pytest.mark.parametrize("exc_type", [httpx.ReadTimeout, httpx.ConnectTimeout, httpx.ConnectError,
                                      httpx.RemoteProtocolError])
def test_get_transport_failure_is_retried(exc_type):
    api, upstream, sleeps = retrying(fail_with(exc_type), OK_VIEW)

    view = api.get_registration(REF)

    assert view.registration.fields["upstream_id"] == REF.upstream_id
    assert upstream.count == 2
    assert len(sleeps) == 1
    assert_backoff(sleeps)


def test_get_timeout_every_time_gives_up_with_a_transport_error():
    api, upstream, sleeps = retrying(fail_with(httpx.ReadTimeout))

    with pytest.raises(TransportError) as caught:
        api.list_processes(REF)

    assert caught.value.code == "timeout"
    assert upstream.count == DEFAULT_RETRY.attempts
    assert len(sleeps) == DEFAULT_RETRY.attempts - 1


def test_delete_is_idempotent_and_retried():
    api, upstream, sleeps = retrying(BUSY_502, respond(204, request_id="req-gone"))

    assert api.delete_host(REF, "ns1.example.co.uk") == "req-gone"

    assert upstream.count == 2
    assert len(sleeps) == 1
    for request in upstream.requests:
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
    api, upstream, sleeps = retrying(answer, OK_VIEW)

    with pytest.raises(error_class) as caught:
        api.get_registration(REF)

    assert caught.value.code == code
    assert upstream.count == 1
    assert sleeps == []


def test_auth_code_get_is_not_retried_on_timeout_either():
    api, upstream, sleeps = retrying(fail_with(httpx.ReadTimeout),
                                     respond(200, {"authcode": "abc"}))

    with pytest.raises(TransportError):
        api.get_auth_code(REF)

    assert upstream.count == 1
    assert sleeps == []


# --- Non-idempotent methods ----------------------------------------------------------

POSTS = [
    pytest.param(lambda api: api.push_transfer(REF, "REG-IDS"), id="push_transfer"),
    pytest.param(lambda api: api.force_sync(REF), id="force_sync"),
    pytest.param(lambda api: api.decide_transfer_out(REF, "approve"), id="decide_transfer_out"),
]


@pytest.mark.parametrize("call", POSTS)
def test_post_that_times_out_is_not_retried(call):
    api, upstream, sleeps = retrying(fail_with(httpx.ReadTimeout), OK_MUTATION)

    with pytest.raises(TransportError) as caught:
        call(api)

    assert caught.value.code == "timeout"
    # A write that left: it may have been applied, so it is never simply retried; the
    # object is read again first.
    assert caught.value.outcome_unknown and not caught.value.not_applied
    assert caught.value.retryable is False
    assert caught.value.message == (
        "No usable answer came back from the registrar (it did not answer in time), "
        "after the request was sent: it may have applied the change.")
    assert upstream.count == 1
    assert sleeps == []


@pytest.mark.parametrize("call", POSTS)
def test_post_on_502_is_not_retried(call):
    api, upstream, sleeps = retrying(BUSY_502, OK_MUTATION)

    with pytest.raises(UpstreamFailure) as caught:
        call(api)

    assert caught.value.outcome_unknown and not caught.value.not_applied
    assert caught.value.message == (
        "No usable answer came back from the registrar (it answered HTTP 502), after the "
        "request was sent: it may have applied the change.")
    assert upstream.count == 1
    assert sleeps == []


@pytest.mark.parametrize(("failure", "error_class", "message"), [
    (fail_with(httpx.ReadTimeout), TransportError, "The registrar did not answer in time."),
    (BUSY_502, UpstreamFailure, "The registrar is not answering; try later."),
], ids=["timeout", "502"])
def test_check_availability_is_a_read_sent_as_post_retried_and_never_unknown(
        failure, error_class, message):
    # It changes nothing upstream: retried like a GET, and a failure is a plain one.
    api, upstream, sleeps = retrying(failure)

    with pytest.raises(error_class) as caught:
        api.check_availability("example.com")

    assert not caught.value.outcome_unknown
    assert caught.value.message == message
    assert upstream.count == DEFAULT_RETRY.attempts
    for request in upstream.requests:
        assert_sent(request, "POST", "/api/domain_registrations/check",
                    body={"domain": "example.com"})
    assert len(sleeps) == DEFAULT_RETRY.attempts - 1

    api, upstream, _ = retrying(failure, respond(200, {"domain": "example.com",
                                                       "available": True}))
    assert api.check_availability("example.com")["available"] is True
    assert upstream.count == 2


@pytest.mark.parametrize(
    "call",
    [pytest.param(lambda api: api.set_lock(REF, True), id="set_lock"),
     pytest.param(lambda api: api.set_nameservers(REF, ["ns1.example.net"]), id="nameservers"),
     pytest.param(lambda api: api.update_contact(501, contact={"city": "Leeds"}),
                  id="update_contact"),
     pytest.param(lambda api: api.update_host(REF, "ns1.example.co.uk", ["192.0.2.1"]),
                  id="update_host")],
)
@pytest.mark.parametrize("answer", [BUSY_502, fail_with(httpx.ReadTimeout)],
                         ids=["502", "timeout"])
def test_patch_is_not_retried(call, answer):
    api, upstream, sleeps = retrying(answer, OK_MUTATION)

    with pytest.raises((UpstreamFailure, TransportError)):
        call(api)

    assert upstream.count == 1
    assert upstream.only.method == "PATCH"
    assert sleeps == []


@pytest.mark.parametrize(
    "call",
    [pytest.param(lambda api: api.get_registration(REF), id="GET"),
     pytest.param(lambda api: api.push_transfer(REF, "REG-IDS"), id="POST"),
     pytest.param(lambda api: api.create_domain_order(domain="example.com", action="register",
                                                      years=1, idempotency_key="order-1"),
                  id="POST-with-idempotency-key")],
)
def test_422_is_never_retried(call):
    api, upstream, sleeps = retrying(INVALID_422, OK_MUTATION)

    with pytest.raises(InvalidRequest) as caught:
        call(api)

    assert caught.value.retryable is False
    assert upstream.count == 1
    assert sleeps == []


@pytest.mark.parametrize("code", ["feature_disabled", "missing_api_key", "registrar_unavailable"])
def test_503_configuration_codes_are_not_retried(code):
    api, upstream, sleeps = retrying(respond(503, {"errors": ["off"], "code": code}), OK_VIEW)

    with pytest.raises(ServiceUnavailable) as caught:
        api.get_registration(REF)

    assert caught.value.retryable is False
    assert caught.value.code == code
    assert upstream.count == 1
    assert sleeps == []


@pytest.mark.parametrize("exc_type", [httpx.ConnectError, httpx.ConnectTimeout])
def test_connect_failure_on_post_is_retried_because_nothing_left(exc_type):
    api, upstream, sleeps = retrying(fail_with(exc_type), OK_MUTATION)

    result = api.push_transfer(REF, "REG-IDS")

    assert isinstance(result, Done)
    assert upstream.count == 2
    for request in upstream.requests:
        assert_sent(request, "POST", registration_path("/push_transfer"),
                    body={"recipient": "REG-IDS"})
    assert len(sleeps) == 1
    assert_backoff(sleeps)


def test_connect_failure_on_post_gives_up_after_the_attempts():
    api, upstream, sleeps = retrying(fail_with(httpx.ConnectError))

    with pytest.raises(TransportError) as caught:
        api.force_sync(REF)

    assert caught.value.code == "connect_error"
    assert upstream.count == DEFAULT_RETRY.attempts
    assert len(sleeps) == DEFAULT_RETRY.attempts - 1


def test_fee_gate_is_not_retried():
    api, upstream, sleeps = retrying(respond(402, {
        "errors": ["pay"], "code": "payment_required",
        "price": {"amount_cents": 500, "currency": "USD", "role": "privacy"},
        "portal_url": "https://portal.example.test", "remediation": "Pay."}))

    assert isinstance(api.set_privacy(REF, True), PaymentRequired)
    assert upstream.count == 1
    assert sleeps == []


# --- Idempotency-Key -----------------------------------------------------------------

ORDER_KWARGS = {"domain": "example.com", "action": "register", "years": 1,
                "idempotency_key": "local-order-42", "source_contact_id": 501}
ORDER_BODY = {"domain": "example.com", "action": "register", "years": 1,
              "source_domain_contact_id": 501}
ORDER_ACCEPTED = respond(202, {"order": order_payload(9003), "cart": {"id": 1, "status": "paid"}})


KEYED_POSTS = [
    pytest.param(lambda api: api.create_domain_order(**ORDER_KWARGS), "/api/orders/domain",
                 ORDER_BODY, id="create_domain_order"),
    pytest.param(lambda api: api.order_registrant_change(
        REF, idempotency_key="local-order-42", source_contact_id=501),
        registration_path("/registrant_change"), {"source_domain_contact_id": 501},
        id="order_registrant_change"),
]


@pytest.mark.parametrize(("call", "path", "body"), KEYED_POSTS)
@pytest.mark.parametrize("failure", [BUSY_502, fail_with(httpx.ReadTimeout),
                                     respond(504, {"errors": ["gw"], "code": ""})],
                         ids=["502", "timeout", "504"])
def test_post_with_an_idempotency_key_is_retried(failure, call, path, body):
    api, upstream, sleeps = retrying(failure, ORDER_ACCEPTED)

    placed = call(api)

    assert isinstance(placed, PlacedOrder)
    assert placed.record.upstream_id == "9003"
    assert upstream.count == 2
    for request in upstream.requests:  # the same key both times: one order upstream
        assert_sent(request, "POST", path, body=body, idempotency_key="local-order-42")
    assert len(sleeps) == 1
    assert_backoff(sleeps)


@pytest.mark.parametrize(("call", "path", "body"), KEYED_POSTS)
@pytest.mark.parametrize(
    ("failure", "error_class", "reason"),
    [(BUSY_502, UpstreamFailure, "it answered HTTP 502"),
     (fail_with(httpx.ReadTimeout), TransportError, "it did not answer in time")],
    ids=["502", "timeout"])
def test_a_keyed_post_that_never_gets_an_answer_may_have_been_applied(
        failure, error_class, reason, call, path, body):
    api, upstream, sleeps = retrying(failure)

    with pytest.raises(error_class) as caught:
        call(api)

    assert caught.value.outcome_unknown and not caught.value.not_applied
    assert caught.value.retryable is False
    assert caught.value.message == (
        f"No usable answer came back from the registrar ({reason}), after the request was "
        "sent: it may have applied the change.")
    assert upstream.count == DEFAULT_RETRY.attempts
    for request in upstream.requests:
        assert_sent(request, "POST", path, body=body, idempotency_key="local-order-42")
    assert len(sleeps) == DEFAULT_RETRY.attempts - 1


def test_a_keyed_post_whose_first_attempt_left_stays_unknown_when_a_retry_cannot_connect():
    # The first attempt left (and may have placed the order); the retries never connect.
    api, upstream, sleeps = retrying(fail_with(httpx.ReadTimeout), fail_with(httpx.ConnectError))

    with pytest.raises(TransportError) as caught:
        api.create_domain_order(**ORDER_KWARGS)

    assert upstream.count == DEFAULT_RETRY.attempts
    assert caught.value.code == "connect_error"  # the last attempt's error, marked unknown
    assert caught.value.outcome_unknown and not caught.value.not_applied
    assert caught.value.retryable is False
    # The reason is the attempt that left, not the last one that never connected.
    assert caught.value.unknown_reason == "it did not answer in time"
    assert caught.value.message == (
        "No usable answer came back from the registrar (it did not answer in time), after "
        "the request was sent: it may have applied the change.")
    for request in upstream.requests:
        assert_sent(request, "POST", "/api/orders/domain", body=ORDER_BODY,
                    idempotency_key="local-order-42")
    assert len(sleeps) == DEFAULT_RETRY.attempts - 1


# --- Backoff -------------------------------------------------------------------------


def test_backoff_is_capped_exponential_with_jitter_in_a_real_run():
    policy = RetryPolicy(attempts=7, base_delay=0.5, max_delay=2.0)
    api, upstream, sleeps = retrying(BUSY_502, retry=policy)

    with pytest.raises(UpstreamFailure):
        api.read_order("9003")

    assert upstream.count == 7
    assert len(sleeps) == 6
    assert_backoff(sleeps, policy)


def test_backoff_ceiling_doubles_then_stops_at_max_delay(monkeypatch):
    bounds: list[tuple[float, float]] = []

    def highest(low: float, high: float) -> float:
        bounds.append((low, high))
        return high

    monkeypatch.setattr(http_module.random, "uniform", highest)
    policy = RetryPolicy(attempts=6, base_delay=0.25, max_delay=2.0)
    api, upstream, sleeps = retrying(BUSY_502, retry=policy)

    with pytest.raises(UpstreamFailure):
        api.list_hosts(REF)

    assert upstream.count == 6
    assert sleeps == [0.25, 0.5, 1.0, 2.0, 2.0]
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
    api, upstream, sleeps = retrying(BUSY_502, OK_VIEW)

    api.get_registration(REF)

    assert upstream.count == 2
    assert len(sleeps) == 1, "the delay is handed to the injected sleep, not slept here"
    retries = [r for r in caplog.records
               if r.name == "registrar.providers" and "retry" in r.getMessage()]
    assert len(retries) == 1
    assert "registrar_unavailable" in retries[0].getMessage()
    assert registration_path() in retries[0].getMessage()


# --- The parsing helpers adapters share -------------------------------------------------


class Probe(Provider):
    """An adapter reading answers it is handed, to watch what the guard wraps."""

    kind = "probe"

    def read(self, answer):
        return int(answer["items"][0].strip())

    def pages(self, answers):
        for answer in answers:
            yield answer["value"]

    def misuse(self):
        raise CallerError("give exactly one")

    # Not endpoints: the guard leaves these as they are.
    def close(self):
        return {}["closed"]

    def supports(self, capability):
        return {}[capability]

    def _private(self, answer):
        return answer["value"]

    @classmethod
    def parse_webhook(cls, payload):
        # Its contract is ValueError (answered 400), which the guard must not rewrite.
        if not isinstance(payload.get("type"), str):
            raise ValueError("no event type")
        return payload["type"]

    @staticmethod
    def clean(values):
        return values["value"]


guard_parsing(Probe)


def probe() -> Probe:
    return Probe(base_url="https://api.example.test", token="tok")


@pytest.mark.parametrize(
    ("answer", "cause"),
    [({}, KeyError), ({"items": None}, TypeError), ({"items": []}, IndexError),
     ({"items": [5]}, AttributeError), ({"items": ["five"]}, ValueError)],
    ids=["missing-key", "null", "empty-list", "number-for-text", "not-a-number"],
)
def test_guard_turns_every_wrong_shape_into_malformed_response(answer, cause):
    with pytest.raises(MalformedResponse) as caught:
        probe().read(answer)

    assert caught.value.code == "malformed_response"
    assert cause.__name__ in caught.value.details["error"]
    assert isinstance(caught.value.__cause__, cause)


def test_guard_returns_what_a_well_shaped_answer_gives():
    assert probe().read({"items": [" 42 "]}) == 42


def test_guard_reports_a_lazy_iterator_when_it_is_reached():
    pages = probe().pages([{"value": 1}, {}])

    assert next(pages) == 1
    with pytest.raises(MalformedResponse):
        next(pages)


def test_guard_lets_a_caller_error_through():
    # A CallerError is a ValueError, but a bug of the caller, not a malformed answer.
    with pytest.raises(CallerError, match="exactly one"):
        probe().misuse()


def test_guard_leaves_private_methods_close_and_supports_alone():
    for name in ("_private", "close", "supports"):
        assert not hasattr(vars(Probe)[name], "__wrapped__"), name
    with pytest.raises(KeyError):
        probe()._private({})
    with pytest.raises(KeyError):
        probe().close()
    with pytest.raises(KeyError):
        probe().supports("probe")


def test_guard_leaves_classmethods_and_staticmethods_unwrapped():
    assert hasattr(vars(Probe)["read"], "__wrapped__")
    assert isinstance(vars(Probe)["parse_webhook"], classmethod)
    assert isinstance(vars(Probe)["clean"], staticmethod)
    assert not hasattr(vars(Probe)["parse_webhook"].__func__, "__wrapped__")
    assert not hasattr(vars(Probe)["clean"].__func__, "__wrapped__")
    # Still callable on the class and on an instance, raising their own errors.
    assert Probe.parse_webhook({"type": "domain.updated"}) == "domain.updated"
    assert probe().parse_webhook({"type": "x"}) == "x"
    with pytest.raises(ValueError, match="no event type") as caught:
        Probe.parse_webhook({})
    assert not isinstance(caught.value, MalformedResponse)
    assert Probe.clean({"value": 3}) == probe().clean({"value": 3}) == 3
    with pytest.raises(KeyError):
        Probe.clean({})


def test_the_adapters_class_hooks_are_not_wrapped():
    for name in ("unavailable_reason", "default_secret", "default_transport"):
        member = vars(SandboxProvider)[name]
        assert isinstance(member, classmethod)
        assert not hasattr(member.__func__, "__wrapped__")
    assert hasattr(vars(DomainApiProvider)["get_registration"], "__wrapped__")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2025-06-01T08:00:00Z", datetime(2025, 6, 1, 8, 0, tzinfo=UTC)),
     ("2025-06-01T10:00:00+02:00",
      datetime(2025, 6, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))),
     ("2025-06-01T08:00:00", datetime(2025, 6, 1, 8, 0, tzinfo=UTC)),
     ("", None), (None, None), (1748764800, None)],
    ids=["utc", "offset", "naive-is-utc", "empty", "none", "number"],
)
def test_parse_timestamp(value, expected):
    parsed = parse_timestamp(value)

    assert parsed == expected
    if parsed is not None:
        assert parsed.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize("value", ["yesterday", "2025-06-01 8 o'clock", "2025-13-45T00:00:00Z"])
def test_parse_timestamp_refuses_what_is_not_a_date(value):
    with pytest.raises(ValueError):
        parse_timestamp(value)


def test_drop_unset_keeps_every_value_given():
    assert drop_unset(None) is None
    assert drop_unset({"q": None, "page": 0, "flag": False, "name": "", "tld": ".uk"}) == {
        "page": 0, "flag": False, "name": "", "tld": ".uk"}


def test_an_http_provider_must_say_how_it_authenticates():
    class Unauthenticated(HttpProvider):
        kind = "unauthenticated"

    with pytest.raises(NotImplementedError):
        Unauthenticated(base_url="https://api.example.test", token="tok")


# --- The errors every adapter raises ----------------------------------------------------

# An upstream's own table, as each adapter package passes it to error_for.
TABLE = {(422, "name_taken"): (InvalidRequest, "That name is taken."),
         (503, "maintenance"): (ServiceUnavailable, "The registrar is in maintenance.")}


def test_error_for_uses_the_upstreams_own_table():
    error = error_for(422, "name_taken", known=TABLE, upstream_message="raw: taken by X",
                      request_id="req-1", violations=[{"field": "name"}], details={"x": 1})

    assert type(error) is InvalidRequest
    assert (error.status, error.code, error.message) == (422, "name_taken", "That name is taken.")
    assert error.request_id == "req-1"
    assert error.violations == [{"field": "name"}]
    # What the upstream said stays in the details, for the logs only.
    assert error.details == {"x": 1, "upstream_message": "raw: taken by X"}
    assert "taken by X" not in str(error)
    assert repr(error) == "InvalidRequest(code='name_taken', status=422)"


@pytest.mark.parametrize(("status", "cls", "retryable"),
                         [(404, NotFound, False), (503, UpstreamFailure, True),
                          (418, ProviderError, False)])
def test_error_for_falls_back_on_the_status(status, cls, retryable):
    # A code another upstream's table knows means nothing here.
    error = error_for(status, "name_taken", known={})

    assert type(error) is cls
    assert (error.code, error.message, error.retryable) == ("name_taken", cls.default_message,
                                                            retryable)
    assert error_for(status).code == f"http_{status}"


def test_error_for_lets_the_upstream_say_a_5xx_is_not_worth_retrying():
    assert error_for(503, "maintenance", known=TABLE).retryable is True
    assert error_for(503, "maintenance", known=TABLE, retryable=False).retryable is False


@pytest.mark.parametrize("error", [QuoteRefused("Not offered.", rule="not_available"),
                                   PriceMoved("Now dearer.")],
                         ids=["quote-refused", "price-moved"])
def test_quote_refusals_survive_pickling_with_their_rule(error):
    # Task results travel pickled: the rule staff are shown must survive the trip.
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own object)

    assert type(copy) is type(error)
    assert (copy.rule, copy.code, copy.message) == (error.rule, error.code, error.message)
    assert copy.retryable is False
    assert repr(copy) == f"{type(error).__name__}(rule={error.rule!r})"


def test_price_moved_is_a_quote_refusal_that_says_nothing_was_bought():
    error = PriceMoved()

    assert isinstance(error, QuoteRefused)
    assert (error.rule, error.code) == ("price_moved", "price_changed")
    assert "nothing was bought" in error.message
    assert error.details == {"rule": "price_moved"}
