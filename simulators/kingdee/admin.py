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

from typing import Any

from simulators import admin as shared
from simulators.kingdee import generate

PREFIX = shared.PREFIX

SEED_ARGS = ("n_suppliers", "n_materials", "n_pos", "lines_per_po", "n_boms", "n_mos", "n_stock", "seed", "start")


def handle(state: Any, method: str, path: str, raw: bytes) -> tuple[int, Any]:
    routes = {**shared.fault_routes(), ("POST", "touch"): _touch, ("POST", "seed"): _seed, ("GET", "stats"): _stats}
    return shared.dispatch(state, method, path, raw, routes)


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
