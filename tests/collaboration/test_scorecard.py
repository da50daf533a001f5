"""Supplier scorecards: numbers worked out by hand, missing data, bad config, hostile input, store."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from canonical_model.documents import (Batch, Inspection, OrderResponse, Party, PurchaseOrder, Receipt,
                                       ShipmentNotice)
from canonical_model.store import audit, documents
from collaboration import scorecard
from collaboration.scorecard import PlanAck, SupplierScore, load_config, score_suppliers
from hub.errors import FatalError

CONFIG_TEXT = """\
timezone: Asia/Shanghai
otif:
  days_early: 2
  days_late: 0
  quantity_tolerance_pct: 2
quality:
  conditional_is_accepted: false
  ppm_full_marks: 0
  ppm_zero_marks: 5000
responsiveness:
  full_marks_hours: 24
  zero_marks_hours: 120
  unanswered_counts_as_hours: 120
asn:
  quantity_tolerance_pct: 0
weights:
  otif: 35
  lot_acceptance: 15
  ppm: 15
  responsiveness: 15
  asn_accuracy: 20
grades:
  A: 90
  B: 75
  C: 60
"""
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture(scope="module")
def cfg(tmp_path_factory):
    path = tmp_path_factory.mktemp("scorecard") / "scorecard.yaml"
    path.write_text(CONFIG_TEXT, encoding="utf-8")
    return load_config(path)


def at(month: int, day: int, hour: int = 8, minute: int = 0) -> dt.datetime:
    """A 2026 moment in plant time (UTC+8)."""
    return dt.datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


def d(month: int, day: int) -> dt.date:
    return dt.date(2026, month, day)


def po(number: str, supplier: str, ordered: dt.date, *lines: tuple, status: str = "open") -> PurchaseOrder:
    """lines: (line_no, quantity, delivery_date)"""
    return PurchaseOrder(po_number=number, supplier_id=supplier, order_date=ordered, status=status, lines=[
        {"line_no": n, "material_id": "M-1", "quantity": str(q), "uom": "H87", "delivery_date": due}
        for n, q, due in lines])


def answer(number: str, supplier: str, when, status: str = "accepted", *lines: tuple) -> OrderResponse:
    """lines: (line_no, action, promised date)"""
    return OrderResponse(po_number=number, supplier_id=supplier, status=status, responded_at=when, lines=[
        {"line_no": n, "action": action, "delivery_date": promised} for n, action, promised in lines])


def receipt(rid: str, supplier, when, *lines: tuple, asn: str | None = None) -> Receipt:
    """lines: (po_number, po_line_no, quantity, batch_id)"""
    return Receipt(receipt_id=rid, supplier_id=supplier, asn_number=asn, received_at=when, lines=[
        {"line_no": i, "po_number": p, "po_line_no": pl, "material_id": "M-1", "quantity": str(q), "uom": "H87",
         "batch_id": batch} for i, (p, pl, q, batch) in enumerate(lines, 1)])


def asn(number: str, supplier: str, *lines: tuple) -> ShipmentNotice:
    """lines: (quantity, lot)"""
    return ShipmentNotice(asn_number=number, supplier_id=supplier, lines=[
        {"line_no": i, "material_id": "M-1", "quantity": str(q), "uom": "H87", "batch_number": lot}
        for i, (q, lot) in enumerate(lines, 1)])


def insp(iid: str, batch: str, result: str, inspected, rejected, when, supplier=None, po_number=None) -> Inspection:
    return Inspection(inspection_id=iid, batch_id=batch, material_id="M-1", supplier_id=supplier, po_number=po_number,
                      inspected_quantity=str(inspected), rejected_quantity=str(rejected), uom="H87", result=result,
                      inspected_at=when)


AS_OF = at(11, 15, 12)

# ---------------------------------------------------------------- the worked example: 2 suppliers x 2 months
PURCHASE_ORDERS = [
    po("PO-A1", "SUP-A", d(9, 1), (1, 100, d(9, 10)), (2, 50, d(9, 20))),
    po("PO-A2", "SUP-A", d(9, 3), (1, 200, d(9, 25))),
    po("PO-A3", "SUP-A", d(10, 8), (1, 300, d(10, 15)), (2, 100, d(10, 20))),
    po("PO-B1", "SUP-B", d(9, 5), (1, 40, d(9, 15))),
    po("PO-B2", "SUP-B", d(10, 1), (1, 80, d(10, 10)), (2, 80, d(11, 20))),
    po("PO-B3", "SUP-B", d(10, 12), (1, 50, d(10, 20))),
]
RESPONSES = [
    answer("PO-A1", "SUP-A", at(9, 1, 12)),
    answer("PO-A2", "SUP-A", at(9, 4, 12), "changed", (1, "changed", d(9, 28))),
    answer("PO-A3", "SUP-A", at(10, 10, 0)),
    answer("PO-B1", "SUP-B", at(9, 5, 6)),
    answer("PO-B3", "SUP-B", at(10, 15, 0)),
]
RECEIPTS = [
    receipt("R-A1", "SUP-A", at(9, 10), ("PO-A1", 1, 100, "SUP-A:L1"), asn="ASN-A1"),
    receipt("R-A2", "SUP-A", at(9, 21), ("PO-A1", 2, 50, "SUP-A:L2"), asn="ASN-A2"),
    receipt("R-A3", "SUP-A", at(9, 27), ("PO-A2", 1, 196, "SUP-A:L3"), asn="ASN-A3"),
    receipt("R-A4", "SUP-A", at(10, 12), ("PO-A3", 1, 100, None), asn="ASN-A4"),
    receipt("R-A5", "SUP-A", at(10, 14), ("PO-A3", 1, 200, None), asn="ASN-A4"),
    receipt("R-A6", "SUP-A", at(10, 20), ("PO-A3", 2, 100, None)),
    receipt("R-B1", "SUP-B", at(9, 15), ("PO-B1", 1, 40, None)),
    receipt("R-B2", "SUP-B", at(10, 20), ("PO-B3", 1, 50, None), asn="ASN-B2"),
]
SHIPMENT_NOTICES = [
    asn("ASN-A1", "SUP-A", (100, "L1")),
    asn("ASN-A2", "SUP-A", (50, "L9")),
    asn("ASN-A3", "SUP-A", (200, "L3")),
    asn("ASN-A4", "SUP-A", (300, None)),
    asn("ASN-B2", "SUP-B", (50, None)),
    asn("ASN-B9", "SUP-B", (10, None)),  # never received: not counted
]
INSPECTIONS = [
    insp("I-A1", "SUP-A:L1", "pass", 1000, 0, at(9, 10, 15), "SUP-A"),
    insp("I-A2", "SUP-A:L2", "fail", 500, 4, at(9, 21, 15), "SUP-A"),
    insp("I-A3", "SUP-A:L3", "pass", 500, 0, at(9, 27, 15), "SUP-A"),
    insp("I-A4", "SUP-A:L4", "conditional", 0, 0, at(9, 28, 15), "SUP-A"),
    insp("I-B1", "SUP-B:LB1", "pass", 400, 0, at(9, 16)),                      # supplier from the Batch
    insp("I-B2", "SUP-B:LB2", "conditional", 1000, 10, at(10, 21), po_number="PO-B3"),  # ... from the PO
    insp("I-B2-RE", "SUP-B:LB2", "pass", 1000, 0, at(10, 25), "SUP-B"),        # re-inspection: first decides
]
BATCHES = [Batch(batch_id="SUP-B:LB1", material_id="M-1", supplier_id="SUP-B", quantity="40", uom="H87")]
PLAN_ACKS = [PlanAck("SUP-A", at(10, 5, 9), at(10, 5, 15), "SUP-A/DS-1")]


def worked_example(cfg, **overrides) -> dict[tuple[str, str], SupplierScore]:
    inputs = dict(purchase_orders=PURCHASE_ORDERS, order_responses=RESPONSES, shipment_notices=SHIPMENT_NOTICES,
                  receipts=RECEIPTS, inspections=INSPECTIONS, batches=BATCHES, plan_acks=PLAN_ACKS, config=cfg,
                  as_of=AS_OF)
    inputs.update(overrides)
    return {(s.supplier_id, s.month): s for s in score_suppliers(**inputs)}


def test_worked_example_two_suppliers_two_months(cfg):
    scores = worked_example(cfg)
    # PO-B2 line 2 is due 11-20, after AS_OF, with nothing received: pending, so no 2026-11 row
    assert list(scores) == [("SUP-A", "2026-09"), ("SUP-A", "2026-10"), ("SUP-B", "2026-09"), ("SUP-B", "2026-10")]

    # SUP-A 2026-09
    # OTIF: PO-A1/1 due 09-10, 100 received 09-10: hit. PO-A1/2 due 09-20, received 09-21 (late 0 days
    #   allowed): miss. PO-A2/1 promised 09-28 (the answer moved it), 196 received 09-27, 196 >= 200 x 0.98:
    #   hit. 2 / 3 = 0.6667 -> 66.666.. points.
    # Lots: L1 pass, L2 fail, L3 pass, L4 conditional (not accepted): 2 / 4 = 0.5 -> 50 points.
    # PPM: (0 + 4 + 0) / (1000 + 500 + 500) (L4 inspected nothing) = 2000 ppm -> 100 x (5000-2000)/5000 = 60.
    # Response: PO-A1 09-01 00:00 -> 09-01 12:00 = 12 h; PO-A2 09-03 00:00 -> 09-04 12:00 = 36 h;
    #   median 24 -> 100 points.
    # ASN: A1 100 lot L1 = received: accurate; A2 advised lot L9, got L2: not; A3 advised 200, got 196: not.
    #   1 / 3 -> 33.33 points.
    # Score: (35 x 66.667 + 15 x 50 + 15 x 60 + 15 x 100 + 20 x 33.333) / 100 = 6150 / 100 = 61.5 -> C.
    a9 = scores[("SUP-A", "2026-09")]
    assert (a9.deliveries, a9.otif, a9.lots, a9.lot_acceptance, a9.ppm, a9.response_hours_median,
            a9.asn_accuracy, a9.score, a9.grade) == (3, Decimal("0.6667"), 4, Decimal("0.5000"), Decimal("2000.0"),
                                                     Decimal("24.0"), Decimal("0.3333"), Decimal("61.5"), "C")
    assert a9.notes == ()

    # SUP-A 2026-10
    # OTIF: PO-A3/1 300 due 10-15, window 10-13..10-15: R-A4 (10-12, 100) is early and does not count,
    #   R-A5 (10-14) 200 < 294: miss. PO-A3/2 100 on 10-20: hit. 1 / 2 -> 50 points.
    # No inspections: lot acceptance and PPM have no data and drop out with their weights.
    # Response: PO-A3 10-08 00:00 -> 10-10 00:00 = 48 h; plan ack 09:00 -> 15:00 = 6 h; median 27 h
    #   -> 100 x (120 - 27) / (120 - 24) = 96.875 points.
    # ASN: A4 advised 300, R-A4 + R-A5 brought 100 + 200: accurate, 1 / 1 -> 100 points.
    # Score: (35 x 50 + 15 x 96.875 + 20 x 100) / (35 + 15 + 20) = 5203.125 / 70 = 74.33 -> 74.3 -> C.
    a10 = scores[("SUP-A", "2026-10")]
    assert (a10.deliveries, a10.otif, a10.lots, a10.lot_acceptance, a10.ppm, a10.response_hours_median,
            a10.asn_accuracy, a10.score, a10.grade) == (2, Decimal("0.5000"), 0, None, None, Decimal("27.0"),
                                                        Decimal("1.0000"), Decimal("74.3"), "C")
    assert a10.notes == ("no data for lot_acceptance, ppm: weight shared among the other metrics",)

    # SUP-B 2026-09: PO-B1 40 on 09-15 (hit); answer 6 h; lot LB1 (supplier from its Batch) pass, 0 ppm;
    # no ASN. Score: (35 + 15 + 15 + 15) x 100 / 80 = 100 -> A.
    b9 = scores[("SUP-B", "2026-09")]
    assert (b9.deliveries, b9.otif, b9.lots, b9.lot_acceptance, b9.ppm, b9.response_hours_median,
            b9.asn_accuracy, b9.score, b9.grade) == (1, Decimal("1.0000"), 1, Decimal("1.0000"), Decimal("0.0"),
                                                     Decimal("6.0"), None, Decimal("100.0"), "A")

    # SUP-B 2026-10
    # OTIF: PO-B2/1 80 due 10-10, nothing received, window closed: miss; PO-B3/1 50 on 10-20: hit. 1 / 2.
    # Lot LB2 (supplier from PO-B3): first inspection conditional, 10 of 1000 rejected -> 0 accepted of 1,
    #   10000 ppm >= 5000 -> 0 points; the later re-inspection is ignored.
    # Response: PO-B2 unanswered (SUP-B does answer POs) counts as 120 h; PO-B3 10-12 -> 10-15 = 72 h;
    #   median 96 -> 100 x (120 - 96) / 96 = 25 points.
    # ASN: B2 50 = 50 received: 1 / 1. ASN-B9 was never received: not counted.
    # Score: (35 x 50 + 15 x 0 + 15 x 0 + 15 x 25 + 20 x 100) / 100 = 4125 / 100 = 41.25 -> 41.3 (half up) -> D.
    b10 = scores[("SUP-B", "2026-10")]
    assert (b10.deliveries, b10.otif, b10.lots, b10.lot_acceptance, b10.ppm, b10.response_hours_median,
            b10.asn_accuracy, b10.score, b10.grade) == (2, Decimal("0.5000"), 1, Decimal("0.0000"),
                                                        Decimal("10000.0"), Decimal("96.0"), Decimal("1.0000"),
                                                        Decimal("41.3"), "D")
    assert b10.notes == ("PO-B2: unanswered, counted as 120 h",)


def test_trend_months_and_as_dict(cfg):
    scores = score_suppliers(purchase_orders=PURCHASE_ORDERS, order_responses=RESPONSES,
                             shipment_notices=SHIPMENT_NOTICES, receipts=RECEIPTS, inspections=INSPECTIONS,
                             batches=BATCHES, plan_acks=PLAN_ACKS, config=cfg, as_of=AS_OF)
    assert scorecard.trend(scores) == {"SUP-A": [("2026-09", Decimal("61.5")), ("2026-10", Decimal("74.3"))],
                                       "SUP-B": [("2026-09", Decimal("100.0")), ("2026-10", Decimal("41.3"))]}
    october = score_suppliers(purchase_orders=PURCHASE_ORDERS, order_responses=RESPONSES,
                              shipment_notices=SHIPMENT_NOTICES, receipts=RECEIPTS, inspections=INSPECTIONS,
                              batches=BATCHES, plan_acks=PLAN_ACKS, config=cfg, as_of=AS_OF, months=["2026-10"])
    assert [(s.supplier_id, s.month) for s in october] == [("SUP-A", "2026-10"), ("SUP-B", "2026-10")]
    assert october[0].as_dict() == {
        "supplier_id": "SUP-A", "month": "2026-10", "deliveries": 2, "otif": "0.5000", "lots": 0,
        "lot_acceptance": None, "ppm": None, "response_hours_median": "27.0", "asn_accuracy": "1.0000",
        "score": "74.3", "grade": "C",
        "notes": ["no data for lot_acceptance, ppm: weight shared among the other metrics"]}
    with pytest.raises(FatalError) as exc:
        score_suppliers(purchase_orders=[], order_responses=[], shipment_notices=[], receipts=[], inspections=[],
                        config=cfg, months=["2026-13"])
    assert exc.value.code == "BAD_MONTH"


def test_as_of_decides_what_is_still_pending(cfg):
    # on 10-10 the window of PO-B2/1 (due 10-10) is still open: not yet a miss; PO-B3 not yet answered
    # but only 10-12 00:00 -> 10-10 is before its order date, so not overdue either
    early = worked_example(cfg, as_of=at(10, 10, 12))
    b10 = early[("SUP-B", "2026-10")]
    # PO-B2 (10-01) is 9 days old and unanswered -> 120 h; nothing else answered in October yet
    assert (b10.deliveries, b10.otif, b10.response_hours_median) == (0, None, Decimal("120.0"))
    assert ("SUP-A", "2026-09") in early and early[("SUP-A", "2026-09")].score == Decimal("61.5")


# ---------------------------------------------------------------- missing data


def test_a_metric_without_data_is_none_and_its_weight_is_shared(cfg):
    # only quality data: 1 of 2 lots accepted (50 points); 1 of 1000 rejected = 1000 ppm -> 80 points;
    # (15 x 50 + 15 x 80) / 30 = 65 -> C. Counting the missing metrics as 0 would give 19.5, as 100 82.5.
    [only] = score_suppliers(purchase_orders=[], order_responses=[], shipment_notices=[], receipts=[], config=cfg,
                             inspections=[insp("I-1", "Q:1", "pass", 600, 0, at(9, 1), "SUP-Q"),
                                          insp("I-2", "Q:2", "fail", 400, 1, at(9, 2), "SUP-Q")])
    assert (only.otif, only.lot_acceptance, only.ppm, only.response_hours_median, only.asn_accuracy) == (
        None, Decimal("0.5000"), Decimal("1000.0"), None, None)
    assert (only.score, only.grade) == (Decimal("65.0"), "C")
    assert only.notes == ("no data for otif, responsiveness, asn_accuracy: weight shared among the other metrics",)


def test_no_data_at_all_gives_no_rows_and_a_note_only_row_has_no_score(cfg):
    assert score_suppliers(purchase_orders=[], order_responses=[], shipment_notices=[], receipts=[],
                           inspections=[], config=cfg) == []
    # a PO line ordering 0: no delivery, but the supplier-month says why
    [row] = score_suppliers(purchase_orders=[po("PO-0", "SUP-Z", d(9, 1), (1, 0, d(9, 5)))], order_responses=[],
                            shipment_notices=[], receipts=[], inspections=[], config=cfg, as_of=AS_OF)
    assert (row.supplier_id, row.month, row.deliveries, row.score, row.grade) == ("SUP-Z", "2026-09", 0, None, None)
    assert row.notes == ("PO-0 line 1: quantity 0 ordered, not in OTIF", "no metric with data: no score")


def test_unanswered_orders_count_only_for_suppliers_that_answer_and_can_be_switched_off(cfg):
    silent = po("PO-S", "SUP-S", d(9, 1), (1, 10, d(9, 10)))
    # SUP-S never answers any PO: it is not asked to; responsiveness has no data
    [row] = score_suppliers(purchase_orders=[silent], order_responses=[], shipment_notices=[], receipts=[],
                            inspections=[], config=cfg, as_of=AS_OF)
    assert row.response_hours_median is None
    # with unanswered_counts_as_hours null, SUP-B's unanswered PO-B2 drops out: only 72 h remains
    from dataclasses import replace
    scores = worked_example(replace(cfg, unanswered_counts_as_hours=None))
    assert scores[("SUP-B", "2026-10")].response_hours_median == Decimal("72.0")


# ---------------------------------------------------------------- hostile input


def test_a_receipt_delivered_twice_is_counted_once(cfg):
    order = po("PO-1", "SUP-D", d(9, 1), (1, 100, d(9, 10)))
    twice = receipt("R-1", "SUP-D", at(9, 10), ("PO-1", 1, 60, None), asn="ASN-1")
    notice = asn("ASN-1", "SUP-D", (60, None))
    [row] = score_suppliers(purchase_orders=[order, order], order_responses=[], shipment_notices=[notice, notice],
                            receipts=[twice, twice.model_copy()], inspections=[], config=cfg, as_of=AS_OF)
    # once: 60 < 98 is a miss and 60 = 60 advised is accurate; twice it would be 120: a hit and inaccurate
    assert (row.deliveries, row.otif, row.asn_accuracy) == (1, Decimal("0.0000"), Decimal("1.0000"))


def test_zero_and_negative_quantities_are_skipped_with_a_note(cfg):
    order = po("PO-1", "SUP-N", d(9, 1), (1, 100, d(9, 10)), (2, -5, d(9, 10)))
    good = receipt("R-1", "SUP-N", at(9, 10), ("PO-1", 1, 100, None), asn="ASN-1")
    reversal = receipt("R-2", "SUP-N", at(9, 10, 9), ("PO-1", 1, -100, None), ("PO-1", 1, 0, None))
    notice = asn("ASN-1", "SUP-N", (100, None), (0, None))
    [row] = score_suppliers(purchase_orders=[order], order_responses=[], shipment_notices=[notice],
                            receipts=[good, reversal], inspections=[], config=cfg, as_of=AS_OF)
    # the -100 does not cancel the delivery; line 2 ordering -5 is not a delivery
    assert (row.deliveries, row.otif, row.asn_accuracy) == (1, Decimal("1.0000"), Decimal("1.0000"))
    assert row.notes[:4] == ("receipt R-2 line 1: quantity -100 is not a delivery, skipped",
                             "receipt R-2 line 2: quantity 0 is not a delivery, skipped",
                             "PO-1 line 2: quantity -5 ordered, not in OTIF",
                             "ASN ASN-1 line 2: quantity 0 advised, skipped")


def test_naive_timestamps_are_plant_time_and_aware_ones_are_converted(cfg):
    order = po("PO-1", "SUP-T", d(9, 1), (1, 10, d(9, 15)))
    # 09-15 17:00 UTC is 09-16 01:00 in Shanghai: one day late although "09-15" in UTC
    aware_late = receipt("R-1", "SUP-T", dt.datetime(2026, 9, 15, 17, 0, tzinfo=dt.timezone.utc), ("PO-1", 1, 10, None))
    [late] = score_suppliers(purchase_orders=[order], order_responses=[], shipment_notices=[], receipts=[aware_late],
                             inspections=[], config=cfg, as_of=AS_OF)
    assert late.otif == Decimal("0.0000")
    # a naive 23:00 is 23:00 in the plant: on time
    naive = receipt("R-1", "SUP-T", dt.datetime(2026, 9, 15, 23, 0), ("PO-1", 1, 10, None))
    # answers mixing naive and aware times do not crash and mean the same: 12 h after 09-01 00:00 local
    answers = [answer("PO-1", "SUP-T", dt.datetime(2026, 9, 1, 4, 0, tzinfo=dt.timezone.utc)),
               answer("PO-1", "SUP-T", dt.datetime(2026, 9, 1, 12, 0), "changed")]
    [row] = score_suppliers(purchase_orders=[order], order_responses=answers, shipment_notices=[], receipts=[naive],
                            inspections=[], config=cfg, as_of=dt.datetime(2026, 11, 15))
    assert (row.otif, row.response_hours_median) == (Decimal("1.0000"), Decimal("12.0"))


def test_contradicting_documents_are_skipped_not_guessed(cfg):
    order = po("PO-1", "SUP-A", d(9, 1), (1, 10, d(9, 10)))
    stranger = receipt("R-1", "SUP-X", at(9, 10), ("PO-1", 1, 10, None))
    foreign_answer = answer("PO-1", "SUP-X", at(9, 1, 1))
    too_many_rejects = insp("I-1", "A:1", "fail", 5, 10, at(9, 11), "SUP-A")
    [row] = score_suppliers(purchase_orders=[order], order_responses=[foreign_answer], shipment_notices=[],
                            receipts=[stranger], inspections=[too_many_rejects], config=cfg, as_of=AS_OF)
    assert (row.otif, row.response_hours_median, row.ppm) == (Decimal("0.0000"), None, Decimal("1000000.0"))
    assert row.notes[:3] == ("answer to PO-1 from SUP-X, not its supplier: skipped",
                             "receipt R-1 line 1: receipt names supplier SUP-X but PO-1 is SUP-A's, skipped",
                             "inspection I-1: rejected 10 > inspected 5, counted as 5")


def test_receipt_lines_without_po_line_are_matched_through_po_or_asn(cfg):
    order = po("PO-1", "SUP-M", d(9, 1), (1, 10, d(9, 10)))
    notice = ShipmentNotice(asn_number="ASN-1", supplier_id="SUP-M", lines=[
        {"line_no": 1, "po_number": "PO-1", "po_line_no": 1, "material_id": "M-1", "quantity": "10", "uom": "H87"}])
    by_asn = receipt("R-1", None, at(9, 10), (None, None, 6, None), asn="ASN-1")
    by_po = receipt("R-2", "SUP-M", at(9, 10), ("PO-1", None, 4, None))
    no_such_line = receipt("R-3", "SUP-M", at(9, 10), ("PO-1", 7, 99, None))
    [row] = score_suppliers(purchase_orders=[order], order_responses=[], shipment_notices=[notice],
                            receipts=[by_asn, by_po, no_such_line], inspections=[], config=cfg, as_of=AS_OF)
    assert (row.deliveries, row.otif) == (1, Decimal("1.0000"))
    assert row.notes[0] == "receipt R-3 line 1: no purchase order line to match, not in OTIF"
    # an ASN accurate only if everything received on it: 6 of 10 is not
    assert row.asn_accuracy == Decimal("0.0000")


def test_rejected_and_cancelled_lines_are_not_deliveries(cfg):
    orders = [po("PO-1", "SUP-R", d(9, 1), (1, 10, d(9, 10)), (2, 10, d(9, 10))),
              po("PO-2", "SUP-R", d(9, 1), (1, 10, d(9, 10)), status="cancelled"),
              po("PO-3", "SUP-R", d(9, 1), (1, 10, d(9, 10)))]
    answers = [answer("PO-1", "SUP-R", at(9, 1, 10), "changed", (2, "rejected", None)),
               answer("PO-3", "SUP-R", at(9, 1, 10), "rejected")]
    [row] = score_suppliers(purchase_orders=orders, order_responses=answers, shipment_notices=[], receipts=[],
                            inspections=[], config=cfg, as_of=AS_OF)
    assert (row.deliveries, row.otif) == (1, Decimal("0.0000"))  # only PO-1 line 1, never delivered


# ---------------------------------------------------------------- config


def test_shipped_config_loads():
    shipped = load_config()
    assert shipped.grade_thresholds == (("A", Decimal(90)), ("B", Decimal(75)), ("C", Decimal(60)))
    assert set(shipped.weights) == set(scorecard.METRICS) and sum(shipped.weights.values()) == 100
    assert shipped.timezone.key == "Asia/Shanghai"


@pytest.mark.parametrize("old, new, line, fragment", [
    ("  ppm: 15\n", "", 16, "weights.ppm: missing"),
    ("  ppm: 15\n", "  ppm: 15\n  speed: 3\n", 20, "weights.speed: unknown key"),
    ("  otif: 35\n", "  otif: lots\n", 17, "weights.otif: must be a number, got 'lots'"),
    ("  otif: 35\n", "  otif: -1\n", 17, "weights.otif: must be at least 0"),
    ("  days_late: 0\n", "  days_late: 1.5\n", 4, "otif.days_late: must be a whole number of days"),
    ("  quantity_tolerance_pct: 2\n", "  quantity_tolerance_pct: 150\n", 5, "must be between 0 and 100"),
    ("  B: 75\n", "  B: 95\n", 24, "grades.B: must be below A (90)"),
    ("  ppm_zero_marks: 5000\n", "  ppm_zero_marks: 0\n", 9, "ppm_zero_marks: must be above ppm_full_marks"),
    ("  conditional_is_accepted: false\n", "  conditional_is_accepted: maybe\n", 7, "must be true or false"),
    ("timezone: Asia/Shanghai\n", "timezone: Mars/Olympus\n", 1, "unknown IANA time zone 'Mars/Olympus'"),
    ("  C: 60\n", "  C: 60\n  C: 50\n", 26, "grades.C: duplicate key"),
    ("weights:\n  otif: 35\n  lot_acceptance: 15\n  ppm: 15\n  responsiveness: 15\n  asn_accuracy: 20\n",
     "weights: [35, 15, 15, 15, 20]\n", 16, "weights: missing or not a mapping"),
    ("  A: 90\n", "  A: [90\n", 24, "YAML syntax"),  # the line where the parser notices
])
def test_bad_config_names_file_line_and_key(tmp_path: Path, old, new, line, fragment):
    assert old in CONFIG_TEXT
    path = tmp_path / "scorecard.yaml"
    path.write_text(CONFIG_TEXT.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(FatalError) as exc:
        load_config(path)
    assert exc.value.code == "SCORECARD_CONFIG_INVALID"
    assert fragment in exc.value.message
    assert exc.value.where == f"{path}:{line}"


def test_all_weights_zero_empty_file_and_missing_file(tmp_path: Path):
    zero = tmp_path / "zero.yaml"
    zero.write_text("\n".join(line if not line.startswith("  ") or ":" not in line or not any(
        line.strip().startswith(m + ":") for m in scorecard.METRICS) else line.split(":")[0] + ": 0"
        for line in CONFIG_TEXT.splitlines()), encoding="utf-8")
    with pytest.raises(FatalError, match="weights: at least one weight must be above 0"):
        load_config(zero)
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(FatalError, match="not a YAML mapping"):
        load_config(empty)
    with pytest.raises(FatalError) as exc:
        load_config(tmp_path / "nope.yaml")
    assert exc.value.where == str(tmp_path / "nope.yaml") and "FileNotFoundError" in exc.value.message


# ---------------------------------------------------------------- store round trip


def test_store_round_trip_matches_the_pure_function_and_feeds_grades(sqlite_store, cfg):
    with sqlite_store.session() as session:
        documents.upsert_many(session, [*PURCHASE_ORDERS, *SHIPMENT_NOTICES, *RECEIPTS, *INSPECTIONS, *BATCHES,
                                        Party(party_id="SUP-C", role="supplier", name="No data yet")])
        for response in RESPONSES:
            if response.po_number == "PO-A2":
                # first an acceptance, then (a new version) the change: the first answer stops the clock
                documents.upsert(session, answer("PO-A2", "SUP-A", at(9, 4, 12)))
                response = response.model_copy(update={"responded_at": at(9, 6, 12)})
            documents.upsert(session, response)
        audit.record(session, actor="portal", action="schedule_acknowledged", subject_type="DeliverySchedule",
                     subject_key="SUP-A/DS-1", details={"sent_at": at(10, 5, 9).isoformat(),
                                                        "at": at(10, 5, 15).isoformat()})
        # missing or unreadable timestamps are no data, not 0 h
        audit.record(session, actor="portal", action="schedule_acknowledged", subject_type="DeliverySchedule",
                     subject_key="SUP-A/DS-2", details={"sent_at": at(10, 6, 9).isoformat()})
        audit.record(session, actor="portal", action="schedule_acknowledged", subject_type="DeliverySchedule",
                     subject_key="SUP-A/DS-3", details={"sent_at": "yesterday", "at": at(10, 6, 9).isoformat()})
    with sqlite_store.session() as session:
        stored = scorecard.scorecards_from_store(session, config=cfg, as_of=AS_OF)
        only_a_october = scorecard.scorecards_from_store(session, supplier="SUP-A", month="2026-10", config=cfg,
                                                         as_of=AS_OF)
        grades_now = scorecard.current_grades(session, cfg, today=d(11, 15))
        grades_september = scorecard.current_grades(session, cfg, today=d(10, 1))
        grades_running_month = scorecard.current_grades(session, cfg, today=d(9, 30))
        with pytest.raises(FatalError):
            scorecard.scorecards_from_store(session, month="10/2026", config=cfg)
    assert [s.as_dict() for s in stored] == [s.as_dict() for s in worked_example(cfg).values()]
    assert [(s.supplier_id, s.month, s.score) for s in only_a_october] == [("SUP-A", "2026-10", Decimal("74.3"))]
    # the latest closed month with a grade; SUP-C has no data and no grade (allocation weighs it x1)
    assert grades_now == {"SUP-A": "C", "SUP-B": "D"}
    # on 10-01 September is the latest closed month; on 09-30 it is still running: no grade yet
    assert grades_september == {"SUP-A": "C", "SUP-B": "A"}
    assert grades_running_month == {}


def test_grades_feed_allocation_weights(cfg):
    from collaboration.allocation import DEFAULT_GRADE_WEIGHTS

    # every grade the scorecard can give is one allocation knows
    assert {cfg.grade(Decimal(s)) for s in ("100", "90", "89.9", "75", "60", "59.9", "0")} == set(DEFAULT_GRADE_WEIGHTS)
