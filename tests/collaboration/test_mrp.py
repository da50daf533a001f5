"""MRP: hand-checked cases. Every expected number is worked out in the comment above its assert."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from pathlib import Path

import pytest

from canonical_model.documents import (Batch, BillOfMaterials, Material, ProductionOrder, PurchaseOrder, Receipt,
                                       ShipmentNotice, StockLevel)
from collaboration.mrp import (LOT_SIZE, SAFETY_STOCK, MrpInput, UnitConverter, low_level_codes, run_mrp)
from hub.errors import FatalError
from mappings.sourcing import PlanningParameters

PLAN = dt.date(2026, 12, 1)


def day(d: int) -> dt.date:
    return dt.date(2026, 12, d)


def mat(*ids: str, uom: str = "H87") -> list[Material]:
    return [Material(material_id=i, name=i, uom=uom) for i in ids]


def bom(parent: str, *components, base="1", bom_id=None, status="active", uom=None) -> BillOfMaterials:
    lines = []
    for n, c in enumerate(components, start=1):
        material, per, *rest = c
        extra = rest[0] if rest else {}
        lines.append({"line_no": n, "material_id": material, "quantity_per": per, "uom": extra.get("uom", "H87"),
                      "scrap_rate": extra.get("scrap", "0"), "valid_from": extra.get("valid_from"),
                      "valid_to": extra.get("valid_to")})
    return BillOfMaterials(bom_id=bom_id or f"BOM-{parent}", material_id=parent, base_quantity=base, status=status,
                           uom=uom, components=lines)


def order(order_id: str, material: str, qty, start: dt.date, status="released", uom="H87") -> ProductionOrder:
    return ProductionOrder(order_id=order_id, material_id=material, quantity=qty, uom=uom, status=status,
                           start=dt.datetime.combine(start, dt.time(8)),
                           due=dt.datetime.combine(start + dt.timedelta(days=1), dt.time(17)))


def params(material: str, lead=0, safety="0", moq=None, multiple=None) -> PlanningParameters:
    return PlanningParameters(material, lead_time_days=lead, safety_stock=D(safety),
                              moq=None if moq is None else D(moq), multiple=None if multiple is None else D(multiple))


def reqs(result, material):
    return [(r.need_date, r.quantity, r.planned_quantity, r.release_date, dict(r.pegs))
            for r in result.for_material(material)]


# --------------------------------------------------------------------------- explosion
def test_multi_level_explosion_with_scrap_and_lead_time_offset():
    # FG = 2 SUB + 1 RAW-A (10 % scrap); SUB = 3 RAW-A + 0.5 RAW-B. SUB takes 2 days to make,
    # RAW-A is bought 5 days ahead. MO-1: 10 FG starting 12-10.
    inp = MrpInput(plan_date=PLAN, materials=mat("FG", "SUB", "RAW-A", "RAW-B"),
                   boms=[bom("FG", ("SUB", "2"), ("RAW-A", "1", {"scrap": "0.1"})),
                         bom("SUB", ("RAW-A", "3"), ("RAW-B", "0.5"))],
                   production_orders=[order("MO-1", "FG", 10, day(10))],
                   planning={"SUB": params("SUB", lead=2), "RAW-A": params("RAW-A", lead=5)})
    result = run_mrp(inp)
    # RAW-A sits under FG (level 1) and under SUB (level 2): its low-level code is the deeper one
    assert result.low_level_codes == {"FG": 0, "SUB": 1, "RAW-A": 2, "RAW-B": 2}
    # SUB: 10 FG x 2 = 20 needed on 12-10 (the order's start); made in 2 days -> released 12-08
    assert reqs(result, "SUB") == [(day(10), D(20), D(20), day(8), {"MO-1": D(20)})]
    assert result.for_material("SUB")[0].make is True
    # RAW-A: for SUB's planned order 20 x 3 = 60 on its release day 12-08; directly for FG
    # 10 x 1 x (1 + 0.1) = 11 on 12-10. Bought 5 days ahead: released 12-03 and 12-05.
    assert reqs(result, "RAW-A") == [(day(8), D(60), D(60), day(3), {"MO-1": D(60)}),
                                     (day(10), D(11), D(11), day(5), {"MO-1": D(11)})]
    # RAW-B: 20 x 0.5 = 10 on 12-08 (no lead time given: released the same day)
    assert reqs(result, "RAW-B") == [(day(8), D(10), D(10), day(8), {"MO-1": D(10)})]
    assert not result.for_material("RAW-A")[0].make


def test_base_quantity_and_bom_unit_divide_exactly():
    # BOM per 3 FG: 1 PART. 9 FG -> 9 x 1 / 3 = 3 PART exactly (no 2.9999...)
    inp = MrpInput(plan_date=PLAN, materials=mat("FG", "PART"), boms=[bom("FG", ("PART", "1"), base="3")],
                   production_orders=[order("MO-1", "FG", 9, day(5))])
    assert reqs(run_mrp(inp), "PART") == [(day(5), D(3), D(3), day(5), {"MO-1": D(3)})]


def test_effectivity_dates_pick_the_component_valid_on_the_order_start():
    # engineering change: OLD until 12-05 inclusive, NEW from 12-06
    inp = MrpInput(plan_date=PLAN, materials=mat("FG", "OLD", "NEW"),
                   boms=[bom("FG", ("OLD", "2", {"valid_to": day(5)}), ("NEW", "3", {"valid_from": day(6)}))],
                   production_orders=[order("MO-1", "FG", 10, day(5)), order("MO-2", "FG", 10, day(6))])
    result = run_mrp(inp)
    # MO-1 starts 12-05: 10 x 2 = 20 OLD; MO-2 starts 12-06: 10 x 3 = 30 NEW
    assert reqs(result, "OLD") == [(day(5), D(20), D(20), day(5), {"MO-1": D(20)})]
    assert reqs(result, "NEW") == [(day(6), D(30), D(30), day(6), {"MO-2": D(30)})]


def test_only_active_orders_and_boms_count():
    inp = MrpInput(plan_date=PLAN, materials=mat("FG", "RAW", "OTHER"),
                   boms=[bom("FG", ("RAW", "1")), bom("FG", ("OTHER", "1"), bom_id="BOM-FG-OLD", status="inactive")],
                   production_orders=[order("MO-1", "FG", 5, day(3)),
                                      order("MO-2", "FG", 7, day(3), status="completed"),
                                      order("MO-3", "FG", 9, day(3), status="cancelled"),
                                      order("MO-4", "FG", 2, day(3), status="started")])
    result = run_mrp(inp)
    # MO-1 5 + MO-4 2 = 7 RAW; the completed and cancelled orders and the inactive BOM add nothing
    assert reqs(result, "RAW") == [(day(3), D(7), D(7), day(3), {"MO-1": D(5), "MO-4": D(2)})]
    assert result.for_material("OTHER") == []


# --------------------------------------------------------------------------- netting
def test_netting_with_released_stock_safety_stock_open_po_and_in_transit_asn():
    stock = [StockLevel(material_id="RAW", warehouse="CK01", quantity="100", uom="H87"),  # no batch: counts
             StockLevel(material_id="RAW", warehouse="CK01", batch_number="L1", quantity="50", uom="H87"),
             StockLevel(material_id="RAW", warehouse="CK01", batch_number="L2", quantity="70", uom="H87"),
             StockLevel(material_id="RAW", warehouse="CK01", batch_number="L3", quantity="30", uom="H87"),
             StockLevel(material_id="RAW", warehouse="CK01", batch_number="L4", quantity="25", uom="H87"),
             StockLevel(material_id="RAW", warehouse="SCRAP", quantity="999", uom="H87")]
    batches = [Batch(batch_id="SUP-1:L1", material_id="RAW", supplier_id="SUP-1", quantity="50", uom="H87",
                     status="released"),
               Batch(batch_id="SUP-1:L2", material_id="RAW", supplier_id="SUP-1", quantity="70", uom="H87",
                     status="quarantined"),
               Batch(batch_id="B-L4", supplier_batch_number="L4", material_id="RAW", quantity="25", uom="H87",
                     status="rejected")]
    po = PurchaseOrder(po_number="PO-1", supplier_id="SUP-1", order_date=day(1), lines=[
        {"line_no": 1, "material_id": "RAW", "quantity": "200", "uom": "H87", "delivery_date": day(9)}])
    closed = PurchaseOrder(po_number="PO-2", supplier_id="SUP-1", order_date=day(1), status="closed", lines=[
        {"line_no": 1, "material_id": "RAW", "quantity": "777", "uom": "H87", "delivery_date": day(2)}])
    receipts = [Receipt(receipt_id="GR-1", received_at=dt.datetime(2026, 11, 30, 9), lines=[
                    {"line_no": 1, "po_number": "PO-1", "po_line_no": 1, "material_id": "RAW", "quantity": "50",
                     "uom": "H87"}]),
                Receipt(receipt_id="GR-2", asn_number="ASN-2", supplier_id="SUP-1",
                        received_at=dt.datetime(2026, 11, 30, 10),
                        lines=[{"line_no": 1, "material_id": "RAW", "quantity": "480", "uom": "H87"}])]
    asns = [ShipmentNotice(asn_number="ASN-1", supplier_id="SUP-1", expected_arrival=day(5), lines=[
                {"line_no": 1, "po_number": "PO-1", "po_line_no": 1, "material_id": "RAW", "quantity": "60",
                 "uom": "H87"}]),
            ShipmentNotice(asn_number="ASN-2", supplier_id="SUP-1", expected_arrival=day(2), lines=[
                {"line_no": 1, "material_id": "RAW", "quantity": "500", "uom": "H87"}]),
            ShipmentNotice(asn_number="ASN-3", supplier_id="SUP-1", expected_arrival=day(2), status="cancelled",
                           lines=[{"line_no": 1, "material_id": "RAW", "quantity": "999", "uom": "H87"}])]
    inp = MrpInput(plan_date=PLAN, materials=mat("FG", "RAW"), boms=[bom("FG", ("RAW", "1"))],
                   production_orders=[order("MO-3", "FG", 100, day(4)), order("MO-1", "FG", 200, day(4)),
                                      order("MO-2", "FG", 100, day(10))],
                   stock=stock, batches=batches, purchase_orders=[po, closed], receipts=receipts,
                   shipment_notices=asns, planning={"RAW": params("RAW", safety="40")},
                   excluded_warehouses=frozenset({"SCRAP"}))
    result = run_mrp(inp)
    # on hand: 100 (no batch) + 50 (L1 released) + 30 (L3: no Batch document, the ERP's word
    # counts) = 180; L2 quarantined, L4 rejected and the SCRAP warehouse are left out.
    assert result.on_hand["RAW"] == D(180)
    # in transit: ASN-1 60 arriving 12-05; ASN-2 is received (GR-2 names it), ASN-3 cancelled.
    # PO-1/1: 200 ordered - 50 received - 60 on ASN-1 = 90 due 12-09; PO-2 is closed.
    assert sorted((r.kind, r.date, r.quantity) for r in result.receipts["RAW"]) == [
        ("purchase_order", day(9), D(90)), ("shipment_notice", day(5), D(60))]
    # netting: 180 - safety 40 = 140 available. 12-04 needs 300 (MO-1 200, MO-3 100): stock
    # serves MO-1 first (order id order): 140 of its 200, so MO-1 is short 60 and MO-3 100.
    # 12-05 +60, 12-09 +90 -> 150 >= MO-2's 100 on 12-10: no requirement then.
    assert reqs(result, "RAW") == [(day(4), D(160), D(160), day(4), {"MO-1": D(60), "MO-3": D(100)})]


def test_safety_stock_shortfall_is_a_requirement_on_the_plan_date():
    # no demand at all; stock 30 against safety stock 100: 70 needed now, pegged to safety stock
    inp = MrpInput(plan_date=PLAN, materials=mat("RAW"), boms=[], production_orders=[],
                   stock=[StockLevel(material_id="RAW", warehouse="CK01", quantity="30", uom="H87")],
                   planning={"RAW": params("RAW", lead=3, safety="100")})
    assert reqs(run_mrp(inp), "RAW") == [(PLAN, D(70), D(70), day(1) - dt.timedelta(days=3), {SAFETY_STOCK: D(70)})]


def test_a_late_receipt_does_not_cover_an_earlier_need():
    # 50 needed on 12-03; a PO brings 50 on 12-06 (too late) and 30 more are needed on 12-08.
    po = PurchaseOrder(po_number="PO-1", supplier_id="S", order_date=PLAN, lines=[
        {"line_no": 1, "material_id": "RAW", "quantity": "50", "uom": "H87", "delivery_date": day(6)}])
    inp = MrpInput(plan_date=PLAN, materials=mat("FG", "RAW"), boms=[bom("FG", ("RAW", "1"))],
                   production_orders=[order("MO-1", "FG", 50, day(3)), order("MO-2", "FG", 30, day(8))],
                   purchase_orders=[po])
    # 12-03: 0 available -> 50 short (MO-1). 12-06: +50. 12-08: 30 taken, 20 left: no requirement.
    assert reqs(run_mrp(inp), "RAW") == [(day(3), D(50), D(50), day(3), {"MO-1": D(50)})]


def test_existing_sub_assembly_order_is_supply():
    # an MES order MO-S makes 15 SUB (due 12-05); FG MO-1 needs 2 x 10 = 20 SUB on 12-06
    inp = MrpInput(plan_date=PLAN, materials=mat("FG", "SUB", "RAW"),
                   boms=[bom("FG", ("SUB", "2")), bom("SUB", ("RAW", "1"))],
                   production_orders=[order("MO-1", "FG", 10, day(6)), order("MO-S", "SUB", 15, day(4))])
    result = run_mrp(inp)
    # SUB: MO-S brings 15 on its due day 12-05; 20 - 15 = 5 short on 12-06
    assert reqs(result, "SUB") == [(day(6), D(5), D(5), day(6), {"MO-1": D(5)})]
    # RAW: MO-S needs 15 on its start 12-04; the planned SUB order 5 on 12-06
    assert reqs(result, "RAW") == [(day(4), D(15), D(15), day(4), {"MO-S": D(15)}),
                                   (day(6), D(5), D(5), day(6), {"MO-1": D(5)})]


# --------------------------------------------------------------------------- lot sizing
def test_lot_sizing_moq_and_multiple_carry_the_excess_forward():
    # RAW: MOQ 100, multiple 30. Needs 10 (12-03), 50 (12-05), 80 (12-07).
    inp = MrpInput(plan_date=PLAN, materials=mat("FG", "RAW"), boms=[bom("FG", ("RAW", "1"))],
                   production_orders=[order("MO-1", "FG", 10, day(3)), order("MO-2", "FG", 50, day(5)),
                                      order("MO-3", "FG", 80, day(7))],
                   planning={"RAW": params("RAW", moq="100", multiple="30")})
    # 12-03: short 10 -> at least MOQ 100 -> next multiple of 30 = 120; 110 left over.
    # 12-05: 50 from the 110 -> 60 left. 12-07: 80 - 60 = 20 short -> 100 -> 120 again.
    assert [(r.need_date, r.quantity, r.planned_quantity) for r in run_mrp(inp).for_material("RAW")] == [
        (day(3), D(10), D(120)), (day(7), D(20), D(120))]


def test_lot_for_lot_without_parameters():
    inp = MrpInput(plan_date=PLAN, materials=mat("FG", "RAW"), boms=[bom("FG", ("RAW", "1.5"))],
                   production_orders=[order("MO-1", "FG", 7, day(3))])
    # 7 x 1.5 = 10.5, ordered as it is
    assert [(r.quantity, r.planned_quantity) for r in run_mrp(inp).for_material("RAW")] == [(D("10.5"), D("10.5"))]


# --------------------------------------------------------------------------- pegging
def test_pegging_through_a_sub_assembly_with_partial_stock_and_lot_size_excess():
    # FG = 2 SUB; SUB = 3 RAW; SUB stock 15, SUB made in multiples of 10. MO-1 and MO-2 each 5 FG on 12-06.
    inp = MrpInput(plan_date=PLAN, materials=mat("FG", "SUB", "RAW"),
                   boms=[bom("FG", ("SUB", "2")), bom("SUB", ("RAW", "3"))],
                   production_orders=[order("MO-2", "FG", 5, day(6)), order("MO-1", "FG", 5, day(6))],
                   stock=[StockLevel(material_id="SUB", warehouse="CK01", quantity="15", uom="H87")],
                   planning={"SUB": params("SUB", lead=1, multiple="10")})
    result = run_mrp(inp)
    # SUB gross: 10 for MO-1, 10 for MO-2 on 12-06. Stock 15 serves MO-1 (10) then 5 of MO-2:
    # MO-2 is short 5 -> planned 10 (multiple), released 12-05.
    assert reqs(result, "SUB") == [(day(6), D(5), D(10), day(5), {"MO-2": D(5)})]
    # RAW for the planned SUB order on 12-05: MO-2's 5 x 3 = 15, the lot-size excess 5 x 3 = 15
    assert reqs(result, "RAW") == [(day(5), D(30), D(30), day(5), {"MO-2": D(15), LOT_SIZE: D(15)})]
    assert result.for_material("RAW")[0].orders == ["MO-2"]


# --------------------------------------------------------------------------- units
def test_units_are_converted_to_the_base_unit(tmp_path: Path):
    table = tmp_path / "unit_conversions.csv"
    table.write_text("material,from_uom,to_uom,factor\nSCREW,BX,H87,50\n*,DZN,H87,12\n", encoding="utf-8")
    units = UnitConverter.load(table)
    po = PurchaseOrder(po_number="PO-1", supplier_id="S", order_date=PLAN, lines=[
        {"line_no": 1, "material_id": "SCREW", "quantity": "1", "uom": "BX", "delivery_date": day(2)}])
    inp = MrpInput(plan_date=PLAN, materials=mat("FG", "SCREW"),
                   boms=[bom("FG", ("SCREW", "0.5", {"uom": "DZN"}))],
                   production_orders=[order("MO-1", "FG", 10, day(5))], purchase_orders=[po],
                   stock=[StockLevel(material_id="SCREW", warehouse="CK01", quantity="2", uom="BX")], units=units)
    result = run_mrp(inp)
    # BOM: 0.5 DZN = 6 pieces per FG -> 60 pieces; stock 2 boxes = 100 pieces; PO 1 box = 50 pieces.
    # Available 150 >= 60: nothing needed. With 30 FG: 180 pieces - 150 = 30 short.
    assert result.on_hand["SCREW"] == D(100) and result.for_material("SCREW") == []
    bigger = MrpInput(**{**inp.__dict__, "production_orders": [order("MO-1", "FG", 30, day(5))]})
    assert reqs(run_mrp(bigger), "SCREW") == [(day(5), D(30), D(30), day(5), {"MO-1": D(30)})]
    # the inverse direction is divided, not multiplied by a rounded 1/12: 24 H87 = 2 DZN exactly
    assert units.convert("ANY", D(24), "H87", "DZN") == D(2)


def test_a_missing_unit_conversion_names_material_and_units():
    inp = MrpInput(plan_date=PLAN, materials=mat("FG", "SCREW"), boms=[bom("FG", ("SCREW", "1", {"uom": "BX"}))],
                   production_orders=[order("MO-1", "FG", 10, day(5))])
    with pytest.raises(FatalError) as exc:
        run_mrp(inp)
    assert exc.value.code == "UNIT_CONVERSION_MISSING"
    assert "SCREW" in exc.value.message and "BX" in exc.value.message and "H87" in exc.value.message
    assert exc.value.where == "BillOfMaterials/BOM-FG line 1"


def test_an_unconvertible_po_line_of_a_material_nobody_plans_does_not_stop_the_plan():
    odd = PurchaseOrder(po_number="PO-9", supplier_id="S", order_date=PLAN, lines=[
        {"line_no": 1, "material_id": "UNUSED", "quantity": "1", "uom": "XYZ", "delivery_date": day(2)}])
    inp = MrpInput(plan_date=PLAN, materials=mat("FG", "RAW", "UNUSED"), boms=[bom("FG", ("RAW", "1"))],
                   production_orders=[order("MO-1", "FG", 3, day(3))], purchase_orders=[odd])
    assert reqs(run_mrp(inp), "RAW") == [(day(3), D(3), D(3), day(3), {"MO-1": D(3)})]
    used = MrpInput(**{**inp.__dict__, "purchase_orders": [odd.model_copy(update={"lines": [
        odd.lines[0].model_copy(update={"material_id": "RAW"})]})]})
    with pytest.raises(FatalError) as exc:
        run_mrp(used)
    assert (exc.value.code, exc.value.where) == ("UNIT_CONVERSION_MISSING", "PurchaseOrder/PO-9 line 1")


@pytest.mark.parametrize("text, expected", [
    ("material,from_uom,to_uom,factor\nX,BX,H87,zero\n", "2"),
    ("material,from_uom,to_uom,factor\nX,BX,H87,-5\n", "2"),
    ("material,from_uom,to_uom,factor\nX,BX,H87,5\nX,BX,H87,6\n", "3"),
    ("material,from_uom,to_uom,factor\nX,BX,H87,5\nX,H87,BX,0.2\n", "3"),
    ("material,from_uom,to_uom,factor\nX,BX,H87\n", "2"),
    ("mat,from,to,f\n", "1"),
])
def test_unit_conversion_table_errors_point_at_file_and_line(tmp_path: Path, text: str, expected: str):
    table = tmp_path / "unit_conversions.csv"
    table.write_text(text, encoding="utf-8")
    with pytest.raises(FatalError) as exc:
        UnitConverter.load(table)
    assert exc.value.code == "UNIT_CONVERSIONS_INVALID"
    assert exc.value.where.endswith(f"unit_conversions.csv:{expected}")


def test_the_shipped_unit_conversion_table_loads():
    units = UnitConverter.load()
    assert units.convert("ANY", D(3), "KGM", "GRM") == D(3000)


# --------------------------------------------------------------------------- broken structure
def test_a_bom_cycle_is_an_error_naming_the_materials():
    inp = MrpInput(plan_date=PLAN, materials=mat("A", "B", "C", "D"),
                   boms=[bom("A", ("B", "1")), bom("B", ("C", "1"), ("D", "1")), bom("C", ("A", "1"))],
                   production_orders=[order("MO-1", "A", 1, day(3))])
    with pytest.raises(FatalError) as exc:
        run_mrp(inp)
    assert exc.value.code == "BOM_CYCLE"
    assert "A -> B -> C -> A" in exc.value.message
    assert "BOM-A, BOM-B, BOM-C" in exc.value.message


def test_a_self_referencing_bom_is_a_cycle():
    inp = MrpInput(plan_date=PLAN, materials=mat("A"), boms=[bom("A", ("A", "1"))],
                   production_orders=[order("MO-1", "A", 1, day(3))])
    with pytest.raises(FatalError, match="A -> A"):
        run_mrp(inp)


def test_a_cycle_no_order_reaches_does_not_stop_the_plan():
    inp = MrpInput(plan_date=PLAN, materials=mat("FG", "RAW", "X", "Y"),
                   boms=[bom("FG", ("RAW", "1")), bom("X", ("Y", "1")), bom("Y", ("X", "1"))],
                   production_orders=[order("MO-1", "FG", 4, day(3))])
    assert reqs(run_mrp(inp), "RAW") == [(day(3), D(4), D(4), day(3), {"MO-1": D(4)})]


def test_low_level_codes_cycle_below_a_shared_part():
    with pytest.raises(FatalError) as exc:
        low_level_codes({"R": ["P", "Q"], "P": ["Q"], "Q": ["S"], "S": ["Q"]}, ["R"])
    assert "Q -> S -> Q" in exc.value.message


def test_a_missing_component_is_an_error_naming_bom_parent_and_component():
    inp = MrpInput(plan_date=PLAN, materials=mat("FG"), boms=[bom("FG", ("GHOST", "1"))],
                   production_orders=[order("MO-1", "FG", 1, day(3))])
    with pytest.raises(FatalError) as exc:
        run_mrp(inp)
    assert exc.value.code == "BOM_MISSING_COMPONENT"
    assert "GHOST" in exc.value.message and "BOM-FG" in exc.value.message and "FG" in exc.value.message


def test_an_order_for_an_unknown_material_is_an_error():
    inp = MrpInput(plan_date=PLAN, materials=[], boms=[], production_orders=[order("MO-9", "NOPE", 1, day(3))])
    with pytest.raises(FatalError) as exc:
        run_mrp(inp)
    assert (exc.value.code, exc.value.where) == ("MATERIAL_UNKNOWN", "ProductionOrder/MO-9")


def test_several_active_boms_need_a_choice():
    boms = [bom("FG", ("A", "1"), bom_id="FG_V1.0"), bom("FG", ("B", "1"), bom_id="FG_V2.0")]
    inp = MrpInput(plan_date=PLAN, materials=mat("FG", "A", "B"), boms=boms,
                   production_orders=[order("MO-1", "FG", 2, day(3))])
    with pytest.raises(FatalError) as exc:
        run_mrp(inp)
    assert exc.value.code == "BOM_AMBIGUOUS" and "FG_V1.0, FG_V2.0" in exc.value.message
    chosen = run_mrp(MrpInput(**{**inp.__dict__, "bom_choice": {"FG": "FG_V2.0"}}))
    assert [r.material_id for r in chosen.requirements] == ["B"]


def test_an_order_without_bom_is_a_warning_not_silence():
    inp = MrpInput(plan_date=PLAN, materials=mat("FG"), boms=[], production_orders=[order("MO-1", "FG", 2, day(3))])
    result = run_mrp(inp)
    assert result.requirements == []
    assert [(w.code, w.where) for w in result.warnings] == [("NO_BOM", "ProductionOrder/MO-1")]


def test_duplicated_documents_count_once():
    # the same order, PO and stock row delivered twice (e.g. MES and ERP both sent them): counted once
    po = PurchaseOrder(po_number="PO-1", supplier_id="S", order_date=PLAN, lines=[
        {"line_no": 1, "material_id": "RAW", "quantity": "10", "uom": "H87", "delivery_date": day(2)}])
    stock = StockLevel(material_id="RAW", warehouse="CK01", quantity="5", uom="H87")
    mo = order("MO-1", "FG", 30, day(3))
    inp = MrpInput(plan_date=PLAN, materials=mat("FG", "RAW") * 2, boms=[bom("FG", ("RAW", "1"))] * 2,
                   production_orders=[mo, mo], purchase_orders=[po, po], stock=[stock, stock])
    result = run_mrp(inp)
    # 30 needed - 5 stock - 10 PO = 15, not 60 - 10 - 20 = 30
    assert reqs(result, "RAW") == [(day(3), D(15), D(15), day(3), {"MO-1": D(15)})]
    assert result.warnings == []


def test_a_duplicate_with_other_content_keeps_the_newer_version_and_says_so():
    old = order("MO-1", "FG", 30, day(3))
    new = old.model_copy(update={"quantity": D(40), "version": 2})
    inp = MrpInput(plan_date=PLAN, materials=mat("FG", "RAW"), boms=[bom("FG", ("RAW", "1"))],
                   production_orders=[new, old])
    result = run_mrp(inp)
    assert reqs(result, "RAW") == [(day(3), D(40), D(40), day(3), {"MO-1": D(40)})]
    assert [(w.code, w.where) for w in result.warnings] == [("DUPLICATE_DOCUMENT", "ProductionOrder/MO-1")]


def test_hostile_quantities_do_not_loop_or_crash():
    # a negative ASN line is ignored with a warning; a huge order is exact Decimal arithmetic
    asn = ShipmentNotice(asn_number="ASN-1", supplier_id="S", expected_arrival=day(2), lines=[
        {"line_no": 1, "material_id": "RAW", "quantity": "-50", "uom": "H87"}])
    inp = MrpInput(plan_date=PLAN, materials=mat("FG", "RAW"), boms=[bom("FG", ("RAW", "0.001"))],
                   production_orders=[order("MO-1", "FG", D("123456789012345678"), day(3))],
                   shipment_notices=[asn])
    result = run_mrp(inp)
    # 123456789012345678 x 0.001 = 123456789012345.678 exactly
    assert reqs(result, "RAW") == [(day(3), D("123456789012345.678"), D("123456789012345.678"), day(3),
                                    {"MO-1": D("123456789012345.678")})]
    assert [w.code for w in result.warnings] == ["NEGATIVE_QUANTITY"]
