"""Material requirements planning: production orders and BOMs in, net requirements with pegging out.

A pure function on canonical documents (``run_mrp(MrpInput) -> MrpResult``): nothing is read or
written here, so the Airflow task, ``hub whatif`` and the benchmark call the same code.

How a run works
---------------
* **Demand** is every active production order (planned / released / started): its material's BOM
  is exploded at the order's start date, each component requirement pegged to the order.
* **Low-level coding**: materials are planned level by level (a material's level is the deepest
  place it occurs in any BOM reached from the orders), so all gross requirements of a material are
  known before it is netted, and each material is netted once however many parents use it.
* **Netting**, per material and day in date order, against

  - on-hand stock (``StockLevel``) of *released* stock only: a stock row whose ``batch_number``
    names a ``Batch`` that is quarantined, rejected or consumed is left out (``StockLevel`` has no
    status; the batch's status decides). A stock row with no batch number, or whose batch the
    hub has no ``Batch`` document for, counts: the ERP booked it and QC has not blocked it.
  - safety stock (``planning.csv``): kept back; a shortfall of it is a requirement on the plan date
  - open purchase order lines (status open / changed): ordered minus received (``Receipt`` lines
    naming the PO line) minus what is in transit on an ASN for that line, due on the line's
    delivery date (the plan date when it has none)
  - in-transit ASN lines: active ``ShipmentNotice``s that no ``Receipt`` names yet, due on
    ``expected_arrival`` (else ``ship_date``, else the plan date). Once a receipt names the ASN the
    truck has arrived: what was received is stock, the rest is not coming.
  - existing production orders of a manufactured material, due on their ``due`` date.

  A receipt dated after a requirement does not cover it (it is late): the requirement stays and
  the receipt serves later ones.
* **Lot sizing** per material (``planning.csv``): lot-for-lot, else at least ``moq`` and a whole
  multiple of ``multiple``; the excess is projected stock for later days.
* **Lead-time offset**: a planned order is released ``lead_time_days`` (calendar days) before it
  is needed; a manufactured material's planned order needs its components on its release date.
* **Pegging**: every requirement carries, per production order, how much of it that order causes
  (full multi-level pegging through planned orders of sub-assemblies). Within one day, stock
  serves orders in order-id order, so the last orders carry the shortfall. Two pseudo-orders
  stand for demand no order causes: ``SAFETY_STOCK`` and ``LOT_SIZE`` (components of the lot-size
  excess of a parent's planned order).

Units: every quantity is converted to the material's base unit (``Material.uom``) through
``mappings/crosswalks/unit_conversions.csv`` first. Arithmetic is ``Decimal`` throughout.

Errors (``FatalError``: the plan would be wrong, so no plan): ``BOM_CYCLE`` names the materials of
the cycle in order, ``BOM_MISSING_COMPONENT`` the BOM, parent and unknown component,
``BOM_AMBIGUOUS`` a material with several active BOMs and no choice given,
``MATERIAL_UNKNOWN`` a planned material without master data, ``UNIT_CONVERSION_MISSING`` the
material and units. Only BOMs reached from the planned materials are checked: an unrelated broken
BOM does not stop the plan. Problems that leave the plan right but incomplete (an order whose
material has no BOM, a negative quantity) are ``warnings`` on the result.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence

from canonical_model.documents import (Batch, BillOfMaterials, DeliverySchedule, Material, ProductionOrder,
                                       PurchaseOrder, Receipt, ShipmentNotice, StockLevel, supplier_lot)
from hub.errors import FatalError, HubError, SkippableError
from mappings.sourcing import PlanningParameters

UNIT_CONVERSIONS_CSV = Path(__file__).resolve().parent.parent / "mappings" / "crosswalks" / "unit_conversions.csv"

#: pseudo-orders in ``NetRequirement.pegs`` for demand no production order causes
SAFETY_STOCK = "(safety stock)"
LOT_SIZE = "(lot size)"
PSEUDO_ORDERS = frozenset({SAFETY_STOCK, LOT_SIZE})

ACTIVE_ORDER_STATUSES = frozenset({"planned", "released", "started"})
OPEN_PO_STATUSES = frozenset({"open", "changed"})
#: batch statuses whose stock is not available to production
BLOCKED_BATCH_STATUSES = frozenset({"quarantined", "rejected", "consumed"})

ZERO = Decimal(0)
ONE = Decimal(1)


# --------------------------------------------------------------------------- units
@dataclass(frozen=True)
class UnitConverter:
    """Unit conversions per material: ``(material or "*", from_uom, to_uom) -> factor``."""

    factors: Mapping[tuple[str, str, str], Decimal] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = UNIT_CONVERSIONS_CSV) -> "UnitConverter":
        """Read ``material,from_uom,to_uom,factor`` rows; ``FatalError UNIT_CONVERSIONS_INVALID`` at file:line."""
        from mappings.sourcing import read_table

        factors: dict[tuple[str, str, str], Decimal] = {}
        lines: dict[tuple[str, str, str], str] = {}
        for where, row in read_table(path, ("material", "from_uom", "to_uom", "factor"), "UNIT_CONVERSIONS_INVALID"):
            cells = list(row.values())
            if not all(cells):
                raise FatalError("UNIT_CONVERSIONS_INVALID", "expected 4 non-empty columns", where)
            material, from_uom, to_uom, text = cells
            try:
                factor = Decimal(text)
                if not factor.is_finite() or factor <= 0:
                    raise InvalidOperation
            except InvalidOperation:
                raise FatalError("UNIT_CONVERSIONS_INVALID", f"factor {text!r} is not a number > 0",
                                 where) from None
            if from_uom == to_uom:
                raise FatalError("UNIT_CONVERSIONS_INVALID", f"{from_uom} to itself", where)
            key, inverse = (material, from_uom, to_uom), (material, to_uom, from_uom)
            if key in factors and factors[key] != factor:
                raise FatalError("UNIT_CONVERSIONS_INVALID",
                                 f"{material} {from_uom}->{to_uom} contradicts {lines[key]}", where)
            if inverse in factors:
                # the inverse is derived; a second row could only agree or contradict it
                raise FatalError("UNIT_CONVERSIONS_INVALID", f"{material} {to_uom}->{from_uom} is already given "
                                 f"at {lines[inverse]}; keep one direction", where)
            factors[key] = factor
            lines[key] = where
        return cls(factors)

    def factor(self, material_id: str, from_uom: str, to_uom: str) -> Optional[tuple[Decimal, bool]]:
        """``(factor, divide)``: multiply by factor, or divide by it when only the inverse row exists."""
        for material in (material_id, "*"):
            direct = self.factors.get((material, from_uom, to_uom))
            if direct is not None:
                return direct, False
            inverse = self.factors.get((material, to_uom, from_uom))
            if inverse is not None:
                return inverse, True
        return None

    def convert(self, material_id: str, quantity: Decimal, from_uom: str, to_uom: str, where: str = "") -> Decimal:
        if from_uom == to_uom:
            return quantity
        found = self.factor(material_id, from_uom, to_uom)
        if found is None:
            raise FatalError("UNIT_CONVERSION_MISSING",
                             f"material {material_id}: no conversion from {from_uom} to {to_uom}; add a row "
                             f"'{material_id},{from_uom},{to_uom},<factor>' to "
                             f"mappings/crosswalks/unit_conversions.csv",
                             where or f"Material/{material_id}")
        factor, divide = found
        # dividing by the stored factor keeps 24 / 12 exact where multiplying by 1/12 would not be
        return quantity / factor if divide else quantity * factor


# --------------------------------------------------------------------------- inputs and outputs
@dataclass
class MrpInput:
    """Everything one run needs; documents as the store holds them (``documents.current``)."""

    plan_date: dt.date
    materials: Iterable[Material]
    boms: Iterable[BillOfMaterials]
    production_orders: Iterable[ProductionOrder]
    stock: Iterable[StockLevel] = ()
    batches: Iterable[Batch] = ()
    purchase_orders: Iterable[PurchaseOrder] = ()
    receipts: Iterable[Receipt] = ()
    shipment_notices: Iterable[ShipmentNotice] = ()
    planning: Mapping[str, PlanningParameters] = field(default_factory=dict)
    units: UnitConverter = field(default_factory=UnitConverter)
    #: warehouses whose stock is not nettable (e.g. a reject or scrap store)
    excluded_warehouses: frozenset[str] = frozenset()
    #: which BOM to use for a material that has several active ones
    bom_choice: Mapping[str, str] = field(default_factory=dict)
    #: production order statuses that create demand (history_from_orders asks for completed ones)
    demand_statuses: frozenset[str] = ACTIVE_ORDER_STATUSES
    #: what-if: gross requirements of a material multiplied by a factor (1.2 = +20 %)
    demand_scale: Mapping[str, Decimal] = field(default_factory=dict)
    #: delivery schedule versions the suppliers acknowledged: their firm lines are committed supply
    #: for order coverage (``collaboration.coverage``), never for netting (they are MRP's own plan)
    committed_schedules: Iterable[DeliverySchedule] = ()
    #: what-if: batches (by batch id, supplier lot or ERP lot number) that are not supply: their
    #: stock rows and in-transit ASN lines are left out (the PO line stays reduced by the ASN line)
    excluded_batches: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ScheduledReceipt:
    """Supply on its way: an open PO line, an in-transit ASN line or a production order."""

    material_id: str
    date: dt.date
    quantity: Decimal  # base unit
    kind: str  # purchase_order | shipment_notice | production_order
    ref: str  # PO/line, ASN/line or order id
    supplier_id: Optional[str] = None
    batch_number: Optional[str] = None


@dataclass(frozen=True)
class NetRequirement:
    """What is missing of one material on one day, and which production orders cause it."""

    material_id: str
    need_date: dt.date
    #: the shortfall, base unit
    quantity: Decimal
    #: after lot sizing (>= quantity): what to order or make
    planned_quantity: Decimal
    release_date: dt.date
    uom: str
    #: True: a planned production order (the material has a BOM); False: to be purchased
    make: bool
    #: production order id (or SAFETY_STOCK / LOT_SIZE) -> part of ``quantity`` it causes
    pegs: Mapping[str, Decimal]

    @property
    def orders(self) -> list[str]:
        """The production orders this requirement is pegged to (pseudo-orders left out)."""
        return sorted(o for o in self.pegs if o not in PSEUDO_ORDERS)


@dataclass
class MrpResult:
    plan_date: dt.date
    requirements: list[NetRequirement]
    #: material -> day -> order (or pseudo-order) -> gross requirement, base unit
    gross: dict[str, dict[dt.date, dict[str, Decimal]]]
    on_hand: dict[str, Decimal]
    receipts: dict[str, list[ScheduledReceipt]]
    low_level_codes: dict[str, int]
    base_uom: dict[str, str]
    #: the date each active production order was exploded at (its planned start)
    order_dates: dict[str, dt.date]
    #: materials with a BOM (made, not bought)
    made: frozenset[str] = frozenset()
    warnings: list[HubError] = field(default_factory=list)
    #: firm lines of acknowledged delivery schedules, base unit (coverage only, see MrpInput)
    committed: dict[str, list[ScheduledReceipt]] = field(default_factory=dict)

    def for_material(self, material_id: str) -> list[NetRequirement]:
        return [r for r in self.requirements if r.material_id == material_id]

    def purchase_requirements(self) -> list[NetRequirement]:
        return [r for r in self.requirements if not r.make]


# --------------------------------------------------------------------------- structure
@dataclass(frozen=True)
class _Edge:
    component: str
    numerator: Decimal  # component base units per `divisor` parent base units, scrap included
    divisor: Decimal
    valid_from: dt.date
    valid_to: dt.date


def _fatal(code: str, message: str, where: str) -> FatalError:
    return FatalError(code, message, where)


def _choose_boms(boms: Iterable[BillOfMaterials], choice: Mapping[str, str]) -> dict[str, list[BillOfMaterials]]:
    """Active BOMs per material: one, the chosen one, or several (an error only if MRP reaches it)."""
    active: dict[str, list[BillOfMaterials]] = defaultdict(list)
    for bom in boms:
        if bom.status == "active":
            active[bom.material_id].append(bom)
    for material_id, candidates in active.items():
        picked = [b for b in candidates if b.bom_id == choice.get(material_id)]
        if picked:
            active[material_id] = picked
    return dict(active)


def low_level_codes(children: Mapping[str, Sequence[str]], roots: Iterable[str],
                    bom_of: Mapping[str, str] | None = None) -> dict[str, int]:
    """Deepest level of every material reached from ``roots`` (roots are level 0 unless used deeper).

    Raises ``FatalError BOM_CYCLE`` naming the materials of one cycle in BOM order.
    """
    reached: set[str] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if node in reached:
            continue
        reached.add(node)
        stack.extend(children.get(node, ()))
    parents: dict[str, list[str]] = defaultdict(list)
    indegree = dict.fromkeys(reached, 0)
    for node in reached:
        for child in children.get(node, ()):
            parents[child].append(node)
            indegree[child] += 1
    level = dict.fromkeys(reached, 0)
    ready = sorted(n for n, d in indegree.items() if d == 0)
    done = 0
    while ready:
        node = ready.pop()
        done += 1
        for child in children.get(node, ()):
            level[child] = max(level[child], level[node] + 1)
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    if done < len(reached):
        raise _cycle_error({n for n, d in indegree.items() if d > 0}, parents, bom_of or {})
    return level


def _cycle_error(remaining: set[str], parents: Mapping[str, list[str]], bom_of: Mapping[str, str]) -> FatalError:
    # every material left over has a parent that is left over too, so walking up parents must
    # come back to a material already seen: that stretch of the walk is a cycle
    node = min(remaining)
    seen: dict[str, int] = {}
    path: list[str] = []
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = min(p for p in parents[node] if p in remaining)
    cycle = list(reversed(path[seen[node]:]))  # parent before child
    first = cycle.index(min(cycle))  # start at the smallest id: the same cycle always reads the same
    cycle = cycle[first:] + cycle[:first]
    cycle.append(cycle[0])
    boms = sorted({bom_of[m] for m in cycle[:-1] if m in bom_of})
    return _fatal("BOM_CYCLE", f"BOM cycle {' -> '.join(cycle)} (BOMs {', '.join(boms)}): a material cannot "
                               f"contain itself; fix the BOMs in the ERP",
                  f"BillOfMaterials/{boms[0] if boms else cycle[0]}")


def _build_structure(inp: MrpInput, roots: set[str], base_uom: Mapping[str, str]
                     ) -> tuple[dict[str, list[_Edge]], dict[str, int], dict[str, str]]:
    """Edges of the BOMs reached from ``roots`` (units converted), their low-level codes, BOM ids."""
    chosen = _choose_boms(inp.boms, inp.bom_choice)
    structure: dict[str, list[_Edge]] = {}
    bom_of: dict[str, str] = {}
    stack = sorted(roots)
    seen: set[str] = set()
    while stack:
        material_id = stack.pop()
        if material_id in seen:
            continue
        seen.add(material_id)
        candidates = chosen.get(material_id)
        if not candidates:
            continue
        if len(candidates) > 1:
            ids = sorted(b.bom_id for b in candidates)
            raise _fatal("BOM_AMBIGUOUS", f"material {material_id} has several active BOMs ({', '.join(ids)}); mark "
                                          f"all but one inactive in the ERP or choose one (bom_choice)",
                         f"BillOfMaterials/{ids[0]}")
        bom = candidates[0]
        where = f"BillOfMaterials/{bom.bom_id}"
        parent_uom = base_uom.get(material_id)
        if parent_uom is None:
            raise _fatal("MATERIAL_UNKNOWN", f"parent material {material_id} of BOM {bom.bom_id} has no Material "
                                             f"master data (base unit unknown)", where)
        divisor = inp.units.convert(material_id, bom.base_quantity, bom.uom or parent_uom, parent_uom, where)
        edges = []
        for comp in sorted(bom.components, key=lambda c: c.line_no):
            comp_uom = base_uom.get(comp.material_id)
            if comp_uom is None:
                raise _fatal("BOM_MISSING_COMPONENT",
                             f"component {comp.material_id} (line {comp.line_no}) of BOM {bom.bom_id} for "
                             f"{material_id} is not a known material; sync the material or fix the BOM", where)
            per = inp.units.convert(comp.material_id, comp.quantity_per, comp.uom, comp_uom,
                                    f"{where} line {comp.line_no}")
            edges.append(_Edge(comp.material_id, per * (ONE + comp.scrap_rate), divisor,
                               comp.valid_from or dt.date.min, comp.valid_to or dt.date.max))
            stack.append(comp.material_id)
        structure[material_id] = edges
        bom_of[material_id] = bom.bom_id
    children = {m: sorted({e.component for e in edges}) for m, edges in structure.items()}
    return structure, low_level_codes(children, roots, bom_of), bom_of


# --------------------------------------------------------------------------- supply
def _batch_statuses(batches: Iterable[Batch]) -> dict[tuple[str, str], set[str]]:
    """``(material, any name the batch goes by) -> statuses``: stock rows carry the ERP's lot number,
    which may be the hub's batch id, the supplier's lot or the lot part of ``<supplier>:<lot>``."""
    index: dict[tuple[str, str], set[str]] = defaultdict(set)
    for b in batches:
        for name in {b.batch_id, b.supplier_batch_number, supplier_lot(b.batch_id, b.supplier_id)}:
            if name:
                index[(b.material_id, name)].add(b.status)
    return index


def order_date(order: ProductionOrder, lead_time_days: int, plan_date: dt.date) -> dt.date:
    """When an order needs its components: its start, else due minus lead time, else the plan date."""
    if order.start is not None:
        return order.start.date()
    if order.due is not None:
        return order.due.date() - dt.timedelta(days=lead_time_days)
    return plan_date


def _order_due(order: ProductionOrder, lead_time_days: int, plan_date: dt.date) -> dt.date:
    if order.due is not None:
        return order.due.date()
    return order_date(order, lead_time_days, plan_date) + dt.timedelta(days=lead_time_days)


def collect_supply(inp: MrpInput, base_uom: Mapping[str, str], warnings: list[HubError]
                   ) -> tuple[dict[str, Decimal], dict[str, list[ScheduledReceipt]]]:
    """Released on-hand stock and scheduled receipts per material, in base units (see module doc)."""
    units, plan_date = inp.units, inp.plan_date

    def base(material_id: str, quantity: Decimal, uom: str, where: str) -> Optional[Decimal]:
        to = base_uom.get(material_id)
        if to is None:
            return None  # a material nobody plans: its supply does not matter
        return units.convert(material_id, quantity, uom, to, where)

    on_hand: dict[str, Decimal] = defaultdict(Decimal)
    batches = list(inp.batches)
    statuses = _batch_statuses(batches)
    excluded_names = {(m, name) for (m, name), _ in _batch_statuses(
        b for b in batches if {b.batch_id, b.supplier_batch_number} & inp.excluded_batches).items()}

    def _excluded(material_id: str, batch_number: str) -> bool:
        return batch_number in inp.excluded_batches or (material_id, batch_number) in excluded_names
    for s in inp.stock:
        if s.warehouse in inp.excluded_warehouses:
            continue
        if s.batch_number and (statuses.get((s.material_id, s.batch_number), set()) & BLOCKED_BATCH_STATUSES
                               or _excluded(s.material_id, s.batch_number)):
            continue
        qty = base(s.material_id, s.quantity, s.uom, f"StockLevel/{s.business_key}")
        if qty is not None:
            on_hand[s.material_id] += qty

    received: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
    arrived: set[tuple[Optional[str], str]] = set()
    for r in inp.receipts:
        if r.asn_number:
            arrived.add((r.supplier_id, r.asn_number))
        for line in r.lines:
            if line.po_number and line.po_line_no:
                qty = base(line.material_id, line.quantity, line.uom, f"Receipt/{r.receipt_id} line {line.line_no}")
                if qty is not None:
                    received[(line.po_number, line.po_line_no)] += qty

    receipts: dict[str, list[ScheduledReceipt]] = defaultdict(list)
    in_transit: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
    for asn in inp.shipment_notices:
        if asn.status != "active" or (asn.supplier_id, asn.asn_number) in arrived or (None, asn.asn_number) in arrived:
            continue
        day = asn.expected_arrival or asn.ship_date or plan_date
        for line in asn.lines:
            where = f"ShipmentNotice/{asn.business_key} line {line.line_no}"
            qty = base(line.material_id, line.quantity, line.uom, where)
            if qty is None:
                continue
            if qty <= 0:
                warnings.append(SkippableError("NEGATIVE_QUANTITY", f"quantity {line.quantity} ignored", where))
                continue
            if line.po_number and line.po_line_no:
                in_transit[(line.po_number, line.po_line_no)] += qty
            if line.batch_number and (_excluded(line.material_id, line.batch_number)
                                      or f"{asn.supplier_id}:{line.batch_number}" in inp.excluded_batches):
                continue
            receipts[line.material_id].append(ScheduledReceipt(
                line.material_id, day, qty, "shipment_notice", f"{asn.asn_number}/{line.line_no}", asn.supplier_id,
                line.batch_number))

    for po in inp.purchase_orders:
        if po.status not in OPEN_PO_STATUSES:
            continue
        for line in po.lines:
            where = f"PurchaseOrder/{po.po_number} line {line.line_no}"
            qty = base(line.material_id, line.quantity, line.uom, where)
            if qty is None:
                continue
            remaining = qty - received.get((po.po_number, line.line_no), ZERO) \
                - in_transit.get((po.po_number, line.line_no), ZERO)
            if remaining > 0:
                receipts[line.material_id].append(ScheduledReceipt(
                    line.material_id, line.delivery_date or plan_date, remaining, "purchase_order",
                    f"{po.po_number}/{line.line_no}", po.supplier_id))
    return dict(on_hand), dict(receipts)


# --------------------------------------------------------------------------- the run
def _lot_size(need: Decimal, params: Optional[PlanningParameters]) -> Decimal:
    if params is None:
        return need
    planned = need
    if params.moq is not None and planned < params.moq:
        planned = params.moq
    if params.multiple is not None:
        planned = (planned / params.multiple).to_integral_value(rounding=ROUND_CEILING) * params.multiple
    return planned


def _priority(order_id: str) -> tuple[bool, str]:
    return order_id in PSEUDO_ORDERS, order_id


def _unique(docs: Iterable, warnings: list[HubError]) -> list:
    """One document per business key: a repeat with the same content is dropped quietly; one with
    other content keeps the higher ``version`` (else the later one) and is a DUPLICATE_DOCUMENT warning."""
    kept: dict[str, object] = {}
    for doc in docs:
        key = doc.business_key
        other = kept.get(key)
        if other is None:
            kept[key] = doc
            continue
        if other == doc:
            continue
        newer = doc if getattr(doc, "version", 0) >= getattr(other, "version", 0) else other
        warnings.append(SkippableError("DUPLICATE_DOCUMENT", f"two different {doc.type} documents; the one of "
                                       f"version {getattr(newer, 'version', '-')} is used", f"{doc.type}/{key}"))
        kept[key] = newer
    return list(kept.values())


def run_mrp(inp: MrpInput) -> MrpResult:
    """One full MRP run (see the module docstring for the rules)."""
    warnings: list[HubError] = []
    inp = replace(inp, **{name: _unique(getattr(inp, name), warnings) for name in (
        "materials", "boms", "production_orders", "stock", "batches", "purchase_orders", "receipts",
        "shipment_notices")})
    plan_date = inp.plan_date
    planning = inp.planning
    base_uom = {m.material_id: m.uom for m in inp.materials}

    orders = sorted((o for o in inp.production_orders if o.status in inp.demand_statuses), key=lambda o: o.order_id)
    for o in orders:
        if o.material_id not in base_uom:
            raise _fatal("MATERIAL_UNKNOWN", f"material {o.material_id} of production order {o.order_id} has no "
                                             f"Material master data", f"ProductionOrder/{o.order_id}")
    roots = {o.material_id for o in orders} | {m for m, p in planning.items() if p.safety_stock > 0 and m in base_uom}
    structure, levels, _ = _build_structure(inp, roots, base_uom)

    def lead_time(material_id: str) -> int:
        params = planning.get(material_id)
        return params.lead_time_days if params else 0

    # supply of materials this run does not plan is not read: its broken units cannot stop the plan
    on_hand, supply = collect_supply(inp, {m: base_uom[m] for m in levels}, warnings)
    receipts_by_day: dict[str, dict[dt.date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for material_id, scheduled in supply.items():
        for r in scheduled:
            receipts_by_day[material_id][r.date] += r.quantity

    gross: dict[str, dict[dt.date, dict[str, Decimal]]] = defaultdict(lambda: defaultdict(dict))
    scale = inp.demand_scale

    def explode(material_id: str, day: dt.date, pegs: Mapping[str, Decimal]) -> None:
        for edge in structure[material_id]:
            if not (edge.valid_from <= day <= edge.valid_to):
                continue
            numerator, divisor = edge.numerator, edge.divisor
            factor = scale.get(edge.component)
            if factor is not None:
                numerator = numerator * factor
            bucket = gross[edge.component][day]
            get = bucket.get
            if divisor == ONE:
                for order_id, qty in pegs.items():
                    bucket[order_id] = get(order_id, ZERO) + qty * numerator
            else:
                for order_id, qty in pegs.items():
                    bucket[order_id] = get(order_id, ZERO) + qty * numerator / divisor

    order_dates: dict[str, dt.date] = {}
    for o in orders:
        where = f"ProductionOrder/{o.order_id}"
        qty = inp.units.convert(o.material_id, o.quantity, o.uom, base_uom[o.material_id], where)
        day = order_date(o, lead_time(o.material_id), plan_date)
        order_dates[o.order_id] = day
        if o.material_id in structure:
            explode(o.material_id, day, {o.order_id: qty})
        else:
            warnings.append(SkippableError("NO_BOM", f"material {o.material_id} has no active BOM: the order "
                                                     f"creates no component requirements", where))
        # an order of a manufactured material is also supply of it when it is finished
        receipts_by_day[o.material_id][_order_due(o, lead_time(o.material_id), plan_date)] += qty
        supply.setdefault(o.material_id, []).append(ScheduledReceipt(
            o.material_id, _order_due(o, lead_time(o.material_id), plan_date), qty, "production_order", o.order_id))

    requirements: list[NetRequirement] = []
    for material_id in sorted(levels, key=lambda m: (levels[m], m)):
        params = planning.get(material_id)
        safety = params.safety_stock if params else ZERO
        demand = gross.get(material_id, {})
        available = on_hand.get(material_id, ZERO) - safety
        if not demand and available >= 0:
            continue
        incoming = receipts_by_day.get(material_id, {})
        days = sorted(set(demand) | set(incoming) | {plan_date})
        offset = dt.timedelta(days=lead_time(material_id))
        make = material_id in structure
        uom = base_uom[material_id]
        for day in days:
            available += incoming.get(day, ZERO)
            bucket = demand.get(day)
            short: dict[str, Decimal] = {}
            if bucket:
                total = sum(bucket.values(), ZERO)
                if available >= total:
                    available -= total
                elif available <= 0:
                    short = dict(bucket)
                else:
                    for order_id in sorted(bucket, key=_priority):
                        qty = bucket[order_id]
                        if available >= qty:
                            available -= qty
                        else:
                            short[order_id] = qty - max(available, ZERO)
                            available = min(available, ZERO)
            if available < 0 and day >= plan_date:
                short[SAFETY_STOCK] = short.get(SAFETY_STOCK, ZERO) - available
                available = ZERO
            if not short:
                continue
            need = sum(short.values(), ZERO)
            planned = _lot_size(need, params)
            available += planned - need
            release = day - offset
            requirements.append(NetRequirement(material_id, day, need, planned, release, uom, make, short))
            if make:
                pegs = short if planned == need else {**short, LOT_SIZE: short.get(LOT_SIZE, ZERO) + planned - need}
                explode(material_id, release, pegs)

    return MrpResult(plan_date=plan_date, requirements=requirements,
                     gross={m: dict(days) for m, days in gross.items()}, on_hand=on_hand, receipts=supply,
                     low_level_codes=levels, base_uom=base_uom, order_dates=order_dates,
                     made=frozenset(structure), warnings=warnings,
                     committed=_committed_supply(inp, base_uom))


def _committed_supply(inp: MrpInput, base_uom: Mapping[str, str]) -> dict[str, list[ScheduledReceipt]]:
    committed: dict[str, list[ScheduledReceipt]] = defaultdict(list)
    for schedule in inp.committed_schedules:
        for line in schedule.lines:
            if line.commitment != "firm" or line.material_id not in base_uom:
                continue
            qty = inp.units.convert(line.material_id, line.quantity, line.uom, base_uom[line.material_id],
                                    f"DeliverySchedule/{schedule.business_key} {line.material_id} {line.date}")
            committed[line.material_id].append(ScheduledReceipt(
                line.material_id, line.date, qty, "delivery_schedule",
                f"{schedule.schedule_id} v{schedule.version}", schedule.supplier_id))
    return dict(committed)
