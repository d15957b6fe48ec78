"""The sandbox as a plain WSGI application: a small regex router in front of the
handlers in `api` (document 001) and `controls` (`/_sandbox/`).

Every request goes through, in order:

1. `latency` (only /api paths), a sleep that stands in for the network;
2. the bearer token (401 `unauthorized`), on every path;
3. outside /_sandbox/: `X-Auth-Account` (400 `missing_account_header`), then the
   account `feature-off` (503 `feature_disabled`);
4. queued faults (not on /_sandbox/, so a test can always inspect and reset); a
   fault marked `after` lets the request run to the end first and replaces its answer;
5. the route (404 `not_found`, 405 `method_not_allowed`);
6. the "-slow" magic name (mutations), a sleep;
7. the handler, inside one state transaction.

Sleeps happen outside the state lock, so a slow request never holds up others.
Every answer is JSON with an `X-Request-Id: req_<hex>` header, except 204s (no
body) and raw-body faults (sent as given, without a request id).
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from registrar.sandbox import api, controls
from registrar.sandbox import records as r
from registrar.sandbox.state import SandboxState, take_fault
from registrar.sandbox.wire import ApiError, Json, Request, Response, error

logger = logging.getLogger("registrar.sandbox")

DEFAULT_TOKEN = "sandbox-token"  # noqa: S105 (the settings default; not a secret)
# Tokens that authenticate but drive the order branches (docs/domain-api.md).
MAGIC_TOKENS = (api.SYSTEM_KEY_TOKEN, api.NO_ORDERS_TOKEN)
FEATURE_OFF_ACCOUNT = "feature-off"
CONTROL_PREFIX = "/_sandbox/"
BODY_METHODS = frozenset({"POST", "PATCH", "PUT"})
MAX_BODY_BYTES = 1 << 20

Handler = Callable[[Request, Json], Response]
StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class _Fault:
    """A queued fault's answer; `after`: sent in place of the real one, once the
    request has been handled."""

    response: Response
    after: bool


@dataclass(frozen=True)
class Route:
    """`slow`: the route is a mutation of a registration (or of a contact's linked
    registrations), so a "-slow" name delays it. `reads`: the handler changes nothing,
    so it runs under `SandboxState.read()` (a process or order view is not one: each
    view advances its life cycle)."""

    method: str
    pattern: re.Pattern[str]
    handler: Handler
    slow: bool = False
    reads: bool = False


def _route(method: str, pattern: str, handler: Handler, *, slow: bool = False,
           reads: bool = False) -> Route:
    return Route(method, re.compile(f"^{pattern}$"), handler, slow, reads)


_REG = r"/api/domain_registrations/(?P<guid>[^/]+)"
_CONTACT = r"/api/domain_contacts/(?P<id>[0-9]+)"

ROUTES: tuple[Route, ...] = (
    _route("GET", r"/api/domain_contacts", api.list_contacts, reads=True),
    _route("POST", r"/api/domain_contacts", api.create_contact),
    _route("GET", _CONTACT, api.view_contact, reads=True),
    _route("PATCH", _CONTACT, api.update_contact, slow=True),
    _route("DELETE", _CONTACT, api.delete_contact),
    _route("POST", _CONTACT + "/resend_verification", api.resend_contact_verification_email),
    _route("GET", r"/api/domain_registrations", api.list_registrations, reads=True),
    _route("POST", r"/api/domain_registrations/check", api.check),
    _route("POST", r"/api/domain_registrations/suggestions", api.suggestions),
    _route("GET", _REG, api.view_registration, reads=True),
    _route("PATCH", _REG, api.update_registration, slow=True),
    _route("PATCH", _REG + "/nameservers", api.set_nameservers, slow=True),
    _route("PATCH", _REG + "/lock", api.set_lock, slow=True),
    _route("PATCH", _REG + "/privacy", api.set_privacy, slow=True),
    _route("PATCH", _REG + "/dnssec", api.set_dnssec, slow=True),
    _route("PATCH", _REG + "/holder", api.set_holder, slow=True),
    _route("POST", _REG + "/registrant_change", api.registrant_change, slow=True),
    _route("PATCH", _REG + "/contacts", api.set_role_contacts, slow=True),
    _route("GET", _REG + "/epp_code", api.epp_code, slow=True),
    _route("POST", _REG + "/force_sync", api.force_sync, slow=True),
    _route("POST", _REG + "/transfer_out", api.transfer_out, slow=True),
    _route("POST", _REG + "/push_transfer", api.push_transfer, slow=True),
    _route("POST", _REG + "/resend_contact_verification", api.resend_holder_verification,
           slow=True),
    _route("GET", _REG + "/hosts", api.list_hosts, reads=True),
    _route("POST", _REG + "/hosts", api.create_host, slow=True),
    _route("PATCH", _REG + r"/hosts/(?P<host>[^/]+)", api.update_host, slow=True),
    _route("DELETE", _REG + r"/hosts/(?P<host>[^/]+)", api.delete_host, slow=True),
    _route("GET", _REG + "/processes", api.list_processes, reads=True),
    _route("GET", _REG + r"/processes/(?P<pid>[^/]+)", api.view_process),
    _route("POST", _REG + r"/processes/(?P<pid>[^/]+)/resend", api.resend_process),
    _route("DELETE", _REG + r"/processes/(?P<pid>[^/]+)/cancel", api.cancel_process),
    _route("GET", r"/api/orders/(?P<id>[^/]+)", api.view_order),
    _route("POST", r"/api/orders/domain", api.order_domain),
    _route("POST", r"/_sandbox/reset", controls.reset),
    _route("POST", r"/_sandbox/seed", controls.seed),
    _route("GET", r"/_sandbox/state", controls.state),
    _route("POST", r"/_sandbox/faults", controls.add_fault),
    _route("POST", r"/_sandbox/async", controls.add_async_rule),
)


def _default_token() -> str:
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        return getattr(settings, "SANDBOX_TOKEN", DEFAULT_TOKEN) or DEFAULT_TOKEN
    except ImproperlyConfigured:  # used outside a configured Django project
        return DEFAULT_TOKEN


class SandboxApp:
    """A WSGI callable speaking document 001's wire format over `state`.

    `token` is the bearer token to accept (default: settings.SANDBOX_TOKEN);
    `latency` seconds are slept before every /api request; `slow_seconds` is how
    long a "-slow" registration makes a mutation wait. `state` may be swapped
    for another SandboxState at any time (see `registrar.sandbox.reset_sandbox`).
    """

    def __init__(self, state: SandboxState, *, token: str | None = None,
                 latency: float = 0.0, slow_seconds: float = 3.0) -> None:
        self.state = state
        self.token = token or _default_token()
        self.latency = latency
        self.slow_seconds = slow_seconds

    def __repr__(self) -> str:
        return f"SandboxApp({self.state!r})"

    def __call__(self, environ: dict[str, Any], start_response: StartResponse
                 ) -> Iterable[bytes]:
        try:
            response = self.handle(environ)
        except Exception:
            # A bug in the sandbox must still look like an upstream answering, not
            # like wsgiref's HTML traceback.
            logger.exception("Sandbox failed on %s %s", environ.get("REQUEST_METHOD"),
                             environ.get("PATH_INFO"))
            response = error(500, "internal_error", "The sandbox failed; see its log.")
        return self._send(response, start_response)

    # --- the pipeline -------------------------------------------------------------

    def handle(self, environ: dict[str, Any]) -> Response:
        """Answer one request (the pipeline in the module docstring)."""
        req = _parse(environ)
        state = self.state  # once: a reset swapping it mid-request must not split us
        is_control = req.path.startswith(CONTROL_PREFIX)
        if req.path.startswith("/api/") and self.latency > 0:
            time.sleep(self.latency)
        if not self._authenticated(req.token):
            return error(401, "unauthorized", "Missing or unknown bearer token.")
        if not is_control:
            if not req.account:
                return error(400, "missing_account_header", "The X-Auth-Account header is "
                             "required.")
            if req.path.startswith("/api/") and req.account == FEATURE_OFF_ACCOUNT:
                return error(503, "feature_disabled",
                             "Domain registration is switched off for this account.")
            fault = self._take_fault(state, req)
            if fault is not None and not fault.after:
                return fault.response
            if fault is not None:
                self._route(state, environ, req)  # applied; the answer is then lost
                return fault.response
        return self._route(state, environ, req)

    def _route(self, state: SandboxState, environ: dict[str, Any], req: Request) -> Response:
        try:
            req.body = _body(environ, req.method)
        except ApiError as exc:
            return Response(exc.status, exc.body())
        route = self._match(req)
        if isinstance(route, Response):
            return route
        if route.slow and self.slow_seconds > 0 and self._is_slow(state, req):
            time.sleep(self.slow_seconds)
        try:
            with state.read() if route.reads else state.transaction() as data:
                return route.handler(req, data)
        except ApiError as exc:
            return Response(exc.status, exc.body())

    def _authenticated(self, token: str) -> bool:
        if not token:
            return False
        return any(hmac.compare_digest(token.encode(), known.encode())
                   for known in (self.token, *MAGIC_TOKENS))

    @staticmethod
    def _take_fault(state: SandboxState, req: Request) -> _Fault | None:
        """A queued fault for this request, after its delay; None to carry on (none
        matched, or the fault only delays)."""
        with state.read() as data:
            if not data["faults"]:  # the common case: no need for a writing transaction
                return None
        with state.transaction() as data:
            fault = take_fault(data, req.method, req.path)
        if fault is None:
            return None
        if fault["delay"]:
            time.sleep(fault["delay"])
        if fault["body"] is not None:
            return _Fault(Response(fault["status"], fault["body"].encode("utf-8"),
                                   content_type=fault["content_type"], raw=True),
                          after=fault.get("after", False))
        if fault["status"] is None:
            return None
        status = fault["status"]
        code = fault["code"] or ("upstream_error" if status >= 500 else "sandbox_fault")
        return _Fault(error(status, code, fault["message"] or f"Sandbox fault: HTTP {status}."),
                      after=fault.get("after", False))

    def _match(self, req: Request) -> Route | Response:
        allowed = []
        for route in ROUTES:
            found = route.pattern.match(req.path)
            if found is None:
                continue
            if route.method == req.method:
                req.params = found.groupdict()
                return route
            allowed.append(route.method)
        if allowed:
            return Response(405, ApiError(405, "method_not_allowed",
                                          f"{req.method} is not allowed here.").body(),
                            headers={"Allow": ", ".join(sorted(set(allowed)))})
        return error(404, "not_found", f"No endpoint {req.path}.")

    @staticmethod
    def _is_slow(state: SandboxState, req: Request) -> bool:
        """Whether the registration this mutation touches (or, for a contact, any
        registration using it) has "-slow" in its name. A quick look under the lock,
        so the sleep itself happens outside it."""
        with state.transaction() as data:
            if "guid" in req.params:
                registration = data["registrations"].get(req.params["guid"])
                names = [registration["name"]] if registration else []
            else:
                contact = r.contact_by_id(data, req.params.get("id"))
                names = ([reg["name"] for reg in r.registrations_using(data, contact["id"])]
                         if contact else [])
        return any("-slow" in r.magic_of(name) for name in names)

    # --- sending --------------------------------------------------------------------

    @staticmethod
    def _send(response: Response, start_response: StartResponse) -> Iterable[bytes]:
        try:
            phrase = HTTPStatus(response.status).phrase
        except ValueError:
            phrase = "Unknown"
        headers = list(response.headers.items())
        if response.raw:
            payload = response.body if isinstance(response.body, bytes) else b""
            headers.append(("Content-Type", response.content_type))
        else:
            headers.append(("X-Request-Id", f"req_{secrets.token_hex(12)}"))
            if response.status == 204:
                payload = b""
            else:
                payload = json.dumps(response.body).encode("utf-8")
                headers.append(("Content-Type", "application/json"))
        headers.append(("Content-Length", str(len(payload))))
        start_response(f"{response.status} {phrase}", headers)
        return [payload]


def _parse(environ: dict[str, Any]) -> Request:
    # PEP 3333 hands the path over as latin-1 text of the raw bytes.
    raw_path = environ.get("PATH_INFO") or "/"
    path = raw_path.encode("latin-1").decode("utf-8", "replace")
    if len(path) > 1:
        path = path.rstrip("/")
    headers = {key[5:].replace("_", "-").lower(): str(value)
               for key, value in environ.items() if key.startswith("HTTP_")}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    return Request(
        method=str(environ.get("REQUEST_METHOD") or "GET").upper(),
        path=path,
        query=parse_qs(environ.get("QUERY_STRING") or "", keep_blank_values=True),
        headers=headers,
    )


def _body(environ: dict[str, Any], method: str) -> Json:
    """The JSON object in the body of a POST/PATCH/PUT ({} when empty); GET and DELETE
    carry their parameters in the query string."""
    if method not in BODY_METHODS:
        return {}
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    # Without a length there is no body: reading to EOF would block on a live socket.
    if length <= 0:
        return {}
    if length > MAX_BODY_BYTES:
        raise ApiError(413, "payload_too_large", "The body is too large.")
    raw = environ["wsgi.input"].read(length)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", "The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "The body must be a JSON object.")
    return body
