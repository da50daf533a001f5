"""Outbox delivery: once per key, retriable errors keep the message, permanent ones park it."""
from __future__ import annotations

import datetime as dt

from canonical_model.store import outbox
from canonical_model.store.tables import OutboxRow
from hub.errors import FatalError, RetriableError
from hub.outbox import dispatch


def enqueue(store, key):
    with store.session() as s:
        outbox.enqueue(s, target="wms", operation="create_inbound", idempotency_key=key, payload={"k": key})


def test_target_down_keeps_message_and_delivers_later(sqlite_store):
    enqueue(sqlite_store, "wms:ASN1")
    calls = []

    def down(row):
        calls.append(row.idempotency_key)
        raise RetriableError("WMS_UNAVAILABLE", "HTTP 503", "wms")

    first = dispatch(sqlite_store, "wms", down)
    assert (first.sent, first.retrying) == (0, 1)
    # not due again until the backoff has passed
    assert dispatch(sqlite_store, "wms", down).retrying == 0
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)
    second = dispatch(sqlite_store, "wms", lambda row: {"asn_code": "ASN00000001"}, now=later)
    assert second.sent == 1
    assert dispatch(sqlite_store, "wms", lambda row: {"again": True}, now=later).sent == 0
    with sqlite_store.session() as s:
        row = s.query(OutboxRow).one()
        assert (row.status, row.attempts, row.result) == ("sent", 2, {"asn_code": "ASN00000001"})
    assert calls == ["wms:ASN1"]


def test_fatal_error_parks_the_message_with_its_reason(sqlite_store):
    enqueue(sqlite_store, "wms:ASN2")

    def reject(row):
        raise FatalError("WMS_AUTH", "token rejected", "wms")

    report = dispatch(sqlite_store, "wms", reject)
    assert report.failed == 1
    with sqlite_store.session() as s:
        row = s.query(OutboxRow).one()
        assert row.status == "failed" and "WMS_AUTH" in row.last_error
