"""Pushed events (the ingress API) and the webhook replay guard, on SQLite and PostgreSQL alike.

An event is stored, with its raw body archived under its sha256, *before* the sender gets its
2xx (nothing is lost), keyed by ``(source, delivery_id)`` (nothing is doubled): the same
delivery arriving again, even concurrently, finds the first row and changes nothing.

Both writes are races decided by a unique key, not by a look-up first: the INSERT is the
transaction's first statement, so SQLite takes its write lock before anything is read (a
SELECT first would run on a snapshot another writer can outdate), and PostgreSQL makes the
second inserter wait for the first and then report the conflict.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from canonical_model.store.db import Store
from canonical_model.store.ledger import archive_many, sha256_hex
from canonical_model.store.tables import EventRow, QuarantineRow, WebhookNonceRow, utcnow

RECEIVED, PROCESSED, FAILED, QUARANTINED = "received", "processed", "failed", "quarantined"
STATUSES = (RECEIVED, PROCESSED, FAILED, QUARANTINED)
#: INSERT attempts when the conflict was not the delivery key (the same bytes archived at once)
_ATTEMPTS = 4


@dataclass(frozen=True)
class Recorded:
    """What :func:`record` did: ``created`` False means the delivery was there already."""

    event_id: int
    created: bool
    status: str
    raw_sha256: str
    detail: Optional[str] = None


def record(store: Store, *, source: str, kind: str, delivery_id: str, raw: bytes, payload: Any = None,
           partner: Optional[str] = None, status: str = RECEIVED, detail: Optional[str] = None,
           on_created: Optional[Callable[[Session, EventRow], None]] = None) -> Recorded:
    """Store one delivery and archive its raw bytes, committed when this returns.

    A delivery id already stored for ``source`` is a no-op returning the first row.
    ``on_created(session, row)`` runs inside the same transaction for a new row only (e.g. a
    quarantine entry for a delivery stored as ``quarantined``)."""
    if status not in STATUSES:
        raise ValueError(f"unknown event status {status!r}")
    digest = sha256_hex(raw)
    for _ in range(_ATTEMPTS):
        try:
            with store.session() as session:
                row = EventRow(source=source, kind=kind, partner=partner, delivery_id=delivery_id,
                               raw_sha256=digest, size=len(raw), payload=payload, status=status, detail=detail,
                               processed_at=utcnow() if status != RECEIVED else None)
                session.add(row)
                session.flush()
                archive_many(store, session, [(f"events/{source}/{delivery_id}"[:512], raw)])
                if on_created is not None:
                    on_created(session, row)
                return Recorded(row.id, True, row.status, digest, row.detail)
        except IntegrityError:
            with store.session() as session:
                existing = find(session, source, delivery_id)
                if existing is not None:
                    return Recorded(existing.id, False, existing.status, existing.raw_sha256, existing.detail)
            # the conflict was the raw archive (the same bytes stored by a concurrent delivery): again
    raise RuntimeError(f"event {source}/{delivery_id} could not be stored after {_ATTEMPTS} attempts")


def find(session: Session, source: str, delivery_id: str) -> Optional[EventRow]:
    return session.scalars(select(EventRow).where(EventRow.source == source,
                                                  EventRow.delivery_id == delivery_id)).first()


def pending_ids(session: Session, limit: Optional[int] = None) -> list[int]:
    """Ids of events still ``received``, oldest first."""
    query = select(EventRow.id).where(EventRow.status == RECEIVED).order_by(EventRow.id)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def claim(session: Session, event_id: int) -> Optional[EventRow]:
    """Lock the event if it is still ``received`` (the transaction's first statement); None otherwise.

    A conditional UPDATE rather than SELECT ... FOR UPDATE because it claims on both databases:
    a concurrent claimer blocks on PostgreSQL's row lock or SQLite's write lock, then matches
    nothing once the first has committed its new status. The value written is the same; the
    final status is set by the work, in the same transaction."""
    claimed = session.execute(update(EventRow).where(EventRow.id == event_id, EventRow.status == RECEIVED)
                              .values(status=RECEIVED).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        return None
    return session.get(EventRow, event_id)


def revive(store: Store, event_id: int, *, kind: str, payload: Any) -> bool:
    """Put a delivery refused at the door (``quarantined``) back to ``received``: it arrived again
    and is acceptable now (its form was configured since). Its open quarantine rows become
    ``replayed``. False when the event is not quarantined (any more)."""
    with store.session() as session:
        changed = session.execute(update(EventRow).where(EventRow.id == event_id, EventRow.status == QUARANTINED)
                                  .values(status=RECEIVED, kind=kind, payload=payload, detail=None,
                                          processed_at=None).execution_options(synchronize_session=False))
        if changed.rowcount != 1:
            return False
        row = session.get(EventRow, event_id)
        for entry in session.scalars(select(QuarantineRow).where(QuarantineRow.raw_sha256 == row.raw_sha256,
                                                                 QuarantineRow.status == "open")):
            entry.status = "replayed"
        return True


def mark(row: EventRow, status: str, detail: Optional[str] = None) -> None:
    if status not in STATUSES:
        raise ValueError(f"unknown event status {status!r}")
    row.status = status
    row.detail = detail
    row.processed_at = utcnow()


class StoreNonceGuard:
    """:class:`adapters.jiandaoyun.webhook.NonceGuard` on the store: an INSERT per delivery.

    ``seen`` commits its row at once (its own transaction), so two processes of the ingress and
    two concurrent deliveries agree: exactly one INSERT of a (nonce, timestamp) pair succeeds.
    Pairs older than ``retention_seconds`` are purged now and then; the default outlives the
    longest staleness window the Jiandaoyun settings allow (one day) twice over.
    """

    def __init__(self, store: Store, source: str = "jiandaoyun", *, retention_seconds: int = 2 * 86400,
                 purge_every_seconds: float = 300.0, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.source = source
        self.retention_seconds = retention_seconds
        self.purge_every_seconds = purge_every_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._last_purge = float("-inf")

    def seen(self, nonce: str, timestamp: int) -> bool:
        try:
            with self.store.session() as session:
                session.add(WebhookNonceRow(source=self.source, nonce=str(nonce), timestamp=int(timestamp)))
                session.flush()
        except IntegrityError:
            return True
        self._purge_now_and_then()
        return False

    def _purge_now_and_then(self) -> None:
        now = self.clock()
        with self._lock:
            if now - self._last_purge < self.purge_every_seconds:
                return
            self._last_purge = now
        self.purge(int(now) - self.retention_seconds)

    def purge(self, older_than: int) -> int:
        """Forget pairs whose timestamp is before ``older_than`` (unix seconds); how many went."""
        with self.store.session() as session:
            gone = session.execute(delete(WebhookNonceRow).where(WebhookNonceRow.source == self.source,
                                                                 WebhookNonceRow.timestamp < older_than))
            return gone.rowcount or 0
