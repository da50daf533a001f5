"""hub.logs: JSON lines with context, secrets masked in every part of a record, and the log scanner."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from urllib.parse import quote, quote_plus

import pytest
from fastapi.testclient import TestClient

from hub.connections import get_connection, parse_connection
from hub.logs import configure_logging, find_secrets_in, find_secrets_in_logs, log_context, mask_connection

# distinctive, and full of characters a URI must percent-encode
URI_SECRET = "uri-Pw/9:@ x+%k"
URI_TOKEN = "uri-Tok-4be1&=?"
JSON_SECRET = 'json-Pw-"7c\\d'
HOOK_SECRET = "hook-Secret-e5a0"
FILE_SECRET = "file-Secret-31d9"
ALL = (URI_SECRET, URI_TOKEN, JSON_SECRET, HOOK_SECRET, FILE_SECRET)
log = logging.getLogger("hub.test_logs")


def forms(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}


@pytest.fixture
def output(monkeypatch, tmp_path, capsys):
    """configure_logging(format) writing to the captured stderr; the root logger restored afterwards."""
    root = logging.getLogger()
    level = root.level
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path / "var"))
    # the process-wide registries start empty: secrets earlier tests registered (a password "wrong")
    # would mask words of these tests' messages
    import hub.logs
    import hub.notify.redact

    monkeypatch.setattr(hub.logs, "SECRETS", hub.logs.SecretRegistry())
    monkeypatch.setattr(hub.notify.redact, "_FILTER", hub.notify.redact.SecretFilter())
    for name in ("AIRFLOW_CTX_DAG_ID", "AIRFLOW_CTX_DAG_RUN_ID", "AIRFLOW_CTX_TASK_ID", "HUB_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)

    class Output:
        handler: logging.Handler

        def configure(self, fmt: str = "json", keep: bool = False) -> None:
            monkeypatch.setenv("HUB_LOG_FORMAT", fmt)
            self.handler = configure_logging(default_level="INFO")
            if not keep:
                capsys.readouterr()

        def text(self) -> str:
            return capsys.readouterr().err

        def records(self) -> list[dict]:
            # every line on stderr must be one JSON object: that is the contract
            return [json.loads(line) for line in self.text().splitlines()]

    yield Output()
    for handler in [h for h in root.handlers if getattr(h, "hub_handler", False)]:
        root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def configured_secrets(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_CONN_TEST_URI", f"http://user:{quote(URI_SECRET, safe='')}@erp.example:8080/k3"
                                                f"?acct_id=A1&api_token={quote(URI_TOKEN, safe='')}")
    monkeypatch.setenv("AIRFLOW_CONN_TEST_JSON", json.dumps({
        "conn_type": "http", "host": "mes.example", "login": "hub", "password": JSON_SECRET,
        "extra": {"plant_id": "PLANT01", "nested": {"webhook_secret": HOOK_SECRET}}}))
    var = tmp_path / "var"
    var.mkdir(exist_ok=True)
    (var / "secrets.json").write_text(json.dumps({"simulator_password": FILE_SECRET}))


def get_connection_value(conn_id: str) -> str:
    return os.environ[f"AIRFLOW_CONN_{conn_id}"]


def assert_no_secret(text: str) -> None:
    for secret in ALL:
        for form in forms(secret):
            assert form not in text, f"{form!r} leaked"


def test_json_lines_carry_level_logger_message_and_context(output):
    output.configure("json")
    with log_context(partner="SUP-001", sha256="ab" * 32) as context:
        context.bind(doc_key="ShipmentNotice:ASN-1")
        log.info("stored %s", "ASN-1")
        with log_context(partner="SUP-002"):
            log.warning("inner")
    log.info("outside")
    stored, inner, outside = output.records()
    assert stored["level"] == "INFO" and stored["logger"] == "hub.test_logs" and stored["message"] == "stored ASN-1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", stored["ts"])
    assert (stored["partner"], stored["sha256"], stored["doc_key"]) == ("SUP-001", "ab" * 32, "ShipmentNotice:ASN-1")
    assert (inner["level"], inner["partner"], inner["doc_key"]) == ("WARNING", "SUP-002", "ShipmentNotice:ASN-1")
    assert not {"partner", "sha256", "doc_key", "dag_id"} & set(outside)


def test_airflow_task_identity_comes_from_airflow_ctx_variables(output, monkeypatch):
    output.configure("json")
    monkeypatch.setenv("AIRFLOW_CTX_DAG_ID", "supplier_inbound")
    monkeypatch.setenv("AIRFLOW_CTX_DAG_RUN_ID", "manual__2026-11-26T08:00:00+00:00")
    monkeypatch.setenv("AIRFLOW_CTX_TASK_ID", "process_file")
    log.info("in a task")
    (line,) = output.records()
    assert (line["dag_id"], line["dag_run_id"], line["task_id"]) == (
        "supplier_inbound", "manual__2026-11-26T08:00:00+00:00", "process_file")


def test_log_context_refuses_unknown_fields_and_restores_on_error(output):
    output.configure("json")
    with pytest.raises(TypeError, match="secret"):
        with log_context(secret="x"):
            pass
    with pytest.raises(RuntimeError):
        with log_context(partner="SUP-001"):
            raise RuntimeError("boom")
    log.info("after")
    assert "partner" not in output.records()[0]


def test_log_context_reaches_structlog_context_that_airflow_task_logs_render(output):
    import structlog.contextvars

    with log_context(partner="SUP-001", doc_key="ShipmentNotice:ASN-1"):
        assert structlog.contextvars.get_contextvars() == {"partner": "SUP-001", "doc_key": "ShipmentNotice:ASN-1"}
    assert structlog.contextvars.get_contextvars() == {}


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_configured_secrets_are_masked_in_message_traceback_and_extra(output, configured_secrets, fmt):
    output.configure(fmt)
    log.info("uri %s json %s hook %s file %s", URI_SECRET, JSON_SECRET, HOOK_SECRET, FILE_SECRET)
    log.info("the connection: %s", get_connection_value("TEST_URI"))  # percent-encoded inside the URI
    log.info("quoted %s %s", quote_plus(URI_TOKEN), json.dumps({"password": JSON_SECRET}))
    try:
        try:
            raise KeyError(HOOK_SECRET)
        except KeyError as cause:
            raise RuntimeError(f"login failed with {URI_SECRET}") from cause
    except RuntimeError:
        log.exception("call failed for %s", "erp")
    log.info("with extras", extra={"auth": {"token": FILE_SECRET}, "tried": [URI_SECRET, "PLANT01"]})
    text = output.text()
    assert_no_secret(text)
    assert text.count("***") >= 10
    # what is not a secret stays readable: no over-masking of ordinary extras and values
    assert "erp.example" in text and "acct_id=A1" in text and "call failed for erp" in text
    assert "RuntimeError: login failed with ***" in text and "KeyError: '***'" in text
    if fmt == "json":
        lines = [json.loads(line) for line in text.splitlines()]
        assert lines[-1]["tried"] == ["***", "PLANT01"] and lines[-1]["auth"] == {"token": "***"}
        assert "Traceback" in lines[-2]["exception"]


def test_secrets_set_after_start_up_and_robot_keys_are_masked(output, monkeypatch):
    """The demo sets its Connections after the CLI configured logging; robot keys come from hub/notify."""
    from hub.notify.redact import redact_in_logs

    output.configure("json")
    monkeypatch.setenv("AIRFLOW_CONN_LATE", json.dumps({"conn_type": "http", "password": "late-Secret-8e2f"}))
    redact_in_logs("robot-Key-0d1c77")
    log.info("late-Secret-8e2f robot-Key-0d1c77")
    assert output.records()[0]["message"] == "*** ***"


def test_hostile_input_is_still_one_valid_json_line(output, configured_secrets):
    output.configure("json")
    log.info("line one\nline two\r\n{braces} %s %s \u2028 %%", b"\xff\xfe\x00", "bad \udcff bytes",
             extra={"obj": object(), "raw": b"\x80" + FILE_SECRET.encode()})
    # straight to the hub's handler: pytest's own log capture would raise on the bad arguments first
    output.handler.handle(log.makeRecord(log.name, logging.INFO, __file__, 1, "wrong arguments %d",
                                         ("not a number",), None))
    log.info("%s", "\udcff" + FILE_SECRET + "\\")
    lines = output.text().splitlines()
    assert len(lines) == 3
    first, second, third = (json.loads(line) for line in lines)
    assert first["message"].startswith("line one\nline two\r\n{braces} b'\\xff\\xfe\\x00' bad \\udcff bytes")
    assert first["obj"].startswith("<object object") and FILE_SECRET not in lines[0]
    assert "wrong arguments %d" in second["message"] and "not a number" in second["message"]
    assert third["message"] == "\\udcff***\\"
    assert all(line.isascii() for line in lines)


def test_text_mode_is_human_text(output):
    output.configure("text")
    with log_context(partner="SUP-001"):
        log.info("hello %s", "world")
    (line,) = output.text().splitlines()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO hub\.test_logs: hello world", line)


def test_an_unknown_format_is_text_with_a_warning(output):
    output.configure("xml", keep=True)
    log.info("plain")
    text = output.text()
    assert "HUB_LOG_FORMAT='xml' is neither json nor text" in text and "hub.test_logs: plain" in text


def test_connections_read_from_the_environment_are_masked_by_airflow_too(monkeypatch):
    """In task processes Airflow writes the log: the hub hands it the secrets it read itself."""
    import airflow.sdk.log  # noqa: F401 - a task process has it loaded
    from airflow.sdk._shared.secrets_masker import redact as airflow_redact

    secret = "task-Conn-Pw/77 a"
    monkeypatch.setenv("AIRFLOW_CONN_TASK_TEST", f"http://u:{quote(secret, safe='')}@h:1/?ingress_token=task-Tok-9a0b")
    assert get_connection("task_test").password == secret
    assert airflow_redact(f"x {secret} {quote(secret, safe='')} task-Tok-9a0b") == "x *** *** ***"
    conn = parse_connection(json.dumps({"conn_type": "http", "password": "other-Pw-5c31"}), "other")
    assert mask_connection(conn) is conn and airflow_redact("other-Pw-5c31") == "***"


def test_flows_log_partner_sha256_and_doc_key(output, sqlite_store, sftp):
    from hub.flows.supplier_collect import collect_files
    from hub.flows.supplier_inbound import process_inbox
    from tests.hub.flows.test_supplier_inbound import PARTNER, desadv, drop, seed_po

    output.configure("json")
    seed_po(sqlite_store)
    data = desadv()
    drop(sftp, "asn1.edi", data)
    collect_files(sqlite_store, PARTNER)
    process_inbox(sqlite_store, PARTNER)
    sha = hashlib.sha256(data).hexdigest()
    lines = output.records()
    collected = [line for line in lines if line["message"].startswith(f"{PARTNER}: collected")]
    assert [(line["partner"], line["sha256"]) for line in collected] == [(PARTNER, sha)]
    stored = [line for line in lines if line.get("doc_key") == "ShipmentNotice:SUP-001/ASN-1"]
    assert stored and all((line["partner"], line["sha256"]) == (PARTNER, sha) for line in stored)
    # the partner's SFTP password (its Connection, read by the flow) never shows
    password = parse_connection(get_connection_value("SUPPLIER_SFTP_SUP001"), "x").password
    assert password not in json.dumps(lines)


def test_ingress_and_events_flow_log_source_sha256_and_doc_key(output, sqlite_store, monkeypatch):
    from hub.api import create_app
    from hub.flows.events import process_pending
    from tests.hub.api.support import ALL_SECRETS, SUPPLIER_TOKENS, WMS_TOKEN, set_connections

    set_connections(monkeypatch)
    output.configure("json")
    qc = json.dumps({"type": "qc", "qc": {"batch_id": "SUP-001:B1", "status": "released"}}).encode()
    asn = json.dumps({"asn_number": "ASN-77", "ship_date": "2026-11-26", "lines": [
        {"line_no": 1, "po_number": "PO-1", "po_line_no": 1, "material_id": "M1", "quantity": "5",
         "uom": "H87"}]}).encode()
    with TestClient(create_app(sqlite_store, trigger=None, connection_ttl_seconds=0)) as client:
        assert client.post("/events/wms", content=qc, headers={"Authorization": f"Bearer {WMS_TOKEN}",
                                                                "Content-Type": "application/json"}).status_code == 202
        assert client.post("/suppliers/SUP-001/asns", content=asn, headers={
            "Authorization": f"Bearer {SUPPLIER_TOKENS['SUP-001']}", "Content-Type": "application/json"}
        ).status_code == 202
        # a wrong token: refused, and the token it carried is not echoed either
        client.post("/events/wms", content=qc, headers={"Authorization": f"Bearer {WMS_TOKEN}x"})
    # the qc event names a batch the hub has not received, ASN-77 a PO it does not know: both quarantined
    assert process_pending(sqlite_store)["quarantined"] == 2
    lines = output.records()
    ingress = [line for line in lines if line["logger"] == "hub.api" and "stored as event" in line["message"]]
    assert [(line["partner"], line["sha256"]) for line in ingress] == [
        ("wms", hashlib.sha256(qc).hexdigest()), ("SUP-001", hashlib.sha256(asn).hexdigest())]
    assert ingress[1]["doc_key"] == "ShipmentNotice:SUP-001/ASN-77"
    processed = [line for line in lines if re.match(r"events: event \d+ \(", line["message"])]
    assert [(line["partner"], line["sha256"]) for line in processed] == [
        ("wms", hashlib.sha256(qc).hexdigest()), ("SUP-001", hashlib.sha256(asn).hexdigest())]
    text = json.dumps(lines)
    assert not [secret for secret in ALL_SECRETS if secret in text]


# ------------------------------------------------------------------------------------- the scanner


def test_scanner_finds_a_planted_secret_raw_and_percent_encoded(tmp_path):
    var = tmp_path / "var"
    (var / "logs").mkdir(parents=True)
    task_log = var / "airflow" / "logs" / "dag_id=events" / "run_id=manual" / "task_id=run" / "attempt=1.log"
    task_log.parent.mkdir(parents=True)
    (var / "archive").mkdir()
    secrets = {"kingdee_password": "k-Pw/4 1+x", "wms_token": "0f3a9c2b7d", "unused": "never-logged-value"}
    (var / "secrets.json").write_text(json.dumps(secrets))
    (var / "logs" / "dags.log").write_text("login with k-Pw/4 1+x failed\n")
    task_log.write_text('{"event": "GET /?token=0f3a9c2b7d"}\n{"event": "kingdee://u:k-Pw%2F4%201%2Bx@h"}\n')
    (var / "logs" / "clean.log").write_text("nothing to see\n")
    (var / "archive" / "payload.edi").write_text("0f3a9c2b7d")  # not a log: not scanned
    assert find_secrets_in_logs(var) == [(task_log, "kingdee_password"), (task_log, "wms_token"),
                                         (var / "logs" / "dags.log", "kingdee_password")]
    (var / "logs" / "dags.log").write_text("login with *** failed\n")
    task_log.write_text("masked: ***\n")
    assert find_secrets_in_logs(var) == []


def test_scanner_finds_a_secret_across_a_chunk_boundary(tmp_path):
    path = tmp_path / "big.log"
    path.write_bytes(b"x" * 13 + b"form+plus%2Bsecret" + b"y" * 20)
    assert find_secrets_in([path], {"s": "form plus+secret"}, chunk_bytes=16) == [(path, "s")]
    assert find_secrets_in([path], {"s": "another-secret"}, chunk_bytes=16) == []


def test_every_hub_command_logs_through_the_hub_handler(output, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from hub.cli import app
    from hub.logs import JsonFormatter
    from tests.hub.test_cli import desadv_bytes

    monkeypatch.setenv("HUB_LOG_FORMAT", "json")
    path = tmp_path / "asn.edi"
    path.write_bytes(desadv_bytes())
    assert CliRunner().invoke(app, ["translate", str(path)]).exit_code == 0
    (handler,) = [h for h in logging.getLogger().handlers if getattr(h, "hub_handler", False)]
    assert isinstance(handler.formatter, JsonFormatter)
