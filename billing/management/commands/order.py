"""`manage.py order quote|confirm|email|list|show|follow ... --as USERNAME`: what Support and
Finance do with orders in the admin, from a shell.

Each subcommand runs what the admin page runs, with the named user as actor: the same
form (billing.forms), the same service (billing.ordering, billing.email_orders,
billing.order_sync), the same permission check and audit rows.

- `quote` is the account's "Order a domain" page: the upstream is asked for availability
  and price, and a QUOTED order is kept (nothing that costs money is sent);
- `confirm` is the confirmation page: it places the quoted order. A transfer's auth code
  is read from stdin (`--auth-code-stdin`), never from the command line, and is sent once,
  never printed, stored or logged;
- `email` is "Order email infrastructure";
- `list` and `show` read what the order list, the order page and the finance area show;
- `follow` reads one order at its upstream now, as the follow-up task does.

Writes take `--dry-run` (checked as the page checks it, nothing sent, nothing stored);
reads take `--format table|csv|json`. The exit status is non-zero when anything failed or
was refused.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import CommandError, CommandParser
from django.http import QueryDict

from backoffice.acting_user import resolve_acting_user
from backoffice.cli import (
    ProjectCommand,
    argument_reason,
    record_id,
    whole_number,
    write_rows,
)
from backoffice.models import StaffAction
from billing import email_orders, order_follow, ordering, portal
from billing.finance.access import FINANCE_PERMISSION
from billing.forms import ConfirmDomainOrderForm, DomainOrderForm, EmailInfrastructureOrderForm
from billing.models import Account, LedgerEntry, Order, OrderKind, OrderStatus
from registrar.models import ProviderAccount
from registrar.money import format_minor
from registrar.operations import OperationRefused
from registrar.providers.base import Money
from registrar.providers.errors import ConfigurationError, ServiceUnavailable
from registrar.providers.registry import provider_for_account
from registrar.values.dates import parse_day
from registrar.values.names import intake_name

Outcomes = StaffAction.Outcome
FORMATS = ("table", "csv", "json")
VIEW_ORDER_PERMISSION = "billing.view_order"
VIEW_LEDGER_PERMISSION = "billing.view_ledgerentry"
#: Rows `list` prints unless told otherwise, and the most it prints (export_orders
#: streams any number as CSV).
LIST_DEFAULT, LIST_MOST = 100, 1000
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

#: The quote form's fields, as the command's options name them.
QUOTE_OPTIONS = {"provider_account": "--account-label", "action": "--action",
                 "domain": "NAME", "years": "--years", "owner": "--owner",
                 "allow_acquisition": "--allow-acquisition", "ceiling": "--ceiling"}
#: The email-order form's fields, as the command's options name them.
EMAIL_OPTIONS = {"provider_account": "--account-label", "first_name": "--first-name",
                 "last_name": "--last-name", "organization": "--organization",
                 "street_address": "--street-address", "city": "--city", "state": "--state",
                 "post_code": "--post-code", "country": "--country", "phone": "--phone",
                 "email_service_provider": "--email-service-provider",
                 "plan_type": "--plan-type", "redirect_url": "--redirect-url",
                 "domains": "--domain"}
# --- shared helpers (also used by the account and billing_link commands) ----------------


#: The mailbox-name service's fields -> the options they come from.
MAILBOX_OPTIONS = {"first_name": "--first-name", "last_name": "--last-name",
                   "domains": "DOMAIN", "mailbox_count": "--count",
                   "provider_account": "--account-label"}


def field_problems(errors: Mapping[str, Sequence[str]], options: Mapping[str, str]) -> list[str]:
    """A form's (or a refusal's) errors as sentences naming the option each came from."""
    problems = []
    for field, messages in errors.items():
        text = " ".join(str(message) for message in messages)
        where = options.get(field, "" if field in {"__all__", None} else field)
        problems.append(f"{where}: {text}" if where else text)
    return problems


def refuse(problems: Iterable[str], nothing: str = "Nothing was sent.") -> CommandError:
    listed = [problem.rstrip(".") for problem in problems if problem]
    return CommandError(f"{'; '.join(listed)}. {nothing}" if listed else nothing)


def customer_account(reference: str, option: str = "ACCOUNT_REF") -> tuple[Account | None, str]:
    """The customer account whose reference is `reference` (exactly, as the admin's search
    reads a reference), or None and the sentence that says so."""
    account = Account.objects.filter(customer_reference=reference.strip()).first() \
        if reference.strip() else None
    if account is None:
        return None, f"{option}: no customer account with the reference “{reference[:64]}”"
    return account, ""


def provider_choice(label: str | None, candidates, what: str) -> tuple[Any, str]:
    """(the provider account's pk for a form, or "", and the problem): `label` when given,
    else the only account in `candidates`."""
    if label is not None:
        chosen = ProviderAccount.objects.filter(label=label).first()
        if chosen is None:
            return "", f"--account-label: no provider account “{label[:64]}”"
        return chosen.pk, ""
    accounts = list(candidates)
    if len(accounts) == 1:
        return accounts[0].pk, ""
    if not accounts:
        return "", f"--account-label: no enabled provider account {what}"
    labels = ", ".join(account.label for account in accounts)
    return "", f"--account-label: name the provider account ({labels})"


def emit(stdout, header: Sequence[str], rows: Sequence[Sequence[Any]], output_format: str,
         *, records: Any = None) -> None:
    """`rows` under `header` as an aligned table, CSV or JSON (`records` when given, else
    one object per row)."""
    if output_format == "json" and records is not None:
        stdout.write(json.dumps(records, indent=2, ensure_ascii=False, default=str))
    else:
        write_rows(stdout, header, rows, output_format)


def strict_day(value: str, option: str) -> date:
    """YYYY-MM-DD exactly, within the window the back-office holds (as export_orders)."""
    problem = "a date as YYYY-MM-DD"
    if _DATE.match(value):
        try:
            return parse_day(value)
        except ValidationError as exc:
            problem = f"a date as YYYY-MM-DD, {exc.messages[0][0].lower()}{exc.messages[0][1:]}"
    raise CommandError(f"{option} must be {problem.rstrip('.')} (got {value[:40]!r}).")


def _money(amount: int | None, currency: str) -> str:
    return "" if amount is None else format_minor(amount, currency)


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else ""


def _add_actor(sub: CommandParser) -> None:
    sub.add_argument("--as", dest="actor", required=True, metavar="USERNAME",
                     help="The staff user acting: their permission is checked and they are "
                          "the actor of the audit rows.")


def _add_format(sub: CommandParser) -> None:
    sub.add_argument("--format", choices=FORMATS, default="table", dest="output_format",
                     help="table (default), csv or json.")


class Command(ProjectCommand):
    help = ("Quote and confirm domain orders, place email-infrastructure orders, list, show "
            "and follow orders: the admin's order pages from a shell, through the same "
            "services (permission check, audit row with --as as the actor).")

    admin_surfaces: tuple[str, ...] = (
        "page:admin:billing_account_domain_order",
        "page:admin:billing_account_domain_order_confirm",
        "page:admin:billing_account_email_order",
        "model:billing.order:change",
        "model:billing.orderitem:change",
        "page:finance:order",
        "page:finance:orders",
        "page:finance:attention",
        "page:admin:billing_order_follow",
    )
    # `confirm --auth-code-stdin` reads this stream (sys.stdin unless a caller passes one).
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

        quote = verbs.add_parser("quote", help="Price a domain order for a customer (buys "
                                               "nothing).",
                                 description="Ask the upstream for availability and price; "
                                             "a quoted order is kept for `order confirm`.")
        quote.add_argument("account_ref", metavar="ACCOUNT_REF",
                           help="The customer's reference.")
        quote.add_argument("name", metavar="NAME", help="The domain, Unicode or ASCII.")
        quote.add_argument("--action", required=True, choices=[a for a, _ in
                                                                ordering.Action.CHOICES],
                           help="register, transfer (in) or renew.")
        quote.add_argument("--years", type=whole_number(ordering.MIN_YEARS,
                                                        ordering.MAX_YEARS),
                           default=1, metavar="N", help="The term in years (default 1).")
        quote.add_argument("--account-label", dest="provider_label", metavar="LABEL",
                           help="The provider account ordered from (required when several "
                                "take domain orders).")
        quote.add_argument("--owner", type=record_id, metavar="CONTACT_ID",
                           help="The registrant contact of a new registration or transfer "
                                "(the Domain API and Domainee need one).")
        quote.add_argument("--allow-acquisition", action="store_true",
                           help="Offer aftermarket and expiring names (name.com).")
        quote.add_argument("--ceiling", metavar="USD",
                           help="The most the customer pays, in USD (Domainee quotes no "
                                "price and needs it).")
        quote.add_argument("--dry-run", action="store_true",
                           help="Check the input as the page does; ask nothing, keep nothing.")
        _add_format(quote)
        _add_actor(quote)

        confirm = verbs.add_parser("confirm", help="Place a quoted domain order.",
                                   description="Place a quoted order; the upstream re-checks "
                                               "the price first and refuses, uncharged, if "
                                               "it moved.")
        confirm.add_argument("quote_id", type=record_id, metavar="QUOTE_ID",
                             help="The quoted order's number (from `order quote`).")
        confirm.add_argument("--auth-code-stdin", action="store_true",
                             help="Read a transfer's authorization (EPP) code from the first "
                                  "line of stdin. It is sent once, never shown or kept.")
        confirm.add_argument("--dry-run", action="store_true",
                             help="Show what would be placed; send nothing, change nothing.")
        _add_actor(confirm)

        email = verbs.add_parser("email", help="Order email infrastructure for a customer.",
                                 description="Domains with mailboxes, as the admin's email "
                                             "order form takes them.")
        email.add_argument("account_ref", metavar="ACCOUNT_REF",
                           help="The customer's reference.")
        email.add_argument("--account-label", dest="provider_label", metavar="LABEL",
                           help="The email-infrastructure provider account (required when "
                                "several sell it).")
        for option, required, summary in (
                ("--first-name", True, "Owner first name."),
                ("--last-name", True, "Owner last name."),
                ("--organization", False, "Company name."),
                ("--street-address", True, "Street address."),
                ("--city", True, "City."),
                ("--state", False, "State or province."),
                ("--post-code", True, "Post code, valid for the country."),
                ("--country", True, "ISO 3166-1 alpha-2, e.g. US."),
                ("--phone", True, "International (E.164), e.g. +14155551234."),
                ("--email-service-provider", True, "The mailbox provider (ESP)."),
                ("--plan-type", False, "The billing cycle (default: the first offered)."),
                ("--redirect-url", False, "Redirect domain for every domain: a bare domain "
                                          "such as acmecorp.com.")):
            email.add_argument(option, required=required, default=None, help=summary)
        email.add_argument("--domain", dest="domains", action="append", default=[],
                           metavar='"DOMAIN: MAILBOX, ..."',
                           help='One domain and its mailboxes, as the form\'s lines, e.g. '
                                '"acme-mail.com: john.smith, jane=Jane Doe". Repeatable.')
        email.add_argument("--file", metavar="PATH",
                           help="More domain lines from PATH (- for stdin), one per line.")
        email.add_argument("--dry-run", action="store_true",
                           help="Check the order by the upstream's rules; send nothing.")
        _add_actor(email)

        plans = verbs.add_parser("plans", help="The email upstream's plans and prices.")
        plans.add_argument("--account-label", dest="provider_label", metavar="LABEL",
                           help="The email-infrastructure provider account (required when "
                                "several sell it).")
        _add_format(plans)
        _add_actor(plans)
        names = verbs.add_parser("mailbox-names",
                                 help="Mailbox addresses the email upstream suggests.",
                                 description="What the email order form's \"Suggest mailbox "
                                             "names\" asks: addresses for the owner on DOMAIN.")
        names.add_argument("domain", metavar="DOMAIN", help="The domain the mailboxes are on.")
        names.add_argument("--first-name", required=True, help="Owner first name.")
        names.add_argument("--last-name", required=True, help="Owner last name.")
        names.add_argument("--count", type=whole_number(), default=3, metavar="N",
                           help=f"How many names (1 to {email_orders.MAILBOX_SUGGESTIONS_MAX}).")
        names.add_argument("--account-label", dest="provider_label", metavar="LABEL",
                           help="The email-infrastructure provider account (required when "
                                "several sell it).")
        _add_format(names)
        _add_actor(names)

        listing = verbs.add_parser("list", help="Orders, newest first.")
        listing.add_argument("--account", metavar="ACCOUNT_REF",
                             help="Only this customer's orders.")
        listing.add_argument("--status", action="append", default=[], metavar="STATUS",
                             help="Only orders in this status; repeat it or separate "
                                  "statuses with commas.")
        listing.add_argument("--since", metavar="YYYY-MM-DD", help="Placed on or after "
                                                                   "this day (UTC).")
        listing.add_argument("--until", metavar="YYYY-MM-DD", help="Placed on or before "
                                                                   "this day (UTC).")
        listing.add_argument("--attention", action="store_true",
                             help="Only orders that need attention (finance's report).")
        listing.add_argument("--limit", type=whole_number(1, LIST_MOST), default=LIST_DEFAULT,
                             metavar="N", help=f"At most N orders (default {LIST_DEFAULT}, "
                                               f"at most {LIST_MOST}).")
        _add_format(listing)
        _add_actor(listing)

        show = verbs.add_parser("show", help="One order with its items and ledger.")
        show.add_argument("order_id", type=record_id, metavar="ID", help="The order number.")
        _add_format(show)
        _add_actor(show)

        follow = verbs.add_parser("follow", help="Read one order at its upstream now.",
                                  description="Read the order at its upstream now, as the "
                                              "follow-up task does, and show old -> new.")
        follow.add_argument("order_id", type=record_id, metavar="ID", help="The order number.")
        _add_actor(follow)

    def handle(self, *args: Any, **options: Any) -> None:
        verb = options["verb"]
        getattr(self, f"_{verb.replace('-', '_')}")(options)

    # -- quote -------------------------------------------------------------------------

    def _quote(self, options: dict[str, Any]) -> None:
        actor = resolve_acting_user(options["actor"], permission=ordering.PLACE_ORDER_PERMISSION,
                                    needed_for="place orders")
        problems: list[str] = []
        account, problem = customer_account(options["account_ref"])
        problems.append(problem)
        provider_pk, problem = provider_choice(options["provider_label"],
                                               ordering.ordering_accounts(),
                                               "takes domain orders")
        ceiling = options["ceiling"]
        if ceiling is not None and not ceiling.strip():
            problems.append("--ceiling: give an amount, or leave the option out")
        form = DomainOrderForm({
            "provider_account": provider_pk, "action": options["action"],
            "domain": options["name"], "years": str(options["years"]),
            "owner": options["owner"] or "",
            "allow_acquisition": "on" if options["allow_acquisition"] else "",
            "ceiling": ceiling or ""}, account=account)
        valid = form.is_valid()
        errors = dict(form.errors)
        if problem:
            errors.pop("provider_account", None)
            problems.append(problem)
        problems += field_problems(errors, QUOTE_OPTIONS)
        if not valid or any(problems):
            raise refuse(problems, "Nothing was quoted.")
        data = form.cleaned_data
        price_cap = (Money(int(data["ceiling"] * 100), "USD")
                     if data.get("ceiling") is not None else None)
        request = ordering.OrderRequest(
            account=account, provider_account=data["provider_account"],
            action=data["action"], domain=data["domain"], years=data["years"],
            owner=data.get("owner"), allow_acquisition=data["allow_acquisition"],
            ceiling=price_cap)
        if options["dry_run"]:
            try:
                # The service's own input rules, which it checks before any HTTP.
                ordering._check_request(request)
            except OperationRefused as refusal:
                raise refuse(field_problems(refusal.field_errors, QUOTE_OPTIONS),
                             "Nothing was quoted.") from None
            cap = ("" if price_cap is None
                   else f", at most {format_minor(price_cap.amount_minor, 'USD')}")
            self.stdout.write(
                f"Dry run: would ask {data['provider_account'].label} to quote "
                f"{dict(ordering.Action.CHOICES)[data['action']].lower()} "
                f"{data['domain']} for {data['years']} year(s) for "
                f"{account.customer_reference}{cap}. Nothing was sent, nothing was kept.")
            return
        try:
            outcome = ordering.order_quote(request, actor=actor)
        except PermissionDenied as denied:
            raise CommandError(f"{actor.get_username()} is not allowed to place orders "
                               f"({denied or 'permission denied'}). Nothing was quoted.") from None
        except OperationRefused as refusal:
            raise refuse([refusal.message, *field_problems(
                {k: v for k, v in refusal.field_errors.items()
                 if " ".join(v) not in refusal.message}, QUOTE_OPTIONS)],
                "Nothing was quoted.") from None
        if not outcome.ok:
            raise CommandError(f"{outcome.message} No quote was kept.")
        order = outcome.data["order"]
        self._show_quote(order, options["output_format"])

    def _show_quote(self, order: Order, output_format: str) -> None:
        record = {"quote_id": order.pk, "domain": order.domain, "kind": order.kind,
                  "years": order.years, "provider_account": order.provider_account.label,
                  "account": order.customer_reference,
                  "price": _money(order.quoted_total_minor, order.currency),
                  "quoted_total_minor": order.quoted_total_minor, "currency": order.currency,
                  "premium": order.premium, "purchase_type": order.purchase_type,
                  "expires_at": _when(order.quote_expires_at),
                  "notes": list(order.quote.get("notes") or [])}
        if output_format == "table":
            self.stdout.write(f"Quote {order.pk}: {ordering.describe_quote(order)}")
            self.stdout.write(f"  price: {record['price'] or 'not quoted'}; expires "
                              f"{record['expires_at']}; at {record['provider_account']}")
            for note in record["notes"]:
                self.stdout.write(f"  note: {note}")
            self.stdout.write(f"Confirm it with: manage.py order confirm {order.pk} --as …")
            return
        header = tuple(key for key in record if key != "notes")
        emit(self.stdout, header, [[record[key] for key in header]], output_format,
             records=record)

    # -- confirm -----------------------------------------------------------------------

    def _confirm(self, options: dict[str, Any]) -> None:
        actor = resolve_acting_user(options["actor"], permission=ordering.PLACE_ORDER_PERMISSION,
                                    needed_for="place orders")
        order = Order.objects.select_related("provider_account", "account").filter(
            pk=options["quote_id"]).first()
        if order is None or order.kind not in ordering.Action.KIND.values() \
                or order.provider_account is None:
            raise CommandError(f"QUOTE_ID: no domain order {options['quote_id']}. Nothing was "
                               "sent.")
        auth_code = ""
        if options["auth_code_stdin"]:
            auth_code = self._read_auth_code(options)
        if order.status == OrderStatus.QUOTED:
            transfer = order.kind == OrderKind.TRANSFER_IN
            if transfer and not auth_code:
                raise CommandError("--auth-code-stdin: a transfer needs the authorization "
                                   "(EPP) code from the losing registrar; pipe it on stdin "
                                   "with --auth-code-stdin. Nothing was sent.")
            if auth_code and not transfer:
                raise CommandError(f"--auth-code-stdin: order {order.pk} is a "
                                   f"{order.get_kind_display().lower()}, which takes no "
                                   "authorization code. Nothing was sent.")
        if options["dry_run"]:
            self._confirm_dry_run(order, bool(auth_code))
            return
        try:
            outcome = ordering.order_confirm(order=order, actor=actor, auth_code=auth_code)
        except PermissionDenied:
            raise CommandError(f"{actor.get_username()} is not allowed to place orders. "
                               "Nothing was sent.") from None
        except OperationRefused as refusal:
            options_named = {"auth_code": "--auth-code-stdin"}
            raise refuse([refusal.message, *field_problems(
                {k: v for k, v in refusal.field_errors.items()
                 if " ".join(v) not in refusal.message}, options_named)]) from None
        finally:
            auth_code = ""  # not kept a moment longer than the call
        placed = outcome.data.get("order", order)
        self.stdout.write(f"Order {placed.pk}: {outcome.status} \N{EN DASH} {outcome.message}")
        if outcome.status in (Outcomes.FAILED, Outcomes.UNKNOWN):
            raise CommandError(f"Order {placed.pk} was not placed as asked "
                               f"({outcome.status}); see the line above.")

    def _read_auth_code(self, options: dict[str, Any]) -> str:
        stream = options.get("stdin") or sys.stdin
        line = stream.readline()
        reason = argument_reason(line.rstrip("\r\n")) if line else None
        if reason:
            # The reason names a code point, never the code.
            raise CommandError(f"--auth-code-stdin: the code {reason}. Nothing was sent.")
        form = ConfirmDomainOrderForm({"auth_code": line.strip()})
        if not form.is_valid():
            raise refuse(field_problems(form.errors, {"auth_code": "--auth-code-stdin"}))
        code = form.cleaned_data["auth_code"]
        if not code:
            raise CommandError("--auth-code-stdin: stdin held no code. Nothing was sent.")
        return code

    def _confirm_dry_run(self, order: Order, has_code: bool) -> None:
        if order.status != OrderStatus.QUOTED:
            self.stdout.write(f"Dry run: order {order.pk} was already confirmed; it is "
                              f"{order.get_status_display().lower()}. Nothing would be sent "
                              "again.")
            return
        if not ordering.open_quote(order):
            raise CommandError(f"QUOTE_ID: the quote of order {order.pk} expired: prices "
                               "move, so quote it again. Nothing was sent.")
        try:
            provider = provider_for_account(order.provider_account)
        except (ConfigurationError, ServiceUnavailable) as error:
            raise CommandError(f"{error.message} Nothing was sent.") from None
        price = _money(order.quoted_total_minor, order.currency) or "no price quoted"
        ceiling = order.quote.get("ceiling_minor")
        cap = "" if ceiling is None else f" (at most {format_minor(ceiling, order.currency)})"
        term = "" if order.kind == OrderKind.TRANSFER_IN else f" for {order.years} year(s)"
        self.stdout.write(
            f"Dry run: would place order {order.pk} at {order.provider_account.label}: "
            f"{order.get_kind_display().lower()} of {order.domain}{term} for "
            f"{order.customer_reference or 'no customer'}, {price}{cap}"
            f", idempotency key {ordering.idempotency_key(order, provider)}"
            f"{', with the authorization code from stdin' if has_code else ''}. The upstream "
            "would re-check the price first. Nothing was sent.")

    # -- email -------------------------------------------------------------------------

    def _email_tools_account(self, options: dict[str, Any]) -> tuple[Any, ProviderAccount]:
        actor = resolve_acting_user(options["actor"],
                                    permission=email_orders.PLACE_ORDER_PERMISSION,
                                    needed_for="place orders")
        provider_pk, problem = provider_choice(
            options["provider_label"], email_orders_accounts(), "sells email infrastructure")
        if problem:
            raise CommandError(f"{problem}. Nothing was asked.")
        return actor, ProviderAccount.objects.get(pk=provider_pk)

    def _plans(self, options: dict[str, Any]) -> None:
        actor, provider_account = self._email_tools_account(options)
        try:
            plans = email_orders.email_order_plans(provider_account=provider_account,
                                                   actor=actor)
        except OperationRefused as refusal:
            raise refuse([refusal.message], "Nothing was ordered.") from None

        def price(money: Money | None) -> str:
            return "" if money is None else format_minor(money.amount_minor, money.currency)

        emit(self.stdout, ("email_service_provider", "plan_type", "mailbox_price",
                           "domain_price"),
             [(plan.email_service_provider, plan.plan_type, price(plan.mailbox_price),
               price(plan.domain_price)) for plan in plans], options["output_format"])

    def _mailbox_names(self, options: dict[str, Any]) -> None:
        # What is typed is checked before anything else, so a refusal names it.
        try:
            domain = intake_name(options["domain"])
        except ValidationError as refusal:
            raise CommandError(f"DOMAIN: {refusal.messages[0]} Nothing was asked.") from None
        if not 1 <= options["count"] <= email_orders.MAILBOX_SUGGESTIONS_MAX:
            raise CommandError(f"--count: ask for 1 to {email_orders.MAILBOX_SUGGESTIONS_MAX} "
                               "names. Nothing was asked.")
        actor, provider_account = self._email_tools_account(options)
        try:
            names = email_orders.email_mailbox_names(
                provider_account=provider_account, first_name=options["first_name"],
                last_name=options["last_name"], domain=domain,
                count=options["count"], actor=actor)
        except OperationRefused as refusal:
            raise refuse(field_problems(refusal.field_errors, MAILBOX_OPTIONS) or
                         [refusal.message], "Nothing was asked.") from None
        emit(self.stdout, ("mailbox",), [(name,) for name in names], options["output_format"])

    def _email(self, options: dict[str, Any]) -> None:
        actor = resolve_acting_user(options["actor"],
                                    permission=email_orders.PLACE_ORDER_PERMISSION,
                                    needed_for="place orders")
        problems: list[str] = []
        account, problem = customer_account(options["account_ref"])
        problems.append(problem)
        provider_pk, account_problem = provider_choice(
            options["provider_label"], email_orders_accounts(), "sells email infrastructure")
        lines = list(options["domains"])
        if options["file"]:
            lines += _read_lines(options["file"])
        data = {field: options.get(field) or "" for field in EMAIL_OPTIONS
                if field not in {"provider_account", "domains"}}
        form = EmailInfrastructureOrderForm({**data, "provider_account": provider_pk,
                                             "domains": "\n".join(lines)})
        if not options["plan_type"] and form.fields["plan_type"].initial:
            # The page preselects the first cycle offered; so does this.
            form = EmailInfrastructureOrderForm({**data, "provider_account": provider_pk,
                                                 "plan_type": form.fields["plan_type"].initial,
                                                 "domains": "\n".join(lines)})
        valid = form.is_valid()
        errors = dict(form.errors)
        if account_problem:
            errors.pop("provider_account", None)
            problems.append(account_problem)
        if not lines:
            errors.pop("domains", None)
            problems.append("--domain: give at least one domain line (or --file)")
        problems += field_problems(errors, EMAIL_OPTIONS)
        if not valid or any(problems):
            raise refuse(problems, "The order was not sent.")
        cleaned = form.cleaned_data
        mailboxes = sum(len(domain["mailboxes"]) for domain in cleaned["domains"])
        names = ", ".join(domain["name"] for domain in cleaned["domains"])
        if options["dry_run"]:
            self.stdout.write(
                f"Dry run: would order at {cleaned['provider_account'].label} for "
                f"{account.customer_reference}: {mailboxes} mailbox(es) on {names} "
                f"({cleaned['email_service_provider']}, {cleaned['plan_type']}). The order "
                "passes the upstream's rules. Nothing was sent, nothing was kept.")
            return
        try:
            outcome = email_orders.email_order_place(
                account=account, provider_account=cleaned["provider_account"],
                owner=cleaned["owner"], email_service_provider=cleaned["email_service_provider"],
                plan_type=cleaned["plan_type"], domains=cleaned["domains"], actor=actor)
        except PermissionDenied:
            raise CommandError(f"{actor.get_username()} is not allowed to place orders. "
                               "The order was not sent.") from None
        except OperationRefused as refusal:
            form.add_refusal(refusal)
            raise refuse([refusal.message, *field_problems(
                {k: v for k, v in form.errors.items() if k != "__all__"}, EMAIL_OPTIONS)],
                "The order was not sent.") from None
        order = outcome.data.get("order")
        number = f"Order {order.pk}: " if order is not None else ""
        self.stdout.write(f"{number}{outcome.status} \N{EN DASH} {outcome.message}")
        checkout = outcome.data.get("checkout_url")
        if outcome.ok and checkout:
            if actor.has_perm(portal.BILLING_LINK_PERMISSION):
                # Printed here, once: never logged; the audit row holds it masked.
                self.stdout.write(f"Checkout link for the customer: {checkout}")
            else:
                self.stdout.write("The checkout link is shown only to staff who may hand "
                                  "out billing links.")
        if not outcome.ok:
            detail = (f" (upstream code: {outcome.error.code})"
                      if outcome.error is not None and outcome.error.code else "")
            raise CommandError(f"The email order did not go through ({outcome.status})"
                               f"{detail}; see the line above.")

    # -- list / show -------------------------------------------------------------------

    def _list(self, options: dict[str, Any]) -> None:
        actor = resolve_acting_user(options["actor"], permission=VIEW_ORDER_PERMISSION,
                                    needed_for="see orders")
        from billing.finance.attention import needing_attention
        from billing.finance.filters import error_messages, filtered_orders

        base = Order.objects.all()
        if options["attention"]:
            if not actor.has_perm(FINANCE_PERMISSION):
                raise CommandError(f"--attention: {actor.get_username()} may not use the "
                                   f"finance area (needs the permission {FINANCE_PERMISSION}).")
            base = needing_attention()
        if options["account"] is not None:
            account, problem = customer_account(options["account"], "--account")
            if account is None:
                raise CommandError(f"{problem}.")
            base = base.filter(account=account)
        params = QueryDict(mutable=True)
        for status in _statuses(options["status"]):
            params.appendlist("status", status)
        first = (strict_day(options["since"], "--since") if options["since"] is not None
                 else None)
        last = (strict_day(options["until"], "--until") if options["until"] is not None
                else None)
        if first and last and first > last:
            raise CommandError(f"--since ({first}) is after --until ({last}).")
        if first:
            params["placed_after"] = first.isoformat()
        if last:
            params["placed_before"] = last.isoformat()
        order_filter = filtered_orders(params, base)
        if order_filter.is_bound and not order_filter.is_valid():
            raise CommandError("; ".join(error_messages(order_filter)) + ".")
        limit = options["limit"]
        found = list(order_filter.qs.select_related("provider_account", "account")
                     .order_by("-placed_at", "-id")[:limit + 1])
        shown, more = found[:limit], len(found) > limit
        header = ("id", "placed_at", "kind", "status", "domain", "account", "provider",
                  "total", "currency", "upstream_id")
        rows = [(order.pk, _when(order.placed_at), order.kind, order.status, order.domain,
                 order.customer_reference or (order.account.customer_reference
                                              if order.account else ""),
                 order.provider_account.label if order.provider_account else "",
                 format_minor(order.total_minor, order.currency), order.currency,
                 order.upstream_id or "") for order in shown]
        emit(self.stdout, header, rows, options["output_format"])
        more_text = " (more: narrow the filters or raise --limit)" if more else ""
        summary = f"{len(shown)} order(s){more_text}."
        (self.stdout if options["output_format"] == "table" else self.stderr).write(summary)

    def _show(self, options: dict[str, Any]) -> None:
        actor = resolve_acting_user(options["actor"], permission=VIEW_ORDER_PERMISSION,
                                    needed_for="see orders")
        order = Order.objects.select_related("provider_account", "account", "registration",
                                             "placed_by").filter(pk=options["order_id"]).first()
        if order is None:
            raise CommandError(f"ID: no order {options['order_id']}.")
        currency = order.currency
        record: dict[str, Any] = {
            "id": order.pk, "kind": order.kind, "status": order.status,
            "status_reason": order.status_reason, "domain": order.domain, "years": order.years,
            "account": order.account.customer_reference if order.account else "",
            "provider_account": order.provider_account.label if order.provider_account else "",
            "upstream_id": order.upstream_id or "",
            "registration": order.registration.name if order.registration else "",
            "currency": currency,
            "subtotal": format_minor(order.subtotal_minor, currency),
            "fees": format_minor(order.fees_minor, currency),
            "total": format_minor(order.total_minor, currency),
            "refunded": format_minor(order.refunded_minor, currency),
            "quoted_total": _money(order.quoted_total_minor, currency),
            "quote_expires_at": _when(order.quote_expires_at),
            "placed_at": _when(order.placed_at),
            "placed_by": order.placed_by.get_username() if order.placed_by else "",
            "unsettled_since": _when(order.unsettled_since),
            "items": [{"description": item.description, "domain": item.domain,
                       "quantity": item.quantity,
                       "unit_amount": format_minor(item.unit_amount_minor, currency),
                       "total": format_minor(item.total_minor, currency),
                       "upstream_id": item.upstream_id} for item in order.items.all()],
        }
        # Support may see orders but not the ledger (the order page's inline says so too).
        may_see_ledger = actor.has_perm(VIEW_LEDGER_PERMISSION)
        if may_see_ledger:
            record["ledger"] = [{"occurred_at": _when(entry.occurred_at), "kind": entry.kind,
                                 "state": entry.state,
                                 "amount": format_minor(entry.amount_minor, entry.currency),
                                 "external_reference": entry.external_reference,
                                 "settles": entry.settles_id or "", "note": entry.note}
                                for entry in LedgerEntry.objects.filter(order=order)]
        output_format = options["output_format"]
        if output_format == "json":
            emit(self.stdout, (), [], "json", records=record)
            return
        scalars = [(key, value) for key, value in record.items()
                   if key not in {"items", "ledger"}]
        if output_format == "csv":
            rows = [("order", key, value) for key, value in scalars]
            for number, item in enumerate(record["items"], 1):
                rows += [(f"item {number}", key, value) for key, value in item.items()]
            for number, entry in enumerate(record.get("ledger", []), 1):
                rows += [(f"ledger {number}", key, value) for key, value in entry.items()]
            emit(self.stdout, ("record", "field", "value"), rows, "csv")
            return
        emit(self.stdout, ("field", "value"), scalars, "table")
        self.stdout.write("")
        self.stdout.write(f"Items ({len(record['items'])}):")
        if record["items"]:
            emit(self.stdout, ("description", "domain", "quantity", "unit_amount", "total"),
                 [[item[key] for key in ("description", "domain", "quantity", "unit_amount",
                                         "total")] for item in record["items"]], "table")
        self.stdout.write("")
        if not may_see_ledger:
            self.stdout.write("Ledger: not shown (needs the permission "
                              f"{VIEW_LEDGER_PERMISSION}).")
            return
        self.stdout.write(f"Ledger ({len(record['ledger'])}):")
        if record["ledger"]:
            emit(self.stdout, ("occurred_at", "kind", "state", "amount", "external_reference"),
                 [[entry[key] for key in ("occurred_at", "kind", "state", "amount",
                                          "external_reference")]
                  for entry in record["ledger"]], "table")

    # -- follow ------------------------------------------------------------------------

    def _follow(self, options: dict[str, Any]) -> None:
        actor = resolve_acting_user(options["actor"], permission=order_follow.FOLLOW_PERMISSION,
                                    needed_for="see orders")
        order = Order.objects.select_related("provider_account").filter(
            pk=options["order_id"]).first()
        if order is None:
            raise CommandError(f"ID: no order {options['order_id']}.")
        try:
            result = order_follow.order_follow_now(order=order, actor=actor)
        except OperationRefused as refusal:
            raise CommandError(f"ID: {refusal.message}") from None
        self.stdout.write(result.message)


def email_orders_accounts():
    from billing.forms import email_order_accounts

    return email_order_accounts()


def _statuses(values: list[str]) -> list[str]:
    known = set(OrderStatus.values)
    chosen = [part.strip().lower() for value in values for part in value.split(",")
              if part.strip()]
    unknown = sorted(set(chosen) - known)
    if unknown:
        shown = ", ".join(status[:40] for status in unknown)
        raise CommandError(f"--status: unknown status {shown}. Known: "
                           f"{', '.join(sorted(known))}.")
    return chosen


def _read_lines(path: str) -> list[str]:
    """Domain lines from a file (- for stdin), refused whole if one is not plain text."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CommandError(f"--file {path[:80]}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError:
        raise CommandError(f"--file {path[:80]}: not UTF-8 text.") from None
    lines = []
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), 1):
        reason = argument_reason(line) if line.strip() else None
        if reason:
            raise CommandError(f"--file {path[:80]}: line {number} {reason}. Nothing was sent.")
        lines.append(line)
    return lines

