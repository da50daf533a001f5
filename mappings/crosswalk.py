"""Crosswalk tables: code lists that translate a partner's or a system's codes to canonical ids.

Each table is a CSV file ``mappings/crosswalks/<table>.csv`` with the header
``source,code,canonical``. ``source`` names who uses the code: a system (``kingdee``,
``edifact``), a partner id (an interchange sender, a GLN, ``SUP-001``) or ``*`` for anyone.
A lookup tries the most specific source first (partner, then system, then ``*``) because the
same code can mean different things to different partners (one supplier's ``PCS`` is a
piece, another's ``PK`` a pack).

Tables are data: they are read once per file modification and never executed.
"""
from __future__ import annotations

import csv
import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from hub.errors import FatalError

CROSSWALK_DIR = Path(__file__).resolve().parent / "crosswalks"

# The reason code of an unknown code is UNKNOWN_<NAME>; table file names are plural nouns
# but the codes people search quarantine for are the business words (UNKNOWN_UOM).
_ERROR_NAMES = {"units": "UOM"}

_HEADER = ["source", "code", "canonical"]


def error_code(table: str) -> str:
    """``UNKNOWN_<NAME>`` reason code for a code missing from ``table``."""
    name = _ERROR_NAMES.get(table)
    if name is None:
        name = table[:-3] + "y" if table.endswith("ies") else table[:-1] if table.endswith("s") else table
    return f"UNKNOWN_{name.upper()}"


@dataclass(frozen=True)
class Crosswalk:
    """One loaded table: ``(source, code) -> canonical``."""

    table: str
    entries: dict[tuple[str, str], str]

    def lookup(self, code: str, sources: Iterable[Optional[str]]) -> Optional[str]:
        """Canonical value of ``code`` for the first of ``sources`` that has it, then ``*``."""
        for source in [*sources, "*"]:
            if source is None:
                continue
            hit = self.entries.get((source, code))
            if hit is not None:
                return hit
        return None


def table_path(table: str, directory: Path = CROSSWALK_DIR) -> Path:
    return directory / f"{table}.csv"


def load_crosswalk(table: str, directory: Path = CROSSWALK_DIR) -> Crosswalk:
    """Load ``<directory>/<table>.csv``, cached until the file changes on disk."""
    path = table_path(table, directory)
    try:
        mtime = os.stat(path).st_mtime_ns
    except FileNotFoundError:
        raise FatalError("CROSSWALK_MISSING", f"crosswalk table {table!r} not found", str(path)) from None
    return _load(str(path), table, mtime)


@functools.lru_cache(maxsize=64)
def _load(path: str, table: str, mtime_ns: int) -> Crosswalk:  # mtime_ns only keys the cache
    entries: dict[tuple[str, str], str] = {}
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if [h.strip() for h in header or []] != _HEADER:
            raise FatalError("CROSSWALK_INVALID", f"header must be {','.join(_HEADER)}", f"{path}:1")
        for lineno, row in enumerate(reader, start=2):
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            if len(row) != 3:
                raise FatalError("CROSSWALK_INVALID", f"expected 3 columns, got {len(row)}", f"{path}:{lineno}")
            source, code, canonical = (cell.strip() for cell in row)
            key = (source, code)
            # a second row for the same key would make the answer depend on row order
            if key in entries and entries[key] != canonical:
                raise FatalError(
                    "CROSSWALK_INVALID", f"{source},{code} maps to both {entries[key]!r} and {canonical!r}", f"{path}:{lineno}"
                )
            entries[key] = canonical
    return Crosswalk(table=table, entries=entries)
