"""Domain contacts (document 001's contact shape). Each is pinned to one TLD on
create, because each registry validates a different set of fields."""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.db.models.functions import Cast, Upper
from django.db.models.lookups import Regex
from django.utils import timezone
from django_countries.fields import CountryField

from contacts.validation import PHONE_WIRE_FORM, validate_country, validate_phone

#: ICANN's Whois Accuracy Program: a registrant who has not verified within 15 days of
#: the change has the domain suspended.
VERIFICATION_WINDOW = timedelta(days=15)
#: Statuses in the registry's `validations` entries.
_VERIFIED = frozenset({"verified", "validated"})
_FAILED = frozenset({"failed", "rejected", "expired"})


class VerificationState(models.TextChoices):
    NONE = "none", "Not asked"
    PENDING = "pending", "Awaiting verification"
    VERIFIED = "verified", "Verified"
    FAILED = "failed", "Verification failed"


def verification_state(validations: object) -> str:
    """The contact's state told from the registry's `validations` entries: failed if one
    failed, pending if one waits, verified if all are, else none asked."""
    statuses = {str(entry.get("status", "")).lower() for entry in validations
                if isinstance(entry, dict)} if isinstance(validations, list) else set()
    if statuses & _FAILED:
        return VerificationState.FAILED
    if statuses - _VERIFIED:
        return VerificationState.PENDING
    return VerificationState.VERIFIED if statuses else VerificationState.NONE


class Contact(models.Model):
    upstream_id = models.PositiveBigIntegerField("upstream id", unique=True, null=True, blank=True)
    handle = models.CharField(max_length=64, blank=True, db_index=True)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    organization = models.CharField(max_length=255, blank=True)
    street_address = models.CharField(max_length=255, blank=True)
    post_code = models.CharField(max_length=32, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=100, blank=True)
    country = CountryField(validators=[validate_country])
    email = models.EmailField(max_length=254)
    phone = models.CharField(
        max_length=20, validators=[validate_phone], help_text="E.164 as +CC.NUMBER"
    )
    extra_properties = models.JSONField(
        default=dict, blank=True, help_text="TLD-specific registry fields."
    )
    validations = models.JSONField(default=list, blank=True)
    # Told from `validations` on every save (`note_validations`), so that the deadline
    # can be filtered and sorted on.
    verification_state = models.CharField(max_length=16, choices=VerificationState.choices,
                                          default=VerificationState.NONE)
    verification_pending_since = models.DateTimeField(null=True, blank=True)
    verification_due_at = models.DateTimeField("verification due", null=True, blank=True)
    split_from = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="split_into"
    )
    tld = models.ForeignKey(
        "registrar.Tld",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="contacts",
        help_text="The TLD whose registry rules this contact was validated against.",
    )
    account = models.ForeignKey(
        "billing.Account", on_delete=models.PROTECT, null=True, blank=True,
        related_name="contacts",
    )
    upstream_created_at = models.DateTimeField(null=True, blank=True)
    upstream_updated_at = models.DateTimeField(null=True, blank=True)
    # An update whose outcome is unknown and whose re-read has not succeeded yet.
    unsettled_operation = models.CharField(max_length=32, blank=True)
    unsettled_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["handle", "id"]
        indexes = [
            models.Index(fields=["organization"]),
            models.Index(fields=["last_name", "first_name"]),
            models.Index(fields=["email"]),
            # Search matches an e-mail address whole in any case: `iexact` compares
            # UPPER(email).
            models.Index(Upper("email"), name="contact_email_upper"),
            # The changelist's order, so that a deep page is read from the index alone.
            models.Index(fields=["handle", "id"], name="contact_handle_order"),
            models.Index(fields=["verification_due_at"],
                         condition=models.Q(verification_state="pending"),
                         name="contact_verification_due"),
        ]
        constraints = [
            # Through a plain CharField: CountryField rewrites lookups on itself.
            models.CheckConstraint(
                condition=Regex(Cast("country", models.CharField(max_length=2)), r"^[A-Z]{2}$"),
                name="contact_country_iso2",
            ),
            models.CheckConstraint(
                condition=models.Q(phone__regex=PHONE_WIRE_FORM.pattern),
                name="contact_phone_e164",
            ),
        ]
        permissions = [
            ("resend_contact_verification", "Can resend a contact's verification e-mail"),
        ]

    def __str__(self) -> str:
        label = self.handle or f"#{self.pk}"
        return f"{label} ({self.full_name})"

    def save(self, *args, **kwargs):
        changed = self.note_validations()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and changed:
            kwargs["update_fields"] = [*update_fields, *changed]
        super().save(*args, **kwargs)

    def note_validations(self) -> list[str]:
        """Derive the verification state and deadline from `validations`; the fields
        that changed. The clock starts when the registry's record last changed (the edit
        that asked for verification), or now when it does not say."""
        state = verification_state(self.validations)
        before = (self.verification_state, self.verification_pending_since,
                  self.verification_due_at)
        if state == VerificationState.PENDING:
            if self.verification_state != VerificationState.PENDING or not (
                    self.verification_pending_since):
                self.verification_pending_since = self.upstream_updated_at or timezone.now()
            self.verification_due_at = self.verification_pending_since + VERIFICATION_WINDOW
        else:
            self.verification_pending_since = self.verification_due_at = None
        self.verification_state = state
        after = (self.verification_state, self.verification_pending_since,
                 self.verification_due_at)
        return [name for name, old, new in zip(
            ("verification_state", "verification_pending_since", "verification_due_at"),
            before, after, strict=True) if old != new]

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()
