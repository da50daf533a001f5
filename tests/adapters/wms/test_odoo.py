"""WmsHook, dialect odoo, against the Odoo JSON-RPC simulator over real HTTP on 127.0.0.1 (no mocks).

Every operation on both routes (stateless /jsonrpc and the session route), every fault the
simulator can inject, and hostile input; "nothing lost, nothing doubled" is checked on the
simulator's own records.
"""
from __future__ import annotations

import logging
from decimal import Decimal
from typing import Iterator

import pytest
import requests

from adapters.wms.config import WmsConfig
from adapters.wms.contract import Wms
from adapters.wms.discrepancies import receiving_discrepancies
from adapters.wms.hook import WmsHook
from canonical_model.documents import Batch, ShipmentNotice
from hub.errors import FatalError, RetriableError, SkippableError
from simulators.base import SimulatorServer, running
from simulators.wms import odoo as sim
from simulators.wms.faults import Fault

PASSWORD = "odoo-key-7f3e91c0a4"
LOGIN, DATABASE = "mes_api", "wms_test"
ASN = "SUP-001/DESADV-9001"
SSCC = "003456789012345675"
LINES = [
    {"line_no": 1, "sku": "1.02.0033", "qty": "120", "uom": "H87", "lot": "L33-A", "package": SSCC},
    {"line_no": 2, "sku": "1.02.0033", "qty": "80", "uom": "H87", "lot": "L33-B", "package": None},
    {"line_no": 3, "sku": "1.02.0041", "qty": "50", "uom": "H87", "lot": "L41-A", "package": None},
]


@pytest.fixture(scope="module")
def _server() -> Iterator[SimulatorServer]:
    with running(sim.make_server()) as server:
        yield server


@pytest.fixture
def odoo(_server: SimulatorServer) -> SimulatorServer:
    _server.state = sim.seed_demo(sim.OdooState(database=DATABASE, login=LOGIN, password=PASSWORD))
    return _server


def hook_for(server: SimulatorServer, route: str = "jsonrpc", password: str = PASSWORD, **settings) -> WmsHook:
    settings.setdefault("timeout", 5)
    return WmsHook(WmsConfig(base_url=server.base_url, token=password, dialect="odoo", login=LOGIN,
                             database=settings.pop("database", DATABASE), route=route, **settings))


@pytest.fixture(params=["jsonrpc", "session"])
def hook(odoo: SimulatorServer, request) -> Iterator[WmsHook]:
    with hook_for(odoo, request.param) as h:
        yield h


def pickings(server: SimulatorServer, code: str = "incoming") -> list[dict]:
    db = server.state.db
    return [p for p in db.tables["stock.picking"].values()
            if db.tables["stock.picking.type"][p["picking_type_id"]]["code"] == code]


def receive(server: SimulatorServer, picking_name: str, counted: dict | None = None, **kw) -> dict:
    return sim.operate_receiving(server.base_url, DATABASE, LOGIN, PASSWORD, picking_name, counted, **kw)


def arm(server: SimulatorServer, **fault) -> None:
    resp = requests.post(f"{server.base_url}/__sim/faults", json=fault, timeout=5)
    assert resp.status_code == 200, resp.text


# -- expected receipts -----------------------------------------------------------------------


def test_hook_is_the_wms_contract(hook):
    assert isinstance(hook, Wms) and hook.dialect == "odoo"


def test_create_makes_one_assigned_receipt_with_lots_and_sscc(odoo, hook):
    created = hook.create_inbound(ASN, "SUP-001", "2026-12-01", LINES)
    assert created == {"wms_id": 1, "asn_code": "WH/IN/00001", "status": "assigned"}
    db = odoo.state.db
    (picking,) = pickings(odoo)
    assert picking["origin"] == ASN and picking["scheduled_date"] == "2026-12-01 00:00:00"
    assert db.tables["res.partner"][picking["partner_id"]]["ref"] == "SUP-001"
    moves = {db.tables["product.product"][m["product_id"]]["default_code"]: m for m in db.tables["stock.move"].values()}
    assert {k: m["product_uom_qty"] for k, m in moves.items()} == {"1.02.0033": 200.0, "1.02.0041": 50.0}
    lines = sorted((l["lot_name"], l["quantity"], l["result_package_id"] and
                    db.tables["stock.quant.package"][l["result_package_id"]]["name"])
                   for l in db.tables["stock.move.line"].values())
    assert lines == [("L33-A", 120.0, SSCC), ("L33-B", 80.0, False), ("L41-A", 50.0, False)]
    assert hook.get_receipt("WH/IN/00001") is None  # announced, not received


def test_create_twice_is_one_picking(odoo, hook):
    first = hook.create_inbound(ASN, "SUP-001", None, LINES)
    assert hook.create_inbound(ASN, "SUP-001", None, LINES) == first
    assert len(pickings(odoo)) == 1 and odoo.state.count("stock.picking.create") == 1
    assert len(odoo.state.db.tables["stock.quant.package"]) == 1


def test_reset_after_create_then_retry_confirms_the_same_picking(odoo, hook):
    arm(odoo, kind="reset", match="stock.picking.create")
    with pytest.raises(RetriableError) as err:
        hook.create_inbound(ASN, "SUP-001", None, LINES)
    assert err.value.code == "WMS_UNAVAILABLE"
    (picking,) = pickings(odoo)
    assert picking["state"] == "draft"  # created, never confirmed: the answer was lost
    again = hook.create_inbound(ASN, "SUP-001", None, LINES)
    assert again["status"] == "assigned" and len(pickings(odoo)) == 1
    assert odoo.state.count("stock.picking.create") == 1


def test_changed_asn_is_refused_not_doubled(odoo, hook):
    hook.create_inbound(ASN, "SUP-001", None, LINES)
    with pytest.raises(SkippableError) as err:
        hook.create_inbound(ASN, "SUP-001", None, [dict(LINES[0], qty="100"), *LINES[1:]])
    assert err.value.code == "WMS_ASN_CHANGED" and "WH/IN/00001" in err.value.message
    assert len(pickings(odoo)) == 1


def test_a_received_picking_is_not_reported_as_changed_on_a_late_retry(odoo, hook):
    created = hook.create_inbound(ASN, "SUP-001", None, LINES)
    receive(odoo, created["asn_code"], {"1.02.0033": 150})
    assert hook.create_inbound(ASN, "SUP-001", None, LINES)["status"] == "done"


@pytest.mark.parametrize("change, code", [
    ({"supplier_code": "SUP-404"}, "WMS_UNKNOWN_SUPPLIER"),
    ({"lines": [dict(LINES[0], sku="9.99.9999")]}, "WMS_UNKNOWN_MATERIAL"),
    ({"lines": [dict(LINES[0], uom="KGM")]}, "WMS_UOM_MISMATCH"),
    ({"lines": [dict(LINES[0], qty="0")]}, "WMS_BAD_QTY"),
    ({"lines": [dict(LINES[0], qty="12345678901234567.891")]}, "WMS_BAD_QTY"),
    ({"lines": []}, "WMS_ASN_INCOMPLETE"),
])
def test_records_odoo_cannot_take_are_skippable_and_leave_nothing(odoo, hook, change, code):
    args = {"asn_no": ASN, "supplier_code": "SUP-001", "expected_date": None, "lines": LINES, **change}
    with pytest.raises(SkippableError) as err:
        hook.create_inbound(**args)
    assert err.value.code == code and err.value.where.startswith(f"asn {ASN}")
    assert pickings(odoo) == []


def test_hostile_text_travels_verbatim_and_is_found_again(odoo, hook):
    asn_no = "SUP-001/DES'ADV\"-9002 ; DROP TABLE stock_picking;--轴承"
    lot = "L'33\"-Ω <script>"
    created = hook.create_inbound(asn_no, "SUP-001", None, [dict(LINES[0], lot=lot, package=None)])
    assert hook.find_inbound(asn_no)["name"] == created["asn_code"]
    assert hook.find_inbound("SUP-001/DES") is None  # '=' is exact, never a prefix match
    receive(odoo, created["asn_code"])
    receipt = hook.get_receipt(created["asn_code"])
    assert receipt["asn_no"] == asn_no and receipt["lines"][0]["lot"] == lot


def test_huge_quantity_survives_exactly(odoo, hook):
    created = hook.create_inbound(ASN, "SUP-001", None, [dict(LINES[2], qty="900000000000")])
    receive(odoo, created["asn_code"])
    assert hook.get_receipt(created["asn_code"])["lines"][0]["qty_received"] == "900000000000"


# -- receipts ---------------------------------------------------------------------------------


def test_short_receipt_without_backorder_reports_lots_bins_and_time(odoo, hook):
    created = hook.create_inbound(ASN, "SUP-001", None, LINES)
    receive(odoo, created["asn_code"], {"1.02.0033": 190}, bin_barcode="A-01-02")
    receipt = hook.get_receipt(created["asn_code"], ASN)
    assert receipt["complete"] is True and receipt["backorders"] == [] and receipt["supplier"] == "SUP-001"
    assert receipt["received_at"].endswith("+00:00")
    got = {(l["sku"], l["lot"]): (l["qty_received"], l["bin"], l["package"]) for l in receipt["lines"]}
    assert got == {("1.02.0033", "L33-A"): ("120", "A-01-02", SSCC), ("1.02.0033", "L33-B"): ("70", "A-01-02", None),
                   ("1.02.0041", "L41-A"): ("50", "A-01-02", None)}


def test_partial_receipt_with_backorder_names_it_and_the_rest_stays_expected(odoo, hook):
    created = hook.create_inbound(ASN, "SUP-001", None, LINES)
    receive(odoo, created["asn_code"], {"1.02.0041": 20}, backorder=True)
    receipt = hook.get_receipt(created["asn_code"])
    assert receipt["backorders"] == ["WH/IN/00002"]
    # the backorder copies the origin but is not a second expected receipt of the ASN
    assert hook.find_inbound(ASN)["name"] == created["asn_code"]
    back = [p for p in pickings(odoo) if p["name"] == "WH/IN/00002"][0]
    assert back["state"] == "assigned" and back["origin"] == ASN


def test_receipts_since_lists_done_receipts_and_one_without_asn(odoo, hook):
    created = hook.create_inbound(ASN, "SUP-001", None, LINES[2:])
    receive(odoo, created["asn_code"])
    # the warehouse receives goods nobody announced: a picking without origin
    db = odoo.state.db
    with odoo.state.lock:
        stray = db.create("stock.picking", {"picking_type_id": 1, "partner_id": 3, "location_id": 2, "location_dest_id": 4,
                                            "move_ids": [[0, 0, {"name": "x", "product_id": 3, "product_uom_qty": 5,
                                                                 "product_uom": 1, "location_id": 2,
                                                                 "location_dest_id": 4}]]})
    receive(odoo, db.tables["stock.picking"][stray]["name"])
    receipts = list(hook.receipts_since(None))
    assert [(r["asn_code"], r["asn_no"]) for r in receipts] == [("WH/IN/00001", ASN), ("WH/IN/00002", None)]
    (no_asn,) = receiving_discrepancies(receipts[1], None)
    assert no_asn.kind == "NO_ASN" and no_asn.responsible_party == "SUP-002"


def test_unknown_lot_scanned_becomes_a_discrepancy_for_the_supplier(odoo, hook):
    notice = ShipmentNotice(asn_number="DESADV-9001", supplier_id="SUP-001", lines=[
        {"line_no": 1, "material_id": "1.02.0033", "quantity": "200", "uom": "H87", "batch_number": "L33-A"}])
    created = hook.create_expected_receipt(notice)
    receive(odoo, created["asn_code"], lots={"1.02.0033": [("L33-A", 150), ("L33-ZZZ", 50)]})
    receipt = hook.get_receipt(created["asn_code"], notice.business_key)
    found = {(d.kind, d.batch_number) for d in receiving_discrepancies(receipt, notice)}
    assert found == {("UNKNOWN_BATCH", "L33-ZZZ"), ("BATCH_QTY_SHORT", "L33-A")}


def test_unknown_picking_is_skippable(hook):
    with pytest.raises(SkippableError, match="WH/IN/99999"):
        hook.get_receipt("WH/IN/99999")


# -- cancel -----------------------------------------------------------------------------------


def test_cancel_once_then_done_and_never_sent_is_done(odoo, hook):
    created = hook.create_inbound(ASN, "SUP-001", None, LINES)
    assert hook.cancel_expected_receipt(ASN) == {"asn_code": created["asn_code"], "wms_id": created["wms_id"],
                                                 "withdrawn": True}
    assert hook.cancel_inbound(ASN) == {"asn_code": None, "wms_id": None, "withdrawn": False}
    assert hook.cancel_inbound("SUP-001/NEVER") == {"asn_code": None, "wms_id": None, "withdrawn": False}
    assert odoo.state.count("stock.picking.action_cancel") == 1 and pickings(odoo)[0]["state"] == "cancel"


def test_cancel_after_receipt_is_too_late(odoo, hook):
    created = hook.create_inbound(ASN, "SUP-001", None, LINES)
    receive(odoo, created["asn_code"])
    with pytest.raises(SkippableError) as err:
        hook.cancel_inbound(ASN)
    assert err.value.code == "WMS_CANCEL_TOO_LATE" and created["asn_code"] in err.value.message
    assert odoo.state.count("stock.picking.action_cancel") == 0


# -- QC hold / release --------------------------------------------------------------------------


def received_lot(odoo, hook) -> Batch:
    created = hook.create_inbound(ASN, "SUP-001", None, LINES)
    receive(odoo, created["asn_code"])
    return Batch(batch_id="SUP-001:L33-A", material_id="1.02.0033", supplier_batch_number="L33-A", quantity="120",
                 uom="H87")


def lot_stock(hook, lot: str) -> dict[str, str]:
    return {i["bin"]: i["on_hand"] for i in hook.inventory_snapshot() if i["lot"] == lot}


def test_hold_twice_is_one_hold_and_release_brings_it_back(odoo, hook):
    batch = received_lot(odoo, hook)
    first = hook.qc_hold(batch)
    assert first["changed"] is True and first["moved"] == "120" and first["status"] == "held"
    assert hook.qc_hold(batch) == {"material_id": "1.02.0033", "lot": "L33-A", "status": "held", "changed": False,
                                   "moved": "0", "transfer": None}
    assert lot_stock(hook, "L33-A") == {"QC-01": "120"} and len(pickings(odoo, "internal")) == 1
    assert lot_stock(hook, "L33-B") == {"A-01-01": "80"}  # the other lot of the material is untouched
    released = hook.qc_release(batch)
    assert released["changed"] is True and lot_stock(hook, "L33-A") == {"WH-STOCK": "120"}
    assert hook.qc_release(batch)["changed"] is False


def test_hold_whose_answer_was_lost_is_finished_not_repeated(odoo, hook):
    batch = received_lot(odoo, hook)
    arm(odoo, kind="reset", match="stock.picking.create")
    with pytest.raises(RetriableError):
        hook.qc_hold(batch)
    assert [p["state"] for p in pickings(odoo, "internal")] == ["draft"]
    assert hook.qc_hold(batch)["changed"] is True
    assert [p["state"] for p in pickings(odoo, "internal")] == ["done"] and lot_stock(hook, "L33-A") == {"QC-01": "120"}


def test_hold_of_an_unknown_lot_is_skippable(odoo, hook):
    received_lot(odoo, hook)
    with pytest.raises(SkippableError) as err:
        hook.qc_hold({"material_id": "1.02.0033", "batch_number": "L33-NOPE"})
    assert err.value.code == "WMS_UNKNOWN_LOT" and "L33-NOPE" in err.value.message
    with pytest.raises(SkippableError):
        hook.qc_hold({"material_id": "1.02.0033"})


# -- stock --------------------------------------------------------------------------------------


def test_stock_snapshot_is_canonical_per_material_location_and_lot(odoo, hook):
    received_lot(odoo, hook)
    levels = {(s.material_id, s.warehouse, s.batch_number): s for s in hook.stock_snapshot()}
    assert set(levels) == {("1.02.0033", "A-01-01", "L33-A"), ("1.02.0033", "A-01-01", "L33-B"),
                           ("1.02.0041", "A-01-01", "L41-A")}
    level = levels[("1.02.0033", "A-01-01", "L33-A")]
    assert level.quantity == Decimal("120") and level.uom == "H87" and level.as_of.tzinfo is not None


def test_stock_snapshot_pages_through_every_quant_once(odoo):
    db = odoo.state.db
    with odoo.state.lock:
        for n in range(23):
            lot = db.create("stock.lot", {"name": f"P-{n:02d}", "product_id": 1})
            db.create("stock.quant", {"product_id": 1, "location_id": 5, "lot_id": lot, "quantity": n + 1})
    with hook_for(odoo, page_size=4) as h:
        levels = h.stock_snapshot()
    assert len(levels) == 23 and sum(l.quantity for l in levels) == sum(range(1, 24))
    assert odoo.state.count("stock.quant.search_read") == 6  # ceil(23 / 4), the last page short


def test_unknown_unit_is_rejected_per_row_when_asked_to_collect(odoo):
    db = odoo.state.db
    with odoo.state.lock:
        box = db.create("uom.uom", {"name": "Kisten"})
        odd = db.create("product.product", {"name": "odd", "default_code": "9.00.0001", "uom_id": box})
        db.create("stock.quant", {"product_id": odd, "location_id": 5, "quantity": 3})
        db.create("stock.quant", {"product_id": 3, "location_id": 5, "quantity": 7})
    with hook_for(odoo) as h:
        with pytest.raises(SkippableError) as err:
            h.stock_snapshot()
        assert err.value.code == "UNKNOWN_UOM" and "Kisten" in err.value.message
        rejects: list = []
        levels = h.stock_snapshot(rejects=rejects)
    assert [(l.material_id, l.quantity) for l in levels] == [("1.03.0100", Decimal("7"))]
    assert [r.code for r in rejects] == ["UNKNOWN_UOM"]


# -- auth, permissions, configuration -----------------------------------------------------------


@pytest.mark.parametrize("route", ["jsonrpc", "session"])
def test_wrong_password_is_fatal_and_never_printed_or_logged(odoo, route, caplog):
    wrong = "WRONG-odoo-key-55aa01"
    caplog.set_level(logging.DEBUG)
    with hook_for(odoo, route, password=wrong) as h:
        with pytest.raises(FatalError) as err:
            h.create_inbound(ASN, "SUP-001", None, LINES)
        assert wrong not in repr(h.config)
    assert err.value.code == "WMS_AUTH"
    assert wrong not in str(err.value) and wrong not in caplog.text and caplog.records


def test_unknown_database_is_fatal_config(odoo):
    with hook_for(odoo, database="nope") as h:
        with pytest.raises(FatalError) as err:
            h.find_inbound(ASN)
    assert err.value.code == "WMS_CONFIG" and "nope" in err.value.message


def test_missing_inventory_rights_are_fatal_permission(odoo, hook):
    odoo.state.denied_models.add("stock.picking")
    with pytest.raises(FatalError) as err:
        hook.find_inbound(ASN)
    assert err.value.code == "WMS_PERMISSION" and "stock.picking" in err.value.message


def test_an_unknown_location_name_is_fatal_config(odoo):
    with hook_for(odoo, quarantine_location="WH/Nowhere") as h:
        with pytest.raises(FatalError) as err:
            h.qc_hold({"material_id": "1.02.0033", "batch_number": "L"})
    assert err.value.code == "WMS_CONFIG" and "WH/Nowhere" in err.value.message


def test_wrong_base_url_is_fatal_contract(odoo):
    with WmsHook(WmsConfig(base_url=odoo.base_url + "/odoo", token=PASSWORD, dialect="odoo", login=LOGIN,
                           database=DATABASE, timeout=5)) as h:
        with pytest.raises(FatalError) as err:
            h.find_inbound(ASN)
    assert err.value.code == "WMS_CONTRACT" and "404" in err.value.message


# -- faults -------------------------------------------------------------------------------------


def test_session_expiry_logs_in_again_once_and_nothing_is_lost(odoo):
    with hook_for(odoo, "session") as h:
        h.find_inbound(ASN)
        logins = odoo.state.logins
        arm(odoo, kind="session_expired", match="stock.picking.create")
        created = h.create_inbound(ASN, "SUP-001", None, LINES)
    assert created["status"] == "assigned" and odoo.state.logins == logins + 1
    assert len(pickings(odoo)) == 1


def test_session_expiring_again_right_after_login_is_retriable(odoo):
    with hook_for(odoo, "session") as h:
        h.find_inbound(ASN)
        arm(odoo, kind="session_expired", match="stock.picking.search_read", count=2)
        with pytest.raises(RetriableError) as err:
            h.find_inbound(ASN)
    assert err.value.code == "WMS_SESSION_EXPIRED"


@pytest.mark.parametrize("fault, code", [
    ({"kind": "http5xx", "status": 502}, "WMS_UNAVAILABLE"),
    ({"kind": "http5xx", "status": 500}, "WMS_UNAVAILABLE"),
    ({"kind": "http429", "retry_after": 7}, "WMS_RATE_LIMITED"),
    ({"kind": "malformed_json"}, "WMS_MALFORMED_RESPONSE"),
    ({"kind": "reset"}, "WMS_UNAVAILABLE"),
])
def test_transient_faults_are_retriable_and_a_retry_succeeds(odoo, hook, fault, code):
    arm(odoo, match="stock.picking.search_read", **fault)
    with pytest.raises(RetriableError) as err:
        hook.create_inbound(ASN, "SUP-001", None, LINES)
    assert err.value.code == code
    if code == "WMS_RATE_LIMITED":
        assert "Retry-After 7s" in err.value.message
    assert pickings(odoo) == []
    assert hook.create_inbound(ASN, "SUP-001", None, LINES)["status"] == "assigned"


@pytest.mark.parametrize("fault", [{"kind": "http5xx", "after": True}, {"kind": "malformed_json", "after": True}])
def test_answer_lost_after_create_is_retriable_and_the_retry_makes_no_second_picking(odoo, hook, fault):
    arm(odoo, match="stock.picking.create", **fault)
    with pytest.raises(RetriableError):
        hook.create_inbound(ASN, "SUP-001", None, LINES)
    hook.create_inbound(ASN, "SUP-001", None, LINES)
    assert len(pickings(odoo)) == 1 and odoo.state.count("stock.picking.create") == 1


def test_latency_beyond_the_timeout_is_retriable_and_within_it_is_fine(odoo):
    odoo.state.faults.arm(Fault(kind="latency", delay=0.2, match="stock.picking.search_read"))
    with hook_for(odoo) as h:
        assert h.find_inbound(ASN) is None
    odoo.state.faults.arm(Fault(kind="latency", delay=3, match="stock.picking.search_read"))
    with hook_for(odoo, timeout=0.5) as h:
        with pytest.raises(RetriableError) as err:
            h.find_inbound(ASN)
    assert err.value.code == "WMS_UNAVAILABLE" and "timed out" in err.value.message


def test_business_error_is_skippable_with_odoo_name_and_text(odoo, hook):
    created = hook.create_inbound(ASN, "SUP-001", None, LINES)
    receive(odoo, created["asn_code"])
    # validating a done picking is refused by Odoo: the hook's error names the exception and call
    with pytest.raises(SkippableError) as err:
        hook.client.rpc.execute("stock.picking", "button_validate", [[created["wms_id"]]], where=f"asn {ASN}")
    assert err.value.code == "WMS_REJECTED" and "odoo.exceptions.UserError" in err.value.message
    assert "stock.picking.button_validate" in err.value.message and "Traceback" not in err.value.message


def test_an_odoo_without_the_v17_fields_is_fatal_contract(odoo, hook):
    with pytest.raises(FatalError) as err:
        hook.client.rpc.execute("stock.move", "search_read", [[]], {"fields": ["quantity_done"]}, where="x")
    assert err.value.code == "WMS_CONTRACT" and "quantity_done" in err.value.message
