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
    assert rows[0] == ["3.01.0007", "电机总成"] and len(rows) == 4  # three purchased parts and the motor


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


# ----------------------------------------------------------------------------- generated data


def test_generator_is_deterministic_and_fast_paths_stay_consistent():
    from simulators.kingdee import seed_generated

    def tables(seed):
        state = KingdeeState(users=f"{ACCT}:{USER}:{PASSWORD}", apps="")
        added = seed_generated(state, n_suppliers=4, n_materials=6, n_pos=20, lines_per_po=3, n_boms=3, n_mos=4,
                               seed=seed)
        return added, {form: state.bills(form) for form in ("PUR_PurchaseOrder", "ENG_BOM", "PRD_MO", "STK_Inventory")}

    added, first = tables(7)
    assert tables(7)[1] == first and tables(8)[1] != first
    assert added == {"BD_Supplier": 4, "BD_MATERIAL": 6, "PUR_PurchaseOrder": 20, "ENG_BOM": 3, "PRD_MO": 4,
                     "STK_Inventory": 12}
    pos = first["PUR_PurchaseOrder"]
    assert all(len(b["FPOOrderEntry"]) == 3 and b["FDocumentStatus"] == "C" for b in pos)
    assert len({b["FBillNo"] for b in pos}) == 20
    entry_ids = [e["FEntryID"] for b in pos for e in b["FPOOrderEntry"]]
    assert len(set(entry_ids)) == len(entry_ids)
    assert all(isinstance(row["FID"], str) for row in first["STK_Inventory"])  # GUIDs, as on real sites


def test_generator_adds_to_the_demo_seed_without_clashing(sim, http):
    from simulators.kingdee import seed_generated

    seed_generated(sim.state, n_suppliers=3, n_materials=4, n_pos=150, lines_per_po=1, n_boms=0, n_mos=0, n_stock=0)
    numbers = [b["FBillNo"] for b in sim.state.bills("PUR_PurchaseOrder")]
    assert len(numbers) == 153 and len(set(numbers)) == 153 and "CGDD000101" in numbers
    suppliers = query(http, sim, FormId="BD_Supplier", FieldKeys="FNumber,FName", OrderString="FNumber ASC")
    assert suppliers[:2] == [["SUP-001", "华东轴承有限公司"], ["SUP-002", "江南精密五金有限公司"]]  # demo rows kept
    assert [r[0] for r in suppliers] == ["SUP-001", "SUP-002", "SUP-003"]


@pytest.mark.parametrize("form, keys, date_filter, expected", [
    # the demo rows are from 2026, the generated ones from 2025
    ("BD_Supplier", "FNumber", "FModifyDate<'2026-01-01'", 1),
    ("BD_MATERIAL", "FNumber,FBaseUnitId.FNumber", "FModifyDate>='2026-01-01' and FDocumentStatus='C'", 4),
    ("ENG_BOM", "FNumber,FTreeEntity_FEntryId,FMaterialIdChild.FNumber,FNumerator,FDenominator",
     "FApproveDate>='2025-01-01'", None),
    ("PUR_PurchaseOrder", "FBillNo,FPOOrderEntry_FEntryID", "FModifyDate<'2026-01-01' or FApproveDate>='2099-01-01'",
     6),
    ("PRD_MO", "FBillNo,FTreeEntity_FEntryId,FTreeEntity_FSeq,FStatus", "FModifyDate>='2025-06-01'", None),
])
def test_every_form_is_queryable_with_a_date_filter(sim, http, form, keys, date_filter, expected):
    from simulators.kingdee import seed_generated

    seed_generated(sim.state, n_suppliers=3, n_materials=4, n_pos=3, lines_per_po=2, n_boms=2, n_mos=2, seed=1)
    rows = query(http, sim, FormId=form, FieldKeys=keys, FilterString=date_filter, OrderString="FID ASC")
    assert isinstance(rows, list) and rows and all(len(r) == len(keys.split(",")) for r in rows)
    if expected is not None:
        assert len(rows) == expected


def test_stk_inventory_has_no_modify_date_and_cannot_be_saved(sim, http):
    from simulators.kingdee import seed_generated

    seed_generated(sim.state, n_suppliers=1, n_materials=3, n_pos=0, n_boms=0, n_mos=0, n_stock=5)
    rows = query(http, sim, FormId="STK_Inventory", FieldKeys="FID,FMaterialId.FNumber,FBaseQty,FStockId.FNumber")
    assert len(rows) == 5
    failure = query(http, sim, FormId="STK_Inventory", FieldKeys="FID", FilterString="FModifyDate>='2020-01-01'")
    assert failure[0][0]["Result"]["ResponseStatus"]["MsgCode"] == 9
    saved = post(http, sim, "DynamicFormService.Save", {"formid": "STK_Inventory", "data": {"Model": {"FBaseQty": 1}}})
    assert saved["Result"]["ResponseStatus"]["MsgCode"] == 12


def test_query_cache_sees_every_write(sim, http):
    keys = "FBillNo,FPOOrderEntry_FEntryID"
    before = query(http, sim, FormId="PUR_PurchaseOrder", FieldKeys=keys, OrderString="FID ASC", Limit=2)
    assert len(before) == 2
    post(http, sim, "DynamicFormService.UnAudit", {"formid": "PUR_PurchaseOrder", "data": {"Numbers": ["CGDD000101"]}})
    audited = query(http, sim, FormId="PUR_PurchaseOrder", FieldKeys="FBillNo", FilterString="FDocumentStatus='C'")
    assert [r[0] for r in audited] == ["CGDD000102", "CGDD000103"]


def test_is_delete_entry_false_keeps_untouched_lines_in_place(sim, http):
    po = sim.state.find("PUR_PurchaseOrder", number="CGDD000102")
    first, second = (e["FEntryID"] for e in po["FPOOrderEntry"])
    post(http, sim, "DynamicFormService.UnAudit", {"formid": "PUR_PurchaseOrder", "data": {"Numbers": ["CGDD000102"]}})
    post(http, sim, "DynamicFormService.Save", {"formid": "PUR_PurchaseOrder", "data": {
        "IsDeleteEntry": "false", "Model": {"FID": po["FID"], "FPOOrderEntry": [{"FEntryID": second, "FQty": 7}]}}})
    rows = sim.state.find("PUR_PurchaseOrder", number="CGDD000102")["FPOOrderEntry"]
    assert [(r["FEntryID"], r["FSeq"], r["FQty"]) for r in rows] == [(first, 1, 1000), (second, 2, 7)]


# ----------------------------------------------------------------------------- admin endpoints


def admin(sim, method, name, body=None):
    reply = requests.request(method, f"{sim.base_url}/__sim/{name}", json=body, timeout=5)
    return reply.status_code, reply.json()


def test_admin_faults_arm_list_and_clear(sim, http):
    status, answer = admin(sim, "POST", "faults", {"kind": "http500", "count": 2, "service": "ExecuteBillQuery"})
    assert status == 200 and answer["faults"][0]["kind"] == "http500" and answer["faults"][0]["count"] == 2
    body = {"data": {"FormId": "BD_Supplier", "FieldKeys": "FNumber"}}
    assert http.post(url(sim, "DynamicFormService.ExecuteBillQuery"), json=body, timeout=5).status_code == 500
    assert admin(sim, "GET", "faults")[1]["faults"][0]["count"] == 1
    assert admin(sim, "POST", "faults", {"clear": True}) == (200, {"faults": []})
    assert post(http, sim, "DynamicFormService.ExecuteBillQuery", body) == [["SUP-001"], ["SUP-002"]]


@pytest.mark.parametrize("body", [
    {"kind": "gremlins"}, {"kind": "http500", "count": 0}, {"kind": "http500", "count": None},
    {"kind": "latency", "delay": 10**6}, {"kind": "http429", "after": True}, {"kind": "http500", "colour": "red"},
    {"faults": [{"kind": "http500"}, {"kind": "nope"}]}, {"kind": "http500", "probability": 2},
])
def test_admin_rejects_bad_faults_and_arms_nothing(sim, body):
    status, answer = admin(sim, "POST", "faults", body)
    assert status == 400 and answer["error"]
    assert admin(sim, "GET", "faults")[1] == {"faults": []}


def test_admin_touch_moves_modify_dates_of_a_fraction_of_lines(sim, http):
    status, answer = admin(sim, "POST", "touch", {"form": "PUR_PurchaseOrder", "fraction": 0.5, "seed": 1,
                                                  "now": "2026-12-01T12:00:00"})
    assert status == 200 and answer["lines"] == 3 and 1 <= answer["bills"] <= 3
    changed = query(http, sim, FormId="PUR_PurchaseOrder", FieldKeys="FBillNo",
                    FilterString="FModifyDate>='2026-12-01T12:00:00'")
    assert len(changed) == answer["bills"]
    assert admin(sim, "POST", "touch", {"fraction": 0})[0] == 400
    assert admin(sim, "POST", "touch", {"form": "BD_Supplier"})[0] == 400


def test_admin_seed_and_stats(sim):
    status, answer = admin(sim, "POST", "seed", {"n_pos": 10, "lines_per_po": 4, "n_suppliers": 3, "n_materials": 5,
                                                 "n_boms": 1, "n_mos": 1, "seed": 3})
    assert status == 200 and answer["added"]["PUR_PurchaseOrder"] == 10
    stats = admin(sim, "GET", "stats")[1]
    assert stats["forms"]["PUR_PurchaseOrder"] == {"rows": 13, "lines": 46}
    assert admin(sim, "POST", "seed", {"n_pos": -1})[0] == 400
    assert admin(sim, "POST", "seed", {"bogus": 1})[0] == 400
    assert admin(sim, "GET", "nothing-here")[0] == 404


# ----------------------------------------------------------------------------- faults on the wire


def test_429_carries_retry_after(sim, http):
    sim.state.fail_next(1, "http429", retry_after=7)
    reply = http.post(url(sim, "DynamicFormService.ExecuteBillQuery"), json={"data": {}}, timeout=5)
    assert reply.status_code == 429 and reply.headers["Retry-After"] == "7"


def test_malformed_json_is_a_cut_off_json_body(sim, http):
    sim.state.fail_next(1, "malformed_json", service="ExecuteBillQuery", after=True)
    reply = http.post(url(sim, "DynamicFormService.ExecuteBillQuery"),
                      json={"data": {"FormId": "BD_Supplier", "FieldKeys": "FNumber"}}, timeout=5)
    assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("application/json")
    assert reply.text.startswith('[["SUP-0')  # the real answer, cut off
    with pytest.raises(ValueError):
        reply.json()


def test_reset_breaks_the_connection_mid_body_after_the_work(sim, http):
    sim.state.fail_next(1, "reset", service="Save")
    with pytest.raises(requests.exceptions.RequestException):
        http.post(url(sim, "DynamicFormService.Save"), json={"formid": "STK_InStock", "data": {"Model": instock_model()}},
                  timeout=5)
    assert len(sim.state.bills("STK_InStock")) == 1  # the Save committed before the answer broke


def test_after_fault_fails_the_answer_of_a_committed_save(sim, http):
    sim.state.fail_next(1, "http500", service="Save", after=True)
    reply = http.post(url(sim, "DynamicFormService.Save"),
                      json={"formid": "STK_InStock", "data": {"Model": instock_model()}}, timeout=5)
    assert reply.status_code == 500 and len(sim.state.bills("STK_InStock")) == 1


def test_repeat_rows_starts_a_page_early(sim, http):
    keys = "FBillNo,FPOOrderEntry_FEntryID"
    everything = query(http, sim, FormId="PUR_PurchaseOrder", FieldKeys=keys, OrderString="FID ASC")
    first = query(http, sim, FormId="PUR_PurchaseOrder", FieldKeys=keys, OrderString="FID ASC", StartRow=0, Limit=3)
    sim.state.fail_next(1, "repeat_rows", service="ExecuteBillQuery", rows=2)
    second = query(http, sim, FormId="PUR_PurchaseOrder", FieldKeys=keys, OrderString="FID ASC", StartRow=3, Limit=3)
    assert first == everything[:3] and second == everything[1:4]


def test_session_expired_fault_drops_every_session(sim, http):
    sim.state.fail_next(1, "session_expired")
    reply = post(http, sim, "DynamicFormService.ExecuteBillQuery", {"data": {"FormId": "BD_Supplier",
                                                                             "FieldKeys": "FNumber"}})
    assert reply["MsgCode"] == 1 and sim.state.sessions == {}


def test_latency_fault_still_answers(sim, http):
    sim.state.fail_next(1, "latency", delay=0.05)
    assert post(http, sim, "DynamicFormService.ExecuteBillQuery",
                {"data": {"FormId": "BD_Supplier", "FieldKeys": "FNumber"}}) == [["SUP-001"], ["SUP-002"]]
    assert sim.state.faults.active() == []


def test_probabilistic_faults_repeat_exactly_for_the_same_rng_seed(sim, http):
    body = {"data": {"FormId": "BD_Supplier", "FieldKeys": "FNumber"}}

    def pattern():
        sim.state.faults.clear()
        sim.state.faults.reseed(99)
        sim.state.arm_fault({"kind": "http500", "count": None, "probability": 0.5})
        return [http.post(url(sim, "DynamicFormService.ExecuteBillQuery"), json=body, timeout=5).status_code
                for _ in range(12)]

    first = pattern()
    assert pattern() == first and set(first) == {200, 500}


def test_module_entry_point_generates_data():
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulators.kingdee", "--port", "0", "--seed-pos", "7", "--lines-per-po", "3",
         "--seed-suppliers", "2", "--seed-materials", "4", "--random-seed", "5"],
        stderr=subprocess.PIPE, text=True, env={"PATH": ""})
    try:
        line = proc.stderr.readline()
        assert "simulator on http://127.0.0.1:" in line, line
        base = line.split("simulator on ", 1)[1].split("/k3cloud/")[0]
        stats = requests.get(f"{base}/__sim/stats", timeout=5).json()
        assert stats["forms"]["PUR_PurchaseOrder"] == {"rows": 7, "lines": 21}
        assert stats["forms"]["BD_Supplier"]["rows"] == 2
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        proc.stderr.close()


def test_touch_by_bills_changes_one_line_in_that_fraction_of_bills(sim):
    from simulators.kingdee import seed_generated, touch

    seed_generated(sim.state, n_suppliers=2, n_materials=4, n_pos=97, lines_per_po=10, n_boms=0, n_mos=0, n_stock=0)
    before = {b["FBillNo"]: b for b in sim.state.bills("PUR_PurchaseOrder")}
    result = touch(sim.state, fraction=0.1, by="bills", seed=2, now="2027-01-01T00:00:00")
    after = sim.state.bills("PUR_PurchaseOrder")
    moved = [b for b in after if b["FModifyDate"] != before[b["FBillNo"]]["FModifyDate"]]
    assert result == {"form": "PUR_PurchaseOrder", "lines": 10, "bills": 10, "modified": "2027-01-01T00:00:00"}
    assert len(moved) == 10
    for bill in moved:
        changed = [a for a, b in zip(bill["FPOOrderEntry"], before[bill["FBillNo"]]["FPOOrderEntry"])
                   if a["FQty"] != b["FQty"]]
        assert len(changed) == 1
