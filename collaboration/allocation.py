"""Purchase task allocation: net requirements split among approved suppliers, each task with its reason.

Pure functions: ``allocate`` turns MRP's purchase requirements into proposed ``PurchaseTask``s;
``override`` applies a buyer's change and returns the audit entry to store with it
(``record_audit(session, entry)`` writes it to the store's audit log).

Rules for one requirement (material, need date, quantity in the base unit):

1. Candidates: the rows of ``mappings/sourcing/sourcing.csv`` for the material that apply on the
   need date. Weight = ``quota_share`` x grade weight. Grades come from the supplier scorecard
   when it exists (``grades={"SUP-001": "B"}``); without a grade the weight factor is 1.
   ``DEFAULT_GRADE_WEIGHTS``: A 1, B 0.8, C 0.5, D 0 (a D supplier gets no new tasks).
2. Split by weight (largest-remainder method at the requirement's own precision, so the parts
   add up exactly).
3. MOQ: a part below its supplier's MOQ is not ordered as such: that supplier is dropped for this
   requirement (the smallest weight first) and the split is redone among the others. The last
   supplier left is raised to its MOQ instead.
4. Capacity per ISO week (``capacity_per_week``, shared by all requirements of the run in need
   date order, plus ``committed`` quantities passed in): a part above what the supplier has left
   that week is cut there and the rest goes to the other candidates with capacity left, in
   weight order. What nobody can take is ``Unallocated`` (for an Alert), never dropped.
5. Each part in the supplier's purchase unit, raised to the MOQ and rounded up to the order
   multiple (so a task may exceed the requirement by less than one multiple, and rounding may go
   past the weekly capacity by as much: capacity is checked before rounding).
6. Order date = need date - the supplier's lead time; a task whose order date is before the plan
   date is proposed anyway, marked ``late`` and said so in its reason.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, Iterable, Mapping, Optional, Sequence

from collaboration.mrp import NetRequirement, UnitConverter
from hub.errors import FatalError, SkippableError
from mappings.sourcing import SourcingRule, SourcingTable

DEFAULT_GRADE_WEIGHTS: Mapping[str, Decimal] = {"A": Decimal(1), "B": Decimal("0.8"), "C": Decimal("0.5"),
                                                "D": Decimal(0)}
ZERO = Decimal(0)


@dataclass(frozen=True)
class PurchaseTask:
    """A proposed purchase: what one supplier should deliver of one material on one day."""

    task_id: str
    material_id: str
    supplier_id: str
    need_date: dt.date
    order_date: dt.date
    #: in the material's base unit
    quantity: Decimal
    uom: str
    #: in the supplier's purchase unit, MOQ and multiple applied: what the supplier is asked for
    purchase_quantity: Decimal
    purchase_uom: str
    #: production orders the requirement is pegged to
    orders: tuple[str, ...]
    reason: str
    late: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (decimals as strings, dates ISO): for audit details and XCom-free hand-over."""
        return {"task_id": self.task_id, "material_id": self.material_id, "supplier_id": self.supplier_id,
                "need_date": self.need_date.isoformat(), "order_date": self.order_date.isoformat(),
                "quantity": _text(self.quantity), "uom": self.uom, "purchase_quantity": _text(self.purchase_quantity),
                "purchase_uom": self.purchase_uom, "orders": list(self.orders), "reason": self.reason,
                "late": self.late}


@dataclass(frozen=True)
class Unallocated:
    """Part of a requirement no approved supplier can take (raise an Alert for the buyer)."""

    material_id: str
    need_date: dt.date
    quantity: Decimal
    uom: str
    orders: tuple[str, ...]
    reason: str


@dataclass
class AllocationResult:
    tasks: list[PurchaseTask] = field(default_factory=list)
    unallocated: list[Unallocated] = field(default_factory=list)


@dataclass(frozen=True)
class AuditEntry:
    """What ``canonical_model.store.audit.record`` takes, built without a session."""

    actor: str
    action: str
    subject_type: str
    subject_key: str
    details: dict[str, Any]


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def task_id(material_id: str, need_date: dt.date, supplier_id: str) -> str:
    """Stable across reruns of the same plan: material, day and supplier name the task."""
    return f"PT/{material_id}/{need_date.isoformat()}/{supplier_id}"


def week_of(day: dt.date) -> tuple[int, int]:
    iso = day.isocalendar()
    return iso[0], iso[1]


@dataclass
class _Candidate:
    rule: SourcingRule
    weight: Decimal
    grade_note: str
    purchase_uom: str


def _split(quantity: Decimal, candidates: Sequence[_Candidate]) -> list[Decimal]:
    """``quantity`` split by weight, exactly: floors at the quantity's precision, then the
    remaining quanta to the largest remainders (ties: candidate order)."""
    exponent = quantity.as_tuple().exponent
    quantum = Decimal(1).scaleb(min(exponent if isinstance(exponent, int) else 0, 0))
    total = sum((c.weight for c in candidates), ZERO)
    raw = [quantity * c.weight / total for c in candidates]
    parts = [(r / quantum).to_integral_value(rounding=ROUND_FLOOR) * quantum for r in raw]
    left = int(((quantity - sum(parts, ZERO)) / quantum).to_integral_value())
    by_remainder = sorted(range(len(parts)), key=lambda i: (-(raw[i] - parts[i]), i))
    for i in by_remainder[:left]:
        parts[i] += quantum
    return parts


def _round_up(quantity: Decimal, multiple: Decimal) -> Decimal:
    return (quantity / multiple).to_integral_value(rounding=ROUND_CEILING) * multiple


def allocate(requirements: Iterable[NetRequirement], sourcing: SourcingTable, *, plan_date: dt.date,
             units: UnitConverter, grades: Optional[Mapping[str, str]] = None,
             grade_weights: Mapping[str, Decimal] = DEFAULT_GRADE_WEIGHTS,
             committed: Optional[Mapping[tuple[str, str, tuple[int, int]], Decimal]] = None) -> AllocationResult:
    """Proposed purchase tasks for the purchase requirements (``make`` ones are skipped).

    ``committed``: ``(supplier, material, (iso year, iso week)) -> quantity in the base unit``
    already ordered that week, counted against ``capacity_per_week``.
    """
    used: dict[tuple[str, str, tuple[int, int]], Decimal] = dict(committed or {})
    result = AllocationResult()
    for req in sorted((r for r in requirements if not r.make and r.planned_quantity > 0),
                      key=lambda r: (r.need_date, r.material_id)):
        _allocate_one(req, sourcing, plan_date, units, grades or {}, grade_weights, used, result)
    return result


def _allocate_one(req: NetRequirement, sourcing: SourcingTable, plan_date: dt.date, units: UnitConverter,
                  grades: Mapping[str, str], grade_weights: Mapping[str, Decimal],
                  used: dict[tuple[str, str, tuple[int, int]], Decimal], result: AllocationResult) -> None:
    material, quantity, uom = req.material_id, req.planned_quantity, req.uom
    orders = tuple(req.orders)
    where = f"requirement {material}/{req.need_date.isoformat()}"

    def to_base(rule: SourcingRule, qty: Decimal) -> Decimal:
        return units.convert(material, qty, rule.purchase_uom or uom, uom, rule.where or where)

    candidates: list[_Candidate] = []
    excluded: list[str] = []
    for rule in sourcing.approved(material, req.need_date):
        grade = grades.get(rule.supplier_id)
        if grade is None:
            factor, grade_note = Decimal(1), "no grade"
        elif grade in grade_weights:
            factor, grade_note = grade_weights[grade], f"grade {grade} x{_text(grade_weights[grade])}"
        else:
            raise FatalError("GRADE_UNKNOWN", f"supplier {rule.supplier_id} has grade {grade!r}; known grades: "
                                              f"{', '.join(sorted(grade_weights))}", where)
        weight = rule.quota_share * factor
        if weight <= 0:
            excluded.append(f"{rule.supplier_id} excluded ({'quota 0' if rule.quota_share == 0 else grade_note})")
            continue
        candidates.append(_Candidate(rule, weight, grade_note, rule.purchase_uom or uom))
    if not candidates:
        why = "; ".join(excluded) if excluded else "no approved supplier in mappings/sourcing/sourcing.csv"
        result.unallocated.append(Unallocated(material, req.need_date, quantity, uom, orders,
                                              f"{why} for {material} on {req.need_date.isoformat()}"))
        return
    candidates.sort(key=lambda c: (-c.weight, c.rule.supplier_id))
    notes: dict[str, list[str]] = {c.rule.supplier_id: [] for c in candidates}
    dropped: list[str] = list(excluded)

    while True:
        parts = _split(quantity, candidates)
        below = [(c.weight, c.rule.supplier_id, i) for i, c in enumerate(candidates)
                 if c.rule.moq is not None and parts[i] < to_base(c.rule, c.rule.moq)]
        if not below or len(candidates) == 1:
            break
        # candidates are in weight order: the last one below its MOQ has the smallest weight
        _, supplier, i = max(below, key=lambda t: t[2])
        dropped.append(f"{supplier} dropped: its share {_text(parts[i])} {uom} is below its MOQ "
                       f"{_text(candidates[i].rule.moq)} {candidates[i].purchase_uom}")
        del candidates[i]

    total_weight = sum((c.weight for c in candidates), ZERO)
    week = week_of(req.need_date)
    room: list[Optional[Decimal]] = []
    for c in candidates:
        cap = c.rule.capacity_per_week
        room.append(None if cap is None else max(to_base(c.rule, cap) - used.get((c.rule.supplier_id, material, week),
                                                                               ZERO), ZERO))
    final: list[Decimal] = []
    overflow = ZERO
    for i, c in enumerate(candidates):
        take = parts[i] if room[i] is None else min(parts[i], room[i])
        if take < parts[i]:
            notes[c.rule.supplier_id].append(f"cut to its capacity left in week {week[0]}-W{week[1]:02d}")
            overflow += parts[i] - take
        final.append(take)
    for i, c in enumerate(candidates):
        if overflow <= 0:
            break
        spare = overflow if room[i] is None else room[i] - final[i]
        extra = min(spare, overflow)
        if extra > 0:
            final[i] += extra
            overflow -= extra
            notes[c.rule.supplier_id].append(f"took {_text(extra)} {uom} more: others at capacity")

    for i, c in enumerate(candidates):
        if final[i] <= 0:
            continue
        rule = c.rule
        purchase = units.convert(material, final[i], uom, c.purchase_uom, rule.where or where)
        steps = []
        if rule.moq is not None and purchase < rule.moq:
            purchase = rule.moq
            steps.append(f"raised to MOQ {_text(rule.moq)} {c.purchase_uom}")
        rounded = _round_up(purchase, rule.multiple)
        if rounded != purchase:
            steps.append(f"rounded up to a multiple of {_text(rule.multiple)} {c.purchase_uom}")
        purchase = rounded
        base_qty = to_base(rule, purchase)
        key = (rule.supplier_id, material, week)
        used[key] = used.get(key, ZERO) + base_qty
        order_day = req.need_date - dt.timedelta(days=rule.lead_time_days)
        late = order_day < plan_date
        share = (c.weight / total_weight * 100).quantize(Decimal("0.1"))
        reason = [f"{_text(share)}% of {_text(quantity)} {uom} needed on {req.need_date.isoformat()} "
                  f"(quota {_text(rule.quota_share)}, {c.grade_note})"]
        reason += notes[rule.supplier_id] + steps + dropped
        reason.append(f"order by {order_day.isoformat()} (lead time {rule.lead_time_days} d)")
        if late:
            reason.append(f"LATE: the order date is before the plan date {plan_date.isoformat()}")
        result.tasks.append(PurchaseTask(
            task_id(material, req.need_date, rule.supplier_id), material, rule.supplier_id, req.need_date, order_day,
            base_qty, uom, purchase, c.purchase_uom, orders, "; ".join(reason), late))
    if overflow > 0:
        result.unallocated.append(Unallocated(
            material, req.need_date, overflow, uom, orders,
            f"approved suppliers of {material} are at capacity in week {week[0]}-W{week[1]:02d}"))


# --------------------------------------------------------------------------- buyer override
def override(tasks: Sequence[PurchaseTask], task_id_: str, *, actor: str, reason: str, at: dt.datetime,
             sourcing: SourcingTable, units: UnitConverter, supplier_id: Optional[str] = None,
             purchase_quantity: Optional[Decimal] = None, need_date: Optional[dt.date] = None
             ) -> tuple[list[PurchaseTask], AuditEntry]:
    """A buyer's change to one proposed task: the new task list and the audit entry for it.

    The task keeps its id (it names the proposal being overridden). The new supplier must be
    approved for the material on the need date. A quantity below the MOQ or off the order
    multiple is the buyer's call: it is accepted and listed under ``warnings`` in the audit entry.
    Refusals are ``SkippableError``: ``OVERRIDE_UNKNOWN_TASK``, ``OVERRIDE_REASON_MISSING``,
    ``OVERRIDE_BAD_QUANTITY``, ``OVERRIDE_SUPPLIER_NOT_APPROVED``, ``OVERRIDE_NO_CHANGE``.
    """
    where = f"PurchaseTask/{task_id_}"
    matches = [i for i, t in enumerate(tasks) if t.task_id == task_id_]
    if not matches:
        raise SkippableError("OVERRIDE_UNKNOWN_TASK", "no proposed task with this id", where)
    if not actor.strip() or not reason.strip():
        raise SkippableError("OVERRIDE_REASON_MISSING", "an override needs the buyer's name and a reason", where)
    if purchase_quantity is not None and (not purchase_quantity.is_finite() or purchase_quantity <= 0):
        raise SkippableError("OVERRIDE_BAD_QUANTITY", f"quantity {purchase_quantity} is not > 0", where)
    index = matches[0]
    old = tasks[index]
    supplier = supplier_id or old.supplier_id
    day = need_date or old.need_date
    rule = sourcing.rule(old.material_id, supplier, day)
    if rule is None:
        raise SkippableError("OVERRIDE_SUPPLIER_NOT_APPROVED",
                             f"{supplier} is not an approved supplier of {old.material_id} on {day.isoformat()} "
                             f"(mappings/sourcing/sourcing.csv)", where)
    purchase_uom = rule.purchase_uom or old.uom
    warnings: list[str] = []
    if purchase_quantity is None:
        if supplier == old.supplier_id:
            purchase_quantity = old.purchase_quantity
        else:
            purchase_quantity = _round_up(units.convert(old.material_id, old.quantity, old.uom, purchase_uom, where),
                                          rule.multiple)
    if rule.moq is not None and purchase_quantity < rule.moq:
        warnings.append(f"below the MOQ {_text(rule.moq)} {purchase_uom}")
    if purchase_quantity % rule.multiple != 0:
        warnings.append(f"not a multiple of {_text(rule.multiple)} {purchase_uom}")
    base_qty = units.convert(old.material_id, purchase_quantity, purchase_uom, old.uom, where)
    if base_qty < old.quantity:
        warnings.append(f"{_text(old.quantity - base_qty)} {old.uom} less than proposed: the requirement is not "
                        f"fully covered")
    order_day = day - dt.timedelta(days=rule.lead_time_days)
    new = replace(old, supplier_id=supplier, need_date=day, order_date=order_day, quantity=base_qty,
                  purchase_quantity=purchase_quantity, purchase_uom=purchase_uom, late=order_day < at.date(),
                  reason=f"override by {actor} at {at.isoformat()}: {reason.strip()} (proposed: {old.reason})")
    if (new.supplier_id, new.need_date, new.purchase_quantity, new.purchase_uom) == \
            (old.supplier_id, old.need_date, old.purchase_quantity, old.purchase_uom):
        raise SkippableError("OVERRIDE_NO_CHANGE", "the override changes nothing", where)
    changed = list(tasks)
    changed[index] = new
    entry = AuditEntry(actor=actor, action="purchase_task_override", subject_type="PurchaseTask",
                       subject_key=task_id_,
                       details={"at": at.isoformat(), "reason": reason.strip(), "before": old.as_dict(),
                                "after": new.as_dict(), "warnings": warnings})
    return changed, entry


def record_audit(session: Any, entry: AuditEntry) -> None:
    """Write ``entry`` to the store's audit log in the caller's session (the caller commits)."""
    from canonical_model.store import audit

    audit.record(session, actor=entry.actor, action=entry.action, subject_type=entry.subject_type,
                 subject_key=entry.subject_key, details=entry.details)
