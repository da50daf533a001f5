"""Hub -> supplier portal: open purchase orders as purchase tasks in the Jiandaoyun forms."""
import pendulum
from airflow.sdk import dag, task

from hub.airflow_support import DEFAULT_ARGS, classified, scheduled


@dag(
    schedule=scheduled("*/15 * * * *"), start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, max_active_runs=1,
    default_args=DEFAULT_ARGS, tags=["suppliers", "jiandaoyun", "outbound"],
    doc_md="""
Publishes every open purchase order as a purchase task in the supplier portal (Jiandaoyun,
`jiandaoyun_default`), once per PO version. Suppliers accept, change or reject it online; the
answer arrives as a signed webhook at the ingress API and the `events` DAG turns it into an
OrderResponse. **On failure**: `JDY_AUTH` = fix the API key; rate limits retry by themselves.
""",
)
def supplier_portal():
    @task
    @classified
    def publish_purchase_tasks():
        from hub import tasks

        return tasks.publish_purchase_tasks()

    publish_purchase_tasks()


supplier_portal()
