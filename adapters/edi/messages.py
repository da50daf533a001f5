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
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Optional

from adapters.edi.writer import EdifactWriter
from canonical_model.documents import PurchaseOrder, ShipmentNotice


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


def purchase_order_to_orders(po: PurchaseOrder, *, sender: str, recipient: str, control_ref: str,
                             prepared: Optional[dt.datetime] = None, syntax: str = "UNOC") -> bytes:
    """One ORDERS D96A interchange for ``po``; ``control_ref`` also numbers the message."""
    segs: list[tuple[str, list]] = [
        ("BGM", ["220", po.po_number, _message_function(po)]),
        ("DTM", [["137", *_date(po.order_date)]]),
        ("NAD", ["BY", [po.buyer_id or sender, None, "9"]]),
        ("NAD", ["SU", [po.supplier_id, None, "9"]]),
    ]
    if po.currency:
        segs.append(("CUX", [["2", po.currency, "9"]]))
    for line in po.lines:
        segs.append(("LIN", [str(line.line_no), None, [line.material_id, "IN"]]))
        if line.supplier_material_id:
            segs.append(("PIA", ["1", [line.supplier_material_id, "SA"]]))
        segs.append(("QTY", [["21", _num(line.quantity), line.uom]]))
        if line.delivery_date:
            segs.append(("DTM", [["2", *_date(line.delivery_date)]]))
        if line.unit_price is not None:
            segs.append(("PRI", [["AAA", _num(line.unit_price)]]))
    segs.append(("UNS", ["S"]))
    segs.append(("CNT", [["2", str(len(po.lines))]]))
    w = EdifactWriter(sender, recipient, control_ref, syntax=syntax, prepared=prepared)
    w.add_message("ORDERS", "D", "96A", "UN", "EAN008", segs, ref=control_ref)
    return w.to_bytes()


def shipment_notice_to_desadv(asn: ShipmentNotice, *, sender: str, recipient: str, control_ref: str,
                              prepared: Optional[dt.datetime] = None, syntax: str = "UNOC") -> bytes:
    """One DESADV D96A interchange for ``asn``; one CPS package level per line."""
    segs: list[tuple[str, list]] = [("BGM", ["351", asn.asn_number, "9"])]
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
