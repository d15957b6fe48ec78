"""`--as USERNAME`: the staff user a management command acts as.

Every command that acts for a person resolves it here, so each refuses the same way:
the user must exist, be active and be staff, as the admin requires of anyone who signs
in. A command run from a shell is otherwise free to name anyone, including an account
that was switched off or never had back-office access.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError


def resolve_acting_user(username: str, *, option: str = "--as",
                        permission: str | None = None, needed_for: str = "") -> Any:
    """The active staff user `username`; CommandError naming them otherwise. With
    `permission`, they must also hold it (`needed_for` says what it is needed for)."""
    username = (username or "").strip()
    if not username:
        raise CommandError(f"{option}: name the staff user acting. Nothing was done.")
    user_model = get_user_model()
    try:
        user = user_model._default_manager.get_by_natural_key(username)
    except user_model.DoesNotExist:
        raise CommandError(f"{option}: no user “{username}”. Nothing was done.") from None
    if not user.is_active:
        raise CommandError(f"{option}: the user “{username}” is inactive and cannot act. "
                           "Nothing was done.")
    if not user.is_staff:
        raise CommandError(f"{option}: the user “{username}” is not staff and cannot act in "
                           "the back-office. Nothing was done.")
    if permission and not user.has_perm(permission):
        what = f" {needed_for}" if needed_for else ""
        raise CommandError(f"{username} is not allowed to{what} (needs the permission "
                           f"{permission}). Nothing was done.")
    return user
