"""Adapters: positions from valuation simulations and revenue histories."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import numpy as np
import pytest

from risk.adapters import asset_from_revenue, asset_from_simulation, implied_risk_premium
from risk.book import Book
from risk.inputs import MarketGrid, RunConfig
from risk.library import get_builtin
from risk.runner import run_stress
from risk.scenarios import Scenario, Shocks
from valuation.errors import CalibrationError, InsufficientDataError


def test_implied_premium_recovers_a_known_premium() -> None:
    grid = MarketGrid.flat(0.02, 36)
    rng = np.random.default_rng(0)
    paths = rng.lognormal(np.log(100.0), 0.2, size=(50, 36))
    target = float(np.mean(paths @ (grid.discount_factors * np.exp(-0.07 * grid.times_years))))
    assert implied_risk_premium(paths, target, grid) == pytest.approx(0.07, abs=1e-12)
    with pytest.raises(CalibrationError):
        implied_risk_premium(paths, -1.0, grid)


def test_stress_base_reproduces_the_valuation_it_was_built_from() -> None:
    # the valuation engine's own Monte Carlo on a generated sample asset
    from samples.data_assets import generate_samples
    from valuation import value_asset
    from valuation.asset import AssetProfile
    from valuation.conventions import Compounding, DayCount
    from valuation.market import MarketData

    sample = generate_samples(3, n_assets=1).assets[0]
    as_of = date(2026, 1, 1)
    market = MarketData.flat_rate(
        as_of, 0.018, currency="CNY", day_count=DayCount.ACT_365F, compounding=Compounding.ANNUAL
    )
    result = value_asset(
        sample.signals,
        sample.costs,
        None,
        AssetProfile.from_mapping(sample.profile),
        as_of,
        market,
        64,
        5,
        currency="CNY",
    )
    grid = MarketGrid.from_market(market, 120)
    position = asset_from_simulation(
        asset_id="a",
        category=sample.category,
        currency="CNY",
        simulation=result.simulation,
        grid=grid,
        cross_border=True,
        target_value=float(result.value),
    )
    book = Book.build("CNY", [position])
    res = run_stress(book, get_builtin("data_demand_slump"), grid, config=RunConfig(n_paths=64))[0]
    cv = res.aggregate.loc["collateral_value"]
    assert cv["base"] == pytest.approx(float(result.value), rel=1e-10)
    # a uniform revenue factor scales the value (the slump also shifts growth and volatility)
    level_only = run_stress(
        book, Scenario("level", Shocks(revenue_multiplier=0.8)), grid, config=RunConfig(n_paths=64)
    )[0]
    assert level_only.aggregate.loc["collateral_value", "stressed"] == pytest.approx(
        0.8 * float(result.value), rel=1e-12
    )
    assert cv["stressed"] < cv["base"]


def test_revenue_fit_recovers_trend() -> None:
    t = np.arange(24)
    revenue = 1000.0 * np.exp(0.01 * t)
    pos = asset_from_revenue(
        asset_id="x",
        category="financial",
        currency="CNY",
        revenue=revenue,
        cross_border=False,
        cash_share=0.5,
    )
    assert pos.growth_rate == pytest.approx(0.12, rel=1e-9)
    assert pos.volatility == 0.05  # floor: a perfect fit has no residual
    assert pos.revenue_0 == pytest.approx(0.5 * revenue[-1], rel=1e-9)
    with pytest.raises(InsufficientDataError) as info:
        asset_from_revenue(
            asset_id="x",
            category="financial",
            currency="CNY",
            revenue=np.array([1.0, 2.0]),
            cross_border=False,
        )
    assert info.value.field == "signals"


def test_simulation_object_duck_typing() -> None:
    grid = MarketGrid.flat(0.02, 12)
    sim = SimpleNamespace(revenue=np.full((8, 12), 10.0), values=np.full(8, 100.0))
    pos = asset_from_simulation(
        asset_id="s",
        category="consumer",
        currency="CNY",
        simulation=sim,
        grid=grid,
        cross_border=False,
    )
    value = float(
        np.sum(10.0 * grid.discount_factors * np.exp(-pos.risk_premium * grid.times_years))
    )
    assert value == pytest.approx(100.0, rel=1e-12)
