"""POST /events/wms, /events/opcenter, /suppliers/{partner_id}/asns: bearer tokens, bodies, duplicates."""
from __future__ import annotations

import json
import logging
import threading

import pytest
import requests

from hub.api import create_app
from tests.hub.api.support import (
    ALL_SECRETS, OPCENTER_TOKEN, SUPPLIER_TOKENS, WMS_OPENID, WMS_TOKEN, event_rows, serving,
)

QC = {"type": "qc", "qc": {"batch_id": "SUP-001:B2611-07", "status": "released"}}
RECEIPT = {"type": "receipt", "receipt": {
    "asn_no": "SUP-001/ASN-SUP001-0042", "asn_code": "ASN00000012", "received_at": "2026-11-29T09:12:44+08:00",
    "complete": True, "lines": [{"sku": "1.02.0033", "lot": "B2611-07", "qty_received": 498, "bin": "A-01-03"},
                                {"sku": "1.03.0100", "lot": "B2611-08", "qty_received": "600", "bin": "A-01-04"}]}}
ORDER = {"type": "production_order", "order": {
    "NId": "MO-2026-0002", "MaterialNId": "3.01.0007", "Quantity": {"QuantityValue": 500, "UoMNId": "PCS"},
    "Status": {"StateMachineNId": "Order", "StatusNId": "Released"}, "PlannedStartTime": "2026-12-04T00:00:00Z",
    "PlannedEndTime": "2026-12-06T00:00:00Z", "EquipmentNId": "LINE01"}}
ASN = {"asn_number": "ASN-API-0001", "ship_date": "2026-11-27", "expected_arrival": "2026-11-29", "lines": [
    {"line_no": 1, "po_number": "CGDD000101", "po_line_no": 1, "material_id": "1.02.0033", "quantity": "500",
     "uom": "H87", "batch_number": "B2611-07"}]}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


ENDPOINTS = [("/events/wms", WMS_TOKEN, QC), ("/events/opcenter", OPCENTER_TOKEN, ORDER),
             ("/suppliers/SUP-001/asns", SUPPLIER_TOKENS["SUP-001"], ASN)]


@pytest.mark.parametrize("path, token, body", ENDPOINTS, ids=["wms", "opcenter", "supplier"])
def test_a_valid_event_is_stored_and_a_resend_is_a_duplicate(client, store, path, token, body):
    first = client.post(path, json=body, headers=bearer(token))
    assert first.status_code == 202, first.text
    again = client.post(path, json=body, headers=bearer(token))
    assert again.status_code == 200 and again.json() == {**first.json(), "status": "duplicate"}
    [row] = event_rows(store)
    assert row.id == first.json()["event_id"] and row.status == "received"


def test_each_endpoint_stores_its_source_kind_and_partner(client, store):
    assert client.post("/events/wms", json=RECEIPT, headers=bearer(WMS_TOKEN)).json()["kind"] == "receipt"
    assert client.post("/events/opcenter", json=ORDER, headers=bearer(OPCENTER_TOKEN)).json()["kind"] == \
        "production_order"
    assert client.post("/suppliers/SUP-001/asns", json=ASN, headers=bearer(SUPPLIER_TOKENS["SUP-001"])).json()[
        "kind"] == "asn"
    rows = event_rows(store)
    assert [(r.source, r.kind, r.partner) for r in rows] == [
        ("wms", "receipt", None), ("opcenter", "production_order", None), ("supplier", "asn", "SUP-001")]
    assert rows[2].delivery_id.startswith("SUP-001:sha256:")


@pytest.mark.parametrize("path, token, body", ENDPOINTS, ids=["wms", "opcenter", "supplier"])
@pytest.mark.parametrize("header, code", [
    (None, "AUTH_MISSING"), ("Bearer", "AUTH_MALFORMED"), ("Basic dXNlcjpwYXNz", "AUTH_MALFORMED"),
    ("Bearer wrong-token", "AUTH_INVALID"), ("Bearer " + WMS_OPENID, "AUTH_INVALID")])
def test_missing_malformed_or_wrong_tokens_are_401(client, store, path, token, body, header, code):
    headers = {"Authorization": header} if header else {}
    response = client.post(path, json=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == code
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert event_rows(store) == []


def test_a_system_token_is_valid_only_for_its_own_endpoint(client, store):
    assert client.post("/events/wms", json=QC, headers=bearer(OPCENTER_TOKEN)).status_code == 401
    assert client.post("/events/opcenter", json=ORDER, headers=bearer(WMS_TOKEN)).status_code == 401
    assert client.post("/suppliers/SUP-001/asns", json=ASN, headers=bearer(WMS_TOKEN)).status_code == 401
    assert event_rows(store) == []


def test_another_partners_token_and_an_unknown_partner_get_the_same_answer(client, store):
    other = client.post("/suppliers/SUP-001/asns", json=ASN, headers=bearer(SUPPLIER_TOKENS["SUP-002"]))
    unknown = client.post("/suppliers/SUP-404/asns", json=ASN, headers=bearer(SUPPLIER_TOKENS["SUP-001"]))
    odd = client.post("/suppliers/SUP%20001/asns", json=ASN, headers=bearer(SUPPLIER_TOKENS["SUP-001"]))
    long = client.post(f"/suppliers/SUP-001{'1' * 100}/asns", json=ASN, headers=bearer(SUPPLIER_TOKENS["SUP-001"]))
    for response in (other, unknown, odd, long):
        assert response.status_code == 401
        assert response.json() == other.json()  # nothing tells which partner ids exist
    assert event_rows(store) == []


def test_a_supplier_connection_login_pins_the_exact_partner_id(client, store):
    # supplier_api_sup001 also answers to SUP001 and sup-001; its login says it is SUP-001 only
    response = client.post("/suppliers/SUP001/asns", json=ASN, headers=bearer(SUPPLIER_TOKENS["SUP-001"]))
    assert response.status_code == 401 and event_rows(store) == []


def test_a_supplier_cannot_post_for_another_supplier_id(client, store):
    response = client.post("/suppliers/SUP-001/asns", json={**ASN, "supplier_id": "SUP-002"},
                           headers=bearer(SUPPLIER_TOKENS["SUP-001"]))
    assert response.status_code == 422 and response.json()["error"] == "SUPPLIER_MISMATCH"
    assert event_rows(store) == []


def test_without_an_ingress_token_the_wms_endpoint_is_not_configured(store, monkeypatch, connections):
    monkeypatch.setenv("AIRFLOW_CONN_WMS_DEFAULT", json.dumps({"conn_type": "wms", "host": "h", "password": "x"}))
    from fastapi.testclient import TestClient

    with TestClient(create_app(store, trigger=None, connection_ttl_seconds=0)) as client:
        # the outbound credential (the password) is not accepted as the inbound token
        response = client.post("/events/wms", json=QC, headers=bearer("x"))
    assert response.status_code == 503 and response.json()["error"] == "INGRESS_NOT_CONFIGURED"
    assert "ingress_token" in response.json()["message"]
    assert event_rows(store) == []


@pytest.mark.parametrize("path, token, body", ENDPOINTS, ids=["wms", "opcenter", "supplier"])
@pytest.mark.parametrize("raw, code, status", [
    (b'{"type": "qc", ', "BODY_MALFORMED", 400),
    (b'\xc3\x28{}', "BODY_MALFORMED", 400),
    (b'{"type": NaN}', "BODY_MALFORMED", 400),
    (b'{"q": 1e999}', "BODY_MALFORMED", 400),
    (b'{"type": "qc", "type": "receipt"}', "BODY_MALFORMED", 400),
    (b"[" * 100 + b"]" * 100, "BODY_MALFORMED", 400),
    (b"", "BODY_MALFORMED", 400),
    (b'{"type": "something"}', "BODY_INVALID", 422),
    (b'"just a string"', "BODY_INVALID", 422),
])
def test_bad_bodies_get_a_precise_4xx_and_store_nothing(client, store, path, token, body, raw, code, status):
    response = client.post(path, content=raw, headers={**bearer(token), "Content-Type": "application/json"})
    assert response.status_code == status, response.text
    assert response.json()["error"] == code and response.json()["message"]
    assert event_rows(store) == []


def test_shape_errors_name_the_field(client, store):
    bad = {"type": "receipt", "receipt": {**RECEIPT["receipt"], "lines": [{"sku": "x", "qty_received": "-5"}]}}
    response = client.post("/events/wms", json=bad, headers=bearer(WMS_TOKEN))
    assert response.status_code == 422
    assert "receipt.receipt.lines.0.qty_received" in response.json()["message"]
    asn = client.post("/suppliers/SUP-001/asns", json={**ASN, "lines": []}, headers=bearer(SUPPLIER_TOKENS["SUP-001"]))
    assert asn.status_code == 422 and "lines" in asn.json()["message"]
    assert event_rows(store) == []


def test_a_body_that_is_not_json_by_content_type_is_415(client, store):
    response = client.post("/events/wms", content=b"type=qc", headers={
        **bearer(WMS_TOKEN), "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415 and response.json()["error"] == "UNSUPPORTED_MEDIA_TYPE"
    assert event_rows(store) == []


def test_authentication_comes_before_the_body_is_judged(client, store):
    response = client.post("/events/wms", content=b"{broken", headers={"Content-Type": "application/json"})
    assert response.status_code == 401


def test_an_idempotency_key_makes_a_resend_a_duplicate_and_refuses_reuse_for_other_content(client, store):
    headers = {**bearer(WMS_TOKEN), "Idempotency-Key": "wms-evt-000123"}
    first = client.post("/events/wms", json=QC, headers=headers)
    # the same event serialised differently is still the same event for its sender
    resent = client.post("/events/wms", content=json.dumps(QC, indent=2).encode(),
                         headers={**headers, "Content-Type": "application/json"})
    reused = client.post("/events/wms", json={**QC, "qc": {**QC["qc"], "status": "hold"}}, headers=headers)
    assert first.status_code == 202
    assert resent.status_code == 422 and resent.json()["error"] == "IDEMPOTENCY_KEY_REUSED"
    assert reused.status_code == 422 and reused.json()["error"] == "IDEMPOTENCY_KEY_REUSED"
    again = client.post("/events/wms", json=QC, headers=headers)
    assert again.status_code == 200 and again.json()["event_id"] == first.json()["event_id"]
    bad_key = client.post("/events/wms", json=QC, headers={**bearer(WMS_TOKEN), "Idempotency-Key": "has space"})
    assert bad_key.status_code == 400 and bad_key.json()["error"] == "BAD_IDEMPOTENCY_KEY"
    assert len(event_rows(store)) == 1


def test_unknown_paths_and_methods_answer_json_errors(client):
    missing = client.post("/events/erp", json={})
    wrong_method = client.get("/events/wms")
    assert (missing.status_code, missing.json()["error"]) == (404, "NOT_FOUND")
    assert (wrong_method.status_code, wrong_method.json()["error"]) == (405, "METHOD_NOT_ALLOWED")


@pytest.mark.parametrize("path, token", [(p, t) for p, t, _ in ENDPOINTS], ids=["wms", "opcenter", "supplier"])
def test_an_oversized_body_is_413_whether_announced_or_not(store, connections, path, token):
    app = create_app(store, trigger=None, max_body_bytes=2048, connection_ttl_seconds=0)
    body = json.dumps({**QC, "padding": "x" * 5000}).encode()
    headers = {**bearer(token), "Content-Type": "application/json"}
    with serving(app) as base_url:
        announced = requests.post(base_url + path, data=body, headers=headers, timeout=10)
        chunked = requests.post(base_url + path, data=iter([body[:1500], body[1500:]]), headers=headers, timeout=10)
        unauthenticated = requests.post(base_url + path, data=body, headers={"Content-Type": "application/json"},
                                        timeout=10)
    assert announced.status_code == chunked.status_code == unauthenticated.status_code == 413
    assert announced.json()["error"] == chunked.json()["error"] == "BODY_TOO_LARGE"
    assert "counted while reading" in chunked.json()["message"]
    assert event_rows(store) == []


def test_the_same_delivery_posted_twice_concurrently_stores_one_event(store, connections):
    app = create_app(store, trigger=None, connection_ttl_seconds=0)
    barrier = threading.Barrier(4)
    answers = []
    with serving(app) as base_url:
        def post():
            barrier.wait()
            answers.append(requests.post(f"{base_url}/events/wms", json=RECEIPT, timeout=30,
                                         headers={**bearer(WMS_TOKEN), "Idempotency-Key": "rcv-12"}))

        threads = [threading.Thread(target=post) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 202]
    assert len({a.json()["event_id"] for a in answers}) == 1
    assert len(event_rows(store)) == 1


def test_no_token_appears_in_answers_or_logs(client, store, caplog):
    caplog.set_level(logging.DEBUG)
    answers = [client.post(path, json=body, headers=bearer(token)) for path, token, body in ENDPOINTS]
    answers += [client.post(path, json=body, headers=bearer(token + "x")) for path, token, body in ENDPOINTS]
    answers += [client.post(path, content=b"{", headers=bearer(token)) for path, token, body in ENDPOINTS]
    text = " ".join(a.text for a in answers) + caplog.text
    for secret in ALL_SECRETS:
        assert secret not in text
