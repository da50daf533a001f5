"""Hub -> suppliers: each new purchase order version as EDIFACT ORDERS over SFTP, per partner."""
import pendulum
from airflow.sdk import dag, task

from hub.airflow_support import DEFAULT_ARGS, classified, run_deadline, scheduled


@dag(
    schedule=scheduled("*/15 * * * *"), start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, max_active_runs=1,
    deadline=run_deadline(30),
    default_args=DEFAULT_ARGS, tags=["supplier", "edifact", "sftp", "outbound"],
    doc_md="""
For every partner profile (`mappings/partners/*.yaml`) writes one ORDERS interchange per
purchase order version (control number from the partner's counter, never reused) and uploads
it to the partner's SFTP `in/` folder (temp name, then rename). One mapped task per partner,
labelled with the partner id: one bad supplier is one red task. **On failure**: `SFTP_HOST_KEY` /
`SFTP_AUTH` = check the partner's Connection; messages stay in the outbox and go out on the next run.
""",
)
def supplier_orders_out():
    @task
    @classified
    def partners():
        from hub import tasks

        return tasks.partner_ids()

    @task(map_index_template="{{ task.op_kwargs['partner_id'] }}")
    @classified
    def send_orders(partner_id: str):
        from hub import tasks

        return tasks.send_orders(partner_id)

    send_orders.expand(partner_id=partners())


supplier_orders_out()
