"""Adapter for the Domain Registration API (document 001, backed by Realtime Register).

One method per endpoint. Mutations answer with a `Result`: `Done` (200), `Pending`
(202 with a process) or `PaymentRequired` (402 fee gate). Every other failure raises
a `ProviderError`. Where the document is silent, docs/domain-api.md records what
this adapter (and the sandbox) do.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import wraps
from typing import Any, Literal
from urllib.parse import quote

from django.utils.dateparse import parse_datetime

from registrar.providers.base import (
    Capability,
    Done,
    MalformedResponse,
    Money,
    PaymentRequired,
    PaymentRequiredError,
    Pending,
    ProcessInfo,
    Provider,
    ProviderError,
    Result,
    error_for,
)
from registrar.providers.http import (
    NO_RETRY,
    HttpProvider,
    Reply,
)

DnssecMode = Literal["enable", "disable", "add_keys"]
HolderMode = Literal["edit_current", "change"]
TransferDecision = Literal["approve", "reject"]
ContactRole = Literal["admin", "tech", "billing"]

CONTACT_FIELDS = ("first_name", "last_name", "organization", "street_address", "post_code",
                  "city", "state", "country", "email", "phone", "extra_properties")


# --- Parsing upstream shapes into mirror field values --------------------------------


def _dt(value: Any) -> datetime | None:
    """ISO 8601 to an aware datetime (UTC when the upstream gave no offset).
    Raises ValueError on a malformed date, which the endpoint guard reports."""
    if not isinstance(value, str) or not value:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError(f"not a date: {value!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ContactRecord:
    """An upstream contact, as `contacts.Contact` field values."""

    fields: dict[str, Any]
    split_from_upstream_id: int | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def upstream_id(self) -> int:
        return self.fields["upstream_id"]


def parse_contact(data: Mapping[str, Any]) -> ContactRecord:
    fields = {
        "upstream_id": data["id"],
        "handle": data.get("handle") or "",
        **{name: data.get(name) or "" for name in CONTACT_FIELDS if name != "extra_properties"},
        "extra_properties": data.get("extra_properties") or {},
        "validations": data.get("validations") or [],
        "upstream_created_at": _dt(data.get("created_at")),
        "upstream_updated_at": _dt(data.get("updated_at")),
    }
    return ContactRecord(fields=fields, split_from_upstream_id=data.get("split_from_id"),
                         raw=dict(data))


@dataclass(frozen=True)
class RegistrationRecord:
    """An upstream registration: scalar `Registration` field values, plus the related
    objects the mirror resolves separately (TLD, role contacts)."""

    fields: dict[str, Any]
    tld: dict[str, Any]
    contacts: dict[str, ContactRecord | None]
    feature_flags: dict[str, Any]
    fees: dict[str, Money | None]
    raw: dict[str, Any] = field(default_factory=dict)


_SCALARS = ("name", "status", "auto_renew", "locked", "privacy_protect", "dnssec_enabled",
            "server_transfer_prohibited", "local_contact_active", "within_cancellation_window",
            "pending_async", "transfer_out_pending", "push_transfer_pending")


def _money(value: Any) -> Money | None:
    if not isinstance(value, Mapping) or value.get("amount_cents") is None:
        return None
    return Money(int(value["amount_cents"]), str(value.get("currency", "")).upper())


def parse_registration(data: Mapping[str, Any]) -> RegistrationRecord:
    fields: dict[str, Any] = {"upstream_id": data["id"]}
    for name in _SCALARS:
        if name in data:
            fields[name] = data[name]
    fields.update(
        expires_at=_dt(data.get("expires_at")),
        cancellation_deadline_at=_dt(data.get("cancellation_deadline_at")),
        nameservers=list(data.get("nameservers") or []),
        rtr_process_id=str(data.get("rtr_process_id") or ""),
        rtr_process_status=data.get("rtr_process_status") or "",
        subscription_id=data.get("subscription_id") or "",
        upstream_created_at=_dt(data.get("created_at")),
        upstream_updated_at=_dt(data.get("updated_at")),
    )
    contacts = {
        role: parse_contact(data[f"{role}_contact"]) if data.get(f"{role}_contact") else None
        for role in ("owner", "admin", "tech", "billing")
    }
    fees = {name: _money(value) for name, value in (data.get("fees") or {}).items()}
    return RegistrationRecord(fields=fields, tld=dict(data.get("tld") or {}), contacts=contacts,
                              feature_flags=dict(data.get("feature_flags") or {}), fees=fees,
                              raw=dict(data))


def parse_process(data: Mapping[str, Any]) -> ProcessInfo:
    return ProcessInfo(id=str(data["id"]), status=str(data.get("status", "")),
                       action=str(data.get("action", "")), raw=dict(data))


@dataclass(frozen=True)
class RegistrationView:
    registration: RegistrationRecord
    dns_zone: dict[str, Any] | None
    linked_site: dict[str, Any] | None
    transfer_out: dict[str, Any] | None


@dataclass(frozen=True)
class ProcessView:
    process: ProcessInfo
    log: list[dict[str, Any]]


@dataclass(frozen=True)
class ContactUpdate:
    """The outcome of a contact update. On a split, `contact` is the new contact (it
    backs `moved_registration_ids`) and `original` keeps the registrations that
    rejected the change."""

    contact: ContactRecord
    original: ContactRecord | None = None
    moved_registration_ids: list[str] = field(default_factory=list)
    kept_registration_ids: list[str] = field(default_factory=list)
    process: ProcessInfo | None = None
    request_id: str = ""

    @property
    def split(self) -> bool:
        return self.original is not None


@dataclass(frozen=True)
class OrderAccepted:
    """A paid order the upstream accepted (202): poll it with `get_order`."""

    order: dict[str, Any]
    cart: dict[str, Any]
    request_id: str = ""

    @property
    def order_id(self) -> str:
        return str(self.order.get("id", ""))


@dataclass(frozen=True)
class DnssecKeyData:
    flags: int
    algorithm: int
    public_key: str

    def as_wire(self) -> dict[str, Any]:
        return {"flags": self.flags, "algorithm": self.algorithm, "publicKey": self.public_key}


@dataclass(frozen=True)
class RoleContactSource:
    """One role's new contact: same as the owner, an existing contact, or a new one."""

    source: Literal["same_as_owner", "existing", "new"]
    contact_id: int | None = None
    new_contact: Mapping[str, Any] | None = None


def parse_error(status: int, body: Any, text: str, request_id: str) -> ProviderError:
    """Document 001's error body: {"errors": [...], "code": "..."}; 402 adds a price."""
    body = body if isinstance(body, Mapping) else {}
    errors = body.get("errors") or []
    error = error_for(
        status,
        str(body.get("code") or ""),
        upstream_message="; ".join(str(e) for e in errors) if isinstance(errors, list)
        else str(errors),
        request_id=request_id,
        violations=body.get("violations") if isinstance(body.get("violations"), list) else None,
        details={key: body[key] for key in ("price", "portal_url", "remediation") if key in body},
    )
    return error


_PARSE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError)


class CallerError(ValueError):
    """The caller passed arguments the endpoint cannot take: a bug here, not upstream."""


def _guard_parsing(cls: type[Provider]) -> type[Provider]:
    """Wrap every public endpoint method: an answer of the wrong shape (a missing key, a
    list for an object, an empty body, a bad date) becomes MalformedResponse instead of
    escaping as a Python error. The guard is applied once here rather than by hand on
    each method, so a new endpoint cannot forget it."""

    def guard(method):
        @wraps(method)
        def guarded(self, *args, **kwargs):
            try:
                result = method(self, *args, **kwargs)
                if isinstance(result, Iterator):
                    return _guarded_iter(result)
                return result
            except CallerError:
                raise
            except _PARSE_ERRORS as exc:
                raise MalformedResponse(code="malformed_response",
                                        details={"error": repr(exc)}) from exc
        return guarded

    for name, member in list(vars(cls).items()):
        if callable(member) and not name.startswith("_") and name not in {"close", "supports"}:
            setattr(cls, name, guard(member))
    return cls


def _guarded_iter(iterator: Iterator[Any]) -> Iterator[Any]:
    try:
        yield from iterator
    except _PARSE_ERRORS as exc:
        raise MalformedResponse(code="malformed_response", details={"error": repr(exc)}) from exc


@_guard_parsing
class DomainApiProvider(HttpProvider):
    kind = "domain_api"
    capabilities = frozenset(
        {
            Capability.LOCK, Capability.PRIVACY, Capability.DNSSEC, Capability.AUTO_RENEW,
            Capability.HOLDER_EDIT, Capability.HOLDER_CHANGE,
            Capability.REGISTRANT_CHANGE_ORDER, Capability.ROLE_CONTACTS,
            Capability.NAMESERVERS, Capability.HOSTS, Capability.AUTH_CODE,
            Capability.TRANSFER_OUT_DECISION, Capability.PUSH_TRANSFER,
            Capability.VERIFICATION_RESEND, Capability.FORCE_SYNC, Capability.PROCESSES,
            Capability.CONTACTS, Capability.ORDERS, Capability.AVAILABILITY,
        }
    )

    _parse_error = staticmethod(parse_error)

    def _headers(self, *, token: str, account_ref: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", "X-Auth-Account": account_ref}

    # --- plumbing ---------------------------------------------------------------

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Reply:
        return self.http.request("GET", path, params=_clean(params))

    def _mutate(self, method: str, path: str, body: Any = None, *,
                headers: Mapping[str, str] | None = None) -> Result:
        """A registration mutation: 200 Done, 202 Pending, 402 PaymentRequired."""
        try:
            reply = self.http.request(method, path, json_body=body, headers=headers)
        except PaymentRequiredError as fee:
            price = fee.details.get("price") or {}
            if _money(price) is None:
                raise  # a fee gate without a price cannot be shown to staff: a plain failure
            return PaymentRequired(
                price=_money(price),
                portal_url=str(fee.details.get("portal_url") or ""),
                role=str(price.get("role") or ""),
                remediation=str(fee.details.get("remediation") or ""),
                request_id=fee.request_id,
            )
        body = reply.body if isinstance(reply.body, Mapping) else {}
        record = (parse_registration(body["domain_registration"])
                  if isinstance(body.get("domain_registration"), Mapping) else None)
        if reply.status == 202 and body.get("pending_process"):
            return Pending(process=parse_process(body["pending_process"]), body=dict(body),
                           request_id=reply.request_id, record=record)
        return Done(changes=record.fields if record else {}, body=dict(body),
                    request_id=reply.request_id, record=record)

    @staticmethod
    def _registration(guid: str) -> str:
        return f"/api/domain_registrations/{quote(guid, safe='')}"

    def ping(self) -> None:
        self.list_registrations(page=1, per_page=1)

    # --- contacts ---------------------------------------------------------------

    def list_contacts(self, q: str | None = None) -> list[ContactRecord]:
        body = self._get("/api/domain_contacts", {"q": q}).body
        return [parse_contact(c) for c in body.get("domain_contacts", [])]

    def get_contact(self, contact_id: int) -> ContactRecord:
        body = self._get(f"/api/domain_contacts/{int(contact_id)}").body
        return parse_contact(body.get("domain_contact", body))

    def create_contact(self, *, contact: Mapping[str, Any], tld_id: int | None = None,
                       tld_name: str | None = None) -> ContactRecord:
        reply = self.http.request("POST", "/api/domain_contacts", json_body=_clean(
            {"tld_id": tld_id, "tld_name": tld_name, "domain_contact": dict(contact)}))
        return parse_contact(reply.body.get("domain_contact", reply.body))

    def update_contact(self, contact_id: int, *, contact: Mapping[str, Any],
                       tld_id: int | None = None, tld_name: str | None = None) -> ContactUpdate:
        reply = self.http.request("PATCH", f"/api/domain_contacts/{int(contact_id)}",
                                  json_body=_clean({"tld_id": tld_id, "tld_name": tld_name,
                                                    "domain_contact": dict(contact)}))
        body = reply.body or {}
        split = body.get("split") or {}
        return ContactUpdate(
            contact=parse_contact(body["domain_contact"]),
            original=parse_contact(split["original_contact"]) if split else None,
            moved_registration_ids=list(split.get("moved_registration_ids", [])),
            kept_registration_ids=list(split.get("kept_registration_ids", [])),
            process=parse_process(body["pending_process"])
            if reply.status == 202 and body.get("pending_process") else None,
            request_id=reply.request_id,
        )

    def delete_contact(self, contact_id: int, *, tld_id: int | None = None,
                       tld_name: str | None = None) -> str:
        reply = self.http.request("DELETE", f"/api/domain_contacts/{int(contact_id)}",
                                  params=_clean({"tld_id": tld_id, "tld_name": tld_name}))
        return reply.request_id

    def resend_contact_verification(self, contact_id: int) -> str:
        reply = self.http.request(
            "POST", f"/api/domain_contacts/{int(contact_id)}/resend_verification")
        return str((reply.body or {}).get("status", ""))

    # --- registrations: reads ---------------------------------------------------

    def list_registrations(self, q: str | None = None, *, page: int | None = None,
                           per_page: int | None = None) -> tuple[list[RegistrationRecord],
                                                                 int | None]:
        """One page: the records and the next page number (None on the last page)."""
        body = self._get("/api/domain_registrations",
                         {"q": q, "page": page, "per_page": per_page}).body
        records = [parse_registration(r) for r in body.get("domain_registrations", [])]
        meta = body.get("meta") or {}
        return records, meta.get("next_page")

    def iter_registrations(self, q: str | None = None, *,
                           per_page: int = 100) -> Iterator[RegistrationRecord]:
        """Every registration, page by page, without holding them all in memory."""
        page: int | None = 1
        while page is not None:
            records, next_page = self.list_registrations(q, page=page, per_page=per_page)
            yield from records
            if next_page is not None and int(next_page) <= page:
                raise MalformedResponse("The registrar's paging went backwards.",
                                        code="malformed_paging")
            page = next_page

    def get_registration(self, guid: str) -> RegistrationView:
        body = self._get(self._registration(guid)).body
        return RegistrationView(
            registration=parse_registration(body["domain_registration"]),
            dns_zone=body.get("dns_zone"),
            linked_site=body.get("linked_site"),
            transfer_out=body.get("transfer_out"),
        )

    def check_availability(self, domain: str) -> dict[str, Any]:
        reply = self.http.request("POST", "/api/domain_registrations/check",
                                  json_body={"domain": domain})
        body = dict(reply.body)
        body["create_price"] = _money(body.get("create_price"))
        body["transfer_price"] = _money(body.get("transfer_price"))
        return body

    def suggestions(self, domain: str) -> list[dict[str, Any]]:
        reply = self.http.request("POST", "/api/domain_registrations/suggestions",
                                  json_body={"domain": domain})
        return [{**s, "price": _money(s.get("price"))} for s in reply.body.get("suggestions", [])]

    # --- registrations: mutations -----------------------------------------------

    def set_auto_renew(self, guid: str, auto_renew: bool) -> Result:
        """Done.body carries `scenario` (enabled, clean_cancel, refund_cancel, late_cancel)."""
        return self._mutate("PATCH", self._registration(guid),
                            {"domain_registration": {"auto_renew": auto_renew}})

    def set_nameservers(self, guid: str, nameservers: Sequence[str]) -> Result:
        return self._mutate("PATCH", f"{self._registration(guid)}/nameservers",
                            {"nameservers": list(nameservers)})

    def set_lock(self, guid: str, locked: bool) -> Result:
        return self._mutate("PATCH", f"{self._registration(guid)}/lock", {"locked": locked})

    def set_privacy(self, guid: str, privacy_protect: bool) -> Result:
        return self._mutate("PATCH", f"{self._registration(guid)}/privacy",
                            {"privacy_protect": privacy_protect})

    def set_dnssec(self, guid: str, mode: DnssecMode,
                   keys: Sequence[DnssecKeyData] = ()) -> Result:
        body: dict[str, Any] = {"mode": mode}
        if keys:
            body["key_data"] = [key.as_wire() for key in keys]
        return self._mutate("PATCH", f"{self._registration(guid)}/dnssec", body)

    def update_holder(
        self,
        guid: str,
        *,
        action_mode: HolderMode,
        holder: Mapping[str, Any] | None = None,
        confirm_reverification: bool = False,
        source_contact_id: int | None = None,
        new_contact: Mapping[str, Any] | None = None,
    ) -> Result:
        holder_contact: dict[str, Any] = {"action_mode": action_mode, **(holder or {})}
        if confirm_reverification:
            holder_contact["confirm_reverification"] = "1"
        body: dict[str, Any] = {"holder_contact": holder_contact}
        if source_contact_id is not None:
            body["source_domain_contact_id"] = source_contact_id
        if new_contact is not None:
            body["new_contact"] = dict(new_contact)
        return self._mutate("PATCH", f"{self._registration(guid)}/holder", body)

    def order_registrant_change(self, guid: str, *, source_contact_id: int | None = None,
                                new_contact: Mapping[str, Any] | None = None) -> OrderAccepted:
        if (source_contact_id is None) == (new_contact is None):
            raise CallerError("Give exactly one of source_contact_id and new_contact.")
        body = ({"source_domain_contact_id": source_contact_id} if source_contact_id is not None
                else {"new_contact": dict(new_contact or {})})
        reply = self.http.request("POST", f"{self._registration(guid)}/registrant_change",
                                  json_body=body)
        return _order(reply)

    def set_role_contacts(self, guid: str, roles: Mapping[ContactRole, RoleContactSource]
                          ) -> Result:
        body: dict[str, Any] = {}
        for role, choice in roles.items():
            body[f"{role}_contact"] = {"source": choice.source}
            if choice.source == "existing":
                body[f"{role}_source_domain_contact_id"] = choice.contact_id
            elif choice.source == "new":
                body[f"{role}_new_contact"] = dict(choice.new_contact or {})
        return self._mutate("PATCH", f"{self._registration(guid)}/contacts", body)

    def get_auth_code(self, guid: str) -> str:
        """The EPP code. The caller shows it once and never stores or logs it."""
        # A GET, but a write-scoped one that the registry may count: do not repeat it.
        reply = self.http.request("GET", f"{self._registration(guid)}/epp_code",
                                  retry=NO_RETRY)
        return str(reply.body.get("authcode", ""))

    def force_sync(self, guid: str) -> Done:
        """Done.changes is the refreshed registration; Done.body['changed'] lists fields."""
        result = self._mutate("POST", f"{self._registration(guid)}/force_sync")
        if not isinstance(result, Done):  # the document gives this endpoint no 202 or 402
            raise MalformedResponse(code="unexpected_response")
        return result

    def decide_transfer_out(self, guid: str, decision: TransferDecision) -> Result:
        return self._mutate("POST", f"{self._registration(guid)}/transfer_out",
                            {"decision": decision})

    def push_transfer(self, guid: str, recipient: str) -> Result:
        return self._mutate("POST", f"{self._registration(guid)}/push_transfer",
                            {"recipient": recipient})

    def resend_holder_verification(self, guid: str) -> str:
        reply = self.http.request("POST",
                                  f"{self._registration(guid)}/resend_contact_verification")
        return str((reply.body or {}).get("status", ""))

    # --- hosts ------------------------------------------------------------------

    def _hosts(self, guid: str) -> str:
        return f"{self._registration(guid)}/hosts"

    def list_hosts(self, guid: str) -> list[dict[str, Any]]:
        return list(self._get(self._hosts(guid)).body.get("hosts", []))

    def create_host(self, guid: str, host_name: str, addresses: Sequence[str]) -> dict[str, Any]:
        reply = self.http.request("POST", self._hosts(guid), json_body={
            "host_name": host_name, "addresses": [{"address": a} for a in addresses]})
        return dict(reply.body.get("host", {}))

    def update_host(self, guid: str, host_name: str, addresses: Sequence[str]) -> dict[str, Any]:
        reply = self.http.request("PATCH", f"{self._hosts(guid)}/{quote(host_name, safe='')}",
                                  json_body={"addresses": [{"address": a} for a in addresses]})
        return dict(reply.body.get("host", {}))

    def delete_host(self, guid: str, host_name: str) -> str:
        reply = self.http.request("DELETE", f"{self._hosts(guid)}/{quote(host_name, safe='')}")
        return reply.request_id

    # --- processes ----------------------------------------------------------------

    def _processes(self, guid: str) -> str:
        return f"{self._registration(guid)}/processes"

    def list_processes(self, guid: str) -> list[ProcessInfo]:
        return [parse_process(p) for p in self._get(self._processes(guid)).body.get(
            "processes", [])]

    def get_process(self, guid: str, process_id: str) -> ProcessView:
        body = self._get(f"{self._processes(guid)}/{quote(str(process_id), safe='')}").body
        return ProcessView(process=parse_process(body["process"]), log=list(body.get("log", [])))

    def resend_process(self, guid: str, process_id: str) -> str:
        reply = self.http.request(
            "POST", f"{self._processes(guid)}/{quote(str(process_id), safe='')}/resend")
        return str((reply.body or {}).get("status", ""))

    def cancel_process(self, guid: str, process_id: str) -> str:
        reply = self.http.request(
            "DELETE", f"{self._processes(guid)}/{quote(str(process_id), safe='')}/cancel")
        return str((reply.body or {}).get("status", ""))

    # --- orders -------------------------------------------------------------------

    def place_domain_order(
        self,
        *,
        domain: str,
        action: Literal["register", "transfer", "renew"],
        years: int,
        idempotency_key: str,
        max_total: Money | None = None,
        auth_code: str | None = None,
        source_contact_id: int | None = None,
        new_contact: Mapping[str, Any] | None = None,
    ) -> OrderAccepted:
        """POST /api/orders/domain. The document lists no parameters for it; the ones
        sent here are designed from the registrant-change order and the other
        upstreams' purchase APIs (see docs/domain-api.md). The Idempotency-Key makes a
        retry of the same local order safe: the upstream answers with the first order."""
        body = _clean({
            "domain": domain,
            "action": action,
            "years": years,
            "auth_code": auth_code,
            "source_domain_contact_id": source_contact_id,
            "new_contact": dict(new_contact) if new_contact is not None else None,
            "max_total": {"amount_cents": max_total.amount_minor, "currency": max_total.currency}
            if max_total else None,
        })
        reply = self.http.request("POST", "/api/orders/domain", json_body=body,
                                  headers={"Idempotency-Key": idempotency_key})
        return _order(reply)

    def get_order(self, order_id: str) -> dict[str, Any]:
        return dict(self._get(f"/api/orders/{quote(str(order_id), safe='')}").body.get(
            "order", {}))


def _order(reply: Reply) -> OrderAccepted:
    body = reply.body or {}
    return OrderAccepted(order=dict(body.get("order") or {}), cart=dict(body.get("cart") or {}),
                         request_id=reply.request_id)


def _clean(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Drop unset optional parameters, so only what the caller gave is sent."""
    if values is None:
        return None
    return {key: value for key, value in values.items() if value is not None}
