"""The Jiandaoyun simulator speaks the v5 wire as the protocol notes describe (raw HTTP, no adapter)."""
from __future__ import annotations

import datetime as dt
import json
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from simulators.base import running
from simulators.jiandaoyun import DEMO_APP_ID, DEMO_FORMS, JiandaoyunState, make_server

KEY = "sim-key-Test-01"
ORDERS, ASN, QC = DEMO_FORMS["production_order"], DEMO_FORMS["asn"], DEMO_FORMS["inspection"]


@pytest.fixture()
def sim():
    with running(make_server(state=JiandaoyunState(api_keys=KEY, webhook_secret="s"), seed="demo")) as server:
        yield server


def api(sim, route: str, body: dict | None = None, key: str | None = KEY, raw: bytes | None = None):
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    data = raw if raw is not None else json.dumps({"app_id": DEMO_APP_ID, **(body or {})}).encode()
    r = requests.post(f"{sim.base_url}/api/v5/{route}", data=data, headers=headers, timeout=5)
    return r.status_code, r.json() if r.headers.get("Content-Type", "").startswith("application/json") else r.text


def create(sim, entry_id: str, values: dict, **extra):
    return api(sim, "app/entry/data/create", {"entry_id": entry_id, "data": {k: {"value": v} for k, v in values.items()},
                                              **extra})


def error_code(result) -> int:
    status, body = result
    assert 400 <= status < 500 and set(body) == {"code", "msg"}, (status, body)
    return body["code"]


# ----------------------------------------------------------------------------- envelope and auth


def test_auth_and_routing(sim):
    assert error_code(api(sim, "app/list", key=None)) == 8301
    assert error_code(api(sim, "app/list", key="wrong")) == 8301
    assert api(sim, "app/list")[0] == 200
    assert api(sim, "app/list")[1]["apps"] == [{"name": "供应链协同平台", "app_id": DEMO_APP_ID}]
    assert api(sim, "app/no/such")[0] == 404
    assert requests.get(f"{sim.base_url}/api/v5/app/list", timeout=5).status_code == 405
    assert error_code(api(sim, "app/list", raw=b"{nope")) == 1
    assert error_code(api(sim, "app/list", raw=b"[1]")) == 1
    assert error_code(api(sim, "app/list", raw=b"\xff\xfe")) == 1


def test_oversized_and_chunked_bodies(sim):
    sim.state.max_body_bytes = 1000
    status, body = api(sim, "app/list", raw=b"{" + b" " * 2000 + b"}")
    assert status == 413
    with socket.create_connection(("127.0.0.1", sim.server_address[1]), timeout=5) as raw:
        raw.sendall(f"POST /api/v5/app/list HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
                    f"Transfer-Encoding: chunked\r\n\r\n2\r\n{{}}\r\n0\r\n\r\n".encode())
        assert raw.recv(200).startswith(b"HTTP/1.1 411")


@pytest.mark.parametrize("route, body", [
    ("app/list", {"limit": "ten"}), ("app/list", {"skip": -1}), ("app/entry/list", {"limit": 0}),
    ("app/entry/list", {"app_id": ["x"]}), ("app/entry/data/get", {"entry_id": ORDERS, "data_id": {"$ne": 1}}),
    ("app/entry/data/list", {"entry_id": ORDERS, "data_id": 7}), ("app/entry/data/list", {"entry_id": ORDERS,
                                                                                         "fields": "order_id"}),
    ("app/entry/data/create", {"entry_id": ORDERS, "data": []}), ("app/entry/data/list", {"entry_id": {"a": 1}}),
])
def test_hostile_parameters_get_an_error_envelope_not_a_500(sim, route, body):
    assert error_code(api(sim, route, body)) in (1, 2004, 3000, 4001, 17017)


def test_forms_and_widgets(sim):
    status, body = api(sim, "app/entry/list")
    assert {f["entry_id"] for f in body["forms"]} == set(DEMO_FORMS.values())
    status, body = api(sim, "app/entry/widget/list", {"entry_id": ORDERS})
    names = [w["name"] for w in body["widgets"]]
    assert "order_id" in names and all(w["widgetName"].startswith("_widget_") for w in body["widgets"])
    assert error_code(api(sim, "app/entry/widget/list", {"entry_id": "0" * 24})) == 3000
    assert error_code(api(sim, "app/entry/list", {"app_id": "0" * 24})) == 2004


def test_the_delivery_schedule_form(sim):
    schedule = DEMO_FORMS["delivery_schedule"]
    status, body = api(sim, "app/entry/widget/list", {"entry_id": schedule})
    widgets = {w["name"]: w for w in body["widgets"]}
    assert status == 200 and {"hub_key", "schedule_id", "supplier_id", "version", "response", "response_note",
                              "responded_at", "task_status"} <= set(widgets)
    assert [i["name"] for i in widgets["lines"]["items"]] == ["material_id", "supplier_material_id", "date",
                                                              "quantity", "uom", "commitment"]
    assert [i["name"] for i in widgets["changes"]["items"]] == ["kind", "material_id", "uom", "old_date", "new_date",
                                                                "old_quantity", "new_quantity", "requires_approval"]
    # the forms before it keep their widget names: a new form is numbered after them
    status, body = api(sim, "app/entry/widget/list", {"entry_id": ORDERS})
    assert body["widgets"][-1]["widgetName"] == "_widget_1700000000084"  # as before the form was added
    # the browser does not hold a supplier to the options either (the adapter refuses such answers)
    status, created = create(sim, schedule, {"hub_key": "SUP-001/DS-SUP-001/v1"})
    r = requests.post(f"{sim.base_url}/__sim/ui/update", timeout=5, json={
        "entry_id": schedule, "data_id": created["data"]["_id"], "user": "sup001", "data": {"response": "也许"}})
    assert r.status_code == 200 and r.json()["record"]["response"] == "也许" and r.json()["push"] is None
    assert r.json()["record"]["updater"]["username"] == "sup001"


# ----------------------------------------------------------------------------- writes


def test_writes_wrap_values_and_normalise_datetimes(sim):
    status, body = create(sim, ASN, {"asn_number": "A1", "ship_date": "2026-12-01 08:30:00",
                                     "expected_arrival": 1796083200000, "lines": [{"quantity": {"value": 5}}]})
    assert status == 200, body
    record = body["data"]
    assert len(record["_id"]) == 24 and int(record["_id"], 16) >= 0
    assert record["ship_date"] == "2026-12-01T00:30:00.000Z"  # naive = enterprise zone (+08:00)
    assert record["expected_arrival"] == "2026-12-01T00:00:00.000Z"
    assert record["lines"][0]["quantity"] == 5 and len(record["lines"][0]["_id"]) == 24
    assert record["creator"]["username"] == "mes_api" and record["createTime"].endswith("Z")


@pytest.mark.parametrize("value", [None, "", 1796169600, "2026/12/01", "tomorrow", True])
def test_refused_datetime_values(sim, value):
    assert error_code(create(sim, ASN, {"ship_date": value})) == 17017


@pytest.mark.parametrize("value", ["2026-12-01", "2026-12-01T00:00:00Z", "2026-12-01T08:00:00+08:00",
                                   "2026-12-01T00:00:00.000Z", 1796169600000])
def test_accepted_datetime_values(sim, value):
    status, body = create(sim, ASN, {"ship_date": value})
    assert status == 200 and body["data"]["ship_date"].startswith("2026-1")


def test_unwrapped_unknown_and_mistyped_fields_are_refused(sim):
    assert error_code(api(sim, "app/entry/data/create", {"entry_id": ASN, "data": {"asn_number": "A"}})) == 17017
    assert error_code(create(sim, ASN, {"nope": 1})) == 17017
    assert error_code(create(sim, ORDERS, {"quantity": "many"})) == 17017
    assert error_code(create(sim, QC, {"defects": "划伤"})) == 17017


def test_serial_numbers_are_assigned_not_written(sim):
    first = create(sim, QC, {"inspection_id": "MINE", "batch_id": "B1"})[1]["data"]
    second = create(sim, QC, {"batch_id": "B2"})[1]["data"]
    assert (first["inspection_id"], second["inspection_id"]) == ("IQC000001", "IQC000002")


def test_update_replaces_the_subform_wholesale(sim):
    record = create(sim, ASN, {"lines": [{"material_id": {"value": "A"}}, {"material_id": {"value": "B"}}]})[1]["data"]
    keep = record["lines"][1]["_id"]
    status, body = api(sim, "app/entry/data/update", {"entry_id": ASN, "data_id": record["_id"], "data": {
        "lines": {"value": [{"_id": keep, "quantity": {"value": 3}}, {"_id": "not-an-id", "material_id": {"value": "C"}}]}}})
    rows = body["data"]["lines"]
    assert [(r["material_id"], r["quantity"]) for r in rows] == [("", 3), ("C", None)]
    assert rows[0]["_id"] == keep and rows[1]["_id"] not in (keep, "not-an-id", record["lines"][0]["_id"])
    assert error_code(api(sim, "app/entry/data/update", {"entry_id": ASN, "data_id": "f" * 24, "data": {}})) == 4001


def test_a_failed_update_changes_nothing(sim):
    record = create(sim, ASN, {"asn_number": "A9"})[1]["data"]
    api(sim, "app/entry/data/update", {"entry_id": ASN, "data_id": record["_id"],
                                       "data": {"asn_number": {"value": "A10"}, "ship_date": {"value": "x"}}})
    assert api(sim, "app/entry/data/get", {"entry_id": ASN, "data_id": record["_id"]})[1]["data"] == record


def test_batch_create_transaction_window(sim):
    tx = str(uuid.uuid4())
    batch = {"entry_id": ASN, "transaction_id": tx, "data_list": [{"asn_number": {"value": f"B{i}"}} for i in range(3)]}
    ids = api(sim, "app/entry/data/batch_create", batch)[1]["success_ids"]
    again = api(sim, "app/entry/data/batch_create", batch)[1]
    assert again == {"status": "success", "success_count": 3, "success_ids": ids}
    assert len(sim.state.all_records(ASN)) == 3
    sim.state.set_now(sim.state.now() + dt.timedelta(hours=1, seconds=1))
    later = api(sim, "app/entry/data/batch_create", batch)[1]["success_ids"]
    assert set(later).isdisjoint(ids) and len(sim.state.all_records(ASN)) == 6
    assert error_code(api(sim, "app/entry/data/batch_create", {**batch, "transaction_id": "nope"})) == 17025
    assert error_code(api(sim, "app/entry/data/batch_create", {**batch, "data_list": [{}] * 101})) == 17024


def test_create_transaction_ids_are_single_use(sim):
    tx = str(uuid.uuid4())
    assert create(sim, ASN, {"asn_number": "T"}, transaction_id=tx)[0] == 200
    assert error_code(create(sim, ASN, {"asn_number": "T"}, transaction_id=tx)) == 17026


def test_batch_update_and_delete_limits(sim):
    ids = [create(sim, ASN, {"asn_number": f"U{i}"})[1]["data"]["_id"] for i in range(2)]
    status, body = api(sim, "app/entry/data/batch_update", {"entry_id": ASN, "data_ids": ids,
                                                            "data": {"asn_status": {"value": "作废"}}})
    assert body == {"status": "success", "success_count": 2}
    assert error_code(api(sim, "app/entry/data/batch_update", {"entry_id": ASN, "data_ids": ids,
                                                               "data": {"lines": {"value": []}}})) == 17017
    assert error_code(api(sim, "app/entry/data/batch_update", {"entry_id": ASN, "data_ids": ["x"] * 101,
                                                               "data": {}})) == 17023
    assert api(sim, "app/entry/data/batch_delete", {"entry_id": ASN, "data_ids": ids})[1]["success_count"] == 2
    assert sim.state.all_records(ASN) == []


# ----------------------------------------------------------------------------- list


def _seed(sim, n: int) -> list[str]:
    return [create(sim, ORDERS, {"order_id": f"MO-{i:03d}", "quantity": i, "status": "计划" if i % 2 else "已下达"}
                   )[1]["data"]["_id"] for i in range(n)]


def test_list_pages_by_data_id(sim):
    _seed(sim, 13)
    every = [r["_id"] for r in sim.state.all_records(ORDERS)]
    assert every == sorted(every)
    first = api(sim, "app/entry/data/list", {"entry_id": ORDERS})[1]["data"]
    assert len(first) == 10  # default limit
    rest = api(sim, "app/entry/data/list", {"entry_id": ORDERS, "data_id": first[-1]["_id"], "limit": 100})[1]["data"]
    assert [r["_id"] for r in first + rest] == every
    projected = api(sim, "app/entry/data/list", {"entry_id": ORDERS, "fields": ["order_id"], "limit": 1})[1]["data"]
    assert projected == [{"_id": every[0], "order_id": "MO-JDY-0001"}]
    for limit in (0, 101, "10", True):
        assert error_code(api(sim, "app/entry/data/list", {"entry_id": ORDERS, "limit": limit})) == 17017


@pytest.mark.parametrize("cond, expected", [
    ({"field": "quantity", "type": "number", "method": "range", "value": [3, 5]}, ["MO-003", "MO-004", "MO-005"]),
    ({"field": "quantity", "type": "number", "method": "lt", "value": [2]}, ["MO-000", "MO-001"]),
    ({"field": "order_id", "type": "text", "method": "in", "value": ["MO-007", "MO-JDY-0002"]}, ["MO-JDY-0002", "MO-007"]),
    ({"field": "status", "type": "radiogroup", "method": "eq", "value": ["已下达"]},
     ["MO-JDY-0001", "MO-000", "MO-002", "MO-004", "MO-006", "MO-008"]),
    ({"field": "line", "type": "combo", "method": "not_empty"}, ["MO-JDY-0001", "MO-JDY-0002"]),
    ({"field": "start", "type": "datetime", "method": "range", "value": ["2026-12-04", None]}, ["MO-JDY-0002"]),
    ({"field": "updateTime", "type": "datetime", "method": "range", "value": [None, "2026-11-25T01:00:00Z"]},
     ["MO-JDY-0001", "MO-JDY-0002"]),
])
def test_filters(sim, cond, expected):
    sim.state.set_now("2026-12-10T00:00:00+00:00")  # the seeded orders are older than everything created here
    _seed(sim, 9)
    body = {"entry_id": ORDERS, "limit": 100, "filter": {"rel": "and", "cond": [cond]}}
    status, result = api(sim, "app/entry/data/list", body)
    assert status == 200, result
    assert [r["order_id"] for r in result["data"]] == expected


@pytest.mark.parametrize("flt", [
    {"rel": "xor", "cond": []},
    {"rel": "and", "cond": [{"field": "quantity", "type": "number", "method": "like", "value": ["1"]}]},
    {"rel": "and", "cond": [{"field": "quantity", "type": "text", "method": "eq", "value": ["1"]}]},
    {"rel": "and", "cond": [{"field": "quantity", "type": "number", "method": "eq", "value": 1}]},
    {"rel": "and", "cond": [{"field": "order_id", "type": "text", "method": "in", "value": ["x"] * 1001}]},
    {"rel": "and", "cond": [{"field": "nope", "type": "text", "method": "eq", "value": ["x"]}]},
    {"rel": "and", "cond": [{"field": "order_id", "type": "text", "method": "explode", "value": ["x"]}]},
    {"rel": "and", "cond": [{"field": "quantity", "type": "number", "method": "range", "value": [1]}]},
])
def test_bad_filters_are_4815(sim, flt):
    assert error_code(api(sim, "app/entry/data/list", {"entry_id": ORDERS, "filter": flt})) == 4815


def test_subform_fields_are_not_filterable(sim):
    flt = {"rel": "and", "cond": [{"field": "material_id", "type": "text", "method": "eq", "value": ["x"]}]}
    assert error_code(api(sim, "app/entry/data/list", {"entry_id": ASN, "filter": flt})) == 4815
    flt["cond"][0]["field"] = "lines"
    assert error_code(api(sim, "app/entry/data/list", {"entry_id": ASN, "filter": flt})) == 4815


# ----------------------------------------------------------------------------- limits and faults


def test_endpoint_rate_limit(sim):
    requests.post(f"{sim.base_url}/__sim/limits", json={"limits": {"app/list": 2}}, timeout=5)
    results = [api(sim, "app/list") for _ in range(3)]
    assert [r[0] for r in results[:2]] == [200, 200] and error_code(results[2]) == 8304
    requests.post(f"{sim.base_url}/__sim/limits", json={"limits": {"app/list": None}, "global": 1}, timeout=5)
    assert error_code(api(sim, "app/list")) == 8303


def arm(sim, **fault):
    r = requests.post(f"{sim.base_url}/__sim/faults", json=fault, timeout=5)
    assert r.status_code == 200, r.text


def test_faults_over_http(sim):
    arm(sim, kind="http5xx", status=502)
    assert api(sim, "app/list")[0] == 502
    arm(sim, kind="http429", retry_after=7)
    r = requests.post(f"{sim.base_url}/api/v5/app/list", json={}, headers={"Authorization": f"Bearer {KEY}"})
    assert r.status_code == 429 and r.headers["Retry-After"] == "7"
    arm(sim, kind="rate_limit", code=8303)
    assert error_code(api(sim, "app/list")) == 8303
    arm(sim, kind="token_invalid")
    assert api(sim, "app/list") == (401, {"code": 8301, "msg": "API Key 校验失败 (simulated)"})
    arm(sim, kind="malformed_json")
    r = requests.post(f"{sim.base_url}/api/v5/app/list", json={}, headers={"Authorization": f"Bearer {KEY}"})
    with pytest.raises(ValueError):
        r.json()
    arm(sim, kind="disconnect")
    with pytest.raises(requests.ConnectionError):
        api(sim, "app/list")
    arm(sim, kind="reset", route="app/list")
    with pytest.raises(requests.RequestException):
        api(sim, "app/list")
    arm(sim, kind="latency", delay=0.05)
    assert api(sim, "app/list")[0] == 200
    assert requests.get(f"{sim.base_url}/__sim/faults", timeout=5).json() == {"faults": []}


def test_a_reset_after_create_keeps_the_record(sim):
    arm(sim, kind="reset", route="data/create")
    with pytest.raises(requests.RequestException):
        create(sim, ASN, {"asn_number": "R1"})
    assert [r["asn_number"] for r in sim.state.all_records(ASN)] == ["R1"]


def test_repeat_page_fault(sim):
    _seed(sim, 8)
    first = api(sim, "app/entry/data/list", {"entry_id": ORDERS, "limit": 4})[1]["data"]
    arm(sim, kind="repeat_page")
    again = api(sim, "app/entry/data/list", {"entry_id": ORDERS, "limit": 4, "data_id": first[-1]["_id"]})[1]["data"]
    assert again == first


@pytest.mark.parametrize("bad", [{"kind": "nope"}, {"kind": "http5xx", "status": 404}, {"kind": "rate_limit", "code": 1},
                                 {"kind": "latency", "after": True}, {"kind": "http5xx", "count": None},
                                 {"kind": "latency", "delay": 1e9}, {"kind": "http5xx", "colour": "red"}])
def test_bad_fault_specs_are_400(sim, bad):
    assert requests.post(f"{sim.base_url}/__sim/faults", json=bad, timeout=5).status_code == 400


def test_admin_records_stats_and_errors(sim):
    assert requests.get(f"{sim.base_url}/__sim/records?entry_id={ORDERS}", timeout=5).json()["records"][0][
        "order_id"] == "MO-JDY-0001"
    stats = requests.get(f"{sim.base_url}/__sim/stats", timeout=5).json()
    assert stats["forms"][ORDERS]["records"] == 2
    assert requests.post(f"{sim.base_url}/__sim/ui/update", json={"entry_id": ORDERS, "data_id": "x", "data": {}},
                         timeout=5).status_code == 400
    assert requests.post(f"{sim.base_url}/__sim/webhooks", json={"entry_id": ORDERS, "url": "ftp://x"},
                         timeout=5).status_code == 400
    assert requests.post(f"{sim.base_url}/__sim/nope", json={}, timeout=5).status_code == 404
    first = sim.state.all_records(ORDERS)[0]["_id"]
    assert requests.post(f"{sim.base_url}/__sim/push", json={"entry_id": ORDERS, "data_id": first},
                         timeout=5).status_code == 400  # no push URL registered


def test_the_cli_serves_and_logs_no_secret(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"JIANDAOYUN_SIM_API_KEYS": "cli-key-Zq9", "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen([sys.executable, "-m", "simulators.jiandaoyun", "--port", str(port), "--seed", "demo"],
                            cwd=str(Path(__file__).resolve().parents[2]), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                r = requests.post(f"http://127.0.0.1:{port}/api/v5/app/list", json={},
                                  headers={"Authorization": "Bearer cli-key-Zq9"}, timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "simulator did not start"
                time.sleep(0.1)
        assert r.status_code == 200 and r.json()["apps"][0]["app_id"] == DEMO_APP_ID
    finally:
        proc.terminate()
        output = proc.communicate(timeout=10)[0]
    assert "cli-key-Zq9" not in output and "JIANDAOYUN_SIM_API_KEYS" in output
