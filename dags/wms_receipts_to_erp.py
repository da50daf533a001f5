"""WMS -> hub -> ERP: counted receipts become Receipt and Batch records and ERP stock receipts."""
import pendulum
from airflow.sdk import dag, task

from hub.airflow_support import DEFAULT_ARGS, classified


@dag(
    schedule="*/5 * * * *", start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, max_active_runs=1,
    default_args=DEFAULT_ARGS, tags=["wms", "erp", "kingdee", "inbound", "outbound"],
    doc_md="""
Reads receipts of the inbounds the WMS has counted, stores `Receipt` and one quarantined
`Batch` per supplier batch (traceability starts here), raises an Alert when the count differs
from the ASN, and posts a purchase in-stock bill (`STK_InStock`, Save/Submit/Audit, once per
receipt) to Kingdee through the outbox. **On failure**: `KINGDEE_REJECTED` names the bill field.
""",
)
def wms_receipts_to_erp():
    @task
    @classified
    def collect_receipts():
        from hub import tasks

        return tasks.collect_receipts()

    @task
    @classified
    def post_receipts_to_erp():
        from hub import tasks

        return tasks.post_receipts_to_erp()

    collect_receipts() >> post_receipts_to_erp()


wms_receipts_to_erp()
