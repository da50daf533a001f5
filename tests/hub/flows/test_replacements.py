"""DESADV replacements and cancellations through the real flows: one ASN, new versions with the
diff audited, and a cancelled ASN withdrawn from the WMS (simulator over HTTP on 127.0.0.1)."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from adapters.edi.messages import shipment_notice_to_desadv
from adapters.wms.config import WmsConfig
from adapters.wms.hook import WmsHook
from canonical_model.documents import PurchaseOrder, ShipmentNotice
from canonical_model.store import audit, documents, ledger
from canonical_model.store.tables import DocumentRow, OutboxRow
from hub.flows.supplier_collect import CHANNEL
from hub.flows.supplier_inbound import process_inbox
from hub.flows.warehouse import collect_receipts, deliver_expected_receipts, plan_expected_receipts
from simulators.base import running
from simulators.wms import server as wms_sim

PARTNER = "SUP-001"
PO_NO = "CGDD000101"
ASN_NO = "ASN-R1"
ASN_KEY = f"{PARTNER}/{ASN_NO}"


@pytest.fixture()
def wms():
    with running(wms_sim.make_server(wms_sim.seed_demo(wms_sim.WmsState()), "127.0.0.1", 0)) as server:
        yield server


@pytest.fixture()
def wms_hook(wms):
    with WmsHook(WmsConfig(base_url=wms.base_url, token=wms_sim.DEMO_TOKEN, timeout=5)) as hook:
        yield hook


def seed_po(store) -> None:
    po = PurchaseOrder(po_number=PO_NO, supplier_id=PARTNER, order_date=dt.date(2026, 11, 20), lines=[
        {"line_no": 1, "material_id": "1.02.0033", "quantity": "500", "uom": "H87"},
        {"line_no": 2, "material_id": "1.02.0041", "quantity": "300", "uom": "H87"}])
    with store.session() as s:
        documents.upsert(s, po, actor="test")


def desadv(function: str, qty_41: str, control_ref: str) -> bytes:
    asn = ShipmentNotice(asn_number=ASN_NO, supplier_id=PARTNER, ship_date=dt.date(2026, 11, 26), lines=[
        {"line_no": 1, "po_number": PO_NO, "po_line_no": 1, "material_id": "1.02.0033", "quantity": "500",
         "uom": "H87", "batch_number": "B33"},
        {"line_no": 2, "po_number": PO_NO, "po_line_no": 2, "material_id": "1.02.0041", "quantity": qty_41,
         "uom": "H87", "batch_number": "B41"}])
    return shipment_notice_to_desadv(asn, sender=PARTNER, recipient="MESHUB", control_ref=control_ref,
                                     prepared=dt.datetime(2026, 11, 26, 8, 0), message_function=function)


def deliver_file(store, name: str, data: bytes) -> dict[str, int]:
    """The file as supplier_collect leaves it: archived and in the inbox ledger; then processed."""
    with store.session() as s:
        _, new = ledger.receive(store, s, channel=CHANNEL, partner=PARTNER, name=name, data=data)
        assert new
    return process_inbox(store, PARTNER)


def versions(store) -> list[tuple[int, bool, str]]:
    with store.session() as s:
        rows = s.scalars(select(DocumentRow).where(DocumentRow.doc_type == "ShipmentNotice")
                         .order_by(DocumentRow.version))
        return [(r.version, r.is_current, r.body["status"]) for r in rows]


def wms_rows(store) -> list[tuple[str, str]]:
    with store.session() as s:
        return [(r.idempotency_key, r.status) for r in
                s.scalars(select(OutboxRow).where(OutboxRow.target == "wms").order_by(OutboxRow.id))]


def deletes(wms) -> int:
    return sum(1 for method, _ in wms.state.requests if method == "DELETE")


def test_replacement_then_cancellation_versions_one_asn_and_withdraws_it_from_the_wms(store, wms, wms_hook):
    seed_po(store)

    # v1: the original, stored and announced to the WMS
    assert deliver_file(store, "DESADV_R1_v1.edi", desadv("9", "300", "R001"))["documents"] == 1
    assert plan_expected_receipts(store) == {"planned": 1, "quarantined": 0, "held": 0}
    assert deliver_expected_receipts(store, wms_hook).sent == 1
    (inbound,) = wms.state.asns
    assert inbound["asn_ref"] == ASN_KEY

    # v2: a replacement with a changed quantity is a new version of the same ASN, diff audited
    assert deliver_file(store, "DESADV_R1_v2.edi", desadv("5", "280", "R002"))["documents"] == 1
    assert versions(store) == [(1, False, "active"), (2, True, "active")]
    with store.session() as s:
        (change,) = [a for a in audit.history(s, "ShipmentNotice", ASN_KEY) if a.action == "new_version"]
        assert change.details["version"] == 2
        assert change.details["diff"] == [{"path": "lines[1].quantity", "old": "300", "new": "280"}]
        assert documents.count_current(s, "ShipmentNotice") == 1

    # v3: the cancellation; status is the only business change
    assert deliver_file(store, "DESADV_R1_v3.edi", desadv("1", "280", "R003"))["documents"] == 1
    assert versions(store) == [(1, False, "active"), (2, False, "active"), (3, True, "cancelled")]
    with store.session() as s:
        last = audit.history(s, "ShipmentNotice", ASN_KEY)[-1]
        assert (last.action, last.details["version"]) == ("new_version", 3)
        assert last.details["diff"] == [{"path": "status", "old": "active", "new": "cancelled"}]

    # the WMS inbound is withdrawn through the outbox, over HTTP
    assert plan_expected_receipts(store) == {"planned": 1, "quarantined": 0, "held": 0}
    assert wms_rows(store) == [(f"wms:create_inbound:{ASN_KEY}", "sent"), (f"wms:cancel_inbound:{ASN_KEY}", "pending")]
    report = deliver_expected_receipts(store, wms_hook)
    assert (report.sent, report.failed, report.retrying) == (1, 0, 0)
    assert wms.state.asns == [] and wms.state.details == []
    assert wms_hook.find_inbound(ASN_KEY) is None
    with store.session() as s:
        row = s.scalars(select(OutboxRow).where(OutboxRow.operation == "cancel_inbound")).one()
        assert row.result == {"asn_code": inbound["asn_code"], "wms_id": inbound["id"], "withdrawn": True}

    # rerun of every step: nothing new anywhere
    assert process_inbox(store, PARTNER)["files"] == 0
    assert plan_expected_receipts(store) == {"planned": 0, "quarantined": 0, "held": 0}
    assert deliver_expected_receipts(store, wms_hook).sent == 0
    assert collect_receipts(store, wms_hook, "kingdee")["receipts"] == 0
    assert deletes(wms) == 1 and len(versions(store)) == 3
    # the supplier resending the cancellation (new interchange, same content) changes nothing either
    assert deliver_file(store, "DESADV_R1_v3_again.edi", desadv("1", "280", "R004"))["documents"] == 1
    assert len(versions(store)) == 3
    assert plan_expected_receipts(store) == {"planned": 0, "quarantined": 0, "held": 0}


def test_cancelled_before_it_was_pushed_never_reaches_the_wms(store, wms, wms_hook):
    seed_po(store)
    deliver_file(store, "DESADV_R1_v1.edi", desadv("9", "300", "R011"))
    assert plan_expected_receipts(store) == {"planned": 1, "quarantined": 0, "held": 0}
    # the cancellation arrives before the outbox was delivered
    deliver_file(store, "DESADV_R1_v2.edi", desadv("1", "300", "R012"))
    assert plan_expected_receipts(store) == {"planned": 0, "quarantined": 0, "held": 0}
    (create,) = wms_rows(store)
    assert create == (f"wms:create_inbound:{ASN_KEY}", "failed")
    with store.session() as s:
        row = s.scalars(select(OutboxRow).where(OutboxRow.target == "wms")).one()
        assert "ASN_CANCELLED" in row.last_error and ASN_KEY in row.last_error
    assert deliver_expected_receipts(store, wms_hook).sent == 0
    assert wms.state.requests == [] and wms.state.asns == []


def test_cancelled_asn_raises_no_short_shipment(store):
    seed_po(store)
    # ships 280 of 300: short; then cancelled in the same breath - no alert for a withdrawn ASN
    deliver_file(store, "DESADV_short_cancel.edi", desadv("1", "280", "R021"))
    with store.session() as s:
        assert [a for a in documents.current(s, "Alert") if a.alert_type == "SHORT_SHIPMENT"] == []
        assert s.scalar(select(func.count()).select_from(DocumentRow)
                        .where(DocumentRow.doc_type == "ShipmentNotice")) == 1
