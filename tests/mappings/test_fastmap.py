"""The compiled accelerator of the mapping fast path (mappings/_fastmap.pyx) against the
generated Python it replaces and the interpreter both must agree with.

Every segment mapping of the repository is specialised twice, ``build_plan(m, fastmap=None)``
(the generated functions, the pure path) and ``build_plan(m, fastmap=<module>)`` (FieldOps run
in C, X12 HL levels cut in C), and each record goes through both and through
``CompiledMapping.interpret``, the reference: documents field for field, errors code, message
and ``where``. Inputs: the golden EDIFACT and X12 messages, damaged variants of them,
hypothesis-generated HL hierarchies (in and out of file order, broken ones), records that are
not the codec's (tuples for lists, numbers for text, duck-typed segments), many partners
through crosswalks. Both fast paths must also take the happy case themselves (an accelerator
that always gave up would pass the equality tests while being slow), and the
HUB_MAPPING_PURE_PYTHON switch must pick the path.

Skipped where the module is not built (``make setup`` builds it), except under CI (the ``CI``
environment variable), which must test what it ships: there they fail. The switch does not
skip them: they load the module past it, to compare.
"""
from __future__ import annotations

import datetime as dt
import importlib
import os
import random
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.edi.segments import Segment
from canonical_model.documents import Source
from hub.errors import HubError, SkippableError
from mappings import compiled
from mappings.compiled import FastPlan, Fallback, build_plan
from mappings.engine import SEGMENT_SOURCES, CompiledMapping, compile_mapping, load_mapping
from mappings.golden import discover, mapping_files

ROOT = Path(__file__).resolve().parents[2]
FASTMAP = compiled.load_fastmap(switch=False)

pytestmark = pytest.mark.skipif(FASTMAP is None and not os.environ.get("CI"),
                                reason="mappings/_fastmap is not built (make setup)")

CASES = discover()
EDI_CASES = [c for c in CASES if c.input.suffix in (".edi", ".x12")]
CODECS = {".edi": ("adapters.edi.edifact", "iter_messages"), ".x12": ("adapters.edi.x12", "iter_transactions")}


def outcome(fn: Callable[[], Any]) -> tuple:
    """What a mapping call produced, comparable: the document's JSON, or the error's identity
    (records no codec makes can crash the interpreter itself: then both fast paths must too)."""
    try:
        doc = fn()
    except HubError as exc:
        return ("error", type(exc).__name__, exc.code, exc.message, exc.where)
    except Exception as exc:  # noqa: BLE001 - compared, not hidden
        return ("crash", type(exc).__name__, str(exc))
    return ("document", doc.model_dump(mode="json"))


class Paths:
    """One mapping three ways: the interpreter, the generated Python, the accelerator."""

    def __init__(self, mapping: CompiledMapping) -> None:
        assert FASTMAP is not None, "mappings/_fastmap is not built: run make setup"
        self.mapping = mapping
        self.pure = build_plan(mapping, fastmap=None)
        self.fast = build_plan(mapping, fastmap=FASTMAP)
        assert not self.pure.accelerated and self.fast.accelerated

    def through(self, plan: FastPlan, record: Any, source: Optional[Source]) -> Any:
        """What ``apply`` does with ``plan``: its document, or the interpreter's when it gives up."""
        try:
            return plan.run(record, source)
        except Exception:
            return self.mapping.interpret(record, source)

    def assert_same(self, record: Any, source: Optional[Source], *, fast_path_expected: bool = True) -> tuple:
        expected = outcome(lambda: self.mapping.interpret(record, source))
        for plan in (self.pure, self.fast):
            assert outcome(lambda: self.through(plan, record, source)) == expected
        if expected[0] == "document" and fast_path_expected:
            for plan in (self.pure, self.fast):  # the happy case is taken, not handed back
                assert outcome(lambda: plan.run(record, source)) == expected, plan.accelerated
        return expected


def edi_units(case) -> list[tuple[list[Segment], Source]]:
    module, units = CODECS[case.input.suffix]
    parse = importlib.import_module(module).parse_interchanges
    out = []
    for interchange in parse(case.input.read_bytes(), case.input.name):
        for unit in getattr(interchange, units)():
            out.append((list(unit.segments), Source(system="edi", partner=interchange.sender.strip() or None)))
    return out


def hl_in_file_order(segments: list) -> bool:
    """Every HL's parent is the previous HL or one of its ancestors (both fast paths' shape)."""
    path: list[str] = []
    for seg in segments:
        if seg.tag == "HL":
            parent = seg.get(1)
            while parent and path and path[-1] != parent:
                path.pop()
            if parent and not path:
                return False
            if not parent:
                path.clear()
            path.append(seg.get(0))
    return True


def uses_hl_levels(mapping: CompiledMapping) -> bool:
    return mapping.lines is not None and mapping.lines.group is not None and mapping.lines.group.hl_level is not None


def mapping(body: str) -> CompiledMapping:
    return compile_mapping(textwrap.dedent(body), file="mappings/test/T.yaml")


def edifact(*texts: str) -> list[Segment]:
    out = []
    for i, text in enumerate(texts, start=1):
        tag, *elements = text.split("+")
        out.append(Segment(tag, [e.split(":") for e in elements], i, i))
    return out



# --------------------------------------------------------------------------- every mapping, golden input


def test_every_repository_segment_mapping_is_accelerated_and_json_ones_are_not():
    files = mapping_files()
    assert files
    kinds = set()
    for path in files:
        mapping = load_mapping(path)
        kinds.add(mapping.source_kind)
        plan = build_plan(mapping, fastmap=FASTMAP)
        assert plan.accelerated == (mapping.source_kind in SEGMENT_SOURCES), path
    assert kinds >= {"edifact", "x12", "json"}


@pytest.mark.parametrize("case", EDI_CASES, ids=[c.id for c in EDI_CASES])
def test_golden_inputs_map_alike_on_all_three_paths(case):
    paths = Paths(load_mapping(case.mapping))
    units = edi_units(case)
    assert units
    for segments, source in units:
        ordered = not uses_hl_levels(paths.mapping) or hl_in_file_order(segments)
        paths.assert_same(segments, source, fast_path_expected=ordered)
        paths.assert_same(segments, None, fast_path_expected=ordered)  # no source: no partner rows


#: values that exercise every rule: empty, whitespace, decimals with comma / exponent / NaN,
#: digits, dates valid and not, DTM format codes, codes missing from crosswalks
JUNK = ["", " ", "  x ", "1,5", "-3", "1e3", "NaN", "Infinity", "007", "12.5.1", "99999999999999999999", "0,5",
        "20240230", "20241399", "2024", "202401011230", "20240101123000", "2026-11-20T00:00:00", "102", "203",
        "718", "BP", "VP", "LT", "SU", "ON", "12", "EA", "PCE", "ZZZ", "XX", "\u3000", "٣", "GM", "BJ", "BX", "\t",
        "HL", "I", "O", "P", "S", "1", "2"]


def damaged(segments: list[Segment], rnd: random.Random) -> list[Segment]:
    """A copy with one to four random edits: drop / repeat / move a segment, blank / replace /
    cut / extend an element or a component (never the tag, so the message stays a message)."""
    segs = [Segment(s.tag, [list(e) for e in s.elements], s.line, s.index) for s in segments]
    for _ in range(rnd.randint(1, 4)):
        i = rnd.randrange(len(segs))
        seg = segs[i]
        op = rnd.choice(["drop", "repeat", "move", "blank", "junk", "junk", "junk", "cut", "extra"])
        if op == "drop" and len(segs) > 2:
            del segs[i]
        elif op == "repeat":
            segs.insert(i, Segment(seg.tag, [list(e) for e in seg.elements], seg.line, seg.index))
        elif op == "move":
            segs.insert(rnd.randrange(len(segs)), segs.pop(i))
        elif seg.elements:
            e = rnd.randrange(len(seg.elements))
            comps = seg.elements[e]
            c = rnd.randrange(len(comps)) if comps else 0
            if op == "blank" and comps:
                comps[c] = ""
            elif op == "junk" and comps:
                comps[c] = rnd.choice(JUNK)
            elif op == "cut":
                del seg.elements[e:]
            elif op == "extra":
                comps.append(rnd.choice(JUNK))
    return segs


@pytest.mark.parametrize("case", EDI_CASES, ids=[c.id for c in EDI_CASES])
def test_damaged_inputs_map_alike_on_all_three_paths(case):
    paths = Paths(load_mapping(case.mapping))
    rnd = random.Random(f"fastmap {case.id}")  # reproducible per case
    kinds = set()
    for segments, source in edi_units(case):
        for _ in range(150):
            variant = damaged(segments, rnd)
            ordered = not uses_hl_levels(paths.mapping) or hl_in_file_order(variant)
            result = paths.assert_same(variant, source, fast_path_expected=ordered)
            kinds.add(result[0] if result[0] == "document" else result[2])
    assert len(kinds) > 1, kinds  # the damage did change outcomes, so different paths were compared


# --------------------------------------------------------------------------- X12 HL hierarchies


def x12(*texts: str) -> list[Segment]:
    out = []
    for i, text in enumerate(texts, start=1):
        tag, *elements = text.split("*")
        out.append(Segment(tag, [e.split(">") for e in elements], i, i))
    return out


M856 = load_mapping("mappings/x12/856_004010.yaml")
HEAD_856 = ("ST*856*0001", "BSN*00*ASN-1*20260302*0830", "DTM*011*20260302", "N1*SU**92*SUP-001")
LEVELS = ["S", "O", "T", "P", "I", "I", "I", ""]
ITEM_SEGMENTS = ["LIN*1*BP*A*VP*V1", "LIN**IN*B", "LIN*2*VN*X*LT*L9", "SN1**5*EA", "SN1**1,5*EA", "SN1**3*BOXES",
                 "SN1** *EA", "MAN*GM*M1", "MAN*GM", "MAN*CP*X", "PRF*PO-1", "PRF* PO-2 ", "REF*LT*L1",
                 "DTM*036*20270301", "DTM*036*2027", "CTT*1", "SE*9*0001", "N1*ST*DOCK*92*D1"]


@st.composite
def hl_messages(draw) -> list[Segment]:
    texts = list(HEAD_856)
    count = draw(st.integers(1, 9))
    for n in range(1, count + 1):
        hl_id = draw(st.sampled_from([str(n), str(n), str(n), "", "1", " "]))
        parent = draw(st.sampled_from(["", *[str(p) for p in range(1, n + 1)], "99"]))
        texts.append(draw(st.sampled_from([f"HL*{hl_id}*{parent}*{draw(st.sampled_from(LEVELS))}",
                                           f"HL*{hl_id}*{parent}*I", f"HL*{hl_id}", "HL"])))
        texts += draw(st.lists(st.sampled_from(ITEM_SEGMENTS), max_size=4))
    if draw(st.booleans()):  # without SE the last HL level ends with the message
        texts.append("SE*99*0001")
    return x12(*texts)


P856 = Paths(M856) if FASTMAP is not None else None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hl_messages(), st.sampled_from([None, "SUP-001", "SUP-030", "OTHER"]))
def test_generated_hl_hierarchies_map_alike_on_all_three_paths(segments, partner):
    assert P856 is not None, "mappings/_fastmap is not built: run make setup"
    source = None if partner is None else Source(system="x12", partner=partner)
    P856.assert_same(segments, source, fast_path_expected=hl_in_file_order(segments))


#: an X12 mapping reading the HL segments themselves (its own and its ancestors'), the header
#: through group_or_header, the message scope, defaults and a sequence fallback
HL_EVERY_RULE = """\
source: x12
target: ShipmentNotice
fields:
  asn_number: {path: BSN.1.0, required: true}
  supplier_id: {path: ["N1[0=SU].3.0", "N1[0=SU].1.0"], scope: header, default: NOBODY}
  ship_to_id: {path: "N1[0=ST].3.0", strip: true}
  ship_date: {path: "DTM[0=011].1.0", date: "%Y%m%d"}
lines:
  group: {hl_level: I}
  fields:
    line_no: {path: "REF[0=LI].1.0", sequence: true, type: int}
    po_number: {path: ["HL[2=O].0.0", PRF.0.0]}
    po_line_no: {path: HL.0.0, type: int}
    material_id: {path: ["LIN[1=BP].2.0", "N1[0=ST].1.0"], scope: group_or_header, required: true}
    supplier_material_id: HL.1.0
    quantity: {path: SN1.1.0, default: "1", type: decimal}
    uom: {path: SN1.2.0, default: EA, crosswalk: units}
    batch_number: {path: "MAN[0=GM].1.0", strip: true}
    package_id: {path: "DTM[0=011].1.0", scope: message}
    expiry_date: {path: "DTM[0=036].1.0", date: "%Y%m%d"}
"""
PHL = Paths(mapping(HL_EVERY_RULE)) if FASTMAP is not None else None
MORE_ITEM_SEGMENTS = [*ITEM_SEGMENTS, "REF*LI*7", "REF*LI*x", "N1*ST*ITEM-DOCK", "N1*SU*X", "DTM*011*20260301"]


@st.composite
def hl_messages_for_every_rule(draw) -> list[Segment]:
    texts = ["ST*856*0001", "BSN*00*ASN-1*20260302*0830", *draw(st.lists(st.sampled_from(
        ["N1*SU**92*SUP-001", "N1*SU*Name", "N1*ST**92* DOCK ", "DTM*011*20260302", "DTM*011*2026", "CTT*1"]),
        max_size=3))]
    count = draw(st.integers(1, 8))
    for n in range(1, count + 1):
        parent = draw(st.sampled_from(["", *[str(p) for p in range(max(1, n - 2), n)], "99"]))
        texts.append(f"HL*{n}*{parent}*{draw(st.sampled_from(LEVELS))}")
        texts += draw(st.lists(st.sampled_from(MORE_ITEM_SEGMENTS), max_size=4))
    return x12(*texts)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hl_messages_for_every_rule(), st.sampled_from([None, "SUP-001"]))
def test_an_hl_mapping_reading_the_hl_segments_maps_alike_on_all_three_paths(segments, partner):
    assert PHL is not None, "mappings/_fastmap is not built: run make setup"
    source = None if partner is None else Source(system="x12", partner=partner)
    PHL.assert_same(segments, source, fast_path_expected=hl_in_file_order(segments))


def test_an_hl_line_reads_its_own_hl_first_and_its_order_levels_through_the_chain():
    assert PHL is not None
    segments = x12("ST*856*0001", "BSN*00*ASN-1", "N1*ST*Dock 7*92* DOCK ", "HL*1**S", "HL*2*1*O", "HL*3*2*I",
                   "LIN*1*BP*A", "HL*4*2*P", "MAN*GM* M4 ", "HL*5*4*I", "REF*LI*9", "HL*6*1*I")
    doc = PHL.fast.run(segments, None)
    assert (doc.ship_to_id, doc.supplier_id) == ("DOCK", "NOBODY")
    assert [(ln.line_no, ln.po_line_no, ln.po_number, ln.supplier_material_id, ln.material_id, ln.batch_number)
            for ln in doc.lines] == [(1, 3, "2", "2", "A", None), (9, 5, "2", "4", "Dock 7", "M4"),
                                     (3, 6, None, "1", "Dock 7", None)]
    assert doc == PHL.pure.run(segments, None) == PHL.mapping.interpret(segments)


def test_hl_levels_in_c_see_own_segments_first_then_the_ancestors():
    assert P856 is not None
    segments = x12(*HEAD_856,
                   "HL*1**S", "HL*2*1*O", "PRF*PO-1", "HL*3*2*P", "MAN*GM*SSCC-P3",
                   "HL*4*3*I", "LIN*1*BP*A", "SN1**5*EA",
                   "HL*5*3*I", "LIN*2*BP*B", "SN1**6*EA", "MAN*GM*SSCC-ITEM",
                   "HL*6*1*O", "PRF*PO-2", "HL*7*6*I", "LIN*1*BP*C", "SN1**7*EA",
                   "CTT*3", "MAN*GM*AFTER-CTT", "SE*20*0001")
    doc = P856.fast.run(segments, None)
    assert [(ln.line_no, ln.material_id, ln.package_id, ln.po_number) for ln in doc.lines] == [
        (1, "A", "SSCC-P3", "PO-1"), (2, "B", "SSCC-ITEM", "PO-1"), (3, "C", None, "PO-2")]
    assert doc == P856.pure.run(segments, None) == M856.interpret(segments)


@pytest.mark.parametrize("hl", [
    ("HL*1**S", "HL*1*1*I"),  # HL01 used twice
    ("HL*1**S", "HL*2*9*I"),  # parent not an open ancestor
    ("HL***S",),  # empty HL01
    ("HL*1**S", "HL*2*1*O", "HL*3*1*O", "HL*4*2*I"),  # valid, but not in file order
])
def test_hl_trees_the_accelerator_does_not_take_go_to_the_interpreter(hl):
    assert P856 is not None and FASTMAP is not None
    segments = x12(*HEAD_856, *hl, "LIN*1*BP*A", "SN1**5*EA")
    with pytest.raises(Fallback):
        P856.fast.run(segments, None)
    P856.assert_same(segments, None, fast_path_expected=False)


# --------------------------------------------------------------------------- records not from the codec


@dataclass
class LooseSegment:
    """A segment-like record of another type: the accelerator reads it through getattr."""

    tag: str
    elements: Any
    line: int = 0
    index: int = 0

    def get(self, element: int, component: int = 0, default: str = "") -> str:
        try:
            return self.elements[element][component]
        except IndexError:
            return default


def reshaped(segments: list[Segment], rnd: random.Random) -> list:
    out: list = []
    for seg in segments:
        choice = rnd.random()
        if choice < 0.2:
            out.append(LooseSegment(seg.tag, tuple(tuple(e) for e in seg.elements), seg.line, seg.index))
        elif choice < 0.3:
            out.append(LooseSegment(seg.tag, [list(e) for e in seg.elements], seg.line, seg.index))
        elif choice < 0.4 and seg.elements:
            elements = [list(e) for e in seg.elements]
            e = rnd.randrange(len(elements))
            if elements[e]:
                elements[e][rnd.randrange(len(elements[e]))] = rnd.choice([5, None, 1.5, b"EA", ["x"], True])
            out.append(Segment(seg.tag, elements, seg.line, seg.index))
        elif choice < 0.45 and seg.elements:
            out.append(Segment(seg.tag, [tuple(e) for e in seg.elements], seg.line, seg.index))
        else:
            out.append(seg)
    return out


@pytest.mark.parametrize("case", EDI_CASES, ids=[c.id for c in EDI_CASES])
def test_records_of_other_shapes_and_types_map_alike(case):
    paths = Paths(load_mapping(case.mapping))
    rnd = random.Random(f"shapes {case.id}")
    for segments, source in edi_units(case):
        for _ in range(60):
            paths.assert_same(reshaped(segments, rnd), source, fast_path_expected=False)


def test_segment_layout_check_refuses_what_it_cannot_read_and_keeps_the_registered_type():
    assert FASTMAP is not None

    @dataclass(frozen=True)
    class NotSlotted:
        tag: str
        elements: list

    with pytest.raises(TypeError):
        FASTMAP.use_segment_type(NotSlotted, ("tag", "elements"))
    with pytest.raises(TypeError):
        FASTMAP.use_segment_type(Segment, ("tag", "nope"))
    with pytest.raises(TypeError):
        FASTMAP.use_segment_type(Segment, ("tag",))
    # Segment is still read at its offsets, anything else by getattr: both map alike
    segments = x12(*HEAD_856, "HL*1**S", "HL*2*1*I", "LIN*1*BP*A", "SN1**5*EA")
    loose = [LooseSegment(s.tag, s.elements, s.line, s.index) for s in segments]
    assert P856 is not None
    assert P856.fast.run(segments, None) == P856.fast.run(loose, None) == M856.interpret(segments)


# --------------------------------------------------------------------------- pinned details


EVERY_RULE = """\
source: edifact
target: ShipmentNotice
fields:
  asn_number: {path: ["BGM[0=351].1.0", BGM.1.0], required: true, strip: true}
  supplier_id: {path: ["NAD[0=SU].1.0", "NAD[0=SF].1.0"], required: true, crosswalk: partners, crosswalk_fallback: identity}
  status: {const: "9", crosswalk: message_functions}
  ship_to_id: {path: "NAD[0=ST].1.0", default: DOCK-1}
  ship_date: {path: "DTM[0.0=11].0.1", date: edifact_dtm}
  expected_arrival: {path: "DTM[0.0=132].0.1", date: "%Y%m%d%H%M"}
lines:
  group: {starts_at: LIN, ends_before: [LIN, CNT, UNT], inherit_from_previous: ["GIN[0=BJ]"], inherit_stop_at: [CPS]}
  fields:
    line_no: {path: "RFF[0.0=LI].0.1", sequence: true, type: int}
    material_id: {path: ["PIA[0=1,1.1=SA].1.0", LIN.2.0], scope: group_or_header, required: true}
    supplier_material_id: {path: "PIA[0=1].1.0", strip: true}
    quantity: {path: "QTY[0.0=12].0.1", required: true, scale: 2}
    uom: {path: "QTY[0.0=12].0.2", default: PCE, crosswalk: units}
    batch_number: {path: "GIN[0=BX].1.0", scope: group}
    package_id: "GIN[0=BJ].1.0"
    expiry_date: {path: "DTM[0.0=36].0.1", date: edifact_dtm}
    po_number: {path: "RFF[0.0=ON].0.1", scope: message}
    po_line_no: {const: 7, type: int}
"""


def test_a_mapping_using_every_rule_maps_alike_good_and_damaged():
    paths = Paths(mapping(EVERY_RULE))
    good = edifact("UNH+1+DESADV:D:96A:UN", "BGM+351+ ASN-9 +9", "DTM+11:20260301:102", "DTM+132:202603041230:203",
                   "NAD+SU+SUP-001", "RFF+ON:PO-1", "CPS+1", "GIN+BJ+SSCC-1", "LIN+1++MAT-1:SRS",
                   "PIA+1+ V-1 :SA", "QTY+12:125:PCE", "RFF+LI:3", "DTM+36:20271231:102", "GIN+BX+LOT-1",
                   "LIN+2++MAT-2:SRS", "QTY+12:5", "CNT+2:2", "UNT+18+1")
    expected = paths.assert_same(good, Source(system="edifact", partner="SUP-001"))
    assert expected[0] == "document"
    lines = expected[1]["lines"]
    assert [(ln["line_no"], ln["quantity"], ln["uom"], ln["package_id"]) for ln in lines] == [
        (3, "1.25", "H87", "SSCC-1"), (2, "0.05", "H87", "SSCC-1")]
    rnd = random.Random("every rule")
    kinds = set()
    for _ in range(400):
        for source in (None, Source(system="edifact", partner="SUP-001"), Source(system="edifact", partner="SUP-030")):
            result = paths.assert_same(damaged(good, rnd), source)
            kinds.add(result[0] if result[0] == "document" else result[2])
    assert {"document", "MISSING_FIELD", "BAD_VALUE"} <= kinds, kinds


def test_constants_defaults_and_line_numbers_that_are_not_text_convert_like_the_interpreter():
    paths = Paths(mapping("""\
        source: edifact
        target: ShipmentNotice
        fields:
          asn_number: {const: 12345}
          supplier_id: {const: true}
          ship_date: {const: 2026-11-24, type: date}
        lines:
          group: {starts_at: LIN, ends_before: [LIN, UNT]}
          fields:
            line_no: {sequence: true}
            material_id: {path: LIN.2.0, default: 7}
            quantity: {path: "QTY[0.0=12].0.1", default: 1.5, type: decimal}
            uom: {const: 4097}
            po_line_no: {sequence: true, type: decimal}
    """))
    segments = edifact("UNH+1+X", "BGM+351+A", *[t for n in range(1, 5000, 499) for t in (f"LIN+{n}", "QTY+12:2")],
                       "UNT+9+1")
    result = paths.assert_same(segments, None, fast_path_expected=False)
    assert result[:3] == ("error", "SkippableError", "BAD_VALUE")  # supplier_id: true is not text
    paths = Paths(mapping("""\
        source: edifact
        target: ShipmentNotice
        fields:
          asn_number: {const: 12345}
          supplier_id: {const: 3.5}
          ship_date: {const: 2026-11-24, type: date}
        lines:
          group: {starts_at: LIN, ends_before: [LIN, UNT]}
          fields:
            line_no: {sequence: true}
            material_id: {path: LIN.2.0, default: 7}
            quantity: {path: "QTY[0.0=12].0.1", default: 1.5, type: decimal}
            uom: {const: 4097}
            po_line_no: {sequence: true, type: decimal}
    """))
    lines = [t for n in range(1, 9000) for t in ("LIN+1", *(["QTY+12:2"] if n % 3 else []))]
    result = paths.assert_same(edifact("UNH+1+X", "BGM+351+A", *lines, "UNT+9+1"), None)
    doc = result[1]
    assert (doc["asn_number"], doc["supplier_id"], doc["ship_date"]) == ("12345", "3.5", "2026-11-24")
    assert [ln["line_no"] for ln in doc["lines"][4094:4098]] == [4095, 4096, 4097, 4098]
    assert {ln["material_id"] for ln in doc["lines"]} == {"7"} and doc["lines"][2]["quantity"] == "1.5"


def test_many_partners_through_a_crosswalk_each_get_their_own_rows(tmp_path):
    (tmp_path / "units.csv").write_text("source,code,canonical\nedifact,PCE,H87\n*,KG,KGM\n"
                                        + "".join(f"P{n},BOX,BOX-{n}\nP{n},PCE,PCE-{n}\n" for n in range(0, 80, 2)))
    m = compile_mapping(textwrap.dedent("""\
        source: edifact
        target: ShipmentNotice
        fields:
          asn_number: BGM.1.0
          supplier_id: {const: S}
        lines:
          group: {starts_at: LIN, ends_before: [LIN, UNT]}
          fields:
            line_no: {sequence: true}
            material_id: LIN.2.0
            quantity: {path: "QTY[0.0=12].0.1", type: decimal}
            uom: {path: "QTY[0.0=12].0.2", crosswalk: units}
    """), file="mappings/test/T.yaml", crosswalk_dir=tmp_path)
    paths = Paths(m)
    for n in [*range(80), *range(80)]:  # more partners than the accelerator keeps tables for, twice
        for unit, expected in (("BOX", f"BOX-{n}" if n % 2 == 0 else None), ("PCE", f"PCE-{n}" if n % 2 == 0 else "H87"),
                               ("KG", "KGM")):
            segments = edifact("UNH+1+X", "BGM+351+A", "LIN+1++M", f"QTY+12:1:{unit}", "UNT+5+1")
            result = paths.assert_same(segments, Source(system="edifact", partner=f"P{n}"),
                                       fast_path_expected=expected is not None)
            if expected is None:
                assert result[2] == "UNKNOWN_UOM"
            else:
                assert result[1]["lines"][0]["uom"] == expected


def test_remembered_conversions_of_the_accelerator_stay_bounded_and_right(monkeypatch):
    monkeypatch.setattr(compiled, "MEMO_SIZE", 8)
    m = mapping("""\
        source: edifact
        target: ShipmentNotice
        fields:
          asn_number: BGM.1.0
          supplier_id: {const: S}
        lines:
          group: {starts_at: LIN, ends_before: [LIN, UNT]}
          fields:
            line_no: {sequence: true}
            material_id: LIN.2.0
            quantity: {path: "QTY[0.0=12].0.1", type: decimal}
            uom: {const: H87}
            expiry_date: {path: "DTM[0.0=36].0.1", date: edifact_dtm}
    """)
    plan = build_plan(m, fastmap=FASTMAP)
    lines = [t for n in range(1, 40) for t in (f"LIN+{n}++M{n}", f"QTY+12:{n}.5", f"DTM+36:2027{n % 12 + 1:02d}01:102")]
    segments = edifact("UNH+1+X", "BGM+351+A", *lines, "UNT+9+1")
    doc = plan.run(segments, None)
    assert [ln.quantity for ln in doc.lines] == [Decimal(f"{n}.5") for n in range(1, 40)]
    assert [ln.expiry_date for ln in doc.lines] == [dt.date(2027, n % 12 + 1, 1) for n in range(1, 40)]
    assert plan.memos and all(len(memo) <= 8 for memo in plan.memos) and max(len(memo) for memo in plan.memos) == 8
    assert plan.run(segments, None) == doc == m.interpret(segments)
    # the same text with another DTM format code is another conversion, not the remembered one
    with pytest.raises(SkippableError) as exc:
        m.apply(edifact("UNH+1+X", "BGM+351+A", "LIN+1++M", "QTY+12:1", "DTM+36:20270201:203", "UNT+6+1"))
    assert exc.value.code == "BAD_VALUE" and exc.value.where == "segment 5 (DTM, line 5)"


def test_program_parts_refuse_malformed_input():
    assert FASTMAP is not None
    with pytest.raises(ValueError):
        FASTMAP.Lookup(3, "LIN", (), 0, 0)
    with pytest.raises(ValueError):
        FASTMAP.Lookup(0, "LIN", ((0, 0, 5),), 0, 0)  # a condition value is text
    with pytest.raises(ValueError):
        FASTMAP.Lookup(0, "LIN", ((-1, 0, "x"),), 0, 0)
    generic = lambda raw, partner: raw  # noqa: E731
    with pytest.raises(TypeError):
        FASTMAP.FieldOp("f", compiled.SOURCE_PATHS, None, ("not a lookup",), False, False, False, None, False,
                        compiled.CONVERT_TEXT, True, False, None, generic, None, None, False, None, 8)
    with pytest.raises(TypeError):  # a crosswalk needs its tables
        FASTMAP.FieldOp("f", compiled.SOURCE_PATHS, None, (), False, False, False, None, False,
                        compiled.CONVERT_CROSSWALK, False, False, None, generic, None, None, False, None, 8)
    lookup = FASTMAP.Lookup(0, "LIN", (), 0, 0)
    op = FASTMAP.FieldOp("f", compiled.SOURCE_PATHS, None, (lookup,), False, False, False, None, False,
                         compiled.CONVERT_TEXT, True, False, None, generic, None, None, False, None, 8)
    FASTMAP.Program((), (op,), Fallback)
    with pytest.raises(ValueError):  # a lookup's place is set by its one program
        FASTMAP.Program((), (op,), Fallback)
    with pytest.raises(TypeError):
        FASTMAP.Program((), (), "not an exception class")


# --------------------------------------------------------------------------- the switch


@pytest.mark.parametrize("value,expected", [("1", "pure"), ("yes", "pure"), ("0", "accelerated"), ("", "accelerated")])
def test_pure_python_switch(value, expected):
    env = {**os.environ, compiled.PURE_PYTHON_ENV: value}
    probe = ("from mappings import compiled; from mappings.engine import load_mapping\n"
             "m = load_mapping('mappings/x12/856_004010.yaml')\n"
             "print(compiled.FASTMAP is None, m.fast_plan.accelerated)")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                            check=True)
    assert result.stdout.split() == (["True", "False"] if expected == "pure" else ["False", "True"])


def test_pure_python_path_maps_the_golden_messages_too():
    env = {**os.environ, compiled.PURE_PYTHON_ENV: "1"}
    probe = textwrap.dedent("""\
        import json
        from adapters.edi.x12 import parse_interchanges
        from mappings.engine import load_mapping
        m = load_mapping('mappings/x12/856_004010.yaml')
        assert not m.fast_plan.accelerated
        path = 'mappings/x12/golden/856_004010/pack_sscc_batch.x12'
        for inter in parse_interchanges(open(path, 'rb').read(), path):
            for txn in inter.iter_transactions():
                print(json.dumps(m.fast_plan.run(txn.segments, None).model_dump(mode='json'), sort_keys=True))
    """)
    golden = ROOT / "mappings/x12/golden/856_004010/pack_sscc_batch.x12"
    if not golden.is_file():
        pytest.skip(f"{golden} is not a golden input any more")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                            check=True)
    from adapters.edi.x12 import parse_interchanges

    expected = [outcome(lambda: M856.interpret(t.segments))[1]
                for inter in parse_interchanges(golden.read_bytes(), str(golden)) for t in inter.iter_transactions()]
    import json

    assert [json.loads(line) for line in result.stdout.splitlines()] == expected
