"""Hub -> supplier: a DeliverySchedule rendered as the file the supplier's profile asks for.

``render_delivery_schedule`` is the one entry point the plan-run flow calls: it reads the
profile's ``messages.delivery_schedule`` (format edifact | x12 | csv | xlsx), checks the
schedule once for every format, and returns the file name and bytes to upload plus what the
interchange register needs (standard, control reference). EDI carries the *full* schedule (a
supplier's planning system replaces what it holds); the spreadsheets add the ``changes`` since
the last version for the person who reads them (adapters/sftp/spreadsheets.py).

DELFOR D96A (UN, no EANCOM association code: we follow the UN D96A layout, not an EANCOM subset)::

    BGM+241+<schedule id>+9 (version 1) | 5 (replacement, version > 1)
    DTM+137 issued (CCYYMMDDHHMM, 203, the partner's wall clock), DTM+158 / DTM+159 horizon
    RFF+AAN:<schedule id>::<version>     delivery schedule number, version in C506/4000 (INFERRED)
    RFF+AIF:<schedule id>::<version - 1> previous schedule, on a replacement (INFERRED)
    NAD+BY / NAD+SU (header SG2), UNS+D
    NAD+ST (detail SG4 starts with the delivery point in D96A; GIS came with D97A; INFERRED
           from published D96A implementation guides), the buyer when the schedule names none
    per material and unit: LIN (7143 IN, buyer's item number), PIA+1 ...:SA when a supplier part
    number is known, then per commitment SCC+1 (firm) / SCC+4 (planning, forecast) followed by
    QTY+113 (quantity to be delivered) and DTM+2 (delivery date) pairs, dates ascending.

X12 830 004010 (GS01 PS)::

    BFR*00 (version 1) | 05 (replace)*<schedule id>*<version>*DL*A*<horizon start>*<end>*<issued>
         BFR02 reference identification and BFR03 release number (INFERRED: the version as the
         release number)
    N1*BY / N1*SU / N1*ST (N103 92, assigned by buyer)
    per material and unit: LIN**BP*<material>[*VP*<supplier part>], UIT*<unit>,
    FST*<qty>*C (firm) | D (planning)*D (discrete)*<date>; CTT*<number of LIN>.

Quantities: plain decimal notation, no exponent, no trailing zeros, at most 15 digits (EDIFACT
6060 n..15, X12 R..15; spreadsheets keep the same bound so Excel's 15-digit doubles stay exact).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Optional, Sequence, Union

from adapters.edi.x12_messages import X12_UNITS
from adapters.edi.writer import EdifactWriter
from adapters.edi.x12_writer import X12Writer
from canonical_model.documents import DeliverySchedule, DeliveryScheduleLine
from hub.errors import FatalError, HubError, SkippableError
from hub.partners import MessageSettings, PartnerProfile

#: what each format may be configured as in ``messages.delivery_schedule``
SUPPORTED_EDI = {"edifact": ("DELFOR", "D96A"), "x12": ("830", "004010")}
SPREADSHEET_FORMATS = ("csv", "xlsx")
#: SCC 4017 delivery plan status indicator: 1 firm, 4 planning/forecast
SCC_CODES = {"firm": "1", "forecast": "4"}
#: X12 FST02 forecast qualifier: C firm, D planning
FST_CODES = {"firm": "C", "forecast": "D"}
#: EDIFACT 6060 is n..15, X12 FST01 R1/15: digits, decimal mark and sign not counted
MAX_QUANTITY_DIGITS = 15

_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class RenderedSchedule:
    filename: str
    content: bytes
    standard: Optional[str]      # "edifact" | "x12"; None for spreadsheets (nothing to acknowledge)
    control_ref: Optional[str]   # the interchange's own reference (X12: ISA13, zero-padded)


# ------------------------------------------------------------------------------ checks shared by every format
def quantity_text(value: Decimal, where: str = "") -> str:
    """``Decimal("1.500")`` -> ``"1.5"``, ``Decimal("1E+3")`` -> ``"1000"``; refuses what no partner can read."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise SkippableError("SCHEDULE_QUANTITY_INVALID", f"quantity {value!r} is not a finite decimal", where)
    if value < 0:
        raise SkippableError("SCHEDULE_QUANTITY_INVALID", f"quantity {value} is negative", where)
    text = format(value.normalize(), "f")
    digits = sum(ch.isdigit() for ch in text)  # as written: "0.5" is two digits
    if digits > MAX_QUANTITY_DIGITS:
        raise SkippableError("SCHEDULE_QUANTITY_TOO_LONG",
                             f"quantity {text} has {digits} digits; EDIFACT/X12 quantities hold at most "
                             f"{MAX_QUANTITY_DIGITS}: check the plan's unit or split the line", where)
    return text


def line_where(schedule: DeliverySchedule, index: int, line: DeliveryScheduleLine) -> str:
    return f"DeliverySchedule {schedule.business_key} v{schedule.version} line {index} ({line.material_id} {line.date})"


def check_schedule(schedule: DeliverySchedule, profile: PartnerProfile) -> None:
    """What every format relies on; a schedule that fails is skipped (quarantined), not half sent."""
    where = f"DeliverySchedule {schedule.business_key} v{schedule.version}"
    if schedule.supplier_id != profile.supplier_id:
        # sending one supplier's plan to another leaks it: a wiring mistake, never a data one
        raise FatalError("SCHEDULE_PARTNER_MISMATCH",
                         f"schedule is for supplier {schedule.supplier_id}, profile {profile.partner_id} is supplier "
                         f"{profile.supplier_id}", where)
    if not schedule.lines:
        # the model refuses it, but model_copy/model_construct do not validate: an empty DELFOR
        # would tell the supplier to cancel everything
        raise SkippableError("SCHEDULE_EMPTY", "a delivery schedule without lines cannot be sent; "
                             "send a schedule with zero quantities to cancel deliveries", where)
    if schedule.horizon_end < schedule.horizon_start:
        raise SkippableError("SCHEDULE_HORIZON_INVALID",
                             f"horizon ends {schedule.horizon_end} before it starts {schedule.horizon_start}", where)
    for index, line in enumerate(schedule.lines, start=1):
        quantity_text(line.quantity, line_where(schedule, index, line))


def schedule_items(schedule: DeliverySchedule) -> list[tuple[str, str, Optional[str], list[DeliveryScheduleLine]]]:
    """``(material, unit, supplier part, lines)`` per material and unit, in first-seen order;
    lines by date, firm before forecast on the same day."""
    items: dict[tuple[str, str], list[DeliveryScheduleLine]] = {}
    for line in schedule.lines:
        items.setdefault((line.material_id, line.uom), []).append(line)
    result = []
    for (material, uom), lines in items.items():
        part = next((l.supplier_material_id for l in lines if l.supplier_material_id), None)
        result.append((material, uom, part, sorted(lines, key=lambda l: (l.date, l.commitment != "firm"))))
    return result


def safe_name(text: str) -> str:
    """A file-name part: ids may hold anything, an SFTP name must stay a plain basename."""
    return _UNSAFE_IN_NAME.sub("_", text).strip("._") or "_"


def _issued(schedule: DeliverySchedule, profile: PartnerProfile, now: dt.datetime) -> dt.datetime:
    # the supplier reads the issue time on its own wall clock (naive = UTC, as everywhere in the hub)
    return profile.local_time(schedule.issued_at or now)


# ------------------------------------------------------------------------------ EDIFACT DELFOR D96A
def _date(value: dt.date) -> list[str]:
    return [value.strftime("%Y%m%d"), "102"]


def delfor_segments(schedule: DeliverySchedule, *, buyer: str, issued: dt.datetime) -> list[tuple[str, list]]:
    """The DELFOR body between UNH and UNT (layout in the module docstring)."""
    segs: list[tuple[str, list]] = [
        ("BGM", ["241", schedule.schedule_id, "5" if schedule.version > 1 else "9"]),
        ("DTM", [["137", issued.strftime("%Y%m%d%H%M"), "203"]]),
        ("DTM", [["158", *_date(schedule.horizon_start)]]),
        ("DTM", [["159", *_date(schedule.horizon_end)]]),
        ("RFF", [["AAN", schedule.schedule_id, None, str(schedule.version)]]),
    ]
    if schedule.version > 1:
        segs.append(("RFF", [["AIF", schedule.schedule_id, None, str(schedule.version - 1)]]))
    segs += [("NAD", ["BY", [buyer, None, "9"]]),
             ("NAD", ["SU", [schedule.supplier_id, None, "9"]]),
             ("UNS", ["D"]),
             ("NAD", ["ST", [schedule.ship_to_id or buyer, None, "9"]])]
    for n, (material, _uom, part, lines) in enumerate(schedule_items(schedule), start=1):
        segs.append(("LIN", [str(n), None, [material, "IN"]]))
        if part:
            segs.append(("PIA", ["1", [part, "SA"]]))
        status = None
        for line in lines:
            if line.commitment != status:
                status = line.commitment
                segs.append(("SCC", [SCC_CODES[status]]))
            segs.append(("QTY", [["113", quantity_text(line.quantity), line.uom]]))
            segs.append(("DTM", [["2", *_date(line.date)]]))
    return segs


def _party(party_id: str, qualifier: Optional[str]) -> Union[str, list]:
    return [party_id, qualifier] if qualifier else party_id


def render_delfor(schedule: DeliverySchedule, profile: PartnerProfile, *, control_ref: str,
                  now: dt.datetime) -> RenderedSchedule:
    edi = profile.edi
    where = f"DeliverySchedule {schedule.business_key} v{schedule.version} to {profile.partner_id}"
    try:
        writer = EdifactWriter(_party(edi.our_id, edi.our_qualifier), _party(edi.their_id, edi.their_qualifier),
                               control_ref, syntax=edi.syntax, prepared=now)
    except ValueError as exc:  # control reference or syntax identifier: the caller's wiring
        raise FatalError("SCHEDULE_ENVELOPE_INVALID", str(exc), where) from None
    writer.add_message("DELFOR", "D", "96A", "UN", None,
                       delfor_segments(schedule, buyer=edi.our_id, issued=_issued(schedule, profile, now)),
                       ref=control_ref)
    try:
        content = writer.to_bytes()
    except HubError as exc:  # CHARSET_MISMATCH: say which schedule, keep the writer's advice
        raise SkippableError(exc.code, exc.message, where) from None
    name = f"DELFOR_{safe_name(schedule.schedule_id)}_v{schedule.version}_{safe_name(control_ref)}.edi"
    return RenderedSchedule(name, content, "edifact", control_ref)


# ------------------------------------------------------------------------------ X12 830 004010
def planning_schedule_segments(schedule: DeliverySchedule, *, buyer: str, issued: dt.datetime) -> list[tuple[str, list]]:
    """The 830 body between ST and SE (layout in the module docstring)."""
    segs: list[tuple[str, list]] = [
        ("BFR", ["05" if schedule.version > 1 else "00", schedule.schedule_id, str(schedule.version), "DL", "A",
                 schedule.horizon_start.strftime("%Y%m%d"), schedule.horizon_end.strftime("%Y%m%d"),
                 issued.strftime("%Y%m%d")]),
        ("N1", ["BY", None, "92", buyer]),
        ("N1", ["SU", None, "92", schedule.supplier_id]),
        ("N1", ["ST", None, "92", schedule.ship_to_id or buyer]),
    ]
    items = schedule_items(schedule)
    for material, uom, part, lines in items:
        ids: list = ["BP", material] + (["VP", part] if part else [])
        segs.append(("LIN", [None, *ids]))
        segs.append(("UIT", [X12_UNITS.get(uom, uom)]))
        for line in lines:
            segs.append(("FST", [quantity_text(line.quantity), FST_CODES[line.commitment], "D",
                                 line.date.strftime("%Y%m%d")]))
    segs.append(("CTT", [str(len(items))]))
    return segs


def render_830(schedule: DeliverySchedule, profile: PartnerProfile, *, control_ref: str,
               now: dt.datetime) -> RenderedSchedule:
    edi = profile.edi
    ids = edi.x12
    our_id, their_id = (ids.our_id, ids.their_id) if ids else (edi.our_id, edi.their_id)
    where = f"DeliverySchedule {schedule.business_key} v{schedule.version} to {profile.partner_id}"
    try:
        writer = X12Writer(our_id, their_id, control_ref, sender_qualifier=ids.our_qualifier if ids else "ZZ",
                           receiver_qualifier=ids.their_qualifier if ids else "ZZ", prepared=now)
        writer.add_group("PS", control_ref, "004010")
    except ValueError as exc:  # control number not 1..9 digits, ids too long: the caller's wiring
        raise FatalError("SCHEDULE_ENVELOPE_INVALID", str(exc), where) from None
    try:
        writer.add_transaction("830", control_ref, planning_schedule_segments(
            schedule, buyer=our_id, issued=_issued(schedule, profile, now)))
        content = writer.to_bytes()
    except HubError as exc:  # DELIMITER_IN_DATA: X12 has no release character; name the schedule too
        raise SkippableError(exc.code, exc.message, f"{where}, {exc.where}") from None
    isa13 = writer.control_ref
    name = f"830_{safe_name(schedule.schedule_id)}_v{schedule.version}_{isa13}.x12"
    return RenderedSchedule(name, content, "x12", isa13)


# ------------------------------------------------------------------------------ the entry point
def schedule_settings(profile: PartnerProfile) -> MessageSettings:
    settings = profile.messages.get("delivery_schedule")
    where = f"mappings/partners/{profile.partner_id}.yaml: messages.delivery_schedule"
    if settings is None:
        raise FatalError("MESSAGE_NOT_CONFIGURED",
                         f"partner {profile.partner_id} has no delivery_schedule message; add e.g. "
                         "'delivery_schedule: {format: edifact, message: DELFOR, version: D96A}'", where)
    if settings.format not in (*SUPPORTED_EDI, *SPREADSHEET_FORMATS):
        # e.g. "portal": published as a Jiandaoyun form by its own flow, there is no file to render
        raise FatalError("MESSAGE_NOT_SUPPORTED",
                         f"format {settings.format} is not a file; files are {', '.join(SUPPORTED_EDI)} or "
                         f"{', '.join(SPREADSHEET_FORMATS)}", where)
    wanted = SUPPORTED_EDI.get(settings.format)
    if wanted is not None and (settings.message, settings.version) != wanted:
        raise FatalError("MESSAGE_NOT_SUPPORTED",
                         f"{settings.describe()} is not written by the hub; {settings.format} delivery schedules are "
                         f"{' '.join(wanted)}", where)
    return settings


def render_delivery_schedule(schedule: DeliverySchedule, profile: PartnerProfile, *, control_ref: str,
                             changes: Sequence[dict] = (), now: dt.datetime) -> RenderedSchedule:
    """The file ``profile``'s supplier receives for ``schedule`` (same input, same bytes).

    ``control_ref`` numbers the EDI interchange (EDIFACT 1..14 characters, X12 1..9 digits;
    unused by spreadsheets); ``now`` stamps the envelope and the spreadsheet properties and
    stands in for ``schedule.issued_at`` when that is empty. ``changes`` are
    ``ScheduleChange.as_dict()`` rows, shown by spreadsheets only.
    """
    settings = schedule_settings(profile)
    check_schedule(schedule, profile)
    if settings.format == "edifact":
        return render_delfor(schedule, profile, control_ref=control_ref, now=now)
    if settings.format == "x12":
        return render_830(schedule, profile, control_ref=control_ref, now=now)
    # imported here: the spreadsheet writer imports this module's checks and number format
    from adapters.sftp import spreadsheets

    issued = _issued(schedule, profile, now)
    if settings.format == "csv":
        content = spreadsheets.delivery_schedule_csv(schedule, changes, language=profile.identity.language,
                                                     issued=issued)
    else:
        content = spreadsheets.delivery_schedule_xlsx(schedule, changes, language=profile.identity.language,
                                                      issued=issued, now=now)
    name = f"{safe_name(schedule.schedule_id)}_v{schedule.version}.{settings.format}"
    return RenderedSchedule(name, content, None, None)
