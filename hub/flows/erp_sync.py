"""ERP -> hub: pull one entity incrementally into the canonical store, for whichever ERP is configured.

The same steps for Kingdee, U9 and U9 Cloud (hub/erp.py is the contract):

1. ``since`` = the entity's watermark (newest modification time seen) minus an overlap window,
   because ERP clocks skew and long transactions commit rows with an older timestamp; or the
   caller's ``--since``; or everything on the first run.
2. Records stream in batches. Each record is archived raw and recorded in the inbox ledger by
   content hash first: a record re-read unchanged (the overlap, a repeated page) is counted
   ``unchanged`` and goes no further.
3. New payloads are mapped (mappings/<system>/...), validated as a batch (pandera), and upserted
   in bulk: same content = no-op, changed content = new version with the diff audited. A record
   that fails mapping or validation is quarantined with its raw evidence (UNKNOWN_MATERIAL,
   UNKNOWN_SUPPLIER, ...) and the others go on.
4. The watermark moves only after the whole pull is stored, so a crash mid-run means the next
   run reads the same window again, which the ledger makes harmless.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import dataclass
from itertools import islice
from typing import Callable, Iterable, Iterator, Optional

from canonical_model.documents import CanonicalDocument, Source
from canonical_model.store import Store, documents, ledger, state
from canonical_model.store.lineage import Evidence
from canonical_model.store.tables import InboxRow
from hub.erp import ENTITIES, ErpClient, ErpRecord
from hub.errors import FatalError, SkippableError
from hub.flows.common import quarantine_error
from mappings.engine import CompiledMapping, load_mapping
from validation import DEFAULT_KNOWN_UOMS, ValidationContext, validate

log = logging.getLogger(__name__)

OVERLAP_SETTING = "HUB_ERP_OVERLAP_MINUTES"
DEFAULT_OVERLAP = dt.timedelta(minutes=5)
#: records per transaction: big enough for bulk queries, small enough to keep memory flat
BATCH_SIZE = 500


@dataclass(frozen=True)
class Feed:
    """What a pull of one entity stores: its document type, and how a pulled document merges into
    the stored one where another system owns part of it (the MES owns a batch's consumption, the
    hub's receiving and QC the rest); without ``merge`` the pulled document replaces the stored one."""

    doc_type: str
    merge: Optional[Callable[[Optional[CanonicalDocument], CanonicalDocument], CanonicalDocument]] = None


ERP_FEEDS: dict[str, Feed] = {entity: Feed(doc_type) for entity, doc_type in ENTITIES.items()}


@dataclass
class SyncCounts:
    fetched: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    quarantined: int = 0

    def line(self) -> str:
        """The ``hub erp pull`` output contract."""
        return (f"fetched={self.fetched} new={self.new} changed={self.changed} "
                f"unchanged={self.unchanged} quarantined={self.quarantined}")


def watermark_name(system: str, entity: str) -> str:
    return f"erp:{system}:{entity}:modified"


def overlap_window() -> dt.timedelta:
    raw = os.environ.get(OVERLAP_SETTING)
    if raw is None:
        return DEFAULT_OVERLAP
    try:
        minutes = float(raw)
    except ValueError:
        raise FatalError("ERP_SETTING_INVALID", f"{OVERLAP_SETTING}={raw!r} is not a number of minutes",
                         OVERLAP_SETTING) from None
    if minutes < 0:
        raise FatalError("ERP_SETTING_INVALID", f"{OVERLAP_SETTING} must not be negative", OVERLAP_SETTING)
    return dt.timedelta(minutes=minutes)


def pull_window(store: Store, system: str, entity: str, since: Optional[dt.datetime] = None) -> Optional[dt.datetime]:
    """Where this pull starts: the caller's ``since`` or the watermark minus the overlap."""
    if since is not None:
        return since
    with store.session() as session:
        mark = state.get(session, watermark_name(system, entity))
    return dt.datetime.fromisoformat(mark) - overlap_window() if mark else None


def sync_entity(store: Store, client: ErpClient, entity: str, *, since: Optional[dt.datetime] = None,
                batch_size: int = BATCH_SIZE, feeds: dict[str, Feed] = ERP_FEEDS) -> SyncCounts:
    """Pull ``entity`` from ``client`` into the store; see the module doc for the steps.

    ``feeds`` names what the client can pull (the ERP entities by default; the MES has its own)."""
    feed = feeds.get(entity)
    if feed is None:
        raise FatalError("ERP_UNKNOWN_ENTITY", f"{entity!r} is not one of {', '.join(feeds)}", client.system)
    system = client.system
    mapping = load_mapping(client.mapping_path(entity))
    counts = SyncCounts()
    newest: Optional[dt.datetime] = None
    for batch in _batches(client.pull(entity, pull_window(store, system, entity, since)), batch_size):
        counts.fetched += len(batch)
        modified = [r.modified for r in batch if r.modified is not None]
        if modified:
            newest = max([newest, *modified]) if newest else max(modified)
        with store.session() as session:
            _store_batch(store, session, system, entity, feed, mapping, batch, counts)
    if newest is not None:
        with store.session() as session:
            name = watermark_name(system, entity)
            old = state.get(session, name)
            # a --since pull of an old window must not move the watermark backwards
            if old is None or dt.datetime.fromisoformat(old) < newest:
                state.put(session, name, newest.isoformat())
    log.info("erp sync %s %s: %s", system, entity, counts.line())
    return counts


def _batches(records: Iterable[ErpRecord], size: int) -> Iterator[list[ErpRecord]]:
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch


def _raw(record: ErpRecord) -> bytes:
    return json.dumps(record.data, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")


def _store_batch(store: Store, session, system: str, entity: str, feed: Feed, mapping: CompiledMapping,
                 batch: list[ErpRecord], counts: SyncCounts) -> None:
    received = ledger.receive_many(store, session, channel=system, partner=system, audit_repeats=False,
                                   items=[(f"{entity}/{r.key}", _raw(r)) for r in batch])
    fresh: list[tuple[ErpRecord, InboxRow]] = []
    taken: set[int] = set()
    for record, (inbox, is_new) in zip(batch, received):
        # re-read unchanged (the overlap), or twice in this batch (a repeated page): once is enough
        if not is_new or id(inbox) in taken:
            counts.unchanged += 1
            continue
        taken.add(id(inbox))
        fresh.append((record, inbox))
    _map_and_store(session, system, entity, feed, mapping, fresh, counts)


def reprocess_pending(store: Store, client: ErpClient, feeds: dict[str, Feed] = ERP_FEEDS) -> SyncCounts:
    """Map again the archived records whose inbox rows were put back to ``received`` (``hub quarantine replay``)."""
    counts = SyncCounts()
    with store.session() as session:
        by_entity: dict[str, list[tuple[ErpRecord, InboxRow]]] = {}
        for inbox in ledger.pending(session, client.system):
            entity, _, key = inbox.name.partition("/")
            record = ErpRecord(key=key, modified=None, data=json.loads(ledger.read_raw(store, session, inbox.sha256)))
            by_entity.setdefault(entity, []).append((record, inbox))
        for entity, pending in by_entity.items():
            if entity not in feeds:
                raise FatalError("ERP_UNKNOWN_ENTITY", f"inbox rows named {entity}/...: not one of {', '.join(feeds)}",
                                 client.system)
            counts.fetched += len(pending)
            _map_and_store(session, client.system, entity, feeds[entity], load_mapping(client.mapping_path(entity)),
                           pending, counts)
    return counts


def _map_and_store(session, system: str, entity: str, feed: Feed, mapping: CompiledMapping,
                   fresh: list[tuple[ErpRecord, InboxRow]], counts: SyncCounts) -> None:
    mapped, inboxes = [], []
    for record, inbox in fresh:
        where = f"{system} {entity} {record.key}"
        try:
            doc = mapping.apply(record.data, Source(system=system, request=f"{entity} {record.key}"))
        except SkippableError as error:
            quarantine_error(session, error.located(where) if not error.where else error, inbox=inbox,
                             partner=system, doc_type=feed.doc_type, business_key=record.key,
                             evidence={"record": record.data})
            ledger.mark(inbox, "quarantined", error.as_line())
            counts.quarantined += 1
            continue
        if feed.merge is not None:
            doc = feed.merge(documents.get(session, doc.type, doc.business_key), doc)  # type: ignore[attr-defined]
        mapped.append(doc)
        inboxes.append(inbox)
    if not mapped:
        return
    result = validate(mapped, ValidationContext(open_po_lines=None, known_uoms=DEFAULT_KNOWN_UOMS))
    inbox_of = {doc.business_key: inbox for doc, inbox in zip(mapped, inboxes)}
    failed_keys = set()
    for failure in result.failures:
        quarantine_error(session, failure.to_error(), inbox=inbox_of.get(failure.business_key), partner=system,
                         doc_type=failure.document_type, business_key=failure.business_key,
                         evidence={"document": failure.document})
        failed_keys.add(failure.business_key)
    # validation keeps the good lines of a partly bad document: it is stored, and its failures quarantined
    stored_keys = {doc.business_key for doc in result.valid}
    evidence = [Evidence.of_inbox(inbox_of[doc.business_key]) for doc in result.valid]
    for outcome in documents.upsert_many(session, result.valid, actor=system, evidence=evidence):
        if outcome.outcome == "created":
            counts.new += 1
        elif outcome.outcome == "updated":
            counts.changed += 1
        else:
            counts.unchanged += 1
    for doc, inbox in zip(mapped, inboxes):
        key = doc.business_key
        if key in stored_keys:
            ledger.mark(inbox, "partially_processed" if key in failed_keys else "processed")
        else:
            ledger.mark(inbox, "quarantined", "validation failed")
            counts.quarantined += 1
