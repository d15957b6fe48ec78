"""Which order status may follow which: the one table the services, the webhooks, the
order mirror and the follow-ups all obey.

An upstream's records arrive late and out of order (a webhook redelivered after the
order moved on, a list read before a status event). A record that would move an order
backwards is not applied: it is kept (the webhook event, the warning in the mirror's
report) and flagged, and the order stays where it is.
"""

from __future__ import annotations

from billing.models import OrderStatus as S

_DELIVERED_TRANSFER = frozenset({S.TRANSFERRED, S.TRANSFER_COMPLETED, S.TRANSFER_SUCCESS})
_AFTER_PAYMENT = frozenset({
    S.PAYMENT_SUCCESSFUL, S.REGISTRATION_IN_PROGRESS, S.REGISTERED, S.TRANSFER_STARTED,
    S.TRANSFER_ACK, *_DELIVERED_TRANSFER, S.TRANSFER_FAILED, S.FAILED, S.REFUNDED,
    S.CANCELLED,
})

#: status -> the statuses that may follow it (staying put is always allowed).
NEXT: dict[str, frozenset[str]] = {
    # An upstream record of a quoted order means the quote was placed after all (the
    # placement's answer was lost): whatever it says is ahead of the quote.
    S.QUOTED: frozenset(S) - {S.QUOTED},
    S.PAYMENT_INITIATED: _AFTER_PAYMENT | {S.PAYMENT_FAILED},
    S.PAYMENT_SUCCESSFUL: _AFTER_PAYMENT - {S.PAYMENT_SUCCESSFUL},
    S.PAYMENT_FAILED: frozenset({S.CANCELLED}),
    S.REGISTRATION_IN_PROGRESS: frozenset({S.REGISTERED, S.FAILED, S.REFUNDED, S.CANCELLED}),
    S.TRANSFER_STARTED: frozenset({S.TRANSFER_ACK, *_DELIVERED_TRANSFER, S.TRANSFER_FAILED,
                                   S.REFUNDED, S.CANCELLED}),
    S.TRANSFER_ACK: frozenset({*_DELIVERED_TRANSFER, S.TRANSFER_FAILED, S.REFUNDED}),
    # The three words upstreams use for a transfer that completed are the same state.
    **{status: _DELIVERED_TRANSFER - {status} | {S.REFUNDED} for status in _DELIVERED_TRANSFER},
    # Delivered, then given back (a rollback after the charge).
    S.REGISTERED: frozenset({S.REFUNDED}),
    # A failed order's money may still come back.
    S.FAILED: frozenset({S.REFUNDED}),
    S.TRANSFER_FAILED: frozenset({S.REFUNDED}),
    S.REFUNDED: frozenset(),
    S.CANCELLED: frozenset(),
}


def may_move(current: str, new: str) -> bool:
    return new == current or new in NEXT.get(current, frozenset())


class StaleRecord(Exception):
    """A record that would move an order backwards: not applied."""

    def __init__(self, current: str, new: str) -> None:
        super().__init__(f"{S(current).label} cannot become {S(new).label}")
        self.current = current
        self.new = new
