"""Tranche analytics: default scenarios, expected loss, price, yield, spread, WAL, duration,
SEC-SA capital and break-even solvers.

Default scenarios (all feed the same waterfall):

* ``cdr`` -- a deterministic annual constant default rate vector;
* ``mc`` -- one-factor Gaussian copula Monte Carlo of correlated default times on the
  pool's assets: ``X_i = sqrt(rho) Z + sqrt(1 - rho) eps_i``, ``tau_i = -ln(1 - Phi(X_i)) /
  h_i`` with the flat hazard ``h_i = -ln(1 - PD_i)`` from the annual PD; an asset defaults
  in month ``ceil(12 tau_i)`` if that is within its term. Paths are simulated in chunks so
  memory stays bounded;
* ``lhp`` -- the large-pool limit: conditional on the factor ``Z = z`` every asset's
  performing share follows ``1 - F_i(t | z)``, ``F_i(t | z) = Phi((Phi^{-1}(1 - e^{-h_i t})
  - sqrt(rho) z) / sqrt(1 - rho))``, integrated over ``z`` by Gauss-Legendre in ``Phi(z)``
  (`factor_nodes`);
* ``recursion`` -- the exact finite-pool loss distribution at every payment date: per
  factor node ``z`` (`credit.portfolio.factor_quadrature`), each asset's conditional
  probability of default by month ``t`` from its own cumulative PD curve, and the exact
  conditional loss recursion of `credit.portfolio` (Andersen-Sidenius-Basu) for the pool
  loss ``L_t`` (`recursion_loss_paths`). Scenarios are (node, quantile bucket) pairs whose
  loss paths follow the conditional quantile through time, split where any month's loss
  crosses a tranche boundary, so the expected tranche loss curve ``E[min((L_t - A)^+, D -
  A)]`` of a pure loss-allocation structure is exact at every date; each path's monthly
  losses are realised on the assets in proportion to their conditional default densities
  (`allocate_losses`) and run through the same waterfall as the other methods. With excess
  spread absorbing each month's loss the comonotone paths are smoother month to month than
  the copula's defaults, so junior classes lose somewhat less than under Monte Carlo (on
  the benchmark deal the equity class's EL is about 3 % lower).

Pricing: month ``m`` is paid ``m`` months after the pool's ``cut_off_date`` (after the
curve's ``as_of`` when the pool has none; a curve dated after the cut-off is refused); the
floating index is the curve's monthly forwards. Conventions (stated once here, detail in
`analyze`):

* ``expected_loss`` the present value of interest and principal shortfalls over the
  promised present value, each class discounted at its own coupon (so the promised PV is
  par), under the real-world default model (`EXPECTED_LOSS_BASIS`, Moody's practice);
  ``principal_expected_loss`` the undiscounted write-downs net of PDL cures over the face;
  ``prob_loss`` the probability of an ultimate loss (principal not reimbursed or interest
  unpaid at the end, above 1e-9 of the face). For a tranche
  with a guarantee wrap both count only what the investor loses (the guarantor defaults
  independently of the pool, at its flat hazard, recovering a share);
* ``price`` per 100 of initial face: the expected investor cash discounted at the curve
  plus a discount margin (an input, solved from a market price, or by default the class's
  spread: floating ``spread_bp``, fixed coupon over the curve's par rate); real-world EL
  is reported beside it, so a mezzanine class paying less than its risk prices below par;
* ``yield`` the annual rate, monthly compounding, at which the promised cash flows (no
  defaults) are worth the price; ``duration`` the effective duration from a 1 bp parallel
  bump of the curve (index included) for floating classes, the modified duration at the
  yield for fixed ones; ``wal_years`` the average life of the balance (principal paid and
  written down);
* ``fair_spread_bp`` the spread over the curve's forwards that prices the tranche at par
  given its expected principal and balance path:
  ``s = (N_0 - sum_t DF_t (E[P_t] + f_t E[N_{t-1}] / 12)) / sum_t DF_t E[N_{t-1}] / 12``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Literal

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtr, ndtri, roots_legendre

from products.capital import guarantor_risk_weight, sec_sa_risk_weight
from products.schedules import AssetSchedules, asset_schedules
from products.structure import Deal, Tranche
from products.waterfall import (
    PoolCashflows,
    WaterfallResult,
    pool_cashflows_from_default_periods,
    pool_cashflows_from_survival,
    run_waterfall,
)
from valuation._typing import FloatArray, IntArray
from valuation.conventions import DayCount, add_months, year_fraction
from valuation.errors import CalibrationError, ConventionError
from valuation.market import MarketData

ScenarioMethod = Literal["mc", "stratified", "lhp", "recursion", "cdr"]
METHODS: tuple[str, ...] = ("mc", "stratified", "lhp", "recursion", "cdr")
#: Paths per factor stratum of the stratified engine (at least 2 for the standard error).
PATHS_PER_STRATUM = 4

#: A write-down counts as a loss above this fraction of the tranche face.
LOSS_EPS = 1e-9
#: Default chunk of Monte Carlo paths simulated at once (bounds memory).
DEFAULT_CHUNK = 5_000
#: Default pool capital for SEC-SA: 8 % (a pool of 100 %-weighted corporate exposures).
DEFAULT_K_SA = 0.08


def _check_rho(rho: float) -> float:
    if isinstance(rho, bool) or not isinstance(rho, int | float) or not 0.0 <= rho < 1.0:
        raise ConventionError(
            f"The `correlation` must be in [0, 1). Got {rho!r}.", field="correlation"
        )
    return float(rho)


def _hazard(pd: FloatArray) -> FloatArray:
    return -np.log1p(-np.asarray(pd, dtype=np.float64))


# ---------------------------------------------------------------------------------------------
# scenario generators
# ---------------------------------------------------------------------------------------------


def cdr_survival(cdr: float | Sequence[float] | FloatArray, n_periods: int) -> FloatArray:
    """Performing share after each month under an annual constant default rate.

    Parameters
    ----------
    cdr : float or array
        Annual default rate(s), decimal in [0, 1): a scalar, one per month ``(n_periods,)``,
        or one row per scenario ``(n_scenarios, n_periods)``.
    n_periods : int

    Returns
    -------
    FloatArray
        ``(n_scenarios, n_periods + 1)``, column 0 equal to 1; monthly default rate
        ``MDR = 1 - (1 - CDR)^(1/12)``.
    """
    c = np.asarray(cdr, dtype=np.float64)
    if c.ndim == 0:
        c = np.full((1, n_periods), float(c))
    elif c.ndim == 1:
        c = c[None, :]
    if c.shape[1] != n_periods:
        raise ConventionError(
            f"The `cdr` must have {n_periods} monthly values. Got {c.shape[1]}.", field="cdr"
        )
    if not np.all((c >= 0.0) & (c < 1.0)):
        raise ConventionError("The `cdr` must be annual rates in [0, 1).", field="cdr")
    mdr = -np.expm1(np.log1p(-c) / 12.0)
    s = np.ones((c.shape[0], n_periods + 1))
    s[:, 1:] = np.cumprod(1.0 - mdr, axis=1)
    return s


def copula_default_periods(
    sched: AssetSchedules, rho: float, n_paths: int, rng: np.random.Generator
) -> IntArray:
    """Default month of every asset on every path (0: no default), one-factor Gaussian copula.

    Parameters
    ----------
    sched : AssetSchedules
    rho : float
        Asset correlation in [0, 1) (factor loading ``sqrt(rho)``).
    n_paths : int
    rng : numpy.random.Generator

    Returns
    -------
    IntArray
        ``(n_paths, n_assets)`` month in ``1..term`` or 0.
    """
    rho = _check_rho(rho)
    z = rng.standard_normal(n_paths)
    return default_periods_given_factor(sched, rho, z, rng)


def default_periods_given_factor(
    sched: AssetSchedules, rho: float, z: FloatArray, rng: np.random.Generator
) -> IntArray:
    """Default months given the common factor of each path (``z``, shape ``(n_paths,)``):
    each asset's idiosyncratic draw ``eps_i`` then its exact default time, as in
    `copula_default_periods` (which draws ``z`` itself)."""
    rho = _check_rho(rho)
    h = _hazard(sched.pd)
    term = sched.term_months.astype(np.float64)
    p_term = -np.expm1(-h * term / 12.0)
    with np.errstate(divide="ignore"):
        threshold = ndtri(p_term)
    n_paths = int(np.asarray(z).size)
    z = np.asarray(z, dtype=np.float64).reshape(n_paths, 1)
    x = rng.standard_normal((n_paths, sched.n_assets))
    x *= math.sqrt(1.0 - rho)
    x += math.sqrt(rho) * z
    hit = x <= threshold[None, :]
    rows, cols = np.nonzero(hit)
    out = np.zeros((n_paths, sched.n_assets), dtype=np.int64)
    if rows.size:
        u = ndtr(x[rows, cols])
        tau_months = -np.log1p(-u) / h[cols] * 12.0
        out[rows, cols] = np.clip(np.ceil(tau_months), 1, term[cols]).astype(np.int64)
    return out


def homogeneous_copula_survival(
    pd: float, rho: float, n_loans: int, term_months: int, n_paths: int, rng: np.random.Generator
) -> FloatArray:
    """Copula Monte Carlo for a homogeneous pool: performing share per path and month.

    Conditional on the factor, defaults are independent with the same probability, so the
    number of defaults in each month is binomial given the survivors: exact for a pool of
    ``n_loans`` identical loans at any size (no per-loan draws).

    Returns
    -------
    FloatArray
        ``(n_paths, term_months + 1)`` performing share, column 0 equal to 1.
    """
    rho = _check_rho(rho)
    h = float(_hazard(np.array([pd]))[0])
    t = np.arange(term_months + 1) / 12.0
    with np.errstate(divide="ignore"):
        c = ndtri(-np.expm1(-h * t))  # (T+1,)
    z = rng.standard_normal(n_paths)
    cond = ndtr((c[None, :] - math.sqrt(rho) * z[:, None]) / math.sqrt(1.0 - rho))  # F(t|z)
    alive = np.full(n_paths, n_loans, dtype=np.int64)
    out = np.ones((n_paths, term_months + 1))
    for m in range(1, term_months + 1):
        denom = 1.0 - cond[:, m - 1]
        q = np.where(
            denom > 0.0, (cond[:, m] - cond[:, m - 1]) / np.where(denom > 0, denom, 1.0), 1.0
        )
        alive = alive - rng.binomial(alive, np.clip(q, 0.0, 1.0))
        out[:, m] = alive / n_loans
    return out


def factor_nodes(n_nodes: int = 256) -> tuple[FloatArray, FloatArray]:
    """Factor nodes and weights for the large-pool integral: Gauss-Legendre in ``u = Phi(z)``.

    The conditional tranche loss of a large pool is a kinked function of the factor (it
    starts and stops at the attachment points), so the error falls like ``n^-2`` whatever the
    rule; placing the nodes uniformly in probability rather than in ``z`` wastes none in
    the tails. Measured on the Vasicek reference cases: about 5e-6 of the tranche with 256
    nodes, 8e-7 with 1,024 (128 Gauss-Legendre nodes in ``z``: 6e-4).
    """
    if isinstance(n_nodes, bool) or not isinstance(n_nodes, int) or n_nodes < 2:
        raise ConventionError(
            f"The `n_nodes` must be an integer >= 2. Got {n_nodes!r}.", field="n_nodes"
        )
    x, w = roots_legendre(n_nodes)
    return ndtri(0.5 * (x + 1.0)), 0.5 * w


def large_pool_survival(sched: AssetSchedules, rho: float, z: FloatArray) -> FloatArray:
    """Conditional performing share of every asset given the factor (large pool).

    Parameters
    ----------
    sched : AssetSchedules
    rho : float
        Asset correlation.
    z : FloatArray
        Factor values (n_nodes,).

    Returns
    -------
    FloatArray
        ``(n_nodes, n_assets, n_periods + 1)``: ``1 - F_i(t | z)``, flat after maturity.
    """
    rho = _check_rho(rho)
    h = _hazard(sched.pd)
    t = np.arange(sched.n_periods + 1)
    tt = np.minimum(t[None, :], sched.term_months[:, None]) / 12.0  # no defaults after maturity
    with np.errstate(divide="ignore"):
        c = ndtri(-np.expm1(-h[:, None] * tt))  # (m, T+1)
    z = np.asarray(z, dtype=np.float64)
    f = ndtr((c[None, :, :] - math.sqrt(rho) * z[:, None, None]) / math.sqrt(1.0 - rho))
    return 1.0 - f


def expected_exposure_at_default(sched: AssetSchedules) -> FloatArray:
    """Expected balance at default given default within the term, per asset (n_assets,).

    ``sum_t P(default in month t) B_{t-1} / P(default by maturity)`` under the asset's flat
    hazard, with the prepayment-adjusted balance ``B``; the initial balance for a zero PD.
    """
    h = _hazard(sched.pd)
    t = np.arange(sched.n_periods + 1)
    tt = np.minimum(t[None, :], sched.term_months[:, None]) / 12.0
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
    h = _hazard(sched.pd)
    t = np.arange(sched.n_periods + 1)
    tt = np.minimum(t[None, :], sched.term_months[:, None]) / 12.0
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
    from credit.portfolio import (
        _conditional_distributions,
        conditional_pd,
        factor_quadrature,
        loss_grid,
    )

    rho = _check_rho(rho)
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
    t_def = int(min(sched.term_months.max(), t_all))  # no default after the last maturity
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
            d = _conditional_distributions(np.ascontiguousarray(cp), grid)
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
    """``x_i = min(lambda f_i, cap_i)`` with ``sum_i a_i x_i = target`` per row (all capped
    if the target exceeds the capacity)."""
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


def scenario_chunks(
    deal: Deal,
    method: ScenarioMethod,
    *,
    correlation: float = 0.15,
    n_paths: int = 10_000,
    seed: int = 0,
    chunk_size: int = DEFAULT_CHUNK,
    cdr: float | Sequence[float] | FloatArray | None = None,
    n_nodes: int = 256,
    n_nodes_recursion: int = RECURSION_NODES,
    n_buckets: int = RECURSION_BUCKETS,
) -> Iterator[PoolCashflows]:
    """Pool cashflows for the chosen default model, in chunks (weights sum to 1 overall).

    ``n_nodes`` is the large pool's factor rule (`factor_nodes`); ``n_nodes_recursion``
    and ``n_buckets`` set the recursion's factor nodes and quantile buckets per node
    (`recursion_loss_paths`); its loss paths are realised per asset by `allocate_losses`.

    ``mc`` draws from ``numpy.random.default_rng(seed)`` chunk after chunk, so a result
    depends on ``(seed, n_paths, chunk_size)`` only.
    """
    if method not in METHODS:
        raise ConventionError(
            f"The `method` must be one of {', '.join(METHODS)}. Got {method!r}.", field="method"
        )
    sched = asset_schedules(deal.pool)
    if method == "cdr":
        if cdr is None:
            raise ConventionError(
                "The `cdr` is required for the deterministic method.", field="cdr"
            )
        s = cdr_survival(cdr, sched.n_periods)
        yield pool_cashflows_from_survival(sched, s)
        return
    if method == "lhp":
        z, w = factor_nodes(n_nodes)
        step = max(1, min(len(z), 2_000_000 // max(sched.n_assets * (sched.n_periods + 1), 1)))
        for i in range(0, len(z), step):
            s3 = large_pool_survival(sched, correlation, z[i : i + step])
            yield pool_cashflows_from_survival(sched, s3, w[i : i + step])
        return
    if method == "recursion":
        b0 = float(sched.balance[:, 0].sum())
        kinks = sorted({x * b0 for t in deal.tranches for x in (t.attach, t.detach)})
        rec = recursion_loss_paths(
            sched, correlation, kinks=kinks, n_nodes=n_nodes_recursion, n_buckets=n_buckets
        )
        step = max(1, 2_000_000 // max(sched.n_assets * (sched.n_periods + 1), 1))
        for i in range(0, rec.n_scenarios, step):
            idx = np.arange(i, min(i + step, rec.n_scenarios))
            yield pool_cashflows_from_survival(
                sched, allocate_losses(sched, rec, idx), rec.weights[idx]
            )
        return
    if isinstance(n_paths, bool) or not isinstance(n_paths, int) or n_paths < 1:
        raise ConventionError(
            f"The `paths` must be a positive integer. Got {n_paths!r}.", field="paths"
        )
    if method == "stratified":
        yield from (
            cf for cf, _, _ in stratified_chunks(sched, correlation, n_paths, seed, chunk_size)
        )
        return
    rng = np.random.default_rng(seed)
    done = 0
    while done < n_paths:
        m = min(chunk_size, n_paths - done)
        d = copula_default_periods(sched, correlation, m, rng)
        cf = pool_cashflows_from_default_periods(sched, d)
        yield replace(cf, weights=np.full(m, 1.0 / n_paths))
        done += m


def factor_strata(n_paths: int) -> tuple[int, IntArray, FloatArray]:
    """Equal-probability strata of the factor for ``n_paths`` paths: their number ``S``
    (`PATHS_PER_STRATUM` paths each, ``n_paths`` if fewer), each path's stratum (in a fixed
    shuffled order, so that a chunk or a prefix of the paths samples every part of the
    factor's range) and each path's weight ``1 / (S n_s)``."""
    s_n = max(1, n_paths // PATHS_PER_STRATUM)
    order = np.random.default_rng(n_paths).permutation(n_paths)  # any prefix mixes the strata
    label = (order * s_n) // n_paths
    size = np.bincount(label, minlength=s_n)
    return s_n, label, 1.0 / (s_n * size[label])


def stratified_chunks(
    sched: AssetSchedules, rho: float, n_paths: int, seed: int, chunk_size: int = DEFAULT_CHUNK
) -> Iterator[tuple[PoolCashflows, IntArray, FloatArray]]:
    """Pool cashflows stratified on the common factor, in chunks, with each path's stratum
    and its maturity-only pool loss (``sum_i 1{default_i} LGD_i B_i(0)``, the control
    variate's argument).

    ``[0, 1]`` is cut into ``S`` equal-probability strata of ``u = Phi(z)`` (`factor_strata`);
    path ``j`` of stratum ``s`` takes ``z = Phi^{-1}((s + U_j) / S)``, then its assets'
    default times exactly given ``z`` (`default_periods_given_factor`): the defaults are the
    copula's, only the factor is spread evenly, so the estimator is unbiased and the factor's
    share of the variance (most of it on a large pool) goes.
    """
    rho = _check_rho(rho)
    rng = np.random.default_rng(seed)
    s_n, label, weight = factor_strata(n_paths)
    amounts = (1.0 - sched.recovery_rate) * sched.balance[:, 0]
    done = 0
    while done < n_paths:
        m = min(chunk_size, n_paths - done)
        lab = label[done : done + m]
        z = ndtri((lab + rng.random(m)) / s_n)
        d = default_periods_given_factor(sched, rho, z, rng)
        cf = pool_cashflows_from_default_periods(sched, d)
        yield (
            replace(cf, weights=weight[done : done + m]),
            lab,
            (d > 0).astype(np.float64) @ amounts,
        )
        done += m


# ---------------------------------------------------------------------------------------------
# analytics
# ---------------------------------------------------------------------------------------------


#: What ``expected_loss`` measures (reported with every result).
EXPECTED_LOSS_BASIS = (
    "present value of interest and principal shortfalls, discounted at the "
    "class's own coupon, over the promised present value (the class's cash "
    "with no defaults: par when it is paid on time)"
)
#: Curve bump of the effective duration (basis points, up and down).
DURATION_BUMP_BP = 1.0
#: Monte Carlo paths the effective duration is measured on (the first ones, with common random
#: numbers for the bumped and unbumped runs; scenario methods use every scenario).
DURATION_PATHS = 10_000


@dataclass(frozen=True, slots=True)
class TrancheMetrics:
    """Analytics of one tranche (see the module docstring for the conventions)."""

    name: str
    balance: float
    attach: float
    detach: float
    expected_loss: float
    prob_loss: float
    price: float
    yield_rate: float
    fair_spread_bp: float
    wal_years: float
    duration: float
    risk_weight: float
    expected_loss_std_error: float
    price_std_error: float
    discount_margin_bp: float = 0.0
    market_price: float | None = None
    principal_expected_loss: float = 0.0
    modified_duration: float = float("nan")
    duration_basis: str = "modified"


@dataclass(frozen=True, slots=True)
class DealAnalytics:
    """Per-tranche analytics with the run's settings (seed recorded for reproduction)."""

    method: str
    n_scenarios: int
    seed: int | None
    correlation: float
    tranches: tuple[TrancheMetrics, ...]
    pool_expected_loss: float  # expected pool net loss over the initial pool balance
    expected_cashflows: FloatArray = field(repr=False)  # (n_tranches, n_periods) investor cash
    loss_samples: FloatArray | None = field(default=None, repr=False)  # (n_paths, n_tranches), mc
    expected_loss_basis: str = EXPECTED_LOSS_BASIS

    def by_name(self, name: str) -> TrancheMetrics:
        for t in self.tranches:
            if t.name == name:
                return t
        raise KeyError(name)


def _payment_dates(as_of: date, n_periods: int) -> list[date]:
    return [add_months(as_of, m) for m in range(1, n_periods + 1)]


def _guarantee_factor(tr: Tranche, times: FloatArray) -> FloatArray | None:
    """Share of the guaranteed claims the investor receives per month (survival + recovery)."""
    g = tr.guarantee
    if g is None:
        return None
    h = float(_hazard(np.array([g.guarantor_pd]))[0])
    surv = np.exp(-h * times)
    return surv + g.guarantor_recovery * (1.0 - surv)


def investor_cashflows(
    deal: Deal, wf: WaterfallResult, times: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Investor cash and principal loss per scenario, tranche and month, guarantees applied.

    The most junior class, when flagged ``equity``, also receives the residual cash. PDL
    cures (written-down principal reimbursed from excess spread) are investor cash, and the
    principal loss is the write-downs net of them.
    With a wrap, the investor receives the scheduled coupon, principal and write-downs
    while the guarantor survives (``G = due + written down - paid``, recoveries after the
    guarantor defaults); catch-up interest then goes to the guarantor.
    """
    cash = wf.interest_paid + wf.principal_paid + wf.pdl_cure
    if deal.tranches[-1].equity:
        cash[:, -1, :] += wf.residual
    loss = wf.writedown - wf.pdl_cure  # write-downs net of the PDL reimbursed later
    for k, tr in enumerate(deal.tranches):
        f = _guarantee_factor(tr, times)
        if f is None:
            continue
        g = wf.interest_due[:, k, :] + wf.writedown[:, k, :] - wf.interest_paid[:, k, :]
        cash[:, k, :] += g * f - wf.pdl_cure[:, k, :] * f  # cures reimburse the guarantor
        loss[:, k, :] *= 1.0 - f
    return cash, loss


def _loss_probability(
    deal: Deal, wf: WaterfallResult, times: FloatArray, faces: FloatArray
) -> FloatArray:
    """Per scenario and tranche, the probability that the investor loses (n, K).

    Unwrapped: 1 when the class ends with principal written down and not reimbursed, or
    interest still unpaid, above `LOSS_EPS` of the face (a coupon paid late counts in the
    PV expected loss, not here). Wrapped: the guarantor must have defaulted by the last
    write-down month, ``1 - S_g(t_last)`` (guarantor independent of the pool).
    """
    lost = wf.writedown.sum(axis=2) - wf.pdl_cure.sum(axis=2) + wf.interest_shortfall[:, :, -1]
    out = (lost > LOSS_EPS * faces[None, :]).astype(np.float64)
    hit = wf.writedown > LOSS_EPS * faces[None, :, None]
    for k, tr in enumerate(deal.tranches):
        if tr.guarantee is None:
            continue
        h = float(_hazard(np.array([tr.guarantee.guarantor_pd]))[0])
        last = np.where(
            hit[:, k, :].any(axis=1), hit.shape[2] - 1 - np.argmax(hit[:, k, ::-1], axis=1), 0
        )
        out[:, k] = hit[:, k, :].any(axis=1) * -np.expm1(-h * times[last])
    return np.asarray(out, dtype=np.float64)


def _irr_monthly(cash: FloatArray, price_amount: float) -> float:
    """Annual yield (monthly compounding) with ``sum cash_t (1 + y/12)^-t = price_amount``."""
    t = np.arange(1, cash.size + 1)

    def f(y: float) -> float:
        # (1 + y/12)^-t in log space, the exponent clipped: no overflow at deep negative yields
        return float(cash @ np.exp(np.minimum(-t * math.log1p(y / 12.0), 300.0))) - price_amount

    if price_amount <= 0.0 or cash.sum() <= 0.0:
        return float("nan")
    try:
        return float(brentq(f, -0.99 * 12.0 + 1e-6, 10.0, xtol=1e-12))
    except ValueError:
        return float("nan")


def _modified_duration(cash: FloatArray, y: float) -> float:
    if not math.isfinite(y):
        return float("nan")
    t = np.arange(1, cash.size + 1)
    v = cash * (1.0 + y / 12.0) ** -t
    pv = float(v.sum())
    if pv <= 0.0:
        return float("nan")
    return float((v @ (t / 12.0)) / pv / (1.0 + y / 12.0))


def _par_rate(df: FloatArray) -> float:
    """The curve's par rate (monthly payments, annual quote) over the deal's months."""
    ann = float(df.sum()) / 12.0
    return (1.0 - float(df[-1])) / ann if ann > 0.0 else 0.0


def _default_margin_bp(tr: Tranche, par: float) -> float:
    """A class's discount margin when none is given: its ``discount_spread_bp``; else a
    floating class's own spread, a fixed class's coupon over the curve's par rate (its issue
    spread, not below 0)."""
    if tr.discount_spread_bp is not None:
        return float(tr.discount_spread_bp)
    if tr.spread_bp is not None:
        return float(tr.spread_bp)
    return max((float(tr.coupon or 0.0) - par) * 1e4, 0.0)


def _per_class(
    value: float | Mapping[str, float] | None, deal: Deal, what: str
) -> list[float | None]:
    """One number for every class, a mapping by class name, or nothing."""
    names = [t.name for t in deal.tranches]
    if value is None:
        return [None] * len(names)
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ConventionError(
                f"The `{what}` names unknown classes {unknown}; the classes are {names}.",
                field=f"{what}.{unknown[0]}",
            )
        out: list[float | None] = []
        for n in names:
            v = value.get(n)
            out.append(None if v is None else _finite_number(v, f"{what}.{n}"))
        return out
    v = _finite_number(value, what)
    return [v] * len(names)


def _finite_number(v: object, path: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ConventionError(f"The `{path}` must be a finite number. Got {v!r}.", field=path)
    return float(v)


def _solve_margin(
    cash: FloatArray, df: FloatArray, times: FloatArray, face: float, price: float, name: str
) -> float:
    """Discount margin (bp) at which the expected cash is worth ``price`` per 100."""

    def f(dm_bp: float) -> float:
        return float(cash @ (df * np.exp(-dm_bp / 1e4 * times))) / face * 100.0 - price

    lo, hi = -5_000.0, 50_000.0
    if not f(lo) >= 0.0 >= f(hi):
        raise ConventionError(
            f"The `market_price.{name}` must lie between the prices at discount margins of "
            f"{lo:.0f} and {hi:.0f} bp ({f(hi) + price:.4f} .. {f(lo) + price:.4f}). Got {price!r}.",
            field=f"market_price.{name}",
        )
    return float(brentq(f, lo, hi, xtol=1e-10))


def analyze(
    deal: Deal,
    scenarios: Sequence[PoolCashflows] | Iterator[PoolCashflows],
    *,
    market: MarketData,
    method: str = "custom",
    seed: int | None = None,
    correlation: float = float("nan"),
    k_sa: float = DEFAULT_K_SA,
    w: float = 0.0,
    keep_losses: bool = False,
    discount_margin_bp: float | Mapping[str, float] | None = None,
    market_price: float | Mapping[str, float] | None = None,
    std_error: bool | None = None,
) -> DealAnalytics:
    """Run the waterfall on every scenario chunk and reduce to per-tranche analytics.

    Parameters
    ----------
    deal : Deal
    scenarios : iterable of PoolCashflows
        Chunks whose weights sum to 1 over all chunks.
    market : MarketData
        Discount curve (as_of = closing date); its forwards are the floating index.
    k_sa, w : float
        SEC-SA pool capital and delinquent share for the risk weights.
    keep_losses : bool
        Keep the per-scenario tranche losses (fractions of face) in the result.
    discount_margin_bp : float or mapping, optional
        Discount margin over the curve (continuously compounded zero spread, bp) for every
        class or by class name; default `_default_margin_bp`.
    market_price : float or mapping, optional
        Price per 100 by class name (or one for all): the class's discount margin is then
        solved from it (``brentq``) and reported.
    std_error : bool, optional
        Report sample standard errors (default: for ``method="mc"``).

    Notes
    -----
    * ``expected_loss`` (`EXPECTED_LOSS_BASIS`): per scenario ``max(0, 1 - PV_c /
      PV_c(promised))`` with ``PV_c`` the class's interest, principal and PDL cures
      discounted at its own coupon (floating: index + spread) -- the promised PV is then
      par whatever the timing (less any deferral the structure makes with no defaults) --
      averaged under the real-world default model. ``principal_expected_loss`` keeps the
      undiscounted principal measure (write-downs net of PDL cures over the face).
    * ``price`` per 100 of face: the expected investor cash (the equity class's residual
      included) discounted at the curve plus the discount margin; real-world EL beside it.
    * ``yield``: the annual rate (monthly compounding) at which the promised cash flows (no
      defaults, the same prepayments) are worth the price.
    * ``duration``: floating classes the effective duration ``(P(-1bp) - P(+1bp)) / (2 P
      1bp)`` from a parallel curve bump that moves the index too (the waterfall is run again);
      fixed classes the modified duration of the promised cash at the yield. A Monte Carlo
      run measures it on its first `DURATION_PATHS` paths (common random numbers).
    """
    k_n = len(deal.tranches)
    faces = np.array([t.balance for t in deal.tranches])
    dm_in = _per_class(discount_margin_bp, deal, "discount_margin_bp")
    mp_in = _per_class(market_price, deal, "market_price")
    sums: dict[str, FloatArray] | None = None
    loss_parts: list[FloatArray] = []
    n_total = 0
    pool_loss = 0.0
    with_se = (method == "mc") if std_error is None else bool(std_error)
    floating = any(t.is_floating for t in deal.tranches)
    bumped: dict[str, tuple[FloatArray, FloatArray]] = {}
    sampled = method in ("mc", "stratified")  # exchangeable paths: a prefix is a fair sample
    bumped_paths = 0
    for cf in scenarios:
        t_max = cf.n_periods
        if sums is None:
            start = deal.pool.cut_off_date or market.as_of
            if start < market.as_of:
                raise ConventionError(
                    f"The `as_of` must be on or before the pool's cut-off date "
                    f"{start.isoformat()} (the deal's months start there). Got "
                    f"{market.as_of.isoformat()}.",
                    field="as_of",
                )
            dates = _payment_dates(start, t_max)
            times = np.array([year_fraction(market.as_of, d, DayCount.ACT_365F) for d in dates])
            df0 = market.discount_factors(dates)
            prev = np.concatenate([[1.0], df0[:-1]])
            index = (prev / df0 - 1.0) * 12.0
            for tag, bp in (("up", DURATION_BUMP_BP), ("down", -DURATION_BUMP_BP)):
                dfb = market.parallel_shift(bp).discount_factors(dates)
                prevb = np.concatenate([[1.0], dfb[:-1]])
                bumped[tag] = (dfb, (prevb / dfb - 1.0) * 12.0)
            par = _par_rate(df0)
            dm = np.array(
                [
                    d if d is not None else _default_margin_bp(t, par)
                    for d, t in zip(dm_in, deal.tranches, strict=True)
                ]
            )
            dfk = df0[None, :] * np.exp(-dm[:, None] / 1e4 * times[None, :])
            from products.waterfall import _coupons

            cpn = _coupons(deal, t_max, index)
            dcpn = np.cumprod(1.0 / (1.0 + cpn / 12.0), axis=1)  # (K, T) at the class's coupon
            promised = _promised_cash(deal, t_max, index, times)
            # promised PV at the coupon: par, less any deferral the structure makes with no
            # defaults at all (e.g. quarterly collections against monthly coupons)
            promised_pv = (
                faces
                if promised is None
                else np.minimum(np.einsum("kt,kt->k", promised[1], dcpn), faces)
            )
            sums = {
                k: np.zeros((k_n, t_max))
                for k in ("cash", "prin", "paid", "wd", "bal", "cash_up", "cash_down", "cash_mid")
            }
            sums.update({k: np.zeros(k_n) for k in ("el", "el2", "pl", "pv", "pv2", "pel")})
        wf = run_waterfall(deal, cf, index)
        cash, loss = investor_cashflows(deal, wf, times)
        claim = cash.copy()
        if deal.tranches[-1].equity:
            claim[:, -1, :] -= wf.residual
        wts = cf.weights
        bal_start = np.concatenate(
            [np.broadcast_to(faces, (cf.n_scenarios, k_n))[:, :, None], wf.note_balance[:, :, :-1]],
            axis=2,
        )
        sums["cash"] += np.einsum("s,skt->kt", wts, cash)
        # principal the investor receives: paid by the waterfall, plus write-downs a wrap covers
        sums["prin"] += np.einsum("s,skt->kt", wts, wf.principal_paid + wf.writedown - loss)
        sums["paid"] += np.einsum("s,skt->kt", wts, wf.principal_paid)
        sums["wd"] += np.einsum("s,skt->kt", wts, wf.writedown)
        sums["bal"] += np.einsum("s,skt->kt", wts, bal_start)
        shortfall = np.clip(1.0 - np.einsum("skt,kt->sk", claim, dcpn) / promised_pv, 0.0, 1.0)
        pv = np.einsum("skt,kt->sk", cash, dfk) / faces * 100.0
        sums["el"] += wts @ shortfall
        sums["el2"] += wts @ (shortfall * shortfall)
        sums["pel"] += wts @ (loss.sum(axis=2) / faces)
        sums["pl"] += wts @ _loss_probability(deal, wf, times, faces)
        sums["pv"] += wts @ pv
        sums["pv2"] += wts @ (pv * pv)
        if floating and (not sampled or bumped_paths < DURATION_PATHS):
            for tag in ("up", "down"):
                wfb = run_waterfall(deal, cf, bumped[tag][1])
                sums[f"cash_{tag}"] += np.einsum(
                    "s,skt->kt", wts, investor_cashflows(deal, wfb, times)[0]
                )
            sums["cash_mid"] += np.einsum("s,skt->kt", wts, cash)
            bumped_paths += cf.n_scenarios
        pool_loss += float(wts @ cf.net_loss()) / cf.initial_balance
        n_total += cf.n_scenarios
        if keep_losses:
            loss_parts.append(shortfall)
    if sums is None:
        raise ConventionError("No scenarios to analyse.", field="scenarios")
    metrics = []
    for k, tr in enumerate(deal.tranches):
        exp_cash = sums["cash"][k]
        margin = float(dm[k])
        given_price = mp_in[k]
        if given_price is not None:
            margin = _solve_margin(exp_cash, df0, times, faces[k], float(given_price), tr.name)
        disc = df0 * np.exp(-margin / 1e4 * times)
        price = float(exp_cash @ disc) / faces[k] * 100.0
        prom = promised[0][k] if promised is not None else exp_cash
        y = _irr_monthly(prom, price / 100.0 * faces[k])
        ann = float(df0 @ sums["bal"][k]) / 12.0
        fixed = float(df0 @ (sums["prin"][k] + index / 12.0 * sums["bal"][k]))
        fair = (faces[k] - fixed) / ann * 1e4 if ann > 0.0 else float("nan")
        months = np.arange(1, exp_cash.size + 1)
        wal = float(months @ (sums["paid"][k] + sums["wd"][k])) / 12.0 / faces[k]
        rw = sec_sa_risk_weight(k_sa, w, tr.attach, tr.detach)
        if tr.guarantee is not None:
            rw = min(rw, guarantor_risk_weight(tr.guarantee.guarantor_pd))
        var_el = max(float(sums["el2"][k] - sums["el"][k] ** 2), 0.0)
        var_pv = max(float(sums["pv2"][k] - sums["pv"][k] ** 2), 0.0)
        se_el = math.sqrt(var_el / n_total) if with_se else 0.0
        se_pv = math.sqrt(var_pv / n_total) if with_se else 0.0
        mod = _modified_duration(prom, y)
        p_mid = float(sums["cash_mid"][k] @ disc)
        if tr.is_floating and p_mid > 0.0:
            # on the paths the bumps ran on (all of them but for a large Monte Carlo run)
            p_up = float(sums["cash_up"][k] @ (bumped["up"][0] * np.exp(-margin / 1e4 * times)))
            p_dn = float(sums["cash_down"][k] @ (bumped["down"][0] * np.exp(-margin / 1e4 * times)))
            dur = (p_dn - p_up) / (2.0 * p_mid * DURATION_BUMP_BP / 1e4)
            basis = "effective"
        else:
            dur, basis = mod, "modified"
        metrics.append(
            TrancheMetrics(
                name=tr.name,
                balance=float(faces[k]),
                attach=tr.attach,
                detach=tr.detach,
                expected_loss=min(max(float(sums["el"][k]), 0.0), 1.0),
                prob_loss=min(max(float(sums["pl"][k]), 0.0), 1.0),
                price=price,
                yield_rate=y,
                fair_spread_bp=float(fair),
                wal_years=wal,
                duration=dur,
                risk_weight=rw,
                expected_loss_std_error=se_el,
                price_std_error=se_pv,
                discount_margin_bp=margin,
                market_price=mp_in[k],
                principal_expected_loss=min(max(float(sums["pel"][k]), 0.0), 1.0),
                modified_duration=mod,
                duration_basis=basis,
            )
        )
    return DealAnalytics(
        method=method,
        n_scenarios=n_total,
        seed=seed,
        correlation=correlation,
        tranches=tuple(metrics),
        pool_expected_loss=pool_loss,
        expected_cashflows=sums["cash"],
        loss_samples=np.concatenate(loss_parts) if keep_losses else None,
    )


def _promised_cash(
    deal: Deal, t_max: int, index: FloatArray, times: FloatArray
) -> tuple[FloatArray, FloatArray] | None:
    """Each class's cash with no defaults (the pool's prepayments kept), (K, T), with and
    without the equity's residual; None when the scenarios do not run over the pool's own
    months."""
    sched = asset_schedules(deal.pool)
    if sched.n_periods != t_max:
        return None
    cf0 = pool_cashflows_from_survival(sched, np.ones((1, t_max + 1)))
    wf0 = run_waterfall(deal, cf0, index)
    cash, _ = investor_cashflows(deal, wf0, times)
    claim = cash[0].copy()
    if deal.tranches[-1].equity:
        claim[-1] -= wf0.residual[0]
    return cash[0], claim


def analyze_deal(
    deal: Deal,
    *,
    market: MarketData,
    method: ScenarioMethod = "mc",
    correlation: float = 0.15,
    n_paths: int = 10_000,
    seed: int = 0,
    chunk_size: int = DEFAULT_CHUNK,
    cdr: float | Sequence[float] | FloatArray | None = None,
    k_sa: float = DEFAULT_K_SA,
    w: float = 0.0,
    keep_losses: bool = False,
    discount_margin_bp: float | Mapping[str, float] | None = None,
    market_price: float | Mapping[str, float] | None = None,
) -> DealAnalytics:
    """Per-tranche expected loss, probability of loss, price, yield, fair spread, WAL,
    duration and SEC-SA risk weight under the chosen default model (conventions in
    `analyze`: EL as the PV of shortfalls, price from a discount margin, yield from the
    price, effective duration of floating classes).

    Parameters
    ----------
    deal : Deal
    market : MarketData
        Discount curve at the closing date (QuantLib); its monthly forwards are the
        floating index and each class is discounted at the curve plus its market spread.
    method : {"mc", "stratified", "lhp", "recursion", "cdr"}
        Default model (see the module docstring); ``stratified`` is `analyze_stratified`.
    correlation : float
        Asset correlation of the one-factor Gaussian copula, [0, 1).
    n_paths, seed, chunk_size : int
        Monte Carlo paths, the seed of ``numpy.random.default_rng`` (recorded in the
        result) and the paths simulated at once (bounds memory).
    cdr : float or array, optional
        Annual default rate(s) for ``method="cdr"``.
    k_sa, w : float
        SEC-SA pool capital (decimal) and delinquent share for the risk weights.
    keep_losses : bool
        Keep per-path tranche losses (fractions of face) in the result.
    discount_margin_bp, market_price : float or mapping, optional
        The discount margin over the curve (bp), or the market price per 100 it is solved
        from, for every class or by class name (see `analyze`).

    Returns
    -------
    DealAnalytics

    Examples
    --------
    >>> from datetime import date
    >>> from products.structure import deal_from_dict
    >>> from valuation.market import default_curve
    >>> deal = deal_from_dict({
    ...     "pool": {"loans": [{"loan_id": f"L{i}", "balance": 1e6, "annual_rate": 0.06,
    ...                         "term_months": 24, "pd": 0.03} for i in range(50)]},
    ...     "tranches": [{"name": "A", "attach": 0.1, "detach": 1.0, "coupon": 0.03},
    ...                  {"name": "E", "attach": 0.0, "detach": 0.1, "coupon": 0.10}]})
    >>> res = analyze_deal(deal, market=default_curve(date(2025, 1, 1), "CNY"), n_paths=2000, seed=7)
    >>> res.by_name("E").expected_loss > res.by_name("A").expected_loss
    True
    """
    if method == "stratified":
        return analyze_stratified(
            deal,
            market=market,
            correlation=correlation,
            n_paths=n_paths,
            seed=seed,
            chunk_size=chunk_size,
            k_sa=k_sa,
            w=w,
            keep_losses=keep_losses,
            discount_margin_bp=discount_margin_bp,
            market_price=market_price,
        )
    chunks = scenario_chunks(
        deal,
        method,
        correlation=correlation,
        n_paths=n_paths,
        seed=seed,
        chunk_size=chunk_size,
        cdr=cdr,
    )
    return analyze(
        deal,
        chunks,
        market=market,
        method=method,
        seed=seed if method == "mc" else None,
        correlation=correlation,
        k_sa=k_sa,
        w=w,
        keep_losses=keep_losses,
        discount_margin_bp=discount_margin_bp,
        market_price=market_price,
    )


def _stratified_stats(y: FloatArray, label: IntArray, s_n: int) -> tuple[float, float]:
    """Stratified mean (equal-probability strata) and its standard error from the
    within-stratum sample variances."""
    size = np.bincount(label, minlength=s_n).astype(np.float64)
    mean_s = np.bincount(label, weights=y, minlength=s_n) / size
    dev = y - mean_s[label]
    var_s = np.bincount(label, weights=dev * dev, minlength=s_n) / np.maximum(size - 1.0, 1.0)
    return float(mean_s.mean()), float(math.sqrt(float((var_s / size).sum())) / s_n)


def analyze_stratified(
    deal: Deal,
    *,
    market: MarketData,
    correlation: float = 0.15,
    n_paths: int = 10_000,
    seed: int = 0,
    chunk_size: int = DEFAULT_CHUNK,
    k_sa: float = DEFAULT_K_SA,
    w: float = 0.0,
    keep_losses: bool = False,
    discount_margin_bp: float | Mapping[str, float] | None = None,
    market_price: float | Mapping[str, float] | None = None,
) -> DealAnalytics:
    """The unbiased tranche engine: Monte Carlo stratified on the common factor
    (`stratified_chunks`: exact default times given each factor draw) through the full
    waterfall, with the exact maturity-only tranche loss of the recursion
    (`static_tranche_expected_loss`, Andersen-Sidenius-Basu) as a control variate.

    Per class, with ``Y`` the path's loss (`EXPECTED_LOSS_BASIS`) and ``C`` its
    maturity-only tranche loss ``min((L_T / B_0 - A)^+, D - A) / (D - A)`` (``L_T`` the
    path's defaulted balance x LGD, as the recursion counts it):
    ``EL = mean(Y - beta (C - E[C]))`` with ``E[C]`` from the recursion and ``beta`` the
    within-stratum regression slope of ``Y`` on ``C``; the standard error is the stratified
    one of the adjusted values. The recursion alone is exact only for maturity-only loss
    allocation (no excess spread, no timing); here it only removes variance, so the result
    stays unbiased on any waterfall (``beta`` estimated from the sample: an O(1/n) effect).
    Prices are the stratified means of the path values.
    """
    sched = asset_schedules(deal.pool)
    if isinstance(n_paths, bool) or not isinstance(n_paths, int) or n_paths < 2:
        raise ConventionError(
            f"The `paths` must be an integer >= 2. Got {n_paths!r}.", field="paths"
        )
    labels: list[IntArray] = []
    pool_losses: list[FloatArray] = []

    def chunks() -> Iterator[PoolCashflows]:
        for cf, lab, lt in stratified_chunks(sched, correlation, n_paths, seed, chunk_size):
            labels.append(lab)
            pool_losses.append(lt)
            yield cf

    res = analyze(
        deal,
        chunks(),
        market=market,
        method="stratified",
        seed=seed,
        correlation=correlation,
        k_sa=k_sa,
        w=w,
        keep_losses=True,
        discount_margin_bp=discount_margin_bp,
        market_price=market_price,
        std_error=True,
    )
    y_all = res.loss_samples
    assert y_all is not None
    label = np.concatenate(labels)
    s_n = int(label.max()) + 1
    b0 = float(sched.balance[:, 0].sum())
    frac = np.concatenate(pool_losses) / b0
    exact = static_tranche_expected_loss(deal, correlation, method="recursion")
    size = np.bincount(label, minlength=s_n).astype(np.float64)
    metrics = []
    for k, tr in enumerate(deal.tranches):
        width = tr.detach - tr.attach
        c = np.clip(frac - tr.attach, 0.0, width) / width
        y = y_all[:, k]
        yc = y - (np.bincount(label, weights=y, minlength=s_n) / size)[label]
        cc = c - (np.bincount(label, weights=c, minlength=s_n) / size)[label]
        denom = float(cc @ cc)
        beta = float(yc @ cc) / denom if denom > 0.0 else 0.0
        el, se = _stratified_stats(y - beta * (c - exact[k]), label, s_n)
        metrics.append(
            replace(
                res.tranches[k], expected_loss=min(max(el, 0.0), 1.0), expected_loss_std_error=se
            )
        )
    return replace(res, tranches=tuple(metrics), loss_samples=y_all if keep_losses else None)


# ---------------------------------------------------------------------------------------------
# static (maturity) tranche loss from credit.portfolio, and the solvers
# ---------------------------------------------------------------------------------------------


def pool_horizon_inputs(deal: Deal) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(PD over each asset's term, balance, LGD) of the pool's assets."""
    sched = asset_schedules(deal.pool)
    pds = -np.expm1(-_hazard(sched.pd) * sched.term_months / 12.0)
    return pds, sched.balance[:, 0].copy(), 1.0 - sched.recovery_rate


def static_tranche_expected_loss(
    deal: Deal, correlation: float, method: Literal["lhp", "recursion"] = "recursion"
) -> FloatArray:
    """Expected loss (fraction of face) of each tranche on the pool loss at maturity, without
    excess spread or timing: ``E[min((L - A)^+, D - A)] / (D - A)``.

    ``lhp`` uses `credit.portfolio.vasicek_tranche_loss` with the balance-weighted PD and
    recovery; ``recursion`` the exact distribution from `credit.portfolio.loss_distribution`.
    """
    from credit.portfolio import loss_distribution, tranche_expected_loss, vasicek_tranche_loss

    rho = _check_rho(correlation)
    pds, eads, lgds = pool_horizon_inputs(deal)
    total = float(eads.sum())
    if method == "lhp":
        pd = float(pds @ eads / total)
        rec = 1.0 - float(lgds @ eads / total)
        return np.array(
            [vasicek_tranche_loss(pd, rho, rec, t.attach, t.detach) for t in deal.tranches]
        )
    if method != "recursion":
        raise ConventionError(
            f"The `method` must be 'lhp' or 'recursion'. Got {method!r}.", field="method"
        )
    ok = pds > 0
    losses, probs = loss_distribution(
        pds[ok], eads[ok], np.clip(lgds[ok], 1e-12, 1.0), rho, method="recursion"
    )
    return np.array(
        [tranche_expected_loss(losses / total, probs, t.attach, t.detach) for t in deal.tranches]
    )


@dataclass(frozen=True, slots=True)
class BreakEven:
    """The constant annual default rate at which a tranche first loses principal, and the
    cumulative defaults (over the initial pool balance) it implies."""

    tranche: str
    cdr: float
    cumulative_default: float


def _tranche_loss_at(
    deal: Deal, sched: AssetSchedules, k: int, cdr: float, index: FloatArray
) -> tuple[float, float]:
    s = cdr_survival(cdr, sched.n_periods)
    cf = pool_cashflows_from_survival(sched, s)
    wf = run_waterfall(deal, cf, index)
    return float(wf.writedown[0, k].sum() / deal.tranches[k].balance), float(
        cf.defaults.sum() / cf.initial_balance
    )


def break_even_cdr(
    deal: Deal, tranche: str | int, *, index_rate: float = 0.0, loss_threshold: float = 1e-6
) -> BreakEven:
    """First-loss default rate of a tranche by root finding (scipy ``brentq``).

    The tranche's write-down (fraction of face) is zero up to the break-even CDR; a grid
    of CDRs brackets the first crossing of ``loss(cdr) = loss_threshold`` (the waterfall
    need not make the loss monotone: triggers and excess spread can cut in), which
    ``brentq`` then refines. A tranche that never loses (even at CDR 99.99 %) gets
    ``cdr = 1.0``.
    """
    k = tranche if isinstance(tranche, int) else [t.name for t in deal.tranches].index(tranche)
    sched = asset_schedules(deal.pool)
    index = np.full(sched.n_periods, float(index_rate))
    grid = np.concatenate([np.linspace(0.0, 0.2, 41)[:-1], np.linspace(0.2, 0.9999, 81)])
    surv = cdr_survival(np.repeat(grid[:, None], sched.n_periods, axis=1), sched.n_periods)
    cf = pool_cashflows_from_survival(sched, surv)
    wf = run_waterfall(deal, cf, index)  # the whole grid at once, one scenario per CDR
    losses = wf.writedown[:, k].sum(axis=1) / deal.tranches[k].balance
    above = np.nonzero(losses > loss_threshold)[0]
    if above.size == 0:
        return BreakEven(
            deal.tranches[k].name, 1.0, float(cf.defaults[-1].sum() / cf.initial_balance)
        )
    first = int(above[0])
    if first == 0:
        return BreakEven(deal.tranches[k].name, 0.0, 0.0)
    lo, hi = float(grid[first - 1]), float(grid[first])
    root = brentq(
        lambda c: _tranche_loss_at(deal, sched, k, c, index)[0] - loss_threshold, lo, hi, xtol=1e-10
    )
    return BreakEven(
        deal.tranches[k].name, float(root), _tranche_loss_at(deal, sched, k, root, index)[1]
    )


def size_attachment(
    target_el: float, detach: float, *, pd: float, correlation: float, recovery: float
) -> float:
    """Attachment point giving a tranche ``[A, detach]`` the target expected loss (fraction
    of its face), large homogeneous pool (`credit.portfolio.vasicek_tranche_loss`), found by
    ``brentq``: the tranche EL falls as ``A`` rises.

    Raises
    ------
    CalibrationError
        When no attachment in ``[0, detach)`` reaches the target.
    """
    from credit.portfolio import vasicek_tranche_loss

    if not 0.0 < target_el < 1.0:
        raise ConventionError(
            f"The `target_el` must be in (0, 1). Got {target_el!r}.", field="target_el"
        )

    def f(a: float) -> float:
        return vasicek_tranche_loss(pd, correlation, recovery, a, detach) - target_el

    lo, hi = 0.0, detach * (1.0 - 1e-9)
    if f(lo) < 0.0:
        return 0.0  # the whole tranche from 0 already meets the target
    if f(hi) > 0.0:
        raise CalibrationError(
            f"No attachment below detach={detach} gives expected loss {target_el}; "
            "lower the target or raise the detachment.",
            field="target_el",
        )
    return float(brentq(f, lo, hi, xtol=1e-12))


def size_deal_attachment(
    deal: Deal,
    tranche: str | int,
    target_el: float,
    *,
    correlation: float,
    method: Literal["lhp", "recursion"] = "recursion",
) -> float:
    """Attachment of a deal's tranche (keeping its detachment) for a target maturity EL,
    on the pool's loss distribution from `credit.portfolio` (recursion or large pool)."""
    from credit.portfolio import loss_distribution, tranche_expected_loss

    k = tranche if isinstance(tranche, int) else [t.name for t in deal.tranches].index(tranche)
    detach = deal.tranches[k].detach
    pds, eads, lgds = pool_horizon_inputs(deal)
    total = float(eads.sum())
    if method == "lhp":
        return size_attachment(
            target_el,
            detach,
            pd=float(pds @ eads / total),
            correlation=correlation,
            recovery=1.0 - float(lgds @ eads / total),
        )
    ok = pds > 0
    losses, probs = loss_distribution(
        pds[ok],
        eads[ok],
        np.clip(lgds[ok], 1e-12, 1.0),
        _check_rho(correlation),
        method="recursion",
    )
    x = losses / total

    def f(a: float) -> float:
        return tranche_expected_loss(x, probs, a, detach) - target_el

    lo, hi = 0.0, detach * (1.0 - 1e-9)
    if f(lo) < 0.0:
        return 0.0
    if f(hi) > 0.0:
        raise CalibrationError(
            f"No attachment below detach={detach} gives expected loss {target_el}.",
            field="target_el",
        )
    return float(brentq(f, lo, hi, xtol=1e-12))
