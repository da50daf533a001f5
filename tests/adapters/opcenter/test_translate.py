"""Opcenter entities -> flat hub records: localised times, canonical status, the lot as received."""
from __future__ import annotations

import datetime as dt
import zoneinfo

from adapters.opcenter import translate

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def test_flatten_localises_offset_times_and_keeps_other_text():
    flat = translate.flatten({"@odata.etag": "x", "Quantity": {"QuantityValue": 5, "UoMNId": "PCS"},
                              "PlannedStartTime": "2026-12-03T16:30:00Z", "Offset": "2026-12-03T10:00:00+02:00",
                              "Bogus": "2026-13-40T00:00:00Z", "Plain": "2026-12-03", "Items": [{"At": "2026-12-03T00:00:00Z"}]},
                             SHANGHAI)
    assert flat == {"Quantity.QuantityValue": 5, "Quantity.UoMNId": "PCS", "PlannedStartTime": "2026-12-04T00:30:00",
                    "Offset": "2026-12-03T16:00:00", "Bogus": "2026-13-40T00:00:00Z", "Plain": "2026-12-03",
                    "Items": [{"At": "2026-12-03T08:00:00"}]}


def test_since_round_trips_through_utc():
    since = dt.datetime(2026, 12, 1, 8, 0)
    utc = translate.since_utc(since, SHANGHAI)
    assert utc == dt.datetime(2026, 12, 1, 0, 0, tzinfo=dt.timezone.utc)
    assert translate.modified_at({"LastUpdatedOn": "2026-12-01T00:00:00Z"}, SHANGHAI) == since
    assert translate.modified_at({"LastUpdatedOn": "garbage"}, SHANGHAI) is None


def test_order_status_is_looked_up_and_unknown_ones_pass_through_for_the_model_to_refuse():
    assert translate.order_record({"NId": "A", "Status": {"StatusNId": "Active"}}, SHANGHAI).data["hub_status"] == "started"
    assert translate.order_record({"NId": "B", "Status": {"StatusNId": "Weird"}}, SHANGHAI).data["hub_status"] == "Weird"
    assert translate.order_record({"Id": "g-1"}, SHANGHAI).key == "Id=g-1"


def consumption(order: str, qty, unit: str = "PCS", at: str = "2026-12-01T00:00:00Z") -> dict:
    return {"Id": f"c-{order}-{qty}", "OrderNId": order, "MaterialLotNId": "L1", "MaterialNId": "M",
            "Quantity": {"QuantityValue": qty, "UoMNId": unit}, "ConsumedOn": at, "LastUpdatedOn": at}


def test_lot_quantity_is_what_was_received_and_links_are_in_time_order():
    lot = {"NId": "L1", "MaterialNId": "M", "Quantity": {"QuantityValue": 0, "UoMNId": "PCS"},
           "Status": {"StatusNId": "Consumed"}, "LastUpdatedOn": "2026-12-01T05:00:00Z"}
    record = translate.lot_record("L1", lot, [consumption("B", 2, at="2026-12-01T02:00:00Z"), consumption("A", 0.5)],
                                  SHANGHAI)
    assert record.data["hub_quantity"] == "2.5" and record.data["hub_status"] == "consumed"
    assert [c["OrderNId"] for c in record.data["Consumptions"]] == ["A", "B"]
    assert record.modified == dt.datetime(2026, 12, 1, 13, 0)


def test_consumption_in_another_unit_leaves_the_quantity_unknown():
    lot = {"NId": "L1", "MaterialNId": "M", "Quantity": {"QuantityValue": 3, "UoMNId": "PCS"},
           "Status": {"StatusNId": "Released"}}
    record = translate.lot_record("L1", lot, [consumption("A", 1, unit="KG")], SHANGHAI)
    assert record.data["hub_quantity"] is None and record.data["hub_status"] == "released"


def test_a_lot_the_mes_no_longer_lists_keeps_its_genealogy():
    record = translate.lot_record("L9", None, [consumption("A", 4), consumption("B", 6)], SHANGHAI)
    assert (record.data["NId"], record.data["MaterialNId"], record.data["hub_quantity"], record.data["hub_status"]) \
        == ("L9", "M", "10", "consumed")
    assert record.data["Quantity.UoMNId"] == "PCS"


def test_a_pulled_batch_adds_links_and_consumption_to_the_stored_one():
    from canonical_model.documents import Batch, Source

    stored = Batch(batch_id="B1", material_id="M", supplier_id="SUP-001", supplier_batch_number="S-77", quantity="500",
                   uom="H87", status="released", links=[{"relation": "produced", "ref": "SUP-ASN-1"}],
                   source=Source(system="wms"))
    pulled = Batch(batch_id="B1", material_id="M", supplier_id="SUP-001", quantity="480", uom="H87", status="consumed",
                   links=[{"relation": "consumed_by", "ref": "MO-1"}, {"relation": "produced", "ref": "SUP-ASN-1"}],
                   source=Source(system="opcenter"))
    merged = translate.merge_pulled_batch(stored, pulled)
    assert (merged.quantity, merged.supplier_batch_number, merged.status) == (500, "S-77", "consumed")
    assert [(l.relation, l.ref) for l in merged.links] == [("produced", "SUP-ASN-1"), ("consumed_by", "MO-1")]
    assert translate.merge_pulled_batch(merged, pulled).content() == merged.content()  # a rerun changes nothing
    still_in_use = pulled.model_copy(update={"status": "released"})
    assert translate.merge_pulled_batch(stored, still_in_use).status == "released"
    assert translate.merge_pulled_batch(None, pulled) is pulled


def test_finished_lot_quantity_is_everything_produced_and_none_across_units():
    lot = {"NId": "FG-1", "MaterialNId": "3.01.0007", "Quantity": {"UoMNId": "PCS", "QuantityValue": 7},
           "Status": {"StatusNId": "Released"}}
    made = [{"NId": n, "OrderNId": "MO-1", "MaterialNId": "3.01.0007", "Quantity": {"UoMNId": "PCS", "QuantityValue": q}}
            for n, q in (("P1", 4.5), ("P2", 3))]
    data = translate.finished_lot_record("FG-1", lot, made, {"MO-1": "3.01.0007"}, SHANGHAI).data
    assert (data["hub_quantity"], data["hub_status"], data["hub_material_id"]) == ("7.5", "released", "3.01.0007")
    assert data["ProducedBy"] == [{"OrderNId": "MO-1", "ProductionNId": "P1"}]  # one link per order
    made[1]["Quantity"]["UoMNId"] = "BOX"
    assert translate.finished_lot_record("FG-1", lot, made, {}, SHANGHAI).data["hub_quantity"] is None
    # a lot the MES does not list: unit and material from the completions, released
    gone = translate.finished_lot_record("FG-1", None, made[:1], {}, SHANGHAI).data
    assert (gone["Quantity.UoMNId"], gone["hub_material_id"], gone["hub_status"]) == ("PCS", "3.01.0007", "released")


def test_merge_produced_batch_adds_the_link_and_keeps_the_rest():
    from canonical_model.documents import Batch, Source

    stored = Batch(batch_id="FG-1", material_id="3.01.0007", quantity="200", uom="H87", status="rejected",
                   links=[{"relation": "consumed_by", "ref": "MO-9"}], source=Source(system="qc"))
    pulled = Batch(batch_id="FG-1", material_id="3.01.0007", quantity="250", uom="H87", status="released",
                   links=[{"relation": "produced", "ref": "MO-1"}], source=Source(system="opcenter"))
    merged = translate.merge_produced_batch(stored, pulled)
    assert [(l.relation, l.ref) for l in merged.links] == [("consumed_by", "MO-9"), ("produced", "MO-1")]
    assert (merged.status, merged.quantity, merged.source.system) == ("rejected", 200, "opcenter")
    assert translate.merge_produced_batch(merged, pulled) == merged  # a repeat adds nothing
    assert translate.merge_produced_batch(None, pulled) is pulled
