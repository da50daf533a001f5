"""Blank CSV/XLSX templates for a message, generated from its column spec.

What a small supplier fills in is exactly what the reader expects: the header cells are the
spec's labels (``物料编码 / material code``), so a filled template always finds its header and
its message. The XLSX adds what keeps people from typing wrong values: text format on code
columns (Excel would turn ``00123`` into 123 and ``1-2`` into a date), date format on date
columns, a drop-down of unit codes, and a README sheet describing every column.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Literal, Optional

from adapters.tabular.spec import SPEC_DIR, Column, TableSpec, get_spec
from mappings import crosswalk as cw

LANGUAGES = ("zh+en", "zh", "en")
#: data rows pre-formatted in the XLSX template (text/date formats, unit drop-down)
TEMPLATE_ROWS = 1000


def write_template(message: str, fmt: Literal["csv", "xlsx"], path: str | Path, language: str = "zh+en", *,
                   partner: Optional[str] = None, spec_dir: Path = SPEC_DIR) -> Path:
    """Write a blank template for ``message`` (``asn``, ``inventory``...) to ``path``.

    ``language``: ``zh+en`` (``数量 / quantity``), ``zh`` or ``en`` header labels; all read back.
    ``partner``: its own unit codes (crosswalk entries for the partner) join the unit drop-down.
    Returns the path written. CSV is UTF-8 with BOM, which Excel and WPS open with Chinese intact.
    """
    if fmt not in ("csv", "xlsx"):
        raise ValueError(f"format must be csv or xlsx, not {fmt!r}")
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, not {language!r}")
    spec = get_spec(message, spec_dir)
    path = Path(path)
    if fmt == "csv":
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerow([c.label(language) for c in spec.columns])
        path.write_bytes(buffer.getvalue().encode("utf-8-sig"))
    else:
        _write_xlsx(spec, path, language, partner)
    return path


def unit_codes(partner: Optional[str] = None) -> list[str]:
    """Unit codes a supplier may type: the crosswalk's codes for everyone and for ``partner``."""
    table = cw.load_crosswalk("units")
    codes: list[str] = []
    for (source, code) in table.entries:
        if source in ("*", "tabular", partner) and code.upper() not in {c.upper() for c in codes}:
            codes.append(code)
    return codes


def _format_text(col: Column, language: str, units: list[str]) -> str:
    zh = language != "en"
    if col.type == "decimal":
        places = f"最多 {col.scale} 位小数" if zh else f"up to {col.scale} decimals"
        sign = ("大于 0" if zh else "greater than 0") if col.positive else (
            ("不小于 0" if zh else "0 or more") if col.non_negative else "")
        return ", ".join(p for p in (("数字" if zh else "number"), places if col.scale is not None else "", sign) if p)
    if col.type == "int":
        return "整数" if zh else "whole number"
    if col.type == "date":
        return "日期 YYYY-MM-DD（也可 YYYY/MM/DD、YYYYMMDD）" if zh else "date YYYY-MM-DD (or YYYY/MM/DD, YYYYMMDD)"
    if col.type == "datetime":
        return "日期时间 YYYY-MM-DD HH:MM" if zh else "date and time YYYY-MM-DD HH:MM"
    if col.type == "choice":
        return " | ".join(aliases[0] if zh and aliases else canonical for canonical, aliases in col.choices.items())
    if col.crosswalk == "units":
        return ("单位代码: " if zh else "unit code: ") + ", ".join(units)
    if col.from_partner:
        return "文本，可不填（默认为发送方）" if zh else "text, may be left out (defaults to the sender)"
    return "文本" if zh else "text"


def _write_xlsx(spec: TableSpec, path: Path, language: str, partner: Optional[str]) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    units = unit_codes(partner)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = (spec.title_zh if language != "en" else spec.title_en)[:31]
    bold = Font(bold=True, color="FFFFFF")
    fill = PatternFill("solid", fgColor="305496")
    required_fill = PatternFill("solid", fgColor="C00000")
    for index, col in enumerate(spec.columns, start=1):
        cell = sheet.cell(row=1, column=index, value=col.label(language))
        cell.font, cell.fill = bold, required_fill if col.required else fill
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = max(12, _display_width(col.label(language)) + 4)
        number_format = {"date": "yyyy-mm-dd", "datetime": "yyyy-mm-dd hh:mm", "decimal": "General",
                         "int": "0"}.get(col.type, "@")
        for row in range(2, TEMPLATE_ROWS + 2):
            sheet.cell(row=row, column=index).number_format = number_format
        if col.crosswalk == "units" and units:
            _list_validation(sheet, DataValidation, units, f"{letter}2:{letter}{TEMPLATE_ROWS + 1}", col, language)
        elif col.type == "choice":
            options = [aliases[0] if aliases else canonical for canonical, aliases in col.choices.items()]
            _list_validation(sheet, DataValidation, options, f"{letter}2:{letter}{TEMPLATE_ROWS + 1}", col, language)
    sheet.freeze_panes = "A2"
    sheet.row_dimensions[1].height = 30

    readme = workbook.create_sheet("README")
    zh = language != "en"
    head = ["列 / column", "字段 / field", "必填 / required", "格式 / format", "别名 / also accepted", "示例 / example"]
    readme.append([spec.title_zh + " / " + spec.title_en])
    readme.append(["每行一条明细；相同单号的行合并为一张单据。带红色表头的列必填。" if zh else
                   "One row per line; rows with the same document number form one document. Red headers are required."])
    readme.append(head)
    for cell in readme[3]:
        cell.font, cell.fill = bold, fill
    for col in spec.columns:
        required = ("是 / yes" if col.required else "否 / no") if not col.from_partner else "否 / no (sender)"
        readme.append([col.label(language), col.name, required, _format_text(col, language, units),
                       ", ".join(col.aliases), "" if col.example is None else str(col.example)])
    for letter, width in zip("ABCDEF", (28, 22, 16, 44, 50, 22)):
        readme.column_dimensions[letter].width = width
    workbook.save(path)


def _list_validation(sheet, data_validation, options: list[str], cells: str, col: Column, language: str) -> None:
    formula = '"' + ",".join(options) + '"'
    if len(formula) > 257:  # Excel's limit on an inline list: leave it free rather than write a broken file
        return
    validation = data_validation(type="list", formula1=formula, allow_blank=True, showErrorMessage=True,
                                 errorTitle=col.label(language), error="请从列表中选择 / pick a value from the list")
    sheet.add_data_validation(validation)
    validation.add(cells)


def _display_width(text: str) -> int:
    # CJK characters take two columns in Excel's width unit
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
