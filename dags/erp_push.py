"""Hub -> ERP: receipts, inspection results and order responses, drained from the outbox."""
import pendulum
from airflow.sdk import dag, task

from hub.airflow_support import DEFAULT_ARGS, classified, run_deadline, scheduled


@dag(
    schedule=scheduled("*/5 * * * *"), start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, max_active_runs=1,
    deadline=run_deadline(15),
    default_args=DEFAULT_ARGS, tags=["erp", "outbound"],
    doc_md="""
Delivers the outbox rows of the plant's ERP (`HUB_ERP`): each document once, as a bill that is
saved, submitted and audited (approved) in one idempotent step found again by its external number.
Retriable errors stay pending with a backoff; a rejected document is parked (`failed`) and fails
this task with its error so someone fixes the data or the crosswalk.
""",
)
def erp_push():
    @task
    @classified
    def push_to_erp():
        from hub import tasks

        return tasks.push_to_erp()

    push_to_erp()


erp_push()
