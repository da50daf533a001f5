"""Alerts: pushes failing past their SLA, escalation of unacknowledged alerts, notifications."""
import pendulum
from airflow.sdk import dag, task

from hub.airflow_support import DEFAULT_ARGS, classified, run_deadline, scheduled


@dag(
    schedule=scheduled("*/15 * * * *"), start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, max_active_runs=1,
    deadline=run_deadline(30),
    default_args=DEFAULT_ARGS, tags=["alerts", "notifications"],
    doc_md="""
Every 15 minutes: outbox targets (ERP, WMS, MES, supplier SFTP) with pushes undelivered past their
SLA (`mappings/alerting.yaml` `push_sla_minutes`) raise `PUSH_FAILING`; feeds gone quiet raise
`FEED_QUIET` - a partner's inbound message not seen for its profile's `expect.max_quiet_hours`
(default a week), the ERP, MES or WMS not pulled successfully for `feed_quiet_hours` - and it is
resolved here once the feed speaks again; open alerts not
acknowledged by their due time move to the next party of their escalation chain; every open
alert not yet told at its level is sent to its party's channels (e-mail, DingTalk, WeCom; the
Connections named in `mappings/alerting.yaml`). Nothing is sent twice (the audit log keeps each
notification). People answer with `hub alerts ack|resolve|close`. **On failure**: a
`ALERTING_CONFIG_INVALID`-style error names the file and line; a channel that cannot be reached
is counted in the task's result and retried on the next run.
""",
)
def alerts():
    @task
    @classified
    def sweep():
        from hub import tasks

        return tasks.alert_sweep()

    sweep()


alerts()
