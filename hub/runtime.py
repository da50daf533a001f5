"""The embedded default, set up on one machine: folders, demo secrets, Airflow settings,
Connections, and the local services (Kingdee and WMS simulators, the supplier SFTP server).

Secrets for the local simulators are generated once per machine into ``var/secrets.json``
(mode 600) and handed to the simulators and to the hub through environment variables, the
same ``AIRFLOW_CONN_*`` variables a production deployment sets; none is in the code.
"""
from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

REPO_ROOT = Path(__file__).resolve().parent.parent
SUPPLIER_USERS = {"SUP-001": "sup001", "SUP-002": "sup002"}
DEMO_ACCT, DEMO_KINGDEE_USER = "demo-acct", "mes_api"
#: the demo plant's U9 login context (ids as the U9 simulator's demo seed knows them; not secrets)
DEMO_U9_USER, U9_CLIENT_ID, U9_ORG_CODE = "mes_api", "hub-demo", "101"
U9_CONTEXT = {"enterprise_id": "010", "org_id": "1001708020135665", "user_id": "1001708020000008"}


@dataclass(frozen=True)
class Ports:
    kingdee: int = 8601
    wms: int = 8603
    u9: int = 8611
    sftp: int = 2222

    @classmethod
    def from_env(cls) -> "Ports":
        base = os.environ.get("HUB_PORT_BASE")
        if base:  # e.g. 18600 -> 18601/18603/18622, so two checkouts can run side by side
            b = int(base)
            return cls(kingdee=b + 1, wms=b + 3, u9=b + 11, sftp=b + 22)
        return cls()


def var_dir() -> Path:
    return Path(os.environ.get("HUB_VAR_DIR", REPO_ROOT / "var")).resolve()


def _new_secrets() -> dict[str, str]:
    return {"kingdee_password": secrets.token_urlsafe(18), "wms_token": secrets.token_hex(16),
            "u9cloud_secret": secrets.token_urlsafe(18),
            **{f"sftp_{user}": secrets.token_urlsafe(18) for user in SUPPLIER_USERS.values()}}


def load_secrets(var: Path) -> dict[str, str]:
    """The simulators' credentials for this machine (``var/secrets.json``, mode 600), made once.

    A file from an older checkout keeps its values and gets only the keys it lacks."""
    path = var / "secrets.json"
    values = json.loads(path.read_text()) if path.exists() else {}
    missing = {k: v for k, v in _new_secrets().items() if k not in values}
    if not missing:
        return values
    values.update(missing)
    var.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(values, handle)
    os.replace(tmp, path)
    return values


def environment(var: Path, ports: Ports) -> dict[str, str]:
    """Everything the hub, Airflow and the simulators read, for the embedded default."""
    s = load_secrets(var)
    sftp_root = var / "sftp"
    env = {
        "HUB_VAR_DIR": str(var),
        "AIRFLOW_HOME": str(var / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        # simulators' accepted credentials
        "KINGDEE_SIM_USERS": f"{DEMO_ACCT}:{DEMO_KINGDEE_USER}:{s['kingdee_password']}",
        "WMS_SIM_TOKEN": s["wms_token"],
        "SFTP_SIM_USERS": ",".join(f"{u}:{s[f'sftp_{u}']}" for u in SUPPLIER_USERS.values()),
        # the hub's Connections (Airflow reads the same variables)
        "AIRFLOW_CONN_KINGDEE_DEFAULT": (f"kingdee://{DEMO_KINGDEE_USER}:{quote(s['kingdee_password'], safe='')}"
                                         f"@127.0.0.1:{ports.kingdee}/k3cloud?acct_id={DEMO_ACCT}&lcid=2052"),
        "AIRFLOW_CONN_WMS_DEFAULT": f"wms://:{s['wms_token']}@127.0.0.1:{ports.wms}/?dialect=greaterwms",
        # U9 (HUB_ERP=u9 or u9cloud): classic SOAP carries a context, no password (protocols/yonyou-u9.md);
        # U9 Cloud logs in with a client secret
        "U9_SIM_CONTEXTS": f"{U9_CONTEXT['enterprise_id']}:{U9_CONTEXT['org_id']}:{U9_CONTEXT['user_id']}",
        "U9_SIM_CLIENTS": f"{U9_CLIENT_ID}:{U9_CONTEXT['enterprise_id']}:{U9_ORG_CODE}:{DEMO_U9_USER}:{s['u9cloud_secret']}",
        "AIRFLOW_CONN_U9_DEFAULT": json.dumps({
            "conn_type": "u9", "host": "127.0.0.1", "port": ports.u9, "schema": "http", "login": DEMO_U9_USER,
            "extra": {**U9_CONTEXT, "path": "U9/Services", "receipt_warehouse": "CK01"}}),
        "AIRFLOW_CONN_U9CLOUD_DEFAULT": json.dumps({
            "conn_type": "u9cloud", "host": "127.0.0.1", "port": ports.u9, "schema": "http", "login": DEMO_U9_USER,
            "password": s["u9cloud_secret"],
            "extra": {"client_id": U9_CLIENT_ID, "ent_code": U9_CONTEXT["enterprise_id"], "org_code": U9_ORG_CODE,
                      "path": "U9C", "receipt_warehouse": "CK01"}}),
    }
    for partner, user in SUPPLIER_USERS.items():
        conn = f"AIRFLOW_CONN_SUPPLIER_SFTP_{user.upper()}"
        env[conn] = (f"sftp://{user}:{quote(s[f'sftp_{user}'], safe='')}@127.0.0.1:{ports.sftp}/"
                     f"?known_hosts={quote(str(sftp_root / 'known_hosts'), safe='')}")
    return env


def apply_environment(var: Path | None = None, ports: Ports | None = None) -> dict[str, str]:
    env = environment(var or var_dir(), ports or Ports.from_env())
    for key, value in env.items():
        os.environ.setdefault(key, value)
    return {key: os.environ[key] for key in env}


def wait_for_port(port: int, process: subprocess.Popen, name: str, timeout: float = 30) -> None:
    """Block until the service accepts connections; fail with its exit code if it died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with code {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{name} did not listen on 127.0.0.1:{port} within {timeout:.0f}s")


def service_names(ports: Ports) -> list[str]:
    """What :func:`services` starts, for people: the plant's ERP simulator, the WMS, the SFTP server."""
    from hub.erp import configured_system

    erp = configured_system()
    erp_port = ports.u9 if erp in ("u9", "u9cloud") else ports.kingdee
    return [f"{erp} :{erp_port}", f"wms :{ports.wms}", f"sftp :{ports.sftp}"]


@contextmanager
def services(var: Path, ports: Ports, log_dir: Path | None = None) -> Iterator[dict[str, subprocess.Popen]]:
    """Start the simulators and the SFTP server as child processes; stop them on exit."""
    log_dir = log_dir or var / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **environment(var, ports)}
    from hub.erp import configured_system

    # the plant's ERP (HUB_ERP): one simulator, the other ERP is not there, as in a real plant
    erp = ("kingdee-simulator", [sys.executable, "-m", "simulators.kingdee", "--port", str(ports.kingdee),
                                 "--seed", "demo"], ports.kingdee)
    if configured_system() in ("u9", "u9cloud"):
        erp = ("u9-simulator", [sys.executable, "-m", "simulators.u9", "--port", str(ports.u9), "--seed", "demo"],
               ports.u9)
    commands = {
        erp[0]: (erp[1], erp[2]),
        "wms-simulator": ([sys.executable, "-m", "simulators.wms", "--port", str(ports.wms), "--seed", "demo"],
                          ports.wms),
        "sftp-server": ([sys.executable, "-m", "simulators.sftp_server", "--root", str(var / "sftp"),
                         "--port", str(ports.sftp), "--users-from-env"], ports.sftp),
    }
    started: dict[str, subprocess.Popen] = {}
    with ExitStack() as stack:
        for name, (argv, port) in commands.items():
            log = stack.enter_context(open(log_dir / f"{name}.log", "ab"))
            process = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            started[name] = process
            stack.callback(_stop, process)
            wait_for_port(port, process, name)
        yield started


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
