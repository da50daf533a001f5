"""Pushed events -> canonical documents: what the ingress API stored, processed one event at a time."""
import pendulum
from airflow.sdk import Asset, dag, task

from hub.airflow_support import DEFAULT_ARGS, classified, run_deadline, scheduled


@dag(
    schedule=scheduled("*/5 * * * *"), start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, max_active_runs=1,
    deadline=run_deadline(15),
    default_args=DEFAULT_ARGS, tags=["ingress", "jiandaoyun", "wms", "opcenter", "suppliers", "inbound"],
    doc_md="""
Processes the events the ingress API (`hub serve`) stored: Jiandaoyun webhooks (supplier answers,
ASNs, inspections, production orders), WMS receipts and QC decisions, Opcenter production orders
and consumption, supplier ASNs posted as JSON. Each event in its own transaction, claimed first,
so a rerun or a second run never processes one twice. The ingress asks Airflow for a run after
each accepted event (`HUB_AIRFLOW_API_URL`); this schedule catches what a lost trigger missed.
**On failure**: a configuration error (a missing Connection) leaves the events waiting and names
the Connection; bad data is in `hub quarantine list` with the event id and its raw body's sha256.
""",
)
def events():
    # receipts and QC decisions from events feed the ERP posting: it runs as soon as this task ends
    @task(outlets=[Asset("hub://canonical/receipts")])
    @classified
    def process_events():
        from hub.flows.events import run

        return run()

    process_events()


events()
