"""The GreaterWMS simulator over real HTTP on 127.0.0.1: wire shapes, status machine, hostile input."""
from __future__ import annotations

import hashlib
from typing import Any, Iterator

import pytest
import requests

from simulators.base import SimulatorServer, running
from simulators.wms import WmsState, make_server, operate_receiving, seed_demo

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
