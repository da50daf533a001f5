"""Stored events -> canonical documents (hub/flows/events.py), fed through the real ingress API.

Every event here arrives as its sender would send it (a signed Jiandaoyun push, a WMS or Opcenter
event with its token, a supplier's ASN), is stored by the API, then processed."""
from __future__ import annotations

import datetime as dt
import json
import threading
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from canonical_model.documents import ShipmentNotice, ShipmentNoticeLine, Source
from canonical_model.store import documents, events, quarantine
from canonical_model.store.tables import EventRow, OutboxRow
from hub.api import create_app
from hub.errors import FatalError
from hub.flows.events import process_event, process_pending, requeue
from simulators.jiandaoyun import DEMO_FORMS
from tests.hub.api.support import (
    OPCENTER_TOKEN, SUPPLIER_TOKENS, WMS_TOKEN, event_rows, push_body, sample, seed_purchase_order,
    set_connections, signed,
)

ASN_KEY = "SUP-001/ASN-SUP001-0042"
RECEIPT = {"type": "receipt", "receipt": {
    "asn_no": ASN_KEY, "asn_code": "ASN00000012", "received_at": "2026-11-29T09:12:44+08:00", "complete": True,
    "lines": [{"sku": "1.02.0033", "lot": "B2611-07", "qty_received": 498, "bin": "A-01-03"},
              {"sku": "1.03.0100", "lot": "B2611-08", "qty_received": "600", "bin": "A-01-04"}]}}


@pytest.fixture
def client(store, monkeypatch):
    set_connections(monkeypatch)
    with TestClient(create_app(store, trigger=None, connection_ttl_seconds=0)) as test_client:
        yield test_client


def push(client, record, op="data_update"):
    body = push_body(record, op)
    params, headers = signed(body)
    response = client.post("/webhooks/jiandaoyun", params=params, content=body, headers=headers)
    assert response.status_code == 202, response.text
    return response.json()["event_id"]


def post(client, path, token, body):
    response = client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 202, response.text
    return response.json()["event_id"]


def event(store, event_id) -> EventRow:
    with store.session() as session:
        return session.get(EventRow, event_id)


def current(store, doc_type, key):
    with store.session() as session:
        return documents.get(session, doc_type, key)


def open_quarantine(store):
    with store.session() as session:
        return quarantine.list_rows(session)


def store_asn(store, quantity=500):
    asn = ShipmentNotice(asn_number="ASN-SUP001-0042", supplier_id="SUP-001", lines=[
        ShipmentNoticeLine(line_no=1, po_number="CGDD000101", po_line_no=1, material_id="1.02.0033",
                           quantity=Decimal(quantity), uom="H87", batch_number="B2611-07"),
        ShipmentNoticeLine(line_no=2, po_number="CGDD000101", po_line_no=3, material_id="1.03.0100",
                           quantity=Decimal(600), uom="H87", batch_number="B2611-08")],
                         source=Source(system="test"))
    with store.session() as session:
        documents.upsert(session, asn, actor="test")


# ------------------------------------------------------------------------------------ Jiandaoyun


def test_a_signed_asn_push_becomes_a_shipment_notice_checked_against_the_po(client, store):
    seed_purchase_order(store)
    event_id = push(client, sample("asn_two_lines"))
    assert process_pending(store) == {"events": 1, "processed": 1, "quarantined": 0, "failed": 0, "waiting": 0}
    asn = current(store, "ShipmentNotice", ASN_KEY)
    assert asn is not None and [l.quantity for l in asn.lines] == [Decimal(500), Decimal(600)]
    assert asn.source.system == "jiandaoyun" and asn.source.message_ref == event(store, event_id).delivery_id
    row = event(store, event_id)
    assert row.status == "processed" and f"ShipmentNotice {ASN_KEY} created" in row.detail
    assert row.processed_at is not None
    # processed events are never taken again
    assert process_pending(store)["events"] == 0
    assert process_event(store, event_id) == "not_pending"


def test_a_supplier_acceptance_push_becomes_an_order_response(client, store):
    push(client, sample("purchase_task_accepted"), op="data_create")
    process_pending(store)
    response = current(store, "OrderResponse", "SUP-002/CGDD000102")
    assert response is not None and response.status == "accepted" and len(response.lines) == 3


def test_an_over_shipped_line_is_quarantined_with_the_events_raw_evidence_and_the_rest_stored(client, store):
    seed_purchase_order(store)
    record = sample("asn_two_lines")
    record["lines"][0]["quantity"] = 900  # PO line 1 is open for 500
    event_id = push(client, record)
    process_pending(store)
    row = event(store, event_id)
    assert row.status == "processed" and "1 failure(s) quarantined" in row.detail
    [entry] = open_quarantine(store)
    assert entry.reason_code == "ASN_QTY_EXCEEDS_OPEN_PO" and entry.raw_sha256 == row.raw_sha256
    assert entry.evidence["event_id"] == event_id and entry.business_key == ASN_KEY
    assert [l.po_line_no for l in current(store, "ShipmentNotice", ASN_KEY).lines] == [3]


def test_an_asn_for_an_unknown_po_is_quarantined_whole(client, store):
    event_id = push(client, sample("asn_two_lines"))  # no purchase order in the hub
    process_pending(store)
    assert event(store, event_id).status == "quarantined"
    assert {q.reason_code for q in open_quarantine(store)} == {"PO_NOT_FOUND"}
    assert current(store, "ShipmentNotice", ASN_KEY) is None


def test_removing_the_asn_record_withdraws_the_stored_asn(client, store):
    seed_purchase_order(store)
    record = sample("asn_two_lines")
    push(client, record)
    process_pending(store)
    removal = {"_id": record["_id"], "entryId": DEMO_FORMS["asn"], "appId": record["appId"], "formName": "发货通知",
               "deleter": {"username": "sup001"}, "deleteTime": "2026-11-28T01:00:00.000Z"}
    removed_id = push(client, removal, op="data_remove")
    process_pending(store)
    assert current(store, "ShipmentNotice", ASN_KEY).status == "cancelled"
    assert "cancelled" in event(store, removed_id).detail


def test_a_push_without_a_business_document_is_processed_as_such(client, store):
    event_id = push(client, {"formName": "测试"}, op="data_test")
    process_pending(store)
    row = event(store, event_id)
    assert row.status == "processed" and row.detail.startswith("no business document")


# ------------------------------------------------------------------------------------------- WMS


def test_a_wms_receipt_event_stores_receipt_batches_alerts_and_queues_the_erp_posting(client, store):
    seed_purchase_order(store)
    store_asn(store)
    event_id = post(client, "/events/wms", WMS_TOKEN, RECEIPT)
    process_pending(store)
    assert event(store, event_id).status == "processed"
    receipt = current(store, "Receipt", "RCV-ASN00000012")
    assert [(l.material_id, l.quantity, l.batch_id, l.location) for l in receipt.lines] == [
        ("1.02.0033", Decimal(498), "SUP-001:B2611-07", "A-01-03"),
        ("1.03.0100", Decimal(600), "SUP-001:B2611-08", "A-01-04")]
    batch = current(store, "Batch", "SUP-001:B2611-07")
    assert (batch.status, batch.quantity, batch.supplier_id) == ("quarantined", Decimal(498), "SUP-001")
    with store.session() as session:
        alert_types = {a.alert_type for a in documents.current(session, "Alert")}
        outbox = list(session.scalars(select(OutboxRow)))
    assert "RECEIPT_QTY_MISMATCH" in alert_types and "BATCH_QTY_SHORT" in alert_types
    assert [(o.target, o.operation, o.idempotency_key) for o in outbox] == [
        ("kingdee", "receipt", "kingdee:receipt:RCV-ASN00000012")]


def test_a_receipt_without_a_known_asn_is_quarantined_with_an_alert_for_the_supplier(client, store):
    body = {"type": "receipt", "receipt": {**RECEIPT["receipt"], "asn_no": None, "supplier": "SUP-001"}}
    event_id = post(client, "/events/wms", WMS_TOKEN, body)
    process_pending(store)
    assert event(store, event_id).status == "quarantined"
    assert [q.reason_code for q in open_quarantine(store)] == ["NO_ASN"]
    with store.session() as session:
        [alert] = list(documents.current(session, "Alert"))
    assert alert.alert_type == "NO_ASN" and alert.responsible_party == "SUP-001"
    assert current(store, "Receipt", "RCV-ASN00000012") is None


def test_qc_decisions_change_the_batch_status_and_a_repeated_receipt_keeps_it(client, store):
    seed_purchase_order(store)
    store_asn(store)
    post(client, "/events/wms", WMS_TOKEN, RECEIPT)
    post(client, "/events/wms", WMS_TOKEN, {"type": "qc", "qc": {"supplier_id": "SUP-001",
                                                                 "batch_number": "B2611-07", "status": "released"}})
    post(client, "/events/wms", WMS_TOKEN, {"type": "qc", "qc": {"batch_id": "SUP-001:B2611-08", "status": "hold"}})
    assert process_pending(store)["processed"] == 3
    assert current(store, "Batch", "SUP-001:B2611-07").status == "released"
    assert current(store, "Batch", "SUP-001:B2611-08").status == "quarantined"
    # the WMS sends its receipt again (another event id): the released batch stays released
    client.post("/events/wms", json=RECEIPT, headers={"Authorization": f"Bearer {WMS_TOKEN}",
                                                      "Idempotency-Key": "resend-1"})
    process_pending(store)
    assert current(store, "Batch", "SUP-001:B2611-07").status == "released"


def test_a_rejected_batch_gets_a_failed_inspection_and_one_alert_for_quality(client, store):
    seed_purchase_order(store)
    store_asn(store)
    post(client, "/events/wms", WMS_TOKEN, RECEIPT)
    reject = {"type": "qc", "qc": {"batch_id": "SUP-001:B2611-08", "status": "rejected", "reason": "lip cracked"}}
    post(client, "/events/wms", WMS_TOKEN, reject)
    assert process_pending(store)["processed"] == 2
    assert current(store, "Batch", "SUP-001:B2611-08").status == "rejected"
    with store.session() as session:
        (inspection,) = list(documents.current(session, "Inspection"))
        (alert,) = [a for a in documents.current(session, "Alert") if a.alert_type == "INSPECTION_FAILED"]
    assert (inspection.batch_id, inspection.result, inspection.rejected_quantity, inspection.defects) == (
        "SUP-001:B2611-08", "fail", Decimal(600), ["lip cracked"])
    # nothing consumed it yet: a warning for quality, no order named
    assert (alert.responsible_party, alert.severity) == ("quality", "warning")
    assert "no production order has consumed it yet" in alert.message


def test_a_consumed_batch_that_fails_qc_stays_consumed_and_the_alert_names_its_orders(client, store):
    from canonical_model.documents import BatchLink

    seed_purchase_order(store)
    store_asn(store)
    post(client, "/events/wms", WMS_TOKEN, RECEIPT)
    process_pending(store)
    with store.session() as session:  # the MES reported MO-7 consumed it (hub.flows.mes_sync)
        batch = documents.get(session, "Batch", "SUP-001:B2611-07")
        documents.upsert(session, batch.model_copy(update={"status": "consumed", "links": [
            BatchLink(relation="consumed_by", ref="MO-7")]}))
    post(client, "/events/wms", WMS_TOKEN, {"type": "qc", "qc": {"batch_id": "SUP-001:B2611-07", "status": "rejected"}})
    # a release of a consumed batch makes no sense: a human decides (quarantined)
    held = post(client, "/events/wms", WMS_TOKEN, {"type": "qc", "qc": {"batch_id": "SUP-001:B2611-07",
                                                                        "status": "released"}})
    process_pending(store)
    assert current(store, "Batch", "SUP-001:B2611-07").status == "consumed"
    assert event(store, held).status == "quarantined"
    with store.session() as session:
        (alert,) = [a for a in documents.current(session, "Alert") if a.alert_type == "INSPECTION_FAILED"]
    assert alert.severity == "critical" and "production orders MO-7" in alert.message
    assert ("ProductionOrder", "MO-7") in {(r.type, r.key) for r in alert.subjects}


def test_a_qc_decision_for_an_unknown_batch_is_quarantined_and_goes_through_when_requeued(client, store):
    event_id = post(client, "/events/wms", WMS_TOKEN, {"type": "qc", "qc": {"batch_id": "SUP-001:B2611-07",
                                                                             "status": "released"}})
    process_pending(store)
    assert event(store, event_id).status == "quarantined"
    [entry] = open_quarantine(store)
    assert entry.reason_code == "UNKNOWN_BATCH" and "SUP-001:B2611-07" in entry.message
    assert not requeue(store, 999)
    # the receipt arrives after the QC decision: requeue the decision, and it applies
    seed_purchase_order(store)
    store_asn(store)
    post(client, "/events/wms", WMS_TOKEN, RECEIPT)
    process_pending(store)
    assert requeue(store, event_id)
    assert open_quarantine(store) == []
    process_pending(store)
    assert event(store, event_id).status == "processed"
    assert current(store, "Batch", "SUP-001:B2611-07").status == "released"
    assert open_quarantine(store) == []


# -------------------------------------------------------------------------------------- Opcenter


def test_opcenter_events_store_the_order_and_link_the_received_batch_to_it(client, store):
    seed_purchase_order(store)
    store_asn(store)
    post(client, "/events/wms", WMS_TOKEN, RECEIPT)
    post(client, "/events/opcenter", OPCENTER_TOKEN, {"type": "production_order", "order": {
        "NId": "MO-2026-0002", "MaterialNId": "3.01.0007", "Quantity": {"QuantityValue": 500, "UoMNId": "PCS"},
        "Status": {"StateMachineNId": "Order", "StatusNId": "Released"}, "EquipmentNId": "LINE01",
        "PlannedStartTime": "2026-12-04T00:00:00Z", "PlannedEndTime": "2026-12-06T00:00:00Z"}})
    post(client, "/events/opcenter", OPCENTER_TOKEN, {
        "type": "consumption", "lot_nid": "SUP-001:B2611-07",
        "lot": {"NId": "SUP-001:B2611-07", "MaterialNId": "1.02.0033",
                "Quantity": {"QuantityValue": 198, "UoMNId": "PCS"}, "Status": {"StatusNId": "Released"}},
        "consumptions": [{"NId": "CONS-1", "OrderNId": "MO-2026-0002", "MaterialLotNId": "SUP-001:B2611-07",
                          "MaterialNId": "1.02.0033", "Quantity": {"QuantityValue": 300, "UoMNId": "PCS"},
                          "ConsumedOn": "2026-12-04T01:00:00Z"}]})
    counts = process_pending(store)
    assert counts["processed"] == 3, counts
    order = current(store, "ProductionOrder", "MO-2026-0002")
    assert (order.status, order.quantity, order.uom, order.start) == (
        "released", Decimal(500), "H87", dt.datetime(2026, 12, 4, 8, 0))  # UTC -> plant time (Asia/Shanghai)
    batch = current(store, "Batch", "SUP-001:B2611-07")
    assert [(l.relation, l.ref) for l in batch.links] == [("consumed_by", "MO-2026-0002")]
    # what the MES does not say is kept from the receipt
    assert batch.supplier_id == "SUP-001" and batch.supplier_batch_number == "B2611-07"
    assert batch.quantity == Decimal(498)


def test_an_opcenter_event_the_mapping_refuses_is_quarantined(client, store):
    event_id = post(client, "/events/opcenter", OPCENTER_TOKEN, {"type": "production_order", "order": {
        "NId": "MO-BAD", "Quantity": {"QuantityValue": 5, "UoMNId": "PCS"}, "Status": {"StatusNId": "Released"}}})
    process_pending(store)
    assert event(store, event_id).status == "quarantined"
    assert [q.evidence["event_id"] for q in open_quarantine(store)] == [event_id]
    assert current(store, "ProductionOrder", "MO-BAD") is None


# ------------------------------------------------------------------------------------- suppliers


def supplier_asn(quantity: str) -> dict:
    return {"asn_number": "ASN-API-0001", "ship_date": "2026-11-27", "expected_arrival": "2026-11-29", "lines": [
        {"line_no": 1, "po_number": "CGDD000101", "po_line_no": 1, "material_id": "1.02.0033",
         "quantity": quantity, "uom": "H87", "batch_number": "B2611-07"}]}


def test_a_supplier_posted_asn_is_validated_against_the_open_po_lines(client, store):
    seed_purchase_order(store)
    good = post(client, "/suppliers/SUP-001/asns", SUPPLIER_TOKENS["SUP-001"], supplier_asn("500"))
    process_pending(store)
    stored = current(store, "ShipmentNotice", "SUP-001/ASN-API-0001")
    assert stored is not None and stored.source.system == "supplier_api" and stored.source.partner == "SUP-001"
    assert event(store, good).status == "processed"
    # a second ASN for the same PO line: nothing is open any more
    other = {**supplier_asn("0.1"), "asn_number": "ASN-API-0002"}
    late = post(client, "/suppliers/SUP-001/asns", SUPPLIER_TOKENS["SUP-001"], other)
    process_pending(store)
    assert event(store, late).status == "quarantined"
    assert [q.reason_code for q in open_quarantine(store)] == ["ASN_QTY_EXCEEDS_OPEN_PO"]


# ------------------------------------------------------------------------------- once, and safely


def test_an_event_processed_concurrently_is_processed_once(client, store):
    seed_purchase_order(store)
    event_id = post(client, "/suppliers/SUP-001/asns", SUPPLIER_TOKENS["SUP-001"], supplier_asn("500"))
    barrier = threading.Barrier(3)
    outcomes = []

    def work():
        barrier.wait()
        outcomes.append(process_event(store, event_id))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["not_pending", "not_pending", "processed"]
    with store.session() as session:
        from canonical_model.store.tables import AuditRow

        created = list(session.scalars(select(AuditRow).where(AuditRow.action == "created",
                                                              AuditRow.subject_type == "ShipmentNotice")))
    assert len(created) == 1


def test_a_missing_connection_leaves_the_event_waiting_and_fails_the_run(client, store, monkeypatch, tmp_path):
    event_id = push(client, sample("purchase_task_accepted"))
    saved = json.loads(__import__("os").environ["AIRFLOW_CONN_JIANDAOYUN_DEFAULT"])
    monkeypatch.delenv("AIRFLOW_CONN_JIANDAOYUN_DEFAULT")
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    with pytest.raises(FatalError) as raised:
        process_pending(store)
    assert raised.value.code == "CONNECTION_MISSING" and "jiandaoyun_default" in raised.value.message
    assert event(store, event_id).status == "received"
    monkeypatch.setenv("AIRFLOW_CONN_JIANDAOYUN_DEFAULT", json.dumps(saved))
    assert process_pending(store)["processed"] == 1


def test_a_handler_crash_marks_the_event_failed_quarantines_it_and_the_others_go_on(client, store):
    seed_purchase_order(store)
    # stored behind the API's back (the API would refuse it): a body the handler does not expect
    broken = events.record(store, source="supplier", kind="asn", partner="SUP-001", delivery_id="SUP-001:x",
                           raw=b"[1, 2]")
    good = post(client, "/suppliers/SUP-001/asns", SUPPLIER_TOKENS["SUP-001"], supplier_asn("500"))
    with pytest.raises(FatalError) as raised:
        process_pending(store)
    assert raised.value.code == "EVENTS_FAILED" and str(broken.event_id) in raised.value.message
    assert event(store, broken.event_id).status == "failed"
    assert event(store, good).status == "processed"
    [entry] = open_quarantine(store)
    assert entry.reason_code == "EVENT_HANDLER_FAILED" and entry.raw_sha256 == broken.raw_sha256
    assert process_pending(store)["events"] == 0  # a failed event is not retried blindly


def test_an_event_of_a_source_without_handler_is_marked_skipped(store):
    recorded = events.record(store, source="erp", kind="something", delivery_id="e:1", raw=b"{}")
    assert process_event(store, recorded.event_id) == "processed"
    assert event(store, recorded.event_id).detail == "skipped: no handler for erp/something"


def test_events_are_processed_oldest_first_and_the_limit_leaves_the_rest(client, store):
    ids = [post(client, "/events/wms", WMS_TOKEN, {"type": "qc", "qc": {"batch_id": f"SUP-001:B{n}",
                                                                          "status": "hold"}}) for n in range(3)]
    assert process_pending(store, limit=2)["events"] == 2
    assert [r.status for r in event_rows(store)] == ["quarantined", "quarantined", "received"]
    assert event_rows(store)[2].id == ids[2]


def test_quarantine_replay_of_an_event_reprocesses_it_once_its_cause_is_fixed(client, store):
    """``hub quarantine replay ID`` on a pushed event: no inbox row, the event id is in the evidence."""
    from hub.replay import replay

    event_id = post(client, "/events/wms", WMS_TOKEN, {"type": "qc", "qc": {"batch_id": "SUP-001:B2611-07",
                                                                             "status": "released"}})
    process_pending(store)
    [entry] = open_quarantine(store)
    assert entry.inbox_id is None and entry.evidence["event_id"] == event_id
    # replayed too early: the batch is still unknown, the same row reopens
    assert "still failing: row reopened" in replay(store, entry.id)
    assert [q.id for q in open_quarantine(store)] == [entry.id]
    seed_purchase_order(store)
    store_asn(store)
    post(client, "/events/wms", WMS_TOKEN, RECEIPT)
    process_pending(store)
    message = replay(store, entry.id)
    assert f"event {event_id} processed" in message and "reopened" not in message
    assert current(store, "Batch", "SUP-001:B2611-07").status == "released"
    assert open_quarantine(store) == []
    with pytest.raises(LookupError):
        replay(store, entry.id)  # processed now: nothing to replay
