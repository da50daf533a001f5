"""The X12 parser on our own interchanges: delimiters from the ISA, noise, envelopes, HL trees."""
from __future__ import annotations

import io

import pytest

from adapters.edi.x12 import hl_tree, parse_interchange, parse_interchanges
from hub.errors import SkippableError

ISA = ("ISA*00*          *00*          *ZZ*SUP001         *ZZ*MESHUB         *260302*0900*^*00401*"
       "000000031*0*P*>~")
BODY = [
    "GS*SH*SUP001*MESHUB*20260302*0900*31*X*004010~",
    "ST*856*0001~",
    "BSN*00*ASN-1*20260302*0900~",
    "HL*1**S~",
    "HL*2*1*O~",
    "PRF*PO-1~",
    "HL*3*2*P~",
    "MAN*GM*00340123450000001~",
    "HL*4*3*I~",
    "LIN*1*BP*M-1~",
    "SN1**5*EA~",
    "HL*5*2*I~",
    "LIN*2*BP*M-2>X~",
    "SN1**7*EA~",
    "CTT*2~",
    "SE*15*0001~",
    "GE*1*31~",
    "IEA*1*000000031~",
]


def build(isa=ISA, body=BODY, sep="\n", elem="*", term="~", comp=">") -> bytes:
    lines = [isa] + body
    text = sep.join(lines) + sep
    return text.replace("*", "\x00").replace("~", "\x01").replace(">", "\x02").replace(
        "\x00", elem).replace("\x01", term).replace("\x02", comp).encode()


def read(data: bytes, **kw):
    inter = parse_interchange(data, "f.x12", **kw)
    txns = inter.transactions()
    return inter, txns


def test_reads_envelope_and_transaction():
    inter, txns = read(build())
    assert (inter.sender_qualifier, inter.sender, inter.receiver, inter.control_ref) == ("ZZ", "SUP001", "MESHUB", "000000031")
    assert (inter.version, inter.usage, inter.delimiters.repetition) == ("00401", "P", None)  # 00401: ISA11 is not a separator
    assert [(g.functional_id, g.control, g.version, g.transaction_count) for g in inter.groups] == [("SH", "31", "004010", 1)]
    (t,) = txns
    assert (t.set_id, t.control, t.version, len(t.segments), t.errors) == ("856", "0001", "004010", 15, [])
    assert t.segments[11].elements[2] == ["M-2", "X"]  # component separator from ISA16
    assert t.segments[0].index == 3 and t.segments[0].line == 3
    assert inter.errors == []


@pytest.mark.parametrize("elem,term,comp,sep", [
    ("*", "~", ">", "\r\n"), ("~", "}", ">", "\r\n  "), ("*", "|", "~", "\n"), ("*", "\n", ">", ""),
    ("*", "~", ">", ""),
])
def test_delimiters_come_from_the_isa(elem, term, comp, sep):
    data = build(elem=elem, term=term, comp=comp, sep=sep)
    _, (t,) = read(b"\xef\xbb\xbf  \r\n" + data, chunk_size=7)  # BOM, indentation, tiny chunks
    assert [s.tag for s in t.segments][:4] == ["ST", "BSN", "HL", "HL"]
    assert t.segments[11].elements[2] == ["M-2", "X"] and t.errors == []


def test_newline_terminator_with_crlf_and_blank_lines():
    data = build(term="\n", sep="").replace(b"\n", b"\r\n").replace(b"ST*856", b"\r\nST*856")
    inter, (t,) = read(data)
    assert inter.delimiters.terminator == "\r" and t.errors == [] and inter.errors == []
    assert t.segments[0].line == 4  # the blank line counts


def test_hard_wrapped_lines_are_joined():
    text = build(sep="\n").decode()
    wrapped = "\n".join(text[i:i + 80] for i in range(0, len(text), 80))
    inter, (t,) = read(wrapped.encode(), chunk_size=16)
    assert t.errors == [] and inter.errors == []
    assert t.segments[8].elements == [["1"], ["BP"], ["M-1"]]


def test_repetition_separator_from_version_00402():
    isa = ISA.replace("*^*00401*", "*^*00403*")
    inter, _ = read(build(isa=isa))
    assert inter.delimiters.repetition == "^"
    assert inter.delimiters.repetitions("A^B") == ["A", "B"]


@pytest.mark.parametrize("change,code,where", [
    (("SE*15*0001~", "SE*14*0001~"), "SE_COUNT_MISMATCH", "segment 17 (SE, line 17)"),
    (("SE*15*0001~", "SE*15*0002~"), "SE_REF_MISMATCH", "segment 17 (SE, line 17)"),
    (("GE*1*31~", "GE*2*31~"), "GE_COUNT_MISMATCH", "segment 18 (GE, line 18)"),
    (("GE*1*31~", "GE*1*32~"), "GE_REF_MISMATCH", "segment 18 (GE, line 18)"),
    (("IEA*1*000000031~", "IEA*2*000000031~"), "IEA_COUNT_MISMATCH", "segment 19 (IEA, line 19)"),
    (("IEA*1*000000031~", "IEA*1*000000032~"), "IEA_REF_MISMATCH", "segment 19 (IEA, line 19)"),
    (("SE*15*0001~", "XX*1~"), "MISSING_SE", "segment 18 (GE, line 18)"),
])
def test_envelope_checks(change, code, where):
    body = [change[1] if s == change[0] else s for s in BODY]
    inter, txns = read(build(body=body))
    assert [e.code for e in inter.errors] == [code]
    assert inter.errors[0].where == f"f.x12:{where}"
    if code.startswith(("SE_", "MISSING_SE")):
        assert [e.code for e in txns[0].errors] == [code]  # the set is yielded, marked
    if code.startswith("GE_"):
        assert [e.code for e in inter.groups[0].errors] == [code]


def test_missing_iea_names_the_last_segment():
    inter, txns = read(build(body=BODY[:-1]))
    assert [(e.code, e.where) for e in inter.errors] == [("MISSING_IEA", "f.x12:segment 18 (GE, line 18)")]
    assert len(txns) == 1


def test_truncated_file_reports_unterminated_segment_and_missing_se():
    data = build(sep="\n")
    cut = data[: data.index(b"CTT") + 5]
    inter, (t,) = read(cut)
    assert [e.code for e in inter.errors] == ["SYNTAX_ERROR", "MISSING_SE", "MISSING_IEA"]
    assert {e.code for e in t.errors} == {"SYNTAX_ERROR", "MISSING_SE"}


@pytest.mark.parametrize("data,code", [
    (b"", "MISSING_ISA"), (b"\xef\xbb\xbf\r\n", "MISSING_ISA"), (b"GS*SH*X~", "MISSING_ISA"),
    (build(isa=ISA.replace("SUP001         ", "SUP001")), "ISA_INVALID"),
    (build(isa=ISA.replace("*>~", "*A~")), "ISA_INVALID"),
    (build(isa=ISA)[:60], "ISA_INVALID"),
])
def test_header_errors_are_raised(data, code):
    with pytest.raises(SkippableError) as exc:
        parse_interchange(data, "f.x12")
    assert exc.value.code == code and exc.value.where.startswith("f.x12:")


def test_runaway_segment_is_a_syntax_error():
    # no terminator after CTT: memory must stay bounded, so the parser gives up
    data = build(sep="\n")
    data = data[: data.index(b"CTT")] + b"CTT*2" + b"x" * 5000
    with pytest.raises(SkippableError) as exc:
        parse_interchange(data, "f.x12", chunk_size=100, max_segment_bytes=1000).transactions()
    assert exc.value.code == "SYNTAX_ERROR"


def test_several_interchanges_even_with_other_delimiters():
    first = build(sep="\n")
    second = build(elem="~", term="}", comp=">", sep="\r\n")
    got = []
    for inter in parse_interchanges(io.BytesIO(first + second), "f.x12", chunk_size=50):
        got.append((inter.delimiters.element, [t.set_id for t in inter.iter_transactions()], inter.errors))
    assert got == [("*", ["856"], []), ("~", ["856"], [])]
    extra = parse_interchange(first + second, "f.x12")
    extra.transactions()
    assert [e.code for e in extra.errors] == ["EXTRA_INTERCHANGE"]


def test_hl_tree_nests_levels_and_rejects_unknown_parents():
    _, (t,) = read(build())
    (ship,) = hl_tree(t.segments)
    assert ship.level_code == "S" and [c.level_code for c in ship.children] == ["O"]
    order = ship.children[0]
    assert [(c.level_code, c.id) for c in order.children] == [("P", "3"), ("I", "5")]
    item = order.children[0].children[0]
    assert [s.tag for s in item.segments] == ["HL", "LIN", "SN1"]  # CTT/SE are not the item's
    assert [a.level_code for a in item.ancestors()] == ["P", "O", "S"]
    body = [s.replace("HL*5*2*I", "HL*5*9*I") for s in BODY]
    _, (bad,) = read(build(body=body))
    with pytest.raises(SkippableError) as exc:
        hl_tree(bad.segments, "f.x12")
    assert exc.value.code == "HL_INVALID" and exc.value.where == "f.x12:segment 13 (HL, line 13)"
