"""The simulated supplier over a real SFTP server on 127.0.0.1: it acknowledges our delivery
schedules (DELFOR / 830) once, leaves them out of its ORDERS answers, and the hub's inbound
path settles the registered outbound interchange with its acknowledgement."""
from __future__ import annotations

import base64
import datetime as dt
import os
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.edi import acks as edi_acks
from adapters.edi.delivery_schedules import render_delivery_schedule
from adapters.edi.edifact import parse_interchange
from adapters.edi.messages import purchase_order_to_orders
from canonical_model.documents import DeliverySchedule, DeliveryScheduleLine, PurchaseOrder
from canonical_model.store import outbox, quarantine
from canonical_model.store.tables import InterchangeRow
from hub.partners import get_partner
from simulators.supplier import SupplierScenario, acknowledge_schedules, message_types, respond_to_orders

PARTNER = "SUP-001"
SCENARIO = SupplierScenario(partner_id=PARTNER, our_id="SUP-001", hub_id="MESHUB")
NOW = dt.datetime(2026, 11, 26, 2, 0)


def config():
    return get_partner(PARTNER).sftp_config()


def schedule_profile(fmt: str):
    message = {"edifact": {"format": "edifact", "message": "DELFOR", "version": "D96A"},
               "x12": {"format": "x12", "message": "830", "version": "004010"}}[fmt]
    profile = get_partner(PARTNER)
    return profile.model_copy(update={"messages": {**profile.messages,
                                                   "delivery_schedule": type(profile.messages["orders"])(**message)}})


def rendered(fmt: str, control_ref: str):
    schedule = DeliverySchedule(
        schedule_id="DS-SUP-001", supplier_id=PARTNER, version=2, horizon_start=dt.date(2026, 11, 30),
        horizon_end=dt.date(2027, 1, 10), lines=[
            DeliveryScheduleLine(material_id="1.02.0033", date=dt.date(2026, 12, 2), quantity=Decimal("500"),
                                 uom="H87", commitment="firm")])
    return render_delivery_schedule(schedule, schedule_profile(fmt), control_ref=control_ref, now=NOW)


def orders_file() -> bytes:
    po = PurchaseOrder(po_number="CGDD000101", supplier_id=PARTNER, order_date=dt.date(2026, 11, 20), lines=[
        {"line_no": 1, "material_id": "1.02.0033", "quantity": "500", "uom": "H87"}])
    return purchase_order_to_orders(po, sender="MESHUB", recipient=PARTNER, control_ref="41",
                                    prepared=dt.datetime(2026, 11, 26, 8, 0))


def put(sftp: Path, name: str, data: bytes) -> None:
    (sftp / "in" / name).write_bytes(data)


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_message_types_tell_schedules_from_orders_and_junk():
    assert message_types(rendered("edifact", "42").content, "a") == {"DELFOR"}
    assert message_types(rendered("x12", "43").content, "b") == {"830"}
    assert message_types(orders_file(), "c") == {"ORDERS"}
    assert message_types(b"schedule id,version\r\n", "d.csv") == set()
    assert message_types(b"UNA:+.? 'UNB+UNOC:3+A+B+261126:0800+1'UNH+1", "e") == set()


def test_schedules_are_acknowledged_once_and_other_files_are_left_alone(sftp: Path):
    delfor, plan830 = rendered("edifact", "42"), rendered("x12", "43")
    put(sftp, delfor.filename, delfor.content)
    put(sftp, plan830.filename, plan830.content)
    put(sftp, "ORDERS_CGDD000101_v1_41.edi", orders_file())

    uploaded = acknowledge_schedules(config(), SCENARIO)
    assert sorted(uploaded) == ["out/997_000000043.x12", "out/CONTRL_42.edi"]
    (contrl,) = edi_acks.read_acks((sftp / "out" / "CONTRL_42.edi").read_bytes())
    assert (contrl.kind, contrl.interchange_ref, contrl.result) == ("CONTRL", "42", "accepted")
    assert [(m.ref, m.type, m.status) for m in contrl.messages] == [("42", "DELFOR", "accepted")]
    envelope = parse_interchange((sftp / "out" / "CONTRL_42.edi").read_bytes())
    assert (envelope.sender, envelope.recipient) == ("SUP-001", "MESHUB")
    (ack997,) = edi_acks.read_acks((sftp / "out" / "997_000000043.x12").read_bytes())
    assert (ack997.kind, ack997.group_ref, ack997.result) == ("997", "43", "accepted")
    assert [(m.type, m.status) for m in ack997.messages] == [("830", "accepted")]
    # the schedules are archived, the ORDERS waits for respond_to_orders
    assert names(sftp / "in") == ["ORDERS_CGDD000101_v1_41.edi"]
    assert names(sftp / "archive") == sorted([delfor.filename, plan830.filename])

    assert acknowledge_schedules(config(), SCENARIO) == []  # answering twice is a no-op
    assert names(sftp / "out") == ["997_000000043.x12", "CONTRL_42.edi"]


def test_respond_to_orders_leaves_delivery_schedules_for_their_acknowledgement(sftp: Path):
    delfor = rendered("edifact", "42")
    put(sftp, delfor.filename, delfor.content)
    put(sftp, "ORDERS_CGDD000101_v1_41.edi", orders_file())
    uploaded = respond_to_orders(config(), SCENARIO, today=dt.date(2026, 11, 26))
    assert uploaded == ["out/DESADV_ASN-CGDD000101.edi"]
    assert names(sftp / "in") == [delfor.filename] and names(sftp / "archive") == ["ORDERS_CGDD000101_v1_41.edi"]
    assert acknowledge_schedules(config(), SCENARIO) == ["out/CONTRL_42.edi"]


def test_a_broken_schedule_gets_a_rejecting_acknowledgement(sftp: Path):
    delfor = rendered("edifact", "44")
    put(sftp, delfor.filename, delfor.content.replace(b"UNT+", b"UNT+9", 1))
    acknowledge_schedules(config(), SCENARIO)
    (ack,) = edi_acks.read_acks((sftp / "out" / "CONTRL_44.edi").read_bytes())
    assert ack.result == "rejected" and ack.messages[0].errors[0].code == "29"


@pytest.mark.parametrize("fmt,control_ref,operation", [("edifact", "42", "DELFOR"), ("x12", "43", "830")])
def test_hub_records_the_suppliers_ack_against_the_registered_schedule(sqlite_store, sftp, fmt, control_ref,
                                                                        operation):
    """The lead's flow: an outbox row like ORDERS' (partner, control_ref, filename, content_b64),
    delivered and registered by deliver_outbox; the supplier acknowledges; the hub collects."""
    from hub.flows.supplier_collect import collect_files
    from hub.flows.supplier_inbound import process_inbox
    from hub.flows.supplier_orders import deliver_outbox

    result = rendered(fmt, control_ref)
    with sqlite_store.session() as s:
        outbox.enqueue(s, target="supplier_sftp", operation=operation,
                       idempotency_key=f"supplier_sftp:{operation}:{PARTNER}:DS-SUP-001:v2", payload={
                           "partner": PARTNER, "control_ref": result.control_ref, "filename": result.filename,
                           "content_b64": base64.b64encode(result.content).decode("ascii")})
    assert deliver_outbox(sqlite_store, PARTNER).sent == 1
    with sqlite_store.session() as s:
        (row,) = s.scalars(select(InterchangeRow).where(InterchangeRow.direction == "out")).all()
        assert (row.standard, row.control_ref, row.message_types, row.ack_status) == (
            fmt, result.control_ref, [operation], "pending")

    (ack_name,) = acknowledge_schedules(config(), SCENARIO)
    past = dt.datetime.now().timestamp() - 3600  # SUP-001 collects files at least 2 s old
    os.utime(sftp / ack_name, (past, past))
    collect_files(sqlite_store, PARTNER)
    counts = process_inbox(sqlite_store, PARTNER)
    assert (counts["documents"], counts["quarantined"]) == (0, 0)
    with sqlite_store.session() as s:
        (row,) = s.scalars(select(InterchangeRow).where(InterchangeRow.direction == "out")).all()
        assert row.ack_status == "accepted" and row.ack_detail["file"] == Path(ack_name).name
        assert quarantine.list_rows(s) == []
