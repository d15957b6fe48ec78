"""The yardstick of the scale benchmark: Django's own ModelAdmin, with no tuning, for the
models the benchmark times, on a second AdminSite mounted at /plain-admin/ beside the
project's URLs (this module is the benchmark's ROOT_URLCONF).

Each declares the list_display, search_fields, list_filter and date_hierarchy the
project's admin classes started from, so that the two lists show and search the same
columns; the project's display methods are copied as plain methods where a column is
one. Nothing here is fast on purpose: it is what the project's pages are compared with.
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import URLPattern, path
from django.utils.timesince import timesince

from backoffice.models import StaffAction
from backoffice.urls import urlpatterns as project_urlpatterns
from billing.models import Account, Order
from contacts.models import Contact
from registrar.models import Process, Registration
from registrar.money import format_minor


class PlainAdminSite(admin.AdminSite):
    """Django's AdminSite. The project's page chrome (templates/admin/base_site.html)
    links to the back-office's own admin pages (security, header search...) by the
    admin's URL names, which resolve on this site too: its URLs include the project
    site's own pages (not its models'), under this site's prefix."""

    site_header = "Plain Django admin (benchmark yardstick)"

    def get_urls(self):
        own = super().get_urls()
        names = {pattern.name for pattern in own if isinstance(pattern, URLPattern)}
        extra = [pattern for pattern in admin.site.get_urls()
                 if isinstance(pattern, URLPattern) and pattern.name
                 and pattern.name not in names]
        return [*extra, *own]


plain_site = PlainAdminSite(name="plain-admin")


class PlainRegistrationAdmin(admin.ModelAdmin):
    list_display = ("name", "tld", "account", "status", "expires_at", "locked",
                    "privacy_protect", "dnssec_enabled", "auto_renew", "pending_async",
                    "last_synced_at")
    search_fields = ("name", "name_unicode", "account__email", "upstream_id")
    list_filter = ("status", "tld", "provider_account", "locked", "privacy_protect",
                   "dnssec_enabled", "auto_renew", "pending_async")


class PlainContactAdmin(admin.ModelAdmin):
    list_display = ("handle", "full_name", "organization", "country", "email", "tld",
                    "account", "split_from")
    list_filter = ("tld", "country")
    search_fields = ("handle", "organization", "first_name", "last_name", "email",
                     "owner_of__name", "owner_of__name_unicode", "admin_of__name",
                     "tech_of__name", "billing_of__name")


class PlainStaffActionAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor_label", "channel", "action", "target_repr",
                    "outcome", "upstream_code")
    list_filter = ("outcome", "channel", "action", "target_type")
    search_fields = ("actor_label", "action", "target_repr", "target_id",
                     "upstream_request_id", "process_id")
    date_hierarchy = "created_at"


class PlainOrderAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "status", "domain", "account", "provider_account", "total",
                    "placed_at")
    list_filter = ("status", "kind", "provider_account", "currency", "premium",
                   "purchase_type")
    search_fields = ("domain", "upstream_id", "customer_reference", "account__email")
    date_hierarchy = "placed_at"

    @admin.display(description="total", ordering="total_minor")
    def total(self, order: Order) -> str:
        return format_minor(order.total_minor, order.currency)


class PlainProcessAdmin(admin.ModelAdmin):
    list_display = ("upstream_id", "registration", "action", "status", "is_terminal", "stuck",
                    "age")
    list_filter = ("status", "is_terminal", "stuck", "action")
    search_fields = ("upstream_id", "registration__name", "action")

    @admin.display(description="age", ordering="created_at")
    def age(self, process: Process) -> str:
        return timesince(process.created_at)


class PlainAccountAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "customer_reference", "entri_user_id", "created_at")
    search_fields = ("name", "email", "customer_reference")


for model, model_admin in ((Registration, PlainRegistrationAdmin),
                           (Contact, PlainContactAdmin),
                           (StaffAction, PlainStaffActionAdmin), (Order, PlainOrderAdmin),
                           (Process, PlainProcessAdmin), (Account, PlainAccountAdmin)):
    plain_site.register(model, model_admin)

urlpatterns = [path("plain-admin/", plain_site.urls), *project_urlpatterns]
handler403 = "backoffice.errors.forbidden"
handler404 = "backoffice.errors.not_found"
