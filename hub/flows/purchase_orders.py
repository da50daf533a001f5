"""ERP -> hub: pull new and changed purchase orders into the canonical store.

Each bill is archived raw and recorded in the inbox before it is mapped, so a bill that
fails mapping or validation is quarantined with its evidence, and an unchanged bill pulled
again (the watermark overlaps on purpose) is recognised by its hash and skipped.
"""
from __future__ import annotations

import json
from typing import Any

from adapters.kingdee.hook import KingdeeHook
from adapters.kingdee.translate import pull_purchase_orders as pull_bills
from canonical_model.documents import Source
from canonical_model.store import Store, documents, ledger, state
from hub.errors import SkippableError
from hub.flows.common import quarantine_error
from mappings.engine import load_mapping
from validation import DEFAULT_KNOWN_UOMS, ValidationContext, validate

MAPPING = "mappings/kingdee/PUR_PurchaseOrder.yaml"
WATERMARK = "kingdee:PUR_PurchaseOrder:FModifyDate"


def sync_purchase_orders(store: Store, hook: KingdeeHook) -> dict[str, int]:
    counts = {"pulled": 0, "new_or_changed": 0, "unchanged": 0, "quarantined": 0}
    mapping = load_mapping(MAPPING)
    with store.session() as session:
        since = state.get(session, WATERMARK)
    bills = pull_bills(hook, since)
    newest = since
    for bill in bills:
        counts["pulled"] += 1
        bill_no = str(bill.get("FBillNo"))
        raw = json.dumps(bill, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
        with store.session() as session:
            inbox, is_new = ledger.receive(store, session, channel="kingdee", partner="kingdee",
                                           name=f"PUR_PurchaseOrder/{bill_no}", data=raw)
            if not is_new:
                counts["unchanged"] += 1
            else:
                outcome = _store_bill(session, mapping, bill, inbox)
                counts[outcome] += 1
        # the pull filters on either date (auditing does not touch FModifyDate): so does the watermark
        newest = max(filter(None, [newest, *(str(bill.get(k) or "") for k in ("FModifyDate", "FApproveDate"))]),
                     default=None)
    if newest:
        with store.session() as session:
            state.put(session, WATERMARK, newest)
    return counts


def reprocess_pending(store: Store) -> dict[str, int]:
    """Map again the archived bills whose inbox rows were put back to ``received`` (replay)."""
    counts = {"new_or_changed": 0, "quarantined": 0}
    mapping = load_mapping(MAPPING)
    with store.session() as session:
        for inbox in ledger.pending(session, "kingdee"):
            bill = json.loads(ledger.read_raw(store, session, inbox.sha256))
            counts[_store_bill(session, mapping, bill, inbox)] += 1
    return counts


def _store_bill(session, mapping, bill: dict[str, Any], inbox) -> str:
    where = f"kingdee PUR_PurchaseOrder {bill.get('FBillNo')}"
    try:
        po = mapping.apply(bill, Source(system="kingdee", request=f"ExecuteBillQuery PUR_PurchaseOrder FID={bill.get('FID')}"))
    except SkippableError as error:
        quarantine_error(session, error.located(where) if not error.where else error, inbox=inbox,
                         doc_type="PurchaseOrder", business_key=str(bill.get("FBillNo")), evidence={"bill": bill})
        ledger.mark(inbox, "quarantined", error.as_line())
        return "quarantined"
    result = validate([po], ValidationContext(open_po_lines=None, known_uoms=DEFAULT_KNOWN_UOMS))
    for failure in result.failures:
        quarantine_error(session, failure.to_error(), inbox=inbox, doc_type="PurchaseOrder",
                         business_key=failure.business_key, evidence={"document": failure.document})
    for doc in result.valid:
        documents.upsert(session, doc, actor="kingdee")
    ledger.mark(inbox, "processed" if result.valid else "quarantined")
    return "new_or_changed" if result.valid else "quarantined"
