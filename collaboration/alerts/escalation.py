"""Escalation and notification sweeps over the stored alerts, driven by an explicit clock.

* :func:`escalate_overdue`: an alert still ``open`` after its ``due`` (the acknowledgement SLA)
  goes to the next party of its type's chain (mappings/alerting.yaml, e.g. buyer ->
  purchasing_manager), gets a new ``due`` and is notified at its new level. The end of the chain
  is the end: the alert stays with the last party.
* :func:`notify_pending`: alerts not yet notified at their current level are sent once (a newly
  raised alert is level 0). Flows only store alerts; this sweep does the I/O.
* :func:`notify_once`: the same rule for one alert, for a caller that must tell at once (the Airflow
  failure callback): the sweep after it then finds the alert told.

"Once per level" is kept in the audit log (``alert_notified`` with the level), so a rerun of a
sweep, or a crash between storing and sending, never sends twice and never skips a level.
The notifier is injectable: tests pass a recorder, production uses ``hub.notify.notify``.
"""
from __future__ import annotations

import datetime as dt
from typing import Callable, Optional

from sqlalchemy.orm import Session

from canonical_model.documents import Alert
from canonical_model.store import audit, documents
from collaboration.alerts.config import AlertingConfig
from collaboration.alerts.lifecycle import OPEN, record, utc

#: alert -> results (objects with ``as_dict()``), e.g. ``hub.notify.notify`` bound to its config
Notifier = Callable[[Alert, int], list]

_EPISODE_START = ("alert_opened", "alert_reopened")


def default_notifier(config: AlertingConfig) -> Notifier:
    def send(alert: Alert, level: int) -> list:
        from hub.notify import DEFAULT_CHANNELS, notify

        return notify(alert, config=config, channels=DEFAULT_CHANNELS, level=level)
    return send


def _episode(session: Session, alert_id: str) -> list:
    """Audit rows since the alert was last (re)opened: a reopened alert starts at level 0 again."""
    rows = audit.history(session, "Alert", alert_id)
    starts = [i for i, row in enumerate(rows) if row.action in _EPISODE_START]
    return rows[starts[-1]:] if starts else rows


def escalation_level(session: Session, alert_id: str) -> int:
    return sum(1 for row in _episode(session, alert_id) if row.action == "alert_escalated")


def _notified(session: Session, alert_id: str, level: int) -> bool:
    return any(row.action == "alert_notified" and (row.details or {}).get("level") == level
               for row in _episode(session, alert_id))


def _send(session: Session, alert: Alert, level: int, now: dt.datetime, notifier: Notifier) -> None:
    results = notifier(alert, level)
    record(session, alert.alert_id, "alert_notified", actor="notify", now=now, level=level,
           party=alert.responsible_party, results=[r.as_dict() for r in results])


def escalate_overdue(session: Session, *, now: dt.datetime, config: AlertingConfig,
                     notifier: Optional[Notifier] = None) -> list[Alert]:
    """Hand every open alert past its due to the next party; returns the escalated alerts."""
    now = utc(now)
    notifier = notifier or default_notifier(config)
    escalated = []
    for alert in list(documents.current(session, "Alert")):
        if not isinstance(alert, Alert) or alert.status != OPEN or alert.due is None or utc(alert.due) > now:
            continue
        nxt = config.next_party(alert.alert_type, alert.responsible_party)
        if nxt is None or nxt == alert.responsible_party:
            continue
        level = escalation_level(session, alert.alert_id) + 1
        moved = alert.model_copy(update={"responsible_party": nxt, "due": now + config.ack_sla(alert.alert_type)})
        documents.upsert(session, moved, actor="escalation")
        record(session, alert.alert_id, "alert_escalated", actor="escalation", now=now, level=level,
               **{"from": alert.responsible_party, "to": nxt, "overdue_since": utc(alert.due).isoformat()})
        if not _notified(session, alert.alert_id, level):
            _send(session, moved, level, now, notifier)
        escalated.append(moved)
    return escalated


def notify_once(session: Session, alert: Alert, *, now: dt.datetime, config: AlertingConfig,
                notifier: Optional[Notifier] = None) -> bool:
    """Send ``alert`` now unless it was told at its current level already (the sweep's rule, for one
    alert a caller has just raised, e.g. an Airflow failure callback); True when it was sent."""
    if alert.status != OPEN:
        return False
    level = escalation_level(session, alert.alert_id)
    if _notified(session, alert.alert_id, level):
        return False
    _send(session, alert, level, utc(now), notifier or default_notifier(config))
    return True


def notify_pending(session: Session, *, now: dt.datetime, config: AlertingConfig,
                   notifier: Optional[Notifier] = None) -> list[Alert]:
    """Send every open alert not yet notified at its current level; returns them (an alert
    acknowledged before the sweep came round has found its owner already)."""
    now = utc(now)
    notifier = notifier or default_notifier(config)
    return [alert for alert in list(documents.current(session, "Alert"))
            if isinstance(alert, Alert) and notify_once(session, alert, now=now, config=config, notifier=notifier)]
