"""Adapter for the Domain Registration API (document 001, backed by Realtime Register).

One method per endpoint, and the provider hooks on top of them. Mutations answer with a
`Result`: `Done` (200), `Pending` (202 with a process) or `PaymentRequired` (402 fee
gate). Every other failure raises a `ProviderError`. Where the document is silent,
docs/domain-api.md records what this adapter (and the sandbox) do.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal
from urllib.parse import quote

from registrar.providers import secrets
from registrar.providers.base import (
    Capability,
    ContactRecord,
    ContactRole,
    ContactUpdate,
    DnssecKeyData,
    DnssecMode,
    DomainOffer,
    DomainPlacement,
    DomainQuote,
    DomainQuoteRequest,
    Done,
    HolderMode,
    Money,
    OrderAction,
    OrderRecord,
    PaymentRequired,
    Pending,
    PlacedOrder,
    ProcessInfo,
    ProcessView,
    RegistrationRecord,
    RegistrationRef,
    RegistrationView,
    Result,
    RoleContactSource,
    TransferDecision,
)
from registrar.providers.domain_api import ordering
from registrar.providers.domain_api.orders import FINAL_STATES, parse_order
from registrar.providers.domain_api.wire import (
    parse_contact,
    parse_error,
    parse_money,
    parse_process,
    parse_registration,
)
from registrar.providers.endpoints import https_link
from registrar.providers.errors import CallerError, MalformedResponse, PaymentRequiredError
from registrar.providers.http import NO_RETRY, HttpProvider, Reply, drop_unset, guard_parsing


@guard_parsing
class DomainApiProvider(HttpProvider):
    kind = "domain_api"
    display_name = "Domain Registration API"
    capabilities = frozenset(
        {
            Capability.LOCK, Capability.PRIVACY, Capability.DNSSEC, Capability.AUTO_RENEW,
            Capability.HOLDER_EDIT, Capability.HOLDER_CHANGE,
            Capability.REGISTRANT_CHANGE_ORDER, Capability.ROLE_CONTACTS,
            Capability.NAMESERVERS, Capability.HOSTS, Capability.AUTH_CODE,
            Capability.TRANSFER_OUT_DECISION, Capability.PUSH_TRANSFER,
            Capability.VERIFICATION_RESEND, Capability.FORCE_SYNC, Capability.PROCESSES,
            Capability.CONTACTS, Capability.CONTACT_LIST, Capability.REGISTRATION_SYNC,
            Capability.REGISTRATION_READ,
            Capability.DOMAIN_ORDERS, Capability.ORDER_FOLLOW, Capability.DOMAIN_SEARCH,
        }
    )
    # Requests carry the account reference as X-Auth-Account (a missing one is a 400).
    requires_account_ref = True
    ordering_actions = frozenset({OrderAction.REGISTER, OrderAction.TRANSFER,
                                  OrderAction.RENEW})
    order_owner_required = frozenset({OrderAction.REGISTER, OrderAction.TRANSFER})
    # The order names the registrant by its contact id at the registrar.
    order_owner_upstream = True
    final_order_states = FINAL_STATES

    _parse_error = staticmethod(parse_error)

    def _headers(self, *, token: str, account_ref: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", "X-Auth-Account": account_ref}

    # --- plumbing ---------------------------------------------------------------

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Reply:
        return self.http.request("GET", path, params=drop_unset(params))

    def _mutate(self, method: str, path: str, body: Any = None, *,
                headers: Mapping[str, str] | None = None) -> Result:
        """A registration mutation: 200 Done, 202 Pending, 402 PaymentRequired."""
        try:
            reply = self.http.request(method, path, json_body=body, headers=headers)
        except PaymentRequiredError as fee:
            price = fee.details.get("price") or {}
            if parse_money(price) is None:
                raise  # a fee gate without a price cannot be shown to staff: a plain failure
            # Staff open or hand on this link: only an https URL with a host is kept
            # (never javascript: or http:), and its token never reaches a log.
            portal_url = https_link(fee.details.get("portal_url"))
            secrets.remember(portal_url)
            return PaymentRequired(
                price=parse_money(price),
                portal_url=portal_url,
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
    def _registration(ref: RegistrationRef) -> str:
        # Document 001 keys registrations by guid only.
        if not ref.upstream_id:
            raise CallerError(f"{ref.name} has no Domain API guid: sync it first.")
        return f"/api/domain_registrations/{quote(ref.upstream_id, safe='')}"

    def ping(self) -> None:
        self.list_registrations(page=1, per_page=1)

    # --- contacts ---------------------------------------------------------------

    def list_contacts(self, q: str | None = None) -> list[ContactRecord]:
        body = self._get("/api/domain_contacts", {"q": q}).body
        return [parse_contact(c) for c in body.get("domain_contacts", [])]

    def list_contact_page(self, q: str | None = None, *, page: int | None = None,
                          per_page: int | None = None) -> tuple[list[ContactRecord],
                                                                int | None]:
        """One page of the contact list and the next page number (None on the last).
        Document 001 states no paging for contacts; the list is read the way the
        registration list pages (docs/domain-api.md), and an answer without `meta` is
        the whole list."""
        body = self._get("/api/domain_contacts",
                         {"q": q, "page": page, "per_page": per_page}).body
        records = [parse_contact(c) for c in body.get("domain_contacts", [])]
        meta = body.get("meta") or {}
        return records, meta.get("next_page")

    def iter_contacts(self, *, q: str | None = None,
                      page_size: int = 100) -> Iterator[ContactRecord]:
        page: int | None = 1
        while page is not None:
            records, next_page = self.list_contact_page(q, page=page, per_page=page_size)
            yield from records
            if next_page is not None and int(next_page) <= page:
                raise MalformedResponse("The registrar's paging went backwards.",
                                        code="malformed_paging")
            page = next_page

    def get_contact(self, contact_id: int) -> ContactRecord:
        body = self._get(f"/api/domain_contacts/{int(contact_id)}").body
        return parse_contact(body.get("domain_contact", body))

    def create_contact(self, *, contact: Mapping[str, Any], tld_id: int | None = None,
                       tld_name: str | None = None) -> ContactRecord:
        reply = self.http.request("POST", "/api/domain_contacts", json_body=drop_unset(
            {"tld_id": tld_id, "tld_name": tld_name, "domain_contact": dict(contact)}))
        return parse_contact(reply.body.get("domain_contact", reply.body))

    def update_contact(self, contact_id: int, *, contact: Mapping[str, Any],
                       tld_id: int | None = None, tld_name: str | None = None) -> ContactUpdate:
        reply = self.http.request("PATCH", f"/api/domain_contacts/{int(contact_id)}",
                                  json_body=drop_unset({"tld_id": tld_id, "tld_name": tld_name,
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
                                  params=drop_unset({"tld_id": tld_id, "tld_name": tld_name}))
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

    def iter_registrations(self, *, name: str | None = None,
                           page_size: int = 100) -> Iterator[RegistrationRecord]:
        """Every registration, page by page, without holding them all in memory; with
        `name`, only that one (the list's q is a substring match: exact hits only)."""
        page: int | None = 1
        while page is not None:
            records, next_page = self.list_registrations(name, page=page, per_page=page_size)
            for record in records:
                if name is None or record.name == name:
                    yield record
            if next_page is not None and int(next_page) <= page:
                raise MalformedResponse("The registrar's paging went backwards.",
                                        code="malformed_paging")
            page = next_page

    def iter_registration_pages(self, *, first: int, step: int,
                                page_size: int = 100) -> Iterator[RegistrationRecord]:
        """The registrations of pages `first`, `first + step`, `first + 2 * step`... (1
        based): one part of the listing, for a sync split across workers. Ends at the
        last page, or at a page past the end (empty)."""
        page = first
        while True:
            records, next_page = self.list_registrations(page=page, per_page=page_size)
            yield from records
            if not records or next_page is None:
                return
            if int(next_page) <= page:
                raise MalformedResponse("The registrar's paging went backwards.",
                                        code="malformed_paging")
            page += step

    def get_registration(self, ref: RegistrationRef) -> RegistrationView:
        body = self._get(self._registration(ref)).body
        return RegistrationView(
            registration=parse_registration(body["domain_registration"]),
            dns_zone=body.get("dns_zone"),
            linked_site=body.get("linked_site"),
            transfer_out=body.get("transfer_out"),
        )

    def suggestions(self, domain: str) -> list[dict[str, Any]]:
        reply = self.http.request("POST", "/api/domain_registrations/suggestions",
                                  json_body={"domain": domain}, reads_only=True)
        return [{**s, "price": parse_money(s.get("price"))}
                for s in reply.body.get("suggestions", [])]

    # --- registrations: mutations -----------------------------------------------

    def set_auto_renew(self, ref: RegistrationRef, auto_renew: bool) -> Result:
        """Done.body carries `scenario` (enabled, clean_cancel, refund_cancel, late_cancel)."""
        return self._mutate("PATCH", self._registration(ref),
                            {"domain_registration": {"auto_renew": auto_renew}})

    def set_nameservers(self, ref: RegistrationRef, nameservers: Sequence[str]) -> Result:
        return self._mutate("PATCH", f"{self._registration(ref)}/nameservers",
                            {"nameservers": list(nameservers)})

    def set_lock(self, ref: RegistrationRef, locked: bool) -> Result:
        return self._mutate("PATCH", f"{self._registration(ref)}/lock", {"locked": locked})

    def set_privacy(self, ref: RegistrationRef, privacy_protect: bool) -> Result:
        return self._mutate("PATCH", f"{self._registration(ref)}/privacy",
                            {"privacy_protect": privacy_protect})

    def set_dnssec(self, ref: RegistrationRef, mode: DnssecMode,
                   keys: Sequence[DnssecKeyData] = ()) -> Result:
        body: dict[str, Any] = {"mode": mode}
        if keys:
            body["key_data"] = [key.as_wire() for key in keys]
        return self._mutate("PATCH", f"{self._registration(ref)}/dnssec", body)

    def update_holder(
        self,
        ref: RegistrationRef,
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
        return self._mutate("PATCH", f"{self._registration(ref)}/holder", body)

    def order_registrant_change(self, ref: RegistrationRef, *, idempotency_key: str,
                                source_contact_id: int | None = None,
                                new_contact: Mapping[str, Any] | None = None) -> PlacedOrder:
        """A paid order: the Idempotency-Key (which the document's order endpoints take)
        makes a retry, or a replay to settle a lost answer, return the first order."""
        if (source_contact_id is None) == (new_contact is None):
            raise CallerError("Give exactly one of source_contact_id and new_contact.")
        if not idempotency_key:
            raise CallerError("A paid registrant change needs the local order's key.")
        body = ({"source_domain_contact_id": source_contact_id} if source_contact_id is not None
                else {"new_contact": dict(new_contact or {})})
        reply = self.http.request("POST", f"{self._registration(ref)}/registrant_change",
                                  json_body=body, headers={"Idempotency-Key": idempotency_key})
        return self._placed(reply)

    def set_role_contacts(self, ref: RegistrationRef,
                          roles: Mapping[ContactRole, RoleContactSource]) -> Result:
        body: dict[str, Any] = {}
        for role, choice in roles.items():
            body[f"{role}_contact"] = {"source": choice.source}
            if choice.source == "existing":
                body[f"{role}_source_domain_contact_id"] = choice.contact_id
            elif choice.source == "new":
                body[f"{role}_new_contact"] = dict(choice.new_contact or {})
        return self._mutate("PATCH", f"{self._registration(ref)}/contacts", body)

    def get_auth_code(self, ref: RegistrationRef) -> str:
        """The EPP code. The caller shows it once and never stores or logs it."""
        # A GET, but a write-scoped one that the registry may count: do not repeat it.
        reply = self.http.request("GET", f"{self._registration(ref)}/epp_code",
                                  retry=NO_RETRY)
        auth_code = str(reply.body.get("authcode", ""))
        secrets.remember(auth_code)  # shown to staff once, never to a log
        return auth_code

    def force_sync(self, ref: RegistrationRef) -> Done:
        """Done.changes is the refreshed registration; Done.body['changed'] lists fields."""
        result = self._mutate("POST", f"{self._registration(ref)}/force_sync")
        if not isinstance(result, Done):  # the document gives this endpoint no 202 or 402
            raise MalformedResponse(code="unexpected_response")
        return result

    def decide_transfer_out(self, ref: RegistrationRef, decision: TransferDecision) -> Result:
        return self._mutate("POST", f"{self._registration(ref)}/transfer_out",
                            {"decision": decision})

    def push_transfer(self, ref: RegistrationRef, recipient: str) -> Result:
        return self._mutate("POST", f"{self._registration(ref)}/push_transfer",
                            {"recipient": recipient})

    def resend_holder_verification(self, ref: RegistrationRef) -> str:
        reply = self.http.request("POST",
                                  f"{self._registration(ref)}/resend_contact_verification")
        return str((reply.body or {}).get("status", ""))

    # --- hosts ------------------------------------------------------------------

    def _hosts(self, ref: RegistrationRef) -> str:
        return f"{self._registration(ref)}/hosts"

    def list_hosts(self, ref: RegistrationRef) -> list[dict[str, Any]]:
        return list(self._get(self._hosts(ref)).body.get("hosts", []))

    def create_host(self, ref: RegistrationRef, host_name: str,
                    addresses: Sequence[str]) -> dict[str, Any]:
        reply = self.http.request("POST", self._hosts(ref), json_body={
            "host_name": host_name, "addresses": [{"address": a} for a in addresses]})
        return dict(reply.body.get("host", {}))

    def update_host(self, ref: RegistrationRef, host_name: str,
                    addresses: Sequence[str]) -> dict[str, Any]:
        reply = self.http.request("PATCH", f"{self._hosts(ref)}/{quote(host_name, safe='')}",
                                  json_body={"addresses": [{"address": a} for a in addresses]})
        return dict(reply.body.get("host", {}))

    def delete_host(self, ref: RegistrationRef, host_name: str) -> str:
        reply = self.http.request("DELETE", f"{self._hosts(ref)}/{quote(host_name, safe='')}")
        return reply.request_id

    # --- processes ----------------------------------------------------------------

    def _processes(self, ref: RegistrationRef) -> str:
        return f"{self._registration(ref)}/processes"

    def list_processes(self, ref: RegistrationRef) -> list[ProcessInfo]:
        return [parse_process(p) for p in self._get(self._processes(ref)).body.get(
            "processes", [])]

    def get_process(self, ref: RegistrationRef, process_id: str) -> ProcessView:
        body = self._get(f"{self._processes(ref)}/{quote(str(process_id), safe='')}").body
        return ProcessView(process=parse_process(body["process"]), log=list(body.get("log", [])))

    def resend_process(self, ref: RegistrationRef, process_id: str) -> str:
        reply = self.http.request(
            "POST", f"{self._processes(ref)}/{quote(str(process_id), safe='')}/resend")
        return str((reply.body or {}).get("status", ""))

    def cancel_process(self, ref: RegistrationRef, process_id: str) -> str:
        reply = self.http.request(
            "DELETE", f"{self._processes(ref)}/{quote(str(process_id), safe='')}/cancel")
        return str((reply.body or {}).get("status", ""))

    # --- orders -------------------------------------------------------------------

    def check_availability(self, domain: str) -> dict[str, Any]:
        """Check Availability, with the prices as Money."""
        reply = self.http.request("POST", "/api/domain_registrations/check",
                                  json_body={"domain": domain}, reads_only=True)
        body = dict(reply.body)
        body["create_price"] = parse_money(body.get("create_price"))
        body["transfer_price"] = parse_money(body.get("transfer_price"))
        return body

    def domain_offer(self, domain: str, *, years: int) -> DomainOffer:
        """Check Availability. Its create price is per year, as the order quote reads it;
        it states no renewal price."""
        answer = self.check_availability(domain)
        price = answer.get("create_price")
        available = bool(answer.get("available"))
        reason = str(answer.get("reason") or "")
        if answer.get("owned_by_account"):
            reason = reason or "already in this account"
        return DomainOffer(
            domain=str(answer.get("domain") or domain), available=available,
            premium=bool(answer.get("premium")), purchase_type="registration",
            term_years=years,
            term_price=Money(price.amount_minor * years, price.currency)
            if available and price is not None else None,
            reason=reason, notes=("No renewal price: Check Availability states none.",))

    def domain_suggestions(self, base: str, *, tlds: Sequence[str],
                           years: int) -> list[DomainOffer]:
        """Domain Suggestions takes no TLD filter: every suggestion is kept."""
        offers = []
        for suggestion in self.suggestions(base):
            price = suggestion.get("price")
            source = str(suggestion.get("source") or "")
            offers.append(DomainOffer(
                domain=str(suggestion["domain"]),
                available=bool(suggestion["available"]) if "available" in suggestion
                else None,
                premium=source == "premium", purchase_type="registration", term_years=years,
                term_price=Money(price.amount_minor * years, price.currency)
                if price is not None else None,
                notes=(f"Suggested as {source}.",) if source else ()))
        return offers

    def create_domain_order(
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
    ) -> PlacedOrder:
        """POST /api/orders/domain. The document lists no parameters for it; the ones
        sent here are designed from the registrant-change order and the other
        upstreams' purchase APIs (see docs/domain-api.md). The Idempotency-Key makes a
        retry of the same local order safe: the upstream answers with the first order."""
        body = drop_unset({
            "domain": domain,
            "action": action,
            "years": years,
            "auth_code": auth_code,
            "source_domain_contact_id": source_contact_id,
            "new_contact": dict(new_contact) if new_contact is not None else None,
            "max_total": {"amount_cents": max_total.amount_minor, "currency": max_total.currency}
            if max_total else None,
        })
        with secrets.hiding(auth_code or ""):
            reply = self.http.request("POST", "/api/orders/domain", json_body=body,
                                      headers={"Idempotency-Key": idempotency_key})
        return self._placed(reply)

    def quote_domain_order(self, request: DomainQuoteRequest) -> DomainQuote:
        return ordering.quote(self, request)

    def place_domain_order(self, placement: DomainPlacement) -> PlacedOrder:
        return ordering.place(self, placement)

    def settle_placement(self, placement: DomainPlacement) -> OrderRecord | None:
        return ordering.settle(self, placement)

    def read_order(self, upstream_id: str) -> OrderRecord:
        body = self._get(f"/api/orders/{quote(str(upstream_id), safe='')}").body
        return parse_order(body.get("order", {}))

    @staticmethod
    def _placed(reply: Reply) -> PlacedOrder:
        body = reply.body if isinstance(reply.body, Mapping) else {}
        record = parse_order(body.get("order"))
        # The cart is paid when the order is accepted.
        return PlacedOrder(record=replace(record, paid=True), request_id=reply.request_id)
