"""The exact conditional loss recursion of a finite pool, integrated over the common factor.

Conditional on the factor ``Z = z`` the loans default independently with ``p_i(z)``
(`conditional_pd`); their losses, on a common grid (`loss_grid`: exact when they share a
unit within ``max_units``, else rounded preserving each loan's mean), are convolved one
loan at a time (Andersen, Sidenius and Basu 2003; the compiled kernel
`credit._recursion_kernel` and the numpy reference are tested equal). The distribution is
integrated over ``z`` by Gauss-Legendre (`factor_quadrature`), adaptively by default
(`FactorIntegration`; see `credit.portfolio` for the error control).

References
----------
Andersen, L., Sidenius, J. and Basu, S. (2003), All your hedges in one basket, *Risk*.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import reduce

import numpy as np
from scipy.special import ndtr, ndtri

from credit import _recursion_kernel
from credit.vasicek import _positive_array
from valuation._typing import FloatArray, IntArray
from valuation.errors import ConventionError

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
        """Return the number of loss units of the grid."""
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


#: Route the recursion through the numpy path even when the compiled kernel is available
#: (set by the tests that compare the two).
_FORCE_NUMPY = False


def conditional_distributions(cp: FloatArray, grid: LossGrid) -> FloatArray:
    """Conditional loss distributions P(L = j unit | z_q), shape (n_nodes, n_units + 1).

    By the compiled kernel `credit._recursion_kernel` when numba is installed, else by
    `conditional_distributions_reference`; the two are tested equal.
    """
    if _recursion_kernel.AVAILABLE and not _FORCE_NUMPY:
        order = np.argsort(grid.k_lo, kind="stable")
        return _recursion_kernel.conditional_distributions(
            cp, order, grid.k_lo, grid.w_lo, grid.n_units
        )
    return conditional_distributions_reference(cp, grid)


def conditional_distributions_reference(cp: FloatArray, grid: LossGrid) -> FloatArray:
    """`conditional_distributions` with whole-array numpy operations (the portable path)."""
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
    """Nodes and weights of Gauss-Legendre panels, the normal density folded in.

    `PANEL_NODES`-point Gauss-Legendre on each panel ``[a_k, b_k]``: shapes ``(n_panels,
    PANEL_NODES)``.
    """
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
        cond = conditional_distributions(cp, grid)
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


def integrate_recursion(
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
    """Run the conditional loss recursion and integrate it over the common factor."""
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
        cond = conditional_distributions(cp, grid)
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
