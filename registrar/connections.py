"""Connecting a registered domain to an upstream's edge (DOMAIN_CONNECT): the upstream
mints a TLS certificate for the name and proxies it, once the registrar's DNS points
the name at the edge.

One service, `domain_connect`: permission first, the input checked before anything is
sent, one request (with an idempotency key made from the name, so a retry or a double
click connects once), one audit row whatever came of it. Nothing local changes: the
upstream's edge row is kept in the audit row, which is where staff look it up.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from backoffice import audit
from registrar.models import ProviderAccount, Registration
from registrar.operations import (
    InvalidInput,
    OperationRefused,
    Outcome,
    Outcomes,
    Settled,
    record_failure,
    record_unknown,
    require_permission,
)
from registrar.providers.base import Capability
from registrar.providers.errors import (
    CallerError,
    ConfigurationError,
    ProviderError,
    ServiceUnavailable,
)
from registrar.providers.registry import provider_for_account
from registrar.values.names import intake_name, to_unicode

#: Serving a name from an edge is part of how its DNS answers: the DNS-records right.
CONNECT_PERMISSION = "registrar.manage_dns_records"
CONNECT_ACTION = "domain.connect"


def connect_accounts() -> QuerySet[ProviderAccount]:
    """The enabled accounts whose upstream can connect a domain to its edge."""
    return (ProviderAccount.objects.filter(enabled=True)
            .with_capability(Capability.DOMAIN_CONNECT).order_by("label"))


def connect_idempotency_key(domain: str) -> str:
    """Made from the name: the same name always sends the same key."""
    return f"backoffice-connect-{domain}"


@dataclass(frozen=True)
class ConnectRequest:
    """A connect as checked, before anything is sent."""

    provider_account: ProviderAccount
    domain: str  # ASCII
    registration: Registration | None
    idempotency_key: str


def clean_connect(*, provider_account: ProviderAccount, domain: object) -> ConnectRequest:
    """The connect as it would be sent, or InvalidInput naming the field (domain,
    provider_account); sends nothing, writes nothing."""
    errors: dict[str, list[str]] = {}
    if not provider_account.enabled or not provider_account.supports(
            Capability.DOMAIN_CONNECT):
        errors["provider_account"] = [
            f"“{provider_account.label}” cannot connect domains to an edge."]
    name = ""
    try:
        name = intake_name("" if domain is None else str(domain))
    except ValidationError as refusal:
        errors["domain"] = list(refusal.messages)
    if errors:
        raise InvalidInput("Nothing was sent: correct the problems marked.",
                           field_errors=errors)
    registration = Registration.objects.filter(name=name).first()
    return ConnectRequest(provider_account=provider_account, domain=name,
                          registration=registration,
                          idempotency_key=connect_idempotency_key(name))


def domain_connect(*, provider_account: ProviderAccount, domain: object, actor) -> Outcome:
    """Connect `domain` to `provider_account`'s edge. Raises PermissionDenied,
    InvalidInput or OperationRefused (nothing sent, nothing audited); otherwise one
    audit row (on the registration when the back-office has it, else on the account)
    and an Outcome: succeeded with `data["connection"]`, failed (nothing connected) or
    unknown (it may have been connected)."""
    require_permission(actor, CONNECT_PERMISSION)
    request = clean_connect(provider_account=provider_account, domain=domain)
    try:
        provider = provider_for_account(provider_account)
    except (ConfigurationError, ServiceUnavailable) as error:
        raise OperationRefused(error.message, code=error.code) from error
    target = request.registration or provider_account
    parameters = {"provider_account": provider_account.label, "domain": request.domain,
                  "idempotency_key": request.idempotency_key}
    upstream = provider_account.get_kind_display()
    shown = to_unicode(request.domain)
    try:
        connection = provider.connect_domain(request.domain,
                                             idempotency_key=request.idempotency_key)
    except CallerError as refusal:
        raise InvalidInput(f"Nothing was sent: {refusal}",
                           field_errors={"domain": [str(refusal)]}) from refusal
    except ProviderError as error:
        if error.outcome_unknown:
            return record_unknown(
                actor=actor, action=CONNECT_ACTION, target=target, parameters=parameters,
                error=error, settled=Settled(settled=False, applied=None, message=(
                    f"{upstream} may have connected {shown}. Connecting again is safe: it "
                    f"carries the same idempotency key, so {upstream} connects it once.")))
        said = replace_message(error, f"{upstream} did not connect {shown}: "
                                      f"{error.message} Nothing was connected.")
        return record_failure(actor=actor, action=CONNECT_ACTION, target=target,
                              parameters=parameters, error=said)
    message = (f"{shown} is connected to {upstream}'s edge (domain id "
               f"{connection.upstream_id}). It serves the name once the registrar's DNS "
               f"points it at {upstream} (one CNAME).")
    row = audit.record(actor=actor, action=CONNECT_ACTION, target=target,
                       parameters={**parameters, "connected_domain_id": connection.upstream_id,
                                   "status": connection.status},
                       outcome=Outcomes.SUCCEEDED, upstream_request_id=connection.request_id,
                       message=message)
    return Outcome(status=Outcomes.SUCCEEDED, message=message, audit_row=row,
                   data={"connection": connection, "registration": request.registration})


def replace_message(error: ProviderError, message: str) -> ProviderError:
    """The same error (class, code, status, request id), saying what it means for this
    connect."""
    said = copy.copy(error)
    said.message = message
    return said
