"""Hub -> supplier: each purchase order version goes out once as an EDIFACT ORDERS file.

Planning puts one outbox row per (PO, version) with its interchange already written, so the
control reference is taken from the partner's counter exactly once and a rerun neither
rewrites nor re-sends anything. Delivery uploads over SFTP (temp name, then rename), for every
outbox row of the partner (ORDERS and the CONTRL/997 acks hub.flows.acks queues), and registers
each interchange sent so the partner's acknowledgement can be matched and chased.
"""
from __future__ import annotations

import base64
import datetime as dt

from adapters.edi.messages import purchase_order_to_orders
from adapters.sftp.hook import SftpHook
from canonical_model.documents import PurchaseOrder
from canonical_model.store import Store, documents, outbox, state
from canonical_model.store.tables import OutboxRow, utcnow
from hub.outbox import DispatchReport, dispatch
from hub.partners import get_partner, load_partners
from sqlalchemy import select
from sqlalchemy.orm import object_session

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


def deliver_outbox(store: Store, partner_id: str, now: dt.datetime | None = None) -> DispatchReport:
    """Upload every due ``supplier_sftp`` outbox row of the partner (ORDERS, our ACKs, ...) and
    register each EDI interchange it carried in the interchange register, in the same
    transaction that marks the row sent (hub.flows.acks.register_sent)."""
    from hub.flows.acks import register_sent

    profile = get_partner(partner_id)
    hook: SftpHook | None = None

    def upload(row: OutboxRow) -> dict:
        nonlocal hook
        if hook is None:
            hook = SftpHook(profile.sftp_config()).connect()
        path = hook.upload_atomic(None, row.payload["filename"], base64.b64decode(row.payload["content_b64"]))
        session = object_session(row)
        registered = register_sent(session, row, profile, utcnow()) if session is not None else None
        return {"path": path, **({"interchange": registered.control_ref} if registered is not None else {})}

    try:
        return dispatch(store, TARGET, upload, now=now, only=lambda row: row.payload.get("partner") == partner_id)
    finally:
        if hook is not None:
            hook.close()


def partners() -> list[str]:
    return sorted(load_partners())
