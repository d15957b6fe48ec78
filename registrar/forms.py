"""Forms for the registration operations. They parse input; the services validate the
domain rules again (the command line and tasks use the services without forms)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from backoffice.forms import TextRuleForm
from contacts.models import Contact
from contacts.validation import CONTACT_LIMITS
from registrar.models import Tld
from registrar.money import to_decimal
from registrar.operations import InvalidInput
from registrar.providers.registry import adapter_class
from registrar.services import (
    clean_dnssec_key,
    clean_host_addresses,
    clean_host_name,
    clean_nameservers,
)
from registrar.values.amounts import MAX_AMOUNT_MINOR, to_minor

CONTACT_FIELD_NAMES = ("first_name", "last_name", "organization", "street_address",
                       "post_code", "city", "state", "country", "email", "phone")


class ConfirmForm(TextRuleForm, forms.Form):
    """An operation with nothing to enter: the POST itself is the confirmation."""


class OnOffForm(TextRuleForm, forms.Form):
    enabled = forms.TypedChoiceField(
        choices=[("1", "On"), ("0", "Off")], coerce=lambda v: v == "1",
        widget=forms.RadioSelect, label="Set to",
    )


class NameserversForm(TextRuleForm, forms.Form):
    nameservers = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "cols": 50}),
        help_text="One host name per line, in order: 2 to 13.",
    )
    confirm_dnssec = forms.BooleanField(
        required=False,
        label="I understand DNSSEC is on: the new nameservers must serve the same signed zone, "
              "or the domain stops resolving.",
    )

    def __init__(self, *args, dnssec_enabled: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.dnssec_enabled = dnssec_enabled
        if not dnssec_enabled:
            del self.fields["confirm_dnssec"]

    def clean_nameservers(self) -> list[str]:
        try:
            return clean_nameservers(self.cleaned_data["nameservers"].splitlines())
        except InvalidInput as exc:
            raise ValidationError(exc.field_errors.get("nameservers") or exc.message) from exc

    def clean(self):
        data = super().clean()
        if self.dnssec_enabled and not data.get("confirm_dnssec"):
            self.add_error("confirm_dnssec", "Confirm that you have checked the DNSSEC impact.")
        return data


class DnssecForm(TextRuleForm, forms.Form):
    mode = forms.ChoiceField(choices=[("enable", "Enable with these keys"),
                                      ("add_keys", "Add these keys"),
                                      ("disable", "Disable DNSSEC")],
                             widget=forms.RadioSelect)
    keys = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        help_text="One key per line: flags algorithm public-key, e.g. "
                  "“257 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxIL…”.",
    )

    def clean(self):
        data = super().clean()
        keys, errors = [], []
        for number, line in enumerate((data.get("keys") or "").splitlines(), 1):
            if not line.strip():
                continue
            parts = line.split(None, 2)
            if len(parts) != 3:
                errors.append(f"Line {number}: expected flags, algorithm and public key.")
                continue
            try:
                keys.append(clean_dnssec_key(*parts))
            except InvalidInput as exc:
                errors.append(f"Line {number}: {exc.message}")
        if errors:
            self.add_error("keys", errors)
        elif data.get("mode") in {"enable", "add_keys"} and not keys:
            self.add_error("keys", "Give at least one key.")
        data["key_data"] = keys
        return data


def _limit(name: str) -> int:
    # The server's own limit (contacts/validation.py) is the form's max_length, so the
    # browser's maxlength and the refusal agree and nothing is cut short on the way.
    return CONTACT_LIMITS[name]


class ContactFieldsForm(TextRuleForm, forms.Form):
    first_name = forms.CharField(max_length=_limit("first_name"), required=False)
    last_name = forms.CharField(max_length=_limit("last_name"), required=False)
    organization = forms.CharField(max_length=_limit("organization"), required=False)
    street_address = forms.CharField(max_length=_limit("street_address"), required=False)
    post_code = forms.CharField(max_length=_limit("post_code"), required=False)
    city = forms.CharField(max_length=_limit("city"), required=False)
    state = forms.CharField(max_length=_limit("state"), required=False)
    country = forms.CharField(max_length=2, required=False, help_text="ISO code, e.g. NL.")
    email = forms.CharField(max_length=_limit("email"), required=False)
    phone = forms.CharField(max_length=32, required=False, help_text="e.g. +31.201234567")

    def contact_data(self, *, only_filled: bool, only_changed: bool = False
                     ) -> dict[str, str]:
        """The contact fields as typed; `only_changed` leaves out those still holding
        their initial value (the current holder's), so an edit sends what was edited."""
        changed = set(self.changed_data)
        return {name: self.cleaned_data.get(name, "") for name in CONTACT_FIELD_NAMES
                if (not only_filled or self.cleaned_data.get(name))
                and (not only_changed or name in changed)}


class HolderForm(ContactFieldsForm):
    action_mode = forms.ChoiceField(
        choices=[("edit_current", "Edit the current holder (free)"),
                 ("change", "Replace the holder with another contact")],
        widget=forms.RadioSelect, initial="edit_current")
    confirm_reverification = forms.BooleanField(
        required=False, label="The holder will be asked to verify changed validated fields.")
    source_contact = forms.ModelChoiceField(
        queryset=Contact.objects.none(), required=False,
        help_text="Replace with this existing contact. Leave empty and fill the fields to "
                  "create a new one.")
    field_order = ["action_mode", "source_contact", *CONTACT_FIELD_NAMES,
                   "confirm_reverification"]

    def __init__(self, *args, contacts=None, holder: Contact | None = None, **kwargs):
        if holder is not None:
            # Start from the current holder's values: an edit changes what it changes,
            # instead of staff retyping (or blanking) a whole contact.
            kwargs.setdefault("initial", {
                **{name: getattr(holder, name) or "" for name in CONTACT_FIELD_NAMES},
                "action_mode": "edit_current"})
        super().__init__(*args, **kwargs)
        if contacts is not None:
            self.fields["source_contact"].queryset = contacts


class RegistrantChangeForm(ContactFieldsForm):
    source_contact = forms.ModelChoiceField(queryset=Contact.objects.none(), required=False)
    field_order = ["source_contact", *CONTACT_FIELD_NAMES]

    def __init__(self, *args, contacts=None, **kwargs):
        super().__init__(*args, **kwargs)
        if contacts is not None:
            self.fields["source_contact"].queryset = contacts


ROLE_SOURCES = [("", "Leave unchanged"), ("same_as_owner", "Same as owner"),
                ("existing", "An existing contact"), ("new", "A new contact (fields below)")]


class RoleContactsForm(TextRuleForm, forms.Form):
    def __init__(self, *args, contacts=None, **kwargs):
        super().__init__(*args, **kwargs)
        for role in ("admin", "tech", "billing"):
            self.fields[f"{role}_source"] = forms.ChoiceField(
                choices=ROLE_SOURCES, required=False, label=f"{role.title()} contact")
            self.fields[f"{role}_contact"] = forms.ModelChoiceField(
                queryset=contacts if contacts is not None else Contact.objects.none(),
                required=False, label=f"{role.title()}: existing contact")
        self.new_contact = ContactFieldsForm(*args, prefix="new", **kwargs)

    def is_valid(self) -> bool:
        return super().is_valid() and self.new_contact.is_valid()

    def roles(self) -> dict[str, dict]:
        roles = {}
        for role in ("admin", "tech", "billing"):
            source = self.cleaned_data.get(f"{role}_source")
            if source:
                roles[role] = {"source": source, "contact": self.cleaned_data.get(
                    f"{role}_contact"), "new_contact": self.new_contact.contact_data(
                    only_filled=False)}
        return roles


class TransferOutForm(TextRuleForm, forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve: let the domain leave"),
                                          ("reject", "Reject: keep the domain here")],
                                 widget=forms.RadioSelect)
    reason = forms.CharField(
        required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required to reject: why the transfer is refused (e.g. the holder "
                  "disputes it, or it is within 60 days of a holder change).")

    def clean(self):
        data = super().clean()
        if data.get("decision") == "reject" and not (data.get("reason") or "").strip():
            self.add_error("reason", "Say why the transfer is rejected.")
        return data


def add_clearance_fields(form: forms.Form, *, step_up: bool, two_person: bool,
                         max_age_minutes: int) -> None:
    """The fields a high-risk page asks for: a fresh second factor (step-up) and, where a
    second person must approve, the ticket and how the customer was verified."""
    if step_up:
        form.fields["second_factor"] = forms.CharField(
            required=False, max_length=64, label="Second-factor code",
            widget=forms.TextInput(attrs={"autocomplete": "one-time-code",
                                          "inputmode": "numeric", "size": 12}),
            help_text=f"A code from your authenticator app, or a backup code: this operation "
                      f"needs a second factor from the last {max_age_minutes} minutes.")
    if two_person:
        form.fields["ticket"] = forms.CharField(
            required=False, max_length=64, label="Ticket",
            help_text="A second person must approve this. The support ticket it belongs to.")
        form.fields["verification"] = forms.CharField(
            required=False, max_length=1000, label="How the customer was verified",
            widget=forms.Textarea(attrs={"rows": 2}),
            help_text="e.g. called back on the phone number on file and checked the "
                      "account PIN.")


class PushTransferForm(TextRuleForm, forms.Form):
    recipient = forms.CharField(max_length=32, help_text="The receiving registrar's handle, "
                                                         "e.g. REG-IDS.")


class AuthCodeForm(TextRuleForm, forms.Form):
    confirm = forms.BooleanField(
        label="I have verified the requester and understand the code lets the domain be "
              "transferred away. It is shown once and not stored.")


class HostAddressesForm(TextRuleForm, forms.Form):
    """A glue host's addresses: cleaned to [(address, version)] by the service's rules."""

    addresses = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 50}),
        help_text="One IP address per line, IPv4 or IPv6, at least one. No prefix "
                  "lengths (/24) and no zone ids (%eth0).",
    )

    def clean_addresses(self) -> list[tuple[str, int]]:
        try:
            return clean_host_addresses(self.cleaned_data["addresses"].splitlines())
        except InvalidInput as exc:
            raise ValidationError(exc.field_errors.get("addresses") or exc.message) from exc


class HostCreateForm(HostAddressesForm):
    host_name = forms.CharField(
        help_text="A name below the domain, e.g. ns1.example.com; Unicode or punycode.")

    field_order = ["host_name", "addresses"]

    def __init__(self, *args, registration, **kwargs):
        super().__init__(*args, **kwargs)
        self.registration = registration

    def clean_host_name(self) -> str:
        try:
            return clean_host_name(self.registration, self.cleaned_data["host_name"])
        except InvalidInput as exc:
            raise ValidationError(exc.field_errors.get("host_name") or exc.message) from exc


class DnsRecordsForm(TextRuleForm, forms.Form):
    records = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 10, "cols": 90}),
        help_text="One record per line: host type value ttl, e.g. “www CNAME site.example.net "
                  "3600” or “@ MX 10 mail.example.com 3600”. This replaces every record.")

    def __init__(self, *args, registration, **kwargs):
        super().__init__(*args, **kwargs)
        self.registration = registration

    def clean_records(self) -> list[dict]:
        records, errors = [], []
        for number, line in enumerate(self.cleaned_data["records"].splitlines(), 1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) < 4:
                errors.append(f"Line {number}: expected host, type, value and TTL.")
                continue
            host, kind, *value, ttl = parts
            records.append({"host": host, "type": kind.upper(), "value": " ".join(value),
                            "ttl": ttl})
        if errors:
            raise ValidationError(errors)
        # The registration's own upstream decides what it accepts.
        return adapter_class(self.registration.served_by.kind).clean_dns_records(records)


# --- the TLD admin's fees -----------------------------------------------------------------

#: The fee columns are PositiveIntegerField: what PostgreSQL's integer holds.
_FEE_COLUMN_MAX = min(MAX_AMOUNT_MINOR, 2**31 - 1)
_FEE_PREFIXES = ("privacy_fee", "registrant_change_fee")


class MajorUnitsField(forms.CharField):
    """A fee typed in major units ("4.99"), turned into minor units (499) by the form's
    `clean` once its currency is known: how many decimals it may have is the currency's
    (JPY none, USD two, KWD three), by the amounts rule (registrar/values/amounts.py)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 32)
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal",
                                                           "size": 12}))
        super().__init__(**kwargs)


class TldAdminForm(forms.ModelForm):
    """The TLD admin form: fees in major units, each with its currency (or neither)."""

    privacy_fee_amount = MajorUnitsField(
        required=False, label="Privacy fee amount",
        help_text="In the fee's currency, e.g. 4.99 with currency USD; empty means privacy "
                  "is free.")
    registrant_change_fee_amount = MajorUnitsField(
        required=False, label="Registrant change fee amount",
        help_text="In the fee's currency, e.g. 12.00 with currency USD; empty means the "
                  "change is free.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        instance = self.instance
        if instance.pk is not None and not self.is_bound:
            # Shown back as typed: major units of the fee's own currency, never 499.
            for prefix in _FEE_PREFIXES:
                amount = getattr(instance, f"{prefix}_amount")
                currency = getattr(instance, f"{prefix}_currency")
                if amount is not None and currency:
                    self.initial[f"{prefix}_amount"] = str(to_decimal(amount, currency))

    class Meta:
        model = Tld
        fields = ["name", "upstream_id", "provider_account", "supports_privacy",
                  "supports_transfer_lock", "supports_push_transfer", "supports_dnssec",
                  "requires_contact_validation", "authcode_behavior", "privacy_fee_amount",
                  "privacy_fee_currency", "registrant_change_fee_amount",
                  "registrant_change_fee_currency", "cancellation_window_days"]

    def clean(self):
        data = super().clean()
        # The database's "amount and currency, or neither" constraint, said on the field
        # that is missing instead of as a constraint name above the form.
        for prefix in _FEE_PREFIXES:
            amount, currency = f"{prefix}_amount", f"{prefix}_currency"
            typed = (data.get(amount) or "").strip()
            data[amount] = None
            if amount in self.errors or currency in self.errors:
                continue
            if typed and not data.get(currency):
                self.add_error(currency, "Give the currency of this fee, e.g. USD, or "
                                         "leave the amount empty.")
            elif data.get(currency) and not typed:
                self.add_error(amount, "Give the fee amount, or leave the currency empty.")
            elif typed:
                try:
                    data[amount] = to_minor(typed, data[currency], maximum=_FEE_COLUMN_MAX)
                except ValidationError as refusal:
                    self.add_error(amount, [
                        f"Enter the fee in {data[currency]}, such as 4.99: {message}"
                        for message in refusal.messages])
        return data
