"""Hub -> supplier portal: open purchase orders as purchase tasks in the Jiandaoyun forms."""
import pendulum
from airflow.sdk import dag, task

from hub.airflow_support import DEFAULT_ARGS, classified, run_deadline, scheduled


@dag(
    schedule=scheduled("*/15 * * * *"), start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, max_active_runs=1,
    deadline=run_deadline(30),
    default_args=DEFAULT_ARGS, tags=["suppliers", "jiandaoyun", "outbound"],
    doc_md="""
Publishes every open purchase order as a purchase task in the supplier portal (Jiandaoyun,
`jiandaoyun_default`), once per PO version: one mapped task per supplier with open orders,
labelled with the supplier id, so one supplier's rejected order is one red task and the others'
go out. Suppliers accept, change or reject it online; the answer arrives as a signed webhook at
the ingress API and the `events` DAG turns it into an OrderResponse. **On failure**: `JDY_AUTH` =
fix the API key; rate limits retry by themselves.
""",
)
def supplier_portal():
    @task
    @classified
    def suppliers():
        from hub import tasks

        return tasks.portal_suppliers()

    @task(map_index_template="{{ task.op_kwargs['supplier_id'] }}")
    @classified
    def publish_purchase_tasks(supplier_id: str):
        from hub import tasks

        return tasks.publish_purchase_tasks(supplier_id)

    publish_purchase_tasks.expand(supplier_id=suppliers())


supplier_portal()
