"""Cross-document rules: ASN lines checked against the hub's open purchase order lines.

The store's view comes in as plain data (``ValidationContext``) so these rules stay pure
functions, testable without a database.

Rules, per ASN line that names a ``po_number`` (a line without one is left to matching
downstream; some suppliers ship against a delivery schedule, not a PO):

* ``PO_NOT_FOUND``           the hub has no open line on that PO.
* ``PO_LINE_NOT_FOUND``      ``po_line_no`` given but not an open line of that PO; or no
                             ``po_line_no`` and no open line of that PO carries the material.
* ``PO_SUPPLIER_MISMATCH``   the ASN's supplier is not the PO's supplier.
* ``MATERIAL_MISMATCH``      the referenced PO line is for another material.
* ``UOM_MISMATCH``           the ASN line's unit differs from the PO line's unit, so the
                             quantities cannot be compared (canonical units are converted
                             upstream; a difference here is a conversion gap).
* ``ASN_QTY_EXCEEDS_OPEN_PO`` quantity over ``open_qty * (1 + tolerance_pct/100)``.
* ``ASN_DATE_OUTSIDE_WINDOW`` (only when ``ctx.date_window_days`` is set, from the partner
                             profile) the ASN's ``expected_arrival`` (else ``ship_date``) is more
                             than that many days before or after the PO line's
                             ``delivery_date``. Nothing to compare (no date on either side) passes.
* ``ASN_QTY_SHORT_OF_PO``    (only when ``ctx.under_ship_tolerance_pct`` is set) one ASN ships
                             less than ``open_qty * (1 - pct/100)`` of a PO line. This is for
                             partners whose profile says they must ship complete. Everyone else
                             may ship partly: the default flow lets a short ASN through and
                             raises the SHORT_SHIPMENT alert on receipt instead, so leave it
                             ``None`` unless the partner really must ship complete.

Line without ``po_line_no``: it matches the open lines of that PO with the same
``material_id``, taken in ``line_no`` order; its quantity is checked against their combined
remaining allowance and allocated first-line-first.

Short shipment is judged per ASN and PO line: the ASN's lines drawing on the same PO line
(one line per batch number is common) are added up, and compared with what was still open
when the ASN came (earlier ASNs of the batch already took their share). A line without
``po_line_no`` counts against the pool of PO lines it draws from. When the total is short,
each of those ASN lines fails and gives its allowance back.

Quantities are cumulative within the batch: two ASN lines of 150 against one PO line open for
200 are an over-shipment even though each line alone fits. Only lines that will be passed on
consume allowance: a line already failing another rule does not, and a document that fails
whole gives its consumption back.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Mapping, Optional, Sequence

from canonical_model.documents import ShipmentNotice, ShipmentNoticeLine
from validation.schemas import DEFAULT_KNOWN_UOMS, Issue

PO_NOT_FOUND = "PO_NOT_FOUND"
PO_LINE_NOT_FOUND = "PO_LINE_NOT_FOUND"
PO_SUPPLIER_MISMATCH = "PO_SUPPLIER_MISMATCH"
MATERIAL_MISMATCH = "MATERIAL_MISMATCH"
UOM_MISMATCH = "UOM_MISMATCH"
ASN_QTY_EXCEEDS_OPEN_PO = "ASN_QTY_EXCEEDS_OPEN_PO"
ASN_QTY_SHORT_OF_PO = "ASN_QTY_SHORT_OF_PO"
ASN_DATE_OUTSIDE_WINDOW = "ASN_DATE_OUTSIDE_WINDOW"

RULE_CODES = frozenset(
    {PO_NOT_FOUND, PO_LINE_NOT_FOUND, PO_SUPPLIER_MISMATCH, MATERIAL_MISMATCH, UOM_MISMATCH, ASN_QTY_EXCEEDS_OPEN_PO,
     ASN_QTY_SHORT_OF_PO, ASN_DATE_OUTSIDE_WINDOW}
)


@dataclass(frozen=True)
class OpenPoLine:
    """The store's view of one purchase order line still expecting deliveries."""

    po_number: str
    line_no: int
    material_id: str
    uom: str
    ordered_qty: Decimal
    open_qty: Decimal
    supplier_id: str
    #: the PO line's requested delivery date; ``None`` = unknown, the date window rule skips it
    delivery_date: Optional[dt.date] = None


@dataclass(frozen=True)
class ValidationContext:
    """Everything validation needs from outside the batch, as plain data.

    ``over_ship_tolerance_pct`` is a percentage: ``Decimal("10")`` allows 10 % over the open
    quantity. ``batch_required`` and ``all_or_nothing`` come from the partner profile.

    ``under_ship_tolerance_pct`` (a percentage, 0..100) and ``date_window_days`` come from the
    partner profile's ``inbound`` section too; ``None`` switches their rule off (see the module
    doc), which is what callers that do not pass them get.
    """

    #: ``None`` = no view of the store (e.g. ``hub translate`` on a lone file): cross-document
    #: rules are skipped rather than reporting every PO as unknown.
    open_po_lines: Optional[Mapping[tuple[str, int], OpenPoLine]]
    known_uoms: frozenset[str] = DEFAULT_KNOWN_UOMS
    over_ship_tolerance_pct: Decimal = Decimal("0")
    batch_required: bool = False
    all_or_nothing: bool = False
    under_ship_tolerance_pct: Optional[Decimal] = None
    date_window_days: Optional[int] = None
    # Derived index: PO number -> its open lines in line_no order.
    _by_po: dict[str, list[OpenPoLine]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.over_ship_tolerance_pct, Decimal):
            # A float tolerance would make the allowance inexact (0.1 is not 0.1 in binary).
            raise TypeError("over_ship_tolerance_pct must be a Decimal")
        if self.over_ship_tolerance_pct < 0:
            raise ValueError("over_ship_tolerance_pct must not be negative")
        if self.under_ship_tolerance_pct is not None:
            if not isinstance(self.under_ship_tolerance_pct, Decimal):
                raise TypeError("under_ship_tolerance_pct must be a Decimal")
            if not Decimal(0) <= self.under_ship_tolerance_pct <= 100:
                raise ValueError("under_ship_tolerance_pct must be between 0 and 100")
        if self.date_window_days is not None:
            # bool is an int: True days would be a silent 1
            if isinstance(self.date_window_days, bool) or not isinstance(self.date_window_days, int):
                raise TypeError("date_window_days must be an int")
            if self.date_window_days < 0:
                raise ValueError("date_window_days must not be negative")
        by_po: dict[str, list[OpenPoLine]] = {}
        for line in sorted((self.open_po_lines or {}).values(), key=lambda p: (p.po_number, p.line_no)):
            by_po.setdefault(line.po_number, []).append(line)
        object.__setattr__(self, "_by_po", by_po)

    def lines_of(self, po_number: str) -> list[OpenPoLine]:
        return self._by_po.get(po_number, [])

    def allowance(self, line: OpenPoLine) -> Decimal:
        return line.open_qty * (1 + self.over_ship_tolerance_pct / 100)

    def short_floor(self, open_qty: Decimal) -> Decimal:
        """Least quantity an ASN must ship of ``open_qty`` (only with an under-ship tolerance)."""
        assert self.under_ship_tolerance_pct is not None
        return open_qty * (1 - self.under_ship_tolerance_pct / 100)


def _pct(ctx: ValidationContext) -> str:
    return f"{ctx.over_ship_tolerance_pct.normalize():f}%"


def _qty(q: Decimal) -> str:
    return f"{q.normalize():f}"


def _reference_issues(
    doc_index: int, line_index: int, asn: ShipmentNotice, line: ShipmentNoticeLine, ctx: ValidationContext
) -> tuple[list[Issue], list[OpenPoLine]]:
    """Issues about what the line points at, and the PO lines it may draw quantity from."""
    po = line.po_number
    assert po is not None
    po_lines = ctx.lines_of(po)
    if not po_lines:
        return [
            Issue(doc_index, line_index, PO_NOT_FOUND,
                  f"PO {po} is not known to the hub (no open lines); check the PO number on the ASN "
                  "or load the PO from the ERP before reprocessing", "po_number")
        ], []

    issues: list[Issue] = []
    po_supplier = po_lines[0].supplier_id
    if asn.supplier_id != po_supplier:
        issues.append(
            Issue(doc_index, line_index, PO_SUPPLIER_MISMATCH,
                  f"ASN supplier {asn.supplier_id} is not the supplier {po_supplier} of PO {po}; "
                  "check the PO number on the ASN or the supplier crosswalk", "po_number")
        )

    if line.po_line_no is not None:
        target = ctx.open_po_lines.get((po, line.po_line_no))
        if target is None:
            issues.append(
                Issue(doc_index, line_index, PO_LINE_NOT_FOUND,
                      f"PO {po} has no open line {line.po_line_no}; ask the supplier to correct the PO "
                      "line reference", "po_line_no")
            )
            return issues, []
        if target.material_id != line.material_id:
            issues.append(
                Issue(doc_index, line_index, MATERIAL_MISMATCH,
                      f"material {line.material_id} differs from material {target.material_id} on PO {po} "
                      f"line {target.line_no}; ask the supplier to correct the ASN or check the material "
                      "crosswalk", "material_id")
            )
        candidates = [target]
    else:
        candidates = [p for p in po_lines if p.material_id == line.material_id]
        if not candidates:
            issues.append(
                Issue(doc_index, line_index, PO_LINE_NOT_FOUND,
                      f"PO {po} has no open line for material {line.material_id} and the ASN line names "
                      "no PO line; ask the supplier to add the PO line number or check the material "
                      "crosswalk", "po_line_no")
            )
            return issues, []

    mismatched_units = sorted({p.uom for p in candidates if p.uom != line.uom})
    if mismatched_units:
        issues.append(
            Issue(doc_index, line_index, UOM_MISMATCH,
                  f"unit {line.uom} differs from unit {', '.join(mismatched_units)} on PO {po}; quantities "
                  "cannot be compared: add the unit conversion for this material or ask the supplier "
                  "to ship in the PO unit", "uom")
        )
    return issues, candidates


def _as_date(value: dt.date) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _date_issue(
    doc_index: int, line_index: int, asn: ShipmentNotice, line: ShipmentNoticeLine,
    candidates: list[OpenPoLine], ctx: ValidationContext,
) -> Optional[Issue]:
    """``ASN_DATE_OUTSIDE_WINDOW`` when no PO line the ASN line draws on is within the window."""
    window = ctx.date_window_days
    if window is None:
        return None
    # the arrival is what production plans with; the ship date stands in when it is all we have
    field_name, asn_date = (
        ("expected_arrival", asn.expected_arrival) if asn.expected_arrival is not None else ("ship_date", asn.ship_date)
    )
    dated = [p for p in candidates if p.delivery_date is not None]
    if asn_date is None or not dated:
        return None
    asn_day = _as_date(asn_date)
    offsets = [(asn_day - _as_date(p.delivery_date)).days for p in dated]  # type: ignore[arg-type]
    if any(abs(days) <= window for days in offsets):
        return None
    nearest_po, days = min(zip(dated, offsets), key=lambda pair: abs(pair[1]))
    direction = "after" if days > 0 else "before"
    return Issue(doc_index, line_index, ASN_DATE_OUTSIDE_WINDOW,
                 f"ASN {field_name.replace('_', ' ')} {asn_day.isoformat()} is {abs(days)} day(s) {direction} the "
                 f"delivery date {_as_date(nearest_po.delivery_date).isoformat()} of PO {nearest_po.po_number} "  # type: ignore[arg-type]
                 f"line {nearest_po.line_no} (window {window} day(s)); ask the supplier to correct the date or "
                 "agree a new delivery date on the PO", field_name)


def check_shipment_notices(
    asns: Sequence[tuple[int, ShipmentNotice]],
    ctx: ValidationContext,
    failed: Mapping[int, set[Optional[int]]],
) -> list[Issue]:
    """Check ASNs against open PO lines, in batch order.

    ``failed`` maps a document index to the line indexes that already broke a schema rule
    (``None`` in the set = the whole document already fails). Those lines are still checked
    for their references (every failure is reported) but neither get the quantity check nor
    consume open quantity, since they will not be passed on.
    """
    issues: list[Issue] = []
    remaining: dict[tuple[str, int], Decimal] = {}

    def left(p: OpenPoLine) -> Decimal:
        return remaining.get((p.po_number, p.line_no), ctx.allowance(p))

    for doc_index, asn in asns:
        already = failed.get(doc_index, set())
        doc_issues: list[Issue] = []
        before = dict(remaining)  # to give consumption back if the document fails whole
        # short-shipment bookkeeping: per pool of PO lines, what this ASN ships and from which lines
        shipped: dict[tuple[tuple[str, int], ...], Decimal] = {}
        members: dict[tuple[tuple[str, int], ...], list[int]] = {}
        pools: dict[tuple[tuple[str, int], ...], list[OpenPoLine]] = {}
        for line_index, line in enumerate(asn.lines):
            if line.po_number is None:
                continue
            line_issues, candidates = _reference_issues(doc_index, line_index, asn, line, ctx)
            date_issue = _date_issue(doc_index, line_index, asn, line, candidates, ctx) if candidates else None
            if date_issue is not None:
                line_issues.append(date_issue)
            doc_issues.extend(line_issues)
            if line_issues or line_index in already or None in already:
                continue
            available = sum((left(p) for p in candidates), Decimal(0))
            if line.quantity > available:
                # Report against the line's own PO line when it named one, else the pool.
                open_qty = sum((p.open_qty for p in candidates), Decimal(0))
                where_on_po = (
                    f"line {candidates[0].line_no}" if line.po_line_no is not None
                    else f"lines {', '.join(str(p.line_no) for p in candidates)} (material {line.material_id})"
                )
                already_shipped = sum((ctx.allowance(p) - left(p) for p in candidates), Decimal(0))
                in_batch = (
                    f" after {_qty(already_shipped)} already on earlier ASN lines in this batch"
                    if already_shipped else ""
                )
                doc_issues.append(
                    Issue(doc_index, line_index, ASN_QTY_EXCEEDS_OPEN_PO,
                          f"ASN line quantity {_qty(line.quantity)} exceeds open quantity {_qty(open_qty)} "
                          f"on PO {line.po_number} {where_on_po} (tolerance {_pct(ctx)}){in_batch}; "
                          "ask the supplier to correct the ASN or raise the PO", "quantity")
                )
                continue
            pool = tuple((p.po_number, p.line_no) for p in candidates)
            shipped[pool] = shipped.get(pool, Decimal(0)) + line.quantity
            members.setdefault(pool, []).append(line_index)
            pools[pool] = candidates
            need = line.quantity
            for p in candidates:  # first line first, so the oldest PO line is filled first
                take = min(need, left(p))
                remaining[(p.po_number, p.line_no)] = left(p) - take
                need -= take
                if not need:
                    break
        if ctx.under_ship_tolerance_pct is not None:
            doc_issues.extend(_short_issues(doc_index, asn, ctx, shipped, members, pools, before, remaining))
        doc_fails_whole = None in already or (
            (doc_issues or already) and ctx.all_or_nothing
        ) or _no_good_lines(asn, already, doc_issues)
        if doc_fails_whole:
            remaining = before
        issues.extend(doc_issues)
    return issues


def _no_good_lines(asn: ShipmentNotice, already: set[Optional[int]], doc_issues: list[Issue]) -> bool:
    bad = set(already) | {i.line_index for i in doc_issues}
    return all(i in bad for i in range(len(asn.lines)))


def _short_issues(
    doc_index: int, asn: ShipmentNotice, ctx: ValidationContext,
    shipped: Mapping[tuple[tuple[str, int], ...], Decimal],
    members: Mapping[tuple[tuple[str, int], ...], list[int]],
    pools: Mapping[tuple[tuple[str, int], ...], list[OpenPoLine]],
    before: Mapping[tuple[str, int], Decimal],
    remaining: dict[tuple[str, int], Decimal],
) -> list[Issue]:
    """``ASN_QTY_SHORT_OF_PO`` for every line of a pool this ASN ships short; gives their allowance back."""
    issues: list[Issue] = []
    for pool, total in shipped.items():
        candidates = pools[pool]
        # open when this ASN came: earlier documents of the batch may already have shipped part
        open_qty = sum(
            (max(p.open_qty - (ctx.allowance(p) - before.get((p.po_number, p.line_no), ctx.allowance(p))), Decimal(0))
             for p in candidates),
            Decimal(0),
        )
        floor = ctx.short_floor(open_qty)
        if total >= floor:
            continue
        for key in pool:  # the lines will not be passed on, so they must not use up the PO line
            if key in before:
                remaining[key] = before[key]
            else:
                remaining.pop(key, None)
        po_number = candidates[0].po_number
        on_po = (f"line {candidates[0].line_no}" if len(candidates) == 1
                 else f"lines {', '.join(str(p.line_no) for p in candidates)}")
        pct = f"{ctx.under_ship_tolerance_pct.normalize():f}%"  # type: ignore[union-attr]
        for line_index in members[pool]:
            issues.append(
                Issue(doc_index, line_index, ASN_QTY_SHORT_OF_PO,
                      f"ASN {asn.asn_number} ships {_qty(total)} of open quantity {_qty(open_qty)} on PO {po_number} "
                      f"{on_po}, less than the {_qty(floor)} the partner must ship complete (under-ship tolerance "
                      f"{pct}); ask the supplier to ship the rest on this ASN or change the PO", "quantity")
            )
    return issues
