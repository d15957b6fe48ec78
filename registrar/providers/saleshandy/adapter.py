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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, ClassVar

from django.core.exceptions import ValidationError

from registrar.providers import secrets
from registrar.providers.base import (
    Capability,
    DomainOffer,
    EmailOrderPlaced,
    EmailPlan,
    KnownOrder,
    OnMalformed,
    OrderRecord,
    RegistrationRecord,
)
from registrar.providers.endpoints import https_link
from registrar.providers.errors import CallerError, MalformedResponse
from registrar.providers.http import HttpProvider, guard_parsing, parse_each
from registrar.providers.saleshandy.orders import (
    FINAL_STATES,
    body_from_lines,
    domain_registration,
    mirror,
    order_record,
)
from registrar.providers.saleshandy.rules import (
    DEFAULT_PLAN_TYPE,
    EMAIL_SERVICE_PROVIDERS,
    MAILBOX_NAME_COUNT,
    PLAN_TYPES,
    add_error,
    bare_domain,
    clean_order,
)
from registrar.providers.saleshandy.wire import (
    OrderPlaced,
    OrderProvisioning,
    ProvisionedDomain,
    list_in,
    parse_domain,
    parse_error,
    parse_plans,
    payload,
)
from registrar.values.names import to_ascii

logger = logging.getLogger("registrar.providers")

# Query parameter of GET /v1/domain/search: not documented; assumed.
SEARCH_PARAM = "domain"


@guard_parsing
class SaleshandyProvider(HttpProvider):
    """Saleshandy's Open API, domain part. `base_url` is the host root
    (https://open-api.saleshandy.com); paths carry /v1. `account_ref` is accepted for the
    registry's common constructor and not sent: the API key names the account."""

    kind = "saleshandy"
    display_name = "Saleshandy"
    capabilities = frozenset({Capability.EMAIL_ORDERS, Capability.ORDER_MIRROR,
                              Capability.REGISTRATION_SYNC, Capability.DOMAIN_SEARCH,
                              Capability.EMAIL_ORDER_TOOLS})
    email_service_providers = EMAIL_SERVICE_PROVIDERS
    # Document 003 lists the plan types without describing them; the labels only spell
    # the values out. Azure is only sold quarterly (clean_order refuses the others).
    email_plan_choices = (("quarterly", "Quarterly (Saleshandy's default)"),
                          ("annualFlexi", "Annual, flexible (annualFlexi)"),
                          ("annualFixed", "Annual, fixed (annualFixed)"))
    final_order_states = FINAL_STATES
    # The listing names orders by orderId only: the lines come from the local order.
    order_mirror_needs_known = True

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
                list_in(payload(reply.body), "domains", "results", "suggestions")]

    def domain_offer(self, domain: str, *, years: int) -> DomainOffer:
        """The search's entry for `domain`. Saleshandy sells a domain with mailboxes, on
        a plan: no price for a term in years, so the price it states is only a note."""
        for entry in self.search_domains(domain):
            if _entry_name(entry) == domain:
                return _saleshandy_offer(entry, domain)
        return DomainOffer(domain=domain, available=False,
                           reason="not offered by Saleshandy's search")

    def domain_suggestions(self, base: str, *, tlds: Sequence[str],
                           years: int) -> list[DomainOffer]:
        """The search for the bare label: the names Saleshandy offers for it."""
        return [_saleshandy_offer(entry, _entry_name(entry))
                for entry in self.search_domains(base)]

    def get_plans(self) -> Any:
        """GET /v1/domain/plans: the plans and prices, unwrapped but otherwise as sent
        (the document gives no shape)."""
        return payload(self.http.request("GET", "/v1/domain/plans").body)

    def generate_mailbox_names(self, *, first_name: str, last_name: str, domain: str,
                               count: int = 5) -> list[str]:
        """POST /v1/domain/generate-mailbox-names: suggested addresses for a sender on
        `domain` (count 1 to 100). Optional in the flow; nothing is reserved."""
        errors: dict[str, list[str]] = {}
        names = {"first_name": str(first_name or "").strip(),
                 "last_name": str(last_name or "").strip()}
        for name, value in names.items():
            if not value:
                add_error(errors, name, "This field is required.")
        ascii_domain = bare_domain(str(domain or "").strip(), "domain", errors)
        low, high = MAILBOX_NAME_COUNT
        if isinstance(count, bool) or not isinstance(count, int) or not low <= count <= high:
            add_error(errors, "count", f"Ask for {low} to {high} suggestions.")
        if errors:
            raise ValidationError(errors)
        reply = self.http.request("POST", "/v1/domain/generate-mailbox-names", reads_only=True,
                                  json_body={
            "firstName": names["first_name"], "lastName": names["last_name"],
            "domain": ascii_domain, "count": count})
        suggestions = list_in(payload(reply.body), "mailboxNames", "mailboxes", "emails",
                               "suggestions")
        return [str(s["email"]) if isinstance(s, Mapping) else str(s) for s in suggestions]

    def email_plans(self) -> list[EmailPlan]:
        """The plans, as `parse_plans` reads them (the order's own ESPs and cycles)."""
        return parse_plans(self.get_plans(), providers=EMAIL_SERVICE_PROVIDERS,
                           plan_types=PLAN_TYPES)

    def email_domain_candidates(self, query: str) -> list[DomainOffer]:
        """The search for `query`: the domains Saleshandy offers for it."""
        return [_saleshandy_offer(entry, _entry_name(entry))
                for entry in self.search_domains(query)]

    def suggest_mailbox_names(self, *, first_name: str, last_name: str, domain: str,
                              count: int) -> list[str]:
        return self.generate_mailbox_names(first_name=first_name, last_name=last_name,
                                           domain=domain, count=count)

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
        answer = payload(reply.body)
        answer = answer if isinstance(answer, Mapping) else {}
        sent_checkout = answer.get("checkoutUrl")
        # Shown to staff as a link: only an https URL with a host, never javascript:,
        # http: or a relative path. Its token never reaches a log.
        checkout_url = https_link(sent_checkout)
        secrets.remember(checkout_url)
        if sent_checkout and not checkout_url:
            logger.warning("Saleshandy order %s: ignored a checkoutUrl that is not an "
                           "https URL", answer.get("orderId"))
        return OrderPlaced(
            order_id=str(answer.get("orderId") or ""),
            checkout_url=checkout_url,
            is_free_order=body["isFreeOrder"],
            is_replacement=body["isReplacement"],
            request_id=reply.request_id,
            raw=dict(answer),
            checkout_refused=bool(sent_checkout) and not checkout_url,
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
        return list(parse_each(list_in(payload(reply.body), "domains"), parse_domain,
                               on_malformed))

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

    # --- provider hooks -------------------------------------------------------------------

    @classmethod
    def clean_email_order(cls, *, owner: Mapping[str, Any], email_service_provider: str,
                          domains: Sequence[Mapping[str, Any]], plan_type: str,
                          is_replacement: bool = False,
                          is_free_order: bool = False) -> dict[str, Any]:
        return clean_order(owner=owner, email_service_provider=email_service_provider,
                           domains=domains, plan_type=plan_type,
                           is_replacement=is_replacement, is_free_order=is_free_order)

    @classmethod
    def email_order_record(cls, body: Mapping[str, Any]) -> OrderRecord:
        return order_record(body, "", needs_payment=not body.get("isFreeOrder"))

    # Its listing shows an order's domains only once the order is paid (document 003 is
    # silent; assumed): an order whose answer was lost may be there, unpaid, unseen.
    unshown_order_not_placed: ClassVar[str] = ""

    def place_email_order(self, *, owner: Mapping[str, Any], email_service_provider: str,
                          domains: Sequence[Mapping[str, Any]], plan_type: str,
                          is_replacement: bool = False,
                          is_free_order: bool = False) -> EmailOrderPlaced:
        order = dict(owner=owner, email_service_provider=email_service_provider,
                     domains=domains, plan_type=plan_type, is_replacement=is_replacement,
                     is_free_order=is_free_order)
        body = clean_order(**order)
        placed = self.create_order(**order)
        return EmailOrderPlaced(
            record=order_record(body, placed.order_id, needs_payment=placed.needs_payment),
            checkout_url=placed.checkout_url, checkout_refused=placed.checkout_refused,
            request_id=placed.request_id, body=body)

    def refresh_email_order(self, known: KnownOrder, *, max_polls: int = 1,
                            interval: float = 0.0,
                            sleep: Callable[[float], None] | None = None
                            ) -> OrderRecord | None:
        """List the order's domains (at most `max_polls` times) and say where it stands;
        None while none of them is listed yet. Document 003 does not say when an unpaid
        order's domains appear in the listing; assumed: once paid, so an unlisted order
        is still waiting (for payment, or to start)."""
        if not known.lines:
            # A local order without its mailboxes cannot be matched to the listing; asking
            # again will not help.
            raise CallerError(f"Order {known.local_id} has no lines to follow.")
        body = body_from_lines(known.lines)
        state = self.poll_order(known.upstream_id or "",
                                domains=[domain["name"] for domain in body["domains"]],
                                max_polls=max_polls, interval=interval, sleep=sleep)
        if state.in_progress and not state.domains:
            return None
        try:
            record = order_record(body, known.upstream_id or "", state)
        except ValueError as exc:
            raise MalformedResponse(
                f"Saleshandy reports a domain status this back-office does not know "
                f"({state.status}); look at the order at Saleshandy.",
                code="unknown_domain_status", retryable=False) from exc
        return replace(record, local_id=known.local_id)

    def iter_orders(self, *, known: Sequence[KnownOrder] = (),
                    on_malformed: OnMalformed | None = None) -> Iterator[OrderRecord]:
        """Saleshandy has no order list: its domain listing, grouped into orders (see
        `orders.mirror`)."""
        return mirror(self.list_domains(on_malformed=on_malformed), known, on_malformed)

    def iter_registrations(self, *, name: str | None = None,
                           page_size: int = 100) -> Iterator[RegistrationRecord]:
        """GET /v1/domain: the account's domains as registrations (keyed by name); the
        listing is one page (document 003 gives no paging)."""
        for domain in self.list_domains(search=name):
            if name is None or domain.name == name:
                yield domain_registration(domain)


def _entry_name(entry: Mapping[str, Any]) -> str:
    # Doc silent on the search answer: the name is read from "domain" or "name".
    return to_ascii(str(entry.get("domain") or entry["name"]), min_labels=1)


def _saleshandy_offer(entry: Mapping[str, Any], domain: str) -> DomainOffer:
    available = entry.get("available", entry.get("isAvailable"))
    cents = entry.get("priceCents")
    notes = ("Sold with mailboxes, on a plan: no price for a term in years.",)
    if isinstance(cents, int) and not isinstance(cents, bool):
        # Doc silent on the price's currency: it is shown as stated, in its cents.
        notes += (f"Domain price on the plan: {cents / 100:.2f} (currency not stated).",)
    return DomainOffer(domain=domain,
                       available=available if isinstance(available, bool) else None,
                       notes=notes)
