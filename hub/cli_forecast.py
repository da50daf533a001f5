"""``hub forecast``: demand forecast per material from consumption history, with its error on that history.

History: what the completed production orders consumed by their BOMs (``collaboration.forecast.
history_from_orders``: the hub keeps which lots an order consumed, not how much of each, so standard
consumption is the honest measure), summed per week over the last ``--weeks`` weeks before the plan
date. Method and error: ``collaboration.forecast.forecast_demand`` (statsmodels exponential
smoothing; MAPE and bias of the one-step-ahead fit, in-sample). The store is only read.

Exit 0: printed (a material with too little history is listed with the reason). Exit 1: the store
or the planning data cannot be read. Exit 2: usage (a material the store does not know, bad numbers).
"""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Optional

import typer

from hub.cli_common import plan_day, reading_store, table

PERIOD_DAYS = 7


def _usage(message: str) -> None:
    typer.echo(f"forecast: {message}", err=True)
    raise typer.Exit(2)


def _text(value: Optional[Decimal]) -> str:
    return "-" if value is None else format(value.normalize(), "f")


def forecast(
    material: Optional[str] = typer.Option(None, "--material", metavar="MATERIAL", help="only this material"),
    weeks: int = typer.Option(26, "--weeks", help="weeks of history before the plan date"),
    horizon: int = typer.Option(4, "--horizon", help="weeks to forecast"),
    plan_date: Optional[str] = typer.Option(None, "--plan-date", help="YYYY-MM-DD (default: today)"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per material"),
) -> None:
    """Forecast weekly demand per material from completed production orders, with MAPE and bias."""
    from canonical_model.store import documents, open_store
    from collaboration.forecast import bucket_history, forecast_demand, history_from_orders
    from hub.errors import HubError
    from hub.flows.schedules import load_plan_input

    if weeks < 3 or weeks > 520:
        _usage(f"--weeks {weeks}: between 3 and 520")
    if horizon < 1 or horizon > 52:
        _usage(f"--horizon {horizon}: between 1 and 52")
    day = plan_day(plan_date, "forecast")
    with reading_store():
        store = open_store()
        try:
            with store.session() as session:
                inp = load_plan_input(session, day)
                known = {m.material_id for m in documents.current(session, "Material")}
        finally:
            store.dispose()
        events = history_from_orders(inp)
    if material is not None and material not in known:
        _usage(f"material {material!r} is not in the store")
    start = day - dt.timedelta(days=weeks * PERIOD_DAYS)
    rows, out = [], []
    for material_id in sorted({material} if material else set(events)):
        history = bucket_history(events.get(material_id, ()), start=start, end=day, period_days=PERIOD_DAYS)
        try:
            result = forecast_demand(material_id, history, horizon=horizon, period_days=PERIOD_DAYS)
        except HubError as exc:  # e.g. too little history: said per material, the others still print
            rows.append((material_id, "-", "-", "-", "-", exc.as_line()))
            out.append({"material_id": material_id, "error": exc.as_line()})
            continue
        ahead = ", ".join(_text(q) for _, q in result.forecast)
        rows.append((material_id, _text(result.mape), _text(result.bias), _text(result.bias_pct), ahead,
                     result.method))
        out.append({"material_id": material_id, "method": result.method, "period_days": PERIOD_DAYS,
                    "history": [[d.isoformat(), _text(q)] for d, q in result.history],
                    "forecast": [[d.isoformat(), _text(q)] for d, q in result.forecast],
                    "mape_pct": _text(result.mape), "bias": _text(result.bias), "bias_pct": _text(result.bias_pct)})
    if as_json:
        for item in out:
            typer.echo(json.dumps(item, ensure_ascii=False))
        return
    typer.echo(f"forecast: weekly demand from completed orders, {weeks} weeks of history before {day.isoformat()}")
    if not rows:
        typer.echo("no completed production order in the history window: nothing to forecast")
        return
    typer.echo(table(("material", "MAPE %", "bias", "bias %", f"next {horizon} week(s)", "method"), rows))
