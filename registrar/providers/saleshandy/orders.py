"""Saleshandy email-infrastructure orders as `OrderRecord`s.

Document 003 has no order list and no order read: an order is followed through the
domain listing (GET /v1/domain), whose entries carry their orderId and provisioning
status. So the order's lines (one per mailbox) come from what was sent, kept on the
local order and handed back as a `KnownOrder`, and the listing says where each domain
stands.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from registrar.providers.base import (
    KnownOrder,
    OnMalformed,
    OrderLine,
    OrderRecord,
    OrderState,
    OrderType,
    RegistrationRecord,
    RegistrationState,
)
from registrar.providers.http import PARSE_ERRORS
from registrar.providers.saleshandy.wire import (
    IN_PROGRESS,
    OrderProvisioning,
    ProvisionedDomain,
)

# Document 003's answer carries no price and names no currency; Saleshandy sells in US
# dollars, and the customer pays Saleshandy directly at its checkout (no money moves
# through our ledger). The order is therefore recorded in USD with zero amounts rather
# than a guessed price.
ORDER_CURRENCY = "USD"

_ORDER_STATE = {
    IN_PROGRESS: OrderState.IN_PROGRESS,
    "active": OrderState.COMPLETED,
    "failed": OrderState.FAILED,
    "deleted": OrderState.CANCELLED,
    # The order was fulfilled; a domain's later expiry is not the order's state.
    "expired": OrderState.COMPLETED,
}
#: A listed domain as a registration state.
REGISTRATION_STATE = {
    IN_PROGRESS: RegistrationState.PENDING,
    "active": RegistrationState.ACTIVE,
    "expired": RegistrationState.EXPIRED,
    "failed": RegistrationState.CANCELLED,
    "deleted": RegistrationState.CANCELLED,
}
#: After these, nothing about the order changes: it is not followed any more.
FINAL_STATES = frozenset({OrderState.COMPLETED, OrderState.FAILED, OrderState.CANCELLED,
                          OrderState.REFUNDED})


def domain_registration(domain: ProvisionedDomain) -> RegistrationRecord:
    """A listed domain as a registration (keyed by name). ValueError for a status the
    listing is not known to use."""
    if domain.status not in REGISTRATION_STATE:
        raise ValueError(f"unknown Saleshandy domain status {domain.status!r}")
    return RegistrationRecord(
        fields={"name": domain.name, "status": REGISTRATION_STATE[domain.status].value},
        tld={"name": domain.name.rsplit(".", 1)[-1]}, raw=dict(domain.raw))


def order_record(
    body: Mapping[str, Any],
    order_id: str,
    provisioning: OrderProvisioning | None = None,
    *,
    needs_payment: bool = False,
) -> OrderRecord:
    """The order `body` (clean_order's output, or one rebuilt from the lines) with the
    last poll, if any.

    State: after a poll, from its status; before, awaiting payment when there is a
    checkout link to pay, else in progress (free and replacement orders start
    provisioning at once). No amounts: Saleshandy's answer carries no price. `domain` is
    set only for a one-domain order (the lines carry each mailbox's domain). Raises
    ValueError for a domain status the listing is not known to use.
    """
    if provisioning is not None:
        state = _ORDER_STATE.get(provisioning.status)
        if state is None:
            raise ValueError(f"unknown Saleshandy domain status {provisioning.status!r}")
    elif needs_payment:
        state = OrderState.AWAITING_PAYMENT
    else:
        state = OrderState.IN_PROGRESS
    listed = {d.name: d for d in provisioning.domains} if provisioning is not None else {}
    domains = body["domains"]
    lines = []
    for domain in domains:
        upstream = listed.get(domain["name"])
        for mailbox in domain["mailboxes"]:
            lines.append(OrderLine(
                description=f"Mailbox {mailbox['email']} ({body['emailServiceProvider']}, "
                            f"{body['planType']})",
                domain=domain["name"],
                details={
                    "email": mailbox["email"],
                    "first_name": mailbox["firstname"],
                    "last_name": mailbox["lastname"],
                    "profile_pic_id": mailbox["profilePicId"],
                    "email_service_provider": body["emailServiceProvider"],
                    "plan_type": body["planType"],
                    "redirect_url": domain.get("redirectUrl", ""),
                    "domain_id": upstream.id if upstream else "",
                    "domain_status": upstream.status if upstream else "",
                },
            ))
    reason = ""
    if state in {OrderState.FAILED, OrderState.CANCELLED} and listed:
        # Saleshandy gives no reason; keep which domain ended how.
        reason = "Saleshandy domain status: " + ", ".join(
            f"{name} {domain.status}" for name, domain in sorted(listed.items()))
    delivered = tuple(domain_registration(domain) for domain in listed.values()
                      if domain.status in {"active", "expired"})
    return OrderRecord(
        upstream_id=order_id or None,
        state=state,
        type=OrderType.EMAIL_INFRASTRUCTURE,
        domain=domains[0]["name"] if len(domains) == 1 else "",
        currency=ORDER_CURRENCY,
        status_reason=reason,
        lines=tuple(lines),
        delivered=delivered,
    )


def body_from_lines(lines: Sequence[OrderLine]) -> dict[str, Any]:
    """The part of the order body `order_record` reads, rebuilt from the order's lines
    (the owner's details are not kept on the order and are not needed to follow it)."""
    if not lines:
        raise ValueError("The order has no lines to follow.")
    domains: dict[str, dict[str, Any]] = {}
    for line in lines:
        details = line.details
        domain = domains.setdefault(line.domain, {"name": line.domain, "mailboxes": []})
        if details.get("redirect_url"):
            domain["redirectUrl"] = details["redirect_url"]
        domain["mailboxes"].append({
            "email": details["email"], "firstname": details["first_name"],
            "lastname": details["last_name"], "profilePicId": details.get("profile_pic_id", 0),
        })
    first = lines[0].details
    return {"emailServiceProvider": first["email_service_provider"],
            "planType": first["plan_type"], "domains": list(domains.values())}


def listed_order_body(domains: Iterable[ProvisionedDomain]) -> dict[str, Any]:
    """The order body of an order placed elsewhere, from what the listing shows of its
    domains and mailboxes. Doc silent: the listing is not documented; the mailbox
    provider and plan are read when an entry carries them."""
    domains = list(domains)
    first = domains[0].raw
    body: dict[str, Any] = {
        "emailServiceProvider": str(first.get("emailServiceProvider") or "unknown"),
        "planType": str(first.get("planType") or "unknown"),
        "domains": [],
    }
    for domain in sorted(domains, key=lambda domain: domain.name):
        entry: dict[str, Any] = {"name": domain.name, "mailboxes": []}
        if domain.raw.get("redirectUrl"):
            entry["redirectUrl"] = str(domain.raw["redirectUrl"])
        for mailbox in domain.mailboxes:
            if not mailbox.get("email"):
                continue
            entry["mailboxes"].append({
                "email": str(mailbox["email"]).lower(),
                "firstname": str(mailbox.get("firstname") or mailbox.get("firstName") or ""),
                "lastname": str(mailbox.get("lastname") or mailbox.get("lastName") or ""),
                "profilePicId": mailbox.get("profilePicId") or 0,
            })
        body["domains"].append(entry)
    return body


def mirror(listing: Sequence[ProvisionedDomain], known: Sequence[KnownOrder],
           on_malformed: OnMalformed | None) -> Iterator[OrderRecord]:
    """The listing grouped into orders by orderId and mapped as the follow-up of an
    order does: the body rebuilt from the known order's lines (or, for an order placed
    elsewhere, from the listing), the listing for the status. One unreadable entry costs
    only its own order."""

    def skip(record: Any, exc: Exception) -> None:
        if on_malformed is None:
            raise exc
        on_malformed(record, exc)

    groups: dict[str, list[ProvisionedDomain]] = {}
    orphans: list[ProvisionedDomain] = []
    for domain in listing:
        if not domain.name:
            skip({"orderId": domain.order_id}, ValueError("a listed domain without a name"))
            continue
        if domain.order_id:
            groups.setdefault(domain.order_id, []).append(domain)
        else:
            orphans.append(domain)

    by_upstream = {order.upstream_id: order for order in known if order.upstream_id}
    open_orders = [order for order in known if order.open]

    def domains_of(order: KnownOrder) -> set[str]:
        return {line.domain for line in order.lines}

    # Doc silent: the listing's shape is not documented. An entry without an orderId
    # belongs to the open order here that has its domain, as the follow-up assumes.
    keyed: dict[tuple[str, Any], list[ProvisionedDomain]] = {
        ("upstream", key): value for key, value in groups.items()}
    lost = []
    for domain in orphans:
        owner = next((order for order in open_orders if domain.name in domains_of(order)),
                     None)
        if owner is None:
            lost.append(domain.name)
            continue
        key = ("upstream", owner.upstream_id) if owner.upstream_id else ("local", owner.local_id)
        keyed.setdefault(key, []).append(domain)
    if lost:
        skip({"name": "listed domains without an orderId"},
             ValueError(f"no order here has {', '.join(sorted(lost))}"))

    for (how, key), domains in keyed.items():
        order = by_upstream.get(key) if how == "upstream" else next(
            order for order in known if order.local_id == key)
        if order is None:  # placed here without an id coming back: adopt it by its domains
            names = {domain.name for domain in domains}
            order = next((candidate for candidate in open_orders if not candidate.upstream_id
                          and names <= domains_of(candidate)), None)
        upstream_id = key if how == "upstream" else ""
        try:
            body = (body_from_lines(order.lines) if order is not None and order.lines
                    else listed_order_body(domains))
            expected = tuple(entry["name"] for entry in body["domains"])
            state = OrderProvisioning(order_id=upstream_id, expected=expected,
                                      domains=tuple(domains), polls=1)
            record = order_record(body, upstream_id, state)
        except PARSE_ERRORS as exc:
            skip({"orderId": key}, exc)
            continue
        if order is not None:
            record = replace(record, local_id=order.local_id)
        yield record
