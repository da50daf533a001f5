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
