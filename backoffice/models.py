from django.conf import settings
from django.db import models
from django.utils import timezone

from backoffice import assurance


class AppendOnlyError(ValueError):
    """Raised on any attempt to change or delete a row of an append-only table (the
    audit trail, the payment ledger)."""


class AppendOnlyQuerySet(models.QuerySet):
    """Reads and inserts, never changes or removes a row, whichever path asks.

    Set as both the default and the base manager (Meta.base_manager_name): Django's own
    internals (Model.save's UPDATE, the deletion collector, bulk_update) go through the
    base manager's `_update` and `_raw_delete`, not through `update()` and `delete()`.
    """

    def _refuse(self, verb: str):
        raise AppendOnlyError(self.model.append_only_refusal.format(verb=verb))

    def update(self, **kwargs):
        self._refuse("updated")

    def _update(self, values):
        self._refuse("updated")

    def bulk_update(self, objs, fields, batch_size=None):
        self._refuse("updated")

    def bulk_create(self, objs, *args, update_conflicts: bool = False, **kwargs):
        # An upsert (INSERT ... ON CONFLICT DO UPDATE) rewrites the rows it meets.
        if update_conflicts:
            self._refuse("updated")
        return super().bulk_create(objs, *args, **kwargs)

    def delete(self):
        self._refuse("deleted")

    def _raw_delete(self, using):
        self._refuse("deleted")


class AppendOnlyModel(models.Model):
    """A row written once and never changed or deleted.

    A subclass sets `append_only_refusal` ("... cannot be {verb}.") and, in its Meta,
    `base_manager_name = "objects"` with `objects` an AppendOnlyQuerySet manager. On
    PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE as well
    (backoffice.db.append_only_guard).
    """

    append_only_refusal = "These rows are append-only; they cannot be {verb}."

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding or kwargs.get("force_update") or kwargs.get("update_fields"):
            raise AppendOnlyError(self.append_only_refusal.format(verb="updated"))
        # Never the UPDATE-then-INSERT Django tries for a row given an explicit id: an
        # existing id fails loudly instead of overwriting that row.
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    save.alters_data = True

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(self.append_only_refusal.format(verb="deleted"))

    delete.alters_data = True


class StaffActionQuerySet(AppendOnlyQuerySet):
    pass


class StaffAction(AppendOnlyModel):
    """One row per upstream mutation (or attempt): who did what to which object, and how it ended.

    Append-only. The model refuses updates and deletes through every ORM path, the admin
    offers neither, and on PostgreSQL a trigger refuses them (and TRUNCATE) in the
    database too.
    """

    append_only_refusal = "Staff actions are append-only; they cannot be {verb}."

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
    # Empty on rows written before the channel was recorded.
    channel = models.CharField(
        max_length=16, choices=assurance.Channel.choices,
        default=assurance.channel, blank=True, db_index=True,
        editable=False, help_text="How the work was started: web, command line, background "
        "task or webhook.")

    objects = StaffActionQuerySet.as_manager()

    class Meta:
        base_manager_name = "objects"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["target_type", "target_id", "-created_at"]),
            # The dashboard's "my actions" and the trail filtered by who acted.
            models.Index(fields=["actor", "-created_at", "-id"], name="staffaction_actor_recent"),
            # The trail's list, newest first, and its date filter.
            models.Index(fields=["-created_at", "-id"], name="staffaction_recent"),
            # Searched exactly by id (backoffice/changelist.py SearchPlan.ids).
            models.Index(fields=["target_id"], name="staffaction_target_id"),
            models.Index(fields=["upstream_request_id"], name="staffaction_request_id",
                         condition=~models.Q(upstream_request_id="")),
            models.Index(fields=["process_id"], name="staffaction_process_id",
                         condition=~models.Q(process_id="")),
        ]
        verbose_name = "staff action"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.outcome}"


class Note(models.Model):
    """A note staff leave on a registration or a customer: shown on its timeline, kept
    as written (a note is added, never edited; a correction is another note)."""

    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64)
    text = models.TextField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="notes")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id", "-created_at"])]

    def __str__(self) -> str:
        return f"Note by {self.author} on {self.created_at:%Y-%m-%d %H:%M}"
