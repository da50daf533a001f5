"""`hub forecast`: weekly demand from completed orders, the method, MAPE and bias; the store is only read."""
from __future__ import annotations

import datetime as dt
import json

import pytest
import typer
from typer.testing import CliRunner

from canonical_model.documents import BillOfMaterials, Material, ProductionOrder
from canonical_model.store import documents, open_store
from hub.cli_forecast import forecast as forecast_command

runner = CliRunner()
PLAN = dt.date(2026, 12, 7)  # a Monday: weeks run Monday to Sunday before it


def make_app() -> typer.Typer:
    app = typer.Typer()
    app.command("forecast")(forecast_command)

    @app.command("noop")
    def noop() -> None:  # a second command, so "forecast" is a subcommand as in hub/cli.py
        pass

    return app


def completed(order_id: str, quantity: int, start: dt.date) -> ProductionOrder:
    begin = dt.datetime.combine(start, dt.time(8))
    return ProductionOrder(order_id=order_id, material_id="T-FG", quantity=quantity, uom="H87", status="completed",
                           start=begin, due=begin + dt.timedelta(days=1))


@pytest.fixture()
def hub_store(tmp_path, monkeypatch):
    """T-FG = 2 x T-RAW; one completed order of 50 T-FG in each of the last 6 weeks (T-RAW: 100 a week)."""
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    store = open_store()
    with store.session() as s:
        for m in ("T-FG", "T-RAW"):
            documents.upsert(s, Material(material_id=m, name=m, uom="H87"))
        documents.upsert(s, BillOfMaterials(bom_id="B-FG", material_id="T-FG", components=[
            {"line_no": 1, "material_id": "T-RAW", "quantity_per": "2", "uom": "H87"}]))
        for week in range(1, 7):
            documents.upsert(s, completed(f"MO-{week}", 50, PLAN - dt.timedelta(days=7 * week - 2)))
    yield store
    store.dispose()


def test_a_level_history_is_forecast_at_its_level_with_no_error(hub_store):
    result = runner.invoke(make_app(), ["forecast", "--weeks", "6", "--plan-date", PLAN.isoformat(), "--json"])
    assert result.exit_code == 0, result.output
    by_material = {r["material_id"]: r for r in map(json.loads, result.stdout.splitlines())}
    raw = by_material["T-RAW"]
    # 2 x 50 per week, every week: simple smoothing (6 periods < 10) stays at 100, errors are 0
    assert [q for _, q in raw["history"]] == ["100"] * 6
    assert raw["method"].startswith("simple exponential smoothing")
    assert [q for _, q in raw["forecast"]] == ["100"] * 4
    assert (raw["mape_pct"], raw["bias"]) == ("0", "0")
    assert [d for d, _ in raw["forecast"]] == ["2026-12-07", "2026-12-14", "2026-12-21", "2026-12-28"]


def test_the_table_and_a_window_without_consumption(hub_store):
    result = runner.invoke(make_app(), ["forecast", "--weeks", "6", "--plan-date", PLAN.isoformat()])
    lines = result.stdout.splitlines()
    assert lines[0] == "forecast: weekly demand from completed orders, 6 weeks of history before 2026-12-07"
    assert lines[1].split()[:4] == ["material", "MAPE", "%", "bias"]
    assert any(line.startswith("T-RAW ") and "100, 100, 100, 100" in line for line in lines)
    # weeks before any of the orders: zero consumption, no error to measure, nothing invented
    quiet = runner.invoke(make_app(), ["forecast", "--weeks", "6", "--plan-date", "2026-10-01"])
    assert quiet.exit_code == 0
    (row,) = [line.split() for line in quiet.stdout.splitlines() if line.startswith("T-RAW")]
    assert row[1:3] == ["-", "0"] and "none (no consumption)" in " ".join(row)


@pytest.mark.parametrize("args, words", [
    (["--material", "NOPE"], "material 'NOPE' is not in the store"),
    (["--weeks", "2"], "--weeks 2"),
    (["--horizon", "0"], "--horizon 0"),
    (["--plan-date", "07.12.2026"], "is not YYYY-MM-DD"),
])
def test_usage_errors_exit_2(hub_store, args, words):
    result = runner.invoke(make_app(), ["forecast", *args])
    assert result.exit_code == 2 and words in result.stderr
