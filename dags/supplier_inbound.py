"""Suppliers -> hub: files on SFTP (DESADV...) into the ledger, then translated, validated, stored."""
import datetime as dt

import pendulum
from airflow.sdk import Asset, AssetWatcher, dag, task, task_group
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable

from adapters.sftp.arrivals import ASSET_URI, SftpArrivalTrigger
from hub.airflow_support import DEFAULT_ARGS, classified, scheduled

#: how long one run waits for a partner's first file: not at all by default - the arrival watcher
#: starts a run when files are there, and a run waiting for an idle partner would hold up the
#: files of the others (and the next run: one at a time). AIRFLOW_VAR_HUB_SFTP_WAIT_SECONDS (or
#: the Variable) sets a window, waited in the triggerer.
WAIT_SECONDS = 0


@dag(
    # a file on any partner's SFTP starts a run within seconds (the triggerer's watcher); the
    # 5-minute tick is the safety net for a missed event
    schedule=scheduled(AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("*/5 * * * *", timezone="UTC"),
        assets=[Asset(ASSET_URI, watchers=[AssetWatcher(name="supplier_sftp_arrivals",
                                                         trigger=SftpArrivalTrigger(poll_interval=5))])])),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, max_active_runs=1,
    default_args=DEFAULT_ARGS, tags=["supplier", "edifact", "sftp", "inbound"],
    doc_md="""
Starts when a file arrives on any partner's SFTP (asset `sftp://suppliers/inbox`, watched by
the triggerer: `SftpArrivalTrigger`, one poll every 5 s, no worker held) and every 5 minutes.
It emits `hub://canonical/shipment_notices` when it stored ASNs, which starts
`wms_expected_receipts` at once.

Per partner (mapped task group `per_partner`, one instance per partner profile):

1. `wait_for_files`: one look at the partner's `out/` folder; files ready: go on. Nothing ready:
   the partner's instance is **skipped**, not failed - or, with a window set (Variable
   `hub_sftp_wait_seconds`), it defers and the triggerer waits (asyncssh poll), no worker held.
2. `collect`: one SSH session: files older than the profile's minimum age and not still
   growing are streamed into the raw archive (sha256) and the inbox ledger, then moved to
   `archive/` (or deleted, per profile) on the server. Unsafe file names are quarantined as
   evidence and left on the server.

Then per file (mapped task `process_file`, one instance per inbox row, labelled
`PARTNER #inbox-id`, so one bad file is one red box):

3. `pending_files`: every inbox row still waiting, of every partner - this run's files and
   those an earlier run left behind. Runs even when some partners were skipped or failed.
4. `process_file`: translates the file (`hub translate`), validates against open PO lines and
   stores ShipmentNotices; failures land in quarantine with file, segment and reason. Short
   shipments raise Alerts. Nothing waiting: the mapped task is skipped.
5. `summary`: the run's counts; it fails (upstream) when a partner's collect failed, so the
   run shows red even though the other partners' files went through.

A file seen twice (any name), or already in the ledger with the same path, size and mtime,
or an interchange number seen twice, is not processed again; a file already processed (retry,
rerun, two workers) is a no-op. **On failure**: `SFTP_HOST_KEY` / `SFTP_AUTH` / `SFTP_KEY` =
check the partner's Connection; otherwise `hub quarantine list`.
""",
)
def supplier_inbound():
    @task
    @classified
    def partners():
        from hub import tasks

        return tasks.inbound_channels()

    @task_group
    def per_partner(partner_id: str, sftp_conn_id: str, min_file_age_seconds: int):
        from adapters.sftp.sensors import SftpInboxSensor

        wait_for_files = SftpInboxSensor(
            task_id="wait_for_files", sftp_conn_id=sftp_conn_id, min_file_age_seconds=min_file_age_seconds,
            poke_interval=5, timeout=WAIT_SECONDS, soft_fail=True,
            wait_seconds="{{ var.value.get('hub_sftp_wait_seconds', '') }}",
            retries=2, retry_delay=dt.timedelta(seconds=30))

        @task
        @classified
        def collect(partner_id: str):
            from hub import tasks

            return tasks.collect_supplier_files(partner_id)

        collected = collect(partner_id)
        wait_for_files >> collected
        return collected

    # all_done: an idle (skipped) or broken (failed) partner must not hold up the others' files
    @task(trigger_rule="all_done")
    @classified
    def pending_files():
        from hub import tasks

        return tasks.pending_supplier_files()

    @task(map_index_template="{{ file_label }}")
    @classified
    def process_file(partner_id: str, inbox_id: int):
        from airflow.sdk import get_current_context

        from hub import tasks

        get_current_context()["file_label"] = f"{partner_id} #{inbox_id}"
        return tasks.process_supplier_file(partner_id, inbox_id)

    # none_failed: skipped partners and an empty file list make a quiet run; a failed collect or
    # file does not, and this leaf carries it into the run's state
    @task(trigger_rule="none_failed")
    def summary(results):
        totals = {"files": 0, "documents": 0, "quarantined": 0, "alerts": 0}
        for counts in results:
            for key, value in counts.items():
                totals[key] = totals.get(key, 0) + value
        return totals

    @task(outlets=[Asset("hub://canonical/shipment_notices")])
    def announce_documents(totals: dict):
        """The asset event starts wms_expected_receipts now; a run that stored nothing emits none."""
        from airflow.exceptions import AirflowSkipException

        if not totals["documents"]:
            raise AirflowSkipException("no document stored")
        return totals

    collected = per_partner.expand_kwargs(partners())
    files = pending_files()
    collected >> files
    totals = summary(process_file.expand_kwargs(files))
    collected >> totals
    announce_documents(totals)


supplier_inbound()
