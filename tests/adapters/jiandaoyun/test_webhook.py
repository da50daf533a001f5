"""Data-push verification: signature, staleness, replay, hostile bodies, unknown forms; the
simulator's signer and our verifier agree with each other and with a vector from the notes."""
from __future__ import annotations

import hashlib
import json
import time

import pytest
import requests
from pydantic import SecretStr
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.jiandaoyun import (MemoryNonceGuard, NonceGuard, WebhookRejected, handle_event, parse_event,
                                 verify_delivery, verify_signature)
from adapters.jiandaoyun.webhook import compute_signature, delivery_id_of
from canonical_model.documents import OrderResponse, ShipmentNotice
from hub.errors import SkippableError
from simulators.jiandaoyun import DEMO_APP_ID, DEMO_FORMS, push_webhook, sign
from simulators.jiandaoyun.push import event_body
from tests.adapters.jiandaoyun.conftest import PUSH_SECRET, config_for, only, received, receiver_url
from tests.adapters.jiandaoyun.test_translate import CONFIG as BASE_CONFIG
from tests.adapters.jiandaoyun.test_translate import sample

CONFIG = BASE_CONFIG.model_copy(update={"webhook_secret": SecretStr(PUSH_SECRET)})
NOW = 1_790_000_000


def signed(body: bytes, nonce: str = "8f3a2c1d", ts: int = NOW, secret: str = PUSH_SECRET):
    return body, {"nonce": nonce, "timestamp": str(ts)}, {"X-JDY-Signature": sign(nonce, body, secret, str(ts))}


def record_event(name: str = "purchase_task_partial", op: str = "data_update") -> bytes:
    data = {**sample(name), "formName": "采购任务"}
    return event_body(op, data)


def deliver(body: bytes, params, headers, guard=None, config=CONFIG, now=NOW):
    return verify_delivery(body, params, headers, config=config, nonce_guard=guard or MemoryNonceGuard(), now=now)


def rejected(call) -> WebhookRejected:
    with pytest.raises(WebhookRejected) as info:
        call()
    assert isinstance(info.value, SkippableError)
    assert PUSH_SECRET not in info.value.as_line()
    return info.value


# ----------------------------------------------------------------------------- the formula


def test_signature_vector_computed_by_hand_from_the_notes():
    # sha1_hex(nonce + ":" + body + ":" + secret + ":" + timestamp), lowercase (protocol notes §3);
    # the pinned value is from coreutils: printf %s "8f3a2c1d:{...}:test-secret:1715067000" | sha1sum
    nonce, body, secret, ts = "8f3a2c1d", '{"op":"data_test","data":{"名称":"测试"}}', "test-secret", "1715067000"
    by_hand = hashlib.sha1(f"{nonce}:{body}:{secret}:{ts}".encode("utf-8")).hexdigest()
    assert by_hand == "2edd213d937eb5105d1c73c4902afb7f2c5e029d"
    assert sign(nonce, body.encode(), secret, ts) == by_hand  # the simulator's signer
    assert compute_signature(body.encode(), nonce, ts, secret) == by_hand  # our verifier's formula
    verify_signature(body.encode(), nonce, ts, by_hand, secret, now=1715067000)
    verify_signature(body.encode(), nonce, ts, by_hand.upper(), secret, now=1715067000)


# ----------------------------------------------------------------------------- verify_signature


def test_valid_delivery_gives_the_event():
    body = record_event()
    event = deliver(*signed(body))
    assert event.op == "data_update" and event.entry_id == event.form_id == DEMO_FORMS["purchase_task"]
    assert event.data_id == sample("purchase_task_partial")["_id"] and event.form_name == "采购任务"
    assert event.delivery_id == delivery_id_of(body) and event.app_id == DEMO_APP_ID


def test_header_names_are_case_insensitive():
    body, params, headers = signed(record_event())
    deliver(body, params, {"x-jdy-signature": headers["X-JDY-Signature"]})


def test_wrong_secret_is_refused():
    error = rejected(lambda: deliver(*signed(record_event(), secret="another-secret")))
    assert (error.code, error.http_status) == ("JDY_SIGNATURE_INVALID", 401)


def test_tampered_body_is_refused():
    body, params, headers = signed(record_event())
    tampered = body.replace(b'"promised_quantity":600', b'"promised_quantity":900')
    assert tampered != body
    assert rejected(lambda: deliver(tampered, params, headers)).code == "JDY_SIGNATURE_INVALID"


def test_a_moved_timestamp_breaks_the_signature():
    body, params, headers = signed(record_event())
    params["timestamp"] = str(NOW + 1)
    assert rejected(lambda: deliver(body, params, headers)).code == "JDY_SIGNATURE_INVALID"


@pytest.mark.parametrize("offset", [301, 86400, -301])
def test_stale_or_future_timestamps_are_refused(offset):
    body, params, headers = signed(record_event(), ts=NOW - offset)
    error = rejected(lambda: deliver(body, params, headers))
    assert (error.code, error.http_status) == ("JDY_TIMESTAMP_STALE", 401)
    deliver(body, params, headers, now=NOW - offset + 299)  # the same delivery in time is fine


def test_the_window_is_configurable():
    body, params, headers = signed(record_event(), ts=NOW - 1000)
    deliver(body, params, headers, config=CONFIG.model_copy(update={"webhook_max_age_seconds": 3600}))


def test_a_replayed_nonce_is_refused_once_accepted():
    guard = MemoryNonceGuard()
    assert isinstance(guard, NonceGuard)
    delivery = signed(record_event())
    deliver(*delivery, guard=guard)
    error = rejected(lambda: deliver(*delivery, guard=guard))
    assert (error.code, error.http_status) == ("JDY_NONCE_REPLAYED", 409)
    # the same nonce at another (signed) second is another delivery
    deliver(*signed(record_event(), ts=NOW + 1), guard=guard, now=NOW + 1)


def test_a_refused_delivery_does_not_use_up_its_nonce():
    guard = MemoryNonceGuard()
    body, params, headers = signed(record_event())
    rejected(lambda: deliver(body + b" ", params, headers, guard=guard))
    deliver(body, params, headers, guard=guard)


@pytest.mark.parametrize("drop", ["nonce", "timestamp", "X-JDY-Signature"])
def test_missing_parts_are_refused(drop):
    body, params, headers = signed(record_event())
    params.pop(drop, None)
    headers.pop(drop, None)
    error = rejected(lambda: deliver(body, params, headers))
    assert (error.code, error.http_status) == ("JDY_SIGNATURE_MISSING", 401)
    assert drop in error.message


@pytest.mark.parametrize("params, signature", [
    ({"nonce": "a b", "timestamp": str(NOW)}, "0" * 40),
    ({"nonce": "x" * 65, "timestamp": str(NOW)}, "0" * 40),
    ({"nonce": "n1", "timestamp": "17e8"}, "0" * 40),
    ({"nonce": "n1", "timestamp": "-5"}, "0" * 40),
    ({"nonce": "n1", "timestamp": str(NOW)}, "sha1=" + "0" * 35),
    ({"nonce": "n1", "timestamp": str(NOW)}, "z" * 40),
])
def test_malformed_parts_are_refused_as_missing(params, signature):
    error = rejected(lambda: deliver(b"{}", params, {"X-JDY-Signature": signature}))
    assert error.code == "JDY_SIGNATURE_MISSING"


def test_no_configured_secret_refuses_everything():
    body, params, headers = signed(record_event(), secret="")
    no_secret = CONFIG.model_copy(update={"webhook_secret": None})
    error = rejected(lambda: deliver(body, params, headers, config=no_secret))
    assert error.code == "JDY_SIGNATURE_INVALID" and "webhook_secret" in error.message


# ----------------------------------------------------------------------------- bodies


@pytest.mark.parametrize("body, code", [
    (b"\xff\xfe{\"op\": 1}", "JDY_BODY_MALFORMED"),
    ('{"op":"data_update","data":{"_id":"x","名":"\udcff"}}'.encode("utf-8", "surrogatepass"), "JDY_BODY_MALFORMED"),
    (b'{"op": "data_update", "data": {"_id": "x"', "JDY_BODY_MALFORMED"),
    (b"", "JDY_BODY_MALFORMED"),
    (b"[1, 2]", "JDY_BODY_MALFORMED"),
    (b'{"op": "data_update", "data": {"_id": "x", "q": NaN}}', "JDY_BODY_MALFORMED"),
    (b'{"op": "data_update", "op": "data_remove", "data": {"_id": "x"}}', "JDY_BODY_MALFORMED"),
    (b"[" * 100000 + b"]" * 100000, "JDY_BODY_MALFORMED"),
    (b'{"data": {"_id": "x"}}', "JDY_BODY_MALFORMED"),
    (b'{"op": "data_update", "data": []}', "JDY_BODY_MALFORMED"),
    (b'{"op": "data_update", "data": {"entryId": "e"}}', "JDY_BODY_MALFORMED"),
    (b'{"op": "data_explode", "data": {"_id": "x"}}', "JDY_UNKNOWN_OP"),
])
def test_hostile_bodies_are_refused_precisely(body, code):
    error = rejected(lambda: deliver(*signed(body)))
    assert error.code == code
    assert error.http_status == (422 if code == "JDY_UNKNOWN_OP" else 400)


def test_oversized_body_is_refused_before_hashing():
    body = b'{"op":"data_update","data":{"_id":"x","pad":"' + b"a" * (1 << 20) + b'"}}'
    error = rejected(lambda: deliver(*signed(body)))
    assert (error.code, error.http_status) == ("JDY_BODY_TOO_LARGE", 413)
    assert rejected(lambda: parse_event(b"{}" * 600, max_bytes=1000)).code == "JDY_BODY_TOO_LARGE"


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["op", "data", "_id", "entryId", "x"]),
                                                                 inner, max_size=4),
    max_leaves=12).map(lambda v: json.dumps(v).encode())))
def test_parse_event_refuses_anything_else_only_with_webhook_rejected(body):
    try:
        event = parse_event(body)
    except WebhookRejected as error:
        assert error.http_status in (400, 413, 422)
    else:
        assert event.op in ("data_create", "data_update", "data_remove", "data_recover", "form_update", "data_test")


# ----------------------------------------------------------------------------- forms


def test_unknown_form_and_foreign_app_are_refused():
    data = {**sample("asn_two_lines"), "entryId": "ffffffffffffffffffffffff", "formName": "私人表单"}
    error = rejected(lambda: deliver(*signed(event_body("data_create", data))))
    assert (error.code, error.http_status) == ("JDY_UNKNOWN_FORM", 422) and "私人表单" in error.message
    data = {**sample("asn_two_lines"), "appId": "eeeeeeeeeeeeeeeeeeeeeeee"}
    assert rejected(lambda: deliver(*signed(event_body("data_create", data)))).code == "JDY_UNKNOWN_FORM"
    data = {k: v for k, v in sample("asn_two_lines").items() if k != "entryId"}
    assert rejected(lambda: deliver(*signed(event_body("data_create", data)))).code == "JDY_UNKNOWN_FORM"


def test_handle_event_maps_known_forms_and_skips_the_rest():
    event = deliver(*signed(record_event()))
    (doc,) = handle_event(event, CONFIG)
    assert isinstance(doc, OrderResponse) and doc.status == "changed" and doc.source.message_ref == event.delivery_id
    (asn,) = handle_event(deliver(*signed(event_body("data_create", sample("asn_two_lines")))), CONFIG)
    assert isinstance(asn, ShipmentNotice) and asn.asn_number == "ASN-SUP001-0042"
    removed = {"_id": "6b0633100000000000000003", "formName": "采购任务", "deleteTime": "2026-11-22T00:00:00.000Z"}
    assert handle_event(deliver(*signed(event_body("data_remove", removed))), CONFIG) == []
    assert handle_event(deliver(*signed(event_body("data_test", {"formName": "x"}))), CONFIG) == []
    unanswered = {**sample("purchase_task_partial"), "response": ""}
    assert handle_event(deliver(*signed(event_body("data_update", unanswered))), CONFIG) == []


def test_handle_event_refuses_a_form_configured_away_since_the_event_was_stored():
    event = deliver(*signed(record_event()))
    fewer = CONFIG.model_copy(update={"forms": {"asn": DEMO_FORMS["asn"]}})
    assert rejected(lambda: handle_event(event, fewer)).code == "JDY_UNKNOWN_FORM"


def test_a_re_signed_retry_keeps_its_delivery_id():
    body = record_event()
    first = deliver(*signed(body, nonce="aaaa1111"))
    again = deliver(*signed(body, nonce="bbbb2222", ts=NOW + 30), now=NOW + 30)
    assert first.delivery_id == again.delivery_id
    changed = deliver(*signed(record_event(op="data_recover")))
    assert changed.delivery_id != first.delivery_id


# ----------------------------------------------------------------------------- over HTTP


def test_simulator_pushes_verify_end_to_end(sim, receiver):
    url = receiver_url(receiver)
    r = requests.post(f"{sim.base_url}/__sim/webhooks", json={"entry_id": DEMO_FORMS["asn"], "url": url})
    assert r.status_code == 200
    answer = requests.post(f"{sim.base_url}/__sim/ui/create", json={"entry_id": DEMO_FORMS["asn"], "user": "sup001",
                                                                  "data": {"asn_number": "ASN-E2E-1",
                                                                           "supplier_id": "SUP-001",
                                                                           "ship_date": "2026-12-01",
                                                                           "lines": [{"material_id": "1.02.0033",
                                                                                      "quantity": 10, "uom": "H87"}]}})
    assert answer.status_code == 200 and answer.json()["push"]["ok"]
    got = only(received(receiver), "push")
    assert got.path == "/webhooks/jiandaoyun" and set(got.params) == {"nonce", "timestamp"}
    assert got.headers["Content-Type"] == "application/json"
    event = verify_delivery(got.body, got.params, got.headers, config=config_for(sim),
                            nonce_guard=MemoryNonceGuard(), now=time.time())
    assert event.op == "data_create" and event.form_name == "发货通知"
    (asn,) = handle_event(event, config_for(sim))
    assert (asn.asn_number, str(asn.ship_date), asn.lines[0].quantity) == ("ASN-E2E-1", "2026-12-01", 10)


def test_api_writes_do_not_push(sim, receiver):
    from adapters.jiandaoyun import JiandaoyunHook
    requests.post(f"{sim.base_url}/__sim/webhooks", json={"entry_id": DEMO_FORMS["asn"], "url": receiver_url(receiver)})
    with JiandaoyunHook(config_for(sim)) as hook:
        hook.create(DEMO_FORMS["asn"], {"asn_number": "ASN-API"})
    assert received(receiver) == []


def test_push_webhook_retries_with_a_fresh_signature(receiver):
    receiver.state.statuses = [500, 503]
    pauses: list[float] = []
    result = push_webhook(receiver_url(receiver), {"op": "data_test", "data": {}}, PUSH_SECRET, retries=3,
                          backoff=0.5, sleep=pauses.append)
    assert result.ok and result.attempts == 3 and pauses == [0.5, 1.0]
    got = received(receiver)
    assert len({r.params["nonce"] for r in got}) == 3  # each attempt signed anew
    for r in got:
        verify_signature(r.body, r.params["nonce"], r.params["timestamp"], r.headers["X-JDY-Signature"],
                         PUSH_SECRET, now=int(r.params["timestamp"]))


def test_push_webhook_reports_an_unreachable_target():
    result = push_webhook("http://127.0.0.1:9/hook", {"op": "data_test", "data": {}}, PUSH_SECRET, timeout=2)
    assert not result.ok and result.status is None and result.error


def test_push_command_line_sends_a_verifiable_push(receiver, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    record = tmp_path / "record.json"
    record.write_text(json.dumps(sample("asn_two_lines"), ensure_ascii=False), encoding="utf-8")
    env = {"JIANDAOYUN_SIM_WEBHOOK_SECRET": PUSH_SECRET, "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "simulators.jiandaoyun", "push", receiver_url(receiver), "--op",
                           "data_create", "--file", str(record)], capture_output=True, text=True, timeout=60, env=env,
                          cwd=str(Path(__file__).resolve().parents[3]))
    assert done.returncode == 0 and json.loads(done.stdout)["ok"], done.stderr
    got = only(received(receiver), "push")
    event = verify_delivery(got.body, got.params, got.headers, config=CONFIG, nonce_guard=MemoryNonceGuard(),
                            now=int(got.params["timestamp"]))
    assert event.op == "data_create" and event.data == sample("asn_two_lines")
