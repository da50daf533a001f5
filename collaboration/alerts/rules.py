"""Exception rules of the matching issue: pure functions from canonical data to Alerts.

Each rule has a reason code (the ``alert_type``) and a default responsible party (the supplier
the data names, or a role: mappings/alerting.yaml may give the role to someone else). The
``alert_id`` is :func:`condition_id` of the type and the *identifying* subjects, so the same
condition seen again is the same Alert (``lifecycle.raise_alert`` then keeps one). Subjects after
the identifying ones are context (the production orders a failed batch went into) and may grow
without opening a new alert.

Every message ends with ``Next: ...``: the action the responsible party takes (the notification
templates show it as the next action).
"""
from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Callable, Optional

from canonical_model.documents import (
    Alert, Inspection, OrderResponse, PurchaseOrder, Receipt, ShipmentNotice, SubjectRef,
)
from hub.errors import SkippableError

MATERIAL_SHORTAGE = "MATERIAL_SHORTAGE"
ASN_MISSING = "ASN_MISSING"
ASN_LATE = "ASN_LATE"
QTY_MISMATCH_ASN_PO = "QTY_MISMATCH_ASN_PO"
QTY_MISMATCH_RECEIPT_ASN = "QTY_MISMATCH_RECEIPT_ASN"
UNKNOWN_BATCH = "UNKNOWN_BATCH"
INSPECTION_FAILED = "INSPECTION_FAILED"
PLAN_CHANGE_UNACKNOWLEDGED = "PLAN_CHANGE_UNACKNOWLEDGED"
#: the interchange rule keeps the code collaboration/edi_alerts.py has always stored
INTERCHANGE_UNACKNOWLEDGED = "EDI_NOT_ACKNOWLEDGED"
PUSH_FAILING = "PUSH_FAILING"

#: default responsible roles (mappings/alerting.yaml names the same ones)
PLANNER = "planner"
QUALITY = "quality"
IT_OPS = "it_ops"

#: business_key is a 255-character column; longer ids keep a readable head and a hash
_MAX_ID = 255
ZERO = Decimal(0)


def condition_id(alert_type: str, subjects: Iterable[SubjectRef]) -> str:
    """``TYPE:key1:key2``: deterministic, readable on the command line (``hub alerts ack ID``)."""
    ident = ":".join([alert_type, *(s.key for s in subjects)])
    if len(ident) <= _MAX_ID:
        return ident
    digest = hashlib.sha256(ident.encode("utf-8")).hexdigest()[:16]
    return f"{ident[:_MAX_ID - 17]}:{digest}"


def _alert(alert_type: str, identifying: list[SubjectRef], party: str, message: str, *,
           severity: str = "warning", context: Iterable[SubjectRef] = ()) -> Alert:
    return Alert(alert_id=condition_id(alert_type, identifying), alert_type=alert_type, severity=severity,
                 subjects=[*identifying, *context], responsible_party=party, message=message)


def _ref(doc_type: str, key: str) -> SubjectRef:
    return SubjectRef(type=doc_type, key=key)


def _utc(value: dt.datetime, what: str) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise SkippableError("ALERT_RULE_INPUT", f"{what} must be a date and time, got {type(value).__name__}", what)
    # naive times in the hub are UTC (the store writes aware UTC; tests and CLIs may not)
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _q(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _pct(value: Any, what: str = "tolerance_pct") -> Decimal:
    try:
        pct = Decimal(str(value))
    except ArithmeticError:
        pct = Decimal(-1)
    if not pct.is_finite() or pct < 0:
        raise SkippableError("ALERT_RULE_INPUT", f"{what} must be a percentage >= 0, got {value!r}", what)
    return pct


# ------------------------------------------------------------------------- MATERIAL_SHORTAGE
def material_shortage(coverage: Any) -> list[Alert]:
    """MATERIAL_SHORTAGE: a production order's purchased material is not there on its need day.

    ``coverage`` is a ``collaboration.coverage.OrderCoverage``; one alert per (order, material),
    its shortages summed. Never covered by firm supply is critical, covered late a warning.
    """
    by_material: dict[str, list[Any]] = defaultdict(list)
    for shortage in coverage.shortages:
        by_material[shortage.material_id].append(shortage)
    alerts = []
    for material, shortages in sorted(by_material.items()):
        quantity = sum((s.quantity for s in shortages), ZERO)
        need = min(s.need_date for s in shortages)
        never = any(s.available_on is None for s in shortages)
        if never:
            when = "firm supply (stock, open PO lines, ASNs) never covers it"
        else:
            available = max(s.available_on for s in shortages)
            when = f"firm supply covers it only on {available.isoformat()} ({(available - need).days} day(s) late)"
        start = coverage.earliest_start.isoformat() if coverage.earliest_start else "none"
        alerts.append(_alert(
            MATERIAL_SHORTAGE, [_ref("ProductionOrder", coverage.order_id), _ref("Material", material)], PLANNER,
            severity="critical" if never else "warning",
            message=(f"Production order {coverage.order_id} lacks {_q(quantity)} of {material} needed from "
                     f"{need.isoformat()}: {when}; earliest start {start} instead of "
                     f"{coverage.planned_start.isoformat()}. Next: the buyer expedites the supply or the planner "
                     f"moves the order in the MES.")))
    return alerts


# ------------------------------------------------------------------------ ASN_MISSING / LATE
def promised_dates(po: PurchaseOrder, response: Optional[OrderResponse] = None) -> dict[int, dt.date]:
    """Delivery date per PO line: the supplier's answer where it gave one, else the PO's; rejected
    lines promise nothing."""
    dates = {line.line_no: line.delivery_date for line in po.lines if line.delivery_date is not None}
    if response is not None and response.po_number == po.po_number:
        for line in response.lines:
            if line.action == "rejected":
                dates.pop(line.line_no, None)
            elif line.delivery_date is not None:
                dates[line.line_no] = line.delivery_date
    return dates


def _po_open(po: PurchaseOrder) -> bool:
    return po.status not in ("closed", "cancelled")


def _active(asns: Iterable[ShipmentNotice]) -> list[ShipmentNotice]:
    return [asn for asn in asns if asn.status != "cancelled"]


def asn_missing(po: PurchaseOrder, asns: Iterable[ShipmentNotice], *, now: dt.datetime,
                response: Optional[OrderResponse] = None,
                notice: dt.timedelta = dt.timedelta(days=1)) -> list[Alert]:
    """ASN_MISSING: no (active) ASN announces a PO line ``notice`` before its promised date.

    Quantities are the mismatch rules' business: any ASN line for the PO line counts as announced.
    """
    now = _utc(now, "now")
    if not _po_open(po):
        return []
    announced = {line.po_line_no for asn in _active(asns) for line in asn.lines if line.po_number == po.po_number}
    alerts = []
    for line_no, promised in sorted(promised_dates(po, response).items()):
        due = dt.datetime.combine(promised, dt.time(0), dt.timezone.utc) - notice
        if line_no in announced or now < due:
            continue
        alerts.append(_alert(
            ASN_MISSING, [_ref("PurchaseOrder", po.po_number), _ref("PurchaseOrderLine", f"{po.po_number}/{line_no}")],
            po.supplier_id,
            message=(f"Supplier {po.supplier_id} has sent no ASN for PO {po.po_number} line {line_no}, promised for "
                     f"{promised.isoformat()}; it was due by {due:%Y-%m-%d %H:%M} UTC. Next: supplier "
                     f"{po.supplier_id} sends the ASN or a new delivery date; the buyer chases it.")))
    return alerts


def asn_late(po: PurchaseOrder, asns: Iterable[ShipmentNotice], *,
             response: Optional[OrderResponse] = None) -> list[Alert]:
    """ASN_LATE: an ASN's expected arrival is after the date promised for the PO line it ships."""
    if not _po_open(po):
        return []
    promised = promised_dates(po, response)
    alerts = []
    for asn in sorted(_active(asns), key=lambda a: a.business_key):
        if asn.expected_arrival is None:
            continue
        late_lines = sorted({line.po_line_no for line in asn.lines if line.po_number == po.po_number
                             and line.po_line_no in promised and asn.expected_arrival > promised[line.po_line_no]})
        for line_no in late_lines:
            days = (asn.expected_arrival - promised[line_no]).days
            alerts.append(_alert(
                ASN_LATE, [_ref("PurchaseOrderLine", f"{po.po_number}/{line_no}"),
                           _ref("ShipmentNotice", asn.business_key)], asn.supplier_id,
                message=(f"ASN {asn.asn_number} arrives {asn.expected_arrival.isoformat()}, {days} day(s) after "
                         f"{promised[line_no].isoformat()} promised for PO {po.po_number} line {line_no}. Next: "
                         f"supplier {asn.supplier_id} confirms the arrival date; the planner checks the production "
                         f"orders it feeds.")))
    return alerts


# ---------------------------------------------------------------------- quantity mismatches
def qty_mismatch_asn_po(po: PurchaseOrder, asns: Iterable[ShipmentNotice], *, tolerance_pct: Any = 0,
                        partial_allowed: bool = False) -> list[Alert]:
    """QTY_MISMATCH_ASN_PO: what the PO's active ASNs ship in total per line, against what was ordered.

    Over beyond the tolerance always alerts; short only when the partner does not split deliveries
    (``partial_allowed``). A superset of ``short_shipment`` (cumulative over ASNs, both directions,
    with tolerance): callers use one or the other, never both, or a short line alerts twice.
    """
    tolerance = _pct(tolerance_pct)
    shipped: dict[int, Decimal] = defaultdict(Decimal)
    shipped_by: dict[int, set[str]] = defaultdict(set)
    for asn in _active(asns):
        for line in asn.lines:
            if line.po_number == po.po_number and line.po_line_no:
                shipped[line.po_line_no] += line.quantity
                shipped_by[line.po_line_no].add(asn.asn_number)
    alerts = []
    for po_line in sorted(po.lines, key=lambda l: l.line_no):
        if po_line.line_no not in shipped:
            continue  # nothing announced yet: ASN_MISSING's business
        got, ordered = shipped[po_line.line_no], po_line.quantity
        allowed = ordered * tolerance / 100
        if got > ordered + allowed:
            what = f"{_q(got - ordered)} over"
        elif got < ordered - allowed and not partial_allowed:
            what = f"{_q(ordered - got)} short"
        else:
            continue
        alerts.append(_alert(
            QTY_MISMATCH_ASN_PO, [_ref("PurchaseOrder", po.po_number),
                                  _ref("PurchaseOrderLine", f"{po.po_number}/{po_line.line_no}")], po.supplier_id,
            message=(f"ASN(s) {', '.join(sorted(shipped_by[po_line.line_no]))} ship {_q(got)} {po_line.uom} of "
                     f"{po_line.material_id} for PO {po.po_number} line {po_line.line_no}, ordered {_q(ordered)}: "
                     f"{what} (tolerance {_q(tolerance)}%). Next: supplier {po.supplier_id} corrects the ASN or the "
                     f"buyer agrees the quantity and changes the PO.")))
    return alerts


def qty_mismatch_receipt_asn(receipt: Receipt, asn: ShipmentNotice, *, tolerance_pct: Any = 0) -> list[Alert]:
    """QTY_MISMATCH_RECEIPT_ASN: per material, counted at receiving against announced, with a tolerance.

    A superset of ``receipt_mismatch`` (which is exact): callers use one or the other.
    """
    tolerance = _pct(tolerance_pct)
    announced: dict[str, Decimal] = defaultdict(Decimal)
    for line in asn.lines:
        announced[line.material_id] += line.quantity
    received: dict[str, Decimal] = defaultdict(Decimal)
    for line in receipt.lines:
        received[line.material_id] += line.quantity
    alerts = []
    for material in sorted(set(announced) | set(received)):
        want, got = announced.get(material, ZERO), received.get(material, ZERO)
        if abs(got - want) <= want * tolerance / 100:
            continue
        what = f"{_q(got - want)} over" if got > want else f"{_q(want - got)} short"
        alerts.append(_alert(
            QTY_MISMATCH_RECEIPT_ASN, [_ref("ShipmentNotice", asn.business_key), _ref("Receipt", receipt.receipt_id),
                                       _ref("Material", material)], asn.supplier_id,
            message=(f"Receipt {receipt.receipt_id} counted {_q(got)} of {material}, ASN {asn.asn_number} announced "
                     f"{_q(want)}: {what} (tolerance {_q(tolerance)}%). Next: receiving re-checks the count; "
                     f"supplier {asn.supplier_id} sends the rest or a credit note.")))
    return alerts


# ---------------------------------------------------------------------------- UNKNOWN_BATCH
def unknown_batch(receipt: Receipt, asn: Optional[ShipmentNotice]) -> list[Alert]:
    """UNKNOWN_BATCH: a received batch the ASN does not announce for that material.

    The id is the scan-receiving discrepancy's (``adapters/wms/discrepancies.Discrepancy.key``), so
    the same lot found on the WMS path and on the canonical Receipt is one alert. Without an ASN
    the receipt itself is the problem (``NO_ASN``), not its batches.
    """
    if asn is None:
        return []
    supplier = asn.supplier_id
    announced = {(line.material_id, line.batch_number) for line in asn.lines if line.batch_number}
    seen: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for line in receipt.lines:
        lot = _lot(line.batch_id, supplier)
        if lot and (line.material_id, lot) not in announced:
            seen[(line.material_id, lot)] += line.quantity
    alerts = []
    for (material, lot), qty in sorted(seen.items()):
        alerts.append(Alert(
            alert_id=":".join((UNKNOWN_BATCH, supplier, asn.asn_number, material, lot)),
            alert_type=UNKNOWN_BATCH, severity="warning", responsible_party=supplier,
            subjects=[_ref("ShipmentNotice", asn.business_key), _ref("Receipt", receipt.receipt_id),
                      _ref("Batch", f"{supplier}:{lot}")],
            message=(f"Receipt {receipt.receipt_id} holds batch {lot} of {material} ({_q(qty)}), which ASN "
                     f"{asn.asn_number} does not announce. Next: supplier {supplier} confirms the batch (and its "
                     f"certificate) or the warehouse blocks it.")))
    return alerts


def _lot(batch_id: Optional[str], supplier_id: str) -> Optional[str]:
    if batch_id and batch_id.startswith(f"{supplier_id}:"):
        return batch_id[len(supplier_id) + 1:]
    return batch_id


# ------------------------------------------------------------------------ INSPECTION_FAILED
def inspection_failed(inspection: Inspection, affected: Mapping[str, Any]) -> Optional[Alert]:
    """INSPECTION_FAILED: QC failed a batch; names the production orders and finished lots it reached.

    ``affected`` is ``{"production_orders": [...], "finished_lots": [...]}`` as
    ``collaboration.trace.affected_by_batch(genealogy, batch_id)`` returns it. A conditional
    release is not a failure.
    """
    if inspection.result != "fail":
        return None
    orders = _names(affected, "production_orders")
    lots = _names(affected, "finished_lots")
    failed = [c.name for c in inspection.characteristics if c.result == "fail"]
    reached = (f"production orders {', '.join(orders) or 'none'}; finished lots {', '.join(lots) or 'none'}"
               if orders or lots else "no production order has consumed it yet")
    severity = "critical" if orders or lots else "warning"
    return _alert(
        INSPECTION_FAILED, [_ref("Batch", inspection.batch_id), _ref("Inspection", inspection.inspection_id)],
        QUALITY, severity=severity,
        context=[*(_ref("ProductionOrder", o) for o in orders), *(_ref("FinishedLot", l) for l in lots)],
        message=(f"Inspection {inspection.inspection_id} failed batch {inspection.batch_id} of {inspection.material_id}"
                 f"{' from ' + inspection.supplier_id if inspection.supplier_id else ''}: rejected "
                 f"{_q(inspection.rejected_quantity)} of {_q(inspection.inspected_quantity)} {inspection.uom}"
                 f"{'; failed ' + ', '.join(failed) if failed else ''}. Affected: {reached}. Next: quality blocks "
                 f"the batch, checks the orders and lots listed, and opens a supplier complaint."))


def _names(affected: Mapping[str, Any], key: str) -> list[str]:
    if not isinstance(affected, Mapping):
        raise SkippableError("ALERT_RULE_INPUT", f"affected must be a mapping, got {type(affected).__name__}",
                             "affected")
    value = affected.get(key) or []
    # a bare string is iterable too: "PO-1" must not become ["P", "O", "-", "1"]
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise SkippableError("ALERT_RULE_INPUT", f"affected[{key!r}] must be a list of ids, got "
                             f"{type(value).__name__}", f"affected.{key}")
    return sorted({str(v) for v in value if v not in (None, "")})


# -------------------------------------------------------------- PLAN_CHANGE_UNACKNOWLEDGED
def plan_change_unacknowledged(schedule_id: str, supplier_id: str, version: int, sent_at: dt.datetime,
                               deadline_hours: float, now: dt.datetime, acknowledged: bool) -> Optional[Alert]:
    """PLAN_CHANGE_UNACKNOWLEDGED: a changed delivery schedule the supplier has not confirmed in time.

    One alert per schedule version: a newer version sent replaces the question, not the answer.
    """
    if acknowledged:
        return None
    if isinstance(deadline_hours, bool) or not isinstance(deadline_hours, (int, float)) or deadline_hours < 0:
        raise SkippableError("ALERT_RULE_INPUT", f"deadline_hours must be a number of hours >= 0, got "
                             f"{deadline_hours!r}", f"DeliverySchedule {supplier_id}/{schedule_id}")
    sent, now = _utc(sent_at, "sent_at"), _utc(now, "now")
    deadline = sent + dt.timedelta(hours=deadline_hours)
    if now < deadline:
        return None
    return _alert(
        PLAN_CHANGE_UNACKNOWLEDGED, [_ref("DeliverySchedule", f"{supplier_id}/{schedule_id}"),
                                     _ref("ScheduleVersion", str(version))], supplier_id,
        message=(f"Supplier {supplier_id} has not acknowledged version {version} of delivery schedule {schedule_id}, "
                 f"sent {sent:%Y-%m-%d %H:%M} UTC; confirmation was due by {deadline:%Y-%m-%d %H:%M} UTC. Next: "
                 f"supplier {supplier_id} confirms the changed schedule; the buyer calls if it stays silent."))


# -------------------------------------------------------------- INTERCHANGE_UNACKNOWLEDGED
def interchange_unacknowledged(row: Any, now: dt.datetime) -> Optional[Alert]:
    """An outbound interchange (``InterchangeRow``) whose CONTRL/997 is past due: the EDI alert.

    The same Alert ``hub.flows.acks.check_overdue_acks`` raises, so both paths keep one.
    """
    from collaboration import edi_alerts

    now = _utc(now, "now")
    if row.direction != "out" or row.ack_status not in ("pending", "overdue") or row.ack_due is None:
        return None
    due = _utc(row.ack_due, "ack_due")
    if now < due:
        return None
    sent = _utc(row.created_at, "created_at") if row.created_at else None
    return edi_alerts.not_acknowledged(row.partner, row.control_ref, row.standard, row.message_types, sent, due, now)


# ------------------------------------------------------------------------------ PUSH_FAILING
def push_failing(rows: Iterable[Any], *, now: dt.datetime, sla: Callable[[str], dt.timedelta]) -> list[Alert]:
    """PUSH_FAILING: per outbox target, pushes tried and still undelivered longer than its SLA.

    ``rows`` are ``OutboxRow``s (target, status pending|sent|failed, attempts, last_error,
    created_at); ``sla(target)`` is ``AlertingConfig.push_sla``. A row never tried yet is waiting,
    not failing; one parked as ``failed`` counts as soon as its SLA has passed too.
    """
    now = _utc(now, "now")
    failing: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        if row.status == "sent" or not row.attempts:
            continue
        if now - _utc(row.created_at, "created_at") >= sla(row.target):
            failing[row.target].append(row)
    alerts = []
    for target, stuck in sorted(failing.items()):
        stuck.sort(key=lambda r: (_utc(r.created_at, "created_at"), r.id or 0))
        oldest, newest = stuck[0], stuck[-1]
        parked = sum(1 for r in stuck if r.status == "failed")
        minutes = int(sla(target).total_seconds() // 60)
        error = (newest.last_error or "no error recorded").splitlines()[0][:200]
        alerts.append(_alert(
            PUSH_FAILING, [_ref("OutboxTarget", target)], IT_OPS, severity="critical" if parked else "warning",
            message=(f"{len(stuck)} push(es) to {target} undelivered for longer than the {minutes}-minute SLA "
                     f"({parked} failed for good, {len(stuck) - parked} retrying; oldest queued "
                     f"{_utc(oldest.created_at, 'created_at'):%Y-%m-%d %H:%M} UTC); last error: {error}. Next: check "
                     f"{target} and its Connection, fix the cause, then retry the failed outbox rows.")))
    return alerts


# -------------------------------------------------------------------------------- FEED_QUIET
FEED_QUIET = "FEED_QUIET"


def feed_quiet(feed: str, *, label: str, party: str, last_heard: Optional[dt.datetime],
               watched_since: dt.datetime, max_quiet: dt.timedelta, now: dt.datetime) -> Optional[Alert]:
    """FEED_QUIET: nothing heard from a feed (a partner's message, a system's sync) for longer than it may
    stay quiet.

    A feed never heard is measured from when the hub began watching it, so a partner onboarded today
    is not quiet today. ``feed`` is the feed's key (``SUP-001/asn``, ``erp``): one alert per feed.
    """
    if not isinstance(max_quiet, dt.timedelta) or max_quiet <= dt.timedelta(0):
        raise SkippableError("ALERT_RULE_INPUT", f"max_quiet must be a positive duration, got {max_quiet!r}",
                             f"Feed {feed}")
    now = _utc(now, "now")
    since = _utc(last_heard, "last_heard") if last_heard is not None else _utc(watched_since, "watched_since")
    quiet = now - since
    if quiet < max_quiet:
        return None
    heard = (f"last heard {since:%Y-%m-%d %H:%M} UTC" if last_heard is not None
             else f"nothing heard since the hub began watching it on {since:%Y-%m-%d %H:%M} UTC")
    return _alert(
        FEED_QUIET, [_ref("Feed", feed)], party,
        message=(f"No {label} for {_hours(quiet)} h ({heard}); expected at least every {_hours(max_quiet)} h. "
                 f"Next: {party} checks whether anything was sent; then the Connection (`hub doctor`) and the "
                 f"feed's DAG in Airflow (paused or failing?)."))


def _hours(span: dt.timedelta) -> str:
    return _q(Decimal(span.total_seconds() / 3600).quantize(Decimal("0.1")))
