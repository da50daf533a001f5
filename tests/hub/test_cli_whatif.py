"""`hub whatif` (the typer app as hub/cli.py mounts it): affected orders printed, nothing stored."""
from __future__ import annotations

import datetime as dt
import json

import pytest
import typer
from sqlalchemy import func, select
from typer.testing import CliRunner

from canonical_model.documents import (Batch, BillOfMaterials, Material, Party, ProductionOrder, PurchaseOrder,
                                       ShipmentNotice, StockLevel)
from canonical_model.store import documents, open_store
from canonical_model.store.tables import AuditRow, DocumentRow
from hub.cli_whatif import app, whatif

runner = CliRunner()
PLAN = ["--plan-date", "2026-12-01"]


@pytest.fixture()
def hub_store(tmp_path, monkeypatch):
    """HUB_DATABASE_URL / HUB_VAR_DIR pointing at a fresh store, as the CLI sees it."""
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    store = open_store()
    yield store
    store.dispose()


def at(d: int) -> dt.datetime:
    return dt.datetime(2026, 12, d, 8)


# Material ids that the shipped mappings/sourcing tables do not list: lead time 0, no safety stock.
PLANT = [
    Party(party_id="SUP-T", role="supplier", name="Test supplier"),
    Party(party_id="SUP-IDLE", role="supplier", name="Supplies nothing"),
    *(Material(material_id=m, name=m, uom="H87") for m in ("T-FG", "T-RAW", "T-SEAL")),
    BillOfMaterials(bom_id="BOM-T-FG", material_id="T-FG", components=[
        {"line_no": 1, "material_id": "T-RAW", "quantity_per": "2", "uom": "H87"},
        {"line_no": 2, "material_id": "T-SEAL", "quantity_per": "1", "uom": "H87"}]),
    ProductionOrder(order_id="MO-1", material_id="T-FG", quantity=10, uom="H87", start=at(5), status="released"),
    ProductionOrder(order_id="MO-2", material_id="T-FG", quantity=10, uom="H87", start=at(8), status="planned"),
    StockLevel(material_id="T-RAW", warehouse="CK01", quantity="20", uom="H87"),
    StockLevel(material_id="T-SEAL", warehouse="CK01", batch_number="LOT-S", quantity="20", uom="H87"),
    Batch(batch_id="SUP-T:LOT-S", material_id="T-SEAL", supplier_id="SUP-T", supplier_batch_number="LOT-S",
          quantity="20", uom="H87", status="released"),
    PurchaseOrder(po_number="PO-1", supplier_id="SUP-T", order_date=dt.date(2026, 11, 20), lines=[
        {"line_no": 1, "material_id": "T-RAW", "quantity": "20", "uom": "H87", "delivery_date": dt.date(2026, 12, 7)}]),
    ShipmentNotice(asn_number="ASN-9", supplier_id="SUP-T", expected_arrival=dt.date(2026, 12, 2), lines=[
        {"line_no": 1, "material_id": "T-SEAL", "quantity": "5", "uom": "H87", "batch_number": "LOT-A"}]),
]


def put(store, *docs) -> None:
    with store.session() as session:
        documents.upsert_many(session, list(docs))


def snapshot(store) -> tuple:
    with store.session() as session:
        return (session.scalar(select(func.count()).select_from(DocumentRow)),
                session.scalar(select(func.max(DocumentRow.id))),
                session.scalar(select(func.count()).select_from(AuditRow)),
                tuple(session.scalars(select(DocumentRow.content_hash).order_by(DocumentRow.id))))


def test_late_supplier_prints_the_affected_orders_and_stores_nothing(hub_store):
    put(hub_store, *PLANT)
    before = snapshot(hub_store)
    result = runner.invoke(app, ["--late", "SUP-T", "--days", "3", *PLAN])
    assert result.exit_code == 0, result.output
    # T-RAW: MO-1 needs 20 on 12-05 (stock 20); MO-2 20 more on 12-08, which PO-1 brought on 12-07
    # and now brings on 12-10: MO-2 starts 2 days late. T-SEAL: ASN-9 moves to 12-05, but the 20
    # in stock cover MO-1 (10) and MO-2 (10) anyway.
    out = result.stdout
    assert "what-if: SUP-T delivers 3 days late (plan date 2026-12-01)" in out
    [row] = [line for line in out.splitlines() if line.startswith("MO-")]
    assert row.split() == ["MO-2", "T-FG", "2026-12-08", "2026-12-08", "2026-12-10", "+2", "d", "T-RAW"]
    assert "1 production order affected" in out and "stored data unchanged" in out
    assert snapshot(hub_store) == before
    # a second run is the same run: nothing accumulated anywhere
    assert runner.invoke(app, ["--late", "SUP-T", "--days", "3", *PLAN]).stdout == out


@pytest.mark.parametrize("register", ["command", "add_typer"])
def test_mounted_under_hub_as_the_lead_registers_it(hub_store, register):
    put(hub_store, *PLANT)
    hub = typer.Typer()
    hub.command("version")(lambda: None)
    if register == "command":
        hub.command(name="whatif")(whatif)
    else:
        hub.add_typer(app, name="whatif")
    result = runner.invoke(hub, ["whatif", "--late", "SUP-T", "--days", "3", "--json", *PLAN])
    assert result.exit_code == 0, result.output
    assert [json.loads(line) for line in result.stdout.splitlines()] == [{
        "order_id": "MO-2", "material_id": "T-FG", "planned_start": "2026-12-08",
        "earliest_start_before": "2026-12-08", "earliest_start_after": "2026-12-10", "delay_days": 2,
        "materials": ["T-RAW"]}]


def test_demand_up_and_rejected_batch(hub_store):
    put(hub_store, *PLANT)
    up = runner.invoke(app, ["--demand", "T-FG", "--pct", "20", *PLAN])
    assert up.exit_code == 0, up.output
    # 12 + 12 T-FG: T-RAW 24 on 12-05 > stock 20 -> PO-1 on 12-07 (+2); MO-2 cumulative 48 > 40 -> none.
    # T-SEAL 12 + 12 = 24 <= 20 stock + 5 on ASN-9 (12-02): covered.
    rows = {line.split()[0]: line.split() for line in up.stdout.splitlines() if line.startswith("MO-")}
    assert rows["MO-1"][2:7] == ["2026-12-05", "2026-12-05", "2026-12-07", "+2", "d"]
    assert rows["MO-2"][2:7] == ["2026-12-08", "2026-12-08", "no", "firm", "supply"]
    assert "demand for T-FG +20 %" in up.stdout
    rejected = runner.invoke(app, ["--reject-batch", "LOT-S", *PLAN])
    assert rejected.exit_code == 0, rejected.output
    # without LOT-S only ASN-9's 5 T-SEAL: MO-1 needs 10 -> none; MO-2 after it -> none
    assert [line.split()[0] for line in rejected.stdout.splitlines() if line.startswith("MO-")] == ["MO-1", "MO-2"]
    idle = runner.invoke(app, ["--late", "SUP-IDLE", "--days", "30", *PLAN])
    assert idle.exit_code == 0 and "no production order affected" in idle.stdout


@pytest.mark.parametrize("args, fragment", [
    ([], "name a scenario"),
    (["--late", "SUP-T"], "--late and --days go together"),
    (["--days", "3"], "--late and --days go together"),
    (["--demand", "T-FG"], "--demand and --pct go together"),
    (["--late", "SUP-T", "--days", "0"], "at least 1 day"),
    (["--late", "NOBODY", "--days", "3"], "supplier 'NOBODY' is not in the store"),
    (["--demand", "T-FG", "--pct", "abc"], "is not a number"),
    (["--demand", "T-FG", "--pct", "NaN"], "is not a number"),
    (["--demand", "T-FG", "--pct", "-100"], "100 % or more"),
    (["--demand", "NOPE", "--pct", "5"], "material 'NOPE' is not in the store"),
    (["--reject-batch", "LOT-NONE"], "batch 'LOT-NONE' is not in the store"),
    (["--late", "SUP-T", "--days", "3", "--plan-date", "2026-13-01"], "is not YYYY-MM-DD"),
    (["--reject-batch", "'; DROP TABLE documents; --"], "is not in the store"),
])
def test_usage_errors_exit_2(hub_store, args, fragment):
    put(hub_store, *PLANT)
    before = snapshot(hub_store)
    result = runner.invoke(app, [*args, *(PLAN if "--plan-date" not in args else [])])
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr
    assert snapshot(hub_store) == before


def test_broken_planning_data_exits_1_with_where_and_code(hub_store):
    put(hub_store, *PLANT, BillOfMaterials(bom_id="BOM-T-RAW", material_id="T-RAW", components=[
        {"line_no": 1, "material_id": "T-FG", "quantity_per": "1", "uom": "H87"}]))
    result = runner.invoke(app, ["--late", "SUP-T", "--days", "3", *PLAN])
    assert result.exit_code == 1
    assert "BillOfMaterials/BOM-T-FG: BOM_CYCLE BOM cycle T-FG -> T-RAW -> T-FG" in result.stderr


def test_an_empty_store_is_a_usage_error_not_a_crash(hub_store):
    result = runner.invoke(app, ["--late", "SUP-T", "--days", "3", *PLAN])
    assert result.exit_code == 2 and "not in the store" in result.stderr


def test_an_unreachable_store_is_one_line_without_the_url(tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HUB_DATABASE_URL", "postgresql+psycopg://hub:s3cret@127.0.0.1:1/none?connect_timeout=2")
    result = runner.invoke(app, ["--late", "SUP-T", "--days", "3", *PLAN])
    assert result.exit_code == 1
    assert result.stderr.startswith("store: STORE_UNAVAILABLE") and "s3cret" not in result.output
