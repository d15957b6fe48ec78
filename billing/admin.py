from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.template.response import TemplateResponse
from django.urls import path, reverse

from backoffice import notes, timeline
from backoffice.admin import ConfigAuditMixin, MirrorAdmin, ReadOnlyInline, StrictInputMixin
from backoffice.changelist import ScaledListMixin, SearchPlan
from backoffice.forms import TextRuleForm
from backoffice.ids import parse_pk
from backoffice.models import StaffAction
from billing import (
    email_order_page,
    email_orders,
    order_follow,
    order_status,
    order_sync,
    ordering,
    portal,
)
from billing.forms import (
    BillingLinkForm,
    ConfirmDomainOrderForm,
    DomainOrderForm,
    EmailInfrastructureOrderForm,
    UpstreamOrdersForm,
)
from billing.models import (
    Account,
    LedgerEntry,
    Order,
    OrderItem,
    OrderKind,
    OrderStatus,
    WebhookEvent,
)
from contacts.models import Contact
from registrar.deadlines import countdown
from registrar.models import Registration
from registrar.money import format_minor
from registrar.operations import OperationRefused, Outcome
from registrar.providers.base import Capability, Money
from registrar.values.emails import normalise_email

Outcomes = StaffAction.Outcome

#: Rows of each kind listed on a customer's page; past it, a link to the full list.
CUSTOMER_ROWS = 100
#: The query parameters of the timeline on a customer's page (apart from the admin's own).
TIMELINE_PAGE, TIMELINE_KIND = "timeline_page", "timeline_kind"


class CustomerNoteForm(TextRuleForm, forms.Form):
    # Not required here: an empty note gets the service's own sentence.
    text = forms.CharField(label="Note", required=False, max_length=notes.MAX_NOTE_LENGTH,
                           widget=forms.Textarea(attrs={"rows": 3}))


@dataclass(frozen=True)
class CustomerList:
    """One kind of row on a customer's page: at most CUSTOMER_ROWS, and where the rest are."""
    rows: list
    more: bool
    all_url: str


def registration_badges(registration: Registration) -> list[str]:
    """The states worth a glance, in a word or two each."""
    flags = [
        (registration.locked, "locked"),
        (not registration.auto_renew, "no auto-renew"),
        (registration.pending_async, "in flight"),
        (registration.transfer_out_pending, "transfer out"),
        (bool(registration.unsettled_operation), "unsettled"),
        (registration.missing_upstream_at is not None, "missing upstream"),
        (registration.customer_flagged, "extra verification"),
    ]
    return [label for on, label in flags if on]


class CurrencyFilter(admin.SimpleListFilter):
    """The currencies orders are in, from the orders' (currency, placed_at) index one
    probe per currency (billing.finance.filters.order_currencies): Django's own filter
    would read every row with SELECT DISTINCT on every page."""

    title = "currency"
    parameter_name = "currency"

    def lookups(self, request, model_admin):
        from billing.finance.filters import order_currencies

        return [(code, code) for code in order_currencies()]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(currency=self.value())
        return queryset


class _FixedChoicesFilter(admin.SimpleListFilter):
    """A column's filter whose choices are known in code: no query lists them."""

    known: tuple[tuple[str, str], ...] = ()

    def lookups(self, request, model_admin):
        return self.known

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{self.parameter_name: self.value()})
        return queryset


#: The event types the upstreams push and the adapters read (Domainee's
#: WEBHOOK_EVENTS, Entri's ORDER_STATUS_CHANGED); an event of another type is kept too,
#: and found with ?event_type=<type>.
WEBHOOK_EVENT_TYPES = (
    ("domain_purchase.completed", "domain_purchase.completed"),
    ("domain_purchase.failed", "domain_purchase.failed"),
    ("order.status_changed", "order.status_changed"),
)


class EventTypeFilter(_FixedChoicesFilter):
    title = "event type"
    parameter_name = "event_type"
    known = WEBHOOK_EVENT_TYPES


class EventOutcomeFilter(_FixedChoicesFilter):
    """billing.services.apply_webhook's outcomes."""

    title = "outcome"
    parameter_name = "outcome"
    known = (("applied", "Applied"), ("ignored", "Ignored (nothing to apply)"),
               ("out_of_order", "Out of order (stale: not applied)"))


class AccountForm(forms.ModelForm):
    """The account's e-mail address by the e-mail rule (registrar/values/emails.py), as a
    contact's: Django's EmailField alone lets an invisible character (U+200B) hide in the
    domain part, which IDNA then drops."""

    def clean_email(self) -> str:
        try:
            return normalise_email(self.cleaned_data.get("email"))
        except ValidationError as exc:
            raise ValidationError(exc.messages, code="invalid_email") from None


@admin.register(Account)
class AccountAdmin(StrictInputMixin, ScaledListMixin, ConfigAuditMixin, admin.ModelAdmin):
    form = AccountForm
    list_display = ("name", "email", "customer_reference", "entri_user_id", "created_at")
    search_fields = ("name", "email", "customer_reference")
    search_plan = SearchPlan(emails=("email",), ids=("customer_reference",),
                             words=("name",))
    search_help_text = "An e-mail address (whole), a customer reference (exact) or words " \
                       "of the name."
    readonly_fields = ("created_at", "updated_at")
    show_full_result_count = False
    change_form_template = "admin/billing/account/change_form.html"

    def get_urls(self):
        return [
            path("<path:object_id>/email-order/",
                 self.admin_site.admin_view(self.email_order_view),
                 name="billing_account_email_order"),
            path("<path:object_id>/domain-order/",
                 self.admin_site.admin_view(self.domain_order_view),
                 name="billing_account_domain_order"),
            path("<path:object_id>/domain-order/<int:order_id>/",
                 self.admin_site.admin_view(self.domain_order_confirm_view),
                 name="billing_account_domain_order_confirm"),
            path("<path:object_id>/billing-link/",
                 self.admin_site.admin_view(self.billing_link_view),
                 name="billing_account_billing_link"),
            path("<path:object_id>/note/",
                 self.admin_site.admin_view(self.note_view),
                 name="billing_account_note"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_order_email": request.user.has_perm(email_orders.PLACE_ORDER_PERMISSION),
            "can_order_domain": request.user.has_perm(ordering.PLACE_ORDER_PERMISSION),
            "can_billing_link": request.user.has_perm(portal.BILLING_LINK_PERMISSION),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="",
                           obj=None):
        if obj is not None and not add:
            context.update(self.customer_context(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    # -- the customer's view: registrations, contacts, orders, timeline, notes -------------

    def customer_context(self, request: HttpRequest, account: Account) -> dict:
        """What Support read about a customer at a glance: one query per list, however
        many rows (each list stops at CUSTOMER_ROWS and links to the full one)."""
        user = request.user
        context: dict = {"can_add_note": user.has_perm(notes.ADD_NOTE_PERMISSION),
                         "note_form": CustomerNoteForm(),
                         "note_url": reverse("admin:billing_account_note", args=[account.pk])}
        if user.has_perm("registrar.view_registration"):
            registrations = self._listing(
                Registration.objects.filter(account=account).order_by("name"),
                "admin:registrar_registration_changelist", account)
            for registration in registrations.rows:
                registration.expires_in = countdown(registration.expires_at)
                registration.badges = registration_badges(registration)
            context["customer_registrations"] = registrations
        if user.has_perm("contacts.view_contact"):
            contacts = self._listing(Contact.objects.filter(account=account)
                                     .order_by("handle", "pk"),
                                     "admin:contacts_contact_changelist", account)
            for contact in contacts.rows:
                contact.due_in = countdown(contact.verification_due_at)
            context["customer_contacts"] = contacts
        if user.has_perm("billing.view_order"):
            orders = self._listing(Order.objects.filter(account=account)
                                   .order_by("-placed_at", "-pk"),
                                   "admin:billing_order_changelist", account)
            for order in orders.rows:
                order.total_text = format_minor(order.total_minor, order.currency)
            context["customer_orders"] = orders
        context.update(self._timeline_context(request, account))
        return context

    @staticmethod
    def _listing(rows, changelist: str, account: Account) -> CustomerList:
        found = list(rows[:CUSTOMER_ROWS + 1])
        return CustomerList(rows=found[:CUSTOMER_ROWS], more=len(found) > CUSTOMER_ROWS,
                            all_url=f"{reverse(changelist)}?account__id__exact={account.pk}")

    @staticmethod
    def _timeline_context(request: HttpRequest, account: Account) -> dict:
        raw_page = request.GET.get(TIMELINE_PAGE, "1")
        number = int(raw_page) if raw_page.isascii() and raw_page.isdigit() and len(
            raw_page) < 6 else 1
        chosen = [kind for kind in request.GET.getlist(TIMELINE_KIND) if kind in timeline.KINDS]
        page = timeline.build(account, request.user, kinds=chosen or None, page=number)
        # The links to the next and previous pages keep the kinds chosen.
        kinds_query = "".join(f"&{TIMELINE_KIND}={kind}" for kind in chosen)
        return {"timeline": page, "timeline_kinds_chosen": chosen,
                "timeline_kinds_query": kinds_query,
                "timeline_page_var": TIMELINE_PAGE, "timeline_kind_var": TIMELINE_KIND}

    def note_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Add a note on the customer: kept on their timeline, with an audit row. A
        refused note comes back on its own page with the text as typed."""
        if not request.user.has_perm(notes.ADD_NOTE_PERMISSION):
            raise PermissionDenied
        account = self._account(request, object_id)
        change_url = reverse("admin:billing_account_change", args=[account.pk])
        form = CustomerNoteForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                notes.add_note(target=account, text=form.cleaned_data["text"],
                               actor=request.user)
            except notes.NoteRefused as refusal:
                for message in refusal.field_errors["text"]:
                    form.add_error("text", message)
            else:
                messages.success(request, f"The note is kept on {account}'s timeline.")
                return HttpResponseRedirect(f"{change_url}#customer-timeline")
        return self._page(request, account, "admin/billing/account/note.html",
                          f"Add a note: {account}", form=form,
                          note_url=reverse("admin:billing_account_note", args=[account.pk]))

    def _account(self, request: HttpRequest, object_id: str) -> Account:
        pk = parse_pk(unquote(object_id))
        account = Account.objects.filter(pk=pk).first() if pk is not None else None
        if account is None or not self.has_view_permission(request, account):
            raise Http404("No such account.")
        return account

    def email_order_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Order email infrastructure for this account: the form on GET,
        the service on POST. Refusals and upstream failures come back onto the form, so
        nothing typed is lost; success goes to the new order."""
        if not request.user.has_perm(email_orders.PLACE_ORDER_PERMISSION):
            raise PermissionDenied
        account = self._account(request, object_id)
        helper = request.POST.get("do") if request.method == "POST" else None
        if helper in email_order_page.HELPERS:
            # Plans, candidate domains, mailbox names: read, shown, nothing placed.
            return self._email_order_page(request, account, **email_order_page.run(
                request, helper))
        form = EmailInfrastructureOrderForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                outcome = email_orders.email_order_place(
                    account=account, provider_account=data["provider_account"],
                    owner=data["owner"], email_service_provider=data["email_service_provider"],
                    plan_type=data["plan_type"], domains=data["domains"], actor=request.user,
                    is_free_order=data["is_free_order"], is_replacement=data["is_replacement"])
            except OperationRefused as refusal:
                form.add_refusal(refusal)
            else:
                if outcome.ok:
                    if outcome.data.get("checkout_url"):
                        return self._checkout_page(request, account, outcome)
                    messages.success(request, outcome.message)
                    return HttpResponseRedirect(reverse("admin:billing_order_change",
                                                        args=[outcome.data["order"].pk]))
                if outcome.status == Outcomes.UNKNOWN and outcome.data.get("order"):
                    # It may have been placed: the order is kept and followed. Staff go to
                    # it, away from a form whose resubmission would be a second order.
                    messages.warning(request, outcome.message)
                    return HttpResponseRedirect(reverse("admin:billing_order_change",
                                                        args=[outcome.data["order"].pk]))
                detail = (f" (upstream code: {outcome.error.code})"
                          if outcome.error and outcome.error.code else "")
                form.add_error(None, f"{outcome.message}{detail}")
        return self._email_order_page(request, account, form=form)

    def _email_order_page(self, request: HttpRequest, account: Account, *, form,
                          **extra) -> TemplateResponse:
        change_url = reverse("admin:billing_account_change", args=[account.pk])
        return TemplateResponse(request, "admin/billing/account/email_order.html", {
            **self.admin_site.each_context(request),
            "title": f"Order email infrastructure: {account}",
            "form": form,
            "account": account,
            "original": account,
            "opts": self.model._meta,
            "change_url": change_url,
            "no_email_account": not form.fields["provider_account"].queryset.exists(),
            **extra,
        })

    def _page(self, request: HttpRequest, account: Account, template: str, title: str,
              **extra) -> TemplateResponse:
        return TemplateResponse(request, template, {
            **self.admin_site.each_context(request),
            "title": title, "account": account, "original": account,
            "opts": self.model._meta,
            "change_url": reverse("admin:billing_account_change", args=[account.pk]),
            **extra,
        })

    # -- domain orders: quote, then confirm ------------------------------------------------

    def domain_order_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Register, transfer in or renew a domain for this account: the quote step.
        Nothing that costs money is sent here; the price comes back on a confirmation
        page."""
        if not request.user.has_perm(ordering.PLACE_ORDER_PERMISSION):
            raise PermissionDenied
        account = self._account(request, object_id)
        # A GET may prefill the form (the registration cockpit's Renew button); it
        # never places anything.
        initial = {key: request.GET[key] for key in ("action", "domain", "provider_account",
                                                        "years")
                   if request.method == "GET" and request.GET.get(key)}
        form = DomainOrderForm(request.POST if request.method == "POST" else None,
                               account=account, initial=initial)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            ceiling = (Money(int(data["ceiling"] * 100), "USD")
                       if data.get("ceiling") is not None else None)
            try:
                outcome = ordering.order_quote(ordering.OrderRequest(
                    account=account, provider_account=data["provider_account"],
                    action=data["action"], domain=data["domain"], years=data["years"],
                    owner=data.get("owner"), allow_acquisition=data["allow_acquisition"],
                    ceiling=ceiling), actor=request.user)
            except OperationRefused as refusal:
                form.add_refusal(refusal)
            else:
                if outcome.ok:
                    return HttpResponseRedirect(reverse(
                        "admin:billing_account_domain_order_confirm",
                        args=[account.pk, outcome.data["order"].pk]))
                form.add_error(None, outcome.message)
        return self._page(request, account, "admin/billing/account/domain_order.html",
                          f"Order a domain: {account}", form=form,
                          no_accounts=not ordering.ordering_accounts().exists())

    def domain_order_confirm_view(self, request: HttpRequest, object_id: str,
                                  order_id: int) -> HttpResponse:
        """The price and term as quoted; confirming places the order. A second POST
        (a replay, a double click, the back button) finds the order placed already and
        sends nothing."""
        if not request.user.has_perm(ordering.PLACE_ORDER_PERMISSION):
            raise PermissionDenied
        account = self._account(request, object_id)
        order_pk = parse_pk(order_id)
        order = Order.objects.select_related("provider_account", "account").filter(
            pk=order_pk, account=account).first() if order_pk is not None else None
        if order is None:
            raise Http404("No such order for this account.")
        order_url = reverse("admin:billing_order_change", args=[order.pk])
        # The checkbox is offered where the upstream connects a new domain on purchase.
        auto_connect = (order.kind == OrderKind.REGISTRATION
                        and order.provider_account.supports(Capability.AUTO_CONNECT))
        form = ConfirmDomainOrderForm(request.POST if request.method == "POST" else None,
                                      auto_connect=auto_connect,
                                      transfer=order.kind == OrderKind.TRANSFER_IN)
        if request.method == "POST" and form.is_valid():
            try:
                outcome = ordering.order_confirm(
                    order=order, actor=request.user, auth_code=form.cleaned_data["auth_code"],
                    auto_connect=form.cleaned_data["auto_connect_request"])
            except OperationRefused as refusal:
                if refusal.code == "quote_expired":
                    messages.error(request, refusal.message)
                    return HttpResponseRedirect(reverse("admin:billing_account_domain_order",
                                                        args=[account.pk]))
                form.add_refusal(refusal)
            else:
                if outcome.data.get("replayed"):
                    messages.info(request, outcome.message)
                elif outcome.status == Outcomes.SUCCEEDED:
                    messages.success(request, outcome.message)
                elif outcome.status == Outcomes.PENDING:
                    messages.info(request, outcome.message)
                elif outcome.status == Outcomes.UNKNOWN:
                    messages.warning(request, outcome.message)
                else:
                    messages.error(request, outcome.message)
                return HttpResponseRedirect(order_url)
        elif request.method == "GET" and order.status != OrderStatus.QUOTED:
            messages.info(request, f"Order {order.pk} was already confirmed; it is "
                                   f"{order.get_status_display().lower()}.")
            return HttpResponseRedirect(order_url)
        return self._page(request, account, "admin/billing/account/domain_order_confirm.html",
                          f"Confirm the order: {order.domain}", form=form, order=order,
                          quote=order.quote, expired=not ordering.open_quote(order),
                          price=format_minor(order.quoted_total_minor, order.currency)
                          if order.quoted_total_minor is not None else None,
                          order_url=order_url, auto_connect=auto_connect)

    # -- billing-portal link ---------------------------------------------------------------

    def billing_link_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Generate the customer's billing-portal link on request and show it once, on
        this response only (no redirect, no flash message: nothing keeps it). admin_view
        already marks it uncacheable; no-store keeps it out of the browser's history too."""
        if not request.user.has_perm(portal.BILLING_LINK_PERMISSION):
            raise PermissionDenied
        account = self._account(request, object_id)
        form = BillingLinkForm(request.POST if request.method == "POST" else None)
        link = None
        if request.method == "POST" and form.is_valid():
            try:
                outcome = portal.billing_link_generate(
                    account=account, provider_account=form.cleaned_data["provider_account"],
                    return_url=form.cleaned_data["return_url"], actor=request.user)
            except OperationRefused as refusal:
                form.add_refusal(refusal)
            else:
                if outcome.ok:
                    link = outcome.data["url"]
                else:
                    form.add_error(None, outcome.message)
        response = self._page(request, account, "admin/billing/account/billing_link.html",
                              f"Billing-portal link: {account}", form=form, link=link,
                              no_accounts=not portal.billing_link_accounts().exists())
        response["Cache-Control"] = "no-store"
        return response

    def _checkout_page(self, request: HttpRequest, account: Account,
                       outcome: Outcome) -> TemplateResponse:
        """A paid order's checkout link, shown on this response only: never a flash
        message (messages travel in a cookie or the session, which would keep it) and
        only to staff who may hand out billing links. The audit row holds it with its
        token masked; the adapter passes on only https links with a host."""
        may_see = request.user.has_perm(portal.BILLING_LINK_PERMISSION)
        order = outcome.data["order"]
        response = self._page(
            request, account, "admin/billing/account/email_order_placed.html",
            f"Order placed: {account}", outcome=outcome, order=order,
            order_url=reverse("admin:billing_order_change", args=[order.pk]),
            checkout_url=outcome.data["checkout_url"] if may_see else None)
        response["Cache-Control"] = "no-store"
        return response


def _money(field: str, label: str, currency: Callable[[Any], str]):
    """A read-only display of the minor-units column `field` as "12.99 USD": staff read
    and type money in major units with its currency, never as 1299."""

    @admin.display(description=label, ordering=field)
    def show(self, row) -> str:
        return format_minor(getattr(row, field), currency(row))

    show.__name__ = f"{field.removesuffix('_minor')}_shown"
    return show


def _shown_instead(names: list[str], model) -> list[str]:
    """The read-only field list with each *_minor column replaced by its display."""
    return [f"{name.removesuffix('_minor')}_shown" if name in _money_fields(model) else name
            for name in names]


def _money_fields(model) -> set[str]:
    return {f.name for f in model._meta.fields if f.name.endswith("_minor")}


class OrderItemInline(ReadOnlyInline):
    model = OrderItem
    show_change_link = False
    exclude = tuple(sorted(_money_fields(OrderItem)))
    # The items of the order on the page: its currency is the order's.
    unit_amount_shown = _money("unit_amount_minor", "unit amount", lambda i: i.order.currency)
    total_shown = _money("total_minor", "total", lambda i: i.order.currency)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order")

    def get_readonly_fields(self, request, obj=None):
        return _shown_instead(super().get_readonly_fields(request, obj), OrderItem)


class LedgerEntryInline(ReadOnlyInline):
    model = LedgerEntry
    show_change_link = False
    exclude = tuple(sorted(_money_fields(LedgerEntry)))
    amount_shown = _money("amount_minor", "amount", lambda e: e.currency)

    def get_readonly_fields(self, request, obj=None):
        return _shown_instead(super().get_readonly_fields(request, obj), LedgerEntry)

    def has_view_permission(self, request, obj=None):
        # Support may see orders but not the ledger.
        return request.user.has_perm("billing.view_ledgerentry")


@admin.register(Order)
class OrderAdmin(ScaledListMixin, MirrorAdmin):
    list_display = ("id", "kind", "status", "domain", "account", "provider_account", "total",
                    "placed_at")
    # The page's accounts are read by id (prefetched), not joined: for a search the
    # planner cannot tell how few orders match, and would hash every account to join them.
    list_select_related = ("provider_account",)
    # The placing date as a range on the placed_at index, not Django's date hierarchy
    # (which sorts the years of every row shown); every other filter lists its choices
    # from code or a small table, never SELECT DISTINCT over the orders.
    list_filter = (("placed_at", admin.DateFieldListFilter), "status", "kind",
                   "provider_account", CurrencyFilter, "premium", "purchase_type")
    show_facets = admin.ShowFacets.NEVER
    search_fields = ("domain", "upstream_id", "customer_reference", "account__email")
    search_plan = SearchPlan(names=("domain",), emails=("account__email",),
                             ids=("upstream_id", "customer_reference"))
    search_help_text = ("A domain or part of one, the account's e-mail (whole), an upstream "
                        "id or customer reference (exact), or an order number.")
    date_hierarchy = None
    inlines = [OrderItemInline, LedgerEntryInline]
    change_form_template = "admin/billing/order/change_form.html"
    # Money in major units with the currency ("12.99 USD"), never the raw minor units.
    exclude = tuple(sorted(_money_fields(Order)))
    subtotal_shown = _money("subtotal_minor", "subtotal", lambda o: o.currency)
    fees_shown = _money("fees_minor", "fees", lambda o: o.currency)
    total_shown = _money("total_minor", "total", lambda o: o.currency)
    refunded_shown = _money("refunded_minor", "refunded", lambda o: o.currency)
    quoted_total_shown = _money("quoted_total_minor", "quoted total", lambda o: o.currency)
    paid_shown = _money("paid_minor", "paid (ledger)", lambda o: o.currency)
    refunded_back_shown = _money("refunded_back_minor", "refunded (ledger)",
                                 lambda o: o.currency)

    def get_readonly_fields(self, request, obj=None):
        return _shown_instead(super().get_readonly_fields(request, obj), Order)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("account")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        order = self.get_object(request, unquote(object_id))
        open_quote = (order is not None and order.account_id is not None
                      and ordering.open_quote(order)
                      and request.user.has_perm(ordering.PLACE_ORDER_PERMISSION))
        extra_context = {
            **(extra_context or {}),
            "confirm_url": reverse("admin:billing_account_domain_order_confirm",
                                   args=[order.account_id, order.pk]) if open_quote else None,
            "finance_url": reverse("finance:order", args=[order.pk])
            if order is not None and request.user.has_perm("billing.view_finance") else None,
            # Offered where the upstream has a status check at all; the page says why
            # when this order cannot be checked.
            "status_check_url": reverse("admin:billing_order_status", args=[order.pk])
            if order is not None and order.provider_account is not None
            and order.provider_account.supports(Capability.ORDER_STATUS)
            and request.user.has_perm(order_status.CHECK_STATUS_PERMISSION) else None,
            "follow_url": reverse("admin:billing_order_follow", args=[order.pk])
            if order is not None and order_follow.follow_refusal(order) is None else None,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        return [
            path("upstream/", self.admin_site.admin_view(self.upstream_view),
                 name="billing_order_upstream"),
            path("<path:object_id>/follow/", self.admin_site.admin_view(self.follow_view),
                 name="billing_order_follow"),
            path("<path:object_id>/status-check/",
                 self.admin_site.admin_view(self.status_check_view),
                 name="billing_order_status"),
            *super().get_urls(),
        ]

    def upstream_view(self, request: HttpRequest) -> HttpResponse:
        """Orders at the upstream: the first orders a provider account's upstream lists,
        each marked mirrored here (with its order) or not. A read: GET only, nothing
        written; whoever may view orders may look."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        form = UpstreamOrdersForm(request.GET if "account" in request.GET else None)
        listing = (order_sync.upstream_orders(form.cleaned_data["account"])
                   if form.is_bound and form.is_valid() else None)
        return TemplateResponse(request, "admin/billing/order/upstream.html", {
            **self.admin_site.each_context(request),
            "title": "Orders at the upstream", "opts": self.model._meta,
            "form": form, "listing": listing, "shown": order_sync.UPSTREAM_ORDERS_SHOWN,
        })

    def status_check_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Check the order's status at its upstream: what it does on GET, the service on
        POST, then back to the order with what changed, old -> new."""
        if not request.user.has_perm(order_status.CHECK_STATUS_PERMISSION):
            raise PermissionDenied
        pk = parse_pk(unquote(object_id))
        order = (Order.objects.select_related("provider_account").filter(pk=pk).first()
                 if pk is not None else None)
        if order is None or not self.has_view_permission(request, order):
            raise Http404("No such order.")
        order_url = reverse("admin:billing_order_change", args=[order.pk])
        reason = order_status.status_check_reason(order)
        if request.method == "POST" and reason is None:
            try:
                outcome = order_status.order_check_status(order=order, actor=request.user)
            except OperationRefused as refusal:
                messages.error(request, refusal.message)
            else:
                if outcome.ok:
                    messages.success(request, outcome.message)
                else:
                    messages.error(request, outcome.message)
            return HttpResponseRedirect(order_url)
        return TemplateResponse(request, "admin/billing/order/status_check.html", {
            **self.admin_site.each_context(request),
            "title": f"Check status at the upstream: order {order.pk}",
            "order": order, "original": order, "opts": self.model._meta,
            "change_url": order_url, "reason": reason,
            "refused": request.method == "POST",
        })

    def follow_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Read the order again at its upstream now, as the follow-up tasks do: what it
        does on GET, the read on POST, then back to the order with old -> new."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        pk = parse_pk(unquote(object_id))
        order = (Order.objects.select_related("provider_account").filter(pk=pk).first()
                 if pk is not None else None)
        if order is None or not self.has_view_permission(request, order):
            raise Http404("No such order.")
        order_url = reverse("admin:billing_order_change", args=[order.pk])
        reason = order_follow.follow_refusal(order)
        if request.method == "POST" and reason is None:
            try:
                result = order_follow.order_follow_now(order=order, actor=request.user)
            except OperationRefused as refusal:
                messages.error(request, refusal.message)
            else:
                messages.success(request, result.message)
            return HttpResponseRedirect(order_url)
        return TemplateResponse(request, "admin/billing/order/status_check.html", {
            **self.admin_site.each_context(request),
            "title": f"Read again at the upstream: order {order.pk}",
            "order": order, "original": order, "opts": self.model._meta,
            "change_url": order_url, "reason": reason, "refused": request.method == "POST",
            "action_label": "Read again at the upstream", "id_prefix": "follow",
            "button_id": "follow-now",
            "intro": "Reads the order at its upstream now, as the follow-up does on its "
                     "schedule, and applies what it says here, unless it would move the "
                     "order backwards. Nothing is sent but a read.",
        })

    @admin.display(description="total", ordering="total_minor")
    def total(self, order: Order) -> str:
        return format_minor(order.total_minor, order.currency)


@admin.register(OrderItem)
class OrderItemAdmin(ScaledListMixin, MirrorAdmin):
    list_display = ("description", "order", "domain", "quantity", "total_shown")
    list_select_related = ("order",)
    exclude = tuple(sorted(_money_fields(OrderItem)))
    unit_amount_shown = _money("unit_amount_minor", "unit amount", lambda i: i.order.currency)
    total_shown = _money("total_minor", "total", lambda i: i.order.currency)

    def get_readonly_fields(self, request, obj=None):
        return _shown_instead(super().get_readonly_fields(request, obj), OrderItem)
    search_fields = ("description", "domain")
    search_plan = SearchPlan(names=("domain",), words=("description",))
    search_help_text = "A domain or part of one, or words of the description."


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ScaledListMixin, MirrorAdmin):
    list_display = ("occurred_at", "kind", "state", "amount", "order", "external_reference")
    list_select_related = ("order",)
    # An entry is in its order's currency: the orders' currencies are the ledger's.
    list_filter = ("kind", "state", CurrencyFilter)
    show_facets = admin.ShowFacets.NEVER
    search_fields = ("external_reference", "order__domain")
    search_plan = SearchPlan(names=("order__domain",), ids=("external_reference",))
    search_help_text = "A reference (exact), or the order's domain or part of it."

    # Append-only for everyone, superusers included: the change page is for reading, and
    # a POST to it (or to the delete page) is refused with 403 before any save is tried.
    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="amount", ordering="amount_minor")
    def amount(self, entry: LedgerEntry) -> str:
        return format_minor(entry.amount_minor, entry.currency)

    # The change page, read-only: the amount as "12.99 USD", not the minor-units column.
    exclude = tuple(sorted(_money_fields(LedgerEntry)))
    amount_shown = _money("amount_minor", "amount", lambda e: e.currency)

    def get_readonly_fields(self, request, obj=None):
        return _shown_instead(super().get_readonly_fields(request, obj), LedgerEntry)


@admin.register(WebhookEvent)
class WebhookEventAdmin(ScaledListMixin, MirrorAdmin):
    list_display = ("received_at", "provider_account", "event_type", "event_id", "outcome",
                    "order")
    list_select_related = ("provider_account", "order")
    list_filter = ("provider_account", EventTypeFilter, EventOutcomeFilter)
    show_facets = admin.ShowFacets.NEVER
    search_fields = ("event_id", "event_type")
    search_plan = SearchPlan(ids=("event_id", "event_type"))
    search_help_text = "An event id or type (exact)."
