"""Every DAG file imports cleanly, stays thin and says what it does."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAG_FILES = sorted((REPO / "dags").glob("*.py"))
# modules that do I/O or are heavy: a DAG file imports them inside tasks, never at top level
FORBIDDEN_TOP_LEVEL = ("pandas", "pandera", "great_expectations", "requests", "paramiko", "sqlalchemy",
                       "canonical_model", "adapters", "hub.tasks", "hub.flows")
# adapters a DAG builds at parse time (an asset watcher's trigger): light at import by design, and
# test_supplier_inbound_waits_per_partner_with_a_deferrable_sensor checks nothing heavy came along
PARSE_TIME_ADAPTERS = ("adapters.sftp.arrivals",)


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_has_no_heavy_top_level_imports(path: Path):
    tree = ast.parse(path.read_text())
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    names = [a.name for n in top if isinstance(n, ast.Import) for a in n.names]
    names += [n.module for n in top if isinstance(n, ast.ImportFrom) and n.module]
    assert not [n for n in names if n.startswith(FORBIDDEN_TOP_LEVEL) and n not in PARSE_TIME_ADAPTERS]


def test_dagbag_loads_without_import_errors(tmp_path: Path):
    # in a child process so Airflow's settings point at a throwaway AIRFLOW_HOME
    code = (
        "import json; from airflow.dag_processing.dagbag import DagBag; "
        f"bag = DagBag(dag_folder={str(REPO / 'dags')!r}); "
        "print(json.dumps({'errors': {k: str(v) for k, v in bag.import_errors.items()}, "
        "'dags': {d.dag_id: {'doc': bool(d.doc_md), 'tags': sorted(d.tags), 'owner': d.owner, "
        "'max_active_runs': d.max_active_runs, 'tasks': len(d.tasks)} for d in bag.dags.values()}}))"
    )
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    import json

    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["errors"] == {}
    assert set(report["dags"]) == {p.stem for p in DAG_FILES}
    for dag_id, info in report["dags"].items():
        assert info["doc"] and info["tags"] and info["owner"] == "integration", dag_id
        assert info["max_active_runs"] == 1 and info["tasks"] >= 1, dag_id


def test_supplier_inbound_waits_per_partner_with_a_deferrable_sensor(tmp_path: Path):
    code = (
        "import json; from airflow.dag_processing.dagbag import DagBag; "
        f"bag = DagBag(dag_folder={str(REPO / 'dags' / 'supplier_inbound.py')!r}); "
        "d = bag.dags['supplier_inbound']; t = d.task_dict; "
        "print(json.dumps({'ids': sorted(t), 'sensor': type(t['per_partner.wait_for_files']).__name__, "
        "'soft_fail': t['per_partner.wait_for_files'].soft_fail, "
        "'up': {k: sorted(t[k].upstream_task_ids) for k in t}, "
        "'heavy': [m for m in ('paramiko', 'asyncssh', 'sqlalchemy.orm') if m in __import__('sys').modules]}))"
    )
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    import json

    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert info["sensor"] == "SftpInboxSensor" and info["soft_fail"] is True
    # (every task in the mapped group also depends on `partners`, whose output it is mapped over)
    assert "per_partner.wait_for_files" in info["up"]["per_partner.collect"]
    # processing moved out of the group to one mapped task per file (see the test below)
    assert "per_partner.collect" in info["up"]["pending_files"]
    assert info["up"]["per_partner.wait_for_files"] == ["partners"]
    # parsing the DAG must not pull in the SSH libraries (they load when the task runs)
    assert "paramiko" not in info["heavy"] and "asyncssh" not in info["heavy"]


def test_supplier_inbound_processes_each_file_as_its_own_mapped_task(tmp_path: Path):
    code = (
        "import json; from airflow.dag_processing.dagbag import DagBag; "
        f"bag = DagBag(dag_folder={str(REPO / 'dags' / 'supplier_inbound.py')!r}); "
        "d = bag.dags['supplier_inbound']; t = d.task_dict; "
        "print(json.dumps({k: {'mapped': t[k].is_mapped, 'group': t[k].get_closest_mapped_task_group() is not None, "
        "'rule': str(t[k].trigger_rule.value), 'up': sorted(t[k].upstream_task_ids), "
        "'down': sorted(t[k].downstream_task_ids)} for k in t}))"
    )
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    import json

    tasks = json.loads(out.stdout.strip().splitlines()[-1])
    # per file: a mapped task of its own, outside the per-partner group, fed by the list of waiting files
    assert tasks["process_file"]["mapped"] and not tasks["process_file"]["group"]
    assert tasks["process_file"]["up"] == ["pending_files"]
    assert tasks["per_partner.collect"]["group"]
    # an idle (skipped) or broken partner must not stop the other partners' files...
    assert tasks["pending_files"]["rule"] == "all_done"
    # ...but a failed collect or file still turns the run red (summary, then the leaf, upstream_failed)
    assert tasks["summary"]["rule"] == "none_failed" and tasks["summary"]["down"] == ["announce_documents"]
    assert set(tasks["summary"]["up"]) == {"per_partner.collect", "process_file"}
    assert tasks["announce_documents"]["rule"] == "all_success" and tasks["announce_documents"]["down"] == []


def test_arrivals_and_stored_asns_start_the_next_step_without_waiting_for_the_clock(tmp_path: Path):
    code = (
        "import json; from airflow.dag_processing.dagbag import DagBag; "
        f"bag = DagBag(dag_folder={str(REPO / 'dags')!r}); "
        "inbound, wms = bag.dags['supplier_inbound'], bag.dags['wms_expected_receipts']; "
        "assets = lambda d: sorted(a.uri for _, a in d.timetable.asset_condition.iter_assets()) "
        "if hasattr(d.timetable, 'asset_condition') else []; "
        "watchers = [(w.name, w.trigger['classpath'] if isinstance(w.trigger, dict) else type(w.trigger).__name__) for _, a in inbound.timetable.asset_condition.iter_assets()"
        " for w in a.watchers]; "
        "outlets = [a.uri for a in inbound.task_dict['announce_documents'].outlets]; "
        "print(json.dumps({'inbound': assets(inbound), 'wms': assets(wms), 'watchers': watchers, "
        "'outlets': outlets, 'cron': [type(d.timetable).__name__ for d in (inbound, wms)]}))"
    )
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "PYTHONPATH": str(REPO)}
    env.pop("HUB_DAG_SCHEDULES", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    import json

    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["inbound"] == ["sftp://suppliers/inbox"]
    assert report["watchers"] == [["supplier_sftp_arrivals", "adapters.sftp.arrivals.SftpArrivalTrigger"]]
    # what supplier_inbound announces is what wms_expected_receipts waits for
    assert report["outlets"] == report["wms"] == ["hub://canonical/shipment_notices"]
    # the clock stays as the safety net on both
    assert report["cron"] == ["AssetOrTimeSchedule", "AssetOrTimeSchedule"]


def _timetables(tmp_path: Path, schedules: str | None) -> dict[str, str]:
    code = (
        "import json; from airflow.dag_processing.dagbag import DagBag; "
        f"bag = DagBag(dag_folder={str(REPO / 'dags')!r}); "
        "print(json.dumps({d.dag_id: type(d.timetable).__name__ for d in bag.dags.values()}))"
    )
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "PYTHONPATH": str(REPO)}
    env.pop("HUB_DAG_SCHEDULES", None)
    if schedules is not None:
        env["HUB_DAG_SCHEDULES"] = schedules
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    import json

    return json.loads(out.stdout.strip().splitlines()[-1])


def test_manual_schedules_switch_every_dag_to_triggered_runs_only(tmp_path: Path):
    # the demo story on a real scheduler triggers each step itself: no DAG may start on its own
    scheduled = _timetables(tmp_path / "a", None)
    assert "NullTimetable" not in scheduled.values(), scheduled
    manual = _timetables(tmp_path / "b", "manual")
    assert set(manual) == set(scheduled)
    assert set(manual.values()) == {"NullTimetable"}, manual
