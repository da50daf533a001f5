"""MRP benchmark: one full run of collaboration.mrp.run_mrp at 1x, 2x and 4x the issue-7 size.

    .venv/bin/python bench/mrp.py                  # `make bench`: 1x, 2x, 4x + the naive peer at 1x
    .venv/bin/python bench/mrp.py --scales 1 --repeat 1   # 1x only, once

1x is the issue's size: 2,000 materials in BOMs 5 levels deep (finished goods, four levels of
sub-assemblies, purchased parts used at every level, so their low-level code is the deepest),
10,000 production orders over 90 days, 20,000 open purchase order lines (a tenth partly received),
5,000 in-transit ASN lines against them, stock in batches (a fifth of them quarantined),
safety stock, MOQ and multiples on purchased parts, scrap rates, BOMs per 10 with an engineering
change (effectivity dates) in a tenth of the components, and purchase lines in dozens (unit
conversion). Data is generated from a fixed seed; 2x and 4x multiply every count.

Each measurement runs in a fresh child process (no warm heap from the previous size). Time is
wall-clock of ``run_mrp`` alone (documents already built), the best of ``--repeat`` runs
(default 3): on a shared machine the fastest run is the one least disturbed by other load.

The peer, in the same run on the 1x data: the textbook naive MRP, a recursive explosion of every
production order down to its purchased parts (no low-level coding, no aggregation by material
and day, no pegging) followed by the same netting and lot sizing of the purchased parts. With the
benchmark's data (sub-assemblies have no stock and no lot sizing) both must give the same gross
and planned quantities of purchased parts; the table says whether they agree.

Targets (issue 7): 1x under 10 s on this machine, no worse than linear growth. Not a test:
nothing here asserts. The machine is shared: the load average is printed with the table.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PLAN_DATE = dt.date(2026, 12, 1)
#: 1x counts (issue 7)
MATERIALS, ORDERS, PO_LINES, ASN_LINES = 2000, 10_000, 20_000, 5_000
#: share of materials per level: finished goods, four sub-assembly levels, purchased parts
LEVEL_SHARES = (0.05, 0.075, 0.10, 0.125, 0.15, 0.50)


def generate(scale: int, seed: int = 7):
    """The MrpInput of one size (deterministic for a seed and scale)."""
    from canonical_model.documents import (Batch, BillOfMaterials, Material, ProductionOrder, PurchaseOrder, Receipt,
                                           ShipmentNotice, StockLevel)
    from collaboration.mrp import MrpInput, UnitConverter
    from mappings.sourcing import PlanningParameters

    rng = random.Random(seed * 1000 + scale)
    n = MATERIALS * scale
    counts = [int(n * share) for share in LEVEL_SHARES]
    counts[-1] = n - sum(counts[:-1])
    levels = [[f"L{lv}-{i:05d}" for i in range(c)] for lv, c in enumerate(counts)]
    purchased = levels[-1]
    is_purchased = set(purchased)
    materials = [Material(material_id=m, name=m, uom="H87") for lv in levels for m in lv]

    boms = []
    for lv in range(5):
        for parent in levels[lv]:
            picks = []
            if lv < 4:
                picks += rng.sample(levels[lv + 1], 2)
                if lv + 2 <= 4 and rng.random() < 0.1:  # also used one level deeper: low-level coding matters
                    picks.append(rng.choice(levels[lv + 2]))
            picks += rng.sample(purchased, 2 if lv < 4 else 3)
            components, line_no = [], 0
            for child in dict.fromkeys(picks):
                line_no += 1
                scrap = rng.choice(("0", "0", "0.02", "0.05"))
                per = rng.randint(1, 4) if child in is_purchased else rng.randint(1, 2)
                if child in is_purchased and rng.random() < 0.1:
                    # engineering change: the part is replaced by another from mid-horizon on
                    switch = PLAN_DATE + dt.timedelta(days=rng.randint(10, 60))
                    components.append(dict(line_no=line_no, material_id=child, quantity_per=per, uom="H87",
                                           scrap_rate=scrap, valid_to=switch - dt.timedelta(days=1)))
                    line_no += 1
                    components.append(dict(line_no=line_no, material_id=rng.choice(purchased), quantity_per=per,
                                           uom="H87", scrap_rate=scrap, valid_from=switch))
                else:
                    components.append(dict(line_no=line_no, material_id=child, quantity_per=per, uom="H87",
                                           scrap_rate=scrap))
            base = 10 if rng.random() < 0.1 else 1
            if base != 1:
                for c in components:
                    c["quantity_per"] = c["quantity_per"] * 10
            boms.append(BillOfMaterials(bom_id=f"BOM-{parent}", material_id=parent, base_quantity=base,
                                        components=components))

    orders = []
    for i in range(ORDERS * scale):
        start = dt.datetime.combine(PLAN_DATE, dt.time(8)) + dt.timedelta(days=rng.randint(0, 90))
        orders.append(ProductionOrder(order_id=f"MO-{i:06d}", material_id=rng.choice(levels[0]),
                                      quantity=rng.randint(10, 200), uom="H87", start=start,
                                      due=start + dt.timedelta(days=2), status=rng.choice(("planned", "released"))))

    planning = {}
    for lv in range(1, 5):
        for m in levels[lv]:
            planning[m] = PlanningParameters(m, lead_time_days=rng.randint(1, 3))
    for m in purchased:
        lot = rng.random() < 0.5
        planning[m] = PlanningParameters(m, lead_time_days=rng.randint(5, 20),
                                         safety_stock=Decimal(rng.choice((0, 0, 0, 100, 500))),
                                         moq=Decimal(rng.choice((100, 500))) if lot else None,
                                         multiple=Decimal(rng.choice((10, 50))) if lot else None)

    stock, batches = [], []
    for i, m in enumerate(purchased):
        stock.append(StockLevel(material_id=m, warehouse="CK01", quantity=rng.randint(0, 3000), uom="H87"))
        lot = f"LOT{i:06d}"
        status = "quarantined" if rng.random() < 0.2 else "released"
        qty = rng.randint(100, 2000)
        stock.append(StockLevel(material_id=m, warehouse="CK01", batch_number=lot, quantity=qty, uom="H87"))
        batches.append(Batch(batch_id=f"SUP-{i % 50:03d}:{lot}", material_id=m, supplier_id=f"SUP-{i % 50:03d}",
                             supplier_batch_number=lot, quantity=qty, uom="H87", status=status))

    pos, po_lines = [], []
    for p in range(PO_LINES * scale // 10):
        lines = []
        for ln in range(1, 11):
            m = rng.choice(purchased)
            dozens = rng.random() < 0.05
            qty = rng.randint(5, 100) if dozens else rng.randint(50, 1500)
            lines.append(dict(line_no=ln, material_id=m, quantity=qty, uom="DZN" if dozens else "H87",
                              delivery_date=PLAN_DATE + dt.timedelta(days=rng.randint(-5, 90))))
            po_lines.append((f"PO-{p:06d}", ln, m, qty * (12 if dozens else 1)))
        pos.append(PurchaseOrder(po_number=f"PO-{p:06d}", supplier_id=f"SUP-{p % 50:03d}", order_date=PLAN_DATE,
                                 lines=lines))

    receipts = []
    for k, (po, ln, m, qty) in enumerate(rng.sample(po_lines, len(po_lines) // 10)):
        receipts.append(Receipt(receipt_id=f"GR-{k:06d}", received_at=dt.datetime.combine(PLAN_DATE, dt.time(7)),
                                lines=[dict(line_no=1, po_number=po, po_line_no=ln, material_id=m,
                                            quantity=qty // 3, uom="H87")]))

    asns = []
    shipped = rng.sample(po_lines, ASN_LINES * scale)
    for a in range(0, len(shipped), 5):
        lines = [dict(line_no=i + 1, po_number=po, po_line_no=ln, material_id=m, quantity=max(1, qty // 2), uom="H87",
                      batch_number=f"ASNLOT{a + i:06d}")
                 for i, (po, ln, m, qty) in enumerate(shipped[a:a + 5])]
        asns.append(ShipmentNotice(asn_number=f"ASN-{a // 5:06d}", supplier_id="SUP-000",
                                   expected_arrival=PLAN_DATE + dt.timedelta(days=rng.randint(0, 14)), lines=lines))

    units = UnitConverter({("*", "DZN", "H87"): Decimal(12)})
    return MrpInput(plan_date=PLAN_DATE, materials=materials, boms=boms, production_orders=orders, stock=stock,
                    batches=batches, purchase_orders=pos, receipts=receipts, shipment_notices=asns,
                    planning=planning, units=units)


# --------------------------------------------------------------------------- the peer
def naive_mrp(inp):
    """Recursive per-order explosion to purchased parts, then netting + lot sizing per part and day."""
    from collaboration.mrp import _lot_size, collect_supply, order_date

    base_uom = {m.material_id: m.uom for m in inp.materials}
    boms = {b.material_id: b for b in inp.boms if b.status == "active"}
    planning = inp.planning

    def lead(m):
        return planning[m].lead_time_days if m in planning else 0

    gross = defaultdict(lambda: defaultdict(Decimal))

    def components(material, qty, day):
        bom = boms[material]
        for c in bom.components:
            if (c.valid_from or dt.date.min) <= day <= (c.valid_to or dt.date.max):
                explode(c.material_id, qty * c.quantity_per * (1 + c.scrap_rate) / bom.base_quantity, day)

    def explode(material, qty, need_day):
        if material not in boms:
            gross[material][need_day] += qty
            return
        components(material, qty, need_day - dt.timedelta(days=lead(material)))

    for o in inp.production_orders:
        if o.status in inp.demand_statuses and o.material_id in boms:
            components(o.material_id, o.quantity, order_date(o, lead(o.material_id), inp.plan_date))

    on_hand, supply = collect_supply(inp, base_uom, [])
    planned_total = Decimal(0)
    for material, days in gross.items():
        incoming = defaultdict(Decimal)
        for r in supply.get(material, ()):
            incoming[r.date] += r.quantity
        params = planning.get(material)
        available = on_hand.get(material, Decimal(0)) - (params.safety_stock if params else 0)
        for day in sorted(set(days) | set(incoming) | {inp.plan_date}):
            available += incoming.get(day, 0)
            demand, short = days.get(day, 0), Decimal(0)
            if demand:
                if available >= demand:
                    available -= demand
                else:
                    short = demand - max(available, 0)
                    available = min(available, 0)
            if available < 0 and day >= inp.plan_date:
                short -= available
                available = Decimal(0)
            if short:
                planned = _lot_size(short, params)
                planned_total += planned
                available += planned - short
    return sum((sum(d.values(), Decimal(0)) for d in gross.values()), Decimal(0)), planned_total


# --------------------------------------------------------------------------- measurement
def _child(scale: int, peer: bool, repeat: int) -> dict:
    from collaboration.mrp import run_mrp

    inp = generate(scale)
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = run_mrp(inp)
        times.append(time.perf_counter() - t0)
    purchased = {m for m in result.low_level_codes if m.startswith("L5-")}
    gross_parts = sum((q for m in purchased for day in result.gross.get(m, {}).values() for q in day.values()),
                      Decimal(0))
    planned_parts = sum((r.planned_quantity for r in result.requirements if not r.make), Decimal(0))
    row = {
        "scale": scale, "materials": MATERIALS * scale, "orders": ORDERS * scale, "po_lines": PO_LINES * scale,
        "asn_lines": ASN_LINES * scale, "levels": max(result.low_level_codes.values()) + 1,
        "requirements": len(result.requirements), "pegs": sum(len(r.pegs) for r in result.requirements),
        "seconds": min(times),
    }
    if peer:
        peer_times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            peer_gross, peer_planned = naive_mrp(inp)
            peer_times.append(time.perf_counter() - t0)
        row["peer_seconds"] = min(peer_times)
        row["agree"] = peer_gross == gross_parts and peer_planned == planned_parts
        row["agree_detail"] = (f"gross {gross_parts} vs {peer_gross}; planned {planned_parts} vs {peer_planned}")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scales", default="1,2,4")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size (the best is shown)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--peer", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.peer, args.repeat)))
        return
    rows = []
    for scale in (int(s) for s in args.scales.split(",")):
        cmd = [sys.executable, __file__, "--child", str(scale), "--repeat", str(args.repeat)]
        if scale == 1:
            cmd.append("--peer")
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
        rows.append(json.loads(out.stdout))
    load = os.getloadavg()
    print(f"MRP benchmark (collaboration.mrp.run_mrp), {os.cpu_count()} CPUs, load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (shared machine)")
    head = ("scale", "materials", "BOM levels", "orders", "PO lines", "ASN lines", "net reqs", "pegs", "MRP s",
            "s / 1x", "(s / 1x) / size")
    base = next((r["seconds"] for r in rows if r["scale"] == 1), None)
    table = []
    for r in rows:
        ratio = r["seconds"] / base if base else float("nan")
        table.append((f"{r['scale']}x", f"{r['materials']:,}", str(r["levels"] - 1), f"{r['orders']:,}",
                      f"{r['po_lines']:,}", f"{r['asn_lines']:,}", f"{r['requirements']:,}", f"{r['pegs']:,}",
                      f"{r['seconds']:.2f}", f"{ratio:.2f}", f"{ratio / r['scale']:.2f}" if base else "-"))
    widths = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(head)]
    print("  ".join(h.rjust(w) for h, w in zip(head, widths)))
    for t in table:
        print("  ".join(c.rjust(w) for c, w in zip(t, widths)))
    one = next((r for r in rows if "peer_seconds" in r), None)
    if one:
        print(f"peer at 1x: naive recursive per-order explosion {one['peer_seconds']:.2f} s "
              f"(run_mrp {one['seconds']:.2f} s, with pegging); purchased-part totals agree: "
              f"{'yes' if one['agree'] else 'NO'} ({one['agree_detail']})")
    if base is not None:
        worst = max(r["seconds"] / base / r["scale"] for r in rows)
        print(f"targets: 1x under 10 s: {'PASS' if base < 10 else 'MISS'} ({base:.2f} s); growth no worse than "
              f"linear: {'PASS' if worst <= 1.15 else 'MISS'} (worst time ratio / size ratio {worst:.2f}; "
              f"1.15 allowed for noise)")


if __name__ == "__main__":
    main()
