"""Monte Carlo paths: mean-preserving obsolescence jump, horizon values, reproducibility."""

from __future__ import annotations

import math

import numpy as np
import pytest

from valuation import IncomeValuer, value_asset
from valuation.errors import ConventionError
from valuation.montecarlo import simulate_plan, standard_error
from valuation.paths import discount_paths, simulate_cash_flows, simulate_values_batch
from valuation.results import ValuationInputs


def _plan(build, **kw):
    inputs = ValuationInputs(
        build.revenue_frame(build.noisy_growth(36, seed=9)), None, None, build.asset(), "CNY"
    )
    return IncomeValuer(**kw).plan(inputs, as_of=build.as_of, market=build.market())


def test_simulated_mean_reproduces_the_deterministic_income_value(build) -> None:
    plan = _plan(build)
    for seed in (1, 2, 3):
        sim = simulate_plan(plan, n_paths=20_000, seed=seed)
        assert abs(sim.values.mean() - plan.value) < 4.0 * sim.std_error
        # month by month too (mean-preserving construction)
        assert np.allclose(sim.revenue.mean(axis=0), plan.cash_flows, rtol=0.05)


def test_jump_hazard_stress_lowers_the_mean(build) -> None:
    plan = _plan(build)
    base = simulate_plan(plan, n_paths=5_000, seed=1)
    stressed = simulate_plan(plan, n_paths=5_000, seed=1, extra_hazard_per_month=0.05)
    assert stressed.values.mean() < base.values.mean() - 5 * base.std_error
    assert stressed.parameters["jump_hazard_per_month"] > base.parameters["jump_hazard_per_month"]


def test_jump_probability_matches_the_hazard() -> None:
    rng = np.random.default_rng(0)
    h, months, n = 0.03, 24, 40_000
    cf = simulate_cash_flows(
        np.ones(months), 0.0, n, rng, jump_hazard=h, jump_loss=0.5, compensated_hazard=0.0
    )
    jumped = cf[:, -1] < 0.75  # 0.5 after the jump, 1.0 before
    p = 1.0 - math.exp(-h * months)
    assert abs(jumped.mean() - p) < 4.0 * math.sqrt(p * (1 - p) / n)


def test_horizon_value_at_zero_is_the_value_and_beyond_life_is_zero(build) -> None:
    sim = simulate_plan(_plan(build, economic_life_months=36), n_paths=1_000, seed=4)
    assert sim.horizon_value(0) == pytest.approx(sim.values, rel=1e-12)
    assert np.all(sim.horizon_value(36) == 0.0)
    h = 12
    manual = (sim.revenue[:, h:] * (sim.discount_factors[h:] / sim.discount_factors[h - 1])).sum(
        axis=1
    )
    assert sim.horizon_value(h) == pytest.approx(manual, rel=1e-12)
    with pytest.raises(ConventionError):
        sim.horizon_value(-1)
    assert not sim.revenue.flags.writeable
    assert sim.revenue.shape == (1_000, 36)
    assert sim.values.shape == (1_000,)


def test_value_asset_is_reproducible_by_seed(build) -> None:
    args = (
        build.revenue_frame(build.noisy_growth(36, seed=2)),
        build.costs(),
        build.comparables(),
        build.asset(),
        build.as_of,
        build.market(),
        3_000,
    )
    a = value_asset(*args, seed=42)
    b = value_asset(*args, seed=42)
    c = value_asset(*args, seed=43)
    assert a.value == b.value
    assert np.array_equal(a.simulation.values, b.simulation.values)
    assert np.array_equal(a.simulation.revenue, b.simulation.revenue)
    assert a.distribution == b.distribution
    assert a.quote == b.quote
    assert not np.array_equal(a.simulation.values, c.simulation.values)
    assert a.seed == 42
    assert a.simulation.seed == 42


def test_single_path_and_odd_path_counts(build) -> None:
    plan = _plan(build)
    one = simulate_plan(plan, n_paths=1, seed=0)
    assert one.values.shape == (1,)
    assert one.std_error == 0.0
    odd = simulate_plan(plan, n_paths=7, seed=0)
    assert odd.values.shape == (7,)
    assert odd.revenue[4] == pytest.approx(
        np.asarray(odd.revenue[4])
    )  # antithetic of path 0 exists
    assert standard_error(np.array([1.0, 2.0, 3.0, 4.0]), antithetic=True) >= 0.0


def test_batch_across_assets_matches_the_single_asset_model() -> None:
    rng = np.random.default_rng(5)
    months = 24
    expected = np.vstack(
        [np.full(months, 100.0), np.full(months, 50.0) * 0.98 ** np.arange(months)]
    )
    dfs = 1.1 ** (-np.arange(1, months + 1) / 12)
    values = simulate_values_batch(
        expected,
        np.array([0.05, 0.1]),
        dfs,
        20_000,
        rng,
        jump_hazard=np.array([0.01, 0.02]),
        jump_loss=0.4,
        chunk_assets=1,
    )
    for a in range(2):
        se = standard_error(values[a], antithetic=True)
        assert abs(values[a].mean() - expected[a] @ dfs) < 4 * se
    single = discount_paths(
        simulate_cash_flows(expected[0], 0.05, 20_000, rng, jump_hazard=0.01, jump_loss=0.4), dfs
    )
    assert abs(single.mean() - values[0].mean()) < 6 * standard_error(single, antithetic=True)


def test_large_simulations_run_in_blocks_and_replay_their_revenue(build, monkeypatch) -> None:
    import valuation.montecarlo as mc

    plan = _plan(build, economic_life_months=24)
    monkeypatch.setattr(mc, "CHUNK_PATHS", 400)
    kept = simulate_plan(plan, n_paths=1_000, seed=9)
    monkeypatch.setattr(mc, "MAX_STORED_CELLS", 100)
    replayed = simulate_plan(plan, n_paths=1_000, seed=9)
    assert kept.stored_revenue is not None
    assert replayed.stored_revenue is None
    assert np.array_equal(kept.values, replayed.values)
    assert np.array_equal(kept.revenue, replayed.revenue)
    assert np.array_equal(kept.horizon_value(6), replayed.horizon_value(6))
    assert kept.std_error == replayed.std_error > 0
    assert replayed.revenue.shape == (1_000, 24)
    assert discount_paths(replayed.revenue, replayed.discount_factors) == pytest.approx(
        replayed.values, rel=1e-12
    )


def test_without_volatility_or_jumps_every_path_is_the_income_value(build) -> None:
    plan = _plan(build)
    sim = simulate_plan(
        plan,
        n_paths=64,
        seed=1,
        jump_loss=0.0,
        volatility_multiplier=0.0,
        parameter_uncertainty=False,
    )
    assert sim.values == pytest.approx(np.full(64, plan.value), rel=1e-12)
    assert sim.std_error == pytest.approx(0.0, abs=1e-9 * plan.value)
