"""Mirrors of upstream registrar resources: provider accounts, TLDs, registrations,
DNSSEC keys, glue hosts and registrar processes.

Fields that come from upstream change only through services (operations and sync);
the admin shows them read-only.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower

from registrar.providers.base import Capability, RegistrationRef
from registrar.providers.endpoints import (
    TIMEOUT_MAX_SECONDS,
    TIMEOUT_MIN_SECONDS,
    validate_base_url,
    validate_timeout,
)
from registrar.providers.secrets import validate_secret_env
from registrar.values.currencies import validate_currency
from registrar.values.names import normalise_tld, to_ascii, to_unicode

# ISO 4217 from the maintained table: a regex would take "USA" (a country) for a currency.
currency_validator = validate_currency


def provider_kinds() -> list[tuple[str, str]]:
    """The upstream kinds the provider registry knows (a callable, so that a new upstream
    needs no migration)."""
    from registrar.providers.registry import kind_choices

    return kind_choices()


class ProviderAccountQuerySet(models.QuerySet):
    def with_capability(self, *capabilities: Capability) -> ProviderAccountQuerySet:
        """Accounts whose adapter declares every one of `capabilities`: how the core
        chooses accounts, never by naming a kind."""
        from registrar.providers.registry import kinds_with

        return self.filter(kind__in=sorted(kinds_with(*capabilities)))

    def with_adapter(self, base: type) -> ProviderAccountQuerySet:
        """Accounts whose adapter is `base` or one derived from it (the built-in
        sandbox's, for seeding it)."""
        from registrar.providers.registry import ADAPTERS, adapter_class

        return self.filter(kind__in=sorted(kind for kind in ADAPTERS
                                           if issubclass(adapter_class(kind), base)))


class ProviderAccount(models.Model):
    """One upstream account the back-office talks to. Holds the *name* of the
    environment variable with its secret, never the secret itself."""

    label = models.SlugField(max_length=64, unique=True)
    kind = models.CharField(max_length=32, choices=provider_kinds)
    base_url = models.URLField(
        max_length=500, validators=[validate_base_url],
        help_text="https, on the registrar's public host name: every request carries the "
                  "account's secret.")
    account_ref = models.CharField(
        "upstream account reference",
        max_length=128,
        blank=True,
        help_text="Sent as X-Auth-Account (Domain API) or applicationId (Entri).",
    )
    secret_env = models.CharField(
        "secret environment variable",
        max_length=64,
        blank=True,
        validators=[validate_secret_env],
        help_text="Name of the environment variable that holds the API secret: it must "
                  "start with PROVIDER_SECRET_ (e.g. PROVIDER_SECRET_ENTRI_KEY); a name "
                  "ending in _FILE holds the path of a file with the secret.",
    )
    timeout_seconds = models.FloatField(
        default=15.0, validators=[validate_timeout],
        help_text=f"Seconds to wait for an answer, {TIMEOUT_MIN_SECONDS:g} to "
                  f"{TIMEOUT_MAX_SECONDS:g}.")
    enabled = models.BooleanField(default=True)
    options = models.JSONField(
        default=dict, blank=True, help_text="Provider-specific settings, e.g. lightning_mode."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProviderAccountQuerySet.as_manager()

    class Meta:
        ordering = ["label"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(timeout_seconds__gt=0), name="provideraccount_timeout_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.label

    def clean(self) -> None:
        # The webhook's shared secret is named in the options; the same rule as the
        # API secret's variable applies.
        webhook_env = (self.options or {}).get("webhook_secret_env") \
            if isinstance(self.options, dict) else None
        if webhook_env is not None:
            try:
                validate_secret_env(webhook_env if isinstance(webhook_env, str) else "-")
            except ValidationError as exc:
                raise ValidationError({"options": [
                    f"webhook_secret_env: {message}" for message in exc.messages]}) from None

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What this account's upstream can do (read from its adapter, no client built)."""
        from registrar.providers.registry import provider_capabilities

        return provider_capabilities(self.kind)

    def supports(self, capability: Capability) -> bool:
        return capability in self.capabilities


class AuthcodeBehavior(models.TextChoices):
    STANDARD = "standard", "Returned by the API"
    HIDDEN = "hidden", "Hidden by the registry"
    EMAILED = "emailed", "E-mailed to the registrant"


def _fee_has_currency(prefix: str) -> models.CheckConstraint:
    """A fee is either absent (no amount, no currency) or complete (amount and currency)."""
    amount, currency = f"{prefix}_amount", f"{prefix}_currency"
    absent = models.Q(**{f"{amount}__isnull": True, currency: ""})
    complete = models.Q(**{f"{amount}__isnull": False}) & ~models.Q(**{currency: ""})
    return models.CheckConstraint(condition=absent | complete, name=f"tld_{prefix}_has_currency")


class Tld(models.Model):
    name = models.CharField(max_length=63, unique=True, help_text="ASCII form, no leading dot.")
    upstream_id = models.PositiveIntegerField(null=True, blank=True)
    provider_account = models.ForeignKey(
        ProviderAccount,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tlds",
        help_text="Empty: no registrar configured; operations answer registrar_unavailable.",
    )
    supports_privacy = models.BooleanField(default=True)
    supports_transfer_lock = models.BooleanField(default=True)
    supports_push_transfer = models.BooleanField(default=False)
    supports_dnssec = models.BooleanField(default=True)
    requires_contact_validation = models.BooleanField(default=False)
    authcode_behavior = models.CharField(
        max_length=16, choices=AuthcodeBehavior.choices, default=AuthcodeBehavior.STANDARD
    )
    privacy_fee_amount = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Stored in minor units, typed in the currency's own units; empty means "
                  "privacy is free."
    )
    privacy_fee_currency = models.CharField(
        max_length=3, blank=True, validators=[currency_validator]
    )
    registrant_change_fee_amount = models.PositiveIntegerField(null=True, blank=True)
    registrant_change_fee_currency = models.CharField(
        max_length=3, blank=True, validators=[currency_validator]
    )
    cancellation_window_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Days after registration/renewal a cancel is refunded."
    )

    class Meta:
        ordering = ["name"]
        verbose_name = "TLD"
        constraints = [
            models.CheckConstraint(condition=models.Q(name=Lower("name")), name="tld_name_lower"),
            _fee_has_currency("privacy_fee"),
            _fee_has_currency("registrant_change_fee"),
        ]

    def __str__(self) -> str:
        return f".{self.unicode_name}"

    def save(self, *args, **kwargs):
        self.name = normalise_tld(self.name)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        try:
            self.name = normalise_tld(self.name)
        except ValidationError as exc:  # named, so the form shows it on its field
            raise ValidationError({"name": exc.messages}) from exc

    @property
    def unicode_name(self) -> str:
        return to_unicode(self.name)


class RegistrationStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PENDING = "pending", "Pending"
    PENDING_TRANSFER = "pending_transfer", "Transfer pending"
    EXPIRED = "expired", "Expired"
    REDEMPTION = "redemption", "Redemption"
    TRANSFERRED_OUT = "transferred_out", "Transferred out"
    CANCELLED = "cancelled", "Cancelled"


#: No longer ours to operate or remind about: only re-synced.
TERMINAL_STATUSES = frozenset({RegistrationStatus.TRANSFERRED_OUT,
                               RegistrationStatus.CANCELLED})


class Registration(models.Model):
    """A domain registration at an upstream registrar (document 001's registration shape)."""

    upstream_id = models.CharField(
        "upstream id", max_length=64, unique=True, null=True, blank=True, help_text="guid"
    )
    name = models.CharField(max_length=253, unique=True, help_text="ASCII (punycode) form.")
    # The Unicode form, kept beside the ASCII one: staff search by what they read, and a
    # Unicode substring has no punycode substring to match.
    name_unicode = models.CharField("name (Unicode)", max_length=253, editable=False,
                                    db_index=True)
    tld = models.ForeignKey(Tld, on_delete=models.PROTECT, related_name="registrations")
    # The upstream account the registration lives at. A TLD can be sold through several
    # upstreams, so this, not the TLD's default account, routes its operations.
    provider_account = models.ForeignKey(
        ProviderAccount, on_delete=models.PROTECT, null=True, blank=True,
        related_name="registrations",
        help_text="Where the registration lives; empty: the TLD's registrar.",
    )
    account = models.ForeignKey(
        "billing.Account",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="registrations",
    )
    status = models.CharField(
        max_length=32, choices=RegistrationStatus.choices, default=RegistrationStatus.ACTIVE
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    auto_renew = models.BooleanField(default=True)
    locked = models.BooleanField("transfer lock", default=False)
    privacy_protect = models.BooleanField("WHOIS privacy", default=False)
    dnssec_enabled = models.BooleanField("DNSSEC", default=False)
    server_transfer_prohibited = models.BooleanField(default=False)
    local_contact_active = models.BooleanField(default=False)
    cancellation_deadline_at = models.DateTimeField(null=True, blank=True)
    within_cancellation_window = models.BooleanField(null=True, blank=True)
    # Order matters to registries and to staff reading them, so a list, not a set.
    nameservers = models.JSONField(default=list, blank=True)
    # The zone's records, for upstreams that host DNS and list them with the domain.
    dns_records = models.JSONField("DNS records", default=list, blank=True)
    owner_contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.PROTECT, null=True, blank=True,
        related_name="owner_of",
    )
    admin_contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.PROTECT, null=True, blank=True,
        related_name="admin_of",
    )
    tech_contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.PROTECT, null=True, blank=True,
        related_name="tech_of",
    )
    billing_contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.PROTECT, null=True, blank=True,
        related_name="billing_of",
    )
    pending_async = models.BooleanField("process in flight", default=False)
    rtr_process_id = models.CharField("process id", max_length=64, blank=True)
    rtr_process_status = models.CharField("process status", max_length=32, blank=True)
    transfer_out_pending = models.BooleanField(default=False)
    # When the registry acknowledges the pending outbound transfer by itself (the ICANN
    # Transfer Policy's 5 days): read from the registration's live view by the sync
    # and by the decision page, cleared once nothing is pending.
    transfer_out_auto_ack_at = models.DateTimeField("transfer-out auto-ACK", null=True,
                                                    blank=True)
    push_transfer_pending = models.BooleanField(default=False)
    subscription_id = models.CharField(max_length=64, blank=True)
    upstream_created_at = models.DateTimeField(null=True, blank=True)
    upstream_updated_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    # Set by the reconcile job when the registrar stops returning the registration: we
    # never delete a mirror row, we flag it for a person to look at.
    missing_upstream_at = models.DateTimeField(null=True, blank=True)
    # An operation whose outcome is unknown (the request left, no usable answer came
    # back) and whose re-read has not succeeded yet: the same operation is refused
    # until the registration has been read again.
    unsettled_operation = models.CharField(max_length=32, blank=True)
    unsettled_since = models.DateTimeField(null=True, blank=True)
    # Local, never mirrored: the customer asked that their domain's auth code and
    # unlock need a second person's approval (registrar/approvals.py).
    customer_flagged = models.BooleanField(
        "extra verification", default=False,
        help_text="The customer asked for two-person approval of auth-code reveals and "
                  "unlocks.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Fields mirrored from upstream; staff change them only through operations.
    MIRRORED_FIELDS = (
        "upstream_id", "name", "tld", "status", "expires_at", "auto_renew", "locked",
        "privacy_protect", "dnssec_enabled", "server_transfer_prohibited",
        "local_contact_active", "cancellation_deadline_at", "within_cancellation_window",
        "nameservers", "dns_records", "provider_account", "owner_contact", "admin_contact",
        "tech_contact", "billing_contact",
        "pending_async", "rtr_process_id", "rtr_process_status", "transfer_out_pending",
        "transfer_out_auto_ack_at",
        "push_transfer_pending", "subscription_id", "upstream_created_at",
        "upstream_updated_at", "last_synced_at", "missing_upstream_at",
        "unsettled_operation", "unsettled_since",
    )

    class Meta:
        ordering = ["name"]
        indexes = [
            # The list's order with the key: a deep page's keys are read from the index
            # alone (the unique index on name holds no id).
            models.Index(fields=["name", "id"], name="registration_name_order"),
            # A status filter in the list's order (and any lookup by status alone).
            models.Index(fields=["status", "name", "id"], name="registration_status_name"),
            # The changelist's sorts: Django breaks ties by the primary key, so each
            # sort column is indexed with it (a deep page is then read from the index
            # alone); the expiry one also serves the expiry windows.
            models.Index(fields=["expires_at", "id"], name="registration_expiry_order"),
            models.Index(fields=["last_synced_at", "id"], name="registration_synced_order"),
            # The list filters that pick a small share, in the list's order: a first
            # page and its capped count read only the rows they show.
            models.Index(fields=["name", "id"], condition=models.Q(customer_flagged=True),
                         name="registration_flagged_keys"),
            models.Index(fields=["name", "id"], condition=models.Q(dnssec_enabled=True),
                         name="registration_dnssec_on_keys"),
            models.Index(fields=["name", "id"], condition=models.Q(auto_renew=False),
                         name="registration_renew_off_keys"),
            models.Index(fields=["pending_async"], condition=models.Q(pending_async=True),
                         name="registration_in_flight"),
            models.Index(fields=["transfer_out_pending"],
                         condition=models.Q(transfer_out_pending=True),
                         name="registration_transfer_out"),
            models.Index(fields=["transfer_out_auto_ack_at"],
                         condition=models.Q(transfer_out_auto_ack_at__isnull=False),
                         name="registration_auto_ack"),
            models.Index(fields=["missing_upstream_at"],
                         condition=models.Q(missing_upstream_at__isnull=False),
                         name="registration_missing_upstream"),
            models.Index(fields=["unsettled_since"],
                         condition=models.Q(unsettled_since__isnull=False),
                         name="registration_unsettled"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(name=Lower("name")), name="registration_name_lower"
            ),
        ]
        permissions = [
            ("lock_registration", "Can lock and unlock registrations"),
            ("set_privacy", "Can switch WHOIS privacy"),
            ("manage_dnssec", "Can manage DNSSEC"),
            ("set_auto_renew", "Can switch auto-renew"),
            ("change_nameservers", "Can change nameservers"),
            ("change_holder", "Can edit or change the holder"),
            ("order_registrant_change", "Can order a paid registrant change"),
            ("change_role_contacts", "Can change role contacts"),
            ("reveal_authcode", "Can reveal the auth (EPP) code"),
            ("force_sync", "Can re-sync a registration from upstream"),
            ("decide_transfer_out", "Can approve or reject an outbound transfer"),
            ("push_transfer", "Can push a registration to another registrar"),
            ("resend_verification", "Can resend holder contact verification"),
            ("manage_dns_records", "Can replace DNS records at the registrar"),
            ("flag_registration", "Can set or clear a customer's extra-verification flag"),
        ]

    def __str__(self) -> str:
        return self.unicode_name

    def save(self, *args, **kwargs):
        self.name = to_ascii(self.name)
        self.name_unicode = to_unicode(self.name)
        if kwargs.get("update_fields") is not None and "name" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "name_unicode"}
        if self._state.adding and self.provider_account_id is None and self.tld_id:
            # Created here without saying where it lives: at the TLD's registrar.
            self.provider_account_id = self.tld.provider_account_id
        super().save(*args, **kwargs)

    @property
    def served_by(self) -> ProviderAccount | None:
        """The provider account that answers for this registration."""
        return self.provider_account or self.tld.provider_account

    @property
    def ref(self) -> RegistrationRef:
        """How its upstream names it."""
        return RegistrationRef(name=self.name, upstream_id=self.upstream_id or "")

    def clean(self) -> None:
        self.name = to_ascii(self.name)

    @property
    def unicode_name(self) -> str:
        return to_unicode(self.name)


class DnssecKey(models.Model):
    class Flags(models.IntegerChoices):
        ZSK = 256, "256 (ZSK)"
        KSK = 257, "257 (KSK)"

    registration = models.ForeignKey(
        Registration, on_delete=models.CASCADE, related_name="dnssec_keys"
    )
    flags = models.PositiveIntegerField(choices=Flags.choices)
    algorithm = models.PositiveSmallIntegerField()
    public_key = models.TextField(help_text="Base64.")

    class Meta:
        verbose_name = "DNSSEC key"
        constraints = [
            models.UniqueConstraint(
                fields=["registration", "flags", "algorithm", "public_key"],
                name="dnssec_key_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(algorithm__lte=255), name="dnssec_algorithm_octet"
            ),
        ]

    def __str__(self) -> str:
        return f"flags {self.flags} alg {self.algorithm} {self.public_key[:16]}…"


class Host(models.Model):
    """A glue host: one of the registration's own name servers, with its addresses."""

    registration = models.ForeignKey(Registration, on_delete=models.CASCADE, related_name="hosts")
    host_name = models.CharField(max_length=253, help_text="ASCII form.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["host_name"]
        verbose_name = "glue host"
        indexes = [models.Index(fields=["host_name", "id"], name="host_name_order")]
        constraints = [
            models.UniqueConstraint(fields=["registration", "host_name"], name="host_unique"),
            models.CheckConstraint(
                condition=models.Q(host_name=Lower("host_name")), name="host_name_lower"
            ),
        ]

    def __str__(self) -> str:
        return to_unicode(self.host_name)


class HostAddress(models.Model):
    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="addresses")
    address = models.GenericIPAddressField(unpack_ipv4=False)
    version = models.PositiveSmallIntegerField(choices=[(4, "IPv4"), (6, "IPv6")])

    class Meta:
        ordering = ["version", "address"]
        verbose_name_plural = "host addresses"
        constraints = [
            models.UniqueConstraint(fields=["host", "address"], name="host_address_unique"),
            models.CheckConstraint(
                condition=models.Q(version__in=[4, 6]), name="host_address_version"
            ),
        ]

    def __str__(self) -> str:
        return self.address


class ProcessStatus(models.TextChoices):
    """Realtime Register's process statuses."""

    NEW = "NEW", "New"
    VALIDATED = "VALIDATED", "Validated"
    SCHEDULED = "SCHEDULED", "Scheduled"
    RUNNING = "RUNNING", "Running"
    SUSPENDED = "SUSPENDED", "Suspended (needs resend)"
    IN_DOUBT = "IN_DOUBT", "In doubt"
    COMPLETED = "COMPLETED", "Completed"
    INVALID = "INVALID", "Invalid"
    CANCELLED = "CANCELLED", "Cancelled"
    FAILED = "FAILED", "Failed"

    @classmethod
    def terminal(cls) -> frozenset[str]:
        # SUSPENDED and IN_DOUBT are not terminal: they wait for staff (resend)
        # or for the registry to settle, and the registration stays busy.
        return frozenset({cls.COMPLETED, cls.INVALID, cls.CANCELLED, cls.FAILED})

    @classmethod
    def is_terminal(cls, status: str) -> bool:
        return status in cls.terminal()


class Process(models.Model):
    """An asynchronous registrar process (opened by every 202)."""

    upstream_id = models.CharField(max_length=64)
    registration = models.ForeignKey(
        Registration, on_delete=models.CASCADE, related_name="processes"
    )
    action = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=ProcessStatus.choices)
    is_terminal = models.BooleanField(default=False, db_index=True)
    stuck = models.BooleanField(default=False, help_text="Gave up polling: needs staff attention.")
    poll_count = models.PositiveIntegerField(default=0)
    # When the one chain of polls following this process polls next. Each poll carries
    # the time it was scheduled for; one that finds another time here was superseded
    # (the sweep restarted a lost chain) and ends without polling.
    next_poll_at = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField("raw body", default=dict, blank=True)
    upstream_created_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "processes"
        constraints = [
            models.UniqueConstraint(
                fields=["registration", "upstream_id"], name="process_unique_per_registration"
            ),
        ]
        indexes = [
            models.Index(fields=["status"]),
            models.Index(fields=["next_poll_at"],
                         condition=models.Q(is_terminal=False, stuck=False),
                         name="process_followed"),
            # The changelist: newest first (ties by id), and found by the upstream's id.
            models.Index(fields=["created_at", "id"], name="process_created_order"),
            models.Index(fields=["upstream_id"], name="process_upstream_id"),
            # The action filter's values, read by a loose index scan.
            models.Index(fields=["action"], name="process_action"),
        ]
        permissions = [
            ("resend_process", "Can resend (resume) a suspended process"),
            ("cancel_process", "Can cancel a process"),
        ]

    def __str__(self) -> str:
        return f"{self.upstream_id} {self.action} {self.status}"

    def save(self, *args, **kwargs):
        self.is_terminal = ProcessStatus.is_terminal(self.status)
        super().save(*args, **kwargs)


class ProcessLogEntry(models.Model):
    process = models.ForeignKey(Process, on_delete=models.CASCADE, related_name="log_entries")
    logged_at = models.DateTimeField(null=True, blank=True)
    message = models.TextField(blank=True)
    raw = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["logged_at", "id"]
        verbose_name_plural = "process log entries"
        indexes = [models.Index(fields=["logged_at", "id"], name="process_log_order")]

    def __str__(self) -> str:
        return self.message[:80]


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", "Waiting for approval"
    APPROVED = "approved", "Approved and run"
    DECLINED = "declined", "Declined"
    EXPIRED = "expired", "Expired"


class Approval(models.Model):
    """A high-risk operation one person asked for and a second must approve (Nomulus's
    registry-lock confirmation; the ICANN Transfer Policy's evidence of who authorised
    a transfer). The request keeps what to run; approval runs it once, within the window.

    Rows are never deleted: the request, the decision and the outcome are the record.
    """

    operation = models.CharField(max_length=32, help_text="The operation, as in services.")
    rule = models.CharField(max_length=32, help_text="Which two-person rule asked for it.")
    registration = models.ForeignKey(Registration, on_delete=models.PROTECT,
                                     related_name="approvals")
    # What to run on approval (no secrets: auth codes are never part of a request).
    parameters = models.JSONField(default=dict, blank=True)
    summary = models.CharField(max_length=255)
    ticket = models.CharField("ticket", max_length=64)
    verification = models.TextField("how the customer was verified")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     related_name="approvals_requested")
    requested_at = models.DateTimeField(db_index=True)
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=ApprovalStatus.choices,
                              default=ApprovalStatus.PENDING, db_index=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                   blank=True, related_name="approvals_decided")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    # Set when the approved operation ran: an approval is good for one run.
    executed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, blank=True)
    outcome_message = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["status", "-requested_at"])]
        permissions = [
            ("approve_operation", "Can approve or decline another person's high-risk request"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.summary}"


class NoticeOutcome(models.TextChoices):
    # Claimed and handed to the mail backend; becomes "sent" or "failed". One still
    # "sending" long after its claim is shown as outcome unknown (the run died between
    # handing it over and recording the answer) and is never sent again on its own.
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    NOT_SENDABLE = "not_sendable", "Not sendable (no e-mail address)"


class RenewalNotice(models.Model):
    """One renewal reminder owed to a registration's customer (ICANN Expired
    Registration Recovery Policy): for one point of the schedule and one expiry date.

    The unique (registration, point, expiry_date) is the claim: a row exists before its
    e-mail is handed over, so two runs cannot both send it, and a rerun finds it done.
    A renewal moves the expiry date and so owes a fresh set of reminders.
    """

    registration = models.ForeignKey(Registration, on_delete=models.PROTECT,
                                     related_name="renewal_notices")
    point = models.CharField("schedule point", max_length=32,
                             help_text="The NOTICE_SCHEDULE name, e.g. month_before.")
    offset_days = models.SmallIntegerField(help_text="Days from expiry (negative: before).")
    expiry_date = models.DateField(help_text="The expiry (UTC date) this notice is about.")
    expires_at = models.DateTimeField()
    recipient = models.EmailField(max_length=254, blank=True)
    recipient_source = models.CharField(max_length=16, blank=True,
                                        help_text="account, holder, or empty.")
    outcome = models.CharField(max_length=16, choices=NoticeOutcome.choices)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField("Message-ID", max_length=255, blank=True)
    detail = models.TextField(blank=True, help_text="Why it failed or could not be sent.")

    class Meta:
        ordering = ["-claimed_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["registration", "point", "expiry_date"],
                                    name="renewal_notice_once_per_point"),
        ]
        indexes = [models.Index(fields=["registration", "-claimed_at"],
                                name="renewal_notice_timeline")]
        permissions = [
            ("suppress_notices", "Can suppress and resume a registration's renewal notices"),
        ]

    def __str__(self) -> str:
        return f"{self.point} notice for {self.expiry_date:%Y-%m-%d} ({self.outcome})"


class NoticeSuppression(models.Model):
    """Staff stopped a registration's renewal notices (a reason is required); resuming
    closes the row. The rows are the history; at most one is open per registration."""

    registration = models.ForeignKey(Registration, on_delete=models.PROTECT,
                                     related_name="notice_suppressions")
    reason = models.TextField()
    suppressed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                      related_name="notice_suppressions")
    suppressed_at = models.DateTimeField()
    resumed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   null=True, blank=True, related_name="notice_resumptions")
    resumed_at = models.DateTimeField(null=True, blank=True)
    resume_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-suppressed_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["registration"],
                                    condition=models.Q(resumed_at__isnull=True),
                                    name="notice_suppression_one_open"),
        ]

    def __str__(self) -> str:
        return f"Notices suppressed for {self.registration_id} since {self.suppressed_at}"
