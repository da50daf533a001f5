"""Steps shared by the flows: quarantining errors with evidence, building validation context, raising alerts."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Iterable, Optional

from sqlalchemy.orm import Session

from canonical_model.documents import Alert, PurchaseOrder, ShipmentNotice
from canonical_model.store import documents, quarantine
from canonical_model.store.tables import InboxRow
from hub.errors import HubError
from validation import OpenPoLine

def quarantine_error(session: Session, error: HubError, *, inbox: InboxRow | None = None,
                     partner: str | None = None, doc_type: str | None = None, business_key: str | None = None,
                     evidence: dict[str, Any] | None = None) -> bool:
    """Record one failure with its raw evidence; returns False if the same failure was already there."""
    evidence = dict(evidence or {})
    if inbox is not None:
        evidence.setdefault("file", inbox.name)
        evidence.setdefault("sha256", inbox.sha256)
    _, created = quarantine.add(
        session, reason_code=error.code, location=error.where or (inbox.name if inbox else "-"),
        message=error.message, evidence=evidence, inbox_id=inbox.id if inbox else None,
        raw_sha256=inbox.sha256 if inbox else None, partner=partner or (inbox.partner if inbox else None),
        doc_type=doc_type, business_key=business_key)
    return created


def purchase_orders_by_number(session: Session) -> dict[str, PurchaseOrder]:
    return {po.po_number: po for po in documents.current(session, "PurchaseOrder")}  # type: ignore[misc]


def open_po_lines(session: Session, exclude_asn_key: str | None = None) -> dict[tuple[str, int], OpenPoLine]:
    """Open quantity per PO line = ordered minus what other ASNs already announced."""
    announced: dict[tuple[str, int], Decimal] = {}
    for asn in documents.current(session, "ShipmentNotice"):
        assert isinstance(asn, ShipmentNotice)
        if asn.business_key == exclude_asn_key or asn.status == "cancelled":
            continue  # a cancelled ASN no longer claims any quantity
        for line in asn.lines:
            if line.po_number and line.po_line_no:
                key = (line.po_number, line.po_line_no)
                announced[key] = announced.get(key, Decimal(0)) + line.quantity
    lines = {}
    for po in purchase_orders_by_number(session).values():
        for line in po.lines:
            key = (po.po_number, line.line_no)
            lines[key] = OpenPoLine(po_number=po.po_number, line_no=line.line_no, material_id=line.material_id,
                                    uom=line.uom, ordered_qty=line.quantity,
                                    open_qty=line.quantity - announced.get(key, Decimal(0)),
                                    supplier_id=po.supplier_id, delivery_date=line.delivery_date)
    return lines


def raise_alerts(session: Session, alerts: Iterable[Alert], now: Optional[dt.datetime] = None) -> int:
    """Open each alert through its lifecycle (one per condition, audited); how many were newly opened."""
    from collaboration.alerts import raise_alert

    moment = now or dt.datetime.now(dt.timezone.utc)
    return sum(raise_alert(session, alert, now=moment, actor="rules")[1] for alert in alerts)
