"""E-mail through smtplib into a local aiosmtpd sink: the mail names subject, party and next action."""
from __future__ import annotations

import email
import json

import pytest

from collaboration.alerts.config import ChannelSpec, parse_config
from hub.errors import FatalError, RetriableError
from hub.notify import DEFAULT_CHANNELS, notify
from hub.notify.email import send
from hub.notify.message import render

PASSWORD = "smtp-Pw-93f1e"  # distinctive: must never show up anywhere
CONFIG = parse_config("""
parties:
  buyer: {channels: [{kind: email, conn_id: smtp_test, to: [buyer@plant.example, lead@plant.example]}]}
  purchasing_manager: {}
""")


def connection(monkeypatch, port, **extra):
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_TEST", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": port, "login": "hub@plant.example", "password": PASSWORD,
        "extra": {"from_email": "mes-hub@plant.example", "disable_ssl": True, "disable_tls": True, "timeout": 5,
                  **extra}}))


def test_the_sink_receives_the_mail_with_subject_party_and_next_action(monkeypatch, smtp_sink, alert):
    sink, port = smtp_sink(login="hub@plant.example", password=PASSWORD)
    connection(monkeypatch, port)
    (result,) = notify(alert, config=CONFIG, channels=DEFAULT_CHANNELS)
    assert result.ok and result.detail == "sent to 2 recipient(s)" and result.channel == "email"
    (envelope,) = sink.messages
    assert sink.logins == ["hub@plant.example"]
    assert envelope.mail_from == "mes-hub@plant.example"
    assert sorted(envelope.rcpt_tos) == ["buyer@plant.example", "lead@plant.example"]
    mail = email.message_from_bytes(envelope.content)
    assert mail["Subject"] == "[WARNING] SHORT_SHIPMENT: PurchaseOrder PO-1 - for buyer"
    assert mail["X-MES-Hub-Alert"] == alert.alert_id
    body = mail.get_payload(decode=True).decode("utf-8")
    assert "Subject: SHORT_SHIPMENT - PurchaseOrder PO-1, ShipmentNotice SUP-001/ASN-1" in body
    assert "Responsible: buyer" in body
    assert "Next action: supplier SUP-001 confirms a delivery date for the rest, or the buyer reduces the PO." in body
    assert "hub alerts ack SHORT_SHIPMENT:SUP-001:ASN-1:PO-1:2 --by <you>" in body
    assert PASSWORD not in envelope.content.decode("utf-8", "replace")


def test_a_wrong_password_is_fatal_and_not_quoted(monkeypatch, smtp_sink, alert):
    sink, port = smtp_sink(login="hub@plant.example", password="the-right-one")
    connection(monkeypatch, port)
    spec = CONFIG.channels_for("buyer")[0]
    with pytest.raises(FatalError) as bad:
        send(spec, render(alert, CONFIG))
    assert bad.value.code == "SMTP_AUTH_FAILED" and bad.value.where == "email smtp_test"
    assert PASSWORD not in bad.value.as_line() and sink.messages == []


def closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends: nobody listens there


def test_nobody_listening_is_retriable_and_reported_per_channel(monkeypatch, alert):
    connection(monkeypatch, closed_port())
    (result,) = notify(alert, config=CONFIG, channels=DEFAULT_CHANNELS)
    assert not result.ok and result.error_kind == "retriable"
    assert result.detail.startswith("email smtp_test: SMTP_UNAVAILABLE sending through 127.0.0.1:")
    with pytest.raises(RetriableError):
        send(CONFIG.channels_for("buyer")[0], render(alert, CONFIG))


def test_a_connection_without_host_or_sender_is_fatal(monkeypatch, alert):
    spec = ChannelSpec(kind="email", conn_id="smtp_broken", to=("a@plant.example",))
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_BROKEN", json.dumps({"conn_type": "smtp", "port": 25}))
    with pytest.raises(FatalError) as bad:
        send(spec, render(alert, CONFIG))
    assert bad.value.code == "SMTP_HOST_MISSING"
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_BROKEN", json.dumps({"conn_type": "smtp", "host": "127.0.0.1"}))
    with pytest.raises(FatalError) as bad:
        send(spec, render(alert, CONFIG))
    assert bad.value.code == "SMTP_SENDER_MISSING"


def test_an_undefined_connection_is_fatal(monkeypatch, alert):
    monkeypatch.delenv("AIRFLOW_CONN_SMTP_NOWHERE", raising=False)
    spec = ChannelSpec(kind="email", conn_id="smtp_nowhere", to=("a@plant.example",))
    (result,) = notify(alert, config=parse_config(
        "parties: {buyer: {channels: [{kind: email, conn_id: smtp_nowhere, to: [a@plant.example]}]}, "
        "purchasing_manager: {}}"), channels=DEFAULT_CHANNELS)
    assert not result.ok and "CONNECTION_MISSING" in result.detail and result.error_kind == "fatal"


def test_sending_the_same_alert_twice_sends_two_mails_the_sweep_decides_once(monkeypatch, smtp_sink, alert):
    # the channel itself is not idempotent: once-per-level is the escalation sweep's audit (tested there)
    sink, port = smtp_sink()
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_TEST", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": port,
        "extra": {"from_email": "mes-hub@plant.example", "disable_ssl": "true", "disable_tls": "true"}}))
    for _ in range(2):
        send(CONFIG.channels_for("buyer")[0], render(alert, CONFIG))
    assert len(sink.messages) == 2
