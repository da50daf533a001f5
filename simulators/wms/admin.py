"""EXTENSION: the WMS simulators' admin endpoints (not part of GreaterWMS or Odoo; no auth).

| call | body | answer |
| --- | --- | --- |
| ``GET /__sim/faults`` | | ``{"faults": [armed faults]}`` |
| ``POST /__sim/faults`` | a fault (``{"kind": "http5xx", "status": 502, "count": 2, "match": "stock.picking.*"}``), ``{"faults": [...]}`` and/or ``{"clear": true}`` | ``{"faults": [...]}`` |

Fault fields are documented in ``faults.py``. Bad input answers HTTP 400 ``{"error": ...}``.
"""
from __future__ import annotations

import json
from typing import Any

from simulators.wms.faults import Fault, FaultBook

PREFIX = "/__sim/"


def handle(book: FaultBook, method: str, path: str, raw: bytes) -> tuple[int, Any]:
    name = path[len(PREFIX):].strip("/")
    if name != "faults" or method not in ("GET", "POST"):
        return 404, {"error": f"no admin endpoint {method} {path}"}
    if method == "GET":
        return 200, {"faults": book.active()}
    try:
        body = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return 400, {"error": f"body is not JSON: {exc}"}
    if not isinstance(body, dict):
        return 400, {"error": "body must be a JSON object"}
    body = dict(body)
    try:
        clear = body.pop("clear", False)
        specs = body.pop("faults", None)
        if specs is None and body:
            specs = [body]
        elif body:
            raise ValueError(f"unexpected field(s) next to faults: {', '.join(sorted(body))}")
        if specs is not None and not isinstance(specs, list):
            raise ValueError("faults must be a list")
        faults = [Fault.from_json(spec) for spec in specs or []]  # validate all before arming any
        for fault in faults:
            if fault.kind not in book.kinds:
                raise ValueError(f"fault kind {fault.kind!r} does not apply to this simulator")
    except ValueError as exc:
        return 400, {"error": str(exc)}
    if clear:
        book.clear()
    for fault in faults:
        book.arm(fault)
    return 200, {"faults": book.active()}
