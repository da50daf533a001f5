"""WMS -> hub: on-hand stock by material, location and batch (what planning nets against)."""
import pendulum
from airflow.sdk import dag, task

from hub.airflow_support import DEFAULT_ARGS, classified, run_deadline, scheduled


@dag(
    schedule=scheduled("0 * * * *"), start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, max_active_runs=1,
    deadline=run_deadline(30),
    default_args=DEFAULT_ARGS, tags=["wms", "inbound"],
    doc_md="""
Reads the WMS's stock snapshot (`wms_default`, GreaterWMS or Odoo by the `dialect` extra) and stores
one StockLevel per material, location and lot; unchanged levels write nothing. Expected receipts go
out in `wms_expected_receipts`, counted receipts come back in `wms_receipts_to_erp` (polled) and in
`events` (pushed). **On failure**: `WMS_AUTH` = fix the Connection; others retry by themselves.
""",
)
def wms_sync():
    @task
    @classified
    def stock_snapshot():
        from hub import tasks

        return tasks.sync_wms_stock()

    stock_snapshot()


wms_sync()
