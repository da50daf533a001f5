"""Suppliers -> hub: files on SFTP (DESADV...) into the ledger, then translated, validated, stored."""
import datetime as dt

import pendulum
from airflow.sdk import dag, task, task_group

from hub.airflow_support import DEFAULT_ARGS, classified

#: how long one run waits for a partner's first file; below the 5-minute schedule so runs do
#: not queue up. AIRFLOW_VAR_HUB_SFTP_WAIT_SECONDS (or the Variable) overrides it.
WAIT_SECONDS = 240


@dag(
    schedule="*/5 * * * *", start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, max_active_runs=1,
    default_args=DEFAULT_ARGS, tags=["supplier", "edifact", "sftp", "inbound"],
    doc_md="""
Per partner (mapped task group `per_partner`, one instance per partner profile):

1. `wait_for_files`: deferrable sensor - the waiting happens in the triggerer (asyncssh poll of
   the partner's `out/` folder), no worker is held. Nothing ready within the window: the
   partner's instance is **skipped**, not failed.
2. `collect`: one SSH session: files older than the profile's minimum age and not still
   growing are streamed into the raw archive (sha256) and the inbox ledger, then moved to
   `archive/` (or deleted, per profile) on the server. Unsafe file names are quarantined as
   evidence and left on the server.
3. `process`: translates each pending file (`hub translate`), validates against open PO lines
   and stores ShipmentNotices; failures land in quarantine with file, segment and reason.
   Short shipments raise Alerts.

A file seen twice (any name), or already in the ledger with the same path, size and mtime,
or an interchange number seen twice, is not processed again. **On failure**: `SFTP_HOST_KEY` /
`SFTP_AUTH` / `SFTP_KEY` = check the partner's Connection; otherwise `hub quarantine list`.
""",
)
def supplier_inbound():
    @task
    def partners():
        from hub import tasks

        return tasks.inbound_channels()

    @task_group
    def per_partner(partner_id: str, sftp_conn_id: str, min_file_age_seconds: int):
        from adapters.sftp.sensors import SftpInboxSensor

        wait_for_files = SftpInboxSensor(
            task_id="wait_for_files", sftp_conn_id=sftp_conn_id, min_file_age_seconds=min_file_age_seconds,
            poke_interval=30, timeout=WAIT_SECONDS, soft_fail=True,
            wait_seconds="{{ var.value.get('hub_sftp_wait_seconds', '') }}",
            retries=2, retry_delay=dt.timedelta(seconds=30))

        @task
        @classified
        def collect(partner_id: str):
            from hub import tasks

            return tasks.collect_supplier_files(partner_id)

        @task
        @classified
        def process(partner_id: str):
            from hub import tasks

            return tasks.process_supplier_inbox(partner_id)

        collected = collect(partner_id)
        wait_for_files >> collected >> process(partner_id)

    per_partner.expand_kwargs(partners())


supplier_inbound()
