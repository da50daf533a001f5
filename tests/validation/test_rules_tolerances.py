"""Partner tolerances as validation rules: must-ship-complete (ASN_QTY_SHORT_OF_PO) and the
delivery date window (ASN_DATE_OUTSIDE_WINDOW). Both are off unless the context asks."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from canonical_model.documents import ShipmentNotice, ShipmentNoticeLine
from validation import REASON_CODES, OpenPoLine, ValidationContext, validate

DUE = dt.date(2026, 3, 10)


def open_line(line_no: int = 1, open_qty: str = "200", material_id: str = "MAT-1",
              delivery_date: dt.date | None = DUE) -> OpenPoLine:
    return OpenPoLine("PO1", line_no, material_id, "H87", Decimal(open_qty), Decimal(open_qty), "SUP1",
                      delivery_date=delivery_date)


def ctx(*lines: OpenPoLine, **kw) -> ValidationContext:
    return ValidationContext(open_po_lines={(p.po_number, p.line_no): p for p in lines}, **kw)


def line(line_no: int, quantity: str, po_line_no: int | None = 1, material_id: str = "MAT-1") -> ShipmentNoticeLine:
    return ShipmentNoticeLine(line_no=line_no, po_number="PO1", po_line_no=po_line_no, material_id=material_id,
                              quantity=quantity, uom="H87")


def asn(*lines: ShipmentNoticeLine, asn_number: str = "ASN1", ship_date: dt.date | None = None,
        expected_arrival: dt.date | None = None) -> ShipmentNotice:
    return ShipmentNotice(asn_number=asn_number, supplier_id="SUP1", ship_date=ship_date,
                          expected_arrival=expected_arrival, lines=list(lines))


def codes(result) -> list[tuple[str, str, str]]:
    return [(f.business_key, f.code, f.where) for f in result.failures]


def test_new_codes_are_reason_codes_and_old_constructors_still_work():
    assert {"ASN_QTY_SHORT_OF_PO", "ASN_DATE_OUTSIDE_WINDOW"} <= REASON_CODES
    # positional construction without delivery_date, as hub/flows and older tests do
    legacy = OpenPoLine("PO1", 1, "MAT-1", "H87", Decimal("200"), Decimal("200"), "SUP1")
    assert legacy.delivery_date is None


# ---------------------------------------------------------------- ASN_QTY_SHORT_OF_PO


def test_short_shipment_passes_when_the_rule_is_off():
    # the default flow lets partial shipments through (SHORT_SHIPMENT alert on receipt instead)
    assert validate([asn(line(1, "1"))], ctx(open_line())).failures == []


@pytest.mark.parametrize("quantity,ok", [("180", True), ("180.000", True), ("179", False), ("179.9999", False),
                                         ("200", True), ("220", True)])
def test_short_boundary_is_exact(quantity, ok):
    result = validate([asn(line(1, quantity))],
                      ctx(open_line(), under_ship_tolerance_pct=Decimal("10"), over_ship_tolerance_pct=Decimal("10")))
    assert (result.failures == []) is ok, codes(result)
    if not ok:
        assert codes(result) == [("SUP1/ASN1", "ASN_QTY_SHORT_OF_PO", "lines[0] (line_no 1)")]
        assert result.failures[0].message == (
            f"ASN ASN1 ships {Decimal(quantity).normalize():f} of open quantity 200 on PO PO1 line 1, less than the "
            "180 the partner must ship complete (under-ship tolerance 10%); ask the supplier to ship the rest on "
            "this ASN or change the PO")
        assert result.valid == []


def test_zero_tolerance_means_complete_and_decimal_is_exact():
    context = ctx(open_line(open_qty="0.3"), under_ship_tolerance_pct=Decimal("0"))
    # as floats 0.1 + 0.2 != 0.3; here the two lines ship the PO line complete
    assert validate([asn(line(1, "0.1"), line(2, "0.2"))], context).failures == []
    short = validate([asn(line(1, "0.1"), line(2, "0.1999999"))], context)
    assert [c for _, c, _ in codes(short)] == ["ASN_QTY_SHORT_OF_PO", "ASN_QTY_SHORT_OF_PO"]


def test_fractional_tolerance_is_exact():
    # 1000 * (1 - 0.1/100) = 999: 999 ships complete enough, 998.999 does not
    context = ctx(open_line(open_qty="1000"), under_ship_tolerance_pct=Decimal("0.1"))
    assert validate([asn(line(1, "999"))], context).failures == []
    assert [c for _, c, _ in codes(validate([asn(line(1, "998.999"))], context))] == ["ASN_QTY_SHORT_OF_PO"]


def test_split_lines_of_one_po_line_are_added_up_per_asn():
    context = ctx(open_line(), open_line(2, "50", material_id="MAT-2"), under_ship_tolerance_pct=Decimal("0"))
    # two batches of PO line 1 make it complete; PO line 2 is short on its own
    result = validate([asn(line(1, "120"), line(2, "80"), line(3, "49", po_line_no=2, material_id="MAT-2"))], context)
    assert codes(result) == [("SUP1/ASN1", "ASN_QTY_SHORT_OF_PO", "lines[2] (line_no 3)")]
    assert [len(d.lines) for d in result.valid] == [2]


def test_short_is_judged_against_what_earlier_asns_left_open():
    context = ctx(open_line(), under_ship_tolerance_pct=Decimal("0"))
    # 120 of 200 is short: ASN1 fails and gives its 120 back, so ASN2 must still ship all 200
    result = validate([asn(line(1, "120")), asn(line(1, "80"), asn_number="ASN2")], context)
    assert [(k, c) for k, c, _ in codes(result)] == [("SUP1/ASN1", "ASN_QTY_SHORT_OF_PO"),
                                                      ("SUP1/ASN2", "ASN_QTY_SHORT_OF_PO")]
    assert "of open quantity 200" in result.failures[1].message
    # with a 40% tolerance ASN1 passes (120 >= 120) and leaves 80 open, which ASN2 then ships complete
    lenient = ctx(open_line(), under_ship_tolerance_pct=Decimal("40"))
    assert validate([asn(line(1, "120")), asn(line(1, "80"), asn_number="ASN2")], lenient).failures == []


def test_pooled_line_without_po_line_no_counts_against_the_pool():
    context = ctx(open_line(1, "100"), open_line(2, "100"), under_ship_tolerance_pct=Decimal("0"))
    assert validate([asn(line(1, "200", po_line_no=None))], context).failures == []
    result = validate([asn(line(1, "199", po_line_no=None))], context)
    assert codes(result) == [("SUP1/ASN1", "ASN_QTY_SHORT_OF_PO", "lines[0] (line_no 1)")]
    assert "on PO PO1 lines 1, 2" in result.failures[0].message


def test_short_tolerance_is_checked():
    with pytest.raises(TypeError):
        ctx(open_line(), under_ship_tolerance_pct=10.0)
    with pytest.raises(ValueError):
        ctx(open_line(), under_ship_tolerance_pct=Decimal("100.01"))


# ---------------------------------------------------------------- ASN_DATE_OUTSIDE_WINDOW


def test_dates_pass_when_the_rule_is_off():
    assert validate([asn(line(1, "200"), expected_arrival=DUE + dt.timedelta(days=90))], ctx(open_line())).failures == []


@pytest.mark.parametrize("offset,ok", [(0, True), (3, True), (-3, True), (4, False), (-4, False)])
def test_date_window_boundary(offset, ok):
    result = validate([asn(line(1, "200"), expected_arrival=DUE + dt.timedelta(days=offset))],
                      ctx(open_line(), date_window_days=3))
    assert (result.failures == []) is ok, codes(result)
    if not ok:
        assert codes(result) == [("SUP1/ASN1", "ASN_DATE_OUTSIDE_WINDOW", "lines[0] (line_no 1)")]
        direction = "after" if offset > 0 else "before"
        assert result.failures[0].message.startswith(
            f"ASN expected arrival {(DUE + dt.timedelta(days=offset)).isoformat()} is 4 day(s) {direction} the "
            "delivery date 2026-03-10 of PO PO1 line 1 (window 3 day(s))")


def test_expected_arrival_wins_over_ship_date_which_stands_in_alone():
    context = ctx(open_line(), date_window_days=0)
    # shipped days earlier but arriving on the day: fine
    assert validate([asn(line(1, "200"), ship_date=DUE - dt.timedelta(days=5), expected_arrival=DUE)],
                    context).failures == []
    only_ship = validate([asn(line(1, "200"), ship_date=DUE - dt.timedelta(days=1))], context)
    assert [c for _, c, _ in codes(only_ship)] == ["ASN_DATE_OUTSIDE_WINDOW"]
    assert only_ship.failures[0].message.startswith("ASN ship date 2026-03-09 is 1 day(s) before")


def test_nothing_to_compare_passes():
    context = ctx(open_line(delivery_date=None), date_window_days=0)
    assert validate([asn(line(1, "200"), expected_arrival=dt.date(2030, 1, 1))], context).failures == []
    assert validate([asn(line(1, "200"))], ctx(open_line(), date_window_days=0)).failures == []


def test_pooled_line_is_in_window_when_any_of_its_po_lines_is():
    context = ctx(open_line(1, "100", delivery_date=DUE), open_line(2, "100", delivery_date=DUE + dt.timedelta(days=30)),
                  date_window_days=2)
    assert validate([asn(line(1, "50", po_line_no=None), expected_arrival=DUE + dt.timedelta(days=29))],
                    context).failures == []
    result = validate([asn(line(1, "50", po_line_no=None), expected_arrival=DUE + dt.timedelta(days=15))], context)
    assert [c for _, c, _ in codes(result)] == ["ASN_DATE_OUTSIDE_WINDOW"]


def test_a_line_outside_the_window_does_not_use_up_the_po_line():
    context = ctx(open_line(), date_window_days=0)
    late = asn(line(1, "200"), expected_arrival=DUE + dt.timedelta(days=1))
    on_time = asn(line(1, "200"), asn_number="ASN2", expected_arrival=DUE)
    result = validate([late, on_time], context)
    assert [(k, c) for k, c, _ in codes(result)] == [("SUP1/ASN1", "ASN_DATE_OUTSIDE_WINDOW")]
    assert [d.asn_number for d in result.valid] == ["ASN2"]


def test_date_window_is_checked():
    with pytest.raises(TypeError):
        ctx(open_line(), date_window_days=True)
    with pytest.raises(ValueError):
        ctx(open_line(), date_window_days=-1)
