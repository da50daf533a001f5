"""Hub -> ERP: receipts, inspection results and order responses, through the outbox.

Whatever the ERP, a push is one outbox row per canonical document (target = the ERP system,
operation = the push kind, idempotency key = ``<system>:<kind>:<business key>``) delivered by
``ErpClient.push`` with the business key as the external number, so a rerun after a timeout
finds the bill it already created (hub/erp.py). Transport trouble leaves the row pending with
a backoff; a rejected document fails the row with its error for a human; nothing is dropped.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from canonical_model.documents import DOCUMENT_TYPES, CanonicalDocument
from canonical_model.store import Store, outbox
from canonical_model.store.tables import OutboxRow
from hub.erp import PUSH_KINDS, ErpClient
from hub.errors import FatalError, SkippableError
from hub.flows.common import quarantine_error
from hub.outbox import dispatch


@dataclass
class PushCounts:
    sent: int = 0
    failed: int = 0
    pending: int = 0
    #: ``<idempotency key>: WHERE: CODE message`` per failed or retrying row (not in ``line()``)
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        """The ``hub erp push`` output contract."""
        return f"sent={self.sent} failed={self.failed} pending={self.pending}"


def push_key(system: str, kind: str, document: CanonicalDocument) -> str:
    return f"{system}:{kind}:{document.business_key}"


def enqueue_push(session: Session, system: str, kind: str, document: CanonicalDocument) -> bool:
    """Queue ``document`` for the ERP once; False if it was already queued (or sent)."""
    expected = PUSH_KINDS.get(kind)
    if expected is None:
        raise ValueError(f"unknown push kind {kind!r}; one of {', '.join(PUSH_KINDS)}")
    if document.type != expected:  # type: ignore[attr-defined]
        raise ValueError(f"a {kind} push takes a {expected}, not a {document.type}")  # type: ignore[attr-defined]
    _, created = outbox.enqueue(session, target=system, operation=kind, idempotency_key=push_key(system, kind, document),
                                payload=document.model_dump(mode="json"))
    return created


def drain(store: Store, client: ErpClient, now: dt.datetime | None = None) -> PushCounts:
    """Deliver every due row for ``client.system``; count what is left pending (waiting for a retry)."""

    def deliver(row: OutboxRow) -> dict:
        kind = row.operation
        if kind not in PUSH_KINDS:
            raise FatalError("ERP_UNKNOWN_PUSH", f"outbox row {row.id} has push kind {kind!r}", row.idempotency_key)
        document = DOCUMENT_TYPES[PUSH_KINDS[kind]].model_validate(row.payload)
        try:
            return {"bill_no": client.push(kind, document, external_number=document.business_key)}
        except SkippableError as error:
            # the document cannot be posted as it is (an unknown code, a field the ERP refuses):
            # quarantined with the document as evidence; the outbox row is parked as failed
            with store.session() as session:
                quarantine_error(session, error, partner=client.system, doc_type=document.type,  # type: ignore[attr-defined]
                                 business_key=document.business_key,
                                 evidence={"document": row.payload, "outbox": row.idempotency_key})
            raise

    report = dispatch(store, client.system, deliver, now=now)
    with store.session() as session:
        pending = session.scalar(select(func.count()).select_from(OutboxRow).where(
            OutboxRow.target == client.system, OutboxRow.status == "pending")) or 0
    return PushCounts(sent=report.sent, failed=report.failed, pending=pending, errors=report.errors)
