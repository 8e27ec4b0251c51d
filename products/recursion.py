"""Recursion scenarios of a deal's pool: the exact finite-pool loss distribution at every date.

Per factor node ``z`` (`credit.portfolio.factor_quadrature`), each asset's conditional
probability of default by month ``t`` from its own cumulative PD curve, and the exact
conditional loss recursion of `credit.portfolio` (Andersen-Sidenius-Basu) for the pool
loss ``L_t`` (`recursion_loss_paths`). Scenarios are (node, quantile bucket) pairs whose
loss paths follow the conditional quantile through time, split where any month's loss
crosses a tranche boundary; `allocate_losses` turns each scenario's pool loss into the
assets' defaults, so the scenarios feed the same waterfall as every other kind
(`products.scenarios`).

References
----------
Andersen, L., Sidenius, J. and Basu, S. (2003), All your hedges in one basket, *Risk*.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from products.schedules import AssetSchedules
from valuation._typing import FloatArray, IntArray
from valuation.errors import ConventionError


def check_rho(rho: float) -> float:
    """Return ``rho`` checked to be an asset correlation in [0, 1)."""
    if isinstance(rho, bool) or not isinstance(rho, int | float) or not 0.0 <= rho < 1.0:
        raise ConventionError(
            f"The `correlation` must be in [0, 1). Got {rho!r}.", field="correlation"
        )
    return float(rho)


def hazard_rates(pd: FloatArray) -> FloatArray:
    """Return the flat annual hazard ``-ln(1 - PD)`` of annual PDs."""
    return -np.log1p(-np.asarray(pd, dtype=np.float64))


def expected_exposure_at_default(sched: AssetSchedules) -> FloatArray:
    """Return each asset's expected balance at default, given default within its term.

    Expected balance at default given default within the term, per asset (n_assets,).

    ``sum_t P(default in month t) B_{t-1} / P(default by maturity)`` under the asset's flat
    hazard, with the prepayment-adjusted balance ``B``; the initial balance for a zero PD.
    """
    h = hazard_rates(sched.pd)
    t = np.arange(sched.n_periods + 1)
    tt = np.minimum(t[None, :], sched.tenor_months[:, None]) / 12.0
    cum = -np.expm1(-h[:, None] * tt)
    dp = np.diff(cum, axis=1)
    total = cum[:, -1]
    ead = (dp * sched.balance[:, :-1]).sum(axis=1)
    return np.where(total > 0.0, ead / np.where(total > 0.0, total, 1.0), sched.balance[:, 0])


#: Default Gauss-Legendre nodes of the recursion's factor integral (`credit.portfolio`'s rule on
#: ``[-8.5, 8.5]``). Measured on the 125-name reference pool (tranche EL at the horizon):
#: 64 nodes 3e-8, 96 nodes 2e-11, 128 nodes 3e-15.
RECURSION_NODES = 96


#: Default number of equal-probability quantile buckets per factor node (before the splits at
#: the tranche attachment points).
RECURSION_BUCKETS = 24


#: Loss-grid size of the recursion (`credit.portfolio.loss_grid`): exact when the losses share a
#: common unit within it, else mean-preserving rounding onto this many units.
RECURSION_MAX_UNITS = 1024


#: Cells of (rows x loss units) convolved at once by the recursion (bounds memory: 3 buffers of
#: 8 bytes each, about 100 MB).
_RECURSION_CELLS = 4_000_000


def cumulative_default_probability(sched: AssetSchedules) -> FloatArray:
    """Probability that each asset has defaulted by the end of month ``t`` (its own PD curve).

    ``P_i(t) = 1 - exp(-h_i min(t, term_i) / 12)`` with ``h_i = -ln(1 - PD_i)``: the marginal
    of the copula Monte Carlo, where an asset defaults in month ``ceil(12 tau_i)`` if that is
    within its term. Shape ``(n_assets, n_periods + 1)``, column 0 equal to 0.
    """
    h = hazard_rates(sched.pd)
    t = np.arange(sched.n_periods + 1)
    tt = np.minimum(t[None, :], sched.tenor_months[:, None]) / 12.0
    return -np.expm1(-h[:, None] * tt)


@dataclass(frozen=True, slots=True)
class RecursionScenarios:
    """Pool loss paths from the exact conditional loss recursion, one per (factor node, bucket).

    Attributes
    ----------
    node : IntArray
        Factor node of each scenario (n_scenarios,).
    loss : FloatArray
        Cumulative pool net loss (defaulted balance x LGD, major units) at the end of each
        month, ``(n_scenarios, n_periods + 1)``, column 0 equal to 0, non-decreasing.
    weights : FloatArray
        Scenario probabilities (n_scenarios,), summing to 1.
    conditional_default : FloatArray
        ``F_i(t | z_j)``: each asset's conditional probability of default by month ``t`` at
        every node, ``(n_nodes, n_assets, n_periods + 1)``.
    z : FloatArray
        The factor nodes (n_nodes,).
    loss_unit : float
        The recursion's loss grid unit (major units).
    exact_grid : bool
        Whether every asset's loss is a whole number of units (no rounding).
    """

    node: IntArray
    loss: FloatArray
    weights: FloatArray
    conditional_default: FloatArray
    z: FloatArray
    loss_unit: float
    exact_grid: bool

    @property
    def n_scenarios(self) -> int:
        """Return the number of scenarios."""
        return int(self.node.size)


def _bucket_means(p: FloatArray, edges: FloatArray) -> FloatArray:
    """Mean of the quantile function of each row's discrete distribution over each bucket.

    ``p`` (rows, n_units + 1) probabilities of ``0 .. n_units`` units; ``edges`` (rows, E)
    non-decreasing levels in [0, 1]. Returns (rows, E - 1): ``(G(b) - G(a)) / (b - a)`` with
    ``G(u) = int_0^u Q(v) dv`` (exact: ``G`` is piecewise linear between the CDF points),
    clipped to the atoms the bucket covers; a bucket inside one atom gets that atom.
    """
    rows, size = p.shape
    cdf = np.cumsum(p, axis=1)
    cdf /= cdf[:, -1:]
    cdf[:, -1] = 1.0
    units = np.arange(size, dtype=np.float64)
    g_at = np.cumsum(p * units, axis=1) / np.cumsum(p, axis=1)[:, -1:]
    # one searchsorted over all rows: shift row r by 2r (levels live in [0, 1])
    shift = 2.0 * np.arange(rows, dtype=np.float64)[:, None]
    flat = (cdf + shift).ravel()
    base = (np.arange(rows) * size)[:, None]
    u = np.clip(edges, 0.0, 1.0)
    k_left = np.searchsorted(flat, (u + shift).ravel(), side="left").reshape(u.shape) - base
    k_left = np.clip(k_left, 0, size - 1)
    k_right = np.searchsorted(flat, (u + shift).ravel(), side="right").reshape(u.shape) - base
    k_right = np.clip(k_right, 0, size - 1)
    r_idx = np.arange(rows)[:, None]
    g = g_at[r_idx, k_left] - (cdf[r_idx, k_left] - u) * k_left
    a, b = u[:, :-1], u[:, 1:]
    width = b - a
    lo = k_right[:, :-1].astype(np.float64)  # Q just above a
    hi = k_left[:, 1:].astype(np.float64)  # Q just below b
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(width > 0.0, (g[:, 1:] - g[:, :-1]) / np.where(width > 0.0, width, 1.0), lo)
    mean = np.clip(mean, np.minimum(lo, hi), np.maximum(lo, hi))
    return np.asarray(np.where(hi <= lo, hi, mean), dtype=np.float64)


def recursion_loss_paths(
    sched: AssetSchedules,
    rho: float,
    *,
    kinks: Sequence[float] = (),
    n_nodes: int = RECURSION_NODES,
    n_buckets: int = RECURSION_BUCKETS,
    max_units: int = RECURSION_MAX_UNITS,
    every_date: bool = True,
) -> RecursionScenarios:
    """Pool loss paths from the finite-pool loss distribution at every payment date.

    Per factor node ``z_j`` (`credit.portfolio.factor_quadrature`) and month ``t``, each
    asset defaults by ``t`` with ``F_i(t | z_j) = Phi((Phi^{-1}(P_i(t)) - sqrt(rho) z_j) /
    sqrt(1 - rho))`` from its own cumulative PD curve `cumulative_default_probability`, so
    the conditional distribution of the pool loss ``L_t`` at every date comes from the exact
    conditional recursion of `credit.portfolio` (each asset's loss ``LGD_i x EAD_i`` on the
    portfolio's loss grid, `credit.portfolio.loss_grid`; ``EAD_i`` the expected balance at
    default, `expected_exposure_at_default`: the balance itself for a bullet loan).

    Scenarios couple the dates through the conditional quantile: at node ``j`` the level
    ``u`` in [0, 1] gives the loss path ``t -> Q_t(u | z_j)``, non-decreasing in ``t``
    because ``L_t`` grows pathwise. ``[0, 1]`` is cut into ``n_buckets`` equal-probability
    buckets, split further where the loss ``L_t`` of any month (``every_date``) or of the
    last one crosses a ``kinks`` level (the tranche attachment and detachment amounts); each
    scenario carries the bucket's mean of ``Q_t`` at every date. Hence, exactly (to
    quadrature): every date's conditional mean loss ``E[L_t | z]``, and every expectation of
    a function of ``L_t`` that is linear between kinks -- the expected tranche loss curve
    ``E[min((L_t - A)^+, D - A)]`` of a pure loss-allocation structure, at every payment
    date -- matches the recursion's distribution at that date.

    What is not exact: the joint law of the losses of different months. Given the factor,
    the paths are comonotone (a quantile level keeps its rank), so the month-by-month loss
    increments are smoother than the copula's (where defaults arrive one loan at a time);
    a waterfall that absorbs each month's loss with that month's excess spread is convex in
    the increments, so for it the junior classes lose somewhat less than under the Monte
    Carlo. Pure loss allocation (tranche losses functions of ``L_t``) is unaffected.

    For amortising assets the loss of a default in month ``t`` is ``LGD_i B_i(t - 1)``,
    not ``LGD_i EAD_i``: each path's loss increment in month ``t`` is rescaled by
    ``kappa_t(z) = sum_i LGD_i B_i(t - 1) f_i(t | z) / sum_i LGD_i EAD_i f_i(t | z)``
    (``f_i(t | z) = F_i(t | z) - F_i(t - 1 | z)``), so that the conditional mean loss at
    every date is the copula's (``kappa = 1`` for bullet loans without prepayment, where the
    tranche loss curve above is exact; with amortisation or prepayment it is exact in the
    mean and close otherwise, each loan's loss being its expected one on the grid).

    Cost: ``n_nodes x months x n_assets x units`` multiply-adds for the recursion (about
    35 s for 1,000 loans over 60 months), and ``8 x n_nodes x months x units`` bytes for the
    distributions kept until the buckets are formed.

    Parameters
    ----------
    sched : AssetSchedules
    rho : float
        Asset correlation, [0, 1).
    kinks : sequence of float
        Loss amounts (major units) at which buckets are split (tranche boundaries).
    every_date : bool
        Split at the kinks of every month's distribution (exact tranche loss curve; more
        scenarios), or only of the last month's.
    n_nodes : int
        Factor nodes (Gauss-Legendre on [-8.5, 8.5], `credit.portfolio.DEFAULT_Z_MAX`).
    n_buckets : int
        Equal-probability quantile buckets per node, >= 1.
    max_units : int
        Loss grid size (see `credit.portfolio.loss_distribution`).

    Returns
    -------
    RecursionScenarios
    """
    from credit.recursion import (
        conditional_distributions,
        conditional_pd,
        factor_quadrature,
        loss_grid,
    )

    rho = check_rho(rho)
    for name, v, lo in (
        ("n_nodes", n_nodes, 2),
        ("n_buckets", n_buckets, 1),
        ("max_units", max_units, 16),
    ):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise ConventionError(
                f"The `{name}` must be an integer >= {lo}. Got {v!r}.", field=name
            )
    n, t_all = sched.n_assets, sched.n_periods
    t_def = int(min(sched.tenor_months.max(), t_all))  # no default after the last maturity
    cum = cumulative_default_probability(sched)
    z, wz = factor_quadrature(n_nodes)
    wz = wz / wz.sum()
    j_n = z.size
    cond = conditional_pd(cum.ravel(), np.full(cum.size, rho), z).reshape(j_n, n, t_all + 1)
    lgd = 1.0 - sched.recovery_rate
    ead = expected_exposure_at_default(sched)
    amounts = lgd * ead
    grid = loss_grid(amounts, max_units=max_units)
    size = grid.n_units + 1
    # buckets: equal probability in u, split at P(L_t <= kink | z_j)
    ks = np.asarray([k for k in kinks if k > 0.0], dtype=np.float64)
    k_units = np.floor(ks / grid.unit + 1e-9).astype(np.int64)
    k_units = k_units[k_units < size - 1]

    def distributions(t: IntArray) -> FloatArray:
        """Conditional loss distributions at months ``t``: (n_nodes, len(t), size)."""
        out = np.empty((j_n, t.size, size))
        step = max(1, _RECURSION_CELLS // (j_n * size))
        for i in range(0, t.size, step):
            tt = t[i : i + step]
            cp = cond[:, :, tt].transpose(0, 2, 1).reshape(j_n * tt.size, n)
            d = conditional_distributions(np.ascontiguousarray(cp), grid)
            d = np.clip(d, 0.0, None)
            out[:, i : i + step, :] = d.reshape(j_n, tt.size, size)
        return out

    months = np.arange(1, t_def + 1)
    p_all = distributions(months)  # (J, T_def, size)
    cdf = np.cumsum(p_all, axis=2)
    cdf /= cdf[:, :, -1:]
    at = months if every_date else months[-1:]
    kink_levels = cdf[:, at - 1][:, :, k_units].reshape(j_n, -1)
    kink_levels = np.where(
        kink_levels < 1e-13, 0.0, np.where(kink_levels > 1.0 - 1e-13, 1.0, kink_levels)
    )
    edges = np.sort(
        np.concatenate(
            [
                np.broadcast_to(np.linspace(0.0, 1.0, n_buckets + 1), (j_n, n_buckets + 1)),
                kink_levels,
            ],
            axis=1,
        ),
        axis=1,
    )
    # levels closer than 1e-13 are one level (a zero-width bucket, dropped below)
    close = np.diff(edges, axis=1) < 1e-13
    edges[:, 1:] = np.where(close, edges[:, :-1], edges[:, 1:])
    edges = np.maximum.accumulate(edges, axis=1)
    n_b = edges.shape[1] - 1
    loss = np.zeros((j_n, n_b, t_all + 1))
    step = max(1, _RECURSION_CELLS // (j_n * max(size, n_b)))
    for i in range(0, months.size, step):
        tt = months[i : i + step]
        e = np.repeat(edges[:, None, :], tt.size, axis=1).reshape(j_n * tt.size, -1)
        m = _bucket_means(p_all[:, tt - 1].reshape(j_n * tt.size, size), e).reshape(
            j_n, tt.size, n_b
        )
        loss[:, :, tt] = m.transpose(0, 2, 1) * grid.unit
    del p_all, cdf
    loss[:, :, t_def + 1 :] = loss[:, :, t_def : t_def + 1]
    # each month's loss increment at the balance at default, over the grid's (EAD) amounts
    loss = np.maximum.accumulate(np.maximum(loss, 0.0), axis=2)
    dens = np.diff(cond, axis=2)  # f_i(t | z), (J, n, T)
    true_inc = np.einsum("jit,it->jt", dens, lgd[:, None] * sched.balance[:, :-1])
    grid_inc = np.einsum("jit,i->jt", dens, amounts)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = np.where(grid_inc > 0.0, true_inc / np.where(grid_inc > 0.0, grid_inc, 1.0), 1.0)
    loss[:, :, 1:] = np.cumsum(np.diff(loss, axis=2) * kappa[:, None, :], axis=2)
    weights = wz[:, None] * np.diff(edges, axis=1)  # (J, n_b)
    keep = weights.ravel() > 0.0
    node = np.repeat(np.arange(j_n), n_b)[keep]
    w = weights.ravel()[keep]
    return RecursionScenarios(
        node=node,
        loss=loss.reshape(j_n * n_b, t_all + 1)[keep],
        weights=w / w.sum(),
        conditional_default=cond,
        z=z,
        loss_unit=float(grid.unit),
        exact_grid=bool(grid.exact),
    )


def allocate_losses(sched: AssetSchedules, rec: RecursionScenarios, index: IntArray) -> FloatArray:
    """Per-asset performing shares that realise the scenarios' loss paths (water-filling).

    In month ``t`` the path's loss increment ``dL_t`` is spread over the assets in
    proportion to their conditional default densities ``f_i(t | z_j)``, as the large pool
    would default given the factor: asset ``i`` loses the share ``dd_i = min(lambda f_i,
    s_i(t - 1))`` of its performing schedule, at ``LGD_i B_i(t - 1)`` per unit, with
    ``lambda`` solved exactly (a piecewise-linear equation, breakpoints sorted) so that
    ``sum_i LGD_i B_i(t - 1) dd_i = dL_t``; an asset that has fully defaulted passes its
    share to the others, and a loss no performing asset can take in month ``t`` (a deep
    quantile of a benign node, say) moves to the next month. The waterfall then sees the
    path's net loss month by month. Assets whose default loses nothing (full recovery)
    default at their conditional rate ``f_i(t | z_j)``, as the large pool would.

    Parameters
    ----------
    sched : AssetSchedules
    rec : RecursionScenarios
    index : IntArray
        The scenarios to allocate (a chunk).

    Returns
    -------
    FloatArray
        ``(len(index), n_assets, n_periods + 1)`` performing shares, column 0 equal to 1.
    """
    s_n, n, t_all = index.size, sched.n_assets, sched.n_periods
    node = rec.node[index]
    loss = rec.loss[index]
    cond = rec.conditional_default
    lgd = 1.0 - sched.recovery_rate
    surv = np.ones((s_n, n, t_all + 1))
    rem = np.ones((s_n, n))
    carry = np.zeros(s_n)  # loss the performing assets could not absorb yet
    for t in range(1, t_all + 1):
        d_l = loss[:, t] - loss[:, t - 1] + carry
        a = lgd * sched.balance[:, t - 1]  # loss per unit of default share (n,)
        f = cond[node, :, t] - cond[node, :, t - 1]  # (S, n)
        free = a <= 0.0
        if free.any():  # defaults that lose nothing (LGD 0) follow the large pool given z
            rem[:, free] -= np.minimum(f[:, free], rem[:, free])
            f = np.where(free[None, :], 0.0, f)
        active = d_l > 0.0
        if active.any():
            fa, ra, dla = f[active], rem[active], d_l[active]
            aw = fa * a[None, :]
            denom = aw.sum(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                lam0 = np.where(denom > 0.0, dla / np.where(denom > 0.0, denom, 1.0), 0.0)
                dd = np.minimum(lam0[:, None] * fa, ra)
            short = (dd * a[None, :]).sum(axis=1) < dla * (1.0 - 1e-12)
            if short.any():
                dd[short] = _water_fill(fa[short], ra[short], a, dla[short])
            rem[active] = ra - dd
            carry = np.zeros(s_n)
            carry[active] = np.maximum(dla - (dd * a[None, :]).sum(axis=1), 0.0)
            carry[carry <= 1e-12 * np.maximum(loss[:, -1], 1.0)] = 0.0
        surv[:, :, t] = rem
    return surv


def _water_fill(f: FloatArray, cap: FloatArray, a: FloatArray, target: FloatArray) -> FloatArray:
    """Water-fill losses up to each asset's cap so that they sum to the target.

    ``x_i = min(lambda f_i, cap_i)`` with ``sum_i a_i x_i = target`` per row (all capped if the
    target exceeds the capacity).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(f > 0.0, cap / np.where(f > 0.0, f, 1.0), np.inf)
    order = np.argsort(ratio, axis=1)
    r_s = np.take_along_axis(ratio, order, axis=1)
    capped = np.take_along_axis(cap * a[None, :], order, axis=1)
    free = np.take_along_axis(f * a[None, :], order, axis=1)
    c_before = np.cumsum(capped, axis=1) - capped  # capacity of the assets already capped
    w_from = np.cumsum(free[:, ::-1], axis=1)[:, ::-1]  # uncapped slope from k on
    finite = np.isfinite(r_s)
    total_at = np.where(finite, c_before + np.where(finite, r_s, 0.0) * w_from, np.inf)
    k = (total_at < target[:, None]).sum(axis=1)  # first breakpoint reaching the target
    rows = np.arange(f.shape[0])
    k_c = np.minimum(k, f.shape[1] - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = (target - c_before[rows, k_c]) / w_from[rows, k_c]
    lam = np.where(k >= f.shape[1], np.inf, lam)
    lam = np.where(np.isfinite(lam), lam, np.inf)
    with np.errstate(invalid="ignore"):
        x = np.where(f > 0.0, np.minimum(lam[:, None] * f, cap), 0.0)
    return x
