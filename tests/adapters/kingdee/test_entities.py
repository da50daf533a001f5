"""Folding ExecuteBillQuery rows into records (pure functions on data)."""
from __future__ import annotations

import datetime as dt

import pytest

from adapters.kingdee.entities import SPECS, filter_literal, parse_modified, records

PO = SPECS["purchase_orders"]


def po_row(fid, number, entry_id, seq, qty=1, modified="2026-11-20T09:00:00"):
    row = {key: None for key in PO.field_keys}
    row.update({"FID": fid, "FBillNo": number, "FModifyDate": modified, "FApproveDate": modified,
                "FPOOrderEntry_FEntryID": entry_id, "FSeq": seq, "FQty": qty})
    return row


def test_rows_fold_into_one_record_per_bill_in_order():
    rows = [po_row(1, "A", 11, 1), po_row(1, "A", 12, 2), po_row(2, "B", 21, 1)]
    out = list(records(rows, PO))
    assert [(r.key, [e["FPOOrderEntry_FEntryID"] for e in r.data["FPOOrderEntry"]]) for r in out] == [
        ("A", [11, 12]), ("B", [21])]
    assert out[0].modified == dt.datetime(2026, 11, 20, 9, 0)


def test_repeated_rows_are_dropped_within_a_bill_and_after_it():
    rows = [po_row(1, "A", 11, 1), po_row(1, "A", 11, 1), po_row(1, "A", 12, 2), po_row(2, "B", 21, 1),
            po_row(1, "A", 12, 2),  # a repeat of a finished bill (FID 1 < 2) arriving late
            po_row(2, "B", 22, 2), po_row(3, "C", 31, 1)]
    out = list(records(rows, PO))
    assert [(r.key, len(r.data["FPOOrderEntry"])) for r in out] == [("A", 2), ("B", 2), ("C", 1)]


def test_records_are_yielded_before_the_input_ends():
    def rows():
        yield po_row(1, "A", 11, 1)
        yield po_row(2, "B", 21, 1)
        raise AssertionError("read past the second bill's first row before giving out the first bill")

    stream = records(rows(), PO)
    assert next(stream).key == "A"


def test_a_bill_without_lines_keeps_its_header_and_no_entries():
    empty = po_row(5, "E", None, None, qty=None)
    [record] = records([empty], PO)
    assert record.key == "E" and record.data["FPOOrderEntry"] == []


def test_production_orders_are_one_record_per_line_with_a_stable_id():
    spec = SPECS["production_orders"]
    base = {key: None for key in spec.field_keys}
    rows = [{**base, "FID": 7, "FBillNo": "MO1", "FTreeEntity_FEntryId": 70, "FTreeEntity_FSeq": 1},
            {**base, "FID": 7, "FBillNo": "MO1", "FTreeEntity_FEntryId": 71, "FTreeEntity_FSeq": 2.0}]
    assert [r.key for r in records(rows, spec)] == ["MO1-1", "MO1-2"]


@pytest.mark.parametrize("pairs, base, per", [
    ([(1, 1), (3, 1)], "1", ["1", "3"]),
    ([(3, 2), (5, 2)], "2", ["3", "5"]),          # equal denominators stay Kingdee's own numbers
    ([(1, 2), (1, 3)], "6", ["3", "2"]),          # different ones: least common multiple, exact
    ([(1, 0.5), (1, 2)], "1", ["2", "0.5"]),      # not whole: base 1 and the quotient
    ([(0, 1), (2, 1)], "1", [None, "2"]),         # a zero usage gets no value: the mapping refuses it
    ([(0.25, 1)], "1", ["0.25"]),
])
def test_bom_usage_becomes_one_base_quantity(pairs, base, per):
    spec = SPECS["boms"]
    head = {key: None for key in spec.field_keys}
    rows = [{**head, "FID": 1, "FNumber": "P_V1.0", "FTreeEntity_FEntryId": n, "FTreeEntity_FSeq": n,
             "FNumerator": num, "FDenominator": den} for n, (num, den) in enumerate(pairs, start=1)]
    [record] = records(rows, spec)
    assert record.data["hub_base_quantity"] == base
    assert [e["hub_quantity_per"] for e in record.data["FTreeEntity"]] == per


def test_filter_literal_and_modified_use_kingdee_local_time():
    aware = dt.datetime(2026, 11, 21, 0, 15, 30, 999, tzinfo=dt.timezone.utc)
    assert filter_literal(aware) == "2026-11-21T08:15:30"
    assert parse_modified(["2026-11-21T08:15:30", None, "garbage", "2026-11-22T00:00:00+08:00"]) == dt.datetime(
        2026, 11, 22)
    assert parse_modified([None, ""]) is None


def test_filter_string_names_both_change_dates_and_stock_has_none():
    since = dt.datetime(2026, 11, 20, 9, 0)
    assert PO.filter_string(since) == ("FDocumentStatus='C' and (FModifyDate>='2026-11-20T09:00:00' or "
                                       "FApproveDate>='2026-11-20T09:00:00')")
    assert SPECS["stock"].filter_string(since) == "" and PO.filter_string(None) == "FDocumentStatus='C'"
    assert PO.order_string == "FID ASC,FPOOrderEntry_FEntryID ASC"
