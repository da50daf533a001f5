"""EXTENSION: the simulator's admin endpoints (not part of Kingdee; simulator only, no auth).

| call | body | answer |
| --- | --- | --- |
| ``GET /__sim/faults`` | | ``{"faults": [armed faults]}`` |
| ``POST /__sim/faults`` | a fault (``{"kind": "http500", "count": 2, "service": "ExecuteBillQuery"}``), ``{"faults": [...]}``, ``{"clear": true}`` and/or ``{"rng_seed": 7}`` | ``{"faults": [...]}`` |
| ``POST /__sim/touch`` | ``{"form": "PUR_PurchaseOrder", "fraction": 0.01, "by": "lines" or "bills", "seed": 0, "now": null}`` | ``{"form", "lines", "bills", "modified"}`` |
| ``POST /__sim/seed`` | ``generate.seed`` arguments: ``{"n_pos": 10000, "lines_per_po": 10, "seed": 7, ...}`` | rows added per form |
| ``GET /__sim/stats`` | | rows and entry lines per form, data version, logins, calls |

Fault fields are documented in ``faults.py`` (``kind``, ``count``, ``probability``, ``service``,
``after``, ``delay``, ``retry_after``, ``rows``). Bad input answers HTTP 400 with a message.
"""
from __future__ import annotations

import json
from typing import Any

from simulators.kingdee import generate
from simulators.kingdee.faults import Fault

PREFIX = "/__sim/"
SEED_ARGS = ("n_suppliers", "n_materials", "n_pos", "lines_per_po", "n_boms", "n_mos", "n_stock", "seed", "start")


def handle(state: Any, method: str, path: str, raw: bytes) -> tuple[int, Any]:
    name = path[len(PREFIX):].strip("/")
    route = {("GET", "faults"): _get_faults, ("POST", "faults"): _post_faults, ("POST", "touch"): _touch,
             ("POST", "seed"): _seed, ("GET", "stats"): _stats}.get((method, name))
    if route is None:
        return 404, {"error": f"no admin endpoint {method} {path}"}
    try:
        body = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return 400, {"error": f"body is not JSON: {exc}"}
    if not isinstance(body, dict):
        return 400, {"error": "body must be a JSON object"}
    try:
        return 200, route(state, body)
    except (ValueError, TypeError) as exc:
        return 400, {"error": str(exc)}


def _get_faults(state: Any, body: dict[str, Any]) -> dict[str, Any]:
    return {"faults": state.faults.active()}


def _post_faults(state: Any, body: dict[str, Any]) -> dict[str, Any]:
    body = dict(body)
    if body.pop("clear", False):
        state.faults.clear()
    if "rng_seed" in body:
        state.faults.reseed(int(body.pop("rng_seed")))
    specs = body.pop("faults", None)
    if specs is None and body:
        specs = [body]
    elif body:
        raise ValueError(f"unexpected field(s) next to faults: {', '.join(sorted(body))}")
    if specs is not None:
        if not isinstance(specs, list):
            raise ValueError("faults must be a list")
        for spec in specs:  # validate all before arming any
            Fault.from_json(spec)
        for spec in specs:
            state.arm_fault(spec)
    return {"faults": state.faults.active()}


def _touch(state: Any, body: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(body) - {"form", "fraction", "seed", "now", "by"})
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}")
    return generate.touch(state, str(body.get("form") or "PUR_PurchaseOrder"), float(body.get("fraction", 0.01)),
                          seed=int(body.get("seed", 0)), now=body.get("now"), by=str(body.get("by", "lines")))


def _seed(state: Any, body: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(body) - set(SEED_ARGS))
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}; known: {', '.join(SEED_ARGS)}")
    return {"added": generate.seed(state, **body)}


def _stats(state: Any, body: dict[str, Any]) -> dict[str, Any]:
    with state.lock:
        forms = {}
        for key, table in state.tables.items():
            spec = state.spec(key)
            lines = sum(len(row.get(spec.entry_key) or []) for row in table.values()) if spec.entry_key else None
            forms[spec.form_id] = {"rows": len(table), "lines": lines}
        return {"forms": forms, "version": state.version, "logins": state.login_count, "calls": len(state.calls),
                "sessions": len(state.sessions)}
