"""The scale-out path without containers: the demo story through Airflow's scheduler and two Celery
workers, metadata and hub store on the machine's PostgreSQL, Redis as broker (hub/cluster.py).

It must print the stage table the embedded run prints (the one in README.md), run every task
through Celery, and leave no process behind."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from hub.runtime import free_port_base
from tests.e2e.test_demo_story import REPO, table

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

PG = "postgresql+psycopg://postgres@127.0.0.1:5432"
REDIS_DB = 11  # a database of its own on the machine's Redis, emptied before and after


def readme_table() -> dict[str, tuple[int, str]]:
    """The embedded run's stage table as README.md documents it (the embedded e2e test checks it)."""
    text = (REPO / "README.md").read_text()
    block = text[text.index("\nstage  ") + 1:]
    return table(block[:block.index("```")])


def psql(*statements: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


def redis_flush() -> None:
    """Empty the test's Redis database; like PostgreSQL, a missing Redis fails in CI and skips elsewhere."""
    import redis

    try:
        redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB, socket_connect_timeout=3).flushdb()
    except redis.ConnectionError:
        if os.environ.get("CI"):
            pytest.fail("Redis not reachable at 127.0.0.1:6379 (CI must run the Celery path)")
        pytest.skip("Redis not reachable")


def processes_of(var: Path) -> list[str]:
    """Every live process started for this run: they all carry its HUB_VAR_DIR."""
    marker = f"HUB_VAR_DIR={var}".encode()
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if marker in environ.split(b"\0"):
            found.append(f"{pid}: {cmdline[:160]}")
    return found


@pytest.fixture
def databases(postgres_url):
    suffix = uuid.uuid4().hex[:8]
    names = {"airflow": f"hub_ci_airflow_{suffix}", "store": f"hub_ci_store_{suffix}"}
    redis_flush()
    yield names
    redis_flush()
    psql(*(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in names.values()))


def test_demo_story_on_celery_workers_prints_the_embedded_table_and_cleans_up(tmp_path: Path, databases):
    var = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "HUB_"))}
    env.update(HUB_VAR_DIR=str(var), HUB_PORT_BASE=str(free_port_base()),
               HUB_CELERY_AIRFLOW_DB=f"{PG}/{databases['airflow']}", HUB_CELERY_STORE_DB=f"{PG}/{databases['store']}",
               HUB_CELERY_BROKER=f"redis://127.0.0.1:6379/{REDIS_DB}", HUB_CELERY_WORKERS="2")
    demo = subprocess.Popen([str(Path(sys.executable).with_name("hub")), "demo", "--executor", "celery"], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        stdout, stderr = demo.communicate(timeout=1500)
    except subprocess.TimeoutExpired:
        os.killpg(demo.pid, signal.SIGKILL)
        stdout, stderr = demo.communicate()
        pytest.fail(f"the Celery demo did not finish in 25 min; last output:\n{stderr[-3000:]}")
    assert demo.returncode == 0, stderr[-3000:]
    assert table(stdout) == readme_table()
    # every DAG run went through the scheduler and a Celery worker, not an in-process runner
    runs = re.findall(r"DAG (\w+): success \([\d.]+s, CeleryExecutor\)", stderr)
    assert {"erp_sync", "supplier_inbound", "wms_expected_receipts", "wms_receipts_to_erp"} <= set(runs)
    assert "2 worker(s)" in stderr

    from sqlalchemy import create_engine, text

    engine = create_engine(f"{PG}/{databases['airflow']}")
    with engine.connect() as conn:
        ran = conn.execute(text("SELECT count(*), count(external_executor_id) FROM task_instance "
                                "WHERE state IN ('success', 'failed') AND try_number > 0")).one()
    engine.dispose()
    # a Celery task id on every task that ran: the workers ran them all
    assert ran[0] > 30 and ran[1] == ran[0], ran
    logs = var / "logs"
    for worker in ("airflow-worker-1.log", "airflow-worker-2.log"):
        assert "ready." in (logs / worker).read_text(errors="replace"), worker
    # both workers took tasks (some run twice: a deferred sensor resumes as a second workload)
    received = [(logs / w).read_text(errors="replace").count("] received")
                for w in ("airflow-worker-1.log", "airflow-worker-2.log")]
    assert min(received) > 0 and sum(received) >= ran[0], received
    assert processes_of(var) == []
    from hub.logs import find_secrets_in_logs

    # the simulators' and Connections' secrets stay out of every component's log (var/secrets.json)
    assert find_secrets_in_logs(var) == []
