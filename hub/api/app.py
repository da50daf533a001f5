"""The ingress API: a small ASGI service for pushed events (``create_app``; ``hub serve`` runs it).

Endpoints (README.md in this folder has the whole contract):

* ``POST /webhooks/jiandaoyun`` - Jiandaoyun data pushes, ``?nonce=&timestamp=`` and
  ``X-JDY-Signature`` exactly as protocols/jiandaoyun.md §3; secret: extra ``webhook_secret``
  of Connection ``jiandaoyun_default``;
* ``POST /events/wms``, ``POST /events/opcenter`` - receipts / QC decisions and production
  orders / consumption, ``Authorization: Bearer <extra ingress_token of wms_default /
  opcenter_default>``;
* ``POST /suppliers/{partner_id}/asns`` - a supplier's ASN as a canonical ShipmentNotice,
  ``Authorization: Bearer <password of supplier_api_<partner>>``;
* ``GET /openapi.json`` - this contract, with security schemes and error bodies.

Each accepted event is committed to the store before the 2xx goes out, then the events DAG is
asked to run (hub/api/trigger.py). Every refusal is ``{"error", "message"}`` JSON; bad input
never gets a 5xx.
"""
from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Any, Optional

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from canonical_model.store import Store
from canonical_model.store.events import StoreNonceGuard
from hub.api import auth, metrics_route
from hub.api.bodies import DEFAULT_MAX_BODY_BYTES, check_announced_length, parse_json, read_body, \
    require_json_media_type
from hub.api.errors import COMMON_ERRORS, ApiError, ErrorBody, error_response
from hub.api.models import EventAccepted, JiandaoyunPush, OpcenterEvent, WmsEvent, supplier_asn_schema, type_schema
from hub.api.service import Answer, Ingress, idempotency_key
from hub.api.trigger import AirflowTrigger

log = logging.getLogger("hub.api")

#: ``trigger=FROM_ENVIRONMENT`` (the default): HUB_AIRFLOW_API_URL decides
FROM_ENVIRONMENT: Any = object()
VERSION = "1.0"
BEARER_SCHEME, SIGNATURE_SCHEME = "bearerToken", "jiandaoyunSignature"


def _answers(*statuses: int, extra: Optional[dict[int, str]] = None) -> dict[int | str, dict[str, Any]]:
    described = {**COMMON_ERRORS, **(extra or {})}
    result: dict[int | str, dict[str, Any]] = {
        200: {"model": EventAccepted, "description": "a duplicate delivery: stored before, nothing changed"}}
    for status in sorted({*statuses, *COMMON_ERRORS}):
        entry: dict[str, Any] = {"model": ErrorBody, "description": described.get(status, "refused")}
        if status == 401:
            entry["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"},
                                                     "description": "present on bearer-token endpoints"}}
        result[status] = entry
    return result


def _json_body(schema_name: str) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}}}}


_IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "schema": {"type": "string", "pattern": r"^[\x21-\x7e]{1,128}$"},
    "description": "the sender's id for this event: a repeat with the same key is answered 200 with the first "
                   "event id; the same key with another body is refused (422). Without it, an identical body "
                   "counts as the same event.",
}
_TOKEN_ERRORS = {
    401: "missing, malformed or invalid bearer token (AUTH_MISSING / AUTH_MALFORMED / AUTH_INVALID)",
    415: "Content-Type is not application/json",
    422: "the body is JSON but not the documented shape (BODY_INVALID, naming each field), or an "
         "Idempotency-Key reused for another body (IDEMPOTENCY_KEY_REUSED)",
}


def create_app(store: Optional[Store] = None, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
               trigger: Any = FROM_ENVIRONMENT, connection_ttl_seconds: float = 30.0) -> FastAPI:
    """The ingress app on ``store`` (default: the hub's store, opened at start-up, closed at shutdown)."""
    owned = store is None
    connections = auth.Connections(ttl_seconds=connection_ttl_seconds)
    airflow = AirflowTrigger.from_environment() if trigger is FROM_ENVIRONMENT else trigger
    state: dict[str, Ingress] = {}

    def ingress() -> Ingress:
        return state["ingress"]

    def start(on: Store) -> None:
        state["ingress"] = Ingress(on, connections, StoreNonceGuard(on), airflow)

    if not owned:
        start(store)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        opened = None
        if owned:
            from canonical_model.store import open_store

            opened = await run_in_threadpool(open_store)
            start(opened)
        try:
            yield
        finally:
            if opened is not None:
                opened.dispose()

    app = FastAPI(title="mes-hub ingress API", version=VERSION, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description=__doc__)
    app.state.trigger = airflow
    app.state.max_body_bytes = max_body_bytes

    @app.exception_handler(ApiError)
    async def _refused(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
        messages = {404: "no such endpoint; see /openapi.json",
                    405: "method not allowed on this endpoint; see /openapi.json"}
        return error_response(exc.status_code, codes.get(exc.status_code, f"HTTP_{exc.status_code}"),
                              messages.get(exc.status_code, str(exc.detail)), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors())
        return error_response(422, "REQUEST_INVALID", problems[:1000] or "invalid request")

    @app.exception_handler(SQLAlchemyError)
    async def _store_down(_request: Request, exc: SQLAlchemyError) -> JSONResponse:
        log.error("ingress: store unavailable: %s", type(exc).__name__)
        return error_response(503, "STORE_UNAVAILABLE", "the hub's store is unavailable; nothing was stored, "
                                                        "send again later")

    def answer(result: Answer) -> JSONResponse:
        return JSONResponse(status_code=result.status, content=jsonable_encoder(result.body))

    @app.post("/webhooks/jiandaoyun", status_code=202, response_model=EventAccepted, tags=["jiandaoyun"],
              summary="Jiandaoyun data push (signed webhook)",
              responses=_answers(400, 401, 409, 413, 422, extra={
                  400: "body not UTF-8 or not JSON, no op/data/_id (JDY_BODY_MALFORMED), or nonce/timestamp "
                       "given twice (QUERY_AMBIGUOUS)",
                  401: "nonce, timestamp or X-JDY-Signature missing or malformed (JDY_SIGNATURE_MISSING), the "
                       "signature does not match (JDY_SIGNATURE_INVALID), or the timestamp is outside the window "
                       "(JDY_TIMESTAMP_STALE)",
                  409: "this nonce and timestamp were delivered before: a replay (JDY_NONCE_REPLAYED)",
                  413: "body over the limit (BODY_TOO_LARGE, JDY_BODY_TOO_LARGE)",
                  422: "op unknown (JDY_UNKNOWN_OP) or form/app not configured in jiandaoyun_default "
                       "(JDY_UNKNOWN_FORM); the authentic delivery is kept in quarantine"}),
              openapi_extra={**_json_body("JiandaoyunPush"), "security": [{SIGNATURE_SCHEME: []}], "parameters": [
                  {"name": "nonce", "in": "query", "required": True,
                   "schema": {"type": "string", "pattern": r"^[A-Za-z0-9_\-]{1,64}$"},
                   "description": "random value chosen by Jiandaoyun, signed"},
                  {"name": "timestamp", "in": "query", "required": True,
                   "schema": {"type": "string", "pattern": r"^[0-9]{1,12}$"},
                   "description": "unix seconds, signed; refused outside webhook_max_age_seconds (300)"}]})
    async def jiandaoyun_push(request: Request) -> JSONResponse:
        """Verified, stored (duplicates by delivery id are no-ops), then processed by the events DAG."""
        body = await read_body(request, max_body_bytes)
        params = {name: request.query_params.getlist(name) for name in request.query_params.keys()}
        return answer(await run_in_threadpool(ingress().accept_jiandaoyun, body, params, request.headers))

    async def token_endpoint(request: Request, conn_check, accept) -> JSONResponse:
        check_announced_length(request, max_body_bytes)
        await run_in_threadpool(conn_check)
        require_json_media_type(request)
        key = idempotency_key(request.headers)
        body = await read_body(request, max_body_bytes)
        payload = parse_json(body)
        return answer(await run_in_threadpool(accept, body, payload, key))

    @app.post("/events/wms", status_code=202, response_model=EventAccepted, tags=["wms"],
              summary="WMS receipt confirmation or QC decision",
              responses=_answers(400, 401, 413, 415, 422, extra=_TOKEN_ERRORS),
              openapi_extra={**_json_body("WmsEvent"), "security": [{BEARER_SCHEME: []}],
                             "parameters": [_IDEMPOTENCY_PARAMETER]})
    async def wms_event(request: Request) -> JSONResponse:
        """Token: extra ``ingress_token`` of Connection ``wms_default``."""
        return await token_endpoint(
            request, lambda: auth.require_system_token(request, connections, auth.WMS_CONN_ID),
            ingress().accept_wms)

    @app.post("/events/opcenter", status_code=202, response_model=EventAccepted, tags=["opcenter"],
              summary="Opcenter production order or material consumption",
              responses=_answers(400, 401, 413, 415, 422, extra=_TOKEN_ERRORS),
              openapi_extra={**_json_body("OpcenterEvent"), "security": [{BEARER_SCHEME: []}],
                             "parameters": [_IDEMPOTENCY_PARAMETER]})
    async def opcenter_event(request: Request) -> JSONResponse:
        """Token: extra ``ingress_token`` of Connection ``opcenter_default``."""
        return await token_endpoint(
            request, lambda: auth.require_system_token(request, connections, auth.OPCENTER_CONN_ID),
            ingress().accept_opcenter)

    @app.post("/suppliers/{partner_id}/asns", status_code=202, response_model=EventAccepted, tags=["suppliers"],
              summary="A supplier's shipment notice (ASN) as JSON",
              responses=_answers(400, 401, 413, 415, 422, extra={
                  **_TOKEN_ERRORS,
                  401: "missing or invalid bearer token, or a partner id the hub does not accept: the answer is "
                       "the same for all (AUTH_MISSING / AUTH_MALFORMED / AUTH_INVALID)",
                  422: "not a ShipmentNotice (BODY_INVALID, naming each field), supplier_id is another partner "
                       "(SUPPLIER_MISMATCH), or an Idempotency-Key reused for another body"}),
              openapi_extra={**_json_body("SupplierShipmentNotice"), "security": [{BEARER_SCHEME: []}],
                             "parameters": [_IDEMPOTENCY_PARAMETER]})
    async def supplier_asn(partner_id: str, request: Request) -> JSONResponse:
        """Token: password of Connection ``supplier_api_<partner id lowercase, letters and digits only>``.

        Checked against the open purchase order lines when processed, like an ASN file."""
        return await token_endpoint(
            request, lambda: auth.require_supplier_token(request, connections, partner_id),
            lambda body, payload, key: ingress().accept_supplier_asn(partner_id, body, payload, key))

    metrics_route.register(app, lambda: ingress().store)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        schemas.update(type_schema("JiandaoyunPush", JiandaoyunPush))
        schemas.update(type_schema("WmsEvent", WmsEvent))
        schemas.update(type_schema("OpcenterEvent", OpcenterEvent))
        asn, definitions = supplier_asn_schema()
        schemas.update({**definitions, "SupplierShipmentNotice": asn})
        components["securitySchemes"] = {
            BEARER_SCHEME: {"type": "http", "scheme": "bearer", "description": (
                "WMS: extra ingress_token of Connection wms_default; Opcenter: extra ingress_token of "
                "opcenter_default; supplier: password of Connection supplier_api_<partner id lowercase, "
                "letters and digits only>")},
            SIGNATURE_SCHEME: {"type": "apiKey", "in": "header", "name": "X-JDY-Signature", "description": (
                "sha1_hex(nonce + ':' + raw body + ':' + secret + ':' + timestamp), lowercase; secret = extra "
                "webhook_secret of Connection jiandaoyun_default; nonce and timestamp are the query parameters")},
        }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
