"""Streaming variant of :func:`canonical_model.store.ledger.receive` for large inbound files.

``ledger.receive`` takes the payload as bytes, which is fine for EDI messages of a few hundred
KB but not for the 100 MB files the architecture promises to stream. Here the payload arrives
as an iterable of chunks (e.g. read from an SFTP file object): each chunk is written to a temp
file inside the archive folder and hashed on the fly, so memory stays at one chunk whatever
the file size. Only once the whole payload is on disk (fsynced) does it get its
content-addressed name and its rows; the rows are flushed in the caller's session, so the raw
file is on disk before the transaction that records it commits (nothing is lost), and a rolled
back transaction at worst leaves an orphan archive file that the next receive of the same
bytes reuses.

The ledger semantics are those of ``ledger.receive`` (same tables, same duplicate audit record),
plus where the payload was picked up (``remote_path``, ``remote_mtime``), so a collector can
recognise "same path, same size, same mtime" without downloading again
(:func:`find_remote`).
"""
from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from canonical_model.store import audit
from canonical_model.store.db import Store
from canonical_model.store.tables import ArchiveRow, AuditRow, InboxRow


@dataclass(frozen=True)
class Received:
    row: InboxRow
    is_new: bool
    sha256: str
    size: int


def archive_stream(store: Store, session: Session, name: str, chunks: Iterable[bytes]) -> tuple[str, int]:
    """Write the chunks to the content-addressed archive; return ``(sha256, size)``."""
    store.archive_dir.mkdir(parents=True, exist_ok=True)
    # A unique temp name: two workers streaming the same payload must not share a temp file.
    tmp = store.archive_dir / f".incoming-{secrets.token_hex(8)}.part"
    digest = hashlib.sha256()
    size = 0
    try:
        with open(tmp, "wb") as out:
            for chunk in chunks:
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        sha = digest.hexdigest()
        path = store.archive_dir / sha[:2] / sha
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            tmp.unlink()  # same bytes archived before (or by a rolled-back attempt): keep that copy
        else:
            os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if session.get(ArchiveRow, sha) is None:
        session.add(ArchiveRow(sha256=sha, size=size, path=str(path), first_name=name))
        session.flush()
    return sha, size


def receive_stream(store: Store, session: Session, *, channel: str, partner: str, name: str,
                   chunks: Iterable[bytes], remote_path: str | None = None,
                   remote_mtime: float | None = None) -> Received:
    """Archive and record a streamed payload, like ``ledger.receive``. A payload whose bytes
    were already received from this partner is not new (audited as ``duplicate_payload``)."""
    sha, size = archive_stream(store, session, name, chunks)
    existing = session.scalars(select(InboxRow).where(
        InboxRow.channel == channel, InboxRow.partner == partner, InboxRow.sha256 == sha)).first()
    if existing is not None:
        audit.record(session, actor=channel, action="duplicate_payload", subject_type="inbox",
                     subject_key=str(existing.id),
                     details={"name": name, "sha256": sha, "partner": partner, "remote_path": remote_path, "remote_mtime": remote_mtime,
                              "size": size})
        return Received(existing, False, sha, size)
    row = InboxRow(channel=channel, partner=partner, name=name, sha256=sha, size=size,
                   remote_path=remote_path, remote_mtime=remote_mtime)
    session.add(row)
    session.flush()
    return Received(row, True, sha, size)


def find_remote(session: Session, *, channel: str, partner: str, remote_path: str, size: int,
                mtime: float) -> str | None:
    """The sha256 of a payload already received from exactly this remote file (same path,
    size and mtime), as a new inbox row or as a recognised duplicate of one; else None."""
    row = session.scalars(select(InboxRow).where(
        InboxRow.channel == channel, InboxRow.partner == partner, InboxRow.remote_path == remote_path,
        InboxRow.size == size, InboxRow.remote_mtime == mtime)).first()
    if row is not None:
        return row.sha256
    # Duplicates get no inbox row of their own; their audit record carries the same facts.
    # (Scanned in Python: duplicate drops are rare, and JSON columns query differently per
    # database.)
    for details in session.scalars(select(AuditRow.details).where(
            AuditRow.actor == channel, AuditRow.action == "duplicate_payload")):
        if (details and details.get("partner") == partner and details.get("remote_path") == remote_path
                and details.get("size") == size and details.get("remote_mtime") == mtime):
            return details.get("sha256")
    return None
