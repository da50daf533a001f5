"""Stored events (the ingress API) -> canonical documents; the events DAG calls :func:`run`.

Each event still ``received`` is processed in its own transaction, claimed first so two runners
never both take it (hub/flows/supplier_inbound.py does the same for files); the work reads the
raw body from the archive, never a copy:

* ``jiandaoyun``: ``adapters.jiandaoyun.webhook.handle_event`` -> OrderResponse (purchase task,
  plan change), ShipmentNotice, Inspection, ProductionOrder. A removed ASN record withdraws the
  stored ASN (a ``cancelled`` version; the warehouse flow then cancels its expected receipt).
  A supplier's answer on the delivery-schedule form is no document: :func:`handle_schedule_ack`
  hands it to the plan-sync flow (``hub.flows.schedules.record_schedule_ack``);
* ``wms`` ``receipt``: a ``Receipt`` and one ``Batch`` per supplier batch, exactly as the polled
  path builds them (hub/flows/warehouse.receipt_from_wms), mismatch and scan alerts, and the
  receipt queued for the plant's ERP; a receipt without a known ASN is quarantined (NO_ASN)
  with an alert; ``qc``: the batch's status (hold -> quarantined, released, rejected);
* ``opcenter``: the order / lot through ``adapters.opcenter.translate`` and
  mappings/opcenter/ -> ``ProductionOrder``, or ``Batch`` with its ``consumed_by`` links;
* ``supplier`` ``asn``: a ``ShipmentNotice`` validated against the open PO lines with the
  partner's tolerances, like an ASN file.

Documents go through validation (bad ones to quarantine with the event's raw sha256 as
evidence) and are upserted (same content: no-op). The event ends ``processed`` (something
stored or nothing to store), ``quarantined`` (its data could not be used: quarantine row with
the reason code) or ``failed`` (the hub crashed on it: a bug; quarantined as
EVENT_HANDLER_FAILED). A configuration problem (FatalError, e.g. a missing Connection) leaves
the event ``received`` for the next run and fails the run. Processed events are never claimed
again.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Optional

from pydantic import ValidationError
from sqlalchemy.orm import Session

from canonical_model.documents import Alert, Batch, CanonicalDocument, Inspection, ShipmentNotice, Source
from canonical_model.store import Store, documents, events, ledger, quarantine
from canonical_model.store.lineage import Evidence
from canonical_model.store.tables import EventRow
from collaboration import alerts
from hub.errors import FatalError, HubError, RetriableError, SkippableError
from hub.flows.common import open_po_lines, purchase_orders_by_number, raise_alerts
from hub.logs import log_context
from validation import DEFAULT_KNOWN_UOMS, ValidationContext, validate

log = logging.getLogger(__name__)

PROCESSED, QUARANTINED, FAILED = events.PROCESSED, events.QUARANTINED, events.FAILED
#: events one run takes at most (the schedule or the next trigger takes the rest)
DEFAULT_LIMIT = 1000


@dataclass(frozen=True)
class Outcome:
    status: str
    detail: str


def run(limit: Optional[int] = DEFAULT_LIMIT) -> dict[str, int]:
    """The DAG task: process what is pending in the hub's store."""
    from canonical_model.store import open_store

    store = open_store()
    try:
        return process_pending(store, limit=limit)
    finally:
        store.dispose()


def process_pending(store: Store, limit: Optional[int] = DEFAULT_LIMIT) -> dict[str, int]:
    """Every ``received`` event, oldest first, one transaction each; counts per outcome.

    Raises, after the others were processed: the first configuration (fatal) or retriable error
    (those events stay ``received``), else FatalError EVENTS_FAILED when the hub crashed on some."""
    with store.session() as session:
        pending = events.pending_ids(session, limit)
    counts = {"events": len(pending), PROCESSED: 0, QUARANTINED: 0, FAILED: 0, "waiting": 0}
    held: list[HubError] = []
    failed: list[int] = []
    for event_id in pending:
        try:
            status = process_event(store, event_id)
        except (FatalError, RetriableError) as error:
            counts["waiting"] += 1
            held.append(error)
            continue
        if status in counts:
            counts[status] += 1
        if status == FAILED:
            failed.append(event_id)
    log.info("events: %s", counts)
    if held:
        # a configuration error wins: retrying cannot fix it, a human must
        fatal = [error for error in held if not isinstance(error, RetriableError)]
        raise (fatal or held)[0]
    if failed:
        raise FatalError("EVENTS_FAILED", f"the hub failed on event(s) {', '.join(map(str, failed[:20]))}; they are "
                                          f"quarantined as EVENT_HANDLER_FAILED (hub quarantine list)", "events")
    return counts


def process_event(store: Store, event_id: int) -> str:
    """Process one event if it is still ``received``; its new status, or ``not_pending``."""
    try:
        with log_context() as context, store.session() as session:
            row = events.claim(session, event_id)
            if row is None:
                return "not_pending"
            context.bind(partner=row.partner or row.source, sha256=row.raw_sha256)
            raw = ledger.read_raw(store, session, row.raw_sha256)
            handler = HANDLERS.get(row.source)
            if handler is None:
                outcome = Outcome(PROCESSED, f"skipped: no handler for {row.source}/{row.kind}")
            else:
                try:
                    outcome = handler(session, row, raw)
                except SkippableError as error:
                    # handlers raise before they write: nothing of this event is half stored
                    _quarantine(session, row, error)
                    outcome = Outcome(QUARANTINED, error.as_line())
            events.mark(row, outcome.status, outcome.detail[:4000])
            log.info("events: event %s (%s %s) %s", row.id, row.source, row.kind, outcome.status)
            return outcome.status
    except (FatalError, RetriableError):
        raise
    except Exception as exc:  # noqa: BLE001 - a bug must not stop the other events, nor hide
        log.exception("events: event %s crashed the handler", event_id)
        crash = SkippableError("EVENT_HANDLER_FAILED", f"{type(exc).__name__}: {str(exc)[:300]}; a hub bug: fix "
                                                       f"it, then replay the event", f"event {event_id}")
        with store.session() as session:
            row = session.get(EventRow, event_id)
            if row is None or row.status != events.RECEIVED:
                return "not_pending"
            _quarantine(session, row, crash)
            events.mark(row, FAILED, crash.as_line())
        return FAILED


def requeue(store: Store, event_id: int) -> bool:
    """Put a ``quarantined`` or ``failed`` event back to ``received`` (after its cause was fixed:
    the ASN arrived, the mapping or the hub was corrected); its open quarantine rows become
    ``replayed``, and a failure that persists reopens them. False if the event is not there or
    not in one of those states. ``hub quarantine replay`` can call this for rows whose evidence
    names an ``event_id``."""
    with store.session() as session:
        row = session.get(EventRow, event_id)
        if row is None or row.status not in (QUARANTINED, FAILED):
            return False
        row.status, row.detail, row.processed_at = events.RECEIVED, f"requeued after {row.status}", None
        for entry in quarantine.list_rows(session):
            if entry.raw_sha256 == row.raw_sha256 and (entry.evidence or {}).get("event_id") == row.id:
                entry.status = "replayed"
    return True


def _quarantine(session: Session, row: EventRow, error: HubError, *, doc_type: Optional[str] = None,
                business_key: Optional[str] = None, evidence: Optional[dict[str, Any]] = None) -> bool:
    """One failure of an event, with the event's raw body (by sha256) as evidence."""
    _, created = quarantine.add(
        session, reason_code=error.code, location=error.where or f"event {row.id}", message=error.message,
        raw_sha256=row.raw_sha256, partner=row.partner or row.source, doc_type=doc_type, business_key=business_key,
        evidence={"event_id": row.id, "source": row.source, "kind": row.kind, "delivery_id": row.delivery_id,
                  "sha256": row.raw_sha256, **(evidence or {})})
    return created


# ------------------------------------------------------------------------------ storing documents


def _context(session: Session, doc: CanonicalDocument) -> ValidationContext:
    if not isinstance(doc, ShipmentNotice):
        return ValidationContext(open_po_lines=None, known_uoms=DEFAULT_KNOWN_UOMS)
    from hub.partners import get_partner

    try:
        inbound = get_partner(doc.supplier_id).inbound
    except FatalError:
        inbound = None  # a portal supplier without an EDI profile: the default rules
    lines = open_po_lines(session, exclude_asn_key=doc.business_key)
    if inbound is None:
        return ValidationContext(open_po_lines=lines, known_uoms=DEFAULT_KNOWN_UOMS)
    return ValidationContext(open_po_lines=lines, known_uoms=DEFAULT_KNOWN_UOMS,
                             over_ship_tolerance_pct=inbound.over_ship_tolerance_pct,
                             under_ship_tolerance_pct=inbound.under_ship_tolerance_pct,
                             date_window_days=inbound.date_window_days, batch_required=inbound.batch_required,
                             all_or_nothing=inbound.all_or_nothing)


def _store_documents(session: Session, row: EventRow, docs: list[CanonicalDocument], actor: str) -> Outcome:
    """Validate each document (ASNs against the open PO lines), upsert the good, quarantine the bad."""
    stored: list[str] = []
    failed = 0
    for doc in docs:
        result = validate([doc], _context(session, doc))
        for failure in result.failures:
            failed += _quarantine(session, row, failure.to_error(), doc_type=failure.document_type,
                                  business_key=failure.business_key, evidence={"document": failure.document})
        for valid in result.valid:
            outcome = documents.upsert(session, valid, actor=actor, evidence=Evidence.of_event(row))
            stored.append(f"{valid.type} {valid.business_key} {outcome.outcome} v{outcome.version}")
            with log_context(doc_key=f"{valid.type}:{valid.business_key}"):
                log.info("events: event %s stored %s", row.id, stored[-1])
    raised = _raise_alerts(session, docs)
    if not stored:
        if failed or docs:
            return Outcome(QUARANTINED, f"nothing stored: {len(docs)} document(s) failed validation")
        return Outcome(PROCESSED, "no business document")
    detail = "; ".join(stored)
    if failed:
        detail += f"; {failed} failure(s) quarantined"
    if raised:
        detail += f"; {raised} alert(s)"
    return Outcome(PROCESSED, detail)


def _raise_alerts(session: Session, docs: list[CanonicalDocument]) -> int:
    """The rules the SFTP path applies too: short shipments, rejected or changed order lines."""
    wanted = [doc for doc in docs if doc.type in ("ShipmentNotice", "OrderResponse")]  # type: ignore[attr-defined]
    if not wanted:
        return 0
    purchase_orders = purchase_orders_by_number(session)
    raised = 0
    for doc in wanted:
        stored = documents.get(session, doc.type, doc.business_key)  # type: ignore[attr-defined]
        if stored is None:
            continue  # quarantined whole: the quarantine row is the signal
        rule = alerts.short_shipment if isinstance(stored, ShipmentNotice) else alerts.order_response
        raised += raise_alerts(session, rule(stored, purchase_orders))  # type: ignore[arg-type]
    return raised


def _stored_batch(session: Session, batch_id: str) -> Optional[Batch]:
    stored = documents.get(session, "Batch", batch_id)
    return stored if isinstance(stored, Batch) else None


def _merged_batch(stored: Optional[Batch], new: Batch, *, keep_stored_status: bool) -> Batch:
    """``new`` completed from the stored version: what one system does not know, another said before.

    Links are the union (a lot's consumptions add up, a receipt never removes one). The status
    of a batch already known is kept when ``keep_stored_status`` (a repeated WMS receipt must not
    put a released batch back into quarantine); the MES's status (consumed) wins otherwise."""
    if stored is None:
        return new
    links = list(stored.links)
    for link in new.links:
        if link not in links:
            links.append(link)
    return new.model_copy(update={
        "supplier_id": new.supplier_id or stored.supplier_id,
        "supplier_batch_number": new.supplier_batch_number or stored.supplier_batch_number,
        "expiry_date": new.expiry_date or stored.expiry_date,
        "status": stored.status if keep_stored_status else new.status,
        "links": links,
    })


# ------------------------------------------------------------------------------------- Jiandaoyun


def _jiandaoyun(session: Session, row: EventRow, raw: bytes) -> Outcome:
    from adapters.jiandaoyun.config import JiandaoyunConfig
    from adapters.jiandaoyun.webhook import form_purpose, handle_event, parse_event

    event = parse_event(raw, max_bytes=max(len(raw), 1))
    config = JiandaoyunConfig.from_conn_id()
    if event.op == "data_remove":
        purpose = form_purpose(event, config)
        return _withdraw_removed_asn(session, row, event.data_id or "", purpose)
    if event.carries_record and form_purpose(event, config) == "delivery_schedule":
        return handle_schedule_ack(session, event, config)
    docs = handle_event(event, config)
    if not docs:
        return Outcome(PROCESSED, f"no business document ({event.op}"
                                  f"{', an unanswered task' if event.carries_record else ''})")
    return _store_documents(session, row, docs, actor="jiandaoyun")


def handle_schedule_ack(session: Session, event: Any, config: Any,
                        record_ack: Optional[Callable[..., bool]] = None) -> Outcome:
    """A supplier's answer to a delivery schedule in the portal -> ``record_ack`` (default: the plan-sync
    flow's ``record_schedule_ack``). A bad answer raises SkippableError before anything is written
    (process_event quarantines it); an unknown or stale version is the recorder's to audit."""
    from adapters.jiandaoyun.schedule import parse_schedule_ack

    ack = parse_schedule_ack(event, config)
    if ack is None:
        return Outcome(PROCESSED, "no business document (delivery schedule saved without an answer)")
    if record_ack is None:
        from hub.flows.schedules import record_schedule_ack as record_ack
    answer = f"schedule {ack.schedule_id} v{ack.version} of {ack.supplier_id} {ack.status} by {ack.by}"
    if not record_ack(session, **ack.recorder_arguments()):
        return Outcome(PROCESSED, f"{answer}: not recorded (unknown or stale version; audited)")
    return Outcome(PROCESSED, answer)


def _withdraw_removed_asn(session: Session, row: EventRow, data_id: str, purpose: Optional[str]) -> Outcome:
    """A removed ASN record withdraws the ASN it became (found by its form record in ``source``)."""
    if purpose not in (None, "asn") or not data_id:
        return Outcome(PROCESSED, f"no business document (record {data_id or '?'} removed)")
    withdrawn = []
    for asn in documents.current(session, "ShipmentNotice"):
        source = asn.source
        if asn.status == "cancelled" or source is None or source.system != "jiandaoyun" or \
                not (source.request or "").endswith(f"/{data_id}"):
            continue
        cancelled = asn.model_copy(update={"status": "cancelled", "source": source.model_copy(
            update={"message_ref": row.delivery_id})})
        documents.upsert(session, cancelled, actor="jiandaoyun", evidence=Evidence.of_event(row))
        withdrawn.append(asn.business_key)
    if not withdrawn:
        return Outcome(PROCESSED, f"no business document (record {data_id} removed; no stored ASN came from it)")
    return Outcome(PROCESSED, f"ShipmentNotice {', '.join(withdrawn)} cancelled (record {data_id} removed in "
                              f"Jiandaoyun)")


# -------------------------------------------------------------------------------------------- WMS

_QC_STATUS = {"hold": "quarantined", "released": "released", "rejected": "rejected"}


def _wms(session: Session, row: EventRow, raw: bytes) -> Outcome:
    from pydantic import TypeAdapter

    from hub.api.models import WmsEvent, WmsQcEvent

    event = _valid(TypeAdapter(WmsEvent), json.loads(raw), row)
    if isinstance(event, WmsQcEvent):
        return _wms_qc(session, row, event)
    return _wms_receipt(session, row, event)


def _valid(adapter: Any, payload: Any, row: EventRow) -> Any:
    try:
        return adapter.validate_python(payload)
    except ValidationError as exc:
        # the ingress checked the shape; this is an event stored before the shape changed
        raise SkippableError("EVENT_INVALID", f"{row.source} {row.kind} event no longer fits its schema: "
                                              f"{exc.error_count()} problem(s)", f"event {row.id}") from None


def _wms_receipt(session: Session, row: EventRow, event: Any) -> Outcome:
    from adapters.wms.discrepancies import receiving_discrepancies
    from hub.erp import configured_system
    from hub.flows.erp_push import enqueue_push
    from hub.flows.warehouse import receipt_from_wms

    receipt = event.receipt
    ref = receipt.asn_code or (str(receipt.wms_id) if receipt.wms_id is not None else None) or receipt.asn_no
    neutral = {**receipt.model_dump(mode="json"), "asn_code": ref}
    if not receipt.complete:
        return Outcome(PROCESSED, f"skipped: receipt {ref} counted but put-away still running; the complete "
                                  f"receipt follows")
    asn = documents.get(session, "ShipmentNotice", receipt.asn_no) if receipt.asn_no else None
    if asn is not None and asn.status == "cancelled":
        # withdrawn, or refused too late and in the warehouse's hands: no Receipt or ERP booking
        # comes from a cancelled ASN automatically (the polled path skips it the same way)
        raise SkippableError("ASN_CANCELLED", f"WMS receipt {ref} is for ASN {asn.business_key}, which the supplier "
                                              f"cancelled; the warehouse and the buyer decide", f"wms receipt {ref}")
    if asn is None:
        raise_alerts(session, [alerts.receiving_discrepancy(d, f"RCV-{ref}", None)
                               for d in receiving_discrepancies(neutral, None)])
        error = SkippableError("NO_ASN", f"WMS receipt {ref} names no ASN the hub knows (asn_no "
                                         f"{receipt.asn_no or 'none'}); replay the event once the ASN is stored",
                               f"wms receipt {ref}")
        _quarantine(session, row, error, doc_type="Receipt", business_key=f"RCV-{ref}")
        return Outcome(QUARANTINED, error.as_line())
    receipt_doc, batches = receipt_from_wms(f"RCV-{ref}", neutral, asn)  # type: ignore[arg-type]
    merged = [_merged_batch(_stored_batch(session, b.batch_id), b, keep_stored_status=True) for b in batches]
    outcome = _store_documents(session, row, [receipt_doc, *merged], actor="wms")
    if documents.get(session, "Receipt", receipt_doc.business_key) is None:
        return outcome
    raised = raise_alerts(session, [*alerts.receipt_mismatch(receipt_doc, asn),  # type: ignore[arg-type]
                                    *(alerts.receiving_discrepancy(d, receipt_doc.business_key, asn)
                                      for d in receiving_discrepancies(neutral, asn))])
    queued = enqueue_push(session, configured_system(), "receipt", receipt_doc)
    return Outcome(outcome.status, outcome.detail + (f"; {raised} alert(s)" if raised else "")
                   + ("; queued for the ERP" if queued else ""))


def _wms_qc(session: Session, row: EventRow, event: Any) -> Outcome:
    decision = event.qc
    batch_id = decision.hub_batch_id
    where = f"wms qc {batch_id}"
    batch = documents.get(session, "Batch", batch_id)
    if batch is None:
        raise SkippableError("UNKNOWN_BATCH", f"QC decision {decision.status} for batch {batch_id}, which the hub "
                                              f"has not received; replay the event once the receipt is stored", where)
    assert isinstance(batch, Batch)
    if decision.material_id and decision.material_id != batch.material_id:
        raise SkippableError("MATERIAL_MISMATCH", f"QC decision names material {decision.material_id}, batch "
                                                  f"{batch_id} is {batch.material_id}", where)
    source = Source(system="wms", request=f"qc event {row.id}", message_ref=row.delivery_id)
    if batch.status == "consumed" and decision.status != "rejected":
        raise SkippableError("BATCH_CONSUMED", f"QC decision {decision.status} for batch {batch_id}, which "
                                               f"production already consumed; a human decides", where)
    if decision.status == "rejected":
        alert = _failed_inspection(session, batch, decision, row, source)
    if batch.status != "consumed":
        # a consumed batch keeps its status (it is in products now); the failed inspection and
        # its alert, naming the orders it reached, are what a recall starts from
        updated = batch.model_copy(update={"status": _QC_STATUS[decision.status], "source": source})
        outcome = documents.upsert(session, updated, actor="wms", evidence=Evidence.of_event(row))
        message = f"Batch {batch_id} {updated.status} ({outcome.outcome} v{outcome.version})"
    else:
        message = f"Batch {batch_id} stays consumed"
    if decision.status == "rejected":
        message += f"; {alert.alert_type} {alert.alert_id} for {alert.responsible_party}"
    return Outcome(PROCESSED, message)


def _failed_inspection(session: Session, batch: Batch, decision: Any, row: EventRow, source: Source) -> Alert:
    """QC rejected the batch: an Inspection (fail) and the INSPECTION_FAILED Alert with what it reached."""
    from collaboration.alerts import raise_alert
    from collaboration.alerts.rules import inspection_failed
    from collaboration.trace import Genealogy, affected_by_batch

    at = decision.decided_at or row.received_at
    # one rejection per batch: the WMS resending its decision is the same finding, not a second one
    inspection = Inspection(inspection_id=f"QC-{batch.batch_id}-rejected", batch_id=batch.batch_id,
                            material_id=batch.material_id, supplier_id=batch.supplier_id,
                            inspected_quantity=batch.quantity, rejected_quantity=batch.quantity, uom=batch.uom,
                            result="fail", inspected_at=at, defects=[decision.reason] if decision.reason else [],
                            source=source)
    documents.upsert(session, inspection, actor="wms", evidence=Evidence.of_event(row))
    affected = affected_by_batch(Genealogy.from_store(session), batch.batch_id)
    alert, _ = raise_alert(session, inspection_failed(inspection, affected), now=at, actor="rules")
    return alert


# ---------------------------------------------------------------------------------------- Opcenter


def _opcenter(session: Session, row: EventRow, raw: bytes) -> Outcome:
    from pydantic import TypeAdapter

    from adapters.opcenter import translate
    from adapters.opcenter.config import DEFAULT_CONN_ID, OpcenterConfig
    from adapters.opcenter.mes import KINDS, MAPPING_DIR
    from hub.api.auth import INGRESS_TOKEN_EXTRA, without_extras
    from hub.api.models import OpcenterEvent, OpcenterOrderEvent
    from hub.connections import get_connection
    from mappings.engine import load_mapping

    event = _valid(TypeAdapter(OpcenterEvent), json.loads(raw), row)
    # the ingress's own extra is not an adapter setting (OpcenterConfig refuses extras it does not know)
    config = OpcenterConfig.from_connection(without_extras(get_connection(DEFAULT_CONN_ID), INGRESS_TOKEN_EXTRA))
    if isinstance(event, OpcenterOrderEvent):
        record = translate.order_record(event.order.model_dump(), config.zone)
        mapping = load_mapping(MAPPING_DIR / KINDS["production_orders"][0])
    else:
        lot = event.lot.model_dump() if event.lot is not None else None
        record = translate.lot_record(event.lot_nid, lot, [c.model_dump() for c in event.consumptions], config.zone)
        mapping = load_mapping(MAPPING_DIR / KINDS["consumption"][0])
    doc = mapping.apply(record.data, Source(system="opcenter", request=f"{row.kind} {record.key}",
                                            message_ref=row.delivery_id))
    if isinstance(doc, Batch):
        doc = _merged_batch(_stored_batch(session, doc.batch_id), doc, keep_stored_status=False)
    return _store_documents(session, row, [doc], actor="opcenter")


# ---------------------------------------------------------------------------------------- suppliers


def _supplier(session: Session, row: EventRow, raw: bytes) -> Outcome:
    payload = json.loads(raw, parse_float=Decimal)
    body = {k: v for k, v in payload.items() if k != "source"}
    try:
        asn = ShipmentNotice.model_validate({**body, "supplier_id": row.partner, "source": Source(
            system="supplier_api", partner=row.partner, request=f"POST /suppliers/{row.partner}/asns",
            message_ref=row.delivery_id)})
    except ValidationError as exc:
        raise SkippableError("EVENT_INVALID", f"ASN event no longer fits ShipmentNotice: {exc.error_count()} "
                                              f"problem(s)", f"event {row.id}") from None
    return _store_documents(session, row, [asn], actor=f"supplier_api:{row.partner}")


HANDLERS: dict[str, Callable[[Session, EventRow, bytes], Outcome]] = {
    "jiandaoyun": _jiandaoyun, "wms": _wms, "opcenter": _opcenter, "supplier": _supplier,
}
