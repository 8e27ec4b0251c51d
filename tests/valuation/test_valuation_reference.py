"""Independent references: textbook identities (tests/data/valuation/identities.json)."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from valuation.conventions import Compounding, DayCount
from valuation.income import annuity_factor, present_value
from valuation.market import MarketData, flat_annual_discount_factors
from valuation.montecarlo import standard_error
from valuation.paths import revenue_paths

REF = json.loads((Path(__file__).parents[1] / "data" / "valuation" / "identities.json").read_text())
TOL = REF["tolerance"]  # 1e-9, stated in the shared reference README


def test_annuity_factor_matches_textbook() -> None:
    case = REF["annuity_present_value"]
    pv = case["payment"] * annuity_factor(case["rate"], case["periods"])
    assert pv == pytest.approx(case["present_value"], rel=TOL)
    assert round(pv, 2) == 379.08


def test_annuity_through_the_quantlib_curve() -> None:
    # Payment dates 365 days apart: ACT/365F year fractions are exactly 1, 2, ..., 5,
    # so QuantLib's flat annual-compounded curve must give the textbook annuity.
    case = REF["annuity_present_value"]
    as_of = date(2025, 1, 1)
    dates = [as_of + timedelta(days=365 * k) for k in range(1, case["periods"] + 1)]
    dfs = flat_annual_discount_factors(as_of, dates, case["rate"])
    assert float(case["payment"] * dfs.sum()) == pytest.approx(case["present_value"], rel=TOL)
    curve = MarketData.flat_rate(
        as_of,
        case["rate"],
        currency="CNY",
        day_count=DayCount.ACT_365F,
        compounding=Compounding.ANNUAL,
    )
    assert float(case["payment"] * curve.discount_factors(dates).sum()) == pytest.approx(
        case["present_value"], rel=TOL
    )
    t = np.arange(1, 6, dtype=float)
    assert present_value(np.full(5, 100.0), t, 0.1) == pytest.approx(case["present_value"], rel=TOL)


@pytest.mark.parametrize(
    ("mu", "sigma", "months"), [(0.01, 0.08, 24), (-0.005, 0.15, 60), (0.0, 0.3, 12)]
)
def test_lognormal_monte_carlo_mean_within_three_standard_errors(
    mu: float, sigma: float, months: int
) -> None:
    # E[R_t] = R_0 exp((mu + sigma^2 / 2) t) for d ln R = mu dt + sigma dW (identities.json).
    r0 = 1_000.0
    rng = np.random.default_rng(12345)
    paths = revenue_paths(r0, mu, sigma, months, 20_000, rng, antithetic=True)
    expected = r0 * math.exp((mu + sigma**2 / 2.0) * months)
    last = np.ascontiguousarray(paths[:, -1])
    se = standard_error(last, antithetic=True)
    assert abs(last.mean() - expected) < 3.0 * se
    # every month, not just the last
    k = np.arange(1, months + 1)
    means = paths.mean(axis=0)
    ses = np.array(
        [standard_error(np.ascontiguousarray(paths[:, j]), antithetic=True) for j in range(months)]
    )
    assert np.all(np.abs(means - r0 * np.exp((mu + sigma**2 / 2.0) * k)) < 4.0 * ses)


def test_antithetic_standard_error_is_smaller_for_a_monotone_payoff() -> None:
    rng = np.random.default_rng(7)
    anti = revenue_paths(100.0, 0.0, 0.2, 12, 10_000, rng, antithetic=True)[:, -1].copy()
    plain = revenue_paths(100.0, 0.0, 0.2, 12, 10_000, rng, antithetic=False)[:, -1].copy()
    assert standard_error(anti, antithetic=True) < standard_error(plain, antithetic=False)
