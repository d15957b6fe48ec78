"""The deadlines a registrar is held to, read from the upstream and kept on the mirror.

- An outbound transfer is acknowledged by the registry on its own after five days
  (ICANN Transfer Policy, section I.A.3.9) unless the losing registrar rejects it for
  one of the allowed reasons: `transfer_out_auto_ack_at`, read from the registration's
  live view (document 001's `transfer_out.auto_approve_at`).
- A registrant asked to verify has 15 days before the domain is suspended (the Whois
  Accuracy Program): contacts/models.py tells it from the registry's `validations`.
- Expiry: the OpenSRS-style buckets of 90, 30 and 7 days, terminal registrations left
  out.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone

from registrar.models import TERMINAL_STATUSES, Registration
from registrar.providers.base import Capability, Provider, RegistrationRef
from registrar.providers.errors import ProviderError
from registrar.values.dates import parse_moment

TRANSFER_OUT_AUTO_ACK = timedelta(days=5)
EXPIRY_BUCKETS = (7, 30, 90)


def auto_ack_from(transfer_out: Mapping[str, Any] | None) -> datetime | None:
    """The auto-ACK time of a live `transfer_out` view; five days after the request
    when the registry gives only that; None when it says neither (or nonsense)."""
    if not isinstance(transfer_out, Mapping):
        return None
    for key, offset in (("auto_approve_at", timedelta()),
                        ("requested_at", TRANSFER_OUT_AUTO_ACK)):
        try:
            return parse_moment(transfer_out.get(key), expiry=True) + offset
        except ValidationError:
            continue
    return None


def note_transfer_out(registration: Registration, transfer_out: Mapping[str, Any] | None
                      ) -> datetime | None:
    """Keep the auto-ACK time of what the registrar just showed. Written with a plain
    UPDATE, not a save: a deadline read is not a change a running sync must yield to."""
    due = auto_ack_from(transfer_out) if registration.transfer_out_pending else None
    if due != registration.transfer_out_auto_ack_at:
        Registration.objects.filter(pk=registration.pk).update(transfer_out_auto_ack_at=due)
        registration.transfer_out_auto_ack_at = due
    return due


def read_transfer_deadlines(provider: Provider, registrations: QuerySet[Registration]
                            ) -> int:
    """After a sync: for each pending outbound transfer whose auto-ACK time is not known
    yet, read the registration once and keep it; clear it where nothing is pending any
    more. How many were read."""
    registrations.filter(transfer_out_pending=False,
                         transfer_out_auto_ack_at__isnull=False).update(
        transfer_out_auto_ack_at=None)
    if not provider.supports(Capability.REGISTRATION_READ):
        return 0
    read = 0
    for registration in registrations.filter(transfer_out_pending=True,
                                             transfer_out_auto_ack_at__isnull=True):
        try:
            view = provider.get_registration(RegistrationRef(
                name=registration.name, upstream_id=registration.upstream_id))
        except ProviderError:
            continue  # the next sync tries again; the decision page reads it too
        note_transfer_out(registration, view.transfer_out)
        read += 1
    return read


def countdown(moment: datetime | None, now: datetime | None = None) -> str:
    """“in 3 days 4 hours”, “in 40 minutes”, “2 days ago”: how long until `moment`."""
    if moment is None:
        return ""
    delta = moment - (now or timezone.now())
    past = delta.total_seconds() < 0
    seconds = abs(int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        text = f"{days} day{'s' if days != 1 else ''}" + (
            f" {hours} hour{'s' if hours != 1 else ''}" if hours and days < 3 else "")
    elif hours:
        text = f"{hours} hour{'s' if hours != 1 else ''}"
    else:
        text = f"{max(minutes, 1)} minute{'s' if minutes != 1 else ''}"
    return f"{text} ago" if past else f"in {text}"


def live(registrations: QuerySet[Registration]) -> QuerySet[Registration]:
    """Registrations still ours to look after: not transferred out, deleted or expired."""
    return registrations.exclude(status__in=TERMINAL_STATUSES)


def expiring_within(days: int, registrations: QuerySet[Registration] | None = None,
                    now: datetime | None = None) -> QuerySet[Registration]:
    """Live registrations expiring in the next `days` days (not already expired), soonest
    first."""
    now = now or timezone.now()
    base = Registration.objects.all() if registrations is None else registrations
    return live(base).filter(expires_at__gte=now,
                             expires_at__lte=now + timedelta(days=days)).order_by("expires_at")
