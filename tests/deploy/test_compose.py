"""docker-compose.yml and the Dockerfile, checked without a Docker engine: the Compose
Specification schema, the wiring between services, the Airflow 3 roles, the commands each service
runs, the credentials the hub and the simulators share, the pinned SFTP host key, published ports,
secrets, and the image's base tag. `docker compose config -q` runs too where Compose is installed."""
from __future__ import annotations

import contextlib
import copy
import importlib
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
#: where the Dockerfile puts the repo (WORKDIR); a service's relative paths start there
IMAGE_REPO_DIR = "/opt/mes-hub"
#: Airflow 3's roles, by the command that starts each
AIRFLOW_COMPONENTS = {
    "api-server": ["airflow", "api-server"],
    "scheduler": ["airflow", "scheduler"],
    "dag-processor": ["airflow", "dag-processor"],
    "triggerer": ["airflow", "triggerer"],
    "celery worker": ["airflow", "celery", "worker"],
}
#: Airflow settings every component must share, or each draws its own and refuses the others'
SHARED_AIRFLOW_SETTINGS = ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__BROKER_URL",
                           "AIRFLOW__CELERY__RESULT_BACKEND", "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
                           "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY")
_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|FERNET|_KEYS?$", re.IGNORECASE)
_SECRET_EXTRA = re.compile(r"password|secret|token|key", re.IGNORECASE)


# --------------------------------------------------------------------------- helpers

def command(service: dict[str, Any]) -> list[str]:
    """The service's argv; [] for an image's own command (the databases)."""
    argv = service.get("command", [])
    assert isinstance(argv, list), "commands are written in exec form (a list), so no shell re-splits them"
    return argv


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def option(argv: list[str], flag: str) -> str | None:
    return argv[argv.index(flag) + 1] if flag in argv else None


def running(services: dict[str, Any], argv_prefix: list[str]) -> list[str]:
    return [name for name, svc in services.items() if command(svc)[:len(argv_prefix)] == argv_prefix]


def airflow_services(services: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in services.items() if command(svc)[:1] == ["airflow"]}


def published(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    """``(host address, host port, container port)`` of each short-syntax ``ports`` entry."""
    result = []
    for entry in service.get("ports", []):
        address, host_port, container_port = str(entry).rsplit(":", 2)
        result.append((address, int(host_port), int(container_port.split("/")[0])))
    return result


def listening_port(name: str, service: dict[str, Any]) -> int:
    """The port the service's process listens on (its ``--port``; the api-server's is Airflow's 8080)."""
    port = option(command(service), "--port")
    if port is not None:
        return int(port)
    assert command(service) == AIRFLOW_COMPONENTS["api-server"], f"{name}: no --port to tell where it listens"
    return 8080


def connections(service: dict[str, Any]) -> dict[str, Any]:
    from hub.connections import parse_connection

    return {key: parse_connection(value, key[len("AIRFLOW_CONN_"):].lower())
            for key, value in environment(service).items() if key.startswith("AIRFLOW_CONN_") and value}


def volume_targets(service: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """``{container path: (source, read_only)}`` of the short-syntax volumes."""
    targets = {}
    for entry in service.get("volumes", []):
        source, target, *mode = str(entry).split(":")
        targets[target] = (source, mode == ["ro"])
    return targets


# --------------------------------------------------------------------------- the schema

def test_the_file_is_valid_against_the_compose_specification(check_compose, compose):
    assert check_compose.schema_errors(compose) == []


def _unknown_top_level_key(doc):
    doc["servics"] = doc.pop("services")


def _ports_as_a_string(doc):
    doc["services"]["airflow-apiserver"]["ports"] = "127.0.0.1:8080:8080"


def _misspelt_condition(doc):
    doc["services"]["airflow-worker"]["depends_on"]["redis"]["condition"] = "service_ready"


def _replicas_as_a_list(doc):
    doc["services"]["airflow-worker"]["deploy"]["replicas"] = [2]


def _unknown_healthcheck_key(doc):
    doc["services"]["redis"]["healthcheck"]["intervall"] = "5s"


@pytest.mark.parametrize(("break_it", "where"), [
    (_unknown_top_level_key, "<top level>"),
    (_ports_as_a_string, "services.airflow-apiserver.ports"),
    (_misspelt_condition, "services.airflow-worker.depends_on"),
    (_replicas_as_a_list, "services.airflow-worker.deploy.replicas"),
    (_unknown_healthcheck_key, "services.redis.healthcheck"),
])
def test_a_broken_variant_is_rejected_where_it_is_broken(check_compose, compose, break_it, where):
    broken = copy.deepcopy(compose)
    break_it(broken)
    errors = check_compose.schema_errors(broken)
    assert errors and all(error.startswith(where) for error in errors), errors


# --------------------------------------------------------------------------- variables

def test_each_required_variable_stops_compose_when_missing(check_compose, raw_compose, dummy_env):
    assert len(dummy_env) >= 18  # Postgres, Airflow's keys and logins, every simulator's and ingress credential
    for name in dummy_env:
        env = {key: value for key, value in dummy_env.items() if key != name}
        with pytest.raises(check_compose.MissingVariable) as error:
            check_compose.interpolate_tree(raw_compose, env)
        assert error.value.name == name and "see .env.example" in str(error.value)


def test_every_variable_is_required_or_defaulted_so_a_typo_cannot_become_empty(check_compose, raw_compose):
    required = check_compose.required_variables(raw_compose)
    for where, ref in check_compose.references(raw_compose):
        # "?" and "-" without ":" would let an empty line in .env through
        assert ref.operator in (":?", ":-") or (ref.operator == "" and ref.name in required), (where, ref)


def test_every_required_variable_is_in_the_compose_section_of_env_example(check_compose, raw_compose, new_env):
    documented = new_env.compose_variables((REPO_ROOT / ".env.example").read_text(encoding="utf-8"))
    assert len(documented) == len(set(documented)), "a variable is listed twice"
    assert set(documented) == check_compose.required_variables(raw_compose)


# --------------------------------------------------------------------------- wiring

def test_depends_on_names_services_that_can_meet_the_condition(services):
    for name, service in services.items():
        for target, spec in (service.get("depends_on") or {}).items():
            assert target in services, f"{name} depends on {target}, which is not a service"
            condition = spec["condition"]
            if condition == "service_healthy":
                assert services[target].get("healthcheck", {}).get("test"), f"{target} has no healthcheck"
            elif condition == "service_completed_successfully":
                assert services[target].get("restart") == "no", f"{target} is not a one-shot service"
    # and no cycle: every service can start after the ones it waits for
    started: set[str] = set()
    while len(started) < len(services):
        ready = {n for n, s in services.items() if n not in started and set(s.get("depends_on") or {}) <= started}
        assert ready, f"depends_on cycle among {sorted(set(services) - started)}"
        started |= ready


def test_every_long_running_service_has_a_healthcheck_and_restarts(services):
    for name, service in services.items():
        if service.get("restart") == "no":
            continue
        assert service.get("healthcheck", {}).get("test"), name
        assert service.get("restart") == "unless-stopped", name


def test_everything_but_the_databases_runs_the_one_image_built_from_the_repo(services):
    built = {name for name, svc in services.items() if "build" in svc}
    assert set(services) - built == {"postgres", "redis"}
    assert {(svc["build"], svc["image"]) for name, svc in services.items() if name in built} == {(".", "mes-hub:local")}


def test_every_airflow_3_component_runs_once_with_the_celery_executor(services):
    for component, argv in AIRFLOW_COMPONENTS.items():
        assert len(running(services, argv)) == 1, component
    airflow = airflow_services(services)
    assert len(airflow) == len(AIRFLOW_COMPONENTS)
    for name in [*airflow, "airflow-init"]:
        env = environment(services[name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        for setting in SHARED_AIRFLOW_SETTINGS:
            assert env[setting] == environment(services["airflow-init"])[setting], (name, setting)


def test_airflow_reaches_its_database_broker_and_api_server_by_service_name(services, dummy_env):
    env = environment(services["airflow-init"])
    database = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert (database.hostname, database.path, database.password) == ("postgres", "/airflow",
                                                                     dummy_env["POSTGRES_PASSWORD"])
    assert urlsplit(env["AIRFLOW__CELERY__BROKER_URL"]).hostname == "redis"
    assert urlsplit(env["AIRFLOW__CELERY__RESULT_BACKEND"]).hostname == "postgres"
    execution_api = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    [api_server] = running(services, AIRFLOW_COMPONENTS["api-server"])
    assert (execution_api.hostname, execution_api.port, execution_api.path) == (api_server, 8080, "/execution/")
    # the keys come from .env, not from each component's random default
    assert env["AIRFLOW__CORE__FERNET_KEY"] == dummy_env["AIRFLOW_FERNET_KEY"]
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == dummy_env["AIRFLOW_JWT_SECRET"]
    assert env["AIRFLOW__API__SECRET_KEY"] == dummy_env["AIRFLOW_API_SECRET_KEY"]


def test_the_hub_store_is_its_own_database_on_the_same_postgres(services):
    urls = {environment(services[name])["HUB_DATABASE_URL"] for name in [*airflow_services(services), "ingress-api"]}
    assert len(urls) == 1
    store = urlsplit(urls.pop())
    assert (store.scheme, store.hostname, store.path) == ("postgresql+psycopg", "postgres", "/hub")
    init_sql = (REPO_ROOT / "docker" / "postgres-init.sql").read_text(encoding="utf-8")
    assert re.search(r"CREATE DATABASE hub\b", init_sql)
    assert volume_targets(services["postgres"])["/docker-entrypoint-initdb.d/hub.sql"] == (
        "./docker/postgres-init.sql", True)


def test_celery_workers_run_two_replicas(services):
    [worker] = running(services, AIRFLOW_COMPONENTS["celery worker"])
    assert services[worker]["deploy"]["replicas"] == 2


def test_airflow_init_migrates_airflow_then_the_hub_store_and_seeds_the_logins(services, init_stack):
    init = services["airflow-init"]
    assert command(init) == ["python", "docker/init_stack.py"]
    assert (REPO_ROOT / "docker" / "init_stack.py").is_file()
    source = (REPO_ROOT / "docker" / "init_stack.py").read_text(encoding="utf-8")
    assert source.index('["airflow", "db", "migrate"]') < source.index("migrate_store(url)")
    seeds = init_stack.seeded_passwords(environment(init))  # raises if a seeded user is not configured
    assert set(seeds) == {"admin", "hub"}
    # the api-server reads the seeded file: same path, same volume
    passwords = environment(init)[init_stack.PASSWORDS_FILE_SETTING]
    [api_server] = running(services, AIRFLOW_COMPONENTS["api-server"])
    assert environment(services[api_server])[init_stack.PASSWORDS_FILE_SETTING] == passwords
    folder = str(Path(passwords).parent)
    assert volume_targets(init)[folder][0] == volume_targets(services[api_server])[folder][0]


def test_the_ingress_api_triggers_airflow_as_the_seeded_hub_user(services, dummy_env):
    env = environment(services["ingress-api"])
    assert urlsplit(env["HUB_AIRFLOW_API_URL"]).hostname == running(services, AIRFLOW_COMPONENTS["api-server"])[0]
    login = json.loads(env["AIRFLOW_CONN_AIRFLOW_API_DEFAULT"])
    assert (login["login"], login["password"]) == ("hub", dummy_env["AIRFLOW_HUB_PASSWORD"])
    assert "hub:user" in environment(services["airflow-apiserver"])["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"]


# --------------------------------------------------------------------------- commands

def _help_text(module: str, args: list[str]) -> str:
    """What ``python -m module <args> --help`` prints, run in-process (no server starts)."""
    out = io.StringIO()
    if module == "hub.cli":
        from typer.testing import CliRunner

        from hub.cli import app

        result = CliRunner().invoke(app, [args[0], "--help"])
        assert result.exit_code == 0, result.output
        return result.output
    main = importlib.import_module(f"{module}.__main__").main
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    return out.getvalue()


def test_every_python_module_and_option_a_service_runs_exists(services):
    modules = {}
    for name, service in services.items():
        argv = command(service)
        if not argv:
            assert "build" not in service, f"{name}: our image needs a command (its default is Airflow's)"
        elif argv[:2] == ["python", "-m"]:
            modules[name] = argv[2]
            assert importlib.util.find_spec(argv[2]) is not None, f"{name}: no module {argv[2]}"
            help_text = _help_text(argv[2], argv[3:])
            for word in argv[3:]:
                if word.startswith("--"):
                    assert re.search(rf"{re.escape(word)}\b", help_text), f"{name}: {argv[2]} has no option {word}"
        elif argv[0] == "python":
            assert (REPO_ROOT / Path(argv[1])).is_file(), f"{name}: {argv[1]} is not in the repo ({IMAGE_REPO_DIR})"
        else:
            assert argv[0] == "airflow", f"{name}: the image's entrypoint runs {argv[0]!r} as an airflow subcommand"
    # what hub/runtime.py services() starts, the stack starts too (both ERP simulators: HUB_ERP picks one)
    assert sorted(modules.values()) == sorted(["simulators.kingdee", "simulators.u9", "simulators.wms",
                                               "simulators.opcenter", "simulators.jiandaoyun",
                                               "simulators.sftp_server", "hub.cli"])
    assert command(services["ingress-api"])[3] == "serve"


def test_every_airflow_command_and_healthcheck_exists_in_airflow(services):
    from airflow.cli.cli_config import core_commands
    from airflow.providers.celery.cli.definition import get_celery_cli_commands

    commands = {cmd.name: cmd for cmd in [*core_commands, *get_celery_cli_commands()]}
    argvs = [command(svc)[1:] for svc in airflow_services(services).values()]
    checks = [svc.get("healthcheck", {}).get("test", []) for svc in services.values()]
    argvs += [test[2:] for test in checks if test[:2] == ["CMD", "airflow"]]
    assert len(argvs) == len(AIRFLOW_COMPONENTS) + 2  # the dag-processor's and triggerer's job checks
    for argv in argvs:
        cmd = commands[argv[0]]
        if hasattr(cmd, "subcommands"):
            cmd = {sub.name: sub for sub in cmd.subcommands}[argv[1]]
        flags = {flag: arg for arg in cmd.args for flag in arg.flags}
        for n, word in enumerate(argv):
            if word.startswith("--"):
                assert word in flags, f"airflow {' '.join(argv)}: no {word}"
                choices = flags[word].kwargs.get("choices")
                assert not choices or argv[n + 1] in choices, (argv, choices)


# --------------------------------------------------------------------------- Connections and credentials

def _runtime_environment(tmp_path: Path) -> tuple[dict[str, str], set[str]]:
    """The embedded default's variables and its secret values (generated into tmp_path)."""
    from hub.runtime import Ports, environment as runtime_environment, load_secrets

    env = runtime_environment(tmp_path, Ports())
    return env, set(load_secrets(tmp_path).values())


def test_the_stack_carries_the_embedded_defaults_connections_with_service_names(services, dummy_env, tmp_path):
    runtime_env, runtime_secrets = _runtime_environment(tmp_path)
    stack = connections(services["airflow-worker"])
    ports = {name: listening_port(name, svc) for name, svc in services.items()
             if "--port" in command(svc) or command(svc) == AIRFLOW_COMPONENTS["api-server"]}
    for key in (k for k in runtime_env if k.startswith("AIRFLOW_CONN_")):
        assert key in stack, f"{key} is missing from the stack"
        ours = stack[key]
        theirs = connections({"environment": {key: runtime_env[key]}})[key]
        for field in ("conn_type", "login", "port", "schema"):
            assert getattr(ours, field) == getattr(theirs, field), (key, field)
        if theirs.host is None:
            assert ours.host is None, key
        else:
            assert ours.host in services and ports[ours.host] == ours.port, (
                f"{key}: nobody listens on {ours.host}:{ours.port}")
        assert set(ours.extra) == set(theirs.extra), key
        for field, value in [("password", theirs.password), *theirs.extra.items()]:
            our_value = ours.password if field == "password" else ours.extra[field]
            if value in runtime_secrets:  # a secret: from .env in the stack
                assert our_value in dummy_env.values(), (key, field)
            elif field != "known_hosts":  # the one path that differs (checked with the SFTP server)
                assert our_value == value, (key, field)


def test_every_service_holding_connections_holds_the_same(services):
    holders = [name for name, svc in services.items() if connections(svc)]
    assert set(holders) == {*airflow_services(services), "airflow-init", "ingress-api"}
    reference = {k: v for k, v in environment(services["airflow-worker"]).items() if k.startswith("AIRFLOW_CONN_")}
    for name in holders:
        env = environment(services[name])
        assert {k: env[k] for k in reference} == reference, name


def test_the_simulators_accept_the_credentials_the_connections_carry(services, tmp_path):
    """The embedded default's simulator settings, with its secrets swapped for the stack's: each
    simulator service must be given exactly that."""
    runtime_env, runtime_secrets = _runtime_environment(tmp_path)
    ours = connections(services["airflow-worker"])
    translation = {}
    for key, theirs in connections({"environment": {k: v for k, v in runtime_env.items()
                                                    if k.startswith("AIRFLOW_CONN_")}}).items():
        for field, value in [("password", theirs.password), *theirs.extra.items()]:
            if value in runtime_secrets:
                translation[value] = ours[key].password if field == "password" else ours[key].extra[field]
    assert set(translation) == runtime_secrets, "a secret of the embedded default has no counterpart in the stack"
    simulator_settings = {k: v for k, v in runtime_env.items() if "_SIM_" in k}
    assert len(simulator_settings) >= 8
    given = {k: (name, v) for name, svc in services.items() for k, v in environment(svc).items() if "_SIM_" in k}
    for key, value in simulator_settings.items():
        for theirs, stack_value in translation.items():
            value = value.replace(theirs, stack_value)
        assert key in given, f"no service gets {key}"
        assert given[key][1] == value, f"{given[key][0]}: {key} does not accept what the hub presents"


def test_the_jiandaoyun_simulator_pushes_to_the_ingress_api(services):
    push = urlsplit(option(command(services["jiandaoyun-simulator"]), "--push-url"))
    ingress_port = listening_port("ingress-api", services["ingress-api"])
    assert (push.hostname, push.port, push.path) == ("ingress-api", ingress_port, "/webhooks/jiandaoyun")


def test_the_sftp_host_key_is_pinned_for_the_name_and_port_clients_use(services, tmp_path):
    import paramiko

    from simulators.sftp_server.server import write_known_hosts

    sftp = services["sftp"]
    argv = command(sftp)
    known_hosts = option(argv, "--known-hosts")
    sftp_connections = {k: c for k, c in connections(services["airflow-worker"]).items() if c.conn_type == "sftp"}
    assert len(sftp_connections) == 2
    for key, conn in sftp_connections.items():
        # the server binds, and so pins, the name the Connection dials
        assert (conn.host, conn.port) == (option(argv, "--host"), int(option(argv, "--port"))), key
        assert conn.host == sftp["hostname"] == "sftp"
        assert conn.extra["known_hosts"] == known_hosts, key
    folder = str(Path(known_hosts).parent)
    assert volume_targets(sftp)[folder] == ("sftp-known-hosts", False)
    for name in ("airflow-worker", "airflow-triggerer"):  # tasks and deferred SFTP sensors
        assert volume_targets(services[name])[folder] == ("sftp-known-hosts", True), name
        assert services[name]["depends_on"]["sftp"]["condition"] == "service_healthy", name
    # the line the server writes is the one paramiko (the hook's client) finds for that host and port
    path = write_known_hosts(tmp_path / "known_hosts", "sftp", 2222, tmp_path / "host_key")
    assert paramiko.HostKeys(str(path)).lookup("[sftp]:2222") is not None
    assert paramiko.HostKeys(str(path)).lookup("[127.0.0.1]:2222") is None


# --------------------------------------------------------------------------- ports and secrets

def test_published_ports_do_not_collide_and_reach_the_listening_process(services):
    seen: dict[int, str] = {}
    for name, service in services.items():
        for address, host_port, container_port in published(service):
            assert address == "127.0.0.1", f"{name}: published beyond this machine by default"
            assert host_port not in seen, f"{name} and {seen.get(host_port)} both publish {host_port}"
            seen[host_port] = name
            assert container_port == listening_port(name, service), name
    assert set(seen.values()) == {"airflow-apiserver", "ingress-api", "sftp"}


def _secret_findings(compose: dict[str, Any], dummy_env: dict[str, str]) -> list[str]:
    """Secret-looking values that do not come from .env (the dummy values stand for .env here)."""
    from_env = set(dummy_env.values())
    findings = []
    for name, service in compose["services"].items():
        for key, value in environment(service).items():
            where = f"{name}.{key}"
            if _SECRET_NAME.search(key) and not key.endswith("_FILE") and value and value not in from_env:
                findings.append(where)
            for password in re.findall(r"://[^/:@\s]*:([^@\s]+)@", value):
                if password not in from_env:
                    findings.append(f"{where} (password in a URI)")
            if value.startswith("{"):
                parsed = json.loads(value)
                for field, item in [("password", parsed.get("password")), *parsed.get("extra", {}).items()]:
                    if _SECRET_EXTRA.search(field) and item and item not in from_env:
                        findings.append(f"{where} ({field})")
    return findings


def test_no_secret_is_written_in_the_compose_file(compose, dummy_env):
    assert _secret_findings(compose, dummy_env) == []
    # the check above sees a literal where a ${VAR} belongs
    doctored = copy.deepcopy(compose)
    worker = doctored["services"]["airflow-worker"]["environment"]
    worker["AIRFLOW__CORE__FERNET_KEY"] = "x" * 44
    worker["AIRFLOW_CONN_KINGDEE_DEFAULT"] = worker["AIRFLOW_CONN_KINGDEE_DEFAULT"].replace(
        dummy_env["KINGDEE_SIM_PASSWORD"], "hunter2")
    worker["AIRFLOW_CONN_OPCENTER_DEFAULT"] = worker["AIRFLOW_CONN_OPCENTER_DEFAULT"].replace(
        dummy_env["OPCENTER_INGRESS_TOKEN"], "tok3n")
    assert _secret_findings(doctored, dummy_env) == [
        "airflow-worker.AIRFLOW_CONN_KINGDEE_DEFAULT (password in a URI)",
        "airflow-worker.AIRFLOW_CONN_OPCENTER_DEFAULT (ingress_token)",
        "airflow-worker.AIRFLOW__CORE__FERNET_KEY"]


def test_no_high_entropy_literal_in_the_compose_file_or_the_dockerfile():
    """Long random-looking words that are not the demo's public ids (hub/runtime.py names them)."""
    from hub.runtime import JIANDAOYUN_APP_ID, JIANDAOYUN_FORMS, U9_CONTEXT

    public_ids = {JIANDAOYUN_APP_ID, *JIANDAOYUN_FORMS.values(), *U9_CONTEXT.values()}
    for path in (REPO_ROOT / "docker-compose.yml", REPO_ROOT / "Dockerfile"):
        text = re.sub(r"\$\{[^}]*\}", "", path.read_text(encoding="utf-8"))
        words = set(re.findall(r"[A-Za-z0-9]{16,}", text))
        suspicious = {w for w in words - public_ids if re.search(r"\d", w) and re.search(r"[A-Za-z]", w)}
        assert suspicious == set(), path.name
    dockerfile = (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert not re.search(r"^\s*(ENV|ARG)\b.*(PASSWORD|SECRET|TOKEN|FERNET)", dockerfile, re.MULTILINE | re.IGNORECASE)


def test_the_image_leaves_secrets_and_local_state_out():
    ignored = {line.strip() for line in (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()}
    assert {".env", ".env.*", ".git", ".venv", "var"} <= ignored
    assert "!.env.example" in ignored


# --------------------------------------------------------------------------- the Dockerfile

def _dockerfile() -> str:
    return (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")


def test_the_image_builds_on_the_airflow_version_in_the_lock():
    lock = tomllib.loads((REPO_ROOT / "uv.lock").read_text(encoding="utf-8"))
    [airflow] = [p["version"] for p in lock["package"] if p["name"] == "apache-airflow"]
    requires = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["requires-python"]
    python = re.search(r">=\s*(3\.\d+)", requires).group(1)
    [base] = re.findall(r"^FROM\s+(\S+)", _dockerfile(), re.MULTILINE)
    assert base == f"apache/airflow:{airflow}-python{python}"


def test_the_image_installs_the_lock_frozen_with_hashes():
    dockerfile = _dockerfile()
    assert re.search(r"uv export --frozen --no-dev --no-emit-project(?! --no-hashes)", dockerfile)
    assert "--require-hashes" in dockerfile
    assert re.search(r"^WORKDIR\s+" + re.escape(IMAGE_REPO_DIR) + r"\s*$", dockerfile, re.MULTILINE)


def test_the_image_creates_the_mount_points_of_the_named_volumes(services):
    made = set(re.search(r"mkdir -p ([^&\\]+)", _dockerfile()).group(1).split())
    for name, service in services.items():
        if "build" not in service:
            continue
        for target, (source, _) in volume_targets(service).items():
            # /opt/airflow/logs is the official image's own (AIRFLOW_HOME/logs, owned by airflow)
            assert target in made or target == "/opt/airflow/logs", f"{name}: {target} ({source})"


# --------------------------------------------------------------------------- Docker Compose itself

def _compose_available() -> tuple[bool, str]:
    if not shutil.which("docker"):
        return False, "no docker client on PATH"
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        first_line = ((probe.stderr or probe.stdout).strip().splitlines() or ["no output"])[0]
        return False, f"`docker compose version` failed: {first_line[:200]}"
    return True, ""


def test_docker_compose_config_accepts_the_file(dummy_env, tmp_path):
    available, reason = _compose_available()
    if not available:
        pytest.skip(f"Docker Compose is not installed here ({reason})")
    empty_env_file = tmp_path / "empty.env"
    empty_env_file.write_text("", encoding="utf-8")
    result = subprocess.run(
        ["docker", "compose", "--env-file", str(empty_env_file), "-f", str(REPO_ROOT / "docker-compose.yml"),
         "config", "-q"],
        capture_output=True, text=True, timeout=60, env={**os.environ, **dummy_env})
    assert result.returncode == 0, result.stderr
