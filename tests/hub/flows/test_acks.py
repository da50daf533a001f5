"""Acks over real SFTP: we answer what suppliers send, match what they answer, chase what they owe."""
from __future__ import annotations

import base64
import datetime as dt
import os
from pathlib import Path

from sqlalchemy import select

from adapters.edi import acks as edi_acks
from adapters.edi.edifact import parse_interchange
from adapters.edi.messages import shipment_notice_to_desadv
from adapters.edi.x12_writer import X12Writer
from canonical_model.documents import PurchaseOrder, ShipmentNotice
from canonical_model.store import documents, interchanges, quarantine
from canonical_model.store.tables import InboxRow, InterchangeRow, OutboxRow
from hub.flows.acks import DEFAULT_ACK_DEADLINE, check_overdue_acks
from hub.flows.supplier_collect import collect_files
from hub.flows.supplier_inbound import process_inbox
from hub.flows.supplier_orders import deliver_outbox, plan_orders

PARTNER = "SUP-001"
OLD = 3600




def drop(folder: Path, name: str, data: bytes) -> None:
    path = folder / "out" / name
    path.write_bytes(data)
    past = dt.datetime.now().timestamp() - OLD
    os.utime(path, (past, past))


def desadv(control_ref: str = "9001", asn_number: str = "ASN-1") -> bytes:
    asn = ShipmentNotice(asn_number=asn_number, supplier_id=PARTNER, ship_date=dt.date(2026, 11, 26), lines=[
        {"line_no": 1, "po_number": "CGDD000101", "po_line_no": 1, "material_id": "1.02.0033", "quantity": "500",
         "uom": "H87", "batch_number": "B1"}])
    return shipment_notice_to_desadv(asn, sender=PARTNER, recipient="MESHUB", control_ref=control_ref,
                                     prepared=dt.datetime(2026, 11, 26, 8, 0))


def seed_po(store) -> None:
    po = PurchaseOrder(po_number="CGDD000101", supplier_id=PARTNER, order_date=dt.date(2026, 11, 20), lines=[
        {"line_no": 1, "material_id": "1.02.0033", "quantity": "500", "uom": "H87"}])
    with store.session() as s:
        documents.upsert(s, po)


def inbound(store) -> dict:
    collect_files(store, PARTNER)
    return process_inbox(store, PARTNER)


def uploaded(folder: Path, prefix: str) -> list[Path]:
    return sorted(p for p in (folder / "in").iterdir() if p.name.startswith(prefix))


def register_rows(store, direction: str) -> list[InterchangeRow]:
    with store.session() as s:
        return list(s.scalars(select(InterchangeRow).where(InterchangeRow.direction == direction)
                              .order_by(InterchangeRow.id)))


# ------------------------------------------------------------------------------ our acks
def test_inbound_interchange_is_registered_and_answered_once_with_a_contrl(sqlite_store, sftp):
    seed_po(sqlite_store)
    drop(sftp, "DESADV_1.edi", desadv())
    inbound(sqlite_store)
    (row,) = register_rows(sqlite_store, "in")
    assert (row.partner, row.standard, row.control_ref, row.message_types, row.ack_status) == (
        PARTNER, "edifact", "9001", ["DESADV"], "accepted")

    report = deliver_outbox(sqlite_store, PARTNER)
    assert (report.sent, report.failed) == (1, 0)
    (sent,) = uploaded(sftp, "CONTRL_")
    (ack,) = edi_acks.read_acks(sent.read_bytes())
    assert (ack.interchange_ref, ack.result) == ("9001", "accepted")
    inter = parse_interchange(sent.read_bytes())
    assert (inter.sender, inter.recipient) == ("MESHUB", PARTNER)
    # our CONTRL is registered outbound too, waiting for nothing (acks are not acknowledged)
    (out,) = register_rows(sqlite_store, "out")
    assert (out.control_ref, out.message_types, out.ack_status) == (inter.control_ref, ["CONTRL"], "none")

    # the same file again (new name, same bytes) and a rerun: no second CONTRL
    drop(sftp, "DESADV_1_again.edi", desadv())
    inbound(sqlite_store)
    assert deliver_outbox(sqlite_store, PARTNER).sent == 0
    assert len(uploaded(sftp, "CONTRL_")) == 1


def test_wrong_unt_count_is_answered_with_a_rejecting_contrl(sqlite_store, sftp):
    drop(sftp, "bad.edi", desadv(control_ref="9002").replace(b"UNT+", b"UNT+9", 1))
    inbound(sqlite_store)
    deliver_outbox(sqlite_store, PARTNER)
    (sent,) = uploaded(sftp, "CONTRL_9002_")
    (ack,) = edi_acks.read_acks(sent.read_bytes())
    assert ack.result == "rejected"
    assert [(m.status, [e.code for e in m.errors]) for m in ack.messages] == [("rejected", ["29"])]
    (row,) = register_rows(sqlite_store, "in")
    assert row.ack_status == "rejected"
    # the message itself is still quarantined as before
    with sqlite_store.session() as s:
        assert "UNT_COUNT_MISMATCH" in {r.reason_code for r in quarantine.list_rows(s)}


def test_duplicate_interchange_is_not_acknowledged_again_and_raises_an_alert(sqlite_store, sftp):
    seed_po(sqlite_store)
    drop(sftp, "first.edi", desadv(control_ref="777"))
    inbound(sqlite_store)
    drop(sftp, "second.edi", desadv(control_ref="777", asn_number="ASN-2"))
    inbound(sqlite_store)
    deliver_outbox(sqlite_store, PARTNER)
    assert len(uploaded(sftp, "CONTRL_777_")) == 1
    with sqlite_store.session() as s:
        alerts = [a for a in documents.current(s, "Alert") if a.alert_type == "DUPLICATE_INTERCHANGE"]
    (alert,) = alerts
    assert alert.responsible_party == PARTNER and "777" in alert.message and "second.edi" in alert.message


# ------------------------------------------------------------------------------ their acks
def send_orders(store, sftp) -> tuple[str, InterchangeRow]:
    seed_po(store)
    plan_orders(store, PARTNER)
    report = deliver_outbox(store, PARTNER)
    assert report.sent == 1
    (orders_file,) = uploaded(sftp, "ORDERS_")
    (row,) = register_rows(store, "out")
    return orders_file.read_bytes(), row


def partner_contrl(orders: bytes, control_ref: str = "P1", bad: bool = False) -> bytes:
    """What the supplier's translator answers: built from *its* side with the same codec."""
    if bad:
        orders = orders.replace(b"UNT+", b"UNT+9", 1)
    (ack,) = edi_acks.edifact_acks(orders)
    return edi_acks.write_contrl(ack, control_ref, prepared=dt.datetime(2026, 11, 26, 10, 0))


def test_orders_sent_waits_for_the_partners_contrl_and_the_contrl_settles_it(sqlite_store, sftp):
    orders, row = send_orders(sqlite_store, sftp)
    assert (row.standard, row.message_types, row.ack_status) == ("edifact", ["ORDERS"], "pending")
    due = interchanges.aware(row.ack_due) - interchanges.aware(row.created_at)
    assert abs(due - dt.timedelta(hours=24)) < dt.timedelta(minutes=1)  # SUP-001: deadline_hours 24

    drop(sftp, "CONTRL_from_partner.edi", partner_contrl(orders))
    counts = inbound(sqlite_store)
    assert counts == {"files": 1, "documents": 0, "quarantined": 0, "alerts": 0}
    (row,) = register_rows(sqlite_store, "out")
    assert row.ack_status == "accepted" and row.ack_detail["file"] == "CONTRL_from_partner.edi"
    with sqlite_store.session() as s:
        assert quarantine.list_rows(s) == []
        assert s.scalars(select(InboxRow.status)).all() == ["processed"]
        # the ack is not a business interchange: not registered inbound, not answered
        assert register_rows(sqlite_store, "in") == []
        assert [r.operation for r in s.scalars(select(OutboxRow))] == ["ORDERS"]
    # and once acknowledged, no deadline can make it overdue
    assert check_overdue_acks(sqlite_store, dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30)) == {
        "overdue": 0, "alerts": 0}


def test_rejecting_contrl_marks_the_interchange_rejected_with_the_partners_codes(sqlite_store, sftp):
    orders, _ = send_orders(sqlite_store, sftp)
    drop(sftp, "CONTRL_reject.edi", partner_contrl(orders, bad=True))
    inbound(sqlite_store)
    (row,) = register_rows(sqlite_store, "out")
    assert row.ack_status == "rejected"
    assert row.ack_detail["messages"][0]["errors"][0]["code"] == "29"


def test_missing_ack_becomes_overdue_with_an_alert_and_a_late_ack_resolves_it(sqlite_store, sftp):
    orders, row = send_orders(sqlite_store, sftp)
    due = interchanges.aware(row.ack_due)
    assert check_overdue_acks(sqlite_store, due - dt.timedelta(seconds=1)) == {"overdue": 0, "alerts": 0}
    assert check_overdue_acks(sqlite_store, due + dt.timedelta(hours=1)) == {"overdue": 1, "alerts": 1}
    # a rerun is a no-op
    assert check_overdue_acks(sqlite_store, due + dt.timedelta(hours=2)) == {"overdue": 0, "alerts": 0}
    (row,) = register_rows(sqlite_store, "out")
    assert row.ack_status == "overdue"
    with sqlite_store.session() as s:
        (alert,) = list(documents.current(s, "Alert"))
    assert (alert.alert_type, alert.responsible_party, alert.status) == ("EDI_NOT_ACKNOWLEDGED", PARTNER, "open")
    assert row.control_ref in alert.message and "ORDERS" in alert.message

    drop(sftp, "late_CONTRL.edi", partner_contrl(orders))
    inbound(sqlite_store)
    (row,) = register_rows(sqlite_store, "out")
    assert row.ack_status == "accepted"
    with sqlite_store.session() as s:
        (alert,) = list(documents.current(s, "Alert"))
    assert alert.status == "resolved"


def test_ack_for_an_interchange_we_never_sent_is_quarantined(sqlite_store, sftp):
    orders, _ = send_orders(sqlite_store, sftp)
    stranger = orders.replace(b"+1'\nUNH", b"+99'\nUNH").replace(b"UNZ+1+1'", b"UNZ+1+99'")
    (ack,) = edi_acks.edifact_acks(stranger)
    assert ack.interchange_ref == "99"
    drop(sftp, "CONTRL_stranger.edi", edi_acks.write_contrl(ack, "P9"))
    counts = inbound(sqlite_store)
    assert counts["quarantined"] == 1 and counts["documents"] == 0
    with sqlite_store.session() as s:
        (q,) = quarantine.list_rows(s)
    assert q.reason_code == "ACK_UNMATCHED" and "99" in q.message
    (row,) = register_rows(sqlite_store, "out")
    assert row.ack_status == "pending"


def test_997_is_matched_by_its_group_control_number(sqlite_store, sftp):
    # no X12 outbound flow exists yet: register what an 850 interchange would be, as delivery does
    w = X12Writer("MESHUB", "SUP001", 42, prepared=dt.datetime(2026, 11, 26, 9, 0))
    w.add_group("PO", 42, "004010")
    w.add_transaction("850", 1, [("BEG", ["00", "SA", "CGDD000101", None, "20261126"])])
    sent = w.to_bytes()
    with sqlite_store.session() as s:
        interchanges.register(s, partner=PARTNER, direction="out", standard="x12", control_ref="000000042",
                              message_refs=[["42", "0001"]], message_types=["850"], ack_status="pending",
                              ack_due=dt.datetime.now(dt.timezone.utc) + DEFAULT_ACK_DEADLINE)
    (ack,) = edi_acks.x12_acks(sent)
    drop(sftp, "997.x12", edi_acks.write_acks([ack], "7"))
    counts = inbound(sqlite_store)
    assert counts["quarantined"] == 0
    (row,) = register_rows(sqlite_store, "out")
    assert row.ack_status == "accepted" and row.ack_detail["kind"] == "997"


def test_ack_file_is_detected_before_translation_and_never_stored_as_a_document(sqlite_store, sftp):
    orders, _ = send_orders(sqlite_store, sftp)
    drop(sftp, "contrl.edi", partner_contrl(orders))
    inbound(sqlite_store)
    with sqlite_store.session() as s:
        assert [d.type for d in documents.current(s, "ShipmentNotice")] == []
        payload = base64.b64decode(s.scalars(select(OutboxRow)).one().payload["content_b64"])
    assert payload == orders


def test_a_file_mixing_a_contrl_with_business_messages_is_processed_as_a_normal_file(sqlite_store, sftp):
    seed_po(sqlite_store)
    data = desadv(control_ref="9100")
    contrl = b"UNH+C1+CONTRL:D:3:UN'\nUCI+1+MESHUB+SUP-001+7'\nUNT+3+C1'\n"
    at = data.index(b"UNH+")
    mixed = (data[:at] + contrl + data[at:]).replace(b"UNZ+1+9100", b"UNZ+2+9100")
    drop(sftp, "mixed.edi", mixed)
    counts = inbound(sqlite_store)
    assert counts["documents"] == 1
    (row,) = register_rows(sqlite_store, "in")
    assert (row.control_ref, row.message_types) == ("9100", ["CONTRL", "DESADV"])
