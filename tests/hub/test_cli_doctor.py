"""`hub doctor` against the real simulators on 127.0.0.1: one row per check, secrets never printed."""
from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path
from urllib.parse import quote

import pytest
import typer
from typer.testing import CliRunner

from adapters.http_errors import scrub
from hub.cli_doctor import HEADERS, _secret_values, doctor
from hub.connections import parse_connection
from hub.partners import PARTNER_DIR
from simulators.base import running
from simulators.jiandaoyun import DEMO_APP_ID, DEMO_FORMS, JiandaoyunState
from simulators.jiandaoyun import make_server as jiandaoyun_server
from simulators.kingdee import KingdeeState
from simulators.kingdee import make_server as kingdee_server
from simulators.opcenter import OpcenterState
from simulators.opcenter import make_server as opcenter_server
from simulators.sftp_server.server import SftpServer
from simulators.u9 import make_server as u9_server
from simulators.u9.state import U9State
from simulators.wms import WmsState, seed_demo
from simulators.wms import make_server as wms_server

# distinctive secrets, so finding one anywhere in the output is meaningful
KINGDEE_PASSWORD = "kd-Doc-7f3a91:@/x"
OPCENTER_SECRET = "opc-Doc-52c8e4"
JDY_KEY = "jdy-Doc-Key-19b7d0"
JDY_WEBHOOK = "jdy-Doc-Hook-8e2f61"
WMS_TOKEN = "wms-Doc-Token-4a6c2e"
SFTP_PASSWORDS = {"sup001": "sftp-Doc-One-3d9b", "sup002": "sftp-Doc-Two-6e1f"}
U9C_SECRET = "u9c-Doc-Secret-0c4d2a"
U9_CONTEXT = ("010", "1001708020135665", "1001708020000008")
ALL_SECRETS = (KINGDEE_PASSWORD, quote(KINGDEE_PASSWORD, safe=""), OPCENTER_SECRET, JDY_KEY, JDY_WEBHOOK, WMS_TOKEN,
               U9C_SECRET, *SFTP_PASSWORDS.values())

app = typer.Typer()
app.command("doctor")(doctor)


@app.callback()
def _root() -> None:
    """Makes ``doctor`` a subcommand, as it is under ``hub``."""


runner = CliRunner()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def kingdee_uri(port: int, password: str = KINGDEE_PASSWORD) -> str:
    return f"kingdee://mes_api:{quote(password, safe='')}@127.0.0.1:{port}/k3cloud?acct_id=acct-doc&lcid=2052"


def opcenter_json(port: int, secret: str = OPCENTER_SECRET) -> str:
    return json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": port, "schema": "http",
                       "login": "hub-doc", "password": secret, "extra": {"timezone": "Asia/Shanghai"}})


def jiandaoyun_json(port: int, key: str = JDY_KEY) -> str:
    return json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": port, "schema": "http", "password": key,
                       "extra": {"app_id": DEMO_APP_ID, "webhook_secret": JDY_WEBHOOK,
                                 **{f"{purpose}_form": form for purpose, form in DEMO_FORMS.items()}}})


def wms_uri(port: int, token: str = WMS_TOKEN) -> str:
    return f"wms://:{token}@127.0.0.1:{port}/?dialect=greaterwms"


@pytest.fixture(scope="module")
def simulators(tmp_path_factory):
    """Every simulator the doctor talks to, once per module: the checks only read, and stopping
    a server waits out its poll interval."""
    folder = tmp_path_factory.mktemp("doctor")
    kingdee = kingdee_server(state=KingdeeState(users=f"acct-doc:mes_api:{KINGDEE_PASSWORD}", apps=""), seed="demo")
    opcenter = opcenter_server(state=OpcenterState(clients=f"hub-doc:{OPCENTER_SECRET}", users=""), seed="demo")
    jiandaoyun = jiandaoyun_server(state=JiandaoyunState(api_keys=JDY_KEY, webhook_secret=JDY_WEBHOOK), seed="demo")
    wms = wms_server()
    wms.state = seed_demo(WmsState(tokens=[WMS_TOKEN]))
    sftp = SftpServer(folder / "sftp", SFTP_PASSWORDS, host_key_path=folder / "host_key")
    sftp_port = sftp.start()
    try:
        with running(kingdee), running(opcenter), running(jiandaoyun), running(wms):
            yield {"kingdee": kingdee.server_address[1], "opcenter": opcenter.server_address[1],
                   "jiandaoyun": jiandaoyun.server_address[1], "wms": wms.server_address[1], "sftp": sftp_port,
                   "known_hosts": sftp.write_known_hosts(folder / "known_hosts")}
    finally:
        sftp.stop()


def sftp_uri(user: str, password: str, port: int, known_hosts: Path) -> str:
    return (f"sftp://{user}:{quote(password, safe='')}@127.0.0.1:{port}/"
            f"?known_hosts={quote(str(known_hosts), safe='')}")


@pytest.fixture
def plant(simulators, tmp_path: Path, monkeypatch):
    """The Connections pointing at the simulators (the demo's shapes), and a private partner folder."""
    partners = tmp_path / "partners"
    shutil.copytree(PARTNER_DIR, partners)
    monkeypatch.setenv("HUB_PARTNER_DIR", str(partners))
    # no embedded default on this "machine": only the Connections set here count
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HUB_ERP", "kingdee")
    monkeypatch.setenv("AIRFLOW_CONN_KINGDEE_DEFAULT", kingdee_uri(simulators["kingdee"]))
    monkeypatch.setenv("AIRFLOW_CONN_OPCENTER_DEFAULT", opcenter_json(simulators["opcenter"]))
    monkeypatch.setenv("AIRFLOW_CONN_JIANDAOYUN_DEFAULT", jiandaoyun_json(simulators["jiandaoyun"]))
    monkeypatch.setenv("AIRFLOW_CONN_WMS_DEFAULT", wms_uri(simulators["wms"]))
    for user, password in SFTP_PASSWORDS.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_SUPPLIER_SFTP_{user.upper()}",
                           sftp_uri(user, password, simulators["sftp"], simulators["known_hosts"]))
    return simulators


def run(*args: str):
    return runner.invoke(app, ["doctor", "--timeout", "3", *args])


def rows_of(result) -> dict[tuple[str, str], dict[str, str]]:
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    by_key = {(r["connection"], r["check"]): r for r in rows}
    assert len(by_key) == len(rows), "every (connection, check) is reported once"
    return by_key


def assert_no_secret(output: str) -> None:
    for secret in ALL_SECRETS:
        assert secret not in output


GREEN = {
    ("kingdee_default", "login"), ("kingdee_default", "read"),
    ("opcenter_default", "token + read"), ("jiandaoyun_default", "api call"), ("wms_default", "read"),
    *{(f"supplier_sftp_{u}", check) for u in SFTP_PASSWORDS
      for check in ("login", "inbox folder", "outbox folder", "archive folder")},
}
SKIPPED = {("u9_default", "connection"), ("u9cloud_default", "connection")}


def test_every_connection_green_against_the_simulators(plant):
    result = run("--json")
    assert result.exit_code == 0, result.output
    rows = rows_of(result)
    assert set(rows) == GREEN | SKIPPED
    assert {k for k, r in rows.items() if r["result"] == "ok"} == GREEN
    assert {k for k, r in rows.items() if r["result"] == "skip"} == SKIPPED
    assert rows[("u9_default", "connection")]["detail"] == "not the plant's ERP (HUB_ERP=kingdee)"
    assert rows[("kingdee_default", "login")]["detail"] == "user mes_api on data centre acct-doc"
    assert rows[("supplier_sftp_sup002", "login")]["system"] == "sftp SUP-002"
    assert_no_secret(result.output)


def test_table_has_the_contract_columns_and_no_secret(plant):
    result = run()
    assert result.exit_code == 0, result.output
    header, rule, *lines = result.stdout.splitlines()
    assert header.split() == list(HEADERS)
    assert set(rule) <= {"-", " "}
    assert len(lines) == len(GREEN | SKIPPED)
    kingdee_login = next(line for line in lines if line.split()[:2] == ["kingdee_default", "kingdee"]).split()
    assert kingdee_login[2:4] == ["login", "ok"]
    assert_no_secret(result.output)


def test_wrong_erp_password_fails_login_skips_the_read_and_leaks_nothing(plant, monkeypatch):
    wrong = "Wr0ng-kd-Pass-6b1e"
    monkeypatch.setenv("AIRFLOW_CONN_KINGDEE_DEFAULT", kingdee_uri(plant["kingdee"], wrong))
    result = run("--json")
    assert result.exit_code == 1
    rows = rows_of(result)
    login = rows[("kingdee_default", "login")]
    assert login["result"] == "FAIL" and "KINGDEE_LOGIN" in login["detail"], login
    assert rows[("kingdee_default", "read")] == {"connection": "kingdee_default", "system": "kingdee",
                                                 "check": "read", "result": "skip",
                                                 "detail": "not tried: login failed"}
    # the other systems are unaffected
    assert rows[("wms_default", "read")]["result"] == "ok"
    assert wrong not in result.output and quote(wrong, safe="") not in result.output
    assert_no_secret(result.output)


def test_wrong_partner_sftp_password_fails_that_partner_only(plant, monkeypatch):
    wrong = "Wr0ng-sftp-Pass-2c7d"
    monkeypatch.setenv("AIRFLOW_CONN_SUPPLIER_SFTP_SUP002",
                       sftp_uri("sup002", wrong, plant["sftp"], plant["known_hosts"]))
    result = run("--json")
    assert result.exit_code == 1
    rows = rows_of(result)
    assert rows[("supplier_sftp_sup002", "login")]["result"] == "FAIL"
    assert rows[("supplier_sftp_sup001", "login")]["result"] == "ok"
    assert wrong not in result.output


def test_wrong_opcenter_secret_and_jiandaoyun_key_fail_their_rows(plant, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_OPCENTER_DEFAULT", opcenter_json(plant["opcenter"], "Wr0ng-opc-9a1b"))
    monkeypatch.setenv("AIRFLOW_CONN_JIANDAOYUN_DEFAULT", jiandaoyun_json(plant["jiandaoyun"], "Wr0ng-jdy-4f2e"))
    result = run("--json")
    assert result.exit_code == 1
    rows = rows_of(result)
    opcenter, jiandaoyun = rows[("opcenter_default", "token + read")], rows[("jiandaoyun_default", "api call")]
    assert opcenter["result"] == "FAIL" and "OPCENTER_AUTH" in opcenter["detail"], opcenter
    assert jiandaoyun["result"] == "FAIL" and "JDY_AUTH" in jiandaoyun["detail"], jiandaoyun
    assert "Wr0ng-opc-9a1b" not in result.output and "Wr0ng-jdy-4f2e" not in result.output
    assert_no_secret(result.output)


def test_unreachable_port_fails_with_connection_refused(plant, monkeypatch):
    closed = free_port()  # bound and released: nothing listens there
    monkeypatch.setenv("AIRFLOW_CONN_WMS_DEFAULT", wms_uri(closed))
    monkeypatch.setenv("AIRFLOW_CONN_KINGDEE_DEFAULT", kingdee_uri(closed))
    monkeypatch.setenv("AIRFLOW_CONN_OPCENTER_DEFAULT", opcenter_json(closed))
    monkeypatch.setenv("AIRFLOW_CONN_SUPPLIER_SFTP_SUP001",
                       sftp_uri("sup001", SFTP_PASSWORDS["sup001"], closed, plant["known_hosts"]))
    result = run("--json")
    assert result.exit_code == 1
    rows = rows_of(result)
    expected = {("wms_default", "read"): "WMS_UNAVAILABLE", ("kingdee_default", "login"): "KINGDEE_",
                ("opcenter_default", "token + read"): "OPCENTER_UNAVAILABLE",
                ("supplier_sftp_sup001", "login"): "SFTP_UNAVAILABLE"}
    for key, code in expected.items():
        assert rows[key]["result"] == "FAIL", rows[key]
        detail = rows[key]["detail"]
        assert code in detail and (f"port {closed}" in detail or f"port={closed}" in detail), rows[key]
    # a login that never happened leaves no folder rows for that partner; the other partner is fine
    assert ("supplier_sftp_sup001", "inbox folder") not in rows
    assert rows[("supplier_sftp_sup002", "inbox folder")]["result"] == "ok"
    assert_no_secret(result.output)


def test_broken_connection_value_is_a_fail_row_not_a_crash(plant, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_WMS_DEFAULT", '{"conn_type": "wms", "port": "eighty"}')
    monkeypatch.setenv("AIRFLOW_CONN_JIANDAOYUN_DEFAULT", json.dumps({"conn_type": "http", "host": "127.0.0.1"}))
    result = run("--json")
    assert result.exit_code == 1
    rows = rows_of(result)
    assert rows[("wms_default", "connection")]["result"] == "FAIL"
    assert "CONNECTION_INVALID" in rows[("wms_default", "connection")]["detail"]
    # parses, but the adapter refuses it: no api key, no app
    assert rows[("jiandaoyun_default", "connection")]["result"] == "FAIL"
    assert "JDY_CONFIG" in rows[("jiandaoyun_default", "connection")]["detail"]


def test_unknown_hub_erp_is_one_fail_row(plant, monkeypatch):
    monkeypatch.setenv("HUB_ERP", "sap")
    result = run("--json")
    assert result.exit_code == 1
    rows = rows_of(result)
    assert rows[("-", "HUB_ERP")]["result"] == "FAIL" and "ERP_UNKNOWN" in rows[("-", "HUB_ERP")]["detail"]
    assert not any(conn.startswith(("kingdee", "u9")) for conn, _ in rows)


def test_u9cloud_and_u9_checked_when_chosen(plant, monkeypatch):
    client = f"hub-doc:{U9_CONTEXT[0]}:101:mes_api:{U9C_SECRET}"
    state = U9State(clients=client, contexts=":".join(U9_CONTEXT))
    with running(u9_server(state=state, seed_name="demo")) as sim:
        port = sim.server_address[1]
        monkeypatch.setenv("AIRFLOW_CONN_U9CLOUD_DEFAULT", json.dumps({
            "conn_type": "u9cloud", "host": "127.0.0.1", "port": port, "schema": "http", "login": "mes_api",
            "password": U9C_SECRET, "extra": {"client_id": "hub-doc", "ent_code": U9_CONTEXT[0], "org_code": "101",
                                              "path": "U9C"}}))
        monkeypatch.setenv("AIRFLOW_CONN_U9_DEFAULT", json.dumps({
            "conn_type": "u9", "host": "127.0.0.1", "port": port, "schema": "http", "login": "mes_api",
            "extra": {"enterprise_id": U9_CONTEXT[0], "org_id": U9_CONTEXT[1], "user_id": U9_CONTEXT[2],
                      "path": "U9/Services"}}))
        for system, checks in (("u9cloud", ("login", "read")), ("u9", ("read",))):
            monkeypatch.setenv("HUB_ERP", system)
            result = run("--json")
            assert result.exit_code == 0, result.output
            rows = rows_of(result)
            assert {rows[(f"{system}_default", c)]["result"] for c in checks} == {"ok"}, result.output
            assert rows[("kingdee_default", "connection")]["result"] == "skip"
            assert_no_secret(result.output)


def test_missing_connection_is_skipped_not_failed(plant, monkeypatch, tmp_path: Path):
    monkeypatch.delenv("AIRFLOW_CONN_WMS_DEFAULT")
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))  # an empty Airflow: no stored Connections
    result = run("--json")
    assert result.exit_code == 0, result.output
    assert rows_of(result)[("wms_default", "connection")] == {
        "connection": "wms_default", "system": "wms", "check": "connection", "result": "skip",
        "detail": "not configured (AIRFLOW_CONN_WMS_DEFAULT)"}


def test_the_embedded_default_fills_only_what_the_shell_leaves_open(plant, monkeypatch, tmp_path: Path):
    # `make up` in one terminal, `hub doctor` in another: the doctor finds the simulators'
    # Connections through var/secrets.json; a Connection set in the shell still wins
    from hub import runtime

    var = tmp_path / "var"
    runtime.load_secrets(var)  # what make up / make demo leave on the machine
    monkeypatch.delenv("AIRFLOW_CONN_WMS_DEFAULT")
    monkeypatch.setenv("HUB_PORT_BASE", str(runtime.free_port_base()))  # nothing listens there
    saved = dict(os.environ)
    try:
        result = run("--json")
    finally:  # the embedded default's settings must not leak into the other tests
        os.environ.clear()
        os.environ.update(saved)
    rows = rows_of(result)
    assert rows[("wms_default", "read")]["result"] == "FAIL"  # looked up, its simulator is not running
    assert rows[("kingdee_default", "read")]["result"] == "ok"  # the shell's own Connection, untouched
    assert result.exit_code == 1
    assert_no_secret(result.output)
    secrets = runtime.load_secrets(var)
    assert not [name for name, value in secrets.items() if value in result.output]


def test_a_broken_env_file_stops_the_doctor_naming_the_line_not_the_value(plant, monkeypatch, tmp_path: Path):
    env_file = tmp_path / "broken.env"
    env_file.write_text("AIRFLOW_CONN_WMS_DEFAULT='wms://:Sup3r-Secret-tok@h:1/\nHUB_ERP=kingdee\n")  # unclosed quote
    monkeypatch.setenv("HUB_ENV_FILE", str(env_file))
    result = run("--json")
    assert result.exit_code == 2
    assert "ENV_FILE_INVALID" in result.stderr and f"{env_file}:1" in result.stderr
    assert "Sup3r-Secret-tok" not in result.output + result.stderr
    assert result.stdout == ""  # nothing checked with half a configuration


def test_two_partners_sharing_one_connection_are_both_checked(plant):
    profile = Path(os.environ["HUB_PARTNER_DIR"]) / "SUP-002.yaml"
    profile.write_text(profile.read_text().replace("supplier_sftp_sup002", "supplier_sftp_sup001"))
    result = run("--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    logins = [(r["system"], r["result"]) for r in rows if r["connection"] == "supplier_sftp_sup001"
              and r["check"] == "login"]
    assert logins == [("sftp SUP-001", "ok"), ("sftp SUP-002", "ok")]


def test_secrets_in_a_detail_are_masked():
    conn = parse_connection(json.dumps({"conn_type": "http", "password": "pw-Outer-1234",
                                        "extra": {"ingress_token": "tok-5678", "app_id": "app-visible"}}), "x")
    detail = "refused pw-Outer-1234 and tok-5678 for app-visible"
    assert scrub(detail, _secret_values(conn)) == "refused *** and *** for app-visible"


def test_timeout_must_be_positive_usage_exit_2():
    result = runner.invoke(app, ["doctor", "--timeout", "0"])
    assert result.exit_code == 2
