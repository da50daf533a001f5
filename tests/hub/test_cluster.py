"""hub/cluster.py without a cluster: settings, the shared environment, database creation, and the
REST runner against a small stand-in of Airflow's REST API (the real path: tests/e2e/test_celery_story.py)."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import pytest
from typer.testing import CliRunner

from hub import cluster, runtime
from hub.cli import app
from hub.demo import DemoFailed
from hub.errors import FatalError


def test_settings_default_to_the_machine_services_and_read_the_environment(monkeypatch):
    for name in ("HUB_CELERY_AIRFLOW_DB", "HUB_CELERY_STORE_DB", "HUB_CELERY_BROKER", "HUB_CELERY_WORKERS"):
        monkeypatch.delenv(name, raising=False)
    assert cluster.CelerySettings.from_env() == cluster.CelerySettings()
    monkeypatch.setenv("HUB_CELERY_WORKERS", "3")
    monkeypatch.setenv("HUB_CELERY_BROKER", "redis://127.0.0.1:6379/5")
    settings = cluster.CelerySettings.from_env()
    assert settings.workers == 3 and settings.broker == "redis://127.0.0.1:6379/5"


@pytest.mark.parametrize("workers", ["0", "two", "-1", ""])
def test_a_bad_worker_count_is_a_clear_error(monkeypatch, workers):
    monkeypatch.setenv("HUB_CELERY_WORKERS", workers)
    with pytest.raises(FatalError) as error:
        cluster.CelerySettings.from_env()
    assert error.value.code == "CELERY_SETTING" and "HUB_CELERY_WORKERS" in error.value.as_line()


def test_every_component_gets_the_same_databases_broker_and_signing_secret(monkeypatch):
    monkeypatch.delenv("AIRFLOW__API_AUTH__JWT_SECRET", raising=False)
    settings = cluster.CelerySettings(airflow_db="postgresql+psycopg://u@h:5432/af", store_db="postgresql+psycopg://u@h/st",
                                      broker="redis://h:6379/2")
    env = cluster.environment(settings, runtime.Ports.at(20000))
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"] == settings.airflow_db
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+" + settings.airflow_db
    assert env["AIRFLOW__CELERY__BROKER_URL"] == settings.broker and env["HUB_DATABASE_URL"] == settings.store_db
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:20080/execution/"
    # made per cluster start when none is set, long enough for HS512
    assert len(env["AIRFLOW__API_AUTH__JWT_SECRET"]) >= 40
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] != cluster.environment(settings, runtime.Ports.at(20000))[
        "AIRFLOW__API_AUTH__JWT_SECRET"]
    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "set-by-the-operator-" + "x" * 40)
    assert cluster.environment(settings, runtime.Ports.at(20000))["AIRFLOW__API_AUTH__JWT_SECRET"].startswith("set-by")


def test_workers_skip_serving_logs_and_have_their_own_names():
    commands = cluster.component_commands(2)
    assert set(commands) == {"airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                             "airflow-worker-1", "airflow-worker-2"}
    assert "--skip-serve-logs" in commands["airflow-worker-1"] and "--skip-serve-logs" in commands["airflow-triggerer"]
    assert "worker1@%h" in commands["airflow-worker-1"] and "worker2@%h" in commands["airflow-worker-2"]


@pytest.mark.postgres
def test_ensure_database_creates_once_and_leaves_an_existing_one(postgres_url):
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"hub_test_ensure_{uuid.uuid4().hex[:8]}"
    url = str(make_url(postgres_url).set(database=name).render_as_string(hide_password=False))
    try:
        cluster.ensure_database(url)
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE kept (x int)"))
        engine.dispose()
        cluster.ensure_database(url)  # exists: nothing happens, its tables stay
        engine = create_engine(url)
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM kept")) == 0
        engine.dispose()
    finally:
        admin = create_engine(make_url(postgres_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_ensure_database_ignores_sqlite(tmp_path):
    cluster.ensure_database(f"sqlite:///{tmp_path / 'hub.db'}")  # nothing to create, no server asked


def test_an_unknown_executor_stops_before_anything_starts(tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path / "var"))
    result = CliRunner().invoke(app, ["demo", "--executor", "kubernetes"])
    assert result.exit_code == 1
    assert "unknown executor 'kubernetes': one of embedded, celery" in result.stderr
    assert not (tmp_path / "var").exists()


# ------------------------------------------------------------------ the REST runner


class FakeAirflow:
    """Airflow 3's REST API as RestDagRunner uses it: token, DAG details, trigger, run state, failed tasks."""

    def __init__(self) -> None:
        self.parsed_after = 2  # GET /dags/{id} answers 404 this many times first (the dag-processor is slow)
        self.states = ["queued", "running", "success"]
        self.trigger_status = 200
        self.expire_token_once = False
        self.logins = 0
        self.calls: list[tuple[str, str]] = []
        runner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self) -> bool:
                if self.headers.get("Authorization") != f"Bearer token-{runner.logins}":
                    self._send(401, {"detail": "Not authenticated"})
                    return False
                if runner.expire_token_once:
                    runner.expire_token_once = False
                    self._send(401, {"detail": "Token expired"})
                    return False
                return True

            def do_POST(self):
                path = urlparse(self.path).path
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                runner.calls.append(("POST", path))
                if path == "/auth/token":
                    if body.get("password") != "pw":
                        return self._send(401, {"detail": "Invalid credentials"})
                    runner.logins += 1
                    return self._send(201, {"access_token": f"token-{runner.logins}"})
                if not self._authorised():
                    return
                if path.endswith("/dagRuns"):
                    if runner.trigger_status != 200:
                        return self._send(runner.trigger_status, {"detail": "DAG is paused"})
                    return self._send(200, {"dag_run_id": "manual__1", "state": "queued"})
                self._send(404, {})

            def do_GET(self):
                parsed = urlparse(self.path)
                runner.calls.append(("GET", parsed.path))
                if not self._authorised():
                    return
                parts = parsed.path.split("/")
                if parsed.path.endswith("/taskInstances"):
                    return self._send(200, {"task_instances": [{"task_id": "process_file", "map_index": 3}]})
                if len(parts) == 5:  # /api/v2/dags/{id}
                    if runner.parsed_after > 0:
                        runner.parsed_after -= 1
                        return self._send(404, {"detail": "not found"})
                    return self._send(200, {"dag_id": parts[4]})
                if "dagRuns" in parts:
                    state = runner.states.pop(0) if len(runner.states) > 1 else runner.states[0]
                    return self._send(200, {"state": state})
                self._send(404, {})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def airflow():
    fake = FakeAirflow()
    yield fake
    fake.close()


@pytest.fixture
def alive():
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield {"airflow-scheduler": process}
    process.kill()
    process.wait()


def runner_for(airflow: FakeAirflow, processes: dict, password: str = "pw", echo=print) -> cluster.RestDagRunner:
    return cluster.RestDagRunner(airflow.url, "admin", password, echo, processes, parse_timeout=20, run_timeout=20)


def test_a_run_is_triggered_once_parsed_and_followed_to_success(airflow, alive):
    lines: list[str] = []
    runner_for(airflow, alive, echo=lines.append).run("supplier_inbound")
    assert len(lines) == 1 and lines[0].startswith("  DAG supplier_inbound: success (")
    assert airflow.calls.count(("POST", "/api/v2/dags/supplier_inbound/dagRuns")) == 1
    assert airflow.parsed_after == 0  # it waited for the DAG to be serialised


def test_a_failed_run_names_its_failed_tasks(airflow, alive):
    airflow.states = ["running", "failed"]
    runner = runner_for(airflow, alive)
    with pytest.raises(DemoFailed, match=r"supplier_inbound run manual__1 ended failed; failed tasks: process_file\[3\]"):
        runner.run("supplier_inbound")


def test_a_refused_trigger_is_a_fatal_error_with_the_status(airflow, alive):
    airflow.trigger_status = 409
    with pytest.raises(FatalError) as error:
        runner_for(airflow, alive).start("erp_sync")
    assert error.value.code == "DAG_TRIGGER_REFUSED" and "HTTP 409" in error.value.as_line()


def test_wrong_credentials_are_a_login_error_without_the_password(airflow, alive):
    with pytest.raises(FatalError) as error:
        runner_for(airflow, alive, password="wrong-Pass-123").start("erp_sync")
    assert error.value.code == "AIRFLOW_LOGIN_FAILED" and "wrong-Pass-123" not in error.value.as_line()


def test_an_expired_token_is_renewed_once(airflow, alive):
    airflow.parsed_after = 0
    airflow.expire_token_once = True
    runner_for(airflow, alive).run("erp_sync")
    assert airflow.logins == 2


def test_a_dead_component_stops_the_wait_at_once(airflow):
    dead = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    dead.wait()
    airflow.states = ["running"]
    with pytest.raises(FatalError) as error:
        runner_for(airflow, {"airflow-worker-1": dead}).run("erp_sync")
    assert error.value.code == "CLUSTER_PROCESS_EXITED" and "airflow-worker-1 exited with code 3" in error.value.as_line()


def test_a_run_that_never_finishes_times_out_with_its_state(airflow, alive):
    airflow.parsed_after = 0
    airflow.states = ["running"]
    runner = cluster.RestDagRunner(airflow.url, "admin", "pw", print, alive, run_timeout=1)
    runner.start("wms_sync")
    assert runner.result(timeout=0.2) is None  # still running: the caller polls again
    with pytest.raises(FatalError, match="still running after 1s"):
        runner.result()
