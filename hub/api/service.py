"""What each endpoint does once the body is read: verify, store, answer (blocking code, run off the event loop).

Order of checks, the same on every endpoint: size (Content-Length, then while reading) ->
credentials (signature or bearer token) -> body (UTF-8, strict JSON, shape) -> store -> answer.
Nothing is stored before the caller is authenticated; an authenticated delivery the hub cannot
use (a signed Jiandaoyun push of an unknown form, a malformed body) is stored as a
``quarantined`` event with a quarantine row, so its evidence is kept, never as ``received``.
"""
from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from pydantic import TypeAdapter, ValidationError

from adapters.jiandaoyun.config import JiandaoyunConfig
from adapters.jiandaoyun.errors import WebhookRejected
from adapters.jiandaoyun.webhook import NonceGuard, delivery_id_of, verify_delivery
from canonical_model.documents import ShipmentNotice
from canonical_model.store import Store, events, quarantine
from canonical_model.store.tables import EventRow
from hub.api.auth import Connections
from hub.api.errors import ApiError, not_configured
from hub.api.models import EventAccepted, OpcenterEvent, WmsEvent
from hub.api.trigger import AirflowTrigger
from hub.errors import FatalError
from hub.logs import log_context

log = logging.getLogger("hub.api")

JIANDAOYUN, WMS, OPCENTER, SUPPLIER = "jiandaoyun", "wms", "opcenter", "supplier"
JIANDAOYUN_CONN_ID = "jiandaoyun_default"
#: refusals that come after the signature was verified: the delivery is authentic, so its
#: evidence is kept (stored as a quarantined event), not just answered
AUTHENTIC_REFUSALS = frozenset({"JDY_BODY_MALFORMED", "JDY_UNKNOWN_OP", "JDY_UNKNOWN_FORM"})
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")
_WMS_EVENT = TypeAdapter(WmsEvent)
_OPCENTER_EVENT = TypeAdapter(OpcenterEvent)
_SHIPMENT_NOTICE = TypeAdapter(ShipmentNotice)
#: validation problems listed in one answer
_MAX_PROBLEMS = 10


@dataclass(frozen=True)
class Answer:
    status: int
    body: EventAccepted


class Ingress:
    def __init__(self, store: Store, connections: Connections, nonce_guard: NonceGuard,
                 trigger: Optional[AirflowTrigger]) -> None:
        self.store = store
        self.connections = connections
        self.nonce_guard = nonce_guard
        self.trigger = trigger

    # ----------------------------------------------------------------------- Jiandaoyun
    def jiandaoyun_config(self) -> JiandaoyunConfig:
        conn = self.connections.get(JIANDAOYUN_CONN_ID)
        if conn is None:
            raise not_configured(f"Connection {JIANDAOYUN_CONN_ID} is not defined")
        try:
            return JiandaoyunConfig.from_connection(conn)
        except FatalError as error:
            log.error("ingress: %s", error.as_line())
            raise not_configured(f"Connection {JIANDAOYUN_CONN_ID} is invalid: {error.code}") from None

    def accept_jiandaoyun(self, body: bytes, params: Mapping[str, list[str]], headers: Mapping[str, str]) -> Answer:
        for name in ("nonce", "timestamp"):
            if len(params.get(name, [])) > 1:
                raise ApiError(400, "QUERY_AMBIGUOUS", f"query parameter {name} is given more than once")
        single = {name: values[0] for name, values in params.items() if values}
        config = self.jiandaoyun_config()
        try:
            event = verify_delivery(body, single, headers, config=config, nonce_guard=self.nonce_guard)
        except WebhookRejected as refusal:
            log.info("ingress jiandaoyun refused: %s", refusal.code)
            if refusal.code in AUTHENTIC_REFUSALS:
                self._keep_refused(body, refusal)
            raise ApiError(refusal.http_status, refusal.code, refusal.as_line()) from None
        purpose = config.purpose_of(event.entry_id)
        kind = f"{purpose}:{event.op}" if purpose else event.op
        return self._store(JIANDAOYUN, kind, event.delivery_id, body, event.to_json())

    def _keep_refused(self, body: bytes, refusal: WebhookRejected) -> None:
        def with_quarantine(session, row: EventRow) -> None:
            quarantine.add(session, reason_code=refusal.code, location=refusal.where or "jiandaoyun:webhook",
                           message=refusal.message, raw_sha256=row.raw_sha256, partner=JIANDAOYUN,
                           evidence={"event_id": row.id, "source": JIANDAOYUN, "delivery_id": row.delivery_id,
                                     "sha256": row.raw_sha256, "size": row.size})

        events.record(self.store, source=JIANDAOYUN, kind="refused", delivery_id=delivery_id_of(body), raw=body,
                      status=events.QUARANTINED, detail=refusal.as_line(), on_created=with_quarantine)

    # ----------------------------------------------------------------------- WMS / Opcenter
    def accept_wms(self, body: bytes, payload: Any, idempotency_key: Optional[str]) -> Answer:
        event = _shape(_WMS_EVENT, payload)
        return self._store(WMS, event.type, _delivery_id(body, idempotency_key), body, payload)

    def accept_opcenter(self, body: bytes, payload: Any, idempotency_key: Optional[str]) -> Answer:
        event = _shape(_OPCENTER_EVENT, payload)
        return self._store(OPCENTER, event.type, _delivery_id(body, idempotency_key), body, payload)

    # ----------------------------------------------------------------------- suppliers
    def accept_supplier_asn(self, partner_id: str, body: bytes, payload: Any,
                            idempotency_key: Optional[str]) -> Answer:
        if not isinstance(payload, dict):
            raise ApiError(422, "BODY_INVALID", "body must be a JSON object: a ShipmentNotice")
        supplier = payload.get("supplier_id")
        if supplier not in (None, partner_id):
            raise ApiError(422, "SUPPLIER_MISMATCH", f"supplier_id {str(supplier)[:64]!r} is not the partner "
                                                     f"{partner_id} this request is authenticated for")
        document = {**{k: v for k, v in payload.items() if k != "source"}, "supplier_id": partner_id}
        notice = _shape(_SHIPMENT_NOTICE, document)
        delivery_id = f"{partner_id}:{_delivery_id(body, idempotency_key)}"
        with log_context(doc_key=f"ShipmentNotice:{notice.business_key}"):
            return self._store(SUPPLIER, "asn", delivery_id, body, payload, partner=partner_id)

    # ----------------------------------------------------------------------- storing
    def _store(self, source: str, kind: str, delivery_id: str, body: bytes, payload: Any,
               partner: Optional[str] = None) -> Answer:
        with log_context(partner=partner or source, sha256=hashlib.sha256(body).hexdigest()):
            return self._record(source, kind, delivery_id, body, payload, partner)

    def _record(self, source: str, kind: str, delivery_id: str, body: bytes, payload: Any,
                partner: Optional[str]) -> Answer:
        recorded = events.record(self.store, source=source, kind=kind, delivery_id=delivery_id, raw=body,
                                 payload=payload, partner=partner)
        if not recorded.created:
            if recorded.raw_sha256 != hashlib.sha256(body).hexdigest():
                raise ApiError(422, "IDEMPOTENCY_KEY_REUSED",
                               f"Idempotency-Key was used before for another body (event {recorded.event_id}); "
                               f"use a new key for new content")
            if recorded.status == events.QUARANTINED and source == JIANDAOYUN and \
                    events.revive(self.store, recorded.event_id, kind=kind, payload=payload):
                # refused before (its form was not configured), verified now: processed after all
                log.info("ingress %s delivery refused before is accepted now -> event %s", source,
                         recorded.event_id)
                return self._accepted(source, kind, recorded.event_id)
            log.info("ingress %s duplicate delivery -> event %s", source, recorded.event_id)
            return Answer(200, EventAccepted(status="duplicate", event_id=recorded.event_id, source=source,
                                             kind=kind))
        log.info("ingress %s %s stored as event %s", source, kind, recorded.event_id)
        return self._accepted(source, kind, recorded.event_id)

    def _accepted(self, source: str, kind: str, event_id: int) -> Answer:
        if self.trigger is not None:
            self.trigger.request({"event_id": event_id, "source": source})
        return Answer(202, EventAccepted(status="accepted", event_id=event_id, source=source, kind=kind))


def idempotency_key(headers: Mapping[str, str]) -> Optional[str]:
    value = headers.get("idempotency-key")
    if value is None:
        return None
    if not _IDEMPOTENCY_KEY.match(value):
        raise ApiError(400, "BAD_IDEMPOTENCY_KEY", "Idempotency-Key must be 1 to 128 printable ASCII characters "
                                                   "without spaces")
    return value


def _delivery_id(body: bytes, key: Optional[str]) -> str:
    """The sender's Idempotency-Key, else the body's sha256: an identical resend is a duplicate."""
    return f"key:{key}" if key else f"sha256:{hashlib.sha256(body).hexdigest()}"


def _shape(adapter: TypeAdapter, payload: Any) -> Any:
    try:
        return adapter.validate_python(payload)
    except ValidationError as exc:
        raise ApiError(422, "BODY_INVALID", describe(exc)) from None


def describe(exc: ValidationError) -> str:
    """The problems of a body, by field path; pydantic messages name types and rules, not values."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False)[:_MAX_PROBLEMS]:
        path = ".".join(str(part) for part in error.get("loc", ())) or "body"
        message = str(error.get("msg", "invalid"))
        problems.append(f"{path}: {message[:200]}")
    more = exc.error_count() - len(problems)
    return "; ".join(problems) + (f"; and {more} more" if more > 0 else "")
