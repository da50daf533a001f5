"""hub.translate: whole files in, canonical documents + located errors out."""
from __future__ import annotations

import datetime as dt
import gc
import io
from decimal import Decimal
from pathlib import Path

import pytest

from canonical_model.documents import PurchaseOrder, ShipmentNotice, ShipmentNoticeLine
from hub.translate import iter_translate, translate


def edi(*segments: str, una: bool = True) -> bytes:
    return (("UNA:+.? '\r\n" if una else "") + "".join(s + "'\r\n" for s in segments)).encode("latin-1")


def desadv(ref: str, asn: str, qty: str = "10", unt: int | None = None, mtype: str = "DESADV:D:96A:UN:EAN005") -> list[str]:
    body = [
        f"UNH+{ref}+{mtype}",
        f"BGM+351+{asn}+9",
        "DTM+11:20261124:102",
        "NAD+SU+4012345000009::9",
        "CPS+1",
        "PAC+1",
        "PCI+33E",
        "GIN+BJ+340123450000000016",
        "LIN+1++1.02.0033:IN",
        f"QTY+12:{qty}:PCE",
        "RFF+ON:CGDD000101",
        "RFF+LI:1",
    ]
    return body + [f"UNT+{unt if unt is not None else len(body) + 1}+{ref}"]


UNB = "UNB+UNOC:3+4012345000009:14+6901234000004:14+261124:0815+ICR1"


def test_good_desadv_becomes_shipment_notices_with_source():
    data = edi(UNB, *desadv("1", "ASN-1"), *desadv("2", "ASN-2", qty="2.5"), "UNZ+2+ICR1")
    result = translate(data, "in/asn.edi")
    assert result.errors == [] and result.ok
    assert [type(d) for d in result.documents] == [ShipmentNotice, ShipmentNotice]
    first, second = result.documents
    assert (first.asn_number, first.supplier_id, first.ship_date) == ("ASN-1", "SUP-001", dt.date(2026, 11, 24))
    line = first.lines[0]
    assert (line.material_id, line.quantity, line.uom, line.package_id, line.po_number, line.po_line_no) == (
        "1.02.0033", Decimal("10"), "H87", "340123450000000016", "CGDD000101", 1)
    assert second.lines[0].quantity == Decimal("2.5")
    src = first.source
    assert (src.system, src.partner, src.file, src.interchange_ref, src.message_ref) == (
        "edifact", "4012345000009", "in/asn.edi", "ICR1", "1")
    assert translate(data, "in/asn.edi", partner="SUP-001").documents[0].source.partner == "SUP-001"
    assert result.control_ref == "ICR1"


def test_truncated_file_reports_missing_unz_at_the_last_segment_and_keeps_documents():
    data = edi(UNB, *desadv("1", "ASN-1"))  # no UNZ: the transfer was cut
    result = translate(data, "cut.edi")
    assert [d.asn_number for d in result.documents] == ["ASN-1"]
    assert [e.code for e in result.errors] == ["MISSING_UNZ"]
    # UNB is segment 1 on line 2 (UNA is line 1 and no segment), so UNT is segment 14 on line 15
    assert result.errors[0].where == "cut.edi:segment 14 (UNT, line 15)"


def test_wrong_unt_count_quarantines_that_message_only():
    data = edi(UNB, *desadv("1", "ASN-1", unt=99), *desadv("2", "ASN-2"), "UNZ+2+ICR1")
    result = translate(data, "count.edi")
    assert [d.asn_number for d in result.documents] == ["ASN-2"]
    assert [e.code for e in result.errors] == ["UNT_COUNT_MISMATCH"]
    assert result.errors[0].where == "count.edi:segment 14 (UNT, line 15)"


def test_negative_quantity_still_maps():
    result = translate(edi(UNB, *desadv("1", "ASN-1", qty="-3"), "UNZ+1+ICR1"), "neg.edi")
    assert result.errors == []
    assert result.documents[0].lines[0].quantity == Decimal("-3")


def test_mapping_error_is_located_in_the_file_and_neighbours_go_on():
    bad = desadv("1", "ASN-1")
    bad[8] = "LIN+1"  # no item number, no PIA+5
    result = translate(edi(UNB, *bad, *desadv("2", "ASN-2"), "UNZ+2+ICR1"), "f.edi")
    assert [d.asn_number for d in result.documents] == ["ASN-2"]
    assert [e.code for e in result.errors] == ["MISSING_FIELD"]
    assert result.errors[0].where == "f.edi:segment 10 (LIN, line 11)"
    assert "material_id" in result.errors[0].message


def test_unknown_message_type_is_unsupported_and_others_still_translate():
    unmapped = ["UNH+9+PRICAT:D:96A:UN:EAN008", "BGM+9+P1", "UNT+3+9"]
    result = translate(edi(UNB, *unmapped, *desadv("2", "ASN-2"), "UNZ+2+ICR1"), "mix.edi")
    assert [d.asn_number for d in result.documents] == ["ASN-2"]
    assert [(e.code, e.where) for e in result.errors] == [("UNSUPPORTED_MESSAGE", "mix.edi:segment 2 (UNH, line 3)")]


def test_nearby_release_is_used_with_a_warning():
    result = translate(edi(UNB, *desadv("1", "ASN-1", mtype="DESADV:D:01B:UN:EAN007"), "UNZ+1+ICR1"), "new.edi")
    assert result.errors == [] and len(result.documents) == 1
    assert any("DESADV_D96A" in w and "01B" in w for w in result.warnings)


def test_each_message_of_a_nearby_release_or_unknown_type_is_named_in_its_own_warning_or_error():
    # the mapping is picked once per file, but every message it applies to is still named
    near = [*desadv("1", "ASN-1", mtype="DESADV:D:01B:UN:EAN007"), *desadv("2", "ASN-2", mtype="DESADV:D:01B:UN:EAN007")]
    unmapped = ["UNH+8+PRICAT:D:96A:UN:EAN008", "BGM+9+P1", "UNT+3+8", "UNH+9+PRICAT:D:96A:UN:EAN008", "BGM+9+P2", "UNT+3+9"]
    result = translate(edi(UNB, *near, *unmapped, "UNZ+4+ICR1"), "new.edi")
    assert [d.asn_number for d in result.documents] == ["ASN-1", "ASN-2"]
    assert result.warnings == [
        f"new.edi:segment {n} (UNH, line {n + 1}): no mapping for DESADV D:01B; used DESADV_D96A (nearest release)"
        for n in (2, 15)]
    assert [(e.code, e.where) for e in result.errors] == [
        ("UNSUPPORTED_MESSAGE", "new.edi:segment 28 (UNH, line 29)"),
        ("UNSUPPORTED_MESSAGE", "new.edi:segment 31 (UNH, line 32)")]


def test_orders_become_purchase_orders():
    data = edi(
        "UNB+UNOC:3+6901234000004:14+4012345000009:14+261120:1000+PO1",
        "UNH+1+ORDERS:D:96A:UN:EAN008", "BGM+220+PO-9+9", "DTM+137:20261120:102", "NAD+SU+SUP-002::9",
        "CUX+2:USD:9", "LIN+1++1.02.0041:IN", "QTY+21:4", "PRI+AAA:1.25", "UNS+S", "UNT+10+1", "UNZ+1+PO1",
    )
    result = translate(data, "po.edi")
    assert result.errors == []
    (po,) = result.documents
    assert isinstance(po, PurchaseOrder)
    assert (po.po_number, po.supplier_id, po.currency, po.lines[0].unit_price) == ("PO-9", "SUP-002", "USD", Decimal("1.25"))


def test_round_trip_through_the_desadv_writer():
    # what the hub (and the supplier simulator) writes must read back as the same notice
    from adapters.edi.messages import shipment_notice_to_desadv

    asn = ShipmentNotice(
        asn_number="ASN-RT", supplier_id="SUP-001", ship_to_id="PLANT-1", ship_date=dt.date(2026, 11, 24),
        expected_arrival=dt.date(2026, 11, 26),
        lines=[
            ShipmentNoticeLine(line_no=1, po_number="CGDD000101", po_line_no=1, material_id="1.02.0033",
                               supplier_material_id="SP-33-A", quantity=Decimal("120"), uom="H87",
                               batch_number="L-1", package_id="340123450000000016", expiry_date=dt.date(2028, 1, 31)),
            ShipmentNoticeLine(line_no=2, po_number="CGDD000101", po_line_no=2, material_id="1.03.0100",
                               quantity=Decimal("0.5"), uom="KGM"),
        ],
    )
    data = shipment_notice_to_desadv(asn, sender="SUP-001", recipient="MESHUB", control_ref="77")
    result = translate(data, "rt.edi")
    assert result.errors == []
    assert result.documents[0].content() == asn.content()


# ------------------------------------------------------------------ hostile input


def test_strict_charset_policy_reaches_the_parser():
    # UNOA (ASCII) declared, UTF-8 sent: lenient decodes with a warning, strict refuses
    data = edi("UNB+UNOA:3+4012345000009:14+6901234000004:14+261124:0815+ICR1",
               *desadv("1", "ASN-Ü"), "UNZ+1+ICR1").replace("Ü".encode("latin-1"), "Ü".encode("utf-8"))
    lenient = translate(data, "u.edi")
    assert [d.asn_number for d in lenient.documents] == ["ASN-Ü"] and lenient.warnings
    strict = translate(data, "u.edi", charset_policy="strict")
    assert strict.documents == [] and [e.code for e in strict.errors] == ["CHARSET_MISMATCH"]


def test_empty_file():
    for data in (b"", b"\r\n  \n", b"\xef\xbb\xbf"):
        result = translate(data, "empty.edi")
        assert result.documents == []
        assert [(e.code, e.where) for e in result.errors] == [("EMPTY_FILE", "empty.edi:line 1")]


def test_binary_junk():
    junk = bytes(range(256)) * 8
    result = translate(junk, "junk.bin")
    assert result.documents == [] and [e.code for e in result.errors] == ["UNKNOWN_FORMAT"]
    # junk that starts like EDIFACT goes to the parser and must come back as errors, not a crash
    result = translate(b"UNB+" + junk, "junk2.edi")
    assert result.documents == [] and result.errors


def test_every_truncation_is_reported_never_raised():
    data = edi(UNB, *desadv("1", "ASN-1"), "UNZ+1+ICR1")
    # data ends with "UNZ+1+ICR1'\r\n": only cuts before the final terminator are incomplete
    for cut in range(len(data) - 2):
        result = translate(data[:cut], "cut.edi")
        # a cut file is never silently complete: something must say so
        assert result.errors, f"cut at byte {cut} gave no error"
        assert all(e.where.startswith("cut.edi:") for e in result.errors), [e.as_line() for e in result.errors]


def test_an_acknowledgement_is_named_as_such_not_as_a_missing_mapping():
    contrl = ["UNH+1+CONTRL:D:3:UN", "UCI+ICR9+MESHUB+SUP-001+7", "UNT+3+1"]
    result = translate(edi(UNB, *contrl, "UNZ+1+ICR1"), "ack.edi")
    (error,) = result.errors
    assert error.code == "UNSUPPORTED_MESSAGE" and "acknowledgement" in error.message and "add mappings" not in error.message


# --------------------------------------------------------------------------- the collector held back


class _WatchedStream(io.RawIOBase):
    """A file that notes the cycle collector's state at each read, and can break."""

    def __init__(self, data: bytes, fail_after: int | None = None) -> None:
        self._data = io.BytesIO(data)
        self.collector: list[tuple[bool, tuple[int, int, int]]] = []  # (enabled, thresholds) per read
        self._fail_after = fail_after

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.collector.append((gc.isenabled(), gc.get_threshold()))
        if self._fail_after is not None and len(self.collector) > self._fail_after:
            raise OSError("disk went away")
        return self._data.read(size)


@pytest.fixture
def collector():
    """The collector on, with thresholds of the test's own; put back as found afterwards."""
    was_enabled, was_threshold = gc.isenabled(), gc.get_threshold()
    gc.enable()
    gc.set_threshold(500, 7, 9)
    yield
    gc.set_threshold(*was_threshold)
    if not was_enabled:
        gc.disable()


def test_translate_holds_back_full_collections_only_and_restores_the_threshold(collector):
    data = edi(UNB, *desadv("1", "ASN-1"), *desadv("2", "ASN-2"), "UNZ+2+ICR1")
    stream = _WatchedStream(data)
    result = translate(stream, "in/asn.edi")  # type: ignore[arg-type]  # a binary stream works too
    assert [d.asn_number for d in result.documents] == ["ASN-1", "ASN-2"] and result.ok
    assert stream.collector
    for enabled, (young, middle, full) in stream.collector:  # young collections go on
        assert enabled and (young, middle) == (500, 7) and full > 10**6
    assert gc.isenabled() and gc.get_threshold() == (500, 7, 9)
    # the streaming form keeps nothing, so it holds nothing back
    watched = _WatchedStream(data)
    assert [d.asn_number for d in iter_translate(watched, "in/asn.edi")] == ["ASN-1", "ASN-2"]
    assert watched.collector and all(state == (True, (500, 7, 9)) for state in watched.collector)


def test_the_threshold_is_restored_when_translate_raises(collector):
    data = edi(UNB, *desadv("1", "ASN-1"), "UNZ+1+ICR1")
    stream = _WatchedStream(data, fail_after=1)  # the format is detected, then the read fails
    with pytest.raises(OSError, match="disk went away"):
        translate(stream, "in/asn.edi")  # type: ignore[arg-type]
    assert len(stream.collector) == 2 and stream.collector[-1][1][2] > 10**6
    assert gc.isenabled() and gc.get_threshold() == (500, 7, 9)


def test_nested_and_caller_changed_collector_settings_are_kept(collector):
    data = edi(UNB, *desadv("1", "ASN-1"), "UNZ+1+ICR1")
    gc.disable()  # a caller's own choice survives
    assert translate(data, "in/asn.edi").documents[0].asn_number == "ASN-1"
    assert not gc.isenabled() and gc.get_threshold() == (500, 7, 9)
    gc.enable()

    class Nesting(_WatchedStream):
        """A read that runs another translate() (a nested call) and then changes the
        thresholds itself: the outer call must neither undo the caller's change nor leave
        its own raised threshold behind."""

        def read(self, size: int = -1) -> bytes:
            if not self.collector:
                inner = translate(data, "inner.edi")
                assert inner.ok and gc.get_threshold()[2] > 10**6  # the outer call's, untouched
            elif len(self.collector) == 1:
                gc.set_threshold(400, 6, 8)
            return super().read(size)

    assert translate(Nesting(data), "outer.edi").ok  # type: ignore[arg-type]
    assert gc.get_threshold() == (400, 6, 8)


def test_what_translate_keeps_holds_no_reference_cycles(collector):
    # why holding back full collections is sound: the documents (and errors) translate()
    # returns are freed by reference counting alone, so a full collection had nothing to free
    x12 = (Path(__file__).resolve().parents[2] / "mappings" / "x12" / "golden" / "856_004010"
           / "pack_sscc_batch.x12").read_bytes()
    inputs = [(edi(UNB, *desadv("1", "ASN-1"), *desadv("2", "ASN-2", qty="2.5"), "UNZ+2+ICR1"), "in/asn.edi"),
              (x12, "in/asn.x12")]
    for data, name in inputs:
        translate(data, name)  # mappings loaded and cached before counting
        gc.collect()
        gc.disable()
        try:
            result = translate(data, name)
            assert result.documents and result.ok
            del result
            assert gc.collect() == 0
        finally:
            gc.enable()


def test_broken_x12_messages_leave_no_garbage_for_a_full_collection(collector):
    # the interpreter's HL tree of a broken message is cyclic garbage: the young collections,
    # which translate() leaves running, free it while the file is read
    x12 = (Path(__file__).resolve().parents[2] / "mappings" / "x12" / "golden" / "856_004010"
           / "pack_sscc_batch.x12").read_bytes()
    head, _, rest = x12.partition(b"ST*")
    body, _, tail = rest.partition(b"GE*")
    broken = b"ST*" + body.replace(b"*EA~", b"*BOXES~")  # a unit no crosswalk knows
    gc.set_threshold(50, 7, 9)  # young collections often, so a small file sees many
    translate(head + broken + b"GE*" + tail, "one.x12")
    gc.collect()
    result = translate(head + broken * 300 + b"GE*300*" + tail.partition(b"*")[2], "many.x12")
    assert [e.code for e in result.errors] == ["UNKNOWN_UOM"] * 300
    assert gc.collect() < 300  # freed as they came: one message's tree alone is 24 objects
