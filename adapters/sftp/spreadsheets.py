"""Delivery schedules as the CSV / XLSX a small supplier opens in Excel or WPS.

Called by :func:`adapters.edi.delivery_schedules.render_delivery_schedule` for partners whose
profile says ``delivery_schedule: {format: csv}`` or ``{format: xlsx}``; the schedule has been
checked there (lines present, quantities finite and at most 15 digits).

Layout, the same in both formats, headers in the profile's ``identity.language`` (``zh``, ``en``
or ``zh+en`` as ``数量 / quantity``, like the inbound templates in adapters/tabular):

* the schedule: one row per line (schedule id, version, issued, supplier, ship to, material,
  supplier part, delivery date, quantity, unit, commitment 确定 firm / 预测 forecast), ordered
  per material and then by date, like the EDI;
* what changed since the last version (``ScheduleChange.as_dict()`` rows), only when there
  are changes: XLSX a second sheet, CSV a second table after one empty row and a title row.

CSV is UTF-8 with BOM and CRLF (Excel and WPS open Chinese intact). A text cell starting with
``= + - @`` is prefixed with ``'`` in the CSV so a spreadsheet shows it instead of running it
(CSV injection); in the XLSX such a cell is stored as a string, never as a formula. XLSX bytes
depend only on the input: the zip entries and document properties carry ``now``, not the clock.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from decimal import Decimal
from typing import Any, Iterable, Sequence

from adapters.edi.delivery_schedules import quantity_text, schedule_items
from canonical_model.documents import DeliverySchedule
from hub.errors import SkippableError

#: (field, zh, en) of the schedule table
SCHEDULE_COLUMNS = (
    ("schedule_id", "计划单号", "schedule id"),
    ("version", "版本", "version"),
    ("issued", "发布时间", "issued"),
    ("supplier_id", "供应商", "supplier"),
    ("ship_to_id", "收货方", "ship to"),
    ("material_id", "物料编码", "material code"),
    ("supplier_material_id", "供应商料号", "supplier part number"),
    ("date", "交货日期", "delivery date"),
    ("quantity", "数量", "quantity"),
    ("uom", "单位", "unit"),
    ("commitment", "计划类型", "commitment"),
)
#: (key of ScheduleChange.as_dict(), zh, en) of the changes table
CHANGE_COLUMNS = (
    ("kind", "变更类型", "change"),
    ("material_id", "物料编码", "material code"),
    ("uom", "单位", "unit"),
    ("old_date", "原交货日期", "old date"),
    ("new_date", "新交货日期", "new date"),
    ("old_quantity", "原数量", "old quantity"),
    ("new_quantity", "新数量", "new quantity"),
    ("requires_approval", "需审批", "needs approval"),
)
#: canonical codes shown to people: (zh, en)
WORDS = {
    "firm": ("确定", "firm"), "forecast": ("预测", "forecast"),
    "added": ("新增", "added"), "removed": ("取消", "removed"),
    "quantity_changed": ("数量变更", "quantity changed"), "date_changed": ("日期变更", "date changed"),
    True: ("是", "yes"), False: ("否", "no"),
}
SHEET_TITLES = {"schedule": ("交货计划", "Delivery schedule"), "changes": ("变更", "Changes")}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def label(zh: str, en: str, language: str) -> str:
    return {"zh": zh, "en": en}.get(language, f"{zh} / {en}")


#: columns whose canonical codes are shown as words (a material named "firm" stays "firm")
WORD_COLUMNS = {"commitment", "kind", "requires_approval"}


def word(value: Any, language: str) -> str:
    # exact type check: Decimal(1) and the version 1 compare equal to True
    pair = WORDS.get(value) if isinstance(value, (str, bool)) else None
    return label(*pair, language) if pair else ("" if value is None else str(value))


def displayed(columns: Sequence[tuple[str, str, str]], values: dict[str, Any], language: str) -> list[Any]:
    return [word(values.get(name), language) if name in WORD_COLUMNS else values.get(name) for name, _, _ in columns]


def schedule_rows(schedule: DeliverySchedule, issued: dt.datetime) -> list[dict[str, Any]]:
    """One dict per line with typed values (dates, Decimal), in the EDI order."""
    rows = []
    for material, uom, part, lines in schedule_items(schedule):
        for line in lines:
            rows.append({"schedule_id": schedule.schedule_id, "version": schedule.version,
                         "issued": issued.replace(tzinfo=None, second=0, microsecond=0),
                         "supplier_id": schedule.supplier_id, "ship_to_id": schedule.ship_to_id,
                         "material_id": material, "supplier_material_id": line.supplier_material_id or part,
                         "date": line.date, "quantity": line.quantity, "uom": uom,
                         "commitment": line.commitment})
    return rows


def change_values(change: dict, language: str) -> list[Any]:
    """A change row typed like the schedule rows (as_dict() carries ISO dates and decimal strings)."""
    typed = dict(change)
    for key, value in change.items():
        if isinstance(value, str) and key.endswith("_date"):
            typed[key] = dt.date.fromisoformat(value)
        elif isinstance(value, str) and key.endswith("_quantity"):
            typed[key] = Decimal(value)
    return displayed(CHANGE_COLUMNS, typed, language)


def _changes_title(schedule: DeliverySchedule, language: str) -> str:
    return label(f"自 v{schedule.version - 1} 起的变更", f"changes since v{schedule.version - 1}", language)


# ------------------------------------------------------------------------------ CSV
def _csv_text(value: Any, language: str) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return quantity_text(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def delivery_schedule_csv(schedule: DeliverySchedule, changes: Sequence[dict] = (), *, language: str = "zh+en",
                          issued: dt.datetime) -> bytes:
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\r\n")
    out.writerow([label(zh, en, language) for _, zh, en in SCHEDULE_COLUMNS])
    for row in schedule_rows(schedule, issued):
        out.writerow([_csv_text(value, language) for value in displayed(SCHEDULE_COLUMNS, row, language)])
    if changes:
        out.writerow([])
        out.writerow([_changes_title(schedule, language)])
        out.writerow([label(zh, en, language) for _, zh, en in CHANGE_COLUMNS])
        for change in changes:
            out.writerow([_csv_text(value, language) for value in change_values(change, language)])
    return buffer.getvalue().encode("utf-8-sig")


# ------------------------------------------------------------------------------ XLSX
class _StampedZip(zipfile.ZipFile):
    """A zip whose entries carry one fixed time instead of the clock's (identical bytes per input)."""

    def __init__(self, file: io.BytesIO, stamp: dt.datetime) -> None:
        super().__init__(file, "w", zipfile.ZIP_DEFLATED)
        self._stamp = (max(stamp.year, 1980), stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)

    def writestr(self, zinfo_or_arcname, data, compress_type=None, compresslevel=None):  # type: ignore[override]
        if not isinstance(zinfo_or_arcname, zipfile.ZipInfo):
            zinfo_or_arcname = zipfile.ZipInfo(zinfo_or_arcname, date_time=self._stamp)
            zinfo_or_arcname.compress_type = zipfile.ZIP_DEFLATED
        super().writestr(zinfo_or_arcname, data, compress_type, compresslevel)


def _xlsx_value(value: Any, language: str, where: str) -> tuple[Any, str]:
    """The cell value and its number format."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if value is None:
        return None, "@"
    if isinstance(value, Decimal):
        quantity_text(value, where)  # same bound as the EDI: 15 digits are exact in Excel's doubles
        return value.normalize(), "General"
    if isinstance(value, int):
        return value, "0"
    if isinstance(value, dt.datetime):
        return value, "yyyy-mm-dd hh:mm"
    if isinstance(value, dt.date):
        return value, "yyyy-mm-dd"
    text = str(value)
    if ILLEGAL_CHARACTERS_RE.search(text):
        raise SkippableError("SPREADSHEET_ILLEGAL_CHARACTER",
                             f"{text!r} holds a control character an XLSX cell cannot store", where)
    return text, "@"


def _write_table(sheet, header: Iterable[str], rows: Iterable[list[Any]], language: str, where: str,
                 first_row: int = 1) -> None:
    from openpyxl.styles import Font, PatternFill

    bold, fill = Font(bold=True, color="FFFFFF"), PatternFill("solid", fgColor="305496")
    for col, text in enumerate(header, start=1):
        cell = sheet.cell(row=first_row, column=col, value=text)
        cell.font, cell.fill = bold, fill
        sheet.column_dimensions[cell.column_letter].width = max(12, sum(2 if ord(c) > 0x2E80 else 1 for c in text) + 2)
    for r, values in enumerate(rows, start=first_row + 1):
        for col, raw in enumerate(values, start=1):
            value, number_format = _xlsx_value(raw, language, f"{where} row {r} column {col}")
            cell = sheet.cell(row=r, column=col, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # "=..." from a partner id is text, never a formula
            cell.number_format = number_format
    sheet.freeze_panes = sheet.cell(row=first_row + 1, column=1).coordinate


def delivery_schedule_xlsx(schedule: DeliverySchedule, changes: Sequence[dict] = (), *, language: str = "zh+en",
                           issued: dt.datetime, now: dt.datetime) -> bytes:
    try:
        from openpyxl import Workbook
        from openpyxl.writer.excel import ExcelWriter
    except ImportError:  # pragma: no cover - openpyxl is a runtime dependency
        raise SkippableError("XLSX_UNAVAILABLE", "openpyxl is not installed; send this partner CSV instead",
                             f"DeliverySchedule {schedule.business_key}") from None
    where = f"DeliverySchedule {schedule.business_key} v{schedule.version}"
    zh = 0 if language != "en" else 1
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = SHEET_TITLES["schedule"][zh]
    _write_table(sheet, [label(z, e, language) for _, z, e in SCHEDULE_COLUMNS],
                 (displayed(SCHEDULE_COLUMNS, row, language) for row in schedule_rows(schedule, issued)),
                 language, f"{where} sheet {sheet.title}")
    if changes:
        sheet = workbook.create_sheet(SHEET_TITLES["changes"][zh])
        sheet.cell(row=1, column=1, value=_changes_title(schedule, language))
        _write_table(sheet, [label(z, e, language) for _, z, e in CHANGE_COLUMNS],
                     (change_values(change, language) for change in changes),
                     language, f"{where} sheet {sheet.title}", first_row=2)
    stamp = (now if now.tzinfo is None else now.astimezone(dt.timezone.utc)).replace(tzinfo=None, microsecond=0)
    workbook.properties.creator = "mes-hub"
    workbook.properties.created = workbook.properties.modified = stamp
    buffer = io.BytesIO()
    # ExcelWriter rather than Workbook.save: save() stamps "modified" with the clock
    ExcelWriter(workbook, _StampedZip(buffer, stamp)).save()
    return buffer.getvalue()

