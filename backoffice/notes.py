"""Notes on a registration or a customer: permission-checked, audited, on the timeline."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction

from backoffice import audit
from backoffice.models import Note, StaffAction
from registrar.values.text import validate_text

ADD_NOTE_PERMISSION = "backoffice.add_note"
#: A note is a few paragraphs; a document belongs in the ticket.
MAX_NOTE_LENGTH = 2000


class NoteRefused(ValueError):
    """The note is not stored: `field_errors` names the problem."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.field_errors = {"text": [message]}


def add_note(*, target: models.Model, text: str, actor) -> Note:
    """Keep `text` on `target`'s timeline, with one audit row. Raises PermissionDenied,
    or NoteRefused when the text is empty or breaks the free-text rule."""
    if not actor.has_perm(ADD_NOTE_PERMISSION):
        raise PermissionDenied("You do not have permission to add notes.")
    body = (text or "").strip()
    if not body:
        raise NoteRefused("Write the note first.")
    try:
        validate_text(body, max_length=MAX_NOTE_LENGTH, multiline=True)
    except ValidationError as refusal:
        raise NoteRefused(refusal.messages[0]) from None
    with transaction.atomic():
        note = Note.objects.create(target_type=target._meta.label_lower,
                                   target_id=str(target.pk), text=body, author=actor)
        audit.record(actor=actor, action="note.added", target=target,
                     parameters={"note_id": note.pk, "text": body[:200]},
                     outcome=StaffAction.Outcome.SUCCEEDED,
                     message=f"Note added on {target}.")
    return note


def notes_on(target: models.Model) -> models.QuerySet[Note]:
    return Note.objects.filter(target_type=target._meta.label_lower,
                               target_id=str(target.pk)).select_related("author")
