"""Domain orders at Entri Sell (document 000): registrations (`POST /orders`) and
transfers in (`POST /domains/{domain}/transfers/in`), through the quote -> confirm flow.

- The quote is Check Domain Availability's first-year price. Entri takes no price
  ceiling and no term (an order is one billing period, `pricing.billingPeriod` 1), so
  the price is checked again right before the order is placed and nothing is placed if
  it moved.
- The WHOIS contact: `contactDetails` is mandatory unless the application is in
  lightning mode (the account option `lightning_mode`; in lightning mode Entri uses the
  application's own Sell contact and ignores one sent, so none is sent). A transfer in
  always carries it. The contact is checked here first (the fields Entri's examples
  give), then validated by Entri (`POST /domains/contacts/validate`, which places
  nothing); a refusal names the field and nothing is ordered.
- Entri takes no idempotency key. A placement is never sent twice from here (the HTTP
  layer does not retry it); one whose answer was lost is found again by reading, never
  by placing it again: the order list filtered by domain and day, or, for a transfer,
  the domain itself.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError

from registrar.money import format_minor
from registrar.providers.base import (
    ContactRecord,
    DomainPlacement,
    DomainQuote,
    DomainQuoteRequest,
    OrderAction,
    OrderLine,
    OrderRecord,
    OrderType,
    PlacedOrder,
)
from registrar.providers.entri.wire import DEFAULT_CURRENCY, order_state, parse_order
from registrar.providers.errors import NotFound, PriceMoved, ProviderError, QuoteRefused
from registrar.providers.http import parse_timestamp

if TYPE_CHECKING:
    from registrar.providers.entri.adapter import EntriProvider

#: An order listed from before the placement was sent is another order (clocks differ).
SETTLE_CLOCK_SKEW = timedelta(minutes=5)
#: Silent: document 000's contact examples only show "PERSON" (with an organization).
CONTACT_TYPE = "PERSON"
#: Our contact field -> Entri's, for the fields every example of document 000 carries.
REQUIRED_FIELDS = (("first_name", "fname"), ("last_name", "lname"), ("email", "email"),
                   ("phone", "phone"), ("street_address", "address"), ("city", "city"),
                   ("post_code", "pcode"), ("country", "country"))
OPTIONAL_FIELDS = (("state", "state"), ("organization", "organization"))
_FIELD_OF_WIRE = {wire: name for name, wire in (*REQUIRED_FIELDS, *OPTIONAL_FIELDS)}
_WIRE_ALIASES = {"first name": "fname", "last name": "lname", "postal code": "pcode",
                 "post code": "pcode", "zip": "pcode", "street": "address"}


# --- the WHOIS contact ---------------------------------------------------------------


def contact_details(owner: ContactRecord) -> dict[str, Any]:
    """The registrant as document 000's contactDetails. Refuses (ValidationError keyed
    by our field names, nothing sent) a contact without a field Entri's examples
    always carry."""
    fields = owner.fields
    missing = {name: ["Entri needs it for the WHOIS contact."]
               for name, _ in REQUIRED_FIELDS if not str(fields.get(name) or "").strip()}
    if missing:
        raise ValidationError(missing)
    wire: dict[str, Any] = {"type": CONTACT_TYPE}
    for name, key in (*REQUIRED_FIELDS, *OPTIONAL_FIELDS):
        value = str(fields.get(name) or "").strip()
        if not value:
            continue
        if key == "address":
            # The document's address is a list of lines.
            wire[key] = [line.strip() for line in value.splitlines() if line.strip()]
        else:
            wire[key] = value.upper() if key == "country" else value
    return wire


def fingerprint(wire: Mapping[str, Any]) -> str:
    """Which contact was validated, without keeping the contact itself on the order."""
    return hashlib.sha256(json.dumps(wire, sort_keys=True).encode()).hexdigest()


def validate(provider: EntriProvider, wire: Mapping[str, Any]) -> str:
    """Entri's own check of the contact (POST /domains/contacts/validate). A refusal is
    a ValidationError naming the field Entri's message names (else the contact as a
    whole); Entri's id for the contact it created is returned."""
    try:
        return provider.validate_contact(dict(wire)).upstream_id
    except ProviderError as error:
        if not (error.documented and error.status is not None and 400 <= error.status < 500):
            raise
        said = str(error.details.get("upstream_message") or error.message).strip()
        raise ValidationError(_refusal(said)) from error


def _refusal(said: str) -> dict[str, list[str]]:
    text = said.lower()
    named = {_FIELD_OF_WIRE[wire] for wire in _FIELD_OF_WIRE
             if re.search(rf"\b{wire}\b", text)}
    named |= {_FIELD_OF_WIRE[wire] for alias, wire in _WIRE_ALIASES.items() if alias in text}
    message = f"Entri refused it ({said or 'no reason given'}). Nothing was ordered."
    if not named:
        return {"owner": [f"Entri refused the registrant contact ({said or 'no reason given'})"
                          ". Nothing was ordered."]}
    return {name: [message] for name in sorted(named)}


# --- quote ---------------------------------------------------------------------------------


def _first_year(provider: EntriProvider, domain: str, action: OrderAction):
    answer = provider.check_availability(domain)
    if action == OrderAction.TRANSFER:
        if answer["available"]:
            raise QuoteRefused(f"{domain} is not registered anywhere, so it cannot be "
                               "transferred in: register it instead.", rule="not_transferable")
        return None, None
    if not answer["available"]:
        raise QuoteRefused(f"{domain} is not available to register at Entri "
                           f"({answer['availability']}).", rule="not_available")
    if answer["create_price"] is None:
        raise QuoteRefused(f"Entri states no price for {domain}: it cannot be quoted.",
                           rule="no_price")
    return answer["create_price"], answer["renewal_price"]


def _contact_needed(provider: EntriProvider, action: OrderAction) -> bool:
    return action == OrderAction.TRANSFER or not provider.lightning_mode


def quote(provider: EntriProvider, request: DomainQuoteRequest) -> DomainQuote:
    action, domain = request.action, request.domain
    if action not in (OrderAction.REGISTER, OrderAction.TRANSFER):
        raise QuoteRefused("Entri sells registrations and transfers in only.",
                           rule="unsupported_action")
    data: dict[str, Any] = {"operation": action.value,
                            "lightning_mode": provider.lightning_mode}
    notes: list[str] = []
    wire = None
    if _contact_needed(provider, action):
        if request.owner is None:
            why = ("a transfer in carries it" if action == OrderAction.TRANSFER else
                   "this Entri application is not in lightning mode")
            raise ValidationError({"owner": [
                f"Choose the registrant contact: Entri needs the WHOIS contact ({why})."]})
        wire = contact_details(request.owner)  # our check first: nothing sent if it fails
    elif request.owner is not None:
        notes.append("Lightning mode: Entri registers it with the application's own Sell "
                     "contact, so the registrant chosen is not sent.")
    price, renewal = _first_year(provider, domain, action)
    if wire is not None:
        data["entri_contact_id"] = validate(provider, wire)
        data["contact_fingerprint"] = fingerprint(wire)
        notes.append("Entri validated the WHOIS contact.")
    if action == OrderAction.TRANSFER:
        notes.insert(0, "Entri quotes no transfer price: its own price for the transfer "
                        "applies, and no amount is recorded until Entri states one.")
        return DomainQuote(currency=DEFAULT_CURRENCY, total_minor=None, notes=tuple(notes),
                           data=data)
    data["renewal_minor"] = renewal.amount_minor if renewal is not None else None
    renews = (f"; it renews at {format_minor(renewal.amount_minor, renewal.currency)} a year"
              if renewal is not None else "")
    notes.insert(0, f"First-year price from Entri's Check Domain Availability{renews}.")
    notes.insert(1, "Entri takes no price ceiling: the price is checked again right before "
                    "the order is placed, and nothing is placed if it moved.")
    return DomainQuote(currency=price.currency, total_minor=price.amount_minor,
                       notes=tuple(notes), data=data)


# --- place -----------------------------------------------------------------------------------


def _placement_contact(provider: EntriProvider,
                       placement: DomainPlacement) -> dict[str, Any] | None:
    """The contact to send, validated again only when it changed since the quote."""
    if not _contact_needed(provider, placement.action):
        return None
    if placement.owner is None:
        raise QuoteRefused("The registrant contact chosen at quote time is gone; quote "
                           "again.", rule="owner_gone")
    wire = contact_details(placement.owner)
    if fingerprint(wire) != placement.quote.get("contact_fingerprint"):
        validate(provider, wire)
    return wire


def place(provider: EntriProvider, placement: DomainPlacement) -> PlacedOrder:
    if bool(placement.quote.get("lightning_mode")) != provider.lightning_mode:
        raise QuoteRefused("The Entri account's lightning mode changed since the quote; "
                           "quote it again.", rule="lightning_mode_changed")
    if placement.action == OrderAction.TRANSFER:
        wire = _placement_contact(provider, placement)
        info = provider.transfer_in(placement.domain, authorization_code=placement.auth_code,
                                    contact=wire or {})
        return PlacedOrder(record=_transfer_record(placement, info.status, info.transfer_id,
                                                   info.transfer_type))
    price, _ = _first_year(provider, placement.domain, placement.action)
    if (price.amount_minor, price.currency) != (placement.quoted_total_minor,
                                                placement.currency):
        raise PriceMoved(
            f"{placement.domain} now costs {format_minor(price.amount_minor, price.currency)}"
            f", not the {format_minor(placement.quoted_total_minor, placement.currency)} "
            "quoted. Nothing was ordered; quote it again.")
    wire = _placement_contact(provider, placement)
    email = placement.customer_email or (placement.owner.fields.get("email", "")
                                         if placement.owner is not None else "")
    if not email:
        raise QuoteRefused("The customer account has no e-mail address, and Entri needs one "
                           "for the order.", rule="no_email")
    record = provider.place_order(domain=placement.domain, email=email,
                                  user_id=placement.customer_upstream_id or None,
                                  contact=wire)
    return PlacedOrder(record=record)


def _transfer_record(placement: DomainPlacement, state: Any, transfer_id: str,
                     transfer_type: str = "transfer_in") -> OrderRecord:
    """A transfer in as its order. The transfer id is not an order id (GET /orders/{id}
    would not know it), so it is kept on the line, and the order is left without an
    upstream id: the order mirror adopts it when Entri lists an order for the domain."""
    return OrderRecord(
        upstream_id=None, state=order_state(getattr(state, "value", state)),
        type=OrderType.TRANSFER_IN, domain=placement.domain, currency=placement.currency,
        lines=(OrderLine(description=placement.domain, domain=placement.domain,
                         upstream_id=transfer_id,
                         details={"transfer_id": transfer_id,
                                  "transfer_type": transfer_type}),))


# --- settle ----------------------------------------------------------------------------------

PAGE_SIZE = 100


def _with_created(data: Mapping[str, Any]) -> tuple[OrderRecord, datetime | None]:
    items = data.get("items") or []
    first = items[0] if isinstance(items, list) and items and isinstance(items[0], Mapping) \
        else {}
    return parse_order(data), parse_timestamp(data.get("createdAt") or first.get("createdAt"))



def settle(provider: EntriProvider, placement: DomainPlacement) -> OrderRecord | None:
    """What became of a placement whose answer was lost, found by reading only."""
    since = (placement.placed_at - SETTLE_CLOCK_SKEW) if placement.placed_at else None
    if placement.action == OrderAction.TRANSFER:
        try:
            domain = provider.get_domain(placement.domain)
        except NotFound:
            return None
        status = str(domain.raw.get("status") or "")
        created = domain.fields.get("upstream_created_at")
        if not status.startswith("transfer") or (since is not None and created is not None
                                                 and created < since):
            return None  # the domain was here before this transfer was sent
        return _transfer_record(placement, status, "")
    # The list's `domain` filter, and the order's items' createdAt checked here: the
    # list shape has no createdAt of its own, so `from_date` is not relied on (silent:
    # the document does not say which date it filters by).
    params = provider._list_params(0, PAGE_SIZE, None, placement.domain, None, None)
    mine = None
    for record, created in provider._iterate("/orders", params, _with_created):
        if record.domain != placement.domain:
            continue
        if since is not None and created is not None and created < since:
            continue  # an order of this domain from before this one was sent
        mine = record
        break
    if mine is None:
        return None
    if mine.total_minor is None and placement.quoted_total_minor is not None:
        # Only the placement's own answer states the price; the list does not. The price
        # was checked again seconds before it was sent and had not moved: it is the one
        # charged.
        mine = replace(mine, currency=placement.currency,
                       subtotal_minor=placement.quoted_total_minor, fees_minor=0,
                       total_minor=placement.quoted_total_minor)
    return mine
