"""Shared admin base classes, and the audit trail's admin."""

from __future__ import annotations

from django.contrib import admin

from backoffice.models import StaffAction


class MirrorAdmin(admin.ModelAdmin):
    """Admin for upstream mirrors: every field read-only; staff change upstream state
    only through operations, never by editing a form. No add, no delete."""

    show_full_result_count = False  # no COUNT(*) over the whole table on every page

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] + list(self.readonly_fields)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
        }
        return super().change_view(request, object_id, form_url, extra_context)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(StaffAction)
class StaffActionAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor_label", "action", "target_repr", "outcome",
                    "upstream_code")
    list_filter = ("outcome", "action", "target_type")
    search_fields = ("actor_label", "action", "target_repr", "target_id", "upstream_request_id",
                     "process_id")
    date_hierarchy = "created_at"
    list_select_related = ("actor",)
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    # Append-only, for everyone including superusers.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
