"""The specialised fast path (mappings/compiled.py) against the interpreter it must agree with.

``CompiledMapping.apply`` runs the generated plan and, for any record the plan cannot vouch
for, the interpreter (``CompiledMapping.interpret``), which is the reference semantics. These
tests hold the two to the same output on every repository mapping: documents field for field,
errors code, message and ``where`` exactly, over the golden inputs and many damaged variants of
them, over generated X12 HL hierarchies, and over damaged JSON records. They also check that
the fast path really is the one taken on good input (a plan that always gave up would pass the
equality tests while being as slow as before).
"""
from __future__ import annotations

import copy
import datetime as dt
import importlib
import json
import pickle
import random
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.edi.segments import Segment
from canonical_model.documents import Source
from hub.errors import HubError, SkippableError
from mappings import compiled
from mappings.engine import CompiledMapping, compile_mapping, load_mapping
from mappings.golden import discover, mapping_files

CASES = discover()
EDI_CASES = [c for c in CASES if c.input.suffix in (".edi", ".x12")]
JSON_CASES = [c for c in CASES if c.input.suffix == ".json"]
CODECS = {".edi": ("adapters.edi.edifact", "iter_messages"), ".x12": ("adapters.edi.x12", "iter_transactions")}


def outcome(fn: Callable[[], Any]) -> tuple:
    """What a mapping call produced, comparable: the document's JSON, or the error's identity."""
    try:
        doc = fn()
    except HubError as exc:
        return ("error", type(exc).__name__, exc.code, exc.message, exc.where)
    return ("document", doc.model_dump(mode="json"))


def assert_same(mapping: CompiledMapping, record: Any, source: Source | None) -> tuple:
    """``apply`` == ``interpret``; and when the interpreter maps it, so does the plan on its own."""
    expected = outcome(lambda: mapping.interpret(record, source))
    assert outcome(lambda: mapping.apply(record, source)) == expected
    if expected[0] == "document" and not (uses_hl_levels(mapping) and not hl_in_file_order(record)):
        assert mapping.fast_plan is not None
        assert outcome(lambda: mapping.fast_plan.run(record, source)) == expected, "fast path gave up on good input"
    return expected


def uses_hl_levels(mapping: CompiledMapping) -> bool:
    return mapping.lines is not None and mapping.lines.group is not None and mapping.lines.group.hl_level is not None


def hl_in_file_order(segments: list[Segment]) -> bool:
    """Every HL's parent is the previous HL or one of its ancestors: the only shape the fast
    path takes on (the tree's depth-first order is then the file's); others go to the interpreter."""
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


def edi_units(case) -> list[tuple[list[Segment], Source]]:
    module, units = CODECS[case.input.suffix]
    parse = importlib.import_module(module).parse_interchanges
    out = []
    for interchange in parse(case.input.read_bytes(), case.input.name):
        for unit in getattr(interchange, units)():
            out.append((list(unit.segments), Source(system="edi", partner=interchange.sender.strip() or None)))
    return out


# --------------------------------------------------------------------------- every mapping


def test_every_repository_mapping_is_specialised():
    files = mapping_files()
    assert files
    for path in files:
        assert load_mapping(path).fast_plan is not None, path


def test_a_mapping_still_pickles_and_copies_and_the_copy_has_its_own_plan():
    original = load_mapping("mappings/x12/856_004010.yaml")
    segments = x12(*HEAD_856, "HL*1**S", "HL*2*1*I", "LIN*1*BP*A", "SN1**5*EA")
    for clone in (pickle.loads(pickle.dumps(original)), copy.deepcopy(original)):
        assert clone == original and clone.fast_plan is not None and clone.fast_plan is not original.fast_plan
        assert clone.fast_plan.run(segments, None) == original.apply(segments)


@pytest.mark.parametrize("case", EDI_CASES, ids=[c.id for c in EDI_CASES])
def test_golden_inputs_map_alike_and_on_the_fast_path(case):
    mapping = load_mapping(case.mapping)
    units = edi_units(case)
    assert units
    for segments, source in units:
        assert_same(mapping, segments, source)
        assert_same(mapping, segments, None)  # no source: no partner rows, no source field


#: values that exercise every rule: empty, whitespace, decimals with comma / exponent / NaN,
#: digits, dates valid and not, DTM format codes, codes missing from crosswalks
JUNK = ["", " ", "  x ", "1,5", "-3", "1e3", "NaN", "Infinity", "007", "12.5.1", "99999999999999999999", "0,5",
        "20240230", "20241399", "2024", "202401011230", "20240101123000", "2026-11-20T00:00:00", "102", "203",
        "718", "BP", "VP", "LT", "SU", "ON", "12", "EA", "PCE", "ZZZ", "XX", "\u3000", "٣", "GM", "BJ", "BX"]


def damaged(segments: list[Segment], rnd: random.Random) -> list[Segment]:
    """A copy with one to three random edits: drop / repeat a segment, blank / replace / cut
    an element or a component (never the tag, so the message stays a message)."""
    segs = [Segment(s.tag, [list(e) for e in s.elements], s.line, s.index) for s in segments]
    for _ in range(rnd.randint(1, 3)):
        i = rnd.randrange(len(segs))
        seg = segs[i]
        op = rnd.choice(["drop", "repeat", "blank", "junk", "junk", "junk", "cut", "extra"])
        if op == "drop" and len(segs) > 2:
            del segs[i]
        elif op == "repeat":
            segs.insert(i, Segment(seg.tag, [list(e) for e in seg.elements], seg.line, seg.index))
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
def test_damaged_inputs_map_alike(case):
    mapping = load_mapping(case.mapping)
    rnd = random.Random(case.id)  # reproducible per case
    kinds = set()
    for segments, source in edi_units(case):
        for _ in range(150):
            result = assert_same(mapping, damaged(segments, rnd), source)
            kinds.add(result[0] if result[0] == "document" else result[2])
    assert len(kinds) > 1, kinds  # the damage did change outcomes, so different paths were compared


def json_variants(record: dict, rnd: random.Random, count: int) -> list:
    values = [None, "", " ", "  x ", 1.5, 0.1, True, False, 3, 0, -1, 10**20, "abc", "2026-13-01", "2026-11-20T00:00:00",
              "1,5", [], {}, "NaN", "12", "007", "PCS", "Pcs", "zz", "CNY", "USD", "Pcs ", 2.0]
    out: list = ["not an object", [record], {}]
    for _ in range(count):
        r = copy.deepcopy(record)
        for _ in range(rnd.randint(1, 3)):
            target = r
            entries = [k for k, v in r.items() if isinstance(v, list) and v and isinstance(v[0], dict)]
            if entries and rnd.random() < 0.6:
                items = r[rnd.choice(entries)]
                if rnd.random() < 0.1:
                    items.append(rnd.choice(["x", 1, None]))
                    continue
                target = rnd.choice(items)
            if not isinstance(target, dict) or not target:
                continue
            key = rnd.choice(sorted(target))
            if rnd.random() < 0.2:
                del target[key]
            else:
                target[key] = rnd.choice(values)
        out.append(r)
    return out


@pytest.mark.parametrize("case", JSON_CASES, ids=[c.id for c in JSON_CASES])
def test_json_records_map_alike_good_and_damaged(case):
    mapping = load_mapping(case.mapping)
    data = json.loads(case.input.read_text(encoding="utf-8"))
    records = data if isinstance(data, list) else [data]
    rnd = random.Random(case.id)
    kinds = set()
    for record in records:
        assert_same(mapping, record, Source(system=mapping.system, file=case.input.name))
        for variant in json_variants(record, rnd, 150):
            for source in (None, Source(system=mapping.system, partner="SUP-001")):
                result = assert_same(mapping, variant, source)
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


def test_hl_item_sees_its_pack_and_order_and_its_own_man_wins():
    doc = M856.apply(x12(*HEAD_856,
                         "HL*1**S", "HL*2*1*O", "PRF*PO-1", "HL*3*2*P", "MAN*GM*SSCC-P3",
                         "HL*4*3*I", "LIN*1*BP*A", "SN1**5*EA",
                         "HL*5*3*I", "LIN*2*BP*B", "SN1**6*EA", "MAN*GM*SSCC-ITEM",
                         "HL*6*1*O", "PRF*PO-2", "HL*7*6*I", "LIN*1*BP*C", "SN1**7*EA",
                         "CTT*3", "SE*20*0001"))
    assert [(ln.line_no, ln.material_id, ln.package_id, ln.po_number) for ln in doc.lines] == [
        (1, "A", "SSCC-P3", "PO-1"), (2, "B", "SSCC-ITEM", "PO-1"), (3, "C", None, "PO-2")]
    assert M856.fast_plan.run(x12(*HEAD_856, "HL*1**S", "HL*2*1*I", "LIN*1*BP*A", "SN1**5*EA"), None).lines


def test_hl_lines_follow_the_tree_not_the_file_when_they_differ():
    # item 4 belongs to order 2 but comes after order 3 started: depth first gives 4 before 3's items
    segments = x12(*HEAD_856, "HL*1**S", "HL*2*1*O", "PRF*PO-2", "HL*3*1*O", "PRF*PO-3",
                   "HL*4*2*I", "LIN*1*BP*UNDER-2", "SN1**1*EA", "HL*5*3*I", "LIN*1*BP*UNDER-3", "SN1**1*EA")
    assert not hl_in_file_order(segments)
    doc = assert_same(M856, segments, None)[1]
    assert [(ln["material_id"], ln["po_number"]) for ln in doc["lines"]] == [("UNDER-2", "PO-2"), ("UNDER-3", "PO-3")]


def test_the_last_item_of_a_message_without_se_keeps_its_own_man_first():
    doc = M856.apply(x12(*HEAD_856, "HL*1**S", "HL*2*1*P", "MAN*GM*PACK", "HL*3*2*I", "LIN*1*BP*A", "SN1**5*EA",
                         "MAN*GM*ITEM"))
    assert doc.lines[0].package_id == "ITEM"


def test_segments_after_ctt_belong_to_no_hl_level():
    doc = M856.apply(x12(*HEAD_856, "HL*1**S", "HL*2*1*I", "LIN*1*BP*A", "SN1**5*EA", "CTT*1", "MAN*GM*LOOSE"))
    assert doc.lines[0].package_id is None


def test_missing_required_field_in_an_hl_line_points_at_that_items_hl():
    with pytest.raises(SkippableError) as exc:
        M856.apply(x12(*HEAD_856, "HL*1**S", "HL*2*1*I", "LIN*1*BP*A", "SN1**5*EA", "HL*3*1*I", "LIN*2*BP*B"))
    assert exc.value.code == "MISSING_FIELD"
    assert exc.value.message.startswith("ShipmentNotice.lines[1].quantity is required but SN1.1.0 has no value")
    assert exc.value.where == "segment 9 (HL, line 9)"


def test_crosswalk_miss_in_an_hl_line_points_at_its_segment():
    with pytest.raises(SkippableError) as exc:
        M856.apply(x12(*HEAD_856, "HL*1**S", "HL*2*1*I", "LIN*1*BP*A", "SN1**5*EA", "HL*3*1*I", "LIN*2*BP*B",
                       "SN1**6*BOXES"), Source(system="x12", partner="SUP-001"))
    assert exc.value.code == "UNKNOWN_UOM" and "'BOXES'" in exc.value.message and "lines[1].uom" in exc.value.message
    assert exc.value.where == "segment 11 (SN1, line 11)"


@pytest.mark.parametrize("hl, code", [
    (("HL*1**S", "HL*1*1*I"), "used twice"),
    (("HL*1**S", "HL*2*9*I"), "does not come before"),
    (("HL***S",), "empty"),
])
def test_broken_hl_trees_keep_hl_trees_own_error(hl, code):
    with pytest.raises(SkippableError) as exc:
        M856.apply(x12(*HEAD_856, *hl, "LIN*1*BP*A", "SN1**5*EA"))
    assert exc.value.code == "HL_INVALID" and code in exc.value.message


LEVELS = ["S", "O", "T", "P", "I", "I", "I", ""]
ITEM_SEGMENTS = ["LIN*1*BP*A*VP*V1", "LIN**IN*B", "SN1**5*EA", "SN1**1,5*EA", "SN1**3*BOXES", "MAN*GM*M1",
                 "MAN*CP*X", "PRF*PO-1", "REF*LT*L1", "DTM*036*20270301", "DTM*036*2027", "CTT*1"]


@st.composite
def hl_messages(draw) -> list[Segment]:
    texts = list(HEAD_856)
    count = draw(st.integers(1, 8))
    for n in range(1, count + 1):
        hl_id = draw(st.sampled_from([str(n), str(n), str(n), "", "1"]))
        parent = draw(st.sampled_from(["", *[str(p) for p in range(1, n + 1)], "99"]))
        texts.append(f"HL*{hl_id}*{parent}*{draw(st.sampled_from(LEVELS))}")
        texts += draw(st.lists(st.sampled_from(ITEM_SEGMENTS), max_size=4))
    if draw(st.booleans()):  # without SE the last HL level ends with the message
        texts.append("SE*99*0001")
    return x12(*texts)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hl_messages())
def test_generated_hl_hierarchies_map_alike(segments):
    assert_same(M856, segments, Source(system="x12", partner="SUP-001"))


# --------------------------------------------------------------------------- pinned details


def mapping(body: str) -> CompiledMapping:
    return compile_mapping(textwrap.dedent(body), file="mappings/test/T.yaml")


DESADV = """\
source: edifact
target: ShipmentNotice
fields:
  asn_number: {path: BGM.1.0, required: true}
  supplier_id: {path: "NAD[0=SU].1.0", required: true}
lines:
  group: {starts_at: LIN, ends_before: [LIN, UNT]}
  fields:
    line_no: {sequence: true}
    material_id: {path: LIN.2.0, required: true}
    quantity: {path: "QTY[0.0=12].0.1", required: true, type: decimal}
    uom: {path: "QTY[0.0=12].0.2", default: PCE, crosswalk: units}
    expiry_date: {path: "DTM[0.0=36].0.1", date: edifact_dtm}
"""


def edifact(*texts: str) -> list[Segment]:
    out = []
    for i, text in enumerate(texts, start=1):
        tag, *elements = text.split("+")
        out.append(Segment(tag, [e.split(":") for e in elements], i, i))
    return out


def test_crosswalk_miss_in_the_second_line_group_names_that_line_and_its_qty():
    m = mapping(DESADV)
    with pytest.raises(SkippableError) as exc:
        m.apply(edifact("UNH+1+X", "BGM+351+A", "NAD+SU+S", "LIN+1++A", "QTY+12:1:EA", "LIN+2++B", "QTY+12:2:BOX",
                        "UNT+8+1"), Source(system="edifact", partner="SUP-001"))
    assert exc.value.code == "UNKNOWN_UOM"
    assert exc.value.message.startswith("ShipmentNotice.lines[1].uom: code 'BOX' is not in crosswalk units")
    assert exc.value.where == "segment 7 (QTY, line 7)"


def test_the_same_text_converts_alike_whatever_its_dtm_format_code():
    # converted values are remembered per field; the DTM format code is part of what is remembered
    m = mapping(DESADV)
    first = m.apply(edifact("UNH+1+X", "BGM+351+A", "NAD+SU+S", "LIN+1++A", "QTY+12:1", "DTM+36:202612311200:203",
                            "UNT+7+1"))
    assert first.lines[0].expiry_date == dt.date(2026, 12, 31)
    with pytest.raises(SkippableError) as exc:  # same text, format 102 (CCYYMMDD): not a date
        m.apply(edifact("UNH+1+X", "BGM+351+A", "NAD+SU+S", "LIN+1++A", "QTY+12:1", "DTM+36:202612311200:102",
                        "UNT+7+1"))
    assert exc.value.code == "BAD_VALUE" and exc.value.where == "segment 6 (DTM, line 6)"


def test_remembered_conversions_stay_bounded_and_right(monkeypatch):
    monkeypatch.setattr(compiled, "MEMO_SIZE", 8)
    m = mapping(DESADV)
    lines = [text for n in range(1, 40) for text in (f"LIN+{n}++M{n}", f"QTY+12:{n}.5")]
    doc = m.apply(edifact("UNH+1+X", "BGM+351+A", "NAD+SU+S", *lines, "UNT+9+1"))
    assert [ln.quantity for ln in doc.lines] == [Decimal(f"{n}.5") for n in range(1, 40)]
    sizes = sorted(len(memo) for memo in m.fast_plan.memos)
    assert sizes[-1] == 8 and all(size <= 8 for size in sizes)  # full, and no fuller
    again = m.apply(edifact("UNH+1+X", "BGM+351+A", "NAD+SU+S", *lines, "UNT+9+1"))
    assert [ln.quantity for ln in again.lines] == [ln.quantity for ln in doc.lines]


def test_json_numbers_equal_as_keys_still_convert_by_their_own_type():
    # 1, 1.0 and True are the same dict key: a remembered conversion must not mix them up
    m = mapping("""\
        source: json
        target: PurchaseOrder
        fields:
          po_number: {key: number, required: true}
          supplier_id: {key: supplier, required: true}
          order_date: {const: "2026-11-20", type: date}
        lines:
          each: lines
          fields:
            line_no: {key: line}
            material_id: {key: material, required: true}
            quantity: {key: qty, type: decimal}
            uom: {key: uom, default: PCE}
    """)
    record = {"number": "PO-1", "supplier": "S", "lines": [{"line": 1, "material": "M", "qty": "1"}]}
    assert m.apply(record).lines[0].quantity == Decimal("1")
    record["lines"][0]["qty"] = 1.0
    assert str(m.apply(record).lines[0].quantity) == "1.0"
    record["lines"][0]["qty"] = True
    with pytest.raises(SkippableError) as exc:
        m.apply(record)
    assert exc.value.code == "BAD_VALUE" and exc.value.where == "record/lines[0]"
    record["lines"][0]["qty"] = 1
    assert str(m.apply(record).lines[0].quantity) == "1"
