"""The record tree every EDI parser hands to mappings: segments with their position."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Segment:
    """One EDI segment.

    ``elements[i]`` is the i-th data element after the tag, split into its components
    (a simple element is a one-item list). Release characters are already removed.
    ``line`` is the 1-based physical line of the file where the segment starts and
    ``index`` its 1-based position in the interchange, so errors can say where.
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
