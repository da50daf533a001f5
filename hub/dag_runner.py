"""Run DAGs one after another in one process, the way ``airflow dags test`` runs one.

``airflow dags test`` pays Airflow's start-up (imports, configuration, the DAG bundle sync:
10-20 s on two cores) for every DAG run. The demo runs about twenty DAG runs in a row, with its
simulated people acting between them, so it keeps one of these processes open and hands it DAG
ids: each is found and run with the same calls the CLI makes (``airflow.utils.cli.get_bagged_dag``
then ``dag.test()``), against the same metadata database, with the same task code.

Protocol: one DAG id per line on stdin; for each, one JSON line ``{"dag_id", "state", "seconds",
"error"}`` on the file descriptor given as ``--results-fd`` (stdout and stderr carry Airflow's log).
End of stdin ends the process. ``python -m hub.dag_runner --results-fd 3``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time


def run(dag_id: str) -> dict:
    from airflow.utils import timezone
    from airflow.utils.cli import get_bagged_dag

    started = time.monotonic()
    try:
        dag = get_bagged_dag(bundle_names=None, dag_id=dag_id)
        state = dag.test(logical_date=timezone.utcnow()).state
        state = str(getattr(state, "value", state))
        error = None
    except Exception as exc:  # noqa: BLE001 - reported to the caller, which fails the demo with it
        state, error = "failed", f"{type(exc).__name__}: {exc}"
    return {"dag_id": dag_id, "state": state, "seconds": round(time.monotonic() - started, 1), "error": error}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results-fd", type=int, required=True)
    args = parser.parse_args(argv)
    with os.fdopen(args.results_fd, "w", buffering=1) as results:
        for line in sys.stdin:
            dag_id = line.strip()
            if dag_id:
                print(f"===== DAG {dag_id} =====", flush=True)
                results.write(json.dumps(run(dag_id)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
