"""Free text: names, addresses, reasons, notes, labels.

The rule, one for every field that takes text from a person or an upstream:

- at most the column's length, counted in characters as both SQLite and PostgreSQL count
  them (the form's or the column's `max_length`);
- no control characters: NUL (which PostgreSQL cannot store at all) and the other C0 and
  C1 controls; a multi-line field (a note, a reason) may hold tabs and line breaks;
- no lone surrogates (they cannot be encoded, so neither stored nor shown) and no
  non-characters (U+FFFE, U+FFFF);
- no bidi embedding, override or isolate controls (U+202A to U+202E, U+2066 to U+2069):
  they reorder what a reader sees ("Trojan Source"), so a name could display as another.
  They are refused, not stripped: stripping would store something other than what was
  typed, without saying so. The plain direction marks (U+200E, U+200F, U+061C) stay
  allowed, since right-to-left text needs them and they reorder nothing.
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_MULTILINE_ALLOWED = frozenset("\t\n\r")


def text_problem(value: str, *, multiline: bool = False) -> str | None:
    """What in `value` breaks the text rule, said for a person, or None."""
    for char in value:
        code = ord(char)
        if char in BIDI_CONTROLS:
            return (f"It holds a right-to-left override character (U+{code:04X}), which "
                    "changes how the text reads; type it again without it.")
        category = unicodedata.category(char)
        if category == "Cc" and not (multiline and char in _MULTILINE_ALLOWED):
            return (f"Control characters (U+{code:04X}) are not allowed"
                    + ("" if multiline else ", nor line breaks") + ".")
        if category == "Cs" or code in (0xFFFE, 0xFFFF):
            return f"It holds a character that is not text (U+{code:04X})."
    return None


def validate_text(value: object, *, max_length: int | None = None,
                  multiline: bool = False) -> str:
    """`value` when it obeys the rule, else ValidationError with the reason."""
    text = "" if value is None else str(value)
    problem = text_problem(text, multiline=multiline)
    if problem:
        raise ValidationError(problem, code="text_characters")
    if max_length is not None and len(text) > max_length:
        raise ValidationError(f"At most {max_length} characters (this has {len(text)}).",
                              code="max_length")
    return text


@deconstructible
class TextRuleValidator:
    """The rule as a Django validator, for form and model fields."""

    def __init__(self, multiline: bool = False) -> None:
        self.multiline = multiline

    def __call__(self, value: object) -> None:
        if isinstance(value, str):
            validate_text(value, multiline=self.multiline)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TextRuleValidator) and other.multiline == self.multiline

    def __hash__(self) -> int:
        return hash(self.multiline)


single_line = TextRuleValidator()
multi_line = TextRuleValidator(multiline=True)
