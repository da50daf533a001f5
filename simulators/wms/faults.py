"""Switchable faults for both WMS simulators: what a flaky WMS or the proxy in front of it does.

A fault is armed for the next ``count`` matching calls. ``match`` narrows it to operations
(a glob, ``fnmatch`` style): the GreaterWMS simulator names an operation ``"POST /asn/list/"``,
the Odoo one ``"stock.picking.create"`` (``model.method``) or ``"common.authenticate"`` /
``"session.authenticate"``. Faults are armed in-process (``state.faults.arm(Fault(...))``) or over
HTTP (``POST /__sim/faults``, see ``admin.py``).

| kind | what the client sees |
| --- | --- |
| ``latency`` | the answer, ``delay`` seconds late |
| ``http5xx`` | HTTP ``status`` (500/502/503/504) with an HTML body, as a proxy or a crashed worker sends |
| ``http429`` | HTTP 429 with ``Retry-After: <retry_after>`` (INFERRED: a gateway or Odoo.sh rate limit) |
| ``session_expired`` | Odoo only: every session is dropped first, so a session-route call gets ``SessionExpiredException`` |
| ``malformed_json`` | HTTP 200 ``application/json`` whose body is cut in half |
| ``reset`` | status line, headers, half the body, then a TCP reset |

``after: true`` lets the call do its work first (a create creates its record) and then fails the
answer: the "answer lost after create" case idempotent pushes must survive. ``reset`` always
works that way; ``http5xx`` and ``malformed_json`` honour ``after``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from simulators import faults as shared
from simulators.base import ConnectionControlMixin

KINDS = ("latency", "http5xx", "http429", "session_expired", "malformed_json", "reset")
AFTER_KINDS = ("http5xx", "malformed_json", "reset")
MAX_DELAY_SECONDS = 30.0


@dataclass
class Fault(shared.Fault):
    KINDS = KINDS
    AFTER_KINDS = AFTER_KINDS
    MAX_DELAY_SECONDS = MAX_DELAY_SECONDS
    CALL_FIELD = "match"
    CALL_MATCH = "glob"
    EXAMPLE_KIND = "http5xx"

    kind: str
    count: int = 1
    match: Optional[str] = None
    after: bool = False
    status: int = 503
    delay: float = 0.0
    retry_after: float = 1.0
    fired: int = field(default=0)

    def check(self) -> None:
        if self.kind == "http5xx" and self.status not in (500, 502, 503, 504):
            raise ValueError("status must be 500, 502, 503 or 504")


class FaultBook(shared.FaultBook):
    """The armed faults, thread-safe; the first matching fault fires and uses up one count."""

    fault_class = Fault


class FaultyHandlerMixin(ConnectionControlMixin):
    """Applies a fired fault inside a ``BaseHTTPRequestHandler`` (both simulators use it).

    The handler calls ``fault_before`` ahead of the real work (True: the fault answered, stop)
    and, for an ``after`` fault, ``fault_after`` with the real answer instead of sending it.
    """

    def handle(self) -> None:
        try:
            super().handle()  # type: ignore[misc]
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up first (a latency fault beyond its timeout): nothing to answer

    def write_raw(self, status: int, content_type: str, data: bytes, headers: Optional[dict[str, str]] = None,
                  body: Optional[bytes] = None) -> None:
        """Send a response; ``body`` (if given) is what is really written after the headers."""
        self.send_response(status)  # type: ignore[attr-defined]
        self.send_header("Content-Type", content_type)  # type: ignore[attr-defined]
        self.send_header("Content-Length", str(len(data)))  # type: ignore[attr-defined]
        for name, value in (headers or {}).items():
            self.send_header(name, value)  # type: ignore[attr-defined]
        self.end_headers()  # type: ignore[attr-defined]
        self.wfile.write(data if body is None else body)  # type: ignore[attr-defined]

    def fault_before(self, fault: Fault, expire_sessions: Any = None) -> bool:
        import time

        if fault.kind == "latency":
            time.sleep(fault.delay)
            return False
        if fault.kind == "session_expired":
            if expire_sessions is not None:
                expire_sessions()
            return False
        if fault.after:
            return False
        if fault.kind == "http429":
            data = b'{"detail": "Request was throttled. (simulated)"}'
            self.write_raw(429, "application/json", data, {"Retry-After": f"{fault.retry_after:g}"})
            return True
        self.fault_after(fault, 200, "application/json", b'{"jsonrpc": "2.0", "id": null, "result": true}')
        return True

    def fault_after(self, fault: Fault, status: int, content_type: str, data: bytes) -> None:
        if fault.kind == "http5xx":
            self.close_connection = True
            html = f"<html><body><h1>{fault.status}</h1>simulated</body></html>".encode()
            self.write_raw(fault.status, "text/html", html, {"Connection": "close"})
        elif fault.kind == "malformed_json":
            self.write_raw(200, "application/json", data[: max(1, len(data) // 2)])
        elif fault.kind == "reset":
            self.write_raw(status, content_type, data, body=data[: len(data) // 2])
            self.reset_connection()
        else:  # pragma: no cover - only AFTER_KINDS get here
            raise AssertionError(fault.kind)
