"""Suppliers -> hub: files on SFTP (DESADV...) into the ledger, then translated, validated, stored."""
import pendulum
from airflow.sdk import dag, task

from hub.airflow_support import DEFAULT_ARGS, classified


@dag(
    schedule="*/5 * * * *", start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, max_active_runs=1,
    default_args=DEFAULT_ARGS, tags=["supplier", "edifact", "sftp", "inbound"],
    doc_md="""
Per partner: collects files older than the profile's minimum age from the partner's SFTP
`out/` folder, archives them raw (sha256) in the inbox ledger, then moves them to `archive/`
on the server. Processing translates each file (`hub translate`), validates against open PO
lines and stores ShipmentNotices; failures land in quarantine with file, segment and reason.
Short shipments raise Alerts. A file seen twice (any name) or an interchange number seen
twice is not processed again. **On failure**: see `hub quarantine list`.
""",
)
def supplier_inbound():
    @task
    def partners():
        from hub import tasks

        return tasks.partner_ids()

    @task
    @classified
    def collect_files(partner_id: str):
        from hub import tasks

        return tasks.collect_supplier_files(partner_id)

    @task
    @classified
    def process_inbox(partner_id: str):
        from hub import tasks

        return tasks.process_supplier_inbox(partner_id)

    process_inbox.expand(partner_id=collect_files.expand(partner_id=partners()))


supplier_inbound()
