"""MES -> hub: Opcenter production orders and consumption through hub.flows.mes_sync, against
the Opcenter simulator over HTTP. The end of the traceability chain: a received supplier batch
becomes linked to the production order that consumed it, without losing what receiving stored."""
from __future__ import annotations

from decimal import Decimal

from canonical_model.documents import Batch, Source
from sqlalchemy import select

from canonical_model.store import audit, documents
from canonical_model.store.tables import QuarantineRow
from collaboration.trace import Genealogy, affected_by_batch, trace
from hub.flows.mes_sync import push_incoming_batches, sync_mes
from tests.adapters.opcenter.conftest import make_mes, sim  # noqa: F401  (the simulator fixture)


def received_batch() -> Batch:
    """What WMS receiving stored: quarantined until QC, with the supplier's lot and expiry."""
    return Batch(batch_id="SUP-001:L33-2611A", material_id="1.02.0033", supplier_id="SUP-001",
                 supplier_batch_number="L33-2611A", quantity="500", uom="H87", status="quarantined",
                 expiry_date="2028-11-01", source=Source(system="wms", request="receipt RCV-1"))


def test_production_orders_are_pulled_once(store, sim):  # noqa: F811
    with make_mes(sim) as mes:
        first = sync_mes(store, mes, "production_orders")
        again = sync_mes(store, mes, "production_orders")
    assert first.new >= 2 and first.quarantined == 0
    assert (again.new, again.changed) == (0, 0)
    with store.session() as s:
        order = documents.get(s, "ProductionOrder", "MO-2026-0002")
    assert (order.material_id, order.quantity, order.uom) == ("3.01.0007", Decimal("500"), "H87")
    assert order.start < order.due


def test_consumption_links_the_received_batch_to_its_order_and_keeps_receiving_data(store, sim):  # noqa: F811
    with store.session() as s:
        documents.upsert(s, received_batch(), actor="wms")
    released = received_batch().model_copy(update={"status": "released"})
    sim.state.auto_consume = True  # the demo's shop floor: a released lot an order needs is consumed at once
    with make_mes(sim) as mes:
        mes.push_incoming_batch(released)  # QC released it: the simulated shop floor consumes it into MO-2026-0002
        counts = sync_mes(store, mes, "consumption")
        rerun = sync_mes(store, mes, "consumption")
    assert counts.quarantined == 0 and counts.changed == 1
    assert (rerun.new, rerun.changed) == (0, 0)
    with store.session() as s:
        batch = documents.get(s, "Batch", "SUP-001:L33-2611A")
        history = audit.history(s, "Batch", "SUP-001:L33-2611A")
    assert [(link.relation, link.ref) for link in batch.links] == [("consumed_by", "MO-2026-0002")]
    # the MES adds consumption; the supplier's lot, expiry and received quantity stay as receiving stored them
    assert (batch.supplier_batch_number, str(batch.expiry_date), batch.quantity) == ("L33-2611A", "2028-11-01",
                                                                                     Decimal("500"))
    assert batch.status in ("consumed", "quarantined")
    assert history[-1].action == "new_version" and any(c["path"].startswith("links") for c in history[-1].details["diff"])


# ----------------------------------------------------------------------------- finished lots


def test_finished_lots_are_stored_once_and_a_supplier_lot_traces_forward_to_them(store, sim):  # noqa: F811
    with make_mes(sim) as mes:
        sync_mes(store, mes, "consumption")  # L-1.03.0100-0001 (SUP-002's oil seals) consumed_by MO-2026-0001
        first = sync_mes(store, mes, "finished_lots")
        again = sync_mes(store, mes, "finished_lots")
    assert (first.fetched, first.new, first.quarantined) == (1, 1, 0)
    assert (again.new, again.changed, again.quarantined) == (0, 0, 0)
    with store.session() as s:
        lot = documents.get(s, "Batch", "FG-3.01.0007-0001")
        assert len(audit.history(s, "Batch", "FG-3.01.0007-0001")) == 1  # the repeat made no second version
        graph = Genealogy.from_store(s)
    assert [(l.relation, l.ref) for l in lot.links] == [("produced", "MO-2026-0001")]
    assert (lot.quantity, lot.uom, lot.status) == (Decimal(200), "H87", "released")
    tree = trace(graph, "L-1.03.0100-0001", "forward")
    (order,) = tree.children
    (finished,) = order.children
    assert (order.kind, order.id, finished.kind, finished.id) == ("production_order", "MO-2026-0001",
                                                                  "finished_lot", "FG-3.01.0007-0001")
    assert finished.detail["relation"] == "produced" and finished.detail["quantity"] == "200"
    assert affected_by_batch(graph, "L-1.03.0100-0001") == {"production_orders": ["MO-2026-0001"],
                                                            "finished_lots": ["FG-3.01.0007-0001"]}
    back = trace(graph, "FG-3.01.0007-0001", "backward")
    assert [c.id for c in back.children] == ["MO-2026-0001"] and [c.id for c in back.children[0].children] == \
        ["L-1.03.0100-0001"]


def test_a_produced_link_merges_into_the_stored_batch_and_keeps_its_data(store, sim):  # noqa: F811
    held = Batch(batch_id="FG-3.01.0007-0001", material_id="3.01.0007", quantity="198", uom="H87",
                 status="quarantined", links=[{"relation": "consumed_by", "ref": "MO-2026-0002"}],
                 source=Source(system="qc", request="hold after final inspection"))
    with store.session() as s:
        documents.upsert(s, held, actor="qc")
    with make_mes(sim) as mes:
        counts = sync_mes(store, mes, "finished_lots")
        sim.state.produce("MO-2026-0001", "FG-3.01.0007-0001", 10)  # the lot changes in the MES: pulled again
        rerun = sync_mes(store, mes, "finished_lots")
    assert (counts.changed, rerun.fetched, rerun.changed, rerun.new) == (1, 1, 0, 0)
    with store.session() as s:
        batch = documents.get(s, "Batch", "FG-3.01.0007-0001")
        versions = len(audit.history(s, "Batch", "FG-3.01.0007-0001"))
    assert [(l.relation, l.ref) for l in batch.links] == [("consumed_by", "MO-2026-0002"),
                                                          ("produced", "MO-2026-0001")]
    assert (batch.quantity, batch.status) == (Decimal(198), "quarantined")  # what QC stored stays
    assert versions == 2


def test_hostile_finished_lots_are_quarantined_once_with_the_reason(store, sim):  # noqa: F811
    sim.state.produce("MO-2026-0002", "FG-ORPHAN", 5)
    orphan = next(p for p in sim.state.sets["MaterialProduction"].values() if p["MaterialLotNId"] == "FG-ORPHAN")
    orphan["OrderNId"] = None  # a completion booked without its order
    sim.state.produce("MO-2026-0002", "FG-WRONG", 5)
    sim.state.by_nid("MaterialLot", "FG-WRONG")["MaterialNId"] = "9.99.9999"
    with make_mes(sim) as mes:
        counts = sync_mes(store, mes, "finished_lots")
        again = sync_mes(store, mes, "finished_lots")
    assert (counts.fetched, counts.new, counts.quarantined) == (3, 1, 2)
    assert (again.new, again.quarantined) == (0, 0)
    with store.session() as s:
        rows = {r.business_key: r for r in s.scalars(select(QuarantineRow))}
        assert documents.get(s, "Batch", "FG-WRONG") is None and documents.get(s, "Batch", "FG-ORPHAN") is None
    assert set(rows) == {"FG-ORPHAN", "FG-WRONG"}
    assert rows["FG-ORPHAN"].reason_code == "MISSING_FIELD" and "ProducedBy[0]" in rows["FG-ORPHAN"].location
    wrong = rows["FG-WRONG"]
    assert wrong.reason_code == "MISSING_FIELD" and "9.99.9999" in wrong.evidence["record"]["hub_problem"]


def test_finished_lots_are_not_pushed_back_to_the_mes_as_incoming_batches(store, sim):  # noqa: F811
    with store.session() as s:
        documents.upsert(s, received_batch(), actor="wms")
    with make_mes(sim) as mes:
        sync_mes(store, mes, "finished_lots")
        assert push_incoming_batches(store, mes) == {"batches": 1}  # the received supplier batch only
