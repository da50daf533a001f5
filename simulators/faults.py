"""Switchable faults shared by the simulators: validation, the armed-fault book and its seeded RNG.

Each simulator declares its own ``Fault`` dataclass (its fields are its admin API's JSON contract,
documented with the kinds in its ``faults.py``) on top of :class:`Fault` here, and says which
kinds exist, which honour ``after`` and how a fault picks calls:

* ``CALL_FIELD`` names the field that narrows a fault to calls (``service``, ``route``, ``match``);
* ``CALL_MATCH`` says how: ``"exact"`` (case-insensitive name), ``"suffix"`` (a route or its
  trailing segments, case-insensitive) or ``"glob"`` (``fnmatch``, case-sensitive).

A fault fires for the next ``count`` matching calls, or with a ``probability`` drawn from the
book's seeded RNG (``count`` then caps it; ``None`` = no cap) when the simulator declares one.
"""
from __future__ import annotations

import fnmatch
import random
import threading
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, Iterable, Optional


class Fault:
    """Base of the simulators' fault dataclasses (not a dataclass itself: subclasses own the fields)."""

    KINDS: ClassVar[tuple[str, ...]] = ()
    AFTER_KINDS: ClassVar[tuple[str, ...]] = ()
    #: bounds, so a typo in an admin call cannot park the simulator for an hour
    MAX_DELAY_SECONDS: ClassVar[float] = 120.0
    MAX_RETRY_AFTER_SECONDS: ClassVar[float] = 3600.0
    CALL_FIELD: ClassVar[str] = "service"
    CALL_MATCH: ClassVar[str] = "exact"
    #: the kind in the "a fault is a JSON object like ..." hint
    EXAMPLE_KIND: ClassVar[str] = "http500"
    #: a simulator without a ``probability`` field fires every match (and needs a count)
    probability: float = 1.0

    kind: str
    count: Optional[int]
    after: bool
    delay: float
    retry_after: float
    fired: int

    def __post_init__(self) -> None:
        if self.kind not in self.KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(self.KINDS)}")
        self._check_count()
        if self.after and self.kind not in self.AFTER_KINDS:
            raise ValueError(f"after is only for {', '.join(self.AFTER_KINDS)}")
        if not 0.0 <= float(self.delay) <= self.MAX_DELAY_SECONDS:
            raise ValueError(f"delay must be 0..{self.MAX_DELAY_SECONDS:g} seconds")
        if not 0.0 <= float(self.retry_after) <= self.MAX_RETRY_AFTER_SECONDS:
            raise ValueError(f"retry_after must be 0..{self.MAX_RETRY_AFTER_SECONDS:g} seconds")
        self.check()
        self.delay, self.retry_after = float(self.delay), float(self.retry_after)
        if self.kind == "reset":  # there is no body to cut before the work: a reset always comes after it
            self.after = True
        setattr(self, self.CALL_FIELD, self._normalised_call(getattr(self, self.CALL_FIELD)))

    @classmethod
    def _probabilistic(cls) -> bool:
        return "probability" in cls.field_names()

    def _check_count(self) -> None:
        if not self._probabilistic():
            if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1:
                raise ValueError("count must be a positive integer")
            return
        if self.count is not None and (isinstance(self.count, bool) or int(self.count) < 1):
            raise ValueError("count must be a positive integer or null")
        if not 0.0 < float(self.probability) <= 1.0:
            raise ValueError("probability must be in (0, 1]")
        if self.count is None and float(self.probability) >= 1.0:
            raise ValueError("a fault without count needs a probability below 1 (else it never stops)")
        self.count = None if self.count is None else int(self.count)
        self.probability = float(self.probability)

    def check(self) -> None:
        """Validate (and normalise) the simulator's own fields; raise ValueError."""

    def _normalised_call(self, value: Any) -> Optional[str]:
        if self.CALL_MATCH == "glob":
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{self.CALL_FIELD} must be a string")
            return value
        if not value:
            return None
        return value.strip("/").lower() if self.CALL_MATCH == "suffix" else value.lower()

    def matches(self, call: str) -> bool:
        wanted = getattr(self, self.CALL_FIELD)
        if wanted is None:
            return True
        if self.CALL_MATCH == "glob":
            return fnmatch.fnmatchcase(call, wanted)
        call = call.lower()
        return call == wanted or (self.CALL_MATCH == "suffix" and call.endswith("/" + wanted))

    @classmethod
    def field_names(cls) -> set[str]:
        """The fields a JSON fault may set (``fired`` is the book's bookkeeping)."""
        return {f.name for f in fields(cls)} - {"fired"}  # type: ignore[arg-type]

    @classmethod
    def from_json(cls, data: Any) -> "Fault":
        if not isinstance(data, dict):
            raise ValueError(f'a fault is a JSON object like {{"kind": "{cls.EXAMPLE_KIND}", "count": 2}}')
        known = cls.field_names()
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(str(exc)) from None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


@dataclass
class ServiceFault(Fault):
    """The fields of a simulator whose faults pick calls by operation name (``service``).

    Subclasses add their own fields and then ``fired`` (last, so the JSON form keeps its order).
    """

    kind: str
    #: fire at most this many more times (None: no cap, only with a probability)
    count: Optional[int] = 1
    #: chance to fire on a matching call, drawn from the book's seeded RNG
    probability: float = 1.0
    #: only calls of this operation (case-insensitive; what names an operation is the simulator's)
    service: Optional[str] = None
    after: bool = False
    delay: float = 0.0
    retry_after: float = 1.0


class FaultBook:
    """The armed faults; thread-safe; one seeded RNG so probabilistic runs repeat exactly.

    Subclasses set ``fault_class``; ``kinds`` narrows the kinds a simulator sharing a ``Fault``
    class accepts (the GreaterWMS simulator has no sessions to expire).
    """

    fault_class: ClassVar[type[Fault]] = Fault

    def __init__(self, seed: int = 0, kinds: Optional[tuple[str, ...]] = None) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._rng = random.Random(seed)
        self.kinds = kinds if kinds is not None else self.fault_class.KINDS

    @property
    def seeded(self) -> bool:
        """Whether faults can be probabilistic, i.e. ``rng_seed`` means anything."""
        return self.fault_class._probabilistic()

    def reseed(self, seed: int) -> None:
        with self._lock:
            self._rng = random.Random(seed)

    def check(self, fault: Fault) -> None:
        if fault.kind not in self.kinds:
            raise ValueError(f"fault kind {fault.kind!r} does not apply to this simulator; use {', '.join(self.kinds)}")

    def arm(self, fault: Fault) -> Fault:
        self.check(fault)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def active(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_json() for f in self._faults]

    def take(self, call: str, kinds: Optional[Iterable[str]] = None, exclude: Iterable[str] = ()) -> Optional[Fault]:
        """The first armed fault that matches ``call`` and fires now (its count is used up)."""
        wanted = set(kinds) if kinds is not None else None
        excluded = set(exclude)
        with self._lock:
            for fault in list(self._faults):
                if not fault.matches(call):
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
