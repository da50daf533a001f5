"""The record tree every EDI parser hands to mappings: segments with their position.

Also the switch for the optional C accelerator (``adapters/edi/_speedups.pyx``, built by
``.venv/bin/python adapters/edi/build_speedups.py``) that both parsers use for their
batch path when it is built. Without it (or with ``HUB_EDI_PURE_PYTHON=1``) they run the
pure-Python implementation, which gives the same segments, lines and errors.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from types import ModuleType
from typing import Any, Callable, Optional

#: set to 1 to ignore a built accelerator (debugging, comparing both paths)
PURE_PYTHON_ENV = "HUB_EDI_PURE_PYTHON"
#: the calling convention edifact.py / x12.py use; a stale build with another ABI is ignored
SPEEDUPS_ABI = 1


@dataclass(frozen=True, slots=True)
class Segment:
    """One EDI segment.

    ``elements[i]`` is the i-th data element after the tag, split into its components
    (a simple element is a one-item list). Release characters are already removed.
    ``line`` is the 1-based physical line of the file where the segment starts and
    ``index`` its 1-based position in the interchange, so errors can say where.

    Slotted: a parse builds hundreds of thousands of these, and a slotted instance is one
    allocation with its fields at fixed offsets (the accelerator writes them directly).
    """

    tag: str
    elements: list[list[str]] = field(default_factory=list)
    line: int = 0
    index: int = 0

    def get(self, element: int, component: int = 0, default: str = "") -> str:
        """Element/component by 0-based position, ``default`` when absent."""
        try:
            return self.elements[element][component]
        except IndexError:
            return default


SEGMENT_FIELDS = ("tag", "elements", "line", "index")


def _slot_setters() -> Optional[tuple[Callable[[Any, Any], None], ...]]:
    """The setters of Segment's slots in field order, or None if Segment is no longer a plain
    slotted dataclass of exactly these fields (then the parsers call its __init__)."""
    if (tuple(f.name for f in fields(Segment)) != SEGMENT_FIELDS or Segment.__slots__ != SEGMENT_FIELDS
            or hasattr(Segment, "__post_init__")):
        return None
    return tuple(Segment.__dict__[name].__set__ for name in SEGMENT_FIELDS)


#: what the parsers' batch loops fill a new instance (``object.__new__(Segment)``) with: half
#: the cost of the frozen dataclass __init__ (an object.__setattr__ call per field)
SEGMENT_SETTERS = _slot_setters()


def _load_speedups() -> Optional[ModuleType]:
    if os.environ.get(PURE_PYTHON_ENV, "").strip() not in ("", "0") or SEGMENT_SETTERS is None:
        return None
    try:
        from adapters.edi import _speedups  # type: ignore[attr-defined]
    except ImportError:
        return None
    if getattr(_speedups, "ABI", None) != SPEEDUPS_ABI or not all(
            hasattr(_speedups, name) for name in ("SegmentBatch", "batch_end", "region_shape", "use_segment_type")):
        return None  # a stale build: the pure-Python codec is right, only slower
    try:
        _speedups.use_segment_type(Segment, SEGMENT_FIELDS)
    except TypeError:  # the build does not know this Segment's layout: stay pure Python
        return None
    return _speedups


_speedups: Optional[ModuleType] = _load_speedups()


def speedups() -> Optional[ModuleType]:
    """The accelerator module the parsers use for interchanges opened from now on, or None."""
    return _speedups


def use_speedups(enabled: bool) -> bool:
    """Turn the accelerator on or off for interchanges opened from now on (tests compare both
    paths with it); returns whether it was on. Turning it on when it is not built (or
    ``HUB_EDI_PURE_PYTHON`` is set) leaves it off."""
    global _speedups
    previous = _speedups is not None
    _speedups = _load_speedups() if enabled else None
    return previous
