"""Schema rules over flattened line tables: each code fires, and stays quiet when it should."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pandera.errors as pe
import pytest

from canonical_model.documents import (
    Batch,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceiptLine,
    ShipmentNotice,
    ShipmentNoticeLine,
)
from hub.errors import FatalError
from validation import Failure, ValidationContext, validate
from validation.schemas import (
    BatchSchema,
    PurchaseOrderLineSchema,
    ReceiptLineSchema,
    ShipmentNoticeLineSchema,
    collect_issues,
    flatten,
)


def po(*lines: PurchaseOrderLine, po_number: str = "CGDD000101") -> PurchaseOrder:
    return PurchaseOrder(po_number=po_number, supplier_id="SUP1", order_date=dt.date(2024, 5, 1), lines=list(lines))


def pol(line_no: int, quantity: str = "10", uom: str = "H87", material_id: str = "MAT-1") -> PurchaseOrderLine:
    return PurchaseOrderLine(line_no=line_no, material_id=material_id, quantity=quantity, uom=uom)


def asn(*lines: ShipmentNoticeLine, ship: dt.date | None = None, arrival: dt.date | None = None) -> ShipmentNotice:
    return ShipmentNotice(asn_number="ASN1", supplier_id="SUP1", ship_date=ship, expected_arrival=arrival, lines=list(lines))


def asl(line_no: int, quantity: str = "10", uom: str = "H87", batch: str | None = None) -> ShipmentNoticeLine:
    return ShipmentNoticeLine(line_no=line_no, material_id="MAT-1", quantity=quantity, uom=uom, batch_number=batch)


def codes(failures: list[Failure]) -> list[tuple[str, str]]:
    return [(f.code, f.where) for f in failures]


def ctx(**kw) -> ValidationContext:
    return ValidationContext(open_po_lines={}, **kw)


# ---------------------------------------------------------------- QTY_NOT_POSITIVE


@pytest.mark.parametrize("quantity", ["0", "-1", "-0.001"])
def test_qty_not_positive_fires(quantity):
    result = validate([po(pol(1, quantity), pol(2))], ctx())
    assert codes(result.failures) == [("QTY_NOT_POSITIVE", "lines[0] (line_no 1)")]
    assert f"quantity {Decimal(quantity)}" in result.failures[0].message


def test_smallest_positive_decimal_passes():
    # 1e-20 is positive; a float round trip would keep it too, but zero-ish rounding must not.
    result = validate([po(pol(1, "0.00000000000000000001"))], ctx())
    assert result.failures == []


# ---------------------------------------------------------------- UNKNOWN_UOM


def test_unknown_uom_pce_is_not_rec20():
    result = validate([po(pol(1, uom="PCE"), pol(2, uom="H87"))], ctx())
    assert codes(result.failures) == [("UNKNOWN_UOM", "lines[0] (line_no 1)")]
    assert "crosswalk" in result.failures[0].message


@pytest.mark.parametrize("uom", ["H87", "C62", "KGM", "GRM", "MTR", "LTR", "SET", "BX", "PK", "MTK"])
def test_default_rec20_units_pass(uom):
    assert validate([po(pol(1, uom=uom))], ctx()).failures == []


def test_known_uoms_come_from_config():
    # PCE allowed by config, H87 not: the check follows the context, not the default set.
    context = ctx(known_uoms=frozenset({"PCE"}))
    result = validate([po(pol(1, uom="PCE"), pol(2, uom="H87"))], context)
    assert codes(result.failures) == [("UNKNOWN_UOM", "lines[1] (line_no 2)")]
    # and the cached model schema was not mutated by the override
    assert validate([po(pol(1, uom="H87"))], ctx()).failures == []


# ---------------------------------------------------------------- BATCH_REQUIRED


def test_batch_required_fires_for_missing_and_blank_batch():
    doc = asn(asl(1, batch="B-1"), asl(2), asl(3, batch="  "))
    result = validate([doc], ctx(batch_required=True))
    assert codes(result.failures) == [
        ("BATCH_REQUIRED", "lines[1] (line_no 2)"),
        ("BATCH_REQUIRED", "lines[2] (line_no 3)"),
    ]


def test_batch_not_required_by_profile_passes():
    assert validate([asn(asl(1), asl(2))], ctx(batch_required=False)).failures == []


# ---------------------------------------------------------------- DATE_ORDER


def test_date_order_fires_once_per_document_and_fails_it_whole():
    doc = asn(asl(1), asl(2), asl(3), ship=dt.date(2024, 5, 10), arrival=dt.date(2024, 5, 9))
    result = validate([doc], ctx())
    assert codes(result.failures) == [("DATE_ORDER", "expected_arrival")]
    assert "2024-05-09" in result.failures[0].message and "2024-05-10" in result.failures[0].message
    assert result.valid == []


@pytest.mark.parametrize(
    "ship,arrival",
    [(dt.date(2024, 5, 10), dt.date(2024, 5, 10)), (None, dt.date(2024, 5, 1)), (dt.date(2024, 5, 1), None)],
)
def test_date_order_same_day_or_missing_date_passes(ship, arrival):
    assert validate([asn(asl(1), ship=ship, arrival=arrival)], ctx()).failures == []


# ---------------------------------------------------------------- DUPLICATE_LINE


def test_duplicate_line_flags_every_line_sharing_the_number():
    result = validate([po(pol(1), pol(2), pol(2), pol(3))], ctx())
    assert codes(result.failures) == [
        ("DUPLICATE_LINE", "lines[1] (line_no 2)"),
        ("DUPLICATE_LINE", "lines[2] (line_no 2)"),
    ]
    assert [line.line_no for line in result.valid[0].lines] == [1, 3]


def test_same_line_no_in_two_documents_is_not_a_duplicate():
    result = validate([po(pol(1), po_number="A"), po(pol(1), po_number="B")], ctx())
    assert result.failures == [] and len(result.valid) == 2


def test_receipt_duplicate_and_bad_quantity():
    receipt = Receipt(
        receipt_id="R1",
        received_at=dt.datetime(2024, 5, 2, 8, 0),
        lines=[
            ReceiptLine(line_no=1, material_id="M", quantity="1", uom="H87"),
            ReceiptLine(line_no=1, material_id="M", quantity="0", uom="H87"),
        ],
    )
    result = validate([receipt], ctx())
    assert sorted(codes(result.failures)) == [
        ("DUPLICATE_LINE", "lines[0] (line_no 1)"),
        ("DUPLICATE_LINE", "lines[1] (line_no 1)"),
        ("QTY_NOT_POSITIVE", "lines[1] (line_no 1)"),
    ]
    assert result.valid == []


# ---------------------------------------------------------------- Batch documents


def test_batch_document_rules():
    good = Batch(batch_id="B1", material_id="M", quantity="5", uom="KGM")
    bad = Batch(batch_id="B2", material_id="M", quantity="0", uom="PCE")
    result = validate([good, bad], ctx())
    assert result.valid == [good]
    assert sorted((f.business_key, f.code, f.where) for f in result.failures) == [
        ("B2", "QTY_NOT_POSITIVE", "quantity"),
        ("B2", "UNKNOWN_UOM", "uom"),
    ]


# ---------------------------------------------------------------- laziness and splitting


def test_every_failure_in_a_batch_is_reported_and_good_lines_pass_on():
    docs = [
        po(pol(1, "0"), pol(2, uom="PCE"), pol(3), po_number="P1"),
        asn(asl(1, batch=None), asl(2, "-3", batch="B"), asl(3, batch="B"), ship=dt.date(2024, 5, 1)),
        po(pol(1), po_number="P2"),
    ]
    result = validate(docs, ctx(batch_required=True))
    assert sorted((f.business_key, f.code, f.where) for f in result.failures) == [
        ("P1", "QTY_NOT_POSITIVE", "lines[0] (line_no 1)"),
        ("P1", "UNKNOWN_UOM", "lines[1] (line_no 2)"),
        ("SUP1/ASN1", "BATCH_REQUIRED", "lines[0] (line_no 1)"),
        ("SUP1/ASN1", "QTY_NOT_POSITIVE", "lines[1] (line_no 2)"),
    ]
    assert [(d.business_key, [line.line_no for line in d.lines]) for d in result.valid] == [
        ("P1", [3]),
        ("SUP1/ASN1", [3]),
        ("P2", [1]),
    ]
    # the input documents are not trimmed in place: quarantine evidence keeps all lines
    assert len(docs[0].lines) == 3
    assert len(result.failures[0].document["lines"]) == 3


def test_line_with_several_faults_reports_each():
    result = validate([asn(asl(1, "0", uom="PCE"), asl(2, batch="B"))], ctx(batch_required=True))
    assert sorted(f.code for f in result.failures) == ["BATCH_REQUIRED", "QTY_NOT_POSITIVE", "UNKNOWN_UOM"]


def test_all_or_nothing_fails_the_whole_document():
    result = validate([po(pol(1, "0"), pol(2), po_number="P1"), po(pol(1), po_number="P2")], ctx(all_or_nothing=True))
    assert [d.business_key for d in result.valid] == ["P2"]
    assert codes(result.failures) == [("QTY_NOT_POSITIVE", "lines[0] (line_no 1)")]


def test_document_without_good_lines_fails_whole():
    result = validate([po(pol(1, "0"), pol(2, "-1"))], ctx())
    assert result.valid == []
    assert len(result.failures) == 2


def test_empty_batch():
    result = validate([], ctx())
    assert result.valid == [] and result.failures == []


def test_failure_to_error_is_skippable_with_location():
    failure = validate([po(pol(1, "0"), pol(2))], ctx()).failures[0]
    err = failure.to_error()
    assert err.kind == "skippable" and err.code == "QTY_NOT_POSITIVE"
    assert err.as_line().startswith("PurchaseOrder CGDD000101 lines[0] (line_no 1): QTY_NOT_POSITIVE quantity 0")


# ---------------------------------------------------------------- hostile inputs


def test_ten_thousand_lines_validate_and_bad_ones_are_found():
    lines = [pol(n, quantity=f"{n}.5") for n in range(1, 10_001)]
    lines[4_999] = pol(5_000, quantity="0")
    lines[9_999] = pol(10_000, uom="EA")
    result = validate([po(*lines)], ctx())
    assert codes(result.failures) == [
        ("QTY_NOT_POSITIVE", "lines[4999] (line_no 5000)"),
        ("UNKNOWN_UOM", "lines[9999] (line_no 10000)"),
    ]
    assert len(result.valid[0].lines) == 9_998


def test_unicode_material_ids_and_keys_survive():
    doc = po(pol(1, material_id="螺栓-M8×20"), pol(1, material_id="Ølfilter ✓"), po_number="采购-0001")
    result = validate([doc], ctx())
    assert [(f.business_key, f.code) for f in result.failures] == [("采购-0001", "DUPLICATE_LINE")] * 2
    assert result.failures[0].document["lines"][0]["material_id"] == "螺栓-M8×20"


# ---------------------------------------------------------------- the schemas themselves


def test_failure_cases_map_back_to_reason_codes():
    frame = flatten([(0, po(pol(1, "0", uom="PCE")))])
    with pytest.raises(pe.SchemaErrors) as exc:
        PurchaseOrderLineSchema.validate(frame, lazy=True)
    assert set(exc.value.failure_cases["check"]) == {"QTY_NOT_POSITIVE", "UNKNOWN_UOM"}


@pytest.mark.parametrize("model", [PurchaseOrderLineSchema, ShipmentNoticeLineSchema, ReceiptLineSchema, BatchSchema])
def test_inherited_checks_keep_their_code(model):
    # pandera 0.35 drops a check's name when a second subclass inherits it; `error` survives.
    checks = [c.error for col in model.to_schema().columns.values() for c in col.checks]
    assert "QTY_NOT_POSITIVE" in checks and "UNKNOWN_UOM" in checks


def test_quantity_stays_decimal_in_the_frame():
    frame = flatten([(0, po(pol(1, "0.1"), pol(2, "0.2")))])
    assert frame["quantity"].dtype == object
    assert sum(frame["quantity"], Decimal(0)) == Decimal("0.3")


def test_float_quantity_in_a_frame_is_rejected():
    frame = flatten([(0, po(pol(1)))])
    frame["quantity"] = pd.Series([0.1], dtype=object)
    issues = collect_issues(frame, PurchaseOrderLineSchema, "PurchaseOrder")
    assert [i.code for i in issues] == ["QTY_NOT_DECIMAL"]


def test_frame_that_breaks_the_contract_is_fatal_not_quarantined():
    frame = flatten([(0, po(pol(1)))]).assign(unexpected="x")
    with pytest.raises(FatalError) as exc:
        collect_issues(frame, PurchaseOrderLineSchema, "PurchaseOrder")
    assert exc.value.code == "SCHEMA_CONTRACT"
