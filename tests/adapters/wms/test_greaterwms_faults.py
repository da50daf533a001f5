"""WmsHook, dialect greaterwms: faults injected by the simulator, hostile input, and the contract's
newer operations (receipts_since, stock_snapshot, QC), over real HTTP on 127.0.0.1 (no mocks)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Iterator

import pytest
import requests

from adapters.wms.config import WmsConfig
from adapters.wms.contract import Wms
from adapters.wms.discrepancies import receiving_discrepancies
from adapters.wms.hook import WmsHook
from canonical_model.documents import ShipmentNotice
from hub.errors import FatalError, RetriableError, SkippableError
from simulators.base import SimulatorServer, running
from simulators.wms import WmsState, make_server, operate_receiving, seed_demo
from simulators.wms.faults import Fault

TOKEN = "gw-fault-token-0d9e"
ASN = "SUP-001/DESADV-8001"
LINES = [{"line_no": 1, "sku": "1.02.0033", "qty": 200, "uom": "H87"},
         {"line_no": 2, "sku": "1.02.0041", "qty": 50, "uom": "H87"}]


@pytest.fixture(scope="module")
def _server() -> Iterator[SimulatorServer]:
    with running(make_server()) as server:
        yield server


@pytest.fixture
def wms(_server: SimulatorServer) -> SimulatorServer:
    _server.state = seed_demo(WmsState(tokens=[TOKEN]))
    return _server


@pytest.fixture
def hook(wms: SimulatorServer) -> Iterator[WmsHook]:
    with WmsHook(WmsConfig(base_url=wms.base_url, token=TOKEN, timeout=5)) as h:
        yield h


def arm(server: SimulatorServer, **fault) -> None:
    resp = requests.post(f"{server.base_url}/__sim/faults", json=fault, timeout=5)
    assert resp.status_code == 200, resp.text


def posts(server: SimulatorServer, path: str) -> int:
    return sum(1 for method, p in server.state.requests if method == "POST" and p == path)


def test_hook_is_the_wms_contract(hook):
    assert isinstance(hook, Wms) and hook.dialect == "greaterwms" and not hook.supports("qc_hold")


@pytest.mark.parametrize("path", ["/asn/list/", "/asn/detail/"])
def test_reset_after_a_create_then_retry_makes_one_asn_with_its_lines_once(wms, hook, path):
    arm(wms, kind="reset", match=f"POST {path}")
    with pytest.raises(RetriableError) as err:
        hook.create_inbound(ASN, "SUP-001", None, LINES)
    assert err.value.code == "WMS_UNAVAILABLE"
    created = hook.create_inbound(ASN, "SUP-001", None, LINES)
    assert created["asn_code"] == "ASN00000001" and len(wms.state.asns) == 1 and len(wms.state.details) == 2
    assert posts(wms, "/asn/list/") == 1 and posts(wms, "/asn/detail/") == 1


@pytest.mark.parametrize("fault, code", [
    ({"kind": "http5xx", "status": 502}, "WMS_UNAVAILABLE"),
    ({"kind": "http5xx", "status": 500}, "WMS_UNAVAILABLE"),
    ({"kind": "http429", "retry_after": 30}, "WMS_RATE_LIMITED"),
    ({"kind": "malformed_json"}, "WMS_MALFORMED_RESPONSE"),
    ({"kind": "http5xx", "after": True, "match": "POST /asn/list/"}, "WMS_UNAVAILABLE"),
    ({"kind": "malformed_json", "after": True, "match": "POST /asn/list/"}, "WMS_MALFORMED_RESPONSE"),
])
def test_transient_faults_are_retriable_and_nothing_is_doubled(wms, hook, fault, code):
    arm(wms, **{"match": "GET /asn/list/", **fault})
    with pytest.raises(RetriableError) as err:
        hook.create_inbound(ASN, "SUP-001", None, LINES)
    assert err.value.code == code
    if code == "WMS_RATE_LIMITED":
        assert "Retry-After 30s" in err.value.message
    hook.create_inbound(ASN, "SUP-001", None, LINES)
    assert len(wms.state.asns) == 1 and len(wms.state.details) == 2


def test_latency_beyond_the_timeout_is_retriable(wms):
    wms.state.faults.arm(Fault(kind="latency", delay=3, match="GET /stock/list/"))
    with WmsHook(WmsConfig(base_url=wms.base_url, token=TOKEN, timeout=0.5)) as h:
        with pytest.raises(RetriableError) as err:
            list(h.inventory_snapshot())
    assert "timed out" in err.value.message


def test_quotes_and_unicode_in_the_asn_number_are_stored_and_found_again(wms, hook):
    asn_no = "SUP-001/DES'ADV\"-8002 轴承 Ω"
    created = hook.create_inbound(asn_no, "SUP-001", None, LINES)
    assert hook.find_inbound(asn_no)["asn_code"] == created["asn_code"]
    assert hook.create_inbound(asn_no, "SUP-001", None, LINES) == created
    assert hook.find_inbound("SUP-001/DES'ADV") is None


@pytest.mark.parametrize("asn_no, supplier", [("SUP-001/SELECT-1", "SUP-001"), ("SUP-001/ok", "<Script>"),
                                              ("SUP-001/" + "x" * 300, "SUP-001")])
def test_text_greaterwms_refuses_is_skippable_before_any_call(wms, hook, asn_no, supplier):
    with pytest.raises(SkippableError) as err:
        hook.create_inbound(asn_no, supplier, None, LINES)
    assert err.value.code == "WMS_REJECTED" and "data_validate" in err.value.message
    assert wms.state.requests == []


def test_huge_whole_quantity_round_trips(wms, hook):
    created = hook.create_inbound(ASN, "SUP-001", None, [dict(LINES[0], qty="900000000000")])
    operate_receiving(wms.base_url, TOKEN, created["asn_code"])
    assert hook.get_receipt(created["asn_code"])["lines"][0]["qty_received"] == "900000000000"


def test_create_expected_receipt_from_a_shipment_notice_sums_lines_per_material(wms, hook):
    notice = ShipmentNotice(asn_number="DESADV-8003", supplier_id="SUP-002", lines=[
        {"line_no": 1, "material_id": "1.02.0033", "quantity": "120", "uom": "H87", "batch_number": "B1"},
        {"line_no": 2, "material_id": "1.02.0033", "quantity": "80", "uom": "H87", "batch_number": "B2"}])
    created = hook.create_expected_receipt(notice)
    assert hook.find_inbound("SUP-002/DESADV-8003")["asn_code"] == created["asn_code"]
    assert [(d["goods_code"], d["goods_qty"]) for d in wms.state.details] == [("1.02.0033", 200)]
    assert hook.cancel_expected_receipt("SUP-002/DESADV-8003")["withdrawn"] is True


def test_receipts_since_reads_counted_asns_and_flags_inbounds_the_hub_never_made(wms, hook):
    created = hook.create_inbound(ASN, "SUP-001", None, LINES)
    operate_receiving(wms.base_url, TOKEN, created["asn_code"], {"1.02.0033": 198})
    with requests.Session() as op:  # the warehouse books a delivery nobody announced
        op.headers["token"] = TOKEN
        asn = op.post(f"{wms.base_url}/asn/list/", json={"creater": "clerk"}, timeout=5).json()
        op.post(f"{wms.base_url}/asn/detail/", json={"asn_code": asn["asn_code"], "supplier": "SUP-002",
                                                     "creater": "clerk", "goods_code": ["1.03.0100"],
                                                     "goods_qty": [5]}, timeout=5).raise_for_status()
    operate_receiving(wms.base_url, TOKEN, asn["asn_code"])
    receipts = list(hook.receipts_since(dt.datetime(2000, 1, 1)))
    assert [(r["asn_code"], r["asn_no"], r["supplier"]) for r in receipts] == [
        ("ASN00000001", ASN, "SUP-001"), ("ASN00000002", None, "SUP-002")]
    assert list(hook.receipts_since(dt.datetime(2999, 1, 1))) == []
    (stray,) = receiving_discrepancies(receipts[1], None)
    assert stray.kind == "NO_ASN" and stray.responsible_party == "SUP-002" and "1.03.0100" in stray.message


def test_stock_snapshot_is_canonical_per_material_and_bin(wms, hook):
    created = hook.create_inbound(ASN, "SUP-001", None, LINES)
    operate_receiving(wms.base_url, TOKEN, created["asn_code"], {"1.02.0041": 48}, damaged_qtys={"1.02.0041": 2})
    levels = {(s.material_id, s.warehouse): s for s in hook.stock_snapshot()}
    assert {k: v.quantity for k, v in levels.items()} == {
        ("1.02.0033", "A-01-01"): Decimal(200), ("1.02.0041", "A-01-01"): Decimal(46),
        ("1.02.0041", "DMG-01"): Decimal(2)}
    assert {v.uom for v in levels.values()} == {"H87"} and {v.batch_number for v in levels.values()} == {""}


def test_unknown_goods_unit_is_skippable_or_collected(wms, hook):
    wms.state.add_goods("8.00.0001", unit="Kiste")
    created = hook.create_inbound(ASN, "SUP-001", None, [*LINES, {"line_no": 3, "sku": "8.00.0001", "qty": 3,
                                                                  "uom": "H87"}])
    operate_receiving(wms.base_url, TOKEN, created["asn_code"])
    with pytest.raises(SkippableError) as err:
        hook.stock_snapshot()
    assert err.value.code == "UNKNOWN_UOM" and "Kiste" in err.value.message
    rejects: list = []
    assert {s.material_id for s in hook.stock_snapshot(rejects)} == {"1.02.0033", "1.02.0041"}
    assert [r.code for r in rejects] == ["UNKNOWN_UOM"]


def test_qc_hold_is_refused_as_unsupported_without_calling_the_wms(wms, hook):
    with pytest.raises(FatalError) as err:
        hook.qc_hold({"material_id": "1.02.0033", "batch_number": "L1"})
    assert err.value.code == "WMS_UNSUPPORTED" and "L1" in err.value.message
    with pytest.raises(FatalError):
        hook.qc_release({"material_id": "1.02.0033", "batch_number": "L1"})
    assert wms.state.requests == []
