"""Two-person approvals in the admin: the list of requests (pending first, with their
age) and one page per request where a second person approves or declines it."""

from __future__ import annotations

from django import forms as djforms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from backoffice import assurance
from backoffice.admin import RecordAdmin
from backoffice.changelist import ScaledListMixin, SearchPlan
from backoffice.forms import TextRuleForm
from registrar import approvals, forms
from registrar.admin_operations import show_outcome
from registrar.models import Approval, ApprovalStatus
from registrar.operations import OperationRefused, Outcomes


class DecisionForm(TextRuleForm, djforms.Form):
    """The second person's decision; the note obeys the free-text rule on the form, before
    the service checks it again."""

    decision = djforms.ChoiceField(choices=[("approve", "Approve and run it"),
                                            ("decline", "Decline: nothing is sent")],
                                   widget=djforms.RadioSelect)
    note = djforms.CharField(required=False, max_length=1000, label="Note",
                             widget=djforms.Textarea(attrs={"rows": 2}),
                             help_text="What you checked, or why you decline.")


class PendingFirst(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "Waiting, not expired"), ("all", "All")]

    def choices(self, changelist):
        # "Waiting" is what approvers come for, so it is the default.
        value = self.value() or "open"
        for lookup, title in self.lookup_choices:
            yield {"selected": value == lookup, "query_string":
                   changelist.get_query_string({self.parameter_name: lookup}), "display": title}

    def queryset(self, request, queryset):
        if (self.value() or "open") == "open":
            return queryset.filter(status=ApprovalStatus.PENDING,
                                   expires_at__gt=timezone.now())
        return queryset


@admin.register(Approval)
class ApprovalAdmin(ScaledListMixin, RecordAdmin):
    list_display = ("id", "summary", "requested_by", "age", "expires", "ticket",
                    "status_shown", "decided_by")
    list_filter = (PendingFirst, "status", "operation")
    list_select_related = ("registration", "requested_by", "decided_by")
    search_fields = ("summary", "ticket", "registration__name")
    search_plan = SearchPlan(names=("registration__name",),
                             unicode_names=("registration__name_unicode",),
                             ids=("ticket",), words=("summary",))
    search_help_text = ("The ticket (whole), words of the summary, the registration's name "
                        "or part of it (Unicode or punycode), or the number.")

    def has_view_permission(self, request, obj=None):
        return (super().has_view_permission(request, obj)
                or request.user.has_perm(approvals.APPROVE_PERMISSION))

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    @admin.display(description="asked")
    def age(self, obj: Approval) -> str:
        return f"{timesince(obj.requested_at)} ago"

    @admin.display(description="expires", ordering="expires_at")
    def expires(self, obj: Approval) -> str:
        if obj.status != ApprovalStatus.PENDING:
            return ""
        if obj.expires_at <= timezone.now():
            return "expired"
        return f"in {timesince(timezone.now(), obj.expires_at)}"

    @admin.display(description="status", ordering="status")
    def status_shown(self, obj: Approval) -> str:
        if obj.status == ApprovalStatus.PENDING and obj.expires_at <= timezone.now():
            return "Expired"
        shown = obj.get_status_display()
        return f"{shown}: {obj.outcome}" if obj.outcome else shown

    def get_list_display(self, request):
        shown = list(super().get_list_display(request))
        if not request.user.has_perm(approvals.APPROVE_PERMISSION):
            return shown
        user_pk = request.user.pk

        @admin.display(description="")
        def decide_link(obj: Approval) -> str:
            # Only where this user can act: someone else's request, still open.
            if (obj.status != ApprovalStatus.PENDING or obj.expires_at <= timezone.now()
                    or obj.requested_by_id == user_pk):
                return ""
            return format_html('<a class="button" href="{}">Decide</a>',
                               reverse("admin:registrar_approval_decide", args=[obj.pk]))

        return [*shown, decide_link]

    def get_urls(self):
        return [path("<int:approval_id>/decide/", self.admin_site.admin_view(self.decide_view),
                     name="registrar_approval_decide"),
                *super().get_urls()]

    def decide_view(self, request, approval_id: int):
        user = request.user
        if not user.has_perm(approvals.APPROVE_PERMISSION):
            raise PermissionDenied
        approval = (Approval.objects.select_related("registration", "requested_by")
                    .filter(pk=approval_id).first())
        if approval is None:
            raise Http404("No such request.")
        list_url = reverse("admin:registrar_approval_changelist")
        problem = None
        if approval.status != ApprovalStatus.PENDING:
            problem = f"Request #{approval.pk} is already {approval.get_status_display().lower()}."
        elif approval.requested_by_id == user.pk:
            problem = "This is your own request: another person must decide it."
        elif approvals.expire_if_due(approval, actor=user):
            approval.refresh_from_db()
            problem = (f"Request #{approval.pk} expired at {approval.expires_at:%H:%M} UTC; it "
                       "cannot run.")
        form = DecisionForm(request.POST if request.method == "POST" else None)
        forms.add_clearance_fields(
            form, step_up=(assurance.second_factor_enforced(user)
                           and not assurance.second_factor_fresh(user)),
            two_person=False, max_age_minutes=max(1, settings.STEP_UP_MAX_AGE_SECONDS // 60))
        authcode = None
        if request.method == "POST" and problem is None and form.is_valid():
            code = (form.cleaned_data.get("second_factor") or "").strip()
            if code and not assurance.confirm_second_factor(user, code, request=request):
                form.add_error("second_factor", "That code is not valid (or was already "
                                                "used). Enter a current one.")
            else:
                try:
                    if form.cleaned_data["decision"] == "decline":
                        approvals.decline(approval=approval, approver=user,
                                          note=form.cleaned_data["note"])
                        messages.success(request, f"Request #{approval.pk} declined. Nothing "
                                                  "was sent to the registrar.")
                        return HttpResponseRedirect(list_url)
                    outcome = approvals.approve(approval=approval, approver=user,
                                                note=form.cleaned_data["note"])
                except OperationRefused as refusal:
                    target = next((name for name in refusal.field_errors
                                   if name in form.fields), None)
                    form.add_error(target, refusal.message)
                else:
                    if outcome.ok and "authcode" in outcome.data:
                        authcode = outcome.data["authcode"]
                    else:
                        if outcome.status == Outcomes.PAYMENT_REQUIRED:
                            messages.warning(request, outcome.message)
                        else:
                            show_outcome(request, outcome)
                        return HttpResponseRedirect(reverse(
                            "admin:registrar_registration_change",
                            args=[approval.registration_id]))
        response = TemplateResponse(request, "admin/registrar/approval/decide.html", {
            **self.admin_site.each_context(request),
            "title": f"Request #{approval.pk}: {approval.summary}",
            "approval": approval,
            "problem": problem,
            "form": form,
            "authcode": authcode,
            "opts": self.model._meta,
            "list_url": list_url,
            "registration_url": reverse("admin:registrar_registration_change",
                                        args=[approval.registration_id]),
        })
        if authcode:
            response["Cache-Control"] = "no-store, max-age=0"
        return response
