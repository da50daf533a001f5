"""Parser tests on small inline interchanges, one quirk each (the real-world files are in
test_corpus.py). Expected values are written out by hand, not produced by the parser."""
from __future__ import annotations

import io
import random
import tracemalloc

import pytest

from adapters.edi.edifact import (
    Delimiters,
    detect_format,
    parse_interchange,
    parse_interchanges,
)
from hub.errors import SkippableError

ORDER = (
    b"UNB+UNOC:3+SENDER:14+RECEIVER:14+240101:1200+REF1'"
    b"UNH+1+ORDERS:D:96A:UN:EAN008'"
    b"BGM+220+PO1+9'"
    b"LIN+1++MAT-1:IN'"
    b"QTY+21:5:PCE'"
    b"UNT+5+1'"
    b"UNZ+1+REF1'"
)


def codes(inter):
    return [e.code for e in inter.errors]


def parse_all(data, **kw):
    inter = parse_interchange(data, "t.edi", **kw)
    return inter, list(inter.iter_messages())


def test_minimal_interchange_header_and_message():
    inter, msgs = parse_all(ORDER)
    assert (inter.syntax, inter.syntax_version) == ("UNOC", "3")
    assert (inter.sender, inter.recipient, inter.control_ref) == ("SENDER", "RECEIVER", "REF1")
    assert inter.prepared == ("240101", "1200")
    assert inter.delimiters == Delimiters()
    assert len(msgs) == 1
    m = msgs[0]
    assert (m.type, m.version, m.release, m.agency, m.assoc_code, m.ref) == (
        "ORDERS", "D", "96A", "UN", "EAN008", "1")
    assert [s.tag for s in m.segments] == ["UNH", "BGM", "LIN", "QTY", "UNT"]
    assert m.segments[2].elements == [["1"], [""], ["MAT-1", "IN"]]
    assert [s.index for s in m.segments] == [2, 3, 4, 5, 6]
    assert m.ok and inter.errors == [] and inter.warnings == []


def test_una_with_bang_release_and_release_before_terminator():
    data = (b"UNA:+.!*'\nUNB+UNOB:3+A+B+240101:1200+7'\nUNH+1+ORDERS:D:97A:UN'\n"
            b"FTX+ZZZ+++I!'ve a!:dream!+ok!!'\nUNT+3+1'\nUNZ+1+7'\n")
    inter, msgs = parse_all(data)
    assert inter.delimiters.release == "!"
    ftx = msgs[0].segments[1]
    # !' -> ', !: -> :, !+ -> +, !! -> ! ; the unescaped ' after !! ends the segment
    assert ftx.elements == [["ZZZ"], [""], [""], ["I've a:dream+ok!"]]
    assert ftx.line == 4
    assert inter.errors == []


def test_question_mark_release_of_every_delimiter():
    data = (b"UNB+UNOC:3+A+B+240101:1200+7'UNH+1+X:D:96A:UN'"
            b"FTX+a?+b?:c???'d+e'UNT+3+1'UNZ+1+7'")
    _, msgs = parse_all(data)
    assert msgs[0].segments[1].elements == [["a+b:c?'d"], ["e"]]


def test_custom_una_delimiters():
    data = b"UNA=*.? ~UNB*UNOA=3*S*R*240101=1200*9~UNH*1*INVOIC=D=97B=UN~BGM*380*1?*2~UNT*3*1~UNZ*1*9~"
    inter, msgs = parse_all(data)
    assert inter.delimiters.element == "*" and inter.delimiters.terminator == "~"
    assert msgs[0].segments[1].elements == [["380"], ["1*2"]]
    assert inter.errors == []


def test_crlf_and_lf_noise_and_line_numbers():
    data = ORDER.replace(b"'", b"'\r\n")
    data = data.replace(b"BGM+220+PO1+9'\r\n", b"BGM+220+PO1+9'\n\n")  # a blank LF line
    inter, msgs = parse_all(data)
    # UNB 1, UNH 2, BGM 3, (blank 4), LIN 5, QTY 6, UNT 7
    assert [s.line for s in msgs[0].segments] == [2, 3, 5, 6, 7]
    assert inter.errors == []


def test_80_column_wrapped_file():
    flat = ORDER.replace(b"BGM+220+PO1+9'", b"BGM+220+PO1+9'FTX+AAI+++wrap?'ped?+text'")
    flat = flat.replace(b"UNT+5+1'", b"UNT+6+1'")
    # wrap every 20 bytes, mid-segment and mid-element, as mailbox/VAN software does
    wrapped = b"\r\n".join(flat[i:i + 20] for i in range(0, len(flat), 20))
    inter, msgs = parse_all(wrapped)
    seg = {s.tag: s for s in msgs[0].segments}
    assert seg["FTX"].elements[3] == ["wrap'ped+text"]
    assert seg["QTY"].elements == [["21", "5", "PCE"]]
    assert inter.errors == []


def test_release_split_from_terminator_by_a_wrap():
    # a wrap exactly between ? and ' must not turn the escaped ' into a terminator
    data = ORDER.replace(b"BGM+220+PO1+9'", b"BGM+220+PO1?\n'X+9'")
    inter, msgs = parse_all(data)
    assert msgs[0].segments[1].elements == [["220"], ["PO1'X"], ["9"]]
    assert inter.errors == []


def test_bom_is_skipped():
    inter, msgs = parse_all(b"\xef\xbb\xbf" + ORDER)
    assert inter.sender == "SENDER" and len(msgs) == 1 and inter.errors == []


def test_missing_unz_yields_messages_then_names_last_segment():
    data = ORDER.replace(b"'", b"'\n").replace(b"UNZ+1+REF1'\n", b"")
    inter = parse_interchange(data, "trunc.edi")
    msgs = list(inter.iter_messages())
    assert len(msgs) == 1 and msgs[0].ok
    assert codes(inter) == ["MISSING_UNZ"]
    err = inter.errors[0]
    assert isinstance(err, SkippableError)
    assert err.where == "trunc.edi:segment 6 (UNT, line 6)"


def test_truncated_mid_message_marks_message_and_interchange():
    data = ORDER.split(b"QTY")[0] + b"QTY+21:"  # cut inside a segment
    inter, msgs = parse_all(data)
    assert len(msgs) == 1
    assert [e.code for e in msgs[0].errors] == ["MISSING_UNT"]
    assert codes(inter) == ["SYNTAX_ERROR", "MISSING_UNT", "MISSING_UNZ"]
    assert inter.errors[-1].where == "t.edi:segment 4 (LIN, line 1)"


def test_unt_count_mismatch_names_unt_and_message_is_kept():
    data = ORDER.replace(b"'", b"'\n").replace(b"UNT+5+1'", b"UNT+4+1'")
    inter, msgs = parse_all(data)
    assert len(msgs) == 1
    assert msgs[0].error is not None and msgs[0].error.code == "UNT_COUNT_MISMATCH"
    assert inter.errors[0].where == "t.edi:segment 6 (UNT, line 6)"
    assert codes(inter) == ["UNT_COUNT_MISMATCH"]


def test_unt_ref_mismatch():
    inter, msgs = parse_all(ORDER.replace(b"UNT+5+1'", b"UNT+5+2'"))
    assert [e.code for e in msgs[0].errors] == ["UNT_REF_MISMATCH"]


def test_missing_unt_when_next_unh_starts():
    data = ORDER.replace(b"UNT+5+1'", b"UNH+2+ORDERS:D:96A:UN'BGM+220+PO2+9'UNT+3+2'").replace(
        b"UNZ+1+", b"UNZ+2+")
    inter, msgs = parse_all(data)
    assert [m.ref for m in msgs] == ["1", "2"]
    assert [e.code for e in msgs[0].errors] == ["MISSING_UNT"]
    assert msgs[1].ok
    assert codes(inter) == ["MISSING_UNT"]


def test_unz_count_and_ref_mismatch():
    inter, _ = parse_all(ORDER.replace(b"UNZ+1+REF1'", b"UNZ+2+REF9'"))
    assert codes(inter) == ["UNZ_COUNT_MISMATCH", "UNZ_REF_MISMATCH"]
    assert inter.errors[0].where == "t.edi:segment 7 (UNZ, line 1)"


def test_groups_une_count_and_unz_counts_groups():
    body = b"UNH+1+ORDERS:D:96A:UN'BGM+220+P+9'UNT+3+1'"
    data = (b"UNB+UNOA:3+A+B+240101:1200+9'UNG+ORDERS+A+B+240101:1200+G1+UN+D:96A'" + body +
            b"UNE+2+G1'UNZ+1+9'")
    inter, msgs = parse_all(data)
    assert msgs[0].group_ref == "G1"
    assert codes(inter) == ["UNE_COUNT_MISMATCH"]
    good = data.replace(b"UNE+2+G1'", b"UNE+1+G1'")
    inter, _ = parse_all(good)
    assert inter.errors == []


def test_unoc_with_utf8_bytes_lenient_and_strict():
    data = ORDER.replace(b"BGM+220+PO1+9'", "NAD+BY+1::9++Straße'".encode("utf-8")).replace(
        b"UNT+5+1'", b"UNT+5+1'")
    inter, msgs = parse_all(data)
    assert msgs[0].segments[1].elements[3] == ["Straße"]
    assert len(inter.warnings) == 1 and "UTF-8" in inter.warnings[0]
    strict = parse_interchange(data, "t.edi", charset_policy="strict")
    with pytest.raises(SkippableError) as exc:
        list(strict.iter_messages())
    assert exc.value.code == "CHARSET_MISMATCH"
    assert exc.value.where == "t.edi:segment 3 (NAD, line 1)"


def test_unoc_real_latin1_is_not_a_warning_and_mixed_segments_decode_each():
    data = ORDER.replace(b"BGM+220+PO1+9'", "NAD+BY+Straße'".encode("utf-8")).replace(
        b"LIN+1++MAT-1:IN'", "NAD+DP+Gießen'".encode("latin-1"))
    inter, msgs = parse_all(data)
    assert [s.get(1) for s in msgs[0].segments[1:3]] == ["Straße", "Gießen"]
    assert len(inter.warnings) == 1  # only the UTF-8 one


def test_unoa_with_non_utf8_bytes_lenient_falls_back_to_latin1():
    data = ORDER.replace(b"UNOC", b"UNOA").replace(b"PO1", b"PO\xe91")
    inter, msgs = parse_all(data)
    assert msgs[0].segments[1].get(1) == "POé1"
    assert "latin-1" in inter.warnings[0]


def test_syntax4_default_repetition_separator():
    inter, _ = parse_all(ORDER.replace(b"UNOC:3", b"UNOC:4"))
    assert inter.delimiters.repetition == "*" and inter.syntax_version == "4"
    inter, _ = parse_all(b"UNA:+.? '" + ORDER)  # syntax 3: UNA position 5 is reserved
    assert inter.delimiters.repetition is None


def test_several_interchanges_in_one_file():
    second = ORDER.replace(b"REF1", b"REF2")
    got = [(i.control_ref, len(list(i.iter_messages())), codes(i))
           for i in parse_interchanges(ORDER + b"\n" + b"UNA:+.? '" + second, "t.edi")]
    assert got == [("REF1", 1, []), ("REF2", 1, [])]
    single = parse_interchange(ORDER + second, "t.edi")
    list(single.iter_messages())
    assert codes(single) == ["EXTRA_INTERCHANGE"]


def test_new_unb_without_unz_is_missing_unz_and_next_interchange_is_read():
    first = ORDER.replace(b"UNZ+1+REF1'", b"")
    got = [(i.control_ref, len(list(i.iter_messages())), codes(i))
           for i in parse_interchanges(first + ORDER.replace(b"REF1", b"REF2"), "t.edi")]
    assert got == [("REF1", 1, ["MISSING_UNZ"]), ("REF2", 1, [])]


def test_segment_outside_message_is_reported():
    inter, _ = parse_all(ORDER.replace(b"UNZ", b"FTX+X'UNZ"))
    assert codes(inter) == ["SYNTAX_ERROR"]


def test_iter_messages_streams_once():
    inter = parse_interchange(ORDER)
    list(inter.iter_messages())
    with pytest.raises(RuntimeError):
        list(inter.iter_messages())


@pytest.mark.parametrize("data, code", [
    (b"", "MISSING_UNB"),
    (b"\xef\xbb\xbf\r\n  ", "MISSING_UNB"),
    (b"UNA", "SYNTAX_ERROR"),
    (b"UNA:+.? '", "MISSING_UNB"),
    (b"UNH+1+ORDERS:D:96A:UN'UNT+2+1'", "MISSING_UNB"),
    (b"<?xml version='1.0'?><a/>", "SYNTAX_ERROR"),
    (b"ISA*00*          *00*", "SYNTAX_ERROR"),
    (b"UNB+UNOC:3+A+B+240101:1200+1", "SYNTAX_ERROR"),
])
def test_hostile_headers(data, code):
    with pytest.raises(SkippableError) as exc:
        parse_interchange(data, "bad.edi")
    assert exc.value.code == code
    assert exc.value.where.startswith("bad.edi:")


def test_random_bytes_fail_with_a_code_not_a_crash():
    rnd = random.Random(9735)
    for _ in range(200):
        data = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 300)))
        try:
            inter = parse_interchange(data, "r.edi")
            list(inter.iter_messages())
        except SkippableError as exc:
            assert exc.code in {"MISSING_UNB", "SYNTAX_ERROR"}


def test_random_bytes_after_a_valid_unb_end_in_codes():
    rnd = random.Random(14)
    for _ in range(100):
        tail = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 400)))
        inter = parse_interchange(ORDER[:ORDER.index(b"UNH")] + tail, "r.edi")
        try:
            list(inter.iter_messages())
        except SkippableError as exc:  # strict is off, so no charset error may escape
            pytest.fail(f"lenient parse raised {exc}")
        assert "MISSING_UNZ" in codes(inter) or inter.unz is not None


class _Endless(io.RawIOBase):
    """A stream that never sends a terminator: the parser must give up, not buffer forever."""

    def readable(self):
        return True

    def readinto(self, b):
        b[:] = b"A" * len(b)
        return len(b)


def test_segment_without_terminator_is_bounded():
    stream = io.BufferedReader(_Endless())
    head = b"UNB+UNOC:3+A+B+240101:1200+1'UNH+1+X:D:96A:UN'FTX+"

    class Chained(io.RawIOBase):
        sent = False

        def readable(self):
            return True

        def readinto(self, b):
            if not self.sent:
                self.sent = True
                b[:len(head)] = head
                return len(head)
            return stream.readinto(b)

    inter = parse_interchange(io.BufferedReader(Chained()), "x.edi")
    with pytest.raises(SkippableError) as exc:
        list(inter.iter_messages())
    assert exc.value.code == "SYNTAX_ERROR"
    assert exc.value.where == "x.edi:line 1"


def test_detect_format():
    assert detect_format(b"\xef\xbb\xbf\r\nUNA:+.? 'UNB") == "edifact"
    assert detect_format(b"UNB+UNOC:3") == "edifact"
    assert detect_format(b"  ISA*00*") == "x12"
    assert detect_format(b"<xml") is None
    assert detect_format(b"") is None


def test_small_chunks_give_the_same_result_as_one_read():
    data = (b"UNA:+.? '\r\n" + ORDER.replace(b"'", b"'\r\n").replace(b"PO1", b"P?'O?+1")
            .replace(b"UNT+5", b"UNT+5"))
    whole = [(s.tag, s.elements, s.line, s.index) for m in parse_interchange(data).iter_messages()
             for s in m.segments]
    for chunk in (1, 2, 3, 7):
        inter = parse_interchange(io.BytesIO(data), chunk_size=chunk)
        got = [(s.tag, s.elements, s.line, s.index) for m in inter.iter_messages() for s in m.segments]
        assert got == whole, chunk
        assert inter.errors == []
    assert whole[1][1] == [["220"], ["P'O+1"], ["9"]]


# -- streaming memory ---------------------------------------------------------------------
# long FTX texts keep the segment count (and so the test's run time under tracemalloc) modest
# while the byte volume, which is what memory has to stay independent of, is the full 20 MB
MESSAGE = (b"UNH+%d+ORDERS:D:96A:UN:EAN008'\r\nBGM+220+PO%d+9'\r\nDTM+137:20240101:102'\r\n"
           b"NAD+BY+4012345000009::9'\r\nNAD+SU+4098765000002::9'\r\n" +
           (b"LIN+1++MAT-000123:IN'\r\nQTY+21:10:PCE'\r\nFTX+AAI+++" +
            b":".join([b"Lorem ipsum ?+ dolor sit amet " * 8] * 5) + b"'\r\n") * 10 + b"UNS+S'\r\nCNT+2:10'\r\nUNT+38+%d'\r\n")


class GeneratedInterchange(io.RawIOBase):
    """Produces an interchange of about ``size`` bytes on the fly, never holding it whole."""

    def __init__(self, size):
        self.size = size
        self.produced = 0
        self.count = 0
        self.pending = b"UNB+UNOC:3+SENDER:14+RECEIVER:14+240101:1200+BIG'\r\n"
        self.done = False

    def readable(self):
        return True

    def readinto(self, b):
        while not self.pending and not self.done:
            if self.produced >= self.size:
                self.pending = b"UNZ+%d+BIG'\r\n" % self.count
                self.done = True
            else:
                self.count += 1
                self.pending = MESSAGE % (self.count, self.count, self.count)
        n = min(len(b), len(self.pending))
        b[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        self.produced += n
        return n


def test_20mb_stream_parses_in_bounded_memory():
    size = 20 * 1024 * 1024
    source = GeneratedInterchange(size)
    tracemalloc.start()
    try:
        inter = parse_interchange(io.BufferedReader(source, 64 * 1024), "big.edi")
        n = segments = 0
        for msg in inter.iter_messages():
            assert msg.ok
            n += 1
            segments += len(msg.segments)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert source.produced >= size
    assert n == source.count and segments == 38 * n
    assert inter.errors == []
    # a whole-file parser needs several times the 20 MB input; we hold a chunk and a message
    print(f"peak {peak / 1e6:.2f} MB for {source.produced / 1e6:.0f} MB in")
    assert peak < 5 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


def test_private_use_characters_in_data_are_not_taken_for_delimiters():
    # the fast path swaps released delimiters for U+E000/U+E001; real data holding those
    # characters must still come out unchanged
    data = ORDER.replace(b"UNOC", b"UNOW").replace(
        b"PO1", "a\ue000b?+c\ue001d".encode("utf-8"))
    _, msgs = parse_all(data)
    assert msgs[0].segments[1].elements[1] == ["a\ue000b+c\ue001d"]


# -- syntax 4 repetition separator ----------------------------------------------------------
def test_syntax4_repeated_elements_first_in_elements_all_in_repetitions():
    from adapters.edi.edifact import EdifactSegment, repetitions

    data = ORDER.replace(b"UNOC:3", b"UNOC:4").replace(
        b"BGM+220+PO1+9'", b"FTX+AAI+A1:A2*B1*C1:C2+x?*y+z'")
    inter, msgs = parse_all(data)
    ftx = msgs[0].segments[1]
    assert isinstance(ftx, EdifactSegment)
    assert ftx.elements == [["AAI"], ["A1", "A2"], ["x*y"], ["z"]]  # ?* is a literal *
    assert ftx.repetitions == {1: [["A1", "A2"], ["B1"], ["C1", "C2"]]}
    assert repetitions(ftx, 1) == [["A1", "A2"], ["B1"], ["C1", "C2"]]
    assert repetitions(ftx, 2) == [["x*y"]] and repetitions(ftx, 9) == []
    assert inter.errors == []


def test_una_repetition_separator_only_counts_in_syntax4():
    s4 = b"UNA:+.?#'" + ORDER.replace(b"UNOC:3", b"UNOC:4").replace(b"PO1", b"P1#P2")
    _, msgs = parse_all(s4)
    assert msgs[0].segments[1].elements[1] == ["P1"]
    assert msgs[0].segments[1].repetitions == {1: [["P1"], ["P2"]]}
    s3 = b"UNA:+.?#'" + ORDER.replace(b"PO1", b"P1#P2")
    _, msgs = parse_all(s3)
    assert msgs[0].segments[1].elements[1] == ["P1#P2"]  # reserved in syntax 3: plain data


def test_syntax4_repetition_with_the_careful_path_and_small_chunks():
    data = (ORDER.replace(b"UNOC:3", b"UNOC:4").replace(b"PO1", b"P?'1*P2")
            .replace(b"'", b"'\r\n").replace(b"?'\r\n", b"?'"))
    got = [(s.tag, s.elements, getattr(s, "repetitions", None))
           for m in parse_interchange(io.BytesIO(data), chunk_size=3).iter_messages() for s in m.segments]
    assert got[1] == ("BGM", [["220"], ["P'1"], ["9"]], {1: [["P'1"], ["P2"]]})
