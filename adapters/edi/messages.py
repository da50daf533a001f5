"""Outbound EDIFACT builders (EANCOM-like D96A) from canonical documents.

Used by the hub to send purchase orders to suppliers and by the supplier simulator to send
shipment notices back, so both sides of the demo speak the same dialect. Segment choice and
order follow the EANCOM 2002 D96A guides (ORDERS EAN008, DESADV EAN005); qualifiers used:

ORDERS  BGM+220 (order), 1225 = 9 original / 5 replacement (version > 1 or status changed) /
        1 cancellation; DTM+137 document date, DTM+2 requested delivery; NAD+BY / NAD+SU
        (GLN-style codes, agency 9); CUX+2:<currency>:9; LIN 7143=IN (buyer's item number);
        PIA+1 ...:SA (supplier's article number); QTY+21 ordered; PRI+AAA net price;
        UNS+S; CNT+2 number of lines.
DESADV  BGM+351; DTM+11 despatch, DTM+132 estimated arrival; NAD+SU / NAD+ST; CPS+1 for the
        consignment and CPS+<n>+1 per line; PAC+1, PCI+33E and GIN+BJ (SSCC) when the line has
        a package id; LIN / PIA as above; QTY+12 despatched; RFF+ON order number and RFF+LI
        order line; PCI+36E, DTM+36 expiry and GIN+BX batch number when there is a batch.
ORDCHG  BGM+230 (order change), 1225 = 5 replacement / 1 cancellation; header as ORDERS; only
        the lines that changed, LIN 1229 = 1 added / 2 deleted / 3 changed (EANCOM ORDCHG
        EAN008); a deleted line carries no QTY; a cancellation carries no lines (the header
        cancels the whole order). UNS+S; CNT+2 number of LIN.
DELFOR  BGM+241 (delivery schedule), 1225 = 9 original / 5 replacement (version > 1);
        DTM+137 issued, DTM+158 / DTM+159 horizon start / end; NAD+BY / NAD+SU; UNS+D ends the
        header; GIS+37 (complete information) and NAD+ST ship-to open the detail; per material
        LIN / PIA+1 ...:SA, then SCC+1 (firm) or SCC+4 (planning / forecast) before each run of
        QTY+113 (quantity to be delivered) + DTM+2 (delivery date), dates ascending.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Optional

from adapters.edi.writer import EdifactWriter
from canonical_model.documents import PurchaseOrder, PurchaseOrderLine, ShipmentNotice


def _num(value: Decimal) -> str:
    # plain notation, no exponent, no trailing zeros: EDIFACT numbers are n..15, never "1E+1"
    text = format(value.normalize(), "f")
    return text


def _date(value: dt.date) -> list[str]:
    return [value.strftime("%Y%m%d"), "102"]


def _message_function(po: PurchaseOrder) -> str:
    if po.status == "cancelled":
        return "1"
    if po.version > 1 or po.status == "changed":
        return "5"
    return "9"


def _order_header(po: PurchaseOrder, document: str, function: str, sender: str) -> list[tuple[str, list]]:
    segs: list[tuple[str, list]] = [
        ("BGM", [document, po.po_number, function]),
        ("DTM", [["137", *_date(po.order_date)]]),
        ("NAD", ["BY", [po.buyer_id or sender, None, "9"]]),
        ("NAD", ["SU", [po.supplier_id, None, "9"]]),
    ]
    if po.currency:
        segs.append(("CUX", [["2", po.currency, "9"]]))
    return segs


def _order_line(line: PurchaseOrderLine, action: str | None) -> list[tuple[str, list]]:
    segs: list[tuple[str, list]] = [("LIN", [str(line.line_no), action, [line.material_id, "IN"]])]
    if line.supplier_material_id:
        segs.append(("PIA", ["1", [line.supplier_material_id, "SA"]]))
    segs.append(("QTY", [["21", _num(line.quantity), line.uom]]))
    if line.delivery_date:
        segs.append(("DTM", [["2", *_date(line.delivery_date)]]))
    if line.unit_price is not None:
        segs.append(("PRI", [["AAA", _num(line.unit_price)]]))
    return segs


def purchase_order_to_orders(po: PurchaseOrder, *, sender: str, recipient: str, control_ref: str,
                             prepared: Optional[dt.datetime] = None, syntax: str = "UNOC") -> bytes:
    """One ORDERS D96A interchange for ``po``; ``control_ref`` also numbers the message."""
    segs = _order_header(po, "220", _message_function(po), sender)
    for line in po.lines:
        segs.extend(_order_line(line, None))
    segs.append(("UNS", ["S"]))
    segs.append(("CNT", [["2", str(len(po.lines))]]))
    w = EdifactWriter(sender, recipient, control_ref, syntax=syntax, prepared=prepared)
    w.add_message("ORDERS", "D", "96A", "UN", "EAN008", segs, ref=control_ref)
    return w.to_bytes()


def shipment_notice_to_desadv(asn: ShipmentNotice, *, sender: str, recipient: str, control_ref: str,
                              prepared: Optional[dt.datetime] = None, syntax: str = "UNOC",
                              message_function: Optional[str] = None) -> bytes:
    """One DESADV D96A interchange for ``asn``; one CPS package level per line.

    ``message_function`` (BGM 1225) defaults to 1 (cancellation) for a cancelled ASN, else 9
    (original); pass "5" to send a replacement of an ASN sent before.
    """
    function = message_function or ("1" if asn.status == "cancelled" else "9")
    segs: list[tuple[str, list]] = [("BGM", ["351", asn.asn_number, function])]
    if asn.ship_date:
        segs.append(("DTM", [["11", *_date(asn.ship_date)]]))
    if asn.expected_arrival:
        segs.append(("DTM", [["132", *_date(asn.expected_arrival)]]))
    segs.append(("NAD", ["SU", [asn.supplier_id, None, "9"]]))
    if asn.ship_to_id:
        segs.append(("NAD", ["ST", [asn.ship_to_id, None, "9"]]))
    segs.append(("CPS", ["1"]))
    for n, line in enumerate(asn.lines, start=2):
        segs.append(("CPS", [str(n), "1"]))
        if line.package_id:
            segs.append(("PAC", ["1"]))
            segs.append(("PCI", ["33E"]))
            segs.append(("GIN", ["BJ", line.package_id]))
        segs.append(("LIN", [str(line.line_no), None, [line.material_id, "IN"]]))
        if line.supplier_material_id:
            segs.append(("PIA", ["1", [line.supplier_material_id, "SA"]]))
        segs.append(("QTY", [["12", _num(line.quantity), line.uom]]))
        if line.po_number:
            segs.append(("RFF", [["ON", line.po_number]]))
        if line.po_line_no is not None:
            segs.append(("RFF", [["LI", str(line.po_line_no)]]))
        if line.batch_number or line.expiry_date:
            segs.append(("PCI", ["36E"]))
            if line.expiry_date:
                segs.append(("DTM", [["36", *_date(line.expiry_date)]]))
            if line.batch_number:
                segs.append(("GIN", ["BX", line.batch_number]))
    segs.append(("CNT", [["2", str(len(asn.lines))]]))
    w = EdifactWriter(sender, recipient, control_ref, syntax=syntax, prepared=prepared)
    w.add_message("DESADV", "D", "96A", "UN", "EAN005", segs, ref=control_ref)
    return w.to_bytes()


#: ORDCHG LIN 1229 action codes (UNCL 1229 as used by EANCOM ORDCHG)
LINE_ADDED, LINE_DELETED, LINE_CHANGED = "1", "2", "3"


def changed_lines(po: PurchaseOrder, previous: Optional[PurchaseOrder]) -> list[tuple[str, PurchaseOrderLine]]:
    """``(1229 action, line)`` for every line that differs from ``previous``, by line number.

    Without ``previous`` every line is sent as changed: the supplier replaces what it holds.
    A deleted line is returned as it was in ``previous``.
    """
    if previous is None:
        return [(LINE_CHANGED, line) for line in po.lines]
    before = {line.line_no: line for line in previous.lines}
    after = {line.line_no: line for line in po.lines}
    result: list[tuple[str, PurchaseOrderLine]] = []
    for line_no in sorted(before.keys() | after.keys()):
        old, new = before.get(line_no), after.get(line_no)
        if old is None:
            result.append((LINE_ADDED, new))  # type: ignore[arg-type]
        elif new is None:
            result.append((LINE_DELETED, old))
        elif old != new:
            result.append((LINE_CHANGED, new))
    return result


def purchase_order_to_ordchg(po: PurchaseOrder, *, sender: str, recipient: str, control_ref: str,
                             previous: Optional[PurchaseOrder] = None, prepared: Optional[dt.datetime] = None,
                             syntax: str = "UNOC") -> bytes:
    """One ORDCHG D96A interchange telling the supplier how ``po`` changed since ``previous``.

    ``po.status == "cancelled"`` gives a cancellation (1225 = 1) without lines; otherwise a
    replacement (1225 = 5) carrying only the added, deleted and changed lines.
    """
    cancelled = po.status == "cancelled"
    segs = _order_header(po, "230", "1" if cancelled else "5", sender)
    lines = [] if cancelled else changed_lines(po, previous)
    for action, line in lines:
        if action == LINE_DELETED:
            # the order line number and item are enough to delete it; a quantity would be read as new
            segs.append(("LIN", [str(line.line_no), action, [line.material_id, "IN"]]))
        else:
            segs.extend(_order_line(line, action))
    segs.append(("UNS", ["S"]))
    segs.append(("CNT", [["2", str(len(lines))]]))
    w = EdifactWriter(sender, recipient, control_ref, syntax=syntax, prepared=prepared)
    w.add_message("ORDCHG", "D", "96A", "UN", "EAN008", segs, ref=control_ref)
    return w.to_bytes()
