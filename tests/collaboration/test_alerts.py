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


# -- cancellations and order responses -----------------------------------------------------

from canonical_model.documents import OrderResponse  # noqa: E402
from collaboration.alerts import asn_cancel_too_late, order_response  # noqa: E402


def test_a_cancelled_asn_is_never_short():
    short = asn((1, "M-1", "10"))
    assert len(short_shipment(short, {"PO-1": PO})) == 1
    assert short_shipment(short.model_copy(update={"status": "cancelled"}), {"PO-1": PO}) == []


def response(status, *lines, number="RSP-1") -> OrderResponse:
    return OrderResponse(po_number="PO-1", supplier_id="SUP-001", response_number=number, status=status,
                         lines=[dict(line_no=n, action=a, **kw) for n, a, kw in lines])


def test_rejected_and_changed_lines_raise_one_alert_each_for_the_buyer():
    dated = PO.model_copy(update={"lines": [PO.lines[0].model_copy(update={"delivery_date": dt.date(2026, 12, 1)}),
                                            PO.lines[1]]})
    got = order_response(response("changed", (1, "changed", {"quantity": "80", "delivery_date": "2026-12-08"}),
                                  (2, "rejected", {"reason": "Discontinued"})), {"PO-1": dated})
    assert [(a.alert_type, a.alert_id, a.responsible_party, a.severity) for a in got] == [
        ("ORDER_CHANGED", "ORDER_CHANGED:SUP-001:PO-1:1", "buyer", "warning"),
        ("ORDER_REJECTED", "ORDER_REJECTED:SUP-001:PO-1:2", "buyer", "critical")]
    changed, rejected = got
    assert "promises 80 H87, ordered 100" in changed.message
    assert "delivers on 2026-12-08, requested 2026-12-01" in changed.message
    assert "rejected PO PO-1 line 2" in rejected.message and "Discontinued" in rejected.message
    assert [(s.type, s.key) for s in changed.subjects] == [("PurchaseOrder", "PO-1"),
                                                           ("OrderResponse", "SUP-001/PO-1")]


def test_accepted_lines_raise_nothing_unless_they_differ_from_the_po():
    same = response("accepted", (1, "accepted", {"quantity": "100"}), (2, "accepted", {}))
    assert order_response(same, {"PO-1": PO}) == []
    assert order_response(same) == []  # no PO known: a confirmation, not a change
    (alert,) = order_response(response("accepted", (2, "accepted", {"quantity": "45"})), {"PO-1": PO})
    assert alert.alert_type == "ORDER_CHANGED" and "promises 45 H87, ordered 50" in alert.message


def test_a_whole_order_rejection_without_lines_raises_one_alert():
    (alert,) = order_response(response("rejected"))
    assert alert.alert_id == "ORDER_REJECTED:SUP-001:PO-1" and alert.responsible_party == "buyer"
    assert order_response(response("accepted")) == []


def test_cancel_too_late_names_the_warehouse_and_the_inbound():
    alert = asn_cancel_too_late(asn((1, "M-1", "10")), "ASN00000007", "WMS status 4")
    assert (alert.alert_type, alert.responsible_party, alert.alert_id) == (
        "ASN_CANCEL_TOO_LATE", "warehouse", "ASN_CANCEL_TOO_LATE:SUP-001/ASN-1")
    assert "ASN00000007" in alert.message and "status 4" in alert.message


def test_scan_receiving_discrepancies_become_alerts_for_the_supplier_with_stable_ids():
    from adapters.wms.discrepancies import receiving_discrepancies
    from collaboration.alerts import receiving_discrepancy

    announced = ShipmentNotice(asn_number="ASN-9", supplier_id="SUP-001", lines=[
        {"line_no": 1, "material_id": "1.02.0033", "quantity": "50", "uom": "H87", "batch_number": "LOT-A"},
        {"line_no": 2, "material_id": "1.02.0033", "quantity": "50", "uom": "H87", "batch_number": "LOT-B"}])
    # the material total matches (100), but the lots do not: 60 of A, 40 of an unannounced lot C
    counted = {"asn_code": "WH/IN/00009", "supplier": "SUP-001", "lines": [
        {"sku": "1.02.0033", "qty_received": "60", "lot": "LOT-A"},
        {"sku": "1.02.0033", "qty_received": "40", "lot": "LOT-C"}]}
    found = [receiving_discrepancy(d, "RCV-9", announced) for d in receiving_discrepancies(counted, announced)]
    kinds = sorted(a.alert_type for a in found)
    assert kinds == ["BATCH_QTY_OVER", "BATCH_QTY_SHORT", "UNKNOWN_BATCH"]
    assert {a.responsible_party for a in found} == {"SUP-001"}
    assert all(a.subjects[0].key == "SUP-001/ASN-9" and a.subjects[1].key == "RCV-9" for a in found)
    again = [receiving_discrepancy(d, "RCV-9", announced) for d in receiving_discrepancies(counted, announced)]
    assert [a.alert_id for a in again] == [a.alert_id for a in found]  # the same condition, the same alert

    orphan = receiving_discrepancies({"asn_code": "WH/IN/00010", "lines": [{"sku": "1.02.0041", "qty_received": "5"}]})
    (alert,) = [receiving_discrepancy(d, "RCV-10", None) for d in orphan]
    assert (alert.alert_type, alert.severity, alert.responsible_party) == ("NO_ASN", "critical", "warehouse")
    assert [s.type for s in alert.subjects] == ["Receipt"]
