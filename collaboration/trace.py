"""Batch traceability: the genealogy graph from supplier lot to finished lot and shipment.

Nodes are ``(kind, id)``; edges run the way material flows, so a *forward* trace of a batch is
everything that came of it and a *backward* trace everything it came from:

    asn ──announced──▶ batch ──received──▶ receipt
                         │ ──inspected──▶ inspection
                         └──consumed_by──▶ production_order ──produced──▶ finished_lot ──shipped──▶ shipment
                                                                          (a finished lot consumed by
                                                                           another order goes on the same way)

Where each edge comes from (canonical_model/documents.py):

* ``batch`` / ``finished_lot``: a ``Batch``. It is a finished lot when it has a ``produced`` link
  (``BatchLink(relation="produced", ref=ORDER)``: the lot that ORDER produced, as the B2MML
  performance reader writes it); every ``consumed_by`` link is an edge to that production order.
  The Opcenter feeds (hub.flows.mes_sync) bring both: ``consumption`` the ``consumed_by`` links,
  ``finished_lots`` the ``produced`` links (``PIOrder/MaterialProduction``); a B2MML
  ProductionPerformance import is the other source.
* ``receipt``: a ``Receipt``; one edge per batch its lines name.
* ``inspection``: an ``Inspection``; the edge starts at its batch, not at its receipt: a receipt
  carries several batches and an inspection judges one, so hanging it under the receipt would show
  one batch's failed QC under every other batch of that receipt. ``receipt_id`` is in its detail.
* ``asn`` / ``shipment``: a ``ShipmentNotice`` (not cancelled). A line's ``batch_number`` names a
  lot the way the warehouse flow names it (``<supplier_id>:<batch_number>``, else a batch whose
  supplier and supplier batch number match, else a batch id equal to it). A notice carrying a
  finished lot is an outbound ``shipment`` (the plant's own DESADV to a customer; INFERRED: the hub
  has no customer-shipment feed yet, so shipments are known only where such a notice is stored);
  any other is a supplier ``asn`` pointing at the batch it announced, received or not.

References to documents the data does not hold (an order a link names, a batch a receipt names)
still become nodes, with ``in_store: False`` in their detail, so a gap in one feed does not cut
the trace. Bad MES data can make cycles (a lot consumed by the order that produced it): a trace
visits every node once (depth first, children in a fixed order) and lists every edge to a node
already shown in the detail of the node it starts from, ``repeated_edges``, with ``cycle: True``
when it leads back to a node on the current path.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Literal, Optional

from canonical_model.documents import (Batch, CanonicalDocument, Inspection, ProductionOrder, Receipt,
                                       ShipmentNotice, supplier_lot)
from hub.errors import FatalError, SkippableError

Direction = Literal["forward", "backward"]
NODE_KINDS = ("batch", "receipt", "inspection", "production_order", "finished_lot", "asn", "shipment")
#: children are listed in this order (then by id), so trees and JSON are stable
_KIND_ORDER = {kind: n for n, kind in enumerate(("asn", "receipt", "inspection", "batch", "production_order",
                                                  "finished_lot", "shipment"))}
#: edge label by (kind from, kind to): every edge's meaning follows from its ends, so none is stored
_RELATIONS = {
    ("asn", "batch"): "announced", ("asn", "finished_lot"): "announced", ("shipment", "batch"): "announced",
    ("batch", "receipt"): "received", ("finished_lot", "receipt"): "received",
    ("batch", "inspection"): "inspected", ("finished_lot", "inspection"): "inspected",
    ("batch", "production_order"): "consumed_by", ("finished_lot", "production_order"): "consumed_by",
    ("production_order", "finished_lot"): "produced", ("finished_lot", "shipment"): "shipped",
}
#: how many batch ids an "unknown batch" message suggests
_EXAMPLES = 3


class BatchLookupError(SkippableError):
    """A trace asked for a batch the genealogy does not know (or a lot number two batches share)."""

    def __init__(self, code: str, message: str, where: str = "", candidates: tuple[str, ...] = ()) -> None:
        super().__init__(code, message, where)
        self.candidates = candidates

    def located(self, where: str) -> "BatchLookupError":
        inner = f"{where}:{self.where}" if self.where else where
        return BatchLookupError(self.code, self.message, inner, self.candidates)


@dataclass
class TraceNode:
    kind: str
    id: str
    label: str
    detail: dict[str, Any] = field(default_factory=dict)
    children: list["TraceNode"] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "label": self.label, "detail": self.detail,
                "children": [child.as_dict() for child in self.children]}

    def walk(self) -> Iterator["TraceNode"]:
        """This node and every node below it, depth first (iterative: genealogies can be deep)."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def render_tree(self) -> str:
        """The tree as text, one node a line; edges to nodes already shown are marked leaves (↺)."""
        lines: list[str] = []
        # (text of a finished line, or a node to expand; the prefix of its line; the indent of its children)
        stack: list[tuple[Optional[str], Optional[TraceNode], str, str]] = [(None, self, "", "")]
        while stack:
            text, node, lead, indent = stack.pop()
            if node is None:
                lines.append(lead + (text or ""))
                continue
            lines.append(lead + f"{node.kind} {node.id}" + (f"  {node.label}" if node.label else ""))
            entries: list[tuple[Optional[str], Optional[TraceNode]]] = [(None, c) for c in node.children]
            entries += [(f"↺ {r['kind']} {r['id']} " + ("(cycle: leads back up this path, not followed)"
                                                         if r["cycle"] else "(already shown above)"), None)
                        for r in node.detail.get("repeated_edges", ())]
            for n in range(len(entries) - 1, -1, -1):
                branch, more = ("└── ", "    ") if n == len(entries) - 1 else ("├── ", "│   ")
                stack.append((entries[n][0], entries[n][1], indent + branch, indent + more))
        return "\n".join(lines)


class Genealogy:
    """The directed genealogy graph. Build it with :meth:`from_documents` or :meth:`from_store`.

    Nodes are numbered; each keeps its kind, id and the document behind it (None when only
    referenced). Adjacency is kept both ways (lists of node numbers), so a backward trace costs
    what a forward one does.
    """

    def __init__(self) -> None:
        #: id -> node number, per id space (a batch and a finished lot share "lot"; asn and shipment "notice")
        self._spaces: dict[str, dict[str, int]] = {space: {} for space in ("lot", "receipt", "inspection",
                                                                           "production_order", "notice")}
        self._lots = self._spaces["lot"]
        self._kinds: list[str] = []
        self._ids: list[str] = []
        self._docs: list[Optional[CanonicalDocument]] = []
        self._out: list[list[int]] = []
        self._in: list[list[int]] = []
        self._aliases: Optional[dict[str, set[int]]] = None

    # ------------------------------------------------------------------ building
    @classmethod
    def from_documents(cls, *, batches: Iterable[Batch], receipts: Iterable[Receipt] = (),
                       inspections: Iterable[Inspection] = (), production_orders: Iterable[ProductionOrder] = (),
                       shipment_notices: Iterable[ShipmentNotice] = ()) -> "Genealogy":
        """Each iterable is read once, in this order (generators are fine); batches come first
        because whether a lot is a finished lot decides which way a shipment notice points."""
        graph = cls()
        for batch in batches:
            graph._add_batch(batch)
        for receipt in receipts:
            node = graph._node("receipt", receipt.receipt_id, "receipt", receipt)
            for line in receipt.lines:
                if line.batch_id:
                    graph._edge(graph._lot(line.batch_id, receipt.supplier_id), node)
        for inspection in inspections:
            node = graph._node("inspection", inspection.inspection_id, "inspection", inspection)
            graph._edge(graph._lot(inspection.batch_id, inspection.supplier_id), node)
        for order in production_orders:
            graph._node("production_order", order.order_id, "production_order", order)
        for notice in shipment_notices:
            graph._add_notice(notice)
        graph._finish()
        return graph

    @classmethod
    def from_store(cls, session) -> "Genealogy":
        """The genealogy of the store's current documents (read only)."""
        from pydantic import ValidationError

        from canonical_model.store import documents

        def current(doc_type: str) -> Iterator[Any]:
            try:
                yield from documents.current(session, doc_type)
            except ValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                where = ".".join(str(p) for p in first.get("loc", ()))
                raise FatalError("STORE_BAD_DOCUMENT",
                                 f"a stored {doc_type} does not validate ({where}: {first.get('msg', exc)}); "
                                 f"repair it in the store or replay its source", f"store:{doc_type}") from None

        return cls.from_documents(batches=current("Batch"), receipts=current("Receipt"),
                                  inspections=current("Inspection"), production_orders=current("ProductionOrder"),
                                  shipment_notices=current("ShipmentNotice"))

    def _node(self, space: str, node_id: str, kind: str, doc: Optional[CanonicalDocument] = None) -> int:
        index = self._spaces[space]
        number = index.get(node_id)
        if number is None:
            number = len(self._ids)
            index[node_id] = number
            self._kinds.append(kind)
            self._ids.append(node_id)
            self._docs.append(doc)
            self._out.append([])
            self._in.append([])
        elif doc is not None:
            self._docs[number] = doc  # the same document again (duplicated input): the later one wins
        return number

    def _edge(self, source: int, target: int) -> None:
        # duplicates are dropped once, in _finish: checking each list here would be quadratic on busy orders
        self._out[source].append(target)
        self._in[target].append(source)

    def _add_batch(self, batch: Batch) -> None:
        lot = self._node("lot", batch.batch_id, "batch", batch)
        for link in batch.links:
            order = self._node("production_order", link.ref, "production_order")
            if link.relation == "produced":
                self._kinds[lot] = "finished_lot"
                self._edge(order, lot)
            else:
                self._edge(lot, order)

    def _lot(self, batch_id: str, supplier_id: Optional[str]) -> int:
        """The lot node a receipt or inspection names: the batch id, or the supplier-prefixed hub id."""
        if batch_id not in self._lots and supplier_id and f"{supplier_id}:{batch_id}" in self._lots:
            batch_id = f"{supplier_id}:{batch_id}"
        return self._node("lot", batch_id, "batch")

    def _add_notice(self, notice: ShipmentNotice) -> None:
        if notice.status == "cancelled":
            return
        lots = {self._notice_lot(notice.supplier_id, line.batch_number) for line in notice.lines if line.batch_number}
        if not lots:
            return
        shipped = any(self._kinds[lot] == "finished_lot" for lot in lots)
        node = self._node("notice", notice.business_key, "shipment" if shipped else "asn", notice)
        for lot in sorted(lots):
            if self._kinds[lot] == "finished_lot":
                self._edge(lot, node)
            else:
                self._edge(node, lot)

    def _notice_lot(self, supplier_id: str, batch_number: str) -> int:
        hub_id = f"{supplier_id}:{batch_number}"  # what hub.flows.warehouse names the received batch
        if hub_id in self._lots:
            return self._lots[hub_id]
        same_supplier = self._alias_index().get(hub_id, set())  # supplier_id + supplier_batch_number
        if len(same_supplier) == 1:
            return next(iter(same_supplier))
        if batch_number in self._lots:  # a lot the plant (or the MES) named itself
            return self._lots[batch_number]
        return self._node("lot", hub_id, "batch")

    def _finish(self) -> None:
        for adjacency in (self._out, self._in):
            for number, targets in enumerate(adjacency):
                if len(targets) > 1:
                    adjacency[number] = list(dict.fromkeys(targets))

    # ------------------------------------------------------------------ looking up
    @property
    def node_count(self) -> int:
        return len(self._ids)

    @property
    def edge_count(self) -> int:
        return sum(len(targets) for targets in self._out)

    def nodes(self) -> list[tuple[str, str]]:
        return list(zip(self._kinds, self._ids))

    def edges(self) -> list[tuple[tuple[str, str], tuple[str, str]]]:
        return [((self._kinds[s], self._ids[s]), (self._kinds[t], self._ids[t]))
                for s, targets in enumerate(self._out) for t in targets]

    def batch_ids(self) -> list[str]:
        return sorted(self._lots)

    def _alias_index(self) -> dict[str, set[int]]:
        """Every other name of a lot (supplier-prefixed id, supplier batch number, supplier lot), built on demand."""
        if self._aliases is None:
            aliases: dict[str, set[int]] = {}
            for number in self._lots.values():
                doc = self._docs[number]
                if not isinstance(doc, Batch):
                    continue
                names = {supplier_lot(doc.batch_id, doc.supplier_id), doc.supplier_batch_number}
                if doc.supplier_id and doc.supplier_batch_number:
                    names.add(f"{doc.supplier_id}:{doc.supplier_batch_number}")
                for name in names - {None, doc.batch_id}:
                    aliases.setdefault(name, set()).add(number)
            self._aliases = aliases
        return self._aliases

    def resolve_batch(self, name: str) -> str:
        """The hub batch id ``name`` means: a batch id, ``<supplier_id>:<supplier batch number>``, or a
        supplier lot number that only one batch has. BatchLookupError otherwise."""
        return self._ids[self._resolve(name)]

    def _resolve(self, name: str) -> int:
        name = (name or "").strip()
        if not name:
            raise BatchLookupError("TRACE_NO_BATCH", "name a batch (hub batch id or supplier lot)")
        number = self._lots.get(name)
        if number is not None:
            return number
        matches = self._alias_index().get(name, set())
        if len(matches) == 1:
            return next(iter(matches))
        if matches:
            ids = tuple(sorted(self._ids[n] for n in matches))
            raise BatchLookupError("TRACE_AMBIGUOUS_BATCH", f"batch {name} is ambiguous: it is the lot number of "
                                                            f"{', '.join(ids)}; name one of them", name, ids)
        examples = self._examples(name)
        known = ", ".join(examples) if examples else "none (no batch in the data)"
        raise BatchLookupError("TRACE_UNKNOWN_BATCH", f"unknown batch {name}; known examples: {known}", name,
                               tuple(examples))

    def _examples(self, name: str) -> list[str]:
        ids = self.batch_ids()
        folded = name.casefold()
        near = [i for i in ids if folded in i.casefold() or i.casefold() in folded]
        if not near and len(ids) <= 10_000:  # a similarity per id: only on modest stores
            scored = sorted((-difflib.SequenceMatcher(None, name, i).ratio(), i) for i in ids)
            near = [i for score, i in scored if score <= -0.6]  # most alike first, ties by id
        return (near or ids)[:_EXAMPLES]

    # ------------------------------------------------------------------ presenting
    def _describe(self, number: int, parent: Optional[int], forward: bool = True) -> tuple[str, dict[str, Any]]:
        kind, doc = self._kinds[number], self._docs[number]
        detail: dict[str, Any] = {}
        if parent is not None:
            edge = (self._kinds[parent], kind) if forward else (kind, self._kinds[parent])
            relation = _RELATIONS.get(edge)
            if relation:
                detail["relation"] = relation
        if doc is None:
            detail["in_store"] = False
            return "(not in the data)", detail
        if isinstance(doc, Batch):
            detail.update(doc.model_dump(mode="json", include={"material_id", "quantity", "uom", "status",
                                                              "supplier_id", "supplier_batch_number",
                                                              "expiry_date"}))
            inspections = {self._ids[t]: self._docs[t].result for t in self._out[number]  # type: ignore[union-attr]
                           if self._kinds[t] == "inspection" and self._docs[t] is not None}
            if inspections:
                detail["inspections"] = dict(sorted(inspections.items()))
            return f"{doc.material_id} {detail['quantity']} {doc.uom}, {doc.status}", detail
        if isinstance(doc, Receipt):
            detail.update(doc.model_dump(mode="json", include={"asn_number", "supplier_id", "received_at"}))
            lines = [line for line in doc.lines if parent is not None and line.batch_id in
                     (self._ids[parent], supplier_lot(self._ids[parent], doc.supplier_id))]
            detail["lines"] = [line.model_dump(mode="json", include={"line_no", "quantity", "uom", "location",
                                                                     "batch_id"}) for line in lines or doc.lines]
            quantity = " + ".join(f"{d['quantity']} {d['uom']}" for d in detail["lines"])
            return f"received {detail['received_at']}, {quantity}", detail
        if isinstance(doc, Inspection):
            detail.update(doc.model_dump(mode="json", include={"result", "inspected_at", "inspected_quantity",
                                                              "rejected_quantity", "uom", "receipt_id", "defects"}))
            defects = f", defects: {', '.join(doc.defects)}" if doc.defects else ""
            return (f"{doc.result.upper()} {detail['inspected_at']}, {detail['rejected_quantity']} of "
                    f"{detail['inspected_quantity']} {doc.uom} rejected{defects}"), detail
        if isinstance(doc, ProductionOrder):
            detail.update(doc.model_dump(mode="json", include={"material_id", "quantity", "uom", "status", "line",
                                                              "start", "due"}))
            return f"{doc.material_id} {detail['quantity']} {doc.uom}, {doc.status}", detail
        if isinstance(doc, ShipmentNotice):
            detail.update(doc.model_dump(mode="json", include={"asn_number", "supplier_id", "ship_to_id",
                                                              "ship_date", "expected_arrival", "status"}))
            to = f" to {doc.ship_to_id}" if doc.ship_to_id else ""
            when = detail["ship_date"] or detail["expected_arrival"]
            return f"{doc.asn_number} from {doc.supplier_id}{to}" + (f", {when}" if when else ""), detail
        return "", detail


def _ordered(graph: Genealogy, numbers: list[int]) -> list[int]:
    if len(numbers) < 2:
        return numbers
    return sorted(numbers, key=lambda n: (_KIND_ORDER[graph._kinds[n]], graph._ids[n]))


_ON_PATH, _DONE = 1, 2


def trace(genealogy: Genealogy, batch_id: str, direction: Direction = "forward") -> TraceNode:
    """The tree of everything ``batch_id`` became (forward) or came from (backward).

    ``batch_id``: a hub batch id or a supplier lot (see :meth:`Genealogy.resolve_batch`);
    BatchLookupError when no batch (or more than one) answers to it.
    """
    if direction not in ("forward", "backward"):
        raise ValueError(f"direction is 'forward' or 'backward', not {direction!r}")
    graph = genealogy
    adjacency = graph._out if direction == "forward" else graph._in
    root = graph._resolve(batch_id)
    label, detail = graph._describe(root, None)
    root_node = TraceNode(graph._kinds[root], graph._ids[root], label, detail)
    state = {root: _ON_PATH}
    stack = [(root, root_node, iter(_ordered(graph, adjacency[root])))]
    while stack:
        number, node, pending = stack[-1]
        nxt = next(pending, None)
        if nxt is None:
            state[number] = _DONE
            stack.pop()
            continue
        seen = state.get(nxt)
        if seen is not None:
            node.detail.setdefault("repeated_edges", []).append(
                {"kind": graph._kinds[nxt], "id": graph._ids[nxt], "cycle": seen == _ON_PATH})
            continue
        label, detail = graph._describe(nxt, number, direction == "forward")
        child = TraceNode(graph._kinds[nxt], graph._ids[nxt], label, detail)
        node.children.append(child)
        state[nxt] = _ON_PATH
        stack.append((nxt, child, iter(_ordered(graph, adjacency[nxt]))))
    return root_node


def affected_by_batch(genealogy: Genealogy, batch_id: str) -> dict[str, list[str]]:
    """Every production order and finished lot downstream of a batch (e.g. one that failed QC), sorted."""
    graph = genealogy
    root = graph._resolve(batch_id)
    seen = {root}
    stack = [root]
    while stack:
        for nxt in graph._out[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    seen.discard(root)
    found: dict[str, list[str]] = {"production_orders": [], "finished_lots": []}
    for number in seen:
        kind = graph._kinds[number]
        if kind == "production_order":
            found["production_orders"].append(graph._ids[number])
        elif kind == "finished_lot":
            found["finished_lots"].append(graph._ids[number])
    return {key: sorted(ids) for key, ids in found.items()}


def failed_inspections(genealogy: Genealogy, batch_id: str) -> list[str]:
    """The ids of the failed inspections of a batch, sorted."""
    graph = genealogy
    root = graph._resolve(batch_id)
    return sorted(graph._ids[t] for t in graph._out[root] if graph._kinds[t] == "inspection"
                  and isinstance(graph._docs[t], Inspection) and graph._docs[t].result == "fail")  # type: ignore
