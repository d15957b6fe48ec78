"""Upstream orders applied to `billing.Order`, idempotently: one writer for every source.

An upstream describes an order as an `OrderRecord` (registrar.providers.base). This
module is the one place such a record becomes local rows, whether it came from placing
the order, following it, the order mirror or a webhook:

- `apply_record(order, record)` brings one order in line with it: its fields (only
  those the record states), its items, the money in the ledger (once), and the
  registrations it delivered, created or updated in the same transaction;
- `mirror_orders(account)` reads everything the account's upstream says about its
  orders: its order list where it has one (ORDER_MIRROR), otherwise each open order
  read again (ORDER_FOLLOW);
- `refresh_order(order)` reads one placed order again.

Rows are keyed by (provider account, upstream id). A row is written, and one audit row
kept, only when something really changed, so a second run changes nothing. Fields only
we know (the quote, who placed it, the idempotency key, the customer account once
linked) are never touched by an upstream record.

Every order is written in its own transaction: a record that cannot be read is counted
and skipped; an upstream error stops that account's run, with what was mirrored before
it kept and nothing after it written.
"""

from __future__ import annotations

import enum
import itertools
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from django.db import DataError, IntegrityError, transaction
from django.db.models import Q

from backoffice import audit
from backoffice.models import StaffAction
from billing import ledger
from billing.models import (
    CHARGED_STATUSES,
    Account,
    Order,
    OrderItem,
    OrderKind,
    OrderStatus,
)
from billing.order_states import StaleRecord, may_move
from registrar.models import ProviderAccount, Registration, Tld
from registrar.money import format_minor
from registrar.providers.base import (
    DELIVERED_STATES,
    Capability,
    KnownOrder,
    OrderLine,
    OrderRecord,
    OrderState,
    OrderType,
    Provider,
    RegistrationRef,
)
from registrar.providers.errors import NotFound, ProviderError
from registrar.providers.http import PARSE_ERRORS
from registrar.providers.registry import adapter_class, provider_for_account
from registrar.sync import changes_for_audit, mirror_registration

logger = logging.getLogger(__name__)

SYNC_ACTOR = "sync"
CREATED_ACTION = "order.sync_created"
CHANGED_ACTION = "order.sync_changed"
# How many per-record errors a report keeps (the counts are always complete).
ERRORS_KEPT = 200
# Invalid input in a record that only the database notices (a check constraint, a
# value too long): that record fails, the run goes on.
RECORD_ERRORS = (*PARSE_ERRORS, IntegrityError, DataError)

FieldChanges = dict[str, tuple[Any, Any]]

# --- The one status table ------------------------------------------------------------------

S = OrderStatus
#: An upstream order state as the local status: (for most orders, for a transfer in).
ORDER_STATUS: dict[OrderState, tuple[OrderStatus, OrderStatus]] = {
    OrderState.AWAITING_PAYMENT: (S.PAYMENT_INITIATED, S.PAYMENT_INITIATED),
    OrderState.PAID: (S.PAYMENT_SUCCESSFUL, S.PAYMENT_SUCCESSFUL),
    OrderState.PAYMENT_FAILED: (S.PAYMENT_FAILED, S.PAYMENT_FAILED),
    OrderState.IN_PROGRESS: (S.REGISTRATION_IN_PROGRESS, S.TRANSFER_STARTED),
    OrderState.COMPLETED: (S.REGISTERED, S.TRANSFERRED),
    OrderState.TRANSFERRED: (S.TRANSFERRED, S.TRANSFERRED),
    OrderState.TRANSFER_STARTED: (S.TRANSFER_STARTED, S.TRANSFER_STARTED),
    OrderState.TRANSFER_ACKNOWLEDGED: (S.TRANSFER_ACK, S.TRANSFER_ACK),
    OrderState.TRANSFER_COMPLETED: (S.TRANSFER_COMPLETED, S.TRANSFER_COMPLETED),
    OrderState.TRANSFER_SUCCEEDED: (S.TRANSFER_SUCCESS, S.TRANSFER_SUCCESS),
    OrderState.TRANSFER_FAILED: (S.TRANSFER_FAILED, S.TRANSFER_FAILED),
    OrderState.REFUNDED: (S.REFUNDED, S.REFUNDED),
    OrderState.FAILED: (S.FAILED, S.TRANSFER_FAILED),
    OrderState.CANCELLED: (S.CANCELLED, S.CANCELLED),
}
ORDER_KIND: dict[OrderType, OrderKind] = {
    OrderType.REGISTRATION: OrderKind.REGISTRATION,
    OrderType.TRANSFER_IN: OrderKind.TRANSFER_IN,
    OrderType.RENEWAL: OrderKind.RENEWAL,
    OrderType.REGISTRANT_CHANGE: OrderKind.REGISTRANT_CHANGE,
    OrderType.EMAIL_INFRASTRUCTURE: OrderKind.EMAIL_INFRASTRUCTURE,
}


def status_for(state: OrderState, kind: str) -> OrderStatus:
    statuses = ORDER_STATUS[state]
    return statuses[1] if kind == OrderKind.TRANSFER_IN else statuses[0]


def final_statuses(provider: type[Provider] | Provider) -> frozenset[str]:
    """The local statuses in which an order of this upstream has ended: its record no
    longer changes, so it is not read or applied again. A quote was never placed."""
    ended = {status.value for state in provider.final_order_states
             for status in ORDER_STATUS[state]}
    return frozenset({*ended, OrderStatus.QUOTED.value})


# --- Small helpers -----------------------------------------------------------------------------


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


def _customer(record: OrderRecord) -> Account | None:
    if record.upstream_customer_id:
        account = Account.objects.filter(entri_user_id=record.upstream_customer_id).first()
        if account is not None:
            return account
    if record.customer_reference:
        return Account.objects.filter(customer_reference=record.customer_reference).first()
    return None


def _tld_of(domain: str) -> Tld | None:
    if "." not in domain:
        return None
    return Tld.objects.filter(name=domain.rsplit(".", 1)[-1].lower()).first()


def label_of(record: Any) -> str:
    """Something to name an unreadable record by in a report."""
    if isinstance(record, Mapping):
        for key in ("orderId", "id", "hostname", "name", "domain"):
            if record.get(key):
                return str(record[key])[:80]
    return "(record without an id)"


def _item_values(line: OrderLine) -> dict[str, Any]:
    values: dict[str, Any] = {"description": line.description[:255], "domain": line.domain,
                              "quantity": line.quantity, "upstream_id": line.upstream_id,
                              "details": dict(line.details)}
    for name in ("unit_amount_minor", "total_minor"):
        if getattr(line, name) is not None:
            values[name] = getattr(line, name)
    return values


def known_orders(account: ProviderAccount) -> list[KnownOrder]:
    """The account's orders as plain values, for an upstream that matches its records
    to them (Capability ORDER_MIRROR with `order_mirror_needs_known`)."""
    ended = final_statuses(adapter_class(account.kind))
    orders = (Order.objects.filter(provider_account=account).exclude(status=OrderStatus.QUOTED)
              .prefetch_related("items").order_by("pk"))
    return [known_order(order, ended) for order in orders]


def known_for_listing(account: ProviderAccount, provider: Provider) -> Sequence[KnownOrder]:
    """What `iter_orders` is given as `known`: the account's orders where its upstream
    matches its records to them, else nothing (the others list their orders by id)."""
    return known_orders(account) if provider.order_mirror_needs_known else ()


def known_order(order: Order, ended: frozenset[str] | None = None) -> KnownOrder:
    if ended is None:
        ended = final_statuses(adapter_class(order.provider_account.kind))
    return KnownOrder(
        local_id=order.pk, upstream_id=order.upstream_id, open=order.status not in ended,
        lines=tuple(OrderLine(description=item.description, domain=item.domain,
                              quantity=item.quantity, upstream_id=item.upstream_id,
                              unit_amount_minor=item.unit_amount_minor,
                              total_minor=item.total_minor, details=dict(item.details))
                    for item in order.items.all()))


# --- Applying a record to one order -------------------------------------------------------------


def _sync_items(order: Order, fresh: list[dict[str, Any]]) -> tuple[Any, Any] | None:
    """Bring the order's items in line with `fresh` (matched by upstream id, else by
    domain and description); only the values the upstream gives are compared, and its
    `details` are merged into ours. An item the upstream no longer has is removed.
    Returns (before, what changed) for the audit, or None when nothing changed."""

    def key(domain: Any, description: Any) -> tuple[str, str]:
        return (str(domain or ""), str(description or ""))

    existing = list(order.items.order_by("id"))
    left = list(existing)
    added, updated = [], []
    for values in fresh:
        upstream_id = str(values.get("upstream_id") or "")
        item = next((i for i in left if upstream_id and i.upstream_id == upstream_id), None)
        if item is None:
            wanted = key(values.get("domain"), values.get("description"))
            item = next((i for i in left if key(i.domain, i.description) == wanted
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


def _paid(order: Order, record: OrderRecord) -> bool:
    return record.paid if record.paid is not None else order.status in CHARGED_STATUSES


def _money_moved(order: Order, record: OrderRecord, *, note: str = "",
                 estimated: bool = False) -> FieldChanges:
    """The payment of a charged order and the refund of a refunded one, once each: at
    the amounts the record states, or, where it states none (`estimated`, or no total),
    as a pending estimate that a later statement settles."""
    changes: FieldChanges = {}
    charge_stated = record.total_minor is not None and not estimated
    refund_stated = record.refunded_minor is not None and not estimated
    if _paid(order, record) and ledger.record_charge(order, note=note,
                                                     estimated=not charge_stated):
        changes["ledger_payment"] = (None, f"{order.total_minor} {order.currency}")
    if order.refunded_minor and ledger.record_refund(order, estimated=not refund_stated):
        changes["ledger_refund"] = (None, f"{order.refunded_minor} {order.currency}")
    return changes


def _delivered(order: Order, record: OrderRecord, changes_so_far: FieldChanges) -> FieldChanges:
    """The registrations the order made, mirrored when the order is delivered (created,
    or brought up to date), in the order's transaction; the order is linked to its own
    domain's. Once delivered and linked, the registration is the registration sync's:
    a record read again later is an old snapshot and must not undo newer changes."""
    changes: FieldChanges = {}
    if record.state not in DELIVERED_STATES or order.provider_account is None:
        return changes
    if order.registration_id is not None and "status" not in changes_so_far:
        return changes
    linked = None
    for delivered in record.delivered:
        registration, _, _ = mirror_registration(
            order.provider_account, delivered, customer=order.account,
            actor_label=f"order:{order.pk}")
        if linked is None or registration.name == order.domain:
            linked = registration
    if linked is not None and order.registration_id != linked.pk:
        changes["registration"] = (order.registration.name if order.registration else None,
                                   linked.name)
        order.registration = linked
        order.save(update_fields=["registration", "updated_at"])
    return changes


def apply_record(order: Order, record: OrderRecord, *, warnings: list[str] | None = None,
                 ledger_note: str = "", estimated: bool = False) -> FieldChanges:
    """Bring `order` (locked by the caller) in line with `record` and save it, in one
    transaction; the changes, field by field (old, new), with `items`, `ledger_payment`,
    `ledger_refund` and `registration` when those were written. Raises
    KeyError/TypeError/ValueError (RECORD_ERRORS) for a record that is another order,
    or that the order cannot take; nothing is written then and the object is restored."""
    if record.upstream_id and order.upstream_id not in (None, "", record.upstream_id):
        raise ValueError(f"the record is order {record.upstream_id}, not {order.upstream_id}")
    before = {f.attname: getattr(order, f.attname) for f in Order._meta.concrete_fields}
    try:
        with transaction.atomic():
            return _apply(order, record, warnings if warnings is not None else [],
                          ledger_note, estimated)
    except BaseException:
        # The transaction rolled the row back; the caller's object goes back too.
        for name, value in before.items():
            setattr(order, name, value)
        raise


def _apply(order: Order, record: OrderRecord, warnings: list[str],
           ledger_note: str, estimated: bool) -> FieldChanges:
    changes: FieldChanges = {}
    label = record.upstream_id or order.upstream_id or f"local {order.pk}"
    new_status = status_for(record.state, order.kind)
    if not order._state.adding and not may_move(order.status, new_status):
        raise StaleRecord(order.status, new_status)
    if record.upstream_id and not order.upstream_id:
        _assign(order, "upstream_id", record.upstream_id, changes)
    _assign(order, "status", new_status, changes)
    if record.status_reason:
        _assign(order, "status_reason", record.status_reason, changes)
    if record.domain and not order.domain:
        _assign(order, "domain", record.domain, changes)
    if record.customer_reference and not order.customer_reference:
        _assign(order, "customer_reference", record.customer_reference, changes)
    if record.years is not None:
        _assign(order, "years", record.years, changes)
    if record.currency:
        _assign(order, "currency", record.currency, changes)
    for name in ("subtotal_minor", "fees_minor", "total_minor"):
        new = getattr(record, name)
        if new is None:
            continue
        old = getattr(order, name)
        if new < old:
            # Applied (the upstream says what was charged), but never silently.
            warnings.append(f"order {label}: {name} went down from {old} to {new}")
            logger.warning("Order %s: %s went down from %s to %s", label, name, old, new)
        _assign(order, name, new, changes)
    if record.refunded_minor is not None:
        refunded = record.refunded_minor
        if record.total_minor is None and refunded > order.total_minor:
            # The record states a refund but not the total: never more than was charged.
            warnings.append(f"order {label}: upstream shows {refunded} refunded, more than "
                            f"the {order.total_minor} charged; recorded the total")
            refunded = order.total_minor
        if refunded >= order.refunded_minor:
            _assign(order, "refunded_minor", refunded, changes)
        elif record.state == OrderState.REFUNDED and record.total_minor is not None:
            # A full refund restated with the real total (an estimate was recorded
            # first): the upstream's figures replace it, never silently.
            warnings.append(f"order {label}: refunded went down from {order.refunded_minor} "
                            f"to {refunded} with the total")
            _assign(order, "refunded_minor", refunded, changes)
        else:
            warnings.append(f"order {label}: upstream shows {refunded} refunded, less than "
                            f"the {order.refunded_minor} recorded; kept {order.refunded_minor}")
    if order.refunded_minor > order.total_minor:
        raise ValueError("the refund would exceed the order's total")
    if order.account_id is None:  # linked once found; never re-linked from upstream
        customer = _customer(record)
        if customer is not None:
            changes["account"] = (None, customer.customer_reference)
            order.account = customer
    if record.registration_id and (order.registration is None
                                   or order.registration.upstream_id != record.registration_id):
        registration = Registration.objects.filter(upstream_id=record.registration_id).first()
        if registration is not None:
            changes["registration"] = (
                order.registration.upstream_id if order.registration else None,
                registration.upstream_id)
            order.registration = registration
    if order._state.adding:
        order.save()
    elif changes:
        order.save(update_fields=[*changes, "updated_at"])
    if record.lines is not None and (record.lines_authoritative or not order.items.exists()):
        items = _sync_items(order, [_item_values(line) for line in record.lines])
        if items is not None:
            changes["items"] = items
    changes.update(_money_moved(order, record, note=ledger_note, estimated=estimated))
    changes.update(_delivered(order, record, changes))
    return changes


# --- Finding the order a record is about ----------------------------------------------------------


def adopt_placed_order(account: ProviderAccount, upstream_id: str, domain: str
                       ) -> Order | None:
    """The order placed from here that an upstream record with an unknown id is about:
    same provider account and domain, no upstream id yet, and placed by staff (it carries
    our idempotency key, or its placement's answer was lost and it is unsettled). It
    takes the upstream id, and is settled, so the record updates it instead of mirroring
    a second order for the same purchase."""
    if not domain:
        return None
    order = (Order.objects.select_for_update()
             .filter(Q(idempotency_key__isnull=False) | Q(unsettled_since__isnull=False),
                     provider_account=account, upstream_id__isnull=True,
                     domain__iexact=domain)
             .exclude(status=OrderStatus.QUOTED).order_by("-placed_at", "-pk").first())
    if order is not None:
        order.upstream_id = upstream_id
        order.unsettled_since = None
        order.save(update_fields=["upstream_id", "unsettled_since", "updated_at"])
    return order


def _find(account: ProviderAccount, record: OrderRecord) -> Order | None:
    rows = Order.objects.select_for_update(of=("self",)).select_related("registration")
    if record.local_id is not None:
        return rows.filter(pk=record.local_id, provider_account=account).first()
    if not record.upstream_id:
        return None
    order = rows.filter(provider_account=account, upstream_id=record.upstream_id).first()
    if order is None:
        # A purchase placed here whose answer did not carry its id.
        order = adopt_placed_order(account, record.upstream_id, record.domain)
    return order


def _new_order(account: ProviderAccount, record: OrderRecord) -> Order:
    kind = ORDER_KIND[record.type] if record.type is not None else OrderKind.REGISTRATION
    order = Order(provider_account=account, kind=kind, domain=record.domain,
                  currency=record.currency or "", tld=_tld_of(record.domain),
                  account=_customer(record), customer_reference=record.customer_reference,
                  status=status_for(record.state, kind))
    if record.placed_at is not None:
        order.placed_at = record.placed_at
    return order


@dataclass
class Upserted:
    order: Order | None
    created: bool = False
    changes: FieldChanges = field(default_factory=dict)
    # The record would have moved the order backwards: nothing was applied.
    stale: StaleRecord | None = None


def upsert_record(account: ProviderAccount, record: OrderRecord, *, actor_label: str,
                  action: str = CHANGED_ACTION, ended: frozenset[str] = frozenset(),
                  warnings: list[str] | None = None, audited: bool = True) -> Upserted:
    """Apply `record` to the order it is about, creating that order when the record can
    stand alone (it names a currency). An order in an `ended` status is left alone.
    One audit row, by `actor_label`, when anything changed (unless the caller writes its
    own: `audited=False`)."""
    with transaction.atomic():
        order = _find(account, record)
        if order is None:
            if not record.currency:
                return Upserted(None)  # a partial record (a status event) about no order here
            order = _new_order(account, record)
            changes = apply_record(order, record, warnings=warnings)
            if audited:
                _audit(account, order, CREATED_ACTION, actor_label, {
                "status": order.status, "total_minor": order.total_minor,
                    "currency": order.currency, "items": order.items.count()},
                    f"{_who(actor_label)}: {account.label} order "
                    f"{order.upstream_id or order.pk} mirrored ({order.get_status_display()}).")
            return Upserted(order, created=True, changes=changes)
        if order.status in ended:
            return Upserted(order)
        old_status = order.status
        try:
            changes = apply_record(order, record, warnings=warnings)
        except StaleRecord as stale:
            if warnings is not None:
                warnings.append(f"order {order.upstream_id or order.pk}: a record saying "
                                f"{stale.new} was not applied ({stale}): it is older than "
                                "what is known here")
            return Upserted(order, stale=stale)
        if changes and audited:
            status = (f"{OrderStatus(old_status).label} → {order.get_status_display()}"
                      if "status" in changes else order.get_status_display())
            _audit(account, order, action, actor_label, {"changes": changes_for_audit(changes)},
                   f"{_who(actor_label)}: {account.label} order "
                   f"{order.upstream_id or order.pk} changed ({', '.join(sorted(changes))}); "
                   f"{status}.")
        return Upserted(order, changes=changes)


def _who(actor_label: str) -> str:
    return "Sync" if actor_label == SYNC_ACTOR else actor_label


def _audit(account: ProviderAccount, order: Order, action: str, actor_label: str,
           parameters: dict[str, Any], message: str) -> None:
    audit.record(actor=None, actor_label=actor_label, action=action, target=order,
                 parameters={"provider_account": account.label,
                             "upstream_id": order.upstream_id or "", **parameters},
                 outcome=StaffAction.Outcome.SUCCEEDED, message=message)


# --- The report ----------------------------------------------------------------------------------


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


# --- Following one order --------------------------------------------------------------------------


def order_accounts():
    """The enabled accounts whose orders can be mirrored: their upstream lists its orders,
    or lets an order be read again."""
    enabled = ProviderAccount.objects.filter(enabled=True)
    return (enabled.with_capability(Capability.ORDER_MIRROR)
            | enabled.with_capability(Capability.ORDER_FOLLOW)).distinct()


def open_orders(account: ProviderAccount):
    """The account's orders that were placed upstream and have not ended here."""
    return (Order.objects.filter(provider_account=account, upstream_id__isnull=False)
            .exclude(status__in=final_statuses(adapter_class(account.kind))))


def _with_delivery(provider: Provider, record: OrderRecord) -> OrderRecord:
    """A finished order that names the registration it made but does not describe it:
    read that registration now, so it is mirrored with the order (Support can operate
    it at once, not after the next sync)."""
    if (record.state not in DELIVERED_STATES or record.delivered or not record.registration_id
            or not provider.supports(Capability.REGISTRATION_READ)
            or Registration.objects.filter(upstream_id=record.registration_id).exists()):
        return record
    view = provider.get_registration(RegistrationRef(name=record.domain,
                                                     upstream_id=record.registration_id))
    return replace(record, delivered=(view.registration,))


def _refresh_one(account: ProviderAccount, provider: Provider, pk: int, upstream_id: str, *,
                 actor_label: str, warnings: list[str] | None = None) -> FieldChanges:
    record = _with_delivery(provider, provider.read_order(upstream_id))
    if record.upstream_id != upstream_id:
        raise ValueError(f"the record is order {record.upstream_id}, not {upstream_id}")
    result = upsert_record(account, replace(record, local_id=pk), actor_label=actor_label,
                           ended=final_statuses(provider), warnings=warnings)
    return result.changes


def refresh_order(order: Order) -> Order:
    """Read one placed order again and apply it, with one audit row when it changed
    (actor "poll:<account>"). Returns the order as now stored. An order that has ended
    here is returned without a request.

    Raises ProviderError (the caller decides whether to retry; NotFound when the upstream
    does not know the order), ValueError for an order that cannot be followed, and
    KeyError/TypeError/ValueError for an answer that is not this order.
    """
    account = order.provider_account
    if account is None or not account.supports(Capability.ORDER_FOLLOW) or not order.upstream_id:
        raise ValueError(f"Order {order.pk} is not a placed order that can be followed.")
    if order.status in final_statuses(adapter_class(account.kind)):
        return order
    _refresh_one(account, provider_for_account(account), order.pk, order.upstream_id,
                 actor_label=f"poll:{account.label}")
    return Order.objects.get(pk=order.pk)


# --- The run ------------------------------------------------------------------------------------


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
    if not (account.supports(Capability.ORDER_MIRROR)
            or account.supports(Capability.ORDER_FOLLOW)):
        raise ProviderError(f"{account.get_kind_display()} accounts have no orders to mirror.",
                            code="no_orders")
    provider = provider_for_account(account)
    if provider.supports(Capability.ORDER_MIRROR):
        _mirror_list(account, provider, report)
    else:
        _refresh_open(account, provider, report)


def _mirror_list(account: ProviderAccount, provider: Provider, report: OrderSyncReport) -> None:
    skipped: list[tuple[Any, Exception]] = []

    def skip(record: Any, exc: Exception) -> None:
        skipped.append((record, exc))

    def flush_skipped() -> None:
        for record, exc in skipped:
            report.seen += 1
            report.error(label_of(record), f"unreadable, skipped ({exc})")
        skipped.clear()

    ended = final_statuses(provider)
    known = known_for_listing(account, provider)
    for record in provider.iter_orders(known=known, on_malformed=skip):
        flush_skipped()
        report.seen += 1
        try:
            result = upsert_record(account, record, actor_label=SYNC_ACTOR, ended=ended,
                                   warnings=report.warnings)
        except RECORD_ERRORS as exc:
            report.error(f"order {record.upstream_id or record.local_id}",
                         f"not mirrored ({exc})")
            continue
        if result.created:
            report.created += 1
        elif result.changes:
            report.updated += 1
        else:
            report.unchanged += 1
    flush_skipped()


def refresh_open_orders(account: ProviderAccount) -> OrderSyncReport:
    """Read again every open order of `account` that was placed upstream (the periodic
    follow-up of upstreams with no order webhook). Never raises for an upstream failure:
    the report says the run was aborted."""
    report = OrderSyncReport(account=account.label, kind=account.kind)
    started = time.perf_counter()
    try:
        _refresh_open(account, provider_for_account(account), report)
    except ProviderError as error:
        report.aborted = _abort_message(error, report)
        report.retryable = error.retryable
    report.elapsed = time.perf_counter() - started
    return report


def _refresh_open(account: ProviderAccount, provider: Provider, report: OrderSyncReport) -> None:
    for pk, upstream_id in open_orders(account).order_by("pk").values_list("pk", "upstream_id"):
        report.seen += 1
        try:
            changes = _refresh_one(account, provider, pk, upstream_id, actor_label=SYNC_ACTOR,
                                   warnings=report.warnings)
        except NotFound as error:  # this order only; the others are still worth reading
            report.error(f"order {upstream_id}", error.message)
            continue
        except RECORD_ERRORS as exc:
            report.error(f"order {upstream_id}", f"not mirrored ({exc})")
            continue
        if changes:
            report.updated += 1
        else:
            report.unchanged += 1


def _abort_message(error: ProviderError, report: OrderSyncReport) -> str:
    upstream = ", ".join(part for part in (
        f"HTTP {error.status}" if error.status else "", error.code) if part)
    done = (f"the {report.seen} order(s) read before it were mirrored, nothing after it"
            if report.seen else "nothing was written")
    return f"{error.message}{f' ({upstream})' if upstream else ''}; {done}."



# --- What the upstream lists, read only -----------------------------------------------------

#: How many of the upstream's orders the "Orders at the upstream" page shows: the start of
#: its list, so that only its first page is read.
UPSTREAM_ORDERS_SHOWN = 25


@dataclass(frozen=True)
class ListedOrder:
    """One order as the upstream lists it, and the local order it is mirrored as (None:
    not here)."""

    record: OrderRecord
    order: Order | None

    @property
    def amount(self) -> str:
        """The total as the upstream states it, or that it states none."""
        record = self.record
        if record.total_minor is None or not record.currency:
            return "not stated"
        return format_minor(record.total_minor, record.currency)


@dataclass
class UpstreamListing:
    """The start of an account's order list. `failure` says why the upstream could not
    be read (to the end of what was asked); the orders read before it are kept.
    `skipped` counts records of the wrong shape, which are not shown."""

    account: ProviderAccount
    orders: list[ListedOrder] = field(default_factory=list)
    skipped: int = 0
    failure: str = ""


def listing_accounts():
    """The enabled accounts whose upstream lists its orders (ORDER_MIRROR)."""
    return (ProviderAccount.objects.filter(enabled=True)
            .with_capability(Capability.ORDER_MIRROR).order_by("label"))


def upstream_orders(account: ProviderAccount, *,
                    limit: int = UPSTREAM_ORDERS_SHOWN) -> UpstreamListing:
    """The first `limit` orders the account's upstream lists (ORDER_MIRROR), each with
    the local order it is mirrored as. A read: nothing is written, here or upstream.
    The list is consumed lazily, so no page past the one holding the `limit`-th order is
    asked for. Never raises for an upstream failure: `failure` says what happened."""
    listing = UpstreamListing(account=account)

    def skip(record: Any, exc: Exception) -> None:
        listing.skipped += 1

    records: list[OrderRecord] = []
    try:
        if not account.supports(Capability.ORDER_MIRROR):
            raise ProviderError(f"{account.get_kind_display()} does not list its orders.",
                                code="no_order_list")
        provider = provider_for_account(account)
        listed = provider.iter_orders(known=known_for_listing(account, provider),
                                      on_malformed=skip)
        for record in itertools.islice(listed, limit):
            records.append(record)
    except ProviderError as error:
        listing.failure = _read_failure(error, len(records))
        logger.warning("Order list of %s not read: %s", account.label, listing.failure)
    listing.orders = _matched(account, records)
    return listing


def _matched(account: ProviderAccount, records: list[OrderRecord]) -> list[ListedOrder]:
    """Each record with its local order, by the adapter's match (`local_id`) or the
    upstream id: one query for them all."""
    local_ids = {r.local_id for r in records if r.local_id is not None}
    upstream_ids = {r.upstream_id for r in records if r.local_id is None and r.upstream_id}
    if not (local_ids or upstream_ids):
        return [ListedOrder(record, None) for record in records]
    found = list(Order.objects.filter(Q(pk__in=local_ids) | Q(upstream_id__in=upstream_ids),
                                      provider_account=account))
    by_pk = {order.pk: order for order in found}
    by_upstream_id = {order.upstream_id: order for order in found if order.upstream_id}
    return [ListedOrder(record, by_pk.get(record.local_id) if record.local_id is not None
                        else by_upstream_id.get(record.upstream_id or ""))
            for record in records]


def _read_failure(error: ProviderError, read: int) -> str:
    upstream = ", ".join(part for part in (
        f"HTTP {error.status}" if error.status else "", error.code) if part)
    done = (f"only the {read} order(s) read before it are shown" if read
            else "no order could be read")
    return f"{error.message}{f' ({upstream})' if upstream else ''}; {done}."
