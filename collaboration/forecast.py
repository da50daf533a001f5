"""Demand forecast per material from consumption history, with its error on that history.

Method: exponential smoothing from statsmodels (``statsmodels.tsa.holtwinters``), parameters
estimated by statsmodels from the history itself:

* 10 periods of history or more: Holt's linear method with a damped trend
  (``ExponentialSmoothing(trend="add", damped_trend=True)``);
* 3 to 9 periods: simple exponential smoothing (``SimpleExpSmoothing``): too short to tell a trend;
* fewer than 3: ``FORECAST_TOO_LITTLE_HISTORY`` (SkippableError): no honest number exists.

Why this: material consumption of a discrete plant moves in levels and slow trends, with no
reliable seasonality over the few months an MES keeps; the damped trend is the standard robust
choice for such series (it follows a trend without extrapolating it forever), and simple smoothing
is what short histories support. statsmodels is the maintained reference implementation
(estimation, initialisation, forecasting) rather than a hand-written loop with a guessed alpha.
Negative forecasts are clipped to 0 (consumption cannot be negative).

Error on history: one-step-ahead fitted values of the same model against the actuals, the first
period left out (it only initialises the level). MAPE in % over periods with consumption (a
period with zero consumption has no percentage error; None when all are zero); bias = mean of
(forecast - actual) per period in the material's unit (positive: the method over-forecasts) and
as % of mean consumption. Parameters are estimated on the whole history, so this is an in-sample
error: optimistic against a true hold-out, and said so here.

History: ``bucket_history`` sums dated consumption into periods (zeros for periods without
any); ``history_from_orders`` derives standard consumption from completed production orders
exploded through their BOMs (what backflushing would book) when no consumption records exist.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import warnings
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Mapping, Optional, Sequence

from collaboration.mrp import MrpInput, run_mrp
from hub.errors import SkippableError
from mappings.sourcing import PlanningParameters

MIN_HISTORY = 3
TREND_HISTORY = 10
_QUANTUM = Decimal("0.001")


@dataclass(frozen=True)
class Forecast:
    material_id: str
    method: str
    period_days: int
    history: tuple[tuple[dt.date, Decimal], ...]
    #: (period start, forecast quantity) for the periods after the history
    forecast: tuple[tuple[dt.date, Decimal], ...]
    #: one-step-ahead fitted values on the history (same periods as ``history``)
    fitted: tuple[Decimal, ...]
    mape: Optional[Decimal]
    bias: Decimal
    bias_pct: Optional[Decimal]


def bucket_history(events: Iterable[tuple[dt.date, Decimal]], *, start: dt.date, end: dt.date,
                   period_days: int = 7) -> list[tuple[dt.date, Decimal]]:
    """Consumption summed into periods ``[start, end)`` of ``period_days``; events outside are ignored."""
    if period_days < 1 or end <= start:
        raise SkippableError("FORECAST_BAD_PERIOD", f"periods of {period_days} days from {start} to {end}", "forecast")
    count = -(-(end - start).days // period_days)
    totals = [Decimal(0)] * count
    for day, qty in events:
        if start <= day < end:
            totals[(day - start).days // period_days] += qty
    return [(start + dt.timedelta(days=i * period_days), totals[i]) for i in range(count)]


def _decimal(value: float) -> Decimal:
    return Decimal(repr(float(value))).quantize(_QUANTUM)


def error_on_history(actual: Sequence[Decimal], fitted: Sequence[Decimal]
                     ) -> tuple[Optional[Decimal], Decimal, Optional[Decimal]]:
    """``(MAPE %, bias, bias %)`` of fitted against actual, the first period left out."""
    pairs = list(zip(actual, fitted))[1:]
    if not pairs:
        return None, Decimal(0), None
    errors = [f - a for a, f in pairs]
    bias = sum(errors, Decimal(0)) / len(errors)
    with_demand = [(a, f) for a, f in pairs if a != 0]
    mape = (sum((abs(f - a) / abs(a) for a, f in with_demand), Decimal(0)) / len(with_demand) * 100
            if with_demand else None)
    mean_actual = sum((a for a, _ in pairs), Decimal(0)) / len(pairs)
    bias_pct = bias / mean_actual * 100 if mean_actual else None
    return (None if mape is None else mape.quantize(Decimal("0.1")), bias.quantize(_QUANTUM),
            None if bias_pct is None else bias_pct.quantize(Decimal("0.1")))


def forecast_demand(material_id: str, history: Sequence[tuple[dt.date, Decimal]], *, horizon: int = 8,
                    period_days: int = 7) -> Forecast:
    """Forecast ``horizon`` periods after ``history`` (equal periods, oldest first; see module doc)."""
    if len(history) < MIN_HISTORY:
        raise SkippableError("FORECAST_TOO_LITTLE_HISTORY",
                             f"{len(history)} periods of consumption; at least {MIN_HISTORY} are needed",
                             f"Material/{material_id}")
    if horizon < 1:
        raise SkippableError("FORECAST_BAD_PERIOD", f"horizon {horizon} periods", f"Material/{material_id}")
    actual = [qty for _, qty in history]
    if any(q < 0 for q in actual):
        raise SkippableError("FORECAST_NEGATIVE_HISTORY", "consumption history has negative periods",
                             f"Material/{material_id}")
    last = history[-1][0]
    future = [last + dt.timedelta(days=period_days * (i + 1)) for i in range(horizon)]
    if all(q == 0 for q in actual):
        zero = Decimal(0).quantize(_QUANTUM)
        return Forecast(material_id, "none (no consumption)", period_days, tuple(history),
                        tuple((d, zero) for d in future), tuple(zero for _ in actual), None, zero, None)

    import numpy as np
    from statsmodels.tsa.holtwinters import ExponentialSmoothing, SimpleExpSmoothing

    series = np.array([float(q) for q in actual])
    with warnings.catch_warnings():
        # statsmodels warns about optimiser convergence on short or flat series; the fit is still
        # the best it found, and the error on history below tells how good it is
        warnings.simplefilter("ignore")
        if len(actual) >= TREND_HISTORY:
            method = "Holt damped trend (statsmodels ExponentialSmoothing)"
            fit = ExponentialSmoothing(series, trend="add", damped_trend=True,
                                       initialization_method="estimated").fit()
        else:
            method = "simple exponential smoothing (statsmodels SimpleExpSmoothing)"
            fit = SimpleExpSmoothing(series, initialization_method="estimated").fit()
        ahead = fit.forecast(horizon)
    fitted = [max(_decimal(v), Decimal(0).quantize(_QUANTUM)) for v in fit.fittedvalues]
    mape, bias, bias_pct = error_on_history(actual, fitted)
    return Forecast(material_id, method, period_days, tuple(history),
                    tuple((d, max(_decimal(v), Decimal(0).quantize(_QUANTUM))) for d, v in zip(future, ahead)),
                    tuple(fitted), mape, bias, bias_pct)


def history_from_orders(inp: MrpInput, *, statuses: frozenset[str] = frozenset({"completed", "closed"})
                        ) -> dict[str, list[tuple[dt.date, Decimal]]]:
    """Standard consumption of every material by the orders with ``statuses``, as dated events.

    The orders are exploded like an MRP run with no stock, no supply and no lot sizing, so a
    material's gross requirement is what the orders consumed by the BOM (scrap included) on the
    day they needed it.
    """
    planning: Mapping[str, PlanningParameters] = {
        m: PlanningParameters(m, lead_time_days=p.lead_time_days) for m, p in inp.planning.items()}
    bare = dataclasses.replace(inp, stock=(), batches=(), purchase_orders=(), receipts=(), shipment_notices=(),
                               planning=planning, demand_statuses=statuses, demand_scale={})
    result = run_mrp(bare)
    events: dict[str, list[tuple[dt.date, Decimal]]] = defaultdict(list)
    for material_id, days in result.gross.items():
        for day, orders in sorted(days.items()):
            events[material_id].append((day, sum(orders.values(), Decimal(0))))
    return dict(events)
