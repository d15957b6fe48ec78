"""What every project management command shares: arguments are refused, before any
audit row is written or any upstream is called, when they hold text no one can store or
read back (a lone surrogate, which is what Python makes of an undecodable byte in argv;
a NUL or another control character)."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

from django.core.management.base import BaseCommand, CommandError

# C0 controls and DEL; a tab is ordinary in a note.
_CONTROLS = frozenset(chr(code) for code in (*range(0x00, 0x20), 0x7F)) - {"\t"}


def unreadable_reason(value: str) -> str | None:
    """Why `value` is refused as an argument, or None when it is fine."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "holds bytes that are not UTF-8 text"
    if any(char in _CONTROLS for char in value):
        return "holds a control character (such as NUL)"
    return None


def _option_names(parser: argparse.ArgumentParser) -> dict[str, str]:
    """dest -> how the option is typed (`--as` for dest `actor`), subcommands included."""
    names: dict[str, str] = {}
    pending = [parser]
    while pending:
        current = pending.pop()
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                pending.extend(action.choices.values())
            elif action.dest not in names:
                longest = max(action.option_strings, key=len, default="")
                names[action.dest] = longest or action.metavar or action.dest
    return names


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def check_arguments(command: BaseCommand, args: tuple[Any, ...],
                    options: dict[str, Any]) -> None:
    """Raise CommandError naming the first argument holding unreadable text."""
    names: dict[str, str] | None = None
    for dest, value in options.items():
        for text in _strings(value):
            reason = unreadable_reason(text)
            if reason is None:
                continue
            if names is None:
                names = _option_names(command.create_parser("manage.py", "command"))
            raise CommandError(f"{names.get(dest, dest)} {reason}; type it again as plain "
                               f"text.")
    for text in _strings(list(args)):
        reason = unreadable_reason(text)
        if reason is not None:
            raise CommandError(f"An argument {reason}; type it again as plain text.")


class ProjectCommand(BaseCommand):
    """Base of the project's commands: checks every string argument first."""

    def execute(self, *args: Any, **options: Any) -> Any:
        check_arguments(self, args, options)
        return super().execute(*args, **options)
