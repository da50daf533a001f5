"""Replaying a quarantined payload once its cause is fixed (mapping, crosswalk, ERP data).

The raw bytes come from the archive, never from the partner again. The inbox row goes back
to ``received`` and the channel's normal processing runs; documents already stored are
no-ops, and a failure that persists reopens the same quarantine row.
"""
from __future__ import annotations

from sqlalchemy import select

from canonical_model.store import Store, ledger
from canonical_model.store.tables import InboxRow, QuarantineRow
from hub.erp import SYSTEMS, ErpClient


def replay(store: Store, quarantine_id: int, erp: "ErpClient | None" = None) -> str:
    """Re-run one quarantined payload; ERP records are mapped with ``erp`` (default: ``open_erp`` on the channel)."""
    with store.session() as session:
        row = session.get(QuarantineRow, quarantine_id)
        if row is None:
            raise LookupError(f"no quarantine row {quarantine_id}")
        event_id = (row.evidence or {}).get("event_id")
        if row.inbox_id is None and event_id is not None:
            pushed = int(event_id)  # an event pushed to the ingress API: its raw body is archived with it
        elif row.inbox_id is None:
            raise LookupError(f"quarantine row {quarantine_id} has no inbound payload to replay "
                              f"({row.reason_code} at {row.location}); fix the source and let the next run retry")
        else:
            pushed = None
    if pushed is not None:
        return _replay_event(store, quarantine_id, pushed)
    with store.session() as session:
        row = session.get(QuarantineRow, quarantine_id)
        inbox = session.get(InboxRow, row.inbox_id)
        channel, partner = inbox.channel, inbox.partner
        ledger.mark(inbox, "received", f"replay of quarantine {quarantine_id}")
        inbox.processed_at = None
        # every failure of this payload is re-decided by the replay, not just the one named
        for sibling in session.scalars(select(QuarantineRow).where(
                QuarantineRow.inbox_id == inbox.id, QuarantineRow.status == "open")):
            sibling.status = "replayed"
    if channel == "sftp":
        from hub.flows.supplier_inbound import process_inbox

        counts = process_inbox(store, partner)
    elif channel in SYSTEMS:
        from hub.erp import open_erp
        from hub.flows.erp_sync import reprocess_pending

        client = erp or open_erp(channel)
        try:
            counts = reprocess_pending(store, client).line()
        finally:
            if erp is None:
                client.close()
    else:
        raise LookupError(f"no replay for channel {channel!r}")
    with store.session() as session:
        reopened = session.get(QuarantineRow, quarantine_id).status == "open"
    return f"replayed quarantine {quarantine_id}: {counts}" + (" (still failing: row reopened)" if reopened else "")


def _replay_event(store: Store, quarantine_id: int, event_id: int) -> str:
    from hub.flows.events import process_event, requeue

    if not requeue(store, event_id):
        raise LookupError(f"quarantine row {quarantine_id} names event {event_id}, which is not quarantined or failed")
    status = process_event(store, event_id)
    with store.session() as session:
        reopened = session.get(QuarantineRow, quarantine_id).status == "open"
    return f"replayed quarantine {quarantine_id}: event {event_id} {status}" + (
        " (still failing: row reopened)" if reopened else "")
