"""The admin's configuration forms, from a shell: list, show, add, edit and delete rows
of a model whose admin keeps a configuration trail (ConfigAuditMixin).

A command run here goes through the registered ModelAdmin itself: its permission checks
for the acting user, its form (so every field rule, the fee in major units, the free-text
rule), its save and its audit row (`config.<model>.add|change|delete`, old -> new). Only
the request is the command's: it carries the acting user, as the admin's request does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin import ModelAdmin
from django.core.management.base import CommandError
from django.db import models, transaction
from django.http import HttpRequest, QueryDict

from backoffice.admin import ConfigAuditMixin

#: How --field types a yes/no field.
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


@dataclass(frozen=True)
class ConfigModel:
    """A configured model the command offers: its name on the command line and the
    field it is looked up by."""

    name: str
    model: type[models.Model]
    key: str


def model_admin(model: type[models.Model]) -> ModelAdmin:
    found = admin.site._registry.get(model)
    if not isinstance(found, ConfigAuditMixin):
        raise CommandError(f"{model._meta.verbose_name} has no configuration admin.")
    return found


def acting_request(user: Any) -> HttpRequest:
    """What the admin's permission checks and audit read of a request: the user."""
    request = HttpRequest()
    request.method = "POST"
    request.user = user
    request.META["REMOTE_ADDR"] = "127.0.0.1"
    return request


def parse_fields(pairs: Sequence[str]) -> dict[str, str]:
    """--field name=value, repeatable; the last of a name wins."""
    given: dict[str, str] = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        name = name.strip()
        if not equals or not name:
            raise CommandError(f"--field “{pair[:60]}”: type it as name=value.")
        given[name] = value
    return given


def _data_of(form: forms.BaseForm) -> dict[str, Any]:
    """The form's current values as a browser would post them back unchanged."""
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
        elif isinstance(field, forms.ModelMultipleChoiceField | forms.MultipleChoiceField):
            data[name] = [str(item.pk if isinstance(item, models.Model) else item)
                          for item in value or []]
        elif value is not None:
            data[name] = str(value.pk if isinstance(value, models.Model) else value)
    return data


def _apply_given(form: forms.BaseForm, data: dict[str, Any],
                 given: Mapping[str, str]) -> dict[str, Any]:
    data = dict(data)
    for name, value in given.items():
        field = form.fields.get(name)
        if field is None or field.disabled:
            editable = ", ".join(sorted(n for n, f in form.fields.items() if not f.disabled))
            raise CommandError(f"--field {name[:40]}: not a field one can set here. "
                               f"Fields: {editable}.")
        if isinstance(field.widget, forms.PasswordInput):
            raise CommandError(f"--field {name}: a credential is never typed on a command "
                               "line; name the environment variable that holds it instead.")
        if isinstance(field, forms.BooleanField):
            word = value.strip().lower()
            if word not in _TRUE | _FALSE:
                raise CommandError(f"--field {name}: type true or false.")
            data.pop(name, None)
            if word in _TRUE:
                data[name] = "on"
        elif isinstance(field, forms.ModelMultipleChoiceField | forms.MultipleChoiceField):
            data[name] = [item.strip() for item in value.split(",") if item.strip()]
        else:
            data[name] = value
    return data


def _errors(form: forms.BaseForm) -> str:
    parts = []
    for name, errors in form.errors.items():
        label = "the form" if name == "__all__" else f"--field {name}"
        parts.append(f"{label}: {' '.join(str(error) for error in errors)}")
    return " ".join(parts)


def _query_dict(data: Mapping[str, Any]) -> QueryDict:
    posted = QueryDict(mutable=True)
    for name, value in data.items():
        if isinstance(value, list):
            posted.setlist(name, value)
        else:
            posted[name] = value
    return posted


def save_with_form(config: ConfigModel, user: Any, obj: models.Model | None,
                   given: Mapping[str, str], *, dry_run: bool) -> tuple[models.Model, list[str]]:
    """Add (obj None) or change `obj` through the admin's form; (row, changed fields).
    Nothing is written on a dry run or when the form refuses."""
    model_admin_ = model_admin(config.model)
    request = acting_request(user)
    change = obj is not None
    allowed = (model_admin_.has_change_permission(request, obj) if change
               else model_admin_.has_add_permission(request))
    if not allowed:
        raise CommandError(f"{user.get_username()} may not "
                           f"{'change' if change else 'add'} {config.model._meta.verbose_name}s"
                           f" in the admin. Nothing was changed.")
    form_class = model_admin_.get_form(request, obj, change=change)
    blank = form_class(instance=obj)
    data = _apply_given(blank, _data_of(blank), given)
    form = form_class(_query_dict(data), instance=obj)
    if not form.is_valid():
        raise CommandError(f"{_errors(form)} Nothing was changed.")
    changed = list(form.changed_data)
    if dry_run:
        return form.instance, changed
    with transaction.atomic():
        row = model_admin_.save_form(request, form, change=change)
        model_admin_.save_model(request, row, form, change)
        model_admin_.save_related(request, form, [], change)
    return row, changed


def delete_with_admin(config: ConfigModel, user: Any, obj: models.Model, *,
                      dry_run: bool) -> None:
    model_admin_ = model_admin(config.model)
    request = acting_request(user)
    if not model_admin_.has_delete_permission(request, obj):
        raise CommandError(f"{user.get_username()} may not delete "
                           f"{config.model._meta.verbose_name}s. Nothing was deleted.")
    # What the admin's delete confirmation refuses on: rows that protect this one.
    _, _, _, protected = model_admin_.get_deleted_objects([obj], request)
    if protected:
        raise CommandError(f"{obj} is still used by {', '.join(map(str, protected[:5]))}"
                           f"{' and more' if len(protected) > 5 else ''}. Nothing was deleted.")
    if not dry_run:
        with transaction.atomic():
            model_admin_.delete_model(request, obj)


def values_of(obj: models.Model, *, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """A row's concrete fields for show/list, relations by their name."""
    skip = set(exclude)
    values: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        if field.name in skip:
            continue
        value = getattr(obj, field.name)
        values[field.name] = "" if value is None else (
            str(value) if isinstance(value, models.Model) else value)
    return values
