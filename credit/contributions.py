"""Portfolio risk of the loan book with each loan's Euler contribution.

Portfolio risk with loan contributions: expected loss, VaR and ES of the loan book and each loan's
Euler contribution to them (`portfolio_risk`, `PortfolioRisk`).

On the exact recursion the contributions are exact on the loss grid: each loan is taken
out of the conditional distributions by deconvolution in the Fourier domain
(`_leave_one_out`; near ``p = 1/2`` a block deconvolution), and its expected loss given
the tail is integrated over the factor; the large-pool limit is refused for a book that
is not granular (`check_lhp_granularity`). The loss distributions come from `credit.portfolio`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.fft import next_fast_len, rfft

from credit.portfolio import (
    DEFAULT_PATHS,
    DEFAULT_SEED,
    _check_method,
    _inputs,
    _lhp_distribution,
    _mc_contributions,
    _seed_from,
    expected_shortfall,
    loss_distribution,
    value_at_risk,
)
from credit.recursion import (
    DEFAULT_MAX_UNITS,
    DEFAULT_TOLERANCE,
    DEFAULT_Z_MAX,
    FactorIntegration,
    LossGrid,
    conditional_distributions,
    integrate_recursion,
)
from credit.vasicek import _check_probability
from valuation._typing import FloatArray
from valuation.errors import ConventionError


@dataclass(frozen=True, slots=True)
class PortfolioRisk:
    """Portfolio loss figures in the units of the EADs.

    ``economic_capital = var - expected_loss``. Contributions are Euler allocations
    per loan: ``var_contributions[i] = E[L_i | L = VaR]`` (recursion: exactly on the
    grid point; Monte Carlo: loss within ``mc_band`` of VaR) and
    ``es_contributions[i]`` the loan's share of ES in the Acerbi-Tasche form, so that
    each sums to VaR and ES respectively; ``el_contributions[i] = PD_i LGD_i EAD_i``.
    """

    method: str
    confidence: float
    expected_loss: float
    var: float
    es: float
    economic_capital: float
    el_contributions: FloatArray
    var_contributions: FloatArray | None
    es_contributions: FloatArray | None
    losses: FloatArray = field(repr=False)
    probabilities: FloatArray = field(repr=False)
    seed: int | None = None
    n_paths: int | None = None
    n_nodes: int | None = None
    loss_unit: float | None = None
    #: the recursion's factor integration and its error estimate (None for lhp and mc)
    integration: FactorIntegration | None = None

    def __post_init__(self) -> None:
        if not self.es >= self.var - 1e-9 * max(1.0, abs(self.var)):
            raise ConventionError("ES must not be below VaR.", field="es")


def _leave_one_out(dist: FloatArray, p: FloatArray, k: int) -> FloatArray:
    """Conditional distribution of the pool without one loan (deconvolution, stable direction).

    For nodes with p <= 1/2 solve forward ``Q(j) = (P(j) - p Q(j - k)) / (1 - p)``; otherwise
    backward from the top ``Q(j) = (P(j + k) - (1 - p) Q(j + k)) / p``. In both directions
    the error factor is at most one per step.
    """
    n_nodes, size = dist.shape
    out = np.zeros_like(dist)
    pp = p[:, 0]
    fwd = pp <= 0.5
    if np.any(fwd):
        d = dist[fwd]
        q = out[fwd]
        pf = pp[fwd][:, None]
        for start in range(0, size, k):
            stop = min(start + k, size)
            prev = q[:, start - k : stop - k] if start >= k else 0.0
            q[:, start:stop] = (d[:, start:stop] - pf * prev) / (1.0 - pf)
        out[fwd] = q
    bwd = ~fwd
    if np.any(bwd):
        d = np.zeros((int(bwd.sum()), size + k))
        d[:, :size] = dist[bwd]
        q = np.zeros_like(d)
        pb = pp[bwd][:, None]
        top = size - 1 - k  # the pool without the loan never exceeds this
        for stop in range(top + 1, 0, -k):
            begin = max(stop - k, 0)
            q[:, begin:stop] = (
                d[:, begin + k : stop + k] - (1.0 - pb) * q[:, begin + k : stop + k]
            ) / pb
        out[bwd] = q[:, :size]
    return np.clip(out, 0.0, None)


def _direct_joint(
    cp: FloatArray, grid: LossGrid, i: int, var_index: int, size: int
) -> tuple[FloatArray, FloatArray]:
    """Joint default and loss probabilities of loan ``i`` per node, exactly.

    Per node: P(D_i, L = v | z) and P(D_i, L > v | z) from the recursion of the pool without loan
    ``i`` (exact; for the few nodes where deconvolution is ill-conditioned).
    """
    keep = np.arange(cp.shape[1]) != i
    rest = LossGrid(grid.unit, grid.k_lo[keep], grid.w_lo[keep], grid.exact)
    q = np.zeros((cp.shape[0], size))
    part = conditional_distributions(cp[:, keep], rest)
    q[:, : min(size, part.shape[1])] = part[:, :size]
    p = cp[:, i : i + 1]
    k, w = int(grid.k_lo[i]), float(grid.w_lo[i])
    joint = np.zeros_like(q)
    joint[:, k:] += w * p * q[:, : size - k]
    if w < 1.0 and k + 1 < size:
        joint[:, k + 1 :] += (1.0 - w) * p * q[:, : size - k - 1]
    return joint[:, var_index], joint[:, var_index + 1 :].sum(axis=1)


def _block_joint(
    cond: FloatArray, p: FloatArray, k: int, var_index: int
) -> tuple[FloatArray, FloatArray]:
    """Per node: P(D_i, L = v | z) and P(D_i, L > v | z) by block deconvolution (loan at k units)."""
    size = cond.shape[1]
    q = _leave_one_out(cond, p, k)
    joint = np.zeros_like(cond)
    joint[:, k:] = p * q[:, : size - k]
    return joint[:, var_index], joint[:, var_index + 1 :].sum(axis=1)


def _recursion_contributions(
    cond: FloatArray,
    cp: FloatArray,
    weights: FloatArray,
    grid: LossGrid,
    amounts: FloatArray,
    var_index: int,
    confidence: float,
    probs: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Euler VaR and ES contributions from the conditional distributions (exact on the grid).

    For loan ``i`` at ``k`` units the pool without it has ``Q_hat = P_hat / K_hat`` in the
    Fourier domain, ``K_hat(f) = (1 - p) + p e^{-i 2 pi f k / N}`` (``N`` >= the grid, so
    the circular deconvolution equals the linear one). The two numbers needed per node,
    ``Q(v - k)`` and ``sum_{j <= v - k} Q(j)``, are linear functionals of ``Q_hat`` and are
    evaluated without an inverse transform. A loan split over ``k`` and ``k + 1`` units
    (inexact grid) is deconvolved with its split kernel. Where ``|K_hat|`` comes close to 0
    (p about 1/2), nodes take an exact path: the block deconvolution of `_leave_one_out`,
    or, for a split loan, the recursion of the pool without it.
    """
    n = cp.shape[1]
    n_nodes, size = cond.shape
    n_fft = int(next_fast_len(size, real=True))
    p_hat = rfft(cond, n=n_fft, axis=1)  # (n_nodes, F)
    freqs = np.arange(p_hat.shape[1])
    theta = 2.0 * np.pi * freqs / n_fft
    cw = np.full(freqs.size, 2.0)
    cw[0] = 1.0
    if n_fft % 2 == 0:
        cw[-1] = 1.0
    cw /= n_fft

    def point(j0: int) -> np.ndarray:
        # Q(j0) = sum_f cw_f Re(Q_hat_f e^{i theta_f j0})
        return np.asarray(cw * np.exp(1j * theta * j0))

    def cumulative(j0: int) -> np.ndarray:
        # sum_{j=0}^{j0} Q(j) = sum_f cw_f Re(Q_hat_f G_f), G_f = sum_{j<=j0} e^{i theta_f j}
        g = np.empty(freqs.size, dtype=np.complex128)
        g[0] = j0 + 1
        z = np.exp(1j * theta[1:])
        g[1:] = (1.0 - z ** (j0 + 1)) / (1.0 - z)
        return cw * g

    var_c = np.zeros(n)
    tail_c = np.zeros(n)
    p_at = float(probs[var_index])
    f_var = float(probs[: var_index + 1].sum())
    for i in range(n):
        if amounts[i] == 0.0:
            continue
        p = cp[:, i]
        k = int(grid.k_lo[i])
        w = float(grid.w_lo[i])  # the loan loses k units with weight w, k + 1 with 1 - w
        kernel = w * np.exp(-1j * theta * k) + (1.0 - w) * np.exp(-1j * theta * (k + 1))
        k_hat = (1.0 - p)[:, None] + p[:, None] * kernel[None, :]
        # near a zero of the kernel (p about 1/2) division would amplify rounding: those
        # nodes take an exact path (block deconvolution, or the recursion without the loan)
        bad = np.abs(k_hat).min(axis=1) < 0.05
        q_hat = p_hat / np.where(bad[:, None], 1.0, k_hat)
        at_v = np.zeros(n_nodes)
        above_v = np.zeros(n_nodes)
        for shift, share in ((k, w), (k + 1, 1.0 - w)):
            if share == 0.0:
                continue
            j0 = var_index - shift
            if j0 < 0:
                above_v += share * p
            else:
                at_v += share * p * (q_hat @ point(j0)).real
                above_v += share * p * (1.0 - (q_hat @ cumulative(j0)).real)
        if bad.any():
            if w >= 1.0 and k >= 1:
                at_b, above_b = _block_joint(cond[bad], p[bad, None], k, var_index)
            else:
                at_b, above_b = _direct_joint(cp[bad], grid, i, var_index, size)
            at_v[bad], above_v[bad] = at_b, above_b
        var_c[i] = amounts[i] * float(weights @ at_v) / p_at if p_at > 0 else 0.0
        tail_c[i] = amounts[i] * float(weights @ above_v)
    es_c = (tail_c + var_c * max(f_var - confidence, 0.0)) / (1.0 - confidence)
    return var_c, es_c


#: Smallest book, and largest single-loan share of exposure, for which the LHP limit is used.
LHP_MIN_LOANS = 100
LHP_MAX_SHARE = 0.05


def check_lhp_granularity(eads: FloatArray) -> None:
    """Refuse the LHP limit for a book that is not granular (see `portfolio_risk`)."""
    e = np.asarray(eads, dtype=np.float64)
    share = float(e.max() / e.sum()) if e.size and e.sum() > 0 else 1.0
    if e.size < LHP_MIN_LOANS or share > LHP_MAX_SHARE:
        raise ConventionError(
            f"The `method` lhp needs a granular book: at least {LHP_MIN_LOANS} loans and none above "
            f"{LHP_MAX_SHARE:.0%} of the exposure. Got {e.size} loans, the largest {share:.1%}; "
            "use recursion or mc.",
            field="method",
        )


def portfolio_risk(
    pds: FloatArray,
    eads: FloatArray,
    lgds: FloatArray | float,
    rho: FloatArray | float,
    confidence: float = 0.999,
    method: str = "recursion",
    *,
    contributions: bool = True,
    n_nodes: int | None = None,
    z_max: float = DEFAULT_Z_MAX,
    tolerance: float = DEFAULT_TOLERANCE,
    loss_unit: float | None = None,
    max_units: int = DEFAULT_MAX_UNITS,
    n_paths: int = DEFAULT_PATHS,
    seed: int = DEFAULT_SEED,
    mc_band: float = 0.0,
    rng: np.random.Generator | None = None,
) -> PortfolioRisk:
    """EL, VaR, ES, economic capital (VaR - EL) and Euler contributions of a loan book.

    Parameters are those of `loss_distribution`, plus ``confidence`` in (0, 1) and
    ``contributions`` (per-loan VaR and ES contributions; ``lhp`` has none, being a
    large-pool limit). ``mc_band`` is the half-width, in units of ``eads``, of the loss
    band around VaR whose paths give the Monte Carlo VaR contributions (0 = paths with
    loss exactly at VaR, which exist because losses are sums of discrete amounts).

    ``lhp`` is refused (`ConventionError` naming ``method``) for a book of fewer than
    `LHP_MIN_LOANS` loans or with any loan above `LHP_MAX_SHARE` of the exposure: the
    large-pool limit ignores idiosyncratic risk, which such a book still has (Basel's
    granularity adjustment addresses the same gap); use ``recursion`` or ``mc``.

    Cost: the recursion's contributions deconvolve each loan out of the conditional
    distributions in the Fourier domain, ``O(n_loans x n_nodes x grid units)`` complex
    operations (about 1-2 s for 200 loans on a 4,096-unit grid, 10-20 s for 1,000); for
    large books ask for ``method="mc"`` contributions or ``contributions=False``.
    """
    method = _check_method(method)
    conf = _check_probability(confidence, "confidence")
    p, e, lg, r = _inputs(pds, eads, lgds, rho)
    amounts = e * lg
    el_c = p * amounts
    var_c = es_c = None
    unit = None
    nodes = None
    integration = None
    paths = None
    used_seed = None
    if method == "recursion":
        losses, probs, cond, cp, w, grid, integration = integrate_recursion(
            p,
            amounts,
            r,
            n_nodes=n_nodes,
            z_max=z_max,
            loss_unit=loss_unit,
            max_units=max_units,
            tolerance=tolerance,
        )
        unit, nodes = grid.unit, integration.n_nodes
        var = value_at_risk(losses, probs, conf)
        es = expected_shortfall(losses, probs, conf)
        if contributions:
            var_index = int(round(var / grid.unit))
            var_c, es_c = _recursion_contributions(
                cond, cp, w, grid, amounts, var_index, conf, probs
            )
            # contributions are exact on the (possibly rounded) grid: rescale the tiny
            # rounding residue so that they add up to the grid's VaR and ES
            if var_c.sum() > 0:
                var_c *= var / var_c.sum()
            if es_c.sum() > 0:
                es_c *= es / es_c.sum()
    elif method == "lhp":
        check_lhp_granularity(e)
        losses, probs = _lhp_distribution(p, amounts, e, r)
        var = value_at_risk(losses, probs, conf)
        es = expected_shortfall(losses, probs, conf)
    else:
        paths, used_seed = int(n_paths), int(seed) if rng is None else _seed_from(rng)
        losses, probs = loss_distribution(p, e, lg, r, "mc", n_paths=paths, seed=used_seed)
        var = value_at_risk(losses, probs, conf)
        es = expected_shortfall(losses, probs, conf)
        if contributions:
            band_var, n_var = _mc_contributions(
                p,
                amounts,
                r,
                paths,
                used_seed,
                var - mc_band - 1e-9 * max(var, 1.0),
                var + mc_band + 1e-9 * max(var, 1.0),
            )
            var_c = band_var / max(n_var, 1)
            above, _ = _mc_contributions(
                p, amounts, r, paths, used_seed, var * (1 + 1e-12) + 1e-12, np.inf
            )
            f_var = float(probs[losses <= var].sum())
            es_c = (above / paths + var_c * max(f_var - conf, 0.0)) / (1.0 - conf)
    el = float(np.dot(losses, probs))
    return PortfolioRisk(
        method=method,
        confidence=conf,
        expected_loss=el,
        var=var,
        es=es,
        economic_capital=var - el,
        el_contributions=el_c,
        var_contributions=var_c,
        es_contributions=es_c,
        losses=losses,
        probabilities=probs,
        seed=used_seed,
        n_paths=paths,
        n_nodes=nodes,
        loss_unit=unit,
        integration=integration,
    )
