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

Line without ``po_line_no``: it matches the open lines of that PO with the same
``material_id``, taken in ``line_no`` order; its quantity is checked against their combined
remaining allowance and allocated first-line-first.

Quantities are cumulative within the batch: two ASN lines of 150 against one PO line open for
200 are an over-shipment even though each line alone fits. Only lines that will be passed on
consume allowance: a line already failing another rule does not, and a document that fails
whole gives its consumption back.
"""
from __future__ import annotations

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

RULE_CODES = frozenset(
    {PO_NOT_FOUND, PO_LINE_NOT_FOUND, PO_SUPPLIER_MISMATCH, MATERIAL_MISMATCH, UOM_MISMATCH, ASN_QTY_EXCEEDS_OPEN_PO}
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


@dataclass(frozen=True)
class ValidationContext:
    """Everything validation needs from outside the batch, as plain data.

    ``over_ship_tolerance_pct`` is a percentage: ``Decimal("10")`` allows 10 % over the open
    quantity. ``batch_required`` and ``all_or_nothing`` come from the partner profile.
    """

    #: ``None`` = no view of the store (e.g. ``hub translate`` on a lone file): cross-document
    #: rules are skipped rather than reporting every PO as unknown.
    open_po_lines: Optional[Mapping[tuple[str, int], OpenPoLine]]
    known_uoms: frozenset[str] = DEFAULT_KNOWN_UOMS
    over_ship_tolerance_pct: Decimal = Decimal("0")
    batch_required: bool = False
    all_or_nothing: bool = False
    # Derived index: PO number -> its open lines in line_no order.
    _by_po: dict[str, list[OpenPoLine]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.over_ship_tolerance_pct, Decimal):
            # A float tolerance would make the allowance inexact (0.1 is not 0.1 in binary).
            raise TypeError("over_ship_tolerance_pct must be a Decimal")
        if self.over_ship_tolerance_pct < 0:
            raise ValueError("over_ship_tolerance_pct must not be negative")
        by_po: dict[str, list[OpenPoLine]] = {}
        for line in sorted((self.open_po_lines or {}).values(), key=lambda p: (p.po_number, p.line_no)):
            by_po.setdefault(line.po_number, []).append(line)
        object.__setattr__(self, "_by_po", by_po)

    def lines_of(self, po_number: str) -> list[OpenPoLine]:
        return self._by_po.get(po_number, [])

    def allowance(self, line: OpenPoLine) -> Decimal:
        return line.open_qty * (1 + self.over_ship_tolerance_pct / 100)


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
        for line_index, line in enumerate(asn.lines):
            if line.po_number is None:
                continue
            line_issues, candidates = _reference_issues(doc_index, line_index, asn, line, ctx)
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
            need = line.quantity
            for p in candidates:  # first line first, so the oldest PO line is filled first
                take = min(need, left(p))
                remaining[(p.po_number, p.line_no)] = left(p) - take
                need -= take
                if not need:
                    break
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
