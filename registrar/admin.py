from __future__ import annotations

import ipaddress
import json

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import connections, router
from django.db.models import Prefetch
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, re_path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince
from django.utils.timezone import localtime

from backoffice.admin import ConfigAuditMixin, MirrorAdmin, ReadOnlyInline, StrictInputMixin
from backoffice.changelist import ScaledListMixin, SearchPlan
from backoffice.ids import parse_pk
from registrar import (
    admin_approvals,  # noqa: F401  (registers the approvals admin)
    admin_cockpit,
    admin_live,
    services,
)
from registrar.admin_operations import RegistrationOperationsMixin, show_outcome
from registrar.deadlines import EXPIRY_BUCKETS, expiring_within
from registrar.forms import TldAdminForm
from registrar.models import (
    DnssecKey,
    Host,
    HostAddress,
    Process,
    ProcessLogEntry,
    ProcessStatus,
    ProviderAccount,
    Registration,
    Tld,
)
from registrar.operations import OperationRefused
from registrar.values.names import to_unicode


@admin.register(ProviderAccount)
class ProviderAccountAdmin(StrictInputMixin, ConfigAuditMixin, admin.ModelAdmin):
    list_display = ("label", "kind", "base_url", "account_ref", "secret_env", "enabled")
    list_filter = ("kind", "enabled")
    search_fields = ("label", "account_ref")
    readonly_fields = ("created_at", "updated_at")

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "base_url":
            kwargs["assume_scheme"] = "https"
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_urls(self):
        return [
            path("<path:object_id>/upstream/",
                 self.admin_site.admin_view(self.upstream_view),
                 name="registrar_provideraccount_upstream"),
            *super().get_urls(),
        ]

    def upstream_view(self, request, object_id):
        return admin_live.provider_account_upstream_view(self, request, object_id)


@admin.register(Tld)
class TldAdmin(StrictInputMixin, ConfigAuditMixin, admin.ModelAdmin):
    form = TldAdminForm  # fees as plain digits, each with its currency
    list_display = ("__str__", "name", "provider_account", "supports_privacy",
                    "supports_transfer_lock", "supports_push_transfer", "supports_dnssec",
                    "requires_contact_validation", "authcode_behavior")
    list_filter = ("provider_account", "supports_privacy", "supports_dnssec",
                   "requires_contact_validation")
    list_select_related = ("provider_account",)
    search_fields = ("name",)


class MissingUpstreamFilter(admin.SimpleListFilter):
    title = "missing upstream"
    parameter_name = "missing"

    def lookups(self, request, model_admin):
        return [("yes", "Not returned by the registrar")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            # The condition of the partial index registration_missing_upstream.
            return queryset.filter(missing_upstream_at__isnull=False)
        return queryset


class ExpiringFilter(admin.SimpleListFilter):
    """The 90/30/7-day expiry views: registrations still ours, soonest first."""

    title = "expiring within"
    parameter_name = "expiring"

    def lookups(self, request, model_admin):
        return [(str(days), f"{days} days") for days in reversed(EXPIRY_BUCKETS)]

    def queryset(self, request, queryset):
        if self.value() in {str(days) for days in EXPIRY_BUCKETS}:
            return expiring_within(int(self.value()), queryset)
        return queryset


class UnsettledFilter(admin.SimpleListFilter):
    """Operations whose answer was lost: the back-office is still finding out."""

    title = "outcome not known"
    parameter_name = "unsettled"

    def lookups(self, request, model_admin):
        return [("yes", "Last change not confirmed yet")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            # Both are set and cleared together; the time is what the partial index
            # registration_unsettled covers, so the few rows are found without a scan.
            return (queryset.filter(unsettled_since__isnull=False)
                    .exclude(unsettled_operation="").order_by("unsettled_since"))
        return queryset


def values_filter(field: str, title: str, most: int = 200) -> type[admin.SimpleListFilter]:
    """A list filter offering the values a column holds, like Django's
    AllValuesFieldListFilter, but read by a loose index scan (one probe of the column's
    index per distinct value) instead of a DISTINCT over every row."""

    class ValuesFilter(admin.SimpleListFilter):
        parameter_name = field

        def lookups(self, request, model_admin):
            return [(value, value) for value in _distinct_values(model_admin.model, field,
                                                                 most)]

        def queryset(self, request, queryset):
            if self.value():
                return queryset.filter(**{field: self.value()})
            return queryset

    ValuesFilter.title = title
    ValuesFilter.__name__ = f"{field.title()}ValuesFilter"
    return ValuesFilter


def _distinct_values(model, field: str, most: int) -> list[str]:
    connection = connections[router.db_for_read(model)]
    table = connection.ops.quote_name(model._meta.db_table)
    column = connection.ops.quote_name(model._meta.get_field(field).column)
    # Identifiers from the model, quoted; the only value is a parameter.
    query = f"""WITH RECURSIVE found(value, n) AS (
                    SELECT (SELECT {column} FROM {table} ORDER BY {column} LIMIT 1), 1
                    UNION ALL
                    SELECT (SELECT {column} FROM {table} WHERE {column} > found.value
                            ORDER BY {column} LIMIT 1), n + 1
                    FROM found WHERE found.value IS NOT NULL AND n < %s)
                SELECT value FROM found WHERE value IS NOT NULL"""  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(query, [most])
        return [row[0] for row in cursor.fetchall() if row[0]]


class DnssecKeyInline(ReadOnlyInline):
    model = DnssecKey
    show_change_link = False


class ProcessInline(ReadOnlyInline):
    model = Process
    fields = ("upstream_id", "action", "status", "stuck", "created_at")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("registration")


@admin.register(Registration)
class RegistrationAdmin(RegistrationOperationsMixin, ScaledListMixin, MirrorAdmin):
    # The flags as one narrow column of badges (each with its words for screen readers
    # and a tooltip), so the list fits a 1400 px screen beside the filters.
    list_display = ("unicode_name", "tld", "customer", "status", "expires_on", "state",
                    "synced")
    list_select_related = ("tld", "tld__provider_account", "provider_account", "account")
    list_filter = ("status", "tld", "provider_account", "locked", "privacy_protect",
                   "dnssec_enabled", "auto_renew", ExpiringFilter, "pending_async",
                   "transfer_out_pending", "customer_flagged", MissingUpstreamFilter,
                   UnsettledFilter)
    search_fields = ("name", "name_unicode", "account__email", "upstream_id")
    search_plan = SearchPlan(names=("name",), unicode_names=("name_unicode",),
                             emails=("account__email",), ids=("upstream_id",))
    search_help_text = ("A name or part of one (Unicode or punycode; with a dot, its "
                        "start), the account's whole e-mail address, the upstream id or "
                        "the number.")
    date_hierarchy = None
    # The list's order is the model's (name, on its unique index). No `ordering` here:
    # it would be appended to every column sort as its tie-break, where Django's own
    # (the primary key) is what the sort indexes hold, (expires_at, id) and the like.
    inlines = [DnssecKeyInline, ProcessInline]
    fieldsets = [
        (None, {"fields": ("name", "upstream_id", "tld", "provider_account", "account",
                           "status", "expires_at")}),
        ("Flags", {"fields": ("auto_renew", "locked", "privacy_protect", "dnssec_enabled",
                              "server_transfer_prohibited", "customer_flagged",
                              "local_contact_active",
                              "cancellation_deadline_at", "within_cancellation_window")}),
        ("Contacts", {"fields": ("owner_contact", "admin_contact", "tech_contact",
                                 "billing_contact")}),
        ("Nameservers and DNS", {"fields": ("nameservers", "dns_records")}),
        ("Async and transfers", {"fields": ("pending_async", "rtr_process_id",
                                            "rtr_process_status", "transfer_out_pending",
                                            "transfer_out_auto_ack_at",
                                            "push_transfer_pending", "subscription_id")}),
        ("Timestamps", {"fields": ("upstream_created_at", "upstream_updated_at",
                                   "last_synced_at", "missing_upstream_at", "created_at",
                                   "updated_at")}),
    ]

    @admin.display(description="name", ordering="name")
    def unicode_name(self, registration: Registration) -> str:
        return registration.unicode_name

    @admin.display(description="customer", ordering="account__name")
    def customer(self, registration: Registration) -> str:
        # The name only: the e-mail address is the tooltip (and what search matches).
        account = registration.account
        if account is None:
            return "—"
        return format_html('<span title="{}">{}</span>', account.email, account.name)

    @admin.display(description="expires", ordering="expires_at")
    def expires_on(self, registration: Registration) -> str:
        if registration.expires_at is None:
            return "—"
        return format_html('<time datetime="{}" title="{}">{}</time>',
                           registration.expires_at.isoformat(),
                           date_format(localtime(registration.expires_at), "DATETIME_FORMAT"),
                           localtime(registration.expires_at).date().isoformat())

    @admin.display(description="state")
    def state(self, registration: Registration) -> str:
        return format_html_join("", '<span class="state-badge state-{}{}" title="{}">'
                                    '<span aria-hidden="true">{}</span>'
                                    '<span class="visually-hidden">{}</span></span>',
                                ((key, " off" if off else "", text, glyph, text)
                                 for key, glyph, text, off in _state_badges(registration)))

    @admin.display(description="synced", ordering="last_synced_at")
    def synced(self, registration: Registration) -> str:
        synced_at = registration.last_synced_at
        if synced_at is None:
            return format_html('<span title="{0}">never<span class="visually-hidden"> '
                               '{0}</span></span>', "Never read from the registrar")
        return format_html('<time datetime="{}" title="Last read from the registrar: {}">'
                           '{} ago</time>', synced_at.isoformat(),
                           date_format(localtime(synced_at), "DATETIME_FORMAT"),
                           compact_age(synced_at))

    # -- the support cockpit (registrar/admin_cockpit.py) ----------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        registration = self._registration(request, object_id)
        extra_context = {**(extra_context or {}),
                         **admin_cockpit.cockpit_context(registration, request)}
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        return [
            path("<path:object_id>/status/",
                 self.admin_site.admin_view(self.cockpit_status_view),
                 name="registrar_registration_status"),
            path("<path:object_id>/note/", self.admin_site.admin_view(self.cockpit_note_view),
                 name="registrar_registration_note"),
            path("<path:object_id>/customer/",
                 self.admin_site.admin_view(self.cockpit_customer_view),
                 name="registrar_registration_customer"),
            path("<path:object_id>/notices/",
                 self.admin_site.admin_view(self.cockpit_notices_view),
                 name="registrar_registration_notices"),
            path("<path:object_id>/processes/",
                 self.admin_site.admin_view(self.cockpit_processes_view),
                 name="registrar_registration_processes"),
            path("<path:object_id>/hosts/remote/",
                 self.admin_site.admin_view(self.hosts_remote_view),
                 name="registrar_registration_hosts_remote"),
            path("<path:object_id>/remote/",
                 self.admin_site.admin_view(self.registration_remote_view),
                 name="registrar_registration_remote"),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, *args, **kwargs):
        return super().render_change_form(request, admin_cockpit.with_fees(context),
                                          *args, **kwargs)

    def cockpit_status_view(self, request, object_id):
        return admin_cockpit.status_view(self, request, object_id)

    def cockpit_note_view(self, request, object_id):
        return admin_cockpit.note_view(self, request, object_id)

    def cockpit_customer_view(self, request, object_id):
        return admin_cockpit.attach_customer_view(self, request, object_id)

    def cockpit_notices_view(self, request, object_id):
        return admin_cockpit.notices_view(self, request, object_id)

    def cockpit_processes_view(self, request, object_id):
        return admin_cockpit.processes_view(self, request, object_id)

    def hosts_remote_view(self, request, object_id):
        return admin_live.registration_hosts_remote_view(self, request, object_id)

    def registration_remote_view(self, request, object_id):
        return admin_live.registration_remote_view(self, request, object_id)


def _state_badges(registration: Registration) -> list[tuple[str, str, str, bool]]:
    """(key, glyph, words, off) per badge: the four switches always (dimmed when off, so
    a missing badge never has to be read as "off"), then what needs attention only when
    it does. The words are the badge's tooltip and its screen-reader text."""
    badges = [
        ("lock", "L", "Transfer lock on" if registration.locked else "Transfer lock off",
         not registration.locked),
        ("privacy", "P", "WHOIS privacy on" if registration.privacy_protect
         else "WHOIS privacy off", not registration.privacy_protect),
        ("dnssec", "D", "DNSSEC on" if registration.dnssec_enabled else "DNSSEC off",
         not registration.dnssec_enabled),
        ("renew", "R", "Auto-renew on" if registration.auto_renew else "Auto-renew off",
         not registration.auto_renew),
    ]
    if registration.pending_async:
        badges.append(("busy", "…", "Process in flight: operations wait until it ends", False))
    if registration.unsettled_operation:
        operation = services.OPERATIONS.get(registration.unsettled_operation)
        label = (operation.label if operation is not None
                 else registration.unsettled_operation.replace("_", " "))
        badges.append(("unknown", "?", f"Outcome not known: the last {label.lower()} is "
                                       "being checked", False))
    if registration.transfer_out_pending:
        badges.append(("transfer-out", "→", "Outbound transfer pending: decide it", False))
    return badges


def compact_age(moment) -> str:
    """How long ago, in one unit: "40 s", "5 min", "3 h", "12 d", "2 y"."""
    seconds = max(0, int((timezone.now() - moment).total_seconds()))
    for size, unit in ((365 * 86400, "y"), (86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


class HostAddressInline(ReadOnlyInline):
    model = HostAddress
    show_change_link = False


@admin.register(Host)
class HostAdmin(ScaledListMixin, MirrorAdmin):
    list_display = ("unicode_host_name", "registration", "address_list")
    list_select_related = ("registration",)
    search_fields = ("host_name", "registration__name")
    search_plan = SearchPlan(names=("host_name", "registration__name"),
                             unicode_names=("registration__name_unicode",))
    search_help_text = ("A host name or its registration's name, or part of either "
                        "(Unicode or punycode), or the number.")
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
class HostAddressAdmin(ScaledListMixin, MirrorAdmin):
    list_display = ("address", "version", "host")
    list_select_related = ("host",)
    search_fields = ("address", "host__host_name")
    search_plan = SearchPlan(names=("host__host_name",))
    search_help_text = "A whole IP address, or a host name or part of one, or the number."

    def get_search_results(self, request, queryset, search_term):
        # An address is matched whole, and only when it is one: anything else compared
        # with an inet column is an error on PostgreSQL, not "no match".
        try:
            address = ipaddress.ip_address(search_term.strip())
        except ValueError:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(address=str(address)), False


@admin.register(DnssecKey)
class DnssecKeyAdmin(ScaledListMixin, MirrorAdmin):
    list_display = ("registration", "flags", "algorithm", "short_key")
    list_select_related = ("registration",)
    search_fields = ("registration__name",)
    search_plan = SearchPlan(names=("registration__name",),
                             unicode_names=("registration__name_unicode",))
    search_help_text = "The registration's name or part of it (Unicode or punycode)."

    @admin.display(description="public key")
    def short_key(self, key: DnssecKey) -> str:
        return f"{key.public_key[:24]}…"


class ProcessLogEntryInline(ReadOnlyInline):
    model = ProcessLogEntry
    show_change_link = False


@admin.register(Process)
class ProcessAdmin(ScaledListMixin, MirrorAdmin):
    list_display = ("upstream_id", "registration", "action", "status", "is_terminal", "stuck",
                    "age")
    list_select_related = ("registration",)
    list_filter = ("status", "is_terminal", "stuck", values_filter("action", "action"))
    search_fields = ("upstream_id", "registration__name", "action")
    search_plan = SearchPlan(names=("registration__name",),
                             unicode_names=("registration__name_unicode",),
                             ids=("upstream_id", "action"))
    search_help_text = ("The upstream process id or the action (whole), the registration's "
                        "name or part of it (Unicode or punycode), or the number.")
    inlines = [ProcessLogEntryInline]
    readonly_fields = ("raw_pretty",)
    exclude = ("raw",)
    change_form_template = "admin/registrar/process/change_form.html"

    @admin.display(description="age", ordering="created_at")
    def age(self, process: Process) -> str:
        return timesince(process.created_at)

    @admin.display(description="raw body")
    def raw_pretty(self, process: Process) -> str:
        return format_html("<pre>{}</pre>", json.dumps(process.raw, indent=2, sort_keys=True,
                                                       ensure_ascii=False))

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name != "raw"] + ["raw_pretty"]

    def get_urls(self):
        return [
            re_path(r"^(?P<object_id>.+)/(?P<action>resend|cancel)/$",
                    self.admin_site.admin_view(self.process_action_view),
                    name="registrar_process_action"),
            path("<path:object_id>/remote/", self.admin_site.admin_view(self.remote_view),
                 name="registrar_process_remote"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        pk = parse_pk(unquote(object_id))
        process = Process.objects.filter(pk=pk).first() if pk is not None else None
        actions = []
        if process is not None:
            for name, spec in PROCESS_ACTIONS.items():
                if request.user.has_perm(spec["permission"]):
                    actions.append({"name": name, "label": spec["label"],
                                    "url": reverse("admin:registrar_process_action",
                                                   args=[process.pk, name]),
                                    "reason": spec["refuse"](process)})
        return super().change_view(request, object_id, form_url,
                                   {**(extra_context or {}), "process_actions": actions})

    def remote_view(self, request, object_id):
        return admin_live.process_remote_view(self, request, object_id)

    def process_action_view(self, request, object_id, action):
        spec = PROCESS_ACTIONS.get(action)
        if spec is None:
            raise Http404("No such action.")
        if not request.user.has_perm(spec["permission"]):
            raise PermissionDenied
        pk = parse_pk(unquote(object_id))
        if pk is None:
            raise Http404("No such process.")
        process = get_object_or_404(Process.objects.select_related("registration"), pk=pk)
        back = reverse("admin:registrar_process_change", args=[process.pk])
        if request.method == "POST":
            try:
                outcome = spec["run"](process=process, actor=request.user)
            except OperationRefused as refusal:
                messages.error(request, refusal.message)
            else:
                show_outcome(request, outcome)
            return HttpResponseRedirect(back)
        return TemplateResponse(request, "admin/registrar/process/confirm.html", {
            **self.admin_site.each_context(request),
            "title": f"{spec['label']} process {process.upstream_id}",
            "process": process, "spec": spec, "reason": spec["refuse"](process),
            "opts": self.model._meta, "back": back,
        })


PROCESS_ACTIONS = {
    "resend": {
        "label": "Resend (resume)", "permission": "registrar.resend_process",
        "run": services.process_resend,
        "refuse": lambda p: None if p.status == ProcessStatus.SUSPENDED else (
            "Only a suspended process can be resumed."),
        "intro": "Asks the registrar to resume the suspended process.",
    },
    "cancel": {
        "label": "Cancel", "permission": "registrar.cancel_process",
        "run": services.process_cancel,
        "refuse": lambda p: "The process has already ended." if p.is_terminal else None,
        "intro": "Stops the process at the registrar. The change it carried is not made, "
                 "and the registration is free for other operations again.",
    },
}


@admin.register(ProcessLogEntry)
class ProcessLogEntryAdmin(ScaledListMixin, MirrorAdmin):
    list_display = ("logged_at", "process", "message")
    list_select_related = ("process",)
    search_fields = ("process__upstream_id", "message")
    search_plan = SearchPlan(ids=("process__upstream_id",), words=("message",))
    search_help_text = ("The upstream process id (whole), words of the message, or the "
                        "number.")

