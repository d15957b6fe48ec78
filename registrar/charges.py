"""Charges a registrar operation makes (the paid registrant change), kept as local orders.

Every charge is a local order with its ledger, but the registrar app does not import
billing: billing registers the book that keeps them when it starts (billing.apps), and
registrar operations go through this port. Without a book (billing not installed) a paid
operation is refused before anything is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from registrar.operations import OperationRefused

if TYPE_CHECKING:
    from registrar.models import Registration
    from registrar.providers.base import Money, OrderRecord, OrderType


@dataclass(frozen=True)
class OpenCharge:
    """A local order opened before the paid call: its id, and the idempotency key the
    call carries (so a retry of the same order never charges twice)."""

    local_id: int
    idempotency_key: str

    @property
    def label(self) -> str:
        return f"order {self.local_id}"


class ChargeBook(Protocol):
    def open_charge(self, *, registration: Registration, kind: OrderType,
                    price: Money | None, actor: Any, request: dict[str, Any],
                    idempotency_key: Callable[[int], str]) -> OpenCharge:
        """A new local order for a paid call about to be sent, committed before it is:
        awaiting payment, with the price shown to staff, what the call asked for, and the
        key (`idempotency_key(order id)`) the call carries."""

    def open_charge_for(self, *, registration: Registration,
                        kind: OrderType) -> OpenCharge | None:
        """The registration's charge of `kind` still open (placed, not ended), if any."""

    def record_charge(self, charge: OpenCharge, record: OrderRecord, *,
                      followed: bool) -> str:
        """The upstream's order for the charge, applied (amounts, ledger, status) and, if
        `followed`, followed to its end. Returns a sentence for staff."""

    def charge_refused(self, charge: OpenCharge, reason: str) -> None:
        """Refused upstream before any money moved: the order ends without a charge."""

    def charge_unknown(self, charge: OpenCharge, reason: str) -> None:
        """The call left and no usable answer came back: the order stays open, with the
        reason, and is settled by reading (replaying with its key) later."""


_book: ChargeBook | None = None


def register(book: ChargeBook) -> None:
    global _book
    _book = book


def book() -> ChargeBook:
    if _book is None:
        raise OperationRefused("Paid operations need the billing app, which keeps their "
                               "orders; it is not installed here.", code="no_charge_book")
    return _book
