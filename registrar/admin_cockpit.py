"""The registration's change page as the support cockpit: one page per domain.

What the page shows besides Django's own fieldsets (which go into a collapsed "All
fields" section): a summary of the state as badges, the customer, the actions with their
fees, the deadlines that apply, and the timeline with a note form. Also the three small
pages around it: the status JSON the page polls while a process is in flight, the note
POST, and "Attach to customer".

The registrar app does not import billing: the customer model is reached through the
registration's own foreign key, and billing's pages by their URL names.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from backoffice import notes, timeline
from backoffice.forms import TextRuleForm
from registrar import deadlines, notices
from registrar.customers import SET_CUSTOMER_PERMISSION, registration_set_customer
from registrar.models import Registration
from registrar.money import format_minor
from registrar.operations import OperationRefused

PLACE_ORDER_PERMISSION = "billing.place_order"  # billing.ordering's; not imported here
#: The process admin's view permission (registrar.services.PROCESS_VIEW_PERMISSION).
PROCESS_VIEW_PERMISSION = "registrar.view_process"
TIMELINE_PER_PAGE = 20
#: How often the page asks whether a process in flight has ended.
POLL_MILLISECONDS = 3000
#: How many customers the attach page lists for one search.
CUSTOMER_MATCHES = 20


def _account_model():
    return Registration._meta.get_field("account").related_model


def _change_url(registration: Registration) -> str:
    return reverse("admin:registrar_registration_change", args=[registration.pk])


# --- the summary -----------------------------------------------------------------------


def processes_in_flight(registration: Registration) -> list:
    return list(registration.processes.filter(is_terminal=False).order_by("created_at"))


def is_busy(registration: Registration, in_flight: list | None = None) -> bool:
    """A process is still running for it: the page keeps asking until it ends."""
    in_flight = processes_in_flight(registration) if in_flight is None else in_flight
    return bool(registration.pending_async or in_flight)


def badges(registration: Registration, in_flight: list | None = None) -> list[dict[str, Any]]:
    """The state as badges: key (the element is #summary-<key>), label, text, tone
    ("on", "off", "warn", "alert", "plain"). The conditional ones only while they hold."""
    from registrar.services import unsettled_notice

    in_flight = processes_in_flight(registration) if in_flight is None else in_flight
    r = registration

    def badge(key: str, label: str, text: str, tone: str, title: str = "") -> dict[str, Any]:
        return {"key": key, "label": label, "text": text, "tone": tone, "title": title}

    shown = [
        badge("status", "Status", r.get_status_display(), "plain"),
        badge("locked", "Transfer lock", "Locked" if r.locked else "Unlocked",
              "on" if r.locked else "off"),
        badge("privacy", "WHOIS privacy", "On" if r.privacy_protect else "Off",
              "on" if r.privacy_protect else "off"),
        badge("dnssec", "DNSSEC", "On" if r.dnssec_enabled else "Off",
              "on" if r.dnssec_enabled else "off"),
        badge("auto-renew", "Auto-renew", "On" if r.auto_renew else "Off",
              "on" if r.auto_renew else "off"),
    ]
    if in_flight or r.pending_async:
        text = "; ".join(f"{p.action} {p.status}{' (stuck)' if p.stuck else ''}"
                         for p in in_flight) or (r.rtr_process_status or "running")
        shown.append(badge("process", "Process in flight", text, "warn"))
    notice = unsettled_notice(r)
    if notice:
        shown.append(badge("unsettled", "Outcome not known yet", notice, "alert"))
    if r.transfer_out_pending:
        shown.append(badge("transfer-out", "Outbound transfer", "Waiting for a decision",
                           "alert"))
    if r.push_transfer_pending:
        shown.append(badge("push", "Push transfer", "In progress", "warn"))
    if r.customer_flagged:
        shown.append(badge("customer-flag", "Extra verification",
                           "On: unlock and auth code need a second person", "warn"))
    if r.missing_upstream_at:
        shown.append(badge("missing", "Missing upstream",
                           f"Not returned by the registrar since "
                           f"{timezone.localtime(r.missing_upstream_at):%Y-%m-%d %H:%M}",
                           "alert"))
    return shown


def _expiry(registration: Registration) -> dict[str, Any] | None:
    if registration.expires_at is None:
        return None
    days = (registration.expires_at - timezone.now()).days
    return {"at": registration.expires_at, "in": deadlines.countdown(registration.expires_at),
            "days_left": days, "soon": days <= 30}


def _customer(registration: Registration, user) -> dict[str, Any]:
    account = registration.account
    attach_url = (reverse("admin:registrar_registration_customer", args=[registration.pk])
                  if user.has_perm(SET_CUSTOMER_PERMISSION) else None)
    url = None
    if account is not None and user.has_perm("billing.view_account"):
        url = reverse("admin:billing_account_change", args=[account.pk])
    return {"account": account, "url": url, "attach_url": attach_url}


# --- the actions -----------------------------------------------------------------------


def _fees(registration: Registration) -> dict[str, str]:
    """The fee staff should mention before an operation, per operation, where known."""
    tld = registration.tld
    fees: dict[str, str] = {}
    if tld.privacy_fee_amount is not None and not registration.privacy_protect:
        fees["privacy"] = format_minor(tld.privacy_fee_amount, tld.privacy_fee_currency)
    if tld.registrant_change_fee_amount is not None:
        fees["registrant_change"] = format_minor(tld.registrant_change_fee_amount,
                                                 tld.registrant_change_fee_currency)
    return fees


def with_fees(context: dict[str, Any]) -> dict[str, Any]:
    """The change page's operation buttons (enabled, or disabled with the reason), each
    with its fee where one is known."""
    registration = context.get("original")
    if isinstance(registration, Registration) and context.get("operations"):
        fees = _fees(registration)
        context["operations"] = [{**button, "fee": fees.get(button["name"], "")}
                                 for button in context["operations"]]
    return context


def renew(registration: Registration, user) -> dict[str, Any] | None:
    """The Renew button: into the customer's domain order (quote first), prefilled."""
    if not user.has_perm(PLACE_ORDER_PERMISSION):
        return None
    if registration.account_id is None:
        return {"url": None, "reason": "Attach the registration to a customer first: a "
                                       "renewal is ordered for a customer."}
    try:
        base = reverse("admin:billing_account_domain_order", args=[registration.account_id])
    except NoReverseMatch:  # billing not installed
        return None
    query = {"action": "renew", "domain": registration.unicode_name}
    if registration.served_by is not None:
        query["provider_account"] = registration.served_by.pk
    return {"url": f"{base}?{urlencode(query)}", "reason": ""}


# --- the deadlines ---------------------------------------------------------------------


def deadlines_of(registration: Registration) -> list[dict[str, Any]]:
    from contacts.models import VerificationState

    rows = []
    if registration.transfer_out_pending and registration.transfer_out_auto_ack_at:
        at = registration.transfer_out_auto_ack_at
        rows.append({"key": "auto-ack", "label": "Transfer-out auto-ACK", "at": at,
                     "in": deadlines.countdown(at),
                     "hint": "The transfer goes through by itself unless it is rejected."})
    if registration.expires_at is not None:
        rows.append({"key": "expiry", "label": "Expiry", "at": registration.expires_at,
                     "in": deadlines.countdown(registration.expires_at),
                     "hint": "Auto-renew is on." if registration.auto_renew
                     else "Auto-renew is off: renew before this or it lapses."})
    holder = registration.owner_contact
    if (holder is not None and holder.verification_state == VerificationState.PENDING
            and holder.verification_due_at):
        rows.append({"key": "verification", "label": "Holder verification due",
                     "at": holder.verification_due_at,
                     "in": deadlines.countdown(holder.verification_due_at),
                     "hint": "The registry may suspend the domain if the holder does not "
                             "verify by then."})
    return rows


# --- the timeline ----------------------------------------------------------------------


def _timeline_page_number(request: HttpRequest) -> int:
    raw = request.GET.get("timeline_page", "1")
    return int(raw) if raw.isdigit() and 0 < len(raw) < 6 else 1


def timeline_context(registration: Registration, request: HttpRequest) -> dict[str, Any]:
    chosen = [kind for kind in request.GET.getlist("kinds") if kind in timeline.KINDS]
    page = timeline.build(registration, request.user, kinds=chosen or None,
                          page=_timeline_page_number(request), per_page=TIMELINE_PER_PAGE)

    def link(number: int) -> str:
        return "?" + urlencode([("kinds", kind) for kind in chosen]
                               + [("timeline_page", number)]) + "#timeline"

    return {
        "timeline": page,
        "timeline_kinds": [{"key": key, "label": label, "checked": key in chosen}
                           for key, label in timeline.KINDS.items()],
        "timeline_filtered": bool(chosen),
        "timeline_previous": link(page.number - 1) if page.has_previous else None,
        "timeline_next": link(page.number + 1) if page.has_next else None,
    }


class NoteForm(TextRuleForm, forms.Form):
    text = forms.CharField(label="Note", widget=forms.Textarea(attrs={"rows": 2}),
                           max_length=notes.MAX_NOTE_LENGTH,
                           help_text="Kept on this timeline for every colleague. No "
                                     "passwords or auth codes.")


# --- renewal notices -------------------------------------------------------------------


def notices_context(registration: Registration, user) -> dict[str, Any] | None:
    """The next renewal notice due (or why none is), and the suppress/resume link."""
    if not (user.has_perm(notices.VIEW_PERMISSION) or user.has_perm(
            notices.SUPPRESS_PERMISSION)):
        return None
    try:
        state = notices.notice_state(registration)
    except ImproperlyConfigured as problem:  # the page still opens; the setting is named
        return {"state": None, "problem": str(problem), "label": "", "url": None}
    return {
        "state": state,
        "label": state.next_point.label if state.next_point else "",
        "url": (reverse("admin:registrar_registration_notices", args=[registration.pk])
                if user.has_perm(notices.SUPPRESS_PERMISSION) else None),
    }


class NoticeSuppressionForm(TextRuleForm, forms.Form):
    reason = forms.CharField(label="Reason", widget=forms.Textarea(attrs={"rows": 3}),
                             max_length=notices.REASON_MAX_LENGTH, required=False,
                             help_text="Kept in the audit trail, e.g. the customer's ticket "
                                       "and what they asked for.")


def notices_view(model_admin, request: HttpRequest, object_id: str):
    """Suppress a registration's renewal notices (a reason is required), or resume
    them; a refusal comes back on this page with the reason on its field."""
    if not request.user.has_perm(notices.SUPPRESS_PERMISSION):
        raise PermissionDenied
    registration = model_admin._get_or_404(request, object_id)
    back = _change_url(registration)
    try:
        state = notices.notice_state(registration)
    except ImproperlyConfigured:  # suppressing still works while the schedule is fixed
        state = None
    suppressing = notices.open_suppression(registration) is None
    form = NoticeSuppressionForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            run = notices.notices_suppress if suppressing else notices.notices_resume
            try:
                outcome = run(registration=registration, actor=request.user,
                              reason=form.cleaned_data["reason"])
            except OperationRefused as refusal:
                for name, errors in refusal.field_errors.items():
                    form.add_error(name if name in form.fields else None, errors)
                if not refusal.field_errors:
                    form.add_error(None, refusal.message)
            else:
                messages.success(request, outcome.message)
                return HttpResponseRedirect(back)
        status = 400
    return TemplateResponse(request, "admin/registrar/registration/notices.html", {
        **model_admin.admin_site.each_context(request),
        "title": (f"Suppress renewal notices: {registration}" if suppressing
                  else f"Resume renewal notices: {registration}"),
        "form": form, "registration": registration, "original": registration,
        "opts": model_admin.model._meta, "change_url": back, "state": state,
        "suppressing": suppressing,
    }, status=status)


# --- the whole page --------------------------------------------------------------------


def cockpit_context(registration: Registration | None, request: HttpRequest
                    ) -> dict[str, Any]:
    if registration is None:
        return {}
    user = request.user
    in_flight = processes_in_flight(registration)
    return {
        "cockpit": True,
        "badges": badges(registration, in_flight),
        "busy": is_busy(registration, in_flight),
        "status_url": reverse("admin:registrar_registration_status", args=[registration.pk]),
        "poll_ms": POLL_MILLISECONDS,
        "expiry": _expiry(registration),
        "customer": _customer(registration, user),
        "renew": renew(registration, user),
        "deadlines": deadlines_of(registration),
        "note_form": NoteForm() if user.has_perm(notes.ADD_NOTE_PERMISSION) else None,
        "note_url": reverse("admin:registrar_registration_note", args=[registration.pk]),
        "notices": notices_context(registration, user),
        "processes_url": (reverse("admin:registrar_registration_processes",
                                  args=[registration.pk])
                          if user.has_perm(PROCESS_VIEW_PERMISSION) else None),
        "remote_url": reverse("admin:registrar_registration_remote", args=[registration.pk]),
        **timeline_context(registration, request),
    }


# --- the pages around it (called from RegistrationAdmin, which checks the object) -----


def status_view(model_admin, request: HttpRequest, object_id: str) -> JsonResponse:
    """Is a process still in flight, and the badges as they are now."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    registration = model_admin._get_or_404(request, object_id)
    in_flight = processes_in_flight(registration)
    response = JsonResponse({
        "busy": is_busy(registration, in_flight),
        "process_status": registration.rtr_process_status or "",
        "processes": [{"id": p.upstream_id, "action": p.action, "status": p.status,
                       "stuck": p.stuck} for p in in_flight],
        "unsettled": bool(registration.unsettled_operation),
        "badges": badges(registration, in_flight),
    })
    response["Cache-Control"] = "no-store"
    return response


def note_view(model_admin, request: HttpRequest, object_id: str):
    """Add a note to the registration's timeline; a refused one comes back on this page
    with the reason on the text field."""
    if not request.user.has_perm(notes.ADD_NOTE_PERMISSION):
        raise PermissionDenied
    registration = model_admin._get_or_404(request, object_id)
    back = _change_url(registration)
    form = NoteForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        # The form checks the length; the text rule itself is the note service's.
        text = request.POST.get("text", "")
        try:
            notes.add_note(target=registration, text=text, actor=request.user)
        except notes.NoteRefused as refusal:
            form = NoteForm(request.POST)
            form.is_valid()
            form.errors.pop("text", None)
            form.add_error("text", refusal.field_errors["text"])
            status = 400
        else:
            messages.success(request, f"Note added to {registration}.")
            return HttpResponseRedirect(back + "#timeline")
    return TemplateResponse(request, "admin/registrar/registration/note.html", {
        **model_admin.admin_site.each_context(request),
        "title": f"Add a note: {registration}",
        "form": form, "registration": registration, "original": registration,
        "opts": model_admin.model._meta, "change_url": back,
    }, status=status)


def processes_view(model_admin, request: HttpRequest, object_id: str):
    """The registration's processes as the registrar lists them now (GET .../processes),
    each linked to its mirror row where there is one. A read: nothing is written, the
    ones running upstream but not followed here are said to be so (the sync's follow,
    or `manage.py process remote NAME`, takes them up)."""
    from registrar.providers.errors import ProviderError
    from registrar.services import registration_processes_read

    if not request.user.has_perm(PROCESS_VIEW_PERMISSION):
        raise PermissionDenied
    registration = model_admin._get_or_404(request, object_id)
    listing, problem = None, ""
    try:
        listing = registration_processes_read(registration=registration,
                                              actor=request.user)
    except OperationRefused as refusal:
        problem = refusal.message
    except ProviderError as error:
        problem = (f"The registrar's process list could not be read now "
                   f"({error.message.rstrip('.')}). Nothing was changed here.")
    rows = []
    for info in listing.processes if listing else []:
        local = listing.mirrored.get(info.id)
        rows.append({
            "id": info.id, "action": info.action, "status": info.status,
            "created": str(info.raw.get("createdDate") or ""),
            "updated": str(info.raw.get("updatedDate") or ""),
            "local": local,
            "url": (reverse("admin:registrar_process_change", args=[local.pk])
                    if local is not None else None),
            "local_status": local.status if local is not None else "",
            "differs": local is not None and local.status != info.status,
        })
    return TemplateResponse(request, "admin/registrar/registration/processes.html", {
        **model_admin.admin_site.each_context(request),
        "title": f"Registrar processes: {registration}",
        "registration": registration, "original": registration,
        "opts": model_admin.model._meta, "change_url": _change_url(registration),
        "rows": rows, "problem": problem,
    })


class AttachCustomerForm(TextRuleForm, forms.Form):
    query = forms.CharField(label="Find the customer", max_length=200, required=False,
                            help_text="Customer reference, e-mail or name.")
    account = forms.ModelChoiceField(queryset=None, required=False, label="Customer",
                                     widget=forms.RadioSelect, empty_label=None)

    def __init__(self, *args, query: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        accounts = _account_model().objects.order_by("name", "pk")
        query = query.strip()
        if query:
            accounts = accounts.filter(Q(customer_reference__icontains=query)
                                       | Q(email__icontains=query) | Q(name__icontains=query))
        self.matches = list(accounts[:CUSTOMER_MATCHES]) if query else []
        self.fields["account"].queryset = accounts


def attach_customer_view(model_admin, request: HttpRequest, object_id: str):
    """Attach the registration to a customer account (or move it to another)."""
    if not request.user.has_perm(SET_CUSTOMER_PERMISSION):
        raise PermissionDenied
    registration = model_admin._get_or_404(request, object_id)
    back = _change_url(registration)
    data = request.POST if request.method == "POST" else request.GET
    form = AttachCustomerForm(data if data else None, query=data.get("query", ""))
    if request.method == "POST" and form.is_valid():
        account = form.cleaned_data["account"]
        if account is None:
            form.add_error("account", "Choose the customer this registration belongs to.")
        else:
            try:
                outcome = registration_set_customer(registration=registration,
                                                    account=account, actor=request.user)
            except OperationRefused as refusal:
                for name, errors in refusal.field_errors.items():
                    form.add_error(name if name in form.fields else None, errors)
                if not refusal.field_errors:
                    form.add_error(None, refusal.message)
            else:
                messages.success(request, outcome.message)
                return HttpResponseRedirect(back)
    return TemplateResponse(request, "admin/registrar/registration/attach_customer.html", {
        **model_admin.admin_site.each_context(request),
        "title": f"Attach to customer: {registration}",
        "form": form, "registration": registration, "original": registration,
        "opts": model_admin.model._meta, "change_url": back,
        "searched": bool((data.get("query") or "").strip()),
    })
