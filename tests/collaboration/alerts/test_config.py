"""mappings/alerting.yaml: the repository's file is valid, and mistakes point at file:line."""
from __future__ import annotations

import datetime as dt

import pytest

from collaboration.alerts import rules
from collaboration.alerts.config import load_config, parse_config
from hub.errors import FatalError


def test_the_repository_file_loads_and_names_every_rule_type_with_known_parties():
    config = load_config()
    for code in (rules.MATERIAL_SHORTAGE, rules.ASN_MISSING, rules.ASN_LATE, rules.QTY_MISMATCH_ASN_PO,
                 rules.QTY_MISMATCH_RECEIPT_ASN, rules.UNKNOWN_BATCH, rules.INSPECTION_FAILED,
                 rules.PLAN_CHANGE_UNACKNOWLEDGED, rules.INTERCHANGE_UNACKNOWLEDGED, rules.PUSH_FAILING,
                 "SHORT_SHIPMENT", "RECEIPT_QTY_MISMATCH", "ORDER_REJECTED", "ORDER_CHANGED", "NO_ASN",
                 "ASN_CANCEL_TOO_LATE", "DUPLICATE_INTERCHANGE", "PIPELINE_FAILED"):
        assert config.spec(code) is not None, code
    # the roles the rules name by default are the ones the file gives the types
    assert config.party_for(rules.MATERIAL_SHORTAGE, rules.PLANNER) == "planner"
    assert config.party_for(rules.INSPECTION_FAILED, rules.QUALITY) == "quality"
    assert config.party_for(rules.PUSH_FAILING, rules.IT_OPS) == "it_ops"


def test_channels_name_connection_ids_never_secrets():
    text = open(load_config.__globals__["DEFAULT_PATH"], encoding="utf-8").read().lower()
    for word in ("password:", "token:", "secret:", "access_token=", "key="):
        assert word not in text


def test_lookups(config):
    assert config.party_for("SHORT_SHIPMENT", "SUP-001") == "SUP-001"   # "supplier": the rule's own party
    assert config.party_for("ORDER_REJECTED", "whoever") == "buyer"
    assert config.party_for("NOT_CONFIGURED", "warehouse") == "warehouse"
    assert config.ack_sla("ORDER_REJECTED") == dt.timedelta(hours=2)
    assert config.ack_sla("NOT_CONFIGURED") == dt.timedelta(hours=4)
    assert config.next_party("SHORT_SHIPMENT", "SUP-001") == "buyer"       # outside the chain: its first
    assert config.next_party("SHORT_SHIPMENT", "buyer") == "purchasing_manager"
    assert config.next_party("SHORT_SHIPMENT", "purchasing_manager") is None
    assert config.next_party("PUSH_FAILING", "it_ops") == "it_manager"
    assert [c.kind for c in config.channels_for("SUP-777")] == ["wecom"]   # any supplier: parties.supplier
    assert config.push_sla("anything") == dt.timedelta(minutes=60)


@pytest.mark.parametrize("text, line, words", [
    ("parties: {buyer: {}, purchasing_manager: {}}\nalert_types:\n  X: {party: byer}\n", 3, "'byer'"),
    ("parties: {buyer: {}}\n", 1, "'purchasing_manager'"),
    ("parties:\n  buyer:\n    channels:\n      - {kind: fax, conn_id: f}\n", 4, "kind"),
    ("parties:\n  buyer:\n    channels:\n      - {kind: email, conn_id: smtp_default}\n", 4, "`to`"),
    ("defaults: {ack_sla_hours: 0}\nparties: {buyer: {}, purchasing_manager: {}}\n", 1, "ack_sla_hours"),
    ("parties: {buyer: {}, purchasing_manager: {}}\nparties: {}\n", 2, "duplicate key"),
    ("parties: [unclosed\n", 2, "YAML syntax"),
    ("- a list\n", 1, "YAML mapping"),
    ("parties: {buyer: {}, purchasing_manager: {}}\npush_sla_minutes: {wms: 5}\n", 2, "default"),
    ("parties: {buyer: {}, purchasing_manager: {}}\nunknown_section: 1\n", 2, "unknown_section"),
])
def test_mistakes_are_fatal_with_file_and_line(text, line, words):
    with pytest.raises(FatalError) as bad:
        parse_config(text, "plant.yaml")
    assert bad.value.code == "ALERTING_CONFIG_INVALID"
    assert bad.value.where == f"plant.yaml:{line}", bad.value.as_line()
    assert words in bad.value.message


def test_a_missing_file_is_fatal_and_names_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_ALERTING_FILE", str(tmp_path / "nope.yaml"))
    with pytest.raises(FatalError) as bad:
        load_config()
    assert bad.value.code == "ALERTING_CONFIG_INVALID" and "nope.yaml" in bad.value.where


def test_an_edited_file_is_read_again(tmp_path, monkeypatch):
    path = tmp_path / "alerting.yaml"
    path.write_text("parties: {buyer: {}, purchasing_manager: {}}\ndefaults: {ack_sla_hours: 3}\n")
    monkeypatch.setenv("HUB_ALERTING_FILE", str(path))
    assert load_config().ack_sla("X") == dt.timedelta(hours=3)
    import os
    path.write_text("parties: {buyer: {}, purchasing_manager: {}}\ndefaults: {ack_sla_hours: 5}\n")
    os.utime(path, ns=(1, os.stat(path).st_mtime_ns + 10_000_000))
    assert load_config().ack_sla("X") == dt.timedelta(hours=5)
