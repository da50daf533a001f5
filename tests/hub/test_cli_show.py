"""`hub show DOC_KEY`: a document's lineage, read from a store the real flows filled.

Supplier files go through the real SFTP server (tests/conftest.py ``sftp``), ``collect`` and
``process_inbox``; a pushed ASN through the events flow; ERP records through ``sync_entity``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from canonical_model.documents import Material, ProductionOrder, ShipmentNotice
from canonical_model.store import documents, events
from canonical_model.store.tables import DocumentRow, InboxRow, QuarantineRow
from hub import cli
from hub.cli_show import show as show_command
from hub.flows.erp_sync import sync_entity
from hub.flows.events import process_event
from hub.flows.warehouse import plan_expected_receipts
from tests.hub.flows.test_erp_sync import MAPPING, ListErp, material
from tests.hub.flows.test_supplier_inbound import PARTNER, desadv, drop, run, seed_po

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]
ASN_KEY = f"{PARTNER}/ASN-1"
AIRFLOW_RUN = {"AIRFLOW_CTX_DAG_ID": "supplier_inbound", "AIRFLOW_CTX_DAG_RUN_ID": "manual__2026-11-26T08:00:00+00:00",
               "AIRFLOW_CTX_TASK_ID": "process_supplier_file"}
AIRFLOW_UI_SETTINGS = ("AIRFLOW__API__BASE_URL", "HUB_AIRFLOW_API_URL", "AIRFLOW__API__PORT", "AIRFLOW__API__HOST")


@pytest.fixture(autouse=True)
def cli_env(tmp_path, monkeypatch):
    """The CLI opens the store the flows write (``sqlite_store``: tmp_path/hub.db, tmp_path/archive);
    no Airflow task and no api-server unless a test says so."""
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    for name in (*AIRFLOW_RUN, *AIRFLOW_UI_SETTINGS):
        monkeypatch.delenv(name, raising=False)


def make_app() -> typer.Typer:
    app = typer.Typer()
    app.command("show")(show_command)

    @app.command("noop")
    def noop() -> None:  # a second command, so "show" is a subcommand as in hub/cli.py
        pass

    return app


APP = make_app()


def show(*args: str):
    return runner.invoke(APP, ["show", *args], prog_name="hub")


def show_json(key: str) -> dict:
    result = show(key, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def refused(result, *fragments: str) -> str:
    """Exit 2 with one clean ``show:`` line on stderr: no traceback, nothing on stdout. (The line is
    the last one: a store opened from the hub CLI may log its migration check above it.)"""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    line = result.stderr.splitlines()[-1]
    assert result.stdout == "" and line.startswith("show: ")
    for fragment in fragments:
        assert fragment in line
    return line


@pytest.fixture()
def ingested(sqlite_store, sftp, monkeypatch):
    """ASN-1 from DESADV_1.edi, collected and processed inside an Airflow task; the file's bytes."""
    for name, value in AIRFLOW_RUN.items():
        monkeypatch.setenv(name, value)
    seed_po(sqlite_store)
    data = desadv(control_ref="9001")
    drop(sftp, "DESADV_1.edi", data)
    assert run(sqlite_store) == ({"new": 1, "duplicate": 0}, {"files": 1, "documents": 1, "quarantined": 0,
                                                             "alerts": 1})
    for name in AIRFLOW_RUN:
        monkeypatch.delenv(name)
    return data


def test_an_ingested_asn_shows_its_file_ledger_interchange_and_airflow_run(ingested, sqlite_store, monkeypatch):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://127.0.0.1:8680/")
    sha256 = hashlib.sha256(ingested).hexdigest()
    with sqlite_store.session() as s:
        inbox_id = s.scalars(select(InboxRow.id).where(InboxRow.sha256 == sha256)).one()
    url = "http://127.0.0.1:8680/dags/supplier_inbound/runs/manual__2026-11-26T08:00:00+00:00"

    chain = show_json(ASN_KEY)
    assert chain["document"] | {"source": None} == {"type": "ShipmentNotice", "key": ASN_KEY, "version": 1,
                                                     "status": "active", "source": None}
    assert chain["document"]["source"]["file"] == "DESADV_1.edi"
    (version,) = chain["versions"]
    assert version["evidence"] == {"raw_sha256": sha256, "inbox_id": inbox_id, "event_id": None}
    assert version["run"] == {"producer": "airflow", "dag_id": "supplier_inbound",
                              "run_id": "manual__2026-11-26T08:00:00+00:00", "task_id": "process_supplier_file",
                              "url": url}
    (entry,) = chain["archive"]
    assert (entry["sha256"], entry["size"], entry["inline"], entry["partner"], entry["control_ref"]) == (
        sha256, len(ingested), False, PARTNER, "9001")
    assert Path(entry["path"]).read_bytes() == ingested  # files are streamed into the archive folder
    assert entry["received_at"] is not None
    (inbox,) = chain["inbox"]
    assert (inbox["id"], inbox["channel"], inbox["status"], inbox["remote_path"]) == (
        inbox_id, "sftp", "processed", "out/DESADV_1.edi")
    assert [(i["control_ref"], i["standard"], i["inbox_id"]) for i in chain["interchanges"]] == [
        ("9001", "edifact", inbox_id)]
    assert chain["runs"] == [{"dag_id": "supplier_inbound", "run_id": "manual__2026-11-26T08:00:00+00:00",
                              "task_id": "process_supplier_file", "url": url, "versions": [1]}]
    assert [(a["action"], a["subject_key"]) for a in chain["audit"]] == [("created", ASN_KEY)]
    assert chain["quarantine"] == [] and chain["outbox"] == [] and chain["events"] == []

    text = show(ASN_KEY)
    assert text.exit_code == 0, text.output
    assert text.stdout.startswith(f"ShipmentNotice {ASN_KEY}  version 1 of 1  status active\n")
    for fragment in (sha256, url, "manual__2026-11-26T08:00:00+00:00", "process_supplier_file",
                     f"inbox {inbox_id}, sha256 {sha256[:12]}", "out/DESADV_1.edi", "quarantine: none"):
        assert fragment in text.stdout


def test_the_type_prefix_and_the_last_key_part_name_the_same_document(ingested):
    expected = {k: v for k, v in show_json(ASN_KEY).items() if k != "query"}
    for query in (f"ShipmentNotice:{ASN_KEY}", f"shipmentnotice: {ASN_KEY}", "ASN-1", f"  {ASN_KEY}  "):
        got = show_json(query)
        assert got.pop("query") == query
        assert got == expected


def test_a_duplicate_drop_and_a_resend_under_a_new_interchange_number_show_one_version(ingested, sqlite_store, sftp):
    drop(sftp, "DESADV_1_copy.edi", ingested)
    resent = desadv(control_ref="9002")
    drop(sftp, "DESADV_1_resent.edi", resent)
    collected, processed = run(sqlite_store)
    assert collected == {"new": 1, "duplicate": 1} and processed["documents"] == 1

    chain = show_json(ASN_KEY)
    assert [v["version"] for v in chain["versions"]] == [1]
    assert chain["versions"][0]["evidence"]["raw_sha256"] == hashlib.sha256(ingested).hexdigest()
    (duplicate,) = [a for a in chain["audit"] if a["action"] == "duplicate_payload"]
    assert duplicate["details"]["name"] == "DESADV_1_copy.edi"
    with sqlite_store.session() as s:
        assert len(s.scalars(select(DocumentRow).where(DocumentRow.business_key == ASN_KEY)).all()) == 1


def test_a_quarantine_replay_records_the_hub_command_and_the_row_it_replayed(sqlite_store, sftp):
    # the ASN arrives before its PO: quarantined; the PO comes; a human replays it
    drop(sftp, "early.edi", desadv(control_ref="9100"))
    run(sqlite_store)
    with sqlite_store.session() as s:
        # one row per line: both ASN lines name a PO the hub does not know yet
        row_ids = s.scalars(select(QuarantineRow.id).where(QuarantineRow.business_key == ASN_KEY)).all()
    assert len(row_ids) == 2
    seed_po(sqlite_store)
    replayed = runner.invoke(cli.app, ["quarantine", "replay", str(row_ids[0])], prog_name="hub")
    assert replayed.exit_code == 0, replayed.output

    chain = show_json(ASN_KEY)
    (version,) = chain["versions"]
    assert version["run"] == {"producer": "cli:hub quarantine replay", "dag_id": None, "run_id": None,
                              "task_id": None, "url": None}
    assert version["evidence"]["inbox_id"] == chain["inbox"][0]["id"]
    # the replay re-decides every failure of the payload: both rows are replayed
    assert [(q["id"], q["reason_code"], q["status"], q["mentions"]) for q in chain["quarantine"]] == [
        (row_id, "PO_NOT_FOUND", "replayed", "document") for row_id in row_ids]
    assert chain["runs"] == []
    assert "airflow runs: none" in show(ASN_KEY).stdout


def test_the_outbox_rows_that_push_the_asn_are_listed(ingested, sqlite_store):
    assert plan_expected_receipts(sqlite_store)["planned"] == 1
    (row,) = show_json(ASN_KEY)["outbox"]
    assert (row["target"], row["operation"], row["status"], row["attempts"], row["idempotency_key"]) == (
        "wms", "create_inbound", "pending", 0, f"wms:create_inbound:{ASN_KEY}")
    # the purchase order is not pushed by this row, though the ASN names it
    assert show_json("PurchaseOrder:CGDD000101")["outbox"] == []


def test_an_asn_pushed_to_the_ingress_api_names_its_event(sqlite_store):
    seed_po(sqlite_store)
    event_id, raw = record_asn_event(sqlite_store, "ASN-API-1")
    assert process_event(sqlite_store, event_id) == "processed"

    chain = show_json(f"{PARTNER}/ASN-API-1")
    assert chain["versions"][0]["evidence"] == {"raw_sha256": hashlib.sha256(raw).hexdigest(), "inbox_id": None,
                                                "event_id": event_id}
    assert [(e["id"], e["source"], e["kind"], e["delivery_id"], e["status"]) for e in chain["events"]] == [
        (event_id, "supplier", "asn", "SUP-001:ASN-API-1", "processed")]
    assert [(a["sha256"], a["partner"]) for a in chain["archive"]] == [(hashlib.sha256(raw).hexdigest(), PARTNER)]
    assert chain["inbox"] == []


def record_asn_event(store, asn_number: str) -> tuple[int, bytes]:
    """A supplier's ASN as the ingress API stores it (POST /suppliers/SUP-001/asns), not yet processed."""
    body = {"asn_number": asn_number, "ship_date": "2026-11-27", "lines": [
        {"line_no": 1, "po_number": "CGDD000101", "po_line_no": 1, "material_id": "1.02.0033", "quantity": "500",
         "uom": "H87", "batch_number": "B1"}]}
    raw = json.dumps(body).encode()
    recorded = events.record(store, source="supplier", kind="asn", partner=PARTNER,
                             delivery_id=f"SUP-001:{asn_number}", raw=raw, payload=body)
    return recorded.event_id, raw


@pytest.mark.slow
def test_a_document_written_by_a_real_airflow_task_names_that_task_instance(sqlite_store, tmp_path):
    """Airflow itself exports AIRFLOW_CTX_*: the events DAG runs as the demo runs it (hub.dag_runner:
    ``dag.test()``, the ``airflow dags test`` path), and its task stores the pushed ASN."""
    seed_po(sqlite_store)
    event_id, _ = record_asn_event(sqlite_store, "ASN-AF-1")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "HUB_"))}
    env.update(AIRFLOW_HOME=str(tmp_path / "airflow"), AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
               AIRFLOW__CORE__LOAD_EXAMPLES="False", HUB_VAR_DIR=str(tmp_path),
               HUB_DATABASE_URL=f"sqlite:///{tmp_path / 'hub.db'}", PYTHONPATH=str(REPO))
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], env=env, cwd=REPO, check=True, capture_output=True, timeout=600)
    read_fd, write_fd = os.pipe()
    dags = subprocess.Popen([sys.executable, "-m", "hub.dag_runner", "--results-fd", str(write_fd)], env=env,
                            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            pass_fds=(write_fd,))
    os.close(write_fd)
    dags.communicate(b"events\n", timeout=600)
    os.close(read_fd)  # the run's own state is Airflow's business here: the task's is asserted below
    with sqlite3.connect(tmp_path / "airflow" / "airflow.db") as metadata:
        (run_id,) = metadata.execute("SELECT run_id FROM dag_run WHERE dag_id = 'events'").fetchone()
        (task_state,) = metadata.execute("SELECT state FROM task_instance WHERE dag_id = 'events' AND "
                                         "task_id = 'process_events'").fetchone()
    assert task_state == "success"

    chain = show_json(f"{PARTNER}/ASN-AF-1")
    (version,) = chain["versions"]
    assert version["run"] == {"producer": "airflow", "dag_id": "events", "run_id": run_id,
                              "task_id": "process_events", "url": None}
    assert version["evidence"]["event_id"] == event_id


def test_an_erp_record_shows_the_archived_record_it_was_mapped_from(sqlite_store, tmp_path, monkeypatch):
    mapping = tmp_path / "BD_MATERIAL.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    monkeypatch.setenv("AIRFLOW_CTX_DAG_ID", "erp_sync")
    monkeypatch.setenv("AIRFLOW_CTX_DAG_RUN_ID", "scheduled__2026-11-26T00:00:00+00:00")
    monkeypatch.setenv("AIRFLOW_CTX_TASK_ID", "sync_erp_entity")
    erp = ListErp(mapping, [material("1.02.0033", "Bracket", "2026-11-20T10:00:00"),
                            material("1.02.0041", "Hinge", "2026-11-21T09:30:00")])
    sync_entity(sqlite_store, erp, "materials")
    for name in AIRFLOW_RUN:
        monkeypatch.delenv(name)

    chain = show_json("Material:1.02.0041")
    (inbox,) = chain["inbox"]
    assert (inbox["channel"], inbox["name"]) == ("kingdee", "materials/1.02.0041")
    assert chain["versions"][0]["evidence"]["raw_sha256"] == inbox["sha256"]
    assert chain["versions"][0]["run"]["run_id"] == "scheduled__2026-11-26T00:00:00+00:00"
    assert chain["document"]["source"] == {"system": "kingdee", "request": "materials 1.02.0041"}


def test_a_document_stored_before_lineage_shows_without_it(sqlite_store):
    with sqlite_store.session() as s:
        documents.upsert(s, ProductionOrder(order_id="MO-1", material_id="FG", quantity="1", uom="H87"))
        # as migration 0005 leaves the rows stored before it
        s.execute(DocumentRow.__table__.update().values(raw_sha256=None, inbox_id=None, event_id=None, producer=None,
                                                        dag_id=None, dag_run_id=None, task_id=None))
    result = show("MO-1")
    assert result.exit_code == 0, result.output
    assert "raw archive: none" in result.stdout and "inbox (ledger): none" in result.stdout


# ------------------------------------------------------------------------------ refusals


def test_an_unknown_key_exits_2_naming_close_matches(ingested):
    refused(show("SUP-001/ASN-2"), "no document 'SUP-001/ASN-2'", f"close matches: ShipmentNotice:{ASN_KEY}")
    refused(show("Material:SUP-001/ASN-1"), "no document Material 'SUP-001/ASN-1'")
    stderr = refused(show("ZZZ-nothing-like-it"))
    assert "close matches" not in stderr


def test_an_empty_store_is_an_unknown_key(sqlite_store):
    refused(show("SUP-001/ASN-1"), "no document 'SUP-001/ASN-1'")


def test_an_ambiguous_key_exits_2_listing_the_documents_it_names(sqlite_store):
    def asn(supplier: str) -> ShipmentNotice:
        return ShipmentNotice(asn_number="ASN-7", supplier_id=supplier, ship_date=dt.date(2026, 11, 26), lines=[
            {"line_no": 1, "material_id": "M-1", "quantity": "1", "uom": "H87"}])

    with sqlite_store.session() as s:
        documents.upsert_many(s, [asn("SUP-001"), asn("SUP-002"), Material(material_id="X-1", name="x", uom="H87"),
                                  ProductionOrder(order_id="X-1", material_id="FG", quantity="1", uom="H87")])
    refused(show("ASN-7"), "'ASN-7' names 2 documents: ShipmentNotice:SUP-001/ASN-7, ShipmentNotice:SUP-002/ASN-7",
            "TYPE:KEY")
    refused(show("X-1"), "Material:X-1, ProductionOrder:X-1")
    assert show_json("SUP-002/ASN-7")["document"]["key"] == "SUP-002/ASN-7"
    assert show_json("ProductionOrder:X-1")["document"]["type"] == "ProductionOrder"


@pytest.mark.parametrize("key, fragment", [
    ("", "DOC_KEY is empty"),
    ("   ", "DOC_KEY is empty"),
    ("ShipmentNotice:", "no key after ShipmentNotice:"),
    ("x" * 100_000, "DOC_KEY is 100000 characters long"),
    ("ShipmentNotice:" + "k" * 256, "the key is 256 characters long"),
    ("ASN\x00-1", "contains control or unprintable characters"),
    ("\x1b[31mASN-1", "contains control or unprintable characters"),
    ("ASN-1\udcff", "contains control or unprintable characters"),
])
def test_what_cannot_be_a_key_exits_2_before_the_store_is_opened(tmp_path, key, fragment):
    line = refused(show(key), fragment)
    assert "\x1b" not in line and "\x00" not in line and len(line) < 300
    assert not (tmp_path / "hub.db").exists()


@pytest.mark.parametrize("key, fragment", [
    ("' OR '1'='1' --", "no document \"' OR '1'='1' --\""),
    ("SUP-001/ASN-1'; DROP TABLE documents; --", "no document"),
    ("%", "no document '%'"),
    ("_SN-1", "no document '_SN-1'"),
    ("供应商/发货单-１", "no document '供应商/发货单-１'"),
])
def test_hostile_keys_are_plain_values_to_the_store(store, monkeypatch, key, fragment):
    """On SQLite and PostgreSQL: bound, never SQL; LIKE wildcards match themselves; the store untouched."""
    monkeypatch.setenv("HUB_DATABASE_URL", store.engine.url.render_as_string(hide_password=False))
    with store.session() as s:
        documents.upsert(s, ShipmentNotice(asn_number="ASN-1", supplier_id="SUP-001", lines=[
            {"line_no": 1, "material_id": "M-1", "quantity": "1", "uom": "H87"}]))
    refused(show(key), fragment)
    with store.session() as s:
        assert s.scalars(select(DocumentRow.business_key)).all() == [ASN_KEY]


def test_stored_keys_with_control_characters_never_reach_the_terminal_raw(sqlite_store):
    # a partner's ASN number is data: an escape sequence in it is shown, not obeyed
    with sqlite_store.session() as s:
        documents.upsert(s, ShipmentNotice(asn_number="ASN-\x1b[2J1", supplier_id="SUP-001", lines=[
            {"line_no": 1, "material_id": "M-1", "quantity": "1", "uom": "H87"}]))
        documents.upsert(s, ProductionOrder(order_id="MO-ESC", material_id="FG\x1b[2J", quantity="1", uom="H87",
                                            source={"system": "opcenter", "request": "order \x1b]0;owned\x07"}))
    line = refused(show("SUP-001/ASN-[2J1"), "close matches: ShipmentNotice:SUP-001/ASN-?[2J1")
    assert "\x1b" not in line
    text = show("MO-ESC")
    assert text.exit_code == 0, text.output
    assert "request=order ?]0;owned?" in text.stdout and "\x1b" not in text.stdout and "\x07" not in text.stdout


def test_an_unreadable_store_exits_1_without_quoting_the_url(tmp_path, monkeypatch):
    (tmp_path / "db").mkdir()  # a folder where the database file should be
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'db'}")
    result = show(ASN_KEY)
    assert result.exit_code == 1
    assert result.stderr.startswith("store: STORE_UNAVAILABLE OperationalError; check HUB_DATABASE_URL")


@pytest.mark.parametrize("settings, expected", [
    ({"AIRFLOW__API__BASE_URL": "https://airflow.example.test/"}, "https://airflow.example.test/dags/d/runs/r%2Fx"),
    ({"HUB_AIRFLOW_API_URL": "http://127.0.0.1:8080"}, "http://127.0.0.1:8080/dags/d/runs/r%2Fx"),
    ({"AIRFLOW__API__PORT": "8680", "AIRFLOW__API__HOST": "0.0.0.0"}, "http://127.0.0.1:8680/dags/d/runs/r%2Fx"),
    ({"AIRFLOW__API__PORT": "8680", "AIRFLOW__API__HOST": "::1"}, "http://[::1]:8680/dags/d/runs/r%2Fx"),
    ({"AIRFLOW__API__BASE_URL": "javascript:alert(1)"}, None),
    ({}, None),
])
def test_the_airflow_ui_address_comes_from_the_api_server_settings(monkeypatch, settings, expected):
    from hub.cli_show import airflow_base_url, run_url

    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    assert run_url(airflow_base_url(), "d", "r/x") == expected


def test_hub_show_is_a_command_of_the_hub_cli(ingested):
    result = runner.invoke(cli.app, ["show", ASN_KEY, "--format", "json"], prog_name="hub")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["document"]["key"] == ASN_KEY
    assert runner.invoke(cli.app, ["show", "SUP-001/NOPE"], prog_name="hub").exit_code == 2
