"""Hub -> WMS: an expected receipt for every shipment notice, before the truck arrives."""
import pendulum
from airflow.sdk import Asset, dag, task
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable

from hub.airflow_support import DEFAULT_ARGS, classified, scheduled


@dag(
    # right after supplier_inbound stored shipment notices (the truck may be on its way), and
    # every 5 minutes for what an earlier push left in the outbox
    schedule=scheduled(AssetOrTimeSchedule(timetable=CronTriggerTimetable("*/5 * * * *", timezone="UTC"),
                                           assets=[Asset("hub://canonical/shipment_notices")])), start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, max_active_runs=1,
    default_args=DEFAULT_ARGS, tags=["wms", "outbound"],
    doc_md="""
Creates one inbound (expected receipt) at the WMS (`wms_default`) per ShipmentNotice through
the outbox (idempotency key supplier/ASN). **On failure**: WMS down = the message waits in the
outbox and is retried with backoff; `WMS_REJECTED` = master data missing at the WMS.
""",
)
def wms_expected_receipts():
    @task
    @classified
    def push_expected_receipts():
        from hub import tasks

        return tasks.push_expected_receipts()

    push_expected_receipts()


wms_expected_receipts()
