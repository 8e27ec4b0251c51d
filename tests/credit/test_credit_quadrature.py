"""The recursion's factor integration: adaptive to a stated tolerance on any pool, with an error
estimate that holds, and the compiled kernel equal to the numpy path."""

from __future__ import annotations

import math

import numpy as np
import pytest

import credit.contributions as contributions
import credit.recursion as recursion
from credit import _recursion_kernel
from credit.contributions import portfolio_risk
from credit.portfolio import recursion_distribution, tranche_expected_loss
from credit.recursion import conditional_pd, factor_quadrature, loss_grid
from valuation.errors import ConventionError

TRANCHES = [(0.0, 0.03), (0.03, 0.07), (0.07, 0.10), (0.10, 0.15), (0.15, 0.30), (0.30, 1.0)]
MAX_UNITS = 1024


def pool(seed: int, n: int = 300, rho: float | None = None, pd: float | None = None):  # type: ignore[no-untyped-def]
    """Heterogeneous by default: PD 1e-4..0.5 (log-uniform), exposures over a factor of 1,000,
    LGD 0.2..1, correlation 0.01..0.9; or one correlation / PD for every name."""
    rng = np.random.default_rng(seed)
    pds = np.exp(rng.uniform(math.log(1e-4), math.log(0.5), n)) if pd is None else np.full(n, pd)
    eads = np.exp(rng.uniform(0.0, math.log(1000.0), n))
    lgds = rng.uniform(0.2, 1.0, n)
    rhos = rng.uniform(0.01, 0.9, n) if rho is None else np.full(n, rho)
    return pds, eads, lgds, rhos


def tranche_els(losses: np.ndarray, probs: np.ndarray, total: float) -> np.ndarray:
    return np.array([tranche_expected_loss(losses / total, probs, a, d) for a, d in TRANCHES])


def trapezoid_reference(pds, eads, lgds, rhos, n_nodes: int = 4001, z_max: float = 10.0):  # type: ignore[no-untyped-def]
    """An independent converged reference: the trapezoidal rule on a fine uniform grid in z
    (geometric convergence for these integrands), on the same loss grid."""
    grid = loss_grid(eads * lgds, max_units=MAX_UNITS)
    z = np.linspace(-z_max, z_max, n_nodes)
    w = (z[1] - z[0]) * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    probs = np.zeros(grid.n_units + 1)
    for chunk in np.array_split(np.arange(n_nodes), 8):
        probs += w[chunk] @ recursion.conditional_distributions(
            conditional_pd(pds, rhos, z[chunk]), grid
        )
    probs = np.clip(probs, 0.0, None) / probs.sum()
    return np.arange(probs.size) * grid.unit, probs


CASES = {
    "heterogeneous": {},
    "rho 0.01, pd 0.5": {"rho": 0.01, "pd": 0.5},
    "rho 0.9, pd 1e-4": {"rho": 0.9, "pd": 1e-4},
    "rho 0.9, pd 0.5": {"rho": 0.9, "pd": 0.5},
    "rho 0.01, pd 1e-4": {"rho": 0.01, "pd": 1e-4},
    "rho 0.5, pd 0.02": {"rho": 0.5, "pd": 0.02},
}


@pytest.mark.parametrize("case", list(CASES))
def test_tranche_els_within_the_tolerance_of_a_converged_reference(case: str) -> None:
    pds, eads, lgds, rhos = pool(3, **CASES[case])
    total = float(eads.sum())
    d = recursion_distribution(pds, eads, lgds, rhos, max_units=MAX_UNITS)
    ref_losses, ref_probs = trapezoid_reference(pds, eads, lgds, rhos)
    error = np.abs(
        tranche_els(d.losses, d.probabilities, total) - tranche_els(ref_losses, ref_probs, total)
    ).max()
    assert d.integration.converged
    assert d.integration.tolerance == 1e-7
    assert d.integration.error_estimate <= 1e-7
    assert error <= 1e-7, (case, error)
    # the estimate bounds the distribution function's error, hence every tranche's
    cdf_error = np.abs(np.cumsum(d.probabilities) - np.cumsum(ref_probs)).max()
    assert cdf_error <= max(d.integration.error_estimate, 1e-12)


def test_a_fixed_rule_fails_where_the_adaptive_rule_holds() -> None:
    """At rho 0.9 the conditional distribution switches within hundredths of z: 128 fixed
    Gauss-Legendre nodes miss it by far more than the tolerance."""
    pds, eads, lgds, rhos = pool(3, rho=0.9, pd=0.5)
    total = float(eads.sum())
    ref = tranche_els(*trapezoid_reference(pds, eads, lgds, rhos), total)
    fixed = recursion_distribution(pds, eads, lgds, rhos, n_nodes=128, max_units=MAX_UNITS)
    adaptive = recursion_distribution(pds, eads, lgds, rhos, max_units=MAX_UNITS)
    assert fixed.integration.error_estimate is None
    assert np.abs(tranche_els(fixed.losses, fixed.probabilities, total) - ref).max() > 1e-5
    assert np.abs(tranche_els(adaptive.losses, adaptive.probabilities, total) - ref).max() <= 1e-7
    assert adaptive.integration.nodes_evaluated > adaptive.integration.n_nodes >= 128


def test_a_budget_that_runs_out_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recursion, "MAX_ADAPTIVE_NODES", 64)
    pds, eads, lgds, rhos = pool(3, rho=0.9, pd=0.5)
    d = recursion_distribution(pds, eads, lgds, rhos, max_units=MAX_UNITS)
    assert not d.integration.converged
    assert d.integration.error_estimate > 1e-7


def test_portfolio_risk_reports_the_integration() -> None:
    pds, eads, lgds, rhos = pool(5, n=40)
    risk = portfolio_risk(pds, eads, lgds, rhos, contributions=True)
    assert risk.integration is not None
    assert risk.integration.error_estimate <= 1e-7
    assert risk.n_nodes == risk.integration.n_nodes
    assert risk.var_contributions.sum() == pytest.approx(risk.var, rel=1e-9)
    assert (
        portfolio_risk(
            pds, eads, lgds, rhos, method="mc", n_paths=2000, contributions=False
        ).integration
        is None
    )


@pytest.mark.parametrize("tolerance", [0.0, -1e-7, 0.5, float("nan")])
def test_bad_tolerance_names_the_field(tolerance: float) -> None:
    with pytest.raises(ConventionError) as err:
        recursion_distribution([0.02] * 5, [1.0] * 5, 0.45, 0.2, tolerance=tolerance)
    assert err.value.field == "tolerance"


@pytest.mark.skipif(not _recursion_kernel.AVAILABLE, reason="numba is not installed")
@pytest.mark.parametrize("max_units", [None, 200])
def test_compiled_recursion_equals_the_numpy_path(max_units: int | None) -> None:
    """Exact grids and split (mean-preserving) grids, with zero-loss names among them."""
    rng = np.random.default_rng(8)
    n = 60
    pds = rng.uniform(1e-3, 0.4, n)
    amounts = (
        rng.integers(0, 6, n).astype(float) if max_units is None else rng.uniform(0.0, 50.0, n)
    )
    amounts[:3] = 0.0
    rhos = rng.uniform(0.01, 0.9, n)
    grid = loss_grid(amounts, max_units=max_units or recursion.DEFAULT_MAX_UNITS)
    assert grid.exact == (max_units is None)
    z, _ = factor_quadrature(32)
    cp = conditional_pd(pds, rhos, z)
    fast = recursion.conditional_distributions(cp, grid)
    slow = recursion.conditional_distributions_reference(cp, grid)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-14)
    np.testing.assert_allclose(fast.sum(axis=1), 1.0, atol=1e-12)


def test_contributions_on_a_split_grid_equal_leaving_each_loan_out() -> None:
    """Euler VaR contributions of an inexact (split) grid with PDs near 1/2, against the
    recursion of the pool without each loan at every node (no rescaling hidden)."""
    pds, eads, lgds, rhos = pool(5, n=40)
    amounts = eads * lgds
    losses, probs, cond, cp, w, grid, _ = recursion.integrate_recursion(
        pds, amounts, rhos, n_nodes=64, z_max=8.5, loss_unit=None, max_units=300
    )
    assert not grid.exact
    var_index = int(np.searchsorted(np.cumsum(probs), 0.99))
    var_c, _ = contributions._recursion_contributions(
        cond, cp, w, grid, amounts, var_index, 0.99, probs
    )
    for i in range(len(pds)):
        at_v, _ = contributions._direct_joint(cp, grid, i, var_index, cond.shape[1])
        assert var_c[i] == pytest.approx(
            amounts[i] * float(w @ at_v) / probs[var_index], rel=1e-8, abs=1e-9
        )
