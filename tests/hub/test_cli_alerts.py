"""``hub alerts``: list, ack, resolve, close, show and the escalation sweep, on a real SQLite store."""
from __future__ import annotations

import datetime as dt
import json

import pytest
import typer
from typer.testing import CliRunner

from canonical_model.documents import Alert, SubjectRef
from canonical_model.store import documents, open_store
from collaboration.alerts.lifecycle import raise_alert
from hub.cli_alerts import app as alerts_app

T0 = dt.datetime(2026, 12, 1, 8, tzinfo=dt.timezone.utc)
ALERTING = """
defaults: {ack_sla_hours: 4, escalation: [buyer, purchasing_manager]}
alert_types:
  SHORT_SHIPMENT: {party: supplier}
parties:
  buyer: {channels: [{kind: email, conn_id: smtp_cli, to: [buyer@plant.example]}]}
  purchasing_manager: {channels: [{kind: email, conn_id: smtp_cli, to: [pm@plant.example]}]}
  supplier: {}
"""
ID = "SHORT_SHIPMENT:SUP-001:A-1:PO-1:2"


@pytest.fixture
def cli(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    monkeypatch.setenv("HUB_DATABASE_URL", url)
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path / "var"))
    (tmp_path / "alerting.yaml").write_text(ALERTING)
    monkeypatch.setenv("HUB_ALERTING_FILE", str(tmp_path / "alerting.yaml"))
    from collaboration.alerts.config import load_config

    store = open_store(url, archive_dir=tmp_path / "archive")
    with store.session() as session:
        raise_alert(session, Alert(alert_id=ID, alert_type="SHORT_SHIPMENT", responsible_party="SUP-001",
                                   message="ASN A-1 ships 40 of 50. Next: supplier confirms the rest.",
                                   subjects=[SubjectRef(type="PurchaseOrder", key="PO-1")]),
                    now=T0, config=load_config())
    store.dispose()
    root = typer.Typer()
    root.add_typer(alerts_app, name="alerts")   # as the lead registers it in hub/cli.py
    runner = CliRunner()
    runner.store_url = url
    runner.invoke_alerts = lambda *args: runner.invoke(root, ["alerts", *args])
    return runner


def current(cli):
    store = open_store(cli.store_url)
    with store.session() as session:
        alert = documents.get(session, "Alert", ID)
    store.dispose()
    return alert


def test_list_as_table_and_json_with_status_filter(cli):
    table = cli.invoke_alerts("list")
    assert table.exit_code == 0 and ID in table.stdout
    assert "SUP-001" in table.stdout and "2026-12-01 12:00" in table.stdout  # owner and due (T0 + 4 h)
    as_json = cli.invoke_alerts("list", "--status", "open", "--json")
    (row,) = json.loads(as_json.stdout)
    assert (row["alert_id"], row["status"], row["responsible_party"]) == (ID, "open", "SUP-001")
    assert json.loads(cli.invoke_alerts("list", "--status", "closed", "--json").stdout) == []
    bad = cli.invoke_alerts("list", "--status", "done")
    assert bad.exit_code == 2 and "'done' is not one of open, acknowledged, resolved, closed" in bad.stderr


def test_ack_resolve_close_and_show_history(cli):
    ack = cli.invoke_alerts("ack", ID, "--by", "li.wei", "--now", "2026-12-01T09:00:00+00:00")
    assert ack.exit_code == 0 and ack.stdout.strip() == f"{ID}: acknowledged"
    done = cli.invoke_alerts("resolve", ID, "--by", "li.wei", "--root-cause", "pack size wrong in ASN")
    assert done.exit_code == 0 and current(cli).status == "resolved"
    closed = cli.invoke_alerts("close", ID, "--by", "wang.fang", "--root-cause", "credit note booked")
    assert closed.exit_code == 0 and current(cli).status == "closed"
    shown = json.loads(cli.invoke_alerts("show", ID).stdout)
    steps = [(h["action"], h["actor"]) for h in shown["history"] if h["action"].startswith("alert_")]
    assert steps == [("alert_opened", "hub"), ("alert_acknowledged", "li.wei"), ("alert_resolved", "li.wei"),
                     ("alert_closed", "wang.fang")]
    assert shown["history"][-1]["root_cause"] == "credit note booked"
    assert any(h.get("at") == "2026-12-01T09:00:00+00:00" for h in shown["history"])


def test_invalid_steps_exit_1_with_the_error_line_and_usage_errors_exit_2(cli):
    cli.invoke_alerts("close", ID, "--by", "u", "--root-cause", "dup")
    again = cli.invoke_alerts("ack", ID, "--by", "u")
    assert again.exit_code == 1
    assert again.stderr.strip() == (f"Alert {ID}: ALERT_TRANSITION cannot go from closed to acknowledged; from closed "
                                    f"only to nothing (final) (skippable)")
    missing = cli.invoke_alerts("ack", "NOPE", "--by", "u")
    assert missing.exit_code == 1 and "ALERT_NOT_FOUND" in missing.stderr
    assert cli.invoke_alerts("resolve", ID, "--by", "u").exit_code == 2          # --root-cause is required
    blank = cli.invoke_alerts("resolve", "NOPE", "--by", "u", "--root-cause", " ")
    assert blank.exit_code == 1 and "ROOT_CAUSE_MISSING" in blank.stderr
    assert cli.invoke_alerts("ack", ID, "--by", "u", "--now", "yesterday").exit_code == 2


class Sink:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp_sink():
    """aiosmtpd on a free 127.0.0.1 port (tests/hub/notify/conftest.py has the AUTH-checking one)."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


def test_escalate_sweep_by_the_clock_sends_mail_once_per_level(cli, smtp_sink, monkeypatch):
    sink, port = smtp_sink
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_CLI", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": port,
        "extra": {"from_email": "mes-hub@plant.example", "disable_ssl": True, "disable_tls": True}}))
    early = cli.invoke_alerts("escalate", "--now", "2026-12-01T11:59:00+00:00")
    # level 0 goes to the supplier, whose `parties.supplier` entry has no channel: nothing sent, nothing failed
    assert early.stdout.strip() == "escalated=0 notified=1 failed_notifications=0"
    due = cli.invoke_alerts("escalate", "--now", "2026-12-01T12:00:00+00:00")
    assert due.stdout.strip() == "escalated=1 notified=1 failed_notifications=0"
    assert cli.invoke_alerts("escalate", "--now", "2026-12-01T12:00:00+00:00").stdout.strip() == \
        "escalated=0 notified=0 failed_notifications=0"
    assert current(cli).responsible_party == "buyer"
    (mail,) = sink.messages
    assert mail.rcpt_tos == ["buyer@plant.example"]
    assert b"(escalated, level 1)" in mail.content
    bad = cli.invoke_alerts("escalate", "--now", "soon")
    assert bad.exit_code == 2
