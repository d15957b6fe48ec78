"""Saleshandy's Open API, domain part (document 003), faked at the HTTP boundary with
state of its own: the orders placed, the account's domains with their mailboxes and
provisioning status, and who has paid.

`POST /v1/domain` checks the body by the document's rules (400 in Saleshandy's
{"statusCode", "error", "message": [...]} shape otherwise) and takes the order: a paid
one answers 201 with orderId and a checkoutUrl, a free or replacement one (credits, no
payment) with the orderId only, in the {"message", "payload"} envelope.

`GET /v1/domain` lists the account's domains (`search`: part of the name, `order`: Asc
or Desc by creation). Document 003 gives no listing shape; the fake follows the
adapter's reading of Saleshandy's public reference: {"id", "name", "status", "orderId",
"mailboxes": [...]}. Also assumed, as the adapter does: a paid order's domains are
listed once it is paid (`pay`), inProgress, and provisioning then ends as a test says
(`progress`); `listings` scripts what successive GETs show instead.

`GET /v1/domain/search`, `GET /v1/domain/plans` and `POST
/v1/domain/generate-mailbox-names` answer in the shapes the adapter reads. Every request
is recorded with its x-api-key; with `api_key` set, any other key is a 401.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from registrar.providers.saleshandy.adapter import SaleshandyProvider
from tests.fakes.http import Answer, FakeUpstream, body_of, route

API_KEY = "sh_live_0123456789abcdef"
BASE_URL = "https://open-api.saleshandy.com"
IN_PROGRESS = "inProgress"
ESPS = ("Google", "Microsoft", "Azure")
PLAN_TYPES = ("quarterly", "annualFlexi", "annualFixed")
# Per mailbox and per domain, in US cents: the fake's own figures (the document gives none).
PLANS = {esp: {plan: {"mailboxPriceCents": price, "domainPriceCents": 1500}
               for plan, price in (("quarterly", 900), ("annualFlexi", 3000),
                                   ("annualFixed", 2700))
               if esp != "Azure" or plan == "quarterly"}
         for esp in ESPS}
SEARCH_TLDS = ("com", "io", "co")
PHONE = re.compile(r"\+[1-9]\d{6,14}")
COUNTRY = re.compile(r"[A-Z]{2}")
# "Must be valid for the given country": the countries whose postal codes the fake knows.
POSTAL_CODES = {"US": re.compile(r"\d{5}(-\d{4})?"), "IN": re.compile(r"\d{6}"),
                "DE": re.compile(r"\d{5}")}
NOT_BARE = re.compile(r"[/:?#@\s]")

# Document 003's example order, in our names (what staff give the services) ...
OWNER = {
    "first_name": "John",
    "last_name": "Smith",
    "organization": "Acme Corp",
    "street_address": "123 Market Street",
    "city": "San Francisco",
    "state": "CA",
    "country": "US",
    "post_code": "94105",
    "phone": "+14155551234",
}
DOMAINS = [{
    "name": "tryoutreachteam.com",
    "redirect_url": "acmecorp.com",
    "mailboxes": [{"first_name": "John", "last_name": "Smith",
                   "email": "john@tryoutreachteam.com", "profile_pic_id": 0}],
}]
# ... and the body its curl example sends.
DOC_BODY = {
    "domainOwnerFirstname": "John",
    "domainOwnerLastname": "Smith",
    "companyName": "Acme Corp",
    "address": "123 Market Street",
    "city": "San Francisco",
    "state": "CA",
    "country": "US",
    "zipcode": "94105",
    "phoneNumber": "+14155551234",
    "emailServiceProvider": "Google",
    "planType": "quarterly",
    "domains": [{
        "name": "tryoutreachteam.com",
        "redirectUrl": "acmecorp.com",
        "mailboxes": [{"firstname": "John", "lastname": "Smith",
                       "email": "john@tryoutreachteam.com", "profilePicId": 0}],
    }],
    "isReplacement": False,
    "isFreeOrder": False,
}


def error(status: int, message: str | list[str], *, code: str | None = None) -> Answer:
    """An error answer in the shape Saleshandy's Open API uses (the document gives none):
    what the adapter's parse_error reads."""

    def answer(request: httpx.Request) -> httpx.Response:
        return _error_response(status, message, code=code)

    return answer


def _error_response(status: int, message: str | list[str], *,
                    code: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"statusCode": status,
                            "error": httpx.codes.get_reason_phrase(status),
                            "message": message}
    if code is not None:
        body["code"] = code
    return httpx.Response(status, json=body)


@dataclass
class SaleshandyDomain:
    """One domain of the account, as the listing shows it."""

    id: int
    name: str
    status: str
    order_id: str
    mailboxes: list[dict[str, Any]]
    email_service_provider: str
    plan_type: str
    redirect_url: str = ""
    listed: bool = True

    def entry(self, *, with_order_id: bool) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "id": self.id, "name": self.name, "status": self.status,
            "emailServiceProvider": self.email_service_provider, "planType": self.plan_type,
            "mailboxes": copy.deepcopy(self.mailboxes)}
        if with_order_id and self.order_id:
            entry["orderId"] = self.order_id
        if self.redirect_url:
            entry["redirectUrl"] = self.redirect_url
        return entry


@dataclass
class SaleshandyOrder:
    """One order taken by POST /v1/domain, as sent."""

    order_id: str
    body: dict[str, Any]
    checkout_url: str
    paid: bool
    domains: list[SaleshandyDomain] = field(default_factory=list)

    @property
    def free(self) -> bool:
        return bool(self.body.get("isFreeOrder") or self.body.get("isReplacement"))


@dataclass
class _Progress:
    listings_left: int
    order_id: str | None
    to: str | Mapping[str, str]


class FakeSaleshandy(FakeUpstream):
    """One Saleshandy account. `api_key` is the key it accepts (None: any).
    `order_ids_in_listing` False lists domains without their orderId (the listing's shape
    is not documented, and the adapter then matches by domain name)."""

    def __init__(self, *, api_key: str | None = API_KEY,
                 order_ids_in_listing: bool = True) -> None:
        super().__init__()
        self.api_key = api_key
        self.order_ids_in_listing = order_ids_in_listing
        self.orders: dict[str, SaleshandyOrder] = {}
        self.domains: list[SaleshandyDomain] = []
        self.plans: dict[str, Any] = copy.deepcopy(PLANS)
        # Names registered elsewhere: search offers them as unavailable.
        self.taken: set[str] = set()
        self._next_order = 1
        self._next_domain = 9101
        self._next_mailbox = 1
        self._listings: list[Mapping[str, str]] = []
        self._progress: list[_Progress] = []

    # --- what a test sets up or reads ---------------------------------------------------

    def add_domain(self, name: str, status: str = "active", *, order_id: str = "",
                   mailboxes: tuple[str, ...] = ("john",), email_service_provider: str = "Google",
                   plan_type: str = "quarterly") -> SaleshandyDomain:
        """A domain the account already has (ordered before the test, or elsewhere)."""
        domain = SaleshandyDomain(
            id=self._domain_id(), name=name, status=status, order_id=order_id,
            mailboxes=[self._mailbox(f"{local}@{name}", local.title(), "Smith", 0)
                       for local in mailboxes],
            email_service_provider=email_service_provider, plan_type=plan_type)
        self.domains.append(domain)
        return domain

    def domain(self, name: str) -> SaleshandyDomain:
        return next(domain for domain in self.domains if domain.name == name)

    def pay(self, order_id: str) -> None:
        """The customer paid at the checkout: the order's domains are listed, inProgress."""
        order = self.orders[order_id]
        order.paid = True
        for domain in order.domains:
            domain.listed = True

    def progress(self, order_id: str | None = None, *, to: str | Mapping[str, str] = "active",
                 after: int = 0) -> None:
        """Provisioning moves on: the listed domains of `order_id` (of every order, when
        None) still inProgress take `to` (one status, or {name: status}) once `after`
        more listings have shown them inProgress."""
        self._progress.append(_Progress(after, order_id, to))
        self._advance()

    def listings(self, *statuses: Mapping[str, str]) -> None:
        """What the next GETs of /v1/domain show, one argument per GET, the last one
        repeating: exactly the domains named, with these statuses (kept on the account).
        A name the account does not have is listed as a domain without an order."""
        self._listings = list(statuses)

    @property
    def api_keys(self) -> list[str | None]:
        """The x-api-key of every request, in order."""
        return [request.headers.get("x-api-key") for request in self.requests]

    # --- routes ---------------------------------------------------------------------------

    def routes(self):
        return [
            route("POST", "/v1/domain", self._place),
            route("GET", "/v1/domain", self._list),
            route("GET", "/v1/domain/search", self._search),
            route("GET", "/v1/domain/plans", self._plans),
            route("POST", "/v1/domain/generate-mailbox-names", self._mailbox_names),
        ]

    def not_found(self, request: httpx.Request) -> httpx.Response:
        return _error_response(404, f"Cannot {request.method} {request.url.path}")

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.api_key is not None and request.headers.get("x-api-key") != self.api_key:
            request.read()
            self.requests.append(request)
            return _error_response(401, "Invalid API key")
        response = super().__call__(request)
        # A request id of its own per request, so a test can tell which answer was kept.
        response.headers.setdefault("X-Request-Id", f"sh-req-{len(self.requests)}")
        return response

    def _place(self, request: httpx.Request) -> httpx.Response:
        body = body_of(request)
        problems = _order_problems(body)
        if problems:
            return _error_response(400, problems)
        number = self._next_order
        self._next_order += 1
        order_id = f"ord_{number}"
        order = SaleshandyOrder(order_id=order_id, body=body, checkout_url="", paid=False)
        order.paid = order.free  # credits, not money: nothing to wait for
        if not order.free:
            order.checkout_url = (f"https://buy.paddle.com/checkout/chk_01HZX9Q2W3E4{number:06d}"
                                  f"?_ptxn=txn_01hzx9q2w3{number:06d}")
        for entry in body["domains"]:
            domain = SaleshandyDomain(
                id=self._domain_id(), name=entry["name"], status=IN_PROGRESS,
                order_id=order_id, listed=order.paid,
                mailboxes=[self._mailbox(m["email"], m.get("firstname", ""),
                                         m.get("lastname", ""), m.get("profilePicId", 0))
                           for m in entry["mailboxes"]],
                email_service_provider=body["emailServiceProvider"],
                plan_type=body.get("planType", "quarterly"),
                redirect_url=entry.get("redirectUrl", ""))
            order.domains.append(domain)
            self.domains.append(domain)
        self.orders[order_id] = order
        answer = {"orderId": order_id}
        if order.checkout_url:
            answer["checkoutUrl"] = order.checkout_url
        return httpx.Response(201, json={"message": "Domain purchased successfully",
                                         "payload": answer})

    def _list(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        order = params.get("order")
        if order not in (None, "Asc", "Desc"):
            return _error_response(400, ["order must be one of the following values: Asc, Desc"])
        if self._listings:
            statuses = self._listings.pop(0) if len(self._listings) > 1 else self._listings[0]
            shown = []
            for name, status in statuses.items():
                domain = next((d for d in self.domains if d.name == name), None)
                if domain is None:
                    domain = self.add_domain(name, status)
                domain.status, domain.listed = status, True
                shown.append(domain)
        else:
            self._advance()
            shown = [domain for domain in self.domains if domain.listed]
        search = (params.get("search") or "").lower()
        shown = [domain for domain in shown if search in domain.name]
        shown.sort(key=lambda domain: domain.id, reverse=order == "Desc")
        self._tick(shown)
        return httpx.Response(200, json={
            "message": "Domains fetched successfully",
            "payload": {"domains": [domain.entry(with_order_id=self.order_ids_in_listing)
                                    for domain in shown]}})

    def _search(self, request: httpx.Request) -> httpx.Response:
        query = (request.url.params.get("domain") or "").strip().lower()
        if not query:
            return _error_response(400, ["domain should not be empty"])
        names = [query] if "." in query else [f"{query}.{tld}" for tld in SEARCH_TLDS]
        owned = {domain.name for domain in self.domains}
        return httpx.Response(200, json={
            "message": "Domains fetched successfully",
            "payload": {"domains": [
                {"domain": name, "available": name not in owned | self.taken,
                 "priceCents": 1500} for name in names]}})

    def _plans(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"message": "Plans fetched successfully",
                                         "payload": self.plans})

    def _mailbox_names(self, request: httpx.Request) -> httpx.Response:
        body = body_of(request) or {}
        first = str(body.get("firstName") or "").strip().lower()
        last = str(body.get("lastName") or "").strip().lower()
        domain = str(body.get("domain") or "").strip().lower()
        count = body.get("count")
        problems = [f"{name} should not be empty" for name, value in
                    (("firstName", first), ("lastName", last), ("domain", domain))
                    if not value]
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 100:
            problems.append("count must be between 1 and 100")
        if problems:
            return _error_response(400, problems)
        locals_ = list(dict.fromkeys([f"{first}.{last}", first, f"{first[0]}{last}",
                                      f"{first}{last}", f"{first}{last[0]}",
                                      f"{first[0]}.{last}", f"{last}.{first}", last]))
        number = 1
        while len(locals_) < count:
            locals_.append(f"{first}.{last}{number}")
            number += 1
        return httpx.Response(201, json={
            "message": "Mailbox names generated successfully",
            "payload": {"mailboxNames": [f"{local}@{domain}" for local in locals_[:count]]}})

    # --- state --------------------------------------------------------------------------

    def _domain_id(self) -> int:
        self._next_domain += 1
        return self._next_domain - 1

    def _mailbox(self, email: str, first_name: str, last_name: str,
                 picture: int) -> dict[str, Any]:
        self._next_mailbox += 1
        return {"id": self._next_mailbox - 1, "email": email, "firstName": first_name,
                "lastName": last_name, "profilePicId": picture}

    def _advance(self) -> None:
        """Apply the progress that is due. Provisioning starts once the order is paid: a
        step waits until it has a listed domain to move."""
        for step in [step for step in self._progress if step.listings_left <= 0]:
            moving = [domain for domain in self.domains
                      if domain.listed and domain.status == IN_PROGRESS
                      and step.order_id in (None, domain.order_id)]
            if not moving:
                continue
            self._progress.remove(step)
            for domain in moving:
                to = step.to if isinstance(step.to, str) else step.to.get(domain.name)
                domain.status = to or domain.status

    def _tick(self, shown: list[SaleshandyDomain]) -> None:
        """A listing showed these domains: progress waiting on them comes one nearer."""
        for step in self._progress:
            if any(step.order_id in (None, domain.order_id) and domain.status == IN_PROGRESS
                   for domain in shown):
                step.listings_left -= 1


def _order_problems(body: Any) -> list[str]:
    """What Saleshandy refuses in an order body, by document 003's rules."""
    if not isinstance(body, Mapping):
        return ["body must be an object"]
    problems = []
    for key in ("domainOwnerFirstname", "domainOwnerLastname"):
        if key in body and not 1 <= len(str(body[key])) <= 50:
            problems.append(f"{key} must be 1 to 50 characters")
    if "country" in body and not COUNTRY.fullmatch(str(body["country"])):
        problems.append("country must be an ISO 3166-1 alpha-2 code")
    if "phoneNumber" in body and not PHONE.fullmatch(str(body["phoneNumber"])):
        problems.append("phoneNumber must be in E.164 format")
    postal = POSTAL_CODES.get(str(body.get("country")))
    if "zipcode" in body and postal is not None and not postal.fullmatch(str(body["zipcode"])):
        problems.append("zipcode is invalid for country")
    esp = body.get("emailServiceProvider")
    if esp not in ESPS:
        problems.append(f"emailServiceProvider must be one of the following values: "
                        f"{', '.join(ESPS)}")
    plan = body.get("planType", "quarterly")
    if plan not in PLAN_TYPES:
        problems.append(f"planType must be one of the following values: "
                        f"{', '.join(PLAN_TYPES)}")
    elif esp == "Azure" and plan != "quarterly":
        problems.append("Azure only supports the quarterly plan")
    for key in ("isReplacement", "isFreeOrder"):
        if key in body and not isinstance(body[key], bool):
            problems.append(f"{key} must be a boolean value")
    domains = body.get("domains")
    if not isinstance(domains, list) or not domains:
        return [*problems, "domains must contain at least 1 elements"]
    for index, domain in enumerate(domains):
        if not isinstance(domain, Mapping) or not domain.get("name"):
            problems.append(f"domains.{index}.name should not be empty")
            continue
        if NOT_BARE.search(str(domain.get("redirectUrl", ""))):
            problems.append(f"domains.{index}.redirectUrl must be a bare domain")
        mailboxes = domain.get("mailboxes")
        if not isinstance(mailboxes, list) or not mailboxes:
            problems.append(f"domains.{index}.mailboxes must contain at least 1 elements")
            continue
        for number, mailbox in enumerate(mailboxes):
            if not isinstance(mailbox, Mapping) or "@" not in str(mailbox.get("email", "")):
                problems.append(f"domains.{index}.mailboxes.{number}.email must be an email")
    return problems


def order_kwargs(**overrides: Any) -> dict[str, Any]:
    """Document 003's example order as the adapter's order hooks take it."""
    return {"owner": dict(OWNER), "email_service_provider": "Google",
            "domains": copy.deepcopy(DOMAINS), **overrides}


def adapter(upstream: Any, *, token: str = API_KEY, sleep: Any = None,
            **kwargs: Any) -> SaleshandyProvider:
    """A SaleshandyProvider talking straight to `upstream` (this fake, or a Scripted), for
    the adapter's own tests; the services reach the fake through `serving(label)`.
    Retries never wait unless `sleep` records them."""
    return SaleshandyProvider(base_url=BASE_URL, token=token, account_ref="",
                              transport=httpx.MockTransport(upstream),
                              sleep=sleep or (lambda delay: None), **kwargs)
