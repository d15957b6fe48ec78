"""One timeline per registration or customer: what happened to it, newest first, from
every app that knows something of it.

Each app contributes sources (`register`) from its AppConfig.ready, the way billing
registers its order book with registrar.charges: the registrar app does not import
billing, yet a registration's timeline shows its orders. A source returns its newest
entries first, at most `limit` of them, for what the user may see; `build` merges them
and cuts one page. The kinds are fixed here so that the page can filter by them.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

from django.db import models
from django.urls import reverse

from backoffice.models import Note, StaffAction

KINDS: dict[str, str] = {
    "audit": "Staff actions",
    "process": "Processes",
    "order": "Orders",
    "sync": "Sync changes",
    "webhook": "Webhook events",
    "approval": "Approvals",
    "note": "Notes",
    "notice": "Customer notices",
}


@dataclass(frozen=True)
class Change:
    field: str
    old: str
    new: str


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str
    title: str
    url: str = ""
    actor: str = ""
    outcome: str = ""
    detail: str = ""
    changes: tuple[Change, ...] = ()
    lines: tuple[str, ...] = ()  # a process's log, say

    @property
    def kind_label(self) -> str:
        return KINDS.get(self.kind, self.kind)


#: (subject, user, kinds wanted, limit) -> entries, newest first.
Source = Callable[[models.Model, Any, frozenset[str], int], Iterable[Entry]]
_SOURCES: dict[str, list[Source]] = {}


def register(subject_label: str, source: Source) -> None:
    """Add `source` to the timelines of `subject_label` ("registrar.registration")."""
    sources = _SOURCES.setdefault(subject_label, [])
    if source not in sources:
        sources.append(source)


@dataclass
class TimelinePage:
    entries: list[Entry]
    number: int
    has_next: bool
    kinds: frozenset[str]
    available: dict[str, str] = field(default_factory=dict)

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def build(subject: models.Model, user, *, kinds: Iterable[str] | None = None,
          page: int = 1, per_page: int = 25) -> TimelinePage:
    """One page of `subject`'s timeline for `user`, newest first, of the `kinds` given
    (all when None; unknown kinds are ignored)."""
    wanted = frozenset(kinds or KINDS) & frozenset(KINDS) or frozenset(KINDS)
    page = max(1, min(page, 10_000))
    limit = page * per_page + 1
    streams = [source(subject, user, wanted, limit)
               for source in _SOURCES.get(subject._meta.label_lower, [])]
    merged = heapq.merge(*streams, key=lambda entry: entry.at, reverse=True)
    window = list(islice(merged, (page - 1) * per_page, page * per_page + 1))
    return TimelinePage(entries=window[:per_page], number=page,
                        has_next=len(window) > per_page, kinds=wanted, available=KINDS)


# --- the sources kept here: the audit trail (staff actions and sync changes), notes ----


def _as_text(value: Any) -> str:
    if value in (None, "", [], {}):
        return "—"
    if isinstance(value, list | tuple):
        return ", ".join(_as_text(item) for item in value)
    return str(value)


def changes_of(parameters: Any) -> tuple[Change, ...]:
    """The old → new pairs an audit row keeps under "changes" (dict or pair forms)."""
    raw = parameters.get("changes") if isinstance(parameters, dict) else None
    if not isinstance(raw, dict):
        return ()
    result = []
    for name, value in raw.items():
        if isinstance(value, dict) and ("old" in value or "new" in value):
            old, new = value.get("old"), value.get("new")
        elif isinstance(value, list | tuple) and len(value) == 2:
            old, new = value
        else:
            old, new = None, value
        result.append(Change(str(name), _as_text(old), _as_text(new)))
    return tuple(result)


def _is_sync(action: str) -> bool:
    return ".sync_" in action


def audit_entries(subject: models.Model, user, kinds: frozenset[str], limit: int
                  ) -> Iterable[Entry]:
    """The audit rows about `subject`: staff actions, and the sync's diffs apart. Anyone
    who may see the subject sees these rows on its timeline; the full audit list stays
    with Admin."""
    if not kinds & {"audit", "sync"}:
        return []
    rows = StaffAction.objects.filter(target_type=subject._meta.label_lower,
                                      target_id=str(subject.pk))
    if "audit" not in kinds:
        rows = rows.filter(action__contains=".sync_")
    elif "sync" not in kinds:
        rows = rows.exclude(action__contains=".sync_")
    may_open = user.has_perm("backoffice.view_staffaction")
    entries = []
    for row in rows.order_by("-created_at", "-id")[:limit]:
        entries.append(Entry(
            at=row.created_at, kind="sync" if _is_sync(row.action) else "audit",
            title=row.message or row.action, actor=row.actor_label, outcome=row.outcome,
            url=reverse("admin:backoffice_staffaction_change", args=[row.pk])
            if may_open else "",
            changes=changes_of(row.parameters)))
    return entries


def note_entries(subject: models.Model, user, kinds: frozenset[str], limit: int
                 ) -> Iterable[Entry]:
    if "note" not in kinds or not user.has_perm("backoffice.view_note"):
        return []
    notes = Note.objects.filter(target_type=subject._meta.label_lower,
                                target_id=str(subject.pk)).select_related("author")
    return [Entry(at=note.created_at, kind="note", title="Note", actor=str(note.author),
                  detail=note.text)
            for note in notes.order_by("-created_at", "-id")[:limit]]


def register_common(subject_labels: Sequence[str]) -> None:
    for label in subject_labels:
        register(label, audit_entries)
        register(label, note_entries)
