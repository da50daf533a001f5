"""Versioned delivery schedules per supplier, their diff and the firm-zone approval rule."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from canonical_model.documents import DeliverySchedule
from collaboration.allocation import PurchaseTask
from collaboration.plan import build_schedules, diff_schedules, firm_until, needs_approval, releasable

PLAN = dt.date(2026, 12, 1)
ISSUED = dt.datetime(2026, 12, 1, 6, 0)
FIRM_END = firm_until(PLAN, 7)  # 12-01 .. 12-07


def day(d: int) -> dt.date:
    return dt.date(2026, 12, d) if d <= 31 else dt.date(2027, 1, d - 31)


def task(material: str, on: dt.date, qty, supplier="SUP-A", uom="H87") -> PurchaseTask:
    q = D(qty)
    return PurchaseTask(f"PT/{material}/{on}/{supplier}", material, supplier, on, on, q, "H87", q, uom, ("MO-1",), "r")


def lines(schedule: DeliverySchedule):
    return [(l.material_id, l.date, l.quantity, l.commitment) for l in schedule.lines]


def build(tasks, previous=None, **kw):
    return build_schedules(tasks, plan_date=PLAN, issued_at=ISSUED, firm_days=kw.pop("firm_days", 7),
                           horizon_days=kw.pop("horizon_days", 30), previous=previous, **kw)


def test_one_schedule_per_supplier_with_firm_and_forecast_zones():
    tasks = [task("P1", day(3), 100), task("P1", day(3), 20), task("P1", day(10), 50), task("P2", day(7), 5),
             task("P2", day(8), 6), task("P1", dt.date(2026, 11, 28), 9), task("P1", day(31), 999),
             task("P9", day(4), 7, supplier="SUP-B")]
    schedules = build(tasks)
    assert sorted(schedules) == ["SUP-A", "SUP-B"]
    a = schedules["SUP-A"]
    assert (a.schedule_id, a.version, a.horizon_start, a.horizon_end) == ("DS-SUP-A", 1, PLAN, day(30))
    # 12-03: 100 + 20 summed; the 11-28 task is overdue: due now (plan date); 12-31 is past the
    # 30-day horizon (12-01 .. 12-30): left for a later run. Firm through 12-07, forecast after.
    assert lines(a) == [("P1", day(1), D(9), "firm"), ("P1", day(3), D(120), "firm"),
                        ("P1", day(10), D(50), "forecast"), ("P2", day(7), D(5), "firm"),
                        ("P2", day(8), D(6), "forecast")]


def test_firm_days_per_supplier_with_a_default():
    schedules = build([task("P1", day(5), 1), task("P1", day(5), 1, supplier="SUP-B")],
                      firm_days={"SUP-A": 3, "*": 10})
    # SUP-A firm through 12-03 only; SUP-B takes the default 10 days
    assert lines(schedules["SUP-A"]) == [("P1", day(5), D(1), "forecast")]
    assert lines(schedules["SUP-B"]) == [("P1", day(5), D(1), "firm")]


def test_an_unchanged_plan_keeps_the_version_and_a_changed_one_gets_the_next():
    first = build([task("P1", day(3), 100), task("P1", day(10), 50)])["SUP-A"]
    again = build([task("P1", day(10), 50), task("P1", day(3), 100)], previous={"SUP-A": first})["SUP-A"]
    assert again is first and again.content_hash == first.content_hash
    later = dt.datetime(2026, 12, 2, 6)
    changed = build_schedules([task("P1", day(3), 100), task("P1", day(10), 60)], plan_date=PLAN, issued_at=later,
                              firm_days=7, horizon_days=30, previous={"SUP-A": first})["SUP-A"]
    assert (changed.schedule_id, changed.version, changed.issued_at) == ("DS-SUP-A", 2, later)


def test_diff_added_removed_quantity_and_date_changed_with_the_firm_zone_rule():
    old = build([task("P1", day(3), 100), task("P1", day(10), 50), task("P2", day(5), 10), task("P3", day(6), 7),
                 task("P4", day(20), 4), task("P5", day(12), 3)])["SUP-A"]
    new = build([task("P1", day(3), 120),  # quantity inside the firm zone
                 task("P1", day(10), 50),  # unchanged
                 task("P2", day(9), 10),  # moved out of the firm zone, same quantity
                 # P3 removed (was firm)
                 task("P4", day(22), 4),  # moved inside the forecast zone
                 task("P5", day(12), 8),  # quantity in the forecast zone
                 task("P6", day(4), 1),  # added inside the firm zone
                 task("P6", day(25), 2)],  # added in the forecast zone
                previous={"SUP-A": old})["SUP-A"]
    changes = diff_schedules(old, new, FIRM_END)
    assert [(c.kind, c.material_id, c.old_date, c.new_date, c.old_quantity, c.new_quantity, c.requires_approval)
            for c in changes] == [
        ("quantity_changed", "P1", day(3), day(3), D(100), D(120), True),
        ("date_changed", "P2", day(5), day(9), D(10), D(10), True),  # the old day was firm
        ("removed", "P3", day(6), None, D(7), None, True),
        ("date_changed", "P4", day(20), day(22), D(4), D(4), False),
        ("quantity_changed", "P5", day(12), day(12), D(3), D(8), False),
        ("added", "P6", None, day(4), None, D(1), True),
        ("added", "P6", None, day(25), None, D(2), False),
    ]
    assert needs_approval(changes)
    assert changes[0].as_dict() == {"kind": "quantity_changed", "material_id": "P1", "uom": "H87",
                                    "old_date": "2026-12-03", "new_date": "2026-12-03", "old_quantity": "100",
                                    "new_quantity": "120", "requires_approval": True}


def test_a_forecast_only_change_needs_no_approval_and_an_unchanged_plan_has_no_diff():
    old = build([task("P1", day(3), 100), task("P1", day(20), 50)])["SUP-A"]
    new = build([task("P1", day(3), 100), task("P1", day(20), 70)], previous={"SUP-A": old})["SUP-A"]
    changes = diff_schedules(old, new, FIRM_END)
    assert [(c.kind, c.requires_approval) for c in changes] == [("quantity_changed", False)]
    assert not needs_approval(changes)
    assert diff_schedules(old, old, FIRM_END) == []


def test_a_date_moved_with_equal_quantities_pairs_with_the_nearest_day():
    old = build([task("P1", day(10), 5)])["SUP-A"]
    new = build([task("P1", day(20), 5), task("P1", day(12), 5)])["SUP-A"]
    changes = diff_schedules(old, new, FIRM_END)
    # 12-10 -> 12-12 (2 days) rather than 12-20; 12-20 is new
    assert [(c.kind, c.old_date, c.new_date) for c in changes] == [("date_changed", day(10), day(12)),
                                                                    ("added", None, day(20))]


def test_first_schedule_and_a_supplier_with_nothing_left():
    new = build([task("P1", day(3), 1), task("P1", day(20), 2)])["SUP-A"]
    first = diff_schedules(None, new, FIRM_END)
    assert [(c.kind, c.requires_approval) for c in first] == [("added", True), ("added", False)]
    gone = diff_schedules(new, None, FIRM_END)
    assert [(c.kind, c.old_date) for c in gone] == [("removed", day(3)), ("removed", day(20))]
    # no tasks for a supplier: no schedule (the removals above are what to send)
    assert build([], previous={"SUP-A": new}) == {}


def test_releasable_keeps_the_old_firm_zone_until_approval():
    old = build([task("P1", day(3), 100), task("P1", day(20), 50)])["SUP-A"]
    new = build([task("P1", day(3), 150), task("P1", day(5), 1), task("P1", day(20), 70)],
                previous={"SUP-A": old})["SUP-A"]
    sendable = releasable(old, new, FIRM_END)
    # firm zone as before (100 on 12-03, no line on 12-05); forecast zone new (70 on 12-20)
    assert lines(sendable) == [("P1", day(3), D(100), "firm"), ("P1", day(20), D(70), "forecast")]
    assert sendable.version == new.version
    # a first schedule that is all firm zone waits whole for approval
    assert releasable(None, build([task("P1", day(3), 1)])["SUP-A"], FIRM_END) is None


def test_purchase_units_stay_apart_and_part_numbers_are_filled():
    schedules = build([task("P1", day(3), 2, uom="BX"), task("P1", day(3), 10)],
                      supplier_material_ids={("SUP-A", "P1"): "SP-P1"})
    a = schedules["SUP-A"]
    assert sorted((l.uom, l.quantity, l.supplier_material_id) for l in a.lines) == [
        ("BX", D(2), "SP-P1"), ("H87", D(10), "SP-P1")]
