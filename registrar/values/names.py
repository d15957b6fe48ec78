"""Domain and host names: normalisation: one ASCII (punycode), lower-case form everywhere.

Registries and upstream APIs key registrations by their ASCII form, while staff read
and type the Unicode form. The `idna` library does IDNA 2008 with UTS #46 mapping,
which also folds case and full-width characters the way registries do.
"""

from __future__ import annotations

import idna
from confusable_homoglyphs import categories, confusables
from django.core.exceptions import ValidationError

MAX_NAME_LENGTH = 253


def _silently_dropped(candidate: str) -> list[str]:
    """Characters UTS #46 maps to nothing (zero-width space, soft hyphen, BOM...): they
    would vanish from the name sent, so `exam\u200bple.com` would be quoted as
    example.com. Refused instead, so that what staff typed is what is sent."""
    dropped = set()
    for char in candidate:
        if ord(char) <= 127:
            continue
        try:
            if idna.uts46_remap(char, std3_rules=False, transitional=False) == "":
                dropped.add(char)
        except (idna.IDNAError, UnicodeError):
            continue  # disallowed outright: idna.encode says so with the reason
    return sorted(dropped)


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
    if "." in ascii_name and len(to_unicode(tld_of(ascii_name))) < 2:
        # The root holds no TLD of one character, ASCII or not (RFC 1123 section 2.1,
        # ICANN's string requirements): "example.c" is a typing slip.
        raise ValidationError(
            "“%(name)s” ends in a one-character TLD; no such TLD exists.",
            code="invalid_tld", params={"name": name})
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


# --- Look-alikes ------------------------------------------------------------------------
#
# The rule, for names staff or a customer type in to be quoted, ordered, delegated to or
# used as glue (`intake_name`), following the ICANN IDN Guidelines that registries apply:
#
# - refused: a label that mixes scripts (Latin with Cyrillic, Greek with Latin, ...),
#   the classic homograph ("p\u0430ypal": "paypal" with a Cyrillic a). Digits and hyphens
#   belong to every script; Japanese, Chinese and Korean writing may combine their own.
# - warned about: a label in one script other than Latin whose every letter looks like a
#   Latin one ("\u0440\u0430\u0443\u0440\u0430\u04cf", all Cyrillic). Registries sell
#   such names and they can be genuine words, so the order goes on, with the warning on
#   the quote.
#
# Names read from an upstream (sync, webhooks) are mirrored as the registry holds them:
# the registry accepted them, and the back-office must show what exists.

# Scripts one label may combine: Japanese, Chinese and Korean writing mix these.
_CJK_SCRIPTS = frozenset({"CJK", "HIRAGANA", "KATAKANA", "KATAKANA-HIRAGANA", "HANGUL",
                          "BOPOMOFO", "IDEOGRAPHIC"})


def scripts_of(label: str) -> set[str]:
    """The scripts of the letters in a (Unicode) label; the CJK family counts as one."""
    scripts = set()
    for char in label:
        if not char.isalpha():
            continue
        script = categories.alias(char)
        if script not in ("COMMON", "INHERITED"):
            scripts.add("CJK" if script.upper() in _CJK_SCRIPTS or script == "HAN"
                        else script)
    return scripts


def mixed_script_problem(ascii_name: str) -> str | None:
    """Why a label of `ascii_name` can pass for another name (it mixes scripts), or None."""
    for label in ascii_name.split("."):
        unicode_label = to_unicode(label)
        scripts = scripts_of(unicode_label)
        if len(scripts) > 1:
            return (f"the label “{unicode_label}” mixes scripts "
                    f"({', '.join(sorted(s.title() for s in scripts))}), so it can pass for "
                    "another name.")
    return None


def lookalike_warning(ascii_name: str) -> str | None:
    """A warning when a label, all in one script other than Latin, is made only of letters
    that look like Latin ones (Cyrillic "\u0440\u0430\u0443\u0440\u0430\u04cf" reads as "paypal"),
    or None."""
    for label in ascii_name.split("."):
        unicode_label = to_unicode(label)
        if unicode_label == label or scripts_of(unicode_label) in (set(), {"LATIN"}):
            continue
        letters = [char for char in unicode_label if char.isalpha()]
        found = confusables.is_confusable(unicode_label, greedy=True,
                                          preferred_aliases=["LATIN"]) or []
        alike = {entry["character"] for entry in found}
        if letters and all(char in alike for char in letters):
            return (f"“{to_unicode(ascii_name)}” looks like a Latin name: every letter of "
                    f"“{unicode_label}” has a Latin look-alike. Make sure this is the name "
                    "the customer means.")
    return None


def intake_name(name: str, *, min_labels: int = 2) -> str:
    """`to_ascii` for a name handed in to be used (quoted, ordered, delegated to): a
    mixed-script label is refused as well. ValidationError with the reason."""
    ascii_name = to_ascii(name, min_labels=min_labels)
    problem = mixed_script_problem(ascii_name)
    if problem:
        raise ValidationError("“%(name)s”: %(problem)s", code="mixed_script",
                              params={"name": to_unicode(ascii_name), "problem": problem})
    return ascii_name
