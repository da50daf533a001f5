"""Alert lifecycle in the store: open -> acknowledged -> resolved / closed, each step audited.

* :func:`raise_alert` opens an alert once per condition. The rules derive ``alert_id`` from the
  condition (type + identifying subjects), so the id is the dedupe key: an open or acknowledged
  alert for it is returned (its text refreshed if the rule now says more), never a second one.
  A *resolved* alert whose condition is seen again is reopened (the fix did not hold); a
  *closed* one stays closed (someone decided it needs no action).
* :func:`acknowledge`, :func:`resolve`, :func:`close` move an alert on; anything else is a
  ``SkippableError ALERT_TRANSITION`` naming both states.

The Alert document has no fields for who acknowledged it or why it was resolved: those live in
the audit log (actions ``alert_opened``, ``alert_reopened``, ``alert_acknowledged``,
``alert_resolved``, ``alert_closed``, ``alert_escalated``, ``alert_notified``), each with the
actor and the time of the (controllable) clock in ``details.at``.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from sqlalchemy.orm import Session

from canonical_model.documents import Alert
from canonical_model.store import audit, documents
from collaboration.alerts.config import AlertingConfig, load_config
from hub.errors import SkippableError

OPEN, ACKNOWLEDGED, RESOLVED, CLOSED = "open", "acknowledged", "resolved", "closed"
ACTIVE = (OPEN, ACKNOWLEDGED)

#: status -> the statuses a person may move it to
TRANSITIONS: dict[str, tuple[str, ...]] = {
    OPEN: (ACKNOWLEDGED, RESOLVED, CLOSED),
    ACKNOWLEDGED: (RESOLVED, CLOSED),
    RESOLVED: (CLOSED,),
    CLOSED: (),
}


def utc(now: dt.datetime) -> dt.datetime:
    return now if now.tzinfo else now.replace(tzinfo=dt.timezone.utc)


def record(session: Session, alert_id: str, action: str, *, actor: str, now: dt.datetime, **details: Any) -> None:
    audit.record(session, actor=actor, action=action, subject_type="Alert", subject_key=alert_id,
                 details={"at": utc(now).isoformat(), **details})


def get_alert(session: Session, alert_id: str) -> Alert:
    alert = documents.get(session, "Alert", alert_id)
    if not isinstance(alert, Alert):
        raise SkippableError("ALERT_NOT_FOUND", "no such alert; list them with `hub alerts list`", f"Alert {alert_id}")
    return alert


def raise_alert(session: Session, alert: Alert, *, now: dt.datetime, actor: str = "hub",
                config: Optional[AlertingConfig] = None) -> tuple[Alert, bool]:
    """Store ``alert`` unless its condition is already open; True when an alert was (re)opened.

    A new alert gets the responsible party mappings/alerting.yaml names for its type (a rule's
    supplier stays the supplier) and, without a ``due`` of its own, ``now`` + the type's
    acknowledgement SLA: escalation starts from there.
    """
    if alert.status != OPEN:
        raise SkippableError("ALERT_TRANSITION", f"raise_alert opens alerts; this one is {alert.status} "
                             f"(use resolve/close for that)", f"Alert {alert.alert_id}")
    config = config or load_config()
    now = utc(now)
    existing = documents.get(session, "Alert", alert.alert_id)
    if isinstance(existing, Alert) and existing.status in ACTIVE:
        # the same condition: keep its status, owner and due; let the rule's newer wording in
        refreshed = existing.model_copy(update={"message": alert.message, "severity": alert.severity,
                                                "subjects": alert.subjects})
        if refreshed.content_hash != existing.content_hash:
            documents.upsert(session, refreshed, actor=actor)
        return refreshed, False
    if isinstance(existing, Alert) and existing.status == CLOSED:
        return existing, False
    opened = alert.model_copy(update={
        "responsible_party": config.party_for(alert.alert_type, alert.responsible_party),
        "due": alert.due or now + config.ack_sla(alert.alert_type)})
    documents.upsert(session, opened, actor=actor)
    record(session, opened.alert_id, "alert_reopened" if existing is not None else "alert_opened", actor=actor,
           now=now, alert_type=opened.alert_type, responsible_party=opened.responsible_party,
           due=opened.due.isoformat() if opened.due else None)
    return opened, True


def _move(session: Session, alert_id: str, to: str, *, by: str, now: dt.datetime,
          root_cause: Optional[str] = None) -> Alert:
    if not isinstance(by, str) or not by.strip():
        raise SkippableError("ALERT_ACTOR_MISSING", "say who does this (--by USER)", f"Alert {alert_id}")
    if root_cause is not None and not root_cause.strip():
        raise SkippableError("ROOT_CAUSE_MISSING", f"an alert is {to} with its root cause (--root-cause TEXT)",
                             f"Alert {alert_id}")
    alert = get_alert(session, alert_id)
    if to not in TRANSITIONS[alert.status]:
        allowed = ", ".join(TRANSITIONS[alert.status]) or "nothing (final)"
        raise SkippableError("ALERT_TRANSITION", f"cannot go from {alert.status} to {to}; from {alert.status} "
                             f"only to {allowed}", f"Alert {alert_id}")
    moved = alert.model_copy(update={"status": to})
    by = by.strip()
    documents.upsert(session, moved, actor=by)
    details: dict[str, Any] = {"from": alert.status, "to": to}
    if root_cause is not None:
        details["root_cause"] = root_cause.strip()
    record(session, alert_id, f"alert_{to}", actor=by, now=now, **details)
    return moved


def acknowledge(session: Session, alert_id: str, *, by: str, now: dt.datetime) -> Alert:
    """The responsible party has seen it: escalation stops."""
    return _move(session, alert_id, ACKNOWLEDGED, by=by, now=now)


def resolve(session: Session, alert_id: str, *, by: str, root_cause: str, now: dt.datetime) -> Alert:
    """Fixed, with the root cause; the condition coming back reopens it."""
    return _move(session, alert_id, RESOLVED, by=by, now=now, root_cause=root_cause or "")


def close(session: Session, alert_id: str, *, by: str, root_cause: str, now: dt.datetime) -> Alert:
    """Done with (also without a fix: accepted, false alarm), with the reason; never reopened."""
    return _move(session, alert_id, CLOSED, by=by, now=now, root_cause=root_cause or "")


def lifecycle_history(session: Session, alert_id: str) -> list[dict[str, Any]]:
    """The alert's audit entries as plain dicts, oldest first (the CLI's and the tests' view)."""
    return [{"action": row.action, "actor": row.actor, **(row.details or {})}
            for row in audit.history(session, "Alert", alert_id)]
