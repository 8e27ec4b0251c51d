"""The stress engine's asset stage draws its paths with valuation's one generator."""

from __future__ import annotations

import math

import numpy as np
import pytest

from risk.inputs import QUANTILE_LEVELS, MarketGrid, RunConfig, Variant, _asset_seed
from risk.kernels import _asset_chunk, _AssetTask
from risk.scenarios import Shocks
from valuation.haircut import haircut_from_quantile
from valuation.paths import lognormal_paths_reference


def test_stress_asset_chunk_equals_a_loop_over_the_reference_generator() -> None:
    """The stress engine's asset stage: values and haircuts from reference paths, asset by asset."""
    n_p, months, seed = 64, 18, 7
    grid = MarketGrid.flat(0.02, months)
    task = _AssetTask(
        ids=("a", "b"),
        categories=("finance", "retail"),
        cross_border=np.array([False, True]),
        revenue_0=np.array([100.0, 50.0]),
        growth=np.array([0.05, -0.02]),
        vol=np.array([0.3, 0.1]),
        hazard=np.array([0.2, 0.0]),
        half_life=np.array([36.0, np.inf]),
        life=np.array([12, 18]),
        premium=np.array([0.04, 0.06]),
        liq_cost=np.array([0.1, 0.05]),
        paths={},
    )
    config = RunConfig(n_paths=n_p, seed=seed)
    out = _asset_chunk(task, variants=(Variant(Shocks(), 0),), grid=grid, config=config)
    t, k = grid.times_years, np.arange(1, months + 1)
    for i, aid in enumerate(task.ids):
        rng = np.random.default_rng(_asset_seed(seed, aid))
        z = rng.standard_normal((n_p, months)).T
        u = 1.0 - rng.random((n_p, 2))[:, 0]
        haz = task.hazard[i]
        tau = -np.log(u) / haz if haz > 0 else np.full(n_p, np.inf)
        alive = np.array([np.sum(t <= x) for x in tau])
        decay = 0.5 ** (k / task.half_life[i]) if np.isfinite(task.half_life[i]) else 1.0
        mean = task.revenue_0[i] * decay * (k <= task.life[i]) * np.exp(task.growth[i] * t)
        with np.errstate(divide="ignore"):
            log_mean = np.log(mean)
        cf = lognormal_paths_reference(
            z[None],
            log_mean[None],
            np.array([task.vol[i] / math.sqrt(12.0)]),
            jump_month=(alive + 1.0)[None],
            jump_loss=1.0,
        )[0]
        df = grid.discount_factors * np.exp(-task.premium[i] * t)
        values = (cf * df[:, None]).sum(axis=0)
        v0 = values.mean()
        q = np.quantile(values, [*QUANTILE_LEVELS, 1.0 - config.haircut_confidence])
        h = haircut_from_quantile(
            np.array([v0]),
            np.array([q[-1]]),
            liquidation_cost=task.liq_cost[i],
            floor=config.haircut_floor,
        )
        assert out.value_0[0, i] == pytest.approx(v0, rel=1e-12)
        assert out.haircut[0, i] == pytest.approx(float(h[0]), rel=1e-12)
        np.testing.assert_allclose(out.quantiles[0, i], q[:-1], rtol=1e-12)
