"""`hub audit --subject KEY`: one subject's trail, oldest first; the store is only read."""
from __future__ import annotations

import json

import pytest
import typer
from sqlalchemy import func, select
from typer.testing import CliRunner

from canonical_model.store import audit, open_store
from canonical_model.store.tables import AuditRow
from hub.cli_audit import audit as audit_command

runner = CliRunner()


def make_app() -> typer.Typer:
    app = typer.Typer()
    app.command("audit")(audit_command)

    @app.command("noop")
    def noop() -> None:  # a second command, so "audit" is a subcommand as in hub/cli.py
        pass

    return app


@pytest.fixture()
def hub_store(tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    store = open_store()
    with store.session() as s:
        audit.record(s, actor="plan_run", action="schedule_proposed", subject_type="DeliverySchedule",
                     subject_key="DS-SUP-001", details={"version": 2, "requires_approval": True, "changes": [
                         {"kind": "quantity_changed", "requires_approval": True},
                         {"kind": "added", "requires_approval": False}]})
        audit.record(s, actor="airflow:planner", action="schedule_approved", subject_type="DeliverySchedule",
                     subject_key="DS-SUP-001", details={"version": 2, "comment": "ok <b>wk49</b>"})
        audit.record(s, actor="plan_run", action="schedule_proposed", subject_type="DeliverySchedule",
                     subject_key="DS-SUP-002", details={"version": 1})
        audit.record(s, actor="buyer", action="purchase_task_override", subject_type="PurchaseTask",
                     subject_key="DS-SUP-001", details={"reason": "same key, another type"})
    yield store
    store.dispose()


def test_the_trail_of_one_subject_oldest_first_with_a_summary(hub_store):
    result = runner.invoke(make_app(), ["audit", "--subject", "DS-SUP-001"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["when", "actor", "action", "type", "version", "details"]
    assert [line.split()[2:5] for line in lines[2:]] == [
        ["plan_run", "schedule_proposed", "DeliverySchedule"], ["airflow:planner", "schedule_approved", "DeliverySchedule"],
        ["buyer", "purchase_task_override", "PurchaseTask"]]
    assert "2 change(s), 1 in the firm zone; requires_approval=True" in lines[2]
    assert "comment=ok <b>wk49</b>" in lines[3]  # printed as text: a terminal, not a page
    only = runner.invoke(make_app(), ["audit", "--subject", "DS-SUP-001", "--type", "PurchaseTask"])
    assert [line.split()[3] for line in only.stdout.splitlines()[2:]] == ["purchase_task_override"]


def test_json_lines_carry_the_full_details(hub_store):
    result = runner.invoke(make_app(), ["audit", "--subject", "DS-SUP-001", "--json"])
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["action"] for r in rows] == ["schedule_proposed", "schedule_approved", "purchase_task_override"]
    assert rows[0]["details"]["changes"][1] == {"kind": "added", "requires_approval": False}
    assert rows[1]["actor"] == "airflow:planner" and rows[1]["subject_key"] == "DS-SUP-001"


@pytest.mark.parametrize("subject", ["DS-SUP-9", "ds-sup-001", "DS-SUP-001'; DROP TABLE audit_log; --"])
def test_an_unknown_subject_exits_2_and_names_known_ones(hub_store, subject):
    result = runner.invoke(make_app(), ["audit", "--subject", subject])
    assert result.exit_code == 2
    assert f"audit: no entries for subject {subject!r}; subjects with a trail: DS-SUP-001, DS-SUP-002" in result.stderr
    with hub_store.session() as s:
        assert s.scalar(select(func.count()).select_from(AuditRow)) == 4  # only read


def test_usage_errors_exit_2(hub_store):
    assert runner.invoke(make_app(), ["audit", "--subject", "  "]).exit_code == 2
    assert runner.invoke(make_app(), ["audit"]).exit_code == 2


def test_an_unreachable_store_exits_1_without_the_url(tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_DATABASE_URL", "postgresql+psycopg://hub:s3cret-pw@127.0.0.1:1/nowhere")
    result = runner.invoke(make_app(), ["audit", "--subject", "DS-SUP-001"])
    assert result.exit_code == 1
    assert "STORE_UNAVAILABLE" in result.stderr and "s3cret-pw" not in result.output
