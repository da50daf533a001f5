"""`make up`: the plant's .env read safely before the simulator defaults; then the whole embedded
stack (Airflow standalone + simulators) started, checked through Airflow's REST API and `hub doctor`,
and stopped by SIGTERM without leaving a process behind."""
from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from hub import runtime
from hub.errors import FatalError

REPO = Path(__file__).resolve().parents[2]
SECRET = "s3cr3t-Value-9f2c"


# ------------------------------------------------------------------------------ the parser
def test_comments_quotes_export_and_empty_values():
    text = "\n".join([
        "# the plant's Connections",
        "",
        "export HUB_ERP=u9",
        "AIRFLOW_CONN_KINGDEE_DEFAULT = 'kingdee://u:p#1@erp:443/k3cloud'  # single quotes: literal",
        'AIRFLOW_CONN_U9_DEFAULT="{\\"conn_type\\": \\"u9\\", \\"extra\\": {\\"note\\": \\"a\\\\\\\\b\\"}}"',
        "AIRFLOW_CONN_WMS_DEFAULT=wms://:tok@wms:80/?dialect=greaterwms # a comment after a space",
        "AIRFLOW_CONN_SMTP_DEFAULT=",          # .env.example's empty lines: left out
        "AIRFLOW_CONN_OPCENTER_DEFAULT=''",
        "AIRFLOW_CONN_JIANDAOYUN_DEFAULT=http://h/#fragment",  # '#' inside a bare value is kept
        "HUB_DATABASE_URL=postgresql+psycopg://hub@db:5432/hub\r",  # a CRLF file
    ])
    assert runtime.parse_env_file(text) == {
        "HUB_ERP": "u9",
        "AIRFLOW_CONN_KINGDEE_DEFAULT": "kingdee://u:p#1@erp:443/k3cloud",
        "AIRFLOW_CONN_U9_DEFAULT": '{"conn_type": "u9", "extra": {"note": "a\\\\b"}}',
        "AIRFLOW_CONN_WMS_DEFAULT": "wms://:tok@wms:80/?dialect=greaterwms",
        "AIRFLOW_CONN_JIANDAOYUN_DEFAULT": "http://h/#fragment",
        "HUB_DATABASE_URL": "postgresql+psycopg://hub@db:5432/hub",
    }
    assert json.loads(runtime.parse_env_file('AIRFLOW_CONN_X="{\\"a\\": 1}"')["AIRFLOW_CONN_X"]) == {"a": 1}


def test_only_connections_and_hub_settings_are_taken():
    # the file is docker compose's too (its own keys stay with compose); what changes how programs
    # run is never taken from it
    text = "PATH=/tmp/evil\nLD_PRELOAD=/tmp/evil.so\nAIRFLOW__CORE__EXECUTOR=SequentialExecutor\n" \
           "PYTHONPATH=/tmp\nPOSTGRES_PASSWORD=x\nHUB_ERP=u9\n"
    assert runtime.parse_env_file(text) == {"HUB_ERP": "u9"}


def test_the_example_file_parses_and_sets_nothing_until_filled_in():
    assert runtime.parse_env_file((REPO / ".env.example").read_text(encoding="utf-8"), ".env.example") == {}


def test_values_are_not_expanded():
    # a hostile or careless ${...} stays text: nothing else of the environment leaks into a Connection
    assert runtime.parse_env_file("HUB_X=${HOME}/$(id)\nHUB_Y='`id`'") == {"HUB_X": "${HOME}/$(id)", "HUB_Y": "`id`"}


@pytest.mark.parametrize("text, line, words", [
    ("HUB_ERP=kingdee\nnot a setting\n", 2, "not a KEY=VALUE line"),
    ("1HUB=x\n", 1, "not a KEY=VALUE line"),
    ("HUB ERP=x\n", 1, "not a KEY=VALUE line"),
    ("POSTGRES_PASSWORD=a\n\nPOSTGRES_PASSWORD=b\n", 3, "POSTGRES_PASSWORD is set twice (first on line 1)"),
    (f"KINGDEE_SIM_PASSWORD='{SECRET}\n", 1, "KINGDEE_SIM_PASSWORD: the value's ' quote is not closed"),
    ("HUB_ERP=u9\nexport HUB_ERP=kingdee\n", 2, "HUB_ERP is set twice (first on line 1)"),
    (f"AIRFLOW_CONN_X='{SECRET}\n", 1, "AIRFLOW_CONN_X: the value's ' quote is not closed"),
    (f'AIRFLOW_CONN_X="{SECRET}" and more\n', 1, "AIRFLOW_CONN_X: text after the closing quote"),
    (f'AIRFLOW_CONN_X="{SECRET}\\q"\n', 1, "AIRFLOW_CONN_X: unknown escape \\q"),
    (f"\n\nAIRFLOW_CONN_X={SECRET}\x00\n", 3, "a NUL byte"),
])
def test_broken_hostile_and_duplicated_lines_name_file_line_and_key_never_the_value(text, line, words):
    with pytest.raises(FatalError) as bad:
        runtime.parse_env_file(text, "plant.env")
    assert bad.value.code == "ENV_FILE_INVALID"
    assert bad.value.where == f"plant.env:{line}", bad.value.as_line()
    assert words in bad.value.message
    assert SECRET not in bad.value.as_line()


def test_the_file_fills_only_what_the_shell_left_open(tmp_path, monkeypatch):
    # the loader and apply_environment write os.environ: give them a copy the test throws away
    monkeypatch.setattr(os, "environ", dict(os.environ))
    path = tmp_path / ".env"
    path.write_text(f"AIRFLOW_CONN_KINGDEE_DEFAULT=kingdee://real:{SECRET}@erp/k3cloud\nHUB_ERP=u9\n"
                    "AIRFLOW_CONN_WMS_DEFAULT=\n", encoding="utf-8")
    monkeypatch.setenv("HUB_ERP", "kingdee")  # exported in the shell: wins
    monkeypatch.delenv("AIRFLOW_CONN_KINGDEE_DEFAULT", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_WMS_DEFAULT", raising=False)
    applied = runtime.load_env_file(path)
    assert applied == {"AIRFLOW_CONN_KINGDEE_DEFAULT": f"kingdee://real:{SECRET}@erp/k3cloud", "HUB_ERP": "kingdee"}
    assert os.environ["AIRFLOW_CONN_KINGDEE_DEFAULT"].startswith("kingdee://real:")
    assert "AIRFLOW_CONN_WMS_DEFAULT" not in os.environ
    # then the simulator defaults fill the rest, and leave the plant's ERP login alone
    runtime.apply_environment(tmp_path / "var", runtime.Ports())
    assert os.environ["AIRFLOW_CONN_KINGDEE_DEFAULT"] == f"kingdee://real:{SECRET}@erp/k3cloud"
    assert os.environ["AIRFLOW_CONN_WMS_DEFAULT"].startswith("wms://:")


def test_a_missing_file_is_nothing_unless_named_and_a_binary_one_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("HUB_ENV_FILE", raising=False)
    assert runtime.load_env_file(tmp_path / "absent.env") == {}
    monkeypatch.setenv("HUB_ENV_FILE", str(tmp_path / "absent.env"))
    with pytest.raises(FatalError, match="does not exist"):
        runtime.load_env_file()
    binary = tmp_path / "binary.env"
    binary.write_bytes(b"HUB_A=1\nHUB_B=\xff\xfe\n")
    with pytest.raises(FatalError) as bad:
        runtime.load_env_file(binary)
    assert bad.value.where == f"{binary}:2" and "UTF-8" in bad.value.message


def test_hub_up_refuses_a_broken_env_file_before_starting_anything(tmp_path):
    env_file = tmp_path / "plant.env"
    env_file.write_text(f"AIRFLOW_CONN_WMS_DEFAULT={SECRET}\nAIRFLOW_CONN_WMS_DEFAULT=again\n", encoding="utf-8")
    env = {**_clean_env(), "HUB_ENV_FILE": str(env_file), "HUB_VAR_DIR": str(tmp_path / "var")}
    out = subprocess.run([str(REPO / ".venv" / "bin" / "hub"), "up"], env=env, cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 2
    assert f"{env_file}:2: ENV_FILE_INVALID AIRFLOW_CONN_WMS_DEFAULT is set twice" in out.stderr
    assert SECRET not in out.stdout + out.stderr
    assert not (tmp_path / "var").exists()  # nothing started, nothing written


# ------------------------------------------------------------------------------ the whole stack
def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "HUB_"))}


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait(what: str, check, deadline: float, process: subprocess.Popen, log: Path):
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"hub up exited {process.returncode} while waiting for {what}:\n"
                                 + log.read_text(errors="replace")[-3000:])
        try:
            result = check()
        except (requests.RequestException, OSError, ValueError):
            result = None
        if result:
            return result
        time.sleep(2)
    raise AssertionError(f"{what} not there in time; hub up's output:\n" + log.read_text(errors="replace")[-3000:])


def _gone(pids: dict[int, float]) -> list[str]:
    """The recorded processes still running (a zombie has ended: only its parent's wait is missing)."""
    import psutil

    alive = []
    for pid, created in pids.items():
        try:
            proc = psutil.Process(pid)
            if proc.create_time() == created and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{pid} {' '.join(proc.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            continue
    return alive


@pytest.mark.slow
def test_hub_up_serves_every_dag_passes_doctor_and_sigterm_stops_everything(tmp_path, monkeypatch):
    import psutil

    from hub.api.trigger import request_token

    base, api_port = _find_ports()
    var = tmp_path / "var"
    env_file = tmp_path / "plant.env"
    # the plant's file: manual schedules (observable through the API, and no scheduled runs while we look)
    env_file.write_text("# plant settings\nexport HUB_DAG_SCHEDULES=manual\nAIRFLOW_CONN_SMTP_DEFAULT=\n",
                        encoding="utf-8")
    env = {**_clean_env(), "HUB_VAR_DIR": str(var), "HUB_PORT_BASE": str(base), "AIRFLOW__API__PORT": str(api_port),
           "HUB_ENV_FILE": str(env_file)}
    log = tmp_path / "hub-up.log"
    with open(log, "wb") as out:
        up = subprocess.Popen([str(REPO / ".venv" / "bin" / "hub"), "up"], env=env, cwd=REPO, stdout=out,
                              stderr=subprocess.STDOUT, start_new_session=True)
    started: dict[int, float] = {}
    try:
        api = f"http://127.0.0.1:{api_port}"
        deadline = time.monotonic() + 420
        _wait("the api-server", lambda: requests.get(f"{api}/api/v2/monitor/health", timeout=5).ok, deadline, up, log)
        passwords = var / "airflow" / "simple_auth_manager_passwords.json.generated"
        password = _wait("the admin password", lambda: json.loads(passwords.read_text()).get("admin"), deadline, up,
                         log)
        headers = {"Authorization": f"Bearer {request_token(api, 'admin', password, timeout=10)}"}
        expected = {p.stem for p in (REPO / "dags").glob("*.py")}

        def listed():
            dags = requests.get(f"{api}/api/v2/dags", params={"limit": 100}, headers=headers, timeout=10).json()["dags"]
            return {d["dag_id"]: d for d in dags} if {d["dag_id"] for d in dags} >= expected else None

        dags = _wait("every DAG in the API", listed, deadline, up, log)
        assert set(dags) == expected
        for dag_id, dag in dags.items():
            assert dag["tags"] and all(t["name"] for t in dag["tags"]), dag_id
            assert dag["timetable_summary"] in (None, "None"), (dag_id, dag["timetable_summary"])  # the .env's manual
            details = requests.get(f"{api}/api/v2/dags/{dag_id}/details", headers=headers, timeout=10).json()
            assert details["doc_md"] and len(details["doc_md"].split()) > 20, dag_id
            assert details["owners"] == ["integration"], dag_id
        # the scheduler holds the run deadlines (the UI API lists them; dag.test() never sees them)
        alerts = requests.get(f"{api}/ui/dags/erp_push/deadlineAlerts", headers=headers, timeout=10).json()
        assert [(a["reference_type"], a["interval"]) for a in alerts["deadline_alerts"]] == \
            [("DagRunQueuedAtDeadline", 900.0)]

        monkeypatch.setenv("HUB_PORT_BASE", str(base))
        doctor_env = {**_clean_env(), **runtime.environment(var, runtime.Ports.from_env())}
        out = subprocess.run([str(REPO / ".venv" / "bin" / "hub"), "doctor", "--json", "--timeout", "10"],
                             env=doctor_env, cwd=REPO, capture_output=True, text=True, timeout=300)
        rows = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
        assert out.returncode == 0, out.stdout + out.stderr
        checked = {r["system"] for r in rows if r["result"] == "ok"}
        assert {"kingdee", "opcenter", "jiandaoyun", "wms", "sftp SUP-001", "sftp SUP-002"} <= checked, rows
        # ok everywhere; only the ERPs this plant does not run are skipped, unlooked-at
        assert [r for r in rows if r["result"] != "ok" and not (r["result"] == "skip" and r["system"] in
                                                                  ("u9", "u9cloud"))] == []

        started = {p.pid: p.create_time() for p in psutil.Process(up.pid).children(recursive=True)}
        assert len(started) >= 7  # six services and Airflow standalone, at least
    finally:
        if up.poll() is None:
            started = started or {p.pid: p.create_time() for p in psutil.Process(up.pid).children(recursive=True)}
            os.kill(up.pid, signal.SIGTERM)
        try:
            code = up.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
            raise
    assert code == 0
    stop_deadline = time.monotonic() + 60
    while _gone(started) and time.monotonic() < stop_deadline:
        time.sleep(1)
    assert _gone(started) == []
    # the .env's names are printed, its values never
    assert f"from {env_file}: HUB_DAG_SCHEDULES\n" in log.read_text(errors="replace")


def _find_ports() -> tuple[int, int]:
    base = runtime.free_port_base()
    while True:
        api_port = random.randrange(20000, 32000)
        if _free(api_port) and not base <= api_port <= base + 100:
            return base, api_port
