"""Domainee's purchase API (document 002), faked at the HTTP boundary with state of its
own: a workspace's purchases, its live prices, the hostnames already taken, the answers
kept per Idempotency-Key, and the webhook events each purchase fires.

`POST /v1/domain-purchases` checks the body as the document describes it, refuses a
taken hostname (409 unavailable) and a live price above `maxTotalCents` (409
price_changed) before charging, and otherwise ends as the test chose with `outcome()`:
completed (201), refused by the registrar after the charge (502 registration_failed,
refunded, with or without the purchase row), or the card declined (402
billing_required). The first answer for an Idempotency-Key is replayed for every later
request carrying it, so a retry never buys twice.

`GET /v1/domain-purchases` lists the purchases, newest last, filtered by
customerReference, `limit` per page, chained by nextCursor. Document 002 gives no list
shape; the adapter also reads `data`/`items`/a bare array and `hasMore` with
`startingAfter`, and `list_shape`/`paging` serve those. Errors come as
{"error": {"code", "message"}} (or the other shapes the adapter reads: `error_shape`).
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx

from tests.fakes.http import Answer, FakeUpstream, json_response, route

PURCHASES = "/v1/domain-purchases"
DOMAINS = "/v1/domains"
TOKEN = "dme_live_0123456789abcdef"
WORKSPACE = "ws_8812"
# Document 002's example: 14.18 wholesale for a .com year, plus Domainee's 1.00 fee.
WHOLESALE_CENTS = {"com": 1418, "net": 1618, "org": 1318, "de": 918}
FEE_CENTS = 100
# When the example purchase was made; the fake's clock starts there.
CLOCK = datetime(2026, 5, 17, 15, 42, 9, tzinfo=UTC)
REGISTRANT_REQUIRED = ("firstName", "lastName", "email", "phone", "address1", "city",
                       "stateOrProvince", "postalCode", "country")
PHONE = re.compile(r"\+\d{1,3}\.\d{4,14}")
COUNTRY = re.compile(r"[A-Z]{2}")
# Document 002: the registrant as read back carries only these (the example's 201).
REGISTRANT_ECHOED = ("firstName", "lastName", "email", "country")

Outcome = Literal["completed", "registration_failed", "billing_required"]


@dataclass
class _Next:
    outcome: Outcome
    reason: str
    with_row: bool


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class FakeDomainee(FakeUpstream):
    """One Domainee workspace. `token` is the API key it accepts (None: any)."""

    def __init__(self, *, token: str | None = TOKEN, workspace: str = WORKSPACE) -> None:
        super().__init__()
        self.token = token
        self.workspace = workspace
        self.purchases: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.taken: set[str] = set()
        self.wholesale_cents: dict[str, int] = dict(WHOLESALE_CENTS)
        self.fee_cents = FEE_CENTS
        self.now = CLOCK
        self.error_shape: Literal["nested", "flat", "bare"] = "nested"
        self.list_shape: Literal["purchases", "data", "items", "array"] = "purchases"
        self.paging: Literal["cursor", "has_more"] = "cursor"
        self.default_limit = 100
        self.pages: list[list[Any]] | None = None
        self._outcomes: list[_Next] = []
        self._replies: dict[Any, tuple[int, Any]] = {}
        self._list_failure: tuple[int, Answer] | None = None
        self._before: list[Answer] = []
        self._lost: list[Answer] = []
        #: Hostnames on the edge (POST /v1/domains), with their rows.
        self.connected: dict[str, dict[str, Any]] = {}

    # --- what a test sets up ----------------------------------------------------------

    def outcome(self, outcome: Outcome, *, reason: str = "", with_row: bool = True) -> None:
        """How the next purchase that gets past the checks ends (then: completed).
        `registration_failed`: charged, refused by the registrar with `reason`, refunded;
        `with_row` False answers without the purchase row (the documented 502 names no
        body). `billing_required`: the card was declined, nothing registered."""
        self._outcomes.append(_Next(outcome, reason or "Registrar refused the domain",
                                    with_row))

    def fail_before(self, answer: Answer) -> None:
        """The next purchase request gets `answer` without reaching Domainee (a gateway
        failing in front of it): nothing is bought or kept under its key."""
        self._before.append(answer)

    def lose_answer(self, answer: Answer) -> None:
        """The next purchase is made (and its answer kept under its key), but what comes
        back is `answer` (a timeout, a gateway error on the way back)."""
        self._lost.append(answer)

    def fail_list(self, answer: Answer, *, after_pages: int = 0) -> None:
        """List requests after the first `after_pages` pages get `answer`."""
        self._list_failure = (after_pages, answer)

    def add_purchase(self, hostname: str, *, status: str = "completed",
                     customer_reference: str = "", **overrides: Any) -> dict[str, Any]:
        """A purchase made before the test (e.g. from another client of the workspace)."""
        record = self._record({"hostname": hostname, "years": 1,
                               "customerReference": customer_reference}, status)
        record.update(overrides)
        self.purchases.append(record)
        if record["status"] == "completed":
            self.taken.add(record["hostname"])
        return record

    def price_cents(self, hostname: str, years: int) -> int:
        """The live total Domainee charges for `hostname` over `years`."""
        tld = hostname.rsplit(".", 1)[-1]
        return self.wholesale_cents.get(tld, 1418) * years + self.fee_cents

    # --- routes ---------------------------------------------------------------------------

    def routes(self):
        return [route("POST", PURCHASES, self._buy), route("GET", PURCHASES, self._list),
                route("POST", DOMAINS, self._connect)]

    def not_found(self, request: httpx.Request) -> httpx.Response:
        return self._error(404, "not_found", "No such endpoint.")

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.token is not None and request.headers.get("Authorization") != (
                f"Bearer {self.token}"):
            request.read()
            self.requests.append(request)
            return self._error(401, "unauthorized", "Invalid API key.")
        return super().__call__(request)

    def _error(self, status: int, code: str, message: str) -> httpx.Response:
        if self.error_shape == "nested":
            body: dict[str, Any] = {"error": {"code": code, "message": message}}
        elif self.error_shape == "flat":
            body = {"code": code, "message": message}
        else:
            body = {"error": code, "message": message}
        return json_response(status, body)

    # --- the purchase ---------------------------------------------------------------------

    def _buy(self, request: httpx.Request) -> httpx.Response:
        if self._before:
            return self._before.pop(0)(request)
        key = request.headers.get("Idempotency-Key")
        if key and key in self._replies:
            status, body = self._replies[key]
            reply = json_response(status, copy.deepcopy(body))
        else:
            status, body = self._purchase(request)
            # Document 002: the answer is kept per workspace, method, path and key.
            if key:
                self._replies[key] = (status, copy.deepcopy(body))
            reply = json_response(status, body)
        if self._lost:
            return self._lost.pop(0)(request)
        return reply

    def _purchase(self, request: httpx.Request) -> tuple[int, Any]:
        try:
            body = json.loads(request.content)
        except ValueError:
            return self._refusal(400, "bad_request", "The body is not JSON.")
        problem = self._invalid(body)
        if problem:
            return self._refusal(400, "bad_request", problem)
        hostname = body["hostname"].strip().lower()
        years = body.get("years", 1)
        if hostname in self.taken:
            return self._refusal(409, "unavailable", f"{hostname} is already registered.")
        live = self.price_cents(hostname, years)
        ceiling = body.get("maxTotalCents")
        if ceiling is not None and live > ceiling:
            return self._refusal(409, "price_changed",
                                 f"Live price {live} exceeds maxTotalCents {ceiling}.")
        upcoming = self._outcomes.pop(0) if self._outcomes else _Next("completed", "", True)
        if upcoming.outcome == "billing_required":
            # Doc silent on the row: the charge failed, so one is kept as failed and
            # domain_purchase.failed fires ("charge failed or registrar refused").
            record = self._keep(body, "failed")
            self._fire("domain_purchase.failed", record, "Card declined")
            return self._refusal(402, "billing_required", "The card was declined.")
        if upcoming.outcome == "registration_failed":
            record = self._keep(body, "refunded")
            self._fire("domain_purchase.failed", record, upcoming.reason)
            status, answer = self._refusal(502, "registration_failed", upcoming.reason)
            if upcoming.with_row:
                answer["purchase"] = copy.deepcopy(record)
            return status, answer
        record = self._keep(body, "completed")
        self.taken.add(hostname)
        self._fire("domain_purchase.completed", record)
        return 201, {"purchase": copy.deepcopy(record)}

    # --- connecting a hostname to the edge ------------------------------------------------

    def _connect(self, request: httpx.Request) -> httpx.Response:
        """POST /v1/domains {"hostname"}: document 002 gives only the hostname and that
        the row has an id (a purchase's connectedDomainId). Assumed, as the adapter
        reads it: 201 {"domain": {"id", "hostname", "status"}}; the same hostname again
        answers its existing row; answers are replayed per Idempotency-Key."""
        key = request.headers.get("Idempotency-Key")
        if key and ("connect", key) in self._replies:
            status, body = self._replies[("connect", key)]
            return json_response(status, copy.deepcopy(body))
        try:
            body = json.loads(request.content)
        except ValueError:
            body = None
        hostname = body.get("hostname") if isinstance(body, dict) else None
        if not isinstance(hostname, str) or "." not in hostname:
            status, answer = self._refusal(400, "bad_request", "hostname is required.")
        else:
            hostname = hostname.strip().lower()
            row = self.connected.get(hostname)
            if row is None:
                row = {"id": f"dom_c{len(self.connected) + 1}", "hostname": hostname,
                       "status": "pending", "createdAt": _iso(self.now)}
                self.connected[hostname] = row
            status, answer = 201, {"domain": copy.deepcopy(row)}
        if key:
            self._replies[("connect", key)] = (status, copy.deepcopy(answer))
        return json_response(status, answer)

    def _refusal(self, status: int, code: str, message: str) -> tuple[int, Any]:
        response = self._error(status, code, message)
        return status, json.loads(response.content)

    @staticmethod
    def _invalid(body: Any) -> str:
        """What document 002's body rules refuse, or ""."""
        if not isinstance(body, dict):
            return "The body must be a JSON object."
        if not isinstance(body.get("hostname"), str) or "." not in body["hostname"]:
            return "hostname is required."
        years = body.get("years", 1)
        if isinstance(years, bool) or not isinstance(years, int) or not 1 <= years <= 10:
            return "years must be an integer from 1 to 10."
        registrant = body.get("registrant")
        if not isinstance(registrant, dict):
            return "registrant is required."
        missing = [name for name in REGISTRANT_REQUIRED if not registrant.get(name)]
        if missing:
            return f"registrant is missing {', '.join(missing)}."
        if not PHONE.fullmatch(str(registrant["phone"])):
            return "registrant.phone must be E.164 with a dot, e.g. +1.5551234567."
        if not COUNTRY.fullmatch(str(registrant["country"])):
            return "registrant.country must be ISO 3166-1 alpha-2."
        ceiling = body.get("maxTotalCents")
        if ceiling is not None and (isinstance(ceiling, bool) or not isinstance(ceiling, int)):
            return "maxTotalCents must be an integer."
        connect = body.get("autoConnect")
        if connect is not None and not str((connect or {}).get("originUrl", "")).startswith(
                "https://"):
            return "autoConnect.originUrl must be https://."
        return ""

    def _record(self, body: dict[str, Any], status: str) -> dict[str, Any]:
        hostname = body["hostname"].strip().lower()
        years = body.get("years", 1)
        tld = hostname.rsplit(".", 1)[-1]
        wholesale = self.wholesale_cents.get(tld, 1418) * years
        number = len(self.purchases) + 1
        created = self.now + timedelta(minutes=number - 1)
        updated = created + timedelta(seconds=2)
        registrant = body.get("registrant") or {}
        record: dict[str, Any] = {
            "id": f"f8a0c1b9-1234-4bcd-9ef0-{number:012d}",
            "workspaceId": self.workspace,
            "hostname": hostname,
            "years": years,
            "wholesaleCents": wholesale,
            "feeCents": self.fee_cents,
            "totalCents": wholesale + self.fee_cents,
            "currency": "USD",
            "registrar": "namecheap",
            "registrarDomainId": str(182738 + number),
            "status": status,
            "registrant": {name: registrant[name] for name in REGISTRANT_ECHOED
                           if name in registrant},
            "whoisPrivacyEnabled": body.get("enableWhoisPrivacy", True),
            "autoRenew": body.get("autoRenew", False),
            "expiresAt": _iso(updated.replace(year=updated.year + years)),
            "customerReference": body.get("customerReference") or "",
            "createdAt": _iso(created),
            "updatedAt": _iso(updated),
        }
        if body.get("autoConnect") is not None and status == "completed":
            record["connectedDomainId"] = f"dom_{number}"
        return record

    def _keep(self, body: dict[str, Any], status: str) -> dict[str, Any]:
        record = self._record(body, status)
        self.purchases.append(record)
        return record

    def _fire(self, event_type: str, record: dict[str, Any], reason: str = "") -> None:
        """The delivery Domainee would push (document 002 names the events; the payload
        is the one the adapter reads: {"id", "type", "data": {"purchase", "reason"?}})."""
        data: dict[str, Any] = {"purchase": copy.deepcopy(record)}
        if reason:
            data["reason"] = reason
        self.events.append({"id": f"evt_{len(self.events) + 1}", "type": event_type,
                            "data": data})

    # --- the list -------------------------------------------------------------------------

    def _list(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        served = sum(1 for r in self.requests[:-1]
                     if r.method == "GET" and r.url.path == PURCHASES)
        if self._list_failure is not None and served >= self._list_failure[0]:
            return self._list_failure[1](request)
        if self.pages is not None:
            return self._raw_page(params)
        records = [p for p in self.purchases
                   if "customerReference" not in params
                   or p["customerReference"] == params["customerReference"]]
        if self.list_shape == "array":
            return json_response(200, copy.deepcopy(records))
        try:
            limit = int(params.get("limit", self.default_limit))
        except ValueError:
            return self._error(400, "bad_request", "limit must be an integer.")
        start = 0
        if "cursor" in params:
            start = int(params["cursor"].removeprefix("cur_"))
        elif "startingAfter" in params:
            ids = [p["id"] for p in records]
            after = params["startingAfter"]
            start = ids.index(after) + 1 if after in ids else len(ids)
        page = records[start:start + limit]
        more = start + limit < len(records)
        body: dict[str, Any] = {self.list_shape: copy.deepcopy(page)}
        if self.paging == "cursor":
            body["nextCursor"] = f"cur_{start + limit}" if more else None
        else:
            body["hasMore"] = more
        return json_response(200, body)

    def _raw_page(self, params) -> httpx.Response:
        """`pages` as given (records of any shape), chained by nextCursor "c1", "c2"..."""
        cursor = params.get("cursor")
        index = int(cursor[1:]) if cursor else 0
        more = index + 1 < len(self.pages)
        return json_response(200, {"purchases": copy.deepcopy(self.pages[index]),
                                   "nextCursor": f"c{index + 1}" if more else None})
