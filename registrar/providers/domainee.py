"""Adapter for Domainee domain purchases (document 002).

One call buys a domain for an end user: Domainee charges the workspace's saved card,
then registers the hostname at its upstream registrar with the contact we supply. The
outcomes a caller must tell apart, and how this adapter reports them:

- 201 `completed`: `purchase()` returns a `PurchaseResult` with the purchase record.
- 502 `registration_failed`: the card WAS charged, the registrar refused, Domainee
  refunded the charge. Money moved twice, so this is an outcome to record, not a
  failure to retry: `purchase()` returns a `PurchaseResult` with `refunded=True` and
  the registrar's reason.
- 409 `unavailable`, 409 `price_changed`, 402 `billing_required`, 400 `bad_request`:
  nothing was charged; raised as ProviderError subclasses with `charged = False`.

The request always carries an Idempotency-Key (Domainee replays the first answer for
24 hours), so the shared HttpClient may retry it on a timeout or a gateway 5xx without
charging twice. Where document 002 is silent, the comments say what is assumed.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

from billing.models import OrderKind, OrderStatus
from contacts.validation import clean_contact_fields
from registrar.domain_names import to_ascii
from registrar.providers.base import (
    BadRequest,
    Capability,
    Conflict,
    MalformedResponse,
    Money,
    PaymentRequiredError,
    ProviderError,
    UpstreamFailure,
    error_for,
)
from registrar.providers.domain_api import _PARSE_ERRORS, CallerError, _dt, _guard_parsing
from registrar.providers.http import HttpProvider

logger = logging.getLogger("registrar.providers")

PURCHASES_PATH = "/v1/domain-purchases"
# Reading the purchase list (see iter_purchases; the document gives no page size).
PURCHASES_PAGE_SIZE = 100
PURCHASES_PAGE_SIZE_MAX = 100
MIN_YEARS, MAX_YEARS = 1, 10
# Document 002's defaults, sent explicitly (see clean_purchase).
DEFAULT_WHOIS_PRIVACY = True
DEFAULT_AUTO_RENEW = False
DEFAULT_KEEP_HOST = False
# Domainee charges in USD; the document gives no other currency for maxTotalCents.
PURCHASE_CURRENCY = "USD"
# Order.customer_reference holds 64 characters; a longer reference could not be matched
# against the echo on reads and webhooks. The document sets no limit of its own.
CUSTOMER_REFERENCE_MAX = 64
IDEMPOTENCY_KEY_PREFIX = "backoffice-order-"
LOCAL_ORDER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
WEBHOOK_EVENTS = frozenset({"domain_purchase.completed", "domain_purchase.failed"})

# Our contact field -> Domainee registrant field (organization is sent when given).
REGISTRANT_FIELDS = {
    "first_name": "firstName",
    "last_name": "lastName",
    "email": "email",
    "phone": "phone",
    "street_address": "address1",
    "city": "city",
    "state": "stateOrProvince",
    "post_code": "postalCode",
    "country": "country",
    "organization": "organization",
}
# Required by document 002 beyond what clean_contact_fields already requires
# (first_name, last_name, email, phone, country).
REGISTRANT_ALSO_REQUIRED = ("street_address", "city", "state", "post_code")
AUTO_CONNECT_KEYS = frozenset({"origin_url", "keep_host"})


# --- Errors ---------------------------------------------------------------------------


class DomainUnavailable(Conflict):
    """409 unavailable: checked before the charge, so nothing was charged."""

    default_message = "That domain is taken or cannot be registered under its TLD."
    charged: ClassVar[bool] = False


class PriceChanged(Conflict):
    """409 price_changed: the live price is above maxTotalCents; nothing was charged."""

    default_message = "The live price is above the ceiling we sent. Nothing was charged."
    charged: ClassVar[bool] = False


class BillingRequired(PaymentRequiredError):
    """402 billing_required: the card charge failed; no registration was attempted."""

    default_message = "Domainee could not charge the workspace's card. Nothing was registered."
    charged: ClassVar[bool] = False


class PurchaseRejected(BadRequest):
    """400 bad_request: Domainee refused the body; nothing was charged."""

    default_message = "Domainee refused the purchase request as malformed. Nothing was charged."
    charged: ClassVar[bool] = False


class RegistrationFailed(UpstreamFailure):
    """502 registration_failed: charged, refused by the registrar, refunded.

    Not retryable: a retry with the same Idempotency-Key only replays this answer, and
    one with a new key would charge the card again. `purchase()` turns it into a
    refunded `PurchaseResult`; it escapes only from other callers of the client.
    """

    default_message = (
        "The registrar refused the domain after the card was charged; Domainee refunded "
        "the charge."
    )
    retryable_by_default = False
    charged: ClassVar[bool] = True
    refunded: ClassVar[bool] = True

    @property
    def reason(self) -> str:
        """The registrar's reason, as Domainee's error message gave it."""
        return str(self.details.get("upstream_message") or "")


# (status, code) -> (class, message safe for staff): every code document 002 lists.
DOMAINEE_CODES: dict[tuple[int, str], tuple[type[ProviderError], str]] = {
    (409, "unavailable"): (
        DomainUnavailable,
        "That domain is already registered or cannot be registered under its TLD. "
        "Nothing was charged."),
    (409, "price_changed"): (
        PriceChanged,
        "The live price is above the maximum total we allowed. Nothing was charged; "
        "quote the domain again."),
    (402, "billing_required"): (
        BillingRequired,
        "Domainee could not charge the workspace's card (declined, missing, or needing "
        "3-D Secure). Nothing was charged or registered."),
    (502, "registration_failed"): (RegistrationFailed, RegistrationFailed.default_message),
    (400, "bad_request"): (PurchaseRejected, PurchaseRejected.default_message),
}
_CODE_SHAPE = re.compile(r"[a-z][a-z0-9_]*")


def parse_error(status: int, body: Any, text: str, request_id: str) -> ProviderError:
    """Document 002 lists error codes but not the body that carries them. Accepted,
    in this order: {"error": {"code", "message"}}, {"code", "message"}, and
    {"error": "<code>", "message"} (a bare string under "error" counts as the code only
    when it looks like one; otherwise it is the message)."""
    body = body if isinstance(body, Mapping) else {}
    nested = body.get("error")
    source = nested if isinstance(nested, Mapping) else body
    code = str(source.get("code") or "")
    message = str(source.get("message") or body.get("message") or "")
    if isinstance(nested, str):
        if not code and _CODE_SHAPE.fullmatch(nested):
            code = nested
        elif not message:
            message = nested
    details: dict[str, Any] = {"upstream_message": message}
    # Not documented, but a registration_failed answer may carry the refunded row.
    purchase = body.get("purchase", source.get("purchase"))
    if isinstance(purchase, Mapping):
        details["purchase"] = dict(purchase)
    known = DOMAINEE_CODES.get((status, code))
    if known is None:
        return error_for(status, code, upstream_message=message, request_id=request_id)
    cls, staff_message = known
    return cls(staff_message, code=code, status=status, request_id=request_id,
               details=details)


# --- The purchase record -----------------------------------------------------------------


@dataclass(frozen=True)
class Purchase:
    """Document 002's purchase record (the 201 body's `purchase`, and webhooks')."""

    id: str
    hostname: str
    years: int
    wholesale_cents: int
    fee_cents: int
    total_cents: int
    currency: str
    status: str
    customer_reference: str = ""
    registrar: str = ""
    registrar_domain_id: str = ""
    whois_privacy_enabled: bool | None = None
    auto_renew: bool | None = None
    connected_domain_id: str = ""
    expires_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


def _cents(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"not an amount in cents: {value!r}")
    return value


def parse_purchase(data: Mapping[str, Any]) -> Purchase:
    """Raises KeyError/ValueError/TypeError on a record of the wrong shape."""
    currency = str(data["currency"]).upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise ValueError(f"not a currency: {currency!r}")
    return Purchase(
        id=str(data["id"]),
        hostname=str(data["hostname"]),
        years=int(data["years"]),
        wholesale_cents=_cents(data["wholesaleCents"]),
        fee_cents=_cents(data["feeCents"]),
        total_cents=_cents(data["totalCents"]),
        currency=currency,
        status=str(data["status"]),
        customer_reference=str(data.get("customerReference") or ""),
        registrar=str(data.get("registrar") or ""),
        registrar_domain_id=str(data.get("registrarDomainId") or ""),
        whois_privacy_enabled=data.get("whoisPrivacyEnabled"),
        auto_renew=data.get("autoRenew"),
        connected_domain_id=str(data.get("connectedDomainId") or ""),
        expires_at=_dt(data.get("expiresAt")),
        created_at=_dt(data.get("createdAt")),
        updated_at=_dt(data.get("updatedAt")),
        raw=dict(data),
    )


@dataclass(frozen=True)
class PurchaseResult:
    """What a purchase came to.

    `refunded` is True when the card was charged and then refunded (502
    registration_failed, or a record whose status is `refunded`); `reason` is then the
    registrar's reason. `purchase` is None when the failure answer carried no record.
    """

    purchase: Purchase | None
    refunded: bool = False
    reason: str = ""
    request_id: str = ""

    @property
    def status(self) -> str:
        if self.purchase is not None:
            return self.purchase.status
        return "refunded" if self.refunded else ""


_ORDER_STATUS = {
    "completed": OrderStatus.REGISTERED,
    "refunded": OrderStatus.REFUNDED,
    "failed": OrderStatus.FAILED,
}


def purchase_to_order_fields(
    purchase: Purchase | PurchaseResult | Mapping[str, Any],
) -> dict[str, Any]:
    """`billing.Order` field values for a purchase record (parsed, or raw as a webhook
    delivers it: KeyError/TypeError/ValueError when malformed) or a purchase's result.

    completed -> registered; refunded -> refunded with `refunded_minor` = the total;
    failed -> failed (no money moved, but the priced amounts are kept: the ledger, not
    the order, records money). A result without a record (a registration_failed answer
    without the row) gives only the status and the registrar's reason: the caller keeps
    the amounts it quoted. Raises ValueError for a status document 002 does not give.
    """
    if isinstance(purchase, Mapping):
        purchase = parse_purchase(purchase)
    result = purchase if isinstance(purchase, PurchaseResult) else None
    record = purchase.purchase if isinstance(purchase, PurchaseResult) else purchase
    fields: dict[str, Any] = {"kind": OrderKind.REGISTRATION}
    if record is not None:
        if record.status not in _ORDER_STATUS:
            raise ValueError(f"unknown Domainee purchase status {record.status!r}")
        fields.update(
            upstream_id=record.id,
            domain=record.hostname,
            years=record.years,
            currency=record.currency,
            subtotal_minor=record.wholesale_cents,
            fees_minor=record.fee_cents,
            total_minor=record.total_cents,
            refunded_minor=0,
            status=_ORDER_STATUS[record.status],
            customer_reference=record.customer_reference,
        )
        if record.created_at is not None:
            fields["placed_at"] = record.created_at.astimezone(UTC)
    if result is not None and result.refunded:
        fields["status"] = OrderStatus.REFUNDED
        if result.reason:
            fields["status_reason"] = result.reason
    if fields.get("status") == OrderStatus.REFUNDED and record is not None:
        fields["refunded_minor"] = record.total_cents
    return fields


def parse_webhook(body: bytes) -> tuple[str, str, Purchase]:
    """(event id, event type, purchase) of a `domain_purchase.completed` or
    `domain_purchase.failed` delivery; ValueError for anything else or malformed.

    Document 002 names the events but not their payload or how they are signed. Assumed:
    {"id", "type", "data": {"purchase": {...}}}; also accepted are the record directly
    under "data" and a top-level "purchase". The caller must authenticate the delivery
    itself (the document gives no signature scheme) and dedupe on the event id.
    """
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("The webhook body is not JSON.") from exc
    if not isinstance(event, Mapping):
        raise ValueError("The webhook body is not a JSON object.")
    event_type = event.get("type") or event.get("event")
    if event_type not in WEBHOOK_EVENTS:
        raise ValueError(f"Not a Domainee purchase event: {event_type!r}.")
    event_id = event.get("id")
    if not isinstance(event_id, str | int) or isinstance(event_id, bool) or not str(event_id):
        raise ValueError("The webhook event has no id.")
    data = event.get("data")
    if isinstance(data, Mapping) and isinstance(data.get("purchase"), Mapping):
        record = data["purchase"]
    elif isinstance(data, Mapping) and "hostname" in data:
        record = data
    elif isinstance(event.get("purchase"), Mapping):
        record = event["purchase"]
    else:
        raise ValueError("The webhook event carries no purchase.")
    try:
        purchase = parse_purchase(record)
    except _PARSE_ERRORS as exc:
        raise ValueError(f"The webhook's purchase is malformed: {exc!r}") from exc
    return str(event_id), str(event_type), purchase


def _purchase_page(body: Any) -> tuple[list[Any], tuple[str, str] | None]:
    """(the page's raw records, the next page's (query parameter, value) or None) of a
    purchase-list answer; see DomaineeProvider.iter_purchases for the shapes read."""
    if isinstance(body, list):
        return body, None
    if not isinstance(body, Mapping):
        raise TypeError("the purchase list is not a JSON object or array")
    records = next((body[key] for key in ("purchases", "data", "items")
                    if isinstance(body.get(key), list)), None)
    if records is None:
        raise KeyError("purchases")
    cursor = body.get("nextCursor")
    if isinstance(cursor, str | int) and not isinstance(cursor, bool) and str(cursor):
        return records, ("cursor", str(cursor))
    if body.get("hasMore") is True and records:
        last = records[-1]
        if not isinstance(last, Mapping) or not last.get("id"):
            raise ValueError("hasMore without a last purchase id to page after")
        return records, ("startingAfter", str(last["id"]))
    return records, None


# --- Validation before anything is sent -----------------------------------------------------


def _add(errors: dict[str, list[str]], key: str, *messages: str) -> None:
    errors.setdefault(key, []).extend(messages)


def _registrant(registrant: Mapping[str, Any], errors: dict[str, list[str]]) -> dict[str, str]:
    """Our contact fields -> document 002's registrant object; errors keyed by our names."""
    given = {name: registrant[name] for name in REGISTRANT_FIELDS if name in registrant}
    try:
        cleaned = clean_contact_fields(given)
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            _add(errors, name, *messages)
        cleaned = {}
    for name in REGISTRANT_ALSO_REQUIRED:
        if not str(given.get(name) or "").strip() and name not in errors:
            _add(errors, name, "Domainee requires this field for the registrant.")
    if errors:
        return {}
    # address2 stays unsent: our contacts hold one street line (control characters,
    # newlines included, are refused by clean_contact_fields).
    return {REGISTRANT_FIELDS[name]: cleaned[name] for name in REGISTRANT_FIELDS
            if cleaned.get(name)}


def _auto_connect(auto_connect: Mapping[str, Any], errors: dict[str, list[str]]) -> dict:
    unknown = set(auto_connect) - AUTO_CONNECT_KEYS
    if unknown:
        raise CallerError(f"auto_connect takes origin_url and keep_host, not {sorted(unknown)}.")
    keep_host = auto_connect.get("keep_host", DEFAULT_KEEP_HOST)
    if not isinstance(keep_host, bool):
        raise CallerError("auto_connect keep_host must be True or False.")
    origin = str(auto_connect.get("origin_url") or "").strip()
    try:
        parts = urlsplit(origin)
        host = parts.hostname
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        host = None
    if not host or parts.scheme != "https" or any(ch.isspace() for ch in origin):
        _add(errors, "auto_connect",
             "The origin URL must be an https:// address, e.g. https://site.example.app.")
        return {}
    return {"originUrl": origin, "keepHost": keep_host}


def clean_purchase(
    *,
    hostname: str,
    years: int,
    registrant: Mapping[str, Any],
    max_total: Money,
    customer_reference: str,
    enable_whois_privacy: bool | None = None,
    auto_renew: bool | None = None,
    auto_connect: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Document 002's request body, or ValidationError with every problem at once
    (a dict keyed by our names: hostname, years, max_total, customer_reference,
    auto_connect, and the contact fields). Pure: nothing is sent.

    Privacy and auto-renew are always sent, None meaning the documented defaults
    (privacy on, auto-renew off): the request then says exactly what staff bought, and
    a change of Domainee's defaults cannot change it silently. Arguments of the wrong
    type (not a bool, not Money, an unknown auto_connect key) are bugs: CallerError.
    """
    errors: dict[str, list[str]] = {}
    for name, flag in (("enable_whois_privacy", enable_whois_privacy),
                       ("auto_renew", auto_renew)):
        if flag is not None and not isinstance(flag, bool):
            raise CallerError(f"{name} must be True, False or None.")
    if not isinstance(max_total, Money):
        raise CallerError("max_total must be a Money.")

    ascii_name = ""
    if not isinstance(hostname, str):
        _add(errors, "hostname", "Enter the domain name as text.")
    else:
        try:
            ascii_name = to_ascii(hostname)
        except ValidationError as exc:
            _add(errors, "hostname", *exc.messages)
    if (isinstance(years, bool) or not isinstance(years, int)
            or not MIN_YEARS <= years <= MAX_YEARS):
        _add(errors, "years", f"Register for a whole number of years from {MIN_YEARS} "
                              f"to {MAX_YEARS}.")
    if max_total.currency != PURCHASE_CURRENCY:
        _add(errors, "max_total", f"Domainee charges in {PURCHASE_CURRENCY}; the maximum "
                                  f"total is in {max_total.currency or 'no currency'}.")
    elif (isinstance(max_total.amount_minor, bool) or not isinstance(max_total.amount_minor, int)
          or max_total.amount_minor <= 0):
        _add(errors, "max_total", "The maximum total must be a positive amount in cents.")
    reference = customer_reference.strip() if isinstance(customer_reference, str) else ""
    if not reference:
        _add(errors, "customer_reference", "Give the customer reference to send along.")
    elif len(reference) > CUSTOMER_REFERENCE_MAX or not reference.isprintable():
        _add(errors, "customer_reference",
             f"The customer reference must be at most {CUSTOMER_REFERENCE_MAX} printable "
             "characters.")
    if not isinstance(registrant, Mapping):
        raise CallerError("registrant must be a mapping of contact fields.")
    wire_registrant = _registrant(registrant, errors)
    connect = _auto_connect(auto_connect, errors) if auto_connect is not None else None
    if errors:
        raise ValidationError({name: messages for name, messages in errors.items()})

    body: dict[str, Any] = {
        "hostname": ascii_name,
        "years": years,
        "registrant": wire_registrant,
        "enableWhoisPrivacy": DEFAULT_WHOIS_PRIVACY if enable_whois_privacy is None
        else enable_whois_privacy,
        "autoRenew": DEFAULT_AUTO_RENEW if auto_renew is None else auto_renew,
        # Always sent: without it a premium price would be charged without a question.
        "maxTotalCents": max_total.amount_minor,
        "customerReference": reference,
    }
    if connect is not None:
        body["autoConnect"] = connect
    return body


# --- The adapter ---------------------------------------------------------------------------


@_guard_parsing
class DomaineeProvider(HttpProvider):
    """Domainee's purchase API. `account_ref` is accepted for the registry's common
    constructor and not sent: a Domainee API key already names its workspace."""

    kind = "domainee"
    capabilities = frozenset({Capability.ORDERS})

    _parse_error = staticmethod(parse_error)

    def _headers(self, *, token: str, account_ref: str) -> dict[str, str]:
        # A Domainee API key names its workspace: the account reference is not sent.
        return {"Authorization": f"Bearer {token}"}

    def ping(self) -> None:
        """The list endpoint filtered by a reference no purchase carries: authorised,
        and an empty page. Document 002 mentions filtering the list by
        customerReference without spelling the query; the body's field name is assumed.
        If the filter were ignored the read still proves the key, only less cheaply."""
        self.http.request("GET", PURCHASES_PATH, params={"customerReference": "backoffice-ping"})

    def iter_purchases(
        self,
        *,
        customer_reference: str | None = None,
        page_size: int = PURCHASES_PAGE_SIZE,
        on_malformed: Callable[[Any, Exception], None] | None = None,
    ) -> Iterator[Purchase]:
        """GET /v1/domain-purchases, every page: the workspace's purchases (only those
        carrying `customer_reference` when given), each parsed with `parse_purchase`.

        A record of the wrong shape raises MalformedResponse, or, with `on_malformed`,
        is handed to it with the parse error and skipped, so one bad row does not hide
        the others. Pages are read lazily: an error on a later page raises after the
        earlier pages' purchases were yielded.

        Doc silent: document 002 only says the list can be filtered by
        customerReference. Assumed, as for the purchase itself: the records under
        `purchases` (a bare array, or `data` / `items`, is read as well); `limit` for
        the page size; the next page asked for with `cursor=<nextCursor>`, or, when the
        answer only says `hasMore`, with `startingAfter=<last id>`. No next-page marker
        means the last page.
        """
        if isinstance(page_size, bool) or not isinstance(page_size, int) or not (
                1 <= page_size <= PURCHASES_PAGE_SIZE_MAX):
            raise CallerError(f"page_size must be 1 to {PURCHASES_PAGE_SIZE_MAX}.")
        params: dict[str, Any] = {"limit": page_size}
        if customer_reference is not None:
            if not isinstance(customer_reference, str) or not customer_reference.strip():
                raise CallerError("customer_reference must be a non-empty string.")
            params["customerReference"] = customer_reference.strip()
        # Checked above, before the first page is asked for; read lazily below.
        return self._purchases(params, on_malformed)

    def _purchases(self, params: dict[str, Any],
                   on_malformed: Callable[[Any, Exception], None] | None) -> Iterator[Purchase]:
        asked: set[tuple[str, str]] = set()
        while True:
            body = self.http.request("GET", PURCHASES_PATH, params=params).body
            records, after = _purchase_page(body)
            for record in records:
                try:
                    purchase = parse_purchase(record)
                except _PARSE_ERRORS as exc:
                    if on_malformed is None:
                        raise
                    on_malformed(record, exc)
                    continue
                yield purchase
            if after is None:
                return
            if after in asked:
                raise MalformedResponse("Domainee's purchase list pages in a loop.",
                                        code="malformed_paging")
            asked.add(after)
            params = {key: value for key, value in params.items()
                      if key not in {"cursor", "startingAfter"}}
            params[after[0]] = after[1]

    def order_idempotency_key(self, local_order_id: int | str) -> str:
        """The Idempotency-Key for our local order: the same order always sends the same
        key, so a replay (a retry, a re-run task, a double click) cannot charge twice
        within Domainee's 24-hour window."""
        if isinstance(local_order_id, bool) or not isinstance(local_order_id, int | str):
            raise CallerError("The local order id must be an int or a string.")
        text = str(local_order_id).strip()
        if (isinstance(local_order_id, int) and local_order_id <= 0) or not (
                LOCAL_ORDER_ID.fullmatch(text)):
            raise CallerError(f"Not a local order id: {local_order_id!r}.")
        return f"{IDEMPOTENCY_KEY_PREFIX}{text}"

    def purchase(
        self,
        *,
        hostname: str,
        years: int = 1,
        registrant: Mapping[str, Any],
        max_total: Money,
        customer_reference: str,
        idempotency_key: str,
        enable_whois_privacy: bool | None = None,
        auto_renew: bool | None = None,
        auto_connect: Mapping[str, Any] | None = None,
    ) -> PurchaseResult:
        """POST /v1/domain-purchases. Input is checked by `clean_purchase` first
        (ValidationError, nothing sent). Returns the completed purchase, or a refunded
        result on 502 registration_failed; raises DomainUnavailable, PriceChanged,
        BillingRequired, PurchaseRejected (none charged) or another ProviderError.
        `registrant` uses our contact field names; `auto_connect` takes origin_url
        (https only) and keep_host."""
        if not isinstance(idempotency_key, str) or not idempotency_key.strip():
            raise CallerError("A purchase needs an Idempotency-Key: see order_idempotency_key.")
        body = clean_purchase(
            hostname=hostname, years=years, registrant=registrant, max_total=max_total,
            customer_reference=customer_reference, enable_whois_privacy=enable_whois_privacy,
            auto_renew=auto_renew, auto_connect=auto_connect,
        )
        try:
            reply = self.http.request("POST", PURCHASES_PATH, json_body=body,
                                      headers={"Idempotency-Key": idempotency_key})
        except RegistrationFailed as failure:
            record = failure.details.get("purchase")
            logger.warning("Domainee refunded %s after the registrar refused it (request %s)",
                           body["hostname"], failure.request_id or "-")
            return PurchaseResult(purchase=parse_purchase(record) if record else None,
                                  refunded=True, reason=failure.reason,
                                  request_id=failure.request_id)
        purchase = parse_purchase(reply.body["purchase"])
        if auto_connect is not None and not purchase.connected_domain_id:
            # The document both describes autoConnect and calls it only "considered";
            # if Domainee ignored it, the domain is registered but not connected.
            logger.warning("Domainee purchase %s: autoConnect was sent but no "
                           "connectedDomainId came back", purchase.id)
        return PurchaseResult(purchase=purchase, refunded=purchase.status == "refunded",
                              request_id=reply.request_id)
