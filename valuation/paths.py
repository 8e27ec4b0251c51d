"""The one revenue-path generator: lognormal monthly cash flows with an obsolescence jump.

Every simulation of data revenue in the project draws its paths here: the Monte Carlo
income value (`valuation.montecarlo.simulate_plan`, one asset at a time), the mixture
of scenarios (`valuation.mixture`, many assets at once) and the stress engine
(`risk.kernels`, many assets under many shock variants). Callers own their random
streams (each keeps its seed layout); the arithmetic on the draws is this module's.

Model, per asset ``a``, path ``p`` and month ``k = 1..M``:

``CF[a, k, p] = exp(m[a, k] - k s_a^2 / 2 + s_a W[a, k, p]) * J[a, k, p]``

- ``m`` the log of the expected cash flow (``-inf`` for a month with none), ``s`` the
  monthly log volatility and ``W[a, k] = Z[a, 1] + ... + Z[a, k]`` a random walk of
  standard normals, so that ``E[exp(s W_k - k s^2 / 2)] = 1``;
- ``J = 1 - jump_loss`` from the month ``k >= tau[a, p]`` on (the obsolescence jump;
  a loss of 1 ends the revenue), else 1.

`lognormal_paths_reference` is the same model as plain loops, one number at a time:
the tests hold the vectorised kernel equal to it.

References
----------
Glasserman, P. (2003), *Monte Carlo Methods in Financial Engineering*, sections 3.2
(geometric Brownian motion on a grid) and 4.2 (antithetic variates).
"""

from __future__ import annotations

import math

import numpy as np

from valuation._typing import FloatArray


def draw_normals(
    rng: np.random.Generator,
    months: int,
    n_paths: int,
    *,
    antithetic: bool,
    out: FloatArray | None = None,
    scratch: FloatArray | None = None,
) -> FloatArray:
    """Draw float64 standard normals, shape (months, n_paths), paths contiguous in memory.

    With ``antithetic`` the paths ``half..n`` are the negatives of paths ``0..n - half``
    (``half = ceil(n / 2)``). ``out`` (months, n_paths) and ``scratch`` (months, half),
    C-contiguous float64, are reused when given (no allocation, no page faults).
    """
    if out is None:
        out = np.empty((months, n_paths), dtype=np.float64)
    if antithetic and n_paths >= 2:
        half = (n_paths + 1) // 2
        if scratch is None:
            scratch = np.empty((months, half), dtype=np.float64)
        rng.standard_normal(out=scratch)
        out[:, :half] = scratch
        np.negative(scratch[:, : n_paths - half], out=out[:, half:])
    else:
        rng.standard_normal(out=out)
    return out


def antithetic_uniforms(rng: np.random.Generator, n_paths: int, *, antithetic: bool) -> FloatArray:
    """Uniforms on [0, 1), shape (n_paths,); antithetic: the second half is ``1 - first``."""
    u = rng.random(n_paths)
    if antithetic and n_paths >= 2:
        half = (n_paths + 1) // 2
        u[half:] = 1.0 - u[: n_paths - half]
    return u


def random_walk(z: FloatArray) -> FloatArray:
    """In place: ``W[..., k, :] = Z[..., 1, :] + ... + Z[..., k, :]`` over the month axis.

    ``z`` has shape (months, n_paths) or (n_assets, months, n_paths); a running sum of
    rows (faster than ``np.cumsum`` over a non-last axis, and the same additions in the
    same order).
    """
    months = z.shape[-2]
    for k in range(1, months):
        np.add(z[..., k - 1, :], z[..., k, :], out=z[..., k, :])
    return z


def lognormal_paths(
    walk: FloatArray,
    log_mean: FloatArray,
    sigma: FloatArray | float,
    *,
    jump_month: FloatArray | None = None,
    jump_loss: float = 0.0,
    out: FloatArray | None = None,
) -> FloatArray:
    """Cash-flow paths from random walks (the module's model).

    Parameters
    ----------
    walk : FloatArray, shape (n_assets, months, n_paths)
        Random walks ``W`` of standard normals (`random_walk`).
    log_mean : FloatArray, shape (n_assets, months)
        Log of the expected cash flow, log major units per month; ``-inf`` for none.
    sigma : FloatArray, shape (n_assets,), or float
        Monthly log volatility, >= 0.
    jump_month : FloatArray, shape (n_assets, n_paths), optional
        Month (real, 1-based) from which the jump applies: months ``k >= jump_month``
        lose ``jump_loss``; ``inf`` for a path without a jump.
    jump_loss : float
        Fraction of revenue lost at the jump, [0, 1].
    out : FloatArray, optional
        Buffer of the shape of ``walk`` for the result; may be ``walk`` itself.

    Returns
    -------
    FloatArray, shape (n_assets, months, n_paths)
        Cash flow per asset, month and path, major units.
    """
    n_assets, months = log_mean.shape
    k = np.arange(1, months + 1, dtype=np.float64)
    sig = np.broadcast_to(np.asarray(sigma, dtype=np.float64), (n_assets,))
    if out is None:
        out = np.empty_like(walk)
    np.multiply(walk, sig[:, None, None], out=out)
    out += (log_mean - 0.5 * (sig * sig)[:, None] * k[None, :])[:, :, None]
    if jump_month is not None and jump_loss > 0.0:
        with np.errstate(divide="ignore"):
            loss = math.log1p(-jump_loss) if jump_loss < 1.0 else -np.inf
        np.add(out, loss, out=out, where=k[None, :, None] >= jump_month[:, None, :])
    np.exp(out, out=out)
    return out


def lognormal_paths_reference(
    normals: FloatArray,
    log_mean: FloatArray,
    sigma: FloatArray,
    *,
    jump_month: FloatArray | None = None,
    jump_loss: float = 0.0,
) -> FloatArray:
    """`lognormal_paths` as plain loops, from the normals themselves (not their walks).

    The reference the tests hold the kernel equal to: one asset, path and month at a
    time, with ``math`` instead of numpy. Shapes as `lognormal_paths`, ``normals`` in
    place of ``walk``.
    """
    n_assets, months, n_paths = normals.shape
    out = np.empty((n_assets, months, n_paths))
    for a in range(n_assets):
        s = float(sigma[a])
        for p in range(n_paths):
            w = 0.0
            for m in range(months):
                k = m + 1
                w += float(normals[a, m, p])
                mean = float(log_mean[a, m])
                if mean == -math.inf:
                    out[a, m, p] = 0.0
                    continue
                x = mean - 0.5 * s * s * k + s * w
                jumped = jump_month is not None and k >= float(jump_month[a, p])
                level = 1.0 - jump_loss if jumped else 1.0
                out[a, m, p] = math.exp(x) * level
    return out


def compensated_log_mean(
    expected: FloatArray, hazard: FloatArray | float, jump_loss: float
) -> FloatArray:
    """Log of the cash flow before the jump such that the mean with the jump is ``expected``.

    ``log E_k - log(1 - jump_loss (1 - exp(-h k)))``: the gradual factor ``1 / E[J_k]``
    that makes a jump of hazard ``h`` per month mean-preserving. ``expected`` has shape
    (months,) or (n_assets, months), ``hazard`` broadcasts against its leading axes.
    """
    e = np.asarray(expected, dtype=np.float64)
    months = e.shape[-1]
    k = np.arange(1, months + 1, dtype=np.float64)
    with np.errstate(divide="ignore"):
        log_mean = np.log(e)
    if jump_loss > 0.0:
        h = np.asarray(hazard, dtype=np.float64)
        h = h[..., None] if h.ndim else h
        log_mean = log_mean - np.log1p(-jump_loss * (1.0 - np.exp(-h * k)))
    return np.asarray(log_mean, dtype=np.float64)


def jump_months(uniforms: FloatArray, hazard: FloatArray | float) -> FloatArray:
    """Exponential jump times in months, ``-ln(1 - U) / h`` (``inf`` where ``h = 0``)."""
    u = np.asarray(uniforms, dtype=np.float64)
    h = np.asarray(hazard, dtype=np.float64)
    with np.errstate(divide="ignore", over="ignore"):
        return np.where(h > 0.0, -np.log1p(-u) / np.where(h > 0.0, h, 1.0), np.inf)


def discount_paths(cash_flows: FloatArray, discount_factors: FloatArray) -> FloatArray:
    """``sum_k CF[p, k] DF[k]`` per path, shape (n_paths,) (einsum: no BLAS thread start-up)."""
    return np.asarray(np.einsum("pk,k->p", cash_flows, discount_factors), dtype=np.float64)


def simulate_cash_flows(
    expected: FloatArray,
    sigma: float,
    n_paths: int,
    rng: np.random.Generator,
    *,
    antithetic: bool = True,
    jump_hazard: float = 0.0,
    jump_loss: float = 0.0,
    compensated_hazard: float | None = None,
    out: FloatArray | None = None,
    scratch: FloatArray | None = None,
) -> FloatArray:
    """Monthly cash-flow paths of one asset with mean ``expected`` (before uncompensated hazard).

    Parameters
    ----------
    expected : FloatArray, shape (months,)
        Expected cash flow per month, >= 0, major units.
    sigma : float
        Monthly log volatility, >= 0.
    n_paths : int
    rng : numpy.random.Generator
        Draws the normals (months x paths), then the jump uniforms.
    antithetic : bool
    jump_hazard : float
        Total jump hazard per month, >= 0.
    jump_loss : float
        Fraction of revenue lost at the jump, [0, 1).
    compensated_hazard : float, optional
        Part of ``jump_hazard`` compensated by a gradual factor (default: all of it).
    out, scratch : FloatArray, optional
        Reusable buffers, see `draw_normals`; the result is a view of ``out``.

    Returns
    -------
    FloatArray, shape (n_paths, months)
        A transposed view of a (months, n_paths) C-ordered array (paths contiguous).
    """
    months = expected.shape[0]
    jumps = jump_hazard > 0.0 and jump_loss > 0.0
    h_c = jump_hazard if compensated_hazard is None else compensated_hazard
    log_mean = compensated_log_mean(expected, h_c, jump_loss if jumps else 0.0)
    z = draw_normals(rng, months, n_paths, antithetic=antithetic, out=out, scratch=scratch)
    walk = random_walk(z)[None]
    tau = None
    if jumps:
        u = antithetic_uniforms(rng, n_paths, antithetic=antithetic)
        tau = jump_months(u, jump_hazard)[None]
    x = lognormal_paths(walk, log_mean[None], sigma, jump_month=tau, jump_loss=jump_loss, out=walk)
    return np.asarray(x[0].T, dtype=np.float64)


def simulate_values_batch(
    expected: FloatArray,
    sigma: FloatArray,
    discount_factors: FloatArray,
    n_paths: int,
    rng: np.random.Generator,
    *,
    antithetic: bool = True,
    jump_hazard: FloatArray | None = None,
    jump_loss: float = 0.0,
    chunk_assets: int | None = None,
    horizon_months: int | None = None,
) -> FloatArray | tuple[FloatArray, FloatArray]:
    """Path values of many assets at once, vectorised across assets in chunks.

    Parameters
    ----------
    expected : FloatArray, shape (n_assets, months)
        Expected cash flow per asset and month (before the jump compensation), major units.
    sigma : FloatArray, shape (n_assets,)
        Monthly log volatility per asset.
    discount_factors : FloatArray, shape (n_assets, months) or (months,)
    n_paths : int
    rng : numpy.random.Generator
    antithetic : bool
    jump_hazard : FloatArray, shape (n_assets,), optional
        Compensated jump hazard per month per asset.
    jump_loss : float
    chunk_assets : int, optional
        Assets per chunk; default keeps a chunk's paths near 32 MB.
    horizon_months : int, optional
        Also return each path's value after this many months, discounted to today
        (``sum_{k > h} CF_k DF_k``, `MonteCarloResult.remaining_value`).

    Returns
    -------
    FloatArray, shape (n_assets, n_paths), or a pair of them with ``horizon_months``
        Present value per asset and path; the same model as `simulate_cash_flows`.
    """
    n_assets, months = expected.shape
    dfs = np.broadcast_to(discount_factors, (n_assets, months))
    jumps = jump_hazard is not None and jump_loss > 0.0
    hz = np.zeros(n_assets) if jump_hazard is None else np.asarray(jump_hazard, dtype=np.float64)
    log_mean = compensated_log_mean(expected, hz, jump_loss if jumps else 0.0)
    sig = np.asarray(sigma, dtype=np.float64)
    if chunk_assets is None:
        chunk_assets = max(1, int(32e6 // (8 * months * n_paths)))
    out = np.empty((n_assets, n_paths), dtype=np.float64)
    h = None if horizon_months is None else max(int(horizon_months), 0)
    out_h = None if h is None else np.empty((n_assets, n_paths), dtype=np.float64)
    half = (n_paths + 1) // 2
    use_anti = antithetic and n_paths >= 2
    for a0 in range(0, n_assets, chunk_assets):
        a1 = min(a0 + chunk_assets, n_assets)
        c = a1 - a0
        z = np.empty((c, months, n_paths), dtype=np.float64)
        if use_anti:
            draws = rng.standard_normal((c, months, half))
            z[:, :, :half] = draws
            np.negative(draws[:, :, : n_paths - half], out=z[:, :, half:])
        else:
            rng.standard_normal(out=z)
        tau = None
        if jumps:
            u = rng.random((c, n_paths))
            if use_anti:
                u[:, half:] = 1.0 - u[:, : n_paths - half]
            tau = jump_months(u, hz[a0:a1, None])
        cf = lognormal_paths(
            random_walk(z),
            log_mean[a0:a1],
            sig[a0:a1],
            jump_month=tau,
            jump_loss=jump_loss,
            out=z,
        )
        out[a0:a1] = np.einsum("amp,am->ap", cf, dfs[a0:a1])
        if out_h is not None:
            out_h[a0:a1] = np.einsum("amp,am->ap", cf[:, h:], dfs[a0:a1, h:]) if h < months else 0.0
    return out if out_h is None else (out, out_h)


def revenue_paths(
    r0: float,
    mu: float,
    sigma: float,
    months: int,
    n_paths: int,
    rng: np.random.Generator,
    *,
    antithetic: bool = True,
) -> FloatArray:
    """Lognormal revenue ``dln R = mu dt + sigma dW`` on a monthly grid (``dt`` = 1 month).

    ``R_k = r0 exp(mu k + sigma W_k)``, shape (n_paths, months);
    ``E[R_k] = r0 exp((mu + sigma^2/2) k)``: `lognormal_paths` with that mean.
    """
    k = np.arange(1, months + 1, dtype=np.float64)
    z = draw_normals(rng, months, n_paths, antithetic=antithetic)
    log_mean = (math.log(r0) + (mu + 0.5 * sigma * sigma) * k)[None]
    x = lognormal_paths(random_walk(z)[None], log_mean, sigma, out=z[None])
    return np.asarray(x[0].T, dtype=np.float64)
