"""The email order page's helper buttons: read the plans with their prices, find
candidate domains and add the picked ones, suggest mailbox names. Each is a POST of the
order form with `do` set; it reads from the upstream (billing.email_orders, EMAIL_ORDER_
TOOLS), places nothing, and shows the form again with what it found filled in, so
nothing typed is lost. A problem names the field it is about; nothing is sent for it.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, QueryDict

from billing import email_orders
from billing.forms import EmailInfrastructureOrderForm, StrictBooleanField, parse_domains
from registrar.models import ProviderAccount
from registrar.operations import InvalidInput, OperationRefused
from registrar.providers.base import Capability, DomainOffer
from registrar.values.names import intake_name, to_unicode

PLANS, SEARCH, ADD, NAMES = "plans", "search", "add", "names"
HELPERS = frozenset({PLANS, SEARCH, ADD, NAMES})
#: Picked candidates added at once, at most (a search lists far fewer).
MAX_PICKED = 50


class Helper:
    """One helper run: the form to show again, what was found, what went wrong."""

    def __init__(self, request: HttpRequest) -> None:
        self.data: QueryDict = request.POST
        self.user = request.user
        self.form = EmailInfrastructureOrderForm(self.data)
        self.errors: list[str] = []
        self.notices: list[str] = []
        self.candidates: list[DomainOffer] = []
        self.initial: dict[str, Any] = {}
        for name, field in self.form.fields.items():
            if isinstance(field, StrictBooleanField):
                self.initial[name] = self.data.get(name) in StrictBooleanField.TICKED
            elif name in self.data:
                self.initial[name] = self.data.get(name)

    def field(self, name: str) -> Any:
        """One field cleaned by its own rules, or None with the problem named."""
        field = self.form.fields[name]
        try:
            return field.clean(field.widget.value_from_datadict(self.data, {}, name))
        except ValidationError as refusal:
            self.refuse(name, refusal.messages)
            return None

    def refuse(self, name: str, messages: list[str]) -> None:
        label = self.form.fields[name].label if name in self.form.fields else None
        label = label or name.replace("_", " ").capitalize()
        self.errors.extend(f"{label}: {message}" for message in messages)

    def refusal(self, refusal: OperationRefused) -> None:
        if refusal.field_errors:
            for name, messages in refusal.field_errors.items():
                self.refuse(name, list(messages))
        else:
            self.errors.append(refusal.message)


def run(request: HttpRequest, helper_name: str) -> dict[str, Any]:
    """The helper `helper_name`; the page's context: the form (unbound, with what was
    typed and what was found), `candidates`, `helper_errors`, `helper_notices`."""
    helper = Helper(request)
    account: ProviderAccount | None = helper.field("provider_account")
    if account is not None and not account.supports(Capability.EMAIL_ORDER_TOOLS):
        helper.refuse("provider_account", [
            f"“{account.label}” offers no plans, domain search or mailbox names."])
        account = None
    plans = []
    if account is not None:
        try:
            if helper_name == SEARCH:
                _search(helper, account)
            elif helper_name == ADD:
                _add(helper)
            elif helper_name == NAMES:
                _names(helper, account)
            plans = email_orders.email_order_plans(provider_account=account,
                                                   actor=helper.user)
        except OperationRefused as refusal:
            helper.refusal(refusal)
    form = EmailInfrastructureOrderForm(initial=helper.initial)
    if plans:
        form.show_plan_prices(plans)
        helper.notices.append(f"Billing cycles are labelled with the prices "
                              f"{account.get_kind_display()} listed just now.")
    return {"form": form, "candidates": helper.candidates, "helper_errors": helper.errors,
            "helper_notices": helper.notices}


def _search(helper: Helper, account: ProviderAccount) -> None:
    query = helper.field("search")
    if query is None:
        return
    helper.candidates = email_orders.email_domain_candidates(
        provider_account=account, query=query, actor=helper.user)
    if not helper.candidates:
        helper.notices.append(f"{account.get_kind_display()} offers no domains for "
                              f"“{query}”.")


def _add(helper: Helper) -> None:
    picked = helper.data.getlist("picked")[:MAX_PICKED]
    if not picked:
        helper.refuse("search", ["Tick the domains to add first."])
        return
    text = str(helper.initial.get("domains") or "")
    present = {line.name.casefold() for line in parse_domains(text, {})[0]}
    added = []
    for raw in picked:
        try:
            name = intake_name(str(raw))
        except ValidationError as refusal:
            helper.refuse("search", [f"“{str(raw)[:60]}”: {' '.join(refusal.messages)}"])
            continue
        shown = to_unicode(name)
        if shown.casefold() not in present and name not in present:
            added.append(f"{shown}:")
            present.add(shown.casefold())
    if added:
        helper.initial["domains"] = "\n".join(filter(None, [text.rstrip(), *added]))
        helper.notices.append(f"Added {', '.join(a[:-1] for a in added)}: give each its "
                              "mailboxes (or use “Suggest mailbox names”).")


def _names(helper: Helper, account: ProviderAccount) -> None:
    first, last = helper.field("first_name"), helper.field("last_name")
    count = helper.field("mailbox_count")
    text = helper.field("domains")
    if first is None or last is None or count is None or text is None:
        return
    lines = text.splitlines()
    parsed, _ = parse_domains(text, {})
    filled = []
    for line in parsed:
        if line.mailboxes or not line.name:
            continue
        try:
            suggested = email_orders.email_mailbox_names(
                provider_account=account, first_name=first, last_name=last,
                domain=line.name, count=count, actor=helper.user)
        except InvalidInput as refusal:
            helper.refuse("domains", [f"Line {line.number}: {message}"
                                      for messages in refusal.field_errors.values()
                                      for message in messages] or [refusal.message])
            continue
        local_parts = list(dict.fromkeys(
            address.partition("@")[0] for address in suggested if address.strip()))
        if local_parts:
            lines[line.number - 1] = f"{line.name}: {', '.join(local_parts)}"
            filled.append(line.name)
    helper.initial["domains"] = "\n".join(lines)
    if filled:
        helper.notices.append(f"Mailbox names suggested by {account.get_kind_display()} "
                              f"filled in for {', '.join(filled)}: check them before "
                              "placing the order.")
    elif not helper.errors:
        helper.notices.append("Every domain line has its mailboxes already.")
