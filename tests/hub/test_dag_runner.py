"""hub.dag_runner: DAG ids in on stdin, one JSON result per run on its own descriptor."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_runs_dags_in_one_process_and_reports_unknown_ones_without_stopping(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "HUB_"))}
    env.update(AIRFLOW_HOME=str(tmp_path / "airflow"), AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
               AIRFLOW__CORE__LOAD_EXAMPLES="False", HUB_VAR_DIR=str(tmp_path / "var"), PYTHONPATH=str(REPO))
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], env=env, cwd=REPO, check=True, capture_output=True, timeout=300)
    read_fd, write_fd = os.pipe()
    runner = subprocess.Popen([sys.executable, "-m", "hub.dag_runner", "--results-fd", str(write_fd)], env=env,
                              cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              pass_fds=(write_fd,))
    os.close(write_fd)
    # an unknown id, a blank line (ignored) and a real DAG (the alert sweep on an empty store)
    runner.communicate(b"no_such_dag\n\n  \nalerts\n", timeout=600)
    with os.fdopen(read_fd) as results:
        outcomes = [json.loads(line) for line in results]
    assert runner.returncode == 0
    assert [(o["dag_id"], o["state"]) for o in outcomes] == [("no_such_dag", "failed"), ("alerts", "success")]
    assert "no_such_dag" in outcomes[0]["error"] and outcomes[1]["error"] is None
