"""Adapter for the Entri Sell Enterprise API (document 000).

One method per endpoint. Every call carries a short-lived JWT minted from the
application's id and secret (`POST /token`); the JWT is shared through Django's cache
by every thread and process, re-minted shortly before its 60 minutes run out, and once
more when the API answers 401. Neither the secret nor a JWT nor a transfer auth code is
ever logged or put into an exception: each is handed to registrar.providers.secrets,
which cuts it out of logged error bodies and of the messages staff see.

Where the document is silent the choices are commented in place (search "silent").
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email

from registrar.providers import secrets
from registrar.providers.base import (
    Capability,
    DomainOffer,
    DomainPlacement,
    DomainQuote,
    DomainQuoteRequest,
    Done,
    KnownOrder,
    Money,
    OnMalformed,
    OrderAction,
    OrderRecord,
    OrderState,
    PlacedOrder,
    Provider,
    PushedEvent,
    RegistrationRecord,
    RegistrationRef,
    RegistrationView,
    TransferOutStarted,
)
from registrar.providers.endpoints import https_link
from registrar.providers.entri import dns, ordering, wire
from registrar.providers.entri.wire import (
    ENTRI_STATUSES,
    ContactValidation,
    Page,
    TransferInfo,
    order_state,
    parse_domain,
    parse_error,
    parse_order,
    registration_state,
    upstream_name,
)
from registrar.providers.errors import (
    AuthcodeUnavailable,
    AuthenticationFailed,
    CallerError,
    ConfigurationError,
    MalformedResponse,
    ProviderError,
)
from registrar.providers.http import (
    DEFAULT_RETRY,
    HttpClient,
    Reply,
    RetryPolicy,
    drop_unset,
    guard_parsing,
    parse_each,
)
from registrar.values.names import normalise_tld, to_ascii

logger = logging.getLogger("registrar.providers")

API_PREFIX = "/enterprise/sell/v1"
TOKEN_PATH = "/token"  # noqa: S105 (a path, not a password)
TOKEN_LIFETIME_SECONDS = 60 * 60
# Mint a new JWT this long before the old one expires, so a call started just before
# the hour never reaches Entri with a token that died on the way.
TOKEN_REFRESH_MARGIN_SECONDS = 5 * 60
TOKEN_REUSE_SECONDS = TOKEN_LIFETIME_SECONDS - TOKEN_REFRESH_MARGIN_SECONDS
# Silent: the document gives no largest page; the registration sync asks for this many.
PAGE_SIZE_MAX = 100
#: The auto-renew period sent (the document's example is 12 and names no unit: months,
#: presumably; a 12-year renewal would be beyond any registry's limit).
AUTO_RENEW_PERIOD = 12


# --- Token cache and redaction ---------------------------------------------------------

_mint_locks: dict[str, threading.Lock] = {}
_mint_locks_guard = threading.Lock()

def _mint_lock(key: str) -> threading.Lock:
    with _mint_locks_guard:
        return _mint_locks.setdefault(key, threading.Lock())


def token_cache_key(base_url: str, application_id: str) -> str:
    """Shared by every provider instance for the same upstream and application; derived
    from neither the secret nor the token."""
    digest = hashlib.sha256(f"{base_url}\n{application_id}".encode()).hexdigest()[:32]
    return f"registrar:entri:jwt:{digest}"


def _normalise_base_url(base_url: str) -> str:
    base = (base_url or "").strip().rstrip("/")
    # The document calls ".../enterprise/sell/{version}" the base URL; accept it pasted.
    base = re.sub(r"/enterprise/sell/v\d+$", "", base)
    if not base:
        raise ConfigurationError("The Entri account has no base URL.", code="missing_base_url")
    return base


def _caller_name(name: str, *, min_labels: int = 2) -> str:
    try:
        return to_ascii(name, min_labels=min_labels)
    except ValidationError as exc:
        raise CallerError(exc.messages[0]) from None


def _caller_date(value: date | str | None, what: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise CallerError(f"{what} must be a date (YYYY-MM-DD).") from None


def _caller_email(email: str) -> str:
    try:
        validate_email(email)
    except ValidationError:
        raise CallerError("Give a valid e-mail address.") from None
    return email


def _caller_order_id(order_id: str) -> str:
    try:
        return str(uuid.UUID(str(order_id)))
    except ValueError:
        raise CallerError("An Entri order id is a UUID.") from None


@guard_parsing
class EntriProvider(Provider):
    kind = "entri"
    display_name = "Entri Sell Enterprise"
    # A transfer in is an order (DOMAIN_ORDERS, action transfer); a transfer out is
    # started on the registration and answers with the auth code (TRANSFER_OUT_START).
    # No AUTH_CODE reveal, PUSH_TRANSFER or TRANSFER_OUT_DECISION. Entri has no lock,
    # privacy, DNSSEC, host, process or contact endpoints.
    capabilities = frozenset({
        Capability.AUTO_RENEW, Capability.VERIFICATION_RESEND, Capability.DNS_RECORDS,
        Capability.REGISTRATION_SYNC, Capability.REGISTRATION_READ, Capability.ORDER_MIRROR,
        Capability.ORDER_FOLLOW, Capability.BILLING_LINK, Capability.WEBHOOKS,
        Capability.DOMAIN_SEARCH, Capability.DOMAIN_ORDERS, Capability.ORDER_STATUS,
        Capability.TRANSFER_OUT_START,
    })
    ordering_actions = frozenset({OrderAction.REGISTER, OrderAction.TRANSFER})
    # A transfer in always carries the WHOIS contact; a registration only when the
    # application is not in lightning mode (an account option: the quote asks then).
    order_owner_required = frozenset({OrderAction.TRANSFER})
    # POST /orders takes no term: an order is one billing period (pricing.billingPeriod).
    order_fixed_term_years = 1
    unshown_order_not_placed = "Entri lists every order it took, paid or not"
    # The applicationId: every call carries it, and the JWT is minted for it.
    requires_account_ref = True

    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        account_ref: str,
        timeout: float = 15.0,
        user_agent: str = "registrar-backoffice",
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] = time.sleep,
        label: str = "",
        options: Mapping[str, Any] | None = None,
        clock: Callable[[], float] = time.time,
        cache: Any = None,
    ) -> None:
        """`token` is the application *secret* (minted into JWTs, never sent as one);
        `account_ref` is the applicationId."""
        if not token or not account_ref:
            raise ConfigurationError(
                "The Entri account needs an application id and a secret.",
                code="missing_credentials")
        options = dict(options or {})
        lightning_mode = options.get("lightning_mode", False)
        if not isinstance(lightning_mode, bool):
            raise ConfigurationError("The Entri option lightning_mode must be true or false.",
                                     code="invalid_options")
        period = options.get("auto_renew_period", AUTO_RENEW_PERIOD)
        if isinstance(period, bool) or not isinstance(period, int) or period < 1:
            raise ConfigurationError("The Entri option auto_renew_period must be a positive "
                                     "number of months.", code="invalid_options")
        self.base_url = _normalise_base_url(base_url)
        self.application_id = account_ref
        self.lightning_mode = lightning_mode
        self.auto_renew_period = period
        self.label = label or "entri"
        self._secret = token
        secrets.remember(token)
        self._clock = clock
        if cache is None:
            from django.core.cache import cache as default_cache

            cache = default_cache
        self._cache = cache
        self._cache_key = token_cache_key(self.base_url, account_ref)
        self._lock = _mint_lock(self._cache_key)
        self._local_entry: dict[str, Any] | None = None  # when the shared cache fails
        self.http = HttpClient(
            base_url=self.base_url,
            headers={"Accept": "application/json", "User-Agent": user_agent},
            timeout=timeout,
            parse_error=self._parse_error,
            transport=transport,
            retry=retry,
            sleep=sleep,
            provider_label=self.label,
        )

    def __repr__(self) -> str:
        return f"EntriProvider(label={self.label!r}, application_id={self.application_id!r})"

    def close(self) -> None:
        self.http.close()

    # --- secrets --------------------------------------------------------------------

    def _parse_error(self, status: int, body: Any, text: str, request_id: str) -> ProviderError:
        error = parse_error(status, body, text, request_id)
        # What the upstream said reaches staff and the audit trail: never an echo of our
        # secret, a JWT or the auth code in flight.
        error.details["upstream_message"] = secrets.scrub(error.details.get(
            "upstream_message", ""))
        return error

    # --- the JWT --------------------------------------------------------------------

    def _cache_read(self) -> dict[str, Any] | None:
        try:
            entry = self._cache.get(self._cache_key)
        except Exception as exc:  # a cache outage must not stop the registrar
            logger.warning("%s: token cache unavailable (%s)", self.label, type(exc).__name__)
            entry = self._local_entry
        return entry if isinstance(entry, dict) else None

    def _cache_write(self, entry: dict[str, Any] | None) -> None:
        self._local_entry = entry
        try:
            if entry is None:
                self._cache.delete(self._cache_key)
            else:
                # The cache's own expiry is a backstop; freshness is decided by `clock`.
                self._cache.set(self._cache_key, entry, timeout=TOKEN_REUSE_SECONDS)
        except Exception as exc:
            logger.warning("%s: token cache unavailable (%s)", self.label, type(exc).__name__)

    def _fresh_token(self) -> str | None:
        entry = self._cache_read()
        if entry is None:
            return None
        jwt, minted_at = entry.get("token"), entry.get("minted_at")
        if not isinstance(jwt, str) or not jwt or not isinstance(minted_at, int | float):
            return None
        if self._clock() - minted_at >= TOKEN_REUSE_SECONDS:
            return None
        secrets.remember(jwt)
        return jwt

    def _mint(self) -> str:
        reply = self.http.request("POST", TOKEN_PATH, json_body={
            "applicationId": self.application_id, "secret": self._secret})
        body = reply.body if isinstance(reply.body, Mapping) else {}
        jwt = body.get("auth_token")
        if not isinstance(jwt, str) or not jwt.strip() or any(c.isspace() for c in jwt):
            raise MalformedResponse(code="malformed_token", status=reply.status)
        secrets.remember(jwt)
        self._cache_write({"token": jwt, "minted_at": self._clock()})
        logger.info("%s: minted an Entri token for application %s", self.label,
                    self.application_id)
        return jwt

    def _token(self) -> str:
        jwt = self._fresh_token()
        if jwt:
            return jwt
        with self._lock:  # threads wait for one mint instead of each minting
            return self._fresh_token() or self._mint()

    def _renew_token(self, refused: str) -> str:
        """After a 401 with `refused`: reuse a token another worker minted meanwhile,
        else drop the refused one and mint."""
        with self._lock:
            jwt = self._fresh_token()
            if jwt and jwt != refused:
                return jwt
            self._cache_write(None)
            return self._mint()

    # --- plumbing ---------------------------------------------------------------------

    def _call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
              json_body: Any = None, reads_only: bool = False) -> Reply:
        """An API call with the JWT. A 401 means the call was not processed, so after
        minting a new token it is safe to send it once more, even a POST."""
        url = f"{API_PREFIX}{path}"
        jwt = self._token()
        try:
            return self.http.request(method, url, params=drop_unset(params), json_body=json_body,
                                     headers=self._headers(jwt), reads_only=reads_only)
        except AuthenticationFailed as error:
            if error.status != 401:
                raise
        logger.info("%s: Entri refused the token (401); minting a new one and retrying once",
                    self.label)
        jwt = self._renew_token(jwt)
        return self.http.request(method, url, params=drop_unset(params), json_body=json_body,
                                 headers=self._headers(jwt), reads_only=reads_only)

    def _headers(self, jwt: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {jwt}", "applicationId": self.application_id}

    @staticmethod
    def _domain_path(name: str, suffix: str = "") -> str:
        return f"/domains/{quote(_caller_name(name), safe='')}{suffix}"

    @staticmethod
    def _body(reply: Reply, *, allow_empty: bool = False) -> Mapping[str, Any]:
        if reply.body is None and allow_empty:
            return {}
        if not isinstance(reply.body, Mapping):
            raise TypeError("the answer is not a JSON object")
        return reply.body

    def _list_params(self, page: int, size: int, status: str | None, domain: str | None,
                     from_date: date | str | None, to_date: date | str | None
                     ) -> dict[str, Any]:
        if isinstance(page, bool) or not isinstance(page, int) or page < 0:
            raise CallerError("page counts from 0.")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise CallerError("size must be a positive number.")
        if status is not None and status not in ENTRI_STATUSES:
            raise CallerError(f"Unknown status “{status}”.")
        return {"page": page, "size": size, "status": status,
                "domain": domain.strip() if domain else None,
                "from_date": _caller_date(from_date, "from_date"),
                "to_date": _caller_date(to_date, "to_date")}

    def _page(self, path: str, params: dict[str, Any],
              parse: Callable[[Mapping[str, Any]], Any],
              on_malformed: OnMalformed | None = None) -> Page:
        body = self._body(self._call("GET", path, params=params))
        items = body["items"]
        if not isinstance(items, list):
            raise TypeError("items is not a list")
        next_page = body.get("nextPage")
        return Page(items=list(parse_each(items, parse, on_malformed)),
                    page=int(body.get("page", params["page"])),
                    next_page=None if next_page is None else int(next_page),
                    total=None if body.get("total") is None else int(body["total"]))

    def _iterate(self, path: str, params: dict[str, Any],
                 parse: Callable[[Mapping[str, Any]], Any],
                 on_malformed: OnMalformed | None = None) -> Iterator[Any]:
        page: int | None = params["page"]
        while page is not None:
            result = self._page(path, {**params, "page": page}, parse, on_malformed)
            yield from result.items
            if result.next_page is not None and result.next_page <= page:
                raise MalformedResponse("The registrar's paging went backwards.",
                                        code="malformed_paging")
            page = result.next_page

    def ping(self) -> None:
        self.list_domains(size=1)

    # --- domains: search ---------------------------------------------------------------

    def check_availability(self, domain: str) -> dict[str, Any]:
        """{"domain", "available", "availability" (Entri's word), "create_price",
        "renewal_price"}: the keys DomainApiProvider uses where the meaning is shared."""
        body = self._body(self._call("GET", "/domains/availability",
                                     params={"domain": _caller_name(domain)}))
        availability = str(body["availability"])
        return {
            "domain": upstream_name(body["domain"]),
            # Silent: only "AVAILABLE" is shown; anything else is read as not available.
            "available": availability.upper() == "AVAILABLE",
            "availability": availability,
            "create_price": wire.money(body.get("price")),
            "renewal_price": wire.money(body.get("renewalPrice")),
        }

    def suggestions(self, domain: str, tlds: Sequence[str] | None = ("online", "shop")
                    ) -> list[dict[str, Any]]:
        """[{"domain", "price", "renewal_price"}]. `tlds` defaults to the document's own
        default (online, shop); None or empty sends none and leaves the choice to Entri."""
        query: dict[str, str] = {"domain": _caller_name(domain, min_labels=1)}
        if isinstance(tlds, str):
            tlds = tlds.split(",")
        if tlds:
            try:
                query["tlds"] = ",".join(normalise_tld(tld) for tld in tlds)
            except ValidationError as exc:
                raise CallerError(exc.messages[0]) from None
        # Built by hand so the commas stay literal, as in the document (tlds=com,store).
        path = f"/domains/suggestions?{urlencode(query, safe=',')}"
        body = self._body(self._call("GET", path))
        return [{"domain": upstream_name(s["domain"]), "price": wire.money(s.get("price")),
                 "renewal_price": wire.money(s.get("renewalPrice"))}
                for s in body["suggestions"]]

    def domain_offer(self, domain: str, *, years: int) -> DomainOffer:
        """Check Domain Availability: the price of the first year and the yearly renewal
        (Entri bills a registration a year at a time)."""
        answer = self.check_availability(domain)
        return _entri_offer(answer["domain"], answer["available"], answer["create_price"],
                            answer["renewal_price"], years,
                            reason="" if answer["available"] else answer["availability"])

    def domain_suggestions(self, base: str, *, tlds: Sequence[str],
                           years: int) -> list[DomainOffer]:
        """Retrieve Domain Suggestions for `tlds`. Entri lists only names it offers, so
        each is shown as available (silent: the answer has no availability field)."""
        return [_entri_offer(s["domain"], True, s["price"], s["renewal_price"], years)
                for s in self.suggestions(base, tlds=list(tlds) or None)]

    # --- domains: management -----------------------------------------------------------

    def list_domains(self, page: int = 0, size: int = 10, status: str | None = None,
                     domain: str | None = None, from_date: date | str | None = None,
                     to_date: date | str | None = None) -> Page:
        """One page of domains, each as a RegistrationRecord (keyed by name)."""
        params = self._list_params(page, size, status, domain, from_date, to_date)
        return self._page("/domains", params, parse_domain)

    def iter_domains(self, *, size: int = 100, status: str | None = None,
                     domain: str | None = None, from_date: date | str | None = None,
                     to_date: date | str | None = None) -> Iterator[RegistrationRecord]:
        """Every domain, page by page (following nextPage), without holding them all."""
        params = self._list_params(0, size, status, domain, from_date, to_date)
        return self._iterate("/domains", params, parse_domain)

    def iter_registrations(self, *, name: str | None = None,
                           page_size: int = 100) -> Iterator[RegistrationRecord]:
        """GET /domains, every page; with `name`, only that domain (the list's `domain`
        filter is a search, so exact hits only)."""
        for record in self.iter_domains(size=min(page_size, PAGE_SIZE_MAX), domain=name):
            if name is None or record.name == name:
                yield record

    def get_domain(self, name: str) -> RegistrationRecord:
        return parse_domain(self._body(self._call("GET", self._domain_path(name))))

    def get_registration(self, ref: RegistrationRef) -> RegistrationView:
        return RegistrationView(registration=self.get_domain(ref.name))

    def set_auto_renew(self, ref: RegistrationRef, auto_renew: bool) -> Done:
        """`period` is the account option `auto_renew_period` (months, default 12)."""
        period = self.auto_renew_period
        body = self._body(self._call("PUT", self._domain_path(ref.name, "/auto-renew"),
                                     json_body={"autoRenew": bool(auto_renew),
                                                "period": period}), allow_empty=True)
        return Done(changes={"auto_renew": bool(auto_renew)}, body=dict(body))

    def resend_holder_verification(self, ref: RegistrationRef) -> str:
        """Entri's message, like DomainApiProvider's status string."""
        body = self._body(self._call("POST", self._domain_path(ref.name,
                                                               "/resend-verification")),
                          allow_empty=True)
        return str(body.get("message", ""))

    def get_dns_records(self, ref: RegistrationRef) -> list[dict[str, Any]]:
        records = self._call("GET", self._domain_path(ref.name, "/dns-records")).body
        if not isinstance(records, list) or not all(isinstance(r, Mapping) for r in records):
            raise TypeError("dns-records is not a list of records")
        return [dict(record) for record in records]

    def replace_dns_records(self, ref: RegistrationRef,
                            records: Iterable[Mapping[str, Any]]) -> Done:
        """PUT every record of the zone (validated first: ValidationError before any
        request). Done.changes carries the zone as sent; the body Entri's message."""
        path = self._domain_path(ref.name, "/dns-records")
        cleaned = dns.clean_dns_records(records)
        body = self._body(self._call("PUT", path, json_body={"dns_records": cleaned}),
                          allow_empty=True)
        return Done(changes={"dns_records": cleaned},
                    body={"status": str(body.get("message", ""))})

    @classmethod
    def clean_dns_records(cls, records: Any) -> list[dict[str, Any]]:
        return dns.clean_dns_records(records)

    def transfer_in(self, name: str, *, authorization_code: str,
                    contact: Mapping[str, Any]) -> TransferInfo:
        """Start a transfer from another registrar. The authorization (EPP) code is
        required (refused before sending when empty) and never logged."""
        if not isinstance(authorization_code, str) or not authorization_code.strip():
            raise CallerError("The authorization code is required to transfer a domain in.")
        if not isinstance(contact, Mapping) or not contact:
            raise CallerError("Give the contact details for the transferred domain.")
        ascii_name = _caller_name(name)
        with secrets.hiding(authorization_code):
            body = self._body(self._call(
                "POST", self._domain_path(ascii_name, "/transfers/in"),
                json_body={"domain": ascii_name, "authorizationCode": authorization_code,
                           "contactDetails": dict(contact)}))
        return TransferInfo(domain=upstream_name(body["domain"]),
                            transfer_id=str(body.get("transferId") or ""),
                            status=order_state(body["transferStatus"]),
                            transfer_type=str(body.get("transferType") or ""))

    def transfer_out(self, name: str) -> TransferInfo:
        """Start a transfer to another registrar; the answer carries the auth code."""
        ascii_name = _caller_name(name)
        body = self._body(self._call("POST", self._domain_path(ascii_name, "/transfers/out"),
                                     json_body={"domain": ascii_name}))
        auth_code = str(body.get("authCode") or "")
        secrets.remember(auth_code)  # handed to staff once, never to a log
        return TransferInfo(domain=upstream_name(body["domain"]),
                            transfer_id=str(body.get("transferId") or ""),
                            status=order_state(body["transferStatus"]),
                            transfer_type=str(body.get("transferType") or ""),
                            auth_code=auth_code)

    # --- orders -------------------------------------------------------------------------

    def validate_contact(self, contact: Mapping[str, Any]) -> ContactValidation:
        if not isinstance(contact, Mapping) or not contact:
            raise CallerError("Give the contact to validate.")
        body = self._body(self._call("POST", "/domains/contacts/validate",
                                     json_body=dict(contact), reads_only=True))
        content = body["content"]
        if not isinstance(content, Mapping):
            raise TypeError("content is not an object")
        return ContactValidation(message=str(body.get("message", "")),
                                 upstream_id=str(content["id"]), contact=dict(content))

    def list_orders(self, page: int = 0, size: int = 10, status: str | None = None,
                    domain: str | None = None, from_date: date | str | None = None,
                    to_date: date | str | None = None) -> Page:
        """One page of orders, each as an OrderRecord."""
        params = self._list_params(page, size, status, domain, from_date, to_date)
        return self._page("/orders", params, parse_order)

    def iter_orders(self, *, known: Sequence[KnownOrder] = (), size: int = 100,
                    status: str | None = None, domain: str | None = None,
                    from_date: date | str | None = None, to_date: date | str | None = None,
                    on_malformed: OnMalformed | None = None) -> Iterator[OrderRecord]:
        """Every page of orders (Entri lists its orders: `known` is not needed). An
        order of the wrong shape raises MalformedResponse, or, with `on_malformed`, is
        handed to it with the parse error and skipped."""
        params = self._list_params(0, size, status, domain, from_date, to_date)
        return self._iterate("/orders", params, parse_order, on_malformed)

    def place_order(self, *, domain: str, email: str, user_id: str | None = None,
                    contact: Mapping[str, Any] | None = None,
                    default_dns_records: Iterable[Mapping[str, Any]] | None = None
                    ) -> OrderRecord:
        """Order a domain. Without lightning mode (ProviderAccount.options) the WHOIS
        contact is required and refused before sending when missing; with it, Entri uses
        the application's default contact and ignores one sent, so none is sent."""
        body: dict[str, Any] = {"domain": _caller_name(domain), "email": _caller_email(email)}
        if user_id is not None:
            body["userId"] = str(user_id)
        if not self.lightning_mode:
            if not isinstance(contact, Mapping) or not contact:
                raise CallerError("The WHOIS contact is required: lightning mode is off for "
                                  "this Entri application.")
            body["contactDetails"] = dict(contact)
        if default_dns_records is not None:
            body["defaultDnsRecords"] = dns.clean_dns_records(default_dns_records)
        return parse_order(self._body(self._call("POST", "/orders", json_body=body)))

    def get_order(self, order_id: str) -> OrderRecord:
        path = f"/orders/{_caller_order_id(order_id)}"
        return parse_order(self._body(self._call("GET", path)))

    def read_order(self, upstream_id: str) -> OrderRecord:
        return self.get_order(upstream_id)

    def order_status(self, order_id: str) -> OrderState:
        """Entri "checks and updates" the status on this call (it may ask the registry)."""
        path = f"/orders/{_caller_order_id(order_id)}/status"
        return order_state(self._body(self._call("GET", path))["status"])

    def check_order_status(self, upstream_id: str) -> OrderRecord:
        """Check Order Status: Entri checks (and updates) the order, and answers its
        status only: a partial record."""
        return OrderRecord(upstream_id=_caller_order_id(upstream_id),
                           state=self.order_status(upstream_id))

    # --- the quote -> confirm flow (registrar/providers/entri/ordering.py) --------------

    def quote_domain_order(self, request: DomainQuoteRequest) -> DomainQuote:
        return ordering.quote(self, request)

    def place_domain_order(self, placement: DomainPlacement) -> PlacedOrder:
        return ordering.place(self, placement)

    def settle_placement(self, placement: DomainPlacement) -> OrderRecord | None:
        return ordering.settle(self, placement)

    def start_transfer_out(self, ref: RegistrationRef) -> TransferOutStarted:
        """Domain Transfer Out: the answer's auth code goes to staff once, never to a log.
        The domain is then under transfer (transfer_started) until it leaves."""
        info = self.transfer_out(ref.name)
        if not info.auth_code:
            raise AuthcodeUnavailable(
                "Entri started the transfer but sent no auth code: ask Entri for it.",
                code="authcode_missing", status=200)
        return TransferOutStarted(
            auth_code=info.auth_code, status=info.status.value,
            changes={"status": registration_state(info.status.value).value})

    @classmethod
    def parse_webhook(cls, payload: Mapping[str, Any]) -> PushedEvent:
        return wire.parse_webhook(payload)

    # --- billing ------------------------------------------------------------------------

    def billing_link(self, *, email: str, return_url: str) -> str:
        """A short-lived, signed link to the customer's Entri billing portal: redirect to
        it at once; do not store or log it."""
        try:
            URLValidator(schemes=["http", "https"])(return_url)
        except ValidationError:
            raise CallerError("The return URL must be an absolute http(s) URL.") from None
        body = self._body(self._call("GET", "/billing/link", params={
            "email": _caller_email(email), "returnUrl": return_url}))
        url = https_link(body["url"])
        if not url:
            raise ValueError("the billing link is not an https URL")
        return url


def _entri_offer(domain: str, available: bool, first_year: Money | None,
                 renewal: Money | None, years: int, *, reason: str = "") -> DomainOffer:
    """The term's price: the first year, then a renewal a year. For more than one year
    that is worked out here, not quoted by Entri, and marked so."""
    term_price, estimated = None, False
    if available and first_year is not None:
        if years == 1:
            term_price = first_year
        elif renewal is not None and renewal.currency == first_year.currency:
            term_price = Money(first_year.amount_minor + renewal.amount_minor * (years - 1),
                               first_year.currency)
            estimated = True
    return DomainOffer(domain=domain, available=available, term_years=years,
                       term_price=term_price, term_estimated=estimated,
                       renewal_price=renewal, reason=reason)
