"""`manage.py billing_link ACCOUNT_REF --as USERNAME [--return-url URL]`: a customer's
billing-portal link, from a shell.

The admin's "Billing-portal link" page, through the same form (billing.forms.BillingLinkForm)
and service (billing.portal.billing_link_generate): the same permission, the same checks
of the return URL, one audit row with the link's token masked. The link is a capability,
so it is printed once, alone, on stdout (what a person or a pipe hands to the customer)
and nowhere else: not on stderr, not in a log, not stored.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.management.base import CommandError, CommandParser

from backoffice.acting_user import resolve_acting_user
from backoffice.cli import ProjectCommand
from billing import portal
from billing.forms import BillingLinkForm
from billing.management.commands.order import (
    customer_account,
    field_problems,
    provider_choice,
    refuse,
)
from registrar.operations import OperationRefused

OPTIONS = {"provider_account": "--account-label", "return_url": "--return-url"}
NOTHING = "No link was generated."


class Command(ProjectCommand):
    help = ("Generate a customer's billing-portal link and print it once on stdout (the "
            "admin's billing-link page, same service and audit). It expires and is not kept.")

    admin_surfaces: tuple[str, ...] = ("page:admin:billing_account_billing_link",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("account_ref", metavar="ACCOUNT_REF",
                            help="The customer's reference.")
        parser.add_argument("--as", dest="actor", required=True, metavar="USERNAME",
                            help="The staff user acting: their permission is checked and "
                                 "they are the actor of the audit row.")
        parser.add_argument("--return-url", metavar="URL",
                            help="Where the customer lands when leaving the portal (https; "
                                 "default: the configured BILLING_PORTAL_RETURN_URL).")
        parser.add_argument("--account-label", dest="provider_label", metavar="LABEL",
                            help="The provider account whose portal it is (required when "
                                 "several can generate links).")

    def handle(self, *args: Any, account_ref: str, actor: str, return_url: str | None = None,
               provider_label: str | None = None, **options: Any) -> None:
        user = resolve_acting_user(actor, permission=portal.BILLING_LINK_PERMISSION,
                                   needed_for="generate billing-portal links")
        problems: list[str] = []
        account, problem = customer_account(account_ref)
        problems.append(problem)
        provider_pk, account_problem = provider_choice(
            provider_label, portal.billing_link_accounts(), "generates billing-portal links")
        form = BillingLinkForm({"provider_account": provider_pk,
                                "return_url": (portal.default_return_url()
                                               if return_url is None else return_url)})
        valid = form.is_valid()
        errors = dict(form.errors)
        if account_problem:
            errors.pop("provider_account", None)
            problems.append(account_problem)
        problems += field_problems(errors, OPTIONS)
        if not valid or any(problems):
            raise refuse(problems, NOTHING)
        try:
            outcome = portal.billing_link_generate(
                account=account, provider_account=form.cleaned_data["provider_account"],
                return_url=form.cleaned_data["return_url"], actor=user)
        except PermissionDenied:
            raise CommandError(f"{user.get_username()} is not allowed to generate "
                               f"billing-portal links. {NOTHING}") from None
        except OperationRefused as refusal:
            raise refuse([refusal.message, *field_problems(
                {k: v for k, v in refusal.field_errors.items()
                 if " ".join(v) not in refusal.message}, OPTIONS)], NOTHING) from None
        if not outcome.ok:
            raise CommandError(outcome.message)
        # The link alone on stdout, once; what to do with it on stderr.
        self.stdout.write(outcome.data["url"])
        self.stderr.write(outcome.message)
