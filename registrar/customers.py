"""Which customer a registration belongs to.

A registration read from a registrar arrives without one. The billing app knows the
customers, so it registers a finder (`register`, from its AppConfig.ready) that tells,
for a batch of registrations, which customer each belongs to: the customer who ordered
the domain, else the one customer whose e-mail is the holder's. The registrar app does
not import billing. Staff attach the rest by hand (`registration_set_customer`). Both
are audited.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from backoffice import audit
from backoffice.models import StaffAction
from registrar.models import Registration
from registrar.operations import InvalidInput, Outcome, Outcomes, require_permission

#: registrations -> {registration pk: customer pk} for those it can tell.
Finder = Callable[[Sequence[Registration]], dict[int, int]]
_FINDERS: list[Finder] = []
SET_CUSTOMER_PERMISSION = "registrar.change_registration"
BATCH = 500


def register(finder: Finder) -> None:
    if finder not in _FINDERS:
        _FINDERS.append(finder)


def attach_unowned(registrations: QuerySet[Registration], *, actor_label: str = "sync"
                   ) -> int:
    """Attach each registration of `registrations` that has no customer to the one a
    finder names; one audit row each. How many were attached."""
    attached = 0
    unowned = registrations.filter(account__isnull=True).select_related("owner_contact")
    pks = list(unowned.values_list("pk", flat=True))
    for start in range(0, len(pks), BATCH):
        batch = list(unowned.filter(pk__in=pks[start:start + BATCH]))
        found: dict[int, int] = {}
        for finder in _FINDERS:
            found.update({pk: account for pk, account in finder(
                [r for r in batch if r.pk not in found]).items()})
        rows = []
        with transaction.atomic():
            for registration in batch:
                account_id = found.get(registration.pk)
                if account_id is None:
                    continue
                # Only if still unowned: staff may have attached it meanwhile.
                if Registration.objects.filter(pk=registration.pk, account__isnull=True
                                               ).update(account_id=account_id):
                    registration.account_id = account_id
                    rows.append(audit.build(
                        actor=None, actor_label=actor_label,
                        action="registration.customer_attached", target=registration,
                        parameters={"changes": {"account": {"old": None,
                                                            "new": account_id}},
                                    "how": "automatic"},
                        outcome=StaffAction.Outcome.SUCCEEDED,
                        message=f"{registration} attached to customer #{account_id} "
                                "(found from its orders or its holder's e-mail)."))
            StaffAction.objects.bulk_create(rows)
        attached += len(rows)
    return attached


def registration_set_customer(*, registration: Registration, account: Any, actor) -> Outcome:
    """Attach `registration` to the customer `account` (None detaches), by hand."""
    require_permission(actor, SET_CUSTOMER_PERMISSION)
    with transaction.atomic():
        # of=self: the account is the nullable side of an outer join, which PostgreSQL
        # will not lock.
        row = Registration.objects.select_for_update(of=("self",)).select_related(
            "account").get(pk=registration.pk)
        before = row.account
        if (before.pk if before else None) == (account.pk if account else None):
            raise InvalidInput(f"{row} already belongs to {before or 'no customer'}.",
                               field_errors={"account": ["Choose another customer."]})
        row.account = account
        row.save(update_fields=["account", "updated_at"])
        message = (f"{row} now belongs to {account}." if account
                   else f"{row} no longer belongs to a customer.")
        audit_row = audit.record(
            actor=actor, action="registration.customer_set", target=row,
            parameters={"changes": {"account": {"old": str(before) if before else None,
                                                "new": str(account) if account else None}},
                        "how": "by hand"},
            outcome=Outcomes.SUCCEEDED, message=message)
    return Outcome(status=Outcomes.SUCCEEDED, message=message, audit_row=audit_row)
