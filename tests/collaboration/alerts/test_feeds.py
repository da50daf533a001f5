"""FEED_QUIET: partners' messages and systems' pulls not heard for too long raise one alert per feed,
resolved by the rules when the feed speaks again, reopened when it falls quiet again."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from canonical_model.documents import Alert, ShipmentNotice, Source
from canonical_model.store import audit, documents, state
from canonical_model.store.tables import DocumentRow, EventRow, InterchangeRow, QuarantineRow
from collaboration.alerts.config import load_config, parse_config
from collaboration.alerts.feeds import partner_feeds, record_heard, sweep_feeds, system_feeds
from collaboration.alerts.rules import FEED_QUIET, feed_quiet
from hub.errors import FatalError, SkippableError
from hub.partners import parse_profile

T0 = dt.datetime(2030, 1, 1, 8, 0, tzinfo=dt.timezone.utc)
H = dt.timedelta(hours=1)

CONFIG = parse_config("""
alert_types:
  FEED_QUIET: {party: supplier, ack_sla_hours: 4, escalation: [buyer, it_ops, it_manager]}
feed_quiet_hours: {erp: 2, mes: null, wms: null}
parties: {buyer: {}, purchasing_manager: {}, it_ops: {}, it_manager: {}, supplier: {}}
""", "test-alerting.yaml")

PROFILE = """
partner_id: SUP-9
name: Nine
edi: {our_id: MESHUB, their_id: SUP9}
messages:
  asn: {format: edifact, message: DESADV, version: D96A}
  order_response: {format: edifact, message: ORDRSP, version: D96A}
  invoice: {format: csv}
  orders: {format: edifact, message: ORDERS, version: D96A}
expect:
  max_quiet_hours: {asn: 24, order_response: null}
"""


# ------------------------------------------------------------------------------ the rule
def test_quiet_only_past_the_limit_and_a_feed_never_heard_counts_from_when_it_was_first_watched():
    args = dict(label="asn from supplier SUP-9", party="SUP-9", watched_since=T0, max_quiet=24 * H)
    assert feed_quiet("SUP-9/asn", last_heard=None, now=T0 + 23 * H, **args) is None
    never = feed_quiet("SUP-9/asn", last_heard=None, now=T0 + 30 * H, **args)
    assert never.alert_id == "FEED_QUIET:SUP-9/asn" and never.responsible_party == "SUP-9"
    assert never.message.startswith("No asn from supplier SUP-9 for 30 h (nothing heard since the hub began "
                                    "watching it on 2030-01-01 08:00 UTC); expected at least every 24 h. Next:")
    heard = feed_quiet("SUP-9/asn", last_heard=T0 + 2 * H, now=T0 + 27.5 * H, **args)
    assert "for 25.5 h (last heard 2030-01-01 10:00 UTC)" in heard.message
    assert feed_quiet("SUP-9/asn", last_heard=T0 + 10 * H, now=T0 + 27.5 * H, **args) is None


@pytest.mark.parametrize("limit", [dt.timedelta(0), -H, 24])
def test_a_limit_that_is_no_duration_is_refused(limit):
    with pytest.raises(SkippableError, match="max_quiet"):
        feed_quiet("x", label="x", party="it_ops", last_heard=None, watched_since=T0, max_quiet=limit, now=T0)


# ------------------------------------------------------------------------------ what is watched
def test_feeds_from_the_profile_defaults_and_the_alerting_file():
    feeds = partner_feeds([parse_profile(PROFILE)]) + system_feeds(CONFIG, "kingdee")
    assert [(f.key, f.max_quiet, f.party, f.doc_type, f.edi_message) for f in feeds] == [
        ("SUP-9/asn", 24 * H, "SUP-9", "ShipmentNotice", "DESADV"),
        ("SUP-9/invoice", 168 * H, "SUP-9", "Invoice", None),   # declared, not listed: the week's default
        ("erp", 2 * H, "it_ops", None, None),                    # mes and wms set to null: not watched
    ]
    assert "ERP (kingdee)" in feeds[-1].label
    # the repository's own files: both partners' ASNs and every system are watched
    from hub.partners import load_partners

    keys = [f.key for f in partner_feeds(load_partners().values()) + system_feeds(load_config(), "kingdee")]
    assert {"SUP-001/asn", "SUP-002/asn", "erp", "mes", "wms"} <= set(keys)


# ------------------------------------------------------------------------------ the sweep
def sweep(store, now, feeds=None):
    feeds = feeds if feeds is not None else partner_feeds([parse_profile(PROFILE)]) + system_feeds(CONFIG, "kingdee")
    with store.session() as session:
        return sweep_feeds(session, feeds, now=now, config=CONFIG)


def feed_alerts(store) -> dict[str, Alert]:
    with store.session() as session:
        return {a.alert_id: a for a in documents.current(session, "Alert") if a.alert_type == FEED_QUIET}


def trail(store, alert_id) -> list[tuple[str, str]]:
    with store.session() as session:
        return [(r.action, (r.details or {}).get("root_cause", "")) for r in audit.history(session, "Alert", alert_id)
                if r.action.startswith("alert_")]


def store_asn(store, partner: str, at: dt.datetime, number: str = "ASN-1") -> None:
    with store.session() as session:
        documents.upsert(session, ShipmentNotice(asn_number=number, supplier_id=partner, source=Source(
            system="edifact", partner=partner, file=f"{number}.edi"), lines=[
            {"line_no": 1, "po_number": "PO-1", "po_line_no": 1, "material_id": "M-1", "quantity": "5", "uom": "H87"}]))
        session.flush()
        # the store stamps documents with the wall clock; the sweep runs on the test's clock
        for row in session.scalars(select(DocumentRow).where(DocumentRow.business_key.contains(number))):
            row.created_at = at


def test_quiet_feeds_alert_once_resolve_when_they_speak_and_reopen(store):
    assert sweep(store, T0) == {"opened": 0, "resolved": 0}   # watching starts: nobody is late yet
    assert sweep(store, T0 + 25 * H) == {"opened": 2, "resolved": 0}
    assert sweep(store, T0 + 26 * H) == {"opened": 0, "resolved": 0}   # still quiet: the same alerts
    alerts = feed_alerts(store)
    assert set(alerts) == {"FEED_QUIET:SUP-9/asn", "FEED_QUIET:erp"}
    assert alerts["FEED_QUIET:SUP-9/asn"].responsible_party == "SUP-9"
    assert alerts["FEED_QUIET:erp"].responsible_party == "it_ops"
    assert "for 26 h" in alerts["FEED_QUIET:SUP-9/asn"].message   # refreshed wording, one alert

    # the ERP pull works again; another supplier's ASN is not SUP-9 speaking
    with store.session() as session:
        record_heard(session, "erp", "purchase_orders", T0 + 26.5 * H)
    store_asn(store, "SUP-8", T0 + 26.5 * H)
    assert sweep(store, T0 + 27 * H) == {"opened": 0, "resolved": 1}
    assert feed_alerts(store)["FEED_QUIET:erp"].status == "resolved"
    assert trail(store, "FEED_QUIET:erp")[-1] == ("alert_resolved", "the feed spoke again (2030-01-02 10:30 UTC)")

    store_asn(store, "SUP-9", T0 + 27.5 * H, "ASN-9")
    assert sweep(store, T0 + 28 * H) == {"opened": 0, "resolved": 1}
    assert feed_alerts(store)["FEED_QUIET:SUP-9/asn"].status == "resolved"

    # a day without an ASN (and the ERP quiet again): the same alerts reopen (the fix did not hold)
    assert sweep(store, T0 + 52 * H) == {"opened": 2, "resolved": 0}
    assert feed_alerts(store)["FEED_QUIET:SUP-9/asn"].status == "open"
    assert [a for a, _ in trail(store, "FEED_QUIET:SUP-9/asn")] == ["alert_opened", "alert_resolved", "alert_reopened"]


@pytest.mark.parametrize("evidence", ["interchange", "quarantine", "posted_asn"])
def test_an_interchange_a_quarantined_file_or_a_posted_asn_is_the_partner_speaking(store, evidence):
    feeds = partner_feeds([parse_profile(PROFILE)])
    sweep(store, T0, feeds)
    assert sweep(store, T0 + 25 * H, feeds)["opened"] == 1
    at = T0 + 25.5 * H
    with store.session() as session:
        if evidence == "interchange":
            # an ORDRSP interchange is not an ASN; the DESADV one is, even if it never mapped
            session.add(InterchangeRow(partner="SUP-9", direction="in", standard="edifact", control_ref="7",
                                       message_types=["ORDRSP"], created_at=at + H))
            session.add(InterchangeRow(partner="SUP-9", direction="in", standard="edifact", control_ref="8",
                                       message_types=["DESADV"], created_at=at))
        elif evidence == "quarantine":
            session.add(QuarantineRow(partner="SUP-9", doc_type="ShipmentNotice", reason_code="PO_NOT_FOUND",
                                      location="x.edi:LIN+1", message="no such PO", fingerprint="f1", created_at=at))
        else:
            session.add(EventRow(source="supplier", kind="refused", partner="SUP-9", delivery_id="d0",
                                 raw_sha256="0" * 64, size=2, received_at=at + H))   # a refusal is not the partner
            session.add(EventRow(source="supplier", kind="asn", partner="SUP-9", delivery_id="d1",
                                 raw_sha256="1" * 64, size=2, received_at=at))
    assert sweep(store, T0 + 26 * H, feeds) == {"opened": 0, "resolved": 1}
    assert trail(store, "FEED_QUIET:SUP-9/asn")[-1] == ("alert_resolved", "the feed spoke again (2030-01-02 09:30 UTC)")


def test_a_feed_no_longer_watched_is_resolved_and_pulls_never_move_the_stamp_back(store):
    feeds = system_feeds(CONFIG, "kingdee")
    sweep(store, T0, feeds)
    sweep(store, T0 + 3 * H, feeds)
    assert feed_alerts(store)["FEED_QUIET:erp"].status == "open"
    assert sweep(store, T0 + 4 * H, feeds=[]) == {"opened": 0, "resolved": 1}
    assert "no longer watched" in trail(store, "FEED_QUIET:erp")[-1][1]
    with store.session() as session:
        record_heard(session, "erp", "boms", T0 + 5 * H)
        record_heard(session, "erp", "boms", T0 + 1 * H)   # a late writer with an older time
        assert state.get(session, "feed:erp:heard:boms") == (T0 + 5 * H).isoformat()
        with pytest.raises(ValueError, match="unknown system feed"):
            record_heard(session, "crm", "x", T0)


# ------------------------------------------------------------------------------ the alerting file
def test_the_repository_file_types_the_new_alerts():
    config = load_config()
    assert config.party_for(FEED_QUIET, "SUP-001") == "SUP-001" and config.party_for(FEED_QUIET, "it_ops") == "it_ops"
    assert config.next_party(FEED_QUIET, "SUP-001") == "buyer" and config.next_party(FEED_QUIET, "it_ops") == "it_manager"
    assert config.spec("RUN_DEADLINE_MISSED").party == "it_ops"
    assert config.feed_quiet("erp") == 2 * H and config.feed_quiet("wms") == 3 * H


@pytest.mark.parametrize("text, line, words", [
    ("feed_quiet_hours:\n  erp: 2\n  crm: 4\n", 1, "not crm"),
    ("feed_quiet_hours:\n  erp: 0\n", 2, "greater than 0"),
    ("feed_quiet_hours:\n  erp: '2'\n", 2, "valid number"),
    ("feed_quiet_hours:\n  mes: .inf\n", 2, "finite"),
    ("feed_quiet_hours:\n  wms: yes\n", 2, "valid number"),
])
def test_feed_quiet_hours_mistakes_name_file_and_line(text, line, words):
    with pytest.raises(FatalError) as bad:
        parse_config("parties: {buyer: {}, purchasing_manager: {}}\n" + text, "plant.yaml")
    assert bad.value.where == f"plant.yaml:{line + 1}", bad.value.as_line()
    assert words in bad.value.message


def test_a_file_without_feed_quiet_hours_keeps_the_defaults_and_null_switches_one_off():
    config = parse_config("parties: {buyer: {}, purchasing_manager: {}}\nfeed_quiet_hours: {mes: null}\n")
    assert config.feed_quiet("erp") == 2 * H and config.feed_quiet("mes") is None and config.feed_quiet("wms") == 3 * H
