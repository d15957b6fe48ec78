"""Entri Sell Enterprise (document 000) at the HTTP boundary: one application's domains,
orders, transfers and WHOIS contacts, kept as the document's JSON and changed by the
requests that reach it.

- `POST /token` mints jwt(1), jwt(2), ... Only tokens it minted (and has not expired)
  are accepted; anything else is answered 401, as Entri answers a dead JWT. With
  `application_id` / `secret` given, a token request for other credentials is refused,
  and so is an API call without that `applicationId` header. Script `POST /token` to
  make it answer otherwise.
- `GET /domains` and `GET /orders` are paged by `page` / `size` with the document's
  page fields (total, page, limit, count, pages, nextPage, prevPage). `page_size_limit`
  caps the size it serves, `set_pages` serves given pages instead of the state, and
  `fail_page` makes one page answer otherwise.
- Errors are `{"message": ...}` with the status; every request is recorded (`requests`).
- `script()` answers a route otherwise first; `serve` as a script's last answer hands
  the route back to the state (a 401 once, then the real answer).

Where the document is silent, the fake does what an upstream most plausibly does; each
such choice says so ("silent"). A test that shares Django's cache with others clears
it first: a JWT another test's fake minted is refused here (the adapter then re-mints).
"""

from __future__ import annotations

import copy
import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any

import httpx

from tests.fakes.http import FakeUpstream, Route, json_response, route
from tests.log_guard import remember_link

PREFIX = "/enterprise/sell/v1"
TOKEN_PATH = "/token"
#: The vocabulary of document 000 for domains, orders and transfers alike.
STATUSES = (
    "payment_initiated", "payment_successful", "payment_failed", "registration_in_progress",
    "registered", "transferred", "transfer_started", "transfer_completed", "transfer_ack",
    "transfer_success", "transfer_failed",
)
#: The document's timestamp form: microseconds, no offset.
CREATED_AT = "2025-09-07T23:22:42.661936"
CONTACT_FIELDS = ("email", "fname", "lname", "phone", "address", "city", "country", "pcode")
FIRST_CONTACT_ID = 24047757
_NAME = r"(?P<name>[^/]+)"
_ORDER = r"(?P<order_id>[^/]+)"


def jwt(number: int) -> str:
    """The `number`th JWT a FakeEntri mints, counting from 1."""
    return f"eyJ0eXAiOiJKV1QiLCJhbGciOi.payload-{number}.signature-{number}"


def order_uuid(number: int) -> str:
    """The id of the `number`th order a FakeEntri creates: a UUID, as Entri's are."""
    return f"00000000-0000-4000-8000-{number:012x}"


def error(status: int, message: str) -> httpx.Response:
    return json_response(status, {"message": message})


class FakeEntri(FakeUpstream):
    """One Entri Sell application, stateful. Seed it with `add_domain` / `add_order`,
    change it behind the back-office's back with `update_domain`, `remove_domain` and
    `set_order_status`, and read `domains` / `orders` to see what the requests did."""

    def __init__(self, *, application_id: str | None = None, secret: str | None = None,
                 page_size_limit: int | None = None, lightning_mode: bool = False,
                 now: str = "2026-01-15T10:00:00.000000") -> None:
        super().__init__()
        self.application_id = application_id
        self.secret = secret
        self.page_size_limit = page_size_limit
        self.lightning_mode = lightning_mode
        #: The updatedAt/createdAt stamped on what the API changes.
        self.now = now
        self.domains: dict[str, dict[str, Any]] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.transfers: list[dict[str, Any]] = []
        self.contacts: list[dict[str, Any]] = []
        #: Availability answers by name; a name not here is available unless it is ours.
        self.availability: dict[str, dict[str, Any]] = {}
        self.price: float | int = 12.99
        self.renewal_price: float | int = 14.99
        #: The contact an order gets in lightning mode (the application's settings).
        self.default_contact: dict[str, Any] = {"type": "PERSON", "fname": "Sell",
                                                "lname": "Default", "country": "US"}
        self.auth_code = "EPP-fake-transfer-out-code"
        #: The billing link to hand out; None: a new signed-looking one per request.
        self.billing_url: str | None = None
        self.billing_links: list[str] = []
        #: The `period` each auto-renew change asked for, by domain.
        self.auto_renew_periods: dict[str, int] = {}
        self.verifications_sent: dict[str, int] = {}
        #: Seconds a token request takes (lets concurrent callers pile up).
        self.token_delay = 0.0
        self.minted: list[str] = []
        self._valid_tokens: set[str] = set()
        self._forced_pages: dict[str, list[list[Any]]] = {}
        self._failing_pages: dict[tuple[str, int], Callable[[httpx.Request],
                                                            httpx.Response]] = {}
        self._orders_created = 0
        self._transfers_started = 0
        self._state = threading.RLock()

    # --- seeding and changing the state -----------------------------------------------------

    def add_domain(self, name: str, *, status: str = "registered", auto_renew: bool = True,
                   whois_privacy: bool = False, locked: bool = False,
                   dns_records: Iterable[Mapping[str, Any]] = (),
                   created_at: str = CREATED_AT, updated_at: str | None = None
                   ) -> dict[str, Any]:
        """A domain of the application, in the list's shape; returns its record."""
        assert status in STATUSES, status
        record = {
            "domainName": name, "dnsRecords": [dict(r) for r in dns_records],
            "autoRenewed": auto_renew, "whoisPrivacy": whois_privacy, "locked": locked,
            "status": status, "createdAt": created_at, "updatedAt": updated_at or created_at,
        }
        with self._state:
            self.domains[name] = record
        return record

    def update_domain(self, name: str, **changes: Any) -> dict[str, Any]:
        """Change a domain upstream (add_domain's keywords). Only what is given changes:
        updatedAt too only when given, so a test decides which fields move."""
        keys = {"status": "status", "auto_renew": "autoRenewed",
                "whois_privacy": "whoisPrivacy", "locked": "locked",
                "dns_records": "dnsRecords", "created_at": "createdAt",
                "updated_at": "updatedAt"}
        with self._state:
            record = self.domains[name]
            for key, value in changes.items():
                record[keys[key]] = [dict(r) for r in value] if key == "dns_records" else value
        return record

    def remove_domain(self, name: str) -> None:
        """The domain is no longer listed (transferred away, deleted at Entri)."""
        with self._state:
            del self.domains[name]

    def domain(self, name: str) -> dict[str, Any]:
        return self.domains[name]

    def add_order(self, order_id: str | None = None, status: str = "registered",
                  *domains: str, email: str = "customer@email.com", **extra: Any
                  ) -> dict[str, Any]:
        """An order in the list/detail shape (orderStatus, customerEmail, items), one item
        per domain; `extra` adds fields (userId, pricing, ...). Only the order is added:
        seed the domains with add_domain where a test needs them listed too."""
        assert status in STATUSES, status
        with self._state:
            order_id = order_id or self._next_order_id()
            record = {
                "orderId": order_id, "orderStatus": status, "customerEmail": email,
                "items": [self._order_item(order_id, number, domain, status)
                          for number, domain in enumerate(domains)],
                **extra,
            }
            self.orders[order_id] = record
        return record

    def set_order_status(self, order_id: str, status: str) -> dict[str, Any]:
        """The order moves on upstream: its items follow, and so do its domains."""
        assert status in STATUSES, status
        with self._state:
            record = self.orders[order_id]
            record["orderStatus"] = status
            for item in record.get("items") or []:
                item["status"] = status
                item["updatedAt"] = self.now
                if item["domainName"] in self.domains:
                    self.domains[item["domainName"]].update(status=status, updatedAt=self.now)
        return record

    def set_availability(self, name: str, availability: str, *, price: Any = None,
                         renewal_price: Any = None) -> None:
        self.availability[name] = {"domain": name, "availability": availability,
                                   "price": price, "renewalPrice": renewal_price}

    def set_pages(self, collection: str, pages: list[list[Any]]) -> None:
        """Serve `collection` ("domains" or "orders") as exactly these pages of raw items
        (whatever their shape), instead of the state."""
        assert collection in {"domains", "orders"}, collection
        self._forced_pages[collection] = pages

    def fail_page(self, collection: str, page: int,
                  answer: Callable[[httpx.Request], httpx.Response]) -> None:
        """Page `page` of `collection` gets `answer` (e.g. respond(500, {...}))."""
        self._failing_pages[(collection, page)] = answer

    # --- tokens -----------------------------------------------------------------------------

    def mint(self) -> str:
        """A token minted as if another worker had asked for it (no request recorded)."""
        with self._state:
            token = jwt(len(self.minted) + 1)
            self.minted.append(token)
            self._valid_tokens.add(token)
        return token

    def expire_tokens(self) -> None:
        """Every token minted so far has run out: the next API call is answered 401."""
        with self._state:
            self._valid_tokens.clear()

    @property
    def token_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == TOKEN_PATH]

    @property
    def api_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path != TOKEN_PATH]

    @property
    def only(self) -> httpx.Request:
        """The one API call that left (the token request aside)."""
        calls = self.api_requests
        assert len(calls) == 1, f"expected one API call, got {len(calls)}"
        return calls[0]

    # --- routing ----------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        api = self._api
        return [
            route("POST", TOKEN_PATH, self._token),
            route("GET", f"{PREFIX}/domains/availability", api(self._availability)),
            route("GET", f"{PREFIX}/domains/suggestions", api(self._suggestions)),
            route("POST", f"{PREFIX}/domains/contacts/validate", api(self._validate_contact)),
            route("GET", f"{PREFIX}/domains", api(self._list_domains)),
            route("GET", f"{PREFIX}/domains/{_NAME}", api(self._get_domain)),
            route("PUT", f"{PREFIX}/domains/{_NAME}/auto-renew", api(self._auto_renew)),
            route("POST", f"{PREFIX}/domains/{_NAME}/resend-verification",
                  api(self._resend_verification)),
            route("GET", f"{PREFIX}/domains/{_NAME}/dns-records", api(self._get_dns)),
            route("PUT", f"{PREFIX}/domains/{_NAME}/dns-records", api(self._put_dns)),
            route("POST", f"{PREFIX}/domains/{_NAME}/transfers/in", api(self._transfer_in)),
            route("POST", f"{PREFIX}/domains/{_NAME}/transfers/out", api(self._transfer_out)),
            route("GET", f"{PREFIX}/orders", api(self._list_orders)),
            route("POST", f"{PREFIX}/orders", api(self._place_order)),
            route("GET", f"{PREFIX}/orders/{_ORDER}", api(self._get_order)),
            route("GET", f"{PREFIX}/orders/{_ORDER}/status", api(self._order_status)),
            route("GET", f"{PREFIX}/billing/link", api(self._billing_link)),
        ]

    def serve(self, request: httpx.Request) -> httpx.Response:
        """The fake's own answer, scripts aside: a script's last answer, for a route
        that should answer otherwise only at first (a 401, then the real thing)."""
        for method, pattern, handler in self.routes():
            match = pattern.fullmatch(request.url.path)
            if match and method == request.method:
                return handler(request, **match.groupdict())
        return self.not_found(request)

    def _api(self, handler: Callable[..., httpx.Response]) -> Callable[..., httpx.Response]:
        """Every API call needs a live JWT and the applicationId header."""

        def authorised(request: httpx.Request, **params: str) -> httpx.Response:
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            with self._state:
                if scheme != "Bearer" or token not in self._valid_tokens:
                    return error(401, "Invalid or expired token")
                application = request.headers.get("applicationId")
                if not application or (self.application_id is not None
                                       and application != self.application_id):
                    return error(401, "Unknown application")
                return handler(request, **params)

        return authorised

    def _token(self, request: httpx.Request) -> httpx.Response:
        body = _json(request)
        if not isinstance(body, Mapping) or not body.get("applicationId") \
                or not body.get("secret"):
            return error(400, "applicationId and secret are required")
        if (self.application_id is not None and body["applicationId"] != self.application_id) \
                or (self.secret is not None and body["secret"] != self.secret):
            return error(401, "Invalid credentials")
        if self.token_delay:
            time.sleep(self.token_delay)
        return json_response(200, {"auth_token": self.mint()})

    # --- domains: search --------------------------------------------------------------------

    def _availability(self, request: httpx.Request) -> httpx.Response:
        name = request.url.params.get("domain")
        if not name:
            return error(400, "domain is required")
        if name in self.availability:
            return json_response(200, dict(self.availability[name]))
        taken = name in self.domains
        return json_response(200, {"domain": name,
                                   "availability": "UNAVAILABLE" if taken else "AVAILABLE",
                                   "price": self.price, "renewalPrice": self.renewal_price})

    def _suggestions(self, request: httpx.Request) -> httpx.Response:
        base = request.url.params.get("domain")
        if not base:
            return error(400, "domain is required")
        tlds = request.url.params.get("tlds") or "online,shop"  # the document's default
        label = base.split(".")[0]
        names = [f"{label}.{tld}" for tld in tlds.split(",") if tld]
        return json_response(200, {"suggestions": [
            {"domain": name, "price": self.price, "renewalPrice": self.renewal_price}
            for name in names if name not in self.domains]})

    # --- domains: management ----------------------------------------------------------------

    def _list_domains(self, request: httpx.Request) -> httpx.Response:
        return self._page(request, "domains", list(self.domains.values()),
                          lambda record: record["domainName"],
                          lambda record: record.get("status"))

    def _get_domain(self, request: httpx.Request, name: str) -> httpx.Response:
        record = self.domains.get(name)
        if record is None:
            return error(404, "Domain not found")
        return json_response(200, copy.deepcopy(record))

    def _auto_renew(self, request: httpx.Request, name: str) -> httpx.Response:
        record = self.domains.get(name)
        if record is None:
            return error(404, "Domain not found")
        body = _json(request)
        if not isinstance(body, Mapping) or not isinstance(body.get("autoRenew"), bool):
            return error(400, "autoRenew must be true or false")
        period = body.get("period")
        if period is not None and (isinstance(period, bool) or not isinstance(period, int)
                                   or period < 1):
            return error(400, "period must be a positive number")
        record.update(autoRenewed=body["autoRenew"], updatedAt=self.now)
        if period is not None:
            self.auto_renew_periods[name] = period
        return json_response(200, {"message": "Domain auto-renewal updated successfully"})

    def _resend_verification(self, request: httpx.Request, name: str) -> httpx.Response:
        if self.domains.get(name) is None:
            return error(404, "Domain not found")
        self.verifications_sent[name] = self.verifications_sent.get(name, 0) + 1
        return json_response(200, {"message": "Verification email has been resent"})

    def _get_dns(self, request: httpx.Request, name: str) -> httpx.Response:
        record = self.domains.get(name)
        if record is None:
            return error(404, "Domain not found")
        return json_response(200, copy.deepcopy(record["dnsRecords"]))

    def _put_dns(self, request: httpx.Request, name: str) -> httpx.Response:
        record = self.domains.get(name)
        if record is None:
            return error(404, "Domain not found")
        body = _json(request)
        records = body.get("dns_records") if isinstance(body, Mapping) else None
        if not isinstance(records, list) or not all(
                isinstance(r, Mapping) and {"host", "type", "value"} <= set(r) for r in records):
            return error(400, "dns_records must be a list of records with host, type and "
                              "value")
        # The whole zone is replaced by what was sent.
        record.update(dnsRecords=copy.deepcopy(records), updatedAt=self.now)
        return json_response(200, {"message": "DNS records updated successfully"})

    def _transfer_in(self, request: httpx.Request, name: str) -> httpx.Response:
        body = _json(request)
        if not isinstance(body, Mapping) or body.get("domain") != name:
            return error(400, "domain must name the domain of the path")
        if not body.get("authorizationCode"):
            return error(400, "authorizationCode is required")
        if not isinstance(body.get("contactDetails"), Mapping):
            return error(400, "contactDetails is required")
        if name in self.domains:
            return error(409, "Domain is already in this application")
        self._transfers_started += 1
        transfer = {"domain": name, "transferId": f"trf-{self._transfers_started:04d}",
                    "transferStatus": "transfer_started", "transferType": "transfer_in"}
        self.transfers.append({**transfer, "contactDetails": dict(body["contactDetails"])})
        self.add_domain(name, status="transfer_started", created_at=self.now)
        return json_response(200, transfer)

    def _transfer_out(self, request: httpx.Request, name: str) -> httpx.Response:
        body = _json(request)
        if not isinstance(body, Mapping) or body.get("domain") != name:
            return error(400, "domain must name the domain of the path")
        record = self.domains.get(name)
        if record is None:
            return error(404, "Domain not found")
        record.update(status="transfer_started", updatedAt=self.now)
        # Silent: the document's answer has no transferId for a transfer out.
        transfer = {"domain": name, "authCode": self.auth_code,
                    "transferStatus": "transfer_started", "transferType": "transfer_out"}
        self.transfers.append({key: value for key, value in transfer.items()
                               if key != "authCode"})
        return json_response(200, transfer)

    # --- orders -----------------------------------------------------------------------------

    def _validate_contact(self, request: httpx.Request) -> httpx.Response:
        body = _json(request)
        if not isinstance(body, Mapping):
            return error(400, "The contact must be an object")
        missing = [name for name in CONTACT_FIELDS if not body.get(name)]
        if missing:
            return error(400, f"Invalid contact: {', '.join(missing)} required")
        contact_id = FIRST_CONTACT_ID + len(self.contacts)
        content = {"created": self.now, "updated": self.now, "id": contact_id,
                   "alias": f"{body['fname']}-{body['lname']}{len(self.contacts) + 1}",
                   "type": "PERSON", **body, "protection": "SHOW_NONE", "domainsafe": False}
        self.contacts.append(content)
        return json_response(200, {"message": "Whois contact validated and successfully "
                                              "created", "content": content})

    def _list_orders(self, request: httpx.Request) -> httpx.Response:
        def first_domain(record: Mapping[str, Any]) -> str:
            items = record.get("items") or [{}]
            return str(items[0].get("domainName") or record.get("domain") or "")

        return self._page(request, "orders", list(self.orders.values()), first_domain,
                          lambda record: record.get("orderStatus"))

    def _place_order(self, request: httpx.Request) -> httpx.Response:
        body = _json(request)
        if not isinstance(body, Mapping) or not body.get("domain") or not body.get("email"):
            return error(400, "domain and email are required")
        contact = body.get("contactDetails")
        if self.lightning_mode:
            contact = self.default_contact  # a contact sent is ignored in lightning mode
        elif not isinstance(contact, Mapping) or not contact:
            return error(400, "contactDetails is required when lightning mode is disabled")
        name = body["domain"]
        offered = self.availability.get(name, {}).get("availability", "AVAILABLE")
        if name in self.domains or offered != "AVAILABLE":
            return error(409, "Domain is not available")
        order_id = self._next_order_id()
        status = "registration_in_progress"
        dns_records = [dict(r) for r in body.get("defaultDnsRecords") or []]
        self.add_domain(name, status=status, dns_records=dns_records, created_at=self.now)
        self.orders[order_id] = {
            "orderId": order_id, "orderStatus": status, "customerEmail": body["email"],
            "items": [self._order_item(order_id, 0, name, status)],
        }
        # Silent: the document shows the placed order without a status code; 201, as for a
        # resource created.
        return json_response(201, {
            "orderId": order_id, "userId": body.get("userId"), "domain": name,
            "status": status, "contactDetails": dict(contact), "createdAt": self.now,
            "dnsRecords": dns_records,
            "pricing": {"purchasePrice": self.price, "renewalPrice": self.renewal_price,
                        "currency": "USD", "billingPeriod": 1},
        })

    def _get_order(self, request: httpx.Request, order_id: str) -> httpx.Response:
        if order_id not in self.orders:
            return error(404, "Order not found")
        return json_response(200, copy.deepcopy(self.orders[order_id]))

    def _order_status(self, request: httpx.Request, order_id: str) -> httpx.Response:
        if order_id not in self.orders:
            return error(404, "Order not found")
        return json_response(200, {"status": self.orders[order_id]["orderStatus"]})

    # --- billing ----------------------------------------------------------------------------

    def _billing_link(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        if not params.get("email") or not params.get("returnUrl"):
            return error(400, "email and returnUrl are required")
        url = self.billing_url or (
            f"https://billing.stripe.com/p/session/cs_test_{len(self.billing_links) + 1:04d}")
        self.billing_links.append(url)
        remember_link(url)  # a signed link: no log line may show it
        return json_response(200, {"url": url})

    # --- shared -----------------------------------------------------------------------------

    def _next_order_id(self) -> str:
        self._orders_created += 1
        return order_uuid(self._orders_created)

    def _order_item(self, order_id: str, number: int, domain: str,
                    status: str) -> dict[str, Any]:
        listed = self.domains.get(domain)
        item = {"orderItemId": f"{order_id[:8]}-item-{number}", "domainName": domain,
                "dnsRecords": [], "autoRenewed": True, "whoisPrivacy": False,
                "locked": False, "status": status, "createdAt": self.now,
                "updatedAt": self.now}
        if listed is not None:
            item.update({key: copy.deepcopy(value) for key, value in listed.items()
                         if key != "status"})
        return item

    def _page(self, request: httpx.Request, collection: str, records: list[dict[str, Any]],
              name_of: Callable[[Mapping[str, Any]], str],
              status_of: Callable[[Mapping[str, Any]], Any]) -> httpx.Response:
        """One page of a list endpoint, filtered as the document's parameters say."""
        params = request.url.params
        try:
            page = int(params.get("page", 0))
            size = int(params.get("size", 10))
            from_date = _date(params.get("from_date"))
            to_date = _date(params.get("to_date"))
        except ValueError:
            return error(400, "page and size are numbers, dates are YYYY-MM-DD")
        if page < 0 or size < 1:
            return error(400, "page counts from 0 and size from 1")
        status = params.get("status")
        if status is not None and status not in STATUSES:
            return error(400, f"Unsupported status {status}")
        if (collection, page) in self._failing_pages:
            return self._failing_pages[(collection, page)](request)
        if collection in self._forced_pages:
            pages = self._forced_pages[collection]
            items = copy.deepcopy(pages[page]) if page < len(pages) else []
            total = sum(len(p) for p in pages)
            return json_response(200, {
                "items": items, "total": total, "page": page, "limit": size,
                "count": len(items), "pages": len(pages),
                "nextPage": page + 1 if page < len(pages) - 1 else None,
                "prevPage": page - 1 if page else None})
        wanted = params.get("domain", "").lower()

        def kept(record: Mapping[str, Any]) -> bool:
            created = _date(str(record.get("createdAt") or "")[:10] or None)
            return ((status is None or status_of(record) == status)
                    and wanted in name_of(record).lower()
                    and (from_date is None or (created is not None and created >= from_date))
                    and (to_date is None or (created is not None and created <= to_date)))

        found = [record for record in records if kept(record)]
        # Silent: the document gives no largest page; an upstream caps what it serves.
        served = min(size, self.page_size_limit or size)
        items = copy.deepcopy(found[page * served:(page + 1) * served])
        pages = math.ceil(len(found) / served)
        return json_response(200, {
            "items": items, "total": len(found), "page": page, "limit": served,
            "count": len(items), "pages": pages,
            "nextPage": page + 1 if (page + 1) * served < len(found) else None,
            "prevPage": page - 1 if page else None})


def _json(request: httpx.Request) -> Any:
    # Plain floats (not body_of's Decimals): what is kept is sent back as JSON.
    try:
        return json.loads(request.content) if request.content else None
    except ValueError:
        return None


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None
