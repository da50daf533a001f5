"""Batch genealogy: forward and backward traces, affected orders and lots, cycles, lookups, store round trip.

The plant below, worked out by hand (material flows left to right):

    SUP-A/ASN-1 -> SUP-A:L1 (rejected, QC-1 fail) -> MO-1 -> FG-1 -> MO-4 -> FG-4 -> PLANT01/DN-1 (shipped)
                           \\-> MO-2 -> FG-2
                                    \\-> FG-3 --------------------------------> PLANT01/DN-1
                -> SUP-A:L2 (QC-2 pass) -> MO-2
    SUP-B:L1 (another supplier, same lot number) -> MO-3 (not in the data: only the link names it)
    R-1 received SUP-A:L1 and SUP-A:L2; R-2 received SUP-A:L9, a batch the data holds no Batch for.
    BCGDD000101-1: a lot the MES named itself, supplier SUP-C lot B7781.
"""
from __future__ import annotations

import datetime as dt
import json

import pytest

from canonical_model.documents import Batch, Inspection, ProductionOrder, Receipt, ShipmentNotice
from canonical_model.store import documents
from collaboration.trace import BatchLookupError, Genealogy, affected_by_batch, failed_inspections, trace
from hub.errors import FatalError


def batch(batch_id, material="RAW-1", quantity="100", uom="KGM", status="released", consumed=(), produced=None,
          supplier=None, lot=None) -> Batch:
    links = [{"relation": "consumed_by", "ref": o} for o in consumed]
    if produced:
        links.append({"relation": "produced", "ref": produced})
    return Batch(batch_id=batch_id, material_id=material, supplier_id=supplier, supplier_batch_number=lot,
                 quantity=quantity, uom=uom, status=status, links=links)


def order(order_id, material="FG-X", quantity="10") -> ProductionOrder:
    return ProductionOrder(order_id=order_id, material_id=material, quantity=quantity, uom="H87", status="released")


BATCHES = [
    batch("SUP-A:L1", status="rejected", consumed=("MO-1", "MO-2"), supplier="SUP-A", lot="L1"),
    batch("SUP-A:L2", quantity="50", consumed=("MO-2",), supplier="SUP-A", lot="L2"),
    batch("SUP-B:L1", material="RAW-2", consumed=("MO-3",), supplier="SUP-B", lot="L1"),
    batch("FG-1", material="SUB-Y", quantity="10", uom="H87", consumed=("MO-4",), produced="MO-1"),
    batch("FG-2", material="FG-X", quantity="5", uom="H87", produced="MO-2"),
    batch("FG-3", material="FG-X", quantity="5", uom="H87", produced="MO-2"),
    batch("FG-4", material="FG-Z", quantity="10", uom="H87", produced="MO-4"),
    batch("BCGDD000101-1", material="RAW-3", supplier="SUP-C", lot="B7781"),
]
RECEIPTS = [
    Receipt(receipt_id="R-1", asn_number="ASN-1", supplier_id="SUP-A", received_at=dt.datetime(2026, 11, 20, 9),
            lines=[{"line_no": 1, "material_id": "RAW-1", "quantity": "100", "uom": "KGM", "batch_id": "SUP-A:L1",
                    "location": "CK01"},
                   {"line_no": 2, "material_id": "RAW-1", "quantity": "50", "uom": "KGM", "batch_id": "SUP-A:L2"}]),
    Receipt(receipt_id="R-2", supplier_id="SUP-A", received_at=dt.datetime(2026, 11, 21, 9),
            lines=[{"line_no": 1, "material_id": "RAW-1", "quantity": "7", "uom": "KGM", "batch_id": "SUP-A:L9"}]),
]
INSPECTIONS = [
    Inspection(inspection_id="QC-1", batch_id="SUP-A:L1", material_id="RAW-1", supplier_id="SUP-A", receipt_id="R-1",
               inspected_quantity="20", rejected_quantity="6", uom="KGM", result="fail",
               inspected_at=dt.datetime(2026, 11, 20, 14), defects=["porosity"]),
    Inspection(inspection_id="QC-2", batch_id="SUP-A:L2", material_id="RAW-1", supplier_id="SUP-A", receipt_id="R-1",
               inspected_quantity="10", uom="KGM", result="pass", inspected_at=dt.datetime(2026, 11, 20, 15)),
]
ORDERS = [order("MO-1", "SUB-Y"), order("MO-2"), order("MO-4", "FG-Z")]
NOTICES = [
    ShipmentNotice(asn_number="ASN-1", supplier_id="SUP-A", expected_arrival=dt.date(2026, 11, 20), lines=[
        {"line_no": 1, "material_id": "RAW-1", "quantity": "100", "uom": "KGM", "batch_number": "L1"},
        {"line_no": 2, "material_id": "RAW-1", "quantity": "50", "uom": "KGM", "batch_number": "L2"}]),
    ShipmentNotice(asn_number="DN-1", supplier_id="PLANT01", ship_to_id="CUST-1", ship_date=dt.date(2026, 12, 10),
                   lines=[{"line_no": 1, "material_id": "FG-Z", "quantity": "10", "uom": "H87", "batch_number": "FG-4"},
                          {"line_no": 2, "material_id": "FG-X", "quantity": "5", "uom": "H87",
                           "batch_number": "FG-3"}]),
    ShipmentNotice(asn_number="ASN-X", supplier_id="SUP-A", status="cancelled", lines=[
        {"line_no": 1, "material_id": "RAW-1", "quantity": "1", "uom": "KGM", "batch_number": "L1"}]),
]


def plant() -> Genealogy:
    return Genealogy.from_documents(batches=BATCHES, receipts=RECEIPTS, inspections=INSPECTIONS,
                                    production_orders=ORDERS, shipment_notices=NOTICES)


def shape(node) -> tuple:
    """(kind, id, children...) with repeated edges as ("↺", kind, id, cycle): the tree without labels."""
    repeats = tuple(("↺", r["kind"], r["id"], r["cycle"]) for r in node.detail.get("repeated_edges", ()))
    return (node.kind, node.id, *(shape(c) for c in node.children), *repeats)


# ----------------------------------------------------------------------------- forward / backward


def test_forward_trace_of_a_supplier_batch_is_everything_made_from_it():
    root = trace(plant(), "SUP-A:L1")
    assert shape(root) == (
        "batch", "SUP-A:L1",
        ("receipt", "R-1"),
        ("inspection", "QC-1"),
        ("production_order", "MO-1",
         ("finished_lot", "FG-1",
          ("production_order", "MO-4",
           ("finished_lot", "FG-4",
            ("shipment", "PLANT01/DN-1"))))),
        ("production_order", "MO-2",
         ("finished_lot", "FG-2"),
         ("finished_lot", "FG-3", ("↺", "shipment", "PLANT01/DN-1", False))),
    )
    receipt, inspection, mo1, mo2 = root.children
    assert root.detail["inspections"] == {"QC-1": "fail"}
    assert root.detail["status"] == "rejected" and root.detail["quantity"] == "100"
    # the receipt shows only this batch's line (R-1 also carries SUP-A:L2)
    assert receipt.detail["relation"] == "received"
    assert [(line["batch_id"], line["quantity"]) for line in receipt.detail["lines"]] == [("SUP-A:L1", "100")]
    assert inspection.detail["result"] == "fail" and inspection.detail["receipt_id"] == "R-1"
    assert inspection.label.startswith("FAIL 2026-11-20T14:00:00, 6 of 20 KGM rejected, defects: porosity")
    assert [c.detail["relation"] for c in (mo1, mo1.children[0], mo1.children[0].children[0])] == \
        ["consumed_by", "produced", "consumed_by"]
    shipment = mo1.children[0].children[0].children[0].children[0]
    assert shipment.detail["relation"] == "shipped" and shipment.detail["ship_to_id"] == "CUST-1"


def test_backward_trace_of_a_finished_lot_reaches_the_supplier_asns():
    root = trace(plant(), "FG-3", "backward")
    assert shape(root) == (
        "finished_lot", "FG-3",
        ("production_order", "MO-2",
         ("batch", "SUP-A:L1", ("asn", "SUP-A/ASN-1")),
         ("batch", "SUP-A:L2", ("↺", "asn", "SUP-A/ASN-1", False))),
    )
    mo2 = root.children[0]
    # the edge MO-2 -> FG-3 is "produced" though it is walked backwards; L1 -> MO-2 is "consumed_by"
    assert mo2.detail["relation"] == "produced"
    assert mo2.children[0].detail["relation"] == "consumed_by"
    assert mo2.children[0].children[0].detail["relation"] == "announced"
    # the cancelled ASN-X announced L1 too, but a cancelled notice shipped nothing
    assert "SUP-A/ASN-X" not in [n.id for n in root.walk()]


def test_backward_trace_through_two_levels_of_production():
    assert shape(trace(plant(), "FG-4", "backward")) == (
        "finished_lot", "FG-4",
        ("production_order", "MO-4",
         ("finished_lot", "FG-1",
          ("production_order", "MO-1",
           ("batch", "SUP-A:L1", ("asn", "SUP-A/ASN-1"))))),
    )


def test_render_tree_draws_the_worked_out_tree():
    text = trace(plant(), "FG-3", "backward").render_tree()
    assert text.splitlines() == [
        "finished_lot FG-3  FG-X 5 H87, released",
        "└── production_order MO-2  FG-X 10 H87, released",
        "    ├── batch SUP-A:L1  RAW-1 100 KGM, rejected",
        "    │   └── asn SUP-A/ASN-1  ASN-1 from SUP-A, 2026-11-20",
        "    └── batch SUP-A:L2  RAW-1 50 KGM, released",
        "        └── ↺ asn SUP-A/ASN-1 (already shown above)",
    ]


# ----------------------------------------------------------------------------- failed inspection


def test_a_failed_inspection_shows_every_affected_order_and_finished_lot():
    genealogy = plant()
    assert failed_inspections(genealogy, "SUP-A:L1") == ["QC-1"]
    assert affected_by_batch(genealogy, "SUP-A:L1") == {"production_orders": ["MO-1", "MO-2", "MO-4"],
                                                        "finished_lots": ["FG-1", "FG-2", "FG-3", "FG-4"]}
    # L2 passed QC and went into MO-2 only
    assert failed_inspections(genealogy, "SUP-A:L2") == []
    assert affected_by_batch(genealogy, "SUP-A:L2") == {"production_orders": ["MO-2"],
                                                        "finished_lots": ["FG-2", "FG-3"]}
    # a finished lot's own downstream: FG-1 went into MO-4, which made FG-4
    assert affected_by_batch(genealogy, "FG-1") == {"production_orders": ["MO-4"], "finished_lots": ["FG-4"]}
    assert affected_by_batch(genealogy, "FG-2") == {"production_orders": [], "finished_lots": []}


# ----------------------------------------------------------------------------- broken and hostile data


def test_a_cycle_in_mes_data_is_visited_once_and_reported():
    # bad MES data: C-1 consumed by the order that produced it; MO-C also consumed C-2, which MO-D made from C-1
    genealogy = Genealogy.from_documents(batches=[
        batch("C-1", consumed=("MO-C", "MO-D"), produced="MO-C"),
        batch("C-2", consumed=("MO-C",), produced="MO-D")])
    root = trace(genealogy, "C-1")
    assert shape(root) == (
        "finished_lot", "C-1",
        ("production_order", "MO-C", ("↺", "finished_lot", "C-1", True)),
        ("production_order", "MO-D",
         ("finished_lot", "C-2", ("↺", "production_order", "MO-C", False))),
    )
    assert root.children[0].detail["repeated_edges"] == [{"kind": "finished_lot", "id": "C-1", "cycle": True}]
    assert "↺ finished_lot C-1 (cycle: leads back up this path, not followed)" in root.render_tree()
    assert affected_by_batch(genealogy, "C-1") == {"production_orders": ["MO-C", "MO-D"], "finished_lots": ["C-2"]}
    # backwards: C-2 <- MO-D <- C-1 <- MO-C, and MO-C consumed both C-1 and C-2, each on the path already
    back = trace(genealogy, "C-2", "backward")
    assert shape(back) == ("finished_lot", "C-2",
                           ("production_order", "MO-D",
                            ("finished_lot", "C-1",
                             ("production_order", "MO-C", ("↺", "finished_lot", "C-1", True),
                              ("↺", "finished_lot", "C-2", True)))))


def test_a_long_chain_does_not_hit_the_recursion_limit():
    # 700 levels of lot -> order -> lot, 1,400 nodes deep (past Python's 1,000 frames): iterative walks
    chain = [batch("LOT-0", consumed=("MO-1",))] + [
        batch(f"LOT-{n}", produced=f"MO-{n}", consumed=(f"MO-{n + 1}",)) for n in range(1, 700)]
    genealogy = Genealogy.from_documents(batches=chain)
    root = trace(genealogy, "LOT-0")
    assert sum(1 for _ in root.walk()) == 1 + 699 * 2 + 1  # LOT-0, (MO-n, LOT-n) for n < 700, MO-700
    lines = root.render_tree().splitlines()
    assert len(lines) == 1400 and lines[-1] == " " * 4 * 1398 + "└── production_order MO-700  (not in the data)"
    assert len(affected_by_batch(genealogy, "LOT-0")["finished_lots"]) == 699
    assert trace(genealogy, "LOT-699", "backward").children[0].id == "MO-699"


def test_references_to_documents_not_in_the_data_stay_in_the_trace():
    genealogy = plant()
    mo3 = trace(genealogy, "SUP-B:L1").children[0]
    assert (mo3.kind, mo3.id, mo3.label, mo3.detail["in_store"]) == ("production_order", "MO-3",
                                                                     "(not in the data)", False)
    ghost = trace(genealogy, "SUP-A:L9")  # only receipt R-2 names it
    assert shape(ghost) == ("batch", "SUP-A:L9", ("receipt", "R-2"))
    assert ghost.detail == {"in_store": False}


def test_duplicated_documents_give_the_same_graph():
    once = plant()
    twice = Genealogy.from_documents(batches=BATCHES + BATCHES, receipts=RECEIPTS * 2, inspections=INSPECTIONS * 2,
                                     production_orders=ORDERS * 2, shipment_notices=NOTICES * 2)
    assert twice.edges() == once.edges() and twice.nodes() == once.nodes()
    assert trace(twice, "SUP-A:L1").as_dict() == trace(once, "SUP-A:L1").as_dict()
    # a batch linked twice to the same order (a repeated MES report) is one edge
    doubled = Genealogy.from_documents(batches=[batch("D-1", consumed=("MO-1", "MO-1"))])
    assert doubled.edge_count == 1


def test_generators_are_read_once():
    genealogy = Genealogy.from_documents(batches=iter(BATCHES), receipts=iter(RECEIPTS),
                                         inspections=iter(INSPECTIONS), production_orders=iter(ORDERS),
                                         shipment_notices=iter(NOTICES))
    assert genealogy.edges() == plant().edges()


def test_edge_and_node_counts_are_the_worked_out_ones():
    genealogy = plant()
    # consumed_by 5 (L1->MO-1, L1->MO-2, L2->MO-2, SUP-B:L1->MO-3, FG-1->MO-4), produced 4 (FG-1..4),
    # received 3 (R-1 x2, R-2), inspected 2, announced 2 (ASN-1 -> L1, L2), shipped 2 (FG-4, FG-3 -> DN-1);
    # the cancelled ASN-X adds nothing
    assert genealogy.edge_count == 5 + 4 + 3 + 2 + 2 + 2
    kinds = [kind for kind, _ in genealogy.nodes()]
    assert {k: kinds.count(k) for k in set(kinds)} == {
        "batch": 5, "finished_lot": 4, "production_order": 4, "receipt": 2, "inspection": 2, "asn": 1, "shipment": 1}


# ----------------------------------------------------------------------------- batch names


def test_a_batch_is_found_by_hub_id_or_supplier_lot():
    genealogy = plant()
    assert genealogy.resolve_batch("SUP-A:L2") == "SUP-A:L2"
    assert genealogy.resolve_batch("L2") == "SUP-A:L2"  # only SUP-A has a lot L2
    assert genealogy.resolve_batch("SUP-C:B7781") == "BCGDD000101-1"  # supplier_id:batch_number of an MES lot
    assert genealogy.resolve_batch("B7781") == "BCGDD000101-1"
    assert genealogy.resolve_batch("  FG-1 ") == "FG-1"
    assert trace(genealogy, "L2").id == "SUP-A:L2"
    assert affected_by_batch(genealogy, "L2") == affected_by_batch(genealogy, "SUP-A:L2")


def test_a_lot_number_two_suppliers_share_is_ambiguous():
    with pytest.raises(BatchLookupError) as info:
        trace(plant(), "L1")
    assert info.value.code == "TRACE_AMBIGUOUS_BATCH"
    assert info.value.candidates == ("SUP-A:L1", "SUP-B:L1")
    assert "SUP-A:L1, SUP-B:L1" in info.value.message


@pytest.mark.parametrize("name, examples", [
    ("NOPE", "BCGDD000101-1, FG-1, FG-2"),  # nothing alike: the first ids
    ("FG-9", "FG-1, FG-2, FG-3"),  # close to FG-*
    ("SUP-A", "SUP-A:L1, SUP-A:L2, SUP-A:L9"),  # contained in them
])
def test_an_unknown_batch_is_a_clear_error_with_examples(name, examples):
    genealogy = plant()
    for call in (lambda: trace(genealogy, name), lambda: affected_by_batch(genealogy, name),
                 lambda: trace(genealogy, name, "backward")):
        with pytest.raises(BatchLookupError) as info:
            call()
        assert info.value.code == "TRACE_UNKNOWN_BATCH"
        assert info.value.message == f"unknown batch {name}; known examples: {examples}"


@pytest.mark.parametrize("name", ["", "   ", "MO-1", "R-1", "QC-1", "PLANT01/DN-1", "SUP-A:L1\n", "SUP-A:L1; DROP"])
def test_names_that_are_no_batch_are_refused(name):
    genealogy = plant()
    if name == "SUP-A:L1\n":  # surrounding whitespace is forgiven, nothing else
        assert trace(genealogy, name).id == "SUP-A:L1"
        return
    with pytest.raises(BatchLookupError) as info:
        trace(genealogy, name)
    assert info.value.code == ("TRACE_NO_BATCH" if not name.strip() else "TRACE_UNKNOWN_BATCH")


def test_an_empty_genealogy_says_there_is_no_batch():
    with pytest.raises(BatchLookupError, match="unknown batch X; known examples: none"):
        trace(Genealogy.from_documents(batches=[]), "X")


def test_a_wrong_direction_is_refused():
    with pytest.raises(ValueError, match="forward"):
        trace(plant(), "FG-1", "sideways")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- output and store


def test_as_dict_is_json_with_the_contract_shape():
    data = json.loads(json.dumps(trace(plant(), "SUP-A:L2").as_dict()))
    assert set(data) == {"kind", "id", "label", "detail", "children"}
    assert (data["kind"], data["id"], data["label"]) == ("batch", "SUP-A:L2", "RAW-1 50 KGM, released")
    assert data["detail"] == {"material_id": "RAW-1", "quantity": "50", "uom": "KGM", "status": "released",
                              "supplier_id": "SUP-A", "supplier_batch_number": "L2", "expiry_date": None,
                              "inspections": {"QC-2": "pass"}}
    assert [(c["kind"], c["id"]) for c in data["children"]] == [("receipt", "R-1"), ("inspection", "QC-2"),
                                                                ("production_order", "MO-2")]
    assert data["children"][0]["detail"]["lines"] == [
        {"line_no": 2, "quantity": "50", "uom": "KGM", "location": None, "batch_id": "SUP-A:L2"}]


def test_store_round_trip_gives_the_same_genealogy(sqlite_store):
    with sqlite_store.session() as session:
        documents.upsert_many(session, [*BATCHES, *RECEIPTS, *INSPECTIONS, *ORDERS, *NOTICES])
    with sqlite_store.session() as session:
        stored = Genealogy.from_store(session)
    assert sorted(stored.edges()) == sorted(plant().edges())
    assert trace(stored, "SUP-A:L1").as_dict() == trace(plant(), "SUP-A:L1").as_dict()
    assert affected_by_batch(stored, "L2") == {"production_orders": ["MO-2"], "finished_lots": ["FG-2", "FG-3"]}


def test_a_stored_document_that_no_longer_validates_is_a_data_error(sqlite_store):
    from sqlalchemy import update

    from canonical_model.store.tables import DocumentRow

    with sqlite_store.session() as session:
        documents.upsert_many(session, BATCHES[:2])
        session.execute(update(DocumentRow).where(DocumentRow.business_key == "SUP-A:L2")
                        .values(body={**BATCHES[1].content(), "quantity": "lots"}))
    with sqlite_store.session() as session, pytest.raises(FatalError) as info:
        Genealogy.from_store(session)
    assert (info.value.code, info.value.where) == ("STORE_BAD_DOCUMENT", "store:Batch")
    assert "quantity" in info.value.message


def test_documents_naming_a_lot_by_its_supplier_number_reach_the_hub_batch():
    genealogy = Genealogy.from_documents(
        batches=[BATCHES[1], BATCHES[-1]],  # SUP-A:L2, and BCGDD000101-1 (SUP-C lot B7781, named by the MES)
        receipts=[Receipt(receipt_id="R-9", supplier_id="SUP-A", received_at=dt.datetime(2026, 11, 22, 9), lines=[
            {"line_no": 1, "material_id": "RAW-1", "quantity": "50", "uom": "KGM", "batch_id": "L2"}])],
        inspections=[Inspection(inspection_id="QC-9", batch_id="L2", material_id="RAW-1", supplier_id="SUP-A",
                                inspected_quantity="5", uom="KGM", result="conditional",
                                inspected_at=dt.datetime(2026, 11, 22, 10))],
        shipment_notices=[ShipmentNotice(asn_number="ASN-C", supplier_id="SUP-C", lines=[
            {"line_no": 1, "material_id": "RAW-3", "quantity": "1", "uom": "KGM", "batch_number": "B7781"}])])
    assert shape(trace(genealogy, "SUP-A:L2")) == ("batch", "SUP-A:L2", ("receipt", "R-9"), ("inspection", "QC-9"),
                                                   ("production_order", "MO-2"))
    assert trace(genealogy, "SUP-A:L2").children[0].detail["lines"][0]["batch_id"] == "L2"
    assert shape(trace(genealogy, "B7781", "backward")) == ("batch", "BCGDD000101-1", ("asn", "SUP-C/ASN-C"))
    assert "SUP-C:B7781" not in genealogy.batch_ids() and "L2" not in genealogy.batch_ids()
