"""Shared admin base classes, the audit trail's admin, and the staff user and group
admins (with least privilege for non-superusers and every change audited)."""

from __future__ import annotations

import copy
import datetime
import decimal
from collections.abc import Iterable, Mapping
from typing import Any

# Imported first so that its User and Group admins are registered, and can be replaced.
import django.contrib.auth.admin as auth_admin
from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import (
    IS_POPUP_VAR,
    TO_FIELD_VAR,
    IncorrectLookupParameters,
)
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ORDER_VAR, PAGE_VAR, SEARCH_VAR
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db import models, router, transaction
from django.db.models.query import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from backoffice import audit
from backoffice.changelist import ScaledListMixin, SearchPlan
from backoffice.forms import with_text_rule
from backoffice.ids import parse_int, parse_pk
from backoffice.models import StaffAction
from backoffice.roles import ADMIN, FINANCE, SUPPORT
from registrar.values import dates
from registrar.values.text import text_problem

User = get_user_model()


# --- ids and filter values typed by hand --------------------------------------------------

#: Lookups whose value is compared as a number when the field holds one.
_NUMBER_LOOKUPS = {"exact", "iexact", "gt", "gte", "lt", "lte", "in"}
#: Date parts a changelist's date hierarchy (or a hand-made URL) filters on, and the
#: values each may take. Years (None here) stay inside the window of
#: registrar/values/dates.py: the date hierarchy adds a year to the one asked for, which
#: overflows past 9999.
_DATE_PARTS = {"year": None, "month": (1, 12), "day": (1, 31), "week": (1, 53),
               "week_day": (1, 7), "iso_week_day": (1, 7), "quarter": (1, 4),
               "iso_year": None, "hour": (0, 23), "minute": (0, 59), "second": (0, 59)}
#: The changelist's own parameters, which Django reads (and forgives) itself.
_CHANGELIST_VARS = {PAGE_VAR, ORDER_VAR, SEARCH_VAR, IS_POPUP_VAR, TO_FIELD_VAR, "e", "all",
                    "_changelist_filters", "_facets"}

#: Lookups whose value is compared as a date or a time when the field holds one.
_DATE_LOOKUPS = {"exact", "gt", "gte", "lt", "lte", "date", "in"}
#: Lookups no hand-made URL may use: a pattern the database cannot compile is an error
#: only when the page is drawn, past any check.
_REFUSED_LOOKUPS = {"regex", "iregex"}

MALFORMED_SELECTION = "Some selected ids were not valid; nothing was done."


def _in_window(value: str) -> bool:
    """A day (2024-05-06) or a moment (2024-05-06 00:00:00+00:00, as Django's own date
    filters write it) inside the window of registrar/values/dates.py."""
    for parse in (dates.parse_day, lambda text: dates.parse_moment(text, expiry=True)):
        try:
            parse(value)
        except ValidationError:
            continue
        return True
    return False


def _holds_integer(field: models.Field) -> bool:
    while field.is_relation and field.target_field is not field:
        field = field.target_field
    return isinstance(field, models.IntegerField)


def _filter_target(model: type[models.Model], key: str) -> tuple[models.Field, str] | None:
    """The field a changelist parameter filters on and its lookup, or None when the key
    is not a field path (a SimpleListFilter's own parameter)."""
    field = None
    opts = model._meta
    parts = key.split("__")
    for index, part in enumerate(parts):
        try:
            field = opts.get_field(part)
        except FieldDoesNotExist:
            if field is None:
                return None
            return field, "__".join(parts[index:])
        if field.is_relation and field.related_model is not None:
            opts = field.related_model._meta
    return (field, "exact") if field is not None else None


def malformed_value(field: models.Field, lookup: str, values: list[str]) -> str | None:
    """What `values` should have been (\"number\", \"year\"...) when one of them is not it,
    else None. Only the shapes a database driver chokes on are checked: numbers beyond
    64 bits, dates and date parts outside the window of registrar/values/dates.py, and
    text PostgreSQL cannot compare (NUL, controls, lone surrogates)."""
    items = [item for value in values
             for item in (value.split(",") if lookup == "in" else [value])]
    if lookup in _DATE_PARTS and isinstance(field, models.DateField | models.TimeField):
        low, high = _DATE_PARTS[lookup] or (dates.EARLIEST.year,
                                            dates.latest(expiry=True).year)
        return lookup.replace("_", " ") if any(
            parse_int(value, low, high) is None for value in values) else None
    if lookup in _DATE_LOOKUPS and isinstance(field, models.DateField):
        return "date" if not all(_in_window(item) for item in items) else None
    if lookup in _NUMBER_LOOKUPS and _holds_integer(field):
        return "number" if any(parse_int(item) is None for item in items) else None
    if lookup != "isnull" and any(text_problem(value) for value in values):
        # NUL, a lone surrogate, a control: PostgreSQL refuses the query as it runs.
        return "text"
    return None


class _UnusableParameters(Exception):
    """The changelist cannot be built with these query parameters (Django's
    IncorrectLookupParameters, with the culprits found)."""

    def __init__(self, keys: list[str]) -> None:
        super().__init__(keys)
        self.keys = keys


class StrictInputMixin:
    """A malformed id or filter value typed into an admin URL, or forged into a bulk
    action's selection, is "no such row" (a 404 or Django's "doesn't exist" redirect) or
    a dropped filter with a message: never a database error. Text typed into the admin's
    forms obeys the free-text rule.

    Ids are ASCII digits within the BigAutoField range (backoffice/ids.py); anything else
    never reaches the database, where SQLite overflows on 400 digits and PostgreSQL
    rejects them mid-transaction."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        # Text typed into any admin form obeys the free-text rule: no control characters,
        # no bidi overrides (registrar/values/text.py).
        return with_text_rule(super().formfield_for_dbfield(db_field, request, **kwargs))

    def _integer_pk(self) -> bool:
        return _holds_integer(self.model._meta.pk)

    def get_object(self, request, object_id, from_field=None):
        field = (self.model._meta.pk if from_field is None
                 else self.model._meta.get_field(from_field))
        if _holds_integer(field) and parse_pk(object_id) is None:
            return None
        try:
            return super().get_object(request, object_id, from_field)
        except (ValueError, OverflowError, ValidationError):
            return None

    def malformed_parameters(self, request: HttpRequest) -> dict[str, str]:
        """{parameter: what it should have been} for the changelist's query parameters
        that name a field and hold a value no database could compare with it."""
        found = {}
        for key in request.GET:
            if key in _CHANGELIST_VARS:
                continue
            target = _filter_target(self.model, key)
            if target is None:
                continue
            expected = malformed_value(*target, request.GET.getlist(key))
            if expected:
                found[key] = expected
        if any(text_problem(value) for value in request.GET.getlist(SEARCH_VAR)):
            found[SEARCH_VAR] = "search text"
        return found

    def lookup_allowed(self, lookup, value, request=None):
        if lookup.rpartition("__")[2] in _REFUSED_LOOKUPS:
            return False  # answered 400 by Django, as any lookup it does not allow
        return super().lookup_allowed(lookup, value, request)

    def get_changelist_instance(self, request):
        try:
            return super().get_changelist_instance(request)
        except IncorrectLookupParameters:
            # Django would send the page to ?e=1, its "Database error" page, which names
            # no parameter and blames the installation.
            unusable = self._unusable_parameters(request)
            if not unusable:
                raise  # nothing to drop: a redirect would come back here
            raise _UnusableParameters(unusable) from None

    def _unusable_parameters(self, request: HttpRequest) -> list[str]:
        """The parameter without which the changelist can be built, or, when no single
        one is to blame, every parameter that is not the changelist's own (the page
        number aside, which a shorter list makes invalid)."""
        keys = [key for key in request.GET if key not in _CHANGELIST_VARS - {PAGE_VAR}]
        for key in keys[:20]:
            trial = copy.copy(request)
            trial.GET = request.GET.copy()
            trial.GET.pop(key)
            try:
                super().get_changelist_instance(trial)
            except IncorrectLookupParameters:
                continue
            return [key]
        return keys

    def _selection_is_malformed(self, request: HttpRequest) -> bool:
        if request.method != "POST" or "action" not in request.POST:
            return False
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        return self._integer_pk() and any(parse_pk(value) is None for value in selected)

    def changelist_view(self, request, extra_context=None):
        if self._selection_is_malformed(request):
            # Before Django builds the queryset: acting on the valid part of a forged
            # selection would be acting on something nobody chose.
            messages.error(request, MALFORMED_SELECTION)
            return HttpResponseRedirect(request.get_full_path())
        malformed = self.malformed_parameters(request)
        if malformed:
            return self._without(request, malformed)
        try:
            return super().changelist_view(request, extra_context)
        except _UnusableParameters as unusable:
            return self._without(request, dict.fromkeys(unusable.keys))

    def _without(self, request: HttpRequest, malformed: dict[str, str | None]
                 ) -> HttpResponse:
        for key, expected in malformed.items():
            if expected is None:
                messages.error(request, f"The filter {key} was dropped: the list cannot be "
                                        "filtered by it with that value. Choose a filter "
                                        "from the sidebar instead.")
                continue
            messages.error(request, f"The filter {key} was dropped: its value is not a "
                                    f"valid {expected}.")
        kept = request.GET.copy()
        for key in malformed:
            kept.pop(key, None)
        query = kept.urlencode()
        return HttpResponseRedirect(f"{request.path}?{query}" if query else request.path)


class MirrorAdmin(StrictInputMixin, admin.ModelAdmin):
    """Admin for upstream mirrors: every field read-only; staff change upstream state
    only through operations, never by editing a form. No add, no delete."""

    show_full_result_count = False  # no COUNT(*) over the whole table on every page

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] + list(self.readonly_fields)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
        }
        return super().change_view(request, object_id, form_url, extra_context)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request, obj=None):
        return False


class RecordAdmin(StrictInputMixin, admin.ModelAdmin):
    """Admin for records the back-office writes itself (the audit trail, approvals):
    shown, never added, changed or deleted here, for everyone including superusers."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


#: The families of audit actions, by the prefix every action of one starts with
#: ("registration.lock", "config.tld.change"): the services name their actions in code
#: (audit.record(action=...)), so the filter's choices are known without reading the
#: trail. A family is matched by prefix on the action's index.
AUDIT_ACTION_FAMILIES = (
    ("registration", "Registrations"),
    ("host", "Hosts (glue records)"),
    ("contact", "Contacts"),
    ("process", "Registrar processes"),
    ("approval", "Approvals"),
    ("order", "Orders"),
    ("orders", "Order exports"),
    ("billing", "Billing-portal links"),
    ("provider_account", "Provider accounts"),
    ("config", "Configuration changes"),
    ("security", "Second factors"),
    ("note", "Notes"),
)

#: The apps whose rows an audit row may be about (its target_type is "<app>.<model>").
AUDIT_TARGET_APPS = ("registrar", "contacts", "billing", "backoffice", "auth")


class ActionFamilyFilter(admin.SimpleListFilter):
    """By family of action, from AUDIT_ACTION_FAMILIES: no query for the choices (Django's
    own filter on a column lists its values with SELECT DISTINCT over the whole trail).
    A single action is still a URL away: ?action=registration.lock."""

    title = "action"
    parameter_name = "family"

    def lookups(self, request, model_admin):
        return AUDIT_ACTION_FAMILIES

    def queryset(self, request, queryset):
        if self.value() in dict(AUDIT_ACTION_FAMILIES):
            return queryset.filter(action__startswith=f"{self.value()}.")
        return queryset


class TargetTypeFilter(admin.SimpleListFilter):
    """By the kind of row acted on, from the installed models of AUDIT_TARGET_APPS: no
    query for the choices."""

    title = "target type"
    parameter_name = "target_type"

    def lookups(self, request, model_admin):
        from django.apps import apps

        models_of = [model for label in AUDIT_TARGET_APPS if apps.is_installed(
            f"django.contrib.{label}" if label == "auth" else label)
            for model in apps.get_app_config(label).get_models()]
        return sorted(((model._meta.label_lower, model._meta.verbose_name.capitalize())
                       for model in models_of), key=lambda choice: choice[1])

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(target_type=self.value())
        return queryset


@admin.register(StaffAction)
class StaffActionAdmin(ScaledListMixin, RecordAdmin):
    list_display = ("created_at", "actor_label", "channel", "action", "target_repr",
                    "outcome", "upstream_code")
    # The date as a range on the created_at index (today, past 7 days, this month, this
    # year), not Django's date hierarchy: that one lists the years and months of the rows
    # shown, a sort of every row (and a MIN/MAX of the whole search) on every page.
    # Outcome and channel list their choices from code, the action and target type
    # filters likewise (above).
    list_filter = (("created_at", admin.DateFieldListFilter), "outcome", "channel",
                   ActionFamilyFilter, TargetTypeFilter)
    show_facets = admin.ShowFacets.NEVER
    search_fields = ("actor_label", "action", "target_repr", "target_id", "upstream_request_id",
                     "process_id")
    search_plan = SearchPlan(ids=("target_id", "upstream_request_id", "process_id"),
                             words=("target_repr", "actor_label", "action"))
    search_help_text = ("An id (target, upstream request or process, exact) or words of "
                        "what was acted on, who acted or the action.")
    date_hierarchy = None
    list_select_related = ("actor",)
    show_full_result_count = False



# --- configuration changes, audited ------------------------------------------------------

#: What a credential's value is recorded as: that it changed, never what it is.
CREDENTIAL_CHANGED = "changed (value not recorded)"


def audit_value(value: Any) -> Any:
    """`value` as plain JSON for the audit trail: related rows by their name, dates as
    ISO 8601, decimals as strings."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): audit_value(item) for key, item in value.items()}
    if isinstance(value, QuerySet | Iterable) and not isinstance(value, bytes):
        return [audit_value(item) for item in value]
    return str(value)


def _pk(value: Any) -> str:
    return str(value.pk if isinstance(value, models.Model) else value)


class ConfigAuditMixin:
    """Every add, change and delete made through this admin writes one audit row
    (`config.<model>.add|change|delete`) with the values before and after.

    The diff comes from the form: `changed_data`, its initial values (as loaded) and its
    cleaned ones (as saved). Relations are recorded by name, many-to-many fields as what
    was added and removed. Secret-looking keys are masked by `audit.mask_secrets`;
    password inputs and `audit_credential_fields` are recorded as changed, never by value.
    """

    audit_credential_fields: tuple[str, ...] = ()
    #: Model fields never copied into the trail (the User's password hash).
    audit_excluded_fields: tuple[str, ...] = ()

    def audit_action(self, verb: str) -> str:
        return f"config.{self.model._meta.model_name}.{verb}"

    def _is_credential(self, form: forms.BaseForm, name: str) -> bool:
        field = form.fields.get(name)
        return name in self.audit_credential_fields or isinstance(
            getattr(field, "widget", None), forms.PasswordInput)

    def audit_changes(self, form: forms.BaseForm) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        for name in form.changed_data:
            if name in self.audit_excluded_fields:
                continue
            if self._is_credential(form, name):
                changes[name] = CREDENTIAL_CHANGED
                continue
            field = form.fields[name]
            old, new = form.initial.get(name), form.cleaned_data.get(name)
            if isinstance(field, forms.ModelMultipleChoiceField):
                # Whole lists of permissions would bury the one that was granted.
                before = {_pk(item): item for item in old or []}
                after = {_pk(item): item for item in new or []}
                changes[name] = {
                    "added": sorted(str(after[key]) for key in after.keys() - before.keys()),
                    "removed": sorted(str(before[key]) for key in before.keys() - after.keys()),
                }
            elif isinstance(field, forms.ModelChoiceField):
                if old is not None and not isinstance(old, models.Model):
                    old = field.queryset.model._base_manager.filter(pk=old).first() or old
                changes[name] = {"old": audit_value(old), "new": audit_value(new)}
            else:
                changes[name] = {"old": audit_value(old), "new": audit_value(new)}
        return changes

    def audit_values(self, form: forms.BaseForm) -> dict[str, Any]:
        """What an added row was created with, as the form gave it."""
        return {
            name: CREDENTIAL_CHANGED if self._is_credential(form, name)
            else audit_value(form.cleaned_data[name])
            for name in form.fields
            if name in form.cleaned_data and name not in self.audit_excluded_fields
        }

    def audit_snapshot(self, obj: models.Model) -> dict[str, Any]:
        """A row's values as they stand, for the record of its deletion."""
        values: dict[str, Any] = {}
        for field in [*obj._meta.concrete_fields, *obj._meta.many_to_many]:
            if field.name in self.audit_excluded_fields or field.primary_key:
                continue
            if field.many_to_many:
                values[field.name] = sorted(str(item) for item in getattr(obj, field.name).all())
            elif field.is_relation:
                values[field.name] = audit_value(getattr(obj, field.name))
            else:
                values[field.name] = audit_value(field.value_from_object(obj))
        return values

    def audit_notes(self, request: HttpRequest, obj: models.Model, form: forms.BaseForm,
                    change: bool) -> dict[str, Any]:
        """Further parameters for an add or change row (a subclass's credentials)."""
        return {}

    def _name(self) -> str:
        return str(self.model._meta.verbose_name)

    def save_related(self, request, form, formsets, change):
        # After the many-to-many fields are saved: one row for the whole edit, in the
        # admin's transaction, so the trail and the configuration never disagree.
        super().save_related(request, form, formsets, change)
        obj = form.instance
        notes = self.audit_notes(request, obj, form, change)
        if change:
            changes = self.audit_changes(form)
            parameters = {"changes": changes, **notes}
            named = sorted({*changes, *notes})
            message = (f"Changed {self._name()} {obj}: {', '.join(named)}." if named
                       else f"Saved {self._name()} {obj} with no changes.")
        else:
            parameters = {"values": self.audit_values(form), **notes}
            message = f"Added {self._name()} {obj}."
        audit.record(actor=request.user, action=self.audit_action("change" if change else "add"),
                     target=obj, parameters=parameters, outcome=StaffAction.Outcome.SUCCEEDED,
                     message=message)

    def _deletion_row(self, request: HttpRequest, obj: models.Model) -> StaffAction:
        # Built before the delete, while the row still has its id and relations.
        return audit.build(actor=request.user, action=self.audit_action("delete"), target=obj,
                           parameters={"values": self.audit_snapshot(obj)},
                           outcome=StaffAction.Outcome.SUCCEEDED,
                           message=f"Deleted {self._name()} {obj}.")

    def delete_model(self, request, obj):
        row = self._deletion_row(request, obj)
        super().delete_model(request, obj)
        row.save()

    def delete_queryset(self, request, queryset):
        rows = [self._deletion_row(request, obj) for obj in queryset]
        super().delete_queryset(request, queryset)
        StaffAction.objects.bulk_create(rows)


# --- staff users and groups -------------------------------------------------------------

#: Fields that grant power beyond the groups: only a superuser may set them.
PRIVILEGE_FIELDS = ("is_superuser", "is_staff", "user_permissions")
ROLE_GROUPS = (SUPPORT, FINANCE, ADMIN)


class StaffUserAdmin(StrictInputMixin, ConfigAuditMixin, auth_admin.UserAdmin):
    """Django's user admin, with least privilege for non-superusers (Admins).

    An Admin cannot make anyone (themselves included) a superuser or staff, grant
    permissions directly, join a group, change a superuser, or set anyone's password
    but their own. The fields are read-only for them, and a POST that changes them
    anyway is refused and audited."""

    # Passwords are recorded as "password set" or "password changed" (audit_notes and
    # user_change_password), never by value or hash.
    audit_excluded_fields = ("password", "password1", "password2", "usable_password")

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is not None:
            fieldsets.append(("Second factor", {"fields": ("second_factor",)}))
        return fieldsets

    change_form_template = "admin/backoffice/user_change_form.html"

    @admin.display(description="devices")
    def second_factor(self, user) -> str:
        from backoffice.security.devices import confirmed_devices, kind_of

        return ", ".join(sorted(kind_of(device) for device in confirmed_devices(user))) or (
            "none set up")


    def get_readonly_fields(self, request, obj=None):
        # Kept by Django itself; a form round trip would only shave their microseconds.
        fields = [*super().get_readonly_fields(request, obj), "last_login", "date_joined",
                  "second_factor"]
        if not request.user.is_superuser:
            fields += [name for name in self._protected_fields(request, obj)
                       if name not in fields]
        return fields

    @staticmethod
    def _protected_fields(request: HttpRequest, obj) -> list[str]:
        own = obj is not None and obj.pk == request.user.pk
        return [*PRIVILEGE_FIELDS, *(["groups"] if own else [])]

    def _changes_superuser(self, request: HttpRequest, obj) -> bool:
        return obj is not None and obj.is_superuser and not request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        if self._changes_superuser(request, obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if self._changes_superuser(request, obj):
            return False
        return super().has_delete_permission(request, obj)

    # -- refusing a forged POST ------------------------------------------------------------

    def _privileges_posted(self, request: HttpRequest, target) -> list[str]:
        """The protected fields a POST would change: a form from this admin never sends
        them to a non-superuser, so their presence with a new value is forged."""
        posted = request.POST
        changed = []
        for name in self._protected_fields(request, target):
            if name not in posted:
                continue
            if name in ("is_superuser", "is_staff"):
                wanted = forms.BooleanField(required=False).to_python(posted.get(name))
                if wanted != (bool(getattr(target, name)) if target is not None else False):
                    changed.append(name)
            else:
                wanted_ids = {value for value in posted.getlist(name) if value}
                current = ({str(pk) for pk in getattr(target, name).values_list("pk", flat=True)}
                           if target is not None else set())
                if wanted_ids != current:
                    changed.append(name)
        return changed

    def _refuse_forged_privileges(self, request: HttpRequest, object_id: str | None) -> None:
        if request.method != "POST" or request.user.is_superuser:
            return
        target = self.get_object(request, unquote(object_id)) if object_id else None
        if object_id and target is None:
            return  # the admin answers "no such user" itself
        refused = self._privileges_posted(request, target)
        if not refused:
            return
        # Outside the admin's transaction, so that the refusal stays on record.
        audit.record(
            actor=request.user, action=self.audit_action("change" if target else "add"),
            target=target, parameters={"refused": refused},
            outcome=StaffAction.Outcome.FAILED,
            message=f"Refused: only a superuser may change {', '.join(refused)}.")
        raise PermissionDenied(f"Only a superuser may change {', '.join(refused)}.")

    def add_view(self, request, form_url="", extra_context=None):
        self._refuse_forged_privileges(request, None)
        return super().add_view(request, form_url, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        self._refuse_forged_privileges(request, object_id)
        user_id = parse_pk(unquote(object_id))
        if request.user.is_superuser and user_id is not None:
            # Only superusers reset another's second factor (backoffice/security).
            extra_context = {**(extra_context or {}), "second_factor_reset_url": reverse(
                "admin:security_reset", args=[user_id])}
        return super().change_view(request, object_id, form_url, extra_context)

    # -- passwords -------------------------------------------------------------------------

    def audit_notes(self, request, obj, form, change):
        if change:
            return {}
        return {"credentials": "password set" if obj.has_usable_password()
                else "password-based login disabled"}

    def user_change_password(self, request, id, form_url=""):
        user = self.get_object(request, unquote(id))
        if (user is not None and not request.user.is_superuser
                and user.pk != request.user.pk):
            raise PermissionDenied("Only a superuser may change another user's password.")
        if request.method != "POST" or user is None:
            return super().user_change_password(request, id, form_url)
        with transaction.atomic(using=router.db_for_write(self.model)):
            response = super().user_change_password(request, id, form_url)
            now = User._base_manager.filter(pk=user.pk).values_list("password", flat=True)
            if now.first() != user.password:
                user.refresh_from_db()
                what = ("password changed" if user.has_usable_password()
                        else "password-based login disabled")
                audit.record(actor=request.user, action=self.audit_action("change"),
                             target=user, parameters={"credentials": what},
                             outcome=StaffAction.Outcome.SUCCEEDED,
                             message=f"{what.capitalize()} for user {user}.")
        return response


class StaffGroupAdmin(StrictInputMixin, ConfigAuditMixin, auth_admin.GroupAdmin):
    """Django's group admin, audited, and plain about the three role groups: their
    permissions are whatever backoffice/roles.py says, and setup_roles (run after every
    migrate) puts them back."""

    list_display = ("name", "role_group")

    @admin.display(description="role group")
    def role_group(self, group: Group) -> str:
        return ("Yes: setup_roles resets its permissions" if group.name in ROLE_GROUPS
                else "")

    @staticmethod
    def role_warning(group: Group) -> str:
        return (f"{group.name} is one of the three role groups: setup_roles, which runs after "
                "every migrate, resets its permissions to those listed in "
                "backoffice/roles.py, so a change made here will be undone.")

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "subtitle": (f"{', '.join(ROLE_GROUPS)} are role groups: setup_roles resets "
                         "their permissions after every migrate, undoing edits made here."),
        }
        return super().changelist_view(request, extra_context)

    def _warn_if_role(self, request: HttpRequest, object_id: str) -> None:
        group = self.get_object(request, unquote(object_id))
        if request.method == "GET" and group is not None and group.name in ROLE_GROUPS:
            messages.warning(request, self.role_warning(group))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        self._warn_if_role(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        self._warn_if_role(request, object_id)
        return super().delete_view(request, object_id, extra_context)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if form.instance.name in ROLE_GROUPS:
            messages.warning(request, self.role_warning(form.instance))


for _model, _admin in ((User, StaffUserAdmin), (Group, StaffGroupAdmin)):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
    admin.site.register(_model, _admin)


# The installed apps' admins (login attempts, second-factor devices) are registered before
# the project's: they take the same care with ids and filters.
for _model, _model_admin in list(admin.site._registry.items()):
    if not isinstance(_model_admin, StrictInputMixin):
        _class = type(_model_admin)
        admin.site.unregister(_model)
        admin.site.register(_model, type(_class.__name__, (StrictInputMixin, _class), {
            "__module__": _class.__module__, "__doc__": _class.__doc__}))
