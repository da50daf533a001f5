"""Supplier -> hub, second step: process the files ``supplier_collect`` put in the inbox.

Processing translates, validates against the store's open PO lines, quarantines what is bad
with its evidence and stores what is good.
"""
from __future__ import annotations

from adapters.edi import acks as edi_acks
from canonical_model.documents import OrderResponse, ShipmentNotice
from canonical_model.store import Store, documents, ledger
from canonical_model.store.tables import InboxRow
from collaboration import alerts
from hub.errors import SkippableError
from hub.flows import acks
from hub.flows.common import open_po_lines, purchase_orders_by_number, quarantine_error
from hub.flows.supplier_collect import CHANNEL
from hub.partners import get_partner
from hub.translate import translate
from validation import DEFAULT_KNOWN_UOMS, ValidationContext, validate


def process_inbox(store: Store, partner_id: str) -> dict[str, int]:
    profile = get_partner(partner_id)
    counts = {"files": 0, "documents": 0, "quarantined": 0, "alerts": 0}
    with store.session() as session:
        pending_ids = [row.id for row in ledger.pending(session, CHANNEL) if row.partner == partner_id]
    for inbox_id in pending_ids:
        counts["files"] += 1
        with store.session() as session:
            inbox = session.get(InboxRow, inbox_id)
            data = ledger.read_raw(store, session, inbox.sha256)
            # a CONTRL/997/999 answers something we sent: it updates the interchange register
            # and is not translated (there is no canonical document in it)
            got = acks.apply_inbound_acks(session, partner_id, data, inbox) if acks.is_ack(data) else None
            if got is not None:
                counts["quarantined"] += got["quarantined"]
                ledger.mark(inbox, "quarantined" if got["quarantined"] and not got["matched"] else "processed",
                            f"acknowledgement: {got['matched']} of {got['acks']} matched")
                continue
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
                continue
            # registered and answered (CONTRL/997 queued) before the content is judged: the ack
            # reports the envelope's syntax, business rejections are quarantine + alerts
            acks.acknowledge_inbound(session, profile, data, inbox)
            for error in result.errors:
                counts["quarantined"] += quarantine_error(session, error, inbox=inbox)
            if any(edi_acks.rejects_interchange(error) for error in result.errors):
                # our ack rejects the interchange, so the partner resends it: storing its messages
                # now would double them then (the resend may reuse the control number, see ledger)
                ledger.mark(inbox, "quarantined", "interchange rejected: envelope broken")
                continue
            stored, failed = _store_documents(session, result.documents, inbox, profile)
            counts["documents"] += stored
            counts["quarantined"] += failed
            counts["alerts"] += _raise_alerts(session, result.documents)
            ledger.mark(inbox, "processed" if stored and not result.errors and not failed else
                        "partially_processed" if stored else "quarantined")
    return counts


def _store_documents(session, docs, inbox, profile) -> tuple[int, int]:
    stored = failed = 0
    for doc in docs:
        # each ASN is validated against the PO lines as the *other* ASNs left them open
        ctx = ValidationContext(
            open_po_lines=open_po_lines(session, exclude_asn_key=doc.business_key),
            known_uoms=DEFAULT_KNOWN_UOMS, over_ship_tolerance_pct=profile.inbound.over_ship_tolerance_pct,
            batch_required=profile.inbound.batch_required, all_or_nothing=profile.inbound.all_or_nothing)
        result = validate([doc], ctx)
        for failure in result.failures:
            failed += quarantine_error(session, failure.to_error().located(inbox.name), inbox=inbox,
                                       doc_type=failure.document_type, business_key=failure.business_key,
                                       evidence={"document": failure.document})
        for valid in result.valid:
            documents.upsert(session, valid, actor=f"sftp:{inbox.partner}")
            stored += 1
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
        for alert in rule(stored, purchase_orders):
            raised += documents.upsert(session, alert, actor="rules").outcome != "unchanged"
    return raised
