"""Kingdee translation: receipt models (pure). Pulls are KingdeeErp's (tests/adapters/kingdee/test_erp.py)."""
from __future__ import annotations

import pytest

from adapters.kingdee import receipt_to_instock_model
from hub.errors import SkippableError

# ----------------------------------------------------------------------------- receipt_to_instock_model


RECEIPT = {
    "receipt_id": "WMS-RCV-0001", "supplier_id": "SUP-001", "received_at": "2026-12-01T20:30:00Z",
    "lines": [
        {"material_id": "1.02.0033", "quantity": "120", "uom": "Pcs", "batch_id": "LOT-A", "po_number": "CGDD000101",
         "location": "CK01"},
        {"material_id": "1.03.0100", "quantity": "12.5", "uom": "Pcs", "batch_id": None, "po_number": None,
         "location": "CK02"},
    ],
}


def test_receipt_to_instock_model():
    model = receipt_to_instock_model(RECEIPT)
    assert model["FID"] == 0 and "FBillNo" not in model  # numbering is Kingdee's
    assert model["F_HUB_ExtNo"] == "WMS-RCV-0001"
    assert model["FSupplierId"] == {"FNumber": "SUP-001"}
    assert model["FDate"] == "2026-12-02"  # 20:30Z is 04:30 next day in China, where Kingdee books it
    assert model["FInStockEntry"] == [
        {"FMaterialId": {"FNumber": "1.02.0033"}, "FRealQty": 120, "FUnitID": {"FNumber": "Pcs"},
         "FStockId": {"FNumber": "CK01"}, "FLot": {"FNumber": "LOT-A"}, "FPOOrderNo": "CGDD000101"},
        {"FMaterialId": {"FNumber": "1.03.0100"}, "FRealQty": 12.5, "FUnitID": {"FNumber": "Pcs"},
         "FStockId": {"FNumber": "CK02"}},
    ]
    assert receipt_to_instock_model(RECEIPT, external_number_field="FNote")["FNote"] == "WMS-RCV-0001"


def test_zero_quantity_lines_are_left_out_and_location_is_optional():
    lines = [{**RECEIPT["lines"][0], "quantity": "0"}, {**RECEIPT["lines"][1], "location": None}]
    [entry] = receipt_to_instock_model({**RECEIPT, "lines": lines})["FInStockEntry"]
    assert entry["FMaterialId"] == {"FNumber": "1.03.0100"} and "FStockId" not in entry


@pytest.mark.parametrize("change, text", [
    ({"supplier_id": ""}, "supplier_id"),
    ({"lines": []}, "lines"),
    ({"received_at": "yesterday"}, "received_at"),
    ({"lines": [{"material_id": "1.02.0033", "quantity": "-1", "uom": "Pcs", "location": "CK01"}]}, "positive"),
    ({"lines": [{"material_id": "1.02.0033", "quantity": "1", "location": "CK01"}]}, "uom"),
    ({"lines": [{"material_id": "1.02.0033", "quantity": "0", "uom": "Pcs", "location": "CK01"}]}, "nothing to post"),
    ({"lines": [{"material_id": "X", "quantity": "0.1000000000000000000001", "uom": "Pcs", "location": "CK01"}]},
     "precision"),
])
def test_bad_receipts_are_skippable_with_the_receipt_named(change, text):
    with pytest.raises(SkippableError) as info:
        receipt_to_instock_model({**RECEIPT, **change})
    assert info.value.code == "KINGDEE_BAD_RECEIPT" and text in info.value.message
    assert "WMS-RCV-0001" in info.value.where
