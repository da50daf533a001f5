"""Schedule adjustment: which production orders lose material coverage when supply changes.

Pure functions on MRP results (``collaboration.mrp``):

* ``order_coverage(result)``: per active production order, whether the purchased materials pegged
  to it are there in time from *firm* supply (released stock, open PO lines, in-transit ASNs, the
  firm zone of delivery schedules the supplier acknowledged; not the planned purchases MRP
  proposes), and the earliest feasible start.
* ``lost_coverage(before, after)``: orders whose earliest start got later (or impossible) between
  two runs: the schedule-change proposals to push to the MES and raise Alerts for. Nothing is
  rescheduled here.
* Scenarios for ``hub whatif`` (``late_supplier``, ``demand_change``, ``reject_batch``) return a
  changed copy of an ``MrpInput``; ``what_if(inp, scenario)`` runs both and compares.

Coverage of one purchased material: its gross requirements (as MRP pegged them to orders, so
sub-assembly stock and lead-time offsets are already in) are served first come, first served by
need day (then order id) from on-hand stock and then the scheduled receipts in date order. A
requirement is available on the day the cumulative supply reaches it; the order's earliest start is
its planned start moved by the largest such delay over all its purchased materials (a part needed
three days before the start through a sub-assembly that arrives two days late still delays the
start by two days). ``None``: firm supply never reaches it. Demand no order causes (lot-size
excess of a sub-assembly's planned order) is not served, which is optimistic for the orders.

Limit: an existing sub-assembly order's delay is reported for that order; the orders of its
parent that it supplies are not moved with it.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Iterable, Optional

from canonical_model.documents import Batch, DeliverySchedule, PurchaseOrder, ShipmentNotice, supplier_lot
from collaboration.mrp import PSEUDO_ORDERS, MrpInput, MrpResult, run_mrp
from hub.errors import SkippableError

ZERO = Decimal(0)


@dataclass(frozen=True)
class Shortage:
    material_id: str
    need_date: dt.date
    quantity: Decimal
    #: the day firm supply reaches it; None: not within firm supply
    available_on: Optional[dt.date]


@dataclass(frozen=True)
class OrderCoverage:
    order_id: str
    planned_start: dt.date
    #: None: some purchased material is not covered by firm supply at all
    earliest_start: Optional[dt.date]
    #: requirements that are not there on their need day
    shortages: tuple[Shortage, ...] = ()

    @property
    def covered(self) -> bool:
        return self.earliest_start == self.planned_start


@dataclass(frozen=True)
class CoverageChange:
    order_id: str
    material_id: str
    planned_start: dt.date
    before: Optional[dt.date]
    after: Optional[dt.date]
    #: purchased materials whose availability moved for this order
    materials: tuple[str, ...]

    @property
    def delay_days(self) -> Optional[int]:
        """Days the earliest start moved; None when it became impossible."""
        if self.after is None:
            return None
        return (self.after - (self.before or self.planned_start)).days


def _material_availability(result: MrpResult, material_id: str
                           ) -> list[tuple[str, dt.date, Decimal, Optional[dt.date]]]:
    """``(order, need day, quantity, available on)`` for one purchased material."""
    demand = sorted((day, order_id, qty) for day, orders in result.gross.get(material_id, {}).items()
                    for order_id, qty in orders.items() if order_id not in PSEUDO_ORDERS and qty > 0)
    supply = sorted((r.date, r.ref, r.quantity) for r in (*result.receipts.get(material_id, ()),
                                                           *result.committed.get(material_id, ())))
    cumulative_supply = result.on_hand.get(material_id, ZERO)
    cumulative_demand = ZERO
    reached: Optional[dt.date] = None
    next_receipt = 0
    served = []
    for day, order_id, qty in demand:
        cumulative_demand += qty
        while cumulative_supply < cumulative_demand and next_receipt < len(supply):
            reached, _, received = supply[next_receipt]
            cumulative_supply += received
            next_receipt += 1
        available = (reached or day) if cumulative_supply >= cumulative_demand else None
        served.append((order_id, day, qty, available))
    return served


def order_coverage(result: MrpResult) -> dict[str, OrderCoverage]:
    """Coverage of every active production order by firm supply of its purchased materials."""
    delays: dict[str, Optional[int]] = {order_id: 0 for order_id in result.order_dates}
    shortages: dict[str, list[Shortage]] = {order_id: [] for order_id in result.order_dates}
    for material_id in sorted(m for m in result.gross if m not in result.made):
        for order_id, day, qty, available in _material_availability(result, material_id):
            if order_id not in delays:
                continue
            if available is None:
                delays[order_id] = None
                shortages[order_id].append(Shortage(material_id, day, qty, None))
            elif available > day:
                shortages[order_id].append(Shortage(material_id, day, qty, available))
                if delays[order_id] is not None:
                    delays[order_id] = max(delays[order_id], (available - day).days)
    coverage = {}
    for order_id, start in result.order_dates.items():
        delay = delays[order_id]
        coverage[order_id] = OrderCoverage(order_id, start, None if delay is None else start + dt.timedelta(days=delay),
                                           tuple(shortages[order_id]))
    return coverage


def lost_coverage(before: MrpResult, after: MrpResult, order_materials: Optional[dict[str, str]] = None
                  ) -> list[CoverageChange]:
    """Orders whose earliest start is later (or impossible) in ``after`` than in ``before``.

    ``order_materials``: order id -> its material, for the report (else left blank).
    """
    old, new = order_coverage(before), order_coverage(after)
    changes = []
    for order_id, now in new.items():
        was = old.get(order_id)
        was_start = was.earliest_start if was else now.planned_start
        if was is not None and was_start is None:
            continue  # already impossible before: nothing lost
        if now.earliest_start is not None and now.earliest_start <= was_start:
            continue
        previous = {(s.material_id, s.need_date, s.available_on) for s in (was.shortages if was else ())}
        moved = tuple(sorted({s.material_id for s in now.shortages
                              if (s.material_id, s.need_date, s.available_on) not in previous}))
        changes.append(CoverageChange(order_id, (order_materials or {}).get(order_id, ""), now.planned_start,
                                      was_start, now.earliest_start, moved))
    return sorted(changes, key=lambda c: (c.planned_start, c.order_id))


# --------------------------------------------------------------------------- what-if scenarios
def late_supplier(inp: MrpInput, supplier_id: str, days: int) -> MrpInput:
    """Every open PO line, in-transit ASN and acknowledged schedule line of ``supplier_id`` arrives
    ``days`` later."""
    shift = dt.timedelta(days=days)

    def po(p: PurchaseOrder) -> PurchaseOrder:
        if p.supplier_id != supplier_id:
            return p
        return p.model_copy(update={"lines": [
            line.model_copy(update={"delivery_date": (line.delivery_date or inp.plan_date) + shift})
            for line in p.lines]})

    def asn(a: ShipmentNotice) -> ShipmentNotice:
        if a.supplier_id != supplier_id:
            return a
        return a.model_copy(update={"expected_arrival": (a.expected_arrival or a.ship_date or inp.plan_date) + shift})

    def schedule(d: DeliverySchedule) -> DeliverySchedule:
        if d.supplier_id != supplier_id:
            return d
        return d.model_copy(update={"lines": [line.model_copy(update={"date": line.date + shift}) for line in d.lines]})

    return dataclasses.replace(inp, purchase_orders=[po(p) for p in inp.purchase_orders],
                               shipment_notices=[asn(a) for a in inp.shipment_notices],
                               committed_schedules=[schedule(d) for d in inp.committed_schedules])


def demand_change(inp: MrpInput, material_id: str, percent: Decimal) -> MrpInput:
    """Demand for ``material_id`` changed by ``percent`` (20 = +20 %).

    A material used in BOMs: its gross requirements are scaled. A material only produced (a
    finished good): its production orders' quantities are scaled.
    """
    if percent <= -100:
        raise SkippableError("WHATIF_BAD_PERCENT", f"{percent} % would leave no demand", f"Material/{material_id}")
    factor = 1 + percent / 100
    boms = list(inp.boms)
    used = any(c.material_id == material_id for b in boms if b.status == "active" for c in b.components)
    if used:
        return dataclasses.replace(inp, boms=boms, demand_scale={**inp.demand_scale, material_id: factor})
    orders = [o.model_copy(update={"quantity": o.quantity * factor}) if o.material_id == material_id else o
              for o in inp.production_orders]
    return dataclasses.replace(inp, boms=boms, production_orders=orders)


def reject_batch(inp: MrpInput, batch: str) -> MrpInput:
    """Batch ``batch`` (hub batch id, supplier lot or ERP lot number) is rejected: not supply any more."""
    return dataclasses.replace(inp, excluded_batches=inp.excluded_batches | {batch})


def batch_names(batches: Iterable[Batch]) -> set[str]:
    """Every name a batch is known by (for checking a what-if names a real batch)."""
    names = set()
    for b in batches:
        names.update(n for n in (b.batch_id, b.supplier_batch_number, supplier_lot(b.batch_id, b.supplier_id)) if n)
    return names


@dataclass
class WhatIfResult:
    before: MrpResult
    after: MrpResult
    changes: list[CoverageChange]
    #: orders without firm coverage before the scenario already (not in ``changes``)
    already_uncovered: list[str]


def what_if(inp: MrpInput, *scenarios: Callable[[MrpInput], MrpInput]) -> WhatIfResult:
    """Run MRP on the data as it is and with the scenarios applied; the orders that lose coverage.

    ``what_if(inp, lambda i: late_supplier(i, "SUP-001", 5))``. Nothing is written anywhere.
    """
    inp = _materialised(inp)
    changed = inp
    for scenario in scenarios:
        changed = scenario(changed)
    before, after = run_mrp(inp), run_mrp(changed)
    orders = {o.order_id: o.material_id for o in inp.production_orders}
    uncovered = sorted(o for o, c in order_coverage(before).items() if c.earliest_start is None)
    return WhatIfResult(before, after, lost_coverage(before, after, orders), uncovered)


def _materialised(inp: MrpInput) -> MrpInput:
    """Iterables read twice (two runs) must not be one-shot generators."""
    fields = {f.name: getattr(inp, f.name) for f in dataclasses.fields(inp)}
    for name, value in fields.items():
        if not isinstance(value, (list, tuple, dict, frozenset, set, str, dt.date)) and hasattr(value, "__iter__") \
                and not hasattr(value, "keys"):
            fields[name] = list(value)
    return MrpInput(**fields)
