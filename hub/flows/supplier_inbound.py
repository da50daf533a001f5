"""Supplier -> hub, second step: process the files ``supplier_collect`` put in the inbox.

Processing translates, validates against the store's open PO lines, quarantines what is bad
with its evidence and stores what is good.
"""
from __future__ import annotations

import logging

from sqlalchemy import update

from adapters.edi import acks as edi_acks
from canonical_model.documents import OrderResponse, ShipmentNotice
from canonical_model.store import Store, documents, ledger
from canonical_model.store.lineage import Evidence
from canonical_model.store.tables import InboxRow
from collaboration import alerts
from hub.errors import SkippableError
from hub.flows import acks
from hub.flows.common import open_po_lines, purchase_orders_by_number, quarantine_error, raise_alerts
from hub.flows.supplier_collect import CHANNEL
from hub.logs import log_context
from hub.partners import get_partner
from hub.translate import translate
from validation import DEFAULT_KNOWN_UOMS, ValidationContext, validate

log = logging.getLogger(__name__)


def process_inbox(store: Store, partner_id: str) -> dict[str, int]:
    """Every file of the partner still waiting in the inbox, one :func:`process_file` each."""
    counts = _no_counts()
    with store.session() as session:
        pending_ids = [row.id for row in ledger.pending(session, CHANNEL) if row.partner == partner_id]
    for inbox_id in pending_ids:
        for key, value in process_file(store, partner_id, inbox_id).items():
            counts[key] += value
    return counts


def pending_files(store: Store, partner_ids: list[str] | None = None) -> list[dict]:
    """``{"partner_id", "inbox_id"}`` of every inbox row still ``received`` (of these partners).

    Read from the store rather than from what this run collected, so a file an earlier run left
    pending (a failed processing, a partner with nothing new today) is picked up again.
    """
    with store.session() as session:
        rows = ledger.pending(session, CHANNEL)
    wanted = None if partner_ids is None else set(partner_ids)
    return [{"partner_id": row.partner, "inbox_id": row.id} for row in rows
            if wanted is None or row.partner in wanted]


def process_file(store: Store, partner_id: str, inbox_id: int) -> dict[str, int]:
    """Translate, validate and store one inbox row; a no-op unless the row is still ``received``.

    Safe to run twice or concurrently for the same row (an Airflow retry, a rerun, two workers):
    the claim and the work are one transaction, so exactly one runner sees ``received``.
    """
    counts = _no_counts()
    with log_context(partner=partner_id) as context, store.session() as session:
        if not _claim(session, partner_id, inbox_id):
            return counts
        profile = get_partner(partner_id)
        counts["files"] = 1
        inbox = session.get(InboxRow, inbox_id)
        context.bind(sha256=inbox.sha256)
        log.info("%s: processing %s (inbox %s)", partner_id, inbox.name, inbox_id)
        data = ledger.read_raw(store, session, inbox.sha256)
        # a CONTRL/997/999 answers something we sent: it updates the interchange register
        # and is not translated (there is no canonical document in it)
        got = acks.apply_inbound_acks(session, partner_id, data, inbox) if acks.is_ack(data) else None
        if got is not None:
            counts["quarantined"] += got["quarantined"]
            ledger.mark(inbox, "quarantined" if got["quarantined"] and not got["matched"] else "processed",
                        f"acknowledgement: {got['matched']} of {got['acks']} matched")
            return counts
        result = translate(data, inbox.name, partner=partner_id, charset_policy=profile.edi.charset_policy)
        inbox.control_ref = result.control_ref
        earlier = result.control_ref and ledger.find_control_ref(
            session, channel=CHANNEL, partner=partner_id, control_ref=result.control_ref, exclude_id=inbox.id)
        if earlier:
            error = SkippableError("DUPLICATE_INTERCHANGE",
                                   f"interchange {result.control_ref} from {partner_id} was already received "
                                   f"as {earlier.name}; not processed again", inbox.name)
            counts["quarantined"] += quarantine_error(session, error, inbox=inbox)
            counts["alerts"] += acks.duplicate_alert(session, partner_id, result.control_ref, earlier, inbox)
            ledger.mark(inbox, "duplicate", error.as_line())
            return counts
        # registered and answered (CONTRL/997 queued) before the content is judged: the ack
        # reports the envelope's syntax, business rejections are quarantine + alerts
        acks.acknowledge_inbound(session, profile, data, inbox)
        for error in result.errors:
            counts["quarantined"] += quarantine_error(session, error, inbox=inbox)
        if any(edi_acks.rejects_interchange(error) for error in result.errors):
            # our ack rejects the interchange, so the partner resends it: storing its messages
            # now would double them then (the resend may reuse the control number, see ledger)
            ledger.mark(inbox, "quarantined", "interchange rejected: envelope broken")
            return counts
        stored, failed = _store_documents(session, result.documents, inbox, profile)
        counts["documents"] += stored
        counts["quarantined"] += failed
        counts["alerts"] += _raise_alerts(session, result.documents)
        ledger.mark(inbox, "processed" if stored and not result.errors and not failed else
                    "partially_processed" if stored else "quarantined")
    return counts


def _no_counts() -> dict[str, int]:
    return {"files": 0, "documents": 0, "quarantined": 0, "alerts": 0}


def _claim(session, partner_id: str, inbox_id: int) -> bool:
    """Lock the row if it is still ``received``; False when it is gone, processed or not the partner's.

    A conditional UPDATE as the transaction's *first* statement, rather than SELECT ... FOR
    UPDATE, because it claims on both databases: PostgreSQL row-locks it and a concurrent
    claimer blocks, then re-checks the WHERE after our commit and matches nothing; SQLite takes
    its database write lock before reading (a SELECT first would run on a snapshot another
    writer can outdate). The value written is the same; the final status is set by the work.
    """
    claimed = session.execute(
        update(InboxRow)
        .where(InboxRow.id == inbox_id, InboxRow.partner == partner_id, InboxRow.channel == CHANNEL,
               InboxRow.status == "received")
        .values(status="received")
        .execution_options(synchronize_session=False))
    return claimed.rowcount == 1


def _store_documents(session, docs, inbox, profile) -> tuple[int, int]:
    stored = failed = 0
    for doc in docs:
        # each ASN is validated against the PO lines as the *other* ASNs left them open
        ctx = ValidationContext(
            open_po_lines=open_po_lines(session, exclude_asn_key=doc.business_key),
            known_uoms=DEFAULT_KNOWN_UOMS, over_ship_tolerance_pct=profile.inbound.over_ship_tolerance_pct,
            under_ship_tolerance_pct=profile.inbound.under_ship_tolerance_pct,
            date_window_days=profile.inbound.date_window_days,
            batch_required=profile.inbound.batch_required, all_or_nothing=profile.inbound.all_or_nothing)
        result = validate([doc], ctx)
        for failure in result.failures:
            failed += quarantine_error(session, failure.to_error().located(inbox.name), inbox=inbox,
                                       doc_type=failure.document_type, business_key=failure.business_key,
                                       evidence={"document": failure.document})
        for valid in result.valid:
            documents.upsert(session, valid, actor=f"sftp:{inbox.partner}", evidence=Evidence.of_inbox(inbox))
            stored += 1
            with log_context(doc_key=f"{valid.type}:{valid.business_key}"):
                log.info("%s: stored %s %s from %s", inbox.partner, valid.type, valid.business_key, inbox.name)
    return stored, failed


def _raise_alerts(session, docs) -> int:
    """Rules on what was just stored: short shipments, rejected or changed order lines."""
    purchase_orders = purchase_orders_by_number(session)
    raised = 0
    for doc in docs:
        if not isinstance(doc, (ShipmentNotice, OrderResponse)):
            continue
        stored = documents.get(session, doc.type, doc.business_key)
        if stored is None:
            continue  # quarantined whole: the quarantine row is the signal, not an alert
        rule = alerts.short_shipment if isinstance(stored, ShipmentNotice) else alerts.order_response
        raised += raise_alerts(session, rule(stored, purchase_orders))
    return raised
