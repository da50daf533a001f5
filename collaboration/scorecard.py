"""Supplier scorecards: per supplier and month, five metrics, a weighted score and a grade A-D.

Pure core: ``score_suppliers`` works on canonical documents; ``scorecards_from_store`` and
``current_grades`` read the store and call it. Numbers (windows, tolerances, weights, grade
thresholds) come from ``mappings/scorecard.yaml`` (``load_config``). Grades feed
``collaboration.allocation.allocate(..., grades=current_grades(session))``.

Time: every timestamp is taken in the plant time zone of the config (``timezone``); one without
an offset is read as that local time. "The month" of a timestamp or date is its local
calendar month, ``YYYY-MM``. A scorecard is taken at a moment ``as_of`` (default: now): what
happened after it (receipts, answers, inspections, acknowledgements) is not seen yet, so a past
month can be reproduced as it stood.

Input hygiene (the same for every metric):

* one document per identity: purchase orders by ``po_number``, receipts by ``receipt_id``, ASNs
  by (supplier, ``asn_number``), inspections by ``inspection_id``, batches by ``batch_id``; a later
  copy in the input replaces an earlier one, as a new version does in the store. So a receipt
  delivered twice is counted once.
* a quantity <= 0 on a PO line, receipt line or ASN line is not a delivery: the line is skipped
  and a note says so.
* a document that contradicts another (a receipt for supplier X on a PO of supplier Y) is
  skipped with a note rather than guessed at.

Metrics
-------
**OTIF (on time in full)**, over *deliveries*: one delivery is one line of a purchase order that
is not cancelled and that the supplier did not reject (in its latest order response).

* due date: the delivery date the supplier promised for the line in its latest order response,
  else the PO line's ``delivery_date``; a line with neither is not scored (note).
* window: due date - ``otif.days_early`` .. due date + ``otif.days_late``, inclusive, in local
  dates of ``Receipt.received_at``. Early is a miss as much as late is.
* which receipts count for a line: receipt lines naming the PO and line; a receipt line naming
  only the PO is given to the PO's line of the same material when there is exactly one; one
  naming neither, to the line that the receipt's ASN names for that material, when exactly one.
* hit: the quantity received inside the window >= ordered x (1 - ``quantity_tolerance_pct``/100)
  (ordered = the PO line quantity; a quantity the supplier cuts in its answer is still short for
  the plant unless the buyer re-issues the PO). Over-delivery is not penalised here.
* the month of a delivery is the month of its due date. A delivery counts once it is a hit or
  its window has closed (``as_of`` local date after the window end); before, it is pending and
  not counted. ``otif`` = hits / deliveries.

**Lot acceptance** and **PPM**, over lots: a lot is a batch with at least one ``Inspection``;
its first inspection (earliest ``inspected_at``) decides, so re-inspection after rework does not
improve the first-pass figure. The supplier is the inspection's ``supplier_id``, else the
``Batch``'s, else the supplier of the inspection's PO. The month is that of ``inspected_at``.

* ``lot_acceptance`` = accepted lots / lots; accepted = result ``pass`` (``conditional`` too when
  ``quality.conditional_is_accepted``).
* ``ppm`` = sum of rejected quantity / sum of inspected quantity x 1,000,000 over the same
  first inspections (a rejected quantity above the inspected one is capped, with a note; lots
  with nothing inspected do not enter PPM). Quantities are added across materials as they
  stand (INFERRED: meaningful when lots are counted in pieces, as incoming QC counts them).

**Responsiveness** (``response_hours_median``): the median of hours, per month of the request:

* purchase orders: from 00:00 local on the PO's ``order_date`` (ERPs carry a date, not the time
  a PO went out) to the supplier's first ``OrderResponse.responded_at`` for it, whatever the
  answer (accepting, changing and rejecting are all answers). A PO still unanswered at ``as_of``
  ``unanswered_counts_as_hours`` after its order date counts as that many hours, if the supplier
  answers purchase orders at all (a supplier without any answer in the data is not asked to).
* plan changes: from ``sent_at`` to ``at`` of each ``schedule_acknowledged`` audit entry on a
  ``DeliverySchedule`` (``PlanAck``); an entry missing either is no data.
* a negative duration (answered before the request) is skipped with a note.

**ASN accuracy**, over received ASNs: an active ``ShipmentNotice`` with at least one receipt
naming its ``asn_number`` (and the same supplier when the receipt names one). Its month is that of
its first receipt. It is accurate when, per material (per material and lot when the ASN names lots
for that material; receipt batch ids ``<supplier>:<lot>`` are compared by lot), the quantity
received equals the quantity advised within ``asn.quantity_tolerance_pct`` and nothing was
received that the ASN did not advise. ``asn_accuracy`` = accurate / received ASNs. ASNs not yet
received and receipts without an ASN are not counted.

Score and grade
---------------
Each metric becomes points 0..100: OTIF, lot acceptance and ASN accuracy x 100; PPM and response
hours linearly between their full-marks and zero-marks values. The score is the weighted mean of
the points of the metrics that have data: a metric without data is ``None`` and drops out with
its weight, never counted as 0 or 100 (a note names it). No metric with data, no score. The
score is rounded to one decimal (half up) and the grade read from the rounded score: the first
of A, B, C whose threshold it reaches, else D. Metric values are rounded for reporting only
(ratios 4 decimals, PPM and hours 1); the score is computed from the exact values.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from canonical_model.documents import (Batch, Inspection, OrderResponse, PurchaseOrder, Receipt, ReceiptLine,
                                       ShipmentNotice, supplier_lot)
from hub.errors import FatalError

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = REPO_ROOT / "mappings" / "scorecard.yaml"
METRICS = ("otif", "lot_acceptance", "ppm", "responsiveness", "asn_accuracy")
GRADE_ORDER = ("A", "B", "C")  # below the C threshold: D
MONTH_PATTERN = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
CONFIG_INVALID = "SCORECARD_CONFIG_INVALID"
HUNDRED = Decimal(100)
ZERO = Decimal(0)


# --------------------------------------------------------------------------- results


def _text(value: Optional[Decimal]) -> Optional[str]:
    return None if value is None else format(value, "f")


@dataclass(frozen=True)
class SupplierScore:
    supplier_id: str
    month: str
    #: deliveries (PO lines) counted for OTIF: hits plus closed misses
    deliveries: int
    otif: Optional[Decimal]
    lots: int
    lot_acceptance: Optional[Decimal]
    ppm: Optional[Decimal]
    response_hours_median: Optional[Decimal]
    asn_accuracy: Optional[Decimal]
    score: Optional[Decimal]
    grade: Optional[str]
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: decimals as strings (exact), ``None`` as null."""
        return {"supplier_id": self.supplier_id, "month": self.month, "deliveries": self.deliveries,
                "otif": _text(self.otif), "lots": self.lots, "lot_acceptance": _text(self.lot_acceptance),
                "ppm": _text(self.ppm), "response_hours_median": _text(self.response_hours_median),
                "asn_accuracy": _text(self.asn_accuracy), "score": _text(self.score), "grade": self.grade,
                "notes": list(self.notes)}


@dataclass(frozen=True)
class PlanAck:
    """A supplier's acknowledgement of a changed delivery schedule (from the audit log)."""

    supplier_id: str
    sent_at: dt.datetime
    acknowledged_at: dt.datetime
    #: the schedule's business key, for notes
    ref: str = ""


# --------------------------------------------------------------------------- config


@dataclass(frozen=True)
class ScorecardConfig:
    timezone: ZoneInfo
    otif_days_early: int
    otif_days_late: int
    #: fractions (2 % is 0.02)
    otif_quantity_tolerance: Decimal
    conditional_is_accepted: bool
    ppm_full_marks: Decimal
    ppm_zero_marks: Decimal
    response_full_marks_hours: Decimal
    response_zero_marks_hours: Decimal
    unanswered_counts_as_hours: Optional[Decimal]
    asn_quantity_tolerance: Decimal
    weights: Mapping[str, Decimal]
    #: (grade, lowest score) from A down to C
    grade_thresholds: tuple[tuple[str, Decimal], ...]

    def grade(self, score: Decimal) -> str:
        for grade, lowest in self.grade_thresholds:
            if score >= lowest:
                return grade
        return "D"


def _display(path: Path) -> str:
    try:
        return path.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


class _Yaml:
    """A YAML mapping document with the line (1-based) of every key, for messages ``file:line``."""

    def __init__(self, text: str, display: str) -> None:
        self.display = display
        self.lines: dict[tuple[str, ...], int] = {}
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            if not isinstance(node, yaml.MappingNode):
                raise FatalError(CONFIG_INVALID, "the file is not a YAML mapping (key: value lines)", f"{display}:1")
            self.data = self._build(loader, node, ())
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            raise FatalError(CONFIG_INVALID, f"YAML syntax: {exc.problem or exc}",
                             f"{display}:{mark.line + 1}" if mark else display) from None
        except yaml.YAMLError as exc:
            raise FatalError(CONFIG_INVALID, f"YAML: {exc}", display) from None
        finally:
            loader.dispose()

    def _build(self, loader: yaml.SafeLoader, node: yaml.Node, path: tuple[str, ...]) -> Any:
        if not isinstance(node, yaml.MappingNode):
            return loader.construct_object(node, deep=True)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(loader.construct_object(key_node, deep=True))
            line = key_node.start_mark.line + 1
            if key in out:
                # YAML keeps the last of two equal keys silently; in a config that hides a mistake
                raise FatalError(CONFIG_INVALID, f"{'.'.join((*path, key))}: duplicate key", f"{self.display}:{line}")
            self.lines[(*path, key)] = line
            out[key] = self._build(loader, value_node, (*path, key))
        return out

    def where(self, path: tuple[str, ...]) -> str:
        for n in range(len(path), 0, -1):  # a missing key: the line of its section
            if path[:n] in self.lines:
                return f"{self.display}:{self.lines[path[:n]]}"
        return f"{self.display}:1"

    def fail(self, path: tuple[str, ...], rule: str) -> FatalError:
        return FatalError(CONFIG_INVALID, f"{'.'.join(path)}: {rule}", self.where(path))

    def section(self, path: tuple[str, ...], keys: Sequence[str]) -> dict[str, Any]:
        node: Any = self.data
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            raise self.fail(path, "missing or not a mapping" if path else "not a mapping")
        for key in node:
            if key not in keys:
                raise self.fail((*path, key), f"unknown key; expected one of {', '.join(keys)}")
        for key in keys:
            if key not in node:
                raise self.fail((*path, key), "missing")
        return node

    def number(self, path: tuple[str, ...], value: Any, *, low: Decimal = ZERO,
               high: Optional[Decimal] = None) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(path, f"must be a number, got {value!r}")
        number = Decimal(str(value))
        if not number.is_finite() or number < low or (high is not None and number > high):
            span = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise self.fail(path, f"must be {span}, got {value!r}")
        return number

    def whole(self, path: tuple[str, ...], value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(path, f"must be a whole number of days >= 0, got {value!r}")
        return value


def load_config(path: Path | str | None = None) -> ScorecardConfig:
    """Read and check the scorecard config (default ``mappings/scorecard.yaml``);
    ``FatalError SCORECARD_CONFIG_INVALID`` at ``file:line`` naming the key and the rule."""
    path = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    display = _display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FatalError(CONFIG_INVALID, f"cannot read the scorecard config: {type(exc).__name__}", display) from None
    doc = _Yaml(text, display)
    top = doc.section((), ("timezone", "otif", "quality", "responsiveness", "asn", "weights", "grades"))
    try:
        zone = ZoneInfo(top["timezone"]) if isinstance(top["timezone"], str) else None
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    if zone is None:
        raise doc.fail(("timezone",), f"unknown IANA time zone {top['timezone']!r} (e.g. Asia/Shanghai)")

    otif = doc.section(("otif",), ("days_early", "days_late", "quantity_tolerance_pct"))
    quality = doc.section(("quality",), ("conditional_is_accepted", "ppm_full_marks", "ppm_zero_marks"))
    resp = doc.section(("responsiveness",), ("full_marks_hours", "zero_marks_hours", "unanswered_counts_as_hours"))
    asn = doc.section(("asn",), ("quantity_tolerance_pct",))
    weights_node = doc.section(("weights",), METRICS)
    grades_node = doc.section(("grades",), GRADE_ORDER)

    def pct(section: str, key: str, value: Any) -> Decimal:
        return doc.number((section, key), value, high=HUNDRED) / HUNDRED

    if not isinstance(quality["conditional_is_accepted"], bool):
        raise doc.fail(("quality", "conditional_is_accepted"), "must be true or false")
    ppm_full = doc.number(("quality", "ppm_full_marks"), quality["ppm_full_marks"])
    ppm_zero = doc.number(("quality", "ppm_zero_marks"), quality["ppm_zero_marks"])
    if ppm_zero <= ppm_full:
        raise doc.fail(("quality", "ppm_zero_marks"), f"must be above ppm_full_marks ({ppm_full})")
    full_hours = doc.number(("responsiveness", "full_marks_hours"), resp["full_marks_hours"])
    zero_hours = doc.number(("responsiveness", "zero_marks_hours"), resp["zero_marks_hours"])
    if zero_hours <= full_hours:
        raise doc.fail(("responsiveness", "zero_marks_hours"), f"must be above full_marks_hours ({full_hours})")
    unanswered = resp["unanswered_counts_as_hours"]
    unanswered_hours = None if unanswered is None else doc.number(
        ("responsiveness", "unanswered_counts_as_hours"), unanswered, low=Decimal("0.000001"))

    weights = {m: doc.number(("weights", m), weights_node[m]) for m in METRICS}
    if not any(weights.values()):
        raise doc.fail(("weights",), "at least one weight must be above 0")
    thresholds = tuple((g, doc.number(("grades", g), grades_node[g], high=HUNDRED)) for g in GRADE_ORDER)
    for (upper, upper_min), (lower, lower_min) in zip(thresholds, thresholds[1:]):
        if lower_min >= upper_min:
            raise doc.fail(("grades", lower), f"must be below {upper} ({upper_min}), got {lower_min}")

    return ScorecardConfig(
        timezone=zone,
        otif_days_early=doc.whole(("otif", "days_early"), otif["days_early"]),
        otif_days_late=doc.whole(("otif", "days_late"), otif["days_late"]),
        otif_quantity_tolerance=pct("otif", "quantity_tolerance_pct", otif["quantity_tolerance_pct"]),
        conditional_is_accepted=quality["conditional_is_accepted"],
        ppm_full_marks=ppm_full, ppm_zero_marks=ppm_zero,
        response_full_marks_hours=full_hours, response_zero_marks_hours=zero_hours,
        unanswered_counts_as_hours=unanswered_hours,
        asn_quantity_tolerance=pct("asn", "quantity_tolerance_pct", asn["quantity_tolerance_pct"]),
        weights=weights, grade_thresholds=thresholds)


# --------------------------------------------------------------------------- helpers


def check_month(month: str) -> str:
    """``month`` if it is ``YYYY-MM``; else ``FatalError BAD_MONTH``."""
    if not isinstance(month, str) or not MONTH_PATTERN.match(month):
        raise FatalError("BAD_MONTH", f"{month!r} is not a month YYYY-MM", "month")
    return month


def month_of(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _local(moment: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    # a timestamp without offset is plant local time (see the module docstring)
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment.astimezone(zone)


def _hours(delta: dt.timedelta) -> Decimal:
    seconds = Decimal(delta.days) * 86400 + Decimal(delta.seconds) + Decimal(delta.microseconds) / 1_000_000
    return seconds / 3600


def _round(value: Optional[Decimal], places: str) -> Optional[Decimal]:
    return None if value is None else value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def _ratio(part: int, whole: int) -> Optional[Decimal]:
    return Decimal(part) / Decimal(whole) if whole else None


def _points_falling(value: Decimal, full: Decimal, zero: Decimal) -> Decimal:
    """100 at or below ``full``, 0 at or above ``zero``, linear in between."""
    if value <= full:
        return HUNDRED
    if value >= zero:
        return ZERO
    return HUNDRED * (zero - value) / (zero - full)


T = TypeVar("T")


def _one_per_key(docs: Iterable[T], key: Callable[[T], Any]) -> list[T]:
    # a later copy replaces an earlier one, as a new version does in the store
    latest: dict[Any, T] = {}
    for doc in docs:
        latest[key(doc)] = doc
    return list(latest.values())


@dataclass
class _Tally:
    """What one supplier-month has collected before it becomes a SupplierScore."""

    deliveries: int = 0
    on_time_in_full: int = 0
    lots: int = 0
    lots_accepted: int = 0
    inspected: Decimal = ZERO
    rejected: Decimal = ZERO
    response_hours: list[Decimal] = field(default_factory=list)
    asns: int = 0
    asns_accurate: int = 0
    notes: list[str] = field(default_factory=list)


class _Tallies(defaultdict):
    def __init__(self) -> None:
        super().__init__(_Tally)

    def note(self, supplier: Optional[str], month: Optional[str], text: str) -> None:
        if supplier and month:
            self[(supplier, month)].notes.append(text)
        else:  # nowhere to show it: the log keeps it
            log.warning("scorecard: %s", text)


# --------------------------------------------------------------------------- metrics


def _receipt_line_po_ref(line: ReceiptLine, receipt: Receipt, orders: Mapping[str, PurchaseOrder],
                         asn_for: Callable[[Receipt], Optional[ShipmentNotice]]) -> Optional[tuple[str, int]]:
    if line.po_number and line.po_line_no:
        return line.po_number, line.po_line_no
    if line.po_number:
        po = orders.get(line.po_number)
        same = [pl.line_no for pl in po.lines if pl.material_id == line.material_id] if po else []
        return (line.po_number, same[0]) if len(same) == 1 else None
    asn = asn_for(receipt)
    refs = {(al.po_number, al.po_line_no) for al in asn.lines
            if al.material_id == line.material_id and al.po_number and al.po_line_no} if asn else set()
    return refs.pop() if len(refs) == 1 else None


def _tally_otif(tallies: _Tallies, cfg: ScorecardConfig, orders: Mapping[str, PurchaseOrder],
                latest_answer: Mapping[str, OrderResponse], receipts: Sequence[Receipt],
                asn_for: Callable[[Receipt], Optional[ShipmentNotice]], today: dt.date) -> None:
    received: dict[tuple[str, int], list[tuple[dt.date, Decimal]]] = defaultdict(list)
    for receipt in receipts:
        day = _local(receipt.received_at, cfg.timezone).date()
        for line in receipt.lines:
            where = f"receipt {receipt.receipt_id} line {line.line_no}"
            ref = _receipt_line_po_ref(line, receipt, orders, asn_for)
            po = orders.get(ref[0]) if ref else None
            if po is not None and not any(pl.line_no == ref[1] for pl in po.lines):
                po = None
            supplier = po.supplier_id if po else receipt.supplier_id
            if line.quantity <= 0:
                tallies.note(supplier, month_of(day), f"{where}: quantity {line.quantity} is not a delivery, skipped")
            elif po is None:
                tallies.note(supplier, month_of(day), f"{where}: no purchase order line to match, not in OTIF")
            elif receipt.supplier_id and receipt.supplier_id != po.supplier_id:
                tallies.note(po.supplier_id, month_of(day), f"{where}: receipt names supplier {receipt.supplier_id} "
                                                            f"but {po.po_number} is {po.supplier_id}'s, skipped")
            else:
                received[ref].append((day, line.quantity))

    for po in orders.values():
        if po.status == "cancelled":
            continue
        answer = latest_answer.get(po.po_number)
        answered_lines = {al.line_no: al for al in answer.lines} if answer else {}
        for line in po.lines:
            answered = answered_lines.get(line.line_no)
            # a line the answer does not list follows the answer's status
            if (answered.action if answered else answer.status if answer else None) == "rejected":
                continue  # the supplier never committed to it
            due = answered.delivery_date if answered and answered.delivery_date else line.delivery_date
            where = f"{po.po_number} line {line.line_no}"
            if due is None:
                tallies.note(po.supplier_id, month_of(po.order_date), f"{where}: no delivery date, not in OTIF")
                continue
            if line.quantity <= 0:
                tallies.note(po.supplier_id, month_of(due), f"{where}: quantity {line.quantity} ordered, not in OTIF")
                continue
            first = due - dt.timedelta(days=cfg.otif_days_early)
            last = due + dt.timedelta(days=cfg.otif_days_late)
            in_window = sum((q for day, q in received.get((po.po_number, line.line_no), ()) if first <= day <= last),
                            ZERO)
            hit = in_window >= line.quantity * (1 - cfg.otif_quantity_tolerance)
            if not hit and today <= last:
                continue  # still pending: the window is open
            tally = tallies[(po.supplier_id, month_of(due))]
            tally.deliveries += 1
            tally.on_time_in_full += hit


def _tally_quality(tallies: _Tallies, cfg: ScorecardConfig, inspections: Sequence[Inspection],
                   batch_supplier: Mapping[str, Optional[str]], orders: Mapping[str, PurchaseOrder]) -> None:
    first_by_lot: dict[str, Inspection] = {}
    for insp in sorted(inspections, key=lambda i: (_local(i.inspected_at, cfg.timezone), i.inspection_id)):
        first_by_lot.setdefault(insp.batch_id, insp)
    for insp in first_by_lot.values():
        po = orders.get(insp.po_number) if insp.po_number else None
        supplier = insp.supplier_id or batch_supplier.get(insp.batch_id) or (po.supplier_id if po else None)
        month = month_of(_local(insp.inspected_at, cfg.timezone).date())
        if supplier is None:
            tallies.note(None, month, f"inspection {insp.inspection_id}: no supplier known for batch {insp.batch_id}")
            continue
        tally = tallies[(supplier, month)]
        tally.lots += 1
        tally.lots_accepted += insp.result == "pass" or (insp.result == "conditional" and cfg.conditional_is_accepted)
        if insp.inspected_quantity > 0:
            rejected = insp.rejected_quantity
            if rejected > insp.inspected_quantity:
                tally.notes.append(f"inspection {insp.inspection_id}: rejected {rejected} > inspected "
                                   f"{insp.inspected_quantity}, counted as {insp.inspected_quantity}")
                rejected = insp.inspected_quantity
            tally.inspected += insp.inspected_quantity
            tally.rejected += rejected


def _tally_responses(tallies: _Tallies, cfg: ScorecardConfig, orders: Mapping[str, PurchaseOrder],
                     answers: Mapping[str, list[OrderResponse]], plan_acks: Sequence[PlanAck],
                     now: dt.datetime) -> None:
    answering = {r.supplier_id for rs in answers.values() for r in rs}
    for po in orders.values():
        asked = dt.datetime.combine(po.order_date, dt.time(0), cfg.timezone)
        month = month_of(po.order_date)
        times = [_local(r.responded_at, cfg.timezone) for r in answers.get(po.po_number, ()) if r.responded_at]
        if times:
            hours = _hours(min(times) - asked)
            if hours < 0:
                tallies.note(po.supplier_id, month, f"{po.po_number}: answered before its order date, not counted")
            else:
                tallies[(po.supplier_id, month)].response_hours.append(hours)
        elif answers.get(po.po_number):
            tallies.note(po.supplier_id, month, f"{po.po_number}: answer without a time, not counted")
        elif (cfg.unanswered_counts_as_hours is not None and po.status != "cancelled"
              and po.supplier_id in answering and _hours(now - asked) >= cfg.unanswered_counts_as_hours):
            tally = tallies[(po.supplier_id, month)]
            tally.response_hours.append(cfg.unanswered_counts_as_hours)
            tally.notes.append(f"{po.po_number}: unanswered, counted as {cfg.unanswered_counts_as_hours} h")
    for ack in plan_acks:
        sent = _local(ack.sent_at, cfg.timezone)
        hours = _hours(_local(ack.acknowledged_at, cfg.timezone) - sent)
        month = month_of(sent.date())
        if hours < 0:
            tallies.note(ack.supplier_id, month, f"plan {ack.ref}: acknowledged before it was sent, not counted")
        else:
            tallies[(ack.supplier_id, month)].response_hours.append(hours)


def _asn_accurate(asn: ShipmentNotice, receipts: Sequence[Receipt], tolerance: Decimal) -> bool:
    with_lots = {line.material_id for line in asn.lines if line.batch_number}

    def key(material: str, lot: Optional[str]) -> tuple[str, Optional[str]]:
        return material, (lot if material in with_lots else None)

    advised: dict[tuple[str, Optional[str]], Decimal] = defaultdict(Decimal)
    for line in asn.lines:
        if line.quantity > 0:
            advised[key(line.material_id, line.batch_number)] += line.quantity
    got: dict[tuple[str, Optional[str]], Decimal] = defaultdict(Decimal)
    for receipt in receipts:
        for line in receipt.lines:
            if line.quantity > 0:
                got[key(line.material_id, supplier_lot(line.batch_id, asn.supplier_id))] += line.quantity
    return advised.keys() == got.keys() and all(abs(got[k] - q) <= q * tolerance for k, q in advised.items())


def _tally_asns(tallies: _Tallies, cfg: ScorecardConfig, asns: Sequence[ShipmentNotice],
                receipts_by_asn: Mapping[tuple[str, str], list[Receipt]]) -> None:
    for asn in asns:
        received = receipts_by_asn.get((asn.supplier_id, asn.asn_number))
        if asn.status == "cancelled" or not received:
            continue
        month = month_of(min(_local(r.received_at, cfg.timezone) for r in received).date())
        for line in asn.lines:
            if line.quantity <= 0:
                tallies.note(asn.supplier_id, month, f"ASN {asn.asn_number} line {line.line_no}: quantity "
                                                     f"{line.quantity} advised, skipped")
        tally = tallies[(asn.supplier_id, month)]
        tally.asns += 1
        tally.asns_accurate += _asn_accurate(asn, received, cfg.asn_quantity_tolerance)


# --------------------------------------------------------------------------- score


def _score(supplier: str, month: str, tally: _Tally, cfg: ScorecardConfig) -> SupplierScore:
    otif = _ratio(tally.on_time_in_full, tally.deliveries)
    lot_acceptance = _ratio(tally.lots_accepted, tally.lots)
    ppm = tally.rejected / tally.inspected * 1_000_000 if tally.inspected > 0 else None
    hours = statistics.median(tally.response_hours) if tally.response_hours else None
    asn_accuracy = _ratio(tally.asns_accurate, tally.asns)
    points = {
        "otif": None if otif is None else otif * HUNDRED,
        "lot_acceptance": None if lot_acceptance is None else lot_acceptance * HUNDRED,
        "ppm": None if ppm is None else _points_falling(ppm, cfg.ppm_full_marks, cfg.ppm_zero_marks),
        "responsiveness": None if hours is None else _points_falling(
            hours, cfg.response_full_marks_hours, cfg.response_zero_marks_hours),
        "asn_accuracy": None if asn_accuracy is None else asn_accuracy * HUNDRED,
    }
    weighted = {m: (cfg.weights[m], p) for m, p in points.items() if p is not None and cfg.weights[m] > 0}
    total_weight = sum((w for w, _ in weighted.values()), ZERO)
    score = _round(sum((w * p for w, p in weighted.values()), ZERO) / total_weight, "0.1") if weighted else None
    notes = list(tally.notes)
    missing = [m for m, p in points.items() if p is None]
    if score is None:
        notes.append("no metric with data: no score")
    elif missing:
        notes.append(f"no data for {', '.join(missing)}: weight shared among the other metrics")
    return SupplierScore(
        supplier_id=supplier, month=month, deliveries=tally.deliveries, otif=_round(otif, "0.0001"),
        lots=tally.lots, lot_acceptance=_round(lot_acceptance, "0.0001"), ppm=_round(ppm, "0.1"),
        response_hours_median=_round(hours, "0.1"), asn_accuracy=_round(asn_accuracy, "0.0001"),
        score=score, grade=cfg.grade(score) if score is not None else None, notes=tuple(notes))


def score_suppliers(*, purchase_orders: Iterable[PurchaseOrder], order_responses: Iterable[OrderResponse],
                    shipment_notices: Iterable[ShipmentNotice], receipts: Iterable[Receipt],
                    inspections: Iterable[Inspection], plan_acks: Iterable[PlanAck] = (),
                    config: ScorecardConfig, months: Optional[Sequence[str]] = None,
                    batches: Iterable[Batch] = (), as_of: Optional[dt.datetime] = None) -> list[SupplierScore]:
    """Scorecards per supplier and month, sorted by supplier then month (definitions: module docstring).

    ``order_responses`` may hold several answers to one PO (versions): the earliest time counts
    for responsiveness, the latest answer (by ``responded_at``, then input order) for promised
    dates. ``as_of`` (default: now) is the moment the scorecard is taken at: receipts, answers,
    inspections and acknowledgements after it are not seen yet, OTIF windows still open at it are
    pending, and unanswered POs are aged to it. ``months``
    keeps only those months (``YYYY-MM``; ``FatalError BAD_MONTH`` otherwise).
    """
    wanted = {check_month(m) for m in months} if months is not None else None
    now = _local(as_of, config.timezone) if as_of else dt.datetime.now(config.timezone)

    def seen(moment: dt.datetime) -> bool:
        return _local(moment, config.timezone) <= now

    orders = {po.po_number: po for po in _one_per_key(purchase_orders, lambda p: p.po_number)}
    received = [r for r in _one_per_key(receipts, lambda r: r.receipt_id) if seen(r.received_at)]
    asns = _one_per_key(shipment_notices, lambda a: (a.supplier_id, a.asn_number))
    tallies = _Tallies()

    answers: dict[str, list[OrderResponse]] = defaultdict(list)
    for response in order_responses:
        if response.responded_at is not None and not seen(response.responded_at):
            continue
        po = orders.get(response.po_number)
        if po is not None and po.supplier_id != response.supplier_id:
            tallies.note(po.supplier_id, month_of(po.order_date), f"answer to {po.po_number} from "
                                                                  f"{response.supplier_id}, not its supplier: skipped")
            continue
        answers[response.po_number].append(response)
    latest_answer = {
        po_number: max(enumerate(rs), key=lambda item: (
            item[1].responded_at is not None,
            _local(item[1].responded_at, config.timezone) if item[1].responded_at else now, item[0]))[1]
        for po_number, rs in answers.items()}

    asns_by_number: dict[str, list[ShipmentNotice]] = defaultdict(list)
    for asn in asns:
        asns_by_number[asn.asn_number].append(asn)

    def asn_for(receipt: Receipt) -> Optional[ShipmentNotice]:
        candidates = [a for a in asns_by_number.get(receipt.asn_number or "", ())
                      if receipt.supplier_id in (None, a.supplier_id)]
        return candidates[0] if len(candidates) == 1 else None

    receipts_by_asn: dict[tuple[str, str], list[Receipt]] = defaultdict(list)
    for receipt in received:
        asn = asn_for(receipt)
        if asn is not None:
            receipts_by_asn[(asn.supplier_id, asn.asn_number)].append(receipt)

    batch_supplier = {b.batch_id: b.supplier_id for b in _one_per_key(batches, lambda b: b.batch_id)}
    inspected = [i for i in _one_per_key(inspections, lambda i: i.inspection_id) if seen(i.inspected_at)]
    acks = [a for a in plan_acks if seen(a.sent_at) and seen(a.acknowledged_at)]
    _tally_otif(tallies, config, orders, latest_answer, received, asn_for, now.date())
    _tally_quality(tallies, config, inspected, batch_supplier, orders)
    _tally_responses(tallies, config, orders, answers, acks, now)
    _tally_asns(tallies, config, asns, receipts_by_asn)
    return [_score(supplier, month, tallies[(supplier, month)], config)
            for supplier, month in sorted(tallies) if wanted is None or month in wanted]


def trend(scores: Iterable[SupplierScore]) -> dict[str, list[tuple[str, Optional[Decimal]]]]:
    """Supplier -> [(month, score)] in month order (a month without a score keeps ``None``)."""
    out: dict[str, list[tuple[str, Optional[Decimal]]]] = defaultdict(list)
    for s in sorted(scores, key=lambda s: (s.supplier_id, s.month)):
        out[s.supplier_id].append((s.month, s.score))
    return dict(out)


# --------------------------------------------------------------------------- store


def _parse_moment(value: Any) -> Optional[dt.datetime]:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def plan_acks_from_audit(rows: Iterable[Any]) -> list[PlanAck]:
    """``schedule_acknowledged`` audit rows -> PlanAcks; a row missing ``sent_at`` or ``at`` is no data.

    The supplier is ``details.supplier_id`` when given, else the first part of the subject key
    (a DeliverySchedule's business key is ``<supplier_id>/<schedule_id>``).
    """
    acks = []
    for row in rows:
        details = row.details if isinstance(row.details, dict) else {}
        sent, at = _parse_moment(details.get("sent_at")), _parse_moment(details.get("at"))
        supplier = details.get("supplier_id") or row.subject_key.split("/", 1)[0]
        if sent is None or at is None or not supplier:
            log.info("scorecard: audit entry %s of %s has no usable sent_at/at, not counted", row.id, row.subject_key)
            continue
        acks.append(PlanAck(supplier_id=str(supplier), sent_at=sent, acknowledged_at=at, ref=row.subject_key))
    return acks


def scorecards_from_store(session: Any, *, supplier: Optional[str] = None, month: Optional[str] = None,
                          config: Optional[ScorecardConfig] = None,
                          as_of: Optional[dt.datetime] = None) -> list[SupplierScore]:
    """Scorecards from the store's current documents (and every version of order responses, for
    the first answer time) and the audit log's plan acknowledgements; only read."""
    from sqlalchemy import select

    from canonical_model.documents import DOCUMENT_TYPES
    from canonical_model.store import documents
    from canonical_model.store.tables import AuditRow, DocumentRow

    if month is not None:
        check_month(month)
    config = config or load_config()

    def current(doc_type: str) -> list[Any]:
        return list(documents.current(session, doc_type))

    # every version: a supplier who accepted and later changed its answer answered at the first
    responses = [DOCUMENT_TYPES["OrderResponse"].model_validate({**row.body, "source": row.source})
                 for row in session.scalars(select(DocumentRow).where(DocumentRow.doc_type == "OrderResponse")
                                            .order_by(DocumentRow.id))]
    acks = plan_acks_from_audit(session.scalars(select(AuditRow).where(
        AuditRow.subject_type == "DeliverySchedule", AuditRow.action == "schedule_acknowledged")
        .order_by(AuditRow.id)))
    scores = score_suppliers(
        purchase_orders=current("PurchaseOrder"), order_responses=responses,
        shipment_notices=current("ShipmentNotice"), receipts=current("Receipt"), inspections=current("Inspection"),
        batches=current("Batch"), plan_acks=acks, config=config, months=[month] if month else None, as_of=as_of)
    return [s for s in scores if supplier is None or s.supplier_id == supplier]


def current_grades(session: Any, config: Optional[ScorecardConfig] = None,
                   today: Optional[dt.date] = None) -> dict[str, str]:
    """Supplier -> grade of its latest *closed* month (before ``today``'s) that has a grade: for allocation.

    The running month is left out on purpose: allocation follows the published monthly grade, so a
    plan run does not re-split tasks (and send new schedule versions) every time one delivery or
    inspection of the running month moves a score."""
    config = config or load_config()
    today = today or dt.datetime.now(config.timezone).date()
    end_of_today = dt.datetime.combine(today, dt.time(23, 59, 59), config.timezone)
    grades: dict[str, str] = {}
    for s in scorecards_from_store(session, config=config, as_of=end_of_today):
        if s.grade is not None and s.month < month_of(today):
            grades[s.supplier_id] = s.grade  # sorted by month: the latest wins
    return grades
