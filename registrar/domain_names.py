"""Domain-name normalisation: one ASCII (punycode), lower-case form everywhere.

Registries and upstream APIs key registrations by their ASCII form, while staff read
and type the Unicode form. The `idna` library does IDNA 2008 with UTS #46 mapping,
which also folds case and full-width characters the way registries do.
"""

from __future__ import annotations

import idna
from django.core.exceptions import ValidationError

MAX_NAME_LENGTH = 253


def _silently_dropped(candidate: str) -> list[str]:
    """Characters UTS #46 maps to nothing (zero-width space, soft hyphen, BOM...): they
    would vanish from the name sent, so `exam\u200bple.com` would be quoted as
    example.com. Refused instead, so that what staff typed is what is sent."""
    return sorted({char for char in candidate if ord(char) > 127
                   and idna.uts46_remap(char, std3_rules=False, transitional=False) == ""})


def to_ascii(name: str, *, min_labels: int = 2) -> str:
    """Return the lower-case ASCII form of `name`, or raise ValidationError with a clear reason."""
    candidate = (name or "").strip().rstrip(".")
    if not candidate:
        raise ValidationError("Enter a domain name.", code="required")
    dropped = _silently_dropped(candidate)
    if dropped:
        raise ValidationError(
            "“%(name)s” holds an invisible character (%(chars)s); type the name again "
            "without it.", code="invisible_character",
            params={"name": name.encode("unicode_escape").decode("ascii"),
                    "chars": ", ".join(f"U+{ord(char):04X}" for char in dropped)})
    try:
        ascii_name = idna.encode(candidate, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise ValidationError(
            "“%(name)s” is not a valid domain name: %(reason)s",
            code="invalid_domain",
            params={"name": name, "reason": exc},
        ) from exc
    ascii_name = ascii_name.lower()
    if len(ascii_name) > MAX_NAME_LENGTH:
        raise ValidationError("A domain name is at most 253 characters long.", code="too_long")
    if ascii_name.count(".") + 1 < min_labels:
        raise ValidationError(
            "“%(name)s” needs a name and a TLD, e.g. example.com.",
            code="invalid_domain",
            params={"name": name},
        )
    if tld_of(ascii_name).isdigit():
        # No TLD is all digits (RFC 3696 section 2): "192.0.2.1" is an IP address, not a
        # name, and must never be quoted, delegated to or mirrored as one.
        raise ValidationError(
            "“%(name)s” is an IP address or ends in a numeric label, not a domain name.",
            code="ip_literal", params={"name": name})
    return ascii_name


def to_unicode(ascii_name: str) -> str:
    """The form staff read. Falls back to the stored form if it cannot be decoded."""
    try:
        return idna.decode(ascii_name)
    except (idna.IDNAError, UnicodeError):
        return ascii_name


def tld_of(ascii_name: str) -> str:
    """The last label of a name: the TLD a registration is looked up under."""
    return ascii_name.rsplit(".", 1)[-1]


def normalise_tld(name: str) -> str:
    """A TLD as stored: ASCII, lower case, no leading dot ('.Рф' -> 'xn--p1ai'). One
    label of at least two characters, not all digits."""
    tld = to_ascii((name or "").strip().lstrip("."), min_labels=1)
    if "." in tld or len(tld) < 2:
        raise ValidationError("“%(name)s” is not a TLD: one label of two characters or more, "
                              "e.g. de or .com.", code="invalid_tld", params={"name": name})
    return tld
