"""The one message template of an alert: it names the subject, the responsible party and the next action.

Every channel shows the same words (e-mail subject + body, the robots' text), so whoever gets the
alert anywhere knows what it is about, whose it is and what to do next.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from canonical_model.documents import Alert
from collaboration.alerts.config import AlertingConfig

#: the rules end their messages with "Next: ..." (collaboration/alerts): the most specific action
_NEXT = re.compile(r"\bNext:\s*(?P<action>.+?)\s*$", re.S)


@dataclass(frozen=True)
class Message:
    alert_id: str
    subject: str
    text: str
    party: str
    next_action: str


def subject_refs(alert: Alert) -> str:
    return ", ".join(f"{s.type} {s.key}" for s in alert.subjects) or alert.alert_id


def next_action(alert: Alert, config: AlertingConfig) -> str:
    found = _NEXT.search(alert.message)
    return found.group("action") if found else config.next_action(alert.alert_type)


def render(alert: Alert, config: AlertingConfig, *, level: int = 0) -> Message:
    party = alert.responsible_party
    action = next_action(alert, config)
    first = f"{alert.subjects[0].type} {alert.subjects[0].key}" if alert.subjects else alert.alert_id
    escalated = f" (escalated, level {level})" if level else ""
    subject = f"[{alert.severity.upper()}] {alert.alert_type}: {first} - for {party}{escalated}"
    # the rule's own "Next:" is shown once, as the next action, not twice
    found = _NEXT.search(alert.message)
    what = alert.message[:found.start()].rstrip() if found else alert.message
    lines = [
        *([f"Escalated to {party} (level {level}): nobody acknowledged this alert within its SLA."] if level else []),
        f"Subject: {alert.alert_type} - {subject_refs(alert)}",
        f"Responsible: {party}",
        f"Next action: {action}",
        f"Due: {alert.due:%Y-%m-%d %H:%M} UTC" if alert.due else "Due: -",
        "",
        what,
        "",
        f"Alert {alert.alert_id} ({alert.status}, {alert.severity}). Acknowledge: "
        f"hub alerts ack {alert.alert_id} --by <you>",
    ]
    return Message(alert_id=alert.alert_id, subject=subject, text="\n".join(lines), party=party, next_action=action)
