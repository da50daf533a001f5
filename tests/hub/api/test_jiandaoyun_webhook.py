"""POST /webhooks/jiandaoyun: the issue-6 contract (signature, staleness, replay, duplicates, refusals)."""
from __future__ import annotations

import json
import logging
import time

import pytest
import requests
from sqlalchemy import select

from canonical_model.store import quarantine
from canonical_model.store.tables import QuarantineRow
from hub.api import create_app
from hub.report import table_counts
from simulators.jiandaoyun import DEMO_FORMS, push_webhook
from tests.hub.api.support import (
    ALL_SECRETS, SECRET, event_rows, jiandaoyun_connection, push_body, sample, serving, signed,
)

URL = "/webhooks/jiandaoyun"


def post(client, body: bytes, **signing):
    params, headers = signed(body, **signing)
    return client.post(URL, params=params, content=body, headers=headers)


def valid_events(store):
    return [row for row in event_rows(store) if row.status in ("received", "processed")]


def test_a_valid_push_of_a_known_form_is_stored_before_the_answer(client, store):
    body = push_body(sample("asn_two_lines"))
    response = post(client, body)
    assert response.status_code == 202
    answer = response.json()
    assert answer["status"] == "accepted" and answer["source"] == "jiandaoyun" and answer["kind"] == "asn:data_update"
    [row] = event_rows(store)
    assert (row.id, row.status, row.source, row.kind) == (answer["event_id"], "received", "jiandaoyun",
                                                          "asn:data_update")
    assert row.delivery_id.startswith("jdy:") and row.payload["data"]["asn_number"] == "ASN-SUP001-0042"
    assert dict(table_counts(store))["events"] == 1  # `hub status` counts it


def test_the_simulators_signed_push_over_real_http_is_accepted(store, connections):
    app = create_app(store, trigger=None, connection_ttl_seconds=0)
    with serving(app) as base_url:
        result = push_webhook(f"{base_url}{URL}", {"op": "data_create", "data": sample("purchase_task_accepted")},
                              secret=SECRET)
    assert result.ok and result.status == 202, result.body
    assert json.loads(result.body)["kind"] == "purchase_task:data_create"
    assert len(valid_events(store)) == 1


def test_a_redelivery_of_the_same_body_with_a_fresh_nonce_is_a_no_op_answering_the_first_id(client, store):
    body = push_body(sample("inspection_conditional"))
    first = post(client, body).json()
    again = post(client, body)  # Jiandaoyun's retry: same body, new nonce and timestamp, signed anew
    assert again.status_code == 200
    assert again.json() == {**first, "status": "duplicate"}
    assert len(event_rows(store)) == 1


@pytest.mark.parametrize("case", ["wrong_secret", "tampered_body", "signature_of_other_nonce", "garbage_signature"])
def test_a_bad_signature_is_401_and_nothing_is_stored(client, store, case):
    body = push_body(sample("asn_two_lines"))
    params, headers = signed(body, secret="not-the-secret" if case == "wrong_secret" else SECRET)
    if case == "tampered_body":
        body = body.replace(b'"quantity":500', b'"quantity":5000')
    if case == "signature_of_other_nonce":
        params["nonce"] = "0badc0de"
    if case == "garbage_signature":
        headers["X-JDY-Signature"] = "0" * 40
    response = client.post(URL, params=params, content=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "JDY_SIGNATURE_INVALID"
    assert "does not match" in response.json()["message"]
    assert event_rows(store) == []


@pytest.mark.parametrize("missing", ["nonce", "timestamp", "X-JDY-Signature"])
def test_missing_signature_parts_are_401_naming_what_is_missing(client, store, missing):
    body = push_body(sample("asn_two_lines"))
    params, headers = signed(body)
    params.pop(missing, None)
    headers.pop(missing, None)
    response = client.post(URL, params=params, content=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "JDY_SIGNATURE_MISSING"
    assert missing in response.json()["message"]
    assert event_rows(store) == []


@pytest.mark.parametrize("age", [3600, -3600])
def test_a_stale_or_future_timestamp_is_401_even_with_a_valid_signature(client, store, age):
    body = push_body(sample("asn_two_lines"))
    response = post(client, body, timestamp=int(time.time()) - age)
    assert response.status_code == 401
    assert response.json()["error"] == "JDY_TIMESTAMP_STALE"
    assert ("old" if age > 0 else "future") in response.json()["message"]
    assert event_rows(store) == []


def test_a_replayed_nonce_is_409_and_stores_nothing_new(client, store):
    body = push_body(sample("asn_two_lines"))
    params, headers = signed(body)
    assert client.post(URL, params=params, content=body, headers=headers).status_code == 202
    replay = client.post(URL, params=params, content=body, headers=headers)
    assert replay.status_code == 409
    assert replay.json()["error"] == "JDY_NONCE_REPLAYED"
    assert params["nonce"] in replay.json()["message"]
    assert len(event_rows(store)) == 1


def test_a_nonce_given_twice_in_the_query_is_refused(client, store):
    body = push_body(sample("asn_two_lines"))
    params, headers = signed(body)
    response = client.post(f"{URL}?nonce=aa&nonce=bb&timestamp={params['timestamp']}", content=body, headers=headers)
    assert response.status_code == 400 and response.json()["error"] == "QUERY_AMBIGUOUS"
    assert event_rows(store) == []


@pytest.mark.parametrize("body, where", [
    (b'{"op": "data_update", "data": {', "not JSON"),
    (b'\xff\xfe{"op": "data_update"}', "not UTF-8"),
    (b'{"op": "data_update", "op": "data_create", "data": {"_id": "x"}}', "duplicate key"),
    (b'[1, 2]', "JSON object"),
    (b'{"op": "data_update", "data": {"entryId": "x"}}', "_id"),
])
def test_a_signed_malformed_body_is_400_and_kept_only_as_quarantined_evidence(client, store, body, where):
    response = post(client, body)
    assert response.status_code == 400
    assert response.json()["error"] == "JDY_BODY_MALFORMED"
    assert where in response.json()["message"]
    assert valid_events(store) == []
    [kept] = event_rows(store)
    assert kept.status == "quarantined" and kept.kind == "refused"
    with store.session() as session:
        [entry] = quarantine.list_rows(session)
        assert entry.reason_code == "JDY_BODY_MALFORMED" and entry.raw_sha256 == kept.raw_sha256


def test_an_unknown_form_is_422_with_a_clear_message_and_nothing_stored_as_valid(client, store):
    record = {**sample("asn_two_lines"), "entryId": "64b7c2f0a1b2c3d4e5f6ffff", "formName": "临时表单"}
    response = post(client, push_body(record))
    assert response.status_code == 422
    assert response.json()["error"] == "JDY_UNKNOWN_FORM"
    assert "64b7c2f0a1b2c3d4e5f6ffff" in response.json()["message"]
    assert "none of the forms configured" in response.json()["message"]
    assert valid_events(store) == []
    with store.session() as session:
        assert [q.reason_code for q in quarantine.list_rows(session)] == ["JDY_UNKNOWN_FORM"]


def test_an_unknown_op_is_422(client, store):
    response = post(client, b'{"op":"data_explode","data":{"_id":"x"}}')
    assert response.status_code == 422 and response.json()["error"] == "JDY_UNKNOWN_OP"
    assert valid_events(store) == []


def test_a_push_refused_for_its_form_goes_through_once_the_form_is_configured(store, monkeypatch, connections):
    record = sample("production_orders")
    forms = {k: v for k, v in DEMO_FORMS.items() if k != "production_order"}
    monkeypatch.setenv("AIRFLOW_CONN_JIANDAOYUN_DEFAULT", jiandaoyun_connection(forms=forms))
    from fastapi.testclient import TestClient

    with TestClient(create_app(store, trigger=None, connection_ttl_seconds=0)) as client:
        body = push_body(record)
        assert post(client, body).status_code == 422
        monkeypatch.setenv("AIRFLOW_CONN_JIANDAOYUN_DEFAULT", jiandaoyun_connection())
        retried = post(client, body)  # Jiandaoyun retries the cached push after the fix
    assert retried.status_code == 202 and retried.json()["kind"] == "production_order:data_update"
    [row] = event_rows(store)
    assert row.status == "received" and row.id == retried.json()["event_id"]
    with store.session() as session:
        assert [q.status for q in session.scalars(select(QuarantineRow))] == ["replayed"]


def test_an_oversized_body_is_413_whether_announced_or_not(store, connections):
    app = create_app(store, trigger=None, max_body_bytes=4096, connection_ttl_seconds=0)
    body = push_body({**sample("asn_two_lines"), "note": "x" * 8000})
    params, headers = signed(body)
    with serving(app) as base_url:
        announced = requests.post(f"{base_url}{URL}", params=params, data=body, headers=headers, timeout=10)
        chunked = requests.post(f"{base_url}{URL}", params=params, data=iter([body[:3000], body[3000:]]),
                                headers=headers, timeout=10)  # no Content-Length: Transfer-Encoding chunked
    for response in (announced, chunked):
        assert response.status_code == 413
        assert response.json()["error"] == "BODY_TOO_LARGE"
        assert "4096" in response.json()["message"]
    assert "counted while reading" in chunked.json()["message"]
    assert event_rows(store) == []


def test_without_a_webhook_secret_every_push_is_refused(store, monkeypatch, connections):
    monkeypatch.setenv("AIRFLOW_CONN_JIANDAOYUN_DEFAULT", jiandaoyun_connection(secret=None))
    from fastapi.testclient import TestClient

    with TestClient(create_app(store, trigger=None, connection_ttl_seconds=0)) as client:
        # signed with the empty secret: must not pass as "no secret, no check"
        response = post(client, push_body(sample("asn_two_lines")), secret="")
    assert response.status_code == 401 and response.json()["error"] == "JDY_SIGNATURE_INVALID"
    assert "webhook_secret" in response.json()["message"]
    assert event_rows(store) == []


def test_without_the_connection_the_endpoint_answers_503_not_configured(store, monkeypatch, connections):
    monkeypatch.delenv("AIRFLOW_CONN_JIANDAOYUN_DEFAULT")
    monkeypatch.setenv("AIRFLOW_HOME", str(store.archive_dir.parent / "airflow-home"))
    from fastapi.testclient import TestClient

    with TestClient(create_app(store, trigger=None, connection_ttl_seconds=0)) as client:
        response = post(client, push_body(sample("asn_two_lines")))
    assert response.status_code == 503
    assert response.json()["error"] == "INGRESS_NOT_CONFIGURED" and "jiandaoyun_default" in response.json()["message"]
    assert event_rows(store) == []


def test_no_secret_ever_appears_in_an_answer_or_a_log_line(client, store, caplog):
    caplog.set_level(logging.DEBUG)
    body = push_body(sample("asn_two_lines"))
    answers = [post(client, body), post(client, body, secret="wrong"), post(client, body, timestamp=1),
               post(client, b"not json"), post(client, push_body({**sample("asn_two_lines"), "entryId": "zz"}))]
    params, headers = signed(body)
    answers.append(client.post(URL, params=params, content=body, headers=headers))
    answers.append(client.post(URL, params=params, content=body, headers=headers))  # replay
    text = " ".join(a.text for a in answers) + " ".join(str(h) for a in answers for h in a.headers.items())
    logged = caplog.text
    for secret in ALL_SECRETS:
        assert secret not in text and secret not in logged
    assert {a.status_code for a in answers} == {200, 202, 400, 401, 409, 422}
