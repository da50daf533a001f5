"""EXTENSION: the WMS simulators' admin endpoints (not part of GreaterWMS or Odoo; no auth).

| call | body | answer |
| --- | --- | --- |
| ``GET /__sim/faults`` | | ``{"faults": [armed faults]}`` |
| ``POST /__sim/faults`` | a fault (``{"kind": "http5xx", "status": 502, "count": 2, "match": "stock.picking.*"}``), ``{"faults": [...]}`` and/or ``{"clear": true}`` | ``{"faults": [...]}`` |

Fault fields are documented in ``faults.py``. Bad input answers HTTP 400 ``{"error": ...}``.
"""
from __future__ import annotations

from typing import Any

from simulators import admin as shared
from simulators.wms.faults import FaultBook

PREFIX = shared.PREFIX

#: the book is the "state" here: both WMS simulators pass their ``state.faults``
_ROUTES = shared.fault_routes(book=lambda book: book, arm=lambda book, fault: book.arm(fault))


def handle(book: FaultBook, method: str, path: str, raw: bytes) -> tuple[int, Any]:
    return shared.dispatch(book, method, path, raw, _ROUTES, refusals=(ValueError,))
