"""`hub b2mml export|validate|read` (the typer sub-app, invoked directly as hub/cli.py will mount it)."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from lxml import etree
from typer.testing import CliRunner

from adapters.b2mml.schemas import NAMESPACES, SCHEMA_DIR, V0600, V0701
from canonical_model.documents import Batch, Material, ProductionOrder
from canonical_model.store import documents, open_store
from hub.cli_b2mml import app

runner = CliRunner()


def official(version: str, root_file: str) -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.parse(str(SCHEMA_DIR / version / root_file), parser))


V0701_SCHEMA = "B2MML-Material.xsd"


@pytest.fixture()
def hub_store(tmp_path, monkeypatch):
    """HUB_DATABASE_URL / HUB_VAR_DIR pointing at a fresh store, as the CLI sees it."""
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    store = open_store()
    yield store
    store.dispose()


def put(store, *docs) -> None:
    with store.session() as session:
        documents.upsert_many(session, list(docs))


BATCHES = [
    Batch(batch_id="BCGDD000101-1", material_id="1.02.0033", supplier_id="SUP-001", quantity="500", uom="H87",
          status="consumed", links=[{"relation": "consumed_by", "ref": "MO-2026-0002"}]),
    Batch(batch_id="BCGDD000102-2", material_id="1.02.0033", supplier_id="SUP-002", quantity="160", uom="H87",
          status="quarantined"),
]
ORDERS = [ProductionOrder(order_id="MO-2026-0002", material_id="3.01.0007", quantity="500", uom="H87",
                          start=dt.datetime(2026, 12, 4, 8), due=dt.datetime(2026, 12, 6, 8), status="started")]


def test_export_material_lot_prints_a_document_valid_against_v0701(hub_store):
    put(hub_store, *BATCHES)
    result = runner.invoke(app, ["export", "--type", "MaterialLot"])
    assert result.exit_code == 0, result.stderr
    root = etree.fromstring(result.stdout.encode())
    assert official(V0701, V0701_SCHEMA).validate(root), official(V0701, V0701_SCHEMA).error_log
    ns = {"b": NAMESPACES[V0701]}
    assert root.xpath("b:MaterialLot/b:ID/text()", namespaces=ns) == ["BCGDD000101-1", "BCGDD000102-2"]
    assert root.xpath("b:MaterialLot[b:ID='BCGDD000101-1']/b:Disposition/text()", namespaces=ns) == ["Closed"]
    assert result.stderr == ""


@pytest.mark.parametrize("doc_type, version, schema_file, root_name", [
    ("MaterialDefinition", V0701, V0701_SCHEMA, "MaterialInformation"),
    ("OperationsSchedule", V0701, V0701_SCHEMA, "OperationsSchedule"),
    ("OperationsPerformance", V0701, V0701_SCHEMA, "OperationsPerformance"),
    ("MaterialLot", V0600, "B2MML-V0600-Material.xsd", "MaterialInformation"),
    ("OperationsSchedule", V0600, "B2MML-V0600-ProductionSchedule.xsd", "ProductionSchedule"),
    ("ProductionSchedule", V0600, "B2MML-V0600-ProductionSchedule.xsd", "ProductionSchedule"),
    ("ProductionPerformance", V0600, "B2MML-V0600-ProductionPerformance.xsd", "ProductionPerformance"),
])
def test_every_type_and_version_exports_valid_documents(hub_store, doc_type, version, schema_file, root_name):
    put(hub_store, *BATCHES, *ORDERS, Material(material_id="1.02.0033", name="轴承 6204", uom="H87"))
    result = runner.invoke(app, ["export", "--type", doc_type, "--version", version, "--id", "EXP-7"])
    assert result.exit_code == 0, result.stderr
    root = etree.fromstring(result.stdout.encode())
    assert etree.QName(root).localname == root_name and etree.QName(root).namespace == NAMESPACES[version]
    assert official(version, schema_file).validate(root)
    assert root.findtext(f"{{{NAMESPACES[version]}}}ID") == "EXP-7"


def test_empty_store_gives_an_empty_but_valid_material_information(hub_store):
    result = runner.invoke(app, ["export", "--type", "MaterialLot"])
    assert result.exit_code == 0
    root = etree.fromstring(result.stdout.encode())
    assert official(V0701, V0701_SCHEMA).validate(root) and len(root.findall(f"{{{NAMESPACES[V0701]}}}MaterialLot")) == 0
    assert "holds no Batch" in result.stderr


def test_empty_store_cannot_give_a_valid_v0701_schedule_so_nothing_is_written(hub_store, tmp_path):
    out = tmp_path / "schedule.xml"
    result = runner.invoke(app, ["export", "--type", "OperationsSchedule", "--out", str(out)])
    assert result.exit_code == 1 and result.stdout == "" and not out.exists()
    assert "B2MML_NOTHING_TO_EXPORT" in result.stderr and "OperationsRequest" in result.stderr


def test_out_writes_the_file_and_a_rerun_replaces_it(hub_store, tmp_path):
    put(hub_store, BATCHES[0])
    out = tmp_path / "exports" / "lots.xml"
    first = runner.invoke(app, ["export", "--type", "MaterialLot", "--out", str(out), "--id", "A"])
    assert first.exit_code == 0 and first.stdout == "" and out.is_file()
    put(hub_store, BATCHES[1])
    second = runner.invoke(app, ["export", "--type", "MaterialLot", "--out", str(out), "--id", "A"])
    assert second.exit_code == 0
    assert out.read_bytes().count(b"<MaterialLot>") == 2
    assert [p.name for p in out.parent.iterdir()] == ["lots.xml"]  # no temp file left behind


@pytest.mark.parametrize("args, message", [
    (["export", "--type", "Equipment"], "is not one of"),
    (["export", "--type", "MaterialLot", "--version", "V0800"], "--version"),
    (["export", "--type", "ProductionSchedule"], "exists only in B2MML V0600"),
])
def test_usage_errors_exit_2(hub_store, args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and message in result.stderr


# ----------------------------------------------------------------------------- validate / read


def exported(hub_store, tmp_path) -> Path:
    put(hub_store, *BATCHES)
    out = tmp_path / "lots.xml"
    assert runner.invoke(app, ["export", "--type", "MaterialLot", "--out", str(out)]).exit_code == 0
    return out


def test_validate_accepts_an_export(hub_store, tmp_path):
    path = exported(hub_store, tmp_path)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0 and result.stdout.strip() == f"{path}: valid B2MML V0701 MaterialInformation"


def test_validate_names_each_bad_element_with_its_line(hub_store, tmp_path):
    path = exported(hub_store, tmp_path)
    bad = tmp_path / "bad.xml"
    bad.write_bytes(path.read_bytes().replace(b"<Disposition>Restricted", b"<Disposition>Blocked")
                    .replace(b"<QuantityString>500</QuantityString>", b""))
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 2
    assert any("MaterialInformation/MaterialLot[2]/Disposition" in line and "'Blocked'" in line for line in lines)
    assert any("MaterialInformation/MaterialLot[1]/Quantity" in line for line in lines)
    assert all(line.startswith(f"{bad}:") and "B2MML_SCHEMA_INVALID" in line for line in lines)


def test_validate_refuses_hostile_and_mislabelled_files(hub_store, tmp_path):
    evil = tmp_path / "evil.xml"
    evil.write_bytes(b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                     b'<MaterialLot xmlns="http://www.mesa.org/xml/B2MML"><ID>&e;</ID></MaterialLot>')
    result = runner.invoke(app, ["validate", str(evil)])
    assert result.exit_code == 1 and "B2MML_DTD_FORBIDDEN" in result.stderr and "root:" not in result.stderr
    path = exported(hub_store, tmp_path)
    result = runner.invoke(app, ["validate", str(path), "--version", "V0600"])
    assert result.exit_code == 1 and "B2MML_VERSION_MISMATCH" in result.stderr
    result = runner.invoke(app, ["validate", str(tmp_path / "missing.xml")])
    assert result.exit_code == 2 and "UNREADABLE_FILE" in result.stderr


def test_read_prints_canonical_ndjson_and_reports_duplicates(hub_store, tmp_path):
    path = exported(hub_store, tmp_path)
    result = runner.invoke(app, ["read", str(path)])
    assert result.exit_code == 0, result.stderr
    docs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Batch.model_validate(d).content() for d in docs] == [b.content() for b in BATCHES]
    data = path.read_bytes()
    lot_start = data.index(b"<MaterialLot>")
    lot_end = data.index(b"</MaterialLot>") + len(b"</MaterialLot>")
    doubled = tmp_path / "doubled.xml"
    doubled.write_bytes(data[:lot_end] + data[lot_start:lot_end] + data[lot_end:])
    result = runner.invoke(app, ["read", str(doubled)])
    assert result.exit_code == 1 and len(result.stdout.splitlines()) == 2
    assert "B2MML_DUPLICATE_ID" in result.stderr and "BCGDD000101-1" in result.stderr
