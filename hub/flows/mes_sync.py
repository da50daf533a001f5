"""MES -> hub: production orders, material consumption and finished lots from Opcenter, through the ERP's sync steps.

Watermark with overlap, raw archive and ledger dedupe, mapping (mappings/opcenter/), validation
and bulk upsert are hub.flows.erp_sync's; what differs is the feed: consumption arrives as the
MES's view of a batch (which orders consumed it) and is merged into the Batch that receiving
and QC stored, so the MES adds links and the ``consumed`` status without overwriting the rest.
That link is the traceability from supplier lot to production order. Finished lots arrive the
same way with ``produced`` links (order -> the lot it made) and merge the same way, so
collaboration.trace follows a supplier lot through its order to the finished lot.
"""
from __future__ import annotations

from canonical_model.store import Store, documents
from hub.flows.erp_sync import Feed, SyncCounts, sync_entity

MES_KINDS = ("production_orders", "consumption", "finished_lots")


def mes_feeds() -> dict[str, Feed]:
    from adapters.opcenter.translate import merge_produced_batch, merge_pulled_batch

    return {"production_orders": Feed("ProductionOrder"), "consumption": Feed("Batch", merge=merge_pulled_batch),
            "finished_lots": Feed("Batch", merge=merge_produced_batch)}


def push_incoming_batches(store: Store, mes) -> dict[str, int]:
    """Tell the MES about every received batch not yet consumed, with its QC status (idempotent:
    the client writes only what changed), so production can plan with it once QC releases it.
    Finished lots (a ``produced`` link) came from the MES and are not sent back to it."""
    with store.session() as session:
        batches = [b for b in documents.current(session, "Batch")
                   if b.status != "consumed" and not any(link.relation in ("consumed_by", "produced")
                                                         for link in b.links)]
    for batch in batches:
        mes.push_incoming_batch(batch)
    return {"batches": len(batches)}


def sync_mes(store: Store, mes, kind: str) -> SyncCounts:
    """Pull ``kind`` (production_orders, consumption or finished_lots) from ``mes``
    (adapters.opcenter.mes.OpcenterMes)."""
    return sync_entity(store, mes, kind, feeds=mes_feeds())
