"""KingdeeHook against the Kingdee simulator over real HTTP on 127.0.0.1 (no mocks)."""
from __future__ import annotations

import json
import logging
import socket

import pytest

from adapters.kingdee import KingdeeConfig, KingdeeHook, receipt_to_instock_model
from hub.connections import parse_connection
from hub.errors import FatalError, RetriableError, SkippableError
from simulators.base import running
from simulators.kingdee import KingdeeState, make_server

ACCT, USER = "acct-hook", "mes_api"
PASSWORD = "pw-Hook-7d1c2b"  # distinctive, so finding it anywhere in output is meaningful


@pytest.fixture()
def sim():
    state = KingdeeState(users=f"{ACCT}:{USER}:{PASSWORD}", apps="")
    with running(make_server(state=state, seed="demo")) as server:
        try:
            yield server
        finally:
            state.release_stalled()  # frees a handler a "timeout" fault may still hold


def config_for(sim, **overrides) -> KingdeeConfig:
    values = dict(base_url=f"{sim.base_url}/k3cloud", acct_id=ACCT, username=USER, password=PASSWORD, timeout=5)
    values.update(overrides)
    return KingdeeConfig(**values)


@pytest.fixture()
def hook(sim):
    with KingdeeHook(config_for(sim)) as h:
        yield h


def calls(sim, op: str) -> int:
    return sum(1 for service in sim.state.calls if service.endswith("." + op))


PO_KEYS = ["FID", "FBillNo", "FPOOrderEntry_FEntryID", "FMaterialId.FNumber", "FQty"]


# ----------------------------------------------------------------------------- config


def test_config_from_uri_and_connection_and_repr_hides_secrets():
    cfg = KingdeeConfig.from_uri(
        "kingdee://mes_api:p%40ss%3Aw0rd@erp.example.com:8090/k3cloud?acct_id=64f1a0&lcid=1033&page_size=500")
    assert cfg.base_url == "http://erp.example.com:8090/k3cloud"
    assert (cfg.acct_id, cfg.username, cfg.lcid, cfg.page_size) == ("64f1a0", "mes_api", 1033, 500)
    assert cfg.password.get_secret_value() == "p@ss:w0rd"
    assert "p@ss" not in repr(cfg) and "p@ss" not in str(cfg)

    # Airflow's JSON Connection form, extra as a JSON string (as the Airflow UI stores it)
    conn = parse_connection(json.dumps({
        "conn_type": "kingdee", "host": "https://erp.example.com/", "schema": "K3Cloud", "login": "mes_api",
        "password": "s3cret-x", "extra": '{"acct_id": "64f1a0", "app_id": "a_1", "app_secret": "zz-top"}'}),
        "kingdee_default")
    cfg = KingdeeConfig.from_connection(conn)
    assert cfg.base_url == "https://erp.example.com/K3Cloud"
    assert cfg.app_secret.get_secret_value() == "zz-top"
    assert "s3cret-x" not in repr(cfg) and "zz-top" not in repr(cfg)
    assert set(cfg.secrets) == {"s3cret-x", "zz-top"}


def test_hook_from_conn_id_reads_the_connection_env(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_KINGDEE_DEFAULT",
                       "kingdee://mes_api:p%40ss@erp.example.com:8090/k3cloud?acct_id=64f1a0&lcid=1033")
    with KingdeeHook.from_conn_id() as hook:
        assert hook.config.base_url == "http://erp.example.com:8090/k3cloud"
        assert (hook.config.acct_id, hook.config.lcid) == ("64f1a0", 1033)
        assert hook.config.password.get_secret_value() == "p@ss"


@pytest.mark.parametrize("uri, text", [
    ("kingdee://mes_api:pw@erp:80/k3cloud", "extra.acct_id"),
    ("kingdee://mes_api:pw@erp:80/k3cloud?acct_id=1&acctid=2", "acctid"),
    ("kingdee://mes_api:pw@erp:80/k3cloud?acct_id=1&page_size=zero", "page_size"),
])
def test_config_errors_are_fatal_and_name_the_setting(uri, text):
    with pytest.raises(FatalError) as info:
        KingdeeConfig.from_uri(uri)
    assert info.value.code == "KINGDEE_CONFIG" and text in info.value.message
    assert "pw" not in str(info.value).replace("page_size", "")


# ----------------------------------------------------------------------------- login


def test_login_ok_opens_one_session(sim, hook):
    hook.login()
    assert sim.state.login_count == 1 and len(sim.state.sessions) == 1
    assert [row["FNumber"] for row in hook.execute_bill_query("BD_Supplier", ["FNumber"])] == ["SUP-001", "SUP-002"]
    assert sim.state.login_count == 1
    assert "kdservice" not in repr(hook) and PASSWORD not in repr(hook)


def test_login_by_app_secret(sim):
    sim.state._apps[(ACCT, USER, "app_9")] = "app-secret-9"
    with KingdeeHook(config_for(sim, password="", app_id="app_9", app_secret="app-secret-9")) as h:
        h.login()
    assert sim.state.login_count == 1


def test_login_failure_is_fatal_and_never_shows_the_password(sim, caplog):
    caplog.set_level(logging.DEBUG)  # urllib3 and our own loggers at their chattiest
    wrong = PASSWORD + "-wrong"
    with KingdeeHook(config_for(sim, password=wrong)) as h, pytest.raises(FatalError) as info:
        list(h.execute_bill_query("BD_Supplier", ["FNumber"]))
    error = info.value
    assert error.code == "KINGDEE_LOGIN_FAILED"
    assert USER in error.message and ACCT in error.message
    for text in (str(error), repr(error), error.as_line()):
        assert PASSWORD not in text and wrong not in text
    assert caplog.records, "expected the refusal to be logged"
    for record in caplog.records:
        assert PASSWORD not in record.getMessage()
    assert PASSWORD not in caplog.text
    assert sim.state.sessions == {}


def test_error_text_is_scrubbed_of_secrets_the_server_echoes(sim):
    # a server that echoes the request into an error must not leak the password through us
    with KingdeeHook(config_for(sim, base_url=f"{sim.base_url}/{PASSWORD}")) as h:
        with pytest.raises(FatalError) as info:
            h.login()
    assert info.value.code == "KINGDEE_HTTP"  # 404: the path is wrong
    assert PASSWORD not in str(info.value) and "***" in str(info.value)


# ----------------------------------------------------------------------------- paging


@pytest.mark.parametrize("page_size", [1, 2, 4, 6, 100])
def test_paging_returns_every_row_exactly_once(sim, hook, page_size):
    rows = list(hook.execute_bill_query("PUR_PurchaseOrder", PO_KEYS, order_string="FID ASC,FPOOrderEntry_FEntryID ASC",
                                        page_size=page_size))
    entry_ids = [row["FPOOrderEntry_FEntryID"] for row in rows]
    assert len(entry_ids) == 6 and len(set(entry_ids)) == 6
    assert sorted({row["FBillNo"] for row in rows}) == ["CGDD000101", "CGDD000102", "CGDD000103"]
    assert set(rows[0]) == set(PO_KEYS)
    # stop at the first short page: 6 rows in pages of n need 6 // n + 1 calls
    assert calls(sim, "ExecuteBillQuery") == 6 // page_size + 1


def test_session_expiry_mid_run_relogs_in_once_and_continues(sim, hook):
    rows = hook.execute_bill_query("PUR_PurchaseOrder", PO_KEYS, order_string="FID ASC", page_size=1)
    seen = [next(rows)]
    sim.state.expire_sessions()  # the ERP drops the session between two pages
    seen.extend(rows)
    assert len(seen) == 6 and len({row["FPOOrderEntry_FEntryID"] for row in seen}) == 6
    assert sim.state.login_count == 2


def test_session_lost_right_after_relogin_is_fatal(sim, hook):
    sim.state.fail_next(2, "session_lost", service="ExecuteBillQuery")
    with pytest.raises(FatalError) as info:
        list(hook.execute_bill_query("BD_Supplier", ["FNumber"]))
    assert info.value.code == "KINGDEE_SESSION_LOST"
    assert sim.state.login_count == 2  # the initial login and exactly one re-login


def test_unknown_field_key_is_a_schema_error(hook):
    with pytest.raises(FatalError) as info:
        list(hook.execute_bill_query("PUR_PurchaseOrder", ["FBillNo", "FNoSuchField"]))
    assert info.value.code == "KINGDEE_SCHEMA" and "FNoSuchField" in info.value.message


def test_bad_filter_is_a_fatal_query_error(hook):
    with pytest.raises(FatalError) as info:
        list(hook.execute_bill_query("PUR_PurchaseOrder", ["FBillNo"], filter_string="FBillNo like 'C%'"))
    assert info.value.code == "KINGDEE_QUERY_FAILED" and "PUR_PurchaseOrder" in info.value.message


# ----------------------------------------------------------------------------- transport faults


@pytest.mark.parametrize("kind, code", [
    ("http500", "KINGDEE_UNAVAILABLE"),
    ("response_error", "KINGDEE_SERVER_ERROR"),
    ("disconnect", "KINGDEE_UNAVAILABLE"),
])
def test_server_faults_are_retriable(sim, hook, kind, code):
    hook.login()
    sim.state.fail_next(1, kind, service="ExecuteBillQuery")
    with pytest.raises(RetriableError) as info:
        list(hook.execute_bill_query("BD_Supplier", ["FNumber"]))
    assert info.value.code == code and "ExecuteBillQuery" in info.value.message
    # the fault was transient: the same hook works on the next call
    assert len(list(hook.execute_bill_query("BD_Supplier", ["FNumber"]))) == 2


def test_timeout_is_retriable(sim):
    with KingdeeHook(config_for(sim, timeout=0.3)) as h:
        h.login()
        sim.state.fail_next(1, "timeout", service="View")
        with pytest.raises(RetriableError) as info:
            h.view("PUR_PurchaseOrder", "CGDD000101")
    assert info.value.code == "KINGDEE_UNAVAILABLE" and "timed out" in info.value.message


def test_connection_refused_is_retriable():
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cfg = KingdeeConfig(base_url=f"http://127.0.0.1:{port}/k3cloud", acct_id=ACCT, username=USER, password=PASSWORD,
                        timeout=2)
    with KingdeeHook(cfg) as h, pytest.raises(RetriableError) as info:
        h.login()
    assert PASSWORD not in str(info.value)


# ----------------------------------------------------------------------------- view / save / lifecycle


def test_view_returns_the_bill_and_missing_bill_is_skippable(hook):
    bill = hook.view("PUR_PurchaseOrder", "CGDD000101")
    assert bill["BillNo"] == "CGDD000101" and len(bill["POOrderEntry"]) == 2
    with pytest.raises(SkippableError) as info:
        hook.view("PUR_PurchaseOrder", "CGDD999999")
    assert "CGDD999999" in str(info.value)


def receipt(receipt_id="WMS-RCV-0001", qty="120", **line_overrides):
    line = {"material_id": "1.02.0033", "quantity": qty, "uom": "Pcs", "batch_id": "LOT-2026-12-02-A",
            "po_number": "CGDD000101", "location": "CK01"}
    line.update(line_overrides)
    return {"receipt_id": receipt_id, "supplier_id": "SUP-001", "received_at": "2026-12-02T08:30:00+08:00",
            "lines": [line]}


def test_rejected_save_is_skippable_and_names_form_bill_and_fields(sim, hook):
    model = receipt_to_instock_model(receipt(qty="600"))  # PO line CGDD000101/1.02.0033 holds 500
    with pytest.raises(SkippableError) as info:
        hook.save_submit_audit_idempotent("STK_InStock", model, "F_HUB_ExtNo", "WMS-RCV-0001")
    message = info.value.message
    assert info.value.code == "KINGDEE_REJECTED"
    assert "STK_InStock" in message and "WMS-RCV-0001" in message
    assert "FRealQty: 第1行分录，数量大于入库上限！" in message
    assert sim.state.bills("STK_InStock") == []

    del model["FSupplierId"]
    model["FInStockEntry"][0]["FRealQty"] = 10
    with pytest.raises(SkippableError) as info:
        hook.save("STK_InStock", model)
    assert "FSupplierId" in info.value.message and "STK_InStock" in info.value.message


def test_saving_an_audited_bill_is_rejected(hook):
    [row] = [r for r in hook.execute_bill_query("PUR_PurchaseOrder", ["FID", "FBillNo"]) if r["FBillNo"] == "CGDD000101"]
    with pytest.raises(SkippableError) as info:
        hook.save("PUR_PurchaseOrder", {"FID": row["FID"], "FNote": "late change"})
    assert "单据已审核，不允许修改" in info.value.message and "PUR_PurchaseOrder" in info.value.message


def test_unknown_model_field_is_a_schema_error(hook):
    model = receipt_to_instock_model(receipt(), external_number_field="F_SITE_DOES_NOT_HAVE")
    with pytest.raises(FatalError) as info:
        hook.save("STK_InStock", model)
    assert info.value.code == "KINGDEE_SCHEMA" and "F_SITE_DOES_NOT_HAVE" in info.value.message


def test_save_submit_audit_twice_leaves_exactly_one_audited_bill(sim, hook):
    model = receipt_to_instock_model(receipt())
    first = hook.save_submit_audit_idempotent("STK_InStock", model, "F_HUB_ExtNo", "WMS-RCV-0001")
    second = hook.save_submit_audit_idempotent("STK_InStock", model, "F_HUB_ExtNo", "WMS-RCV-0001")
    assert first == second == "CGRK000001"
    [bill] = sim.state.bills("STK_InStock")
    assert bill["FDocumentStatus"] == "C" and bill["F_HUB_ExtNo"] == "WMS-RCV-0001"
    assert bill["FInStockEntry"][0]["FRealQty"] == 120
    assert (calls(sim, "Save"), calls(sim, "Submit"), calls(sim, "Audit")) == (1, 1, 1)


def test_rerun_after_a_failed_audit_resumes_the_same_bill(sim, hook):
    model = receipt_to_instock_model(receipt(receipt_id="WMS-RCV-0002"))
    sim.state.fail_next(1, "http500", service="Audit")
    with pytest.raises(RetriableError):
        hook.save_submit_audit_idempotent("STK_InStock", model, "F_HUB_ExtNo", "WMS-RCV-0002")
    assert [b["FDocumentStatus"] for b in sim.state.bills("STK_InStock")] == ["B"]
    number = hook.save_submit_audit_idempotent("STK_InStock", model, "F_HUB_ExtNo", "WMS-RCV-0002")
    [bill] = sim.state.bills("STK_InStock")
    assert (bill["FBillNo"], bill["FDocumentStatus"]) == (number, "C")
    assert calls(sim, "Save") == 1 and calls(sim, "Submit") == 1


def test_external_number_with_a_quote_is_quoted_not_injected(sim, hook):
    hook.save_submit_audit_idempotent("STK_InStock", receipt_to_instock_model(receipt(receipt_id="A")), "F_HUB_ExtNo", "A")
    odd = "A' or F_HUB_ExtNo<>'"
    number = hook.save_submit_audit_idempotent("STK_InStock", receipt_to_instock_model(receipt(receipt_id=odd)),
                                               "F_HUB_ExtNo", odd)
    assert number == "CGRK000002"
    assert sorted(b["F_HUB_ExtNo"] for b in sim.state.bills("STK_InStock")) == sorted(["A", odd])


def test_connection_json_form_with_schema_as_protocol_builds_the_webapi_base():
    """The ``hub erp`` contract: AIRFLOW_CONN_KINGDEE_DEFAULT in Airflow's JSON form, schema http/https."""
    import json

    from adapters.kingdee.config import KingdeeConfig

    config = KingdeeConfig.from_uri(json.dumps({
        "conn_type": "kingdee", "host": "erp.example.com", "port": 8443, "login": "mes_api", "password": "pw-1",
        "schema": "https", "extra": {"acct_id": "6543", "lcid": 2052, "auth": "password"}}))
    assert config.base_url == "https://erp.example.com:8443/k3cloud"
    assert config.acct_id == "6543" and config.auth_method == "password"
