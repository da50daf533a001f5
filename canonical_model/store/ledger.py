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
    digest = sha256_hex(data)
    if session.get(ArchiveRow, digest) is None:
        path = store.archive_dir / digest[:2] / digest
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            tmp = path.with_suffix(".part")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        session.add(ArchiveRow(sha256=digest, size=len(data), path=str(path), first_name=name))
        session.flush()
    return digest


def read_raw(store: Store, session: Session, digest: str) -> bytes:
    row = session.get(ArchiveRow, digest)
    if row is None:
        raise KeyError(f"no archived payload with sha256 {digest}")
    return Path(row.path).read_bytes()


def receive(store: Store, session: Session, *, channel: str, partner: str, name: str,
            data: bytes) -> tuple[InboxRow, bool]:
    """Archive and record an inbound payload. Returns ``(row, is_new)``; a repeat is not new."""
    digest = archive_raw(store, session, name, data)
    existing = session.scalars(select(InboxRow).where(
        InboxRow.channel == channel, InboxRow.partner == partner, InboxRow.sha256 == digest)).first()
    if existing is not None:
        audit.record(session, actor=channel, action="duplicate_payload", subject_type="inbox",
                     subject_key=str(existing.id), details={"name": name, "sha256": digest})
        return existing, False
    row = InboxRow(channel=channel, partner=partner, name=name, sha256=digest, size=len(data))
    session.add(row)
    session.flush()
    return row, True


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
