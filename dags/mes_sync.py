"""MES -> hub: production orders and material consumption from Siemens Opcenter."""
import pendulum
from airflow.sdk import Asset, dag, task

from hub.airflow_support import DEFAULT_ARGS, classified


@dag(
    schedule="*/10 * * * *", start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, max_active_runs=1,
    default_args=DEFAULT_ARGS, tags=["mes", "opcenter", "inbound"],
    doc_md="""
Pulls production orders (the plan MRP explodes), tells the MES about received batches and their
QC status, and pulls material consumption (which supplier batches went into which order) from Opcenter (`opcenter_default`, OAuth2 client credentials) since each
watermark, maps them with `mappings/opcenter/`, and stores them. Consumption is merged into the
Batch receiving stored: the MES adds `consumed_by` links, receiving's data stays. A rerun stores
nothing twice. **On failure**: `OPCENTER_AUTH_FAILED` = fix the Connection; others retry.
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

    @task(outlets=[Asset("hub://canonical/production_orders")])
    def announce_order_changes(counts: dict):
        """The asset event schedules plan_run; a run that changed nothing emits none (skipped)."""
        from airflow.exceptions import AirflowSkipException

        if not (counts["new"] or counts["changed"]):
            raise AirflowSkipException("no production order changed")
        return counts

    orders = production_orders()
    announce_order_changes(orders)
    orders >> incoming_batches() >> consumption()


mes_sync()
