"""Delivery schedule sheets: CSV read back with the csv module, XLSX with openpyxl, cell by cell."""
from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from adapters.sftp.spreadsheets import delivery_schedule_csv, delivery_schedule_xlsx
from canonical_model.documents import DeliverySchedule, DeliveryScheduleLine
from hub.errors import SkippableError

ISSUED = dt.datetime(2026, 11, 26, 9, 30, 45)
NOW = dt.datetime(2026, 11, 26, 2, 0)
CHANGES = [
    {"kind": "date_changed", "material_id": "1.02.0033", "uom": "H87", "old_date": "2026-12-01",
     "new_date": "2026-12-02", "old_quantity": "500", "new_quantity": "500", "requires_approval": True},
    {"kind": "removed", "material_id": "9.99", "uom": "H87", "old_date": "2026-12-05", "new_date": None,
     "old_quantity": "3", "new_quantity": None, "requires_approval": False},
]


def schedule(*lines: DeliveryScheduleLine, **kw) -> DeliverySchedule:
    lines = lines or (
        DeliveryScheduleLine(material_id="1.02.0033", date=dt.date(2026, 12, 20), quantity=Decimal("1200"),
                             uom="H87", commitment="forecast"),
        DeliveryScheduleLine(material_id="1.02.0033", supplier_material_id="B-6204", date=dt.date(2026, 12, 2),
                             quantity=Decimal("500.00"), uom="H87", commitment="firm"),
        DeliveryScheduleLine(material_id="轴承座", date=dt.date(2026, 12, 1), quantity=Decimal("0.125"), uom="KGM",
                             commitment="firm"),
    )
    return DeliverySchedule(schedule_id="DS-SUP-001", supplier_id="SUP-001", version=3, horizon_start=dt.date(2026, 11, 30),
                            horizon_end=dt.date(2027, 1, 10), lines=list(lines), **kw)


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data  # Excel/WPS: BOM keeps the Chinese intact
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_lists_every_line_in_edi_order_with_words_for_commitments():
    rows = csv_rows(delivery_schedule_csv(schedule(), language="zh+en", issued=ISSUED))
    assert rows[0][:3] == ["计划单号 / schedule id", "版本 / version", "发布时间 / issued"]
    assert rows[0][-3:] == ["数量 / quantity", "单位 / unit", "计划类型 / commitment"]
    assert rows[1:] == [
        ["DS-SUP-001", "3", "2026-11-26 09:30", "SUP-001", "", "1.02.0033", "B-6204", "2026-12-02", "500", "H87",
         "确定 / firm"],
        ["DS-SUP-001", "3", "2026-11-26 09:30", "SUP-001", "", "1.02.0033", "B-6204", "2026-12-20", "1200", "H87",
         "预测 / forecast"],
        ["DS-SUP-001", "3", "2026-11-26 09:30", "SUP-001", "", "轴承座", "", "2026-12-01", "0.125", "KGM",
         "确定 / firm"],
    ]


def test_csv_changes_section_follows_after_an_empty_row():
    rows = csv_rows(delivery_schedule_csv(schedule(), CHANGES, language="en", issued=ISSUED))
    assert rows[0][0] == "schedule id" and rows[4:] == [
        [],
        ["changes since v2"],
        ["change", "material code", "unit", "old date", "new date", "old quantity", "new quantity", "needs approval"],
        ["date changed", "1.02.0033", "H87", "2026-12-01", "2026-12-02", "500", "500", "yes"],
        ["removed", "9.99", "H87", "2026-12-05", "", "3", "", "no"],
    ]
    zh = csv_rows(delivery_schedule_csv(schedule(), CHANGES, language="zh", issued=ISSUED))
    assert zh[0][0] == "计划单号" and zh[5] == ["自 v2 起的变更"] and zh[7][0] == "日期变更" and zh[7][-1] == "是"


def test_csv_hostile_text_is_neither_a_formula_nor_a_broken_row():
    sched = schedule(DeliveryScheduleLine(material_id='=HYPERLINK("x","y")', supplier_material_id='a,"b"\nc',
                                          date=dt.date(2026, 12, 1), quantity=Decimal(1), uom="H87",
                                          commitment="firm"),
                     DeliveryScheduleLine(material_id="firm", date=dt.date(2026, 12, 2), quantity=Decimal(2), uom="H87",
                                          commitment="forecast"))
    rows = csv_rows(delivery_schedule_csv(sched, language="en", issued=ISSUED))
    assert len(rows) == 3
    assert rows[1][5:7] == ['\'=HYPERLINK("x","y")', 'a,"b"\nc']
    # a material that happens to be called "firm" is not translated like the commitment column
    assert rows[2][5] == "firm" and rows[2][-1] == "forecast"


def book(data: bytes):
    return load_workbook(io.BytesIO(data))


def test_xlsx_cells_are_typed_and_the_changes_sheet_is_second():
    data = delivery_schedule_xlsx(schedule(), CHANGES, language="zh+en", issued=ISSUED, now=NOW)
    wb = book(data)
    assert wb.sheetnames == ["交货计划", "变更"]
    sheet = wb["交货计划"]
    assert sheet["A1"].value == "计划单号 / schedule id" and sheet.freeze_panes == "A2"
    rows = [list(r) for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert rows == [
        ["DS-SUP-001", 3, dt.datetime(2026, 11, 26, 9, 30), "SUP-001", None, "1.02.0033", "B-6204",
         dt.datetime(2026, 12, 2), 500, "H87", "确定 / firm"],
        ["DS-SUP-001", 3, dt.datetime(2026, 11, 26, 9, 30), "SUP-001", None, "1.02.0033", "B-6204",
         dt.datetime(2026, 12, 20), 1200, "H87", "预测 / forecast"],
        ["DS-SUP-001", 3, dt.datetime(2026, 11, 26, 9, 30), "SUP-001", None, "轴承座", None,
         dt.datetime(2026, 12, 1), 0.125, "KGM", "确定 / firm"],
    ]
    assert sheet["H2"].number_format == "yyyy-mm-dd" and sheet["F2"].number_format == "@"
    assert Decimal(str(sheet["I4"].value)) == Decimal("0.125")
    changes = wb["变更"]
    assert changes["A1"].value == "自 v2 起的变更 / changes since v2"
    assert [list(r) for r in changes.iter_rows(min_row=3, values_only=True)] == [
        ["日期变更 / date changed", "1.02.0033", "H87", dt.datetime(2026, 12, 1), dt.datetime(2026, 12, 2), 500, 500,
         "是 / yes"],
        ["取消 / removed", "9.99", "H87", dt.datetime(2026, 12, 5), None, 3, None, "否 / no"],
    ]


def test_xlsx_without_changes_has_one_sheet_and_english_titles():
    wb = book(delivery_schedule_xlsx(schedule(), language="en", issued=ISSUED, now=NOW))
    assert wb.sheetnames == ["Delivery schedule"] and wb.active["K2"].value == "firm"


def test_xlsx_formula_like_ids_are_strings_and_bytes_depend_only_on_the_input():
    sched = schedule(DeliveryScheduleLine(material_id="=1+1", supplier_material_id="@SUM(A1)",
                                          date=dt.date(2026, 12, 1), quantity=Decimal("999999999999999"),
                                          uom="H87", commitment="firm"))
    data = delivery_schedule_xlsx(sched, issued=ISSUED, now=NOW)
    cell = book(data).active["F2"]
    assert (cell.value, cell.data_type) == ("=1+1", "s")
    assert book(data).active["I2"].value == 999999999999999  # 15 digits: exact in Excel's double
    assert delivery_schedule_xlsx(sched, issued=ISSUED, now=NOW) == data
    later = delivery_schedule_xlsx(sched, issued=ISSUED, now=NOW + dt.timedelta(hours=1))
    assert later != data and book(later).properties.modified == NOW + dt.timedelta(hours=1)


def test_xlsx_control_characters_are_refused_with_the_cell():
    sched = schedule(DeliveryScheduleLine(material_id="M\x01", date=dt.date(2026, 12, 1), quantity=Decimal(1),
                                          uom="H87", commitment="firm"))
    with pytest.raises(SkippableError) as err:
        delivery_schedule_xlsx(sched, issued=ISSUED, now=NOW)
    assert err.value.code == "SPREADSHEET_ILLEGAL_CHARACTER" and "row 2 column 6" in err.value.where
