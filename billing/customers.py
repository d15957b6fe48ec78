"""The billing side of `registrar.customers`: which customer a registration is."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Count
from django.db.models.functions import Lower

from billing.models import Account, Order


def find_customers(registrations: Sequence) -> dict[int, int]:
    """{registration pk: account pk}: the customer whose order delivered the domain
    (the latest such order), else the only customer with the holder's e-mail."""
    if not registrations:
        return {}
    by_name = {registration.name: registration.pk for registration in registrations}
    found: dict[int, int] = {}
    ordered = (Order.objects.filter(domain__in=list(by_name), account__isnull=False)
               .order_by("domain", "-placed_at").values_list("domain", "account_id"))
    for domain, account_id in ordered:
        found.setdefault(by_name[domain], account_id)
    emails: dict[str, list[int]] = {}
    for registration in registrations:
        holder = registration.owner_contact
        if registration.pk not in found and holder is not None and holder.email:
            emails.setdefault(holder.email.lower(), []).append(registration.pk)
    if emails:
        matching = Account.objects.annotate(address=Lower("email")).filter(
            address__in=list(emails))
        unique = set(matching.values("address").annotate(n=Count("pk")).filter(n=1)
                     .values_list("address", flat=True))
        for account_id, address in matching.values_list("pk", "address"):
            if address in unique:
                for pk in emails[address]:
                    found[pk] = account_id
    return found
