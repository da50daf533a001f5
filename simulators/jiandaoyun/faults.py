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

import random
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Optional

KINDS = ("latency", "http5xx", "http429", "rate_limit", "token_invalid", "malformed_json", "repeat_page", "reset",
         "disconnect")
AFTER_KINDS = ("http5xx", "malformed_json", "reset", "disconnect")
MAX_DELAY_SECONDS = 120.0
MAX_RETRY_AFTER_SECONDS = 3600.0


@dataclass
class Fault:
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
        if not 500 <= int(self.status) <= 599:
            raise ValueError("status must be a 5xx code")
        if int(self.code) not in (8303, 8304):
            raise ValueError("code must be 8303 (enterprise) or 8304 (endpoint)")
        if not 0.0 <= float(self.retry_after) <= MAX_RETRY_AFTER_SECONDS:
            raise ValueError(f"retry_after must be 0..{MAX_RETRY_AFTER_SECONDS:g} seconds")
        if self.rows is not None and (isinstance(self.rows, bool) or int(self.rows) < 1):
            raise ValueError("rows must be a positive integer or null")
        self.count = None if self.count is None else int(self.count)
        self.probability, self.delay, self.retry_after = float(self.probability), float(self.delay), \
            float(self.retry_after)
        self.status, self.code = int(self.status), int(self.code)
        self.rows = None if self.rows is None else int(self.rows)
        if self.kind == "reset" and not self.after:
            self.after = True
        self.route = self.route.strip("/").lower() if self.route else None

    def matches(self, route: str) -> bool:
        route = route.lower()
        return self.route is None or route == self.route or route.endswith("/" + self.route)

    @classmethod
    def from_json(cls, data: Any) -> "Fault":
        if not isinstance(data, dict):
            raise ValueError("a fault is a JSON object like {\"kind\": \"http5xx\", \"count\": 2}")
        known = {"kind", "count", "probability", "route", "after", "delay", "status", "code", "retry_after", "rows"}
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

    def take(self, route: str, kinds: Optional[Iterable[str]] = None, exclude: Iterable[str] = ()) -> Optional[Fault]:
        """The first armed fault matching ``route`` that fires now (its count is used up)."""
        wanted = set(kinds) if kinds is not None else None
        excluded = set(exclude)
        with self._lock:
            for fault in list(self._faults):
                if not fault.matches(route):
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
