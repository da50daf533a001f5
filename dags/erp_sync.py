"""ERP -> hub: master data, BOMs, purchase and production orders, stock (Kingdee, U9 or U9 Cloud)."""
import pendulum
from airflow.sdk import Asset, dag, task

from hub.airflow_support import DEFAULT_ARGS, classified, run_deadline, scheduled


@dag(
    schedule=scheduled("*/15 * * * *"), start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, max_active_runs=1,
    deadline=run_deadline(30),
    default_args=DEFAULT_ARGS, tags=["erp", "inbound"],
    doc_md="""
One mapped task per entity (`HUB_ERP_ENTITIES`, default all six) pulls what changed since the
entity's watermark (minus an overlap window) from the plant's ERP (`HUB_ERP` = kingdee, u9 or
u9cloud; Connection `<system>_default`), maps it with `mappings/<system>/`, validates and stores it.
A rerun or a cleared run stores nothing twice (content hash per record, then per document).
**On failure**: `*_LOGIN_FAILED` = fix the Connection; retriable errors retry by themselves;
bad records are in `hub quarantine list` (UNKNOWN_MATERIAL, UNKNOWN_SUPPLIER, ...).
""",
)
def erp_sync():
    @task
    @classified
    def entities():
        from hub import tasks

        return tasks.erp_entities()

    @task(max_active_tis_per_dagrun=2)
    @classified
    def sync_entity(entity: str):
        from hub import tasks

        return tasks.sync_erp_entity(entity)

    @task(outlets=[Asset("hub://canonical/boms")])
    def announce_bom_changes(names: list, counts: list):
        """The asset event schedules plan_run; a run that changed no BOM emits none (skipped)."""
        from airflow.exceptions import AirflowSkipException

        boms = [c for name, c in zip(names, counts) if name == "boms"]
        if not any(c["new"] or c["changed"] for c in boms):
            raise AirflowSkipException("no BOM changed")
        return boms[0]

    names = entities()
    announce_bom_changes(names, sync_entity.expand(entity=names))


erp_sync()
