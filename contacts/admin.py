from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import connections, models
from django.db.models import F, Func, Q
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from backoffice.admin import MirrorAdmin
from backoffice.changelist import _NAMEISH, ScaledListMixin, SearchPlan, _AnyOf, _name_forms
from backoffice.ids import parse_pk
from contacts import services
from contacts.forms import ContactForm, ContactMirrorForm
from contacts.models import Contact
from registrar.admin_operations import show_outcome
from registrar.models import Registration
from registrar.operations import OperationRefused
from registrar.providers.errors import ProviderError

#: The contact's own columns, for labels on the page read at the registrar.
FIELD_NAMES = frozenset(f.name for f in Contact._meta.concrete_fields)

#: The registration columns through which a contact backs a domain.
ROLE_COLUMNS = ("owner_contact_id", "admin_contact_id", "tech_contact_id",
                "billing_contact_id")


def backing(term: str) -> Q:
    """The contacts behind the registrations whose name the term is (or is part of),
    in any of the four roles, by the same rules as the registration list's search.

    One subquery reads the matching registrations once and yields their four contact
    columns (on PostgreSQL `unnest(ARRAY[...])`, against which the contact's key is an
    index condition); a contact behind many of them is still one row, with no DISTINCT.
    """
    tokens = term.split()
    if len(tokens) != 1 or "@" in tokens[0] or not _NAMEISH.match(tokens[0]):
        return Q(pk__in=[])
    ascii_form, unicode_form = _name_forms(tokens[0])
    forms = [("name", ascii_form)]
    if unicode_form != ascii_form:
        forms.append(("name_unicode", unicode_form))
    named = Q(pk__in=[])
    for column, form in forms:
        named |= Q(**{f"{column}__{'startswith' if '.' in form else 'contains'}": form})
    registrations = Registration.objects.filter(named).order_by()
    if connections[registrations.db].vendor != "postgresql":
        found = Q(pk__in=[])
        for column in ROLE_COLUMNS:
            found |= Q(pk__in=registrations.values(column))
        return found
    contacts = registrations.annotate(contact=Func(
        *(F(column) for column in ROLE_COLUMNS), template="unnest(ARRAY[%(expressions)s])",
        output_field=models.BigIntegerField())).values("contact")
    return Q(_AnyOf(F("pk"), contacts))


@admin.register(Contact)
class ContactAdmin(ScaledListMixin, MirrorAdmin):
    list_display = ("handle", "full_name", "organization", "country", "email", "tld", "account",
                    "split_from")
    list_select_related = ("tld", "account", "split_from")
    list_filter = ("tld", "country")
    # Matches the upstream's `q`: handle, organisation, full name, registration name.
    search_fields = ("handle", "organization", "first_name", "last_name", "email",
                     "owner_of__name", "owner_of__name_unicode", "admin_of__name",
                     "tech_of__name", "billing_of__name")
    # The contact's own columns; a registration it backs is matched by
    # `get_search_results` below.
    search_plan = SearchPlan(
        emails=("email",),
        numbers=("pk", "upstream_id"),
        words=("handle", "organization", "first_name", "last_name"),
    )
    search_help_text = ("Words of the handle, name or organisation; the whole e-mail "
                        "address; the upstream id; or a domain it backs as holder, admin, "
                        "tech or billing contact, or part of one (Unicode or punycode).")
    change_form_template = "admin/contacts/contact/change_form.html"

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return super().get_search_results(request, queryset, search_term)
        matches = self.search_plan.q(queryset.model, search_term) | backing(search_term)
        return queryset.filter(matches), False

    # Contacts change only through the registrar: these pages call the services.
    def has_add_permission(self, request):
        return request.user.has_perm("contacts.add_contact")

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm("contacts.delete_contact")

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # a bulk delete would bypass the registrar
        return actions

    def get_urls(self):
        return [
            # Before the model's own pages: "sync/" would otherwise be read as an id.
            path("sync/", self.admin_site.admin_view(self.sync_view),
                 name="contacts_contact_sync"),
            path("<path:object_id>/edit/", self.admin_site.admin_view(self.edit_view),
                 name="contacts_contact_edit"),
            path("<path:object_id>/resend-verification/",
                 self.admin_site.admin_view(self.resend_view),
                 name="contacts_contact_resend"),
            path("<path:object_id>/remote/", self.admin_site.admin_view(self.remote_view),
                 name="contacts_contact_remote"),
            *super().get_urls(),
        ]

    def has_mirror_permission(self, request) -> bool:
        return all(request.user.has_perm(permission)
                   for permission in services.MIRROR_PERMISSIONS)

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {
            **(extra_context or {}), "can_mirror": self.has_mirror_permission(request)})

    def sync_view(self, request):
        """Mirror a provider account's contact list (POST); GET shows the choice."""
        if not self.has_mirror_permission(request):
            raise PermissionDenied
        form = ContactMirrorForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                report = services.contact_mirror(account=form.cleaned_data["account"],
                                                 actor=request.user)
            except OperationRefused as refusal:
                form.add_error("account", refusal.message)
            else:
                messages.add_message(request, messages.SUCCESS if report.ok
                                     else messages.ERROR, report.summary())
                return HttpResponseRedirect(reverse("admin:contacts_contact_changelist"))
        return self._page(request, "sync.html", None, form=form,
                          title="Mirror contacts from the registrar")

    def _contact(self, request, object_id) -> Contact:
        pk = parse_pk(unquote(object_id))
        contact = (Contact.objects.select_related("tld__provider_account", "account",
                                                  "split_from")
                   .filter(pk=pk).first()) if pk is not None else None
        if not self.has_view_permission(request, contact):
            raise PermissionDenied
        if contact is None:
            raise Http404("No such contact.")
        return contact

    def _page(self, request, template, contact, **context):
        return TemplateResponse(request, f"admin/contacts/contact/{template}", {
            **self.admin_site.each_context(request), "opts": self.model._meta,
            "original": contact, "contact": contact, **context})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        contact = self._contact(request, object_id)
        user = request.user
        extra_context = {
            **(extra_context or {}),
            "using": services.registrations_using(contact),
            "can_edit": user.has_perm("contacts.change_contact"),
            "can_delete": user.has_perm("contacts.delete_contact"),
            "can_resend": user.has_perm("contacts.resend_contact_verification")
            and contact.tld is not None and contact.tld.requires_contact_validation,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ContactForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            outcome = self._run(form, lambda: services.contact_create(
                tld=form.cleaned_data["tld"], account=form.cleaned_data.get("account"),
                fields=form.cleaned_data["cleaned_contact"], actor=request.user))
            if outcome is not None and outcome.ok:
                show_outcome(request, outcome)
                return HttpResponseRedirect(reverse("admin:contacts_contact_change",
                                                    args=[outcome.data["contact"].pk]))
        return self._page(request, "form.html", None, form=form, title="Add contact")

    def edit_view(self, request, object_id):
        if not request.user.has_perm("contacts.change_contact"):
            raise PermissionDenied
        contact = self._contact(request, object_id)
        form = ContactForm(request.POST or None, contact=contact)
        if request.method == "POST" and form.is_valid():
            outcome = self._run(form, lambda: services.contact_update(
                contact=contact, fields=form.cleaned_data["cleaned_contact"],
                actor=request.user))
            if outcome is not None and outcome.ok:
                show_outcome(request, outcome)
                return HttpResponseRedirect(reverse("admin:contacts_contact_change",
                                                    args=[contact.pk]))
        return self._page(request, "form.html", contact, form=form,
                          title=f"Edit {contact} at the registrar",
                          using=services.registrations_using(contact))

    def _run(self, form, call):
        """Run a service; refusals and upstream failures go back onto the form."""
        try:
            outcome = call()
        except OperationRefused as refusal:
            placed = False
            for name, errors in refusal.field_errors.items():
                form.add_error(name if name in form.fields else None, errors)
                placed = True
            if not placed:
                form.add_error(None, refusal.message)
            return None
        if not outcome.ok:
            field = "tld" if outcome.error and outcome.error.code == "tld_not_found" else None
            violations = outcome.error.violations if outcome.error else []
            form.add_error(field if field in form.fields else None,
                           f"{outcome.message} (registrar code: {outcome.error.code})"
                           if outcome.error else outcome.message)
            for violation in violations:
                name = violation.get("field")
                form.add_error(name if name in form.fields else None,
                               str(violation.get("message", "")))
        return outcome

    def delete_view(self, request, object_id, extra_context=None):
        if not self.has_delete_permission(request):
            raise PermissionDenied
        contact = self._contact(request, object_id)
        using = services.registrations_using(contact)
        if request.method == "POST":
            try:
                outcome = services.contact_delete(contact=contact, actor=request.user)
            except OperationRefused as refusal:
                messages.error(request, refusal.message)
                return HttpResponseRedirect(reverse("admin:contacts_contact_change",
                                                    args=[contact.pk]))
            show_outcome(request, outcome)
            if outcome.ok:
                return HttpResponseRedirect(reverse("admin:contacts_contact_changelist"))
            return HttpResponseRedirect(reverse("admin:contacts_contact_change",
                                                args=[contact.pk]))
        return self._page(request, "delete.html", contact, using=using,
                          in_use=any(using.values()), title=f"Delete {contact}")

    def remote_view(self, request, object_id):
        """The contact as the registrar has it now beside the mirror, differences marked.
        Reads only; a registrar that cannot answer is a message, not an error page."""
        if not request.user.has_perm("contacts.view_contact"):
            raise PermissionDenied
        contact = self._contact(request, object_id)
        record, differences, error = None, {}, ""
        try:
            record, differences = services.contact_read_remote(contact=contact,
                                                               actor=request.user)
        except OperationRefused as refusal:
            error = refusal.message
        except ProviderError as failure:
            error = (f"The registrar could not be read now: {failure.message.rstrip('.')}"
                     f" (registrar code: {failure.code}). Nothing was changed here.")
        rows = []
        if record is not None:
            for name, value in record.fields.items():
                field = Contact._meta.get_field(name) if name in FIELD_NAMES else None
                rows.append({"name": name, "label": field.verbose_name if field else name,
                             "mirror": getattr(contact, name, None), "registrar": value,
                             "differs": name in differences})
            if "split_from" in differences:
                mirror, remote = differences["split_from"]
                rows.append({"name": "split_from", "label": "split from",
                             "mirror": mirror, "registrar": remote, "differs": True})
        return self._page(request, "remote.html", contact, record=record, rows=rows,
                          differences=len(differences), error=error,
                          change_url=reverse("admin:contacts_contact_change",
                                             args=[contact.pk]),
                          title=f"{contact} at the registrar")

    def resend_view(self, request, object_id):
        if not request.user.has_perm("contacts.resend_contact_verification"):
            raise PermissionDenied
        contact = self._contact(request, object_id)
        if request.method == "POST":
            try:
                show_outcome(request, services.contact_resend_verification(
                    contact=contact, actor=request.user))
            except OperationRefused as refusal:
                messages.error(request, refusal.message)
            return HttpResponseRedirect(reverse("admin:contacts_contact_change",
                                                args=[contact.pk]))
        return self._page(request, "resend.html", contact,
                          title=f"Resend verification to {contact}")
