"""The free-text rule (registrar/values/text.py) on every form field that takes text.

Forms get it by inheriting `TextRuleForm`; the admin's model forms get it through
`StrictInputMixin.formfield_for_dbfield`. A field that holds a password or JSON is left
alone: a password is never shown, and JSON is checked as JSON.
"""

from __future__ import annotations

from django import forms

from registrar.values.text import multi_line, single_line


def with_text_rule(field: forms.Field | None) -> forms.Field | None:
    """`field` with the text rule among its validators, when it takes text."""
    if (not isinstance(field, forms.CharField) or isinstance(field, forms.JSONField)
            or isinstance(field.widget, forms.PasswordInput)):
        return field
    rule = multi_line if isinstance(field.widget, forms.Textarea) else single_line
    if rule not in field.validators:
        field.validators.append(rule)
    return field


class TextRuleForm:
    """Mixin for a form: each of its text fields obeys the text rule."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            with_text_rule(field)
