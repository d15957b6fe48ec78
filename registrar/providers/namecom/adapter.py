"""Adapter for the name.com Core API: discovery, Get Pricing, and the three purchases.

Document 004 (name.com's pricing guide) is the contract for *what* a purchase carries;
`registrar.providers.namecom.pricing` encodes its rules and hands this adapter a `Quote`, whose
`purchasePrice` and `years` are sent exactly as decided. Document 004 names the
endpoints but not their wire shapes; where it is silent, this adapter follows the
published name.com Core API (base `https://api.name.com`, sandbox
`https://api.dev.name.com`, every path under `/core/v1`, HTTP basic auth
`username:token`), and says so in a comment ("Doc silent:").

Endpoints:

- Check Availability  POST /core/v1/domains:checkAvailability  {"domainNames", "purchaseType"?}
- Search              POST /core/v1/domains:search  {"keyword", "tldFilter"?, "timeout"?,
                      "purchaseType"?}
- Get Pricing         GET  /core/v1/domains/{domainName}:getPricing?years=N
- Create Domain       POST /core/v1/domains  {"domain": {...}, "purchaseType",
                      "purchasePrice"?, "years"?}
- Renew Domain        POST /core/v1/domains/{domainName}:renew  {"purchasePrice"?, "years"}
- Create Transfer     POST /core/v1/transfers  {"domainName", "authCode", "privacyEnabled"?,
                      "purchasePrice"?}

- Zone Check          POST /core/v1/zonecheck  {"domainNames"} -> {"results":
                      [{"domainName", "available"}], "total", "removed"}
- TLD Pricing         GET  /core/v1/tldpricing?tlds=..&duration=N&perPage=..&page=..
                      -> {"pricing": [{"tld", "duration", "registrationPrice",
                      "renewalPrice", "transferInPrice", ...}], "nextPage"?, "lastPage"?}

004's endpoint roles bound the last two: Zone Check is a fast DNS signal for a bulk
browse UI, "available only", never a purchaseType or a price ("What not to do"); TLD
Pricing is TLD-level list prices, non-premium. Neither feeds an order: the domain search
shows them as a hint and a list price, marked as such.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from registrar.providers import secrets
from registrar.providers.base import (
    Capability,
    DomainOffer,
    DomainPlacement,
    DomainQuote,
    DomainQuoteRequest,
    Money,
    OrderAction,
    PlacedOrder,
    TldListPrice,
    ZoneHint,
)
from registrar.providers.errors import CallerError, MalformedResponse, ProviderError, error_for
from registrar.providers.http import HttpProvider, guard_parsing
from registrar.providers.namecom import ordering, pricing
from registrar.providers.namecom.pricing import (
    Discovery,
    Operation,
    PurchaseType,
    Quote,
    RegistryPricing,
    Source,
    TotalPaid,
)

API = "/core/v1"
# TLD Pricing takes at most 25 TLDs per request (the Core API's limit); a search asks for
# far fewer (registrar.domain_search.MAX_TLDS), so one page is the rule.
TLD_PRICING_MAX = 25
TLD_PRICING_MAX_PAGES = 4

# Doc silent on machine error codes: name.com answers {"message": ..., "details": ...}.
# 004 Transfers quotes two messages of Create Transfer; they get codes and staff
# messages of their own. Matched case-insensitively as substrings of message+details.
KNOWN_MESSAGES: tuple[tuple[str, str, str], ...] = (
    ("invalid price", "invalid_price",
     "name.com refused the price: it must match its own price to the cent. Nothing was "
     "bought; quote it again."),
    ("purchaseprice is required", "purchase_price_required",
     "name.com says this is a premium domain and needs its exact price. Nothing was "
     "bought; quote it again with Get Pricing."),
)


def parse_error(status: int, body: Any, text: str, request_id: str) -> ProviderError:
    """name.com's error body, `{"message": "...", "details": "..."}`, read defensively:
    either key may be missing or not a string, and the body may not be JSON at all."""
    body = body if isinstance(body, Mapping) else {}
    message = body.get("message")
    details = body.get("details")
    upstream = "; ".join(str(part) for part in (message, details) if part)
    error = error_for(status, upstream_message=upstream, request_id=request_id)
    lowered = upstream.lower()
    for needle, code, staff_message in KNOWN_MESSAGES:
        if needle in lowered:
            return type(error)(staff_message, code=code, status=status,
                               retryable=error.retryable, request_id=request_id,
                               details=error.details)
    return error


def _price(value: Any, what: str) -> Money | None:
    """A price from a JSON answer as exact Money in cents, or None when absent/null.

    The JSON decoder hands us a float; `repr` of a float is the shortest decimal that
    reads back as that float, i.e. exactly the digits name.com sent (12.99 -> "12.99"),
    so no binary rounding reaches the Money. A price with a fraction of a cent is an
    answer we cannot honour "to the cent" (004) and is reported as malformed.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MalformedResponse(code="malformed_price", details={"field": what})
    try:
        return pricing.to_money(repr(value) if isinstance(value, float) else value)
    except pricing.PricingError as exc:
        raise MalformedResponse(code="malformed_price",
                                details={"field": what, "rule": exc.rule}) from exc


def _total_paid(value: Any) -> TotalPaid | None:
    money = _price(value, "totalPaid")
    return None if money is None else TotalPaid(money.amount_minor, money.currency)


def _json_number(amount: Decimal) -> float:
    """The wire form of an exact price. JSON numbers reach httpx as Python floats; for
    any price below 2**53 cents the float's repr is exactly the decimal's digits, which
    is checked here so the body can never carry a rounded purchasePrice (004: to the
    cent)."""
    number = float(amount)
    if Decimal(repr(number)) != amount:  # pragma: no cover - needs a price beyond 2**53 cents
        raise CallerError(f"{amount} cannot be sent exactly as a JSON number.")
    return number


def parse_discovery(data: Mapping[str, Any], source: Source) -> Discovery:
    """One `SearchResult` (the shape Check Availability and Search share)."""
    purchasable = data.get("purchasable")
    if not isinstance(purchasable, bool):
        raise MalformedResponse(code="malformed_response", details={"field": "purchasable"})
    return Discovery(
        domain=str(data["domainName"]),
        purchasable=purchasable,
        # purchaseType, premium and prices are "only returned for purchasable domains".
        purchase_type=str(data["purchaseType"]) if data.get("purchaseType") else None,
        premium=bool(data.get("premium") or False),
        purchase_price=_price(data.get("purchasePrice"), "purchasePrice"),
        renewal_price=_price(data.get("renewalPrice"), "renewalPrice"),
        source=source,
        reason=str(data.get("reason") or ""),
    )


def _offer_of(discovery: Discovery, years: int, *, term_price: Money | None = None,
              premium: bool | None = None, estimated: bool = False, reason: str = "",
              notes: tuple[str, ...] = ()) -> DomainOffer:
    return DomainOffer(
        domain=discovery.domain.lower(), available=discovery.purchasable,
        premium=discovery.premium if premium is None else premium,
        purchase_type=discovery.purchase_type or "", term_years=years,
        term_price=term_price if discovery.purchasable else None,
        term_estimated=estimated and term_price is not None,
        renewal_price=discovery.renewal_price, reason=reason, notes=notes)


@dataclass(frozen=True)
class Purchase:
    """A Create Domain, Renew Domain or Create Transfer that name.com accepted.

    `total_paid` includes VAT and Whois Privacy: it is a `TotalPaid`, which the
    pricing rules refuse as a price (004: never derive purchasePrice from totalPaid).
    `domain` is the domain record for create and renew, `transfer` the transfer
    record for a transfer.
    """

    operation: Operation
    order_id: str
    total_paid: TotalPaid | None
    quote: Quote
    domain: dict[str, Any] = field(default_factory=dict)
    transfer: dict[str, Any] = field(default_factory=dict)
    request_id: str = ""


@guard_parsing
class NamecomProvider(HttpProvider):
    kind = "namecom"
    display_name = "name.com"
    capabilities = frozenset({Capability.DOMAIN_ORDERS, Capability.DOMAIN_SEARCH,
                              Capability.ZONE_CHECK, Capability.TLD_LIST_PRICES})
    # HTTP basic auth with the API username: the account reference.
    requires_account_ref = True
    ordering_actions = frozenset({OrderAction.REGISTER, OrderAction.TRANSFER,
                                  OrderAction.RENEW})
    # name.com uses the reseller account's default contacts when none are sent.
    order_owner_required = frozenset()

    _parse_error = staticmethod(parse_error)

    def _headers(self, *, token: str, account_ref: str) -> dict[str, str]:
        # name.com authenticates with HTTP basic auth: the account's API username
        # (account_ref) and its API token.
        credentials = base64.b64encode(f"{account_ref}:{token}".encode()).decode("ascii")
        return {"Authorization": f"Basic {credentials}"}

    @staticmethod
    def _domain_path(domain: str, action: str) -> str:
        return f"{API}/domains/{quote(domain, safe='')}:{action}"

    def ping(self) -> None:
        """Doc silent: the Core API's own connectivity check, `GET /core/v1/hello`."""
        self.http.request("GET", f"{API}/hello")

    # --- Discovery ------------------------------------------------------------------

    def check_availability(self, domain_names: Sequence[str], *,
                           registration_only: bool = True) -> list[Discovery]:
        """Check Availability for exact names.

        `registration_only` sends `purchaseType: registration` (004 Pattern A, the
        recommended default: acquisition inventory comes back `purchasable: false`);
        False omits the filter (004 Pattern C, all purchase types).
        """
        if isinstance(domain_names, str):
            raise CallerError("Pass a list of domain names.")
        body: dict[str, Any] = {"domainNames": list(domain_names)}
        if registration_only:
            body["purchaseType"] = PurchaseType.REGISTRATION.value
        reply = self.http.request("POST", f"{API}/domains:checkAvailability", json_body=body,
                                  reads_only=True)
        return [parse_discovery(result, Source.CHECK_AVAILABILITY)
                for result in (reply.body or {}).get("results") or []]

    def check_domain(self, domain: str, *, registration_only: bool = True) -> Discovery:
        """Check Availability for one name: its result, which must be in the answer.
        Pass the ASCII (punycode) form (`registrar.values.names.to_ascii`): name.com
        answers with it."""
        for result in self.check_availability([domain], registration_only=registration_only):
            if result.domain.lower() == domain.lower():
                return result
        raise MalformedResponse(code="malformed_response",
                                details={"error": f"no result for {domain}"})

    def search(self, keyword: str, *, tld_filter: Sequence[str] | None = None,
               timeout_ms: int | None = None,
               registration_only: bool = True) -> list[Discovery]:
        """Search by keyword. Unlike Check Availability, Search omits names that do not
        match the purchaseType filter instead of returning them as not purchasable."""
        body: dict[str, Any] = {"keyword": keyword}
        if tld_filter:
            body["tldFilter"] = list(tld_filter)
        if timeout_ms is not None:
            body["timeout"] = timeout_ms
        if registration_only:
            body["purchaseType"] = PurchaseType.REGISTRATION.value
        reply = self.http.request("POST", f"{API}/domains:search", json_body=body,
                                  reads_only=True)
        return [parse_discovery(result, Source.SEARCH)
                for result in (reply.body or {}).get("results") or []]

    def domain_offer(self, domain: str, *, years: int) -> DomainOffer:
        """Check Availability over every purchase type (004 Pattern C), so aftermarket,
        expiring and backorder names show as what they are. A registration's price for
        the term is Get Pricing's for the same years; an acquisition's is its flat fee,
        which years do not multiply (004)."""
        discovery = self.check_domain(domain, registration_only=False)
        if not discovery.purchasable:
            return _offer_of(discovery, years, reason=discovery.reason or "not purchasable")
        purchase_type = discovery.purchase_type or pricing.PurchaseType.REGISTRATION
        if purchase_type in pricing.ACQUISITION_TYPES:
            return _offer_of(discovery, years, term_price=discovery.purchase_price, notes=(
                "Flat acquisition fee: the term does not change it.",))
        if purchase_type != pricing.PurchaseType.REGISTRATION:
            return _offer_of(discovery, years, notes=(
                f"Offered as {purchase_type}, which the order form does not sell.",))
        registry = self.get_pricing(domain, years)
        return _offer_of(discovery, years, term_price=registry.purchase_price,
                         premium=registry.premium or discovery.premium)

    def domain_suggestions(self, base: str, *, tlds: Sequence[str],
                           years: int) -> list[DomainOffer]:
        """Search by keyword, every purchase type. Discovery prices a registration's
        first year only: the term's price is worked out from it and marked so."""
        offers = []
        for discovery in self.search(base, tld_filter=list(tlds) or None,
                                     registration_only=False):
            acquisition = (discovery.purchase_type or "registration") != "registration"
            price = discovery.purchase_price
            if price is not None and not acquisition and years > 1:
                price = Money(price.amount_minor * years, price.currency)
            offers.append(_offer_of(discovery, years, term_price=price,
                                    estimated=years > 1 and not acquisition))
        return offers

    def zone_check(self, domains: Sequence[str]) -> list[ZoneHint]:
        """Zone Check: cached zone files, for browsing only (004: "available only", no
        pricing or purchaseType). Names name.com removes from the batch (invalid, a TLD
        it does not check) are absent from the answer; an `available` that is not a
        boolean is read as not stated."""
        if isinstance(domains, str) or not domains:
            raise CallerError("Pass a non-empty list of domain names.")
        reply = self.http.request("POST", f"{API}/zonecheck",
                                  json_body={"domainNames": list(domains)}, reads_only=True)
        hints = []
        for result in (reply.body or {}).get("results") or []:
            available = result.get("available")
            hints.append(ZoneHint(domain=str(result["domainName"]).lower(),
                                  free_in_zone=available if isinstance(available, bool)
                                  else None))
        return hints

    def tld_list_prices(self, tlds: Sequence[str], *, years: int) -> list[TldListPrice]:
        """TLD Pricing for `tlds` over `years` (name.com's `duration`, 1 to 10): the
        account's list prices, non-premium (004: "TLD tables only"). At most 25 TLDs
        per request (name.com's limit); pages are followed while nextPage says so."""
        if isinstance(years, bool) or not isinstance(years, int) or not 1 <= years <= 10:
            raise CallerError("years must be an int from 1 to 10.")
        wanted = [str(tld).lower().lstrip(".") for tld in tlds]
        if not wanted or len(wanted) > TLD_PRICING_MAX:
            raise CallerError(f"Ask for 1 to {TLD_PRICING_MAX} TLDs.")
        prices: list[TldListPrice] = []
        page = 1
        for _ in range(TLD_PRICING_MAX_PAGES):
            reply = self.http.request("GET", f"{API}/tldpricing", params={
                "tlds": wanted, "duration": years, "perPage": TLD_PRICING_MAX, "page": page})
            body = reply.body or {}
            for entry in body.get("pricing") or []:
                tld = str(entry["tld"]).lower()
                if tld not in wanted:
                    continue
                prices.append(TldListPrice(
                    tld=tld, years=int(entry.get("duration") or years),
                    registration=_price(entry.get("registrationPrice"), "registrationPrice"),
                    renewal=_price(entry.get("renewalPrice"), "renewalPrice"),
                    transfer=_price(entry.get("transferInPrice"), "transferInPrice")))
            following = body.get("nextPage")
            if not isinstance(following, int) or isinstance(following, bool) or (
                    following <= page):
                break
            page = following
        return prices

    def get_pricing(self, domain: str, years: int) -> RegistryPricing:
        """Get Pricing for `years`. `years` is always sent (never left to the TLD
        default) so the rules can check it equals the purchase's term (004: "pass the
        same years")."""
        if isinstance(years, bool) or not isinstance(years, int):
            raise CallerError("years must be an int.")
        reply = self.http.request("GET", self._domain_path(domain, "getPricing"),
                                  params={"years": years})
        body = reply.body
        premium = body.get("premium", False)
        if not isinstance(premium, bool):
            raise MalformedResponse(code="malformed_response", details={"field": "premium"})
        return RegistryPricing(
            domain=domain,
            years=years,
            premium=premium,
            purchase_price=_price(body.get("purchasePrice"), "purchasePrice"),
            renewal_price=_price(body.get("renewalPrice"), "renewalPrice"),
            transfer_price=_price(body.get("transferPrice"), "transferPrice"),
        )

    # --- Purchases ------------------------------------------------------------------

    def create_domain(
        self,
        quote: Quote,
        *,
        privacy_enabled: bool | None = None,
        autorenew_enabled: bool | None = None,
        contacts: Mapping[str, Any] | None = None,
        tld_requirements: Mapping[str, str] | None = None,
    ) -> Purchase:
        """Create Domain from a create `Quote`, after re-running Check Availability.

        004: "Every path should re-run Check Availability right before Create Domain";
        if the fresh answer moved (availability, purchaseType, premium, price) the
        create is never sent and `pricing.PriceChanged` is raised.
        """
        _expect(quote, Operation.CREATE)
        if pricing.requires_recheck(quote):
            # 004 Pattern A re-checks with the registration filter, Pattern C without.
            fresh = self.check_domain(
                quote.domain,
                registration_only=quote.purchase_type == PurchaseType.REGISTRATION)
            pricing.confirm_create(quote, fresh)

        domain: dict[str, Any] = {"domainName": quote.domain}
        if privacy_enabled is not None:
            # 004: purchasePrice is the domain fee only; Whois Privacy is charged
            # separately, so privacy never changes the purchasePrice sent.
            domain["privacyEnabled"] = privacy_enabled
        if autorenew_enabled is not None:
            domain["autorenewEnabled"] = autorenew_enabled
        if contacts is not None:
            domain["contacts"] = dict(contacts)
        # 004 Pattern A/C: "Create Domain with purchaseType: registration" / "with
        # matching purchaseType", so it is always sent, never left to the default.
        body: dict[str, Any] = {"domain": domain, "purchaseType": quote.purchase_type.value}
        body.update(_pricing_fields(quote))
        if tld_requirements:
            body["tldRequirements"] = dict(tld_requirements)
        reply = self.http.request("POST", f"{API}/domains", json_body=body)
        answer = reply.body or {}
        return Purchase(Operation.CREATE, _order_id(answer), _total_paid(answer.get("totalPaid")),
                        quote, domain=dict(answer.get("domain") or {}),
                        request_id=reply.request_id)

    def renew_domain(self, quote: Quote) -> Purchase:
        """Renew Domain from a renew `Quote`: purchasePrice only for a premium renewal."""
        _expect(quote, Operation.RENEW)
        reply = self.http.request("POST", self._domain_path(quote.domain, "renew"),
                                  json_body=_pricing_fields(quote))
        answer = reply.body or {}
        return Purchase(Operation.RENEW, _order_id(answer), _total_paid(answer.get("totalPaid")),
                        quote, domain=dict(answer.get("domain") or {}),
                        request_id=reply.request_id)

    def quote_domain_order(self, request: DomainQuoteRequest) -> DomainQuote:
        return ordering.quote(self, request)

    def place_domain_order(self, placement: DomainPlacement) -> PlacedOrder:
        return ordering.place(self, placement)

    def transfer_domain(self, quote: Quote, *, auth_code: str,
                        privacy_enabled: bool | None = None) -> Purchase:
        """Create Transfer from a transfer `Quote`: purchasePrice only for a premium
        transfer, and never a term (004: transferPrice is not affected by years)."""
        _expect(quote, Operation.TRANSFER)
        body: dict[str, Any] = {"domainName": quote.domain, "authCode": auth_code}
        if privacy_enabled is not None:
            # 004 Transfers: Whois Privacy is charged separately from purchasePrice.
            body["privacyEnabled"] = privacy_enabled
        body.update(_pricing_fields(quote))
        with secrets.hiding(auth_code):
            reply = self.http.request("POST", f"{API}/transfers", json_body=body)
        answer = reply.body or {}
        return Purchase(Operation.TRANSFER, _order_id(answer),
                        _total_paid(answer.get("totalPaid")), quote,
                        transfer=dict(answer.get("transfer") or {}),
                        request_id=reply.request_id)


def _expect(quote: Quote, operation: Operation) -> None:
    if not isinstance(quote, Quote) or quote.operation is not operation:
        raise CallerError(f"Give a {operation} quote from the pricing rules.")


def _pricing_fields(quote: Quote) -> dict[str, Any]:
    """purchasePrice and years exactly as the quote decided: absent when None."""
    fields = quote.request_fields()
    if "purchasePrice" in fields:
        fields["purchasePrice"] = _json_number(fields["purchasePrice"])
    return fields


def _order_id(answer: Mapping[str, Any]) -> str:
    order = answer.get("order")
    return "" if order is None else str(order)
