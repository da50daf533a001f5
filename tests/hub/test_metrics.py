"""hub/metrics.py: counts from a hand-built store, and Prometheus text that parses back exactly."""
from __future__ import annotations

import re

import pytest

from canonical_model.documents import Alert
from canonical_model.store import documents, quarantine
from canonical_model.store.tables import EventRow, InboxRow, OutboxRow, QuarantineRow
from hub.metrics import (
    ALERTS_OPEN, DOCUMENTS_IN, METRICS, OUTBOX_MESSAGES, PUSHED, QUARANTINED_OPEN, Sample, collect,
    escape_label_value, partner_summary, render_prometheus,
)

# --------------------------------------------------------------------------- a strict 0.0.4 reader (test side)

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"'
_SAMPLE = re.compile(rf"^({_NAME})(?:\{{((?:{_LABEL},)*{_LABEL})?\}})? (\S+)$")
_META = re.compile(rf"^# (HELP|TYPE) ({_NAME}) (.*)$")
_UNESCAPE = {"\\": "\\", '"': '"', "n": "\n"}


def parse(text: str) -> tuple[dict[tuple[str, frozenset], float], dict[str, str]]:
    """Samples keyed by (name, labels) and TYPE per name; fails on any line the format does not allow,
    on a sample before its TYPE, and on a repeated series."""
    assert text.endswith("\n") and not text.endswith("\n\n")
    samples: dict[tuple[str, frozenset], float] = {}
    types: dict[str, str] = {}
    for line in text[:-1].split("\n"):
        meta = _META.match(line)
        if meta:
            if meta.group(1) == "TYPE":
                types[meta.group(2)] = meta.group(3)
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a valid sample line: {line!r}"
        name = match.group(1)
        assert name in types, f"sample before its # TYPE: {line!r}"
        labels = frozenset(
            (k, re.sub(r"\\(.)", lambda m: _UNESCAPE[m.group(1)], v))
            for k, v in re.findall(_LABEL, match.group(2) or ""))
        assert (name, labels) not in samples, f"series repeated: {line!r}"
        samples[(name, labels)] = float(match.group(match.lastindex))
    return samples, types


def as_dict(samples: list[Sample]) -> dict[tuple[str, frozenset], float]:
    result = {(s.name, frozenset(s.labels.items())): s.value for s in samples}
    assert len(result) == len(samples), "collect produced one series twice"
    return result


def key(name: str, **labels: str) -> tuple[str, frozenset]:
    return name, frozenset(labels.items())


# --------------------------------------------------------------------------- a hand-built store

def _inbox(s, n: int, channel: str, partner: str, status: str = "processed") -> None:
    for i in range(n):
        s.add(InboxRow(channel=channel, partner=partner, name=f"f{i}", sha256=f"{status}{i}".ljust(64, "0"),
                       size=1, status=status))


def _event(s, source: str, partner: str | None, delivery: str) -> None:
    s.add(EventRow(source=source, kind="k", partner=partner, delivery_id=delivery, raw_sha256="0" * 64, size=1))


def _quarantine(s, partner: str | None, reason: str, status: str = "open") -> None:
    row, _ = quarantine.add(s, reason_code=reason, location="x", message="m", partner=partner,
                            evidence={"n": s.info.setdefault("n", 0) + 1})
    s.info["n"] += 1
    row.status = status


def _outbox(s, target: str, status: str, payload: dict) -> None:
    s.info["k"] = s.info.get("k", 0) + 1
    s.add(OutboxRow(target=target, operation="op", idempotency_key=f"key-{s.info['k']}", payload=payload,
                    status=status))


def _alert(s, alert_id: str, alert_type: str, responsible: str, status: str = "open") -> None:
    documents.upsert(s, Alert(alert_id=alert_id, alert_type=alert_type, responsible_party=responsible,
                              status=status, message="m"))


def fill(store) -> None:
    with store.session() as s:
        _inbox(s, 2, "sftp", "SUP-001")
        _inbox(s, 1, "sftp", "SUP-001", status="duplicate")   # a duplicate drop was still received
        _inbox(s, 1, "sftp", "SUP-002")
        _inbox(s, 2, "kingdee", "kingdee")
        _event(s, "supplier", "SUP-001", "d1")
        _event(s, "supplier", "SUP-001", "d2")
        _event(s, "wms", None, "d3")
        _quarantine(s, "SUP-001", "EDI_SYNTAX")
        _quarantine(s, "SUP-001", "EDI_SYNTAX")
        _quarantine(s, "SUP-001", "EDI_SYNTAX", status="replayed")   # fixed: not open
        _quarantine(s, "SUP-002", "UNKNOWN_MATERIAL")
        _quarantine(s, None, "CONTROL_MISSING")
        _outbox(s, "supplier_sftp", "sent", {"partner": "SUP-001", "content_b64": "QQ=="})
        _outbox(s, "supplier_sftp", "sent", {"partner": "SUP-001"})
        _outbox(s, "supplier_sftp", "pending", {"partner": "SUP-001"})
        _outbox(s, "supplier_sftp", "sent", {"partner": "SUP-002"})
        _outbox(s, "wms", "sent", {"asn": "A1"})       # no partner in the payload: not "pushed" to one
        _outbox(s, "wms", "failed", {"asn": "A2"})
        _alert(s, "A1", "ack_overdue", "buyer")
        _alert(s, "A3", "ack_overdue", "buyer")
        _alert(s, "A4", "pipeline_failed", "it_ops")
        _alert(s, "A5", "ack_overdue", "buyer", status="acknowledged")
        _alert(s, "A2", "ack_overdue", "buyer")
    with store.session() as s:
        _alert(s, "A2", "ack_overdue", "buyer", status="resolved")   # version 2 is current: no longer open


EXPECTED = {
    key(DOCUMENTS_IN, partner="SUP-001", channel="sftp"): 3,
    key(DOCUMENTS_IN, partner="SUP-001", channel="api:supplier"): 2,
    key(DOCUMENTS_IN, partner="SUP-002", channel="sftp"): 1,
    key(DOCUMENTS_IN, partner="kingdee", channel="kingdee"): 2,
    key(DOCUMENTS_IN, partner="wms", channel="api:wms"): 1,
    key(QUARANTINED_OPEN, partner="SUP-001", reason="EDI_SYNTAX"): 2,
    key(QUARANTINED_OPEN, partner="SUP-002", reason="UNKNOWN_MATERIAL"): 1,
    key(QUARANTINED_OPEN, partner="", reason="CONTROL_MISSING"): 1,
    key(OUTBOX_MESSAGES, target="supplier_sftp", status="sent"): 3,
    key(OUTBOX_MESSAGES, target="supplier_sftp", status="pending"): 1,
    key(OUTBOX_MESSAGES, target="wms", status="sent"): 1,
    key(OUTBOX_MESSAGES, target="wms", status="failed"): 1,
    key(PUSHED, partner="SUP-001", target="supplier_sftp"): 2,
    key(PUSHED, partner="SUP-002", target="supplier_sftp"): 1,
    key(ALERTS_OPEN, type="ack_overdue", responsible="buyer"): 2,
    key(ALERTS_OPEN, type="pipeline_failed", responsible="it_ops"): 1,
}


def test_collect_counts_a_hand_built_store(store):
    # on SQLite and PostgreSQL: the outbox partner is read with the backend's JSON operator
    fill(store)
    with store.session() as s:
        assert as_dict(collect(s)) == EXPECTED


def test_rendered_text_parses_back_to_the_same_numbers_with_help_and_type(sqlite_store):
    fill(sqlite_store)
    with sqlite_store.session() as s:
        text = render_prometheus(collect(s))
    samples, types = parse(text)
    assert samples == EXPECTED
    assert types == {DOCUMENTS_IN: "counter", QUARANTINED_OPEN: "gauge", OUTBOX_MESSAGES: "gauge",
                     PUSHED: "counter", ALERTS_OPEN: "gauge"}
    assert text.count("# HELP ") == 5
    assert 'hub_quarantined_open{partner="SUP-001",reason="EDI_SYNTAX"} 2\n' in text


def test_output_is_sorted_and_the_same_whatever_order_samples_come_in():
    samples = [Sample(OUTBOX_MESSAGES, {"target": "wms", "status": "sent"}, 1),
               Sample(DOCUMENTS_IN, {"partner": "B", "channel": "sftp"}, 2),
               Sample(DOCUMENTS_IN, {"channel": "sftp", "partner": "A"}, 3)]
    text = render_prometheus(samples)
    assert text == render_prometheus(list(reversed(samples)))
    names = [line.split(" ")[2] for line in text.splitlines() if line.startswith("# TYPE")]
    assert names == sorted(names)
    lines = [line for line in text.splitlines() if line.startswith(DOCUMENTS_IN)]
    # labels sorted by name inside a line, lines sorted inside a metric
    assert lines == ['hub_documents_in_total{channel="sftp",partner="A"} 3',
                     'hub_documents_in_total{channel="sftp",partner="B"} 2']


HOSTILE = ['SUP"1', "back\\slash", "line\nbreak", "供应商-甲", 'all "\\\n 三', "}", ",x=\"y\"", "", "trailing\\"]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_label_values_render_validly_and_parse_back_exactly(value):
    text = render_prometheus([Sample(QUARANTINED_OPEN, {"partner": value, "reason": value}, 4)])
    samples, _ = parse(text)
    assert samples == {key(QUARANTINED_OPEN, partner=value, reason=value): 4}
    assert text.encode("utf-8").decode("utf-8") == text


def test_escaping_is_exactly_backslash_quote_newline():
    assert escape_label_value('a\\b"c\nd\te') == 'a\\\\b\\"c\\nd\te'


def test_hostile_values_from_the_store_render_validly(sqlite_store):
    partner, reason = 'SUP"\\x\n供应商', 'R"1\n'
    with sqlite_store.session() as s:
        _inbox(s, 1, "sftp\\in", partner)
        _quarantine(s, partner, reason)
        _alert(s, "A\"1", 'type"\n', "采购员")
    with sqlite_store.session() as s:
        samples, _ = parse(render_prometheus(collect(s)))
    assert samples == {key(DOCUMENTS_IN, partner=partner, channel="sftp\\in"): 1,
                       key(QUARANTINED_OPEN, partner=partner, reason=reason): 1,
                       key(ALERTS_OPEN, type='type"\n', responsible="采购员"): 1}


def test_a_duplicated_quarantine_delivery_is_counted_once(sqlite_store):
    with sqlite_store.session() as s:
        for _ in range(3):   # same evidence, reason and location: the store keeps one row
            quarantine.add(s, reason_code="EDI_SYNTAX", location="l", message="m", partner="SUP-001",
                           evidence={"same": True})
        assert s.query(QuarantineRow).count() == 1
        assert as_dict(collect(s)) == {key(QUARANTINED_OPEN, partner="SUP-001", reason="EDI_SYNTAX"): 1}


def test_empty_store_has_every_help_and_type_and_no_samples(sqlite_store):
    with sqlite_store.session() as s:
        samples = collect(s)
    assert samples == []
    text = render_prometheus(samples)
    parsed, types = parse(text)
    assert parsed == {} and set(types) == set(METRICS)
    assert partner_summary(samples) == []


def test_special_values_and_unknown_metrics_still_render_validly():
    text = render_prometheus([Sample("hub_other", {}, float("nan")), Sample("hub_x", {"a": "b"}, 1.5),
                              Sample(ALERTS_OPEN, {"type": "t", "responsible": "r"}, float("inf"))])
    samples, types = parse(text)
    assert types["hub_other"] == "untyped" and "hub_other NaN" in text.splitlines()
    assert samples[key("hub_x", a="b")] == 1.5
    assert samples[key(ALERTS_OPEN, type="t", responsible="r")] == float("inf")


def test_partner_summary_adds_up_per_partner(sqlite_store):
    fill(sqlite_store)
    with sqlite_store.session() as s:
        rows = partner_summary(collect(s))
    # (partner, in, quarantined open, pushed); "-" is the quarantine row without a partner
    assert rows == [("-", 0, 1, 0), ("SUP-001", 5, 2, 2), ("SUP-002", 1, 1, 1), ("kingdee", 2, 0, 0),
                    ("wms", 1, 0, 0)]
