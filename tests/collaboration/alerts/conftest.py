"""A small alerting configuration the lifecycle and escalation tests reason about by hand."""
from __future__ import annotations

import pytest

from collaboration.alerts.config import parse_config

CONFIG_TEXT = """
defaults:
  ack_sla_hours: 4
  escalation: [buyer, purchasing_manager]
alert_types:
  SHORT_SHIPMENT: {party: supplier}
  PUSH_FAILING: {party: it_ops, ack_sla_hours: 1, escalation: [it_ops, it_manager]}
  ORDER_REJECTED: {party: buyer, ack_sla_hours: 2}
parties:
  buyer: {channels: [{kind: email, conn_id: smtp_test, to: [buyer@plant.example]}]}
  purchasing_manager: {channels: [{kind: email, conn_id: smtp_test, to: [pm@plant.example]}]}
  it_ops: {channels: []}
  it_manager: {channels: []}
  supplier: {channels: [{kind: wecom, conn_id: wecom_test}]}
"""


@pytest.fixture
def config():
    return parse_config(CONFIG_TEXT, "test-alerting.yaml")
