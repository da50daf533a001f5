"""WMS -> hub -> ERP: counted receipts become Receipt and Batch records and ERP stock receipts."""
import pendulum
from airflow.sdk import Asset, dag, task
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable

from hub.airflow_support import DEFAULT_ARGS, classified, run_deadline, scheduled


@dag(
    # every 5 minutes, and right after the events DAG stored pushed receipts (no polling delay)
    schedule=scheduled(AssetOrTimeSchedule(timetable=CronTriggerTimetable("*/5 * * * *", timezone="UTC"),
                                           assets=[Asset("hub://canonical/receipts")])),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, max_active_runs=1,
    deadline=run_deadline(15),
    default_args=DEFAULT_ARGS, tags=["wms", "erp", "inbound", "outbound"],
    doc_md="""
Reads receipts of the inbounds the WMS has counted, stores `Receipt` and one quarantined
`Batch` per supplier batch (traceability starts here), raises an Alert when the count differs
from the ASN, and posts the receipt to the plant's ERP (`HUB_ERP`) through the outbox: Kingdee
`STK_InStock` (Save/Submit/Audit) or U9 receipt (create + approve), once per receipt.
**On failure**: the parked outbox row and its quarantine entry name the bill and the field.
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
    def push_to_erp():
        from hub import tasks

        return tasks.push_to_erp()

    collect_receipts() >> push_to_erp()


wms_receipts_to_erp()
