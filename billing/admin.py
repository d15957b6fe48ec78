from django.contrib import admin

from backoffice.admin import MirrorAdmin, ReadOnlyInline
from billing.models import Account, LedgerEntry, Order, OrderItem, WebhookEvent
from billing.money import format_minor


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "customer_reference", "entri_user_id", "created_at")
    search_fields = ("name", "email", "customer_reference")
    readonly_fields = ("created_at", "updated_at")
    show_full_result_count = False


class OrderItemInline(ReadOnlyInline):
    model = OrderItem
    show_change_link = False


class LedgerEntryInline(ReadOnlyInline):
    model = LedgerEntry
    show_change_link = False

    def has_view_permission(self, request, obj=None):
        # Support may see orders but not the ledger.
        return request.user.has_perm("billing.view_ledgerentry")


@admin.register(Order)
class OrderAdmin(MirrorAdmin):
    list_display = ("id", "kind", "status", "domain", "account", "provider_account", "total",
                    "placed_at")
    list_select_related = ("account", "provider_account")
    list_filter = ("status", "kind", "provider_account", "currency", "premium", "purchase_type")
    search_fields = ("domain", "upstream_id", "customer_reference", "account__email")
    date_hierarchy = "placed_at"
    inlines = [OrderItemInline, LedgerEntryInline]

    @admin.display(description="total", ordering="total_minor")
    def total(self, order: Order) -> str:
        return format_minor(order.total_minor, order.currency)


@admin.register(OrderItem)
class OrderItemAdmin(MirrorAdmin):
    list_display = ("description", "order", "domain", "quantity", "total_minor")
    list_select_related = ("order",)
    search_fields = ("description", "domain")


@admin.register(LedgerEntry)
class LedgerEntryAdmin(MirrorAdmin):
    list_display = ("occurred_at", "kind", "state", "amount", "order", "external_reference")
    list_select_related = ("order",)
    list_filter = ("kind", "state", "currency")
    search_fields = ("external_reference", "order__domain")

    @admin.display(description="amount", ordering="amount_minor")
    def amount(self, entry: LedgerEntry) -> str:
        return format_minor(entry.amount_minor, entry.currency)


@admin.register(WebhookEvent)
class WebhookEventAdmin(MirrorAdmin):
    list_display = ("received_at", "provider_account", "event_type", "event_id", "outcome",
                    "order")
    list_select_related = ("provider_account", "order")
    list_filter = ("provider_account", "event_type", "outcome")
    search_fields = ("event_id", "event_type")
