"""ERP -> hub: new and changed purchase orders (Kingdee PUR_PurchaseOrder)."""
import pendulum
from airflow.sdk import dag, task

from hub.airflow_support import DEFAULT_ARGS, classified


@dag(
    schedule="*/15 * * * *", start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, max_active_runs=1,
    default_args=DEFAULT_ARGS, tags=["erp", "kingdee", "inbound"],
    doc_md="""
Pulls purchase orders modified since the last watermark (with overlap) from Kingdee
(`kingdee_default`), maps them with `mappings/kingdee/PUR_PurchaseOrder.yaml`, validates and
stores them. Unchanged bills are skipped by hash; bad bills go to quarantine (`hub quarantine list`).
**On failure**: `KINGDEE_LOGIN_FAILED` = fix the Connection; retriable errors retry by themselves.
""",
)
def erp_purchase_orders():
    @task
    @classified
    def sync_purchase_orders():
        from hub import tasks

        return tasks.sync_purchase_orders()

    sync_purchase_orders()


erp_purchase_orders()
