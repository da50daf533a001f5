"""The dispatcher, the message template, and the Airflow failure notifier."""
from __future__ import annotations

import json
from types import SimpleNamespace

from canonical_model.documents import Alert
from collaboration.alerts.config import parse_config
from hub.errors import FatalError
from hub.notify import notify
from hub.notify.message import render

CONFIG = parse_config("""
alert_types:
  PIPELINE_FAILED: {party: it_ops, next_action: "Open the task log and clear the task."}
parties:
  buyer: {channels: [{kind: email, conn_id: smtp_a, to: [b@plant.example]}, {kind: dingtalk, conn_id: ding_a}]}
  purchasing_manager: {}
  it_ops: {channels: [{kind: wecom, conn_id: wecom_test}]}
""")


def test_each_channel_reports_its_own_outcome_and_one_failure_does_not_stop_the_rest(alert):
    sent = []

    def ok(spec, message):
        sent.append((spec.conn_id, message.subject))
        return "sent to 1 recipient(s)"

    def broken(spec, message):
        raise FatalError("DINGTALK_REJECTED", "errcode 310000", f"dingtalk {spec.conn_id}")

    results = notify(alert, config=CONFIG, channels={"email": ok, "dingtalk": broken})
    assert [(r.channel, r.ok, r.error_kind) for r in results] == [("email", True, ""), ("dingtalk", False, "fatal")]
    assert results[1].detail == "dingtalk ding_a: DINGTALK_REJECTED errcode 310000"
    assert sent == [("smtp_a", "[WARNING] SHORT_SHIPMENT: PurchaseOrder PO-1 - for buyer")]


def test_a_foreign_exception_is_reported_by_class_only_and_a_missing_sender_is_said(alert):
    def leaky(spec, message):
        raise ValueError("https://robot/send?access_token=SECRET-123")

    results = notify(alert, config=CONFIG, channels={"email": leaky})
    assert [r.detail for r in results] == ["email smtp_a: ValueError", "no sender for channel kind 'dingtalk'"]
    assert "SECRET-123" not in json.dumps([r.as_dict() for r in results])


def test_a_party_without_channels_gets_nothing(alert):
    assert notify(alert.model_copy(update={"responsible_party": "purchasing_manager"}), config=CONFIG,
                  channels={}) == []


def test_template_names_subject_party_next_action_and_escalation(alert):
    message = render(alert.model_copy(update={"responsible_party": "purchasing_manager", "severity": "critical"}),
                     CONFIG, level=2)
    assert message.subject == ("[CRITICAL] SHORT_SHIPMENT: PurchaseOrder PO-1 - for purchasing_manager "
                               "(escalated, level 2)")
    lines = message.text.splitlines()
    assert lines[0] == ("Escalated to purchasing_manager (level 2): nobody acknowledged this alert within its SLA.")
    assert "Responsible: purchasing_manager" in lines
    assert message.next_action.startswith("supplier SUP-001 confirms a delivery date")
    assert message.text.count("Next") == 1  # the rule's "Next:" is the next action, not repeated in the text


def test_template_falls_back_to_the_configured_next_action():
    bare = Alert(alert_id="PIPELINE_FAILED:x", alert_type="PIPELINE_FAILED", responsible_party="it_ops",
                 message="something broke")
    message = render(bare, CONFIG)
    assert message.next_action == "Open the task log and clear the task." and "Due: -" in message.text


# ------------------------------------------------------------------------- Airflow notifier
def _wecom_robot(robot, monkeypatch):
    host, port = robot.base.removeprefix("http://").split(":")
    monkeypatch.setenv("AIRFLOW_CONN_WECOM_TEST", json.dumps({"conn_type": "http", "host": host, "port": int(port),
                                                              "schema": "http", "password": "k-Notifier-1"}))


def _tmp_store(tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    from canonical_model.store import open_store

    return open_store()


def test_airflow_failure_callback_stores_one_alert_per_task_and_tells_it_once(robot, monkeypatch, tmp_path):
    from canonical_model.store import audit, documents
    from hub.errors import RetriableError
    from hub.notify import DEFAULT_CHANNELS
    from hub.notify.airflow_notifier import HubFailureNotifier

    _wecom_robot(robot, monkeypatch)
    store = _tmp_store(tmp_path, monkeypatch)
    ti = SimpleNamespace(dag_id="supplier_inbound", task_id="collect", run_id="scheduled__2026-12-01T08:00:00+00:00",
                         try_number=3, log_url="http://airflow.local/log", map_index=-1)
    notifier = HubFailureNotifier(config=CONFIG, channels=DEFAULT_CHANNELS)
    notifier({"ti": ti, "exception": RetriableError("SFTP_UNAVAILABLE", "connection refused", "sftp SUP-001")})
    (result,) = notifier.last_results
    assert result.ok and result.party == "it_ops"
    content = robot.requests[0]["json"]["text"]["content"]
    assert "[CRITICAL] PIPELINE_FAILED: Dag supplier_inbound - for it_ops" in content
    assert "Airflow task supplier_inbound.collect failed in run scheduled__2026-12-01T08:00:00+00:00 (try 3)" in content
    assert "sftp SUP-001: SFTP_UNAVAILABLE connection refused" in content
    assert "Next action: Open the task log and clear the task." in content
    # the next run fails in the same task (another partner, mapped): the same alert, refreshed, not told again
    again = SimpleNamespace(dag_id="supplier_inbound", task_id="collect", run_id="manual__2026-12-01T09:00:00+00:00",
                            try_number=1, map_index=1)
    notifier({"ti": again, "exception": RetriableError("SFTP_UNAVAILABLE", "timed out", "sftp SUP-002")})
    assert notifier.last_results == [] and len(robot.requests) == 1
    with store.session() as s:
        (alert,) = list(documents.current(s, "Alert"))
        trail = [row.action for row in audit.history(s, "Alert", alert.alert_id) if row.action.startswith("alert_")]
    store.dispose()
    assert alert.alert_id == "PIPELINE_FAILED:supplier_inbound:collect" and alert.status == "open"
    assert "supplier_inbound.collect[1] failed in run manual__2026-12-01T09:00:00+00:00 (try 1)" in alert.message
    assert "sftp SUP-002: SFTP_UNAVAILABLE timed out" in alert.message
    assert [s.key for s in alert.subjects] == ["supplier_inbound", "collect", "manual__2026-12-01T09:00:00+00:00"]
    assert trail == ["alert_opened", "alert_notified"]


def test_a_store_that_cannot_be_reached_does_not_silence_the_failure(robot, monkeypatch):
    from hub.errors import FatalError
    from hub.notify import DEFAULT_CHANNELS
    from hub.notify.airflow_notifier import HubFailureNotifier

    _wecom_robot(robot, monkeypatch)
    # a port nothing listens on: the store cannot be opened
    monkeypatch.setenv("HUB_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2")
    notifier = HubFailureNotifier(config=CONFIG, channels=DEFAULT_CHANNELS)
    ti = SimpleNamespace(dag_id="erp_push", task_id="push_to_erp", run_id="r1", try_number=1)
    notifier({"ti": ti, "exception": FatalError("KINGDEE_LOGIN_FAILED", "wrong password", "kingdee")})
    assert [r.ok for r in notifier.last_results] == [True]
    assert "kingdee: KINGDEE_LOGIN_FAILED wrong password" in robot.requests[0]["json"]["text"]["content"]


def test_a_classified_failure_is_quoted_by_its_hub_error(robot, monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    from hub.airflow_support import classified
    from hub.notify.airflow_notifier import pipeline_alert

    @classified
    def broken():
        raise FatalError("WMS_AUTH", "token refused", "wms_default")

    try:
        broken()
    except AirflowFailException as exc:
        error = exc
    alert = pipeline_alert({"dag": SimpleNamespace(dag_id="wms_sync"), "exception": error}, CONFIG)
    assert "wms_default: WMS_AUTH token refused" in alert.message


def test_a_foreign_exception_text_is_not_forwarded(robot, monkeypatch):
    from hub.notify.airflow_notifier import pipeline_alert

    alert = pipeline_alert({"dag": SimpleNamespace(dag_id="d"), "exception": KeyError("password=hunter2")}, CONFIG)
    assert "KeyError" in alert.message and "hunter2" not in alert.message
    assert [s.key for s in alert.subjects] == ["d", "(dag)", "?"]
    # one alert per (DAG, task): the run is context, not identity
    assert pipeline_alert({}, CONFIG).alert_id == "PIPELINE_FAILED:?:(dag)"
