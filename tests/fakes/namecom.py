"""The name.com Core API, faked at the HTTP boundary with state of its own: a catalogue
of names on offer (purchasable, premium, purchaseType and prices), the names already
registered elsewhere, the account's own domains, and the orders it took.

It enforces document 004's purchase rules the way name.com does: discovery with the
registration filter shows acquisition inventory as not purchasable (Search omits it);
Get Pricing gives registry totals for the years asked (transferPrice whatever the
years); Create Domain, Renew Domain and Create Transfer refuse a purchasePrice that is
missing where it is required or that is not the exact price to the cent; totalPaid adds
Whois Privacy (and VAT, when a rate is set) to the domain fee. Errors come as
{"message", "details"}; every request needs HTTP basic auth (username:token).

Where document 004 gives no wire shape the fake follows the published Core API (the
paths under /core/v1, the domain record with expireDate, the order number).
"""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from tests.fakes.http import FakeUpstream, json_response, route

API = "/core/v1"
CHECK = f"{API}/domains:checkAvailability"
SEARCH = f"{API}/domains:search"
CREATE = f"{API}/domains"
TRANSFER = f"{API}/transfers"
ZONE_CHECK = f"{API}/zonecheck"
TLD_PRICING = f"{API}/tldpricing"
USERNAME = "acme-reseller"
TOKEN = "namecom-token-0123456789"
CENT = Decimal("0.01")
REGISTRATION = "registration"
NAMESERVERS = ["ns1.name.com", "ns2.name.com"]
# When the fake's clock stands (a create expires `years` after it).
CLOCK = datetime(2026, 7, 1, tzinfo=UTC)
# Standard list prices per TLD: (first year, renewal per year, transfer).
TLD_PRICES = {
    "com": ("12.99", "14.99", "9.99"),
    "net": ("14.99", "16.99", "11.99"),
    "luxe": ("24.99", "24.99", "24.99"),
    "co": ("29.99", "29.99", "29.99"),
    "shop": ("3.99", "39.99", "39.99"),
}


def pricing_path(domain: str) -> str:
    return f"{API}/domains/{domain}:getPricing"


def renew_path(domain: str) -> str:
    return f"{API}/domains/{domain}:renew"


def _dec(value: str | Decimal | int | float) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


def _number(amount: Decimal | None) -> float | None:
    # JSON numbers: the shortest float for an amount in cents reads back as its digits.
    return None if amount is None else float(amount)


@dataclass(frozen=True)
class Offer:
    """A name on offer. `price` is discovery's purchasePrice: the first year's price of a
    registration, the flat fee of an acquisition. Get Pricing multiplies the per-year
    registry price (`registry`; the discovery price unless it moved on its own) and
    `renewal` by the years asked; `transfer` does not depend on them."""

    purchase_type: str = REGISTRATION
    premium: bool = False
    price: Decimal = Decimal("12.99")
    renewal: Decimal = Decimal("14.99")
    transfer: Decimal | None = Decimal("9.99")
    registry: Decimal | None = None

    @property
    def acquisition(self) -> bool:
        return self.purchase_type != REGISTRATION

    def registration_total(self, years: int) -> Decimal:
        return (self.registry if self.registry is not None else self.price) * years


class FakeNamecom(FakeUpstream):
    """One name.com reseller account."""

    def __init__(self, *, username: str = USERNAME, token: str = TOKEN) -> None:
        super().__init__()
        self.username = username
        self.token = token
        self.catalogue: dict[str, Offer] = {}
        self.registered_elsewhere: set[str] = set()
        #: Names the cached zone shows as delegated (Zone Check says taken) whatever
        #: the registry says now: the zone files lag behind.
        self.zone_taken: set[str] = set()
        self.domains: dict[str, dict[str, Any]] = {}
        self.transfers: dict[str, dict[str, Any]] = {}
        self.orders: list[dict[str, Any]] = []
        self.next_order = 4321
        self.now = CLOCK
        self.privacy_price = Decimal("4.99")  # per year, charged on top of purchasePrice
        self.vat_rate = Decimal("0")

    # --- what a test sets up ----------------------------------------------------------

    def offer(self, domain: str, *, purchase_type: str = REGISTRATION, premium: bool = False,
              price: str = "12.99", renewal: str = "14.99", transfer: str | None = "9.99",
              registry: str | None = None) -> Offer:
        offer = Offer(purchase_type, premium, _dec(price), _dec(renewal),
                      None if transfer is None else _dec(transfer),
                      None if registry is None else _dec(registry))
        self.catalogue[domain.lower()] = offer
        return offer

    def reprice(self, domain: str, **changes: Any) -> None:
        """The offer moves (a price, the premium flag, the purchase type)."""
        for key in ("price", "renewal", "transfer", "registry"):
            if changes.get(key) is not None:
                changes[key] = _dec(changes[key])
        self.catalogue[domain.lower()] = replace(self.offer_for(domain), **changes)

    def register_elsewhere(self, domain: str) -> None:
        """Taken at another registrar (so it can be transferred in, not created)."""
        self.registered_elsewhere.add(domain.lower())

    def own(self, domain: str, *, expire: datetime | None = None, **fields: Any
            ) -> dict[str, Any]:
        """A domain already in this account (so it can be renewed)."""
        record = self._domain_record(domain.lower(), expire or self.now, privacy=False,
                                     autorenew=False)
        record.update(fields)
        self.domains[domain.lower()] = record
        return record

    def offer_for(self, domain: str) -> Offer:
        """What the name is offered as: the catalogue's entry, else its TLD's list price."""
        name = domain.lower()
        if name in self.catalogue:
            return self.catalogue[name]
        first, renewal, transfer = TLD_PRICES.get(name.rsplit(".", 1)[-1], TLD_PRICES["com"])
        return Offer(REGISTRATION, False, _dec(first), _dec(renewal), _dec(transfer))

    @staticmethod
    def credentials(request: httpx.Request) -> tuple[str, str]:
        """The (username, token) a request's basic auth carried."""
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        assert scheme == "Basic", "name.com takes HTTP basic auth"
        user, _, token = base64.b64decode(encoded).decode().partition(":")
        return user, token

    # --- routes -----------------------------------------------------------------------------

    def routes(self):
        return [
            route("GET", f"{API}/hello", self._hello),
            route("POST", CHECK, self._check),
            route("POST", SEARCH, self._search),
            route("POST", ZONE_CHECK, self._zone_check),
            route("GET", TLD_PRICING, self._tld_pricing),
            route("GET", rf"{API}/domains/(?P<name>[^/:]+):getPricing", self._pricing),
            route("POST", CREATE, self._create),
            route("POST", rf"{API}/domains/(?P<name>[^/:]+):renew", self._renew),
            route("POST", TRANSFER, self._transfer),
        ]

    def not_found(self, request: httpx.Request) -> httpx.Response:
        return self._error(404, "Not Found")

    def __call__(self, request: httpx.Request) -> httpx.Response:
        expected = base64.b64encode(f"{self.username}:{self.token}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            request.read()
            self.requests.append(request)
            return self._error(401, "Unauthenticated")
        return super().__call__(request)

    @staticmethod
    def _error(status: int, message: str, details: str = "") -> httpx.Response:
        body = {"message": message}
        if details:
            body["details"] = details
        return json_response(status, body)

    @staticmethod
    def _body(request: httpx.Request) -> dict[str, Any]:
        """The JSON object sent ({} for anything else: each endpoint then answers what is
        missing). Prices are read as Decimals, so "to the cent" is compared exactly."""
        try:
            body = json.loads(request.content, parse_float=Decimal) if request.content else {}
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    # --- discovery --------------------------------------------------------------------------

    def _hello(self, request: httpx.Request) -> httpx.Response:
        return json_response(200, {"motd": "Welcome to the name.com API",
                                   "username": self.username, "serverName": "fake"})

    def _taken(self, name: str) -> bool:
        return name in self.domains or name in self.registered_elsewhere

    def _result(self, domain: str, registration_only: bool) -> dict[str, Any]:
        name = domain.lower()
        sld, _, tld = name.partition(".")
        result: dict[str, Any] = {"domainName": name, "sld": sld, "tld": tld}
        offer = self.offer_for(name)
        if self._taken(name):
            return {**result, "purchasable": False}
        if registration_only and offer.acquisition:
            # 004 Pattern A: acquisition inventory comes back not purchasable.
            return {**result, "purchasable": False}
        result.update(purchasable=True, purchaseType=offer.purchase_type,
                      premium=offer.premium, purchasePrice=_number(offer.price),
                      renewalPrice=_number(offer.renewal))
        return result

    def _check(self, request: httpx.Request) -> httpx.Response:
        body = self._body(request)
        names = body.get("domainNames")
        if not isinstance(names, list) or not names:
            return self._error(400, "Invalid Argument", "domainNames is required")
        only = body.get("purchaseType") == REGISTRATION
        return json_response(200, {"results": [self._result(n, only) for n in names]})

    def _zone_check(self, request: httpx.Request) -> httpx.Response:
        """Zone Check, as the published Core API answers it: {"results": [{"domainName",
        "available"}], "total", "removed"}; names of a TLD the fake has no list price for
        are removed (name.com drops what it does not zone-check) and only counted."""
        body = self._body(request)
        names = body.get("domainNames")
        if not isinstance(names, list) or not names:
            return self._error(400, "Invalid Argument", "domainNames is required")
        kept = [str(n).lower() for n in names if str(n).rsplit(".", 1)[-1] in TLD_PRICES]
        if not kept:
            return self._error(400, "Invalid Argument", "no valid domains to check")
        # The zone knows only what is delegated: the account's and other registrars'.
        results = [{"domainName": n, "available": n not in self.registered_elsewhere
                    and n not in self.domains and n not in self.zone_taken}
                   for n in kept]
        return json_response(200, {"results": results, "total": len(results),
                                   "removed": len(names) - len(kept)})

    def _tld_pricing(self, request: httpx.Request) -> httpx.Response:
        """TLD Pricing: {"pricing": [{"tld", "duration", "registrationPrice",
        "renewalPrice", "transferInPrice"}], ...} for `tlds` over `duration` years."""
        params = request.url.params
        tlds = params.get_list("tlds") or list(TLD_PRICES)
        try:
            duration = int(params.get("duration", "1"))
        except ValueError:
            return self._error(400, "Invalid Argument", "duration must be an integer")
        if not 1 <= duration <= 10:
            return self._error(400, "Invalid Argument", "duration must be 1 to 10")
        known = [tld for tld in tlds if tld in TLD_PRICES]
        if not known:
            return self._error(400, "Invalid Argument", "no supported TLDs")
        pricing = []
        for tld in known:
            first, renewal, transfer = (_dec(v) for v in TLD_PRICES[tld])
            pricing.append({"tld": tld, "duration": duration,
                            "registrationPrice": _number(first + renewal * (duration - 1)),
                            "renewalPrice": _number(renewal * duration),
                            "transferInPrice": _number(transfer)})
        return json_response(200, {"pricing": pricing, "totalCount": len(pricing),
                                   "from": 1, "to": len(pricing), "lastPage": 1})

    def _search(self, request: httpx.Request) -> httpx.Response:
        body = self._body(request)
        keyword = str(body.get("keyword") or "").lower()
        if not keyword:
            return self._error(400, "Invalid Argument", "keyword is required")
        tlds = body.get("tldFilter") or list(TLD_PRICES)
        names = [name for name in self.catalogue
                 if keyword in name.partition(".")[0] and name.rsplit(".", 1)[-1] in tlds]
        names += [f"{keyword}.{tld}" for tld in tlds if f"{keyword}.{tld}" not in names]
        only = body.get("purchaseType") == REGISTRATION
        results = [self._result(name, only) for name in names
                   # Search omits what does not match the filter (004 Pattern A).
                   if not (only and self.offer_for(name).acquisition)]
        return json_response(200, {"results": results})

    def _pricing(self, request: httpx.Request, name: str) -> httpx.Response:
        try:
            years = int(request.url.params.get("years", "1"))
        except ValueError:
            return self._error(400, "Invalid Argument", "years must be an integer")
        offer = self.offer_for(name)
        # Get Pricing is the registry's calculator: totals for the years asked (null where
        # the operation is not offered), a transfer price that years does not change.
        purchase = (None if self._taken(name.lower()) or offer.acquisition
                    else offer.registration_total(years))
        return json_response(200, {"premium": offer.premium,
                                   "purchasePrice": _number(purchase),
                                   "renewalPrice": _number(offer.renewal * years),
                                   "transferPrice": _number(offer.transfer)})

    # --- purchases ----------------------------------------------------------------------------

    def _price_check(self, sent: Any, expected: Decimal, required: bool, what: str
                     ) -> httpx.Response | None:
        """None when the purchasePrice sent is acceptable; else name.com's refusal."""
        if sent is None:
            if required:
                # Document 004 gives this refusal for a premium transfer; a create or a
                # renewal without its required price is assumed to be refused alike.
                return self._error(400, "Bad Request",
                                   f"PurchasePrice is required if the domain to {what} is a "
                                   "premium domain")
            return None
        if isinstance(sent, bool) or not isinstance(sent, int | Decimal) or (
                Decimal(sent) != expected):
            # 004: a purchasePrice must match exactly to the cent.
            return self._error(400, "Invalid Price")
        return None

    def _charge(self, fee: Decimal, *, privacy: bool, years: int) -> Decimal:
        total = fee + (self.privacy_price * years if privacy else Decimal("0"))
        return (total * (1 + self.vat_rate)).quantize(CENT)

    def _order(self, kind: str, domain: str, total: Decimal) -> int:
        number = self.next_order
        self.next_order += 1
        self.orders.append({"order": number, "kind": kind, "domain": domain,
                            "totalPaid": total})
        return number

    def _domain_record(self, name: str, expire: datetime, *, privacy: bool,
                       autorenew: bool) -> dict[str, Any]:
        return {"domainName": name, "nameservers": list(NAMESERVERS),
                "privacyEnabled": privacy, "locked": True, "autorenewEnabled": autorenew,
                "expireDate": expire.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "createDate": self.now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "renewalPrice": _number(self.offer_for(name).renewal)}

    def _create(self, request: httpx.Request) -> httpx.Response:
        body = self._body(request)
        domain = body.get("domain")
        if not isinstance(domain, dict) or not domain.get("domainName"):
            return self._error(400, "Invalid Argument", "domain.domainName is required")
        name = str(domain["domainName"]).lower()
        offer = self.offer_for(name)
        if self._taken(name):
            return self._error(400, "Invalid Argument", "Domain is not available")
        purchase_type = body.get("purchaseType", REGISTRATION)
        if purchase_type != offer.purchase_type:
            return self._error(400, "Invalid Argument",
                               f"purchaseType {purchase_type} does not match this domain")
        years = body.get("years")
        if offer.acquisition:
            # A flat acquisition fee, whatever the years; the term is the TLD default.
            expected, required, term = offer.price, True, 1
        else:
            term = 1 if years is None else years
            if isinstance(term, bool) or not isinstance(term, int) or not 1 <= term <= 10:
                return self._error(400, "Invalid Argument", "years must be from 1 to 10")
            expected, required = offer.registration_total(term), offer.premium
        refused = self._price_check(body.get("purchasePrice"), expected, required, "register")
        if refused is not None:
            return refused
        privacy = bool(domain.get("privacyEnabled", False))
        record = self._domain_record(
            name, self.now.replace(year=self.now.year + term), privacy=privacy,
            autorenew=bool(domain.get("autorenewEnabled", False)))
        self.domains[name] = record
        total = self._charge(expected, privacy=privacy, years=term)
        order = self._order("create", name, total)
        return json_response(200, {"domain": copy.deepcopy(record), "order": order,
                                   "totalPaid": _number(total)})

    def _renew(self, request: httpx.Request, name: str) -> httpx.Response:
        name = name.lower()
        record = self.domains.get(name)
        if record is None:
            return self._error(404, "Not Found")
        body = self._body(request)
        years = body.get("years", 1)
        if isinstance(years, bool) or not isinstance(years, int) or not 1 <= years <= 10:
            return self._error(400, "Invalid Argument", "years must be from 1 to 10")
        offer = self.offer_for(name)
        refused = self._price_check(body.get("purchasePrice"), offer.renewal * years,
                                    offer.premium, "renew")
        if refused is not None:
            return refused
        expire = datetime.strptime(record["expireDate"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=UTC)
        record["expireDate"] = expire.replace(year=expire.year + years).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        total = self._charge(offer.renewal * years, privacy=False, years=years)
        order = self._order("renew", name, total)
        return json_response(200, {"domain": copy.deepcopy(record), "order": order,
                                   "totalPaid": _number(total)})

    def _transfer(self, request: httpx.Request) -> httpx.Response:
        body = self._body(request)
        name = str(body.get("domainName") or "").lower()
        if not name:
            return self._error(400, "Invalid Argument", "domainName is required")
        if not body.get("authCode"):
            return self._error(400, "Invalid Argument", "authCode is required")
        if name in self.domains or name in self.transfers:
            return self._error(409, "Conflict", "The domain is already in this account")
        if name not in self.registered_elsewhere:
            return self._error(400, "Invalid Argument", "The domain is not registered")
        offer = self.offer_for(name)
        if offer.transfer is None:
            return self._error(422, "Unprocessable Entity", "Transfers are not offered")
        refused = self._price_check(body.get("purchasePrice"), offer.transfer, offer.premium,
                                    "transfer")
        if refused is not None:
            return refused
        privacy = bool(body.get("privacyEnabled", False))
        transfer = {"domainName": name, "email": "admin@example.org",
                    "status": "pending_transfer"}
        self.transfers[name] = transfer
        total = self._charge(offer.transfer, privacy=privacy, years=1)
        order = self._order("transfer", name, total)
        return json_response(200, {"transfer": dict(transfer), "order": order,
                                   "totalPaid": _number(total)})
