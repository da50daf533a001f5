"""Purchase task allocation and buyer overrides; the sourcing table loader."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from pathlib import Path

import pytest

from canonical_model.store import audit
from collaboration.allocation import allocate, override, record_audit, task_id
from collaboration.mrp import NetRequirement, UnitConverter
from hub.errors import FatalError, SkippableError
from mappings.sourcing import SOURCING_COLUMNS, load_planning, load_sourcing, planning_with_defaults

PLAN = dt.date(2026, 12, 1)  # a Tuesday, ISO week 49
HEADER = ",".join(SOURCING_COLUMNS)


def day(d: int) -> dt.date:
    return dt.date(2026, 12, d)


def table(tmp_path: Path, *rows: str):
    path = tmp_path / "sourcing.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return load_sourcing(path)


def need(qty, material="RAW", on=day(15), pegs=None, make=False) -> NetRequirement:
    q = D(qty)
    return NetRequirement(material, on, q, q, on, "H87", make, pegs or {"MO-1": q})


UNITS = UnitConverter({("RAW", "BX", "H87"): D(50)})


def test_quota_split_with_multiples_and_reasons(tmp_path: Path):
    sourcing = table(tmp_path, "RAW,SUP-A,60,,,50,7,,,", "RAW,SUP-B,40,,,50,10,,,")
    result = allocate([need(1000)], sourcing, plan_date=PLAN, units=UNITS)
    # 1000 x 60 % = 600 and 400, both already multiples of 50
    assert [(t.supplier_id, t.quantity, t.purchase_quantity, t.order_date) for t in result.tasks] == [
        ("SUP-A", D(600), D(600), day(8)), ("SUP-B", D(400), D(400), day(5))]
    a = result.tasks[0]
    assert a.task_id == "PT/RAW/2026-12-15/SUP-A" and a.orders == ("MO-1",) and not a.late
    assert "60% of 1000 H87 needed on 2026-12-15 (quota 60, no grade)" in a.reason
    assert "order by 2026-12-08 (lead time 7 d)" in a.reason
    assert result.unallocated == []


def test_odd_split_adds_up_exactly_and_rounds_up_to_the_multiple(tmp_path: Path):
    sourcing = table(tmp_path, "RAW,SUP-A,1,,,,7,,,", "RAW,SUP-B,1,,,,7,,,", "RAW,SUP-C,1,,,,7,,,")
    result = allocate([need(100)], sourcing, plan_date=PLAN, units=UNITS)
    # 100 / 3 = 33.33 each: floors 33, 33, 33 and the one left over to the first (ties: order)
    assert [(t.supplier_id, t.quantity) for t in result.tasks] == [("SUP-A", D(34)), ("SUP-B", D(33)),
                                                                   ("SUP-C", D(33))]
    rounded = allocate([need(100)], table(tmp_path, "RAW,SUP-A,1,,,40,7,,,", "RAW,SUP-B,1,,,40,7,,,"),
                       plan_date=PLAN, units=UNITS)
    # 50 each, rounded up to multiples of 40: 80 each (the excess is below one multiple)
    assert [t.purchase_quantity for t in rounded.tasks] == [D(80), D(80)]
    assert "rounded up to a multiple of 40 H87" in rounded.tasks[0].reason


def test_grades_weigh_the_quota_and_grade_d_gets_nothing(tmp_path: Path):
    sourcing = table(tmp_path, "RAW,SUP-A,60,,,,7,,,", "RAW,SUP-B,40,,,,7,,,", "RAW,SUP-C,50,,,,7,,,")
    result = allocate([need(1000)], sourcing, plan_date=PLAN, units=UNITS,
                      grades={"SUP-A": "A", "SUP-B": "C", "SUP-C": "D"})
    # weights: A 60 x 1 = 60, B 40 x 0.5 = 20, C 50 x 0 = 0 -> 750 / 250
    assert [(t.supplier_id, t.quantity) for t in result.tasks] == [("SUP-A", D(750)), ("SUP-B", D(250))]
    assert "grade C x0.5" in result.tasks[1].reason and "SUP-C excluded (grade D x0)" in result.tasks[1].reason
    with pytest.raises(FatalError) as exc:
        allocate([need(1000)], sourcing, plan_date=PLAN, units=UNITS, grades={"SUP-A": "Z"})
    assert exc.value.code == "GRADE_UNKNOWN" and "SUP-A" in exc.value.message


def test_a_share_below_moq_moves_to_the_others_and_a_last_supplier_is_raised_to_moq(tmp_path: Path):
    sourcing = table(tmp_path, "RAW,SUP-A,60,,100,,7,,,", "RAW,SUP-B,40,,100,,7,,,")
    result = allocate([need(150)], sourcing, plan_date=PLAN, units=UNITS)
    # 150 -> 90 / 60, both below MOQ 100: the smaller (SUP-B) is dropped, SUP-A takes all 150
    assert [(t.supplier_id, t.quantity) for t in result.tasks] == [("SUP-A", D(150))]
    assert "SUP-B dropped: its share 60 H87 is below its MOQ 100 H87" in result.tasks[0].reason
    small = allocate([need(30)], sourcing, plan_date=PLAN, units=UNITS)
    # 30: SUP-B dropped, SUP-A alone at 30 < 100: raised to its MOQ
    assert [(t.supplier_id, t.purchase_quantity) for t in small.tasks] == [("SUP-A", D(100))]
    assert "raised to MOQ 100 H87" in small.tasks[0].reason


def test_weekly_capacity_cuts_a_share_and_the_rest_goes_elsewhere_or_stays_unallocated(tmp_path: Path):
    sourcing = table(tmp_path, "RAW,SUP-A,60,300,,,7,,,", "RAW,SUP-B,40,500,,,7,,,")
    # same ISO week (12-14 Monday .. 12-20): capacities A 300, B 500 are shared by both requirements
    result = allocate([need(600, on=day(14)), need(400, on=day(16), pegs={"MO-2": D(400)})], sourcing,
                      plan_date=PLAN, units=UNITS)
    # first: 360 / 240; A capped at 300 -> 60 more to B (240 + 60 = 300, within 500)
    # second: 240 / 160; A has 0 left -> 0, B has 200 left -> 160 + 40 = 200; 200 unallocated
    assert [(t.need_date, t.supplier_id, t.quantity) for t in result.tasks] == [
        (day(14), "SUP-A", D(300)), (day(14), "SUP-B", D(300)), (day(16), "SUP-B", D(200))]
    assert "cut to its capacity left in week 2026-W51" in result.tasks[0].reason
    assert "took 60 H87 more: others at capacity" in result.tasks[1].reason
    [left] = result.unallocated
    assert (left.need_date, left.quantity, left.orders) == (day(16), D(200), ("MO-2",))
    assert "at capacity in week 2026-W51" in left.reason
    # capacity already committed that week counts too
    committed = allocate([need(100, on=day(14))], sourcing, plan_date=PLAN, units=UNITS,
                         committed={("SUP-A", "RAW", (2026, 51)): D(300)})
    assert [(t.supplier_id, t.quantity) for t in committed.tasks] == [("SUP-B", D(100))]


def test_purchase_unit_boxes(tmp_path: Path):
    sourcing = table(tmp_path, "RAW,SUP-A,1,,2,,7,BX,,")
    result = allocate([need(120)], sourcing, plan_date=PLAN, units=UNITS)
    # 120 pieces = 2.4 boxes of 50 -> 3 boxes (multiple 1 box) = 150 pieces
    [t] = result.tasks
    assert (t.purchase_quantity, t.purchase_uom, t.quantity, t.uom) == (D(3), "BX", D(150), "H87")
    missing = table(tmp_path, "RAW,SUP-A,1,,,,7,PK,,")
    with pytest.raises(FatalError) as exc:
        allocate([need(120)], missing, plan_date=PLAN, units=UNITS)
    assert exc.value.code == "UNIT_CONVERSION_MISSING" and exc.value.where.endswith("sourcing.csv:2")


def test_late_tasks_are_proposed_and_marked(tmp_path: Path):
    sourcing = table(tmp_path, "RAW,SUP-A,1,,,,10,,,")
    [t] = allocate([need(10, on=day(4))], sourcing, plan_date=PLAN, units=UNITS).tasks
    # need 12-04 - 10 days = 11-24, before the plan date 12-01
    assert t.late and t.order_date == dt.date(2026, 11, 24) and "LATE" in t.reason


def test_no_approved_supplier_or_out_of_validity_is_unallocated(tmp_path: Path):
    sourcing = table(tmp_path, "RAW,SUP-A,1,,,,7,,2026-12-20,", "RAW,SUP-B,1,,,,7,,,2026-12-10")
    early, late_need = need(10, on=day(5)), need(10, on=day(25))
    result = allocate([early, late_need, need(5, material="OTHER")], sourcing, plan_date=PLAN, units=UNITS)
    # 12-05: only SUP-B applies (until 12-10); 12-25: only SUP-A (from 12-20); OTHER: nobody
    assert [(t.need_date, t.supplier_id) for t in result.tasks] == [(day(5), "SUP-B"), (day(25), "SUP-A")]
    assert [u.material_id for u in result.unallocated] == ["OTHER"]
    assert "no approved supplier" in result.unallocated[0].reason


def test_make_requirements_and_duplicates_are_not_double_ordered(tmp_path: Path):
    sourcing = table(tmp_path, "RAW,SUP-A,1,,,,7,,,")
    result = allocate([need(10, make=True), need(10), need(10)], sourcing, plan_date=PLAN, units=UNITS)
    # the make requirement is not bought; two equal requirements are two needs of the same day: the
    # task id names (material, day, supplier), so a caller sees the clash instead of a silent merge
    assert [t.task_id for t in result.tasks] == [task_id("RAW", day(15), "SUP-A")] * 2


# --------------------------------------------------------------------------- override
def test_buyer_override_returns_changed_tasks_and_the_audit_entry(tmp_path: Path, sqlite_store):
    sourcing = table(tmp_path, "RAW,SUP-A,60,,,50,7,,,", "RAW,SUP-B,40,,8,5,10,BX,,")
    tasks = allocate([need(1000)], sourcing, plan_date=PLAN, units=UNITS).tasks
    # SUP-B's 400 pieces = 8 boxes (its MOQ) -> multiple of 5 boxes: 10 boxes = 500 pieces
    assert [(t.supplier_id, t.purchase_quantity, t.purchase_uom) for t in tasks] == [("SUP-A", D(600), "H87"),
                                                                                    ("SUP-B", D(10), "BX")]
    at = dt.datetime(2026, 12, 1, 9, 30)
    changed, entry = override(tasks, "PT/RAW/2026-12-15/SUP-A", actor="buyer.li", reason="SUP-A strike next week",
                              at=at, sourcing=sourcing, units=UNITS, supplier_id="SUP-B")
    assert tasks[0].supplier_id == "SUP-A"  # the input is not changed
    moved = changed[0]
    # 600 pieces = 12 boxes of 50 -> multiple of 5 boxes: 15 boxes = 750 pieces
    assert (moved.supplier_id, moved.purchase_quantity, moved.purchase_uom, moved.quantity) == \
        ("SUP-B", D(15), "BX", D(750))
    assert moved.order_date == day(5) and moved.task_id == tasks[0].task_id
    assert moved.reason.startswith("override by buyer.li at 2026-12-01T09:30:00: SUP-A strike next week")
    assert changed[1] == tasks[1]
    assert (entry.actor, entry.action, entry.subject_type, entry.subject_key) == \
        ("buyer.li", "purchase_task_override", "PurchaseTask", "PT/RAW/2026-12-15/SUP-A")
    assert entry.details["before"]["supplier_id"] == "SUP-A" and entry.details["after"]["supplier_id"] == "SUP-B"
    assert entry.details["after"]["quantity"] == "750" and entry.details["warnings"] == []
    # the buyer may go below MOQ: accepted, and said so in the audit entry
    _, small = override(changed, moved.task_id, actor="buyer.li", reason="only 6 boxes left", at=at,
                        sourcing=sourcing, units=UNITS, purchase_quantity=D(6))
    # 6 boxes = 300 pieces: below MOQ 8, off the multiple 5, and 450 short of the 750 proposed
    assert small.details["warnings"] == ["below the MOQ 8 BX", "not a multiple of 5 BX",
                                         "450 H87 less than proposed: the requirement is not fully covered"]
    with sqlite_store.session() as session:
        record_audit(session, entry)
    with sqlite_store.session() as session:
        [row] = audit.history(session, "PurchaseTask", "PT/RAW/2026-12-15/SUP-A")
        assert (row.actor, row.action, row.details["reason"]) == ("buyer.li", "purchase_task_override",
                                                                  "SUP-A strike next week")


@pytest.mark.parametrize("kwargs, code", [
    ({"task": "PT/NOPE"}, "OVERRIDE_UNKNOWN_TASK"),
    ({"reason": "  "}, "OVERRIDE_REASON_MISSING"),
    ({"actor": ""}, "OVERRIDE_REASON_MISSING"),
    ({"supplier_id": "SUP-X"}, "OVERRIDE_SUPPLIER_NOT_APPROVED"),
    ({"purchase_quantity": D(0)}, "OVERRIDE_BAD_QUANTITY"),
    ({"purchase_quantity": D("-5")}, "OVERRIDE_BAD_QUANTITY"),
    ({"purchase_quantity": D("NaN")}, "OVERRIDE_BAD_QUANTITY"),
    ({"purchase_quantity": D(600)}, "OVERRIDE_NO_CHANGE"),
    ({"need_date": day(30)}, "OVERRIDE_SUPPLIER_NOT_APPROVED"),
])
def test_refused_overrides(tmp_path: Path, kwargs: dict, code: str):
    sourcing = table(tmp_path, "RAW,SUP-A,60,,,50,7,,,2026-12-20", "RAW,SUP-B,40,,,50,10,,,")
    tasks = allocate([need(1000)], sourcing, plan_date=PLAN, units=UNITS).tasks
    args = {"actor": "buyer.li", "reason": "why", **kwargs}
    task = args.pop("task", "PT/RAW/2026-12-15/SUP-A")
    with pytest.raises(SkippableError) as exc:
        override(tasks, task, at=dt.datetime(2026, 12, 1, 9), sourcing=sourcing, units=UNITS, **args)
    assert exc.value.code == code and exc.value.where == f"PurchaseTask/{task}"


# --------------------------------------------------------------------------- the tables
def test_the_shipped_tables_load():
    sourcing = load_sourcing()
    assert {r.supplier_id for r in sourcing.approved("1.02.0033")} == {"SUP-001", "SUP-002"}
    planning = planning_with_defaults(load_planning(), sourcing)
    assert planning["3.01.0007"].lead_time_days == 2


def test_planning_defaults_to_the_longest_supplier_lead_time(tmp_path: Path):
    sourcing = table(tmp_path, "RAW,SUP-A,1,,,,7,,,", "RAW,SUP-B,1,,,,12,,,")
    assert planning_with_defaults({}, sourcing)["RAW"].lead_time_days == 12


@pytest.mark.parametrize("rows, line, fragment", [
    (["RAW,SUP-A,abc,,,,7,,,"], 2, "quota_share 'abc' is not a number >= 0"),
    (["RAW,SUP-A,-1,,,,7,,,"], 2, "quota_share '-1'"),
    (["RAW,SUP-A,1,,,,,,,"], 2, "lead_time_days is required"),
    (["RAW,SUP-A,1,,,,7.5,,,"], 2, "lead_time_days '7.5' is not whole days"),
    (["RAW,SUP-A,1,,,0,7,,,"], 2, "multiple '0' is not a number > 0"),
    (["RAW,SUP-A,1,,,,7,,2026-13-01,"], 2, "valid_from '2026-13-01' is not an ISO date"),
    (["RAW,SUP-A,1,,,,7,,2026-12-10,2026-12-01"], 2, "valid_to 2026-12-01 is before valid_from"),
    (["RAW,SUP-A,1,,,,7,,,", "# comment", "RAW,SUP-A,2,,,,7,,,"], 4, "approved for RAW twice"),
    (["RAW,SUP-A,1,,,,7"], 2, "expected 10 columns, got 7"),
    ([",SUP-A,1,,,,7,,,"], 2, "material_id is required"),
    (["RAW,SUP-A,NaN,,,,7,,,"], 2, "quota_share 'NaN'"),
])
def test_sourcing_errors_point_at_file_and_line(tmp_path: Path, rows, line, fragment):
    with pytest.raises(FatalError) as exc:
        table(tmp_path, *rows)
    assert exc.value.code == "SOURCING_INVALID"
    assert exc.value.where.endswith(f"sourcing.csv:{line}") and fragment in exc.value.message


def test_sourcing_header_and_missing_file(tmp_path: Path):
    bad = tmp_path / "sourcing.csv"
    bad.write_text("material,supplier\n", encoding="utf-8")
    with pytest.raises(FatalError, match="header must be"):
        load_sourcing(bad)
    with pytest.raises(FatalError) as exc:
        load_sourcing(tmp_path / "none.csv")
    assert exc.value.code == "SOURCING_INVALID" and "cannot read" in exc.value.message


def test_planning_errors_point_at_file_and_line(tmp_path: Path):
    path = tmp_path / "planning.csv"
    path.write_text("material_id,lead_time_days,safety_stock,moq,multiple\nRAW,2,10,,\nRAW,3,,,\n", encoding="utf-8")
    with pytest.raises(FatalError) as exc:
        load_planning(path)
    assert exc.value.code == "PLANNING_INVALID" and exc.value.where.endswith("planning.csv:3")
    assert "listed twice" in exc.value.message
