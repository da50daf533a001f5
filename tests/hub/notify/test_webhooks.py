"""DingTalk (through the provider's DingdingHook) and WeCom robots, against a local HTTP receiver."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import socket

import pytest

from collaboration.alerts.config import ChannelSpec, parse_config
from hub.errors import FatalError, RetriableError
from hub.notify import DEFAULT_CHANNELS, notify
from hub.notify import dingtalk, wecom
from hub.notify.message import render

TOKEN = "ding-Tok-5c2e71"     # distinctive secrets: must never be logged or raised
SECRET = "SEC-d3adb33f-77"
KEY = "wecom-Key-a81f40"
CONFIG = parse_config("""
parties:
  buyer:
    channels:
      - {kind: dingtalk, conn_id: ding_test, at_mobiles: ["13800000001"]}
      - {kind: wecom, conn_id: wecom_test, at_mobiles: ["13900000002"], at_all: true}
  purchasing_manager: {}
""")
CLOCK_S = 1764576000.123  # 2025-12-01T08:00:00.123Z


def ding(monkeypatch, base, secret=SECRET):
    monkeypatch.setenv("AIRFLOW_CONN_DING_TEST", json.dumps({
        "conn_type": "dingding", "host": base, "password": TOKEN, **({"extra": {"secret": secret}} if secret else {})}))


def wecom_conn(monkeypatch, base):
    host, port = base.removeprefix("http://").split(":")
    monkeypatch.setenv("AIRFLOW_CONN_WECOM_TEST", json.dumps({
        "conn_type": "http", "host": host, "port": int(port), "schema": "http", "password": KEY,
        "extra": {"timeout": 5}}))


def spec(kind):
    return next(c for c in CONFIG.channels_for("buyer") if c.kind == kind)


def test_sign_matches_dingtalks_documented_recipe():
    # hand-worked: HMAC-SHA256(key=secret, msg="<ts>\n<secret>"), base64, then URL-encoded
    expected = base64.b64encode(hmac.new(b"this is secret", b"1577262236757\nthis is secret",
                                         hashlib.sha256).digest()).decode()
    assert dingtalk.sign("1577262236757", "this is secret") == expected.replace("+", "%2B").replace(
        "/", "%2F").replace("=", "%3D")


class Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture
def url_log(monkeypatch):
    """What urllib3 logs about requests (it prints every URL at DEBUG), wherever logging is configured."""
    logger = logging.getLogger("urllib3.connectionpool")
    handler = Lines()
    monkeypatch.setattr(logger, "disabled", False)
    level = logger.level
    logger.setLevel(logging.DEBUG)  # setLevel, not the attribute: it clears the isEnabledFor cache
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_dingtalk_signed_payload_and_query(monkeypatch, robot, alert, caplog, url_log):
    ding(monkeypatch, robot.base)
    caplog.set_level(logging.DEBUG)
    detail = dingtalk.send(spec("dingtalk"), render(alert, CONFIG), clock=lambda: CLOCK_S)
    assert detail == "sent"
    (request,) = robot.requests
    assert request["path"] == "/robot/send"
    assert request["query"]["access_token"] == [TOKEN]
    assert request["query"]["timestamp"] == ["1764576000123"]
    # parse_qs decoded the URL-encoding once: what is left is the base64 HMAC itself
    expected = base64.b64encode(hmac.new(SECRET.encode(), f"1764576000123\n{SECRET}".encode(),
                                         hashlib.sha256).digest()).decode()
    assert request["query"]["sign"] == [expected]
    body = request["json"]
    assert body["msgtype"] == "text" and body["at"] == {"atMobiles": ["13800000001"], "isAtAll": False}
    content = body["text"]["content"]
    assert content.startswith("[WARNING] SHORT_SHIPMENT: PurchaseOrder PO-1 - for buyer\n")
    assert "Responsible: buyer" in content and "Next action: supplier SUP-001 confirms" in content
    assert any("access_token=***" in line for line in url_log.lines)  # the URL was logged, the token was not
    assert TOKEN not in caplog.text + "".join(url_log.lines) and SECRET not in caplog.text


def test_dingtalk_without_secret_sends_unsigned(monkeypatch, robot, alert):
    ding(monkeypatch, robot.base, secret=None)
    dingtalk.send(spec("dingtalk"), render(alert, CONFIG))
    assert set(robot.requests[0]["query"]) == {"access_token"}


@pytest.mark.parametrize("status, body, error, code", [
    (200, {"errcode": 310000, "errmsg": "sign not match"}, FatalError, "DINGTALK_REJECTED"),
    (200, {"errcode": 130101, "errmsg": "send too fast"}, RetriableError, "DINGTALK_BUSY"),
    (502, {"errcode": 0}, RetriableError, "DINGTALK_UNAVAILABLE"),
    (200, b"<html>proxy</html>", FatalError, "DINGTALK_BAD_ANSWER"),
])
def test_dingtalk_answers_are_classified_without_the_token(monkeypatch, robot, alert, status, body, error, code):
    ding(monkeypatch, robot.base)
    robot.answer(status, body)
    with pytest.raises(error) as bad:
        dingtalk.send(spec("dingtalk"), render(alert, CONFIG))
    assert bad.value.code == code and bad.value.where == "dingtalk ding_test"
    assert TOKEN not in bad.value.as_line() and SECRET not in bad.value.as_line()


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_robots_are_retriable_and_keep_their_keys_out_of_the_error(monkeypatch, alert):
    base = f"http://127.0.0.1:{closed_port()}"
    ding(monkeypatch, base)
    wecom_conn(monkeypatch, base)
    results = notify(alert, config=CONFIG, channels=DEFAULT_CHANNELS)
    assert [(r.channel, r.ok, r.error_kind) for r in results] == [("dingtalk", False, "retriable"),
                                                                 ("wecom", False, "retriable")]
    text = json.dumps([r.as_dict() for r in results])
    assert "DINGTALK_UNAVAILABLE" in text and "WECOM_UNAVAILABLE" in text
    assert TOKEN not in text and KEY not in text


def test_dingtalk_missing_token_or_connection(monkeypatch, robot, alert):
    monkeypatch.setenv("AIRFLOW_CONN_DING_TEST", json.dumps({"conn_type": "dingding", "host": robot.base}))
    with pytest.raises(FatalError) as bad:
        dingtalk.send(spec("dingtalk"), render(alert, CONFIG))
    assert bad.value.code == "DINGTALK_TOKEN_MISSING"
    monkeypatch.delenv("AIRFLOW_CONN_DING_NOWHERE", raising=False)
    with pytest.raises(FatalError) as bad:
        dingtalk.send(ChannelSpec(kind="dingtalk", conn_id="ding_nowhere"), render(alert, CONFIG))
    assert bad.value.code == "CONNECTION_MISSING"
    assert robot.requests == []


def test_wecom_payload_mentions_and_key(monkeypatch, robot, alert, url_log):
    wecom_conn(monkeypatch, robot.base)
    assert wecom.send(spec("wecom"), render(alert, CONFIG)) == "sent"
    assert any("/cgi-bin/webhook/send?key=***" in line for line in url_log.lines)
    assert KEY not in "".join(url_log.lines)
    (request,) = robot.requests
    assert request["path"] == "/cgi-bin/webhook/send" and request["query"] == {"key": [KEY]}
    assert request["content_type"] == "application/json"
    body = request["json"]
    assert body["msgtype"] == "text"
    assert body["text"]["mentioned_mobile_list"] == ["13900000002", "@all"]
    assert "Responsible: buyer" in body["text"]["content"] and "PurchaseOrder PO-1" in body["text"]["content"]


def test_wecom_truncates_to_its_2048_byte_limit_on_a_character_boundary(monkeypatch, robot, alert):
    wecom_conn(monkeypatch, robot.base)
    long = alert.model_copy(update={"message": "缺料" * 2000 + " Next: 采购跟进."})
    wecom.send(spec("wecom"), render(long, CONFIG))
    content = robot.requests[0]["json"]["text"]["content"]
    assert len(content.encode("utf-8")) <= 2048 and content.endswith("...")


@pytest.mark.parametrize("status, body, error, code", [
    (200, {"errcode": 93000, "errmsg": f"invalid webhook url, key={KEY}"}, FatalError, "WECOM_REJECTED"),
    (200, {"errcode": 45009, "errmsg": "api freq out of limit"}, RetriableError, "WECOM_BUSY"),
    (503, b"", RetriableError, "WECOM_UNAVAILABLE"),
    (200, {"no": "errcode"}, FatalError, "WECOM_BAD_ANSWER"),
])
def test_wecom_answers_are_classified_without_the_key(monkeypatch, robot, alert, status, body, error, code):
    wecom_conn(monkeypatch, robot.base)
    robot.answer(status, body)
    with pytest.raises(error) as bad:
        wecom.send(spec("wecom"), render(alert, CONFIG))
    assert bad.value.code == code and KEY not in bad.value.as_line()


def test_wecom_base_url_forms():
    from types import SimpleNamespace as C

    assert wecom.base_url(C(host=None, schema=None, port=None)) == "https://qyapi.weixin.qq.com"
    assert wecom.base_url(C(host="http://127.0.0.1:81/", schema=None, port=None)) == "http://127.0.0.1:81"
    assert wecom.base_url(C(host="robot.local", schema="http", port=8080)) == "http://robot.local:8080"
    assert wecom.base_url(C(host="robot.local", schema="weird", port=None)) == "https://robot.local"
