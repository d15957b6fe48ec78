"""The fault matrix: every cell's result, written where FAULT_MATRIX_FILE says (one
JSON line a cell), for `bench/fault_matrix.py` to tabulate."""

from __future__ import annotations

import json
import os

import pytest


@pytest.fixture
def matrix():
    def record(operation: str, fault: str, **result) -> None:
        path = os.environ.get("FAULT_MATRIX_FILE")
        if path:
            with open(path, "a", encoding="utf-8") as out:
                out.write(json.dumps({"operation": operation, "fault": fault, **result},
                                     default=str) + "\n")

    return record
