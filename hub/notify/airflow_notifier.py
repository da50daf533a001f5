"""An Airflow 3 notifier for pipeline failures that speaks through the alert channels.

Use it as a task or DAG callback::

    from hub.notify.airflow_notifier import HubFailureNotifier
    default_args = {"on_failure_callback": HubFailureNotifier()}

It turns the failure into a ``PIPELINE_FAILED`` Alert (subjects: DAG, task, run) and sends it with
:func:`hub.notify.notify` to the party mappings/alerting.yaml names for ``PIPELINE_FAILED``
(``it_ops``), over the same e-mail / DingTalk / WeCom channels as every other alert. This is the
only module of hub/notify that imports Airflow at import time: DAG files import it, nothing else.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

from airflow.sdk import BaseNotifier

from canonical_model.documents import Alert, SubjectRef
from collaboration.alerts.config import AlertingConfig, load_config
from collaboration.alerts.rules import condition_id
from hub.errors import HubError

PIPELINE_FAILED = "PIPELINE_FAILED"
#: a party the alerting file does not override: who keeps the pipelines running
IT_OPS = "it_ops"


def _attr(obj: Any, name: str, default: Any = None) -> Any:
    return getattr(obj, name, None) if obj is not None and getattr(obj, name, None) is not None else default


def pipeline_alert(context: Mapping[str, Any], config: AlertingConfig) -> Alert:
    """The failure in ``context`` as an Alert; the exception only by its hub error line or class.

    A foreign exception's text may quote a URL or a command line with a secret in it, so only
    ``HubError``s (which never carry secrets) are quoted in full.
    """
    ti = context.get("ti") or context.get("task_instance")
    dag = context.get("dag")
    dag_id = _attr(ti, "dag_id") or _attr(dag, "dag_id", "?")
    task_id = _attr(ti, "task_id", "(dag)")
    run_id = _attr(ti, "run_id") or _attr(context.get("dag_run"), "run_id", "?")
    try_number = _attr(ti, "try_number")
    error = context.get("exception")
    what = error.as_line() if isinstance(error, HubError) else (type(error).__name__ if error else "no exception given")
    log_url = _attr(ti, "log_url")
    subjects = [SubjectRef(type="Dag", key=str(dag_id)), SubjectRef(type="Task", key=str(task_id)),
                SubjectRef(type="DagRun", key=str(run_id))]
    return Alert(
        alert_id=condition_id(PIPELINE_FAILED, subjects), alert_type=PIPELINE_FAILED, severity="critical",
        subjects=subjects, responsible_party=config.party_for(PIPELINE_FAILED, IT_OPS),
        message=(f"Airflow task {dag_id}.{task_id} failed in run {run_id}"
                 f"{f' (try {try_number})' if try_number else ''}: {what}."
                 f"{f' Log: {log_url}.' if log_url else ''} Next: {config.next_action(PIPELINE_FAILED)}"))


class HubFailureNotifier(BaseNotifier):
    """``on_failure_callback`` that notifies the pipeline owners through the hub's channels."""

    template_fields = ()

    def __init__(self, *, config: Optional[AlertingConfig] = None, channels: Optional[Mapping] = None) -> None:
        super().__init__()
        self.config = config
        self.channels = channels

    def notify(self, context: Any) -> None:
        from hub.notify import DEFAULT_CHANNELS, notify

        config = self.config or load_config()
        alert = pipeline_alert(context, config)
        results = notify(alert, config=config, channels=self.channels or DEFAULT_CHANNELS)
        self.last_results = results
        for result in results:
            # details are error lines or counts: no secrets
            self.log.info("notified %s via %s %s: %s", result.party, result.channel, result.conn_id,
                          "ok" if result.ok else result.detail)
