"""Registration operations in the admin: one page per operation, plus bulk actions.

Each page follows Django's own `UserAdmin.user_change_password`: a URL from
`get_urls()` wrapped in `admin_site.admin_view`, a permission check, a form on GET,
the service on POST, a message, and a redirect. A GET never changes anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from backoffice import assurance
from backoffice.ids import parse_pk
from registrar import admin_connect, approvals, forms, selectors, services
from registrar.models import Registration
from registrar.money import format_minor
from registrar.operations import OperationRefused, Outcome, Outcomes


@dataclass(frozen=True)
class OperationPage:
    title: str
    intro: str
    form: Callable[[HttpRequest, Registration, Any], Any]
    # (form, registration, user, clearance): the clearance is the step-up and two-person
    # request the page collected (registrar/approvals.py).
    run: Callable[..., Outcome]
    danger: bool = False


def _contacts_for(registration: Registration):
    # The service's own rule, so the lists offer nothing the service would refuse.
    return (services.contacts_usable_for(registration)
            .filter(upstream_id__isnull=False).order_by("handle"))


def _on_off(current: Callable[[Registration], bool]):
    return lambda request, registration, data: forms.OnOffForm(
        data, initial={"enabled": "0" if current(registration) else "1"})


def _holder_run(form, registration, user, clearance=None) -> Outcome:
    data = form.cleaned_data
    if data["action_mode"] == "edit_current":
        return services.registration_update_holder(
            registration=registration, action_mode="edit_current", actor=user,
            # The form starts from the holder's values: send only what was edited.
            holder=form.contact_data(only_filled=True, only_changed=True),
            confirm_reverification=data["confirm_reverification"], clearance=clearance)
    return services.registration_update_holder(
        registration=registration, action_mode="change", actor=user,
        source_contact=data["source_contact"],
        new_contact=None if data["source_contact"] else form.contact_data(only_filled=False),
        clearance=clearance)


def _registrant_change_run(form, registration, user, clearance=None) -> Outcome:
    source = form.cleaned_data["source_contact"]
    return services.registration_order_registrant_change(
        registration=registration, actor=user, source_contact=source,
        new_contact=None if source else form.contact_data(only_filled=False),
        clearance=clearance)


PAGES: dict[str, OperationPage] = {
    "lock": OperationPage(
        "Transfer lock",
        "The transfer lock (clientTransferProhibited) stops the domain being transferred "
        "away. Unlock only when the holder is moving the domain.",
        _on_off(lambda r: r.locked),
        lambda form, r, user, clearance=None: services.registration_set_lock(
            registration=r, locked=form.cleaned_data["enabled"], actor=user,
            clearance=clearance)),
    "privacy": OperationPage(
        "WHOIS privacy",
        "Hides the holder's details in the public registration data. Switching it off is "
        "always free; on some TLDs switching it on is billed first.",
        _on_off(lambda r: r.privacy_protect),
        lambda form, r, user, clearance=None: services.registration_set_privacy(
            registration=r, enabled=form.cleaned_data["enabled"], actor=user)),
    "auto_renew": OperationPage(
        "Auto-renew",
        "Switching auto-renew off within the TLD's cancellation window refunds the last "
        "renewal; after it, nothing is refunded.",
        _on_off(lambda r: r.auto_renew),
        lambda form, r, user, clearance=None: services.registration_set_auto_renew(
            registration=r, auto_renew=form.cleaned_data["enabled"], actor=user)),
    "nameservers": OperationPage(
        "Nameservers", "The delegation of the domain, in order.",
        lambda request, r, data: forms.NameserversForm(
            data, dnssec_enabled=r.dnssec_enabled,
            initial={"nameservers": "\n".join(r.nameservers)}),
        lambda form, r, user, clearance=None: services.registration_set_nameservers(
            registration=r, nameservers=form.cleaned_data["nameservers"], actor=user,
            clearance=clearance)),
    "dnssec": OperationPage(
        "DNSSEC", "Keys are sent to the registry as DNSKEY data (flags, algorithm, key).",
        lambda request, r, data: forms.DnssecForm(data),
        lambda form, r, user, clearance=None: services.registration_set_dnssec(
            registration=r, mode=form.cleaned_data["mode"],
            keys=form.cleaned_data["key_data"], actor=user, clearance=clearance)),
    "holder": OperationPage(
        "Holder (registrant)",
        "Editing the current holder is free. Replacing the holder is billed on some TLDs; "
        "use the paid registrant change to charge the customer directly.",
        lambda request, r, data: forms.HolderForm(data, contacts=_contacts_for(r),
                                                  holder=r.owner_contact),
        _holder_run),
    "registrant_change": OperationPage(
        "Paid registrant change",
        "Charges the customer's default payment method and changes the holder once paid.",
        lambda request, r, data: forms.RegistrantChangeForm(data, contacts=_contacts_for(r)),
        _registrant_change_run, danger=True),
    "role_contacts": OperationPage(
        "Role contacts", "Admin, tech and billing contacts. The holder is changed separately.",
        lambda request, r, data: forms.RoleContactsForm(data, contacts=_contacts_for(r)),
        lambda form, r, user, clearance=None: services.registration_set_role_contacts(
            registration=r, roles=form.roles(), actor=user)),
    "force_sync": OperationPage(
        "Re-sync from the registrar",
        "Reads the registration at the registrar and shows what changed here.",
        lambda request, r, data: forms.ConfirmForm(data),
        lambda form, r, user, clearance=None: services.registration_force_sync(
            registration=r, actor=user)),
    "transfer_out": OperationPage(
        "Outbound transfer",
        "Another registrar asked for this domain. Approve to let it go, reject to keep it.",
        lambda request, r, data: forms.TransferOutForm(data),
        lambda form, r, user, clearance=None: services.registration_decide_transfer_out(
            registration=r, decision=form.cleaned_data["decision"], actor=user,
            reason=form.cleaned_data["reason"], clearance=clearance),
        danger=True),
    "start_transfer_out": OperationPage(
        "Start outbound transfer",
        "Starts the transfer of this domain to another registrar and hands over its auth "
        "code, which lets anyone who has it take the domain. The code is shown once on the "
        "next page and is not stored.",
        lambda request, r, data: forms.AuthCodeForm(data),
        lambda form, r, user, clearance=None: services.registration_start_transfer_out(
            registration=r, actor=user, clearance=clearance),
        danger=True),
    "push_transfer": OperationPage(
        "Push transfer", "Moves the domain to another registrar without an auth code.",
        lambda request, r, data: forms.PushTransferForm(data),
        lambda form, r, user, clearance=None: services.registration_push_transfer(
            registration=r, recipient=form.cleaned_data["recipient"], actor=user,
            clearance=clearance),
        danger=True),
    "dns_records": OperationPage(
        "DNS records",
        "The records the registrar's DNS serves for this domain. Saving replaces all of them.",
        lambda request, r, data: forms.DnsRecordsForm(data, registration=r, initial={
            "records": selectors.dns_records_text(r)}),
        lambda form, r, user, clearance=None: services.registration_replace_dns_records(
            registration=r, records=form.cleaned_data["records"], actor=user), danger=True),
    "resend_verification": OperationPage(
        "Resend holder verification",
        "Sends the holder the registry's verification e-mail again.",
        lambda request, r, data: forms.ConfirmForm(data),
        lambda form, r, user, clearance=None: services.registration_resend_verification(
            registration=r, actor=user)),
}

def _add_clearance(form, request: HttpRequest, registration: Registration,
                   operation: str) -> None:
    """Ask for what a high-risk operation needs beyond the permission, on its own page."""
    user = request.user
    forms.add_clearance_fields(
        form,
        step_up=(approvals.may_need_step_up(operation, registration)
                 and assurance.second_factor_enforced(user)
                 and not assurance.second_factor_fresh(user)),
        two_person=approvals.may_need_approval(operation, registration),
        max_age_minutes=max(1, settings.STEP_UP_MAX_AGE_SECONDS // 60))


def _clearance(form, request: HttpRequest) -> approvals.Clearance | None:
    """Check a typed step-up code (None, with a form error, when it is wrong) and
    gather the two-person request fields."""
    data = form.cleaned_data
    code = (data.get("second_factor") or "").strip()
    if code and not assurance.confirm_second_factor(request.user, code, request=request):
        form.add_error("second_factor", "That code is not valid (or was already used). "
                                        "Enter a current one.")
        return None
    return approvals.Clearance(ticket=data.get("ticket") or "",
                               verification=data.get("verification") or "")


def show_outcome(request: HttpRequest, outcome: Outcome) -> None:
    """Turn a service outcome into the message staff see."""
    if outcome.status == Outcomes.SUCCEEDED:
        messages.success(request, outcome.message)
    elif outcome.status == Outcomes.PENDING:
        messages.info(request, outcome.message)
    elif outcome.status == Outcomes.UNKNOWN:
        # Not an error: the change may well have been made. The message says what the
        # re-read showed, or that it is still being found out.
        messages.warning(request, outcome.message)
    elif outcome.status == Outcomes.PAYMENT_REQUIRED:
        # Not the portal link itself: messages live in the session or a cookie, and a
        # billing link is a capability that must not be kept anywhere.
        messages.warning(request, outcome.message)
    else:
        detail = f" (registrar code: {outcome.error.code})" if outcome.error else ""
        messages.error(request, f"{outcome.message}{detail}")


class RegistrationOperationsMixin:
    """Mixed into RegistrationAdmin."""

    change_form_template = "admin/registrar/registration/change_form.html"

    def get_urls(self):
        return [
            path("<path:object_id>/operation/<slug:operation>/",
                 self.admin_site.admin_view(self.operation_view),
                 name="registrar_registration_operation"),
            path("<path:object_id>/auth-code/",
                 self.admin_site.admin_view(self.auth_code_view),
                 name="registrar_registration_auth_code"),
            path("<path:object_id>/hosts/",
                 self.admin_site.admin_view(self.hosts_view),
                 name="registrar_registration_hosts"),
            path("<path:object_id>/connect/",
                 self.admin_site.admin_view(self.connect_view),
                 name="registrar_registration_connect"),
            path("<path:object_id>/hosts/<str:host_name>/edit/",
                 self.admin_site.admin_view(self.host_edit_view),
                 name="registrar_registration_host_edit"),
            path("<path:object_id>/hosts/<str:host_name>/delete/",
                 self.admin_site.admin_view(self.host_delete_view),
                 name="registrar_registration_host_delete"),
            *super().get_urls(),
        ]

    # -- permissions (used by the bulk actions' `permissions=[...]`) ----------------

    def has_lock_registration_permission(self, request) -> bool:
        return request.user.has_perm("registrar.lock_registration")

    def has_set_auto_renew_permission(self, request) -> bool:
        return request.user.has_perm("registrar.set_auto_renew")

    def has_force_sync_permission(self, request) -> bool:
        return request.user.has_perm("registrar.force_sync")

    # -- the change page -----------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        registration = self._registration(request, object_id)
        extra_context = {**(extra_context or {}),
                         **selectors.registration_summary(registration, request.user)}
        if registration is not None:
            extra_context["connect_url"] = admin_connect.connect_url(registration,
                                                                     request.user)
        return super().change_view(request, object_id, form_url, extra_context)

    def connect_view(self, request, object_id):
        return admin_connect.connect_view(self, request, object_id)

    def _registration(self, request, object_id) -> Registration | None:
        pk = parse_pk(unquote(object_id))
        if pk is None:  # a hand-typed id that is not one
            return None
        return (Registration.objects.select_related("tld__provider_account", "account",
                                                    "owner_contact", "admin_contact",
                                                    "tech_contact", "billing_contact")
                .filter(pk=pk).first())

    def _get_or_404(self, request, object_id) -> Registration:
        registration = self._registration(request, object_id)
        if registration is None or not self.has_view_permission(request, registration):
            raise Http404("No such registration.")
        return registration

    def _change_url(self, registration: Registration) -> str:
        return reverse("admin:registrar_registration_change", args=[registration.pk])

    # -- one operation ---------------------------------------------------------------

    def operation_view(self, request, object_id, operation):
        page = PAGES.get(operation)
        if page is None:
            raise Http404("No such operation.")
        if not request.user.has_perm(services.OPERATIONS[operation].permission):
            raise PermissionDenied
        registration = self._get_or_404(request, object_id)
        reason = services.unavailable_reason(registration, operation, request.user)
        if reason:
            messages.error(request, f"{page.title}: {reason}")
            return HttpResponseRedirect(self._change_url(registration))
        form = page.form(request, registration, request.POST if request.method == "POST"
                         else None)
        _add_clearance(form, request, registration, operation)
        clearance = None
        if request.method == "POST" and form.is_valid():
            clearance = _clearance(form, request)
        if clearance is not None:
            try:
                outcome = page.run(form, registration, request.user, clearance)
            except OperationRefused as refusal:
                self._refusal_to_form(form, refusal)
            else:
                if outcome.status == Outcomes.PAYMENT_REQUIRED:
                    return self._payment_required_page(request, registration, page, outcome)
                if outcome.ok and outcome.data.get("authcode"):
                    # An operation that hands over the auth code: shown on this response
                    # only, like the reveal (never a flash message, never a redirect).
                    return self._authcode_page(request, registration, page, outcome)
                show_outcome(request, outcome)
                return HttpResponseRedirect(self._change_url(registration))
        context = {
            **self.admin_site.each_context(request),
            "title": f"{page.title}: {registration}",
            "page": page,
            "operation": operation,
            "form": form,
            "registration": registration,
            "opts": self.model._meta,
            "original": registration,
            "change_url": self._change_url(registration),
            **selectors.operation_context(registration, operation),
        }
        return TemplateResponse(request, "admin/registrar/registration/operation.html",
                                context)

    def _payment_required_page(self, request, registration: Registration, page,
                               outcome: Outcome) -> TemplateResponse:
        """A 402 fee gate: the portal link the upstream sent, shown on this response
        only (never a flash message, which would keep it in the session) and only to
        staff who may hand out billing links. The operation's audit row already holds
        it with its token masked."""
        may_see = request.user.has_perm("billing.generate_billing_link")
        template = "admin/registrar/registration/payment_required.html"
        response = TemplateResponse(request, template, {
            **self.admin_site.each_context(request),
            "title": f"{page.title}: payment needed",
            "registration": registration,
            "original": registration,
            "opts": self.model._meta,
            "change_url": self._change_url(registration),
            "outcome": outcome,
            "price": format_minor(outcome.payment.price.amount_minor,
                                  outcome.payment.price.currency),
            "portal_url": outcome.payment.portal_url if may_see else None,
        }, status=200)
        response["Cache-Control"] = "no-store"
        return response

    @staticmethod
    def _refusal_to_form(form, refusal: OperationRefused) -> None:
        # The role-contacts page keeps the new contact's fields in a form of their own:
        # a refused phone or country goes onto that field, not above the page. The
        # refusal's own sentence is said once above the form, and an error with no field
        # of its own here still names the one it is about.
        nested = getattr(form, "new_contact", None)
        unplaced: list[str] = []
        for name, errors in refusal.field_errors.items():
            if name in form.fields:
                form.add_error(name, errors)
            elif nested is not None and name in nested.fields:
                nested.add_error(name, errors)
            else:
                label = name.replace("_", " ").capitalize()
                unplaced.extend(f"{label}: {error}" for error in errors)
        nested_refused = nested is not None and any(nested.errors.values())
        if unplaced or not refusal.field_errors or nested_refused:
            form.add_error(None, refusal.message)
        for error in unplaced:
            form.add_error(None, error)

    def _authcode_page(self, request, registration: Registration, page,
                       outcome: Outcome) -> TemplateResponse:
        messages.success(request, outcome.message)
        response = TemplateResponse(request, "admin/registrar/registration/auth_code.html", {
            **self.admin_site.each_context(request),
            "title": f"{page.title}: {registration}",
            "authcode": outcome.data["authcode"],
            "registration": registration,
            "opts": self.model._meta,
            "original": registration,
            "change_url": self._change_url(registration),
        })
        response["Cache-Control"] = "no-store, max-age=0"
        response["Pragma"] = "no-cache"
        return response

    # -- the auth code: shown once, on a page nothing caches -----------------------------

    def auth_code_view(self, request, object_id):
        if not request.user.has_perm("registrar.reveal_authcode"):
            raise PermissionDenied
        registration = self._get_or_404(request, object_id)
        reason = services.unavailable_reason(registration, "auth_code", request.user)
        if reason:
            messages.error(request, f"Auth code: {reason}")
            return HttpResponseRedirect(self._change_url(registration))
        form = forms.AuthCodeForm(request.POST if request.method == "POST" else None)
        _add_clearance(form, request, registration, "auth_code")
        authcode = None
        clearance = None
        if request.method == "POST" and form.is_valid():
            clearance = _clearance(form, request)
        if clearance is not None:
            try:
                outcome = services.registration_reveal_auth_code(
                    registration=registration, actor=request.user, clearance=clearance)
            except OperationRefused as refusal:
                self._refusal_to_form(form, refusal)
            else:
                if outcome.status == Outcomes.PENDING:  # filed for a second person
                    show_outcome(request, outcome)
                    return HttpResponseRedirect(self._change_url(registration))
                if not outcome.ok:
                    show_outcome(request, outcome)
                    return HttpResponseRedirect(self._change_url(registration))
                authcode = outcome.data["authcode"]
        response = TemplateResponse(request, "admin/registrar/registration/auth_code.html", {
            **self.admin_site.each_context(request),
            "title": f"Auth code: {registration}",
            "form": form,
            "authcode": authcode,
            "registration": registration,
            "opts": self.model._meta,
            "original": registration,
            "change_url": self._change_url(registration),
        })
        # Never kept by a browser, a proxy or the back button.
        response["Cache-Control"] = "no-store, max-age=0"
        response["Pragma"] = "no-cache"
        return response

    # -- glue hosts: a list with an add form, and a page per host to edit or delete ---------

    def _hosts_url(self, registration: Registration) -> str:
        return reverse("admin:registrar_registration_hosts", args=[registration.pk])

    def _hosts_context(self, request, registration: Registration, **extra) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "registration": registration,
            "opts": self.model._meta,
            "original": registration,
            "change_url": self._change_url(registration),
            "hosts_url": self._hosts_url(registration),
            **extra,
        }

    def hosts_view(self, request, object_id):
        user = request.user
        can_add = user.has_perm(services.HOST_PERMISSIONS["create"])
        if not user.has_perm("registrar.view_host") or (
                request.method == "POST" and not can_add):
            raise PermissionDenied
        registration = self._get_or_404(request, object_id)
        form = None
        if can_add:
            form = forms.HostCreateForm(request.POST if request.method == "POST" else None,
                                        registration=registration)
        if request.method == "POST" and form.is_valid():
            try:
                outcome = services.host_create(
                    registration=registration, host_name=form.cleaned_data["host_name"],
                    addresses=[a for a, _ in form.cleaned_data["addresses"]], actor=user)
            except OperationRefused as refusal:
                self._refusal_to_form(form, refusal)
            else:
                show_outcome(request, outcome)
                return HttpResponseRedirect(self._hosts_url(registration))
        context = self._hosts_context(
            request, registration,
            title=f"Glue hosts: {registration}",
            hosts=selectors.registration_hosts(registration),
            form=form,
            reason=services.hosts_unavailable_reason(registration),
            can_change=user.has_perm(services.HOST_PERMISSIONS["update"]),
            can_delete=user.has_perm(services.HOST_PERMISSIONS["delete"]),
        )
        return TemplateResponse(request, "admin/registrar/registration/hosts.html", context)

    def host_edit_view(self, request, object_id, host_name):
        return self._host_page(
            request, object_id, host_name, verb="update", title="Change addresses",
            intro="The new list replaces all of the host's addresses at the registrar.",
            make_form=lambda host, data: forms.HostAddressesForm(data, initial={
                "addresses": "\n".join(a.address for a in host.addresses.all())}),
            run=lambda host, form, user: services.host_update(
                host=host, addresses=[a for a, _ in form.cleaned_data["addresses"]],
                actor=user))

    def host_delete_view(self, request, object_id, host_name):
        return self._host_page(
            request, object_id, host_name, verb="delete", title="Delete",
            intro="Deletes the glue host at the registrar. Nameservers that still use it "
                  "stop resolving through the glue.",
            make_form=lambda host, data: forms.ConfirmForm(data),
            run=lambda host, form, user: services.host_delete(host=host, actor=user),
            danger=True)

    def _host_page(self, request, object_id, host_name, *, verb: str, title: str, intro: str,
                   make_form: Callable[[Any, Any], Any],
                   run: Callable[[Any, Any, Any], Outcome], danger: bool = False):
        if not request.user.has_perm(services.HOST_PERMISSIONS[verb]):
            raise PermissionDenied
        registration = self._get_or_404(request, object_id)
        host = selectors.registration_host(registration, host_name)
        if host is None:
            raise Http404("No such glue host.")
        form = make_form(host, request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                outcome = run(host, form, request.user)
            except OperationRefused as refusal:
                self._refusal_to_form(form, refusal)
            else:
                show_outcome(request, outcome)
                return HttpResponseRedirect(self._hosts_url(registration))
        context = self._hosts_context(
            request, registration,
            title=f"{title}: {host}",
            page_title=title,
            intro=intro,
            danger=danger,
            host=host,
            form=form,
            reason=services.hosts_unavailable_reason(registration),
        )
        return TemplateResponse(request, "admin/registrar/registration/host_operation.html",
                                context)

    # -- bulk actions ------------------------------------------------------------------

    def _bulk(self, request, queryset, *, operation: str | None, title: str,
              run: Callable[[Registration], Outcome], step_up: bool = False):
        registrations = list(queryset.select_related("tld__provider_account"))
        needs_code = (step_up and assurance.second_factor_enforced(request.user)
                      and not assurance.second_factor_fresh(request.user))
        code_error = ""
        if request.POST.get("post") == "yes" and needs_code:
            code = (request.POST.get("second_factor") or "").strip()
            if assurance.confirm_second_factor(request.user, code, request=request):
                needs_code = False
            else:
                code_error = ("Enter a current code from your authenticator app, or a "
                              "backup code." if not code else
                              "That code is not valid (or was already used).")
        if request.POST.get("post") != "yes" or code_error:
            return TemplateResponse(request, "admin/registrar/registration/bulk_confirm.html", {
                **self.admin_site.each_context(request),
                "title": f"{title}: confirm",
                "action_title": title,
                "targets": [(r, services.unavailable_reason(r, operation, request.user)
                             if operation else None) for r in registrations],
                "action": request.POST.get("action"),
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                "needs_second_factor": needs_code,
                "second_factor_error": code_error,
            })
        rows = []
        for registration in registrations:
            try:
                outcome = run(registration)
                rows.append((registration, outcome.status, outcome.message))
            except OperationRefused as refusal:
                rows.append((registration, "refused", refusal.message))
            except PermissionDenied:
                rows.append((registration, "refused", "You do not have permission for this."))
        counts: dict[str, int] = {}
        for _, status, _ in rows:
            counts[status] = counts.get(status, 0) + 1
        return TemplateResponse(request, "admin/registrar/registration/bulk_report.html", {
            **self.admin_site.each_context(request),
            "title": f"{title}: results",
            "rows": rows,
            "counts": sorted(counts.items()),
            "opts": self.model._meta,
        })

    @admin.action(description="Lock selected registrations", permissions=["lock_registration"])
    def bulk_lock(self, request, queryset) -> HttpResponse:
        return self._bulk(request, queryset, operation="lock", title="Lock",
                          run=lambda r: services.registration_set_lock(
                              registration=r, locked=True, actor=request.user))

    @admin.action(description="Unlock selected registrations",
                  permissions=["lock_registration"])
    def bulk_unlock(self, request, queryset) -> HttpResponse:
        return self._bulk(request, queryset, operation="lock", title="Unlock", step_up=True,
                          run=lambda r: services.registration_set_lock(
                              registration=r, locked=False, actor=request.user))

    @admin.action(description="Switch auto-renew on", permissions=["set_auto_renew"])
    def bulk_auto_renew_on(self, request, queryset) -> HttpResponse:
        return self._bulk(request, queryset, operation="auto_renew", title="Auto-renew on",
                          run=lambda r: services.registration_set_auto_renew(
                              registration=r, auto_renew=True, actor=request.user))

    @admin.action(description="Switch auto-renew off", permissions=["set_auto_renew"])
    def bulk_auto_renew_off(self, request, queryset) -> HttpResponse:
        return self._bulk(request, queryset, operation="auto_renew", title="Auto-renew off",
                          run=lambda r: services.registration_set_auto_renew(
                              registration=r, auto_renew=False, actor=request.user))

    @admin.action(description="Re-sync selected from the registrar",
                  permissions=["force_sync"])
    def bulk_force_sync(self, request, queryset) -> HttpResponse:
        return self._bulk(request, queryset, operation="force_sync", title="Re-sync",
                          run=lambda r: services.registration_force_sync(
                              registration=r, actor=request.user))

    def has_flag_registration_permission(self, request) -> bool:
        return request.user.has_perm("registrar.flag_registration")

    @admin.action(description="Flag for extra verification (two-person approval)",
                  permissions=["flag_registration"])
    def bulk_flag(self, request, queryset) -> HttpResponse:
        return self._bulk(request, queryset, operation=None,
                          title="Flag for extra verification",
                          run=lambda r: services.registration_set_customer_flag(
                              registration=r, flagged=True, actor=request.user))

    @admin.action(description="Clear the extra-verification flag",
                  permissions=["flag_registration"])
    def bulk_unflag(self, request, queryset) -> HttpResponse:
        return self._bulk(request, queryset, operation=None,
                          title="Clear the extra-verification flag", step_up=True,
                          run=lambda r: services.registration_set_customer_flag(
                              registration=r, flagged=False, actor=request.user))

    actions = ["bulk_lock", "bulk_unlock", "bulk_auto_renew_on", "bulk_auto_renew_off",
               "bulk_force_sync", "bulk_flag", "bulk_unflag"]
