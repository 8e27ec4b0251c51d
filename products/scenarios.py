"""Default scenarios of a deal's pool; every kind feeds the same waterfall (`products.waterfall`).

* ``cdr`` -- a deterministic annual constant default rate vector (`cdr_survival`);
* ``mc`` -- one-factor Gaussian copula Monte Carlo of correlated default times on the
  pool's assets: ``X_i = sqrt(rho) Z + sqrt(1 - rho) eps_i``, ``tau_i = -ln(1 - Phi(X_i)) /
  h_i`` with the flat hazard ``h_i = -ln(1 - PD_i)`` from the annual PD; an asset defaults
  in month ``ceil(12 tau_i)`` if that is within its term (`copula_default_periods`). Paths
  are simulated in chunks so memory stays bounded (`scenario_chunks`);
* ``stratified`` -- the same copula with the factor drawn by strata (`stratified_chunks`);
* ``lhp`` -- the large-pool limit: conditional on the factor ``Z = z`` every asset's
  performing share follows ``1 - F_i(t | z)``, ``F_i(t | z) = Phi((Phi^{-1}(1 - e^{-h_i t})
  - sqrt(rho) z) / sqrt(1 - rho))``, integrated over ``z`` by Gauss-Legendre in ``Phi(z)``
  (`factor_nodes`, `large_pool_survival`);
* ``recursion`` -- the exact finite-pool loss distribution at every payment date: per
  factor node ``z`` (`credit.portfolio.factor_quadrature`), each asset's conditional
  probability of default by month ``t`` from its own cumulative PD curve, and the exact
  conditional loss recursion of `credit.portfolio` (Andersen-Sidenius-Basu) for the pool
  loss ``L_t`` (`products.recursion`). Scenarios are (node, quantile bucket) pairs whose
  loss paths follow the conditional quantile through time, split where any month's loss
  crosses a tranche boundary, so the expected tranche loss curve ``E[min((L_t - A)^+, D -
  A)]`` of a pure loss-allocation structure is exact at every date; each path's monthly
  losses are realised on the assets in proportion to their conditional default densities
  (`allocate_losses`) and run through the same waterfall as the other methods. With excess
  spread absorbing each month's loss the comonotone paths are smoother month to month than
  the copula's defaults, so junior classes lose somewhat less than under Monte Carlo (on
  the benchmark deal the equity class's EL is about 3 % lower).

The analytics on these scenarios are in `products.tranches`, the solvers in
`products.solvers`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Literal

import numpy as np
from scipy.special import ndtr, ndtri, roots_legendre

from products.pool_cashflows import (
    PoolCashflows,
    pool_cashflows_from_default_periods,
    pool_cashflows_from_survival,
)
from products.recursion import (
    RECURSION_BUCKETS,
    RECURSION_NODES,
    allocate_losses,
    check_rho,
    hazard_rates,
    recursion_loss_paths,
)
from products.schedules import AssetSchedules, asset_schedules
from products.structure import Deal
from valuation._typing import FloatArray, IntArray
from valuation.errors import ConventionError

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


# ---------------------------------------------------------------------------------------------
# scenario generators
# ---------------------------------------------------------------------------------------------


def cdr_survival(cdr: float | Sequence[float] | FloatArray, n_periods: int) -> FloatArray:
    """Return the performing share after each month under an annual constant default rate.

    Performing share after each month under an annual constant default rate.

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
    rho = check_rho(rho)
    z = rng.standard_normal(n_paths)
    return default_periods_given_factor(sched, rho, z, rng)


def default_periods_given_factor(
    sched: AssetSchedules, rho: float, z: FloatArray, rng: np.random.Generator
) -> IntArray:
    """Draw default months given the common factor of each path.

    The factor is ``z``, shape ``(n_paths,)``: each asset's idiosyncratic draw ``eps_i``
    then its exact default time, as in `copula_default_periods` (which draws ``z`` itself).
    """
    rho = check_rho(rho)
    h = hazard_rates(sched.pd)
    term = sched.tenor_months.astype(np.float64)
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
    pd: float, rho: float, n_loans: int, tenor_months: int, n_paths: int, rng: np.random.Generator
) -> FloatArray:
    """Copula Monte Carlo for a homogeneous pool: performing share per path and month.

    Conditional on the factor, defaults are independent with the same probability, so the
    number of defaults in each month is binomial given the survivors: exact for a pool of
    ``n_loans`` identical loans at any size (no per-loan draws).

    Returns
    -------
    FloatArray
        ``(n_paths, tenor_months + 1)`` performing share, column 0 equal to 1.
    """
    rho = check_rho(rho)
    h = float(hazard_rates(np.array([pd]))[0])
    t = np.arange(tenor_months + 1) / 12.0
    with np.errstate(divide="ignore"):
        c = ndtri(-np.expm1(-h * t))  # (T+1,)
    z = rng.standard_normal(n_paths)
    cond = ndtr((c[None, :] - math.sqrt(rho) * z[:, None]) / math.sqrt(1.0 - rho))  # F(t|z)
    alive = np.full(n_paths, n_loans, dtype=np.int64)
    out = np.ones((n_paths, tenor_months + 1))
    for m in range(1, tenor_months + 1):
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
    rho = check_rho(rho)
    h = hazard_rates(sched.pd)
    t = np.arange(sched.n_periods + 1)
    tt = np.minimum(t[None, :], sched.tenor_months[:, None]) / 12.0  # no defaults after maturity
    with np.errstate(divide="ignore"):
        c = ndtri(-np.expm1(-h[:, None] * tt))  # (m, T+1)
    z = np.asarray(z, dtype=np.float64)
    f = ndtr((c[None, :, :] - math.sqrt(rho) * z[:, None, None]) / math.sqrt(1.0 - rho))
    return 1.0 - f


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
    """Split ``n_paths`` paths into equal-probability strata of the common factor.

    Equal-probability strata of the factor for ``n_paths`` paths: their number ``S``
    (`PATHS_PER_STRATUM` paths each, ``n_paths`` if fewer), each path's stratum (in a fixed shuffled
    order, so that a chunk or a prefix of the paths samples every part of the factor's range) and
    each path's weight ``1 / (S n_s)``.
    """
    s_n = max(1, n_paths // PATHS_PER_STRATUM)
    order = np.random.default_rng(n_paths).permutation(n_paths)  # any prefix mixes the strata
    label = (order * s_n) // n_paths
    size = np.bincount(label, minlength=s_n)
    return s_n, label, 1.0 / (s_n * size[label])


def stratified_chunks(
    sched: AssetSchedules, rho: float, n_paths: int, seed: int, chunk_size: int = DEFAULT_CHUNK
) -> Iterator[tuple[PoolCashflows, IntArray, FloatArray]]:
    """Yield pool cashflows stratified on the common factor, in chunks.

    Each chunk comes with each path's stratum and its maturity-only pool loss (``sum_i
    1{default_i} LGD_i B_i(0)``, the control variate's argument).

    ``[0, 1]`` is cut into ``S`` equal-probability strata of ``u = Phi(z)`` (`factor_strata`);
    path ``j`` of stratum ``s`` takes ``z = Phi^{-1}((s + U_j) / S)``, then its assets'
    default times exactly given ``z`` (`default_periods_given_factor`): the defaults are the
    copula's, only the factor is spread evenly, so the estimator is unbiased and the factor's
    share of the variance (most of it on a large pool) goes.
    """
    rho = check_rho(rho)
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
