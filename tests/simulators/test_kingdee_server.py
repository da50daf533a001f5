"""The Kingdee simulator on the raw wire: envelopes, sessions, queries, lifecycle, hostile input.

These tests speak HTTP with ``requests`` directly (not through the adapter) so the simulator's
own protocol fidelity is checked independently of the code it is used to test.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import requests

from simulators.base import running
from simulators.kingdee import KingdeeState, make_server

SVC = "Kingdee.BOS.WebApi.ServicesStub."
ACCT, USER, PASSWORD = "acct-t", "mes_api", "sim-test-pw"


@pytest.fixture()
def sim():
    state = KingdeeState(users=f"{ACCT}:{USER}:{PASSWORD}", apps=f"{ACCT}:{USER}:app_1:app-secret-t")
    with running(make_server(state=state, seed="demo")) as server:
        try:
            yield server
        finally:
            state.release_stalled()


def url(sim, service: str, base: str = "/k3cloud/") -> str:
    return f"{sim.base_url}{base}{SVC}{service}.common.kdsvc"


@pytest.fixture()
def http(sim):
    session = requests.Session()
    reply = session.post(url(sim, "AuthService.ValidateUser"), json={"parameters": [ACCT, USER, PASSWORD, 2052]},
                         timeout=5)
    assert reply.json()["LoginResultType"] == 1
    yield session
    session.close()


def post(session, sim, service, body, **kw):
    reply = session.post(url(sim, service, **kw), json=body, timeout=5)
    assert reply.status_code == 200, reply.text
    return reply.json()


def query(session, sim, **data):
    return post(session, sim, "DynamicFormService.ExecuteBillQuery", {"data": data})


# ----------------------------------------------------------------------------- auth


@pytest.mark.parametrize("body", [
    {"acctID": ACCT, "username": USER, "password": PASSWORD, "lcid": 2052},
    {"parameters": [ACCT, USER, PASSWORD, 2052]},
    {"format": 1, "useragent": "ApiClient", "rid": "1", "parameters": [ACCT, USER, PASSWORD, 2052],
     "timestamp": "2026-11-20", "v": "1.0"},
], ids=["named", "positional", "legacy"])
def test_validate_user_sets_both_session_cookies(sim, body):
    reply = requests.post(url(sim, "AuthService.ValidateUser"), json=body, timeout=5)
    result = reply.json()
    assert result["LoginResultType"] == 1 and result["KDSVCSessionId"]
    assert reply.cookies.get("kdservice-sessionid") == result["KDSVCSessionId"]
    assert reply.cookies.get("ASP.NET_SessionId")
    assert result["Context"]["UserName"] == USER


def test_login_failure_returns_type_0_with_message_and_no_cookie(sim):
    reply = requests.post(url(sim, "AuthService.ValidateUser"), json={"parameters": [ACCT, USER, "wrong", 2052]},
                          timeout=5)
    result = reply.json()
    assert result["LoginResultType"] == 0 and result["Message"]
    assert "kdservice-sessionid" not in reply.cookies


def test_login_by_app_secret(sim):
    ok = requests.post(url(sim, "AuthService.LoginByAppSecret"),
                       json={"parameters": [ACCT, USER, "app_1", "app-secret-t", 2052]}, timeout=5).json()
    bad = requests.post(url(sim, "AuthService.LoginByAppSecret"),
                        json={"parameters": [ACCT, USER, "app_1", "nope", 2052]}, timeout=5).json()
    assert (ok["LoginResultType"], bad["LoginResultType"]) == (1, 0)


def test_calls_without_session_or_after_expiry_get_msgcode_1(sim, http):
    body = {"data": {"FormId": "BD_Supplier", "FieldKeys": "FNumber"}}
    anonymous = requests.post(url(sim, "DynamicFormService.ExecuteBillQuery"), json=body, timeout=5).json()
    assert anonymous == {"ErrorCode": 500, "MsgCode": 1, "Message": "会话信息已丢失，请重新登录"}
    assert post(http, sim, "DynamicFormService.ExecuteBillQuery", body) == [["SUP-001"], ["SUP-002"]]
    sim.state.expire_sessions()
    assert post(http, sim, "DynamicFormService.ExecuteBillQuery", body)["MsgCode"] == 1


def test_path_is_case_insensitive_and_data_may_be_a_json_string(sim, http):
    data = json.dumps({"FormId": "BD_MATERIAL", "FieldKeys": "FNumber,FName", "OrderString": "FNumber DESC"})
    rows = post(http, sim, "DynamicFormService.ExecuteBillQuery", {"parameters": [data]}, base="/K3Cloud/")
    assert rows[0] == ["1.03.0100", "油封 TC 25x47x7"] and len(rows) == 3


# ----------------------------------------------------------------------------- queries


def test_query_returns_one_row_per_entry_in_field_key_order(sim, http):
    rows = query(http, sim, FormId="PUR_PurchaseOrder",
                 FieldKeys="FBillNo,FPOOrderEntry_FEntryID,FMaterialId.FNumber,FQty,FSupplierId.FNumber")
    assert len(rows) == 6
    assert rows[0] == ["CGDD000101", rows[0][1], "1.02.0033", 500, "SUP-001"]
    assert [r[0] for r in rows].count("CGDD000102") == 2
    header_only = query(http, sim, FormId="PUR_PurchaseOrder", FieldKeys="FBillNo,FDocumentStatus")
    assert header_only == [["CGDD000101", "C"], ["CGDD000102", "C"], ["CGDD000103", "C"]]


def test_query_paging_and_top_row_count(sim, http):
    keys = "FBillNo,FPOOrderEntry_FEntryID"
    everything = query(http, sim, FormId="PUR_PurchaseOrder", FieldKeys=keys, OrderString="FID ASC")
    pages = [query(http, sim, FormId="PUR_PurchaseOrder", FieldKeys=keys, OrderString="FID ASC", StartRow=s, Limit=4)
             for s in (0, 4, 8)]
    assert [len(p) for p in pages] == [4, 2, 0]
    assert pages[0] + pages[1] == everything
    assert query(http, sim, FormId="PUR_PurchaseOrder", FieldKeys=keys, TopRowCount=3, Limit=10) == everything[:3]


def test_filter_string_comparisons_and_parentheses(sim, http):
    def numbers(filter_string):
        rows = query(http, sim, FormId="PUR_PurchaseOrder", FieldKeys="FBillNo", FilterString=filter_string)
        return [r[0] for r in rows]

    assert numbers("FModifyDate>='2026-11-20T10:00:00' and FDocumentStatus='C'") == ["CGDD000102", "CGDD000103"]
    assert numbers("FModifyDate<'2026-11-20T10:00:00'") == ["CGDD000101"]
    assert numbers("FSupplierId.FNumber<>'SUP-001'") == ["CGDD000102"]
    assert numbers("FDocumentStatus='A' or (FBillNo='CGDD000103' and FModifyDate>='2026-11-21')") == ["CGDD000103"]
    # an entry field in the filter narrows to matching entry rows
    rows = query(http, sim, FormId="PUR_PurchaseOrder", FieldKeys="FBillNo,FQty", FilterString="FQty>=800")
    assert rows == [["CGDD000102", 1000], ["CGDD000103", 800]]


@pytest.mark.parametrize("data, code, text", [
    ({"FormId": "PUR_PurchaseOrder", "FieldKeys": "FBillNo,FNoSuchField"}, 9, "FNoSuchField"),
    ({"FormId": "PUR_PurchaseOrder", "FieldKeys": "FBillNo", "FilterString": "FNope='x'"}, 9, "FNope"),
    ({"FormId": "PUR_PurchaseOrder", "FieldKeys": "FBillNo", "FilterString": "FBillNo like 'C%'"}, 8, "FilterString"),
    ({"FormId": "NO_SUCH_FORM", "FieldKeys": "FID"}, 4, "业务对象不存在"),
])
def test_query_errors_use_the_nested_array_envelope(sim, http, data, code, text):
    reply = query(http, sim, **data)
    status = reply[0][0]["Result"]["ResponseStatus"]
    assert status["IsSuccess"] is False and status["MsgCode"] == code
    assert text in status["Errors"][0]["Message"]


# ----------------------------------------------------------------------------- save / lifecycle


def instock_model(**overrides):
    model = {
        "FDate": "2026-12-02", "FSupplierId": {"FNumber": "SUP-001"}, "FStockOrgId": {"FNumber": "100"},
        "FInStockEntry": [{"FMaterialId": {"FNumber": "1.02.0033"}, "FUnitID": {"FNumber": "Pcs"}, "FRealQty": 10,
                           "FStockId": {"FNumber": "CK01"}, "FPOOrderNo": "CGDD000101"}],
    }
    model.update(overrides)
    return model


def test_save_auto_numbers_and_lifecycle_is_enforced(sim, http):
    saved = post(http, sim, "DynamicFormService.Save",
                 {"formid": "STK_InStock", "data": {"Model": instock_model(), "NeedReturnFields": ["FBillNo"]}})
    result = saved["Result"]
    assert result["ResponseStatus"]["IsSuccess"] is True
    assert result["Number"] == "CGRK000001" and result["NeedReturnData"] == [{"FBillNo": "CGRK000001"}]
    numbers = {"formid": "STK_InStock", "data": {"Numbers": ["CGRK000001"]}}

    early_audit = post(http, sim, "DynamicFormService.Audit", numbers)["Result"]["ResponseStatus"]
    assert early_audit["IsSuccess"] is False and "未提交" in early_audit["Errors"][0]["Message"]
    assert post(http, sim, "DynamicFormService.Submit", numbers)["Result"]["ResponseStatus"]["IsSuccess"]
    assert post(http, sim, "DynamicFormService.Audit", numbers)["Result"]["ResponseStatus"]["IsSuccess"]
    assert sim.state.bills("STK_InStock")[0]["FDocumentStatus"] == "C"

    resave = post(http, sim, "DynamicFormService.Save", {"formid": "STK_InStock", "data": {
        "Model": instock_model(FID=result["Id"], FNote="edit")}})["Result"]["ResponseStatus"]
    assert resave["IsSuccess"] is False and resave["Errors"][0]["Message"] == "单据已审核，不允许修改"

    second = post(http, sim, "DynamicFormService.Save", {"formid": "STK_InStock", "data": {"Model": instock_model()}})
    assert second["Result"]["Number"] == "CGRK000002"


def test_save_validation_failure_envelope(sim, http):
    model = instock_model(FSupplierId=None)
    model["FInStockEntry"][0]["FRealQty"] = 501  # the PO line holds 500
    reply = post(http, sim, "DynamicFormService.Save", {"formid": "STK_InStock", "data": {"Model": model}})
    status = reply["Result"]["ResponseStatus"]
    assert status["IsSuccess"] is False and status["ErrorCode"] == 500 and status["MsgCode"] == 11
    fields = {e["FieldName"]: e["Message"] for e in status["Errors"]}
    assert set(fields) == {"FSupplierId", "FRealQty"}
    assert fields["FRealQty"] == "第1行分录，数量大于入库上限！"
    assert all(e["DIndex"] == 0 for e in status["Errors"])
    assert sim.state.bills("STK_InStock") == []


def test_save_update_sets_modify_date_and_replaces_entries(sim, http):
    sim.state.set_now("2026-12-02T09:00:00")
    created = post(http, sim, "DynamicFormService.Save", {"formid": "STK_InStock", "data": {"Model": instock_model()}})
    sim.state.set_now("2026-12-02T10:00:00")
    update = instock_model(FID=created["Result"]["Id"])
    update["FInStockEntry"][0]["FRealQty"] = 20
    post(http, sim, "DynamicFormService.Save", {"formid": "STK_InStock", "data": {"Model": update}})
    [bill] = sim.state.bills("STK_InStock")
    assert bill["FCreateDate"] == "2026-12-02T09:00:00" and bill["FModifyDate"] == "2026-12-02T10:00:00"
    assert [row["FRealQty"] for row in bill["FInStockEntry"]] == [20]


def test_view_returns_the_model_without_f_prefix(sim, http):
    reply = post(http, sim, "DynamicFormService.View", {"formid": "PUR_PurchaseOrder", "data": {"Number": "CGDD000102"}})
    assert reply["Result"]["ResponseStatus"] is None
    bill = reply["Result"]["Result"]
    assert bill["BillNo"] == "CGDD000102" and bill["SupplierId"]["Number"] == "SUP-002"
    assert [line["MaterialId"]["Number"] for line in bill["POOrderEntry"]] == ["1.03.0100", "1.02.0033"]
    missing = post(http, sim, "DynamicFormService.View", {"formid": "PUR_PurchaseOrder", "data": {"Number": "X"}})
    assert missing["Result"]["ResponseStatus"]["MsgCode"] == 10


# ----------------------------------------------------------------------------- faults + hostile input


def test_fault_switches(sim, http):
    sim.state.fail_next(1, "http500")
    sim.state.fail_next(1, "response_error")
    body = {"data": {"FormId": "BD_Supplier", "FieldKeys": "FNumber"}}
    first = http.post(url(sim, "DynamicFormService.ExecuteBillQuery"), json=body, timeout=5)
    second = http.post(url(sim, "DynamicFormService.ExecuteBillQuery"), json=body, timeout=5)
    assert first.status_code == 500
    assert second.status_code == 200 and second.text.startswith("response_error:")
    assert post(http, sim, "DynamicFormService.ExecuteBillQuery", body) == [["SUP-001"], ["SUP-002"]]
    with pytest.raises(ValueError):
        sim.state.fail_next(1, "gremlins")


def test_timeout_fault_holds_the_request_until_released(sim, http):
    sim.state.fail_next(1, "timeout")
    with pytest.raises(requests.ReadTimeout):
        http.post(url(sim, "DynamicFormService.ExecuteBillQuery"), json={"data": {}}, timeout=0.3)
    sim.state.release_stalled()


def test_malformed_json_is_a_clear_400(sim, http):
    reply = http.post(url(sim, "DynamicFormService.Save"), data=b'{"formid": "STK_InStock", "data": {',
                      headers={"Content-Type": "application/json"}, timeout=5)
    assert reply.status_code == 400
    assert "JSON" in reply.json()["Message"]
    not_object = http.post(url(sim, "DynamicFormService.Save"), data=b"[1, 2]", timeout=5)
    assert not_object.status_code == 400
    bad_data = http.post(url(sim, "DynamicFormService.Save"), json={"formid": "STK_InStock", "data": "{oops"}, timeout=5)
    assert bad_data.status_code == 400 and "data" in bad_data.json()["Message"]
    not_utf8 = http.post(url(sim, "DynamicFormService.Save"), data=b'{"formid": "\xff"}', timeout=5)
    assert not_utf8.status_code == 400


def test_unknown_service_and_wrong_path_are_404(sim, http):
    assert http.post(url(sim, "DynamicFormService.Explode"), json={}, timeout=5).status_code == 404
    assert http.post(f"{sim.base_url}/other/{SVC}AuthService.ValidateUser.common.kdsvc", json={},
                     timeout=5).status_code == 404
    assert http.get(url(sim, "AuthService.ValidateUser"), timeout=5).status_code == 405


def test_oversized_body_is_413_and_the_server_keeps_serving(sim, http):
    sim.state.max_body_bytes = 64 * 1024
    big = {"formid": "STK_InStock", "data": {"Model": {"FNote": "x" * (100 * 1024)}}}
    reply = http.post(url(sim, "DynamicFormService.Save"), json=big, timeout=5)
    assert reply.status_code == 413 and "过大" in reply.json()["Message"]
    assert query(http, sim, FormId="BD_Supplier", FieldKeys="FNumber") == [["SUP-001"], ["SUP-002"]]


def test_module_entry_point_serves_and_reads_users_from_env():
    env = {"KINGDEE_SIM_USERS": "acct-env:someone:env-pw", "PATH": ""}
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulators.kingdee", "--host", "127.0.0.1", "--port", "0", "--seed", "demo"],
        stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stderr.readline()  # the startup log line names the bound URL
        assert "simulator on http://127.0.0.1:" in line, line
        assert "env-pw" not in line
        base = line.split("simulator on ", 1)[1].split("/k3cloud/")[0]
        login = f"{base}/k3cloud/{SVC}AuthService.ValidateUser.common.kdsvc"
        ok = requests.post(login, json={"parameters": ["acct-env", "someone", "env-pw", 2052]}, timeout=5).json()
        demo = requests.post(login, json={"parameters": ["demo-acct", "mes_api", "demo-only-password", 2052]},
                             timeout=5).json()
        assert (ok["LoginResultType"], demo["LoginResultType"]) == (1, 0)
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        proc.stderr.close()
