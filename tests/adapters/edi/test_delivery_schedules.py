"""Delivery schedules per partner profile: DELFOR D96A / 830 004010 / CSV / XLSX.

What we write is read back with our own tokenizers and (EDIFACT) with pydifact, and the
numbers, dates, commitments and ids are compared with the schedule; one schedule per format
is pinned as a golden file (UPDATE_GOLDEN=1 rewrites them after a deliberate change).
"""
from __future__ import annotations

import datetime as dt
import io
import os
import warnings
from decimal import Decimal
from pathlib import Path

import pytest

from adapters.edi import acks as edi_acks
from adapters.edi import x12
from adapters.edi.delivery_schedules import RenderedSchedule, quantity_text, render_delivery_schedule
from adapters.edi.edifact import parse_interchange
from canonical_model.documents import DeliverySchedule, DeliveryScheduleLine
from hub.errors import FatalError, SkippableError
from hub.partners import PartnerProfile

GOLDEN = Path(__file__).parent / "golden"
NOW = dt.datetime(2026, 11, 26, 2, 0)  # UTC; 10:00 in Asia/Shanghai
FORMATS = {"edifact": ("DELFOR", "D96A"), "x12": ("830", "004010"), "csv": None, "xlsx": None}


def profile(fmt: str = "edifact", *, syntax: str = "UNOC", language: str = "zh+en", **edi) -> PartnerProfile:
    message = {"format": fmt}
    if FORMATS[fmt]:
        message.update(message=FORMATS[fmt][0], version=FORMATS[fmt][1])
    return PartnerProfile.model_validate({
        "partner_id": "SUP-001", "name": "华东轴承", "identity": {"language": language},
        "edi": {"our_id": "MESHUB", "their_id": "SUP-001", "syntax": syntax,
                "x12": {"our_id": "MESHUB", "their_id": "SUP001", "their_qualifier": "01"}, **edi},
        "messages": {"delivery_schedule": message}})


def line(material: str, day: int, quantity: str, commitment: str = "firm", uom: str = "H87",
         part: str | None = None) -> DeliveryScheduleLine:
    return DeliveryScheduleLine(material_id=material, supplier_material_id=part, date=dt.date(2026, 12, day),
                                quantity=Decimal(quantity), uom=uom, commitment=commitment)


def schedule(**kw) -> DeliverySchedule:
    fields = dict(
        schedule_id="DS-SUP-001", supplier_id="SUP-001", ship_to_id="PLANT-01", version=2,
        issued_at=dt.datetime(2026, 11, 26, 1, 30, tzinfo=dt.timezone.utc),
        horizon_start=dt.date(2026, 11, 30), horizon_end=dt.date(2027, 1, 10),
        lines=[
            # deliberately out of order: the writers sort by material (first seen) and date
            line("1.02.0033", 20, "1200", "forecast"),
            line("1.02.0033", 2, "500.000", "firm", part="B-6204"),
            line("2.01.0007", 1, "12.5", "firm", uom="KGM"),
            line("1.02.0033", 9, "0.25", "firm"),
        ])
    fields.update(kw)
    return DeliverySchedule(**fields)


def render(fmt: str = "edifact", sched: DeliverySchedule | None = None, **kw) -> RenderedSchedule:
    prof = kw.pop("prof", None) or profile(fmt)
    kw.setdefault("control_ref", "42")
    kw.setdefault("now", NOW)
    return render_delivery_schedule(sched or schedule(), prof, **kw)


def expected_lines(sched: DeliverySchedule) -> list[tuple]:
    return sorted((l.material_id, l.date, l.quantity, l.commitment) for l in sched.lines)


# ------------------------------------------------------------------------------ EDIFACT DELFOR
def delfor_lines(segments) -> list[tuple]:
    """A supplier's reading: LIN names the material, SCC the commitment, QTY+113 pairs with DTM+2."""
    commitment = {"1": "firm", "4": "forecast"}
    out, material, status, quantity = [], None, None, None
    for tag, elements in segments:
        if tag == "LIN":
            material = elements[2][0]
        elif tag == "SCC":
            status = commitment[elements[0] if isinstance(elements[0], str) else elements[0][0]]
        elif tag == "QTY" and elements[0][0] == "113":
            quantity = Decimal(elements[0][1])
        elif tag == "DTM" and elements[0][0] == "2":
            out.append((material, dt.datetime.strptime(elements[0][1], "%Y%m%d").date(), quantity, status))
    return sorted(out)


def read_ours(data: bytes):
    inter = parse_interchange(data, "out.edi")
    (msg,) = list(inter.iter_messages())
    assert inter.errors == [] and msg.ok
    return inter, msg


def read_pydifact(data: bytes, charset: str = "latin-1"):
    from pydifact.segmentcollection import Interchange

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydifact ships no D96A directory: structure is not validated
        inter = Interchange.from_str(data.decode(charset))
        (msg,) = list(inter.get_messages())
        return inter, msg, [(s.tag, s.elements) for s in msg.segments]


def test_delfor_segments_as_a_d96a_reader_expects_them():
    result = render()
    assert (result.filename, result.standard, result.control_ref) == ("DELFOR_DS-SUP-001_v2_42.edi", "edifact", "42")
    inter, msg = read_ours(result.content)
    assert (inter.sender, inter.recipient, inter.control_ref, inter.syntax) == ("MESHUB", "SUP-001", "42", "UNOC")
    assert (msg.type, msg.version, msg.release, msg.agency, msg.ref) == ("DELFOR", "D", "96A", "UN", "42")
    assert [(s.tag, s.elements) for s in msg.segments][1:-1] == [
        ("BGM", [["241"], ["DS-SUP-001"], ["5"]]),               # version 2 replaces version 1
        ("DTM", [["137", "202611260930", "203"]]),               # 01:30 UTC on the Shanghai wall clock
        ("DTM", [["158", "20261130", "102"]]),
        ("DTM", [["159", "20270110", "102"]]),
        ("RFF", [["AAN", "DS-SUP-001", "", "2"]]),
        ("RFF", [["AIF", "DS-SUP-001", "", "1"]]),
        ("NAD", [["BY"], ["MESHUB", "", "9"]]),
        ("NAD", [["SU"], ["SUP-001", "", "9"]]),
        ("UNS", [["D"]]),
        ("NAD", [["ST"], ["PLANT-01", "", "9"]]),
        ("LIN", [["1"], [""], ["1.02.0033", "IN"]]),
        ("PIA", [["1"], ["B-6204", "SA"]]),
        ("SCC", [["1"]]),
        ("QTY", [["113", "500", "H87"]]),                        # 500.000 without trailing zeros
        ("DTM", [["2", "20261202", "102"]]),
        ("QTY", [["113", "0.25", "H87"]]),
        ("DTM", [["2", "20261209", "102"]]),
        ("SCC", [["4"]]),
        ("QTY", [["113", "1200", "H87"]]),
        ("DTM", [["2", "20261220", "102"]]),
        ("LIN", [["2"], [""], ["2.01.0007", "IN"]]),
        ("SCC", [["1"]]),
        ("QTY", [["113", "12.5", "KGM"]]),
        ("DTM", [["2", "20261201", "102"]]),
    ]


def test_delfor_round_trips_through_our_tokenizer_and_pydifact():
    sched = schedule()
    data = render(sched=sched).content
    _, msg = read_ours(data)
    ours = [(s.tag, [e if len(e) > 1 else e[0] for e in s.elements]) for s in msg.segments]
    assert delfor_lines(ours) == expected_lines(sched)
    inter, pmsg, segments = read_pydifact(data)
    assert (inter.sender, inter.recipient, inter.control_reference) == ("MESHUB", "SUP-001", "42")
    assert (pmsg.type, pmsg.version, pmsg.reference_number) == ("DELFOR", "D.96A", "42")
    assert delfor_lines(segments) == expected_lines(sched)


def test_first_version_is_an_original_without_previous_reference_and_ship_to_defaults_to_the_buyer():
    _, msg = read_ours(render(sched=schedule(version=1, ship_to_id=None, issued_at=None)).content)
    tags = {s.tag: s for s in reversed(msg.segments)}  # first occurrence wins
    assert msg.segments[1].elements == [["241"], ["DS-SUP-001"], ["9"]]
    assert [s.elements for s in msg.segments if s.tag == "RFF"] == [[["AAN", "DS-SUP-001", "", "1"]]]
    assert [s.get(1) for s in msg.segments if s.tag == "NAD"] == ["MESHUB", "SUP-001", "MESHUB"]
    # no issued_at: "now" (02:00 UTC) on the partner's clock
    assert tags["DTM"].elements == [["137", "202611261000", "203"]]


def test_delfor_envelope_uses_the_profile_qualifiers():
    prof = profile(our_qualifier="ZZZ", their_qualifier="14", their_id="4098765000002")
    inter, _ = read_ours(render(prof=prof).content)
    assert (inter.sender, inter.sender_qualifier, inter.recipient, inter.recipient_qualifier) == (
        "MESHUB", "ZZZ", "4098765000002", "14")


def test_delfor_is_acknowledgeable_by_the_partners_contrl():
    (ack,) = edi_acks.edifact_acks(render().content)
    assert (ack.interchange_ref, ack.result, [m.type for m in ack.messages]) == ("42", "accepted", ["DELFOR"])


# ------------------------------------------------------------------------------ X12 830
def test_830_segments_and_round_trip_through_our_x12_parser():
    sched = schedule()
    result = render("x12", sched)
    assert (result.filename, result.standard, result.control_ref) == (
        "830_DS-SUP-001_v2_000000042.x12", "x12", "000000042")
    inter = x12.parse_interchange(result.content, "out.x12")
    (txn,) = inter.transactions()
    assert inter.errors == [] and inter.control_ref == "000000042"
    assert (inter.sender.strip(), inter.receiver.strip()) == ("MESHUB", "SUP001")
    assert (txn.set_id, txn.control, txn.group.functional_id, txn.group.control) == ("830", "0042", "PS", "42")
    segs = [(s.tag, [e[0] if len(e) == 1 else e for e in s.elements]) for s in txn.segments]
    assert segs[1:5] == [
        ("BFR", ["05", "DS-SUP-001", "2", "DL", "A", "20261130", "20270110", "20261126"]),
        ("N1", ["BY", "", "92", "MESHUB"]), ("N1", ["SU", "", "92", "SUP-001"]), ("N1", ["ST", "", "92", "PLANT-01"])]
    assert segs[5:] == [
        ("LIN", ["", "BP", "1.02.0033", "VP", "B-6204"]), ("UIT", ["EA"]),
        ("FST", ["500", "C", "D", "20261202"]), ("FST", ["0.25", "C", "D", "20261209"]),
        ("FST", ["1200", "D", "D", "20261220"]),
        ("LIN", ["", "BP", "2.01.0007"]), ("UIT", ["KG"]), ("FST", ["12.5", "C", "D", "20261201"]),
        ("CTT", ["2"]), ("SE", ["15", "0042"])]  # ST..SE: 15 segments
    back, material = [], None
    for tag, elements in segs:
        if tag == "LIN":
            material = elements[2]
        elif tag == "FST":
            back.append((material, dt.datetime.strptime(elements[3], "%Y%m%d").date(), Decimal(elements[0]),
                         {"C": "firm", "D": "forecast"}[elements[1]]))
    assert sorted(back) == expected_lines(sched)
    (ack,) = edi_acks.x12_acks(result.content)
    assert (ack.group_ref, ack.result) == ("42", "accepted")


def test_830_refuses_a_value_holding_an_x12_delimiter_and_a_non_numeric_control_number():
    sched = schedule(lines=[line("M*1", 2, "1")])
    with pytest.raises(SkippableError) as err:
        render("x12", sched)
    assert err.value.code == "DELIMITER_IN_DATA" and "M*1" in err.value.message
    assert "SUP-001/DS-SUP-001 v2" in err.value.where and "LIN03" in err.value.where
    with pytest.raises(FatalError) as err:
        render("x12", control_ref="A1")
    assert err.value.code == "SCHEDULE_ENVELOPE_INVALID"


# ------------------------------------------------------------------------------ golden files
GOLDEN_NAMES = {"edifact": "DELFOR_D96A_DS-SUP-001_v2.edi", "x12": "830_004010_DS-SUP-001_v2.x12",
                "csv": "DS-SUP-001_v2.csv", "xlsx": "DS-SUP-001_v2.xlsx"}
CHANGES = [
    {"kind": "quantity_changed", "material_id": "1.02.0033", "uom": "H87", "old_date": "2026-12-02",
     "new_date": "2026-12-02", "old_quantity": "400", "new_quantity": "500", "requires_approval": True},
    {"kind": "added", "material_id": "2.01.0007", "uom": "KGM", "old_date": None, "new_date": "2026-12-01",
     "old_quantity": None, "new_quantity": "12.5", "requires_approval": False},
]


def xlsx_cells(data: bytes) -> dict[str, list[list]]:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data))
    return {sheet.title: [list(row) for row in sheet.iter_rows(values_only=True)] for sheet in book.worksheets}


@pytest.mark.parametrize("fmt", list(GOLDEN_NAMES))
def test_golden_file_per_format(fmt):
    content = render(fmt, changes=CHANGES).content
    path = GOLDEN / GOLDEN_NAMES[fmt]
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(content)
    if fmt == "xlsx":
        # the zip's deflate output may differ between zlib builds; the cells may not
        assert xlsx_cells(content) == xlsx_cells(path.read_bytes())
    else:
        assert content == path.read_bytes()


@pytest.mark.parametrize("fmt", list(GOLDEN_NAMES))
def test_same_input_twice_gives_identical_bytes(fmt):
    first = render(fmt, changes=CHANGES)
    assert render(fmt, changes=CHANGES) == first
    # and only "now" moves the envelope / document properties
    assert render(fmt, changes=CHANGES, now=NOW + dt.timedelta(days=1)).content != first.content or fmt == "csv"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_spreadsheets_have_no_interchange_to_acknowledge(fmt):
    result = render(fmt, changes=CHANGES, control_ref="ignored")
    assert (result.filename, result.standard, result.control_ref) == (f"DS-SUP-001_v2.{fmt}", None, None)


def test_edi_carries_the_full_schedule_whatever_the_changes():
    assert render(changes=CHANGES).content == render().content
    assert render("x12", changes=CHANGES).content == render("x12").content


# ------------------------------------------------------------------------------ hostile input
def test_release_characters_in_ids_are_escaped_and_read_back_by_both_parsers():
    hostile = "A?B+C:D'E"
    sched = schedule(schedule_id="DS:1+'?", lines=[line(hostile, 3, "7", part="P'+:?x")])
    data = render(sched=sched).content
    assert b"A??B?+C?:D?'E" in data
    _, msg = read_ours(data)
    by_tag = {s.tag: s for s in msg.segments}
    assert (by_tag["LIN"].get(2), by_tag["PIA"].get(1), msg.segments[1].get(1)) == (hostile, "P'+:?x", "DS:1+'?")
    _, _, segments = read_pydifact(data)
    assert dict(segments)["LIN"][2][0] == hostile and dict(segments)["PIA"][1][0] == "P'+:?x"
    assert delfor_lines(segments) == [(hostile, dt.date(2026, 12, 3), Decimal(7), "firm")]


def test_schedule_id_cannot_steer_the_file_name():
    result = render(sched=schedule(schedule_id="../../etc/passwd"))
    assert "/" not in result.filename and not result.filename.startswith(".")
    assert result.filename == "DELFOR_etc_passwd_v2_42.edi"


def test_non_ascii_latin1_names_travel_in_unoc_and_cjk_needs_a_utf8_syntax():
    sched = schedule(lines=[line("Lager-Größe", 3, "1")])
    _, _, segments = read_pydifact(render(sched=sched).content, "latin-1")
    assert dict(segments)["LIN"][2][0] == "Lager-Größe"
    cjk = schedule(lines=[line("轴承-6204", 3, "1")])
    with pytest.raises(SkippableError) as err:
        render(sched=cjk)
    assert err.value.code == "CHARSET_MISMATCH" and "DS-SUP-001" in err.value.where and "UNOW" in err.value.message
    data = render(sched=cjk, prof=profile(syntax="UNOW")).content
    _, msg = read_ours(data)
    assert [s.get(2) for s in msg.segments if s.tag == "LIN"] == ["轴承-6204"]
    assert dict(read_pydifact(data, "utf-8")[2])["LIN"][2][0] == "轴承-6204"
    # X12 is written as UTF-8 by our writer and read back the same
    (txn,) = x12.parse_interchange(render("x12", cjk).content).transactions()
    assert [s.get(2) for s in txn.segments if s.tag == "LIN"] == ["轴承-6204"]


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_zero_lines_are_rejected_in_every_format(fmt):
    empty = schedule().model_copy(update={"lines": []})  # model_copy does not validate
    with pytest.raises(SkippableError) as err:
        render(fmt, empty)
    assert err.value.code == "SCHEDULE_EMPTY" and "SUP-001/DS-SUP-001" in err.value.where


@pytest.mark.parametrize("quantity,text", [
    ("1E+3", "1000"), ("0.000", "0"), ("999999999999999", "999999999999999"), ("12345678901234.5", "12345678901234.5"),
    ("0.00000000000001", "0.00000000000001")])
def test_quantities_are_plain_decimals_up_to_15_digits(quantity, text):
    assert quantity_text(Decimal(quantity)) == text
    sched = schedule(lines=[line("M-1", 3, quantity)])
    _, msg = read_ours(render(sched=sched).content)
    assert [s.get(0, 1) for s in msg.segments if s.tag == "QTY"] == [text]
    assert Decimal(text) == Decimal(quantity)


@pytest.mark.parametrize("quantity,code", [
    ("1000000000000000", "SCHEDULE_QUANTITY_TOO_LONG"), ("1E+20", "SCHEDULE_QUANTITY_TOO_LONG"),
    ("0.000000000000001", "SCHEDULE_QUANTITY_TOO_LONG"), ("-1", "SCHEDULE_QUANTITY_INVALID"),
    ("NaN", "SCHEDULE_QUANTITY_INVALID"), ("Infinity", "SCHEDULE_QUANTITY_INVALID")])
@pytest.mark.parametrize("fmt", ["edifact", "x12", "csv", "xlsx"])
def test_unwritable_quantities_are_refused_naming_the_line(quantity, code, fmt):
    sched = schedule(lines=[line("M-1", 3, "1"), line("M-2", 4, "1")])
    sched = sched.model_copy(update={"lines": [sched.lines[0], sched.lines[1].model_copy(
        update={"quantity": Decimal(quantity)})]})
    with pytest.raises(SkippableError) as err:
        render(fmt, sched)
    assert err.value.code == code and "line 2 (M-2 2026-12-04)" in err.value.where


def test_a_schedule_for_another_supplier_is_never_rendered():
    with pytest.raises(FatalError) as err:
        render(sched=schedule(supplier_id="SUP-002"))
    assert err.value.code == "SCHEDULE_PARTNER_MISMATCH"


def test_profile_without_or_with_an_unsupported_delivery_schedule_message():
    bare = profile().model_copy(update={"messages": {}})
    with pytest.raises(FatalError) as err:
        render(prof=bare)
    assert err.value.code == "MESSAGE_NOT_CONFIGURED" and "messages.delivery_schedule" in err.value.where
    deljit = PartnerProfile.model_validate({**profile().model_dump(), "messages": {
        "delivery_schedule": {"format": "edifact", "message": "DELJIT", "version": "D96A"}}})
    with pytest.raises(FatalError) as err:
        render(prof=deljit)
    assert err.value.code == "MESSAGE_NOT_SUPPORTED" and "DELFOR D96A" in err.value.message
    # a format that is no file (the Jiandaoyun portal) is never rendered as some spreadsheet
    settings = profile("csv").messages["delivery_schedule"].model_copy(update={"format": "portal"})
    portal = profile("csv").model_copy(update={"messages": {"delivery_schedule": settings}})
    with pytest.raises(FatalError) as err:
        render(prof=portal)
    assert err.value.code == "MESSAGE_NOT_SUPPORTED" and "portal" in err.value.message


def test_horizon_ending_before_it_starts_is_refused():
    with pytest.raises(SkippableError) as err:
        render(sched=schedule(horizon_end=dt.date(2026, 11, 1)))
    assert err.value.code == "SCHEDULE_HORIZON_INVALID"
