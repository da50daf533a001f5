"""Data quality of the canonical store: the GX suite (validation/quality.py), daily or by hand."""
import pendulum
from airflow.sdk import dag, task

from hub.airflow_support import DEFAULT_ARGS, classified, scheduled


@dag(
    schedule=scheduled("@daily"), start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, max_active_runs=1,
    default_args={**DEFAULT_ARGS, "retries": 0}, tags=["quality", "reports"],
    doc_md="""
Runs the Great Expectations suite over the canonical store: completeness, referential integrity
PO <-> ASN <-> receipt, freshness per feed, value ranges (rules in `validation/quality_rules.yaml`).
Every run is kept as a validation result; Data Docs (HTML) are under `var/gx/gx/uncommitted/data_docs/`,
and `hub report` links them. Trigger it by hand after fixing data to see it green again.
**On failure**: the task log names each failed expectation with examples of the bad values
(`DATA_QUALITY_FAILED table.column expect_... (n unexpected, e.g. ...)`); the Data Docs page shows all.
Nothing is retried: the same data fails the same way.
""",
)
def data_quality():
    @task
    @classified
    def check_quality(data_interval_end=None):
        from validation.quality import run_quality_task

        # freshness is judged at the end of the run's interval, so a rerun judges the same moment
        return run_quality_task(now=data_interval_end)

    check_quality()


data_quality()
