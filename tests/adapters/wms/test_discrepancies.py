"""Scan-receiving discrepancies: pure comparisons of a neutral WMS receipt with its ASN."""
from __future__ import annotations

import datetime as dt

from adapters.wms.discrepancies import receiving_discrepancies
from canonical_model.documents import ShipmentNotice

NOTICE = ShipmentNotice(asn_number="DESADV-5", supplier_id="SUP-007", expected_arrival=dt.date(2026, 12, 1), lines=[
    {"line_no": 1, "po_number": "PO-1", "po_line_no": 1, "material_id": "M-1", "quantity": "50", "uom": "H87",
     "batch_number": "A"},
    {"line_no": 2, "po_number": "PO-1", "po_line_no": 1, "material_id": "M-1", "quantity": "50", "uom": "H87",
     "batch_number": "B"},
    {"line_no": 3, "material_id": "M-2", "quantity": "10", "uom": "H87", "batch_number": "C"},
    {"line_no": 4, "material_id": "M-3", "quantity": "5", "uom": "H87"},
])


def receipt(*lines, supplier="SUP-007") -> dict:
    return {"asn_no": "SUP-007/DESADV-5", "asn_code": "WH/IN/00009", "supplier": supplier,
            "lines": [{"sku": sku, "lot": lot, "qty_received": qty} for sku, lot, qty in lines]}


def kinds(found) -> list[tuple]:
    return [(d.kind, d.material_id, d.batch_number, d.qty_expected, d.qty_received, d.responsible_party) for d in found]


def test_exact_receipt_has_no_discrepancy():
    assert receiving_discrepancies(receipt(("M-1", "A", "50"), ("M-1", "B", "50.000"), ("M-2", "C", "10"),
                                           ("M-3", None, "5")), NOTICE) == []


def test_batch_split_differs_though_the_material_total_matches():
    found = receiving_discrepancies(receipt(("M-1", "A", "60"), ("M-1", "B", "40"), ("M-2", "C", "10")), NOTICE)
    assert kinds(found) == [("BATCH_QTY_OVER", "M-1", "A", "50", "60", "SUP-007"),
                            ("BATCH_QTY_SHORT", "M-1", "B", "50", "40", "SUP-007")]
    assert "short by 10" in found[1].message and found[1].key == "BATCH_QTY_SHORT:SUP-007:DESADV-5:M-1:B"


def test_unknown_batch_and_an_announced_batch_never_scanned():
    found = receiving_discrepancies(receipt(("M-1", "A", "50"), ("M-1", "X'9\"轴", "50"), ("M-2", "C", "10")), NOTICE)
    assert kinds(found) == [("UNKNOWN_BATCH", "M-1", "X'9\"轴", None, "50", "SUP-007"),
                            ("BATCH_QTY_SHORT", "M-1", "B", "50", "0", "SUP-007")]


def test_without_lots_no_per_batch_comparison_is_made():
    # GreaterWMS: totals per material are collaboration.alerts.receipt_mismatch's job, not repeated here
    assert receiving_discrepancies(receipt(("M-1", None, "70"), ("M-2", None, "1")), NOTICE) == []


def test_receipt_without_asn_names_the_supplier_or_the_warehouse():
    (known,) = receiving_discrepancies(receipt(("M-9", "Z", "3")), None)
    assert (known.kind, known.responsible_party, known.receipt_ref) == ("NO_ASN", "SUP-007", "WH/IN/00009")
    assert "3 M-9 lot Z" in known.message and known.key == "NO_ASN:SUP-007:WH/IN/00009"
    (unknown,) = receiving_discrepancies(receipt(("M-9", None, "3"), supplier=None), None)
    assert unknown.responsible_party == "warehouse" and "unknown supplier" in unknown.message


def test_hostile_quantities_do_not_crash_the_comparison():
    found = receiving_discrepancies(receipt(("M-2", "C", "NaN"), ("M-2", "C", "abc"), ("M-2", "C", "1e30")), NOTICE)
    assert kinds(found) == [("BATCH_QTY_OVER", "M-2", "C", "10", "1000000000000000000000000000000", "SUP-007")]


def test_asn_as_content_dict_works_like_the_document():
    lines = (("M-1", "A", "49"),)
    assert kinds(receiving_discrepancies(receipt(*lines), NOTICE.content())) == \
        kinds(receiving_discrepancies(receipt(*lines), NOTICE))
