"""The GX data quality suite over a real (SQLite) store: what passes, what fails and how it is named."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from canonical_model.documents import (Material, Party, PurchaseOrder, PurchaseOrderLine, Receipt, ReceiptLine,
                                       ShipmentNotice, ShipmentNoticeLine)
from canonical_model.store import documents
from canonical_model.store.tables import EventRow, InboxRow
from hub.errors import FatalError
from validation.quality import QualityRules, build_frames, load_rules, run_quality, run_quality_task, StoreSnapshot

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.timezone.utc)


def po(number: str = "PO-1", supplier: str = "SUP-1", qty: str = "10", lines: int = 2) -> PurchaseOrder:
    return PurchaseOrder(po_number=number, supplier_id=supplier, order_date="2026-03-01", lines=[
        PurchaseOrderLine(line_no=n, material_id="M-1", quantity=qty, uom="PCE", unit_price="2.5",
                          delivery_date="2026-03-20") for n in range(1, lines + 1)])


def asn(number: str = "ASN-1", supplier: str = "SUP-1", po_line: int = 1, line_nos: tuple[int, ...] = (1,)):
    return ShipmentNotice(asn_number=number, supplier_id=supplier, lines=[
        ShipmentNoticeLine(line_no=n, po_number="PO-1", po_line_no=po_line, material_id="M-1", quantity="5",
                           uom="PCE") for n in line_nos])


def receipt(asn_number: str = "ASN-1", po_line: int = 1) -> Receipt:
    return Receipt(receipt_id="R-1", asn_number=asn_number, supplier_id="SUP-1",
                   received_at="2026-03-09T08:00:00+00:00", lines=[
                       ReceiptLine(line_no=1, po_number="PO-1", po_line_no=po_line, material_id="M-1", quantity="5",
                                   uom="PCE", batch_id="SUP-1:L1")])


def seed(store, *docs, inbox_age_hours: float = 2.0) -> None:
    with store.session() as s:
        for doc in (Party(party_id="SUP-1", role="supplier", name="Supplier One"),
                    Material(material_id="M-1", name="Bolt", uom="PCE"), *docs):
            documents.upsert(s, doc)
        s.add(InboxRow(channel="sftp", partner="SUP-1", name="f.edi", sha256="a" * 64, size=1, status="processed",
                       received_at=NOW - dt.timedelta(hours=inbox_age_hours)))


def failed(result) -> set[tuple[str, str, str]]:
    return {(r["table"], r["column"], r["expectation"]) for r in result.results if not r["success"]}


def test_a_consistent_store_passes_every_expectation_and_writes_data_docs(sqlite_store, tmp_path: Path):
    seed(sqlite_store, po(), asn(), receipt())
    result = run_quality(sqlite_store, out_dir=tmp_path / "gx", now=NOW)
    assert failed(result) == set()
    assert result.success
    # completeness 6 + 5 + 5, unique keys 3, references 2 + 1 + 2, ranges 3 + 1 + 1, freshness of 1 feed
    assert len(result.results) == 16 + 3 + 5 + 5 + 1
    fresh = next(r for r in result.results if r["table"] == "feed_freshness")
    assert fresh["column"] == "inbox:sftp:SUP-1" and fresh["observed"] == 2.0
    assert result.docs_index.is_file()
    page = result.docs_index.read_text(encoding="utf-8")
    assert "hub_quality_shipment_notice_lines" in page


def test_broken_links_ranges_and_duplicates_are_each_named_with_their_bad_values(sqlite_store, tmp_path: Path):
    hostile = "SUP-<script>x</script>"
    seed(sqlite_store,
         po(qty="-5"),
         po(number="PO-2", supplier=hostile, lines=1),
         asn(po_line=9, line_nos=(1, 1)),  # line 1 twice, and PO-1 has no line 9
         receipt(asn_number="ASN-404"))
    result = run_quality(sqlite_store, out_dir=tmp_path / "gx", now=NOW)
    assert not result.success
    assert failed(result) == {
        ("purchase_order_lines", "quantity", "expect_column_values_to_be_between"),
        ("purchase_order_lines", "unknown_supplier", "expect_column_values_to_be_null"),
        ("shipment_notice_lines", "supplier_id,asn_number,line_no", "expect_compound_columns_to_be_unique"),
        ("shipment_notice_lines", "unmatched_po_line", "expect_column_values_to_be_null"),
        ("receipt_lines", "unmatched_asn", "expect_column_values_to_be_null"),
    }
    by_key = {(r["table"], r["column"]): r for r in result.results}
    assert by_key[("purchase_order_lines", "quantity")]["unexpected_examples"] == [-5.0, -5.0]
    assert by_key[("purchase_order_lines", "unknown_supplier")]["unexpected_examples"] == [hostile]
    assert by_key[("shipment_notice_lines", "unmatched_po_line")]["unexpected_count"] == 2
    assert by_key[("shipment_notice_lines", "unmatched_po_line")]["unexpected_examples"] == ["PO-1 line 9"] * 2
    assert by_key[("receipt_lines", "unmatched_asn")]["unexpected_examples"] == ["SUP-1/ASN-404"]
    summary = result.failure_summary()
    assert "receipt_lines.unmatched_asn expect_column_values_to_be_null (1 unexpected, e.g. SUP-1/ASN-404)" in summary


def test_a_rerun_on_the_same_data_gives_the_same_verdict_and_keeps_both_runs(sqlite_store, tmp_path: Path):
    seed(sqlite_store, po(), asn(po_line=9))
    first = run_quality(sqlite_store, out_dir=tmp_path / "gx", now=NOW)
    second = run_quality(sqlite_store, out_dir=tmp_path / "gx", now=NOW + dt.timedelta(days=1))
    assert failed(first) == failed(second) == {
        ("shipment_notice_lines", "unmatched_po_line", "expect_column_values_to_be_null"),
        # a day later the SFTP feed (2 h old at NOW) is 26 h old: still within the 48 h default
    }
    runs = list((tmp_path / "gx" / "gx" / "uncommitted" / "validations").rglob("*.json"))
    # three tables with expectations (no receipts still gives its suite) + freshness, twice
    assert len(runs) == 2 * 4


def test_freshness_fails_a_stale_feed_and_a_named_feed_that_never_delivered(sqlite_store, tmp_path: Path):
    seed(sqlite_store, po(), inbox_age_hours=50)
    with sqlite_store.session() as s:
        s.add(EventRow(source="wms", kind="receipt", delivery_id="d-1", raw_sha256="b" * 64, size=1,
                       received_at=NOW - dt.timedelta(hours=3)))
    rules = load_rules()
    rules = QualityRules(default_sla_hours=rules.default_sla_hours,
                         feed_sla_hours={"inbox:sftp:SUP-2": 24, "events:wms": 4},
                         completeness=rules.completeness, ranges=rules.ranges)
    result = run_quality(sqlite_store, out_dir=tmp_path / "gx", now=NOW, rules=rules)
    fresh = {r["column"]: r for r in result.results if r["table"] == "feed_freshness"}
    assert set(fresh) == {"inbox:sftp:SUP-1", "inbox:sftp:SUP-2", "events:wms"}
    # 50 h against the inbox default of 48 h
    assert not fresh["inbox:sftp:SUP-1"]["success"] and fresh["inbox:sftp:SUP-1"]["observed"] == 50.0
    # configured but never seen: no value at all
    assert not fresh["inbox:sftp:SUP-2"]["success"] and fresh["inbox:sftp:SUP-2"]["observed"] is None
    assert fresh["events:wms"]["success"] and fresh["events:wms"]["observed"] == 3.0


def test_frames_hold_the_dangling_reference_itself_and_unreadable_quantities_as_missing():
    snapshot = StoreSnapshot(
        purchase_orders=[{"po_number": "PO-1", "supplier_id": "SUP-1", "order_date": "2026-03-01", "lines": [
            {"line_no": 1, "material_id": "M-1", "quantity": "ten", "uom": "PCE", "delivery_date": "2026-02-20"}]}],
        shipment_notices=[{"asn_number": "A", "supplier_id": "SUP-1", "lines": [
            {"line_no": 1, "po_number": "PO-9", "material_id": "M-1", "quantity": "1"},
            {"line_no": 2, "po_number": None, "material_id": "M-1", "quantity": "1"}]}],
        supplier_ids=frozenset({"SUP-1"}), material_ids=frozenset())
    frames = build_frames(snapshot, load_rules(), NOW)
    po_line = frames["purchase_order_lines"].iloc[0]
    assert po_line["quantity"] != po_line["quantity"]  # NaN: the completeness rule flags it
    assert po_line["lead_time_days"] == -9 and po_line["unknown_material"] == "M-1"
    unmatched = frames["shipment_notice_lines"]["unmatched_po_line"]
    assert unmatched.iloc[0] == "PO-9" and unmatched.isna().tolist() == [False, True]
    assert frames["feed_freshness"].columns.empty


@pytest.mark.parametrize("text, code, where", [
    ("freshness:\n  default_sla_hours:\n    inbox: -1\n", "QUALITY_RULES_INVALID", "freshness.default_sla_hours.inbox"),
    ("completeness:\n  receipt_lines:\n    asn_number: 2\n", "QUALITY_RULES_INVALID",
     "completeness.receipt_lines.asn_number"),
    ("freshness: [unclosed\n", "QUALITY_RULES_UNREADABLE", ""),
    ("- a list\n", "QUALITY_RULES_INVALID", ""),
])
def test_a_broken_rules_file_is_a_fatal_error_naming_file_and_key(tmp_path: Path, text: str, code: str, where: str):
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(FatalError) as caught:
        load_rules(path)
    assert caught.value.code == code
    assert str(path) in caught.value.where and where in caught.value.where


def test_the_dag_task_fails_with_the_failed_expectations_in_its_message(sqlite_store, tmp_path: Path, monkeypatch):
    seed(sqlite_store, po(), asn(po_line=9))
    monkeypatch.setenv("HUB_DATABASE_URL", str(sqlite_store.engine.url))
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path / "var"))
    with pytest.raises(FatalError) as caught:
        run_quality_task(now=NOW)
    assert caught.value.code == "DATA_QUALITY_FAILED"
    assert "1 of 30 expectations failed" in caught.value.message
    assert "shipment_notice_lines.unmatched_po_line expect_column_values_to_be_null" in caught.value.message
    assert (tmp_path / "var" / "gx" / "last_run.json").is_file()
