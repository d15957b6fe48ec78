"""Document 000's wire shapes: domains, orders, transfers and the error body, parsed into
the provider records. Where the document is silent the choice is commented ("silent")."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError

from registrar.providers import webhook_fields
from registrar.providers.base import (
    Money,
    OrderLine,
    OrderRecord,
    OrderState,
    OrderType,
    PushedEvent,
    RegistrationRecord,
    RegistrationState,
)
from registrar.providers.errors import ProviderError, error_for
from registrar.providers.http import parse_timestamp
from registrar.values.names import to_ascii

# Silent: the document shows prices only in USD (pricing.currency "USD") and gives
# availability and suggestion prices without a currency. We read those as USD.
DEFAULT_CURRENCY = "USD"

# --- Statuses ------------------------------------------------------------------------

# The one status vocabulary the document uses for domains, orders and transfers; the
# provider-level OrderState took its words from it.
ENTRI_STATUSES = (
    "payment_initiated", "payment_successful", "payment_failed", "registration_in_progress",
    "registered", "transferred", "transfer_started", "transfer_completed", "transfer_ack",
    "transfer_success", "transfer_failed",
)
ORDER_STATE: dict[str, OrderState] = {status: OrderState(status) for status in ENTRI_STATUSES}

# A domain's Entri status as a registration state. The document does not define the
# statuses; this is our reading of their names:
# - registered, and the ends of a successful transfer in (transferred, transfer_success,
#   transfer_completed): the domain is ours and live -> active. A domain transferred
#   *out* is no longer listed by Entri, so `transferred` cannot mean "gone".
# - payment_initiated / payment_successful / registration_in_progress: bought but not
#   yet registered -> pending.
# - transfer_started / transfer_ack: a transfer is under way -> pending_transfer.
# - payment_failed / transfer_failed: the domain never became ours -> cancelled. (A
#   failed transfer *out* would leave it ours; Entri's status does not say which way the
#   transfer went, and the next sync after the failed transfer-out shows it registered.)
REGISTRATION_STATE: dict[str, RegistrationState] = {
    "payment_initiated": RegistrationState.PENDING,
    "payment_successful": RegistrationState.PENDING,
    "registration_in_progress": RegistrationState.PENDING,
    "registered": RegistrationState.ACTIVE,
    "transferred": RegistrationState.ACTIVE,
    "transfer_success": RegistrationState.ACTIVE,
    "transfer_completed": RegistrationState.ACTIVE,
    "transfer_started": RegistrationState.PENDING_TRANSFER,
    "transfer_ack": RegistrationState.PENDING_TRANSFER,
    "payment_failed": RegistrationState.CANCELLED,
    "transfer_failed": RegistrationState.CANCELLED,
}

_TRANSFER_STATUSES = frozenset(s for s in ENTRI_STATUSES if s.startswith("transfer"))


def order_state(value: Any) -> OrderState:
    # An unknown status is refused (MalformedResponse) rather than guessed: orders are money.
    if value not in ORDER_STATE:
        raise ValueError(f"unknown Entri status {value!r}")
    return ORDER_STATE[value]


def registration_state(value: Any) -> RegistrationState:
    if value not in REGISTRATION_STATE:
        raise ValueError(f"unknown Entri status {value!r}")
    return REGISTRATION_STATE[value]


# --- Parsing upstream shapes ------------------------------------------------------------


def to_minor_units(value: Any) -> int:
    """A price in decimal dollars (a JSON number or string) as integer cents.

    JSON numbers reach us as floats (http.py parses with json.loads); `str(float)` is the
    shortest decimal that round-trips, so 12.99 becomes Decimal("12.99") exactly. A price
    with fractions of a cent, a negative one, NaN or a non-number is refused (ValueError,
    which the endpoint guard turns into MalformedResponse), never rounded.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise TypeError(f"not a price: {value!r}")
    try:
        amount = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise ValueError(f"not a price: {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"not a price: {value!r}")
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"price with fractions of a cent: {value!r}")
    return int(cents)


def money(value: Any, currency: str = DEFAULT_CURRENCY) -> Money | None:
    return None if value is None else Money(to_minor_units(value), currency)


def upstream_name(value: Any) -> str:
    """A domain name from an answer, in our ASCII lower-case form (ValueError if bad)."""
    if not isinstance(value, str):
        raise TypeError(f"not a domain name: {value!r}")
    try:
        return to_ascii(value, min_labels=1)
    except ValidationError:
        raise ValueError(f"not a domain name: {value!r}") from None


def _flag(data: Mapping[str, Any], key: str) -> bool:
    value = data[key]
    if not isinstance(value, bool):
        raise TypeError(f"{key} is not a boolean: {value!r}")
    return value


def _dns_records(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(r, Mapping) for r in value):
        raise TypeError("dnsRecords is not a list of records")
    return [{key: record[key] for key in ("host", "type", "value", "ttl") if key in record}
            for record in value]


def parse_domain(data: Mapping[str, Any]) -> RegistrationRecord:
    """An Entri domain. Entri keys domains by name (no id of its own). Flags the answer
    leaves out are left out (not defaulted), so applying the record never invents a
    value."""
    fields: dict[str, Any] = {
        "name": upstream_name(data["domainName"]),
        "status": registration_state(data["status"]).value,
    }
    for key, name in (("autoRenewed", "auto_renew"), ("whoisPrivacy", "privacy_protect"),
                      ("locked", "locked")):
        if key in data:
            fields[name] = _flag(data, key)
    if "dnsRecords" in data:
        fields["dns_records"] = _dns_records(data["dnsRecords"])
    # The document's timestamps carry no offset ("2025-09-07T23:22:42.661936"): read as UTC.
    fields["upstream_created_at"] = parse_timestamp(data.get("createdAt"))
    fields["upstream_updated_at"] = parse_timestamp(data.get("updatedAt"))
    return RegistrationRecord(fields=fields, tld={"name": fields["name"].rsplit(".", 1)[-1]},
                              raw=dict(data))


def _order_type(state: OrderState) -> OrderType:
    # Silent: an order does not say what it is for; only transfers use transfer_* statuses.
    if state.value in _TRANSFER_STATUSES or state == OrderState.TRANSFERRED:
        return OrderType.TRANSFER_IN
    return OrderType.REGISTRATION


def parse_order(data: Mapping[str, Any]) -> OrderRecord:
    """An Entri order. Two shapes exist: the list/detail one (orderStatus, customerEmail,
    items) and the placed-order one (status, domain, pricing). Amounts come only from
    `pricing`; when the answer has none, they are left unstated rather than zero."""
    state = order_state(data["orderStatus"] if "orderStatus" in data else data["status"])
    raw_items = data.get("items") or []
    if not isinstance(raw_items, list):
        raise TypeError("items is not a list")
    domain = data.get("domain") or (raw_items[0]["domainName"] if raw_items else "")
    domain = upstream_name(domain) if domain else ""
    currency = DEFAULT_CURRENCY
    years = purchase_minor = renewal_minor = None
    pricing = data.get("pricing")
    if pricing is not None:
        if not isinstance(pricing, Mapping):
            raise TypeError("pricing is not an object")
        currency = str(pricing.get("currency") or DEFAULT_CURRENCY).upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise ValueError(f"not a currency: {currency!r}")
        purchase_minor = to_minor_units(pricing["purchasePrice"])
        if pricing.get("renewalPrice") is not None:
            renewal_minor = to_minor_units(pricing["renewalPrice"])
        if pricing.get("billingPeriod") is not None:
            years = int(pricing["billingPeriod"])
    lines = []
    delivered = []
    for item in raw_items:
        name = upstream_name(item["domainName"])
        lines.append(OrderLine(description=name, domain=name,
                               upstream_id=str(item.get("orderItemId") or ""),
                               details={"status": str(item.get("status") or "")}))
        if "status" in item:
            # Each item is the domain itself, in the domain list's shape.
            delivered.append(parse_domain(item))
    if not raw_items and domain and purchase_minor is not None:
        # The placed-order answer has no items: the order is its one domain.
        details: dict[str, Any] = {"renewal_price_minor": renewal_minor}
        if years is not None:
            details["billing_period_years"] = years
        lines.append(OrderLine(description=domain, domain=domain,
                               unit_amount_minor=purchase_minor, total_minor=purchase_minor,
                               details=details))
    return OrderRecord(
        upstream_id=str(data["orderId"]),
        state=state,
        type=_order_type(state),
        domain=domain,
        years=years,
        currency=currency,
        subtotal_minor=purchase_minor,
        fees_minor=0 if purchase_minor is not None else None,
        total_minor=purchase_minor,
        customer_reference=str(data.get("userId") or ""),
        upstream_customer_id=str(data.get("userId") or ""),
        placed_at=parse_timestamp(data["createdAt"]) if data.get("createdAt") else None,
        lines=tuple(lines),
        delivered=tuple(record for record in delivered
                        if record.fields["status"] == RegistrationState.ACTIVE),
    )


@dataclass(frozen=True)
class Page:
    """One page of a list endpoint. Pages count from 0; `next_page` is None on the last."""

    items: list[Any]
    page: int
    next_page: int | None
    total: int | None


@dataclass(frozen=True)
class TransferInfo:
    """The answer to a transfer in or out. `auth_code` (transfer out only) is a secret:
    show it once, never store or log it; it is kept out of the repr."""

    domain: str
    transfer_id: str
    status: OrderState
    transfer_type: str
    auth_code: str = field(default="", repr=False)


@dataclass(frozen=True)
class ContactValidation:
    """Entri validated the WHOIS contact and created it (`contact` is its record)."""

    message: str
    upstream_id: str
    contact: dict[str, Any]


def parse_error(status: int, body: Any, text: str, request_id: str) -> ProviderError:
    """Document 000's error body: {"message": "..."} with the HTTP status. There is no
    machine code, so the code is derived from the status (http_404) and the class and
    staff-safe message come from the status; the upstream message goes into details."""
    message = body.get("message") if isinstance(body, Mapping) else None
    return error_for(status, f"http_{status}",
                     upstream_message=str(message) if message is not None else "",
                     request_id=request_id)


# --- Webhooks ---------------------------------------------------------------------------

#: Silent: document 000 points to Entri's webhook pages without the payloads; this is the
#: event docs/webhooks.md documents for the sender to be set up with.
ORDER_STATUS_CHANGED = "order.status_changed"


def parse_webhook(payload: Mapping[str, Any]) -> PushedEvent:
    """{"id", "type", "data": {...}}: an order's new status (`order.status_changed`,
    data {orderId, status}); any other type is stored without an order update."""
    event_id = webhook_fields.text(payload.get("id"), "id", max_length=128, allow_int=True)
    event_type = webhook_fields.text(payload.get("type"), "type", max_length=128)
    data = payload.get("data")
    if not isinstance(data, Mapping):
        raise webhook_fields.InvalidField("data", "data must be an object.")
    if event_type != ORDER_STATUS_CHANGED:
        # Stored as it came, so what it carries still has to be storable text.
        if "orderId" in data:
            webhook_fields.text(data["orderId"], "data.orderId", max_length=64,
                                allow_int=True)
        if "status" in data:
            webhook_fields.text(data["status"], "data.status", max_length=64)
        return PushedEvent(event_id=event_id, event_type=event_type)
    # The order's upstream id lands in a 64-character column.
    order_id = webhook_fields.text(data.get("orderId"), "data.orderId", max_length=64,
                                   allow_int=True)
    status = data.get("status")
    if not isinstance(status, str) or status not in ORDER_STATE:
        raise webhook_fields.InvalidField("data.status", "data.status must be a known Entri "
                                          "status, e.g. registered.")
    return PushedEvent(event_id=event_id, event_type=event_type,
                       order=OrderRecord(upstream_id=order_id, state=ORDER_STATE[status]))
