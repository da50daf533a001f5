"""Sheets to canonical documents: detection, grouping, per-row errors, XLSX quirks, hostile input."""
from __future__ import annotations

import datetime as dt
import io
import zipfile
from decimal import Decimal

import openpyxl

from adapters.tabular.translate import looks_tabular, translate_table
from hub.translate import translate

HEADER = "送货单号,物料编码,数量,单位,批次号,发货日期"


def csv_bytes(*rows: str, encoding: str = "utf-8") -> bytes:
    return "\r\n".join(rows).encode(encoding) + b"\r\n"


def xlsx_bytes(rows: list[list], merge: tuple[str, ...] = (), title_rows: int = 0) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    for _ in range(title_rows):
        ws.append(["华东轴承 送货单"])
    for row in rows:
        ws.append(row)
    for ref in merge:
        ws.merge_cells(ref)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def codes(result):
    return [(e.code, e.where) for e in result.errors]


def test_rows_group_into_documents_in_order_and_line_no_counts_within_each():
    data = csv_bytes(HEADER, "A1,M1,1,PCS,B1,2026-11-26", "A2,M2,2,PCS,B2,2026-11-26", "A1,M3,3,EA,B3,2026-11-26")
    result = translate_table(data, "asn.csv", "SUP-001")
    assert result.errors == [] and result.message == "asn" and result.header_row == 1
    a1, a2 = result.documents
    assert (a1.asn_number, [(l.line_no, l.material_id) for l in a1.lines]) == ("A1", [(1, "M1"), (2, "M3")])
    assert (a2.asn_number, a2.supplier_id, a2.lines[0].uom) == ("A2", "SUP-001", "H87")
    assert a1.source.system == "csv" and a1.source.interchange_ref is None


def test_a_document_whose_rows_are_all_bad_is_not_produced():
    data = csv_bytes(HEADER, "A1,M1,1,PCS,B1,2026-11-26", "A2,M2,0,PCS,B2,2026-11-26", "A2,M3,x,PCS,B3,2026-11-26")
    result = translate_table(data, "asn.csv", "SUP-001")
    assert [d.asn_number for d in result.documents] == ["A1"]
    assert codes(result) == [("QTY_NOT_POSITIVE", "asn.csv:row 3"), ("BAD_NUMBER", "asn.csv:row 4")]
    assert (result.rows, result.bad_rows) == (3, 2)


def test_supplier_comes_from_the_partner_and_another_suppliers_id_is_refused():
    data = csv_bytes("送货单号,供应商,物料编码,数量,单位", "A1,SUP-001,M1,1,PCS", "A2,SUP-002,M1,1,PCS", "A3,,M1,1,PCS")
    result = translate_table(data, "asn.csv", "SUP-001")
    assert [(d.asn_number, d.supplier_id) for d in result.documents] == [("A1", "SUP-001"), ("A3", "SUP-001")]
    assert codes(result) == [("SUPPLIER_MISMATCH", "asn.csv:row 3")]
    # without a partner (hub translate FILE) the column decides, and a missing one is a missing field
    result = translate_table(data, "asn.csv")
    assert [d.supplier_id for d in result.documents] == ["SUP-001", "SUP-002"]
    assert codes(result) == [("MISSING_FIELD", "asn.csv:row 4")]


def test_message_is_chosen_by_header_and_a_tie_names_the_candidates():
    inventory = csv_bytes("report id,material code,qty,unit", "R1,M1,5,PCS")
    assert translate_table(inventory, "stock.csv", "SUP-001").message == "inventory"
    both = csv_bytes("物料编码,数量,单位,批次号", "M1,5,PCS,B1")
    result = translate_table(both, "x.csv", "SUP-001")
    assert result.documents == [] and [e.code for e in result.errors] == ["AMBIGUOUS_MESSAGE"]
    assert "asn" in result.errors[0].message and "inventory" in result.errors[0].message
    # the partner profile (or the CLI) can settle it: without the ASN number column it is incomplete
    forced = translate_table(both, "x.csv", "SUP-001", message="asn")
    assert [e.code for e in forced.errors] == ["MISSING_COLUMN"] and "送货单号" in forced.errors[0].message


def test_hostile_and_empty_inputs_are_errors_not_crashes():
    assert codes(translate_table(b"", "e.csv")) == [("EMPTY_FILE", "e.csv:row 1")]
    assert codes(translate_table(b"\xef\xbb\xbf\r\n", "e.csv")) == [("EMPTY_FILE", "e.csv:row 1")]
    assert codes(translate_table(csv_bytes(HEADER), "h.csv")) == [("NO_DATA_ROWS", "h.csv:row 1")]
    assert codes(translate_table(csv_bytes(HEADER, ",,,,,", ""), "h.csv")) == [("NO_DATA_ROWS", "h.csv:row 1")]
    assert [e.code for e in translate_table(bytes(range(256)) * 4, "junk.csv").errors] == ["UNKNOWN_FORMAT"]
    assert [e.code for e in translate_table(b"a,b\n1,2\n", "other.csv").errors] == ["NO_HEADER_ROW"]
    assert [e.code for e in translate_table(b"PK\x03\x04broken", "x.xlsx").errors] == ["BAD_XLSX"]
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
    assert [e.code for e in translate_table(zipped.getvalue(), "x.xlsx").errors] == ["BAD_XLSX"]
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)
    assert [e.code for e in translate_table(ole, "old.xls").errors] == ["UNSUPPORTED_FORMAT"]
    # an unterminated quote swallows the rest of the file: rows before it are kept
    broken = csv_bytes(HEADER, "A1,M1,1,PCS,B1,2026-11-26") + b'A2,"M2' + b"x" * 200_000
    result = translate_table(broken, "q.csv", "SUP-001")
    assert [d.asn_number for d in result.documents] == ["A1"] and [e.code for e in result.errors] == ["BAD_CSV"]


def test_formula_text_is_data_never_a_computation():
    data = csv_bytes(HEADER, "A1,M1,=1+1,PCS,B1,2026-11-26", "A1,M2,1,PCS,=cmd|' /C calc'!A0,2026-11-26")
    result = translate_table(data, "f.csv", "SUP-001")
    assert codes(result) == [("BAD_NUMBER", "f.csv:row 2")] and "formula" in result.errors[0].message
    assert result.documents[0].lines[0].batch_number == "=cmd|' /C calc'!A0"


def test_xlsx_header_below_titles_merged_document_cells_floats_dates_and_formulas():
    rows = [
        ["送货单号 / ASN number", "发货日期", "物料编码", "数量", "单位", "批次号", None, None],
        ["ASN-9", dt.datetime(2026, 11, 26), "1.02.0033", 500.0, "PCS", "=cmd|' /C calc'!A0"],
        [None, None, 10023, 0.1 + 0.2, "pcs", "B2"],
        [],
        [None, None, "1.02.0050", "=2*3", "PCS", "B3"],
        ["ASN-10", "20261127", "1.02.0060", 7, "EA", "B4", None, "stray note"],
    ]
    # ASN number and ship date are merged down over the three rows of ASN-9 (blank row included)
    data = xlsx_bytes(rows, merge=("A4:A7", "B4:B7", "A1:H1"), title_rows=2)
    assert looks_tabular(data, "upload.bin")  # by content: a ZIP with xl/workbook.xml
    result = translate_table(data, "asn.xlsx", "SUP-001")
    assert result.format == "xlsx" and result.header_row == 3
    assert codes(result) == [("BAD_NUMBER", "asn.xlsx:row 7")]
    asn9, asn10 = result.documents
    assert asn9.ship_date == dt.date(2026, 11, 26) and asn10.ship_date == dt.date(2026, 11, 27)
    assert [(l.material_id, l.quantity, l.batch_number) for l in asn9.lines] == [
        ("1.02.0033", Decimal(500), "=cmd|' /C calc'!A0"), ("10023", Decimal("0.3"), "B2")]
    assert str(asn9.lines[0].quantity) == "500"


def test_xlsx_sheet_can_be_named():
    wb = openpyxl.Workbook()
    wb.active.append(["notes"])
    ws = wb.create_sheet("送货单")
    ws.append(["送货单号", "物料编码", "数量", "单位"])
    ws.append(["A1", "M1", 2, "PCS"])
    buf = io.BytesIO()
    wb.save(buf)
    assert [e.code for e in translate_table(buf.getvalue(), "a.xlsx", "SUP-001").errors] == ["NO_HEADER_ROW"]
    result = translate_table(buf.getvalue(), "a.xlsx", "SUP-001", sheet="送货单")
    assert [d.asn_number for d in result.documents] == ["A1"]


def test_hub_translate_routes_sheets_and_keeps_edi_and_junk_as_before():
    data = csv_bytes(HEADER, "A1,M1,1,PCS,B1,2026-11-26", encoding="gbk")
    for name in ("asn.csv", "asn.txt", "ASN_20261126"):  # the last one by content only
        result = translate(data, name, partner="SUP-001")
        assert [d.asn_number for d in result.documents] == ["A1"] and result.control_ref is None, name
    assert [e.code for e in translate(bytes(range(256)) * 4, "junk.bin").errors] == ["UNKNOWN_FORMAT"]
    assert [e.code for e in translate(b"", "empty.edi").errors] == ["EMPTY_FILE"]
    assert not looks_tabular(b"hello world\nthis is prose\n", "note")
