"""Helpers for the hostile-input suite of the admin forms and operation pages
(tests/hostile/test_forms.py): which catalogue values a field must refuse, how to tell
that a response refused a value on THAT field, and one loop that drives a surface and
keeps the tally."""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import httpx
from django.contrib.messages import get_messages

from tests.hostile.probe import carried, is_server_error, stored_anywhere
from tests.hostile.tally import record
from tests.hostile.values import TEXT

# Values made only of letters, too long for one column and fine for a wider one.
_LENGTH_ONLY = {value for value in TEXT if value and len(set(value)) == 1 and len(value) > 100}
_LINE_BREAKS = {"line\nbreak", "tab\there", "cr\rhere"}


def deliverable(value: str) -> bool:
    """A browser can send it: a lone surrogate has no UTF-8 form, so no HTTP request can
    carry it (Django would read the bytes as U+FFFD). Those are left to the services'
    and commands' own tests (tests/registrar/test_command_input.py)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def over(values: Iterable[str]) -> list[str]:
    return [value for value in values if deliverable(value)]


def text_refused(*, max_length: int, multiline: bool = False,
                 values: Sequence[str] = TEXT) -> list[str]:
    """The TEXT values a field of `max_length` must refuse: every control, bidi and
    non-character value; line breaks and tabs unless it is multi-line; the long ones only
    when they are longer than the field."""
    chosen = []
    for value in values:
        if value in _LENGTH_ONLY and len(value) <= max_length:
            continue
        if multiline and value in _LINE_BREAKS:
            continue
        chosen.append(value)
    return over(chosen)


def page_form(response):
    """The form a rendered page shows: an operation page's `form` or an admin change
    form's `adminform.form`."""
    context = getattr(response, "context", None)
    if context is None:
        return None
    if "adminform" in context:
        return context["adminform"].form
    if "form" in context:
        return context["form"]
    return None


def _shown(response, messages: Iterable[str]) -> bool:
    """Every message is on the page (escaped as the template escapes it)."""
    page = html.unescape(response.content.decode("utf-8", "replace"))
    return all(html.unescape(str(message)) in page for message in messages)


def names_the_field(response, name: str, label: str | None = None, *,
                    form_of: Callable | None = None) -> bool:
    """The response refused on field `name`: the form rendered with an error on that
    field (in its errorlist on the page), or a message naming the field's label."""
    form = (form_of or page_form)(response)
    if form is not None and name in form.errors:
        return _shown(response, form.errors[name])
    wanted = (label or name).lower()
    request = getattr(response, "wsgi_request", None)
    if request is not None:
        texts = [str(message) for message in get_messages(request)]
        if any(wanted in text.lower() for text in texts):
            return True
    return False


@dataclass
class Drive:
    """One surface driven with many values; what went wrong, for the assertion."""

    surface: str
    counts: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def refuse(self, value: str, response, *, field_name: str, requests: Sequence[httpx.Request],
               label: str | None = None, form_of: Callable | None = None,
               baseline: Iterable[str] = ()) -> None:
        """`response` must have refused `value` on `field_name`."""
        self.counts["values"] += 1
        shown = repr(value)[:60]
        if is_server_error(response):
            self.counts["server_errors"] += 1
            self.problems.append(f"{shown}: server error {response.status_code}")
            return
        if carried(requests, value):
            self.counts["upstream_calls_with_refused_value"] += 1
            self.problems.append(f"{shown}: sent upstream")
        stored = sorted(set(stored_anywhere(value)) - set(baseline))
        if stored:
            self.counts["refused_values_stored"] += 1
            self.problems.append(f"{shown}: stored in {stored}")
        if names_the_field(response, field_name, label, form_of=form_of):
            self.counts["refusals"] += 1
        else:
            self.counts["refusals_not_naming_the_field"] += 1
            form = (form_of or page_form)(response)
            errors = dict(form.errors) if form is not None else None
            self.problems.append(f"{shown}: no error on {field_name} "
                                 f"(status {response.status_code}, errors {errors})")

    def finish(self) -> None:
        record(self.surface, values=self.counts["values"], refusals=self.counts["refusals"],
               server_errors=self.counts["server_errors"],
               upstream_calls_with_refused_value=self.counts[
                   "upstream_calls_with_refused_value"],
               refused_values_stored=self.counts["refused_values_stored"],
               refusals_not_naming_the_field=self.counts["refusals_not_naming_the_field"])
        assert not self.problems, f"{self.surface}:\n" + "\n".join(self.problems)
        assert self.counts["values"] > 0
