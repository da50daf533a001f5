"""Hub -> WMS -> hub -> Kingdee (through hub.flows.erp_push) against both simulators over real HTTP (no mocks)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import requests
from sqlalchemy import func, select

from adapters.kingdee.config import KingdeeConfig
from adapters.kingdee.hook import KingdeeHook
from adapters.kingdee.translate import EXTERNAL_NUMBER_FIELD
from adapters.wms.config import WmsConfig
from adapters.wms.hook import WmsHook
from canonical_model.documents import PurchaseOrder, ShipmentNotice, Source
from canonical_model.store import documents, quarantine
from canonical_model.store.tables import DocumentRow, OutboxRow
from adapters.kingdee.erp import KingdeeErp
from hub.flows.erp_push import drain
from hub.flows.warehouse import collect_receipts as collect_for_erp
from hub.flows.warehouse import deliver_expected_receipts, plan_expected_receipts
from hub.outbox import dispatch
from hub.tasks import HubOutboxFailed, _report
from simulators.base import running
from hub.partners import PARTNER_DIR as REPO_PARTNERS
from simulators.kingdee import server as kingdee_sim
from simulators.wms import server as wms_sim

ACCT, USER, PASSWORD = "acct-wh-flow", "mes_api", "pw-Warehouse-9c2a"
ASN_NO = "DESADV-7001"
ASN_KEY = f"SUP-001/{ASN_NO}"
PO_NO = "CGDD000101"  # exists in the Kingdee demo seed: 500 x 1.02.0033, 300 x 1.02.0041


# ----------------------------------------------------------------------------- fixtures


def collect_receipts(store, wms_hook):
    return collect_for_erp(store, wms_hook, "kingdee")


def deliver_erp_receipts(store, erp_hook, now=None):
    return drain(store, KingdeeErp(hook=erp_hook), now=now)


@pytest.fixture()
def wms():
    state = wms_sim.seed_demo(wms_sim.WmsState())
    with running(wms_sim.make_server(state, "127.0.0.1", 0)) as server:
        yield server


@pytest.fixture()
def wms_hook(wms):
    with WmsHook(WmsConfig(base_url=wms.base_url, token=wms_sim.DEMO_TOKEN, timeout=5)) as hook:
        yield hook


@pytest.fixture()
def erp():
    state = kingdee_sim.KingdeeState(users=f"{ACCT}:{USER}:{PASSWORD}", apps="")
    with running(kingdee_sim.make_server("127.0.0.1", 0, state=state, seed="demo")) as server:
        try:
            yield server
        finally:
            state.release_stalled()


@pytest.fixture()
def erp_hook(erp):
    config = KingdeeConfig(base_url=f"{erp.base_url}/k3cloud", acct_id=ACCT, username=USER, password=PASSWORD,
                           timeout=5)
    with KingdeeHook(config) as hook:
        yield hook


def seed_store(store, qty_33: str = "500", qty_41: str = "300") -> None:
    po = PurchaseOrder(
        po_number=PO_NO, supplier_id="SUP-001", order_date=dt.date(2026, 11, 20), currency="CNY",
        lines=[
            {"line_no": 1, "material_id": "1.02.0033", "quantity": "500", "uom": "H87", "unit_price": "3.2",
             "delivery_date": "2026-12-01"},
            {"line_no": 2, "material_id": "1.02.0041", "quantity": "300", "uom": "H87", "unit_price": "4.1",
             "delivery_date": "2026-12-01"},
        ],
        source=Source(system="kingdee", request="test seed"))
    asn = ShipmentNotice(
        asn_number=ASN_NO, supplier_id="SUP-001", ship_date=dt.date(2026, 11, 28),
        expected_arrival=dt.date(2026, 11, 30),
        lines=[
            {"line_no": 1, "po_number": PO_NO, "po_line_no": 1, "material_id": "1.02.0033", "quantity": qty_33,
             "uom": "H87", "batch_number": "L33-2611A", "expiry_date": "2028-11-01"},
            {"line_no": 2, "po_number": PO_NO, "po_line_no": 2, "material_id": "1.02.0041", "quantity": qty_41,
             "uom": "H87", "batch_number": "L41-2611B"},
        ],
        source=Source(system="sftp", partner="SUP-001", file="DESADV_7001.edi"))
    with store.session() as s:
        assert documents.upsert(s, po, actor="test").outcome == "created"
        assert documents.upsert(s, asn, actor="test").outcome == "created"


def outbox_rows(store, target: str) -> list[OutboxRow]:
    with store.session() as s:
        return list(s.scalars(select(OutboxRow).where(OutboxRow.target == target).order_by(OutboxRow.id)))


def document_rows(store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(DocumentRow)) or 0


def past_backoff() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)


def push_to_wms(store, wms_hook, now: dt.datetime | None = None):
    """What deliver_expected_receipts does, with ``now`` so the test can look past the backoff."""
    return dispatch(store, "wms", lambda row: wms_hook.create_inbound(**row.payload), now=now)


def wms_asn_code(store) -> str:
    (row,) = outbox_rows(store, "wms")
    assert row.status == "sent"
    return row.result["asn_code"]


# ----------------------------------------------------------------------------- the whole story


def test_expected_receipt_survives_wms_outage_then_receipt_reaches_kingdee_once(store, wms, wms_hook, erp, erp_hook):
    seed_store(store)
    assert plan_expected_receipts(store) == {"planned": 1, "quarantined": 0, "held": 0}

    # -- WMS down: the message is kept, with the reason, for a later attempt
    wms.state.down = True
    report = deliver_expected_receipts(store, wms_hook)
    assert (report.sent, report.retrying, report.failed) == (0, 1, 0)
    assert "WMS_UNAVAILABLE" in report.errors[0]
    (row,) = outbox_rows(store, "wms")
    assert (row.status, row.attempts) == ("pending", 1)
    assert "WMS_UNAVAILABLE" in row.last_error
    assert row.payload["asn_no"] == ASN_KEY
    assert wms.state.asns == []

    # -- back up, but the backoff has not passed: nothing is tried yet
    wms.state.down = False
    report = deliver_expected_receipts(store, wms_hook)
    assert (report.sent, report.retrying, report.failed) == (0, 0, 0)
    assert wms.state.asns == []

    # -- past the backoff: sent, exactly one ASN with both materials
    report = push_to_wms(store, wms_hook, now=past_backoff())
    assert (report.sent, report.retrying, report.failed) == (1, 0, 0)
    (row,) = outbox_rows(store, "wms")
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)
    assert len(wms.state.asns) == 1
    asn_code = wms.state.asns[0]["asn_code"]
    assert row.result["asn_code"] == asn_code
    assert wms.state.asns[0]["asn_ref"] == ASN_KEY
    assert sorted((d["goods_code"], d["goods_qty"], d["supplier"]) for d in wms.state.details) == [
        ("1.02.0033", 500, "SUP-001"), ("1.02.0041", 300, "SUP-001")]

    # -- rerun plan + deliver: still one ASN, no new outbox row
    assert plan_expected_receipts(store) == {"planned": 0, "quarantined": 0, "held": 0}
    report = push_to_wms(store, wms_hook, now=past_backoff())
    assert (report.sent, report.retrying, report.failed) == (0, 0, 0)
    assert len(outbox_rows(store, "wms")) == 1
    assert len(wms.state.asns) == 1 and len(wms.state.details) == 2

    # -- not counted yet: the receipt waits
    assert collect_receipts(store, wms_hook) == {"receipts": 0, "batches": 0, "alerts": 0, "waiting": 1}

    # -- the warehouse counts 10 short on 1.02.0041
    wms_sim.operate_receiving(wms.base_url, wms_sim.DEMO_TOKEN, asn_code, {"1.02.0041": 290})
    counts = collect_receipts(store, wms_hook)
    assert counts == {"receipts": 1, "batches": 2, "alerts": 1, "waiting": 0}
    receipt_id = f"RCV-{asn_code}"
    with store.session() as s:
        receipts = list(documents.current(s, "Receipt"))
        assert [r.receipt_id for r in receipts] == [receipt_id]
        receipt = receipts[0]
        assert (receipt.asn_number, receipt.supplier_id) == (ASN_NO, "SUP-001")
        assert [(l.po_number, l.po_line_no, l.material_id, l.quantity, l.batch_id, l.location)
                for l in receipt.lines] == [
            (PO_NO, 1, "1.02.0033", Decimal("500"), "SUP-001:L33-2611A", "A-01-01"),
            (PO_NO, 2, "1.02.0041", Decimal("290"), "SUP-001:L41-2611B", "A-01-01")]
        batches = {b.batch_id: b for b in documents.current(s, "Batch")}
        assert sorted(batches) == ["SUP-001:L33-2611A", "SUP-001:L41-2611B"]
        assert {b.status for b in batches.values()} == {"quarantined"}
        assert batches["SUP-001:L33-2611A"].supplier_batch_number == "L33-2611A"
        assert batches["SUP-001:L41-2611B"].supplier_batch_number == "L41-2611B"
        assert (batches["SUP-001:L33-2611A"].quantity, batches["SUP-001:L41-2611B"].quantity) == (
            Decimal("500"), Decimal("290"))
        assert str(batches["SUP-001:L33-2611A"].expiry_date) == "2028-11-01"
        assert {b.supplier_id for b in batches.values()} == {"SUP-001"}
        alerts = list(documents.current(s, "Alert"))
        assert len(alerts) == 1
        alert = alerts[0]
        assert alert.alert_type == "RECEIPT_QTY_MISMATCH"
        assert alert.responsible_party == "SUP-001"
        assert "1.02.0041" in alert.message and "290" in alert.message and "300" in alert.message
        assert {(ref.type, ref.key) for ref in alert.subjects} == {("ShipmentNotice", ASN_KEY),
                                                                  ("Receipt", receipt_id)}
    versions = document_rows(store)

    # -- rerun collect: nothing new
    assert collect_receipts(store, wms_hook) == {"receipts": 0, "batches": 0, "alerts": 0, "waiting": 0}
    assert document_rows(store) == versions
    assert len(outbox_rows(store, "kingdee")) == 1

    # -- post to Kingdee: one audited STK_InStock carrying the receipt id
    report = deliver_erp_receipts(store, erp_hook)
    assert (report.sent, report.pending, report.failed) == (1, 0, 0)
    bills = erp.state.bills("STK_InStock")
    assert len(bills) == 1
    bill = bills[0]
    assert bill["FDocumentStatus"] == "C"
    assert bill[EXTERNAL_NUMBER_FIELD] == receipt_id
    assert bill["FSupplierId"]["FNumber"] == "SUP-001"
    assert [(e["FMaterialId"]["FNumber"], e["FRealQty"], e["FLot"]["FNumber"], e["FPOOrderNo"])
            for e in bill["FInStockEntry"]] == [
        ("1.02.0033", 500, "L33-2611A", PO_NO), ("1.02.0041", 290, "L41-2611B", PO_NO)]
    # hub codes are translated to Kingdee's: H87 -> Pcs, WMS bin A-01-01 -> stock CK01
    assert {(e["FUnitID"]["FNumber"], e["FStockId"]["FNumber"]) for e in bill["FInStockEntry"]} == {("Pcs", "CK01")}
    (erp_row,) = outbox_rows(store, "kingdee")
    assert erp_row.status == "sent" and erp_row.result == {"bill_no": bill["FBillNo"]}
    assert _report(report) == {"sent": 1, "failed": 0, "pending": 0}

    # -- rerun: still one bill
    report = deliver_erp_receipts(store, erp_hook)
    assert (report.sent, report.pending, report.failed) == (0, 0, 0)
    assert len(erp.state.bills("STK_InStock")) == 1

    # -- even if the hub lost the "sent" mark (crash after Audit), Kingdee keeps one bill
    with store.session() as s:
        lost = s.get(OutboxRow, erp_row.id)
        lost.status, lost.result = "pending", None
    report = deliver_erp_receipts(store, erp_hook)
    assert report.sent == 1
    assert len(erp.state.bills("STK_InStock")) == 1
    (erp_row,) = outbox_rows(store, "kingdee")
    assert erp_row.result == {"bill_no": bill["FBillNo"]}


def test_kingdee_rejection_parks_the_receipt_as_failed_naming_the_field(sqlite_store, wms, wms_hook, erp, erp_hook):
    # the supplier ships and the warehouse counts 600 of a PO line Kingdee holds at 500
    seed_store(sqlite_store, qty_33="600")
    plan_expected_receipts(sqlite_store)
    assert deliver_expected_receipts(sqlite_store, wms_hook).sent == 1
    asn_code = wms_asn_code(sqlite_store)
    wms_sim.operate_receiving(wms.base_url, wms_sim.DEMO_TOKEN, asn_code)
    assert collect_receipts(sqlite_store, wms_hook)["receipts"] == 1

    report = deliver_erp_receipts(sqlite_store, erp_hook)
    assert (report.sent, report.pending, report.failed) == (0, 0, 1)
    (row,) = outbox_rows(sqlite_store, "kingdee")
    assert row.status == "failed" and row.attempts == 1
    assert "KINGDEE_REJECTED" in row.last_error
    assert "FRealQty" in row.last_error
    assert f"RCV-{asn_code}" in row.last_error
    # Kingdee refused the Save: no bill was left behind
    assert erp.state.bills("STK_InStock") == []

    # the task-level report counts it as failed (and fails the Airflow task for a human)
    with pytest.raises(HubOutboxFailed) as info:
        _report(report)
    assert info.value.code == "OUTBOX_FAILED"
    assert "KINGDEE_REJECTED" in info.value.message and "FRealQty" in info.value.message

    # a failed row is parked, not retried by the next run
    again = deliver_erp_receipts(sqlite_store, erp_hook)
    assert (again.sent, again.pending, again.failed) == (0, 0, 0)
    assert erp.state.bills("STK_InStock") == []


def test_fractional_asn_quantity_is_quarantined_before_the_wms(sqlite_store, wms, wms_hook):
    seed_store(sqlite_store, qty_41="299.5")
    assert plan_expected_receipts(sqlite_store) == {"planned": 0, "quarantined": 1, "held": 0}
    assert outbox_rows(sqlite_store, "wms") == []
    assert deliver_expected_receipts(sqlite_store, wms_hook).sent == 0
    assert wms.state.asns == []
    # a rerun does not quarantine the same ASN twice
    assert plan_expected_receipts(sqlite_store) == {"planned": 0, "quarantined": 0, "held": 0}


def test_counted_but_not_yet_put_away_waits_for_put_away(sqlite_store, wms, wms_hook, erp, erp_hook):
    seed_store(sqlite_store)
    plan_expected_receipts(sqlite_store)
    assert deliver_expected_receipts(sqlite_store, wms_hook).sent == 1
    asn_code = wms_asn_code(sqlite_store)
    asn_id = wms.state.asns[0]["id"]
    worker = {"token": wms_sim.DEMO_TOKEN}

    def post(path: str, body: dict | None = None) -> None:
        requests.post(f"{wms.base_url}{path}", headers=worker, json=body, timeout=5).raise_for_status()

    # the worker counts everything, but has not put anything into a bin yet
    post(f"/asn/preload/{asn_id}/")
    post(f"/asn/presort/{asn_id}/")
    post(f"/asn/sorted/{asn_id}/", {"asn_code": asn_code, "supplier": "SUP-001", "creater": "wms_op", "goodsData": [
        {"goods_code": "1.02.0033", "goods_actual_qty": 500}, {"goods_code": "1.02.0041", "goods_actual_qty": 300}]})
    first = collect_receipts(sqlite_store, wms_hook)
    deliver_erp_receipts(sqlite_store, erp_hook)

    for detail in wms.state.details:
        post(f"/asn/movetobin/{detail['id']}/", {"asn_code": asn_code, "goods_code": detail["goods_code"],
                                                 "bin_name": "A-01-02", "qty": detail["goods_qty"],
                                                 "creater": "wms_op"})
    collect_receipts(sqlite_store, wms_hook)
    report = deliver_erp_receipts(sqlite_store, erp_hook)

    assert first["receipts"] == 0 and first["waiting"] == 1
    assert report.failed == 0
    with sqlite_store.session() as s:
        receipt = documents.get(s, "Receipt", f"RCV-{asn_code}")
        assert [line.location for line in receipt.lines] == ["A-01-02", "A-01-02"]
    # a bin the ERP has no stock for cannot be booked: the receipt is quarantined, nothing posted

    assert len(erp.state.bills("STK_InStock")) == 1


def test_bin_without_erp_stock_quarantines_the_receipt_instead_of_posting(sqlite_store, wms, wms_hook, erp, erp_hook):
    seed_store(sqlite_store)
    plan_expected_receipts(sqlite_store)
    deliver_expected_receipts(sqlite_store, wms_hook)
    asn_code = wms_asn_code(sqlite_store)
    wms.state.add_bin("Z-99-99")  # a new bin nobody told the ERP crosswalk about
    wms_sim.operate_receiving(wms.base_url, wms_sim.DEMO_TOKEN, asn_code, bin_name="Z-99-99")
    assert collect_receipts(sqlite_store, wms_hook)["receipts"] == 1
    report = deliver_erp_receipts(sqlite_store, erp_hook)
    assert (report.sent, report.failed) == (0, 1)
    with sqlite_store.session() as s:
        (row,) = quarantine.list_rows(s)
    assert row.reason_code == "UNKNOWN_KINGDEE_STOCK" and "'Z-99-99'" in row.message
    assert row.business_key == f"RCV-{asn_code}" and row.evidence["document"]["receipt_id"] == f"RCV-{asn_code}"
    (parked,) = outbox_rows(sqlite_store, "kingdee")
    assert parked.status == "failed" and "UNKNOWN_KINGDEE_STOCK" in parked.last_error
    assert erp.state.bills("STK_InStock") == []
    # parked: the next run neither posts nor quarantines it again
    assert deliver_erp_receipts(sqlite_store, erp_hook).sent == 0 and erp.state.bills("STK_InStock") == []
    with sqlite_store.session() as s:
        assert len(quarantine.list_rows(s)) == 1


# ----------------------------------------------------------------------------- cancelled ASNs


def cancel_asn(store) -> None:
    with store.session() as s:
        asn = documents.get(s, "ShipmentNotice", ASN_KEY)
        assert documents.upsert(s, asn.model_copy(update={"status": "cancelled"}), actor="test").version == 2


def test_cancel_after_counting_is_parked_with_an_alert_for_the_warehouse(sqlite_store, wms, wms_hook, erp, erp_hook):
    seed_store(sqlite_store)
    plan_expected_receipts(sqlite_store)
    assert deliver_expected_receipts(sqlite_store, wms_hook).sent == 1
    asn_code = wms_asn_code(sqlite_store)
    wms_sim.operate_receiving(wms.base_url, wms_sim.DEMO_TOKEN, asn_code)  # counted and put away
    cancel_asn(sqlite_store)

    assert plan_expected_receipts(sqlite_store) == {"planned": 1, "quarantined": 0, "held": 0}
    report = deliver_expected_receipts(sqlite_store, wms_hook)
    assert (report.sent, report.failed, report.retrying) == (0, 1, 0)
    create, cancel = outbox_rows(sqlite_store, "wms")
    assert (cancel.operation, cancel.status) == ("cancel_inbound", "failed")
    assert "WMS_CANCEL_TOO_LATE" in cancel.last_error and asn_code in cancel.last_error
    with sqlite_store.session() as s:
        (alert,) = [a for a in documents.current(s, "Alert") if a.alert_type == "ASN_CANCEL_TOO_LATE"]
    assert alert.responsible_party == "warehouse" and alert.alert_id == f"ASN_CANCEL_TOO_LATE:{ASN_KEY}"
    assert asn_code in alert.message and "WMS status 5" in alert.message
    assert len(wms.state.asns) == 1  # the WMS keeps what it received

    # parked: the next run neither retries it nor books the cancelled ASN's receipt into the ERP
    assert deliver_expected_receipts(sqlite_store, wms_hook).failed == 0
    assert collect_receipts(sqlite_store, wms_hook) == {"receipts": 0, "batches": 0, "alerts": 0, "waiting": 0}
    assert outbox_rows(sqlite_store, "kingdee") == []
    assert sum(1 for method, _ in wms.state.requests if method == "DELETE") == 0


def test_cancel_of_a_sent_inbound_at_status_1_withdraws_it(sqlite_store, wms, wms_hook):
    seed_store(sqlite_store)
    plan_expected_receipts(sqlite_store)
    deliver_expected_receipts(sqlite_store, wms_hook)
    cancel_asn(sqlite_store)
    assert plan_expected_receipts(sqlite_store) == {"planned": 1, "quarantined": 0, "held": 0}
    assert plan_expected_receipts(sqlite_store) == {"planned": 0, "quarantined": 0, "held": 0}  # keyed: once
    assert deliver_expected_receipts(sqlite_store, wms_hook).sent == 1
    assert wms.state.asns == []
    assert [(r.operation, r.status) for r in outbox_rows(sqlite_store, "wms")] == [
        ("create_inbound", "sent"), ("cancel_inbound", "sent")]
    # the goods master stock no longer expects the withdrawn quantities
    assert all(row["asn_stock"] == 0 for row in wms.state.stock.values())


def test_pilot_partner_asns_are_processed_but_never_pushed(sqlite_store, wms, wms_hook, tmp_path, monkeypatch):
    profile = (REPO_PARTNERS / "SUP-001.yaml").read_text(encoding="utf-8")
    assert "stage: live" in profile
    (tmp_path / "SUP-001.yaml").write_text(profile.replace("stage: live", "stage: pilot"), encoding="utf-8")
    monkeypatch.setenv("HUB_PARTNER_DIR", str(tmp_path))
    seed_store(sqlite_store)
    assert plan_expected_receipts(sqlite_store) == {"planned": 0, "quarantined": 0, "held": 1}
    assert outbox_rows(sqlite_store, "wms") == [] and wms.state.asns == []
    # promoted to live: the same ASN goes out, once
    (tmp_path / "SUP-001.yaml").write_text(profile, encoding="utf-8")
    assert plan_expected_receipts(sqlite_store) == {"planned": 1, "quarantined": 0, "held": 0}
    assert deliver_expected_receipts(sqlite_store, wms_hook).sent == 1 and len(wms.state.asns) == 1


def test_stock_snapshot_becomes_stock_levels_once(store, wms, wms_hook):
    from hub.flows.warehouse import sync_stock

    assert sync_stock(store, wms_hook) == {"stock_levels": 0, "changed": 0}  # an empty warehouse
    seed_store(store)
    plan_expected_receipts(store)
    deliver_expected_receipts(store, wms_hook)
    wms_sim.operate_receiving(wms.base_url, wms_sim.DEMO_TOKEN, wms_asn_code(store))  # put away: stock in bins
    first = sync_stock(store, wms_hook)
    assert first["stock_levels"] >= 2 and first["changed"] == first["stock_levels"]
    assert sync_stock(store, wms_hook) == {"stock_levels": first["stock_levels"], "changed": 0}
    with store.session() as s:
        levels = list(documents.current(s, "StockLevel"))
    assert len(levels) == first["stock_levels"]
    assert {level.material_id for level in levels} >= {"1.02.0033", "1.02.0041"}
    assert all(level.quantity > 0 and level.uom for level in levels)


def test_odoo_gets_the_announced_lots_of_the_expected_receipt(sqlite_store):
    """With the WMS Connection's dialect odoo, the expected receipt carries each line's lot."""
    from adapters.wms.config import WmsConfig
    from simulators.wms import odoo as odoo_sim

    state = odoo_sim.seed_demo(odoo_sim.OdooState(database="wms_flow", login="mes_api", password="pw-Odoo-flow"))
    with running(odoo_sim.make_server(state=state)) as server:
        with WmsHook(WmsConfig(base_url=server.base_url, token="pw-Odoo-flow", dialect="odoo", login="mes_api",
                               database="wms_flow", timeout=5)) as odoo_hook:
            seed_store(sqlite_store)
            assert plan_expected_receipts(sqlite_store, odoo_hook.dialect)["planned"] == 1
            assert deliver_expected_receipts(sqlite_store, odoo_hook).sent == 1
            assert deliver_expected_receipts(sqlite_store, odoo_hook).sent == 0  # once
        db = server.state.db
        lots = sorted(line["lot_name"] for line in db.tables["stock.move.line"].values())
    assert lots == ["L33-2611A", "L41-2611B"]
