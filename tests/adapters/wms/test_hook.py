"""WmsHook against the GreaterWMS simulator over real HTTP on 127.0.0.1 (no mocks)."""
from __future__ import annotations

import logging
import socket
from typing import Iterator

import pytest
import requests

from adapters.wms.config import WmsConfig
from adapters.wms.hook import WmsHook
from hub.errors import FatalError, RetriableError, SkippableError
from simulators.base import SimulatorServer, running
from simulators.wms import WmsState, make_server, operate_receiving, seed_demo

TOKEN = "hook-test-token-9c41d7e2"
LINES = [{"line_no": 1, "sku": "1.02.0033", "qty": "200", "uom": "PCE"},
         {"line_no": 2, "sku": "1.02.0041", "qty": 50, "uom": "PCE"}]


@pytest.fixture(scope="module")
def _server() -> Iterator[SimulatorServer]:
    # one server per module: shutting a server down waits out its poll interval
    with running(make_server()) as server:
        yield server


@pytest.fixture
def wms(_server: SimulatorServer) -> SimulatorServer:
    _server.state = seed_demo(WmsState(tokens=[TOKEN]))
    return _server


def hook_for(server: SimulatorServer, token: str = TOKEN, **settings) -> WmsHook:
    return WmsHook(WmsConfig(base_url=server.base_url, token=token, timeout=5, **settings))


@pytest.fixture
def hook(wms: SimulatorServer) -> Iterator[WmsHook]:
    with hook_for(wms) as h:
        yield h


def posts(server: SimulatorServer, path: str) -> int:
    return sum(1 for method, p in server.state.requests if method == "POST" and p == path)


def test_create_then_receive_short_shows_shortage_in_receipt(wms, hook):
    created = hook.create_inbound("DESADV-0001", "SUP-001", "2024-05-08", LINES)
    assert created == {"wms_id": 1, "asn_code": "ASN00000001", "status": 1}
    assert hook.get_receipt("ASN00000001") is None  # nothing counted yet

    operate_receiving(wms.base_url, TOKEN, "ASN00000001", {"1.02.0033": 198}, bin_name="A-01-02")

    receipt = hook.get_receipt("ASN00000001")
    assert receipt["asn_no"] == "DESADV-0001" and receipt["wms_id"] == 1 and receipt["complete"] is True
    assert receipt["received_at"][10] == "T"
    by_sku = {line["sku"]: line for line in receipt["lines"]}
    assert by_sku["1.02.0033"].items() >= {"qty_received": "198", "qty_shortage": "2", "qty_damaged": "0",
                                           "bin": "A-01-02"}.items()
    assert by_sku["1.02.0041"]["qty_received"] == "50" and by_sku["1.02.0041"]["qty_shortage"] == "0"


def test_counted_but_not_put_away_is_an_incomplete_receipt(wms, hook):
    created = hook.create_inbound("DESADV-0002", "SUP-002", None, LINES[:1])
    with requests.Session() as op:
        op.headers["token"] = TOKEN
        for step in ("preload", "presort"):
            op.post(f"{wms.base_url}/asn/{step}/{created['wms_id']}/", timeout=5).raise_for_status()
        op.post(f"{wms.base_url}/asn/sorted/{created['wms_id']}/", timeout=5, json={
            "asn_code": created["asn_code"], "supplier": "SUP-002", "creater": "op",
            "goodsData": [{"goods_code": "1.02.0033", "goods_actual_qty": 201}]}).raise_for_status()
    receipt = hook.get_receipt(created["asn_code"])
    assert receipt["complete"] is False
    assert receipt["lines"][0].items() >= {"qty_received": "201", "qty_over": "1", "bin": None}.items()


def test_create_inbound_twice_makes_one_asn(wms, hook):
    first = hook.create_inbound("DESADV-0003", "SUP-001", None, LINES)
    again = hook.create_inbound("DESADV-0003", "SUP-001", None, LINES)
    assert again == first
    assert len(wms.state.asns) == 1 and len(wms.state.details) == 2
    assert posts(wms, "/asn/list/") == 1 and posts(wms, "/asn/detail/") == 1


def test_rerun_with_changed_lines_is_refused_not_doubled(wms, hook):
    hook.create_inbound("DESADV-0004", "SUP-001", None, LINES)
    changed = [dict(LINES[0], qty=180), LINES[1]]
    with pytest.raises(SkippableError) as err:
        hook.create_inbound("DESADV-0004", "SUP-001", None, changed)
    assert err.value.code == "WMS_ASN_CHANGED" and "ASN00000001" in err.value.message
    assert len(wms.state.asns) == 1


def test_unknown_goods_is_skippable_and_names_the_code_then_retry_reuses_header(wms, hook):
    bad = LINES + [{"line_no": 3, "sku": "9.99.9999", "qty": 1, "uom": "PCE"}]
    with pytest.raises(SkippableError) as err:
        hook.create_inbound("DESADV-0005", "SUP-001", None, bad)
    assert err.value.code == "WMS_REJECTED" and "9.99.9999" in str(err.value)
    assert err.value.where == "asn DESADV-0005"
    # the hub fixes the record and pushes again: the orphan header is completed, not duplicated
    fixed = hook.create_inbound("DESADV-0005", "SUP-001", None, LINES)
    assert fixed["asn_code"] == "ASN00000001" and len(wms.state.asns) == 1


def test_unknown_supplier_is_skippable(wms, hook):
    with pytest.raises(SkippableError, match="Supplier does not exists"):
        hook.create_inbound("DESADV-0006", "SUP-404", None, LINES)


def test_fractional_quantity_is_refused_before_any_call(wms, hook):
    with pytest.raises(SkippableError) as err:
        hook.create_inbound("DESADV-0007", "SUP-001", None, [dict(LINES[0], qty="2.5")])
    assert err.value.code == "WMS_QTY_NOT_INTEGER"
    assert wms.state.requests == []


def test_wms_down_is_retriable(wms, hook):
    wms.state.down = True
    with pytest.raises(RetriableError) as err:
        hook.create_inbound("DESADV-0008", "SUP-001", None, LINES)
    assert err.value.code == "WMS_UNAVAILABLE" and "503" in err.value.message
    wms.state.down = False
    assert hook.create_inbound("DESADV-0008", "SUP-001", None, LINES)["asn_code"] == "ASN00000001"


def test_500_without_json_is_retriable_but_500_with_detail_is_skippable(wms, hook):
    wms.state.fail_next(1, 500)
    with pytest.raises(RetriableError):
        hook.get_receipt("ASN00000001")
    with pytest.raises(SkippableError):  # same status, but the application answered on purpose
        hook.create_inbound("DESADV-0009", "SUP-404", None, LINES)


def test_unreachable_wms_is_retriable():
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with WmsHook(WmsConfig(base_url=f"http://127.0.0.1:{port}", token=TOKEN, timeout=2)) as h:
        with pytest.raises(RetriableError) as err:
            list(h.inventory_snapshot())
    assert TOKEN not in str(err.value)


@pytest.mark.parametrize("auth_status", [500, 401, 403])
def test_bad_token_is_fatal_and_never_printed_or_logged(wms, auth_status, caplog):
    wms.state.auth_status = auth_status
    wrong = "WRONG-token-3f9a1c77"
    caplog.set_level(logging.DEBUG)  # includes urllib3's own request logging
    with hook_for(wms, token=wrong) as h:
        with pytest.raises(FatalError) as err:
            h.create_inbound("DESADV-0010", "SUP-001", None, LINES)
        assert repr(h.config).find(wrong) == -1
    assert err.value.code == "WMS_AUTH"
    assert wrong not in str(err.value) and wrong not in err.value.message
    assert caplog.records, "the hook should have logged something at DEBUG"
    assert wrong not in caplog.text


def test_inventory_snapshot_pages_through_every_row_once(wms):
    codes = [f"7.00.{n:04d}" for n in range(23)]
    for code in codes:
        wms.state.add_goods(code)
    with hook_for(wms, page_size=4) as h:
        h.create_inbound("DESADV-0011", "SUP-001", None,
                         [{"line_no": i + 1, "sku": c, "qty": i + 1, "uom": "PCE"} for i, c in enumerate(codes)])
        wms.state.requests.clear()
        items = list(h.inventory_snapshot())
        assert sorted(i["sku"] for i in items) == sorted(codes)
        assert sum(1 for m, p in wms.state.requests if p == "/stock/list/") == 6  # ceil(23 / 4)
        assert {i["sku"]: i["inbound"] for i in items}["7.00.0004"] == "5"
        assert [i["sku"] for i in h.inventory_snapshot(sku="7.00.0010")] == ["7.00.0010"]


def test_without_asn_ref_extension_the_hook_still_finds_its_inbound_by_creater(wms, hook):
    # real GreaterWMS drops asn_ref; the reference lives in the header's creater (asn/filter.py: exact)
    wms.state.asn_ref_extension = False
    created = hook.create_inbound("SUP-001/DESADV-0012", "SUP-001", None, LINES)
    found = hook.find_inbound("SUP-001/DESADV-0012")
    assert found["asn_code"] == created["asn_code"] and found["creater"] == "mes-hub:SUP-001/DESADV-0012"
    assert "asn_ref" not in found
    assert hook.find_inbound("SUP-001/DESADV-0099") is None
    # a repeat after the answer was lost creates nothing new, without the extension too
    assert hook.create_inbound("SUP-001/DESADV-0012", "SUP-001", None, LINES) == created
    assert len(wms.state.asns) == 1 and posts(wms, "/asn/list/") == 1


def test_a_server_ignoring_the_filter_does_not_make_another_asn_ours(wms, hook):
    # an inbound someone created by hand, with a creater that merely contains our reference
    with requests.Session() as op:
        op.headers["token"] = TOKEN
        op.post(f"{wms.base_url}/asn/list/", json={"creater": "clerk copy of mes-hub:SUP-001/DESADV-0013"}, timeout=5)
    assert hook.find_inbound("SUP-001/DESADV-0013") is None
    # a GreaterWMS whose django-filter ignores the views' filter_class answers every row
    hook.create_inbound("SUP-001/DESADV-0014", "SUP-001", None, LINES[1:])
    wms.state.honour_filters = False
    assert hook.find_inbound("SUP-001/DESADV-0013") is None
    created = hook.create_inbound("SUP-001/DESADV-0013", "SUP-001", None, LINES)
    assert hook.find_inbound("SUP-001/DESADV-0013")["asn_code"] == created["asn_code"] == "ASN00000003"
    assert hook.create_inbound("SUP-001/DESADV-0013", "SUP-001", None, LINES) == created  # not "changed"
    assert [i["sku"] for i in hook.inventory_snapshot(sku="1.02.0041")] == ["1.02.0041"]


def test_receipt_of_unknown_asn_is_skippable(wms, hook):
    with pytest.raises(SkippableError, match="ASN09999999"):
        hook.get_receipt("ASN09999999")


# -- config -----------------------------------------------------------------------------------

def test_config_from_airflow_uri_keeps_token_secret():
    cfg = WmsConfig.from_uri("wms://:s3cr%2Ft-tok@wms.local:8603/?dialect=greaterwms&timeout=12&page_size=200")
    assert cfg.base_url == "http://wms.local:8603" and cfg.timeout == 12 and cfg.page_size == 200
    assert cfg.token.get_secret_value() == "s3cr/t-tok"
    assert "s3cr" not in repr(cfg) and "s3cr" not in str(cfg) and "s3cr" not in cfg.model_dump_json()
    https = WmsConfig.from_uri("wms://:t@wms.local/https?base_path=/api")
    assert https.base_url == "https://wms.local/api"


def test_config_from_conn_id_accepts_uri_and_json(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_WMS_DEFAULT", "wms://:tok@127.0.0.1:8603/")
    assert WmsConfig.from_conn_id().base_url == "http://127.0.0.1:8603"
    monkeypatch.setenv("AIRFLOW_CONN_WMS_DEFAULT", '{"conn_type": "wms", "host": "h", "port": 1, "password": "p",'
                                                   ' "extra": {"page_size": "7"}}')
    assert WmsConfig.from_conn_id().page_size == 7
    assert WmsHook.from_conn_id().config.page_size == 7


@pytest.mark.parametrize("uri, fragment", [
    ("wms://h:1/", "no password"),
    ("wms://:tok@h:1/?colour=red", "colour"),
    ("wms://:tok@h:1/?page_size=5000", "page_size"),
    ("ftp://:tok@h:1/", "connection type"),
    ("wms://:tok@h:1/gopher", "schema"),
])
def test_bad_connection_settings_are_fatal_and_hide_the_token(uri, fragment):
    with pytest.raises(FatalError) as err:
        WmsConfig.from_uri(uri)
    assert err.value.code == "WMS_CONFIG" and fragment in str(err.value)
    assert "tok" not in str(err.value).replace("token", "")


def test_odoo_dialect_needs_login_and_database():
    with pytest.raises(FatalError, match="login"):
        WmsConfig.from_uri("wms://:tok@h:1/?dialect=odoo")
    cfg = WmsConfig.from_uri("wms://mes_api:tok@h:1/?dialect=odoo&database=wms_prod")
    with WmsHook(cfg) as hook:
        assert hook.dialect == "odoo" and hook.supports("qc_hold")


def test_drf_validation_400_is_skippable_with_the_field_message(wms, hook):
    with pytest.raises(SkippableError) as err:
        hook.create_inbound("DESADV-0013", "SUP-001", None, [{"line_no": 1, "sku": "", "qty": 1, "uom": "PCE"}])
    assert err.value.code == "WMS_REJECTED" and "goods_code:" in err.value.message and "400" in err.value.message


def test_duplicate_skus_are_refused_before_any_call(wms, hook):
    with pytest.raises(SkippableError) as err:
        hook.create_inbound("DESADV-0014", "SUP-001", None, [LINES[0], dict(LINES[0], line_no=3)])
    assert err.value.code == "WMS_DUPLICATE_SKU" and wms.state.requests == []


# -- cancel_inbound --------------------------------------------------------------------------

def deletes(server: SimulatorServer) -> int:
    return sum(1 for method, _ in server.state.requests if method == "DELETE")


def test_cancel_inbound_withdraws_once_and_a_rerun_is_done(wms, hook):
    created = hook.create_inbound("DESADV-0100", "SUP-001", None, LINES)
    assert hook.cancel_inbound("DESADV-0100") == {"asn_code": created["asn_code"], "wms_id": created["wms_id"],
                                                  "withdrawn": True}
    assert hook.find_inbound("DESADV-0100") is None
    assert hook.cancel_inbound("DESADV-0100") == {"asn_code": None, "wms_id": None, "withdrawn": False}
    assert hook.cancel_inbound("NEVER-SENT") == {"asn_code": None, "wms_id": None, "withdrawn": False}
    assert deletes(wms) == 1


@pytest.mark.parametrize("steps", [("preload",), ("preload", "presort"), ("receive",)])
def test_cancel_inbound_after_receiving_started_is_skippable_too_late(wms, hook, steps):
    created = hook.create_inbound("DESADV-0101", "SUP-001", None, LINES)
    if steps == ("receive",):
        operate_receiving(wms.base_url, TOKEN, created["asn_code"])
    else:
        for step in steps:
            requests.post(f"{wms.base_url}/asn/{step}/{created['wms_id']}/", headers={"token": TOKEN}, timeout=5)
    with pytest.raises(SkippableError) as err:
        hook.cancel_inbound("DESADV-0101")
    assert err.value.code == "WMS_CANCEL_TOO_LATE" and err.value.where == "asn DESADV-0101"
    assert created["asn_code"] in err.value.message and "WMS status" in err.value.message
    assert deletes(wms) == 0  # refused before the wire: nothing half-done at the WMS
    assert hook.find_inbound("DESADV-0101") is not None
