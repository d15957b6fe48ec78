"""The sandbox's own controls under `/_sandbox/` (docs/domain-api.md): reset, seed,
inspect the state, queue faults and async rules. Same bearer token as the API; no
X-Auth-Account needed.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

from registrar.sandbox.state import apply_seed, empty_state, normalise_async_rule, normalise_fault
from registrar.sandbox.wire import Json, Request, Response, invalid, ok


def reset(req: Request, data: Json) -> Response:
    """Empty the state; `{"seed": {...}}` loads one straight after."""
    seed = req.body.get("seed") or {}
    if not isinstance(seed, Mapping):
        raise invalid("seed must be an object.")
    data.clear()
    data.update(empty_state())
    return ok({"status": "reset", "seeded": apply_seed(data, seed)})


def seed(req: Request, data: Json) -> Response:
    return ok({"seeded": apply_seed(data, req.body)})


def state(req: Request, data: Json) -> Response:
    return ok(copy.deepcopy(data))


def add_fault(req: Request, data: Json) -> Response:
    fault = normalise_fault(req.body)
    data["faults"].append(fault)
    return ok({"fault": copy.deepcopy(fault)}, 201)


def add_async_rule(req: Request, data: Json) -> Response:
    rule = normalise_async_rule(req.body)
    data["async_rules"].append(rule)
    return ok({"rule": copy.deepcopy(rule)}, 201)
