"""Bump-and-revalue sensitivities against analytic derivatives."""

from __future__ import annotations

import numpy as np
import pytest

from risk.book import AssetPosition, Book, LoanPosition
from risk.inputs import MarketGrid, RunConfig
from risk.runner import StressRunner
from risk.sensitivities import Bumps, sensitivities
from valuation.errors import ConventionError


def _deterministic_runner() -> StressRunner:
    a = AssetPosition(
        id="x",
        category="industrial",
        currency="CNY",
        revenue_0=1000.0,
        growth_rate=0.0,
        volatility=0.0,
        economic_life_months=24,
        risk_premium=0.04,
    )
    loan = LoanPosition(
        id="l",
        currency="CNY",
        principal=10_000.0,
        pd=0.02,
        lgd=0.4,
        annual_rate=0.05,
        maturity_years=2.0,
        collateral={"x": 1.0},
    )
    return StressRunner(
        Book.build("CNY", [a], [loan]), MarketGrid.flat(0.03, 24), RunConfig(n_paths=4)
    )


def test_dv01_of_a_deterministic_asset_is_the_analytic_derivative() -> None:
    res = sensitivities(_deterministic_runner(), bumps=Bumps(rate_bp=0.5))
    t = np.arange(1, 25) / 12
    cf = 1000.0 * np.exp(-0.07 * t)
    dv01 = -np.sum(t * cf) * 1e-4  # dV/dr per bp, continuous compounding
    row = res.table.set_index(["kind", "id"]).loc[("asset", "x")]
    assert row["dv01"] == pytest.approx(dv01, rel=1e-7)  # central difference, O(h^2)
    assert row["cs01"] == 0.0
    assert row["revenue_elasticity"] == pytest.approx(1.0, rel=1e-12)
    loan = res.table.set_index(["kind", "id"]).loc[("loan", "l")]
    assert loan["dv01"] < 0
    assert loan["cs01"] < 0
    # both shift the discount curve; the bumps differ (0.5 vs 1 bp), so O(h^2) apart
    assert loan["dv01"] == pytest.approx(loan["cs01"], rel=1e-7)
    assert res.to_json()["bumps"]["rate_bp"] == 0.5


def test_totals_and_signs(runner: StressRunner) -> None:
    res = sensitivities(runner)
    table = res.table
    per = table[table["kind"].isin(["asset", "loan", "tranche"])]
    total = table.set_index("kind").loc["total"]
    assert total["dv01"] == pytest.approx(per["dv01"].sum(), rel=1e-12)
    assert total["correlation_sensitivity"] == pytest.approx(
        per["correlation_sensitivity"].sum(), rel=1e-12
    )
    tranches = per[per["kind"] == "tranche"].set_index("id")
    # more correlation moves loss from the equity to the senior tranche
    assert tranches.loc["s1-equity", "correlation_sensitivity"] < 0
    assert tranches.loc["s1-senior", "correlation_sensitivity"] > 0
    loans = per[per["kind"] == "loan"]
    assert (loans["revenue_elasticity"] <= 0).all()  # more revenue, less expected loss
    assert (per[per["kind"] == "asset"]["dv01"] < 0).all()


def test_bad_bumps() -> None:
    with pytest.raises(ConventionError) as info:
        Bumps(rate_bp=0.0)
    assert info.value.field == "bumps.rate_bp"
