"""MES -> hub: production orders, material consumption and finished lots from Siemens Opcenter."""
import pendulum
from airflow.sdk import Asset, dag, task

from hub.airflow_support import DEFAULT_ARGS, classified, run_deadline, scheduled


@dag(
    schedule=scheduled("*/10 * * * *"), start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, max_active_runs=1,
    deadline=run_deadline(30),
    default_args=DEFAULT_ARGS, tags=["mes", "opcenter", "inbound"],
    doc_md="""
Pulls production orders (the plan MRP explodes), tells the MES about received batches and their
QC status, pulls material consumption (which supplier batches went into which order), then the
finished lots the orders produced, from Opcenter (`opcenter_default`, OAuth2 client credentials)
since each watermark, maps them with `mappings/opcenter/`, and stores them. Consumption and
finished lots are merged into the Batch already stored: the MES adds `consumed_by` / `produced`
links, the rest stays. Together they make the genealogy supplier lot -> order -> finished lot
(`hub trace`). A rerun stores nothing twice. **On failure**: `OPCENTER_AUTH_FAILED` = fix the
Connection; others retry. Quarantined lots (a completion without order, a lot whose material is
not the order's) are in `hub quarantine list`.
""",
)
def mes_sync():
    @task
    @classified
    def production_orders():
        from hub import tasks

        return tasks.sync_mes("production_orders")

    @task
    @classified
    def incoming_batches():
        from hub import tasks

        return tasks.push_batches_to_mes()

    @task
    @classified
    def consumption():
        from hub import tasks

        return tasks.sync_mes("consumption")

    @task
    @classified
    def finished_lots():
        from hub import tasks

        return tasks.sync_mes("finished_lots")

    @task(outlets=[Asset("hub://canonical/production_orders")])
    def announce_order_changes(counts: dict):
        """The asset event schedules plan_run; a run that changed nothing emits none (skipped)."""
        from airflow.exceptions import AirflowSkipException

        if not (counts["new"] or counts["changed"]):
            raise AirflowSkipException("no production order changed")
        return counts

    orders = production_orders()
    announce_order_changes(orders)
    orders >> incoming_batches() >> consumption() >> finished_lots()


mes_sync()
