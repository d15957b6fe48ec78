"""Keep each TLD's feature flags and fees as the upstream reports them.

Every registration record of the Domain API carries its TLD's `feature_flags` and
`fees` (document 001). A sync notes each record in a `TldObservations` (the last
one per TLD name is kept: one small entry a TLD, whatever the size of the account),
and once the run has written, `refresh_tlds()` brings the TLDs that the synced
account is the registrar of in line, with one `tld.sync_updated` audit row per TLD
changed, field by field, old → new. The admin's operation buttons read these flags
(`services.unavailable_reason`), so what it offers follows the upstream.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

from django.db import transaction

from backoffice import audit
from backoffice.models import StaffAction
from registrar.models import AuthcodeBehavior, ProviderAccount, Tld
from registrar.providers.base import Money, RegistrationRecord

#: The TLD's boolean feature flags, named as both the model and document 001 name them.
TLD_FLAGS = ("supports_privacy", "supports_transfer_lock", "supports_push_transfer",
             "supports_dnssec", "requires_contact_validation")

#: Document 001's fee names -> the Tld's amount / currency fields.
FEES = {
    "privacy_enable": ("privacy_fee_amount", "privacy_fee_currency"),
    "registrant_change": ("registrant_change_fee_amount", "registrant_change_fee_currency"),
}

TLD_SYNC_UPDATED = "tld.sync_updated"

_CURRENCY = re.compile(r"[A-Z]{3}")


def tld_name(record: RegistrationRecord) -> str:
    """The ASCII name of the record's TLD: as the upstream names it, else the last label."""
    return str(record.tld.get("name") or record.name.rsplit(".", 1)[-1]).lstrip(".").lower()


def tld_values(feature_flags: Mapping[str, Any],
               fees: Mapping[str, Money | None]) -> dict[str, Any]:
    """The Tld field values that an upstream answer states. What it leaves out (a flag or
    fee it does not name, or a value not of the documented type) is absent here, so it
    never resets a field to its default. A fee named with null is stated: no fee."""
    values: dict[str, Any] = {flag: feature_flags[flag] for flag in TLD_FLAGS
                              if isinstance(feature_flags.get(flag), bool)}
    # How the registry hands out auth codes decides what the auth-code page offers.
    if feature_flags.get("authcode_behavior") in AuthcodeBehavior.values:
        values["authcode_behavior"] = feature_flags["authcode_behavior"]
    for name, (amount, currency) in FEES.items():
        if name not in fees:
            continue
        fee = fees[name]
        if fee is None:
            values[amount], values[currency] = None, ""
        elif (isinstance(fee, Money) and fee.amount_minor >= 0
              and _CURRENCY.fullmatch(fee.currency or "")):
            values[amount], values[currency] = fee.amount_minor, fee.currency
        # Anything else (a negative amount, no currency) the model's constraints would
        # refuse: it is not taken as what the upstream means, and the stored fee stays.
    return values


class TldObservations:
    """What a sync saw of each TLD: the last record's flags and fees per TLD name.

    `note()` runs once per registration, so it only keeps references to the record's
    two small dicts (no copy, no parsing); `refresh_tlds()` reads them once a TLD. The
    sync notes from the thread that takes its pages while its detail reads run on a
    pool; the lock keeps one collector safe to share across threads all the same.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, tuple[Mapping[str, Any], Mapping[str, Money | None]]] = {}

    def note(self, record: RegistrationRecord) -> None:
        if not record.feature_flags and not record.fees:
            return  # an upstream that reports neither (Entri, name.com) tells us nothing
        name = tld_name(record)
        with self._lock:
            self._last[name] = (record.feature_flags, record.fees)

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._last)

    def values_for(self, name: str) -> dict[str, Any]:
        """The Tld field values observed for `name` (empty: not seen)."""
        with self._lock:
            observed = self._last.get(name)
        return tld_values(*observed) if observed is not None else {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._last)


def refresh_tlds(account: ProviderAccount, observations: TldObservations, *,
                 actor_label: str = "system:sync") -> int:
    """Update the TLDs whose registrar is `account` to what `observations` saw, with one
    `tld.sync_updated` audit row per TLD changed; the number of TLDs changed.

    Only the TLD's own registrar speaks for its flags and fees: another account that
    also serves some of its registrations (a reseller, a transfer in flight) may
    report different terms, which are not this TLD's. The rows are locked and compared
    again in one transaction, so two parts of a split sync refreshing at once change and
    audit a TLD once."""
    names = observations.names()
    if not names:
        return 0
    changed = 0
    with transaction.atomic():
        tlds = (Tld.objects.select_for_update().filter(provider_account=account,
                                                       name__in=names).order_by("pk"))
        for tld in tlds:
            changes = {name: (getattr(tld, name), new)
                       for name, new in observations.values_for(tld.name).items()
                       if getattr(tld, name) != new}
            if not changes:
                continue
            for name, (_, new) in changes.items():
                setattr(tld, name, new)
            tld.save(update_fields=sorted(changes))
            audit.record(
                actor=None, actor_label=actor_label, action=TLD_SYNC_UPDATED, target=tld,
                parameters={"changes": {name: {"old": old, "new": new}
                                        for name, (old, new) in sorted(changes.items())}},
                outcome=StaffAction.Outcome.SUCCEEDED,
                message=f"Sync: {tld} updated from {account} "
                        f"({', '.join(sorted(changes))}).")
            changed += 1
    return changed
