"""A supplier, played over the real SFTP protocol: reads our ORDERS, answers with DESADVs, and
acknowledges our delivery schedules (DELFOR / 830) with a CONTRL / 997.

The scenario is fixed so the demo tells the same story every time:

* every purchase order is shipped in one DESADV (``ASN-<po_number>``), lines in order, with
  batch numbers (``B<po_number>-<line>``) and an SSCC per line;
* the supplier named ``short_supplier`` ships the last line of its first order 20% short
  (the hub must raise a SHORT_SHIPMENT alert);
* the supplier named ``sloppy_supplier`` also sends one DESADV for a PO that does not exist
  (the hub must quarantine it: PO_NOT_FOUND) and drops its first good file a second time under
  another name (the hub must recognise the duplicate).

An ORDERS file is archived on the server once answered, so answering again is a no-op; so is a
DELFOR / 830 once acknowledged (:func:`acknowledge_schedules`). Each of the two leaves the other's
files where they are. The acknowledgement is the real syntax verdict of our own ack writer
(adapters/edi/acks.py), so a well-formed schedule gets a positive CONTRL / 997 and a broken one
would be rejected, as a real translator would.
"""
from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass
from decimal import Decimal

from adapters.edi import acks as edi_acks
from adapters.edi.edifact import UTF8_BOM, detect_format, parse_interchanges
from adapters.edi.messages import shipment_notice_to_desadv
from adapters.sftp.config import SftpConfig
from adapters.sftp.hook import SftpHook
from canonical_model.documents import PurchaseOrder, ShipmentNotice, ShipmentNoticeLine
from hub.errors import HubError
from hub.translate import translate

#: message types of a delivery schedule: the hub's DELFOR D96A and X12 830
SCHEDULE_MESSAGES = {"DELFOR", "830"}


@dataclass
class SupplierScenario:
    partner_id: str
    our_id: str          # the supplier's EDI id (UNB sender)
    hub_id: str          # the hub's EDI id (UNB recipient)
    short_supplier: bool = False
    sloppy_supplier: bool = False


def respond_to_orders(config: SftpConfig, scenario: SupplierScenario, today: dt.date) -> list[str]:
    """Answer every unanswered ORDERS in the supplier's ``in/`` folder; return uploaded names."""
    config = config.model_copy(update={"min_file_age_seconds": 0})
    uploaded: list[str] = []
    with SftpHook(config) as sftp:
        orders = []
        for remote in sorted(sftp.list_ready(config.outbox_folder), key=lambda f: f.name):
            content = sftp.read_bytes(remote.path)
            if not message_types(content, remote.name) & SCHEDULE_MESSAGES:  # schedules: acknowledge_schedules
                orders.append((remote, content))
        for number, (remote, content) in enumerate(orders):
            result = translate(content, remote.name)
            for po in (d for d in result.documents if isinstance(d, PurchaseOrder)):
                short = scenario.short_supplier and number == 0
                asn = _shipment_for(po, today, short_last_line=short)
                data = _desadv(asn, scenario, control_ref=f"9{po.po_number[-5:]}")
                name = f"DESADV_{asn.asn_number}.edi"
                uploaded.append(sftp.upload_atomic(config.inbox_folder, name, data))
                if scenario.sloppy_supplier and number == 0:
                    uploaded.append(sftp.upload_atomic(config.inbox_folder, f"RESEND_{name}", data))
                    bogus = _shipment_for(po.model_copy(update={"po_number": "CGDD999999"}), today)
                    uploaded.append(sftp.upload_atomic(
                        config.inbox_folder, "DESADV_ASN-CGDD999999.edi",
                        _desadv(bogus, scenario, control_ref="999999")))
            sftp.archive(remote.path)
    return uploaded


def acknowledge_schedules(config: SftpConfig, scenario: SupplierScenario) -> list[str]:
    """Acknowledge every unanswered DELFOR / 830 in the supplier's ``in/`` folder with a CONTRL /
    997 in its ``out/`` folder, then archive the schedule; return the uploaded names."""
    config = config.model_copy(update={"min_file_age_seconds": 0})
    uploaded: list[str] = []
    with SftpHook(config) as sftp:
        for remote in sorted(sftp.list_ready(config.outbox_folder), key=lambda f: f.name):
            data = sftp.read_bytes(remote.path)
            if not message_types(data, remote.name) & SCHEDULE_MESSAGES:
                continue  # ORDERS are respond_to_orders' business; our own acks are never answered
            name, ack = _schedule_ack(data, remote.name, scenario)
            uploaded.append(sftp.upload_atomic(config.inbox_folder, name, ack))
            sftp.archive(remote.path)
    return uploaded


def message_types(data: bytes, filename: str) -> set[str]:
    """Message types (EDIFACT UNH 0065, X12 ST01) in an EDI file; empty for anything else."""
    fmt = detect_format(data[:512].removeprefix(UTF8_BOM).lstrip(b" \t\r\n"))
    try:
        if fmt == "edifact":
            return {m.type for inter in parse_interchanges(data, filename) for m in inter.iter_messages()}
        if fmt == "x12":
            from adapters.edi import x12

            return {t.set_id for inter in x12.parse_interchanges(data, filename) for t in inter.iter_transactions()}
    except HubError:
        pass  # unreadable: not a schedule we could acknowledge
    return set()


def _schedule_ack(data: bytes, filename: str, scenario: SupplierScenario) -> tuple[str, bytes]:
    acks = edi_acks.acks_for(data, filename)
    subject = acks[0].interchange_ref
    # the supplier's own control number, derived from ours so a rerun writes the same file
    digits = "".join(c for c in subject if c.isdigit())
    control_ref = str(800_000_000 + (int(digits) if digits == subject else zlib.crc32(subject.encode())) % 10**8)
    prepared = dt.datetime(2026, 1, 1)
    if acks[0].kind == "CONTRL":
        ack = edi_acks.write_acks(acks, control_ref, our_id=scenario.our_id, their_id=scenario.hub_id,
                                  prepared=prepared)
        return f"CONTRL_{subject}.edi", ack
    # X12: the ISA ids of the subject turned round (the scenario's ids are the EDIFACT ones)
    return f"997_{subject}.x12", edi_acks.write_acks(acks, control_ref, prepared=prepared)


def _shipment_for(po: PurchaseOrder, today: dt.date, short_last_line: bool = False) -> ShipmentNotice:
    lines = []
    for i, line in enumerate(po.lines, start=1):
        quantity = line.quantity
        if short_last_line and i == len(po.lines):
            quantity = (quantity * Decimal("0.8")).to_integral_value()
        lines.append(ShipmentNoticeLine(
            line_no=i, po_number=po.po_number, po_line_no=line.line_no, material_id=line.material_id,
            supplier_material_id=line.supplier_material_id, quantity=quantity, uom=line.uom,
            batch_number=f"B{po.po_number}-{line.line_no}", package_id=_sscc(po.po_number, i)))
    return ShipmentNotice(asn_number=f"ASN-{po.po_number}", supplier_id=po.supplier_id, ship_to_id="PLANT-01",
                          ship_date=today, expected_arrival=today + dt.timedelta(days=2), lines=lines)


def _desadv(asn: ShipmentNotice, scenario: SupplierScenario, control_ref: str) -> bytes:
    return shipment_notice_to_desadv(asn, sender=scenario.our_id, recipient=scenario.hub_id,
                                     control_ref=control_ref, prepared=dt.datetime(2026, 1, 1))


def _sscc(po_number: str, line: int) -> str:
    """An 18-digit SSCC with a valid GS1 check digit (extension 0, demo company prefix)."""
    digits = f"0{'0614141'}{int(''.join(c for c in po_number if c.isdigit()) or 0) % 10**6:06d}{line:03d}"
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return digits + str((10 - total % 10) % 10)
