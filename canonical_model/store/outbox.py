"""Outbox: pushes to other systems, each once, keyed by an idempotency key.

Enqueueing the same key twice keeps one row. Delivery is done by ``hub.outbox.dispatch``;
here are only the state transitions, so they are the same on SQLite and PostgreSQL.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from canonical_model.store.tables import OutboxRow, utcnow


def enqueue(session: Session, *, target: str, operation: str, idempotency_key: str,
            payload: dict[str, Any]) -> tuple[OutboxRow, bool]:
    existing = session.scalars(select(OutboxRow).where(OutboxRow.idempotency_key == idempotency_key)).first()
    if existing is not None:
        return existing, False
    row = OutboxRow(target=target, operation=operation, idempotency_key=idempotency_key, payload=payload)
    session.add(row)
    session.flush()
    return row, True


def due(session: Session, target: str, now: dt.datetime | None = None) -> list[OutboxRow]:
    now = now or utcnow()
    return list(session.scalars(select(OutboxRow).where(
        OutboxRow.target == target, OutboxRow.status == "pending", OutboxRow.next_attempt_at <= now)
        .order_by(OutboxRow.id)))


def mark_sent(row: OutboxRow, result: dict[str, Any] | None) -> None:
    row.status = "sent"
    row.attempts += 1
    row.result = result
    row.last_error = None
    row.sent_at = utcnow()


def mark_retry(row: OutboxRow, error: str, backoff: dt.timedelta) -> None:
    row.attempts += 1
    row.last_error = error
    row.next_attempt_at = utcnow() + backoff


def mark_failed(row: OutboxRow, error: str) -> None:
    row.attempts += 1
    row.status = "failed"
    row.last_error = error
