"""Demand forecast (statsmodels exponential smoothing) and its error on history."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from canonical_model.documents import BillOfMaterials, Material, ProductionOrder
from collaboration.forecast import bucket_history, error_on_history, forecast_demand, history_from_orders
from collaboration.mrp import MrpInput
from hub.errors import SkippableError

MONDAY = dt.date(2026, 9, 7)


def weeks(*quantities) -> list[tuple[dt.date, D]]:
    return [(MONDAY + dt.timedelta(weeks=i), D(q)) for i, q in enumerate(quantities)]


def test_bucket_history_sums_per_period_with_zeros_for_quiet_ones():
    events = [(MONDAY, D(5)), (MONDAY + dt.timedelta(days=6), D(1)), (MONDAY + dt.timedelta(days=15), D(2)),
              (MONDAY - dt.timedelta(days=1), D(99)), (MONDAY + dt.timedelta(days=21), D(99))]
    # [09-07, 09-28): week 1 = 5 + 1, week 2 = 0, week 3 = 2; the day before and 09-28 are outside
    assert bucket_history(events, start=MONDAY, end=MONDAY + dt.timedelta(days=21)) == weeks(6, 0, 2)
    with pytest.raises(SkippableError):
        bucket_history(events, start=MONDAY, end=MONDAY, period_days=7)
    with pytest.raises(SkippableError):
        bucket_history(events, start=MONDAY, end=MONDAY + dt.timedelta(days=7), period_days=0)


def test_error_on_history_by_hand():
    # first period left out. Pairs (actual, fitted): (20, 15), (10, 12), (0, 4).
    # bias = (-5 + 2 + 4) / 3 = 0.333; MAPE over periods with consumption: (5/20 + 2/10) / 2 = 22.5 %;
    # bias % of the mean actual (20 + 10 + 0) / 3 = 10: 3.3 %
    mape, bias, bias_pct = error_on_history([D(10), D(20), D(10), D(0)], [D(12), D(15), D(12), D(4)])
    assert (mape, bias, bias_pct) == (D("22.5"), D("0.333"), D("3.3"))
    assert error_on_history([D(0), D(0)], [D(1), D(1)]) == (None, D("1.000"), None)


def test_too_little_negative_or_no_consumption():
    with pytest.raises(SkippableError) as exc:
        forecast_demand("RAW", weeks(5, 6))
    assert exc.value.code == "FORECAST_TOO_LITTLE_HISTORY" and exc.value.where == "Material/RAW"
    with pytest.raises(SkippableError) as exc:
        forecast_demand("RAW", weeks(5, -6, 7))
    assert exc.value.code == "FORECAST_NEGATIVE_HISTORY"
    quiet = forecast_demand("RAW", weeks(0, 0, 0, 0), horizon=2)
    assert quiet.forecast == ((MONDAY + dt.timedelta(weeks=4), D(0)), (MONDAY + dt.timedelta(weeks=5), D(0)))
    assert quiet.mape is None and quiet.method.startswith("none")


def test_a_level_series_is_forecast_at_its_level_with_simple_smoothing():
    pytest.importorskip("statsmodels")
    result = forecast_demand("RAW", weeks(50, 52, 48, 50, 51, 49), horizon=3)
    assert result.method.startswith("simple exponential smoothing")
    assert [d for d, _ in result.forecast] == [MONDAY + dt.timedelta(weeks=w) for w in (6, 7, 8)]
    assert all(D(47) <= q <= D(53) for _, q in result.forecast)
    # one-step-ahead errors of a series within +-4 % of its level stay within a few percent
    assert result.mape is not None and result.mape < D(5)
    assert abs(result.bias) < D(2)


def test_a_trending_series_uses_the_damped_trend_and_follows_it():
    pytest.importorskip("statsmodels")
    history = weeks(*range(100, 220, 10))  # 12 weeks, +10 a week: 100 .. 210
    result = forecast_demand("RAW", history, horizon=4)
    assert result.method.startswith("Holt damped trend")
    quantities = [q for _, q in result.forecast]
    # a damped trend keeps rising from the last value (210) but never by more than 10 a week
    assert quantities == sorted(quantities) and quantities[0] > D(210)
    assert all(b - a <= D(10) for a, b in zip([D(210), *quantities], quantities))
    assert result.mape is not None and result.mape < D(10)
    assert len(result.fitted) == len(history)


def test_forecasts_are_never_negative():
    pytest.importorskip("statsmodels")
    result = forecast_demand("RAW", weeks(*range(220, 100, -10)), horizon=30)
    assert all(q >= 0 for _, q in result.forecast)


def test_history_from_completed_orders_is_standard_consumption():
    inp = MrpInput(
        plan_date=dt.date(2026, 12, 1),
        materials=[Material(material_id=m, name=m, uom="H87") for m in ("FG", "RAW")],
        boms=[BillOfMaterials(bom_id="B", material_id="FG", components=[
            {"line_no": 1, "material_id": "RAW", "quantity_per": "2", "uom": "H87", "scrap_rate": "0.05"}])],
        production_orders=[
            ProductionOrder(order_id="MO-1", material_id="FG", quantity=10, uom="H87", status="completed",
                            start=dt.datetime(2026, 9, 8, 8)),
            ProductionOrder(order_id="MO-2", material_id="FG", quantity=20, uom="H87", status="closed",
                            start=dt.datetime(2026, 9, 15, 8)),
            ProductionOrder(order_id="MO-3", material_id="FG", quantity=99, uom="H87", status="released",
                            start=dt.datetime(2026, 9, 15, 8))])
    # 10 x 2 x 1.05 = 21 on 09-08; 20 x 2 x 1.05 = 42 on 09-15; the released MO-3 has not consumed
    assert history_from_orders(inp) == {"RAW": [(dt.date(2026, 9, 8), D("21.00")), (dt.date(2026, 9, 15), D("42.00"))]}
