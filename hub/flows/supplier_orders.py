"""Hub -> supplier: each purchase order version goes out once as an EDIFACT ORDERS file.

Planning puts one outbox row per (PO, version) with its interchange already written, so the
control reference is taken from the partner's counter exactly once and a rerun neither
rewrites nor re-sends anything. Delivery uploads over SFTP (temp name, then rename).
"""
from __future__ import annotations

import base64

from adapters.edi.messages import purchase_order_to_orders
from adapters.sftp.config import SftpConfig
from adapters.sftp.hook import SftpHook
from canonical_model.documents import PurchaseOrder
from canonical_model.store import Store, documents, outbox, state
from canonical_model.store.tables import OutboxRow
from hub.outbox import DispatchReport, dispatch
from hub.partners import get_partner, load_partners
from sqlalchemy import select

TARGET = "supplier_sftp"


def plan_orders(store: Store, partner_id: str) -> dict[str, int]:
    profile = get_partner(partner_id)
    planned = 0
    with store.session() as session:
        for po in documents.current(session, "PurchaseOrder"):
            assert isinstance(po, PurchaseOrder)
            if po.supplier_id != partner_id:
                continue
            version = documents.current_version(session, "PurchaseOrder", po.business_key)
            key = f"{TARGET}:ORDERS:{partner_id}:{po.po_number}:v{version}"
            if session.scalars(select(OutboxRow.id).where(OutboxRow.idempotency_key == key)).first():
                continue
            control_ref = str(state.next_counter(session, f"edifact:{partner_id}:out"))
            data = purchase_order_to_orders(po, sender=profile.edi.our_id, recipient=profile.edi.their_id,
                                            control_ref=control_ref)
            outbox.enqueue(session, target=TARGET, operation="ORDERS", idempotency_key=key, payload={
                "partner": partner_id, "po_number": po.po_number, "version": version,
                "control_ref": control_ref, "filename": f"ORDERS_{po.po_number}_v{version}_{control_ref}.edi",
                "content_b64": base64.b64encode(data).decode("ascii")})
            planned += 1
    return {"planned": planned}


def deliver_orders(store: Store, partner_id: str) -> DispatchReport:
    profile = get_partner(partner_id)
    hook: SftpHook | None = None

    def upload(row: OutboxRow) -> dict:
        nonlocal hook
        if hook is None:
            hook = SftpHook(SftpConfig.from_conn_id(profile.sftp_conn_id)).connect()
        path = hook.upload_atomic(None, row.payload["filename"], base64.b64decode(row.payload["content_b64"]))
        return {"path": path}

    try:
        return dispatch(store, TARGET, upload, only=lambda row: row.payload.get("partner") == partner_id)
    finally:
        if hook is not None:
            hook.close()


def partners() -> list[str]:
    return sorted(load_partners())
