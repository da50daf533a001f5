"""`hub trace` (the command function as hub/cli.py registers it, on a small typer app of its own).

The store holds: supplier lot SUP-A:L1 (ASN-1, receipt R-1, QC-1 failed) consumed by MO-1, which
produced FG-1, shipped on PLANT01/DN-1; SUP-B:L7 consumed by MO-1 too.
"""
from __future__ import annotations

import datetime as dt
import json

import pytest
import typer
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from canonical_model.documents import Batch, Inspection, ProductionOrder, Receipt, ShipmentNotice
from canonical_model.store import documents, open_store
from canonical_model.store.tables import AuditRow, DocumentRow
from hub.cli_trace import trace

runner = CliRunner()


def make_app() -> typer.Typer:
    app = typer.Typer()
    app.command("trace")(trace)

    @app.command("noop")
    def noop() -> None:  # a second command, so "trace" is a subcommand as in hub/cli.py
        """Nothing."""

    return app


APP = make_app()

DOCS = [
    Batch(batch_id="SUP-A:L1", material_id="RAW-1", supplier_id="SUP-A", supplier_batch_number="L1", quantity="100",
          uom="KGM", status="rejected", links=[{"relation": "consumed_by", "ref": "MO-1"}]),
    Batch(batch_id="SUP-B:L7", material_id="RAW-2", supplier_id="SUP-B", supplier_batch_number="L7", quantity="3",
          uom="H87", status="consumed", links=[{"relation": "consumed_by", "ref": "MO-1"}]),
    Batch(batch_id="FG-1", material_id="FG-X", quantity="10", uom="H87", status="released",
          links=[{"relation": "produced", "ref": "MO-1"}]),
    ProductionOrder(order_id="MO-1", material_id="FG-X", quantity="10", uom="H87", status="completed"),
    Receipt(receipt_id="R-1", asn_number="ASN-1", supplier_id="SUP-A", received_at=dt.datetime(2026, 11, 20, 9),
            lines=[{"line_no": 1, "material_id": "RAW-1", "quantity": "100", "uom": "KGM", "batch_id": "SUP-A:L1"}]),
    Inspection(inspection_id="QC-1", batch_id="SUP-A:L1", material_id="RAW-1", receipt_id="R-1",
               inspected_quantity="20", rejected_quantity="5", uom="KGM", result="fail",
               inspected_at=dt.datetime(2026, 11, 20, 14)),
    ShipmentNotice(asn_number="ASN-1", supplier_id="SUP-A", expected_arrival=dt.date(2026, 11, 20), lines=[
        {"line_no": 1, "material_id": "RAW-1", "quantity": "100", "uom": "KGM", "batch_number": "L1"}]),
    ShipmentNotice(asn_number="DN-1", supplier_id="PLANT01", ship_to_id="CUST-1", ship_date=dt.date(2026, 12, 1),
                   lines=[{"line_no": 1, "material_id": "FG-X", "quantity": "10", "uom": "H87",
                           "batch_number": "FG-1"}]),
]

FORWARD_TREE = [
    "batch SUP-A:L1  RAW-1 100 KGM, rejected",
    "├── receipt R-1  received 2026-11-20T09:00:00, 100 KGM",
    "├── inspection QC-1  FAIL 2026-11-20T14:00:00, 5 of 20 KGM rejected",
    "└── production_order MO-1  FG-X 10 H87, completed",
    "    └── finished_lot FG-1  FG-X 10 H87, released",
    "        └── shipment PLANT01/DN-1  DN-1 from PLANT01 to CUST-1, 2026-12-01",
    "failed inspection: QC-1",
    "affected: 1 production order (MO-1), 1 finished lot (FG-1)",
]


@pytest.fixture()
def hub_store(tmp_path, monkeypatch):
    """HUB_DATABASE_URL / HUB_VAR_DIR pointing at a fresh store, as the CLI sees it."""
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    store = open_store()
    yield store
    store.dispose()


@pytest.fixture()
def filled(hub_store):
    with hub_store.session() as session:
        documents.upsert_many(session, DOCS)
    return hub_store


def snapshot(store) -> tuple:
    with store.session() as session:
        return (session.scalar(select(func.count()).select_from(DocumentRow)),
                session.scalar(select(func.count()).select_from(AuditRow)),
                tuple(session.scalars(select(DocumentRow.content_hash).order_by(DocumentRow.id))))


def test_forward_tree_with_failed_inspection_and_affected_lots(filled):
    before = snapshot(filled)
    result = runner.invoke(APP, ["trace", "SUP-A:L1"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == FORWARD_TREE
    assert snapshot(filled) == before  # only read


def test_forward_is_the_default_and_a_supplier_lot_names_the_batch(filled):
    by_lot = runner.invoke(APP, ["trace", "L1", "--forward"])
    assert by_lot.exit_code == 0, by_lot.output
    assert by_lot.stdout.splitlines() == FORWARD_TREE
    assert runner.invoke(APP, ["trace", "SUP-A:L1"]).stdout == by_lot.stdout


def test_backward_tree_of_a_finished_lot(filled):
    result = runner.invoke(APP, ["trace", "FG-1", "--backward"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "finished_lot FG-1  FG-X 10 H87, released",
        "└── production_order MO-1  FG-X 10 H87, completed",
        "    ├── batch SUP-A:L1  RAW-1 100 KGM, rejected",
        "    │   └── asn SUP-A/ASN-1  ASN-1 from SUP-A, 2026-11-20",
        "    └── batch SUP-B:L7  RAW-2 3 H87, consumed",
    ]  # backward: no affected line, FG-1 has no inspection


def test_json_output_shape(filled):
    result = runner.invoke(APP, ["trace", "L1", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"batch", "query", "direction", "trace", "failed_inspections", "affected"}
    assert (data["batch"], data["query"], data["direction"]) == ("SUP-A:L1", "L1", "forward")
    assert data["failed_inspections"] == ["QC-1"]
    assert data["affected"] == {"production_orders": ["MO-1"], "finished_lots": ["FG-1"]}
    tree = data["trace"]
    assert set(tree) == {"kind", "id", "label", "detail", "children"}
    assert [(c["kind"], c["id"], c["detail"].get("relation")) for c in tree["children"]] == [
        ("receipt", "R-1", "received"), ("inspection", "QC-1", "inspected"),
        ("production_order", "MO-1", "consumed_by")]
    fg = tree["children"][2]["children"][0]
    assert (fg["kind"], fg["id"], fg["detail"]["relation"]) == ("finished_lot", "FG-1", "produced")
    assert fg["children"][0]["detail"]["ship_to_id"] == "CUST-1"

    back = json.loads(runner.invoke(APP, ["trace", "FG-1", "--backward", "--format", "JSON"]).stdout)
    assert (back["direction"], back["affected"], back["failed_inspections"]) == ("backward", None, [])


@pytest.mark.parametrize("args, message", [
    # alike ids first, else the first ids
    (["trace", "SUP-Z:L404"], "trace: unknown batch SUP-Z:L404; known examples: SUP-A:L1, SUP-B:L7\n"),
    (["trace", "MO-1"], "trace: unknown batch MO-1; known examples: FG-1, SUP-A:L1, SUP-B:L7\n"),  # no batch
    (["trace", " "], "trace: name a batch (hub batch id or supplier lot)\n"),
])
def test_unknown_batch_exits_2_with_examples(filled, args, message):
    result = runner.invoke(APP, args)
    assert result.exit_code == 2
    assert result.stderr == message
    assert result.stdout == ""


def test_ambiguous_lot_exits_2_naming_the_batches(filled):
    with filled.session() as session:
        documents.upsert_many(session, [Batch(batch_id="SUP-C:L1", material_id="RAW-1", supplier_id="SUP-C",
                                              supplier_batch_number="L1", quantity="1", uom="KGM")])
    result = runner.invoke(APP, ["trace", "L1"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "trace: batch L1 is ambiguous: it is the lot number of SUP-A:L1, SUP-C:L1; " \
                                    "name one of them"


@pytest.mark.parametrize("args", [["trace"], ["trace", "SUP-A:L1", "--format", "xml"],
                                  ["trace", "SUP-A:L1", "--sideways"], ["trace", "A", "B"]])
def test_usage_errors_exit_2(filled, args):
    assert runner.invoke(APP, args).exit_code == 2


def test_an_empty_store_is_an_unknown_batch(hub_store):
    result = runner.invoke(APP, ["trace", "X"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "trace: unknown batch X; known examples: none (no batch in the data)"


def test_a_broken_stored_document_exits_1(filled):
    with filled.session() as session:
        session.execute(update(DocumentRow).where(DocumentRow.business_key == "MO-1")
                        .values(body={**DOCS[3].content(), "quantity": "-5"}))
    result = runner.invoke(APP, ["trace", "SUP-A:L1"])
    assert result.exit_code == 1
    assert result.stderr.startswith("store:ProductionOrder: STORE_BAD_DOCUMENT a stored ProductionOrder does not "
                                    "validate (quantity: ")


def test_an_unreadable_store_exits_1_without_quoting_the_url(tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path / "var"))
    # a directory where the database file should be: SQLite cannot open it
    (tmp_path / "db").mkdir()
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'db'}")
    result = runner.invoke(APP, ["trace", "X"])
    assert result.exit_code == 1
    assert result.stderr.startswith("store: STORE_UNAVAILABLE OperationalError; check HUB_DATABASE_URL")
    assert str(tmp_path) not in result.stderr
