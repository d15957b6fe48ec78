"""What a hostile value left behind: the requests that carried it, the rows that hold it."""

from __future__ import annotations

import json
from collections.abc import Iterable
from urllib.parse import unquote

import httpx
from django.apps import apps
from django.db import models, transaction

PROJECT_APPS = ("registrar", "contacts", "billing", "backoffice")


def _needles(value: str) -> list[str]:
    """`value` as it would appear in a body or a row: raw, and JSON-escaped."""
    escaped = json.dumps(value)[1:-1]
    return list(dict.fromkeys([value, escaped]))


def carried(requests: Iterable[httpx.Request], value: str) -> int:
    """How many of `requests` carry `value` in their URL or body."""
    if not value.strip():
        return 0  # an empty value is in every body; the tests look for the field instead
    found = 0
    for request in requests:
        body = request.content.decode("utf-8", "replace")
        url = unquote(str(request.url))
        if any(needle in body or needle in url for needle in _needles(value)):
            found += 1
    return found


def _text_columns(model) -> list[str]:
    return [field.name for field in model._meta.concrete_fields
            if isinstance(field, (models.CharField, models.TextField, models.JSONField))]


def stored_anywhere(value: str, *, exclude: Iterable[str] = ("backoffice.staffaction",)
                    ) -> list[str]:
    """"app.model.field" for every project row whose text holds `value`. The audit trail
    is left out by default: it records what was tried, masked, which is its job.

    One read per model of its text columns, searched here: the test database is small,
    and one query a model is far cheaper than a LIKE a column (the suite asks this for
    thousands of values)."""
    if not value.strip():
        return []
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return []  # no database driver can store it: a try would have been a 500
    needles = _needles(value)
    skipped = set(exclude)
    hits = []
    for model in apps.get_models():
        label = f"{model._meta.app_label}.{model._meta.model_name}"
        if model._meta.app_label not in PROJECT_APPS or label in skipped:
            continue
        names = _text_columns(model)
        if not names:
            continue
        found = set()
        with transaction.atomic():
            for row in model._base_manager.values_list(*names):
                for name, cell in zip(names, row, strict=True):
                    if cell is None or name in found:
                        continue
                    text = cell if isinstance(cell, str) else json.dumps(cell)
                    if any(needle in text for needle in needles) or (
                            not isinstance(cell, str) and value in json.dumps(
                                cell, ensure_ascii=False)):
                        found.add(name)
        hits.extend(f"{label}.{name}" for name in names if name in found)
    return hits


def is_server_error(response) -> bool:
    return getattr(response, "status_code", 200) >= 500
