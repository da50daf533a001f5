"""Hub metrics from the store: per partner and feed, what came in, what is stuck, what went out.

``collect`` reads counts (one grouped query per table, Alerts through documents.current) and
``render_prometheus`` writes them in the Prometheus text exposition format 0.0.4, served by the
ingress API at ``GET /metrics`` (hub/api/metrics_route.py) and summarised by ``hub status``
(``partner_summary``).

| metric | type | labels | counts |
| --- | --- | --- | --- |
| ``hub_documents_in_total`` | counter | partner, channel | inbox rows (files, ERP records) and ingress-API events (channel ``api:<source>``) |
| ``hub_quarantined_open`` | gauge | partner, reason | quarantine rows still ``open`` |
| ``hub_outbox_messages`` | gauge | target, status | outbox rows per state (pending / sent / failed) |
| ``hub_pushed_total`` | counter | partner, target | outbox rows ``sent`` whose payload names a partner |
| ``hub_alerts_open`` | gauge | type, responsible | current Alert documents with status ``open`` |

Every value is recomputed from the store on each call, so several hub processes (Airflow
workers, the ingress) never have to share in-memory counters. A missing partner (a quarantine
row of an unknown sender, an event from a system) is the empty label value, which Prometheus
treats as "label absent".
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from canonical_model.store import documents
from canonical_model.store.tables import EventRow, InboxRow, OutboxRow, QuarantineRow

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

DOCUMENTS_IN = "hub_documents_in_total"
QUARANTINED_OPEN = "hub_quarantined_open"
OUTBOX_MESSAGES = "hub_outbox_messages"
PUSHED = "hub_pushed_total"
ALERTS_OPEN = "hub_alerts_open"

#: name -> (type, help); the order of ``collect``'s output does not matter, rendering sorts
METRICS: dict[str, tuple[str, str]] = {
    DOCUMENTS_IN: ("counter", "Payloads received per partner and channel (inbox rows and ingress API events)."),
    QUARANTINED_OPEN: ("gauge", "Quarantine rows still open per partner and reason code."),
    OUTBOX_MESSAGES: ("gauge", "Outbox messages per target and status."),
    PUSHED: ("counter", "Outbox messages sent per partner (from the payload) and target."),
    ALERTS_OPEN: ("gauge", "Open alerts per alert type and responsible party."),
}

#: the channel label of ingress API events: ``api:wms``, ``api:supplier``...
API_CHANNEL_PREFIX = "api:"


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str] = field(hash=False)
    value: float


def collect(session: Session) -> list[Sample]:
    """Every metric's samples, read from the store in ``session`` (read only)."""
    return [*_documents_in(session), *_quarantined_open(session), *_outbox(session), *_alerts_open(session)]


def _documents_in(session: Session) -> list[Sample]:
    counts: Counter[tuple[str, str]] = Counter()
    for partner, channel, n in session.execute(
            select(InboxRow.partner, InboxRow.channel, func.count()).group_by(InboxRow.partner, InboxRow.channel)):
        counts[(partner, channel)] += n
    # events from systems (wms, opcenter, jiandaoyun) have no partner: the source is the sender
    for source, partner, n in session.execute(
            select(EventRow.source, EventRow.partner, func.count()).group_by(EventRow.source, EventRow.partner)):
        counts[(partner or source, API_CHANNEL_PREFIX + source)] += n
    return [Sample(DOCUMENTS_IN, {"partner": p, "channel": c}, n) for (p, c), n in counts.items()]


def _quarantined_open(session: Session) -> list[Sample]:
    rows = session.execute(select(QuarantineRow.partner, QuarantineRow.reason_code, func.count())
                           .where(QuarantineRow.status == "open")
                           .group_by(QuarantineRow.partner, QuarantineRow.reason_code))
    return [Sample(QUARANTINED_OPEN, {"partner": partner or "", "reason": reason}, n) for partner, reason, n in rows]


def _outbox(session: Session) -> list[Sample]:
    # the partner is read inside the database: payloads carry whole files (content_b64), never load them here
    partner = OutboxRow.payload["partner"].as_string()
    rows = session.execute(select(OutboxRow.target, OutboxRow.status, partner, func.count())
                           .group_by(OutboxRow.target, OutboxRow.status, partner))
    by_state: Counter[tuple[str, str]] = Counter()
    pushed: Counter[tuple[str, str]] = Counter()
    for target, status, payload_partner, n in rows:
        by_state[(target, status)] += n
        if status == "sent" and payload_partner:
            pushed[(payload_partner, target)] += n
    return [*(Sample(OUTBOX_MESSAGES, {"target": t, "status": s}, n) for (t, s), n in by_state.items()),
            *(Sample(PUSHED, {"partner": p, "target": t}, n) for (p, t), n in pushed.items())]


def _alerts_open(session: Session) -> list[Sample]:
    counts = Counter((a.alert_type, a.responsible_party) for a in documents.current(session, "Alert")
                     if a.status == "open")
    return [Sample(ALERTS_OPEN, {"type": t, "responsible": r}, n) for (t, r), n in counts.items()]


# --------------------------------------------------------------------------- text exposition format 0.0.4

def escape_label_value(value: str) -> str:
    """Backslash, double quote and line feed escaped, as the format requires; everything else as UTF-8."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _sample_line(sample: Sample) -> str:
    if not sample.labels:
        return f"{sample.name} {_number(sample.value)}"
    labels = ",".join(f'{k}="{escape_label_value(str(v))}"' for k, v in sorted(sample.labels.items()))
    return f"{sample.name}{{{labels}}} {_number(sample.value)}"


def render_prometheus(samples: Iterable[Sample]) -> str:
    """The samples as Prometheus text 0.0.4: every known metric gets # HELP and # TYPE (even with
    no samples, so a dashboard sees the series exist), metrics and lines sorted, one newline at the end."""
    by_name: dict[str, list[str]] = {name: [] for name in METRICS}
    for sample in samples:
        by_name.setdefault(sample.name, []).append(_sample_line(sample))
    out: list[str] = []
    for name in sorted(by_name):
        kind, text = METRICS.get(name, ("untyped", name))
        out.append(f"# HELP {name} {_escape_help(text)}")
        out.append(f"# TYPE {name} {kind}")
        out.extend(sorted(by_name[name]))
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- hub status

def partner_summary(samples: Iterable[Sample]) -> list[tuple[str, int, int, int]]:
    """Per partner, sorted: (partner, documents in, quarantined open, pushed); ``-`` for no partner."""
    columns = {DOCUMENTS_IN: 0, QUARANTINED_OPEN: 1, PUSHED: 2}
    table: dict[str, list[int]] = {}
    for sample in samples:
        column = columns.get(sample.name)
        if column is not None:
            table.setdefault(sample.labels.get("partner") or "-", [0, 0, 0])[column] += int(sample.value)
    return [(partner, *counts) for partner, counts in sorted(table.items())]  # type: ignore[misc]
