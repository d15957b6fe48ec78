"""A made-up upstream, "Toy Registrar", and its adapter: everything a new upstream is,
in one place under tests/. The core must offer, sync and order through it with nothing
but one line added to the registry (docs/adding-a-provider.md).

Its wire format is its own and small:

    GET  /v1/domains?page=N            {"domains": [domain...], "next": N+1 | null}
    GET  /v1/domains/{name}            domain
    PUT  /v1/domains/{name}/lock       {"locked": bool} -> {"domain": domain}
    GET  /v1/quote?domain=D&years=Y    {"available": bool, "price_cents": int, "currency"}
    POST /v1/orders  (Idempotency-Key) {"domain", "years", "max_cents"}
                                       -> {"order": {"id", "status", "charged_cents",
                                                     "domain": domain}}

    domain = {"name", "locked", "expires"}; errors are {"error": "..."}.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from registrar.providers.base import (
    Capability,
    DomainPlacement,
    DomainQuote,
    DomainQuoteRequest,
    Done,
    OrderAction,
    OrderRecord,
    OrderState,
    OrderType,
    PlacedOrder,
    RegistrationRecord,
    RegistrationRef,
    RegistrationState,
    RegistrationView,
    Result,
)
from registrar.providers.errors import PriceMoved, ProviderError, QuoteRefused, error_for
from registrar.providers.http import HttpProvider, guard_parsing, parse_timestamp
from tests.fakes.http import FakeUpstream, json_response, route

ADAPTER = "tests.architecture.toy.ToyProvider"


def parse_error(status: int, body: Any, text: str, request_id: str) -> ProviderError:
    message = body.get("error") if isinstance(body, Mapping) else ""
    return error_for(status, upstream_message=str(message or ""), request_id=request_id)


def parse_domain(data: Mapping[str, Any]) -> RegistrationRecord:
    return RegistrationRecord(
        fields={"name": str(data["name"]), "status": RegistrationState.ACTIVE.value,
                "locked": bool(data["locked"]), "expires_at": parse_timestamp(data["expires"])},
        tld={"name": str(data["name"]).rsplit(".", 1)[-1]}, raw=dict(data))


@guard_parsing
class ToyProvider(HttpProvider):
    kind = "toy"
    display_name = "Toy Registrar"
    capabilities = frozenset({Capability.LOCK, Capability.REGISTRATION_SYNC,
                              Capability.REGISTRATION_READ, Capability.DOMAIN_ORDERS})
    ordering_actions = frozenset({OrderAction.REGISTER})
    _parse_error = staticmethod(parse_error)

    def _headers(self, *, token: str, account_ref: str) -> dict[str, str]:
        return {"Authorization": f"Token {token}"}

    def ping(self) -> None:
        self.http.request("GET", "/v1/domains", params={"page": 1})

    def iter_registrations(self, *, name: str | None = None,
                           page_size: int = 100) -> Iterator[RegistrationRecord]:
        page: int | None = 1
        while page is not None:
            body = self.http.request("GET", "/v1/domains", params={"page": page}).body
            for data in body["domains"]:
                record = parse_domain(data)
                if name is None or record.name == name:
                    yield record
            page = body["next"]

    def get_registration(self, ref: RegistrationRef) -> RegistrationView:
        body = self.http.request("GET", f"/v1/domains/{quote(ref.name)}").body
        return RegistrationView(registration=parse_domain(body))

    def set_lock(self, ref: RegistrationRef, locked: bool) -> Result:
        reply = self.http.request("PUT", f"/v1/domains/{quote(ref.name)}/lock",
                                  json_body={"locked": locked})
        record = parse_domain(reply.body["domain"])
        return Done(changes=record.fields, record=record, request_id=reply.request_id)

    def quote_domain_order(self, request: DomainQuoteRequest) -> DomainQuote:
        body = self.http.request("GET", "/v1/quote", params={
            "domain": request.domain, "years": request.years}).body
        if not body["available"]:
            raise QuoteRefused(f"{request.domain} is taken.", rule="not_available")
        return DomainQuote(currency=body["currency"], total_minor=body["price_cents"],
                           ceiling_minor=body["price_cents"])

    def place_domain_order(self, placement: DomainPlacement) -> PlacedOrder:
        fresh = self.quote_domain_order(DomainQuoteRequest(
            action=placement.action, domain=placement.domain, years=placement.years))
        if fresh.total_minor != placement.quoted_total_minor:
            raise PriceMoved(f"{placement.domain} costs more now.")
        reply = self.http.request(
            "POST", "/v1/orders", headers={"Idempotency-Key": placement.idempotency_key},
            json_body={"domain": placement.domain, "years": placement.years,
                       "max_cents": placement.quote["ceiling_minor"]})
        order = reply.body["order"]
        done = order["status"] == "done"
        return PlacedOrder(record=OrderRecord(
            upstream_id=str(order["id"]),
            state=OrderState.COMPLETED if done else OrderState.IN_PROGRESS,
            type=OrderType.REGISTRATION, domain=placement.domain, years=placement.years,
            currency=placement.currency, total_minor=order["charged_cents"],
            subtotal_minor=order["charged_cents"], fees_minor=0,
            delivered=(parse_domain(order["domain"]),) if done else (), paid=True),
            request_id=reply.request_id)


class FakeToy(FakeUpstream):
    """Toy Registrar's state: its domains (two per page), its price list, its orders."""

    PAGE = 2

    def __init__(self) -> None:
        super().__init__()
        self.domains: dict[str, dict[str, Any]] = {}
        self.prices: dict[str, int] = {}
        self.orders: dict[str, dict[str, Any]] = {}

    def add(self, name: str, *, locked: bool = False,
            expires: str = "2027-06-30T00:00:00Z") -> None:
        self.domains[name] = {"name": name, "locked": locked, "expires": expires}

    def routes(self):
        return [
            route("GET", r"/v1/domains", self.list),
            route("GET", r"/v1/domains/(?P<name>[^/]+)", self.read),
            route("PUT", r"/v1/domains/(?P<name>[^/]+)/lock", self.lock),
            route("GET", r"/v1/quote", self.quote),
            route("POST", r"/v1/orders", self.order),
        ]

    def not_found(self, request: httpx.Request) -> httpx.Response:
        return json_response(404, {"error": "no such thing"})

    def list(self, request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        names = sorted(self.domains)
        chunk = names[(page - 1) * self.PAGE:page * self.PAGE]
        more = page * self.PAGE < len(names)
        return json_response(200, {"domains": [self.domains[n] for n in chunk],
                                   "next": page + 1 if more else None})

    def read(self, request: httpx.Request, name: str) -> httpx.Response:
        if name not in self.domains:
            return self.not_found(request)
        return json_response(200, self.domains[name])

    def lock(self, request: httpx.Request, name: str) -> httpx.Response:
        self.domains[name]["locked"] = bool(json.loads(request.content)["locked"])
        return json_response(200, {"domain": self.domains[name]})

    def quote(self, request: httpx.Request) -> httpx.Response:
        domain = request.url.params["domain"]
        years = int(request.url.params["years"])
        available = domain in self.prices and domain not in self.domains
        return json_response(200, {"available": available, "currency": "EUR",
                                   "price_cents": self.prices.get(domain, 0) * years})

    def order(self, request: httpx.Request) -> httpx.Response:
        key = request.headers["Idempotency-Key"]
        if key in self.orders:  # a replay answers with the first order
            return json_response(201, {"order": self.orders[key]})
        body = json.loads(request.content)
        self.add(body["domain"])
        self.orders[key] = {"id": f"toy-{len(self.orders) + 1}", "status": "done",
                            "charged_cents": body["max_cents"],
                            "domain": self.domains[body["domain"]]}
        return json_response(201, {"order": self.orders[key]})
