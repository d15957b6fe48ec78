"""The fault matrix: runs the fault-injection suite (tests/faults) and prints, for every
operation and every fault, what staff were told and what the upstream saw.

    .venv/bin/python bench/fault_matrix.py [pytest options, e.g. -n 4]

Each cell reads `outcome[/applied] xN`: the outcome staff saw (succeeded, pending,
unknown, failed), for an unknown outcome what the automatic re-read showed (applied,
not applied, or "?" when the operation has no single field to compare), and N the
number of times the mutation reached the upstream. The suite itself asserts that each
cell is true; this only tabulates it, with the totals.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPLIED = {True: "/applied", False: "/not applied", None: "/?"}


def cell(row: dict) -> str:
    text = row["outcome"]
    if row["outcome"] == "unknown":
        text += APPLIED.get(row.get("applied"), "")
    if "settled" in row and row["settled"] is not None:
        text += "/settled" if row["settled"] else "/unsettled"
    return f"{text} x{row.get('delivered', '?')}"


def main(argv: list[str]) -> int:
    with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as out:
        path = out.name
    env = {**os.environ, "FAULT_MATRIX_FILE": path}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests/faults", *argv], cwd=ROOT, env=env, check=False)
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line]
    os.unlink(path)
    faults = list(dict.fromkeys(row["fault"] for row in rows))
    operations = sorted({row["operation"] for row in rows})
    table = {(row["operation"], row["fault"]): cell(row) for row in rows}
    width = max(len(name) for name in operations) + 2
    print()
    for fault in faults:
        print(f"== {fault}")
        for operation in operations:
            if (operation, fault) in table:
                print(f"  {operation:<{width}}{table[(operation, fault)]}")
    counts = collections.Counter(row["outcome"] for row in rows)
    print(f"\n{len(rows)} cells: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    print(f"mutations delivered more than once: "
          f"{sum(1 for row in rows if (row.get('delivered') or 0) > 1)} (each a repeat the "
          "upstream deduplicates: a keyed order, a retried DELETE)")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
