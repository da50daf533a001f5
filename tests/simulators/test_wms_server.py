"""The GreaterWMS simulator over real HTTP on 127.0.0.1: wire shapes, status machine, hostile input."""
from __future__ import annotations

import hashlib
from typing import Any, Iterator

import pytest
import requests

from simulators.base import SimulatorServer, running
from simulators.wms import WmsState, make_server, operate_receiving, seed_demo
from simulators.wms import odoo as odoo_sim
from simulators.wms.faults import Fault

TOKEN = "sim-test-token-5b1e0c"


@pytest.fixture(scope="module")
def _server() -> Iterator[SimulatorServer]:
    # one server per module: shutting a server down waits out its poll interval
    with running(make_server()) as server:
        yield server


@pytest.fixture
def wms(_server: SimulatorServer) -> SimulatorServer:
    # a fresh warehouse per test; handlers read server.state on every request
    _server.state = seed_demo(WmsState(tokens=[TOKEN]))
    return _server


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["token"] = TOKEN
        yield session


def call(http: requests.Session, server: SimulatorServer, method: str, path: str, **kw: Any) -> requests.Response:
    return http.request(method, server.base_url + path, timeout=5, **kw)


def new_asn(http, server, lines: dict[str, int], supplier: str = "SUP-001", asn_ref: str | None = None) -> dict:
    body = {"creater": "test"} | ({"asn_ref": asn_ref} if asn_ref else {})
    asn = call(http, server, "POST", "/asn/list/", json=body).json()
    resp = call(http, server, "POST", "/asn/detail/", json={
        "asn_code": asn["asn_code"], "supplier": supplier, "creater": "test",
        "goods_code": list(lines), "goods_qty": list(lines.values())})
    assert resp.status_code == 200, resp.text
    return asn


def test_missing_and_unknown_token_answer_like_greaterwms(wms):
    # GreaterWMS raises APIException from utils/auth.py, which DRF renders as HTTP 500
    missing = requests.get(wms.base_url + "/asn/list/", timeout=5)
    assert missing.status_code == 500
    assert missing.json() == {"detail": "Please Add Openid To Your Request Headers"}
    unknown = requests.get(wms.base_url + "/asn/list/", headers={"token": "nope"}, timeout=5)
    assert unknown.status_code == 500
    assert unknown.json() == {"detail": "User Does Not Exists"}

    wms.state.auth_status = 401
    assert requests.get(wms.base_url + "/asn/list/", headers={"token": "nope"}, timeout=5).status_code == 401


def test_asn_header_gets_sequence_code_md5_barcode_and_status_1(wms, http):
    first = call(http, wms, "POST", "/asn/list/", json={"creater": "mes"}).json()
    second = call(http, wms, "POST", "/asn/list/", json={"creater": "mes", "asn_ref": "DESADV-1"}).json()
    assert (first["asn_code"], second["asn_code"]) == ("ASN00000001", "ASN00000002")
    assert first["bar_code"] == hashlib.md5(b"ASN00000001").hexdigest()
    assert first["asn_status"] == 1 and first["creater"] == "mes"
    by_ref = call(http, wms, "GET", "/asn/list/", params={"asn_ref": "DESADV-1"}).json()
    assert [r["asn_code"] for r in by_ref["results"]] == ["ASN00000002"]
    assert by_ref["supplier_list"] == ["SUP-001", "SUP-002"]


def test_without_the_extension_asn_ref_is_ignored_like_real_greaterwms(wms, http):
    wms.state.asn_ref_extension = False
    call(http, wms, "POST", "/asn/list/", json={"creater": "mes", "asn_ref": "DESADV-1"})
    call(http, wms, "POST", "/asn/list/", json={"creater": "mes"})
    rows = call(http, wms, "GET", "/asn/list/", params={"asn_ref": "DESADV-1"}).json()["results"]
    assert len(rows) == 2 and all("asn_ref" not in r for r in rows)


def test_detail_rejects_unknown_master_data_with_drf_500_detail(wms, http):
    asn = call(http, wms, "POST", "/asn/list/", json={"creater": "mes"}).json()
    body = {"asn_code": asn["asn_code"], "creater": "mes", "goods_code": ["1.02.0033"], "goods_qty": [5]}
    resp = call(http, wms, "POST", "/asn/detail/", json=body | {"supplier": "SUP-404"})
    assert (resp.status_code, resp.json()) == (500, {"detail": "Supplier does not exists"})
    resp = call(http, wms, "POST", "/asn/detail/", json=body | {"supplier": "SUP-001", "goods_code": ["9.99.9999"]})
    assert resp.status_code == 500 and "9.99.9999" in resp.json()["detail"]
    resp = call(http, wms, "POST", "/asn/detail/", json=body | {"supplier": "SUP-001", "asn_code": "ASN09999999"})
    assert resp.json() == {"detail": "ASN Code does not exists"}
    assert wms.state.details == []  # a rejected request writes nothing


@pytest.mark.parametrize("raw, field", [
    (b'{"asn_code": "ASN00000001", "goods_code": [', "detail"),            # malformed JSON
    (b'["not", "an", "object"]', "non_field_errors"),
    (b'\xff\xfe garbage', "detail"),
])
def test_unparsable_bodies_get_400_with_an_explanation(wms, http, raw, field):
    resp = call(http, wms, "POST", "/asn/detail/", data=raw, headers={"Content-Type": "application/json"})
    assert resp.status_code == 400 and field in resp.json()


@pytest.mark.parametrize("change, field", [
    ({"goods_qty": [5]}, "goods_qty"),                                     # parallel arrays of unequal length
    ({"goods_qty": [5, -3]}, "goods_qty"),                                 # negative quantity
    ({"goods_qty": [5, 0]}, "goods_qty"),
    ({"goods_qty": [5, "7"]}, "goods_qty"),                                # quantity as text
    ({"goods_qty": [5, True]}, "goods_qty"),
    ({"goods_code": ["1.02.0033", "1.02.0033"]}, "goods_code"),            # one line per goods code
    ({"goods_code": "1.02.0033"}, "goods_code"),
    ({"supplier": None}, "supplier"),
])
def test_invalid_detail_requests_get_400_field_messages_and_write_nothing(wms, http, change, field):
    asn = call(http, wms, "POST", "/asn/list/", json={"creater": "mes"}).json()
    body = {"asn_code": asn["asn_code"], "supplier": "SUP-001", "creater": "mes",
            "goods_code": ["1.02.0033", "1.02.0041"], "goods_qty": [5, 7]} | change
    resp = call(http, wms, "POST", "/asn/detail/", json=body)
    assert resp.status_code == 400, resp.text
    assert isinstance(resp.json()[field], list)
    assert wms.state.details == [] and wms.state.stock == {}
    # the server survived and still serves the same keep-alive session
    assert call(http, wms, "GET", "/asn/list/").status_code == 200


def test_receiving_status_machine_computes_shortage_surplus_damage_and_stock(wms, http):
    asn = new_asn(http, wms, {"1.02.0033": 200, "1.02.0041": 50})
    stock = {r["goods_code"]: r for r in call(http, wms, "GET", "/stock/list/").json()["results"]}
    assert stock["1.02.0033"]["asn_stock"] == 200

    final = operate_receiving(wms.base_url, TOKEN, asn["asn_code"], {"1.02.0033": 198, "1.02.0041": 52},
                              damaged_qtys={"1.02.0041": 2})
    assert final["asn_status"] == 5
    lines = {r["goods_code"]: r for r in
             call(http, wms, "GET", "/asn/detail/", params={"asn_code": asn["asn_code"]}).json()["results"]}
    assert (lines["1.02.0033"]["goods_actual_qty"], lines["1.02.0033"]["goods_shortage_qty"]) == (198, 2)
    assert (lines["1.02.0041"]["goods_more_qty"], lines["1.02.0041"]["goods_damage_qty"]) == (2, 2)
    stock = {r["goods_code"]: r for r in call(http, wms, "GET", "/stock/list/").json()["results"]}
    assert stock["1.02.0033"]["onhand_stock"] == stock["1.02.0033"]["can_order_stock"] == 198
    assert (stock["1.02.0041"]["can_order_stock"], stock["1.02.0041"]["damage_stock"]) == (50, 2)
    assert all(stock[c][b] == 0 for c in stock for b in ("asn_stock", "pre_sort_stock", "sorted_stock"))
    bins = call(http, wms, "GET", "/stock/bin/", params={"bin_name": "DMG-01"}).json()["results"]
    assert [(b["goods_code"], b["goods_qty"], b["bin_property"]) for b in bins] == [("1.02.0041", 2, "Damage")]


def test_status_machine_refuses_steps_out_of_order(wms, http):
    asn = new_asn(http, wms, {"1.02.0033": 10})
    resp = call(http, wms, "POST", f"/asn/sorted/{asn['id']}/", json={
        "asn_code": asn["asn_code"], "supplier": "SUP-001", "creater": "op",
        "goodsData": [{"goods_code": "1.02.0033", "goods_actual_qty": 10}]})
    assert resp.json() == {"detail": "This ASN Status Is Not 3"}
    call(http, wms, "POST", f"/asn/preload/{asn['id']}/")
    assert call(http, wms, "POST", f"/asn/preload/{asn['id']}/").json() == {"detail": "This ASN Status Is Not 1"}
    call(http, wms, "POST", f"/asn/presort/{asn['id']}/")
    resp = call(http, wms, "POST", f"/asn/sorted/{asn['id']}/", json={
        "asn_code": asn["asn_code"], "goodsData": [{"goods_code": "1.02.0033", "goods_actual_qty": -1}]})
    assert resp.status_code == 400 and "goods_actual_qty" in resp.json()
    call(http, wms, "POST", f"/asn/sorted/{asn['id']}/", json={
        "asn_code": asn["asn_code"], "goodsData": [{"goods_code": "1.02.0033", "goods_actual_qty": 10}]})
    detail_id = wms.state.details[0]["id"]
    move = {"asn_code": asn["asn_code"], "goods_code": "1.02.0033", "bin_name": "A-01-01", "creater": "op"}
    assert call(http, wms, "POST", f"/asn/movetobin/{detail_id}/", json=move | {"qty": 0}).json() == \
        {"detail": "Move QTY Must > 0"}
    assert call(http, wms, "POST", f"/asn/movetobin/{detail_id}/", json=move | {"qty": 11}).status_code == 500
    assert call(http, wms, "POST", f"/asn/movetobin/{detail_id}/", json=move | {"qty": 4}).status_code == 200
    assert wms.state.asns[0]["asn_status"] == 4  # 6 still to put away
    assert call(http, wms, "POST", f"/asn/movetobin/{detail_id}/", json=move | {"qty": 6}).status_code == 200
    assert wms.state.asns[0]["asn_status"] == 5


def test_page_number_pagination_covers_every_row_once(wms, http):
    for _ in range(7):
        call(http, wms, "POST", "/asn/list/", json={"creater": "mes"})
    seen, page, pages = [], 1, 0
    while True:
        body = call(http, wms, "GET", "/asn/list/", params={"page": page, "max_page": 3}).json()
        assert body["count"] == 7
        assert (body["previous"] is None) == (page == 1)
        seen += [r["asn_code"] for r in body["results"]]
        pages += 1
        if body["next"] is None:
            break
        assert "page=%d" % (page + 1) in body["next"]
        page += 1
    assert pages == 3 and seen == [f"ASN{i:08d}" for i in range(1, 8)]
    assert call(http, wms, "GET", "/asn/list/", params={"page": 4, "max_page": 3}).status_code == 404


def test_down_and_injected_failures_answer_without_json(wms, http):
    wms.state.down = True
    resp = call(http, wms, "GET", "/asn/list/")
    assert resp.status_code == 503 and "json" not in resp.headers["Content-Type"]
    wms.state.down = False
    wms.state.fail_next(2, 500)
    assert [call(http, wms, "GET", "/asn/list/").status_code for _ in range(3)] == [500, 500, 200]


def test_unknown_routes_and_methods(wms, http):
    assert call(http, wms, "GET", "/asn/nothing/").status_code == 404
    assert call(http, wms, "DELETE", "/asn/list/").status_code == 405


# -- DELETE /asn/list/{id}/ (GreaterWMS AsnListViewSet.destroy) ----------------------------------

def stock_of(http, server, code: str) -> dict:
    return call(http, server, "GET", "/stock/list/", params={"goods_code": code}).json()["results"][0]


def test_delete_at_status_1_removes_asn_lines_and_expected_stock(wms, http):
    keep = new_asn(http, wms, {"1.02.0033": 5})
    asn = new_asn(http, wms, {"1.02.0033": 20, "1.02.0041": 7})
    assert stock_of(http, wms, "1.02.0033")["asn_stock"] == 25
    resp = call(http, wms, "DELETE", f"/asn/list/{asn['id']}/")
    assert resp.status_code == 200 and resp.json()["asn_code"] == asn["asn_code"]
    codes = [r["asn_code"] for r in call(http, wms, "GET", "/asn/list/").json()["results"]]
    assert codes == [keep["asn_code"]]
    assert call(http, wms, "GET", "/asn/detail/", params={"asn_code": asn["asn_code"]}).json()["count"] == 0
    s33, s41 = stock_of(http, wms, "1.02.0033"), stock_of(http, wms, "1.02.0041")
    assert (s33["asn_stock"], s33["goods_qty"], s41["asn_stock"], s41["goods_qty"]) == (5, 5, 0, 0)
    # a second DELETE finds nothing: DRF get_object() answers 404
    again = call(http, wms, "DELETE", f"/asn/list/{asn['id']}/")
    assert again.status_code == 404 and again.json() == {"detail": "Not found."}


def test_delete_after_preload_is_refused_like_greaterwms(wms, http):
    asn = new_asn(http, wms, {"1.02.0033": 20})
    assert call(http, wms, "POST", f"/asn/preload/{asn['id']}/").status_code == 200
    resp = call(http, wms, "DELETE", f"/asn/list/{asn['id']}/")
    assert resp.status_code == 500 and resp.json() == {"detail": "This ASN Status Is Not '1'"}
    assert call(http, wms, "GET", "/asn/list/", params={"asn_code": asn["asn_code"]}).json()["count"] == 1
    assert call(http, wms, "DELETE", "/asn/list/").status_code == 405  # the collection cannot be deleted


# -- GreaterWMS: filters, data_validate, goods, admin faults ---------------------------------------


def test_creater_and_django_filter_lookups_select_rows(wms, http):
    for creater in ("mes-hub:SUP-001/A", "clerk", "mes-hub:SUP-001/B"):
        call(http, wms, "POST", "/asn/list/", json={"creater": creater})
    rows = call(http, wms, "GET", "/asn/list/", params={"creater": "mes-hub:SUP-001/B"}).json()["results"]
    assert [r["asn_code"] for r in rows] == ["ASN00000003"]
    rows = call(http, wms, "GET", "/asn/list/", params={"creater__icontains": "MES-HUB", "id__gte": 2}).json()["results"]
    assert [r["asn_code"] for r in rows] == ["ASN00000003"]
    assert call(http, wms, "GET", "/asn/list/", params={"asn_status__gte": 4}).json()["count"] == 0
    wms.state.honour_filters = False
    assert call(http, wms, "GET", "/asn/list/", params={"creater": "nobody"}).json()["count"] == 3


@pytest.mark.parametrize("body", [{"creater": "Robert'); SELECT 1;--"}, {"creater": "<script>x</script>"}])
def test_texts_greaterwms_refuses_answer_500_bad_data(wms, http, body):
    resp = call(http, wms, "POST", "/asn/list/", json=body)
    assert resp.status_code == 500 and resp.json() == {"detail": "Bad Data can\u2018not be store"}
    assert wms.state.asns == []


def test_overlong_creater_is_drf_400(wms, http):
    resp = call(http, wms, "POST", "/asn/list/", json={"creater": "x" * 256})
    assert resp.status_code == 400 and "255" in resp.json()["creater"][0]


def test_goods_master_lists_units(wms, http):
    rows = call(http, wms, "GET", "/goods/", params={"goods_code": "1.02.0041"}).json()["results"]
    assert [(r["goods_code"], r["goods_unit"]) for r in rows] == [("1.02.0041", "PCS")]


def test_admin_arms_lists_and_clears_faults_and_refuses_bad_ones(wms, http):
    admin = wms.base_url + "/__sim/faults"
    assert requests.post(admin, json={"kind": "http5xx", "status": 502, "match": "GET /asn/list/"}, timeout=5).ok
    assert [f["kind"] for f in requests.get(admin, timeout=5).json()["faults"]] == ["http5xx"]
    resp = call(http, wms, "GET", "/asn/list/")
    assert resp.status_code == 502 and "json" not in resp.headers["Content-Type"]
    assert call(http, wms, "GET", "/asn/list/").status_code == 200  # count 1: used up
    for bad in ({"kind": "meteor"}, {"kind": "http5xx", "status": 418}, {"kind": "latency", "after": True},
                {"kind": "session_expired"}, {"kind": "http429", "count": 0}, ["not", "an", "object"]):
        resp = requests.post(admin, json=bad, timeout=5)
        assert resp.status_code == 400 and resp.json()["error"], bad
    assert requests.post(admin, data=b"{nope", timeout=5).status_code == 400
    requests.post(admin, json={"kind": "http429", "count": 3}, timeout=5)
    assert requests.post(admin, json={"clear": True}, timeout=5).json() == {"faults": []}
    assert wms.state.requests.count(("GET", "/asn/list/")) == 2  # admin calls are not WMS traffic


def test_reset_after_create_keeps_the_created_row(wms, http):
    wms.state.faults.arm(Fault(kind="reset", match="POST /asn/list/"))
    with pytest.raises(requests.RequestException):  # headers, half a body, then RST
        call(http, wms, "POST", "/asn/list/", json={"creater": "mes"})
    assert [a["asn_code"] for a in wms.state.asns] == ["ASN00000001"]


# -- the Odoo (JSON-RPC) simulator --------------------------------------------------------------------

ODOO_DB, ODOO_LOGIN, ODOO_PASSWORD = "wms_sim_test", "mes_api", "odoo-sim-pw-31c9"


@pytest.fixture(scope="module")
def _odoo_server() -> Iterator[SimulatorServer]:
    with running(odoo_sim.make_server()) as server:
        yield server


@pytest.fixture
def odoo(_odoo_server: SimulatorServer) -> SimulatorServer:
    _odoo_server.state = odoo_sim.seed_demo(odoo_sim.OdooState(ODOO_DB, ODOO_LOGIN, ODOO_PASSWORD))
    return _odoo_server


def rpc(server: SimulatorServer, service: str, method: str, *args: Any, path: str = "/jsonrpc",
        session: requests.Session | None = None) -> dict:
    body = {"jsonrpc": "2.0", "method": "call", "id": 41, "params": {"service": service, "method": method, "args": list(args)}}
    resp = (session or requests).post(server.base_url + path, json=body, timeout=5)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/json")
    answer = resp.json()
    assert answer["jsonrpc"] == "2.0" and answer["id"] == 41
    return answer


def x(server: SimulatorServer, model: str, method: str, args: list, kwargs: dict | None = None,
      password: str = ODOO_PASSWORD) -> dict:
    return rpc(server, "object", "execute_kw", ODOO_DB, 7, password, model, method, args, kwargs or {})


def ok(answer: dict) -> Any:
    assert "error" not in answer, answer
    return answer["result"]


def err(answer: dict) -> tuple[str, str]:
    error = answer["error"]
    assert error["code"] in (100, 200) and set(error["data"]) >= {"name", "message", "debug", "arguments", "context"}
    return error["data"]["name"], error["data"]["message"]


def test_odoo_version_and_authenticate(odoo):
    assert ok(rpc(odoo, "common", "version"))["server_serie"] == "17.0"
    assert ok(rpc(odoo, "common", "authenticate", ODOO_DB, ODOO_LOGIN, ODOO_PASSWORD, {})) == 7
    assert ok(rpc(odoo, "common", "authenticate", ODOO_DB, ODOO_LOGIN, "wrong", {})) is False
    name, message = err(rpc(odoo, "common", "authenticate", "other_db", ODOO_LOGIN, ODOO_PASSWORD, {}))
    assert name == "psycopg2.OperationalError" and 'database "other_db" does not exist' in message


def test_odoo_errors_are_http_200_with_exception_names(odoo):
    assert err(x(odoo, "stock.picking", "search", [[]], password="wrong")) == ("odoo.exceptions.AccessDenied",
                                                                              "Access Denied")
    assert err(x(odoo, "no.such.model", "search", [[]]))[0] == "builtins.KeyError"
    assert err(x(odoo, "stock.picking", "fly", [[1]]))[0] == "builtins.AttributeError"
    assert err(x(odoo, "stock.picking", "_action_done", [[1]]))[0] == "odoo.exceptions.AccessError"
    name, message = err(x(odoo, "stock.move", "search_read", [[]], {"fields": ["quantity_done"]}))
    assert name == "builtins.ValueError" and "quantity_done" in message
    assert err(x(odoo, "stock.picking", "search", [[["state", "~", "x"]]]))[0] == "builtins.ValueError"
    assert err(x(odoo, "stock.picking", "read", [[999]]))[0] == "odoo.exceptions.MissingError"
    assert err(x(odoo, "stock.quant", "create", [{"product_id": 1, "location_id": 5}]))[0] == "odoo.exceptions.UserError"
    odoo.state.denied_models.add("stock.lot")
    assert err(x(odoo, "stock.lot", "search", [[]]))[0] == "odoo.exceptions.AccessError"


def test_odoo_reads_many2one_as_id_and_name_and_domains_work(odoo):
    rows = ok(x(odoo, "stock.location", "search_read", [[["id", "child_of", 4]]],
                {"fields": ["complete_name", "location_id", "barcode"], "order": "id desc"}))
    assert [r["complete_name"] for r in rows] == ["WH/Stock/A-01-02", "WH/Stock/A-01-01", "WH/Stock"]
    assert rows[0]["location_id"] == [4, "WH/Stock"] and rows[2]["location_id"] == [3, "WH"]
    assert ok(x(odoo, "stock.location", "read", [[3]], {"fields": ["location_id", "barcode"]})) == [
        {"id": 3, "location_id": False, "barcode": False}]
    either = ok(x(odoo, "stock.location", "search", [["|", ["barcode", "=", "QC-01"], ["name", "=", "Vendors"]]]))
    assert either == [2, 8]
    dotted = ok(x(odoo, "product.product", "search_read", [[["uom_id.name", "=", "Units"], ["tracking", "!=", "lot"]]],
                  {"fields": ["display_name", "uom_id"]}))
    assert dotted == [{"id": 3, "display_name": "[1.03.0100] 垫圈 M8", "uom_id": [1, "Units"]}]
    assert ok(x(odoo, "res.partner", "search_count", [[["ref", "in", ["SUP-001", "SUP-002"]]]])) == 2
    assert ok(x(odoo, "res.partner", "search", [[]], {"offset": 1, "limit": 1})) == [2]


def incoming(odoo, qty=10, lot="L-1", move_lines=True) -> int:
    move = {"name": "1.02.0033", "product_id": 1, "product_uom_qty": qty, "product_uom": 1, "location_id": 2,
            "location_dest_id": 4}
    if move_lines:
        move["move_line_ids"] = [[0, 0, {"product_id": 1, "product_uom_id": 1, "location_id": 2, "location_dest_id": 4,
                                         "lot_name": lot, "quantity": qty}]]
    return ok(x(odoo, "stock.picking", "create", [{"picking_type_id": 1, "partner_id": 2, "location_id": 2,
                                                   "location_dest_id": 4, "origin": "SUP-001/ASN'轴承",
                                                   "move_ids": [[0, 0, move]]}]))


def picking(odoo, picking_id: int) -> dict:
    (row,) = ok(x(odoo, "stock.picking", "read", [[picking_id]], {"fields": ["name", "state", "date_done", "origin"]}))
    return row


def test_picking_state_machine_draft_assigned_done_with_lots_and_quants(odoo):
    pid = incoming(odoo, qty=1e12)
    assert picking(odoo, pid)["state"] == "draft" and picking(odoo, pid)["name"] == "WH/IN/00001"
    assert ok(x(odoo, "stock.picking", "action_confirm", [[pid]])) is True
    assert picking(odoo, pid)["state"] == "assigned"
    assert ok(x(odoo, "stock.picking", "button_validate", [[pid]])) is True
    done = picking(odoo, pid)
    assert done["state"] == "done" and len(done["date_done"]) == 19 and done["origin"] == "SUP-001/ASN'轴承"
    quants = ok(x(odoo, "stock.quant", "search_read", [[["lot_id.name", "=", "L-1"]]],
                  {"fields": ["quantity", "location_id", "lot_id"]}))
    assert [(q["quantity"], q["location_id"][1], q["lot_id"][1]) for q in quants] == [(1e12, "WH/Stock", "L-1")]
    name, _ = err(x(odoo, "stock.picking", "action_cancel", [[pid]]))
    assert name == "odoo.exceptions.UserError"


def test_validate_without_quantities_or_lots_is_refused(odoo):
    pid = incoming(odoo, move_lines=False)
    ok(x(odoo, "stock.picking", "action_confirm", [[pid]]))
    (line,) = ok(x(odoo, "stock.move.line", "search_read", [[["picking_id", "=", pid]]], {"fields": ["quantity"]}))
    assert line["quantity"] == 10  # a receipt is reserved in full at once
    assert err(x(odoo, "stock.picking", "button_validate", [[pid]])) == (
        "odoo.exceptions.UserError", "You need to supply a Lot/Serial number for product:\n- [1.02.0033] 轴承 6204")
    ok(x(odoo, "stock.move.line", "write", [[line["id"]], {"quantity": 0}]))
    assert err(x(odoo, "stock.picking", "button_validate", [[pid]])) == (
        "odoo.exceptions.ValidationError", "You cannot validate a transfer if no quantities are reserved nor done.")


def test_short_receipt_asks_for_the_backorder_wizard(odoo):
    pid = incoming(odoo, qty=10)
    ok(x(odoo, "stock.picking", "action_confirm", [[pid]]))
    (line,) = ok(x(odoo, "stock.move.line", "search", [[["picking_id", "=", pid]]]))
    ok(x(odoo, "stock.move.line", "write", [[line], {"quantity": 6}]))
    action = ok(x(odoo, "stock.picking", "button_validate", [[pid]]))
    assert action["res_model"] == "stock.backorder.confirmation" and action["type"] == "ir.actions.act_window"
    assert picking(odoo, pid)["state"] == "assigned"
    assert ok(x(odoo, "stock.backorder.confirmation", "process", [[action["res_id"]]])) is True
    back = ok(x(odoo, "stock.picking", "search_read", [[["backorder_id", "=", pid]]],
                {"fields": ["state", "origin", "move_ids"]}))
    assert [(b["state"], b["origin"]) for b in back] == [("assigned", "SUP-001/ASN'轴承")]
    (move,) = ok(x(odoo, "stock.move", "read", [back[0]["move_ids"]], {"fields": ["product_uom_qty"]}))
    assert move["product_uom_qty"] == 4


def test_skip_backorder_context_and_not_to_backorder_list(odoo):
    pid = incoming(odoo, qty=10)
    ok(x(odoo, "stock.picking", "action_confirm", [[pid]]))
    (line,) = ok(x(odoo, "stock.move.line", "search", [[["picking_id", "=", pid]]]))
    ok(x(odoo, "stock.move.line", "write", [[line], {"quantity": 6}]))
    assert ok(x(odoo, "stock.picking", "button_validate", [[pid]],
                {"context": {"skip_backorder": True, "picking_ids_not_to_backorder": [pid]}})) is True
    assert ok(x(odoo, "stock.picking", "search_count", [[["backorder_id", "=", pid]]])) == 0


def test_duplicate_lot_name_for_a_product_is_a_validation_error(odoo):
    ok(x(odoo, "stock.lot", "create", [{"name": "L-9", "product_id": 1}]))
    assert err(x(odoo, "stock.lot", "create", [{"name": "L-9", "product_id": 1}]))[0] == "odoo.exceptions.ValidationError"
    assert ok(x(odoo, "stock.lot", "create", [{"name": "L-9", "product_id": 2}])) == 3


def test_session_route_needs_its_cookie_and_expires_by_fault(odoo):
    with requests.Session() as web:
        body = {"jsonrpc": "2.0", "method": "call", "id": 41,
                "params": {"model": "res.partner", "method": "search", "args": [[]], "kwargs": {}}}
        answer = web.post(odoo.base_url + "/web/dataset/call_kw/res.partner/search", json=body, timeout=5).json()
        assert answer["error"]["code"] == 100 and err(answer)[0] == "odoo.http.SessionExpiredException"
        login = {"jsonrpc": "2.0", "method": "call", "id": 41,
                 "params": {"db": ODOO_DB, "login": ODOO_LOGIN, "password": ODOO_PASSWORD}}
        resp = web.post(odoo.base_url + "/web/session/authenticate", json=login, timeout=5)
        assert resp.json()["result"]["uid"] == 7 and "session_id" in resp.cookies
        assert web.post(odoo.base_url + "/web/dataset/call_kw", json=body, timeout=5).json()["result"] == [1, 2, 3]
        odoo.state.faults.arm(Fault(kind="session_expired"))
        assert web.post(odoo.base_url + "/web/dataset/call_kw", json=body, timeout=5).json()["error"]["code"] == 100
        bad = dict(login, params=dict(login["params"], password="nope"))
        assert err(web.post(odoo.base_url + "/web/session/authenticate", json=bad, timeout=5).json())[0] == \
            "odoo.exceptions.AccessDenied"


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'{"jsonrpc": "1.0", "params": {}}', "\u00ff".encode("latin-1")])
def test_odoo_broken_requests_get_bad_request_in_the_envelope(odoo, raw):
    resp = requests.post(odoo.base_url + "/jsonrpc", data=raw, headers={"Content-Type": "application/json"}, timeout=5)
    assert resp.status_code == 200 and resp.json()["error"]["data"]["name"] == "werkzeug.exceptions.BadRequest"


def test_odoo_unknown_paths_and_methods_are_html(odoo):
    assert requests.get(odoo.base_url + "/jsonrpc", timeout=5).status_code == 405
    resp = requests.post(odoo.base_url + "/xmlrpc/2/object", data=b"<x/>", timeout=5)
    assert resp.status_code == 404 and resp.headers["Content-Type"].startswith("text/html")


def test_odoo_faults_by_operation(odoo):
    admin = odoo.base_url + "/__sim/faults"
    assert requests.post(admin, json={"faults": [{"kind": "http429", "retry_after": 5, "match": "stock.picking.*"},
                                                  {"kind": "malformed_json", "match": "res.partner.search"}]},
                         timeout=5).ok
    body = {"jsonrpc": "2.0", "method": "call", "id": 1, "params": {"service": "object", "method": "execute_kw", "args": [
        ODOO_DB, 7, ODOO_PASSWORD, "stock.picking", "search", [[]], {}]}}
    limited = requests.post(odoo.base_url + "/jsonrpc", json=body, timeout=5)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "5"
    body["params"]["args"][3] = "res.partner"
    cut = requests.post(odoo.base_url + "/jsonrpc", json=body, timeout=5)
    assert cut.status_code == 200
    with pytest.raises(ValueError):
        cut.json()
    assert requests.post(odoo.base_url + "/jsonrpc", json=body, timeout=5).json()["result"] == [1, 2, 3]
    assert requests.get(admin, timeout=5).json() == {"faults": []}


def test_odoo_operator_receives_over_the_wire(odoo):
    pid = incoming(odoo, qty=10)
    ok(x(odoo, "stock.picking", "action_confirm", [[pid]]))
    done = odoo_sim.operate_receiving(odoo.base_url, ODOO_DB, ODOO_LOGIN, ODOO_PASSWORD, "WH/IN/00001", {"1.02.0033": 7},
                                      bin_barcode="A-01-02")
    assert done["state"] == "done"
    quants = ok(x(odoo, "stock.quant", "search_read", [[["product_id", "=", 1]]], {"fields": ["quantity", "location_id"]}))
    assert [(q["quantity"], q["location_id"][1]) for q in quants] == [(7, "WH/Stock/A-01-02")]
    with pytest.raises(odoo_sim.OdooOperatorError):
        odoo_sim.operate_receiving(odoo.base_url, ODOO_DB, ODOO_LOGIN, "wrong", "WH/IN/00001")


@pytest.mark.parametrize("domain", [["|", ["id", "=", 1]], ["!"], [["nope", "=", 1]], [["id", "=="]],
                                    [["lot_id.nope", "=", 1]], "not a list"])
def test_odoo_bad_domains_fail_even_on_an_empty_table(odoo, domain):
    assert err(x(odoo, "stock.quant", "search", [domain]))[0] == "builtins.ValueError"
