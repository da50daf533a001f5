"""Pure translation between canonical ShipmentNotice, the neutral WMS contract and GreaterWMS rows."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from adapters.wms.translate import (
    expected_receipt_from_asn,
    receipt_by_material,
    receipt_from_greaterwms,
    stock_item_from_greaterwms,
    whole_qty,
)
from canonical_model.documents import ShipmentNotice
from hub.errors import SkippableError


def notice(**overrides) -> dict:
    """A canonical ShipmentNotice dumped as JSON-ready dict, so field names are the model's own."""
    doc = ShipmentNotice(
        asn_number="DESADV-77", supplier_id="SUP-001", expected_arrival=dt.date(2024, 5, 8),
        lines=[
            {"line_no": 1, "po_number": "PO-1", "po_line_no": 10, "material_id": "1.02.0033",
             "quantity": Decimal("120.000"), "uom": "PCE", "batch_number": "B1"},
            {"line_no": 2, "po_number": "PO-1", "po_line_no": 20, "material_id": "1.02.0041",
             "quantity": Decimal("50"), "uom": "PCE"},
            {"line_no": 3, "po_number": "PO-2", "po_line_no": 10, "material_id": "1.02.0033",
             "quantity": Decimal("80"), "uom": "PCE", "batch_number": "B2"},
        ],
    ).model_dump(mode="json")
    doc.update(overrides)
    return doc


def test_lines_of_one_material_are_summed_into_one_wms_line():
    kwargs = expected_receipt_from_asn(notice())
    assert kwargs == {
        "asn_no": "DESADV-77", "supplier_code": "SUP-001", "expected_date": "2024-05-08",
        "lines": [{"line_no": 1, "sku": "1.02.0033", "qty": 200, "uom": "PCE"},
                  {"line_no": 2, "sku": "1.02.0041", "qty": 50, "uom": "PCE"}],
    }


def test_one_material_in_two_units_cannot_be_summed():
    doc = notice()
    doc["lines"][2]["uom"] = "KGM"
    with pytest.raises(SkippableError) as err:
        expected_receipt_from_asn(doc)
    assert err.value.code == "WMS_UOM_CONFLICT" and err.value.where == "ShipmentNotice DESADV-77 line 3"


@pytest.mark.parametrize("qty, code", [("2.5", "WMS_QTY_NOT_INTEGER"), ("0", "WMS_BAD_QTY"),
                                       ("-4", "WMS_BAD_QTY"), ("abc", "WMS_BAD_QTY"), ("NaN", "WMS_QTY_NOT_INTEGER")])
def test_quantities_greaterwms_cannot_store_are_skippable(qty, code):
    doc = notice()
    doc["lines"][1]["quantity"] = qty
    with pytest.raises(SkippableError) as err:
        expected_receipt_from_asn(doc)
    assert err.value.code == code and "line 2" in err.value.where


def test_whole_qty_accepts_decimal_strings_with_zero_fraction():
    assert whole_qty("200.000", "x") == 200 and whole_qty(Decimal("7"), "x") == 7


def test_missing_keys_are_skippable_not_keyerrors():
    with pytest.raises(SkippableError, match="supplier_id"):
        expected_receipt_from_asn(notice(supplier_id=""))
    with pytest.raises(SkippableError, match="no lines"):
        expected_receipt_from_asn(notice(lines=[]))


ASN_ROW = {"id": 3, "asn_code": "ASN00000003", "asn_status": 4, "update_time": "2024-05-08 09:12:44"}
DETAILS = [
    {"id": 12, "goods_code": "1.02.0041", "goods_qty": 50, "goods_actual_qty": 52, "goods_shortage_qty": 0,
     "goods_more_qty": 2, "goods_damage_qty": 2, "t_code": "b"},
    {"id": 11, "goods_code": "1.02.0033", "goods_qty": 200, "goods_actual_qty": 198, "goods_shortage_qty": 2,
     "goods_more_qty": 0, "goods_damage_qty": 0, "t_code": "a"},
]
BINS = [{"id": 2, "bin_name": "A-01-01", "t_code": "b"}, {"id": 1, "bin_name": "DMG-01", "t_code": "b"},
        {"id": 3, "bin_name": "A-01-02", "t_code": "a"}, {"id": 4, "bin_name": "X-99", "t_code": "other-asn"}]


def test_receipt_is_none_before_counting_and_incomplete_until_put_away():
    assert receipt_from_greaterwms("DESADV-77", ASN_ROW | {"asn_status": 3}, DETAILS, BINS) is None
    receipt = receipt_from_greaterwms("DESADV-77", ASN_ROW, DETAILS, BINS)
    assert receipt["complete"] is False and receipt["received_at"] == "2024-05-08T09:12:44"
    assert receipt_from_greaterwms("DESADV-77", ASN_ROW | {"asn_status": 5}, DETAILS, BINS)["complete"] is True


def test_receipt_lines_follow_wms_line_order_and_only_their_own_bins():
    lines = receipt_from_greaterwms("DESADV-77", ASN_ROW, DETAILS, BINS)["lines"]
    assert [(l["line_no"], l["sku"]) for l in lines] == [(1, "1.02.0033"), (2, "1.02.0041")]
    assert (lines[0]["qty_received"], lines[0]["qty_shortage"], lines[0]["bins"]) == ("198", "2", ["A-01-02"])
    assert (lines[1]["qty_damaged"], lines[1]["bin"], lines[1]["bins"]) == ("2", "DMG-01", ["DMG-01", "A-01-01"])


def test_receipt_maps_back_per_material_naming_every_shared_line():
    receipt = receipt_from_greaterwms("DESADV-77", ASN_ROW, DETAILS[1:], BINS)  # WMS knows only 1.02.0033
    rows = {r["material_id"]: r for r in receipt_by_material(receipt, notice())}
    bearing = rows["1.02.0033"]
    assert bearing["line_nos"] == [1, 3] and bearing["qty_expected"] == "200" and bearing["qty_received"] == "198"
    assert bearing["po_refs"] == [{"po_number": "PO-1", "po_line_no": 10}, {"po_number": "PO-2", "po_line_no": 10}]
    assert rows["1.02.0041"]["in_receipt"] is False and rows["1.02.0041"]["qty_received"] is None


def test_stock_row_becomes_neutral_item_with_decimal_strings():
    row = {"goods_code": "1.02.0033", "onhand_stock": 398, "can_order_stock": 348, "ordered_stock": 50,
           "inspect_stock": 0, "hold_stock": 0, "damage_stock": 0, "asn_stock": 10, "pre_sort_stock": 5,
           "update_time": "2024-05-08 09:12:44"}
    item = stock_item_from_greaterwms(row)
    assert item == {"sku": "1.02.0033", "bin": None, "lot": None, "on_hand": "398", "available": "348",
                    "reserved": "50", "inspection": "0", "hold": "0", "damaged": "0", "inbound": "15",
                    "as_of": "2024-05-08T09:12:44"}


# -- odoo dialect and shared helpers -------------------------------------------------------------

from adapters.wms import odoo_translate as ot  # noqa: E402
from adapters.wms.translate import batch_ref, canonical_uom, stock_levels  # noqa: E402


def test_odoo_dialect_keeps_every_line_with_lot_package_and_exact_decimals():
    doc = notice()
    doc["lines"][0]["package_id"] = "003456789012345675"
    doc["lines"][1]["quantity"] = "50.25"
    kwargs = expected_receipt_from_asn(doc, "odoo")
    assert kwargs["asn_no"] == "DESADV-77" and kwargs["expected_date"] == "2024-05-08"
    assert [(l["line_no"], l["sku"], l["qty"], l["lot"], l["package"], l["po_ref"]) for l in kwargs["lines"]] == [
        (1, "1.02.0033", "120", "B1", "003456789012345675", "PO-1"), (2, "1.02.0041", "50.25", None, None, "PO-1"),
        (3, "1.02.0033", "80", "B2", None, "PO-2")]


@pytest.mark.parametrize("qty", ["0", "-1", "abc", "Infinity", "12345678901234567.891"])
def test_odoo_dialect_refuses_quantities_a_float_cannot_hold(qty):
    doc = notice()
    doc["lines"][2]["quantity"] = qty
    with pytest.raises(SkippableError) as err:
        expected_receipt_from_asn(doc, "odoo")
    assert err.value.code == "WMS_BAD_QTY" and err.value.where == "ShipmentNotice DESADV-77 line 3"


def test_unknown_dialect_is_fatal():
    from hub.errors import FatalError

    with pytest.raises(FatalError):
        expected_receipt_from_asn(notice(), "sap")


def test_receipt_by_material_sums_lots_and_lists_them():
    receipt = {"lines": [
        {"sku": "1.02.0033", "lot": "B1", "package": None, "qty_received": "120", "qty_damaged": "0", "bin": "A-01-01",
         "bins": ["A-01-01"]},
        {"sku": "1.02.0033", "lot": "B2", "package": "S1", "qty_received": "70.5", "qty_damaged": "0", "bin": "A-01-02",
         "bins": ["A-01-02"]}]}
    rows = {r["material_id"]: r for r in receipt_by_material(receipt, notice())}
    assert rows["1.02.0033"]["qty_received"] == "190.5" and rows["1.02.0033"]["bins"] == ["A-01-01", "A-01-02"]
    assert [l["lot"] for l in rows["1.02.0033"]["lots"]] == ["B1", "B2"]


def test_units_come_from_the_crosswalk_then_odoo_standard_names():
    assert canonical_uom("PCS", "greaterwms", "x") == "H87"
    assert canonical_uom("Units", "odoo", "x") == "H87" and canonical_uom("kg", "odoo", "x") == "KGM"
    with pytest.raises(SkippableError) as err:
        canonical_uom("Units", "greaterwms", "stock row")
    assert err.value.code == "UNKNOWN_UOM" and err.value.where == "stock row"


def test_batch_ref_prefers_the_supplier_batch_number():
    assert batch_ref({"material_id": "M", "supplier_batch_number": "L1", "batch_id": "SUP:L1"}) == ("M", "L1")
    assert batch_ref({"material_id": "M", "batch_id": "SUP:L1"}) == ("M", "SUP:L1")
    with pytest.raises(SkippableError):
        batch_ref({"batch_number": "L1"})


def test_stock_levels_sum_per_material_bin_and_lot_and_collect_bad_rows():
    items = [{"sku": "A", "bin": "B1", "lot": "L", "on_hand": "2", "as_of": "2024-05-08T09:00:00+00:00"},
             {"sku": "A", "bin": "B1", "lot": "L", "on_hand": "3.5", "as_of": "2024-05-08T10:00:00+00:00"},
             {"sku": "A", "bin": "B1", "lot": None, "on_hand": "1", "as_of": None},
             {"sku": "Z", "bin": "B1", "lot": None, "on_hand": "1", "as_of": None},
             {"sku": "A", "bin": "B2", "lot": None, "on_hand": "NaN", "as_of": None}]
    rejects: list = []
    levels = stock_levels(items, {"A": "Units", "Z": "Fass"}.get, "odoo", rejects)
    assert [(l.material_id, l.warehouse, l.batch_number, str(l.quantity)) for l in levels] == [
        ("A", "B1", "", "1"), ("A", "B1", "L", "5.5")]
    assert levels[1].as_of.hour == 10
    assert sorted(r.code for r in rejects) == ["UNKNOWN_UOM", "WMS_BAD_QTY"]


def test_odoo_times_are_utc_both_ways():
    assert ot.iso_from_odoo("2024-05-08 09:12:44") == "2024-05-08T09:12:44+00:00"
    assert ot.odoo_datetime("2024-05-08") == "2024-05-08 00:00:00"
    assert ot.odoo_datetime("2024-05-08T10:00:00+02:00") == "2024-05-08 08:00:00"


def test_odoo_receipt_is_none_until_done_and_drops_zero_lines():
    picking = {"id": 5, "name": "WH/IN/00005", "state": "assigned", "date_done": False}
    assert ot.receipt_from_odoo("A", picking, [], {}, {}, None, []) is None
    lines = [{"id": 1, "product_id": [1, "[M] m"], "lot_id": [4, "L1"], "quantity": 3.0, "location_dest_id": [9, "WH/x"],
              "result_package_id": False},
             {"id": 2, "product_id": [1, "[M] m"], "lot_id": False, "lot_name": "L2", "quantity": 0.0,
              "location_dest_id": [9, "WH/x"], "result_package_id": False}]
    receipt = ot.receipt_from_odoo(None, dict(picking, state="done", date_done="2024-05-08 09:00:00"), lines,
                                   {1: "M"}, {9: "BIN-9"}, "SUP-1", ["WH/IN/00006"])
    assert [(l["sku"], l["lot"], l["qty_received"], l["bin"]) for l in receipt["lines"]] == [("M", "L1", "3", "BIN-9")]
    assert receipt["asn_no"] is None and receipt["backorders"] == ["WH/IN/00006"]
