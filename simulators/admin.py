"""EXTENSION: what every simulator's ``/__sim/`` admin endpoints share (simulator only, no auth).

``dispatch`` routes ``(method, name)`` to ``route(state, body)`` and turns the JSON body and the
refusals into answers; ``fault_routes`` gives the ``GET|POST /__sim/faults`` pair:

| call | body | answer |
| --- | --- | --- |
| ``GET /__sim/faults`` | | ``{"faults": [armed faults]}`` |
| ``POST /__sim/faults`` | a fault, ``{"faults": [...]}``, ``{"clear": true}`` and/or ``{"rng_seed": 7}`` (where faults can be probabilistic) | ``{"faults": [...]}`` |

A POST is all or nothing: every fault (and the seed) is validated before anything is cleared,
reseeded or armed.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Optional
from urllib.parse import parse_qs

from simulators.faults import Fault, FaultBook

PREFIX = "/__sim/"

Route = Callable[[Any, dict[str, Any]], Any]


def dispatch(state: Any, method: str, path: str, raw: bytes, routes: dict[tuple[str, str], Route], *,
             query: str = "", refusals: tuple[type[Exception], ...] = (ValueError, TypeError),
             describe: Callable[[Exception], dict[str, Any]] = lambda exc: {"error": str(exc)}) -> tuple[int, Any]:
    """(status, payload): 404 for no route, 400 for a body that is not a JSON object or a refusal."""
    name = path[len(PREFIX):].strip("/")
    route = routes.get((method, name))
    if route is None:
        return 404, {"error": f"no admin endpoint {method} {path}"}
    body: Any = {}
    if method != "GET":  # a GET's body (if any) means nothing
        try:
            body = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return 400, {"error": f"body is not JSON: {exc}"}
        if not isinstance(body, dict):
            return 400, {"error": "body must be a JSON object"}
    params = {k: v[-1] for k, v in parse_qs(query).items()}
    try:
        return 200, route(state, {**params, **body})
    except refusals as exc:
        return 400, describe(exc)


def fault_routes(book: Callable[[Any], FaultBook] = lambda state: state.faults,
                 arm: Optional[Callable[[Any, Fault], Any]] = None) -> dict[tuple[str, str], Route]:
    """The faults routes; ``book(state)`` is the simulator's book, ``arm(state, fault)`` arms one
    (default: the simulator state's ``arm_fault``, which may do more than ``book.arm``)."""
    arm = arm or (lambda state, fault: state.arm_fault(fault))
    return {("GET", "faults"): lambda state, body: {"faults": book(state).active()},
            ("POST", "faults"): lambda state, body: post_faults(book(state), body, lambda f: arm(state, f))}


def post_faults(book: FaultBook, body: dict[str, Any], arm: Callable[[Fault], Any]) -> dict[str, Any]:
    body = dict(body)
    clear = body.pop("clear", False)
    seed = int(body.pop("rng_seed")) if book.seeded and "rng_seed" in body else None
    specs = body.pop("faults", None)
    if specs is None and body:
        specs = [body]
    elif body:
        raise ValueError(f"unexpected field(s) next to faults: {', '.join(sorted(body))}")
    if specs is not None and not isinstance(specs, list):
        raise ValueError("faults must be a list")
    faults = [book.fault_class.from_json(spec) for spec in specs or []]
    for fault in faults:
        book.check(fault)
    if clear:
        book.clear()
    if seed is not None:
        book.reseed(seed)
    for fault in faults:
        arm(fault)
    return {"faults": book.active()}
