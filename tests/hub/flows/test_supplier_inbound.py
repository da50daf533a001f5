"""Supplier files over real SFTP into the store: broken, hostile and duplicated input included."""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from sqlalchemy import func, select

from adapters.edi.messages import shipment_notice_to_desadv
from canonical_model.documents import PurchaseOrder, ShipmentNotice
from canonical_model.store import documents, ledger, quarantine
from canonical_model.store.tables import InboxRow, QuarantineRow
from hub.flows.supplier_collect import collect_files
from hub.flows.supplier_inbound import pending_files, process_file, process_inbox
from hub.replay import replay

PARTNER = "SUP-001"  # profile: min age 2 s, batch required, tolerance 5 %, not all-or-nothing
OLD = 3600




def drop(folder: Path, name: str, data: bytes, age_seconds: int = OLD) -> Path:
    """Put a file in the supplier's out/ folder as if written ``age_seconds`` ago."""
    path = folder / "out" / name
    path.write_bytes(data)
    past = dt.datetime.now().timestamp() - age_seconds
    os.utime(path, (past, past))
    return path


def seed_po(store, po_number="CGDD000101", qty=("500", "300")):
    po = PurchaseOrder(po_number=po_number, supplier_id=PARTNER, order_date=dt.date(2026, 11, 20), lines=[
        {"line_no": i, "material_id": m, "quantity": q, "uom": "H87"}
        for i, (m, q) in enumerate(zip(("1.02.0033", "1.02.0041"), qty), start=1)])
    with store.session() as s:
        documents.upsert(s, po)


def desadv(asn_number="ASN-1", po_number="CGDD000101", qty=("500", "240"), control_ref="9001",
           batches=("B1", "B2")) -> bytes:
    asn = ShipmentNotice(asn_number=asn_number, supplier_id=PARTNER, ship_date=dt.date(2026, 11, 26), lines=[
        {"line_no": i, "po_number": po_number, "po_line_no": i, "material_id": m, "quantity": q, "uom": "H87",
         "batch_number": b}
        for i, (m, q, b) in enumerate(zip(("1.02.0033", "1.02.0041"), qty, batches), start=1)])
    return shipment_notice_to_desadv(asn, sender=PARTNER, recipient="MESHUB", control_ref=control_ref,
                                     prepared=dt.datetime(2026, 11, 26, 8, 0))


def run(store):
    collected = collect_files(store, PARTNER)
    processed = process_inbox(store, PARTNER)
    return collected, processed


def open_quarantine(store) -> list[QuarantineRow]:
    with store.session() as s:
        return quarantine.list_rows(s)


def test_good_file_is_stored_alerted_archived_and_a_rerun_is_a_noop(sqlite_store, sftp):
    seed_po(sqlite_store)
    drop(sftp, "DESADV_1.edi", desadv())
    collected, processed = run(sqlite_store)
    assert collected == {"new": 1, "duplicate": 0}
    assert processed == {"files": 1, "documents": 1, "quarantined": 0, "alerts": 1}
    assert not list((sftp / "out").iterdir()) and [p.name for p in (sftp / "archive").iterdir()] == ["DESADV_1.edi"]
    with sqlite_store.session() as s:
        asn = documents.get(s, "ShipmentNotice", f"{PARTNER}/ASN-1")
        (alert,) = list(documents.current(s, "Alert"))
    assert [line.batch_number for line in asn.lines] == ["B1", "B2"]
    assert alert.alert_type == "SHORT_SHIPMENT" and alert.responsible_party == PARTNER
    assert "60 short" in alert.message and {r.key for r in alert.subjects} == {"CGDD000101", f"{PARTNER}/ASN-1"}

    assert run(sqlite_store) == ({"new": 0, "duplicate": 0}, {"files": 0, "documents": 0, "quarantined": 0,
                                                               "alerts": 0})


def test_same_bytes_under_another_name_are_recognised_and_not_processed_twice(sqlite_store, sftp):
    seed_po(sqlite_store)
    data = desadv(qty=("500", "300"))
    drop(sftp, "DESADV_1.edi", data)
    drop(sftp, "copy of DESADV_1.edi".replace(" ", "_"), data)
    collected, processed = run(sqlite_store)
    assert collected == {"new": 1, "duplicate": 1}
    assert processed["files"] == 1 and processed["documents"] == 1
    with sqlite_store.session() as s:
        assert s.scalar(select(func.count()).select_from(InboxRow)) == 1
    # both files left the supplier's folder: the duplicate is archived too, not re-read forever
    assert sorted(p.name for p in (sftp / "archive").iterdir()) == ["DESADV_1.edi", "copy_of_DESADV_1.edi"]


def test_same_interchange_number_with_other_bytes_is_a_duplicate_interchange(sqlite_store, sftp):
    seed_po(sqlite_store)
    drop(sftp, "first.edi", desadv(control_ref="777", qty=("500", "300")))
    run(sqlite_store)
    drop(sftp, "second.edi", desadv(asn_number="ASN-2", control_ref="777", qty=("1", "1")))
    _, processed = run(sqlite_store)
    assert processed["documents"] == 0
    (row,) = open_quarantine(sqlite_store)
    assert row.reason_code == "DUPLICATE_INTERCHANGE" and "first.edi" in row.message
    with sqlite_store.session() as s:
        assert documents.get(s, "ShipmentNotice", f"{PARTNER}/ASN-2") is None


def test_file_younger_than_min_age_waits(sqlite_store, sftp):
    seed_po(sqlite_store)
    drop(sftp, "fresh.edi", desadv(), age_seconds=0)
    assert collect_files(sqlite_store, PARTNER) == {"new": 0, "duplicate": 0}
    assert (sftp / "out" / "fresh.edi").exists()
    past = dt.datetime.now().timestamp() - 5
    os.utime(sftp / "out" / "fresh.edi", (past, past))
    assert collect_files(sqlite_store, PARTNER) == {"new": 1, "duplicate": 0}


def test_truncated_interchange_is_quarantined_with_location_and_raw_evidence(sqlite_store, sftp):
    seed_po(sqlite_store)
    data = desadv(qty=("500", "300"))
    truncated = data[: data.index(b"UNZ+")]
    drop(sftp, "truncated.edi", truncated)
    _, processed = run(sqlite_store)
    (row,) = open_quarantine(sqlite_store)
    assert row.reason_code == "MISSING_UNZ"
    assert row.location.startswith("truncated.edi:segment ") and "UNT" in row.location
    with sqlite_store.session() as s:
        assert ledger.read_raw(sqlite_store, s, row.raw_sha256) == truncated
        assert s.get(InboxRow, row.inbox_id).status == "quarantined"
    # our CONTRL rejects the interchange, so nothing in it is stored: the partner resends it
    assert processed["documents"] == 0
    # ... and the complete resend, with the same interchange number, goes through once
    drop(sftp, "resent.edi", data)
    _, resent = run(sqlite_store)
    assert (resent["documents"], resent["quarantined"]) == (1, 0)
    with sqlite_store.session() as s:
        assert documents.get(s, "ShipmentNotice", f"{PARTNER}/ASN-1") is not None


def test_wrong_unt_count_quarantines_the_message(sqlite_store, sftp):
    seed_po(sqlite_store)
    data = desadv().replace(b"UNT+", b"UNT+9", 1)
    drop(sftp, "bad_unt.edi", data)
    _, processed = run(sqlite_store)
    assert processed["documents"] == 0
    codes = {r.reason_code for r in open_quarantine(sqlite_store)}
    assert "UNT_COUNT_MISMATCH" in codes


def test_unknown_po_and_negative_quantity_are_quarantined_good_lines_go_on(sqlite_store, sftp):
    seed_po(sqlite_store)
    drop(sftp, "unknown_po.edi", desadv(asn_number="ASN-X", po_number="CGDD999999", control_ref="1"))
    drop(sftp, "negative.edi", desadv(asn_number="ASN-N", qty=("500", "-5"), control_ref="2"))
    run(sqlite_store)
    rows = open_quarantine(sqlite_store)
    assert sorted((r.reason_code, r.business_key) for r in rows) == [
        ("PO_NOT_FOUND", f"{PARTNER}/ASN-X"), ("PO_NOT_FOUND", f"{PARTNER}/ASN-X"),
        ("QTY_NOT_POSITIVE", f"{PARTNER}/ASN-N")]
    negative = next(r for r in rows if r.reason_code == "QTY_NOT_POSITIVE")
    assert negative.location.startswith("negative.edi:") and "line_no 2" in negative.location
    assert negative.evidence["document"]["asn_number"] == "ASN-N"
    with sqlite_store.session() as s:
        assert documents.get(s, "ShipmentNotice", f"{PARTNER}/ASN-X") is None
        kept = documents.get(s, "ShipmentNotice", f"{PARTNER}/ASN-N")
    # SUP-001 is not all-or-nothing: the good line goes on, the bad one is in quarantine
    assert [line.line_no for line in kept.lines] == [1]


def test_replay_after_the_po_arrives_stores_the_asn(sqlite_store, sftp):
    drop(sftp, "early.edi", desadv(qty=("500", "300")))
    run(sqlite_store)
    first, second = open_quarantine(sqlite_store)
    assert first.reason_code == "PO_NOT_FOUND"
    seed_po(sqlite_store)  # the ERP sync brings the PO later
    outcome = replay(sqlite_store, first.id)
    assert "still failing" not in outcome
    with sqlite_store.session() as s:
        assert documents.get(s, "ShipmentNotice", f"{PARTNER}/ASN-1") is not None
        assert (s.get(QuarantineRow, first.id).status, s.get(QuarantineRow, second.id).status) == (
            "replayed", "replayed")


def test_replay_that_still_fails_reopens_the_row(sqlite_store, sftp):
    drop(sftp, "early.edi", desadv(qty=("500", "300")))
    run(sqlite_store)
    row = open_quarantine(sqlite_store)[0]
    assert "still failing" in replay(sqlite_store, row.id)
    assert row.id in [r.id for r in open_quarantine(sqlite_store)]


def test_binary_junk_and_empty_file_are_quarantined_not_crashing(sqlite_store, sftp):
    drop(sftp, "junk.bin", bytes(range(256)) * 4)
    drop(sftp, "empty.edi", b"")
    _, processed = run(sqlite_store)
    assert processed["files"] == 2 and processed["documents"] == 0
    assert sorted(r.reason_code for r in open_quarantine(sqlite_store)) == ["EMPTY_FILE", "UNKNOWN_FORMAT"]


def test_duplicate_interchange_raises_an_alert_for_the_partner_once_per_payload(sqlite_store, sftp):
    seed_po(sqlite_store)
    drop(sftp, "first.edi", desadv(control_ref="778", qty=("500", "300")))
    run(sqlite_store)
    drop(sftp, "second.edi", desadv(asn_number="ASN-2", control_ref="778", qty=("1", "1")))
    _, processed = run(sqlite_store)
    assert processed["alerts"] == 1 and processed["documents"] == 0
    with sqlite_store.session() as s:
        (alert,) = [a for a in documents.current(s, "Alert") if a.alert_type == "DUPLICATE_INTERCHANGE"]
        assert s.scalars(select(InboxRow.status).where(InboxRow.name == "second.edi")).one() == "duplicate"
    assert alert.responsible_party == PARTNER
    assert "778" in alert.message and "first.edi" in alert.message and "second.edi" in alert.message
    # the same duplicate bytes collected again are the ledger's duplicate: no second alert
    drop(sftp, "second_again.edi", desadv(asn_number="ASN-2", control_ref="778", qty=("1", "1")))
    assert run(sqlite_store)[1]["alerts"] == 0


ORDRSP = (
    "UNA:+.? '\r\n"
    "UNB+UNOC:3+SUP-001+MESHUB+261126:0900+RSP77'\r\n"
    "UNH+1+ORDRSP:D:96A:UN:EAN005'\r\n"
    "BGM+231+RSP-77+4+AC'\r\n"
    "DTM+137:20261126:102'\r\n"
    "RFF+ON:CGDD000101'\r\n"
    "NAD+SU+SUP-001::9'\r\n"
    "LIN+1+5+1.02.0033:IN'\r\n"
    "LIN+2+7+1.02.0041:IN'\r\n"
    "QTY+21:0:PCE'\r\n"
    "FTX+AAO+++Discontinued'\r\n"
    "UNS+S'\r\n"
    "UNT+11+1'\r\n"
    "UNZ+1+RSP77'\r\n"
).encode("latin-1")


def test_order_response_rejecting_a_line_raises_an_alert_for_the_buyer(sqlite_store, sftp):
    seed_po(sqlite_store)
    drop(sftp, "ordrsp.edi", ORDRSP)
    _, processed = run(sqlite_store)
    assert (processed["documents"], processed["quarantined"], processed["alerts"]) == (1, 0, 1)
    with sqlite_store.session() as s:
        response = documents.get(s, "OrderResponse", f"{PARTNER}/CGDD000101")
        (alert,) = list(documents.current(s, "Alert"))
    assert [(line.line_no, line.action) for line in response.lines] == [(1, "accepted"), (2, "rejected")]
    assert alert.alert_type == "ORDER_REJECTED" and "CGDD000101" in alert.message
    assert run(sqlite_store)[1]["alerts"] == 0


def pending_ids(store) -> list[int]:
    with store.session() as s:
        return [row.id for row in ledger.pending(s, "sftp") if row.partner == PARTNER]


def stored_versions(store, key: str) -> int:
    from canonical_model.store.tables import DocumentRow

    with store.session() as s:
        return s.scalar(select(func.count()).select_from(DocumentRow).where(DocumentRow.business_key == key))


def test_process_file_twice_is_a_noop_the_second_time(sqlite_store, sftp):
    seed_po(sqlite_store)
    drop(sftp, "DESADV_1.edi", desadv())
    assert collect_files(sqlite_store, PARTNER) == {"new": 1, "duplicate": 0}
    (inbox_id,) = pending_ids(sqlite_store)

    first = process_file(sqlite_store, PARTNER, inbox_id)
    assert first == {"files": 1, "documents": 1, "quarantined": 0, "alerts": 1}
    # an Airflow retry or a rerun of the same mapped task instance
    assert process_file(sqlite_store, PARTNER, inbox_id) == {"files": 0, "documents": 0, "quarantined": 0,
                                                              "alerts": 0}
    assert process_inbox(sqlite_store, PARTNER) == {"files": 0, "documents": 0, "quarantined": 0, "alerts": 0}
    assert stored_versions(sqlite_store, f"{PARTNER}/ASN-1") == 1
    with sqlite_store.session() as s:
        assert s.get(InboxRow, inbox_id).status == "processed"
        assert len(list(documents.current(s, "Alert"))) == 1


def test_process_file_ignores_another_partners_row_and_unknown_ids(sqlite_store, sftp):
    seed_po(sqlite_store)
    drop(sftp, "DESADV_1.edi", desadv())
    collect_files(sqlite_store, PARTNER)
    (inbox_id,) = pending_ids(sqlite_store)
    nothing = {"files": 0, "documents": 0, "quarantined": 0, "alerts": 0}
    assert process_file(sqlite_store, "SUP-999", inbox_id) == nothing
    assert process_file(sqlite_store, PARTNER, inbox_id + 1000) == nothing
    assert pending_ids(sqlite_store) == [inbox_id]


def test_two_workers_on_the_same_file_process_it_once(sqlite_store, sftp, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from canonical_model.store import open_store

    seed_po(sqlite_store)
    drop(sftp, "DESADV_1.edi", desadv())
    collect_files(sqlite_store, PARTNER)
    (inbox_id,) = pending_ids(sqlite_store)
    # two engines on the same database file: as two Airflow workers would open it
    stores = [open_store(str(sqlite_store.engine.url), archive_dir=sqlite_store.archive_dir, migrate=False)
              for _ in range(2)]
    try:
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda st: process_file(st, PARTNER, inbox_id), stores))
    finally:
        for st in stores:
            st.dispose()
    assert sorted(r["files"] for r in results) == [0, 1]
    assert sum(r["documents"] for r in results) == 1
    assert stored_versions(sqlite_store, f"{PARTNER}/ASN-1") == 1


def test_pending_files_lists_rows_an_earlier_run_left_behind(sqlite_store, sftp):
    seed_po(sqlite_store)
    drop(sftp, "DESADV_1.edi", desadv())
    collect_files(sqlite_store, PARTNER)
    # the first run collected but never processed (its process task failed or was killed)
    (left_behind,) = pending_ids(sqlite_store)
    drop(sftp, "DESADV_2.edi", desadv(asn_number="ASN-2", control_ref="9002"))
    collect_files(sqlite_store, PARTNER)
    waiting = pending_files(sqlite_store, [PARTNER])
    assert [f["inbox_id"] for f in waiting][0] == left_behind and len(waiting) == 2
    assert {f["partner_id"] for f in waiting} == {PARTNER}
    assert pending_files(sqlite_store, ["SUP-999"]) == []
    for f in waiting:
        process_file(sqlite_store, f["partner_id"], f["inbox_id"])
    assert pending_files(sqlite_store, [PARTNER]) == []
