"""Plan sync: a versioned DeliverySchedule per supplier from the purchase tasks, and what changed.

Pure functions, for the plan-run DAG to wire:

* ``build_schedules(tasks, ...)`` -> ``{supplier_id: DeliverySchedule}``: one running schedule per
  supplier (``schedule_id`` ``DS-<supplier>``, or ``DS-<supplier>-<ship to>``), lines per material
  and day in the supplier's purchase unit, ``firm`` up to the firm-zone end and ``forecast`` after.
  Given the previous version, an unchanged plan returns it as it is (same version, same hash: the
  store's upsert is a no-op); a changed one is ``version + 1``.
* ``diff_schedules(old, new, firm_until)`` -> ``ScheduleChange``s: added, removed,
  quantity_changed, date_changed (a line moved to another day with the same quantity), per
  material and day; ``requires_approval`` for each change inside the firm zone.
* ``releasable(old, new, firm_until)``: what may be sent before approval: the new forecast zone
  with the old firm zone kept (nothing inside the firm zone changes before approval).

The firm zone: days up to ``firm_until`` (inclusive, ``firm_until(plan_date, firm_days)``). A
change needs approval when either of its days is inside the firm zone or the old line was
already firm (the supplier was committed to it).
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable, Literal, Mapping, Optional, Union

from canonical_model.documents import DeliverySchedule, DeliveryScheduleLine
from collaboration.allocation import PurchaseTask

ChangeKind = Literal["added", "removed", "quantity_changed", "date_changed"]
ZERO = Decimal(0)


def firm_until(plan_date: dt.date, firm_days: int) -> dt.date:
    """Last day of the firm zone: ``firm_days`` days from the plan date on (0: no firm zone)."""
    return plan_date + dt.timedelta(days=firm_days - 1)


def schedule_id(supplier_id: str, ship_to_id: Optional[str] = None) -> str:
    return f"DS-{supplier_id}-{ship_to_id}" if ship_to_id else f"DS-{supplier_id}"


def _line_key(line: DeliveryScheduleLine) -> tuple:
    return line.material_id, line.date, line.uom, line.commitment, line.quantity, line.supplier_material_id


def build_schedules(tasks: Iterable[PurchaseTask], *, plan_date: dt.date, issued_at: dt.datetime,
                    firm_days: Union[int, Mapping[str, int]] = 14, horizon_days: int = 90,
                    previous: Optional[Mapping[str, DeliverySchedule]] = None, ship_to_id: Optional[str] = None,
                    supplier_material_ids: Optional[Mapping[tuple[str, str], str]] = None
                    ) -> dict[str, DeliverySchedule]:
    """One DeliverySchedule per supplier with tasks in the horizon (see the module docstring).

    ``firm_days``: one number, or per supplier (its partner profile) with ``"*"`` as default.
    Tasks needed before the plan date are due now: their line is on the plan date. Tasks past the
    horizon wait for a later run. A supplier with a previous schedule but nothing to deliver now
    gets no schedule: ``diff_schedules(old, None, ...)`` lists the removals.
    """
    previous = previous or {}
    part_numbers = supplier_material_ids or {}
    horizon_end = plan_date + dt.timedelta(days=horizon_days - 1)
    quantities: dict[str, dict[tuple[str, dt.date, str], Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for task in tasks:
        day = max(task.need_date, plan_date)
        if day > horizon_end:
            continue
        quantities[task.supplier_id][(task.material_id, day, task.purchase_uom)] += task.purchase_quantity
    schedules: dict[str, DeliverySchedule] = {}
    for supplier_id in sorted(quantities):
        if isinstance(firm_days, int):
            days = firm_days
        else:
            days = firm_days.get(supplier_id, firm_days.get("*", 0))
        last_firm = firm_until(plan_date, days)
        lines = [DeliveryScheduleLine(material_id=material_id, date=day, quantity=qty, uom=uom,
                                      supplier_material_id=part_numbers.get((supplier_id, material_id)),
                                      commitment="firm" if day <= last_firm else "forecast")
                 for (material_id, day, uom), qty in sorted(quantities[supplier_id].items()) if qty > 0]
        if not lines:
            continue
        old = previous.get(supplier_id)
        if old is not None and sorted(map(_line_key, old.lines)) == sorted(map(_line_key, lines)):
            schedules[supplier_id] = old
            continue
        schedules[supplier_id] = DeliverySchedule(
            schedule_id=old.schedule_id if old else schedule_id(supplier_id, ship_to_id), supplier_id=supplier_id,
            ship_to_id=ship_to_id, version=old.version + 1 if old else 1, issued_at=issued_at,
            horizon_start=plan_date, horizon_end=horizon_end, lines=lines)
    return schedules


@dataclass(frozen=True)
class ScheduleChange:
    kind: ChangeKind
    material_id: str
    uom: str
    old_date: Optional[dt.date]
    new_date: Optional[dt.date]
    old_quantity: Optional[Decimal]
    new_quantity: Optional[Decimal]
    requires_approval: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for the audit log and the approval form."""
        def text(q: Optional[Decimal]) -> Optional[str]:
            return None if q is None else format(q.normalize(), "f")
        return {"kind": self.kind, "material_id": self.material_id, "uom": self.uom,
                "old_date": self.old_date.isoformat() if self.old_date else None,
                "new_date": self.new_date.isoformat() if self.new_date else None,
                "old_quantity": text(self.old_quantity), "new_quantity": text(self.new_quantity),
                "requires_approval": self.requires_approval}


def _by_day(schedule: Optional[DeliverySchedule]) -> tuple[dict[tuple[str, str, dt.date], Decimal], set]:
    quantities: dict[tuple[str, str, dt.date], Decimal] = defaultdict(Decimal)
    firm: set[tuple[str, str, dt.date]] = set()
    for line in schedule.lines if schedule else ():
        key = (line.material_id, line.uom, line.date)
        quantities[key] += line.quantity
        if line.commitment == "firm":
            firm.add(key)
    return dict(quantities), firm


def diff_schedules(old: Optional[DeliverySchedule], new: Optional[DeliverySchedule],
                   firm_until: dt.date) -> list[ScheduleChange]:
    """What changed from ``old`` to ``new`` per material and day (either may be None: none yet / none now).

    A line of one material whose day moved with its quantity unchanged is one ``date_changed``
    (paired with the nearest day, earlier first); everything else unpaired is added or removed.
    Sorted by material, then day.
    """
    before, old_firm = _by_day(old)
    after, _ = _by_day(new)

    def approval(key_old: Optional[tuple], key_new: Optional[tuple]) -> bool:
        days = [k[2] for k in (key_old, key_new) if k is not None]
        return any(d <= firm_until for d in days) or (key_old is not None and key_old in old_firm)

    changes: list[ScheduleChange] = []
    removed: dict[tuple[str, str], list[tuple[dt.date, Decimal]]] = defaultdict(list)
    added: dict[tuple[str, str], list[tuple[dt.date, Decimal]]] = defaultdict(list)
    for key in sorted(set(before) | set(after)):
        material_id, uom, day = key
        was, now = before.get(key), after.get(key)
        if was is not None and now is not None:
            if was != now:
                changes.append(ScheduleChange("quantity_changed", material_id, uom, day, day, was, now,
                                              approval(key, key)))
        elif was is not None:
            removed[(material_id, uom)].append((day, was))
        else:
            added[(material_id, uom)].append((day, now))
    for group in sorted(set(removed) | set(added)):
        material_id, uom = group
        gone, new_lines = removed.get(group, []), list(added.get(group, []))
        for day, qty in gone:
            same = [(abs((d - day).days), d, q) for d, q in new_lines if q == qty]
            if same:
                _, moved_to, _ = min(same)
                new_lines.remove((moved_to, qty))
                changes.append(ScheduleChange("date_changed", material_id, uom, day, moved_to, qty, qty,
                                              approval((material_id, uom, day), (material_id, uom, moved_to))))
            else:
                changes.append(ScheduleChange("removed", material_id, uom, day, None, qty, None,
                                              approval((material_id, uom, day), None)))
        for day, qty in new_lines:
            changes.append(ScheduleChange("added", material_id, uom, None, day, None, qty,
                                          approval(None, (material_id, uom, day))))
    return sorted(changes, key=lambda c: (c.material_id, c.old_date or c.new_date, c.new_date or c.old_date, c.kind))


def needs_approval(changes: Iterable[ScheduleChange]) -> bool:
    return any(c.requires_approval for c in changes)


def releasable(old: Optional[DeliverySchedule], new: DeliverySchedule, firm_until: dt.date
               ) -> Optional[DeliverySchedule]:
    """``new`` with the firm zone as ``old`` had it: what may go to the supplier before approval.

    None when that leaves no line (a first schedule that is all firm zone waits whole).
    """
    lines = [line for line in (old.lines if old else ()) if line.date <= firm_until]
    lines += [line for line in new.lines if line.date > firm_until]
    if not lines:
        return None
    return new.model_copy(update={"lines": sorted(lines, key=lambda l: (l.material_id, l.date))})
