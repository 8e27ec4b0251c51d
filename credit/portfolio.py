"""Portfolio credit loss under the one-factor Gaussian copula.

Three methods, tested against each other and against reference cases:

* ``lhp`` -- the Vasicek large homogeneous pool closed form (loss quantiles, tranche
  expected loss through the bivariate normal, evaluated with Owen's T function).
* ``recursion`` -- the exact conditional loss distribution of a finite heterogeneous
  pool (Andersen, Sidenius and Basu 2003), integrated over the systematic factor by a
  Gauss-Legendre rule on a truncated range.
* ``mc`` -- Monte Carlo of the latent variables with a seeded ``numpy.random.Generator``.

Model: loan ``i`` defaults when ``sqrt(rho_i) Z + sqrt(1 - rho_i) eps_i < Phi^{-1}(PD_i)``
with ``Z, eps_i`` independent standard normals, so that conditional on ``Z = z``

.. math:: p_i(z) = \\Phi\\Big(\\frac{\\Phi^{-1}(PD_i) - \\sqrt{\\rho_i}\\, z}{\\sqrt{1-\\rho_i}}\\Big)

and its loss is ``EAD_i x LGD_i``. ``rho`` is the asset correlation; the factor
loading is its square root.

Quadrature. With many names the conditional loss distribution is a steep function of
``z`` (the steeper the higher the correlation: at rho 0.9 it switches from no loss to
total loss within a few hundredths of ``z``), so no fixed rule suits every pool: 128
Gauss-Legendre nodes on ``[-8.5, 8.5]`` are exact to 1e-15 on the 125-name reference
pool but off by 1e-2 in tranche EL on a 1,000-name pool at rho 0.9. By default the
recursion therefore integrates adaptively: Gauss-Legendre panels of `PANEL_NODES` nodes,
each compared with the sum of its two halves (the error estimate from two node counts);
a panel whose estimate exceeds its share of `DEFAULT_TOLERANCE` (in proportion to its
width) is halved again, until the summed estimate is within the tolerance. The estimate
is measured on the loss distribution function (the largest difference in
``P(L <= x)`` over the grid), which bounds the error of every tranche's expected loss;
it is reported with the result (`recursion_distribution`, `credit.contributions.PortfolioRisk`). The kept
value is the finer one, so the reported estimate is conservative. A fixed rule is still
available with ``n_nodes``.

Where the parts live: the closed forms of the large-pool limit in `credit.vasicek`
(``vasicek_tranche_loss`` is published here too); the Euler contributions of each loan
to EL, VaR and ES in `credit.contributions` (`portfolio_risk`), exact on the loss grid.

References
----------
Vasicek, O. (2002), "The distribution of loan portfolio value", *Risk* 15(12).
Andersen, L., Sidenius, J., Basu, S. (2003), "All your hedges in one basket", *Risk*.
Owen, D. B. (1956), "Tables for computing bivariate normal probabilities",
*Ann. Math. Statist.* 27.
Tasche, D. (1999), "Risk contributions and performance measurement".
Acerbi, C., Tasche, D. (2002), "On the coherence of expected shortfall".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from functools import reduce
from typing import Literal

import numpy as np
from scipy.special import ndtr, ndtri

from credit import _recursion_kernel
from credit.vasicek import _check_probability, _lhp_calls, _positive_array, vasicek_loss_cdf

# published here (the API's `credit.portfolio.vasicek_tranche_loss`), computed in credit.vasicek
from credit.vasicek import vasicek_tranche_loss as vasicek_tranche_loss
from valuation._typing import FloatArray, IntArray
from valuation.errors import ConventionError

Method = Literal["recursion", "lhp", "mc"]
METHODS: tuple[str, ...] = ("recursion", "lhp", "mc")

#: Fixed factor quadrature (when a caller asks for ``n_nodes``): Gauss-Legendre nodes, and
#: the half-width of the range in z used by every rule (normal mass outside: 2e-17).
DEFAULT_NODES = 128
DEFAULT_Z_MAX = 8.5
#: Adaptive factor integration (the default): the largest error allowed in the loss
#: distribution function. It bounds the error of every tranche's expected loss, as a
#: fraction of the tranche, because ``EL[a, d] = 1/(d - a) * integral_a^d P(L > x) dx``.
DEFAULT_TOLERANCE = 1e-7
#: Gauss-Legendre nodes per panel, initial panels on ``[-z_max, z_max]``, and the most
#: nodes the adaptive rule evaluates before it stops refining (and says so).
PANEL_NODES = 8
INITIAL_PANELS = 8
MAX_ADAPTIVE_NODES = 4096
#: Largest loss grid (number of loss units) used by the recursion before the
#: per-loan losses are rounded onto a coarser, mean-preserving grid.
DEFAULT_MAX_UNITS = 4096
#: Default Monte Carlo paths and seed (the seed is recorded in every result).
DEFAULT_PATHS = 100_000
DEFAULT_SEED = 20_240_101

_TOL_PROB = 1e-12


# ----------------------------------------------------------------------------- quadrature


def factor_quadrature(
    n_nodes: int = DEFAULT_NODES, z_max: float = DEFAULT_Z_MAX
) -> tuple[FloatArray, FloatArray]:
    """Nodes ``z_j`` and weights ``w_j`` with ``sum_j w_j f(z_j) ~ E[f(Z)]``, Z standard normal.

    Gauss-Legendre on ``[-z_max, z_max]`` with the normal density folded into the weights.
    """
    if int(n_nodes) < 2:
        raise ConventionError(
            f"The `n_nodes` must be at least 2. Got {n_nodes!r}.", field="n_nodes"
        )
    if not z_max > 0:
        raise ConventionError(f"The `z_max` must be positive. Got {z_max!r}.", field="z_max")
    x, w = np.polynomial.legendre.leggauss(int(n_nodes))
    z = z_max * x
    weights = z_max * w * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return z, weights


def conditional_pd(pds: FloatArray, rho: FloatArray, z: FloatArray) -> FloatArray:
    """p_i(z) for every node (rows) and loan (columns): shape (n_nodes, n_loans)."""
    c = ndtri(pds)[None, :]
    a = np.sqrt(rho)[None, :]
    s = np.sqrt(1.0 - rho)[None, :]
    return np.asarray(ndtr((c - a * z[:, None]) / s), dtype=np.float64)


# ----------------------------------------------------------------------------- grid


@dataclass(frozen=True, slots=True)
class LossGrid:
    """Per-loan loss on an integer grid of ``unit``.

    Loan ``i`` loses ``k_lo[i]`` units with weight ``w_lo[i]`` and ``k_lo[i] + 1`` with
    ``1 - w_lo[i]``; exact grids have ``w_lo == 1``. The split preserves each loan's loss.
    """

    unit: float
    k_lo: IntArray
    w_lo: FloatArray
    exact: bool

    @property
    def n_units(self) -> int:
        return int(self.k_lo.sum() + np.count_nonzero(self.w_lo < 1.0))


def _common_unit(amounts: FloatArray, max_units: int) -> tuple[float, IntArray] | None:
    """Largest unit of which every amount is an integer multiple, if the grid stays small."""
    top = float(amounts.max())
    ratios = amounts / top
    fracs = []
    for r in ratios:
        if r == 0.0:
            fracs.append(Fraction(0))
            continue
        f = Fraction(float(r)).limit_denominator(10_000)
        if abs(float(f) - r) > 1e-12 * max(r, 1.0):
            return None
        fracs.append(f)
    denom = reduce(math.lcm, (f.denominator for f in fracs), 1)
    nums = [int(f.numerator * (denom // f.denominator)) for f in fracs]
    g = reduce(math.gcd, nums) or 1
    ks = np.asarray([n // g for n in nums], dtype=np.int64)
    if int(ks.sum()) > max_units:
        return None
    return top * g / denom, ks


def loss_grid(
    amounts: FloatArray, *, loss_unit: float | None = None, max_units: int = DEFAULT_MAX_UNITS
) -> LossGrid:
    """Place per-loan losses on an integer grid (exact when they share a small common unit).

    Zero losses (LGD 0) sit at grid point 0; if every loss is zero the unit is 1.
    """
    amounts = _positive_array(amounts, "loss amounts", allow_zero=True)
    if not np.any(amounts > 0):
        return LossGrid(1.0, np.zeros(amounts.size, dtype=np.int64), np.ones_like(amounts), True)
    if loss_unit is None:
        found = _common_unit(amounts, max_units)
        if found is not None:
            unit, ks = found
            return LossGrid(unit, ks, np.ones_like(amounts), True)
        loss_unit = float(amounts.sum()) / max_units
    if not (math.isfinite(loss_unit) and loss_unit > 0):
        raise ConventionError(
            f"The `loss_unit` must be positive. Got {loss_unit!r}.", field="loss_unit"
        )
    q = amounts / loss_unit
    k_lo = np.floor(q + 1e-12).astype(np.int64)
    frac = np.clip(q - k_lo, 0.0, 1.0)
    frac[frac < 1e-12] = 0.0
    w_lo = 1.0 - frac
    exact = bool(np.all(frac == 0.0))
    return LossGrid(float(loss_unit), k_lo, w_lo, exact)


# ----------------------------------------------------------------------------- recursion


#: Route the recursion through the numpy path even when the compiled kernel is available
#: (set by the tests that compare the two).
_FORCE_NUMPY = False


def _conditional_distributions(cp: FloatArray, grid: LossGrid) -> FloatArray:
    """Conditional loss distributions P(L = j unit | z_q), shape (n_nodes, n_units + 1).

    By the compiled kernel `credit._recursion_kernel` when numba is installed, else by
    `_conditional_distributions_numpy`; the two are tested equal.
    """
    if _recursion_kernel.AVAILABLE and not _FORCE_NUMPY:
        order = np.argsort(grid.k_lo, kind="stable")
        return _recursion_kernel.conditional_distributions(
            cp, order, grid.k_lo, grid.w_lo, grid.n_units
        )
    return _conditional_distributions_numpy(cp, grid)


def _conditional_distributions_numpy(cp: FloatArray, grid: LossGrid) -> FloatArray:
    """`_conditional_distributions` with whole-array numpy operations (the portable path)."""
    n_nodes, n = cp.shape
    total = grid.n_units
    dist = np.zeros((n_nodes, total + 1))
    dist[:, 0] = 1.0
    buf = np.empty_like(dist)
    buf2 = np.empty_like(dist)
    survive = 1.0 - cp
    top = 0
    # adding the small losses first keeps the live part of the grid short for longest
    for i in np.argsort(grid.k_lo, kind="stable"):
        p = cp[:, i : i + 1]
        k = int(grid.k_lo[i])
        w = float(grid.w_lo[i])
        old = dist[:, : top + 1]
        if w >= 1.0:
            shifted = np.multiply(old, p, out=buf[:, : top + 1])
            old *= survive[:, i : i + 1]
            dist[:, k : k + top + 1] += shifted
            top += k
        else:
            lo = np.multiply(old, p * w, out=buf[:, : top + 1])
            hi = np.multiply(old, p * (1.0 - w), out=buf2[:, : top + 1])
            old *= survive[:, i : i + 1]
            dist[:, k : k + top + 1] += lo
            dist[:, k + 1 : k + top + 2] += hi
            top += k + 1
    return dist


@dataclass(frozen=True, slots=True)
class FactorIntegration:
    """How the recursion integrated over the systematic factor, and how accurately.

    ``error_estimate`` bounds the largest error in ``P(L <= x)``, hence in every tranche's
    expected loss as a fraction of the tranche (``None`` for a fixed rule, which gives no
    estimate). ``converged`` is False when the adaptive rule reached
    `MAX_ADAPTIVE_NODES` before the tolerance.
    """

    rule: str
    n_nodes: int  # nodes of the rule kept (the finest panels)
    nodes_evaluated: int  # including the coarser evaluations that gave the error estimate
    z_max: float
    tolerance: float | None
    error_estimate: float | None
    converged: bool


def _panel_rule(a: FloatArray, b: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Nodes and weights (normal density folded in) of `PANEL_NODES`-point Gauss-Legendre
    on each panel ``[a_k, b_k]``: shapes ``(n_panels, PANEL_NODES)``."""
    x, w = np.polynomial.legendre.leggauss(PANEL_NODES)
    half = 0.5 * (b - a)[:, None]
    z = 0.5 * (a + b)[:, None] + half * x[None, :]
    return z, half * w[None, :] * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


def _adaptive_factor_integration(
    pds: FloatArray,
    rho: FloatArray,
    grid: LossGrid,
    tolerance: float,
    z_max: float,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, float, bool, int]:
    """Adaptive Gauss-Legendre over ``[-z_max, z_max]`` (see the module notes).

    Returns the unconditional probabilities, then the nodes, weights, conditional default
    probabilities and conditional distributions of the kept (finest) panels, the summed
    error estimate, whether it met the tolerance within `MAX_ADAPTIVE_NODES`, and the
    number of nodes evaluated.
    """
    width = 2.0 * z_max
    edges = np.linspace(-z_max, z_max, INITIAL_PANELS + 1)
    a, b = edges[:-1], edges[1:]

    def evaluate(
        lo: FloatArray, hi: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
        z, w = _panel_rule(lo, hi)
        cp = conditional_pd(pds, rho, z.ravel())
        cond = _conditional_distributions(cp, grid)
        values = (w.reshape(-1, 1) * cond).reshape(lo.size, PANEL_NODES, -1).sum(axis=1)
        return values, z.reshape(lo.size, -1), w.reshape(lo.size, -1), cp, cond

    values, *_ = evaluate(a, b)
    used = a.size * PANEL_NODES
    total = np.zeros(values.shape[1])
    error = 0.0
    kept: list[tuple[FloatArray, FloatArray, FloatArray, FloatArray]] = []
    converged = True
    while a.size:
        mid = 0.5 * (a + b)
        n = a.size
        halves, z, w, cp, cond = evaluate(np.concatenate([a, mid]), np.concatenate([mid, b]))
        used += 2 * n * PANEL_NODES
        left, right = halves[:n], halves[n:]
        finer = left + right
        estimate = np.abs(np.cumsum(values - finer, axis=1)).max(axis=1)
        ok = estimate <= tolerance * (b - a) / width
        if used >= MAX_ADAPTIVE_NODES and not ok.all():
            converged = False
            ok[:] = True
        total += finer[ok].sum(axis=0)
        error += float(estimate[ok].sum())
        rows = np.concatenate([ok, ok])  # the two halves of every kept panel
        node_rows = np.repeat(rows, PANEL_NODES)
        kept.append((z[rows].ravel(), w[rows].ravel(), cp[node_rows], cond[node_rows]))
        refine = ~ok
        a, b = np.concatenate([a[refine], mid[refine]]), np.concatenate([mid[refine], b[refine]])
        values = np.concatenate([left[refine], right[refine]])
    z_all = np.concatenate([k[0] for k in kept])
    w_all = np.concatenate([k[1] for k in kept])
    cp_all = np.concatenate([k[2] for k in kept])
    cond_all = np.concatenate([k[3] for k in kept])
    return total, z_all, w_all, cp_all, cond_all, error, converged, used


def _recursion(
    pds: FloatArray,
    lgd_amounts: FloatArray,
    rho: FloatArray,
    *,
    n_nodes: int | None,
    z_max: float,
    loss_unit: float | None,
    max_units: int,
    tolerance: float = DEFAULT_TOLERANCE,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, LossGrid, FactorIntegration]:
    grid = loss_grid(lgd_amounts, loss_unit=loss_unit, max_units=max_units)
    if n_nodes is None:
        if not (
            isinstance(tolerance, float | int)
            and math.isfinite(tolerance)
            and 1e-14 <= tolerance <= 1e-2
        ):
            raise ConventionError(
                f"The `tolerance` must be in [1e-14, 0.01]. Got {tolerance!r}.", field="tolerance"
            )
        if not z_max > 0:
            raise ConventionError(f"The `z_max` must be positive. Got {z_max!r}.", field="z_max")
        probs, z, w, cp, cond, error, converged, used = _adaptive_factor_integration(
            pds, rho, grid, float(tolerance), float(z_max)
        )
        info = FactorIntegration(
            rule=f"adaptive Gauss-Legendre, {PANEL_NODES} nodes per panel, panels halved until the "
            f"estimated error in P(L <= x) is within the tolerance",
            n_nodes=int(z.size),
            nodes_evaluated=used,
            z_max=float(z_max),
            tolerance=float(tolerance),
            error_estimate=error,
            converged=converged,
        )
    else:
        z, w = factor_quadrature(n_nodes, z_max)
        cp = conditional_pd(pds, rho, z)
        cond = _conditional_distributions(cp, grid)
        probs = w @ cond
        info = FactorIntegration(
            rule=f"Gauss-Legendre, {int(n_nodes)} nodes",
            n_nodes=int(n_nodes),
            nodes_evaluated=int(n_nodes),
            z_max=float(z_max),
            tolerance=None,
            error_estimate=None,
            converged=True,
        )
    probs = np.clip(probs, 0.0, None)
    probs /= probs.sum()
    losses = np.arange(probs.size, dtype=np.float64) * grid.unit
    return losses, probs, cond, cp, w, grid, info


# ----------------------------------------------------------------------------- Monte Carlo


def _mc_losses(
    pds: FloatArray,
    amounts: FloatArray,
    rho: FloatArray,
    n_paths: int,
    seed: int,
    chunk: int = 4096,
) -> FloatArray:
    rng = np.random.default_rng(seed)
    c = ndtri(pds)
    a = np.sqrt(rho)
    s = np.sqrt(1.0 - rho)
    z = rng.standard_normal(n_paths)
    out = np.empty(n_paths)
    for start in range(0, n_paths, chunk):
        zz = z[start : start + chunk]
        eps = rng.standard_normal((zz.size, pds.size))
        defaulted = a[None, :] * zz[:, None] + s[None, :] * eps < c[None, :]
        out[start : start + chunk] = defaulted @ amounts
    return out


def _mc_contributions(
    pds: FloatArray,
    amounts: FloatArray,
    rho: FloatArray,
    n_paths: int,
    seed: int,
    selector_lo: float,
    selector_hi: float,
    chunk: int = 4096,
) -> tuple[FloatArray, int]:
    """Sum of per-loan losses over paths whose loss lies in [lo, hi] (same paths as `_mc_losses`)."""
    rng = np.random.default_rng(seed)
    c = ndtri(pds)
    a = np.sqrt(rho)
    s = np.sqrt(1.0 - rho)
    z = rng.standard_normal(n_paths)
    acc = np.zeros(pds.size)
    count = 0
    for start in range(0, n_paths, chunk):
        zz = z[start : start + chunk]
        eps = rng.standard_normal((zz.size, pds.size))
        defaulted = a[None, :] * zz[:, None] + s[None, :] * eps < c[None, :]
        loss = defaulted @ amounts
        sel = (loss >= selector_lo) & (loss <= selector_hi)
        count += int(sel.sum())
        acc += defaulted[sel].sum(axis=0) * amounts
    return acc, count


# ----------------------------------------------------------------------------- public API


def _inputs(
    pds: object, eads: object, lgds: object, rho: object
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    p = _positive_array(pds, "pds")
    if np.any(p >= 1.0):
        raise ConventionError(
            f"The `pds` must be decimals strictly between 0 and 1. Got {p[p >= 1.0][0]!r}; "
            "was a percentage passed?",
            field="pds",
        )
    e = _positive_array(eads, "eads")
    lg = np.atleast_1d(np.asarray(lgds, dtype=np.float64))
    if lg.size == 1:
        lg = np.full(p.size, float(lg[0]))
    if lg.shape != p.shape or np.any(~np.isfinite(lg) | (lg < 0) | (lg > 1)):
        raise ConventionError(
            "The `lgds` must be one decimal in [0, 1] or one per loan.", field="lgds"
        )
    r = np.atleast_1d(np.asarray(rho, dtype=np.float64))
    if r.size == 1:
        r = np.full(p.size, float(r[0]))
    if r.shape != p.shape or np.any(~np.isfinite(r) | (r < 0) | (r >= 1)):
        raise ConventionError(
            f"The `rho` must be one correlation in [0, 1) or one per loan. Got {rho!r}.",
            field="rho",
        )
    if e.shape != p.shape:
        raise ConventionError(
            f"The `eads` must have one value per loan ({p.size}). Got {e.size}.", field="eads"
        )
    return p, e, lg, r


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise ConventionError(
            f"The `method` must be one of {', '.join(METHODS)}. Got {method!r}.", field="method"
        )
    return method


#: Cell width of the LHP loss distribution, as a fraction of the pool's EAD: tranche
#: points on this grid (0.03, 0.07, 0.15, ...) get their exact LHP expected loss from it.
LHP_CELL = 1e-4


def _lhp_distribution(
    p: FloatArray, amounts: FloatArray, e: FloatArray, r: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """LHP approximation of the book: one homogeneous pool that keeps the book's EL.

    LGD is the exposure-weighted mean ``sum(lgd e) / sum(e)``; PD and correlation are
    weighted by loss given default ``lgd_i e_i``, so that ``pd_bar lgd_bar sum(e)`` equals
    the book's expected loss ``sum(pd_i lgd_i e_i)`` exactly (an exposure-weighted PD
    times an exposure-weighted LGD would not, when PD and LGD vary together).

    The Vasicek loss fraction is put on cells of width `LHP_CELL` of the pool, each
    cell's probability at the cell's conditional mean loss, so that the mean and every
    payoff that is linear within cells (tranches cut at cell edges) are exact.
    """
    total_ead = float(e.sum())
    total_lgd_amount = float(amounts.sum())
    if total_lgd_amount <= 0.0:
        return np.array([0.0]), np.array([1.0])
    pd_bar = float(np.dot(p, amounts) / total_lgd_amount)
    lgd_bar = total_lgd_amount / total_ead
    rho_bar = float(np.dot(r, amounts) / total_lgd_amount)
    if rho_bar == 0.0 or lgd_bar == 0.0:
        return np.array([pd_bar * lgd_bar * total_ead]), np.array([1.0])
    n_cells = int(math.floor(lgd_bar / LHP_CELL + 1e-9))
    x = np.arange(n_cells + 1, dtype=np.float64) * LHP_CELL
    if x[-1] < lgd_bar * (1 - 1e-12):
        x = np.append(x, lgd_bar)
    x[-1] = lgd_bar
    cdf = vasicek_loss_cdf(x, pd_bar, rho_bar, 1.0 - lgd_bar)
    cdf[-1] = 1.0
    # E[L 1{x_{j-1} < L <= x_j}] = (call(x_{j-1}) + x_{j-1} S(x_{j-1})) - (call(x_j) + x_j S(x_j))
    call = _lhp_calls(pd_bar, rho_bar, lgd_bar, x)
    call[-1] = 0.0
    mass = np.diff(cdf, prepend=0.0)
    partial = call + x * (1.0 - cdf)
    seg = -np.diff(partial)
    mid = np.empty_like(x)
    mid[0] = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        mid[1:] = np.where(mass[1:] > 0, seg / mass[1:], x[1:])
    mid = np.clip(mid, np.concatenate([[0.0], x[:-1]]), x)
    mass = np.clip(mass, 0.0, None)
    return mid * total_ead, mass / mass.sum()


def loss_distribution(
    pds: FloatArray,
    eads: FloatArray,
    lgds: FloatArray | float,
    rho: FloatArray | float,
    method: str = "recursion",
    *,
    n_nodes: int | None = None,
    z_max: float = DEFAULT_Z_MAX,
    tolerance: float = DEFAULT_TOLERANCE,
    loss_unit: float | None = None,
    max_units: int = DEFAULT_MAX_UNITS,
    n_paths: int = DEFAULT_PATHS,
    seed: int = DEFAULT_SEED,
    rng: np.random.Generator | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Portfolio loss distribution under the one-factor Gaussian copula.

    Parameters
    ----------
    pds : array (n_loans,)
        Default probabilities over the horizon, decimals in (0, 1).
    eads : array (n_loans,)
        Exposures at default (currency units, > 0).
    lgds : float or array (n_loans,)
        Loss given default, decimals in (0, 1].
    rho : float or array (n_loans,)
        Asset correlation(s) in [0, 1); the factor loading is ``sqrt(rho)``.
    method : {"recursion", "lhp", "mc"}
        ``recursion``: exact conditional recursion on a loss grid (exact when the
        losses ``EAD x LGD`` share a common unit with at most ``max_units`` units in the
        pool, else mean-preserving rounding on ``max_units`` units), integrated over
        the factor on ``[-z_max, z_max]`` adaptively to ``tolerance`` (the largest error
        in ``P(L <= x)``; `recursion_distribution` reports the estimate), or with a fixed
        ``n_nodes``-point Gauss-Legendre rule when ``n_nodes`` is given.
        ``lhp``: Vasicek large-pool distribution of one homogeneous pool that keeps the
        book's expected loss (exposure-weighted LGD, PD and rho weighted by ``EAD x LGD``),
        on cells of 0.01 % of the pool (mass at each cell's conditional mean, so tranches
        cut at those points have their exact LHP expected loss).
        ``mc``: ``n_paths`` simulated paths from ``numpy.random.default_rng(seed)``; when
        ``rng`` is given, the seed is drawn from it instead.

    Returns
    -------
    losses : array
        Loss values in the units of ``eads`` (increasing).
    probabilities : array
        Their probabilities (sum to 1).
    """
    method = _check_method(method)
    p, e, lg, r = _inputs(pds, eads, lgds, rho)
    amounts = e * lg
    if method == "recursion":
        losses, probs, *_ = _recursion(
            p,
            amounts,
            r,
            n_nodes=n_nodes,
            z_max=z_max,
            loss_unit=loss_unit,
            max_units=max_units,
            tolerance=tolerance,
        )
        return losses, probs
    if method == "lhp":
        return _lhp_distribution(p, amounts, e, r)
    if int(n_paths) < 1:
        raise ConventionError(f"The `n_paths` must be positive. Got {n_paths!r}.", field="n_paths")
    if rng is not None:
        seed = _seed_from(rng)
    sim = _mc_losses(p, amounts, r, int(n_paths), int(seed))
    values, counts = np.unique(sim, return_counts=True)
    return values, counts / float(sim.size)


@dataclass(frozen=True, slots=True)
class LossDistribution:
    """The recursion's loss distribution with the accuracy of its factor integration."""

    losses: FloatArray = field(repr=False)
    probabilities: FloatArray = field(repr=False)
    loss_unit: float
    grid_exact: bool
    integration: FactorIntegration


def recursion_distribution(
    pds: FloatArray,
    eads: FloatArray,
    lgds: FloatArray | float,
    rho: FloatArray | float,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    n_nodes: int | None = None,
    z_max: float = DEFAULT_Z_MAX,
    loss_unit: float | None = None,
    max_units: int = DEFAULT_MAX_UNITS,
) -> LossDistribution:
    """`loss_distribution` by the recursion, with the factor integration's error estimate.

    Same inputs as `loss_distribution`. ``integration.error_estimate`` bounds the error in
    ``P(L <= x)`` at every loss, and so the error of any tranche's expected loss as a
    fraction of the tranche; it is within ``tolerance`` unless ``integration.converged``
    is False (the adaptive rule stopped at `MAX_ADAPTIVE_NODES`).

    >>> d = recursion_distribution([0.02] * 50, [1.0] * 50, 0.45, 0.2)
    >>> d.integration.error_estimate <= 1e-7, round(float(d.losses @ d.probabilities), 6)
    (True, 0.45)
    """
    p, e, lg, r = _inputs(pds, eads, lgds, rho)
    losses, probs, _, _, _, grid, info = _recursion(
        p,
        e * lg,
        r,
        n_nodes=n_nodes,
        z_max=z_max,
        loss_unit=loss_unit,
        max_units=max_units,
        tolerance=tolerance,
    )
    return LossDistribution(
        losses=losses,
        probabilities=probs,
        loss_unit=grid.unit,
        grid_exact=grid.exact,
        integration=info,
    )


def _seed_from(rng: np.random.Generator) -> int:
    if not isinstance(rng, np.random.Generator):
        raise ConventionError("The `rng` must be a numpy.random.Generator.", field="rng")
    return int(rng.integers(0, 2**63 - 1))


def tranche_expected_loss(
    losses: FloatArray, probabilities: FloatArray, attach: float, detach: float
) -> float:
    """Expected loss of the tranche [attach, detach] (same units as ``losses``) as a fraction of its width."""
    if not detach > attach >= 0:
        raise ConventionError(
            f"The tranche needs 0 <= attach < detach. Got attach={attach!r}, detach={detach!r}.",
            field="detach",
        )
    x = np.asarray(losses, dtype=np.float64)
    pr = np.asarray(probabilities, dtype=np.float64)
    tranche = np.clip(x - attach, 0.0, detach - attach)
    return float(np.dot(tranche, pr) / (detach - attach))


def value_at_risk(losses: FloatArray, probabilities: FloatArray, confidence: float) -> float:
    """VaR = min{x : P(L <= x) >= confidence} of a discrete loss distribution."""
    conf = _check_probability(confidence, "confidence")
    cdf = np.cumsum(probabilities)
    idx = int(np.searchsorted(cdf, conf - _TOL_PROB, side="left"))
    return float(np.asarray(losses)[min(idx, len(cdf) - 1)])


def expected_shortfall(losses: FloatArray, probabilities: FloatArray, confidence: float) -> float:
    """Expected shortfall (Acerbi-Tasche): mean of the worst ``1 - confidence`` of the distribution.

    ``ES = (E[L 1{L > VaR}] + VaR (P(L <= VaR) - confidence)) / (1 - confidence)``.
    """
    conf = _check_probability(confidence, "confidence")
    x = np.asarray(losses, dtype=np.float64)
    pr = np.asarray(probabilities, dtype=np.float64)
    var = value_at_risk(x, pr, conf)
    above = x > var
    f_var = float(pr[~above].sum())
    es = (float(np.dot(x[above], pr[above])) + var * max(f_var - conf, 0.0)) / (1.0 - conf)
    return max(es, var)
