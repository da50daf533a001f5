"""`hub replay`: archived raw files through the current mappings, diffed against what was stored."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select, update
from typer.testing import CliRunner

from adapters.edi.messages import shipment_notice_to_desadv
from canonical_model.documents import PurchaseOrder, ShipmentNotice, Source
from canonical_model.store import audit, documents, ledger, open_store
from canonical_model.store.tables import DocumentRow, InboxRow
from hub.cli import app
from hub.flows.supplier_inbound import process_inbox
from hub.history_replay import parse_since, render, replay_history
from hub.report import table_counts

PARTNER = "SUP-001"
KEY = f"{PARTNER}/ASN-1"
SINCE = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)


def seed_po(store):
    po = PurchaseOrder(po_number="CGDD000101", supplier_id=PARTNER, order_date=dt.date(2026, 11, 20), lines=[
        {"line_no": i, "material_id": m, "quantity": "500", "uom": "H87"}
        for i, m in enumerate(("1.02.0033", "1.02.0041"), start=1)])
    with store.session() as s:
        documents.upsert(s, po)


def asn(qty=("500", "240"), batches=("B1", "B2")) -> ShipmentNotice:
    return ShipmentNotice(asn_number="ASN-1", supplier_id=PARTNER, ship_date=dt.date(2026, 11, 26), lines=[
        {"line_no": i, "po_number": "CGDD000101", "po_line_no": i, "material_id": m, "quantity": q, "uom": "H87",
         "batch_number": b}
        for i, (m, q, b) in enumerate(zip(("1.02.0033", "1.02.0041"), qty, batches), start=1)])


def receive(store, name: str, doc: ShipmentNotice, control_ref: str) -> None:
    data = shipment_notice_to_desadv(doc, sender=PARTNER, recipient="MESHUB", control_ref=control_ref,
                                     prepared=dt.datetime(2026, 11, 26, 8, 0))
    with store.session() as s:
        ledger.receive(store, s, channel="sftp", partner=PARTNER, name=name, data=data)
    process_inbox(store, PARTNER)


def store_older_variant(store, name: str) -> None:
    """What an earlier mapping made of the same file: another batch number on line 1."""
    older = asn(batches=("OLD-B1", "B2")).model_copy(
        update={"source": Source(system="edifact", partner=PARTNER, file=name)})
    with store.session() as s:
        documents.upsert(s, older, actor="sftp:SUP-001")


def current(store) -> tuple[int, ShipmentNotice]:
    with store.session() as s:
        return documents.current_version(s, "ShipmentNotice", KEY), documents.get(s, "ShipmentNotice", KEY)


def test_dry_run_prints_the_diff_and_writes_nothing(sqlite_store):
    seed_po(sqlite_store)
    receive(sqlite_store, "DESADV_1.edi", asn(), "9001")
    store_older_variant(sqlite_store, "DESADV_1.edi")
    counts = table_counts(sqlite_store)
    archive_files = sorted(p for p in sqlite_store.archive_dir.rglob("*"))

    report = replay_history(sqlite_store, PARTNER, SINCE)

    assert table_counts(sqlite_store) == counts
    assert sorted(p for p in sqlite_store.archive_dir.rglob("*")) == archive_files
    (file,) = report.files
    (doc,) = file.documents
    assert (file.name, doc.status, doc.baseline_version, doc.applied_version) == ("DESADV_1.edi", "changed", 2, None)
    assert doc.diff == [{"path": "lines[0].batch_number", "old": "OLD-B1", "new": "B1"}]
    assert current(sqlite_store)[0] == 2
    text = render(report)
    assert "changed      ShipmentNotice SUP-001/ASN-1 v2" in text and 'lines[0].batch_number: "OLD-B1" -> "B1"' in text
    assert "dry run" in text


def test_apply_stores_a_new_audited_version_and_a_second_apply_is_a_noop(store):
    seed_po(store)
    receive(store, "DESADV_1.edi", asn(), "9001")
    store_older_variant(store, "DESADV_1.edi")

    report = replay_history(store, PARTNER, SINCE, apply=True)

    assert report.summary()["applied"] == 1 and report.files[0].documents[0].applied_version == 3
    version, doc = current(store)
    assert version == 3 and [line.batch_number for line in doc.lines] == ["B1", "B2"]
    with store.session() as s:
        trail = audit.history(s, "ShipmentNotice", KEY)
        (run,) = audit.history(s, "partner", PARTNER)
    assert trail[-1].action == "new_version" and trail[-1].actor == f"replay:{PARTNER}"
    assert trail[-1].details["diff"] == [{"path": "lines[0].batch_number", "old": "OLD-B1", "new": "B1"}]
    assert run.action == "history_replay" and run.details["applied"] == 1

    counts = table_counts(store)
    again = replay_history(store, PARTNER, SINCE, apply=True)
    assert again.summary()["unchanged"] == 1 and again.summary()["applied"] == 0
    # only the audit row of the second run itself is new
    assert {t: n for t, n in table_counts(store) if t != "audit_log"} == {t: n for t, n in counts if t != "audit_log"}


def test_a_file_superseded_by_a_later_one_is_compared_but_never_applied(sqlite_store):
    seed_po(sqlite_store)
    receive(sqlite_store, "DESADV_1.edi", asn(), "9001")
    store_older_variant(sqlite_store, "DESADV_1.edi")
    receive(sqlite_store, "DESADV_1_replace.edi", asn(qty=("500", "300")), "9002")
    assert current(sqlite_store)[0] == 3

    report = replay_history(sqlite_store, PARTNER, SINCE, apply=True)

    statuses = {f.name: f.documents[0].status for f in report.files}
    assert statuses == {"DESADV_1.edi": "superseded", "DESADV_1_replace.edi": "unchanged"}
    version, doc = current(sqlite_store)
    assert version == 3 and doc.lines[1].quantity == 300


def test_a_file_quarantined_before_is_new_once_the_cause_is_fixed(sqlite_store):
    receive(sqlite_store, "DESADV_1.edi", asn(), "9001")  # no PO in the store yet: rejected
    assert current(sqlite_store) == (None, None)
    seed_po(sqlite_store)

    dry = replay_history(sqlite_store, PARTNER, SINCE)
    assert dry.files[0].documents[0].status == "new" and current(sqlite_store) == (None, None)
    applied = replay_history(sqlite_store, PARTNER, SINCE, apply=True)
    assert applied.files[0].documents[0].applied_version == 1
    assert [line.batch_number for line in current(sqlite_store)[1].lines] == ["B1", "B2"]


def test_a_document_that_fails_now_is_reported_and_left_alone(sqlite_store):
    seed_po(sqlite_store)
    receive(sqlite_store, "DESADV_1.edi", asn(), "9001")
    # the PO shrank in the ERP since: the same ASN over-ships it now
    smaller = PurchaseOrder(po_number="CGDD000101", supplier_id=PARTNER, order_date=dt.date(2026, 11, 20), lines=[
        {"line_no": i, "material_id": m, "quantity": "100", "uom": "H87"}
        for i, m in enumerate(("1.02.0033", "1.02.0041"), start=1)])
    with sqlite_store.session() as s:
        documents.upsert(s, smaller)
    report = replay_history(sqlite_store, PARTNER, SINCE, apply=True)
    (doc,) = report.files[0].documents
    assert doc.status == "rejected" and doc.failures and doc.applied_version is None
    assert current(sqlite_store)[0] == 1


def test_only_rows_received_since_the_date_are_replayed(sqlite_store):
    seed_po(sqlite_store)
    receive(sqlite_store, "DESADV_1.edi", asn(), "9001")
    with sqlite_store.session() as s:
        s.execute(update(InboxRow).values(received_at=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)))
    assert replay_history(sqlite_store, PARTNER, dt.date(2026, 2, 1)).files == []
    assert len(replay_history(sqlite_store, PARTNER, dt.date(2025, 12, 31)).files) == 1


def test_since_without_offset_is_on_the_partners_clock():
    import zoneinfo

    shanghai = zoneinfo.ZoneInfo("Asia/Shanghai")
    assert parse_since("2026-11-01", shanghai) == dt.datetime(2026, 10, 31, 16, 0, tzinfo=dt.timezone.utc)
    assert parse_since("2026-11-01T08:00+00:00", shanghai) == dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.timezone.utc)


def test_cli_dry_run_exits_1_on_differences_apply_stores_usage_exits_2(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    store = open_store(f"sqlite:///{tmp_path / 'hub.db'}", archive_dir=tmp_path / "archive")
    try:
        seed_po(store)
        receive(store, "DESADV_1.edi", asn(), "9001")
        store_older_variant(store, "DESADV_1.edi")
        runner = CliRunner()
        dry = runner.invoke(app, ["replay", "--partner", PARTNER, "--since", "2000-01-01"])
        assert dry.exit_code == 1, dry.output
        assert 'lines[0].batch_number: "OLD-B1" -> "B1"' in dry.stdout and current(store)[0] == 2
        applied = runner.invoke(app, ["replay", "--partner", PARTNER, "--since", "2000-01-01", "--apply"])
        assert applied.exit_code == 0, applied.output
        assert "stored v3" in applied.stdout and current(store)[0] == 3
        assert runner.invoke(app, ["replay", "--partner", PARTNER, "--since", "2000-01-01"]).exit_code == 0
        assert runner.invoke(app, ["replay", "--partner", PARTNER, "--since", "yesterday"]).exit_code == 2
        assert runner.invoke(app, ["replay", "--partner", "SUP-404", "--since", "2000-01-01"]).exit_code == 2
        with store.session() as s:
            assert len(list(s.scalars(select(DocumentRow).where(DocumentRow.business_key == KEY)))) == 3
    finally:
        store.dispose()
