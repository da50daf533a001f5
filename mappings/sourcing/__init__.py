"""Supplier master data and planning parameters for MRP and purchase allocation: tables are data.

Two CSV files beside this module (``#`` lines and blank lines are ignored; a blank cell takes the
column's default). Every problem is a ``FatalError SOURCING_INVALID`` (or ``PLANNING_INVALID``)
whose ``where`` is ``mappings/sourcing/<file>.csv:<line>``: fix that line, nothing is guessed.

``sourcing.csv``: one row per approved supplier of a material (the approved source list).

| column | meaning | default |
| --- | --- | --- |
| ``material_id`` | canonical material id | required |
| ``supplier_id`` | canonical party id of the supplier | required |
| ``quota_share`` | relative weight of the supplier's share (shares are normalised per material) | required, >= 0 |
| ``capacity_per_week`` | what the supplier can deliver of this material per ISO week, in ``purchase_uom`` | blank: unlimited |
| ``moq`` | minimum order quantity in ``purchase_uom`` | blank: none |
| ``multiple`` | order quantities are whole multiples of this, in ``purchase_uom`` | blank: 1 |
| ``lead_time_days`` | calendar days from order to delivery | required, >= 0 |
| ``purchase_uom`` | UN/ECE Rec 20 unit the supplier sells in (e.g. ``BX``); conversions to the material's base unit come from ``mappings/crosswalks/unit_conversions.csv`` | blank: the material's base unit |
| ``valid_from`` / ``valid_to`` | ISO dates, inclusive; the row applies to deliveries needed in that window | blank: open |

``planning.csv``: MRP parameters per material, quantities in the material's base unit.

| column | meaning | default |
| --- | --- | --- |
| ``material_id`` | canonical material id | required |
| ``lead_time_days`` | make items: production lead time; buy items: planning lead time (MRP offsets the order release by it) | 0 |
| ``safety_stock`` | stock MRP keeps back from netting | 0 |
| ``moq`` | lot sizing: minimum planned order quantity | blank: lot-for-lot |
| ``multiple`` | lot sizing: planned orders are whole multiples of this | blank: lot-for-lot |

A material missing from ``planning.csv`` is planned lot-for-lot with no safety stock, and a buy
item with no planning row takes the longest lead time of its approved suppliers.
"""
from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional

from hub.errors import FatalError

SOURCING_DIR = Path(__file__).resolve().parent
SOURCING_CSV = SOURCING_DIR / "sourcing.csv"
PLANNING_CSV = SOURCING_DIR / "planning.csv"

SOURCING_COLUMNS = ("material_id", "supplier_id", "quota_share", "capacity_per_week", "moq", "multiple",
                    "lead_time_days", "purchase_uom", "valid_from", "valid_to")
PLANNING_COLUMNS = ("material_id", "lead_time_days", "safety_stock", "moq", "multiple")


@dataclass(frozen=True)
class SourcingRule:
    """One approved supplier of one material (one row of sourcing.csv)."""

    material_id: str
    supplier_id: str
    quota_share: Decimal
    lead_time_days: int
    capacity_per_week: Optional[Decimal] = None
    moq: Optional[Decimal] = None
    multiple: Decimal = Decimal(1)
    purchase_uom: Optional[str] = None
    valid_from: Optional[dt.date] = None
    valid_to: Optional[dt.date] = None
    where: str = ""

    def applies_on(self, day: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True)
class PlanningParameters:
    """MRP parameters of one material (one row of planning.csv); quantities in the base unit."""

    material_id: str
    lead_time_days: int = 0
    safety_stock: Decimal = Decimal(0)
    moq: Optional[Decimal] = None
    multiple: Optional[Decimal] = None
    where: str = ""


@dataclass(frozen=True)
class SourcingTable:
    """The approved source list, by material."""

    rules: tuple[SourcingRule, ...]

    def approved(self, material_id: str, day: Optional[dt.date] = None) -> list[SourcingRule]:
        """Rules of ``material_id`` that apply on ``day`` (all of them when no day), by supplier id."""
        return sorted((r for r in self.rules if r.material_id == material_id and (day is None or r.applies_on(day))),
                      key=lambda r: r.supplier_id)

    def rule(self, material_id: str, supplier_id: str, day: Optional[dt.date] = None) -> Optional[SourcingRule]:
        for candidate in self.approved(material_id, day):
            if candidate.supplier_id == supplier_id:
                return candidate
        return None

    def longest_lead_times(self) -> dict[str, int]:
        """Per material: the longest lead time of its approved suppliers (the planning default)."""
        longest: dict[str, int] = {}
        for r in self.rules:
            longest[r.material_id] = max(longest.get(r.material_id, 0), r.lead_time_days)
        return longest


def display_path(path: Path) -> str:
    root = SOURCING_DIR.parent.parent
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


def read_table(path: Path, columns: tuple[str, ...], code: str) -> Iterable[tuple[str, dict[str, str]]]:
    """``(where, row)`` for every data row of a planning table (``#`` comment and blank lines skipped);
    header and shape checked against ``columns``; ``FatalError code`` at file:line otherwise."""
    shown = display_path(path)
    try:
        fh = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise FatalError(code, f"cannot read the table: {exc.strerror or exc}", shown) from None
    with fh:
        reader = csv.reader(fh)
        header = None
        for row in reader:
            where = f"{shown}:{reader.line_num}"
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            cells = [cell.strip() for cell in row]
            if header is None:
                if tuple(cells) != columns:
                    raise FatalError(code, f"header must be {','.join(columns)}", where)
                header = cells
                continue
            if len(cells) != len(columns):
                raise FatalError(code, f"expected {len(columns)} columns, got {len(cells)}", where)
            yield where, dict(zip(columns, cells))
        if header is None:
            raise FatalError(code, f"empty table: the header {','.join(columns)} is missing", shown)


def _parse(row: dict[str, str], column: str, where: str, code: str, parse: Callable[[str], object],
           what: str, required: bool = False, default: object = None) -> object:
    text = row[column]
    if not text:
        if required:
            raise FatalError(code, f"{column} is required", where)
        return default
    try:
        return parse(text)
    except (ValueError, InvalidOperation):
        raise FatalError(code, f"{column} {text!r} is not {what}", where) from None


def _decimal(minimum: Decimal, strict: bool = False) -> Callable[[str], Decimal]:
    def parse(text: str) -> Decimal:
        value = Decimal(text)
        if not value.is_finite() or value < minimum or (strict and value == minimum):
            raise ValueError(text)
        return value
    return parse


def _days(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


_NON_NEGATIVE = _decimal(Decimal(0))
_POSITIVE = _decimal(Decimal(0), strict=True)


def load_sourcing(path: Path = SOURCING_CSV) -> SourcingTable:
    """Read sourcing.csv; raises ``FatalError SOURCING_INVALID`` at the first bad line."""
    code = "SOURCING_INVALID"
    rules: list[SourcingRule] = []
    seen: dict[tuple[str, str], list[SourcingRule]] = {}
    for where, row in read_table(path, SOURCING_COLUMNS, code):
        for column in ("material_id", "supplier_id"):
            if not row[column]:
                raise FatalError(code, f"{column} is required", where)
        rule = SourcingRule(
            material_id=row["material_id"], supplier_id=row["supplier_id"],
            quota_share=_parse(row, "quota_share", where, code, _NON_NEGATIVE, "a number >= 0", required=True),
            lead_time_days=_parse(row, "lead_time_days", where, code, _days, "whole days >= 0", required=True),
            capacity_per_week=_parse(row, "capacity_per_week", where, code, _NON_NEGATIVE, "a number >= 0"),
            moq=_parse(row, "moq", where, code, _NON_NEGATIVE, "a number >= 0"),
            multiple=_parse(row, "multiple", where, code, _POSITIVE, "a number > 0", default=Decimal(1)),
            purchase_uom=row["purchase_uom"] or None,
            valid_from=_parse(row, "valid_from", where, code, dt.date.fromisoformat, "an ISO date"),
            valid_to=_parse(row, "valid_to", where, code, dt.date.fromisoformat, "an ISO date"),
            where=where,
        )
        if rule.valid_from and rule.valid_to and rule.valid_to < rule.valid_from:
            raise FatalError(code, f"valid_to {rule.valid_to} is before valid_from {rule.valid_from}", where)
        for other in seen.get((rule.material_id, rule.supplier_id), []):
            # two rows for one supplier on the same day would make its share depend on row order
            if _overlap(rule, other):
                raise FatalError(code, f"{rule.supplier_id} is approved for {rule.material_id} twice in an "
                                       f"overlapping validity (also {other.where})", where)
        seen.setdefault((rule.material_id, rule.supplier_id), []).append(rule)
        rules.append(rule)
    return SourcingTable(tuple(rules))


def _overlap(a: SourcingRule, b: SourcingRule) -> bool:
    lo = max(a.valid_from or dt.date.min, b.valid_from or dt.date.min)
    hi = min(a.valid_to or dt.date.max, b.valid_to or dt.date.max)
    return lo <= hi


def load_planning(path: Path = PLANNING_CSV) -> dict[str, PlanningParameters]:
    """Read planning.csv into ``{material_id: PlanningParameters}``; ``PLANNING_INVALID`` on a bad line."""
    code = "PLANNING_INVALID"
    params: dict[str, PlanningParameters] = {}
    for where, row in read_table(path, PLANNING_COLUMNS, code):
        material_id = row["material_id"]
        if not material_id:
            raise FatalError(code, "material_id is required", where)
        if material_id in params:
            raise FatalError(code, f"{material_id} is listed twice (also {params[material_id].where})", where)
        params[material_id] = PlanningParameters(
            material_id=material_id,
            lead_time_days=_parse(row, "lead_time_days", where, code, _days, "whole days >= 0", default=0),
            safety_stock=_parse(row, "safety_stock", where, code, _NON_NEGATIVE, "a number >= 0", default=Decimal(0)),
            moq=_parse(row, "moq", where, code, _NON_NEGATIVE, "a number >= 0"),
            multiple=_parse(row, "multiple", where, code, _POSITIVE, "a number > 0"),
            where=where,
        )
    return params


def planning_with_defaults(planning: Mapping[str, PlanningParameters],
                           sourcing: SourcingTable) -> dict[str, PlanningParameters]:
    """``planning`` plus a row for every sourced material without one: its longest supplier lead time."""
    merged = dict(planning)
    for material_id, days in sourcing.longest_lead_times().items():
        merged.setdefault(material_id, PlanningParameters(material_id=material_id, lead_time_days=days,
                                                          where="(longest lead time in sourcing.csv)"))
    return merged
