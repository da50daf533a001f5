"""The first exception rules (formerly collaboration/alerts.py; re-exported by the package).

Each rule is a pure function with a reason code and a default responsible party; alert ids are
derived from the condition, so the same condition seen again updates the same Alert instead of
opening a second one."""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Optional

from canonical_model.documents import Alert, OrderResponse, PurchaseOrder, Receipt, ShipmentNotice, SubjectRef

#: who acts on a supplier's answer to an order, and on a shipment the warehouse already holds
BUYER = "buyer"
WAREHOUSE = "warehouse"


def short_shipment(asn: ShipmentNotice, purchase_orders: dict[str, PurchaseOrder]) -> list[Alert]:
    """SHORT_SHIPMENT: an ASN ships less of a PO line than was ordered (responsible: supplier).

    A cancelled ASN ships nothing and announces nothing: it is not short, it is withdrawn.
    """
    if asn.status == "cancelled":
        return []
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


def order_response(response: OrderResponse, purchase_orders: Optional[dict[str, PurchaseOrder]] = None) -> list[Alert]:
    """ORDER_REJECTED / ORDER_CHANGED: the supplier refuses or alters what was ordered (responsible: buyer).

    One alert per answered line the supplier rejected or changed; a line "accepted" with another
    quantity or date than the PO line counts as changed (suppliers do send that). A response
    rejected as a whole without lines raises one ORDER_REJECTED for the order.
    """
    po = (purchase_orders or {}).get(response.po_number)
    po_lines = {line.line_no: line for line in po.lines} if po else {}
    subjects = [SubjectRef(type="PurchaseOrder", key=response.po_number),
                SubjectRef(type="OrderResponse", key=response.business_key)]
    alerts = []
    if not response.lines and response.status == "rejected":
        alerts.append(Alert(
            alert_id=f"ORDER_REJECTED:{response.supplier_id}:{response.po_number}",
            alert_type="ORDER_REJECTED", severity="critical", responsible_party=BUYER, subjects=subjects,
            message=(f"Supplier {response.supplier_id} rejected PO {response.po_number} as a whole"
                     f"{_ref(response)}. Next: the buyer places the demand with another supplier or "
                     f"renegotiates, and cancels or changes the PO.")))
    for line in response.lines:
        ordered = po_lines.get(line.line_no)
        what = f"PO {response.po_number} line {line.line_no}" + (f" ({line.material_id})" if line.material_id else "")
        if line.action == "rejected":
            alerts.append(Alert(
                alert_id=f"ORDER_REJECTED:{response.supplier_id}:{response.po_number}:{line.line_no}",
                alert_type="ORDER_REJECTED", severity="critical", responsible_party=BUYER, subjects=subjects,
                message=(f"Supplier {response.supplier_id} rejected {what}{_ref(response)}"
                         f"{': ' + line.reason if line.reason else ''}. Next: the buyer sources the line "
                         f"elsewhere or agrees a change, then changes the PO.")))
            continue
        differences = _differences(line, ordered)
        if line.action == "changed" or differences:
            alerts.append(Alert(
                alert_id=f"ORDER_CHANGED:{response.supplier_id}:{response.po_number}:{line.line_no}",
                alert_type="ORDER_CHANGED", severity="warning", responsible_party=BUYER, subjects=subjects,
                message=(f"Supplier {response.supplier_id} changed {what}{_ref(response)}: "
                         f"{'; '.join(differences) or 'see the response'}"
                         f"{' (' + line.reason + ')' if line.reason else ''}. Next: the buyer accepts the "
                         f"change (and updates the PO and the plan) or rejects it with the supplier.")))
    return alerts


def _ref(response: OrderResponse) -> str:
    return f" in response {response.response_number}" if response.response_number else ""


def _differences(line, ordered) -> list[str]:
    """What a response line promises other than the PO line ordered (nothing known: nothing said)."""
    out = []
    if line.quantity is not None:
        if ordered is None:
            out.append(f"promises {_q(line.quantity)}")
        elif line.quantity != ordered.quantity:
            out.append(f"promises {_q(line.quantity)} {ordered.uom}, ordered {_q(ordered.quantity)}")
    if line.delivery_date is not None:
        if ordered is None or ordered.delivery_date is None:
            out.append(f"delivers on {line.delivery_date.isoformat()}")
        elif line.delivery_date != ordered.delivery_date:
            out.append(f"delivers on {line.delivery_date.isoformat()}, requested "
                       f"{ordered.delivery_date.isoformat()}")
    # without the PO a quantity or date on an accepted line is a confirmation, not a change
    return out if ordered is not None else []


def receiving_discrepancy(discrepancy: Any, receipt_id: str, asn: Optional[ShipmentNotice]) -> Alert:
    """UNKNOWN_BATCH / BATCH_QTY_SHORT / BATCH_QTY_OVER / NO_ASN found by scan receiving
    (adapters/wms/discrepancies.py); per-material totals are :func:`receipt_mismatch`'s."""
    subjects = [SubjectRef(type="Receipt", key=receipt_id)]
    if asn is not None:
        subjects.insert(0, SubjectRef(type="ShipmentNotice", key=asn.business_key))
    return Alert(alert_id=discrepancy.key, alert_type=discrepancy.kind,
                 severity="critical" if discrepancy.kind == "NO_ASN" else "warning",
                 responsible_party=discrepancy.responsible_party, subjects=subjects, message=discrepancy.message)


def asn_cancel_too_late(asn: ShipmentNotice, asn_code: str, reason: str) -> Alert:
    """ASN_CANCEL_TOO_LATE: the supplier cancelled an ASN the warehouse already started receiving."""
    return Alert(
        alert_id=f"ASN_CANCEL_TOO_LATE:{asn.business_key}",
        alert_type="ASN_CANCEL_TOO_LATE", severity="critical", responsible_party=WAREHOUSE,
        subjects=[SubjectRef(type="ShipmentNotice", key=asn.business_key)],
        message=(f"Supplier {asn.supplier_id} cancelled ASN {asn.asn_number}, but the WMS inbound {asn_code} "
                 f"is already being received ({reason}); it was not withdrawn. Next: the warehouse checks "
                 f"what physically arrived, books it or returns it, and closes the inbound in the WMS."))


def _q(value: Decimal) -> str:
    return format(value.normalize(), "f")

