"""MES -> hub: Opcenter production orders and consumption through hub.flows.mes_sync, against
the Opcenter simulator over HTTP. The end of the traceability chain: a received supplier batch
becomes linked to the production order that consumed it, without losing what receiving stored."""
from __future__ import annotations

from decimal import Decimal

from canonical_model.documents import Batch, Source
from canonical_model.store import audit, documents
from hub.flows.mes_sync import sync_mes
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
