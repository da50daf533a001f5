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

import fnmatch
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

KINDS = ("latency", "http5xx", "http429", "session_expired", "malformed_json", "reset")
AFTER_KINDS = ("http5xx", "malformed_json", "reset")
MAX_DELAY_SECONDS = 30.0


@dataclass
class Fault:
    kind: str
    count: int = 1
    match: Optional[str] = None
    after: bool = False
    status: int = 503
    delay: float = 0.0
    retry_after: float = 1.0
    fired: int = field(default=0)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1:
            raise ValueError("count must be a positive integer")
        if self.after and self.kind not in AFTER_KINDS:
            raise ValueError(f"after is only for {', '.join(AFTER_KINDS)}")
        if self.kind == "http5xx" and self.status not in (500, 502, 503, 504):
            raise ValueError("status must be 500, 502, 503 or 504")
        if not 0.0 <= float(self.delay) <= MAX_DELAY_SECONDS:
            raise ValueError(f"delay must be 0..{MAX_DELAY_SECONDS:g} seconds")
        if not 0.0 <= float(self.retry_after) <= 3600:
            raise ValueError("retry_after must be 0..3600 seconds")
        if self.match is not None and not isinstance(self.match, str):
            raise ValueError("match must be a string")
        if self.kind == "reset":
            self.after = True
        self.delay, self.retry_after = float(self.delay), float(self.retry_after)

    @classmethod
    def from_json(cls, data: Any) -> "Fault":
        if not isinstance(data, dict):
            raise ValueError('a fault is a JSON object like {"kind": "http5xx", "count": 2}')
        known = {"kind", "count", "match", "after", "status", "delay", "retry_after"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(str(exc)) from None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class FaultBook:
    """The armed faults, thread-safe; the first matching fault fires and uses up one count."""

    def __init__(self, kinds: tuple[str, ...] = KINDS) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self.kinds = kinds

    def arm(self, fault: Fault) -> Fault:
        if fault.kind not in self.kinds:
            raise ValueError(f"fault kind {fault.kind!r} does not apply to this simulator; use {', '.join(self.kinds)}")
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def active(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_json() for f in self._faults]

    def take(self, operation: str) -> Optional[Fault]:
        with self._lock:
            for fault in self._faults:
                if fault.match is not None and not fnmatch.fnmatchcase(operation, fault.match):
                    continue
                fault.fired += 1
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                return fault
        return None


class FaultyHandlerMixin:
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

    def reset_connection(self) -> None:
        """Abort the connection with a TCP RST (SO_LINGER 0), the way a crashing proxy does."""
        import socket
        import struct

        self.close_connection = True
        try:
            self.wfile.flush()  # type: ignore[attr-defined]
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # type: ignore[attr-defined]
            self.connection.close()  # type: ignore[attr-defined]
        except OSError:
            pass

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
