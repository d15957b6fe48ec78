"""Adapter for Saleshandy's email-infrastructure purchase (document 003).

The flow, one method per endpoint: search domains (GET /v1/domain/search) -> read the
plans (GET /v1/domain/plans) -> optionally generate mailbox names (POST
/v1/domain/generate-mailbox-names) -> place the order (POST /v1/domain) -> list the
account's domains (GET /v1/domain) until the order's are no longer `inProgress`.

Authentication is the `x-api-key` header. Document 003 specifies the order's request
body and its rules and names the other endpoints; it gives no response bodies and no
error format. Where it is silent the comments say what is assumed; the query and body
of generate-mailbox-names and of the listing follow Saleshandy's public reference for
those endpoints.

The order POST carries no idempotency key (Saleshandy documents none), so the client
never repeats it: after a timeout, list the domains before placing it again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from billing.models import OrderKind, OrderStatus
from contacts.validation import clean_contact_fields
from registrar.domain_names import to_ascii
from registrar.providers.base import Capability, ProviderError, error_for
from registrar.providers.domain_api import _PARSE_ERRORS, CallerError, _guard_parsing
from registrar.providers.http import HttpProvider

logger = logging.getLogger("registrar.providers")

EMAIL_SERVICE_PROVIDERS = ("Google", "Microsoft", "Azure")
PLAN_TYPES = ("quarterly", "annualFlexi", "annualFixed")
DEFAULT_PLAN_TYPE = "quarterly"
# Azure mailboxes are only sold quarterly (any other planType is a 400 upstream).
AZURE_PLAN_TYPES = ("quarterly",)
OWNER_NAME_MAX = 50
MAILBOX_NAME_COUNT = (1, 100)
IN_PROGRESS = "inProgress"
# Our contact field -> document 003's owner field.
OWNER_FIELDS = {
    "first_name": "domainOwnerFirstname",
    "last_name": "domainOwnerLastname",
    "organization": "companyName",
    "street_address": "address",
    "city": "city",
    "state": "state",
    "country": "country",
    "post_code": "zipcode",
    "phone": "phoneNumber",
}
# Document 003 marks no field required; a domain registration needs a reachable owner
# of record, so these are required here. companyName and state are sent when given.
OWNER_REQUIRED = ("first_name", "last_name", "street_address", "city", "country",
                  "post_code", "phone")
# Query parameter of GET /v1/domain/search: not documented; assumed.
SEARCH_PARAM = "domain"
_NOT_BARE = re.compile(r"[/:?#@\\]")


# --- Answers ---------------------------------------------------------------------------


def _payload(body: Any) -> Any:
    """Saleshandy's Open API wraps answers as {"message", "payload"} elsewhere; document
    003 shows none, so a bare body is accepted as well."""
    if isinstance(body, Mapping):
        for key in ("payload", "data"):
            if key in body:
                return body[key]
    return body


def _list_in(value: Any, *keys: str) -> list[Any]:
    """The list an answer carries: the value itself or the first of `keys` holding one.
    ValueError (reported as MalformedResponse) when there is none."""
    if isinstance(value, list):
        return value
    if isinstance(value, Mapping):
        for key in keys:
            if isinstance(value.get(key), list):
                return value[key]
    raise ValueError(f"no list under {keys}")


@dataclass(frozen=True)
class OrderPlaced:
    """The answer to POST /v1/domain. A paid order carries `checkout_url` (Paddle or
    Stripe) for the customer to pay; a free order carries only `order_id`."""

    order_id: str
    checkout_url: str
    is_free_order: bool
    is_replacement: bool
    request_id: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def needs_payment(self) -> bool:
        return bool(self.checkout_url)


@dataclass(frozen=True)
class ProvisionedDomain:
    """One entry of GET /v1/domain. Observed statuses: inProgress, active, deleted,
    failed, expired. `id` is what DELETE /v1/domain/{id} takes."""

    id: str
    name: str
    status: str
    order_id: str = ""
    mailboxes: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


def parse_domain(data: Mapping[str, Any]) -> ProvisionedDomain:
    return ProvisionedDomain(
        id=str(data["id"]),
        # "name" is what the order body uses; "domain" accepted as well.
        name=str(data.get("name") or data.get("domain") or "").lower(),
        status=str(data["status"]),
        order_id=str(data.get("orderId") or ""),
        mailboxes=[dict(m) for m in data.get("mailboxes") or [] if isinstance(m, Mapping)],
        raw=dict(data),
    )


@dataclass(frozen=True)
class OrderProvisioning:
    """An order's domains as the last poll saw them. `in_progress` stays True until
    every domain of the order is listed and none is `inProgress`."""

    order_id: str
    expected: tuple[str, ...]
    domains: tuple[ProvisionedDomain, ...]
    polls: int

    @property
    def in_progress(self) -> bool:
        listed = {domain.name for domain in self.domains}
        return (not self.domains or any(d.status == IN_PROGRESS for d in self.domains)
                or not set(self.expected) <= listed)

    @property
    def status(self) -> str:
        """inProgress while in progress; else failed if any domain failed, active when
        all are active, otherwise the first other status (deleted, expired)."""
        if self.in_progress:
            return IN_PROGRESS
        statuses = [domain.status for domain in self.domains]
        if "failed" in statuses:
            return "failed"
        if all(status == "active" for status in statuses):
            return "active"
        return next(status for status in statuses if status != "active")


def parse_error(status: int, body: Any, text: str, request_id: str) -> ProviderError:
    """Document 003 gives no error body. Assumed Saleshandy's usual
    {"message": str | [str], "error"?, "code"?}; the message goes to the log only."""
    body = body if isinstance(body, Mapping) else {}
    message = body.get("message") or body.get("error") or ""
    if isinstance(message, list):
        message = "; ".join(str(part) for part in message)
    code = body.get("code")
    code = code if isinstance(code, str) and re.fullmatch(r"[a-z][a-z0-9_]*", code) else ""
    return error_for(status, code, upstream_message=str(message), request_id=request_id)


# --- The order form, checked before anything is sent ------------------------------------


def _add(errors: dict[str, list[str]], key: str, *messages: str) -> None:
    errors.setdefault(key, []).extend(messages)


def _owner(owner: Mapping[str, Any], errors: dict[str, list[str]]) -> dict[str, str]:
    given = {name: owner[name] for name in OWNER_FIELDS if name in owner}
    try:
        cleaned = clean_contact_fields(given, partial=True)
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            _add(errors, name, *messages)
        cleaned = {}
    for name in OWNER_REQUIRED:
        if not str(given.get(name) or "").strip() and name not in errors:
            _add(errors, name, "This field is required.")
    for name in ("first_name", "last_name"):
        value = str(given.get(name) or "").strip()
        if value and len(value) > OWNER_NAME_MAX and name not in errors:
            _add(errors, name, f"Saleshandy takes 1 to {OWNER_NAME_MAX} characters here.")
    wire: dict[str, str] = {}
    for name, wire_name in OWNER_FIELDS.items():
        if cleaned.get(name):
            wire[wire_name] = cleaned[name]
    if "phoneNumber" in wire:
        # normalise_phone gives +CC.NUMBER; Saleshandy wants plain E.164.
        wire["phoneNumber"] = wire["phoneNumber"].replace(".", "")
    return wire


def _bare_domain(value: str, key: str, errors: dict[str, list[str]]) -> str:
    if _NOT_BARE.search(value):
        _add(errors, key, f"“{value}” is not a bare domain: give it like acmecorp.com, "
                          "without https:// or a path.")
        return ""
    try:
        return to_ascii(value)
    except ValidationError as exc:
        _add(errors, key, *exc.messages)
        return ""


def _mailbox(mailbox: Any, domain: str, key: str, errors: dict[str, list[str]]) -> dict:
    if not isinstance(mailbox, Mapping):
        raise CallerError("Each mailbox must be a mapping.")
    wire: dict[str, Any] = {}
    for name, wire_name in (("first_name", "firstname"), ("last_name", "lastname")):
        value = str(mailbox.get(name) or "").strip()
        if not value:
            _add(errors, f"{key}.{name}", "Give the mailbox sender's first and last name.")
        wire[wire_name] = value
    address = str(mailbox.get("email") or "").strip().lower()
    if address and "@" not in address:  # a local part: the mailbox lives on this domain
        address = f"{address}@{domain}"
    try:
        validate_email(address)
    except ValidationError:
        _add(errors, f"{key}.email", f"“{address or '(empty)'}” is not an e-mail address.")
    else:
        if domain and address.rpartition("@")[2] != domain:
            _add(errors, f"{key}.email", f"The mailbox {address} must be on {domain}.")
    wire["email"] = address
    picture = mailbox.get("profile_pic_id", 0)
    if isinstance(picture, bool) or not isinstance(picture, int) or picture < 0:
        raise CallerError("profile_pic_id must be a non-negative int.")
    wire["profilePicId"] = picture
    return wire


def _domains(domains: Sequence[Mapping[str, Any]], errors: dict[str, list[str]]) -> list:
    if isinstance(domains, str | bytes) or not isinstance(domains, Sequence):
        raise CallerError("domains must be a sequence of mappings.")
    if not domains:
        _add(errors, "domains", "Add at least one domain.")
    wire_domains: list[dict[str, Any]] = []
    seen_domains: set[str] = set()
    seen_mailboxes: set[str] = set()
    for index, entry in enumerate(domains):
        key = f"domains[{index}]"
        if not isinstance(entry, Mapping):
            raise CallerError("Each domain must be a mapping.")
        name = _bare_domain(str(entry.get("name") or "").strip(), f"{key}.name", errors)
        if name and name in seen_domains:
            _add(errors, f"{key}.name", f"{name} is in the order twice.")
        seen_domains.add(name)
        wire: dict[str, Any] = {"name": name}
        redirect = str(entry.get("redirect_url") or "").strip()
        if redirect:
            wire["redirectUrl"] = _bare_domain(redirect, f"{key}.redirect_url", errors)
        mailboxes = entry.get("mailboxes") or []
        if not mailboxes:
            _add(errors, f"{key}.mailboxes",
                 f"Give {name or 'each domain'} at least one mailbox.")
        wire["mailboxes"] = []
        for number, mailbox in enumerate(mailboxes):
            wire_mailbox = _mailbox(mailbox, name, f"{key}.mailboxes[{number}]", errors)
            if wire_mailbox["email"] in seen_mailboxes:
                _add(errors, f"{key}.mailboxes[{number}].email",
                     f"{wire_mailbox['email']} is in the order twice.")
            seen_mailboxes.add(wire_mailbox["email"])
            wire["mailboxes"].append(wire_mailbox)
        wire_domains.append(wire)
    return wire_domains


def clean_order(
    *,
    owner: Mapping[str, Any],
    email_service_provider: str,
    domains: Sequence[Mapping[str, Any]],
    plan_type: str = DEFAULT_PLAN_TYPE,
    is_replacement: bool = False,
    is_free_order: bool = False,
) -> dict[str, Any]:
    """Document 003's order body, or ValidationError with a dict of every problem.
    Pure: nothing is sent.

    `owner` uses our contact field names (first_name, last_name, organization,
    street_address, city, state, country, post_code, phone). Each domain is
    {"name", "redirect_url"?, "mailboxes": [{"first_name", "last_name", "email",
    "profile_pic_id"?}]}; a mailbox email may be a bare local part. Error keys are our
    names, with paths such as ``domains[0].mailboxes[1].email``.

    Rules: owner names 1 to 50 characters; phone E.164 (sent without the dot); country
    ISO alpha-2; redirect_url a bare domain; the ESP one of Google, Microsoft, Azure;
    Azure only quarterly; at least one domain and at least one mailbox per domain.
    planType, isReplacement and isFreeOrder are always sent, as the document's example
    does. Wrong argument types are bugs: CallerError.
    """
    if not isinstance(owner, Mapping):
        raise CallerError("owner must be a mapping of contact fields.")
    for name, flag in (("is_replacement", is_replacement), ("is_free_order", is_free_order)):
        if not isinstance(flag, bool):
            raise CallerError(f"{name} must be True or False.")
    errors: dict[str, list[str]] = {}
    wire_owner = _owner(owner, errors)
    if email_service_provider not in EMAIL_SERVICE_PROVIDERS:
        _add(errors, "email_service_provider",
             f"Choose the mailbox provider: {', '.join(EMAIL_SERVICE_PROVIDERS)}.")
    if plan_type not in PLAN_TYPES:
        _add(errors, "plan_type", f"Choose the billing cycle: {', '.join(PLAN_TYPES)}.")
    elif email_service_provider == "Azure" and plan_type not in AZURE_PLAN_TYPES:
        _add(errors, "plan_type", "Azure mailboxes are only sold quarterly.")
    wire_domains = _domains(domains, errors)
    if errors:
        raise ValidationError({name: messages for name, messages in errors.items()})
    return {
        **wire_owner,
        "emailServiceProvider": email_service_provider,
        "planType": plan_type,
        "domains": wire_domains,
        "isReplacement": is_replacement,
        "isFreeOrder": is_free_order,
    }


# --- Mapping to the local order -----------------------------------------------------------

_DOMAIN_TO_ORDER_STATUS = {
    IN_PROGRESS: OrderStatus.REGISTRATION_IN_PROGRESS,
    "active": OrderStatus.REGISTERED,
    "failed": OrderStatus.FAILED,
    "deleted": OrderStatus.CANCELLED,
    # The order was fulfilled; a domain's later expiry is not the order's state.
    "expired": OrderStatus.REGISTERED,
}


def order_to_order_fields(
    body: Mapping[str, Any],
    placed: OrderPlaced,
    provisioning: OrderProvisioning | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(`billing.Order` field values, one `billing.OrderItem` dict per mailbox) for an
    order `body` (clean_order's output) and its answer, and the last poll if any.

    Status: after a poll, from its status; before, payment_initiated when there is a
    checkout link to pay, else registration_in_progress (free and replacement orders
    start provisioning at once). Amounts and currency are not set: Saleshandy's answer
    carries no price; the caller takes them from the plans it quoted. `domain` is set
    only for a one-domain order (the items carry each mailbox's domain).
    """
    if provisioning is not None:
        status = _DOMAIN_TO_ORDER_STATUS.get(provisioning.status)
        if status is None:
            raise ValueError(f"unknown Saleshandy domain status {provisioning.status!r}")
    elif placed.needs_payment:
        status = OrderStatus.PAYMENT_INITIATED
    else:
        status = OrderStatus.REGISTRATION_IN_PROGRESS
    listed = {d.name: d for d in provisioning.domains} if provisioning is not None else {}
    domains = body["domains"]
    fields: dict[str, Any] = {
        "kind": OrderKind.EMAIL_INFRASTRUCTURE,
        "upstream_id": placed.order_id or None,
        "status": status,
        "domain": domains[0]["name"] if len(domains) == 1 else "",
    }
    items = []
    for domain in domains:
        upstream = listed.get(domain["name"])
        for mailbox in domain["mailboxes"]:
            items.append({
                "description": f"Mailbox {mailbox['email']} ({body['emailServiceProvider']}, "
                               f"{body['planType']})",
                "domain": domain["name"],
                "quantity": 1,
                "details": {
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
            })
    return fields, items


# --- The adapter ------------------------------------------------------------------------


@_guard_parsing
class SaleshandyProvider(HttpProvider):
    """Saleshandy's Open API, domain part. `base_url` is the host root
    (https://open-api.saleshandy.com); paths carry /v1. `account_ref` is accepted for the
    registry's common constructor and not sent: the API key names the account."""

    kind = "saleshandy"
    capabilities = frozenset({Capability.ORDERS})

    _parse_error = staticmethod(parse_error)

    def _headers(self, *, token: str, account_ref: str) -> dict[str, str]:
        return {"x-api-key": token}

    def ping(self) -> None:
        """The plans: an authorised read that changes nothing and names no customer."""
        self.get_plans()

    def search_domains(self, query: str) -> list[dict[str, Any]]:
        """GET /v1/domain/search: candidate domains, as Saleshandy describes them (the
        document gives neither the query parameter nor the answer; see SEARCH_PARAM)."""
        query = (query or "").strip()
        if not query:
            raise ValidationError({"query": ["Enter a name to search for."]})
        reply = self.http.request("GET", "/v1/domain/search", params={SEARCH_PARAM: query})
        return [dict(entry) for entry in
                _list_in(_payload(reply.body), "domains", "results", "suggestions")]

    def get_plans(self) -> Any:
        """GET /v1/domain/plans: the plans and prices, unwrapped but otherwise as sent
        (the document gives no shape)."""
        return _payload(self.http.request("GET", "/v1/domain/plans").body)

    def generate_mailbox_names(self, *, first_name: str, last_name: str, domain: str,
                               count: int = 5) -> list[str]:
        """POST /v1/domain/generate-mailbox-names: suggested addresses for a sender on
        `domain` (count 1 to 100). Optional in the flow; nothing is reserved."""
        errors: dict[str, list[str]] = {}
        names = {"first_name": str(first_name or "").strip(),
                 "last_name": str(last_name or "").strip()}
        for name, value in names.items():
            if not value:
                _add(errors, name, "This field is required.")
        ascii_domain = _bare_domain(str(domain or "").strip(), "domain", errors)
        low, high = MAILBOX_NAME_COUNT
        if isinstance(count, bool) or not isinstance(count, int) or not low <= count <= high:
            _add(errors, "count", f"Ask for {low} to {high} suggestions.")
        if errors:
            raise ValidationError(errors)
        reply = self.http.request("POST", "/v1/domain/generate-mailbox-names", json_body={
            "firstName": names["first_name"], "lastName": names["last_name"],
            "domain": ascii_domain, "count": count})
        suggestions = _list_in(_payload(reply.body), "mailboxNames", "mailboxes", "emails",
                               "suggestions")
        return [str(s["email"]) if isinstance(s, Mapping) else str(s) for s in suggestions]

    def create_order(
        self,
        *,
        owner: Mapping[str, Any],
        email_service_provider: str,
        domains: Sequence[Mapping[str, Any]],
        plan_type: str = DEFAULT_PLAN_TYPE,
        is_replacement: bool = False,
        is_free_order: bool = False,
    ) -> OrderPlaced:
        """POST /v1/domain with `clean_order`'s body (ValidationError, nothing sent, when
        it refuses). Never retried: Saleshandy takes no idempotency key."""
        body = clean_order(owner=owner, email_service_provider=email_service_provider,
                           domains=domains, plan_type=plan_type,
                           is_replacement=is_replacement, is_free_order=is_free_order)
        reply = self.http.request("POST", "/v1/domain", json_body=body)
        # The document gives the 201 no body schema, only that paid orders get a
        # checkoutUrl and free ones just an orderId. An empty answer is still a placed
        # order (raising would invite a duplicate): staff find it by listing.
        answer = _payload(reply.body)
        answer = answer if isinstance(answer, Mapping) else {}
        checkout_url = str(answer.get("checkoutUrl") or "")
        if checkout_url and not checkout_url.startswith("https://"):
            # Shown to staff as a link: only an https URL, never javascript: or http.
            logger.warning("Saleshandy order %s: ignored a non-https checkoutUrl",
                           answer.get("orderId"))
            checkout_url = ""
        return OrderPlaced(
            order_id=str(answer.get("orderId") or ""),
            checkout_url=checkout_url,
            is_free_order=body["isFreeOrder"],
            is_replacement=body["isReplacement"],
            request_id=reply.request_id,
            raw=dict(answer),
        )

    def list_domains(self, *, search: str | None = None, order: str | None = None,
                     on_malformed: Callable[[Any, Exception], None] | None = None,
                     ) -> list[ProvisionedDomain]:
        """GET /v1/domain: the account's domains with their provisioning status.
        `search` filters by partial domain name; `order` is "Asc" or "Desc". An entry of
        the wrong shape raises MalformedResponse, or, with `on_malformed`, is handed to it
        with the parse error and skipped."""
        if order not in (None, "Asc", "Desc"):
            raise CallerError("order must be 'Asc' or 'Desc'.")
        params = {key: value for key, value in (("search", search), ("order", order))
                  if value is not None}
        reply = self.http.request("GET", "/v1/domain", params=params or None)
        domains = []
        for entry in _list_in(_payload(reply.body), "domains"):
            try:
                domains.append(parse_domain(entry))
            except _PARSE_ERRORS as exc:
                if on_malformed is None:
                    raise
                on_malformed(entry, exc)
        return domains

    def poll_order(
        self,
        order_id: str,
        *,
        domains: Sequence[str] = (),
        max_polls: int = 20,
        interval: float = 15.0,
        sleep: Callable[[float], None] | None = None,
    ) -> OrderProvisioning:
        """List the domains until none of the order's is `inProgress`, at most
        `max_polls` times, sleeping `interval` seconds between lists (with `sleep`,
        default the provider's). Returns the last state; `in_progress` still True means
        the bound was reached: poll again later rather than wait here.

        An entry belongs to the order when it carries our `order_id`; entries without an
        orderId (the listing's shape is not documented) are matched on `domains`, the
        names ordered. With a single domain the listing is narrowed with `search`.
        """
        if max_polls < 1:
            raise CallerError("max_polls must be at least 1.")
        names = tuple(to_ascii(name) for name in domains)
        if not order_id and not names:
            raise CallerError("Give the order id or its domain names.")
        pause = sleep or self._sleep
        search = names[0] if len(names) == 1 else None
        state = OrderProvisioning(order_id=order_id, expected=names, domains=(), polls=0)
        for poll in range(1, max_polls + 1):
            mine = tuple(
                entry for entry in self.list_domains(search=search)
                if (entry.order_id == order_id if order_id and entry.order_id
                    else entry.name in names)
            )
            state = OrderProvisioning(order_id=order_id, expected=names, domains=mine,
                                      polls=poll)
            if not state.in_progress:
                break
            if poll < max_polls:
                pause(interval)
        return state
