"""The one revenue-path generator: the kernel equals its reference loop, for every caller."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from valuation.paths import (
    compensated_log_mean,
    jump_months,
    lognormal_paths,
    lognormal_paths_reference,
    random_walk,
    simulate_cash_flows,
)


def _kernel(z, log_mean, sigma, **kw):
    return lognormal_paths(random_walk(z.copy()), log_mean, sigma, **kw)


@settings(max_examples=40, deadline=None)
@given(
    n_assets=st.integers(1, 3),
    months=st.integers(1, 7),
    n_paths=st.integers(1, 5),
    jump_loss=st.sampled_from([0.0, 0.3, 1.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_kernel_equals_reference_loop(n_assets, months, n_paths, jump_loss, seed) -> None:
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n_assets, months, n_paths))
    log_mean = rng.normal(3.0, 1.0, (n_assets, months))
    log_mean[rng.random((n_assets, months)) < 0.2] = -math.inf  # months without revenue
    sigma = rng.uniform(0.0, 0.3, n_assets)
    tau = np.where(rng.random((n_assets, n_paths)) < 0.3, np.inf, rng.uniform(0, months + 1))
    fast = _kernel(z, log_mean, sigma, jump_month=tau, jump_loss=jump_loss)
    slow = lognormal_paths_reference(z, log_mean, sigma, jump_month=tau, jump_loss=jump_loss)
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=0.0)


def test_mean_of_the_paths_is_the_expected_cash_flow() -> None:
    """``E[CF_k] = E_k`` with a compensated jump: the generator only adds dispersion."""
    months, n = 24, 200_000
    expected = np.linspace(100.0, 60.0, months)
    hazard, loss = 0.02, 0.5
    cf = simulate_cash_flows(
        expected, 0.08, n, np.random.default_rng(3), jump_hazard=hazard, jump_loss=loss
    )
    se = cf.std(axis=0) / math.sqrt(n)
    assert np.all(np.abs(cf.mean(axis=0) - expected) < 4.0 * se)


def test_one_asset_path_is_the_batch_kernel_on_one_asset() -> None:
    expected = np.array([10.0, 9.0, 8.0, 0.0, 7.0])
    rng = np.random.default_rng(11)
    cf = simulate_cash_flows(
        expected, 0.1, 6, rng, antithetic=False, jump_hazard=0.1, jump_loss=0.4
    )
    rng = np.random.default_rng(11)
    z = rng.standard_normal((5, 6))
    tau = jump_months(rng.random(6), 0.1)
    ref = lognormal_paths_reference(
        z[None],
        compensated_log_mean(expected, 0.1, 0.4)[None],
        np.array([0.1]),
        jump_month=tau[None],
        jump_loss=0.4,
    )
    np.testing.assert_allclose(cf, ref[0].T, rtol=1e-12)
