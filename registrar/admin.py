from __future__ import annotations

from datetime import timedelta

from django.contrib import admin
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.timesince import timesince

from backoffice.admin import MirrorAdmin, ReadOnlyInline
from registrar.admin_operations import RegistrationOperationsMixin
from registrar.domain_names import to_unicode
from registrar.models import (
    DnssecKey,
    Host,
    HostAddress,
    Process,
    ProcessLogEntry,
    ProviderAccount,
    Registration,
    Tld,
)


@admin.register(ProviderAccount)
class ProviderAccountAdmin(admin.ModelAdmin):
    list_display = ("label", "kind", "base_url", "account_ref", "secret_env", "enabled")
    list_filter = ("kind", "enabled")
    search_fields = ("label", "account_ref")
    readonly_fields = ("created_at", "updated_at")

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "base_url":
            kwargs["assume_scheme"] = "https"
        return super().formfield_for_dbfield(db_field, request, **kwargs)


@admin.register(Tld)
class TldAdmin(admin.ModelAdmin):
    list_display = ("__str__", "name", "provider_account", "supports_privacy",
                    "supports_transfer_lock", "supports_push_transfer", "supports_dnssec",
                    "requires_contact_validation", "authcode_behavior")
    list_filter = ("provider_account", "supports_privacy", "supports_dnssec",
                   "requires_contact_validation")
    list_select_related = ("provider_account",)
    search_fields = ("name",)


class ExpiringFilter(admin.SimpleListFilter):
    title = "expiring within"
    parameter_name = "expiring"

    def lookups(self, request, model_admin):
        return [("30", "30 days"), ("60", "60 days"), ("90", "90 days")]

    def queryset(self, request, queryset):
        if self.value() in {"30", "60", "90"}:
            now = timezone.now()
            return queryset.filter(
                expires_at__gte=now, expires_at__lte=now + timedelta(days=int(self.value()))
            )
        return queryset


class DnssecKeyInline(ReadOnlyInline):
    model = DnssecKey
    show_change_link = False


class ProcessInline(ReadOnlyInline):
    model = Process
    fields = ("upstream_id", "action", "status", "stuck", "created_at")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("registration")


@admin.register(Registration)
class RegistrationAdmin(RegistrationOperationsMixin, MirrorAdmin):
    list_display = ("unicode_name", "tld", "account", "status", "expires_at", "locked",
                    "privacy_protect", "dnssec_enabled", "auto_renew", "pending_async",
                    "last_synced_at")
    list_select_related = ("tld", "tld__provider_account", "account")
    list_filter = ("status", "tld", "tld__provider_account", "locked", "privacy_protect",
                   "dnssec_enabled", "auto_renew", ExpiringFilter, "pending_async",
                   "transfer_out_pending")
    search_fields = ("name", "name_unicode", "account__email", "upstream_id")
    search_help_text = "Name (Unicode or punycode), account e-mail or upstream id."
    date_hierarchy = None
    ordering = ("name",)
    inlines = [DnssecKeyInline, ProcessInline]
    fieldsets = [
        (None, {"fields": ("name", "upstream_id", "tld", "account", "status", "expires_at")}),
        ("Flags", {"fields": ("auto_renew", "locked", "privacy_protect", "dnssec_enabled",
                              "server_transfer_prohibited", "local_contact_active",
                              "cancellation_deadline_at", "within_cancellation_window")}),
        ("Contacts", {"fields": ("owner_contact", "admin_contact", "tech_contact",
                                 "billing_contact")}),
        ("Nameservers", {"fields": ("nameservers",)}),
        ("Async and transfers", {"fields": ("pending_async", "rtr_process_id",
                                            "rtr_process_status", "transfer_out_pending",
                                            "push_transfer_pending", "subscription_id")}),
        ("Timestamps", {"fields": ("upstream_created_at", "upstream_updated_at",
                                   "last_synced_at", "created_at", "updated_at")}),
    ]

    @admin.display(description="name", ordering="name")
    def unicode_name(self, registration: Registration) -> str:
        return registration.unicode_name


class HostAddressInline(ReadOnlyInline):
    model = HostAddress
    show_change_link = False


@admin.register(Host)
class HostAdmin(MirrorAdmin):
    list_display = ("unicode_host_name", "registration", "address_list")
    list_select_related = ("registration",)
    search_fields = ("host_name", "registration__name")
    inlines = [HostAddressInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(
            Prefetch("addresses", queryset=HostAddress.objects.order_by("version", "address"))
        )

    @admin.display(description="host name", ordering="host_name")
    def unicode_host_name(self, host: Host) -> str:
        return to_unicode(host.host_name)

    @admin.display(description="addresses")
    def address_list(self, host: Host) -> str:
        return ", ".join(a.address for a in host.addresses.all())


@admin.register(HostAddress)
class HostAddressAdmin(MirrorAdmin):
    list_display = ("address", "version", "host")
    list_select_related = ("host",)
    search_fields = ("address", "host__host_name")


@admin.register(DnssecKey)
class DnssecKeyAdmin(MirrorAdmin):
    list_display = ("registration", "flags", "algorithm", "short_key")
    list_select_related = ("registration",)
    search_fields = ("registration__name",)

    @admin.display(description="public key")
    def short_key(self, key: DnssecKey) -> str:
        return f"{key.public_key[:24]}…"


class ProcessLogEntryInline(ReadOnlyInline):
    model = ProcessLogEntry
    show_change_link = False


@admin.register(Process)
class ProcessAdmin(MirrorAdmin):
    list_display = ("upstream_id", "registration", "action", "status", "is_terminal", "stuck",
                    "age")
    list_select_related = ("registration",)
    list_filter = ("status", "is_terminal", "stuck", "action")
    search_fields = ("upstream_id", "registration__name", "action")
    inlines = [ProcessLogEntryInline]

    @admin.display(description="age", ordering="created_at")
    def age(self, process: Process) -> str:
        return timesince(process.created_at)


@admin.register(ProcessLogEntry)
class ProcessLogEntryAdmin(MirrorAdmin):
    list_display = ("logged_at", "process", "message")
    list_select_related = ("process",)
    search_fields = ("process__upstream_id", "message")

