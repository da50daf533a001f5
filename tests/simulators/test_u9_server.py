"""The U9 simulator on the raw wire (SOAP 1.1 + WSDL, U9 Cloud REST, admin, faults, seeds, CLI).

These tests speak HTTP with ``requests`` and read XML with a hardened lxml parser, not through the
adapter, so the simulator's protocol fidelity is checked independently of the code it tests.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
from contextlib import contextmanager
from decimal import Decimal

import pytest
import requests
from lxml import etree

from simulators.u9 import U9State, make_server, seed, seed_demo

ENT, ORG_ID, USER_ID = "010", "1001708020135665", "1001708020000008"
CLIENT, ORG, USER, SECRET = "sim-client", "101", "mes_api", "sim-secret-9a"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
NS = {"s": SOAP_ENV, "u": "http://www.UFIDA.org", "e": "http://www.UFIDA.org/EntityData",
      "f": "http://schemas.datacontract.org/2004/07/UFSoft.UBF.Service"}
PO_QUERY = "UFIDA.U9.ISV.PO.IQueryPOSRV"


@contextmanager
def serving(server):
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture()
def sim():
    state = U9State(clients=f"{CLIENT}:{ENT}:{ORG}:{USER}:{SECRET}", contexts=f"{ENT}:{ORG_ID}:{USER_ID}")
    with serving(make_server(state=state, seed_name="demo", with_production=True)) as server:
        try:
            yield server
        finally:
            state.clear_faults()


def svc(sim, contract: str, base: str = "/U9/Services") -> str:
    return f"{sim.base_url}{base}/{contract}.svc"


def context_xml(typed: bool = True, **values: str) -> str:
    values = values or {"OrgID": ORG_ID, "UserID": USER_ID, "EnterpriseID": ENT, "CultureName": "zh-CN"}
    t = ' i:type="x:string"' if typed else ""
    pairs = "".join(f"<a:KeyValueOfanyTypeanyType><a:Key{t}>{k}</a:Key><a:Value{t}>{v}</a:Value>"
                    f"</a:KeyValueOfanyTypeanyType>" for k, v in values.items())
    return ('<context xmlns:i="http://www.w3.org/2001/XMLSchema-instance" '
            'xmlns:c="http://schemas.datacontract.org/2004/07/UFSoft.UBF.Util.Context" i:type="c:ThreadContext">'
            '<c:nameValueHas xmlns:a="http://schemas.microsoft.com/2003/10/Serialization/Arrays" '
            f'xmlns:x="http://www.w3.org/2001/XMLSchema">{pairs}</c:nameValueHas></context>')


def envelope(params: str, context: str | None = None, prolog: str = "") -> bytes:
    return (f'{prolog}<s:Envelope xmlns:s="{SOAP_ENV}"><s:Body><Do xmlns="http://www.UFIDA.org">'
            f'{context if context is not None else context_xml()}{params}</Do></s:Body></s:Envelope>').encode("utf-8")


def soap_post(sim, contract: str, body: bytes, action: str | None = None, **headers: str) -> requests.Response:
    head = {"Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": f'"{action or f"http://www.UFIDA.org/{contract}/Do"}"', **headers}
    return requests.post(svc(sim, contract), data=body, headers=head, timeout=5)


QUERY = ('<queryDTO xmlns:e="http://www.UFIDA.org/EntityData"><e:m_lastID>0</e:m_lastID>'
         '<e:m_pageSize>2</e:m_pageSize></queryDTO>')


def xml(reply: requests.Response) -> etree._Element:
    return etree.fromstring(reply.content, PARSER)


def fault_of(reply: requests.Response) -> tuple[str, str, str]:
    root = xml(reply)
    return (root.findtext(".//faultcode"), root.findtext(".//f:ErrorCode", namespaces=NS) or "",
            root.findtext(".//faultstring"))


# ----------------------------------------------------------------------------- SOAP: WSDL


@pytest.mark.parametrize("contract", [PO_QUERY, "UFIDA.U9.ISV.ItemQty.IBatchQueryItemQtySVR",
                                      "UFIDA.U9.ISV.RCV.IApproveReceivementSRV", "UFIDA.U9.Cust.HubSV.IFindDocByExtNoSV"])
def test_every_contract_publishes_a_wsdl_at_question_wsdl(sim, contract):
    reply = requests.get(svc(sim, contract) + "?wsdl", timeout=5)
    assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("text/xml")
    root = xml(reply)
    w = {"w": "http://schemas.xmlsoap.org/wsdl/", "soap": "http://schemas.xmlsoap.org/wsdl/soap/"}
    assert root.get("targetNamespace") == "http://www.UFIDA.org"
    assert root.find(f".//w:binding[@name='BasicHttpBinding_{contract}']", w) is not None
    assert root.find(".//soap:operation", w).get("soapAction") == f"http://www.UFIDA.org/{contract}/Do"
    assert root.find(".//soap:address", w).get("location") == svc(sim, contract)
    assert len(root.findall("w:types", w)) == 1  # one types section, every schema inline (no imports to fetch)
    assert b"schemaLocation" not in reply.content


def test_wsdl_paths_are_case_insensitive_and_unknown_contracts_404(sim):
    assert requests.get(svc(sim, PO_QUERY, "/u9/services") + "?singleWsdl", timeout=5).status_code == 200
    assert requests.get(svc(sim, "UFIDA.U9.ISV.Nope.INopeSV") + "?wsdl", timeout=5).status_code == 404


# ----------------------------------------------------------------------------- SOAP: calls


@pytest.mark.parametrize("typed", [True, False])
def test_a_do_call_answers_dtos_with_m_members_in_a_do_response(sim, typed):
    reply = soap_post(sim, PO_QUERY, envelope(QUERY, context_xml(typed=typed)))
    assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("text/xml")
    root = xml(reply)
    orders = root.findall(".//u:DoResponse/u:DoResult/e:UFIDA.U9.ISV.PO.PurchaseOrderDTOData", NS)
    assert [o.findtext("e:m_docNo", namespaces=NS) for o in orders] == ["CGDD000101", "CGDD000102"]
    lines = orders[0].findall("e:m_pOLines/e:UFIDA.U9.ISV.PO.POLineDTOData", NS)
    assert [(l.findtext("e:m_itemMaster/e:m_code", namespaces=NS), l.findtext("e:m_purQtyTU", namespaces=NS))
            for l in lines] == [("1.02.0033", "500"), ("1.02.0041", "300")]
    members = [etree.QName(c).localname for c in orders[0]]
    assert members == sorted(members)  # DataContract order
    assert root.find(".//u:DoResponse/u:outMessages", NS) is not None


def test_an_unknown_context_is_a_client_fault_naming_the_context(sim):
    reply = soap_post(sim, PO_QUERY, envelope(QUERY, context_xml(OrgID="1", UserID=USER_ID, EnterpriseID=ENT)))
    assert reply.status_code == 500
    assert fault_of(reply)[:2] == ("s:Client", "ContextInvalid")
    reply = soap_post(sim, PO_QUERY, envelope(QUERY, context=""))
    assert fault_of(reply)[1] == "ContextInvalid" and "OrgID" in fault_of(reply)[2]


def test_wrong_soap_action_content_type_and_body_are_refused(sim):
    wrong_action = soap_post(sim, PO_QUERY, envelope(QUERY), action="http://www.UFIDA.org/Other/Do")
    assert fault_of(wrong_action)[1] == "ActionNotSupported"
    json_type = requests.post(svc(sim, PO_QUERY), data=envelope(QUERY), timeout=5,
                              headers={"Content-Type": "application/soap+xml"})
    assert json_type.status_code == 415
    not_xml = soap_post(sim, PO_QUERY, b"{\"not\": \"xml\"}")
    assert not_xml.status_code == 500 and fault_of(not_xml)[0] == "s:Client"


def test_a_hostile_request_is_neither_resolved_nor_expanded(sim, tmp_path):
    secret = tmp_path / "s.txt"
    secret.write_text("SIM-XXE-MARKER", encoding="utf-8")
    xxe = f'<?xml version="1.0"?><!DOCTYPE s:Envelope [<!ENTITY x SYSTEM "file://{secret}">]>'
    reply = soap_post(sim, PO_QUERY, envelope(QUERY.replace("0</e:m_lastID>", "&x;</e:m_lastID>"), prolog=xxe))
    assert reply.status_code == 500 and b"SIM-XXE-MARKER" not in reply.content
    assert "DTD is prohibited" in fault_of(reply)[2]
    lols = "".join(f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10 if i else "lol"}">' for i in range(10))
    bomb = soap_post(sim, PO_QUERY, envelope("<queryDTO>&l9;</queryDTO>", prolog=f"<!DOCTYPE s:Envelope [{lols}]>"))
    assert bomb.status_code == 500 and len(bomb.content) < 4096


def test_business_validation_is_a_service_exception_with_entity_and_attribute(sim):
    body = ('<rcvDTOs xmlns:e="http://www.UFIDA.org/EntityData"><e:UFIDA.U9.ISV.RCV.DTO.ReceivementDTOData>'
            '<e:m_rcvLines><e:UFIDA.U9.ISV.RCV.DTO.RcvLineDTOData><e:m_rcvQtyTU>99999</e:m_rcvQtyTU>'
            '<e:m_srcDocLineNo>1</e:m_srcDocLineNo><e:m_srcDocNo>CGDD000101</e:m_srcDocNo>'
            '<e:m_wh><e:m_code>CK01</e:m_code></e:m_wh></e:UFIDA.U9.ISV.RCV.DTO.RcvLineDTOData></e:m_rcvLines>'
            '<e:m_supplier><e:m_code>SUP-001</e:m_code></e:m_supplier>'
            '</e:UFIDA.U9.ISV.RCV.DTO.ReceivementDTOData></rcvDTOs>')
    reply = soap_post(sim, "UFIDA.U9.ISV.RCV.ICreateReceivementSRV", envelope(body))
    root = xml(reply)
    assert fault_of(reply)[:2] == ("s:Server", "BusinessValidation")
    assert root.findtext(".//f:AttributeName", namespaces=NS) == "RcvLines[1].RcvQtyTU"
    assert root.findtext(".//f:EntityFullName", namespaces=NS) == "UFIDA.U9.PM.Rcv.Receivement"
    assert sim.state.rows("PM_Receivement") == []


# ----------------------------------------------------------------------------- REST


def login(sim, **overrides: str) -> dict:
    params = {"clientid": CLIENT, "clientsecret": SECRET, "entCode": ENT, "userCode": USER, "orgCode": ORG,
              **overrides}
    return requests.get(f"{sim.base_url}/U9C/webapi/OAuth2/AuthLogin", params=params, timeout=5).json()


def rest(sim, route: str, body, token: str | None) -> requests.Response:
    headers = {"token": token} if token else {}
    return requests.post(f"{sim.base_url}/U9C/webapi/{route}", json=body, headers=headers, timeout=5)


def test_auth_login_issues_a_token_in_the_api_result_envelope(sim):
    answer = login(sim)
    assert answer["ResCode"] == 0 and answer["Success"] is True and answer["Data"]
    lower = requests.get(f"{sim.base_url}/U9C/webapi/OAuth2/AuthLogin", timeout=5, params={
        "ClientId": CLIENT, "ClientSecret": SECRET, "entcode": ENT, "usercode": USER, "orgcode": ORG}).json()
    assert lower["ResCode"] == 0  # parameter names are case-insensitive


@pytest.mark.parametrize("overrides,code", [({"clientsecret": "nope"}, 503), ({"orgCode": "999"}, 408),
                                            ({"userCode": "ghost"}, 406), ({"entCode": ""}, 502)])
def test_refused_logins_are_http_200_with_a_res_code(sim, overrides, code):
    answer = login(sim, **overrides)
    assert (answer["ResCode"], answer["Success"], answer["Data"]) == (code, False, None)
    assert SECRET not in json.dumps(answer, ensure_ascii=False)


def test_token_missing_reissued_and_expired(sim):
    sql = {"SqlString": "SELECT Code FROM CBO_Supplier"}
    assert rest(sim, "QueryCommon/QueryInfoBySql", sql, None).json()["ResCode"] == 401
    first = login(sim)["Data"]
    second = login(sim)["Data"]
    assert rest(sim, "QueryCommon/QueryInfoBySql", sql, first).json()["ResCode"] == 504  # re-issue invalidates
    assert rest(sim, "QueryCommon/QueryInfoBySql", sql, second).json()["ResCode"] == 0
    requests.post(f"{sim.base_url}/__sim/tokens/expire", timeout=5)
    reply = rest(sim, "QueryCommon/QueryInfoBySql", sql, second)
    assert reply.status_code == 200 and reply.json()["ResCode"] == 402


@pytest.fixture()
def token(sim):
    return login(sim)["Data"]


def sql(sim, token, text: str) -> dict:
    return rest(sim, "QueryCommon/QueryInfoBySql", {"SqlString": text}, token).json()


def test_query_info_by_sql_reads_the_fixture_tables(sim, token):
    rows = sql(sim, token, "SELECT TOP 2 DocNo, BusinessDate, Status FROM PM_PurchaseOrder WITH (NOLOCK) "
                           "WHERE Status >= 2 AND ModifiedOn >= '2026-11-20 10:00:00' ORDER BY DocNo DESC")["Data"]
    assert rows == [{"DocNo": "CGDD000103", "BusinessDate": "2026-11-20T00:00:00", "Status": 2},
                    {"DocNo": "CGDD000102", "BusinessDate": "2026-11-20T00:00:00", "Status": 2}]
    lines = sql(sim, token, "SELECT ItemInfo_ItemCode, PurQtyTU FROM PM_POLine WHERE ItemInfo_ItemCode LIKE '1.02.%' "
                            "AND NOT PurQtyTU < 300 ORDER BY PurQtyTU OFFSET 1 ROWS FETCH NEXT 2 ROWS ONLY")["Data"]
    assert lines == [{"ItemInfo_ItemCode": "1.02.0041", "PurQtyTU": 400}, {"ItemInfo_ItemCode": "1.02.0033",
                                                                           "PurQtyTU": 500}]
    quoted = sql(sim, token, "SELECT Code FROM CBO_Supplier WHERE Name = N'华东轴承有限公司' OR Code IN ('X', 'Y')")
    assert quoted["Data"] == [{"Code": "SUP-001"}]


@pytest.mark.parametrize("text,fragment", [
    ("SELECT Nope FROM PM_PurchaseOrder", "列名 'Nope' 无效"),
    ("SELECT * FROM PM_Nothing", "对象名 'PM_Nothing' 无效"),
    ("DELETE FROM PM_PurchaseOrder", "只允许 SELECT"),
    ("SELECT DocNo FROM PM_PurchaseOrder WHERE DocNo = 'x'; DELETE FROM PM_PurchaseOrder", "语法错误"),
    ("SELECT DocNo FROM PM_PurchaseOrder WHERE DocNo = 'unterminated", "语法错误"),
])
def test_sql_the_simulator_cannot_run_is_res_code_500_with_sql_servers_words(sim, token, text, fragment):
    answer = sql(sim, token, text)
    assert answer["ResCode"] == 500 and answer["Success"] is False and fragment in answer["ResMsg"]
    assert len(sim.state.rows("PM_PurchaseOrder")) == 3


def test_dto_queries_take_arrays_of_keys_and_unknown_keys_give_empty_data(sim, token):
    items = rest(sim, "ItemMaster/Query", [{"ItemMaster": {"Code": "1.02.0033"}}], token).json()
    assert items["ResCode"] == 0 and items["Data"][0]["m_code"] == "1.02.0033"
    assert items["Data"][0]["m_inventoryUOM"]["m_code"] == "PCS"
    mo = rest(sim, "MODoc/Query", [{"DocNo": "MO-20261125-001"}], token).json()["Data"][0]
    assert (mo["m_docState"], mo["m_startDate"]) == (1, "2026-11-25 08:00:00")
    bom = rest(sim, "BOM/Query", ["3.01.0007"], token).json()["Data"][0]
    assert len(bom["m_bOMComponents"]) == 3
    assert rest(sim, "ItemMaster/Query", [{"ItemMaster": {"Code": "nope"}}], token).json() == {
        "ResCode": 0, "ResMsg": "", "Success": True, "Data": []}


@pytest.mark.parametrize("as_string", [False, True])
def test_create_answers_per_row_results_and_may_encode_data_as_a_string(sim, token, as_string):
    sim.state.data_as_string = as_string
    good = {"Supplier": {"Code": "SUP-001"}, "DescFlexField": {"PrivateDescSeg1": "EXT-1"},
            "RcvLines": [{"SrcDocNo": "CGDD000101", "SrcDocLineNo": 1, "RcvQtyTU": 10, "Wh": {"Code": "CK01"}}]}
    bad = {**good, "Supplier": {"Code": "SUP-404"}}
    answer = rest(sim, "Receivement/CreateRcvBySrcPO", [good, bad], token).json()
    assert answer["ResCode"] == 0 and isinstance(answer["Data"], str) == as_string
    rows = json.loads(answer["Data"]) if as_string else answer["Data"]
    assert [r["m_isSucess"] for r in rows] == [True, False]
    assert rows[0]["m_code"].startswith("RCV-") and "SUP-404" in rows[1]["m_errorMsg"]
    approved = rest(sim, "Receivement/Approve", [{"DocNo": rows[0]["m_code"]}], token).json()
    approved_rows = json.loads(approved["Data"]) if as_string else approved["Data"]
    assert approved_rows[0]["m_isSucess"] is True
    again = rest(sim, "Receivement/Approve", [{"DocNo": rows[0]["m_code"]}], token).json()
    again_rows = json.loads(again["Data"]) if as_string else again["Data"]
    assert again_rows[0]["m_isSucess"] is False and "已审核" in again_rows[0]["m_errorMsg"]


def test_unknown_route_and_non_json_body(sim, token):
    reply = rest(sim, "CommonEntity/Query", {}, token)
    assert reply.status_code == 404 and reply.json()["ResCode"] == 404
    broken = requests.post(f"{sim.base_url}/U9C/webapi/QueryCommon/QueryInfoBySql", data=b"{nope",
                           headers={"token": token}, timeout=5)
    assert broken.status_code == 200 and broken.json()["ResCode"] == 502


# ----------------------------------------------------------------------------- faults on the raw wire


def admin(sim, method: str, what: str, body=None) -> requests.Response:
    return requests.request(method, f"{sim.base_url}/__sim/{what}", json=body, timeout=5)


def test_faults_are_set_listed_and_cleared_over_http(sim):
    assert admin(sim, "POST", "faults", {"kind": "nonsense"}).status_code == 400
    assert admin(sim, "POST", "faults", {"kind": "http500", "count": 2, "target": "rest"}).status_code == 201
    assert [f["kind"] for f in admin(sim, "GET", "faults").json()["faults"]] == ["http500"]
    assert admin(sim, "DELETE", "faults").json() == {"faults": []}


def test_malformed_reset_429_and_repeat_on_the_wire(sim, token):
    text = {"SqlString": "SELECT TOP 2 ID, Code FROM CBO_Supplier ORDER BY ID"}
    sim.state.fail_next("malformed", target="CBO_Supplier")
    with pytest.raises(ValueError):
        rest(sim, "QueryCommon/QueryInfoBySql", text, token).json()
    sim.state.fail_next("reset", target="CBO_Supplier")
    with pytest.raises(requests.RequestException):
        rest(sim, "QueryCommon/QueryInfoBySql", text, token).content
    sim.state.fail_next("http429", target="CBO_Supplier", retry_after=7)
    limited = rest(sim, "QueryCommon/QueryInfoBySql", text, token)
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "7")
    first = rest(sim, "QueryCommon/QueryInfoBySql", text, token).json()["Data"]
    sim.state.fail_next("repeat_page", target="CBO_Supplier")
    repeated = rest(sim, "QueryCommon/QueryInfoBySql", text, token).json()["Data"]
    assert repeated == first + first


def test_soap_faults_on_the_wire(sim, tmp_path):
    sim.state.fail_next("session_expired", target=PO_QUERY)
    lost = soap_post(sim, PO_QUERY, envelope(QUERY))
    assert lost.status_code == 500 and xml(lost).find(".//f:ServiceLostException", NS) is not None
    sim.state.fail_next("busy", target=PO_QUERY)
    assert fault_of(soap_post(sim, PO_QUERY, envelope(QUERY)))[1] == "ServerBusy"
    sim.state.fail_next("malformed", target=PO_QUERY)
    with pytest.raises(etree.XMLSyntaxError):
        xml(soap_post(sim, PO_QUERY, envelope(QUERY)))
    sim.state.fail_next("xxe", target=PO_QUERY, file=str(tmp_path / "f"))
    assert b"<!ENTITY xxe SYSTEM" in soap_post(sim, PO_QUERY, envelope(QUERY)).content
    # a write whose reply is cut was still executed
    sim.state.fail_next("reset", target="IConfirmPOLineSRV")
    body = ('<confirmDTOs xmlns:e="http://www.UFIDA.org/EntityData"><e:UFIDA.U9.ISV.PO.POLineConfirmDTOData>'
            '<e:m_confirmQtyTU>5</e:m_confirmQtyTU><e:m_docLineNo>1</e:m_docLineNo><e:m_docNo>CGDD000101</e:m_docNo>'
            '</e:UFIDA.U9.ISV.PO.POLineConfirmDTOData></confirmDTOs>')
    with pytest.raises(requests.RequestException):
        soap_post(sim, "UFIDA.U9.ISV.PO.IConfirmPOLineSRV", envelope(body)).content
    po = sim.state.find_one("PM_PurchaseOrder", "DocNo", "CGDD000101")
    assert sim.state.children("PM_POLine", po["ID"])[0]["SupplierConfirmQtyTU"] == Decimal(5)


def test_latency_holds_a_reply_until_released(sim, token):
    sim.state.fail_next("latency", seconds=30, target="CBO_Supplier")
    with pytest.raises(requests.Timeout):
        requests.post(f"{sim.base_url}/U9C/webapi/QueryCommon/QueryInfoBySql", headers={"token": token},
                      json={"SqlString": "SELECT Code FROM CBO_Supplier"}, timeout=0.3)
    assert admin(sim, "POST", "release").json() == {"released": True}


def test_admin_tables_clock_and_stats(sim):
    rows = admin(sim, "GET", "tables/PM_PurchaseOrder").json()["rows"]
    assert [r["DocNo"] for r in rows] == ["CGDD000101", "CGDD000102", "CGDD000103"]
    assert admin(sim, "GET", "tables/secret_stuff").status_code == 404
    assert admin(sim, "POST", "clock", {"now": "2027-01-02T03:04:05"}).json() == {"now": "2027-01-02T03:04:05"}
    assert admin(sim, "GET", "stats").json()["login_count"] == 0


# ----------------------------------------------------------------------------- seeds and CLI


def test_the_demo_seed_holds_the_kingdee_demo_plant():
    from simulators.kingdee.server import DEMO_BOM, DEMO_MATERIALS, DEMO_PURCHASE_ORDERS, DEMO_SUPPLIERS

    state = U9State(clients="", contexts="")
    seed_demo(state)
    assert sorted((r["Code"], r["Name"], r["ShortName"]) for r in state.rows("CBO_Supplier")) == sorted(DEMO_SUPPLIERS)
    assert sorted((r["Code"], r["Name"], r["SPECS"]) for r in state.rows("CBO_ItemMaster")) == sorted(
        m[:3] for m in DEMO_MATERIALS)
    orders = []
    for po in state.rows("PM_PurchaseOrder"):
        ships = {s["POLine"]: s["DeliveryDate"] for s in state.children("PM_POShipLine", po["ID"])}
        orders.append((po["DocNo"], po["Supplier_Code"], po["ModifiedOn"].isoformat(),
                       [(l["ItemInfo_ItemCode"], l["PurQtyTU"], l["FinallyPriceTC"], ships[l["ID"]].isoformat())
                        for l in state.children("PM_POLine", po["ID"])]))
    assert orders == [(number, supplier, modified, [(m, Decimal(q), Decimal(str(p)), d) for m, q, p, d in lines])
                      for number, supplier, modified, lines in DEMO_PURCHASE_ORDERS]
    # the motor's BOM: the same parts and quantities per motor as the Kingdee demo's ENG_BOM
    (bom,) = state.rows("CBO_BOMMaster")
    parent, _, children = DEMO_BOM
    assert bom["ItemMaster_Code"] == parent
    assert sorted((c["ItemMaster_Code"], c["UsageQty"], c["Scrap"]) for c in state.children("CBO_BOMComponent", bom["ID"])) \
        == sorted((child, Decimal(n) / Decimal(d), Decimal(scrap)) for child, n, d, scrap in children)
    for table in ("MO_MO", "InvTrans_WhQoh"):  # none in the Kingdee demo either
        assert state.rows(table) == []


def test_the_random_seed_is_reproducible_and_sized():
    one, two = U9State(clients="", contexts=""), U9State(clients="", contexts="")
    added = seed(one, suppliers=3, materials=6, purchase_orders=4, lines_per_po=2, boms=2, production_orders=3,
                 stock=5, random_seed=5)
    seed(two, suppliers=3, materials=6, purchase_orders=4, lines_per_po=2, boms=2, production_orders=3, stock=5,
         random_seed=5)
    assert added == {"CBO_Supplier": 3, "CBO_ItemMaster": 6, "PM_PurchaseOrder": 4, "CBO_BOMMaster": 2, "MO_MO": 3,
                     "InvTrans_WhQoh": 5}
    for table in ("PM_POLine", "CBO_BOMComponent", "MO_MO", "InvTrans_WhQoh"):
        strip = lambda rows: [{k: v for k, v in r.items() if k not in ("ID", "PurchaseOrder", "BOMMaster")}
                              for r in rows]
        assert strip(one.rows(table)) == strip(two.rows(table))
    assert all(l["DocLineNo"] % 10 == 0 for l in one.rows("PM_POLine"))
    with pytest.raises(ValueError):
        seed(one, suppliers=-1)


def test_the_cli_serves_the_demo_with_clients_from_the_environment(tmp_path):
    env = {**os.environ, "U9_SIM_CLIENTS": f"env-client:{ENT}:{ORG}:{USER}:env-secret-7",
           "U9_SIM_CONTEXTS": f"{ENT}:{ORG_ID}:{USER_ID}"}
    proc = subprocess.Popen([sys.executable, "-m", "simulators.u9", "--port", "0", "--seed", "demo"],
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stderr.readline()  # the startup log line names the bound URL
        assert "U9 simulator on http://127.0.0.1:" in line and "env-secret-7" not in line, line
        base = line.split("simulator on ", 1)[1].split(": SOAP", 1)[0]
        url = f"{base}/U9C/webapi/OAuth2/AuthLogin"
        common = {"entCode": ENT, "userCode": USER, "orgCode": ORG}
        ok = requests.get(url, params={"clientid": "env-client", "clientsecret": "env-secret-7", **common},
                          timeout=5).json()
        demo = requests.get(url, params={"clientid": "demo-client", "clientsecret": "demo-only-client-secret",
                                         **common}, timeout=5).json()
        assert (ok["ResCode"], demo["ResCode"]) == (0, 503)
        token = ok["Data"]
        rows = requests.post(f"{base}/U9C/webapi/QueryCommon/QueryInfoBySql", headers={"token": token}, timeout=5,
                             json={"SqlString": "SELECT DocNo FROM PM_PurchaseOrder"}).json()["Data"]
        assert [r["DocNo"] for r in rows] == ["CGDD000101", "CGDD000102", "CGDD000103"]
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        proc.stderr.close()


def test_modified_on_moves_when_a_document_is_approved():
    state = U9State(clients="", contexts="")
    seed_demo(state)
    state.set_now("2026-12-01T10:00:00")
    created = state.create_receivement({"Supplier": {"Code": "SUP-002"}, "RcvLines": [
        {"SrcDocNo": "CGDD000102", "SrcDocLineNo": 1, "RcvQtyTU": "1000", "Wh": {"Code": "CK01"}}]})
    state.set_now("2026-12-01T11:00:00")
    state.approve("Receivement", [created["DocNo"]])
    po = state.find_one("PM_PurchaseOrder", "DocNo", "CGDD000102")
    assert state.find_one("PM_Receivement", "DocNo", created["DocNo"])["ModifiedOn"] == dt.datetime(2026, 12, 1, 11)
    assert po["ModifiedOn"] == dt.datetime(2026, 12, 1, 11)  # received quantity changed the order
