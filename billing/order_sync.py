"""Upstream orders mirrored into `billing.Order`, idempotently.

`mirror_orders(account)` reads what the account's upstream says about its orders and
brings the local rows up to date:

- Entri (document 000): the order list, every page.
- Domainee (document 002): the purchase list, every page.
- Saleshandy (document 003): the domain listing, grouped into orders by orderId.
- The Domain Registration API (document 001, and the sandbox that speaks it) has no
  order list, only `GET /api/orders/:id`: every local order of the account that has
  not ended is read again and applied with `apply_domain_api_order`.

Rows are keyed by (provider account, upstream id). A row is written, and one audit row
kept, only when a field really changed, so a second run changes nothing. Money moved
is recorded in the ledger once per upstream reference (`<upstream id>:charge`,
`<upstream id>:refund`, as the Domainee webhooks do), so a webhook and the sync never
count it twice. Fields only we know (the quote, who placed it, the idempotency key,
the customer account once linked) are never touched by an upstream record.

Every order is written in its own transaction: a record that cannot be read is
counted and skipped; an upstream error stops that account's run, with what was
mirrored before it kept and nothing after it written.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import DataError, IntegrityError, transaction

from backoffice import audit
from backoffice.models import StaffAction
from billing.models import (
    CHARGED_STATUSES,
    Account,
    LedgerEntry,
    Order,
    OrderItem,
    OrderKind,
    OrderStatus,
)
from billing.services import adopt_placed_order
from registrar.models import ProviderAccount, ProviderKind, Registration, Tld
from registrar.providers.base import NotFound, ProviderError
from registrar.providers.domain_api import _PARSE_ERRORS
from registrar.providers.registry import provider_for_account
from registrar.sync import changes_for_audit

logger = logging.getLogger(__name__)

SYNC_ACTOR = "sync"
CREATED_ACTION = "order.sync_created"
CHANGED_ACTION = "order.sync_changed"
PAGE_SIZE = 100
# How many per-record errors a report keeps (the counts are always complete).
ERRORS_KEPT = 200

#: Accounts that speak document 001 (the sandbox does too).
DOMAIN_API_KINDS = frozenset({ProviderKind.DOMAIN_API, ProviderKind.SANDBOX})
#: Account kinds whose orders are mirrored.
MIRRORED_KINDS = frozenset({ProviderKind.ENTRI, ProviderKind.DOMAINEE,
                            ProviderKind.SALESHANDY, *DOMAIN_API_KINDS})

# Order fields only we know: an upstream record never changes them.
LOCAL_ONLY_FIELDS = frozenset({"quote", "quoted_total_minor", "quote_expires_at", "placed_by",
                               "idempotency_key", "account", "provider_account"})
# Set when the order is first mirrored, then ours: `kind` is a guess for some upstreams
# (Entri's from the status), and our own placement time is as good as theirs.
CREATE_ONLY_FIELDS = frozenset({"kind", "placed_at"})
# Filled in when empty, never overwritten (our customer reference is not Entri's userId).
FILL_ONLY_FIELDS = frozenset({"customer_reference", "domain"})
AMOUNT_FIELDS = ("subtotal_minor", "fees_minor", "total_minor")
# Invalid input in a record that only the database notices (a check constraint, a
# value too long): that record fails, the run goes on.
RECORD_ERRORS = (*_PARSE_ERRORS, IntegrityError, DataError)

FieldChanges = dict[str, tuple[Any, Any]]


# --- The report ----------------------------------------------------------------------------


@dataclass
class OrderSyncReport:
    """What one account's run did. `failed` counts records that could not be mirrored
    (each with a line in `errors`); `aborted` says why the run stopped early, if it did
    (`retryable`: the upstream failure may pass). `warnings` are changes applied that a
    person should know about (an amount that went down)."""

    account: str
    kind: str = ""
    seen: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    aborted: str = ""
    retryable: bool = False
    dry_run: bool = False
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.aborted

    def error(self, record: str, message: str) -> None:
        self.failed += 1
        if len(self.errors) < ERRORS_KEPT:
            self.errors.append(f"{record}: {message}")

    def summary(self) -> str:
        text = (f"{self.account}: orders seen {self.seen}, created {self.created}, updated "
                f"{self.updated}, unchanged {self.unchanged}, failed {self.failed} in "
                f"{self.elapsed:.1f}s")
        if self.aborted:
            text = f"{text}. ABORTED: {self.aborted}"
        if self.dry_run:
            text = f"{text}. Dry run: nothing was written."
        return text


class _DryRun(Exception):
    """Raised at the end of a dry run to roll back everything it wrote."""


# --- Small helpers ---------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """Choices members as their plain value, so comparisons and the audit see strings."""
    return value.value if isinstance(value, enum.Enum) else value


def _comparable(value: Any) -> Any:
    # Upstream datetimes carry offsets; the database hands back UTC. Compare instants.
    return value.timestamp() if hasattr(value, "timestamp") else _plain(value)


def _assign(instance: Any, name: str, new: Any, changes: FieldChanges) -> None:
    old = getattr(instance, name)
    new = _plain(new)
    if _comparable(old) != _comparable(new):
        changes[name] = (old, new)
        setattr(instance, name, new)


def _ledger(order: Order, kind: str, amount: int, reference: str, note: str = "") -> bool:
    """Record money that moved, once per upstream reference; True when an entry was
    added now (billing.services._ledger_once is the one writer)."""
    from billing.services import _ledger_once

    return _ledger_once(order, kind, amount, reference, note=note)


def _customer(*, customer_reference: str = "", entri_user_id: str = "") -> Account | None:
    if entri_user_id:
        account = Account.objects.filter(entri_user_id=entri_user_id).first()
        if account is not None:
            return account
    if customer_reference:
        return Account.objects.filter(customer_reference=customer_reference).first()
    return None


def _tld_of(domain: str) -> Tld | None:
    if "." not in domain:
        return None
    return Tld.objects.filter(name=domain.rsplit(".", 1)[-1].lower()).first()


def _label_of(record: Any, *keys: str) -> str:
    """Something to name an unreadable record by in the report."""
    if isinstance(record, Mapping):
        for key in keys:
            if record.get(key):
                return str(record[key])[:80]
    return "(record without an id)"


# --- Domain Registration API orders (document 001) --------------------------------------------

DOMAIN_API_KIND = {
    "register": OrderKind.REGISTRATION,
    "transfer": OrderKind.TRANSFER_IN,
    "renew": OrderKind.RENEWAL,
    "registrant_change": OrderKind.REGISTRANT_CHANGE,
}
DOMAIN_API_STATUSES = frozenset({"pending", "processing", "completed", "failed", "cancelled"})
#: Local statuses after which a Domain API order is not read again.
DOMAIN_API_FINISHED = frozenset({
    OrderStatus.REGISTERED, OrderStatus.TRANSFERRED, OrderStatus.REFUNDED, OrderStatus.FAILED,
    OrderStatus.TRANSFER_FAILED, OrderStatus.CANCELLED, OrderStatus.PAYMENT_FAILED,
    OrderStatus.QUOTED,
})


def _cents(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} is not an amount in cents: {value!r}")
    return value


def _money(value: Any, what: str) -> tuple[int, str]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} is not an object")
    currency = value["currency"]
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise ValueError(f"{what} has no ISO currency: {currency!r}")
    return _cents(value["amount_cents"], f"{what}.amount_cents"), currency.upper()


@dataclass(frozen=True)
class DomainApiOrder:
    """A document 001 order record, read and checked (see `read_domain_api_order`)."""

    upstream_id: str
    status: str
    kind: OrderKind | None
    domain: str
    years: int | None
    total: tuple[int, str] | None
    refund: tuple[int, str] | None
    status_reason: str
    registration_id: str
    items: list[dict[str, Any]]


def read_domain_api_order(upstream: Mapping[str, Any]) -> DomainApiOrder:
    """The order record `GET /api/orders/:id` (or a placement's 202) carries. Raises
    KeyError/TypeError/ValueError when it is not one.

    A `refund` object means the upstream gave the money back; null or absent, it kept it
    (docs/domain-api.md: document 001 does not say).
    """
    if not isinstance(upstream, Mapping):
        raise TypeError("the order is not an object")
    upstream_id = upstream["id"]
    if isinstance(upstream_id, bool) or not isinstance(upstream_id, int | str) or not str(
            upstream_id).strip():
        raise ValueError(f"not an order id: {upstream_id!r}")
    status = upstream["status"]
    if status not in DOMAIN_API_STATUSES:
        raise ValueError(f"unknown order status {status!r}")
    raw_kind = upstream.get("kind")
    if raw_kind is not None and raw_kind not in DOMAIN_API_KIND:
        raise ValueError(f"unknown order kind {raw_kind!r}")
    years = upstream.get("years")
    if years is not None and (isinstance(years, bool) or not isinstance(years, int)
                              or not 1 <= years <= 10):
        raise ValueError(f"years out of range: {years!r}")
    total = _money(upstream["total"], "total") if upstream.get("total") is not None else None
    refund = (_money(upstream["refund"], "refund") if upstream.get("refund") is not None
              else None)
    if refund is not None and total is not None and refund[1] != total[1]:
        raise ValueError("the refund is not in the order's currency")
    domain = upstream.get("domain") or ""
    if not isinstance(domain, str):
        raise TypeError("domain is not a string")
    registration_id = upstream.get("registration_id") or ""
    if not isinstance(registration_id, str):
        raise TypeError("registration_id is not a string")
    lines = upstream.get("line_items") or []
    if not isinstance(lines, list):
        raise TypeError("line_items is not a list")
    items = []
    for line in lines:
        if not isinstance(line, Mapping):
            raise TypeError("a line item is not an object")
        amount = _cents(line.get("amount_cents", 0), "line_items.amount_cents")
        items.append({
            "description": str(line.get("description") or line.get("role") or "Order line")
            [:255],
            "domain": str(line.get("domain") or domain).lower(),
            "quantity": 1,
            "unit_amount_minor": amount,
            "total_minor": amount,
            "details": {key: line[key] for key in ("role", "years", "currency", "product")
                        if line.get(key) is not None},
        })
    return DomainApiOrder(
        upstream_id=str(upstream_id), status=status,
        kind=DOMAIN_API_KIND[raw_kind] if raw_kind is not None else None,
        domain=domain.strip().lower(), years=years, total=total, refund=refund,
        status_reason=str(upstream.get("status_reason") or ""),
        registration_id=registration_id, items=items)


def _domain_api_status(record: DomainApiOrder, kind: str) -> OrderStatus:
    transfer = kind == OrderKind.TRANSFER_IN
    if record.status in {"pending", "processing"}:
        return OrderStatus.TRANSFER_STARTED if transfer else OrderStatus.REGISTRATION_IN_PROGRESS
    if record.status == "completed":
        return OrderStatus.TRANSFERRED if transfer else OrderStatus.REGISTERED
    if record.refund is not None:
        return OrderStatus.REFUNDED
    if record.status == "cancelled":
        return OrderStatus.CANCELLED
    # Failed and the money kept: a delivery failure the finance report flags.
    return OrderStatus.TRANSFER_FAILED if transfer else OrderStatus.FAILED


def domain_api_order_changes(order: Order, upstream: Mapping[str, Any]) -> FieldChanges:
    """Apply a Domain API order record to `order` and save it; the changes, field by
    field (old, new), with `ledger_payment` / `ledger_refund` / `items` when those were
    written. Raises KeyError/TypeError/ValueError for a record that is not an order or
    is another order than this one (nothing is written then)."""
    record = read_domain_api_order(upstream)
    if order.upstream_id not in (None, "", record.upstream_id):
        raise ValueError(f"the record is order {record.upstream_id}, not "
                         f"{order.upstream_id}")
    before = {f.attname: getattr(order, f.attname) for f in Order._meta.concrete_fields}
    try:
        return _apply_domain_api_record(order, record)
    except BaseException:
        # The transaction rolled the row back; the caller's object goes back too.
        for name, value in before.items():
            setattr(order, name, value)
        raise


def _apply_domain_api_record(order: Order, record: DomainApiOrder) -> FieldChanges:
    changes: FieldChanges = {}
    with transaction.atomic():
        _assign(order, "upstream_id", record.upstream_id, changes)
        if record.kind is not None:
            _assign(order, "kind", record.kind, changes)
        _assign(order, "status", _domain_api_status(record, order.kind), changes)
        if record.status_reason:
            _assign(order, "status_reason", record.status_reason, changes)
        if record.domain and not order.domain:
            _assign(order, "domain", record.domain, changes)
        if record.years is not None:
            _assign(order, "years", record.years, changes)
        if record.total is not None:
            amount, currency = record.total
            if amount < order.total_minor:
                logger.warning("Domain API order %s: the total went down from %s to %s %s",
                               record.upstream_id, order.total_minor, amount, currency)
            _assign(order, "currency", currency, changes)
            _assign(order, "total_minor", amount, changes)
        if record.refund is not None:
            refunded = min(record.refund[0], order.total_minor)
            if refunded >= order.refunded_minor:
                _assign(order, "refunded_minor", refunded, changes)
            else:
                logger.warning("Domain API order %s: the refund reads %s, less than the %s "
                               "recorded; kept", record.upstream_id, refunded,
                               order.refunded_minor)
        if order.refunded_minor > order.total_minor:
            raise ValueError("the refund would exceed the order's total")
        if record.registration_id and (
                order.registration is None
                or order.registration.upstream_id != record.registration_id):
            registration = Registration.objects.filter(
                upstream_id=record.registration_id).first()
            if registration is not None:
                changes["registration"] = (
                    order.registration.upstream_id if order.registration else None,
                    registration.upstream_id)
                order.registration = registration
        if order._state.adding:
            order.save()
        elif changes:
            order.save(update_fields=[*changes, "updated_at"])
        if record.items and not order.items.exists():
            OrderItem.objects.bulk_create([OrderItem(order=order, **item)
                                           for item in record.items])
            changes["items"] = ([], [item["description"] for item in record.items])
        # The cart was paid when the order was placed, whatever became of it since.
        if _ledger(order, LedgerEntry.Kind.PAYMENT, order.total_minor,
                   f"{record.upstream_id}:charge"):
            changes["ledger_payment"] = (None, f"{order.total_minor} {order.currency}")
        if record.refund is not None and _ledger(
                order, LedgerEntry.Kind.REFUND, order.refunded_minor,
                f"{record.upstream_id}:refund", note=order.status_reason):
            changes["ledger_refund"] = (None, f"{order.refunded_minor} {order.currency}")
    return changes


def apply_domain_api_order(order: Order, upstream: Mapping) -> bool:
    """Bring `order` in line with the Domain API's record of it (`GET /api/orders/:id`,
    or the `order` of a placement's 202) and save it. Returns whether anything changed
    (a field, its items, or the ledger). Writes no audit row: the caller does.

    pending / processing -> registration in progress (transfer started for a transfer);
    completed -> registered (transferred); failed with a `refund` -> refunded, the
    refund recorded once; failed without one -> failed (transfer failed), the money kept,
    which the finance needs-attention report flags. The cart is paid at placement, so
    the payment (the total, reference `<id>:charge`) is recorded once at any status.
    The total and currency come from `total`; `registration` is linked when the record's
    registration_id is a local registration. A refund never exceeds the total.

    Raises KeyError/TypeError/ValueError for a record that is not an order, or not this
    one; nothing is written then.
    """
    return bool(domain_api_order_changes(order, upstream))


# --- Mirroring: one upstream order as local values ----------------------------------------


@dataclass
class _Mirrored:
    """One upstream order, as values for the local row."""

    upstream_id: str | None
    fields: dict[str, Any]
    # The order's items, or None when the record says nothing about them.
    items: list[dict[str, Any]] | None = None
    # False: the items are made up from the record (no itemisation upstream), so they
    # are only written to an order that has none.
    items_authoritative: bool = True
    customer_reference: str = ""
    entri_user_id: str = ""
    # Local statuses in which the order is finished here and is not changed any more.
    finished: frozenset = frozenset()
    # The local row when it is known without the upstream id (adopted by domain).
    local_pk: int | None = None


@dataclass
class _Unreadable:
    label: str
    error: Exception


def _entri_entries(provider) -> Iterator[_Mirrored | _Unreadable]:
    """Entri's order list, every page; an order of the wrong shape is skipped and
    reported, so one bad record does not hide the others."""
    unreadable: list[_Unreadable] = []

    def skip(record: Any, exc: Exception) -> None:
        unreadable.append(_Unreadable(_label_of(record, "orderId"), exc))

    for fields in provider.iter_orders(size=PAGE_SIZE, on_malformed=skip):
        yield from unreadable
        unreadable.clear()
        user_id = fields.get("customer_reference") or ""
        yield _Mirrored(upstream_id=fields.pop("upstream_id"), items=fields.pop("items"),
                        fields=fields, customer_reference=user_id, entri_user_id=user_id)
    yield from unreadable


def _domainee_entries(provider) -> Iterator[_Mirrored | _Unreadable]:
    from registrar.providers.domainee import purchase_to_order_fields

    unreadable: list[_Unreadable] = []

    def skip(record: Any, exc: Exception) -> None:
        unreadable.append(_Unreadable(_label_of(record, "id", "hostname"), exc))

    for purchase in provider.iter_purchases(page_size=PAGE_SIZE, on_malformed=skip):
        yield from unreadable
        unreadable.clear()
        try:
            fields = purchase_to_order_fields(purchase)
        except _PARSE_ERRORS as exc:
            yield _Unreadable(purchase.id, exc)
            continue
        years = f"{purchase.years} year{'' if purchase.years == 1 else 's'}"
        # Document 002's purchase is one domain: the order's one item, made up from it.
        item = {
            "description": f"Registration of {purchase.hostname} ({years})",
            "domain": purchase.hostname,
            "quantity": 1,
            "unit_amount_minor": purchase.total_cents,
            "total_minor": purchase.total_cents,
            "details": {"wholesale_minor": purchase.wholesale_cents,
                        "fee_minor": purchase.fee_cents, "registrar": purchase.registrar,
                        "registrar_domain_id": purchase.registrar_domain_id},
        }
        yield _Mirrored(upstream_id=fields.pop("upstream_id"), fields=fields, items=[item],
                        items_authoritative=False,
                        customer_reference=purchase.customer_reference)
    yield from unreadable


def _saleshandy_entries(account: ProviderAccount, provider) -> Iterator[_Mirrored | _Unreadable]:
    """Saleshandy has no order list: its domain listing carries each domain's orderId
    and status. The domains are grouped into orders and mapped as the follow-up of an
    email order does (billing.services.email_order_refresh): the order body rebuilt from
    the local items, `order_to_order_fields` for the status and the mailboxes."""
    from billing.services import EMAIL_ORDER_CURRENCY, EMAIL_ORDER_FINISHED, _email_order_body
    from registrar.providers.saleshandy import (
        OrderPlaced,
        OrderProvisioning,
        order_to_order_fields,
    )

    groups: dict[str, list] = {}
    unreadable: dict[str, Exception] = {}
    orphans = []
    skipped: list[_Unreadable] = []

    def skip(entry: Any, exc: Exception) -> None:
        # One unreadable entry costs only its own order.
        order_id = str(entry.get("orderId") or "") if isinstance(entry, Mapping) else ""
        if order_id:
            unreadable[order_id] = exc
        else:
            skipped.append(_Unreadable(
                f"listed domain {_label_of(entry, 'name', 'domain', 'id')}", exc))

    for domain in provider.list_domains(on_malformed=skip):
        if not domain.name:
            skip({"orderId": domain.order_id}, ValueError("a listed domain without a name"))
            continue
        if domain.order_id:
            groups.setdefault(domain.order_id, []).append(domain)
        else:
            orphans.append(domain)
    yield from skipped

    local = list(Order.objects.filter(provider_account=account,
                                      kind=OrderKind.EMAIL_INFRASTRUCTURE)
                 .prefetch_related("items").order_by("pk"))
    by_upstream = {order.upstream_id: order for order in local if order.upstream_id}
    open_orders = [order for order in local if order.status not in EMAIL_ORDER_FINISHED]
    # Doc silent: the listing's shape is not documented. An entry without an orderId
    # belongs to the open order here that has its domain, as the follow-up assumes.
    keyed: dict[tuple[str, Any], list] = {("upstream", key): value
                                          for key, value in groups.items()}
    lost = []
    for domain in orphans:
        owner = next((order for order in open_orders
                      if domain.name in {item.domain for item in order.items.all()}), None)
        if owner is None:
            lost.append(domain.name)
            continue
        key = ("upstream", owner.upstream_id) if owner.upstream_id else ("pk", owner.pk)
        keyed.setdefault(key, []).append(domain)
    if lost:
        yield _Unreadable("listed domains without an orderId",
                          ValueError(f"no order here has {', '.join(sorted(lost))}"))
    for order_id, exc in unreadable.items():
        keyed.pop(("upstream", order_id), None)
        yield _Unreadable(f"order {order_id}", exc)

    for (how, key), domains in keyed.items():
        order = by_upstream.get(key) if how == "upstream" else next(
            order for order in local if order.pk == key)
        if order is None:  # placed here without an id coming back: adopt it by its domains
            names = {domain.name for domain in domains}
            order = next((candidate for candidate in open_orders if not candidate.upstream_id
                          and names <= {item.domain for item in candidate.items.all()}), None)
        try:
            items = list(order.items.all()) if order is not None else []
            body = _email_order_body(items) if items else _listed_order_body(domains)
            expected = tuple(entry["name"] for entry in body["domains"])
            upstream_id = key if how == "upstream" else None
            state = OrderProvisioning(order_id=upstream_id or "", expected=expected,
                                      domains=tuple(domains), polls=1)
            placed = OrderPlaced(order_id=upstream_id or "", checkout_url="",
                                 is_free_order=False, is_replacement=False)
            fields, fresh_items = order_to_order_fields(body, placed, state)
        except _PARSE_ERRORS as exc:
            yield _Unreadable(f"order {key}", exc)
            continue
        fields.pop("upstream_id", None)
        fields["currency"] = EMAIL_ORDER_CURRENCY
        if fields["status"] in {OrderStatus.FAILED, OrderStatus.CANCELLED}:
            # Saleshandy gives no reason; keep which domain ended how (as the follow-up).
            fields["status_reason"] = "Saleshandy domain status: " + ", ".join(
                f"{domain.name} {domain.status}"
                for domain in sorted(domains, key=lambda domain: domain.name))
        yield _Mirrored(upstream_id=upstream_id, fields=fields, items=fresh_items,
                        finished=EMAIL_ORDER_FINISHED,
                        local_pk=order.pk if order is not None else None)


def _listed_order_body(domains: Iterable) -> dict[str, Any]:
    """The order body (as clean_order gives it) of an order placed elsewhere, from what
    the listing shows of its domains and mailboxes. Doc silent: the listing is not
    documented; the mailbox provider and plan are read when an entry carries them."""
    domains = list(domains)
    first = domains[0].raw
    body: dict[str, Any] = {
        "emailServiceProvider": str(first.get("emailServiceProvider") or "unknown"),
        "planType": str(first.get("planType") or "unknown"),
        "domains": [],
    }
    for domain in sorted(domains, key=lambda domain: domain.name):
        entry: dict[str, Any] = {"name": domain.name, "mailboxes": []}
        if domain.raw.get("redirectUrl"):
            entry["redirectUrl"] = str(domain.raw["redirectUrl"])
        for mailbox in domain.mailboxes:
            if not mailbox.get("email"):
                continue
            entry["mailboxes"].append({
                "email": str(mailbox["email"]).lower(),
                "firstname": str(mailbox.get("firstname") or mailbox.get("firstName") or ""),
                "lastname": str(mailbox.get("lastname") or mailbox.get("lastName") or ""),
                "profilePicId": mailbox.get("profilePicId") or 0,
            })
        body["domains"].append(entry)
    return body


# --- Writing one order --------------------------------------------------------------------


def _audit(account: ProviderAccount, order: Order, action: str, parameters: dict[str, Any],
           message: str) -> None:
    audit.record(actor=None, actor_label=SYNC_ACTOR, action=action, target=order,
                 parameters={"provider_account": account.label,
                             "upstream_id": order.upstream_id or "", **parameters},
                 outcome=StaffAction.Outcome.SUCCEEDED, message=message)


def _money_moved(order: Order, upstream_id: str) -> FieldChanges:
    """The payment of a charged order and the refund of a refunded one, once each."""
    changes: FieldChanges = {}
    if order.status in CHARGED_STATUSES and _ledger(
            order, LedgerEntry.Kind.PAYMENT, order.total_minor, f"{upstream_id}:charge"):
        changes["ledger_payment"] = (None, f"{order.total_minor} {order.currency}")
    if order.refunded_minor and _ledger(order, LedgerEntry.Kind.REFUND, order.refunded_minor,
                                        f"{upstream_id}:refund", note=order.status_reason):
        changes["ledger_refund"] = (None, f"{order.refunded_minor} {order.currency}")
    return changes


def _create(account: ProviderAccount, mirrored: _Mirrored) -> Order:
    values = {name: _plain(value) for name, value in mirrored.fields.items()
              if name not in LOCAL_ONLY_FIELDS}
    values.setdefault("kind", OrderKind.REGISTRATION)
    if values.get("refunded_minor", 0) > values.get("total_minor", 0):
        raise ValueError("the refund exceeds the order's total")
    order = Order.objects.create(
        provider_account=account, upstream_id=mirrored.upstream_id,
        account=_customer(customer_reference=mirrored.customer_reference,
                          entri_user_id=mirrored.entri_user_id),
        tld=_tld_of(values.get("domain") or ""), **values)
    if mirrored.items:
        OrderItem.objects.bulk_create([OrderItem(order=order, **item)
                                       for item in mirrored.items])
    if mirrored.upstream_id:
        _money_moved(order, mirrored.upstream_id)
    return order


def _update_fields(order: Order, mirrored: _Mirrored, report: OrderSyncReport) -> FieldChanges:
    changes: FieldChanges = {}
    if mirrored.upstream_id and not order.upstream_id:
        _assign(order, "upstream_id", mirrored.upstream_id, changes)
    for name, new in mirrored.fields.items():
        if name in LOCAL_ONLY_FIELDS or name in CREATE_ONLY_FIELDS:
            continue
        if name in FILL_ONLY_FIELDS and getattr(order, name):
            continue
        old = getattr(order, name)
        if name == "refunded_minor" and new < old:
            report.warnings.append(f"order {order.upstream_id}: upstream shows {new} refunded, "
                                   f"less than the {old} recorded; kept {old}")
            continue
        if name in AMOUNT_FIELDS and new < old:
            # Applied (the upstream says what was charged), but never silently.
            report.warnings.append(f"order {order.upstream_id}: {name} went down from {old} "
                                   f"to {new}")
            logger.warning("%s: order %s %s went down from %s to %s", report.account,
                           order.upstream_id, name, old, new)
        _assign(order, name, new, changes)
    if order.refunded_minor > order.total_minor:
        raise ValueError("the refund would exceed the order's total")
    if order.account_id is None:  # linked once found; never re-linked from upstream
        customer = _customer(customer_reference=mirrored.customer_reference,
                             entri_user_id=mirrored.entri_user_id)
        if customer is not None:
            changes["account"] = (None, customer.customer_reference)
            order.account = customer
    return changes


def _item_key(domain: Any, description: Any) -> tuple[str, str]:
    return (str(domain or ""), str(description or ""))


def _sync_items(order: Order, fresh: list[dict[str, Any]]) -> tuple[Any, Any] | None:
    """Bring the order's items in line with `fresh` (matched by upstream id, else by
    domain and description); only the values the upstream gives are compared, and its
    `details` are merged into ours. An item the upstream no longer has is removed.
    Returns (before, what changed) for the audit, or None when nothing changed."""
    existing = list(order.items.order_by("id"))
    left = list(existing)
    added, updated = [], []
    for values in fresh:
        upstream_id = str(values.get("upstream_id") or "")
        item = next((i for i in left if upstream_id and i.upstream_id == upstream_id), None)
        if item is None:
            key = _item_key(values.get("domain"), values.get("description"))
            item = next((i for i in left if _item_key(i.domain, i.description) == key
                         and (not i.upstream_id or not upstream_id)), None)
        if item is None:
            OrderItem.objects.create(order=order, **values)
            added.append(values["description"])
            continue
        left.remove(item)
        changed = []
        for name, new in values.items():
            if name == "details":
                new = {**item.details, **new}
            if getattr(item, name) != new:
                setattr(item, name, new)
                changed.append(name)
        if changed:
            item.save(update_fields=changed)
            updated.append(item.description)
    for item in left:
        item.delete()
    if not (added or updated or left):
        return None
    return ([item.description for item in existing],
            {"added": added, "updated": updated, "removed": [item.description for item in left]})


def _upsert(account: ProviderAccount, mirrored: _Mirrored, report: OrderSyncReport) -> None:
    with transaction.atomic():
        rows = Order.objects.select_for_update()
        if mirrored.local_pk is not None:
            order = rows.filter(pk=mirrored.local_pk).first()
        else:
            order = rows.filter(provider_account=account,
                                upstream_id=mirrored.upstream_id).first()
            if order is None and mirrored.upstream_id:
                # A purchase placed here whose answer did not carry its id.
                order = adopt_placed_order(account, mirrored.upstream_id,
                                           str(mirrored.fields.get("domain") or ""))
        if order is None:
            order = _create(account, mirrored)
            report.created += 1
            _audit(account, order, CREATED_ACTION, {
                "status": order.status, "total_minor": order.total_minor,
                "currency": order.currency, "items": order.items.count()},
                f"Sync: {account.label} order {order.upstream_id or order.pk} mirrored "
                f"({order.get_status_display()}).")
            return
        if order.status in mirrored.finished:
            report.unchanged += 1
            return
        old_status = order.status
        changes = _update_fields(order, mirrored, report)
        if changes:
            order.save(update_fields=[*changes, "updated_at"])
        if mirrored.items is not None and (mirrored.items_authoritative
                                           or not order.items.exists()):
            items = _sync_items(order, mirrored.items)
            if items is not None:
                changes["items"] = items
        if order.upstream_id:
            changes.update(_money_moved(order, order.upstream_id))
        if not changes:
            report.unchanged += 1
            return
        report.updated += 1
        status = (f"{OrderStatus(old_status).label} → {order.get_status_display()}"
                  if "status" in changes else order.get_status_display())
        _audit(account, order, CHANGED_ACTION, {"changes": changes_for_audit(changes)},
               f"Sync: {account.label} order {order.upstream_id or order.pk} changed "
               f"({', '.join(sorted(changes))}); {status}.")


def _mirror_entries(account: ProviderAccount, entries: Iterable[_Mirrored | _Unreadable],
                    report: OrderSyncReport) -> None:
    for entry in entries:
        report.seen += 1
        if isinstance(entry, _Unreadable):
            report.error(entry.label, f"unreadable, skipped ({entry.error})")
            continue
        try:
            _upsert(account, entry, report)
        except RECORD_ERRORS as exc:
            report.error(f"order {entry.upstream_id or entry.local_pk}",
                         f"not mirrored ({exc})")


# --- Domain API: refreshing the open orders ---------------------------------------------------


def open_domain_api_orders(account: ProviderAccount):
    """The account's orders that were placed upstream and have not ended here."""
    return (Order.objects.filter(provider_account=account, upstream_id__isnull=False)
            .exclude(status__in=DOMAIN_API_FINISHED))


def _refresh_domain_api(account: ProviderAccount, provider, report: OrderSyncReport) -> None:
    for pk, upstream_id in open_domain_api_orders(account).order_by("pk").values_list(
            "pk", "upstream_id"):
        report.seen += 1
        try:
            record = provider.get_order(upstream_id)
        except NotFound as error:  # this order only; the others are still worth reading
            report.error(f"order {upstream_id}", error.message)
            continue
        try:
            changes = _apply_refreshed(account, pk, record, actor_label=SYNC_ACTOR)
        except RECORD_ERRORS as exc:
            report.error(f"order {upstream_id}", f"not mirrored ({exc})")
            continue
        if not changes:
            report.unchanged += 1
            continue
        report.updated += 1
        if "total_minor" in changes and changes["total_minor"][1] < (
                changes["total_minor"][0] or 0):
            report.warnings.append(f"order {upstream_id}: total went down from "
                                   f"{changes['total_minor'][0]} to {changes['total_minor'][1]}")


def _apply_refreshed(account: ProviderAccount, pk: int, record: Mapping[str, Any], *,
                     actor_label: str) -> FieldChanges:
    """Apply a freshly read record to the order `pk`, with one audit row when it changed
    anything. An order that finished meanwhile (another poll) is left alone."""
    with transaction.atomic():
        # of=self: PostgreSQL cannot lock the nullable side of the registration join.
        order = (Order.objects.select_for_update(of=("self",))
                 .select_related("registration").get(pk=pk))
        if order.status in DOMAIN_API_FINISHED:
            return {}
        old_status = order.status
        changes = domain_api_order_changes(order, record)
        if changes:
            audit.record(
                actor=None, actor_label=actor_label, action=CHANGED_ACTION, target=order,
                parameters={"provider_account": account.label,
                            "upstream_id": order.upstream_id or "",
                            "changes": changes_for_audit(changes)},
                outcome=StaffAction.Outcome.SUCCEEDED,
                message=f"{account.label} order {order.upstream_id} changed "
                        f"({', '.join(sorted(changes))}); {OrderStatus(old_status).label} → "
                        f"{order.get_status_display()}.")
    return changes


def refresh_domain_api_order(order: Order) -> Order:
    """Read one Domain API order again (`GET /api/orders/:id`) and apply it, with one
    audit row when it changed (actor "poll:<account>"). Returns the order as now stored.
    An order that has ended here is returned without a request.

    Raises ProviderError (the caller decides whether to retry; NotFound when the upstream
    does not know the order), ValueError for an order that is not a placed Domain API
    order, and KeyError/TypeError/ValueError for an answer that is not this order.
    """
    account = order.provider_account
    if account is None or account.kind not in DOMAIN_API_KINDS or not order.upstream_id:
        raise ValueError(f"Order {order.pk} is not a placed Domain API order.")
    if order.status in DOMAIN_API_FINISHED:
        return order
    record = provider_for_account(account).get_order(order.upstream_id)
    _apply_refreshed(account, order.pk, record, actor_label=f"poll:{account.label}")
    return Order.objects.get(pk=order.pk)


# --- The run ---------------------------------------------------------------------------------


def mirror_orders(account: ProviderAccount, *, dry_run: bool = False) -> OrderSyncReport:
    """Mirror the orders of `account` (see the module docstring). Never raises for an
    upstream failure: the report says the run was aborted, and why."""
    report = OrderSyncReport(account=account.label, kind=account.kind, dry_run=dry_run)
    started = time.perf_counter()
    try:
        if dry_run:
            with transaction.atomic():
                _run(account, report)
                raise _DryRun
        else:
            _run(account, report)  # each order in its own transaction
    except _DryRun:
        pass
    except ProviderError as error:
        report.aborted = _abort_message(error, report)
        report.retryable = error.retryable
        logger.warning("Order sync of %s aborted: %s", account.label, report.aborted)
    report.elapsed = time.perf_counter() - started
    return report


def _run(account: ProviderAccount, report: OrderSyncReport) -> None:
    if account.kind not in MIRRORED_KINDS:
        raise ProviderError(f"{account.get_kind_display()} accounts have no orders to mirror.",
                            code="no_orders")
    provider = provider_for_account(account)
    if account.kind in DOMAIN_API_KINDS:
        _refresh_domain_api(account, provider, report)
    elif account.kind == ProviderKind.ENTRI:
        _mirror_entries(account, _entri_entries(provider), report)
    elif account.kind == ProviderKind.DOMAINEE:
        _mirror_entries(account, _domainee_entries(provider), report)
    else:
        _mirror_entries(account, _saleshandy_entries(account, provider), report)


def _abort_message(error: ProviderError, report: OrderSyncReport) -> str:
    upstream = ", ".join(part for part in (
        f"HTTP {error.status}" if error.status else "", error.code) if part)
    done = (f"the {report.seen} order(s) read before it were mirrored, nothing after it"
            if report.seen else "nothing was written")
    return f"{error.message}{f' ({upstream})' if upstream else ''}; {done}."
