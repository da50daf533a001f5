"""Crosswalk tables: code lists that translate a partner's or a system's codes to canonical ids.

Each table is a CSV file ``mappings/crosswalks/<table>.csv`` with the header
``source,code,canonical``. ``source`` names who uses the code: a system (``kingdee``,
``edifact``), a partner id (an interchange sender, a GLN, ``SUP-001``) or ``*`` for anyone.
A lookup tries the most specific source first (partner, then system, then ``*``) because the
same code can mean different things to different partners (one supplier's ``PCS`` is a
piece, another's ``PK`` a pack).

Partner profiles add rows: ``crosswalks: {units: {PK: XPK}}`` in
``mappings/partners/SUP-030.yaml`` (or ``$HUB_PARTNER_DIR``) is merged into ``units`` as if
``SUP-030,PK,XPK`` (and the same under the partner's EDI id) were a row of ``units.csv``, so
the lookup order above already prefers it for that partner and nobody else sees it. A profile
row that says something else than the CSV for the same ``(source, code)``, or than another
profile, is ``CROSSWALK_INVALID``: which of the two is meant cannot be guessed.

Tables are data: they are read once per modification of the CSV or of any partner profile,
and never executed.
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


def partner_stamps() -> tuple[tuple[str, int], ...]:
    """``(profile path, mtime)`` of every partner profile: a cache key part for their rows."""
    from hub.partners import profile_files  # hub.partners imports this module for CROSSWALK_DIR

    stamps = []
    for p in profile_files():
        try:
            stamps.append((str(p), os.stat(p).st_mtime_ns))
        except FileNotFoundError:  # removed between listing and stat: it has no rows any more
            continue
    return tuple(stamps)


def load_crosswalk(table: str, directory: Path = CROSSWALK_DIR, with_partners: bool = True) -> Crosswalk:
    """Load ``<directory>/<table>.csv`` plus the partner profiles' rows of ``table``.

    Cached until the CSV or a profile changes on disk. ``with_partners=False`` gives the CSV
    alone (e.g. to compare one profile's rows against it).
    """
    path = table_path(table, directory)
    try:
        mtime = os.stat(path).st_mtime_ns
    except FileNotFoundError:
        raise FatalError("CROSSWALK_MISSING", f"crosswalk table {table!r} not found", str(path)) from None
    if not with_partners:
        return _load(str(path), table, mtime)[0]
    return _merged(str(path), table, mtime, partner_stamps())


@functools.lru_cache(maxsize=64)
def _merged(path: str, table: str, mtime_ns: int, stamps: tuple[tuple[str, int], ...]) -> Crosswalk:  # stamps key the cache
    from hub.partners import display_path, load_partners, profile_path

    shared, csv_lines = _load(path, table, mtime_ns)
    entries = dict(shared.entries)
    origin: dict[tuple[str, str], str] = {}  # key -> the profile that added it
    for partner_id, profile in load_partners().items():
        profile_file = display_path(profile_path(partner_id))
        for key, canonical in profile.crosswalk_rows(table).items():
            known = entries.get(key)
            if known is not None and known != canonical:
                source, code = key
                if key in origin:
                    raise FatalError(
                        "CROSSWALK_INVALID",
                        f"{source},{code} of table {table} maps to {canonical!r} here but to {known!r} in "
                        f"{origin[key]}; keep the row in one profile only",
                        profile_file,
                    )
                raise FatalError(
                    "CROSSWALK_INVALID",
                    f"{source},{code} of table {table} maps to {canonical!r} here but to {known!r} in "
                    f"{_display(path)}:{csv_lines[key]}; remove one of the two rows",
                    profile_file,
                )
            if known is None:
                origin[key] = profile_file
            entries[key] = canonical
    return Crosswalk(table=table, entries=entries)


def _display(path: str) -> str:
    root = CROSSWALK_DIR.parent.parent
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        return path


@functools.lru_cache(maxsize=64)
def _load(path: str, table: str, mtime_ns: int) -> tuple[Crosswalk, dict[tuple[str, str], int]]:  # mtime_ns only keys the cache
    """The CSV alone, and the line of each row (profile clashes point at it)."""
    entries: dict[tuple[str, str], str] = {}
    lines: dict[tuple[str, str], int] = {}
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
            lines.setdefault(key, lineno)
    return Crosswalk(table=table, entries=entries), lines
