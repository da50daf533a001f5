"""Kingdee translation: row grouping and receipt models (pure), PO pulls against the simulator."""
from __future__ import annotations

import pytest

from adapters.kingdee import KingdeeConfig, KingdeeHook, group_bill_rows, pull_purchase_orders, receipt_to_instock_model
from hub.errors import SkippableError
from simulators.base import running
from simulators.kingdee import KingdeeState, make_server

HEADER = ["FID", "FBillNo", "FSupplierId.FNumber"]


def row(fid, number, entry_id, material, qty):
    return {"FID": fid, "FBillNo": number, "FSupplierId.FNumber": "SUP-001", "FPOOrderEntry_FEntryID": entry_id,
            "FMaterialId.FNumber": material, "FQty": qty}


# ----------------------------------------------------------------------------- group_bill_rows


def test_group_bill_rows_folds_entries_under_their_bill_with_kingdee_keys():
    rows = [row(1, "CGDD1", 11, "1.02.0033", 5), row(1, "CGDD1", 12, "1.02.0041", 6), row(2, "CGDD2", 21, "1.03.0100", 7)]
    bills = group_bill_rows(rows, HEADER)
    assert bills == [
        {"FID": 1, "FBillNo": "CGDD1", "FSupplierId.FNumber": "SUP-001", "FPOOrderEntry": [
            {"FPOOrderEntry_FEntryID": 11, "FMaterialId.FNumber": "1.02.0033", "FQty": 5},
            {"FPOOrderEntry_FEntryID": 12, "FMaterialId.FNumber": "1.02.0041", "FQty": 6}]},
        {"FID": 2, "FBillNo": "CGDD2", "FSupplierId.FNumber": "SUP-001", "FPOOrderEntry": [
            {"FPOOrderEntry_FEntryID": 21, "FMaterialId.FNumber": "1.03.0100", "FQty": 7}]},
    ]


def test_group_bill_rows_drops_rows_repeated_by_overlapping_pages_and_empty_left_joins():
    rows = [row(1, "CGDD1", 11, "A", 5), row(1, "CGDD1", 11, "A", 5), row(2, "CGDD2", None, None, None),
            row(1, "CGDD1", 12, "B", 6)]
    bills = group_bill_rows(rows, HEADER)
    assert [len(b["FPOOrderEntry"]) for b in bills] == [2, 0]


def test_group_bill_rows_needs_fid_and_honours_entry_key():
    with pytest.raises(ValueError):
        group_bill_rows([], ["FBillNo"])
    bills = group_bill_rows([{"FID": 9, "FEntryID": 1, "FRealQty": 3}], ["FID"], entry_key="FInStockEntry")
    assert bills == [{"FID": 9, "FInStockEntry": [{"FEntryID": 1, "FRealQty": 3}]}]


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


# ----------------------------------------------------------------------------- pull_purchase_orders


@pytest.fixture()
def sim():
    state = KingdeeState(users="acct-t:mes_api:pw-translate", apps="")
    with running(make_server(state=state, seed="demo")) as server:
        yield server


@pytest.fixture()
def hook(sim):
    config = KingdeeConfig(base_url=f"{sim.base_url}/k3cloud", acct_id="acct-t", username="mes_api",
                           password="pw-translate", page_size=2, timeout=5)
    with KingdeeHook(config) as h:
        yield h


def numbers(bills):
    return [b["FBillNo"] for b in bills]


def test_full_pull_returns_each_bill_once_with_its_lines(hook):
    bills = pull_purchase_orders(hook, None)
    assert numbers(bills) == ["CGDD000101", "CGDD000102", "CGDD000103"]
    first = bills[0]
    assert first["FSupplierId.FNumber"] == "SUP-001" and first["FSettleCurrId.FNumber"] == "PRE001"
    assert [(line["FSeq"], line["FMaterialId.FNumber"], line["FQty"], line["FUnitId.FNumber"])
            for line in first["FPOOrderEntry"]] == [(1, "1.02.0033", 500, "Pcs"), (2, "1.02.0041", 300, "Pcs")]


def test_incremental_pull_picks_up_only_changed_bills(sim, hook):
    watermark = "2026-11-22T00:00:00"
    assert pull_purchase_orders(hook, watermark) == []
    # a buyer reopens CGDD000102 three days later and raises a quantity
    sim.state.set_now("2026-11-25T10:00:00")
    [fid] = {r["FID"] for r in hook.execute_bill_query("PUR_PurchaseOrder", ["FID"], "FBillNo='CGDD000102'")}
    view = hook.view("PUR_PurchaseOrder", "CGDD000102")
    hook.unaudit("PUR_PurchaseOrder", ["CGDD000102"])
    hook.save("PUR_PurchaseOrder", {"FID": fid, "FPOOrderEntry": [
        {"FEntryID": line["Id"], "FQty": 1500 if line["Seq"] == 1 else line["Qty"]} for line in view["POOrderEntry"]]})
    hook.submit("PUR_PurchaseOrder", ["CGDD000102"])
    hook.audit("PUR_PurchaseOrder", ["CGDD000102"])
    [bill] = pull_purchase_orders(hook, watermark)
    assert bill["FBillNo"] == "CGDD000102" and bill["FModifyDate"] == "2026-11-25T10:00:00"
    assert [line["FQty"] for line in bill["FPOOrderEntry"]] == [1500, 200]


def test_overlap_rereads_bills_just_before_the_watermark(hook):
    # CGDD000103 was modified at 2026-11-21T08:15:00
    assert numbers(pull_purchase_orders(hook, "2026-11-21T08:18:00")) == ["CGDD000103"]
    assert pull_purchase_orders(hook, "2026-11-21T08:25:00") == []
    assert pull_purchase_orders(hook, "2026-11-21T08:18:00", overlap_minutes=0) == []
    # a watermark with an offset is converted to Kingdee's local time (UTC+8)
    assert numbers(pull_purchase_orders(hook, "2026-11-21T00:18:00+00:00")) == ["CGDD000103"]


def test_bill_saved_before_and_audited_after_the_watermark_is_not_lost(sim, hook):
    sim.state.set_now("2026-11-26T09:00:00")
    _, number = hook.save("PUR_PurchaseOrder", {
        "FDate": "2026-11-26", "FSupplierId": {"FNumber": "SUP-002"}, "FPurchaseOrgId": {"FNumber": "100"},
        "FPOOrderEntry": [{"FMaterialId": {"FNumber": "1.02.0041"}, "FUnitId": {"FNumber": "Pcs"}, "FQty": 50}]})
    assert pull_purchase_orders(hook, "2026-11-26T08:00:00") == []  # saved but not audited yet
    sim.state.set_now("2026-11-26T15:00:00")
    hook.submit("PUR_PurchaseOrder", [number])
    hook.audit("PUR_PurchaseOrder", [number])
    # the next run's watermark is after the save: only FApproveDate can bring the bill in
    assert numbers(pull_purchase_orders(hook, "2026-11-26T12:00:00")) == [number]
    assert pull_purchase_orders(hook, "2026-11-26T12:00:00", audited_only=False)[0]["FDocumentStatus"] == "C"
