"""Outbound X12 004010 builders from canonical documents (and the supplier simulator's 856).

Segment choice follows the common 004010 manufacturing/retail guides; qualifiers used:

850  BEG*00|01*SA*<po>**<date>; CUR*BY; N1*BY / N1*SU (id qualifier 92 = assigned by buyer);
     PO1*<line>*<qty>*<unit>*<price>*PE*BP*<material>*VP*<supplier part>; DTM*002 requested
     delivery per line; CTT*<lines>.
860  BCH*04 change | 05 replace | 01 cancellation*SA*<po>***<order date>; POC per line with
     change code AI add, DI delete, QI/QD quantity up/down, CA other change (compared with the
     previous version when given); DTM*002; CTT.
830  BFR*00|05**<schedule id>*DL*A*<horizon start>*<end>*<issued>; N1*SU / N1*ST;
     LIN**BP*<material>*VP*<supplier part>; UIT*<unit>; FST*<qty>*C firm | D planning*D*<date>.
856  BSN*00 original | 05 replace | 01 cancel*<asn>*<date>*<time>; HL S (DTM*011 ship,
     DTM*017 expected arrival, N1*SU, N1*ST) > O per PO (PRF) > P per package (MAN*GM SSCC) >
     I per line (LIN*<po line>*BP*<material>*VP*<part>[*LT*<batch>], SN1, REF*LT, DTM*036
     expiry); CTT*<items>.

Control numbers are passed in (``state.next_counter``); the transaction control defaults to the
group control number because each builder writes one transaction set per interchange.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal, Optional, Union

from adapters.edi.x12_writer import X12Writer
from canonical_model.documents import PurchaseOrder, PurchaseOrderLine, ShipmentNotice

#: canonical UN/ECE Rec 20 -> X12 unit (data element 355); others are sent as they are
X12_UNITS = {"H87": "EA", "C62": "EA", "KGM": "KG", "GRM": "GR", "MTR": "MR", "LTR": "LT", "SET": "ST",
             "BX": "BX", "PK": "PK", "CS": "CA", "CT": "CT", "DZN": "DZ", "LBR": "LB", "MTK": "SM"}

Control = Union[int, str]


def _num(value: Decimal) -> str:
    # X12 R type: plain notation, no exponent, no trailing zeros
    return format(value.normalize(), "f")


def _date(value: dt.date) -> str:
    return value.strftime("%Y%m%d")


def _unit(uom: str) -> str:
    return X12_UNITS.get(uom, uom)


def _writer(sender: str, receiver: str, interchange_control: Control, prepared: Optional[dt.datetime],
            sender_qualifier: str, receiver_qualifier: str, usage: str) -> X12Writer:
    return X12Writer(sender, receiver, interchange_control, sender_qualifier=sender_qualifier,
                     receiver_qualifier=receiver_qualifier, prepared=prepared, usage=usage)


def _product_ids(material_id: str, supplier_material_id: Optional[str]) -> list:
    ids: list = ["BP", material_id]
    if supplier_material_id:
        ids += ["VP", supplier_material_id]
    return ids


def purchase_order_to_850(po: PurchaseOrder, *, sender: str, receiver: str, interchange_control: Control,
                          group_control: Control, transaction_control: Optional[Control] = None,
                          prepared: Optional[dt.datetime] = None, sender_qualifier: str = "ZZ",
                          receiver_qualifier: str = "ZZ", usage: str = "P") -> bytes:
    """One 850 interchange for ``po`` (a cancelled PO goes as BEG01 = 01)."""
    segs: list = [("BEG", ["01" if po.status == "cancelled" else "00", "SA", po.po_number, None,
                           _date(po.order_date)])]
    if po.currency:
        segs.append(("CUR", ["BY", po.currency]))
    segs.append(("N1", ["BY", None, "92", po.buyer_id or sender]))
    segs.append(("N1", ["SU", None, "92", po.supplier_id]))
    for line in po.lines:
        segs.append(("PO1", [str(line.line_no), _num(line.quantity), _unit(line.uom),
                             _num(line.unit_price) if line.unit_price is not None else None,
                             "PE" if line.unit_price is not None else None,
                             *_product_ids(line.material_id, line.supplier_material_id)]))
        if line.delivery_date:
            segs.append(("DTM", ["002", _date(line.delivery_date)]))
    segs.append(("CTT", [str(len(po.lines))]))
    w = _writer(sender, receiver, interchange_control, prepared, sender_qualifier, receiver_qualifier, usage)
    w.add_group("PO", group_control, "004010")
    w.add_transaction("850", transaction_control or group_control, segs)
    return w.to_bytes()


def _change_code(line: PurchaseOrderLine, before: Optional[PurchaseOrderLine]) -> Optional[str]:
    if before is None:
        return "AI"
    if line.quantity > before.quantity:
        return "QI"
    if line.quantity < before.quantity:
        return "QD"
    if line.model_dump() != before.model_dump():
        return "CA"
    return None  # unchanged lines are not repeated in an 860


def changed_purchase_order_to_860(po: PurchaseOrder, *, sender: str, receiver: str, interchange_control: Control,
                                  group_control: Control, previous: Optional[PurchaseOrder] = None,
                                  transaction_control: Optional[Control] = None,
                                  prepared: Optional[dt.datetime] = None, sender_qualifier: str = "ZZ",
                                  receiver_qualifier: str = "ZZ", usage: str = "P") -> bytes:
    """One 860 for a changed (or cancelled) PO; with ``previous`` only changed lines are sent."""
    if po.status == "cancelled":
        purpose = "01"
    elif previous is None:
        purpose = "05"  # no baseline to diff against: the whole order replaces the old one
    else:
        purpose = "04"
    segs: list = [("BCH", [purpose, "SA", po.po_number, None, None, _date(po.order_date)])]
    if po.currency:
        segs.append(("CUR", ["BY", po.currency]))
    segs.append(("N1", ["BY", None, "92", po.buyer_id or sender]))
    segs.append(("N1", ["SU", None, "92", po.supplier_id]))
    before = {line.line_no: line for line in previous.lines} if previous is not None else {}
    changes: list[tuple[str, PurchaseOrderLine]] = []
    for line in po.lines:
        if purpose == "01":
            code: Optional[str] = "DI"
        elif previous is None:
            code = "CA"
        else:
            code = _change_code(line, before.pop(line.line_no, None))
        if code:
            changes.append((code, line))
    changes.extend(("DI", line) for line in before.values())  # lines dropped from the order
    for code, line in changes:
        segs.append(("POC", [str(line.line_no), code, _num(line.quantity), None, _unit(line.uom),
                             _num(line.unit_price) if line.unit_price is not None else None,
                             "PE" if line.unit_price is not None else None,
                             *_product_ids(line.material_id, line.supplier_material_id)]))
        if line.delivery_date and code != "DI":
            segs.append(("DTM", ["002", _date(line.delivery_date)]))
    segs.append(("CTT", [str(len(changes))]))
    w = _writer(sender, receiver, interchange_control, prepared, sender_qualifier, receiver_qualifier, usage)
    w.add_group("PC", group_control, "004010")
    w.add_transaction("860", transaction_control or group_control, segs)
    return w.to_bytes()


def shipment_notice_to_856(asn: ShipmentNotice, *, sender: str, receiver: str, interchange_control: Control,
                           group_control: Control, transaction_control: Optional[Control] = None,
                           prepared: Optional[dt.datetime] = None, purpose: Optional[str] = None,
                           batch_in: Literal["ref", "lin"] = "ref", sender_qualifier: str = "ZZ",
                           receiver_qualifier: str = "ZZ", usage: str = "P") -> bytes:
    """One 856 with an S > O > P > I hierarchy (P only for lines with a package id).

    ``purpose`` is BSN01 (default 01 for a cancelled ASN, else 00; pass 05 for a
    replacement); ``batch_in`` puts the lot number in ``REF*LT`` or in the LIN as ``LT``.
    """
    when = prepared or dt.datetime.now(dt.timezone.utc)
    bsn01 = purpose or ("01" if asn.status == "cancelled" else "00")
    segs: list = [("BSN", [bsn01, asn.asn_number, when.strftime("%Y%m%d"), when.strftime("%H%M")])]
    hl = 0

    def new_hl(parent: Optional[int], level: str) -> int:
        nonlocal hl
        hl += 1
        segs.append(("HL", [str(hl), str(parent) if parent else None, level]))
        return hl

    ship = new_hl(None, "S")
    if asn.ship_date:
        segs.append(("DTM", ["011", _date(asn.ship_date)]))
    if asn.expected_arrival:
        segs.append(("DTM", ["017", _date(asn.expected_arrival)]))
    segs.append(("N1", ["SU", None, "92", asn.supplier_id]))
    if asn.ship_to_id:
        segs.append(("N1", ["ST", None, "92", asn.ship_to_id]))
    orders: dict[Optional[str], dict[Optional[str], list]] = {}
    for line in asn.lines:
        orders.setdefault(line.po_number, {}).setdefault(line.package_id, []).append(line)
    items = 0
    for po_number, packs in orders.items():
        order = new_hl(ship, "O")
        if po_number:
            segs.append(("PRF", [po_number]))
        for package_id, lines in packs.items():
            parent = order
            if package_id:
                parent = new_hl(order, "P")
                segs.append(("MAN", ["GM", package_id]))
            for line in lines:
                new_hl(parent, "I")
                items += 1
                lin = [str(line.po_line_no) if line.po_line_no is not None else None,
                       *_product_ids(line.material_id, line.supplier_material_id)]
                if line.batch_number and batch_in == "lin":
                    lin += ["LT", line.batch_number]
                segs.append(("LIN", lin))
                segs.append(("SN1", [str(line.line_no), _num(line.quantity), _unit(line.uom)]))
                if line.batch_number and batch_in == "ref":
                    segs.append(("REF", ["LT", line.batch_number]))
                if line.expiry_date:
                    segs.append(("DTM", ["036", _date(line.expiry_date)]))
    segs.append(("CTT", [str(items)]))
    w = _writer(sender, receiver, interchange_control, prepared, sender_qualifier, receiver_qualifier, usage)
    w.add_group("SH", group_control, "004010")
    w.add_transaction("856", transaction_control or group_control, segs)
    return w.to_bytes()
