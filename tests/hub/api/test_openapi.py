"""/openapi.json describes every endpoint, its security and its error bodies; schemathesis holds the app to it.

The property test generates requests from the published spec (positive: fitting the schemas;
negative: breaking them), with valid credentials so the bodies reach the body checks (Jiandaoyun
pushes are signed over the exact bytes sent), and asserts: never a 5xx, and every answer's status,
Content-Type, headers and body are the ones the spec documents. Bounded and deterministic:
30 examples per operation and mode, derandomized, no example database.
"""
from __future__ import annotations

import json
import secrets
import time
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from hub.api import create_app
from simulators.jiandaoyun import sign
from tests.hub.api.support import OPCENTER_TOKEN, SECRET, SUPPLIER_TOKENS, WMS_TOKEN, event_rows, set_connections

OPERATIONS = ["POST /webhooks/jiandaoyun", "POST /events/wms", "POST /events/opcenter",
              "POST /suppliers/{partner_id}/asns"]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
TOKENS = {"/events/wms": WMS_TOKEN, "/events/opcenter": OPCENTER_TOKEN}


@pytest.fixture
def ingress(sqlite_store, monkeypatch):
    set_connections(monkeypatch)
    return create_app(sqlite_store, trigger=None, connection_ttl_seconds=0)


def test_the_spec_describes_every_endpoint_with_its_security_and_error_bodies(ingress):
    from fastapi.testclient import TestClient

    spec = TestClient(ingress).get("/openapi.json").json()
    assert set(spec["paths"]) == {"/webhooks/jiandaoyun", "/events/wms", "/events/opcenter",
                                  "/suppliers/{partner_id}/asns"}
    schemes = spec["components"]["securitySchemes"]
    assert schemes["jiandaoyunSignature"] == {**schemes["jiandaoyunSignature"], "type": "apiKey", "in": "header",
                                              "name": "X-JDY-Signature"}
    assert schemes["bearerToken"]["scheme"] == "bearer"
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    for path, item in spec["paths"].items():
        operation = item["post"]
        assert operation["security"], path
        assert operation["requestBody"]["required"] is True
        for status in ("400", "401", "413", "422", "503"):
            assert operation["responses"][status]["content"]["application/json"]["schema"] == error_ref, (path, status)
        assert {"200", "202"} <= set(operation["responses"])
    webhook = spec["paths"]["/webhooks/jiandaoyun"]["post"]
    assert webhook["security"] == [{"jiandaoyunSignature": []}]
    assert {(p["name"], p["in"], p["required"]) for p in webhook["parameters"]} == {
        ("nonce", "query", True), ("timestamp", "query", True)}
    assert "409" in webhook["responses"]
    assert spec["components"]["schemas"]["ErrorBody"]["required"] == ["error", "message"]
    # suppliers post the canonical ShipmentNotice, minus what the hub sets itself
    asn = spec["components"]["schemas"]["SupplierShipmentNotice"]
    assert "source" not in asn["properties"] and "supplier_id" not in asn["required"]
    assert "asn_number" in asn["required"] and "lines" in asn["required"]


def _signed_call(case):
    """Sign the exact bytes that will be sent, with a fresh nonce and timestamp."""
    if isinstance(case.body, bytes):
        body = case.body
    else:
        body = json.dumps(case.body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    nonce, stamp = secrets.token_hex(4), str(int(time.time()))
    case.body = body
    case.query = {"nonce": nonce, "timestamp": stamp}
    return case.call(headers={"X-JDY-Signature": sign(nonce, body, SECRET, stamp),
                              "Content-Type": "application/json"})


@pytest.mark.parametrize("mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
                         ids=["positive", "negative"])
@pytest.mark.parametrize("label", OPERATIONS)
def test_schemathesis_finds_no_5xx_and_every_answer_conforms(ingress, sqlite_store, label, mode):
    schema = schemathesis.openapi.from_asgi("/openapi.json", ingress)
    operation = schema[label.split(" ", 1)[1]]["POST"]
    statuses: Counter = Counter()

    @given(case=operation.as_strategy(mode))
    @settings(max_examples=30, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    def run(case):
        if operation.path == "/webhooks/jiandaoyun":
            response = _signed_call(case)
        elif operation.path.startswith("/suppliers/"):
            # half the cases for a partner with a token, the others for whatever id was generated
            if statuses.total() % 2 == 0:
                case.path_parameters = {"partner_id": "SUP-001"}
            response = case.call(headers={"Authorization": f"Bearer {SUPPLIER_TOKENS['SUP-001']}"})
        else:
            response = case.call(headers={"Authorization": f"Bearer {TOKENS[operation.path]}"})
        statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS)
        assert response.status_code < 500
        if response.status_code >= 400:
            assert set(response.json()) == {"error", "message"} and response.json()["message"]

    run()
    # the credentials were right, so the generated bodies reached the checks behind them
    assert set(statuses) - {401}, statuses
    if mode is schemathesis.GenerationMode.POSITIVE and label != "POST /webhooks/jiandaoyun":
        assert statuses[202] + statuses[200] > 0, statuses
        assert all(row.status == "received" for row in event_rows(sqlite_store))
