"""Billing-portal links for customers.

A billing-portal link is a capability: whoever holds it can manage the customer's
payment methods until it expires. So it is generated only on a staff member's explicit
request, shown once on a page nothing caches, and never stored: not on the account,
not in the session or flash messages, not in logs. The audit row records that it was
generated, for whom and by whom, with the link's token masked.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db.models import QuerySet

from backoffice import audit
from backoffice.models import StaffAction
from billing.models import Account
from registrar.models import ProviderAccount
from registrar.operations import (
    InvalidInput,
    OperationRefused,
    Outcome,
    record_failure,
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

Outcomes = StaffAction.Outcome

BILLING_LINK_PERMISSION = "billing.generate_billing_link"
BILLING_LINK_ACTION = "billing.portal_link"


def billing_link_accounts() -> QuerySet[ProviderAccount]:
    """Enabled provider accounts whose adapter can mint billing-portal links."""
    return (ProviderAccount.objects.filter(enabled=True)
            .with_capability(Capability.BILLING_LINK).order_by("label"))


def default_return_url() -> str:
    return settings.BILLING_PORTAL_RETURN_URL


def billing_link_generate(*, account: Account, provider_account: ProviderAccount,
                          return_url: str, actor) -> Outcome:
    """Ask the upstream for `account`'s billing-portal link. On success the link is in
    `data["url"]` (and nowhere else); an upstream failure is an audited failed Outcome.
    Raises PermissionDenied, or InvalidInput with nothing sent."""
    require_permission(actor, BILLING_LINK_PERMISSION)
    errors: dict[str, list[str]] = {}
    if not billing_link_accounts().filter(pk=provider_account.pk).exists():
        errors["provider_account"] = [
            f"“{provider_account.label}” cannot generate billing-portal links."]
    try:
        URLValidator(schemes=["https"])(return_url)
    except ValidationError:
        errors["return_url"] = ["Give the full https:// address the customer returns to."]
    if not account.email:
        errors["__all__"] = ["This account has no e-mail address to open the portal for."]
    if errors:
        raise InvalidInput("No link was generated: correct the problems marked.",
                           field_errors=errors)
    try:
        provider = provider_for_account(provider_account)
    except (ConfigurationError, ServiceUnavailable) as error:
        raise OperationRefused(error.message, code=error.code) from error
    parameters = {"account": account.customer_reference, "email": account.email,
                  "provider_account": provider_account.label, "return_url": return_url}
    try:
        url = provider.billing_link(email=account.email, return_url=return_url)
    except CallerError as refusal:
        raise InvalidInput(f"No link was generated: {refusal}",
                           field_errors={"__all__": [str(refusal)]}) from refusal
    except ProviderError as error:
        failure = record_failure(actor=actor, action=BILLING_LINK_ACTION, target=account,
                                 parameters=parameters, error=error)
        detail = f" ({error.code})" if error.code else ""
        return Outcome(status=failure.status, error=error, audit_row=failure.audit_row,
                       message=f"{provider_account.label} could not generate the link: "
                               f"{error.message}{detail}. Nothing was changed; try again "
                               "in a moment.")
    message = (f"Billing-portal link for {account.email} generated. Send it to the customer "
               "now: it expires, and it is not kept here.")
    row = audit.record(actor=actor, action=BILLING_LINK_ACTION, target=account,
                       # "portal_url": the audit masks the link's token.
                       parameters={**parameters, "portal_url": url},
                       outcome=Outcomes.SUCCEEDED, message=message)
    return Outcome(status=Outcomes.SUCCEEDED, message=message, audit_row=row,
                   data={"url": url})
