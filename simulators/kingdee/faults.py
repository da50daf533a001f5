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

import random
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Optional

KINDS = ("latency", "http500", "http429", "response_error", "session_expired", "session_lost", "malformed_json",
         "reset", "disconnect", "timeout", "repeat_rows")
AFTER_KINDS = ("http500", "response_error", "malformed_json", "reset", "disconnect", "timeout")
#: bounds, so a typo in an admin call cannot park the simulator for an hour
MAX_DELAY_SECONDS = 120.0
MAX_RETRY_AFTER_SECONDS = 3600.0


@dataclass
class Fault:
    kind: str
    #: fire at most this many more times (None: no cap, only with a probability)
    count: Optional[int] = 1
    #: chance to fire on a matching call, drawn from the book's seeded RNG
    probability: float = 1.0
    #: only calls of this operation (last part of the service name, case-insensitive)
    service: Optional[str] = None
    after: bool = False
    delay: float = 0.0
    retry_after: float = 1.0
    rows: int = 1
    fired: int = field(default=0)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        if self.count is not None and (isinstance(self.count, bool) or int(self.count) < 1):
            raise ValueError("count must be a positive integer or null")
        if not 0.0 < float(self.probability) <= 1.0:
            raise ValueError("probability must be in (0, 1]")
        if self.count is None and float(self.probability) >= 1.0:
            raise ValueError("a fault without count needs a probability below 1 (else it never stops)")
        if self.after and self.kind not in AFTER_KINDS:
            raise ValueError(f"after is only for {', '.join(AFTER_KINDS)}")
        if not 0.0 <= float(self.delay) <= MAX_DELAY_SECONDS:
            raise ValueError(f"delay must be 0..{MAX_DELAY_SECONDS:g} seconds")
        if not 0.0 <= float(self.retry_after) <= MAX_RETRY_AFTER_SECONDS:
            raise ValueError(f"retry_after must be 0..{MAX_RETRY_AFTER_SECONDS:g} seconds")
        if isinstance(self.rows, bool) or int(self.rows) < 1:
            raise ValueError("rows must be a positive integer")
        self.count = None if self.count is None else int(self.count)
        self.probability, self.delay = float(self.probability), float(self.delay)
        self.retry_after, self.rows = float(self.retry_after), int(self.rows)
        if self.kind == "reset" and not self.after:
            self.after = True
        self.service = self.service.lower() if self.service else None

    @classmethod
    def from_json(cls, data: Any) -> "Fault":
        if not isinstance(data, dict):
            raise ValueError("a fault is a JSON object like {\"kind\": \"http500\", \"count\": 2}")
        known = {"kind", "count", "probability", "service", "after", "delay", "retry_after", "rows"}
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
    """The armed faults; thread-safe; one seeded RNG so probabilistic runs repeat exactly."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._rng = random.Random(seed)

    def reseed(self, seed: int) -> None:
        with self._lock:
            self._rng = random.Random(seed)

    def arm(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def active(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_json() for f in self._faults]

    def take(self, service: str, kinds: Optional[Iterable[str]] = None,
             exclude: Iterable[str] = ()) -> Optional[Fault]:
        """The first armed fault that matches ``service`` and fires now (its count is used up)."""
        service = service.lower()
        wanted = set(kinds) if kinds is not None else None
        excluded = set(exclude)
        with self._lock:
            for fault in list(self._faults):
                if fault.service is not None and fault.service != service:
                    continue
                if (wanted is not None and fault.kind not in wanted) or fault.kind in excluded:
                    continue
                if fault.probability < 1.0 and self._rng.random() >= fault.probability:
                    continue
                fault.fired += 1
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                return fault
        return None
