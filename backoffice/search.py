"""One search box for everything staff look up by a key a customer reads out: a domain
(Unicode or punycode), a contact's e-mail or handle, a customer, an order id, an
upstream id. One query per kind, each only for those who may see that kind; a single
hit is opened straight away."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.urls import reverse

from backoffice.db import prefix_range
from registrar.values.names import to_ascii, to_unicode
from registrar.values.text import validate_text

MAX_QUERY_LENGTH = 253
PER_KIND = 10


@dataclass(frozen=True)
class Hit:
    kind: str
    label: str
    url: str
    detail: str = ""


class QueryRefused(ValueError):
    pass


def clean_query(raw: object) -> str:
    query = ("" if raw is None else str(raw)).strip()
    try:
        validate_text(query, max_length=MAX_QUERY_LENGTH)
    except ValidationError as refusal:
        raise QueryRefused(f"Search: {refusal.messages[0]}") from None
    return query


def _domain_form(query: str) -> str | None:
    try:
        return to_ascii(query, min_labels=1)
    except ValidationError:
        return None


def _number(query: str) -> int | None:
    digits = query.removeprefix("#")
    return int(digits) if digits.isascii() and digits.isdigit() and len(digits) < 19 else None


def _first(querysets: list[QuerySet], *, key, order: tuple[str, ...]) -> list:
    """The first PER_KIND rows, in `order`, of the union of `querysets`: each is read on
    its own (PER_KIND rows at most), so each uses the index that serves it."""
    found = {row.pk: row for queryset in querysets
             for row in queryset.order_by(*order)[:PER_KIND]}
    return sorted(found.values(), key=key)[:PER_KIND]


def search(raw: object, user) -> dict[str, list[Hit]]:
    """{kind label: hits}, kinds the user may not view left out. Raises QueryRefused."""
    from billing.models import Account, Order
    from contacts.models import Contact
    from registrar.models import Process, Registration

    query = clean_query(raw)
    if not query:
        return {}
    ascii_name, number = _domain_form(query), _number(query)
    groups: dict[str, list[Hit]] = {}
    if user.has_perm("registrar.view_registration"):
        # One query per way the term can match, each served by its own index: OR'd
        # together the planner walks the whole name index filtering rows (2 s on a
        # million registrations for a common prefix like "shop"). Names are stored
        # lower-case, so a case-sensitive prefix on the lower-cased term is what the
        # indexes serve (an istartswith compares UPPER() and scans).
        registrations = Registration.objects.only("pk", "name", "name_unicode", "status")
        matches = [registrations.filter(upstream_id=query)]
        if ascii_name:
            matches.append(registrations.filter(**prefix_range("name", ascii_name)))
        if not query.isascii():
            matches.append(registrations.filter(**prefix_range("name_unicode",
                                                               query.lower())))
        rows = _first(matches, key=lambda row: row.name, order=("name",))
        groups["Registrations"] = [Hit(
            "registration", row.name_unicode or to_unicode(row.name),
            reverse("admin:registrar_registration_change", args=[row.pk]),
            row.name if row.name != row.name_unicode else "") for row in rows]
    if user.has_perm("contacts.view_contact"):
        match = Q(email__iexact=query) | Q(handle__iexact=query)
        if number is not None:
            match |= Q(upstream_id=number)
        rows = Contact.objects.filter(match).order_by("handle", "pk")[:PER_KIND]
        groups["Contacts"] = [Hit("contact", str(row),
                                  reverse("admin:contacts_contact_change", args=[row.pk]),
                                  row.email) for row in rows]
    if user.has_perm("billing.view_account"):
        rows = _first([Account.objects.filter(email__iexact=query),
                       Account.objects.filter(customer_reference__iexact=query),
                       Account.objects.filter(name__icontains=query)],
                      key=lambda row: (row.name, row.pk), order=("name", "pk"))
        groups["Customers"] = [Hit("customer", row.name,
                                   reverse("admin:billing_account_change", args=[row.pk]),
                                   row.email) for row in rows]
    if user.has_perm("billing.view_order"):
        match = Q(upstream_id=query)
        if number is not None:
            match |= Q(pk=number)
        rows = Order.objects.filter(match).order_by("-pk")[:PER_KIND]
        groups["Orders"] = [Hit("order", f"Order #{row.pk}: {row.domain or row.get_kind_display()}",
                                reverse("admin:billing_order_change", args=[row.pk]),
                                row.get_status_display()) for row in rows]
    if user.has_perm("registrar.view_process"):
        rows = Process.objects.filter(upstream_id=query).select_related(
            "registration").order_by("-pk")[:PER_KIND]
        groups["Processes"] = [Hit("process", f"Process {row.upstream_id}",
                                   reverse("admin:registrar_process_change", args=[row.pk]),
                                   str(row.registration)) for row in rows]
    return {kind: hits for kind, hits in groups.items() if hits}
