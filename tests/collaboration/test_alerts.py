"""Alert rules: when they fire, whom they name, and that the same condition keeps one id."""
from __future__ import annotations

import datetime as dt

from canonical_model.documents import PurchaseOrder, Receipt, ShipmentNotice
from collaboration.alerts import receipt_mismatch, short_shipment

PO = PurchaseOrder(po_number="PO-1", supplier_id="SUP-001", order_date=dt.date(2026, 11, 20), lines=[
    {"line_no": 1, "material_id": "M-1", "quantity": "100", "uom": "H87"},
    {"line_no": 2, "material_id": "M-2", "quantity": "50", "uom": "H87"}])


def asn(*lines, number="ASN-1") -> ShipmentNotice:
    return ShipmentNotice(asn_number=number, supplier_id="SUP-001", lines=[
        {"line_no": i, "po_number": "PO-1", "po_line_no": po_line, "material_id": m, "quantity": q, "uom": "H87"}
        for i, (po_line, m, q) in enumerate(lines, start=1)])


def test_short_line_raises_one_alert_naming_supplier_po_and_quantities():
    (alert,) = short_shipment(asn((1, "M-1", "100"), (2, "M-2", "40")), {"PO-1": PO})
    assert alert.alert_type == "SHORT_SHIPMENT" and alert.responsible_party == "SUP-001"
    assert alert.alert_id == "SHORT_SHIPMENT:SUP-001:ASN-1:PO-1:2"
    assert "ships 40 H87 of M-2" in alert.message and "ordered 50" in alert.message and "10 short" in alert.message
    assert [(s.type, s.key) for s in alert.subjects] == [("PurchaseOrder", "PO-1"),
                                                         ("ShipmentNotice", "SUP-001/ASN-1")]


def test_full_or_split_lines_summing_to_the_order_raise_nothing():
    assert short_shipment(asn((1, "M-1", "100"), (2, "M-2", "50")), {"PO-1": PO}) == []
    assert short_shipment(asn((1, "M-1", "60"), (1, "M-1", "40"), (2, "M-2", "50")), {"PO-1": PO}) == []


def test_unknown_po_or_line_is_not_this_rules_business():
    # validation quarantines those (PO_NOT_FOUND); the alert rule must not crash on them
    assert short_shipment(asn((9, "M-1", "1")), {"PO-1": PO}) == []
    assert short_shipment(asn((1, "M-1", "1")), {}) == []


def test_same_condition_gives_the_same_alert_id():
    first = short_shipment(asn((1, "M-1", "90")), {"PO-1": PO})
    again = short_shipment(asn((1, "M-1", "90")), {"PO-1": PO})
    assert first == again


def test_receipt_count_differing_from_asn_raises_mismatch():
    shipment = asn((1, "M-1", "100"), (2, "M-2", "50"))
    receipt = Receipt(receipt_id="RCV-1", asn_number="ASN-1", supplier_id="SUP-001",
                      received_at=dt.datetime(2026, 11, 27, 9), lines=[
                          {"line_no": 1, "material_id": "M-1", "quantity": "100", "uom": "H87"},
                          {"line_no": 2, "material_id": "M-2", "quantity": "45", "uom": "H87"}])
    (alert,) = receipt_mismatch(receipt, shipment)
    assert alert.alert_id == "RECEIPT_QTY_MISMATCH:SUP-001:ASN-1:M-2"
    assert "counted 45 of M-2" in alert.message and "announced 50" in alert.message
    exact = receipt.model_copy(update={"lines": [l.model_copy(update={"quantity": shipment.lines[i].quantity})
                                                 for i, l in enumerate(receipt.lines)]})
    assert receipt_mismatch(exact, shipment) == []
