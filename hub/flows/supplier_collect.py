"""Supplier -> hub, first step: collect files from the partner's SFTP folder into the inbox.

Collecting and processing are separate steps on purpose: a file is first archived and
recorded in the inbox ledger (committed), and only then archived (or deleted, per partner
profile) on the SFTP server, so a crash between the two can only cause a re-read that the
ledger recognises, never a loss.

Per listed file, in one SSH session per partner:

1. too young (server mtime newer than the minimum age): left for a later run;
2. already in the ledger as (partner, path, size, mtime): not downloaded again, only moved
   out of the way on the server (the previous run committed it but crashed before the move);
3. a second stat right before download: size or mtime changed since the listing means the
   supplier is still writing: left alone, no waiting (a later run takes it);
4. streamed into the raw archive with sha256 computed on the fly (memory: one chunk); if the
   byte count or a stat after the download disagrees with the listing, the transaction is
   rolled back and the file is left for a later run;
5. same bytes as an earlier payload under any name: a recognised duplicate (audited);
6. only after commit: archive/delete on the server.

Names that are not plain printable basenames (control characters, separators...) are never
downloaded; each gets an evidence-only quarantine record naming the file so a human renames
or removes it. Server names are never used as local paths (the archive is content-addressed),
so no name can escape the partner's folder.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Literal

from sqlalchemy import select

from adapters.sftp.hook import Listing, RemoteFile, SftpHook
from canonical_model.store import Store, quarantine
from canonical_model.store.ledger_stream import find_remote, receive_stream
from canonical_model.store.tables import InboxRow
from hub.errors import SkippableError
from hub.logs import log_context
from hub.partners import get_partner

log = logging.getLogger(__name__)

CHANNEL = "sftp"
#: read size while streaming a remote file into the archive (bounded memory per file)
CHUNK_BYTES = 256 * 1024

Outcome = Literal["new", "duplicate", "already_collected", "growing", "vanished"]


@dataclass
class CollectReport:
    partner: str
    new: int = 0
    duplicate: int = 0
    #: same path, size and mtime already in the ledger: moved away on the server, not re-read
    already_collected: int = 0
    #: younger than the minimum file age
    waiting: int = 0
    #: changed between listing and download (still being written)
    growing: int = 0
    #: gone between listing and download (someone else moved it)
    vanished: int = 0
    #: unsafe names, quarantined as evidence-only records and left on the server
    rejected_names: int = 0
    #: inbox rows of this partner waiting to be processed (this run's and older ones)
    pending_inbox_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def collect_files(store: Store, partner_id: str) -> dict[str, int]:
    """Counts of new and duplicate payloads (the original contract; see :func:`collect`)."""
    report = collect(store, partner_id)
    return {"new": report.new, "duplicate": report.duplicate}


def collect(store: Store, partner_id: str, now: float | None = None) -> CollectReport:
    profile = get_partner(partner_id)
    after = profile.sftp.after_collect
    config = profile.sftp_config()
    report = CollectReport(partner=partner_id)
    with log_context(partner=partner_id), SftpHook(config) as sftp:
        listing = sftp.scan(now=now)
        report.waiting = len(listing.waiting)
        report.rejected_names = quarantine_rejected_names(store, partner_id, sftp, listing)
        for remote in listing.ready:
            outcome = fetch_file(store, sftp, partner_id, remote, after=after)
            setattr(report, outcome, getattr(report, outcome) + 1)
    with store.session() as session:
        report.pending_inbox_ids = list(session.scalars(select(InboxRow.id).where(
            InboxRow.channel == CHANNEL, InboxRow.partner == partner_id, InboxRow.status == "received",
        ).order_by(InboxRow.id)))
    log.info("collected from %s: %s", partner_id,
             {k: v for k, v in report.as_dict().items() if k not in ("partner", "pending_inbox_ids")})
    return report


def fetch_file(store: Store, sftp: SftpHook, partner_id: str, listed: RemoteFile,
               after: str = "archive") -> Outcome:
    """Collect one file seen in a listing (see the module doc for the steps)."""
    try:
        with store.session() as session:
            known = find_remote(session, channel=CHANNEL, partner=partner_id, remote_path=listed.path,
                                size=listed.size, mtime=listed.mtime)
        if known is not None:
            log.info("%s: %s already collected (sha256 %s); only moving it out of the inbox",
                     partner_id, listed.path, known[:12])
            _finish(sftp, listed, after)
            return "already_collected"

        if _changed(sftp.stat_file(listed.path), listed):
            log.info("%s: %s changed since listing (still being written); left for a later run",
                     partner_id, listed.path)
            return "growing"

        try:
            with store.session() as session, sftp.open_read(listed.path) as stream:
                received = receive_stream(store, session, channel=CHANNEL, partner=partner_id, name=listed.name,
                                          chunks=iter(lambda: stream.read(CHUNK_BYTES), b""),
                                          remote_path=listed.path, remote_mtime=listed.mtime)
                if received.size != listed.size or _changed(sftp.stat_file(listed.path), listed):
                    # Rolls back the rows; the archived bytes stay as an unreferenced file.
                    raise _ChangedWhileReading()
        except _ChangedWhileReading:
            log.info("%s: %s changed while being read; left for a later run", partner_id, listed.path)
            return "growing"

        # Only now, with the bytes and the ledger row committed, may the file leave the inbox.
        _finish(sftp, listed, after)
        with log_context(sha256=received.sha256):
            log.info("%s: collected %s (%d bytes%s)", partner_id, listed.path, received.size,
                     "" if received.is_new else ", the same bytes as an earlier file")
        return "new" if received.is_new else "duplicate"
    except SkippableError as error:
        if error.code != "SFTP_FILE_VANISHED":
            raise
        log.warning("%s: %s", partner_id, error.as_line())
        return "vanished"


def quarantine_rejected_names(store: Store, partner_id: str, sftp: SftpHook, listing: Listing) -> int:
    """One evidence-only quarantine record per unsafe name (rerun: the same record, not a new one)."""
    if not listing.rejected:
        return 0
    with store.session() as session:
        for name, problem in listing.rejected:
            # repr() escapes control characters: the record names the file on one honest line.
            quarantine.add(
                session, reason_code="SFTP_BAD_NAME", partner=partner_id,
                location=f"{sftp.config.where}/{listing.folder}/{name!r}",
                message=(f"file {name!r} in the partner's {listing.folder!r} folder was not collected: {problem}. "
                         "It is still on the server: ask the partner to resend it under a plain name, or rename "
                         "it there, then discard this record"),
                evidence={"partner": partner_id, "folder": listing.folder, "name": name, "problem": problem})
    return len(listing.rejected)


class _ChangedWhileReading(Exception):
    pass


def _changed(now: RemoteFile, listed: RemoteFile) -> bool:
    return (now.size, now.mtime) != (listed.size, listed.mtime)


def _finish(sftp: SftpHook, remote: RemoteFile, after: str) -> None:
    if after == "delete":
        sftp.delete(remote.path)
    else:
        sftp.archive(remote.path)
