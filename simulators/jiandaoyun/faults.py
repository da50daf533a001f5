"""Switchable faults for the Jiandaoyun simulator: what a flaky Jiandaoyun (or the gateway in front
of a private deployment) does to a client, on purpose and reproducibly.

A fault is armed for the next ``count`` matching calls, or with a ``probability`` drawn from a
seeded RNG (``count`` then caps how often it fires; ``None`` = no cap). ``route`` narrows it to
one endpoint (``app/entry/data/list``, or a suffix such as ``data/list`` or ``batch_create``).
Armed in-process (``state.faults.arm(Fault(...))``) or over HTTP (``POST /__sim/faults``).

| kind | what the client sees |
| --- | --- |
| ``latency`` | the answer, ``delay`` seconds late |
| ``http5xx`` | HTTP ``status`` (500) with an HTML body (a gateway error page) |
| ``http429`` | HTTP 429 with ``Retry-After: <retry_after>`` (INFERRED: a gateway limit; Jiandaoyun itself sends code 8303/8304) |
| ``rate_limit`` | the documented rate-limit error: HTTP 400 ``{"code": <code: 8304>, "msg": ...}`` (8303 = enterprise) |
| ``token_invalid`` | HTTP 401 ``{"code": 8301, ...}`` although the API key is valid (a key revoked or rotated) |
| ``malformed_json`` | HTTP 200 ``application/json`` whose body is cut off |
| ``repeat_page`` | ``data/list`` with a ``data_id`` cursor only: the page starts ``rows`` records before the cursor (default: a whole page, i.e. the previous page again) |
| ``reset`` | status line, headers, half the body, then a TCP reset |
| ``disconnect`` | the connection is closed without any answer |

``after: true`` lets the call do its work first (a create stores its record) and then spoils
the answer: the "reset / 500 after create" cases idempotent writes must survive. Only
``http5xx``, ``malformed_json``, ``reset`` and ``disconnect`` honour ``after``; ``reset``
defaults to it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from simulators import faults as shared

KINDS = ("latency", "http5xx", "http429", "rate_limit", "token_invalid", "malformed_json", "repeat_page", "reset",
         "disconnect")
AFTER_KINDS = ("http5xx", "malformed_json", "reset", "disconnect")


@dataclass
class Fault(shared.Fault):
    KINDS = KINDS
    AFTER_KINDS = AFTER_KINDS
    CALL_FIELD = "route"
    CALL_MATCH = "suffix"
    EXAMPLE_KIND = "http5xx"

    kind: str
    count: Optional[int] = 1
    probability: float = 1.0
    route: Optional[str] = None
    after: bool = False
    delay: float = 0.0
    status: int = 500
    code: int = 8304
    retry_after: float = 1.0
    #: repeat_page: how many records early the page starts (None: one whole page)
    rows: Optional[int] = None
    fired: int = field(default=0)

    def check(self) -> None:
        if not 500 <= int(self.status) <= 599:
            raise ValueError("status must be a 5xx code")
        if int(self.code) not in (8303, 8304):
            raise ValueError("code must be 8303 (enterprise) or 8304 (endpoint)")
        if self.rows is not None and (isinstance(self.rows, bool) or int(self.rows) < 1):
            raise ValueError("rows must be a positive integer or null")
        self.status, self.code = int(self.status), int(self.code)
        self.rows = None if self.rows is None else int(self.rows)


class FaultBook(shared.FaultBook):
    fault_class = Fault
