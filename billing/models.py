"""Customers, orders and the money ledger.

Money is integer minor units plus an ISO 4217 currency, never floats.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models, router, transaction
from django.db.models import F, Q
from django.db.models.functions import Upper
from django.utils import timezone

from backoffice.models import AppendOnlyModel, AppendOnlyQuerySet
from registrar.models import currency_validator
from registrar.money import format_minor


class Account(models.Model):
    """A customer of the platform."""

    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254, db_index=True)
    customer_reference = models.CharField(
        max_length=64, unique=True, help_text="Our reference, sent upstream as customerReference."
    )
    entri_user_id = models.CharField("Entri user id", max_length=64, blank=True)
    domain_api_account = models.CharField("Domain API account", max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        permissions = [("generate_billing_link", "Can generate a billing-portal link")]
        # The changelists' search by e-mail (case-insensitive, whole): Django's iexact
        # compares UPPER(email).
        indexes = [models.Index(Upper("email"), name="account_email_upper"),
                   # The header search compares references case-insensitively.
                   models.Index(Upper("customer_reference"), name="account_reference_upper")]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class OrderKind(models.TextChoices):
    REGISTRATION = "registration", "Registration"
    TRANSFER_IN = "transfer_in", "Transfer in"
    RENEWAL = "renewal", "Renewal"
    REGISTRANT_CHANGE = "registrant_change", "Registrant change"
    PRIVACY = "privacy", "WHOIS privacy"
    EMAIL_INFRASTRUCTURE = "email_infrastructure", "Email infrastructure"


class OrderStatus(models.TextChoices):
    # Our own first step: priced and shown to staff, not yet sent upstream. Nothing
    # has been charged; a quote that is never confirmed expires (QUOTE_TTL).
    QUOTED = "quoted", "Quoted (not placed)"
    # Entri Sell's order/domain statuses ...
    PAYMENT_INITIATED = "payment_initiated", "Payment initiated"
    PAYMENT_SUCCESSFUL = "payment_successful", "Payment successful"
    PAYMENT_FAILED = "payment_failed", "Payment failed"
    REGISTRATION_IN_PROGRESS = "registration_in_progress", "Registration in progress"
    REGISTERED = "registered", "Registered"
    TRANSFERRED = "transferred", "Transferred"
    TRANSFER_STARTED = "transfer_started", "Transfer started"
    TRANSFER_COMPLETED = "transfer_completed", "Transfer completed"
    TRANSFER_ACK = "transfer_ack", "Transfer acknowledged"
    TRANSFER_SUCCESS = "transfer_success", "Transfer succeeded"
    TRANSFER_FAILED = "transfer_failed", "Transfer failed"
    # ... and the ends the other upstreams and our own flows need.
    REFUNDED = "refunded", "Refunded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


#: Statuses in which the customer's money was taken (and not necessarily given back:
#: `refunded_minor` says how much was). Gross revenue counts only these; a quote, a
#: payment that failed or was never completed, and an order that failed before any
#: charge count nothing.
CHARGED_STATUSES = frozenset({
    OrderStatus.PAYMENT_SUCCESSFUL,
    OrderStatus.REGISTRATION_IN_PROGRESS,
    OrderStatus.REGISTERED,
    OrderStatus.TRANSFERRED,
    OrderStatus.TRANSFER_STARTED,
    OrderStatus.TRANSFER_COMPLETED,
    OrderStatus.TRANSFER_ACK,
    OrderStatus.TRANSFER_SUCCESS,
    OrderStatus.TRANSFER_FAILED,
    OrderStatus.REFUNDED,
})

#: Charged, and the thing bought has not been delivered yet.
AWAITING_DELIVERY_STATUSES = frozenset({
    OrderStatus.PAYMENT_SUCCESSFUL,
    OrderStatus.REGISTRATION_IN_PROGRESS,
    OrderStatus.TRANSFER_STARTED,
    OrderStatus.TRANSFER_ACK,
})

#: The registration or transfer did not happen.
DELIVERY_FAILED_STATUSES = frozenset({OrderStatus.FAILED, OrderStatus.TRANSFER_FAILED})


def _sorted(statuses) -> list[str]:
    # A fixed order, so that the SQL of an index's condition and of the query it serves
    # are written alike whatever the process's hash seed.
    return sorted(str(status) for status in statuses)


#: Each needs-attention rule that reads only the order's own row (with the ledger
#: figures kept on it), as a condition; billing/finance/attention.py filters by the same
#: Q objects, so the planner matches each to its partial index.
ATTENTION_CONDITIONS = {
    "undelivered": Q(status__in=_sorted(AWAITING_DELIVERY_STATUSES)),
    "failed_unrefunded": Q(status__in=_sorted(DELIVERY_FAILED_STATUSES), paid_minor__gt=0,
                           refunded_back_minor__lt=F("paid_minor")),
    "refund_pending": Q(refunds_pending__gt=0),
    "price_mismatch": (Q(status__in=_sorted(CHARGED_STATUSES), quoted_total_minor__isnull=False)
                       & ~Q(quoted_total_minor=F("total_minor"))),
    "refunded_nothing": Q(status=OrderStatus.REFUNDED.value, refunded_minor=0),
    "unsettled": Q(unsettled_since__isnull=False),
}

ATTENTION_INDEXES = [
    models.Index(fields=["placed_at", "id"], condition=ATTENTION_CONDITIONS[key],
                 name=f"order_attention_{name}")
    for key, name in (("undelivered", "undelivered"), ("failed_unrefunded", "failed"),
                      ("refund_pending", "refund"), ("price_mismatch", "price"),
                      ("refunded_nothing", "refunded"), ("unsettled", "unsettled"))
]


class PurchaseType(models.TextChoices):
    """name.com's purchaseType vocabulary."""

    REGISTRATION = "registration", "Standard / registry premium"
    AFTERMARKET_S = "aftermarket_s", "Aftermarket (s)"
    AFTERMARKET_B = "aftermarket_b", "Aftermarket (b)"
    AFTERMARKET_I = "aftermarket_i", "Aftermarket (i)"
    EXPIRING = "expiring", "Expiring"
    BACKORDER = "backorder", "Backorder"


class Order(models.Model):
    upstream_id = models.CharField("upstream id", max_length=64, null=True, blank=True)
    provider_account = models.ForeignKey(
        "registrar.ProviderAccount", on_delete=models.PROTECT, null=True, blank=True,
        related_name="orders",
    )
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, null=True, blank=True, related_name="orders"
    )
    registration = models.ForeignKey(
        "registrar.Registration", on_delete=models.SET_NULL, null=True, blank=True,
        related_name="orders",
    )
    tld = models.ForeignKey(
        "registrar.Tld", on_delete=models.PROTECT, null=True, blank=True, related_name="orders"
    )
    kind = models.CharField(max_length=32, choices=OrderKind.choices)
    status = models.CharField(max_length=32, choices=OrderStatus.choices)
    status_reason = models.TextField(blank=True, help_text="Upstream's reason, kept verbatim.")
    domain = models.CharField(max_length=253, blank=True, help_text="ASCII form.")
    years = models.PositiveSmallIntegerField(default=1)
    purchase_type = models.CharField(
        max_length=16, choices=PurchaseType.choices, default=PurchaseType.REGISTRATION
    )
    premium = models.BooleanField(default=False)
    currency = models.CharField(max_length=3, validators=[currency_validator])
    subtotal_minor = models.PositiveBigIntegerField("subtotal", default=0)
    fees_minor = models.PositiveBigIntegerField("fees", default=0)
    total_minor = models.PositiveBigIntegerField("total", default=0)
    refunded_minor = models.PositiveBigIntegerField("refunded", default=0)
    quoted_total_minor = models.PositiveBigIntegerField(
        "quoted total", null=True, blank=True, help_text="What staff were shown before placing."
    )
    quote = models.JSONField(
        default=dict, blank=True,
        help_text="The price as quoted to staff before placing (never an auth code).")
    quote_expires_at = models.DateTimeField(null=True, blank=True)
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", help_text="The staff member who placed it (empty when mirrored).")
    idempotency_key = models.CharField(max_length=128, unique=True, null=True, blank=True)
    customer_reference = models.CharField(max_length=64, blank=True, db_index=True)
    # Placed, and no usable answer came back: whether the upstream took (and charged) it
    # is not known yet. Settled by reading the upstream again (billing.settle_order).
    unsettled_since = models.DateTimeField(null=True, blank=True)
    # What the ledger holds for this order, kept by LedgerEntry's writes (billing.ledger.
    # refresh_ledger_figures) in the transaction that adds an entry: the needs-attention
    # rules read them from the order's row, under a partial index, instead of summing
    # every order's entries.
    paid_minor = models.PositiveBigIntegerField(
        "paid (ledger)", default=0, editable=False,
        help_text="Succeeded payments recorded in the ledger.")
    refunded_back_minor = models.PositiveBigIntegerField(
        "refunded (ledger)", default=0, editable=False,
        help_text="Succeeded refunds recorded in the ledger.")
    refunds_pending = models.PositiveIntegerField(
        "refunds pending (ledger)", default=0, editable=False,
        help_text="Refund entries pending that no later entry settles.")
    placed_at = models.DateTimeField(default=timezone.now, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-placed_at", "-id"]
        indexes = [
            models.Index(fields=["status"]),
            models.Index(fields=["kind"]),
            models.Index(fields=["currency", "placed_at"]),
            # The lists' order, newest first: deep pages read their keys from it alone.
            models.Index(fields=["-placed_at", "-id"], name="order_recent"),
            # Searched exactly by the upstream's id (backoffice/changelist.py SearchPlan).
            models.Index(fields=["upstream_id"], name="order_upstream_id"),
            models.Index(fields=["unsettled_since"],
                         condition=Q(unsettled_since__isnull=False), name="order_unsettled"),
            # The needs-attention sections (billing/finance/attention.py), each in the
            # order it lists them: every section, its count and the dashboard's figure
            # read one small partial index.
            *ATTENTION_INDEXES,
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["provider_account", "upstream_id"],
                condition=Q(upstream_id__isnull=False),
                name="order_upstream_unique",
            ),
            models.CheckConstraint(condition=Q(years__gte=1, years__lte=10), name="order_years"),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="order_currency_iso"
            ),
            models.CheckConstraint(
                condition=Q(refunded_minor__lte=F("total_minor")), name="order_refund_le_total"
            ),
            models.CheckConstraint(
                condition=Q(subtotal_minor__gte=0, fees_minor__gte=0, total_minor__gte=0,
                            refunded_minor__gte=0),
                name="order_amounts_non_negative",
            ),
        ]
        permissions = [
            ("place_order", "Can place orders for customers"),
            ("view_finance", "Can use the finance area"),
            ("export_orders", "Can export orders"),
        ]

    def __str__(self) -> str:
        return f"Order {self.pk} {self.get_kind_display()} {self.domain}".strip()

    @property
    def charged(self) -> bool:
        return self.status in CHARGED_STATUSES

    @property
    def gross_minor(self) -> int:
        """What the customer was charged: the total once money was taken, else 0."""
        return self.total_minor if self.charged else 0

    @property
    def net_minor(self) -> int:
        """Gross less refunds. Fees are part of gross (they are what was charged)."""
        return self.gross_minor - self.refunded_minor


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    upstream_id = models.CharField(max_length=64, blank=True)
    description = models.CharField(max_length=255)
    domain = models.CharField(max_length=253, blank=True)
    quantity = models.PositiveIntegerField(default=1)
    unit_amount_minor = models.PositiveBigIntegerField("unit amount", default=0)
    total_minor = models.PositiveBigIntegerField("total", default=0)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.description


class LedgerEntryQuerySet(AppendOnlyQuerySet):
    def bulk_create(self, objs, *args, **kwargs):
        from billing.ledger import refresh_ledger_figures

        objs = list(objs)
        with transaction.atomic(using=self.db):
            created = super().bulk_create(objs, *args, **kwargs)
            refresh_ledger_figures(_orders_touched(objs))
        return created


def _orders_touched(entries) -> set[int]:
    """The orders whose ledger figures `entries` change: their own, and the order of
    each entry they settle."""
    touched = {entry.order_id for entry in entries}
    settled = [entry.settles_id for entry in entries if entry.settles_id is not None]
    if settled:
        touched |= set(LedgerEntry.objects.filter(pk__in=settled).values_list(
            "order_id", flat=True))
    return touched


class LedgerEntry(AppendOnlyModel):
    """A payment or refund, as money actually moved (or was asked to). Append-only
    through every ORM path, and by trigger on PostgreSQL: a refund that settles later is
    a new entry pointing at the pending one."""

    append_only_refusal = ("The ledger is append-only; entries cannot be {verb}: record a "
                           "new entry instead.")

    class Kind(models.TextChoices):
        PAYMENT = "payment", "Payment"
        REFUND = "refund", "Refund"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="ledger_entries")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    state = models.CharField(max_length=16, choices=State.choices)
    amount_minor = models.PositiveBigIntegerField("amount")
    currency = models.CharField(max_length=3, validators=[currency_validator])
    settles = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="settled_by",
        help_text="The pending entry this one resolves.",
    )
    external_reference = models.CharField(max_length=128, blank=True)
    note = models.TextField(blank=True)
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = LedgerEntryQuerySet.as_manager()

    class Meta:
        base_manager_name = "objects"
        ordering = ["occurred_at", "id"]
        verbose_name_plural = "ledger entries"
        # The ledger's changelist searches a reference exactly.
        indexes = [models.Index(fields=["external_reference"], name="ledger_reference")]
        constraints = [
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="ledger_currency_iso"
            ),
        ]

    def __str__(self) -> str:
        return (f"{self.get_kind_display()} {format_minor(self.amount_minor, self.currency)}"
                f" ({self.state})")

    def save(self, *args, **kwargs):
        from billing.ledger import refresh_ledger_figures

        # The entry and the order's ledger figures it changes, in one transaction.
        with transaction.atomic(using=kwargs.get("using") or router.db_for_write(LedgerEntry)):
            super().save(*args, **kwargs)
            refresh_ledger_figures(_orders_touched([self]))

    save.alters_data = True

class WebhookEvent(models.Model):
    """An event an upstream pushed to us. Kept whatever its type, once per event id, so
    a redelivery is recognised and changes nothing."""

    provider_account = models.ForeignKey(
        "registrar.ProviderAccount", on_delete=models.PROTECT, related_name="webhook_events")
    event_id = models.CharField(max_length=128)
    event_type = models.CharField(max_length=128, db_index=True)
    payload = models.JSONField()
    order = models.ForeignKey(Order, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="webhook_events")
    outcome = models.CharField(
        max_length=32,
        help_text="applied, ignored (nothing to apply), out_of_order (stale: not applied)")
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["provider_account", "event_id"],
                                    name="webhook_event_once"),
        ]
        # The events' changelist searches an event id exactly, whichever provider.
        indexes = [models.Index(fields=["event_id"], name="webhook_event_id")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"

