"""Hub -> WMS -> hub -> ERP: expected receipts before the truck arrives, then what was counted.

1. ``plan_expected_receipts``: one outbox row per ShipmentNotice (key: supplier/ASN). A
   cancelled ASN whose inbound was sent gets a second row, ``wms:cancel_inbound:<key>``, that
   withdraws it; one that was not sent yet is never pushed.
2. ``deliver_expected_receipts``: create (or withdraw) the inbound at the WMS (the hook is
   idempotent too). A withdrawal the WMS refuses because receiving has started is parked in
   the outbox and raises ASN_CANCEL_TOO_LATE for the warehouse.
3. ``collect_receipts``: for each inbound the WMS has counted, store a ``Receipt`` and a
   ``Batch`` per supplier batch, raise mismatch alerts, and queue the receipt for the plant's
   ERP (hub/flows/erp_push.py posts it: Save -> Submit -> Audit or create + approve, once).
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from adapters.wms.hook import WmsHook
from adapters.wms.discrepancies import receiving_discrepancies
from adapters.wms.translate import expected_receipt_from_asn, receipt_by_material
from canonical_model.documents import Batch, Receipt, ReceiptLine, ShipmentNotice, Source
from canonical_model.store import Store, documents, outbox
from canonical_model.store.tables import OutboxRow
from collaboration import alerts
from hub.errors import FatalError, SkippableError
from hub.flows.common import quarantine_error, raise_alerts
from hub.flows.erp_push import enqueue_push
from hub.outbox import DispatchReport, dispatch
from hub.partners import pushes_enabled

WMS = "wms"


def plan_expected_receipts(store: Store, dialect: str = "greaterwms") -> dict[str, int]:
    """``planned`` counts new outbox rows, creations and withdrawals alike; ``held`` the ASNs of
    partners not yet live (pilot/parallel: processed and compared, never pushed). ``dialect`` is
    the WMS's (its Connection's ``dialect`` extra): Odoo gets lots and SSCCs per line."""
    planned = quarantined = held = 0
    with store.session() as session:
        for asn in documents.current(session, "ShipmentNotice"):
            key = f"{WMS}:create_inbound:{asn.business_key}"
            if asn.status == "cancelled":
                planned += _plan_withdrawal(session, asn, key) == "planned"
                continue
            if not _partner_is_live(asn.supplier_id):
                held += 1
                continue
            try:
                payload = expected_receipt_from_asn(asn.content(), dialect)
            except SkippableError as error:
                quarantined += quarantine_error(session, error, partner=asn.supplier_id, doc_type="ShipmentNotice",
                                                business_key=asn.business_key, evidence={"document": asn.content()})
                continue
            # unique across suppliers; the WMS keeps it (GreaterWMS `creater`, Odoo `origin`) to find it again
            payload["asn_no"] = asn.business_key
            planned += outbox.enqueue(session, target=WMS, operation="create_inbound", idempotency_key=key,
                                      payload=payload)[1]
    return {"planned": planned, "quarantined": quarantined, "held": held}


def _partner_is_live(partner_id: str) -> bool:
    try:
        return pushes_enabled(partner_id)
    except FatalError:
        return False  # no profile: never push what nobody onboarded


def _plan_withdrawal(session, asn: ShipmentNotice, create_key: str) -> str:
    """What a cancelled ASN needs at the WMS: ``planned`` (a new withdrawal row), ``held`` (its
    unsent create row stopped), or ``none``."""
    create = session.scalars(select(OutboxRow).where(OutboxRow.idempotency_key == create_key)).first()
    if create is None or create.status == "failed":
        return "none"  # the WMS never got it: nothing to withdraw, and nothing will be pushed
    if create.status == "pending":
        # not delivered yet: stop it here rather than create an inbound only to delete it
        outbox.mark_failed(create, f"{asn.business_key}: ASN_CANCELLED the supplier cancelled the ASN "
                                   f"before it reached the WMS; not pushed")
        return "held"
    key = f"{WMS}:cancel_inbound:{asn.business_key}"
    payload = {"asn_no": asn.business_key, "asn_code": (create.result or {}).get("asn_code")}
    return "planned" if outbox.enqueue(session, target=WMS, operation="cancel_inbound", idempotency_key=key,
                                       payload=payload)[1] else "none"


def deliver_expected_receipts(store: Store, wms: WmsHook, now: dt.datetime | None = None) -> DispatchReport:
    def push(row: OutboxRow) -> dict | None:
        if row.operation == "cancel_inbound":
            return _withdraw(store, wms, row)
        return wms.create_inbound(**row.payload)

    return dispatch(store, WMS, push, now=now)


def _withdraw(store: Store, wms: WmsHook, row: OutboxRow) -> dict:
    try:
        return wms.cancel_inbound(row.payload["asn_no"])
    except SkippableError as error:
        if error.code == "WMS_CANCEL_TOO_LATE":
            # the outbox parks the row (failed, with this error); the alert tells someone to act
            with store.session() as session:
                asn = documents.get(session, "ShipmentNotice", row.payload["asn_no"])
                if asn is not None:
                    raise_alerts(session, [alerts.asn_cancel_too_late(
                        asn, row.payload.get("asn_code") or "?", error.message)])
        raise


def collect_receipts(store: Store, wms: WmsHook, erp: str) -> dict[str, int]:
    """Store what the WMS counted and put away; queue each receipt for ``erp`` (hub.erp.SYSTEMS)."""
    counts = {"receipts": 0, "batches": 0, "alerts": 0, "waiting": 0}
    with store.session() as session:
        sent = list(session.scalars(select(OutboxRow).where(
            OutboxRow.target == WMS, OutboxRow.operation == "create_inbound", OutboxRow.status == "sent")))
        inbound = [(row.payload["asn_no"], row.result["asn_code"]) for row in sent]
    for asn_key, asn_code in inbound:
        receipt_id = f"RCV-{asn_code}"
        with store.session() as session:
            if documents.get(session, "Receipt", receipt_id) is not None:
                continue
            asn = documents.get(session, "ShipmentNotice", asn_key)
            if asn is not None and asn.status == "cancelled":
                # withdrawn, or refused too late and in the warehouse's hands (ASN_CANCEL_TOO_LATE):
                # either way no Receipt or ERP booking comes from a cancelled ASN automatically
                continue
        wms_receipt = wms.get_receipt(asn_code, asn_key)
        if wms_receipt is None or not wms_receipt.get("complete"):
            # counted but not yet put away: the bins (hence the ERP stock) are not known yet
            counts["waiting"] += 1
            continue
        with store.session() as session:
            asn = documents.get(session, "ShipmentNotice", asn_key)
            receipt, batches = receipt_from_wms(receipt_id, wms_receipt, asn)
            documents.upsert(session, receipt, actor="wms")
            counts["receipts"] += 1
            for batch in batches:
                counts["batches"] += documents.upsert(session, batch, actor="wms").outcome == "created"
            found = alerts.receipt_mismatch(receipt, asn) + [
                alerts.receiving_discrepancy(d, receipt_id, asn) for d in receiving_discrepancies(wms_receipt, asn)]
            counts["alerts"] += raise_alerts(session, found)
            enqueue_push(session, erp, "receipt", receipt)
    return counts


def receipt_from_wms(receipt_id: str, wms_receipt: dict, asn: ShipmentNotice) -> tuple[Receipt, list[Batch]]:
    """WMS counts are per material; they are given to the ASN lines of that material in line
    order (each line filled up to its announced quantity, any surplus to the last line)."""
    lines: list[ReceiptLine] = []
    batches: dict[str, Batch] = {}
    by_line = {line.line_no: line for line in asn.lines}
    for row in receipt_by_material(wms_receipt, asn.content()):
        remaining = Decimal(row["qty_received"] or 0)
        for i, line_no in enumerate(row["line_nos"]):
            asn_line = by_line[line_no]
            qty = remaining if i == len(row["line_nos"]) - 1 else min(remaining, asn_line.quantity)
            remaining -= qty
            batch_id = f"{asn.supplier_id}:{asn_line.batch_number}" if asn_line.batch_number else None
            lines.append(ReceiptLine(line_no=len(lines) + 1, po_number=asn_line.po_number,
                                     po_line_no=asn_line.po_line_no, material_id=asn_line.material_id,
                                     quantity=qty, uom=asn_line.uom, batch_id=batch_id,
                                     location=row["bins"][0] if row["bins"] else None))
            if batch_id and qty > 0:
                # QC has not released it yet: received batches start quarantined
                previous = batches.get(batch_id)
                batches[batch_id] = Batch(batch_id=batch_id, material_id=asn_line.material_id,
                                          supplier_id=asn.supplier_id, supplier_batch_number=asn_line.batch_number,
                                          quantity=qty + (previous.quantity if previous else 0), uom=asn_line.uom,
                                          status="quarantined", expiry_date=asn_line.expiry_date,
                                          source=Source(system="wms", request=f"receipt {receipt_id}"))
    received_at = dt.datetime.fromisoformat(wms_receipt["received_at"]) if wms_receipt.get("received_at") \
        else dt.datetime.now(dt.timezone.utc)
    receipt = Receipt(receipt_id=receipt_id, asn_number=asn.asn_number, supplier_id=asn.supplier_id,
                      received_at=received_at, lines=lines,
                      source=Source(system="wms", request=f"asn_code {wms_receipt['asn_code']}"))
    return receipt, list(batches.values())


def sync_stock(store: Store, wms: WmsHook) -> dict[str, int]:
    """The WMS's on-hand stock by material, location and lot as StockLevel documents (what MRP nets
    against); unchanged levels are no-ops, changed ones new versions with their diff audited."""
    levels = wms.stock_snapshot()
    with store.session() as session:
        outcomes = documents.upsert_many(session, levels, actor="wms")
    return {"stock_levels": len(levels), "changed": sum(o.outcome != "unchanged" for o in outcomes)}
