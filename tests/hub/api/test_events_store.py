"""The events store and the webhook replay guard, on SQLite and PostgreSQL (the ``store`` fixture)."""
from __future__ import annotations

import threading
import time

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from canonical_model.store import events, ledger, quarantine
from canonical_model.store.tables import ArchiveRow, Base, EventRow, QuarantineRow, WebhookNonceRow
from hub.report import table_counts


def test_migration_0004_creates_exactly_the_tables_the_models_describe(store):
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    mine = [d for d in differences if "events" in repr(d) or "webhook_nonces" in repr(d)]
    assert mine == []


def test_a_delivery_is_stored_once_with_its_raw_body_archived(store):
    first = events.record(store, source="wms", kind="qc", delivery_id="key:1", raw=b'{"a": 1}', payload={"a": 1})
    again = events.record(store, source="wms", kind="qc", delivery_id="key:1", raw=b'{"a": 1}', payload={"a": 1})
    other_source = events.record(store, source="opcenter", kind="x", delivery_id="key:1", raw=b'{"a": 1}')
    assert first.created and not again.created and other_source.created
    assert again.event_id == first.event_id and other_source.event_id != first.event_id
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(EventRow)) == 2
        assert ledger.read_raw(store, session, first.raw_sha256) == b'{"a": 1}'
        # the same bytes under two events are archived once
        assert session.scalar(select(func.count()).select_from(ArchiveRow)) == 1
        assert events.pending_ids(session) == [first.event_id, other_source.event_id]
    assert dict(table_counts(store))["events"] == 2  # what `hub status` prints


def test_the_same_delivery_recorded_concurrently_is_one_event(store):
    barrier = threading.Barrier(6)
    results = []

    def deliver():
        barrier.wait()
        results.append(events.record(store, source="jiandaoyun", kind="asn:data_update", delivery_id="jdy:abc",
                                     raw=b'{"op":"data_update"}', payload={"op": "data_update"}))

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == 6
    assert sum(r.created for r in results) == 1
    assert len({r.event_id for r in results}) == 1
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(EventRow)) == 1


def test_different_deliveries_of_identical_bytes_concurrently_are_all_stored(store):
    # the raw archive is keyed by sha256: the loser of that race must retry, not lose its event
    barrier = threading.Barrier(4)
    results = []

    def deliver(n: int):
        barrier.wait()
        results.append(events.record(store, source="wms", kind="qc", delivery_id=f"key:{n}", raw=b"same bytes"))

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(r.created for r in results) == [True] * 4
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(EventRow)) == 4


def test_claim_takes_a_received_event_once(store):
    recorded = events.record(store, source="wms", kind="qc", delivery_id="key:c", raw=b"{}")
    with store.session() as session:
        row = events.claim(session, recorded.event_id)
        assert row is not None
        events.mark(row, events.PROCESSED, "done")
    with store.session() as session:
        assert events.claim(session, recorded.event_id) is None
        assert events.pending_ids(session) == []


def test_nonce_guard_reports_a_replayed_pair_and_accepts_the_same_nonce_at_another_time(store):
    guard = events.StoreNonceGuard(store)
    now = int(time.time())
    assert guard.seen("8f3a2c1d", now) is False
    assert guard.seen("8f3a2c1d", now) is True
    # a random 8-hex nonce recurring with another (signed) timestamp is another delivery
    assert guard.seen("8f3a2c1d", now - 1) is False
    # another source has its own nonces
    assert events.StoreNonceGuard(store, source="other").seen("8f3a2c1d", now) is False


def test_nonce_guard_is_atomic_under_concurrency(store):
    guard = events.StoreNonceGuard(store)
    barrier = threading.Barrier(5)
    answers = []
    stamp = int(time.time())

    def ask():
        barrier.wait()
        answers.append(guard.seen("c0ffee01", stamp))

    threads = [threading.Thread(target=ask) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(answers) == [False, True, True, True, True]


def test_nonce_guard_forgets_pairs_older_than_its_retention(store):
    clock = [1_000_000.0]
    guard = events.StoreNonceGuard(store, retention_seconds=600, purge_every_seconds=0, clock=lambda: clock[0])
    assert guard.seen("old00001", 1_000_000 - 3600) is False
    assert guard.seen("new00001", 1_000_000) is False  # its purge removes the pair older than 600 s
    with store.session() as session:
        assert sorted(session.scalars(select(WebhookNonceRow.nonce))) == ["new00001"]


def test_a_refused_delivery_can_be_revived_and_its_quarantine_rows_close(store):
    def with_quarantine(session, row):
        quarantine.add(session, reason_code="JDY_UNKNOWN_FORM", location="jiandaoyun:webhook", message="unknown",
                       raw_sha256=row.raw_sha256)

    refused = events.record(store, source="jiandaoyun", kind="refused", delivery_id="jdy:r", raw=b"{}",
                            status=events.QUARANTINED, detail="refused", on_created=with_quarantine)
    assert events.revive(store, refused.event_id, kind="asn:data_update", payload={"op": "data_update"})
    assert not events.revive(store, refused.event_id, kind="asn:data_update", payload={})
    with store.session() as session:
        row = session.get(EventRow, refused.event_id)
        assert (row.status, row.kind, row.processed_at) == ("received", "asn:data_update", None)
        assert [q.status for q in session.scalars(select(QuarantineRow))] == ["replayed"]
