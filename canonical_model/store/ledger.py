"""Inbound ledger and raw archive.

Every payload is archived raw under its sha256 *before* anything parses it (nothing is lost),
and recorded in the inbox keyed by (channel, partner, sha256): the same bytes arriving twice,
under any name, are recognised and not processed again (nothing is doubled).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from canonical_model.store import audit
from canonical_model.store.db import Store
from canonical_model.store.tables import ArchiveRow, InboxRow, utcnow


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def archive_raw(store: Store, session: Session, name: str, data: bytes) -> str:
    """Write ``data`` to the content-addressed archive (write-then-rename) and return its sha256."""
    return archive_many(store, session, [(name, data)])[0]


#: payloads up to this size are kept in the archive row itself (see ArchiveRow)
INLINE_MAX = 64 * 1024
#: sha256 values per IN (...) query
_DIGESTS_PER_QUERY = 500


def _known(session: Session, column, digests: list[str], *where) -> dict[str, object]:
    found: dict[str, object] = {}
    unique = sorted(set(digests))
    for start in range(0, len(unique), _DIGESTS_PER_QUERY):
        chunk = unique[start:start + _DIGESTS_PER_QUERY]
        entity = column.class_
        for row in session.scalars(select(entity).where(column.in_(chunk), *where)):
            found[getattr(row, column.key)] = row
    return found


def archive_many(store: Store, session: Session, items: list[tuple[str, bytes]]) -> list[str]:
    """Archive a batch of ``(name, data)`` with one lookup query; sha256 per item, in order."""
    digests = [sha256_hex(data) for _, data in items]
    known = _known(session, ArchiveRow.sha256, digests)
    for (name, data), digest in zip(items, digests):
        if digest in known:
            continue
        if len(data) <= INLINE_MAX:
            row = ArchiveRow(sha256=digest, size=len(data), content=bytes(data), first_name=name)
            session.add(row)
            known[digest] = row
            continue
        path = store.archive_dir / digest[:2] / digest
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            tmp = path.with_suffix(".part")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        row = ArchiveRow(sha256=digest, size=len(data), path=str(path), first_name=name)
        session.add(row)
        known[digest] = row
    session.flush()
    return digests


def read_raw(store: Store, session: Session, digest: str) -> bytes:
    row = session.get(ArchiveRow, digest)
    if row is None:
        raise KeyError(f"no archived payload with sha256 {digest}")
    return row.content if row.content is not None else Path(row.path).read_bytes()


def receive(store: Store, session: Session, *, channel: str, partner: str, name: str,
            data: bytes) -> tuple[InboxRow, bool]:
    """Archive and record an inbound payload. Returns ``(row, is_new)``; a repeat is not new."""
    return receive_many(store, session, channel=channel, partner=partner, items=[(name, data)])[0]


def receive_many(store: Store, session: Session, *, channel: str, partner: str, items: list[tuple[str, bytes]],
                 audit_repeats: bool = True) -> list[tuple[InboxRow, bool]]:
    """:func:`receive` for a batch with one lookup query; a payload repeated in the batch is new once.

    ``audit_repeats=False`` is for pulls that re-read on purpose (an ERP watermark overlap):
    their repeats are expected, not events worth an audit row each.
    """
    digests = archive_many(store, session, items)
    seen = _known(session, InboxRow.sha256, digests, InboxRow.channel == channel, InboxRow.partner == partner)
    results: list[tuple[InboxRow, bool]] = []
    for (name, data), digest in zip(items, digests):
        existing = seen.get(digest)
        if existing is not None:
            if audit_repeats:
                if existing.id is None:  # repeated inside this batch: give the first its id
                    session.flush()
                audit.record(session, actor=channel, action="duplicate_payload", subject_type="inbox",
                             subject_key=str(existing.id), details={"name": name, "sha256": digest})
            results.append((existing, False))  # type: ignore[arg-type]
            continue
        row = InboxRow(channel=channel, partner=partner, name=name, sha256=digest, size=len(data))
        session.add(row)
        seen[digest] = row
        results.append((row, True))
    session.flush()
    return results


def find_control_ref(session: Session, *, channel: str, partner: str, control_ref: str,
                     exclude_id: int) -> InboxRow | None:
    """An earlier payload from this partner with the same interchange control reference.

    Payloads that stored nothing (``quarantined``: rejected envelope, every document bad) or were
    themselves duplicates do not count: the partner's corrected resend may reuse the number.
    """
    return session.scalars(select(InboxRow).where(
        InboxRow.channel == channel, InboxRow.partner == partner, InboxRow.control_ref == control_ref,
        InboxRow.id != exclude_id, InboxRow.status.not_in(("duplicate", "quarantined")))).first()


def mark(row: InboxRow, status: str, detail: str | None = None) -> None:
    row.status = status
    row.detail = detail
    row.processed_at = utcnow()


def pending(session: Session, channel: str) -> list[InboxRow]:
    return list(session.scalars(select(InboxRow).where(
        InboxRow.channel == channel, InboxRow.status == "received").order_by(InboxRow.id)))


def age(row: InboxRow) -> dt.timedelta:
    received = row.received_at if row.received_at.tzinfo else row.received_at.replace(tzinfo=dt.timezone.utc)
    return utcnow() - received
