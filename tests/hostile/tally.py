"""Counts kept across the hostile-input suite and printed at the end of the run.

Every hostile test records what it tried through `record`: how many values, how many were
refused, and the four things that must never happen (a server error, an upstream call
carrying a refused value, a refused value stored, a refusal that does not name its
field). Each test asserts its own zeros; the summary is the figure for the whole suite.
Under xdist each worker sends its counts to the controller, which adds them up.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

COUNTS: Counter[str] = Counter()
SURFACES: set[str] = set()
FIGURES = ("values", "refusals", "server_errors", "upstream_calls_with_refused_value",
           "refused_values_stored", "refusals_not_naming_the_field")


def record(surface: str, **figures: int) -> None:
    """Add `figures` (names from FIGURES) for one surface (a form, a filter, a webhook,
    a command)."""
    unknown = set(figures) - set(FIGURES)
    assert not unknown, f"unknown figures {unknown}"
    SURFACES.add(surface)
    COUNTS.update(figures)


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["hostile_tally"] = json.dumps(
            {"counts": dict(COUNTS), "surfaces": sorted(SURFACES)})


def pytest_testnodedown(node, error) -> None:
    raw = getattr(node, "workeroutput", {}).get("hostile_tally")
    if raw:
        data = json.loads(raw)
        COUNTS.update(data["counts"])
        SURFACES.update(data["surfaces"])


def pytest_terminal_summary(terminalreporter) -> None:
    if not COUNTS:
        return
    terminalreporter.section("hostile input")
    terminalreporter.write_line(f"surfaces driven: {len(SURFACES)}")
    for name in FIGURES:
        terminalreporter.write_line(f"{name.replace('_', ' ')}: {COUNTS.get(name, 0)}")
