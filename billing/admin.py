from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from backoffice.admin import MirrorAdmin, ReadOnlyInline
from billing import services
from billing.forms import EmailInfrastructureOrderForm
from billing.models import Account, LedgerEntry, Order, OrderItem, WebhookEvent
from billing.money import format_minor
from registrar.operations import OperationRefused, Outcome


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "customer_reference", "entri_user_id", "created_at")
    search_fields = ("name", "email", "customer_reference")
    readonly_fields = ("created_at", "updated_at")
    show_full_result_count = False
    change_form_template = "admin/billing/account/change_form.html"

    def get_urls(self):
        return [
            path("<path:object_id>/email-order/",
                 self.admin_site.admin_view(self.email_order_view),
                 name="billing_account_email_order"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_order_email": request.user.has_perm(services.PLACE_ORDER_PERMISSION),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def _account(self, request: HttpRequest, object_id: str) -> Account:
        try:
            account = Account.objects.filter(pk=unquote(object_id)).first()
        except (ValueError, ValidationError):  # a hand-typed id that is not a number
            account = None
        if account is None or not self.has_view_permission(request, account):
            raise Http404("No such account.")
        return account

    def email_order_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Order email infrastructure (Saleshandy) for this account: the form on GET,
        the service on POST. Refusals and upstream failures come back onto the form, so
        nothing typed is lost; success goes to the new order."""
        if not request.user.has_perm(services.PLACE_ORDER_PERMISSION):
            raise PermissionDenied
        account = self._account(request, object_id)
        form = EmailInfrastructureOrderForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                outcome = services.email_order_place(
                    account=account, provider_account=data["provider_account"],
                    owner=data["owner"], email_service_provider=data["email_service_provider"],
                    plan_type=data["plan_type"], domains=data["domains"], actor=request.user)
            except OperationRefused as refusal:
                form.add_refusal(refusal)
            else:
                if outcome.ok:
                    self._show_placed(request, outcome)
                    return HttpResponseRedirect(reverse("admin:billing_order_change",
                                                        args=[outcome.data["order"].pk]))
                detail = (f" (Saleshandy code: {outcome.error.code})"
                          if outcome.error and outcome.error.code else "")
                form.add_error(None, f"{outcome.message}{detail}")
        change_url = reverse("admin:billing_account_change", args=[account.pk])
        return TemplateResponse(request, "admin/billing/account/email_order.html", {
            **self.admin_site.each_context(request),
            "title": f"Order email infrastructure: {account}",
            "form": form,
            "account": account,
            "original": account,
            "opts": self.model._meta,
            "change_url": change_url,
            "no_saleshandy_account": not form.fields["provider_account"].queryset.exists(),
        })

    @staticmethod
    def _show_placed(request: HttpRequest, outcome: Outcome) -> None:
        checkout_url = outcome.data.get("checkout_url")
        if checkout_url:
            # The adapter only passes https links on; format_html escapes it for the href.
            messages.success(request, format_html(
                '{} <a href="{}" target="_blank" rel="noopener noreferrer" '
                'class="checkout-link">Open the checkout</a>: send this link to the customer '
                "(it is not stored here; the audit keeps it masked).",
                outcome.message, checkout_url))
        else:
            messages.success(request, outcome.message)


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
