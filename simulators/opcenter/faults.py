"""Faults the Opcenter simulator can inject, armed in-process or through ``POST /__sim/faults``.

| kind | what the client sees |
| --- | --- |
| ``latency`` | the answer comes ``delay`` seconds late (the call still works) |
| ``http500`` / ``http503`` | HTTP 500 / 503 with an HTML body (IIS style) |
| ``http429`` | HTTP 429 with ``Retry-After: <retry_after>`` |
| ``token_expired`` | every issued token is revoked, so this call gets HTTP 401 |
| ``malformed_json`` | HTTP 200 ``application/json`` whose body is cut off |
| ``xml_bomb`` | HTTP 200 ``application/xml``: an entity-expansion ("billion laughs") document |
| ``xml_xxe`` | HTTP 200 ``application/xml``: a document with an external entity (``file:///etc/passwd``) |
| ``reset`` | status line, headers, half the body, then a TCP reset |
| ``disconnect`` | the connection is closed without any answer |
| ``timeout`` | the request is held (until released or a cap) and then dropped |

``service`` limits a fault to one entity set, command or ``$metadata`` (the last path segment,
case-insensitive) or ``token`` (the token endpoint). ``after: true`` lets the call do its work
first (a command creates its object) and then spoils the answer: the "answer lost" cases that
idempotent pushes must survive. Only ``http500``, ``http503``, ``malformed_json``, ``reset``,
``disconnect`` and ``timeout`` honour ``after``; ``reset`` defaults to it.
"""
from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

KINDS = ("latency", "http500", "http503", "http429", "token_expired", "malformed_json", "xml_bomb", "xml_xxe",
         "reset", "disconnect", "timeout")
AFTER_KINDS = ("http500", "http503", "malformed_json", "reset", "disconnect", "timeout")
MAX_DELAY_SECONDS = 120.0
MAX_RETRY_AFTER_SECONDS = 3600.0


@dataclass
class Fault:
    kind: str
    #: fire at most this many more times (None: no cap, only with a probability)
    count: Optional[int] = 1
    probability: float = 1.0
    #: only calls of this entity set / command / ``$metadata`` / ``token`` (case-insensitive)
    service: Optional[str] = None
    after: bool = False
    delay: float = 0.0
    retry_after: float = 1.0
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
        self.count = None if self.count is None else int(self.count)
        self.probability, self.delay, self.retry_after = float(self.probability), float(self.delay), \
            float(self.retry_after)
        if self.kind == "reset":
            self.after = True
        self.service = self.service.lower() if self.service else None

    @classmethod
    def from_json(cls, data: Any) -> "Fault":
        if not isinstance(data, dict):
            raise ValueError("a fault is a JSON object like {\"kind\": \"http500\", \"count\": 2}")
        known = {"kind", "count", "probability", "service", "after", "delay", "retry_after"}
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

    def take(self, service: str) -> Optional[Fault]:
        """The first armed fault matching ``service`` that fires now (its count is used up)."""
        service = service.lower()
        with self._lock:
            for fault in list(self._faults):
                if fault.service is not None and fault.service != service:
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
