"""CONTRL / 997 / 999: what the hub answers for an inbound interchange, and reading partners' acks."""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from adapters.edi import acks
from adapters.edi.edifact import parse_interchange
from adapters.edi.writer import EdifactWriter
from adapters.edi.x12 import parse_interchange as parse_x12
from adapters.edi.x12_writer import X12Writer
from hub.errors import HubError

WHEN = dt.datetime(2026, 11, 26, 9, 30)
CORPUS = Path(os.environ.get("HUB_EDI_CORPUS", Path(__file__).resolve().parents[3].parent / "shared" / "edi-samples"))


def edifact(messages: int = 1, syntax_version: str = "3", control_ref: str = "4711", test: bool = False) -> bytes:
    w = EdifactWriter(["SUP-001", "ZZZ"], ["MESHUB", "ZZZ"], control_ref, syntax_version=syntax_version,
                      prepared=WHEN, test=test)
    for n in range(messages):
        w.add_message("DESADV", "D", "96A", "UN", "EAN005",
                      [("BGM", ["351", f"ASN-{n}", "9"]), ("DTM", [["11", "20261126", "102"]])], ref=f"M{n + 1}")
    return w.to_bytes()


def segments_of(data: bytes) -> list:
    inter = parse_interchange(data)
    (message,) = inter.messages()
    assert inter.errors == []
    return message.segments


def test_clean_interchange_is_acknowledged_with_uci_7_and_a_ucm_per_message():
    (ack,) = acks.edifact_acks(edifact(messages=2), "in.edi")
    assert ack.result == "accepted" and ack.interchange_ref == "4711"
    out = acks.write_contrl(ack, "900", our_id="MESHUB", their_id="SUP-001", prepared=WHEN)
    inter = parse_interchange(out)
    assert (inter.sender, inter.recipient, inter.control_ref) == ("MESHUB", "SUP-001", "900")
    segs = segments_of(out)
    assert segs[0].elements[1] == ["CONTRL", "D", "3", "UN"]
    uci = next(s for s in segs if s.tag == "UCI")
    # UCI repeats the subject's parties the way round they were in its UNB
    assert uci.elements[:4] == [["4711"], ["SUP-001", "ZZZ"], ["MESHUB", "ZZZ"], ["7"]]
    assert [(s.get(0), s.get(1), s.get(2)) for s in segs if s.tag == "UCM"] == [
        ("M1", "DESADV", "7"), ("M2", "DESADV", "7")]


def test_wrong_unt_count_rejects_the_message_with_0085_code_29():
    data = edifact().replace(b"UNT+4+M1", b"UNT+7+M1")
    (ack,) = acks.edifact_acks(data, "bad.edi")
    assert ack.result == "rejected"
    (message,) = ack.messages
    assert message.status == "rejected"
    assert [(e.code, e.segment, e.element, e.hub_code) for e in message.errors] == [("29", "UNT", "1",
                                                                                      "UNT_COUNT_MISMATCH")]
    assert message.errors[0].text.startswith("bad.edi:segment ")
    segs = segments_of(acks.write_contrl(ack, "901", prepared=WHEN))
    uci = next(s for s in segs if s.tag == "UCI")
    ucm = next(s for s in segs if s.tag == "UCM")
    # the only message is rejected, so the interchange is too (UCI 4), and UCM says why
    assert uci.get(3) == "4"
    assert [ucm.get(0), ucm.get(2), ucm.get(3), ucm.get(4), ucm.get(5)] == ["M1", "4", "29", "UNT", "1"]


def test_one_bad_message_of_two_is_a_partial_acceptance():
    data = edifact(messages=2).replace(b"UNT+4+M2", b"UNT+4+XX")
    (ack,) = acks.edifact_acks(data)
    assert ack.result == "partially_accepted"
    assert [(m.ref, m.status, [e.code for e in m.errors]) for m in ack.messages] == [
        ("M1", "accepted", []), ("M2", "rejected", ["28"])]
    segs = segments_of(acks.write_contrl(ack, "902", prepared=WHEN))
    assert next(s for s in segs if s.tag == "UCI").get(3) == "7"
    assert [(s.get(0), s.get(2)) for s in segs if s.tag == "UCM"] == [("M1", "7"), ("M2", "4")]


@pytest.mark.parametrize("mutation, code, tag", [
    (lambda d: d.replace(b"UNZ+1+4711", b"UNZ+3+4711"), "29", "UNZ"),
    (lambda d: d.replace(b"UNZ+1+4711", b"UNZ+1+4712"), "28", "UNZ"),
    (lambda d: d[: d.index(b"UNZ")], "13", "UNZ"),
    (lambda d: d.replace(b"UNZ+", b"FTX+AAI+++stray'\nUNZ+"), "33", ""),
])
def test_interchange_level_errors_reject_everything_with_their_code_in_uci(mutation, code, tag):
    (ack,) = acks.edifact_acks(mutation(edifact()))
    assert ack.result == "rejected" and all(m.status == "rejected" for m in ack.messages)
    segs = segments_of(acks.write_contrl(ack, "903", prepared=WHEN))
    uci = next(s for s in segs if s.tag == "UCI")
    assert (uci.get(3), uci.get(4), uci.get(5)) == ("4", code, tag)
    assert {s.get(2) for s in segs if s.tag == "UCM"} == {"4"}


def test_strict_charset_failure_is_an_invalid_character_rejection():
    w = EdifactWriter("SUP-001", "MESHUB", "55", syntax="UNOC", prepared=WHEN)
    w.add_message("DESADV", "D", "96A", "UN", None, [("FTX", ["AAI", None, None, "x"])], ref="1")
    data = w.to_bytes().replace(b"+x'", "+轴承'".encode("utf-8"))
    (ack,) = acks.edifact_acks(data, charset_policy="strict")
    assert ack.result == "rejected" and [e.code for e in ack.errors] == ["21"]
    # lenient reads it as UTF-8 and accepts
    assert acks.edifact_acks(data, charset_policy="lenient")[0].result == "accepted"


def test_syntax_4_subject_gets_contrl_4_1_and_receipt_is_action_8():
    (ack,) = acks.edifact_acks(edifact(syntax_version="4", test=True))
    out = acks.write_contrl(ack, "904", prepared=WHEN)
    inter = parse_interchange(out)
    assert inter.syntax_version == "4" and inter.unb.get(10) == "1"  # a test interchange gets a test reply
    assert segments_of(out)[0].elements[1] == ["CONTRL", "4", "1", "UN"]
    (receipt,) = acks.edifact_acks(edifact(), receipt=True)
    segs = segments_of(acks.write_contrl(receipt, "905", prepared=WHEN))
    assert [s.tag for s in segs] == ["UNH", "UCI", "UNT"] and segs[1].get(3) == "8"


def test_contrl_round_trip_and_acks_are_never_acknowledged():
    data = edifact(messages=3).replace(b"UNT+4+M3", b"UNT+9+M3")
    (ack,) = acks.edifact_acks(data)
    out = acks.write_contrl(ack, "906", prepared=WHEN)
    assert acks.is_ack_file(out) == "CONTRL" and acks.is_ack_file(data) is None
    (back,) = acks.read_acks(out)
    assert (back.kind, back.interchange_ref, back.result) == ("CONTRL", "4711", "partially_accepted")
    assert [(m.ref, m.type, m.status, [e.code for e in m.errors]) for m in back.messages] == [
        (m.ref, m.type, m.status, [e.code for e in m.errors]) for m in ack.messages]
    # a file of CONTRLs gets no CONTRL back (no ack ping-pong)
    assert acks.edifact_acks(out) == []


def test_read_acks_refuses_a_business_message_and_a_non_edi_file():
    with pytest.raises(HubError) as exc:
        acks.read_acks(edifact(), "asn.edi")
    assert exc.value.code == "NOT_AN_ACK" and exc.value.where.startswith("asn.edi:segment 2 (UNH")
    with pytest.raises(HubError) as exc:
        acks.acks_for(b"hello", "x.txt")
    assert exc.value.code == "UNKNOWN_FORMAT"


def test_unreadable_header_raises_so_there_is_no_ack_without_a_reference():
    with pytest.raises(HubError) as exc:
        acks.edifact_acks(b"UNH+1+DESADV:D:96A:UN'", "nohdr.edi")
    assert exc.value.code in ("MISSING_UNB", "SYNTAX_ERROR")


# ------------------------------------------------------------------------------ X12
def x12(sets: int = 1, control: int = 321, group: int = 77) -> bytes:
    w = X12Writer("SUP001", "MESHUB", control, sender_qualifier="ZZ", receiver_qualifier="ZZ", prepared=WHEN)
    w.add_group("SH", group, "004010")
    for n in range(1, sets + 1):
        w.add_transaction("856", n, [("BSN", ["00", f"ASN{n}", "20261126", "0930"]), ("HL", ["1", None, "S"])])
    return w.to_bytes()


def test_997_accepts_a_clean_group():
    (ack,) = acks.x12_acks(x12(sets=2))
    assert (ack.kind, ack.interchange_ref, ack.group_ref, ack.result) == ("997", "000000321", "77", "accepted")
    out = acks.write_acks([ack], "5", our_id="MESHUB", their_id="SUP001", prepared=WHEN)
    inter = parse_x12(out)
    (txn,) = inter.transactions()
    assert inter.errors == [] and (inter.sender, inter.receiver) == ("MESHUB", "SUP001")
    assert inter.groups[0].functional_id == "FA" and txn.set_id == "997"
    tags = [(s.tag, [e[0] for e in s.elements]) for s in txn.segments[1:-1]]
    assert tags == [("AK1", ["SH", "77"]), ("AK2", ["856", "0001"]), ("AK5", ["A"]), ("AK2", ["856", "0002"]),
                    ("AK5", ["A"]), ("AK9", ["A", "2", "2", "2"])]


def test_997_rejects_a_set_with_a_wrong_se_count_and_the_group_count_with_ak9_5():
    data = x12(sets=2).replace(b"SE*4*0002", b"SE*9*0002").replace(b"GE*2*77", b"GE*3*77")
    (ack,) = acks.x12_acks(data, "in.x12")
    out = acks.write_acks([ack], "6", prepared=WHEN)
    (txn,) = parse_x12(out).transactions()
    segs = {(s.tag, s.index): [e[0] for e in s.elements] for s in txn.segments}
    ak5 = [v for (tag, _), v in segs.items() if tag == "AK5"]
    ak9 = next(v for (tag, _), v in segs.items() if tag == "AK9")
    # the group's own trailer is wrong (716 code 5), so every set in it is rejected with it
    assert ak5 == [["R"], ["R", "4"]]
    assert ak9 == ["R", "3", "2", "0", "5"]
    assert ack.messages[1].errors[0].hub_code == "SE_COUNT_MISMATCH"


def test_997_partial_acceptance_and_999_uses_ik5_with_the_implementation_ref():
    data = x12(sets=2).replace(b"SE*4*0002", b"SE*4*0003")
    (ack,) = acks.x12_acks(data, kind="997")
    assert ack.result == "partially_accepted"
    (back,) = acks.read_acks(acks.write_acks([ack], "7", prepared=WHEN))
    assert back.result == "partially_accepted" and [m.status for m in back.messages] == ["accepted", "rejected"]
    assert back.messages[1].errors[0].code == "3"
    (ack999,) = acks.x12_acks(data, kind="999")
    out = acks.write_acks([ack999], "8", prepared=WHEN)
    assert acks.is_ack_file(out) == "999"
    (txn,) = parse_x12(out).transactions()
    assert txn.segments[0].get(2) == "005010X231A1" and [s.get(0) for s in txn.segments if s.tag == "IK5"] == ["A", "R"]
    (back,) = acks.read_acks(out)
    assert back.kind == "999" and back.group_ref == "77" and back.result == "partially_accepted"


def test_interchange_envelope_error_becomes_a_ta1_and_rejects():
    data = x12().replace(b"IEA*1*", b"IEA*2*")
    (ack,) = acks.x12_acks(data)
    assert [e.code for e in ack.interchange_errors] == ["021"] and ack.result == "rejected"
    out = acks.write_acks([ack], "9", prepared=WHEN)
    inter = parse_x12(out)
    inter.transactions()
    assert [s.get(3) for s in inter.ta1] == ["R"] and inter.errors == []
    (back,) = acks.read_acks(out)
    assert back.result == "rejected" and back.interchange_ref == "000000321"


def test_corpus_acks_are_read(tmp_path: Path):
    contrl = CORPUS / "edifact" / "CONTRL_v4_syntax-ack_bom-crlf.txt"
    ack997 = CORPUS / "x12" / "997_004010_accept-850.x12"
    if not (contrl.is_file() and ack997.is_file()):
        pytest.skip(f"EDI corpus not found at {CORPUS}")
    first, second = acks.read_acks(contrl.read_bytes())
    assert (first.interchange_ref, first.result, second.result) == ("131", "received", "received")
    (ack,) = acks.read_acks(ack997.read_bytes())
    assert (ack.kind, ack.functional_id, ack.group_ref, ack.result) == ("997", "PO", "214", "accepted")
    assert [(m.type, m.ref, m.status) for m in ack.messages] == [("850", "000000390", "accepted")]


def test_corpus_ge_count_mismatch_gets_ak9_code_5():
    sample = CORPUS / "x12" / "855_004010_manufacturer-to-retailer_bom_GE-count-mismatch.txt"
    if not sample.is_file():
        pytest.skip(f"EDI corpus not found at {CORPUS}")
    (ack,) = acks.x12_acks(sample.read_bytes())
    assert ack.result == "rejected" and [(e.code, e.hub_code) for e in ack.errors] == [("5", "GE_COUNT_MISMATCH")]
