"""Batch traceability benchmark: collaboration.trace on a genealogy of 1,000,000 edges.

    .venv/bin/python bench/trace.py                    # `make bench`: 1,000,000 edges
    .venv/bin/python bench/trace.py --edges 200000 --repeat 5

The genealogy is synthetic but shaped like a plant's (fixed seed): 50 suppliers send lots on ASNs
of 5 lots, each ASN received on one receipt, every lot inspected (3 % fail); a lot goes into 1-3
production orders, a bulk lot (4 %: resin, fasteners) into 20-60; an order makes 1-2 finished
lots; 30 % of finished lots are sub-assemblies consumed by a later order (so genealogies run
several levels deep), 60 % leave on an outbound shipment notice of 4 lots. The lot count is chosen
so that the graph has about ``--edges`` edges; the table prints the exact count. All documents
are real validated canonical documents (canonical_model.documents), built before any clock runs.

What is measured (wall clock, the median of ``--repeat`` runs; every batch of a row is timed
separately and the row shows the slowest batch's median):

    build           Genealogy.from_documents over every document (node interning, adjacency both
                    ways, duplicate edges dropped)
    forward trace   collaboration.trace.trace(..., "forward"): the whole TraceNode tree with labels
                    and details, of 3 random supplier lots, the bulk lot with the most orders, and
                    a 3 % lot that failed QC
    affected        collaboration.trace.affected_by_batch on the same lots (reachability only)
    backward trace  trace(..., "backward") of 4 shipped finished lots
    peer            the same forward reachability as ``networkx.descendants`` on a DiGraph of the
                    same edges when networkx is importable, else a plain BFS over a dict of lists
                    keyed by (kind, id): what a trace costs without our node numbering and tree

Target (issue 8): a forward trace of one batch under 200 ms on this machine. Not a test: nothing
here asserts. The machine is shared: the load average is printed with the table.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import resource
import statistics
import sys
import time
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_MS = 200.0
#: edges per supplier lot in the shape above, measured (asn 1 + receipt 1 + inspection 1 + consumption ~3.4
#: + its share of produced 0.5 and of finished-lot consumption and shipping 0.45)
EDGES_PER_LOT = 7.32
SUPPLIERS = 50
LOTS_PER_ASN = 5
LOTS_PER_SHIPMENT = 4
DAY0 = dt.datetime(2026, 1, 5, 8)


def generate(edges: int, seed: int = 8) -> dict[str, list]:
    """The canonical documents of a genealogy of about ``edges`` edges (deterministic for a seed)."""
    from canonical_model.documents import Batch, Inspection, ProductionOrder, Receipt, ShipmentNotice

    rng = random.Random(seed)
    lots = max(10, round(edges / EDGES_PER_LOT))
    n_orders = max(2, lots // 3)
    consumed_by: list[list[str]] = []
    for _ in range(lots):
        k = rng.randint(20, 60) if rng.random() < 0.04 else rng.choice((1, 1, 2, 2, 2, 3))
        consumed_by.append(sorted({f"MO-{rng.randrange(n_orders):07d}" for _ in range(k)}))

    batches, receipts, inspections, notices = [], [], [], []
    for first in range(0, lots, LOTS_PER_ASN):
        supplier = f"SUP-{rng.randrange(SUPPLIERS):03d}"
        group = range(first, min(first + LOTS_PER_ASN, lots))
        when = DAY0 + dt.timedelta(minutes=first)
        asn = f"ASN-{first // LOTS_PER_ASN:07d}"
        material = f"RAW-{rng.randrange(500):04d}"
        notices.append(ShipmentNotice(asn_number=asn, supplier_id=supplier, expected_arrival=when.date(), lines=[
            {"line_no": n + 1, "material_id": material, "quantity": "100", "uom": "KGM", "batch_number": f"L{i:07d}"}
            for n, i in enumerate(group)]))
        receipts.append(Receipt(receipt_id=f"R-{first // LOTS_PER_ASN:07d}", asn_number=asn, supplier_id=supplier,
                                received_at=when, lines=[
                                    {"line_no": n + 1, "material_id": material, "quantity": "100", "uom": "KGM",
                                     "batch_id": f"{supplier}:L{i:07d}", "location": "CK01"}
                                    for n, i in enumerate(group)]))
        for i in group:
            batch_id = f"{supplier}:L{i:07d}"
            failed = rng.random() < 0.03
            batches.append(Batch(batch_id=batch_id, material_id=material, supplier_id=supplier,
                                 supplier_batch_number=f"L{i:07d}", quantity="100", uom="KGM",
                                 status="rejected" if failed else "consumed",
                                 links=[{"relation": "consumed_by", "ref": o} for o in consumed_by[i]]))
            inspections.append(Inspection(inspection_id=f"QC-{i:07d}", batch_id=batch_id, material_id=material,
                                          supplier_id=supplier, inspected_quantity="10",
                                          rejected_quantity="4" if failed else "0", uom="KGM",
                                          result="fail" if failed else "pass",
                                          inspected_at=when + dt.timedelta(hours=4)))

    orders, shipped = [], []
    for o in range(n_orders):
        order_id = f"MO-{o:07d}"
        orders.append(ProductionOrder(order_id=order_id, material_id=f"FG-{o % 300:04d}", quantity="10", uom="H87",
                                      status="completed", start=DAY0 + dt.timedelta(minutes=o)))
        for k in range(rng.choice((1, 2))):
            links = [{"relation": "produced", "ref": order_id}]
            if rng.random() < 0.30 and o + 1 < n_orders:  # a sub-assembly: a later order consumes it
                links.append({"relation": "consumed_by",
                              "ref": f"MO-{rng.randrange(o + 1, min(n_orders, o + 5000)):07d}"})
            elif rng.random() < 0.60 / 0.70:
                shipped.append(f"FG-{o:07d}-{k}")
            batches.append(Batch(batch_id=f"FG-{o:07d}-{k}", material_id=f"FG-{o % 300:04d}", quantity="10",
                                 uom="H87", status="released", links=links))
    for first in range(0, len(shipped), LOTS_PER_SHIPMENT):
        notices.append(ShipmentNotice(
            asn_number=f"DN-{first // LOTS_PER_SHIPMENT:07d}", supplier_id="PLANT01",
            ship_to_id=f"CUST-{rng.randrange(40):02d}", ship_date=(DAY0 + dt.timedelta(days=30)).date(),
            lines=[{"line_no": n + 1, "material_id": "FG", "quantity": "10", "uom": "H87", "batch_number": lot}
                   for n, lot in enumerate(shipped[first:first + LOTS_PER_SHIPMENT])]))
    return {"batches": batches, "receipts": receipts, "inspections": inspections, "production_orders": orders,
            "shipment_notices": notices}


def _median_ms(work, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = work()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), result


def _peer(edges: list[tuple[tuple[str, str], tuple[str, str]]]):
    """(name, build(), descendants(graph, node)) of the peer in this environment."""
    try:
        import networkx  # noqa: F401
    except ImportError:
        def build() -> dict:
            adjacency: dict[tuple[str, str], list[tuple[str, str]]] = {}
            for source, target in edges:
                adjacency.setdefault(source, []).append(target)
            return adjacency

        def descendants(adjacency: dict, node: tuple[str, str]) -> set:
            seen, queue = {node}, deque([node])
            while queue:
                for nxt in adjacency.get(queue.popleft(), ()):
                    if nxt not in seen:
                        seen.add(nxt)
                        queue.append(nxt)
            seen.discard(node)
            return seen

        return "plain BFS, dict of lists (networkx not importable)", build, descendants
    import networkx

    def nx_build():
        graph = networkx.DiGraph()
        graph.add_edges_from(edges)
        return graph

    return f"networkx {networkx.__version__} descendants()", nx_build, networkx.descendants


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--edges", type=int, default=1_000_000, help="about this many genealogy edges")
    parser.add_argument("--repeat", type=int, default=7, help="runs per measurement (the median is shown)")
    parser.add_argument("--build-repeat", type=int, default=3, help="runs of the build (the median is shown)")
    args = parser.parse_args()

    from collaboration.trace import Genealogy, affected_by_batch, trace

    t0 = time.perf_counter()
    docs = generate(args.edges)
    generate_s = time.perf_counter() - t0
    build_ms, genealogy = _median_ms(lambda: Genealogy.from_documents(**docs), args.build_repeat)
    assert isinstance(genealogy, Genealogy)

    rng = random.Random(80)
    supplier_lots = [b for b in docs["batches"] if b.supplier_id]
    bulk = max(supplier_lots, key=lambda b: len(b.links))
    failed = next(b for b in supplier_lots if b.status == "rejected")
    forward_lots = [b.batch_id for b in rng.sample(supplier_lots, 3)] + [bulk.batch_id, failed.batch_id]
    shipped = sorted({line.batch_number for n in docs["shipment_notices"] if n.supplier_id == "PLANT01"
                      for line in n.lines})
    backward_lots = rng.sample(shipped, 4)

    rows = []

    def measure(what: str, lots: list[str], work) -> dict:
        per_lot = []
        for lot in lots:
            ms, result = _median_ms(lambda: work(lot), args.repeat)
            per_lot.append((ms, lot, result))
        slowest = max(per_lot)
        row = {"what": what, "batches": len(lots), "ms": slowest[0], "lot": slowest[1], "result": slowest[2],
               "all": per_lot}
        rows.append(row)
        return row

    def tree_size(node) -> int:
        return sum(1 for _ in node.walk())

    fwd = measure("forward trace (tree)", forward_lots, lambda lot: trace(genealogy, lot, "forward"))
    aff = measure("affected_by_batch", forward_lots, lambda lot: affected_by_batch(genealogy, lot))
    bwd = measure("backward trace (tree)", backward_lots, lambda lot: trace(genealogy, lot, "backward"))

    edges = genealogy.edges()
    peer_name, peer_build, peer_descendants = _peer(edges)
    peer_build_ms, peer_graph = _median_ms(peer_build, 1)

    def peer_node(lot: str) -> tuple[str, str]:
        batch = next(b for b in supplier_lots if b.batch_id == lot)
        return ("finished_lot" if any(link.relation == "produced" for link in batch.links) else "batch", lot)

    peer_nodes = {lot: peer_node(lot) for lot in forward_lots}
    peer = measure(f"peer: {peer_name}", forward_lots, lambda lot: peer_descendants(peer_graph, peer_nodes[lot]))

    # the peer and ours must reach the same nodes
    agree = all(
        {(n.kind, n.id) for n in trace(genealogy, lot).walk()} - {peer_nodes[lot]}
        == set(peer_descendants(peer_graph, peer_nodes[lot])) for lot in forward_lots)

    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load = os.getloadavg()
    counts = {k: len(v) for k, v in docs.items()}
    print(f"Trace benchmark (collaboration.trace), {os.cpu_count()} CPUs, load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (shared machine)")
    print(f"genealogy: {genealogy.edge_count:,} edges, {genealogy.node_count:,} nodes from "
          + ", ".join(f"{n:,} {k}" for k, n in counts.items())
          + f" (documents generated in {generate_s:.1f} s, not timed); peak RSS {rss_mb:,.0f} MB")
    head = ("measurement", "batches", "nodes reached (slowest)", "median ms (slowest batch)", "target", "result")
    table = [("build Genealogy.from_documents", "-", f"{genealogy.node_count:,}", f"{build_ms:,.0f}", "-", "-"),
             (f"peer build ({peer_name.split(' (')[0]})", "-", f"{len(edges):,} edges", f"{peer_build_ms:,.0f}", "-",
              "-")]
    for row in (fwd, aff, bwd, peer):
        result = row["result"]
        reached = (tree_size(result) if hasattr(result, "walk") else
                   sum(len(v) for v in result.values()) if isinstance(result, dict) else len(result))
        target = f"< {TARGET_MS:.0f} ms" if row is fwd else "-"
        verdict = ("PASS" if row["ms"] < TARGET_MS else "MISS") if row is fwd else "-"
        table.append((row["what"], str(row["batches"]), f"{reached:,}", f"{row['ms']:.2f}", target, verdict))
    widths = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(head)]
    print("  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths))))
    for t in table:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(t, widths))))
    print("forward batches (median ms each): " + ", ".join(
        f"{lot} {ms:.2f}" + (" bulk" if lot == bulk.batch_id else " failed QC" if lot == failed.batch_id else "")
        for ms, lot, _ in fwd["all"]))
    print(f"ours and the peer reach the same nodes: {'yes' if agree else 'NO'}; affected_by_batch of "
          f"{aff['lot']}: {', '.join(f'{len(v)} {k}' for k, v in aff['result'].items())}")
    print(f"target: forward trace of one batch < {TARGET_MS:.0f} ms: "
          f"{'PASS' if fwd['ms'] < TARGET_MS else 'MISS'} (slowest of {len(forward_lots)} batches "
          f"{fwd['ms']:.2f} ms, {fwd['lot']})")


if __name__ == "__main__":
    main()
