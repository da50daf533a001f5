"""Switchable faults for the Kingdee simulator: what a flaky K/3 Cloud, its IIS app pool or the
gateway in front of it does to a client, on purpose and reproducibly.

A fault is armed for the next ``count`` matching calls, or with a ``probability`` drawn from a
seeded RNG (``count`` then caps how often it may fire; ``None`` = no cap). ``service`` narrows it
to one operation (``ExecuteBillQuery``, ``Save``, ...). Faults are armed in-process
(``state.faults.arm(...)``, ``state.fail_next(...)``) or over HTTP (``POST /__sim/faults``).

| kind | what the client sees |
| --- | --- |
| ``latency`` | the answer, ``delay`` seconds late |
| ``http500`` | HTTP 500 with an HTML body (IIS style) |
| ``http429`` | HTTP 429 with ``Retry-After: <retry_after>`` (INFERRED: a gateway rate limit; Kingdee itself reports MsgCode 14 in a 200 body) |
| ``response_error`` | HTTP 200 plain-text ``response_error:`` body (§1) |
| ``session_expired`` | every session is dropped, so this call gets the MsgCode 1 body |
| ``session_lost`` | the MsgCode 1 body although the session is valid |
| ``malformed_json`` | HTTP 200 ``application/json`` whose body is cut off |
| ``reset`` | status line, headers, half the body, then a TCP reset |
| ``disconnect`` | the connection is closed without any answer |
| ``timeout`` | the request is held (until released or a cap) and then dropped |
| ``repeat_rows`` | ExecuteBillQuery/BillQuery only: a page with ``StartRow > 0`` starts ``rows`` rows early, repeating the end of the previous page (what an insert before the offset does between two pages) |

``after: true`` lets the call do its work first (a Save creates its bill) and then fails the
answer: the "timeout / reset / 500 after Save" cases that idempotent posting must survive.
Only ``http500``, ``response_error``, ``malformed_json``, ``reset``, ``disconnect`` and
``timeout`` honour ``after``; ``reset`` defaults to it (there is no body to cut before the work).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from simulators import faults as shared

KINDS = ("latency", "http500", "http429", "response_error", "session_expired", "session_lost", "malformed_json",
         "reset", "disconnect", "timeout", "repeat_rows")
AFTER_KINDS = ("http500", "response_error", "malformed_json", "reset", "disconnect", "timeout")


@dataclass
class Fault(shared.ServiceFault):
    """``service``: the last part of the service name (``ExecuteBillQuery``, ``Save``, ...)."""

    KINDS = KINDS
    AFTER_KINDS = AFTER_KINDS

    rows: int = 1
    fired: int = field(default=0)

    def check(self) -> None:
        if isinstance(self.rows, bool) or int(self.rows) < 1:
            raise ValueError("rows must be a positive integer")
        self.rows = int(self.rows)


class FaultBook(shared.FaultBook):
    fault_class = Fault
