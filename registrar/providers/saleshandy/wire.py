"""Document 003's wire shapes: Saleshandy's answers (a {"message", "payload"} envelope or
a bare body), the domain listing that carries provisioning, and the error body."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from registrar.providers.base import EmailPlan, Money
from registrar.providers.errors import ProviderError, error_for

IN_PROGRESS = "inProgress"
# Doc silent on the plans' currency: Saleshandy bills in US dollars (assumed), in cents.
PLAN_CURRENCY = "USD"


# --- Answers ---------------------------------------------------------------------------


def payload(body: Any) -> Any:
    """Saleshandy's Open API wraps answers as {"message", "payload"} elsewhere; document
    003 shows none, so a bare body is accepted as well."""
    if isinstance(body, Mapping):
        for key in ("payload", "data"):
            if key in body:
                return body[key]
    return body


def list_in(value: Any, *keys: str) -> list[Any]:
    """The list an answer carries: the value itself or the first of `keys` holding one.
    ValueError (reported as MalformedResponse) when there is none."""
    if isinstance(value, list):
        return value
    if isinstance(value, Mapping):
        for key in keys:
            if isinstance(value.get(key), list):
                return value[key]
    raise ValueError(f"no list under {keys}")


@dataclass(frozen=True)
class OrderPlaced:
    """The answer to POST /v1/domain. A paid order carries `checkout_url` (Paddle or
    Stripe) for the customer to pay; a free order carries only `order_id`.
    `checkout_refused`: a checkout link came back that is not an https URL, so it was
    dropped (the order still awaits payment)."""

    order_id: str
    checkout_url: str
    is_free_order: bool
    is_replacement: bool
    request_id: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    checkout_refused: bool = False

    @property
    def needs_payment(self) -> bool:
        return bool(self.checkout_url) or self.checkout_refused


@dataclass(frozen=True)
class ProvisionedDomain:
    """One entry of GET /v1/domain. Observed statuses: inProgress, active, deleted,
    failed, expired. `id` is what DELETE /v1/domain/{id} takes."""

    id: str
    name: str
    status: str
    order_id: str = ""
    mailboxes: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


def parse_domain(data: Mapping[str, Any]) -> ProvisionedDomain:
    return ProvisionedDomain(
        id=str(data["id"]),
        # "name" is what the order body uses; "domain" accepted as well.
        name=str(data.get("name") or data.get("domain") or "").lower(),
        status=str(data["status"]),
        order_id=str(data.get("orderId") or ""),
        mailboxes=[dict(m) for m in data.get("mailboxes") or [] if isinstance(m, Mapping)],
        raw=dict(data),
    )


@dataclass(frozen=True)
class OrderProvisioning:
    """An order's domains as the last poll saw them. `in_progress` stays True until
    every domain of the order is listed and none is `inProgress`."""

    order_id: str
    expected: tuple[str, ...]
    domains: tuple[ProvisionedDomain, ...]
    polls: int

    @property
    def in_progress(self) -> bool:
        listed = {domain.name for domain in self.domains}
        return (not self.domains or any(d.status == IN_PROGRESS for d in self.domains)
                or not set(self.expected) <= listed)

    @property
    def status(self) -> str:
        """inProgress while in progress; else failed if any domain failed, active when
        all are active, otherwise the first other status (deleted, expired)."""
        if self.in_progress:
            return IN_PROGRESS
        statuses = [domain.status for domain in self.domains]
        if "failed" in statuses:
            return "failed"
        if all(status == "active" for status in statuses):
            return "active"
        return next(status for status in statuses if status != "active")


def parse_error(status: int, body: Any, text: str, request_id: str) -> ProviderError:
    """Document 003 gives no error body. Assumed Saleshandy's usual
    {"message": str | [str], "error"?, "code"?}; the message goes to the log only."""
    body = body if isinstance(body, Mapping) else {}
    message = body.get("message") or body.get("error") or ""
    if isinstance(message, list):
        message = "; ".join(str(part) for part in message)
    code = body.get("code")
    code = code if isinstance(code, str) and re.fullmatch(r"[a-z][a-z0-9_]*", code) else ""
    return error_for(status, code, upstream_message=str(message), request_id=request_id)




def _cents(entry: Mapping[str, Any], *names: str) -> Money | None:
    for name in names:
        value = entry.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return Money(value, PLAN_CURRENCY)
    return None


def parse_plans(value: Any, *, providers: tuple[str, ...],
                plan_types: tuple[str, ...]) -> list[EmailPlan]:
    """GET /v1/domain/plans, unwrapped. Document 003 names the endpoint only; read are
    {ESP: {planType: {"mailboxPriceCents", "domainPriceCents"}}} and a list (or "plans")
    of {"emailServiceProvider", "planType", "mailboxPriceCents", "domainPriceCents"}.
    Only the mailbox providers and plan types an order can carry are kept; a price that
    is not whole cents is left unstated. ValueError when neither shape is there."""
    entries: list[tuple[str, str, Mapping[str, Any]]] = []
    if isinstance(value, Mapping) and isinstance(value.get("plans"), list):
        value = value["plans"]
    if isinstance(value, list):
        for entry in value:
            if isinstance(entry, Mapping):
                entries.append((str(entry.get("emailServiceProvider") or ""),
                                str(entry.get("planType") or ""), entry))
    elif isinstance(value, Mapping):
        for esp, plans in value.items():
            if isinstance(plans, Mapping):
                entries.extend((str(esp), str(plan), prices) for plan, prices in plans.items()
                               if isinstance(prices, Mapping))
    else:
        raise ValueError("the plans are neither a list nor an object")
    return [EmailPlan(email_service_provider=esp, plan_type=plan,
                      mailbox_price=_cents(prices, "mailboxPriceCents"),
                      domain_price=_cents(prices, "domainPriceCents"))
            for esp, plan, prices in entries if esp in providers and plan in plan_types]
