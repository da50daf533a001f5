"""Property tests (hypothesis) for the EDIFACT codec.

1. write(parse(x)) round trip: interchanges generated with hostile text (release characters,
   every delimiter inside free text, CR/LF, non-ASCII under UNOC/UNOW/UNOY) are written with
   EdifactWriter, parsed back, and every data string comes out unchanged; re-writing the
   parsed segments gives the same bytes.
2. Random byte mutations of valid files never raise anything but HubError subclasses and
   always finish (bounded example counts keep this to a few seconds; deadline off, because
   a shared 2-core machine must not turn a slow example into a failure: this is not a timing
   test).
3. The batch fast path and the careful one-segment-at-a-time path give identical segments.
"""
from __future__ import annotations

import datetime as dt
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.edi import edifact
from adapters.edi.edifact import Delimiters, parse_interchange, parse_interchanges
from adapters.edi.writer import EdifactWriter
from hub.errors import HubError

WHEN = dt.datetime(2024, 1, 2, 3, 4)
SETTINGS = settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# text that hurts: every default and custom delimiter, release chars, blanks; and for the
# wide charsets letters outside ASCII (latin-1 for UNOC, anything printable for UNOY/UNOW)
_HOSTILE = "?'+:*!~=|\\ \t-_.,AZaz09"
ascii_text = st.text(alphabet=_HOSTILE, max_size=12)
latin1_text = st.text(alphabet=_HOSTILE + "äöüßéÀÿ£", max_size=12)
utf8_text = st.text(alphabet=st.one_of(st.sampled_from(_HOSTILE),
                                       st.characters(min_codepoint=0xA0, max_codepoint=0x2FFF,
                                                     blacklist_categories=("Cs", "Cc", "Zl", "Zp"))),
                    max_size=12)
TAGS = st.sampled_from(["BGM", "FTX", "NAD", "LIN", "QTY", "RFF", "GIN", "DTM", "PIA"])
DELIMS = st.sampled_from([
    None,  # the writer's default for the syntax version
    Delimiters("=", "*", ".", "?", None, "~"),
    Delimiters(":", "+", ",", "!", None, "'"),
])


@st.composite
def interchanges(draw):
    syntax = draw(st.sampled_from(["UNOA", "UNOC", "UNOW", "UNOY"]))
    version = draw(st.sampled_from(["3", "4"]))
    text = {"UNOA": ascii_text, "UNOC": latin1_text}.get(syntax, utf8_text)
    d = draw(DELIMS)
    if d is not None and version == "4":
        d = Delimiters(d.component, d.element, d.decimal, d.release, "@", d.terminator)
    # a message: segments of 1..4 elements of 1..3 components; the last component of an
    # element and the last element of a segment are non-empty (the writer trims trailing
    # empties, as ISO 9735 says, so those cannot round-trip by design)
    def element():
        comps = draw(st.lists(text, min_size=0, max_size=2)) + [draw(text.filter(bool))]
        return comps

    messages = []
    for _ in range(draw(st.integers(1, 3))):
        segs = []
        for _ in range(draw(st.integers(1, 5))):
            segs.append((draw(TAGS), [element() for _ in range(draw(st.integers(1, 4)))]))
        messages.append(segs)
    return syntax, version, d, messages, draw(st.booleans())


def _write(syntax, version, d, messages, newline) -> bytes:
    w = EdifactWriter(["SENDER", "14"], ["RECEIVER", "14"], "REF1", syntax=syntax, syntax_version=version,
                      delimiters=d, prepared=WHEN, newline=newline)
    for segs in messages:
        w.add_message("ORDERS", "D", "96A", "UN", "EAN008", segs)
    return w.to_bytes()


@SETTINGS
@given(interchanges())
def test_write_parse_round_trip(spec):
    syntax, version, d, messages, newline = spec
    data = _write(syntax, version, d, messages, newline)
    inter = parse_interchange(data, "p.edi", charset_policy="strict")
    got = list(inter.iter_messages())
    assert inter.errors == [] and inter.warnings == []
    assert [[(s.tag, s.elements) for s in m.segments[1:-1]] for m in got] == messages
    # and back: the parsed tree writes the very same bytes
    again = _write(syntax, version, d, [[(s.tag, s.elements) for s in m.segments[1:-1]] for m in got], newline)
    assert again == data


@SETTINGS
@given(interchanges(), st.sampled_from([1, 5, 64, 65536]))
def test_chunk_size_and_fast_path_do_not_change_the_result(spec, chunk):
    data = _write(*spec)
    data = data.replace(b"\n", b"\r\n") if spec[4] and chunk == 5 else data

    def tree(fast_path):
        inter = parse_interchange(io.BytesIO(data), "p.edi", chunk_size=chunk)
        inter._fast = fast_path
        segs = [(s.tag, s.elements, s.line, s.index) for m in inter.iter_messages() for s in m.segments]
        return segs, [(e.code, e.where) for e in inter.errors]

    assert tree(True) == tree(False)


BASE = _write("UNOC", "3", None, [[("BGM", [["220"], ["PO?1'x+y:z"], ["9"]]),
                                    ("NAD", [["BY"], ["Müller"], ["Straße 1"]]),
                                    ("QTY", [["21", "5", "PCE"]])],
                                   [("FTX", [["AAI"], [""], [""], ["a?b", "c"]])]], True)
BASE4 = _write("UNOY", "4", None, [[("FTX", [["AAI"], ["x*y"], ["漢字"]])]], False)


def _consume(data: bytes, policy: str) -> None:
    for inter in parse_interchanges(data, "m.edi", policy):
        for _ in inter.iter_messages():
            pass


@settings(max_examples=120, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([BASE, BASE4]), st.lists(
    st.tuples(st.floats(0, 1), st.sampled_from(["flip", "insert", "delete", "dup"]), st.binary(min_size=1, max_size=4)),
    min_size=1, max_size=6), st.sampled_from(["lenient", "strict"]))
def test_mutations_raise_only_hub_errors(base, edits, policy):
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
    try:
        _consume(bytes(data), policy)
    except HubError:
        pass  # the codec's own error types are the only acceptable failures


def test_fast_path_is_really_taken_for_a_clean_file():
    # guards the benchmark's meaning: a clean one-segment-per-line file must not silently
    # fall back to the careful path (that would be correct, only slow)
    calls = []
    original = edifact.Interchange._next_segment

    class Spy(edifact.Interchange):
        def _next_segment(self):
            calls.append(1)
            return original(self)

    clean = BASE.replace(b"?'", b"")  # released + and : stay; no released terminator
    inter = parse_interchange(clean, "f.edi")
    inter.__class__ = Spy
    n = sum(len(m.segments) for m in inter.iter_messages())
    assert n == 8 and inter.errors == []
    assert len(calls) <= 1  # at most the end-of-file probe
