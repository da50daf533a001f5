"""Acknowledgements with suppliers: send our CONTRL/997s, chase the ones partners owe us."""
import pendulum
from airflow.sdk import dag, task

from hub.airflow_support import DEFAULT_ARGS, classified, run_deadline, scheduled


@dag(
    schedule=scheduled("*/15 * * * *"), start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, max_active_runs=1,
    deadline=run_deadline(30),
    default_args=DEFAULT_ARGS, tags=["supplier", "edifact", "x12", "sftp", "acks"],
    doc_md="""
Per partner (one mapped task each, labelled with the partner id): uploads the CONTRL / 997 /
999 the inbound flow queued for each interchange the partner sent (and any other pending outbox
file for that partner) to the partner's SFTP `in/` folder, registering each interchange sent.
Then, once for all partners: every
interchange we sent that the partner has not acknowledged by its deadline (profile
`acks.deadline_hours`, default 24 h) is marked `overdue` and raises an `EDI_NOT_ACKNOWLEDGED`
Alert for the partner; a late ack resolves it. Acks of delivery schedules (DELFOR / 830) are
written to the schedule's audit trail, and a schedule version unanswered past the deadline
raises `PLAN_CHANGE_UNACKNOWLEDGED`. **On failure**: `SFTP_*` = check the partner's
Connection (files stay in the outbox); `OUTBOX_FAILED` = see the outbox row's error.
""",
)
def supplier_acks():
    @task
    @classified
    def partners():
        from hub import tasks

        return tasks.partner_ids()

    @task(map_index_template="{{ task.op_kwargs['partner_id'] }}")
    @classified
    def deliver_acks(partner_id: str):
        from hub import tasks

        return tasks.deliver_supplier_outbox(partner_id)

    @task
    @classified
    def check_overdue_acks():
        from hub import tasks

        return tasks.check_overdue_acks()

    @task
    @classified
    def schedule_acks():
        from hub import tasks

        return tasks.collect_schedule_acks()

    deliver_acks.expand(partner_id=partners()) >> check_overdue_acks() >> schedule_acks()


supplier_acks()
