"""Airflow callbacks that speak through the alert lifecycle: task failures and missed run deadlines.

Every DAG gets them from ``hub.airflow_support`` (``DEFAULT_ARGS`` ``on_failure_callback``, and
``run_deadline`` for a DAG run's deadline), which imports this module only when a callback fires: it
pulls in the canonical model and the store, which DAG files must not load at parse time. Used by hand::

    from hub.notify.airflow_notifier import HubFailureNotifier
    default_args = {"on_failure_callback": HubFailureNotifier()}

A failure becomes a ``PIPELINE_FAILED`` Alert, one per (DAG, task): a retry that fails again, a rerun
or another run failing in the same task refreshes that alert (the newest run, try and error in its
text) instead of opening a second. It is stored through ``collaboration.alerts.raise_alert`` (party,
due, escalation from mappings/alerting.yaml: ``it_ops`` then ``it_manager``) and told at once through
the party's channels, once per escalation level (the alerts sweep finds it told and does not send it
again). A run past its deadline becomes ``RUN_DEADLINE_MISSED``, one per DAG, the same way.

If the store cannot be reached, the alert is still sent (and the task log says it was not stored):
a failure callback is the last place a problem may go silent.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any, Mapping, Optional

from airflow.sdk import BaseNotifier

from hub.errors import HubError

if TYPE_CHECKING:
    from canonical_model.documents import Alert
    from collaboration.alerts.config import AlertingConfig

PIPELINE_FAILED = "PIPELINE_FAILED"
RUN_DEADLINE_MISSED = "RUN_DEADLINE_MISSED"
#: a party the alerting file does not override: who keeps the pipelines running
IT_OPS = "it_ops"
ACTOR = "airflow"

log = logging.getLogger(__name__)


def _attr(obj: Any, name: str, default: Any = None) -> Any:
    value = obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None) if obj is not None else None
    return default if value is None else value


def _failure(error: Any) -> str:
    """The exception by its hub error line, else by its class only: a foreign exception's text may
    quote a URL or a command line with a secret in it, and ``HubError``s never carry secrets."""
    if isinstance(error, HubError):
        return error.as_line()
    # classified() turns fatal hub errors into AirflowFailException "from" the hub error
    cause = getattr(error, "__cause__", None)
    if isinstance(cause, HubError):
        return cause.as_line()
    return type(error).__name__ if error else "no exception given"


def pipeline_alert(context: Mapping[str, Any], config: "AlertingConfig") -> "Alert":
    """The failure in ``context`` as an Alert identified by (DAG, task); the run is context."""
    from canonical_model.documents import Alert, SubjectRef
    from collaboration.alerts.rules import condition_id

    ti = context.get("ti") or context.get("task_instance")
    dag = context.get("dag")
    dag_id = _attr(ti, "dag_id") or _attr(dag, "dag_id", "?")
    task_id = _attr(ti, "task_id", "(dag)")
    run_id = _attr(ti, "run_id") or _attr(context.get("dag_run"), "run_id", "?")
    try_number = _attr(ti, "try_number")
    map_index = _attr(ti, "map_index", -1)
    log_url = _attr(ti, "log_url")
    identifying = [SubjectRef(type="Dag", key=str(dag_id)), SubjectRef(type="Task", key=str(task_id))]
    instance = f"{dag_id}.{task_id}" + (f"[{map_index}]" if isinstance(map_index, int) and map_index >= 0 else "")
    return Alert(
        alert_id=condition_id(PIPELINE_FAILED, identifying), alert_type=PIPELINE_FAILED, severity="critical",
        subjects=[*identifying, SubjectRef(type="DagRun", key=str(run_id))],
        responsible_party=config.party_for(PIPELINE_FAILED, IT_OPS),
        message=(f"Airflow task {instance} failed in run {run_id}"
                 f"{f' (try {try_number})' if try_number else ''}: {_failure(context.get('exception'))}."
                 f"{f' Log: {log_url}.' if log_url else ''} Next: {config.next_action(PIPELINE_FAILED)}"))


def deadline_alert(context: Mapping[str, Any], config: "AlertingConfig", *,
                   allowed: Optional[str] = None) -> "Alert":
    """A DAG run past its deadline as an Alert identified by the DAG; ``context`` is what Airflow hands
    a deadline callback (``dag_run`` as the REST API shows it, ``deadline`` with its time)."""
    from canonical_model.documents import Alert, SubjectRef
    from collaboration.alerts.rules import condition_id

    run = context.get("dag_run") or {}
    dag_id = _attr(run, "dag_id", "?")
    run_id = _attr(run, "dag_run_id") or _attr(run, "run_id", "?")
    deadline = _attr(context.get("deadline"), "deadline_time")
    identifying = [SubjectRef(type="Dag", key=str(dag_id))]
    return Alert(
        alert_id=condition_id(RUN_DEADLINE_MISSED, identifying), alert_type=RUN_DEADLINE_MISSED, severity="warning",
        subjects=[*identifying, SubjectRef(type="DagRun", key=str(run_id))],
        responsible_party=config.party_for(RUN_DEADLINE_MISSED, IT_OPS),
        message=(f"Airflow DAG run {dag_id} {run_id} had not finished by its deadline"
                 f"{f' {deadline}' if deadline else ''}"
                 f"{f' ({allowed} after it was queued)' if allowed else ''}; state "
                 f"{_attr(run, 'state', 'unknown')}. Next: {config.next_action(RUN_DEADLINE_MISSED)}"))


def raise_and_tell(alert: "Alert", config: "AlertingConfig", *, channels: Optional[Mapping] = None,
                   now: Optional[dt.datetime] = None) -> list:
    """Store ``alert`` (one per condition) and tell its party unless already told at its level;
    the notification results (empty when nothing was sent)."""
    from collaboration.alerts import notify_once, raise_alert
    from hub.notify import DEFAULT_CHANNELS, notify

    now = now or dt.datetime.now(dt.timezone.utc)
    channels = channels or DEFAULT_CHANNELS
    results: list = []
    sent = False

    def send(to_send: "Alert", level: int) -> list:
        nonlocal sent
        sent = True
        results.extend(notify(to_send, config=config, channels=channels, level=level))
        return results

    store = None
    try:
        from canonical_model.store import open_store

        store = open_store()
        with store.session() as session:
            stored, _ = raise_alert(session, alert, now=now, actor=ACTOR, config=config)
            notify_once(session, stored, now=now, config=config, notifier=send)
    except Exception as exc:  # noqa: BLE001 - the store down (or locked) must not swallow the alert
        # the class only: a driver's message may quote the database URL with its password
        log.error("alert %s not stored (%s)%s", alert.alert_id, type(exc).__name__,
                  "" if sent else "; sending it anyway")
        if not sent:
            return notify(alert, config=config, channels=channels)
    finally:
        if store is not None:
            store.dispose()
    return results


class HubFailureNotifier(BaseNotifier):
    """``on_failure_callback``: a ``PIPELINE_FAILED`` alert per (DAG, task), stored and told once."""

    template_fields = ()

    def __init__(self, *, config: Optional["AlertingConfig"] = None, channels: Optional[Mapping] = None) -> None:
        super().__init__()
        self.config = config
        self.channels = channels
        self.last_results: list = []

    def notify(self, context: Any) -> None:
        from collaboration.alerts.config import load_config

        config = self.config or load_config()
        alert = pipeline_alert(context, config)
        self.last_results = raise_and_tell(alert, config, channels=self.channels)
        self.log.info("alert %s raised", alert.alert_id)
        for result in self.last_results:
            # details are error lines or counts: no secrets
            self.log.info("notified %s via %s %s: %s", result.party, result.channel, result.conn_id,
                          "ok" if result.ok else result.detail)
