"""X12 writer and outbound builders: what we write, our parser reads back; delimiters in data are refused."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from adapters.edi.x12 import X12Delimiters, hl_tree, parse_interchange
from adapters.edi.x12_messages import (changed_purchase_order_to_860,
                                       purchase_order_to_850, shipment_notice_to_856)
from adapters.edi.x12_writer import X12Writer
from canonical_model.documents import PurchaseOrder, ShipmentNotice
from hub.translate import translate
from hub.errors import SkippableError

WHEN = dt.datetime(2026, 3, 2, 8, 30)


@pytest.mark.parametrize("d,version", [
    (X12Delimiters("*", ">", "^", "~"), "00401"), (X12Delimiters("*", ">", "^", "~"), "00501"),
    (X12Delimiters("~", ">", None, "}"), "00401"), (X12Delimiters("|", ":", "!", "\n"), "00403"),
])
def test_round_trip_with_counts_and_controls(d, version):
    w = X12Writer("SUP001", "MESHUB", 42, delimiters=d, version=version, prepared=WHEN, usage="T")
    w.add_group("SH", 7)
    w.add_transaction("856", 7, [("BSN", ["00", "ASN 1", "20260302", "0830"]), ("LIN", [None, "BP", ["A", "B"], None])])
    w.add_transaction("856", 8, [("BSN", ["05", "ASN-2"])])
    w.add_group("PO", 9)
    w.add_transaction("850", 9, [("BEG", ["00", "SA", "PO-é1"])])
    inter = parse_interchange(w.to_bytes(), "out.x12")
    txns = inter.transactions()
    assert inter.errors == [] and inter.control_ref == "000000042" and inter.usage == "T"
    assert inter.delimiters.repetition == (d.repetition if version >= "00402" else None)
    assert [(t.set_id, t.control, len(t.segments)) for t in txns] == [("856", "0007", 4), ("856", "0008", 3), ("850", "0009", 3)]
    assert txns[0].segments[2].elements == [[""], ["BP"], ["A", "B"]]  # trailing empty element dropped
    assert txns[2].segments[1].get(2) == "PO-é1"
    assert [(g.functional_id, g.transaction_count) for g in inter.groups] == [("SH", 2), ("PO", 1)]


@pytest.mark.parametrize("value,what", [("A*B", "element separator"), ("A>B", "component separator"),
                                        ("A^B", "repetition separator"), ("A~", "segment terminator"),
                                        ("A\nB", "control character")])
def test_delimiters_in_data_are_refused(value, what):
    w = X12Writer("SUP001", "MESHUB", 1, version="00401" if what != "repetition separator" else "00403", prepared=WHEN)
    w.add_group("SH", 1)
    with pytest.raises(SkippableError) as exc:
        w.add_transaction("856", 1, [("BSN", ["00", value])])
    assert exc.value.code == "DELIMITER_IN_DATA" and what in exc.value.message
    assert exc.value.where == "transaction set 856 0001: BSN02"


def test_repetition_char_is_data_before_00402():
    w = X12Writer("SUP001", "MESHUB", 1, version="00401", prepared=WHEN)
    w.add_group("SH", 1)
    w.add_transaction("856", 1, [("BSN", ["00", "A^B"])])
    assert parse_interchange(w.to_bytes()).transactions()[0].segments[1].get(1) == "A^B"


def test_bad_control_numbers_and_ids():
    with pytest.raises(ValueError):
        X12Writer("SUP001", "MESHUB", "1234567890")
    with pytest.raises(ValueError):
        X12Writer("A-VERY-LONG-SENDER-ID", "MESHUB", 1)


PO = PurchaseOrder(po_number="PO-4501", supplier_id="SUP-001", order_date=dt.date(2026, 2, 28), currency="CNY",
                   lines=[dict(line_no=1, material_id="1.02.0033", supplier_material_id="SP-33-A", quantity=Decimal("100"),
                               uom="H87", unit_price=Decimal("2.50"), delivery_date=dt.date(2026, 3, 10)),
                          dict(line_no=2, material_id="1.02.0041", quantity=Decimal("50"), uom="KGM")])


def test_850_carries_every_line():
    data = purchase_order_to_850(PO, sender="MESHUB", receiver="SUP001", interchange_control=5, group_control=6,
                                 prepared=WHEN)
    inter = parse_interchange(data)
    (t,) = inter.transactions()
    po1 = [s for s in t.segments if s.tag == "PO1"]
    assert [s.elements for s in po1] == [[["1"], ["100"], ["EA"], ["2.5"], ["PE"], ["BP"], ["1.02.0033"], ["VP"], ["SP-33-A"]],
                                         [["2"], ["50"], ["KG"], [""], [""], ["BP"], ["1.02.0041"]]]
    assert t.segments[-2].elements == [["2"]] and inter.errors == [] and t.set_id == "850"


def test_860_sends_only_changed_lines_with_change_codes():
    new = PO.model_copy(update={"version": 2, "lines": [PO.lines[0].model_copy(update={"quantity": Decimal("80")}),
                                                        PO.lines[1].model_copy(update={"line_no": 3})]})
    data = changed_purchase_order_to_860(new, previous=PO, sender="MESHUB", receiver="SUP001",
                                         interchange_control=7, group_control=7, prepared=WHEN)
    (t,) = parse_interchange(data).transactions()
    assert t.segments[1].get(0) == "04"
    assert [(s.get(0), s.get(1), s.get(2)) for s in t.segments if s.tag == "POC"] == [
        ("1", "QD", "80"), ("3", "AI", "50"), ("2", "DI", "50")]
    cancelled = changed_purchase_order_to_860(PO.model_copy(update={"status": "cancelled"}), sender="MESHUB",
                                              receiver="SUP001", interchange_control=8, group_control=8, prepared=WHEN)
    (c,) = parse_interchange(cancelled).transactions()
    assert c.segments[1].get(0) == "01" and {s.get(1) for s in c.segments if s.tag == "POC"} == {"DI"}


def test_856_builds_s_o_p_i_and_translates_back():
    asn = ShipmentNotice(asn_number="ASN-9", supplier_id="SUP-001", ship_date=dt.date(2026, 3, 2), lines=[
        dict(line_no=1, po_number="PO-1", po_line_no=1, material_id="1.02.0033", quantity=Decimal("3"), uom="H87",
             batch_number="L1", package_id="003401234500000017", expiry_date=dt.date(2027, 1, 1)),
        dict(line_no=2, po_number="PO-1", po_line_no=2, material_id="1.02.0041", quantity=Decimal("1.5"), uom="KGM")])
    for batch_in in ("ref", "lin"):
        data = shipment_notice_to_856(asn, sender="SUP001", receiver="MESHUB", interchange_control=3, group_control=3,
                                      prepared=WHEN, batch_in=batch_in)
        (t,) = parse_interchange(data).transactions()
        (ship,) = hl_tree(t.segments)
        assert [n.level_code for n in ship.walk()] == ["S", "O", "P", "I", "I"]
        result = translate(data, "asn.x12")
        assert result.errors == [] and result.control_ref == "000000003"
        (doc,) = result.documents
        assert doc.model_dump(exclude={"source"}) == asn.model_dump(exclude={"source"})
