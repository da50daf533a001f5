"""OpcenterMes against the simulator: pulls mapped to canonical documents, idempotent pushes, bad records."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from canonical_model.documents import Batch, Source
from hub.errors import FatalError, SkippableError
from hub.flows.erp_sync import sync_entity
from mappings.engine import load_mapping

from tests.adapters.opcenter.conftest import NOW, calls, make_mes


def mapped(mes, kind, since=None):
    mapping = load_mapping(mes.mapping_path(kind))
    return [mapping.apply(r.data, Source(system="opcenter", request=f"{kind} {r.key}")) for r in mes.pull(kind, since)]


def incoming(batch_id="BCGDD000101-1", status="released", **overrides) -> Batch:
    values = dict(batch_id=batch_id, material_id="1.02.0033", supplier_id="SUP-001", supplier_batch_number="B7781",
                  quantity="500", uom="H87", status=status, expiry_date="2027-06-30")
    values.update(overrides)
    return Batch(**values)


# ----------------------------------------------------------------------------- pulls


def test_production_orders_map_to_canonical_with_plant_local_times(mes):
    orders = {o.order_id: o for o in mapped(mes, "production_orders")}
    assert set(orders) == {"MO-2026-0001", "MO-2026-0002", "MO-2026-0003"}
    demo = orders["MO-2026-0002"]
    assert (demo.material_id, demo.quantity, demo.uom, demo.line, demo.status) == ("3.01.0007", 500, "H87", "LINE01",
                                                                                     "released")
    # 2026-12-04T00:00Z is 08:00 in Shanghai; the demo ASN arrives 2026-12-03 (today + 2): due after it
    assert demo.start == dt.datetime(2026, 12, 4, 8) and demo.due == dt.datetime(2026, 12, 6, 8)
    assert demo.due.date() > dt.date(2026, 12, 3)
    assert orders["MO-2026-0001"].status == "completed" and orders["MO-2026-0003"].status == "planned"


def test_since_is_plant_local_and_inclusive(mes):
    records = list(mes.pull_production_orders(dt.datetime(2026, 11, 30, 8, 0)))  # = 2026-11-30T00:00Z
    assert sorted(r.key for r in records) == ["MO-2026-0002", "MO-2026-0003"]
    assert all(r.modified == dt.datetime(2026, 11, 30, 8, 0) for r in records)
    assert list(mes.pull_production_orders(dt.datetime(2026, 11, 30, 8, 1))) == []


def test_consumption_gives_one_batch_per_lot_with_every_order_that_used_it(sim, mes):
    sim.state.add_lot("L-33-A", "1.02.0033", 500, "PCS", "Released", "SUP-001", "B1")
    sim.state.consume("MO-2026-0002", "L-33-A", 300)
    sim.state.set_now(NOW + dt.timedelta(hours=1))
    sim.state.add_order("MO-2026-0009", "3.01.0007", 10, "PCS", NOW, NOW + dt.timedelta(days=1))
    sim.state.consume("MO-2026-0009", "L-33-A", 200)
    batches = {b.batch_id: b for b in mapped(mes, "consumption")}
    assert set(batches) == {"L-33-A", "L-1.03.0100-0001"}
    used = batches["L-33-A"]
    assert [(l.relation, l.ref) for l in used.links] == [("consumed_by", "MO-2026-0002"), ("consumed_by", "MO-2026-0009")]
    assert (used.status, used.quantity, used.supplier_batch_number) == ("consumed", Decimal(500), "B1")
    old = batches["L-1.03.0100-0001"]
    assert (old.status, old.quantity, [l.ref for l in old.links]) == ("released", Decimal(1000), ["MO-2026-0001"])


def test_consumption_since_keeps_earlier_links_of_a_lot_used_again(sim, mes):
    sim.state.set_now(NOW + dt.timedelta(days=1))
    sim.state.consume("MO-2026-0002", "L-1.03.0100-0001", 100)
    since = dt.datetime(2026, 12, 2, 8, 0)  # local; only the new consumption is in the window
    (batch,) = mapped(mes, "consumption", since)
    assert [l.ref for l in batch.links] == ["MO-2026-0001", "MO-2026-0002"] and batch.quantity == 1000


def test_many_lots_are_looked_up_in_chunks_and_each_comes_once(sim):
    for i in range(45):
        sim.state.add_lot(f"L-{i:03d}", "1.02.0041", 10, "PCS", "Released")
        sim.state.consume("MO-2026-0002", f"L-{i:03d}", 4)
    with make_mes(sim, page_size=7) as mes:
        keys = [r.key for r in mes.pull_consumption(None)]
    assert len(keys) == len(set(keys)) == 46


def test_unknown_pull_kind_is_fatal(mes):
    with pytest.raises(FatalError) as info:
        mes.mapping_path("invoices")
    assert info.value.code == "OPCENTER_KIND"


def test_sync_flow_stores_mes_orders_once(sim, sqlite_store):
    with make_mes(sim) as mes:
        first = sync_entity(sqlite_store, mes, "production_orders")
        again = sync_entity(sqlite_store, mes, "production_orders")
    assert (first.fetched, first.new, first.quarantined) == (3, 3, 0)
    assert (again.new, again.changed) == (0, 0)


# ----------------------------------------------------------------------------- push: incoming batch


def lots(sim, nid):
    return [lot for lot in sim.state.rows("MaterialLot") if lot["NId"] == nid]


def test_incoming_batch_is_created_once_and_its_status_follows_qc(sim, mes):
    first = mes.push_incoming_batch(incoming(status="quarantined"))
    (lot,) = lots(sim, "BCGDD000101-1")
    assert lot["Id"] == first and lot["Status"]["StatusNId"] == "Quarantine"
    assert (lot["SupplierNId"], lot["SupplierLotNId"], lot["Quantity"]) == ("SUP-001", "B7781",
                                                                             {"UoMNId": "PCS", "QuantityValue": 500})
    assert lot["ExpirationDate"] == "2027-06-29T16:00:00Z"  # local midnight in Shanghai
    writes = calls(sim, "POST CreateMaterialLot") + calls(sim, "POST SetMaterialLotStatus")
    assert mes.push_incoming_batch(incoming(status="quarantined")) == first  # rerun: nothing written
    assert calls(sim, "POST CreateMaterialLot") + calls(sim, "POST SetMaterialLotStatus") == writes
    assert mes.push_incoming_batch(incoming(status="released")) == first
    (lot,) = lots(sim, "BCGDD000101-1")
    assert lot["Status"]["StatusNId"] == "Released" and calls(sim, "POST CreateMaterialLot") == 1


def test_a_consumed_lot_is_not_pulled_back_by_a_late_qc_push(sim, mes):
    mes.push_incoming_batch(incoming(status="released"))
    sim.state.consume("MO-2026-0002", "BCGDD000101-1")
    mes.push_incoming_batch(incoming(status="quarantined"))
    (lot,) = lots(sim, "BCGDD000101-1")
    assert lot["Status"]["StatusNId"] == "Consumed"


@pytest.mark.parametrize("overrides, field", [({"status": "consumed"}, "status"), ({"quantity": "0"}, "quantity")])
def test_bad_batches_are_skipped_naming_the_batch_and_field_before_any_call(sim, mes, overrides, field):
    before = len(sim.state.calls)
    with pytest.raises(SkippableError) as info:
        mes.push_incoming_batch(incoming(**overrides))
    assert info.value.code == "OPCENTER_BAD_RECORD" and "batch BCGDD000101-1" in info.value.message
    assert f"field {field}" in info.value.message and info.value.where == "opcenter:Material/MaterialLot:BCGDD000101-1"
    assert len(sim.state.calls) == before


def test_unknown_material_is_rejected_by_the_mes(mes):
    with pytest.raises(SkippableError) as info:
        mes.push_incoming_batch(incoming(material_id="9.99.9999"))
    assert info.value.code == "OPCENTER_REJECTED" and "9.99.9999" in info.value.message


def test_a_lot_of_another_material_is_a_conflict(sim, mes):
    sim.state.add_lot("BCGDD000101-1", "1.02.0041", 5, "PCS")
    with pytest.raises(SkippableError) as info:
        mes.push_incoming_batch(incoming())
    assert info.value.code == "OPCENTER_CONFLICT"


def test_auto_consumption_links_the_released_batch_to_the_order_that_needs_it(sim, mes):
    sim.state.auto_consume = True
    mes.push_incoming_batch(incoming(status="released"))
    batches = {b.batch_id: b for b in mapped(mes, "consumption")}
    assert [(l.relation, l.ref) for l in batches["BCGDD000101-1"].links] == [("consumed_by", "MO-2026-0002")]


# ----------------------------------------------------------------------------- push: availability


def availability(sim):
    return sim.state.rows("OrderMaterialAvailability")


def test_material_availability_is_one_record_per_order_and_material(sim, mes):
    args = dict(available_quantity=Decimal("400"), uom="H87", expected_arrival=dt.date(2026, 12, 3),
                required_quantity=Decimal("500"), reference="ASN-CGDD000101")
    first = mes.push_material_availability("MO-2026-0002", "1.02.0033", **args)
    (row,) = availability(sim)
    assert row["Id"] == first and row["Status"] == "expected"
    assert row["ExpectedArrival"] == "2026-12-02T16:00:00Z"
    assert row["AvailableQuantity"] == {"UoMNId": "PCS", "QuantityValue": 400}
    assert mes.push_material_availability("MO-2026-0002", "1.02.0033", **args) == first
    assert calls(sim, "POST SetOrderMaterialAvailability") == 1  # same values: not written again
    mes.push_material_availability("MO-2026-0002", "1.02.0033", **{**args, "available_quantity": Decimal(500)})
    (row,) = availability(sim)
    assert row["Status"] == "available" and row["AvailableQuantity"]["QuantityValue"] == 500


def test_availability_for_an_unknown_order_is_skippable_naming_it(mes):
    with pytest.raises(SkippableError) as info:
        mes.push_material_availability("MO-NOPE", "1.02.0033", available_quantity=Decimal(1), uom="H87")
    assert info.value.code == "OPCENTER_REJECTED" and "MO-NOPE" in info.value.message
    assert info.value.where.endswith(":MO-NOPE/1.02.0033")


def test_negative_availability_is_a_bad_record(sim, mes):
    with pytest.raises(SkippableError) as info:
        mes.push_material_availability("MO-2026-0002", "1.02.0033", available_quantity=Decimal(-1), uom="H87")
    assert info.value.code == "OPCENTER_BAD_RECORD"
    assert "order MO-2026-0002" in info.value.message and "available_quantity" in info.value.message
    assert availability(sim) == []


# ----------------------------------------------------------------------------- push: schedule change


def test_schedule_change_is_a_proposal_once_and_never_edits_the_order(sim, mes):
    order_before = [o for o in sim.state.rows("Order") if o["NId"] == "MO-2026-0002"]
    first = mes.propose_schedule_change("PCH-0001", "MO-2026-0002", reason="bearings arrive late",
                                        proposed_start=dt.datetime(2026, 12, 5, 8), proposed_due=dt.datetime(2026, 12, 7, 17))
    assert mes.propose_schedule_change("PCH-0001", "MO-2026-0002", reason="bearings arrive late",
                                       proposed_start=dt.datetime(2026, 12, 5, 8)) == first
    (proposal,) = sim.state.rows("ScheduleChangeProposal")
    assert proposal["Id"] == first and proposal["Status"]["StatusNId"] == "Proposed"
    assert proposal["ProposedStartTime"] == "2026-12-05T00:00:00Z" and proposal["ProposedEndTime"] == "2026-12-07T09:00:00Z"
    assert [o for o in sim.state.rows("Order") if o["NId"] == "MO-2026-0002"] == order_before
    assert calls(sim, "POST ProposeScheduleChange") == 1


@pytest.mark.parametrize("kwargs, field", [
    ({"reason": "late"}, "proposed_start/proposed_due"),
    ({"reason": "", "proposed_start": dt.datetime(2026, 12, 5)}, "reason"),
    ({"reason": "late", "proposed_start": dt.datetime(2026, 12, 5), "proposed_due": dt.datetime(2026, 12, 4)},
     "proposed_due"),
])
def test_bad_proposals_are_refused_before_any_call(sim, mes, kwargs, field):
    before = len(sim.state.calls)
    with pytest.raises(SkippableError) as info:
        mes.propose_schedule_change("PCH-9", "MO-2026-0002", **kwargs)
    assert info.value.code == "OPCENTER_BAD_RECORD" and f"field {field}" in info.value.message
    assert len(sim.state.calls) == before


def test_a_proposal_id_reused_for_another_order_is_a_conflict(mes):
    mes.propose_schedule_change("PCH-1", "MO-2026-0002", reason="late", proposed_start=dt.datetime(2026, 12, 5))
    with pytest.raises(SkippableError) as info:
        mes.propose_schedule_change("PCH-1", "MO-2026-0003", reason="late", proposed_start=dt.datetime(2026, 12, 5))
    assert info.value.code == "OPCENTER_CONFLICT"


# ----------------------------------------------------------------------------- finished lots


def records(mes, kind, since=None):
    """Each pulled record mapped: the Batch, or the SkippableError its mapping raised."""
    mapping = load_mapping(mes.mapping_path(kind))
    out = {}
    for r in mes.pull(kind, since):
        try:
            out[r.key] = mapping.apply(r.data, Source(system="opcenter", request=f"{kind} {r.key}"))
        except SkippableError as exc:
            out[r.key] = exc
    return out


def test_finished_lots_give_the_lot_each_order_produced_with_a_produced_link(mes):
    (lot,) = mapped(mes, "finished_lots")
    assert (lot.batch_id, lot.material_id, lot.quantity, lot.uom, lot.status) == \
        ("FG-3.01.0007-0001", "3.01.0007", Decimal(200), "H87", "released")
    assert [(l.relation, l.ref) for l in lot.links] == [("produced", "MO-2026-0001")]
    assert lot.supplier_id is None and lot.supplier_batch_number is None


def test_finished_lots_since_reads_every_completion_of_a_lot_filled_again(sim, mes):
    # the seed's lot was made 2026-11-29T00:00Z; a second order fills it up at 2026-12-01T09:00Z (17:00 local)
    sim.state.produce("MO-2026-0002", "FG-3.01.0007-0001", 50)
    sim.state.produce("MO-2026-0002", "FG-3.01.0007-0002", 30)
    pulled = list(mes.pull_finished_lots(dt.datetime(2026, 12, 1, 17, 0)))
    assert sorted(r.key for r in pulled) == ["FG-3.01.0007-0001", "FG-3.01.0007-0002"]  # in Id order
    assert all(r.modified == dt.datetime(2026, 12, 1, 17, 0) for r in pulled)
    lots = {b.batch_id: b for b in mapped(mes, "finished_lots", dt.datetime(2026, 12, 1, 17, 0))}
    old = lots["FG-3.01.0007-0001"]
    assert old.quantity == 250 and [l.ref for l in old.links] == ["MO-2026-0001", "MO-2026-0002"]  # 200 + 50
    assert lots["FG-3.01.0007-0002"].quantity == 30
    assert list(mes.pull_finished_lots(dt.datetime(2026, 12, 1, 17, 1))) == []


def test_a_finished_lot_consumed_later_keeps_its_made_quantity_and_says_consumed(sim, mes):
    sim.state.consume("MO-2026-0002", "FG-3.01.0007-0001")  # a sub-assembly used up by the next order
    (lot,) = mapped(mes, "finished_lots")
    assert (lot.quantity, lot.status) == (Decimal(200), "consumed")


def test_hostile_finished_lots_are_refused_with_the_reason_and_the_rest_maps(sim, mes):
    sim.state.produce("MO-2026-0002", "FG-ORPHAN", 5)
    orphan = next(p for p in sim.state.sets["MaterialProduction"].values() if p["MaterialLotNId"] == "FG-ORPHAN")
    orphan["OrderNId"] = None  # a completion the MES booked without its order
    sim.state.produce("MO-2026-0002", "FG-WRONG", 5)
    sim.state.by_nid("MaterialLot", "FG-WRONG")["MaterialNId"] = "9.99.9999"  # not what MO-2026-0002 makes
    sim.state.produce("MO-2026-0002", "FG-ALIEN", 5)
    alien = next(p for p in sim.state.sets["MaterialProduction"].values() if p["MaterialLotNId"] == "FG-ALIEN")
    alien["OrderNId"] = "MO-GONE"  # an order the MES no longer lists: the material cannot be checked, the link stays
    sim.state.put("MaterialProduction", {**orphan, "Id": "00000000-0000-5000-8000-00000000beef",
                                         "NId": "PROD-NOLOT", "MaterialLotNId": None})  # names no lot: skipped
    out = records(mes, "finished_lots")
    assert set(out) == {"FG-3.01.0007-0001", "FG-ORPHAN", "FG-WRONG", "FG-ALIEN"}
    assert out["FG-ORPHAN"].code == "MISSING_FIELD" and "ProducedBy[0]" in out["FG-ORPHAN"].where
    wrong = out["FG-WRONG"]
    assert wrong.code == "MISSING_FIELD" and "hub_material_id" in wrong.message
    (record,) = [r for r in mes.pull("finished_lots", None) if r.key == "FG-WRONG"]
    assert "9.99.9999" in record.data["hub_problem"] and "3.01.0007" in record.data["hub_problem"]
    assert [l.ref for l in out["FG-ALIEN"].links] == ["MO-GONE"]


def test_many_finished_lots_are_looked_up_in_chunks_and_each_comes_once(sim):
    for i in range(25):
        sim.state.produce("MO-2026-0002", f"FG-{i:03d}", 2)
        sim.state.produce("MO-2026-0003", f"FG-{i:03d}", 1)
    with make_mes(sim, page_size=7) as mes:
        pulled = list(mes.pull_finished_lots(None))
    keys = [r.key for r in pulled]
    assert len(keys) == len(set(keys)) == 26
    lot = next(r for r in pulled if r.key == "FG-024")
    assert lot.data["hub_quantity"] == "3" and [p["OrderNId"] for p in lot.data["ProducedBy"]] == \
        ["MO-2026-0002", "MO-2026-0003"]
