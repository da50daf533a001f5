"""The embedded default, set up on one machine: folders, demo secrets, Airflow settings,
Connections, and the local services (Kingdee and WMS simulators, the supplier SFTP server).

Secrets for the local simulators are generated once per machine into ``var/secrets.json``
(mode 600) and handed to the simulators and to the hub through environment variables, the
same ``AIRFLOW_CONN_*`` variables a production deployment sets; none is in the code.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping
from urllib.parse import quote

REPO_ROOT = Path(__file__).resolve().parent.parent
SUPPLIER_USERS = {"SUP-001": "sup001", "SUP-002": "sup002"}
DEMO_ACCT, DEMO_KINGDEE_USER = "demo-acct", "mes_api"
#: the demo plant's U9 login context (ids as the U9 simulator's demo seed knows them; not secrets)
DEMO_U9_USER, U9_CLIENT_ID, U9_ORG_CODE = "mes_api", "hub-demo", "101"
U9_CONTEXT = {"enterprise_id": "010", "org_id": "1001708020135665", "user_id": "1001708020000008"}
OPCENTER_CLIENT = "mes-hub"
#: the Jiandaoyun demo app and its forms (ids as the simulator's demo seed creates them; not secrets)
JIANDAOYUN_APP_ID = "64b7c1e2a1b2c3d4e5f60718"
JIANDAOYUN_FORMS = {"inspection_form": "64b7c2f0a1b2c3d4e5f60720", "purchase_task_form": "64b7c2f0a1b2c3d4e5f60721",
                    "plan_change_form": "64b7c2f0a1b2c3d4e5f60722", "asn_form": "64b7c2f0a1b2c3d4e5f60723",
                    "production_order_form": "64b7c2f0a1b2c3d4e5f60724",
                    "delivery_schedule_form": "64b7c2f0a1b2c3d4e5f60725"}


@dataclass(frozen=True)
class Ports:
    kingdee: int = 8601
    wms: int = 8603
    jiandaoyun: int = 8604
    opcenter: int = 8605
    u9: int = 8611
    sftp: int = 2222
    ingress: int = 8700
    airflow_api: int = 8680

    @classmethod
    def at(cls, base: int) -> "Ports":
        """Every port at its offset from ``base``: 18600 -> 18601/18603/18622..., so two checkouts
        (or a test beside a running demo) can run side by side."""
        return cls(kingdee=base + 1, wms=base + 3, jiandaoyun=base + 4, opcenter=base + 5, u9=base + 11,
                   sftp=base + 22, ingress=base + 100, airflow_api=base + 80)

    @classmethod
    def from_env(cls) -> "Ports":
        base = os.environ.get("HUB_PORT_BASE")
        return cls.at(int(base)) if base else cls()


def free_port_base(tries: int = 50) -> int:
    """A ``HUB_PORT_BASE`` whose every port (:meth:`Ports.at`) is free now: for tests and benches."""
    import random

    for _ in range(tries):
        # below the ephemeral range (32768+), so no client socket of another process takes one meanwhile
        base = random.randrange(20000, 32000, 200)
        try:
            for port in dataclasses.astuple(Ports.at(base)):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free port range found")


def var_dir() -> Path:
    return Path(os.environ.get("HUB_VAR_DIR", REPO_ROOT / "var")).resolve()


def _new_secrets() -> dict[str, str]:
    return {"kingdee_password": secrets.token_urlsafe(18), "wms_token": secrets.token_hex(16),
            "u9cloud_secret": secrets.token_urlsafe(18), "opcenter_secret": secrets.token_urlsafe(18),
            "jiandaoyun_api_key": secrets.token_urlsafe(18), "jiandaoyun_webhook_secret": secrets.token_urlsafe(18),
            "wms_ingress_token": secrets.token_urlsafe(18), "opcenter_ingress_token": secrets.token_urlsafe(18),
            **{f"sftp_{user}": secrets.token_urlsafe(18) for user in SUPPLIER_USERS.values()},
            **{f"supplier_api_{user}": secrets.token_urlsafe(18) for user in SUPPLIER_USERS.values()}}


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
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),  # the report view (plugins/hub_report_plugin.py)
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        # each task is a Python process of its own that spends seconds of CPU importing: more at once
        # than the machine has cores for only makes each slower (bench/e2e_latency.py: 16 parallel
        # process_file tasks took 53-62 s each on 2 cores, one alone 3 s); Airflow's default is 32
        "AIRFLOW__CORE__PARALLELISM": str(max(4, 2 * (os.cpu_count() or 2))),
        # the planner answers plan approvals (human-in-the-loop) as a user with the op role;
        # passwords are generated by Airflow into AIRFLOW_HOME/simple_auth_manager_passwords.json.generated
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,planner:op",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        # simulators' accepted credentials
        "KINGDEE_SIM_USERS": f"{DEMO_ACCT}:{DEMO_KINGDEE_USER}:{s['kingdee_password']}",
        "WMS_SIM_TOKEN": s["wms_token"],
        "SFTP_SIM_USERS": ",".join(f"{u}:{s[f'sftp_{u}']}" for u in SUPPLIER_USERS.values()),
        # the hub's Connections (Airflow reads the same variables)
        "AIRFLOW_CONN_KINGDEE_DEFAULT": (f"kingdee://{DEMO_KINGDEE_USER}:{quote(s['kingdee_password'], safe='')}"
                                         f"@127.0.0.1:{ports.kingdee}/k3cloud?acct_id={DEMO_ACCT}&lcid=2052"),
        "AIRFLOW_CONN_WMS_DEFAULT": (f"wms://:{s['wms_token']}@127.0.0.1:{ports.wms}/?dialect=greaterwms"
                                     f"&ingress_token={quote(s['wms_ingress_token'], safe='')}"),
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
    env.update({
        # the MES: Opcenter (OAuth2 client credentials) and the Jiandaoyun forms (API key, signed webhooks)
        "OPCENTER_SIM_CLIENTS": f"{OPCENTER_CLIENT}:{s['opcenter_secret']}",
        "AIRFLOW_CONN_OPCENTER_DEFAULT": json.dumps({
            "conn_type": "http", "host": "127.0.0.1", "port": ports.opcenter, "schema": "http",
            "login": OPCENTER_CLIENT, "password": s["opcenter_secret"],
            "extra": {"plant_id": "PLANT01", "timezone": "Asia/Shanghai",
                      "ingress_token": s["opcenter_ingress_token"]}}),
        "JIANDAOYUN_SIM_API_KEYS": s["jiandaoyun_api_key"],
        "JIANDAOYUN_SIM_WEBHOOK_SECRET": s["jiandaoyun_webhook_secret"],
        "AIRFLOW_CONN_JIANDAOYUN_DEFAULT": json.dumps({
            "conn_type": "http", "host": "127.0.0.1", "port": ports.jiandaoyun, "schema": "http",
            "password": s["jiandaoyun_api_key"],
            "extra": {"app_id": JIANDAOYUN_APP_ID, "webhook_secret": s["jiandaoyun_webhook_secret"],
                      **JIANDAOYUN_FORMS}}),
        "HUB_INGRESS_URL": f"http://127.0.0.1:{ports.ingress}",
    })
    for partner, user in SUPPLIER_USERS.items():
        # the token a supplier posts ASNs to the ingress API with (POST /suppliers/<id>/asns)
        env[f"AIRFLOW_CONN_SUPPLIER_API_{user.upper()}"] = json.dumps({
            "conn_type": "http", "login": partner, "password": s[f"supplier_api_{user}"]})
        conn = f"AIRFLOW_CONN_SUPPLIER_SFTP_{user.upper()}"
        env[conn] = (f"sftp://{user}:{quote(s[f'sftp_{user}'], safe='')}@127.0.0.1:{ports.sftp}/"
                     f"?known_hosts={quote(str(sftp_root / 'known_hosts'), safe='')}")
    return env


def apply_environment(var: Path | None = None, ports: Ports | None = None) -> dict[str, str]:
    env = environment(var or var_dir(), ports or Ports.from_env())
    for key, value in env.items():
        os.environ.setdefault(key, value)
    return {key: os.environ[key] for key in env}


# ----------------------------------------------------------------------------- .env
#: where `make up` finds the plant's real Connections; HUB_ENV_FILE points elsewhere
ENV_FILE_SETTING = "HUB_ENV_FILE"
#: what `make up` takes from a .env: Connections and the hub's own settings, nothing that changes how
#: programs run (PATH, LD_PRELOAD, AIRFLOW__...). The same file carries docker compose's settings
#: (.env.example): those lines are checked like the others, then left to compose.
ENV_FILE_PREFIXES = ("AIRFLOW_CONN_", "HUB_")
ENV_FILE_CODE = "ENV_FILE_INVALID"
_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_DOUBLE_QUOTED_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "$": "$"}


def env_file_path() -> Path:
    return Path(os.environ.get(ENV_FILE_SETTING) or REPO_ROOT / ".env")


def _env_value(raw: str, key: str, where: str) -> str:
    r"""The value after ``=``: bare (a `` #`` starts a comment), 'single' (literal) or "double" (\\ \" \n \t
    \$ escapes); anything after a closing quote but a comment is an error. Never echoed in errors."""
    from hub.errors import FatalError

    if not raw or raw[0] not in "'\"":
        return re.split(r"\s+#", raw, maxsplit=1)[0].rstrip()
    quote_char, out, i = raw[0], [], 1
    while i < len(raw):
        char = raw[i]
        if char == quote_char:
            rest = raw[i + 1:].strip()
            if rest and not rest.startswith("#"):
                raise FatalError(ENV_FILE_CODE, f"{key}: text after the closing quote (only a # comment may "
                                                f"follow)", where)
            return "".join(out)
        if char == "\\" and quote_char == '"' and i + 1 < len(raw):
            escaped = _DOUBLE_QUOTED_ESCAPES.get(raw[i + 1])
            if escaped is None:
                raise FatalError(ENV_FILE_CODE, f"{key}: unknown escape \\{raw[i + 1]} in a double-quoted value",
                                 where)
            out.append(escaped)
            i += 2
            continue
        out.append(char)
        i += 1
    raise FatalError(ENV_FILE_CODE, f"{key}: the value's {quote_char} quote is not closed on this line "
                                    f"(values are one line)", where)


def parse_env_file(text: str, display: str = ".env") -> dict[str, str]:
    """The ``AIRFLOW_CONN_*`` and ``HUB_*`` lines of a .env as a dict, empty values left out
    (``.env.example`` lists every Connection with none); other keys are skipped. Comments, blank lines
    and an ``export`` prefix are allowed; a line that is none of these, a key set twice, an unclosed
    quote or a NUL is ``FatalError ENV_FILE_INVALID`` at ``display:line``, naming the key but never a
    value.

    Written here rather than taken from python-dotenv: its loader warns and goes on past a
    malformed line, lets a repeated key win silently and expands ``${VAR}`` inside values."""
    from hub.errors import FatalError

    values: dict[str, str] = {}
    first_line: dict[str, int] = {}
    # "\n" only: str.splitlines would also break at form feeds and other separators an editor shows inline
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        where = f"{display}:{number}"
        if "\x00" in line:
            raise FatalError(ENV_FILE_CODE, "a NUL byte", where)
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _ENV_LINE.match(line)
        if match is None:
            raise FatalError(ENV_FILE_CODE, "not a KEY=VALUE line (KEY: letters, digits and _, not starting "
                                            "with a digit)", where)
        key, raw = match.groups()
        if key in first_line:
            raise FatalError(ENV_FILE_CODE, f"{key} is set twice (first on line {first_line[key]})", where)
        first_line[key] = number
        value = _env_value(raw, key, where)
        if value and key.startswith(ENV_FILE_PREFIXES):
            values[key] = value
    return values


def load_env_file(path: Path | None = None) -> dict[str, str]:
    """The .env's values put into ``os.environ`` where the environment does not set them already (a
    variable exported in the shell wins); what was applied, to hand on to the services. No file: ``{}``."""
    from hub.errors import FatalError

    path = path or env_file_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if os.environ.get(ENV_FILE_SETTING):  # named on purpose: its absence is a mistake
            raise FatalError(ENV_FILE_CODE, "the file HUB_ENV_FILE names does not exist", str(path)) from None
        return {}
    except OSError as exc:
        raise FatalError(ENV_FILE_CODE, f"unreadable ({type(exc).__name__})", str(path)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise FatalError(ENV_FILE_CODE, "not UTF-8", f"{path}:{line}") from None
    applied = {}
    for key, value in parse_env_file(text, str(path)).items():
        os.environ.setdefault(key, value)
        applied[key] = os.environ[key]
    return applied


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
    return [f"{erp} :{erp_port}", f"wms :{ports.wms}", f"opcenter :{ports.opcenter}",
            f"jiandaoyun :{ports.jiandaoyun}", f"sftp :{ports.sftp}", f"ingress API :{ports.ingress}"]


@contextmanager
def services(var: Path, ports: Ports, log_dir: Path | None = None,
             overrides: Mapping[str, str] | None = None) -> Iterator[dict[str, subprocess.Popen]]:
    """Start the simulators and the SFTP server as child processes; stop them on exit.

    ``overrides`` (a .env's values, :func:`load_env_file`) win over the simulator settings, so the
    ingress API talks to the plant's real systems as the DAGs do."""
    log_dir = log_dir or var / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **environment(var, ports), **(overrides or {})}
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
        "opcenter-simulator": ([sys.executable, "-m", "simulators.opcenter", "--port", str(ports.opcenter),
                                "--seed", "demo"], ports.opcenter),
        "jiandaoyun-simulator": ([sys.executable, "-m", "simulators.jiandaoyun", "--port", str(ports.jiandaoyun),
                                  "--seed", "demo", "--push-url",
                                  f"http://127.0.0.1:{ports.ingress}/webhooks/jiandaoyun"], ports.jiandaoyun),
        "ingress-api": ([str(Path(sys.executable).with_name("hub")), "serve", "--port", str(ports.ingress)],
                        ports.ingress),
        "sftp-server": ([sys.executable, "-m", "simulators.sftp_server", "--root", str(var / "sftp"),
                         "--port", str(ports.sftp), "--users-from-env"], ports.sftp),
    }
    started: dict[str, subprocess.Popen] = {}
    with ExitStack() as stack:
        for name, (argv, port) in commands.items():
            log = stack.enter_context(open(log_dir / f"{name}.log", "ab"))
            process = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            started[name] = process
            stack.callback(stop_process, process)
            wait_for_port(port, process, name)
        yield started


def stop_process_group(process: subprocess.Popen) -> None:
    """Stop a process started with ``start_new_session=True`` and every child it forked."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except ProcessLookupError:
            pass


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
