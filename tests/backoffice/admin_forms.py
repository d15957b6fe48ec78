"""What a browser would POST back for an admin change form, as it was rendered."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper


def form_data(response, **changes: Any) -> dict[str, Any]:
    """The fields of the admin form in `response` with the values it showed, then
    `changes` on top (a value of None leaves that field out, as an unticked box is)."""
    form = response.context["adminform"].form
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        widget = field.widget
        while isinstance(widget, RelatedFieldWidgetWrapper):
            widget = widget.widget
        value = form[name].value()
        if isinstance(widget, forms.MultiWidget):
            parts = value if isinstance(value, list | tuple) else widget.decompress(value)
            for index, (part_widget, part) in enumerate(zip(widget.widgets, parts,
                                                           strict=False)):
                data[f"{name}_{index}"] = part_widget.format_value(part) or ""
        elif isinstance(widget, forms.CheckboxInput):
            if value:
                data[name] = "on"
        elif isinstance(widget, forms.SelectMultiple):
            data[name] = [str(item) for item in value or []]
        elif isinstance(widget, forms.Select):
            data[name] = "" if value is None else str(value)
        else:
            formatted = widget.format_value(value)
            data[name] = "" if formatted is None else formatted
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data
