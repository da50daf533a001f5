"""The mapping engine on hand-built segment lists and dicts (no EDIFACT parser involved)."""
from __future__ import annotations

import builtins
import datetime as dt
import os
import textwrap
import types
from decimal import Decimal

import pytest

from adapters.edi.segments import Segment
from canonical_model.documents import PurchaseOrder, ShipmentNotice, Source
from hub.errors import FatalError, SkippableError
from mappings.compiled import build_plan
from mappings.engine import compile_mapping, load_mapping, parse_path

def segs(*texts: str, first_line: int = 1) -> list[Segment]:
    """``"NAD+SU+123::9"`` -> Segment; index/line count from 1 like a real interchange."""
    out = []
    for i, text in enumerate(texts):
        tag, *elements = text.split("+")
        out.append(Segment(tag, [e.split(":") for e in elements], first_line + i, first_line + i))
    return out


def mapping(body: str, **kw):
    return compile_mapping(textwrap.dedent(body), file="mappings/test/T.yaml", **kw)


DESADV_HEAD = """\
source: edifact
target: ShipmentNotice
fields:
  asn_number: {path: BGM.1.0, required: true}
  supplier_id: {path: "NAD[0=SU].1.0", required: true}
"""

LINES = """\
lines:
  group:
    starts_at: LIN
    ends_before: [LIN, UNS, CNT, UNT, CPS]
    inherit_from_previous: ["GIN[0=BJ]"]
    inherit_stop_at: [CPS]
  fields:
    line_no: {sequence: true}
    material_id: {path: LIN.2.0, required: true}
    quantity: {path: "QTY[0.0=12].0.1", required: true, type: decimal}
    uom: {path: "QTY[0.0=12].0.2", default: PCE}
    package_id: "GIN[0=BJ].1.0"
    batch_number: "GIN[0=BX].1.0"
    po_number: {path: "RFF[0.0=ON].0.1", scope: group_or_header}
"""


# ------------------------------------------------------------------ paths


def test_qualified_paths_pick_the_first_segment_whose_qualifier_matches():
    m = mapping("""\
        source: edifact
        target: ShipmentNotice
        fields:
          asn_number: BGM.1.0
          supplier_id: "NAD[0=SU].1.0"
          ship_to_id: "NAD[0=DP].1.0"
          ship_date: {path: "DTM[0.0=11].0.1", date: edifact_dtm}
          expected_arrival: {path: ["DTM[0.0=132].0.1", "DTM[0.0=17].0.1"], date: edifact_dtm}
        lines:
          group: {starts_at: LIN, ends_before: [LIN, UNT]}
          fields:
            line_no: {path: LIN.0.0, type: int}
            material_id: LIN.2.0
            supplier_material_id: "PIA[0=1,1.1=SA].1.0"
            quantity: {path: "QTY[0.0=12].0.1", type: decimal}
            uom: {path: "QTY[0.0=12].0.2", default: PCE}
    """)
    doc = m.apply(segs(
        "UNH+1+DESADV:D:96A:UN", "BGM+351+ASN1+9",
        "DTM+137:20261101:102", "DTM+11:20261124:102", "DTM+17:202611261530:203",
        "NAD+BY+BUYER::9", "NAD+SU+SUPPLIER::9", "NAD+DP+DOCK::9", "NAD+SU+SECOND::9",
        "LIN+7++ITEM1:IN", "PIA+5+NOT-SA:SA", "PIA+1+BY-1:IN", "PIA+1+SUP-1:SA",
        "QTY+21:999", "QTY+12:48:KGM", "UNT+16+1",
    ))
    assert isinstance(doc, ShipmentNotice)
    assert (doc.asn_number, doc.supplier_id, doc.ship_to_id) == ("ASN1", "SUPPLIER", "DOCK")
    assert doc.ship_date == dt.date(2026, 11, 24)
    assert doc.expected_arrival == dt.date(2026, 11, 26)  # 132 absent -> 17, format 203
    line = doc.lines[0]
    assert (line.line_no, line.material_id, line.supplier_material_id) == (7, "ITEM1", "SUP-1")
    assert (line.quantity, line.uom) == (Decimal("48"), "KGM")


@pytest.mark.parametrize("text, tag, conds, element, component", [
    ("BGM.1.0", "BGM", (), 1, 0),
    ("BGM.1", "BGM", (), 1, 0),
    ("NAD[0=SU].1.0", "NAD", ((0, 0, "SU"),), 1, 0),
    ("DTM[0.0=137].0.1", "DTM", ((0, 0, "137"),), 0, 1),
    ("PIA[0=1,1.1=SA].1.0", "PIA", ((0, 0, "1"), (1, 1, "SA")), 1, 0),
])
def test_parse_path(text, tag, conds, element, component):
    p = parse_path(text)
    assert (p.selector.tag, p.selector.conditions, p.element, p.component) == (tag, conds, element, component)


@pytest.mark.parametrize("text", ["BGM", "bgm.1.0", "NAD[0=SU.1.0", "NAD[SU].1.0", "NAD[0=].1.0", "BGM.x",
                                  "__import__('os')", "BGM.1.0; import os", ""])
def test_parse_path_rejects(text):
    with pytest.raises(ValueError):
        parse_path(text)


# ------------------------------------------------------------------ groups


def test_line_groups_inherit_the_sscc_of_their_own_package_only():
    m = mapping(DESADV_HEAD + LINES)
    doc = m.apply(segs(
        "UNH+1+DESADV:D:96A:UN", "BGM+351+ASN1", "RFF+ON:PO-HEAD", "NAD+SU+S1::9",
        "CPS+1", "CPS+2+1", "PAC+1", "PCI+33E", "GIN+BJ+SSCC-A",
        "LIN+1++A", "QTY+12:1", "RFF+ON:PO-LINE", "PCI+36E", "GIN+BX+BATCH-A",
        "LIN+2++B", "QTY+12:2",          # same CPS as line 1: inherits SSCC-A, not BATCH-A
        "CPS+3+1", "PAC+1",
        "LIN+3++C", "QTY+12:3",          # CPS without GIN+BJ: must not borrow SSCC-A
        "CNT+2:3", "UNT+21+1",
    ))
    a, b, c = doc.lines
    assert [ln.line_no for ln in doc.lines] == [1, 2, 3]
    assert (a.package_id, b.package_id, c.package_id) == ("SSCC-A", "SSCC-A", None)
    assert (a.batch_number, b.batch_number, c.batch_number) == ("BATCH-A", None, None)
    # group_or_header: a line's own RFF+ON wins; otherwise the header's, never another line's
    assert (a.po_number, b.po_number, c.po_number) == ("PO-LINE", "PO-HEAD", "PO-HEAD")
    assert c.uom == "PCE"  # default applies when QTY has no unit


def test_group_or_header_never_borrows_from_another_line():
    doc = mapping(DESADV_HEAD + LINES).apply(segs(
        "UNH+1+X", "BGM+351+A", "NAD+SU+S",
        "LIN+1++A", "QTY+12:1", "RFF+ON:PO-1",
        "LIN+2++B", "QTY+12:1", "UNT+9+1",
    ))
    assert [ln.po_number for ln in doc.lines] == ["PO-1", None]


def test_group_scope_does_not_see_header_segments():
    m = mapping(DESADV_HEAD + LINES.replace("scope: group_or_header", "scope: group"))
    doc = m.apply(segs("UNH+1+DESADV:D:96A:UN", "BGM+351+ASN1", "RFF+ON:PO-HEAD", "NAD+SU+S1",
                       "LIN+1++A", "QTY+12:1", "UNT+7+1"))
    assert doc.lines[0].po_number is None


def test_negative_quantity_still_maps():
    # rejecting it is validation's job (it quarantines with a reason); the engine must not crash
    doc = mapping(DESADV_HEAD + LINES).apply(segs("UNH+1+X", "BGM+351+A", "NAD+SU+S", "LIN+1++A", "QTY+12:-5", "UNT+6+1"))
    assert doc.lines[0].quantity == Decimal("-5")


def test_comma_decimal_mark_and_scale():
    m = mapping(DESADV_HEAD + LINES.replace('type: decimal}', 'scale: 2}'))
    doc = m.apply(segs("UNH+1+X", "BGM+351+A", "NAD+SU+S", "LIN+1++A", "QTY+12:1250", "UNT+6+1"))
    assert doc.lines[0].quantity == Decimal("12.50")
    doc = mapping(DESADV_HEAD + LINES).apply(segs("UNH+1+X", "BGM+351+A", "NAD+SU+S", "LIN+1++A", "QTY+12:2,5", "UNT+6+1"))
    assert doc.lines[0].quantity == Decimal("2.5")


# ------------------------------------------------------------------ record errors


def test_required_missing_names_field_path_and_location():
    m = mapping(DESADV_HEAD + LINES)
    with pytest.raises(SkippableError) as exc:
        m.apply(segs("UNH+1+X", "BGM+351+A", "NAD+SU+S", "LIN+1++A", "QTY+12:1", "LIN+2", "QTY+12:1", "UNT+8+1",
                     first_line=10))
    err = exc.value
    assert err.code == "MISSING_FIELD"
    assert "lines[1].material_id" in err.message and "LIN.2.0" in err.message
    assert err.where == "segment 15 (LIN, line 15)"


def test_required_missing_in_header_points_at_unh():
    with pytest.raises(SkippableError) as exc:
        mapping(DESADV_HEAD + LINES).apply(segs("UNH+1+X", "BGM+351", "NAD+SU+S", "LIN+1++A", "QTY+12:1", "UNT+6+1"))
    assert exc.value.code == "MISSING_FIELD" and "asn_number" in exc.value.message and "BGM.1.0" in exc.value.message
    assert exc.value.where == "segment 1 (UNH, line 1)"


def test_unknown_crosswalk_code_names_code_table_and_segment():
    m = mapping(DESADV_HEAD + LINES.replace("default: PCE}", "default: PCE, crosswalk: units}"))
    doc = m.apply(segs("UNH+1+X", "BGM+351+A", "NAD+SU+S", "LIN+1++A", "QTY+12:1:EA", "UNT+6+1"))
    assert doc.lines[0].uom == "H87"
    with pytest.raises(SkippableError) as exc:
        m.apply(segs("UNH+1+X", "BGM+351+A", "NAD+SU+S", "LIN+1++A", "QTY+12:1:BOX", "UNT+6+1"))
    assert exc.value.code == "UNKNOWN_UOM"
    assert "'BOX'" in exc.value.message and "units" in exc.value.message
    assert exc.value.where == "segment 5 (QTY, line 5)"


def test_crosswalk_prefers_partner_rows_and_can_fall_back_to_identity(tmp_path):
    (tmp_path / "partners.csv").write_text("source,code,canonical\n*,P1,ANY\nGLN-X,P1,FROM-X\n")
    supplier = 'supplier_id: {path: "NAD[0=SU].1.0", required: true}'
    strict = mapping((DESADV_HEAD + LINES).replace(supplier, supplier[:-1] + ", crosswalk: partners}"),
                     crosswalk_dir=tmp_path)
    msg = segs("UNH+1+X", "BGM+351+A", "NAD+SU+P1", "LIN+1++A", "QTY+12:1", "UNT+6+1")
    assert strict.apply(msg, Source(system="edifact", partner="GLN-X")).supplier_id == "FROM-X"
    assert strict.apply(msg, Source(system="edifact", partner="GLN-Y")).supplier_id == "ANY"
    unknown = segs("UNH+1+X", "BGM+351+A", "NAD+SU+P2", "LIN+1++A", "QTY+12:1", "UNT+6+1")
    with pytest.raises(SkippableError) as exc:
        strict.apply(unknown)
    assert exc.value.code == "UNKNOWN_PARTNER" and exc.value.where == "segment 3 (NAD, line 3)"
    identity = mapping(
        (DESADV_HEAD + LINES).replace(supplier, supplier[:-1] + ", crosswalk: partners, crosswalk_fallback: identity}"),
        crosswalk_dir=tmp_path,
    )
    assert identity.apply(unknown).supplier_id == "P2"


def test_unsupported_dtm_format_is_a_bad_value():
    m = mapping(DESADV_HEAD + "  ship_date: {path: \"DTM[0.0=11].0.1\", date: edifact_dtm}\n" + LINES)
    with pytest.raises(SkippableError) as exc:
        m.apply(segs("UNH+1+X", "BGM+351+A", "NAD+SU+S", "DTM+11:20261124-20261125:718", "LIN+1++A", "QTY+12:1", "UNT+7+1"))
    assert exc.value.code == "BAD_VALUE" and "718" in exc.value.message
    assert exc.value.where == "segment 4 (DTM, line 4)"


def test_schema_violation_names_the_field_and_the_line():
    m = mapping(DESADV_HEAD + LINES.replace("line_no: {sequence: true}", "line_no: {path: LIN.0.0, type: int}"))
    with pytest.raises(SkippableError) as exc:
        m.apply(segs("UNH+1+X", "BGM+351+A", "NAD+SU+S", "LIN+1++A", "QTY+12:1", "LIN+0++B", "QTY+12:1", "UNT+8+1"))
    assert exc.value.code == "SCHEMA_VIOLATION"
    assert "lines.1.line_no" in exc.value.message
    assert exc.value.where == "segment 6 (LIN, line 6)"
    with pytest.raises(SkippableError) as exc:  # no LIN at all: a ShipmentNotice needs lines
        m.apply(segs("UNH+1+X", "BGM+351+A", "NAD+SU+S", "UNT+4+1"))
    assert exc.value.code == "SCHEMA_VIOLATION" and "lines" in exc.value.message


# ------------------------------------------------------------------ json


KINGDEE = """\
source: json
system: kingdee
target: PurchaseOrder
record_key: FBillNo
fields:
  po_number: {key: FBillNo, required: true}
  supplier_id: {key: FSupplierId.FNumber, required: true}
  order_date: {key: FDate, date: "%Y-%m-%dT%H:%M:%S"}
  currency: {key: FSettleCurrId.FNumber, crosswalk: currencies}
lines:
  each: FPOOrderEntry
  fields:
    line_no: {key: FSeq, type: int}
    material_id: {key: FMaterialId.FNumber, required: true}
    quantity: {key: FQty, type: decimal}
    uom: {key: FUnitId.FNumber, crosswalk: units}
    unit_price: {key: FPrice, type: decimal}
    delivery_date: {key: FDate, scope: message, date: iso}
"""


def test_json_keys_are_literal_and_lines_come_from_each():
    bill = {"FBillNo": "CGDD1", "FDate": "2026-11-20T00:00:00", "FSupplierId.FNumber": "SUP-001",
            "FSupplierId": {"FNumber": "WRONG"}, "FSettleCurrId.FNumber": "PRE007",
            "FPOOrderEntry": [{"FSeq": 1, "FMaterialId.FNumber": "1.02.0033", "FQty": 0.1, "FUnitId.FNumber": "Pcs",
                               "FPrice": 3.3}]}
    doc = mapping(KINGDEE).apply(bill, Source(system="kingdee"))
    assert isinstance(doc, PurchaseOrder)
    assert (doc.supplier_id, doc.currency, doc.order_date) == ("SUP-001", "USD", dt.date(2026, 11, 20))
    line = doc.lines[0]
    assert line.quantity == Decimal("0.1") and line.unit_price == Decimal("3.3")  # no float noise
    assert line.uom == "H87" and line.delivery_date == dt.date(2026, 11, 20)  # scope: message


def test_json_missing_required_names_bill_and_entry():
    bill = {"FBillNo": "CGDD2", "FDate": "2026-11-20T00:00:00", "FSupplierId.FNumber": "SUP-001",
            "FPOOrderEntry": [{"FSeq": 1, "FMaterialId.FNumber": "1.02.0033", "FQty": 1, "FUnitId.FNumber": "Pcs"},
                              {"FSeq": 2, "FQty": 1, "FUnitId.FNumber": "Pcs"}]}
    with pytest.raises(SkippableError) as exc:
        mapping(KINGDEE).apply(bill)
    assert exc.value.code == "MISSING_FIELD"
    assert exc.value.where == "FBillNo=CGDD2/FPOOrderEntry[1]"
    assert "lines[1].material_id" in exc.value.message and "FMaterialId.FNumber" in exc.value.message


# ------------------------------------------------------------------ mapping validation


def invalid(body: str) -> FatalError:
    with pytest.raises(FatalError) as exc:
        mapping(body)
    assert exc.value.code == "MAPPING_INVALID"
    return exc.value


def test_yaml_syntax_error_names_file_and_line():
    err = invalid(DESADV_HEAD + "  ship_to_id: {path: [unclosed\n")
    assert err.where.startswith("mappings/test/T.yaml:")
    assert int(err.where.rsplit(":", 1)[1]) >= 6


def test_unknown_transform_is_rejected_with_its_line():
    err = invalid(DESADV_HEAD + "  ship_to_id: {path: \"NAD[0=ST].1.0\", uppercase: true}\n")
    assert err.where == "mappings/test/T.yaml:6"
    assert "uppercase" in err.message and "transform" in err.message


def test_eval_like_path_is_invalid_syntax():
    err = invalid(DESADV_HEAD + "  ship_to_id: {path: \"__import__('os')\"}\n")
    assert err.where == "mappings/test/T.yaml:6"
    assert "does not parse" in err.message


@pytest.mark.parametrize("body, line, words", [
    (DESADV_HEAD + "  shipto_id: NAD.1.0\n", 6, "not in the target"),
    (DESADV_HEAD + "  ship_to_id: NAD.1.0\n  ship_to_id: NAD.2.0\n", 7, "duplicate"),
    (DESADV_HEAD + "  ship_date: {path: DTM.0.1, type: timestamp}\n", 6, "type must be"),
    (DESADV_HEAD + "  ship_date: {path: DTM.0.1, date: yesterday}\n", 6, "date must be"),
    (DESADV_HEAD + "  ship_to_id: {path: NAD.1.0, crosswalk: nosuchtable}\n", 6, "not found"),
    (DESADV_HEAD + "  ship_to_id: {key: NAD.1.0}\n", 6, "use 'path'"),
    (DESADV_HEAD + "  ship_to_id: {path: NAD.1.0, const: X}\n", 6, "exactly one"),
    (DESADV_HEAD.replace("target: ShipmentNotice", "target: Shipment"), 2, "unknown target"),
    (DESADV_HEAD + "transforms: {}\n", 6, "unknown key"),
    (DESADV_HEAD + LINES.replace("[\"GIN[0=BJ]\"]", "[\"GIN(0)\"]"), 10, "selector"),
])
def test_schema_errors_point_at_the_line(body, line, words):
    err = invalid(body)
    assert err.where == f"mappings/test/T.yaml:{line}", err.as_line()
    assert words in err.message


def test_mapping_text_is_never_evaluated(monkeypatch):
    """No eval ever; the only code exec'd is the engine's own specialisation of the mapping
    (mappings/compiled.py), and no text of the mapping file is part of that code: values that
    look like code are data, matched and copied literally."""
    def forbidden(*a, **k):
        raise AssertionError("mapping text must never be evaluated")

    generated: list[str] = []
    real_compile, real_exec = builtins.compile, builtins.exec

    def recording_compile(source, filename, mode, *a, **k):
        if isinstance(filename, str) and filename.startswith("<mapping "):
            generated.append(source)
        return real_compile(source, filename, mode, *a, **k)

    def generated_code_only(code, *a, **k):
        assert isinstance(code, types.CodeType), "exec of text"
        assert code.co_filename == "<mapping mappings/test/T.yaml (generated)>", code.co_filename
        return real_exec(code, *a, **k)

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", generated_code_only)
    monkeypatch.setattr(builtins, "compile", recording_compile)
    hostile = "__import__('os').system('echo pwned')"
    m = mapping(DESADV_HEAD + f"""\
  ship_to_id: {{path: "NAD[0={hostile}].1.0", default: "{hostile}"}}
  ship_date: {{const: "2026-11-24", type: date}}
""" + LINES.replace("default: PCE", f'default: "{hostile}"'))
    # specialised under the guard: the accelerator (mappings/_fastmap) compiles no code at
    # all; the generated Python (its pure path) is compiled from the engine's own text
    assert m.fast_plan is not None and len(generated) == (0 if m.fast_plan.accelerated else 1)
    pure = build_plan(m, fastmap=None)
    assert not pure.accelerated and generated[-1] == pure.source_text
    for text in (hostile, "ship_to_id", "NAD", "QTY", "GIN", "2026-11-24", "BJ"):
        assert text not in pure.source_text
    message = segs("UNH+1+X", "BGM+351+A", "NAD+SU+S", f"NAD+{hostile}+DOCK", "LIN+1++A", "QTY+12:1", "UNT+7+1")
    doc = m.apply(message)
    assert (doc.ship_to_id, doc.ship_date, doc.lines[0].uom) == ("DOCK", dt.date(2026, 11, 24), hostile)
    assert pure.run(message, None) == doc


def test_load_mapping_reports_the_file_and_reloads_when_it_changes(tmp_path):
    path = tmp_path / "X.yaml"
    path.write_text(DESADV_HEAD + LINES)
    first = load_mapping(path)
    assert load_mapping(path) is first  # compiled once
    path.write_text(DESADV_HEAD + "  bogus: BGM.1.0\n" + LINES)
    # coarse file systems may keep the mtime on a quick rewrite; the cache keys on it
    os.utime(path, ns=(1, path.stat().st_mtime_ns + 10**9))
    with pytest.raises(FatalError) as exc:
        load_mapping(path)
    assert exc.value.where == f"{path}:6"


def test_repository_mappings_compile_with_repo_relative_where():
    from mappings.golden import mapping_files

    files = mapping_files()
    assert {p.stem for p in files} >= {"DESADV_D96A", "ORDERS_D96A", "PUR_PurchaseOrder"}
    for path in files:
        assert load_mapping(path).file.startswith("mappings/")
