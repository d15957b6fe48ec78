"""Document 002's wire shapes: the purchase record, the error codes and body, the
purchase list's pages and the webhook events."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, ClassVar

from registrar.providers import webhook_fields as fields
from registrar.providers.base import (
    OrderLine,
    OrderRecord,
    OrderState,
    OrderType,
    PushedEvent,
    RegistrationRecord,
    RegistrationState,
)
from registrar.providers.errors import (
    BadRequest,
    Conflict,
    PaymentRequiredError,
    ProviderError,
    UpstreamFailure,
    error_for,
)
from registrar.providers.http import PARSE_ERRORS, parse_timestamp

PURCHASES_PATH = "/v1/domain-purchases"
#: Connecting a hostname to Domainee's edge (a TLS certificate, proxying).
DOMAINS_PATH = "/v1/domains"
# Domainee charges in USD; the document gives no other currency for maxTotalCents.
PURCHASE_CURRENCY = "USD"
WEBHOOK_EVENTS = frozenset({"domain_purchase.completed", "domain_purchase.failed"})
#: The registrar's reason a failed event gives: kept on the order, shown to staff.
MAX_REASON = 1000


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
    # Every listed code says what happened, the 502 included (charged, then refunded).
    return cls(staff_message, code=code, status=status, request_id=request_id,
               details=details, documented=True)


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
        expires_at=parse_timestamp(data.get("expiresAt")),
        created_at=parse_timestamp(data.get("createdAt")),
        updated_at=parse_timestamp(data.get("updatedAt")),
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


_ORDER_STATE = {
    "completed": OrderState.COMPLETED,
    "refunded": OrderState.REFUNDED,
    "failed": OrderState.FAILED,
}


def purchase_registration(purchase: Purchase) -> RegistrationRecord:
    """The registration a completed purchase made, as Domainee describes it (keyed by
    its name: the registrar's own id belongs to Domainee's upstream, not to us)."""
    fields: dict[str, Any] = {"name": purchase.hostname, "status": RegistrationState.ACTIVE.value}
    if purchase.expires_at is not None:
        fields["expires_at"] = purchase.expires_at
    if purchase.whois_privacy_enabled is not None:
        fields["privacy_protect"] = bool(purchase.whois_privacy_enabled)
    if purchase.auto_renew is not None:
        fields["auto_renew"] = bool(purchase.auto_renew)
    if purchase.created_at is not None:
        fields["upstream_created_at"] = purchase.created_at
    return RegistrationRecord(fields=fields, tld={"name": purchase.hostname.rsplit(".", 1)[-1]},
                              raw=dict(purchase.raw))


def purchase_record(purchase: Purchase | PurchaseResult | Mapping[str, Any]) -> OrderRecord:
    """The order a purchase record is (parsed, or raw as a webhook delivers it:
    KeyError/TypeError/ValueError when malformed), or a purchase's result.

    completed -> completed, charged; refunded -> refunded in full, charged; failed ->
    failed, no money moved (the priced amounts are kept: the ledger, not the order,
    records money). A result without a record (a registration_failed answer without the
    row) says only that it was charged and refunded, and the registrar's reason: the
    amounts are not stated. Raises ValueError for a status document 002 does not give.
    """
    if isinstance(purchase, Mapping):
        purchase = parse_purchase(purchase)
    result = purchase if isinstance(purchase, PurchaseResult) else None
    record = purchase.purchase if isinstance(purchase, PurchaseResult) else purchase
    refunded = result is not None and result.refunded
    reason = result.reason if result is not None else ""
    if record is None:
        return OrderRecord(upstream_id=None, state=OrderState.REFUNDED,
                           type=OrderType.REGISTRATION, status_reason=reason, paid=True)
    if record.status not in _ORDER_STATE:
        raise ValueError(f"unknown Domainee purchase status {record.status!r}")
    state = OrderState.REFUNDED if refunded else _ORDER_STATE[record.status]
    years = f"{record.years} year{'' if record.years == 1 else 's'}"
    # Document 002's purchase is one domain: the order's one line, made up from it.
    line = OrderLine(
        description=f"Registration of {record.hostname} ({years})",
        domain=record.hostname,
        unit_amount_minor=record.total_cents,
        total_minor=record.total_cents,
        details={"wholesale_minor": record.wholesale_cents, "fee_minor": record.fee_cents,
                 "registrar": record.registrar,
                 "registrar_domain_id": record.registrar_domain_id},
    )
    return OrderRecord(
        upstream_id=record.id,
        state=state,
        type=OrderType.REGISTRATION,
        domain=record.hostname,
        years=record.years,
        currency=record.currency,
        subtotal_minor=record.wholesale_cents,
        fees_minor=record.fee_cents,
        total_minor=record.total_cents,
        refunded_minor=record.total_cents if state == OrderState.REFUNDED else 0,
        status_reason=reason,
        customer_reference=record.customer_reference,
        placed_at=record.created_at.astimezone(UTC) if record.created_at else None,
        lines=(line,),
        lines_authoritative=False,
        delivered=(purchase_registration(record),) if state == OrderState.COMPLETED else (),
        paid=state in {OrderState.COMPLETED, OrderState.REFUNDED},
    )


def parse_webhook(payload: Mapping[str, Any]) -> PushedEvent:
    """A `domain_purchase.completed` or `domain_purchase.failed` delivery, with its
    purchase as an order; another type is stored without one. ValueError when malformed.

    Document 002 names the events but not their payload or how they are signed. Assumed:
    {"id", "type", "data": {"purchase": {...}, "reason"?}}; also accepted are the record
    directly under "data" and a top-level "purchase". The caller authenticates the
    delivery (the document gives no signature scheme) and dedupes on the event id.
    """
    # "event" is the older name of "type": read only when "type" is absent, so a bad
    # "type" is refused under its own name.
    type_field = "event" if "type" not in payload and "event" in payload else "type"
    event_type = fields.text(payload.get(type_field), type_field, max_length=128)
    event_id = fields.text(payload.get("id"), "id", max_length=128, allow_int=True)
    data = payload.get("data")
    # The envelope holds whatever the type, so an event of a type not followed here is
    # still refused when its "data" is not an object: it is not a Domainee delivery.
    if "data" in payload and not isinstance(data, Mapping):
        raise fields.InvalidField("data", "data must be an object holding the purchase "
                                          "(data.purchase).")
    if isinstance(data, Mapping) and "purchase" in data:
        raw, path = data["purchase"], "data.purchase"
    elif isinstance(data, Mapping) and "hostname" in data:
        raw, path = data, "data"
    elif "purchase" in payload:
        raw, path = payload["purchase"], "purchase"
    else:
        raw, path = None, ""
    if path and not isinstance(raw, Mapping):
        raise fields.InvalidField(path, f"{path} must be an object holding the purchase.")
    reason = fields.text(data.get("reason"), "data.reason", max_length=MAX_REASON,
                         required=False, multiline=True) if isinstance(data, Mapping) else ""
    if event_type not in WEBHOOK_EVENTS:
        # A purchase (and a reason) carried by an event not followed here is still
        # checked: the stored raw event never holds what every other path refuses.
        if path:
            _check_purchase(raw, path)
        return PushedEvent(event_id=event_id, event_type=event_type)
    if not path:
        raise fields.InvalidField("data.purchase",
                                  "The webhook event carries no purchase (data.purchase).")
    # Checked and put in canonical form (the ASCII hostname) before it is parsed, so
    # the order and the registration hold what every other path stores.
    raw = _check_purchase(raw, path)
    try:
        purchase = parse_purchase(raw)
        order = purchase_record(purchase)
    except PARSE_ERRORS as exc:
        raise ValueError(f"The webhook's purchase is malformed: {exc!r}") from exc
    if reason and not order.status_reason:
        order = replace(order, status_reason=reason)
    return PushedEvent(event_id=event_id, event_type=event_type, order=order)


def _check_purchase(raw: Mapping[str, Any], path: str) -> dict[str, Any]:
    """Each field of a pushed purchase, against the columns it is mirrored into; raises
    InvalidField naming the first one refused. Returns the record with its hostname in
    ASCII form."""
    fields.text(raw.get("id"), f"{path}.id", max_length=64, allow_int=True)
    hostname = fields.domain(raw.get("hostname"), f"{path}.hostname")
    fields.years(raw.get("years"), f"{path}.years")
    for name in ("wholesaleCents", "feeCents", "totalCents"):
        fields.minor_amount(raw.get(name), f"{path}.{name}")
    fields.currency(raw.get("currency"), f"{path}.currency")
    status = raw.get("status")
    # A list or an object is not hashable: checked as a string first, never a TypeError.
    if not isinstance(status, str) or status not in _ORDER_STATE:
        raise fields.InvalidField(f"{path}.status", f"{path}.status must be one of "
                                  f"{', '.join(sorted(_ORDER_STATE))}.")
    for name in ("customerReference", "registrar", "registrarDomainId", "connectedDomainId"):
        fields.text(raw.get(name), f"{path}.{name}", max_length=64, required=False)
    for name in ("whoisPrivacyEnabled", "autoRenew"):
        if raw.get(name) is not None and not isinstance(raw.get(name), bool):
            raise fields.InvalidField(f"{path}.{name}", f"{path}.{name} must be true or false.")
    fields.timestamp(raw.get("createdAt"), f"{path}.createdAt")
    fields.timestamp(raw.get("updatedAt"), f"{path}.updatedAt")
    fields.timestamp(raw.get("expiresAt"), f"{path}.expiresAt", expiry=True)
    return {**raw, "hostname": hostname}


def purchase_page(body: Any) -> tuple[list[Any], tuple[str, str] | None]:
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




def parse_connected_domain(body: Any) -> dict[str, Any]:
    """The /v1/domains row a connect answered with. Document 002 only says the row has
    an id (a purchase's `connectedDomainId` names it); assumed, as for purchases, the row
    under `domain` (a bare row is read as well), its id under `id`. KeyError/TypeError/
    ValueError when there is no id."""
    if not isinstance(body, Mapping):
        raise TypeError("the connect answer is not a JSON object")
    row = body.get("domain") if isinstance(body.get("domain"), Mapping) else body
    upstream_id = row["id"]
    if isinstance(upstream_id, bool) or not isinstance(upstream_id, str | int) or not str(
            upstream_id).strip() or len(str(upstream_id)) > 64:
        raise ValueError(f"not a domain id: {upstream_id!r}")
    return {**row, "id": str(upstream_id)}
