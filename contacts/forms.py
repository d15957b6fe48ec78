"""Contact forms: the fields staff type, checked before anything is sent upstream."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from backoffice.forms import TextRuleForm
from contacts.models import Contact
from contacts.validation import CONTACT_LIMITS, clean_contact_fields
from registrar.models import Tld

FIELDS = ("first_name", "last_name", "organization", "street_address", "post_code", "city",
          "state", "country", "email", "phone", "extra_properties")


class ContactForm(TextRuleForm, forms.Form):
    tld = forms.ModelChoiceField(
        queryset=Tld.objects.filter(provider_account__isnull=False), label="TLD",
        help_text="The contact is pinned to this TLD: its registry's rules apply.")
    # The customer model, reached through the relation: contacts do not import billing.
    account = forms.ModelChoiceField(
        queryset=Contact._meta.get_field("account").related_model.objects.all(),
        required=False)
    # The limits are the server's (contacts/validation.py): the browser's maxlength and
    # the refusal say the same number, and nothing is cut short on the way.
    first_name = forms.CharField(max_length=CONTACT_LIMITS["first_name"])
    last_name = forms.CharField(max_length=CONTACT_LIMITS["last_name"])
    organization = forms.CharField(max_length=CONTACT_LIMITS["organization"], required=False)
    street_address = forms.CharField(max_length=CONTACT_LIMITS["street_address"],
                                     required=False)
    post_code = forms.CharField(max_length=CONTACT_LIMITS["post_code"], required=False)
    city = forms.CharField(max_length=CONTACT_LIMITS["city"], required=False)
    state = forms.CharField(max_length=CONTACT_LIMITS["state"], required=False)
    country = forms.CharField(max_length=8, help_text="ISO 3166-1 alpha-2, e.g. NL.")
    email = forms.CharField(max_length=CONTACT_LIMITS["email"])
    phone = forms.CharField(max_length=64, help_text="International form, e.g. +31.201234567.")
    extra_properties = forms.JSONField(
        required=False, initial=dict, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Registry-specific fields as a JSON object, e.g. {\"it_pin\": \"…\"}.")

    def __init__(self, *args, contact: Contact | None = None, **kwargs):
        self.contact = contact
        if contact is not None:
            kwargs.setdefault("initial", {name: getattr(contact, name) for name in FIELDS})
        super().__init__(*args, **kwargs)
        if contact is not None:
            # Where a contact is pinned never changes; only its fields do.
            del self.fields["tld"], self.fields["account"]

    def clean(self):
        data = super().clean()
        submitted = {name: data.get(name) for name in FIELDS if name in data}
        if self.contact is not None:
            submitted = {name: submitted[name] for name in self.changed_data
                         if name in submitted}
            if not submitted and not self.errors:
                raise ValidationError("Nothing was changed.")
        try:
            data["cleaned_contact"] = clean_contact_fields(submitted,
                                                           partial=self.contact is not None)
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                self.add_error(name if name in self.fields else None, messages)
        return data


class ConfirmForm(TextRuleForm, forms.Form):
    """Nothing to enter: the POST is the confirmation."""


class ContactMirrorForm(TextRuleForm, forms.Form):
    """Which provider account's contact list to mirror."""

    account = forms.ModelChoiceField(
        queryset=None, label="Provider account", to_field_name="label",
        help_text="Its contacts that back no registration here are created or updated "
                  "in the mirror; the others come with the registration sync.")

    def __init__(self, *args, **kwargs):
        from contacts.services import mirror_accounts

        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = mirror_accounts()
