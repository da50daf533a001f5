"""Document lineage in the store (migration 0005, canonical_model/store/lineage.py), on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import insert, inspect, select

from canonical_model.documents import PurchaseOrder, Source
from canonical_model.store import documents, ledger, lineage, open_store
from canonical_model.store.db import MIGRATIONS_DIR, make_engine
from canonical_model.store.tables import DocumentRow

AIRFLOW_VARS = ("AIRFLOW_CTX_DAG_ID", "AIRFLOW_CTX_DAG_RUN_ID", "AIRFLOW_CTX_TASK_ID")
LINEAGE_COLUMNS = {"raw_sha256", "inbox_id", "event_id", "producer", "dag_id", "dag_run_id", "task_id"}


@pytest.fixture(autouse=True)
def outside_airflow(monkeypatch):
    # an earlier test in this process may have run a DAG, which leaves Airflow's variables set
    for name in AIRFLOW_VARS:
        monkeypatch.delenv(name, raising=False)


def make_po(number: str = "CGDD000101", qty: str = "200") -> PurchaseOrder:
    return PurchaseOrder(po_number=number, supplier_id="SUP-001", order_date=dt.date(2026, 11, 20),
                         source=Source(system="kingdee", request=f"purchase_orders {number}"),
                         lines=[{"line_no": 1, "material_id": "1.02.0033", "quantity": qty, "uom": "H87"}])


def rows(store, key: str = "CGDD000101") -> list[DocumentRow]:
    with store.session() as s:
        return list(s.scalars(select(DocumentRow).where(DocumentRow.business_key == key)
                              .order_by(DocumentRow.version)))


def test_each_version_records_its_evidence_and_the_airflow_task(store, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CTX_DAG_ID", "erp_sync")
    monkeypatch.setenv("AIRFLOW_CTX_DAG_RUN_ID", "scheduled__2026-11-26T08:00:00+00:00")
    monkeypatch.setenv("AIRFLOW_CTX_TASK_ID", "sync_erp_entity")
    with store.session() as s:
        (inbox, _), = ledger.receive_many(store, s, channel="kingdee", partner="kingdee",
                                          items=[("purchase_orders/CGDD000101", b'{"FQty": 200}')])
        documents.upsert(s, make_po(), actor="kingdee", evidence=lineage.Evidence.of_inbox(inbox))
        first_inbox = (inbox.id, inbox.sha256)
    monkeypatch.setenv("AIRFLOW_CTX_DAG_RUN_ID", "manual__2026-11-27T09:00:00+00:00")
    with store.session() as s:
        documents.upsert(s, make_po(qty="180"), actor="kingdee", evidence=lineage.Evidence(event_id=7,
                                                                                           raw_sha256="ab" * 32))
    v1, v2 = rows(store)
    assert (v1.inbox_id, v1.raw_sha256, v1.event_id) == (*first_inbox, None)
    assert (v2.inbox_id, v2.raw_sha256, v2.event_id) == (None, "ab" * 32, 7)
    assert [(v.producer, v.dag_id, v.dag_run_id, v.task_id) for v in (v1, v2)] == [
        ("airflow", "erp_sync", "scheduled__2026-11-26T08:00:00+00:00", "sync_erp_entity"),
        ("airflow", "erp_sync", "manual__2026-11-27T09:00:00+00:00", "sync_erp_entity")]


def test_unchanged_content_keeps_the_lineage_of_the_version_that_made_it(store, monkeypatch):
    with store.session() as s:
        documents.upsert(s, make_po(), evidence=lineage.Evidence(inbox_id=1, raw_sha256="cd" * 32))
    monkeypatch.setenv("AIRFLOW_CTX_DAG_ID", "erp_sync")
    with store.session() as s:
        assert documents.upsert(s, make_po(), evidence=lineage.Evidence(inbox_id=2)).outcome == "unchanged"
    (only,) = rows(store)
    assert (only.inbox_id, only.raw_sha256, only.dag_id) == (1, "cd" * 32, None)


def test_bulk_upsert_takes_one_evidence_per_document_in_order(store):
    docs = [make_po("PO-A"), make_po("PO-B"), make_po("PO-A", qty="1")]
    evidence = [lineage.Evidence(inbox_id=10), None, lineage.Evidence(inbox_id=12)]
    with store.session() as s:
        documents.upsert_many(s, docs, evidence=evidence)
        with pytest.raises(ValueError, match="2 evidence entries for 3 documents"):
            documents.upsert_many(s, docs, evidence=evidence[:2])
    assert [(r.version, r.inbox_id) for r in rows(store, "PO-A")] == [(1, 10), (2, 12)]
    assert [r.inbox_id for r in rows(store, "PO-B")] == [None]


def test_overlong_airflow_ids_are_cut_to_the_column_rather_than_failing_the_write(store, monkeypatch):
    # PostgreSQL refuses a value longer than VARCHAR(250); a document must not be lost for its lineage
    monkeypatch.setenv("AIRFLOW_CTX_DAG_ID", "d" * 300)
    monkeypatch.setenv("AIRFLOW_CTX_DAG_RUN_ID", "r" * 300)
    monkeypatch.setenv("AIRFLOW_CTX_TASK_ID", "t")
    with store.session() as s:
        documents.upsert(s, make_po())
    (row,) = rows(store)
    assert (row.dag_id, row.dag_run_id, row.task_id) == ("d" * 250, "r" * 250, "t")


def test_outside_airflow_the_producer_is_the_hub_command_else_the_program():
    @click.group(name="hub")
    def cli():
        pass

    @cli.group(name="quarantine")
    def group():
        pass

    seen = []

    @group.command(name="replay")
    def replay():
        seen.append(lineage.current_producer())

    cli.main(["quarantine", "replay"], prog_name="hub", standalone_mode=False)
    assert seen == [lineage.Producer("cli:hub quarantine replay")]
    assert lineage.current_producer() == lineage.Producer(f"process:{Path(sys.argv[0]).name}")


def test_airflow_wins_over_the_command_line_it_runs_in(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CTX_DAG_ID", "events")
    monkeypatch.setenv("AIRFLOW_CTX_DAG_RUN_ID", "manual__1")
    monkeypatch.setenv("AIRFLOW_CTX_TASK_ID", "process")
    with click.Context(click.Command("worker"), info_name="celery"):
        assert lineage.current_producer() == lineage.Producer("airflow", "events", "manual__1", "process")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    return request.getfixturevalue("postgres_schema_url")


def test_a_store_from_before_lineage_is_upgraded_in_place_and_its_documents_still_read(empty_url, tmp_path):
    engine = make_engine(empty_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0004")
    old = make_po()
    with engine.begin() as connection:
        assert not LINEAGE_COLUMNS & {c["name"] for c in inspect(connection).get_columns("documents")}
        connection.execute(insert(DocumentRow.__table__).values(
            doc_type="PurchaseOrder", business_key=old.business_key, version=1, is_current=True,
            content_hash=old.content_hash, source=old.source.model_dump(mode="json"), body=old.content()))
    engine.dispose()

    store = open_store(empty_url, archive_dir=tmp_path / "archive")
    try:
        with store.engine.connect() as connection:
            assert LINEAGE_COLUMNS <= {c["name"] for c in inspect(connection).get_columns("documents")}
        (before,) = rows(store)
        assert all(getattr(before, column) is None for column in LINEAGE_COLUMNS)
        with store.session() as s:
            assert documents.get(s, "PurchaseOrder", old.business_key) == old
            assert documents.upsert(s, make_po(qty="150"), evidence=lineage.Evidence(inbox_id=3)).version == 2
        assert [(r.version, r.inbox_id, r.producer) for r in rows(store)] == [
            (1, None, None), (2, 3, f"process:{Path(sys.argv[0]).name}")]
    finally:
        store.dispose()
