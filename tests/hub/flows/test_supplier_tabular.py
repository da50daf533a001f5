"""Acceptance 4: a small supplier's GBK CSV (and XLSX) ASN over real SFTP into the store.

Good rows become ShipmentNotice lines, each bad row is quarantined with its row number and the
raw file's sha256, and a rerun changes nothing.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import secrets
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from canonical_model.documents import PurchaseOrder
from canonical_model.store import documents, ledger, quarantine
from canonical_model.store.tables import InboxRow
from hub.flows.supplier_collect import collect_files
from hub.flows.supplier_inbound import process_inbox

PARTNER = "SUP-001"  # profile: min age 2 s, batch required, over-ship tolerance 5 %, not all-or-nothing
OLD = 3600
HEADER = ["送货单号", "采购订单号", "订单行号", "物料编码", "数量", "单位", "批次号", "发货日期"]




def drop(folder: Path, name: str, data: bytes) -> None:
    path = folder / "out" / name
    path.write_bytes(data)
    past = dt.datetime.now().timestamp() - OLD
    os.utime(path, (past, past))


def seed_po(store):
    po = PurchaseOrder(po_number="CGDD000101", supplier_id=PARTNER, order_date=dt.date(2026, 11, 20), lines=[
        {"line_no": i, "material_id": m, "quantity": "500", "uom": "H87"}
        for i, m in enumerate(("1.02.0033", "1.02.0041", "1.02.0050"), start=1)])
    with store.session() as s:
        documents.upsert(s, po)


def run(store):
    return collect_files(store, PARTNER), process_inbox(store, PARTNER)


def open_rows(store):
    with store.session() as s:
        return quarantine.list_rows(s)


def gbk_csv() -> bytes:
    rows = [",".join(HEADER),
            "ASN-CSV-1,CGDD000101,1,1.02.0033,500,PCS,B1,2026/11/26",
            "ASN-CSV-1,CGDD000101,2,1.02.0041,五百,PCS,B2,2026/11/26",  # row 3: not a number
            "ASN-CSV-1,CGDD000101,3,1.02.0050,300,PCS,B3,2026/11/26"]
    return ("\r\n".join(rows) + "\r\n").encode("gbk")


def test_gbk_csv_asn_good_rows_stored_bad_row_quarantined_with_its_row_and_rerun_is_a_noop(sqlite_store, sftp):
    seed_po(sqlite_store)
    data = gbk_csv()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # the fixture really is GBK, not UTF-8
    drop(sftp, "asn_20261126.csv", data)
    collected, processed = run(sqlite_store)
    assert collected == {"new": 1, "duplicate": 0}
    assert processed["files"] == 1 and processed["documents"] == 1

    with sqlite_store.session() as s:
        asn = documents.get(s, "ShipmentNotice", f"{PARTNER}/ASN-CSV-1")
        inbox = s.scalars(select(InboxRow)).one()
        assert inbox.status == "partially_processed"
    assert [(l.line_no, l.po_line_no, l.material_id, str(l.quantity), l.uom, l.batch_number) for l in asn.lines] == [
        (1, 1, "1.02.0033", "500", "H87", "B1"), (2, 3, "1.02.0050", "300", "H87", "B3")]
    assert asn.ship_date == dt.date(2026, 11, 26) and asn.source.system == "csv"

    (row,) = open_rows(sqlite_store)
    assert row.reason_code == "BAD_NUMBER" and row.location == f"{inbox.name}:row 3"
    assert "五百" in row.message and "数量" in row.message
    assert row.raw_sha256 == hashlib.sha256(data).hexdigest() == row.evidence["sha256"]
    with sqlite_store.session() as s:
        assert ledger.read_raw(sqlite_store, s, row.raw_sha256) == data  # the evidence is the raw bytes

    # rerun: nothing new on the server, nothing pending, nothing stored or quarantined twice
    collected, processed = run(sqlite_store)
    assert collected == {"new": 0, "duplicate": 0} and processed["files"] == 0
    # the supplier uploads the very same file again: recognised by content, not processed again
    drop(sftp, "asn_again.csv", data)
    collected, processed = run(sqlite_store)
    assert collected == {"new": 0, "duplicate": 1} and processed["documents"] == 0
    assert len(open_rows(sqlite_store)) == 1
    with sqlite_store.session() as s:
        assert s.scalar(select(func.count()).select_from(InboxRow)) == 1
        assert len(documents.get(s, "ShipmentNotice", f"{PARTNER}/ASN-CSV-1").lines) == 2


def test_xlsx_asn_with_merged_asn_number_and_a_formula_cell(sqlite_store, sftp):
    seed_po(sqlite_store)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["华东轴承有限公司 送货单"])
    ws.append(HEADER)
    ws.append(["ASN-X-1", "CGDD000101", 1, "1.02.0033", 500.0, "PCS", "B1", dt.datetime(2026, 11, 26)])
    ws.append([None, "CGDD000101", 2, "1.02.0041", "=A1*2", "PCS", "B2", dt.datetime(2026, 11, 26)])
    ws.append([None, "CGDD000101", 3, "1.02.0050", 300, "PCS", "=cmd|' /C calc'!A0", dt.datetime(2026, 11, 26)])
    ws.merge_cells("A3:A5")
    buf = io.BytesIO()
    wb.save(buf)
    drop(sftp, "asn.xlsx", buf.getvalue())
    _, processed = run(sqlite_store)
    assert processed["documents"] == 1
    with sqlite_store.session() as s:
        asn = documents.get(s, "ShipmentNotice", f"{PARTNER}/ASN-X-1")
    # the formula in the batch column is stored as the text the supplier typed, never evaluated
    assert [(l.po_line_no, str(l.quantity), l.batch_number) for l in asn.lines] == [
        (1, "500", "B1"), (3, "300", "=cmd|' /C calc'!A0")]
    (row,) = open_rows(sqlite_store)
    assert (row.reason_code, row.location) == ("BAD_NUMBER", "asn.xlsx:row 4") and "formula" in row.message


def test_hostile_files_are_quarantined_not_crashing(sqlite_store, sftp):
    seed_po(sqlite_store)
    drop(sftp, "empty.csv", b"")
    drop(sftp, "header_only.csv", ",".join(HEADER).encode("gbk") + b"\r\n")
    drop(sftp, "junk.csv", bytes(range(256)) * 16)
    drop(sftp, "not_really.xlsx", b"PK\x03\x04" + secrets.token_bytes(500))
    _, processed = run(sqlite_store)
    assert processed["files"] == 4 and processed["documents"] == 0
    assert sorted((r.reason_code, r.location) for r in open_rows(sqlite_store)) == [
        ("BAD_XLSX", "not_really.xlsx:row 1"), ("EMPTY_FILE", "empty.csv:row 1"),
        ("NO_DATA_ROWS", "header_only.csv:row 1"), ("UNKNOWN_FORMAT", "junk.csv:row 1")]


def test_big_csv_is_read_row_by_row_and_every_row_counted(sqlite_store, sftp):
    # ~5 MB, one ASN per 50 rows; a bad row every 1000 rows. No timing asserted (see bench/).
    seed_po(sqlite_store)
    lines = [",".join(HEADER + ["备注"])]
    n = size = 0
    while size < 5_000_000:
        n += 1
        qty = "x" if n % 1000 == 0 else str(n % 7 + 1)
        lines.append(f"ASN-B-{n // 50},PO-B-{n // 50},{n % 50 + 1},1.02.{n:05d},{qty},PCS,B{n},2026-11-26,"
                     + "备注" * 20)
        size += len(lines[-1]) + 2
    data = ("\r\n".join(lines) + "\r\n").encode("gbk")
    assert len(data) > 5_000_000
    from hub.translate import translate
    result = translate(data, "big.csv", partner=PARTNER)
    bad = n // 1000
    assert len(result.errors) == bad and all(e.code == "BAD_NUMBER" for e in result.errors)
    assert result.errors[0].where == "big.csv:row 1001"  # data row 1000 sits under the header row
    assert sum(len(d.lines) for d in result.documents) == n - bad
    assert len(result.documents) == n // 50 + 1
