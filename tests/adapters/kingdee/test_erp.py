"""KingdeeErp (hub.erp.ErpClient) against the Kingdee simulator over real HTTP: pulls and pushes."""
from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from decimal import Decimal

import pytest

from adapters.kingdee.erp import KingdeeErp
from canonical_model.documents import Inspection, OrderResponse, Receipt, Source
from hub.erp import ENTITIES, ErpClient, ErpRecord, open_erp
from hub.errors import FatalError, RetriableError, SkippableError
from mappings.engine import load_mapping
from simulators.kingdee import touch

from tests.adapters.kingdee.conftest import ERP_ACCT, ERP_PASSWORD, ERP_USER, calls, make_erp

#: entity -> (form, how many records the simulator holds for it in the erp_sim fixture)
FORMS = {"suppliers": "BD_Supplier", "materials": "BD_MATERIAL", "boms": "ENG_BOM",
         "purchase_orders": "PUR_PurchaseOrder", "production_orders": "PRD_MO", "stock": "STK_Inventory"}


def expected_keys(sim, entity: str) -> list[str]:
    """What the simulator holds, computed from its tables (not through the adapter)."""
    bills = sim.state.bills(FORMS[entity])
    if entity in ("suppliers", "materials", "boms"):
        return sorted(b["FNumber"] for b in bills)
    if entity == "purchase_orders":
        return sorted(b["FBillNo"] for b in bills)
    if entity == "production_orders":
        return sorted(f"{b['FBillNo']}-{e['FSeq']}" for b in bills for e in b["FTreeEntity"])
    return sorted(f"{b['FMaterialId']['FNumber']}|{b['FStockId']['FNumber']}|{(b['FLot'] or {}).get('FNumber', '')}"
                  for b in bills)


def map_all(erp: KingdeeErp, entity: str, records: list[ErpRecord]) -> list:
    mapping = load_mapping(erp.mapping_path(entity))
    return [mapping.apply(r.data, Source(system="kingdee", request=f"{entity} {r.key}")) for r in records]


# ----------------------------------------------------------------------------- contract


def test_kingdee_erp_is_the_registered_erp_client(monkeypatch, erp_sim):
    conn = {"conn_type": "kingdee", "host": "127.0.0.1", "port": erp_sim.server_address[1], "schema": "k3cloud",
            "login": ERP_USER, "password": ERP_PASSWORD,
            "extra": {"acct_id": ERP_ACCT, "lcid": 2052, "auth": "password", "receipt_form": "PUR_ReceiveBill"}}
    monkeypatch.setenv("AIRFLOW_CONN_KINGDEE_DEFAULT", json.dumps(conn))
    client = open_erp("kingdee")
    try:
        assert isinstance(client, KingdeeErp) and client.system == "kingdee"
        # every member of the (not runtime-checkable) ErpClient protocol is there
        members = [name for name in vars(ErpClient) if not name.startswith("_")]
        assert set(members) >= {"mapping_path", "pull", "push", "close"}
        assert all(callable(getattr(client, name)) for name in members if name != "system")
        assert client.hook.max_attempts == 4  # the connection did not say: the ERP client's default
        assert client.config.receipt_form == "PUR_ReceiveBill"
        assert len(list(client.pull("suppliers", None))) == 20
        assert ERP_PASSWORD not in repr(client)
    finally:
        client.close()


def test_login_by_app_secret_from_the_connection_password(monkeypatch, erp_sim):
    erp_sim.state._apps[(ERP_ACCT, ERP_USER, "hub_app_1")] = "app-Secret-77"
    conn = {"conn_type": "kingdee", "host": f"http://127.0.0.1:{erp_sim.server_address[1]}", "login": ERP_USER,
            "password": "app-Secret-77",
            "extra": json.dumps({"acct_id": ERP_ACCT, "auth": "app_secret", "app_id": "hub_app_1", "max_attempts": 2})}
    monkeypatch.setenv("AIRFLOW_CONN_KINGDEE_TEST", json.dumps(conn))
    with KingdeeErp("kingdee_test") as client:
        assert client.hook.max_attempts == 2
        assert [r.key for r in client.pull("suppliers", None)][:2] == ["SUP-001", "SUP-002"]
    assert erp_sim.state.calls[0] == "AuthService.LoginByAppSecret"


def test_app_secret_auth_without_app_id_is_a_config_error(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_KINGDEE_DEFAULT",
                       "kingdee://mes_api:s3cret@erp.example.com/k3cloud?acct_id=1&auth=app_secret")
    with pytest.raises(FatalError) as info:
        KingdeeErp()
    assert info.value.code == "KINGDEE_CONFIG" and "app_id" in info.value.message
    assert "s3cret" not in str(info.value)


def test_mapping_paths_exist_and_unknown_entity_is_fatal(erp):
    for entity, form in FORMS.items():
        path = erp.mapping_path(entity)
        assert path.name == f"{form}.yaml" and path.is_file()
        assert load_mapping(path).target.__name__ == ENTITIES[entity]
    with pytest.raises(FatalError) as info:
        erp.mapping_path("invoices")
    assert info.value.code == "KINGDEE_ENTITY"


# ----------------------------------------------------------------------------- pull


@pytest.mark.parametrize("entity", list(FORMS))
def test_every_entity_pulls_every_record_once_and_maps(erp_sim, entity):
    with make_erp(erp_sim, page_size=5) as erp:
        records = list(erp.pull(entity, None))
    keys = [r.key for r in records]
    assert sorted(keys) == expected_keys(erp_sim, entity) and len(set(keys)) == len(keys)
    docs = map_all(erp, entity, records)
    assert {type(d).__name__ for d in docs} == {ENTITIES[entity]}
    json.dumps([r.data for r in records])  # data is JSON-able as the contract says
    if entity == "stock":
        assert all(r.modified is None for r in records)
    else:
        assert all(isinstance(r.modified, dt.datetime) and r.modified.tzinfo is None for r in records)


def test_purchase_order_records_carry_every_line_in_order(erp_sim, erp):
    by_number = {b["FBillNo"]: b for b in erp_sim.state.bills("PUR_PurchaseOrder")}
    for record in erp.pull("purchase_orders", None):
        bill = by_number[record.key]
        lines = record.data["FPOOrderEntry"]
        assert [line["FPOOrderEntry_FEntryID"] for line in lines] == [e["FEntryID"] for e in bill["FPOOrderEntry"]]
        assert [line["FSeq"] for line in lines] == list(range(1, len(lines) + 1))
        assert record.data["FSupplierId.FNumber"] == bill["FSupplierId"]["FNumber"]
        assert record.modified == dt.datetime.fromisoformat(max(bill["FModifyDate"], bill["FApproveDate"]))


def test_pull_streams_bill_by_bill_without_reading_ahead(erp_sim):
    with make_erp(erp_sim, page_size=4) as erp:
        stream = erp.pull("purchase_orders", None)
        assert calls(erp_sim, "ExecuteBillQuery") == 0  # nothing is fetched before it is asked for
        first = next(stream)
        assert first.key == "CGDD000101"
        assert calls(erp_sim, "ExecuteBillQuery") == 1  # one page was enough for the first bill
        rest = list(stream)
    assert 1 + len(rest) == len(erp_sim.state.bills("PUR_PurchaseOrder"))


def test_bom_quantities_are_exact_per_base_quantity(erp_sim, erp):
    erp_sim.state.save("ENG_BOM", {
        "FNumber": "1.02.0033_V9.0", "FMaterialId": {"FNumber": "1.02.0033"}, "FUnitId": {"FNumber": "Pcs"},
        "FTreeEntity": [
            {"FMaterialIdChild": {"FNumber": "1.03.0100"}, "FChildUnitId": {"FNumber": "Pcs"}, "FNumerator": 1,
             "FDenominator": 2, "FScrapRate": 2},
            {"FMaterialIdChild": {"FNumber": "1.02.0041"}, "FChildUnitId": {"FNumber": "Pcs"}, "FNumerator": 1,
             "FDenominator": 3},
        ]})
    erp_sim.state.set_status("ENG_BOM", ["1.02.0033_V9.0"], [], "B")
    erp_sim.state.set_status("ENG_BOM", ["1.02.0033_V9.0"], [], "C")
    [record] = [r for r in erp.pull("boms", None) if r.key == "1.02.0033_V9.0"]
    [bom] = map_all(erp, "boms", [record])
    # 1/2 and 1/3 per parent -> 3 and 2 per 6 parents: exact, no rounding
    assert bom.base_quantity == Decimal(6)
    assert [(c.material_id, c.quantity_per, c.scrap_rate) for c in bom.components] == [
        ("1.03.0100", Decimal(3), Decimal("0.02")), ("1.02.0041", Decimal(2), Decimal(0))]


def test_incremental_pull_returns_only_what_changed_since(erp_sim, erp):
    everything = list(erp.pull("purchase_orders", None))
    watermark = max(r.modified for r in everything)
    assert list(erp.pull("purchase_orders", watermark + dt.timedelta(seconds=1))) == []
    result = touch(erp_sim.state, "PUR_PurchaseOrder", fraction=0.2, seed=3,
                   now=(watermark + dt.timedelta(hours=1)).isoformat())
    changed = list(erp.pull("purchase_orders", watermark + dt.timedelta(seconds=1)))
    assert len(changed) == result["bills"] > 0
    assert all(r.modified >= watermark + dt.timedelta(hours=1) for r in changed)
    # the filter is >= since: a record modified exactly at since is included
    exact = list(erp.pull("purchase_orders", min(r.modified for r in changed)))
    assert {r.key for r in exact} == {r.key for r in changed}


def test_since_with_a_timezone_is_converted_to_kingdee_local_time(erp):
    # CGDD000103 was modified 2026-11-21T08:15:00 Beijing time = 00:15 UTC
    utc = dt.timezone.utc
    keys = [r.key for r in erp.pull("purchase_orders", dt.datetime(2026, 11, 21, 0, 15, tzinfo=utc))]
    assert keys[:1] == ["CGDD000103"]
    later = [r.key for r in erp.pull("purchase_orders", dt.datetime(2026, 11, 21, 0, 16, tzinfo=utc))]
    assert "CGDD000103" not in later


def test_bill_audited_after_since_but_saved_before_is_pulled(erp_sim, erp):
    state = erp_sim.state
    state.set_now("2026-11-22T09:00:00")
    state.save("PUR_PurchaseOrder", {
        "FBillNo": "CGDD009001", "FDate": "2026-11-22", "FSupplierId": {"FNumber": "SUP-001"},
        "FPurchaseOrgId": {"FNumber": "100"}, "FPOOrderEntry": [
            {"FMaterialId": {"FNumber": "1.02.0033"}, "FUnitId": {"FNumber": "Pcs"}, "FQty": 5}]})
    since = dt.datetime(2026, 11, 22, 10, 0)
    assert "CGDD009001" not in [r.key for r in erp.pull("purchase_orders", since)]  # not audited yet
    state.set_now("2026-11-23T09:00:00")
    state.set_status("PUR_PurchaseOrder", ["CGDD009001"], [], "B")
    state.set_status("PUR_PurchaseOrder", ["CGDD009001"], [], "C")  # FApproveDate moves, FModifyDate does not
    [record] = [r for r in erp.pull("purchase_orders", since) if r.key == "CGDD009001"]
    assert record.modified == dt.datetime(2026, 11, 23, 9, 0)


def test_stock_is_a_full_snapshot_whatever_since(erp_sim, erp):
    rows = list(erp.pull("stock", dt.datetime(2999, 1, 1)))
    assert len(rows) == len(erp_sim.state.bills("STK_Inventory")) == 12


def test_production_orders_become_one_record_per_entry_line(erp_sim, erp):
    records = list(erp.pull("production_orders", None))
    lines = sum(len(b["FTreeEntity"]) for b in erp_sim.state.bills("PRD_MO"))
    assert len(records) == lines and all(r.key == r.data["hub_order_id"] for r in records)
    docs = map_all(erp, "production_orders", records)
    assert {d.status for d in docs} <= {"planned", "released", "started"}


def test_unknown_material_code_is_quarantined_by_the_mapping_not_a_crash(erp_sim, erp):
    state = erp_sim.state
    state.save("BD_MATERIAL", {"FNumber": "9.99.9999", "FName": "未知物料", "FBaseUnitId": {"FNumber": "Pcs"}})
    state.set_status("BD_MATERIAL", ["9.99.9999"], [], "B")
    state.set_status("BD_MATERIAL", ["9.99.9999"], [], "C")
    state.save("PUR_PurchaseOrder", {
        "FBillNo": "CGDD009002", "FDate": "2026-11-22", "FSupplierId": {"FNumber": "SUP-001"},
        "FPurchaseOrgId": {"FNumber": "100"}, "FPOOrderEntry": [
            {"FMaterialId": {"FNumber": "9.99.9999"}, "FUnitId": {"FNumber": "Pcs"}, "FQty": 5}]})
    state.set_status("PUR_PurchaseOrder", ["CGDD009002"], [], "B")
    state.set_status("PUR_PurchaseOrder", ["CGDD009002"], [], "C")
    records = {r.key: r for r in erp.pull("purchase_orders", None)}
    mapping = load_mapping(erp.mapping_path("purchase_orders"))
    with pytest.raises(SkippableError) as info:
        mapping.apply(records["CGDD009002"].data, Source(system="kingdee"))
    assert info.value.code == "UNKNOWN_MATERIAL" and "9.99.9999" in info.value.message
    assert "CGDD009002" in info.value.where
    # the other bills of the same pull still map
    assert mapping.apply(records["CGDD000101"].data, Source(system="kingdee")).po_number == "CGDD000101"


def test_huge_pages_are_paged_through_completely(erp_sim):
    from simulators.kingdee import seed_generated

    seed_generated(erp_sim.state, n_pos=1500, lines_per_po=10, n_boms=0, n_mos=0, n_stock=0, seed=5)
    with make_erp(erp_sim, page_size=10000) as erp:
        records = list(erp.pull("purchase_orders", None))
    assert len(records) == len(erp_sim.state.bills("PUR_PurchaseOrder"))
    assert sum(len(r.data["FPOOrderEntry"]) for r in records) == sum(
        len(b["FPOOrderEntry"]) for b in erp_sim.state.bills("PUR_PurchaseOrder"))
    assert calls(erp_sim, "ExecuteBillQuery") == 2  # 15 000+ rows: one full page of 10 000 and a short one


def test_wrong_password_is_fatal_and_never_shown(erp_sim):
    with make_erp(erp_sim, password="not-" + ERP_PASSWORD) as erp, pytest.raises(FatalError) as info:
        list(erp.pull("suppliers", None))
    assert info.value.code == "KINGDEE_LOGIN_FAILED" and ERP_PASSWORD not in str(info.value)


# ----------------------------------------------------------------------------- push: receipts


def receipt(receipt_id: str = "RCV-0001", qty: str = "120", **line) -> Receipt:
    values = {"line_no": 1, "po_number": "CGDD000101", "material_id": "1.02.0033", "quantity": qty, "uom": "H87",
              "batch_id": "SUP-001:LOT-2026-A", "location": "A-01-01"}
    values.update(line)
    return Receipt(receipt_id=receipt_id, supplier_id="SUP-001", received_at=dt.datetime(2026, 12, 2, 8, 30),
                   lines=[values])


def test_receipt_goes_to_stk_instock_in_kingdee_codes_once(erp_sim, erp):
    first = erp.push("receipt", receipt(), "RCV-0001")
    second = erp.push("receipt", receipt(), "RCV-0001")
    assert first == second
    [bill] = erp_sim.state.bills("STK_InStock")
    assert (bill["FBillNo"], bill["FDocumentStatus"], bill["F_HUB_ExtNo"]) == (first, "C", "RCV-0001")
    [entry] = bill["FInStockEntry"]
    # canonical H87 -> Kingdee Pcs, WMS bin A-01-01 -> stock CK01, hub batch id -> the supplier's lot
    assert entry["FUnitID"] == {"FNumber": "Pcs"} and entry["FStockId"] == {"FNumber": "CK01"}
    assert entry["FLot"] == {"FNumber": "LOT-2026-A"} and entry["FRealQty"] == 120
    assert calls(erp_sim, "Save") == 1


def test_receipt_form_setting_posts_a_receiving_notice(erp_sim):
    with make_erp(erp_sim, receipt_form="PUR_ReceiveBill") as erp:
        number = erp.push("receipt", receipt(), "RCV-0002")
    [bill] = erp_sim.state.bills("PUR_ReceiveBill")
    assert (bill["FBillNo"], bill["FDocumentStatus"], bill["F_HUB_ExtNo"]) == (number, "C", "RCV-0002")
    assert bill["FDetailEntity"][0]["FActReceiveQty"] == 120
    assert erp_sim.state.bills("STK_InStock") == []


@pytest.mark.parametrize("line, code", [
    ({"material_id": "NOT-A-MATERIAL"}, "UNKNOWN_MATERIAL"),
    ({"uom": "XXX"}, "UNKNOWN_KINGDEE_UNIT"),
    ({"location": "Z-99"}, "UNKNOWN_KINGDEE_STOCK"),
])
def test_receipt_with_codes_the_crosswalks_do_not_know_is_skippable(erp_sim, erp, line, code):
    with pytest.raises(SkippableError) as info:
        erp.push("receipt", receipt(**line), "RCV-0003")
    assert info.value.code == code and "RCV-0003" in info.value.where and "line 1" in info.value.where
    assert erp_sim.state.bills("STK_InStock") == [] and calls(erp_sim, "Save") == 0


def test_rejected_receipt_names_bill_and_field(erp_sim, erp):
    with pytest.raises(SkippableError) as info:
        erp.push("receipt", receipt(qty="600"), "RCV-0004")  # the PO line holds 500
    assert info.value.code == "KINGDEE_REJECTED"
    assert "STK_InStock" in info.value.message and "RCV-0004" in info.value.message
    assert "FRealQty" in info.value.message
    assert erp_sim.state.bills("STK_InStock") == [] and calls(erp_sim, "Save") == 1  # not retried


def test_external_numbers_with_quotes_are_quoted_not_injected(erp_sim, erp):
    erp.push("receipt", receipt("A"), "A")
    odd = "A' or F_HUB_ExtNo<>'"
    second = erp.push("receipt", receipt(odd), odd)
    third = erp.push("receipt", receipt(odd), odd)
    assert second == third
    assert sorted(b["F_HUB_ExtNo"] for b in erp_sim.state.bills("STK_InStock")) == sorted(["A", odd])


def test_push_of_the_wrong_kind_or_document_is_fatal(erp):
    with pytest.raises(FatalError):
        erp.push("invoice", receipt(), "X")
    with pytest.raises(FatalError):
        erp.push("inspection", receipt(), "X")
    with pytest.raises(FatalError):
        erp.push("receipt", receipt(), " ")


# ----------------------------------------------------------------------------- push: inspections


def inspection(**changes) -> Inspection:
    values = dict(inspection_id="QC-0001", batch_id="SUP-001:LOT-2026-A", material_id="1.02.0033",
                  supplier_id="SUP-001", po_number="CGDD000101", inspected_quantity="120", rejected_quantity="3",
                  uom="H87", result="conditional", inspected_at=dt.datetime(2026, 12, 3, 9, 0),
                  characteristics=[{"name": "OD", "value": "47.2", "result": "fail"}], defects=["scratch"])
    values.update(changes)
    return Inspection(**values)


def test_inspection_goes_to_the_inspection_bill_once(erp_sim, erp):
    number = erp.push("inspection", inspection(), "QC-0001")
    assert erp.push("inspection", inspection(), "QC-0001") == number
    [bill] = erp_sim.state.bills("QM_InspectBill")
    assert (bill["FDocumentStatus"], bill["F_HUB_ExtNo"], bill["FSupplierId"]) == ("C", "QC-0001",
                                                                                    {"FNumber": "SUP-001"})
    [entry] = bill["FEntity"]
    assert (entry["FInspectQty"], entry["FQualifiedQty"], entry["FUnqualifiedQty"]) == (120, 117, 3)
    assert entry["FInspectResult"] == "3" and entry["FLot"] == {"FNumber": "LOT-2026-A"}
    assert "scratch" in entry["FMemo"] and "OD=47.2" in entry["FMemo"]


def test_inspection_rejecting_more_than_inspected_is_skippable(erp_sim, erp):
    with pytest.raises(SkippableError) as info:
        erp.push("inspection", inspection(rejected_quantity="121"), "QC-0002")
    assert info.value.code == "KINGDEE_BAD_INSPECTION" and "QC-0001" in info.value.where
    assert erp_sim.state.bills("QM_InspectBill") == []


# ----------------------------------------------------------------------------- push: order responses


def response(**changes) -> OrderResponse:
    values = dict(po_number="CGDD000102", supplier_id="SUP-002", status="changed", lines=[
        {"line_no": 1, "action": "changed", "quantity": "900", "delivery_date": "2026-12-06"},
        {"line_no": 2, "action": "rejected"}])
    values.update(changes)
    return OrderResponse(**values)


def test_order_response_is_written_to_the_po_lines_and_the_po_stays_audited(erp_sim, erp):
    assert erp.push("order_response", response(), "ORDRSP-1") == "CGDD000102"
    po = erp_sim.state.find("PUR_PurchaseOrder", number="CGDD000102")
    assert po["FDocumentStatus"] == "C"
    promised = [(e["FSeq"], e.get("F_HUB_PromisedQty"), e.get("F_HUB_PromisedDate")) for e in po["FPOOrderEntry"]]
    assert promised == [(1, 900, "2026-12-06T00:00:00"), (2, 0, None)]
    # the order itself is untouched: quantities, lines and their order
    assert [(e["FQty"], e["FMaterialId"]["FNumber"]) for e in po["FPOOrderEntry"]] == [(1000, "1.03.0100"),
                                                                                     (200, "1.02.0033")]
    before = len(erp_sim.state.calls)
    assert erp.push("order_response", response(), "ORDRSP-1") == "CGDD000102"
    assert [c.split(".")[-1] for c in erp_sim.state.calls[before:]] == ["ExecuteBillQuery"]  # nothing to write


def test_accepting_without_lines_promises_what_was_ordered(erp_sim, erp):
    erp.push("order_response", response(status="accepted", lines=[]), "ORDRSP-2")
    po = erp_sim.state.find("PUR_PurchaseOrder", number="CGDD000102")
    assert [(e["F_HUB_PromisedQty"], e["F_HUB_PromisedDate"]) for e in po["FPOOrderEntry"]] == [
        (1000, "2026-12-03T00:00:00"), (200, "2026-12-04T00:00:00")]


@pytest.mark.parametrize("changes, code", [
    ({"po_number": "CGDD999999"}, "KINGDEE_UNKNOWN_PO"),
    ({"lines": [{"line_no": 7, "action": "accepted"}]}, "KINGDEE_UNKNOWN_PO_LINE"),
    ({"supplier_id": "SUP-001"}, "KINGDEE_SUPPLIER_MISMATCH"),
    ({"supplier_id": "SUP-404"}, "UNKNOWN_SUPPLIER"),
    ({"lines": [], "status": "changed"}, "KINGDEE_BAD_RESPONSE_DOC"),
])
def test_order_responses_that_do_not_fit_the_po_are_skippable(erp_sim, erp, changes, code):
    with pytest.raises(SkippableError) as info:
        erp.push("order_response", response(**changes), "ORDRSP-3")
    assert info.value.code == code
    assert (calls(erp_sim, "UnAudit"), calls(erp_sim, "Save")) == (0, 0)


def test_order_response_rerun_after_a_failed_audit_finishes_the_same_bill(erp_sim):
    erp_sim.state.fail_next(1, "http500", service="Audit")
    with make_erp(erp_sim, max_attempts=1) as erp:
        with pytest.raises(RetriableError):
            erp.push("order_response", response(), "ORDRSP-4")
        assert erp_sim.state.find("PUR_PurchaseOrder", number="CGDD000102")["FDocumentStatus"] == "B"
        erp.push("order_response", response(), "ORDRSP-4")
    assert erp_sim.state.find("PUR_PurchaseOrder", number="CGDD000102")["FDocumentStatus"] == "C"
    assert (calls(erp_sim, "UnAudit"), calls(erp_sim, "Save"), calls(erp_sim, "Submit")) == (1, 1, 1)
    assert calls(erp_sim, "Audit") == 2


def test_pull_result_counts_match_for_the_whole_fixture(erp_sim, erp):
    counts = Counter(entity for entity in FORMS for _ in erp.pull(entity, None))
    # the demo seed's 4 materials (3 parts and the motor) kept, 47 generated beside them
    assert counts["purchase_orders"] == 15 and counts["suppliers"] == 20 and counts["materials"] == 51
