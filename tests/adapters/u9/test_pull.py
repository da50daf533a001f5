"""U9SoapErp and U9CloudErp pulls against the U9 simulator over real HTTP (SOAP via zeep, REST)."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from adapters.u9 import U9CloudErp, U9SoapErp
from canonical_model.documents import Source
from hub.erp import ENTITIES, ErpClient, open_erp
from hub.errors import FatalError
from mappings.engine import load_mapping

from tests.adapters.u9.conftest import (CLIENT_ID, CLIENT_SECRET, ENT, ORG_CODE, ORG_ID, USER_CODE, USER_ID,
                                        cloud_erp, soap_erp, transport)


def expected_keys(sim, entity: str, since: dt.datetime | None = None) -> list[str]:
    """What the simulator holds, read from its tables (not through the adapter)."""
    table = {"suppliers": "CBO_Supplier", "materials": "CBO_ItemMaster", "boms": "CBO_BOMMaster",
             "purchase_orders": "PM_PurchaseOrder", "production_orders": "MO_MO", "stock": "InvTrans_WhQoh"}[entity]
    rows = [r for r in sim.state.rows(table) if since is None or r["ModifiedOn"] >= since]
    if entity in ("suppliers", "materials"):
        return sorted(r["Code"] for r in rows)
    if entity == "boms":
        return sorted(f"{r['ItemMaster_Code']}/{r['BOMVersionCode']}" for r in rows if r["Status"] == 2)
    if entity == "purchase_orders":
        return sorted(r["DocNo"] for r in rows if r["Status"] >= 2)
    if entity == "production_orders":
        return sorted(r["DocNo"] for r in rows)
    return sorted(f"{r['ItemInfo_ItemCode']}/{r['Wh_Code']}/{r['LotInfo_LotCode'] or ''}" for r in rows)


@pytest.mark.parametrize("entity", list(ENTITIES))
def test_pull_streams_every_record_of_every_entity_once(erp, sim, entity):
    records = list(erp.pull(entity, None))
    keys = [r.key for r in records]
    assert sorted(keys) == expected_keys(sim, entity)
    assert len(set(keys)) == len(keys)
    assert all(r.modified is not None and r.modified.tzinfo is None for r in records)
    json.dumps([r.data for r in records])  # the flow archives records as JSON


@pytest.mark.parametrize("entity", list(ENTITIES))
def test_soap_and_rest_yield_the_same_records(sim, entity):
    with soap_erp(sim) as soap, cloud_erp(sim) as cloud:
        assert list(soap.pull(entity, None)) == list(cloud.pull(entity, None))
        assert soap.mapping_path(entity) == cloud.mapping_path(entity)


def test_purchase_order_record_carries_lines_in_u9_field_names(erp, sim):
    record = next(r for r in erp.pull("purchase_orders", None) if r.key == "CGDD000102")
    data = record.data
    assert (data["Supplier_Code"], data["TC_Code"], data["BusinessDate"]) == ("SUP-002", "CNY", "2026-11-20T00:00:00")
    assert record.modified == dt.datetime(2026, 11, 20, 10, 30)
    lines = [(l["DocLineNo"], l["ItemInfo_ItemCode"], l["PurQtyTU"], l["TradeUOM_Code"], l["FinallyPriceTC"],
              l["DeliveryDate"]) for l in data["POLines"]]
    # the delivery date comes from PM_POShipLine; quantities are exact decimal text
    assert lines == [(1, "1.03.0100", "1000", "PCS", "0.35", "2026-12-03T00:00:00"),
                     (2, "1.02.0033", "200", "PCS", "3.25", "2026-12-04T00:00:00")]


def test_unapproved_documents_are_not_pulled(erp, sim):
    with sim.state.lock:
        po = sim.state.find_one("PM_PurchaseOrder", "DocNo", "CGDD000103")
        po["Status"] = 0  # back to 开立
        bom = next(iter(sim.state.tables["CBO_BOMMaster"].values()))
        bom["Status"] = 0
    assert "CGDD000103" not in [r.key for r in erp.pull("purchase_orders", None)]
    assert f"{bom['ItemMaster_Code']}/{bom['BOMVersionCode']}" not in [r.key for r in erp.pull("boms", None)]


@pytest.mark.parametrize("entity", ["purchase_orders", "suppliers", "stock"])
def test_incremental_pull_returns_records_modified_at_or_after_since(erp, sim, entity):
    all_records = list(erp.pull(entity, None))
    stamps = sorted({r.modified for r in all_records})
    cut = stamps[len(stamps) // 2]
    records = list(erp.pull(entity, cut))
    assert sorted(r.key for r in records) == expected_keys(sim, entity, since=cut)
    assert records and all(r.modified >= cut for r in records)  # the boundary itself is included
    assert len(records) < len(all_records)


def test_incremental_pull_converts_an_aware_since_to_u9_server_time(erp):
    # 2026-11-20 02:00 UTC = 10:00 China time: CGDD000102 (10:30) and CGDD000103, not CGDD000101 (09:00)
    since = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.timezone.utc)
    keys = [r.key for r in erp.pull("purchase_orders", since)]
    assert "CGDD000101" not in keys and {"CGDD000102", "CGDD000103"} <= set(keys)


def test_a_document_changed_after_the_watermark_comes_again(erp, sim):
    since = max(r.modified for r in erp.pull("purchase_orders", None)) + dt.timedelta(seconds=1)
    assert list(erp.pull("purchase_orders", since)) == []
    sim.state.set_now(since + dt.timedelta(minutes=5))
    sim.state.confirm_po_lines([{"DocNo": "CGDD000101", "DocLineNo": 1, "ConfirmQtyTU": 480}])
    changed = list(erp.pull("purchase_orders", since))
    assert [r.key for r in changed] == ["CGDD000101"]
    assert changed[0].data["POLines"][0]["SupplierConfirmQtyTU"] == "480"


@pytest.mark.parametrize("factory", [soap_erp, cloud_erp])
def test_small_pages_stream_everything_once(sim, factory):
    with factory(sim, page_size=5) as erp:
        before = len(sim.state.calls)
        keys = [r.key for r in erp.pull("purchase_orders", None)]
        page_calls = [c for c in sim.state.calls[before:] if "PO" in c or "QueryInfoBySql" in c]
    assert sorted(keys) == expected_keys(sim, "purchase_orders") and len(keys) == 15
    assert len(page_calls) >= 4  # 15 orders in pages of 5 (+ child queries on REST)


def test_pull_is_a_generator_that_reads_page_by_page(sim):
    with soap_erp(sim, page_size=5) as erp:
        stream = erp.pull("purchase_orders", None)
        before = len(sim.state.calls)
        first = [next(stream) for _ in range(5)]
        assert len(sim.state.calls) - before == 2  # the WSDL and one page, not everything
        assert len(first) == 5


@pytest.mark.parametrize("entity", list(ENTITIES))
def test_every_pulled_record_maps_to_its_canonical_document(erp, entity):
    mapping = load_mapping(erp.mapping_path(entity))
    docs = [mapping.apply(r.data, Source(system=erp.system, request=f"{entity} {r.key}"))
            for r in erp.pull(entity, None)]
    assert docs and all(d.type == ENTITIES[entity] for d in docs)
    if entity == "purchase_orders":
        po = next(d for d in docs if d.po_number == "CGDD000101")
        assert [(l.line_no, l.material_id, l.quantity, l.uom) for l in po.lines] == [
            (1, "1.02.0033", Decimal(500), "H87"), (2, "1.02.0041", Decimal(300), "H87")]
    if entity == "production_orders":
        assert {d.order_id: d.status for d in docs}["MO-20261125-001"] == "released"


def test_open_erp_builds_both_clients_from_airflow_connections(monkeypatch, sim):
    host, port = sim.server_address[:2]
    monkeypatch.setenv("AIRFLOW_CONN_U9_DEFAULT", json.dumps({
        "conn_type": "u9", "host": host, "port": port, "schema": "U9/Services", "login": USER_CODE,
        "extra": {"enterprise_id": ENT, "org_id": ORG_ID, "user_id": USER_ID, "receipt_warehouse": "CK01"}}))
    monkeypatch.setenv("AIRFLOW_CONN_U9CLOUD_DEFAULT", json.dumps({
        "conn_type": "u9cloud", "host": f"http://{host}", "port": port, "schema": "U9C", "login": USER_CODE,
        "password": CLIENT_SECRET, "extra": {"client_id": CLIENT_ID, "ent_code": ENT, "org_code": ORG_CODE}}))
    soap, cloud = open_erp("u9"), open_erp("u9cloud")
    try:
        assert isinstance(soap, U9SoapErp) and soap.system == "u9"
        assert isinstance(cloud, U9CloudErp) and cloud.system == "u9cloud"
        members = [name for name in vars(ErpClient) if not name.startswith("_")]
        assert all(callable(getattr(c, name)) for c in (soap, cloud) for name in members if name != "system")
        assert soap.hook.retrier.max_attempts == cloud.hook.retrier.max_attempts == 4
        assert [r.key for r in soap.pull("suppliers", None)] == [r.key for r in cloud.pull("suppliers", None)]
    finally:
        soap.close()
        cloud.close()


def test_unknown_entity_is_fatal_and_names_the_choices(erp):
    with pytest.raises(FatalError) as caught:
        list(erp.pull("invoices", None))
    assert caught.value.code == "ERP_ENTITY" and "purchase_orders" in caught.value.message


def test_the_wire_is_the_one_the_system_name_says(erp, sim):
    before = len(sim.state.calls)
    list(erp.pull("suppliers", None))
    used = {c.split(" ", 1)[0] for c in sim.state.calls[before:]}
    assert used == {transport(erp)}
