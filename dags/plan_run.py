"""Plan run: MRP -> allocation -> delivery schedules -> approval (human in the loop) -> send."""
import datetime as dt

import pendulum
from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Asset, Param, dag, task
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable

from hub.airflow_support import DEFAULT_ARGS, classified, scheduled

APPROVE, REJECT = "Approve", "Reject"


@dag(
    schedule=scheduled(AssetOrTimeSchedule(timetable=CronTriggerTimetable("0 */4 * * *", timezone="UTC"),
                                           assets=(Asset("hub://canonical/production_orders")
                                                   | Asset("hub://canonical/boms")))),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, max_active_runs=1,
    default_args=DEFAULT_ARGS, tags=["planning", "mrp", "suppliers", "outbound"],
    doc_md="""
Explodes the production orders (MES) through the BOMs (ERP), nets against released stock, open
PO lines and in-transit ASNs, splits the purchase requirements among approved suppliers
(`mappings/sourcing/`, scorecard grades) and builds one versioned delivery schedule per supplier.
A version that changes anything inside the supplier's firm zone waits in **approve_changes**
(Required Actions in the UI: Approve or Reject, with a comment) and nothing of it is sent before.
Approved or unchanged-firm versions go out per partner profile (DELFOR / 830 / CSV / XLSX over
SFTP, or the Jiandaoyun portal). Orders firm supply does not cover get a schedule-change
proposal in Opcenter and an Alert. Runs every 4 hours and whenever production orders or BOMs
change. Every step is in `hub audit --subject DS-<supplier>`.
**On failure**: a BOM cycle or missing conversion names the material (fix the ERP data or
`mappings/crosswalks/unit_conversions.csv`); parked outbox rows are in the task log.
""",
)
def plan_run():
    @task
    @classified
    def plan():
        from hub import tasks

        return tasks.plan_propose()

    @task.branch
    def needs_approval(proposal: dict):
        # send waits for the decision when there is one (its trigger rule lets it run after a skip)
        return ["approve_changes", "send"] if proposal["pending"] else ["send"]

    approve = HITLOperator(
        task_id="approve_changes",
        subject="Delivery schedule changes inside the firm zone",
        body="{{ ti.xcom_pull(task_ids='plan')['approval_body'] }}",
        options=[APPROVE, REJECT],
        defaults=[REJECT],  # no answer in time: nothing inside the firm zone changes
        params={"comment": Param("", type="string", description="why (kept in the audit trail)")},
        response_timeout=dt.timedelta(hours=24),
        retries=0,
    )

    @task
    @classified
    def record_decision(proposal: dict, response: dict):
        from hub import tasks

        return tasks.plan_decide(proposal["pending"], response)

    @task(trigger_rule="none_failed_min_one_success")
    @classified
    def send():
        from hub import tasks

        return tasks.plan_send()

    @task
    @classified
    def mes_proposals():
        from hub import tasks

        return tasks.plan_mes_proposals()

    proposal = plan()
    branch = needs_approval(proposal)
    decision = record_decision(proposal, approve.output)
    branch >> approve
    [branch, decision] >> send()
    proposal >> mes_proposals()


plan_run()
