"""Exception rules that raise Alerts. Each rule is a pure function with a reason code and a
default responsible party; alert ids are derived from the condition, so the same condition
seen again updates the same Alert instead of opening a second one."""
from __future__ import annotations

from decimal import Decimal
from canonical_model.documents import Alert, PurchaseOrder, Receipt, ShipmentNotice, SubjectRef


def short_shipment(asn: ShipmentNotice, purchase_orders: dict[str, PurchaseOrder]) -> list[Alert]:
    """SHORT_SHIPMENT: an ASN ships less of a PO line than was ordered (responsible: supplier)."""
    shipped: dict[tuple[str, int], Decimal] = {}
    for line in asn.lines:
        if line.po_number and line.po_line_no:
            key = (line.po_number, line.po_line_no)
            shipped[key] = shipped.get(key, Decimal(0)) + line.quantity
    alerts = []
    for (po_number, po_line_no), qty in sorted(shipped.items()):
        po = purchase_orders.get(po_number)
        po_line = next((l for l in po.lines if l.line_no == po_line_no), None) if po else None
        if po_line is None or qty >= po_line.quantity:
            continue
        missing = po_line.quantity - qty
        alerts.append(Alert(
            alert_id=f"SHORT_SHIPMENT:{asn.supplier_id}:{asn.asn_number}:{po_number}:{po_line_no}",
            alert_type="SHORT_SHIPMENT", severity="warning", responsible_party=asn.supplier_id,
            subjects=[SubjectRef(type="PurchaseOrder", key=po_number),
                      SubjectRef(type="ShipmentNotice", key=asn.business_key)],
            message=(f"ASN {asn.asn_number} ships {_q(qty)} {po_line.uom} of {po_line.material_id} for PO "
                     f"{po_number} line {po_line_no}, ordered {_q(po_line.quantity)}: {_q(missing)} short. "
                     f"Next: supplier {asn.supplier_id} confirms a delivery date for the rest, or the buyer "
                     f"reduces the PO."),
        ))
    return alerts


def receipt_mismatch(receipt: Receipt, asn: ShipmentNotice) -> list[Alert]:
    """RECEIPT_QTY_MISMATCH: the warehouse counted another quantity than the ASN announced."""
    announced: dict[str, Decimal] = {}
    for line in asn.lines:
        announced[line.material_id] = announced.get(line.material_id, Decimal(0)) + line.quantity
    received: dict[str, Decimal] = {}
    for line in receipt.lines:
        received[line.material_id] = received.get(line.material_id, Decimal(0)) + line.quantity
    alerts = []
    for material in sorted(set(announced) | set(received)):
        want, got = announced.get(material, Decimal(0)), received.get(material, Decimal(0))
        if want == got:
            continue
        alerts.append(Alert(
            alert_id=f"RECEIPT_QTY_MISMATCH:{asn.supplier_id}:{asn.asn_number}:{material}",
            alert_type="RECEIPT_QTY_MISMATCH", severity="warning", responsible_party=asn.supplier_id,
            subjects=[SubjectRef(type="ShipmentNotice", key=asn.business_key),
                      SubjectRef(type="Receipt", key=receipt.receipt_id)],
            message=(f"Receipt {receipt.receipt_id} counted {_q(got)} of {material}, ASN {asn.asn_number} "
                     f"announced {_q(want)}. Next: receiving checks the count; the supplier is asked for a "
                     f"credit note or the missing goods."),
        ))
    return alerts


def _q(value: Decimal) -> str:
    return format(value.normalize(), "f")

