"""Cross-document rules: ASN lines against the hub's open PO lines."""
from __future__ import annotations

from decimal import Decimal

import pytest

from canonical_model.documents import ShipmentNotice, ShipmentNoticeLine
from validation import OpenPoLine, ValidationContext, validate


def open_line(line_no: int = 1, open_qty: str = "200", material_id: str = "MAT-1", po_number: str = "CGDD000101",
              uom: str = "H87", supplier_id: str = "SUP1") -> OpenPoLine:
    return OpenPoLine(po_number, line_no, material_id, uom, Decimal(open_qty), Decimal(open_qty), supplier_id)


def ctx(*lines: OpenPoLine, **kw) -> ValidationContext:
    return ValidationContext(open_po_lines={(p.po_number, p.line_no): p for p in lines}, **kw)


def line(line_no: int, quantity: str, po_line_no: int | None = 1, po_number: str | None = "CGDD000101",
         material_id: str = "MAT-1", uom: str = "H87") -> ShipmentNoticeLine:
    return ShipmentNoticeLine(line_no=line_no, po_number=po_number, po_line_no=po_line_no,
                              material_id=material_id, quantity=quantity, uom=uom)


def asn(*lines: ShipmentNoticeLine, supplier_id: str = "SUP1", asn_number: str = "ASN1") -> ShipmentNotice:
    return ShipmentNotice(asn_number=asn_number, supplier_id=supplier_id, lines=list(lines))


def found(result) -> list[tuple[str, str, str]]:
    return [(f.business_key, f.code, f.where) for f in result.failures]


# ---------------------------------------------------------------- ASN_QTY_EXCEEDS_OPEN_PO


def test_quantity_over_open_fails_with_actionable_message():
    result = validate([asn(line(1, "250"))], ctx(open_line()))
    assert found(result) == [("SUP1/ASN1", "ASN_QTY_EXCEEDS_OPEN_PO", "lines[0] (line_no 1)")]
    assert result.failures[0].message == (
        "ASN line quantity 250 exceeds open quantity 200 on PO CGDD000101 line 1 (tolerance 0%); "
        "ask the supplier to correct the ASN or raise the PO"
    )
    assert result.valid == []


def test_quantity_equal_to_open_passes():
    assert validate([asn(line(1, "200"))], ctx(open_line())).failures == []


@pytest.mark.parametrize("quantity,ok", [("220", True), ("220.000", True), ("221", False), ("220.0001", False)])
def test_tolerance_boundary(quantity, ok):
    result = validate([asn(line(1, quantity))], ctx(open_line(), over_ship_tolerance_pct=Decimal("10")))
    assert (result.failures == []) is ok
    if not ok:
        assert "(tolerance 10%)" in result.failures[0].message


def test_decimal_exactness_point_one_plus_point_two():
    # As floats 0.1 + 0.2 = 0.30000000000000004 > 0.3 and the second line would be refused.
    context = ctx(open_line(open_qty="0.3"))
    result = validate([asn(line(1, "0.1"), line(2, "0.2"))], context)
    assert result.failures == []
    over = validate([asn(line(1, "0.1"), line(2, "0.2"), line(3, "0.0000001"))], context)
    assert found(over) == [("SUP1/ASN1", "ASN_QTY_EXCEEDS_OPEN_PO", "lines[2] (line_no 3)")]


def test_quantities_accumulate_across_lines_and_documents_in_a_batch():
    context = ctx(open_line())
    result = validate([asn(line(1, "150")), asn(line(1, "60"), asn_number="ASN2")], context)
    assert found(result) == [("SUP1/ASN2", "ASN_QTY_EXCEEDS_OPEN_PO", "lines[0] (line_no 1)")]
    assert "after 150 already on earlier ASN lines" in result.failures[0].message


def test_failed_document_gives_its_open_quantity_back():
    # ASN1 consumes 150 with line 1 but fails whole (all-or-nothing) on line 2, so ASN2 may
    # still ship 200.
    context = ctx(open_line(), all_or_nothing=True)
    docs = [asn(line(1, "150"), line(2, "0")), asn(line(1, "200"), asn_number="ASN2")]
    result = validate(docs, context)
    assert found(result) == [("SUP1/ASN1", "QTY_NOT_POSITIVE", "lines[1] (line_no 2)")]
    assert [d.business_key for d in result.valid] == ["SUP1/ASN2"]


def test_line_failing_a_schema_rule_does_not_consume_open_quantity():
    # line 1 lacks the batch the profile requires and will be quarantined; line 2 may use all 200.
    with_batch = line(2, "200").model_copy(update={"batch_number": "LOT-7"})
    result = validate([asn(line(1, "150"), with_batch)], ctx(open_line(), batch_required=True))
    assert [f.code for f in result.failures] == ["BATCH_REQUIRED"]
    assert [ln.line_no for ln in result.valid[0].lines] == [2]


# ---------------------------------------------------------------- references


def test_po_not_found():
    result = validate([asn(line(1, "1", po_number="NOPE"))], ctx(open_line()))
    assert found(result) == [("SUP1/ASN1", "PO_NOT_FOUND", "lines[0] (line_no 1)")]
    assert "NOPE" in result.failures[0].message


def test_po_line_not_found():
    result = validate([asn(line(1, "1", po_line_no=9))], ctx(open_line()))
    assert [f.code for f in result.failures] == ["PO_LINE_NOT_FOUND"]
    assert "no open line 9" in result.failures[0].message


def test_supplier_mismatch():
    result = validate([asn(line(1, "1"), supplier_id="SUP2")], ctx(open_line()))
    assert [f.code for f in result.failures] == ["PO_SUPPLIER_MISMATCH"]


def test_material_mismatch():
    result = validate([asn(line(1, "1", material_id="MAT-2"))], ctx(open_line()))
    assert [f.code for f in result.failures] == ["MATERIAL_MISMATCH"]


def test_uom_mismatch_blocks_the_quantity_comparison():
    result = validate([asn(line(1, "999", uom="KGM"))], ctx(open_line()))
    assert [f.code for f in result.failures] == ["UOM_MISMATCH"]


def test_line_without_po_reference_is_not_checked_against_pos():
    assert validate([asn(line(1, "999999", po_number=None, po_line_no=None))], ctx(open_line())).failures == []


def test_matching_line_passes_every_reference_rule():
    assert validate([asn(line(1, "1"))], ctx(open_line())).failures == []


# ---------------------------------------------------------------- no po_line_no: match by material


def test_missing_po_line_no_matches_by_material_within_the_po():
    context = ctx(open_line(1, "100", "MAT-A"), open_line(2, "50", "MAT-B"), open_line(3, "30", "MAT-A"))
    # MAT-A has 100 + 30 open across lines 1 and 3; MAT-B's 50 is not available to it.
    ok = validate([asn(line(1, "130", po_line_no=None, material_id="MAT-A"))], context)
    assert ok.failures == []
    over = validate([asn(line(1, "131", po_line_no=None, material_id="MAT-A"))], context)
    assert [f.code for f in over.failures] == ["ASN_QTY_EXCEEDS_OPEN_PO"]
    assert "lines 1, 3 (material MAT-A)" in over.failures[0].message


def test_missing_po_line_no_allocates_first_line_first():
    # 100 by material fills line 1; an explicit line-1 shipment afterwards has nothing left.
    context = ctx(open_line(1, "100", "MAT-A"), open_line(3, "30", "MAT-A"))
    result = validate([asn(line(1, "100", po_line_no=None, material_id="MAT-A"),
                           line(2, "1", po_line_no=1, material_id="MAT-A"),
                           line(3, "30", po_line_no=3, material_id="MAT-A"))], context)
    assert found(result) == [("SUP1/ASN1", "ASN_QTY_EXCEEDS_OPEN_PO", "lines[1] (line_no 2)")]


def test_missing_po_line_no_and_material_not_on_po():
    result = validate([asn(line(1, "1", po_line_no=None, material_id="MAT-Z"))], ctx(open_line()))
    assert [f.code for f in result.failures] == ["PO_LINE_NOT_FOUND"]
    assert "no open line for material MAT-Z" in result.failures[0].message


# ---------------------------------------------------------------- batches of failures


def test_all_failures_of_a_batch_reported_and_good_lines_pass_on():
    context = ctx(open_line(1), open_line(2, material_id="MAT-2"), over_ship_tolerance_pct=Decimal("5"))
    docs = [
        asn(line(1, "210"),                                    # ok: 200 + 5%
            line(2, "1", po_number="X"),                       # PO_NOT_FOUND
            line(3, "1", po_line_no=2),                        # MATERIAL_MISMATCH
            line(4, "0", po_line_no=7)),                       # QTY_NOT_POSITIVE + PO_LINE_NOT_FOUND
        asn(line(1, "211", po_line_no=2, material_id="MAT-2"), asn_number="ASN2"),  # over 210
        asn(line(1, "5", po_line_no=2, material_id="MAT-2"), supplier_id="SUP9", asn_number="ASN3"),
    ]
    result = validate(docs, context)
    assert sorted(found(result)) == sorted([
        ("SUP1/ASN1", "PO_NOT_FOUND", "lines[1] (line_no 2)"),
        ("SUP1/ASN1", "MATERIAL_MISMATCH", "lines[2] (line_no 3)"),
        ("SUP1/ASN1", "QTY_NOT_POSITIVE", "lines[3] (line_no 4)"),
        ("SUP1/ASN1", "PO_LINE_NOT_FOUND", "lines[3] (line_no 4)"),
        ("SUP1/ASN2", "ASN_QTY_EXCEEDS_OPEN_PO", "lines[0] (line_no 1)"),
        ("SUP9/ASN3", "PO_SUPPLIER_MISMATCH", "lines[0] (line_no 1)"),
    ])
    assert [(d.business_key, [ln.line_no for ln in d.lines]) for d in result.valid] == [("SUP1/ASN1", [1])]


def test_all_or_nothing_with_a_rule_failure():
    result = validate([asn(line(1, "1"), line(2, "1", po_number="X"))], ctx(open_line(), all_or_nothing=True))
    assert result.valid == []
    assert [f.code for f in result.failures] == ["PO_NOT_FOUND"]


def test_unicode_material_ids_match_exactly():
    context = ctx(open_line(material_id="螺栓-M8×20"))
    assert validate([asn(line(1, "1", material_id="螺栓-M8×20"))], context).failures == []
    # "x" instead of "×" looks alike but is another material: no normalisation happens here
    assert [f.code for f in validate([asn(line(1, "1", material_id="螺栓-M8x20"))], context).failures] == [
        "MATERIAL_MISMATCH"
    ]


def test_ten_thousand_asn_lines_against_one_po_line():
    lines = [line(n, "0.02") for n in range(1, 10_001)]  # 10k × 0.02 = 200 exactly
    assert validate([asn(*lines)], ctx(open_line())).failures == []
    lines.append(line(10_001, "0.01"))
    result = validate([asn(*lines)], ctx(open_line()))
    assert found(result) == [("SUP1/ASN1", "ASN_QTY_EXCEEDS_OPEN_PO", "lines[10000] (line_no 10001)")]
    assert len(result.valid[0].lines) == 10_000


def test_context_refuses_float_tolerance():
    with pytest.raises(TypeError):
        ValidationContext(open_po_lines={}, over_ship_tolerance_pct=0.1)  # type: ignore[arg-type]
