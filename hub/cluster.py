"""The scale-out path without containers: Airflow with the CeleryExecutor on PostgreSQL and Redis.

The same processes ``docker-compose.yml`` runs as services, started here as child processes on
one machine: api-server (also the Task Execution API the workers talk to), scheduler,
dag-processor, triggerer and N Celery workers. Airflow's metadata and the hub store live in two
PostgreSQL databases; Redis is the broker. ``hub demo --executor celery`` runs the demo story
through them, and ``bench/e2e_latency.py`` measures file-to-WMS latency on them.

Settings (defaults: the machine's local services, databases created when missing):

* ``HUB_CELERY_AIRFLOW_DB`` - Airflow metadata, e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/hub_airflow``
* ``HUB_CELERY_STORE_DB`` - the hub store (``HUB_DATABASE_URL`` for every process)
* ``HUB_CELERY_BROKER`` - e.g. ``redis://127.0.0.1:6379/0``
* ``HUB_CELERY_WORKERS`` - worker processes (default 2), each ``--concurrency 2``
"""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional
from urllib.parse import quote

import requests

from hub import runtime
from hub.errors import FatalError

LOCAL_PG = "postgresql+psycopg://postgres@127.0.0.1:5432"


@dataclass(frozen=True)
class CelerySettings:
    airflow_db: str = f"{LOCAL_PG}/hub_airflow"
    store_db: str = f"{LOCAL_PG}/hub_store"
    broker: str = "redis://127.0.0.1:6379/0"
    workers: int = 2

    @classmethod
    def from_env(cls) -> "CelerySettings":
        defaults = cls()
        workers = os.environ.get("HUB_CELERY_WORKERS", str(defaults.workers))
        if not workers.isdigit() or int(workers) < 1:
            raise FatalError("CELERY_SETTING", f"HUB_CELERY_WORKERS must be a positive number, got {workers!r}",
                             "HUB_CELERY_WORKERS")
        return cls(airflow_db=os.environ.get("HUB_CELERY_AIRFLOW_DB", defaults.airflow_db),
                   store_db=os.environ.get("HUB_CELERY_STORE_DB", defaults.store_db),
                   broker=os.environ.get("HUB_CELERY_BROKER", defaults.broker), workers=int(workers))


def environment(settings: CelerySettings, ports: runtime.Ports) -> dict[str, str]:
    """What every Airflow process of the cluster (and the hub's own processes) must agree on."""
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": settings.airflow_db,
        # Airflow derives an asyncpg URL for its async engine; psycopg 3 speaks async itself
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": settings.airflow_db,
        "AIRFLOW__CELERY__BROKER_URL": settings.broker,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + settings.airflow_db,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{ports.airflow_api}/execution/",
        # the scheduler signs the workers' task tokens, the api-server checks them: one secret for all,
        # made per cluster start and held only in the processes' environment
        "AIRFLOW__API_AUTH__JWT_SECRET": os.environ.get("AIRFLOW__API_AUTH__JWT_SECRET") or secrets.token_urlsafe(32),
        "HUB_DATABASE_URL": settings.store_db,
    }


def use(settings: CelerySettings, ports: runtime.Ports) -> None:
    """Point this process (and every process it starts) at the cluster: both databases exist,
    :func:`environment` is set."""
    for url in (settings.airflow_db, settings.store_db):
        ensure_database(url)
    os.environ.update(environment(settings, ports))


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database of ``url`` when it does not exist (the server's maintenance
    database ``postgres`` is where CREATE DATABASE runs)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    if not target.drivername.startswith("postgresql"):
        return
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database})
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    finally:
        admin.dispose()


def component_commands(workers: int) -> dict[str, list[str]]:
    """Airflow 3's components as processes; workers and triggerer skip serving logs: they share
    ``AIRFLOW_HOME/logs`` with the api-server on one machine (and would fight over one port)."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    commands = {"airflow-scheduler": [airflow, "scheduler"],
                "airflow-dag-processor": [airflow, "dag-processor"],
                "airflow-triggerer": [airflow, "triggerer", "--skip-serve-logs"]}
    for n in range(1, workers + 1):
        commands[f"airflow-worker-{n}"] = [airflow, "celery", "worker", "--concurrency", "2", "--skip-serve-logs",
                                           "--celery-hostname", f"worker{n}@%h", "--without-gossip",
                                           "--without-mingle"]
    return commands


@contextmanager
def components(logs: Path, workers: int) -> Iterator[dict[str, subprocess.Popen]]:
    """Start scheduler, dag-processor, triggerer and the workers; stop each process group on exit.
    The api-server is started by the caller (the demo starts it for every executor)."""
    started: dict[str, subprocess.Popen] = {}
    with ExitStack() as stack:
        for name, argv in component_commands(workers).items():
            log = stack.enter_context(open(logs / f"{name}.log", "ab"))
            process = subprocess.Popen(argv, cwd=runtime.REPO_ROOT, env=os.environ.copy(), stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
            started[name] = process
            stack.callback(runtime.stop_process_group, process)
        yield started


class RestDagRunner:
    """Runs DAGs the way an operator's trigger does: ``POST /api/v2/dags/{id}/dagRuns``, then the
    scheduler and the Celery workers do the work. Same interface as ``hub.demo.DagRunner``."""

    FINISHED = ("success", "failed")

    def __init__(self, base_url: str, username: str, password: str, echo, processes: dict[str, subprocess.Popen],
                 parse_timeout: float = 300, run_timeout: float = 900) -> None:
        self.base_url, self.echo, self.processes = base_url.rstrip("/"), echo, processes
        self._username, self._password = username, password
        self.parse_timeout, self.run_timeout = parse_timeout, run_timeout
        self._token: Optional[str] = None
        self._current: Optional[tuple[str, str, float]] = None

    def __enter__(self) -> "RestDagRunner":
        return self

    def __exit__(self, *exc) -> None:
        return None

    def _call(self, method: str, path: str, **kwargs) -> requests.Response:
        from hub.api.trigger import request_token

        for _ in range(2):
            if self._token is None:
                self._token = request_token(self.base_url, self._username, self._password, 10)
            response = requests.request(method, f"{self.base_url}{path}", timeout=30,
                                        headers={"Authorization": f"Bearer {self._token}"}, **kwargs)
            if response.status_code != 401:
                return response
            self._token = None
        return response

    def _check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise FatalError("CLUSTER_PROCESS_EXITED", f"{name} exited with code {process.returncode}", name)

    def wait_until_parsed(self, dag_id: str) -> None:
        deadline = time.monotonic() + self.parse_timeout
        while time.monotonic() < deadline:
            self._check_alive()
            if self._call("GET", f"/api/v2/dags/{quote(dag_id, safe='')}").status_code == 200:
                return
            time.sleep(1)
        raise FatalError("DAG_NOT_PARSED", f"the dag-processor did not serialise {dag_id} within "
                                           f"{self.parse_timeout:.0f}s", dag_id)

    def set_paused(self, dag_id: str, paused: bool) -> None:
        answer = self._call("PATCH", f"/api/v2/dags/{quote(dag_id, safe='')}", json={"is_paused": paused})
        if answer.status_code != 200:
            raise FatalError("DAG_PAUSE_REFUSED", f"Airflow refused to {'pause' if paused else 'unpause'} {dag_id}: "
                                                  f"HTTP {answer.status_code}", dag_id)

    def count_runs(self, dag_id: str) -> int:
        answer = self._call("GET", f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns", params={"limit": 1})
        return int(answer.json()["total_entries"]) if answer.status_code == 200 else -1

    def start(self, dag_id: str) -> None:
        self.wait_until_parsed(dag_id)
        answer = self._call("POST", f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns", json={"logical_date": None})
        if answer.status_code != 200:
            raise FatalError("DAG_TRIGGER_REFUSED", f"Airflow refused a run of {dag_id}: HTTP {answer.status_code} "
                                                    f"{answer.text[:300]}", dag_id)
        self._current = (dag_id, answer.json()["dag_run_id"], time.monotonic())

    def result(self, timeout: Optional[float] = None) -> Optional[dict]:
        """The started run once it finished; None when ``timeout`` passed first. A run that did not
        succeed raises ``DemoFailed`` naming its failed tasks, as ``hub.demo.DagRunner`` does."""
        if self._current is None:
            raise FatalError("NO_RUN_STARTED", "result() without a started run", "RestDagRunner")
        dag_id, run_id, started = self._current
        deadline = time.monotonic() + (timeout if timeout is not None else self.run_timeout)
        path = f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}"
        while True:
            self._check_alive()
            state = self._call("GET", path).json().get("state")
            if state in self.FINISHED:
                break
            if time.monotonic() >= deadline:
                if timeout is not None:
                    return None
                raise FatalError("DAG_RUN_TIMEOUT", f"{dag_id} run {run_id} still {state} after "
                                                    f"{self.run_timeout:.0f}s", dag_id)
            time.sleep(0.5)
        self._current = None
        outcome = {"dag_id": dag_id, "run_id": run_id, "state": state,
                   "seconds": time.monotonic() - started, "error": None}
        if state != "success":
            from hub.demo import DemoFailed

            failed = self._call("GET", f"{path}/taskInstances", params={"state": "failed"}).json()
            tasks = ", ".join(f"{t['task_id']}[{t['map_index']}]" for t in failed.get("task_instances", []))
            raise DemoFailed(f"DAG {dag_id} run {run_id} ended {state}; failed tasks: {tasks or '-'} "
                             f"(task logs under AIRFLOW_HOME/logs/dag_id={dag_id}/run_id={run_id})")
        return outcome

    def run(self, *dag_ids: str) -> None:
        for dag_id in dag_ids:
            self.start(dag_id)
            outcome = self.result()
            self.echo(f"  DAG {dag_id}: success ({outcome['seconds']:.1f}s, CeleryExecutor)")
