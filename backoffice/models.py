from django.conf import settings
from django.db import models
from django.utils import timezone


class AppendOnlyError(Exception):
    """Raised on any attempt to change or delete an audit row."""


class StaffActionQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Staff actions are append-only; they cannot be updated.")

    def delete(self):
        raise AppendOnlyError("Staff actions are append-only; they cannot be deleted.")


class StaffAction(models.Model):
    """One row per upstream mutation (or attempt): who did what to which object, and how it ended.

    Append-only. The model refuses updates and deletes, the admin offers neither, and on
    PostgreSQL a trigger refuses them in the database too.
    """

    class Outcome(models.TextChoices):
        SUCCEEDED = "succeeded", "Succeeded"
        PENDING = "pending", "Pending (async process)"
        PAYMENT_REQUIRED = "payment_required", "Payment required"
        FAILED = "failed", "Failed"
        # The request left and no usable answer came back: it may have been applied.
        UNKNOWN = "unknown", "Outcome unknown (may have been applied)"

    created_at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    # PROTECT: a user who acted can be deactivated, never deleted with their trail.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff_actions",
        help_text="Empty for system work (sync, polling).",
    )
    actor_label = models.CharField(
        max_length=150, help_text="Username at the time, or the system job that acted."
    )
    action = models.CharField(max_length=64, db_index=True, help_text="e.g. registration.lock")
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=255, blank=True)
    parameters = models.JSONField(default=dict, blank=True, help_text="Secrets are masked.")
    outcome = models.CharField(max_length=20, choices=Outcome.choices, db_index=True)
    upstream_status = models.PositiveSmallIntegerField(null=True, blank=True)
    upstream_code = models.CharField(max_length=64, blank=True)
    upstream_request_id = models.CharField(max_length=128, blank=True)
    process_id = models.CharField(max_length=64, blank=True)
    message = models.TextField(blank=True)

    objects = StaffActionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id", "-created_at"])]
        verbose_name = "staff action"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.outcome}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Staff actions are append-only; they cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Staff actions are append-only; they cannot be deleted.")
