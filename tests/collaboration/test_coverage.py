"""Coverage of production orders by firm supply, and what changes when supply changes."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from canonical_model.documents import (Batch, BillOfMaterials, Material, ProductionOrder, PurchaseOrder,
                                       ShipmentNotice, StockLevel)
from collaboration.coverage import (demand_change, late_supplier, lost_coverage, order_coverage, reject_batch,
                                    what_if)
from collaboration.mrp import MrpInput, run_mrp
from hub.errors import FatalError, SkippableError
from mappings.sourcing import PlanningParameters

PLAN = dt.date(2026, 12, 1)


def day(d: int) -> dt.date:
    return dt.date(2026, 12, d)


def mo(order_id: str, qty: int, start: int, material="FG") -> ProductionOrder:
    begin = dt.datetime.combine(day(start), dt.time(8))
    return ProductionOrder(order_id=order_id, material_id=material, quantity=qty, uom="H87", status="released",
                           start=begin, due=begin + dt.timedelta(days=1))


def po(number: str, supplier: str, material: str, qty: int, on: int) -> PurchaseOrder:
    return PurchaseOrder(po_number=number, supplier_id=supplier, order_date=PLAN, lines=[
        {"line_no": 1, "material_id": material, "quantity": qty, "uom": "H87", "delivery_date": day(on)}])


def plant() -> MrpInput:
    """FG = 2 RAW-A + 1 SUB; SUB = 1 RAW-B, made in 2 days.

    RAW-A: stock 20, PO-1 (SUP-1) 20 on 12-07, PO-2 (SUP-2) 10 on 12-11.
    RAW-B: ASN-1 (SUP-1) 25 arriving 12-02 in batch LOT-9.
    MO-1 10 FG on 12-05, MO-2 10 on 12-08, MO-3 5 on 12-12.
    """
    return MrpInput(
        plan_date=PLAN,
        materials=[Material(material_id=m, name=m, uom="H87") for m in ("FG", "SUB", "RAW-A", "RAW-B")],
        boms=[BillOfMaterials(bom_id="BOM-FG", material_id="FG", components=[
                  {"line_no": 1, "material_id": "RAW-A", "quantity_per": "2", "uom": "H87"},
                  {"line_no": 2, "material_id": "SUB", "quantity_per": "1", "uom": "H87"}]),
              BillOfMaterials(bom_id="BOM-SUB", material_id="SUB", components=[
                  {"line_no": 1, "material_id": "RAW-B", "quantity_per": "1", "uom": "H87"}])],
        production_orders=[mo("MO-1", 10, 5), mo("MO-2", 10, 8), mo("MO-3", 5, 12)],
        stock=[StockLevel(material_id="RAW-A", warehouse="CK01", quantity="20", uom="H87")],
        purchase_orders=[po("PO-1", "SUP-1", "RAW-A", 20, 7), po("PO-2", "SUP-2", "RAW-A", 10, 11)],
        shipment_notices=[ShipmentNotice(asn_number="ASN-1", supplier_id="SUP-1", expected_arrival=day(2), lines=[
            {"line_no": 1, "material_id": "RAW-B", "quantity": "25", "uom": "H87", "batch_number": "LOT-9"}])],
        planning={"SUB": PlanningParameters("SUB", lead_time_days=2)},
    )


def summary(changes):
    return [(c.order_id, c.before, c.after, c.delay_days, c.materials) for c in changes]


def test_every_order_is_covered_as_planned():
    coverage = order_coverage(run_mrp(plant()))
    # RAW-A first come first served: MO-1 20 from stock; MO-2 cumulative 40 reached by PO-1 on
    # 12-07 (needed 12-08); MO-3 cumulative 50 by PO-2 on 12-11 (needed 12-12).
    # RAW-B via SUB (released 2 days before each start): 10 on 12-03, 10 on 12-06, 5 on 12-10,
    # all within ASN-1's 25 arriving 12-02.
    assert {o: (c.earliest_start, c.covered) for o, c in coverage.items()} == {
        "MO-1": (day(5), True), "MO-2": (day(8), True), "MO-3": (day(12), True)}


def test_late_supplier_delays_the_orders_it_feeds_by_the_lead_time_path():
    result = what_if(plant(), lambda i: late_supplier(i, "SUP-1", 3))
    # PO-1 now 12-10: MO-2's RAW-A (needed 12-08) comes 2 days late -> MO-2 earliest 12-10.
    # ASN-1 now 12-05: MO-1's RAW-B is needed on 12-03 (SUB released 2 days before MO-1's start
    # 12-05) -> 2 days late -> MO-1 earliest 12-07. MO-3 still fine (PO-2 is SUP-2's).
    assert summary(result.changes) == [("MO-1", day(5), day(7), 2, ("RAW-B",)),
                                       ("MO-2", day(8), day(10), 2, ("RAW-A",))]
    assert result.changes[0].material_id == "FG"
    assert result.already_uncovered == []


def test_rejected_batch_leaves_orders_without_firm_supply():
    result = what_if(plant(), lambda i: reject_batch(i, "LOT-9"))
    # LOT-9 was all the RAW-B there is: every order loses it
    assert summary(result.changes) == [("MO-1", day(5), None, None, ("RAW-B",)),
                                       ("MO-2", day(8), None, None, ("RAW-B",)),
                                       ("MO-3", day(12), None, None, ("RAW-B",))]


def test_rejecting_a_released_stock_batch_by_its_hub_id():
    inp = plant()
    inp.stock = [StockLevel(material_id="RAW-A", warehouse="CK01", batch_number="L7", quantity="20", uom="H87")]
    inp.batches = [Batch(batch_id="SUP-1:L7", material_id="RAW-A", supplier_id="SUP-1", quantity="20", uom="H87",
                         status="released")]
    result = what_if(inp, lambda i: reject_batch(i, "SUP-1:L7"))
    # without the 20 in stock: MO-1 20 by PO-1 on 12-07 (+2), MO-2 cumulative 40 > 30 -> none,
    # MO-3 after MO-2 -> none
    assert summary(result.changes) == [("MO-1", day(5), day(7), 2, ("RAW-A",)),
                                       ("MO-2", day(8), None, None, ("RAW-A",)),
                                       ("MO-3", day(12), None, None, ("RAW-A",))]


def test_demand_up_20_percent_for_a_finished_good_scales_its_orders():
    result = what_if(plant(), lambda i: demand_change(i, "FG", D(20)))
    # orders 12, 12, 6 FG. RAW-A 24 / 24 / 12: MO-1 cumulative 24 > 20 stock -> PO-1 12-07 (+2);
    # MO-2 48 -> PO-2 12-11 (needed 12-08: +3); MO-3 60 > 50 -> none.
    # RAW-B 12 / 12 / 6: cumulative 30 > 25 for MO-3 only.
    assert summary(result.changes) == [("MO-1", day(5), day(7), 2, ("RAW-A",)),
                                       ("MO-2", day(8), day(11), 3, ("RAW-A",)),
                                       ("MO-3", day(12), None, None, ("RAW-A", "RAW-B"))]


def test_demand_up_for_a_component_scales_its_gross_requirements():
    result = what_if(plant(), lambda i: demand_change(i, "RAW-A", D(20)))
    # RAW-A 24 / 24 / 12, same supply: as above for RAW-A; RAW-B unchanged
    assert summary(result.changes) == [("MO-1", day(5), day(7), 2, ("RAW-A",)),
                                       ("MO-2", day(8), day(11), 3, ("RAW-A",)),
                                       ("MO-3", day(12), None, None, ("RAW-A",))]
    with pytest.raises(SkippableError):
        demand_change(plant(), "RAW-A", D(-100))


def test_scenarios_do_not_touch_the_input_and_accept_one_shot_iterables():
    inp = plant()
    late = late_supplier(inp, "SUP-1", 3)
    assert inp.purchase_orders[0].lines[0].delivery_date == day(7)
    assert late.purchase_orders[0].lines[0].delivery_date == day(10)
    assert inp.shipment_notices[0].expected_arrival == day(2)
    streamed = MrpInput(**{**plant().__dict__, "purchase_orders": iter(plant().purchase_orders),
                           "production_orders": (o for o in plant().production_orders)})
    assert summary(what_if(streamed, lambda i: late_supplier(i, "SUP-1", 3)).changes) == summary(
        what_if(plant(), lambda i: late_supplier(i, "SUP-1", 3)).changes)


def test_orders_uncovered_before_are_not_reported_as_lost():
    inp = plant()
    inp.production_orders = [*inp.production_orders, mo("MO-4", 100, 20)]
    result = what_if(inp, lambda i: late_supplier(i, "SUP-2", 1))
    # MO-4 (200 RAW-A) has no firm supply before or after: nothing lost, listed as already uncovered
    assert result.already_uncovered == ["MO-4"]
    # PO-2 one day later (12-12) still covers MO-3 on 12-12
    assert result.changes == []


def test_earlier_supply_is_no_loss_and_broken_data_is_an_error():
    before = run_mrp(plant())
    earlier = run_mrp(late_supplier(plant(), "SUP-1", -1))
    assert lost_coverage(before, earlier) == []
    broken = plant()
    broken.boms = [*broken.boms, BillOfMaterials(bom_id="BOM-RAW-B", material_id="RAW-B", components=[
        {"line_no": 1, "material_id": "SUB", "quantity_per": "1", "uom": "H87"}])]
    with pytest.raises(FatalError, match="BOM_CYCLE|cycle"):
        what_if(broken, lambda i: late_supplier(i, "SUP-1", 3))


def schedule(supplier: str, version: int, *lines) -> "DeliverySchedule":
    from canonical_model.documents import DeliverySchedule

    return DeliverySchedule(schedule_id=f"DS-{supplier}", supplier_id=supplier, version=version,
                            horizon_start=PLAN, horizon_end=day(31), lines=[
                                {"material_id": m, "date": day(d), "quantity": str(q), "uom": "H87", "commitment": c}
                                for m, d, q, c in lines])


def test_an_acknowledged_schedules_firm_zone_is_committed_supply_but_not_netted():
    inp = plant()
    inp.purchase_orders = [po("PO-1", "SUP-1", "RAW-A", 20, 7)]  # without PO-2, MO-3's RAW-A is not covered
    assert order_coverage(run_mrp(inp))["MO-3"].earliest_start is None
    # SUP-2 acknowledged 10 RAW-A firm on 12-11 (and 99 as forecast, which commits to nothing)
    inp.committed_schedules = [schedule("SUP-2", 3, ("RAW-A", 11, 10, "firm"), ("RAW-A", 12, 99, "forecast"))]
    result = run_mrp(inp)
    # MO-3 needs cumulative 50 RAW-A on 12-12: 20 stock + 20 PO-1 + 10 from the schedule on 12-11
    assert order_coverage(result)["MO-3"].earliest_start == day(12)
    assert [r.ref for r in result.committed["RAW-A"]] == ["DS-SUP-2 v3"]
    # netting is the same with or without it: the schedule is MRP's own plan, not extra supply
    assert result.requirements == run_mrp(plant_without("PO-2")).requirements


def plant_without(po_number: str) -> MrpInput:
    inp = plant()
    inp.purchase_orders = [p for p in inp.purchase_orders if p.po_number != po_number]
    return inp


def test_late_supplier_moves_its_acknowledged_schedule_lines_too():
    inp = plant_without("PO-2")
    inp.committed_schedules = [schedule("SUP-2", 1, ("RAW-A", 11, 10, "firm"))]
    result = what_if(inp, lambda i: late_supplier(i, "SUP-2", 5))
    # the 10 now come on 12-16: MO-3 (needs them 12-12) can start 4 days later
    assert summary(result.changes) == [("MO-3", day(12), day(16), 4, ("RAW-A",))]
