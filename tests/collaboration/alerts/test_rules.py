"""The matching-and-exceptions rules: each fires on its condition, stays quiet otherwise, names
whom it concerns, and gives the same condition the same id."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest

from canonical_model.documents import Inspection, OrderResponse, PurchaseOrder, Receipt, ShipmentNotice
from collaboration.alerts import rules
from collaboration.coverage import OrderCoverage, Shortage
from hub.errors import SkippableError

UTC = dt.timezone.utc
D = Decimal

PO = PurchaseOrder(po_number="PO-7", supplier_id="SUP-001", order_date=dt.date(2026, 11, 2), lines=[
    {"line_no": 1, "material_id": "M-1", "quantity": "100", "uom": "H87", "delivery_date": "2026-12-10"},
    {"line_no": 2, "material_id": "M-2", "quantity": "40", "uom": "KGM", "delivery_date": "2026-12-12"}])


def asn(number, *lines, arrival=None, status="active") -> ShipmentNotice:
    return ShipmentNotice(asn_number=number, supplier_id="SUP-001", status=status, expected_arrival=arrival, lines=[
        {"line_no": i, "po_number": "PO-7", "po_line_no": po_line, "material_id": m, "quantity": q, "uom": "H87",
         **({"batch_number": lot} if lot else {})}
        for i, (po_line, m, q, lot) in enumerate(lines, start=1)])


def keys(alert):
    return [(s.type, s.key) for s in alert.subjects]


# ------------------------------------------------------------------------------ ids
def test_condition_id_is_type_and_keys_and_stays_within_the_key_column():
    ref = rules.SubjectRef
    assert rules.condition_id("X", [ref(type="A", key="k1"), ref(type="B", key="k2")]) == "X:k1:k2"
    long = rules.condition_id("X", [ref(type="A", key="k" * 400)])
    assert len(long) == 255 and long.startswith("X:kkk")
    other = rules.condition_id("X", [ref(type="A", key="k" * 399 + "j")])
    assert other != long  # the hash keeps two long ids apart


# ---------------------------------------------------------------- MATERIAL_SHORTAGE
def test_shortage_one_alert_per_order_and_material_with_summed_quantity():
    coverage = OrderCoverage(order_id="WO-1", planned_start=dt.date(2026, 12, 1), earliest_start=dt.date(2026, 12, 4),
                             shortages=(Shortage("M-1", dt.date(2026, 11, 30), D("30"), dt.date(2026, 12, 3)),
                                        Shortage("M-1", dt.date(2026, 12, 1), D("12.5"), dt.date(2026, 12, 2)),
                                        Shortage("M-2", dt.date(2026, 11, 29), D("4"), None)))
    m1, m2 = rules.material_shortage(coverage)
    assert (m1.alert_id, m1.severity, m1.responsible_party) == ("MATERIAL_SHORTAGE:WO-1:M-1", "warning", "planner")
    # 30 + 12.5 = 42.5 from the first need day (11-30) until the last arrival (12-03): 3 days late
    assert "lacks 42.5 of M-1 needed from 2026-11-30" in m1.message and "2026-12-03 (3 day(s) late)" in m1.message
    assert "earliest start 2026-12-04 instead of 2026-12-01" in m1.message
    assert m2.severity == "critical" and "never covers it" in m2.message
    assert keys(m2) == [("ProductionOrder", "WO-1"), ("Material", "M-2")]


def test_a_covered_order_raises_no_shortage():
    assert rules.material_shortage(OrderCoverage("WO-2", dt.date(2026, 12, 1), dt.date(2026, 12, 1))) == []


# ------------------------------------------------------------------ ASN_MISSING / LATE
def test_asn_missing_fires_a_day_before_the_promised_date_for_unannounced_lines_only():
    shipped_line_1 = [asn("A-1", (1, "M-1", "100", None))]
    early = dt.datetime(2026, 12, 8, 23, 59, tzinfo=UTC)   # line 1 due 12-09 00:00, line 2 due 12-11 00:00
    assert rules.asn_missing(PO, [], now=early) == []
    (line1, ) = rules.asn_missing(PO, [], now=dt.datetime(2026, 12, 9, tzinfo=UTC))
    assert line1.alert_id == "ASN_MISSING:PO-7:PO-7/1" and line1.responsible_party == "SUP-001"
    assert "promised for 2026-12-10" in line1.message and "due by 2026-12-09 00:00 UTC" in line1.message
    late = dt.datetime(2026, 12, 11, 8, tzinfo=UTC)
    assert [a.alert_id for a in rules.asn_missing(PO, shipped_line_1, now=late)] == ["ASN_MISSING:PO-7:PO-7/2"]


def test_asn_missing_ignores_cancelled_asns_closed_pos_and_rejected_lines_and_takes_the_promised_date():
    late = dt.datetime(2026, 12, 11, 8, tzinfo=UTC)
    cancelled = [asn("A-1", (1, "M-1", "100", None), status="cancelled")]
    assert len(rules.asn_missing(PO, cancelled, now=late)) == 2
    assert rules.asn_missing(PO.model_copy(update={"status": "closed"}), [], now=late) == []
    answer = OrderResponse(po_number="PO-7", supplier_id="SUP-001", status="changed", lines=[
        {"line_no": 1, "action": "changed", "delivery_date": "2026-12-20"}, {"line_no": 2, "action": "rejected"}])
    # line 1 now promised for 12-20 (not due yet), line 2 promises nothing
    assert rules.asn_missing(PO, [], now=late, response=answer) == []
    # a naive clock is read as UTC, not refused
    assert len(rules.asn_missing(PO, [], now=dt.datetime(2026, 12, 11, 8))) == 2


def test_asn_late_compares_expected_arrival_with_the_promised_date():
    on_time = asn("A-2", (1, "M-1", "100", None), arrival=dt.date(2026, 12, 10))
    assert rules.asn_late(PO, [on_time]) == []
    late = asn("A-3", (1, "M-1", "60", None), (2, "M-2", "40", None), arrival=dt.date(2026, 12, 12))
    (alert,) = rules.asn_late(PO, [late, on_time])  # line 2 promised 12-12: on time
    assert alert.alert_id == "ASN_LATE:PO-7/1:SUP-001/A-3"
    assert "arrives 2026-12-12, 2 day(s) after 2026-12-10 promised for PO PO-7 line 1" in alert.message
    assert rules.asn_late(PO, [late.model_copy(update={"status": "cancelled"})]) == []
    assert rules.asn_late(PO, [late.model_copy(update={"expected_arrival": None})]) == []


# ------------------------------------------------------------------ quantity mismatches
def test_asn_vs_po_sums_all_active_asns_per_line_with_tolerance():
    first = asn("A-1", (1, "M-1", "60", None))
    second = asn("A-2", (1, "M-1", "45", None), (2, "M-2", "40", None))
    # line 1: 60 + 45 = 105 of 100 ordered: 5 over; line 2 exact
    (over,) = rules.qty_mismatch_asn_po(PO, [first, second])
    assert over.alert_id == "QTY_MISMATCH_ASN_PO:PO-7:PO-7/1"
    assert "ASN(s) A-1, A-2 ship 105 H87 of M-1" in over.message and "5 over (tolerance 0%)" in over.message
    assert rules.qty_mismatch_asn_po(PO, [first, second], tolerance_pct="5") == []      # 5 % of 100 = 5: within
    assert rules.qty_mismatch_asn_po(PO, [first, second], tolerance_pct="4.9") != []


def test_asn_vs_po_short_only_when_partial_deliveries_are_not_allowed():
    partial = [asn("A-1", (1, "M-1", "60", None))]
    (short,) = rules.qty_mismatch_asn_po(PO, partial)
    assert "40 short" in short.message
    assert rules.qty_mismatch_asn_po(PO, partial, partial_allowed=True) == []
    assert rules.qty_mismatch_asn_po(PO, [asn("A-9", (1, "M-1", "60", None), status="cancelled")]) == []
    with pytest.raises(SkippableError) as bad:
        rules.qty_mismatch_asn_po(PO, partial, tolerance_pct="-1")
    assert bad.value.code == "ALERT_RULE_INPUT"
    with pytest.raises(SkippableError):
        rules.qty_mismatch_asn_po(PO, partial, tolerance_pct="NaN")


def receipt(*lines) -> Receipt:
    return Receipt(receipt_id="RCV-1", asn_number="A-1", supplier_id="SUP-001",
                   received_at=dt.datetime(2026, 12, 10, 9, tzinfo=UTC),
                   lines=[{"line_no": i, "material_id": m, "quantity": q, "uom": "H87",
                           **({"batch_id": b} if b else {})} for i, (m, q, b) in enumerate(lines, start=1)])


def test_receipt_vs_asn_per_material_with_tolerance_and_direction():
    shipment = asn("A-1", (1, "M-1", "100", None), (2, "M-2", "40", None))
    (short,) = rules.qty_mismatch_receipt_asn(receipt(("M-1", "97", None), ("M-2", "40", None)), shipment)
    assert short.alert_id == "QTY_MISMATCH_RECEIPT_ASN:SUP-001/A-1:RCV-1:M-1" and "3 short" in short.message
    assert rules.qty_mismatch_receipt_asn(receipt(("M-1", "97", None), ("M-2", "40", None)), shipment,
                                          tolerance_pct=3) == []
    # an unannounced material is all over, whatever the tolerance
    (extra,) = rules.qty_mismatch_receipt_asn(receipt(("M-1", "100", None), ("M-2", "40", None), ("M-3", "1", None)),
                                              shipment, tolerance_pct=50)
    assert "counted 1 of M-3" in extra.message and "1 over" in extra.message


# ----------------------------------------------------------------------- UNKNOWN_BATCH
def test_unknown_batch_uses_the_scan_receivings_id_so_both_paths_keep_one_alert():
    from adapters.wms.discrepancies import receiving_discrepancies

    shipment = asn("A-1", (1, "M-1", "100", "LOT-A"))
    found = rules.unknown_batch(receipt(("M-1", "60", "SUP-001:LOT-A"), ("M-1", "40", "SUP-001:LOT-C")), shipment)
    (alert,) = found
    wms = {"asn_code": "WH/IN/1", "lines": [{"sku": "M-1", "qty_received": "60", "lot": "LOT-A"},
                                             {"sku": "M-1", "qty_received": "40", "lot": "LOT-C"}]}
    (unknown,) = [d for d in receiving_discrepancies(wms, shipment) if d.kind == "UNKNOWN_BATCH"]
    assert alert.alert_id == unknown.key == "UNKNOWN_BATCH:SUP-001:A-1:M-1:LOT-C"
    assert ("Batch", "SUP-001:LOT-C") in keys(alert) and "batch LOT-C of M-1 (40)" in alert.message


def test_announced_batches_no_batch_or_no_asn_raise_no_unknown_batch():
    shipment = asn("A-1", (1, "M-1", "100", "LOT-A"))
    assert rules.unknown_batch(receipt(("M-1", "100", "SUP-001:LOT-A")), shipment) == []
    assert rules.unknown_batch(receipt(("M-1", "100", None)), shipment) == []
    assert rules.unknown_batch(receipt(("M-1", "100", "SUP-001:LOT-X")), None) == []  # NO_ASN's business
    # the same lot number announced for another material is still unknown for this one
    assert len(rules.unknown_batch(receipt(("M-2", "5", "SUP-001:LOT-A")), shipment)) == 1


# ------------------------------------------------------------------- INSPECTION_FAILED
def inspection(result="fail") -> Inspection:
    return Inspection(inspection_id="QC-9", batch_id="SUP-001:LOT-A", material_id="M-1", supplier_id="SUP-001",
                      inspected_quantity="50", rejected_quantity="8", uom="H87", result=result,
                      inspected_at=dt.datetime(2026, 12, 10, 11, tzinfo=UTC),
                      characteristics=[{"name": "diameter", "result": "fail"}, {"name": "colour", "result": "pass"}])


def test_inspection_failed_lists_the_affected_orders_and_lots():
    affected = {"production_orders": ["WO-2", "WO-1", "WO-1"], "finished_lots": ["FL-9"]}
    alert = rules.inspection_failed(inspection(), affected)
    assert alert.alert_id == "INSPECTION_FAILED:SUP-001:LOT-A:QC-9"
    assert (alert.severity, alert.responsible_party) == ("critical", "quality")
    assert keys(alert)[2:] == [("ProductionOrder", "WO-1"), ("ProductionOrder", "WO-2"), ("FinishedLot", "FL-9")]
    assert "rejected 8 of 50 H87; failed diameter" in alert.message
    assert "production orders WO-1, WO-2; finished lots FL-9" in alert.message
    # more consumption found later: context grows, the condition (id) stays
    wider = rules.inspection_failed(inspection(), {"production_orders": ["WO-1", "WO-2", "WO-3"]})
    assert wider.alert_id == alert.alert_id


def test_inspection_pass_or_conditional_raises_nothing_and_unconsumed_batch_is_a_warning():
    assert rules.inspection_failed(inspection("pass"), {}) is None
    assert rules.inspection_failed(inspection("conditional"), {"production_orders": ["WO-1"]}) is None
    alert = rules.inspection_failed(inspection(), {"production_orders": [], "finished_lots": []})
    assert alert.severity == "warning" and "no production order has consumed it yet" in alert.message


@pytest.mark.parametrize("affected", [["WO-1"], {"production_orders": "WO-1"}, {"finished_lots": 7}])
def test_inspection_refuses_a_malformed_affected_mapping(affected):
    with pytest.raises(SkippableError) as bad:
        rules.inspection_failed(inspection(), affected)
    assert bad.value.code == "ALERT_RULE_INPUT"


# ------------------------------------------------------------ PLAN_CHANGE_UNACKNOWLEDGED
SENT = dt.datetime(2026, 12, 1, 8, tzinfo=UTC)


def test_plan_change_unacknowledged_after_the_deadline_only():
    args = dict(schedule_id="SCH-1", supplier_id="SUP-001", version=3, sent_at=SENT, deadline_hours=24)
    assert rules.plan_change_unacknowledged(**args, now=SENT + dt.timedelta(hours=23, minutes=59),
                                            acknowledged=False) is None
    alert = rules.plan_change_unacknowledged(**args, now=SENT + dt.timedelta(hours=24), acknowledged=False)
    assert alert.alert_id == "PLAN_CHANGE_UNACKNOWLEDGED:SUP-001/SCH-1:3" and alert.responsible_party == "SUP-001"
    assert "version 3 of delivery schedule SCH-1, sent 2026-12-01 08:00 UTC" in alert.message
    assert "due by 2026-12-02 08:00 UTC" in alert.message
    assert rules.plan_change_unacknowledged(**args, now=SENT + dt.timedelta(days=9), acknowledged=True) is None
    v4 = rules.plan_change_unacknowledged(**{**args, "version": 4}, now=SENT + dt.timedelta(days=2), acknowledged=False)
    assert v4.alert_id != alert.alert_id


@pytest.mark.parametrize("hours", [-1, "24", None, True])
def test_plan_change_refuses_a_bad_deadline(hours):
    with pytest.raises(SkippableError):
        rules.plan_change_unacknowledged("SCH-1", "SUP-001", 1, SENT, hours, SENT, False)


def test_plan_change_refuses_a_sent_at_that_is_no_time():
    with pytest.raises(SkippableError):
        rules.plan_change_unacknowledged("SCH-1", "SUP-001", 1, "2026-12-01", 24, SENT, False)


# ------------------------------------------------------------ INTERCHANGE_UNACKNOWLEDGED
def interchange(**kw):
    base = dict(direction="out", partner="SUP-001", control_ref="000123", standard="edifact",
                message_types=["DELFOR"], created_at=SENT, ack_status="pending",
                ack_due=SENT + dt.timedelta(hours=24))
    return SimpleNamespace(**{**base, **kw})


def test_interchange_unacknowledged_is_the_edi_alert_once_past_due():
    assert rules.interchange_unacknowledged(interchange(), SENT + dt.timedelta(hours=23)) is None
    alert = rules.interchange_unacknowledged(interchange(), SENT + dt.timedelta(hours=25))
    assert (alert.alert_type, alert.alert_id) == ("EDI_NOT_ACKNOWLEDGED", "EDI_NOT_ACKNOWLEDGED:SUP-001:000123")
    assert "DELFOR interchange 000123 sent 2026-12-01 08:00 UTC" in alert.message


@pytest.mark.parametrize("change", [{"ack_status": "accepted"}, {"ack_status": "none"}, {"direction": "in"},
                                    {"ack_due": None}])
def test_acknowledged_inbound_or_unexpecting_interchanges_raise_nothing(change):
    assert rules.interchange_unacknowledged(interchange(**change), SENT + dt.timedelta(days=5)) is None


# ------------------------------------------------------------------------ PUSH_FAILING
def row(rid, target, status, attempts, minutes_ago, error=None, now=SENT):
    return SimpleNamespace(id=rid, target=target, status=status, attempts=attempts, last_error=error,
                           created_at=now - dt.timedelta(minutes=minutes_ago))


def sla(target):
    return dt.timedelta(minutes={"wms": 30}.get(target, 60))


def test_push_failing_per_target_after_its_sla():
    rows = [row(1, "kingdee", "pending", 3, 61, "kingdee: K3_TIMEOUT read timed out\ntrace"),
            row(2, "kingdee", "failed", 1, 90, "kingdee: K3_REJECTED"),
            row(3, "kingdee", "pending", 2, 59, "young"),               # within 60 minutes: not yet
            row(4, "wms", "pending", 1, 31, "wms: WMS_UNAVAILABLE 503"),
            row(5, "wms", "pending", 0, 500),                           # never tried: waiting, not failing
            row(6, "u9", "sent", 4, 500)]
    kingdee, wms = rules.push_failing(rows, now=SENT, sla=sla)
    assert (kingdee.alert_id, kingdee.severity, kingdee.responsible_party) == ("PUSH_FAILING:kingdee", "critical",
                                                                            "it_ops")
    assert "2 push(es) to kingdee undelivered for longer than the 60-minute SLA" in kingdee.message
    assert "1 failed for good, 1 retrying; oldest queued 2026-12-01 06:30 UTC" in kingdee.message
    assert "last error: kingdee: K3_TIMEOUT read timed out." in kingdee.message  # the newest row's first line
    assert wms.severity == "warning" and "1 push(es) to wms" in wms.message


def test_no_push_failing_when_everything_is_sent_young_or_untried():
    rows = [row(1, "kingdee", "sent", 1, 600), row(2, "kingdee", "pending", 1, 10), row(3, "wms", "pending", 0, 600)]
    assert rules.push_failing(rows, now=SENT, sla=sla) == []
    assert rules.push_failing([], now=SENT, sla=sla) == []


def test_push_failing_reads_real_outbox_rows(sqlite_store):
    from canonical_model.store import outbox
    from canonical_model.store.tables import OutboxRow

    with sqlite_store.session() as session:
        pushed, _ = outbox.enqueue(session, target="kingdee", operation="receipt", idempotency_key="k1", payload={})
        outbox.mark_retry(pushed, "kingdee: K3_TIMEOUT", dt.timedelta(seconds=30))
        outbox.enqueue(session, target="kingdee", operation="receipt", idempotency_key="k1", payload={})  # duplicate
        session.flush()
        created = pushed.created_at
    with sqlite_store.session() as session:
        rows = list(session.query(OutboxRow))
        later = (created if created.tzinfo else created.replace(tzinfo=UTC)) + dt.timedelta(minutes=61)
        (alert,) = rules.push_failing(rows, now=later, sla=sla)
    assert "1 push(es) to kingdee" in alert.message
