"""Airflow as operators expect it: retries only for retriable errors, one alert per failing task,
run deadlines that raise hub alerts, one mapped task per supplier."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAG_FILES = sorted((REPO / "dags").glob("*.py"))
#: the packages whose code a task runs; a task importing any of them must be ``classified``
HUB_PACKAGES = ("hub", "adapters", "canonical_model", "collaboration", "validation", "mappings")
#: DAGs whose runs must end within a bound (minutes after being queued): a few of their intervals
RUN_DEADLINES = {"erp_push": 15, "wms_receipts_to_erp": 15, "events": 15, "erp_sync": 30, "mes_sync": 30,
                 "wms_sync": 30, "supplier_orders_out": 30, "supplier_acks": 30, "supplier_portal": 30, "alerts": 30}

#: one child process parses every DAG and describes what these tests need (Airflow's settings
#: point at a throwaway AIRFLOW_HOME; sys.modules starts clean)
DESCRIBE = textwrap.dedent("""
    import ast, inspect, json, sys, textwrap
    from airflow.dag_processing.dagbag import DagBag

    HUB = {hub!r}

    def calls_hub(fn):
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(inspect.unwrap(fn))))
        except (OSError, TypeError):
            return None
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
        return any(name == p or name.startswith(p + ".") for name in names for p in HUB)

    def callback_names(callbacks):
        callbacks = callbacks if isinstance(callbacks, list) else [callbacks] if callbacks else []
        return [f"{{getattr(c, '__module__', '?')}}.{{getattr(c, '__qualname__', type(c).__name__)}}" for c in callbacks]

    bag = DagBag(dag_folder={dags!r})
    out = {{"errors": {{k: str(v) for k, v in bag.import_errors.items()}}, "dags": {{}},
           "modules": [m for m in ("hub.notify", "collaboration", "hub.tasks") if m in sys.modules]}}
    for dag in bag.dags.values():
        tasks = {{}}
        for task in dag.tasks:
            fn = getattr(task, "python_callable", None)
            tasks[task.task_id] = {{
                "python": fn is not None,
                "calls_hub": calls_hub(fn) if fn is not None else None,
                "classified": bool(getattr(fn, "__hub_classified__", False)),
                "mapped": task.is_mapped,
                "label": getattr(task, "map_index_template", None),
                "upstream": sorted(task.upstream_task_ids),
                "on_failure": callback_names(task.on_failure_callback),
                "retries": task.retries,
            }}
        deadlines = [{{"reference": type(d.reference).__name__, "minutes": d.interval.total_seconds() / 60,
                      "callback": type(d.callback).__name__, "path": d.callback.path, "kwargs": d.callback.kwargs}}
                     for d in (dag.deadline or [])]
        out["dags"][dag.dag_id] = {{"tasks": tasks, "deadlines": deadlines}}
    print(json.dumps(out))
""")


def _child_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "HUB_"))}
    return {**env, "AIRFLOW_HOME": str(tmp / "airflow"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "PYTHONPATH": str(REPO), **extra}


@pytest.fixture(scope="module")
def described(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("dagbag")
    code = DESCRIBE.format(hub=HUB_PACKAGES, dags=str(REPO / "dags"))
    out = subprocess.run([sys.executable, "-c", code], env=_child_env(tmp), capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["errors"] == {}
    return report


# ------------------------------------------------------------------------------ structure
def test_every_task_that_runs_hub_code_is_classified(described):
    seen, unwrapped = 0, set()
    for dag_id, dag in described["dags"].items():
        for task_id, task in dag["tasks"].items():
            if not task["python"]:
                continue
            assert task["calls_hub"] is not None, f"{dag_id}.{task_id}: source not readable"
            seen += task["calls_hub"]
            if task["calls_hub"] and not task["classified"]:
                unwrapped.add((dag_id, task_id))
    assert seen > 20  # the walk found the tasks (a broken detector would find none and pass)
    assert unwrapped == set()


def test_the_detector_tells_hub_code_from_plain_airflow(described):
    tasks = described["dags"]["erp_sync"]["tasks"]
    assert tasks["sync_entity"]["calls_hub"] and tasks["sync_entity"]["classified"]
    assert tasks["entities"]["calls_hub"] and tasks["entities"]["classified"]
    # raises AirflowSkipException only: no hub code, nothing to classify
    assert tasks["announce_bom_changes"]["calls_hub"] is False


def test_every_task_reports_its_failure_through_the_hub_notifier(described):
    for dag_id, dag in described["dags"].items():
        for task_id, task in dag["tasks"].items():
            assert "hub.airflow_support.on_task_failure" in task["on_failure"], (dag_id, task_id, task["on_failure"])
    # and parsing pulled in neither the notifier nor the alert rules (they load when a callback fires)
    assert described["modules"] == []


def test_bounded_dags_carry_a_run_deadline_whose_callback_raises_a_hub_alert(described):
    carrying = {dag_id: dag["deadlines"] for dag_id, dag in described["dags"].items() if dag["deadlines"]}
    assert set(carrying) == set(RUN_DEADLINES)
    for dag_id, (deadline,) in carrying.items():
        assert deadline == {"reference": "DagRunQueuedAtDeadline", "minutes": RUN_DEADLINES[dag_id],
                            "callback": "SyncCallback", "path": "hub.airflow_support.deadline_missed",
                            "kwargs": {"allowed": f"{RUN_DEADLINES[dag_id]} min"}}, dag_id


def test_supplier_dags_run_one_mapped_task_per_partner(described):
    dags = described["dags"]
    portal = dags["supplier_portal"]["tasks"]
    assert portal["publish_purchase_tasks"]["mapped"] and portal["publish_purchase_tasks"]["upstream"] == ["suppliers"]
    assert not portal["suppliers"]["mapped"]
    orders = dags["supplier_orders_out"]["tasks"]
    assert orders["send_orders"]["mapped"] and orders["send_orders"]["upstream"] == ["partners"]
    acks = dags["supplier_acks"]["tasks"]
    assert acks["deliver_acks"]["mapped"] and acks["deliver_acks"]["upstream"] == ["partners"]
    # the red box says which supplier it is
    assert portal["publish_purchase_tasks"]["label"] == "{{ task.op_kwargs['supplier_id'] }}"
    assert orders["send_orders"]["label"] == acks["deliver_acks"]["label"] == "{{ task.op_kwargs['partner_id'] }}"
    # the sweeps after delivery read the store only, for all partners at once
    assert not acks["check_overdue_acks"]["mapped"] and not acks["schedule_acks"]["mapped"]


# ------------------------------------------------------------------------------ the deadline callback
NO_CHANNELS = """
alert_types:
  RUN_DEADLINE_MISSED: {party: it_ops, escalation: [it_ops, it_manager], next_action: "Open the DAG run."}
parties: {buyer: {}, purchasing_manager: {}, it_ops: {}, it_manager: {}}
"""


def _run_context(run_id: str, state: str = "running") -> dict:
    # what Airflow hands a deadline callback: the run as DAGRunResponse.model_dump(mode="json"), the deadline
    return {"dag_run": {"dag_run_id": run_id, "dag_id": "erp_push", "state": state,
                        "queued_at": "2026-12-01T08:00:00Z", "logical_date": "2026-12-01T08:00:00Z"},
            "deadline": {"id": "0199", "deadline_time": "2026-12-01T08:15:00+00:00"}}


def test_dag_test_processes_and_the_switch_leave_the_deadline_off(monkeypatch):
    """Airflow 3.3.2's dag.test() crashes on a successful run of a DAG with a deadline
    (Airflow 3.3.2, seen here; hub.airflow_support.parsed_for_dag_test): the demo's runner and `airflow dags test` parse the DAGs without one."""
    import types

    from hub import airflow_support

    monkeypatch.delenv("HUB_RUN_DEADLINES", raising=False)
    monkeypatch.setattr(sys, "argv", ["/venv/bin/airflow", "scheduler"])
    assert airflow_support.run_deadline(15) is not None
    monkeypatch.setattr(sys, "argv", ["/venv/bin/airflow", "dags", "test", "erp_push"])
    assert airflow_support.run_deadline(15) is None
    monkeypatch.setattr(sys, "argv", ["-m"])
    runner = types.ModuleType("__main__")
    runner.__spec__ = types.SimpleNamespace(name="hub.dag_runner")
    monkeypatch.setitem(sys.modules, "__main__", runner)
    assert airflow_support.run_deadline(15) is None
    runner.__spec__ = types.SimpleNamespace(name="some.other.tool")
    assert airflow_support.run_deadline(15) is not None
    monkeypatch.setenv("HUB_RUN_DEADLINES", "off")
    assert airflow_support.run_deadline(15) is None


def test_the_deadline_callback_raises_one_alert_per_dag_refreshed_by_the_next_miss(tmp_path, monkeypatch):
    """The scheduler, not dag.test(), notices a missed deadline and runs the callback on the executor:
    the callback itself is tested here, with the context Airflow builds for it."""
    from canonical_model.store import audit, documents, open_store
    from hub.airflow_support import deadline_missed

    alerting = tmp_path / "alerting.yaml"
    alerting.write_text(NO_CHANNELS, encoding="utf-8")
    monkeypatch.setenv("HUB_ALERTING_FILE", str(alerting))
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    deadline_missed(context=_run_context("scheduled__2026-12-01T08:00:00+00:00"), allowed="15 min")
    deadline_missed(context=_run_context("scheduled__2026-12-01T08:05:00+00:00", "queued"), allowed="15 min")
    # a run that ended before its deadline fired (apache/airflow#60927) says nothing: a failure has its own alert
    deadline_missed(context=_run_context("scheduled__2026-12-01T08:10:00+00:00", "failed"), allowed="15 min")
    store = open_store()
    with store.session() as s:
        (alert,) = list(documents.current(s, "Alert"))
        trail = [r.action for r in audit.history(s, "Alert", alert.alert_id) if r.action.startswith("alert_")]
    store.dispose()
    assert alert.alert_id == "RUN_DEADLINE_MISSED:erp_push" and alert.responsible_party == "it_ops"
    assert ("Airflow DAG run erp_push scheduled__2026-12-01T08:05:00+00:00 had not finished by its deadline "
            "2026-12-01T08:15:00+00:00 (15 min after it was queued); state queued. Next: Open the DAG run.") \
        == alert.message
    assert trail == ["alert_opened", "alert_notified"]  # told once, refreshed by the second miss


# ------------------------------------------------------------------------------ failing tasks, for real
TINY_DAG = '''
import datetime as dt
import os

import pendulum
from airflow.sdk import dag, task

from hub.airflow_support import DEFAULT_ARGS, classified


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, tags=["test"], doc_md="test",
     default_args={**DEFAULT_ARGS, "retries": 1, "retry_delay": dt.timedelta(0), "retry_exponential_backoff": False})
def tiny():
    def tried(name):
        with open(os.environ["TINY_TRIES"], "a") as tries:
            tries.write(name + "\\n")

    @task
    @classified
    def fatal():
        from hub.errors import FatalError

        tried("fatal")
        raise FatalError("TINY_BROKEN", "the partner profile is broken", "tiny.fatal")

    @task
    @classified
    def flaky():
        from hub.errors import RetriableError

        tried("flaky")
        raise RetriableError("TINY_DOWN", "the ERP did not answer", "tiny.flaky")

    @task
    @classified
    def fine():
        tried("fine")

    fatal()
    flaky()
    fine()


tiny()
'''

RUN_TWICE = textwrap.dedent("""
    import json
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models import TaskInstance
    from airflow.utils import timezone
    from airflow.utils.db import upgradedb
    from airflow.utils.session import create_session

    upgradedb()
    dag = DagBag(dag_folder={dags!r}).dags["tiny"]
    runs = []
    for _ in range(2):  # a second run (a rerun of the same failure) must not open second alerts
        run = dag.test(logical_date=timezone.utcnow())
        with create_session() as session:
            tis = session.query(TaskInstance).filter(TaskInstance.run_id == run.run_id).all()
            runs.append({{"run_id": run.run_id, "state": str(run.state),
                         "tasks": {{ti.task_id: [str(ti.state), ti.try_number] for ti in tis}}}})
    print(json.dumps(runs))
""")


@pytest.mark.slow
def test_failing_tasks_raise_one_alert_each_and_only_retriable_errors_are_retried(tmp_path):
    from canonical_model.store import audit, documents, open_store

    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "tiny.py").write_text(TINY_DAG, encoding="utf-8")
    alerting = tmp_path / "alerting.yaml"
    alerting.write_text(NO_CHANNELS, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    env = _child_env(tmp_path, AIRFLOW__CORE__DAGS_FOLDER=str(dags), HUB_DATABASE_URL=url,
                     HUB_VAR_DIR=str(tmp_path / "var"), HUB_ALERTING_FILE=str(alerting),
                     TINY_TRIES=str(tmp_path / "tries"))
    out = subprocess.run([sys.executable, "-c", RUN_TWICE.format(dags=str(dags))], env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    runs = json.loads(out.stdout.strip().splitlines()[-1])
    for run in runs:
        assert "failed" in run["state"]
        # fatal: one try; retriable: tried again (retries=1) before it failed; the others unharmed
        assert run["tasks"] == {"fatal": ["failed", 1], "flaky": ["failed", 2], "fine": ["success", 1]}, run
    # what the task callables themselves counted, two runs
    assert Counter((tmp_path / "tries").read_text().split()) == {"fatal": 2, "flaky": 4, "fine": 2}

    store = open_store(url, archive_dir=tmp_path / "archive")
    with store.session() as s:
        alerts = {a.alert_id: a for a in documents.current(s, "Alert")}
        trails = {alert_id: [r.action for r in audit.history(s, "Alert", alert_id) if r.action.startswith("alert_")]
                  for alert_id in alerts}
    store.dispose()
    assert set(alerts) == {"PIPELINE_FAILED:tiny:fatal", "PIPELINE_FAILED:tiny:flaky"}
    second_run = runs[1]["run_id"]
    fatal, flaky = alerts["PIPELINE_FAILED:tiny:fatal"], alerts["PIPELINE_FAILED:tiny:flaky"]
    assert fatal.responsible_party == "it_ops" and fatal.status == "open" and fatal.severity == "critical"
    # refreshed by the second run: its run id and try, the hub's error line (classified's cause), once told
    assert f"Airflow task tiny.fatal failed in run {second_run} (try 1): tiny.fatal: TINY_BROKEN the partner " \
           f"profile is broken." in fatal.message
    assert f"Airflow task tiny.flaky failed in run {second_run} (try 2): tiny.flaky: TINY_DOWN the ERP did not " \
           f"answer." in flaky.message
    assert [s.key for s in fatal.subjects] == ["tiny", "fatal", second_run]
    assert trails == {alert_id: ["alert_opened", "alert_notified"] for alert_id in alerts}
