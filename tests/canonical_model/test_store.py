"""The store's contract, run on SQLite and on PostgreSQL."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import func, select

from canonical_model.documents import PurchaseOrder, Source
from canonical_model.store import audit, documents, ledger, outbox, quarantine, state
from canonical_model.store.tables import AuditRow, DocumentRow, InboxRow


def make_po(qty: str = "200", price: str = "3.5") -> PurchaseOrder:
    return PurchaseOrder(
        po_number="CGDD000101", supplier_id="SUP-001", order_date=dt.date(2026, 11, 20), currency="CNY",
        source=Source(system="kingdee", request="ExecuteBillQuery"),
        lines=[{"line_no": 1, "material_id": "1.02.0033", "quantity": qty, "uom": "H87", "unit_price": price,
                "delivery_date": "2026-12-03"}])


def test_upsert_same_content_is_noop_and_change_makes_version_with_diff(store):
    with store.session() as s:
        assert documents.upsert(s, make_po()).outcome == "created"
    with store.session() as s:
        # "200.0" is the same quantity as "200": no new version
        assert documents.upsert(s, make_po(qty="200.0")).outcome == "unchanged"
    with store.session() as s:
        result = documents.upsert(s, make_po(qty="180"))
        assert (result.outcome, result.version) == ("updated", 2)
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(DocumentRow)) == 2
        assert documents.count_current(s, "PurchaseOrder") == 1
        current = documents.get(s, "PurchaseOrder", "CGDD000101")
        assert current.lines[0].quantity == Decimal("180")
        changes = audit.history(s, "PurchaseOrder", "CGDD000101")
        assert [r.action for r in changes] == ["created", "new_version"]
        assert changes[1].details["diff"] == [{"path": "lines[0].quantity", "old": "200", "new": "180"}]


def test_inbox_dedupes_same_bytes_under_another_name_and_archives_raw(store):
    data = b"UNB+UNOC:3+SUP-001+HUB+261126:1200+42'"
    with store.session() as s:
        first, new1 = ledger.receive(store, s, channel="sftp", partner="SUP-001", name="a.edi", data=data)
        first_id = first.id
    with store.session() as s:
        again, new2 = ledger.receive(store, s, channel="sftp", partner="SUP-001", name="copy-of-a.edi", data=data)
        assert (new1, new2, again.id) == (True, False, first_id)
        assert ledger.read_raw(store, s, ledger.sha256_hex(data)) == data
        assert s.scalar(select(func.count()).select_from(InboxRow)) == 1
        assert s.scalar(select(func.count()).select_from(AuditRow).where(AuditRow.action == "duplicate_payload")) == 1


def test_control_ref_lookup_finds_earlier_interchange(store):
    with store.session() as s:
        a, _ = ledger.receive(store, s, channel="sftp", partner="SUP-001", name="a.edi", data=b"one")
        a.control_ref = "42"
        b, _ = ledger.receive(store, s, channel="sftp", partner="SUP-001", name="b.edi", data=b"two")
        assert ledger.find_control_ref(s, channel="sftp", partner="SUP-001", control_ref="42", exclude_id=b.id).id == a.id
        assert ledger.find_control_ref(s, channel="sftp", partner="SUP-002", control_ref="42", exclude_id=b.id) is None


def test_quarantine_same_failure_twice_is_one_row(store):
    with store.session() as s:
        row, created = quarantine.add(s, reason_code="QTY_NOT_POSITIVE", location="f.edi:segment 9 (QTY, line 9)",
                                      message="quantity -5 is not positive", raw_sha256="ab" * 32)
        _, created_again = quarantine.add(s, reason_code="QTY_NOT_POSITIVE", location="f.edi:segment 9 (QTY, line 9)",
                                          message="quantity -5 is not positive", raw_sha256="ab" * 32)
        assert (created, created_again) == (True, False)
        assert [r.reason_code for r in quarantine.list_rows(s)] == ["QTY_NOT_POSITIVE"]


def test_outbox_idempotency_key_and_retry_schedule(store):
    with store.session() as s:
        row, created = outbox.enqueue(s, target="wms", operation="create_inbound", idempotency_key="wms:ASN1",
                                      payload={"asn_no": "ASN1"})
        _, created_again = outbox.enqueue(s, target="wms", operation="create_inbound", idempotency_key="wms:ASN1",
                                          payload={"asn_no": "ASN1"})
        assert (created, created_again) == (True, False)
        assert [r.idempotency_key for r in outbox.due(s, "wms")] == ["wms:ASN1"]
        outbox.mark_retry(row, "WMS_UNAVAILABLE", dt.timedelta(minutes=5))
    with store.session() as s:
        assert outbox.due(s, "wms") == []
        later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=6)
        (row,) = outbox.due(s, "wms", now=later)
        assert row.attempts == 1
        outbox.mark_sent(row, {"asn_code": "ASN00000001"})
    with store.session() as s:
        assert outbox.due(s, "wms", now=later) == []


def test_counters_never_reuse_a_number(store):
    with store.session() as s:
        assert [state.next_counter(s, "edifact:SUP-001:out") for _ in range(3)] == [1, 2, 3]
    with store.session() as s:
        assert state.next_counter(s, "edifact:SUP-001:out") == 4
        state.put(s, "watermark", "2026-11-26T10:00:00")
    with store.session() as s:
        assert state.get(s, "watermark") == "2026-11-26T10:00:00"


def test_small_payloads_are_archived_inline_and_big_ones_as_files(store):
    small = b'{"FBillNo": "CGDD000101"}'
    big = bytes(range(256)) * (ledger.INLINE_MAX // 256 + 1)  # one byte over the limit at least
    with store.session() as s:
        results = ledger.receive_many(store, s, channel="kingdee", partner="kingdee",
                                      items=[("purchase_orders/A", small), ("purchase_orders/B", big),
                                             ("purchase_orders/A-again", small)])
        assert [is_new for _, is_new in results] == [True, True, False]
        assert results[0][0] is results[2][0]  # repeated inside the batch: one inbox row
    files = [p for p in store.archive_dir.rglob("*") if p.is_file()]
    assert [p.name for p in files] == [ledger.sha256_hex(big)]
    with store.session() as s:
        assert ledger.read_raw(store, s, ledger.sha256_hex(small)) == small
        assert ledger.read_raw(store, s, ledger.sha256_hex(big)) == big
        assert s.scalar(select(func.count()).select_from(InboxRow)) == 2
        # a repeat inside one batch is audited like any other repeat, pointing at the first row
        (dup,) = s.scalars(select(AuditRow).where(AuditRow.action == "duplicate_payload"))
        assert dup.subject_key == str(results[0][0].id) and dup.details["name"] == "purchase_orders/A-again"
