"""``hub erp pull|push``: the issue-5 CLI contract, against the Kingdee and U9 simulators over HTTP.

Connections come the way an operator (or an independent check) gives them: Airflow's JSON form
in ``AIRFLOW_CONN_<SYSTEM>_DEFAULT`` with ``schema`` http; the store from ``HUB_DATABASE_URL``.
"""
from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from typer.testing import CliRunner

from canonical_model.documents import Receipt
from canonical_model.store import documents, open_store
from hub.cli import app
from hub.flows.erp_push import enqueue_push
from simulators.base import running
from simulators.kingdee import KingdeeState, make_server as kingdee_server
from simulators.kingdee.faults import Fault
from simulators.u9.server import make_server as u9_server
from simulators.u9.state import U9State

PASSWORD = "pw-CliErp-7d41"  # distinctive: must never be printed
U9_SECRET = "cs-CliErp-u9c-52"
COUNTS = re.compile(r"^fetched=(\d+) new=(\d+) changed=(\d+) unchanged=(\d+) quarantined=(\d+)$")


@pytest.fixture()
def runner(tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path / "var"))
    return CliRunner()


@pytest.fixture()
def kingdee(monkeypatch):
    state = KingdeeState(users=f"acct-cli:mes_api:{PASSWORD}", apps="")
    with running(kingdee_server(state=state, seed="demo")) as server:
        monkeypatch.setenv("AIRFLOW_CONN_KINGDEE_DEFAULT", json.dumps({
            "conn_type": "kingdee", "host": "127.0.0.1", "port": server.server_address[1], "login": "mes_api",
            "password": PASSWORD, "schema": "http",
            "extra": {"acct_id": "acct-cli", "lcid": 2052, "auth": "password", "max_attempts": 1}}))
        yield server


@pytest.fixture()
def u9(monkeypatch):
    state = U9State(clients=f"cli-client:010:101:mes_api:{U9_SECRET}", contexts="010:1001:2002")
    with running(u9_server(state=state, seed_name="demo")) as server:
        port = server.server_address[1]
        monkeypatch.setenv("AIRFLOW_CONN_U9_DEFAULT", json.dumps({
            "conn_type": "u9", "host": "127.0.0.1", "port": port, "schema": "http", "login": "mes_api",
            "extra": {"enterprise_id": "010", "org_id": "1001", "user_id": "2002", "receipt_warehouse": "CK01"}}))
        monkeypatch.setenv("AIRFLOW_CONN_U9CLOUD_DEFAULT", json.dumps({
            "conn_type": "u9cloud", "host": "127.0.0.1", "port": port, "schema": "http", "login": "mes_api",
            "password": U9_SECRET, "extra": {"client_id": "cli-client", "ent_code": "010", "org_code": "101",
                                             "receipt_warehouse": "CK01"}}))
        yield server


def pull(runner, *args: str):
    return runner.invoke(app, ["erp", "pull", *args])


@pytest.mark.parametrize("system", ["kingdee", "u9", "u9cloud"])
def test_pull_prints_the_counts_line_and_a_rerun_stores_nothing_new(runner, kingdee, u9, system):
    first = pull(runner, system, "purchase_orders")
    assert first.exit_code == 0, first.output
    assert COUNTS.match(first.stdout.strip()), first.stdout
    assert first.stdout.strip() == "fetched=3 new=3 changed=0 unchanged=0 quarantined=0"
    again = pull(runner, system, "purchase_orders")
    assert again.exit_code == 0
    fetched, new, changed, unchanged, quarantined = map(int, COUNTS.match(again.stdout.strip()).groups())
    assert (new, changed, quarantined) == (0, 0, 0) and unchanged == fetched
    store = open_store()
    with store.session() as s:
        assert sorted(po.po_number for po in documents.current(s, "PurchaseOrder")) == [
            "CGDD000101", "CGDD000102", "CGDD000103"]
    store.dispose()


def test_since_pulls_the_window_again_without_storing_twice(runner, kingdee):
    assert pull(runner, "kingdee", "suppliers").exit_code == 0
    result = pull(runner, "kingdee", "suppliers", "--since", "2000-01-01T00:00:00")
    assert result.exit_code == 0
    fetched, new, changed, unchanged, _ = map(int, COUNTS.match(result.stdout.strip()).groups())
    assert fetched >= 2 and (new, changed) == (0, 0) and unchanged == fetched


def test_usage_errors_exit_2(runner):
    assert pull(runner, "sap", "purchase_orders").exit_code == 2
    assert pull(runner, "kingdee", "customers").exit_code == 2
    assert pull(runner, "kingdee", "suppliers", "--since", "yesterday").exit_code == 2


def test_wrong_password_is_a_fatal_error_naming_the_system_and_never_the_secret(runner, kingdee, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_KINGDEE_DEFAULT", json.dumps({
        "conn_type": "kingdee", "host": "127.0.0.1", "port": kingdee.server_address[1], "login": "mes_api",
        "password": "not-" + PASSWORD, "schema": "http", "extra": {"acct_id": "acct-cli"}}))
    result = pull(runner, "kingdee", "materials")
    assert result.exit_code == 1
    assert "KINGDEE_LOGIN_FAILED" in result.stderr and "(fatal)" in result.stderr
    assert "kingdee" in result.stderr.split(":")[0]
    assert PASSWORD not in result.output


def test_server_error_is_a_retriable_error_naming_the_call(runner, kingdee):
    kingdee.state.faults.arm(Fault.from_json({"kind": "http500", "count": 5, "service": "ExecuteBillQuery"}))
    result = pull(runner, "kingdee", "materials")
    assert result.exit_code == 1
    assert "(retriable)" in result.stderr and "ExecuteBillQuery" in result.stderr


def test_missing_connection_is_fatal(runner, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_U9_DEFAULT", raising=False)
    result = pull(runner, "u9", "materials")
    assert result.exit_code == 1 and "(fatal)" in result.stderr


@pytest.mark.parametrize("system", ["kingdee", "u9"])
def test_push_drains_the_outbox_once(runner, kingdee, u9, system):
    receipt = Receipt(receipt_id="RCV-CLI-1", asn_number="DESADV-1", supplier_id="SUP-001",
                      received_at=dt.datetime(2026, 11, 26, 9, 30, tzinfo=dt.timezone.utc),
                      lines=[{"line_no": 1, "po_number": "CGDD000101", "po_line_no": 1, "material_id": "1.02.0033",
                              "quantity": "500", "uom": "H87", "batch_id": "SUP-001:L33", "location": "A-01-01"}])
    store = open_store()
    with store.session() as s:
        assert enqueue_push(s, system, "receipt", receipt)
        assert not enqueue_push(s, system, "receipt", receipt)  # keyed: queued once
    store.dispose()
    first = runner.invoke(app, ["erp", "push", system])
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == "sent=1 failed=0 pending=0"
    again = runner.invoke(app, ["erp", "push", system])
    assert again.stdout.strip() == "sent=0 failed=0 pending=0"
