"""Templates come from the column specs, and a filled-in template translates."""
from __future__ import annotations

import csv
import datetime as dt

import openpyxl
import pytest

from adapters.tabular.spec import load_specs
from adapters.tabular.templates import write_template
from adapters.tabular.translate import translate_table


@pytest.mark.parametrize("language", ["zh+en", "zh", "en"])
def test_csv_template_filled_in_translates(tmp_path, language):
    path = write_template("asn", "csv", tmp_path / "asn.csv", language)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel/WPS need the BOM to show Chinese from UTF-8
    header = next(csv.reader([raw.decode("utf-8-sig").splitlines()[0]]))
    spec = load_specs()["asn"]
    assert header == [c.label(language) for c in spec.columns]
    values = {"asn_number": "ASN-T1", "ship_date": "2026/11/26", "po_number": "CGDD000101", "po_line_no": "1",
              "material_id": "1.02.0033", "quantity": "500", "uom": "PCS", "batch_number": "B1"}
    row = [values.get(c.name, "") for c in spec.columns]
    with path.open("a", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\r\n").writerow(row)
    result = translate_table(path.read_bytes(), path.name, "SUP-001")
    assert result.errors == [] and result.message == "asn"
    (asn,) = result.documents
    assert (asn.asn_number, asn.ship_date, asn.lines[0].po_line_no, str(asn.lines[0].quantity)) == (
        "ASN-T1", dt.date(2026, 11, 26), 1, "500")


@pytest.mark.parametrize("message", ["asn", "inventory"])
def test_xlsx_template_has_styles_validation_readme_and_round_trips(tmp_path, message):
    path = write_template(message, "xlsx", tmp_path / f"{message}.xlsx")
    wb = openpyxl.load_workbook(path)
    sheet, readme = wb.worksheets
    spec = load_specs()[message]
    assert [c.value for c in sheet[1]] == [c.label() for c in spec.columns]
    assert sheet[1][0].font.bold and sheet.freeze_panes == "A2"
    assert all(sheet.column_dimensions[chr(65 + i)].width >= 12 for i in range(len(spec.columns)))
    unit_col = chr(65 + [c.name for c in spec.columns].index("uom"))
    (unit_rule,) = [v for v in sheet.data_validations.dataValidation if unit_col + "2" in str(v.sqref)]
    assert unit_rule.type == "list" and "PCS" in unit_rule.formula1 and "KGM" in unit_rule.formula1
    material_col = [c.name for c in spec.columns].index("material_id") + 1
    assert sheet.cell(row=2, column=material_col).number_format == "@"  # codes stay text in Excel
    documented = {r[1].value: r for r in readme.iter_rows(min_row=4)}
    assert set(documented) == {c.name for c in spec.columns}
    assert documented["quantity"][2].value.startswith("是") and "3" in documented["quantity"][3].value

    # fill it in the way a supplier would: values typed into the pre-formatted rows
    names = [c.name for c in spec.columns]
    filled = {"asn_number": "ASN-X1", "report_id": "INV-X1", "ship_date": dt.datetime(2026, 11, 26),
              "material_id": "1.02.0033", "quantity": 500.0, "uom": "PCS", "batch_number": "B1", "kind": "在库"}
    for row in (2, 3):
        for name, value in filled.items():
            if name in names:
                sheet.cell(row=row, column=names.index(name) + 1, value=value)
    sheet.cell(row=3, column=names.index("material_id") + 1, value="1.02.0041")
    wb.save(path)
    result = translate_table(path.read_bytes(), path.name, "SUP-001")
    assert result.errors == [] and result.message == message
    (doc,) = result.documents
    assert [(l.material_id, str(l.quantity), l.uom) for l in doc.lines] == [
        ("1.02.0033", "500", "H87"), ("1.02.0041", "500", "H87")]


def test_template_arguments_are_checked(tmp_path):
    with pytest.raises(ValueError):
        write_template("asn", "pdf", tmp_path / "x")
    with pytest.raises(ValueError):
        write_template("asn", "csv", tmp_path / "x", language="de")
    from hub.errors import FatalError
    with pytest.raises(FatalError) as info:
        write_template("nope", "csv", tmp_path / "x")
    assert info.value.code == "UNKNOWN_MESSAGE"
