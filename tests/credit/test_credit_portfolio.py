"""Portfolio loss: LHP closed form, exact recursion, Monte Carlo, risk measures, contributions."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate
from scipy.stats import norm

from credit.contributions import portfolio_risk
from credit.portfolio import (
    expected_shortfall,
    loss_distribution,
    tranche_expected_loss,
    value_at_risk,
    vasicek_tranche_loss,
)
from credit.recursion import (
    LossGrid,
    conditional_distributions,
    conditional_pd,
    factor_quadrature,
    loss_grid,
)
from credit.vasicek import bivariate_normal_cdf, vasicek_loss_quantile
from valuation.errors import ConventionError

DATA = Path(__file__).parents[1] / "data" / "credit"
# closed form checked by numerical integration (../shared/reference/vasicek_lhp.json)
LHP = json.loads((DATA / "vasicek_lhp.json").read_text())
# exact recursion with 800-node Gauss-Legendre, checked by 1M-path MC (copula_pool_125.json)
POOL = json.loads((DATA / "copula_pool_125.json").read_text())


def _pool_inputs() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    inp = POOL["inputs"]
    return (
        np.array(inp["pd"]),
        np.array(inp["notional"]),
        1.0 - np.array(inp["recovery"]),
        np.array(inp["beta"]) ** 2,
    )


@pytest.mark.parametrize(
    "case", LHP["cases"], ids=lambda c: f"pd={c['pd']},rho={c['rho']},R={c['recovery']}"
)
def test_vasicek_reference_cases(case: dict) -> None:
    tol = LHP["tolerance_abs"]
    for t in case["tranches"]:
        got = vasicek_tranche_loss(
            case["pd"], case["rho"], case["recovery"], t["attach"], t["detach"]
        )
        assert abs(got - t["expected_loss_fraction"]) <= tol
    for q, v in case["loss_quantiles"].items():
        assert (
            abs(vasicek_loss_quantile(case["pd"], case["rho"], case["recovery"], float(q)) - v)
            <= tol
        )


@pytest.mark.parametrize(
    ("pd", "rho", "rec", "a", "d"),
    [(0.02, 0.15, 0.4, 0.03, 0.07), (0.1, 0.3, 0.0, 0.0, 0.05), (0.01, 0.5, 0.6, 0.1, 0.3)],
)
def test_vasicek_against_direct_integration(
    pd: float, rho: float, rec: float, a: float, d: float
) -> None:
    # independent: integrate the conditional tranche loss over the factor with scipy.quad
    def cond(z: float) -> float:
        loss = (1 - rec) * norm.cdf((norm.ppf(pd) - math.sqrt(rho) * z) / math.sqrt(1 - rho))
        return (min(max(loss - a, 0.0), d - a) / (d - a)) * norm.pdf(z)

    expected, _ = integrate.quad(cond, -12, 12, limit=400, epsabs=1e-13, epsrel=1e-12)
    assert vasicek_tranche_loss(pd, rho, rec, a, d) == pytest.approx(expected, abs=1e-10)


@given(h=st.floats(-4, 4), k=st.floats(-4, 4), r=st.floats(-0.95, 0.95))
@settings(max_examples=60, deadline=None)
def test_bivariate_normal_against_integration(h: float, k: float, r: float) -> None:
    # Phi2(h, k; r) = int_{-inf}^{h} phi(x) Phi((k - r x) / sqrt(1 - r^2)) dx
    s = math.sqrt(1 - r * r)
    ref, _ = integrate.quad(
        lambda x: norm.pdf(x) * norm.cdf((k - r * x) / s), -40, h, epsabs=1e-13, limit=200
    )
    assert bivariate_normal_cdf(h, k, r) == pytest.approx(ref, abs=1e-10)


def test_copula_pool_125_reference() -> None:
    pds, notional, lgd, rho = _pool_inputs()
    losses, probs = loss_distribution(pds, notional, lgd, rho)
    frac = losses / POOL["pool_notional"]
    assert losses[1] == pytest.approx(POOL["loss_unit"], rel=1e-12)
    np.testing.assert_allclose(
        probs[:30], POOL["loss_distribution_first_30_units"], rtol=0, atol=1e-9
    )
    for (a, d), v in zip(POOL["tranches"], POOL["tranche_expected_loss_fraction"], strict=True):
        assert abs(tranche_expected_loss(frac, probs, a, d) - v) <= 1e-9
    assert abs(float(frac @ probs) - POOL["expected_loss_fraction_of_pool"]) <= 1e-9
    for conf, m in POOL["risk_measures"].items():
        assert abs(value_at_risk(frac, probs, float(conf)) - m["VaR"]) <= 1e-9
        assert abs(expected_shortfall(frac, probs, float(conf)) - m["ES"]) <= 1e-9


def test_copula_pool_monte_carlo_within_four_standard_errors() -> None:
    pds, notional, lgd, rho = _pool_inputs()
    n_paths = 40_000
    losses, probs = loss_distribution(pds, notional, lgd, rho, method="mc", n_paths=n_paths, seed=7)
    frac = losses / POOL["pool_notional"]
    for (a, d), v in zip(POOL["tranches"], POOL["tranche_expected_loss_fraction"], strict=True):
        tl = np.clip(frac - a, 0, d - a) / (d - a)
        mean = float(tl @ probs)
        se = math.sqrt(max(float((tl - mean) ** 2 @ probs), 1e-300) / n_paths)
        assert abs(mean - v) <= 4 * se


def test_quadrature_converged_at_1000_names() -> None:
    # the default rule against a much finer one: tranche EL within 1e-6 (measured ~3e-10)
    rng = np.random.default_rng(11)
    n = 1000
    pds = np.exp(rng.uniform(np.log(0.002), np.log(0.08), n))
    eads = rng.integers(1, 6, n).astype(float)
    rho = rng.uniform(0.1, 0.3, n)
    tot = eads.sum() * 0.45
    l1, p1 = loss_distribution(pds, eads, 0.45, rho)
    l2, p2 = loss_distribution(pds, eads, 0.45, rho, n_nodes=300, z_max=10.0)
    for a, d in [(0.0, 0.03), (0.03, 0.07), (0.07, 0.1), (0.1, 0.15), (0.15, 0.3)]:
        assert (
            abs(
                tranche_expected_loss(l1 / tot, p1, a, d)
                - tranche_expected_loss(l2 / tot, p2, a, d)
            )
            < 1e-6
        )


def test_recursion_tends_to_lhp_for_a_large_homogeneous_pool() -> None:
    pd, rho, rec, n = 0.02, 0.2, 0.4, 2000
    losses, probs = loss_distribution(np.full(n, pd), np.ones(n), 1 - rec, rho)
    frac = losses / n
    for a, d in [(0.0, 0.03), (0.03, 0.07), (0.07, 0.15)]:
        # finite-pool granularity: the gap shrinks like 1/n
        assert tranche_expected_loss(frac, probs, a, d) == pytest.approx(
            vasicek_tranche_loss(pd, rho, rec, a, d), abs=2e-3
        )
    assert float(frac @ probs) == pytest.approx(pd * (1 - rec), rel=1e-12)
    lhp = portfolio_risk(np.full(n, pd), np.ones(n), 1 - rec, rho, 0.99, method="lhp")
    rec_risk = portfolio_risk(np.full(n, pd), np.ones(n), 1 - rec, rho, 0.99, contributions=False)
    assert lhp.expected_loss == pytest.approx(pd * (1 - rec) * n, rel=1e-6)
    assert lhp.var / n == pytest.approx(vasicek_loss_quantile(pd, rho, rec, 0.99), abs=2e-3)
    assert rec_risk.var == pytest.approx(lhp.var, rel=0.03)


def test_three_methods_agree_on_a_small_book() -> None:
    rng = np.random.default_rng(3)
    n = 60
    pds = rng.uniform(0.005, 0.05, n)
    eads = rng.integers(1, 4, n).astype(float) * 1e5
    rho = 0.15
    rec = portfolio_risk(pds, eads, 0.45, rho, 0.99)
    mc = portfolio_risk(pds, eads, 0.45, rho, 0.99, method="mc", n_paths=60_000, seed=5)
    assert mc.seed == 5
    assert mc.n_paths == 60_000
    # EL: exact in the recursion (grid is exact here); MC within 4 s.e.
    assert rec.expected_loss == pytest.approx(float(np.sum(pds * eads * 0.45)), rel=1e-10)
    sd = math.sqrt(float(((mc.losses - mc.expected_loss) ** 2) @ mc.probabilities))
    assert abs(mc.expected_loss - rec.expected_loss) <= 4 * sd / math.sqrt(60_000)
    assert mc.var == pytest.approx(rec.var, rel=0.1)
    assert mc.es == pytest.approx(rec.es, rel=0.1)


def test_recursion_euler_contributions_exact() -> None:
    rng = np.random.default_rng(1)
    n = 10
    pds = rng.uniform(0.01, 0.3, n)
    eads = rng.integers(1, 5, n).astype(float)
    rho = rng.uniform(0.05, 0.6, n)
    risk = portfolio_risk(
        pds, eads, 0.5, rho, 0.99, n_nodes=128
    )  # the brute force below uses the same fixed rule
    assert risk.var_contributions.sum() == pytest.approx(risk.var, rel=1e-12)
    assert risk.es_contributions.sum() == pytest.approx(risk.es, rel=1e-12)
    assert risk.economic_capital == pytest.approx(risk.var - risk.expected_loss)
    # brute force: E[L_i 1{L = VaR}] by a recursion without loan i
    z, w = factor_quadrature()
    cp = conditional_pd(pds, rho, z)
    amounts = eads * 0.5
    grid = loss_grid(amounts)
    v = int(round(risk.var / grid.unit))
    for i in range(n):
        keep = [j for j in range(n) if j != i]
        g = LossGrid(grid.unit, grid.k_lo[keep], grid.w_lo[keep], True)
        q = conditional_distributions(cp[:, keep], g)
        k = int(grid.k_lo[i])
        joint = w @ (cp[:, i : i + 1] * q)
        p_joint = joint[v - k] if 0 <= v - k < joint.size else 0.0
        assert risk.var_contributions[i] == pytest.approx(
            amounts[i] * p_joint / risk.probabilities[v], abs=1e-12
        )


def test_monte_carlo_contributions_close_to_recursion() -> None:
    rng = np.random.default_rng(2)
    n = 8
    pds = rng.uniform(0.02, 0.2, n)
    eads = rng.integers(1, 4, n).astype(float)
    rec = portfolio_risk(pds, eads, 0.5, 0.3, 0.95)
    mc = portfolio_risk(pds, eads, 0.5, 0.3, 0.95, method="mc", n_paths=100_000, seed=9)
    np.testing.assert_allclose(mc.es_contributions, rec.es_contributions, atol=0.05)
    assert mc.es_contributions.sum() == pytest.approx(mc.es, rel=1e-9)


def test_inexact_grid_preserves_expected_loss() -> None:
    rng = np.random.default_rng(4)
    n = 50
    pds = rng.uniform(0.01, 0.05, n)
    eads = rng.uniform(1e5, 9e5, n)
    lgds = rng.uniform(0.3, 0.6, n)
    losses, probs = loss_distribution(pds, eads, lgds, 0.2, max_units=500)
    assert float(losses @ probs) == pytest.approx(float(np.sum(pds * eads * lgds)), rel=1e-10)
    risk = portfolio_risk(pds, eads, lgds, 0.2, 0.99, max_units=500)
    assert risk.var_contributions.sum() == pytest.approx(risk.var, rel=1e-9)


@given(
    pds=st.lists(st.floats(0.02, 0.3), min_size=2, max_size=12),
    rho=st.floats(0.0, 0.5),
    conf=st.floats(0.99, 0.999),
)
@settings(max_examples=30, deadline=None)
def test_risk_measure_ordering(pds: list[float], rho: float, conf: float) -> None:
    n = len(pds)
    risk = portfolio_risk(pds, np.ones(n), 0.45, rho, conf, contributions=False)
    assert risk.var >= risk.expected_loss - 1e-12
    assert risk.es >= risk.var - 1e-12
    assert risk.es >= risk.expected_loss - 1e-12


@given(pd=st.floats(0.001, 0.2), bump=st.floats(1.01, 2.0), lgd=st.floats(0.1, 0.5))
@settings(max_examples=25, deadline=None)
def test_el_rises_with_pd_and_lgd(pd: float, bump: float, lgd: float) -> None:
    pds = np.array([pd, 0.02, 0.05])
    base = portfolio_risk(pds, np.ones(3), lgd, 0.2, 0.99, contributions=False).expected_loss
    higher_pd = portfolio_risk(
        pds * np.array([bump, 1, 1]), np.ones(3), lgd, 0.2, 0.99, contributions=False
    ).expected_loss
    higher_lgd = portfolio_risk(
        pds, np.ones(3), lgd * bump, 0.2, 0.99, contributions=False
    ).expected_loss
    assert higher_pd > base
    assert higher_lgd > base


@given(pd=st.floats(0.001, 0.3), rho=st.floats(0.01, 0.9), rec=st.floats(0.0, 0.9))
@settings(max_examples=30, deadline=None)
def test_lhp_tranches_add_up_to_pool_el(pd: float, rho: float, rec: float) -> None:
    cuts = [0.0, 0.03, 0.07, 0.15, 0.3, 1.0]
    total = sum(
        vasicek_tranche_loss(pd, rho, rec, a, d) * (d - a)
        for a, d in zip(cuts, cuts[1:], strict=False)
    )
    assert total == pytest.approx(pd * (1 - rec), abs=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"pds": [0.0, 0.1]}, "pds"),
        ({"pds": [1.2, 0.1]}, "pds"),
        ({"eads": [0.0, 1.0]}, "eads"),
        ({"lgds": 1.5}, "lgds"),
        ({"rho": 1.0}, "rho"),
        ({"method": "saddlepoint"}, "method"),
    ],
)
def test_portfolio_bad_input(kwargs: dict, field: str) -> None:
    args = {"pds": [0.01, 0.02], "eads": [1.0, 1.0], "lgds": 0.45, "rho": 0.2} | kwargs
    with pytest.raises(ConventionError) as info:
        loss_distribution(**args)
    assert info.value.field == field


def test_vasicek_bad_input() -> None:
    with pytest.raises(ConventionError, match="pd"):
        vasicek_tranche_loss(1.5, 0.2, 0.4, 0.0, 0.1)
    with pytest.raises(ConventionError, match="detach"):
        vasicek_tranche_loss(0.01, 0.2, 0.4, 0.1, 0.05)


def test_monte_carlo_is_reproducible_from_its_seed() -> None:
    pds, eads = np.full(20, 0.05), np.ones(20)
    a = loss_distribution(pds, eads, 0.5, 0.3, method="mc", n_paths=5000, seed=42)
    b = loss_distribution(pds, eads, 0.5, 0.3, method="mc", n_paths=5000, seed=42)
    np.testing.assert_array_equal(a[1], b[1])
    r = portfolio_risk(
        pds,
        eads,
        0.5,
        0.3,
        0.99,
        method="mc",
        n_paths=5000,
        rng=np.random.default_rng(1),
        contributions=False,
    )
    again = portfolio_risk(
        pds, eads, 0.5, 0.3, 0.99, method="mc", n_paths=5000, seed=r.seed, contributions=False
    )
    assert again.var == r.var
    assert again.es == r.es


@pytest.mark.parametrize(
    "case", LHP["cases"][:6], ids=lambda c: f"pd={c['pd']},rho={c['rho']},R={c['recovery']}"
)
def test_lhp_distribution_gives_the_closed_form_tranche_losses(case: dict) -> None:
    losses, probs = loss_distribution(
        [case["pd"]] * 4, [1.0] * 4, 1 - case["recovery"], case["rho"], method="lhp"
    )
    frac = losses / 4.0
    assert float(frac @ probs) == pytest.approx(case["pd"] * (1 - case["recovery"]), abs=1e-12)
    for t in case["tranches"]:
        got = tranche_expected_loss(frac, probs, t["attach"], t["detach"])
        assert abs(got - t["expected_loss_fraction"]) <= LHP["tolerance_abs"]


def test_reference_pool_contributions_add_up_and_rise_with_pd() -> None:
    pds, notional, lgd, rho = _pool_inputs()
    risk = portfolio_risk(pds, notional, lgd, rho, 0.99)
    assert risk.var == pytest.approx(
        POOL["risk_measures"]["0.99"]["VaR"] * POOL["pool_notional"], rel=1e-12
    )
    assert risk.var_contributions.sum() == pytest.approx(risk.var, rel=1e-10)
    assert risk.es_contributions.sum() == pytest.approx(risk.es, rel=1e-10)
    # equal notionals and LGD, PDs increasing: so are the Euler contributions
    assert np.all(np.diff(risk.es_contributions) > 0)
    assert np.all(np.diff(risk.var_contributions) > 0)


def test_lhp_keeps_the_expected_loss_of_a_heterogeneous_book() -> None:
    # PD and LGD vary together (a high-PD loan with a small LGD): the large-pool stand-in
    # must still carry the book's EL = sum(pd * lgd * ead), the same as the exact recursion.
    pds = np.array([0.002, 0.1684, 0.007, 0.033])
    eads = np.array([13.1e6, 3.3e6, 18.1e6, 2.7e6])
    lgds = np.array([0.05, 0.01, 0.153, 0.02])
    book_el = float(np.sum(pds * lgds * eads))
    for method in ("lhp", "recursion"):
        losses, probs = loss_distribution(pds, eads, lgds, 0.2, method=method)
        assert float(losses @ probs) == pytest.approx(book_el, rel=1e-9), method
