"""The C accelerator (adapters/edi/_speedups.pyx) reads every input exactly like the
pure-Python codec it speeds up.

Each input goes through both paths (``segments.use_speedups(False/True)``) and everything a
caller can see is compared: segments (type, tag, elements, repetitions, line, index), message
and transaction errors, interchange errors and warnings, and a raised error's code, message
and where, with what was read before it. Inputs: hypothesis-generated hostile interchanges
written byte by byte (release characters before anything, delimiters in text, repetition
separators, CR/LF/blank noise, non-ASCII bytes, empty segments, bad tags), random mutations of
valid files, and chunk sizes from 1 byte to 64 KiB so that batches start and end
anywhere. Also: ``region_shape`` against the Python ``_region_shape`` it replaces, ``batch_end`` against the Python marker search, the accelerator's Segment layout
check, and the HUB_EDI_PURE_PYTHON switch. Every file of the shared corpus is compared too.

Skipped where the accelerator is not built (``make setup`` builds it) or switched off, except
under CI (the ``CI`` environment variable), which must test what it ships: there they fail.
"""
from __future__ import annotations

import gc
import io
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.edi import edifact, segments, x12
from hub.errors import HubError

ROOT = Path(__file__).resolve().parents[3]


def _compiled_available() -> bool:
    previous = segments.use_speedups(True)
    try:
        return segments.speedups() is not None
    finally:
        segments.use_speedups(previous)


pytestmark = pytest.mark.skipif(
    not _compiled_available() and not os.environ.get("CI"), reason="adapters/edi/_speedups is not built (make setup) or HUB_EDI_PURE_PYTHON is set")

SETTINGS = settings(max_examples=150, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
MUTATION_SETTINGS = settings(max_examples=300, deadline=None, database=None,
                             suppress_health_check=[HealthCheck.too_slow])
CHUNKS = st.sampled_from([1, 7, 64, 4096, 65536])
EDITS = st.lists(st.tuples(st.floats(0, 1), st.sampled_from(["flip", "insert", "delete", "dup"]),
                           st.binary(min_size=1, max_size=4)), min_size=1, max_size=6)
PLAIN = ["A", "B", "1", "9", " ", "-"] * 4


# --------------------------------------------------------------------------- running both paths
def _seg(s: Any) -> tuple:
    return (type(s).__name__, s.tag, s.elements, s.line, s.index, getattr(s, "repetitions", None))


def _errors(errors: list) -> list[str]:
    return [f"{type(e).__name__} {e.as_line()}" for e in errors]


def read_edifact(data: bytes, chunk: int, policy: str, out: list) -> None:
    for inter in edifact.parse_interchanges(io.BytesIO(data), "f.edi", policy, chunk_size=chunk):
        out.append(("UNB", inter.delimiters, _seg(inter.unb)))
        for m in inter.iter_messages():
            out.append((m.type, m.version, m.ref, m.group_ref, [_seg(s) for s in m.segments], _errors(m.errors)))
        out.append(("UNZ", inter.unz and _seg(inter.unz), _errors(inter.errors), inter.warnings))


def read_x12(data: bytes, chunk: int, out: list) -> None:
    for inter in x12.parse_interchanges(io.BytesIO(data), "f.x12", chunk_size=chunk):
        out.append(("ISA", inter.delimiters, _seg(inter.isa)))
        for t in inter.iter_transactions():
            out.append((t.set_id, t.control, t.version, [_seg(s) for s in t.segments], _errors(t.errors)))
        out.append(("IEA", inter.iea and _seg(inter.iea), [_seg(s) for s in inter.ta1], _errors(inter.errors),
                    inter.warnings, [(g.control, g.transaction_count, _errors(g.errors)) for g in inter.groups]))


def outcome(read: Callable[[list], None], compiled: bool) -> tuple[list, Any]:
    """What ``read`` collected under one path, and the error it raised (if any)."""
    previous = segments.use_speedups(compiled)
    out: list = []
    try:
        assert (segments.speedups() is not None) == compiled
        read(out)
        return out, None
    except HubError as exc:  # the codec's own errors are an outcome like any other
        return out, (type(exc).__name__, exc.code, exc.message, exc.where)
    finally:
        segments.use_speedups(previous)


def assert_same(read: Callable[[list], None]) -> tuple[list, Any]:
    pure = outcome(read, compiled=False)
    fast = outcome(read, compiled=True)
    assert fast == pure
    return fast


# --------------------------------------------------------------------------- EDIFACT inputs
# (UNA or b"", element, component, release, repetition, terminator); syntax 4 for repetition
EDIFACT_DELIMITERS = [
    (b"UNA:+.? '", "+", ":", "?", None, "'"),
    (b"", "+", ":", "?", None, "'"),
    (b"UNA=*.! ~", "*", "=", "!", None, "~"),
    (b"UNA:+.?*'", "+", ":", "?", "*", "'"),
    (b"UNA:+. *'", "+", ":", None, "*", "'"),  # no release character
    (b"UNA:+.\t '", "+", ":", "\t", None, "'"),  # a blank as release: it is also noise
]
NOISE = [b"", b"\n", b"\r\n", b"\r", b" ", b"\n\n", b"\t"]


@st.composite
def hostile_edifact(draw):
    una, el, comp, rel, rep, term = draw(st.sampled_from(EDIFACT_DELIMITERS))
    version = "4" if rep else draw(st.sampled_from(["3", "4"]))
    syntax = draw(st.sampled_from(["UNOA", "UNOC", "UNOY", "UNOX"]))
    special = [c for c in (el, comp, rel, rep, term) if c]
    released = [rel + c for c in special + ["A"]] if rel else []
    # clean: what the batch path takes (release characters included, one segment per line);
    # else spiked with everything that sends a segment, or the whole batch, the careful way
    clean = draw(st.booleans())
    alphabet = st.sampled_from(PLAIN + [el, comp] + released + ["ä"] if clean else
                               PLAIN + special * 2 + ["\n", "\r", "\t", "ä", "漢", "\ufffd"])
    text = st.lists(alphabet, max_size=14).map("".join)
    tags = st.sampled_from(["NAD", "FTX", "LIN", "QTY", "UNS", "CNT", "nad", "", "UNH", "UNT", "UNZ", "UNE"])
    newline = draw(st.sampled_from([b"\n", b"\r\n", b""]))
    noise = [newline] if clean else NOISE

    def enc(s: str) -> bytes:
        return s.encode(draw(st.sampled_from(["utf-8", "latin-1"])), errors="replace")

    body = []
    for _ in range(draw(st.integers(0, 12))):
        content = draw(tags) + "".join(draw(st.sampled_from([el, comp])) + draw(text)
                                       for _ in range(draw(st.integers(0, 4))))
        body.append(enc(content) + term.encode() + (draw(st.sampled_from(noise)) if draw(st.booleans()) else newline))
    declared = draw(st.sampled_from([len(body) + 2, len(body) + 3]))

    def segment(*elements: str) -> bytes:
        return el.join(elements).encode() + term.encode() + newline

    parts = [una, newline,
             segment("UNB", f"{syntax}{comp}{version}", f"S{comp}14", f"R{comp}14", f"240101{comp}1200", "REF1"),
             segment("UNH", "1", comp.join(["DESADV", "D", "96A", "UN", "EAN005"])), *body,
             segment("UNT", str(declared), "1"), segment("UNZ", "1", "REF1")]
    if draw(st.booleans()):  # a second interchange, with the default delimiters
        parts.append(b"UNB+UNOC:3+S+R+240101:1200+REF2'\nUNH+2+X:D:96A:UN'\nFTX+A?'B'\nUNT+3+2'\nUNZ+1+REF2'\n")
    return b"".join(parts), draw(CHUNKS), draw(st.sampled_from(["lenient", "strict"]))


@SETTINGS
@given(hostile_edifact())
def test_edifact_hostile_interchanges_read_the_same(spec):
    data, chunk, policy = spec
    assert_same(lambda out: read_edifact(data, chunk, policy, out))


def _desadv(release_lines: bool = True) -> bytes:
    segs = ["UNH+1+DESADV:D:96A:UN:EAN005", "BGM+351+ASN1+9", "DTM+137:20240301:102",
            "NAD+SU+4098765000002::9++M?+S Teile?: GmbH??+Hauptstrasse 5" if release_lines else "NAD+SU+1::9",
            "CPS+1", "PAC+2++PX", "LIN+1++4000000000017:SRS", "QTY+12:120:PCE", "RFF+ON:PO1",
            "GIN+BX+LOT1", "CNT+2:1", "UNT+12+1"]
    return ("UNA:+.? '\nUNB+UNOC:3+4098765000002:14+4012345000009:14+240301:1200+B1'\n"
            + "".join(s + "'\n" for s in segs) + "UNZ+1+B1'\n").encode("latin-1")


BASES = [
    _desadv(),
    _desadv().replace(b"'\n", b"'\r\n"),
    _desadv().replace(b"'\n", b"'"),
    _desadv().replace(b"Teile", "Müller".encode("utf-8")),
    _desadv().replace(b"UNOC:3", b"UNOY:4").replace(b"PO1", b"PO1*PO2"),  # syntax 4: '*' repeats
]


@MUTATION_SETTINGS
@given(st.sampled_from(BASES), EDITS, CHUNKS, st.sampled_from(["lenient", "strict"]))
def test_edifact_mutations_read_the_same(base, edits, chunk, policy):
    data = _mutate(base, edits)
    assert_same(lambda out: read_edifact(data, chunk, policy, out))


def _mutate(base: bytes, edits: list) -> bytes:
    data = bytearray(base)
    for where, op, blob in edits:
        i = int(where * len(data)) if data else 0
        if op == "flip" and data:
            data[min(i, len(data) - 1)] ^= blob[0] or 1
        elif op == "insert":
            data[i:i] = blob
        elif op == "delete":
            del data[i:i + len(blob)]
        else:
            data[i:i] = data[i:i + 8 * len(blob)]
    return bytes(data)


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("chunk", [1, 5, 64, 65536])
def test_edifact_valid_files_read_the_same_and_right(base, chunk):
    out, error = assert_same(lambda out: read_edifact(base, chunk, "lenient", out))
    assert error is None
    (_, msg, (_, unz, errors, _)) = out[0], out[1], out[2]
    assert msg[5] == [] and errors == [] and unz is not None
    nad = next(s for s in msg[4] if s[1] == "NAD")
    if b"Teile" in base:
        # released +, : and ?; line and index as counted from UNA (line 1) and UNB (segment 1)
        assert nad[2][3] == ["M+S Teile: GmbH?"] and nad[3:5] == ((6 if b"\n" in base else 1), 5)


def test_released_segments_are_built_in_c_and_non_ascii_ones_in_python():
    calls: list[int] = []
    original = edifact.Interchange._special_segment

    class Spy(edifact.Interchange):
        def _special_segment(self, raw, line, index):
            calls.append(index)
            return original(self, raw, line, index)

    for data, expected in ((_desadv(), []), (BASES[3], [5])):
        calls.clear()
        previous = segments.use_speedups(True)
        try:
            inter = edifact.parse_interchange(data, "f.edi")
            inter.__class__ = Spy
            (msg,) = inter.iter_messages()
        finally:
            segments.use_speedups(previous)
        assert inter._speedups is not None and msg.ok and inter.errors == []
        assert calls == expected  # the NAD with release characters never left C; the UTF-8 one did
        assert msg.segments[3].tag == "NAD" and msg.segments[3].index == 5


# --------------------------------------------------------------------------- X12 inputs
ISA = ("ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *240301*1200*{rep}*{ver}*"
       "000000001*0*P*{comp}{term}")
X12_DELIMITERS = [("*", ">", "^", "~"), ("|", "^", "!", "\x85"), ("*", ":", "U", "'"), ("\t", ">", "^", "~")]


@st.composite
def hostile_x12(draw):
    el, comp, rep, term = draw(st.sampled_from(X12_DELIMITERS))
    version = "00401" if rep == "U" else draw(st.sampled_from(["00401", "00501"]))
    special = [el, comp, rep, term]
    clean = draw(st.booleans())  # as in hostile_edifact
    alphabet = st.sampled_from(PLAIN + [el, comp, rep] if clean else
                               PLAIN + special * 2 + ["\n", "\r", "\t", "ä", "ISA", "IEA"])
    text = st.lists(alphabet, max_size=12).map("".join)
    tags = st.sampled_from(["HL", "LIN", "SN1", "REF", "N1", "b@d", "", "ST", "SE", "GS", "GE", "TA1", "X", "ABCD"])
    newline = draw(st.sampled_from(["\n", "\r\n", ""]))
    noise = [newline] if clean else ["", "\n", "\r\n", " ", "\n\n"]
    body = []
    for _ in range(draw(st.integers(0, 12))):
        content = draw(tags) + "".join(el + draw(text) for _ in range(draw(st.integers(0, 4))))
        body.append(content + term + (draw(st.sampled_from(noise)) if draw(st.booleans()) else newline))
    declared = draw(st.sampled_from([len(body) + 2, len(body) + 3]))
    isa = ISA.format(rep=rep, ver=version, comp=comp, term=term).replace("*", el)
    text = (isa + newline + el.join(["GS", "SH", "S", "R", "20240301", "1200", "7", "X", "004010"]) + term + newline
            + el.join(["ST", "856", "0001"]) + term + newline + "".join(body)
            + el.join(["SE", str(declared), "0001"]) + term + newline + el.join(["GE", "1", "7"]) + term + newline
            + el.join(["IEA", "1", "000000001"]) + term + newline)
    if draw(st.booleans()):  # a second interchange with the default delimiters
        text += ISA.format(rep="^", ver="00501", comp=">", term="~") + "\nGS*SH*S*R*20240301*1200*8*X*005010~\n" \
                "ST*856*0002~\nBSN*00*X>Y~\nSE*3*0002~\nGE*1*8~\nIEA*1*000000001~\n"
    data = text.encode(draw(st.sampled_from(["utf-8", "latin-1"])), errors="replace")
    return data, draw(CHUNKS)


@SETTINGS
@given(hostile_x12())
def test_x12_hostile_interchanges_read_the_same(spec):
    data, chunk = spec
    assert_same(lambda out: read_x12(data, chunk, out))


def _x856() -> bytes:
    segs = ["GS*SH*S*R*20240301*1200*7*X*004010", "ST*856*0001", "BSN*00*ASN1*20240301*1200", "HL*1**S",
            "TD1*CTN25*20****G*410*LB", "N1*SU*M+S Teile GmbH*92*SUP01", "HL*2*1*O", "PRF*PO1***20240215",
            "HL*3*2*P", "MAN*GM*00000000000000000001", "HL*4*3*I", "LIN*1*BP*MAT-1*VP*V1*LT*LOT1",
            "SN1**12*EA", "DTM*036*20251231", "CTT*1", "SE*15*0001", "GE*1*7", "IEA*1*000000001"]
    return (ISA.format(rep="^", ver="00501", comp=">", term="~") + "\n" + "".join(s + "~\n" for s in segs)).encode()


X12_BASES = [_x856(), _x856().replace(b"~\n", b"~\r\n"), _x856().replace(b"~\n", b"~"),
             _x856().replace(b"Teile", "Müller".encode())]


@MUTATION_SETTINGS
@given(st.sampled_from(X12_BASES), EDITS, CHUNKS)
def test_x12_mutations_read_the_same(base, edits, chunk):
    data = _mutate(base, edits)
    assert_same(lambda out: read_x12(data, chunk, out))


@pytest.mark.parametrize("base", X12_BASES)
@pytest.mark.parametrize("chunk", [1, 7, 100, 65536])
def test_x12_valid_files_read_the_same_and_right(base, chunk):
    out, error = assert_same(lambda out: read_x12(base, chunk, out))
    assert error is None
    txn, iea = out[1], out[2]
    assert txn[4] == [] and iea[3] == [] and len(txn[3]) == 15
    line = 13 if b"\n" in base else 1
    assert txn[3][10][1:5] == ("LIN", [["1"], ["BP"], ["MAT-1"], ["VP"], ["V1"], ["LT"], ["LOT1"]], line, 13)


# --------------------------------------------------------------------------- the shared corpus
CORPUS = Path(os.environ.get("HUB_EDI_CORPUS", ROOT.parent / "shared" / "edi-samples"))
CORPUS_FILES = sorted(p for sub in ("edifact", "x12") for p in (CORPUS / sub).glob("*") if p.is_file())


@pytest.mark.skipif(not CORPUS_FILES, reason=f"EDI corpus not found at {CORPUS} (set HUB_EDI_CORPUS)")
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_every_corpus_file_reads_the_same(path):
    # real partners' quirks: custom UNA, release '!', wrapped lines, mixed CRLF/LF, BOM, mixed
    # UTF-8/latin-1, newline or brace terminators, '~' element separator, UNG groups
    data = path.read_bytes()
    for chunk in (1, 64, 65536):
        if path.parent.name == "edifact":
            for policy in ("lenient", "strict"):
                assert_same(lambda out: read_edifact(data, chunk, policy, out))
        else:
            assert_same(lambda out: read_x12(data, chunk, out))


# --------------------------------------------------------------------------- the pieces
SHAPE_BYTES = st.sampled_from([b"'", b"~", b"?", b"\t", b" ", b"\r", b"\n", b"\r\n", b"A", b"+", b":", b"\xe4"])


@settings(max_examples=400, deadline=None, database=None)
@given(st.lists(SHAPE_BYTES, max_size=24).map(b"".join),
       st.sampled_from([b"'", b"~", b"\t", b" "]), st.sampled_from([b"?", b"\t", None]))
def test_region_shape_is_the_python_check_in_one_pass(region, term, rel):
    speedups = segments.speedups()
    assert speedups is not None
    if rel != term:
        assert speedups.region_shape(region, term[0], rel[0] if rel else -1, False) == \
            edifact._region_shape(region, term, rel)
    assert speedups.region_shape(region, term[0], -1, True) == x12._region_shape(region, term)


MARKER_BYTES = st.sampled_from([b"'", b"~", b"UNZ", b"UNB", b"UNA", b"UN", b"IEA", b"ISA", b"IS", b"U", b"I",
                                 b"A", b"N", b"Z", b"E", b"S", b"+", b"\n"])


@settings(max_examples=600, deadline=None, database=None)
@given(st.lists(MARKER_BYTES, max_size=30).map(b"".join), st.integers(0, 40), st.sampled_from([b"'", b"~"]))
def test_batch_end_finds_what_the_python_marker_search_finds(buf, pos, term):
    speedups = segments.speedups()
    assert speedups is not None
    pos = min(pos, len(buf))
    assert speedups.batch_end(buf, pos, term[0], False) == edifact._batch_end(buf, pos, term)
    assert speedups.batch_end(buf, pos, term[0], True) == x12._batch_end(buf, pos, term)


def test_compiled_segments_are_real_segments_outside_the_cycle_collector():
    previous = segments.use_speedups(True)
    try:
        (msg,) = edifact.parse_interchange(_desadv(), "f.edi").iter_messages()
    finally:
        segments.use_speedups(previous)
    seg = msg.segments[7]
    assert type(seg) is segments.Segment and seg == segments.Segment("QTY", [["12", "120", "PCE"]], 10, 9)
    assert seg.get(0, 2) == "PCE" and repr(seg).startswith("Segment(tag='QTY'")
    with pytest.raises(AttributeError):
        seg.tag = "X"  # type: ignore[misc]  # still frozen
    # str/list-only trees cannot form cycles, so the accelerator leaves them untracked
    assert not gc.is_tracked(seg) and not gc.is_tracked(seg.elements) and not gc.is_tracked(seg.elements[0])
    del msg, seg
    gc.collect()


def test_layout_check_refuses_a_segment_type_it_cannot_build():
    @dataclass(frozen=True)
    class NotSlotted:
        tag: str
        elements: list = field(default_factory=list)
        line: int = 0
        index: int = 0

    speedups = segments.speedups()
    assert speedups is not None
    with pytest.raises(TypeError):
        speedups.use_segment_type(NotSlotted, segments.SEGMENT_FIELDS)
    with pytest.raises(TypeError):
        speedups.use_segment_type(segments.Segment, ("tag", "elements", "line", "nope"))
    # the registered type is unchanged: parsing still builds Segment
    previous = segments.use_speedups(True)
    try:
        (msg,) = edifact.parse_interchange(_desadv(), "f.edi").iter_messages()
    finally:
        segments.use_speedups(previous)
    assert type(msg.segments[1]) is segments.Segment


@pytest.mark.parametrize("value,expected", [("1", "None"), ("0", "module"), ("", "module")])
def test_pure_python_switch(value, expected):
    env = {**os.environ, segments.PURE_PYTHON_ENV: value}
    probe = "from adapters.edi import segments as s; m = s.speedups(); print('None' if m is None else 'module')"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == expected
