"""Order forms: what staff type, parsed into the upstream's structure and checked by the
upstream's own rules (its adapter's `clean_email_order`) before anything is sent."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q

from backoffice.forms import TextRuleForm
from backoffice.ids import parse_pk
from registrar.models import ProviderAccount
from registrar.money import format_minor
from registrar.operations import OperationRefused
from registrar.providers.base import Capability
from registrar.providers.registry import adapter_class
from registrar.values.amounts import to_minor
from registrar.values.currencies import exponent
from registrar.values.names import intake_name, to_ascii
from registrar.values.text import single_line, validate_text

OWNER_FIELDS = ("first_name", "last_name", "organization", "street_address", "city", "state",
                "post_code", "country", "phone")

DOMAINS_HELP = (
    "One domain per line: the domain, a colon, then its mailboxes separated by commas, "
    "e.g. “acme-mail.com: john.smith, jane=Jane Doe”. A mailbox is the part before the @ "
    "(it is created on that domain). The sender's name is derived from it: "
    "“john.smith” (or john_smith, john-smith) is John Smith, and the owner's own first "
    "name alone (“john” for owner John Smith) is the owner's name. Otherwise give it "
    "after “=”: “alice=Alice Smith” (the first word is the first name, the rest the last "
    "name). Blank lines and lines starting with # are ignored."
)
_SEPARATORS = re.compile(r"[._-]+")
_INDEXED = re.compile(r"^domains\[(\d+)\](?:\.mailboxes(?:\[(\d+)\](?:\.(\w+))?)?|\.(\w+))?$")


@dataclass
class DomainLine:
    """One line of the domains box, kept to say where a problem is."""

    number: int
    name: str
    mailboxes: list[str] = field(default_factory=list)


def _title(part: str) -> str:
    return part[:1].upper() + part[1:]


def derive_sender(local_part: str, owner: Mapping[str, Any]) -> tuple[str, str]:
    """(first name, last name) for a mailbox given without a name, or ("", "") when it
    cannot be derived (clean_order then asks for the name)."""
    parts = [part for part in _SEPARATORS.split(local_part) if part]
    if len(parts) >= 2:
        return _title(parts[0]), " ".join(_title(part) for part in parts[1:])
    owner_first = str(owner.get("first_name") or "").strip()
    if parts and owner_first and parts[0].casefold() == owner_first.casefold():
        return owner_first, str(owner.get("last_name") or "").strip()
    return "", ""


def parse_domains(text: str, owner: Mapping[str, Any]) -> tuple[list[DomainLine], list[dict]]:
    """The domains box as (its lines, the adapter's domain structure without
    redirect_url). Pure syntax: every rule is left to clean_order."""
    lines: list[DomainLine] = []
    domains: list[dict[str, Any]] = []
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        # A line without a colon is a domain without mailboxes: clean_order says so.
        name, _, rest = line.partition(":")
        entry = DomainLine(number=number, name=name.strip())
        mailboxes: list[dict[str, Any]] = []
        for token in (part.strip() for part in rest.split(",")):
            if not token:
                continue
            address, given, sender = token.partition("=")
            address = address.strip()
            local_part = address.partition("@")[0]
            if given:
                first, _, last = sender.strip().partition(" ")
            else:
                first, last = derive_sender(local_part, owner)
            entry.mailboxes.append(address)
            mailboxes.append({"first_name": first.strip(), "last_name": last.strip(),
                              "email": address})
        lines.append(entry)
        domains.append({"name": entry.name, "mailboxes": mailboxes})
    return lines, domains


def _mixes_scripts(name: str) -> str | None:
    """intake_name's refusal of a mixed-script name, or None (also when the name is not
    a name at all: the caller's own check says that)."""
    try:
        to_ascii(name)
    except ValidationError:
        return None
    try:
        intake_name(name)
    except ValidationError as exc:
        return " ".join(exc.messages)
    return None


class StrictCheckboxInput(forms.CheckboxInput):
    """A checkbox that hands its field the value as sent, so that anything but what a
    browser sends for a box (on, or nothing) is refused rather than read as ticked."""

    def value_from_datadict(self, data, files, name):
        if name not in data:
            return False
        return data.get(name)


class StrictBooleanField(forms.BooleanField):
    TICKED = frozenset({"on", "true", "1", "True"})
    UNTICKED = frozenset({"", "off", "false", "0", "False"})
    widget = StrictCheckboxInput

    def to_python(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if value in self.TICKED:
            return True
        if value in self.UNTICKED:
            return False
        raise ValidationError("Tick the box or leave it empty.", code="invalid")


def email_order_accounts():
    """The enabled accounts that sell email infrastructure."""
    return (ProviderAccount.objects.filter(enabled=True)
            .with_capability(Capability.EMAIL_ORDERS).order_by("label"))


class EmailInfrastructureOrderForm(TextRuleForm, forms.Form):
    """An email-infrastructure order for one customer account.

    `cleaned_data` carries the service's arguments: provider_account, owner (our
    contact names), email_service_provider, plan_type and domains (the adapter's
    structure). Rules are the upstream's own, shown on the field they concern.
    """

    provider_account = forms.ModelChoiceField(
        queryset=ProviderAccount.objects.none(), label="Email-infrastructure account",
        help_text="The upstream account the order is placed (and billed) on.")
    first_name = forms.CharField(label="Owner first name", max_length=200)
    last_name = forms.CharField(label="Owner last name", max_length=200)
    organization = forms.CharField(label="Company name", max_length=400, required=False)
    street_address = forms.CharField(max_length=400)
    city = forms.CharField(max_length=200)
    state = forms.CharField(label="State or province", max_length=200, required=False)
    post_code = forms.CharField(max_length=64,
                                help_text="Must be valid for the country.")
    country = forms.CharField(max_length=8, help_text="ISO 3166-1 alpha-2, e.g. US or NL.")
    phone = forms.CharField(max_length=64,
                            help_text="International (E.164), e.g. +14155551234.")
    email_service_provider = forms.ChoiceField(
        label="Mailbox provider (ESP)",
        help_text="Provisions the mailboxes; decides pricing and infrastructure.")
    plan_type = forms.ChoiceField(
        label="Billing cycle",
        help_text="Some mailbox providers are sold on one cycle only (the upstream's "
                  "rules are checked before anything is sent).")
    redirect_url = forms.CharField(
        label="Redirect domain", max_length=253, required=False,
        help_text="Where visitors of the new domains are sent: a bare domain such as "
                  "acmecorp.com, without https:// or a path. Applies to every domain of "
                  "the order; leave empty for none.")
    is_free_order = StrictBooleanField(
        required=False, label="Free order (use the account's free-tier credits)",
        help_text="Sent as isFreeOrder: no checkout; the upstream refuses it without "
                  "credits.")
    is_replacement = StrictBooleanField(
        required=False, label="Replacement (use replacement-slot credits)",
        help_text="Sent as isReplacement: fulfils the order from the slots of a cancelled "
                  "or expired order.")
    domains = forms.CharField(
        label="Domains and mailboxes", help_text=DOMAINS_HELP,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 80,
                                     "placeholder": "acme-mail.com: john.smith, jane=Jane Doe"}))
    # Helpers for filling the order in (the page's "Find domains" and "Suggest mailbox
    # names" buttons); placing the order does not use them.
    search = forms.CharField(
        label="Find domains", max_length=253, required=False,
        help_text="A name or a keyword: “Find domains” lists what the upstream offers, "
                  "to pick and add to the order.")
    mailbox_count = forms.TypedChoiceField(
        label="Mailbox names to suggest per domain", coerce=int, required=False,
        choices=[(n, n) for n in range(1, 11)], initial=1, empty_value=1,
        help_text="“Suggest mailbox names” fills them in, for the owner's name, on every "
                  "domain line without mailboxes yet.")

    #: The helper buttons' fields: what a read needs, not what an order sends.
    HELPER_FIELDS = ("search", "mailbox_count")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        accounts = email_order_accounts()
        self.fields["provider_account"].queryset = accounts
        if not self.is_bound and len(accounts) == 1:
            self.initial.setdefault("provider_account", accounts[0].pk)
        # The choices every email upstream configured here offers, in its own order.
        adapters = list(dict.fromkeys(adapter_class(account.kind) for account in accounts))
        esps = dict.fromkeys(esp for adapter in adapters
                             for esp in adapter.email_service_providers)
        plans = dict(choice for adapter in adapters for choice in adapter.email_plan_choices)
        self.fields["email_service_provider"].choices = [(esp, esp) for esp in esps]
        self.fields["plan_type"].choices = list(plans.items())
        if plans:
            self.fields["plan_type"].initial = next(iter(plans))
        self.lines: list[DomainLine] = []

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        owner = {name: (data.get(name) or "").strip() for name in OWNER_FIELDS}
        # Optional fields left empty are not sent (document 003's companyName and state).
        owner = {name: value for name, value in owner.items()
                 if value or name not in {"organization", "state"}}
        self.lines, domains = parse_domains(data.get("domains") or "", owner)
        redirect = (data.get("redirect_url") or "").strip()
        for domain in domains:
            domain["redirect_url"] = redirect
        data.update(owner=owner, domains=domains)
        self._refuse_lookalikes(redirect)
        account = data.get("provider_account")
        if account is None:
            return data
        try:
            adapter_class(account.kind).clean_email_order(
                owner=owner, domains=domains,
                email_service_provider=data.get("email_service_provider") or "",
                plan_type=data.get("plan_type") or "",
                is_free_order=bool(data.get("is_free_order")),
                is_replacement=bool(data.get("is_replacement")))
        except ValidationError as exc:
            self.add_order_errors(exc.message_dict)
        return data

    def show_plan_prices(self, plans: Sequence[Any]) -> None:
        """Label each billing cycle with the prices the upstream listed for it (the
        plans read from it: EmailPlan records), per mailbox provider."""
        by_plan: dict[str, list[str]] = {}
        for plan in plans:
            parts = [f"{format_minor(price.amount_minor, price.currency)} per {unit}"
                     for price, unit in ((plan.mailbox_price, "mailbox"),
                                         (plan.domain_price, "domain"))
                     if price is not None]
            if parts:
                by_plan.setdefault(plan.plan_type, []).append(
                    f"{plan.email_service_provider} {', '.join(parts)}")
        self.fields["plan_type"].choices = [
            (value, f"{label}: {'; '.join(by_plan[value])}" if value in by_plan else label)
            for value, label in self.fields["plan_type"].choices]

    def _refuse_lookalikes(self, redirect: str) -> None:
        """A name that mixes scripts ("p\u0430ypal.com") is refused by the names rule for
        anything handed in to be used; the upstream's own check knows nothing of it.
        Other problems with a name are left to that check, which says them its way."""
        problems = []
        for line in self.lines:
            if line.name and _mixes_scripts(line.name):
                problems.append(f"Line {line.number}: {_mixes_scripts(line.name)}")
        if problems and "domains" not in self.errors:
            self.add_error("domains", problems)
        if redirect and _mixes_scripts(redirect) and "redirect_url" not in self.errors:
            self.add_error("redirect_url", _mixes_scripts(redirect))

    # -- clean_order's keys onto the form ------------------------------------------------

    def add_refusal(self, refusal: OperationRefused) -> None:
        """A refusal from the service: its field errors where they belong, else its
        message above the form."""
        if refusal.field_errors:
            self.add_order_errors(refusal.field_errors)
        else:
            self.add_error(None, refusal.message)

    def add_order_errors(self, errors: Mapping[str, list[str]]) -> None:
        placed: dict[str | None, list[str]] = {}
        for key, messages in errors.items():
            target, texts = self._locate(key, messages)
            known = placed.setdefault(target, [])
            known.extend(text for text in texts if text not in known)
        for target, messages in placed.items():
            if target is not None and target in self.errors:
                continue  # the field's own check already said what is wrong with it
            self.add_error(target, messages)

    def _locate(self, key: str, messages: list[str]) -> tuple[str | None, list[str]]:
        if key in self.fields:
            return key, list(messages)
        match = _INDEXED.match(key)
        if match is None:
            return None, list(messages)
        index = int(match.group(1))
        mailbox, mailbox_field, domain_field = match.group(2), match.group(3), match.group(4)
        if domain_field == "redirect_url":
            return "redirect_url", list(messages)
        line = self.lines[index] if index < len(self.lines) else None
        where = f"Line {line.number}" if line else f"Domain {index + 1}"
        if mailbox is not None and line and int(mailbox) < len(line.mailboxes):
            token = line.mailboxes[int(mailbox)]
            where = f"{where}, mailbox “{token}”"
            if mailbox_field in {"first_name", "last_name"}:
                local = token.partition("@")[0] or "name"
                messages = [f"{text} Write it as {local}=First Last." for text in messages]
        return "domains", [f"{where}: {text}" for text in messages]


# --- Domain orders and billing-portal links -------------------------------------------


class RefusalOnFormMixin:
    """A service refusal onto the form: field errors where they belong, else on top."""

    def add_refusal(self, refusal: OperationRefused) -> None:
        placed = False
        for name, errors in refusal.field_errors.items():
            self.add_error(name if name in self.fields else None, errors)
            placed = True
        if not placed:
            self.add_error(None, refusal.message)


class AmountField(forms.CharField):
    """Money typed in major units ("4.99") in one currency, by the amounts rule
    (registrar/values/amounts.py): a plain decimal number, no exponent ("1e9"), no digit
    group or sign ("1_000", "+5"), no other script's digits, at most the currency's
    decimals. Cleaned to a Decimal in major units, more than zero."""

    def __init__(self, *, currency: str, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal",
                                                           "size": 12}))
        super().__init__(**kwargs)
        self.currency = currency

    def to_python(self, value: Any) -> Decimal | None:
        text = super().to_python(value)
        if text in self.empty_values:
            return None
        # The text rule first, so a control character is named as such.
        validate_text(text, max_length=32)
        minor = to_minor(text, self.currency)
        if minor < 1:
            raise ValidationError("Enter an amount above 0.", code="min_value")
        return Decimal(minor).scaleb(-exponent(self.currency))


class DomainOrderForm(RefusalOnFormMixin, TextRuleForm, forms.Form):
    provider_account = forms.ModelChoiceField(
        queryset=ProviderAccount.objects.none(), label="Registrar",
        help_text="Where the domain is bought.")
    action = forms.ChoiceField(label="Order", choices=())
    domain = forms.CharField(max_length=253, help_text="Unicode or ASCII, e.g. bücher.de.")
    years = forms.TypedChoiceField(coerce=int, initial=1, label="Term (years)",
                                   choices=[(n, n) for n in range(1, 11)],
                                   help_text="Not used for a transfer at name.com.")
    owner = forms.ModelChoiceField(
        queryset=None, required=False, label="Registrant contact",
        help_text="The legal owner of a new registration or transfer (Domain API, Domainee).")
    allow_acquisition = forms.BooleanField(
        required=False, label="Offer aftermarket and expiring names (name.com)",
        help_text="Without it only standard and registry-premium registrations are quoted.")
    ceiling = AmountField(
        currency="USD", required=False, label="Most the customer pays (USD, Domainee)",
        help_text="Domainee quotes no price: it refuses, uncharged, above this amount.")

    def __init__(self, *args, account=None, **kwargs):
        from billing.ordering import Action, ordering_accounts
        from contacts.models import Contact

        super().__init__(*args, **kwargs)
        self.fields["provider_account"].queryset = ordering_accounts()
        self.fields["action"].choices = Action.CHOICES
        owners = Contact.objects.all()
        if account is not None:
            owners = owners.filter(Q(account=account) | Q(account__isnull=True))
        self.fields["owner"].queryset = owners.order_by("handle", "id")


class ConfirmDomainOrderForm(RefusalOnFormMixin, TextRuleForm, forms.Form):
    auth_code = forms.CharField(
        required=False, strip=True, max_length=255, label="Authorization (EPP) code",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        # A password widget is left out of the form-wide text rule; an auth code is sent
        # to the registrar, so what is no code (control characters) is refused here.
        validators=[single_line],
        help_text="Sent once with the transfer; never stored.")
    auto_connect = forms.BooleanField(
        required=False, label="Also connect it to the upstream's edge (autoConnect)",
        help_text="The upstream provisions the domain on its edge and points its DNS there "
                  "in the same purchase. If any step fails, the whole purchase is rolled "
                  "back: the charge is refunded and nothing stays registered.")
    origin_url = forms.CharField(
        required=False, max_length=500, label="Origin URL",
        help_text="Where the edge proxies requests: an https:// address, e.g. "
                  "https://janesbakery.acmesites.app.")
    keep_host = forms.BooleanField(
        required=False, label="Forward the visitor's Host header",
        help_text="Off: the edge sends the origin's own host name.")

    AUTO_CONNECT_FIELDS = ("auto_connect", "origin_url", "keep_host")

    def __init__(self, *args: Any, auto_connect: bool = False, transfer: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not auto_connect:
            for name in self.AUTO_CONNECT_FIELDS:
                del self.fields[name]
        if not transfer:
            del self.fields["auth_code"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        data.setdefault("auth_code", "")
        data["auto_connect_request"] = None
        if data.get("auto_connect"):
            origin = (data.get("origin_url") or "").strip()
            try:
                parts = urlsplit(origin)
                host = parts.hostname
            except ValueError:
                parts, host = None, None
            if not origin:
                self.add_error("origin_url", "Give the origin the edge proxies to.")
            elif not host or parts is None or parts.scheme != "https":
                self.add_error("origin_url", "The origin must be an https:// address, "
                                             "e.g. https://site.example.app.")
            else:
                data["auto_connect_request"] = {"origin_url": origin,
                                                "keep_host": bool(data.get("keep_host"))}
        elif (data.get("origin_url") or "").strip():
            self.add_error("auto_connect", "Tick it to connect the domain to that origin.")
        return data


class BillingLinkForm(RefusalOnFormMixin, TextRuleForm, forms.Form):
    provider_account = forms.ModelChoiceField(queryset=ProviderAccount.objects.none(),
                                              label="Billing portal of")
    return_url = forms.URLField(
        label="Return URL", max_length=500, assume_scheme="https",
        help_text="Where the customer lands when leaving the portal.")

    def __init__(self, *args, **kwargs):
        from billing.portal import billing_link_accounts, default_return_url

        super().__init__(*args, **kwargs)
        accounts = billing_link_accounts()
        self.fields["provider_account"].queryset = accounts
        if accounts.count() == 1:
            self.fields["provider_account"].initial = accounts.first()
        self.fields["return_url"].initial = default_return_url()

    def clean_return_url(self) -> str:
        """Where a customer lands: a host name, never an IP address or a one-label host
        (127.0.0.1, 10.0.0.1, localhost), which no customer's browser should be sent to."""
        url = self.cleaned_data["return_url"]
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = -1
        # A link handed to a customer: https only (as billing_link_generate requires), with
        # no credentials in it and a port that exists.
        if parts.scheme != "https" or parts.username is not None or port == -1:
            raise ValidationError("Give the full https:// address the customer returns to, "
                                  "without a user name or password, e.g. "
                                  "https://www.example.com/billing.", code="return_https")
        host = parts.hostname or ""
        try:
            intake_name(host)
        except ValidationError as exc:
            raise ValidationError(
                f"The return URL must be on a public host name, e.g. "
                f"https://www.example.com/billing: {' '.join(exc.messages)}",
                code="return_host") from None
        return url


class AccountIdField(forms.ModelChoiceField):
    """A provider account's id as the page writes it: ASCII digits within the id range
    (int() would take " 1", "+1" or an Arabic-Indic digit for account 1)."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if parse_pk(value) is None:
            raise ValidationError(self.error_messages["invalid_choice"],
                                  code="invalid_choice")
        return super().to_python(value)


class UpstreamOrdersForm(TextRuleForm, forms.Form):
    """Whose order list to read, on the "Orders at the upstream" page (a GET form)."""

    account = AccountIdField(
        queryset=None, label="Provider account",
        error_messages={"invalid_choice": "Choose one of the provider accounts listed: "
                                          "no enabled account that lists its orders has "
                                          "that id."},
        help_text="Its upstream's first orders are read and compared with the orders here. "
                  "Nothing is changed, here or upstream.")

    def __init__(self, *args, **kwargs):
        from billing.order_sync import listing_accounts

        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = listing_accounts()
