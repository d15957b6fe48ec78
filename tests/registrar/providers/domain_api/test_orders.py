"""Document 001's orders: the order record read into an OrderRecord (`orders.parse_order`,
status by status, and its refusals of records of the wrong shape), and domain orders
quoted from Check Availability and placed (`ordering.quote` / `ordering.place`, through
the adapter's hooks) at a scripted upstream."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from registrar.providers.base import (
    ContactRecord,
    DomainPlacement,
    DomainQuote,
    DomainQuoteRequest,
    OrderAction,
    OrderLine,
    OrderRecord,
    OrderState,
    OrderType,
    PlacedOrder,
)
from registrar.providers.domain_api.adapter import DomainApiProvider
from registrar.providers.domain_api.orders import FINAL_STATES, parse_order
from registrar.providers.errors import PriceMoved, QuoteRefused, TransportError, UpstreamFailure
from registrar.providers.http import DEFAULT_RETRY
from tests.fakes.http import fail_with, respond
from tests.registrar.providers.domain_api.shapes import (
    assert_sent,
    domain_api,
    order_payload,
    order_record,
)

# --- parse_order ----------------------------------------------------------------------


def order(**overrides: Any) -> dict[str, Any]:
    """A whole order record, as `GET /api/orders/:id` carries it (docs/domain-api.md)."""
    return {
        "id": 70001,
        "kind": "register",
        "status": "completed",
        "status_reason": "",
        "domain": "Example.COM ",
        "registration_id": "7d9c2b1e-4f3a-4c5d-9e8f-0a1b2c3d4e5f",
        "years": 2,
        "total": {"amount_cents": 2598, "currency": "usd"},
        "line_items": [{"description": "Registration of example.com (2 years)",
                        "domain": "example.com", "role": "register", "years": 2,
                        "amount_cents": 2598, "currency": "USD"}],
        "refund": None,
        "created_at": "2025-06-01T08:00:00Z",
        "updated_at": "2025-06-01T08:00:05Z",
        **overrides,
    }


REFUND = {"amount_cents": 2598, "currency": "USD", "refunded_at": "2025-06-01T08:10:00Z"}


@pytest.mark.parametrize(
    ("status", "refund", "state"),
    [("pending", None, OrderState.IN_PROGRESS),
     ("processing", None, OrderState.IN_PROGRESS),
     ("completed", None, OrderState.COMPLETED),
     ("failed", REFUND, OrderState.REFUNDED),
     ("failed", None, OrderState.FAILED),
     ("cancelled", None, OrderState.CANCELLED)],
    ids=["pending", "processing", "completed", "failed-refunded", "failed-kept", "cancelled"],
)
def test_each_documented_status(status, refund, state):
    record = parse_order(order(status=status, refund=refund))

    assert record.state is state
    assert record.refunded_minor == (2598 if refund else None)
    # The cart was paid at placement: the total is what was charged, in every state.
    assert (record.currency, record.total_minor) == ("USD", 2598)


def test_a_failed_order_without_a_refund_key_kept_the_money():
    payload = order(status="failed", status_reason="The registry refused the name.")
    del payload["refund"]

    record = parse_order(payload)

    assert record.state is OrderState.FAILED
    assert record.refunded_minor is None
    assert record.status_reason == "The registry refused the name."


def test_the_whole_record():
    assert parse_order(order()) == OrderRecord(
        upstream_id="70001",
        state=OrderState.COMPLETED,
        type=OrderType.REGISTRATION,
        domain="example.com",
        years=2,
        currency="USD",
        total_minor=2598,
        status_reason="",
        registration_id="7d9c2b1e-4f3a-4c5d-9e8f-0a1b2c3d4e5f",
        lines=(OrderLine(description="Registration of example.com (2 years)",
                         domain="example.com", quantity=1, unit_amount_minor=2598,
                         total_minor=2598,
                         details={"role": "register", "years": 2, "currency": "USD"}),),
        # Line items only fill an order that has none: the first answer's lines stay.
        lines_authoritative=False,
    )


@pytest.mark.parametrize(("kind", "order_type"),
                         [("register", OrderType.REGISTRATION),
                          ("transfer", OrderType.TRANSFER_IN),
                          ("renew", OrderType.RENEWAL),
                          ("registrant_change", OrderType.REGISTRANT_CHANGE),
                          (None, None)])
def test_each_order_kind(kind, order_type):
    assert parse_order(order(kind=kind)).type == order_type


def test_a_sparse_record_states_only_what_it_says():
    record = parse_order({"id": "70002", "status": "processing"})

    assert record == OrderRecord(upstream_id="70002", state=OrderState.IN_PROGRESS,
                                 lines_authoritative=False)
    assert record.lines is None, "no line items says nothing about the items"
    assert record.currency is None, "and no total: it cannot create an order"


def test_a_refund_gives_the_currency_when_the_total_is_missing():
    record = parse_order({"id": 70003, "status": "failed", "refund": REFUND})

    assert (record.state, record.currency, record.total_minor, record.refunded_minor) == (
        OrderState.REFUNDED, "USD", None, 2598)


def test_a_line_item_falls_back_on_the_order_domain_and_its_role():
    record = parse_order(order(domain="Example.COM",
                               line_items=[{"role": "renew", "amount_cents": 1299},
                                           {"product": "domain_renewal"}]))

    assert record.lines == (
        OrderLine(description="renew", domain="example.com", quantity=1,
                  unit_amount_minor=1299, total_minor=1299, details={"role": "renew"}),
        OrderLine(description="Order line", domain="example.com", quantity=1,
                  unit_amount_minor=0, total_minor=0, details={"product": "domain_renewal"}),
    )


MALFORMED = [
    pytest.param(None, TypeError, id="null"),
    pytest.param([order()], TypeError, id="a-list"),
    pytest.param({"status": "completed"}, KeyError, id="no-id"),
    pytest.param(order(id=True), ValueError, id="id-bool"),
    pytest.param(order(id=None), ValueError, id="id-null"),
    pytest.param(order(id="  "), ValueError, id="id-blank"),
    pytest.param(order(id=7.5), ValueError, id="id-float"),
    pytest.param({"id": 1}, KeyError, id="no-status"),
    pytest.param(order(status="shipped"), ValueError, id="unknown-status"),
    pytest.param(order(kind="gift"), ValueError, id="unknown-kind"),
    pytest.param(order(years=0), ValueError, id="years-0"),
    pytest.param(order(years=11), ValueError, id="years-11"),
    pytest.param(order(years="2"), ValueError, id="years-string"),
    pytest.param(order(years=True), ValueError, id="years-bool"),
    pytest.param(order(total=2598), TypeError, id="total-number"),
    pytest.param(order(total={"currency": "USD"}), KeyError, id="total-no-amount"),
    pytest.param(order(total={"amount_cents": 2598}), KeyError, id="total-no-currency"),
    pytest.param(order(total={"amount_cents": 2598, "currency": "US"}), ValueError,
                 id="total-currency-short"),
    pytest.param(order(total={"amount_cents": 2598, "currency": 840}), ValueError,
                 id="total-currency-number"),
    pytest.param(order(total={"amount_cents": -1, "currency": "USD"}), ValueError,
                 id="total-negative"),
    pytest.param(order(total={"amount_cents": 25.98, "currency": "USD"}), ValueError,
                 id="total-float"),
    pytest.param(order(total={"amount_cents": True, "currency": "USD"}), ValueError,
                 id="total-bool"),
    pytest.param(order(status="failed", refund={**REFUND, "currency": "EUR"}), ValueError,
                 id="refund-other-currency"),
    pytest.param(order(refund="yes"), TypeError, id="refund-string"),
    pytest.param(order(domain=["example.com"]), TypeError, id="domain-list"),
    pytest.param(order(registration_id=42), TypeError, id="registration-id-number"),
    pytest.param(order(line_items={"amount_cents": 1}), TypeError, id="lines-object"),
    pytest.param(order(line_items=["Registration"]), TypeError, id="line-string"),
    pytest.param(order(line_items=[{"amount_cents": -5}]), ValueError, id="line-negative"),
]


@pytest.mark.parametrize(("payload", "error"), MALFORMED)
def test_records_of_the_wrong_shape_are_refused(payload, error):
    # The adapter's parse guard turns these into MalformedResponse (test_requests.py).
    with pytest.raises(error):
        parse_order(payload)


def test_only_an_order_in_progress_is_read_again():
    assert DomainApiProvider.final_order_states == FINAL_STATES
    for status, refund in [("completed", None), ("failed", REFUND), ("failed", None),
                           ("cancelled", None)]:
        assert parse_order(order(status=status, refund=refund)).state in FINAL_STATES
    for status in ("pending", "processing"):
        assert parse_order(order(status=status)).state not in FINAL_STATES


# --- Quoting ----------------------------------------------------------------------------

CHECK = "/api/domain_registrations/check"
ORDERS = "/api/orders/domain"


def availability(**overrides: Any) -> dict[str, Any]:
    """A Check Availability answer for a name nobody holds."""
    return {"domain": "example.com", "available": True, "premium": False,
            "owned_by_account": False, "reason": None,
            "create_price": {"amount_cents": 1099, "currency": "usd"},
            "transfer_price": None, **overrides}


TAKEN_ELSEWHERE = availability(available=False, reason="Domain exists", create_price=None,
                               transfer_price={"amount_cents": 899, "currency": "EUR"})
OURS = availability(available=False, owned_by_account=True, reason="Domain exists",
                    create_price=None, transfer_price={"amount_cents": 899, "currency": "EUR"})


def ask(action: OrderAction, years: int = 1, domain: str = "example.com") -> DomainQuoteRequest:
    return DomainQuoteRequest(action=action, domain=domain, years=years)


def test_a_registration_is_quoted_from_the_create_price():
    api, upstream = domain_api(respond(200, availability(premium=True)))

    quote = api.quote_domain_order(ask(OrderAction.REGISTER, years=3))

    assert_sent(upstream.only, "POST", CHECK, body={"domain": "example.com"})
    assert quote == DomainQuote(
        currency="USD", total_minor=3297, ceiling_minor=3297, premium=True,
        notes=("Registration price from Check Availability, per year.",
               "Sent as max_total: the order is refused rather than charged more."),
        data={"operation": "register", "unit_minor": 1099})


def test_a_transfer_is_quoted_from_the_transfer_price():
    api, upstream = domain_api(respond(200, TAKEN_ELSEWHERE))

    quote = api.quote_domain_order(ask(OrderAction.TRANSFER, years=2))

    assert_sent(upstream.only, "POST", CHECK, body={"domain": "example.com"})
    assert (quote.currency, quote.total_minor, quote.ceiling_minor) == ("EUR", 1798, 1798)
    assert quote.data == {"operation": "transfer", "unit_minor": 899}
    assert quote.notes[0] == "Transfer price from Check Availability, per year."


@pytest.mark.parametrize(
    ("answer", "currency"),
    [(OURS, "EUR"),
     (availability(owned_by_account=True, available=False), "USD"),
     (availability(owned_by_account=True, available=False, create_price=None), "USD")],
    ids=["transfer-price-currency", "create-price-currency", "default-currency"],
)
def test_a_renewal_is_quoted_without_a_price(answer, currency):
    # Check Availability gives no renewal price: nothing to quote, nothing to cap.
    api, upstream = domain_api(respond(200, answer))

    quote = api.quote_domain_order(ask(OrderAction.RENEW))

    assert_sent(upstream.only, "POST", CHECK, body={"domain": "example.com"})
    assert quote.currency == currency
    assert (quote.total_minor, quote.ceiling_minor) == (None, None)
    assert quote.data == {"operation": "renew"}
    assert "quotes no renewal price" in quote.notes[0]


@pytest.mark.parametrize(
    ("action", "answer", "rule", "words"),
    [(OrderAction.REGISTER, TAKEN_ELSEWHERE, "not_available", "Domain exists"),
     (OrderAction.REGISTER, availability(available=False, reason=None), "not_available",
      "the registry says it is taken"),
     (OrderAction.REGISTER, availability(create_price=None), "not_available", "taken"),
     (OrderAction.TRANSFER, OURS, "already_owned", "already in this account"),
     (OrderAction.TRANSFER, availability(), "not_transferable", "not registered elsewhere"),
     (OrderAction.TRANSFER, availability(available=False, transfer_price=None),
      "not_transferable", "cannot be transferred in"),
     (OrderAction.RENEW, TAKEN_ELSEWHERE, "not_owned", "not in this registrar account")],
    ids=["register-taken", "register-taken-no-reason", "register-no-price",
         "transfer-ours", "transfer-free", "transfer-no-price", "renew-not-ours"],
)
def test_a_quote_that_cannot_be_placed_is_refused_having_only_checked(action, answer, rule,
                                                                       words):
    api, upstream = domain_api(respond(200, answer))

    with pytest.raises(QuoteRefused) as caught:
        api.quote_domain_order(ask(action))

    assert caught.value.rule == rule
    assert words in caught.value.message
    assert_sent(upstream.only, "POST", CHECK, body={"domain": "example.com"})


# --- Placing ----------------------------------------------------------------------------

OWNER = ContactRecord(fields={"upstream_id": 501, "first_name": "Ada"})
PLACED = respond(202, {"order": order_payload(70001, status="pending"),
                       "cart": {"id": 60001, "status": "paid"}}, request_id="req-placed")


def placement(quote: DomainQuote, action: OrderAction, *, years: int = 1,
              **overrides: Any) -> DomainPlacement:
    """The confirmed quote, as billing keeps it and hands it back."""
    values: dict[str, Any] = {
        "action": action, "domain": "example.com", "years": years,
        "quote": {**quote.data, "ceiling_minor": quote.ceiling_minor},
        "currency": quote.currency, "quoted_total_minor": quote.total_minor,
        "idempotency_key": "backoffice-order-42", "customer_reference": "order-42",
        "owner": OWNER,
    }
    return DomainPlacement(**{**values, **overrides})


def quoted(answer: dict[str, Any], action: OrderAction, years: int = 1) -> DomainQuote:
    provider, _ = domain_api(respond(200, answer))
    return provider.quote_domain_order(ask(action, years=years))


def test_a_registration_is_checked_again_then_placed_under_its_ceiling():
    confirmed = placement(quoted(availability(), OrderAction.REGISTER, 2), OrderAction.REGISTER,
                          years=2)
    api, upstream = domain_api(respond(200, availability()), PLACED)

    placed = api.place_domain_order(confirmed)

    check, sent = upstream.requests
    assert_sent(check, "POST", CHECK, body={"domain": "example.com"})
    assert_sent(sent, "POST", ORDERS, idempotency_key="backoffice-order-42", body={
        "domain": "example.com", "action": "register", "years": 2,
        "source_domain_contact_id": 501,
        "max_total": {"amount_cents": 2198, "currency": "USD"}})
    assert isinstance(placed, PlacedOrder)
    assert placed.request_id == "req-placed"
    assert (placed.record.upstream_id, placed.record.paid) == ("70001", True)


def test_a_transfer_sends_its_auth_code_once():
    confirmed = placement(quoted(TAKEN_ELSEWHERE, OrderAction.TRANSFER), OrderAction.TRANSFER,
                          auth_code="Xy7#pQ2!zR")
    api, upstream = domain_api(respond(200, TAKEN_ELSEWHERE), PLACED)

    api.place_domain_order(confirmed)

    assert_sent(upstream.requests[-1], "POST", ORDERS, idempotency_key="backoffice-order-42",
                body={"domain": "example.com", "action": "transfer", "years": 1,
                      "auth_code": "Xy7#pQ2!zR", "source_domain_contact_id": 501,
                      "max_total": {"amount_cents": 899, "currency": "EUR"}})
    assert "Xy7#pQ2!zR" not in repr(confirmed), "the auth code is never shown in a repr"


def test_a_renewal_is_placed_without_a_ceiling_or_an_owner():
    # Nothing was quoted, so there is nothing to check again and no max_total to send.
    confirmed = placement(quoted(OURS, OrderAction.RENEW), OrderAction.RENEW)
    api, upstream = domain_api(PLACED)

    api.place_domain_order(confirmed)

    assert_sent(upstream.only, "POST", ORDERS, idempotency_key="backoffice-order-42",
                body={"domain": "example.com", "action": "renew", "years": 1})


@pytest.mark.parametrize(
    "fresh",
    [availability(create_price={"amount_cents": 1199, "currency": "USD"}),
     availability(create_price={"amount_cents": 1099, "currency": "EUR"})],
    ids=["dearer", "other-currency"],
)
def test_a_price_that_moved_is_refused_without_placing(fresh):
    confirmed = placement(quoted(availability(), OrderAction.REGISTER), OrderAction.REGISTER)
    api, upstream = domain_api(respond(200, fresh), PLACED)

    with pytest.raises(PriceMoved) as caught:
        api.place_domain_order(confirmed)

    assert (caught.value.rule, caught.value.code) == ("price_moved", "price_changed")
    assert "10.99 USD quoted" in caught.value.message
    assert "Nothing was bought" in caught.value.message
    assert_sent(upstream.only, "POST", CHECK, body={"domain": "example.com"})
    assert [r for r in upstream.requests if r.url.path == ORDERS] == []


def test_a_name_taken_since_the_quote_is_refused_without_placing():
    confirmed = placement(quoted(availability(), OrderAction.REGISTER), OrderAction.REGISTER)
    api, upstream = domain_api(respond(200, TAKEN_ELSEWHERE), PLACED)

    with pytest.raises(QuoteRefused) as caught:
        api.place_domain_order(confirmed)

    assert caught.value.rule == "not_available"
    assert_sent(upstream.only, "POST", CHECK, body={"domain": "example.com"})


# --- Settling a placement whose answer was lost -------------------------------------------


def test_a_lost_registration_is_settled_by_sending_it_again_under_its_key():
    # The same order under the same Idempotency-Key: the upstream answers with the first
    # order and charges nothing more. Nothing is checked again first.
    confirmed = placement(quoted(availability(), OrderAction.REGISTER, 2), OrderAction.REGISTER,
                          years=2)
    api, upstream = domain_api(PLACED)

    record = api.settle_placement(confirmed)

    assert_sent(upstream.only, "POST", ORDERS, idempotency_key="backoffice-order-42", body={
        "domain": "example.com", "action": "register", "years": 2,
        "source_domain_contact_id": 501,
        "max_total": {"amount_cents": 2198, "currency": "USD"}})
    assert record == order_record(70001, paid=True)


def test_a_lost_renewal_is_settled_without_a_ceiling_or_an_owner():
    confirmed = placement(quoted(OURS, OrderAction.RENEW), OrderAction.RENEW)
    api, upstream = domain_api(PLACED)

    record = api.settle_placement(confirmed)

    assert_sent(upstream.only, "POST", ORDERS, idempotency_key="backoffice-order-42",
                body={"domain": "example.com", "action": "renew", "years": 1})
    assert record.upstream_id == "70001"


def test_a_lost_transfer_is_settled_without_its_auth_code_and_a_refusal_means_none():
    # The auth code is never kept: the replay goes without it. Had the first arrived,
    # the key would answer with it; refused, the first never arrived and nothing was
    # placed now either.
    confirmed = placement(quoted(TAKEN_ELSEWHERE, OrderAction.TRANSFER), OrderAction.TRANSFER)
    api, upstream = domain_api(respond(422, {"errors": ["auth_code is required for a transfer."],
                                             "code": "invalid_params"}))

    assert api.settle_placement(confirmed) is None

    assert_sent(upstream.only, "POST", ORDERS, idempotency_key="backoffice-order-42",
                body={"domain": "example.com", "action": "transfer", "years": 1,
                      "source_domain_contact_id": 501,
                      "max_total": {"amount_cents": 899, "currency": "EUR"}})


@pytest.mark.parametrize(
    ("answer", "error", "code"),
    [(respond(502, {"errors": ["Registrar down"], "code": "registrar_unavailable"}),
      UpstreamFailure, "registrar_unavailable"),
     (fail_with(httpx.ReadTimeout, "slow"), TransportError, "timeout")],
    ids=["502", "timeout"],
)
def test_a_settlement_that_gets_no_answer_either_cannot_tell(answer, error, code):
    confirmed = placement(quoted(availability(), OrderAction.REGISTER), OrderAction.REGISTER)
    api, upstream = domain_api(answer)

    with pytest.raises(error) as caught:
        api.settle_placement(confirmed)

    # Keyed, so retried (each replay is harmless); no answer at the end: still unknown.
    assert caught.value.code == code
    assert caught.value.outcome_unknown
    assert upstream.count == DEFAULT_RETRY.attempts
    for request in upstream.requests:
        assert_sent(request, "POST", ORDERS, idempotency_key="backoffice-order-42", body={
            "domain": "example.com", "action": "register", "years": 1,
            "source_domain_contact_id": 501,
            "max_total": {"amount_cents": 1099, "currency": "USD"}})
