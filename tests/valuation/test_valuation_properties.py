"""Property tests (hypothesis): monotone in revenue, discount rate and decay; homogeneous; never negative."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from valuation import IncomeValuer, value_asset
from valuation.asset import AssetProfile, Quality, Rights
from valuation.conventions import Compounding, DayCount
from valuation.market import MarketData
from valuation.results import ValuationInputs

AS_OF = date(2026, 1, 1)
MARKET = MarketData.flat_rate(
    AS_OF, 0.02, currency="CNY", day_count=DayCount.ACT_365F, compounding=Compounding.ANNUAL
)
ASSET = AssetProfile(
    "p", "prop", "consumer", Rights(), Quality(0.9, 0.9, 0.9, 0.9, 0.7, 0.9), 10_000, 7.0
)
MONTHS = pd.date_range("2023-01-01", periods=36, freq="MS")
SHAPE = np.exp(0.01 * np.arange(36) + 0.04 * np.random.default_rng(0).standard_normal(36))
FAST = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _signals(level: float, shape: np.ndarray = SHAPE) -> pd.DataFrame:
    return pd.DataFrame({"month": MONTHS, "metric": "revenue", "value": level * shape})


def _income(level: float, **kw) -> float:
    inputs = ValuationInputs(_signals(level), None, None, ASSET, "CNY")
    return IncomeValuer(**kw).value(inputs, as_of=AS_OF, market=MARKET).value


@FAST
@given(level=st.floats(1.0, 1e7), factor=st.floats(1.01, 10.0))
def test_value_rises_with_revenue(level: float, factor: float) -> None:
    assert _income(level * factor) > _income(level)


@FAST
@given(r1=st.floats(-0.05, 0.5), dr=st.floats(0.005, 0.3))
def test_value_falls_with_the_discount_rate(r1: float, dr: float) -> None:
    assert _income(1e5, discount_rate=r1 + dr) < _income(1e5, discount_rate=r1)


@FAST
@given(h=st.floats(2.0, 200.0), shrink=st.floats(0.05, 0.95), life=st.none() | st.integers(1, 240))
def test_value_falls_with_faster_decay(h: float, shrink: float, life: int | None) -> None:
    slow = _income(1e5, half_life_months=h, economic_life_months=life)
    fast = _income(1e5, half_life_months=h * shrink, economic_life_months=life)
    assert fast < slow


@FAST
@given(
    form=st.sampled_from(["direct", "split", "excess_earnings", "incremental"]),
    share=st.none() | st.floats(0.0, 1.0),
    cost_ratio=st.none() | st.floats(0.0, 1.0),
    tax=st.floats(0.0, 0.99),
    charge=st.floats(0.0, 1.0),
    rate=st.none() | st.floats(-0.5, 0.9),
    level=st.floats(0.0, 1e8),
)
def test_income_value_is_never_negative(form, share, cost_ratio, tax, charge, rate, level) -> None:
    v = _income(
        max(level, 1e-3),
        income_form=form,
        revenue_share=share,
        cost_ratio=cost_ratio,
        tax_rate=tax,
        contributory_charge_rate=charge,
        discount_rate=rate,
    )
    assert v >= 0.0
    assert np.isfinite(v)


def _costs(k: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "category": ["acquisition", "storage"],
            "amount": [90_000.0 * k, 700.0 * k],
            "currency": "CNY",
            "incurred_on": [date(2023, 1, 1)] * 2,
            "recurring_months": [0, 36],
        }
    )


def _comps(k: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "category": "consumer",
            "price": np.array([3e5, 4e5, 5e5, 2.5e5]) * k,
            "currency": "CNY",
            "traded_on": [date(2025, m, 15) for m in (2, 5, 8, 11)],
            "records": [8_000, 12_000, 20_000, 5_000],
            "quality_score": [0.8, 0.9, 0.85, 0.7],
            "rights_scope": ["holding", "product_operation", "processing_use", "holding"],
        }
    )


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(k=st.floats(1e-3, 1e4), seed=st.integers(0, 2**32))
def test_value_asset_is_homogeneous_and_non_negative(k: float, seed: int) -> None:
    base = value_asset(_signals(1e4), _costs(1.0), _comps(1.0), ASSET, AS_OF, MARKET, 500, seed)
    scaled = value_asset(_signals(1e4 * k), _costs(k), _comps(k), ASSET, AS_OF, MARKET, 500, seed)
    assert scaled.value == pytest.approx(k * base.value, rel=1e-6)
    for m in base.methods:
        assert scaled.methods[m].value == pytest.approx(k * base.methods[m].value, rel=1e-6)
    for f in ("mean", "std", "p05", "p50", "p95"):
        assert getattr(scaled.distribution, f) == pytest.approx(
            k * getattr(base.distribution, f), rel=1e-6
        )
    q = scaled.quote
    assert q.lending_value == pytest.approx(k * base.quote.lending_value, rel=1e-6)
    assert 0.0 <= q.bid <= q.mid <= q.ask
    assert 0.0 <= q.lending_value <= q.mid
    assert scaled.distribution.p05 >= 0.0
