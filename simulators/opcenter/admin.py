"""EXTENSION: the simulator's admin endpoints (not part of Opcenter; simulator only, no auth).

| call | body | answer |
| --- | --- | --- |
| ``GET /__sim/faults`` | | ``{"faults": [armed faults]}`` |
| ``POST /__sim/faults`` | a fault (``{"kind": "http429", "count": 2, "service": "Order", "retry_after": 1}``), ``{"faults": [...]}``, ``{"clear": true}`` and/or ``{"rng_seed": 7}`` | ``{"faults": [...]}`` |
| ``POST /__sim/expire-tokens`` | | ``{"expired": n}``: every token revoked (the next call gets 401) |
| ``POST /__sim/consume`` | ``{"order": "MO-2026-0002", "lot": "BCGDD000101-1", "quantity": 100}`` (quantity optional: all that is left) | the new ``MaterialConsumption`` entity; 400 with the reason otherwise |
| ``POST /__sim/produce`` | ``{"order": "MO-2026-0002", "lot": "FG-3.01.0007-0002", "quantity": 500}`` (``uom`` optional: the order's) | the new ``MaterialProduction`` entity (the finished lot is created or filled up); 400 with the reason otherwise |
| ``POST /__sim/order-status`` | ``{"order": "MO-2026-0002", "status": "Active"}`` | ``{"order", "status"}`` |
| ``POST /__sim/order-plan`` | ``{"order": "MO-2026-0003", "quantity": 400, "start": "2026-12-04T00:00:00+00:00"}`` (quantity, start, end optional) | the changed ``Order`` entity (a planner's change in the MES) |
| ``GET /__sim/stats`` | | entities per set, tokens issued, calls |

Fault fields are documented in ``faults.py``. Bad input answers HTTP 400 with a message.
"""
from __future__ import annotations

from typing import Any

from simulators import admin as shared
from simulators.opcenter.state import CommandError

PREFIX = shared.PREFIX



def handle(state: Any, method: str, path: str, raw: bytes) -> tuple[int, Any]:
    routes = {**shared.fault_routes(), ("POST", "expire-tokens"): _expire_tokens, ("POST", "consume"): _consume,
              ("POST", "produce"): _produce,
              ("POST", "order-status"): _order_status,
              ("POST", "order-plan"): _order_plan, ("GET", "stats"): _stats}
    return shared.dispatch(state, method, path, raw, routes, refusals=(CommandError, ValueError, TypeError, KeyError),
                           describe=_refusal)


def _refusal(exc: Exception) -> dict[str, Any]:
    return {"error": exc.message if isinstance(exc, CommandError) else str(exc)}


def _expire_tokens(state: Any, body: dict[str, Any]) -> dict[str, Any]:
    with state.lock:
        count = len(state.tokens)
    state.expire_tokens()
    return {"expired": count}


def _consume(state: Any, body: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(body) - {"order", "lot", "quantity"})
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}")
    if not body.get("order") or not body.get("lot"):
        raise ValueError("order and lot are required")
    return state.consume(str(body["order"]), str(body["lot"]), body.get("quantity"))


def _produce(state: Any, body: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(body) - {"order", "lot", "quantity", "uom"})
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}")
    if not body.get("order") or not body.get("lot") or body.get("quantity") in (None, ""):
        raise ValueError("order, lot and quantity are required")
    return state.produce(str(body["order"]), str(body["lot"]), body["quantity"],
                         str(body["uom"]) if body.get("uom") else None)


def _order_status(state: Any, body: dict[str, Any]) -> dict[str, Any]:
    if not body.get("order") or not body.get("status"):
        raise ValueError("order and status are required")
    try:
        state.set_order_status(str(body["order"]), str(body["status"]))
    except KeyError:
        raise ValueError(f"order {body['order']!r} does not exist") from None
    return {"order": body["order"], "status": body["status"]}


def _order_plan(state: Any, body: dict[str, Any]) -> dict[str, Any]:
    import datetime as dt

    unknown = sorted(set(body) - {"order", "quantity", "start", "end"})
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}")
    if not body.get("order"):
        raise ValueError("order is required")
    times = {k: dt.datetime.fromisoformat(str(body[k])) for k in ("start", "end") if body.get(k)}
    try:
        return state.replan_order(str(body["order"]), quantity=body.get("quantity"), **times)
    except KeyError:
        raise ValueError(f"order {body['order']!r} does not exist") from None


def _stats(state: Any, body: dict[str, Any]) -> dict[str, Any]:
    with state.lock:
        return {"sets": {name: len(rows) for name, rows in state.sets.items()}, "tokens_issued": state.token_count,
                "tokens_live": len(state.tokens), "calls": len(state.calls)}
