"""Guarded inputs: trailing months are news, zero months are data, stale and short
histories are flagged, and a one-day move of as_of moves no approach by more than 2 %."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from valuation import value_asset
from valuation.asset import AssetProfile, Quality, Rights
from valuation.conventions import Compounding, DayCount
from valuation.income import IncomeValuer
from valuation.market import MarketData
from valuation.results import ValuationInputs
from valuation.signals import TRAILING_PROTECTED, clean_signals

AS_OF = date(2026, 1, 1)
ASSET = AssetProfile(
    id="a",
    name="feed",
    category="consumer",
    rights=Rights(),
    quality=Quality(0.9, 0.85, 0.9, 0.8, 0.8, 0.9),
    records=2_000_000,
    refresh_days=7.0,
)
COSTS = pd.DataFrame(
    {
        "category": ["acquisition", "hosting"],
        "amount": [300_000.0, 4_000.0],
        "currency": "CNY",
        "incurred_on": [date(2023, 1, 1), date(2023, 1, 10)],
        "recurring_months": [0, 60],
    }
)


def _market(as_of: date = AS_OF) -> MarketData:
    return MarketData.flat_rate(
        as_of, 0.02, currency="CNY", day_count=DayCount.ACT_365F, compounding=Compounding.ANNUAL
    )


def _signals(values: np.ndarray, start: str = "2023-01-01") -> pd.DataFrame:
    months = pd.date_range(start, periods=len(values), freq="MS")
    return pd.DataFrame({"month": months, "metric": "revenue", "value": np.asarray(values, float)})


def _smooth(n: int = 36, level: float = 50_000.0, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return level * np.exp(0.01 * np.arange(n) + 0.03 * rng.standard_normal(n))


def _income(values: np.ndarray, as_of: date = AS_OF, costs: pd.DataFrame = COSTS) -> float:
    inputs = ValuationInputs(_signals(values), costs, None, ASSET, "CNY")
    return IncomeValuer().value(inputs, as_of=as_of, market=_market(as_of)).value


def test_trailing_months_are_never_outliers() -> None:
    v = _smooth()
    v[-1] *= 0.05
    v[-2] *= 0.05
    clean = clean_signals(_signals(v), as_of=AS_OF)
    assert not clean.revenue.outliers[-TRAILING_PROTECTED:].any()
    assert not clean.revenue.outliers[:2].any()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(k=st.integers(1, 3), collapse=st.floats(0.5, 0.95))
def test_a_trailing_collapse_lowers_value_by_at_least_half_the_collapse(k, collapse) -> None:
    healthy = _smooth()
    fallen = healthy.copy()
    fallen[-k:] *= 1.0 - collapse
    before, after = _income(healthy), _income(fallen)
    assert after <= before * (1.0 - collapse / 2.0)


def test_level_shift_is_a_warning_and_moves_the_forecast_to_the_new_level() -> None:
    v = _smooth()
    v[-3:] *= 0.1
    res = value_asset(_signals(v), COSTS, None, ASSET, AS_OF, _market(), 500, 1)
    codes = [w["code"] for w in res.warnings]
    assert "level_shift" in codes
    fit = res.methods["income"].diagnostics["fit"]
    assert fit["level_shift"]["months"] == 3
    assert fit["level_factor"] == pytest.approx(0.1, rel=0.2)


def test_revenue_that_stopped_is_worth_nothing_by_the_income_approach() -> None:
    v = _smooth()
    v[-12:] = 0.0
    res = value_asset(_signals(v), COSTS, None, ASSET, AS_OF, _market(), 500, 1)
    assert res.methods["income"].value == 0.0
    all_zero = value_asset(_signals(np.zeros(36)), COSTS, None, ASSET, AS_OF, _market(), 500, 1)
    assert all_zero.methods["income"].value == 0.0
    assert all_zero.quote.haircut > res.methods["cost"].value * 0  # valued, and
    assert (
        all_zero.quote.haircut
        >= value_asset(
            _signals(_smooth()), COSTS, None, ASSET, AS_OF, _market(), 500, 1
        ).quote.haircut
    )


def test_zero_months_are_data() -> None:
    full = _smooth()
    half = full.copy()
    half[1::2] = 0.0  # revenue every other month
    ratio = _income(half) / _income(full)
    assert 0.3 < ratio < 0.7


def test_stale_and_short_histories_are_flagged() -> None:
    res = value_asset(
        _signals(_smooth(30), start="2023-01-01"),
        COSTS,
        None,
        ASSET,
        date(2030, 1, 1),
        MarketData.flat_rate(
            date(2030, 1, 1),
            0.02,
            currency="CNY",
            day_count=DayCount.ACT_365F,
            compounding=Compounding.ANNUAL,
        ),
        500,
        1,
    )
    codes = [w["code"] for w in res.warnings]
    assert "stale_signals" in codes
    short = value_asset(_signals(_smooth(8)), COSTS, None, ASSET, AS_OF, _market(), 500, 1)
    assert "short_history" in [w["code"] for w in short.warnings]
    fresh = value_asset(_signals(_smooth()), COSTS, None, ASSET, AS_OF, _market(), 500, 1)
    assert not {"stale_signals", "short_history"} & {w["code"] for w in fresh.warnings}


def test_a_cost_ratio_that_falls_back_to_its_default_is_named() -> None:
    one_off = COSTS.iloc[:1]
    res = value_asset(_signals(_smooth()), one_off, None, ASSET, AS_OF, _market(), 500, 1)
    msgs = [w["message"] for w in res.warnings if w["code"] == "default_assumption"]
    assert any(m.startswith("cost_ratio") for m in msgs)


def test_recurring_costs_that_just_ended_still_count() -> None:
    ending = COSTS.copy()
    ending.loc[1, "recurring_months"] = 36  # 2023-01-10 .. 2025-12-10, ended before as_of
    a = _income(_smooth(), as_of=date(2025, 12, 31), costs=ending)
    b = _income(_smooth(), as_of=date(2026, 1, 1), costs=ending)
    assert abs(b / a - 1.0) < 0.02


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(day=st.integers(0, 364))
def test_a_one_day_move_of_as_of_moves_no_approach_by_more_than_two_percent(day) -> None:
    d0 = date(2025, 7, 1) + timedelta(days=day)
    d1 = d0 + timedelta(days=1)
    if d1.day == 1 or d0.day == 10 or d1.day == 10:  # a month completes, or a cost falls, between
        return
    sig = _signals(_smooth(48, seed=4), start="2022-01-01")
    comps = pd.DataFrame(
        {
            "category": "consumer",
            "price": [900_000.0, 1_100_000.0, 1_000_000.0, 950_000.0],
            "currency": "CNY",
            "traded_on": [
                date(2024, 3, 15),
                date(2024, 5, 15),
                date(2024, 8, 15),
                date(2024, 11, 15),
            ],
            "records": [2_000_000] * 4,
            "quality_score": [0.8] * 4,
            "rights_scope": "processing_use",
        }
    )
    r0 = value_asset(sig, COSTS, comps, ASSET, d0, _market(d0), 500, 1)
    r1 = value_asset(sig, COSTS, comps, ASSET, d1, _market(d1), 500, 1)
    for m in r0.methods:
        assert abs(r1.methods[m].value / r0.methods[m].value - 1.0) < 0.02, m
    assert abs(r1.value / r0.value - 1.0) < 0.02
