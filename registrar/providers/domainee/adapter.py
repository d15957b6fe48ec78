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

import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from registrar.providers.base import (
    Capability,
    DomainConnection,
    DomainPlacement,
    DomainQuote,
    DomainQuoteRequest,
    KnownOrder,
    Money,
    OnMalformed,
    OrderAction,
    OrderRecord,
    PlacedOrder,
    PushedEvent,
)
from registrar.providers.domainee import ordering
from registrar.providers.domainee.rules import clean_hostname, clean_purchase
from registrar.providers.domainee.wire import (
    DOMAINS_PATH,
    PURCHASES_PATH,
    Purchase,
    PurchaseResult,
    RegistrationFailed,
    parse_connected_domain,
    parse_error,
    parse_purchase,
    parse_webhook,
    purchase_page,
    purchase_record,
)
from registrar.providers.errors import CallerError, MalformedResponse
from registrar.providers.http import HttpProvider, guard_parsing, parse_each

logger = logging.getLogger("registrar.providers")

# Reading the purchase list (see iter_purchases; the document gives no page size).
PURCHASES_PAGE_SIZE = 100
PURCHASES_PAGE_SIZE_MAX = 100
IDEMPOTENCY_KEY_PREFIX = "backoffice-order-"
LOCAL_ORDER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


@guard_parsing
class DomaineeProvider(HttpProvider):
    """Domainee's purchase API. `account_ref` is accepted for the registry's common
    constructor and not sent: a Domainee API key already names its workspace."""

    kind = "domainee"
    display_name = "Domainee"
    capabilities = frozenset({Capability.DOMAIN_ORDERS, Capability.ORDER_MIRROR,
                              Capability.WEBHOOKS, Capability.AUTO_CONNECT,
                              Capability.DOMAIN_CONNECT})
    # Document 002 only buys new registrations, for a registrant given in full.
    ordering_actions = frozenset({OrderAction.REGISTER})
    order_owner_required = frozenset({OrderAction.REGISTER})
    # No price endpoint: Domainee charges its live price, under the ceiling we send.
    order_ceiling_required = True

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
            records, after = purchase_page(body)
            yield from parse_each(records, parse_purchase, on_malformed)
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

    def connect_domain(self, domain: str, *, idempotency_key: str) -> DomainConnection:
        """POST /v1/domains with the hostname (document 002, "After the purchase": the
        same hostname, so Domainee mints a TLS certificate and starts proxying). The
        document gives the body only as the hostname, so nothing else is sent; pointing
        the registrar's DNS at the edge (one CNAME) is the caller's to do, as the
        document says. Sent with an Idempotency-Key, which Domainee honours per method x
        path x key for 24 hours, so the client may retry it. Errors as for purchases
        (parse_error); the answer's row is read by `parse_connected_domain`."""
        if not isinstance(idempotency_key, str) or not idempotency_key.strip():
            raise CallerError("A connect needs an Idempotency-Key.")
        hostname = clean_hostname(domain)
        reply = self.http.request("POST", DOMAINS_PATH, json_body={"hostname": hostname},
                                  headers={"Idempotency-Key": idempotency_key})
        row = parse_connected_domain(reply.body)
        return DomainConnection(domain=str(row.get("hostname") or hostname),
                                upstream_id=row["id"], status=str(row.get("status") or ""),
                                request_id=reply.request_id, raw=row)

    # --- provider hooks -------------------------------------------------------------------

    def iter_orders(self, *, known: Sequence[KnownOrder] = (),
                    on_malformed: OnMalformed | None = None) -> Iterator[OrderRecord]:
        """The purchase list, each purchase as its order (a purchase whose status
        document 002 does not give is handed to `on_malformed` like a malformed one)."""
        def skip(purchase: Purchase, exc: Exception) -> None:
            on_malformed(purchase.raw, exc)  # the record as listed, as for a malformed one

        yield from parse_each(self.iter_purchases(on_malformed=on_malformed), purchase_record,
                              skip if on_malformed is not None else None)

    def quote_domain_order(self, request: DomainQuoteRequest) -> DomainQuote:
        return ordering.quote(request)

    def place_domain_order(self, placement: DomainPlacement) -> PlacedOrder:
        return ordering.place(self, placement)

    def settle_placement(self, placement: DomainPlacement) -> OrderRecord | None:
        return ordering.settle(self, placement)

    @classmethod
    def parse_webhook(cls, payload: Mapping[str, Any]) -> PushedEvent:
        return parse_webhook(payload)
