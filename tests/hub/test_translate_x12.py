"""hub.translate on X12: mapping picked by ST01 and GS08, control_ref = ISA13, errors as data."""
from __future__ import annotations

from pathlib import Path

from hub.translate import translate

GOLDEN = Path(__file__).resolve().parents[2] / "mappings" / "x12" / "golden"


def test_translates_an_856_and_keeps_isa13():
    data = (GOLDEN / "856_004010" / "pack_sscc_batch.x12").read_bytes()
    result = translate(data, "asn.x12", partner="SUP-001")
    assert result.errors == [] and result.warnings == []
    assert result.control_ref == "000000017"
    (doc,) = result.documents
    assert doc.type == "ShipmentNotice" and doc.source.partner == "SUP-001" and doc.source.message_ref == "0017"
    assert [line.package_id for line in doc.lines] == ["003401234500000017"] * 2 + ["003401234500000024"]


def test_nearest_version_with_warning_and_unknown_set():
    data = (GOLDEN / "856_004010" / "pack_sscc_batch.x12").read_bytes().replace(b"*004010~", b"*005010~")
    result = translate(data, "asn.x12")
    assert len(result.documents) == 1 and result.errors == []
    assert result.warnings == ["asn.x12:segment 3 (ST, line 3): no mapping for 856 005010; used 856_004010 (nearest version)"]
    other = translate(data.replace(b"ST*856", b"ST*999").replace(b"GS*SH", b"GS*ZZ"), "x.x12")
    assert [(e.code, e.where) for e in other.errors] == [("UNSUPPORTED_MESSAGE", "x.x12:segment 3 (ST, line 3)")]


def test_a_bad_set_is_quarantined_and_its_neighbour_goes_on():
    data = (GOLDEN / "855_004010" / "ack_per_line.x12").read_bytes().replace(b"SE*13*0001~", b"SE*12*0001~")
    result = translate(data, "ack.x12")
    assert [d.po_number for d in result.documents] == ["PO-4502"]
    assert [(e.code, e.where) for e in result.errors] == [("SE_COUNT_MISMATCH", "ack.x12:segment 15 (SE, line 15)")]


def test_header_errors_are_reported_not_raised():
    result = translate(b"ISA*00*short~", "bad.x12")
    assert [e.code for e in result.errors] == ["ISA_INVALID"] and result.documents == []
