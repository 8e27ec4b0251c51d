"""Signal cleaning and forecasting."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from valuation.errors import ConventionError, InsufficientDataError
from valuation.forecast import (
    decay_factors,
    decay_horizon_months,
    default_half_life_months,
    fit_trend,
    revenue_forecast,
)
from valuation.signals import clean_signals

AS_OF = date(2026, 1, 1)


def _frame(values, start="2023-01-01", metric="revenue"):
    months = pd.date_range(start, periods=len(values), freq="MS")
    return pd.DataFrame({"month": months, "metric": metric, "value": np.asarray(values, float)})


def test_gaps_are_filled_log_linearly_and_flagged() -> None:
    frame = _frame([100.0, 110.0, 121.0, 133.1]).drop(index=[1, 2])
    clean = clean_signals(frame, as_of=AS_OF)
    rev = clean.revenue
    assert rev.n_months == 4
    assert list(rev.observed) == [True, False, False, True]
    assert rev.values[1:3] == pytest.approx([110.0, 121.0], rel=1e-12)
    assert any("filled by log-linear interpolation" in n for n in clean.notes)


def test_outlier_is_flagged_and_left_out_of_the_fit() -> None:
    rng = np.random.default_rng(1)
    values = 1_000 * np.exp(0.01 * np.arange(36) + 0.03 * rng.standard_normal(36))
    values[17] *= 8.0
    clean = clean_signals(_frame(values), as_of=AS_OF)
    assert np.flatnonzero(clean.revenue.outliers).tolist() == [17]
    assert not clean.revenue.usable[17]
    fit = fit_trend(clean.revenue)
    assert fit.params["b"] == pytest.approx(0.01, abs=0.003)


def test_months_not_complete_before_as_of_are_dropped() -> None:
    clean = clean_signals(_frame(np.full(13, 5.0), start="2025-01-01"), as_of=AS_OF)
    assert clean.revenue.n_months == 12
    assert any("not complete" in n for n in clean.notes)


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        (
            pd.DataFrame({"month": ["2025-01-15"], "metric": ["revenue"], "value": [1.0]}),
            "signals.month",
        ),
        (
            pd.DataFrame({"month": ["2025-01-01"], "metric": ["revenue"], "value": [-1.0]}),
            "signals.value",
        ),
        (
            pd.DataFrame({"month": ["2025-01-01"], "metric": ["revenue"], "value": [np.nan]}),
            "signals.value",
        ),
        (
            pd.DataFrame(
                {"month": ["2025-01-01"] * 2, "metric": ["revenue"] * 2, "value": [1.0, 2.0]}
            ),
            "signals.month",
        ),
        (pd.DataFrame({"month": ["2025-01-01"], "value": [1.0]}), "signals.metric"),
    ],
)
def test_bad_signals_name_the_field(frame: pd.DataFrame, field: str) -> None:
    with pytest.raises(ConventionError) as err:
        clean_signals(frame, as_of=AS_OF)
    assert err.value.field == field
    assert f"`{field}`" in str(err.value)


def test_revenue_in_another_currency_is_rejected() -> None:
    frame = _frame([1.0, 2.0]).assign(currency="USD")
    with pytest.raises(ConventionError, match="valuation currency CNY"):
        clean_signals(frame, as_of=AS_OF, currency="CNY")


def test_logistic_data_selects_a_saturating_model() -> None:
    t = np.arange(36)
    rng = np.random.default_rng(2)
    values = 5_000 / (1 + np.exp(-0.25 * (t - 14))) * np.exp(0.01 * rng.standard_normal(36))
    fit = fit_trend(clean_signals(_frame(values), as_of=AS_OF).revenue)
    assert fit.model in ("logistic", "gompertz")
    assert fit.candidates[fit.model] < fit.candidates["log_linear"]
    assert fit.bic < fit.candidates["log_linear"] + 100  # reported


def test_seasonality_needs_24_months() -> None:
    def series(n):
        t = np.arange(n)
        rng = np.random.default_rng(3)
        return 1_000 * np.exp(
            0.005 * t + 0.3 * np.sin(2 * np.pi * t / 12) + 0.02 * rng.standard_normal(n)
        )

    long_fit = fit_trend(clean_signals(_frame(series(36)), as_of=AS_OF).revenue)
    assert long_fit.seasonal is not None
    assert max(long_fit.seasonal) - min(long_fit.seasonal) == pytest.approx(0.6, abs=0.08)
    short = clean_signals(_frame(series(23), start="2024-02-01"), as_of=AS_OF).revenue
    assert fit_trend(short).seasonal is None


def test_constant_revenue_forecasts_itself() -> None:
    fit = fit_trend(clean_signals(_frame(np.full(24, 750.0)), as_of=AS_OF).revenue)
    assert fit.model == "log_linear"
    assert fit.seasonal is None
    assert fit.expected_revenue(AS_OF, 5) == pytest.approx(np.full(5, 750.0), rel=1e-12)


def test_growth_is_damped_beyond_the_data() -> None:
    values = 100 * np.exp(0.03 * np.arange(24))
    fit = fit_trend(clean_signals(_frame(values, start="2024-01-01"), as_of=AS_OF).revenue)
    undamped = fit.expected_revenue(AS_OF, 60)
    damped = fit.with_damping(0.9).expected_revenue(AS_OF, 60)
    assert undamped[0] == pytest.approx(100 * np.exp(0.03 * 24), rel=1e-9)
    assert damped[0] == pytest.approx(100 * np.exp(0.03 * 23 + 0.03 * 0.9), rel=1e-9)
    # levels off at exp(0.03 * 0.9 / 0.1) above the last fitted month
    assert damped[-1] == pytest.approx(100 * np.exp(0.03 * 23 + 0.27), rel=1e-3)


def test_insufficient_history_and_no_unit_price() -> None:
    with pytest.raises(InsufficientDataError, match="at least 12 months"):
        revenue_forecast(clean_signals(_frame(np.full(8, 1.0)), as_of=AS_OF))
    usage = _frame(np.full(24, 1e4), start="2024-01-01", metric="downloads")
    revenue = _frame([5.0, 6.0], start="2025-11-01")
    clean = clean_signals(pd.concat([usage, revenue]), as_of=AS_OF)
    with pytest.raises(
        InsufficientDataError, match="at least 3 months with both revenue and downloads"
    ):
        revenue_forecast(clean)


def test_half_life_defaults_and_decay(build) -> None:
    slow = default_half_life_months(build.asset(timeliness=1.0, refresh_days=1))
    fast = default_half_life_months(build.asset(timeliness=0.1, refresh_days=365))
    assert slow == pytest.approx(75.0)
    assert fast < 12 < slow
    assert decay_factors(3, 2.0) == pytest.approx([0.5**0.5, 0.5, 0.5**1.5])
    assert decay_horizon_months(10.0) == 44  # 10 * log2(20) = 43.2


def test_units_are_checked() -> None:
    ok = pd.concat(
        [
            _frame([1.0, 2.0]).assign(unit="CNY"),
            _frame([5.0, 6.0], metric="api_calls").assign(unit="calls"),
        ]
    )
    assert clean_signals(ok, as_of=AS_OF, currency="CNY").revenue.n_months == 2
    with pytest.raises(ConventionError, match="must be a count") as err:
        clean_signals(
            _frame([5.0], metric="downloads").assign(unit="CNY"), as_of=AS_OF, currency="CNY"
        )
    assert err.value.field == "signals.unit"
    with pytest.raises(ConventionError, match="valuation currency CNY"):
        clean_signals(_frame([5.0]).assign(unit="thousands"), as_of=AS_OF, currency="CNY")
